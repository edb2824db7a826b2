//! Topology → typed Kubernetes objects. See docs/kubernetes.md for every mapping decision.

use std::collections::{BTreeMap, HashMap, HashSet};

use indexmap::IndexSet;

use deploy_topology::{
    self as topo, Diagnostic, Env, Errors, MountSource, ProbeTest, Protocol, Restart, Topology, Value, WorkloadKind,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, ExecAction, Namespace, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, Secret, SecretKeySelector, SecurityContext, Service, ServicePort,
    ServiceSpec, Volume as PodVolume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::names::k8s_name;
use crate::object::{Object, labels};
use crate::units::{K8sFormat as _, probe_seconds};

mod vocab;

/// The rendered objects, in apply order, and what could not be mapped.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    pub objects: Vec<Object>,
    pub warnings: Vec<String>,
}

impl Rendered {
    /// Multi-document YAML, one document per object, in apply order.
    ///
    /// Documents are independent, so large renders serialize them on every
    /// available core (in contiguous chunks, joined in order: the output is the
    /// same byte for byte as a sequential run). Serialization is most of the
    /// time of rendering a big topology for Kubernetes (docs/benchmarks.md).
    pub fn to_yaml(&self) -> String {
        self.to_yaml_on(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// [`Rendered::to_yaml`] on at most `threads` threads.
    fn to_yaml_on(&self, threads: usize) -> String {
        /// Below this many objects a thread costs more than it saves.
        const PER_THREAD: usize = 64;
        let threads = threads.min(self.objects.len().div_ceil(PER_THREAD)).max(1);
        if threads == 1 {
            return documents(&self.objects);
        }
        let chunk = self.objects.len().div_ceil(threads);
        let parts: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = self.objects.chunks(chunk).map(|c| s.spawn(|| documents(c))).collect();
            // A serializer panic is a bug; surface it rather than print half a file.
            handles.into_iter().map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        });
        parts.join("---\n")
    }

    /// The workload object of a service.
    pub fn workload(&self, service: &str) -> Option<&Object> {
        self.objects.iter().find(|o| o.is_workload() && o.service() == Some(service))
    }

    /// The objects as one JSON `v1/List` (what `kubectl get -o json` prints
    /// and `kubectl apply -f` takes).
    pub fn to_json(&self) -> String {
        let items: Vec<serde_json::Value> = self.objects.iter().map(Object::to_json).collect();
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
        serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
    }

    /// Secrets with an entry that still holds a `${VAR}` placeholder (as
    /// written, [`SecretMode::AsWritten`]), each with all its keys: applied as
    /// they are, they would store the placeholder text as the secret.
    pub fn placeholder_secrets(&self) -> Vec<(String, Vec<String>)> {
        self.objects
            .iter()
            .filter_map(|o| match o {
                Object::Secret(s) => {
                    let data = s.string_data.as_ref()?;
                    data.values()
                        .any(|v| v.contains("${"))
                        .then(|| (o.name().to_string(), data.keys().cloned().collect()))
                }
                _ => None,
            })
            .collect()
    }

    /// Applies `policy` to the Secrets that would hold a `${VAR}` placeholder
    /// (`deploy render` never writes a resolved secret): an error naming them
    /// and the ways out, or them left out or kept, with a warning saying what
    /// to do instead.
    pub fn placeholder_policy(mut self, policy: PlaceholderSecrets) -> Result<Self, String> {
        let found = self.placeholder_secrets();
        if found.is_empty() {
            return Ok(self);
        }
        let ns = self.objects.iter().find_map(Object::namespace).unwrap_or("default").to_string();
        let create = |(name, keys): &(String, Vec<String>)| {
            let literals: String = keys.iter().map(|k| format!(" --from-literal={k}=...")).collect();
            format!("kubectl create secret generic {name} -n {ns}{literals}")
        };
        let names: Vec<String> = found.iter().map(|(n, _)| format!("Secret/{n}")).collect();
        match policy {
            PlaceholderSecrets::Refuse => Err(format!(
                "{} would hold `${{VAR}}` placeholders, not secret values (render never writes a resolved secret), \
                 and `kubectl apply` would store the placeholder text\n  help: use `deploy apply --target k8s`, which \
                 resolves secrets into the Secrets itself; or render with `--secrets omit` and create them yourself \
                 ({}); or `--secrets placeholders` to review the manifests (not to apply them)",
                names.join(", "),
                found.iter().map(create).collect::<Vec<_>>().join("; ")
            )),
            PlaceholderSecrets::Omit => {
                let omitted: Vec<String> = found.iter().map(|(n, _)| n.clone()).collect();
                self.objects.retain(|o| !(matches!(o, Object::Secret(_)) && omitted.iter().any(|n| n == o.name())));
                self.warnings.extend(found.iter().map(|f| {
                    format!("Secret/{} left out (it would hold placeholders): create it first: {}", f.0, create(f))
                }));
                Ok(self)
            }
            PlaceholderSecrets::Keep => {
                self.warnings.push(format!(
                    "{} hold `${{VAR}}` placeholders as written: for review only, `kubectl apply` would store them as the values",
                    names.join(", ")
                ));
                Ok(self)
            }
        }
    }
}

/// What [`Rendered::placeholder_policy`] does with Secrets that would hold a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceholderSecrets {
    /// An error (the default of `deploy render`).
    Refuse,
    /// Left out: the user creates them.
    Omit,
    /// Written as they are, for review.
    Keep,
}

/// `objects` as YAML documents separated by `---`.
fn documents(objects: &[Object]) -> String {
    let mut out = String::new();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        match serde_saphyr::to_string(o) {
            Ok(s) => {
                out.push_str(&s);
                if !s.ends_with('\n') {
                    out.push('\n');
                }
            }
            Err(e) => out.push_str(&format!("# cannot serialize {}: {e}\n", o.id())),
        }
    }
    out
}

/// How secret values are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretMode {
    /// `deploy render`: secrets keep the text as written in the topology (a `${VAR}` stays a placeholder),
    /// in the Secret's `stringData`. The resolved value never appears.
    AsWritten,
    /// `deploy apply` / `diff`: secrets resolved from the environment, in the Secret's `data`.
    Resolved,
}

/// Annotation on a namespace deploy created: the project that created it. Only
/// such a namespace is ever deleted (`destroy --volumes`), and only when it
/// holds nothing deploy does not own.
pub const CREATED_BY: &str = "deploy.dev/created-by";

/// Annotation on a Job: a hash of its pod template (immutable on the cluster).
pub const TEMPLATE_HASH: &str = "deploy.dev/template-hash";

