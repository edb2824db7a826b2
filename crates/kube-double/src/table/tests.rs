//! Unit tests of the server-side Tables: content negotiation, shapes and the per-kind cells.

use super::*;

fn cells(t: &Value) -> Vec<Vec<Value>> {
    t["rows"].as_array().into_iter().flatten().map(|r| r["cells"].as_array().cloned().unwrap_or_default()).collect()
}

fn headers(t: &Value) -> Vec<(String, i64)> {
    let defs = t["columnDefinitions"].as_array().into_iter().flatten();
    defs.map(|c| (c["name"].as_str().unwrap_or_default().to_owned(), c["priority"].as_i64().unwrap_or(-1))).collect()
}

#[test]
fn negotiation() {
    let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    assert_eq!(requested(Some(kubectl)), Some(TableVersion::V1));
    assert_eq!(requested(Some("application/json;as=Table;v=v1beta1;g=meta.k8s.io")), Some(TableVersion::V1beta1));
    assert_eq!(requested(Some("application/json")), None);
    assert_eq!(requested(Some("application/json, application/json;as=Table;v=v1;g=meta.k8s.io")), None);
    assert_eq!(requested(Some("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io")), None);
    assert_eq!(requested(None), None);
}

#[test]
fn list_table_shape() {
    let list = json!({
        "kind": "StatefulSetList", "apiVersion": "apps/v1",
        "metadata": {"resourceVersion": "42", "continue": "1"},
        "items": [{
            "metadata": {"name": "redis", "namespace": "shop", "creationTimestamp": "2020-01-01T00:00:00Z", "resourceVersion": "7"},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "main", "image": "redis:7"}, {"name": "side", "image": "busybox"}]}}},
            "status": {"readyReplicas": 1}
        }]
    });
    let t = convert(&list, TableVersion::V1, Include::Metadata).unwrap_or_else(|| panic!("table"));
    assert_eq!((t["kind"].as_str(), t["apiVersion"].as_str()), (Some("Table"), Some("meta.k8s.io/v1")));
    assert_eq!(t["metadata"], json!({"resourceVersion": "42", "continue": "1"}));
    let want = [("Name", 0), ("Ready", 0), ("Age", 0), ("Containers", 1), ("Images", 1)];
    assert_eq!(headers(&t), want.map(|(n, p)| (n.to_owned(), p)));
    assert_eq!(t["columnDefinitions"][0]["format"], "name");
    let row = &cells(&t)[0];
    assert_eq!(
        (&row[0], &row[1], &row[3], &row[4]),
        (&json!("redis"), &json!("1/2"), &json!("main,side"), &json!("redis:7,busybox"))
    );
    assert!(row[2].as_str().is_some_and(|a| a.contains('y') && !a.contains('<')), "{row:?}");
    let object = &t["rows"][0]["object"];
    assert_eq!(
        (object["kind"].as_str(), object["metadata"]["namespace"].as_str()),
        (Some("PartialObjectMetadata"), Some("shop"))
    );
    let full = convert(&list, TableVersion::V1beta1, Include::Object).unwrap_or_else(|| panic!("table"));
    assert_eq!(
        (full["apiVersion"].as_str(), full["rows"][0]["object"]["spec"]["replicas"].as_i64()),
        (Some("meta.k8s.io/v1beta1"), Some(2))
    );
    let bare = convert(&list, TableVersion::V1, Include::None).unwrap_or_else(|| panic!("table"));
    assert!(bare["rows"][0].get("object").is_none());
    assert!(convert(&json!({"kind": "Status", "apiVersion": "v1"}), TableVersion::V1, Include::None).is_none());
}

