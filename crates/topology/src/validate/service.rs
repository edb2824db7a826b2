//! Pass 3: each service, one field group at a time, into the model.

use indexmap::IndexMap;

use super::cross::Scope;
use super::forms::{environment, mounts, networks, ports};
use super::parse::parse_restart;
use super::{Ctx, DNS1035_HELP, is_dns1035, is_docker_name, service_field};
use crate::diag::Diagnostic;
use crate::model::*;
use crate::raw::{self, Located, RawService, RawTopology, StringOrList};

/// Every service, in file order.
pub(super) fn all(cx: &mut Ctx, raw: &RawTopology) -> IndexMap<String, Service> {
    let mut scope = Scope::new(raw);
    raw.services.iter().map(|(key, s)| (key.value.clone(), service(cx, &mut scope, key, s))).collect()
}

fn service(cx: &mut Ctx, scope: &mut Scope<'_>, key: &Located<String>, s: &RawService) -> Service {
    let sname = key.value.as_str();
    let f = |x: &str| service_field(sname, x);
    check_name(cx, key);
    let image = image(cx, key, s);
    check_container_name(cx, sname, s);
    let command = s.command.as_ref().map(|c| args(cx, c, &f("command")));
    let entrypoint = s.entrypoint.as_ref().map(|c| args(cx, c, &f("entrypoint")));
    let (environment, environment_from_shell) = environment(cx, sname, s);
    let ports = ports(cx, scope, sname, s);
    let mounts = mounts(cx, scope, sname, s);
    let (networks, network_settings) = networks(cx, scope, sname, s);
    let healthcheck = s.healthcheck.as_ref().and_then(|h| healthcheck(cx, key, h));
    let healthcheck_disabled = super::container::healthcheck_off(cx, sname, s);
    let c = super::container::read(cx, scope, key, s);
    let files = super::files::service_files(cx, scope, key, s);
    let resources = resources(cx, sname, s);
    let restart = restart(cx, sname, s);
    let (depends_on, implicit_depends_on) = super::container::implied(depends_on(cx, scope, sname, s), &c);
    let replicas = replicas(cx, sname, s, &ports);
    let kind = kind(cx, sname, s, &mounts);
    let checks = super::checks::checks(cx, key, s);
    Service {
        name: sname.to_string(),
        image,
        build: s.build.as_ref().map(|b| build(cx, sname, s.image.is_none(), b)),
        container_name: s.container_name.as_ref().map(|c| c.value.clone()),
        command,
        entrypoint,
        environment,
        ports,
        expose: s.expose.iter().flatten().map(|e| e.value).collect(),
        listen: s.listen.iter().flatten().map(|e| e.value).collect(),
        mounts,
        networks,
        healthcheck,
        healthcheck_disabled,
        network_settings,
        implicit_depends_on,
        environment_from_shell,
        env_files: Vec::new(),
        user: c.user,
        working_dir: c.working_dir,
        hostname: c.hostname,
        cap_add: c.cap_add,
        cap_drop: c.cap_drop,
        read_only: c.read_only,
        privileged: c.privileged,
        init: c.init,
        sysctls: c.sysctls,
        shm_size: c.shm_size,
        tmpfs: c.tmpfs,
        ulimits: c.ulimits,
        stop_signal: c.stop_signal,
        stop_grace_period: c.stop_grace_period,
        labels: c.labels,
        extra_hosts: c.extra_hosts,
        dns: c.dns,
        dns_search: c.dns_search,
        dns_opt: c.dns_opt,
        platform: c.platform,
        pull_policy: c.pull_policy,
        logging: c.logging,
        devices: c.devices,
        network_mode: c.network_mode,
        runtime: c.runtime,
        security_opt: c.security_opt,
        tty: c.tty,
        stdin_open: c.stdin_open,
        secrets: files.secrets,
        configs: files.configs,
        resources,
        restart,
        depends_on,
        replicas,
        kind,
        checks,
    }
}

/// A service name becomes a Kubernetes Service: a DNS-1035 label.
fn check_name(cx: &mut Ctx, key: &Located<String>) {
    if !is_dns1035(&key.value) {
        cx.err(
            Diagnostic::new(format!("service name `{}` cannot be used on Kubernetes", key.value))
                .at(key.loc())
                .field(format!("services.{}", key.value))
                .help(DNS1035_HELP),
        );
    }
}

/// The image; with `build:` and no `image:`, Compose's name for the built image, `PROJECT-SERVICE`.
fn image(cx: &mut Ctx, key: &Located<String>, s: &RawService) -> Value {
    let field = service_field(&key.value, "image");
    match (&s.image, &s.build) {
        (Some(i), _) => cx.value(i.value.clone(), i.loc(), field, false),
        (None, Some(_)) => Value { field, ..Value::literal(format!("{}-{}", cx.project, key.value)) },
        (None, None) => {
            cx.err(
                Diagnostic::new(format!("service `{}` has no image", key.value))
                    .at(key.loc())
                    .field(field)
                    .help("add `image: NAME[:TAG]`, or a `build:` section to build it from a Dockerfile"),
            );
            Value::literal("")
        }
    }
}

