//! `${VAR}` templates are kept as written; the variables that look secret
//! are declared under `variables:` with `secret: true`: by their name
//! (`deploy_topology::is_secret_name`), or because they are interpolated into
//! an environment entry whose name looks secret (`DB_PASSWORD=${PW}`).
//! Also the literal secret values of the input, so that nothing the import
//! prints can show them.

use deploy_topology::{interp, is_secret_name};

use super::node::{Map, Node};

/// The secret variables the trees use, in order of first use.
pub(crate) fn secret_variables(trees: &[Node]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |v: String| {
        if !out.contains(&v) {
            out.push(v);
        }
    };
    for t in trees {
        let mut strings = Vec::new();
        t.strings(&mut strings);
        for s in &strings {
            interp::variables(s).into_iter().filter(|v| is_secret_name(v)).for_each(&mut add);
        }
        for (k, v) in environments(t) {
            if is_secret_name(&k)
                && let Some(s) = v.as_str()
            {
                interp::variables(s).into_iter().for_each(&mut add);
            }
        }
    }
    out
}

/// Literal values of environment entries whose names look secret (templates excluded).
pub(crate) fn literal_secrets(trees: &[Node]) -> Vec<String> {
    trees
        .iter()
        .flat_map(environments)
        .filter(|(k, _)| is_secret_name(k))
        .filter_map(|(_, v)| v.scalar_text())
        .filter(|s| interp::variables(s).is_empty())
        .collect()
}

/// Every service's environment entries (topology trees: environments are maps).
fn environments(tree: &Node) -> Vec<(String, Node)> {
    let services = tree.as_map().and_then(|m| m.get("services")).and_then(Node::as_map).cloned().unwrap_or_default();
    services
        .values()
        .filter_map(|s| s.as_map().and_then(|m| m.get("environment")).and_then(Node::as_map).cloned())
        .flat_map(|m: Map| m.into_iter())
        .collect()
}

/// Adds `variables:` declarations (after `name:` if there is one, else first) for `secret` variables.
pub(crate) fn declare(tree: &mut Node, secret: &[String]) {
    let Some(root) = tree.as_map_mut() else { return };
    if secret.is_empty() {
        return;
    }
    let mut vars = match root.get("variables") {
        Some(Node::Map(m)) => m.clone(),
        _ => Map::new(),
    };
    for v in secret {
        vars.entry(v.clone()).or_insert_with(|| Node::Map(Map::from([("secret".to_string(), Node::Bool(true))])));
    }
    let at = usize::from(root.contains_key("name"));
    root.shift_remove("variables");
    root.shift_insert(at.min(root.len()), "variables".to_string(), Node::Map(vars));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read::parse_yaml;

    #[test]
    fn secret_looking_variables_are_declared_secret() {
        let t = parse_yaml(
            "name: x\nservices:\n  a:\n    image: a:${TAG}\n    environment:\n      JWT_SECRET_KEY: ${JWT_SECRET_KEY:?required}\n      ADMIN_PASSWORD: ${PIHOLE_PW}\n      DB_PASSWORD: hunter22\n      MODE: ${MODE}\n",
        )
        .unwrap_or(Node::Null);
        let s = secret_variables(std::slice::from_ref(&t));
        assert_eq!(s, ["JWT_SECRET_KEY", "PIHOLE_PW"]);
        assert_eq!(literal_secrets(std::slice::from_ref(&t)), ["hunter22"]);
        let mut t = t;
        declare(&mut t, &s);
        let keys: Vec<String> = t.as_map().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        assert_eq!(keys, ["name", "variables", "services"]);
    }
}
