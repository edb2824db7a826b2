//! A simplified version of the apiserver's defaulting and validation for the served kinds.

use crate::resources::{self as res, ApiError, Rt};
use serde_json::{Map, Value, json};

fn set_default(obj: &mut Map<String, Value>, key: &str, v: Value) {
    obj.entry(key.to_owned()).or_insert(v);
}

fn obj_at<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    v.get_mut(key)?.as_object_mut()
}

/// `IfNotPresent` for a pinned tag or digest, `Always` for `:latest` or no tag (as the apiserver).
pub fn image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn default_container(c: &mut Value) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default().to_owned();
    let Some(m) = c.as_object_mut() else { return };
    set_default(m, "imagePullPolicy", json!(image_pull_policy(&image)));
    set_default(m, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(m, "terminationMessagePolicy", json!("File"));
    if let Some(Value::Array(ports)) = m.get_mut("ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(p, "protocol", json!("TCP"));
        }
    }
}

pub fn default_pod_spec(spec: &mut Value) {
    default_pod_spec_with(spec, true);
}

/// Pod spec defaults; `restart_always: false` leaves a missing `restartPolicy` missing (Job
/// templates, where the apiserver then reports it as required).
fn default_pod_spec_with(spec: &mut Value, restart_always: bool) {
    let Some(m) = spec.as_object_mut() else { return };
    if restart_always {
        set_default(m, "restartPolicy", json!("Always"));
    }
    set_default(m, "dnsPolicy", json!("ClusterFirst"));
    set_default(m, "schedulerName", json!("default-scheduler"));
    set_default(m, "terminationGracePeriodSeconds", json!(30));
    set_default(m, "securityContext", json!({}));
    for key in ["containers", "initContainers"] {
        if let Some(Value::Array(cs)) = m.get_mut(key) {
            cs.iter_mut().for_each(default_container);
        }
    }
}

fn default_template(spec: &mut Map<String, Value>) {
    if let Some(t) = spec.get_mut("template")
        && let Some(ps) = t.get_mut("spec")
    {
        default_pod_spec(ps);
    }
}

/// Applies defaults in place. `next_ip` allocates a Service cluster IP.
pub fn apply(kind: Rt, obj: &mut Value, next_ip: &mut dyn FnMut() -> String) {
    match kind {
        res::NAMESPACES => default_namespace(obj),
        res::SECRETS => default_secret(obj),
        res::PODS => {
            if let Some(s) = obj.get_mut("spec") {
                default_pod_spec(s);
            }
        }
        res::SERVICES => default_service(obj, next_ip),
        res::PVCS => {
            if let Some(s) = obj_at(obj, "spec") {
                set_default(s, "volumeMode", json!("Filesystem"));
            }
            if let Some(m) = obj.as_object_mut() {
                set_default(m, "status", json!({"phase": "Pending"}));
            }
        }
        res::STATEFULSETS => default_statefulset(obj),
        res::DEPLOYMENTS => {
            if let Some(s) = obj_at(obj, "spec") {
                set_default(s, "replicas", json!(1));
                set_default(s, "revisionHistoryLimit", json!(10));
                set_default(s, "progressDeadlineSeconds", json!(600));
                set_default(
                    s,
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                );
                default_template(s);
            }
        }
        res::JOBS => default_job(obj),
        _ => {}
    }
}

