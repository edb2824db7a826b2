//! Pass 3, the list-or-map and short-or-long fields of a service: environment,
//! ports, mounts and networks, each read in every form Compose reads.

use indexmap::IndexMap;

use super::cross::Scope;
use super::parse::{
    mount_long, mount_short, port_long, port_template, port_text, port_texts, published, with_defaults,
};
use super::{Ctx, is_env_name, service_field};
use crate::diag::{Diagnostic, Loc};
use crate::is_secret_name;
use crate::model::*;
use crate::raw::{self, Located, RawMount, RawPort, RawService, Scalar};

/// Environment values, secret when marked, when the name looks secret, or when they use a secret
/// variable; and the names written without a value (`- FOO`, `FOO:`), which come from the shell.
pub(super) fn environment(cx: &mut Ctx, sname: &str, s: &RawService) -> (IndexMap<String, Value>, Vec<String>) {
    let mut environment = IndexMap::new();
    let mut from_shell = Vec::new();
    for (k, v) in s.environment.clone().map(raw::RawEnv::into_map).unwrap_or_default() {
        let field = service_field(sname, &format!("environment.{}", k.value));
        if !is_env_name(&k.value) {
            cx.err(
                Diagnostic::new(format!("`{}` is not a valid environment variable name", k.value))
                    .at(k.loc())
                    .field(field.clone())
                    .help("use letters, digits, `_`, `-` and `.`, not starting with a digit"),
            );
        }
        let (text, marked) = match v.value {
            None => {
                environment.shift_remove(&k.value);
                from_shell.push(k.value.clone());
                continue;
            }
            Some(raw::RawEnvValue::Scalar(x)) => (x.into_string(), false),
            Some(raw::RawEnvValue::Detailed(d)) => (d.value.into_string(), d.secret),
        };
        from_shell.retain(|n| *n != k.value);
        let val = cx.value(text, v.loc.as_ref().or(k.loc()), field, marked || is_secret_name(&k.value));
        environment.insert(k.value.clone(), val);
    }
    (environment, from_shell)
}

const PORT_HELP: &str = "write `HOST:CONTAINER`, `IP:HOST:CONTAINER` or `CONTAINER` (ranges like `8000-8001:8000-8001`), optionally with `/tcp` or `/udp`, or a map with `target`, `published`, `host_ip`, `protocol`, `mode`, `name`, `app_protocol`";

pub(super) fn ports(cx: &mut Ctx, scope: &mut Scope<'_>, sname: &str, s: &RawService) -> Vec<Port> {
    let mut ports = Vec::new();
    for p in s.ports.iter().flatten() {
        match port(cx, sname, p) {
            Ok(read) => {
                for port in read {
                    scope.check_host_port(cx, sname, &port, p.loc());
                    ports.push(port);
                }
            }
            Err(m) => cx.err(Diagnostic::new(m).at(p.loc()).field(service_field(sname, "ports")).help(PORT_HELP)),
        }
    }
    ports
}

/// One entry of `ports`: several ports for a range; a template's numbers are those of its defaults.
fn port(cx: &mut Ctx, sname: &str, p: &Located<RawPort>) -> Result<Vec<Port>, String> {
    let field = service_field(sname, "ports");
    match &p.value {
        RawPort::Number(n) => port_text(&n.to_string()).map(|p| vec![p]),
        RawPort::Short(s) if s.contains('$') => {
            let template = cx.value(s.clone(), p.loc(), field, false);
            let port = port_template(s)?;
            Ok(vec![Port { template: Some(PortTemplate::Short(template)), ..port }])
        }
        RawPort::Short(s) => port_texts(s),
        RawPort::Long(l) => {
            let text = l.published.clone().map(Scalar::into_string).unwrap_or_default();
            if text.contains('$') {
                let template = cx.value(text.clone(), p.loc(), field, false);
                let port = port_long(l, published(&with_defaults(&text).unwrap_or_default())?)?;
                return Ok(vec![Port { template: Some(PortTemplate::Published(template)), ..port }]);
            }
            Ok(vec![port_long(l, published(&text)?)?])
        }
    }
}

const MOUNT_HELP: &str = "write `VOLUME:/container/path[:ro]`, `./host/path:/container/path[:ro]` or `/container/path` (an anonymous volume), or a map with `type` (volume, bind, tmpfs), `source`, `target`, `read_only`";

pub(super) fn mounts(cx: &mut Ctx, scope: &Scope<'_>, sname: &str, s: &RawService) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for m in s.volumes.iter().flatten() {
        let read = match &m.value {
            RawMount::Short(s) => mount_short(s),
            RawMount::Long(l) => mount_long(l),
        };
        match read {
            Ok((mut mount, written)) => {
                mount.source_template = written.map(|w| cx.value(w, m.loc(), service_field(sname, "volumes"), false));
                if mount.source_template.is_none() {
                    scope.check_volume(cx, sname, &mount, m.loc());
                }
                mounts.push(mount);
            }
            Err(msg) => {
                cx.err(Diagnostic::new(msg).at(m.loc()).field(service_field(sname, "volumes")).help(MOUNT_HELP))
            }
        }
    }
    mounts
}

/// The networks a service joins, with how it joins each; `default` when it names none and has
/// no `network_mode`.
pub(super) fn networks(
    cx: &mut Ctx,
    scope: &Scope<'_>,
    sname: &str,
    s: &RawService,
) -> (Vec<String>, IndexMap<String, ServiceNetwork>) {
    let mut nets = Vec::new();
    let mut settings = IndexMap::new();
    for (n, spec) in s.networks.clone().map(raw::RawServiceNetworks::into_map).unwrap_or_default() {
        scope.check_network(cx, sname, &n);
        let spec = spec.unwrap_or_default();
        if let Some(p) =
            spec.ipv4_address.iter().chain(&spec.ipv6_address).find(|a| a.value.parse::<std::net::IpAddr>().is_err())
        {
            bad_address(cx, sname, &n.value, p);
        }
        let text = |x: &Option<Located<String>>| x.as_ref().map(|x| x.value.clone());
        let joined = ServiceNetwork {
            aliases: spec.aliases.iter().flatten().map(|a| a.value.clone()).collect(),
            ipv4_address: text(&spec.ipv4_address),
            ipv6_address: text(&spec.ipv6_address),
            priority: spec.priority.map(|p| p.value),
        };
        nets.push(n.value.clone());
        settings.insert(n.value.clone(), joined);
    }
    if nets.is_empty() && s.network_mode.is_none() {
        nets.push("default".to_string());
        settings.insert("default".to_string(), ServiceNetwork::default());
    }
    (nets, settings)
}

fn bad_address(cx: &mut Ctx, sname: &str, net: &str, a: &Located<String>) {
    let loc: Option<&Loc> = a.loc();
    cx.err(
        Diagnostic::new(format!("`{}` is not an IP address", a.value))
            .at(loc)
            .field(service_field(sname, &format!("networks.{net}")))
            .help("write an address inside the network's `ipam` subnet, like 172.20.0.2"),
    );
}
