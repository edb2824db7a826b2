//! The resolved topology: a base file with its profile overlaid, validated.
//! Backends read only this. No Docker or Kubernetes types here.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::diag::{Diagnostic, Loc};
use crate::interp;
use crate::units::{ByteSize, Cpus, Dur};

mod vocab;
pub use vocab::*;

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

/// Equal when written the same and equally secret (the place it was written aside).
impl PartialEq for Value {
    fn eq(&self, o: &Self) -> bool {
        self.raw == o.raw && self.secret == o.secret
    }
}
impl Eq for Value {}

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
    /// Whether the topology sets `namespace` (else it is `name`, and a
    /// kubeconfig context's namespace takes its place, as with kubectl).
    #[serde(skip)]
    pub namespace_set: bool,
    /// The profile overlaid, if any.
    pub profile: Option<String>,
    /// Directory relative bind-mount sources and build contexts are resolved against.
    pub project_dir: PathBuf,
    pub variables: IndexMap<String, Variable>,
    pub services: IndexMap<String, Service>,
    pub networks: IndexMap<String, Network>,
    pub volumes: IndexMap<String, Volume>,
    /// Top-level secrets (those some service mounts, and the others).
    pub secrets: IndexMap<String, FileObject>,
    /// Top-level configs.
    pub configs: IndexMap<String, FileObject>,
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
    /// Compose's `expose` (rendered to Compose; Kubernetes Service ports).
    pub expose: Vec<u16>,
    /// Kubernetes Service ports that Compose does not render (`listen`).
    pub listen: Vec<u16>,
    pub mounts: Vec<Mount>,
    pub networks: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
    /// The image's own healthcheck turned off (then `healthcheck` is `None`).
    pub healthcheck_disabled: Option<HealthcheckOff>,
    /// How the service joins each of its `networks` (an entry for each, empty when nothing is set).
    pub network_settings: IndexMap<String, ServiceNetwork>,
    /// Environment names written without a value (`- FOO`, `FOO:`): the container gets the
    /// variable of that name from the environment deploy runs in, and none when it is unset.
    pub environment_from_shell: Vec<String>,
    /// `env_file`s, in order; `environment` wins over them (see [`Service::environment_with_files`]).
    pub env_files: Vec<EnvFile>,
    pub user: Option<Value>,
    pub working_dir: Option<Value>,
    pub hostname: Option<Value>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub read_only: bool,
    pub privileged: bool,
    /// `Some(false)` when written `init: false`.
    pub init: Option<bool>,
    pub sysctls: IndexMap<String, Value>,
    pub shm_size: Option<ByteSize>,
    pub tmpfs: Vec<Tmpfs>,
    pub ulimits: IndexMap<String, Ulimit>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Dur>,
    /// Container labels (`com.docker.compose.*` and deploy's own are reserved).
    pub labels: IndexMap<String, Value>,
    pub extra_hosts: Vec<ExtraHost>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_opt: Vec<String>,
    pub platform: Option<Value>,
    pub pull_policy: Option<PullPolicy>,
    pub logging: Option<Logging>,
    pub devices: Vec<Device>,
    /// `bridge`, `host`, `none`, `service:NAME`, `container:NAME`; then `networks` is empty.
    pub network_mode: Option<String>,
    pub runtime: Option<String>,
    /// `no-new-privileges[:true]`, `apparmor:PROFILE`, `seccomp:PROFILE`, `label:...`, as written.
    pub security_opt: Vec<String>,
    pub tty: bool,
    pub stdin_open: bool,
    /// Top-level secrets the service mounts.
    pub secrets: Vec<FileRef>,
    /// Top-level configs the service mounts.
    pub configs: Vec<FileRef>,
    pub resources: Resources,
    pub restart: Option<Restart>,
    pub depends_on: IndexMap<String, Condition>,
    /// Services in `depends_on` that the topology does not name there but Compose adds itself
    /// (`network_mode: service:NAME` starts after NAME): ordered like the others, not written back.
    pub implicit_depends_on: Vec<String>,
    pub replicas: u32,
    pub kind: WorkloadKind,
    /// What must hold inside the running service once deployed (`deploy verify`), in order.
    pub checks: Vec<crate::checks::Check>,
}

impl Service {
    /// Every container port the service listens on: exposed ones, `listen` ones, then published ones' targets.
    pub fn container_ports(&self) -> Vec<(u16, Protocol)> {
        let mut out: Vec<(u16, Protocol)> = Vec::new();
        for p in self.expose.iter().chain(&self.listen) {
            if !out.contains(&(*p, Protocol::Tcp)) {
                out.push((*p, Protocol::Tcp));
            }
        }
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
            MountSource::Bind(_) | MountSource::Anonymous | MountSource::Tmpfs => None,
        })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Build {
    /// As written (`None`: `.`), relative to the project directory.
    pub context: Option<String>,
    /// As written (`None`: `Dockerfile`), relative to the context.
    pub dockerfile: Option<String>,
    pub target: Option<String>,
    /// Build arguments; `None`: the variable of that name, when set (as Compose).
    pub args: IndexMap<String, Option<Value>>,
    /// The service has no `image:`: it is named `PROJECT-SERVICE`, as Compose names it.
    pub default_image: bool,
}

