#![allow(dead_code)]

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use kube_double::KubeDouble;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

pub async fn server() -> KubeDouble {
    KubeDouble::start().await.expect("start kube-double")
}

pub fn sts_json(name: &str, replicas: i32, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "tier": "db"}},
                "spec": {"containers": [{"name": "main", "image": image, "ports": [{"containerPort": 6379}]}]}
            }
        }
    })
}

pub fn sts(name: &str, replicas: i32, image: &str) -> StatefulSet {
    serde_json::from_value(sts_json(name, replicas, image)).expect("valid StatefulSet")
}

pub fn sts_with_claims(name: &str, replicas: i32) -> StatefulSet {
    let mut v = sts_json(name, replicas, "redis:7");
    v["spec"]["volumeClaimTemplates"] = json!([{
        "metadata": {"name": "data", "labels": {"deploy.dev/volume": "data"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }]);
    serde_json::from_value(v).expect("valid StatefulSet")
}

pub fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image}]}
            }
        }
    }))
    .expect("valid Deployment")
}

/// A Job running one container, without labels of its own.
pub fn job_json(name: &str, image: &str, restart_policy: &str) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "main", "image": image}], "restartPolicy": restart_policy}
            }
        }
    })
}

pub fn job_of(v: Value) -> Job {
    serde_json::from_value(v).expect("valid Job")
}

pub fn job(name: &str, image: &str, restart_policy: &str) -> Job {
    job_of(job_json(name, image, restart_policy))
}

/// Polls the double's store (no HTTP) until `f` returns Some, or panics after 5 s.
pub async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        // A bound, not a pace: on a loaded 2-core CI machine the controller can lag by seconds.
        assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn sts_ready(s: Option<&StatefulSet>) -> bool {
    let Some(s) = s else { return false };
    let want = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    s.status.as_ref().is_some_and(|st| {
        st.observed_generation == s.metadata.generation
            && st.ready_replicas.unwrap_or(0) == want
            && st.current_revision == st.update_revision
    })
}
