//! The everyday Compose vocabulary on Kubernetes (docs/mapping.md has a row
//! for each field): what the pod can carry is set on it, what it cannot is a
//! warning, never silently dropped.
//!
//! - the container's `securityContext`: `runAsUser`/`runAsGroup` from a
//!   numeric `user`, capabilities, `readOnlyRootFilesystem`, `privileged`;
//!   the pod's `sysctls`;
//! - `workingDir`, `hostname`, `terminationGracePeriodSeconds`,
//!   `hostAliases`, `dnsConfig`, `imagePullPolicy`, `nodeSelector` from
//!   `platform`, `shareProcessNamespace` for `init` (the pod's pause process
//!   reaps zombies, as Docker's init does), `hostNetwork` for `network_mode: host`;
//! - `tmpfs`, `shm_size`, anonymous volumes and `type: tmpfs` mounts as `emptyDir`s;
//! - container `labels` as pod labels, or annotations when the value is not a label value;
//! - network aliases as extra Services ([`Renderer::alias_services`]);
//! - `secrets` and `configs` in `files.rs`; long-form ports, `internal`
//!   networks, external volumes and `start_interval` in `network.rs`.

mod files;
mod names;
mod network;
mod security;

use std::collections::BTreeMap;

use deploy_topology::{self as topo, MountSource, PullPolicy};
use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, HostAlias, PodDNSConfig, PodDNSConfigOption, PodSpec, PodTemplateSpec, Service, ServiceSpec,
    Sysctl, Volume as PodVolume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{Renderer, container_security};
use crate::object::Object;
use crate::units::K8sFormat as _;
use names::{is_dns_label, is_label_value, is_qualified_name, reserved_label};

/// Capabilities the Pod Security Standards' baseline profile lets a container add.
const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls Kubernetes considers safe (every kubelet allows them); others need `--allowed-unsafe-sysctls`.
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// A capability as Kubernetes names it (`CAP_NET_ADMIN` → `NET_ADMIN`).
fn capability(c: &str) -> String {
    let c = c.to_ascii_uppercase();
    c.strip_prefix("CAP_").map_or(c.clone(), String::from)
}

fn memory_dir(name: String, size: Option<topo::units::ByteSize>) -> PodVolume {
    let empty_dir =
        EmptyDirVolumeSource { medium: Some("Memory".into()), size_limit: size.map(|b| Quantity(b.to_k8s())) };
    PodVolume { name, empty_dir: Some(empty_dir), ..Default::default() }
}

fn mount(name: &str, path: &str) -> VolumeMount {
    VolumeMount { name: name.to_string(), mount_path: path.to_string(), ..Default::default() }
}

