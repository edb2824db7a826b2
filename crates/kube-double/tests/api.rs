//! The real `kube::Client` against the double: apply, list, watch, delete, errors, request log.

mod common;

use common::*;
use futures::TryStreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Service};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, wait::await_condition, watcher};
use kube::{Error, ResourceExt};
use serde_json::json;
use std::time::{Duration, Instant};

fn api_error(e: Error) -> kube::core::Status {
    match e {
        Error::Api(s) => *s,
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

#[tokio::test]
async fn ssa_create_reapply_and_change() {
    let s = server().await;
    s.set_behaviour("web", kube_double::Behaviour::ReadyAfter(Duration::ZERO));
    let api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    let pp = PatchParams::apply("deploy");
    let created = api.patch("web", &pp, &Patch::Apply(&sts("web", 1, "redis:7"))).await.expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());
    // Defaults the client did not send.
    let spec = created.spec.clone().expect("spec");
    assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.update_strategy.and_then(|u| u.type_).as_deref(), Some("RollingUpdate"));
    let pod_spec = spec.template.spec.expect("pod spec");
    assert_eq!(pod_spec.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod_spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(pod_spec.containers[0].image_pull_policy.as_deref(), Some("IfNotPresent"));
    assert_eq!(pod_spec.containers[0].termination_message_path.as_deref(), Some("/dev/termination-log"));
    // managedFields in the real FieldsV1 format.
    let mf = created.metadata.managed_fields.clone().expect("managedFields");
    assert_eq!(mf.len(), 1);
    assert_eq!(mf[0].manager.as_deref(), Some("deploy"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));
    assert_eq!(mf[0].fields_type.as_deref(), Some("FieldsV1"));
    let f = &mf[0].fields_v1.as_ref().expect("fieldsV1").0;
    assert_eq!(f["f:spec"]["f:replicas"], json!({}));
    assert_eq!(f["f:metadata"]["f:labels"]["f:app"], json!({}));

    // Let the controller settle, then re-apply the same body: nothing changes.
    let settled = await_condition(api.clone(), "web", sts_ready).await.expect("wait").expect("exists");
    let rv = settled.resource_version();
    let again = api.patch("web", &pp, &Patch::Apply(&sts("web", 1, "redis:7"))).await.expect("re-apply");
    assert_eq!(again.metadata.generation, Some(1));
    assert_eq!(again.resource_version(), rv, "a no-op apply must not write");

    // A changed field bumps generation and resourceVersion.
    let changed = api.patch("web", &pp, &Patch::Apply(&sts("web", 1, "redis:7.2"))).await.expect("change");
    assert_eq!(changed.metadata.generation, Some(2));
    assert_ne!(changed.resource_version(), rv);
    // Status was not touched by apply.
    assert_eq!(changed.status, settled.status);

    // Fields no longer applied are removed: drop the label.
    let mut body = sts_json("web", 1, "redis:7.2");
    body["metadata"]["labels"] = json!({});
    let dropped = api.patch("web", &pp, &Patch::Apply(&body)).await.expect("drop label");
    assert!(dropped.labels().get("app").is_none());
}

#[tokio::test]
async fn dry_run_stores_nothing() {
    let s = server().await;
    let api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    let rv = s.resource_version();
    let out = api
        .patch("dry", &PatchParams::apply("deploy").dry_run(), &Patch::Apply(&sts("dry", 2, "redis:7")))
        .await
        .expect("dry-run apply");
    assert_eq!(out.spec.and_then(|s| s.replicas), Some(2));
    assert_eq!(s.resource_version(), rv);
    assert!(s.get("StatefulSet", Some("default"), "dry").is_none());
    let e = api_error(api.get("dry").await.expect_err("not stored"));
    assert_eq!(e.code, 404);
    // Dry-run update of an existing object.
    api.patch("dry", &PatchParams::apply("deploy"), &Patch::Apply(&sts("dry", 2, "redis:7"))).await.expect("apply");
    let rv = s.resource_version();
    let out = api
        .patch("dry", &PatchParams::apply("deploy").dry_run(), &Patch::Apply(&sts("dry", 5, "redis:7")))
        .await
        .expect("dry-run update");
    assert_eq!(out.spec.and_then(|s| s.replicas), Some(5));
    let stored = api.get("dry").await.expect("get");
    assert_eq!(stored.spec.and_then(|s| s.replicas), Some(2));
    assert!(s.resource_version() >= rv);
    assert_eq!(stored.metadata.generation, Some(1));
}

#[tokio::test]
async fn conflicting_managers_and_force() {
    let s = server().await;
    let mut seeded = sts_json("db", 3, "redis:7");
    seeded["metadata"]["namespace"] = json!("default");
    s.apply_as("helm", seeded).expect("seed as helm");
    let api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    let err = api
        .patch("db", &PatchParams::apply("deploy"), &Patch::Apply(&sts("db", 2, "redis:7")))
        .await
        .expect_err("conflict");
    let st = api_error(err);
    assert_eq!(st.code, 409);
    assert_eq!(st.reason, "Conflict");
    assert_eq!(st.message, "Apply failed with 1 conflict: conflict with \"helm\": .spec.replicas");
    let causes = st.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].message, "conflict with \"helm\"");
    assert_eq!(causes[0].field, ".spec.replicas");
    // Same values are shared, not conflicting: applying replicas 3 works.
    api.patch("db", &PatchParams::apply("deploy"), &Patch::Apply(&sts("db", 3, "redis:7"))).await.expect("shared");
    // Force takes over.
    let forced = api
        .patch("db", &PatchParams::apply("deploy").force(), &Patch::Apply(&sts("db", 2, "redis:7")))
        .await
        .expect("force");
    assert_eq!(forced.spec.as_ref().and_then(|s| s.replicas), Some(2));
    let mf = forced.metadata.managed_fields.expect("managedFields");
    let owns_replicas = |m: &str| {
        mf.iter()
            .filter(|e| e.manager.as_deref() == Some(m))
            .any(|e| e.fields_v1.as_ref().is_some_and(|f| f.0["f:spec"].get("f:replicas").is_some()))
    };
    assert!(owns_replicas("deploy"));
    assert!(!owns_replicas("helm"));
    // Now helm conflicts in turn.
    let mut back = sts_json("db", 3, "redis:7");
    back["metadata"]["namespace"] = json!("default");
    let e = api.patch("db", &PatchParams::apply("helm"), &Patch::Apply(&back)).await.expect_err("helm conflicts now");
    assert!(api_error(e).message.contains("conflict with \"deploy\""));
}

