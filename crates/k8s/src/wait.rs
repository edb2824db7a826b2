//! Readiness of workloads (kubectl rollout status rules), and why a workload is not ready.
//!
//! Waiting is a WATCH on the workload (from the resourceVersion the apply returned) and one on
//! its pods, never a polling loop: a status change is seen as soon as the API server sends it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, Client};

use crate::error::Error;
use crate::object::labels;

/// Where a rollout is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rollout {
    Ready,
    /// Not ready yet, with why (from the workload status).
    Progressing(String),
    /// Will not become ready without a change (Deployment `ProgressDeadlineExceeded`).
    Failed(String),
}

/// `kubectl rollout status` for a StatefulSet: the controller has seen the current generation,
/// every replica is updated and ready, and the update revision is the current one.
pub fn statefulset_rollout(s: &StatefulSet) -> Rollout {
    let generation = s.metadata.generation.unwrap_or(0);
    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(st) = &s.status else {
        return Rollout::Progressing("waiting for the controller to observe the StatefulSet".into());
    };
    if st.observed_generation.unwrap_or(0) < generation {
        return Rollout::Progressing("waiting for the StatefulSet spec update to be observed".into());
    }
    let ready = st.ready_replicas.unwrap_or(0);
    if ready < want {
        return Rollout::Progressing(format!("{ready} of {want} pods ready"));
    }
    let partition = s
        .spec
        .as_ref()
        .and_then(|s| s.update_strategy.as_ref())
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    let updated = st.updated_replicas.unwrap_or(0);
    if updated < want - partition {
        return Rollout::Progressing(format!("{updated} of {} pods updated", want - partition));
    }
    if partition == 0 && st.update_revision.is_some() && st.update_revision != st.current_revision {
        return Rollout::Progressing(format!(
            "rolling update to revision {} in progress",
            st.update_revision.as_deref().unwrap_or_default()
        ));
    }
    Rollout::Ready
}

/// `kubectl rollout status` for a Deployment.
pub fn deployment_rollout(d: &Deployment) -> Rollout {
    let generation = d.metadata.generation.unwrap_or(0);
    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(st) = &d.status else {
        return Rollout::Progressing("waiting for the controller to observe the Deployment".into());
    };
    if st.observed_generation.unwrap_or(0) < generation {
        return Rollout::Progressing("waiting for the Deployment spec update to be observed".into());
    }
    if let Some(c) = st
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Progressing" && c.reason.as_deref() == Some("ProgressDeadlineExceeded"))
    {
        return Rollout::Failed(format!(
            "ProgressDeadlineExceeded: {}",
            c.message.as_deref().unwrap_or("rollout did not progress")
        ));
    }
    let updated = st.updated_replicas.unwrap_or(0);
    if updated < want {
        return Rollout::Progressing(format!("{updated} of {want} new replicas updated"));
    }
    let total = st.replicas.unwrap_or(0);
    if total > updated {
        return Rollout::Progressing(format!("{} old replicas pending termination", total - updated));
    }
    let available = st.available_replicas.unwrap_or(0);
    if available < updated {
        return Rollout::Progressing(format!("{available} of {updated} updated replicas available"));
    }
    Rollout::Ready
}

