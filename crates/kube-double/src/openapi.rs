//! A minimal OpenAPI v3 (`/openapi/v3`, `/openapi/v3/<api|apis/group>/<version>`): only the
//! PATCH operation of each served resource with its query parameters and
//! `x-kubernetes-group-version-kind`, which is what kubectl reads to learn that the server
//! validates fields itself (`fieldValidation`), so it skips client-side schema validation.
//! No schemas: `kubectl explain` and client-side validation have nothing to work with.

use crate::resources::{ApiError, RESOURCES, ResourceType};
use crate::util::stable_hash;
use serde_json::{Map, Value, json};

/// The document at `path` (`None` when `path` is not under `/openapi/v3`).
pub fn document(path: &str) -> Option<Result<Value, ApiError>> {
    let rest = path.strip_prefix("/openapi/v3")?;
    if !rest.is_empty() && !rest.starts_with('/') {
        return None;
    }
    let gv = rest.trim_matches('/');
    if gv.is_empty() {
        return Some(Ok(root()));
    }
    Some(group_versions().into_iter().find(|(p, _)| p == gv).map(|(_, doc)| doc).ok_or_else(|| ApiError {
        details: Some(json!({})),
        ..ApiError::new(404, "NotFound", "the server could not find the requested resource")
    }))
}

/// `{"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}, ...}}`
fn root() -> Value {
    let paths: Map<String, Value> = group_versions()
        .into_iter()
        .map(|(p, doc)| {
            let url = format!("/openapi/v3/{p}?hash={:016X}", stable_hash(&doc));
            (p, json!({"serverRelativeURL": url}))
        })
        .collect();
    json!({"paths": paths})
}

/// (`api/v1` or `apis/<group>/<version>`, its document) for every served group version.
fn group_versions() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for r in RESOURCES {
        let key = if r.group.is_empty() { format!("api/{}", r.version) } else { format!("apis/{}", r.api_version()) };
        let idx = match out.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                out.push((
                    key,
                    json!({
                        "openapi": "3.0.0",
                        "info": {"title": "Kubernetes", "version": "v1.33.0"},
                        "paths": {},
                        "components": {"schemas": {}},
                    }),
                ));
                out.len() - 1
            }
        };
        if let Some(paths) = out.get_mut(idx).and_then(|(_, d)| d["paths"].as_object_mut()) {
            paths.insert(item_path(r), json!({"patch": patch_operation(r)}));
        }
    }
    out
}

fn item_path(r: &ResourceType) -> String {
    let prefix = if r.group.is_empty() { "/api/v1".to_owned() } else { format!("/apis/{}", r.api_version()) };
    if r.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural)
    } else {
        format!("{prefix}/{}/{{name}}", r.plural)
    }
}

fn patch_operation(r: &ResourceType) -> Value {
    let query =
        |name: &str, ty: &str| json!({"name": name, "in": "query", "schema": {"type": ty, "uniqueItems": true}});
    let gv_camel: String = r
        .group
        .split('.')
        .next()
        .unwrap_or_default()
        .chars()
        .enumerate()
        .map(|(i, c)| if i == 0 { c.to_ascii_uppercase() } else { c })
        .collect();
    let scope = if r.namespaced { "Namespaced" } else { "" };
    json!({
        "description": format!("partially update the specified {}", r.kind),
        "operationId": format!("patch{}{}{scope}{}", if gv_camel.is_empty() { "Core" } else { &gv_camel }, r.version.to_ascii_uppercase(), r.kind),
        "parameters": [
            query("dryRun", "string"),
            query("fieldManager", "string"),
            query("fieldValidation", "string"),
            query("force", "boolean"),
        ],
        "responses": {"200": {"description": "OK"}, "201": {"description": "Created"}},
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": {"group": r.group, "version": r.version, "kind": r.kind},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_lists_every_group_version() {
        let Some(Ok(root)) = document("/openapi/v3") else { panic!("root") };
        let keys: Vec<&String> = root["paths"].as_object().into_iter().flat_map(|m| m.keys()).collect();
        assert_eq!(keys.len(), 5, "{keys:?}");
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap_or_default();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
        assert!(document("/openapi/v3x").is_none());
        assert!(document("/openapi/v2").is_none());
    }

    #[test]
    fn patch_operations_carry_the_gvk_and_field_validation() {
        let Some(Ok(apps)) = document("/openapi/v3/apis/apps/v1") else { panic!("apps/v1") };
        let op = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}"]["patch"];
        assert_eq!(
            op["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "StatefulSet"})
        );
        assert_eq!(op["operationId"], "patchAppsV1NamespacedStatefulSet");
        assert!(op["parameters"].as_array().into_iter().flatten().any(|p| p["name"] == "fieldValidation"));
        let Some(Ok(core)) = document("/openapi/v3/api/v1") else { panic!("api/v1") };
        assert_eq!(core["paths"]["/api/v1/namespaces/{name}"]["patch"]["operationId"], "patchCoreV1Namespace");
        assert!(matches!(document("/openapi/v3/apis/extensions/v1beta1"), Some(Err(e)) if e.code == 404));
    }
}
