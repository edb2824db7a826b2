//! `deploy import`, end to end through the binary.
//!
//! - The seed's two Compose files (tests/fixtures/seed/) become one topology
//!   with what they share and two profiles with what differs; each profile
//!   renders back to a file Docker Compose reads as the seed's own.
//! - The corpus of real Compose files (../shared/compose-corpus beside the
//!   checkout): each is imported, rendered back and compared the same way,
//!   and rendered to Kubernetes objects that `kubernetes-validate --strict`
//!   accepts for the oldest and newest supported versions. The counts are
//!   printed and held to the targets.
//! - Overwriting, `--strict`, secrets kept out of what is printed, and no
//!   claim of losslessness without `docker compose`.
//!
//! The comparisons here run `docker compose config` themselves: they do not
//! take the import's own report for it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{deploy_bin, root, stderr, stdout, under_ci};
use serde_json::{Map, Value};

const VERSIONS: &[&str] = &["1.33.0", "1.37.0"];
const JWT: &str = "jwt-value-from-the-shell-never-printed-42";

fn compose_available() -> bool {
    Command::new("docker").args(["compose", "version"]).output().is_ok_and(|o| o.status.success())
}

/// False (after saying so) when `docker compose` is missing outside CI; under CI it must be there.
fn need_compose() -> bool {
    if compose_available() {
        return true;
    }
    assert!(!under_ci(), "Docker Compose v2 is required under CI (run .ci/run)");
    eprintln!("notice: docker compose not installed; skipping");
    false
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

/// `deploy ARGS` in `dir`, with extra environment variables.
fn deploy_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(deploy_bin());
    c.args(args).current_dir(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap_or_else(|e| panic!("cannot run deploy: {e}"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn yaml(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap_or_else(|e| panic!("bad YAML: {e}\n{text}"))
}

/// `docker compose config --format json` of a file (or of YAML on standard input) in `dir`.
fn compose_config(dir: &Path, file: Option<&Path>, stdin: Option<&str>, project: &str) -> Value {
    let mut c = Command::new("docker");
    c.args(["compose", "-p", project, "--project-directory"]).arg(dir);
    c.arg("-f").arg(file.map_or_else(|| PathBuf::from("-"), Path::to_path_buf));
    c.args(["config", "--format", "json"]).env("JWT_SECRET_KEY", JWT).env_remove("IMAGE_TAG");
    c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("cannot run docker compose: {e}"));
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        use std::io::Write as _;
        input.write_all(text.as_bytes()).unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    let o = child.wait_with_output().unwrap_or_else(|e| panic!("docker compose: {e}"));
    assert!(o.status.success(), "docker compose config failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bad JSON from compose: {e}"))
}

/// Networks and volumes keyed by their Docker names (keys are local to a file).
fn normalise(mut doc: Value) -> Value {
    let mut names: Map<String, Value> = Map::new();
    for section in ["networks", "volumes"] {
        if let Some(Value::Object(m)) = doc.get_mut(section) {
            for (k, v) in std::mem::take(m) {
                let name = v.get("name").and_then(Value::as_str).unwrap_or(&k).to_string();
                names.insert(format!("{section}/{k}"), Value::String(name.clone()));
                m.insert(name, v);
            }
        }
    }
    if let Some(Value::Object(services)) = doc.get_mut("services") {
        for s in services.values_mut() {
            if let Some(Value::Object(n)) = s.get_mut("networks") {
                for (k, v) in std::mem::take(n) {
                    let name = names.get(&format!("networks/{k}")).and_then(Value::as_str).unwrap_or(&k).to_string();
                    n.insert(name, v);
                }
            }
            for m in s.get_mut("volumes").and_then(Value::as_array_mut).into_iter().flatten() {
                let key = m.get("source").and_then(Value::as_str).map(|s| format!("volumes/{s}"));
                if m.get("type").and_then(Value::as_str) == Some("volume")
                    && let Some(name) = key.and_then(|k| names.get(&k).cloned())
                {
                    m["source"] = name;
                }
            }
        }
    }
    doc
}

/// Paths where two readings differ.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => differences(p, q, &format!("{path}.{k}"), out),
                    (p, _) => {
                        out.push(format!("{path}.{k}: only in the {}", if p.is_some() { "input" } else { "rendered" }))
                    }
                }
            }
        }
        _ if a != b => out.push(format!("{path}: differs")),
        _ => {}
    }
}