/// A short, stable hash of a pod template.
fn template_hash(t: &PodTemplateSpec) -> String {
    use sha2::Digest as _;
    let json = serde_json::to_vec(t).unwrap_or_default();
    let digest = sha2::Sha256::digest(&json);
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Renders the topology for review (`deploy render --target k8s`): secrets stay as written.
pub fn render(t: &Topology, env: &Env) -> Result<Rendered, Errors> {
    render_with(t, env, SecretMode::AsWritten)
}

/// The project's Namespace, as apply creates it when it is absent.
pub fn namespace(t: &Topology) -> Object {
    let env = Env::default();
    let r = Renderer {
        t,
        env: &env,
        mode: SecretMode::AsWritten,
        required: Some(HashSet::new()),
        errors: Errors::default(),
        warnings: IndexSet::new(),
        volume_users: HashMap::new(),
    };
    r.namespace()
}

/// Renders the topology; `mode` says how secret values are written.
pub fn render_with(t: &Topology, env: &Env, mode: SecretMode) -> Result<Rendered, Errors> {
    render_inner(t, env, mode, None)
}

/// Renders every object for applying (or diffing) the `selected` services,
/// secrets resolved. Only their values must resolve: the other services'
/// objects are rendered too, because their names tell prune and diff what the
/// topology still has, but they are never sent, so a value of theirs that
/// cannot be resolved is left as written instead of failing the selection.
pub fn render_for_apply(t: &Topology, env: &Env, selected: &[String]) -> Result<Rendered, Errors> {
    render_inner(t, env, SecretMode::Resolved, Some(selected.iter().map(String::as_str).collect()))
}

fn render_inner<'a>(
    t: &'a Topology,
    env: &'a Env,
    mode: SecretMode,
    required: Option<HashSet<&'a str>>,
) -> Result<Rendered, Errors> {
    // Which services mount each named volume (to warn when one is shared).
    let mut volume_users: HashMap<&str, Vec<&str>> = HashMap::new();
    for s in t.services.values() {
        for (v, _) in s.named_volumes() {
            let users = volume_users.entry(v).or_default();
            if !users.contains(&s.name.as_str()) {
                users.push(&s.name);
            }
        }
    }
    let mut r = Renderer { t, env, mode, required, errors: Errors::default(), warnings: IndexSet::new(), volume_users };
    let objects = r.all();
    r.errors.into_result(Rendered { objects, warnings: r.warnings.into_iter().collect() })
}

struct Renderer<'a> {
    t: &'a Topology,
    env: &'a Env,
    mode: SecretMode,
    /// Services whose values must resolve (`None`: all of them).
    required: Option<HashSet<&'a str>>,
    errors: Errors,
    /// Deduplicated, in the order first raised.
    warnings: IndexSet<String>,
    volume_users: HashMap<&'a str, Vec<&'a str>>,
}

type Labels = BTreeMap<String, String>;

fn map<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn port_name(port: u16, proto: Protocol) -> String {
    format!("{}-{port}", proto.as_str())
}

fn proto(p: Protocol) -> String {
    p.as_str().to_ascii_uppercase()
}

fn clamp_i32(n: u64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A word for `sh -c`: as is when plain, else single-quoted.
fn sh_quote(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c);
    if !w.is_empty() && w.chars().all(plain) { w.to_string() } else { format!("'{}'", w.replace('\'', "'\\''")) }
}

/// The secret values a service uses outside its environment (command,
/// arguments, probes), each carried into the container by an env var from the
/// service's Secret, so that no other object holds it.
#[derive(Default)]
struct SecretRefs {
    /// Env var name → the value it carries, in the order first used.
    vars: Vec<(String, Value)>,
}

impl SecretRefs {
    /// The env var that carries `v`: a secret env var of the service with the
    /// same value when there is one; else the variable's own name when `v` is
    /// exactly `${VAR}` (and the service has no env var of that name); else
    /// `DEPLOY_SECRET_<n>`.
    fn carrier(&mut self, s: &topo::Service, v: &Value) -> String {
        if let Some((k, _)) = self.vars.iter().find(|(_, x)| x.raw == v.raw) {
            return k.clone();
        }
        if let Some((k, _)) = s.environment.iter().find(|(_, x)| x.secret && x.raw == v.raw) {
            return k.clone();
        }
        let taken =
            |n: &str, vars: &[(String, Value)]| s.environment.contains_key(n) || vars.iter().any(|(k, _)| k == n);
        let own = whole_variable(&v.raw).filter(|n| !taken(n, &self.vars));
        let name = own.unwrap_or_else(|| {
            (0..).map(|i| format!("DEPLOY_SECRET_{i}")).find(|n| !taken(n, &self.vars)).unwrap_or_default()
        });
        self.vars.push((name.clone(), v.clone()));
        name
    }
}