#[test]
fn single_object_and_watch_event() {
    let ns = json!({"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "shop", "resourceVersion": "9"}, "status": {"phase": "Active"}});
    let t = convert(&ns, TableVersion::V1, Include::Metadata).unwrap_or_else(|| panic!("table"));
    assert_eq!(t["metadata"]["resourceVersion"], "9");
    assert_eq!(cells(&t), vec![vec![json!("shop"), json!("Active"), json!("<unknown>")]]);
    let ev = watch_event(json!({"type": "MODIFIED", "object": ns}), TableVersion::V1, Include::Metadata);
    assert_eq!((ev["type"].as_str(), ev["object"]["kind"].as_str()), (Some("MODIFIED"), Some("Table")));
    let bookmark = json!({"type": "BOOKMARK", "object": {"kind": "Namespace", "apiVersion": "v1", "metadata": {"resourceVersion": "3"}}});
    assert_eq!(watch_event(bookmark.clone(), TableVersion::V1, Include::Metadata), bookmark);
}

fn row_of(kind: &str, api_version: &str, mut obj: Value) -> Vec<Value> {
    obj["kind"] = json!(kind);
    obj["apiVersion"] = json!(api_version);
    let t = convert(&obj, TableVersion::V1, Include::None).unwrap_or_else(|| panic!("table for {kind}"));
    cells(&t).into_iter().next().unwrap_or_default()
}

#[test]
fn pod_cells() {
    let crash = json!({
        "metadata": {"name": "redis-0"},
        "spec": {"containers": [{"name": "main"}], "nodeName": "kube-double-node"},
        "status": {"phase": "Running", "podIP": "10.244.0.7", "containerStatuses": [{
            "ready": false, "restartCount": 3,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2020-01-01T00:00:00Z"}}
        }]}
    });
    let row = row_of("Pod", "v1", crash);
    assert_eq!((&row[1], &row[2]), (&json!("0/1"), &json!("CrashLoopBackOff")));
    assert!(row[3].as_str().is_some_and(|r| r.starts_with("3 (") && r.ends_with(" ago)")), "{row:?}");
    assert_eq!(
        (&row[5], &row[6], &row[7], &row[8]),
        (&json!("10.244.0.7"), &json!("kube-double-node"), &json!("<none>"), &json!("<none>"))
    );
    let running = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Running", "containerStatuses": [{"ready": true, "restartCount": 0, "state": {"running": {}}}]}});
    let row = row_of("Pod", "v1", running);
    assert_eq!((&row[1], &row[2], &row[3]), (&json!("1/1"), &json!("Running"), &json!("0")));
    let done = json!({"metadata": {"name": "j"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Succeeded", "containerStatuses": [{"ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
    assert_eq!(row_of("Pod", "v1", done)[2], "Completed");
    let killed = json!({"metadata": {"name": "k"}, "spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 0, "signal": 9}}}]}});
    assert_eq!(row_of("Pod", "v1", killed)[2], "Signal:9");
}

#[test]
fn job_cells() {
    let job = |status: Value, spec: Value| {
        row_of("Job", "batch/v1", json!({"metadata": {"name": "m"}, "spec": spec, "status": status}))
    };
    let complete = job(
        json!({"succeeded": 1, "startTime": "2020-01-01T00:00:00Z", "completionTime": "2020-01-01T00:00:07Z", "conditions": [{"type": "Complete", "status": "True"}]}),
        json!({"completions": 1, "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}}}),
    );
    assert_eq!((&complete[1], &complete[2], &complete[3]), (&json!("Complete"), &json!("1/1"), &json!("7s")));
    assert_eq!(complete[7], "batch.kubernetes.io/controller-uid=u");
    let failed = job(
        json!({"conditions": [{"type": "FailureTarget", "status": "True"}, {"type": "Failed", "status": "True"}]}),
        json!({}),
    );
    assert_eq!((&failed[1], &failed[2], &failed[3]), (&json!("Failed"), &json!("0/1"), &json!("")));
    let running = job(json!({"active": 1}), json!({"parallelism": 3}));
    assert_eq!((&running[1], &running[2]), (&json!("Running"), &json!("0/1 of 3")));
    let suspended = job(json!({"conditions": [{"type": "Suspended", "status": "True"}]}), json!({"completions": 2}));
    assert_eq!((&suspended[1], &suspended[2]), (&json!("Suspended"), &json!("0/2")));
}

#[test]
fn other_kinds() {
    let svc = row_of(
        "Service",
        "v1",
        json!({"metadata": {"name": "web"}, "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP", "nodePort": 30053}], "selector": {"app": "web", "tier": "fe"}}}),
    );
    assert_eq!(
        svc[1..5].to_vec(),
        [json!("ClusterIP"), json!("10.96.0.10"), json!("<none>"), json!("80/TCP,53:30053/UDP")]
    );
    assert_eq!(svc[6], "app=web,tier=fe");
    let cm = row_of(
        "ConfigMap",
        "v1",
        json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}}),
    );
    assert_eq!(cm[1], 3);
    let secret = row_of("Secret", "v1", json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}}));
    assert_eq!(secret[1..3].to_vec(), [json!("Opaque"), json!(1)]);
    let pvc = row_of(
        "PersistentVolumeClaim",
        "v1",
        json!({"metadata": {"name": "data-redis-0"}, "spec": {"volumeName": "pvc-1", "volumeMode": "Filesystem"}, "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadWriteMany"]}}),
    );
    assert_eq!(
        pvc[1..7].to_vec(),
        [json!("Bound"), json!("pvc-1"), json!("1Gi"), json!("RWO,RWX"), json!(""), json!("<unset>")]
    );
    let deploy = row_of(
        "Deployment",
        "apps/v1",
        json!({"metadata": {"name": "d"}, "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}}, "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}),
    );
    assert_eq!(deploy[1..4].to_vec(), [json!("2/3"), json!(3), json!(2)]);
    assert_eq!(deploy[7], "app=d,tier in (a,b)");
    let netpol = row_of(
        "NetworkPolicy",
        "networking.k8s.io/v1",
        json!({"metadata": {"name": "n"}, "spec": {"podSelector": {}}}),
    );
    assert_eq!(netpol[1], "<none>");
    let lease =
        row_of("Lease", "coordination.k8s.io/v1", json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "me"}}));
    assert_eq!(lease[1], "me");
}

#[test]
fn event_cells() {
    let ev = json!({
        "kind": "Event", "apiVersion": "v1",
        "metadata": {"name": "redis-0.1"}, "type": "Warning", "reason": "BackOff", "message": "Back-off restarting failed container\n",
        "involvedObject": {"kind": "Pod", "name": "redis-0", "fieldPath": "spec.containers{main}"},
        "source": {"component": "kubelet", "host": "node"}, "count": 4,
        "firstTimestamp": "2020-01-01T00:00:00Z", "lastTimestamp": "2020-01-01T00:00:00Z"
    });
    let t = convert(&ev, TableVersion::V1, Include::None).unwrap_or_else(|| panic!("table"));
    let names: Vec<String> = headers(&t).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count", "Name"]
    );
    let row = &cells(&t)[0];
    assert_eq!(
        row[1..7].to_vec(),
        [
            json!("Warning"),
            json!("BackOff"),
            json!("pod/redis-0"),
            json!("spec.containers{main}"),
            json!("kubelet, node"),
            json!("Back-off restarting failed container")
        ]
    );
    assert_eq!((&row[8], &row[9]), (&json!(4), &json!("redis-0.1")));
}
