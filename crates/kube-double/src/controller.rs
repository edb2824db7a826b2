//! A simulated StatefulSet/Deployment/Job controller + scheduler + kubelet.
//!
//! When a workload is created or its generation changes, it creates Pods (and, for
//! StatefulSets, PVCs from `volumeClaimTemplates`) in a "creating" state right away, then after
//! the workload's [`Behaviour`] delay moves them to their final state and writes the workload
//! status the way the real controllers report it. All writes go through the store, so watches
//! see them at once. Jobs live in the `job` submodule.

use crate::resources::{self as res, Rt, rt};
use crate::store::{Change, ChangeKind, DeleteOptions, Store};
use crate::util::{self, short_hash};
use crate::{Inner, lock};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

mod job;
mod pods;

/// How the simulated cluster treats a workload's pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// Pods become Running and Ready after the delay (the default, with 5 ms).
    ReadyAfter(Duration),
    /// Pods are never scheduled: they stay Pending with a `FailedScheduling` event; the
    /// StatefulSet's PVCs stay Pending.
    Never,
    /// Containers wait in `ImagePullBackOff` with `Failed`/`BackOff` events.
    ImagePullBackOff,
    /// Containers wait in `CrashLoopBackOff` (last state terminated with exit code 1).
    CrashLoopBackOff,
    /// Containers run but the readiness probe fails with this message (`Unhealthy` events).
    ReadinessFailing(String),
    /// Containers are OOM-killed (last state terminated, reason `OOMKilled`) and back off.
    OomKilled,
    /// Pods run but never become ready, and a Deployment reports
    /// `Progressing=False` with reason `ProgressDeadlineExceeded`.
    ProgressDeadlineExceeded,
    /// The container exits with `exit_code` after printing `log` (the pods' log, see
    /// [`KubeDouble::set_logs`](crate::KubeDouble::set_logs)). A Job's pod ends `Failed` and the
    /// Job fails with `BackoffLimitExceeded`; StatefulSet/Deployment pods go to
    /// `CrashLoopBackOff` with that exit code in `lastState`.
    Fails { exit_code: i32, log: String },
}

impl Default for Behaviour {
    fn default() -> Self {
        Self::ReadyAfter(Duration::from_millis(5))
    }
}

/// Delay before a failure behaviour's final state is written.
const FAILURE_DELAY: Duration = Duration::from_millis(20);
const MANAGER: &str = "kube-controller-manager";
const NODE: &str = "kube-double-node";

type WorkloadKey = (Rt, String, String);

/// The kinds the controller reconciles.
const WORKLOADS: [Rt; 3] = [res::STATEFULSETS, res::DEPLOYMENTS, res::JOBS];

#[derive(Default)]
pub struct Controller {
    behaviours: Mutex<HashMap<String, Behaviour>>,
    /// By container image, over the workload's own (an image that never pulls).
    images: Mutex<HashMap<String, Behaviour>>,
    default: Mutex<Behaviour>,
    /// Log text per workload name, from `KubeDouble::set_logs`.
    logs: Mutex<HashMap<String, String>>,
    /// Latest reconcile epoch per workload; a sleeping reconcile whose epoch is stale gives up.
    epochs: Mutex<HashMap<WorkloadKey, (u64, Option<AbortHandle>)>>,
}

impl Controller {
    pub fn set_behaviour(&self, workload: Option<&str>, b: Behaviour) {
        match workload {
            Some(w) => {
                lock(&self.behaviours).insert(w.to_owned(), b);
            }
            None => *lock(&self.default) = b,
        }
    }

    fn behaviour(&self, workload: &str) -> Behaviour {
        lock(&self.behaviours).get(workload).cloned().unwrap_or_else(|| lock(&self.default).clone())
    }

    pub fn set_image_behaviour(&self, image: &str, b: Behaviour) {
        lock(&self.images).insert(image.to_owned(), b);
    }

    /// The behaviour of the first of `images` that has one, else the workload's.
    fn behaviour_with(&self, workload: &str, images: &[String]) -> Behaviour {
        let by_image = lock(&self.images);
        images.iter().find_map(|i| by_image.get(i).cloned()).unwrap_or_else(|| self.behaviour(workload))
    }

    pub fn set_logs(&self, workload: &str, text: &str) {
        lock(&self.logs).insert(workload.to_owned(), text.to_owned());
    }

