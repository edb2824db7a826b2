//! `deploy apply|diff|status|destroy --target compose` behaviour on the real
//! Docker Engine: published ports, recreate on change with data kept,
//! `depends_on` conditions, one-shot services, prune and force-recreate.
//! Every test uses its own project name and host ports.

mod common;
#[path = "compose_common.rs"]
mod h;

use std::process::Command;

use common::stdout;
use h::{Project, docker_time, inspect, redis_cli, service, show};

#[test]
fn published_port_change_recreates_and_keeps_the_volume() {
    if !h::docker_ready() {
        return;
    }
    let port = h::free_port();
    let p = Project::from_yaml(&h::redis_topology("deploy-t-redisport", port, ""));
    let c = "deploy-t-redisport-redis-1";
    let rep = p.apply_ok(&[]);
    assert_eq!(service(&rep, "redis")["action"], "created");
    assert_eq!(h::tcp_ping(port).unwrap_or_else(|e| panic!("127.0.0.1:{port}: {e}")), "+PONG");
    assert_eq!(
        inspect(c, "{{json .HostConfig.PortBindings}}"),
        format!(r#"{{"6379/tcp":[{{"HostIp":"127.0.0.1","HostPort":"{port}"}}]}}"#)
    );
    let d = p.run("diff", &[]);
    assert_eq!(d.status.code(), Some(0), "{}", show(&d));

    let id = inspect(c, "{{.Id}}");
    assert_eq!(redis_cli(c, &["SET", "k", "v1"]), "OK");

    // A config change: diff says what, apply recreates that service alone.
    p.rewrite(&h::redis_topology("deploy-t-redisport", port, " --maxmemory-samples 7"));
    let d = p.run("diff", &[]);
    assert_eq!(d.status.code(), Some(2), "{}", show(&d));
    // A changed spec recreates the container: a replacement, marked apart from an in-place update.
    assert!(stdout(&d).contains("-/+ container deploy-t-redisport-redis-1 will be replaced"), "{}", show(&d));
    assert!(stdout(&d).contains("command:"), "{}", show(&d));
    assert!(stdout(&d).contains("--maxmemory-samples 7"), "{}", show(&d));
    let dj = h::json(&p.run("diff", &["--output", "json"]));
    let obj =
        dj["objects"].as_array().and_then(|a| a.iter().find(|o| o["kind"] == "container")).cloned().unwrap_or_default();
    assert_eq!(obj["change"], "replace", "{dj}");
    assert!(obj["fields"].to_string().contains("\"command\""), "{dj}");

    let rep = p.apply_ok(&[]);
    assert_eq!(service(&rep, "redis")["action"], "recreated", "{rep}");
    let id2 = inspect(c, "{{.Id}}");
    assert_ne!(id, id2);
    assert_eq!(redis_cli(c, &["CONFIG", "GET", "maxmemory-samples"]), "maxmemory-samples\n7");
    assert_eq!(redis_cli(c, &["GET", "k"]), "v1", "named volume kept across recreate");
    assert_eq!(p.run("diff", &[]).status.code(), Some(0));

    // --force-recreate recreates an unchanged service, still keeping data.
    let rep = p.apply_ok(&["--force-recreate"]);
    assert_eq!(service(&rep, "redis")["action"], "recreated");
    assert_ne!(inspect(c, "{{.Id}}"), id2);
    assert_eq!(redis_cli(c, &["GET", "k"]), "v1");
    assert_eq!(h::tcp_ping(port).unwrap_or_default(), "+PONG");

    // Status.
    let s = p.run("status", &["--output", "json"]);
    assert_eq!(s.status.code(), Some(0), "{}", show(&s));
    let j = h::json(&s);
    assert_eq!(j["services"][0]["ready"], true, "{j}");
    assert_eq!(j["services"][0]["object"], c, "{j}");
    assert!(j["services"][0]["ports"].to_string().contains(&format!("127.0.0.1:{port}->6379/tcp")), "{j}");

    // `docker compose` reads the logs of our container as its own.
    let logs = h::docker(&["compose", "-p", "deploy-t-redisport", "logs", "--no-color", "redis"]);
    assert!(
        String::from_utf8_lossy(&logs.stdout).contains("Ready to accept connections"),
        "docker compose logs: {}",
        String::from_utf8_lossy(&logs.stderr)
    );

    // Destroy removes container and network, keeps the volume without --volumes.
    let o = p.run("destroy", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!h::exists("container", c));
    assert!(!h::exists("network", "deploy-t-redisport_net"));
    assert!(h::exists("volume", "deploy-t-redisport_redis_data"));
    let s = h::json(&p.run("status", &["--output", "json"]));
    assert_eq!(s["services"][0]["state"], "missing", "{s}");
}

const ORDER: &str = r#"name: deploy-t-order
services:
  redis:
    image: redis:7-alpine
    # Not ready for the first two seconds.
    command: ["sh", "-c", "busybox sleep 2; exec redis-server --appendonly no --protected-mode no"]
    networks: [front, back]
    healthcheck:
      command: [redis-cli, ping]
      interval: 10s
      timeout: 5s
      retries: 3
  app:
    image: deploy-test/busybox:1
    # Fails at once if Redis does not answer on the network it joined after create.
    command:
      - sh
      - -c
      - 'printf "PING\r\nQUIT\r\n" | nc redis 6379 | grep -q PONG || { echo redis-not-ready; exit 7; }; touch /tmp/ok; trap "exit 0" TERM; while true; do sleep 1; done'
    networks: [back]
    depends_on:
      redis:
        condition: service_healthy
    healthcheck:
      shell: test -f /tmp/ok
      interval: 10s
networks:
  front: {}
  back: {}
"#;

#[test]
fn dependent_starts_only_after_its_dependency_is_ready() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(ORDER);
    let rep = p.apply_ok(&[]);
    assert_eq!(service(&rep, "redis")["phase"]["state"], "ready", "{rep}");
    assert_eq!(service(&rep, "app")["phase"]["state"], "ready", "{rep}");
    let redis_started = docker_time(&inspect("deploy-t-order-redis-1", "{{.State.StartedAt}}"));
    let app_started = docker_time(&inspect("deploy-t-order-app-1", "{{.State.StartedAt}}"));
    assert!(
        app_started >= redis_started + 2.0,
        "app started {:.3}s after redis, before redis could be ready (2s)",
        app_started - redis_started
    );
    // The probe that made Redis ready ran before the app started: the app saw PONG.
    assert_eq!(inspect("deploy-t-order-app-1", "{{.State.Status}}"), "running");
    // Both networks, service name as alias on each.
    let nets = inspect(
        "deploy-t-order-redis-1",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{join $v.Aliases \",\"}} {{end}}",
    );
    assert!(nets.contains("deploy-t-order_front=redis"), "{nets}");
    assert!(nets.contains("deploy-t-order_back=redis"), "{nets}");
    assert_eq!(
        inspect("deploy-t-order-app-1", "{{index .Config.Labels \"com.docker.compose.depends_on\"}}"),
        "redis:service_healthy:false"
    );
    assert_eq!(p.run("diff", &[]).status.code(), Some(0));

    // Applying only `app` brings its dependency along; nothing changes.
    let rep = p.apply_ok(&["app"]);
    assert_eq!(rep["services"].as_array().map(Vec::len), Some(2), "{rep}");
    assert_eq!(service(&rep, "redis")["action"], "unchanged");
    assert_eq!(service(&rep, "app")["action"], "unchanged");

    // The image's anonymous /data volume goes with `destroy --volumes`.
    let anon = inspect("deploy-t-order-redis-1", "{{range .Mounts}}{{.Name}}{{end}}");
    assert!(!anon.is_empty() && h::exists("volume", &anon), "anonymous volume {anon}");
    p.destroy();
    assert!(!h::exists("container", "deploy-t-order-redis-1"));
    assert!(!h::exists("volume", &anon), "anonymous volume {anon} removed");
}

const ONESHOT: &str = r#"name: deploy-t-oneshot
services:
  migrate:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "sleep 1; echo migrated > /shared/done; echo migration-finished"]
    volumes: ["shared:/shared"]
  app:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "test -f /shared/done || exit 9; trap 'exit 0' TERM; while true; do sleep 1; done"]
    volumes: ["shared:/shared"]
    depends_on:
      migrate:
        condition: service_completed_successfully
