//! `apply --atomic` on Kubernetes: the hooks `checkpoint`, `restore` and
//! `release`.
//!
//! The previous state is the live objects `prepare` listed before it changed
//! anything (every object of the project with deploy's labels), kept in
//! memory for the run: an apply and its restore happen under one Lease, so
//! what was live at the start is exactly what to go back to, with nothing
//! stored in the cluster. kapp and Helm keep revisions in the cluster because
//! they also roll back later, by command (`helm rollback`); deploy has no such
//! command, and a revision per apply would be a Secret or ConfigMap to prune
//! and an object-size limit to live with. The cost: an apply killed before it
//! could restore leaves the new state in place (a re-run of apply converges
//! it, as always).
//!
//! A restore, per service: objects of the service that did not exist before
//! (claims aside: data is kept) are deleted; every object that differs from
//! its previous spec is server-side applied again as it was (field manager
//! `deploy`, forced: the fields are deploy's own); then a workload applied
//! again is waited for like any other rollout. A Job that was run again
//! cannot be put back (its previous run is gone): that is a failed restore.

use std::sync::OnceLock;

use deploy_orchestrator::{Failure, Restoration, Step};
use deploy_report::{Phase, RestoreOutcome};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PatchParams;
use serde_json::Value as Json;

use crate::cluster::Cluster;
use crate::error::describe;
use crate::object::{Object, with_object};
use crate::ops::{self, FIELD_MANAGER};
use crate::wait::{self, Workload};

/// The kinds a restore puts back: everything of a service but its claims.
const KINDS: [&str; 7] = ["Secret", "ConfigMap", "Service", "NetworkPolicy", "StatefulSet", "Deployment", "Job"];

/// The objects `prepare` listed before changing anything.
#[derive(Default)]
pub(crate) struct State {
    listed: OnceLock<Vec<Object>>,
}

impl State {
    pub(crate) fn remember(&self, listed: &[Object]) {
        let _ = self.listed.set(listed.to_vec());
    }
}

/// A service's objects before the apply (claims aside).
pub struct Checkpoint {
    previous: Vec<Object>,
}

pub(crate) fn checkpoint(state: &State, service: &str) -> Checkpoint {
    let previous = state
        .listed
        .get()
        .into_iter()
        .flatten()
        .filter(|o| o.service() == Some(service) && KINDS.contains(&o.kind()))
        .cloned()
        .collect();
    Checkpoint { previous }
}

/// An object as deploy applies it: without what the server sets (identity,
/// versions, managed fields, status, a Deployment's revision).
fn as_applied(o: &Object) -> Object {
    let mut o = o.clone();
    with_object!(&mut o, x => strip(&mut x.metadata));
    match &mut o {
        Object::StatefulSet(x) => x.status = None,
        Object::Deployment(x) => x.status = None,
        Object::Job(x) => x.status = None,
        Object::Service(x) => x.status = None,
        _ => {}
    }
    o
}

/// What to apply to put `o` back: the fields `deploy` had applied to it (its
/// `Apply` entry in `managedFields`, extracted as client-go's `Extract*`
/// functions do), so that fields other managers own stay theirs and no
/// server default becomes deploy's; the whole object, when deploy owned none.
fn applied_by_deploy(o: &Object) -> Object {
    let own = o.metadata().managed_fields.iter().flatten().find(|m| {
        m.manager.as_deref() == Some(FIELD_MANAGER)
            && m.operation.as_deref() == Some("Apply")
            && m.subresource.as_deref().unwrap_or_default().is_empty()
    });
    let full = as_applied(o);
    let Some(fields) = own.and_then(|m| m.fields_v1.as_ref()) else { return full };
    let mut v = extract(&full.to_json(), &fields.0);
    if let Some(m) = v.as_object_mut() {
        m.insert("apiVersion".into(), o.api_version().into());
        m.insert("kind".into(), o.kind().into());
        let meta = m.entry("metadata").or_insert_with(|| Json::Object(Default::default()));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("name".into(), o.name().into());
            if let Some(ns) = o.namespace() {
                meta.insert("namespace".into(), ns.into());
            }
        }
    }
    typed(o, v).unwrap_or(full)
}

