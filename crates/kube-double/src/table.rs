//! Server-side `meta.k8s.io/v1` Tables (what `kubectl get` asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), with the columns of the real
//! apiserver's printers for every served kind.

use crate::resources::{RESOURCES, ResourceType};
use crate::util::{human_duration, now_secs, parse_rfc3339};
use serde_json::{Map, Value, json};

/// What a client asked for in `Accept`: the Table's `apiVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableVersion {
    V1,
    V1beta1,
}

/// The Table version to answer with, when the first media range of `accept` the double can
/// serve is a Table (kubectl lists Table v1, Table v1beta1, then plain `application/json`).
pub fn requested(accept: Option<&str>) -> Option<TableVersion> {
    for range in accept?.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default();
        let params: Vec<(&str, &str)> =
            parts.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
        let param = |k: &str| params.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
        if !matches!(media, "application/json" | "application/*" | "*/*") {
            continue;
        }
        match (param("as"), param("g"), param("v")) {
            (None, ..) => return None,
            (Some("Table"), Some("meta.k8s.io"), Some("v1")) => return Some(TableVersion::V1),
            (Some("Table"), Some("meta.k8s.io"), Some("v1beta1")) => return Some(TableVersion::V1beta1),
            _ => {}
        }
    }
    None
}

/// The row `object` (`includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    Object,
}

impl Include {
    pub fn parse(v: Option<&str>) -> Self {
        match v {
            Some("None") => Self::None,
            Some("Object") => Self::Object,
            _ => Self::Metadata,
        }
    }
}

/// Converts a GET answer (one object or an `XList`) into a Table; `None` for anything the
/// double has no printer for (the value is then served as is).
pub fn convert(v: &Value, version: TableVersion, include: Include) -> Option<Value> {
    let kind = v["kind"].as_str()?;
    let api_version = v["apiVersion"].as_str()?;
    let (r, objects, metadata) = match kind.strip_suffix("List").and_then(|k| find(api_version, k)) {
        Some(r) => {
            let items: Vec<&Value> = v["items"].as_array()?.iter().collect();
            (r, items, v["metadata"].clone())
        }
        None => {
            let r = find(api_version, kind)?;
            (r, vec![v], json!({"resourceVersion": v["metadata"]["resourceVersion"]}))
        }
    };
    Some(table(r, &objects, metadata, version, include))
}

fn find(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.kind == kind && r.api_version() == api_version)
}

/// A watch event whose object becomes a one-row Table (other events are returned unchanged).
pub fn watch_event(event: Value, version: TableVersion, include: Include) -> Value {
    let ty = event["type"].as_str().unwrap_or_default();
    if !matches!(ty, "ADDED" | "MODIFIED" | "DELETED") {
        return event;
    }
    match convert(&event["object"], version, include) {
        Some(t) => json!({"type": ty, "object": t}),
        None => event,
    }
}

fn table(r: &ResourceType, objects: &[&Value], metadata: Value, version: TableVersion, include: Include) -> Value {
    let cols = columns(r.kind);
    let now = now_secs();
    let group_version = match version {
        TableVersion::V1 => "meta.k8s.io/v1",
        TableVersion::V1beta1 => "meta.k8s.io/v1beta1",
    };
    let definitions: Vec<Value> = cols
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.ty, "format": c.format, "description": c.description, "priority": c.priority})
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let cells: Vec<Value> = cols.iter().map(|c| (c.cell)(o, now)).collect();
            let mut row = json!({"cells": cells});
            match include {
                Include::None => {}
                Include::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": group_version, "metadata": o["metadata"]});
                }
                Include::Object => row["object"] = (*o).clone(),
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": group_version, "metadata": metadata, "columnDefinitions": definitions, "rows": rows})
}

/// One column: its definition and how a cell is computed from the object (and the time now).
struct Column {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    /// 0: default output; 1: `-o wide` only.
    priority: u8,
    description: &'static str,
    cell: fn(&Value, i64) -> Value,
}

const fn col(
    name: &'static str,
    ty: &'static str,
    priority: u8,
    description: &'static str,
    cell: fn(&Value, i64) -> Value,
) -> Column {
    Column { name, ty, format: "", priority, description, cell }
}

const NAME_DOC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DOC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn name() -> Column {
    Column { format: "name", ..col("Name", "string", 0, NAME_DOC, |o, _| json!(text(o, "/metadata/name"))) }
}

