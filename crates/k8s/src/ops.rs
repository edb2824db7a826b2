//! `apply`, `diff`, `status` and `destroy` against a cluster, through `kube`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deploy_report::{
    Action, ApplyReport, Change, DestroyReport, DiffReport, FieldChange, ObjectDiff, Phase, Progress, ServiceResult,
    ServiceStatus, StatusReport,
};
use deploy_topology::{Condition, Env, Topology};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::config::KubeConfigOptions;
use kube::{Api, Client, Config};
use serde_json::Value as Json;
use tokio::sync::watch;

use crate::error::{Error, conflict_message, describe};
use crate::object::{Object, labels};
use crate::render::{Rendered, render_for_apply};
use crate::wait::{self, Rollout, Workload};

/// The field manager this tool applies as.
pub const FIELD_MANAGER: &str = "deploy";
/// The field manager of `--force-recreate` restarts (kept apart so `deploy` never owns the annotation).
pub const RESTART_MANAGER: &str = "deploy-restart";
/// Pod-template annotation a `--force-recreate` sets (what `kubectl rollout restart` does).
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// A client from the user's kubeconfig (`KUBECONFIG`, `~/.kube/config`; `context` picks a context),
/// falling back to the in-cluster service account.
pub async fn client(context: Option<&str>) -> Result<Client, Error> {
    let config = match context {
        Some(c) => Config::from_kubeconfig(&KubeConfigOptions { context: Some(c.to_string()), ..Default::default() })
            .await
            .map_err(|e| Error::Config(format!("context `{c}`: {e}")))?,
        None => Config::infer().await.map_err(|e| Error::Config(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| Error::Config(e.to_string()))
}

#[derive(Clone, Debug, Default)]
pub struct ApplyOptions {
    /// Services to apply (with their dependencies); empty: all.
    pub services: Vec<String>,
    /// Deadline for the whole apply, waits included.
    pub timeout: Duration,
    /// Take over fields owned by other field managers.
    pub force_conflicts: bool,
    /// Restart the pods of every applied workload, even unchanged ones.
    pub force_recreate: bool,
    /// Delete objects with this project's labels that the topology no longer has (never PVCs).
    pub prune: bool,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `Kind/name` → resourceVersion.
type Versions = HashMap<String, String>;

/// Server-side applies one typed object and returns what the server stored (or would store).
pub async fn patch_object(client: &Client, obj: &Object, pp: &PatchParams) -> Result<Object, kube::Error> {
    let name = obj.name();
    let ns = obj.namespace().unwrap_or("default");
    macro_rules! ns_patch {
        ($t:ty, $v:ident, $o:expr) => {
            Object::$v(Api::<$t>::namespaced(client.clone(), ns).patch(name, pp, &Patch::Apply($o)).await?)
        };
    }
    Ok(match obj {
        Object::Namespace(o) => {
            Object::Namespace(Api::<Namespace>::all(client.clone()).patch(name, pp, &Patch::Apply(o)).await?)
        }
        Object::Secret(o) => ns_patch!(Secret, Secret, o),
        Object::Service(o) => ns_patch!(Service, Service, o),
        Object::PersistentVolumeClaim(o) => ns_patch!(PersistentVolumeClaim, PersistentVolumeClaim, o),
        Object::StatefulSet(o) => ns_patch!(StatefulSet, StatefulSet, o),
        Object::Deployment(o) => ns_patch!(Deployment, Deployment, o),
        Object::NetworkPolicy(o) => ns_patch!(NetworkPolicy, NetworkPolicy, o),
    })
}

/// Every object of `kinds` in `ns` carrying this project's labels. One list request per kind.
pub async fn list_managed(
    client: &Client,
    ns: &str,
    project: &str,
    kinds: &[&str],
) -> Result<Vec<Object>, kube::Error> {
    let lp = ListParams::default().labels(&labels::project_selector(project));
    let mut out = Vec::new();
    for kind in kinds {
        macro_rules! list {
            ($t:ty, $v:ident) => {
                out.extend(Api::<$t>::namespaced(client.clone(), ns).list(&lp).await?.items.into_iter().map(Object::$v))
            };
        }
        match *kind {
            "Secret" => list!(Secret, Secret),
            "Service" => list!(Service, Service),
            "PersistentVolumeClaim" => list!(PersistentVolumeClaim, PersistentVolumeClaim),
            "StatefulSet" => list!(StatefulSet, StatefulSet),
            "Deployment" => list!(Deployment, Deployment),
            "NetworkPolicy" => list!(NetworkPolicy, NetworkPolicy),
            _ => {}
        }
    }
    Ok(out)
}

/// Deletes one object; an absent one is not an error.
pub async fn delete_object(client: &Client, kind: &str, ns: &str, name: &str) -> Result<(), kube::Error> {
    let dp = DeleteParams::background();
    macro_rules! del {
        ($t:ty) => {
            Api::<$t>::namespaced(client.clone(), ns).delete(name, &dp).await.map(|_| ())
        };
    }
    let r = match kind {
        "Namespace" => Api::<Namespace>::all(client.clone()).delete(name, &dp).await.map(|_| ()),
        "Secret" => del!(Secret),
        "Service" => del!(Service),
        "PersistentVolumeClaim" => del!(PersistentVolumeClaim),
        "StatefulSet" => del!(StatefulSet),
        "Deployment" => del!(Deployment),
        "NetworkPolicy" => del!(NetworkPolicy),
        _ => Ok(()),
    };
    match r {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other,
    }
}

/// Objects of the plan that belong to the selection: project-wide ones and the selected services'.
fn selected_objects<'a>(plan: &'a Rendered, selected: &[String]) -> Vec<&'a Object> {
    plan.objects.iter().filter(|o| o.service().is_none_or(|s| selected.iter().any(|x| x == s))).collect()
}

fn selection(t: &Topology, services: &[String]) -> Result<Vec<String>, Error> {
    t.select(services).map_err(|d| Error::Topology(d.into()))
}

/// What `apply` and `diff` check before any request: the selected services
/// (all when `services` is empty) with their dependencies, every value of
/// theirs resolvable from `env`. Returns that selection, in dependency order.
pub fn preflight(t: &Topology, env: &Env, services: &[String]) -> Result<Vec<String>, Error> {
    let selected = selection(t, services)?;
    t.check_resolvable(env, &selected)?;
    Ok(selected)
}

/// How far a service has got, for its dependents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DepState {
    Pending,
    Applied,
    Ready,
    Failed,
}

