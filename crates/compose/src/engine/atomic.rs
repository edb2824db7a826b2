//! `apply --atomic` on a Docker Engine: the hooks `checkpoint`, `restore`
//! and `release`.
//!
//! A checkpoint is the container the service had before the apply (from the
//! listing `prepare` made), or none. Deploy never runs an old and a new
//! container of a service at once (they share named volumes and published
//! host ports), so `replace` stops the old one before it starts the new one,
//! as always; under `--atomic` it then keeps it, stopped, with its labels and
//! anonymous volumes, renamed `<name>-deploy-prev`, instead of removing it.
//! `release` (the apply succeeded) removes it; `restore` (it did not) removes
//! what the apply created, gives the old container its name back, starts it
//! when it was running and waits for it to be ready. Named volumes are never
//! removed.
//!
//! Crash safety: a `-deploy-prev` container left by an apply that ended
//! before it could restore or release (a crash, a second Ctrl-C) is cleaned by
//! the next apply of that service: removed when the service has another
//! container, else (it is all the service has) renamed back and converged
//! like any other container.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use bollard::models::{ContainerInspectResponse, ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::RenameContainerOptionsBuilder;
use deploy_orchestrator::{Failure, Restoration, Step};
use deploy_report::{Phase, RestoreOutcome};

use super::apply::{object, remove_container};
use super::docker::{self as d, describe};
use super::plan::{PlannedService, Probe};
use super::{Engine, wait};

/// What a kept previous container's name ends with.
pub(super) const PREV_SUFFIX: &str = "-deploy-prev";

/// What `--atomic` keeps while the apply runs.
#[derive(Default)]
pub(super) struct State {
    /// Checkpointed services: `replace` keeps their previous container.
    armed: Mutex<HashSet<String>>,
    /// The previous container `replace` kept, by service: its ID and whether
    /// its anonymous volumes go with it (none was carried to the new one).
    kept: Mutex<HashMap<String, (String, bool)>>,
}

/// How a service was before the apply.
pub struct Checkpoint {
    previous: Option<Previous>,
}

struct Previous {
    id: String,
    /// The name it had (a leftover's without [`PREV_SUFFIX`]).
    name: String,
    running: bool,
}

/// Whether `c` is a previous container kept by `--atomic`.
pub(super) fn is_kept(c: &ContainerSummary) -> bool {
    d::summary_name(c).ends_with(PREV_SUFFIX)
}

fn running(c: &ContainerSummary) -> bool {
    matches!(c.state, Some(ContainerSummaryStateEnum::RUNNING | ContainerSummaryStateEnum::RESTARTING))
}

