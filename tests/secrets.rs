//! The secrets canary: a secret variable whose value is a canary, used in the
//! environment, in `command` and in probes (shell and exec), through every
//! verb in text and JSON on both targets; the canary must appear nowhere in
//! what `deploy` prints, and on Kubernetes in no stored object but a Secret.

mod common;
#[path = "compose_common.rs"]
mod compose_common;

use std::path::{Path, PathBuf};
use std::process::Output;

use kube_double::KubeDouble;

use common::{deploy_in, stderr, stdout};
use compose_common::docker_ready;

/// The secret's value; the rotated one contains it, so one search covers both.
const CANARY: &str = "CANARY-7f3a9c";
const ROTATED: &str = "CANARY-7f3a9c-rotated";

/// `app`: the secret in env (also under a name that does not look secret), in
/// `command` and in a shell probe; `worker`: in an exec probe.
fn topology(project: &str, with_copy: bool) -> String {
    let copy = if with_copy { "      TOKEN_COPY: \"${API_TOKEN}\"\n" } else { "" };
    format!(
        r#"name: {project}
variables:
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
fn failing(project: &str) -> String {
    format!(
        r#"name: {project}
variables:
  API_TOKEN: {{secret: true}}
services:
  bad:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    healthcheck: {{shell: 'echo "got ${{API_TOKEN}}"; exit 1', interval: 1s, timeout: 2s, retries: 1}}
"#
    )
}

struct Canary {
    target: &'static str,
    project: String,
    dir: tempfile::TempDir,
    kubeconfig: Option<PathBuf>,
    double: Option<KubeDouble>,
    _rt: Option<tokio::runtime::Runtime>,
}

impl Canary {
    fn new(target: &'static str) -> Option<Canary> {
        if target == "compose" && !docker_ready() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (mut kubeconfig, mut double, mut rt) = (None, None, None);
        if target == "k8s" {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}"));
            let d = runtime.block_on(KubeDouble::start()).unwrap_or_else(|e| panic!("kube-double: {e}"));
            let kc = dir.path().join("kubeconfig");
            d.write_kubeconfig(&kc).unwrap_or_else(|e| panic!("kubeconfig: {e}"));
            d.set_behaviour("bad", kube_double::Behaviour::ReadinessFailing("probe failed".into()));
            (kubeconfig, double, rt) = (Some(kc), Some(d), Some(runtime));
        }
        let project = format!("canary-{target}");
        Some(Canary { target, project, dir, kubeconfig, double, _rt: rt })
    }

    fn write(&self, text: &str) {
        std::fs::write(self.dir.path().join("deploy.yaml"), text).unwrap_or_else(|e| panic!("write: {e}"));
    }

    /// `deploy VERB --target T ARGS...` with `API_TOKEN=token`; asserts the canary is not in its output.
    fn run(&self, token: &str, verb: &str, args: &[&str]) -> Output {
        let mut a = vec![verb, "--target", self.target];
        a.extend_from_slice(args);
        let kc = self.kubeconfig.as_deref().map(Path::display).map(|d| d.to_string()).unwrap_or_default();
        let mut env = vec![("API_TOKEN", token), ("NO_COLOR", "1"), ("DEPLOY_K8S_FAIL_GRACE", "1s")];
        if !kc.is_empty() {
            env.push(("KUBECONFIG", kc.as_str()));
        }
        let o = deploy_in(self.dir.path(), &a, &env);
        let (out, err) = (stdout(&o), stderr(&o));
        let what = format!("[{}] deploy {}", self.target, a.join(" "));
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
        serde_json::from_slice::<serde_json::Value>(&o.stdout)
            .unwrap_or_else(|e| panic!("[{}] {verb}: not JSON ({e}): {}{}", self.target, stdout(&o), stderr(&o)));
        (text, o.status.code().unwrap_or(-1))
    }

    /// On Kubernetes: no stored object but a Secret holds the secret.
    fn assert_objects_clean(&self) {
        let Some(d) = &self.double else { return };
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

impl Drop for Canary {
    fn drop(&mut self) {
        if self.target == "compose" {
            let _ = deploy_in(self.dir.path(), &["destroy", "--target", "compose", "--volumes"], &[]);
        }
    }
}

fn every_verb_keeps_the_secret(target: &'static str) {
    let Some(c) = Canary::new(target) else { return };
    c.write(&topology(&c.project, true));
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
    c.write(&topology(&c.project, false));
    assert_eq!(c.both(ROTATED, "diff", &[]), (2, 2), "[{target}] the removed key is a change");
    let o = c.run(ROTATED, "apply", &["--timeout", "60s"]);
    assert_eq!(o.status.code(), Some(0), "[{target}] {}{}", stdout(&o), stderr(&o));
    c.assert_objects_clean();
    assert_eq!(c.both(ROTATED, "status", &[]), (0, 0));
    let (text, _) = c.both(ROTATED, "destroy", &[]);
    assert_eq!(text, 0);
    // A probe that fails and prints the secret: neither its failure nor its output shows it.
    c.write(&failing(&c.project));
    let (text, json) = c.both(CANARY, "apply", &["--timeout", "20s"]);
    assert_eq!((text, json), (1, 1), "[{target}] the failing probe fails the apply");
    c.assert_objects_clean();
    c.both(CANARY, "destroy", &[]);
}

#[test]
fn compose() {
    every_verb_keeps_the_secret("compose")
}

#[test]
fn k8s() {
    every_verb_keeps_the_secret("k8s")
}
