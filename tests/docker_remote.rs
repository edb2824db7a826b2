//! Remote Docker engines, as the docker CLI reaches them: the seed's Redis
//! applied through a `tcp://` engine with TLS and through `ssh://`, TLS that
//! refuses a wrong CA, and `--context` / `DOCKER_CONTEXT` / the current
//! context choosing the engine by the docker CLI's precedence.
//!
//! The endpoints are started by `tests/support/ensure-remote-engines.sh`
//! (run by `.ci/run`, and here once per test binary; idempotent): a
//! TLS-terminating proxy with a client-certificate check and an sshd, both in
//! front of the local engine, so the containers are checked with the docker
//! CLI on the local socket. Contexts are made by the real docker CLI in a
//! temporary `DOCKER_CONFIG`.

mod common;
#[path = "compose_common.rs"]
mod h;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use h::{Project, redis_cli, service, show};

/// What `ensure-remote-engines.sh` wrote to `endpoints.env`.
struct Endpoints {
    /// `tcp://127.0.0.1:PORT`, TLS with a client certificate.
    tls_host: String,
    /// `ca.pem`, `cert.pem`, `key.pem` for it.
    tls_certs: String,
    /// The same client certificate, and a CA that did not sign the endpoint's.
    wrong_ca_certs: String,
    /// `ssh://USER@deploy-test-ssh:PORT` (a Host block in ~/.ssh/config).
    ssh_host: String,
    /// The same sshd by address, which ssh does not know.
    ssh_unknown_host: String,
}

/// The remote endpoints, started when missing. Without them: under CI the
/// test fails; else it prints a notice and the caller returns early.
fn endpoints() -> Option<&'static Endpoints> {
    static E: OnceLock<Result<Endpoints, String>> = OnceLock::new();
    if !h::docker_ready() {
        return None;
    }
    match E.get_or_init(start_endpoints) {
        Ok(e) => Some(e),
        Err(e) if common::under_ci() => panic!("CI is set and the remote Docker endpoints are not usable: {e}"),
        Err(e) => {
            eprintln!("NOTICE: skipping a remote Docker test: {e} (run tests/support/ensure-remote-engines.sh)");
            None
        }
    }
}

fn start_endpoints() -> Result<Endpoints, String> {
    let script = common::root().join("tests/support/ensure-remote-engines.sh");
    let out =
        Command::new("bash").arg(&script).output().map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed:\n{}", script.display(), show(&out)));
    }
    let dir = std::env::var_os("DEPLOY_TEST_ENGINES")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("deploy-test-engines"));
    let file = dir.join("endpoints.env");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let vars: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| vars.get(k).map(|v| v.to_string()).ok_or(format!("{} has no {k}", file.display()));
    Ok(Endpoints {
        tls_host: get("TLS_HOST")?,
        tls_certs: get("TLS_CERTS")?,
        wrong_ca_certs: get("WRONG_CA_CERTS")?,
        ssh_host: get("SSH_HOST")?,
        ssh_unknown_host: get("SSH_UNKNOWN_HOST")?,
    })
}

/// The seed manifest with one of its profiles, renamed to `prefix` (project,
/// containers, networks, volumes) and with `6379:6379` published on
/// `host_port`, so that it does not meet the seed tests on the same engine.
/// The profile lives in `dir`; the manifest is the repository's own.
fn seed_as(dir: &Path, profile: &str, prefix: &str, host_port: u16) -> Project {
    let text = std::fs::read_to_string(common::root().join(format!("profiles/{profile}.yaml")))
        .unwrap_or_else(|e| panic!("profiles/{profile}.yaml: {e}"));
    let mut text = text.replace("learn-greek", prefix).replace("\"6379:6379\"", &format!("\"{host_port}:6379\""));
    if !text.lines().any(|l| l.starts_with("name:")) {
        text = format!("name: {prefix}\n{text}");
    }
    let path = dir.join(format!("{prefix}.yaml"));
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    Project::seed(&path.display().to_string())
}

/// The environment that points at the TLS endpoint with the certificates in `certs`.
fn tls_env(e: &Endpoints, certs: &str) -> Vec<(String, String)> {
    vec![
        ("DOCKER_HOST".into(), e.tls_host.clone()),
        ("DOCKER_TLS_VERIFY".into(), "1".into()),
        ("DOCKER_CERT_PATH".into(), certs.into()),
    ]
}

fn both(o: &Output) -> String {
    format!("{}{}", common::stdout(o), common::stderr(o))
}

