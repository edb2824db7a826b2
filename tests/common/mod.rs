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