/// Why a pod is not ready, from its status (container states, scheduling), if anything specific.
pub fn pod_reason(p: &Pod) -> Option<String> {
    let name = p.metadata.name.as_deref().unwrap_or("pod");
    let st = p.status.as_ref()?;
    for c in st.container_statuses.iter().flatten().chain(st.init_container_statuses.iter().flatten()) {
        if let Some(w) = c.state.as_ref().and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or("Waiting");
            let mut s = format!("pod {name}: container {} {reason}", c.name);
            if let Some(m) = w.message.as_deref().filter(|m| !m.is_empty()) {
                s.push_str(&format!(": {m}"));
            }
            if let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref()) {
                s.push_str(&format!(
                    " (last exit: {} code {}, {} restarts)",
                    t.reason.as_deref().unwrap_or("terminated"),
                    t.exit_code,
                    c.restart_count
                ));
            }
            return Some(s);
        }
        if let Some(t) = c.state.as_ref().and_then(|s| s.terminated.as_ref()) {
            return Some(format!(
                "pod {name}: container {} terminated: {} (exit code {})",
                c.name,
                t.reason.as_deref().unwrap_or("Error"),
                t.exit_code
            ));
        }
        if !c.ready
            && let Some(t) = c.last_state.as_ref().and_then(|s| s.terminated.as_ref())
            && t.reason.as_deref() == Some("OOMKilled")
        {
            return Some(format!("pod {name}: container {} was OOMKilled ({} restarts)", c.name, c.restart_count));
        }
    }
    for cond in st.conditions.iter().flatten() {
        if cond.type_ == "PodScheduled" && cond.status == "False" {
            return Some(format!(
                "pod {name}: unschedulable: {}",
                cond.message.as_deref().or(cond.reason.as_deref()).unwrap_or("no node fits")
            ));
        }
    }
    for cond in st.conditions.iter().flatten() {
        if cond.type_ == "Ready" && cond.status == "False" && st.phase.as_deref() == Some("Running") {
            return Some(format!(
                "pod {name}: running, not ready{}",
                cond.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
            ));
        }
    }
    match st.phase.as_deref() {
        Some("Pending") => Some(format!("pod {name}: Pending")),
        Some("Failed") => {
            Some(format!("pod {name}: Failed{}", st.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()))
        }
        _ => None,
    }
}

/// One-line pod summary for `status`.
pub fn pod_summary(p: &Pod) -> String {
    let name = p.metadata.name.as_deref().unwrap_or("pod");
    let st = p.status.as_ref();
    let phase = st.and_then(|s| s.phase.as_deref()).unwrap_or("Unknown");
    let cs: Vec<_> = st.and_then(|s| s.container_statuses.clone()).unwrap_or_default();
    let ready = cs.iter().filter(|c| c.ready).count();
    let restarts: i32 = cs.iter().map(|c| c.restart_count).sum();
    let mut s = format!("{name}: {phase}, {ready}/{} ready, {restarts} restarts", cs.len().max(1));
    if let Some(up) = st.and_then(|s| s.start_time.as_ref()).and_then(|t| deploy_report::up_since(&t.0.to_string())) {
        s.push_str(&format!(", {up}"));
    }
    if let Some(r) = pod_reason(p) {
        s.push_str(&format!(" ({})", r.trim_start_matches(&format!("pod {name}: "))));
    }
    s
}

/// Waiting reasons a pod does not recover from without a change (or only
/// after a long back-off): the wait gives up once one has lasted [`fail_grace`].
pub const FATAL_REASONS: &[&str] =
    &["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName"];

/// How long a fatal waiting reason may last before the wait gives up: 10 s,
/// or `DEPLOY_K8S_FAIL_GRACE` (like `3s`, `500ms`).
pub fn fail_grace() -> Duration {
    std::env::var("DEPLOY_K8S_FAIL_GRACE")
        .ok()
        .and_then(|v| v.parse::<deploy_topology::units::Dur>().ok())
        .map_or(Duration::from_secs(10), |d| d.get())
}

/// Whether a pod waits for a reason in [`FATAL_REASONS`].
pub fn pod_is_stuck(p: &Pod) -> bool {
    let st = p.status.as_ref();
    st.and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
        .any(|r| FATAL_REASONS.contains(&r))
}

/// `kubectl wait --for=condition=Complete` for a Job: `Complete` is ready,
/// `Failed` is final.
pub fn job_rollout(j: &Job) -> Rollout {
    let conds = j.status.as_ref().and_then(|s| s.conditions.as_ref());
    let holds = |t: &str| conds.into_iter().flatten().find(|c| c.type_ == t && c.status == "True");
    if holds("Complete").is_some() {
        return Rollout::Ready;
    }
    if let Some(c) = holds("Failed") {
        return Rollout::Failed(format!(
            "Job failed: {}: {}",
            c.reason.as_deref().unwrap_or("Failed"),
            c.message.as_deref().unwrap_or("its pod did not succeed")
        ));
    }
    let active = j.status.as_ref().and_then(|s| s.active).unwrap_or(0);
    Rollout::Progressing(if active > 0 { "running until it completes".into() } else { "waiting for its pod".into() })
}