fn default_namespace(obj: &mut Value) {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
    if let Some(md) = obj_at(obj, "metadata") {
        let labels = md.entry("labels").or_insert_with(|| json!({}));
        if let Some(l) = labels.as_object_mut() {
            l.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
    if let Some(m) = obj.as_object_mut() {
        set_default(m, "spec", json!({"finalizers": ["kubernetes"]}));
        set_default(m, "status", json!({"phase": "Active"}));
    }
}

fn default_secret(obj: &mut Value) {
    let Some(m) = obj.as_object_mut() else { return };
    set_default(m, "type", json!("Opaque"));
    // The apiserver folds write-only stringData into data.
    if let Some(Value::Object(sd)) = m.remove("stringData") {
        let data = m.entry("data").or_insert_with(|| json!({}));
        if let Some(d) = data.as_object_mut() {
            for (k, v) in sd {
                d.insert(k, json!(base64(v.as_str().unwrap_or_default().as_bytes())));
            }
        }
    }
}

fn default_service(obj: &mut Value, next_ip: &mut dyn FnMut() -> String) {
    if let Some(s) = obj_at(obj, "spec") {
        set_default(s, "type", json!("ClusterIP"));
        let ty = s.get("type").and_then(Value::as_str).unwrap_or("ClusterIP").to_owned();
        if ty != "ExternalName" {
            if !s.contains_key("clusterIP") {
                s.insert("clusterIP".into(), json!(next_ip()));
            }
            let ip = s.get("clusterIP").cloned().unwrap_or(Value::Null);
            set_default(s, "clusterIPs", json!([ip]));
            set_default(s, "ipFamilies", json!(["IPv4"]));
            set_default(s, "ipFamilyPolicy", json!("SingleStack"));
            set_default(s, "internalTrafficPolicy", json!("Cluster"));
        }
        set_default(s, "sessionAffinity", json!("None"));
        if let Some(Value::Array(ports)) = s.get_mut("ports") {
            for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                set_default(p, "protocol", json!("TCP"));
                if let Some(port) = p.get("port").cloned() {
                    set_default(p, "targetPort", port);
                }
            }
        }
    }
    if let Some(m) = obj.as_object_mut() {
        set_default(m, "status", json!({"loadBalancer": {}}));
    }
}

fn default_statefulset(obj: &mut Value) {
    let Some(s) = obj_at(obj, "spec") else { return };
    set_default(s, "replicas", json!(1));
    set_default(s, "podManagementPolicy", json!("OrderedReady"));
    set_default(s, "revisionHistoryLimit", json!(10));
    set_default(s, "updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
    set_default(s, "persistentVolumeClaimRetentionPolicy", json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
    default_template(s);
    if let Some(Value::Array(vcts)) = s.get_mut("volumeClaimTemplates") {
        for t in vcts.iter_mut().filter_map(Value::as_object_mut) {
            set_default(t, "apiVersion", json!("v1"));
            set_default(t, "kind", json!("PersistentVolumeClaim"));
            if let Some(Value::Object(ts)) = t.get_mut("spec") {
                set_default(ts, "volumeMode", json!("Filesystem"));
            }
            set_default(t, "status", json!({"phase": "Pending"}));
        }
    }
}

/// `batch/v1` Job defaults (`SetDefaults_Job`), pod template included.
fn default_job(obj: &mut Value) {
    if let Some(s) = obj_at(obj, "spec") {
        if !s.contains_key("completions") && !s.contains_key("parallelism") {
            s.insert("completions".into(), json!(1));
        }
        set_default(s, "parallelism", json!(1));
        let per_index = s.contains_key("backoffLimitPerIndex");
        set_default(s, "backoffLimit", json!(if per_index { i64::from(i32::MAX) } else { 6 }));
        set_default(s, "completionMode", json!("NonIndexed"));
        set_default(s, "suspend", json!(false));
        let replacement = if s.contains_key("podFailurePolicy") { "Failed" } else { "TerminatingOrFailed" };
        set_default(s, "podReplacementPolicy", json!(replacement));
        if let Some(ps) = s.get_mut("template").and_then(|t| t.get_mut("spec")) {
            default_pod_spec_with(ps, false);
        }
    }
    // A Job without labels gets its pod template's labels.
    let template_labels =
        obj.pointer("/spec/template/metadata/labels").filter(|l| l.as_object().is_some_and(|m| !m.is_empty())).cloned();
    if let (Some(labels), Some(md)) = (template_labels, obj_at(obj, "metadata")) {
        let empty = md.get("labels").and_then(Value::as_object).is_none_or(Map::is_empty);
        if empty {
            md.insert("labels".into(), labels);
        }
    }
}

/// The object map at `key`, created (or replacing a non-map) if needed.
fn map_entry<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let v = m.entry(key.to_owned()).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut()
}

/// Create-time work of the registry strategy (`PrepareForCreate`), after `metadata.uid` is set:
/// a Job without `manualSelector: true` gets the generated selector and pod template labels.
pub fn on_create(kind: Rt, obj: &mut Value) {
    if kind != res::JOBS || obj.pointer("/spec/manualSelector") == Some(&json!(true)) {
        return;
    }
    let md = |k: &str| obj.pointer(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (uid, name) = (md("uid"), md("name"));
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let labels =
        map_entry(spec, "template").and_then(|t| map_entry(t, "metadata")).and_then(|m| map_entry(m, "labels"));
    if let Some(l) = labels {
        for (k, v) in [
            (JOB_NAME_LABEL, &name),
            (LEGACY_JOB_NAME_LABEL, &name),
            (CONTROLLER_UID_LABEL, &uid),
            (LEGACY_CONTROLLER_UID_LABEL, &uid),
        ] {
            set_default(l, k, json!(v));
        }
    }
    if let Some(ml) = map_entry(spec, "selector").and_then(|s| map_entry(s, "matchLabels")) {
        set_default(ml, CONTROLLER_UID_LABEL, json!(uid));
    }
}

pub const CONTROLLER_UID_LABEL: &str = "batch.kubernetes.io/controller-uid";
pub const JOB_NAME_LABEL: &str = "batch.kubernetes.io/job-name";
const LEGACY_CONTROLLER_UID_LABEL: &str = "controller-uid";
const LEGACY_JOB_NAME_LABEL: &str = "job-name";

pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn is_dns_label(s: &str, max: usize) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= max
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(|l| is_dns_label(l, 63))
}

type Cause = (String, String, String);

fn cause(reason: &str, field: &str, message: String) -> Cause {
    (reason.to_owned(), field.to_owned(), message)
}

/// Name validation as the apiserver does it (RFC 1123 subdomain, RFC 1123 label for
/// namespaces, RFC 1035 label for services).
pub fn validate_name(kind: Rt, name: &str) -> Result<(), ApiError> {
    let r = res::rt(kind);
    let err = match kind {
        res::SERVICES if !(is_dns_label(name, 63) && name.as_bytes()[0].is_ascii_lowercase()) => Some(format!(
            "Invalid value: \"{name}\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
        )),
        res::NAMESPACES if !is_dns_label(name, 63) => Some(format!(
            "Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
        )),
        _ if !is_dns_subdomain(name) => Some(format!(
            "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        )),
        _ => None,
    };
    match err {
        Some(m) => Err(ApiError::invalid(r, name, &[cause("FieldValueInvalid", "metadata.name", m)])),
        None => Ok(()),
    }
}

/// Update fields of `StatefulSet.spec` the apiserver allows to change.
const STS_MUTABLE: &[&str] = &[
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "revisionHistoryLimit",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
];

fn without(spec: Option<&Value>, keys: &[&str]) -> Value {
    let mut s = spec.cloned().unwrap_or_else(|| json!({}));
    if let Some(m) = s.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
    s
}

/// Validation of the (defaulted) object, and of the update from `old` if any.
pub fn validate(kind: Rt, obj: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let r = res::rt(kind);
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
    let mut causes = Vec::new();
    if matches!(kind, res::STATEFULSETS | res::DEPLOYMENTS | res::JOBS) {
        validate_selector(obj, &mut causes);
        validate_containers(obj, &mut causes);
    }
    if kind == res::JOBS {
        validate_job(obj, &mut causes);
    }
    if let Some(old) = old {
        validate_update(kind, obj, old, &mut causes);
    }
    if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid(r, name, &causes)) }
}

fn validate_selector(obj: &Value, causes: &mut Vec<Cause>) {
    let labels = obj.pointer("/spec/template/metadata/labels");
    if obj.pointer("/spec/selector").is_none() {
        causes.push(cause("FieldValueRequired", "spec.selector", "Required value".into()));
    } else if let Some(sel) = obj.pointer("/spec/selector/matchLabels").and_then(Value::as_object) {
        let ok = sel.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
        if !ok {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.template.metadata.labels",
                format!(
                    "Invalid value: {}: `selector` does not match template `labels`",
                    labels.cloned().unwrap_or_else(|| json!({}))
                ),
            ));
        }
    }
}

