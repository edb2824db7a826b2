//! Pod logs (`pods/{name}/log`) and coordination.k8s.io Leases as optimistic locks, through the
//! real `kube::Client`.

mod common;

use common::*;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Error, ResourceExt};
use kube_double::{Behaviour, KubeDouble};
use serde_json::json;

fn api_error(e: Error) -> kube::core::Status {
    match e {
        Error::Api(s) => *s,
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

fn tail(n: i64) -> LogParams {
    LogParams { tail_lines: Some(n), ..Default::default() }
}

async fn pod_named(s: &KubeDouble, selector: &str) -> String {
    let pods: Api<Pod> = Api::namespaced(s.client(), "default");
    pods.list(&ListParams::default().labels(selector)).await.expect("pods").items[0].name_any()
}

#[tokio::test]
async fn failed_job_pod_shows_the_behaviour_log() {
    let s = server().await;
    let log = "Running migrations\nApplying 0002_users\nerror: relation \"users\" already exists\n";
    s.set_behaviour("migrate", Behaviour::Fails { exit_code: 1, log: log.into() });
    let jobs: Api<Job> = Api::namespaced(s.client(), "default");
    jobs.patch("migrate", &PatchParams::apply("deploy"), &Patch::Apply(&job("migrate", "m:1", "Never")))
        .await
        .expect("apply");
    await_condition(jobs, "migrate", |j: Option<&Job>| {
        j.and_then(|j| j.status.as_ref()).is_some_and(|s| s.failed.is_some())
    })
    .await
    .expect("failed");
    let pods: Api<Pod> = Api::namespaced(s.client(), "default");
    let name = pod_named(&s, "job-name=migrate").await;
    let last_two = pods.logs(&name, &tail(2)).await.expect("logs");
    assert_eq!(last_two, "Applying 0002_users\nerror: relation \"users\" already exists\n");
    assert_eq!(pods.logs(&name, &LogParams::default()).await.expect("all"), log);
    let with_container = LogParams { container: Some("main".into()), limit_bytes: Some(7), ..Default::default() };
    assert_eq!(pods.logs(&name, &with_container).await.expect("limit"), "Running");
    // The current container is the terminated one; there is no previous one.
    let previous = LogParams { previous: true, ..Default::default() };
    let e = api_error(pods.logs(&name, &previous).await.expect_err("no previous"));
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
    assert_eq!(e.message, format!("previous terminated container \"main\" in pod \"{name}\" not found"));
    let other = LogParams { container: Some("sidecar".into()), ..Default::default() };
    let e = api_error(pods.logs(&name, &other).await.expect_err("bad container"));
    assert_eq!(e.message, format!("container sidecar is not valid for pod {name}"));
    // The answer is text/plain.
    let req = axum::http::Request::get(format!("/api/v1/namespaces/default/pods/{name}/log?tailLines=1"))
        .body(kube::client::Body::from(Vec::new()))
        .expect("request");
    let resp = s.client().send(req).await.expect("send");
    assert_eq!(resp.headers().get("content-type").and_then(|v| v.to_str().ok()), Some("text/plain"));
}

#[tokio::test]
async fn logs_set_per_workload_and_kubelet_errors() {
    let s = server().await;
    let pods: Api<Pod> = Api::namespaced(s.client(), "default");
    s.set_logs("web", "listening on :8080\nGET / 200\n");
    let deploys: Api<Deployment> = Api::namespaced(s.client(), "default");
    let pp = PatchParams::apply("deploy");
    deploys.patch("web", &pp, &Patch::Apply(&deployment("web", 1, "nginx:1"))).await.expect("deploy");
    await_condition(deploys, "web", conditions::is_deployment_completed()).await.expect("ready");
    let web = pod_named(&s, "app=web").await;
    assert_eq!(pods.logs(&web, &tail(1)).await.expect("logs"), "GET / 200\n");
    // A crash-looping container: the log of the last run, also as `previous`.
    s.set_behaviour("crash", Behaviour::Fails { exit_code: 2, log: "panic: boom\n".into() });
    let sts_api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    sts_api.patch("crash", &pp, &Patch::Apply(&sts("crash", 1, "app:1"))).await.expect("sts");
    eventually("crash loop", || {
        let p = s.get("Pod", Some("default"), "crash-0")?;
        (p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff").then_some(())
    })
    .await;
    let previous = LogParams { previous: true, ..Default::default() };
    assert_eq!(pods.logs("crash-0", &previous).await.expect("previous"), "panic: boom\n");
    assert_eq!(pods.logs("crash-0", &LogParams::default()).await.expect("current"), "panic: boom\n");
    s.set_logs("crash", "overridden\n");
    assert_eq!(pods.logs("crash-0", &LogParams::default()).await.expect("override"), "overridden\n");
    // A container that never started: the kubelet's message.
    s.set_behaviour("img", Behaviour::ImagePullBackOff);
    sts_api.patch("img", &pp, &Patch::Apply(&sts("img", 1, "nope:1"))).await.expect("sts");
    eventually("image pull back-off", || {
        let p = s.get("Pod", Some("default"), "img-0")?;
        (p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff").then_some(())
    })
    .await;
    let e = api_error(pods.logs("img-0", &LogParams::default()).await.expect_err("waiting"));
    assert_eq!(e.code, 400);
    assert_eq!(e.message, "container \"main\" in pod \"img-0\" is waiting to start: trying and failing to pull image");
    // A missing pod is the usual 404.
    let e = api_error(pods.logs("nope", &LogParams::default()).await.expect_err("404"));
    assert_eq!((e.code, e.message.as_str()), (404, "pods \"nope\" not found"));
    // A running pod without a canned log has an empty one.
    sts_api.patch("quiet", &pp, &Patch::Apply(&sts("quiet", 1, "app:1"))).await.expect("sts");
    await_condition(sts_api, "quiet", sts_ready).await.expect("ready");
    assert_eq!(pods.logs("quiet-0", &LogParams::default()).await.expect("empty"), "");
    assert!(s.requests().iter().any(|r| r.path == "/api/v1/namespaces/default/pods/quiet-0/log"));
}

fn lease(holder: &str) -> Lease {
    serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "deploy-lock"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 30, "acquireTime": "2025-01-01T00:00:00.000000Z", "renewTime": "2025-01-01T00:00:00.000000Z"}
    }))
    .expect("lease")
}

