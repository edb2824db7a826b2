//! `deploy render --target compose` must produce, for each profile, a Compose
//! file that Docker Compose itself reads as equivalent to the seed's complete
//! file (tests/fixtures/seed/, copied verbatim from the seed document).
//!
//! Both files go through `docker compose config --format json` in the same
//! directory with the same project name and environment. The JSON is then
//! compared after two normalisations: network and volume *keys* are file-local
//! identifiers, so both sides are re-keyed by the Docker `name` they declare
//! (what the engine actually sees). Nothing else is set aside: the topology's
//! Kubernetes-only `listen` ports render nothing, so the files are equal.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::{Map, Value};

fn compose_available() -> bool {
    Command::new("docker").args(["compose", "version"]).output().is_ok_and(|o| o.status.success())
}

fn compose_config(dir: &Path, file: &str) -> Value {
    let out = Command::new("docker")
        .args(["compose", "-p", "equivalence", "-f", file, "config", "--format", "json"])
        .current_dir(dir)
        .env("JWT_SECRET_KEY", "test-secret-value")
        .env_remove("IMAGE_TAG")
        .env_remove("POSTGRES_PASSWORD")
        .env_remove("CORS_ORIGINS")
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker compose: {e}"));
    assert!(out.status.success(), "docker compose config {file} failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("bad JSON from compose: {e}"))
}

fn rekey_by_name(doc: &mut Value, section: &str) -> Map<String, Value> {
    let mut names = Map::new();
    if let Some(Value::Object(m)) = doc.get_mut(section) {
        let old = std::mem::take(m);
        for (k, v) in old {
            let name = v.get("name").and_then(Value::as_str).unwrap_or(&k).to_string();
            names.insert(k, Value::String(name.clone()));
            m.insert(name, v);
        }
    }
    names
}

fn normalise(mut doc: Value) -> Value {
    let nets = rekey_by_name(&mut doc, "networks");
    let vols = rekey_by_name(&mut doc, "volumes");
    if let Some(Value::Object(services)) = doc.get_mut("services") {
        for s in services.values_mut() {
            if let Some(Value::Object(n)) = s.get_mut("networks") {
                let old = std::mem::take(n);
                for (k, v) in old {
                    let name = nets.get(&k).and_then(Value::as_str).unwrap_or(&k).to_string();
                    n.insert(name, v);
                }
            }
            if let Some(Value::Array(mounts)) = s.get_mut("volumes") {
                for m in mounts {
                    if m.get("type").and_then(Value::as_str) == Some("volume")
                        && let Some(src) = m.get("source").and_then(Value::as_str)
                        && let Some(name) = vols.get(src).cloned()
                    {
                        m["source"] = name;
                    }
                }
            }
        }
    }
    doc
}

fn check_profile(profile: &str, seed_file: &str) {
    if !compose_available() {
        assert!(!common::under_ci(), "Docker Compose v2 is required under CI (run .ci/run)");
        eprintln!("notice: docker compose not installed; skipping the equivalence check");
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let seed = common::root().join("tests/fixtures/seed").join(seed_file);
    std::fs::copy(&seed, dir.path().join(seed_file)).unwrap_or_else(|e| panic!("{e}"));
    let out =
        common::deploy(&["render", "--target", "compose", "--profile", profile, "-f", "manifests/learn-greek.yaml"]);
    assert!(out.status.success(), "render failed: {}", common::stderr(&out));
    let rendered = common::stdout(&out);
    assert!(!rendered.contains("version:"), "no obsolete `version:` key");
    assert!(!rendered.contains("test-secret-value"));
    std::fs::write(dir.path().join("rendered.yml"), &rendered).unwrap_or_else(|e| panic!("{e}"));

    let a = normalise(compose_config(dir.path(), seed_file));
    let b = normalise(compose_config(dir.path(), "rendered.yml"));
    assert!(!rendered.contains("expose"), "the seed's files expose nothing:\n{rendered}");
    let diffs = common::json_differences(&a, &b, ("seed", "rendered"));
    assert!(
        diffs.is_empty(),
        "profile {profile}: rendered file differs from the seed:\n{}\n--- rendered:\n{rendered}",
        diffs.join("\n")
    );
    // Guard against a vacuous comparison.
    assert_eq!(a["services"].as_object().map(|m| m.len()), Some(4));
    assert!(a["services"]["redis"]["command"].as_array().is_some_and(|c| c.len() == 7));
}

#[test]
fn compose_prod_is_equivalent_to_the_seed() {
    check_profile("prod", "docker-compose.yml");
}

#[test]
fn compose_dev_is_equivalent_to_the_seed() {
    check_profile("dev", "docker-compose.dev.yml");
}

/// The fixtures are the seed's own text: if the seed is beside the checkout, check they match.
#[test]
fn fixtures_match_the_seed_document() {
    let seed = common::root().join("../shared/seed/000_b1ce992839b2df2c.txt");
    let Ok(text) = std::fs::read_to_string(&seed) else {
        eprintln!("notice: seed document not found beside the checkout; fixtures not re-checked");
        return;
    };
    for f in ["docker-compose.yml", "docker-compose.dev.yml"] {
        let fixture = std::fs::read_to_string(common::root().join("tests/fixtures/seed").join(f)).unwrap_or_default();
        assert!(
            fixture.len() > 1000 && text.contains(&fixture),
            "{f} is not a verbatim copy of the seed's complete file"
        );
    }
}

#[test]
fn rendered_compose_keeps_secrets_as_placeholders() {
    let out = common::deploy_in(
        &common::root(),
        &["render", "--target", "compose", "--profile", "prod", "-f", "manifests/learn-greek.yaml"],
        &[("JWT_SECRET_KEY", "s3cr3t-from-env"), ("POSTGRES_PASSWORD", "pg-pass-from-env")],
    );
    assert!(out.status.success(), "{}", common::stderr(&out));
    let text = common::stdout(&out);
    assert!(!text.contains("s3cr3t-from-env") && !text.contains("pg-pass-from-env"));
    assert!(text.contains("${JWT_SECRET_KEY:?JWT_SECRET_KEY is required}"));
}

#[test]
fn schema_is_json_schema_of_the_topology() {
    let out = common::deploy(&["schema"]);
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("schema is not JSON: {e}"));
    assert_eq!(v["title"], "deploy topology");
    let service = &v["$defs"]["RawService"]["properties"];
    for field in [
        "image",
        "command",
        "environment",
        "ports",
        "volumes",
        "networks",
        "healthcheck",
        "resources",
        "restart",
        "depends_on",
    ] {
        assert!(service.get(field).is_some(), "schema lacks services.*.{field}: {service}");
    }
    assert_eq!(v["$defs"]["RawService"]["additionalProperties"], false, "typos are rejected");
    // ... but not extension fields, which hold YAML anchors as in Compose
    for schema in [&v, &v["$defs"]["RawService"]] {
        assert!(schema["patternProperties"].get("^x-").is_some(), "x-* fields allowed: {schema}");
    }
}

/// `deploy render ... | head` must not panic when the reader goes away: the
/// command ends quietly with its own exit code, for every target.
#[test]
fn a_closed_stdout_is_not_a_crash() {
    for target in ["compose", "k8s"] {
        let (reader, writer) = std::io::pipe().unwrap_or_else(|e| panic!("pipe: {e}"));
        drop(reader); // nobody will ever read: every write fails with EPIPE
        let out = Command::new(common::deploy_bin())
            .args(["render", "--target", target, "-p", "prod", "-f", "manifests/learn-greek.yaml"])
            .args(if target == "k8s" { &["--secrets", "omit"][..] } else { &[] })
            .current_dir(common::root())
            .env("JWT_SECRET_KEY", "x")
            .stdout(writer)
            .output()
            .unwrap_or_else(|e| panic!("cannot run deploy: {e}"));
        let err = common::stderr(&out);
        assert!(!err.contains("panicked"), "{target}: {err}");
        assert_eq!(out.status.code(), Some(0), "{target}: {err}");
    }
}

/// `${VAR}` reads `.env` beside the topology for what the shell does not set
/// (Compose semantics: the shell wins); `--env-file` picks another file; a
/// line that cannot be read is an error at its line.
#[test]
fn variables_come_from_the_shell_then_the_env_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let write = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap_or_else(|e| panic!("{e}"));
    write("deploy.yaml", "name: envs\nservices:\n  web:\n    image: \"web:${TAG:?set TAG}\"\n");
    let image = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["render", "--target", "k8s"];
        args.extend_from_slice(extra);
        let o = common::deploy_in(d, &args, env);
        let text = common::stdout(&o);
        let line = text
            .lines()
            .map(|l| l.trim_start().trim_start_matches("- "))
            .find(|l| l.starts_with("image:"))
            .map(str::to_string);
        (o.status.code(), line, common::stderr(&o))
    };
    // no variable anywhere: the required-variable error
    let (code, _, err) = image(&[], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("TAG"), "{err}");
    // from .env
    write(".env", "# tags\nTAG=7\n");
    assert_eq!(image(&[], &[]).1.as_deref(), Some("image: web:7"));
    // the shell wins over .env
    assert_eq!(image(&[], &[("TAG", "8")]).1.as_deref(), Some("image: web:8"));
    // --env-file replaces the default file
    write("prod.env", "TAG=9\n");
    assert_eq!(image(&["--env-file", "prod.env"], &[]).1.as_deref(), Some("image: web:9"));
    let (code, _, err) = image(&["--env-file", "nope.env"], &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nope.env"), "{err}");
    // a broken line is located
    write(".env", "TAG=7\nOTHER='unclosed\n");
    let (code, _, err) = image(&[], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(".env:2:"), "{err}");
}
