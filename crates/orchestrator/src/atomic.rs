//! `apply --atomic`: every selected service is checkpointed once prepared
//! (before any is converged); when the apply does not succeed, every service
//! the apply changed is put back, dependencies first, and waited for; when it
//! does, what was kept for that is let go. The order and the bounds are
//! decided here; what a checkpoint is and how it is restored is the backend's
//! ([`Backend::checkpoint`], [`Backend::restore`], [`Backend::release`]).

use std::collections::HashMap;
use std::mem::{Discriminant, discriminant};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use deploy_report::{ApplyReport, Phase, Progress, RestoreOutcome, Restored};
use tokio::time::timeout_at;

use crate::{Backend, GRACE, NotPrepared, Selection, Step, human};

/// The checkpoints of the selected services, in dependency order.
pub(crate) type Checkpoints<C> = Vec<(String, C)>;

/// Checkpoints every selected service, in dependency order.
pub(crate) async fn checkpoints<B: Backend>(b: &B, sel: &Selection) -> Result<Checkpoints<B::Checkpoint>, NotPrepared> {
    let mut out = Vec::with_capacity(sel.services().len());
    for s in sel.services() {
        match b.checkpoint(s).await {
            Ok(c) => out.push((s.clone(), c)),
            Err(e) => {
                let message = format!("--atomic: cannot record the state of service `{s}` before changing it: {e}");
                return Err(NotPrepared { message: message.clone(), services: vec![(s.clone(), message)] });
            }
        }
    }
    Ok(out)
}

/// Once every service has settled: lets go of the checkpoints after a success;
/// otherwise restores, one service after the other in dependency order, under
/// a deadline of its own: the apply's deadline plus `timeout` again (a
/// failure found at the deadline still leaves the restore a whole
/// `--timeout`), each bounded by it plus [`GRACE`].
pub(crate) async fn settle<B: Backend>(
    b: &B,
    kept: Checkpoints<B::Checkpoint>,
    report: &mut ApplyReport,
    progress: &dyn Progress,
    (deadline, timeout): (Instant, Duration),
) {
    if report.ok {
        for (s, c) in kept {
            if let Err(e) = b.release(&s, c).await {
                report.warnings.push(format!("--atomic: service `{s}`: {e}"));
            }
        }
        return;
    }
    let until = deadline.max(Instant::now()) + timeout;
    let relay = Relay { inner: progress, last: Mutex::new(HashMap::new()) };
    for (s, c) in kept {
        let step = Step::new(&s, &relay, until, timeout);
        let hard = tokio::time::Instant::from_std(until + GRACE);
        let r = match timeout_at(hard, b.restore(&s, c, &step)).await {
            Ok(r) => r,
            Err(_) => Err(crate::Failure::new(format!(
                "timed out after {} restoring it: no answer from {}",
                human(timeout),
                b.endpoint()
            ))),
        };
        let elapsed_ms = u64::try_from(step.elapsed().as_millis()).unwrap_or(u64::MAX);
        let entry = match r {
            Ok(None) => continue,
            Ok(Some(x)) => Restored {
                service: s.clone(),
                outcome: x.outcome,
                ready: x.ready,
                elapsed_ms,
                object: x.object,
                detail: x.detail,
                error: None,
            },
            Err(f) => Restored {
                service: s.clone(),
                outcome: RestoreOutcome::Failed,
                ready: false,
                elapsed_ms,
                object: f.object,
                detail: f.detail,
                error: Some(f.reason),
            },
        };
        progress.note(&note(&entry));
        report.restored.push(entry);
    }
}

/// The line progress shows once a service is restored.
fn note(r: &Restored) -> String {
    match (&r.outcome, &r.error) {
        (_, Some(e)) => format!("--atomic: `{}` could not be restored: {e}", r.service),
        (RestoreOutcome::Removed, _) => {
            format!("--atomic: `{}` removed (it did not exist before the apply)", r.service)
        }
        _ => format!("--atomic: `{}` restored to its state before the apply", r.service),
    }
}

/// What the restore of a service is doing, as notes (the service's own
/// progress line already ended with the apply's outcome): one note per kind
/// of phase, so that a probe repeated many times is one line.
struct Relay<'a> {
    inner: &'a dyn Progress,
    last: Mutex<HashMap<String, Discriminant<Phase>>>,
}

impl Progress for Relay<'_> {
    fn update(&self, service: &str, phase: &Phase, _elapsed: Duration) {
        let new = self
            .last
            .lock()
            .map(|mut l| l.insert(service.to_string(), discriminant(phase)) != Some(discriminant(phase)));
        if new.unwrap_or(true) {
            self.inner.note(&format!("--atomic: restoring `{service}`: {}", phase.describe()));
        }
    }
    fn note(&self, message: &str) {
        self.inner.note(message);
    }
}
