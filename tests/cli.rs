//! The command line itself, through the real binary, without a platform:
//! `-f -`, `DEPLOY_FILE`, `DEPLOY_TARGET`, `-o json` on render and validate,
//! options a target does not take, render's refusal of Secrets holding a
//! placeholder, validate's checks, "did you mean", shell completions in a
//! real bash, and the manual page.

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{deploy_bin, deploy_in, root, stderr, stdout};

const SMALL: &str = "name: cli-small\nservices:\n  web:\n    image: nginx:1\n    ports: [\"127.0.0.1:18080:80\"]\n";

fn show(o: &Output) -> String {
    format!("exit {:?}\n--- stdout\n{}--- stderr\n{}", o.status.code(), stdout(o), stderr(o))
}

/// Runs `deploy ARGS` in `dir` with `input` on standard input.
fn with_stdin(dir: &Path, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
    let mut c = Command::new(deploy_bin());
    c.args(args).current_dir(dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap_or_else(|e| panic!("cannot run deploy: {e}"));
    if let Some(mut i) = child.stdin.take() {
        i.write_all(input.as_bytes()).unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    child.wait_with_output().unwrap_or_else(|e| panic!("wait: {e}"))
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", show(o)))
}

#[test]
fn the_topology_from_stdin_and_from_the_environment() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    // `-f -`: standard input, named <stdin> in reports and errors
    let o = with_stdin(d, &["validate", "-f", "-"], &[], SMALL);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).starts_with("<stdin>: valid (1 services"), "{}", show(&o));
    let o = with_stdin(d, &["render", "-f", "-"], &[], "services:\n  web:\n    imagee: x\n");
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("[<stdin>:3:5]") && stderr(&o).contains("did you mean `image`?"), "{}", show(&o));
    // DEPLOY_FILE=- and DEPLOY_TARGET=k8s, as the flags would
    let o = with_stdin(d, &["render"], &[("DEPLOY_FILE", "-"), ("DEPLOY_TARGET", "k8s")], SMALL);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains("kind: Deployment") && stdout(&o).contains("namespace: cli-small"), "{}", show(&o));
    // a flag wins over its variable
    std::fs::write(d.join("other.yaml"), SMALL.replace("cli-small", "cli-other")).unwrap_or_else(|e| panic!("{e}"));
    let o = deploy_in(
        d,
        &["render", "-f", "other.yaml", "-t", "compose"],
        &[("DEPLOY_FILE", "-"), ("DEPLOY_TARGET", "k8s")],
    );
    assert!(stdout(&o).contains("name: cli-other") && stdout(&o).contains("services:"), "{}", show(&o));
    assert!(!stdout(&o).contains("kind:"), "{}", show(&o));
    let o = deploy_in(d, &["render"], &[("DEPLOY_TARGET", "nomad")]);
    assert_eq!(o.status.code(), Some(64), "{}", show(&o));
}

#[test]
fn render_and_validate_print_json() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::write(d.join("deploy.yaml"), SMALL).unwrap_or_else(|e| panic!("{e}"));
    let compose = json(&deploy_in(d, &["render", "-o", "json"], &[]));
    assert_eq!(compose["services"]["web"]["image"], "nginx:1", "{compose}");
    let k8s = json(&deploy_in(d, &["render", "-t", "k8s", "-o", "json"], &[]));
    assert_eq!((k8s["apiVersion"].as_str(), k8s["kind"].as_str()), (Some("v1"), Some("List")));
    let kinds: Vec<&str> = k8s["items"].as_array().into_iter().flatten().filter_map(|o| o["kind"].as_str()).collect();
    assert!(kinds.contains(&"Namespace") && kinds.contains(&"Deployment"), "{kinds:?}");
    let v = json(&deploy_in(d, &["validate", "-o", "json"], &[]));
    assert_eq!(
        (v["valid"].as_bool(), v["services"].as_u64(), v["variables_checked"].as_bool()),
        (Some(true), Some(1), Some(true))
    );
    std::fs::write(d.join("bad.yaml"), "services:\n  web:\n    image: x\n    restart: sometimes\n").unwrap_or_default();
    let o = deploy_in(d, &["validate", "-f", "bad.yaml", "-o", "json"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let e = &json(&o)["errors"][0];
    assert_eq!((e["file"].as_str(), e["line"].as_u64(), e["column"].as_u64()), (Some("bad.yaml"), Some(4), Some(14)));
    assert_eq!(e["field"], "services.web.restart", "{e}");
}

#[test]
fn an_option_the_target_does_not_take_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::write(d.join("deploy.yaml"), SMALL).unwrap_or_else(|e| panic!("{e}"));
    for (args, flag) in [
        (&["status", "--kubeconfig", "kc"][..], "--kubeconfig is an option of the k8s target only"),
        (&["apply", "-n", "x", "--dry-run"][..], "--namespace is an option of the k8s target only"),
        (&["render", "--secrets", "omit"][..], "--secrets is an option of the k8s target only"),
        (
            &["apply", "-t", "k8s", "--renew-anon-volumes", "--dry-run"][..],
            "--renew-anon-volumes is an option of the compose",
        ),
    ] {
        let o = deploy_in(d, args, &[]);
        assert_eq!(o.status.code(), Some(64), "{args:?}: {}", show(&o));
        assert!(stderr(&o).contains(flag), "{args:?}: {}", show(&o));
    }
    let o = deploy_in(d, &["status", "--progress", "plain"], &[]);
    assert_eq!(o.status.code(), Some(64), "status shows no progress: {}", show(&o));
}