fn age() -> Column {
    col("Age", "string", 0, AGE_DOC, |o, now| json!(since(o, "/metadata/creationTimestamp", now)))
}

/// The columns of the real printer for `kind` (`pkg/printers/internalversion`), name first.
fn columns(kind: &str) -> Vec<Column> {
    let rest = match kind {
        "Namespace" => vec![
            col("Status", "string", 0, "The status of the namespace", |o, _| json!(text(o, "/status/phase"))),
            age(),
        ],
        "Secret" => vec![
            col("Type", "string", 0, "The type of the secret", |o, _| json!(text(o, "/type"))),
            col("Data", "string", 0, "The number of entries in the secret", |o, _| json!(entries(o, &["data"]))),
            age(),
        ],
        "ConfigMap" => vec![
            col("Data", "string", 0, "Data contains the configuration data.", |o, _| {
                json!(entries(o, &["data", "binaryData"]))
            }),
            age(),
        ],
        "Service" => service_columns(),
        "PersistentVolumeClaim" => pvc_columns(),
        "Pod" => pod_columns(),
        "Event" => return event_columns(),
        "StatefulSet" => vec![
            col("Ready", "string", 0, "Number of the pod with ready state", |o, _| {
                json!(format!("{}/{}", int(o, "/status/readyReplicas"), int(o, "/spec/replicas")))
            }),
            age(),
            containers_column(),
            images_column(),
        ],
        "Deployment" => deployment_columns(),
        "NetworkPolicy" => vec![
            col("Pod-Selector", "string", 0, "Selects the pods to which this NetworkPolicy object applies.", |o, _| {
                json!(label_selector(&o["spec"]["podSelector"]))
            }),
            age(),
        ],
        "Job" => job_columns(),
        "Lease" => vec![
            col("Holder", "string", 0, "The holder of the lease", |o, _| json!(text(o, "/spec/holderIdentity"))),
            age(),
        ],
        _ => vec![age()],
    };
    std::iter::once(name()).chain(rest).collect()
}

fn service_columns() -> Vec<Column> {
    vec![
        col("Type", "string", 0, "The type of the service", |o, _| json!(text(o, "/spec/type"))),
        col("Cluster-IP", "string", 0, "The cluster IP of the service", |o, _| {
            json!(none_if_empty(text(o, "/spec/clusterIP")))
        }),
        col("External-IP", "string", 0, "The external IPs of the service", |o, _| json!(external_ip(o))),
        col("Port(s)", "string", 0, "The ports of the service", |o, _| json!(service_ports(o))),
        age(),
        col("Selector", "string", 1, "The selector of the service", |o, _| json!(map_selector(&o["spec"]["selector"]))),
    ]
}

fn pvc_columns() -> Vec<Column> {
    vec![
        col("Status", "string", 0, "The phase of the claim", |o, _| json!(text(o, "/status/phase"))),
        col("Volume", "string", 0, "The volume bound to the claim", |o, _| json!(text(o, "/spec/volumeName"))),
        col("Capacity", "string", 0, "The capacity of the bound volume", |o, _| {
            json!(if pvc_bound(o) { text(o, "/status/capacity/storage") } else { String::new() })
        }),
        col("Access Modes", "string", 0, "The access modes of the bound volume", |o, _| {
            json!(if pvc_bound(o) { access_modes(&o["status"]["accessModes"]) } else { String::new() })
        }),
        col("StorageClass", "string", 0, "The storage class of the claim", |o, _| {
            json!(text(o, "/spec/storageClassName"))
        }),
        col("VolumeAttributesClass", "string", 0, "The volume attributes class of the claim", |o, _| {
            json!(unset_if_empty(text(o, "/spec/volumeAttributesClassName")))
        }),
        age(),
        col("VolumeMode", "string", 1, "The volume mode of the claim", |o, _| {
            json!(unset_if_empty(text(o, "/spec/volumeMode")))
        }),
    ]
}

/// Capacity and access modes are shown once a volume is bound.
fn pvc_bound(o: &Value) -> bool {
    !text(o, "/spec/volumeName").is_empty()
}

