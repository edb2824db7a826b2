//! Pass 4: checks across services and sections: undeclared volumes and networks, duplicate host ports,
//! dependencies on unknown services or on services without a healthcheck, and dependency cycles.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::{Ctx, service_field};
use crate::diag::{Diagnostic, Loc};
use crate::model::*;
use crate::raw::{Located, RawDependency, RawTopology};

/// What the topology declares, and the host ports the services read so far publish.
///
/// The service pass calls these checks as it reads each entry, so that errors
/// come out in the order of the file.
pub(super) struct Scope<'a> {
    raw: &'a RawTopology,
    service_names: Vec<String>,
    /// Host ports already published: (port, protocol) → [(host IP, service)].
    published: HashMap<(u16, Protocol), Vec<(String, String)>>,
}

impl<'a> Scope<'a> {
    pub(super) fn new(raw: &'a RawTopology) -> Self {
        let service_names = raw.services.keys().map(|k| k.value.clone()).collect();
        Scope { raw, service_names, published: HashMap::new() }
    }

    /// The topology as written (for the checks of other passes against its sections).
    pub(super) fn raw(&self) -> &'a RawTopology {
        self.raw
    }

    /// A host port may be published once per protocol and host IP (`0.0.0.0` overlaps every IP).
    pub(super) fn check_host_port(&mut self, cx: &mut Ctx, sname: &str, port: &Port, loc: Option<&Loc>) {
        let Some(h) = port.host else { return };
        let ip = port.host_ip.clone().unwrap_or_else(|| "0.0.0.0".into());
        let taken = self.published.entry((h, port.protocol)).or_default();
        if let Some((_, other)) = taken.iter().find(|(pip, _)| pip == &ip || pip == "0.0.0.0" || ip == "0.0.0.0") {
            let msg = if *other == sname {
                format!("service `{sname}` publishes host port {h}/{} twice", port.protocol.as_str())
            } else {
                format!("host port {h}/{} is published by both `{other}` and `{sname}`", port.protocol.as_str())
            };
            cx.err(
                Diagnostic::new(msg)
                    .at(loc)
                    .field(service_field(sname, "ports"))
                    .help("give each service its own host port, or remove one of the mappings"),
            );
        } else {
            taken.push((ip, sname.to_string()));
        }
    }

    /// A named volume a service mounts must be declared at the top level.
    pub(super) fn check_volume(&self, cx: &mut Ctx, sname: &str, mount: &Mount, loc: Option<&Loc>) {
        if let MountSource::Volume(v) = &mount.source
            && !self.raw.volumes.contains_key(v.as_str())
        {
            cx.err(
                Diagnostic::new(format!("volume `{v}` is used by service `{sname}` but not declared"))
                    .at(loc)
                    .field(service_field(sname, "volumes"))
                    .help(format!(
                        "declare it at the top level: `volumes: {{ {v}: {{}} }}`, or write a host path starting with `./` for a bind mount"
                    )),
            );
        }
    }

    /// A network a service names must be declared at the top level (even `default`).
    pub(super) fn check_network(&self, cx: &mut Ctx, sname: &str, n: &Located<String>) {
        if !self.raw.networks.contains_key(n.value.as_str()) {
            cx.err(
                Diagnostic::new(format!("network `{}` is used by service `{sname}` but not declared", n.value))
                    .at(n.loc())
                    .field(service_field(sname, "networks"))
                    .help(format!(
                        "declare it at the top level: `networks: {{ {}: {{}} }}`{}",
                        n.value,
                        declared_hint(self.raw.networks.keys().map(|k| &k.value))
                    )),
            );
        }
    }

    /// Whether `dep` is another service of this topology; reports it when not.
    pub(super) fn check_dependency(&self, cx: &mut Ctx, sname: &str, dep: &Located<String>) -> bool {
        if !self.raw.services.contains_key(dep.value.as_str()) {
            cx.err(
                Diagnostic::new(format!(
                    "service `{sname}` depends on `{}`, which is not a service of this topology",
                    dep.value
                ))
                .at(dep.loc())
                .field(service_field(sname, &format!("depends_on.{}", dep.value)))
                .help(crate::diag::unknown_name_help(
                    "services",
                    &dep.value,
                    self.service_names.iter().map(String::as_str),
                )),
            );
            return false;
        }
        if dep.value == sname {
            cx.err(
                Diagnostic::new(format!("service `{sname}` depends on itself"))
                    .at(dep.loc())
                    .field(service_field(sname, "depends_on"))
                    .help("remove it from its own depends_on"),
            );
            return false;
        }
        true
    }

    /// Waiting for `service_healthy` needs a healthcheck on the service waited for.
    pub(super) fn check_healthy_target(&self, cx: &mut Ctx, sname: &str, dep: &Located<String>, spec: &RawDependency) {
        if let Some((_, target)) = self.raw.services.get_key_value(dep.value.as_str())
            && target.healthcheck.as_ref().is_none_or(super::container::is_off)
        {
            cx.err(
                Diagnostic::new(format!(
                    "`{sname}` waits for `{}` to be healthy, but `{}` has no healthcheck",
                    dep.value, dep.value
                ))
                .at(spec.condition.as_ref().and_then(|c| c.loc()).or(dep.loc()))
                .field(service_field(sname, &format!("depends_on.{}.condition", dep.value)))
                .help(format!("add a healthcheck to `{}`, or use `condition: service_started`", dep.value)),
            );
        }
    }
}

fn declared_hint<'a>(keys: impl Iterator<Item = &'a String>) -> String {
    let k: Vec<&String> = keys.collect();
    if k.is_empty() {
        String::new()
    } else {
        format!("; declared: {}", k.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
    }
}

/// The first dependency cycle, located at the entry of its first service that points to the next.
pub(super) fn check_cycles(cx: &mut Ctx, raw: &RawTopology, services: &IndexMap<String, Service>) {
    if let Some(cycle) = find_cycle(services) {
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
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    Active,
    Done,
}

fn find_cycle(services: &IndexMap<String, Service>) -> Option<Vec<String>> {
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

/// Depth-first from `n`; returns the path of the first back edge found, closed (`a -> b -> a`).
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