    /// The log of the pods of `workload`: set with `set_logs`, else a `Fails` behaviour's
    /// log, else empty.
    pub fn log_for(&self, workload: &str) -> String {
        if let Some(text) = lock(&self.logs).get(workload) {
            return text.clone();
        }
        match self.behaviour(workload) {
            Behaviour::Fails { log, .. } => log,
            _ => String::new(),
        }
    }

    pub fn abort_all(&self) {
        for (_, h) in lock(&self.epochs).values() {
            if let Some(h) = h {
                h.abort();
            }
        }
    }
}

/// The controller loop: reacts to workload creations and generation changes.
pub async fn run(inner: Arc<Inner>, mut rx: broadcast::Receiver<Change>) {
    loop {
        match rx.recv().await {
            Ok(c) if WORKLOADS.contains(&c.rt) && c.kind != ChangeKind::Deleted => {
                let gen_of = |v: &Value| v.pointer("/metadata/generation").and_then(Value::as_i64);
                let changed = c.kind == ChangeKind::Added || c.old.as_deref().map(gen_of) != Some(gen_of(&c.object));
                if changed {
                    let name = c.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
                    schedule(&inner, (c.rt, c.namespace.clone().unwrap_or_default(), name.to_owned()));
                }
            }
            Ok(c) if c.rt == res::PODS && c.kind == ChangeKind::Deleted => {
                // A pod deleted by a client: its StatefulSet or Deployment makes a new one.
                let owner = pods::owner_short_of_pod(&lock(&inner.store), &c);
                if let Some(key) = owner {
                    schedule(&inner, key);
                }
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => resync(&inner, None),
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Re-reconciles every workload (or those called `only`).
pub fn resync(inner: &Arc<Inner>, only: Option<&str>) {
    let keys: Vec<WorkloadKey> = {
        let store = lock(&inner.store);
        WORKLOADS
            .into_iter()
            .flat_map(|k| {
                store.list(k, None).into_iter().map(move |o| {
                    let s = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
                    (k, s("/metadata/namespace"), s("/metadata/name"))
                })
            })
            .filter(|(_, _, n)| only.is_none_or(|o| o == n))
            .collect()
    };
    for k in keys {
        schedule(inner, k);
    }
}

fn schedule(inner: &Arc<Inner>, key: WorkloadKey) {
    let images = template_images(&lock(&inner.store), &key);
    let behaviour = inner.controller.behaviour_with(&key.2, &images);
    let epoch = {
        let mut epochs = lock(&inner.controller.epochs);
        let e = epochs.entry(key.clone()).or_insert((0, None));
        e.0 += 1;
        if let Some(h) = e.1.take() {
            h.abort();
        }
        e.0
    };
    // Phase 1 happens synchronously so the creating state is visible right after the write.
    reconcile(&mut lock(&inner.store), &key, &behaviour, false);
    let delay = match &behaviour {
        Behaviour::ReadyAfter(d) => *d,
        _ => FAILURE_DELAY,
    };
    let inner2 = inner.clone();
    let key2 = key.clone();
    let handle = inner.runtime.spawn(async move {
        tokio::time::sleep(delay).await;
        let current = lock(&inner2.controller.epochs).get(&key2).map(|e| e.0);
        if current == Some(epoch) {
            reconcile(&mut lock(&inner2.store), &key2, &behaviour, true);
        }
    });
    if let Some(e) = lock(&inner.controller.epochs).get_mut(&key)
        && e.0 == epoch
    {
        e.1 = Some(handle.abort_handle());
    }
}

/// The images of a workload's pod template (init containers first).
fn template_images(store: &Store, key: &WorkloadKey) -> Vec<String> {
    let Some(w) = store.get(key.0, Some(&key.1), &key.2) else { return Vec::new() };
    ["initContainers", "containers"]
        .iter()
        .filter_map(|k| w.pointer(&format!("/spec/template/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .filter_map(|c| c.get("image").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// The state a pod is put in.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PodState {
    Creating,
    Ready,
    Unschedulable,
    ImagePullBackOff,
    /// Waiting in `CrashLoopBackOff`; the last run terminated with this exit code and reason.
    CrashLoop(i32, &'static str),
    NotReady(Option<String>),
    /// Ran to completion (Job pods): terminated with exit code 0, phase `Succeeded`.
    Succeeded,
    /// Ran and failed (Job pods): terminated with this exit code, phase `Failed`.
    Failed(i32),
}

impl PodState {
    fn of(b: &Behaviour, final_phase: bool, job: bool) -> Self {
        if !final_phase {
            return match b {
                Behaviour::Never => Self::Unschedulable,
                _ => Self::Creating,
            };
        }
        match b {
            Behaviour::ReadyAfter(_) if job => Self::Succeeded,
            Behaviour::ReadyAfter(_) => Self::Ready,
            Behaviour::Fails { exit_code, .. } if job => Self::Failed(*exit_code),
            Behaviour::Fails { exit_code, .. } => Self::CrashLoop(*exit_code, "Error"),
            Behaviour::Never => Self::Unschedulable,
            Behaviour::ImagePullBackOff => Self::ImagePullBackOff,
            Behaviour::CrashLoopBackOff => Self::CrashLoop(1, "Error"),
            Behaviour::OomKilled => Self::CrashLoop(137, "OOMKilled"),
            Behaviour::ReadinessFailing(m) => Self::NotReady(Some(m.clone())),
            Behaviour::ProgressDeadlineExceeded => Self::NotReady(None),
        }
    }
    fn ready(&self) -> bool {
        *self == Self::Ready
    }
}

struct Workload<'a> {
    rt: Rt,
    obj: &'a Value,
    ns: &'a str,
    name: &'a str,
    uid: &'a str,
}

impl Workload<'_> {
    fn owner_ref(&self) -> Value {
        json!({
            "apiVersion": rt(self.rt).api_version(),
            "kind": rt(self.rt).kind,
            "name": self.name,
            "uid": self.uid,
            "controller": true,
            "blockOwnerDeletion": true,
        })
    }
    /// Records an event about the workload from its controller.
    fn event(&self, store: &mut Store, ty: &str, reason: &str, message: &str) {
        let r = rt(self.rt);
        let component = match self.rt {
            res::STATEFULSETS => "statefulset-controller",
            res::JOBS => "job-controller",
            _ => "replicaset-controller",
        };
        let involved = json!({"kind": r.kind, "namespace": self.ns, "name": self.name, "uid": self.uid, "apiVersion": r.api_version()});
        record_event(store, self.ns, self.name, involved, ty, reason, message, component);
    }
    fn replicas(&self) -> usize {
        self.obj.pointer("/spec/replicas").and_then(Value::as_u64).unwrap_or(1) as usize
    }
    fn template(&self) -> Value {
        self.obj.pointer("/spec/template").cloned().unwrap_or_else(|| json!({}))
    }
}

fn reconcile(store: &mut Store, key: &WorkloadKey, b: &Behaviour, final_phase: bool) {
    let Some(obj) = store.get(key.0, Some(&key.1), &key.2).cloned() else { return };
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    let w = Workload { rt: key.0, obj: &obj, ns: &key.1, name: &key.2, uid: &uid };
    let state = PodState::of(b, final_phase, key.0 == res::JOBS);
    match key.0 {
        res::STATEFULSETS => reconcile_sts(store, &w, &state),
        res::DEPLOYMENTS => reconcile_deploy(store, &w, b, &state),
        _ => job::reconcile(store, &w, &state),
    }
}

/// Pods currently controlled by the workload.
fn owned_pods(store: &Store, w: &Workload<'_>) -> Vec<Value> {
    store
        .list(res::PODS, Some(w.ns))
        .into_iter()
        .filter(|p| {
            p.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|r| r.iter().any(|r| r.get("uid").and_then(Value::as_str) == Some(w.uid)))
        })
        .cloned()
        .collect()
}

fn reconcile_sts(store: &mut Store, w: &Workload<'_>, state: &PodState) {
    let template = w.template();
    let revision = format!("{}-{}", w.name, short_hash(&template, 10));
    let replicas = w.replicas();
    let ordered = w.obj.pointer("/spec/podManagementPolicy").and_then(Value::as_str) != Some("Parallel");
    // OrderedReady only creates pod N+1 once pod N is ready.
    let count = if ordered && !state.ready() { replicas.min(1) } else { replicas };
    let selector = w.obj.pointer("/spec/selector/matchLabels").cloned().unwrap_or_else(|| json!({}));
    let vcts = w.obj.pointer("/spec/volumeClaimTemplates").and_then(Value::as_array).cloned().unwrap_or_default();
    let delete_pvcs = w.obj.pointer("/spec/persistentVolumeClaimRetentionPolicy/whenDeleted").and_then(Value::as_str)
        == Some("Delete");
    for i in 0..count {
        let pod_name = format!("{}-{i}", w.name);
        let mut claims = Vec::new();
        for t in &vcts {
            let tname = t.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let claim = format!("{tname}-{}-{i}", w.name);
            ensure_pvc(store, w, t, &selector, &claim, *state != PodState::Unschedulable, delete_pvcs);
            claims.push((tname.to_owned(), claim));
        }
        let mut extra = Map::new();
        extra.insert("controller-revision-hash".into(), json!(revision));
        extra.insert("statefulset.kubernetes.io/pod-name".into(), json!(pod_name));
        extra.insert("apps.kubernetes.io/pod-index".into(), json!(i.to_string()));
        let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
        spec["hostname"] = json!(pod_name);
        if let Some(svc) = w.obj.pointer("/spec/serviceName").and_then(Value::as_str) {
            spec["subdomain"] = json!(svc);
        }
        if !claims.is_empty() {
            let vols = spec.as_object_mut().map(|m| m.entry("volumes").or_insert_with(|| json!([])));
            if let Some(Value::Array(vols)) = vols {
                for (vname, claim) in &claims {
                    vols.push(json!({"name": vname, "persistentVolumeClaim": {"claimName": claim}}));
                }
            }
        }
        write_pod(store, w, &template, &pod_name, extra, spec, state);
    }
    for p in owned_pods(store, w) {
        let name = p.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let ordinal = name.rsplit('-').next().and_then(|o| o.parse::<usize>().ok());
        if ordinal.is_none_or(|o| o >= count) {
            let _ = store.delete(res::PODS, Some(w.ns), name, &DeleteOptions::default());
        }
    }
    let generation = w.obj.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
    let prev_current = w.obj.pointer("/status/currentRevision").and_then(Value::as_str);
    let ready = if state.ready() { count } else { 0 };
    let current_revision = if ready == replicas { revision.as_str() } else { prev_current.unwrap_or(&revision) };
    let mut status = json!({
        "observedGeneration": generation,
        "replicas": count,
        "availableReplicas": ready,
        "currentRevision": current_revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
    for (k, v) in [
        ("readyReplicas", ready),
        ("currentReplicas", if current_revision == revision { count } else { 0 }),
        ("updatedReplicas", count),
    ] {
        if v > 0 {
            status[k] = json!(v);
        }
    }
    let _ = store.set_status(w.rt, Some(w.ns), w.name, status, MANAGER);
}

fn reconcile_deploy(store: &mut Store, w: &Workload<'_>, b: &Behaviour, state: &PodState) {
    let template = w.template();
    let hash = short_hash(&template, 10);
    let rs = format!("{}-{hash}", w.name);
    let replicas = w.replicas();
    let pods = owned_pods(store, w);
    let mut current: Vec<String> = Vec::new();
    for p in &pods {
        let name = p.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
        let same = p.pointer("/metadata/labels/pod-template-hash").and_then(Value::as_str) == Some(hash.as_str());
        if same && current.len() < replicas {
            current.push(name);
        } else {
            // Rollout (simplified): old pods are replaced at once.
            let _ = store.delete(res::PODS, Some(w.ns), &name, &DeleteOptions::default());
        }
    }
    while current.len() < replicas {
        current.push(format!("{rs}-{}", util::random_suffix(5)));
    }
    for pod_name in &current {
        let mut extra = Map::new();
        extra.insert("pod-template-hash".into(), json!(hash));
        let spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
        write_pod(store, w, &template, pod_name, extra, spec, state);
    }
    let now = util::now_rfc3339();
    let ready = if state.ready() { replicas } else { 0 };
    let cond = |ty: &str, status: bool, reason: &str, message: String| json!({"type": ty, "status": if status { "True" } else { "False" }, "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason, "message": message});
    let available = if ready >= replicas {
        cond("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.".into())
    } else {
        cond("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.".into())
    };
    let progressing = if state.ready() {
        cond("Progressing", true, "NewReplicaSetAvailable", format!("ReplicaSet \"{rs}\" has successfully progressed."))
    } else if *b == Behaviour::ProgressDeadlineExceeded && *state != PodState::Creating {
        cond(
            "Progressing",
            false,
            "ProgressDeadlineExceeded",
            format!("ReplicaSet \"{rs}\" has timed out progressing."),
        )
    } else {
        cond("Progressing", true, "ReplicaSetUpdated", format!("ReplicaSet \"{rs}\" is progressing."))
    };
    let generation = w.obj.pointer("/metadata/generation").cloned().unwrap_or(json!(1));
    let mut status = json!({
        "observedGeneration": generation,
        "replicas": replicas,
        "updatedReplicas": replicas,
        "conditions": [available, progressing],
    });
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(ready);
    }
    if replicas > ready {
        status["unavailableReplicas"] = json!(replicas - ready);
    }
    let _ = store.set_status(w.rt, Some(w.ns), w.name, status, MANAGER);
}

fn ensure_pvc(store: &mut Store, w: &Workload<'_>, t: &Value, selector: &Value, name: &str, bound: bool, owned: bool) {
    let existing = store.get(res::PVCS, Some(w.ns), name).cloned();
    let phase = existing.as_ref().and_then(|p| p.pointer("/status/phase")).and_then(Value::as_str);
    let want = if bound { "Bound" } else { "Pending" };
    if existing.is_some() && (phase == Some(want) || phase == Some("Bound")) {
        return;
    }
    let mut labels = t.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}));
    util::merge_patch(&mut labels, selector);
    let spec = t.get("spec").cloned().unwrap_or_else(|| json!({}));
    let mut status = json!({"phase": want});
    if bound {
        status["accessModes"] = spec.get("accessModes").cloned().unwrap_or_else(|| json!(["ReadWriteOnce"]));
        if let Some(s) = spec.pointer("/resources/requests/storage") {
            status["capacity"] = json!({"storage": s});
        }
    }
    let mut pvc = match existing {
        Some(p) => p,
        None => json!({
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": w.ns, "labels": labels},
            "spec": spec,
        }),
    };
    if let Some(a) = t.pointer("/metadata/annotations") {
        pvc["metadata"]["annotations"] = a.clone();
    }
    if owned {
        pvc["metadata"]["ownerReferences"] = json!([w.owner_ref()]);
    }
    pvc["status"] = status;
    let _ = store.put_internal(res::PVCS, pvc, MANAGER);
}

fn write_pod(
    store: &mut Store,
    w: &Workload<'_>,
    template: &Value,
    name: &str,
    extra_labels: Map<String, Value>,
    mut spec: Value,
    state: &PodState,
) {
    let mut labels = template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}));
    if let Some(l) = labels.as_object_mut() {
        l.extend(extra_labels);
    }
    if *state != PodState::Unschedulable {
        spec["nodeName"] = json!(NODE);
    }
    let existing = store.get(res::PODS, Some(w.ns), name).cloned();
    let pod_uid = existing.as_ref().and_then(|p| p.pointer("/metadata/uid")).and_then(Value::as_str).map(str::to_owned);
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": w.ns, "labels": labels, "ownerReferences": [w.owner_ref()]},
        "spec": spec,
    });
    if let Some(a) = template.pointer("/metadata/annotations") {
        pod["metadata"]["annotations"] = a.clone();
    }
    // Keep the pod's existing status timestamps stable when nothing changes.
    let prev_status = existing.as_ref().and_then(|p| p.get("status")).cloned();
    let status = pod_status(&pod, state, pod_uid.as_deref().unwrap_or_default(), prev_status.as_ref());
    pod["status"] = status;
    let Ok(out) = store.put_internal(res::PODS, pod, MANAGER) else { return };
    let uid = out.object.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default().to_owned();
    if out.created {
        let what = if w.rt == res::STATEFULSETS {
            format!("create Pod {name} in StatefulSet {} successful", w.name)
        } else {
            format!("Created pod: {name}")
        };
        w.event(store, "Normal", "SuccessfulCreate", &what);
    }
    pod_events(store, &out.object, &uid, state);
}