#[tokio::test]
async fn list_with_selectors_and_cluster_wide() {
    let s = server().await;
    s.ensure_namespace("other").expect("ns");
    let client = s.client();
    for (ns, name, app, tier) in [
        ("default", "a", "x", "fe"),
        ("default", "b", "y", "be"),
        ("default", "c", "x", "be"),
        ("other", "d", "x", "fe"),
    ] {
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app": app, "tier": tier}}, "data": {"k": "v"}
        }))
        .expect("cm");
        cms.create(&PostParams::default(), &cm).await.expect("create");
    }
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let names = |l: kube::core::ObjectList<ConfigMap>| l.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>();
    assert_eq!(names(cms.list(&ListParams::default().labels("app=x")).await.expect("list")), ["a", "c"]);
    assert_eq!(names(cms.list(&ListParams::default().labels("app!=x")).await.expect("list")), ["b"]);
    assert_eq!(names(cms.list(&ListParams::default().labels("app=x,tier in (be, zz)")).await.expect("list")), ["c"]);
    assert_eq!(names(cms.list(&ListParams::default().labels("tier")).await.expect("list")).len(), 3);
    assert_eq!(names(cms.list(&ListParams::default().fields("metadata.name=b")).await.expect("list")), ["b"]);
    let all: Api<ConfigMap> = Api::all(client.clone());
    let list = all.list(&ListParams::default().labels("app=x")).await.expect("cluster list");
    assert_eq!(names(list.clone()), ["a", "c", "d"]);
    assert!(list.metadata.resource_version.is_some_and(|rv| !rv.is_empty()));
    // Pagination.
    let page = cms.list(&ListParams::default().limit(2)).await.expect("page");
    assert_eq!(page.items.len(), 2);
    let token = page.metadata.continue_.expect("continue token");
    let rest = cms.list(&ListParams::default().limit(2).continue_token(&token)).await.expect("page 2");
    assert_eq!(rest.items.len(), 1);
    // Cluster-wide StatefulSets.
    let pp = PatchParams::apply("deploy");
    Api::<StatefulSet>::namespaced(client.clone(), "default")
        .patch("s1", &pp, &Patch::Apply(&sts("s1", 1, "r:1")))
        .await
        .expect("s1");
    Api::<StatefulSet>::namespaced(client.clone(), "other")
        .patch("s2", &pp, &Patch::Apply(&sts("s2", 1, "r:1")))
        .await
        .expect("s2");
    let all_sts = Api::<StatefulSet>::all(client).list(&ListParams::default()).await.expect("all sts");
    assert_eq!(all_sts.items.len(), 2);
    assert!(s.requests().iter().any(|r| r.path == "/apis/apps/v1/statefulsets"));
    // A bad selector is a 400 Status.
    let e = api_error(cms.list(&ListParams::default().labels("app in x")).await.expect_err("bad selector"));
    assert_eq!(e.code, 400);
}

