//! The report of `deploy verify` (and of the checks `deploy apply --verify`
//! runs): one result per declared check.

use std::fmt::Write as _;

use serde::Serialize;

use crate::ExitStatus;

/// The checks of the selected services, run on one target.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub target: String,
    pub project: String,
    /// Every check passed (true when there were none).
    pub ok: bool,
    pub elapsed_ms: u64,
    /// In service order, each service's checks in the order declared.
    pub checks: Vec<CheckResult>,
    /// Why the checks could not run at all (the project's lock, the deadline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What kind of check it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// One command and conditions on its result.
    Command,
    /// Write, restart the service, read back.
    Persists,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub service: String,
    /// The check's name, as declared.
    pub name: String,
    pub kind: CheckKind,
    pub passed: bool,
    pub elapsed_ms: u64,
    /// Where it ran: the container, or `pod/NAME`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The command whose result failed the check, with its output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<CommandOutput>,
    /// What happened on the way (the restart of a `persists` check).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detail: Vec<String>,
}

/// One command run inside the service, and what it printed.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CommandOutput {
    /// `write`, `read` or `cleanup` for a `persists` check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The command as run, arguments joined by spaces.
    pub command: String,
    /// `None` when it did not finish or could not start.
    pub exit_code: Option<i64>,
    pub stdout: String,
    pub stderr: String,
}

impl VerifyReport {
    pub fn exit_status(&self) -> ExitStatus {
        if self.ok { ExitStatus::Ok } else { ExitStatus::Error }
    }

    pub fn passed(&self) -> usize {
        self.checks.iter().filter(|c| c.passed).count()
    }

    /// One line per check; a failed one followed by why, the command and its output.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.checks {
            let result = if c.passed { "passed" } else { "FAILED" };
            let _ = writeln!(s, "{:<16} {:<36} {:<7} {:>8}", c.service, c.name, result, format!("{}ms", c.elapsed_ms));
            if c.passed {
                for d in &c.detail {
                    let _ = writeln!(s, "    {d}");
                }
            } else {
                failure_text(&mut s, c);
            }
        }
        let secs = self.elapsed_ms as f64 / 1000.0;
        let (passed, total) = (self.passed(), self.checks.len());
        let _ = match (&self.error, total) {
            (Some(e), _) => writeln!(s, "error: {e}"),
            (None, 0) => writeln!(s, "{}: no checks declared for the selected services", self.project),
            (None, _) if self.ok => writeln!(s, "{}: all {total} check(s) passed ({secs:.1}s)", self.project),
            (None, _) => writeln!(
                s,
                "{}: {} of {total} check(s) failed ({passed} passed, {secs:.1}s)",
                self.project,
                total - passed
            ),
        };
        s
    }
}

fn failure_text(s: &mut String, c: &CheckResult) {
    if let Some(r) = &c.reason {
        let _ = writeln!(s, "    {r}");
    }
    for d in &c.detail {
        let _ = writeln!(s, "    {d}");
    }
    let Some(o) = &c.output else { return };
    let step = o.step.as_deref().map(|x| format!("{x}: ")).unwrap_or_default();
    let place = c.instance.as_deref().map(|i| format!("   (in {i})")).unwrap_or_default();
    let _ = writeln!(s, "    {step}$ {}{place}", o.command);
    if let Some(code) = o.exit_code {
        let _ = writeln!(s, "    exit {code}");
    }
    for (label, text) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        let mut lines = text.trim_end().lines();
        if let Some(first) = lines.next() {
            let _ = writeln!(s, "    {label}: {first}");
            for l in lines {
                let _ = writeln!(s, "            {l}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, passed: bool) -> CheckResult {
        CheckResult {
            service: "redis".into(),
            name: name.into(),
            kind: CheckKind::Command,
            passed,
            elapsed_ms: 3,
            instance: Some("learn-greek-redis".into()),
            reason: (!passed).then(|| "stdout is not `1`".into()),
            output: (!passed).then(|| CommandOutput {
                step: None,
                command: "redis-cli CONFIG GET maxmemory".into(),
                exit_code: Some(0),
                stdout: "maxmemory\n134217728\n".into(),
                stderr: String::new(),
            }),
            detail: Vec::new(),
        }
    }

    #[test]
    fn a_failed_check_shows_why_the_command_and_its_output() {
        let r = VerifyReport {
            target: "compose".into(),
            project: "p".into(),
            ok: false,
            elapsed_ms: 1200,
            checks: vec![check("ping", true), check("maxmemory", false)],
            error: None,
        };
        let t = r.text();
        assert!(t.contains("ping") && t.contains("passed"), "{t}");
        assert!(t.contains("maxmemory") && t.contains("FAILED"), "{t}");
        assert!(t.contains("    stdout is not `1`\n"), "{t}");
        assert!(t.contains("$ redis-cli CONFIG GET maxmemory   (in learn-greek-redis)"), "{t}");
        assert!(t.contains("    stdout: maxmemory\n            134217728\n"), "{t}");
        assert!(t.contains("p: 1 of 2 check(s) failed (1 passed, 1.2s)"), "{t}");
        assert_eq!(r.exit_status(), ExitStatus::Error);
    }
}
