//! The everyday Compose vocabulary as written: each field in Compose's own
//! spellings and value forms (short and long), positions kept for errors.
//! Validation (`validate/container.rs`, `validate/files.rs`) turns these into
//! the model.

use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

use super::{L, Located, Overlay, RawHealth, RawService, RawTopology, Scalar, StringOrList};
use crate::diag::{Diagnostic, Errors};
use crate::units::ByteSize;

/// A map of `NAME: value`, or a list of `NAME=value` (`labels`, `sysctls`).
/// A value may be a string, a number, a boolean, or empty; `NAME` alone in a list is empty.
#[derive(JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawStringMap {
    Map(IndexMap<L<String>, L<Option<Scalar>>>),
    List(Vec<L<String>>),
}

impl RawStringMap {
    /// The list form as a map: `NAME=value`, or `NAME` alone (no value).
    pub fn into_map(self) -> IndexMap<L<String>, L<Option<Scalar>>> {
        match self {
            RawStringMap::Map(m) => m,
            RawStringMap::List(l) => l
                .into_iter()
                .map(|item| {
                    let (k, v) = match item.value.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(Scalar::String(v.to_string()))),
                        None => (item.value.clone(), None),
                    };
                    (Located { value: k, loc: item.loc.clone() }, Located { value: v, loc: item.loc })
                })
                .collect(),
        }
    }
}

impl Overlay for RawStringMap {
    /// As in Compose, entries merge by name.
    fn overlay(&mut self, o: Self) {
        let mut merged = self.clone().into_map();
        merged.extend(o.into_map());
        *self = RawStringMap::Map(merged);
    }
}

/// `extra_hosts`: a list of `HOST:IP` or `HOST=IP`, or a map of host to an IP or a list of IPs.
#[derive(JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawExtraHosts {
    Map(IndexMap<L<String>, L<StringOrList>>),
    List(Vec<L<String>>),
}

/// The networks a service joins: a list of keys, or a map of key to its settings (or nothing).
#[derive(JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawServiceNetworks {
    Map(IndexMap<L<String>, Option<RawServiceNetwork>>),
    List(Vec<L<String>>),
}

impl RawServiceNetworks {
    /// The list form as a map with no settings.
    pub fn into_map(self) -> IndexMap<L<String>, Option<RawServiceNetwork>> {
        match self {
            RawServiceNetworks::Map(m) => m,
            RawServiceNetworks::List(l) => l.into_iter().map(|k| (k, None)).collect(),
        }
    }
}

/// How a service joins one network.
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawServiceNetwork {
    /// Other names the service is reachable by on this network (besides the service name).
    pub aliases: Option<Vec<L<String>>>,
    /// Fixed IPv4 address on this network (the network needs an `ipam` subnet).
    pub ipv4_address: Option<L<String>>,
    /// Fixed IPv6 address on this network.
    pub ipv6_address: Option<L<String>>,
    /// Order in which the networks are connected (higher first).
    pub priority: Option<L<i64>>,
}

/// One `ulimits` entry: a single number (soft and hard alike), or `{soft, hard}`.
#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawUlimit {
    Single(i64),
    Range(RawUlimitRange),
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawUlimitRange {
    /// The limit a process starts with.
    pub soft: i64,
    /// The most a process may raise it to.
    pub hard: i64,
}

/// `logging`: the container's log driver and its options.
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawLogging {
    /// Docker log driver (`json-file`, `local`, `syslog`, `none`...).
    pub driver: Option<L<String>>,
    /// Options of the driver (`max-size: 10m`...), `${VAR}` interpolation allowed.
    pub options: Option<IndexMap<L<String>, L<Option<Scalar>>>>,
}

impl Overlay for RawLogging {
    fn overlay(&mut self, o: Self) {
        replace!(self, o; driver, options);
    }
}

/// One `devices` entry: `HOST[:CONTAINER[:PERMISSIONS]]`, or `{source, target, permissions}`.
#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawDevice {
    Short(String),
    Long(RawDeviceLong),
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawDeviceLong {
    /// The device on the host, like `/dev/fuse`.
    pub source: String,
    /// Where it appears in the container (default: the same path).
    pub target: Option<String>,
    /// `r`, `w`, `m` or a combination (default `rwm`).
    pub permissions: Option<String>,
}

/// `env_file`: one path, or a list of paths or `{path, required}`.
#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawEnvFiles {
    One(String),
    Many(Vec<RawEnvFile>),
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawEnvFile {
    Path(String),
    Long(RawEnvFileLong),
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawEnvFileLong {
    /// The file, relative to the topology file.
    pub path: String,
    /// Whether a missing file is an error (default true).
    pub required: Option<bool>,
}

/// A service's use of a secret or config: its key, or `{source, target, uid, gid, mode}`.
#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(untagged)]
pub enum RawFileRef {
    Short(String),
    Long(RawFileRefLong),
}

#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawFileRefLong {
    /// The key of the top-level secret or config.
    pub source: String,
    /// Where it is mounted: a secret under `/run/secrets/` unless absolute, a config at `/<source>` by default.
    pub target: Option<String>,
    /// Owner user id of the mounted file.
    pub uid: Option<Scalar>,
    /// Owner group id of the mounted file.
    pub gid: Option<Scalar>,
    /// File mode, octal like `0440` (or a decimal number).
    pub mode: Option<Scalar>,
}

