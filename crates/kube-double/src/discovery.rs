//! Discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/<group>[/<version>]`) as a real 1.33
//! apiserver serves them, built from the resource table: the legacy documents, and the
//! aggregated `APIGroupDiscoveryList` (apidiscovery.k8s.io v2 / v2beta1) of `/api` and `/apis`
//! for clients that ask for it first in `Accept` (kubectl, kube's `Discovery::run_aggregated`).

use crate::resources::{ApiError, RESOURCES, ResourceType};
use serde_json::{Value, json};

/// Verbs of every top-level resource. `deletecollection` is left out: the double does not serve it.
const VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update", "watch"];

/// The representation chosen from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `APIVersions` / `APIGroupList` / `APIGroup` / `APIResourceList` as `application/json`.
    Legacy,
    /// `APIGroupDiscoveryList` of this apidiscovery.k8s.io version (`v2` or `v2beta1`).
    Aggregated(&'static str),
}

/// A discovery answer: its `Content-Type` and body.
pub type Document = (String, Value);

/// The discovery document at `path`, `None` when `path` is not a discovery path. `host` is the
/// `Host` the client used (the real apiserver reports its address in `/api`). A `406` when
/// `accept` offers nothing the double can produce for that path.
pub fn document(path: &str, host: &str, accept: Option<&str>) -> Option<Result<Document, ApiError>> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let root = matches!(segs.as_slice(), ["api"] | ["apis"]);
    let served = matches!(segs.as_slice(), ["api"] | ["apis"] | ["api", _] | ["apis", _] | ["apis", _, _]);
    if !served {
        return None;
    }
    let Some(format) = negotiate(accept, root) else { return Some(Err(not_acceptable())) };
    let legacy = |v: Value| ("application/json".to_owned(), v);
    let doc = match (segs.as_slice(), format) {
        (["api"], Format::Aggregated(v)) => Ok(aggregated(v, vec![aggregated_group("")])),
        (["apis"], Format::Aggregated(v)) => {
            Ok(aggregated(v, group_names().into_iter().map(aggregated_group).collect()))
        }
        (["api"], _) => Ok(legacy(json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
        }))),
        (["apis"], _) => Ok(legacy(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups()}))),
        (["api", version], _) => resource_list("", version).map(legacy),
        (["apis", group], _) => groups()
            .into_iter()
            .find(|g| g["name"] == *group)
            .map(|mut g| {
                g["kind"] = json!("APIGroup");
                g["apiVersion"] = json!("v1");
                legacy(g)
            })
            .ok_or_else(not_found),
        (["apis", group, version], _) => resource_list(group, version).map(legacy),
        _ => return None,
    };
    Some(doc)
}

/// The first media range of `accept` the double can produce: aggregated discovery (only for
/// `/api` and `/apis`), or plain JSON. No `Accept` means plain JSON.
pub fn negotiate(accept: Option<&str>, root: bool) -> Option<Format> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Some(Format::Legacy) };
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let params: Vec<(&str, &str)> =
            parts.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
        let param = |k: &str| params.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        if !matches!(media, "application/json" | "application/*" | "*/*") {
            continue;
        }
        match (param("as"), param("g"), param("v")) {
            (None, ..) => return Some(Format::Legacy),
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2")) if root => {
                return Some(Format::Aggregated("v2"));
            }
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some("v2beta1")) if root => {
                return Some(Format::Aggregated("v2beta1"));
            }
            _ => {}
        }
    }
    None
}

/// The 406 a real apiserver answers when the `Accept` header offers nothing it can produce.
pub fn not_acceptable() -> ApiError {
    ApiError::new(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
    )
}

fn aggregated(version: &str, items: Vec<Value>) -> Document {
    let content_type = format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    let list = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    });
    (content_type, list)
}

/// One `APIGroupDiscovery` (the core group has no name), its versions in table order.
fn aggregated_group(group: &str) -> Value {
    let mut versions: Vec<&str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| r.group == group) {
        if !versions.contains(&r.version) {
            versions.push(r.version);
        }
    }
    let versions: Vec<Value> = versions
        .into_iter()
        .map(|v| {
            let mut rs: Vec<&ResourceType> = RESOURCES.iter().filter(|r| r.group == group && r.version == v).collect();
            rs.sort_by_key(|r| r.plural);
            let resources: Vec<Value> = rs.into_iter().map(aggregated_resource).collect();
            json!({"version": v, "resources": resources, "freshness": "Current"})
        })
        .collect();
    let mut metadata = json!({"creationTimestamp": null});
    if !group.is_empty() {
        metadata["name"] = json!(group);
    }
    json!({"metadata": metadata, "versions": versions})
}

