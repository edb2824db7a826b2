//! The conformance table: the same scenarios through the `deploy` binary on
//! both targets, Compose on the real Docker Engine and Kubernetes on the
//! in-repo API double, with identical expected reports (only the platform's
//! object names differ). A row of the table is a scenario; each runs once per
//! target as its own test (`conformance::SCENARIO::compose|k8s`).

mod common;
#[path = "compose_common.rs"]
mod compose_common;
#[path = "conformance/rig.rs"]
mod rig;

use std::time::{Duration, Instant};

use kube_double::Behaviour;
use rig::{Rig, Target, outcome, rows, service};

/// A long-running test service that stops at once on SIGTERM.
const UP: &str =
    "    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n";
/// A probe that passes.
const HEALTHY: &str = "    healthcheck: {command: [\"true\"], interval: 1s, timeout: 2s, retries: 3}\n";

macro_rules! on_both_targets {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn compose() {
                super::$name(super::Target::Compose)
            }
            #[test]
            fn k8s() {
                super::$name(super::Target::K8s)
            }
        }
    )*};
}

on_both_targets!(
    conditions_and_a_one_shot_that_runs_once,
    a_one_shot_without_dependents_runs_once,
    a_failing_one_shot_fails_its_dependents,
    a_service_that_turns_unhealthy_fails_fast,
    every_verb_acts_on_its_selection_and_destroy_goes_in_reverse,
    prune_removes_only_what_the_topology_lost,
    every_verb_reads_the_env_file,
    exit_codes,
    one_apply_at_a_time,
);

fn deps_topology() -> String {
    format!(
        "services:\n  db:\n{UP}{HEALTHY}  migrate:\n    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"echo migrated\"]\n    restart: \"no\"\n    depends_on: {{db: {{condition: service_healthy}}}}\n  web:\n{UP}    depends_on:\n      db: {{condition: service_started}}\n      migrate: {{condition: service_completed_successfully}}\n"
    )
}

fn conditions_and_a_one_shot_that_runs_once(t: Target) {
    let Some(rig) = Rig::new(t, "deps", &deps_topology()) else { return };
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    let expected = rows(&[
        ("db", "created", "ready", true),
        ("migrate", "created", "completed", true),
        ("web", "created", "ready", true),
    ]);
    assert_eq!(outcome(&r), expected, "[{}] {r:#}", t.name());
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    let expected = rows(&[
        ("db", "unchanged", "unchanged", true),
        ("migrate", "unchanged", "completed", true),
        ("web", "unchanged", "unchanged", true),
    ]);
    assert_eq!(outcome(&r), expected, "[{}] the one-shot is not run again: {r:#}", t.name());
    let (code, d) = rig.json("diff", &[]);
    assert_eq!(code, 0, "diff agrees with apply: nothing to do: {d:#}");
}

fn a_one_shot_without_dependents_runs_once(t: Target) {
    let topology = "services:\n  seed:\n    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"echo seeded\"]\n    kind: job\n";
    let Some(rig) = Rig::new(t, "job", topology) else { return };
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!((code, outcome(&r)), (0, rows(&[("seed", "created", "completed", true)])), "{r:#}");
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!((code, outcome(&r)), (0, rows(&[("seed", "unchanged", "completed", true)])), "{r:#}");
    let (code, d) = rig.json("diff", &[]);
    assert_eq!(code, 0, "{d:#}");
    let (code, s) = rig.json("status", &[]);
    assert_eq!(code, 0);
    assert_eq!(service(&s, "seed")["ready"], true, "{s:#}");
    // A changed one-shot is run again.
    rig.write(&topology.replace("seeded", "seeded again"));
    let (code, d) = rig.json("diff", &[]);
    assert_eq!(code, 2, "{d:#}");
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!((code, outcome(&r)), (0, rows(&[("seed", "recreated", "completed", true)])), "{r:#}");
}

