//! The two hooks `deploy verify` needs on Kubernetes: run a command in one
//! ready pod of the service's workload (`pods/exec` through kube's websocket
//! support, channel protocol v5 or v4, the exit code from the `Status` on the
//! error channel), and restart the service the way Kubernetes restarts one:
//! delete that pod and watch until its controller has made a new one and
//! every pod that was ready is ready again.

use std::collections::BTreeMap;
use std::time::Instant;

use deploy_orchestrator::{Backend, Exec, Failure, Step, human};
use deploy_report::Phase;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{AttachParams, DeleteParams, ListParams, Preconditions, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::cluster::Cluster;
use crate::error::describe;
use crate::wait::{self, fail_grace, pod_is_stuck, pod_reason};

/// Output kept per stream: more is cut (the orchestrator clips what it shows).
const MAX_OUTPUT: u64 = 1024 * 1024;

fn is_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The service's pods that are ready, by name (a StatefulSet's `-0` first).
async fn ready_pods(c: &Cluster<'_>, service: &str) -> Result<(Vec<Pod>, String), String> {
    let pods: Api<Pod> = Api::namespaced(c.client().clone(), c.ns());
    let selector = wait::pod_selector(&c.topology().name, service);
    let list = pods.list(&ListParams::default().labels(&selector)).await.map_err(|e| describe(&e))?;
    let rv = list.metadata.resource_version.clone().unwrap_or_default();
    let mut ready: Vec<Pod> = list.items.iter().filter(|p| is_ready(p)).cloned().collect();
    ready.sort_by_key(|p| p.name_any());
    if ready.is_empty() {
        let why = list.items.iter().find_map(pod_reason).map(|r| format!(" ({r})")).unwrap_or_default();
        return Err(if list.items.is_empty() {
            format!("`{service}` has no pod in namespace {}; run `deploy apply` first", c.ns())
        } else {
            format!("no pod of `{service}` is ready{why}")
        });
    }
    Ok((ready, rv))
}

/// Runs `command` in the first ready pod of the service, in its container.
pub(crate) async fn exec(c: &Cluster<'_>, service: &str, command: &[String]) -> Result<Exec, String> {
    // An argument would travel in the request's URL (and the API server's audit log).
    if c.secret_values()
        .iter()
        .filter(|s| s.len() >= deploy_report::MIN_MASKED_LEN)
        .any(|s| command.iter().any(|a| a.contains(s.as_str())))
    {
        return Err("the command carries a secret value; on Kubernetes a check reads secrets from the container's environment (`$$NAME` in a `shell` check), never from its arguments".into());
    }
    let (ready, _) = ready_pods(c, service).await?;
    let pod = ready[0].name_any();
    let pods: Api<Pod> = Api::namespaced(c.client().clone(), c.ns());
    let ap = AttachParams::default().container(service).stdin(false).stdout(true).stderr(true);
    let mut p = pods.exec(&pod, command.to_vec(), &ap).await.map_err(|e| format!("pod {pod}: {}", describe(&e)))?;
    let status = p.take_status();
    let (stdout, stderr) = tokio::join!(read_all(p.stdout()), read_all(p.stderr()));
    let status = match status {
        Some(s) => s.await,
        None => None,
    };
    let _ = p.join().await;
    let exit_code = exit_code(status.as_ref()).map_err(|e| format!("pod {pod}: {e}"))?;
    Ok(Exec { instance: format!("pod/{pod}"), exit_code, stdout, stderr })
}

