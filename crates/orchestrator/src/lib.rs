//! The one contract both targets share. A command is the same on Compose and on
//! Kubernetes because both run through this crate: it owns the service
//! [`Selection`] (validated once), the dependency [`walk`] (forward for apply,
//! reverse for destroy, as many services at once as their dependencies allow),
//! the whole-command deadline, progress, failure aggregation and report
//! assembly. A backend supplies the small hooks of [`Backend`]: converge one
//! service, wait for it, remove it, read live state, diff.

mod atomic;
mod drive;
pub mod lock;
mod secrets;
mod selection;
mod verify;
pub mod walk;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use deploy_report::{Action, DiffReport, Phase, Progress, RestoreOutcome, ServiceStatus};

pub use drive::{ApplyOptions, DestroyOptions, apply, destroy, diff, dry_run, status};
pub use lock::{Holder, Lock};
pub use secrets::{secrets_in_names, topology_secrets};
pub use selection::Selection;
pub use verify::{VerifyOptions, verify};

/// Time a backend gets past the deadline to report a timeout in its own words
/// (last probe output, pod reasons) before the orchestrator cuts it off.
pub const GRACE: Duration = Duration::from_secs(2);

/// A command that could not produce its report.
#[derive(Debug)]
pub enum Error {
    /// The platform refused or failed outside any one service.
    Platform(String),
    /// The deadline passed.
    Timeout { after: Duration, waiting_for: String },
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Platform(m) => f.write_str(m),
            Error::Timeout { after, waiting_for } => {
                write!(f, "timed out after {} waiting for {waiting_for}", human(*after))
            }
        }
    }
}

impl std::error::Error for Error {}

/// `3s`, `2m`, `1m30s`, `500ms`: a duration as a user writes it.
pub fn human(d: Duration) -> String {
    let (s, ms) = (d.as_secs(), d.subsec_millis());
    match (s, ms) {
        (0, ms) => format!("{ms}ms"),
        (s, 0) if s >= 60 && s % 60 == 0 => format!("{}m", s / 60),
        (s, 0) if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        (s, 0) => format!("{s}s"),
        (s, ms) => format!("{}s", format!("{s}.{ms:03}").trim_end_matches('0')),
    }
}

/// A service that did not get where it was going, and why.
#[derive(Clone, Debug, Default)]
pub struct Failure {
    pub reason: String,
    /// Last probe output, log tail, pod states and events.
    pub detail: Vec<String>,
    /// The platform object involved, if any.
    pub object: Option<String>,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Self {
        Failure { reason: reason.into(), ..Default::default() }
    }
    pub fn with_detail(mut self, detail: Vec<String>) -> Self {
        self.detail.extend(detail);
        self
    }
    pub fn on(mut self, object: Option<String>) -> Self {
        self.object = object;
        self
    }
}

/// How a service ended up, once waited for.
#[derive(Clone, Debug)]
pub enum Done {
    /// Up and ready (its probe passes, or it has none and runs).
    Ready(Vec<String>),
    /// A one-shot that ran to completion.
    Completed(Vec<String>),
}

/// What converging one service did, and what is left to wait for.
pub struct Converged<H> {
    pub action: Action,
    /// The platform object: container name and ID, or `StatefulSet/redis`.
    pub object: Option<String>,
    pub detail: Vec<String>,
    pub next: Next<H>,
}

/// After converging: wait for readiness, or already settled (a completed one-shot left alone).
pub enum Next<H> {
    Wait(H),
    Settled(Done),
}

/// What `remove` took away and what it kept.
#[derive(Clone, Debug, Default)]
pub struct Removed {
    pub removed: Vec<String>,
    /// Volumes and claims kept because `--volumes` was not given.
    pub kept: Vec<String>,
}

/// A prepare step that failed before any service was changed.
#[derive(Clone, Debug)]
pub struct NotPrepared {
    pub message: String,
    /// The services it is about, with their own reason (the rest were left alone).
    pub services: Vec<(String, String)>,
}

