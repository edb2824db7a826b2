//! Pass 3, what a service's container runs as and with: user, working
//! directory, host name, capabilities, privileges, kernel parameters,
//! `/dev/shm`, tmpfs, ulimits, init, stop signal and grace period, labels,
//! `/etc/hosts` entries, DNS, platform, pull policy, logging, devices,
//! network mode, runtime; and a healthcheck turned off.

use indexmap::IndexMap;

use super::cross::Scope;
use super::parse;
use super::{Ctx, service_field};
use crate::diag::Diagnostic;
use crate::model::*;
use crate::raw::{self, Located, RawService, Scalar, StringOrList};
use crate::units::{ByteSize, Dur};

/// The container fields of one service, read and checked.
pub(super) struct Container {
    pub user: Option<Value>,
    pub working_dir: Option<Value>,
    pub hostname: Option<Value>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub read_only: bool,
    pub privileged: bool,
    pub init: Option<bool>,
    pub sysctls: IndexMap<String, Value>,
    pub shm_size: Option<ByteSize>,
    pub tmpfs: Vec<Tmpfs>,
    pub ulimits: IndexMap<String, Ulimit>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Dur>,
    pub labels: IndexMap<String, Value>,
    pub extra_hosts: Vec<ExtraHost>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_opt: Vec<String>,
    pub platform: Option<Value>,
    pub pull_policy: Option<PullPolicy>,
    pub logging: Option<Logging>,
    pub devices: Vec<Device>,
    pub network_mode: Option<String>,
    pub runtime: Option<String>,
    pub security_opt: Vec<String>,
    pub tty: bool,
    pub stdin_open: bool,
}

/// One field's reporter: errors at a place, under `services.S.FIELD`, with help.
struct At<'a> {
    cx: &'a mut Ctx,
    sname: &'a str,
}

impl At<'_> {
    fn err(&mut self, loc: Option<&crate::diag::Loc>, field: &str, msg: String, help: &str) {
        let d = Diagnostic::new(msg).at(loc).field(service_field(self.sname, field)).help(help.to_string());
        self.cx.err(d);
    }
    fn value(&mut self, v: &Located<String>, field: &str) -> Value {
        self.cx.value(v.value.clone(), v.loc(), service_field(self.sname, field), false)
    }
}

pub(super) fn read(cx: &mut Ctx, scope: &Scope<'_>, key: &Located<String>, s: &RawService) -> Container {
    let mut at = At { cx, sname: &key.value };
    no_variables(&mut at, s);
    let (user, working_dir, hostname, platform) = identity(&mut at, s);
    let flag = |b: &Option<Located<bool>>| b.as_ref().is_some_and(|x| x.value);
    Container {
        user,
        working_dir,
        hostname,
        cap_add: capabilities(&mut at, s.cap_add.as_ref(), "cap_add"),
        cap_drop: capabilities(&mut at, s.cap_drop.as_ref(), "cap_drop"),
        read_only: flag(&s.read_only),
        privileged: flag(&s.privileged),
        init: s.init.as_ref().map(|x| x.value),
        sysctls: sysctls(&mut at, s),
        shm_size: s.shm_size.as_ref().map(|x| x.value),
        tmpfs: tmpfs(&mut at, s),
        ulimits: ulimits(&mut at, s),
        stop_signal: stop_signal(&mut at, s),
        stop_grace_period: s.stop_grace_period.as_ref().map(|x| x.value),
        labels: labels(&mut at, s),
        extra_hosts: extra_hosts(&mut at, s),
        dns: strings(s.dns.as_ref()),
        dns_search: strings(s.dns_search.as_ref()),
        dns_opt: s.dns_opt.iter().flatten().map(|x| x.value.clone()).collect(),
        platform,
        pull_policy: pull_policy(&mut at, s),
        logging: logging(&mut at, s),
        devices: devices(&mut at, s),
        network_mode: network_mode(&mut at, scope, s),
        runtime: s.runtime.as_ref().map(|x| x.value.clone()),
        security_opt: security_opt(&mut at, s),
        tty: flag(&s.tty),
        stdin_open: flag(&s.stdin_open),
    }
}

