//! The reports every backend produces, independent of the platform: live
//! progress events, and the apply / diff / status / destroy reports that the
//! CLI prints as text or as JSON (`--output json`). Backends fill these; the
//! CLI renders them. Secret values never enter a report unmasked: a backend
//! masks what it knows to be secret with [`mask`], and the orchestrator passes
//! every report and progress event through a [`Masker`] of the secret values.

mod masker;
mod style;
mod verify;

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

pub use masker::{MIN_MASKED_LEN, Masker, Masking};
pub use style::{ago, finished_since, up_since};
pub use verify::{CheckKind, CheckResult, CommandOutput, VerifyReport};

/// How the process ends, documented in README.md. Commands return it; `main`
/// turns it into the exit code, once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Success; for `diff`: no changes.
    Ok,
    /// Error: bad input, unreachable platform, failed or timed-out command.
    Error,
    /// `diff` only: planned and live state differ.
    Changes,
    /// The command line itself is wrong (unknown flag, an option the target does not take).
    Usage,
    /// `status` only: every selected service is there, but one is not ready.
    NotReady,
    /// `status` only: a selected service has nothing on the platform.
    Missing,
    /// Interrupted (Ctrl-C).
    Interrupted,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Ok => 0,
            ExitStatus::Error => 1,
            ExitStatus::Changes => 2,
            ExitStatus::NotReady => 3,
            ExitStatus::Missing => 4,
            ExitStatus::Usage => 64,
            ExitStatus::Interrupted => 130,
        }
    }
}

/// What the masked form of a secret looks like.
pub const MASK: &str = "********";

/// The text to show for a value that may be secret.
pub fn mask(value: &str, secret: bool) -> String {
    if secret { MASK.to_string() } else { value.to_string() }
}

/// Where a service is in an apply, destroy or wait.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Phase {
    /// Waiting for its dependencies.
    Pending,
    Pulling {
        progress: Option<String>,
    },
    /// Building its image; `progress` is the builder's last line (the step, or its output).
    Building {
        progress: Option<String>,
    },
    Creating,
    Starting,
    /// Probing readiness; `attempt` counts probes so far.
    Probing {
        attempt: u32,
        last: Option<String>,
    },
    /// Waiting on the platform (rollout, scheduling...), with why.
    Waiting {
        reason: String,
    },
    Ready,
    /// Nothing to do: live state already matches.
    Unchanged,
    /// One-shot service that finished successfully.
    Completed,
    Removing,
    Removed,
    Failed {
        reason: String,
    },
}

impl Phase {
    pub fn is_terminal(&self) -> bool {
        matches!(self, Phase::Ready | Phase::Unchanged | Phase::Completed | Phase::Removed | Phase::Failed { .. })
    }
    /// Short text for progress lines.
    pub fn describe(&self) -> String {
        match self {
            Phase::Pending => "pending (waiting for dependencies)".into(),
            Phase::Pulling { progress: None } => "pulling image".into(),
            Phase::Pulling { progress: Some(p) } => format!("pulling image: {p}"),
            Phase::Building { progress: None } => "building image".into(),
            Phase::Building { progress: Some(p) } => format!("building image: {p}"),
            Phase::Creating => "creating".into(),
            Phase::Starting => "starting".into(),
            Phase::Probing { attempt, last: None } => format!("probing (attempt {attempt})"),
            Phase::Probing { attempt, last: Some(l) } => format!("probing (attempt {attempt}): {l}"),
            Phase::Waiting { reason } => format!("waiting: {reason}"),
            Phase::Ready => "ready".into(),
            Phase::Unchanged => "unchanged".into(),
            Phase::Completed => "completed".into(),
            Phase::Removing => "removing".into(),
            Phase::Removed => "removed".into(),
            Phase::Failed { reason } => format!("failed: {reason}"),
        }
    }
}

/// Receives live progress. The CLI implements it with progress bars on a
/// terminal, plain lines otherwise, or nothing for `--output json`.
pub trait Progress: Send + Sync {
    /// `service` moved to `phase`; `elapsed` counts from the start of its own work.
    fn update(&self, service: &str, phase: &Phase, elapsed: Duration);
    /// A message not tied to one service (warnings, notes).
    fn note(&self, message: &str);
}

/// Discards progress.
pub struct NoProgress;
impl Progress for NoProgress {
    fn update(&self, _: &str, _: &Phase, _: Duration) {}
    fn note(&self, _: &str) {}
}

