//! The simulated workload controller, observed through the real `kube::Client`.

mod common;

use common::*;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use kube_double::{Behaviour, KubeDouble};
use std::time::Duration;

async fn apply_sts(s: &KubeDouble, st: &StatefulSet) -> Api<StatefulSet> {
    let api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    api.patch(&st.name_any(), &PatchParams::apply("deploy"), &Patch::Apply(st)).await.expect("apply sts");
    api
}

/// Waits until the workload's pods reach their final state and returns pod 0 + all events.
async fn settled_pod(s: &KubeDouble, pod: &str, pred: impl Fn(&Pod) -> bool) -> (Pod, Vec<Event>) {
    let pods: Api<Pod> = Api::namespaced(s.client(), "default");
    let start = std::time::Instant::now();
    // Read through the API as a client would, until it shows the state asked for and the same
    // status as the store (the controller may move the pod on between two reads).
    let p = loop {
        let stored: Option<Pod> = s.get("Pod", Some("default"), pod).and_then(|v| serde_json::from_value(v).ok());
        let read = pods.get_opt(pod).await.expect("get pod");
        if let (Some(stored), Some(read)) = (stored, read)
            && pred(&read)
            && stored.status == read.status
        {
            break read;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for pod {pod}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let events: Api<Event> = Api::namespaced(s.client(), "default");
    let evs =
        events.list(&ListParams::default().fields(&format!("involvedObject.name={pod}"))).await.expect("events").items;
    (p, evs)
}

fn waiting_reason(p: &Pod) -> Option<String> {
    p.status.as_ref()?.container_statuses.as_ref()?.first()?.state.as_ref()?.waiting.as_ref()?.reason.clone()
}

fn has_event(evs: &[Event], reason: &str, message_part: &str) -> bool {
    evs.iter()
        .any(|e| e.reason.as_deref() == Some(reason) && e.message.as_deref().is_some_and(|m| m.contains(message_part)))
}

fn ready_condition(p: &Pod) -> Option<String> {
    p.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready").map(|c| c.status.clone())
}

#[tokio::test]
async fn statefulset_becomes_ready_with_pods_and_pvcs() {
    let s = server().await;
    let api = apply_sts(&s, &sts_with_claims("redis", 3)).await;
    let ready = await_condition(api.clone(), "redis", sts_ready).await.expect("wait").expect("exists");
    let st = ready.status.expect("status");
    assert_eq!(st.replicas, 3);
    assert_eq!(st.ready_replicas, Some(3));
    assert_eq!(st.current_replicas, Some(3));
    assert_eq!(st.updated_replicas, Some(3));
    assert_eq!(st.available_replicas, Some(3));
    assert_eq!(st.observed_generation, Some(1));
    let rev = st.update_revision.clone().expect("updateRevision");
    assert!(rev.starts_with("redis-"));
    assert_eq!(st.current_revision, Some(rev.clone()));

    let pods: Api<Pod> = Api::namespaced(s.client(), "default");
    let list = pods.list(&ListParams::default().labels("app=redis")).await.expect("pods");
    let names: Vec<_> = list.items.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["redis-0", "redis-1", "redis-2"]);
    for p in &list.items {
        assert_eq!(p.labels().get("tier").map(String::as_str), Some("db"));
        assert_eq!(p.labels().get("controller-revision-hash"), Some(&rev));
        let status = p.status.as_ref().expect("status");
        assert_eq!(status.phase.as_deref(), Some("Running"));
        assert_eq!(ready_condition(p).as_deref(), Some("True"));
        assert!(status.container_statuses.as_ref().expect("cs")[0].ready);
        assert_eq!(p.owner_references()[0].name, "redis");
    }

    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(s.client(), "default");
    let claims = pvcs.list(&ListParams::default().labels("deploy.dev/volume=data,app=redis")).await.expect("pvcs");
    let names: Vec<_> = claims.items.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["data-redis-0", "data-redis-1", "data-redis-2"]);
    for c in &claims.items {
        assert_eq!(c.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Bound"));
    }

    // A template change rolls out a new revision with a new generation.
    let mut changed = sts_with_claims("redis", 2);
    if let Some(spec) = changed.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.containers[0].image = Some("redis:7.2".into());
    }
    api.patch("redis", &PatchParams::apply("deploy"), &Patch::Apply(&changed)).await.expect("update");
    let ready = await_condition(api.clone(), "redis", sts_ready).await.expect("wait").expect("exists");
    assert_eq!(ready.metadata.generation, Some(2));
    let st = ready.status.expect("status");
    assert_ne!(st.update_revision, Some(rev));
    assert_eq!(st.ready_replicas, Some(2));
    let names: Vec<_> = pods
        .list(&ListParams::default().labels("app=redis"))
        .await
        .expect("pods")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(names, ["redis-0", "redis-1"], "scaled down");

    // Deleting the StatefulSet garbage-collects its pods but keeps the PVCs (Retain).
    api.delete("redis", &DeleteParams::default()).await.expect("delete");
    assert!(s.list("Pod", Some("default")).is_empty());
    assert_eq!(s.list("PersistentVolumeClaim", Some("default")).len(), 3);
}