/// `no-new-privileges[:BOOL]`, or `apparmor:`, `seccomp:`, `label:`, `systempaths=` and `writable-cgroups=` options.
fn security_opt(at: &mut At<'_>, s: &RawService) -> Vec<String> {
    let mut out = Vec::new();
    for o in s.security_opt.iter().flatten() {
        let key = o.value.split([':', '=']).next().unwrap_or_default();
        let known = ["no-new-privileges", "apparmor", "seccomp", "label", "systempaths", "writable-cgroups"];
        if !known.contains(&key) || (key != "no-new-privileges" && !o.value.contains([':', '='])) {
            let help = "write no-new-privileges[:true], apparmor:PROFILE, seccomp:PROFILE or label:OPTION";
            at.err(o.loc(), "security_opt", format!("`{}` is not a security option", o.value), help);
        }
        out.push(o.value.clone());
    }
    out
}

/// Fields whose values deploy uses as written (on apply too): a `${VAR}` there is refused rather
/// than passed on literally (the fields that take variables are `user`, `working_dir`, `hostname`,
/// `platform`, `labels`, `sysctls`, logging options, ports and mount sources).
fn no_variables(at: &mut At<'_>, s: &RawService) {
    let lists = [
        ("cap_add", s.cap_add.as_ref()),
        ("cap_drop", s.cap_drop.as_ref()),
        ("dns_opt", s.dns_opt.as_ref()),
        ("security_opt", s.security_opt.as_ref()),
    ];
    let singles = [
        ("stop_signal", s.stop_signal.as_ref()),
        ("pull_policy", s.pull_policy.as_ref()),
        ("network_mode", s.network_mode.as_ref()),
        ("runtime", s.runtime.as_ref()),
        ("logging.driver", s.logging.as_ref().and_then(|l| l.driver.as_ref())),
    ];
    let mut found: Vec<(&str, &Located<String>)> = Vec::new();
    for (f, l) in lists {
        found.extend(l.into_iter().flatten().map(|x| (f, x)));
    }
    found.extend(singles.iter().filter_map(|(f, x)| x.map(|x| (*f, x))));
    for (field, x) in found.into_iter().filter(|(_, x)| !crate::interp::variables(&x.value).is_empty()) {
        let help = "write the value itself: this field is used as written";
        at.err(x.loc(), field, format!("`{}`: variables are not read in `{field}`", x.value), help);
    }
    let lists = [("dns", &s.dns), ("dns_search", &s.dns_search), ("tmpfs", &s.tmpfs)];
    for (field, v) in lists.into_iter().filter_map(|(f, v)| v.as_ref().map(|v| (f, v))) {
        if strings(Some(v)).iter().any(|x| !crate::interp::variables(x).is_empty()) {
            let help = "write the value itself: this field is used as written";
            at.err(v.loc(), field, format!("variables are not read in `{field}`"), help);
        }
    }
}

fn strings(v: Option<&Located<StringOrList>>) -> Vec<String> {
    match v.map(|x| &x.value) {
        None => Vec::new(),
        Some(StringOrList::String(s)) => vec![s.clone()],
        Some(StringOrList::List(l)) => l.clone(),
    }
}

/// `user`, `working_dir`, `hostname`, `platform`: templates, checked when written without variables.
fn identity(at: &mut At<'_>, s: &RawService) -> (Option<Value>, Option<Value>, Option<Value>, Option<Value>) {
    let literal = |v: &Located<String>| !v.value.contains('$');
    if let Some(u) = s.user.as_ref().filter(|u| literal(u) && (u.value.is_empty() || u.value.contains(' '))) {
        at.err(
            u.loc(),
            "user",
            format!("`{}` is not a user", u.value),
            "write `NAME`, `UID`, `NAME:GROUP` or `UID:GID`",
        );
    }
    if let Some(w) = s.working_dir.as_ref().filter(|w| literal(w) && !w.value.starts_with('/')) {
        let help = "the working directory is an absolute path in the container, like /app";
        at.err(w.loc(), "working_dir", format!("`{}` is not an absolute path", w.value), help);
    }
    let host_ok = |h: &str| {
        !h.is_empty() && h.len() <= 253 && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    };
    if let Some(h) = s.hostname.as_ref().filter(|h| literal(h) && !host_ok(&h.value)) {
        let help = "use letters, digits, `-` and `.` (a DNS name)";
        at.err(h.loc(), "hostname", format!("`{}` is not a host name", h.value), help);
    }
    let platform_ok = |p: &str| (2..=3).contains(&p.split('/').count()) && p.split('/').all(|x| !x.is_empty());
    if let Some(p) = s.platform.as_ref().filter(|p| literal(p) && !platform_ok(&p.value)) {
        let help = "write OS/ARCH[/VARIANT], like linux/amd64 or linux/arm64/v8";
        at.err(p.loc(), "platform", format!("`{}` is not a platform", p.value), help);
    }
    (
        s.user.as_ref().map(|v| at.value(v, "user")),
        s.working_dir.as_ref().map(|v| at.value(v, "working_dir")),
        s.hostname.as_ref().map(|v| at.value(v, "hostname")),
        s.platform.as_ref().map(|v| at.value(v, "platform")),
    )
}

