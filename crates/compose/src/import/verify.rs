//! The round-trip check: the Compose file and the topology rendered back to
//! Compose, both read by Docker Compose itself (`docker compose config
//! --format json`, same project name, same variables), must be equal.
//!
//! Docker Compose runs with a clean environment: only what it needs to start,
//! the input's `.env` if it has one, and a placeholder for each variable the
//! input requires (`${VAR:?...}`); nothing from the caller's shell can leak into
//! what is compared. Differences are reported by path, never by value.
//! Network and volume keys are names local to a file, so both sides are keyed
//! by the Docker name they declare (what the engine actually sees).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Map, Value};

/// What the check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Docker Compose could not be asked (not installed, or it cannot read the input).
    NotRun(String),
    /// Paths where the two readings differ (none: lossless).
    Compared(Vec<String>),
}

/// Variables the environment passes through to Docker Compose (it needs no others).
const PASS: &[&str] = &["PATH", "HOME", "DOCKER_CONFIG", "DOCKER_HOST", "DOCKER_CONTEXT", "XDG_RUNTIME_DIR", "TMPDIR"];
/// The value given to variables the input requires.
const PLACEHOLDER: &str = "deploy-import-check";

/// Compares the Compose file `input` with `rendered` (Compose YAML whose relative paths are relative to `out_dir`).
/// `project`: the name both are read under; `profiles`: the Compose profiles taken as active.
pub fn compare(input: &Path, rendered: &str, out_dir: &Path, (project, profiles): (&str, &[String])) -> Check {
    if !docker_compose_available() {
        return Check::NotRun("docker compose is not installed (the round trip was not checked)".to_string());
    }
    let text = std::fs::read_to_string(input).unwrap_or_default();
    let input_dir = input.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let env_file = input_dir.join(".env");
    let env_file = env_file.is_file().then_some(&*env_file);
    let call = Call { project, profiles, required: required_variables(&text), env_file };
    let a = match call.config(input_dir, Source::File(input)) {
        Ok(v) => normalise(v),
        Err(e) => return Check::NotRun(format!("docker compose cannot read the input: {e}")),
    };
    let b = match call.config(out_dir, Source::Text(rendered)) {
        Ok(v) => normalise(v),
        Err(e) => return Check::Compared(vec![format!("docker compose cannot read the rendered file: {e}")]),
    };
    let mut out = Vec::new();
    differences(&a, &b, "", &mut out);
    Check::Compared(out)
}

fn docker_compose_available() -> bool {
    Command::new("docker").args(["compose", "version"]).stdin(Stdio::null()).output().is_ok_and(|o| o.status.success())
}

enum Source<'a> {
    File(&'a Path),
    Text(&'a str),
}

struct Call<'a> {
    project: &'a str,
    profiles: &'a [String],
    required: Vec<String>,
    env_file: Option<&'a Path>,
}

impl Call<'_> {
    /// `docker compose config --format json` of one file, in `dir`.
    fn config(&self, dir: &Path, source: Source<'_>) -> Result<Value, String> {
        let mut c = Command::new("docker");
        c.env_clear();
        for k in PASS {
            if let Ok(v) = std::env::var(k) {
                c.env(k, v);
            }
        }
        for v in &self.required {
            c.env(v, PLACEHOLDER);
        }
        c.args(["compose", "-p", self.project]);
        for p in self.profiles {
            c.args(["--profile", p]);
        }
        c.arg("--project-directory").arg(dir);
        match self.env_file {
            Some(f) => c.arg("--env-file").arg(f),
            None => c.args(["--env-file", "/dev/null"]),
        };
        let file = match &source {
            Source::File(p) => p.as_os_str().to_owned(),
            Source::Text(_) => "-".into(),
        };
        c.arg("-f").arg(file).args(["config", "--format", "json"]);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().map_err(|e| format!("cannot run docker compose: {e}"))?;
        if let (Source::Text(t), Some(mut stdin)) = (&source, child.stdin.take()) {
            stdin.write_all(t.as_bytes()).map_err(|e| format!("cannot write to docker compose: {e}"))?;
        }
        let out = child.wait_with_output().map_err(|e| format!("docker compose: {e}"))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let line = err.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("failed");
            return Err(line.trim().to_string());
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("unreadable output of docker compose config: {e}"))
    }
}

