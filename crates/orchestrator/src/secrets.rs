//! The secret values of a topology, resolved: what the orchestrator masks.

use deploy_topology::{Env, Topology, interp, is_secret_name};

/// Every resolved secret value of the topology's services (a whole value that
/// is secret: an environment value, a command argument, a probe) and the value
/// of every secret variable they use on its own. Values that do not resolve are
/// left out (they were never sent anywhere). Backends return these from
/// [`crate::Backend::secret_values`], with any of their own.
pub fn topology_secrets(t: &Topology, env: &Env) -> Vec<String> {
    let is_secret_var = |name: &str| t.variables.get(name).map_or_else(|| is_secret_name(name), |v| v.secret);
    let mut out = Vec::new();
    for v in t.services.values().flat_map(|s| s.values()).filter(|v| v.secret) {
        if let Ok(r) = v.resolve(env) {
            out.push(r);
        }
        for name in interp::variables(&v.raw) {
            if is_secret_var(&name)
                && let Some(x) = env.get(&name)
            {
                out.push(x);
            }
        }
    }
    for (name, _) in t.variables.iter().filter(|(_, v)| v.secret) {
        out.extend(env.get(name));
    }
    out.sort();
    out.dedup();
    out
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
}
