//! `deploy verify` on Kubernetes against the API server double: the seed's
//! checklist runs through the real kube websocket exec (`pods/exec`, channel
//! protocol v5) with canned `redis-cli` answers, a failing check fails with
//! its output, and a `persists` check deletes the pod and waits for its
//! controller's new one.

#[path = "../../../tests/support/fake_redis.rs"]
mod fake_redis;

use std::sync::Arc;
use std::time::Duration;

use deploy_k8s::{Cluster, ClusterOptions, Endpoint};
use deploy_orchestrator::{self as orchestrator, Selection, VerifyOptions};
use deploy_report::{NoProgress, VerifyReport};
use deploy_topology::{Env, Topology};
use fake_redis::Keep;
use kube_double::{Behaviour, ExecReply, KubeDouble};

const BASE: &str = include_str!("../../../manifests/learn-greek.yaml");
const PROD: &str = include_str!("../../../profiles/prod.yaml");
const NS: &str = "learn-greek";

/// The prod profile, with `redis_lines` (indented for the redis entry) added to its redis entry.
fn prod_with(redis_lines: &str) -> Topology {
    assert_eq!(PROD.matches("\n  redis:\n").count(), 1);
    let profile = PROD.replace("\n  redis:\n", &format!("\n  redis:\n{redis_lines}"));
    deploy_topology::from_str("learn-greek.yaml", BASE, Some(("prod", &profile)))
        .unwrap_or_else(|e| panic!("{}", e.render()))
}

fn env() -> Env {
    Env::from_pairs([("JWT_SECRET_KEY", "jwt-secret-for-verify-tests")])
}

/// The double with the prod topology's Redis applied and ready.
async fn applied(t: &Topology) -> KubeDouble {
    let d = KubeDouble::start().await.unwrap_or_else(|e| panic!("double: {e}"));
    let env = env();
    let sel = Selection::with_dependencies(t, &env, &["redis".into()]).unwrap_or_else(|e| panic!("{}", e.render()));
    let c = Cluster::new(d.client(), Endpoint::default(), t, None, &env, ClusterOptions::default());
    let opts = orchestrator::ApplyOptions { timeout: Duration::from_secs(20), ..Default::default() };
    let r = orchestrator::apply(&c, &sel, &opts, Arc::new(NoProgress)).await;
    assert!(r.ok, "{}", r.text());
    d
}

async fn verify(d: &KubeDouble, t: &Topology, timeout: Duration) -> VerifyReport {
    let env = env();
    let sel = Selection::exactly(t, &["redis".into()]).unwrap_or_else(|e| panic!("{}", e.render()));
    let c = Cluster::new(d.client(), Endpoint::default(), t, None, &env, ClusterOptions::default());
    orchestrator::verify(&c, t, &env, &sel, &VerifyOptions { timeout }, Arc::new(NoProgress)).await
}

fn check<'a>(r: &'a VerifyReport, name: &str) -> &'a deploy_report::CheckResult {
    r.checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check `{name}`:\n{}", r.text()))
}