/// What apply did to one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Recreated,
    Unchanged,
    Removed,
    Failed,
}

#[derive(Clone, Debug, Serialize)]
pub struct ServiceResult {
    pub service: String,
    pub action: Action,
    pub phase: Phase,
    pub ready: bool,
    /// Time from the start of this service's work to ready (or failure).
    pub elapsed_ms: u64,
    /// Platform object(s): container ID/name, or `StatefulSet/redis`.
    pub object: Option<String>,
    /// Extra detail: last probe output, log tail, pod events.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ApplyReport {
    pub target: String,
    pub project: String,
    pub ok: bool,
    pub elapsed_ms: u64,
    pub services: Vec<ServiceResult>,
    /// Objects removed by `--prune`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pruned: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Set when `ok` is false.
    pub error: Option<String>,
    /// The declared checks, run once the apply was ready (`apply --verify`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyReport>,
    /// `apply --atomic` after a failure: what was put back as it was before
    /// the apply, in the order it was restored (dependencies first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restored: Vec<Restored>,
}

/// How `apply --atomic` left one service the apply had changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestoreOutcome {
    /// Its previous state is back (the previous container, the previous spec).
    Restored,
    /// It had nothing before the apply: what the apply created was removed (data kept).
    Removed,
    /// It could not be put back; `error` says why.
    Failed,
}

/// One service `apply --atomic` put back after a failure.
#[derive(Clone, Debug, Serialize)]
pub struct Restored {
    pub service: String,
    pub outcome: RestoreOutcome,
    /// Ready again (a service that was not running before: left as it was).
    pub ready: bool,
    pub elapsed_ms: u64,
    /// The platform object put back: the previous container, `Deployment/web`.
    pub object: Option<String>,
    /// What was done, step by step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
    /// Set when `outcome` is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ApplyReport {
    pub fn text(&self) -> String {
        let mut s = self.apply_text();
        if let Some(v) = &self.verify {
            s.push_str(&v.text());
        }
        s
    }

    fn apply_text(&self) -> String {
        let mut s = String::new();
        for r in &self.services {
            let _ = writeln!(
                s,
                "{:<20} {:<10} {:<32} {:>8}",
                r.service,
                format!("{:?}", r.action).to_lowercase(),
                r.phase.describe(),
                format!("{}ms", r.elapsed_ms)
            );
            for d in &r.detail {
                let _ = writeln!(s, "    {d}");
            }
        }
        for p in &self.pruned {
            let _ = writeln!(s, "pruned {p}");
        }
        for r in &self.restored {
            let what = match (r.outcome, r.ready) {
                (RestoreOutcome::Restored, true) => "restored to its state before the apply, ready",
                (RestoreOutcome::Restored, false) => "restored to its state before the apply (not running, as before)",
                (RestoreOutcome::Removed, _) => "removed: it did not exist before the apply",
                (RestoreOutcome::Failed, _) => "could not be restored",
            };
            let obj = r.object.as_deref().map(|o| format!(": {o}")).unwrap_or_default();
            let _ = writeln!(s, "--atomic: {} {what} ({} ms){obj}", r.service, r.elapsed_ms);
            for d in r.detail.iter().chain(&r.error) {
                let _ = writeln!(s, "    {d}");
            }
        }
        match &self.error {
            None => {
                let changed = self.services.iter().filter(|r| r.action != Action::Unchanged).count();
                if changed == 0 {
                    let _ = writeln!(
                        s,
                        "{}: nothing to do, {} service(s) already up to date and ready ({} ms)",
                        self.project,
                        self.services.len(),
                        self.elapsed_ms
                    );
                } else {
                    let _ = writeln!(
                        s,
                        "{}: {} service(s) ready in {} ms",
                        self.project,
                        self.services.len(),
                        self.elapsed_ms
                    );
                }
            }
            Some(e) => {
                let _ = writeln!(s, "error: {e}");
            }
        }
        s
    }
}

/// How one object differs between plan and live state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// In the plan, not live.
    Create,
    /// Both, with field differences that apply makes in place.
    Update,
    /// Both, and apply replaces the live object (a container recreated, a
    /// StatefulSet with immutable changes, a Job re-created).
    Replace,
    /// Live, with this project's labels, but no longer in the plan.
    Delete,
    Unchanged,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// Dotted path, like `env.REDIS_URL` or `spec.template.spec.containers[0].image`.
    pub path: String,
    /// Live value (`None`: absent). Already masked when secret.
    pub live: Option<String>,
    /// Planned value (`None`: absent). Already masked when secret.
    pub planned: Option<String>,
    pub secret: bool,
}

