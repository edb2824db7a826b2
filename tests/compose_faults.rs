//! Faults of `deploy apply --target compose`: each gives a clear message
//! naming the service and what to do, a non-zero exit, and leaves nothing a
//! second apply cannot converge.

mod common;
#[path = "compose_common.rs"]
mod h;

use std::net::{Ipv4Addr, TcpListener};
use std::process::Command;
use std::time::{Duration, Instant};

use h::{Project, inspect, service, show};

fn all_output(o: &std::process::Output) -> String {
    format!("{}{}", common::stdout(o), common::stderr(o))
}

#[test]
fn daemon_unreachable_names_the_socket() {
    // Needs no engine: the engine is what is missing.
    let mut p = Project::from_yaml(&h::redis_topology("deploy-t-nodaemon", 1, ""));
    p.env.push(("DOCKER_HOST".into(), "unix:///nonexistent.sock".into()));
    for cmd in ["apply", "diff", "status", "destroy"] {
        let o = p.run(cmd, &[]);
        assert_eq!(o.status.code(), Some(1), "{cmd}: {}", show(&o));
        let out = all_output(&o);
        assert!(out.contains("unix:///nonexistent.sock"), "{cmd} names the socket: {out}");
        assert!(out.contains("DOCKER_HOST"), "{cmd} says what to do: {out}");
        assert!(out.contains("cannot reach the Docker engine"), "{out}");
    }
}

#[test]
fn missing_required_variable_fails_before_anything_is_created() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(
        r#"name: deploy-t-novar
services:
  app:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "sleep 1"]
    environment:
      API_TOKEN: ${DEPLOY_T_UNSET_TOKEN:?set DEPLOY_T_UNSET_TOKEN}
"#,
    );
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(all_output(&o).contains("DEPLOY_T_UNSET_TOKEN"), "{}", show(&o));
    assert!(!h::exists("network", "deploy-t-novar_default"), "nothing created");
    assert!(!h::exists("container", "deploy-t-novar-app-1"), "nothing created");
}

#[test]
fn host_port_in_use_is_reported_and_a_second_apply_converges() {
    if !h::docker_ready() {
        return;
    }
    let port = h::free_port();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap_or_else(|e| panic!("bind {port}: {e}"));
    let p = Project::from_yaml(&h::redis_topology("deploy-t-portbusy", port, ""));
    let o = p.run("apply", &["--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let j = h::json(&o);
    let r = service(&j, "redis");
    let reason = r["phase"]["reason"].as_str().unwrap_or_default().to_string();
    assert!(reason.contains("already in use"), "{j}");
    assert!(reason.contains(&port.to_string()), "{j}");
    assert!(reason.contains("`redis`"), "names the service: {j}");
    assert!(j["error"].to_string().contains("service `redis`"), "{j}");

    drop(listener);
    let rep = p.apply_ok(&[]);
    assert_eq!(service(&rep, "redis")["ready"], true);
    assert_eq!(h::tcp_ping(port).unwrap_or_else(|e| panic!("{e}")), "+PONG");
}

#[test]
fn image_that_cannot_be_pulled_fails_before_anything_is_created() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(
        r#"name: deploy-t-nopull
services:
  app:
    image: docker.io/deploytest/definitely-not-here:0.0.1
    volumes: ["data:/data"]
volumes:
  data: {}
"#,
    );
    let start = Instant::now();
    let o = p.run("apply", &["--output", "json", "--timeout", "60s"]);
    eprintln!("unpullable image reported in {:?}", start.elapsed());
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let j = h::json(&o);
    let r = service(&j, "app");
    let reason = r["phase"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("docker.io/deploytest/definitely-not-here:0.0.1"), "names the image: {j}");
    assert!(reason.contains("cannot be pulled"), "{j}");
    assert!(j["error"].to_string().contains("nothing was changed"), "{j}");
    assert!(!h::exists("network", "deploy-t-nopull_default"));
    assert!(!h::exists("volume", "deploy-t-nopull_data"));
    assert!(!h::exists("container", "deploy-t-nopull-app-1"));
}

#[test]
fn probe_that_never_passes_times_out_with_its_output_and_logs() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(
        r#"name: deploy-t-neverready
services:
  app:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "echo booting-marker; trap 'exit 0' TERM; while true; do sleep 1; done"]
    healthcheck:
      shell: echo probe-said-no; exit 1
      interval: 10s
      timeout: 2s
"#,
    );
    let start = Instant::now();
    let o = p.run("apply", &["--output", "json", "--timeout", "3s"]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(took < Duration::from_secs(25), "gave up in time: {took:?}");
    let j = h::json(&o);
    let r = service(&j, "app");
    let reason = r["phase"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("never passed"), "{j}");
    assert!(reason.contains("probe-said-no"), "last probe output: {j}");
    let detail = r["detail"].to_string();
    assert!(detail.contains("booting-marker"), "log tail: {j}");
    assert!(r["detail"].as_array().map(Vec::len).unwrap_or(0) >= 2, "{j}");
    // Text output too.
    let o = p.run("apply", &["--timeout", "2s"]);
    assert_eq!(o.status.code(), Some(1));
    let out = all_output(&o);
    assert!(out.contains("probe-said-no") && out.contains("booting-marker"), "{out}");
}

