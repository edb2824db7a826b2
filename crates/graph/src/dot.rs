//! Graphviz DOT text: quoted identifiers (`"service:NAME"`), one statement per
//! line, labels as DOT escaped strings.

use std::fmt::Write as _;

use crate::{EdgeKind, Graph, NodeKind, style};

pub fn render(g: &Graph) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph \"{}\" {{", quote(&g.title));
    let _ = writeln!(s, "    graph [rankdir=TB, label=\"{}\", labelloc=t, fontname=\"Helvetica\"];", quote(&g.title));
    let _ = writeln!(s, "    node [fontname=\"Helvetica\", fontsize=11, fontcolor=\"{}\"];", style::TEXT);
    let _ = writeln!(s, "    edge [fontname=\"Helvetica\", fontsize=10, color=\"{}\"];", style::EDGE);
    for n in &g.nodes {
        let p = style::of(n);
        let shape = match n.kind {
            NodeKind::Service(_) => "box",
            NodeKind::Volume => "cylinder",
            NodeKind::Network => "hexagon",
        };
        let rounded = if matches!(n.kind, NodeKind::Service(_)) { "rounded," } else { "" };
        let dashed = if p.dashed { ",dashed" } else { "" };
        let mut label = quote(&n.name);
        for d in &n.details {
            let _ = write!(label, "\\n{}", quote(d));
        }
        let _ = writeln!(
            s,
            "    \"{}\" [shape={shape}, style=\"{rounded}filled{dashed}\", fillcolor=\"{}\", color=\"{}\", \
             class=\"{}\", label=\"{label}\"];",
            quote(&n.id()),
            p.fill,
            p.stroke,
            p.class
        );
    }
    for e in &g.edges {
        let mut attrs: Vec<String> = Vec::new();
        if !e.label.is_empty() {
            attrs.push(format!("label=\"{}\"", quote(&e.label)));
        }
        match e.kind {
            EdgeKind::DependsOn(_) => {}
            EdgeKind::Mounts => attrs.push("style=dashed".into()),
            EdgeKind::Joins => attrs.extend(["style=dotted".into(), "arrowhead=none".into()]),
        }
        let attrs = if attrs.is_empty() { String::new() } else { format!(" [{}]", attrs.join(", ")) };
        let _ = writeln!(s, "    \"{}\" -> \"{}\"{attrs};", quote(&g.nodes[e.from].id()), quote(&g.nodes[e.to].id()));
    }
    s.push_str("}\n");
    s
}

/// Text for inside a DOT double-quoted string: `\` and `"` escaped (so none of
/// DOT's own `\n`, `\l`, `\N` escapes can come from a name), control characters as spaces.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
