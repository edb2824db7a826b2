//! The topology file as written: every field optional (so a profile can be
//! overlaid on a base), unknown fields rejected, positions kept for errors.

use std::cell::RefCell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use crate::diag::{Loc, SourceFile};
use crate::units::{ByteSize, Cpus, Dur};

thread_local! {
    /// The file being parsed, so that `Located` values know where they came from.
    static CURRENT: RefCell<Option<Arc<SourceFile>>> = const { RefCell::new(None) };
}

pub(crate) fn with_current_file<R>(file: &Arc<SourceFile>, f: impl FnOnce() -> R) -> R {
    CURRENT.with(|c| *c.borrow_mut() = Some(file.clone()));
    let r = f();
    CURRENT.with(|c| *c.borrow_mut() = None);
    r
}

/// A value with the place it was written. Equality and hashing ignore the place.
#[derive(Clone)]
pub struct Located<T> {
    pub value: T,
    pub loc: Option<Loc>,
}

impl<T> Located<T> {
    pub fn loc(&self) -> Option<&Loc> {
        self.loc.as_ref()
    }
}

impl<T: fmt::Debug> fmt::Debug for Located<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}
impl<T: PartialEq> PartialEq for Located<T> {
    fn eq(&self, o: &Self) -> bool {
        self.value == o.value
    }
}
impl<T: Eq> Eq for Located<T> {}
impl<T: Hash> Hash for Located<T> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.value.hash(h)
    }
}
impl std::borrow::Borrow<str> for Located<String> {
    fn borrow(&self) -> &str {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<T>::deserialize(d)?;
        let loc = CURRENT.with(|c| {
            c.borrow().as_ref().and_then(|file| {
                let l = s.referenced;
                (l.line() > 0).then(|| Loc { file: file.clone(), line: l.line() as u32, col: l.column() as u32 })
            })
        });
        Ok(Located { value: s.value, loc })
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(g)
    }
}

type L<T> = Located<T>;

/// A topology file, or a profile overlaid on one.
///
/// Keys starting with `x-` are extension fields, ignored as in Compose: the
/// place for YAML anchors (`x-defaults: &defaults`, then `<<: *defaults`).
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "deploy topology",
    description = "Services described once, rendered and applied to Docker Compose or Kubernetes.",
    extend("patternProperties" = { "^x-": {} })
)]
pub struct RawTopology {
    /// Project name: the Compose project and, unless `namespace` is set, the Kubernetes namespace.
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(max = 63))]
    pub name: Option<L<String>>,
    /// Kubernetes namespace (defaults to `name`).
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"), length(max = 63))]
    pub namespace: Option<L<String>>,
    /// Variables used in `${VAR}` interpolation that need a declaration (for example to mark them secret).
    #[serde(default)]
    pub variables: IndexMap<L<String>, RawVariable>,
    #[serde(default, deserialize_with = "extensible_values")]
    /// The services, by name (lowercase letters, digits and `-`, starting with a letter: the name becomes a DNS name).
    #[schemars(extend("propertyNames" = {"pattern": "^[a-z]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}))]
    pub services: IndexMap<L<String>, RawService>,
    #[serde(default)]
    /// Networks services join, by key (`{}` or empty for the defaults).
    pub networks: IndexMap<L<String>, Option<RawNetwork>>,
    #[serde(default)]
    /// Named volumes (Docker volumes; PersistentVolumeClaims on Kubernetes), by key; their data survives `destroy` unless `--volumes`.
    pub volumes: IndexMap<L<String>, Option<RawVolume>>,
    /// Secrets services mount (at `/run/secrets/KEY` unless they say otherwise): `{file}` or `{environment}`.
    #[serde(default)]
    pub secrets: IndexMap<L<String>, RawFileObject>,
    /// Configuration files services mount (at `/KEY` unless they say otherwise): `{file}`, `{environment}` or `{content}`.
    #[serde(default)]
    pub configs: IndexMap<L<String>, RawFileObject>,
    /// Ignored, as Compose ignores its obsolete `version:` key.
    pub version: Option<L<Scalar>>,
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawVariable {
    /// Values that use this variable are secret: masked in plans, diffs and logs, kept out of rendered files.
    pub secret: Option<bool>,
    /// What the variable is for (shown nowhere else: documentation for whoever sets it).
    pub description: Option<String>,
}