#[tokio::test]
async fn await_condition_is_pushed_not_polled() {
    let s = server().await;
    s.set_behaviour("push", kube_double::Behaviour::Never);
    let api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    api.patch("push", &PatchParams::apply("deploy"), &Patch::Apply(&sts("push", 1, "redis:7"))).await.expect("apply");
    let waiter = tokio::spawn(await_condition(api.clone(), "push", |o: Option<&StatefulSet>| {
        o.and_then(|o| o.status.as_ref()).and_then(|s| s.ready_replicas) == Some(1)
    }));
    // Let the watch establish, then set the status directly.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());
    let t0 = Instant::now();
    s.set_status(
        "StatefulSet",
        Some("default"),
        "push",
        json!({"replicas": 1, "readyReplicas": 1, "availableReplicas": 1}),
    )
    .expect("set status");
    let got = waiter.await.expect("join").expect("wait").expect("object");
    let elapsed = t0.elapsed();
    assert_eq!(got.status.and_then(|s| s.ready_replicas), Some(1));
    assert!(elapsed < Duration::from_millis(50), "await_condition took {elapsed:?} after the status was set");
}

#[tokio::test]
async fn await_condition_sees_the_controller() {
    let s = server().await;
    s.set_behaviour("slow", kube_double::Behaviour::ReadyAfter(Duration::from_millis(200)));
    let api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    let start = Instant::now();
    api.patch("slow", &PatchParams::apply("deploy"), &Patch::Apply(&sts("slow", 2, "redis:7"))).await.expect("apply");
    let done = await_condition(api, "slow", sts_ready).await.expect("wait").expect("exists");
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "ready too early: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "ready too late: {elapsed:?}");
    let st = done.status.expect("status");
    assert_eq!(st.ready_replicas, Some(2));
    assert_eq!(st.observed_generation, Some(1));
}