/// Applies the topology: namespace, Secrets, NetworkPolicies, Services, then the workloads in
/// dependency order, waiting (by watch) for each to be ready before starting the services that
/// depend on it with `service_healthy`. Everything resolves before the first request.
pub async fn apply(
    client: &Client,
    t: &Topology,
    env: &Env,
    opts: &ApplyOptions,
    progress: Arc<dyn Progress>,
) -> Result<ApplyReport, Error> {
    let start = Instant::now();
    let deadline = start + opts.timeout;
    // No request before everything resolves: no partial apply.
    let selected = preflight(t, env, &opts.services)?;
    let plan = render_for_apply(t, env, &selected)?;
    for w in &plan.warnings {
        progress.note(w);
    }
    let ns = t.namespace.as_str();
    let mut pp = PatchParams::apply(FIELD_MANAGER);
    if opts.force_conflicts {
        pp = pp.force();
    }
    let mut report = ApplyReport {
        target: "k8s".into(),
        project: t.name.clone(),
        ok: true,
        elapsed_ms: 0,
        services: Vec::new(),
        pruned: Vec::new(),
        warnings: plan.warnings.clone(),
        error: None,
    };

    // What exists now: tells created / updated / unchanged apart, and what --prune removes.
    let before_objects =
        list_managed(client, ns, &t.name, &["Secret", "Service", "StatefulSet", "Deployment", "NetworkPolicy"]).await?;
    let before: Versions =
        before_objects.iter().map(|o| (o.id(), o.metadata().resource_version.clone().unwrap_or_default())).collect();

    let objects = selected_objects(&plan, &selected);
    let mut changed: HashMap<String, bool> = HashMap::new();
    let rank = |o: &Object| match o {
        Object::Namespace(_) => 0,
        Object::Secret(_) => 1,
        Object::NetworkPolicy(_) => 2,
        Object::Service(_) => 3,
        Object::PersistentVolumeClaim(_) => 4,
        Object::StatefulSet(_) | Object::Deployment(_) => 5,
    };
    let mut first: Vec<&Object> = objects.iter().copied().filter(|o| !o.is_workload()).collect();
    first.sort_by_key(|o| rank(o));
    for o in first {
        if let Some(s) = o.service() {
            progress.update(s, &Phase::Creating, start.elapsed());
        }
        match patch_object(client, o, &pp).await {
            Ok(live) => {
                if let Some(s) = o.service() {
                    let rv = live.metadata().resource_version.clone().unwrap_or_default();
                    if before.get(&o.id()) != Some(&rv) {
                        changed.insert(s.to_string(), true);
                    }
                }
            }
            Err(e) => {
                let msg = match &e {
                    kube::Error::Api(s) if s.code == 409 => conflict_message(&o.id(), s),
                    other => format!("{}: {}", o.id(), describe(other)),
                };
                return Ok(fail_all(report, &selected, &msg, o.service(), start, progress.as_ref()));
            }
        }
    }

    // Workloads, each after its dependencies.
    let mut senders: HashMap<String, watch::Sender<DepState>> = HashMap::new();
    let mut receivers: HashMap<String, watch::Receiver<DepState>> = HashMap::new();
    for s in &selected {
        let (tx, rx) = watch::channel(DepState::Pending);
        senders.insert(s.clone(), tx);
        receivers.insert(s.clone(), rx);
    }
    let ctx = Ctx {
        client,
        t,
        plan: &plan,
        pp: &pp,
        opts,
        before: &before,
        changed: &changed,
        progress: progress.clone(),
        deadline,
    };
    let tasks = selected.iter().map(|name| {
        let deps: Vec<(String, Condition, watch::Receiver<DepState>)> = t.services[name.as_str()]
            .depends_on
            .iter()
            .filter_map(|(d, c)| receivers.get(d).map(|rx| (d.clone(), *c, rx.clone())))
            .collect();
        let tx = senders.remove(name);
        let ctx = &ctx;
        async move {
            let r = ctx.service(name, deps, tx.as_ref()).await;
            if let Some(tx) = tx {
                tx.send_replace(if r.0.ready { DepState::Ready } else { DepState::Failed });
            }
            r
        }
    });
    let results = futures::future::join_all(tasks).await;
    let mut fatal: Option<String> = None;
    for (r, err) in results {
        if let Some(e) = err
            && fatal.is_none()
        {
            fatal = Some(e);
        }
        report.services.push(r);
    }
    report.ok = report.services.iter().all(|r| r.ready);
    if !report.ok {
        report.error = Some(fatal.unwrap_or_else(|| {
            let failed: Vec<String> = report
                .services
                .iter()
                .filter(|r| !r.ready)
                .map(|r| match &r.phase {
                    Phase::Failed { reason } => format!("{}: {reason}", r.service),
                    _ => r.service.clone(),
                })
                .collect();
            format!("not ready: {}", failed.join("; "))
        }));
    }

    if report.ok && opts.prune {
        let planned: Vec<String> = plan.objects.iter().map(Object::id).collect();
        for o in &before_objects {
            let in_scope = opts.services.is_empty() || o.service().is_some_and(|s| selected.iter().any(|x| x == s));
            if in_scope && !planned.contains(&o.id()) && !matches!(o, Object::PersistentVolumeClaim(_)) {
                delete_object(client, o.kind(), ns, o.name()).await?;
                report.pruned.push(o.id());
            }
        }
    }
    report.elapsed_ms = ms(start.elapsed());
    Ok(report)
}

