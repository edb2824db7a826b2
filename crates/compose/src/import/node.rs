//! A YAML document as written: scalars typed as YAML reads them, mapping key
//! order kept. The import reads Compose into this tree, rewrites it, and
//! writes the topology from it.

use std::fmt;

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer};

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(IndexMap<String, Node>),
}

pub(crate) type Map = IndexMap<String, Node>;

impl Node {
    pub(crate) fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }
    pub(crate) fn as_map(&self) -> Option<&Map> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }
    pub(crate) fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }
    pub(crate) fn is_scalar(&self) -> bool {
        !matches!(self, Node::Seq(_) | Node::Map(_))
    }
    /// A scalar as the text Compose would take for a string field (`true`, `30`, `0.5`).
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match self {
            Node::Str(s) => Some(s.clone()),
            Node::Int(i) => Some(i.to_string()),
            Node::Float(f) => Some(f.to_string()),
            Node::Bool(b) => Some(b.to_string()),
            Node::Null | Node::Seq(_) | Node::Map(_) => None,
        }
    }
    /// The node at `path`, if there is one.
    pub(crate) fn get(&self, path: &[Seg]) -> Option<&Node> {
        let Some((first, rest)) = path.split_first() else { return Some(self) };
        match (self, first) {
            (Node::Map(m), Seg::Key(k)) => m.get(k)?.get(rest),
            (Node::Seq(s), Seg::Index(i)) => s.get(*i)?.get(rest),
            _ => None,
        }
    }
    /// Removes the node at `path` (a map entry or a list item); false when there is none.
    pub(crate) fn remove(&mut self, path: &[Seg]) -> bool {
        let Some((last, parent)) = path.split_last() else { return false };
        let mut node = self;
        for seg in parent {
            node = match (node, seg) {
                (Node::Map(m), Seg::Key(k)) => match m.get_mut(k) {
                    Some(n) => n,
                    None => return false,
                },
                (Node::Seq(s), Seg::Index(i)) => match s.get_mut(*i) {
                    Some(n) => n,
                    None => return false,
                },
                _ => return false,
            };
        }
        match (node, last) {
            (Node::Map(m), Seg::Key(k)) => m.shift_remove(k).is_some(),
            (Node::Seq(s), Seg::Index(i)) if *i < s.len() => {
                s.remove(*i);
                true
            }
            _ => false,
        }
    }
    /// Every string in the tree (values, not keys), depth first.
    pub(crate) fn strings(&self, out: &mut Vec<String>) {
        match self {
            Node::Str(s) => out.push(s.clone()),
            Node::Seq(items) => items.iter().for_each(|n| n.strings(out)),
            Node::Map(m) => m.values().for_each(|n| n.strings(out)),
            _ => {}
        }
    }
}

/// One step of a path into a document: a mapping key or a list index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path into a document, shown as `services.web.volumes[1]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Path(pub(crate) Vec<Seg>);

impl Path {
    pub(crate) fn keys(keys: &[&str]) -> Path {
        Path(keys.iter().map(|k| Seg::Key((*k).to_string())).collect())
    }
    pub(crate) fn child(&self, seg: Seg) -> Path {
        let mut p = self.0.clone();
        p.push(seg);
        Path(p)
    }
    pub(crate) fn key(&self, k: &str) -> Path {
        self.child(Seg::Key(k.to_string()))
    }
    pub(crate) fn key_at(&self, i: usize) -> Option<&str> {
        match self.0.get(i) {
            Some(Seg::Key(k)) => Some(k),
            _ => None,
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => f.write_str(k)?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(Node::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Node, E> {
        Ok(Node::Int(i))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Node, E> {
        Ok(i64::try_from(u).map_or(Node::Float(u as f64), Node::Int))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Node, E> {
        Ok(Node::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Node, E> {
        Ok(Node::Str(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Node, E> {
        Ok(Node::Str(s))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = a.next_element()? {
            items.push(n);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
        let mut m = Map::new();
        while let Some((k, v)) = a.next_entry::<String, Node>()? {
            m.insert(k, v);
        }
        Ok(Node::Map(m))
    }
}