/// A service. Keys starting with `x-` are extension fields, ignored.
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
#[schemars(extend("patternProperties" = { "^x-": {} }))]
pub struct RawService {
    /// Container image, `${VAR}` interpolation allowed.
    pub image: Option<L<String>>,
    /// How Compose builds the image (not used by Kubernetes).
    pub build: Option<RawBuild>,
    /// Fixed container name on Docker.
    pub container_name: Option<L<String>>,
    /// Command: a string split like a shell does, or a list of arguments.
    pub command: Option<L<StringOrList>>,
    /// Entrypoint: replaces the image's; a string split like a shell does, or a list.
    pub entrypoint: Option<L<StringOrList>>,
    /// Environment: a map, or a list of `KEY=VALUE`. A map value may be `{value, secret}`.
    pub environment: Option<RawEnv>,
    /// Published ports: `"HOST:CONTAINER"`, `"IP:HOST:CONTAINER"`, `"CONTAINER"`, with an optional `/udp`.
    pub ports: Option<Vec<L<RawPort>>>,
    /// Compose's `expose`: container ports other services connect to. Rendered to Compose as
    /// written, and Kubernetes Service ports.
    pub expose: Option<Vec<L<u16>>>,
    /// Container ports other services connect to, for Kubernetes only: Service ports, like
    /// `expose`, but nothing is rendered to Compose (where containers on a network reach
    /// each other's ports without a declaration).
    pub listen: Option<Vec<L<u16>>>,
    /// Mounts: `volume:/path[:ro]` for a named volume, `./dir:/path[:opts]` for a bind mount.
    pub volumes: Option<Vec<L<RawMount>>>,
    /// Networks to join: a list of keys, or a map of key to `{aliases, ipv4_address, ipv6_address, priority}`.
    pub networks: Option<RawServiceNetworks>,
    /// The readiness probe: Docker's health check on Compose, readiness and liveness probes on Kubernetes.
    pub healthcheck: Option<RawHealth>,
    /// CPU and memory limits and reservations.
    pub resources: Option<RawResources>,
    /// `no`, `always`, `on-failure[:N]` or `unless-stopped`.
    #[schemars(extend("anyOf" = [{"enum": ["no", "always", "on-failure", "unless-stopped"]}, {"type": "string", "pattern": "^on-failure:[0-9]+$"}]))]
    pub restart: Option<L<String>>,
    /// Compose's `deploy.resources` and `deploy.replicas`: the same as `resources` and `replicas`.
    pub deploy: Option<RawDeploy>,
    /// User (and group) the process runs as: `NAME`, `UID`, `UID:GID`.
    pub user: Option<L<String>>,
    /// Working directory of the process.
    pub working_dir: Option<L<String>>,
    /// Host name inside the container.
    pub hostname: Option<L<String>>,
    /// Linux capabilities added (`NET_ADMIN`, `ALL`...).
    pub cap_add: Option<Vec<L<String>>>,
    /// Linux capabilities dropped.
    pub cap_drop: Option<Vec<L<String>>>,
    /// Mount the container's root filesystem read-only.
    pub read_only: Option<L<bool>>,
    /// Run with every privilege of the host.
    pub privileged: Option<L<bool>>,
    /// Run an init process (tini) as PID 1 that forwards signals and reaps zombies.
    pub init: Option<L<bool>>,
    /// Kernel parameters: a map, or a list of `NAME=VALUE`.
    pub sysctls: Option<RawStringMap>,
    /// Size of `/dev/shm` (`64m`, `1g`...).
    pub shm_size: Option<L<ByteSize>>,
    /// Memory-backed directories: a path, or a list of `PATH[:OPTIONS]` (`/run:size=64m,mode=1777`).
    pub tmpfs: Option<L<StringOrList>>,
    /// Resource limits of the process: `NAME: N`, or `NAME: {soft, hard}`.
    pub ulimits: Option<IndexMap<L<String>, L<RawUlimit>>>,
    /// Signal that stops the container (default `SIGTERM`).
    pub stop_signal: Option<L<String>>,
    /// How long to wait after the stop signal before killing (default `10s`).
    pub stop_grace_period: Option<L<Dur>>,
    /// Container labels: a map, or a list of `NAME=VALUE`.
    pub labels: Option<RawStringMap>,
    /// Extra `/etc/hosts` entries: a list of `HOST:IP` or `HOST=IP`, or a map of host to IP.
    pub extra_hosts: Option<RawExtraHosts>,
    /// DNS servers: one address or a list.
    pub dns: Option<L<StringOrList>>,
    /// DNS search domains: one domain or a list.
    pub dns_search: Option<L<StringOrList>>,
    /// Resolver options (`ndots:2`...).
    pub dns_opt: Option<Vec<L<String>>>,
    /// Target platform of the image (`linux/amd64`).
    pub platform: Option<L<String>>,
    /// When to pull the image: `always`, `never`, `missing` (or `if_not_present`), `build`, `daily`, `weekly`, `every_<duration>`.
    pub pull_policy: Option<L<String>>,
    /// Log driver and options.
    pub logging: Option<RawLogging>,
    /// Host devices: `HOST[:CONTAINER[:PERMISSIONS]]`, or `{source, target, permissions}`.
    pub devices: Option<Vec<L<RawDevice>>>,
    /// `bridge`, `host`, `none`, `service:NAME` or `container:NAME` (instead of `networks`).
    pub network_mode: Option<L<String>>,
    /// OCI runtime (`runc`, `io.containerd.wasmedge.v1`...).
    pub runtime: Option<L<String>>,
    /// Security options (`no-new-privileges:true`, `apparmor:unconfined`, `seccomp:unconfined`, `label:...`).
    pub security_opt: Option<Vec<L<String>>>,
    /// Allocate a terminal.
    pub tty: Option<L<bool>>,
    /// Keep standard input open.
    pub stdin_open: Option<L<bool>>,
    /// Files of `NAME=VALUE` lines (read like `.env`) that add to the environment: a path, or a list of paths or `{path, required}`.
    pub env_file: Option<L<RawEnvFiles>>,
    /// Top-level secrets to mount: a key, or `{source, target, uid, gid, mode}`.
    pub secrets: Option<Vec<L<RawFileRef>>>,
    /// Top-level configs to mount: a key, or `{source, target, uid, gid, mode}`.
    pub configs: Option<Vec<L<RawFileRef>>>,
    /// A list of services, or a map of service to `{condition}`.
    pub depends_on: Option<RawDepends>,
    /// Number of replicas on Kubernetes (Compose runs one container per service).
    pub replicas: Option<L<u32>>,
    /// `stateful` (StatefulSet) or `stateless` (Deployment); by default stateful when a named volume is mounted.
    #[schemars(extend("enum" = ["stateful", "stateless", "job"]))]
    pub kind: Option<L<String>>,
    /// What must hold inside the running service once deployed (`deploy verify`); a profile adds or overrides checks by `name`.
    pub checks: Option<Vec<L<crate::checks::RawCheck>>>,
}