/// Variables the text requires (`${VAR:?...}`, `${VAR?...}`).
fn required_variables(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split("${").skip(1) {
        let name: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let rest = &part[name.len()..];
        if !name.is_empty() && (rest.starts_with(":?") || rest.starts_with('?')) && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Networks and volumes keyed by their Docker names; extension fields (`x-*`) left out.
fn normalise(mut doc: Value) -> Value {
    if let Value::Object(m) = &mut doc {
        m.retain(|k, _| !k.starts_with("x-"));
    }
    let nets = rekey_by_name(&mut doc, "networks");
    let vols = rekey_by_name(&mut doc, "volumes");
    let Some(Value::Object(services)) = doc.get_mut("services") else { return doc };
    for s in services.values_mut() {
        if let Some(m) = s.as_object_mut() {
            // A service is there only when one of its profiles is active (`--compose-profile`),
            // and a topology always runs what it has: the list itself says nothing more.
            m.retain(|k, _| !k.starts_with("x-") && k != "profiles");
            fold_legacy_resources(m);
            disabled_healthcheck(m);
        }
        if let Some(Value::Object(n)) = s.get_mut("networks") {
            let old = std::mem::take(n);
            for (k, v) in old {
                n.insert(nets.get(&k).cloned().unwrap_or(k), v);
            }
        }
        if let Some(Value::Array(mounts)) = s.get_mut("volumes") {
            for m in mounts {
                let src = m.get("source").and_then(Value::as_str).and_then(|s| vols.get(s)).cloned();
                if let (Some(name), Some("volume")) = (src, m.get("type").and_then(Value::as_str)) {
                    m["source"] = Value::String(name);
                }
            }
        }
    }
    doc
}

/// `mem_limit`, `cpus` and `mem_reservation` as the `deploy.resources` Compose
/// takes them for (it refuses the two spellings when they disagree); an empty
/// `deploy.placement` (which Compose adds to any `deploy`) left out.
fn fold_legacy_resources(service: &mut Map<String, Value>) {
    for (legacy, section, field) in
        [("mem_limit", "limits", "memory"), ("cpus", "limits", "cpus"), ("mem_reservation", "reservations", "memory")]
    {
        let Some(v) = service.remove(legacy) else { continue };
        let deploy = service.entry("deploy").or_insert_with(|| Value::Object(Map::new()));
        let amount = deploy
            .as_object_mut()
            .map(|d| d.entry("resources").or_insert_with(|| Value::Object(Map::new())))
            .and_then(Value::as_object_mut)
            .map(|r| r.entry(section).or_insert_with(|| Value::Object(Map::new())));
        if let Some(Value::Object(a)) = amount {
            a.entry(field).or_insert(v);
        }
    }
    if let Some(Value::Object(d)) = service.get_mut("deploy")
        && d.get("placement").and_then(Value::as_object).is_some_and(Map::is_empty)
    {
        d.remove("placement");
    }
}

/// `healthcheck: {disable: true}` as the `test: [NONE]` Compose turns it into for the engine.
fn disabled_healthcheck(service: &mut Map<String, Value>) {
    if service.get("healthcheck").and_then(|h| h.get("disable")).and_then(Value::as_bool) == Some(true) {
        service.insert("healthcheck".to_string(), serde_json::json!({"test": ["NONE"]}));
    }
}

/// Re-keys a top-level section by each entry's `name`; returns key → name.
fn rekey_by_name(doc: &mut Value, section: &str) -> std::collections::HashMap<String, String> {
    let mut names = std::collections::HashMap::new();
    if let Some(Value::Object(m)) = doc.get_mut(section) {
        let old = std::mem::take(m);
        for (k, v) in old {
            let name = v.get("name").and_then(Value::as_str).unwrap_or(&k).to_string();
            names.insert(k, name.clone());
            m.insert(name, v);
        }
    }
    names
}

/// Paths where `a` (the input) and `b` (the rendered file) differ; values are never shown.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    let at = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in sorted_keys(x, y) {
                match (x.get(&k), y.get(&k)) {
                    (Some(p), Some(q)) => differences(p, q, &at(&k), out),
                    (Some(_), None) => out.push(format!("{}: only in the input", at(&k))),
                    (None, _) => out.push(format!("{}: only in the rendered file", at(&k))),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: differs")),
        _ => {}
    }
}

fn sorted_keys(x: &Map<String, Value>, y: &Map<String, Value>) -> Vec<String> {
    let mut keys: Vec<String> = x.keys().chain(y.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_required_variables() {
        let t = "a: ${A:?needed} ${B} ${C?x} ${D:-d} ${A:?again}";
        assert_eq!(required_variables(t), ["A", "C"]);
    }

    #[test]
    fn differences_name_paths_not_values() {
        let a = serde_json::json!({"services": {"s": {"image": "secret-a", "expose": ["1"]}}});
        let b = serde_json::json!({"services": {"s": {"image": "secret-b"}}});
        let mut out = Vec::new();
        differences(&a, &b, "", &mut out);
        assert_eq!(out, ["services.s.expose: only in the input", "services.s.image: differs"]);
    }
}
