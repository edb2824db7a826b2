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
use deploy_topology::{Env, MountSource, ProbeTest, Restart, Service, Topology};
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

fn restart_string(r: Option<Restart>) -> String {
    r.map_or_else(|| "no".to_string(), |r| r.to_compose())
}

fn resolve_err(service: &str, e: deploy_topology::Diagnostic) -> EngineError {
    EngineError::Input(format!("service `{service}`: {e}"))
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

/// Plans one service. `must_complete` says whether a dependent waits for it to exit 0.
pub fn plan_service(t: &Topology, env: &Env, s: &Service, must_complete: bool) -> Result<PlannedService, EngineError> {
    let r = |v: &deploy_topology::Value| v.resolve(env).map_err(|e| resolve_err(&s.name, e));
    let image = r(&s.image)?;
    let entrypoint = s.entrypoint.as_ref().map(|a| a.iter().map(r).collect::<Result<Vec<_>, _>>()).transpose()?;
    let command = s.command.as_ref().map(|a| a.iter().map(r).collect::<Result<Vec<_>, _>>()).transpose()?;
    let secret_args = s.command.iter().chain(s.entrypoint.iter()).flatten().any(|v| v.secret);
    let mut env_map = BTreeMap::new();
    let mut secret_env = BTreeSet::new();
    for (k, v) in &s.environment {
        env_map.insert(k.clone(), r(v)?);
        if v.secret {
            secret_env.insert(k.clone());
        }
    }

    // Ports.
    let mut port_map: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    let mut ports = Vec::new();
    for p in &s.ports {
        let key = format!("{}/{}", p.container, p.protocol.as_str());
        let host_ip = p.host_ip.clone().unwrap_or_else(|| "0.0.0.0".to_string());
        let host_port = p.host.map(|h| h.to_string()).unwrap_or_default();
        ports.push(format!("{host_ip}:{host_port}->{key}"));
        port_map
            .entry(key)
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding { host_ip: Some(host_ip), host_port: Some(host_port) });
    }
    ports.sort();
    let mut expose: Vec<String> =
        s.container_ports().iter().map(|(p, proto)| format!("{p}/{}", proto.as_str())).collect();
    expose.sort();
    expose.dedup();

    // Mounts.
    let mut mounts = Vec::new();
    let mut docker_mounts = Vec::new();
    for m in &s.mounts {
        let (typ, source) = match &m.source {
            MountSource::Volume(key) => {
                let name = t.volumes.get(key).map_or_else(|| format!("{}_{key}", t.name), |v| v.name.clone());
                (MountType::VOLUME, name)
            }
            MountSource::Bind(raw) => (MountType::BIND, bind_source(t, raw)),
        };
        let kind = if typ == MountType::VOLUME { "volume" } else { "bind" };
        mounts.push(format!("{kind} {source} -> {}{}", m.target, if m.read_only { ":ro" } else { "" }));
        docker_mounts.push(Mount {
            target: Some(m.target.clone()),
            source: Some(source),
            typ: Some(typ),
            read_only: m.read_only.then_some(true),
            ..Default::default()
        });
    }
    mounts.sort();

    // Networks: Docker names, in the service's order (the first is joined at create).
    let net_names: Vec<String> = s
        .networks
        .iter()
        .map(|k| t.networks.get(k).map_or_else(|| format!("{}_{k}", t.name), |n| n.name.clone()))
        .collect();
    let first_network = net_names.first().cloned().unwrap_or_else(|| format!("{}_default", t.name));
    let extra_networks: Vec<String> = net_names.iter().skip(1).cloned().collect();
    let mut networks = net_names.clone();
    networks.sort();
    networks.dedup();

    // Health.
    let healthcheck = match &s.healthcheck {
        None => None,
        Some(h) => {
            let test = match &h.test {
                ProbeTest::Exec(args) => {
                    let mut v = vec!["CMD".to_string()];
                    for a in args {
                        v.push(r(a)?);
                    }
                    v
                }
                ProbeTest::Shell(cmd) => vec!["CMD-SHELL".to_string(), r(cmd)?],
            };
            let ns = |d: Option<deploy_topology::units::Dur>| d.map(|d| d.get().as_nanos() as i64);
            Some(HealthSpec {
                test,
                interval_ns: ns(h.interval),
                timeout_ns: ns(h.timeout),
                retries: h.retries.map(i64::from),
                start_period_ns: ns(h.start_period),
            })
        }
    };
    let probe = match (&s.healthcheck, &healthcheck) {
        (Some(h), Some(hs)) => {
            let cmd = match hs.test.first().map(String::as_str) {
                Some("CMD-SHELL") => vec!["/bin/sh".to_string(), "-c".to_string(), hs.test[1..].join(" ")],
                _ => hs.test[1..].to_vec(),
            };
            Some(Probe { cmd, timeout: h.timeout_or_default() })
        }
        _ => None,
    };

    // Resources and restart.
    let nano_cpus = s.resources.limits.cpus.map(nano_cpus);
    let memory = s.resources.limits.memory.map(|m| m.bytes() as i64);
    let memory_reservation = s.resources.reservations.memory.map(|m| m.bytes() as i64);
    let restart = restart_string(s.restart);
    let restart_policy = match s.restart {
        None | Some(Restart::No) => RestartPolicy { name: Some(RestartPolicyNameEnum::NO), maximum_retry_count: None },
        Some(Restart::Always) => RestartPolicy { name: Some(RestartPolicyNameEnum::ALWAYS), maximum_retry_count: None },
        Some(Restart::UnlessStopped) => {
            RestartPolicy { name: Some(RestartPolicyNameEnum::UNLESS_STOPPED), maximum_retry_count: None }
        }
        Some(Restart::OnFailure(n)) => {
            RestartPolicy { name: Some(RestartPolicyNameEnum::ON_FAILURE), maximum_retry_count: n.map(i64::from) }
        }
    };

    // Labels.
    let mut spec_labels = BTreeMap::new();
    spec_labels.insert(labels::PROJECT.to_string(), t.name.clone());
    spec_labels.insert(labels::SERVICE.to_string(), s.name.clone());
    spec_labels.insert(labels::CONTAINER_NUMBER.to_string(), "1".to_string());
    spec_labels.insert(labels::ONEOFF.to_string(), "False".to_string());
    spec_labels.insert(
        labels::DEPENDS_ON.to_string(),
        s.depends_on.iter().map(|(d, c)| format!("{d}:{}:false", c.as_str())).collect::<Vec<_>>().join(","),
    );
    spec_labels.insert(labels::ENV_KEYS.to_string(), env_map.keys().cloned().collect::<Vec<_>>().join(","));

    let spec = Spec {
        name: container_name(t, s),
        image,
        entrypoint,
        command,
        env: env_map,
        ports,
        expose,
        mounts,
        networks,
        nano_cpus,
        memory,
        memory_reservation,
        healthcheck,
        restart,
        labels: spec_labels,
    };
    let hash = spec_hash(&spec);
    let mut all_labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    all_labels.insert(labels::CONFIG_HASH.to_string(), hash.clone());
    all_labels.insert(labels::WORKING_DIR.to_string(), project_dir(t));
    all_labels.insert(labels::CONFIG_FILES.to_string(), String::new());
    all_labels.insert(labels::VERSION.to_string(), labels::COMPOSE_VERSION.to_string());
    all_labels.insert(labels::MANAGED_BY.to_string(), "deploy".to_string());

    let host_config = HostConfig {
        nano_cpus,
        memory,
        memory_reservation,
        port_bindings: (!port_map.is_empty()).then_some(port_map),
        restart_policy: Some(restart_policy),
        mounts: (!docker_mounts.is_empty()).then_some(docker_mounts),
        network_mode: Some(first_network.clone()),
        ..Default::default()
    };

    Ok(PlannedService {
        service: s.name.clone(),
        spec,
        secret_env,
        secret_args,
        hash,
        all_labels,
        first_network,
        extra_networks,
        probe,
        must_complete,
        host_config,
    })
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
