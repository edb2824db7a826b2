//! Topology → what should exist on the engine: networks, volumes and one
//! container per service, each container as a bollard create body plus a
//! comparable [`Spec`] (the desired state, normalised) whose hash goes into
//! the `com.docker.compose.config-hash` label.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, Mount, MountType, NetworkingConfig, PortBinding,
    RestartPolicy, RestartPolicyNameEnum,
};
use deploy_topology::units::Dur;
use deploy_topology::{Env, MountSource, ProbeTest, Restart, Service, Topology, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::EngineError;
use super::labels;
use crate::units::{ComposeFormat as _, nano_cpus};

/// The desired state of one container, normalised so that it can be compared
/// with what `docker inspect` returns. Everything here is "owned" by the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Spec {
    pub name: String,
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub command: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    /// `HOST_IP:HOST_PORT->PORT/PROTO`, sorted.
    pub ports: Vec<String>,
    /// `PORT/PROTO`, sorted.
    pub expose: Vec<String>,
    /// `volume NAME -> /target`, `bind /abs -> /target`, with `:ro`, sorted.
    pub mounts: Vec<String>,
    /// Docker network names, sorted.
    pub networks: Vec<String>,
    pub nano_cpus: Option<i64>,
    pub memory: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub healthcheck: Option<HealthSpec>,
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub restart: String,
    /// Labels that are part of the desired state (not metadata).
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthSpec {
    pub test: Vec<String>,
    pub interval_ns: Option<i64>,
    pub timeout_ns: Option<i64>,
    pub retries: Option<i64>,
    pub start_period_ns: Option<i64>,
}

impl HealthSpec {
    pub fn describe(&self) -> String {
        let mut s = self.test.join(" ");
        let d = |ns: i64| format!("{}s", ns as f64 / 1e9);
        if let Some(i) = self.interval_ns {
            s.push_str(&format!(", interval {}", d(i)));
        }
        if let Some(t) = self.timeout_ns {
            s.push_str(&format!(", timeout {}", d(t)));
        }
        if let Some(r) = self.retries {
            s.push_str(&format!(", retries {r}"));
        }
        if let Some(p) = self.start_period_ns {
            s.push_str(&format!(", start period {}", d(p)));
        }
        s
    }
}

/// How readiness is probed through the exec API.
#[derive(Clone, Debug)]
pub struct Probe {
    pub cmd: Vec<String>,
    pub timeout: std::time::Duration,
}

#[derive(Clone, Debug)]
pub struct PlannedService {
    pub service: String,
    pub spec: Spec,
    /// Env keys whose values are secret (masked in diffs).
    pub secret_env: BTreeSet<String>,
    /// True when any command/entrypoint argument is secret.
    pub secret_args: bool,
    /// True when the health check (and so the probe) uses a secret.
    pub secret_probe: bool,
    /// The resolved secret values of env, command, entrypoint and health
    /// check: what the orchestrator masks in everything it reports.
    pub secret_values: Vec<String>,
    pub hash: String,
    /// Every label to put on the container (spec labels + metadata, hash included).
    pub all_labels: HashMap<String, String>,
    /// The network joined at create time (API 1.41 allows one) and the others, joined afterwards.
    pub first_network: String,
    pub extra_networks: Vec<String>,
    pub probe: Option<Probe>,
    /// A one-shot: runs to completion and must exit 0 (`Topology::is_one_shot`).
    pub must_complete: bool,
    pub host_config: HostConfig,
}

impl PlannedService {
    /// The create body; `image_id` goes into the `com.docker.compose.image` label.
    pub fn create_body(&self, image_id: Option<&str>) -> ContainerCreateBody {
        let mut lbl = self.all_labels.clone();
        if let Some(id) = image_id {
            lbl.insert(labels::IMAGE.to_string(), id.to_string());
        }
        let mut endpoints = HashMap::new();
        endpoints.insert(self.first_network.clone(), endpoint(&self.service));
        ContainerCreateBody {
            image: Some(self.spec.image.clone()),
            entrypoint: self.spec.entrypoint.clone(),
            cmd: self.spec.command.clone(),
            env: Some(self.spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            exposed_ports: (!self.spec.expose.is_empty()).then(|| self.spec.expose.clone()),
            healthcheck: self.spec.healthcheck.as_ref().map(|h| HealthConfig {
                test: Some(h.test.clone()),
                interval: h.interval_ns,
                timeout: h.timeout_ns,
                retries: h.retries,
                start_period: h.start_period_ns,
                start_interval: None,
            }),
            labels: Some(lbl),
            host_config: Some(self.host_config.clone()),
            networking_config: Some(NetworkingConfig { endpoints_config: Some(endpoints) }),
            ..Default::default()
        }
    }
}

/// Endpoint settings of a service on one of its networks: the service name
/// resolves to the container there.
pub fn endpoint(service: &str) -> EndpointSettings {
    EndpointSettings { aliases: Some(vec![service.to_string()]), ..Default::default() }
}

/// The container name of a service.
pub fn container_name(t: &Topology, s: &Service) -> String {
    s.container_name.clone().unwrap_or_else(|| format!("{}-{}-1", t.name, s.name))
}

/// Absolute working directory of the project (for bind mounts and labels).
pub fn project_dir(t: &Topology) -> String {
    std::path::absolute(&t.project_dir).unwrap_or_else(|_| t.project_dir.clone()).display().to_string()
}

fn bind_source(t: &Topology, raw: &str) -> String {
    let p = Path::new(raw);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        std::env::var("HOME").map_or_else(|_| p.to_path_buf(), |h| Path::new(&h).join(rest))
    } else {
        t.project_dir.join(p)
    };
    let abs = std::path::absolute(&joined).unwrap_or(joined);
    // Normalise `.` and `..` lexically (the path may not exist yet).
    let mut out = std::path::PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out.display().to_string()
}

/// Resolves a service's `${VAR}` values from the environment, naming the service in errors.
struct Resolver<'a> {
    env: &'a Env,
    service: &'a str,
}

