//! `deploy verify`: the checks the topology declares, run inside the running
//! services on either target. The backend only runs a command in one instance
//! of a service ([`Backend::exec`]) and restarts a service
//! ([`Backend::restart`]); everything else is here, the same for every
//! target: the order (services in dependency order, each one's checks as
//! declared, one at a time: a `persists` check restarts its service), each
//! check's timeout under the command's deadline, what the result must be, and
//! the masked report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deploy_report::{CheckKind, CheckResult, CommandOutput, Phase, Progress, VerifyReport};
use deploy_topology::checks::{self, Check, CheckRun, Expect, Persists};
use deploy_topology::{Env, ProbeTest, Topology};
use tokio::time::timeout_at;

use crate::{Backend, Exec, GRACE, Holder, Selection, Step, human};

/// Options of [`verify`].
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Bounds the whole command: the lock, every check, every restart.
    pub timeout: Duration,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions { timeout: Duration::from_secs(120) }
    }
}

/// Output kept per stream of a command: enough to show why it failed.
const MAX_OUTPUT: usize = 16 * 1024;

/// Runs the declared checks of the selected services and reports each one.
/// Never fails as a whole: a check that cannot run is a failed check, and
/// what stopped all of them (the lock, the deadline) is the report's error.
/// Every output, command and reason is masked with the backend's secrets.
pub async fn verify<B: Backend>(
    b: &B,
    t: &Topology,
    env: &Env,
    sel: &Selection,
    opts: &VerifyOptions,
    progress: Arc<dyn Progress>,
) -> VerifyReport {
    let (mask, progress) = crate::drive::masked(b, progress);
    let mut report = verify_unmasked(b, t, env, sel, opts, progress).await;
    mask.add(b.secret_values());
    mask.verify_report(&mut report);
    report
}

async fn verify_unmasked<B: Backend>(
    b: &B,
    t: &Topology,
    env: &Env,
    sel: &Selection,
    opts: &VerifyOptions,
    progress: Arc<dyn Progress>,
) -> VerifyReport {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    let mut report = VerifyReport {
        target: b.target().into(),
        project: b.project().into(),
        ok: true,
        elapsed_ms: 0,
        checks: Vec::new(),
        error: None,
    };
    let todo: Vec<(&str, &[Check])> = sel
        .services()
        .iter()
        .filter_map(|s| t.services.get(s).map(|x| (s.as_str(), x.checks.as_slice())))
        .filter(|(_, c)| !c.is_empty())
        .collect();
    if todo.is_empty() {
        return report;
    }
    // A `persists` check restarts its service: no apply or destroy meanwhile.
    let me = Holder::me("verify");
    let hard = tokio::time::Instant::from_std(deadline);
    let locked = timeout_at(hard, crate::lock::acquire(b, &me, deadline, opts.timeout, progress.as_ref())).await;
    if let Err(e) =
        locked.unwrap_or_else(|_| Err(format!("timed out after {} taking the project's lock", human(opts.timeout))))
    {
        report.ok = false;
        report.error = Some(e);
        return report;
    }
    for (service, list) in todo {
        let step = Step::new(service, progress.as_ref(), deadline, opts.timeout);
        let results = service_checks(b, env, list, &step).await;
        let failed: Vec<&CheckResult> = results.iter().filter(|r| !r.passed).collect();
        step.phase(match failed.first() {
            None => Phase::Ready,
            Some(f) => Phase::Failed {
                reason: format!("{} of {} check(s) failed, first `{}`", failed.len(), results.len(), f.name),
            },
        });
        report.checks.extend(results);
    }
    b.unlock(&me).await;
    report.ok = report.checks.iter().all(|c| c.passed);
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    report
}