fn fail_all(
    mut report: ApplyReport,
    selected: &[String],
    msg: &str,
    culprit: Option<&str>,
    start: Instant,
    progress: &dyn Progress,
) -> ApplyReport {
    for s in selected {
        let reason = if Some(s.as_str()) == culprit {
            msg.to_string()
        } else {
            "not applied: the apply stopped on an earlier error".to_string()
        };
        let phase = Phase::Failed { reason };
        progress.update(s, &phase, start.elapsed());
        report.services.push(ServiceResult {
            service: s.clone(),
            action: Action::Failed,
            phase,
            ready: false,
            elapsed_ms: ms(start.elapsed()),
            object: None,
            detail: Vec::new(),
        });
    }
    report.ok = false;
    report.error = Some(msg.to_string());
    report.elapsed_ms = ms(start.elapsed());
    report
}

struct Ctx<'a> {
    client: &'a Client,
    t: &'a Topology,
    plan: &'a Rendered,
    pp: &'a PatchParams,
    opts: &'a ApplyOptions,
    before: &'a Versions,
    changed: &'a HashMap<String, bool>,
    progress: Arc<dyn Progress>,
    deadline: Instant,
}

impl Ctx<'_> {
    /// Applies and waits for one service's workload. Returns its result and, for errors that
    /// should stop the run (conflicts, API errors), the message.
    async fn service(
        &self,
        name: &str,
        deps: Vec<(String, Condition, watch::Receiver<DepState>)>,
        applied: Option<&watch::Sender<DepState>>,
    ) -> (ServiceResult, Option<String>) {
        let progress = self.progress.as_ref();
        let mut result = ServiceResult {
            service: name.to_string(),
            action: Action::Failed,
            phase: Phase::Pending,
            ready: false,
            elapsed_ms: 0,
            object: None,
            detail: Vec::new(),
        };
        progress.update(name, &Phase::Pending, Duration::ZERO);
        for (dep, cond, mut rx) in deps {
            // service_healthy waits for ready; service_started (and completed) for the workload to be applied.
            let need = if cond == Condition::ServiceHealthy { DepState::Ready } else { DepState::Applied };
            let got = rx
                .wait_for(|s| {
                    *s == DepState::Failed
                        || *s == DepState::Ready
                        || (need == DepState::Applied && *s == DepState::Applied)
                })
                .await;
            if got.map(|s| *s == DepState::Failed).unwrap_or(true) {
                let reason = format!(
                    "dependency `{dep}` did not become {}",
                    if need == DepState::Ready { "ready" } else { "applied" }
                );
                result.phase = Phase::Failed { reason };
                progress.update(name, &result.phase, Duration::ZERO);
                return (result, None);
            }
        }
        let began = Instant::now();
        let Some(obj) = self.plan.workload(name) else {
            result.phase = Phase::Failed { reason: "no workload rendered".into() };
            return (result, None);
        };
        result.object = Some(obj.id());
        progress.update(name, &Phase::Creating, began.elapsed());
        let live = match patch_object(self.client, obj, self.pp).await {
            Ok(l) => l,
            Err(e) => {
                let msg = match &e {
                    kube::Error::Api(s) if s.code == 409 => conflict_message(&obj.id(), s),
                    other => format!("{}: {}", obj.id(), describe(other)),
                };
                result.phase = Phase::Failed { reason: msg.clone() };
                progress.update(name, &result.phase, began.elapsed());
                return (result, Some(msg));
            }
        };
        if let Some(tx) = applied {
            tx.send_replace(DepState::Applied);
        }
        let rv = live.metadata().resource_version.clone().unwrap_or_default();
        result.action = match self.before.get(&obj.id()) {
            None => Action::Created,
            Some(old) if *old != rv || self.changed.get(name).copied().unwrap_or(false) => Action::Updated,
            Some(_) => Action::Unchanged,
        };
        let mut live = live;
        if self.opts.force_recreate {
            match self.restart(obj).await {
                Ok(l) => {
                    live = l;
                    result.action = Action::Recreated;
                }
                Err(e) => {
                    let msg = format!("{}: restart: {}", obj.id(), describe(&e));
                    result.phase = Phase::Failed { reason: msg.clone() };
                    return (result, Some(msg));
                }
            }
        }
        let workload = match live {
            Object::StatefulSet(s) => Workload::StatefulSet(s),
            Object::Deployment(d) => Workload::Deployment(d),
            _ => return (result, None),
        };
        let selector = wait::pod_selector(&self.t.name, name);
        let report =
            |reason: &str| progress.update(name, &Phase::Waiting { reason: reason.to_string() }, began.elapsed());
        match wait::wait_ready(self.client, &self.t.namespace, &selector, workload, self.deadline, &report).await {
            Ok(w) if w.ready => {
                result.ready = true;
                result.phase = if result.action == Action::Unchanged { Phase::Unchanged } else { Phase::Ready };
            }
            Ok(w) => {
                result.action = Action::Failed;
                result.phase = Phase::Failed { reason: w.reason };
                result.detail = w.detail;
            }
            Err(e) => {
                result.action = Action::Failed;
                result.phase = Phase::Failed { reason: e.to_string() };
            }
        }
        result.elapsed_ms = ms(began.elapsed());
        progress.update(name, &result.phase, began.elapsed());
        (result, None)
    }

    /// `kubectl rollout restart`: a merge patch of the pod-template annotation, as a separate manager.
    async fn restart(&self, obj: &Object) -> Result<Object, kube::Error> {
        let now = format!(
            "{:?}",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
        );
        let body = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}});
        let pp = PatchParams { field_manager: Some(RESTART_MANAGER.into()), ..Default::default() };
        let ns = &self.t.namespace;
        Ok(match obj {
            Object::StatefulSet(_) => Object::StatefulSet(
                Api::<StatefulSet>::namespaced(self.client.clone(), ns)
                    .patch(obj.name(), &pp, &Patch::Merge(&body))
                    .await?,
            ),
            _ => Object::Deployment(
                Api::<Deployment>::namespaced(self.client.clone(), ns)
                    .patch(obj.name(), &pp, &Patch::Merge(&body))
                    .await?,
            ),
        })
    }
}