impl Resolver<'_> {
    fn one(&self, v: &Value) -> Result<String, EngineError> {
        v.resolve(self.env).map_err(|e| EngineError::Input(format!("service `{}`: {e}", self.service)))
    }

    fn all(&self, vs: &[Value]) -> Result<Vec<String>, EngineError> {
        vs.iter().map(|v| self.one(v)).collect()
    }
}

/// Plans one service. `must_complete` says whether a dependent waits for it to exit 0.
pub fn plan_service(t: &Topology, env: &Env, s: &Service, must_complete: bool) -> Result<PlannedService, EngineError> {
    let r = Resolver { env, service: &s.name };
    let image = r.one(&s.image)?;
    let entrypoint = s.entrypoint.as_deref().map(|a| r.all(a)).transpose()?;
    let command = s.command.as_deref().map(|a| r.all(a)).transpose()?;
    let secret_args = s.command.iter().chain(s.entrypoint.iter()).flatten().any(|v| v.secret);
    let (env_map, secret_env) = environment(s, &r)?;
    let ports = ports(s);
    let mounts = mounts(t, s);
    let networks = service_networks(t, s);
    let healthcheck = healthcheck(s, &r)?;
    let probe = probe(s, healthcheck.as_ref());
    let secret_probe = probe_values(s).any(|v| v.secret);
    let secret_values = secret_values(s, &r)?;
    let spec = Spec {
        name: container_name(t, s),
        image,
        entrypoint,
        command,
        labels: spec_labels(t, s, &env_map, &secret_env),
        env: env_map,
        ports: ports.published,
        expose: ports.expose,
        mounts: mounts.spec,
        networks: networks.sorted,
        nano_cpus: s.resources.limits.cpus.map(nano_cpus),
        memory: s.resources.limits.memory.map(|m| m.bytes() as i64),
        memory_reservation: s.resources.reservations.memory.map(|m| m.bytes() as i64),
        healthcheck,
        restart: s.restart.map_or_else(|| "no".to_string(), |r| r.to_compose()),
    };
    let hash = spec_hash(&spec);
    let all_labels = container_labels(t, &spec, &hash);
    let host_config = host_config(&spec, ports.bindings, mounts.docker, s.restart, &networks.first);
    Ok(PlannedService {
        service: s.name.clone(),
        spec,
        secret_env,
        secret_args,
        secret_probe,
        secret_values,
        hash,
        all_labels,
        first_network: networks.first,
        extra_networks: networks.extra,
        probe,
        must_complete,
        host_config,
    })
}

