//! Pass 3, one field group: a service's `checks` (see `crate::checks`).

use super::{Ctx, service_field};
use crate::checks::{Check, CheckRun, Expect, Persists, RawCheck, RawExpect, RawPersists, VALUE_PLACEHOLDER};
use crate::diag::{Diagnostic, Loc};
use crate::model::ProbeTest;
use crate::raw::{Located, RawService, StringOrList};

const RUNS_HELP: &str = "give one of `command: [prog, args...]` (run directly), `shell: \"command line\"` (run with /bin/sh -c) or `persists: {write: ..., read: ...}`";

/// The service's checks, in order; invalid ones are reported and left out.
pub(super) fn checks(cx: &mut Ctx, key: &Located<String>, s: &RawService) -> Vec<Check> {
    let sname = key.value.as_str();
    let list = s.checks.as_deref().unwrap_or_default();
    if let (Some(k), Some(first)) = (s.kind.as_ref().filter(|k| k.value == "job"), list.first()) {
        cx.err(
            Diagnostic::new(format!(
                "service `{sname}` runs to completion (`kind: job`): it has no running instance to check"
            ))
            .at(first.loc().or(k.loc()))
            .field(service_field(sname, "checks"))
            .help("declare checks on a service that stays up, or remove them"),
        );
        return Vec::new();
    }
    let mut out: Vec<Check> = Vec::new();
    for (i, c) in list.iter().enumerate() {
        let Some(name) = name(cx, sname, i, c, &out) else { continue };
        if let Some(run) = one(cx, sname, &name, c) {
            out.push(Check { name, run, timeout_as_written: c.value.timeout.as_ref().map(|t| t.value) });
        }
    }
    out
}

/// The check's name: present, not empty, unique within the service.
fn name(cx: &mut Ctx, sname: &str, i: usize, c: &Located<RawCheck>, seen: &[Check]) -> Option<String> {
    let field = service_field(sname, &format!("checks[{i}].name"));
    match &c.value.name {
        Some(n) if n.value.trim().is_empty() => {
            cx.err(
                Diagnostic::new("a check's name is empty")
                    .at(n.loc())
                    .field(field)
                    .help("name what the check shows, like `ping` or `maxmemory is 128mb`"),
            );
            None
        }
        Some(n) if seen.iter().any(|s| s.name == n.value) => {
            cx.err(
                Diagnostic::new(format!("service `{sname}` has two checks named `{}`", n.value))
                    .at(n.loc())
                    .field(field)
                    .help("give each check of a service its own name (a profile overrides a check by naming it)"),
            );
            None
        }
        Some(n) => Some(n.value.clone()),
        None => {
            cx.err(
                Diagnostic::new(format!("check {} of `{sname}` has no name", i + 1))
                    .at(c.loc())
                    .field(field)
                    .help("add `name: ...`: reports show it, and a profile overrides the check by it"),
            );
            None
        }
    }
}

/// What one check runs and what must hold; `None` (reported) when invalid.
fn one(cx: &mut Ctx, sname: &str, name: &str, c: &Located<RawCheck>) -> Option<CheckRun> {
    let field = |f: &str| service_field(sname, &format!("checks.{name}{f}"));
    let r = &c.value;
    check_timeout(cx, r, &field(".timeout"));
    let expect = expect(cx, r.expect.as_ref(), &field(".expect"));
    let test = match (&r.command, &r.shell, &r.persists) {
        (Some(cmd), None, None) => exec(cx, cmd, &field(".command"))?,
        (None, Some(sh), None) => ProbeTest::Shell(cx.value(sh.value.clone(), sh.loc(), field(".shell"), false)),
        (None, None, Some(p)) => {
            if let Some(e) = &r.expect {
                let loc = expect_loc(e).or(c.loc());
                cx.err(Diagnostic::new(format!("check `{name}` is a `persists` check and cannot have `expect`")).at(loc).field(field(".expect")).help(
                    "a `persists` check passes when `read` prints the value `write` wrote; drop `expect`, or make it a `command` check",
                ));
                return None;
            }
            return persists(cx, p, c.loc(), &field(".persists")).map(CheckRun::Persists);
        }
        (None, None, None) => {
            cx.err(
                Diagnostic::new(format!("check `{name}` of `{sname}` runs nothing"))
                    .at(c.loc())
                    .field(field(""))
                    .help(RUNS_HELP),
            );
            return None;
        }
        _ => {
            let msg = format!("check `{name}` of `{sname}` has more than one of `command`, `shell` and `persists`");
            cx.err(Diagnostic::new(msg).at(c.loc()).field(field("")).help(RUNS_HELP));
            return None;
        }
    };
    Some(CheckRun::Command { test, expect: expect? })
}

/// The exec form: a non-empty list of arguments.
fn exec(cx: &mut Ctx, cmd: &Located<Vec<String>>, field: &str) -> Option<ProbeTest> {
    if cmd.value.is_empty() {
        cx.err(
            Diagnostic::new("the check's command is empty")
                .at(cmd.loc())
                .field(field)
                .help("give the command and its arguments, like `[redis-cli, ping]`"),
        );
        return None;
    }
    Some(ProbeTest::Exec(cmd.value.iter().map(|a| cx.value(a.clone(), cmd.loc(), field.to_string(), false)).collect()))
}