volumes:
  shared: {}
"#;

#[test]
fn one_shot_dependency_completes_before_its_dependent_starts() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(ONESHOT);
    let rep = p.apply_ok(&[]);
    assert_eq!(service(&rep, "migrate")["phase"]["state"], "completed", "{rep}");
    assert_eq!(service(&rep, "migrate")["ready"], true);
    assert_eq!(service(&rep, "app")["phase"]["state"], "ready", "{rep}");
    let finished = docker_time(&inspect("deploy-t-oneshot-migrate-1", "{{.State.FinishedAt}}"));
    let started = docker_time(&inspect("deploy-t-oneshot-app-1", "{{.State.StartedAt}}"));
    assert!(started >= finished, "app started {:.3}s before migrate finished", finished - started);
    assert_eq!(inspect("deploy-t-oneshot-migrate-1", "{{.State.ExitCode}}"), "0");

    // Re-apply: the completed one-shot is not run again.
    let fin = inspect("deploy-t-oneshot-migrate-1", "{{.State.FinishedAt}}");
    let rep = p.apply_ok(&[]);
    assert_eq!(service(&rep, "migrate")["action"], "unchanged", "{rep}");
    assert_eq!(service(&rep, "migrate")["phase"]["state"], "completed", "{rep}");
    assert_eq!(service(&rep, "app")["action"], "unchanged", "{rep}");
    assert_eq!(inspect("deploy-t-oneshot-migrate-1", "{{.State.FinishedAt}}"), fin);

    let s = h::json(&p.run("status", &["--output", "json"]));
    assert!(s["services"].to_string().contains("completed (exit 0)"), "{s}");

    // A volume both services mount goes with the whole project, after both containers.
    let o = p.run("destroy", &["--volumes", "--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!h::exists("container", "deploy-t-oneshot-migrate-1"));
    assert!(!h::exists("volume", "deploy-t-oneshot_shared"), "{}", show(&o));
    let kept = h::json(&o)["kept"].to_string();
    assert!(!kept.contains("deploy-t-oneshot_shared"), "not reported kept once removed: {kept}");
}

#[test]
fn failing_one_shot_blocks_its_dependent_and_shows_logs() {
    if !h::docker_ready() {
        return;
    }
    let yaml = ONESHOT
        .replace("deploy-t-oneshot", "deploy-t-oneshotfail")
        .replace("sleep 1; echo migrated > /shared/done; echo migration-finished", "echo migration-broke; exit 3");
    let p = Project::from_yaml(&yaml);
    let o = p.run("apply", &["--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let j = h::json(&o);
    assert_eq!(j["ok"], false);
    let m = service(&j, "migrate");
    assert_eq!(m["phase"]["state"], "failed", "{j}");
    assert!(m["phase"]["reason"].to_string().contains("exited with code 3"), "{j}");
    assert!(m["detail"].to_string().contains("migration-broke"), "logs in the detail: {j}");
    let a = service(&j, "app");
    assert_eq!(a["phase"]["state"], "failed");
    assert!(a["phase"]["reason"].to_string().contains("dependency `migrate`"), "{j}");
    assert!(!h::exists("container", "deploy-t-oneshotfail-app-1"), "the dependent was not created");
}

const PRUNE: &str = r#"name: deploy-t-prune
services:
  a:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
  b:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
"#;

#[test]
fn prune_removes_services_no_longer_in_the_topology() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(PRUNE);
    p.apply_ok(&[]);
    assert!(h::exists("container", "deploy-t-prune-b-1"));
    // Default network of a topology without networks.
    assert_eq!(
        inspect("deploy-t-prune-a-1", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}"),
        "deploy-t-prune_default"
    );

    let only_a = PRUNE.split("  b:\n").next().unwrap_or_default().to_string();
    p.rewrite(&only_a);
    let d = p.run("diff", &[]);
    assert_eq!(d.status.code(), Some(2), "{}", show(&d));
    assert!(stdout(&d).contains("- container deploy-t-prune-b-1 is no longer in the topology"), "{}", show(&d));

    let rep = p.apply_ok(&[]);
    assert!(rep["warnings"].to_string().contains("deploy-t-prune-b-1"), "{rep}");
    assert!(h::exists("container", "deploy-t-prune-b-1"), "not removed without --prune");

    let rep = p.apply_ok(&["--prune"]);
    assert!(rep["pruned"].to_string().contains("deploy-t-prune-b-1"), "{rep}");
    assert!(!h::exists("container", "deploy-t-prune-b-1"));
    assert_eq!(service(&rep, "a")["action"], "unchanged");
    assert_eq!(p.run("diff", &[]).status.code(), Some(0));

    // `docker compose down` removes what deploy created; apply converges again.
    let down = h::docker(&["compose", "-p", "deploy-t-prune", "down"]);
    assert!(down.status.success(), "{}", String::from_utf8_lossy(&down.stderr));
    assert!(!h::exists("container", "deploy-t-prune-a-1"));
    assert!(!h::exists("network", "deploy-t-prune_default"));
    let rep = p.apply_ok(&[]);
    assert_eq!(service(&rep, "a")["action"], "created");
}

#[test]
fn bind_mounts_resolve_against_the_project_dir_and_env_changes_are_diffed() {
    if !h::docker_ready() {
        return;
    }
    let yaml = r#"name: deploy-t-bind
services:
  app:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]
    environment:
      GREETING: hello
      API_TOKEN: not-for-your-eyes
    volumes: ["./data:/data:ro"]
    healthcheck:
      shell: test -f /data/marker
      interval: 10s
"#;
    let p = Project::from_yaml(yaml);
    std::fs::create_dir_all(p.dir.join("data")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(p.dir.join("data/marker"), "x").unwrap_or_else(|e| panic!("{e}"));
    p.apply_ok(&[]);
    let c = "deploy-t-bind-app-1";
    let mounts = inspect(c, "{{range .Mounts}}{{.Type}} {{.Source}} {{.Destination}} {{.RW}}{{end}}");
    assert_eq!(mounts, format!("bind {} /data false", p.dir.join("data").display()));
    // The image's own PATH is not a difference.
    assert!(inspect(c, "{{json .Config.Env}}").contains("PATH="));
    let d = p.run("diff", &[]);
    assert_eq!(d.status.code(), Some(0), "{}", show(&d));

    // Dropping a variable and changing a secret one are both differences; the secret stays masked.
    p.rewrite(&yaml.replace("      GREETING: hello\n", "").replace("not-for-your-eyes", "still-not-for-your-eyes"));
    let d = p.run("diff", &[]);
    assert_eq!(d.status.code(), Some(2), "{}", show(&d));
    let out = stdout(&d);
    assert!(out.contains("- env.GREETING: hello"), "{}", show(&d));
    assert!(out.contains("~ env.API_TOKEN: ******** -> ********"), "{}", show(&d));
    assert!(!out.contains("for-your-eyes"), "{}", show(&d));
    let rep = p.apply_ok(&[]);
    assert_eq!(service(&rep, "app")["action"], "recreated");
    assert!(!rep.to_string().contains("for-your-eyes"), "{rep}");
    assert!(!inspect(c, "{{json .Config.Env}}").contains("GREETING"));
    assert_eq!(p.run("diff", &[]).status.code(), Some(0));
}

/// A test image whose Dockerfile declares `VOLUME /data` (built from the local busybox).
fn volume_image() -> &'static str {
    let tag = "deploy-test/volimg:1";
    let mut child = Command::new("docker")
        .args(["build", "-q", "-t", tag, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("docker build: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        stdin.write_all(b"FROM deploy-test/busybox:1\nVOLUME /data\n").unwrap_or_else(|e| panic!("write: {e}"));
    }
    let status = child.wait().unwrap_or_else(|e| panic!("docker build: {e}"));
    assert!(status.success(), "docker build of {tag}");
    tag
}

fn volimg_topology(extra_env: &str) -> String {
    format!(
        "name: deploy-t-anonvol\nservices:\n  keeper:\n    image: {}\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n    environment: {{GEN: \"{extra_env}\"}}\n",
        volume_image()
    )
}

#[test]
fn an_image_volume_survives_a_recreate_unless_renewed() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(&volimg_topology("1"));
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let name = "deploy-t-anonvol-keeper-1";
    let w = h::docker(&["exec", name, "sh", "-c", "echo precious > /data/file"]);
    assert!(w.status.success(), "{}", String::from_utf8_lossy(&w.stderr));
    let first = inspect(name, "{{.Id}}");
    // A change recreates the container: the file in the image's VOLUME is still there.
    p.rewrite(&volimg_topology("2"));
    let o = p.run("apply", &["--output", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(service(&h::json(&o), "keeper")["action"], "recreated");
    assert_ne!(inspect(name, "{{.Id}}"), first, "a new container, under the same name");
    let r = h::docker(&["exec", name, "cat", "/data/file"]);
    assert_eq!(String::from_utf8_lossy(&r.stdout).trim(), "precious", "{}", String::from_utf8_lossy(&r.stderr));
    // --renew-anon-volumes gives the new container a fresh one (docker compose up -V).
    p.rewrite(&volimg_topology("3"));
    let o = p.run("apply", &["--renew-anon-volumes"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = h::docker(&["exec", name, "sh", "-c", "cat /data/file 2>/dev/null || echo gone"]);
    assert_eq!(String::from_utf8_lossy(&r.stdout).trim(), "gone");
}

#[test]
fn a_replacement_that_cannot_be_created_leaves_the_old_container_running() {
    if !h::docker_ready() {
        return;
    }
    let base = "name: deploy-t-keepold\nservices:\n  app:\n    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n";
    let p = Project::from_yaml(base);
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let name = "deploy-t-keepold-app-1";
    let id = inspect(name, "{{.Id}}");
    // Docker refuses a memory limit under 6 MB at create time.
    p.rewrite(&format!("{base}    resources: {{limits: {{memory: 4M}}}}\n"));
    let o = p.run("apply", &["--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let reason = service(&h::json(&o), "app")["phase"]["reason"].to_string();
    assert!(reason.contains("left running"), "the error says the old one still runs: {reason}");
    assert_eq!(inspect(name, "{{.Id}}"), id, "the same container");
    assert_eq!(inspect(name, "{{.State.Running}}"), "true");
}
