//! The everyday Compose vocabulary in the model: what a service's container
//! runs as and with (user, capabilities, limits, labels, DNS, logging...),
//! the files it gets (env files, secrets, configs), and the finer settings
//! of networks and volumes. Backends read these as they read the rest of
//! [`Service`](super::Service); docs/mapping.md says what each becomes.

use indexmap::IndexMap;
use serde::Serialize;

use super::{Env, Service, Topology, Value};
use crate::diag::Diagnostic;
use crate::units::{ByteSize, Dur};

/// How a service joins one network, beyond joining it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ServiceNetwork {
    /// Other names the service is reachable by on this network.
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    /// Connection order (higher first).
    pub priority: Option<i64>,
}

impl ServiceNetwork {
    pub fn is_empty(&self) -> bool {
        *self == ServiceNetwork::default()
    }
}

/// Why the image's own healthcheck is off, as the topology says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthcheckOff {
    /// `healthcheck.disable: true`
    Disable,
    /// `healthcheck.test: [NONE]`
    TestNone,
}

/// An `env_file`: `NAME=VALUE` lines read with the `.env` parser, relative to the topology file.
#[derive(Clone, Debug, Serialize)]
pub struct EnvFile {
    /// As written.
    pub path: String,
    /// A missing file is an error (`true`, the default) or skipped.
    pub required: bool,
    /// The file's variables, in order; literal (no `${VAR}` left), secret when the name looks secret.
    /// Empty when the file is missing and not required.
    pub values: IndexMap<String, Value>,
}

/// A memory-backed directory (`tmpfs: /run:size=64m,mode=1777`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tmpfs {
    pub target: String,
    /// Mount options as written after the path (`size=64m`, `mode=1777`, `noexec`...).
    pub options: Vec<String>,
    /// The `size=` option, parsed.
    pub size: Option<ByteSize>,
}

impl Tmpfs {
    /// Compose's spelling, `PATH[:OPTIONS]`.
    pub fn short(&self) -> String {
        if self.options.is_empty() {
            self.target.clone()
        } else {
            format!("{}:{}", self.target, self.options.join(","))
        }
    }
}

/// One `ulimits` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Ulimit {
    /// One number: soft and hard alike.
    Single(i64),
    Range {
        soft: i64,
        hard: i64,
    },
}

impl Ulimit {
    pub fn soft(self) -> i64 {
        match self {
            Ulimit::Single(n) | Ulimit::Range { soft: n, .. } => n,
        }
    }
    pub fn hard(self) -> i64 {
        match self {
            Ulimit::Single(n) | Ulimit::Range { hard: n, .. } => n,
        }
    }
}

/// An `/etc/hosts` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExtraHost {
    pub host: String,
    pub ip: String,
}

/// When the image is pulled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullPolicy {
    Always,
    Never,
    /// Only when missing (`missing`, or `if_not_present`).
    Missing,
    /// Build it (from `build:`) rather than pull.
    Build,
    Daily,
    Weekly,
    /// `every_<duration>`: when the local image is older than that.
    Every(Dur),
}

impl std::fmt::Display for PullPolicy {
    /// Compose's spelling.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PullPolicy::Always => f.write_str("always"),
            PullPolicy::Never => f.write_str("never"),
            PullPolicy::Missing => f.write_str("missing"),
            PullPolicy::Build => f.write_str("build"),
            PullPolicy::Daily => f.write_str("daily"),
            PullPolicy::Weekly => f.write_str("weekly"),
            PullPolicy::Every(d) => write!(f, "every_{d}"),
        }
    }
}

/// The container's log driver and its options.
#[derive(Clone, Debug, Serialize)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: IndexMap<String, Value>,
}

/// A host device made available in the container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Device {
    pub source: String,
    /// The path in the container (the source's path unless given).
    pub target: String,
    /// `r`, `w`, `m` or a combination; `None`: Docker's default, `rwm`.
    pub permissions: Option<String>,
}

impl Device {
    /// Compose's short spelling, `SOURCE:TARGET[:PERMISSIONS]`.
    pub fn short(&self) -> String {
        match &self.permissions {
            Some(p) => format!("{}:{}:{p}", self.source, self.target),
            None => format!("{}:{}", self.source, self.target),
        }
    }
}

/// Which of the two kinds of mounted file: a top-level secret or a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Secret,
    Config,
}

impl FileKind {
    /// `secret` or `config`, as Compose's fields name them.
    pub fn word(self) -> &'static str {
        match self {
            FileKind::Secret => "secret",
            FileKind::Config => "config",
        }
    }
}

impl Topology {
    /// The top-level secrets or configs.
    pub fn file_objects(&self, kind: FileKind) -> &IndexMap<String, FileObject> {
        match kind {
            FileKind::Secret => &self.secrets,
            FileKind::Config => &self.configs,
        }
    }
}

