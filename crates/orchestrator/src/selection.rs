//! Which services a command acts on: validated once, the same way for every target.

use std::collections::HashSet;

use deploy_topology::{Condition, Diagnostic, Env, Errors, Topology};
use indexmap::IndexMap;

/// The services a command acts on, in dependency order, with the `depends_on`
/// edges that stay inside the selection.
#[derive(Clone, Debug)]
pub struct Selection {
    services: Vec<String>,
    deps: IndexMap<String, Vec<(String, Condition)>>,
    partial: bool,
    one_shots: HashSet<String>,
}

impl Selection {
    /// `apply` and `diff`: the named services (all when none) and everything they
    /// depend on. Every value they use must resolve from `env` (a missing
    /// `${VAR:?}` fails here, before any platform is touched); services outside
    /// the selection need none of their variables.
    pub fn with_dependencies(t: &Topology, env: &Env, names: &[String]) -> Result<Selection, Errors> {
        let services = t.select(names).map_err(Errors::from)?;
        t.check_resolvable(env, &services)?;
        Ok(Selection::of(t, services, !names.is_empty()))
    }

    /// `status` and `destroy`: exactly the named services (all when none).
    pub fn exactly(t: &Topology, names: &[String]) -> Result<Selection, Errors> {
        for n in names {
            if !t.services.contains_key(n) {
                return Err(unknown(t, n).into());
            }
        }
        let services =
            t.order().into_iter().filter(|s| names.is_empty() || names.iter().any(|n| n == s)).map(String::from);
        Ok(Selection::of(t, services.collect(), !names.is_empty()))
    }

    fn of(t: &Topology, services: Vec<String>, partial: bool) -> Selection {
        let inside: HashSet<&str> = services.iter().map(String::as_str).collect();
        let deps = services
            .iter()
            .map(|s| {
                let edges = t.services[s.as_str()]
                    .depends_on
                    .iter()
                    .filter(|(d, _)| inside.contains(d.as_str()))
                    .map(|(d, c)| (d.clone(), *c))
                    .collect();
                (s.clone(), edges)
            })
            .collect();
        let one_shots = services.iter().filter(|s| t.is_one_shot(s)).cloned().collect();
        Selection { services, deps, partial, one_shots }
    }

    /// The services, in dependency order (every service after what it depends on).
    pub fn services(&self) -> &[String] {
        &self.services
    }
    pub fn contains(&self, service: &str) -> bool {
        self.deps.contains_key(service)
    }
    /// Whether the user named services (false: the whole project).
    pub fn is_partial(&self) -> bool {
        self.partial
    }
    /// What `service` depends on, inside the selection.
    pub fn dependencies(&self, service: &str) -> &[(String, Condition)] {
        self.deps.get(service).map_or(&[], Vec::as_slice)
    }
    /// The services of the selection that depend on `service`.
    pub fn dependents(&self, service: &str) -> Vec<&str> {
        self.deps.iter().filter(|(_, d)| d.iter().any(|(x, _)| x == service)).map(|(s, _)| s.as_str()).collect()
    }
    /// Whether `service` runs to completion (see `Topology::is_one_shot`).
    pub fn is_one_shot(&self, service: &str) -> bool {
        self.one_shots.contains(service)
    }
}

fn unknown(t: &Topology, name: &str) -> Diagnostic {
    Diagnostic::new(format!("no service named `{name}` in this topology")).help(t.unknown_service_help(name))
}
