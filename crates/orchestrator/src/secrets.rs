//! The secret values of a topology, resolved: what the orchestrator masks.

use deploy_report::MIN_MASKED_LEN;
use deploy_topology::{Env, Topology, Value, interp, is_secret_name};

/// Where a secret value comes from.
enum Origin<'a> {
    /// A whole secret value of a service, as written there.
    Field(&'a Value),
    /// A secret variable, on its own.
    Variable(String),
}

/// Calls `f` with every resolved secret value of the topology's services (a
/// whole value that is secret: an environment value, a command argument, a
/// probe), then the value of every secret variable, declared or used by
/// them. Values that do not resolve are left out (they were never sent anywhere).
fn each_secret<'a>(t: &'a Topology, env: &Env, mut f: impl FnMut(Origin<'a>, String)) {
    let is_secret_var = |name: &str| t.variables.get(name).map_or_else(|| is_secret_name(name), |v| v.secret);
    let mut vars: Vec<String> = t.variables.iter().filter(|(_, v)| v.secret).map(|(k, _)| k.clone()).collect();
    for v in t.services.values().flat_map(|s| s.values()).filter(|v| v.secret) {
        if let Ok(r) = v.resolve(env) {
            f(Origin::Field(v), r);
        }
        vars.extend(interp::variables(&v.raw).into_iter().filter(|n| is_secret_var(n)));
    }
    vars.sort();
    vars.dedup();
    for name in vars {
        if let Some(x) = env.get(&name) {
            f(Origin::Variable(name), x);
        }
    }
}

/// Every resolved secret value of the topology (see [`each_secret`]), sorted.
/// Backends return these from [`crate::Backend::secret_values`], with any of their own.
pub fn topology_secrets(t: &Topology, env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    each_secret(t, env, |_, value| out.push(value));
    out.sort();
    out.dedup();
    out
}

/// Warnings for secret values that are part of a name deploy prints (the
/// project, a service, container, network or volume): deploy masks them
/// wherever it prints, so such names print with `********`, and a value that is
/// in a name is no secret. Each says which variable or field holds the value,
/// never the value or the name it is in.
pub fn secrets_in_names(t: &Topology, env: &Env) -> Vec<String> {
    let mut names: Vec<&str> = vec![&t.name];
    for s in t.services.values() {
        names.push(&s.name);
        names.extend(s.container_name.as_deref());
    }
    names.extend(t.networks.values().flat_map(|n| [n.key.as_str(), n.name.as_str()]));
    names.extend(t.volumes.values().flat_map(|v| [v.key.as_str(), v.name.as_str()]));
    let in_a_name = |value: &str| value.chars().count() >= MIN_MASKED_LEN && names.iter().any(|n| n.contains(value));
    let mut found: Vec<(String, String)> = Vec::new();
    each_secret(t, env, |origin, value| {
        if in_a_name(&value) {
            found.push((label(origin, &value), value));
        }
    });
    // One warning per value: the variable's name when a variable holds it (variables come last).
    found.reverse();
    let mut seen = std::collections::HashSet::new();
    found.retain(|(_, value)| seen.insert(value.clone()));
    found
        .into_iter()
        .map(|(label, _)| {
            format!(
                "the value of {label} is also in a name (of the project, a service, a network or a volume): deploy \
                 masks it wherever it prints, so that name prints as ********; a value anyone can read in a name is \
                 no secret, give it another one"
            )
        })
        .collect()
}

/// What holds a secret value, said without it: a secret variable, or a field.
fn label(origin: Origin<'_>, value: &str) -> String {
    match origin {
        Origin::Variable(n) => format!("secret variable `{n}`"),
        Origin::Field(v) => {
            let at = v.loc.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
            // The field's path names the service, whose name may hold the value: masked too.
            deploy_report::Masker::new(vec![value.to_string()]).text(&format!("`{}`{at}", v.field))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_values_and_secret_variables_alone() {
        let text = "name: x\nvariables:\n  API_TOKEN: {secret: true}\n  UNUSED: {secret: true}\nservices:\n  a:\n    image: busybox\n    command: [\"run\", \"--token=${API_TOKEN}\"]\n    environment:\n      HOST: ${HOST}\n      DB_PASSWORD: literal-pw\n";
        let t = deploy_topology::from_str("x.yaml", text, None).unwrap_or_else(|e| panic!("{}", e.render()));
        let env = Env::from_pairs([("API_TOKEN", "tok-123"), ("UNUSED", "unused-1"), ("HOST", "example")]);
        let s = topology_secrets(&t, &env);
        assert_eq!(s, ["--token=tok-123", "literal-pw", "tok-123", "unused-1"]);
    }

    #[test]
    fn a_secret_in_a_name_is_named_by_its_variable_or_field_never_shown() {
        let text = "name: shop\nservices:\n  postgres:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\n      ADMIN_PASSWORD: shop\n  web:\n    image: nginx\n    environment:\n      API_KEY: ${API_KEY}\n";
        let t = deploy_topology::from_str("x.yaml", text, None).unwrap_or_else(|e| panic!("{}", e.render()));
        let env = Env::from_pairs([("POSTGRES_PASSWORD", "postgres"), ("API_KEY", "k-93f1c2")]);
        let w = secrets_in_names(&t, &env);
        assert_eq!(w.len(), 2, "{w:#?}");
        assert!(w.iter().any(|x| x.contains("secret variable `POSTGRES_PASSWORD`")), "{w:#?}");
        assert!(w.iter().any(|x| x.contains("`services.postgres.environment.ADMIN_PASSWORD` (x.yaml:7:")), "{w:#?}");
        let postgres = w.iter().find(|x| x.contains("POSTGRES_PASSWORD")).expect("warned");
        assert!(!postgres.contains("postgres"), "neither the value nor the name it is in: {postgres}");
        assert!(w.iter().all(|x| !x.contains("shop")), "{w:#?}");
        // A strong value, or one too short to be masked, says nothing.
        let env = Env::from_pairs([("POSTGRES_PASSWORD", "q8-Zt0v"), ("API_KEY", "web")]);
        let t2 = deploy_topology::from_str(
            "x.yaml",
            &text.replace("ADMIN_PASSWORD: shop", "ADMIN_PASSWORD: s3cr3t-x"),
            None,
        )
        .unwrap_or_else(|e| panic!("{}", e.render()));
        assert!(secrets_in_names(&t2, &env).is_empty(), "{:#?}", secrets_in_names(&t2, &env));
    }
}