fn containers(pod: &Value) -> Vec<(String, String)> {
    pod.pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                    (s("name"), s("image"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Per-pod facts a container status needs.
struct PodCtx<'a> {
    uid: &'a str,
    name: &'a str,
    ns: &'a str,
    now: &'a str,
}

fn container_status(p: &PodCtx<'_>, cname: &str, image: &str, state: &PodState) -> Value {
    let now = p.now;
    let waiting = |reason: &str, message: String| json!({"waiting": {"reason": reason, "message": message}});
    let terminated = |reason: &str, code: i32| json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": now, "finishedAt": now, "containerID": format!("containerd://{}", short_hash(&json!([p.uid, cname]), 16))}});
    let backoff = format!("back-off 40s restarting failed container={cname} pod={}_{}({})", p.name, p.ns, p.uid);
    let (st, last, restarts, started) = match state {
        PodState::Creating => (waiting("ContainerCreating", String::new()), json!({}), 0, false),
        PodState::Ready | PodState::NotReady(_) => (json!({"running": {"startedAt": now}}), json!({}), 0, true),
        PodState::ImagePullBackOff => {
            (waiting("ImagePullBackOff", format!("Back-off pulling image \"{image}\"")), json!({}), 0, false)
        }
        PodState::CrashLoop(code, reason) => {
            (waiting("CrashLoopBackOff", backoff), terminated(reason, *code), 3, false)
        }
        PodState::Succeeded => (terminated("Completed", 0), json!({}), 0, false),
        PodState::Failed(code) => (terminated("Error", *code), json!({}), 0, false),
        PodState::Unschedulable => (json!({}), json!({}), 0, false),
    };
    let ran = started || restarts > 0 || st.get("terminated").is_some();
    let mut s = json!({
        "name": cname,
        "image": image,
        "imageID": "",
        "ready": state.ready(),
        "restartCount": restarts,
        "started": started,
        "state": st,
        "lastState": last,
    });
    if ran {
        s["imageID"] = json!(format!("docker.io/library/{image}@sha256:{}", short_hash(&json!(image), 16)));
        s["containerID"] = json!(format!("containerd://{}", short_hash(&json!([p.uid, cname, "c"]), 16)));
    }
    s
}

fn pod_condition(now: &str, ty: &str, ok: bool, reason: Option<&str>, message: Option<String>) -> Value {
    let mut c = json!({"type": ty, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": now});
    if let Some(r) = reason {
        c["reason"] = json!(r);
    }
    if let Some(m) = message {
        c["message"] = json!(m);
    }
    c
}

fn pod_status(pod: &Value, state: &PodState, uid: &str, prev: Option<&Value>) -> Value {
    let now =
        prev.and_then(|p| p.get("startTime")).and_then(Value::as_str).map_or_else(util::now_rfc3339, str::to_owned);
    let cond = |ty: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
        pod_condition(&now, ty, ok, reason, message)
    };
    if *state == PodState::Unschedulable {
        return json!({
            "phase": "Pending",
            "qosClass": "BestEffort",
            "conditions": [cond("PodScheduled", false, Some("Unschedulable"), Some(unschedulable_message(has_pvc(pod))))],
        });
    }
    let s = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or_default();
    let ctx = PodCtx { uid, name: s("/metadata/name"), ns: s("/metadata/namespace"), now: &now };
    let cs = containers(pod);
    let statuses: Vec<Value> = cs.iter().map(|(c, image)| container_status(&ctx, c, image, state)).collect();
    let names: Vec<&str> = cs.iter().map(|(n, _)| n.as_str()).collect();
    let ready = state.ready();
    let (phase, reason, message) = match state {
        PodState::Succeeded => ("Succeeded", Some("PodCompleted"), None),
        PodState::Failed(_) => ("Failed", Some("PodFailed"), None),
        _ if ready => ("Running", None, None),
        other => {
            let phase =
                if matches!(other, PodState::Creating | PodState::ImagePullBackOff) { "Pending" } else { "Running" };
            (phase, Some("ContainersNotReady"), Some(format!("containers with unready status: [{}]", names.join(" "))))
        }
    };
    let done = matches!(state, PodState::Succeeded | PodState::Failed(_));
    let init_reason = (*state == PodState::Succeeded).then_some("PodCompleted");
    json!({
        "phase": phase,
        "hostIP": "172.18.0.2",
        "podIP": format!("10.244.0.{}", 2 + (util::stable_hash(&json!(ctx.name)) % 250)),
        "startTime": now,
        "qosClass": "BestEffort",
        "conditions": [
            cond("PodReadyToStartContainers", *state != PodState::Creating && !done, None, None),
            cond("Initialized", true, init_reason, None),
            cond("Ready", ready, reason, message.clone()),
            cond("ContainersReady", ready, reason, message),
            cond("PodScheduled", true, None, None),
        ],
        "containerStatuses": statuses,
    })
}

fn has_pvc(pod: &Value) -> bool {
    pod.pointer("/spec/volumes")
        .and_then(Value::as_array)
        .is_some_and(|v| v.iter().any(|v| v.get("persistentVolumeClaim").is_some()))
}

fn unschedulable_message(has_pvc: bool) -> String {
    if has_pvc {
        "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.".into()
    } else {
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".into()
    }
}

fn pod_events(store: &mut Store, pod: &Value, uid: &str, state: &PodState) {
    let ns = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_owned();
    let name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
    let involved = |field: Option<String>| {
        let mut v = json!({"kind": "Pod", "namespace": ns, "name": name, "uid": uid, "apiVersion": "v1"});
        if let Some(f) = field {
            v["fieldPath"] = json!(f);
        }
        v
    };
    let mut ev = |ty: &str, reason: &str, message: String, component: &str, field: Option<String>| {
        record_event(store, &ns, &name, involved(field), ty, reason, &message, component);
    };
    if *state == PodState::Unschedulable {
        ev("Warning", "FailedScheduling", unschedulable_message(has_pvc(pod)), "default-scheduler", None);
        return;
    }
    if *state == PodState::Creating {
        ev("Normal", "Scheduled", format!("Successfully assigned {ns}/{name} to {NODE}"), "default-scheduler", None);
        return;
    }
    for (c, image) in containers(pod) {
        let field = Some(format!("spec.containers{{{c}}}"));
        match state {
            PodState::ImagePullBackOff => {
                ev("Normal", "Pulling", format!("Pulling image \"{image}\""), "kubelet", field.clone());
                ev(
                    "Warning",
                    "Failed",
                    format!(
                        "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": not found"
                    ),
                    "kubelet",
                    field.clone(),
                );
                ev("Warning", "Failed", "Error: ErrImagePull".into(), "kubelet", field.clone());
                ev("Normal", "BackOff", format!("Back-off pulling image \"{image}\""), "kubelet", field.clone());
                ev("Warning", "Failed", "Error: ImagePullBackOff".into(), "kubelet", field);
            }
            PodState::CrashLoop(..) => {
                ev("Normal", "Started", format!("Started container {c}"), "kubelet", field.clone());
                ev(
                    "Warning",
                    "BackOff",
                    format!("Back-off restarting failed container {c} in pod {name}_{ns}({uid})"),
                    "kubelet",
                    field,
                );
            }
            PodState::NotReady(msg) => {
                ev("Normal", "Started", format!("Started container {c}"), "kubelet", field.clone());
                if let Some(m) = msg {
                    ev("Warning", "Unhealthy", format!("Readiness probe failed: {m}"), "kubelet", field);
                }
            }
            PodState::Ready | PodState::Succeeded | PodState::Failed(_) => {
                ev("Normal", "Started", format!("Started container {c}"), "kubelet", field);
            }
            PodState::Creating | PodState::Unschedulable => {}
        }
    }
}

/// Writes (or bumps the count of) a core/v1 Event about `involved`.
#[allow(clippy::too_many_arguments)]
fn record_event(
    store: &mut Store,
    ns: &str,
    about: &str,
    involved: Value,
    ty: &str,
    reason: &str,
    message: &str,
    component: &str,
) {
    let now = util::now_rfc3339();
    let id = util::stable_hash(&json!([involved.get("uid"), reason, message]));
    let name = format!("{about}.{id:016x}");
    let existing = store.get(res::EVENTS, Some(ns), &name).cloned();
    let event = match existing {
        Some(mut e) => {
            let count = e.get("count").and_then(Value::as_i64).unwrap_or(1);
            e["count"] = json!(count + 1);
            e["lastTimestamp"] = json!(now);
            e
        }
        None => json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": ty,
            "source": {"component": component, "host": if component == "kubelet" { Some(NODE) } else { None }},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "eventTime": null,
            "reportingComponent": component,
            "reportingInstance": if component == "kubelet" { NODE } else { "" },
        }),
    };
    let _ = store.put_internal(res::EVENTS, event, MANAGER);
}
