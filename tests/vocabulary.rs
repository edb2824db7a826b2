//! The everyday Compose vocabulary, rendered for Compose: Docker Compose must
//! read `deploy render --target compose` of tests/fixtures/vocabulary/deploy.yaml
//! exactly as it reads compose.yaml beside it, the same stack written by hand
//! in Compose's own spellings (`docker compose config --format json`, same
//! project name and environment, no normalisation). And a network or volume
//! is named after the project Compose runs unless the topology names it.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn compose_available() -> bool {
    let ok = Command::new("docker").args(["compose", "version"]).output().is_ok_and(|o| o.status.success());
    assert!(ok || !common::under_ci(), "Docker Compose v2 is required under CI (run .ci/run)");
    if !ok {
        eprintln!("notice: docker compose not installed; skipping");
    }
    ok
}

/// `docker compose -p PROJECT -f FILE config --format json` in `dir`, with a fixed environment.
fn config(dir: &Path, project: &str, file: &str) -> Value {
    let out = Command::new("docker")
        .args(["compose", "-p", project, "-f", file, "config", "--format", "json"])
        .current_dir(dir)
        .env("FROM_SHELL", "from-the-shell")
        .env("API_KEY", "key-from-the-shell")
        .env_remove("WEB_PORT")
        .env_remove("NGINX_TAG")
        .env_remove("OWNER")
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker compose: {e}"));
    assert!(out.status.success(), "docker compose config {file}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON from compose: {e}"))
}

/// The fixture in a fresh directory, with the topology rendered beside it as `rendered.yml`.
fn rendered_fixture() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fixture = common::root().join("tests/fixtures/vocabulary");
    for entry in std::fs::read_dir(&fixture).unwrap_or_else(|e| panic!("{e}")).flatten() {
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap_or_else(|e| panic!("{e}"));
    }
    let out = common::deploy_in(dir.path(), &["render", "--target", "compose", "-f", "deploy.yaml"], &[]);
    assert!(out.status.success(), "render failed: {}", common::stderr(&out));
    let text = common::stdout(&out);
    std::fs::write(dir.path().join("rendered.yml"), &text).unwrap_or_else(|e| panic!("{e}"));
    (dir, text)
}

#[test]
fn compose_reads_the_rendered_vocabulary_as_the_hand_written_file() {
    let (dir, rendered) = rendered_fixture();
    // Values from env files and secret files stay in those files.
    for secret in ["not-in-rendered-files", "fixture-password"] {
        assert!(!rendered.contains(secret), "{secret} leaked into the rendered file:\n{rendered}");
    }
    if !compose_available() {
        return;
    }
    let by_hand = config(dir.path(), "vocab", "compose.yaml");
    let from_topology = config(dir.path(), "vocab", "rendered.yml");
    let diffs = common::json_differences(&by_hand, &from_topology, ("hand-written", "rendered"));
    assert!(diffs.is_empty(), "Compose reads them differently:\n{}\n--- rendered:\n{rendered}", diffs.join("\n"));
    // Guard against a vacuous comparison: the fields are there, as Compose means them.
    let web = &from_topology["services"]["web"];
    assert_eq!(web["user"], "101:101");
    assert_eq!(web["environment"]["FROM_SHELL"], "from-the-shell", "`- FROM_SHELL` takes the shell's value");
    assert_eq!(web["environment"]["MODE"], "production", "env_file values are read");
    assert_eq!(web["ports"].as_array().map(Vec::len), Some(4), "{web}");
    assert_eq!(web["secrets"][1]["target"], "api");
    assert_eq!(web["networks"]["front"]["aliases"][0], "www");
    assert_eq!(web["healthcheck"]["test"][0], "CMD-SHELL");
    assert_eq!(from_topology["services"]["worker"]["deploy"]["replicas"], 2);
    assert_eq!(from_topology["services"]["worker"]["healthcheck"]["disable"], true);
    assert_eq!(from_topology["services"]["db"]["healthcheck"]["test"][0], "NONE");
    assert_eq!(from_topology["networks"]["shared"]["name"], "shared-net");
}

#[test]
fn networks_and_volumes_are_named_after_the_project_compose_runs() {
    if !compose_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let topology = "name: named\nservices:\n  web:\n    image: nginx:1\n    networks: [front, fixed]\n    volumes: [data:/data, kept:/kept]\nnetworks:\n  front: {}\n  fixed: {name: fixed-net}\nvolumes:\n  data: {}\n  kept: {name: kept-vol}\n";
    std::fs::write(d.join("deploy.yaml"), topology).unwrap_or_else(|e| panic!("{e}"));
    let out = common::deploy_in(d, &["render", "--target", "compose"], &[]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let rendered = common::stdout(&out);
    assert!(!rendered.contains("named_"), "no name is written for what the topology does not name:\n{rendered}");
    std::fs::write(d.join("rendered.yml"), &rendered).unwrap_or_else(|e| panic!("{e}"));
    // run as its own project, a rendered file gets networks and volumes of its own ...
    let other = config(d, "other", "rendered.yml");
    assert_eq!(other["networks"]["front"]["name"], "other_front");
    assert_eq!(other["volumes"]["data"]["name"], "other_data");
    // ... and those the topology names keep their names
    assert_eq!(other["networks"]["fixed"]["name"], "fixed-net");
    assert_eq!(other["volumes"]["kept"]["name"], "kept-vol");
    let own = config(d, "named", "rendered.yml");
    assert_eq!(own["networks"]["front"]["name"], "named_front");
}

/// Real Compose files read as topologies (the topology takes Compose's spellings) render back to
/// what Docker Compose reads the same: every file of ../shared/compose-corpus, when it is beside
/// the checkout (20 files from docker/awesome-compose).
#[test]
fn corpus_files_read_as_topologies_render_back_the_same() {
    let corpus = common::root().join("../shared/compose-corpus");
    let Ok(entries) = std::fs::read_dir(&corpus) else {
        eprintln!("notice: the Compose corpus is not beside the checkout; not checked");
        return;
    };
    if !compose_available() {
        return;
    }
    let mut checked = 0;
    for entry in entries.flatten().filter(|e| e.path().join("compose.yaml").is_file()) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(entry.path().join("compose.yaml"), dir.path().join("compose.yaml"))
            .unwrap_or_else(|e| panic!("{e}"));
        let out = common::deploy_in(dir.path(), &["render", "--target", "compose", "-f", "compose.yaml"], &[]);
        let name = entry.file_name().to_string_lossy().to_string();
        assert!(out.status.success(), "{name}: {}", common::stderr(&out));
        std::fs::write(dir.path().join("rendered.yml"), common::stdout(&out)).unwrap_or_else(|e| panic!("{e}"));
        let (input, rendered) = (config(dir.path(), "c", "compose.yaml"), config(dir.path(), "c", "rendered.yml"));
        let diffs = common::json_differences(&input, &rendered, ("input", "rendered"));
        assert!(diffs.is_empty(), "{name}: Compose reads them differently:\n{}", diffs.join("\n"));
        checked += 1;
    }
    eprintln!("{checked} corpus files render back the same");
    assert!(checked >= 20, "only {checked} corpus files found");
}