/// The README's own example once piped a Secret holding `${JWT_SECRET_KEY...}`
/// into `kubectl apply`: render refuses, or leaves such Secrets out, or keeps
/// them only when asked, saying so.
#[test]
fn render_never_hands_kubectl_a_secret_placeholder() {
    let args = ["render", "-t", "k8s", "-p", "prod", "-f", "manifests/learn-greek.yaml"];
    let env = [("JWT_SECRET_KEY", "jwt-for-the-cli-test-1234")];
    let o = deploy_in(&root(), &args, &env);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stdout(&o).is_empty(), "{}", show(&o));
    for s in ["Secret/backend-env", "--secrets omit", "kubectl create secret generic backend-env -n learn-greek"] {
        assert!(stderr(&o).contains(s), "lacks {s}: {}", show(&o));
    }
    let o = deploy_in(&root(), &[&args[..], &["--secrets", "omit"]].concat(), &env);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        !stdout(&o).contains("${JWT_SECRET_KEY") && !stdout(&o).contains("name: backend-env\n  namespace"),
        "{}",
        show(&o)
    );
    assert!(stdout(&o).contains("name: backend-env"), "the workload still refers to it: {}", show(&o));
    assert!(stderr(&o).contains("Secret/backend-env left out"), "{}", show(&o));
    let o = deploy_in(&root(), &[&args[..], &["--secrets", "placeholders"]].concat(), &env);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains("${JWT_SECRET_KEY"), "{}", show(&o));
    assert!(stderr(&o).contains("for review only"), "{}", show(&o));
    assert!(!format!("{}{}", stdout(&o), stderr(&o)).contains("jwt-for-the-cli-test-1234"));
}

#[test]
fn validate_checks_required_variables_and_rejects_an_empty_topology() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::write(d.join("req.yaml"), "services:\n  w:\n    image: \"w:${TAG:?set TAG}\"\n").unwrap_or_default();
    let o = deploy_in(d, &["validate", "-f", "req.yaml"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("required variable `TAG` is not set"), "{}", show(&o));
    let o = deploy_in(d, &["validate", "-f", "req.yaml"], &[("TAG", "1")]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = deploy_in(d, &["validate", "-f", "req.yaml", "--no-variables"], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains("required variables (${VAR:?}) not checked"), "{}", show(&o));
    for empty in ["", "# nothing yet\n", "name: x\n", "services: {}\n"] {
        std::fs::write(d.join("empty.yaml"), empty).unwrap_or_default();
        let o = deploy_in(d, &["validate", "-f", "empty.yaml"], &[]);
        assert_eq!(o.status.code(), Some(1), "{empty:?}: {}", show(&o));
        assert!(stderr(&o).contains("the topology has no services"), "{}", show(&o));
    }
}

#[test]
fn errors_name_the_file_suggest_and_find_the_field_in_flow_style() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    std::fs::write(d.join("flow.yaml"), "services: {web: {image: x, resources: {limits: {memory: 1.5x}}}}\n")
        .unwrap_or_default();
    let o = deploy_in(d, &["validate", "-f", "flow.yaml"], &[]);
    let err = stderr(&o);
    assert!(err.contains("`services.web.resources.limits.memory`"), "{err}");
    assert!(err.contains("╭─[flow.yaml:1:57]"), "the snippet header names the file: {err}");
    std::fs::write(d.join("deploy.yaml"), SMALL).unwrap_or_default();
    let o = deploy_in(d, &["status", "wbe"], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("did you mean `web`? services are: web"), "{}", show(&o));
}