#[tokio::test]
async fn watcher_streams_events_with_label_selector() {
    let s = server().await;
    let client = s.client();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cfg = watcher::Config::default().labels("app=w");
    let mut stream = Box::pin(watcher(cms.clone(), cfg).applied_objects());
    let mk = |name: &str, app: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": app}}})).expect("cm")
    };
    cms.create(&PostParams::default(), &mk("ignored", "other")).await.expect("create");
    cms.create(&PostParams::default(), &mk("seen", "w")).await.expect("create");
    let first = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .expect("event")
        .expect("ok")
        .expect("some");
    assert_eq!(first.name_any(), "seen");
    cms.patch("seen", &PatchParams::default(), &Patch::Merge(json!({"data": {"k": "v"}}))).await.expect("merge");
    let second = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
        .await
        .expect("event")
        .expect("ok")
        .expect("some");
    assert_eq!(second.data.and_then(|d| d.get("k").cloned()).as_deref(), Some("v"));

    // Raw watch: resume from a resourceVersion replays later changes.
    let rv = cms.list(&ListParams::default()).await.expect("list").metadata.resource_version.expect("rv");
    cms.delete("seen", &DeleteParams::default()).await.expect("delete");
    let wp = kube::api::WatchParams::default().timeout(1);
    let events: Vec<_> = cms.watch(&wp, &rv).await.expect("watch").try_collect().await.expect("events");
    assert!(matches!(events.as_slice(), [kube::api::WatchEvent::Deleted(o)] if o.name_any() == "seen"), "{events:?}");
}

#[tokio::test]
async fn delete_and_not_found_shape() {
    let s = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(s.client(), "default");
    let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "gone"}})).expect("cm");
    cms.create(&PostParams::default(), &cm).await.expect("create");
    let e = api_error(cms.create(&PostParams::default(), &cm).await.expect_err("exists"));
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
    let deleted = cms.delete("gone", &DeleteParams::default()).await.expect("delete");
    assert!(deleted.left().is_some_and(|o| o.name_any() == "gone"));
    let e = api_error(cms.get("gone").await.expect_err("404"));
    assert_eq!(e.code, 404);
    assert_eq!(e.reason, "NotFound");
    assert_eq!(e.message, "configmaps \"gone\" not found");
    assert_eq!(cms.get_opt("gone").await.expect("get_opt"), None);
    let e = api_error(cms.delete("gone", &DeleteParams::default()).await.expect_err("404"));
    assert_eq!(e.code, 404);
    let sts_api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    let e = api_error(sts_api.get("nope").await.expect_err("404"));
    assert_eq!(e.message, "statefulsets.apps \"nope\" not found");
}

#[tokio::test]
async fn namespace_deletion_cascades() {
    let s = server().await;
    let client = s.client();
    let nss: Api<Namespace> = Api::all(client.clone());
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("ns");
    let created = nss.patch("team", &PatchParams::apply("deploy"), &Patch::Apply(&ns)).await.expect("ns");
    assert_eq!(created.status.and_then(|s| s.phase).as_deref(), Some("Active"));
    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), "team");
    sts_api.patch("db", &PatchParams::apply("deploy"), &Patch::Apply(&sts_with_claims("db", 1))).await.expect("sts");
    await_condition(sts_api.clone(), "db", sts_ready).await.expect("ready");
    assert_eq!(s.list("PersistentVolumeClaim", Some("team")).len(), 1);
    let mut stream = Box::pin(watcher(sts_api.clone(), watcher::Config::default()));
    // Wait for the initial list to finish.
    while let Some(ev) = stream.try_next().await.expect("watch") {
        if matches!(ev, watcher::Event::InitDone) {
            break;
        }
    }
    nss.delete("team", &DeleteParams::default()).await.expect("delete ns");
    let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await.expect("event").expect("ok");
    assert!(matches!(ev, Some(watcher::Event::Delete(o)) if o.name_any() == "db"));
    for kind in ["StatefulSet", "Pod", "PersistentVolumeClaim", "Event"] {
        assert!(s.list(kind, Some("team")).is_empty(), "{kind} left in deleted namespace");
    }
    // Creating in a missing namespace is 404 like the real apiserver.
    let e = api_error(
        sts_api
            .patch("db", &PatchParams::apply("deploy"), &Patch::Apply(&sts("db", 1, "r:1")))
            .await
            .expect_err("no ns"),
    );
    assert_eq!((e.code, e.message.as_str()), (404, "namespaces \"team\" not found"));
}