fn pod_columns() -> Vec<Column> {
    vec![
        col("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic.", |o, _| {
            json!(pod_ready(o))
        }),
        col("Status", "string", 0, "The aggregate status of the containers in this pod.", |o, _| json!(pod_status(o))),
        col(
            "Restarts",
            "string",
            0,
            "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            |o, now| json!(pod_restarts(o, now)),
        ),
        age(),
        col(
            "IP",
            "string",
            1,
            "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            |o, _| json!(none_if_empty(text(o, "/status/podIP"))),
        ),
        col("Node", "string", 1, "NodeName is a request to schedule this pod onto a specific node.", |o, _| {
            json!(none_if_empty(text(o, "/spec/nodeName")))
        }),
        col(
            "Nominated Node",
            "string",
            1,
            "nominatedNodeName is set only when this pod preempts other pods on the node.",
            |o, _| json!(none_if_empty(text(o, "/status/nominatedNodeName"))),
        ),
        col(
            "Readiness Gates",
            "string",
            1,
            "If specified, all readiness gates will be evaluated for pod readiness.",
            |o, _| json!(readiness_gates(o)),
        ),
    ]
}

/// Event tables have no Name first and no Age (`Last Seen` instead).
fn event_columns() -> Vec<Column> {
    vec![
        col("Last Seen", "string", 0, "Time when this Event was last seen", |o, now| json!(event_last_seen(o, now))),
        col(
            "Type",
            "string",
            0,
            "Type of this event (Normal, Warning), new types could be added in the future.",
            |o, _| json!(text(o, "/type")),
        ),
        col(
            "Reason",
            "string",
            0,
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            |o, _| json!(text(o, "/reason")),
        ),
        col("Object", "string", 0, "The object that this event is about.", |o, _| json!(event_object(o))),
        col("Subobject", "string", 1, "The subobject that this event is about.", |o, _| {
            json!(text(o, "/involvedObject/fieldPath"))
        }),
        col("Source", "string", 1, "The component reporting this event.", |o, _| json!(event_source(o))),
        col("Message", "string", 0, "A human-readable description of the status of this operation.", |o, _| {
            json!(text(o, "/message").trim())
        }),
        col("First Seen", "string", 1, "The time at which the event was first recorded.", |o, now| {
            json!(event_first_seen(o, now))
        }),
        col("Count", "string", 1, "The number of times this event has occurred.", |o, _| {
            json!(int(o, "/count").max(1))
        }),
        Column { format: "name", ..col("Name", "string", 1, NAME_DOC, |o, _| json!(text(o, "/metadata/name"))) },
    ]
}

fn deployment_columns() -> Vec<Column> {
    vec![
        col("Ready", "string", 0, "Number of the pod with ready state", |o, _| {
            json!(format!("{}/{}", int(o, "/status/readyReplicas"), int(o, "/spec/replicas")))
        }),
        col(
            "Up-to-date",
            "string",
            0,
            "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            |o, _| json!(int(o, "/status/updatedReplicas")),
        ),
        col(
            "Available",
            "string",
            0,
            "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            |o, _| json!(int(o, "/status/availableReplicas")),
        ),
        age(),
        containers_column(),
        images_column(),
        col(
            "Selector",
            "string",
            1,
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
            |o, _| json!(label_selector(&o["spec"]["selector"])),
        ),
    ]
}

fn job_columns() -> Vec<Column> {
    vec![
        col("Status", "string", 0, "Status of the job.", |o, _| json!(job_status(o))),
        col(
            "Completions",
            "string",
            0,
            "The desired number of successfully finished pods the job should be run with.",
            |o, _| json!(job_completions(o)),
        ),
        col("Duration", "string", 0, "Time required to complete the job.", |o, now| json!(job_duration(o, now))),
        age(),
        containers_column(),
        images_column(),
        col("Selector", "string", 1, "A label query over pods that should match the pod count.", |o, _| {
            json!(label_selector(&o["spec"]["selector"]))
        }),
    ]
}

fn containers_column() -> Column {
    col("Containers", "string", 1, "Names of each container in the template.", |o, _| json!(container_field(o, "name")))
}

fn images_column() -> Column {
    col("Images", "string", 1, "Images referenced by each container in the template.", |o, _| {
        json!(container_field(o, "image"))
    })
}

