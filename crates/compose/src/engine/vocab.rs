//! The everyday Compose vocabulary on a Docker Engine, set as `docker compose
//! up` sets it: `user`, `working_dir`, `hostname`, `stop_signal` and
//! `stop_grace_period` (`StopTimeout`, whole seconds) in the container's
//! config; capabilities, `read_only`, `privileged`, `init`, `sysctls`,
//! `shm_size`, `tmpfs`, `ulimits`, `extra_hosts`, DNS, `devices`, `logging`,
//! `network_mode` and `runtime` in its host config; `platform` as the create
//! request's platform. Each is part of the [`VocabSpec`] (and so of the config
//! hash: a change recreates the container), left out of it when unset so that
//! the hash of a container that uses none of them is what it always was.
//!
//! [`differences`] reads them back from `docker inspect`: a field the
//! topology leaves unset is compared with the image's value (user, working
//! directory, stop signal) or Docker's default, so that removing it from the
//! topology shows in `deploy diff`.

use std::collections::{BTreeMap, HashMap};

use bollard::models::{
    ContainerConfig, ContainerCreateBody, DeviceMapping, DeviceRequest, HealthConfig, HostConfig, HostConfigLogConfig,
    ImageConfig, ResourcesUlimits,
};
use deploy_topology::{Device, Service, Topology, Value};
use indexmap::IndexMap;
use serde::Serialize;

use super::EngineError;
use super::plan::{Resolver, container_name};
use crate::model::is_false;
use crate::units::size_from_bytes;

/// Docker's `/dev/shm` size when none is given (64 MiB).
const DEFAULT_SHM: i64 = 64 * 1024 * 1024;

/// The vocabulary part of a container's desired state, as the Engine takes it.
/// Every field is skipped from the hash when unset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VocabSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<i64>,
    /// Path → mount options (`size=64m,mode=1777`, or empty).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tmpfs: BTreeMap<String, String>,
    /// Name → [soft, hard].
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, [i64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds (`stop_grace_period`, truncated to whole seconds as Compose does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `HOST:IP`, as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    /// `HOST:CONTAINER:PERMISSIONS`, or `cdi:NAME` for a CDI device.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub log_options: BTreeMap<String, String>,
    /// As the Engine takes it: `service:NAME` becomes `container:<NAME's container>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// As the Engine takes them: a `seccomp:` profile file becomes `seccomp=<its JSON>`, as Compose sends it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    /// `security_opt: [systempaths=unconfined]`: no masked or read-only paths in /proc and /sys.
    #[serde(skip_serializing_if = "is_false")]
    pub unmasked_paths: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub tty: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub stdin_open: bool,
    /// The image's own healthcheck is turned off (`Test: ["NONE"]`).
    #[serde(skip_serializing_if = "is_false")]
    pub no_healthcheck: bool,
    /// Docker network → the aliases the service adds there (besides its name).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Docker network → fixed addresses (`ipv4_address`, `ipv6_address`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub addresses: BTreeMap<String, Vec<String>>,
    /// Secret and config files copied into the container (content or environment
    /// sources): target → digest of content, owner and mode.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

fn resolved_map(m: &IndexMap<String, Value>, r: &Resolver) -> Result<BTreeMap<String, String>, EngineError> {
    m.iter().map(|(k, v)| Ok((k.clone(), r.one(v)?))).collect()
}

/// A device as the spec lists it.
fn device(d: &Device) -> String {
    if is_cdi(d) {
        return format!("cdi:{}", d.source);
    }
    format!("{}:{}:{}", d.source, d.target, d.permissions.as_deref().unwrap_or("rwm"))
}

/// A CDI device name (`vendor.com/class=name`), not a host path.
fn is_cdi(d: &Device) -> bool {
    !d.source.starts_with('/') && d.source.contains('=')
}

/// The vocabulary of one service, resolved (networks and files are added by the plan).
pub(super) fn plan(t: &Topology, s: &Service, r: &Resolver) -> Result<VocabSpec, EngineError> {
    let one = |v: &Option<Value>| v.as_ref().map(|v| r.one(v)).transpose();
    let logging = s.logging.as_ref();
    let log_options = match logging {
        Some(l) => resolved_map(&l.options, r)?,
        None => BTreeMap::new(),
    };
    Ok(VocabSpec {
        user: one(&s.user)?,
        working_dir: one(&s.working_dir)?,
        hostname: one(&s.hostname)?,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        read_only: s.read_only,
        privileged: s.privileged,
        init: s.init,
        sysctls: resolved_map(&s.sysctls, r)?,
        shm_size: s.shm_size.map(|b| i64::try_from(b.bytes()).unwrap_or(i64::MAX)),
        tmpfs: s.tmpfs.iter().map(|t| (t.target.clone(), t.options.join(","))).collect(),
        ulimits: s.ulimits.iter().map(|(k, u)| (k.clone(), [u.soft(), u.hard()])).collect(),
        stop_signal: s.stop_signal.clone(),
        stop_timeout: s.stop_grace_period.map(|d| i64::try_from(d.get().as_secs()).unwrap_or(i64::MAX)),
        extra_hosts: s.extra_hosts.iter().map(|h| format!("{}:{}", h.host, h.ip)).collect(),
        dns: s.dns.clone(),
        dns_search: s.dns_search.clone(),
        dns_opt: s.dns_opt.clone(),
        devices: s.devices.iter().map(device).collect(),
        log_driver: logging.and_then(|l| l.driver.clone()),
        log_options,
        network_mode: s.network_mode.as_deref().map(|m| network_mode(t, m)),
        runtime: s.runtime.clone(),
        platform: one(&s.platform)?,
        security_opt: security_opt(t, s)?,
        unmasked_paths: s.security_opt.iter().any(|o| o == "systempaths=unconfined"),
        tty: s.tty,
        stdin_open: s.stdin_open,
        no_healthcheck: s.healthcheck_disabled.is_some() && s.healthcheck.is_none(),
        ..Default::default()
    })
}

/// `security_opt` as Compose sends it to the Engine: `systempaths=unconfined` becomes empty
/// masked and read-only path lists, `seccomp:FILE` (or `=FILE`) the profile itself, compacted
/// JSON read relative to the project directory; the others as written.
fn security_opt(t: &Topology, s: &Service) -> Result<Vec<String>, EngineError> {
    let mut out = Vec::new();
    for opt in s.security_opt.iter().filter(|o| *o != "systempaths=unconfined") {
        let profile = opt.strip_prefix("seccomp:").or_else(|| opt.strip_prefix("seccomp="));
        match profile {
            Some(p) if p != "unconfined" && p != "builtin" => {
                let path = t.project_dir.join(p);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    EngineError::Input(format!(
                        "service `{}`: cannot read the seccomp profile `{}`: {e}",
                        s.name,
                        path.display()
                    ))
                })?;
                let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                    EngineError::Input(format!(
                        "service `{}`: the seccomp profile `{}` is not JSON: {e}",
                        s.name,
                        path.display()
                    ))
                })?;
                out.push(format!("seccomp={json}"));
            }
            _ => out.push(opt.clone()),
        }
    }
    Ok(out)
}

