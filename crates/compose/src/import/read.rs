//! Reading a Compose file into a [`Node`] tree, as Docker Compose v2 reads it:
//! YAML 1.2 scalars (`yes` and `no` are strings, as in Go's yaml.v3), anchors
//! and merge keys expanded, `version:` ignored.

use std::path::Path as FsPath;

use deploy_topology::limits;

use super::ImportError;
use super::node::Node;

/// The YAML reader's options: booleans and numbers as yaml.v3 types them
/// (Compose's parser), and the topology's input limits.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        legacy_octal_numbers: true,
        budget: serde_saphyr::budget! {
            max_depth: limits::MAX_YAML_DEPTH,
            flow_nesting_limit: limits::MAX_YAML_DEPTH,
            max_nodes: limits::MAX_YAML_NODES,
            max_events: limits::MAX_YAML_EVENTS,
            max_total_scalar_bytes: limits::MAX_YAML_SCALAR_BYTES,
            max_aliases: limits::MAX_YAML_ALIASES,
            max_anchors: limits::MAX_YAML_ANCHORS,
            max_merge_keys: limits::MAX_YAML_MERGE_KEYS,
            enforce_alias_anchor_ratio: false,
        },
    }
}

/// Parses YAML text into a tree (also used to check what the import writes).
pub(crate) fn parse_yaml(text: &str) -> Result<Node, serde_saphyr::Error> {
    serde_saphyr::from_str_with_options::<Node>(text, options())
}

/// Reads a Compose file: a mapping with a `services` mapping.
pub(crate) fn read_compose(path: &FsPath) -> Result<Node, ImportError> {
    let source = deploy_topology::read_source(path, "Compose file").map_err(|d| ImportError::Input(d.to_string()))?;
    let shown = path.display();
    let doc = if source.text.trim().is_empty() {
        Node::Null
    } else {
        parse_yaml(&source.text).map_err(|e| {
            let mut o = serde_saphyr::RenderOptions::default();
            o.snippets = serde_saphyr::SnippetMode::Off;
            let msg = e.render_with_options(o);
            ImportError::Input(format!("{shown}: {}", msg.lines().next().unwrap_or("cannot read YAML").trim()))
        })?
    };
    let Node::Map(map) = doc else {
        return Err(ImportError::Input(format!("{shown}: a Compose file is a mapping with a `services:` section")));
    };
    match map.get("services") {
        Some(Node::Map(_)) => Ok(Node::Map(map)),
        Some(Node::Null) | None => Err(ImportError::Input(format!(
            "{shown}: no services to import (the `services:` section is empty or missing)"
        ))),
        Some(_) => Err(ImportError::Input(format!("{shown}: `services:` must map service names to their definitions"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_typed_as_compose_reads_them() {
        let n = parse_yaml("a: no\nb: yes\nc: true\nd: '0.25'\ne: 0.25\nf: 010\ng:\nh: 80:80\n").ok();
        let m = n.as_ref().and_then(Node::as_map).cloned().unwrap_or_default();
        assert_eq!(m["a"], Node::str("no"));
        assert_eq!(m["b"], Node::str("yes"));
        assert_eq!(m["c"], Node::Bool(true));
        assert_eq!(m["d"], Node::str("0.25"));
        assert_eq!(m["e"], Node::Float(0.25));
        assert_eq!(m["f"], Node::Int(8));
        assert_eq!(m["g"], Node::Null);
        assert_eq!(m["h"], Node::str("80:80"));
    }

    #[test]
    fn anchors_and_merge_keys_are_expanded() {
        let n = parse_yaml("x-d: &d\n  restart: always\ns:\n  <<: *d\n  image: a\n").ok();
        let s = n.as_ref().and_then(|n| n.as_map()).and_then(|m| m.get("s")).cloned();
        let s = s.as_ref().and_then(Node::as_map).cloned().unwrap_or_default();
        assert_eq!(s.get("restart"), Some(&Node::str("always")));
        assert_eq!(s.get("image"), Some(&Node::str("a")));
    }
}
