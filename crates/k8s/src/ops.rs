//! The Kubernetes API as this backend uses it: server-side apply, list, delete
//! of the typed objects; the dry-run diff; live status.

use std::collections::{BTreeMap, HashMap};

use deploy_orchestrator::Selection;
use deploy_report::{Change, DiffReport, FieldChange, ObjectDiff, ServiceStatus};
use deploy_topology::{Env, Topology};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::Value as Json;

use crate::error::{Error, describe};
use crate::object::{MANAGED_KINDS, Object, labels};
use crate::render::{Rendered, render_for_apply};
use crate::replace;
use crate::wait::{self, Rollout};

/// The field manager this tool applies as.
pub const FIELD_MANAGER: &str = "deploy";
/// The field manager of `--force-recreate` restarts (kept apart so `deploy` never owns the annotation).
pub const RESTART_MANAGER: &str = "deploy-restart";
/// Pod-template annotation a `--force-recreate` sets (what `kubectl rollout restart` does).
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

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
        Object::ConfigMap(o) => ns_patch!(ConfigMap, ConfigMap, o),
        Object::Service(o) => ns_patch!(Service, Service, o),
        Object::PersistentVolumeClaim(o) => ns_patch!(PersistentVolumeClaim, PersistentVolumeClaim, o),
        Object::StatefulSet(o) => ns_patch!(StatefulSet, StatefulSet, o),
        Object::Deployment(o) => ns_patch!(Deployment, Deployment, o),
        Object::Job(o) => ns_patch!(Job, Job, o),
        Object::NetworkPolicy(o) => ns_patch!(NetworkPolicy, NetworkPolicy, o),
    })
}

/// Every object of `kinds` in `ns` carrying this project's labels (and, when
/// `service` is given, that service's). One list request per kind.
pub async fn list_managed(
    client: &Client,
    ns: &str,
    project: &str,
    service: Option<&str>,
    kinds: &[&str],
) -> Result<Vec<Object>, kube::Error> {
    let mut selector = labels::project_selector(project);
    if let Some(s) = service {
        selector.push_str(&format!(",{}={s}", labels::SERVICE));
    }
    list_selected(client, ns, &selector, kinds).await
}

/// Every object of `kinds` in `ns` that `selector` matches. One list request per kind.
pub async fn list_selected(
    client: &Client,
    ns: &str,
    selector: &str,
    kinds: &[&str],
) -> Result<Vec<Object>, kube::Error> {
    let lp = ListParams::default().labels(selector);
    let mut out = Vec::new();
    for kind in kinds {
        macro_rules! list {
            ($t:ty, $v:ident) => {
                out.extend(Api::<$t>::namespaced(client.clone(), ns).list(&lp).await?.items.into_iter().map(Object::$v))
            };
        }
        match *kind {
            "Secret" => list!(Secret, Secret),
            "ConfigMap" => list!(ConfigMap, ConfigMap),
            "Service" => list!(Service, Service),
            "PersistentVolumeClaim" => list!(PersistentVolumeClaim, PersistentVolumeClaim),
            "StatefulSet" => list!(StatefulSet, StatefulSet),
            "Deployment" => list!(Deployment, Deployment),
            "Job" => list!(Job, Job),
            "NetworkPolicy" => list!(NetworkPolicy, NetworkPolicy),
            _ => {}
        }
    }
    Ok(out)
}

/// `cluster-ip:port/proto` of a service's Service.
fn service_ports(live: &[Object], name: &str) -> Vec<String> {
    let spec = live.iter().find_map(|o| match o {
        Object::Service(s) if o.name() == name => s.spec.as_ref(),
        _ => None,
    });
    let Some(spec) = spec else { return Vec::new() };
    let ip = spec.cluster_ip.clone().unwrap_or_default();
    let proto =
        |p: &k8s_openapi::api::core::v1::ServicePort| p.protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase();
    spec.ports.iter().flatten().map(|p| format!("{ip}:{}/{}", p.port, proto(p))).collect()
}

/// (state, ready, health) of a live workload and its pods.
fn workload_state(o: &Object, pods: &[&Pod]) -> (String, bool, Option<String>) {
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
        Object::Job(j) => {
            let r = wait::job_rollout(j);
            let state = match &r {
                Rollout::Ready => "completed".to_string(),
                Rollout::Failed(_) => "failed".to_string(),
                Rollout::Progressing(_) => "running".to_string(),
            };
            let health = match &r {
                Rollout::Ready => None,
                Rollout::Progressing(x) | Rollout::Failed(x) => Some(x.clone()),
            };
            return (state, r == Rollout::Ready, health);
        }
        _ => (0, 0, Rollout::Progressing(String::new())),
    };
    let health = match &rollout {
        Rollout::Ready => "ready".to_string(),
        Rollout::Progressing(r) | Rollout::Failed(r) => {
            pods.iter().find_map(|p| wait::pod_reason(p)).unwrap_or_else(|| r.clone())
        }
    };
    (format!("{ready_n}/{desired} ready"), rollout == Rollout::Ready, Some(health))
}