impl Service {
    /// The secrets or configs the service mounts.
    pub fn file_refs(&self, kind: FileKind) -> &[FileRef] {
        match kind {
            FileKind::Secret => &self.secrets,
            FileKind::Config => &self.configs,
        }
    }
}

/// A service's use of a top-level secret or config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileRef {
    /// The key of the top-level secret or config.
    pub source: String,
    /// As written; see [`FileRef::secret_path`] and [`FileRef::config_path`].
    pub target: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    /// File mode (`0o440`).
    pub mode: Option<u32>,
}

impl FileRef {
    /// Where Compose mounts a secret: `/run/secrets/<target or source>`, or the target when absolute.
    pub fn secret_path(&self) -> String {
        match &self.target {
            Some(t) if t.starts_with('/') => t.clone(),
            Some(t) => format!("/run/secrets/{t}"),
            None => format!("/run/secrets/{}", self.source),
        }
    }
    /// Where Compose mounts a config: the target, or `/<source>`.
    pub fn config_path(&self) -> String {
        match &self.target {
            Some(t) if t.starts_with('/') => t.clone(),
            Some(t) => format!("/{t}"),
            None => format!("/{}", self.source),
        }
    }
    /// Where Compose mounts it, as a file of `kind`.
    pub fn path(&self, kind: FileKind) -> String {
        match kind {
            FileKind::Secret => self.secret_path(),
            FileKind::Config => self.config_path(),
        }
    }
    /// Only the key was given (Compose's short form).
    pub fn is_short(&self) -> bool {
        self.target.is_none() && self.uid.is_none() && self.gid.is_none() && self.mode.is_none()
    }
}

/// A top-level secret or config.
#[derive(Clone, Debug, Serialize)]
pub struct FileObject {
    pub key: String,
    /// An explicit `name:`.
    pub name: Option<String>,
    pub source: FileSource,
}

/// Where a secret's or config's content comes from.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileSource {
    /// A file as written, relative to the project directory.
    File(String),
    /// An environment variable of the shell deploy runs in.
    Environment(String),
    /// Inline content (configs only), a template.
    Content(Value),
}

/// Bind-mount options (long form).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BindOptions {
    pub propagation: Option<String>,
    /// Create the host path when missing: always for the short form, as written for the long one.
    pub create_host_path: bool,
    pub selinux: Option<String>,
}

/// Volume-mount options (long form).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VolumeOptions {
    pub nocopy: bool,
    pub subpath: Option<String>,
}

/// tmpfs-mount options (long form).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TmpfsOptions {
    pub size: Option<ByteSize>,
    /// As written: Compose hands the number on as it reads it (`1777`, not octal).
    pub mode: Option<u32>,
}

/// IP address management of a network.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ipam {
    pub driver: Option<String>,
    pub config: Vec<IpamPool>,
    pub options: IndexMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IpamPool {
    pub subnet: Option<String>,
    pub ip_range: Option<String>,
    pub gateway: Option<String>,
    pub aux_addresses: IndexMap<String, String>,
}

/// A template (`${VAR}` kept) that is parsed once resolved: a port or a mount written with variables.
pub(crate) fn resolve_template<T>(
    template: &Value,
    env: &Env,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, Diagnostic> {
    let text = template.resolve(env)?;
    parse(&text).map_err(|m| {
        Diagnostic::new(format!("`{}` (from `{}`): {m}", text, template.raw))
            .at(template.loc.as_ref())
            .field(template.field.clone())
            .help("set the variables it uses to values that make it valid")
    })
}

impl super::Service {
    /// The interpolated values of the vocabulary fields: env files, user, working directory,
    /// host name, platform, labels, sysctls, log options, and ports and mounts written with variables.
    pub(crate) fn vocabulary_values(&self) -> impl Iterator<Item = &Value> {
        let files = self.env_files.iter().flat_map(|f| f.values.values());
        let single = [&self.user, &self.working_dir, &self.hostname, &self.platform].into_iter().flatten();
        let maps = self.labels.values().chain(self.sysctls.values());
        let logging = self.logging.iter().flat_map(|l| l.options.values());
        let ports = self.ports.iter().filter_map(|p| match &p.template {
            Some(super::PortTemplate::Short(v) | super::PortTemplate::Published(v)) => Some(v),
            None => None,
        });
        let mounts = self.mounts.iter().filter_map(|m| m.source_template.as_ref());
        files.chain(single).chain(maps).chain(logging).chain(ports).chain(mounts)
    }

    /// The container's environment as Compose builds it: the `env_file`s in order, then
    /// `environment` (which wins). Names in `environment_from_shell` are not included.
    pub fn environment_with_files(&self) -> IndexMap<&str, &Value> {
        let mut out: IndexMap<&str, &Value> = IndexMap::new();
        for f in &self.env_files {
            out.extend(f.values.iter().map(|(k, v)| (k.as_str(), v)));
        }
        for name in &self.environment_from_shell {
            out.shift_remove(name.as_str());
        }
        out.extend(self.environment.iter().map(|(k, v)| (k.as_str(), v)));
        out
    }
}