/// The workload a wait is for.
#[derive(Clone, Debug)]
pub enum Workload {
    StatefulSet(StatefulSet),
    Deployment(Deployment),
    Job(Job),
}

impl Workload {
    pub fn rollout(&self) -> Rollout {
        match self {
            Workload::StatefulSet(s) => statefulset_rollout(s),
            Workload::Deployment(d) => deployment_rollout(d),
            Workload::Job(j) => job_rollout(j),
        }
    }
    fn meta(&self) -> &kube::api::ObjectMeta {
        match self {
            Workload::StatefulSet(s) => &s.metadata,
            Workload::Deployment(d) => &d.metadata,
            Workload::Job(j) => &j.metadata,
        }
    }
    fn resource_version(&self) -> String {
        self.meta().resource_version.clone().unwrap_or_default()
    }
    fn name(&self) -> String {
        self.meta().name.clone().unwrap_or_default()
    }
}

/// The outcome of a wait.
pub struct Waited {
    pub ready: bool,
    /// Last reason seen (empty when ready).
    pub reason: String,
    /// On failure: pod states and recent events.
    pub detail: Vec<String>,
}

impl Waited {
    fn ready() -> Self {
        Waited { ready: true, reason: String::new(), detail: Vec::new() }
    }
}

fn map_event<K>(e: WatchEvent<K>, f: impl Fn(K) -> Workload) -> WatchEvent<Workload> {
    match e {
        WatchEvent::Added(k) => WatchEvent::Added(f(k)),
        WatchEvent::Modified(k) => WatchEvent::Modified(f(k)),
        WatchEvent::Deleted(k) => WatchEvent::Deleted(f(k)),
        WatchEvent::Bookmark(b) => WatchEvent::Bookmark(b),
        WatchEvent::Error(s) => WatchEvent::Error(s),
    }
}

type Events = futures::stream::BoxStream<'static, Result<WatchEvent<Workload>, kube::Error>>;

/// A watch on one workload, from `rv`.
async fn watch_one(client: &Client, ns: &str, like: &Workload, rv: &str) -> Result<Events, kube::Error> {
    let wp = WatchParams::default().fields(&format!("metadata.name={}", like.name()));
    Ok(match like {
        Workload::StatefulSet(_) => Api::<StatefulSet>::namespaced(client.clone(), ns)
            .watch(&wp, rv)
            .await?
            .map_ok(|e| map_event(e, Workload::StatefulSet))
            .boxed(),
        Workload::Deployment(_) => Api::<Deployment>::namespaced(client.clone(), ns)
            .watch(&wp, rv)
            .await?
            .map_ok(|e| map_event(e, Workload::Deployment))
            .boxed(),
        Workload::Job(_) => Api::<Job>::namespaced(client.clone(), ns)
            .watch(&wp, rv)
            .await?
            .map_ok(|e| map_event(e, Workload::Job))
            .boxed(),
    })
}

/// Reads one workload again (after a watch said its history is too old).
async fn get_one(client: &Client, ns: &str, like: &Workload) -> Result<Workload, kube::Error> {
    let name = like.name();
    Ok(match like {
        Workload::StatefulSet(_) => Workload::StatefulSet(Api::namespaced(client.clone(), ns).get(&name).await?),
        Workload::Deployment(_) => Workload::Deployment(Api::namespaced(client.clone(), ns).get(&name).await?),
        Workload::Job(_) => Workload::Job(Api::namespaced(client.clone(), ns).get(&name).await?),
    })
}

