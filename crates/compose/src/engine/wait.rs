//! Readiness of one container: Docker's own health when it has an answer,
//! otherwise the service's probe run through the exec API (backing off from
//! 100 ms to 1 s). Fails at once when Docker reports `unhealthy` or the
//! container exits, restarts or is paused; at the deadline otherwise, with the
//! last probe output and the log tail.

use std::time::{Duration, Instant};

use bollard::models::{ContainerInspectResponse, ContainerState, ContainerStateStatusEnum, HealthStatusEnum};
use deploy_orchestrator::{Done, Failure, Step, human};
use deploy_report::Phase;

use super::docker::{self as d, describe};
use super::plan::PlannedService;
use super::{Engine, probe};

/// What one look at the container says.
enum Look {
    Done(Result<Done, Failure>),
    /// Not there yet; `probed` says an exec probe ran (and failed) with this output.
    NotYet,
}

struct Waiting {
    attempt: u32,
    last: Option<String>,
    announced: bool,
}

/// Waits until the container is ready (or, for a one-shot, exited 0).
pub(super) async fn wait_ready(e: &Engine<'_>, p: &PlannedService, id: &str, step: &Step<'_>) -> Result<Done, Failure> {
    let mut w = Waiting { attempt: 0, last: None, announced: false };
    let mut backoff = Duration::from_millis(100);
    loop {
        let c = match d::inspect(&e.docker, id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Err(Failure::new(format!("container {} disappeared while waiting for it", p.spec.name)));
            }
            Err(err) => return Err(Failure::new(format!("cannot inspect container: {}", describe(&err)))),
        };
        if let Look::Done(r) = look(e, p, id, &c, step, &mut w).await {
            return r;
        }
        let now = Instant::now();
        if now >= step.deadline {
            return Err(timed_out(e, p, id, &c, step, &w).await);
        }
        tokio::time::sleep(backoff.min(step.deadline - now)).await;
        backoff = (backoff * 3 / 2).min(Duration::from_secs(1));
    }
}

fn health(c: &ContainerInspectResponse) -> Option<HealthStatusEnum> {
    c.state.as_ref().and_then(|s| s.health.as_ref()).and_then(|h| h.status)
}

/// The last outputs of Docker's own health checks, newest last.
fn health_log(c: &ContainerInspectResponse) -> Vec<String> {
    let log = c.state.as_ref().and_then(|s| s.health.as_ref()).and_then(|h| h.log.clone()).unwrap_or_default();
    log.iter()
        .rev()
        .take(3)
        .rev()
        .map(|r| {
            let out = r.output.as_deref().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
            format!("health check: exit {}: {out}", r.exit_code.unwrap_or(-1))
        })
        .collect()
}

async fn look(
    e: &Engine<'_>,
    p: &PlannedService,
    id: &str,
    c: &ContainerInspectResponse,
    step: &Step<'_>,
    w: &mut Waiting,
) -> Look {
    let state = c.state.clone().unwrap_or_default();
    match state.status {
        Some(ContainerStateStatusEnum::RUNNING) => running(e, p, id, c, step, w).await,
        Some(ContainerStateStatusEnum::EXITED | ContainerStateStatusEnum::DEAD) => {
            Look::Done(exited(e, p, id, &state, w).await)
        }
        Some(ContainerStateStatusEnum::RESTARTING) => {
            let code = state.exit_code.unwrap_or(0);
            let reason =
                format!("container {} keeps restarting (last exit code {code}); see its logs below", p.spec.name);
            Look::Done(Err(Failure::new(reason).with_detail(d::logs_tail(&e.docker, id, 20).await)))
        }
        Some(ContainerStateStatusEnum::PAUSED) => Look::Done(Err(Failure::new(format!(
            "container {} is paused; `docker unpause {}`",
            p.spec.name, p.spec.name
        )))),
        _ => Look::NotYet,
    }
}