/// A `write`/`read`/`cleanup` of a `persists` check: a list (exec) or a string (shell).
fn list_or_shell(cx: &mut Ctx, x: &Located<StringOrList>, field: &str) -> Option<ProbeTest> {
    match &x.value {
        StringOrList::List(l) => exec(cx, &Located { value: l.clone(), loc: x.loc.clone() }, field),
        StringOrList::String(s) if s.trim().is_empty() => {
            cx.err(
                Diagnostic::new("the command line is empty")
                    .at(x.loc())
                    .field(field)
                    .help("give a command line, run with /bin/sh -c"),
            );
            None
        }
        StringOrList::String(s) => Some(ProbeTest::Shell(cx.value(s.clone(), x.loc(), field.to_string(), false))),
    }
}

fn persists(cx: &mut Ctx, p: &RawPersists, at: Option<&Loc>, field: &str) -> Option<Persists> {
    let f = |x: &str| format!("{field}.{x}");
    let part = |cx: &mut Ctx, x: &Option<Located<StringOrList>>, which: &str| match x {
        Some(x) => list_or_shell(cx, x, &f(which)),
        None => {
            cx.err(Diagnostic::new(format!("a `persists` check needs `{which}`")).at(at).field(f(which)).help(
                "give `write` (stores the value; `{value}` stands for it) and `read` (prints it back), each a list or a shell line",
            ));
            None
        }
    };
    let write = part(cx, &p.write, "write");
    let read = part(cx, &p.read, "read");
    let cleanup = p.cleanup.as_ref().and_then(|c| list_or_shell(cx, c, &f("cleanup")));
    if p.value.is_none()
        && let Some(w) = &p.write
        && !writes_placeholder(&w.value)
    {
        cx.err(
            Diagnostic::new(format!(
                "`write` does not use `{VALUE_PLACEHOLDER}`, so the value read back cannot be the one written"
            ))
            .at(w.loc())
            .field(f("write"))
            .help("put `{value}` where the value goes (a fresh one each run), or give a fixed `value:`"),
        );
        return None;
    }
    let value = p.value.as_ref().map(|v| cx.value(v.value.clone(), v.loc(), f("value"), false));
    Some(Persists { value, write: write?, read: read?, cleanup })
}

fn writes_placeholder(w: &StringOrList) -> bool {
    match w {
        StringOrList::List(l) => l.iter().any(|a| a.contains(VALUE_PLACEHOLDER)),
        StringOrList::String(s) => s.contains(VALUE_PLACEHOLDER),
    }
}

fn expect_loc(e: &RawExpect) -> Option<&Loc> {
    e.exit
        .as_ref()
        .and_then(|x| x.loc())
        .or_else(|| [&e.equals, &e.contains, &e.matches].into_iter().flatten().find_map(|x| x.loc()))
}

/// The conditions on a command's result: an exit code Linux can report, a regex that compiles.
fn expect(cx: &mut Ctx, e: Option<&RawExpect>, field: &str) -> Option<Expect> {
    let Some(e) = e else { return Some(Expect { exit: 0, equals: None, contains: None, matches: None }) };
    let mut ok = true;
    if let Some(x) = &e.exit
        && !(0..=255).contains(&x.value)
    {
        cx.err(
            Diagnostic::new(format!("exit code {} is out of range", x.value))
                .at(x.loc())
                .field(format!("{field}.exit"))
                .help("an exit code is 0 to 255 (0: success)"),
        );
        ok = false;
    }
    if let Some(m) = &e.matches
        && let Err(err) = regex::Regex::new(&m.value)
    {
        let first = err.to_string().lines().last().unwrap_or_default().trim().to_string();
        cx.err(Diagnostic::new(format!("`{}` is not a valid regular expression: {first}", m.value)).at(m.loc()).field(format!("{field}.matches")).help(
            "Rust regex syntax (https://docs.rs/regex): escape `.`, `(`, `[`... with `\\`; `(?m)^x$` matches a whole line",
        ));
        ok = false;
    }
    let text = |cx: &mut Ctx, x: &Option<Located<String>>, f: &str| {
        x.as_ref().map(|x| cx.value(x.value.clone(), x.loc(), format!("{field}.{f}"), false))
    };
    let equals = text(cx, &e.equals, "equals");
    let contains = text(cx, &e.contains, "contains");
    ok.then(|| Expect {
        exit: e.exit.as_ref().map_or(0, |x| x.value),
        equals,
        contains,
        matches: e.matches.as_ref().map(|m| m.value.clone()),
    })
}

fn check_timeout(cx: &mut Ctx, r: &RawCheck, field: &str) {
    if let Some(t) = &r.timeout
        && t.value.get().is_zero()
    {
        cx.err(
            Diagnostic::new("a check's timeout must be greater than zero")
                .at(t.loc())
                .field(field)
                .help(crate::units::DURATION_HELP),
        );
    }
}
