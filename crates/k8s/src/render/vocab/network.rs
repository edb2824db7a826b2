//! Ports, networks and volumes beyond the basics: long-form port names and
//! application protocols, `internal` networks as an egress policy, external
//! volumes as claims that must exist, healthcheck `start_interval`, and a
//! warning for the settings Kubernetes has no place for.

use k8s_openapi::api::core::v1::{PersistentVolumeClaimVolumeSource, PodSpec, Volume as PodVolume};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use deploy_topology::{self as topo, MountSource};

use super::super::{Renderer, map, proto};
use crate::names::k8s_name;
use crate::object::{Object, labels};
use crate::units::probe_seconds;

/// A port name Kubernetes takes (IANA_SVC_NAME): at most 15 lowercase letters, digits and
/// single `-`, with a letter, not starting or ending with `-`.
fn is_port_name(n: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    !n.is_empty()
        && n.len() <= 15
        && n.chars().all(ok)
        && n.chars().any(|c| c.is_ascii_lowercase())
        && !n.starts_with('-')
        && !n.ends_with('-')
        && !n.contains("--")
}

impl Renderer<'_> {
    /// Long-form `name` and `app_protocol` of the service's ports on its container and Services.
    pub(super) fn port_details(&mut self, s: &topo::Service, pod: &mut PodSpec, out: &mut [Object]) {
        let name = s.name.as_str();
        let mut named: Vec<(i32, String, String)> = Vec::new();
        let mut app: Vec<(i32, String, String)> = Vec::new();
        for p in &s.ports {
            let (port, protocol) = (i32::from(p.container), proto(p.protocol));
            if p.mode.as_deref() == Some("host") {
                self.warn(format!(
                    "service `{name}`: port {} `mode: host` has no Kubernetes equivalent here (the Service is cluster-internal; no host port is opened)",
                    p.container
                ));
            }
            match &p.name {
                Some(n) if is_port_name(n) && !named.iter().any(|(_, _, x)| x == n) => {
                    named.push((port, protocol.clone(), n.clone()))
                }
                Some(n) => self.warn(format!(
                    "service `{name}`: port name `{n}` is not used on Kubernetes (a port name is at most 15 lowercase letters, digits and `-`, unique in the service)"
                )),
                None => {}
            }
            app.extend(p.app_protocol.iter().map(|a| (port, protocol.clone(), a.clone())));
        }
        let find = |list: &[(i32, String, String)], port: i32, protocol: Option<&String>| {
            list.iter().find(|(p, pr, _)| *p == port && Some(pr) == protocol).map(|(_, _, v)| v.clone())
        };
        for cp in pod.containers[0].ports.iter_mut().flatten() {
            if let Some(n) = find(&named, cp.container_port, cp.protocol.as_ref()) {
                cp.name = Some(n);
            }
        }
        let ours = |o: &Object| o.service() == Some(name);
        for o in out.iter_mut().filter(|o| ours(o)) {
            let Object::Service(svc) = o else { continue };
            for sp in svc.spec.as_mut().and_then(|s| s.ports.as_mut()).into_iter().flatten() {
                if let Some(n) = find(&named, sp.port, sp.protocol.as_ref()) {
                    sp.name = Some(n);
                }
                sp.app_protocol = find(&app, sp.port, sp.protocol.as_ref()).or(sp.app_protocol.take());
            }
        }
    }

    /// External volumes: not created, their claim (named after the volume) is mounted as it is.
    pub(super) fn external_claims(&mut self, s: &topo::Service, pod: &mut PodSpec) {
        for m in &s.mounts {
            let MountSource::Volume(key) = &m.source else { continue };
            let Some(v) = self.t.volumes.get(key).filter(|v| v.external) else { continue };
            let volume = PodVolume {
                name: k8s_name(key),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: k8s_name(&v.name),
                    read_only: None,
                }),
                ..Default::default()
            };
            let volumes = pod.volumes.get_or_insert_with(Vec::new);
            if !volumes.iter().any(|x| x.name == volume.name) {
                volumes.push(volume);
            }
        }
    }

    /// `healthcheck.start_interval`: how often the startup probe runs during the start period.
    pub(super) fn start_interval(&mut self, s: &topo::Service, pod: &mut PodSpec) {
        let Some(h) = &s.healthcheck else { return };
        let (Some(si), Some(p)) = (h.start_interval, pod.containers[0].startup_probe.as_mut()) else { return };
        let period = probe_seconds(si.get()).max(1);
        let start = probe_seconds(h.start_period_or_default());
        let retries = i32::try_from(h.retries_or_default().max(1)).unwrap_or(i32::MAX);
        p.period_seconds = Some(period);
        p.failure_threshold = Some((start + period - 1) / period + retries);
    }

    /// Project-wide: an `internal` network's pods reach only the namespace's pods (and DNS), as
    /// Docker's internal networks have no way out; and a warning for each network and volume
    /// setting Kubernetes has no place for.
    pub(in crate::render) fn network_extras(&mut self) -> Vec<Object> {
        let mut out = Vec::new();
        for (key, n) in &self.t.networks {
            let unmapped = [
                ("ipam", n.ipam.is_some()),
                ("driver_opts", !n.driver_opts.is_empty()),
                ("enable_ipv6", n.enable_ipv6 == Some(true)),
            ];
            for (what, _) in unmapped.iter().filter(|(_, set)| *set) {
                self.warn(format!(
                    "network `{key}`: `{what}` has no Kubernetes equivalent (pod networking is the cluster's)"
                ));
            }
            if n.internal {
                out.push(self.internal_policy(key));
            }
        }
        for (key, v) in &self.t.volumes {
            if v.driver.is_some() || !v.driver_opts.is_empty() {
                self.warn(format!(
                    "volume `{key}`: `driver`/`driver_opts` have no Kubernetes equivalent (a claim gets its storage from its storage class; set `storage_class`)"
                ));
            }
        }
        out
    }

    /// The egress policy of an internal network: its pods that are on no other, non-internal
    /// network may reach the namespace's pods and the cluster's DNS only.
    fn internal_policy(&self, key: &str) -> Object {
        let mut sel = map([(labels::INSTANCE, self.project())]);
        sel.insert(Self::network_label(key), "true".into());
        let others = self.t.networks.iter().filter(|(k, n)| *k != key && !n.internal);
        let expressions: Vec<LabelSelectorRequirement> = others
            .map(|(k, _)| LabelSelectorRequirement {
                key: Self::network_label(k),
                operator: "DoesNotExist".into(),
                values: None,
            })
            .collect();
        let pod_selector = LabelSelector {
            match_labels: Some(sel),
            match_expressions: (!expressions.is_empty()).then_some(expressions),
        };
        let dns_ports = ["UDP", "TCP"].map(|p| NetworkPolicyPort {
            port: Some(IntOrString::Int(53)),
            protocol: Some(p.into()),
            end_port: None,
        });
        let namespace_pods = NetworkPolicyPeer { pod_selector: Some(LabelSelector::default()), ..Default::default() };
        let any_namespace =
            NetworkPolicyPeer { namespace_selector: Some(LabelSelector::default()), ..Default::default() };
        Object::NetworkPolicy(NetworkPolicy {
            metadata: self.meta(&format!("network-{}-internal", k8s_name(key)), self.project_labels("network-policy")),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(pod_selector),
                policy_types: Some(vec!["Egress".into()]),
                ingress: None,
                egress: Some(vec![
                    NetworkPolicyEgressRule { to: Some(vec![namespace_pods]), ports: None },
                    NetworkPolicyEgressRule { to: Some(vec![any_namespace]), ports: Some(dns_ports.to_vec()) },
                ]),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_port_name;

    #[test]
    fn port_names() {
        assert!(is_port_name("http") && is_port_name("web-2"));
        assert!(!is_port_name("HTTP") && !is_port_name("8080") && !is_port_name("a--b") && !is_port_name("-a"));
        assert!(!is_port_name("a-very-long-port-name"));
    }
}