fn aggregated_resource(r: &ResourceType) -> Value {
    let kind = json!({"group": "", "version": "", "kind": r.kind});
    let subresources: Vec<Value> = r
        .subresources
        .iter()
        .map(|s| json!({"subresource": s, "responseKind": kind, "verbs": subresource_verbs(s)}))
        .collect();
    let mut v = json!({
        "resource": r.plural,
        "responseKind": kind,
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.kind.to_ascii_lowercase(),
        "verbs": VERBS,
    });
    if !r.short_names.is_empty() {
        v["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        v["categories"] = json!(r.categories);
    }
    if !subresources.is_empty() {
        v["subresources"] = json!(subresources);
    }
    v
}

fn subresource_verbs(sub: &str) -> &'static [&'static str] {
    if sub == "log" { &["get"] } else { &["get", "patch", "update"] }
}

fn not_found() -> ApiError {
    ApiError {
        details: Some(json!({})),
        ..ApiError::new(404, "NotFound", "the server could not find the requested resource")
    }
}

/// The real apiserver's group order (kube-aggregator's group priorities) for the served groups.
const GROUP_ORDER: &[&str] = &["apps", "batch", "networking.k8s.io", "coordination.k8s.io"];

/// The served API groups (core excluded), in the real apiserver's order.
fn group_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !names.contains(&r.group) {
            names.push(r.group);
        }
    }
    names.sort_by_key(|g| GROUP_ORDER.iter().position(|n| n == g).unwrap_or(usize::MAX));
    names
}

/// One `APIGroup` entry per served group (core excluded), in the real apiserver's order.
fn groups() -> Vec<Value> {
    let entry = |group: &str| {
        let mut versions: Vec<Value> = Vec::new();
        for r in RESOURCES.iter().filter(|r| r.group == group) {
            let gv = json!({"groupVersion": r.api_version(), "version": r.version});
            if !versions.contains(&gv) {
                versions.push(gv);
            }
        }
        let preferred = versions.first().cloned();
        json!({"name": group, "versions": versions, "preferredVersion": preferred})
    };
    group_names().into_iter().map(entry).collect()
}

/// The `APIResourceList` of one group version (404 when the double serves nothing there).
fn resource_list(group: &str, version: &str) -> Result<Value, ApiError> {
    let served: Vec<&ResourceType> = RESOURCES.iter().filter(|r| r.group == group && r.version == version).collect();
    let first = served.first().ok_or_else(not_found)?;
    let mut resources: Vec<Value> = served.iter().flat_map(|r| resource_entries(r)).collect();
    resources.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut list = json!({"kind": "APIResourceList", "groupVersion": first.api_version(), "resources": resources});
    if !group.is_empty() {
        // The real core list has no apiVersion; group lists do.
        list["apiVersion"] = json!("v1");
    }
    Ok(list)
}

