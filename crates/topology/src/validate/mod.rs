//! Raw (overlaid) topology → validated [`Topology`], in passes: normalise, then validate section by section.
//!
//! As in compose-go's loader, loading is a pipeline of small passes, each a
//! function that can be read and tested alone:
//!
//! 1. [`normalise`]: fill in names and defaults (project name and namespace,
//!    variables and which of them are secret, volume and network names, the
//!    implicit `default` network). Reports nothing.
//! 2. [`project`]: the top-level sections (project name, namespace, volume and
//!    network keys).
//! 3. [`service`]: each service, one field group at a time (image and command,
//!    environment, ports, mounts, networks, healthcheck, resources, restart,
//!    depends_on, replicas, kind); [`forms`] reads the fields Compose writes in
//!    several forms (environment, ports, mounts, networks), [`container`] what
//!    the container runs as and with (user, capabilities, limits, labels, DNS,
//!    logging...). Compose's spellings of fields the topology already has
//!    (`deploy.resources`, `deploy.replicas`, `healthcheck.test`) were folded
//!    into its own in each file before the overlay (`raw::fold_compose_spellings`).
//!    Then [`files`]: env files read like `.env`, secrets and configs.
//! 4. [`cross`]: what looks across services and sections (undeclared volumes
//!    and networks, duplicate host ports, unknown dependencies, healthcheck
//!    targets, dependency cycles). These run as each service entry is read, so
//!    errors come out in file order; only cycles need the whole graph.
//!
//! Unlike compose-go, no pass stops at the first error: every problem is
//! collected, each with file:line:col, field and help.

mod checks;
mod container;
mod cross;
mod files;
mod forms;
mod normalise;
pub(crate) mod parse;
mod project;
mod service;

use std::path::PathBuf;
use std::sync::Arc;

use crate::diag::{Diagnostic, Errors, Loc, SourceFile};
use crate::interp;
use crate::model::*;
use crate::raw::RawTopology;

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

fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn is_docker_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The dotted path of a field of service `service`, like `services.redis.ports`.
fn service_field(service: &str, field: &str) -> String {
    format!("services.{service}.{field}")
}

/// What every pass shares: the errors found so far, and the secret variables.
struct Ctx {
    errors: Errors,
    secret_vars: Vec<String>,
    /// The project name (Compose names a built image `PROJECT-SERVICE`).
    project: String,
}

impl Ctx {
    fn err(&mut self, d: Diagnostic) {
        self.errors.push(d);
    }

    /// A template value: syntax checked, secret flag computed.
    fn value(&mut self, raw: String, loc: Option<&Loc>, field: String, secret_by_name: bool) -> Value {
        let vars = interp::checked_variables(&raw).unwrap_or_else(|e| {
            self.err(Diagnostic::new(e.to_string()).at(loc).field(field.clone()).help(e.help()));
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
    // 1. names and defaults
    let name = normalise::project_name(raw.name.as_ref(), base);
    let namespace = raw.namespace.as_ref().map_or_else(|| name.clone(), |n| n.value.clone());
    let (variables, secret_vars) = normalise::variables(&raw);
    let volumes = normalise::volumes(&raw, &name);
    let networks = normalise::networks(&raw, &name);
    let mut cx = Ctx { errors: Errors::default(), secret_vars, project: name.clone() };
    // 2. top-level sections
    project::check(&mut cx, &raw);
    // 3. services, field group by field group (with the checks across services)
    let mut services = service::all(&mut cx, &raw);
    // 3b. what services read from files: env files; secrets and configs
    files::env_files(&mut cx, &raw, &project_dir, &mut services);
    let (secrets, configs) = files::top_level(&mut cx, &raw);
    // 4. the dependency graph as a whole
    cross::check_cycles(&mut cx, &raw, &services);

    let namespace_set = raw.namespace.is_some();
    let t = Topology {
        name,
        namespace,
        namespace_set,
        profile,
        project_dir,
        variables,
        services,
        networks,
        volumes,
        secrets,
        configs,
    };
    cx.errors.into_result(t)
}