/// How Compose builds the image: a context directory (`build: ./dir`), or a
/// map of `context`, `dockerfile`, `target` and `args`.
#[derive(Default, Debug, Clone)]
pub struct RawBuild {
    pub context: Option<L<String>>,
    pub dockerfile: Option<L<String>>,
    pub target: Option<L<String>>,
    pub args: Option<RawBuildArgs>,
}

/// The long form of `build:`.
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawBuildLong {
    /// Directory sent to the engine, relative to the topology file (default `.`).
    pub context: Option<L<String>>,
    /// Dockerfile, relative to the context (default `Dockerfile`).
    pub dockerfile: Option<L<String>>,
    /// Stage of a multi-stage Dockerfile to build.
    pub target: Option<L<String>>,
    /// Build arguments (`ARG`): a map, or a list of `NAME=value`; `${VAR}` interpolation allowed.
    /// A name without a value takes the variable of that name, when set.
    pub args: Option<RawBuildArgs>,
}

/// `build:` in either form, for the JSON Schema.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum RawBuildForm {
    /// The build context directory.
    Context(String),
    Long(RawBuildLong),
}

impl JsonSchema for RawBuild {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawBuild".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawBuildForm::json_schema(g)
    }
}

/// Read by hand rather than as an untagged enum, which would lose positions.
impl<'de> Deserialize<'de> for RawBuild {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawBuild;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a build context directory, or a map with context, dockerfile, target and args")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<RawBuild, E> {
                Ok(RawBuild { context: Some(Located { value: s.to_string(), loc: None }), ..Default::default() })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, a: A) -> Result<RawBuild, A::Error> {
                let l = RawBuildLong::deserialize(serde::de::value::MapAccessDeserializer::new(a))?;
                Ok(RawBuild { context: l.context, dockerfile: l.dockerfile, target: l.target, args: l.args })
            }
        }
        d.deserialize_any(V)
    }
}

