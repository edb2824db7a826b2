//! The simulated Job controller: one pod per Job, then a `Complete` or `Failed` Job status.

use super::{MANAGER, PodState, Workload, owned_pods, write_pod};
use crate::resources as res;
use crate::store::{DeleteOptions, Store};
use crate::util;
use serde_json::{Map, Value, json};

const COMPLETED: (&str, &str) = ("CompletionsReached", "Reached expected number of succeeded pods");
const BACKOFF: (&str, &str) = ("BackoffLimitExceeded", "Job has reached the specified backoff limit");

/// Runs the Job's single pod in `state` and writes the Job status for it. A finished Job
/// (`Complete` or `Failed`) is left alone; a suspended one has no pods.
pub(super) fn reconcile(store: &mut Store, w: &Workload<'_>, state: &PodState) {
    if finished(w.obj) {
        return;
    }
    if w.obj.pointer("/spec/suspend") == Some(&json!(true)) {
        for p in owned_pods(store, w) {
            let name = p.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let _ = store.delete(res::PODS, Some(w.ns), name, &DeleteOptions::default());
        }
        let _ = store.set_status(w.rt, Some(w.ns), w.name, suspended_status(w.obj), MANAGER);
        return;
    }
    let template = w.template();
    let existing = owned_pods(store, w);
    let pod_name = existing
        .first()
        .and_then(|p| p.pointer("/metadata/name").and_then(Value::as_str))
        .map_or_else(|| format!("{}-{}", w.name, util::random_suffix(5)), str::to_owned);
    let spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    write_pod(store, w, &template, &pod_name, Map::new(), spec, state);
    let mut status = running_status(w.obj, state);
    let Some((target, terminal)) = terminal_conditions(w.obj, state, &mut status) else {
        let _ = store.set_status(w.rt, Some(w.ns), w.name, status, MANAGER);
        return;
    };
    // Like the 1.31+ controller: first the interim condition, then the terminal one.
    push_condition(&mut status, target);
    let _ = store.set_status(w.rt, Some(w.ns), w.name, status.clone(), MANAGER);
    if *state == PodState::Succeeded {
        status["completionTime"] = json!(util::now_rfc3339());
    }
    let (ty, reason, message) = match state {
        PodState::Succeeded => ("Normal", "Completed", "Job completed"),
        _ => ("Warning", BACKOFF.0, BACKOFF.1),
    };
    push_condition(&mut status, terminal);
    let _ = store.set_status(w.rt, Some(w.ns), w.name, status, MANAGER);
    w.event(store, ty, reason, message);
}

fn finished(job: &Value) -> bool {
    job.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|cs| {
        cs.iter().any(|c| matches!(c["type"].as_str(), Some("Complete" | "Failed")) && c["status"] == "True")
    })
}

fn condition(ty: &str, status: bool, (reason, message): (&str, &str)) -> Value {
    let now = util::now_rfc3339();
    json!({
        "type": ty,
        "status": if status { "True" } else { "False" },
        "lastProbeTime": now,
        "lastTransitionTime": now,
        "reason": reason,
        "message": message,
    })
}

fn push_condition(status: &mut Value, c: Value) {
    match status.get_mut("conditions").and_then(Value::as_array_mut) {
        Some(cs) => cs.push(c),
        None => status["conditions"] = json!([c]),
    }
}

/// The status while the pod is active (or about to finish): `startTime`, counts, and a
/// `Suspended` condition turned False if the Job was resumed.
fn running_status(job: &Value, state: &PodState) -> Value {
    let start = job.pointer("/status/startTime").cloned().unwrap_or_else(|| json!(util::now_rfc3339()));
    let mut status = json!({"startTime": start, "ready": 0, "terminating": 0, "uncountedTerminatedPods": {}});
    if !matches!(state, PodState::Succeeded | PodState::Failed(_)) {
        status["active"] = json!(1);
        status["ready"] = json!(i32::from(state.ready()));
    }
    let suspended = job
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Suspended"))
        .cloned();
    if let Some(mut c) = suspended {
        if c["status"] == "True" {
            c = condition("Suspended", false, ("JobResumed", "Job resumed"));
        }
        status["conditions"] = json!([c]);
    }
    status
}

/// For a finished pod: sets the `succeeded`/`failed` count and returns the interim and
/// terminal conditions (`SuccessCriteriaMet` + `Complete`, `FailureTarget` + `Failed`).
fn terminal_conditions(job: &Value, state: &PodState, status: &mut Value) -> Option<(Value, Value)> {
    match state {
        PodState::Succeeded => {
            status["succeeded"] = json!(1);
            Some((condition("SuccessCriteriaMet", true, COMPLETED), condition("Complete", true, COMPLETED)))
        }
        PodState::Failed(_) => {
            // Every retry fails the same way, so the Job stops after backoffLimit + 1 pods.
            let limit = job.pointer("/spec/backoffLimit").and_then(Value::as_i64).unwrap_or(6);
            status["failed"] = json!(limit.saturating_add(1));
            Some((condition("FailureTarget", true, BACKOFF), condition("Failed", true, BACKOFF)))
        }
        _ => None,
    }
}

fn suspended_status(job: &Value) -> Value {
    let already = job
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Suspended" && c["status"] == "True"))
        .cloned();
    let c = already.unwrap_or_else(|| condition("Suspended", true, ("JobSuspended", "Job suspended")));
    json!({"ready": 0, "terminating": 0, "uncountedTerminatedPods": {}, "conditions": [c]})
}
