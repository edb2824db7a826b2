//! The drivers of the verbs: apply and destroy walk the services through the
//! backend's hooks; status and diff run under the same deadline. Reports are
//! assembled here, the same way for every target, and every string in them
//! (and in progress events) passes through one [`Masker`] of the backend's
//! secret values.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deploy_report::{
    Action, ApplyReport, DestroyReport, DiffReport, Masker, Masking, Phase, Progress, ServiceResult, StatusReport,
};
use deploy_topology::Topology;
use futures::StreamExt;
use futures::future::join_all;
use futures::stream::FuturesUnordered;
use tokio::sync::Semaphore;
use tokio::time::timeout_at;

use crate::walk::{Board, Direction, Reached};
use crate::{Backend, Done, Error, Failure, GRACE, Holder, Next, NotPrepared, Removed, Selection, Step, human};

/// Options of [`apply`].
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Bounds the whole command, waits included.
    pub timeout: Duration,
    /// Remove objects of services the topology no longer has.
    pub prune: bool,
    /// At most this many services converge at once.
    pub parallel: usize,
    /// When a service fails, put every service the apply changed back as it
    /// was (see [`Backend::checkpoint`]).
    pub atomic: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { timeout: Duration::from_secs(120), prune: false, parallel: 32, atomic: false }
    }
}