fn text(o: &Value, pointer: &str) -> String {
    o.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn int(o: &Value, pointer: &str) -> i64 {
    o.pointer(pointer).and_then(Value::as_i64).unwrap_or_default()
}

fn none_if_empty(s: String) -> String {
    if s.is_empty() { "<none>".to_owned() } else { s }
}

fn unset_if_empty(s: String) -> String {
    if s.is_empty() { "<unset>".to_owned() } else { s }
}

/// `translateTimestampSince`: the age of the timestamp at `pointer`, `<unknown>` without one.
fn since(o: &Value, pointer: &str, now: i64) -> String {
    match o.pointer(pointer).and_then(Value::as_str).and_then(parse_rfc3339) {
        Some(t) => human_duration(now - t),
        None => "<unknown>".to_owned(),
    }
}

fn entries(o: &Value, fields: &[&str]) -> usize {
    fields.iter().filter_map(|f| o[*f].as_object()).map(Map::len).sum()
}

fn container_field(o: &Value, field: &str) -> String {
    let containers = o.pointer("/spec/template/spec/containers").and_then(Value::as_array);
    containers.into_iter().flatten().filter_map(|c| c[field].as_str()).collect::<Vec<_>>().join(",")
}

/// `metav1.FormatLabelSelector`: requirements sorted by key, `<none>` when empty.
fn label_selector(sel: &Value) -> String {
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in sel["matchLabels"].as_object().into_iter().flatten() {
        reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
    }
    for e in sel["matchExpressions"].as_array().into_iter().flatten() {
        let key = e["key"].as_str().unwrap_or_default();
        let mut values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let req = match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => return "<error>".to_owned(),
        };
        reqs.push((key.to_owned(), req));
    }
    reqs.sort();
    none_if_empty(reqs.into_iter().map(|(_, r)| r).collect::<Vec<_>>().join(","))
}

/// A plain `key: value` selector (Services), sorted by key.
fn map_selector(sel: &Value) -> String {
    let pairs: Vec<String> =
        sel.as_object().into_iter().flatten().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    none_if_empty(pairs.join(","))
}

fn external_ip(o: &Value) -> String {
    let strings = |p: &str| -> Vec<String> {
        o.pointer(p)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let external = strings("/spec/externalIPs");
    match text(o, "/spec/type").as_str() {
        "ExternalName" => text(o, "/spec/externalName"),
        "LoadBalancer" => {
            let ingress = o.pointer("/status/loadBalancer/ingress").and_then(Value::as_array).into_iter().flatten();
            let mut ips: Vec<String> =
                ingress.filter_map(|i| i["ip"].as_str().or(i["hostname"].as_str()).map(str::to_owned)).collect();
            ips.extend(external);
            if ips.is_empty() { "<pending>".to_owned() } else { ips.join(",") }
        }
        _ => none_if_empty(external.join(",")),
    }
}

fn service_ports(o: &Value) -> String {
    let ports = o.pointer("/spec/ports").and_then(Value::as_array).into_iter().flatten();
    let rendered: Vec<String> = ports
        .map(|p| {
            let (port, proto) = (p["port"].as_i64().unwrap_or_default(), p["protocol"].as_str().unwrap_or("TCP"));
            match p["nodePort"].as_i64().filter(|n| *n > 0) {
                Some(node) => format!("{port}:{node}/{proto}"),
                None => format!("{port}/{proto}"),
            }
        })
        .collect();
    none_if_empty(rendered.join(","))
}

/// `GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order.
fn access_modes(modes: &Value) -> String {
    let has = |m: &str| modes.as_array().into_iter().flatten().any(|v| v == m);
    let all =
        [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")];
    all.iter().filter(|(m, _)| has(m)).map(|(_, s)| *s).collect::<Vec<_>>().join(",")
}

fn statuses(o: &Value) -> impl DoubleEndedIterator<Item = &Value> {
    o.pointer("/status/containerStatuses").and_then(Value::as_array).into_iter().flatten()
}

fn pod_ready(o: &Value) -> String {
    let total = o.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
    let ready = statuses(o).filter(|c| c["ready"] == true && c["state"]["running"].is_object()).count();
    format!("{ready}/{total}")
}

/// The STATUS column of `printPod`: the phase (or `status.reason`), overridden by the last
/// container's waiting/terminated reason; `Terminating` while being deleted.
fn pod_status(o: &Value) -> String {
    let mut reason = text(o, "/status/reason");
    if reason.is_empty() {
        reason = text(o, "/status/phase");
    }
    let mut has_running = false;
    for c in statuses(o).rev() {
        let state = &c["state"];
        if let Some(r) = state["waiting"]["reason"].as_str().filter(|r| !r.is_empty()) {
            reason = r.to_owned();
        } else if let Some(t) = state["terminated"].as_object() {
            reason = match (t.get("reason").and_then(Value::as_str), t.get("signal").and_then(Value::as_i64)) {
                (Some(r), _) if !r.is_empty() => r.to_owned(),
                (_, Some(sig)) if sig != 0 => format!("Signal:{sig}"),
                _ => format!("ExitCode:{}", t.get("exitCode").and_then(Value::as_i64).unwrap_or_default()),
            };
        } else if c["ready"] == true && state["running"].is_object() {
            has_running = true;
        }
    }
    if reason == "Completed" && has_running {
        let ready = o
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Ready" && c["status"] == "True");
        reason = if ready { "Running" } else { "NotReady" }.to_owned();
    }
    let terminal = matches!(text(o, "/status/phase").as_str(), "Succeeded" | "Failed");
    if o.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) && !terminal {
        reason = "Terminating".to_owned();
    }
    reason
}

/// `3 (5m ago)`: total restarts and the age of the last termination.
fn pod_restarts(o: &Value, now: i64) -> String {
    let restarts: i64 = statuses(o).map(|c| c["restartCount"].as_i64().unwrap_or_default()).sum();
    let last = statuses(o)
        .filter_map(|c| c.pointer("/lastState/terminated/finishedAt")?.as_str().and_then(parse_rfc3339))
        .max();
    match last {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration(now - t)),
        _ => restarts.to_string(),
    }
}

