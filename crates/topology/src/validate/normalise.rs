//! Pass 1: names and defaults filled in (project name, secret variables, volume and network names). Reports nothing.

use std::sync::Arc;

use indexmap::IndexMap;

use super::is_dns1123;
use crate::diag::SourceFile;
use crate::model::*;
use crate::raw::{self, Located, RawTopology, StringOrList};
use crate::{interp, is_secret_name};

/// `name:`, else the topology file's stem as a DNS name (`My_App.v2.yaml` → `my-app-v2`), else `deploy`.
pub(super) fn project_name(name: Option<&Located<String>>, base: &Arc<SourceFile>) -> String {
    match name {
        Some(n) => n.value.clone(),
        None => folder_name(&base.path),
    }
}

/// As Compose: the name of the folder that holds the topology file,
/// lowercased, with `_`, `.` and spaces as `-` and other characters dropped;
/// `deploy` when nothing valid remains. Two projects in two folders never
/// share a name by accident (the file is usually `deploy.yaml` in both).
fn folder_name(path: &std::path::Path) -> String {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).map(std::path::Path::to_path_buf);
    let dir = dir.or_else(|| std::env::current_dir().ok()).map(|d| std::fs::canonicalize(&d).unwrap_or(d));
    let base = dir.as_deref().and_then(|d| d.file_name()).map(|s| s.to_string_lossy().to_ascii_lowercase());
    let cleaned: String = base
        .unwrap_or_default()
        .replace(['_', '.', ' '], "-")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let cleaned = cleaned.trim_matches('-').to_string();
    if is_dns1123(&cleaned) { cleaned } else { "deploy".to_string() }
}

/// The declared variables, and the names of every secret variable: declared
/// `secret` (or, undeclared or not, with a secret-looking name).
pub(super) fn variables(raw: &RawTopology) -> (IndexMap<String, Variable>, Vec<String>) {
    let mut variables = IndexMap::new();
    let mut secret_vars = Vec::new();
    for (k, v) in &raw.variables {
        let secret = v.secret.unwrap_or_else(|| is_secret_name(&k.value));
        if secret {
            secret_vars.push(k.value.clone());
        }
        variables.insert(k.value.clone(), Variable { secret, description: v.description.clone() });
    }
    // Undeclared variables with secret-looking names are secret too.
    let mut mentioned: Vec<String> = Vec::new();
    for s in raw.services.values() {
        collect_vars(s, &mut mentioned);
    }
    mentioned.extend(raw.configs.values().filter_map(|c| c.content.as_ref()).flat_map(|c| interp::variables(&c.value)));
    for v in mentioned {
        if !variables.contains_key(&v) && is_secret_name(&v) {
            secret_vars.push(v);
        }
    }
    (variables, secret_vars)
}

/// The variables a service's image, environment, command and entrypoint mention, each once.
fn collect_vars(s: &raw::RawService, out: &mut Vec<String>) {
    let mut add = |t: &str| {
        for v in interp::variables(t) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
    };
    if let Some(i) = &s.image {
        add(&i.value);
    }
    match &s.environment {
        Some(raw::RawEnv::Map(m)) => {
            for v in m.values() {
                if let Some(
                    raw::RawEnvValue::Scalar(raw::Scalar::String(t))
                    | raw::RawEnvValue::Detailed(raw::RawEnvDetailed { value: raw::Scalar::String(t), .. }),
                ) = &v.value
                {
                    add(t);
                }
            }
        }
        // `KEY=VALUE` items, as `RawEnv::into_map` reads them
        Some(raw::RawEnv::List(l)) => l.iter().for_each(|item| add(item.value.split_once('=').map_or("", |(_, v)| v))),
        None => {}
    }
    if let Some(args) = s.build.as_ref().and_then(|b| b.args.clone()) {
        args.into_map().values().filter_map(|v| v.value.clone()).for_each(|v| add(&v.into_string()));
    }
    for c in [&s.command, &s.entrypoint].into_iter().flatten() {
        match &c.value {
            StringOrList::String(t) => add(t),
            StringOrList::List(l) => l.iter().for_each(|t| add(t)),
        }
    }
    for t in [&s.user, &s.working_dir, &s.hostname, &s.platform].into_iter().flatten() {
        add(&t.value);
    }
    for m in [&s.labels, &s.sysctls].into_iter().flatten() {
        m.clone().into_map().values().filter_map(|v| v.value.clone()).for_each(|v| add(&v.into_string()));
    }
    let options = s.logging.iter().flat_map(|l| l.options.iter().flatten());
    options.filter_map(|(_, v)| v.value.clone()).for_each(|v| add(&v.into_string()));
    for p in s.ports.iter().flatten() {
        match &p.value {
            raw::RawPort::Short(t) => add(t),
            raw::RawPort::Long(l) => l.published.iter().for_each(|x| add(&x.clone().into_string())),
            raw::RawPort::Number(_) => {}
        }
    }
    for m in s.volumes.iter().flatten() {
        match &m.value {
            raw::RawMount::Short(t) => add(t),
            raw::RawMount::Long(l) => l.source.iter().for_each(|x| add(x)),
        }
    }
}

