//! Raw (overlaid) topology → validated [`Topology`]. Reports every problem found.

use std::path::PathBuf;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::diag::{Diagnostic, Errors, Loc, SourceFile};
use crate::model::*;
use crate::raw::{self, Located, RawMount, RawPort, RawTopology, StringOrList};
use crate::{interp, is_secret_name};

const DNS1035_HELP: &str = "use at most 63 lowercase letters, digits and `-`, starting with a letter and ending with a letter or digit (the name becomes a Kubernetes object and DNS name)";
const DNS1123_HELP: &str = "use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit (the name becomes a Kubernetes object name)";

pub(crate) fn is_dns1035(s: &str) -> bool {
    is_dns1123(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

pub(crate) fn is_dns1123(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The Kubernetes spelling of a topology key (volume and network keys may use `_`).
pub fn k8s_name(key: &str) -> String {
    key.replace('_', "-").to_ascii_lowercase()
}

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn is_docker_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

struct Ctx {
    errors: Errors,
    secret_vars: Vec<String>,
}

impl Ctx {
    fn err(&mut self, d: Diagnostic) {
        self.errors.push(d);
    }

    /// A template value: syntax checked, secret flag computed.
    fn value(&mut self, raw: String, loc: Option<&Loc>, field: String, secret_by_name: bool) -> Value {
        let vars = interp::checked_variables(&raw).unwrap_or_else(|e| {
            self.err(Diagnostic::new(e.to_string()).at(loc).field(field.clone()).help("write `$$` for a literal `$`"));
            Vec::new()
        });
        let secret = secret_by_name || vars.iter().any(|v| self.secret_vars.contains(v));
        Value { raw, secret, loc: loc.cloned(), field }
    }
}

pub(crate) fn build(
    raw: RawTopology,
    profile: Option<String>,
    project_dir: PathBuf,
    base: &Arc<SourceFile>,
) -> Result<Topology, Errors> {
    let mut cx = Ctx { errors: Errors::default(), secret_vars: Vec::new() };

    // -- project name and namespace
    let name = match &raw.name {
        Some(n) => {
            if !is_dns1123(&n.value) {
                cx.err(
                    Diagnostic::new(format!("project name `{}` is not valid", n.value))
                        .at(n.loc())
                        .field("name")
                        .help(DNS1123_HELP),
                );
            }
            n.value.clone()
        }
        None => {
            let stem = base.path.file_stem().map(|s| s.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            let stem = stem.replace(['_', '.', ' '], "-");
            if is_dns1123(&stem) { stem } else { "deploy".to_string() }
        }
    };
    let namespace = match &raw.namespace {
        Some(n) => {
            if !is_dns1123(&n.value) {
                cx.err(
                    Diagnostic::new(format!("namespace `{}` is not a valid Kubernetes namespace", n.value))
                        .at(n.loc())
                        .field("namespace")
                        .help(DNS1123_HELP),
                );
            }
            n.value.clone()
        }
        None => name.clone(),
    };

    // -- variables
    let mut variables = IndexMap::new();
    for (k, v) in &raw.variables {
        let secret = v.secret.unwrap_or_else(|| is_secret_name(&k.value));
        if secret {
            cx.secret_vars.push(k.value.clone());
        }
        variables.insert(k.value.clone(), Variable { secret, description: v.description.clone() });
    }
    // Undeclared variables with secret-looking names are secret too.
    let mut mentioned: Vec<String> = Vec::new();
    for s in raw.services.values() {
        collect_vars(s, &mut mentioned);
    }
    for v in mentioned {
        if !variables.contains_key(&v) && is_secret_name(&v) {
            cx.secret_vars.push(v);
        }
    }

    // -- volumes and networks
    let mut volumes = IndexMap::new();
    for (k, v) in &raw.volumes {
        let v = v.clone().unwrap_or_default();
        check_key(&mut cx, k, "volumes");
        let explicit_name = v.name.is_some();
        let docker_name = v.name.map_or_else(|| format!("{name}_{}", k.value), |n| n.value);
        volumes.insert(
            k.value.clone(),
            Volume {
                key: k.value.clone(),
                name: docker_name,
                explicit_name,
                size: v.size.map_or(DEFAULT_VOLUME_SIZE, |s| s.value),
                storage_class: v.storage_class.map(|s| s.value),
            },
        );
    }
    let mut networks = IndexMap::new();
    for (k, n) in &raw.networks {
        let n = n.clone().unwrap_or_default();
        check_key(&mut cx, k, "networks");
        networks.insert(
            k.value.clone(),
            Network {
                key: k.value.clone(),
                name: n.name.map_or_else(|| format!("{name}_{}", k.value), |x| x.value),
                driver: n.driver.map_or_else(|| "bridge".to_string(), |d| d.value),
            },
        );
    }

    // -- services
    let service_names: Vec<String> = raw.services.keys().map(|k| k.value.clone()).collect();
    let mut services = IndexMap::new();
    // Host ports already published: (port, protocol) → [(host IP, service)].
    let mut published: std::collections::HashMap<(u16, Protocol), Vec<(String, String)>> =
        std::collections::HashMap::new();
    let mut needs_default_network = false;
    for (key, s) in &raw.services {
        let sname = key.value.clone();
        let f = |x: &str| format!("services.{sname}.{x}");
        if !is_dns1035(&sname) {
            cx.err(
                Diagnostic::new(format!("service name `{sname}` cannot be used on Kubernetes"))
                    .at(key.loc())
                    .field(format!("services.{sname}"))
                    .help(DNS1035_HELP),
            );
        }
        let image = match &s.image {
            Some(i) => cx.value(i.value.clone(), i.loc(), f("image"), false),
            None => {
                cx.err(
                    Diagnostic::new(format!("service `{sname}` has no image")).at(key.loc()).field(f("image")).help(
                        "add `image: NAME[:TAG]` (a `build:` section alone is not enough: Kubernetes needs an image)",
                    ),
                );
                Value::literal("")
            }
        };
        let build = s.build.as_ref().map(|b| Build {
            context: b.context.as_ref().map(|x| x.value.clone()),
            dockerfile: b.dockerfile.as_ref().map(|x| x.value.clone()),
            target: b.target.as_ref().map(|x| x.value.clone()),
        });
        if let Some(c) = &s.container_name
            && !is_docker_name(&c.value)
        {
            cx.err(
                Diagnostic::new(format!("container name `{}` is not valid on Docker", c.value))
                    .at(c.loc())
                    .field(f("container_name"))
                    .help("use letters, digits, `_`, `.` and `-`, starting with a letter or digit"),
            );
        }
        let command = s.command.as_ref().map(|c| args(&mut cx, c, &f("command")));
        let entrypoint = s.entrypoint.as_ref().map(|c| args(&mut cx, c, &f("entrypoint")));

        let mut environment = IndexMap::new();
        if let Some(env) = s.environment.clone() {
            for (k, v) in env.into_map() {
                let field = f(&format!("environment.{}", k.value));
                if !is_env_name(&k.value) {
                    cx.err(
                        Diagnostic::new(format!("`{}` is not a valid environment variable name", k.value))
                            .at(k.loc())
                            .field(field.clone())
                            .help("use letters, digits, `_`, `-` and `.`, not starting with a digit"),
                    );
                }
                let (text, marked) = match v.value {
                    raw::RawEnvValue::Scalar(x) => (x.into_string(), false),
                    raw::RawEnvValue::Detailed(d) => (d.value.into_string(), d.secret),
                };
                let val = cx.value(text, v.loc.as_ref().or(k.loc()), field, marked || is_secret_name(&k.value));
                environment.insert(k.value.clone(), val);
            }
        }

        let mut ports = Vec::new();
        for p in s.ports.iter().flatten() {
            match parse_port(&p.value) {
                Ok(port) => {
                    if let Some(h) = port.host {
                        let ip = port.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into());
                        let taken = published.entry((h, port.protocol)).or_default();
                        if let Some((_, other)) =
                            taken.iter().find(|(pip, _)| pip == &ip || pip == "0.0.0.0" || ip == "0.0.0.0")
                        {
                            let msg = if *other == sname {
                                format!("service `{sname}` publishes host port {h}/{} twice", port.protocol.as_str())
                            } else {
                                format!("host port {h}/{} is published by both `{other}` and `{sname}`", port.protocol.as_str())
                            };
                            cx.err(Diagnostic::new(msg).at(p.loc()).field(f("ports")).help("give each service its own host port, or remove one of the mappings"));
                        } else {
                            taken.push((ip, sname.clone()));
                        }
                    }
                    ports.push(port);
                }
                Err(m) => cx.err(Diagnostic::new(m).at(p.loc()).field(f("ports")).help("write `HOST:CONTAINER`, `IP:HOST:CONTAINER` or `CONTAINER`, optionally with `/tcp` or `/udp`, or a map with `target`, `published`, `host_ip`, `protocol`")),
            }
        }
        let expose: Vec<u16> = s.expose.iter().flatten().map(|e| e.value).collect();

        let mut mounts = Vec::new();
        for m in s.volumes.iter().flatten() {
            match parse_mount(&m.value) {
                Ok(mount) => {
                    if let MountSource::Volume(v) = &mount.source
                        && !volumes.contains_key(v)
                    {
                        cx.err(Diagnostic::new(format!("volume `{v}` is used by service `{sname}` but not declared")).at(m.loc()).field(f("volumes")).help(format!("declare it at the top level: `volumes: {{ {v}: {{}} }}`, or write a host path starting with `./` for a bind mount")));
                    }
                    mounts.push(mount);
                }
                Err(msg) => cx.err(
                    Diagnostic::new(msg)
                        .at(m.loc())
                        .field(f("volumes"))
                        .help("write `VOLUME:/container/path[:ro]` or `./host/path:/container/path[:ro]`"),
                ),
            }
        }

        let mut nets = Vec::new();
        for n in s.networks.iter().flatten() {
            if !networks.contains_key(&n.value) {
                cx.err(
                    Diagnostic::new(format!("network `{}` is used by service `{sname}` but not declared", n.value))
                        .at(n.loc())
                        .field(f("networks"))
                        .help(format!(
                            "declare it at the top level: `networks: {{ {}: {{}} }}`{}",
                            n.value,
                            declared_hint(networks.keys())
                        )),
                );
            }
            nets.push(n.value.clone());
        }
        if nets.is_empty() {
            needs_default_network = true;
            nets.push("default".to_string());
        }

        let healthcheck = s.healthcheck.as_ref().and_then(|h| {
            let test = match (&h.command, &h.shell) {
                (Some(c), None) if !c.value.is_empty() => ProbeTest::Exec(
                    c.value.iter().map(|a| cx.value(a.clone(), c.loc(), f("healthcheck.command"), false)).collect(),
                ),
                (None, Some(sh)) => {
                    ProbeTest::Shell(cx.value(sh.value.clone(), sh.loc(), f("healthcheck.shell"), false))
                }
                (Some(c), None) => {
                    cx.err(
                        Diagnostic::new("the health probe command is empty")
                            .at(c.loc())
                            .field(f("healthcheck.command"))
                            .help("give the command and its arguments, like `[redis-cli, ping]`"),
                    );
                    return None;
                }
                (Some(c), Some(_)) => {
                    cx.err(
                        Diagnostic::new("a health probe has either `command` or `shell`, not both")
                            .at(c.loc())
                            .field(f("healthcheck"))
                            .help("keep `command: [...]` (run directly) or `shell: \"...\"` (run with sh -c)"),
                    );
                    return None;
                }
                (None, None) => {
                    cx.err(
                        Diagnostic::new(format!("the health probe of `{sname}` has no command"))
                            .at(key.loc())
                            .field(f("healthcheck"))
                            .help("add `command: [prog, args...]` or `shell: \"command line\"`"),
                    );
                    return None;
                }
            };
            for (d, name) in [(&h.interval, "interval"), (&h.timeout, "timeout")] {
                if let Some(d) = d
                    && d.value.get().is_zero()
                {
                    cx.err(
                        Diagnostic::new(format!("healthcheck {name} must be greater than zero"))
                            .at(d.loc())
                            .field(f(&format!("healthcheck.{name}")))
                            .help(crate::units::DURATION_HELP),
                    );
                }
            }
            if let Some(r) = &h.retries
                && r.value == 0
            {
                cx.err(
                    Diagnostic::new("healthcheck retries must be at least 1")
                        .at(r.loc())
                        .field(f("healthcheck.retries"))
                        .help("the number of consecutive failures before the service is unhealthy, like 3"),
                );
            }
            Some(Healthcheck {
                test,
                interval: h.interval.as_ref().map(|x| x.value),
                timeout: h.timeout.as_ref().map(|x| x.value),
                retries: h.retries.as_ref().map(|x| x.value),
                start_period: h.start_period.as_ref().map(|x| x.value),
            })
        });

        let amount = |a: &Option<raw::RawAmount>| Amount {
            cpus: a.as_ref().and_then(|x| x.cpus.as_ref().map(|c| c.value)),
            memory: a.as_ref().and_then(|x| x.memory.as_ref().map(|c| c.value)),
        };
        let resources = s.resources.as_ref().map_or_else(Resources::default, |r| Resources {
            limits: amount(&r.limits),
            reservations: amount(&r.reservations),
        });
        if let Some(r) = &s.resources {
            check_reservation(&mut cx, r, &resources, &f("resources"));
        }

        let restart = s.restart.as_ref().and_then(|r| match parse_restart(&r.value) {
            Ok(x) => Some(x),
            Err(m) => {
                cx.err(
                    Diagnostic::new(m)
                        .at(r.loc())
                        .field(f("restart"))
                        .help("use `no`, `always`, `on-failure`, `on-failure:N` or `unless-stopped`"),
                );
                None
            }
        });

        let mut depends_on = IndexMap::new();
        if let Some(d) = s.depends_on.clone() {
            for (dep, spec) in d.into_map() {
                if !raw.services.contains_key(dep.value.as_str()) {
                    cx.err(
                        Diagnostic::new(format!(
                            "service `{sname}` depends on `{}`, which is not a service of this topology",
                            dep.value
                        ))
                        .at(dep.loc())
                        .field(f(&format!("depends_on.{}", dep.value)))
                        .help(format!("services are: {}", service_names.join(", "))),
                    );
                    continue;
                }
                if dep.value == sname {
                    cx.err(
                        Diagnostic::new(format!("service `{sname}` depends on itself"))
                            .at(dep.loc())
                            .field(f("depends_on"))
                            .help("remove it from its own depends_on"),
                    );
                    continue;
                }
                let cond = match &spec.condition {
                    None => Condition::ServiceStarted,
                    Some(c) => {
                        match c.value.as_str() {
                            "service_started" => Condition::ServiceStarted,
                            "service_healthy" => Condition::ServiceHealthy,
                            "service_completed_successfully" => Condition::ServiceCompletedSuccessfully,
                            other => {
                                cx.err(Diagnostic::new(format!("unknown depends_on condition `{other}`")).at(c.loc()).field(f(&format!("depends_on.{}.condition", dep.value))).help("use `service_started`, `service_healthy` or `service_completed_successfully`"));
                                Condition::ServiceStarted
                            }
                        }
                    }
                };
                if cond == Condition::ServiceHealthy
                    && let Some((_, target)) = raw.services.get_key_value(dep.value.as_str())
                    && target.healthcheck.is_none()
                {
                    cx.err(
                        Diagnostic::new(format!(
                            "`{sname}` waits for `{}` to be healthy, but `{}` has no healthcheck",
                            dep.value, dep.value
                        ))
                        .at(spec.condition.as_ref().and_then(|c| c.loc()).or(dep.loc()))
                        .field(f(&format!("depends_on.{}.condition", dep.value)))
                        .help(format!("add a healthcheck to `{}`, or use `condition: service_started`", dep.value)),
                    );
                }
                depends_on.insert(dep.value.clone(), cond);
            }
        }

        let replicas = s.replicas.as_ref().map_or(1, |r| r.value);
        if let Some(r) = &s.replicas {
            if r.value == 0 {
                cx.err(
                    Diagnostic::new("replicas must be at least 1")
                        .at(r.loc())
                        .field(f("replicas"))
                        .help("use `deploy destroy` to remove a service"),
                );
            } else if r.value > 1 && s.container_name.is_some() {
                cx.err(
                    Diagnostic::new(format!("`{sname}` has {} replicas but a fixed container_name", r.value))
                        .at(r.loc())
                        .field(f("replicas"))
                        .help(
                            "Docker cannot run two containers with one name: drop `container_name` or use one replica",
                        ),
                );
            } else if r.value > 1 && ports.iter().any(|p| p.host.is_some()) {
                cx.err(
                    Diagnostic::new(format!("`{sname}` has {} replicas but publishes a fixed host port", r.value))
                        .at(r.loc())
                        .field(f("replicas"))
                        .help("two containers cannot bind one host port: publish `CONTAINER` only, or use one replica"),
                );
            }
        }
        let has_volume = mounts.iter().any(|m| matches!(m.source, MountSource::Volume(_)));
        let kind = match &s.kind {
            None => {
                if has_volume {
                    WorkloadKind::Stateful
                } else {
                    WorkloadKind::Stateless
                }
            }
            Some(k) => match k.value.as_str() {
                "stateful" => WorkloadKind::Stateful,
                "stateless" => WorkloadKind::Stateless,
                other => {
                    cx.err(
                        Diagnostic::new(format!("unknown kind `{other}`"))
                            .at(k.loc())
                            .field(f("kind"))
                            .help("use `stateful` (StatefulSet) or `stateless` (Deployment)"),
                    );
                    WorkloadKind::Stateless
                }
            },
        };

        services.insert(
            sname.clone(),
            Service {
                name: sname,
                image,
                build,
                container_name: s.container_name.as_ref().map(|c| c.value.clone()),
                command,
                entrypoint,
                environment,
                ports,
                expose,
                mounts,
                networks: nets,
                healthcheck,
                resources,
                restart,
                depends_on,
                replicas,
                kind,
            },
        );
    }
    if needs_default_network && !networks.contains_key("default") {
        networks.insert(
            "default".to_string(),
            Network { key: "default".into(), name: format!("{name}_default"), driver: "bridge".into() },
        );
    }

    // -- dependency cycles
    if let Some(cycle) = find_cycle(&services) {
        let first = &cycle[0];
        let loc = raw.services.get_key_value(first.as_str()).and_then(|(_, s)| {
            s.depends_on
                .clone()
                .and_then(|d| d.into_map().keys().find(|k| k.value == cycle[1]).and_then(|k| k.loc.clone()))
        });
        cx.err(
            Diagnostic::new(format!("dependency cycle: {}", cycle.join(" -> ")))
                .at(loc.as_ref())
                .field(format!("services.{first}.depends_on"))
                .help("remove one of these depends_on entries: services in a cycle can never start"),
        );
    }

    cx.errors.into_result(Topology { name, namespace, profile, project_dir, variables, services, networks, volumes })
}

fn declared_hint<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let k: Vec<&String> = keys.collect();
    if k.is_empty() {
        String::new()
    } else {
        format!("; declared: {}", k.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
    }
}

fn check_key(cx: &mut Ctx, k: &Located<String>, section: &str) {
    let kn = k8s_name(&k.value);
    if !is_dns1123(&kn) {
        cx.err(
            Diagnostic::new(format!("{section} key `{}` cannot be used on Kubernetes (as `{kn}`)", k.value))
                .at(k.loc())
                .field(format!("{section}.{}", k.value))
                .help(format!("{DNS1123_HELP}; `_` is turned into `-`")),
        );
    }
}

fn check_reservation(cx: &mut Ctx, raw: &raw::RawResources, r: &Resources, field: &str) {
    if let (Some(l), Some(q)) = (r.limits.cpus, r.reservations.cpus)
        && q > l
    {
        let loc = raw.reservations.as_ref().and_then(|x| x.cpus.as_ref()).and_then(|c| c.loc.clone());
        cx.err(
            Diagnostic::new(format!("reserved cpus {q} exceed the limit {l}"))
                .at(loc.as_ref())
                .field(format!("{field}.reservations.cpus"))
                .help("a reservation must not exceed its limit"),
        );
    }
    if let (Some(l), Some(q)) = (r.limits.memory, r.reservations.memory)
        && q > l
    {
        let loc = raw.reservations.as_ref().and_then(|x| x.memory.as_ref()).and_then(|c| c.loc.clone());
        cx.err(
            Diagnostic::new(format!("reserved memory {q} exceeds the limit {l}"))
                .at(loc.as_ref())
                .field(format!("{field}.reservations.memory"))
                .help("a reservation must not exceed its limit"),
        );
    }
}

fn args(cx: &mut Ctx, c: &Located<StringOrList>, field: &str) -> Vec<Value> {
    let list = match &c.value {
        StringOrList::List(l) => l.clone(),
        StringOrList::String(s) => match shell_words::split(s) {
            Ok(l) => l,
            Err(e) => {
                cx.err(
                    Diagnostic::new(format!("cannot split the command line: {e}"))
                        .at(c.loc())
                        .field(field)
                        .help("close the quotes, or write the command as a list"),
                );
                Vec::new()
            }
        },
    };
    list.into_iter().map(|a| cx.value(a, c.loc(), field.to_string(), false)).collect()
}

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
                if let raw::RawEnvValue::Scalar(raw::Scalar::String(t))
                | raw::RawEnvValue::Detailed(raw::RawEnvDetailed { value: raw::Scalar::String(t), .. }) = &v.value
                {
                    add(t);
                }
            }
        }
        // `KEY=VALUE` items, as `RawEnv::into_map` reads them
        Some(raw::RawEnv::List(l)) => l.iter().for_each(|item| add(item.value.split_once('=').map_or("", |(_, v)| v))),
        None => {}
    }
    for c in [&s.command, &s.entrypoint].into_iter().flatten() {
        match &c.value {
            StringOrList::String(t) => add(t),
            StringOrList::List(l) => l.iter().for_each(|t| add(t)),
        }
    }
}