/// Renders the imported topology (with a profile) to Compose and lists its differences from `input`.
fn round_trip(out_dir: &Path, profile: Option<&str>, input: &Path) -> Vec<String> {
    let mut args = vec!["render", "--target", "compose", "-f", "deploy.yaml"];
    if let Some(p) = profile {
        args.extend(["-p", p]);
    }
    let o = deploy_in(out_dir, &args, &[]);
    assert!(o.status.success(), "render failed: {}", stderr(&o));
    let rendered = stdout(&o);
    let project = yaml(&rendered)["name"].as_str().unwrap_or("import").to_string();
    let a = normalise(compose_config(input.parent().unwrap_or(Path::new(".")), Some(input), None, &project));
    let b = normalise(compose_config(out_dir, None, Some(&rendered), &project));
    assert!(a["services"].as_object().is_some_and(|s| !s.is_empty()), "a vacuous comparison");
    let mut diffs = Vec::new();
    differences(&a, &b, "", &mut diffs);
    diffs
}

/// The seed's files in `app/`, imported into `out/` (so every relative path is rewritten).
fn import_seed(dir: &Path) -> Output {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap_or_else(|e| panic!("{e}"));
    for f in ["docker-compose.yml", "docker-compose.dev.yml"] {
        std::fs::copy(root().join("tests/fixtures/seed").join(f), app.join(f)).unwrap_or_else(|e| panic!("{e}"));
    }
    let args = [
        "import",
        "--profile",
        "prod=app/docker-compose.yml",
        "--profile",
        "dev=app/docker-compose.dev.yml",
        "-o",
        "out",
    ];
    deploy_in(dir, &args, &[("JWT_SECRET_KEY", JWT)])
}

#[test]
fn the_seed_becomes_one_topology_and_two_profiles_that_render_back_exactly() {
    if !need_compose() {
        return;
    }
    let dir = tempdir();
    let o = import_seed(dir.path());
    let (report, err) = (stdout(&o), stderr(&o));
    assert!(o.status.success(), "import failed:\n{report}{err}");
    assert!(report.contains("result: lossless"), "{report}");
    assert!(!report.contains("not carried"), "{report}");
    assert!(!format!("{report}{err}").contains(JWT), "a secret from the shell was printed");
    let out = dir.path().join("out");
    let base = read(&out.join("deploy.yaml"));
    let (prod, dev) = (read(&out.join("profiles/prod.yaml")), read(&out.join("profiles/dev.yaml")));
    // Written once, in the base: Redis's command, image, healthcheck and volume mount.
    let redis = &yaml(&base)["services"]["redis"];
    assert_eq!(redis["image"], "redis:7-alpine", "{base}");
    assert_eq!(redis["command"], "redis-server --appendonly yes --maxmemory 128mb --maxmemory-policy allkeys-lru");
    assert_eq!(redis["healthcheck"]["command"], serde_json::json!(["redis-cli", "ping"]));
    assert_eq!(redis["volumes"], serde_json::json!(["redis_data:/data"]));
    for (name, text) in [("prod", &prod), ("dev", &dev)] {
        for shared in ["redis-server", "redis:7-alpine", "redis-cli", ":/data"] {
            assert!(!text.contains(shared), "profiles/{name}.yaml repeats `{shared}`:\n{text}");
        }
    }
    // Variables kept as written; secret-looking ones declared secret.
    assert!(prod.contains("learn-greek-backend:${IMAGE_TAG:-1.0.0}"), "{prod}");
    let vars = &yaml(&base)["variables"];
    for v in ["JWT_SECRET_KEY", "POSTGRES_PASSWORD"] {
        assert_eq!(vars[v]["secret"], true, "{v} not declared secret:\n{base}");
    }
    // The repository's style: healthcheck command/shell, resources, no `test:` or `deploy:`.
    assert!(!base.contains("test:") && !prod.contains("deploy:") && prod.contains("resources:"), "{prod}");
    // Relative paths point at the same place from out/.
    let b = &yaml(&base)["services"]["frontend"]["build"]["context"];
    assert_eq!(b, "../app/learn-greek-easy-frontend", "{base}");
    for (profile, file) in [("prod", "docker-compose.yml"), ("dev", "docker-compose.dev.yml")] {
        let diffs = round_trip(&out, Some(profile), &dir.path().join("app").join(file));
        assert!(diffs.is_empty(), "{profile}: rendered back differs from {file}:\n{}", diffs.join("\n"));
    }
}