// ---------------------------------------------------------------- diff

/// Fields the server sets that say nothing about the desired state.
fn strip_noise(v: &mut Json) {
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        if let Some(m) = o.get_mut("metadata").and_then(Json::as_object_mut) {
            for k in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"] {
                m.remove(k);
            }
            if let Some(a) = m.get_mut("annotations").and_then(Json::as_object_mut) {
                for k in ["deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration"] {
                    a.remove(k);
                }
                if a.is_empty() {
                    m.remove("annotations");
                }
            }
        }
    }
}

fn flatten(prefix: &str, v: &Json, out: &mut BTreeMap<String, Json>) {
    match v {
        Json::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&p, x, out);
            }
        }
        Json::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.clone());
        }
    }
}

fn show(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Field-level differences live → planned, secrets masked.
pub fn field_changes(kind: &str, live: &Json, planned: &Json) -> Vec<FieldChange> {
    let (mut a, mut b) = (live.clone(), planned.clone());
    strip_noise(&mut a);
    strip_noise(&mut b);
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &a, &mut fa);
    flatten("", &b, &mut fb);
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| fa.get(*k) != fb.get(*k))
        .map(|k| {
            let secret = kind == "Secret" && (k.starts_with("data.") || k.starts_with("stringData."));
            FieldChange::new(k.clone(), fa.get(k).map(show).as_deref(), fb.get(k).map(show).as_deref(), secret)
        })
        .collect()
}