fn pod_uid(d: &KubeDouble, pod: &str) -> String {
    let p = d.get("Pod", Some(NS), pod).unwrap_or_else(|| panic!("no pod {pod}"));
    p["metadata"]["uid"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_checklist_passes_through_pods_exec_and_persists_replaces_the_pod() {
    let t = prod_with("");
    let d = applied(&t).await;
    let stored = fake_redis::install(&d, &fake_redis::workload_args(&d, NS, "redis"), Keep::PerPodName);
    let before = pod_uid(&d, "redis-0");

    let r = verify(&d, &t, Duration::from_secs(30)).await;
    assert!(r.ok, "{}", r.text());
    let names: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "ping",
            "maxmemory is 128mb",
            "eviction policy is allkeys-lru",
            "AOF persistence is on",
            "data persists across a restart"
        ]
    );
    assert!(r.checks.iter().all(|c| c.instance.as_deref() == Some("pod/redis-0")), "{}", r.text());

    // Every command went through the websocket exec of redis-0's `redis` container.
    let execs = d.execs();
    assert!(execs.iter().all(|e| e.pod == "redis-0" && e.container == "redis"), "{execs:?}");
    let exec_requests =
        d.requests().iter().filter(|q| q.path == format!("/api/v1/namespaces/{NS}/pods/redis-0/exec")).count();
    assert_eq!(exec_requests, execs.len());
    // The persists check: written in the old pod, read back in the new one.
    let set = execs
        .iter()
        .find(|e| e.command.get(1).map(String::as_str) == Some("SET"))
        .unwrap_or_else(|| panic!("{execs:?}"));
    let get = execs
        .iter()
        .find(|e| e.command.get(1).map(String::as_str) == Some("GET"))
        .unwrap_or_else(|| panic!("{execs:?}"));
    let after = pod_uid(&d, "redis-0");
    assert_eq!((set.pod_uid.as_str(), get.pod_uid.as_str()), (before.as_str(), after.as_str()));
    assert_ne!(before, after, "the pod was deleted and made again");
    let detail = check(&r, "data persists across a restart").detail.join("\n");
    assert!(detail.contains(&format!("deleted pod redis-0 (uid {before})")) && detail.contains(&after), "{detail}");
    assert!(stored.lock().map(|s| s.is_empty()).unwrap_or(false), "the cleanup deleted the key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_made_to_fail_fails_with_its_output() {
    // The profile overrides the check by name: only its expectation.
    let t = prod_with("    checks:\n      - name: maxmemory is 128mb\n        expect: {equals: \"maxmemory\\n1\"}\n");
    let d = applied(&t).await;
    fake_redis::install(&d, &fake_redis::workload_args(&d, NS, "redis"), Keep::PerPodName);
    let r = verify(&d, &t, Duration::from_secs(30)).await;
    assert!(!r.ok && r.exit_status() == deploy_report::ExitStatus::Error, "{}", r.text());
    let c = check(&r, "maxmemory is 128mb");
    assert!(!c.passed);
    assert_eq!(c.reason.as_deref(), Some("stdout is not \"maxmemory\\n1\""));
    let o = c.output.as_ref().unwrap_or_else(|| panic!("no output"));
    assert_eq!(
        (o.command.as_str(), o.exit_code, o.stdout.as_str()),
        ("redis-cli CONFIG GET maxmemory", Some(0), "maxmemory\n134217728\n")
    );
    assert_eq!(r.passed(), 4, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_lost_with_the_pod_fails_the_persists_check() {
    let t = prod_with("");
    let d = applied(&t).await;
    fake_redis::install(&d, &fake_redis::workload_args(&d, NS, "redis"), Keep::PerPodUid);
    let r = verify(&d, &t, Duration::from_secs(30)).await;
    let c = check(&r, "data persists across a restart");
    assert!(!c.passed, "{}", r.text());
    let reason = c.reason.clone().unwrap_or_default();
    assert!(reason.starts_with("the value did not survive the restart: wrote `deploy-verify-"), "{reason}");
    assert!(reason.ends_with("read back ``"), "{reason}");
    assert_eq!(c.output.as_ref().and_then(|o| o.step.as_deref()), Some("read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_not_ready_in_time_fails_within_the_timeout_saying_why() {
    let t = prod_with("");
    let d = applied(&t).await;
    fake_redis::install(&d, &fake_redis::workload_args(&d, NS, "redis"), Keep::PerPodName);
    // Pods now take 3 s to get ready (the current one too: wait for it first).
    d.set_behaviour("redis", Behaviour::ReadyAfter(Duration::from_secs(3)));
    let ready = || {
        let p = d.get("Pod", Some(NS), "redis-0")?;
        let conds = p.pointer("/status/conditions")?.as_array()?.clone();
        conds.iter().any(|c| c["type"] == "Ready" && c["status"] == "True").then_some(())
    };
    let since = std::time::Instant::now();
    while ready().is_none() || since.elapsed() < Duration::from_millis(100) {
        assert!(since.elapsed() < Duration::from_secs(10), "redis-0 not ready again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = std::time::Instant::now();
    let r = verify(&d, &t, Duration::from_millis(1500)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "bounded by --timeout: {:?}", started.elapsed());
    let c = check(&r, "data persists across a restart");
    let reason = c.reason.clone().unwrap_or_default();
    assert!(
        reason.starts_with("restart: pod redis-0 was deleted, but its replacement was not ready in time"),
        "{}",
        r.text()
    );
    assert!(c.detail.iter().any(|l| l.contains("redis-0")), "pod states in the detail: {:?}", c.detail);
    assert_eq!(r.passed(), 4, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_missing_and_secret_commands_fail() {
    let extra = r#"    checks:
      - name: slow
        command: [redis-cli, BLPOP, nothing, "5"]
        timeout: 300ms
      - name: missing
        command: [no-such-program]
      - name: secret in arguments
        command: [redis-cli, AUTH, "${JWT_SECRET_KEY}"]
"#;
    let t = prod_with(extra);
    let d = applied(&t).await;
    let args = fake_redis::workload_args(&d, NS, "redis");
    let conf = fake_redis::config(&args);
    assert_eq!(conf.get("maxmemory").map(String::as_str), Some("134217728"));
    d.set_exec(|r| match r.command.first().map(String::as_str) {
        Some("redis-cli") if r.command.get(1).map(String::as_str) == Some("BLPOP") => {
            Some(ExecReply::ok("").after(Duration::from_secs(3)))
        }
        Some("redis-cli") => Some(ExecReply::ok("PONG\n")),
        _ => None,
    });
    let r = verify(&d, &t, Duration::from_secs(30)).await;
    assert_eq!(check(&r, "slow").reason.as_deref(), Some("did not finish within its timeout of 300ms"));
    let missing = check(&r, "missing").reason.clone().unwrap_or_default();
    assert!(missing.contains("executable file not found"), "{missing}");
    let secret = check(&r, "secret in arguments").reason.clone().unwrap_or_default();
    assert!(secret.starts_with("the command carries a secret value"), "{secret}");
    assert!(!r.text().contains("jwt-secret-for-verify-tests"), "{}", r.text());
    assert!(!d.execs().iter().any(|e| e.command.iter().any(|a| a.contains("jwt-secret"))), "never sent");
}
