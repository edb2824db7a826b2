#![allow(dead_code)]
//! The rig of the conformance table: one topology, run through the real
//! `deploy` binary on either target. Compose runs on the real Docker Engine
//! (the local test images); Kubernetes on kube-double, served by a runtime of
//! the rig's own, with per-service behaviours standing in for what the
//! containers do on Docker.

use std::path::PathBuf;
use std::process::Output;

use kube_double::{Behaviour, KubeDouble};
use serde_json::Value;

use crate::common::{deploy_in, stderr, stdout};
use crate::compose_common::docker_ready;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Compose,
    K8s,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Compose => "compose",
            Target::K8s => "k8s",
        }
    }
}

/// One topology on one target. Dropping it destroys what it applied.
pub struct Rig {
    pub target: Target,
    pub project: String,
    dir: tempfile::TempDir,
    kubeconfig: Option<PathBuf>,
    double: Option<KubeDouble>,
    _rt: Option<tokio::runtime::Runtime>,
}

impl Rig {
    /// `None` when the target cannot run here (no Docker outside CI).
    pub fn new(target: Target, scenario: &str, topology: &str) -> Option<Rig> {
        if target == Target::Compose && !docker_ready() {
            return None;
        }
        let project = format!("cf-{scenario}-{}", target.name());
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let (mut kubeconfig, mut double, mut rt) = (None, None, None);
        if target == Target::K8s {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}"));
            let d = runtime.block_on(KubeDouble::start()).unwrap_or_else(|e| panic!("kube-double: {e}"));
            let kc = dir.path().join("kubeconfig");
            d.write_kubeconfig(&kc).unwrap_or_else(|e| panic!("kubeconfig: {e}"));
            (kubeconfig, double, rt) = (Some(kc), Some(d), Some(runtime));
        }
        let rig = Rig { target, project, dir, kubeconfig, double, _rt: rt };
        rig.write(topology);
        Some(rig)
    }

    /// Replaces the topology (`{project}` is the project name).
    pub fn write(&self, topology: &str) {
        let text = format!("name: {}\n{}", self.project, topology);
        std::fs::write(self.dir.path().join("deploy.yaml"), text).unwrap_or_else(|e| panic!("write: {e}"));
    }

    pub fn write_file(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    }

    pub fn remove_file(&self, name: &str) {
        let _ = std::fs::remove_file(self.dir.path().join(name));
    }

    /// Leaves the project's lock as another process would: held by `holder`
    /// (`pid@host@since@verb`), expiring in `secs` seconds.
    pub fn plant_lock(&self, holder: &str, secs: i64) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        let name = format!("deploy-lock-{}", self.project);
        match &self.double {
            None => {
                let _ = crate::compose_common::docker(&["rm", "-f", &name]);
                let labels = [
                    format!("dev.deploy.lock={}", self.project),
                    format!("dev.deploy.lock.holder={holder}"),
                    format!("dev.deploy.lock.expires={}", now + secs),
                ];
                let mut args = vec!["create", "--name", &name];
                for l in &labels {
                    args.extend(["--label", l.as_str()]);
                }
                args.push("deploy-test/busybox:1");
                let o = crate::compose_common::docker(&args);
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
            Some(d) => {
                let _ = d.ensure_namespace(&self.project);
                // Renewed `15 - secs` seconds ago, for 15 s: expires in `secs`.
                let renewed = now - (15 - secs);
                let ts = |t: i64| format!("{}", k8s_openapi::jiff::Timestamp::from_second(t).unwrap_or_default());
                let lease = serde_json::json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": self.project},
                    "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                             "acquireTime": ts(renewed), "renewTime": ts(renewed)}});
                d.apply_as("someone-else", lease).unwrap_or_else(|e| panic!("lease: {e}"));
            }
        }
    }

    /// What the service does on Kubernetes (the double has no containers).
    pub fn behave(&self, service: &str, b: Behaviour) {
        if let Some(d) = &self.double {
            d.set_behaviour(service, b);
        }
    }

    /// The directory holding the topology (where `deploy` runs).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The API double the Kubernetes target talks to (`None` on Compose).
    pub fn double(&self) -> Option<&KubeDouble> {
        self.double.as_ref()
    }

    /// `deploy VERB --target T ARGS...` in the topology's directory.
    pub fn run(&self, verb: &str, args: &[&str]) -> Output {
        self.run_with(verb, args, &[])
    }

    /// [`Rig::run`] with these variables in the environment too.
    pub fn run_with(&self, verb: &str, args: &[&str], vars: &[(&str, &str)]) -> Output {
        let mut a = vec![verb, "--target", self.target.name()];
        a.extend_from_slice(args);
        let mut env: Vec<(&str, String)> = vec![("DEPLOY_K8S_FAIL_GRACE", "1s".into()), ("NO_COLOR", "1".into())];
        env.extend(vars.iter().map(|(k, v)| (*k, v.to_string())));
        if let Some(kc) = &self.kubeconfig {
            env.push(("KUBECONFIG", kc.display().to_string()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        deploy_in(self.dir.path(), &a, &env)
    }

    /// `deploy VERB -o json ...`: the exit code and the report.
    pub fn json(&self, verb: &str, args: &[&str]) -> (i32, Value) {
        let mut a = args.to_vec();
        a.extend_from_slice(&["-o", "json"]);
        let o = self.run(verb, &a);
        let v = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!("[{}] {verb}: stdout is not JSON ({e}):\n{}\n{}", self.target.name(), stdout(&o), stderr(&o))
        });
        (o.status.code().unwrap_or(-1), v)
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if self.target == Target::Compose {
            let _ = self.run("destroy", &["--volumes"]);
        }
    }
}

/// `(service, action, state, ready)` of each service in an apply report, by service name.
pub fn outcome(report: &Value) -> Vec<(String, String, String, bool)> {
    let mut v: Vec<_> = report["services"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["service"].as_str().unwrap_or_default().to_string(),
                s["action"].as_str().unwrap_or_default().to_string(),
                s["phase"]["state"].as_str().unwrap_or_default().to_string(),
                s["ready"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    v.sort();
    v
}

/// One service of a report.
pub fn service<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["services"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["service"] == name))
        .unwrap_or_else(|| panic!("no service `{name}` in {report:#}"))
}

/// Expected outcome rows, written compactly: `("db", "created", "ready", true)`.
pub fn rows(r: &[(&str, &str, &str, bool)]) -> Vec<(String, String, String, bool)> {
    let mut v: Vec<_> = r.iter().map(|(a, b, c, d)| (a.to_string(), b.to_string(), c.to_string(), *d)).collect();
    v.sort();
    v
}