/// `build:`: its arguments are templates, secret when their name or a variable they use is.
fn build(cx: &mut Ctx, sname: &str, default_image: bool, b: &raw::RawBuild) -> Build {
    let mut args = IndexMap::new();
    for (k, v) in b.args.clone().map(raw::RawBuildArgs::into_map).unwrap_or_default() {
        let field = service_field(sname, &format!("build.args.{}", k.value));
        if k.value.is_empty() || k.value.contains(char::is_whitespace) {
            cx.err(
                Diagnostic::new(format!("`{}` is not a valid build argument name", k.value))
                    .at(k.loc())
                    .field(field.clone())
                    .help("write `NAME=value` (list) or `NAME: value` (map), as the Dockerfile's `ARG NAME`"),
            );
        }
        let secret = crate::is_secret_name(&k.value);
        let value = v.value.map(|x| cx.value(x.into_string(), v.loc.as_ref().or(k.loc()), field, secret));
        args.insert(k.value.clone(), value);
    }
    let text = |x: &Option<Located<String>>| x.as_ref().map(|x| x.value.clone());
    Build { context: text(&b.context), dockerfile: text(&b.dockerfile), target: text(&b.target), args, default_image }
}

fn check_container_name(cx: &mut Ctx, sname: &str, s: &RawService) {
    if let Some(c) = &s.container_name
        && !is_docker_name(&c.value)
    {
        cx.err(
            Diagnostic::new(format!("container name `{}` is not valid on Docker", c.value))
                .at(c.loc())
                .field(service_field(sname, "container_name"))
                .help("use letters, digits, `_`, `.` and `-`, starting with a letter or digit"),
        );
    }
}

/// `command` or `entrypoint`: a list, or a string split as a shell does.
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

/// The probe, when its test is valid; its timings are checked only then.
fn healthcheck(cx: &mut Ctx, key: &Located<String>, h: &raw::RawHealth) -> Option<Healthcheck> {
    if super::container::is_off(h) {
        return None;
    }
    let test = probe_test(cx, key, h)?;
    check_probe_timing(cx, &key.value, h);
    Some(Healthcheck {
        test,
        interval: h.interval.as_ref().map(|x| x.value),
        timeout: h.timeout.as_ref().map(|x| x.value),
        retries: h.retries.as_ref().map(|x| x.value),
        start_period: h.start_period.as_ref().map(|x| x.value),
        start_interval: h.start_interval.as_ref().map(|x| x.value),
    })
}

/// Exactly one of `command` (non-empty) and `shell`.
fn probe_test(cx: &mut Ctx, key: &Located<String>, h: &raw::RawHealth) -> Option<ProbeTest> {
    let f = |x: &str| service_field(&key.value, x);
    let (msg, loc, field, help) = match (&h.command, &h.shell) {
        (Some(c), None) if !c.value.is_empty() => {
            return Some(ProbeTest::Exec(
                c.value.iter().map(|a| cx.value(a.clone(), c.loc(), f("healthcheck.command"), false)).collect(),
            ));
        }
        (None, Some(sh)) => {
            return Some(ProbeTest::Shell(cx.value(sh.value.clone(), sh.loc(), f("healthcheck.shell"), false)));
        }
        (Some(c), None) => (
            "the health probe command is empty".to_string(),
            c.loc(),
            f("healthcheck.command"),
            "give the command and its arguments, like `[redis-cli, ping]`",
        ),
        (Some(c), Some(_)) => (
            "a health probe has either `command` or `shell`, not both".to_string(),
            c.loc(),
            f("healthcheck"),
            "keep `command: [...]` (run directly) or `shell: \"...\"` (run with sh -c)",
        ),
        (None, None) => (
            format!("the health probe of `{}` has no command", key.value),
            key.loc(),
            f("healthcheck"),
            "add `command: [prog, args...]` or `shell: \"command line\"`",
        ),
    };
    cx.err(Diagnostic::new(msg).at(loc).field(field).help(help));
    None
}