#[tokio::test]
async fn deployment_becomes_available() {
    let s = server().await;
    let api: Api<Deployment> = Api::namespaced(s.client(), "default");
    api.patch("web", &PatchParams::apply("deploy"), &Patch::Apply(&deployment("web", 2, "nginx:1.27")))
        .await
        .expect("apply");
    let d = await_condition(api.clone(), "web", conditions::is_deployment_completed())
        .await
        .expect("wait")
        .expect("exists");
    let spec = d.spec.clone().expect("spec");
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.strategy.and_then(|s| s.type_).as_deref(), Some("RollingUpdate"));
    let st = d.status.expect("status");
    assert_eq!(
        (st.replicas, st.ready_replicas, st.available_replicas, st.updated_replicas),
        (Some(2), Some(2), Some(2), Some(2))
    );
    assert_eq!(st.observed_generation, Some(1));
    let conds = st.conditions.expect("conditions");
    let c =
        |t: &str| conds.iter().find(|c| c.type_ == t).map(|c| (c.status.clone(), c.reason.clone().unwrap_or_default()));
    assert_eq!(c("Available"), Some(("True".into(), "MinimumReplicasAvailable".into())));
    assert_eq!(c("Progressing"), Some(("True".into(), "NewReplicaSetAvailable".into())));
    let pods: Api<Pod> = Api::namespaced(s.client(), "default");
    let list = pods.list(&ListParams::default().labels("app=web")).await.expect("pods");
    assert_eq!(list.items.len(), 2);
    for p in &list.items {
        let hash = p.labels().get("pod-template-hash").cloned().expect("hash");
        let name = p.name_any();
        assert!(name.starts_with(&format!("web-{hash}-")), "{name}");
        assert_eq!(name.len(), "web-".len() + hash.len() + 6);
    }
    // The tag `latest` defaults to imagePullPolicy Always.
    api.patch("web", &PatchParams::apply("deploy"), &Patch::Apply(&deployment("web", 2, "nginx:latest")))
        .await
        .expect("apply");
    let d = api.get("web").await.expect("get");
    let c = &d.spec.expect("spec").template.spec.expect("pod").containers[0];
    assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
}

#[tokio::test]
async fn never_leaves_pods_pending_and_unscheduled() {
    let s = server().await;
    s.set_behaviour("stuck", Behaviour::Never);
    let api = apply_sts(&s, &sts_with_claims("stuck", 3)).await;
    let (pod, evs) =
        settled_pod(&s, "stuck-0", |p| p.status.as_ref().is_some_and(|s| s.phase.as_deref() == Some("Pending"))).await;
    let sched = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled").cloned())
        .expect("PodScheduled");
    assert_eq!((sched.status.as_str(), sched.reason.as_deref()), ("False", Some("Unschedulable")));
    assert!(has_event(
        &evs,
        "FailedScheduling",
        "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims"
    ));
    let ev = evs.iter().find(|e| e.reason.as_deref() == Some("FailedScheduling")).expect("event");
    assert_eq!(ev.involved_object.kind.as_deref(), Some("Pod"));
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    let pvc: PersistentVolumeClaim =
        serde_json::from_value(s.get("PersistentVolumeClaim", Some("default"), "data-stuck-0").expect("pvc"))
            .expect("pvc");
    assert_eq!(pvc.status.and_then(|s| s.phase).as_deref(), Some("Pending"));
    // OrderedReady: pod 1 is not created while pod 0 is not ready.
    assert!(s.get("Pod", Some("default"), "stuck-1").is_none());
    let st = api.get("stuck").await.expect("get").status.expect("status");
    assert_eq!(st.observed_generation, Some(1));
    assert_eq!(st.ready_replicas.unwrap_or(0), 0);
    // Fixing the behaviour re-reconciles.
    s.set_behaviour("stuck", Behaviour::ReadyAfter(Duration::ZERO));
    await_condition(api, "stuck", sts_ready).await.expect("ready after fix");
}

#[tokio::test]
async fn image_pull_backoff() {
    let s = server().await;
    s.set_behaviour("img", Behaviour::ImagePullBackOff);
    apply_sts(&s, &sts("img", 1, "registry.local/nope:1")).await;
    let (pod, evs) = settled_pod(&s, "img-0", |p| waiting_reason(p).as_deref() == Some("ImagePullBackOff")).await;
    let cs = &pod.status.as_ref().and_then(|s| s.container_statuses.clone()).expect("cs")[0];
    assert!(!cs.ready);
    let msg = cs.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.message.clone()).expect("message");
    assert_eq!(msg, "Back-off pulling image \"registry.local/nope:1\"");
    assert_eq!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Pending"));
    assert!(has_event(&evs, "Failed", "Failed to pull image \"registry.local/nope:1\""));
    assert!(has_event(&evs, "BackOff", "Back-off pulling image"));
}