/// The `APIResource` entries of one resource: itself, then one per subresource.
fn resource_entries(r: &ResourceType) -> Vec<Value> {
    let mut main = json!({
        "name": r.plural,
        "singularName": r.kind.to_ascii_lowercase(),
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": VERBS,
    });
    if !r.short_names.is_empty() {
        main["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        main["categories"] = json!(r.categories);
    }
    let subs = r.subresources.iter().map(|s| {
        let verbs = subresource_verbs(s);
        json!({
            "name": format!("{}/{s}", r.plural),
            "singularName": "",
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs,
        })
    });
    std::iter::once(main).chain(subs).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    fn doc_as(path: &str, accept: Option<&str>) -> Document {
        match document(path, "127.0.0.1:1", accept) {
            Some(Ok(d)) => d,
            other => panic!("{path}: {other:?}"),
        }
    }

    fn doc(path: &str) -> Value {
        let (content_type, v) = doc_as(path, Some("application/json, */*"));
        assert_eq!(content_type, "application/json");
        v
    }

    fn entry<'a>(list: &'a Value, name: &str) -> &'a Value {
        let rs = list["resources"].as_array().unwrap_or_else(|| panic!("resources in {list}"));
        rs.iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("{name} in {list}"))
    }

    #[test]
    fn versions_and_groups() {
        assert_eq!(doc("/api")["versions"], json!(["v1"]));
        let names: Vec<Value> =
            doc("/apis")["groups"].as_array().into_iter().flatten().map(|g| g["name"].clone()).collect();
        assert_eq!(names, [json!("apps"), json!("batch"), json!("networking.k8s.io"), json!("coordination.k8s.io")]);
        assert_eq!(doc("/apis/apps")["preferredVersion"]["groupVersion"], "apps/v1");
        assert_eq!(doc("/apis/batch/")["kind"], "APIGroup");
        assert!(matches!(document("/apis/extensions/v1beta1", "", None), Some(Err(e)) if e.code == 404));
        assert!(matches!(document("/apis/apps/v2", "", None), Some(Err(e)) if e.code == 404));
        assert!(document("/apis/apps/v1/statefulsets", "", None).is_none());
        assert!(document("/version", "", None).is_none());
    }

    #[test]
    fn resource_lists() {
        let core = doc("/api/v1");
        assert_eq!((core["groupVersion"].as_str(), core.get("apiVersion")), (Some("v1"), None));
        let ns = entry(&core, "namespaces");
        assert_eq!((ns["namespaced"].as_bool(), ns["shortNames"].clone()), (Some(false), json!(["ns"])));
        assert_eq!(entry(&core, "pods/log")["verbs"], json!(["get"]));
        assert_eq!(entry(&core, "pods")["categories"], json!(["all"]));
        assert!(entry(&core, "secrets").get("shortNames").is_none());
        let apps = doc("/apis/apps/v1");
        assert_eq!((apps["apiVersion"].as_str(), apps["groupVersion"].as_str()), (Some("v1"), Some("apps/v1")));
        let sts = entry(&apps, "statefulsets");
        assert_eq!((sts["singularName"].as_str(), sts["kind"].as_str()), (Some("statefulset"), Some("StatefulSet")));
        assert_eq!(entry(&apps, "statefulsets/status")["verbs"], json!(["get", "patch", "update"]));
        assert_eq!(entry(&doc("/apis/networking.k8s.io/v1"), "networkpolicies")["shortNames"], json!(["netpol"]));
        let names: Vec<&str> =
            core["resources"].as_array().into_iter().flatten().filter_map(|r| r["name"].as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }

    #[test]
    fn aggregated_documents() {
        let (content_type, apis) = doc_as("/apis", Some(KUBECTL));
        assert_eq!(content_type, "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList");
        assert_eq!(
            (apis["kind"].as_str(), apis["apiVersion"].as_str()),
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io/v2"))
        );
        let names: Vec<&str> =
            apis["items"].as_array().into_iter().flatten().filter_map(|g| g["metadata"]["name"].as_str()).collect();
        assert_eq!(names, ["apps", "batch", "networking.k8s.io", "coordination.k8s.io"]);
        let apps_v1 = &apis["items"][0]["versions"][0];
        assert_eq!((apps_v1["version"].as_str(), apps_v1["freshness"].as_str()), (Some("v1"), Some("Current")));
        let sts = apps_v1["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["resource"] == "statefulsets")
            .cloned()
            .unwrap_or_default();
        assert_eq!(sts["responseKind"], json!({"group": "", "version": "", "kind": "StatefulSet"}));
        assert_eq!((sts["scope"].as_str(), sts["shortNames"].clone()), (Some("Namespaced"), json!(["sts"])));
        assert_eq!(sts["subresources"][0]["subresource"], "status");
        let (_, core) = doc_as("/api", Some(KUBECTL));
        assert!(core["items"][0]["metadata"].get("name").is_none());
        let ns = core["items"][0]["versions"][0]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["resource"] == "namespaces")
            .cloned()
            .unwrap_or_default();
        assert_eq!(ns["scope"], "Cluster");
        let (beta_type, _) =
            doc_as("/api", Some("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"));
        assert!(beta_type.contains("v=v2beta1"), "{beta_type}");
        // Group version documents only exist in the legacy form.
        assert_eq!(doc_as("/apis/apps/v1", Some(KUBECTL)).1["kind"], "APIResourceList");
    }

    #[test]
    fn accept_negotiation() {
        assert_eq!(negotiate(None, true), Some(Format::Legacy));
        assert_eq!(negotiate(Some(KUBECTL), true), Some(Format::Aggregated("v2")));
        assert_eq!(negotiate(Some(KUBECTL), false), Some(Format::Legacy));
        assert_eq!(negotiate(Some("*/*"), true), Some(Format::Legacy));
        let only_aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
        assert_eq!(negotiate(Some(only_aggregated), false), None);
        assert_eq!(negotiate(Some("application/vnd.kubernetes.protobuf"), true), None);
        assert!(matches!(document("/apis/apps/v1", "", Some(only_aggregated)), Some(Err(e)) if e.code == 406));
    }
}
