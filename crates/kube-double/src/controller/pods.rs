//! A pod deleted by a client rather than by its controller: the StatefulSet
//! or Deployment that still wants it makes a new one, as the real controllers
//! do (deleting a pod is how Kubernetes restarts one). The new pod goes
//! through the workload's behaviour like any other (creating, then its final
//! state), and, being new, has a new uid.

use serde_json::Value;

use super::{Workload, WorkloadKey, owned_pods};
use crate::resources as res;
use crate::store::{Change, ChangeKind, Store};
use crate::util::short_hash;

/// The workload to reconcile again when `c` is the deletion of a pod it still wants.
pub(super) fn owner_short_of_pod(store: &Store, c: &Change) -> Option<WorkloadKey> {
    if c.rt != res::PODS || c.kind != ChangeKind::Deleted {
        return None;
    }
    let pod = c.object.as_ref();
    let owner = pod
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?;
    let rt = match owner.get("kind").and_then(Value::as_str)? {
        "StatefulSet" => res::STATEFULSETS,
        "Deployment" => res::DEPLOYMENTS,
        _ => return None,
    };
    let ns = c.namespace.as_deref()?;
    let name = owner.get("name").and_then(Value::as_str)?;
    // Gone (a cascading delete takes the pods after it) or replaced by another of the same name: nothing to do.
    let obj = store.get(rt, Some(ns), name)?;
    let uid = obj.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or_default();
    if owner.get("uid").and_then(Value::as_str) != Some(uid) {
        return None;
    }
    let w = Workload { rt, obj, ns, name, uid };
    let wanted = if rt == res::STATEFULSETS {
        let pod_name = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let ordinal = pod_name.rsplit('-').next().and_then(|o| o.parse::<usize>().ok());
        ordinal.is_some_and(|o| o < w.replicas())
    } else {
        let hash = short_hash(&w.template(), 10);
        let current =
            |p: &Value| p.pointer("/metadata/labels/pod-template-hash").and_then(Value::as_str) == Some(hash.as_str());
        current(pod) && owned_pods(store, &w).iter().filter(|p| current(p)).count() < w.replicas()
    };
    wanted.then(|| (rt, ns.to_owned(), name.to_owned()))
}