/// Secure by default (docs/kubernetes.md, "Security defaults"): a pod spec for
/// `containers` that gets no service account token (no topology field asks
/// for one; the services talk to each other, not to the API server) and runs
/// under the container runtime's default seccomp profile.
fn secure_pod(containers: Vec<Container>) -> PodSpec {
    PodSpec {
        containers,
        automount_service_account_token: Some(false),
        security_context: Some(PodSecurityContext {
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".into(), localhost_profile: None }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Secure by default, without breaking images that start as root: no
/// privilege escalation (`no_new_privs`: setuid binaries and file
/// capabilities grant nothing; `gosu`/`su-exec`, which only *drop* root,
/// still work) and no raw sockets.
///
/// Only `NET_RAW` is dropped, not `ALL`: the official Redis and Postgres
/// images (and most images that start as root) `chown` their data directory
/// and switch to their own user at startup, which needs `CHOWN`, `FOWNER`,
/// `DAC_OVERRIDE`, `SETUID` and `SETGID`; without them they fail to start.
/// `NET_RAW` is the default capability servers never need and the one that
/// allows packet spoofing on the pod network. Neither `runAsNonRoot` nor
/// `readOnlyRootFilesystem` is set for the same reason: root images write to
/// their filesystem and run as root until they drop to their user.
fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities { drop: Some(vec!["NET_RAW".into()]), add: None }),
        ..Default::default()
    }
}

/// `VAR` when `raw` is exactly `${VAR}` or `$VAR`.
fn whole_variable(raw: &str) -> Option<String> {
    let vars = topo::interp::variables(raw);
    let [name] = vars.as_slice() else { return None };
    (raw == format!("${{{name}}}") || raw == format!("${name}")).then(|| name.clone())
}

impl Renderer<'_> {
    fn project(&self) -> &str {
        &self.t.name
    }

    /// Labels of a project-wide object.
    fn project_labels(&self, component: &str) -> Labels {
        let p = self.project();
        map([
            (labels::NAME, p),
            (labels::INSTANCE, p),
            (labels::COMPONENT, component),
            (labels::PART_OF, p),
            (labels::MANAGED_BY, labels::MANAGER),
        ])
    }

    /// Labels of an object that belongs to a service.
    fn service_labels(&self, service: &str) -> Labels {
        let p = self.project();
        map([
            (labels::NAME, service),
            (labels::INSTANCE, p),
            (labels::COMPONENT, service),
            (labels::PART_OF, p),
            (labels::MANAGED_BY, labels::MANAGER),
            (labels::SERVICE, service),
        ])
    }

    /// The immutable selector of a service's pods: name + instance.
    fn selector_labels(&self, service: &str) -> Labels {
        map([(labels::NAME, service), (labels::INSTANCE, self.project())])
    }

    fn meta(&self, name: &str, labels: Labels) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(self.t.namespace.clone()),
            labels: Some(labels),
            ..Default::default()
        }
    }

    fn network_label(net: &str) -> String {
        format!("{}{}", labels::NETWORK_PREFIX, k8s_name(net))
    }

    fn warn(&mut self, w: String) {
        self.warnings.insert(w);
    }

    /// A non-secret value resolved; a secret one per the mode (as written, with a warning, or resolved).
    fn value(&mut self, service: &str, v: &Value) -> String {
        if v.secret && self.mode == SecretMode::AsWritten {
            self.warn(format!(
                "service `{service}`: secret value in `{}` is rendered as written, and `deploy apply` writes its resolved value into the pod spec (only environment values, command arguments and probes can come from a Secret)",
                v.field
            ));
            return v.raw.clone();
        }
        self.resolve(service, v).unwrap_or_else(|| v.raw.clone())
    }

    /// `v` resolved from the environment. When it cannot be: an error if the
    /// service's values are required, else `None` (an object that is not sent).
    fn resolve(&mut self, service: &str, v: &Value) -> Option<String> {
        match v.resolve(self.env) {
            Ok(s) => Some(s),
            Err(_) if self.required.as_ref().is_some_and(|r| !r.contains(service)) => None,
            Err(d) => {
                self.errors.push(d);
                None
            }
        }
    }

    fn all(&mut self) -> Vec<Object> {
        let mut out = vec![self.namespace()];
        out.extend(self.network_policies());
        out.extend(self.network_extras());
        for name in self.t.order() {
            let Some(s) = self.t.services.get(name) else { continue };
            out.extend(self.service(s));
        }
        out
    }

    fn namespace(&self) -> Object {
        Object::Namespace(Namespace {
            metadata: ObjectMeta {
                name: Some(self.t.namespace.clone()),
                labels: Some(self.project_labels("namespace")),
                annotations: Some(map([(CREATED_BY, self.project())])),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    /// Docker-network isolation: a default deny for the project's pods, one allow-same-network policy
    /// per network, and one allow-from-anywhere policy per service with published ports.
    fn network_policies(&mut self) -> Vec<Object> {
        let instance = map([(labels::INSTANCE, self.project())]);
        let mut out = vec![Object::NetworkPolicy(NetworkPolicy {
            metadata: self.meta("default-deny-ingress", self.project_labels("network-policy")),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector { match_labels: Some(instance.clone()), ..Default::default() }),
                policy_types: Some(vec!["Ingress".into()]),
                ingress: None,
                egress: None,
            }),
        })];
        for key in self.t.networks.keys() {
            let label = Self::network_label(key);
            if label.len() - "deploy.dev/".len() > 63 {
                self.errors.push(Diagnostic::new(format!(
                    "network `{key}`: the pod label `{label}` is longer than Kubernetes allows (63 characters after the prefix)"
                )).help("use a shorter network key"));
                continue;
            }
            let mut sel = instance.clone();
            sel.insert(label, "true".into());
            let selector = LabelSelector { match_labels: Some(sel), ..Default::default() };
            out.push(Object::NetworkPolicy(NetworkPolicy {
                metadata: self.meta(&format!("network-{}", k8s_name(key)), self.project_labels("network-policy")),
                spec: Some(NetworkPolicySpec {
                    pod_selector: Some(selector.clone()),
                    policy_types: Some(vec!["Ingress".into()]),
                    ingress: Some(vec![NetworkPolicyIngressRule {
                        from: Some(vec![NetworkPolicyPeer { pod_selector: Some(selector), ..Default::default() }]),
                        ports: None,
                    }]),
                    egress: None,
                }),
            }));
        }
        for (name, s) in &self.t.services {
            if s.ports.is_empty() {
                continue;
            }
            let mut ports: Vec<NetworkPolicyPort> = Vec::new();
            for p in &s.ports {
                let np = NetworkPolicyPort {
                    port: Some(IntOrString::Int(i32::from(p.container))),
                    protocol: Some(proto(p.protocol)),
                    end_port: None,
                };
                if !ports.contains(&np) {
                    ports.push(np);
                }
            }
            out.push(Object::NetworkPolicy(NetworkPolicy {
                metadata: self.meta(&format!("{name}-published"), self.service_labels(name)),
                spec: Some(NetworkPolicySpec {
                    pod_selector: Some(LabelSelector {
                        match_labels: Some(self.selector_labels(name)),
                        ..Default::default()
                    }),
                    policy_types: Some(vec!["Ingress".into()]),
                    ingress: Some(vec![NetworkPolicyIngressRule { from: None, ports: Some(ports) }]),
                    egress: None,
                }),
            }));
        }
        out
    }

    /// Secret, PVCs (Deployments only), Service and workload of one topology service.
    fn service(&mut self, s: &topo::Service) -> Vec<Object> {
        let name = s.name.as_str();
        self.notes(s);
        let mut refs = SecretRefs::default();
        let mut container = self.container(s, &mut refs);
        let (env, secret) = self.env_vars(s, &refs);
        container.env = (!env.is_empty()).then_some(env);
        let mut out: Vec<Object> = secret.into_iter().collect();
        let claims = self.volume_mounts(s, &mut container);
        if let Some(svc) = self.governing_service(s) {
            out.push(Object::Service(svc));
        }
        let mut pod_labels = self.service_labels(name);
        for net in &s.networks {
            pod_labels.insert(Self::network_label(net), "true".into());
        }
        let mut template = PodTemplateSpec {
            metadata: Some(ObjectMeta { labels: Some(pod_labels), ..Default::default() }),
            spec: Some(secure_pod(vec![container])),
        };
        self.vocabulary(s, &mut template, &mut out);
        if self.t.is_one_shot(name) {
            self.mount_claims(s, claims, &mut template, &mut out);
            out.push(self.job(s, template));
        } else if s.kind == WorkloadKind::Stateful {
            out.push(self.statefulset(s, template, claims));
        } else {
            self.mount_claims(s, claims, &mut template, &mut out);
            out.push(self.deployment(s, template));
        }
        out
    }

    /// Environment variables; secret ones, and those that carry the secrets of
    /// the command and probes (`refs`), come from the service's `NAME-env` Secret.
    fn env_vars(&mut self, s: &topo::Service, refs: &SecretRefs) -> (Vec<EnvVar>, Option<Object>) {
        let name = s.name.as_str();
        let secret_name = format!("{name}-env");
        let mut string_data: BTreeMap<String, String> = BTreeMap::new();
        let mut data: BTreeMap<String, ByteString> = BTreeMap::new();
        let mut env: Vec<EnvVar> = Vec::new();
        let carried = refs.vars.iter().map(|(k, v)| (k.as_str(), v));
        // Names written without a value pass the variable of the environment deploy runs in, when set (as Compose).
        let shell: Vec<(&str, Value)> = s
            .environment_from_shell
            .iter()
            .filter(|n| self.env.get(n).is_some())
            .map(|n| (n.as_str(), Value { secret: topo::is_secret_name(n), ..Value::literal(format!("${{{n}}}")) }))
            .collect();
        let files = s.environment_with_files();
        // A secret read from an env file is not in the topology: `deploy render` writes a placeholder for it.
        let from_file =
            |k: &str| !s.environment.contains_key(k) && s.env_files.iter().any(|f| f.values.contains_key(k));
        for (k, v) in files.into_iter().chain(shell.iter().map(|(k, v)| (*k, v))).chain(carried) {
            let k = &k.to_string();
            if !v.secret {
                let value = self.value(name, v);
                env.push(EnvVar { name: k.clone(), value: Some(value), value_from: None });
                continue;
            }
            match self.mode {
                SecretMode::AsWritten => {
                    let raw = if from_file(k) { format!("${{{k}}}") } else { v.raw.clone() };
                    string_data.insert(k.clone(), raw);
                }
                SecretMode::Resolved => {
                    if let Some(x) = self.resolve(name, v) {
                        data.insert(k.clone(), ByteString(x.into_bytes()));
                    }
                }
            }
            let key_ref = SecretKeySelector { name: secret_name.clone(), key: k.clone(), optional: None };
            let from = EnvVarSource { secret_key_ref: Some(key_ref), ..Default::default() };
            env.push(EnvVar { name: k.clone(), value: None, value_from: Some(from) });
        }
        let secret = (!string_data.is_empty() || !data.is_empty()).then(|| {
            Object::Secret(Secret {
                metadata: self.meta(&secret_name, self.service_labels(name)),
                type_: Some("Opaque".into()),
                string_data: (!string_data.is_empty()).then_some(string_data),
                data: (!data.is_empty()).then_some(data),
                immutable: None,
            })
        });
        (env, secret)
    }

    /// A command argument: a secret one is `$(VAR)`, Kubernetes' expansion of
    /// an env var that carries it from the Secret.
    fn arg(&mut self, s: &topo::Service, v: &Value, refs: &mut SecretRefs) -> String {
        if v.secret { format!("$({})", refs.carrier(s, v)) } else { self.value(&s.name, v) }
    }

    fn container(&mut self, s: &topo::Service, refs: &mut SecretRefs) -> Container {
        let name = s.name.as_str();
        let ports = s.container_ports();
        let mut container = Container {
            name: name.to_string(),
            image: Some(self.value(name, &s.image)),
            command: s.entrypoint.as_ref().map(|e| e.iter().map(|v| self.arg(s, v, refs)).collect()),
            args: s.command.as_ref().map(|c| c.iter().map(|v| self.arg(s, v, refs)).collect()),
            ports: (!ports.is_empty()).then(|| {
                ports
                    .iter()
                    .map(|(p, pr)| ContainerPort {
                        container_port: i32::from(*p),
                        name: Some(port_name(*p, *pr)),
                        protocol: Some(proto(*pr)),
                        ..Default::default()
                    })
                    .collect()
            }),
            resources: self.resources(s),
            security_context: Some(container_security()),
            ..Default::default()
        };
        self.probes(s, &mut container, refs);
        container
    }

    /// Mounts named volumes into the container; returns the claims they need.
    fn volume_mounts(&mut self, s: &topo::Service, container: &mut Container) -> Vec<PersistentVolumeClaim> {
        let name = s.name.as_str();
        let mut mounts: Vec<VolumeMount> = Vec::new();
        let mut claim_keys: Vec<&str> = Vec::new();
        for m in &s.mounts {
            let key = match &m.source {
                MountSource::Bind(_) => {
                    self.warn(format!(
                        "service `{name}`: bind mount `{}` is skipped (a host path cannot be mounted into a Kubernetes pod portably); bake the files into the image or use a ConfigMap",
                        m.short()
                    ));
                    continue;
                }
                MountSource::Volume(key) => key,
                // emptyDirs (render/vocab.rs).
                MountSource::Anonymous | MountSource::Tmpfs => continue,
            };
            mounts.push(VolumeMount {
                name: k8s_name(key),
                mount_path: m.target.clone(),
                read_only: m.read_only.then_some(true),
                sub_path: m.volume.as_ref().and_then(|v| v.subpath.clone()),
                ..Default::default()
            });
            // An external volume's claim is not made here: it must exist (render/vocab/network.rs).
            let external = self.t.volumes.get(key).is_some_and(|v| v.external);
            if !claim_keys.contains(&key.as_str()) && !external {
                claim_keys.push(key);
            }
            self.warn_shared(name, key);
        }
        if !mounts.is_empty() {
            container.volume_mounts = Some(mounts);
        }
        claim_keys.iter().map(|k| self.claim(name, k)).collect()
    }

    fn warn_shared(&mut self, service: &str, key: &str) {
        let users = self.volume_users.get(key).into_iter().flatten().copied();
        let shared: Vec<&str> = users.filter(|o| *o != service).collect();
        if !shared.is_empty() {
            self.warn(format!(
                "volume `{key}` is mounted by `{service}` and `{}`: on Kubernetes each workload gets its own PersistentVolumeClaim, so the data is not shared",
                shared.join("`, `")
            ));
        }
    }

    /// The Service in front of the pods: ClusterIP with the ports, or headless
    /// for a StatefulSet without ports (it needs a governing Service).
    fn governing_service(&self, s: &topo::Service) -> Option<Service> {
        let name = s.name.as_str();
        let ports = s.container_ports();
        let spec = if !ports.is_empty() {
            let ports = ports
                .iter()
                .map(|(p, pr)| ServicePort {
                    name: Some(port_name(*p, *pr)),
                    port: i32::from(*p),
                    target_port: Some(IntOrString::Int(i32::from(*p))),
                    protocol: Some(proto(*pr)),
                    ..Default::default()
                })
                .collect();
            ServiceSpec {
                type_: Some("ClusterIP".into()),
                selector: Some(self.selector_labels(name)),
                ports: Some(ports),
                ..Default::default()
            }
        } else if s.kind == WorkloadKind::Stateful && !self.t.is_one_shot(name) {
            ServiceSpec {
                cluster_ip: Some("None".into()),
                selector: Some(self.selector_labels(name)),
                ..Default::default()
            }
        } else {
            return None;
        };
        Some(Service { metadata: self.meta(name, self.service_labels(name)), spec: Some(spec), status: None })
    }

    /// Deployments and Jobs have no claim templates: their claims are objects of their own.
    fn mount_claims(
        &mut self,
        s: &topo::Service,
        claims: Vec<PersistentVolumeClaim>,
        template: &mut PodTemplateSpec,
        out: &mut Vec<Object>,
    ) {
        let name = s.name.as_str();
        if claims.is_empty() {
            return;
        }
        if s.replicas > 1 {
            self.warn(format!(
                "service `{name}` is stateless with {} replicas and mounts named volumes: its ReadWriteOnce PersistentVolumeClaims can only be mounted on one node; make it `kind: stateful`",
                s.replicas
            ));
        }
        let mut volumes = Vec::new();
        for mut c in claims {
            let vol = c.metadata.name.clone().unwrap_or_default();
            let claim_name = format!("{name}-{vol}");
            c.metadata = self.meta(&claim_name, self.service_labels(name));
            let source = PersistentVolumeClaimVolumeSource { claim_name, read_only: None };
            volumes.push(PodVolume { name: vol, persistent_volume_claim: Some(source), ..Default::default() });
            out.push(Object::PersistentVolumeClaim(c));
        }
        if let Some(spec) = template.spec.as_mut() {
            spec.volumes.get_or_insert_with(Vec::new).extend(volumes);
        }
    }

    fn selector(&self, name: &str) -> LabelSelector {
        LabelSelector { match_labels: Some(self.selector_labels(name)), ..Default::default() }
    }

    fn statefulset(&self, s: &topo::Service, template: PodTemplateSpec, claims: Vec<PersistentVolumeClaim>) -> Object {
        let name = s.name.as_str();
        Object::StatefulSet(StatefulSet {
            metadata: self.meta(name, self.service_labels(name)),
            spec: Some(StatefulSetSpec {
                replicas: Some(i32::try_from(s.replicas).unwrap_or(i32::MAX)),
                selector: self.selector(name),
                service_name: Some(name.to_string()),
                template,
                volume_claim_templates: (!claims.is_empty()).then_some(claims),
                ..Default::default()
            }),
            status: None,
        })
    }

    fn deployment(&self, s: &topo::Service, template: PodTemplateSpec) -> Object {
        let name = s.name.as_str();
        Object::Deployment(Deployment {
            metadata: self.meta(name, self.service_labels(name)),
            spec: Some(DeploymentSpec {
                replicas: Some(i32::try_from(s.replicas).unwrap_or(i32::MAX)),
                selector: self.selector(name),
                template,
                ..Default::default()
            }),
            status: None,
        })
    }

    /// A one-shot: a Job whose pod runs once (`restart: no`: never retried, as
    /// on Compose) or until it succeeds (`on-failure[:N]`: at most N retries, 6
    /// by default). Its template is immutable on the cluster, so it carries a
    /// hash of itself: apply re-creates the Job when the hash changes.
    fn job(&self, s: &topo::Service, mut template: PodTemplateSpec) -> Object {
        let name = s.name.as_str();
        let (policy, backoff) = match s.restart {
            Some(Restart::OnFailure(n)) => ("OnFailure", n.map_or(6, |n| clamp_i32(u64::from(n)))),
            _ => ("Never", 0),
        };
        if let Some(spec) = template.spec.as_mut() {
            spec.restart_policy = Some(policy.into());
        }
        let mut meta = self.meta(name, self.service_labels(name));
        meta.annotations = Some(BTreeMap::from([(TEMPLATE_HASH.to_string(), template_hash(&template))]));
        Object::Job(Job {
            metadata: meta,
            spec: Some(JobSpec { backoff_limit: Some(backoff), template, ..Default::default() }),
            status: None,
        })
    }

    /// The claim (template) for a named volume.
    fn claim(&self, service: &str, key: &str) -> PersistentVolumeClaim {
        let v = self.t.volumes.get(key);
        let size = v.map_or(topo::DEFAULT_VOLUME_SIZE, |v| v.size);
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(k8s_name(key)),
                labels: Some(self.service_labels(service)),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                access_modes: Some(vec!["ReadWriteOnce".into()]),
                resources: Some(VolumeResourceRequirements {
                    requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size.to_k8s()))])),
                    limits: None,
                }),
                storage_class_name: v.and_then(|v| v.storage_class.clone()),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn resources(&self, s: &topo::Service) -> Option<ResourceRequirements> {
        let amount = |a: &topo::Amount| -> Option<BTreeMap<String, Quantity>> {
            let mut m = BTreeMap::new();
            if let Some(c) = a.cpus {
                m.insert("cpu".to_string(), Quantity(c.to_k8s()));
            }
            if let Some(b) = a.memory {
                m.insert("memory".to_string(), Quantity(b.to_k8s()));
            }
            (!m.is_empty()).then_some(m)
        };
        let limits = amount(&s.resources.limits);
        let requests = amount(&s.resources.reservations);
        (limits.is_some() || requests.is_some()).then_some(ResourceRequirements {
            limits,
            requests,
            ..Default::default()
        })
    }

    /// The probe's command. One that uses a secret reads it from the
    /// environment (an env var from the Secret): an exec probe becomes `sh -c`
    /// with that argument as `"$VAR"`, a shell probe `sh -c 'eval "$VAR"'` (the
    /// same command line, run by the same shell).
    fn probe_command(&mut self, s: &topo::Service, test: &ProbeTest, refs: &mut SecretRefs) -> Vec<String> {
        let name = s.name.as_str();
        match test {
            ProbeTest::Exec(v) if v.iter().any(|x| x.secret) => {
                let words: Vec<String> =
                    v.iter()
                        .map(|x| {
                            if x.secret {
                                format!("\"${}\"", refs.carrier(s, x))
                            } else {
                                sh_quote(&self.value(name, x))
                            }
                        })
                        .collect();
                vec!["sh".into(), "-c".into(), words.join(" ")]
            }
            ProbeTest::Exec(v) => v.iter().map(|x| self.value(name, x)).collect(),
            ProbeTest::Shell(x) if x.secret => {
                vec!["sh".into(), "-c".into(), format!("eval \"${}\"", refs.carrier(s, x))]
            }
            ProbeTest::Shell(x) => vec!["sh".into(), "-c".into(), self.value(name, x)],
        }
    }

    /// Healthcheck → readiness and liveness probes, plus a startup probe for `start_period`.
    fn probes(&mut self, s: &topo::Service, c: &mut Container, refs: &mut SecretRefs) {
        let Some(h) = &s.healthcheck else { return };
        let name = s.name.as_str();
        let command = self.probe_command(s, &h.test, refs);
        for (what, d) in [("interval", h.interval), ("timeout", h.timeout), ("start_period", h.start_period)] {
            if let Some(d) = d
                && d.get().subsec_nanos() > 0
            {
                self.warn(format!(
                    "service `{name}`: healthcheck {what} {d} is rounded up to {}s (Kubernetes probes count whole seconds)",
                    probe_seconds(d.get())
                ));
            }
        }
        let period = probe_seconds(h.interval_or_default());
        let timeout = probe_seconds(h.timeout_or_default());
        let retries = clamp_i32(u64::from(h.retries_or_default().max(1)));
        let exec = Some(ExecAction { command: Some(command) });
        let probe = Probe {
            exec: exec.clone(),
            period_seconds: Some(period),
            timeout_seconds: Some(timeout),
            failure_threshold: Some(retries),
            ..Default::default()
        };
        c.readiness_probe = Some(probe.clone());
        c.liveness_probe = Some(probe);
        let start = h.start_period_or_default();
        if !start.is_zero() {
            // Probe every second during the start period so the pod is ready as soon as the
            // service answers; failures in the start period do not count (Compose semantics),
            // then `retries` more failures fail it. Liveness/readiness start after it succeeds.
            let start_secs = u64::try_from(probe_seconds(start)).unwrap_or(1);
            c.startup_probe = Some(Probe {
                exec,
                period_seconds: Some(1),
                timeout_seconds: Some(timeout),
                failure_threshold: Some(clamp_i32(start_secs + u64::from(h.retries_or_default().max(1)))),
                ..Default::default()
            });
        }
    }

    /// Warnings for what Kubernetes does not map.
    fn notes(&mut self, s: &topo::Service) {
        let name = s.name.as_str();
        if let Some(r @ (Restart::No | Restart::OnFailure(_))) = s.restart
            && !self.t.is_one_shot(name)
        {
            self.warn(format!(
                "service `{name}`: `restart: {r}` has no Kubernetes equivalent for a long-running service; StatefulSet and Deployment pods always restart (a service that runs to completion, one a dependent waits for with `service_completed_successfully`, becomes a Job)"
            ));
        }
        if let Some(b) = &s.build {
            self.warn(build_note(name, b, &s.image));
        }
        for p in &s.ports {
            let host = p.host.unwrap_or(p.container);
            self.warn(format!(
                "service `{name}` publishes port {}: on Kubernetes its Service is ClusterIP (cluster-internal); reach it with `kubectl port-forward -n {} service/{name} {host}:{}`",
                p.short(),
                self.t.namespace,
                p.container
            ));
        }
    }
}

