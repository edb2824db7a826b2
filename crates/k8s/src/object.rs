//! The typed Kubernetes objects this backend produces, as one enum.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

/// Label keys (Kubernetes recommended labels plus this tool's own).
pub mod labels {
    pub const NAME: &str = "app.kubernetes.io/name";
    pub const INSTANCE: &str = "app.kubernetes.io/instance";
    pub const COMPONENT: &str = "app.kubernetes.io/component";
    pub const PART_OF: &str = "app.kubernetes.io/part-of";
    pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
    /// Value of [`MANAGED_BY`].
    pub const MANAGER: &str = "deploy";
    /// The topology service an object belongs to (absent on project-wide objects).
    pub const SERVICE: &str = "deploy.dev/service";
    /// Prefix of the per-network pod label: `deploy.dev/network-<net>: "true"`.
    pub const NETWORK_PREFIX: &str = "deploy.dev/network-";

    /// The label selector that finds every object of `project` this tool manages.
    pub fn project_selector(project: &str) -> String {
        format!("{INSTANCE}={project},{MANAGED_BY}={MANAGER}")
    }
}

/// One rendered Kubernetes object (typed k8s-openapi struct).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Object {
    Namespace(Namespace),
    Secret(Secret),
    ConfigMap(ConfigMap),
    Service(Service),
    PersistentVolumeClaim(PersistentVolumeClaim),
    StatefulSet(StatefulSet),
    Deployment(Deployment),
    Job(Job),
    NetworkPolicy(NetworkPolicy),
}

/// Calls `$body` with `$o` bound to the inner typed object.
macro_rules! with_object {
    ($obj:expr, $o:ident => $body:expr) => {
        match $obj {
            Object::Namespace($o) => $body,
            Object::Secret($o) => $body,
            Object::ConfigMap($o) => $body,
            Object::Service($o) => $body,
            Object::PersistentVolumeClaim($o) => $body,
            Object::StatefulSet($o) => $body,
            Object::Deployment($o) => $body,
            Object::Job($o) => $body,
            Object::NetworkPolicy($o) => $body,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use with_object;

fn kind_of<K: k8s_openapi::Resource>(_: &K) -> &'static str {
    K::KIND
}
fn api_version_of<K: k8s_openapi::Resource>(_: &K) -> &'static str {
    K::API_VERSION
}

impl Object {
    pub fn kind(&self) -> &'static str {
        with_object!(self, o => kind_of(o))
    }
    pub fn api_version(&self) -> &'static str {
        with_object!(self, o => api_version_of(o))
    }
    pub fn metadata(&self) -> &ObjectMeta {
        with_object!(self, o => &o.metadata)
    }
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
    pub fn namespace(&self) -> Option<&str> {
        self.metadata().namespace.as_deref()
    }
    /// `Kind/name`, as kubectl prints it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }
    /// The topology service this object belongs to, if any.
    pub fn service(&self) -> Option<&str> {
        self.metadata().labels.as_ref()?.get(labels::SERVICE).map(String::as_str)
    }
    /// Whether this is a workload (StatefulSet, Deployment or Job).
    pub fn is_workload(&self) -> bool {
        matches!(self, Object::StatefulSet(_) | Object::Deployment(_) | Object::Job(_))
    }
    /// The object as JSON (with `apiVersion` and `kind`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Kinds this backend manages, in the order `destroy` deletes them.
pub const MANAGED_KINDS: &[&str] =
    &["Job", "Deployment", "StatefulSet", "Service", "NetworkPolicy", "Secret", "ConfigMap", "PersistentVolumeClaim"];