fn check_probe_timing(cx: &mut Ctx, sname: &str, h: &raw::RawHealth) {
    for (d, name) in [(&h.interval, "interval"), (&h.timeout, "timeout")] {
        if let Some(d) = d
            && d.value.get().is_zero()
        {
            cx.err(
                Diagnostic::new(format!("healthcheck {name} must be greater than zero"))
                    .at(d.loc())
                    .field(service_field(sname, &format!("healthcheck.{name}")))
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
                .field(service_field(sname, "healthcheck.retries"))
                .help("the number of consecutive failures before the service is unhealthy, like 3"),
        );
    }
}

fn resources(cx: &mut Ctx, sname: &str, s: &RawService) -> Resources {
    let amount = |a: &Option<raw::RawAmount>| Amount {
        cpus: a.as_ref().and_then(|x| x.cpus.as_ref().map(|c| c.value)),
        memory: a.as_ref().and_then(|x| x.memory.as_ref().map(|c| c.value)),
    };
    let resources = s.resources.as_ref().map_or_else(Resources::default, |r| Resources {
        limits: amount(&r.limits),
        reservations: amount(&r.reservations),
    });
    if let Some(r) = &s.resources {
        check_reservation(cx, r, &resources, &service_field(sname, "resources"));
    }
    resources
}

/// A reservation must not exceed its limit.
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

fn restart(cx: &mut Ctx, sname: &str, s: &RawService) -> Option<Restart> {
    let r = s.restart.as_ref()?;
    match parse_restart(&r.value) {
        Ok(x) => Some(x),
        Err(m) => {
            cx.err(
                Diagnostic::new(m)
                    .at(r.loc())
                    .field(service_field(sname, "restart"))
                    .help("use `no`, `always`, `on-failure`, `on-failure:N` or `unless-stopped`"),
            );
            None
        }
    }
}

/// The services this one waits for, and for what; unknown services and itself left out (and reported).
fn depends_on(cx: &mut Ctx, scope: &Scope<'_>, sname: &str, s: &RawService) -> IndexMap<String, Condition> {
    let mut depends_on = IndexMap::new();
    for (dep, spec) in s.depends_on.clone().map(raw::RawDepends::into_map).unwrap_or_default() {
        if !scope.check_dependency(cx, sname, &dep) {
            continue;
        }
        let cond = condition(cx, sname, &dep, spec.condition.as_ref());
        if cond == Condition::ServiceHealthy {
            scope.check_healthy_target(cx, sname, &dep, &spec);
        }
        depends_on.insert(dep.value.clone(), cond);
    }
    depends_on
}

fn condition(cx: &mut Ctx, sname: &str, dep: &Located<String>, c: Option<&Located<String>>) -> Condition {
    let Some(c) = c else { return Condition::ServiceStarted };
    match c.value.as_str() {
        "service_started" => Condition::ServiceStarted,
        "service_healthy" => Condition::ServiceHealthy,
        "service_completed_successfully" => Condition::ServiceCompletedSuccessfully,
        other => {
            cx.err(
                Diagnostic::new(format!("unknown depends_on condition `{other}`"))
                    .at(c.loc())
                    .field(service_field(sname, &format!("depends_on.{}.condition", dep.value)))
                    .help("use `service_started`, `service_healthy` or `service_completed_successfully`"),
            );
            Condition::ServiceStarted
        }
    }
}

/// At least one; more than one only without a fixed container name or host port.
fn replicas(cx: &mut Ctx, sname: &str, s: &RawService, ports: &[Port]) -> u32 {
    let Some(r) = &s.replicas else { return 1 };
    let (msg, help) = if r.value == 0 {
        ("replicas must be at least 1".to_string(), "use `deploy destroy` to remove a service")
    } else if r.value > 1 && s.container_name.is_some() {
        (
            format!("`{sname}` has {} replicas but a fixed container_name", r.value),
            "Docker cannot run two containers with one name: drop `container_name` or use one replica",
        )
    } else if r.value > 1 && ports.iter().any(|p| p.host.is_some()) {
        (
            format!("`{sname}` has {} replicas but publishes a fixed host port", r.value),
            "two containers cannot bind one host port: publish `CONTAINER` only, or use one replica",
        )
    } else {
        return r.value;
    };
    cx.err(Diagnostic::new(msg).at(r.loc()).field(service_field(sname, "replicas")).help(help));
    r.value
}

/// `stateful`, `stateless` or `job`; by default stateful when a named volume is mounted.
fn kind(cx: &mut Ctx, sname: &str, s: &RawService, mounts: &[Mount]) -> WorkloadKind {
    let Some(k) = &s.kind else {
        let has_volume = mounts.iter().any(|m| matches!(m.source, MountSource::Volume(_)));
        return if has_volume { WorkloadKind::Stateful } else { WorkloadKind::Stateless };
    };
    match k.value.as_str() {
        "stateful" => WorkloadKind::Stateful,
        "stateless" => WorkloadKind::Stateless,
        "job" => WorkloadKind::Job,
        other => {
            cx.err(
                Diagnostic::new(format!("unknown kind `{other}`"))
                    .at(k.loc())
                    .field(service_field(sname, "kind"))
                    .help(
                        "use `stateful` (StatefulSet), `stateless` (Deployment) or `job` (runs to completion: a Job)",
                    ),
            );
            WorkloadKind::Stateless
        }
    }
}