fn a_failing_one_shot_fails_its_dependents(t: Target) {
    let topology = format!(
        "services:\n  migrate:\n    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"echo boom-from-migrate; exit 3\"]\n    restart: \"no\"\n  web:\n{UP}    depends_on: {{migrate: {{condition: service_completed_successfully}}}}\n"
    );
    let Some(rig) = Rig::new(t, "fail", &topology) else { return };
    rig.behave("migrate", Behaviour::Fails { exit_code: 3, log: "boom-from-migrate\n".into() });
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!(code, 1, "{r:#}");
    let expected = rows(&[("migrate", "failed", "failed", false), ("web", "failed", "failed", false)]);
    assert_eq!(outcome(&r), expected, "{r:#}");
    let m = service(&r, "migrate");
    assert!(m["detail"].to_string().contains("boom-from-migrate"), "the log tail is shown: {m:#}");
    let w = service(&r, "web");
    assert!(w["phase"]["reason"].as_str().unwrap_or_default().contains("dependency `migrate` failed"), "{w:#}");
}

fn a_service_that_turns_unhealthy_fails_fast(t: Target) {
    let topology = format!(
        "services:\n  sick:\n{UP}    healthcheck: {{command: [\"false\"], interval: 1s, timeout: 1s, retries: 2}}\n"
    );
    let Some(rig) = Rig::new(t, "sick", &topology) else { return };
    // On Kubernetes a failing liveness probe restarts the container until it backs off.
    rig.behave("sick", Behaviour::CrashLoopBackOff);
    let started = Instant::now();
    let (code, r) = rig.json("apply", &["--timeout", "90s"]);
    let took = started.elapsed();
    assert_eq!(code, 1, "{r:#}");
    assert_eq!(outcome(&r), rows(&[("sick", "failed", "failed", false)]), "{r:#}");
    assert!(took < Duration::from_secs(30), "it stops waiting when the platform gives up, not at --timeout: {took:?}");
}

fn selection_topology() -> String {
    format!(
        "services:\n  db:\n{UP}{HEALTHY}  web:\n{UP}    depends_on: {{db: {{condition: service_healthy}}}}\n  other:\n{UP}"
    )
}

/// Index in `removed` of the first object of `service`.
fn removed_at(removed: &serde_json::Value, service: &str) -> usize {
    let items: Vec<String> = removed.as_array().into_iter().flatten().map(|v| v.to_string()).collect();
    items
        .iter()
        .position(|i| i.contains(&format!("/{service}\"")) || i.contains(&format!("-{service}-1")))
        .unwrap_or_else(|| panic!("nothing of `{service}` removed: {items:?}"))
}

