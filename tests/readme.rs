//! README.md's examples run. Every ```` ```sh test ```` block is run, in
//! order, as one `bash -euo pipefail` script in a copy of `manifests/` and
//! `profiles/`, with the built `deploy` first on `PATH`, the real Docker
//! Engine, and a Kubernetes API (the in-process double) behind `KUBECONFIG`
//! for `deploy --target k8s` and `kubectl`. A ```` ```sh ```` block that is not
//! run must be one of [`NOT_RUN`], each with the reason and what checks it
//! instead. The `text` synopsis under "Commands" may only name flags the
//! binary has, and the install section's facts hold.

mod common;
#[path = "compose_common.rs"]
mod h;

use std::path::Path;
use std::process::Command;

use common::{deploy_bin, root, stderr, stdout};
use kube_double::KubeDouble;

/// `sh` blocks not run here (by their first line), and why.
const NOT_RUN: &[(&str, &str)] = &[
    // 17 minutes of release build; `install_section_facts` checks what it relies on.
    ("cargo install --locked --path crates/cli", "a full release build"),
    // The demo and the CI script install system packages as root: they are this
    // repository's own machine set-up, run by CI itself (.ci/run) and by hand.
    ("./demo.sh", "installs packages as root"),
];

/// The fenced blocks of a Markdown text: (info string, body).
fn blocks(md: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in md.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_string(), String::new())),
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap_or_else(|e| panic!("README.md: {e}"))
}

#[test]
fn every_sh_block_is_run_or_known() {
    let md = readme();
    let all = blocks(&md);
    assert!(all.iter().filter(|(i, _)| i == "sh test").count() >= 3, "the README's examples are marked `sh test`");
    for (info, body) in all.iter().filter(|(i, _)| i == "sh") {
        let first = body.lines().next().unwrap_or_default();
        assert!(
            NOT_RUN.iter().any(|(start, _)| first.starts_with(start)),
            "README block ```{info} starting {first:?} is neither run (```sh test) nor in NOT_RUN"
        );
    }
}

#[test]
fn the_synopsis_names_only_flags_the_binary_has() {
    let md = readme();
    let synopsis = blocks(&md).into_iter().find(|(i, b)| i == "text" && b.starts_with("deploy render")).map(|(_, b)| b);
    let synopsis = synopsis.unwrap_or_else(|| panic!("no ```text synopsis starting `deploy render` in README.md"));
    let mut verb = String::new();
    for line in synopsis.lines() {
        let code = line.split(" # ").next().unwrap_or_default();
        if let Some(rest) = code.strip_prefix("deploy ") {
            verb = rest.split_whitespace().next().unwrap_or_default().to_string();
        }
        let help = Command::new(deploy_bin()).args([&verb, "--help"]).output().unwrap_or_else(|e| panic!("{e}"));
        let help = stdout(&help);
        for flag in code.split(|c: char| c.is_whitespace() || "[]|".contains(c)).filter(|w| w.starts_with("--")) {
            assert!(help.contains(flag), "README synopsis: `deploy {verb}` has no {flag}:\n{help}");
        }
    }
}

/// What `cargo install --locked --path crates/cli` relies on, and the exit-code table.
#[test]
fn install_section_facts() {
    let md = readme();
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap_or_default();
    let rv = cargo.lines().find_map(|l| l.strip_prefix("rust-version = ")).map(|v| v.trim_matches('"').to_string());
    let rv = rv.unwrap_or_else(|| panic!("no rust-version in Cargo.toml"));
    assert!(md.contains(&format!("It needs Rust {rv} or newer")), "README states the minimum Rust version {rv}");
    let cli = std::fs::read_to_string(root().join("crates/cli/Cargo.toml")).unwrap_or_default();
    assert!(cli.contains("[[bin]]\nname = \"deploy\""), "crates/cli builds the `deploy` binary");
    // No dependency in the lock file asks for a newer Rust than the workspace says.
    let meta = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cargo metadata: {e}"));
    assert!(meta.status.success(), "{}", stderr(&meta));
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout).unwrap_or_default();
    // `1.89` is `1.89.0`
    let version = |v: &str| {
        let mut n: Vec<u64> = v.split('.').filter_map(|p| p.parse().ok()).collect();
        n.resize(3, 0);
        n
    };
    let want = version(&rv);
    for p in meta["packages"].as_array().into_iter().flatten() {
        if let Some(v) = p["rust_version"].as_str() {
            assert!(version(v) <= want, "{} {} needs Rust {v}, newer than rust-version {rv}", p["name"], p["version"]);
        }
    }
    for code in ["| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 4 |", "| 64 |", "| 130 |"] {
        assert!(md.contains(code), "README's exit-code table lacks {code}");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for e in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())).flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_readme_example_runs() {
    if !h::docker_ready() {
        return;
    }
    let d = KubeDouble::start().await.unwrap_or_else(|e| panic!("double: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for sub in ["manifests", "profiles"] {
        copy_dir(&root().join(sub), &dir.path().join(sub));
    }
    let kc = dir.path().join("kubeconfig");
    d.write_kubeconfig(&kc).unwrap_or_else(|e| panic!("{e}"));
    let bin = deploy_bin().parent().map(Path::to_path_buf).unwrap_or_default();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    for (i, (_, body)) in blocks(&readme()).into_iter().filter(|(i, _)| i == "sh test").enumerate() {
        let (cwd, kc, path) = (dir.path().to_path_buf(), kc.clone(), path.clone());
        let o = tokio::task::spawn_blocking(move || {
            Command::new("bash")
                .args(["--norc", "--noprofile", "-euo", "pipefail", "-c", &body])
                .current_dir(cwd)
                .env("PATH", path)
                .env("KUBECONFIG", kc)
                .env("NO_COLOR", "1")
                .env_remove("DEPLOY_FILE")
                .env_remove("DEPLOY_TARGET")
                .env_remove("DEPLOY_PROFILE")
                .output()
        })
        .await
        .unwrap_or_else(|e| panic!("join: {e}"))
        .unwrap_or_else(|e| panic!("bash: {e}"));
        assert!(o.status.success(), "README example {i} failed:\n--- stdout\n{}--- stderr\n{}", stdout(&o), stderr(&o));
    }
    // The piped render left no Secret holding a `${...}` placeholder; kubectl created them with values.
    for name in ["backend-env", "postgres-env"] {
        let s = d.get("Secret", Some("learn-greek"), name).unwrap_or_else(|| panic!("no Secret {name}"));
        assert!(!s.to_string().contains("${"), "{s}");
    }
    let args = ["destroy", "-f", "manifests/learn-greek.yaml", "-p", "dev", "--volumes", "redis"];
    let _ = Command::new(deploy_bin()).args(args).current_dir(dir.path()).output();
}
