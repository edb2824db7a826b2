//! Which Docker engine to talk to, and how: the docker CLI's rules.
//!
//! The engine is the first of: `--context NAME`; `DOCKER_HOST`;
//! `DOCKER_CONTEXT`; the `currentContext` of the docker CLI's `config.json`
//! (in `DOCKER_CONFIG`, else `~/.docker`); the local socket. A context is the
//! docker CLI's own store (`contexts/meta/<sha256 of the name>/meta.json`, TLS
//! files under `contexts/tls/<sha256>/docker/`); the context `default` is
//! `DOCKER_HOST` or the local socket.
//!
//! Hosts: `unix://PATH`; `tcp://HOST[:PORT]` (TLS when `DOCKER_TLS_VERIFY` is
//! set, with `ca.pem`, `cert.pem` and `key.pem` from `DOCKER_CERT_PATH`, else
//! the config directory; or when the context has TLS files); `ssh://[USER@]HOST[:PORT][/SOCKET]`
//! (see [`super::ssh`]). TLS is never skipped nor downgraded: TLS without
//! verification (`DOCKER_TLS` alone, a context's `SkipTLSVerify`) is refused.

use std::fmt;
use std::path::{Path, PathBuf};

use bollard::{API_DEFAULT_VERSION, Docker};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::ssh::SshTarget;

/// The engine's socket when nothing names another.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// What decides the endpoint: the `--context` flag and the environment.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `--context` on the command line.
    pub context: Option<String>,
    /// `DOCKER_HOST`.
    pub docker_host: Option<String>,
    /// `DOCKER_CONTEXT`.
    pub docker_context: Option<String>,
    /// `DOCKER_TLS_VERIFY` is set (to anything but the empty string, as the docker CLI reads it).
    pub tls_verify: bool,
    /// `DOCKER_TLS` is set: TLS without verifying the engine (refused).
    pub tls_unverified: bool,
    /// `DOCKER_CERT_PATH`.
    pub cert_path: Option<PathBuf>,
    /// The docker CLI's configuration directory (`DOCKER_CONFIG`, else `~/.docker`).
    pub config_dir: Option<PathBuf>,
}

impl Settings {
    /// The process environment, with `--context` when given.
    pub fn from_env(context: Option<&str>) -> Settings {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let config_dir = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")));
        Settings {
            context: context.map(str::to_string),
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            tls_verify: var("DOCKER_TLS_VERIFY").is_some(),
            tls_unverified: var("DOCKER_TLS").is_some(),
            cert_path: var("DOCKER_CERT_PATH").map(PathBuf::from),
            config_dir,
        }
    }
}

/// An engine's address and how it was chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub host: Host,
    /// For messages: `from DOCKER_HOST`, `context "prod" from --context`...
    pub origin: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Host {
    Unix(PathBuf),
    /// `host:port`, plain HTTP or TLS.
    Tcp {
        addr: String,
        tls: Option<Tls>,
    },
    Ssh(SshTarget),
}

/// The TLS files of an endpoint (the `DOCKER_CERT_PATH` layout): the CA the
/// engine's certificate must chain to, and the client's certificate and key
/// (optional, as for the docker CLI: both or neither).
#[derive(Clone, Debug, PartialEq)]
pub struct Tls {
    pub dir: PathBuf,
}

impl Tls {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The files exist as a TLS connection needs them.
    fn check(&self) -> Result<(), String> {
        let ca = self.file("ca.pem");
        if !ca.is_file() {
            return Err(format!(
                "TLS is asked for but there is no CA certificate at {} (deploy verifies the engine's certificate against it)",
                ca.display()
            ));
        }
        let (cert, key) = (self.file("cert.pem"), self.file("key.pem"));
        if cert.is_file() != key.is_file() {
            let (has, missing) = if cert.is_file() { (cert, key) } else { (key, cert) };
            return Err(format!(
                "{} exists but {} does not (a client certificate needs both)",
                has.display(),
                missing.display()
            ));
        }
        Ok(())
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Unix(p) => write!(f, "unix://{}", p.display()),
            Host::Tcp { addr, .. } => write!(f, "tcp://{addr}"),
            Host::Ssh(t) => write!(f, "{t}"),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Tcp { tls: Some(t), .. } => {
                write!(f, "{} (TLS, CA {}; {})", self.host, t.file("ca.pem").display(), self.origin)
            }
            _ => write!(f, "{} ({})", self.host, self.origin),
        }
    }
}