fn every_verb_acts_on_its_selection_and_destroy_goes_in_reverse(t: Target) {
    let Some(rig) = Rig::new(t, "sel", &selection_topology()) else { return };
    let (code, r) = rig.json("apply", &["web", "--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    let expected = rows(&[("db", "created", "ready", true), ("web", "created", "ready", true)]);
    assert_eq!(outcome(&r), expected, "apply: the service and what it depends on: {r:#}");
    let (code, d) = rig.json("diff", &["web"]);
    assert_eq!(code, 0, "diff covers the same selection: {d:#}");
    let (_, s) = rig.json("status", &["web"]);
    let names: Vec<&str> =
        s["services"].as_array().into_iter().flatten().filter_map(|x| x["service"].as_str()).collect();
    assert_eq!(names, vec!["web"], "status: exactly the named services");
    let (code, x) = rig.json("destroy", &["web"]);
    assert_eq!(code, 0, "{x:#}");
    assert!(x.to_string().contains("web") && !x.to_string().contains("db"), "destroy: exactly the named: {x:#}");
    let (_, s) = rig.json("status", &["db"]);
    assert_eq!(service(&s, "db")["ready"], true, "db is left alone: {s:#}");
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    let (code, x) = rig.json("destroy", &[]);
    assert_eq!(code, 0, "{x:#}");
    assert!(removed_at(&x["removed"], "web") < removed_at(&x["removed"], "db"), "dependents first: {x:#}");
}

fn prune_removes_only_what_the_topology_lost(t: Target) {
    let two = format!("services:\n  keep:\n{UP}  gone:\n{UP}");
    let Some(rig) = Rig::new(t, "prune", &two) else { return };
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    rig.write(&format!("services:\n  keep:\n{UP}"));
    let (code, d) = rig.json("diff", &[]);
    assert_eq!(code, 2, "diff shows the deletion: {d:#}");
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(r["pruned"].is_null() || r["pruned"] == serde_json::json!([]), "not without --prune: {r:#}");
    assert!(r["warnings"].to_string().contains("gone"), "a warning names it: {r:#}");
    let (code, r) = rig.json("apply", &["--prune", "--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(r["pruned"].to_string().contains("gone"), "{r:#}");
    assert!(!r["pruned"].to_string().contains("keep"), "{r:#}");
    let (code, d) = rig.json("diff", &[]);
    assert_eq!(code, 0, "{d:#}");
}

fn every_verb_reads_the_env_file(t: Target) {
    let topology = format!("services:\n  hello:\n{UP}    environment:\n      GREETING: ${{GREETING:?set GREETING}}\n");
    let Some(rig) = Rig::new(t, "dotenv", &topology) else { return };
    rig.write_file(".env", "GREETING=hi-from-dotenv\n");
    for (verb, args) in [("apply", vec!["--timeout", "60s"]), ("diff", vec![]), ("status", vec![])] {
        let o = rig.run(verb, &args);
        assert_eq!(o.status.code(), Some(0), "[{}] {verb}: {}", t.name(), compose_common::show(&o));
    }
    rig.remove_file(".env");
    for verb in ["apply", "diff"] {
        let o = rig.run(verb, &[]);
        assert_eq!(o.status.code(), Some(1), "{verb}: {}", compose_common::show(&o));
        assert!(common::stderr(&o).contains("GREETING"), "{verb} names the variable: {}", compose_common::show(&o));
    }
    // status and destroy read no value of the topology.
    for verb in ["status", "destroy"] {
        let o = rig.run(verb, &[]);
        assert_eq!(o.status.code(), Some(0), "{verb}: {}", compose_common::show(&o));
    }
}

fn exit_codes(t: Target) {
    let Some(rig) = Rig::new(t, "codes", &format!("services:\n  app:\n{UP}")) else { return };
    assert_eq!(rig.run("apply", &["--timeout", "60s"]).status.code(), Some(0));
    assert_eq!(rig.run("diff", &[]).status.code(), Some(0), "no changes");
    rig.write(&format!("services:\n  app:\n{UP}    environment: {{MODE: changed}}\n"));
    assert_eq!(rig.run("diff", &[]).status.code(), Some(2), "changes");
    assert_eq!(rig.run("apply", &["--no-such-flag"]).status.code(), Some(64), "usage");
    assert_eq!(rig.run("apply", &["no-such-service"]).status.code(), Some(1), "unknown service");
    let other_target_flag = if t == Target::Compose { Some(64) } else { None };
    if let Some(code) = other_target_flag {
        assert_eq!(rig.run("apply", &["--namespace", "x"]).status.code(), Some(code), "a k8s flag on compose");
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

fn one_apply_at_a_time(t: Target) {
    let Some(rig) = Rig::new(t, "lock", &format!("services:\n  app:\n{UP}")) else { return };
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // A live holder (pid 1 of this host runs): the apply waits, then gives up naming it.
    rig.plant_lock(&format!("1@{}@{since}@apply", host()), 300);
    let started = Instant::now();
    let o = rig.run("apply", &["--timeout", "3s"]);
    let text = compose_common::show(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10), "{text}");
    assert!(
        text.contains("waiting for the apply started by pid 1 on host"),
        "a progress line names the holder: {text}"
    );
    assert!(text.contains("gave up after 3s"), "{text}");
    // A holder that is provably gone (no such process here) is taken over.
    rig.plant_lock(&format!("999999@{}@{since}@apply", host()), 300);
    let o = rig.run("apply", &["--timeout", "60s"]);
    assert_eq!(o.status.code(), Some(0), "{}", compose_common::show(&o));
    // Two applies at once: both succeed, one after the other; one state.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| rig.run("apply", &["--timeout", "60s"]));
        let b = s.spawn(|| rig.run("apply", &["--timeout", "60s"]));
        (a.join(), b.join())
    });
    for o in [a, b] {
        let o = o.unwrap_or_else(|_| panic!("thread"));
        assert_eq!(o.status.code(), Some(0), "{}", compose_common::show(&o));
    }
    let (code, d) = rig.json("diff", &[]);
    assert_eq!(code, 0, "{d:#}");
}
