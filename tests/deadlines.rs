//! `--timeout` bounds the whole command on both targets, even against a
//! server that accepts connections and never answers; connection errors name
//! the server, the context and the cause. No platform is needed: the servers
//! here are sockets on 127.0.0.1.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::{deploy_in, stderr, stdout};

/// A TCP server on 127.0.0.1 that accepts and never answers (for at most a
/// minute and 64 connections: it stops by itself).
fn hung_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("addr: {e}"));
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut held: Vec<TcpStream> = Vec::new();
        for s in l.incoming().take(64) {
            if let Ok(s) = s {
                held.push(s);
            }
            if started.elapsed() > Duration::from_secs(60) {
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(60).saturating_sub(started.elapsed()));
    });
    port
}

fn kubeconfig(dir: &Path, server: &str) -> String {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: far\n  cluster:\n    server: {server}\ncontexts:\n- name: far-away\n  context:\n    cluster: far\n    user: far\n    namespace: default\ncurrent-context: far-away\nusers:\n- name: far\n  user: {{}}\n"
    );
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write: {e}"));
    path.display().to_string()
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let topology = "name: hang\nservices:\n  app:\n    image: deploy-test/busybox:1\n    command: [sleep, \"3600\"]\n";
    std::fs::write(dir.path().join("deploy.yaml"), topology).unwrap_or_else(|e| panic!("write: {e}"));
    dir
}

fn both(o: &Output) -> String {
    format!("exit {:?}\n{}{}", o.status.code(), stdout(o), stderr(o))
}

/// Runs every verb with `--timeout 3s`; each must end with exit 1 well within
/// the timeout plus a few seconds, saying what it waited for.
fn every_verb_ends_in_time(target: &str, env: &[(&str, &str)], names: &str) {
    let dir = project();
    for verb in ["apply", "diff", "status", "destroy"] {
        let started = Instant::now();
        let o = deploy_in(dir.path(), &[verb, "--target", target, "--timeout", "3s"], env);
        let took = started.elapsed();
        let text = both(&o);
        assert_eq!(o.status.code(), Some(1), "{target} {verb}: {text}");
        assert!(took < Duration::from_secs(8), "{target} {verb} took {took:?}: {text}");
        assert!(text.contains("3s"), "{target} {verb} says how long it waited: {text}");
        assert!(text.contains(names), "{target} {verb} names `{names}`: {text}");
    }
}

#[test]
fn a_hung_kubernetes_api_ends_within_the_timeout() {
    let port = hung_server();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let kc = kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"));
    every_verb_ends_in_time("k8s", &[("KUBECONFIG", &kc)], &format!("127.0.0.1:{port}"));
}

#[test]
fn a_hung_docker_engine_ends_within_the_timeout() {
    let port = hung_server();
    let host = format!("tcp://127.0.0.1:{port}");
    every_verb_ends_in_time("compose", &[("DOCKER_HOST", &host)], &format!("127.0.0.1:{port}"));
}

#[test]
fn a_refused_kubernetes_connection_names_server_context_and_cause() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let kc = kubeconfig(dir.path(), "http://127.0.0.1:1");
    let p = project();
    let o = deploy_in(p.path(), &["status", "--target", "k8s", "--timeout", "5s"], &[("KUBECONFIG", &kc)]);
    let text = both(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    for part in ["127.0.0.1:1", "far-away", "refused"] {
        assert!(text.contains(part), "names `{part}`: {text}");
    }
}