impl Build {
    /// The context directory as written, `.` when not given.
    pub fn context_or_default(&self) -> &str {
        self.context.as_deref().unwrap_or(".")
    }
    /// The Dockerfile as written, `Dockerfile` when not given.
    pub fn dockerfile_or_default(&self) -> &str {
        self.dockerfile.as_deref().unwrap_or("Dockerfile")
    }
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
    /// Long form only: `name`, `mode` (`ingress` or `host`) and `app_protocol`, as written.
    pub name: Option<String>,
    pub mode: Option<String>,
    pub app_protocol: Option<String>,
    /// The port as written when it uses `${VAR}`; the numbers above are then those of its
    /// defaults (a host port without one: `None`). Backends take [`Port::resolve`].
    pub template: Option<PortTemplate>,
}

/// A port written with variables.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum PortTemplate {
    /// The short form's text (`"${WEB_PORT:-8080}:80"`).
    Short(Value),
    /// The long form's `published`.
    Published(Value),
}

impl Port {
    /// The port with its variables resolved (itself when it has none).
    pub fn resolve(&self, env: &Env) -> Result<Port, Diagnostic> {
        let resolved = match &self.template {
            None => return Ok(self.clone()),
            Some(PortTemplate::Short(t)) => resolve_template(t, env, crate::validate::parse::port_text)?,
            Some(PortTemplate::Published(t)) => {
                let host = resolve_template(t, env, crate::validate::parse::published)?;
                Port { host, ..self.clone() }
            }
        };
        Ok(Port {
            name: self.name.clone(),
            mode: self.mode.clone(),
            app_protocol: self.app_protocol.clone(),
            template: None,
            ..resolved
        })
    }

    /// Compose short syntax, `[IP:][HOST:]CONTAINER[/udp]` (as written when it uses variables).
    pub fn short(&self) -> String {
        if let Some(PortTemplate::Short(t)) = &self.template {
            return t.raw.clone();
        }
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
    /// A volume of the container's own (`- /path`, or `type: volume` without a source).
    Anonymous,
    /// A memory-backed directory (`type: tmpfs`).
    Tmpfs,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub source: MountSource,
    pub target: String,
    pub read_only: bool,
    /// Other short-syntax options as written (`cached`, `z`, ...).
    pub options: Vec<String>,
    /// Written in the long form (a map): the options below are as written there.
    pub long_form: bool,
    /// Bind options; for a short-form bind `create_host_path` is true, as in Compose.
    pub bind: Option<BindOptions>,
    pub volume: Option<VolumeOptions>,
    pub tmpfs: Option<TmpfsOptions>,
    /// `consistency` (long form).
    pub consistency: Option<String>,
    /// The source as written when it uses `${VAR}`; `source` is then what its defaults give.
    /// Backends take [`Mount::resolve`].
    pub source_template: Option<Value>,
}

impl Mount {
    /// The mount with its source's variables resolved (itself when it has none).
    pub fn resolve(&self, env: &Env) -> Result<Mount, Diagnostic> {
        let Some(t) = &self.source_template else { return Ok(self.clone()) };
        let source = resolve_template(t, env, crate::validate::parse::mount_source)?;
        Ok(Mount { source, source_template: None, ..self.clone() })
    }

    /// Compose short syntax (the source as written when it uses variables).
    pub fn short(&self) -> String {
        let src = match (&self.source_template, &self.source) {
            (Some(t), _) => &t.raw,
            (None, MountSource::Volume(v)) => v,
            (None, MountSource::Bind(b)) => b,
            (None, MountSource::Anonymous | MountSource::Tmpfs) => {
                return self.target.clone();
            }
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
    /// Interval between probes during the start period.
    pub start_interval: Option<Dur>,
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
    /// Whether the topology gave an explicit `name:` (Compose files then carry it).
    pub explicit_name: bool,
    /// Whether the topology gave an explicit `driver:` (Compose files then carry it).
    pub explicit_driver: bool,
    /// Created outside the project: used, never created or removed (`name` is then the key unless given).
    pub external: bool,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: Option<bool>,
    pub driver_opts: IndexMap<String, String>,
    pub labels: IndexMap<String, String>,
    pub ipam: Option<Ipam>,
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
    /// Created outside the project: used, never created or removed (`name` is then the key unless given).
    pub external: bool,
    /// Docker volume driver (`None`: `local`).
    pub driver: Option<String>,
    pub driver_opts: IndexMap<String, String>,
    pub labels: IndexMap<String, String>,
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
                    .help(self.unknown_service_help(c)));
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

    /// Help for a service name this topology does not have: the likely one, then all of them.
    pub fn unknown_service_help(&self, name: &str) -> String {
        crate::diag::unknown_name_help("services", name, self.services.keys().map(String::as_str))
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
        out.extend(self.build.iter().flat_map(|b| b.args.values().flatten()));
        out.extend(self.command.iter().flatten());
        out.extend(self.entrypoint.iter().flatten());
        out.extend(self.environment.values());
        out.extend(self.vocabulary_values());
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