async fn read_all(r: Option<impl AsyncRead + Unpin>) -> String {
    let mut buf = Vec::new();
    if let Some(r) = r {
        let _ = r.take(MAX_OUTPUT).read_to_end(&mut buf).await;
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The exit code the `Status` on the error channel carries (`Success`: 0;
/// `NonZeroExitCode`: its `ExitCode` cause), or why the command did not run.
fn exit_code(status: Option<&Status>) -> Result<i64, String> {
    let Some(s) = status else { return Err("the connection closed without the command's exit status".into()) };
    if s.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let causes = s.details.as_ref().and_then(|d| d.causes.as_ref());
    let code = causes
        .into_iter()
        .flatten()
        .find(|c| c.reason.as_deref() == Some("ExitCode"))
        .and_then(|c| c.message.as_deref()?.parse().ok());
    match (s.reason.as_deref(), code) {
        (Some("NonZeroExitCode"), Some(code)) => Ok(code),
        _ => Err(s
            .message
            .clone()
            .unwrap_or_else(|| format!("the command failed ({})", s.reason.as_deref().unwrap_or("no reason")))),
    }
}

/// Deletes the first ready pod of the service (its controller makes a new
/// one: a StatefulSet's under the same name, on the same claims) and waits,
/// by watch, until that pod is gone and as many pods are ready as before.
pub(crate) async fn restart(c: &Cluster<'_>, service: &str, step: &Step<'_>) -> Result<Vec<String>, Failure> {
    let (ready, rv) = ready_pods(c, service).await.map_err(Failure::new)?;
    let old = &ready[0];
    let (name, uid) = (old.name_any(), old.uid().unwrap_or_default());
    let object = Some(format!("pod/{name}"));
    let owned = old.owner_references().iter().any(|o| o.controller == Some(true));
    if !owned {
        return Err(Failure::new(format!("pod {name} has no controller: deleted, it would not come back")).on(object));
    }
    let pods: Api<Pod> = Api::namespaced(c.client().clone(), c.ns());
    let dp = DeleteParams {
        preconditions: Some(Preconditions { uid: Some(uid.clone()), resource_version: None }),
        ..DeleteParams::default()
    };
    pods.delete(&name, &dp)
        .await
        .map_err(|e| Failure::new(format!("deleting pod {name}: {}", describe(&e))).on(object.clone()))?;
    step.phase(Phase::Waiting { reason: format!("pod {name} deleted; waiting for its replacement") });
    let selector = wait::pod_selector(&c.topology().name, service);
    let seen: BTreeMap<String, Pod> = ready.iter().map(|p| (p.name_any(), p.clone())).collect();
    let watching = replaced(&pods, &selector, &rv, seen, (&uid, ready.len()), step);
    let outcome = tokio::time::timeout_at(step.deadline.into(), watching).await;
    let new = match outcome {
        Ok(Ok(new)) => new,
        Ok(Err(why)) => return Err(restart_failure(c, service, why).await.on(object)),
        Err(_) => {
            return Err(restart_failure(
                c,
                service,
                format!("pod {name} was deleted, but its replacement was not ready in time"),
            )
            .await
            .on(object));
        }
    };
    Ok(vec![format!("deleted pod {name} (uid {uid}); its controller made {new}, ready")])
}

async fn restart_failure(c: &Cluster<'_>, service: &str, why: String) -> Failure {
    let selector = wait::pod_selector(&c.topology().name, service);
    Failure::new(why).with_detail(wait::failure_detail(c.client(), c.ns(), &selector, service).await)
}

/// Watches the service's pods from `rv` until no pod has the old uid and
/// `want` pods are ready; returns the new pods (`pod NAME (uid ...)`). Gives
/// up once a pod has been stuck (back-off, image pull) for [`fail_grace`].
async fn replaced(
    pods: &Api<Pod>,
    selector: &str,
    rv: &str,
    mut seen: BTreeMap<String, Pod>,
    (old_uid, want): (&str, usize),
    step: &Step<'_>,
) -> Result<String, String> {
    let mut rv = rv.to_string();
    let mut stuck_since: Option<Instant> = None;
    loop {
        let wp = WatchParams::default().labels(selector);
        let mut events = pods.watch(&wp, &rv).await.map_err(|e| describe(&e))?.boxed();
        loop {
            let stuck_at = stuck_since.map(|t| t + fail_grace());
            let ev = tokio::select! {
                ev = events.next() => ev,
                _ = sleep_until(stuck_at) => {
                    let why = seen.values().find_map(pod_reason).unwrap_or_default();
                    return Err(format!("the new pod is not getting ready: {why} (for more than {})", human(fail_grace())));
                }
            };
            match ev.map(|e| e.map_err(|e| describe(&e))).transpose()? {
                // The server ended the watch: watch again from the last version.
                None => break,
                Some(WatchEvent::Added(p) | WatchEvent::Modified(p)) => {
                    rv = p.resource_version().unwrap_or_else(|| rv.clone());
                    if let Some(r) = pod_reason(&p) {
                        step.phase(Phase::Waiting { reason: r });
                    }
                    stuck_since = if pod_is_stuck(&p) { stuck_since.or(Some(Instant::now())) } else { None };
                    seen.insert(p.name_any(), p);
                }
                Some(WatchEvent::Deleted(p)) => {
                    rv = p.resource_version().unwrap_or_else(|| rv.clone());
                    seen.remove(&p.name_any());
                }
                Some(WatchEvent::Bookmark(b)) => rv = b.metadata.resource_version,
                // History too old: read the pods again and watch from there.
                Some(WatchEvent::Error(e)) if e.code == 410 => {
                    let list = pods.list(&ListParams::default().labels(selector)).await.map_err(|e| describe(&e))?;
                    rv = list.metadata.resource_version.clone().unwrap_or_default();
                    seen = list.items.into_iter().map(|p| (p.name_any(), p)).collect();
                    break;
                }
                Some(WatchEvent::Error(e)) => return Err(e.message),
            }
            if let Some(new) = done(&seen, old_uid, want) {
                return Ok(new);
            }
        }
    }
}

/// The new ready pods, once none has the old uid and `want` are ready.
fn done(seen: &BTreeMap<String, Pod>, old_uid: &str, want: usize) -> Option<String> {
    let old = |p: &Pod| p.uid().as_deref() == Some(old_uid);
    let ready: Vec<&Pod> = seen.values().filter(|p| is_ready(p)).collect();
    if seen.values().any(old) || ready.len() < want {
        return None;
    }
    let new =
        ready.iter().filter(|p| !old(p)).map(|p| format!("pod {} (uid {})", p.name_any(), p.uid().unwrap_or_default()));
    Some(new.collect::<Vec<_>>().join(", "))
}

/// Sleeps until `at`; forever when `None`.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