fn validate_containers(obj: &Value, causes: &mut Vec<Cause>) {
    match obj.pointer("/spec/template/spec/containers").and_then(Value::as_array) {
        Some(cs) if !cs.is_empty() => {
            for (i, c) in cs.iter().enumerate() {
                for f in ["name", "image"] {
                    if c.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                        causes.push(cause(
                            "FieldValueRequired",
                            &format!("spec.template.spec.containers[{i}].{f}"),
                            "Required value".into(),
                        ));
                    }
                }
            }
        }
        _ => causes.push(cause("FieldValueRequired", "spec.template.spec.containers", "Required value".into())),
    }
}

/// Job-only rules: non-negative counts, `restartPolicy` OnFailure/Never, generated selector.
fn validate_job(obj: &Value, causes: &mut Vec<Cause>) {
    for f in ["parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"] {
        if let Some(n) = obj.pointer(&format!("/spec/{f}")).and_then(Value::as_i64).filter(|n| *n < 0) {
            causes.push(cause(
                "FieldValueInvalid",
                &format!("spec.{f}"),
                format!("Invalid value: {n}: must be greater than or equal to 0"),
            ));
        }
    }
    let field = "spec.template.spec.restartPolicy";
    match obj.pointer("/spec/template/spec/restartPolicy").and_then(Value::as_str) {
        None | Some("") => causes.push(cause(
            "FieldValueRequired",
            field,
            "Required value: valid values: \"OnFailure\", \"Never\"".into(),
        )),
        Some("OnFailure" | "Never") => {}
        Some(other) => causes.push(cause(
            "FieldValueNotSupported",
            field,
            format!("Unsupported value: \"{other}\": supported values: \"OnFailure\", \"Never\""),
        )),
    }
    if obj.pointer("/spec/manualSelector") == Some(&json!(true)) {
        return;
    }
    let md = |k: &str| obj.pointer(&format!("/metadata/{k}")).and_then(Value::as_str).unwrap_or_default();
    let expected = json!({CONTROLLER_UID_LABEL: md("uid"), JOB_NAME_LABEL: md("name")});
    let generated = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .is_some_and(|ml| ml.iter().all(|(k, v)| expected.get(k) == Some(v)))
        && obj.pointer("/spec/selector/matchExpressions").and_then(Value::as_array).is_none_or(Vec::is_empty);
    if obj.pointer("/spec/selector").is_some() && !generated {
        causes.push(cause(
            "FieldValueInvalid",
            "spec.selector",
            format!(
                "Invalid value: {}: `selector` not auto-generated",
                obj.pointer("/spec/selector").cloned().unwrap_or(Value::Null)
            ),
        ));
    }
}

