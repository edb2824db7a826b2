//! Topology → what should exist on the engine: networks, volumes and one
//! container per service, each container as a bollard create body plus a
//! comparable [`Spec`] (the desired state, normalised) whose hash goes into
//! the `com.docker.compose.config-hash` label.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HealthConfig, HostConfig, Mount, MountType,
    NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use deploy_topology::units::Dur;
use deploy_topology::{Env, MountSource, ProbeTest, PullPolicy, Restart, Service, Topology, Value, is_secret_name};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::EngineError;
use super::files::{self, Injected};
use super::labels;
use super::vocab::{self, VocabSpec};
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
    /// The everyday Compose vocabulary (user, capabilities, DNS, logging...): only what is set.
    #[serde(flatten)]
    pub vocab: VocabSpec,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HealthSpec {
    pub test: Vec<String>,
    pub interval_ns: Option<i64>,
    pub timeout_ns: Option<i64>,
    pub retries: Option<i64>,
    pub start_period_ns: Option<i64>,
    /// Set only when given (API 1.44+ engines take it; older ones ignore it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval_ns: Option<i64>,
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
    /// When the image is pulled (`None`: when missing).
    pub pull_policy: Option<PullPolicy>,
    /// Endpoint settings by Docker network (aliases, fixed addresses).
    pub endpoints: HashMap<String, EndpointSettings>,
    /// Secret and config files copied into the container before it starts.
    pub injected: Vec<Injected>,
    /// What the Engine will not do as the topology says (shown by apply).
    pub warnings: Vec<String>,
}

impl PlannedService {
    /// The create body; `image_id` goes into the `com.docker.compose.image` label.
    pub fn create_body(&self, image_id: Option<&str>) -> ContainerCreateBody {
        let mut lbl = self.all_labels.clone();
        if let Some(id) = image_id {
            lbl.insert(labels::IMAGE.to_string(), id.to_string());
        }
        let mut endpoints = HashMap::new();
        if !self.first_network.is_empty() {
            endpoints.insert(self.first_network.clone(), self.endpoint_for(&self.first_network));
        }
        let mut body = ContainerCreateBody {
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
                start_interval: h.start_interval_ns,
            }),
            labels: Some(lbl),
            host_config: Some(self.host_config.clone()),
            networking_config: (!endpoints.is_empty())
                .then_some(NetworkingConfig { endpoints_config: Some(endpoints) }),
            ..Default::default()
        };
        vocab::config(&self.spec.vocab, &mut body);
        body
    }

    /// The endpoint settings on Docker network `net`: the service name, plus its aliases and addresses there.
    pub fn endpoint_for(&self, net: &str) -> EndpointSettings {
        self.endpoints.get(net).cloned().unwrap_or_else(|| endpoint(&self.service))
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

pub(super) fn bind_source(t: &Topology, raw: &str) -> String {
    let p = Path::new(raw);
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        std::env::var("HOME").map_or_else(|_| p.to_path_buf(), |h| Path::new(&h).join(rest))
    } else {
        t.project_dir.join(p)
    };
    let abs = std::path::absolute(&joined).unwrap_or(joined);
    // The path may not exist yet.
    crate::paths::normalise(&abs).display().to_string()
}

/// Resolves a service's `${VAR}` values from the environment, naming the service in errors.
pub(super) struct Resolver<'a> {
    pub env: &'a Env,
    pub service: &'a str,
}

impl Resolver<'_> {
    pub(super) fn one(&self, v: &Value) -> Result<String, EngineError> {
        v.resolve(self.env).map_err(|e| EngineError::Input(format!("service `{}`: {e}", self.service)))
    }

    fn all(&self, vs: &[Value]) -> Result<Vec<String>, EngineError> {
        vs.iter().map(|v| self.one(v)).collect()
    }
}

/// What a container is given beyond its process: mounts (secrets and configs
/// among them), networks and the vocabulary, with the warnings they raise.
struct Parts {
    ports: Ports,
    mounts: Mounts,
    networks: Networks,
    vocab: VocabSpec,
    endpoints: HashMap<String, EndpointSettings>,
    injected: Vec<Injected>,
    warnings: Vec<String>,
    /// Secret values beyond those of the service's own fields (secrets from the environment).
    secret_values: Vec<String>,
}

fn parts(t: &Topology, s: &Service, r: &Resolver) -> Result<Parts, EngineError> {
    let files = files::plan(t, s, r, r.env)?;
    let ports = ports(s, r)?;
    let mounts = mounts(t, s, r, &files.mounts)?;
    let networks = service_networks(t, s);
    let mut vocab = vocab::plan(t, s, r)?;
    vocab.files = files::digests(&files.injected);
    let endpoints = endpoints(t, s, &mut vocab);
    Ok(Parts {
        ports,
        mounts,
        networks,
        vocab,
        endpoints,
        injected: files.injected,
        warnings: files.warnings,
        secret_values: files.secret_values,
    })
}

