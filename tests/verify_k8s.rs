//! `deploy apply --verify` and `deploy verify` with `--target k8s`: the real
//! binary against the in-process API server double, the seed's checklist run
//! through `pods/exec` (kube's websocket client, the double's channel
//! protocol) with canned `redis-cli` answers (tests/support/fake_redis.rs).

mod common;
#[path = "support/fake_redis.rs"]
mod fake_redis;

use std::path::Path;
use std::process::Output;

use common::{deploy_in, root, stderr, stdout};
use fake_redis::Keep;
use kube_double::KubeDouble;
use serde_json::Value;

const NS: &str = "learn-greek";

/// Runs the binary off the runtime's threads so the double keeps serving.
async fn run(kubeconfig: &Path, args: &[&str]) -> Output {
    let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    a.extend(["--target", "k8s", "-f", "manifests/learn-greek.yaml", "--timeout", "30s"].map(String::from));
    let kc = kubeconfig.display().to_string();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        deploy_in(
            &root(),
            &a,
            &[("KUBECONFIG", kc.as_str()), ("JWT_SECRET_KEY", "jwt-for-verify-k8s"), ("NO_COLOR", "1")],
        )
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"))
}

fn all(o: &Output) -> String {
    format!("exit {:?}\n{}\n{}", o.status.code(), stdout(o), stderr(o))
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", all(o)))
}

fn pod_uid(d: &KubeDouble) -> String {
    let p = d.get("Pod", Some(NS), "redis-0").unwrap_or_else(|| panic!("no pod redis-0"));
    p["metadata"]["uid"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_checklist_through_the_binary_on_the_double() {
    let d = KubeDouble::start().await.unwrap_or_else(|e| panic!("double: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let kc = dir.path().join("kubeconfig");
    d.write_kubeconfig(&kc).unwrap_or_else(|e| panic!("kubeconfig: {e}"));

    // The canned redis-cli answers from the arguments deploy rendered: apply first.
    let o = run(&kc, &["apply", "-p", "prod", "redis"]).await;
    assert!(o.status.success(), "{}", all(&o));
    fake_redis::install(&d, &fake_redis::workload_args(&d, NS, "redis"), Keep::PerPodName);
    let before = pod_uid(&d);

    // apply --verify: nothing to change, then every check of redis through pods/exec.
    let o = run(&kc, &["apply", "--verify", "-p", "prod", "--output", "json", "redis"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    let j = json(&o);
    let v = &j["verify"];
    assert_eq!((v["ok"].as_bool(), v["target"].as_str()), (Some(true), Some("k8s")), "{v}");
    let checks = v["checks"].as_array().cloned().unwrap_or_default();
    assert_eq!(checks.len(), 5, "{v}");
    assert!(checks.iter().all(|c| c["passed"] == true && c["instance"] == "pod/redis-0"), "{v}");
    let after = pod_uid(&d);
    assert_ne!(before, after, "the persists check deleted redis-0 and its StatefulSet made a new one");
    assert!(d.execs().iter().any(|e| e.pod_uid == before) && d.execs().iter().any(|e| e.pod_uid == after));

    let o = run(&kc, &["verify", "-p", "prod", "redis"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    assert!(stdout(&o).contains("all 5 check(s) passed"), "{}", all(&o));

    // A profile that makes one check fail (by name): exit 1, with the output.
    let prod = std::fs::read_to_string(root().join("profiles/prod.yaml")).unwrap_or_default();
    let failing = prod.replace(
        "\n  redis:\n",
        "\n  redis:\n    checks:\n      - name: maxmemory is 128mb\n        expect: {equals: \"maxmemory\\n1\"}\n",
    );
    assert_ne!(failing, prod);
    let path = dir.path().join("prod-failing.yaml");
    std::fs::write(&path, failing).unwrap_or_else(|e| panic!("write: {e}"));
    let p = path.display().to_string();
    let o = run(&kc, &["verify", "-p", &p, "--output", "json", "redis"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    let v = json(&o);
    let c = v["checks"].as_array().and_then(|a| a.iter().find(|c| c["passed"] == false).cloned()).unwrap_or_default();
    assert_eq!(c["name"], "maxmemory is 128mb", "{v}");
    assert_eq!(c["output"]["stdout"], "maxmemory\n134217728\n", "{v}");
    let o = run(&kc, &["verify", "-p", &p, "redis"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    assert!(stdout(&o).contains("FAILED") && stdout(&o).contains("1 of 5 check(s) failed"), "{}", all(&o));
}