impl Endpoint {
    /// What to check when the engine does not answer.
    pub fn help(&self) -> String {
        match &self.host {
            Host::Unix(_) => {
                "start the Docker daemon (dockerd), or set DOCKER_HOST (or DOCKER_CONTEXT, or pass --context) \
                              to reach a running engine, for example unix:///var/run/docker.sock"
                    .to_string()
            }
            Host::Tcp { tls: None, .. } => "check that the engine listens on that address; an engine with TLS needs \
                                            DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)"
                .to_string(),
            Host::Tcp { tls: Some(t), .. } => format!(
                "check that the engine listens there with TLS, that its certificate is signed by {} and names that address, \
                 and that it accepts the client certificate {}",
                t.file("ca.pem").display(),
                t.file("cert.pem").display()
            ),
            Host::Ssh(t) => t.help(),
        }
    }

    /// A client for the endpoint (nothing is sent yet); `timeout` bounds every request.
    pub fn open(&self, timeout_secs: u64) -> Result<Docker, String> {
        let opened = match &self.host {
            #[cfg(unix)]
            Host::Unix(p) => {
                Docker::connect_with_unix(&format!("unix://{}", p.display()), timeout_secs, API_DEFAULT_VERSION)
            }
            #[cfg(not(unix))]
            Host::Unix(_) => return Err("unix:// sockets exist only on Unix".to_string()),
            Host::Tcp { addr, tls: None } => {
                Docker::connect_with_http(&format!("tcp://{addr}"), timeout_secs, API_DEFAULT_VERSION)
            }
            Host::Tcp { addr, tls: Some(t) } => {
                t.check()?;
                Docker::connect_with_ssl(
                    &format!("tcp://{addr}"),
                    &t.file("key.pem"),
                    &t.file("cert.pem"),
                    &t.file("ca.pem"),
                    timeout_secs,
                    API_DEFAULT_VERSION,
                )
            }
            Host::Ssh(t) => t.docker(timeout_secs),
        };
        opened.map_err(|e| super::docker::describe(&e))
    }
}

/// The endpoint `s` names, by the docker CLI's precedence.
pub fn resolve(s: &Settings) -> Result<Endpoint, String> {
    if let Some(name) = &s.context {
        return from_context(s, name, "--context");
    }
    if let Some(h) = &s.docker_host {
        return from_env_host(s, h, "from DOCKER_HOST".to_string());
    }
    if let Some(name) = &s.docker_context {
        return from_context(s, name, "DOCKER_CONTEXT");
    }
    if let Some((name, file)) = current_context(s)? {
        return from_context(s, &name, &format!("currentContext in {}", file.display()));
    }
    Ok(default_endpoint())
}

fn default_endpoint() -> Endpoint {
    Endpoint {
        host: Host::Unix(PathBuf::from(DEFAULT_SOCKET)),
        origin: "the default; set DOCKER_HOST or DOCKER_CONTEXT, or pass --context, to use another engine".to_string(),
    }
}

/// `DOCKER_HOST` with the TLS settings of the environment.
fn from_env_host(s: &Settings, raw: &str, origin: String) -> Result<Endpoint, String> {
    let tls = if s.tls_verify {
        let dir = s
            .cert_path
            .clone()
            .or_else(|| s.config_dir.clone())
            .ok_or("DOCKER_TLS_VERIFY is set but neither DOCKER_CERT_PATH nor HOME is")?;
        Some(Tls { dir })
    } else if s.tls_unverified {
        return Err(format!(
            "DOCKER_TLS is set without DOCKER_TLS_VERIFY for {raw}: deploy does not connect with TLS without verifying the engine's \
             certificate\n  help: set DOCKER_TLS_VERIFY=1 and put the engine's CA in DOCKER_CERT_PATH/ca.pem"
        ));
    } else {
        None
    };
    let host = parse_host(raw, tls).map_err(|e| format!("DOCKER_HOST={raw}: {e}"))?;
    Ok(Endpoint { host, origin })
}

