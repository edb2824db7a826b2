//! `deploy apply|diff|status|destroy --target k8s` end to end: the real binary, pointed at the
//! in-process API server double through a kubeconfig the double writes (`KUBECONFIG=...`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{deploy_in, root, stderr, stdout};
use kube_double::{Behaviour, KubeDouble};

const NS: &str = "learn-greek";
const JWT: &str = "jwt-value-for-the-double-7";

struct Env {
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    dir: PathBuf,
}

fn setup(d: &KubeDouble) -> Env {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let kubeconfig = dir.path().join("kubeconfig");
    d.write_kubeconfig(&kubeconfig).unwrap_or_else(|e| panic!("kubeconfig: {e}"));
    let p = dir.path().to_path_buf();
    Env { _dir: dir, kubeconfig, dir: p }
}

/// Runs the binary off the runtime's threads so the double keeps serving.
async fn run(e: &Env, args: &[&str]) -> Output {
    run_with(e, args, &[("JWT_SECRET_KEY", JWT)]).await
}

/// [`run`] with only these variables besides the kubeconfig.
async fn run_with(e: &Env, args: &[&str], vars: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    vars.push(("KUBECONFIG".into(), e.kubeconfig.display().to_string()));
    vars.push(("NO_COLOR".into(), "1".into()));
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let v: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        deploy_in(&root(), &a, &v)
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"))
}

fn prod_args<'a>(cmd: &'a str, profile: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![cmd, "--target", "k8s", "-f", "manifests/learn-greek.yaml", "--profile", profile];
    v.extend_from_slice(extra);
    v
}

fn all(o: &Output) -> String {
    format!("{}\n{}", stdout(o), stderr(o))
}

fn write_profile(dir: &Path, name: &str, edit: impl Fn(&str) -> String) -> String {
    let text = std::fs::read_to_string(root().join("profiles/prod.yaml")).unwrap_or_default();
    let p = dir.join(name);
    std::fs::write(&p, edit(&text)).unwrap_or_else(|e| panic!("write: {e}"));
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_diff_status_destroy_through_the_binary() {
    let d = KubeDouble::start().await.unwrap_or_else(|e| panic!("double: {e}"));
    let e = setup(&d);

    let o = run(&e, &prod_args("apply", "prod", &["--timeout", "30s"])).await;
    assert!(o.status.success(), "{}", all(&o));
    let reqs = d.requests();
    let patches = reqs.iter().filter(|r| r.method == "PATCH").count();
    let watches = reqs.iter().filter(|r| r.is_watch()).count();
    eprintln!("binary apply: {} requests: {patches} PATCH, {watches} WATCH", reqs.len());
    assert_eq!(patches, 15, "one server-side apply per object");
    assert!(watches <= 8, "a workload watch and a pod watch per workload at most");
    let sts = d.get("StatefulSet", Some(NS), "redis").unwrap_or_else(|| panic!("no redis StatefulSet"));
    assert_eq!(sts["spec"]["template"]["spec"]["containers"][0]["args"][0], "redis-server");
    // the secret's real value went to the cluster, and only there
    let secret = d.get("Secret", Some(NS), "backend-env").unwrap_or_else(|| panic!("no secret"));
    assert!(secret["data"]["JWT_SECRET_KEY"].is_string());
    assert!(!all(&o).contains(JWT), "secret printed");

    // status
    let o = run(&e, &prod_args("status", "prod", &["--output", "json"])).await;
    assert!(o.status.success(), "{}", all(&o));
    let st: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|err| panic!("{err}: {}", all(&o)));
    let redis =
        st["services"].as_array().and_then(|s| s.iter().find(|x| x["service"] == "redis")).cloned().unwrap_or_default();
    assert_eq!(redis["object"], "StatefulSet/redis");
    assert_eq!(redis["ready"], true);

    // diff: none, then one field
    let o = run(&e, &prod_args("diff", "prod", &[])).await;
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    let changed = write_profile(&e.dir, "prod-cpu.yaml", |p| p.replace("cpus: 0.25", "cpus: 0.5"));
    d.reset_requests();
    let o = run(&e, &prod_args("diff", &changed, &[])).await;
    assert_eq!(o.status.code(), Some(2), "{}", all(&o));
    assert!(stdout(&o).contains("spec.template.spec.containers[0].resources.limits.cpu: 250m -> 500m"), "{}", all(&o));
    eprintln!("binary diff: {} requests", d.requests().len());

    // a conflict names the other manager
    d.apply_as(
        "kubectl-edit",
        serde_json::json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "redis", "namespace": NS},
            "spec": {"serviceName": "redis", "selector": sts["spec"]["selector"],
                "template": {"spec": {"containers": [{"name": "redis", "image": "redis:7-alpine", "resources": {"limits": {"cpu": "1"}}}]}}}}),
    )
    .unwrap_or_else(|err| panic!("{err}"));
    let o = run(&e, &prod_args("apply", &changed, &["--timeout", "30s"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    assert!(all(&o).contains("\"kubectl-edit\"") && all(&o).contains("--force-conflicts"), "{}", all(&o));
    let o = run(&e, &prod_args("apply", &changed, &["--timeout", "30s", "--force-conflicts"])).await;
    assert!(o.status.success(), "{}", all(&o));

    // destroy keeps the claims
    let o = run(&e, &prod_args("destroy", "prod", &[])).await;
    assert!(o.status.success(), "{}", all(&o));
    assert!(stdout(&o).contains("kept    PersistentVolumeClaim/redis-data-redis-0"), "{}", all(&o));
    assert!(d.get("PersistentVolumeClaim", Some(NS), "redis-data-redis-0").is_some());
    assert!(d.get("StatefulSet", Some(NS), "redis").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_never_ready_redis_fails_the_apply_with_its_reason() {
    let d = KubeDouble::start().await.unwrap_or_else(|e| panic!("double: {e}"));
    d.set_behaviour("redis", Behaviour::CrashLoopBackOff);
    let e = setup(&d);
    let o = run(&e, &prod_args("apply", "prod", &["--timeout", "2s"])).await;
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    let out = all(&o);
    assert!(out.contains("CrashLoopBackOff"), "{out}");
    assert!(out.contains("redis"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_variable_sends_nothing() {
    let d = KubeDouble::start().await.unwrap_or_else(|e| panic!("double: {e}"));
    let e = setup(&d);
    let o =
        run_with(&e, &["apply", "--target", "k8s", "-f", "manifests/learn-greek.yaml", "--profile", "prod"], &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", all(&o));
    assert!(all(&o).contains("JWT_SECRET_KEY"), "{}", all(&o));
    assert!(d.requests().is_empty(), "nothing may be sent before everything resolves");
}

/// A selection needs only its own variables (and its dependencies'), as on the
/// Compose target: redis applies without backend's JWT_SECRET_KEY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_needs_only_its_own_variables() {
    let d = KubeDouble::start().await.unwrap_or_else(|e| panic!("double: {e}"));
    let e = setup(&d);
    let args = ["apply", "--target", "k8s", "-f", "manifests/learn-greek.yaml", "--profile", "prod", "redis"];
    let o = run_with(&e, &args, &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", all(&o));
    assert!(d.get("StatefulSet", Some(NS), "redis").is_some());
    assert!(d.get("Deployment", Some(NS), "backend").is_none());
    assert!(d.get("Secret", Some(NS), "backend-env").is_none());
}