/// One service's checks, one after the other.
async fn service_checks<B: Backend>(b: &B, env: &Env, list: &[Check], step: &Step<'_>) -> Vec<CheckResult> {
    let mut out = Vec::new();
    for c in list {
        step.phase(Phase::Waiting { reason: format!("check `{}`", c.name) });
        let kind = match c.run {
            CheckRun::Command { .. } => CheckKind::Command,
            CheckRun::Persists(_) => CheckKind::Persists,
        };
        let mut r = CheckResult {
            service: step.service.into(),
            name: c.name.clone(),
            kind,
            passed: false,
            elapsed_ms: 0,
            instance: None,
            reason: None,
            output: None,
            detail: Vec::new(),
        };
        let started = Instant::now();
        let limit = (started + c.timeout()).min(step.deadline);
        let work = async {
            match &c.run {
                CheckRun::Command { test, expect } => command(b, env, step.service, test, expect, &mut r).await,
                CheckRun::Persists(p) => persists(b, env, p, step, &mut r).await,
            }
        };
        let outcome = match timeout_at(tokio::time::Instant::from_std(limit + grace(c)), work).await {
            Ok(o) => o,
            Err(_) if limit < started + c.timeout() => {
                Err(format!("not finished when the command's --timeout ({}) ran out", human(step.timeout)))
            }
            Err(_) => Err(format!("did not finish within its timeout of {}", human(c.timeout()))),
        };
        r.passed = outcome.is_ok();
        r.reason = outcome.err();
        r.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        out.push(r);
    }
    out
}

/// A `persists` check's restart gets [`GRACE`] past its limit to say what it was waiting for.
fn grace(c: &Check) -> Duration {
    match c.run {
        CheckRun::Persists(_) => GRACE,
        CheckRun::Command { .. } => Duration::ZERO,
    }
}

/// Runs one command in the service; `Err` with why it could not run.
async fn run<B: Backend>(b: &B, service: &str, argv: &[String], r: &mut CheckResult) -> Result<Exec, String> {
    let x = b.exec(service, argv).await?;
    r.instance = Some(x.instance.clone());
    Ok(x)
}

fn output(step: Option<&str>, argv: &[String], x: Option<&Exec>) -> CommandOutput {
    CommandOutput {
        step: step.map(String::from),
        command: argv.join(" "),
        exit_code: x.map(|x| x.exit_code),
        stdout: x.map(|x| clip(&x.stdout)).unwrap_or_default(),
        stderr: x.map(|x| clip(&x.stderr)).unwrap_or_default(),
    }
}

fn clip(s: &str) -> String {
    if s.len() <= MAX_OUTPUT {
        return s.to_string();
    }
    let mut end = MAX_OUTPUT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

async fn command<B: Backend>(
    b: &B,
    env: &Env,
    service: &str,
    test: &ProbeTest,
    expect: &Expect,
    r: &mut CheckResult,
) -> Result<(), String> {
    let argv = checks::argv(test, env, None).map_err(|d| d.message)?;
    let x = match run(b, service, &argv, r).await {
        Ok(x) => x,
        Err(e) => {
            r.output = Some(output(None, &argv, None));
            return Err(e);
        }
    };
    let unmet = unmet(expect, env, &x);
    if unmet.is_empty() {
        return Ok(());
    }
    r.output = Some(output(None, &argv, Some(&x)));
    Err(unmet.join("; "))
}

/// The conditions `x` does not meet, each as a sentence.
pub(crate) fn unmet(e: &Expect, env: &Env, x: &Exec) -> Vec<String> {
    let mut out = Vec::new();
    if x.exit_code != e.exit {
        out.push(format!("exited with code {}, expected {}", x.exit_code, e.exit));
    }
    let got = x.stdout.trim();
    let text =
        |v: &Option<deploy_topology::Value>| v.as_ref().map(|v| v.resolve(env).unwrap_or_else(|_| v.raw.clone()));
    if let Some(want) = text(&e.equals)
        && got != want.trim()
    {
        out.push(format!("stdout is not {}", quote(want.trim())));
    }
    if let Some(want) = text(&e.contains)
        && !got.contains(want.as_str())
    {
        out.push(format!("stdout does not contain {}", quote(&want)));
    }
    if let Some(m) = &e.matches {
        match regex::Regex::new(m) {
            Ok(re) if re.is_match(got) => {}
            Ok(_) => out.push(format!("stdout does not match `{m}`")),
            Err(err) => out.push(format!("`{m}` is not a valid regular expression: {err}")),
        }
    }
    out
}

/// A text in a sentence: `PONG`, or quoted with escapes when it spans lines.
fn quote(s: &str) -> String {
    if s.contains(['\n', '\r', '`']) { format!("{s:?}") } else { format!("`{s}`") }
}

/// A value no earlier run can have left behind.
fn fresh_value() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    format!("deploy-verify-{:x}-{}-{n}", nanos, std::process::id())
}