/// Parses a docker host address; `tls` applies to `tcp://`.
pub fn parse_host(raw: &str, tls: Option<Tls>) -> Result<Host, String> {
    let (scheme, rest) = raw.split_once("://").unwrap_or(("tcp", raw));
    match scheme {
        "unix" if !rest.is_empty() => Ok(Host::Unix(PathBuf::from(rest))),
        "tcp" => {
            let url = url::Url::parse(&format!("tcp://{rest}")).map_err(|e| format!("not a tcp:// address ({e})"))?;
            let host = url.host_str().filter(|h| !h.is_empty()).ok_or("no host name")?;
            if !matches!(url.path(), "" | "/") {
                return Err(format!("a tcp:// address has no path (found `{}`)", url.path()));
            }
            let port = url.port().unwrap_or(if tls.is_some() { 2376 } else { 2375 });
            Ok(Host::Tcp { addr: format!("{host}:{port}"), tls })
        }
        "ssh" => SshTarget::parse(raw).map(Host::Ssh),
        _ => Err("unsupported address; deploy takes unix://PATH, tcp://HOST[:PORT] and ssh://[USER@]HOST[:PORT], as the docker CLI"
            .to_string()),
    }
}

/// `currentContext` of the docker CLI's `config.json`, with the file's path.
fn current_context(s: &Settings) -> Result<Option<(String, PathBuf)>, String> {
    #[derive(Deserialize)]
    struct Config {
        #[serde(rename = "currentContext", default)]
        current_context: Option<String>,
    }
    let Some(dir) = &s.config_dir else { return Ok(None) };
    let file = dir.join("config.json");
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read the docker CLI configuration {}: {e}", file.display())),
    };
    let config: Config = serde_json::from_str(&text)
        .map_err(|e| format!("the docker CLI configuration {} is not valid JSON: {e}", file.display()))?;
    Ok(config.current_context.filter(|c| !c.is_empty()).map(|c| (c, file)))
}

/// A context's `meta.json` (the part deploy reads).
#[derive(Deserialize)]
struct Meta {
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Endpoints", default)]
    endpoints: std::collections::HashMap<String, MetaEndpoint>,
}

#[derive(Deserialize)]
struct MetaEndpoint {
    #[serde(rename = "Host", default)]
    host: Option<String>,
    #[serde(rename = "SkipTLSVerify", default)]
    skip_tls_verify: bool,
}

/// The docker CLI's directory name for a context: the SHA-256 of its name.
fn context_id(name: &str) -> String {
    hex::encode(Sha256::digest(name.as_bytes()))
}

fn from_context(s: &Settings, name: &str, how: &str) -> Result<Endpoint, String> {
    let origin = format!("context \"{name}\" from {how}");
    if name == "default" {
        return match &s.docker_host {
            Some(h) => from_env_host(s, h, format!("{origin}: DOCKER_HOST")),
            None => Ok(Endpoint { origin, ..default_endpoint() }),
        };
    }
    let contexts = s
        .config_dir
        .as_deref()
        .map(|d| d.join("contexts"))
        .ok_or("no docker configuration directory (HOME is not set)")?;
    let id = context_id(name);
    let meta_file = contexts.join("meta").join(&id).join("meta.json");
    let text = std::fs::read_to_string(&meta_file).map_err(|e| {
        let known = known_contexts(&contexts.join("meta"));
        format!(
            "Docker context \"{name}\" (from {how}) cannot be read: {}: {e}\n  help: the contexts in {} are: default{}{} (`docker context ls`)",
            meta_file.display(),
            contexts.display(),
            if known.is_empty() { "" } else { ", " },
            known.join(", ")
        )
    })?;
    let meta: Meta =
        serde_json::from_str(&text).map_err(|e| format!("{} is not a docker context: {e}", meta_file.display()))?;
    let ep = meta
        .endpoints
        .get("docker")
        .ok_or_else(|| format!("Docker context \"{}\" has no docker endpoint ({})", meta.name, meta_file.display()))?;
    let raw = ep.host.as_deref().filter(|h| !h.is_empty()).unwrap_or("unix:///var/run/docker.sock");
    let tls_dir = contexts.join("tls").join(&id).join("docker");
    let has_tls = ["ca.pem", "cert.pem", "key.pem"].iter().any(|f| tls_dir.join(f).is_file());
    if ep.skip_tls_verify && raw.starts_with("tcp://") {
        return Err(format!(
            "Docker context \"{name}\" skips TLS verification (SkipTLSVerify) for {raw}: deploy does not connect without verifying \
             the engine's certificate\n  help: recreate the context with the engine's CA: docker context create {name} --docker \"host={raw},ca=CA.pem,cert=CERT.pem,key=KEY.pem\""
        ));
    }
    let tls = has_tls.then_some(Tls { dir: tls_dir });
    let host = parse_host(raw, tls).map_err(|e| format!("Docker context \"{name}\": host {raw}: {e}"))?;
    Ok(Endpoint { host, origin })
}