/// Capability names: `NET_ADMIN`, `CAP_NET_ADMIN` or `ALL`, as written.
fn capabilities(at: &mut At<'_>, caps: Option<&Vec<Located<String>>>, field: &str) -> Vec<String> {
    let mut out = Vec::new();
    for c in caps.into_iter().flatten() {
        if c.value.is_empty() || !c.value.chars().all(|x| x.is_ascii_alphanumeric() || x == '_') {
            let help = "write a Linux capability name like NET_ADMIN or SYS_PTRACE, or ALL";
            at.err(c.loc(), field, format!("`{}` is not a capability name", c.value), help);
        }
        out.push(c.value.clone());
    }
    out
}

/// A `NAME: value` map (or `NAME=value` list) of templates; `NAME` alone is empty unless `required`.
fn string_map(at: &mut At<'_>, m: Option<&raw::RawStringMap>, field: &str, required: bool) -> IndexMap<String, Value> {
    let mut out = IndexMap::new();
    for (k, v) in m.cloned().map(raw::RawStringMap::into_map).unwrap_or_default() {
        let f = format!("{field}.{}", k.value);
        if k.value.is_empty() || k.value.contains(char::is_whitespace) {
            at.err(k.loc(), &f, format!("`{}` is not a valid name", k.value), "write `NAME: value` or `NAME=value`");
        }
        if required && v.value.is_none() {
            at.err(v.loc(), &f, format!("`{}` has no value", k.value), "write `NAME: value` or `NAME=value`");
        }
        let text = v.value.map(Scalar::into_string).unwrap_or_default();
        out.insert(k.value.clone(), at.cx.value(text, v.loc.as_ref().or(k.loc()), service_field(at.sname, &f), false));
    }
    out
}

fn sysctls(at: &mut At<'_>, s: &RawService) -> IndexMap<String, Value> {
    string_map(at, s.sysctls.as_ref(), "sysctls", true)
}

/// Container labels; `com.docker.compose.*` and `dev.deploy.*` are the tools' own.
fn labels(at: &mut At<'_>, s: &RawService) -> IndexMap<String, Value> {
    let labels = string_map(at, s.labels.as_ref(), "labels", false);
    let raw = s.labels.clone().map(raw::RawStringMap::into_map).unwrap_or_default();
    for (k, _) in
        raw.iter().filter(|(k, _)| k.value.starts_with("com.docker.compose.") || k.value.starts_with("dev.deploy."))
    {
        let help = "labels under com.docker.compose. and dev.deploy. are set by deploy itself: choose another prefix";
        at.err(k.loc(), &format!("labels.{}", k.value), format!("label `{}` is reserved", k.value), help);
    }
    labels
}

fn tmpfs(at: &mut At<'_>, s: &RawService) -> Vec<Tmpfs> {
    let Some(t) = &s.tmpfs else { return Vec::new() };
    let mut out = Vec::new();
    for entry in strings(Some(t)) {
        match parse::tmpfs(&entry) {
            Ok(x) => out.push(x),
            Err(m) => at.err(t.loc(), "tmpfs", m, "write `/path` or `/path:size=64m,mode=1777`"),
        }
    }
    out
}