fn readiness_gates(o: &Value) -> String {
    let gates: Vec<&Value> =
        o.pointer("/spec/readinessGates").and_then(Value::as_array).into_iter().flatten().collect();
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let conditions = o.pointer("/status/conditions").and_then(Value::as_array);
    let ready = gates
        .iter()
        .filter(|g| conditions.into_iter().flatten().any(|c| c["type"] == g["conditionType"] && c["status"] == "True"))
        .count();
    format!("{ready}/{}", gates.len())
}

fn event_first_seen(o: &Value, now: i64) -> String {
    if o.pointer("/firstTimestamp").and_then(Value::as_str).is_some() {
        since(o, "/firstTimestamp", now)
    } else {
        since(o, "/eventTime", now)
    }
}

fn event_last_seen(o: &Value, now: i64) -> String {
    if o.pointer("/series/lastObservedTime").and_then(Value::as_str).is_some() {
        since(o, "/series/lastObservedTime", now)
    } else if o.pointer("/lastTimestamp").and_then(Value::as_str).is_some() {
        since(o, "/lastTimestamp", now)
    } else {
        event_first_seen(o, now)
    }
}

fn event_object(o: &Value) -> String {
    let kind = text(o, "/involvedObject/kind").to_ascii_lowercase();
    match text(o, "/involvedObject/name") {
        n if n.is_empty() => kind,
        n => format!("{kind}/{n}"),
    }
}

fn event_source(o: &Value) -> String {
    let component = text(o, "/source/component");
    if component.is_empty() {
        let controller = text(o, "/reportingComponent");
        let instance = text(o, "/reportingInstance");
        return if instance.is_empty() { controller } else { format!("{controller}, {instance}") };
    }
    match text(o, "/source/host") {
        h if h.is_empty() => component,
        h => format!("{component}, {h}"),
    }
}

fn has_condition(o: &Value, ty: &str) -> bool {
    let conditions = o.pointer("/status/conditions").and_then(Value::as_array);
    conditions.into_iter().flatten().any(|c| c["type"] == ty && c["status"] == "True")
}

fn job_status(o: &Value) -> &'static str {
    let deleting = o.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null());
    match () {
        () if has_condition(o, "Complete") => "Complete",
        () if has_condition(o, "Failed") => "Failed",
        () if deleting => "Terminating",
        () if has_condition(o, "Suspended") => "Suspended",
        () if has_condition(o, "FailureTarget") => "FailureTarget",
        () if has_condition(o, "SuccessCriteriaMet") => "SuccessCriteriaMet",
        () => "Running",
    }
}

fn job_completions(o: &Value) -> String {
    let succeeded = int(o, "/status/succeeded");
    match (
        o.pointer("/spec/completions").and_then(Value::as_i64),
        o.pointer("/spec/parallelism").and_then(Value::as_i64),
    ) {
        (Some(c), _) => format!("{succeeded}/{c}"),
        (None, Some(p)) if p > 1 => format!("{succeeded}/1 of {p}"),
        _ => format!("{succeeded}/1"),
    }
}

fn job_duration(o: &Value, now: i64) -> String {
    let at = |p: &str| o.pointer(p).and_then(Value::as_str).and_then(parse_rfc3339);
    match (at("/status/startTime"), at("/status/completionTime")) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now - start),
        (Some(start), Some(end)) => human_duration(end - start),
    }
}

#[cfg(test)]
mod tests;