/// What the watches have seen so far.
struct Seen<'a> {
    report: &'a (dyn Fn(&str) + Send + Sync),
    last_reason: String,
    /// Per pod: why it is not ready.
    pods: BTreeMap<String, String>,
    /// Since when some pod has been stuck for a reason in [`FATAL_REASONS`].
    stuck_since: Option<Instant>,
}

impl Seen<'_> {
    fn say(&mut self, why: String) {
        if why != self.last_reason {
            (self.report)(&why);
            self.last_reason = why;
        }
    }
    fn pod(&mut self, p: &Pod) {
        let name = p.metadata.name.clone().unwrap_or_default();
        match pod_reason(p) {
            Some(r) => {
                self.say(r.clone());
                self.pods.insert(name, r);
            }
            None => {
                self.pods.remove(&name);
            }
        }
        if pod_is_stuck(p) {
            self.stuck_since.get_or_insert_with(Instant::now);
        } else if self.pods.is_empty() {
            self.stuck_since = None;
        }
    }
}

/// Waits until `initial` (the object the apply returned) is rolled out (a Job:
/// complete), has failed, a pod has been stuck for [`fail_grace`], or
/// `deadline`. `report` is called with each new reason. Requests: none when
/// already ready; otherwise one watch on the workload and one on its pods
/// (re-opened only if the server closes them), and, on failure, one list of
/// pods, their logs, and one list of events for the detail.
pub async fn wait_ready(
    client: &Client,
    namespace: &str,
    selector: &str,
    initial: Workload,
    deadline: Instant,
    report: &(dyn Fn(&str) + Send + Sync),
) -> Result<Waited, Error> {
    let name = initial.name();
    let first = initial.rollout();
    let mut seen = Seen { report, last_reason: String::new(), pods: BTreeMap::new(), stuck_since: None };
    let outcome = match first {
        Rollout::Ready => return Ok(Waited::ready()),
        Rollout::Failed(r) => Ok(Err(r)),
        Rollout::Progressing(r) => {
            seen.say(r);
            let watching = watch_until_settled(client, namespace, selector, initial, &mut seen);
            tokio::time::timeout_at(deadline.into(), watching).await.unwrap_or_else(|_| Ok(Err(String::new())))
        }
    };
    let failure = match outcome? {
        Ok(()) => return Ok(Waited::ready()),
        Err(r) if r.is_empty() => format!("timed out: {}", seen.last_reason),
        Err(r) => r,
    };
    let detail = failure_detail(client, namespace, selector, &name).await;
    Ok(Waited { ready: false, reason: failure, detail })
}

/// The watch loop: `Ok(Ok(()))` ready, `Ok(Err(reason))` will not get there.
async fn watch_until_settled(
    client: &Client,
    ns: &str,
    selector: &str,
    mut current: Workload,
    seen: &mut Seen<'_>,
) -> Result<Result<(), String>, Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut rv = current.resource_version();
    let mut pod_stream = pods.watch(&WatchParams::default().labels(selector), &rv).await?.boxed();
    let mut pods_open = true;
    let grace = fail_grace();
    loop {
        let mut wl = watch_one(client, ns, &current, &rv).await?;
        loop {
            let stuck_at = seen.stuck_since.map(|t| t + grace);
            tokio::select! {
                ev = wl.next() => match ev {
                    // The server closed the watch (its timeout): watch again from the last version.
                    None => break,
                    Some(Ok(WatchEvent::Added(w) | WatchEvent::Modified(w))) => {
                        rv = w.resource_version();
                        match w.rollout() {
                            Rollout::Ready => return Ok(Ok(())),
                            Rollout::Failed(r) => return Ok(Err(r)),
                            // A pod-level reason says more than "0 of 1 pods ready".
                            Rollout::Progressing(r) => seen.say(seen.pods.values().next().cloned().unwrap_or(r)),
                        }
                        current = w;
                    }
                    Some(Ok(WatchEvent::Deleted(_))) => return Ok(Err(format!("{} was deleted while waiting", current.name()))),
                    Some(Ok(WatchEvent::Bookmark(b))) => rv = b.metadata.resource_version,
                    Some(Ok(WatchEvent::Error(s))) if s.code == 410 => {
                        // Too old: read once, and watch again from there.
                        current = get_one(client, ns, &current).await?;
                        rv = current.resource_version();
                        match current.rollout() {
                            Rollout::Ready => return Ok(Ok(())),
                            Rollout::Failed(r) => return Ok(Err(r)),
                            Rollout::Progressing(_) => break,
                        }
                    }
                    Some(Ok(WatchEvent::Error(s))) => return Err(Error::Kube(kube::Error::Api(s))),
                    Some(Err(e)) => return Err(Error::Kube(e)),
                },
                ev = pod_stream.next(), if pods_open => match ev {
                    None => pods_open = false,
                    Some(Ok(WatchEvent::Added(p) | WatchEvent::Modified(p))) => seen.pod(&p),
                    Some(Ok(WatchEvent::Deleted(p))) => {
                        seen.pods.remove(p.metadata.name.as_deref().unwrap_or_default());
                    }
                    // Pod watch errors only cost live reasons; the detail is listed on failure.
                    Some(_) => {}
                },
                _ = sleep_until(stuck_at) => {
                    return Ok(Err(format!("{} (for more than {})", seen.last_reason, deploy_orchestrator::human(grace))));
                }
            }
        }
    }
}