/// `network_mode` as the Engine takes it: another service's network stack is
/// that of its container.
fn network_mode(t: &Topology, mode: &str) -> String {
    match mode.strip_prefix("service:") {
        Some(name) => match t.services.get(name) {
            Some(other) => format!("container:{}", container_name(t, other)),
            None => format!("container:{}-{name}-1", t.name),
        },
        None => mode.to_string(),
    }
}

/// The vocabulary's fields of the container's config.
pub(super) fn config(v: &VocabSpec, body: &mut ContainerCreateBody) {
    body.user.clone_from(&v.user);
    body.working_dir.clone_from(&v.working_dir);
    body.hostname.clone_from(&v.hostname);
    body.stop_signal.clone_from(&v.stop_signal);
    body.stop_timeout = v.stop_timeout;
    body.tty = v.tty.then_some(true);
    body.open_stdin = v.stdin_open.then_some(true);
    if v.no_healthcheck && body.healthcheck.is_none() {
        body.healthcheck = Some(HealthConfig { test: Some(vec!["NONE".to_string()]), ..Default::default() });
    }
}

fn some_list(l: &[String]) -> Option<Vec<String>> {
    (!l.is_empty()).then(|| l.to_vec())
}

fn some_map(m: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then(|| m.clone().into_iter().collect())
}