/// The completion script is sourced by a real bash, registers `deploy`, and
/// completes subcommands and options.
#[test]
fn completions_work_in_a_real_bash() {
    let script = stdout(&deploy_in(&root(), &["completions", "bash"], &[]));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("deploy.bash");
    std::fs::write(&file, script).unwrap_or_else(|e| panic!("{e}"));
    let check = format!(
        "source {f} && complete -p deploy && COMP_WORDS=(deploy ap) COMP_CWORD=1 COMP_LINE='deploy ap' COMP_POINT=9 \
         && _deploy deploy ap deploy && echo \"words: ${{COMPREPLY[*]}}\" \
         && COMP_WORDS=(deploy apply --dry) COMP_CWORD=2 && _deploy deploy --dry apply && echo \"opts: ${{COMPREPLY[*]}}\"",
        f = file.display()
    );
    let o = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &check])
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    let out = stdout(&o);
    assert!(o.status.success(), "{}", show(&o));
    assert!(out.contains("complete -o bashdefault -o default -o nosort -F _deploy deploy"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("words: ") && l.contains("apply")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("opts: ") && l.contains("--dry-run")), "{out}");
    for shell in ["zsh", "fish", "powershell"] {
        let o = deploy_in(&root(), &["completions", shell], &[]);
        assert!(o.status.success() && stdout(&o).contains("deploy"), "{shell}: {}", show(&o));
    }
}

#[test]
fn the_manual_page_covers_every_command() {
    let o = deploy_in(&root(), &["man"], &[]);
    assert!(o.status.success(), "{}", show(&o));
    let page = stdout(&o);
    assert!(page.contains(".TH deploy 1"), "{page}");
    for s in [".SH \"DEPLOY APPLY\"", ".SH \"DEPLOY STATUS\"", "\\-\\-dry\\-run", "\\-\\-kubeconfig", "\\-\\-progress"]
    {
        assert!(page.contains(s), "man page lacks {s}");
    }
    // roff that man(1) formats, when man is installed
    if let Ok(m) = Command::new("man").arg("--version").output()
        && m.status.success()
    {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = dir.path().join("deploy.1");
        std::fs::write(&f, &page).unwrap_or_default();
        let o = Command::new("man").args(["-l", "-P", "cat"]).arg(&f).env("MANWIDTH", "100").output();
        let o = o.unwrap_or_else(|e| panic!("man: {e}"));
        assert!(o.status.success() && stdout(&o).contains("DEPLOY APPLY"), "{}", show(&o));
    }
}

/// docs/deploy.schema.json is what `deploy schema` prints (regenerate it with
/// `deploy schema > docs/deploy.schema.json`), and every manifest and profile
/// points editors at it (yaml-language-server).
#[test]
fn the_committed_schema_is_current_and_the_manifests_use_it() {
    let o = deploy_in(&root(), &["schema"], &[]);
    assert!(o.status.success(), "{}", show(&o));
    let committed = std::fs::read_to_string(root().join("docs/deploy.schema.json")).unwrap_or_default();
    assert!(committed == stdout(&o), "docs/deploy.schema.json is stale: run `deploy schema > docs/deploy.schema.json`");
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap_or_default();
    assert!(schema["$id"].as_str().is_some_and(|id| !id.is_empty()), "the schema has an $id");
    for dir in ["manifests", "profiles"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}")).flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let first = text.lines().next().unwrap_or_default();
            let target = first.strip_prefix("# yaml-language-server: $schema=");
            let target =
                target.unwrap_or_else(|| panic!("{}: first line is not the schema line: {first}", e.path().display()));
            assert!(
                e.path().parent().unwrap_or(&root()).join(target).is_file(),
                "{}: {target} does not exist",
                e.path().display()
            );
        }
    }
}