/// A `build:` service on Kubernetes: nothing builds or pushes there (and no
/// registry is known), so the cluster pulls the image by its name.
fn build_note(name: &str, b: &topo::Build, image: &topo::Value) -> String {
    let image = deploy_report::mask(&image.raw, image.secret);
    let context = b.context_or_default();
    if b.default_image {
        format!(
            "service `{name}` has `build` and no `image`: Kubernetes does not build, and `{image}` exists only in the Docker engine `deploy apply --target compose` built it in; build and push it to a registry the cluster pulls from, then set `image:` (`docker build -t REGISTRY/{image}:TAG {context} && docker push REGISTRY/{image}:TAG`; see docs/kubernetes.md)"
        )
    } else {
        format!(
            "service `{name}`: `build` is not done on Kubernetes; the cluster pulls `{image}`, so push it to a registry the cluster pulls from first (`docker build -t {image} {context} && docker push {image}`; see docs/kubernetes.md)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = include_str!("../../../manifests/learn-greek.yaml");
    const PROD: &str = include_str!("../../../profiles/prod.yaml");
    const DEV: &str = include_str!("../../../profiles/dev.yaml");

    fn prod() -> Topology {
        deploy_topology::from_str("learn-greek.yaml", BASE, Some(("prod", PROD)))
            .unwrap_or_else(|e| panic!("{}", e.render()))
    }
    fn dev() -> Topology {
        deploy_topology::from_str("learn-greek.yaml", BASE, Some(("dev", DEV)))
            .unwrap_or_else(|e| panic!("{}", e.render()))
    }
    fn env() -> Env {
        Env::from_pairs([("JWT_SECRET_KEY", "super-secret-value-123")])
    }
    #[test]
    fn parallel_yaml_is_the_sequential_yaml() {
        let mut y = String::from("name: many\nservices:\n");
        for i in 0..150 {
            y.push_str(&format!(
                "  s{i}:\n    image: img:{i}\n    ports: [\"{}:80\"]\n    volumes: [\"d{i}:/data\"]\n",
                20000 + i
            ));
        }
        y.push_str("volumes:\n");
        for i in 0..150 {
            y.push_str(&format!("  d{i}: {{}}\n"));
        }
        let t = deploy_topology::from_str("many.yaml", &y, None).unwrap_or_else(|e| panic!("{}", e.render()));
        let r = render(&t, &Env::default()).unwrap_or_else(|e| panic!("{e}"));
        assert!(r.objects.len() > 300, "{} objects", r.objects.len());
        let one = r.to_yaml_on(1);
        assert_eq!(one, documents(&r.objects));
        assert_eq!(one.matches("\n---\n").count(), r.objects.len() - 1);
        for threads in [2, 3, 7] {
            assert_eq!(r.to_yaml_on(threads), one, "{threads} threads");
        }
    }

    fn sts<'a>(r: &'a Rendered, name: &str) -> &'a StatefulSet {
        r.objects
            .iter()
            .find_map(|o| match o {
                Object::StatefulSet(s) if s.metadata.name.as_deref() == Some(name) => Some(s),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no StatefulSet {name}"))
    }
    fn svc<'a>(r: &'a Rendered, name: &str) -> &'a Service {
        r.objects
            .iter()
            .find_map(|o| match o {
                Object::Service(s) if s.metadata.name.as_deref() == Some(name) => Some(s),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no Service {name}"))
    }

    #[test]
    fn prod_redis_statefulset_matches_compose() {
        let r = render(&prod(), &env()).unwrap_or_else(|e| panic!("{}", e.render()));
        let s = sts(&r, "redis");
        assert_eq!(s.metadata.namespace.as_deref(), Some("learn-greek"));
        let spec = s.spec.as_ref().expect("spec");
        assert_eq!(spec.replicas, Some(1));
        assert_eq!(spec.service_name.as_deref(), Some("redis"));
        let sel = spec.selector.match_labels.as_ref().expect("selector");
        assert_eq!(sel.len(), 2);
        assert_eq!(sel.get(labels::NAME).map(String::as_str), Some("redis"));
        assert_eq!(sel.get(labels::INSTANCE).map(String::as_str), Some("learn-greek"));
        let pod = spec.template.spec.as_ref().expect("pod spec");
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("redis:7-alpine"));
        assert_eq!(c.command, None);
        assert_eq!(
            c.args.as_deref(),
            Some(
                &["redis-server", "--appendonly", "yes", "--maxmemory", "128mb", "--maxmemory-policy", "allkeys-lru"]
                    .map(String::from)[..]
            )
        );
        let res = c.resources.as_ref().expect("resources");
        let q =
            |m: &Option<BTreeMap<String, Quantity>>, k: &str| m.as_ref().and_then(|m| m.get(k)).map(|q| q.0.clone());
        assert_eq!(q(&res.limits, "cpu").as_deref(), Some("250m"));
        assert_eq!(q(&res.limits, "memory").as_deref(), Some("256Mi"));
        assert_eq!(q(&res.requests, "cpu").as_deref(), Some("100m"));
        assert_eq!(q(&res.requests, "memory").as_deref(), Some("64Mi"));
        for p in [&c.readiness_probe, &c.liveness_probe] {
            let p = p.as_ref().expect("probe");
            assert_eq!(
                p.exec.as_ref().and_then(|e| e.command.clone()),
                Some(vec!["redis-cli".to_string(), "ping".to_string()])
            );
            assert_eq!(p.period_seconds, Some(10));
            assert_eq!(p.timeout_seconds, Some(5));
            assert_eq!(p.failure_threshold, Some(3));
        }
        let sp = c.startup_probe.as_ref().expect("startup probe");
        assert_eq!(sp.period_seconds, Some(1));
        assert_eq!(sp.failure_threshold, Some(5 + 3));
        let vm = c.volume_mounts.as_ref().expect("mounts");
        assert_eq!(vm[0].name, "redis-data");
        assert_eq!(vm[0].mount_path, "/data");
        let claims = spec.volume_claim_templates.as_ref().expect("claims");
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].metadata.name.as_deref(), Some("redis-data"));
        let cs = claims[0].spec.as_ref().expect("claim spec");
        assert_eq!(cs.access_modes.as_deref(), Some(&["ReadWriteOnce".to_string()][..]));
        assert_eq!(q(&cs.resources.as_ref().expect("res").requests, "storage").as_deref(), Some("1Gi"));
        let pod_labels = spec.template.metadata.as_ref().and_then(|m| m.labels.as_ref()).expect("pod labels");
        assert_eq!(pod_labels.get("deploy.dev/network-learn-greek-network").map(String::as_str), Some("true"));
        // prod Redis: cluster-internal only
        let service = svc(&r, "redis");
        let ss = service.spec.as_ref().expect("svc spec");
        assert_eq!(ss.type_.as_deref(), Some("ClusterIP"));
        let ports = ss.ports.as_ref().expect("ports");
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].port, 6379);
        assert_eq!(ports[0].node_port, None);
        assert!(!r.objects.iter().any(|o| o.id() == "NetworkPolicy/redis-published"));
    }

    #[test]
    fn dev_redis_same_command_and_probe_published_port_is_a_warning() {
        let r = render(&dev(), &Env::default()).unwrap_or_else(|e| panic!("{}", e.render()));
        let p = render(&prod(), &env()).unwrap_or_else(|e| panic!("{}", e.render()));
        let c = |r: &Rendered| {
            sts(r, "redis").spec.as_ref().and_then(|s| s.template.spec.as_ref()).map(|s| s.containers[0].clone())
        };
        let (d, pr) = (c(&r).expect("dev"), c(&p).expect("prod"));
        assert_eq!(d.args, pr.args);
        assert_eq!(d.readiness_probe, pr.readiness_probe);
        assert_eq!(d.startup_probe, pr.startup_probe);
        assert_eq!(d.volume_mounts, pr.volume_mounts);
        assert_eq!(svc(&r, "redis").spec.as_ref().and_then(|s| s.type_.clone()).as_deref(), Some("ClusterIP"));
        assert!(
            r.warnings.iter().any(|w| w.contains("port-forward") && w.contains("service/redis 6379:6379")),
            "{:?}",
            r.warnings
        );
        assert!(
            r.warnings.iter().any(|w| w.contains("bind mount `./learn-greek-easy-backend/src:/app/src`")),
            "{:?}",
            r.warnings
        );
        assert!(r.objects.iter().any(|o| o.id() == "NetworkPolicy/redis-published"));
        assert_eq!(r.objects.first().map(Object::id).as_deref(), Some("Namespace/learn-greek-dev"));
    }

    #[test]
    fn secrets_holding_placeholders_are_refused_omitted_or_kept() {
        let r = render(&prod(), &env()).unwrap_or_else(|e| panic!("{}", e.render()));
        let found = r.placeholder_secrets();
        assert!(found.iter().any(|(n, keys)| n == "backend-env" && keys.contains(&"JWT_SECRET_KEY".to_string())));
        let err = r.clone().placeholder_policy(PlaceholderSecrets::Refuse).expect_err("refused");
        assert!(err.contains("Secret/backend-env") && err.contains("--secrets omit"), "{err}");
        assert!(err.contains("kubectl create secret generic backend-env -n learn-greek"), "{err}");
        let omitted = r.clone().placeholder_policy(PlaceholderSecrets::Omit).unwrap_or_default();
        assert!(omitted.placeholder_secrets().is_empty());
        assert!(!omitted.to_yaml().contains("${JWT_SECRET_KEY"), "{}", omitted.to_yaml());
        assert!(omitted.warnings.iter().any(|w| w.contains("Secret/backend-env left out")), "{:?}", omitted.warnings);
        let kept = r.placeholder_policy(PlaceholderSecrets::Keep).unwrap_or_default();
        assert!(kept.to_yaml().contains("${JWT_SECRET_KEY"));
        // dev writes its key as a literal: nothing to refuse
        let dev = render(&dev(), &env()).unwrap_or_else(|e| panic!("{}", e.render()));
        assert!(dev.placeholder_secrets().is_empty(), "{:?}", dev.placeholder_secrets());
    }

    #[test]
    fn secrets_stay_as_written_in_render_and_are_referenced() {
        let t = prod();
        let r = render(&t, &env()).unwrap_or_else(|e| panic!("{}", e.render()));
        let yaml = r.to_yaml();
        assert!(!yaml.contains("super-secret-value-123"), "{yaml}");
        let secret = r
            .objects
            .iter()
            .find_map(|o| match o {
                Object::Secret(s) if s.metadata.name.as_deref() == Some("backend-env") => Some(s),
                _ => None,
            })
            .expect("backend secret");
        let sd = secret.string_data.as_ref().expect("stringData");
        assert_eq!(sd.get("JWT_SECRET_KEY").map(String::as_str), Some("${JWT_SECRET_KEY:?JWT_SECRET_KEY is required}"));
        assert!(secret.data.is_none());
        let dep = r
            .workload("backend")
            .and_then(|o| match o {
                Object::Deployment(d) => d.spec.as_ref()?.template.spec.as_ref().map(|p| p.containers[0].clone()),
                _ => None,
            })
            .expect("backend deployment");
        let env = dep.env.expect("env");
        let jwt = env.iter().find(|e| e.name == "JWT_SECRET_KEY").expect("jwt");
        assert_eq!(jwt.value, None);
        let r#ref = jwt.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()).expect("secretKeyRef");
        assert_eq!((r#ref.name.as_str(), r#ref.key.as_str()), ("backend-env", "JWT_SECRET_KEY"));
        let redis_url = env.iter().find(|e| e.name == "REDIS_URL").expect("redis url");
        assert_eq!(redis_url.value.as_deref(), Some("redis://redis:6379/0"));
        let cors = env.iter().find(|e| e.name == "CORS_ORIGINS").expect("cors");
        assert_eq!(cors.value.as_deref(), Some("[\"https://yourdomain.com\"]"));
        // resolved mode: the real value, in data
        let r2 = render_with(&t, &self::env(), SecretMode::Resolved).unwrap_or_else(|e| panic!("{}", e.render()));
        let s2 = r2.objects.iter().find_map(|o| match o {
            Object::Secret(s) if s.metadata.name.as_deref() == Some("backend-env") => Some(s),
            _ => None,
        });
        let data = s2.and_then(|s| s.data.as_ref()).expect("data");
        assert_eq!(data.get("JWT_SECRET_KEY").map(|b| b.0.clone()), Some(b"super-secret-value-123".to_vec()));
    }

    #[test]
    fn secrets_in_command_and_probes_come_from_the_secret() {
        let text = "name: x\nvariables:\n  API_TOKEN: {secret: true}\nservices:\n  a:\n    image: redis\n    command: [\"serve\", \"${API_TOKEN}\", \"--auth=${API_TOKEN}\"]\n    healthcheck:\n      command: [redis-cli, -a, \"${API_TOKEN}\", \"it's\", ping]\n  b:\n    image: redis\n    environment:\n      API_TOKEN: x\n    healthcheck:\n      shell: 'redis-cli -a \"${API_TOKEN}\" ping'\n";
        let t = deploy_topology::from_str("x.yaml", text, None).unwrap_or_else(|e| panic!("{}", e.render()));
        let env = Env::from_pairs([("API_TOKEN", "tok-3141")]);
        let r = render_with(&t, &env, SecretMode::Resolved).unwrap_or_else(|e| panic!("{}", e.render()));
        for o in r.objects.iter().filter(|o| !matches!(o, Object::Secret(_))) {
            let json = serde_json::to_string(o).unwrap_or_default();
            assert!(!json.contains("tok-3141"), "{}: {json}", o.id());
        }
        let container = |s: &str| match r.workload(s) {
            Some(Object::Deployment(d)) => {
                d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).map(|p| p.containers[0].clone())
            }
            _ => None,
        };
        let a = container("a").expect("a");
        assert_eq!(a.args, Some(["serve", "$(API_TOKEN)", "$(DEPLOY_SECRET_0)"].map(String::from).to_vec()));
        let probe =
            |c: &Container| c.readiness_probe.as_ref().and_then(|p| p.exec.as_ref()).and_then(|e| e.command.clone());
        let want = ["sh", "-c", r#"redis-cli -a "$API_TOKEN" 'it'\''s' ping"#].map(String::from).to_vec();
        assert_eq!(probe(&a), Some(want));
        let names: Vec<String> = a.env.iter().flatten().map(|e| e.name.clone()).collect();
        assert_eq!(names, ["API_TOKEN", "DEPLOY_SECRET_0"]);
        // `b` has an env var API_TOKEN of its own: the probe's secret gets another name.
        let b = container("b").expect("b");
        assert_eq!(probe(&b), Some(["sh", "-c", r#"eval "$DEPLOY_SECRET_0""#].map(String::from).to_vec()));
        let secret = r.objects.iter().find_map(|o| match o {
            Object::Secret(s) if s.metadata.name.as_deref() == Some("b-env") => s.data.clone(),
            _ => None,
        });
        let data = secret.expect("b-env data");
        assert_eq!(data.get("DEPLOY_SECRET_0").map(|b| b.0.clone()), Some(br#"redis-cli -a "tok-3141" ping"#.to_vec()));
        // Rendered for review: placeholders, and no warning about the pod spec.
        let rendered = render(&t, &env).unwrap_or_else(|e| panic!("{}", e.render()));
        assert!(!rendered.to_yaml().contains("tok-3141"));
        assert!(rendered.warnings.iter().all(|w| !w.contains("pod spec")), "{:?}", rendered.warnings);
    }

    #[test]
    fn missing_required_variable_is_an_error_only_when_resolved() {
        let t = prod();
        // render keeps the secret placeholder: no error for JWT_SECRET_KEY
        assert!(render(&t, &Env::default()).is_ok());
        let e = render_with(&t, &Env::default(), SecretMode::Resolved).expect_err("error");
        assert!(e.render().contains("JWT_SECRET_KEY"), "{}", e.render());
        let text = "name: x\nservices:\n  a:\n    image: nginx\n    environment:\n      URL: ${NEEDED:?set it}\n";
        let t = deploy_topology::from_str("x.yaml", text, None).unwrap_or_else(|e| panic!("{}", e.render()));
        let e = render(&t, &Env::default()).expect_err("error");
        let msg = e.render();
        assert!(msg.contains("NEEDED") && msg.contains("x.yaml"), "{msg}");
    }

    #[test]
    fn network_policies_isolate_like_docker_networks() {
        let r = render(&prod(), &env()).unwrap_or_else(|e| panic!("{}", e.render()));
        let np: Vec<&NetworkPolicy> = r
            .objects
            .iter()
            .filter_map(|o| match o {
                Object::NetworkPolicy(n) => Some(n),
                _ => None,
            })
            .collect();
        let deny = np.iter().find(|n| n.metadata.name.as_deref() == Some("default-deny-ingress")).expect("deny");
        let ds = deny.spec.as_ref().expect("spec");
        assert_eq!(ds.ingress, None);
        assert_eq!(ds.policy_types.as_deref(), Some(&["Ingress".to_string()][..]));
        let net = np.iter().find(|n| n.metadata.name.as_deref() == Some("network-learn-greek-network")).expect("net");
        let ns = net.spec.as_ref().expect("spec");
        let from = ns.ingress.as_ref().and_then(|i| i[0].from.as_ref()).expect("from");
        assert_eq!(from[0].pod_selector, ns.pod_selector);
        // prod publishes frontend 80 and backend 8000 from anywhere
        assert!(np.iter().any(|n| n.metadata.name.as_deref() == Some("frontend-published")));
        assert!(np.iter().any(|n| n.metadata.name.as_deref() == Some("backend-published")));
    }

    #[test]
    fn restart_no_and_subsecond_durations_warn() {
        let text = "name: x\nservices:\n  a:\n    image: nginx\n    restart: \"no\"\n    healthcheck:\n      command: [true]\n      interval: 500ms\n      timeout: 1500ms\n";
        let t = deploy_topology::from_str("x.yaml", text, None).unwrap_or_else(|e| panic!("{}", e.render()));
        let r = render(&t, &Env::default()).unwrap_or_else(|e| panic!("{}", e.render()));
        assert!(r.warnings.iter().any(|w| w.contains("restart: no")), "{:?}", r.warnings);
        assert!(r.warnings.iter().any(|w| w.contains("interval 500ms is rounded up to 1s")), "{:?}", r.warnings);
        assert!(r.warnings.iter().any(|w| w.contains("timeout 1500ms is rounded up to 2s")), "{:?}", r.warnings);
        let Some(Object::Deployment(d)) = r.workload("a") else { panic!("deployment") };
        let c = &d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).expect("pod").containers[0];
        let p = c.readiness_probe.as_ref().expect("probe");
        assert_eq!((p.period_seconds, p.timeout_seconds), (Some(1), Some(2)));
        assert!(c.startup_probe.is_none());
    }

    #[test]
    fn every_workload_is_secure_by_default() {
        let text = "name: x\nservices:\n  migrate:\n    image: m\n    restart: \"no\"\n  db:\n    image: postgres:16-alpine\n    kind: stateful\n    volumes: [\"d:/var/lib/postgresql/data\"]\n  api:\n    image: a\n    depends_on:\n      migrate: {condition: service_completed_successfully}\n      db: {condition: service_started}\nvolumes:\n  d: {}\n";
        let t = deploy_topology::from_str("x.yaml", text, None).unwrap_or_else(|e| panic!("{}", e.render()));
        let r = render(&t, &Env::default()).unwrap_or_else(|e| panic!("{}", e.render()));
        let pod = |o: &Object| match o {
            Object::StatefulSet(s) => s.spec.as_ref().and_then(|s| s.template.spec.clone()),
            Object::Deployment(d) => d.spec.as_ref().and_then(|s| s.template.spec.clone()),
            Object::Job(j) => j.spec.as_ref().and_then(|s| s.template.spec.clone()),
            _ => None,
        };
        let kinds: Vec<String> = r.objects.iter().filter(|o| o.is_workload()).map(Object::id).collect();
        assert_eq!(kinds, ["Job/migrate", "StatefulSet/db", "Deployment/api"], "{kinds:?}");
        for o in r.objects.iter().filter(|o| o.is_workload()) {
            let p = pod(o).unwrap_or_else(|| panic!("{}: no pod spec", o.id()));
            assert_eq!(p.automount_service_account_token, Some(false), "{}", o.id());
            let seccomp = p.security_context.as_ref().and_then(|s| s.seccomp_profile.as_ref());
            assert_eq!(seccomp.map(|s| s.type_.as_str()), Some("RuntimeDefault"), "{}", o.id());
            assert_eq!(p.security_context.as_ref().and_then(|s| s.run_as_non_root), None, "{}", o.id());
            for c in &p.containers {
                let sc = c.security_context.as_ref().unwrap_or_else(|| panic!("{}: no securityContext", o.id()));
                assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", o.id());
                let drop = sc.capabilities.as_ref().and_then(|c| c.drop.clone());
                assert_eq!(drop, Some(vec!["NET_RAW".to_string()]), "{}", o.id());
                // Root images must still start: neither is forced.
                assert_eq!((sc.run_as_non_root, sc.read_only_root_filesystem), (None, None), "{}", o.id());
            }
        }
    }

    #[test]
    fn yaml_is_multi_document_with_kinds() {
        let r = render(&prod(), &env()).unwrap_or_else(|e| panic!("{}", e.render()));
        let y = r.to_yaml();
        assert_eq!(y.matches("\n---\n").count() + 1, r.objects.len());
        assert!(y.contains("kind: StatefulSet"));
        assert!(y.contains("apiVersion: apps/v1"));
    }
}
