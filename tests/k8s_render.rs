//! `deploy render --target k8s`, end to end through the binary: the Redis StatefulSet carries the
//! same deployment as Compose, every object passes `kubernetes-validate --strict` for the oldest
//! and newest supported Kubernetes versions, every workload is secure by default, and no secret
//! value is ever written.

mod common;

use common::{deploy_in, root, stderr, stdout};

const JWT: &str = "jwt-value-that-must-never-be-rendered-42";
const PG: &str = "pg-password-that-must-never-be-rendered-42";
/// Oldest and newest Kubernetes versions the rendered objects must be valid for.
const VERSIONS: &[&str] = &["1.33.0", "1.37.0"];

fn render(profile: &str) -> (String, String) {
    let env = [("JWT_SECRET_KEY", JWT), ("POSTGRES_PASSWORD", PG)];
    let o = deploy_in(
        &root(),
        // The Secrets as written (placeholders) are part of what is checked here.
        &[
            "render",
            "--target",
            "k8s",
            "--profile",
            profile,
            "-f",
            "manifests/learn-greek.yaml",
            "--secrets",
            "placeholders",
        ],
        &env,
    );
    assert!(o.status.success(), "render {profile} failed:\n{}", stderr(&o));
    (stdout(&o), stderr(&o))
}

/// The documents of a multi-document YAML stream, parsed.
fn documents(yaml: &str) -> Vec<serde_json::Value> {
    yaml.split("\n---\n")
        .map(|d| {
            serde_saphyr::from_str::<serde_json::Value>(d).unwrap_or_else(|e| panic!("bad YAML document: {e}\n{d}"))
        })
        .collect()
}

fn find<'a>(docs: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} rendered"))
}

#[test]
fn prod_redis_statefulset_is_the_compose_deployment() {
    let (yaml, _) = render("prod");
    let docs = documents(&yaml);
    let sts = find(&docs, "StatefulSet", "redis");
    assert_eq!(sts["metadata"]["namespace"], "learn-greek");
    assert_eq!(sts["spec"]["replicas"], 1);
    assert_eq!(sts["spec"]["serviceName"], "redis");
    assert_eq!(
        sts["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "learn-greek"})
    );
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "redis:7-alpine");
    assert!(c.get("command").is_none(), "the image's entrypoint is kept: {c}");
    assert_eq!(
        c["args"],
        serde_json::json!([
            "redis-server",
            "--appendonly",
            "yes",
            "--maxmemory",
            "128mb",
            "--maxmemory-policy",
            "allkeys-lru"
        ])
    );
    assert_eq!(c["resources"]["limits"], serde_json::json!({"cpu": "250m", "memory": "256Mi"}));
    assert_eq!(c["resources"]["requests"], serde_json::json!({"cpu": "100m", "memory": "64Mi"}));
    for probe in ["readinessProbe", "livenessProbe"] {
        let p = &c[probe];
        assert_eq!(p["exec"]["command"], serde_json::json!(["redis-cli", "ping"]), "{probe}");
        assert_eq!(p["periodSeconds"], 10, "{probe}");
        assert_eq!(p["timeoutSeconds"], 5, "{probe}");
        assert_eq!(p["failureThreshold"], 3, "{probe}");
    }
    // start_period 5s: a startup probe every second, 5 + 3 retries
    assert_eq!(c["startupProbe"]["exec"]["command"], serde_json::json!(["redis-cli", "ping"]));
    assert_eq!(c["startupProbe"]["periodSeconds"], 1);
    assert_eq!(c["startupProbe"]["failureThreshold"], 8);
    assert_eq!(c["volumeMounts"], serde_json::json!([{"name": "redis-data", "mountPath": "/data"}]));
    let claim = &sts["spec"]["volumeClaimTemplates"][0];
    assert_eq!(claim["metadata"]["name"], "redis-data");
    assert_eq!(claim["spec"]["accessModes"], serde_json::json!(["ReadWriteOnce"]));
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
    assert_eq!(sts["spec"]["template"]["metadata"]["labels"]["deploy.dev/network-learn-greek-network"], "true");
    for l in ["name", "instance", "component", "part-of", "managed-by"] {
        assert!(sts["metadata"]["labels"].get(format!("app.kubernetes.io/{l}")).is_some(), "label {l} missing");
    }

    // prod Redis is cluster-internal only
    let svc = find(&docs, "Service", "redis");
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(
        svc["spec"]["ports"],
        serde_json::json!([{"name": "tcp-6379", "port": 6379, "targetPort": 6379, "protocol": "TCP"}])
    );
    assert!(!yaml.contains("NodePort") && !yaml.contains("LoadBalancer"), "{yaml}");
    assert!(
        !docs.iter().any(|d| d["metadata"]["name"] == "redis-published"),
        "prod Redis must not be reachable from outside its network"
    );
}

