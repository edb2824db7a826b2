//! The resolved topology: a base file with its profile overlaid, validated.
//! Backends read only this. No Docker or Kubernetes types here.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::diag::{Diagnostic, Loc};
use crate::interp;
use crate::units::{ByteSize, Cpus, Dur};

/// A string as written, possibly with `${VAR}` interpolation, and whether it is secret.
#[derive(Clone, Debug, Serialize)]
pub struct Value {
    /// The text as written (interpolation not applied).
    pub raw: String,
    /// True when the value is secret: its variable or name is marked secret.
    pub secret: bool,
    #[serde(skip)]
    pub loc: Option<Loc>,
    #[serde(skip)]
    pub field: String,
}

impl Value {
    pub fn literal(raw: impl Into<String>) -> Self {
        Value { raw: raw.into(), secret: false, loc: None, field: String::new() }
    }
    /// The value with interpolation applied.
    pub fn resolve(&self, env: &Env) -> Result<String, Diagnostic> {
        interp::resolve(&self.raw, &|k| env.get(k))
            .map_err(|e| Diagnostic::new(e.to_string()).at(self.loc.as_ref()).field(self.field.clone()).help(e.help()))
    }
}

/// The variables interpolation reads: the process environment, or a fixed map in tests.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: std::collections::HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Env { vars: std::env::vars().collect() }
    }
    pub fn from_pairs<I: IntoIterator<Item = (K, V)>, K: Into<String>, V: Into<String>>(pairs: I) -> Self {
        Env { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }
    pub fn get(&self, k: &str) -> Option<String> {
        self.vars.get(k).cloned()
    }
    pub fn set(&mut self, k: impl Into<String>, v: impl Into<String>) {
        self.vars.insert(k.into(), v.into());
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Topology {
    /// Project name.
    pub name: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// The profile overlaid, if any.
    pub profile: Option<String>,
    /// Directory relative bind-mount sources and build contexts are resolved against.
    pub project_dir: PathBuf,
    pub variables: IndexMap<String, Variable>,
    pub services: IndexMap<String, Service>,
    pub networks: IndexMap<String, Network>,
    pub volumes: IndexMap<String, Volume>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Variable {
    pub secret: bool,
    pub description: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Service {
    pub name: String,
    pub image: Value,
    pub build: Option<Build>,
    pub container_name: Option<String>,
    pub command: Option<Vec<Value>>,
    pub entrypoint: Option<Vec<Value>>,
    pub environment: IndexMap<String, Value>,
    pub ports: Vec<Port>,
    pub expose: Vec<u16>,
    pub mounts: Vec<Mount>,
    pub networks: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    pub resources: Resources,
    pub restart: Option<Restart>,
    pub depends_on: IndexMap<String, Condition>,
    pub replicas: u32,
    pub kind: WorkloadKind,
    /// What must hold inside the running service once deployed (`deploy verify`), in order.
    pub checks: Vec<crate::checks::Check>,
}

impl Service {
    /// Every container port the service listens on: exposed ones, then published ones' targets.
    pub fn container_ports(&self) -> Vec<(u16, Protocol)> {
        let mut out: Vec<(u16, Protocol)> = self.expose.iter().map(|p| (*p, Protocol::Tcp)).collect();
        for p in &self.ports {
            if !out.contains(&(p.container, p.protocol)) {
                out.push((p.container, p.protocol));
            }
        }
        out
    }
    /// Named volumes this service mounts.
    pub fn named_volumes(&self) -> impl Iterator<Item = (&str, &Mount)> {
        self.mounts.iter().filter_map(|m| match &m.source {
            MountSource::Volume(v) => Some((v.as_str(), m)),
            MountSource::Bind(_) => None,
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Build {
    pub context: Option<String>,
    pub dockerfile: Option<String>,
    pub target: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Port {
    pub host_ip: Option<String>,
    /// Host port; `None` publishes on a port Docker picks.
    pub host: Option<u16>,
    pub container: u16,
    pub protocol: Protocol,
}

impl Port {
    /// Compose short syntax, `[IP:][HOST:]CONTAINER[/udp]`.
    pub fn short(&self) -> String {
        let mut s = String::new();
        if let Some(ip) = &self.host_ip {
            s.push_str(ip);
            s.push(':');
            if self.host.is_none() {
                s.push(':');
            }
        }
        if let Some(h) = self.host {
            s.push_str(&format!("{h}:"));
        }
        s.push_str(&self.container.to_string());
        if self.protocol == Protocol::Udp {
            s.push_str("/udp");
        }
        s
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum MountSource {
    /// Key of a volume declared under `volumes:`.
    Volume(String),
    /// Host path as written (relative to the project directory when it starts with `.`).
    Bind(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub source: MountSource,
    pub target: String,
    pub read_only: bool,
    /// Other short-syntax options as written (`cached`, `z`, ...).
    pub options: Vec<String>,
}

impl Mount {
    /// Compose short syntax.
    pub fn short(&self) -> String {
        let src = match &self.source {
            MountSource::Volume(v) => v,
            MountSource::Bind(b) => b,
        };
        let mut opts: Vec<&str> = Vec::new();
        if self.read_only {
            opts.push("ro");
        }
        opts.extend(self.options.iter().map(String::as_str));
        if opts.is_empty() {
            format!("{src}:{}", self.target)
        } else {
            format!("{src}:{}:{}", self.target, opts.join(","))
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub enum ProbeTest {
    /// Run without a shell.
    Exec(Vec<Value>),
    /// Run with `sh -c`.
    Shell(Value),
}

#[derive(Clone, Debug, Serialize)]
pub struct Healthcheck {
    pub test: ProbeTest,
    pub interval: Option<Dur>,
    pub timeout: Option<Dur>,
    pub retries: Option<u32>,
    pub start_period: Option<Dur>,
}

impl Healthcheck {
    /// Docker's defaults where the topology is silent.
    pub fn interval_or_default(&self) -> Duration {
        self.interval.map_or(Duration::from_secs(30), Dur::get)
    }
    pub fn timeout_or_default(&self) -> Duration {
        self.timeout.map_or(Duration::from_secs(30), Dur::get)
    }
    pub fn retries_or_default(&self) -> u32 {
        self.retries.unwrap_or(3)
    }
    pub fn start_period_or_default(&self) -> Duration {
        self.start_period.map_or(Duration::ZERO, Dur::get)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Amount {
    pub cpus: Option<Cpus>,
    pub memory: Option<ByteSize>,
}

impl Amount {
    pub fn is_empty(&self) -> bool {
        self.cpus.is_none() && self.memory.is_none()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Resources {
    pub limits: Amount,
    pub reservations: Amount,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    No,
    Always,
    OnFailure(Option<u32>),
    UnlessStopped,
}

impl std::fmt::Display for Restart {
    /// The topology spelling (`restart: on-failure:3`), as `validate` parses it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restart::No => f.write_str("no"),
            Restart::Always => f.write_str("always"),
            Restart::OnFailure(None) => f.write_str("on-failure"),
            Restart::OnFailure(Some(n)) => write!(f, "on-failure:{n}"),
            Restart::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::ServiceStarted => "service_started",
            Condition::ServiceHealthy => "service_healthy",
            Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Has persistent identity and storage (Kubernetes StatefulSet).
    Stateful,
    /// Interchangeable replicas (Kubernetes Deployment).
    Stateless,
    /// Runs to completion, once (Kubernetes Job; on Compose a container that must exit 0).
    Job,
}

#[derive(Clone, Debug, Serialize)]
pub struct Network {
    pub key: String,
    /// Name on Docker.
    pub name: String,
    pub driver: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Volume {
    pub key: String,
    /// Name on Docker.
    pub name: String,
    /// Whether the topology gave an explicit `name:` (Compose files then carry it).
    pub explicit_name: bool,
    /// PVC request on Kubernetes.
    pub size: ByteSize,
    pub storage_class: Option<String>,
}

/// Default PVC size when a volume does not give one.
pub const DEFAULT_VOLUME_SIZE: ByteSize = ByteSize(1024 * 1024 * 1024);

impl Topology {
    /// Services in dependency order: every service after all it depends on
    /// (ties keep file order). Validation has already ruled out cycles.
    pub fn order(&self) -> Vec<&str> {
        let mut done: indexmap::IndexSet<&str> = indexmap::IndexSet::with_capacity(self.services.len());
        fn visit<'a>(t: &'a Topology, name: &'a str, done: &mut indexmap::IndexSet<&'a str>) {
            if done.contains(name) {
                return;
            }
            if let Some(s) = t.services.get(name) {
                for dep in s.depends_on.keys() {
                    visit(t, dep, done);
                }
            }
            done.insert(name);
        }
        for name in self.services.keys() {
            visit(self, name, &mut done);
        }
        done.into_iter().collect()
    }

    /// The chosen services plus everything they depend on, transitively, in dependency order.
    /// An empty selection means every service. Unknown names are an error naming the valid ones.
    pub fn select(&self, chosen: &[String]) -> Result<Vec<String>, Diagnostic> {
        if chosen.is_empty() {
            return Ok(self.order().into_iter().map(String::from).collect());
        }
        for c in chosen {
            if !self.services.contains_key(c) {
                return Err(Diagnostic::new(format!("no service named `{c}` in this topology"))
                    .help(format!("services are: {}", self.services.keys().cloned().collect::<Vec<_>>().join(", "))));
            }
        }
        let mut keep: Vec<&str> = Vec::new();
        let mut stack: Vec<&str> = chosen.iter().map(String::as_str).collect();
        while let Some(n) = stack.pop() {
            if !keep.contains(&n) {
                keep.push(n);
                stack.extend(self.services[n].depends_on.keys().map(String::as_str));
            }
        }
        Ok(self.order().into_iter().filter(|n| keep.contains(n)).map(String::from).collect())
    }

    /// Whether `name` is a one-shot: a service that runs to completion instead of
    /// staying up. That is `kind: job`, or a service whose `restart` is `no` or
    /// `on-failure` and that another service waits for with
    /// `service_completed_successfully`. Compose runs it as a container that
    /// must exit 0 (and is not run again once it has, unless its spec changes);
    /// Kubernetes as a Job.
    pub fn is_one_shot(&self, name: &str) -> bool {
        let Some(s) = self.services.get(name) else { return false };
        if s.kind == WorkloadKind::Job {
            return true;
        }
        let runs_once = matches!(s.restart, None | Some(Restart::No | Restart::OnFailure(_)));
        runs_once
            && self.services.values().any(|o| o.depends_on.get(name) == Some(&Condition::ServiceCompletedSuccessfully))
    }

    /// Resolves every value of the given services (all services when `services`
    /// is empty), secrets included, and reports every failure at once: a missing
    /// `${VAR:?}` is found before anything is applied.
    pub fn check_resolvable(&self, env: &Env, services: &[String]) -> Result<(), crate::Errors> {
        let mut errors = crate::Errors::default();
        let chosen: Vec<&Service> = if services.is_empty() {
            self.services.values().collect()
        } else {
            services.iter().filter_map(|n| self.services.get(n)).collect()
        };
        for s in chosen {
            for v in s.values() {
                if let Err(d) = v.resolve(env) {
                    errors.push(d);
                }
            }
        }
        errors.into_result(())
    }
}

impl Service {
    /// Every interpolated value of the service.
    pub fn values(&self) -> Vec<&Value> {
        let mut out = vec![&self.image];
        out.extend(self.command.iter().flatten());
        out.extend(self.entrypoint.iter().flatten());
        out.extend(self.environment.values());
        if let Some(h) = &self.healthcheck {
            match &h.test {
                ProbeTest::Exec(v) => out.extend(v),
                ProbeTest::Shell(v) => out.push(v),
            }
        }
        out.extend(self.checks.iter().flat_map(|c| c.values()));
        out
    }
}
