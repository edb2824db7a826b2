//! Several complete topologies (one per environment) → one base with what
//! they all share and one overlay per environment with what differs, under
//! the profile overlay rules (`deploy_topology::raw::Overlay`): scalars and
//! lists are replaced, maps merge by key, objects merge field by field.
//!
//! An overlay cannot remove anything, so the base holds only what every
//! environment has, with the same value. Where the rules merge, the shared
//! part of a map goes to the base and each environment's own part to its
//! overlay; everything else is one value, in the base when all agree, else
//! in every overlay. The caller checks the result by loading each base +
//! overlay with deploy's loader against the complete topology.

use super::node::{Map, Node, Path};

/// The base and one overlay per input, in input order.
pub(crate) struct Factored {
    pub(crate) base: Node,
    pub(crate) overlays: Vec<Node>,
}

/// How finely to factor: `Fine` follows every merge rule of the overlay;
/// `Coarse` only shares whole service fields and whole declarations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grain {
    Fine,
    Coarse,
}

pub(crate) fn factor(trees: &[Node], grain: Grain) -> Factored {
    let refs: Vec<Option<&Node>> = trees.iter().map(Some).collect();
    let (base, overlays) = split(&refs, &Path::default(), grain);
    Factored {
        base: base.unwrap_or_else(|| Node::Map(Map::new())),
        overlays: overlays.into_iter().map(|o| o.unwrap_or_else(|| Node::Map(Map::new()))).collect(),
    }
}

/// Whether the overlay merges the map at `path` key by key (else it replaces it whole).
fn merges(path: &Path, grain: Grain) -> bool {
    let k = |i| path.key_at(i);
    match path.0.len() {
        0 => true,
        1 => matches!(k(0), Some("variables" | "services" | "networks" | "volumes")),
        2 => matches!(k(0), Some("variables" | "services" | "networks" | "volumes")),
        3 => {
            grain == Grain::Fine
                && k(0) == Some("services")
                && matches!(k(2), Some("build" | "healthcheck" | "resources" | "environment"))
        }
        4 => {
            grain == Grain::Fine
                && k(0) == Some("services")
                && k(2) == Some("resources")
                && matches!(k(3), Some("limits" | "reservations"))
        }
        _ => false,
    }
}

/// The shared part and each tree's own part of the values at `path` (`None` where a tree has none).
fn split(values: &[Option<&Node>], path: &Path, grain: Grain) -> (Option<Node>, Vec<Option<Node>>) {
    let present: Vec<&Node> = values.iter().flatten().copied().collect();
    let everywhere = present.len() == values.len();
    if everywhere && present.windows(2).all(|w| w[0] == w[1]) {
        return (present.first().map(|n| (*n).clone()), vec![None; values.len()]);
    }
    let all_maps = present.iter().all(|n| n.as_map().is_some());
    if !(everywhere && all_maps && merges(path, grain)) {
        return (None, values.iter().map(|v| v.cloned()).collect());
    }
    let maps: Vec<&Map> = present.iter().filter_map(|n| n.as_map()).collect();
    let mut base = Map::new();
    let mut own: Vec<Map> = vec![Map::new(); values.len()];
    for key in keys(&maps) {
        let vals: Vec<Option<&Node>> = maps.iter().map(|m| m.get(&key)).collect();
        let (b, parts) = split(&vals, &path.key(&key), grain);
        if let Some(b) = b {
            base.insert(key.clone(), b);
        }
        for (o, p) in own.iter_mut().zip(parts) {
            if let Some(p) = p {
                o.insert(key.clone(), p);
            }
        }
    }
    let base = (!base.is_empty()).then_some(Node::Map(base));
    (base, own.into_iter().map(|o| (!o.is_empty()).then_some(Node::Map(o))).collect())
}

/// Every key of the maps: the first map's order, then keys only later ones have.
fn keys(maps: &[&Map]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for m in maps {
        for k in m.keys() {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read::parse_yaml;

    fn doc(s: &str) -> Node {
        parse_yaml(s).unwrap_or(Node::Null)
    }

    #[test]
    fn shared_values_go_to_the_base_and_differences_to_each_overlay() {
        let prod = doc(
            "services:\n  r:\n    image: redis\n    ports: ['1:1']\n    environment: {A: '1', B: p}\n    healthcheck: {command: [x], interval: 1s}\n  p:\n    image: pg\n",
        );
        let dev = doc(
            "services:\n  r:\n    image: redis\n    ports: ['2:2']\n    environment: {A: '1', B: d, C: c}\n    healthcheck: {command: [x], interval: 1s}\n",
        );
        let f = factor(&[prod, dev], Grain::Fine);
        assert_eq!(
            f.base,
            doc(
                "services:\n  r:\n    image: redis\n    environment: {A: '1'}\n    healthcheck: {command: [x], interval: 1s}\n"
            )
        );
        assert_eq!(
            f.overlays[0],
            doc("services:\n  r:\n    ports: ['1:1']\n    environment: {B: p}\n  p:\n    image: pg\n")
        );
        assert_eq!(f.overlays[1], doc("services:\n  r:\n    ports: ['2:2']\n    environment: {B: d, C: c}\n"));
    }

    #[test]
    fn lists_and_unknown_maps_are_replaced_whole() {
        let a = doc("services:\n  r:\n    labels: {a: '1', b: '2'}\n    command: [x, y]\n");
        let b = doc("services:\n  r:\n    labels: {a: '1', b: '3'}\n    command: [x, z]\n");
        let f = factor(&[a.clone(), b.clone()], Grain::Fine);
        assert_eq!(f.base, Node::Map(Map::new()));
        assert_eq!(f.overlays, vec![a, b]);
    }
}
