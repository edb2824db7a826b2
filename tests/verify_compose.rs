//! `deploy verify` and `deploy apply --verify` on the real Docker Engine: the
//! declared checks run in the service's container through the exec API, a
//! failing one reports its output and exits 1, a `persists` check really
//! restarts the container, secrets are masked in what checks print. (The
//! seed's own checklist runs in tests/compose_seed.rs.)

mod common;
#[path = "compose_common.rs"]
mod h;

use common::stdout;
use h::{Project, inspect, show};
use serde_json::Value;

/// The stand-in Redis with checks: one made to fail (maxmemory is 128mb, not 1).
fn topology(project: &str) -> String {
    format!(
        r#"name: {project}
services:
  redis:
    image: redis:7-alpine
    command: redis-server --appendonly yes --maxmemory 128mb --maxmemory-policy allkeys-lru
    volumes: [redis_data:/data]
    healthcheck:
      command: [redis-cli, ping]
      interval: 10s
      timeout: 5s
      retries: 3
    checks:
      - name: ping
        command: [redis-cli, ping]
        expect: {{equals: PONG}}
      - name: maxmemory
        command: [redis-cli, CONFIG, GET, maxmemory]
        expect:
          matches: '(?m)^1$'
      - name: data persists
        persists:
          write: [redis-cli, SET, "deploy:verify", "{{value}}"]
          read: [redis-cli, GET, "deploy:verify"]
          cleanup: [redis-cli, DEL, "deploy:verify"]
volumes:
  redis_data: {{}}
"#
    )
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no check `{name}` in {report}"))
}

#[test]
fn checks_pass_fail_and_restart_on_the_engine() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(&topology("deploy-verify-e2e"));
    let container = "deploy-verify-e2e-redis-1";

    // apply --verify: the apply is ready, one check fails: exit 1, with its output.
    let o = p.run("apply", &["--verify", "--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let j = h::json(&o);
    assert_eq!(j["ok"], true, "the apply itself succeeded: {j}");
    let v = &j["verify"];
    assert_eq!((v["ok"].as_bool(), v["target"].as_str()), (Some(false), Some("compose")), "{v}");
    assert_eq!(check(v, "ping")["passed"], true, "{v}");
    let mm = check(v, "maxmemory");
    assert_eq!(mm["passed"], false, "{v}");
    assert_eq!(mm["reason"], "stdout does not match `(?m)^1$`", "{v}");
    assert_eq!(mm["output"]["command"], "redis-cli CONFIG GET maxmemory");
    assert_eq!(mm["output"]["exit_code"], 0);
    assert_eq!(mm["output"]["stdout"], "maxmemory\n134217728\n");
    assert_eq!(mm["instance"], container);
    assert!(mm["elapsed_ms"].as_u64().is_some(), "{mm}");

    // The `persists` check restarts the container: its start time changes, its id does not.
    let (id, started) = (inspect(container, "{{.Id}}"), inspect(container, "{{.State.StartedAt}}"));
    let o = p.run("verify", &["--output", "json", "redis"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let v = h::json(&o);
    let pc = check(&v, "data persists");
    assert_eq!((pc["passed"].as_bool(), pc["kind"].as_str()), (Some(true), Some("persists")), "{v}");
    assert_eq!(inspect(container, "{{.Id}}"), id, "restarted in place, not recreated");
    let now = inspect(container, "{{.State.StartedAt}}");
    assert!(h::docker_time(&now) > h::docker_time(&started), "StartedAt {started} -> {now}");
    let detail = pc["detail"].to_string();
    assert!(detail.contains(&format!("restarted container {container}")) && detail.contains(&now), "{detail}");
    assert_eq!(h::redis_cli(container, &["EXISTS", "deploy:verify"]), "0", "cleanup ran");

    // The text report says what failed and shows the output.
    let o = p.run("verify", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let text = stdout(&o);
    assert!(text.contains("FAILED") && text.contains("stdout: maxmemory\n            134217728\n"), "{text}");
    assert!(text.contains(&format!("$ redis-cli CONFIG GET maxmemory   (in {container})")), "{text}");
    assert!(text.contains("1 of 3 check(s) failed"), "{text}");

    // A profile overrides the check by name: all pass, exit 0.
    let fixed = p.dir.join("fixed.yaml");
    let profile =
        "services:\n  redis:\n    checks:\n      - name: maxmemory\n        expect: {matches: '(?m)^134217728$'}\n";
    std::fs::write(&fixed, profile).unwrap_or_else(|e| panic!("{e}"));
    let o = p.run("verify", &["-p", &h::path_str(&fixed), "--output", "json", "redis"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v = h::json(&o);
    assert_eq!((v["ok"].as_bool(), v["checks"].as_array().map(Vec::len)), (Some(true), Some(3)), "{v}");
}

#[test]
fn what_checks_print_is_masked_and_a_slow_or_missing_command_fails() {
    if !h::docker_ready() {
        return;
    }
    let secret = "tok-never-printed-43";
    let yaml = r#"name: deploy-verify-e2e-2
services:
  redis:
    image: redis:7-alpine
    environment:
      API_TOKEN: ${API_TOKEN}
    checks:
      - name: token is set
        shell: echo "the token is $$API_TOKEN"
        expect: {equals: something else}
      - name: blocks
        command: [redis-cli, BLPOP, nothing, "5"]
        timeout: 1s
      - name: no such program
        command: [no-such-program]
"#;
    let mut p = Project::from_yaml(yaml);
    p.env.push(("API_TOKEN".into(), secret.into()));
    // Nothing deployed yet: every check fails, saying so.
    let o = p.run("verify", &["--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let v = h::json(&o);
    assert!(check(&v, "blocks")["reason"].as_str().unwrap_or_default().contains("run `deploy apply` first"), "{v}");

    p.apply_ok(&[]);
    for fmt in ["text", "json"] {
        let o = p.run("verify", &["--output", fmt]);
        assert_eq!(o.status.code(), Some(1), "{}", show(&o));
        let all = format!("{}{}", stdout(&o), common::stderr(&o));
        assert!(!all.contains(secret), "the secret leaked ({fmt}):\n{all}");
        assert!(all.contains("the token is ********"), "{all}");
    }
    let v = h::json(&p.run("verify", &["--output", "json"]));
    let slow = check(&v, "blocks");
    assert_eq!(slow["reason"], "did not finish within its timeout of 1s", "{v}");
    assert!(slow["elapsed_ms"].as_u64().is_some_and(|ms| (1000..4000).contains(&ms)), "{slow}");
    let missing = check(&v, "no such program");
    assert_eq!(missing["passed"], false, "{v}");
    assert_eq!(missing["reason"], "exited with code 126, expected 0", "{missing}");
    let said = missing["output"]["stdout"].as_str().unwrap_or_default();
    assert!(said.contains("\"no-such-program\": executable file not found"), "the runtime's error is shown: {missing}");

    // Unknown services are refused before anything runs.
    let o = p.run("verify", &["nosuch"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(common::stderr(&o).contains("no service named `nosuch`"), "{}", show(&o));
}