/// Volumes with their Docker names (`PROJECT_KEY` unless `name:` is given) and default size.
pub(super) fn volumes(raw: &RawTopology, project: &str) -> IndexMap<String, Volume> {
    let mut volumes = IndexMap::new();
    for (k, v) in &raw.volumes {
        let v = v.clone().unwrap_or_default();
        let explicit_name = v.name.is_some();
        let external = v.external.as_ref().is_some_and(|e| e.value);
        let default_name = if external { k.value.clone() } else { format!("{project}_{}", k.value) };
        let docker_name = v.name.map_or(default_name, |n| n.value);
        volumes.insert(
            k.value.clone(),
            Volume {
                key: k.value.clone(),
                name: docker_name,
                explicit_name,
                size: v.size.map_or(DEFAULT_VOLUME_SIZE, |s| s.value),
                storage_class: v.storage_class.map(|s| s.value),
                external,
                driver: v.driver.map(|d| d.value),
                driver_opts: text_map(v.driver_opts),
                labels: label_map(v.labels),
            },
        );
    }
    volumes
}

/// Networks with their Docker names and drivers, and `default` when a service
/// names no network and `default` is not declared.
pub(super) fn networks(raw: &RawTopology, project: &str) -> IndexMap<String, Network> {
    let mut networks = IndexMap::new();
    for (k, n) in &raw.networks {
        let n = n.clone().unwrap_or_default();
        networks.insert(k.value.clone(), network(&k.value, n, project));
    }
    let joins_none = |s: &raw::RawService| {
        s.network_mode.is_none()
            && s.networks.clone().map(raw::RawServiceNetworks::into_map).is_none_or(|m| m.is_empty())
    };
    if raw.services.values().any(joins_none) && !networks.contains_key("default") {
        networks.insert("default".to_string(), network("default", raw::RawNetwork::default(), project));
    }
    networks
}

/// A network with its Docker name: `name`, else the key when external, else `PROJECT_KEY`.
fn network(key: &str, n: raw::RawNetwork, project: &str) -> Network {
    let flag = |b: &Option<Located<bool>>| b.as_ref().is_some_and(|x| x.value);
    let external = flag(&n.external);
    let default_name = if external { key.to_string() } else { format!("{project}_{key}") };
    Network {
        key: key.to_string(),
        explicit_name: n.name.is_some(),
        name: n.name.map_or(default_name, |x| x.value),
        explicit_driver: n.driver.is_some(),
        driver: n.driver.map_or_else(|| "bridge".to_string(), |d| d.value),
        external,
        internal: flag(&n.internal),
        attachable: flag(&n.attachable),
        enable_ipv6: n.enable_ipv6.map(|x| x.value),
        driver_opts: text_map(n.driver_opts),
        labels: label_map(n.labels),
        ipam: n.ipam.map(|i| Ipam {
            driver: i.value.driver,
            config: i
                .value
                .config
                .unwrap_or_default()
                .into_iter()
                .map(|p| IpamPool {
                    subnet: p.subnet,
                    ip_range: p.ip_range,
                    gateway: p.gateway,
                    aux_addresses: p.aux_addresses.unwrap_or_default(),
                })
                .collect(),
            options: i.value.options.unwrap_or_default(),
        }),
    }
}

fn text_map(m: Option<IndexMap<Located<String>, Located<raw::Scalar>>>) -> IndexMap<String, String> {
    m.unwrap_or_default().into_iter().map(|(k, v)| (k.value, v.value.into_string())).collect()
}

fn label_map(m: Option<raw::RawStringMap>) -> IndexMap<String, String> {
    let m = m.map(raw::RawStringMap::into_map).unwrap_or_default();
    m.into_iter().map(|(k, v)| (k.value, v.value.map(raw::Scalar::into_string).unwrap_or_default())).collect()
}
