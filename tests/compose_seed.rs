//! The seed's Validation section, automated for the Redis service of
//! `manifests/learn-greek.yaml` on both profiles, after one `deploy apply`
//! on the real Docker Engine.

mod common;
#[path = "compose_common.rs"]
mod h;

use std::time::{Duration, Instant};

use common::stdout;
use h::{Project, docker, inspect, redis_cli, service, show};

/// Checks shared by both profiles: health, PONG, memory/eviction/AOF config,
/// volume and network, `docker compose ps`, data surviving a restart.
fn common_checks(project: &str, container: &str, network: &str, volume: &str) {
    // Docker's own health check (its first run is one interval, 10s, after start).
    h::wait_docker_healthy(container, Duration::from_secs(40));
    assert_eq!(inspect(container, "{{.State.Status}}"), "running");
    assert_eq!(redis_cli(container, &["ping"]), "PONG");
    assert_eq!(redis_cli(container, &["CONFIG", "GET", "maxmemory"]), "maxmemory\n134217728");
    assert_eq!(redis_cli(container, &["CONFIG", "GET", "maxmemory-policy"]), "maxmemory-policy\nallkeys-lru");
    assert_eq!(redis_cli(container, &["CONFIG", "GET", "appendonly"]), "appendonly\nyes");

    // Volume and network, with Compose's labels.
    let vol_project = String::from_utf8_lossy(
        &docker(&["volume", "inspect", "-f", "{{index .Labels \"com.docker.compose.project\"}}", volume]).stdout,
    )
    .trim()
    .to_string();
    assert_eq!(vol_project, project, "volume {volume} carries the project label");
    let mounts = inspect(container, "{{range .Mounts}}{{.Type}}:{{.Name}}:{{.Destination}} {{end}}");
    assert!(mounts.contains(&format!("volume:{volume}:/data")), "mounts: {mounts}");
    let net_project = String::from_utf8_lossy(
        &docker(&["network", "inspect", "-f", "{{index .Labels \"com.docker.compose.project\"}}", network]).stdout,
    )
    .trim()
    .to_string();
    assert_eq!(net_project, project, "network {network} carries the project label");
    let aliases = inspect(container, &format!("{{{{json (index .NetworkSettings.Networks \"{network}\").Aliases}}}}"));
    assert!(aliases.contains("\"redis\""), "the service name resolves on {network}: aliases {aliases}");

    // `docker compose` sees the container as its own.
    let ps = docker(&["compose", "-p", project, "ps", "--format", "{{.Name}} {{.Service}}"]);
    let ps_out = String::from_utf8_lossy(&ps.stdout);
    assert!(ps.status.success(), "docker compose ps: {}", String::from_utf8_lossy(&ps.stderr));
    assert!(ps_out.contains(&format!("{container} redis")), "docker compose -p {project} ps:\n{ps_out}");

    // Data survives a restart.
    assert_eq!(redis_cli(container, &["SET", "persistence_test", "this_should_persist"]), "OK");
    let r = docker(&["restart", container]);
    assert!(r.status.success(), "docker restart: {}", String::from_utf8_lossy(&r.stderr));
    let start = Instant::now();
    while docker(&["exec", container, "redis-cli", "ping"]).stdout != b"PONG\n" {
        assert!(start.elapsed() < Duration::from_secs(20), "redis did not come back after restart");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(redis_cli(container, &["GET", "persistence_test"]), "this_should_persist");
}

/// The seed's Validation checklist as the topology declares it: `deploy
/// apply --verify` (an unchanged apply, then every check in the container),
/// the `persists` check restarting the container in place.
fn seed_checklist(p: &Project, container: &str) {
    let (id, started) = (inspect(container, "{{.Id}}"), inspect(container, "{{.State.StartedAt}}"));
    let o = p.run("apply", &["--verify", "--output", "json", "redis"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let j = h::json(&o);
    assert_eq!(service(&j, "redis")["action"], "unchanged", "{j}");
    let v = &j["verify"];
    assert_eq!(v["ok"], true, "{v}");
    let checks = v["checks"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    let want = ["ping", "maxmemory is 128mb", "eviction policy is allkeys-lru", "AOF persistence is on"];
    assert_eq!(names, [&want[..], &["data persists across a restart"]].concat(), "{v}");
    assert!(checks.iter().all(|c| c["passed"] == true && c["instance"] == container), "{v}");
    assert_eq!(inspect(container, "{{.Id}}"), id, "restarted in place");
    let now = inspect(container, "{{.State.StartedAt}}");
    assert!(h::docker_time(&now) > h::docker_time(&started), "the persists check restarted it: {started} -> {now}");
    // The text form, as demo.sh shows it.
    let o = p.run("verify", &["redis"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains("all 5 check(s) passed"), "{}", show(&o));
}

#[test]
fn seed_redis_prod_profile() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::seed("prod");
    let container = "learn-greek-redis";

    let t0 = Instant::now();
    let report = p.apply_ok(&["redis"]);
    let cold = t0.elapsed();
    let r = service(&report, "redis");
    assert_eq!(r["action"], "created", "{report}");
    assert_eq!(r["ready"], true);
    eprintln!("prod: cold apply-to-ready {cold:?}");

    common_checks("learn-greek", container, "learn-greek-network", "learn-greek-redis-data");

    // Production limits and restart policy; nothing published.
    assert_eq!(inspect(container, "{{.HostConfig.NanoCpus}}"), "250000000");
    assert_eq!(inspect(container, "{{.HostConfig.Memory}}"), "268435456");
    assert_eq!(inspect(container, "{{.HostConfig.MemoryReservation}}"), "67108864");
    assert_eq!(inspect(container, "{{.HostConfig.RestartPolicy.Name}}"), "unless-stopped");
    let bindings = inspect(container, "{{json .HostConfig.PortBindings}}");
    assert!(bindings == "null" || bindings == "{}", "prod binds no host port: {bindings}");
    let ports = inspect(container, "{{json .NetworkSettings.Ports}}");
    assert!(!ports.contains("HostPort"), "prod publishes no port: {ports}");

    // Re-applying an unchanged topology touches nothing, and says so.
    let id = inspect(container, "{{.Id}}");
    let started = inspect(container, "{{.State.StartedAt}}");
    let t1 = Instant::now();
    let again = p.apply_ok(&["redis"]);
    eprintln!("prod: no-op re-apply {:?}", t1.elapsed());
    let r = service(&again, "redis");
    assert_eq!(r["action"], "unchanged", "{again}");
    assert_eq!(r["phase"]["state"], "unchanged", "{again}");
    assert_eq!(inspect(container, "{{.Id}}"), id, "same container");
    assert_eq!(inspect(container, "{{.State.StartedAt}}"), started, "not restarted");
    let text = p.run("apply", &["redis"]);
    assert_eq!(text.status.code(), Some(0), "{}", show(&text));
    assert!(stdout(&text).contains("nothing to do"), "{}", show(&text));

    // Diff after apply: no changes.
    let d = p.run("diff", &["redis"]);
    assert_eq!(d.status.code(), Some(0), "diff after apply:\n{}", show(&d));

    // A config change that recreates the container keeps the volume's data.
    assert_eq!(redis_cli(container, &["SET", "before_change", "kept"]), "OK");
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let prod = std::fs::read_to_string(common::root().join("profiles/prod.yaml")).unwrap_or_default();
    let changed = prod.replace("memory: 256M", "memory: 320M");
    assert_ne!(changed, prod);
    let changed_path = tmp.path().join("prod-changed.yaml");
    std::fs::write(&changed_path, changed).unwrap_or_else(|e| panic!("{e}"));
    let pc = changed_path.display().to_string();
    let file = p.file.display().to_string();
    let d = common::deploy(&["diff", "-f", &file, "-p", &pc, "redis"]);
    assert_eq!(d.status.code(), Some(2), "diff after a change:\n{}", show(&d));
    assert!(stdout(&d).contains("resources.limits.memory"), "{}", show(&d));
    // In the topology's units, not the Engine's bytes.
    assert!(stdout(&d).contains("resources.limits.memory: 256M -> 320M"), "{}", show(&d));
    let o = common::deploy(&["apply", "-f", &file, "-p", &pc, "--output", "json", "redis"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let j = h::json(&o);
    assert_eq!(service(&j, "redis")["action"], "recreated", "{j}");
    let new_id = inspect(container, "{{.Id}}");
    assert_ne!(new_id, id, "recreated");
    assert_eq!(inspect(container, "{{.HostConfig.Memory}}"), "335544320");
    assert_eq!(redis_cli(container, &["GET", "before_change"]), "kept");
    assert_eq!(redis_cli(container, &["GET", "persistence_test"]), "this_should_persist");
    // And back.
    let back = p.apply_ok(&["redis"]);
    assert_eq!(service(&back, "redis")["action"], "recreated");
    assert_eq!(redis_cli(container, &["GET", "before_change"]), "kept");

    seed_checklist(&p, container);

    // Secrets are masked in diffs: the whole prod stack, with the secret set.
    let secret = "s3cr3t-value-never-printed";
    for fmt in ["text", "json"] {
        let d = p.run_env("diff", &["--output", fmt], &[("JWT_SECRET_KEY", secret)]);
        assert_eq!(d.status.code(), Some(2), "{}", show(&d));
        let all = format!("{}{}", stdout(&d), common::stderr(&d));
        assert!(!all.contains(secret), "secret leaked in diff ({fmt}):\n{all}");
        assert!(all.contains("JWT_SECRET_KEY"), "{all}");
        assert!(all.contains("********"), "{all}");
    }

    // Destroy keeps the volume unless asked.
    let o = p.run("destroy", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains("kept"), "{}", show(&o));
    assert!(!h::exists("container", container));
    assert!(h::exists("volume", "learn-greek-redis-data"));
}

#[test]
fn seed_redis_dev_profile() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::seed("dev");
    let container = "learn-greek-redis-dev";
    let report = p.apply_ok(&["redis"]);
    assert_eq!(service(&report, "redis")["ready"], true);

    common_checks("learn-greek-dev", container, "learn-greek-network-dev", "learn-greek-redis-data-dev");

    // Dev publishes 6379 on the host; no limits, no restart policy.
    assert_eq!(
        inspect(container, "{{json .HostConfig.PortBindings}}"),
        r#"{"6379/tcp":[{"HostIp":"0.0.0.0","HostPort":"6379"}]}"#
    );
    assert_eq!(h::tcp_ping(6379).unwrap_or_else(|e| panic!("127.0.0.1:6379: {e}")), "+PONG");
    assert_eq!(inspect(container, "{{.HostConfig.NanoCpus}}"), "0");
    assert_eq!(inspect(container, "{{.HostConfig.RestartPolicy.Name}}"), "no");

    let s = p.run("status", &["--output", "json", "redis"]);
    assert_eq!(s.status.code(), Some(0), "{}", show(&s));
    let j = h::json(&s);
    let r = &j["services"][0];
    assert_eq!(r["ready"], true, "{j}");
    assert_eq!(r["state"], "running");
    assert!(r["ports"].to_string().contains("0.0.0.0:6379->6379/tcp"), "{j}");

    let d = p.run("diff", &["redis"]);
    assert_eq!(d.status.code(), Some(0), "{}", show(&d));

    seed_checklist(&p, container);
}
