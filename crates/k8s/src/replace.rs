//! StatefulSet fields Kubernetes will not change in place (`volumeClaimTemplates`,
//! `serviceName`, `selector`, `podManagementPolicy`...): found by comparing the
//! planned and live spec, shown by diff as a replacement, and carried out by
//! `apply --replace` as delete (orphaning pods and claims), re-create, and grow
//! the existing claims.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use deploy_report::FieldChange;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use kube::{Api, Client};
use serde_json::Value as Json;

use crate::object::Object;
use crate::ops::{FIELD_MANAGER, flatten, list_managed, show};

/// What diff appends to the path of a field that makes apply replace the StatefulSet.
pub const IMMUTABLE_SUFFIX: &str = " (immutable: the StatefulSet is replaced)";

/// The StatefulSet spec fields Kubernetes updates in place; every other one is immutable.
const MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

/// A StatefulSet whose immutable fields changed.
#[derive(Clone, Debug, Default)]
pub struct Replacement {
    /// The immutable fields that differ (paths from the object root, without the suffix).
    pub changes: Vec<FieldChange>,
    /// Claim templates whose size grows: (template name, live size, planned size).
    pub grow: Vec<(String, String, String)>,
    /// Claim templates whose size would shrink, which no claim can do.
    pub shrink: Vec<(String, String, String)>,
}

impl Replacement {
    /// Compares a live StatefulSet (JSON) with the planned one; `None` when every immutable field is the same.
    pub fn between(live: &Json, planned: &Json) -> Option<Replacement> {
        let changes = immutable_changes(live, planned);
        if changes.is_empty() {
            return None;
        }
        let (live_sizes, planned_sizes) = (claim_sizes(live), claim_sizes(planned));
        let mut r = Replacement { changes, ..Default::default() };
        for (name, new) in planned_sizes {
            let Some(old) = live_sizes.get(&name) else { continue };
            match (quantity(old), quantity(&new)) {
                (Some(a), Some(b)) if b > a => r.grow.push((name, old.clone(), new)),
                (Some(a), Some(b)) if b < a => r.shrink.push((name, old.clone(), new)),
                _ => {}
            }
        }
        Some(r)
    }

    /// Why apply stops, and what `--replace` would do (or why it cannot help).
    pub fn message(&self, id: &str) -> String {
        let fields: Vec<String> = self
            .changes
            .iter()
            .map(|c| {
                format!(
                    "{} {} -> {}",
                    c.path,
                    c.live.as_deref().unwrap_or("(none)"),
                    c.planned.as_deref().unwrap_or("(none)")
                )
            })
            .collect();
        let head = format!("{id}: {} cannot change in place", fields.join(", "));
        if !self.shrink.is_empty() {
            let claims: Vec<String> = self.shrink.iter().map(|(n, a, b)| format!("`{n}` {a} -> {b}")).collect();
            return format!(
                "{head}, and Kubernetes cannot shrink a PersistentVolumeClaim ({}): keep the size, or move the data to a new volume",
                claims.join(", ")
            );
        }
        let grow = if self.grow.is_empty() {
            ""
        } else {
            ", and asks for the larger claims (expanded where the storage class allows it)"
        };
        format!(
            "{head}; `deploy apply --replace` deletes the StatefulSet keeping its pods and claims (orphan), re-creates it{grow}"
        )
    }
}

/// Immutable spec fields of `planned` that `live` has with another value, and
/// list items (claim templates) that `live` has and `planned` no longer does.
pub fn immutable_changes(live: &Json, planned: &Json) -> Vec<FieldChange> {
    let (l, p) = (immutable_leaves(live), immutable_leaves(planned));
    let empty = |v: &Json| v.is_null() || v.as_object().is_some_and(|o| o.is_empty()) || v == &Json::Array(Vec::new());
    let mut out: Vec<FieldChange> = p
        .iter()
        .filter(|(k, v)| !empty(v) && l.get(*k) != Some(*v))
        .map(|(k, v)| FieldChange::new(k.clone(), l.get(k).map(show).as_deref(), Some(&show(v)), false))
        .collect();
    let mut gone = BTreeSet::new();
    for k in l.keys() {
        let Some(end) = k.find(']') else { continue };
        let item = &k[..=end];
        let kept =
            p.keys().any(|q| q == item || q.starts_with(&format!("{item}.")) || q.starts_with(&format!("{item}[")));
        if !kept {
            gone.insert(item.to_string());
        }
    }
    out.extend(gone.into_iter().map(|item| FieldChange::new(item, Some("present"), None, false)));
    out
}

/// The leaves of the immutable part of a StatefulSet's spec, as `spec.x.y` paths.
fn immutable_leaves(v: &Json) -> BTreeMap<String, Json> {
    let mut out = BTreeMap::new();
    for (k, x) in v.get("spec").and_then(Json::as_object).into_iter().flatten() {
        if !MUTABLE.contains(&k.as_str()) {
            flatten(&format!("spec.{k}"), x, &mut out);
        }
    }
    out
}

/// The planned object with the live object's immutable spec fields, so a dry
/// run shows the in-place changes that come with a replacement.
pub fn with_live_immutables(live: &Json, planned: &Json) -> Json {
    let mut out = planned.clone();
    let Some(spec) = out.get_mut("spec").and_then(Json::as_object_mut) else { return out };
    spec.retain(|k, _| MUTABLE.contains(&k.as_str()));
    for (k, x) in live.get("spec").and_then(Json::as_object).into_iter().flatten() {
        if !MUTABLE.contains(&k.as_str()) {
            spec.insert(k.clone(), x.clone());
        }
    }
    out
}