fn immutable(field: &str, v: Option<&Value>) -> Cause {
    cause(
        "FieldValueInvalid",
        field,
        format!("Invalid value: {}: field is immutable", v.cloned().unwrap_or(Value::Null)),
    )
}

fn validate_update(kind: Rt, obj: &Value, old: &Value, causes: &mut Vec<Cause>) {
    let changed = |p: &str| obj.pointer(p) != old.pointer(p);
    match kind {
        res::STATEFULSETS if without(obj.get("spec"), STS_MUTABLE) != without(old.get("spec"), STS_MUTABLE) => {
            causes.push(cause(
                "FieldValueForbidden",
                "spec",
                "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".into(),
            ));
        }
        res::DEPLOYMENTS if changed("/spec/selector") => {
            causes.push(immutable("spec.selector", obj.pointer("/spec/selector")));
        }
        res::JOBS => {
            for f in ["completions", "selector", "template"] {
                let p = format!("/spec/{f}");
                if changed(&p) {
                    causes.push(immutable(&format!("spec.{f}"), obj.pointer(&p)));
                }
            }
        }
        res::SERVICES if old.pointer("/spec/clusterIP").is_some() && changed("/spec/clusterIP") => {
            causes.push(cause(
                "FieldValueInvalid",
                "spec.clusterIPs[0]",
                format!(
                    "Invalid value: {}: may not change once set",
                    obj.pointer("/spec/clusterIP").cloned().unwrap_or(Value::Null)
                ),
            ));
        }
        res::PVCS if without(obj.get("spec"), &["resources"]) != without(old.get("spec"), &["resources"]) => {
            causes.push(cause(
                "FieldValueForbidden",
                "spec",
                "Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims".into(),
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy() {
        assert_eq!(image_pull_policy("redis:7"), "IfNotPresent");
        assert_eq!(image_pull_policy("redis"), "Always");
        assert_eq!(image_pull_policy("redis:latest"), "Always");
        assert_eq!(image_pull_policy("localhost:5000/redis"), "Always");
        assert_eq!(image_pull_policy("localhost:5000/redis:7"), "IfNotPresent");
        assert_eq!(image_pull_policy("redis@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn b64() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"hunter2"), "aHVudGVyMg==");
    }

    #[test]
    fn job_defaults() {
        let mut j = json!({"metadata": {"name": "j", "uid": "u1"}, "spec": {"parallelism": 2, "backoffLimitPerIndex": 1, "podFailurePolicy": {"rules": []},
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        on_create(res::JOBS, &mut j);
        apply(res::JOBS, &mut j, &mut String::new);
        let spec = &j["spec"];
        assert_eq!(spec.get("completions"), None, "a work queue keeps completions unset");
        assert_eq!(spec["parallelism"], 2);
        assert_eq!(spec["backoffLimit"], i64::from(i32::MAX));
        assert_eq!(spec["podReplacementPolicy"], "Failed");
        assert_eq!(spec["selector"], json!({"matchLabels": {CONTROLLER_UID_LABEL: "u1"}}));
        assert_eq!(spec["template"]["spec"].get("restartPolicy"), None, "not defaulted for Jobs");
        assert_eq!(j["metadata"]["labels"]["job-name"], "j", "labels from the template");
        let e = validate(res::JOBS, &j, None).map_err(|e| e.message);
        assert_eq!(
            e,
            Err("Job.batch \"j\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"".into())
        );
        j["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure");
        assert!(validate(res::JOBS, &j, None).is_ok());
        let mut other = j.clone();
        other["spec"]["completions"] = json!(3);
        other["spec"]["parallelism"] = json!(-1);
        let e = validate(res::JOBS, &other, Some(&j)).map_err(|e| e.message).expect_err("invalid");
        assert!(e.starts_with("Job.batch \"j\" is invalid: [spec.parallelism: Invalid value: -1: must be greater than or equal to 0, spec.completions: Invalid value: 3: field is immutable]"), "{e}");
    }

    #[test]
    fn names() {
        assert!(validate_name(res::STATEFULSETS, "redis-0.a").is_ok());
        assert!(validate_name(res::STATEFULSETS, "Redis").is_err());
        assert!(validate_name(res::SERVICES, "1redis").is_err());
        assert!(validate_name(res::SERVICES, "redis_db").is_err());
        assert!(validate_name(res::NAMESPACES, "a.b").is_err());
    }
}