fn parse_port(p: &RawPort) -> Result<Port, String> {
    let proto = |s: Option<&str>| match s.unwrap_or("tcp") {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        o => Err(format!("unknown protocol `{o}` (use tcp or udp)")),
    };
    match p {
        RawPort::Number(n) => Ok(Port { host_ip: None, host: None, container: *n, protocol: Protocol::Tcp }),
        RawPort::Long(l) => Ok(Port {
            host_ip: l.host_ip.clone(),
            host: l.published,
            container: l.target,
            protocol: proto(l.protocol.as_deref())?,
        }),
        RawPort::Short(s) => {
            let (spec, pr) = match s.split_once('/') {
                Some((a, b)) => (a, Some(b)),
                None => (s.as_str(), None),
            };
            let protocol = proto(pr)?;
            let num = |x: &str| -> Result<u16, String> {
                x.parse::<u16>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("`{x}` in port `{s}` is not a port number (1-65535)"))
            };
            let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
            match parts.as_slice() {
                [c] => Ok(Port { host_ip: None, host: None, container: num(c)?, protocol }),
                [c, h] => Ok(Port { host_ip: None, host: Some(num(h)?), container: num(c)?, protocol }),
                [c, h, ip] => Ok(Port {
                    host_ip: Some(ip.trim_matches(['[', ']']).to_string()),
                    host: if h.is_empty() { None } else { Some(num(h)?) },
                    container: num(c)?,
                    protocol,
                }),
                _ => Err(format!("`{s}` is not a port mapping")),
            }
        }
    }
}