/// Applies the seed's Redis through the project's endpoint and checks it is
/// ready, answers, and that status and diff through the same endpoint agree.
fn apply_seed_redis(p: &Project, container: &str) {
    let report = p.apply_ok(&["redis"]);
    let r = service(&report, "redis");
    assert_eq!(r["action"], "created", "{report}");
    assert_eq!(r["ready"], true, "{report}");
    h::wait_docker_healthy(container, Duration::from_secs(40));
    assert_eq!(redis_cli(container, &["ping"]), "PONG");
    assert_eq!(redis_cli(container, &["CONFIG", "GET", "appendonly"]), "appendonly\nyes");

    let s = p.run("status", &["--output", "json", "redis"]);
    assert_eq!(s.status.code(), Some(0), "{}", show(&s));
    assert_eq!(h::json(&s)["services"][0]["ready"], true, "{}", show(&s));
    let d = p.run("diff", &["redis"]);
    assert_eq!(d.status.code(), Some(0), "diff after apply through the same engine: {}", show(&d));
    let again = p.apply_ok(&["redis"]);
    assert_eq!(service(&again, "redis")["action"], "unchanged", "{again}");

    let o = p.run("destroy", &["--volumes"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!h::exists("container", container), "destroyed through the same engine");
}

#[test]
fn seed_redis_through_a_tls_tcp_engine() {
    let Some(e) = endpoints() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = seed_as(dir.path(), "prod", "lg-remote-tls", 0);
    p.env = tls_env(e, &e.tls_certs);
    apply_seed_redis(&p, "lg-remote-tls-redis");
}

#[test]
fn seed_redis_through_an_ssh_engine() {
    let Some(e) = endpoints() else { return };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let port = h::free_port();
    let mut p = seed_as(dir.path(), "dev", "lg-remote-ssh", port);
    p.env = vec![("DOCKER_HOST".into(), e.ssh_host.clone())];
    let report = p.apply_ok(&["redis"]);
    assert_eq!(service(&report, "redis")["ready"], true, "{report}");
    // Dev publishes Redis on the host: reachable on the port given here.
    assert_eq!(h::tcp_ping(port).unwrap_or_else(|e| panic!("127.0.0.1:{port}: {e}")), "+PONG");
    let o = p.run("destroy", &["--volumes"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let dir2 = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut p = seed_as(dir2.path(), "prod", "lg-remote-ssh", 0);
    p.env = vec![("DOCKER_HOST".into(), e.ssh_host.clone())];
    apply_seed_redis(&p, "lg-remote-ssh-redis");
}

#[test]
fn tls_refuses_an_engine_whose_certificate_another_ca_signed() {
    let Some(e) = endpoints() else { return };
    let p = Project::from_yaml(&h::redis_topology("deploy-t-remote-wrongca", h::free_port(), ""));
    let env = tls_env(e, &e.wrong_ca_certs);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let o = p.run_env("status", &["--timeout", "10s"], &env);
    let text = both(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("cannot reach the Docker engine at tcp://127.0.0.1:"), "names the endpoint: {text}");
    assert!(text.contains(&format!("{}/ca.pem", e.wrong_ca_certs)), "names the CA it checked against: {text}");
    assert!(text.contains("certificate") && text.contains("UnknownIssuer"), "says why: {text}");

    // TLS asked for is never plain HTTP, and plain HTTP to a TLS engine fails.
    let o = p.run_env("status", &["--timeout", "10s"], &[("DOCKER_HOST", &e.tls_host)]);
    let text = both(&o);
    assert_eq!(o.status.code(), Some(1), "plain HTTP to the TLS endpoint: {text}");
    assert!(text.contains(&e.tls_host), "{text}");
    let o = p.run_env("status", &[], &[("DOCKER_HOST", &e.tls_host), ("DOCKER_TLS", "1")]);
    let text = both(&o);
    assert_eq!(o.status.code(), Some(1), "TLS without verification is refused: {text}");
    assert!(text.contains("DOCKER_TLS_VERIFY"), "{text}");
}

#[test]
fn ssh_failures_name_the_endpoint_and_what_ssh_said() {
    let Some(e) = endpoints() else { return };
    let p = Project::from_yaml(&h::redis_topology("deploy-t-remote-sshfail", h::free_port(), ""));
    // The same sshd by its address: ssh knows neither its host key nor which key to use.
    let o = p.run_env("status", &["--timeout", "15s"], &[("DOCKER_HOST", &e.ssh_unknown_host)]);
    let text = both(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("cannot reach the Docker engine at {}", e.ssh_unknown_host)), "{text}");
    assert!(
        text.contains("Host key verification failed") || text.contains("Permission denied"),
        "ssh's own reason: {text}"
    );
    assert!(text.contains("docker system dial-stdio"), "says what deploy runs: {text}");
    assert!(!text.contains("URI scheme is not supported"), "{text}");
}

/// A `DOCKER_CONFIG` with contexts made by the docker CLI: `good` (the TLS
/// endpoint and its CA), `wrong-ca` (the same endpoint, another CA) and `ssh`.
fn docker_config(e: &Endpoints) -> tempfile::TempDir {
    let cfg = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let certs = |dir: &str| format!("host={},ca={dir}/ca.pem,cert={dir}/cert.pem,key={dir}/key.pem", e.tls_host);
    for (name, docker) in
        [("good", certs(&e.tls_certs)), ("wrong-ca", certs(&e.wrong_ca_certs)), ("ssh", format!("host={}", e.ssh_host))]
    {
        let o = Command::new("docker")
            .args(["context", "create", name, "--docker", &docker])
            .env("DOCKER_CONFIG", cfg.path())
            .output()
            .unwrap_or_else(|e| panic!("docker context create: {e}"));
        assert!(o.status.success(), "docker context create {name}: {}", show(&o));
    }
    cfg
}

#[test]
fn contexts_choose_the_engine_as_the_docker_cli_does() {
    let Some(e) = endpoints() else { return };
    let cfg = docker_config(e);
    let cfg_path = cfg.path().display().to_string();
    let p = Project::from_yaml(&h::redis_topology("deploy-t-remote-ctx", h::free_port(), ""));
    let status = |extra: &[&str], env: &[(&str, &str)]| {
        let mut all = vec![("DOCKER_CONFIG", cfg_path.as_str())];
        all.extend_from_slice(env);
        let mut args = vec!["--timeout", "15s"];
        args.extend_from_slice(extra);
        let o = p.run_env("status", &args, &all);
        (o.status.code(), both(&o))
    };
    let fails_at_tls = |(code, text): (Option<i32>, String), how: &str| {
        assert_eq!(code, Some(1), "{how}: {text}");
        assert!(text.contains(&format!("at {} (TLS", e.tls_host)), "{how} names the endpoint: {text}");
        assert!(text.contains("UnknownIssuer"), "{how}: {text}");
    };
    // Each way of naming a context: the wrong CA fails at the TLS endpoint, the right one works.
    fails_at_tls(status(&["--context", "wrong-ca"], &[]), "--context");
    fails_at_tls(status(&[], &[("DOCKER_CONTEXT", "wrong-ca")]), "DOCKER_CONTEXT");
    for (how, extra, env) in [
        ("--context", &["--context", "good"][..], &[][..]),
        ("DOCKER_CONTEXT", &[][..], &[("DOCKER_CONTEXT", "good")][..]),
        ("--context over DOCKER_HOST", &["--context", "good"][..], &[("DOCKER_HOST", "unix:///nonexistent.sock")][..]),
        ("--context ssh", &["--context", "ssh"][..], &[][..]),
    ] {
        // The engine answered: nothing is applied there, so status says `missing` (exit 4).
        let (code, text) = status(extra, env);
        assert_eq!(code, Some(4), "{how}: {text}");
        assert!(text.contains("missing"), "{how}: {text}");
    }
    // DOCKER_HOST over DOCKER_CONTEXT.
    let (code, text) = status(&[], &[("DOCKER_HOST", "unix:///nonexistent.sock"), ("DOCKER_CONTEXT", "good")]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("unix:///nonexistent.sock (from DOCKER_HOST)"), "{text}");

    // `docker context use` (the config's currentContext), and DOCKER_CONTEXT over it.
    let o = Command::new("docker").args(["context", "use", "wrong-ca"]).env("DOCKER_CONFIG", cfg.path()).output();
    assert!(o.is_ok_and(|o| o.status.success()), "docker context use");
    fails_at_tls(status(&[], &[]), "currentContext");
    assert!(status(&[], &[]).1.contains("currentContext in"), "says where the context came from");
    assert_eq!(status(&[], &[("DOCKER_CONTEXT", "good")]).0, Some(4));
    assert_eq!(status(&["--context", "default"], &[("DOCKER_HOST", &e.tls_host)]).0, Some(1), "plain HTTP to TLS");

    // A context that does not exist: named, with the ones that do.
    let (code, text) = status(&["--context", "nope"], &[]);
    assert_eq!(code, Some(1), "{text}");
    for part in ["Docker context \"nope\"", "--context", "default, good, ssh, wrong-ca"] {
        assert!(text.contains(part), "names `{part}`: {text}");
    }
}

#[test]
fn context_is_a_kubernetes_context_on_k8s_and_a_docker_context_on_compose() {
    // On compose, --context is accepted (a usage error before); an unknown one is named.
    let p = Project::from_yaml(&h::redis_topology("deploy-t-remote-ctxflag", 1, ""));
    let cfg = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg_path = cfg.path().display().to_string();
    let o = p.run_env("status", &["--context", "absent"], &[("DOCKER_CONFIG", &cfg_path)]);
    let text = both(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("Docker context \"absent\" (from --context)"), "{text}");
    assert!(text.contains("the contexts in") && text.contains("are: default"), "{text}");
}