#[tokio::test]
async fn errors_are_status_objects() {
    let s = server().await;
    let client = s.client();
    // Unknown resource type.
    let cronjobs: Api<CronJob> = Api::namespaced(client.clone(), "default");
    let e = api_error(cronjobs.list(&ListParams::default()).await.expect_err("unknown"));
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
    // Apply without fieldManager, and with a YAML body.
    let req = axum::http::Request::patch("/api/v1/namespaces/default/configmaps/y")
        .header("content-type", "application/apply-patch+yaml")
        .body(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n".to_vec())
        .expect("request");
    let e = api_error(client.request_text(req).await.expect_err("no fieldManager"));
    assert_eq!(e.code, 400);
    let req = axum::http::Request::patch("/api/v1/namespaces/default/configmaps/y?fieldManager=yaml")
        .header("content-type", "application/apply-patch+yaml")
        .body(b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n".to_vec())
        .expect("request");
    let text = client.request_text(req).await.expect("yaml apply");
    assert!(text.contains("\"k\":\"v\""), "{text}");
    // Immutable StatefulSet fields are 422 Invalid.
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), "default");
    let pp = PatchParams::apply("deploy");
    api.patch("imm", &pp, &Patch::Apply(&sts_with_claims("imm", 1))).await.expect("create");
    let mut changed = serde_json::to_value(sts_with_claims("imm", 1)).expect("json");
    changed["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    let e = api_error(api.patch("imm", &pp, &Patch::Apply(&changed)).await.expect_err("immutable"));
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(e.message.starts_with("StatefulSet.apps \"imm\" is invalid: spec: Forbidden"), "{}", e.message);
    // Invalid names.
    let e = api_error(api.patch("Bad_Name", &pp, &Patch::Apply(&sts("Bad_Name", 1, "r:1"))).await.expect_err("name"));
    assert_eq!(e.code, 422);
    // Service defaults and clusterIP stability.
    let svcs: Api<Service> = Api::namespaced(client, "default");
    let svc: Service = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis"},
        "spec": {"selector": {"app": "redis"}, "ports": [{"port": 6379}]}
    }))
    .expect("svc");
    let a = svcs.patch("redis", &pp, &Patch::Apply(&svc)).await.expect("svc");
    let spec = a.spec.expect("spec");
    let ip = spec.cluster_ip.clone().expect("clusterIP");
    assert!(ip.starts_with("10.96."));
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let b = svcs.patch("redis", &pp, &Patch::Apply(&svc)).await.expect("svc again");
    assert_eq!(b.spec.and_then(|s| s.cluster_ip), Some(ip));
}

#[tokio::test]
async fn request_log_counts_requests() {
    let s = server().await;
    let api: Api<ConfigMap> = Api::namespaced(s.client(), "default");
    s.reset_requests();
    let cm: ConfigMap =
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "log"}}))
            .expect("cm");
    api.patch("log", &PatchParams::apply("deploy").force(), &Patch::Apply(&cm)).await.expect("apply");
    api.get("log").await.expect("get");
    let _ = api.get("missing").await;
    let reqs = s.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "PATCH");
    assert_eq!(reqs[0].path, "/api/v1/namespaces/default/configmaps/log");
    assert!(reqs[0].query.contains("fieldManager=deploy"));
    assert!(reqs[0].query.contains("force=true"));
    assert_eq!(reqs[0].content_type.as_deref(), Some("application/apply-patch+yaml"));
    assert_eq!(reqs[1].method, "GET");
    assert!(!reqs[1].is_watch());
    s.reset_requests();
    assert!(s.requests().is_empty());
}