/// Deletes one object (its dependents in the background, Jobs' pods included);
/// an absent one is not an error.
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
        "ConfigMap" => del!(ConfigMap),
        "Service" => del!(Service),
        "PersistentVolumeClaim" => del!(PersistentVolumeClaim),
        "StatefulSet" => del!(StatefulSet),
        "Deployment" => del!(Deployment),
        "Job" => del!(Job),
        "NetworkPolicy" => del!(NetworkPolicy),
        _ => Ok(()),
    };
    match r {
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        other => other,
    }
}

/// Objects of the plan that belong to the selection: project-wide ones and the selected services'.
pub fn selected_objects<'a>(plan: &'a Rendered, selected: &[String]) -> Vec<&'a Object> {
    plan.objects.iter().filter(|o| o.service().is_none_or(|s| selected.iter().any(|x| x == s))).collect()
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

pub(crate) fn flatten(prefix: &str, v: &Json, out: &mut BTreeMap<String, Json>) {
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

pub(crate) fn show(v: &Json) -> String {
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
pub async fn diff(client: &Client, t: &Topology, env: &Env, sel: &Selection) -> Result<DiffReport, Error> {
    diff_with(client, t, env, sel, false).await
}

/// What `apply` would do, changing nothing (`apply --dry-run`): [`diff`], and
/// every object to be created is sent too as a server-side dry run
/// (`dryRun=All`), so that the server's validation and admission answer
/// before anything is applied. Objects of a namespace that does not exist yet
/// cannot be dry-run (the namespace would not exist for them); the namespace
/// itself is.
pub async fn dry_run(client: &Client, t: &Topology, env: &Env, sel: &Selection) -> Result<DiffReport, Error> {
    diff_with(client, t, env, sel, true).await
}

async fn diff_with(
    client: &Client,
    t: &Topology,
    env: &Env,
    sel: &Selection,
    check_creates: bool,
) -> Result<DiffReport, Error> {
    let selected = sel.services();
    let plan = render_for_apply(t, env, selected)?;
    let ns = t.namespace.as_str();
    let live_ns = Api::<Namespace>::all(client.clone()).get_opt(ns).await?;
    let live: Vec<Object> =
        if live_ns.is_some() { list_managed(client, ns, &t.name, None, MANAGED_KINDS).await? } else { Vec::new() };
    let live_by_id: HashMap<String, &Object> = live.iter().map(|o| (o.id(), o)).collect();
    let pp = PatchParams::apply(FIELD_MANAGER).force().dry_run();
    let mut report = DiffReport { target: "k8s".into(), project: t.name.clone(), objects: Vec::new() };
    for o in selected_objects(&plan, selected) {
        let current: Option<Json> = match o {
            Object::Namespace(_) => live_ns.as_ref().map(|n| serde_json::to_value(n).unwrap_or_default()),
            _ => live_by_id.get(&o.id()).map(|l| l.to_json()),
        };
        let (change, fields) = match current {
            None if check_creates && (live_ns.is_some() || o.namespace().is_none()) => {
                patch_object(client, o, &pp)
                    .await
                    .map_err(|e| Error::Other(format!("{}: dry-run apply: {}", o.id(), describe(&e))))?;
                (Change::Create, Vec::new())
            }
            None => (Change::Create, Vec::new()),
            // An existing namespace is never changed (apply leaves it as it is).
            Some(_) if matches!(o, Object::Namespace(_)) => (Change::Unchanged, Vec::new()),
            Some(cur) => object_changes(client, o, &cur, &pp).await?,
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
        let in_scope = !sel.is_partial() || l.service().is_some_and(|s| sel.contains(s));
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

/// How one existing object would change: a dry-run apply compared with it. A
/// Job is not dry-run (its template is immutable): it is re-created when its
/// template hash changed, re-run when it failed, and left alone otherwise.
async fn object_changes(
    client: &Client,
    o: &Object,
    cur: &Json,
    pp: &PatchParams,
) -> Result<(Change, Vec<FieldChange>), Error> {
    if let Object::Job(planned) = o {
        let live: Option<Job> = serde_json::from_value(cur.clone()).ok();
        let fields = live.map(|l| job_changes(&l, planned)).unwrap_or_default();
        // A Job is never changed in place: re-created or run again.
        return Ok((if fields.is_empty() { Change::Unchanged } else { Change::Replace }, fields));
    }
    if let Object::StatefulSet(_) = o {
        return statefulset_changes(client, o, cur, pp).await;
    }
    let dry = patch_object(client, o, pp)
        .await
        .map_err(|e| Error::Other(format!("{}: dry-run apply: {}", o.id(), describe(&e))))?;
    let fields = field_changes(o.kind(), cur, &dry.to_json());
    Ok((if fields.is_empty() { Change::Unchanged } else { Change::Update }, fields))
}

/// A StatefulSet's changes: its immutable fields that differ (each marked: apply
/// replaces the StatefulSet), then what a dry-run apply of the rest changes in place.
/// A dry run the server still refuses as invalid is reported as a replacement too.
async fn statefulset_changes(
    client: &Client,
    o: &Object,
    cur: &Json,
    pp: &PatchParams,
) -> Result<(Change, Vec<FieldChange>), Error> {
    let planned = o.to_json();
    let mut fields: Vec<FieldChange> = replace::immutable_changes(cur, &planned)
        .into_iter()
        .map(|mut c| {
            c.path.push_str(replace::IMMUTABLE_SUFFIX);
            c
        })
        .collect();
    // With immutable changes, the rest is dry-run on top of the live immutable fields.
    let spliced = if fields.is_empty() {
        None
    } else {
        let json = replace::with_live_immutables(cur, &planned);
        let sts: StatefulSet = serde_json::from_value(json).map_err(|e| Error::Other(format!("{}: {e}", o.id())))?;
        Some(Object::StatefulSet(sts))
    };
    match patch_object(client, spliced.as_ref().unwrap_or(o), pp).await {
        Ok(dry) => fields.extend(field_changes(o.kind(), cur, &dry.to_json())),
        Err(kube::Error::Api(s)) if s.code == 422 && fields.is_empty() => {
            let path = format!("spec{}", replace::IMMUTABLE_SUFFIX);
            fields.push(FieldChange::new(path, None, Some(&s.message), false));
        }
        Err(e) => return Err(Error::Other(format!("{}: dry-run apply: {}", o.id(), describe(&e)))),
    }
    let replaced = fields.iter().any(|f| f.path.ends_with(replace::IMMUTABLE_SUFFIX));
    let change = match (fields.is_empty(), replaced) {
        (true, _) => Change::Unchanged,
        (false, true) => Change::Replace,
        (false, false) => Change::Update,
    };
    Ok((change, fields))
}

/// What apply does to a live Job: nothing, re-create it (template changed), or re-run it (it failed).
pub fn job_changes(live: &Job, planned: &Job) -> Vec<FieldChange> {
    let hash = |j: &Job| j.metadata.annotations.as_ref().and_then(|a| a.get(crate::render::TEMPLATE_HASH)).cloned();
    let (a, b) = (hash(live), hash(planned));
    if a != b {
        let path = format!("metadata.annotations.{} (the Job is re-created)", crate::render::TEMPLATE_HASH);
        return vec![FieldChange::new(path, a.as_deref(), b.as_deref(), false)];
    }
    match wait::job_rollout(live) {
        Rollout::Failed(r) => {
            vec![FieldChange::new("status (the Job is run again)", Some(&r), Some("complete"), false)]
        }
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------- status

/// Per service: its workload, ready/desired replicas, its pods and their states.
/// Requests: three LISTs (StatefulSets, Deployments, Services) and one of Pods.
pub async fn status(client: &Client, t: &Topology, sel: &Selection) -> Result<Vec<ServiceStatus>, Error> {
    let ns = t.namespace.as_str();
    let live = list_managed(client, ns, &t.name, None, &["StatefulSet", "Deployment", "Job", "Service"]).await?;
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
    let mut out = Vec::new();
    for name in sel.services() {
        let workload = live.iter().find(|o| o.is_workload() && o.name() == name);
        let mine: Vec<&Pod> = pods
            .iter()
            .filter(|p| {
                p.metadata.labels.as_ref().and_then(|l| l.get(labels::NAME)).map(String::as_str) == Some(name.as_str())
            })
            .collect();
        let ports = service_ports(&live, name);
        let (state, ready, health) = match workload {
            None => ("missing".to_string(), false, None),
            Some(o) => workload_state(o, &mine),
        };
        out.push(ServiceStatus {
            service: name.clone(),
            object: workload.map(Object::id),
            state,
            ready,
            health,
            ports,
            detail: mine.iter().map(|p| wait::pod_summary(p)).collect(),
        });
    }
    Ok(out)
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