#[tokio::test]
async fn leases_are_optimistic_locks() {
    let s = server().await;
    let leases: Api<Lease> = Api::namespaced(s.client(), "default");
    let created = leases.create(&PostParams::default(), &lease("alice")).await.expect("create");
    assert!(created.metadata.generation.is_none(), "leases have no generation");
    let e = api_error(leases.create(&PostParams::default(), &lease("bob")).await.expect_err("exists"));
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(e.message, "leases.coordination.k8s.io \"deploy-lock\" already exists");
    // Two writers start from the same read; the first wins, the second gets a Conflict.
    let seen = leases.get("deploy-lock").await.expect("get");
    let mut mine = seen.clone();
    mine.spec.as_mut().expect("spec").holder_identity = Some("carol".into());
    let mut theirs = seen.clone();
    theirs.spec.as_mut().expect("spec").holder_identity = Some("dave".into());
    let won = leases.replace("deploy-lock", &PostParams::default(), &mine).await.expect("first replace");
    assert_ne!(won.resource_version(), seen.resource_version());
    let e = api_error(leases.replace("deploy-lock", &PostParams::default(), &theirs).await.expect_err("stale"));
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        e.message,
        "Operation cannot be fulfilled on leases.coordination.k8s.io \"deploy-lock\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let now = leases.get("deploy-lock").await.expect("get");
    assert_eq!(now.spec.and_then(|s| s.holder_identity).as_deref(), Some("carol"));
    // Releasing with a stale resourceVersion precondition fails too; with the current one it works.
    let stale = DeleteParams {
        preconditions: Some(Preconditions { resource_version: seen.resource_version(), uid: None }),
        ..DeleteParams::default()
    };
    assert_eq!(api_error(leases.delete("deploy-lock", &stale).await.expect_err("stale")).code, 409);
    let current = DeleteParams {
        preconditions: Some(Preconditions { resource_version: won.resource_version(), uid: None }),
        ..DeleteParams::default()
    };
    leases.delete("deploy-lock", &current).await.expect("release");
    let e = api_error(leases.get("deploy-lock").await.expect_err("gone"));
    assert_eq!((e.code, e.message.as_str()), (404, "leases.coordination.k8s.io \"deploy-lock\" not found"));
    assert_eq!(s.list("Lease", Some("default")).len(), 0);
}