#[tokio::test]
async fn kubeconfig_with_plain_http_works() {
    let s = server().await;
    s.ensure_namespace("apps").expect("ns");
    let dir = std::env::temp_dir().join(format!("kube-double-kc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("config");
    s.write_kubeconfig_in(&path, "apps").expect("write");
    let kc = kube::config::Kubeconfig::read_from(&path).expect("read kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .expect("config from kubeconfig");
    assert_eq!(config.default_namespace, "apps");
    let client = kube::Client::try_from(config).expect("client");
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let cm: ConfigMap =
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "k"}}))
            .expect("cm");
    let out = cms.patch("k", &PatchParams::apply("deploy"), &Patch::Apply(&cm)).await.expect("apply via kubeconfig");
    assert_eq!(out.namespace().as_deref(), Some("apps"));
    let _ = std::fs::remove_dir_all(&dir);
    // The client helper's namespace too.
    let n: Vec<_> = Api::<ConfigMap>::default_namespaced(s.client_in("apps"))
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|c| c.name_any())
        .collect();
    assert_eq!(n, ["k"]);
}

#[tokio::test]
async fn malformed_requests_get_status_errors() {
    let s = server().await;
    let client = s.client();
    let cases: &[(&str, &str, &str, &[u8], u16)] = &[
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=m",
            "application/apply-patch+yaml",
            b"{not json",
            400,
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=m",
            "application/apply-patch+yaml",
            b"metadata: [1, 2]",
            400,
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=m",
            "application/apply-patch+yaml",
            b"[1, 2]",
            400,
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=m&force=maybe",
            "application/apply-patch+yaml",
            b"{}",
            400,
        ),
        (
            "PATCH",
            "/api/v1/namespaces/default/configmaps/x?fieldManager=m&dryRun=Some",
            "application/apply-patch+yaml",
            b"{}",
            400,
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/default/statefulsets/x?fieldManager=m",
            "application/apply-patch+yaml",
            br#"{"apiVersion":"v1","kind":"ConfigMap"}"#,
            400,
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/default/statefulsets/x?fieldManager=m",
            "application/apply-patch+yaml",
            br#"{"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"y"}}"#,
            400,
        ),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/default/statefulsets/x?fieldManager=m",
            "application/apply-patch+yaml",
            br#"{"apiVersion":"apps/v1","kind":"StatefulSet","spec":"nope"}"#,
            422,
        ),
        ("PATCH", "/api/v1/namespaces/default/configmaps/x", "application/json-patch+json", b"[]", 415),
        ("PATCH", "/api/v1/namespaces/default/configmaps/x", "application/merge-patch+json", b"{}", 404),
        ("POST", "/api/v1/namespaces/default/configmaps", "application/json", br#"{"metadata":{}}"#, 422),
        ("POST", "/api/v1/namespaces/default/configmaps", "application/json", br#"{"metadata":"x"}"#, 400),
        ("GET", "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20b", "", b"", 400),
        ("GET", "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=abc", "", b"", 400),
        ("GET", "/api/v1/namespaces/default/pods/p/log", "", b"", 404),
        ("GET", "/api/v1/namespaces/default/pods/p/exec", "", b"", 400),
        ("GET", "/api/v1/namespaces/default/configmaps/c/log", "", b"", 400),
        ("PUT", "/api/v1/namespaces/default/pods/p/log", "application/json", b"{}", 405),
        ("DELETE", "/api/v1/namespaces/default/configmaps/c", "application/json", b"[]", 400),
        (
            "DELETE",
            "/api/v1/namespaces/default/configmaps/c",
            "application/json",
            br#"{"propagationPolicy":"Sometimes"}"#,
            422,
        ),
        // Discovery of a group the double does not serve is a 404 like the apiserver's; writes
        // to discovery are 405; OpenAPI v2 is not served (kubectl uses v3).
        ("GET", "/apis/extensions/v1beta1", "", b"", 404),
        ("POST", "/apis", "application/json", b"{}", 405),
        ("GET", "/openapi/v2", "", b"", 400),
        ("DELETE", "/api/v1/namespaces/default/configmaps", "", b"", 405),
    ];
    for (method, path, ct, body, code) in cases {
        let mut req = axum::http::Request::builder().method(*method).uri(*path);
        if !ct.is_empty() {
            req = req.header("content-type", *ct);
        }
        let req = req.body(body.to_vec()).expect("request");
        let e = api_error(client.request_text(req).await.expect_err("error status"));
        assert_eq!(e.code, *code, "{method} {path} {}: {e:?}", String::from_utf8_lossy(body));
        assert!(
            e.status == Some(kube::core::response::StatusSummary::Failure),
            "{method} {path}: not a Failure Status"
        );
    }
    // The server is still fine.
    Api::<ConfigMap>::namespaced(client, "default").list(&ListParams::default()).await.expect("list");
}

