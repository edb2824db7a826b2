//! Checks declared in the topology: what must hold inside a running service
//! once it is deployed. `deploy verify` (and `deploy apply --verify`) runs
//! them on either target.
//!
//! Here: the raw form ([`RawCheck`], every field optional so that a profile
//! can override part of a check), the overlay (`checks` is a list merged **by
//! `name`**, unlike the other lists, which a profile replaces whole), and the
//! validated model ([`Check`]) the orchestrator runs. Validation is in
//! `validate/checks.rs`.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diag::Diagnostic;
use crate::model::{Env, ProbeTest, Value};
use crate::raw::{Located, StringOrList};
use crate::units::Dur;

type L<T> = Located<T>;

/// Bound of a command check when the topology gives no `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound of a `persists` check (a restart and a wait for ready included) when the topology gives no `timeout`.
pub const DEFAULT_PERSISTS_TIMEOUT: Duration = Duration::from_secs(120);
/// What `{value}` stands for in the commands of a `persists` check.
pub const VALUE_PLACEHOLDER: &str = "{value}";

/// A check: a command run inside the running service and what must hold, or a
/// `persists` check. Either `command`, `shell` or `persists`.
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    /// Names the check in reports; unique within the service. A profile's
    /// check with the same name overrides this one field by field; a new name adds a check.
    pub name: Option<L<String>>,
    /// Exec form: the command and its arguments, run without a shell inside the service.
    pub command: Option<L<Vec<String>>>,
    /// Shell form: a command line run with `/bin/sh -c` inside the service.
    pub shell: Option<L<String>>,
    /// What must hold of the command's result (default: exit code 0). All given conditions must hold.
    pub expect: Option<RawExpect>,
    /// Instead of a command: write a value, restart the service the way its
    /// platform restarts it, wait until it is ready, read the value back.
    pub persists: Option<RawPersists>,
    /// Bounds the whole check (default 10s; 2m for `persists`, whose restart it includes).
    pub timeout: Option<L<Dur>>,
}

/// What must hold of a command's result. Standard output is compared trimmed
/// (leading and trailing whitespace removed).
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// The exit code (default 0).
    pub exit: Option<L<i64>>,
    /// Standard output equals this text (`${VAR}` interpolated).
    pub equals: Option<L<String>>,
    /// Standard output contains this text (`${VAR}` interpolated).
    pub contains: Option<L<String>>,
    /// Standard output matches this regular expression (Rust `regex` syntax,
    /// unanchored unless it says `^...$`; taken as written, not interpolated).
    pub matches: Option<L<String>>,
}

/// A value written, the service restarted, the value read back.
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawPersists {
    /// The value (default: a fresh one each run, so that a value left by an
    /// earlier run cannot pass the check). `{value}` in `write`, `read` and
    /// `cleanup` stands for it.
    pub value: Option<L<String>>,
    /// Writes the value: a list (run without a shell) or a string (run with `/bin/sh -c`).
    pub write: Option<L<StringOrList>>,
    /// Reads it back after the restart: its standard output, trimmed, must equal the value.
    pub read: Option<L<StringOrList>>,
    /// Run last, whatever happened (optional): removes what `write` left.
    pub cleanup: Option<L<StringOrList>>,
}

/// A profile's `checks` onto the base's: a check with a name the base has
/// overrides it field by field; others are added, in the profile's order.
pub fn overlay(base: &mut Option<Vec<L<RawCheck>>>, over: Option<Vec<L<RawCheck>>>) {
    let Some(over) = over else { return };
    let Some(base) = base else {
        *base = Some(over);
        return;
    };
    for o in over {
        let name = o.value.name.as_ref().map(|n| n.value.clone());
        let same = |b: &&mut L<RawCheck>| name.is_some() && b.value.name.as_ref().map(|n| &n.value) == name.as_ref();
        match base.iter_mut().find(same) {
            Some(b) => b.value.overlay(o.value),
            None => base.push(o),
        }
    }
}

impl RawCheck {
    fn overlay(&mut self, o: RawCheck) {
        // What runs is one of `command`, `shell` and `persists`: setting one clears the others.
        if o.command.is_some() || o.shell.is_some() || o.persists.is_some() {
            self.command = o.command;
            self.shell = o.shell;
            self.persists = o.persists;
        }
        // `expect` is replaced whole: a new condition does not add to the old ones.
        if o.expect.is_some() {
            self.expect = o.expect;
        }
        if o.timeout.is_some() {
            self.timeout = o.timeout;
        }
    }
}

/// A validated check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub run: CheckRun,
    /// As written; see [`Check::timeout`].
    #[serde(rename = "timeout")]
    pub timeout_as_written: Option<Dur>,
}

impl Check {
    /// What bounds the whole check.
    pub fn timeout(&self) -> Duration {
        match (&self.timeout_as_written, &self.run) {
            (Some(d), _) => d.get(),
            (None, CheckRun::Persists(_)) => DEFAULT_PERSISTS_TIMEOUT,
            (None, CheckRun::Command { .. }) => DEFAULT_TIMEOUT,
        }
    }

    /// Every interpolated value of the check.
    pub fn values(&self) -> Vec<&Value> {
        let mut out = Vec::new();
        match &self.run {
            CheckRun::Command { test, expect } => {
                out.extend(test_values(test));
                out.extend(expect.equals.iter().chain(expect.contains.iter()));
            }
            CheckRun::Persists(p) => {
                out.extend(p.value.iter());
                for t in [Some(&p.write), Some(&p.read), p.cleanup.as_ref()].into_iter().flatten() {
                    out.extend(test_values(t));
                }
            }
        }
        out
    }
}

fn test_values(t: &ProbeTest) -> Vec<&Value> {
    match t {
        ProbeTest::Exec(v) => v.iter().collect(),
        ProbeTest::Shell(v) => vec![v],
    }
}

/// What a check runs.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckRun {
    /// One command, and what must hold of its result.
    Command { test: ProbeTest, expect: Expect },
    /// Write, restart, read back.
    Persists(Persists),
}

#[derive(Clone, Debug, Serialize)]
pub struct Expect {
    pub exit: i64,
    pub equals: Option<Value>,
    pub contains: Option<Value>,
    /// A regular expression, already known to compile.
    pub matches: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Persists {
    /// `None`: a fresh value each run.
    pub value: Option<Value>,
    pub write: ProbeTest,
    pub read: ProbeTest,
    pub cleanup: Option<ProbeTest>,
}

/// The argument vector that runs `test` inside a container: its arguments, or
/// `/bin/sh -c LINE`, interpolated from `env`; `{value}` replaced by `value`
/// when given (a `persists` check).
pub fn argv(test: &ProbeTest, env: &Env, value: Option<&str>) -> Result<Vec<String>, Diagnostic> {
    let fill = |v: &Value| -> Result<String, Diagnostic> {
        let s = v.resolve(env)?;
        Ok(match value {
            Some(x) => s.replace(VALUE_PLACEHOLDER, x),
            None => s,
        })
    };
    match test {
        ProbeTest::Exec(args) => args.iter().map(fill).collect(),
        ProbeTest::Shell(line) => Ok(vec!["/bin/sh".into(), "-c".into(), fill(line)?]),
    }
}