const ULIMITS: &[&str] = &[
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

fn ulimits(at: &mut At<'_>, s: &RawService) -> IndexMap<String, Ulimit> {
    let mut out = IndexMap::new();
    for (k, v) in s.ulimits.iter().flatten() {
        let field = format!("ulimits.{}", k.value);
        if !ULIMITS.contains(&k.value.as_str()) {
            let help = format!("ulimits are: {}", ULIMITS.join(", "));
            at.err(k.loc(), &field, format!("unknown ulimit `{}`", k.value), &help);
        }
        let u = match &v.value {
            raw::RawUlimit::Single(n) => Ulimit::Single(*n),
            raw::RawUlimit::Range(r) => Ulimit::Range { soft: r.soft, hard: r.hard },
        };
        if u.soft() > u.hard() {
            let help = "the soft limit is at most the hard one";
            at.err(v.loc(), &field, format!("soft limit {} exceeds the hard limit {}", u.soft(), u.hard()), help);
        }
        out.insert(k.value.clone(), u);
    }
    out
}

fn stop_signal(at: &mut At<'_>, s: &RawService) -> Option<String> {
    let sig = s.stop_signal.as_ref()?;
    let name = sig.value.strip_prefix("SIG").unwrap_or(&sig.value);
    let ok = name.parse::<u32>().is_ok()
        || (!name.is_empty()
            && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '+' || c == '-'));
    if !ok {
        let help = "write a signal name like SIGTERM, SIGINT, SIGQUIT, or its number";
        at.err(sig.loc(), "stop_signal", format!("`{}` is not a signal", sig.value), help);
    }
    Some(sig.value.clone())
}