/// The vocabulary's fields of the container's host config.
pub(super) fn host_config(v: &VocabSpec, s: &Service, hc: &mut HostConfig) {
    hc.cap_add = some_list(&v.cap_add);
    hc.cap_drop = some_list(&v.cap_drop);
    hc.readonly_rootfs = v.read_only.then_some(true);
    hc.privileged = v.privileged.then_some(true);
    hc.init = v.init;
    hc.sysctls = some_map(&v.sysctls);
    hc.shm_size = v.shm_size;
    hc.tmpfs = some_map(&v.tmpfs);
    hc.ulimits = (!v.ulimits.is_empty()).then(|| {
        let limit = |(name, [soft, hard]): (&String, &[i64; 2])| ResourcesUlimits {
            name: Some(name.clone()),
            soft: Some(*soft),
            hard: Some(*hard),
        };
        v.ulimits.iter().map(limit).collect()
    });
    hc.extra_hosts = some_list(&v.extra_hosts);
    hc.dns = some_list(&v.dns);
    hc.dns_search = some_list(&v.dns_search);
    hc.dns_options = some_list(&v.dns_opt);
    let (cdi, host): (Vec<&Device>, Vec<&Device>) = s.devices.iter().partition(|d| is_cdi(d));
    hc.devices = (!host.is_empty()).then(|| {
        let mapping = |d: &&Device| DeviceMapping {
            path_on_host: Some(d.source.clone()),
            path_in_container: Some(d.target.clone()),
            cgroup_permissions: Some(d.permissions.clone().unwrap_or_else(|| "rwm".to_string())),
        };
        host.iter().map(mapping).collect()
    });
    hc.device_requests = (!cdi.is_empty()).then(|| {
        let ids = cdi.iter().map(|d| d.source.clone()).collect();
        vec![DeviceRequest { driver: Some("cdi".into()), device_ids: Some(ids), ..Default::default() }]
    });
    if v.log_driver.is_some() || !v.log_options.is_empty() {
        hc.log_config = Some(HostConfigLogConfig {
            typ: v.log_driver.clone(),
            config: Some(v.log_options.clone().into_iter().collect()),
        });
    }
    hc.runtime.clone_from(&v.runtime);
    hc.security_opt = some_list(&v.security_opt);
    if v.unmasked_paths {
        (hc.masked_paths, hc.readonly_paths) = (Some(Vec::new()), Some(Vec::new()));
    }
    if let Some(m) = &v.network_mode {
        hc.network_mode = Some(m.clone());
    }
}

fn non_empty(v: &Option<String>) -> Option<String> {
    v.clone().filter(|s| !s.is_empty())
}

/// What a live container has of the vocabulary (networks and files aside: the plan compares those).
pub(super) fn live(cfg: &ContainerConfig, hc: &HostConfig) -> VocabSpec {
    let list = |v: &Option<Vec<String>>| v.clone().unwrap_or_default();
    let map = |v: &Option<HashMap<String, String>>| v.clone().unwrap_or_default().into_iter().collect();
    let devices = hc.devices.iter().flatten().map(|d| {
        let part = |v: &Option<String>| v.clone().unwrap_or_default();
        format!("{}:{}:{}", part(&d.path_on_host), part(&d.path_in_container), part(&d.cgroup_permissions))
    });
    let cdi = hc.device_requests.iter().flatten().filter(|r| r.driver.as_deref() == Some("cdi"));
    let cdi = cdi.flat_map(|r| r.device_ids.clone().unwrap_or_default()).map(|id| format!("cdi:{id}"));
    let log = hc.log_config.clone().unwrap_or_default();
    VocabSpec {
        user: non_empty(&cfg.user),
        working_dir: non_empty(&cfg.working_dir),
        hostname: non_empty(&cfg.hostname),
        cap_add: list(&hc.cap_add),
        cap_drop: list(&hc.cap_drop),
        read_only: hc.readonly_rootfs == Some(true),
        privileged: hc.privileged == Some(true),
        init: hc.init,
        sysctls: map(&hc.sysctls),
        shm_size: hc.shm_size.filter(|n| *n != 0),
        tmpfs: map(&hc.tmpfs),
        ulimits: hc
            .ulimits
            .iter()
            .flatten()
            .map(|u| (u.name.clone().unwrap_or_default(), [u.soft.unwrap_or(0), u.hard.unwrap_or(0)]))
            .collect(),
        stop_signal: non_empty(&cfg.stop_signal),
        stop_timeout: cfg.stop_timeout,
        extra_hosts: list(&hc.extra_hosts),
        dns: list(&hc.dns),
        dns_search: list(&hc.dns_search),
        dns_opt: list(&hc.dns_options),
        devices: devices.chain(cdi).collect(),
        log_driver: non_empty(&log.typ),
        log_options: map(&log.config),
        network_mode: non_empty(&hc.network_mode),
        runtime: non_empty(&hc.runtime),
        security_opt: list(&hc.security_opt),
        unmasked_paths: hc.masked_paths.as_ref().is_some_and(Vec::is_empty),
        tty: cfg.tty == Some(true),
        stdin_open: cfg.open_stdin == Some(true),
        ..Default::default()
    }
}