/// A top-level secret or config: where its content comes from.
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawFileObject {
    /// Name on the platform (defaults to `<project>_<key>` on Compose).
    pub name: Option<L<String>>,
    /// A file, relative to the topology file.
    pub file: Option<L<String>>,
    /// An environment variable of the shell deploy runs in.
    pub environment: Option<L<String>>,
    /// Inline content (configs only), `${VAR}` interpolation allowed.
    pub content: Option<L<String>>,
    /// Not supported: secrets and configs are created from `file`, `environment` or `content`.
    pub external: Option<L<bool>>,
}

impl Overlay for RawFileObject {
    fn overlay(&mut self, o: Self) {
        // The source forms are alternatives: setting one clears the others.
        if o.file.is_some() || o.environment.is_some() || o.content.is_some() || o.external.is_some() {
            (self.file, self.environment, self.content, self.external) = (o.file, o.environment, o.content, o.external);
        }
        replace!(self, o; name);
    }
}

/// Compose's `deploy:` section, for the two fields the topology has: `resources` and `replicas`.
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawDeploy {
    /// The same as the service's `resources` (Compose's spelling).
    pub resources: Option<super::RawResources>,
    /// The same as the service's `replicas` (Compose's spelling).
    pub replicas: Option<L<u32>>,
}

impl Overlay for RawDeploy {
    fn overlay(&mut self, o: Self) {
        replace!(self, o; replicas);
        nested!(self, o; resources);
    }
}

/// A published port in the long form.
#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawPortLong {
    /// The container port.
    pub target: u16,
    /// The host port: a number, or a string (`"8080"`, `"${PORT:-8080}"`).
    pub published: Option<Scalar>,
    /// The host address to publish on (`127.0.0.1` keeps it local; default all addresses).
    pub host_ip: Option<String>,
    /// `tcp` (default) or `udp`.
    #[schemars(extend("enum" = ["tcp", "udp"]))]
    pub protocol: Option<String>,
    /// `ingress` (default) or `host`.
    #[schemars(extend("enum" = ["ingress", "host"]))]
    pub mode: Option<String>,
    /// A name for the port.
    pub name: Option<String>,
    /// The application protocol (`http`, `grpc`...), informational.
    pub app_protocol: Option<String>,
}

/// A mount in the long form.
#[derive(Deserialize, JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawMountLong {
    /// `volume` (default when `source` is a name), `bind` (default when it is a path) or `tmpfs`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["volume", "bind", "tmpfs"]))]
    pub typ: Option<String>,
    /// A named volume, or a host path (`.`, `/` or `~` first) for a bind mount; none for an anonymous volume or a tmpfs.
    pub source: Option<String>,
    /// The path in the container.
    pub target: String,
    #[serde(default)]
    /// Mount it read-only.
    pub read_only: bool,
    /// Options of a bind mount.
    pub bind: Option<RawBindOptions>,
    /// Options of a volume mount.
    pub volume: Option<RawVolumeOptions>,
    /// Options of a tmpfs mount.
    pub tmpfs: Option<RawTmpfsOptions>,
    /// `consistent`, `cached` or `delegated` (macOS only; ignored elsewhere).
    pub consistency: Option<String>,
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawBindOptions {
    /// `private`, `rprivate`, `shared`, `rshared`, `slave` or `rslave`.
    pub propagation: Option<String>,
    /// Create the host path when it does not exist (the short form always does).
    pub create_host_path: Option<bool>,
    /// SELinux relabelling: `z` (shared) or `Z` (private).
    pub selinux: Option<String>,
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawVolumeOptions {
    /// Do not copy the image's content at the target into a new volume.
    pub nocopy: Option<bool>,
    /// Mount a sub-directory of the volume.
    pub subpath: Option<String>,
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawTmpfsOptions {
    /// Size limit of the tmpfs.
    pub size: Option<ByteSize>,
    /// File mode, a number Compose hands on as written (`1777`).
    pub mode: Option<Scalar>,
}

/// A top-level network's IP address management.
#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawIpam {
    pub driver: Option<String>,
    pub config: Option<Vec<RawIpamPool>>,
    pub options: Option<IndexMap<String, String>>,
}

#[derive(Deserialize, JsonSchema, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawIpamPool {
    /// The subnet, in CIDR notation (`172.28.0.0/16`).
    pub subnet: Option<String>,
    /// The range containers get addresses from, in CIDR notation.
    pub ip_range: Option<String>,
    /// The gateway address.
    pub gateway: Option<String>,
    /// Addresses the driver must not hand out, by host name.
    pub aux_addresses: Option<IndexMap<String, String>>,
}

// ---- hand-written list-or-map visitors (positions kept) ----------------------