/// What `apply` would change: a server-side dry-run apply of every planned object compared with
/// the live object, plus objects with this project's labels that the topology no longer has.
/// Requests: one GET of the namespace, one LIST per managed kind, one dry-run PATCH per existing object.
pub async fn diff(client: &Client, t: &Topology, env: &Env, services: &[String]) -> Result<DiffReport, Error> {
    let selected = preflight(t, env, services)?;
    let plan = render_for_apply(t, env, &selected)?;
    let ns = t.namespace.as_str();
    let live_ns = Api::<Namespace>::all(client.clone()).get_opt(ns).await?;
    let live: Vec<Object> = if live_ns.is_some() {
        list_managed(
            client,
            ns,
            &t.name,
            &["Secret", "Service", "PersistentVolumeClaim", "StatefulSet", "Deployment", "NetworkPolicy"],
        )
        .await?
    } else {
        Vec::new()
    };
    let live_by_id: HashMap<String, &Object> = live.iter().map(|o| (o.id(), o)).collect();
    let pp = PatchParams::apply(FIELD_MANAGER).force().dry_run();
    let mut report = DiffReport { target: "k8s".into(), project: t.name.clone(), objects: Vec::new() };
    for o in selected_objects(&plan, &selected) {
        let current: Option<Json> = match o {
            Object::Namespace(_) => live_ns.as_ref().map(|n| serde_json::to_value(n).unwrap_or_default()),
            _ => live_by_id.get(&o.id()).map(|l| l.to_json()),
        };
        let (change, fields) = match current {
            None => (Change::Create, Vec::new()),
            Some(cur) => {
                let dry = patch_object(client, o, &pp)
                    .await
                    .map_err(|e| Error::Other(format!("{}: dry-run apply: {}", o.id(), describe(&e))))?;
                let fields = field_changes(o.kind(), &cur, &dry.to_json());
                (if fields.is_empty() { Change::Unchanged } else { Change::Update }, fields)
            }
        };
        report.objects.push(ObjectDiff {
            kind: o.kind().into(),
            name: o.name().into(),
            service: o.service().map(String::from),
            change,
            fields,
        });
    }
    let planned: Vec<String> = plan.objects.iter().map(Object::id).collect();
    for l in &live {
        let in_scope = services.is_empty() || l.service().is_some_and(|s| selected.iter().any(|x| x == s));
        // PVCs are data: never removed by prune, so never listed as deletions.
        if in_scope && !planned.contains(&l.id()) && !matches!(l, Object::PersistentVolumeClaim(_)) {
            report.objects.push(ObjectDiff {
                kind: l.kind().into(),
                name: l.name().into(),
                service: l.service().map(String::from),
                change: Change::Delete,
                fields: Vec::new(),
            });
        }
    }
    Ok(report)
}