/// The values of a service's health check.
fn probe_values(s: &Service) -> impl Iterator<Item = &Value> {
    s.healthcheck.iter().flat_map(|h| match &h.test {
        ProbeTest::Exec(args) => args.iter().collect::<Vec<_>>(),
        ProbeTest::Shell(cmd) => vec![cmd],
    })
}

/// The resolved values of the secret env values, arguments and probe.
fn secret_values(s: &Service, r: &Resolver) -> Result<Vec<String>, EngineError> {
    let args = s.command.iter().chain(s.entrypoint.iter()).flatten();
    let all = s.environment.values().chain(args).chain(probe_values(s));
    all.filter(|v| v.secret).map(|v| r.one(v)).collect()
}

/// The environment, resolved, and which of its keys hold secrets.
fn environment(s: &Service, r: &Resolver) -> Result<(BTreeMap<String, String>, BTreeSet<String>), EngineError> {
    let mut env_map = BTreeMap::new();
    let mut secret_env = BTreeSet::new();
    for (k, v) in &s.environment {
        env_map.insert(k.clone(), r.one(v)?);
        if v.secret {
            secret_env.insert(k.clone());
        }
    }
    Ok((env_map, secret_env))
}

/// Ports as the spec lists them and as Docker binds and exposes them.
struct Ports {
    /// `HOST_IP:HOST_PORT->PORT/PROTO`, sorted.
    published: Vec<String>,
    /// `PORT/PROTO`, sorted, without duplicates.
    expose: Vec<String>,
    /// Docker's port bindings, by `PORT/PROTO`.
    bindings: HashMap<String, Option<Vec<PortBinding>>>,
}

fn ports(s: &Service) -> Ports {
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut published = Vec::new();
    for p in &s.ports {
        let key = format!("{}/{}", p.container, p.protocol.as_str());
        let host_ip = p.host_ip.clone().unwrap_or_else(|| "0.0.0.0".to_string());
        let host_port = p.host.map(|h| h.to_string()).unwrap_or_default();
        published.push(format!("{host_ip}:{host_port}->{key}"));
        bindings
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding { host_ip: Some(host_ip), host_port: Some(host_port) });
    }
    published.sort();
    let mut expose: Vec<String> =
        s.container_ports().iter().map(|(p, proto)| format!("{p}/{}", proto.as_str())).collect();
    expose.sort();
    expose.dedup();
    Ports { published, expose, bindings }
}

/// Mounts as the spec lists them and as Docker mounts them.
struct Mounts {
    /// `volume NAME -> /target`, `bind /abs -> /target`, with `:ro`, sorted.
    spec: Vec<String>,
    docker: Vec<Mount>,
}

fn mounts(t: &Topology, s: &Service) -> Mounts {
    let mut spec = Vec::new();
    let mut docker = Vec::new();
    for m in &s.mounts {
        let (typ, source) = match &m.source {
            MountSource::Volume(key) => {
                let name = t.volumes.get(key).map_or_else(|| format!("{}_{key}", t.name), |v| v.name.clone());
                (MountType::VOLUME, name)
            }
            MountSource::Bind(raw) => (MountType::BIND, bind_source(t, raw)),
            MountSource::Anonymous => (MountType::VOLUME, String::new()),
            MountSource::Tmpfs => (MountType::TMPFS, String::new()),
        };
        let kind = match typ {
            MountType::VOLUME => "volume",
            MountType::TMPFS => "tmpfs",
            _ => "bind",
        };
        spec.push(format!("{kind} {source} -> {}{}", m.target, if m.read_only { ":ro" } else { "" }));
        docker.push(Mount {
            target: Some(m.target.clone()),
            source: (!source.is_empty()).then_some(source),
            typ: Some(typ),
            read_only: m.read_only.then_some(true),
            ..Default::default()
        });
    }
    spec.sort();
    Mounts { spec, docker }
}

