//! The k8s target against a REAL cluster (kind, k3d, ...). Runs only when
//! `DEPLOY_E2E_KUBECONFIG` points at a kubeconfig; otherwise prints a notice and returns.
//! See docs/kubernetes.md, "Running the live suite".
//!
//! Only the Redis service is deployed (the app images are not published): the seed's
//! validation checks run through the exec API: `redis-cli ping` → PONG, `CONFIG GET maxmemory`
//! → 134217728, and data persists across a pod deletion; then the same checklist as the
//! topology declares it, with `deploy verify` and `deploy apply --verify`.

mod common;

use std::process::Output;
use std::time::Duration;

use common::{deploy_in, root, stderr, stdout};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{AttachParams, DeleteParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};
use tokio::io::AsyncReadExt;

fn kubeconfig() -> Option<String> {
    std::env::var("DEPLOY_E2E_KUBECONFIG").ok().filter(|v| !v.is_empty())
}

async fn run(kc: &str, ns: &str, args: &[&str]) -> Output {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.extend(
        ["--target", "k8s", "-f", "manifests/learn-greek.yaml", "--profile", "prod", "--namespace", ns]
            .map(String::from),
    );
    let kc = kc.to_string();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = v.iter().map(String::as_str).collect();
        deploy_in(&root(), &a, &[("KUBECONFIG", kc.as_str()), ("JWT_SECRET_KEY", "live-test-jwt")])
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"))
}

fn all(o: &Output) -> String {
    format!("{}\n{}", stdout(o), stderr(o))
}

async fn exec(pods: &Api<Pod>, pod: &str, cmd: &[&str]) -> String {
    let mut p = pods
        .exec(pod, cmd.to_vec(), &AttachParams::default().container("redis").stderr(false))
        .await
        .unwrap_or_else(|e| panic!("exec {cmd:?}: {e}"));
    let mut out = String::new();
    if let Some(mut s) = p.stdout() {
        let _ = s.read_to_string(&mut out).await;
    }
    let _ = p.join().await;
    out
}

async fn wait_pod_ready(pods: &Api<Pod>, name: &str) {
    let cond = await_condition(pods.clone(), name, conditions::is_pod_running());
    let _ = tokio::time::timeout(Duration::from_secs(180), cond).await;
    // running is not ready: wait for the Ready condition too
    let ready = await_condition(pods.clone(), name, |p: Option<&Pod>| {
        p.and_then(|p| p.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
    });
    tokio::time::timeout(Duration::from_secs(180), ready)
        .await
        .unwrap_or_else(|_| panic!("pod {name} not ready in 180s"))
        .unwrap_or_else(|e| panic!("watch: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_on_a_live_cluster() {
    let Some(kc) = kubeconfig() else {
        eprintln!(
            "k8s_live: DEPLOY_E2E_KUBECONFIG is not set; skipping the live-cluster suite (see docs/kubernetes.md)"
        );
        return;
    };
    let ns = format!("deploy-e2e-{}", std::process::id());

    // apply: created and ready
    let o = run(&kc, &ns, &["apply", "redis", "--timeout", "300s"]).await;
    assert!(o.status.success(), "{}", all(&o));

    let k = kube::config::Kubeconfig::read_from(&kc).unwrap_or_else(|e| panic!("kubeconfig {kc}: {e}"));
    let config = kube::Config::from_custom_kubeconfig(k, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("kubeconfig: {e}"));
    let client = Client::try_from(config).unwrap_or_else(|e| panic!("client: {e}"));
    let pods: Api<Pod> = Api::namespaced(client, &ns);

    // the seed's validation checks
    assert_eq!(exec(&pods, "redis-0", &["redis-cli", "ping"]).await.trim(), "PONG");
    let mm = exec(&pods, "redis-0", &["redis-cli", "CONFIG", "GET", "maxmemory"]).await;
    assert!(mm.contains("134217728"), "{mm}");
    let pol = exec(&pods, "redis-0", &["redis-cli", "CONFIG", "GET", "maxmemory-policy"]).await;
    assert!(pol.contains("allkeys-lru"), "{pol}");
    let aof = exec(&pods, "redis-0", &["redis-cli", "CONFIG", "GET", "appendonly"]).await;
    assert!(aof.contains("yes"), "{aof}");

    // persistence across a pod deletion
    assert!(
        exec(&pods, "redis-0", &["redis-cli", "SET", "persistence_test", "this_should_persist"]).await.contains("OK")
    );
    pods.delete("redis-0", &DeleteParams::default()).await.unwrap_or_else(|e| panic!("delete pod: {e}"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_pod_ready(&pods, "redis-0").await;
    let got = exec(&pods, "redis-0", &["redis-cli", "GET", "persistence_test"]).await;
    assert_eq!(got.trim(), "this_should_persist");

    // the same checklist as the topology declares it, through deploy's own pods/exec
    let uid = |p: Pod| p.metadata.uid.unwrap_or_default();
    let before = uid(pods.get("redis-0").await.unwrap_or_else(|e| panic!("get pod: {e}")));
    let o = run(&kc, &ns, &["verify", "redis", "--output", "json", "--timeout", "300s"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", all(&o)));
    let checks = v["checks"].as_array().cloned().unwrap_or_default();
    assert_eq!(checks.len(), 5, "{v}");
    assert!(checks.iter().all(|c| c["passed"] == true), "{v}");
    let after = uid(pods.get("redis-0").await.unwrap_or_else(|e| panic!("get pod: {e}")));
    assert_ne!(before, after, "the persists check deleted redis-0 and it came back");

    // re-apply with --verify: nothing to do, then the checklist; diff: no changes
    let o = run(&kc, &ns, &["apply", "--verify", "redis", "--timeout", "300s"]).await;
    assert!(o.status.success() && stdout(&o).contains("nothing to do"), "{}", all(&o));
    assert!(stdout(&o).contains("all 5 check(s) passed"), "{}", all(&o));
    let o = run(&kc, &ns, &["diff", "redis"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    let o = run(&kc, &ns, &["status", "redis"]).await;
    assert!(o.status.success() && stdout(&o).contains("1/1 ready"), "{}", all(&o));

    // destroy keeps the claim; --volumes removes it and the namespace
    let o = run(&kc, &ns, &["destroy"]).await;
    assert!(
        o.status.success() && stdout(&o).contains("kept    PersistentVolumeClaim/redis-data-redis-0"),
        "{}",
        all(&o)
    );
    let o = run(&kc, &ns, &["destroy", "--volumes"]).await;
    assert!(o.status.success() && stdout(&o).contains(&format!("removed Namespace/{ns}")), "{}", all(&o));
}
