//! `deploy graph` through the binary: the seed picture, selections, usage
//! errors, secrets, and `--live` colours read from `status` on both targets
//! (Compose on the real Docker Engine, Kubernetes on the in-repo API double).

mod common;
#[path = "compose_common.rs"]
mod compose_common;
#[path = "conformance/rig.rs"]
mod rig;

use common::{deploy, stderr, stdout};
use kube_double::Behaviour;
use rig::{Rig, Target};

const SEED: &str = "manifests/learn-greek.yaml";

fn graph(args: &[&str]) -> (i32, String, String) {
    let mut a = vec!["graph", "-f", SEED];
    a.extend_from_slice(args);
    let o = deploy(&a);
    (o.status.code().unwrap_or(-1), stdout(&o), stderr(&o))
}

#[test]
fn the_seed_picture_in_the_readme_is_what_deploy_graph_draws() {
    let (code, svg, err) = graph(&["-p", "prod", "--format", "svg"]);
    assert_eq!(code, 0, "{err}");
    let committed = std::fs::read_to_string(common::root().join("docs/learn-greek.svg")).unwrap_or_default();
    assert!(svg == committed, "docs/learn-greek.svg differs from `deploy graph -p prod --format svg`");
}

#[test]
fn every_format_draws_every_service_and_a_selection_draws_what_it_depends_on() {
    for format in ["mermaid", "dot", "svg"] {
        let (code, text, err) = graph(&["--format", format]);
        assert_eq!(code, 0, "{format}: {err}");
        for s in ["frontend", "backend", "postgres", "redis", "redis_data", "postgres_data", "learn-greek-network"] {
            assert!(text.contains(s), "{format} lacks {s}:\n{text}");
        }
        let (code, text, err) = graph(&["--format", format, "backend"]);
        assert_eq!(code, 0, "{format}: {err}");
        assert!(text.contains("backend") && text.contains("redis") && text.contains("postgres"), "{text}");
        assert!(!text.contains("frontend"), "{format}: frontend is not a dependency of backend:\n{text}");
    }
    let (code, text, _) = graph(&[]);
    assert_eq!(code, 0);
    assert!(text.contains("flowchart TB"), "mermaid is the default:\n{text}");
}

#[test]
fn usage_errors_and_unknown_services() {
    let misplaced: [&[&str]; 7] = [
        &["--timeout", "5s"],
        &["--namespace", "x"],
        &["--target", "k8s"],
        &["--kubeconfig", "/nowhere"],
        &["--context", "x"],
        &["-o", "json"],
        &["--format", "png"],
    ];
    for args in misplaced {
        let (code, out, err) = graph(args);
        assert_eq!(code, 64, "{args:?}: {out}{err}");
        assert!(out.is_empty(), "{args:?}: nothing on stdout: {out}");
    }
    let (code, _, err) = graph(&["--timeout", "5s"]);
    assert!(err.contains("--live"), "{code}: {err}");
    let (code, _, err) = graph(&["--target", "k8s"]);
    assert!(err.contains("--target") && err.contains("--live"), "{code}: {err}");
    // A target chosen for every command by the environment is not a mistake here.
    let o = common::deploy_in(&common::root(), &["graph", "-f", SEED], &[("DEPLOY_TARGET", "k8s")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (code, out, err) = graph(&["nope"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("nope") && err.contains("redis"), "{err}");
}

#[test]
fn no_secret_value_is_drawn() {
    let canary = "graph-canary-3f9a7c1e";
    for format in ["mermaid", "dot", "svg"] {
        let o = common::deploy_in(
            &common::root(),
            &["graph", "-f", SEED, "-p", "prod", "--format", format],
            &[("JWT_SECRET_KEY", canary), ("POSTGRES_PASSWORD", canary), ("IMAGE_TAG", canary)],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(!text.contains(canary), "{format} shows a value from the environment:\n{text}");
        assert!(text.contains("${IMAGE_TAG:-1.0.0}"), "{format}: images are shown as written:\n{text}");
    }
}

const UP: &str =
    "    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n";

/// The mermaid class each service is drawn with.
fn classes(mermaid: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = mermaid
        .lines()
        .filter_map(|l| l.trim().strip_prefix("class "))
        .filter_map(|l| l.split_once(' '))
        .flat_map(|(ids, class)| ids.split(',').map(move |id| (id.to_string(), class.to_string())))
        .collect();
    out.sort();
    out
}

fn live_colours(t: Target) {
    let topology = format!(
        "services:\n  up:\n{UP}  broken:\n    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"exit 3\"]\n    \
         kind: job\n  later:\n{UP}    depends_on: [up]\n"
    );
    let Some(rig) = Rig::new(t, "graph-live", &topology) else { return };
    rig.behave("broken", Behaviour::Fails { exit_code: 3, log: String::new() });
    let o = rig.run("apply", &["up", "--timeout", "60s"]);
    assert!(o.status.success(), "[{}] {}{}", t.name(), stdout(&o), stderr(&o));
    let o = rig.run("apply", &["broken", "--timeout", "60s"]);
    assert_eq!(o.status.code(), Some(1), "[{}] {}{}", t.name(), stdout(&o), stderr(&o));

    let o = rig.run("graph", &["--live"]);
    assert!(o.status.success(), "[{}] {}", t.name(), stderr(&o));
    let text = stdout(&o);
    let expected = [("network", "n_default"), ("notready", "s_broken"), ("missing", "s_later"), ("ready", "s_up")];
    let mut expected: Vec<(String, String)> = expected.iter().map(|(c, id)| (id.to_string(), c.to_string())).collect();
    expected.sort();
    assert_eq!(classes(&text), expected, "[{}]\n{text}", t.name());
    assert!(text.contains("live: missing"), "[{}] the state is written too:\n{text}", t.name());

    let o = rig.run("graph", &["--live", "--format", "svg", "later"]);
    assert!(o.status.success(), "[{}] {}", t.name(), stderr(&o));
    let svg = stdout(&o);
    assert!(svg.contains("<g class=\"node service ready\" data-node=\"service:up\">"), "[{}]\n{svg}", t.name());
    assert!(svg.contains("<g class=\"node service missing\" data-node=\"service:later\">"), "[{}]\n{svg}", t.name());
    assert!(!svg.contains("service:broken"), "[{}] only `later` and what it depends on:\n{svg}", t.name());
}

#[test]
fn live_colours_on_compose() {
    live_colours(Target::Compose);
}

#[test]
fn live_colours_on_k8s() {
    live_colours(Target::K8s);
}