#[test]
fn import_never_overwrites_without_force() {
    let dir = tempdir();
    let compose = dir.path().join("compose.yaml");
    std::fs::write(&compose, "services:\n  web:\n    image: nginx:1\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("deploy.yaml"), "# mine\n").unwrap_or_else(|e| panic!("{e}"));
    let o = deploy_in(dir.path(), &["import", "compose.yaml"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(read(&dir.path().join("deploy.yaml")), "# mine\n", "overwritten without --force");
    let o = deploy_in(dir.path(), &["import", "compose.yaml", "--force"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(read(&dir.path().join("deploy.yaml")).contains("image: nginx:1"));
}

/// A field no topology carries: `cgroup_parent` (a host cgroup path, meaningless on Kubernetes).
const NOT_CARRIED: &str = "services:\n  web:\n    image: nginx:1\n    cgroup_parent: m-executor-abcd\n    environment:\n      DB_PASSWORD: literal-secret-never-printed\n      API_TOKEN: ${API_TOKEN}\n";

#[test]
fn what_is_not_carried_is_listed_and_strict_makes_it_an_error() {
    let dir = tempdir();
    std::fs::write(dir.path().join("compose.yaml"), NOT_CARRIED).unwrap_or_else(|e| panic!("{e}"));
    let env = [("API_TOKEN", "token-from-the-shell-never-printed")];
    let o = deploy_in(dir.path(), &["import", "compose.yaml"], &env);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "warnings alone exit 0:\n{all}");
    assert!(all.contains("services.web.cgroup_parent: "), "{all}");
    assert!(!all.contains("result: lossless"), "{all}");
    for secret in ["literal-secret-never-printed", "token-from-the-shell-never-printed"] {
        assert!(!all.contains(secret), "printed a secret:\n{all}");
    }
    let topology = yaml(&read(&dir.path().join("deploy.yaml")));
    assert_eq!(topology["variables"]["API_TOKEN"]["secret"], true);
    assert_eq!(topology["services"]["web"]["environment"]["API_TOKEN"], "${API_TOKEN}");
    let o = deploy_in(dir.path(), &["import", "compose.yaml", "--force", "--strict"], &env);
    assert_eq!(o.status.code(), Some(1), "--strict with a field not carried:\n{}", stdout(&o));
}

#[test]
fn without_docker_compose_the_round_trip_is_not_claimed() {
    let dir = tempdir();
    std::fs::write(dir.path().join("compose.yaml"), "services:\n  web:\n    image: nginx:1\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let empty = dir.path().join("no-tools");
    std::fs::create_dir(&empty).unwrap_or_else(|e| panic!("{e}"));
    let path = [("PATH", empty.to_str().unwrap_or_default())];
    let o = deploy_in(dir.path(), &["import", "compose.yaml"], &path);
    let report = stdout(&o);
    assert!(o.status.success(), "{report}{}", stderr(&o));
    assert!(report.contains("not checked: docker compose is not installed"), "{report}");
    assert!(!report.contains("lossless\n") || report.contains("not lossless"), "{report}");
    let o = deploy_in(dir.path(), &["import", "compose.yaml", "--force", "--strict"], &path);
    assert_eq!(o.status.code(), Some(1), "--strict without a check:\n{}", stdout(&o));
}

/// The corpus beside the checkout (CI clones the repository next to `shared/`).
fn corpus() -> Option<Vec<PathBuf>> {
    let dir = root().join("../shared/compose-corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        assert!(!under_ci(), "the Compose corpus is missing at {}: CI clones it beside the repository", dir.display());
        eprintln!("notice: no Compose corpus at {}; skipping", dir.display());
        return None;
    };
    let mut files: Vec<PathBuf> =
        entries.flatten().map(|e| e.path().join("compose.yaml")).filter(|p| p.is_file()).collect();
    files.sort();
    Some(files)
}

/// Imports one corpus file into `out`; (lossless, what the import printed).
fn import_corpus_file(file: &Path, out: &Path) -> (bool, String) {
    let o =
        deploy_in(&root(), &["import", file.to_str().unwrap_or_default(), "-o", out.to_str().unwrap_or_default()], &[]);
    let report = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "import of {} failed:\n{report}", file.display());
    let nothing_left_out = !report.contains("not carried (");
    let diffs = round_trip(out, None, file);
    (nothing_left_out && diffs.is_empty(), format!("{report}{}", diffs.join("\n")))
}

/// Renders the imported topology to Kubernetes objects and validates them strictly; the object count.
fn k8s_valid(out: &Path, name: &str, validate: bool) -> Result<usize, String> {
    let o = deploy_in(out, &["render", "--target", "k8s", "-f", "deploy.yaml"], &[]);
    if !o.status.success() {
        return Err(format!("{name}: render --target k8s failed: {}", stderr(&o)));
    }
    let text = stdout(&o);
    let file = out.join("k8s.yaml");
    std::fs::write(&file, &text).unwrap_or_else(|e| panic!("{e}"));
    let count = text.split("\n---\n").filter(|d| !d.trim().is_empty()).count();
    for version in VERSIONS.iter().filter(|_| validate) {
        let (ok, passed, said) = common::kubernetes_validate(&file, version);
        if !ok || passed != count {
            return Err(format!("{name}: not valid for Kubernetes {version}:\n{said}"));
        }
    }
    Ok(count)
}

#[test]
fn the_corpus_round_trips_and_renders_valid_kubernetes_objects() {
    let Some(files) = corpus() else { return };
    if !need_compose() {
        return;
    }
    let validate = common::kubernetes_validate_available();
    let dir = tempdir();
    let (mut lossless, mut valid, mut failures) = (0, 0, Vec::new());
    for file in &files {
        let name = file.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        let out = dir.path().join(&name);
        let (ok, report) = import_corpus_file(file, &out);
        lossless += usize::from(ok);
        println!("{name}: {}", if ok { "lossless" } else { "NOT lossless" });
        if !ok {
            println!("{}", report.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n"));
        }
        match k8s_valid(&out, &name, validate) {
            Ok(n) => {
                valid += 1;
                println!(
                    "    kubernetes: {n} objects rendered{}",
                    if validate { ", strict-valid for 1.33 and 1.37" } else { "" }
                );
            }
            Err(e) => failures.push(e),
        }
    }
    let k8s = if validate {
        "strict-valid Kubernetes objects"
    } else {
        "rendered to Kubernetes (kubernetes-validate missing)"
    };
    println!("corpus: {lossless}/{} lossless, {valid}/{} {k8s}", files.len(), files.len());
    assert_eq!(files.len(), 20, "the corpus has 20 files");
    assert!(lossless >= 18, "only {lossless} of {} corpus files round-trip losslessly", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `include` and `extends` (same file, another file of the folder, two
/// levels) are resolved as Compose resolves them: the import is lossless, as the test's own `docker
/// compose config` of input and rendered topology agrees. A service with
/// `profiles` is left out and said, as `docker compose up` leaves it out.
#[test]
fn include_and_extends_are_resolved_as_compose_does_and_profiled_services_are_said() {
    if !need_compose() {
        return;
    }
    let dir = tempdir();
    let common = "services:\n  root:\n    image: busybox\n    labels: [tier=app]\n    environment: [A=1, B=2]\n    healthcheck: {test: [CMD, 'true'], interval: 5s, retries: 2}\n";
    std::fs::write(dir.path().join("common.yaml"), common).unwrap_or_else(|e| panic!("{e}"));
    let extra = "services:\n  cache:\n    image: busybox\n    command: [sleep, '3']\n    volumes: [cache:/c]\nvolumes:\n  cache: {}\n";
    std::fs::write(dir.path().join("extra.yaml"), extra).unwrap_or_else(|e| panic!("{e}"));
    let compose = r#"name: ext
include: [extra.yaml]
services:
  base:
    extends: {file: common.yaml, service: root}
    command: [sleep, "1"]
    expose: ["80"]
    volumes: ["data:/data"]
  web:
    extends: base
    command: [sleep, "2"]
    environment: {B: "3", C: "4"}
    expose: ["81"]
    ports: ["127.0.0.1:8443:443"]
    volumes: ["logs:/data"]
    healthcheck: {test: [CMD, 'false']}
  debug:
    image: busybox
    profiles: [debug]
volumes:
  data: {}
  logs: {}
"#;
    let input = dir.path().join("compose.yaml");
    std::fs::write(&input, compose).unwrap_or_else(|e| panic!("{e}"));
    let o = deploy_in(dir.path(), &["import", "compose.yaml", "-o", "out"], &[]);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "{all}");
    assert!(all.contains("resolved: services.web.extends: merged with service `base`"), "{all}");
    assert!(all.contains("resolved: services.base.extends: merged with service `root` of `common.yaml`"), "{all}");
    assert!(all.contains("services.debug: Compose starts it only with `--profile debug`"), "{all}");
    assert!(all.contains("resolved: include[0]: what `extra.yaml` defines added"), "{all}");
    assert!(all.contains("round trip: equal"), "{all}");
    let diffs = round_trip(&dir.path().join("out"), None, &input);
    assert!(diffs.is_empty(), "{diffs:#?}");
    let web = &yaml(&read(&dir.path().join("out/deploy.yaml")))["services"]["web"];
    assert_eq!(web["environment"]["A"], "1");
    assert_eq!(web["environment"]["B"], "3");
    assert_eq!(web["labels"]["tier"], "app");
    assert_eq!(web["command"], serde_json::json!(["sleep", "2"]));
    assert_eq!(web["expose"], serde_json::json!([80, 81]));
    let cache = &yaml(&read(&dir.path().join("out/deploy.yaml")))["services"]["cache"];
    assert_eq!(cache["command"], serde_json::json!(["sleep", "3"]));
    // With the profile active (flag, or COMPOSE_PROFILES as Compose reads it), the service is
    // imported and the import is lossless.
    for (args, env) in [(&["--compose-profile", "debug"][..], &[][..]), (&[], &[("COMPOSE_PROFILES", "other,debug")])] {
        let mut a = vec!["import", "compose.yaml", "-o", "out", "--force", "--strict"];
        a.extend_from_slice(args);
        let o = deploy_in(dir.path(), &a, env);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(o.status.success() && all.contains("result: lossless"), "{args:?} {env:?}:\n{all}");
        assert!(all.contains("services.debug.profiles: profile `debug` is active"), "{all}");
        let t = yaml(&read(&dir.path().join("out/deploy.yaml")));
        assert_eq!(t["services"]["debug"]["image"], "busybox");
    }
}