/// What [`Backend::restore`] did to put one service back (`apply --atomic`).
#[derive(Clone, Debug)]
pub struct Restoration {
    /// `Restored`: its previous state is back; `Removed`: it had none, and
    /// what the apply created for it is gone (data kept).
    pub outcome: RestoreOutcome,
    /// Ready again; false only for what was not running before either.
    pub ready: bool,
    pub object: Option<String>,
    pub detail: Vec<String>,
}

/// What a command run inside a service printed, and how it ended (`deploy verify`).
#[derive(Clone, Debug, Default)]
pub struct Exec {
    /// Where it ran: the container, or `pod/NAME`.
    pub instance: String,
    pub exit_code: i64,
    pub stdout: String,
    pub stderr: String,
}

/// One service's work in progress: its progress line, its deadline.
pub struct Step<'a> {
    pub service: &'a str,
    pub deadline: Instant,
    /// The whole command's `--timeout`, for messages.
    pub timeout: Duration,
    started: Instant,
    progress: &'a dyn Progress,
    last: Mutex<Phase>,
}

impl<'a> Step<'a> {
    pub fn new(service: &'a str, progress: &'a dyn Progress, deadline: Instant, timeout: Duration) -> Self {
        Step { service, deadline, timeout, started: Instant::now(), progress, last: Mutex::new(Phase::Pending) }
    }
    /// Reports a new phase of this service.
    pub fn phase(&self, phase: Phase) {
        self.progress.update(self.service, &phase, self.started.elapsed());
        if let Ok(mut l) = self.last.lock() {
            *l = phase;
        }
    }
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
    /// The last phase reported, for a timeout message.
    pub fn last_phase(&self) -> String {
        self.last.lock().map(|p| p.describe()).unwrap_or_default()
    }
    /// Starts this service's clock again (after its dependencies were waited for).
    fn restart_clock(&mut self) {
        self.started = Instant::now();
    }
}

