//! The real `kubectl` binary as a second, independent client of the double: discovery,
//! `apply --server-side`, `diff --server-side`, `get` (server-side tables, `-o yaml`) and
//! `delete`, cross-checked with `kube::Api` on the same double.
//!
//! `KUBECTL` names the binary (default `kubectl` on `PATH`). Without a usable kubectl the tests
//! fail under CI (`CI` set and not `false`/`0`) and are skipped with a notice elsewhere.

mod common;

use common::*;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{Api, ListParams};
use kube::runtime::wait::await_condition;
use kube_double::KubeDouble;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MANIFEST: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: redis
  namespace: shop
spec:
  replicas: 1
  serviceName: redis
  selector:
    matchLabels:
      app: redis
  template:
    metadata:
      labels:
        app: redis
    spec:
      containers:
      - name: main
        image: redis:7
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: shop
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: migrate:1
";

/// The kubectl binary to use, or `None` (after a printed notice) when there is none and this is
/// not CI. Under CI a missing kubectl fails the test.
fn kubectl_binary(test: &str) -> Option<String> {
    let bin = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
    let why = match Command::new(&bin).args(["version", "--client"]).output() {
        Ok(o) if o.status.success() => return Some(bin),
        Ok(o) => format!("`{bin} version --client` failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => format!("cannot run {bin:?}: {e}"),
    };
    let ci = std::env::var("CI").is_ok_and(|v| v != "false" && v != "0");
    assert!(!ci, "{test}: kubectl is required under CI (CI is set): {why}");
    eprintln!("SKIPPED {test}: no usable kubectl ({why}); install kubectl or set KUBECTL");
    None
}

/// kubectl pointed at one double through a kubeconfig in a scratch directory (which also holds
/// kubectl's discovery cache, so nothing is written to `~/.kube`).
struct Kubectl {
    bin: String,
    dir: PathBuf,
}

impl Kubectl {
    fn new(bin: String, server: &KubeDouble) -> Self {
        let dir =
            std::env::temp_dir().join(format!("kube-double-kubectl-{}-{}", std::process::id(), server.addr().port()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        server.write_kubeconfig(dir.join("kubeconfig")).expect("kubeconfig");
        Self { bin, dir }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("write manifest");
        path
    }

    /// Runs kubectl off the runtime's threads (the double is served by this runtime).
    async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .arg("--cache-dir")
            .arg(self.dir.join("cache"))
            .arg("--request-timeout=20s")
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        let what = format!("kubectl {}", args.join(" "));
        tokio::task::spawn_blocking(move || cmd.output()).await.expect("join").unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// Runs kubectl and asserts it succeeded; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(out.status.success(), "kubectl {} failed ({}):\n{}", args.join(" "), out.status, text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    async fn apply(&self, manifest: &Path) -> String {
        self.ok(&["apply", "--server-side", "-f", path_arg(manifest)]).await
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn text(out: &Output) -> String {
    format!("stdout:\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The whitespace-separated cells of each line of a kubectl table.
fn table_rows(stdout: &str) -> Vec<Vec<String>> {
    let rows = stdout.lines().map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
    rows.filter(|r| !r.is_empty()).collect()
}

async fn setup(test: &str) -> Option<(KubeDouble, Kubectl, PathBuf)> {
    let bin = kubectl_binary(test)?;
    let s = server().await;
    let k = Kubectl::new(bin, &s);
    let manifest = k.file("app.yaml", MANIFEST);
    Some((s, k, manifest))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_server_side_apply_is_visible_to_kubectl_and_kube() {
    let Some((s, k, manifest)) = setup("kubectl_server_side_apply_is_visible_to_kubectl_and_kube").await else {
        return;
    };
    let out = k.apply(&manifest).await;
    for line in [
        "namespace/shop serverside-applied",
        "statefulset.apps/redis serverside-applied",
        "job.batch/migrate serverside-applied",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    // kubectl applied with its field manager, asking for strict server-side field validation.
    let patches: Vec<_> = s.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), 3, "{patches:?}");
    for p in &patches {
        assert_eq!(p.content_type.as_deref(), Some("application/apply-patch+yaml"), "{p:?}");
        for param in ["fieldManager=kubectl", "fieldValidation=Strict", "force=false"] {
            assert!(p.query.split('&').any(|q| q == param), "{param} in {p:?}");
        }
    }

    let yaml = k.ok(&["get", "sts", "redis", "-n", "shop", "-o", "yaml", "--show-managed-fields"]).await;
    let sts: Value = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}:\n{yaml}"));
    assert_eq!((sts["kind"].as_str(), sts["metadata"]["name"].as_str()), (Some("StatefulSet"), Some("redis")));
    let managed = sts["metadata"]["managedFields"].as_array().unwrap_or_else(|| panic!("managedFields in:\n{yaml}"));
    let by_kubectl =
        managed.iter().find(|m| m["manager"] == "kubectl").unwrap_or_else(|| panic!("kubectl entry in:\n{yaml}"));
    assert_eq!(
        (by_kubectl["operation"].as_str(), by_kubectl["fieldsType"].as_str()),
        (Some("Apply"), Some("FieldsV1"))
    );
    assert!(by_kubectl["fieldsV1"]["f:spec"]["f:replicas"].is_object(), "{by_kubectl}");
    assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady", "server defaults are visible");

    // The same objects through kube::Api on the same double.
    let from_kube = Api::<StatefulSet>::namespaced(s.client(), "shop").get("redis").await.expect("kube get sts");
    assert_eq!(from_kube.metadata.uid.as_deref(), sts["metadata"]["uid"].as_str());
    assert_eq!(from_kube.spec.and_then(|s| s.service_name).as_deref(), Some("redis"));
    let managers: Vec<_> = from_kube.metadata.managed_fields.into_iter().flatten().filter_map(|m| m.manager).collect();
    assert!(managers.iter().any(|m| m == "kubectl"), "{managers:?}");
    let job = Api::<Job>::namespaced(s.client(), "shop").get("migrate").await.expect("kube get job");
    assert!(job.spec.and_then(|s| s.selector).is_some(), "the server generated the Job selector");
    Api::<Namespace>::all(s.client()).get("shop").await.expect("kube get namespace");

    // A second apply of the same file changes nothing.
    let rv = s.resource_version();
    let sts_rv = s.get("StatefulSet", Some("shop"), "redis").map(|o| o["metadata"]["resourceVersion"].clone());
    k.apply(&manifest).await;
    let after = s.get("StatefulSet", Some("shop"), "redis").map(|o| o["metadata"]["resourceVersion"].clone());
    assert_eq!(after, sts_rv, "re-applying the same manifest must not write (global rv was {rv})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_diff_server_side_exit_codes() {
    let Some((s, k, manifest)) = setup("kubectl_diff_server_side_exit_codes").await else { return };
    k.apply(&manifest).await;

    let same = k.run(&["diff", "--server-side", "-f", path_arg(&manifest)]).await;
    assert_eq!(same.status.code(), Some(0), "unchanged manifest:\n{}", text(&same));
    assert!(same.stdout.is_empty(), "{}", text(&same));

    let changed = k.file("changed.yaml", &MANIFEST.replace("image: redis:7", "image: redis:8"));
    s.reset_requests();
    let diff = k.run(&["diff", "--server-side", "-f", path_arg(&changed)]).await;
    assert_eq!(diff.status.code(), Some(1), "changed manifest:\n{}", text(&diff));
    let out = String::from_utf8_lossy(&diff.stdout);
    assert!(out.lines().any(|l| l.starts_with('-') && l.contains("image: redis:7")), "{out}");
    assert!(out.lines().any(|l| l.starts_with('+') && l.contains("image: redis:8")), "{out}");
    assert!(out.contains("StatefulSet.shop.redis"), "only the StatefulSet differs:\n{out}");
    assert!(!out.contains("Job.shop.migrate"), "the Job does not differ:\n{out}");

    // kubectl diff is a dry run: every apply carried dryRun=All and nothing was written.
    let patches: Vec<_> = s.requests().into_iter().filter(|r| r.method == "PATCH").collect();
    assert!(!patches.is_empty() && patches.iter().all(|p| p.query.contains("dryRun=All")), "{patches:?}");
    let live = Api::<StatefulSet>::namespaced(s.client(), "shop").get("redis").await.expect("get");
    let image = live.spec.and_then(|s| s.template.spec).map(|p| p.containers[0].image.clone());
    assert_eq!(image.flatten().as_deref(), Some("redis:7"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_get_prints_server_side_tables() {
    let Some((s, k, manifest)) = setup("kubectl_get_prints_server_side_tables").await else { return };
    k.apply(&manifest).await;
    await_condition(Api::<StatefulSet>::namespaced(s.client(), "shop"), "redis", sts_ready).await.expect("sts ready");
    let job_done = |j: Option<&Job>| j.and_then(|j| j.status.as_ref()).is_some_and(|st| st.succeeded == Some(1));
    await_condition(Api::<Job>::namespaced(s.client(), "shop"), "migrate", job_done).await.expect("job done");

    // READY only exists in the server's table: kubectl's client-side fallback prints NAME and AGE.
    s.reset_requests();
    let rows = table_rows(&k.ok(&["get", "sts", "-n", "shop"]).await);
    let list = s.requests().into_iter().find(|r| r.path == "/apis/apps/v1/namespaces/shop/statefulsets");
    let accept = list.and_then(|r| r.accept).unwrap_or_default();
    assert!(accept.starts_with("application/json;as=Table;v=v1;g=meta.k8s.io"), "kubectl asked for {accept:?}");
    assert_eq!(rows[0], ["NAME", "READY", "AGE"], "{rows:?}");
    assert_eq!(rows[1][..2], ["redis", "1/1"], "{rows:?}");
    assert_eq!(rows.len(), 2, "{rows:?}");

    let rows = table_rows(&k.ok(&["get", "statefulset", "redis", "-n", "shop", "-o", "wide"]).await);
    assert_eq!(rows[0], ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"], "{rows:?}");
    assert_eq!(rows[1][3..], ["main", "redis:7"], "{rows:?}");
    assert_eq!(rows[1][0], "redis");

    let rows = table_rows(&k.ok(&["get", "jobs", "-n", "shop"]).await);
    assert_eq!(rows[0], ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], "{rows:?}");
    assert_eq!(rows[1][..3], ["migrate", "Complete", "1/1"], "{rows:?}");

    let rows = table_rows(&k.ok(&["get", "po", "-n", "shop", "-l", "app=redis"]).await);
    assert_eq!(rows[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], "{rows:?}");
    assert_eq!(rows[1][..4], ["redis-0", "1/1", "Running", "0"], "{rows:?}");

    // Across namespaces kubectl takes the NAMESPACE column from the rows' object metadata.
    let rows = table_rows(&k.ok(&["get", "ns"]).await);
    assert!(rows.iter().any(|r| r[..2] == ["shop", "Active"]), "{rows:?}");
    let rows = table_rows(&k.ok(&["get", "sts", "-A"]).await);
    assert_eq!(rows[1][..3], ["shop", "redis", "1/1"], "{rows:?}");

    let missing = k.run(&["get", "sts", "nope", "-n", "shop"]).await;
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains(r#"statefulsets.apps "nope" not found"#),
        "{}",
        text(&missing)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_delete_removes_objects() {
    let Some((s, k, manifest)) = setup("kubectl_delete_removes_objects").await else { return };
    k.apply(&manifest).await;
    let pods = Api::<Pod>::namespaced(s.client(), "shop");
    let job_pods = ListParams::default().labels("job-name=migrate");
    eventually("the Job's pod", || (!s.list("Pod", Some("shop")).is_empty()).then_some(())).await;

    let out = k.ok(&["delete", "job", "migrate", "-n", "shop"]).await;
    assert!(out.contains(r#"job.batch "migrate" deleted"#), "{out}");
    assert!(s.get("Job", Some("shop"), "migrate").is_none());
    // kubectl deletes with propagationPolicy Background (not the API's Orphan default for Jobs).
    assert!(pods.list(&job_pods).await.expect("list").items.is_empty(), "the Job's pods were deleted too");

    let out = k.ok(&["delete", "statefulset", "redis", "-n", "shop"]).await;
    assert!(out.contains(r#"statefulset.apps "redis" deleted"#), "{out}");
    let gone = Api::<StatefulSet>::namespaced(s.client(), "shop").get_opt("redis").await.expect("get_opt");
    assert!(gone.is_none(), "kube sees the StatefulSet deleted");

    let again = k.run(&["delete", "sts", "redis", "-n", "shop"]).await;
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains(r#"statefulsets.apps "redis" not found"#),
        "{}",
        text(&again)
    );
    k.ok(&["delete", "sts", "redis", "-n", "shop", "--ignore-not-found"]).await;

    let out = k.ok(&["delete", "namespace", "shop"]).await;
    assert!(out.contains(r#"namespace "shop" deleted"#), "{out}");
    assert!(s.get("Namespace", None, "shop").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_discovery_lists_every_served_resource() {
    let Some((_s, k, _)) = setup("kubectl_discovery_lists_every_served_resource").await else { return };
    let rows = table_rows(&k.ok(&["api-resources"]).await);
    let has = |name: &str, short: &str, api_version: &str, kind: &str| {
        let cell = |r: &[String], want: &str| r.iter().any(|c| c == want);
        rows.iter()
            .any(|r| r[0] == name && cell(r, short) && cell(r, api_version) && r.last().is_some_and(|k| k == kind))
    };
    for (name, short, gv, kind) in [
        ("namespaces", "ns", "v1", "Namespace"),
        ("configmaps", "cm", "v1", "ConfigMap"),
        ("services", "svc", "v1", "Service"),
        ("persistentvolumeclaims", "pvc", "v1", "PersistentVolumeClaim"),
        ("pods", "po", "v1", "Pod"),
        ("events", "ev", "v1", "Event"),
        ("secrets", "v1", "v1", "Secret"),
        ("statefulsets", "sts", "apps/v1", "StatefulSet"),
        ("deployments", "deploy", "apps/v1", "Deployment"),
        ("networkpolicies", "netpol", "networking.k8s.io/v1", "NetworkPolicy"),
        ("jobs", "batch/v1", "batch/v1", "Job"),
        ("leases", "coordination.k8s.io/v1", "coordination.k8s.io/v1", "Lease"),
    ] {
        assert!(has(name, short, gv, kind), "{name} in {rows:?}");
    }
    assert_eq!(rows.len(), 13, "a header and the 12 served resources: {rows:?}");
    let versions = k.ok(&["api-versions"]).await;
    assert_eq!(
        versions.lines().collect::<Vec<_>>(),
        ["apps/v1", "batch/v1", "coordination.k8s.io/v1", "networking.k8s.io/v1", "v1"]
    );
    let raw = k.ok(&["get", "--raw", "/apis/apps/v1"]).await;
    let list: Value = serde_json::from_str(&raw).expect("APIResourceList JSON");
    let status = list["resources"].as_array().into_iter().flatten().find(|r| r["name"] == "statefulsets/status");
    assert!(status.is_some(), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_conflict_and_force_conflicts() {
    let Some((s, k, manifest)) = setup("kubectl_apply_conflict_and_force_conflicts").await else { return };
    s.ensure_namespace("shop").expect("namespace");
    // The manifest's StatefulSet with 3 replicas (the same container list: lists are atomic here).
    let sts_doc = MANIFEST.split("---").nth(1).expect("StatefulSet document");
    let mut sts: Value = serde_saphyr::from_str(sts_doc).expect("StatefulSet YAML");
    sts["spec"]["replicas"] = 3.into();
    s.apply_as("helm", sts).expect("seed as helm");

    let out = k.run(&["apply", "--server-side", "-f", path_arg(&manifest)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(r#"Apply failed with 1 conflict: conflict with "helm": .spec.replicas"#), "{stderr}");
    let replicas = |s: &KubeDouble| s.get("StatefulSet", Some("shop"), "redis").map(|o| o["spec"]["replicas"].clone());
    assert_eq!(replicas(&s), Some(3.into()), "a conflict writes nothing");

    k.ok(&["apply", "--server-side", "--force-conflicts", "-f", path_arg(&manifest)]).await;
    assert_eq!(replicas(&s), Some(1.into()));
    let live = Api::<StatefulSet>::namespaced(s.client(), "shop").get("redis").await.expect("get");
    let owners: Vec<_> = live.metadata.managed_fields.into_iter().flatten().filter_map(|m| m.manager).collect();
    assert!(owners.iter().any(|m| m == "kubectl") && owners.iter().any(|m| m == "helm"), "{owners:?}");
}