#[tokio::test]
async fn an_image_that_never_pulls_wins_over_the_workload_and_its_previous_image_runs() {
    let s = server().await;
    s.set_image_behaviour("registry.local/never:1", Behaviour::ImagePullBackOff);
    apply_sts(&s, &sts("byimg", 1, "registry.local/never:1")).await;
    settled_pod(&s, "byimg-0", |p| waiting_reason(p).as_deref() == Some("ImagePullBackOff")).await;
    apply_sts(&s, &sts("byimg", 1, "app:1")).await;
    let (pod, _) = settled_pod(&s, "byimg-0", |p| {
        let image = p.spec.as_ref().and_then(|s| s.containers.first()).and_then(|c| c.image.clone());
        image.as_deref() == Some("app:1") && ready_condition(p).as_deref() == Some("True")
    })
    .await;
    assert_eq!(waiting_reason(&pod), None);
}

#[tokio::test]
async fn crash_loop_backoff() {
    let s = server().await;
    s.set_behaviour("crash", Behaviour::CrashLoopBackOff);
    apply_sts(&s, &sts("crash", 1, "app:1")).await;
    let (pod, evs) = settled_pod(&s, "crash-0", |p| waiting_reason(p).as_deref() == Some("CrashLoopBackOff")).await;
    let cs = &pod.status.as_ref().and_then(|s| s.container_statuses.clone()).expect("cs")[0];
    assert!(!cs.ready);
    assert!(cs.restart_count > 0);
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()).expect("lastState.terminated");
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    assert!(has_event(&evs, "BackOff", "Back-off restarting failed container main in pod crash-0_default"));
    assert_eq!(ready_condition(&pod).as_deref(), Some("False"));
}

#[tokio::test]
async fn oom_killed() {
    let s = server().await;
    s.set_behaviour("oom", Behaviour::OomKilled);
    apply_sts(&s, &sts("oom", 1, "app:1")).await;
    let (pod, evs) = settled_pod(&s, "oom-0", |p| waiting_reason(p).as_deref() == Some("CrashLoopBackOff")).await;
    let cs = &pod.status.as_ref().and_then(|s| s.container_statuses.clone()).expect("cs")[0];
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()).expect("lastState.terminated");
    assert_eq!((last.exit_code, last.reason.as_deref()), (137, Some("OOMKilled")));
    assert!(has_event(&evs, "BackOff", "Back-off restarting failed container"));
}

#[tokio::test]
async fn readiness_failing() {
    let s = server().await;
    s.set_behaviour("probe", Behaviour::ReadinessFailing("HTTP probe failed with statuscode: 503".into()));
    let api = apply_sts(&s, &sts("probe", 2, "app:1")).await;
    let (pod, evs) = settled_pod(&s, "probe-0", |p| {
        p.status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .is_some_and(|c| c[0].state.as_ref().is_some_and(|s| s.running.is_some()))
    })
    .await;
    assert_eq!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Running"));
    assert_eq!(ready_condition(&pod).as_deref(), Some("False"));
    let ev = evs.iter().find(|e| e.reason.as_deref() == Some("Unhealthy")).expect("Unhealthy event");
    assert_eq!(ev.message.as_deref(), Some("Readiness probe failed: HTTP probe failed with statuscode: 503"));
    assert_eq!(ev.type_.as_deref(), Some("Warning"));
    let st = api.get("probe").await.expect("get").status.expect("status");
    assert_eq!(st.ready_replicas.unwrap_or(0), 0);
}

#[tokio::test]
async fn deployment_progress_deadline_exceeded() {
    let s = server().await;
    s.set_behaviour("late", Behaviour::ProgressDeadlineExceeded);
    let api: Api<Deployment> = Api::namespaced(s.client(), "default");
    api.patch("late", &PatchParams::apply("deploy"), &Patch::Apply(&deployment("late", 1, "app:1")))
        .await
        .expect("apply");
    let d = await_condition(api, "late", |d: Option<&Deployment>| {
        d.and_then(|d| d.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Progressing" && c.status == "False"))
    })
    .await
    .expect("wait")
    .expect("exists");
    let st = d.status.expect("status");
    let p = st.conditions.expect("conds").into_iter().find(|c| c.type_ == "Progressing").expect("progressing");
    assert_eq!(p.reason.as_deref(), Some("ProgressDeadlineExceeded"));
    assert!(p.message.is_some_and(|m| m.ends_with("has timed out progressing.")));
    assert_eq!(st.unavailable_replicas, Some(1));
}

#[tokio::test]
async fn fails_is_a_crash_loop_for_a_statefulset() {
    let s = server().await;
    s.set_behaviour("bad", Behaviour::Fails { exit_code: 3, log: "fatal: no config\n".into() });
    apply_sts(&s, &sts("bad", 1, "app:1")).await;
    let (pod, evs) = settled_pod(&s, "bad-0", |p| waiting_reason(p).as_deref() == Some("CrashLoopBackOff")).await;
    let cs = &pod.status.as_ref().and_then(|s| s.container_statuses.clone()).expect("cs")[0];
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()).expect("lastState.terminated");
    assert_eq!((last.exit_code, last.reason.as_deref()), (3, Some("Error")));
    assert!(has_event(&evs, "BackOff", "Back-off restarting failed container main in pod bad-0_default"));
}