/// Build arguments: a map of name to value (a value may be empty or null), or a list of `NAME[=value]`.
pub type RawBuildArgs = RawStringMap;

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum StringOrList {
    String(String),
    /// Numbers and booleans in the list are read as their text (`[CMD, redis-cli, -p, 6379, ping]`), as in Compose.
    List(#[serde(deserialize_with = "vocab::scalar_strings")] Vec<String>),
}

#[derive(JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawEnv {
    Map(IndexMap<L<String>, L<Option<RawEnvValue>>>),
    List(Vec<L<String>>),
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawEnvValue {
    Detailed(RawEnvDetailed),
    Scalar(Scalar),
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawEnvDetailed {
    /// The value (`${VAR}` interpolation allowed).
    pub value: Scalar,
    #[serde(default)]
    /// Mask this value in plans, diffs and logs (and keep it in a Secret on Kubernetes).
    pub secret: bool,
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum Scalar {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    pub fn into_string(self) -> String {
        match self {
            Scalar::String(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawPort {
    Number(u16),
    Short(String),
    Long(RawPortLong),
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawMount {
    Short(String),
    Long(Box<RawMountLong>),
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// Exec form: the probe command and its arguments, run without a shell.
    pub command: Option<L<Vec<String>>>,
    /// Shell form: a command line run with `sh -c`.
    pub shell: Option<L<String>>,
    /// Compose's form: `[CMD, prog, args...]` (as `command`), `[CMD-SHELL, "line"]` or a string (as `shell`),
    /// or `[NONE]` (the image's own healthcheck turned off).
    pub test: Option<L<StringOrList>>,
    /// `true`: the image's own healthcheck turned off.
    pub disable: Option<L<bool>>,
    /// Interval between probes during the start period.
    pub start_interval: Option<L<Dur>>,
    pub interval: Option<L<Dur>>,
    pub timeout: Option<L<Dur>>,
    /// Consecutive failures before the service counts as unhealthy.
    pub retries: Option<L<u32>>,
    pub start_period: Option<L<Dur>>,
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawResources {
    /// Hard limits (Compose `deploy.resources.limits`, Kubernetes `limits`).
    pub limits: Option<RawAmount>,
    /// Guaranteed amounts (Compose `deploy.resources.reservations`, Kubernetes `requests`).
    pub reservations: Option<RawAmount>,
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawAmount {
    pub cpus: Option<L<Cpus>>,
    pub memory: Option<L<ByteSize>>,
}

#[derive(JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawDepends {
    List(Vec<L<String>>),
    Map(IndexMap<L<String>, RawDependency>),
}

#[derive(Deserialize, JsonSchema, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDependency {
    /// `service_started` (default), `service_healthy` or `service_completed_successfully`.
    #[schemars(extend("enum" = ["service_started", "service_healthy", "service_completed_successfully"]))]
    pub condition: Option<L<String>>,
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// Name of the network on Docker (defaults to `<project>_<key>`).
    pub name: Option<L<String>>,
    /// Docker network driver (default `bridge`).
    pub driver: Option<L<String>>,
    /// Created outside the project: deploy uses it and never creates or removes it (its name is `name`, else the key).
    pub external: Option<L<bool>>,
    /// No access to the outside world.
    pub internal: Option<L<bool>>,
    /// Standalone containers may join it too.
    pub attachable: Option<L<bool>>,
    /// Give the network IPv6 addresses too.
    pub enable_ipv6: Option<L<bool>>,
    /// Options of the driver.
    pub driver_opts: Option<IndexMap<L<String>, L<Scalar>>>,
    /// Labels of the Docker network.
    pub labels: Option<RawStringMap>,
    /// IP address management: `{driver, config: [{subnet, ip_range, gateway, aux_addresses}], options}`.
    pub ipam: Option<L<RawIpam>>,
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawVolume {
    /// Name of the volume on Docker (defaults to `<project>_<key>`).
    pub name: Option<L<String>>,
    /// Requested capacity of the PersistentVolumeClaim on Kubernetes (default 1Gi).
    pub size: Option<L<ByteSize>>,
    /// Kubernetes storage class (default: the cluster's default class).
    pub storage_class: Option<L<String>>,
    /// Created outside the project: deploy uses it and never creates or removes it (its name is `name`, else the key).
    pub external: Option<L<bool>>,
    /// Docker volume driver (default `local`).
    pub driver: Option<L<String>>,
    /// Options of the driver.
    pub driver_opts: Option<IndexMap<L<String>, L<Scalar>>>,
    /// Labels of the Docker volume.
    pub labels: Option<RawStringMap>,
}

// ---- overlay ---------------------------------------------------------------

/// Overlay `over` onto `self`: scalars and lists are replaced, maps merge by key,
/// nested objects merge field by field.
pub trait Overlay {
    fn overlay(&mut self, over: Self);
}

macro_rules! replace {
    ($s:ident, $o:ident; $($f:ident),*) => { $( if $o.$f.is_some() { $s.$f = $o.$f; } )* };
}
macro_rules! nested {
    ($s:ident, $o:ident; $($f:ident),*) => {
        $( match (&mut $s.$f, $o.$f) {
            (Some(a), Some(b)) => a.overlay(b),
            (a @ None, b @ Some(_)) => *a = b,
            _ => {}
        } )*
    };
}

macro_rules! seq_or_map {
    ($ty:ident, $key:ty, $val:ty, $expect:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expect)
                    }
                    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<$ty, A::Error> {
                        let mut out = Vec::new();
                        while let Some(x) = a.next_element::<L<String>>()? {
                            out.push(x);
                        }
                        Ok($ty::List(out))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<$ty, A::Error> {
                        let mut out = IndexMap::new();
                        while let Some((k, v)) = a.next_entry::<$key, $val>()? {
                            out.insert(k, v);
                        }
                        Ok($ty::Map(out))
                    }
                }
                d.deserialize_any(V)
            }
        }
    };
}

mod vocab;
pub use vocab::*;

fn overlay_map<K: Hash + Eq, V: Overlay>(base: &mut IndexMap<K, V>, over: IndexMap<K, V>) {
    for (k, v) in over {
        match base.get_mut(&k) {
            Some(b) => b.overlay(v),
            None => {
                base.insert(k, v);
            }
        }
    }
}

impl<T: Overlay> Overlay for Option<T> {
    fn overlay(&mut self, over: Self) {
        match (self.as_mut(), over) {
            (Some(a), Some(b)) => a.overlay(b),
            (None, b @ Some(_)) => *self = b,
            _ => {}
        }
    }
}

impl Overlay for RawTopology {
    fn overlay(&mut self, o: Self) {
        replace!(self, o; name, namespace);
        overlay_map(&mut self.variables, o.variables);
        overlay_map(&mut self.services, o.services);
        overlay_map(&mut self.networks, o.networks);
        overlay_map(&mut self.volumes, o.volumes);
        overlay_map(&mut self.secrets, o.secrets);
        overlay_map(&mut self.configs, o.configs);
        replace!(self, o; version);
    }
}

impl Overlay for RawVariable {
    fn overlay(&mut self, o: Self) {
        replace!(self, o; secret, description);
    }
}

impl Overlay for RawService {
    fn overlay(&mut self, o: Self) {
        vocab::overlay_service(self, &o);
        replace!(self, o; image, container_name, command, entrypoint, ports, expose, listen, volumes, networks, restart, replicas, kind);
        nested!(self, o; build, healthcheck, resources);
        crate::checks::overlay(&mut self.checks, o.checks);
        match (&mut self.environment, o.environment) {
            (Some(a), Some(b)) => {
                let mut merged = a.clone().into_map();
                merged.extend(b.into_map());
                *a = RawEnv::Map(merged);
            }
            (a @ None, b @ Some(_)) => *a = b,
            _ => {}
        }
        match (&mut self.depends_on, o.depends_on) {
            (Some(a), Some(b)) => {
                let mut merged = a.clone().into_map();
                merged.extend(b.into_map());
                *a = RawDepends::Map(merged);
            }
            (a @ None, b @ Some(_)) => *a = b,
            _ => {}
        }
    }
}

impl RawEnv {
    /// The list form `KEY=VALUE` as a map.
    /// `KEY` alone (as `KEY:` or `KEY: null` in a map) has no value: the container gets the
    /// shell's `KEY`, as in Compose.
    pub fn into_map(self) -> IndexMap<L<String>, L<Option<RawEnvValue>>> {
        match self {
            RawEnv::Map(m) => m,
            RawEnv::List(l) => l
                .into_iter()
                .map(|item| {
                    let (k, v) = match item.value.split_once('=') {
                        Some((k, v)) => (k, Some(RawEnvValue::Scalar(Scalar::String(v.to_string())))),
                        None => (item.value.as_str(), None),
                    };
                    (Located { value: k.to_string(), loc: item.loc.clone() }, Located { value: v, loc: item.loc })
                })
                .collect(),
        }
    }
}

impl RawDepends {
    pub fn into_map(self) -> IndexMap<L<String>, RawDependency> {
        match self {
            RawDepends::Map(m) => m,
            RawDepends::List(l) => l.into_iter().map(|k| (k, RawDependency::default())).collect(),
        }
    }
}

impl Overlay for RawBuild {
    fn overlay(&mut self, o: Self) {
        replace!(self, o; context, dockerfile, target);
        // As in Compose, build arguments merge by name.
        match (&mut self.args, o.args) {
            (Some(a), Some(b)) => {
                let mut merged = a.clone().into_map();
                merged.extend(b.into_map());
                *a = RawBuildArgs::Map(merged);
            }
            (a @ None, b @ Some(_)) => *a = b,
            _ => {}
        }
    }
}
impl Overlay for RawHealth {
    fn overlay(&mut self, o: Self) {
        // The test forms are alternatives: setting one clears the others.
        if o.command.is_some() || o.shell.is_some() || o.test.is_some() || o.disable.is_some() {
            (self.command, self.shell, self.test, self.disable) = (o.command, o.shell, o.test, o.disable);
        }
        replace!(self, o; interval, timeout, retries, start_period, start_interval);
    }
}
impl Overlay for RawResources {
    fn overlay(&mut self, o: Self) {
        nested!(self, o; limits, reservations);
    }
}
impl Overlay for RawAmount {
    fn overlay(&mut self, o: Self) {
        replace!(self, o; cpus, memory);
    }
}
impl Overlay for RawNetwork {
    fn overlay(&mut self, o: Self) {
        replace!(self, o; name, driver, external, internal, attachable, enable_ipv6, driver_opts, ipam);
        nested!(self, o; labels);
    }
}
impl Overlay for RawVolume {
    fn overlay(&mut self, o: Self) {
        replace!(self, o; name, size, storage_class, external, driver, driver_opts);
        nested!(self, o; labels);
    }
}

// ---- list-or-map fields ------------------------------------------------------
// Written by hand rather than `#[serde(untagged)]`: untagged enums buffer their
// input, which loses the positions that `Located` keys need for errors.

seq_or_map!(RawEnv, L<String>, L<Option<RawEnvValue>>, "a map of NAME: value, or a list of NAME=value");
seq_or_map!(
    RawDepends,
    L<String>,
    RawDependency,
    "a list of service names, or a map of service name to {condition: ...}"
);

// ---- extension fields (`x-*`) --------------------------------------------------
// Compose ignores keys that start with `x-` at the top level and in services;
// users keep YAML anchors there. `deny_unknown_fields` would reject them, and
// `#[serde(flatten)]` would buffer the input and lose positions, so a wrapper
// drops them from the key stream of a struct before its derived visitor sees
// it. Every other key and every value still streams from serde-saphyr, and an
// unknown key is still reported at its own line and column.

/// Deserializes `T` (a struct) with its `x-*` keys skipped.
pub(crate) fn without_extensions<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    T::deserialize(Extensible(d))
}

/// A map whose values are structs that accept `x-*` extension fields.
fn extensible_values<'de, D, V>(d: D) -> Result<IndexMap<L<String>, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Seed<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::DeserializeSeed<'de> for Seed<V> {
        type Value = V;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<V, D::Error> {
            without_extensions(d)
        }
    }
    struct Map<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Map<V> {
        type Value = IndexMap<L<String>, V>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a map")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::new();
            while let Some(k) = a.next_key::<L<String>>()? {
                let v = a.next_value_seed(Seed(std::marker::PhantomData))?;
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Map(std::marker::PhantomData))
}

struct Extensible<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Extensible<D> {
    type Error = D::Error;

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, SkipExtensions(visitor))
    }

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// A struct visitor that never sees `x-*` keys.
struct SkipExtensions<V>(V);

impl<'de, V: serde::de::Visitor<'de>> serde::de::Visitor<'de> for SkipExtensions<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, a: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(WithoutExtensions(a))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }
}

struct WithoutExtensions<A>(A);

impl<'de, A: serde::de::MapAccess<'de>> serde::de::MapAccess<'de> for WithoutExtensions<A> {
    type Error = A::Error;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        use serde::de::IntoDeserializer as _;
        while let Some(key) = self.0.next_key::<String>()? {
            if key.starts_with("x-") {
                self.0.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            return seed.deserialize(key.into_deserializer()).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<S: serde::de::DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.0.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}