fn parse_mount(m: &RawMount) -> Result<Mount, String> {
    let is_path = |s: &str| s.starts_with('.') || s.starts_with('/') || s.starts_with('~');
    let (source, target, read_only, options) = match m {
        RawMount::Long(l) => (l.source.clone(), l.target.clone(), l.read_only, Vec::new()),
        RawMount::Short(s) => {
            let parts: Vec<&str> = s.split(':').collect();
            match parts.as_slice() {
                [_] => {
                    return Err(format!(
                        "`{s}` has no source: anonymous volumes are not supported; name the volume, like `data:{s}`"
                    ));
                }
                [src, tgt] => (src.to_string(), tgt.to_string(), false, Vec::new()),
                [src, tgt, opts] => {
                    let mut ro = false;
                    let mut rest = Vec::new();
                    for o in opts.split(',') {
                        match o {
                            "ro" => ro = true,
                            "rw" => {}
                            "cached" | "delegated" | "consistent" | "z" | "Z" | "nocopy" => rest.push(o.to_string()),
                            other => {
                                return Err(format!(
                                    "unknown mount option `{other}` in `{s}` (use ro, rw, cached, delegated, consistent, z, Z, nocopy)"
                                ));
                            }
                        }
                    }
                    (src.to_string(), tgt.to_string(), ro, rest)
                }
                _ => return Err(format!("`{s}` is not a mount")),
            }
        }
    };
    if !target.starts_with('/') {
        return Err(format!("mount target `{target}` must be an absolute path in the container"));
    }
    let source = if is_path(&source) { MountSource::Bind(source) } else { MountSource::Volume(source) };
    Ok(Mount { source, target, read_only, options })
}