/// Claim template name → requested storage.
fn claim_sizes(v: &Json) -> BTreeMap<String, String> {
    let templates = v.pointer("/spec/volumeClaimTemplates").and_then(Json::as_array);
    templates
        .into_iter()
        .flatten()
        .filter_map(|t| {
            let name = t.pointer("/metadata/name")?.as_str()?;
            let size = t.pointer("/spec/resources/requests/storage")?.as_str()?;
            Some((name.to_string(), size.to_string()))
        })
        .collect()
}

/// A storage quantity in bytes (`1Gi`, `500M`, `1.5Ti`, `1073741824`), for comparing sizes.
fn quantity(s: &str) -> Option<f64> {
    let s = s.trim();
    let units: [(&str, f64); 12] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, factor) in units {
        if let Some(n) = s.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    s.parse::<f64>().ok()
}

/// Deletes StatefulSet `name` leaving its pods and claims (orphan propagation)
/// and waits, up to `within`, until it is gone.
pub async fn delete_orphaning(client: &Client, ns: &str, name: &str, within: Duration) -> Result<(), String> {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), ns);
    let dp = DeleteParams { propagation_policy: Some(PropagationPolicy::Orphan), ..Default::default() };
    match api.delete(name, &dp).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(()),
        Err(e) => return Err(crate::error::describe(&e)),
    }
    let until = tokio::time::Instant::now() + within;
    while api.get_opt(name).await.map_err(|e| crate::error::describe(&e))?.is_some() {
        if tokio::time::Instant::now() >= until {
            return Err(format!("StatefulSet/{name} was deleted but is still there"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Asks for the larger size on each existing claim of StatefulSet `sts` made
/// from a growing template (`<template>-<sts>-<ordinal>`); returns what it patched.
pub async fn grow_claims(
    client: &Client,
    ns: &str,
    project: &str,
    sts: &str,
    grow: &[(String, String, String)],
) -> Result<Vec<String>, kube::Error> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let pp = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    let mut out = Vec::new();
    for claim in list_managed(client, ns, project, Some(sts), &["PersistentVolumeClaim"]).await? {
        let name = claim.name().to_string();
        let Some((_, old, new)) = grow.iter().find(|(t, _, _)| is_claim_of(&name, t, sts)) else { continue };
        let current = match &claim {
            Object::PersistentVolumeClaim(c) => c.spec.as_ref().and_then(|s| s.resources.as_ref()),
            _ => None,
        }
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .map(|q| q.0.clone());
        if current.as_deref().and_then(quantity) >= quantity(new) {
            continue;
        }
        let body = serde_json::json!({"spec": {"resources": {"requests": {"storage": new}}}});
        api.patch(&name, &pp, &Patch::Merge(&body)).await?;
        out.push(format!("PersistentVolumeClaim/{name}: {} -> {new}", current.as_deref().unwrap_or(old)));
    }
    Ok(out)
}

/// Whether `pvc` is `<template>-<sts>-<ordinal>`.
fn is_claim_of(pvc: &str, template: &str, sts: &str) -> bool {
    pvc.strip_prefix(&format!("{template}-{sts}-")).is_some_and(|o| o.parse::<u32>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sts(size: &str, service: &str) -> Json {
        serde_json::json!({"spec": {
            "replicas": 1, "serviceName": service, "podManagementPolicy": "OrderedReady",
            "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}}},
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": size}}, "volumeMode": "Filesystem"}}]
        }})
    }

    #[test]
    fn only_immutable_fields_count_and_sizes_are_compared() {
        let live = sts("1Gi", "redis");
        let mut planned = sts("2Gi", "redis");
        planned["spec"]["replicas"] = 3.into();
        if let Some(s) = planned.pointer_mut("/spec/volumeClaimTemplates/0/spec") {
            s.as_object_mut().map(|o| o.remove("volumeMode"));
        }
        let r = Replacement::between(&live, &planned).unwrap_or_else(|| panic!("a replacement"));
        assert_eq!(r.changes.len(), 1, "{:?}", r.changes);
        assert_eq!(r.changes[0].path, "spec.volumeClaimTemplates[0].spec.resources.requests.storage");
        assert_eq!(r.grow, vec![("data".into(), "1Gi".into(), "2Gi".into())]);
        assert!(r.message("StatefulSet/redis").contains("--replace"), "{}", r.message("StatefulSet/redis"));
        assert!(Replacement::between(&live, &sts("1Gi", "redis")).is_none());
        let shrink = Replacement::between(&live, &sts("512Mi", "redis")).unwrap_or_else(|| panic!("a replacement"));
        assert_eq!(shrink.shrink.len(), 1);
        assert!(shrink.message("StatefulSet/redis").contains("cannot shrink"));
        let renamed = Replacement::between(&live, &sts("1Gi", "cache")).unwrap_or_else(|| panic!("a replacement"));
        assert_eq!(renamed.changes[0].path, "spec.serviceName");
    }

    #[test]
    fn a_removed_claim_template_is_a_change() {
        let live = sts("1Gi", "redis");
        let mut planned = sts("1Gi", "redis");
        planned["spec"].as_object_mut().map(|o| o.remove("volumeClaimTemplates"));
        let c = immutable_changes(&live, &planned);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0].path, "spec.volumeClaimTemplates[0]");
        let spliced = with_live_immutables(&live, &planned);
        assert!(immutable_changes(&live, &spliced).is_empty());
        assert_eq!(spliced["spec"]["replicas"], 1);
    }

    #[test]
    fn quantities() {
        assert_eq!(quantity("1Gi"), Some(1024f64.powi(3)));
        assert!(quantity("1500M") > quantity("1G"));
        assert_eq!(quantity("42"), Some(42.0));
        assert_eq!(quantity("x"), None);
    }
}