#[test]
fn dev_and_prod_redis_run_the_same_command_probes_and_volume() {
    let (prod, _) = render("prod");
    let (dev, warnings) = render("dev");
    let (p, d) = (documents(&prod), documents(&dev));
    let pc = &find(&p, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0];
    let dc = &find(&d, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0];
    for field in ["image", "args", "readinessProbe", "livenessProbe", "startupProbe", "volumeMounts"] {
        assert_eq!(pc[field], dc[field], "{field} differs between dev and prod");
    }
    assert_eq!(find(&d, "Service", "redis")["spec"]["type"], "ClusterIP");
    assert!(warnings.contains("kubectl port-forward -n learn-greek-dev service/redis 6379:6379"), "{warnings}");
    assert!(warnings.contains("bind mount `./learn-greek-easy-frontend/src:/app/src:cached` is skipped"), "{warnings}");
}

#[test]
fn no_secret_value_is_rendered() {
    for profile in ["prod", "dev"] {
        let (yaml, warnings) = render(profile);
        for secret in [JWT, PG] {
            assert!(!yaml.contains(secret), "{profile}: a secret value was rendered");
            assert!(!warnings.contains(secret), "{profile}: a secret value was printed in a warning");
        }
    }
    let (yaml, _) = render("prod");
    let docs = documents(&yaml);
    let secret = find(&docs, "Secret", "backend-env");
    assert_eq!(secret["stringData"]["JWT_SECRET_KEY"], "${JWT_SECRET_KEY:?JWT_SECRET_KEY is required}");
    assert!(secret.get("data").is_none());
    let env = &find(&docs, "Deployment", "backend")["spec"]["template"]["spec"]["containers"][0]["env"];
    let jwt = env.as_array().and_then(|e| e.iter().find(|v| v["name"] == "JWT_SECRET_KEY")).expect("JWT env");
    assert_eq!(jwt["valueFrom"]["secretKeyRef"], serde_json::json!({"name": "backend-env", "key": "JWT_SECRET_KEY"}));
}

/// Secure by default (docs/kubernetes.md, "Security defaults"): every workload of both seed profiles
/// mounts no service account token, runs under the runtime's default seccomp profile, and its
/// containers cannot escalate privileges nor open raw sockets. Root images must still start, so
/// neither `runAsNonRoot` nor `readOnlyRootFilesystem` is forced.
#[test]
fn every_workload_is_secure_by_default() {
    for profile in ["prod", "dev"] {
        let (yaml, _) = render(profile);
        let docs = documents(&yaml);
        let workloads: Vec<&serde_json::Value> = docs
            .iter()
            .filter(|d| ["StatefulSet", "Deployment", "Job"].contains(&d["kind"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(workloads.len(), 4, "{profile}: postgres, redis, backend and frontend");
        for w in workloads {
            let id = format!("{profile}: {}/{}", w["kind"].as_str().unwrap_or(""), w["metadata"]["name"]);
            let pod = &w["spec"]["template"]["spec"];
            assert_eq!(pod["automountServiceAccountToken"], false, "{id}");
            assert_eq!(pod["securityContext"]["seccompProfile"], serde_json::json!({"type": "RuntimeDefault"}), "{id}");
            assert!(pod["securityContext"].get("runAsNonRoot").is_none(), "{id}");
            let containers = pod["containers"].as_array().unwrap_or_else(|| panic!("{id}: no containers"));
            for c in containers {
                let sc = &c["securityContext"];
                assert_eq!(sc["allowPrivilegeEscalation"], false, "{id}");
                assert_eq!(sc["capabilities"], serde_json::json!({"drop": ["NET_RAW"]}), "{id}");
                for field in ["runAsNonRoot", "readOnlyRootFilesystem", "privileged"] {
                    assert!(sc.get(field).is_none(), "{id}: {field} must not be forced");
                }
            }
        }
    }
}

#[test]
fn every_object_passes_kubernetes_validate_strict() {
    if !common::kubernetes_validate_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for profile in ["prod", "dev"] {
        let (yaml, _) = render(profile);
        let count = documents(&yaml).len();
        let file = dir.path().join(format!("{profile}.yaml"));
        std::fs::write(&file, &yaml).unwrap_or_else(|e| panic!("write: {e}"));
        for version in VERSIONS {
            let (ok, passed, out) = common::kubernetes_validate(&file, version);
            assert!(ok, "{profile} against {version}:\n{out}");
            assert_eq!(
                passed, count,
                "{profile} against {version}: expected every one of {count} objects to pass:\n{out}"
            );
        }
    }
}
