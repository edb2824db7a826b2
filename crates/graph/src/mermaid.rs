//! Mermaid flowchart text: `flowchart TB`, one line per node and per edge,
//! identifiers made of letters, digits and `_` only, every label quoted with
//! Mermaid's entity codes for the characters that would end or change it.

use std::fmt::Write as _;

use crate::{EdgeKind, Graph, Node, NodeKind, style};

pub fn render(g: &Graph) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "---\ntitle: \"{}\"\n---\nflowchart TB", escape(&g.title));
    for n in &g.nodes {
        let (open, close) = match n.kind {
            NodeKind::Service(_) => ("[", "]"),
            NodeKind::Volume => ("[(", ")]"),
            NodeKind::Network => ("{{", "}}"),
        };
        let _ = writeln!(s, "    {}{open}\"{}\"{close}", id(n), label(n));
    }
    for e in &g.edges {
        let link = match e.kind {
            EdgeKind::DependsOn(_) => "-->",
            EdgeKind::Mounts => "-.->",
            EdgeKind::Joins => "-.-",
        };
        let text = if e.label.is_empty() { String::new() } else { format!("|\"{}\"|", escape(&e.label)) };
        let _ = writeln!(s, "    {} {link}{text} {}", id(&g.nodes[e.from]), id(&g.nodes[e.to]));
    }
    for p in style::used(g) {
        let dash = if p.dashed { ",stroke-dasharray:5 5" } else { "" };
        let _ = writeln!(s, "    classDef {} fill:{},stroke:{},color:{}{dash}", p.class, p.fill, p.stroke, style::TEXT);
        let members: Vec<String> = g.nodes.iter().filter(|n| style::of(n) == p).map(id).collect();
        let _ = writeln!(s, "    class {} {}", members.join(","), p.class);
    }
    s
}

/// `s_`, `v_` or `n_`, then the name with every character other than an ASCII
/// letter or digit written `_HEX_` (so distinct names stay distinct, and no
/// identifier is a Mermaid keyword such as `end`).
pub fn id(n: &Node) -> String {
    let prefix = match n.kind {
        NodeKind::Service(_) => "s_",
        NodeKind::Volume => "v_",
        NodeKind::Network => "n_",
    };
    let mut out = String::from(prefix);
    for c in n.name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            let _ = write!(out, "_{:x}_", c as u32);
        }
    }
    out
}

/// The name in bold, then each detail on its own line.
fn label(n: &Node) -> String {
    let mut s = format!("<b>{}</b>", escape(&n.name));
    for d in &n.details {
        s.push_str("<br/>");
        s.push_str(&escape(d));
    }
    s
}

/// Text for inside a quoted label: Mermaid's entity codes for `"`, `#`, `<`,
/// `>`, `&` and `|`; control characters as spaces.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            // Ends an edge label (`-->|text|`), even quoted, in some Mermaid versions.
            '|' => out.push_str("#124;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