// ---------------------------------------------------------------- status

/// Per service: its workload, ready/desired replicas, its pods and their states.
/// Requests: three LISTs (StatefulSets, Deployments, Services) and one of Pods.
pub async fn status(client: &Client, t: &Topology, services: &[String]) -> Result<StatusReport, Error> {
    let selected = selection(t, services)?;
    let ns = t.namespace.as_str();
    let live = list_managed(client, ns, &t.name, &["StatefulSet", "Deployment", "Service"]).await?;
    let pods = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!(
            "{}={},{}={}",
            labels::INSTANCE,
            t.name,
            labels::MANAGED_BY,
            labels::MANAGER
        )))
        .await?
        .items;
    let mut report = StatusReport { target: "k8s".into(), project: t.name.clone(), services: Vec::new() };
    for name in &selected {
        let workload = live.iter().find(|o| o.is_workload() && o.name() == name);
        let mine: Vec<&Pod> = pods
            .iter()
            .filter(|p| {
                p.metadata.labels.as_ref().and_then(|l| l.get(labels::NAME)).map(String::as_str) == Some(name.as_str())
            })
            .collect();
        let ports = live
            .iter()
            .find_map(|o| match o {
                Object::Service(s) if o.name() == name => s.spec.as_ref(),
                _ => None,
            })
            .map(|spec| {
                let ip = spec.cluster_ip.clone().unwrap_or_default();
                spec.ports
                    .iter()
                    .flatten()
                    .map(|p| format!("{ip}:{}/{}", p.port, p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase()))
                    .collect()
            })
            .unwrap_or_default();
        let (state, ready, health) = match workload {
            None => ("missing".to_string(), false, None),
            Some(o) => {
                let (desired, ready_n, rollout) = match o {
                    Object::StatefulSet(s) => (
                        s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                        s.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
                        wait::statefulset_rollout(s),
                    ),
                    Object::Deployment(d) => (
                        d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
                        d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
                        wait::deployment_rollout(d),
                    ),
                    _ => (0, 0, Rollout::Progressing(String::new())),
                };
                let health = match &rollout {
                    Rollout::Ready => "ready".to_string(),
                    Rollout::Progressing(r) | Rollout::Failed(r) => {
                        mine.iter().find_map(|p| wait::pod_reason(p)).unwrap_or_else(|| r.clone())
                    }
                };
                (format!("{ready_n}/{desired} ready"), rollout == Rollout::Ready, Some(health))
            }
        };
        report.services.push(ServiceStatus {
            service: name.clone(),
            object: workload.map(Object::id),
            state,
            ready,
            health,
            ports,
            detail: mine.iter().map(|p| wait::pod_summary(p)).collect(),
        });
    }
    Ok(report)
}

