//! Networks and volumes as `docker compose up` creates them: the topology's
//! `driver`, `driver_opts`, `labels`, and for networks `internal`,
//! `attachable`, `enable_ipv6` and `ipam`, beside the `com.docker.compose.*`
//! labels. An `external` network or volume is the user's: it must exist, and
//! deploy never creates nor removes it.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest, VolumeCreateRequest};
use deploy_topology::Topology;

use super::EngineError;
use super::labels;

/// The labels of a network or volume of the project: the topology's, then Compose's and ours.
fn project_labels(
    t: &Topology,
    own: &indexmap::IndexMap<String, String>,
    kind: &str,
    key: &str,
) -> HashMap<String, String> {
    let mut lbl: HashMap<String, String> = own.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    lbl.insert(labels::PROJECT.to_string(), t.name.clone());
    lbl.insert(kind.to_string(), key.to_string());
    lbl.insert(labels::VERSION.to_string(), labels::COMPOSE_VERSION.to_string());
    lbl.insert(labels::MANAGED_BY.to_string(), labels::MANAGER.to_string());
    lbl
}

fn some_map(m: &indexmap::IndexMap<String, String>) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// Whether the network `key` (a topology key) is external.
pub(super) fn external_network(t: &Topology, key: &str) -> bool {
    t.networks.get(key).is_some_and(|n| n.external)
}

/// Whether the volume `key` (a topology key) is external.
pub(super) fn external_volume(t: &Topology, key: &str) -> bool {
    t.volumes.get(key).is_some_and(|v| v.external)
}

/// The create request of the project's network `key`, named `name`, with `driver`.
pub(super) fn network(t: &Topology, key: &str, name: &str, driver: &str) -> NetworkCreateRequest {
    let n = t.networks.get(key);
    let empty = indexmap::IndexMap::new();
    let ipam = n.and_then(|n| n.ipam.as_ref()).map(|i| Ipam {
        driver: i.driver.clone(),
        config: (!i.config.is_empty()).then(|| {
            i.config
                .iter()
                .map(|p| IpamConfig {
                    subnet: p.subnet.clone(),
                    ip_range: p.ip_range.clone(),
                    gateway: p.gateway.clone(),
                    auxiliary_addresses: some_map(&p.aux_addresses),
                })
                .collect()
        }),
        options: some_map(&i.options),
    });
    NetworkCreateRequest {
        name: name.to_string(),
        driver: Some(driver.to_string()),
        internal: n.is_some_and(|n| n.internal).then_some(true),
        attachable: n.is_some_and(|n| n.attachable).then_some(true),
        enable_ipv6: n.and_then(|n| n.enable_ipv6),
        ipam,
        options: n.and_then(|n| some_map(&n.driver_opts)),
        labels: Some(project_labels(t, n.map_or(&empty, |n| &n.labels), labels::NETWORK, key)),
        ..Default::default()
    }
}

/// The create request of the project's volume `key`, named `name`.
pub(super) fn volume(t: &Topology, key: &str, name: &str) -> VolumeCreateRequest {
    let v = t.volumes.get(key);
    let empty = indexmap::IndexMap::new();
    VolumeCreateRequest {
        name: Some(name.to_string()),
        driver: v.and_then(|v| v.driver.clone()),
        driver_opts: v.and_then(|v| some_map(&v.driver_opts)),
        labels: Some(project_labels(t, v.map_or(&empty, |v| &v.labels), labels::VOLUME, key)),
        ..Default::default()
    }
}

/// The error for an external network or volume that is not there.
pub(super) fn missing_external(kind: &str, key: &str, name: &str) -> EngineError {
    EngineError::Input(format!(
        "{kind} `{key}` is external (made outside the project) but there is no {kind} named `{name}` on the engine: create it (`docker {kind} create {name}`) or drop `external: true`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPOLOGY: &str = r#"
name: objs
services:
  app:
    image: busybox:1.36
    networks: [back, outside]
    volumes: [data:/data, shared:/shared]
networks:
  back:
    internal: true
    attachable: true
    enable_ipv6: false
    driver_opts: {com.docker.network.bridge.name: objs0}
    labels: {team: web}
    ipam:
      config:
        - subnet: 172.28.0.0/16
          gateway: 172.28.0.1
  outside:
    external: true
volumes:
  data:
    driver: local
    driver_opts: {type: tmpfs, device: tmpfs}
    labels: {backup: daily}
  shared:
    external: true
    name: shared-data
"#;

    #[test]
    fn networks_and_volumes_carry_the_topology_settings() {
        let t = deploy_topology::from_str("objs.yaml", TOPOLOGY, None).unwrap_or_else(|e| panic!("{e:?}"));
        let n = network(&t, "back", "objs_back", "bridge");
        assert_eq!((n.internal, n.attachable, n.enable_ipv6), (Some(true), Some(true), Some(false)));
        assert_eq!(n.options, Some(HashMap::from([("com.docker.network.bridge.name".into(), "objs0".into())])));
        let lbl = n.labels.unwrap_or_default();
        assert_eq!(
            (lbl.get("team").map(String::as_str), lbl.get(labels::NETWORK).map(String::as_str)),
            (Some("web"), Some("back"))
        );
        let pool = &n.ipam.and_then(|i| i.config).unwrap_or_default()[0];
        assert_eq!((pool.subnet.as_deref(), pool.gateway.as_deref()), (Some("172.28.0.0/16"), Some("172.28.0.1")));
        let v = volume(&t, "data", "objs_data");
        assert_eq!(v.driver.as_deref(), Some("local"));
        assert_eq!(v.driver_opts.unwrap_or_default().get("type").map(String::as_str), Some("tmpfs"));
        assert_eq!(v.labels.unwrap_or_default().get("backup").map(String::as_str), Some("daily"));
        assert!(external_network(&t, "outside") && !external_network(&t, "back"));
        assert!(external_volume(&t, "shared") && !external_volume(&t, "data"));
        assert_eq!(t.volumes["shared"].name, "shared-data");
    }
}