/// Options of [`destroy`].
#[derive(Clone, Debug)]
pub struct DestroyOptions {
    pub timeout: Duration,
    /// Delete the data too: named volumes, PersistentVolumeClaims.
    pub volumes: bool,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn deadline_of(timeout: Duration) -> (Instant, tokio::time::Instant) {
    let now = Instant::now();
    (now + timeout, tokio::time::Instant::from_std(now + timeout))
}

/// Applies the selection: prepare, then every service once its own
/// dependencies allow, then prune. Never fails as a whole: failures are in the
/// report. Secret values are masked in the report and in progress.
pub async fn apply<B: Backend>(
    b: &B,
    sel: &Selection,
    opts: &ApplyOptions,
    progress: Arc<dyn Progress>,
) -> ApplyReport {
    let (mask, progress) = masked(b, progress);
    let mut report = apply_unmasked(b, sel, opts, progress, &mask).await;
    mask.add(b.secret_values());
    mask.apply_report(&mut report);
    report
}

async fn apply_unmasked<B: Backend>(
    b: &B,
    sel: &Selection,
    opts: &ApplyOptions,
    progress: Arc<dyn Progress>,
    mask: &Masker,
) -> ApplyReport {
    let started = Instant::now();
    let (deadline, _) = deadline_of(opts.timeout);
    let report = ApplyReport {
        target: b.target().into(),
        project: b.project().into(),
        ok: false,
        elapsed_ms: 0,
        services: Vec::new(),
        pruned: Vec::new(),
        warnings: Vec::new(),
        error: None,
        verify: None,
        restored: Vec::new(),
    };
    let me = Holder::me("apply");
    // `--atomic` may restore for up to another `--timeout` after the deadline.
    let hold = if opts.atomic { opts.timeout * 2 } else { opts.timeout };
    if let Err(np) = lock(b, &me, deadline, (opts.timeout, hold), progress.as_ref()).await {
        return not_prepared(report, sel, np, progress.as_ref(), started);
    }
    let report = apply_locked(b, sel, opts, progress, report, (started, deadline), mask).await;
    b.unlock(&me).await;
    report
}

/// Takes the project's lock within the deadline, to be held at most `hold`.
async fn lock<B: Backend>(
    b: &B,
    me: &Holder,
    deadline: Instant,
    (timeout, hold): (Duration, Duration),
    progress: &dyn Progress,
) -> Result<(), NotPrepared> {
    let hard = tokio::time::Instant::from_std(deadline);
    let r = match timeout_at(hard, crate::lock::acquire_for(b, me, deadline, (timeout, hold), progress)).await {
        Ok(r) => r,
        Err(_) => Err(timeout_message(b, timeout, "taking the project's lock")),
    };
    r.map_err(|message| NotPrepared { message, services: Vec::new() })
}

async fn apply_locked<B: Backend>(
    b: &B,
    sel: &Selection,
    opts: &ApplyOptions,
    progress: Arc<dyn Progress>,
    mut report: ApplyReport,
    (started, deadline): (Instant, Instant),
    mask: &Masker,
) -> ApplyReport {
    let tdeadline = tokio::time::Instant::from_std(deadline);
    let prepared = match timeout_at(tdeadline, b.prepare(sel, progress.as_ref())).await {
        Ok(r) => r,
        Err(_) => Err(NotPrepared { message: timeout_message(b, opts.timeout, "preparing"), services: Vec::new() }),
    };
    match prepared {
        Ok(warnings) => {
            // What the backend learnt preparing (resolved plans) masks progress from here on.
            mask.add(b.secret_values());
            report.warnings = warnings;
        }
        Err(np) => return not_prepared(report, sel, np, progress.as_ref(), started),
    }
    let mut kept = Vec::new();
    if opts.atomic {
        match crate::atomic::checkpoints(b, sel).await {
            Ok(k) => kept = k,
            Err(np) => return not_prepared(report, sel, np, progress.as_ref(), started),
        }
    }
    let board = Board::new(sel);
    let limit = Semaphore::new(opts.parallel.max(1));
    let run = sel.services().iter().map(|s| {
        let step = Step::new(s, progress.as_ref(), deadline, opts.timeout);
        one_service(b, &board, &limit, step)
    });
    report.services = join_all(run).await;
    report.ok = report.services.iter().all(|r| r.ready);
    if opts.atomic {
        crate::atomic::settle(b, kept, &mut report, progress.as_ref(), (deadline, opts.timeout)).await;
    }
    prune(b, sel, opts, &mut report, tdeadline).await;
    report.error = failure_summary(&report);
    report.elapsed_ms = ms(started.elapsed());
    report
}

fn timeout_message<B: Backend>(b: &B, after: Duration, what: &str) -> String {
    format!("timed out after {} {what}: no answer from {}", human(after), b.endpoint())
}

/// Every service marked not applied, with the culprits' own reasons first.
fn not_prepared(
    mut report: ApplyReport,
    sel: &Selection,
    np: NotPrepared,
    progress: &dyn Progress,
    started: Instant,
) -> ApplyReport {
    for s in sel.services() {
        let own = np.services.iter().find(|(x, _)| x == s).map(|(_, r)| r.clone());
        let (phase, detail) = match own {
            Some(reason) => (Phase::Failed { reason }, Vec::new()),
            None => (
                Phase::Failed { reason: "not applied: the apply stopped before any service was changed".into() },
                Vec::new(),
            ),
        };
        progress.update(s, &phase, started.elapsed());
        report.services.push(result(s, Action::Failed, phase, false, started.elapsed(), None, detail));
    }
    report.error = Some(np.message);
    report.elapsed_ms = ms(started.elapsed());
    report
}

fn result(
    service: &str,
    action: Action,
    phase: Phase,
    ready: bool,
    elapsed: Duration,
    object: Option<String>,
    detail: Vec<String>,
) -> ServiceResult {
    ServiceResult { service: service.into(), action, phase, ready, elapsed_ms: ms(elapsed), object, detail }
}

/// Gate, converge, wait: one service, bounded by the deadline (plus [`GRACE`]
/// for the backend to say in its own words what it was waiting for).
async fn one_service<B: Backend>(b: &B, board: &Board<'_>, limit: &Semaphore, mut step: Step<'_>) -> ServiceResult {
    let service = step.service;
    // While it waits for its dependencies, the backend may lay groundwork (create, not
    // start): once they have started, so that it does not compete with their own start.
    let staging = async {
        if board.has_dependencies(service) && board.gate_started(service).await {
            b.stage(service).await;
        }
    };
    let (gated, ()) = tokio::join!(gate(board, &mut step), staging);
    if let Err(reason) = gated {
        b.abandon(service).await;
        board.set(service, Reached::Failed);
        step.phase(Phase::Failed { reason: reason.clone() });
        return result(service, Action::Failed, Phase::Failed { reason }, false, step.elapsed(), None, Vec::new());
    }
    let _permit = limit.acquire().await;
    let hard = tokio::time::Instant::from_std(step.deadline + GRACE);
    let outcome = match timeout_at(hard, converge_and_wait(b, board, &step)).await {
        Ok(o) => o,
        Err(_) => Err((
            Action::Failed,
            Failure::new(timeout_message(b, step.timeout, &format!("while {}", step.last_phase()))),
        )),
    };
    finish(board, &step, outcome)
}

/// Waits for the service's dependencies, bounded by the deadline.
async fn gate(board: &Board<'_>, step: &mut Step<'_>) -> Result<(), String> {
    if !board.has_dependencies(step.service) {
        return Ok(());
    }
    step.phase(Phase::Pending);
    // Each dependency settles by itself (its own work is bounded by the
    // deadline), and says why when it failed: this bound is only a backstop.
    let hard = tokio::time::Instant::from_std(step.deadline + GRACE + GRACE);
    let r = match timeout_at(hard, board.gate(step.service, Direction::Forward)).await {
        Ok(r) => r,
        Err(_) => Err(format!("timed out after {} waiting for its dependencies; not started", human(step.timeout))),
    };
    step.restart_clock();
    r
}

type Outcome = Result<(Action, Option<String>, Vec<String>, Done), (Action, Failure)>;

async fn converge_and_wait<B: Backend>(b: &B, board: &Board<'_>, step: &Step<'_>) -> Outcome {
    let c = b.converge(step.service, step).await.map_err(|f| (Action::Failed, f))?;
    board.set(step.service, Reached::Started);
    let done = match c.next {
        Next::Settled(done) => done,
        Next::Wait(h) => b.wait(step.service, h, step).await.map_err(|f| {
            let object = f.object.clone().or(c.object.clone());
            (Action::Failed, f.on(object))
        })?,
    };
    Ok((c.action, c.object, c.detail, done))
}

/// Publishes the outcome to the board and turns it into the service's result.
fn finish(board: &Board<'_>, step: &Step<'_>, outcome: Outcome) -> ServiceResult {
    let service = step.service;
    match outcome {
        Ok((action, object, mut detail, done)) => {
            let (reached, phase, more) = match done {
                Done::Completed(more) => (Reached::Completed, Phase::Completed, more),
                Done::Ready(more) if action == Action::Unchanged => (Reached::Ready, Phase::Unchanged, more),
                Done::Ready(more) => (Reached::Ready, Phase::Ready, more),
            };
            detail.extend(more);
            board.set(service, reached);
            step.phase(phase.clone());
            result(service, action, phase, true, step.elapsed(), object, detail)
        }
        Err((action, f)) => {
            board.set(service, Reached::Failed);
            let phase = Phase::Failed { reason: f.reason };
            step.phase(phase.clone());
            result(service, action, phase, false, step.elapsed(), f.object, f.detail)
        }
    }
}

/// `--prune` after a successful apply removes what the topology no longer has;
/// otherwise such objects are listed as warnings.
async fn prune<B: Backend>(
    b: &B,
    sel: &Selection,
    opts: &ApplyOptions,
    report: &mut ApplyReport,
    deadline: tokio::time::Instant,
) {
    let delete = opts.prune && report.ok;
    match timeout_at(deadline + GRACE, b.prune(sel, delete)).await {
        Ok(Ok(found)) if delete => report.pruned = found,
        Ok(Ok(found)) => report.warnings.extend(
            found.into_iter().map(|o| format!("{o} is no longer in the topology; `deploy apply --prune` removes it")),
        ),
        Ok(Err(e)) => report.warnings.push(format!("cannot list what --prune would remove: {e}")),
        Err(_) => report.warnings.push(timeout_message(b, opts.timeout, "listing what --prune would remove")),
    }
    if opts.prune && !report.ok {
        report.warnings.push("--prune skipped: the apply did not succeed, so nothing was removed".into());
    }
}

fn failure_summary(report: &ApplyReport) -> Option<String> {
    let failed: Vec<String> = report
        .services
        .iter()
        .filter(|r| !r.ready)
        .map(|r| match &r.phase {
            Phase::Failed { reason } => format!("service `{}`: {reason}", r.service),
            other => format!("service `{}`: {}", r.service, other.describe()),
        })
        .chain(report.restored.iter().filter_map(|r| {
            r.error.as_ref().map(|e| format!("--atomic could not restore service `{}`: {e}", r.service))
        }))
        .collect();
    (!failed.is_empty()).then(|| failed.join("; "))
}

/// Removes the selected services, dependents before what they depend on; for
/// the whole project, then what is left (networks, and data when asked).
/// The masker of `b`'s secret values, and `progress` seen through it: every
/// verb that reports progress starts here.
pub(crate) fn masked<B: Backend>(b: &B, progress: Arc<dyn Progress>) -> (Masker, Arc<dyn Progress>) {
    let mask = Masker::new(b.secret_values());
    let progress: Arc<dyn Progress> = Arc::new(Masking::new(progress, mask.clone()));
    (mask, progress)
}

/// Secret values are masked in the report and in progress.
pub async fn destroy<B: Backend>(
    b: &B,
    t: &Topology,
    sel: &Selection,
    opts: &DestroyOptions,
    progress: Arc<dyn Progress>,
) -> DestroyReport {
    let (mask, progress) = masked(b, progress);
    let mut report = destroy_unmasked(b, t, sel, opts, progress).await;
    mask.destroy_report(&mut report);
    report
}

async fn destroy_unmasked<B: Backend>(
    b: &B,
    t: &Topology,
    sel: &Selection,
    opts: &DestroyOptions,
    progress: Arc<dyn Progress>,
) -> DestroyReport {
    let (deadline, tdeadline) = deadline_of(opts.timeout);
    let me = Holder::me("destroy");
    if let Err(np) = lock(b, &me, deadline, (opts.timeout, opts.timeout), progress.as_ref()).await {
        let (target, project) = (b.target().into(), b.project().into());
        return DestroyReport { target, project, removed: Vec::new(), kept: Vec::new(), error: Some(np.message) };
    }
    let report = destroy_locked(b, t, sel, opts, progress, deadline, tdeadline).await;
    b.unlock(&me).await;
    report
}

async fn destroy_locked<B: Backend>(
    b: &B,
    t: &Topology,
    sel: &Selection,
    opts: &DestroyOptions,
    progress: Arc<dyn Progress>,
    deadline: Instant,
    tdeadline: tokio::time::Instant,
) -> DestroyReport {
    let board = Board::new(sel);
    let run = sel.services().iter().map(|s| {
        let volumes = if opts.volumes { exclusive_volumes(t, s) } else { Vec::new() };
        let step = Step::new(s, progress.as_ref(), deadline, opts.timeout);
        remove_one(b, &board, step, volumes)
    });
    let mut removed = Removed::default();
    let mut errors = Vec::new();
    // In the order they were removed: dependents first.
    let mut done: FuturesUnordered<_> = run.collect();
    while let Some(r) = done.next().await {
        match r {
            Ok(r) => merge(&mut removed, r),
            Err(e) => errors.push(e),
        }
    }
    if !sel.is_partial() && errors.is_empty() {
        match timeout_at(tdeadline + GRACE, b.remove_project(opts.volumes)).await {
            Ok(Ok(r)) => merge(&mut removed, r),
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push(timeout_message(b, opts.timeout, "removing the project's networks and volumes")),
        }
    }
    // A volume one service kept (others still used it) may have gone with the project.
    let kept = removed.kept.into_iter().filter(|k| !removed.removed.contains(k)).collect();
    DestroyReport {
        target: b.target().into(),
        project: b.project().into(),
        removed: removed.removed,
        kept,
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    }
}

fn merge(into: &mut Removed, r: Removed) {
    into.removed.extend(r.removed);
    for k in r.kept {
        if !into.kept.contains(&k) {
            into.kept.push(k);
        }
    }
}

/// The topology volumes only `service` mounts: removed with it under
/// `--volumes`. A volume several services mount goes once they are all gone:
/// with the whole project (`remove_project`); a destroy of some of them keeps
/// it (reported as kept). Deleting it with the first of them would fail while
/// the others still use it, on Docker, and differ from Kubernetes.
fn exclusive_volumes(t: &Topology, service: &str) -> Vec<String> {
    let others: HashSet<&str> =
        t.services.values().filter(|s| s.name != service).flat_map(|s| s.named_volumes().map(|(k, _)| k)).collect();
    t.services[service].named_volumes().map(|(k, _)| k).filter(|k| !others.contains(k)).map(String::from).collect()
}

async fn remove_one<B: Backend>(
    b: &B,
    board: &Board<'_>,
    step: Step<'_>,
    volumes: Vec<String>,
) -> Result<Removed, String> {
    let service = step.service;
    let hard = tokio::time::Instant::from_std(step.deadline + GRACE);
    let work = async {
        board.gate(service, Direction::Reverse).await?;
        step.phase(Phase::Removing);
        b.remove(service, &volumes, &step).await
    };
    let r = match timeout_at(hard, work).await {
        Ok(r) => r,
        Err(_) => Err(timeout_message(b, step.timeout, &format!("while {}", step.last_phase()))),
    };
    match &r {
        Ok(_) => {
            board.set(service, Reached::Removed);
            step.phase(Phase::Removed);
        }
        Err(e) => {
            board.set(service, Reached::Failed);
            step.phase(Phase::Failed { reason: e.clone() });
        }
    }
    r.map_err(|e| format!("service `{service}`: {e}"))
}

/// Live state of the selected services, bounded by `timeout`; secret values masked.
pub async fn status<B: Backend>(b: &B, sel: &Selection, timeout: Duration) -> Result<StatusReport, Error> {
    let services = bounded(b, timeout, "reading live state", b.status(sel)).await;
    let mask = Masker::new(b.secret_values());
    let mut report = StatusReport { target: b.target().into(), project: b.project().into(), services: services? };
    mask.status_report(&mut report);
    Ok(report)
}

/// Planned versus live, bounded by `timeout`; secret values masked.
pub async fn diff<B: Backend>(b: &B, sel: &Selection, timeout: Duration) -> Result<DiffReport, Error> {
    let r = bounded(b, timeout, "comparing with live state", b.diff(sel)).await;
    let mask = Masker::new(b.secret_values());
    let mut report = r?;
    mask.diff_report(&mut report);
    Ok(report)
}

/// What apply would do for the selection, changing nothing (`apply
/// --dry-run`): the backend's dry run, bounded by `timeout`; secret values masked.
pub async fn dry_run<B: Backend>(b: &B, sel: &Selection, timeout: Duration) -> Result<DiffReport, Error> {
    let r = bounded(b, timeout, "a dry run of the apply", b.dry_run(sel)).await;
    let mask = Masker::new(b.secret_values());
    let mut report = r?;
    mask.diff_report(&mut report);
    Ok(report)
}

async fn bounded<B: Backend, T>(
    b: &B,
    timeout: Duration,
    what: &str,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, Error> {
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r.map_err(|e| Error::Platform(Masker::new(b.secret_values()).text(&e))),
        Err(_) => Err(Error::Timeout { after: timeout, waiting_for: format!("{} ({what})", b.endpoint()) }),
    }
}