/// The names of the contexts in a `contexts/meta` directory, sorted.
fn known_contexts(meta_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(meta_dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("meta.json")).ok())
        .filter_map(|t| serde_json::from_str::<Meta>(&t).ok())
        .map(|m| m.name)
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A docker configuration directory of its own, removed at the end.
    struct ConfigDir(PathBuf);

    impl ConfigDir {
        fn new(tag: &str) -> ConfigDir {
            let dir = std::env::temp_dir().join(format!("deploy-connect-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
            ConfigDir(dir)
        }

        /// A context as the docker CLI stores it; `tls` writes its TLS files.
        fn context(&self, name: &str, host: &str, skip_verify: bool, tls: bool) {
            let id = context_id(name);
            let meta = self.0.join("contexts/meta").join(&id);
            std::fs::create_dir_all(&meta).unwrap_or_else(|e| panic!("{e}"));
            let json = serde_json::json!({
                "Name": name, "Metadata": {},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": skip_verify}}
            });
            std::fs::write(meta.join("meta.json"), json.to_string()).unwrap_or_else(|e| panic!("{e}"));
            if tls {
                let dir = self.0.join("contexts/tls").join(&id).join("docker");
                std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
                std::fs::write(dir.join("ca.pem"), "").unwrap_or_else(|e| panic!("{e}"));
            }
        }

        fn current(&self, name: &str) {
            let json = serde_json::json!({"auths": {}, "currentContext": name});
            std::fs::write(self.0.join("config.json"), json.to_string()).unwrap_or_else(|e| panic!("{e}"));
        }

        fn settings(&self) -> Settings {
            Settings { config_dir: Some(self.0.clone()), ..Settings::default() }
        }
    }

    impl Drop for ConfigDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn host(s: &Settings) -> String {
        resolve(s).map(|e| e.host.to_string()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn precedence_is_the_docker_clis() {
        let c = ConfigDir::new("precedence");
        c.context("flag", "tcp://flag:1", false, false);
        c.context("env", "tcp://env:2", false, false);
        c.context("current", "tcp://current:3", false, false);
        c.current("current");
        let mut s = c.settings();
        assert_eq!(host(&s), "tcp://current:3");
        s.docker_context = Some("env".into());
        assert_eq!(host(&s), "tcp://env:2");
        s.docker_host = Some("unix:///run/other.sock".into());
        assert_eq!(host(&s), "unix:///run/other.sock");
        s.context = Some("flag".into());
        assert_eq!(host(&s), "tcp://flag:1");
        let e = resolve(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.to_string(), "tcp://flag:1 (context \"flag\" from --context)");
        // The context `default` is DOCKER_HOST, else the socket.
        s.context = Some("default".into());
        assert_eq!(host(&s), "unix:///run/other.sock");
        s.docker_host = None;
        assert_eq!(host(&s), "unix:///var/run/docker.sock");
        assert_eq!(host(&Settings::default()), "unix:///var/run/docker.sock");
    }

    #[test]
    fn addresses_as_the_docker_cli_reads_them() {
        let tls = || Some(Tls { dir: PathBuf::from("certs") });
        let show = |raw: &str, tls: Option<Tls>| parse_host(raw, tls).map(|h| h.to_string()).unwrap_or_else(|e| e);
        assert_eq!(show("tcp://engine.example", None), "tcp://engine.example:2375");
        assert_eq!(show("tcp://engine.example", tls()), "tcp://engine.example:2376");
        assert_eq!(show("engine.example:4243", None), "tcp://engine.example:4243");
        assert_eq!(show("tcp://[::1]:2376", tls()), "tcp://[::1]:2376");
        assert_eq!(show("unix:///var/run/docker.sock", None), "unix:///var/run/docker.sock");
        assert_eq!(show("ssh://me@build.example:2222", None), "ssh://me@build.example:2222");
        assert_eq!(
            show("ssh://build.example/run/user/1000/docker.sock", None),
            "ssh://build.example/run/user/1000/docker.sock"
        );
        assert!(show("http://engine.example", None).starts_with("unsupported address"));
        assert!(show("ssh://", None).contains("needs a host"));
        assert!(show("ssh://me:pw@host", None).contains("no password"));
        let Ok(Host::Ssh(t)) = parse_host("ssh://me@[fd00::1]:2222", None) else { panic!("ssh") };
        assert_eq!((t.user.as_deref(), t.host.as_str(), t.port), (Some("me"), "fd00::1", Some(2222)));
        assert_eq!(t.to_string(), "ssh://me@[fd00::1]:2222");
    }

    #[test]
    fn tls_is_never_skipped() {
        let c = ConfigDir::new("tls");
        let mut s = c.settings();
        s.docker_host = Some("tcp://engine.example".into());
        s.tls_unverified = true;
        assert!(host(&s).contains("DOCKER_TLS is set without DOCKER_TLS_VERIFY"), "{}", host(&s));
        s.tls_verify = true;
        s.cert_path = Some(PathBuf::from("certs"));
        let e = resolve(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e.to_string(), "tcp://engine.example:2376 (TLS, CA certs/ca.pem; from DOCKER_HOST)");
        // Without DOCKER_CERT_PATH: the configuration directory, as the docker CLI.
        s.cert_path = None;
        let Host::Tcp { tls: Some(t), .. } = resolve(&s).unwrap_or_else(|e| panic!("{e}")).host else { panic!("tls") };
        assert_eq!(t.dir, c.0);
        // The CA must be there: a missing one is named before anything is sent.
        let err = resolve(&s).and_then(|e| e.open(5).map(|_| ())).err().unwrap_or_default();
        assert!(err.contains("no CA certificate at") && err.contains("ca.pem"), "{err}");

        c.context("insecure", "tcp://engine.example:2376", true, false);
        c.context("secure", "tcp://engine.example", false, true);
        c.context("plain", "tcp://engine.example", false, false);
        let named = |n: &str| host(&Settings { context: Some(n.into()), ..c.settings() });
        assert!(named("insecure").contains("skips TLS verification"), "{}", named("insecure"));
        assert_eq!(named("secure"), "tcp://engine.example:2376");
        assert_eq!(named("plain"), "tcp://engine.example:2375");
    }

    #[test]
    fn an_unknown_context_is_named_with_the_known_ones() {
        let c = ConfigDir::new("unknown");
        c.context("prod", "ssh://deploy@prod.example", false, false);
        c.context("ci", "tcp://ci.example:2376", false, true);
        c.current("staging");
        let err = host(&c.settings());
        assert!(err.contains("Docker context \"staging\" (from currentContext in"), "{err}");
        assert!(err.contains("are: default, ci, prod"), "{err}");
        std::fs::write(c.0.join("config.json"), "{not json").unwrap_or_else(|e| panic!("{e}"));
        assert!(host(&c.settings()).contains("config.json is not valid JSON"), "{}", host(&c.settings()));
    }
}