/// Records the container `service` had when `prepare` listed the project (the
/// one with the planned name first, a kept leftover last), and arms `replace`
/// to keep it. No request.
pub(super) fn checkpoint(e: &Engine<'_>, service: &str) -> Result<Checkpoint, String> {
    let p = e.plan_of(service).map_err(|f| f.reason)?;
    let mut list: Vec<&ContainerSummary> = e.listed.get().and_then(|m| m.get(service)).into_iter().flatten().collect();
    list.sort_by_key(|c| (d::summary_name(c) != p.spec.name, is_kept(c)));
    let previous = list.first().map(|c| Previous {
        id: c.id.clone().unwrap_or_default(),
        name: d::summary_name(c).trim_end_matches(PREV_SUFFIX).to_string(),
        running: running(c),
    });
    lock(&e.atomic.armed).insert(service.to_string());
    Ok(Checkpoint { previous })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The old container of a replace, once the new one has started: kept
/// (stopped, renamed `<name>-deploy-prev`) when the service is checkpointed,
/// else removed as before (with its anonymous volumes unless `drop_anon` is
/// false: the new container carries them).
pub(super) async fn retire(
    e: &Engine<'_>,
    p: &PlannedService,
    (old_id, old_name): (&str, &str),
    drop_anon: bool,
) -> Result<(), Failure> {
    if !lock(&e.atomic.armed).contains(&p.service) {
        return remove_container(&e.docker, old_id, drop_anon)
            .await
            .map_err(|r| Failure::new(format!("cannot remove the old container {old_name}: {r}")));
    }
    let kept = format!("{}{PREV_SUFFIX}", old_name.trim_end_matches(PREV_SUFFIX));
    // A leftover of an earlier apply under that name is not this service's previous state.
    if d::inspect(&e.docker, &kept).await.ok().flatten().is_some_and(|c| c.id.as_deref() != Some(old_id)) {
        remove_container(&e.docker, &kept, true)
            .await
            .map_err(|r| Failure::new(format!("cannot remove {kept}: {r}")))?;
    }
    rename(e, old_id, &kept)
        .await
        .map_err(|r| Failure::new(format!("cannot keep the old container {old_name}: {r}")))?;
    lock(&e.atomic.kept).insert(p.service.clone(), (old_id.to_string(), drop_anon));
    Ok(())
}

async fn rename(e: &Engine<'_>, id: &str, name: &str) -> Result<(), String> {
    let opts = RenameContainerOptionsBuilder::default().name(name).build();
    e.docker.rename_container(id, opts).await.map_err(|err| describe(&err))
}

/// A kept previous container that is all the service has (left by an apply
/// that ended before restoring or releasing it) gets the planned name back.
pub(super) async fn reclaim(
    e: &Engine<'_>,
    p: &PlannedService,
    mut c: ContainerSummary,
) -> Result<ContainerSummary, String> {
    let id = c.id.clone().unwrap_or_default();
    rename(e, &id, &p.spec.name).await.map_err(|r| {
        format!("cannot rename the leftover container {} back to {}: {r}", d::summary_name(&c), p.spec.name)
    })?;
    c.names = Some(vec![format!("/{}", p.spec.name)]);
    Ok(c)
}

/// The apply succeeded: the kept previous container goes.
pub(super) async fn release(e: &Engine<'_>, service: &str) -> Result<(), String> {
    lock(&e.atomic.armed).remove(service);
    let Some((id, drop_anon)) = lock(&e.atomic.kept).remove(service) else { return Ok(()) };
    remove_container(&e.docker, &id, drop_anon)
        .await
        .map_err(|r| format!("cannot remove the previous container {}: {r}", d::short_id(&id)))
}

/// The apply failed: puts `service` back as `cp` recorded it. Requests: one
/// listing of the service's containers; nothing more when it is as it was.
pub(super) async fn restore(
    e: &Engine<'_>,
    service: &str,
    cp: Checkpoint,
    step: &Step<'_>,
) -> Result<Option<Restoration>, Failure> {
    lock(&e.atomic.armed).remove(service);
    lock(&e.atomic.kept).remove(service);
    let now = d::project_containers(&e.docker, &e.t.name, Some(service))
        .await
        .map_err(|err| Failure::new(format!("cannot list its containers: {}", describe(&err))))?;
    let Some(prev) = cp.previous else { return remove_new(e, &now).await };
    let Some(mine) = now.iter().find(|c| c.id.as_deref() == Some(prev.id.as_str())) else {
        return Err(Failure::new(format!(
            "the container it had before the apply ({}, {}) is gone",
            prev.name,
            d::short_id(&prev.id)
        )));
    };
    let others: Vec<&ContainerSummary> = now.iter().filter(|c| c.id != mine.id).collect();
    let named = d::summary_name(mine);
    if others.is_empty() && named == prev.name && running(mine) == prev.running {
        return Ok(None);
    }
    step.phase(Phase::Removing);
    let mut detail = Vec::new();
    for c in others {
        let name = d::summary_name(c);
        remove_container(&e.docker, c.id.as_deref().unwrap_or_default(), true)
            .await
            .map_err(|r| Failure::new(format!("cannot remove the new container {name}: {r}")))?;
        detail.push(format!(
            "removed the container the apply made ({name}, {})",
            d::short_id(c.id.as_deref().unwrap_or_default())
        ));
    }
    if named != prev.name {
        rename(e, &prev.id, &prev.name)
            .await
            .map_err(|r| Failure::new(format!("cannot rename {named} back to {}: {r}", prev.name)))?;
        detail.push(format!("renamed {named} back to {}", prev.name));
    }
    let ready = bring_back(e, service, &prev, running(mine), step).await.map_err(|f| {
        let f = f.on(object(&prev.name, &prev.id));
        Failure { detail: detail.iter().cloned().chain(f.detail).collect(), ..f }
    })?;
    detail.extend(ready.1);
    Ok(Some(Restoration {
        outcome: RestoreOutcome::Restored,
        ready: ready.0,
        object: object(&prev.name, &prev.id),
        detail,
    }))
}

/// The service had nothing before the apply: its containers go, with their
/// anonymous volumes (named volumes stay).
async fn remove_new(e: &Engine<'_>, now: &[ContainerSummary]) -> Result<Option<Restoration>, Failure> {
    if now.is_empty() {
        return Ok(None);
    }
    let mut detail = Vec::new();
    for c in now {
        let name = d::summary_name(c);
        remove_container(&e.docker, c.id.as_deref().unwrap_or_default(), true)
            .await
            .map_err(|r| Failure::new(format!("cannot remove container {name}: {r}")))?;
        detail.push(format!("removed container {name} (named volumes kept)"));
    }
    let object = now.first().map(d::summary_name);
    Ok(Some(Restoration { outcome: RestoreOutcome::Removed, ready: true, object, detail }))
}

/// Starts the previous container again when it was running (and waits for
/// it, by its own health check), stops it when it was not: `(ready, detail)`.
async fn bring_back(
    e: &Engine<'_>,
    service: &str,
    prev: &Previous,
    now_running: bool,
    step: &Step<'_>,
) -> Result<(bool, Vec<String>), Failure> {
    if !prev.running {
        if now_running {
            step.phase(Phase::Removing);
            e.docker
                .stop_container(&prev.id, None::<bollard::query_parameters::StopContainerOptions>)
                .await
                .map_err(|err| Failure::new(format!("cannot stop {}: {}", prev.name, describe(&err))))?;
            return Ok((false, vec![format!("stopped {} again: it was not running before the apply", prev.name)]));
        }
        return Ok((false, Vec::new()));
    }
    step.phase(Phase::Starting);
    match e.docker.start_container(&prev.id, None).await {
        Ok(()) => {}
        Err(err) if d::is_status(&err, 304) => {}
        Err(err) => return Err(Failure::new(format!("cannot start {} again: {}", prev.name, describe(&err)))),
    }
    let c = d::inspect(&e.docker, &prev.id)
        .await
        .map_err(|err| Failure::new(format!("cannot inspect {}: {}", prev.name, describe(&err))))?
        .ok_or_else(|| Failure::new(format!("container {} disappeared", prev.name)))?;
    // Readiness as the previous container defines it (its own health check), not as the failed plan does.
    let mut old = e.plan_of(service)?.clone();
    old.spec.name = prev.name.clone();
    old.probe = probe_of(&c);
    let done = wait::wait_ready(e, &old, &prev.id, step).await?;
    let mut detail = vec![format!("started {} again", prev.name)];
    let (deploy_orchestrator::Done::Ready(more) | deploy_orchestrator::Done::Completed(more)) = done;
    detail.extend(more);
    Ok((true, detail))
}

/// The readiness probe of a container's own health check (`NONE`: none).
fn probe_of(c: &ContainerInspectResponse) -> Option<Probe> {
    let h = c.config.as_ref()?.healthcheck.as_ref()?;
    let test = h.test.as_ref()?;
    let cmd = match test.first().map(String::as_str) {
        Some("CMD-SHELL") => vec!["/bin/sh".to_string(), "-c".to_string(), test[1..].join(" ")],
        Some("CMD") => test[1..].to_vec(),
        _ => return None,
    };
    let timeout = h
        .timeout
        .filter(|t| *t > 0)
        .map_or(std::time::Duration::from_secs(30), |t| std::time::Duration::from_nanos(u64::try_from(t).unwrap_or(0)));
    Some(Probe { cmd, timeout })
}