#[tokio::test]
async fn streaming_list_watcher() {
    let s = server().await;
    let cms: Api<ConfigMap> = Api::namespaced(s.client(), "default");
    let mk = |name: &str| -> ConfigMap { serde_json::from_value(json!({"metadata": {"name": name}})).expect("cm") };
    cms.create(&PostParams::default(), &mk("before")).await.expect("create");
    let mut stream = Box::pin(watcher(cms.clone(), watcher::Config::default().streaming_lists()));
    let mut initial = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next())
            .await
            .expect("event")
            .expect("ok")
            .expect("some");
        match ev {
            watcher::Event::InitApply(o) => initial.push(o.name_any()),
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(initial, ["before"]);
    cms.create(&PostParams::default(), &mk("after")).await.expect("create");
    let ev = tokio::time::timeout(Duration::from_secs(5), stream.try_next()).await.expect("event").expect("ok");
    assert!(matches!(ev, Some(watcher::Event::Apply(o)) if o.name_any() == "after"));
    assert!(s.requests().iter().any(|r| r.is_watch() && r.query.contains("sendInitialEvents=true")));
}

/// kube's own discovery (legacy per group version, and aggregated) resolves every served kind.
#[tokio::test]
async fn discovery_with_kube_legacy_and_aggregated() {
    use kube::core::GroupVersionKind;
    use kube::discovery::{Discovery, Scope, verbs};
    let s = server().await;
    let legacy = Discovery::new(s.client()).run().await.expect("legacy discovery");
    let aggregated = Discovery::new(s.client()).run_aggregated().await.expect("aggregated discovery");
    for d in [legacy, aggregated] {
        assert_eq!(d.groups().count(), 5, "core, apps, batch, networking.k8s.io, coordination.k8s.io");
        let (ar, caps) = d.resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "StatefulSet")).expect("StatefulSet");
        assert_eq!((ar.plural.as_str(), caps.scope.clone()), ("statefulsets", Scope::Namespaced));
        assert!(caps.supports_operation(verbs::PATCH) && caps.supports_operation(verbs::WATCH));
        assert!(!caps.supports_operation(verbs::DELETE_COLLECTION), "not served by the double");
        assert!(caps.subresources.iter().any(|(sr, _)| sr.plural == "status"));
        let (_, ns) = d.resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace")).expect("Namespace");
        assert_eq!(ns.scope, Scope::Cluster);
        let (_, pods) = d.resolve_gvk(&GroupVersionKind::gvk("", "v1", "Pod")).expect("Pod");
        assert!(pods.subresources.iter().any(|(sr, c)| sr.plural == "log" && c.operations == ["get"]));
        for (g, v, k) in [
            ("batch", "v1", "Job"),
            ("networking.k8s.io", "v1", "NetworkPolicy"),
            ("coordination.k8s.io", "v1", "Lease"),
        ] {
            assert!(d.resolve_gvk(&GroupVersionKind::gvk(g, v, k)).is_some(), "{k}");
        }
    }
}