/// Plans one service. `must_complete` says whether a dependent waits for it to exit 0.
pub fn plan_service(t: &Topology, env: &Env, s: &Service, must_complete: bool) -> Result<PlannedService, EngineError> {
    let r = Resolver { env, service: &s.name };
    let image = r.one(&s.image)?;
    let entrypoint = s.entrypoint.as_deref().map(|a| r.all(a)).transpose()?;
    let command = s.command.as_deref().map(|a| r.all(a)).transpose()?;
    let secret_args = s.command.iter().chain(s.entrypoint.iter()).flatten().any(|v| v.secret);
    let (env_map, secret_env) = environment(s, &r)?;
    let p = parts(t, s, &r)?;
    let healthcheck = healthcheck(s, &r)?;
    let probe = probe(s, healthcheck.as_ref());
    let secret_probe = probe_values(s).any(|v| v.secret);
    let mut secret_values = secret_values(s, &r, &env_map, &secret_env)?;
    secret_values.extend(p.secret_values);
    let mut labels = spec_labels(t, s, &env_map, &secret_env);
    for (k, v) in &s.labels {
        labels.insert(k.clone(), r.one(v)?);
    }
    let spec = Spec {
        name: container_name(t, s),
        image,
        entrypoint,
        command,
        labels,
        env: env_map,
        ports: p.ports.published,
        expose: p.ports.expose,
        mounts: p.mounts.spec,
        networks: p.networks.sorted,
        nano_cpus: s.resources.limits.cpus.map(nano_cpus),
        memory: s.resources.limits.memory.map(|m| m.bytes() as i64),
        memory_reservation: s.resources.reservations.memory.map(|m| m.bytes() as i64),
        healthcheck,
        restart: s.restart.map_or_else(|| "no".to_string(), |r| r.to_compose()),
        vocab: p.vocab,
    };
    let hash = spec_hash(&spec);
    let all_labels = container_labels(t, &spec, &hash);
    let mut host_config = host_config(&spec, p.ports.bindings, p.mounts.docker, s.restart, &p.networks.first);
    if !p.mounts.binds.is_empty() {
        host_config.binds = Some(p.mounts.binds);
    }
    vocab::host_config(&spec.vocab, s, &mut host_config);
    Ok(PlannedService {
        service: s.name.clone(),
        spec,
        secret_env,
        secret_args,
        secret_probe,
        secret_values,
        hash,
        all_labels,
        first_network: p.networks.first,
        extra_networks: p.networks.extra,
        probe,
        must_complete,
        host_config,
        pull_policy: s.pull_policy,
        endpoints: p.endpoints,
        injected: p.injected,
        warnings: p.warnings,
    })
}

/// The values of a service's health check.
fn probe_values(s: &Service) -> impl Iterator<Item = &Value> {
    s.healthcheck.iter().flat_map(|h| match &h.test {
        ProbeTest::Exec(args) => args.iter().collect::<Vec<_>>(),
        ProbeTest::Shell(cmd) => vec![cmd],
    })
}

/// The resolved secret values of the service (environment, env files,
/// arguments, probe, labels and every other field), and the values of the
/// secret environment keys (those passed from the shell among them).
fn secret_values(
    s: &Service,
    r: &Resolver,
    env: &BTreeMap<String, String>,
    secret_env: &BTreeSet<String>,
) -> Result<Vec<String>, EngineError> {
    let mut out: Vec<String> =
        s.values().into_iter().filter(|v| v.secret).map(|v| r.one(v)).collect::<Result<_, _>>()?;
    out.extend(secret_env.iter().filter_map(|k| env.get(k)).filter(|v| !out.contains(v)).cloned().collect::<Vec<_>>());
    Ok(out)
}