/// Write, restart, read back; then clean up whatever happened.
async fn persists<B: Backend>(
    b: &B,
    env: &Env,
    p: &Persists,
    step: &Step<'_>,
    r: &mut CheckResult,
) -> Result<(), String> {
    let value = match &p.value {
        Some(v) => v.resolve(env).map_err(|d| d.message)?,
        None => fresh_value(),
    };
    let argv = |t: &ProbeTest| checks::argv(t, env, Some(&value)).map_err(|d| d.message);
    let result = write_restart_read(b, p, &value, &argv, step, r).await;
    let Some(cleanup) = &p.cleanup else { return result };
    let a = argv(cleanup)?;
    let cleaned = match run(b, step.service, &a, r).await {
        Ok(x) if x.exit_code == 0 => Ok(()),
        Ok(x) => Err((format!("cleanup exited with code {}", x.exit_code), Some(x))),
        Err(e) => Err((format!("cleanup could not run: {e}"), None)),
    };
    match (result, cleaned) {
        (Err(e), _) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
        (Ok(()), Err((why, x))) => {
            r.output = Some(output(Some("cleanup"), &a, x.as_ref()));
            Err(why)
        }
    }
}

async fn write_restart_read<B: Backend>(
    b: &B,
    p: &Persists,
    value: &str,
    argv: &dyn Fn(&ProbeTest) -> Result<Vec<String>, String>,
    step: &Step<'_>,
    r: &mut CheckResult,
) -> Result<(), String> {
    let service = step.service;
    let w = argv(&p.write)?;
    match run(b, service, &w, r).await {
        Ok(x) if x.exit_code == 0 => {}
        Ok(x) => {
            r.output = Some(output(Some("write"), &w, Some(&x)));
            return Err(format!("write exited with code {}", x.exit_code));
        }
        Err(e) => {
            r.output = Some(output(Some("write"), &w, None));
            return Err(format!("write could not run: {e}"));
        }
    }
    step.phase(Phase::Waiting { reason: format!("check `{}`: restarting", r.name) });
    match b.restart(service, step).await {
        Ok(done) => r.detail.extend(done),
        Err(f) => {
            r.detail.extend(f.detail);
            return Err(format!("restart: {}", f.reason));
        }
    }
    step.phase(Phase::Waiting { reason: format!("check `{}`: reading back", r.name) });
    let rd = argv(&p.read)?;
    let x = match run(b, service, &rd, r).await {
        Ok(x) => x,
        Err(e) => {
            r.output = Some(output(Some("read"), &rd, None));
            return Err(format!("read could not run after the restart: {e}"));
        }
    };
    let got = x.stdout.trim();
    let why = if x.exit_code != 0 {
        format!("read exited with code {} after the restart", x.exit_code)
    } else if got != value {
        format!("the value did not survive the restart: wrote `{value}`, read back `{got}`")
    } else {
        return Ok(());
    };
    r.output = Some(output(Some("read"), &rd, Some(&x)));
    Err(why)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deploy_topology::Value;

    fn exec(code: i64, stdout: &str) -> Exec {
        Exec { instance: "c".into(), exit_code: code, stdout: stdout.into(), stderr: String::new() }
    }

    #[test]
    fn conditions_are_judged_on_trimmed_stdout_and_all_must_hold() {
        let env = Env::from_pairs([("MAX", "134217728")]);
        let e = Expect {
            exit: 0,
            equals: Some(Value::literal("maxmemory\n${MAX}")),
            contains: Some(Value::literal("134217728")),
            matches: Some(r"(?m)^134217728$".into()),
        };
        assert!(unmet(&e, &env, &exec(0, "maxmemory\n134217728\n")).is_empty());
        let bad = unmet(&e, &env, &exec(1, "maxmemory\n1\n"));
        assert_eq!(
            bad,
            [
                "exited with code 1, expected 0",
                "stdout is not \"maxmemory\\n134217728\"",
                "stdout does not contain `134217728`",
                "stdout does not match `(?m)^134217728$`"
            ]
        );
        let only_exit = Expect { exit: 3, equals: None, contains: None, matches: None };
        assert!(unmet(&only_exit, &env, &exec(3, "anything")).is_empty());
    }

    #[test]
    fn fresh_values_differ_and_long_output_is_clipped_on_a_char_boundary() {
        assert_ne!(fresh_value(), fresh_value());
        let long = "é".repeat(MAX_OUTPUT);
        let c = clip(&long);
        assert!(
            c.len() < long.len() && c.ends_with(&format!("({} bytes in all)", long.len())),
            "{}",
            &c[c.len() - 40..]
        );
    }
}