seq_or_map!(RawStringMap, L<String>, L<Option<Scalar>>, "a map of NAME: value, or a list of NAME=value");
seq_or_map!(RawExtraHosts, L<String>, L<StringOrList>, "a list of HOST:IP (or HOST=IP), or a map of HOST: IP");
seq_or_map!(
    RawServiceNetworks,
    L<String>,
    Option<RawServiceNetwork>,
    "a list of network names, or a map of network name to {aliases, ipv4_address, ...}"
);

// ---- overlay -------------------------------------------------------------------

/// The vocabulary fields of a service, overlaid: lists and scalars replaced,
/// `labels`, `sysctls` and `ulimits` merged by name, `logging` field by field.
pub(super) fn overlay_service(s: &mut RawService, o: &RawService) {
    macro_rules! take {
        ($($f:ident),*) => { $( if o.$f.is_some() { s.$f = o.$f.clone(); } )* };
    }
    take!(user, working_dir, hostname, cap_add, cap_drop, read_only, privileged, init, shm_size, tmpfs);
    take!(stop_signal, stop_grace_period, extra_hosts, dns, dns_search, dns_opt, platform, pull_policy);
    take!(devices, network_mode, runtime, env_file, secrets, configs, security_opt, tty, stdin_open);
    for (mine, theirs) in [(&mut s.labels, &o.labels), (&mut s.sysctls, &o.sysctls)] {
        mine.overlay(theirs.clone());
    }
    s.logging.overlay(o.logging.clone());
    s.deploy.overlay(o.deploy.clone());
    if let Some(u) = &o.ulimits {
        s.ulimits.get_or_insert_with(IndexMap::new).extend(u.clone());
    }
}

// ---- Compose spellings folded into the topology's own, per file ------------------

/// Compose's spellings of fields the topology already has, folded into the
/// topology's own in each file before profiles are overlaid (so that a profile
/// written either way overrides a base written either way):
/// `deploy.resources` → `resources`, `deploy.replicas` → `replicas`,
/// `healthcheck.test` `[CMD, ...]` → `command`, `[CMD-SHELL, "..."]` or a string → `shell`
/// (`[NONE]` stays: the image's healthcheck turned off).
pub(crate) fn fold_compose_spellings(mut raw: RawTopology) -> Result<RawTopology, Errors> {
    let mut errors = Errors::default();
    for (key, s) in raw.services.iter_mut() {
        fold_deploy(key, s, &mut errors);
        if let Some(h) = &mut s.healthcheck {
            fold_test(&key.value, h, &mut errors);
        }
    }
    errors.into_result(raw)
}

fn fold_deploy(key: &L<String>, s: &mut RawService, errors: &mut Errors) {
    let Some(deploy) = s.deploy.take() else { return };
    let field = |f: &str| format!("services.{}.{f}", key.value);
    if let Some(r) = deploy.resources {
        if s.resources.is_some() {
            errors.push(
                Diagnostic::new(format!("service `{}` sets both `resources` and `deploy.resources`", key.value))
                    .at(key.loc())
                    .field(field("deploy.resources"))
                    .help("they mean the same: keep one of them"),
            );
        } else {
            s.resources = Some(r);
        }
    }
    if let Some(n) = deploy.replicas {
        if s.replicas.is_some() {
            errors.push(
                Diagnostic::new(format!("service `{}` sets both `replicas` and `deploy.replicas`", key.value))
                    .at(n.loc())
                    .field(field("deploy.replicas"))
                    .help("they mean the same: keep one of them"),
            );
        } else {
            s.replicas = Some(n);
        }
    }
}

/// `test` into `command` or `shell`; `[NONE]` kept. Errors name the form that would be valid.
fn fold_test(service: &str, h: &mut RawHealth, errors: &mut Errors) {
    let Some(test) = h.test.take() else {
        return;
    };
    let field = format!("services.{service}.healthcheck.test");
    let err = |m: String, help: &str| Diagnostic::new(m).at(test.loc()).field(field.clone()).help(help.to_string());
    if h.command.is_some() || h.shell.is_some() || h.disable.as_ref().is_some_and(|d| d.value) {
        let help = "keep one way of giving the probe: `test`, `command`, `shell` or `disable: true`";
        errors.push(err("`healthcheck.test` is given together with another form of the probe".into(), help));
        return;
    }
    let loc = test.loc.clone();
    let list = match &test.value {
        StringOrList::String(line) => {
            h.shell = Some(Located { value: line.clone(), loc });
            return;
        }
        StringOrList::List(l) => l,
    };
    match list.split_first() {
        Some((first, rest)) if first == "CMD" && !rest.is_empty() => {
            h.command = Some(Located { value: rest.to_vec(), loc })
        }
        Some((first, [line])) if first == "CMD-SHELL" => h.shell = Some(Located { value: line.clone(), loc }),
        Some((first, [])) if first == "NONE" => h.test = Some(test.clone()),
        _ => errors.push(err(
            format!("`{}` is not a healthcheck test", list.join(" ")),
            "write `[CMD, prog, args...]`, `[CMD-SHELL, \"command line\"]`, `[NONE]` or a command line string",
        )),
    }
}

/// A list of strings where numbers and booleans stand for their text.
pub(super) fn scalar_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Vec::<Scalar>::deserialize(d)?.into_iter().map(Scalar::into_string).collect())
}