/// The part of `v` a `FieldsV1` set names: `f:<field>` of a map, `k:<keys>`,
/// `v:<value>` and `i:<index>` of a list; a node with nothing under it but
/// `.` is taken whole.
fn extract(v: &Json, fields: &Json) -> Json {
    let Some(set) = fields.as_object().filter(|f| f.keys().any(|k| k != ".")) else { return v.clone() };
    match v {
        Json::Object(map) => Json::Object(
            set.iter()
                .filter_map(|(k, sub)| {
                    let name = k.strip_prefix("f:")?;
                    Some((name.to_string(), extract(map.get(name)?, sub)))
                })
                .collect(),
        ),
        Json::Array(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| {
                    let sub = set.iter().find(|(k, _)| list_key_matches(k, i, item))?.1;
                    Some(extract(item, sub))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Whether the `FieldsV1` key `k` names the list item `item` at `index`.
fn list_key_matches(k: &str, index: usize, item: &Json) -> bool {
    let parsed = |s: &str| serde_json::from_str::<Json>(s).ok();
    if let Some(keys) = k.strip_prefix("k:").and_then(parsed) {
        return keys.as_object().is_some_and(|ks| ks.iter().all(|(f, want)| item.get(f) == Some(want)));
    }
    if let Some(value) = k.strip_prefix("v:").and_then(parsed) {
        return &value == item;
    }
    k.strip_prefix("i:").and_then(|i| i.parse::<usize>().ok()) == Some(index)
}

/// `v` as the typed object of `like`'s kind.
fn typed(like: &Object, v: Json) -> Option<Object> {
    fn de<T: serde::de::DeserializeOwned>(v: Json) -> Option<T> {
        serde_json::from_value(v).ok()
    }
    Some(match like {
        Object::Namespace(_) => Object::Namespace(de(v)?),
        Object::Secret(_) => Object::Secret(de(v)?),
        Object::ConfigMap(_) => Object::ConfigMap(de(v)?),
        Object::Service(_) => Object::Service(de(v)?),
        Object::PersistentVolumeClaim(_) => Object::PersistentVolumeClaim(de(v)?),
        Object::StatefulSet(_) => Object::StatefulSet(de(v)?),
        Object::Deployment(_) => Object::Deployment(de(v)?),
        Object::Job(_) => Object::Job(de(v)?),
        Object::NetworkPolicy(_) => Object::NetworkPolicy(de(v)?),
    })
}

fn strip(m: &mut ObjectMeta) {
    (m.managed_fields, m.resource_version, m.uid, m.creation_timestamp) = (None, None, None, None);
    (m.generation, m.self_link) = (None, None);
    if let Some(a) = m.annotations.as_mut() {
        a.remove("deployment.kubernetes.io/revision");
        if a.is_empty() {
            m.annotations = None;
        }
    }
}

/// Puts the service's objects back as `cp` recorded them, and waits for a
/// workload applied again. Requests: one list per kind; then a delete or an
/// apply per object that differs, and the rollout's watch.
pub(crate) async fn restore(
    c: &Cluster<'_>,
    service: &str,
    cp: Checkpoint,
    step: &Step<'_>,
) -> Result<Option<Restoration>, Failure> {
    let (client, ns) = (c.client(), c.ns());
    let mut live = ops::list_managed(client, ns, &c.topology().name, Some(service), &KINDS)
        .await
        .map_err(|e| Failure::new(describe(&e)))?;
    let mut detail = Vec::new();
    // What the apply created: workloads first (their pods go with them).
    live.sort_by_key(|o| !o.is_workload());
    let created: Vec<&Object> = live.iter().filter(|o| !cp.previous.iter().any(|p| p.id() == o.id())).collect();
    for o in &created {
        step.phase(Phase::Removing);
        ops::delete_object(client, o.kind(), ns, o.name())
            .await
            .map_err(|e| Failure::new(format!("{}: {}", o.id(), describe(&e))).on(Some(o.id())))?;
        detail.push(format!("deleted {}: it did not exist before the apply", o.id()));
    }
    let mut previous = cp.previous;
    // Workloads last: what their pods use (Secrets, Services) is back first.
    previous.sort_by_key(Object::is_workload);
    let mut rollout = None;
    for p in &previous {
        let want = as_applied(p);
        if live.iter().find(|l| l.id() == p.id()).map(as_applied).as_ref() == Some(&want) {
            continue;
        }
        if let Object::Job(_) = p {
            let msg = format!("{} was run again by the apply; a Job's previous run cannot be put back", p.id());
            return Err(Failure::new(msg).with_detail(detail).on(Some(p.id())));
        }
        step.phase(Phase::Creating);
        let pp = PatchParams::apply(FIELD_MANAGER).force();
        let applied = ops::patch_object(client, &applied_by_deploy(p), &pp).await.map_err(|e| {
            Failure::new(format!("{}: {}", p.id(), describe(&e))).with_detail(detail.clone()).on(Some(p.id()))
        })?;
        detail.push(format!("{} applied again as it was before the apply", p.id()));
        match applied {
            Object::StatefulSet(s) => rollout = Some(Workload::StatefulSet(s)),
            Object::Deployment(d) => rollout = Some(Workload::Deployment(d)),
            _ => {}
        }
    }
    if detail.is_empty() {
        return Ok(None);
    }
    let object = previous.iter().chain(created.iter().copied()).find(|o| o.is_workload()).map(Object::id);
    if let Some(w) = rollout {
        wait_rolled_out(c, service, w, step).await.map_err(|f| f.with_detail(detail.clone()).on(object.clone()))?;
        detail.push("rolled out and ready".into());
    }
    let outcome = if previous.is_empty() { RestoreOutcome::Removed } else { RestoreOutcome::Restored };
    Ok(Some(Restoration { outcome, ready: true, object, detail }))
}

async fn wait_rolled_out(c: &Cluster<'_>, service: &str, w: Workload, step: &Step<'_>) -> Result<(), Failure> {
    let selector = wait::pod_selector(&c.topology().name, service);
    let report = |reason: &str| step.phase(Phase::Waiting { reason: reason.to_string() });
    match wait::wait_ready(c.client(), c.ns(), &selector, w, step.deadline, &report).await {
        Ok(w) if w.ready => Ok(()),
        Ok(w) => {
            Err(Failure::new(format!("the previous spec did not become ready: {}", w.reason)).with_detail(w.detail))
        }
        Err(e) => Err(Failure::new(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Deployment as a real API server returns it: server defaults, a
    /// container another manager added, and deploy's `Apply` entry with
    /// associative-list keys.
    fn live() -> Object {
        let v = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "p", "resourceVersion": "7", "uid": "u",
                "labels": {"app": "web", "team": "x"},
                "annotations": {"deployment.kubernetes.io/revision": "3"},
                "managedFields": [
                    {"manager": "deploy", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:selector": {}, "f:template": {"f:metadata": {"f:labels": {"f:app": {}}},
                            "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}, "f:name": {},
                                "f:args": {}}}}}}}},
                    {"manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
                     "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}}}
                ]},
            "spec": {"replicas": 1, "revisionHistoryLimit": 10,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"dnsPolicy": "ClusterFirst", "containers": [
                    {"name": "sidecar", "image": "other:1"},
                    {"name": "web", "image": "busybox:1", "args": ["a", "b"], "imagePullPolicy": "IfNotPresent"}
                ]}}},
            "status": {"readyReplicas": 1}
        });
        Object::Deployment(serde_json::from_value(v).unwrap_or_else(|e| panic!("a Deployment: {e}")))
    }

    #[test]
    fn only_what_deploy_applied_is_applied_again() {
        let got = applied_by_deploy(&live()).to_json();
        let want = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "p", "labels": {"app": "web"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "busybox:1", "args": ["a", "b"]}]}}}
        });
        assert_eq!(got, want);
    }

    #[test]
    fn set_and_index_keys_pick_their_items() {
        let v = json!(["a", "b", "c"]);
        assert_eq!(extract(&v, &json!({"v:\"b\"": {}})), json!(["b"]));
        assert_eq!(extract(&v, &json!({"i:2": {}})), json!(["c"]));
        assert_eq!(extract(&json!({"x": 1}), &json!({".": {}})), json!({"x": 1}), "a node owned whole");
    }

    #[test]
    fn what_the_server_sets_is_not_part_of_the_comparison() {
        let mut other = live();
        if let Object::Deployment(d) = &mut other {
            d.metadata.resource_version = Some("9".into());
            d.metadata.annotations = None;
            d.status = None;
        }
        assert_eq!(as_applied(&other), as_applied(&live()));
    }
}