/// The Docker networks of a service.
struct Networks {
    /// Joined at create time (API 1.41 allows one).
    first: String,
    /// Joined afterwards, in the service's order.
    extra: Vec<String>,
    /// All of them, sorted, for the spec.
    sorted: Vec<String>,
}

fn service_networks(t: &Topology, s: &Service) -> Networks {
    let names: Vec<String> = s
        .networks
        .iter()
        .map(|k| t.networks.get(k).map_or_else(|| format!("{}_{k}", t.name), |n| n.name.clone()))
        .collect();
    let first = names.first().cloned().unwrap_or_else(|| format!("{}_default", t.name));
    let extra: Vec<String> = names.iter().skip(1).cloned().collect();
    let mut sorted = names;
    sorted.sort();
    sorted.dedup();
    Networks { first, extra, sorted }
}

/// The health check as Docker takes it: `CMD args...` or `CMD-SHELL command`, durations in nanoseconds.
fn healthcheck(s: &Service, r: &Resolver) -> Result<Option<HealthSpec>, EngineError> {
    let Some(h) = &s.healthcheck else { return Ok(None) };
    let test = match &h.test {
        ProbeTest::Exec(args) => {
            let mut test = vec!["CMD".to_string()];
            test.extend(r.all(args)?);
            test
        }
        ProbeTest::Shell(cmd) => vec!["CMD-SHELL".to_string(), r.one(cmd)?],
    };
    let ns = |d: Option<Dur>| d.map(|d| d.get().as_nanos() as i64);
    Ok(Some(HealthSpec {
        test,
        interval_ns: ns(h.interval),
        timeout_ns: ns(h.timeout),
        retries: h.retries.map(i64::from),
        start_period_ns: ns(h.start_period),
    }))
}

/// The readiness probe run through the exec API: the health check's command, shell ones through `/bin/sh -c`.
fn probe(s: &Service, healthcheck: Option<&HealthSpec>) -> Option<Probe> {
    let (h, hs) = (s.healthcheck.as_ref()?, healthcheck?);
    let cmd = match hs.test.first().map(String::as_str) {
        Some("CMD-SHELL") => vec!["/bin/sh".to_string(), "-c".to_string(), hs.test[1..].join(" ")],
        _ => hs.test[1..].to_vec(),
    };
    Some(Probe { cmd, timeout: h.timeout_or_default() })
}

/// Docker's restart policy (no policy is `no`).
fn restart_policy(r: Option<Restart>) -> RestartPolicy {
    let (name, maximum_retry_count) = match r {
        None | Some(Restart::No) => (RestartPolicyNameEnum::NO, None),
        Some(Restart::Always) => (RestartPolicyNameEnum::ALWAYS, None),
        Some(Restart::UnlessStopped) => (RestartPolicyNameEnum::UNLESS_STOPPED, None),
        Some(Restart::OnFailure(n)) => (RestartPolicyNameEnum::ON_FAILURE, n.map(i64::from)),
    };
    RestartPolicy { name: Some(name), maximum_retry_count }
}