/// The hooks a platform supplies. Each is one small, idempotent piece of work;
/// the orchestrator decides the order, the concurrency and the deadline.
#[allow(async_fn_in_trait)]
pub trait Backend {
    /// What `converge` hands to `wait`: the created container, the applied object.
    type Handle;
    /// What [`Backend::checkpoint`] records of one service for `apply --atomic`.
    type Checkpoint;
    /// `compose` or `k8s`, written into reports.
    fn target(&self) -> &'static str;
    fn project(&self) -> &str;
    /// What the command talks to, for timeout messages ("the Docker engine at ...").
    fn endpoint(&self) -> String;
    /// The resolved values of every secret the backend knows (after `prepare`
    /// at the latest; before it, those it can tell from the topology). The
    /// orchestrator masks each of them wherever it occurs in a report, an error
    /// or a progress event (values shorter than
    /// [`deploy_report::MIN_MASKED_LEN`] are left alone). None by default.
    fn secret_values(&self) -> Vec<String> {
        Vec::new()
    }
    /// Takes the project's lock for `holder` when it is free, expired, or its
    /// holder is provably gone; never waits. `timeout` bounds the command, so
    /// a lock taken now is stale after it (plus a margin) at the latest.
    async fn try_lock(&self, holder: &Holder, timeout: Duration) -> Result<Lock, String>;
    /// Gives the lock back (best effort: a lock left behind expires).
    async fn unlock(&self, holder: &Holder);
    /// Before any service: connect, make sure images exist, shared objects
    /// (networks, volumes, namespace, secrets). Returns warnings. When it
    /// fails, no service has been changed.
    async fn prepare(&self, sel: &Selection, progress: &dyn Progress) -> Result<Vec<String>, NotPrepared>;
    /// Creates, updates or leaves alone one service, and starts it.
    async fn converge(&self, service: &str, step: &Step<'_>) -> Result<Converged<Self::Handle>, Failure>;
    /// Waits until the service is ready (or, for a one-shot, completed). Gives
    /// up at `step.deadline` with its own account of what it last saw, and at
    /// once when the platform says it will never get there.
    async fn wait(&self, service: &str, handle: Self::Handle, step: &Step<'_>) -> Result<Done, Failure>;
    /// Groundwork for a service while it waits for its dependencies: what can
    /// be done without starting anything (Compose creates the container), so
    /// that it is off the path from one dependency to the next. Best effort:
    /// `converge` does it when this did not. Nothing by default.
    async fn stage(&self, _service: &str) {}
    /// The service will not be converged (a dependency failed): undo what
    /// `stage` laid for it. Nothing by default.
    async fn abandon(&self, _service: &str) {}
    /// Objects of this project whose service the topology no longer has, and
    /// that the selection covers; removed when `delete`.
    async fn prune(&self, sel: &Selection, delete: bool) -> Result<Vec<String>, String>;
    /// Removes one service's objects; `volumes` names the topology volumes
    /// whose data goes too (empty: keep all).
    async fn remove(&self, service: &str, volumes: &[String], step: &Step<'_>) -> Result<Removed, String>;
    /// After every service of the project is removed: what is left (networks,
    /// stray objects, and volumes when `volumes`).
    async fn remove_project(&self, volumes: bool) -> Result<Removed, String>;
    /// Live state of the selected services.
    async fn status(&self, sel: &Selection) -> Result<Vec<ServiceStatus>, String>;
    /// Planned versus live, object by object.
    async fn diff(&self, sel: &Selection) -> Result<DiffReport, String>;
    /// Runs `command` (arguments, no shell) inside one running, ready instance
    /// of `service` and returns what it printed and its exit code (`deploy
    /// verify`; the orchestrator times it, bounds it and judges the result).
    /// `Err` when it could not run at all: no running instance, no such
    /// executable.
    async fn exec(&self, service: &str, _command: &[String]) -> Result<Exec, String> {
        Err(format!("the {} target cannot run commands in `{service}`", self.target()))
    }
    /// Restarts `service` the way its platform restarts it and waits, until
    /// `step.deadline`, for it to be ready again; says what it did. A
    /// `persists` check runs it between writing and reading back.
    async fn restart(&self, service: &str, _step: &Step<'_>) -> Result<Vec<String>, Failure> {
        Err(Failure::new(format!("the {} target cannot restart `{service}`", self.target())))
    }
    /// `apply --atomic`, once prepared and before any service is converged:
    /// records how `service` is now (as the live state read before `prepare`
    /// changed anything), and from here on keeps what [`Backend::restore`]
    /// needs to put it back (Compose: a replaced container is kept, stopped,
    /// until `release` or `restore`). `Err`: the apply stops before any
    /// service is converged.
    async fn checkpoint(&self, service: &str) -> Result<Self::Checkpoint, String>;
    /// After a failed `apply --atomic`: puts `service` back as `checkpoint`
    /// recorded it (what had nothing before is removed, data kept) and waits,
    /// until `step.deadline`, for it to be ready again. `Ok(None)`: it is as
    /// it was, nothing to do. The orchestrator calls it for every
    /// checkpointed service, dependencies first.
    async fn restore(
        &self,
        service: &str,
        checkpoint: Self::Checkpoint,
        step: &Step<'_>,
    ) -> Result<Option<Restoration>, Failure>;
    /// After a successful `apply --atomic`: lets go of what was kept for a
    /// restore (Compose: removes the previous container). Best effort.
    async fn release(&self, service: &str, checkpoint: Self::Checkpoint) -> Result<(), String>;
    /// What apply would do, changing nothing (`apply --dry-run`): by default
    /// the diff (which reads, never writes); a platform that can have its
    /// server check the changes without making them (a server-side dry run)
    /// does so here.
    async fn dry_run(&self, sel: &Selection) -> Result<DiffReport, String> {
        self.diff(sel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(human(Duration::from_secs(3)), "3s");
        assert_eq!(human(Duration::from_secs(120)), "2m");
        assert_eq!(human(Duration::from_secs(90)), "1m30s");
        assert_eq!(human(Duration::from_millis(500)), "500ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }
}