/// `/etc/hosts` entries: `HOST:IP`, `HOST=IP`, or a map of host to IPs; `host-gateway` is the host's address.
fn extra_hosts(at: &mut At<'_>, s: &RawService) -> Vec<ExtraHost> {
    let mut entries: Vec<(String, String, Option<crate::diag::Loc>)> = Vec::new();
    match &s.extra_hosts {
        None => {}
        Some(raw::RawExtraHosts::List(l)) => {
            for e in l {
                let split = e.value.split_once('=').or_else(|| e.value.split_once(':'));
                let (h, ip) = split.unwrap_or((&e.value, ""));
                entries.push((h.to_string(), ip.to_string(), e.loc.clone()));
            }
        }
        Some(raw::RawExtraHosts::Map(m)) => {
            for (h, ips) in m {
                for ip in strings(Some(ips)) {
                    entries.push((h.value.clone(), ip, ips.loc.clone()));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (host, ip) in entries.into_iter().map(|(h, ip, loc)| {
        let ip = ip.trim_matches(['[', ']']).to_string();
        if h.is_empty() || (ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err()) {
            let help = "write `HOST:IP` or `HOST=IP` (IP an address or `host-gateway`), or a map `HOST: IP`";
            at.err(loc.as_ref(), "extra_hosts", format!("`{h}` → `{ip}` is not a host entry"), help);
        }
        (h, ip)
    }) {
        out.push(ExtraHost { host, ip });
    }
    out
}

fn pull_policy(at: &mut At<'_>, s: &RawService) -> Option<PullPolicy> {
    let p = s.pull_policy.as_ref()?;
    let policy = match p.value.as_str() {
        "always" => Some(PullPolicy::Always),
        "never" => Some(PullPolicy::Never),
        "missing" | "if_not_present" => Some(PullPolicy::Missing),
        "build" => Some(PullPolicy::Build),
        "daily" => Some(PullPolicy::Daily),
        "weekly" => Some(PullPolicy::Weekly),
        other => other.strip_prefix("every_").and_then(|d| d.parse::<Dur>().ok()).map(PullPolicy::Every),
    };
    if policy.is_none() {
        let help =
            "use always, never, missing (or if_not_present), build, daily, weekly or every_<duration> (every_12h)";
        at.err(p.loc(), "pull_policy", format!("unknown pull policy `{}`", p.value), help);
    }
    policy
}

fn logging(at: &mut At<'_>, s: &RawService) -> Option<Logging> {
    let l = s.logging.as_ref()?;
    let mut options = IndexMap::new();
    for (k, v) in l.options.iter().flatten() {
        let field = service_field(at.sname, &format!("logging.options.{}", k.value));
        let text = v.value.clone().map(Scalar::into_string).unwrap_or_default();
        options.insert(k.value.clone(), at.cx.value(text, v.loc.as_ref().or(k.loc()), field, false));
    }
    Some(Logging { driver: l.driver.as_ref().map(|d| d.value.clone()), options })
}

/// `HOST[:CONTAINER[:PERMISSIONS]]` or `{source, target, permissions}`; a CDI name (`vendor/class=name`) alone.
fn devices(at: &mut At<'_>, s: &RawService) -> Vec<Device> {
    let mut out = Vec::new();
    for d in s.devices.iter().flatten() {
        let (source, target, permissions) = match &d.value {
            raw::RawDevice::Long(l) => (l.source.clone(), l.target.clone(), l.permissions.clone()),
            raw::RawDevice::Short(x) => {
                let mut parts = x.splitn(3, ':').map(str::to_string);
                (parts.next().unwrap_or_default(), parts.next(), parts.next())
            }
        };
        let perms_ok = permissions.as_deref().is_none_or(|p| !p.is_empty() && p.chars().all(|c| "rwm".contains(c)));
        let cdi = !source.starts_with('/') && source.contains('=');
        if !(source.starts_with('/') || cdi) || !perms_ok {
            let help = "write `/dev/HOST[:/dev/CONTAINER[:PERMISSIONS]]` (permissions from r, w, m), or a CDI name";
            at.err(d.loc(), "devices", format!("`{source}` is not a device"), help);
        }
        let target = target.unwrap_or_else(|| source.clone());
        out.push(Device { source, target, permissions });
    }
    out
}

/// `bridge`, `host`, `none`, `service:NAME` (another service) or `container:NAME`; not with `networks`.
fn network_mode(at: &mut At<'_>, scope: &Scope<'_>, s: &RawService) -> Option<String> {
    let m = s.network_mode.as_ref()?;
    let services = &scope.raw().services;
    let problem = match m.value.split_once(':') {
        _ if s.networks.is_some() => Some("`network_mode` and `networks` cannot both be set".to_string()),
        None if ["bridge", "host", "none"].contains(&m.value.as_str()) => None,
        Some(("service", name)) if name == at.sname => Some("a service cannot share its own network stack".into()),
        Some(("service", name)) if !services.contains_key(name) => Some(format!("no service named `{name}`")),
        Some(("service" | "container", name)) if !name.is_empty() => None,
        _ => Some(format!("unknown network_mode `{}`", m.value)),
    };
    if let Some(msg) = problem {
        let help = "use bridge, host, none, service:NAME or container:NAME (and no `networks`)";
        at.err(m.loc(), "network_mode", msg, help);
    }
    Some(m.value.clone())
}

/// Whether a healthcheck as written turns the image's own off (`disable: true` or `test: [NONE]`).
pub(super) fn is_off(h: &raw::RawHealth) -> bool {
    h.disable.as_ref().is_some_and(|d| d.value) || h.test.is_some()
}

/// How the image's healthcheck is turned off; nothing else may be set beside it.
pub(super) fn healthcheck_off(cx: &mut Ctx, sname: &str, s: &RawService) -> Option<HealthcheckOff> {
    let h = s.healthcheck.as_ref().filter(|h| is_off(h))?;
    let timing = [&h.interval, &h.timeout, &h.start_period, &h.start_interval].into_iter().flatten().next();
    if let Some(t) = timing.map(|t| t.loc()).or(h.retries.as_ref().map(|r| r.loc())) {
        cx.err(
            Diagnostic::new(format!("the healthcheck of `{sname}` is turned off but has timings"))
                .at(t)
                .field(service_field(sname, "healthcheck"))
                .help("drop the timings, or give a test instead of turning it off"),
        );
    }
    Some(if h.test.is_some() { HealthcheckOff::TestNone } else { HealthcheckOff::Disable })
}

/// `depends_on` with what Compose adds itself: `network_mode: service:NAME` waits for NAME to start.
pub(super) fn implied(
    mut depends_on: IndexMap<String, Condition>,
    c: &Container,
) -> (IndexMap<String, Condition>, Vec<String>) {
    let mut implicit = Vec::new();
    if let Some(name) = c.network_mode.as_deref().and_then(|m| m.strip_prefix("service:"))
        && !depends_on.contains_key(name)
    {
        depends_on.insert(name.to_string(), Condition::ServiceStarted);
        implicit.push(name.to_string());
    }
    (depends_on, implicit)
}
