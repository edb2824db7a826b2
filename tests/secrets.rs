//! The secrets canary: a secret variable whose value is a canary, used in the
//! environment, in `command` and in probes (shell and exec), through every
//! verb in text and JSON on both targets; the canary must appear nowhere in
//! what `deploy` prints, and on Kubernetes in no stored object but a Secret.

mod common;
#[path = "compose_common.rs"]
mod compose_common;
#[path = "conformance/rig.rs"]
mod rig;

use std::process::Output;

use common::{stderr, stdout};
use rig::{Rig, Target};

/// The secret's value; the rotated one contains it, so one search covers both.
const CANARY: &str = "CANARY-7f3a9c";
const ROTATED: &str = "CANARY-7f3a9c-rotated";

/// `app`: the secret in env (also under a name that does not look secret), in
/// `command` and in a shell probe; `worker`: in an exec probe.
fn topology(with_copy: bool) -> String {
    let copy = if with_copy { "      TOKEN_COPY: \"${API_TOKEN}\"\n" } else { "" };
    format!(
        r#"variables:
  API_TOKEN: {{secret: true}}
services:
  app:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait", "--", "${{API_TOKEN}}"]
    environment:
      API_TOKEN: "${{API_TOKEN}}"
{copy}    healthcheck: {{shell: 'test "$API_TOKEN" = "${{API_TOKEN}}"', interval: 1s, timeout: 2s, retries: 3}}
  worker:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    environment:
      API_TOKEN: "${{API_TOKEN}}"
    healthcheck: {{command: ["test", "${{API_TOKEN}}", "=", "${{API_TOKEN}}"], interval: 1s, timeout: 2s, retries: 3}}
"#
    )
}

/// A failing probe that uses the secret: its failure must not show it.
const FAILING: &str = r#"variables:
  API_TOKEN: {secret: true}
services:
  bad:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck: {shell: 'echo "got ${API_TOKEN}"; exit 1', interval: 1s, timeout: 2s, retries: 1}
"#;

/// The shared rig of the conformance table, with the canary's checks.
struct Canary {
    rig: Rig,
}

impl Canary {
    fn new(target: Target) -> Option<Canary> {
        let rig = Rig::new(target, "canary", "")?;
        rig.behave("bad", kube_double::Behaviour::ReadinessFailing("probe failed".into()));
        Some(Canary { rig })
    }

    /// `deploy VERB --target T ARGS...` with `API_TOKEN=token`; asserts the canary is not in its output.
    fn run(&self, token: &str, verb: &str, args: &[&str]) -> Output {
        let o = self.rig.run_with(verb, args, &[("API_TOKEN", token)]);
        let (out, err) = (stdout(&o), stderr(&o));
        let what = format!("[{}] deploy {verb} {}", self.rig.target.name(), args.join(" "));
        assert!(!out.contains(CANARY), "{what}: the secret is in stdout:\n{out}");
        assert!(!err.contains(CANARY), "{what}: the secret is in stderr:\n{err}");
        o
    }

    /// The verb in text, then in JSON; returns the exit codes.
    fn both(&self, token: &str, verb: &str, args: &[&str]) -> (i32, i32) {
        let text = self.run(token, verb, args).status.code().unwrap_or(-1);
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        let o = self.run(token, verb, &a);
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap_or_else(|e| {
            panic!("[{}] {verb}: not JSON ({e}): {}{}", self.rig.target.name(), stdout(&o), stderr(&o))
        });
        (text, o.status.code().unwrap_or(-1))
    }

    /// On Kubernetes: no stored object but a Secret holds the secret.
    fn assert_objects_clean(&self) {
        let Some(d) = self.rig.double() else { return };
        let kinds = ["ConfigMap", "Service", "Pod", "Event", "StatefulSet", "Deployment", "Job", "NetworkPolicy"];
        for kind in kinds.into_iter().chain(["PersistentVolumeClaim", "Namespace", "Lease"]) {
            for o in d.list(kind, None) {
                let text = o.to_string();
                let name = o["metadata"]["name"].as_str().unwrap_or_default().to_string();
                assert!(!text.contains(CANARY), "[k8s] {kind}/{name} holds the secret: {o:#}");
            }
        }
    }
}

fn every_verb_keeps_the_secret(target: Target) {
    let Some(c) = Canary::new(target) else { return };
    let target = target.name();
    c.rig.write(&topology(true));
    let (text, json) = c.both(CANARY, "apply", &["--timeout", "60s"]);
    assert_eq!((text, json), (0, 0), "[{target}] apply succeeds: the probes pass with the secret");
    c.assert_objects_clean();
    assert_eq!(c.both(CANARY, "diff", &[]), (0, 0), "[{target}] nothing to change");
    assert_eq!(c.both(CANARY, "status", &[]), (0, 0));
    // A new value: the change is shown, masked, and applied.
    assert_eq!(c.both(ROTATED, "diff", &[]), (2, 2), "[{target}] the rotated value is a change");
    let o = c.run(ROTATED, "apply", &["--timeout", "60s", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "[{target}] {}{}", stdout(&o), stderr(&o));
    c.assert_objects_clean();
    // A key removed: the removal is shown, masked, and applied.
    c.rig.write(&topology(false));
    assert_eq!(c.both(ROTATED, "diff", &[]), (2, 2), "[{target}] the removed key is a change");
    let o = c.run(ROTATED, "apply", &["--timeout", "60s"]);
    assert_eq!(o.status.code(), Some(0), "[{target}] {}{}", stdout(&o), stderr(&o));
    c.assert_objects_clean();
    assert_eq!(c.both(ROTATED, "status", &[]), (0, 0));
    let (text, _) = c.both(ROTATED, "destroy", &[]);
    assert_eq!(text, 0);
    // A probe that fails and prints the secret: neither its failure nor its output shows it.
    c.rig.write(FAILING);
    let (text, json) = c.both(CANARY, "apply", &["--timeout", "20s"]);
    assert_eq!((text, json), (1, 1), "[{target}] the failing probe fails the apply");
    c.assert_objects_clean();
    c.both(CANARY, "destroy", &[]);
}

#[test]
fn compose() {
    every_verb_keeps_the_secret(Target::Compose)
}

#[test]
fn k8s() {
    every_verb_keeps_the_secret(Target::K8s)
}

/// A secret whose value is in a name (here the service's own) is masked in that
/// name wherever deploy prints it: `validate` says so, naming the variable,
/// never the value; a strong value says nothing.
#[test]
fn a_secret_that_is_in_a_name_is_warned_about() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topology = "name: shop\nservices:\n  postgres:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n";
    std::fs::write(dir.path().join("deploy.yaml"), topology).expect("write");
    let o = common::deploy_in(dir.path(), &["validate"], &[("POSTGRES_PASSWORD", "postgres")]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("warning: the value of secret variable `POSTGRES_PASSWORD` is also in a name"), "{err}");
    assert!(!err.contains("postgres"), "the value is not printed: {err}");
    let o = common::deploy_in(dir.path(), &["validate"], &[("POSTGRES_PASSWORD", "Zq-81kd-w")]);
    assert_eq!((o.status.code(), stderr(&o)), (Some(0), String::new()));
}