/// The labels that are part of the desired state (and so of the hash). The
/// secret env keys are recorded only when there are some, so that the hash of
/// a container without secrets is what it always was.
fn spec_labels(
    t: &Topology,
    s: &Service,
    env: &BTreeMap<String, String>,
    secret_env: &BTreeSet<String>,
) -> BTreeMap<String, String> {
    let depends_on = s.depends_on.iter().map(|(d, c)| format!("{d}:{}:false", c.as_str())).collect::<Vec<_>>();
    let mut out = BTreeMap::from([
        (labels::PROJECT.to_string(), t.name.clone()),
        (labels::SERVICE.to_string(), s.name.clone()),
        (labels::CONTAINER_NUMBER.to_string(), "1".to_string()),
        (labels::ONEOFF.to_string(), "False".to_string()),
        (labels::DEPENDS_ON.to_string(), depends_on.join(",")),
        (labels::ENV_KEYS.to_string(), env.keys().cloned().collect::<Vec<_>>().join(",")),
    ]);
    if !secret_env.is_empty() {
        let keys = secret_env.iter().cloned().collect::<Vec<_>>().join(",");
        out.insert(labels::SECRET_KEYS.to_string(), keys);
    }
    out
}

/// Every label of the container: the spec's, plus the hash and where it was applied from.
fn container_labels(t: &Topology, spec: &Spec, hash: &str) -> HashMap<String, String> {
    let mut all: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    all.insert(labels::CONFIG_HASH.to_string(), hash.to_string());
    all.insert(labels::WORKING_DIR.to_string(), project_dir(t));
    all.insert(labels::CONFIG_FILES.to_string(), String::new());
    all.insert(labels::VERSION.to_string(), labels::COMPOSE_VERSION.to_string());
    all.insert(labels::MANAGED_BY.to_string(), labels::MANAGER.to_string());
    all
}

/// Resource limits, port bindings, mounts, restart policy and the network joined at create.
fn host_config(
    spec: &Spec,
    bindings: HashMap<String, Option<Vec<PortBinding>>>,
    mounts: Vec<Mount>,
    restart: Option<Restart>,
    network: &str,
) -> HostConfig {
    HostConfig {
        nano_cpus: spec.nano_cpus,
        memory: spec.memory,
        memory_reservation: spec.memory_reservation,
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        restart_policy: Some(restart_policy(restart)),
        mounts: (!mounts.is_empty()).then_some(mounts),
        network_mode: Some(network.to_string()),
        ..Default::default()
    }
}

/// The hash of a spec: sha256 of its JSON (every map in it is ordered).
pub fn spec_hash(spec: &Spec) -> String {
    let json = serde_json::to_vec(spec).unwrap_or_default();
    hex::encode(Sha256::digest(&json))
}

/// Plans the chosen services (in dependency order).
pub fn plan(t: &Topology, env: &Env, chosen: &[String]) -> Result<Vec<PlannedService>, EngineError> {
    let mut out = Vec::new();
    for name in chosen {
        let Some(s) = t.services.get(name) else {
            return Err(EngineError::Input(format!("no service named `{name}` in this topology")));
        };
        out.push(plan_service(t, env, s, t.is_one_shot(name))?);
    }
    Ok(out)
}

/// Networks the chosen services use: (topology key, Docker name, driver).
pub fn networks(t: &Topology, chosen: &[PlannedService]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for p in chosen {
        if let Some(s) = t.services.get(&p.service) {
            for k in &s.networks {
                let (name, driver) = t.networks.get(k).map_or_else(
                    || (format!("{}_{k}", t.name), "bridge".to_string()),
                    |n| (n.name.clone(), n.driver.clone()),
                );
                if !out.iter().any(|(_, n, _)| *n == name) {
                    out.push((k.clone(), name, driver));
                }
            }
        }
    }
    out
}

/// Named volumes the chosen services mount: (topology key, Docker name).
pub fn volumes(t: &Topology, chosen: &[PlannedService]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for p in chosen {
        if let Some(s) = t.services.get(&p.service) {
            for (key, _) in s.named_volumes() {
                let name = t.volumes.get(key).map_or_else(|| format!("{}_{key}", t.name), |v| v.name.clone());
                if !out.iter().any(|(_, n)| *n == name) {
                    out.push((key.to_string(), name));
                }
            }
        }
    }
    out
}