async fn running(
    e: &Engine<'_>,
    p: &PlannedService,
    id: &str,
    c: &ContainerInspectResponse,
    step: &Step<'_>,
    w: &mut Waiting,
) -> Look {
    if p.must_complete {
        if !w.announced {
            w.announced = true;
            step.phase(Phase::Waiting { reason: "running until it completes".into() });
        }
        return Look::NotYet;
    }
    let Some(pr) = &p.probe else { return Look::Done(Ok(Done::Ready(Vec::new()))) };
    match health(c) {
        // Docker ran the same probe within its interval and it passed: no exec needed
        // (this keeps a no-op re-apply fast).
        Some(HealthStatusEnum::HEALTHY) => return Look::Done(Ok(Done::Ready(vec!["docker health: healthy".into()]))),
        // Docker gave up on it (retries exhausted): waiting longer will not help.
        Some(HealthStatusEnum::UNHEALTHY) => {
            let reason = format!(
                "Docker reports container {} unhealthy: its health check `{}` failed {} time(s) in a row",
                p.spec.name,
                pr.cmd.join(" "),
                c.state.as_ref().and_then(|s| s.health.as_ref()).and_then(|h| h.failing_streak).unwrap_or(0)
            );
            let mut detail = health_log(c);
            detail.extend(d::logs_tail(&e.docker, id, 20).await);
            return Look::Done(Err(Failure::new(reason).with_detail(detail)));
        }
        _ => {}
    }
    w.attempt += 1;
    step.phase(Phase::Probing { attempt: w.attempt, last: w.last.clone() });
    let res = probe::run(&e.docker, id, pr, step.remaining()).await;
    if !res.passed {
        w.last = Some(res.summary);
        return Look::NotYet;
    }
    let detail = vec![format!("probe `{}` passed after {} attempt(s): {}", pr.cmd.join(" "), w.attempt, res.summary)];
    Look::Done(Ok(Done::Ready(detail)))
}

async fn exited(
    e: &Engine<'_>,
    p: &PlannedService,
    id: &str,
    state: &ContainerState,
    w: &Waiting,
) -> Result<Done, Failure> {
    let code = state.exit_code.unwrap_or(0);
    if code == 0 && (p.must_complete || p.probe.is_none()) {
        return Ok(Done::Completed(vec!["exited 0".into()]));
    }
    let mut detail = Vec::new();
    if let Some(l) = &w.last {
        detail.push(format!("last probe: {l}"));
    }
    detail.extend(d::logs_tail(&e.docker, id, 20).await);
    let oom = if state.oom_killed == Some(true) { " (killed: out of memory)" } else { "" };
    let err = state.error.as_deref().filter(|e| !e.is_empty()).map(|e| format!(": {e}")).unwrap_or_default();
    Err(Failure::new(format!(
        "container {} exited with code {code}{oom}{err} before becoming ready; see its logs below (`docker logs {}`)",
        p.spec.name, p.spec.name
    ))
    .with_detail(detail))
}

async fn timed_out(
    e: &Engine<'_>,
    p: &PlannedService,
    id: &str,
    c: &ContainerInspectResponse,
    step: &Step<'_>,
    w: &Waiting,
) -> Failure {
    let after = human(step.timeout);
    let last = w.last.as_deref().unwrap_or("none");
    let mut detail = Vec::new();
    let reason = match (&p.probe, p.must_complete) {
        (_, true) => {
            format!("did not complete within {after} (still running); raise --timeout or check why it does not exit")
        }
        (Some(pr), false) => {
            let cmd = pr.cmd.join(" ");
            detail.push(format!("last probe (`{cmd}`): {last}"));
            format!(
                "not ready after {after}: the health probe `{cmd}` never passed ({} attempts); last output: {last}",
                w.attempt
            )
        }
        (None, false) => format!("not running after {after}"),
    };
    if let Some(h) = health(c) {
        detail.push(format!("docker health: {h}"));
    }
    detail.extend(d::logs_tail(&e.docker, id, 20).await);
    Failure::new(reason).with_detail(detail)
}