// ---------------------------------------------------------------- destroy

/// Deletes what this project created (label `app.kubernetes.io/instance=<project>,managed-by=deploy`).
/// PersistentVolumeClaims are kept unless `volumes`; the namespace is deleted only with `volumes`
/// (deleting a namespace deletes its claims) and only when this tool created it.
pub async fn destroy(client: &Client, t: &Topology, volumes: bool) -> Result<DestroyReport, Error> {
    let ns = t.namespace.as_str();
    let mut report =
        DestroyReport { target: "k8s".into(), project: t.name.clone(), removed: Vec::new(), kept: Vec::new() };
    let live = list_managed(client, ns, &t.name, crate::object::MANAGED_KINDS).await?;
    for o in &live {
        if matches!(o, Object::PersistentVolumeClaim(_)) && !volumes {
            report.kept.push(o.id());
            continue;
        }
        delete_object(client, o.kind(), ns, o.name()).await?;
        report.removed.push(o.id());
    }
    if volumes && let Some(n) = Api::<Namespace>::all(client.clone()).get_opt(ns).await? {
        let l = n.metadata.labels.unwrap_or_default();
        if l.get(labels::INSTANCE) == Some(&t.name)
            && l.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGER)
        {
            delete_object(client, "Namespace", "", ns).await?;
            report.removed.push(format!("Namespace/{ns}"));
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_changes_ignore_server_noise_and_mask_secrets() {
        let live = serde_json::json!({
            "metadata": {"name": "x", "resourceVersion": "5", "uid": "u", "managedFields": [1], "generation": 2,
                         "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"a": {"cpu": "250m"}, "list": [1, 2]},
            "status": {"ready": 1},
            "data": {"K": "b2xk"}
        });
        let planned = serde_json::json!({
            "metadata": {"name": "x", "resourceVersion": "6"},
            "spec": {"a": {"cpu": "500m"}, "list": [1, 2]},
            "data": {"K": "bmV3"}
        });
        let f = field_changes("Secret", &live, &planned);
        assert_eq!(f.len(), 2, "{f:?}");
        assert_eq!(f[0].path, "data.K");
        assert_eq!(f[0].planned.as_deref(), Some(deploy_report::MASK));
        assert_eq!(f[1].path, "spec.a.cpu");
        assert_eq!((f[1].live.as_deref(), f[1].planned.as_deref()), (Some("250m"), Some("500m")));
    }
}
