//! `deploy verify`, and the checks `deploy apply --verify` runs once the
//! apply is ready: wiring only, the checks run in the orchestrator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deploy_orchestrator::{self as orchestrator, Backend, Selection, VerifyOptions};
use deploy_report::{ApplyReport, ExitStatus, Progress, VerifyReport};
use deploy_topology::{Env, Topology};

use crate::args::{K8sFlags, Output, ProgressMode, TargetCmd};
use crate::backend::{Extra, connect, on_backend};
use crate::error::CliError;
use crate::progress;

/// `--timeout` of `deploy verify` when not given: room for a `persists` check's restart.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// `deploy verify [SERVICE...]`: the checks of exactly the named services (all when none).
pub fn verify(c: &TargetCmd) -> Result<ExitStatus, CliError> {
    // No apply flags here: only --context and --namespace can be misplaced.
    super::check(c, K8sFlags::default(), Default::default())?;
    let (t, env) = super::load_with_env(&c.source)?;
    let sel = Selection::exactly(&t, &c.services)?;
    // A missing `${VAR:?}` in a check fails here, before any platform is touched.
    t.check_resolvable(&env, sel.services())?;
    let timeout = c.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let tracker = progress::Tracker::new(progress::for_mode(ProgressMode::Auto, c.output == Output::Json));
    let progress: Arc<dyn Progress> = tracker.clone();
    let result = super::block_on("verify", Some(&tracker), async {
        let backend = connect(c, &t, &env, Extra::default(), timeout).await?;
        let opts = VerifyOptions { timeout };
        Ok(on_backend!(&backend, b => orchestrator::verify(b, &t, &env, &sel, &opts, progress.clone()).await))
    });
    progress::finish(&progress);
    let Some(report) = result? else { return Ok(ExitStatus::Interrupted) };
    super::emit(c.output, &report, VerifyReport::text)?;
    Ok(report.exit_status())
}

/// `apply --verify`: once the apply is ready, the checks of the services it
/// applied, within what is left of the command's `--timeout`.
pub async fn after_apply<B: Backend>(
    b: &B,
    (t, env, sel): (&Topology, &Env, &Selection),
    report: &mut ApplyReport,
    (timeout, started): (Duration, Instant),
    progress: Arc<dyn Progress>,
) {
    if !report.ok {
        return;
    }
    let opts = VerifyOptions { timeout: timeout.saturating_sub(started.elapsed()) };
    report.verify = Some(orchestrator::verify(b, t, env, sel, &opts, progress).await);
}

/// The exit status of an apply: its own, then its checks'.
pub fn apply_status(report: &ApplyReport) -> ExitStatus {
    let verified = report.verify.as_ref().is_none_or(|v| v.ok);
    if report.ok && verified { ExitStatus::Ok } else { ExitStatus::Error }
}