#[test]
fn container_exiting_during_the_wait_fails_with_its_logs() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(
        r#"name: deploy-t-exits
services:
  app:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "echo dying-marker; sleep 1; exit 3"]
    healthcheck:
      shell: exit 1
      interval: 10s
"#,
    );
    let start = Instant::now();
    let o = p.run("apply", &["--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(start.elapsed() < Duration::from_secs(30), "did not wait for the timeout");
    let j = h::json(&o);
    let r = service(&j, "app");
    assert!(r["phase"]["reason"].to_string().contains("exited with code 3"), "{j}");
    assert!(r["detail"].to_string().contains("dying-marker"), "{j}");
}

#[test]
fn ctrl_c_during_apply_exits_130_and_a_second_apply_converges() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(
        r#"name: deploy-t-ctrlc
services:
  app:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 4; touch /tmp/ready; while true; do sleep 1; done"]
    healthcheck:
      shell: test -f /tmp/ready
      interval: 10s
"#,
    );
    let child = p.spawn("apply", &[]);
    let pid = child.id();
    // Wait until the container runs (apply is then probing), then interrupt.
    let start = Instant::now();
    while inspect("deploy-t-ctrlc-app-1", "{{.State.Status}}") != "running" {
        assert!(start.elapsed() < Duration::from_secs(30), "container never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    let k = Command::new("kill").args(["-INT", &pid.to_string()]).status();
    assert!(k.is_ok_and(|s| s.success()), "kill -INT {pid}");
    let o = child.wait_with_output().unwrap_or_else(|e| panic!("wait: {e}"));
    assert_eq!(o.status.code(), Some(130), "{}", show(&o));
    let err = common::stderr(&o);
    assert!(err.contains("while `app` probing"), "the message says what was in flight: {err}");

    let rep = p.apply_ok(&[]);
    let r = service(&rep, "app");
    assert_eq!(r["ready"], true, "{rep}");
    assert_eq!(inspect("deploy-t-ctrlc-app-1", "{{.State.Status}}"), "running");
    assert_eq!(p.run("diff", &[]).status.code(), Some(0));
}

/// `POST /networks/create` straight to the engine's socket, with the duplicate
/// check off: what a race between two creates (or an older tool) leaves behind.
fn create_network_unchecked(name: &str) {
    use std::io::{Read, Write};
    let body = format!(r#"{{"Name":"{name}","CheckDuplicate":false}}"#);
    let req = format!(
        "POST /networks/create HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s =
        std::os::unix::net::UnixStream::connect("/var/run/docker.sock").unwrap_or_else(|e| panic!("socket: {e}"));
    s.write_all(req.as_bytes()).unwrap_or_else(|e| panic!("write: {e}"));
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.0 201") || answer.starts_with("HTTP/1.1 201"), "{answer}");
}

fn networks_named(name: &str) -> usize {
    let o = h::docker(&["network", "ls", "--filter", &format!("name={name}"), "--format", "{{.Name}}"]);
    String::from_utf8_lossy(&o.stdout).lines().filter(|l| *l == name).count()
}

#[test]
fn a_duplicate_network_is_healed_instead_of_wedging_every_apply() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(
        "name: deploy-t-dupnet\nservices:\n  a:\n    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n",
    );
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    create_network_unchecked("deploy-t-dupnet_default");
    assert_eq!(networks_named("deploy-t-dupnet_default"), 2, "the duplicate exists");
    // A change makes apply recreate the container, which joins the network by name.
    p.rewrite(
        "name: deploy-t-dupnet\nservices:\n  a:\n    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n    environment: {CHANGED: \"1\"}\n",
    );
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(0), "apply converges: {}", show(&o));
    assert_eq!(networks_named("deploy-t-dupnet_default"), 1, "the empty duplicate is gone");
    let o = p.run("destroy", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
}
