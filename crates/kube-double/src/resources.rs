//! The resource types the double serves, and Kubernetes-shaped errors.

use serde_json::{Value, json};

/// One served resource type.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group (`""` for core).
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    /// Whether the apiserver maintains `metadata.generation` for this kind.
    pub generation: bool,
    /// Discovery `shortNames` (as on a real 1.33 apiserver).
    pub short_names: &'static [&'static str],
    /// Discovery `categories` (`all` for what `kubectl get all` lists).
    pub categories: &'static [&'static str],
    /// The subresources the double serves (each one real for this kind).
    pub subresources: &'static [&'static str],
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_owned() } else { format!("{}/{}", self.group, self.version) }
    }

    /// `statefulsets.apps` / `pods` as used in apiserver messages.
    pub fn qualified_plural(&self) -> String {
        if self.group.is_empty() { self.plural.to_owned() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// `StatefulSet.apps` / `Pod` as used in validation messages.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() { self.kind.to_owned() } else { format!("{}.{}", self.kind, self.group) }
    }
}

macro_rules! rt {
    ($g:expr, $v:expr, $p:expr, $k:expr, $ns:expr, $gen:expr, $short:expr, $cat:expr, $sub:expr) => {
        ResourceType {
            group: $g,
            version: $v,
            plural: $p,
            kind: $k,
            namespaced: $ns,
            generation: $gen,
            short_names: $short,
            categories: $cat,
            subresources: $sub,
        }
    };
}

const ALL: &[&str] = &["all"];
const STATUS: &[&str] = &["status"];

/// Every resource type the double serves.
pub static RESOURCES: &[ResourceType] = &[
    rt!("", "v1", "namespaces", "Namespace", false, false, &["ns"], &[], STATUS),
    rt!("", "v1", "secrets", "Secret", true, false, &[], &[], &[]),
    rt!("", "v1", "configmaps", "ConfigMap", true, false, &["cm"], &[], &[]),
    rt!("", "v1", "services", "Service", true, false, &["svc"], ALL, STATUS),
    rt!("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true, false, &["pvc"], &[], STATUS),
    rt!("", "v1", "pods", "Pod", true, false, &["po"], ALL, &["log", "status"]),
    rt!("", "v1", "events", "Event", true, false, &["ev"], &[], &[]),
    rt!("apps", "v1", "statefulsets", "StatefulSet", true, true, &["sts"], ALL, STATUS),
    rt!("apps", "v1", "deployments", "Deployment", true, true, &["deploy"], ALL, STATUS),
    rt!("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", true, true, &["netpol"], &[], &[]),
    rt!("batch", "v1", "jobs", "Job", true, true, &[], ALL, STATUS),
    rt!("coordination.k8s.io", "v1", "leases", "Lease", true, false, &[], &[], &[]),
];

/// Index into [`RESOURCES`].
pub type Rt = usize;

pub fn by_path(group: &str, version: &str, plural: &str) -> Option<Rt> {
    RESOURCES.iter().position(|r| r.group == group && r.version == version && r.plural == plural)
}

pub fn by_kind(api_version: &str, kind: &str) -> Option<Rt> {
    RESOURCES.iter().position(|r| r.kind == kind && r.api_version() == api_version)
}

pub fn by_kind_name(kind: &str) -> Option<Rt> {
    RESOURCES.iter().position(|r| r.kind.eq_ignore_ascii_case(kind) || r.plural == kind)
}

pub fn rt(i: Rt) -> &'static ResourceType {
    &RESOURCES[i]
}

pub const NAMESPACES: Rt = 0;
pub const SECRETS: Rt = 1;
pub const SERVICES: Rt = 3;
pub const PVCS: Rt = 4;
pub const PODS: Rt = 5;
pub const EVENTS: Rt = 6;
pub const STATEFULSETS: Rt = 7;
pub const DEPLOYMENTS: Rt = 8;
pub const JOBS: Rt = 10;

/// A Kubernetes API error, rendered as a `meta/v1 Status` object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    /// `NotFound`, `Conflict`, `AlreadyExists`, `BadRequest`, `Invalid`, `Gone`, ...
    pub reason: String,
    pub message: String,
    /// The `details` object, if any (`name`, `group`, `kind`, `causes`).
    pub details: Option<Value>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        Self { code, reason: reason.to_owned(), message: message.into(), details: None }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn not_found(r: &ResourceType, name: &str) -> Self {
        Self {
            details: Some(json!({"name": name, "group": r.group, "kind": r.plural})),
            ..Self::new(404, "NotFound", format!("{} \"{name}\" not found", r.qualified_plural()))
        }
    }

    pub fn already_exists(r: &ResourceType, name: &str) -> Self {
        Self {
            details: Some(json!({"name": name, "group": r.group, "kind": r.plural})),
            ..Self::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", r.qualified_plural()))
        }
    }

    pub fn modified(r: &ResourceType, name: &str) -> Self {
        Self {
            details: Some(json!({"name": name, "group": r.group, "kind": r.plural})),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                    r.qualified_plural()
                ),
            )
        }
    }

    /// 422 Invalid with field causes `(reason, field, message)`, e.g.
    /// `("FieldValueForbidden", "spec", "Forbidden: updates to ...")`.
    pub fn invalid(r: &ResourceType, name: &str, causes: &[(String, String, String)]) -> Self {
        let parts: Vec<String> = causes.iter().map(|(_, f, m)| format!("{f}: {m}")).collect();
        let msg = if parts.len() == 1 {
            format!("{} \"{name}\" is invalid: {}", r.qualified_kind(), parts[0])
        } else {
            format!("{} \"{name}\" is invalid: [{}]", r.qualified_kind(), parts.join(", "))
        };
        let causes: Vec<Value> = causes
            .iter()
            .map(|(reason, field, message)| json!({"reason": reason, "message": message, "field": field}))
            .collect();
        Self {
            details: Some(json!({"name": name, "group": r.group, "kind": r.kind, "causes": causes})),
            ..Self::new(422, "Invalid", msg)
        }
    }

    /// 409 Conflict for a failed delete precondition (`uid` / `resourceVersion`).
    pub fn precondition_failed(r: &ResourceType, name: &str, what: &str, want: &str, have: &str) -> Self {
        Self {
            details: Some(json!({"name": name, "group": r.group, "kind": r.plural})),
            ..Self::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: {what} in precondition: {want}, {what} in object meta: {have}",
                    r.qualified_plural()
                ),
            )
        }
    }

    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_table() {
        for (i, kind) in [
            (NAMESPACES, "Namespace"),
            (SECRETS, "Secret"),
            (SERVICES, "Service"),
            (PVCS, "PersistentVolumeClaim"),
            (PODS, "Pod"),
            (EVENTS, "Event"),
            (STATEFULSETS, "StatefulSet"),
            (DEPLOYMENTS, "Deployment"),
            (JOBS, "Job"),
            (11, "Lease"),
        ] {
            assert_eq!(rt(i).kind, kind);
        }
        assert_eq!(rt(JOBS).qualified_kind(), "Job.batch");
        assert_eq!(rt(11).qualified_plural(), "leases.coordination.k8s.io");
    }
}
