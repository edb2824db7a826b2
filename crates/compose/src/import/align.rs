//! Lining up volume and network keys across environments before factoring.
//!
//! A key is a name local to its file: `redis_data_dev` in one file and
//! `redis_data` in another can be the same volume in two environments (the
//! same services mount it at the same places). When the differently-keyed one
//! has an explicit `name:`, renaming its key changes nothing Docker sees, and
//! lets the mount be written once in the base.

use super::node::{Map, Node};

/// A key renamed in one input: (input index, section, from, to).
pub(crate) type Rename = (usize, &'static str, String, String);

/// Renames keys of inputs after the first to the first input's keys where they play the same part.
pub(crate) fn align(trees: &mut [Node]) -> Vec<Rename> {
    let mut renames = Vec::new();
    let Some((first, rest)) = trees.split_first_mut() else { return renames };
    for section in ["volumes", "networks"] {
        let canonical: Vec<(String, Vec<String>)> =
            declared(first, section).into_iter().map(|k| (k.clone(), usage(first, section, &k))).collect();
        for (i, tree) in rest.iter_mut().enumerate() {
            let keys = declared(tree, section);
            let mut taken: Vec<String> = keys.clone();
            for k in keys.iter().filter(|k| !canonical.iter().any(|(c, _)| c == *k)) {
                let sig = usage(tree, section, k);
                let named = tree.get(&[s(section), s(k), s("name")]).is_some_and(|n| n.as_str().is_some());
                let Some((c, _)) = canonical.iter().find(|(c, u)| !taken.contains(c) && *u == sig) else { continue };
                if !named || sig.is_empty() {
                    continue;
                }
                rename(tree, section, k, c);
                taken.push(c.clone());
                renames.push((i + 1, section, k.clone(), c.clone()));
            }
        }
    }
    renames
}

fn s(k: &str) -> super::node::Seg {
    super::node::Seg::Key(k.to_string())
}

fn declared(tree: &Node, section: &str) -> Vec<String> {
    tree.get(&[s(section)]).and_then(Node::as_map).map(|m| m.keys().cloned().collect()).unwrap_or_default()
}

fn services(tree: &Node) -> Vec<(String, Map)> {
    let m = tree.get(&[s("services")]).and_then(Node::as_map).cloned().unwrap_or_default();
    m.into_iter().filter_map(|(k, v)| v.as_map().cloned().map(|m| (k, m))).collect()
}

/// What uses `key`: `service:target` for each mount of a volume, the service names for a network.
fn usage(tree: &Node, section: &str, key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, svc) in services(tree) {
        let Some(list) = svc.get(section) else { continue };
        match (section, list) {
            ("volumes", Node::Seq(items)) => {
                out.extend(items.iter().filter_map(|m| mount_of(m, key)).map(|t| format!("{name}:{t}")));
            }
            ("networks", Node::Seq(items)) if items.iter().any(|n| n.as_str() == Some(key)) => out.push(name),
            ("networks", Node::Map(m)) if m.contains_key(key) => out.push(name),
            _ => {}
        }
    }
    out.sort();
    out
}

/// The target of a mount of volume `key`, short or long syntax.
fn mount_of(m: &Node, key: &str) -> Option<String> {
    match m {
        Node::Str(s) => {
            let mut parts = s.split(':');
            (parts.next() == Some(key)).then(|| parts.next().unwrap_or_default().to_string())
        }
        Node::Map(l) => (l.get("source").and_then(Node::as_str) == Some(key))
            .then(|| l.get("target").and_then(Node::as_str).unwrap_or_default().to_string()),
        _ => None,
    }
}

/// Renames a declaration and every use of it, keeping positions.
fn rename(tree: &mut Node, section: &str, from: &str, to: &str) {
    let re = |m: &mut Map| {
        if let Some(i) = m.get_index_of(from) {
            let v = m.shift_remove(from).unwrap_or(Node::Null);
            m.shift_insert(i, to.to_string(), v);
        }
    };
    let Some(root) = tree.as_map_mut() else { return };
    if let Some(Node::Map(decls)) = root.get_mut(section) {
        re(decls);
    }
    let Some(Node::Map(svcs)) = root.get_mut("services") else { return };
    for svc in svcs.values_mut().filter_map(Node::as_map_mut) {
        match svc.get_mut(section) {
            Some(Node::Seq(items)) => items.iter_mut().for_each(|it| rename_use(it, from, to)),
            Some(Node::Map(m)) => re(m),
            _ => {}
        }
    }
}

fn rename_use(item: &mut Node, from: &str, to: &str) {
    match item {
        Node::Str(s) if s == from => *s = to.to_string(),
        Node::Str(s) => {
            if let Some(rest) = s.strip_prefix(&format!("{from}:")) {
                *s = format!("{to}:{rest}");
            }
        }
        Node::Map(l) if l.get("source").and_then(Node::as_str) == Some(from) => {
            l.insert("source".to_string(), Node::Str(to.to_string()));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read::parse_yaml;

    #[test]
    fn a_named_volume_mounted_at_the_same_place_takes_the_first_key() {
        let doc = |s: &str| parse_yaml(s).unwrap_or(Node::Null);
        let prod = doc(
            "services:\n  r:\n    volumes: ['d:/data']\n    networks: [n]\nvolumes:\n  d: {name: x}\nnetworks:\n  n: {name: n}\n",
        );
        let dev = doc(
            "services:\n  r:\n    volumes: ['d_dev:/data']\n    networks: [n-dev]\nvolumes:\n  d_dev: {name: x-dev}\nnetworks:\n  n-dev: {name: n-dev}\n",
        );
        let mut trees = vec![prod, dev];
        let r = align(&mut trees);
        assert_eq!(r.len(), 2);
        assert_eq!(
            trees[1],
            doc(
                "services:\n  r:\n    volumes: ['d:/data']\n    networks: [n]\nvolumes:\n  d: {name: x-dev}\nnetworks:\n  n: {name: n-dev}\n"
            )
        );
    }
}