impl FieldChange {
    /// Builds a change, masking both sides when `secret`.
    pub fn new(path: impl Into<String>, live: Option<&str>, planned: Option<&str>, secret: bool) -> Self {
        FieldChange {
            path: path.into(),
            live: live.map(|v| mask(v, secret)),
            planned: planned.map(|v| mask(v, secret)),
            secret,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ObjectDiff {
    /// `container`, `network`, `volume`, or a Kubernetes kind.
    pub kind: String,
    pub name: String,
    /// The topology service this object belongs to, if any.
    pub service: Option<String>,
    pub change: Change,
    pub fields: Vec<FieldChange>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DiffReport {
    pub target: String,
    pub project: String,
    pub objects: Vec<ObjectDiff>,
}

impl DiffReport {
    pub fn has_changes(&self) -> bool {
        self.objects.iter().any(|o| o.change != Change::Unchanged)
    }
    pub fn exit_status(&self) -> ExitStatus {
        if self.has_changes() { ExitStatus::Changes } else { ExitStatus::Ok }
    }
    /// Human-readable diff: one block per changed object, one line per field;
    /// multi-line values are shown as a line diff.
    pub fn text(&self) -> String {
        self.render(false)
    }

    /// [`Self::text`] with colour (ANSI): additions green, removals red,
    /// updates yellow, replacements magenta.
    pub fn styled(&self) -> String {
        self.render(true)
    }

    fn render(&self, color: bool) -> String {
        let mut s = String::new();
        for o in self.objects.iter().filter(|o| o.change != Change::Unchanged) {
            let (sign, what, style) = match o.change {
                Change::Create => ("+", "will be created", style::ADD),
                Change::Update => ("~", "will be updated in place", style::UPDATE),
                Change::Replace => ("-/+", "will be replaced", style::REPLACE),
                Change::Delete => ("-", "is no longer in the topology (removed by `apply --prune`)", style::REMOVE),
                Change::Unchanged => ("=", "unchanged", anstyle::Style::new()),
            };
            let head = format!("{sign} {} {} {what}", o.kind, o.name);
            let _ = writeln!(s, "{}", style::paint(&head, style.bold(), color));
            for f in &o.fields {
                field_lines(&mut s, f, color);
            }
        }
        let count = |c: Change| self.objects.iter().filter(|o| o.change == c).count();
        if self.has_changes() {
            let _ = writeln!(
                s,
                "{}: {} to create, {} to update, {} to replace, {} to remove, {} unchanged",
                self.project,
                count(Change::Create),
                count(Change::Update),
                count(Change::Replace),
                count(Change::Delete),
                count(Change::Unchanged)
            );
        } else {
            let _ = writeln!(s, "{}: no changes ({} objects up to date)", self.project, self.objects.len());
        }
        s
    }
}

/// One field of a changed object: `~ path: live -> planned`, `+ path: value`,
/// `- path: value`, or a line diff of a multi-line value.
fn field_lines(s: &mut String, f: &FieldChange, color: bool) {
    let p = |text: &str, st: anstyle::Style| style::paint(text, st, color);
    match (f.live.as_deref(), f.planned.as_deref()) {
        (Some(a), Some(b)) if a.contains('\n') || b.contains('\n') => {
            let _ = writeln!(s, "    {} {}:", p("~", style::UPDATE), f.path);
            let d = similar::TextDiff::from_lines(a, b);
            for c in d.iter_all_changes() {
                let line = format!("{c}");
                let line = line.trim_end_matches('\n');
                let _ = match c.tag() {
                    similar::ChangeTag::Delete => writeln!(s, "        {}", p(&format!("- {line}"), style::REMOVE)),
                    similar::ChangeTag::Insert => writeln!(s, "        {}", p(&format!("+ {line}"), style::ADD)),
                    similar::ChangeTag::Equal => writeln!(s, "          {line}"),
                };
            }
        }
        (Some(a), Some(b)) => {
            let _ = writeln!(
                s,
                "    {} {}: {} -> {}",
                p("~", style::UPDATE),
                f.path,
                p(a, style::REMOVE),
                p(b, style::ADD)
            );
        }
        (None, Some(b)) => {
            let _ = writeln!(s, "    {} {}: {}", p("+", style::ADD), f.path, p(b, style::ADD));
        }
        (Some(a), None) => {
            let _ = writeln!(s, "    {} {}: {}", p("-", style::REMOVE), f.path, p(a, style::REMOVE));
        }
        (None, None) => {}
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ServiceStatus {
    pub service: String,
    /// Container name, or `StatefulSet/redis`.
    pub object: Option<String>,
    /// `running`, `exited`, `missing`, `3/3 ready`...
    pub state: String,
    pub ready: bool,
    /// Docker health status or pod readiness summary.
    pub health: Option<String>,
    /// Published ports like `127.0.0.1:6379->6379/tcp`.
    pub ports: Vec<String>,
    /// Per-replica detail (pods and their states).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub target: String,
    pub project: String,
    pub services: Vec<ServiceStatus>,
}

impl StatusReport {
    pub fn all_ready(&self) -> bool {
        self.services.iter().all(|s| s.ready)
    }
    /// How the process ends: [`ExitStatus::Ok`] when every selected service
    /// is there and ready (a completed one-shot counts), [`ExitStatus::Missing`]
    /// when one has nothing on the platform, else [`ExitStatus::NotReady`].
    pub fn exit_status(&self) -> ExitStatus {
        if self.services.iter().any(|s| s.object.is_none()) {
            ExitStatus::Missing
        } else if self.all_ready() {
            ExitStatus::Ok
        } else {
            ExitStatus::NotReady
        }
    }
    pub fn text(&self) -> String {
        self.render(false)
    }
    /// [`Self::text`] with colour (ANSI): ready green, not ready red, missing yellow.
    pub fn styled(&self) -> String {
        self.render(true)
    }
    fn render(&self, color: bool) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{:<16} {:<34} {:<14} {:<12} PORTS", "SERVICE", "OBJECT", "STATE", "HEALTH");
        for x in &self.services {
            let st = match (x.object.is_some(), x.ready) {
                (false, _) => style::UPDATE,
                (true, true) => style::ADD,
                (true, false) => style::REMOVE,
            };
            // Pad before painting: escape codes have no width.
            let _ = writeln!(
                s,
                "{:<16} {:<34} {} {:<12} {}",
                x.service,
                x.object.as_deref().unwrap_or("-"),
                style::paint(&format!("{:<14}", x.state), st, color),
                x.health.as_deref().unwrap_or("-"),
                x.ports.join(", ")
            );
            for d in &x.detail {
                let _ = writeln!(s, "    {d}");
            }
        }
        s
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct DestroyReport {
    pub target: String,
    pub project: String,
    pub removed: Vec<String>,
    /// Volumes / PVCs kept because `--volumes` was not given.
    pub kept: Vec<String>,
    /// What could not be removed, when anything.
    pub error: Option<String>,
}

impl DestroyReport {
    pub fn text(&self) -> String {
        let mut s = String::new();
        for r in &self.removed {
            let _ = writeln!(s, "removed {r}");
        }
        for k in &self.kept {
            let _ = writeln!(s, "kept    {k} (pass --volumes to delete data)");
        }
        if self.removed.is_empty() && self.error.is_none() {
            let _ = writeln!(s, "{}: nothing to remove", self.project);
        }
        if let Some(e) = &self.error {
            let _ = writeln!(s, "error: {e}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_in_field_changes() {
        let f = FieldChange::new("env.JWT_SECRET_KEY", Some("old-secret"), Some("new-secret"), true);
        assert_eq!(f.live.as_deref(), Some(MASK));
        assert_eq!(f.planned.as_deref(), Some(MASK));
        let r = DiffReport {
            target: "compose".into(),
            project: "p".into(),
            objects: vec![ObjectDiff {
                kind: "container".into(),
                name: "c".into(),
                service: None,
                change: Change::Update,
                fields: vec![f],
            }],
        };
        let text = r.text();
        assert!(!text.contains("secret"), "{text}");
        assert!(!serde_json::to_string(&r).unwrap_or_default().contains("new-secret"));
        assert_eq!(r.exit_status(), ExitStatus::Changes);
    }

    #[test]
    fn no_changes_exit_zero() {
        let r = DiffReport {
            target: "k8s".into(),
            project: "p".into(),
            objects: vec![ObjectDiff {
                kind: "StatefulSet".into(),
                name: "redis".into(),
                service: Some("redis".into()),
                change: Change::Unchanged,
                fields: vec![],
            }],
        };
        assert_eq!(r.exit_status(), ExitStatus::Ok);
        assert!(r.text().contains("no changes"));
    }
}