/// Sleeps until `at`; forever when `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Pod states and the recent events of a workload, its pods and their claims.
pub async fn failure_detail(client: &Client, namespace: &str, selector: &str, workload: &str) -> Vec<String> {
    let mut out = Vec::new();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut names = vec![workload.to_string()];
    match pods.list(&ListParams::default().labels(selector)).await {
        Ok(list) => {
            for p in &list.items {
                out.push(pod_summary(p));
                names.push(p.metadata.name.clone().unwrap_or_default());
            }
            if list.items.is_empty() {
                out.push("no pods created".into());
            }
            for p in list.items.iter().take(2) {
                out.extend(log_tail(&pods, p.metadata.name.as_deref().unwrap_or_default(), 20).await);
            }
        }
        Err(e) => out.push(format!("cannot list pods: {e}")),
    }
    let events: Api<Event> = Api::namespaced(client.clone(), namespace);
    if let Ok(list) = events.list(&ListParams::default()).await {
        let mut evs: Vec<&Event> = list
            .items
            .iter()
            .filter(|e| {
                let n = e.involved_object.name.as_deref().unwrap_or_default();
                names.iter().any(|x| x == n)
                    || (e.involved_object.kind.as_deref() == Some("PersistentVolumeClaim")
                        && n.contains(&format!("-{workload}-")))
            })
            .collect();
        evs.sort_by_key(|e| e.last_timestamp.as_ref().map(|t| t.0));
        for e in evs.iter().rev().take(8).rev() {
            out.push(format!(
                "event {} {}/{}: {}: {}",
                e.type_.as_deref().unwrap_or("Normal"),
                e.involved_object.kind.as_deref().unwrap_or_default(),
                e.involved_object.name.as_deref().unwrap_or_default(),
                e.reason.as_deref().unwrap_or_default(),
                e.message.as_deref().unwrap_or_default()
            ));
        }
    }
    out
}

/// The label selector of a service's pods.
pub fn pod_selector(project: &str, service: &str) -> String {
    format!("{}={service},{}={project}", labels::NAME, labels::INSTANCE)
}

/// The last `lines` lines a pod's container wrote, each prefixed for display
/// (nothing when the pod has no log yet).
pub async fn log_tail(pods: &Api<Pod>, pod: &str, lines: i64) -> Vec<String> {
    let lp = kube::api::LogParams { tail_lines: Some(lines), ..Default::default() };
    match pods.logs(pod, &lp).await {
        Ok(text) => text.lines().filter(|l| !l.trim().is_empty()).map(|l| format!("log {pod}: {l}")).collect(),
        Err(_) => Vec::new(),
    }
}