impl Renderer<'_> {
    /// Applies the vocabulary of `s` to its pod template and adds the objects it needs to `out`.
    pub(super) fn vocabulary(&mut self, s: &topo::Service, template: &mut PodTemplateSpec, out: &mut Vec<Object>) {
        let PodTemplateSpec { metadata, spec } = template;
        let (Some(pod), meta) = (spec.as_mut(), metadata.get_or_insert_with(ObjectMeta::default)) else { return };
        if pod.containers.is_empty() {
            return;
        }
        self.security(s, pod);
        self.process(s, pod);
        self.naming(s, pod);
        self.scratch(s, pod);
        self.pod_labels(s, meta);
        self.files(s, pod, meta, out);
        self.external_claims(s, pod);
        self.start_interval(s, pod);
        out.extend(self.alias_services(s));
        self.port_details(s, pod, out);
        self.vocabulary_notes(s);
    }

    /// The container's `securityContext` and the pod's sysctls.
    fn security(&mut self, s: &topo::Service, pod: &mut PodSpec) {
        let name = s.name.as_str();
        let user = s.user.as_ref().map(|u| self.value(name, u));
        let sc = pod.containers[0].security_context.get_or_insert_with(container_security);
        if let Some(u) = user {
            let (uid, gid) = u.split_once(':').map_or((u.as_str(), None), |(a, b)| (a, Some(b)));
            for (what, text, slot) in [("user", Some(uid), &mut sc.run_as_user), ("group", gid, &mut sc.run_as_group)] {
                let Some(text) = text else { continue };
                match text.parse::<i64>() {
                    Ok(n) => *slot = Some(n),
                    Err(_) => {
                        self.warnings.insert(format!(
                            "service `{name}`: `user: {u}`: the {what} `{text}` is a name, and Kubernetes runs containers as numeric IDs only (runAsUser/runAsGroup); the image's {what} is used — write `user: UID[:GID]`"
                        ));
                    }
                }
            }
        }
        let add: Vec<String> = s.cap_add.iter().map(|c| capability(c)).collect();
        let mut drop: Vec<String> = s.cap_drop.iter().map(|c| capability(c)).collect();
        // deploy drops NET_RAW by default (docs/kubernetes.md), unless the service adds it back.
        if !add.iter().any(|c| c == "NET_RAW" || c == "ALL") && !drop.iter().any(|c| c == "ALL" || c == "NET_RAW") {
            drop.insert(0, "NET_RAW".into());
        }
        let caps = sc.capabilities.get_or_insert_with(Default::default);
        caps.add = (!add.is_empty()).then(|| add.clone());
        caps.drop = (!drop.is_empty()).then_some(drop);
        let escalates = s.privileged || add.iter().any(|c| c == "SYS_ADMIN" || c == "ALL");
        if escalates {
            // Kubernetes refuses allowPrivilegeEscalation: false beside these.
            sc.allow_privilege_escalation = None;
        }
        sc.read_only_root_filesystem = s.read_only.then_some(true);
        sc.privileged = s.privileged.then_some(true);
        let beyond: Vec<&String> = add.iter().filter(|c| !BASELINE_CAPS.contains(&c.as_str())).collect();
        if !beyond.is_empty() || s.privileged {
            let what =
                if s.privileged { "`privileged: true`".to_string() } else { format!("cap_add {}", join(&beyond)) };
            self.warn(format!(
                "service `{name}`: {what} is beyond the Pod Security Standards' baseline profile: a namespace that enforces `baseline` or `restricted` rejects its pods"
            ));
        }
        self.sysctls(s, pod);
        self.security_options(s, &mut pod.containers[0]);
    }

    fn sysctls(&mut self, s: &topo::Service, pod: &mut PodSpec) {
        let name = s.name.as_str();
        let mut sysctls = Vec::new();
        for (k, v) in &s.sysctls {
            let value = self.value(name, v);
            if !SAFE_SYSCTLS.contains(&k.as_str()) {
                self.warn(format!(
                    "service `{name}`: sysctl `{k}` is not one of Kubernetes' safe sysctls: its pods start only on nodes whose kubelet allows it (`--allowed-unsafe-sysctls`), else they fail with SysctlForbidden"
                ));
            }
            sysctls.push(Sysctl { name: k.clone(), value });
        }
        if !sysctls.is_empty() {
            pod.security_context.get_or_insert_with(Default::default).sysctls = Some(sysctls);
        }
    }

    /// How the process runs: working directory, image pull policy, stop grace period, init, platform.
    fn process(&mut self, s: &topo::Service, pod: &mut PodSpec) {
        let name = s.name.as_str();
        let working_dir = s.working_dir.as_ref().map(|w| self.value(name, w));
        let c = &mut pod.containers[0];
        c.working_dir = working_dir;
        c.image_pull_policy = s.pull_policy.map(|p| {
            match p {
                PullPolicy::Always => "Always",
                PullPolicy::Never => "Never",
                PullPolicy::Missing => "IfNotPresent",
                PullPolicy::Build => "IfNotPresent",
                PullPolicy::Daily | PullPolicy::Weekly | PullPolicy::Every(_) => "Always",
            }
            .to_string()
        });
        match s.pull_policy {
            Some(PullPolicy::Build) => self.warn(format!(
                "service `{name}`: `pull_policy: build` builds on Compose only; on Kubernetes the image is pulled when not present (imagePullPolicy IfNotPresent): push it first"
            )),
            Some(p @ (PullPolicy::Daily | PullPolicy::Weekly | PullPolicy::Every(_))) => self.warn(format!(
                "service `{name}`: `pull_policy: {p}` has no Kubernetes equivalent; the image is pulled on every pod start (imagePullPolicy Always)"
            )),
            _ => {}
        }
        if let Some(d) = s.stop_grace_period {
            let secs = d.get().as_secs() + u64::from(d.get().subsec_nanos() > 0);
            pod.termination_grace_period_seconds = Some(i64::try_from(secs).unwrap_or(i64::MAX));
        }
        if s.init == Some(true) {
            pod.share_process_namespace = Some(true);
        }
        if let Some(p) = &s.platform {
            let p = self.value(name, p);
            let mut parts = p.split('/');
            let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
            let mut selector = BTreeMap::new();
            selector.extend(os.map(|os| ("kubernetes.io/os".to_string(), os.to_string())));
            selector.extend(arch.map(|a| ("kubernetes.io/arch".to_string(), a.to_string())));
            pod.node_selector = Some(selector);
            if let Some(v) = variant {
                self.warn(format!(
                    "service `{name}`: `platform: {p}`: nodes are selected by OS and architecture only (kubernetes.io/os, kubernetes.io/arch); the variant `{v}` is not"
                ));
            }
        }
    }

    /// Host name, `/etc/hosts` entries, DNS and the network mode.
    fn naming(&mut self, s: &topo::Service, pod: &mut PodSpec) {
        let name = s.name.as_str();
        if let Some(h) = &s.hostname {
            let h = self.value(name, h);
            if s.kind == topo::WorkloadKind::Stateful && !self.t.is_one_shot(name) {
                self.warn(format!(
                    "service `{name}`: `hostname: {h}` is not used on Kubernetes for a StatefulSet: each pod is named after itself ({name}-0...)"
                ));
            } else {
                let label = h.split('.').next().unwrap_or_default().to_ascii_lowercase();
                if label != h || !is_dns_label(&label) {
                    self.warn(format!(
                        "service `{name}`: `hostname: {h}`: a pod's hostname is one DNS label; it is `{label}`"
                    ));
                }
                pod.hostname = is_dns_label(&label).then_some(label);
            }
        }
        self.host_aliases(s, pod);
        if !(s.dns.is_empty() && s.dns_search.is_empty() && s.dns_opt.is_empty()) {
            let option = |o: &String| {
                let (n, v) = o.split_once(':').map_or((o.as_str(), None), |(n, v)| (n, Some(v.to_string())));
                PodDNSConfigOption { name: Some(n.to_string()), value: v }
            };
            let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
            pod.dns_config = Some(PodDNSConfig {
                nameservers: some(&s.dns),
                searches: some(&s.dns_search),
                options: (!s.dns_opt.is_empty()).then(|| s.dns_opt.iter().map(option).collect()),
            });
            // Only the given nameservers, as Docker: `None`; else the cluster's DNS plus these settings.
            if !s.dns.is_empty() {
                pod.dns_policy = Some("None".into());
            }
        }
        match s.network_mode.as_deref() {
            None => {}
            Some("host") => {
                pod.host_network = Some(true);
                pod.dns_policy.get_or_insert_with(|| "ClusterFirstWithHostNet".into());
                self.warn(format!(
                    "service `{name}`: `network_mode: host` is hostNetwork on Kubernetes (the node's network; the Pod Security Standards' baseline profile forbids it)"
                ));
            }
            Some(m) => self.warn(format!(
                "service `{name}`: `network_mode: {m}` has no Kubernetes equivalent (each pod has its own network); the pod uses the cluster network"
            )),
        }
    }

    /// `extra_hosts` as `hostAliases`, one per IP in the order first written.
    fn host_aliases(&mut self, s: &topo::Service, pod: &mut PodSpec) {
        let mut aliases: Vec<HostAlias> = Vec::new();
        for h in &s.extra_hosts {
            if h.ip == "host-gateway" {
                self.warn(format!(
                    "service `{}`: extra_hosts `{}:host-gateway` has no Kubernetes equivalent (the node's address is not known when rendering); it is left out",
                    s.name, h.host
                ));
                continue;
            }
            match aliases.iter_mut().find(|a| a.ip == h.ip) {
                Some(a) => a.hostnames.get_or_insert_with(Vec::new).push(h.host.clone()),
                None => aliases.push(HostAlias { ip: h.ip.clone(), hostnames: Some(vec![h.host.clone()]) }),
            }
        }
        if !aliases.is_empty() {
            pod.host_aliases = Some(aliases);
        }
    }

    /// Memory-backed and scratch directories: `tmpfs`, `shm_size` (`/dev/shm`),
    /// `type: tmpfs` mounts (medium Memory) and anonymous volumes (on disk), all `emptyDir`s.
    fn scratch(&mut self, s: &topo::Service, pod: &mut PodSpec) {
        let name = s.name.as_str();
        let mut volumes: Vec<PodVolume> = Vec::new();
        let mut mounts: Vec<VolumeMount> = Vec::new();
        for t in &s.tmpfs {
            let v = format!("deploy-tmpfs-{}", volumes.len());
            let ignored: Vec<&String> = t.options.iter().filter(|o| !o.starts_with("size=")).collect();
            if !ignored.is_empty() {
                self.warn(format!(
                    "service `{name}`: tmpfs `{}`: options {} have no Kubernetes equivalent (an emptyDir with medium Memory takes a size only)",
                    t.target,
                    join(&ignored)
                ));
            }
            mounts.push(mount(&v, &t.target));
            volumes.push(memory_dir(v, t.size));
        }
        for m in &s.mounts {
            let v = format!("deploy-scratch-{}", volumes.len());
            if let Some(mode) = m.tmpfs.as_ref().and_then(|t| t.mode) {
                self.warn(format!(
                    "service `{name}`: tmpfs `{}`: `mode: {mode:o}` has no Kubernetes equivalent (an emptyDir takes a size only)",
                    m.target
                ));
            }
            let volume = match &m.source {
                MountSource::Tmpfs => memory_dir(v.clone(), m.tmpfs.as_ref().and_then(|t| t.size)),
                MountSource::Anonymous => {
                    PodVolume { name: v.clone(), empty_dir: Some(Default::default()), ..Default::default() }
                }
                MountSource::Volume(_) | MountSource::Bind(_) => continue,
            };
            mounts.push(VolumeMount { read_only: m.read_only.then_some(true), ..mount(&v, &m.target) });
            volumes.push(volume);
        }
        if let Some(size) = s.shm_size {
            mounts.push(mount("deploy-shm", "/dev/shm"));
            volumes.push(memory_dir("deploy-shm".into(), Some(size)));
        }
        if !volumes.is_empty() {
            pod.containers[0].volume_mounts.get_or_insert_with(Vec::new).extend(mounts);
            pod.volumes.get_or_insert_with(Vec::new).extend(volumes);
        }
    }

    /// Container labels on the pods: a label when both key and value fit Kubernetes' rules, an
    /// annotation when only the key does; never over the selector's or this tool's keys.
    fn pod_labels(&mut self, s: &topo::Service, meta: &mut ObjectMeta) {
        let name = s.name.as_str();
        for (k, v) in &s.labels {
            let value = self.value(name, v);
            if reserved_label(k) {
                self.warn(format!(
                    "service `{name}`: label `{k}` is left out on Kubernetes: its prefix belongs to Kubernetes or to this tool's selector labels"
                ));
            } else if !is_qualified_name(k) {
                self.warn(format!(
                    "service `{name}`: label `{k}` is left out on Kubernetes: not a valid label or annotation key ([prefix/]name, the name at most 63 letters, digits, `-`, `_`, `.`)"
                ));
            } else if is_label_value(&value) {
                meta.labels.get_or_insert_with(BTreeMap::new).insert(k.clone(), value);
            } else {
                meta.annotations.get_or_insert_with(BTreeMap::new).insert(k.clone(), value);
            }
        }
    }

    /// Each network alias of `s` as a Service of that name selecting its pods (the same ports
    /// as its own Service, or headless): the alias resolves in the whole namespace, not only
    /// on that network. An alias that is no Service name, or names a service, is a warning.
    pub(super) fn alias_services(&mut self, s: &topo::Service) -> Vec<Object> {
        let name = s.name.as_str();
        let mut out = Vec::new();
        let mut done: Vec<&str> = Vec::new();
        for alias in s.network_settings.values().flat_map(|n| n.aliases.iter()) {
            if done.contains(&alias.as_str()) || alias == name {
                continue;
            }
            done.push(alias);
            let taken = self.t.services.contains_key(alias.as_str())
                || self
                    .t
                    .services
                    .values()
                    .any(|o| o.name != name && o.network_settings.values().any(|n| n.aliases.contains(alias)));
            if !is_dns_label(alias) || alias.len() > 63 || alias.starts_with(|c: char| c.is_ascii_digit()) || taken {
                let why =
                    if taken { "another service has that name or alias" } else { "it is not a valid Service name" };
                self.warn(format!(
                    "service `{name}`: network alias `{alias}` is left out on Kubernetes ({why}); the service is reachable as `{name}`"
                ));
                continue;
            }
            let mut svc = self.governing_service(s).unwrap_or_else(|| Service {
                metadata: ObjectMeta::default(),
                spec: Some(ServiceSpec {
                    cluster_ip: Some("None".into()),
                    selector: Some(self.selector_labels(name)),
                    ..Default::default()
                }),
                status: None,
            });
            svc.metadata = self.meta(alias, self.service_labels(name));
            out.push(Object::Service(svc));
        }
        out
    }

    /// Warnings for the fields Kubernetes has no equivalent of.
    fn vocabulary_notes(&mut self, s: &topo::Service) {
        let name = s.name.as_str();
        let none = "has no Kubernetes equivalent";
        if let Some(l) = &s.logging {
            let driver = l.driver.as_deref().unwrap_or("the daemon's default");
            self.warn(format!(
                "service `{name}`: `logging` (driver {driver}) {none}: containers log to stdout/stderr, kept by the kubelet and read with `kubectl logs`; ship them with a cluster log agent"
            ));
        }
        if !s.devices.is_empty() {
            let d: Vec<String> = s.devices.iter().map(topo::Device::short).collect();
            self.warn(format!(
                "service `{name}`: devices {} {none} in a pod spec (use a device plugin and request its resource)",
                join(&d)
            ));
        }
        if let Some(r) = &s.runtime {
            self.warn(format!(
                "service `{name}`: `runtime: {r}` is not set on Kubernetes; if the cluster has a RuntimeClass for it, set runtimeClassName"
            ));
        }
        if !s.ulimits.is_empty() {
            let u: Vec<&String> = s.ulimits.keys().collect();
            self.warn(format!(
                "service `{name}`: ulimits {} {none}: pods get the container runtime's limits",
                join(&u)
            ));
        }
        if let Some(sig) = &s.stop_signal {
            self.warn(format!(
                "service `{name}`: `stop_signal: {sig}` {none} in the supported versions: Kubernetes stops containers with SIGTERM (or the image's STOPSIGNAL)"
            ));
        }
        for (net, n) in &s.network_settings {
            for a in n.ipv4_address.iter().chain(&n.ipv6_address) {
                self.warn(format!("service `{name}`: the fixed address {a} on network `{net}` {none}: pods get their IPs from the cluster"));
            }
        }
    }
}

fn join<T: AsRef<str>>(v: &[T]) -> String {
    v.iter().map(|x| format!("`{}`", x.as_ref())).collect::<Vec<_>>().join(", ")
}
