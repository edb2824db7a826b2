//! The `pods/{name}/log` subresource: a pod's canned log text, shaped like the kubelet's answer.

use crate::resources::{self as res, ApiError, rt};
use crate::{Inner, lock};
use serde_json::Value;

/// The query parameters of a log request the double honours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRequest {
    pub container: Option<String>,
    pub previous: bool,
    pub tail_lines: Option<u64>,
    pub limit_bytes: Option<u64>,
}

/// The log text of a pod's container, or the error the apiserver/kubelet would answer.
pub fn read(inner: &Inner, ns: &str, name: &str, req: &LogRequest) -> Result<String, ApiError> {
    let pod = lock(&inner.store)
        .get(res::PODS, Some(ns), name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(rt(res::PODS), name))?;
    let container = pick_container(&pod, name, req.container.as_deref())?;
    let status = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c.get("name").and_then(Value::as_str) == Some(container.as_str())).cloned());
    match status {
        Some(cs) => check_state(&cs, name, &container, req.previous)?,
        // A pod that is not running anywhere yet has no logs (the apiserver answers empty).
        None if pod.pointer("/status/phase").and_then(Value::as_str) == Some("Pending") => return Ok(String::new()),
        None if req.previous => return Err(no_previous(name, &container)),
        None => {}
    }
    let text = inner.controller.log_for(&workload_of(&pod, name));
    Ok(shape(&text, req.tail_lines, req.limit_bytes))
}

/// The workload whose log a pod shows: its controller owner's name, or its own name.
fn workload_of(pod: &Value, name: &str) -> String {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true)))
        .and_then(|r| r.get("name").and_then(Value::as_str))
        .unwrap_or(name)
        .to_owned()
}

/// The container asked for, or the only one (the apiserver's `validateContainer`).
pub(crate) fn pick_container(pod: &Value, name: &str, asked: Option<&str>) -> Result<String, ApiError> {
    let names: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().filter_map(|c| c.get("name").and_then(Value::as_str)).collect())
        .unwrap_or_default();
    match asked {
        Some(c) if names.contains(&c) => Ok(c.to_owned()),
        Some(c) => Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}"))),
        None if names.len() == 1 => Ok(names[0].to_owned()),
        None => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            names.join(" ")
        ))),
    }
}

fn no_previous(pod: &str, container: &str) -> ApiError {
    ApiError::bad_request(format!("previous terminated container \"{container}\" in pod \"{pod}\" not found"))
}

/// The kubelet's checks (`validateContainerLogStatus`): which container instance has logs.
fn check_state(cs: &Value, pod: &str, container: &str, previous: bool) -> Result<(), ApiError> {
    let has_id = |p: &str| cs.pointer(p).and_then(Value::as_str).is_some_and(|s| !s.is_empty());
    let last_terminated = has_id("/lastState/terminated/containerID");
    if previous {
        return if last_terminated { Ok(()) } else { Err(no_previous(pod, container)) };
    }
    if cs.pointer("/state/running").is_some() || has_id("/state/terminated/containerID") || last_terminated {
        return Ok(());
    }
    let reason = cs.pointer("/state/waiting/reason").and_then(Value::as_str).unwrap_or_default();
    let why = match reason {
        "ErrImagePull" => "image can't be pulled".to_owned(),
        "ImagePullBackOff" => "trying and failing to pull image".to_owned(),
        "" => {
            return Err(ApiError::bad_request(format!(
                "container \"{container}\" in pod \"{pod}\" is waiting to start - no logs yet"
            )));
        }
        other => other.to_owned(),
    };
    Err(ApiError::bad_request(format!("container \"{container}\" in pod \"{pod}\" is waiting to start: {why}")))
}

/// `tailLines` (the last n lines), then `limitBytes` (cut at a character boundary).
fn shape(text: &str, tail_lines: Option<u64>, limit_bytes: Option<u64>) -> String {
    let mut out = match tail_lines {
        Some(n) => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            let skip = lines.len().saturating_sub(usize::try_from(n).unwrap_or(usize::MAX));
            lines[skip..].concat()
        }
        None => text.to_owned(),
    };
    if let Some(limit) = limit_bytes.and_then(|l| usize::try_from(l).ok()).filter(|l| *l < out.len()) {
        let mut cut = limit;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tail_and_limit() {
        let log = "a\nb\nc\n";
        assert_eq!(shape(log, None, None), log);
        assert_eq!(shape(log, Some(2), None), "b\nc\n");
        assert_eq!(shape(log, Some(0), None), "");
        assert_eq!(shape(log, Some(10), None), log);
        assert_eq!(shape("a\nb\nno newline", Some(1), None), "no newline");
        assert_eq!(shape(log, None, Some(3)), "a\nb");
        assert_eq!(shape("é", None, Some(1)), "");
    }

    #[test]
    fn containers() {
        let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        assert_eq!(
            pick_container(&pod, "p", None).map_err(|e| e.message),
            Err("a container name must be specified for pod p, choose one of: [a b]".to_owned())
        );
        assert_eq!(pick_container(&pod, "p", Some("b")).ok().as_deref(), Some("b"));
        assert_eq!(pick_container(&pod, "p", Some("c")).map_err(|e| e.code), Err(400));
    }

    #[test]
    fn kubelet_states() {
        let waiting = json!({"state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}});
        let e = check_state(&waiting, "p", "c", false).map_err(|e| e.message);
        assert_eq!(e, Err("container \"c\" in pod \"p\" is waiting to start: ContainerCreating".to_owned()));
        let crash = json!({"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"containerID": "containerd://x"}}});
        assert!(check_state(&crash, "p", "c", false).is_ok());
        assert!(check_state(&crash, "p", "c", true).is_ok());
        let done = json!({"state": {"terminated": {"containerID": "containerd://y"}}, "lastState": {}});
        assert!(check_state(&done, "p", "c", false).is_ok());
        let e = check_state(&done, "p", "c", true).map_err(|e| e.message);
        assert_eq!(e, Err("previous terminated container \"c\" in pod \"p\" not found".to_owned()));
    }
}
