#![allow(dead_code)]
//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (these tests are compiled as the `deploy` CLI package's integration tests).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_default()
}

/// The `deploy` binary, built by cargo for this test run.
pub fn deploy_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_deploy"))
}

/// Runs `deploy ARGS` in the repository root.
pub fn deploy(args: &[&str]) -> Output {
    deploy_in(&root(), args, &[])
}

/// Runs `deploy ARGS` in `dir` with extra environment variables.
pub fn deploy_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(deploy_bin());
    c.args(args).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("cannot run deploy: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// True when running under CI (`CI=true`): tests that need a platform must fail, not skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Paths where two JSON documents differ (`left` and `right` name the two sides in the
/// messages), for a readable failure.
pub fn json_differences(a: &serde_json::Value, b: &serde_json::Value, sides: (&str, &str)) -> Vec<String> {
    let mut out = Vec::new();
    walk_differences(a, b, "", sides, &mut out);
    out
}

fn walk_differences(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: &str,
    sides: (&str, &str),
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    let (l, r) = sides;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => walk_differences(p, q, &format!("{path}.{k}"), sides, out),
                    (p, q) => out.push(format!("{path}.{k}: {l} {p:?} vs {r} {q:?}")),
                }
            }
        }
        _ if a != b => out.push(format!("{path}: {l} {a} vs {r} {b}")),
        _ => {}
    }
}

/// Whether `kubernetes-validate` (PyPI) runs here; under CI it must (the test fails otherwise).
pub fn kubernetes_validate_available() -> bool {
    let ok = Command::new("kubernetes-validate").arg("--version").output().is_ok_and(|o| o.status.success());
    let msg = "kubernetes-validate is not installed (pip install kubernetes-validate)";
    assert!(ok || !under_ci(), "{msg}: required under CI");
    if !ok {
        eprintln!("skipping: {msg}");
    }
    ok
}

/// `kubernetes-validate --strict -k VERSION FILE`: whether it succeeded, how many objects
/// it said passed, and what it printed.
pub fn kubernetes_validate(file: &Path, version: &str) -> (bool, usize, String) {
    let o = Command::new("kubernetes-validate")
        .args(["--strict", "-k", version])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("kubernetes-validate: {e}"));
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.success(), out.matches(" passed for resource ").count(), out)
}