fn parse_restart(s: &str) -> Result<Restart, String> {
    match s {
        "no" => Ok(Restart::No),
        "always" => Ok(Restart::Always),
        "unless-stopped" => Ok(Restart::UnlessStopped),
        "on-failure" => Ok(Restart::OnFailure(None)),
        other => match other.strip_prefix("on-failure:").map(str::parse::<u32>) {
            Some(Ok(n)) => Ok(Restart::OnFailure(Some(n))),
            _ => Err(format!("unknown restart policy `{other}`")),
        },
    }
}

fn find_cycle(services: &IndexMap<String, Service>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn dfs(
        n: &str,
        s: &IndexMap<String, Service>,
        marks: &mut IndexMap<String, Mark>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        marks.insert(n.to_string(), Mark::Active);
        stack.push(n.to_string());
        for d in s.get(n).map(|x| x.depends_on.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
            match marks.get(&d).copied().unwrap_or(Mark::New) {
                Mark::Active => {
                    let start = stack.iter().position(|x| *x == d).unwrap_or(0);
                    let mut c = stack[start..].to_vec();
                    c.push(d);
                    return Some(c);
                }
                Mark::New => {
                    if let Some(c) = dfs(&d, s, marks, stack) {
                        return Some(c);
                    }
                }
                Mark::Done => {}
            }
        }
        stack.pop();
        marks.insert(n.to_string(), Mark::Done);
        None
    }
    let mut marks: IndexMap<String, Mark> = services.keys().map(|k| (k.clone(), Mark::New)).collect();
    for k in services.keys() {
        if marks[k] == Mark::New
            && let Some(c) = dfs(k, services, &mut marks, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}