/// A capability as the kernel names it, without the `CAP_` prefix Docker accepts either way.
fn capabilities(caps: &[String]) -> Option<String> {
    let mut c: Vec<String> = caps
        .iter()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| c.strip_prefix("CAP_").map_or(c.clone(), String::from))
        .collect();
    c.sort();
    c.dedup();
    (!c.is_empty()).then(|| c.join(", "))
}

fn joined(v: &[String]) -> Option<String> {
    (!v.is_empty()).then(|| v.join(", "))
}

fn pairs<V>(m: &BTreeMap<String, V>, f: impl Fn(&V) -> String) -> Option<String> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| format!("{k}={}", f(v))).collect::<Vec<_>>().join(", "))
}

fn flag(b: bool) -> Option<String> {
    b.then(|| "true".to_string())
}

/// One difference: (field path, live, planned).
pub(super) type Difference = (&'static str, Option<String>, Option<String>);

/// The vocabulary's differences between a plan and a live container, in the
/// topology's terms. `image` stands in for the user, working directory and
/// stop signal the plan leaves unset.
pub(super) fn differences(plan: &VocabSpec, live: &VocabSpec, image: &ImageConfig) -> Vec<Difference> {
    let inherit = |p: &Option<String>, i: &Option<String>| p.clone().or_else(|| non_empty(i));
    let mut out: Vec<Difference> = vec![
        ("user", live.user.clone(), inherit(&plan.user, &image.user)),
        ("working_dir", live.working_dir.clone(), inherit(&plan.working_dir, &image.working_dir)),
        ("cap_add", capabilities(&live.cap_add), capabilities(&plan.cap_add)),
        ("cap_drop", capabilities(&live.cap_drop), capabilities(&plan.cap_drop)),
        ("read_only", flag(live.read_only), flag(plan.read_only)),
        ("privileged", flag(live.privileged), flag(plan.privileged)),
        ("init", flag(live.init == Some(true)), flag(plan.init == Some(true))),
        ("sysctls", pairs(&live.sysctls, String::clone), pairs(&plan.sysctls, String::clone)),
        ("tmpfs", pairs(&live.tmpfs, String::clone), pairs(&plan.tmpfs, String::clone)),
        (
            "ulimits",
            pairs(&live.ulimits, |[s, h]| format!("{s}:{h}")),
            pairs(&plan.ulimits, |[s, h]| format!("{s}:{h}")),
        ),
        ("stop_signal", live.stop_signal.clone(), inherit(&plan.stop_signal, &image.stop_signal)),
        ("stop_grace_period", live.stop_timeout.map(|n| format!("{n}s")), plan.stop_timeout.map(|n| format!("{n}s"))),
        ("extra_hosts", joined(&live.extra_hosts), joined(&plan.extra_hosts)),
        ("dns", joined(&live.dns), joined(&plan.dns)),
        ("dns_search", joined(&live.dns_search), joined(&plan.dns_search)),
        ("dns_opt", joined(&live.dns_opt), joined(&plan.dns_opt)),
        ("devices", joined(&live.devices), joined(&plan.devices)),
        ("security_opt", joined(&live.security_opt), joined(&plan.security_opt)),
        ("tty", flag(live.tty), flag(plan.tty)),
        ("stdin_open", flag(live.stdin_open), flag(plan.stdin_open)),
    ];
    if plan.unmasked_paths {
        out.push((
            "security_opt.systempaths",
            flag(live.unmasked_paths).map(|_| "unconfined".into()),
            Some("unconfined".into()),
        ));
    }
    // Docker fills these in when unset: compared when the plan sets them, or when the live one is not the default.
    let shm = live.shm_size.filter(|n| plan.shm_size.is_some() || *n != DEFAULT_SHM);
    out.push(("shm_size", shm.map(size_from_bytes), plan.shm_size.map(size_from_bytes)));
    if plan.hostname.is_some() {
        out.push(("hostname", live.hostname.clone(), plan.hostname.clone()));
    }
    let runtime = live.runtime.clone().filter(|r| plan.runtime.is_some() || r != "runc");
    out.push(("runtime", runtime, plan.runtime.clone()));
    if plan.network_mode.is_some() {
        out.push(("network_mode", live.network_mode.clone(), plan.network_mode.clone()));
    }
    // The log driver and its options: the daemon's default when the plan sets none.
    if plan.log_driver.is_some() {
        out.push(("logging.driver", live.log_driver.clone(), plan.log_driver.clone()));
    }
    if plan.log_driver.is_some() || !plan.log_options.is_empty() {
        out.push(("logging.options", pairs(&live.log_options, String::clone), pairs(&plan.log_options, String::clone)));
    }
    out.retain(|(_, l, p)| l != p);
    out
}

#[cfg(test)]
mod tests;