/// The environment, resolved, and which of its keys hold secrets: the
/// `env_file`s, then `environment` (which wins), then the names written
/// without a value, passed from the environment deploy runs in when set there
/// (as Compose passes them from its shell).
fn environment(s: &Service, r: &Resolver) -> Result<(BTreeMap<String, String>, BTreeSet<String>), EngineError> {
    let mut env_map = BTreeMap::new();
    let mut secret_env = BTreeSet::new();
    for (k, v) in s.environment_with_files() {
        env_map.insert(k.to_string(), r.one(v)?);
        if v.secret {
            secret_env.insert(k.to_string());
        }
    }
    for name in &s.environment_from_shell {
        if let Some(v) = r.env.get(name) {
            env_map.insert(name.clone(), v);
            if is_secret_name(name) {
                secret_env.insert(name.clone());
            }
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

/// A `${VAR}` in a port or a mount, resolved.
fn resolve_in<T>(r: &Resolver, what: Result<T, deploy_topology::Diagnostic>) -> Result<T, EngineError> {
    what.map_err(|e| EngineError::Input(format!("service `{}`: {e}", r.service)))
}

fn ports(s: &Service, r: &Resolver) -> Result<Ports, EngineError> {
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut published = Vec::new();
    let resolved = s.ports.iter().map(|p| resolve_in(r, p.resolve(r.env))).collect::<Result<Vec<_>, _>>()?;
    for p in &resolved {
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
    let exposed = s.expose.iter().map(|p| format!("{p}/tcp"));
    let mut expose: Vec<String> =
        exposed.chain(resolved.iter().map(|p| format!("{}/{}", p.container, p.protocol.as_str()))).collect();
    expose.sort();
    expose.dedup();
    Ok(Ports { published, expose, bindings })
}

/// Mounts as the spec lists them and as Docker mounts them.
struct Mounts {
    /// [`describe_mount`] of each, sorted.
    spec: Vec<String>,
    docker: Vec<Mount>,
    /// Binds with an SELinux relabel (`z`, `Z`), which only the `Binds` form takes.
    binds: Vec<String>,
}

/// A mount as the spec lists it: `KIND SOURCE -> TARGET[:ro]`, then its
/// options when it has some (`propagation=`, `nocopy`, `subpath=`, `size=`,
/// `mode=`, `consistency=`). Read back from `docker inspect` the same way.
pub(super) fn describe_mount(m: &Mount) -> String {
    let kind = match m.typ {
        Some(MountType::VOLUME) => "volume",
        Some(MountType::TMPFS) => "tmpfs",
        Some(MountType::BIND) => "bind",
        _ => "other",
    };
    let ro = if m.read_only == Some(true) { ":ro" } else { "" };
    let mut opts: Vec<String> = Vec::new();
    if let Some(p) = m.bind_options.as_ref().and_then(|b| b.propagation) {
        opts.push(format!("propagation={p}"));
    }
    if let Some(v) = &m.volume_options {
        if v.no_copy == Some(true) {
            opts.push("nocopy".into());
        }
        opts.extend(v.subpath.iter().map(|p| format!("subpath={p}")));
    }
    if let Some(t) = &m.tmpfs_options {
        opts.extend(t.size_bytes.map(|n| format!("size={n}")));
        opts.extend(t.mode.map(|n| format!("mode={n:o}")));
    }
    opts.extend(m.consistency.iter().filter(|c| !c.is_empty()).map(|c| format!("consistency={c}")));
    let (source, target) = (m.source.as_deref().unwrap_or_default(), m.target.as_deref().unwrap_or_default());
    let opts = if opts.is_empty() { String::new() } else { format!(" {}", opts.join(",")) };
    format!("{kind} {source} -> {target}{ro}{opts}")
}

/// A bind with an SELinux relabel as the spec lists it (and `docker inspect` reads it back from `Binds`).
pub(super) fn describe_bind(source: &str, target: &str, read_only: bool, selinux: &str) -> String {
    format!("bind {source} -> {target}{} selinux={selinux}", if read_only { ":ro" } else { "" })
}

/// The long form's options of a mount, as Docker takes them.
fn mount_options(m: &deploy_topology::Mount, docker: &mut Mount) {
    use bollard::models::{MountBindOptions, MountTmpfsOptions, MountVolumeOptions};
    if let Some(p) = m.bind.as_ref().and_then(|b| b.propagation.as_deref()) {
        let propagation = p.parse().ok();
        docker.bind_options = Some(MountBindOptions { propagation, ..Default::default() });
    }
    if let Some(v) = m.volume.as_ref().filter(|v| v.nocopy || v.subpath.is_some()) {
        let no_copy = v.nocopy.then_some(true);
        docker.volume_options = Some(MountVolumeOptions { no_copy, subpath: v.subpath.clone(), ..Default::default() });
    }
    if let Some(t) = m.tmpfs.as_ref().filter(|t| t.size.is_some() || t.mode.is_some()) {
        let size_bytes = t.size.map(|b| i64::try_from(b.bytes()).unwrap_or(i64::MAX));
        let mode = t.mode.map(i64::from);
        docker.tmpfs_options = Some(MountTmpfsOptions { size_bytes, mode, ..Default::default() });
    }
    docker.consistency.clone_from(&m.consistency);
}

fn mounts(t: &Topology, s: &Service, r: &Resolver, files: &[(String, Mount)]) -> Result<Mounts, EngineError> {
    let mut out = Mounts { spec: Vec::new(), docker: Vec::new(), binds: Vec::new() };
    for m in &s.mounts {
        let m = resolve_in(r, m.resolve(r.env))?;
        let (typ, source) = match &m.source {
            MountSource::Volume(key) => {
                let name = t.volumes.get(key).map_or_else(|| format!("{}_{key}", t.name), |v| v.name.clone());
                (MountType::VOLUME, name)
            }
            MountSource::Bind(raw) => (MountType::BIND, bind_source(t, raw)),
            MountSource::Anonymous => (MountType::VOLUME, String::new()),
            MountSource::Tmpfs => (MountType::TMPFS, String::new()),
        };
        if let Some(z) = m.bind.as_ref().and_then(|b| b.selinux.as_deref()).filter(|_| typ == MountType::BIND) {
            let ro = if m.read_only { ",ro" } else { "" };
            out.binds.push(format!("{source}:{}:{z}{ro}", m.target));
            out.spec.push(describe_bind(&source, &m.target, m.read_only, z));
            continue;
        }
        let mut docker = Mount {
            target: Some(m.target.clone()),
            source: (!source.is_empty()).then_some(source),
            typ: Some(typ),
            read_only: m.read_only.then_some(true),
            ..Default::default()
        };
        mount_options(&m, &mut docker);
        out.spec.push(describe_mount(&docker));
        out.docker.push(docker);
    }
    for (_, m) in files {
        out.spec.push(describe_mount(m));
        out.docker.push(m.clone());
    }
    out.spec.sort();
    Ok(out)
}

/// The Docker networks of a service.
struct Networks {
    /// Joined at create time (API 1.41 allows one); empty with a `network_mode`.
    first: String,
    /// Joined afterwards, in the service's order (highest `priority` first).
    extra: Vec<String>,
    /// All of them, sorted, for the spec.
    sorted: Vec<String>,
}

/// The Docker name of the network `key`.
fn network_name(t: &Topology, key: &str) -> String {
    t.networks.get(key).map_or_else(|| format!("{}_{key}", t.name), |n| n.name.clone())
}

fn service_networks(t: &Topology, s: &Service) -> Networks {
    if s.network_mode.is_some() {
        return Networks { first: String::new(), extra: Vec::new(), sorted: Vec::new() };
    }
    let mut keys: Vec<&String> = s.networks.iter().collect();
    // Connected in priority order, highest first (as Compose); the order written otherwise.
    keys.sort_by_key(|k| std::cmp::Reverse(s.network_settings.get(*k).and_then(|n| n.priority).unwrap_or(0)));
    let names: Vec<String> = keys.iter().map(|k| network_name(t, k)).collect();
    let first = names.first().cloned().unwrap_or_else(|| format!("{}_default", t.name));
    let extra: Vec<String> = names.iter().skip(1).cloned().collect();
    let mut sorted = names;
    sorted.sort();
    sorted.dedup();
    Networks { first, extra, sorted }
}

/// Endpoint settings for the networks where the service has aliases or fixed
/// addresses (recorded in the spec too); elsewhere [`endpoint`].
fn endpoints(t: &Topology, s: &Service, vocab: &mut VocabSpec) -> HashMap<String, EndpointSettings> {
    let mut out = HashMap::new();
    let set = |n: &&deploy_topology::ServiceNetwork| {
        !n.aliases.is_empty() || n.ipv4_address.is_some() || n.ipv6_address.is_some()
    };
    for (key, n) in s.network_settings.iter().filter(|(_, n)| set(n)) {
        let name = network_name(t, key);
        let mut e = endpoint(&s.name);
        if !n.aliases.is_empty() {
            e.aliases.get_or_insert_with(Vec::new).extend(n.aliases.iter().cloned());
            vocab.aliases.insert(name.clone(), n.aliases.clone());
        }
        if n.ipv4_address.is_some() || n.ipv6_address.is_some() {
            e.ipam_config = Some(EndpointIpamConfig {
                ipv4_address: n.ipv4_address.clone(),
                ipv6_address: n.ipv6_address.clone(),
                ..Default::default()
            });
            vocab.addresses.insert(name.clone(), n.ipv4_address.iter().chain(&n.ipv6_address).cloned().collect());
        }
        out.insert(name, e);
    }
    out
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
        start_interval_ns: ns(h.start_interval),
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
