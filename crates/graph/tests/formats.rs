//! The three formats read back: the SVG with an XML parser, the DOT with
//! layout-rs's DOT parser, the Mermaid with a parser of the subset this crate
//! emits (node and edge lines, identifiers, quoted labels and their entity codes).

use std::collections::{BTreeMap, BTreeSet};

use deploy_graph::{Edge, EdgeKind, Graph, Live, LiveClass, Node, NodeKind, ServiceKind};
use deploy_topology::Condition;

const SHOP: &str = "
name: shop
services:
  web:
    image: shop/web:${TAG:-1.0}
    ports: ['8080:80', '127.0.0.1:8443:443']
    depends_on:
      api: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
    networks: [front]
  api:
    image: shop/api:1
    replicas: 3
    healthcheck: {command: [curl, -f, localhost]}
    depends_on: [db, cache]
    networks: [front, back]
  migrate:
    image: shop/migrate:1
    restart: 'no'
    networks: [back]
  db:
    image: postgres:16
    volumes: [data:/var/lib/postgresql/data]
    networks: [back]
  cache:
    image: redis:7
    volumes: [cache:/data]
    networks: [back]
networks:
  front: {}
  back: {}
volumes:
  data: {size: 2Gi}
  cache: {}
";

fn shop() -> Graph {
    let t = deploy_topology::from_str("shop.yaml", SHOP, None).unwrap_or_else(|e| panic!("{e:?}"));
    Graph::build(&t, &[], None).unwrap_or_else(|e| panic!("{e:?}"))
}

fn node(kind: NodeKind, name: &str, details: &[&str]) -> Node {
    Node { kind, name: name.into(), details: details.iter().map(|d| d.to_string()).collect(), live: None }
}

/// Names and texts that would break a careless writer: Mermaid keywords, the
/// characters of its syntax, DOT escapes, XML specials.
fn awkward() -> Graph {
    let service = NodeKind::Service(ServiceKind::Stateless);
    let mut nodes = vec![
        node(service, "end", &["img:\"quoted\" <b>#1 & 2</b>"]),
        node(service, "a.b-c", &["back\\slash \\n not a newline", "|pipe| -->"]),
        node(service, "a_b", &["x"]),
        node(service, "a-b", &["%% not a comment"]),
        node(NodeKind::Volume, "end", &["volume"]),
        node(NodeKind::Network, "subgraph", &["network"]),
    ];
    nodes[2].live = Some(Live { class: LiveClass::Ready, state: "running".into() });
    let edge = |from, to, kind, label: &str| Edge { from, to, kind, label: label.into() };
    Graph {
        title: "t \"q\" <x> & #y".into(),
        edges: vec![
            edge(0, 1, EdgeKind::DependsOn(Condition::ServiceHealthy), "service_healthy"),
            edge(1, 2, EdgeKind::DependsOn(Condition::ServiceStarted), "a\"b|c"),
            edge(0, 4, EdgeKind::Mounts, "/data:ro, /x"),
            edge(3, 5, EdgeKind::Joins, ""),
        ],
        nodes,
        live: true,
    }
}

/// Every label as the reader sees it: the name, then the details, one a line.
fn labels(g: &Graph) -> BTreeMap<String, String> {
    g.nodes
        .iter()
        .map(|n| (n.id(), std::iter::once(n.name.clone()).chain(n.details.clone()).collect::<Vec<_>>().join("\n")))
        .collect()
}

fn edges(g: &Graph) -> BTreeSet<(String, String, String)> {
    g.edges.iter().map(|e| (g.nodes[e.from].id(), g.nodes[e.to].id(), e.label.clone())).collect()
}

// ---- SVG ----

#[test]
fn svg_is_well_formed_and_draws_every_node_and_edge() {
    for g in [shop(), awkward()] {
        let svg = g.svg().unwrap_or_else(|e| panic!("{e}"));
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("not well-formed XML: {e}\n{svg}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
        let drawn: BTreeMap<String, String> = root
            .descendants()
            .filter(|n| n.attribute("data-node").is_some())
            .map(|n| {
                let text: Vec<&str> =
                    n.children().filter(|c| c.has_tag_name("text")).filter_map(|c| c.text()).collect();
                (n.attribute("data-node").unwrap_or_default().to_string(), text.join("\n"))
            })
            .collect();
        assert_eq!(drawn, labels(&g));
        let paths: BTreeSet<(String, String)> = root
            .descendants()
            .filter(|n| n.has_tag_name("path") && n.attribute("data-from").is_some())
            .map(|n| {
                (n.attribute("data-from").unwrap_or_default().into(), n.attribute("data-to").unwrap_or_default().into())
            })
            .collect();
        let expected: BTreeSet<(String, String)> = edges(&g).into_iter().map(|(a, b, _)| (a, b)).collect();
        assert_eq!(paths, expected);
        let label_texts: BTreeSet<&str> = root
            .descendants()
            .filter(|n| n.has_tag_name("g") && n.attribute("class") == Some("edge-labels"))
            .flat_map(|g| g.children().filter(|c| c.has_tag_name("text")).filter_map(|c| c.text()))
            .collect();
        let expected: BTreeSet<&str> = g.edges.iter().map(|e| e.label.as_str()).filter(|l| !l.is_empty()).collect();
        assert_eq!(label_texts, expected);
    }
}

#[test]
fn svg_colours_services_by_live_state_when_it_has_one() {
    let svg = awkward().svg().unwrap_or_else(|e| panic!("{e}"));
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}"));
    let class = |id: &str| {
        doc.descendants()
            .find(|n| n.attribute("data-node") == Some(id))
            .and_then(|n| n.attribute("class"))
            .unwrap_or_default()
    };
    assert_eq!(class("service:a_b"), "node service ready");
    assert_eq!(class("service:end"), "node service stateless");
    assert_eq!(class("volume:end"), "node volume volume");
}

#[test]
fn an_empty_topology_is_an_empty_picture_not_an_error() {
    let g = Graph { title: "nothing".into(), nodes: Vec::new(), edges: Vec::new(), live: false };
    let svg = g.svg().unwrap_or_else(|e| panic!("{e}"));
    assert!(roxmltree::Document::parse(&svg).is_ok(), "{svg}");
}

#[test]
fn a_wide_topology_lays_out_in_reasonable_time() {
    // 60 services in 4 layers, each depending on two of the layer below, and a
    // volume for each of the bottom layer.
    let mut yaml = String::from("name: wide\nservices:\n");
    for layer in 0..4 {
        for i in 0..15 {
            yaml.push_str(&format!("  s{layer}x{i}:\n    image: busybox:1\n"));
            if layer > 0 {
                let (a, b) = (i, (i + 7) % 15);
                yaml.push_str(&format!("    depends_on: [s{}x{a}, s{}x{b}]\n", layer - 1, layer - 1));
            } else {
                yaml.push_str(&format!("    volumes: [v{i}:/data]\n"));
            }
        }
    }
    yaml.push_str("volumes:\n");
    for i in 0..15 {
        yaml.push_str(&format!("  v{i}: {{}}\n"));
    }
    let t = deploy_topology::from_str("wide.yaml", &yaml, None).unwrap_or_else(|e| panic!("{e:?}"));
    let g = Graph::build(&t, &[], None).unwrap_or_else(|e| panic!("{e:?}"));
    let started = std::time::Instant::now();
    let svg = g.svg().unwrap_or_else(|e| panic!("{e}"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "took {:?}", started.elapsed());
    let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        doc.descendants().filter(|n| n.attribute("data-node").is_some_and(|i| i.starts_with("service:"))).count(),
        60
    );
}

// ---- DOT ----

#[test]
fn dot_parses_and_says_the_same_graph() {
    use layout::gv::parser::ast::Stmt;
    for g in [shop(), awkward()] {
        let text = g.dot();
        let mut parser = layout::gv::DotParser::new(&text);
        let ast = parser.process().unwrap_or_else(|e| panic!("DOT does not parse: {e}\n{text}"));
        assert_eq!(ast.name, g.title);
        let attr = |list: &layout::gv::parser::ast::AttributeList, key: &str| {
            list.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
        };
        let mut nodes = BTreeMap::new();
        let mut found = BTreeSet::new();
        for stmt in &ast.list.list {
            match stmt {
                Stmt::Node(n) => assert!(nodes.insert(n.id.name.clone(), attr(&n.list, "label")).is_none(), "{text}"),
                Stmt::Edge(e) => {
                    assert_eq!(e.to.len(), 1, "{text}");
                    found.insert((e.from.name.clone(), e.to[0].0.name.clone(), attr(&e.list, "label")));
                }
                Stmt::Attribute(_) => {}
                Stmt::SubGraph(_) => panic!("no subgraphs are emitted: {text}"),
            }
        }
        assert_eq!(nodes, labels(&g));
        assert_eq!(found, edges(&g));
    }
}

// ---- Mermaid ----

/// What a Mermaid flowchart in this crate's subset says.
#[derive(Debug, Default)]
struct Flowchart {
    title: String,
    /// id → (shape, decoded label with `<b>`/`<br/>` turned into lines)
    nodes: BTreeMap<String, (&'static str, String)>,
    edges: BTreeSet<(String, &'static str, String, String)>,
    classes: BTreeMap<String, String>,
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A quoted label's text: no raw quote inside, only `<b>`, `</b>` and `<br/>`
/// as markup, Mermaid entity codes decoded.
fn unquote(s: &str) -> Result<String, String> {
    let inner = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).ok_or(format!("not quoted: {s}"))?;
    if inner.contains('"') {
        return Err(format!("raw quote in {s}"));
    }
    let lines = inner.replace("<b>", "").replace("</b>", "").replace("<br/>", "\n");
    if lines.contains(['<', '>']) {
        return Err(format!("markup other than <b> and <br/> in {s}"));
    }
    let mut out = String::new();
    let mut rest = lines.as_str();
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').ok_or(format!("`#` that is no entity code in {s}"))?;
        out.push(match &rest[i + 1..i + end] {
            "quot" => '"',
            "35" => '#',
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "124" => '|',
            other => return Err(format!("unknown entity #{other}; in {s}")),
        });
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn parse_node(line: &str) -> Result<(String, &'static str, String), String> {
    let split = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).ok_or("no shape")?;
    let (id, shape) = line.split_at(split);
    for (open, close, name) in [("[(", ")]", "cylinder"), ("{{", "}}", "hexagon"), ("[", "]", "box")] {
        if let Some(label) = shape.strip_prefix(open).and_then(|s| s.strip_suffix(close)) {
            return Ok((id.to_string(), name, unquote(label)?));
        }
    }
    Err(format!("unknown node shape: {line}"))
}

fn parse_edge(line: &str) -> Result<(String, &'static str, String, String), String> {
    let (from, rest) = line.split_once(' ').ok_or("no link")?;
    let (link, rest) = rest.split_once(['|', ' ']).ok_or("no target")?;
    let link = ["-->", "-.->", "-.-"].into_iter().find(|l| *l == link).ok_or(format!("unknown link `{link}`"))?;
    let (label, to) = match rest.rsplit_once("| ") {
        Some((label, to)) => (unquote(label)?, to),
        None => (String::new(), rest),
    };
    if !is_id(from) || !is_id(to) {
        return Err(format!("bad identifier in {line}"));
    }
    Ok((from.to_string(), link, to.to_string(), label))
}

fn parse_mermaid(text: &str) -> Result<Flowchart, String> {
    let mut lines = text.lines();
    let mut chart = Flowchart::default();
    if lines.next() != Some("---") {
        return Err("no front matter".into());
    }
    let title = lines.next().and_then(|l| l.strip_prefix("title: ")).ok_or("no title")?;
    chart.title = unquote(title)?;
    if lines.next() != Some("---") || lines.next() != Some("flowchart TB") {
        return Err("no `flowchart TB` after the front matter".into());
    }
    for line in lines {
        let line = line.strip_prefix("    ").ok_or(format!("not indented: {line}"))?;
        if let Some(def) = line.strip_prefix("classDef ") {
            let (name, style) = def.split_once(' ').ok_or("classDef without style")?;
            chart.classes.insert(name.into(), style.into());
        } else if let Some(members) = line.strip_prefix("class ") {
            let (ids, name) = members.split_once(' ').ok_or("class without name")?;
            if !chart.classes.contains_key(name) || !ids.split(',').all(|i| chart.nodes.contains_key(i)) {
                return Err(format!("class statement names something undeclared: {line}"));
            }
        } else if line.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_').starts_with(' ') {
            // `ID ` then a link: an edge (a node's identifier is followed by its shape).
            let e = parse_edge(line)?;
            if !chart.nodes.contains_key(&e.0) || !chart.nodes.contains_key(&e.2) {
                return Err(format!("edge between undeclared nodes: {line}"));
            }
            chart.edges.insert(e);
        } else {
            let (id, shape, label) = parse_node(line)?;
            if chart.nodes.insert(id.clone(), (shape, label)).is_some() {
                return Err(format!("node {id} declared twice"));
            }
        }
    }
    Ok(chart)
}

#[test]
fn mermaid_parses_and_says_the_same_graph() {
    for g in [shop(), awkward()] {
        let text = g.mermaid();
        let chart = parse_mermaid(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(chart.title, g.title);
        // Identifiers are distinct for distinct nodes (a_b and a-b, the service and the volume `end`).
        assert_eq!(chart.nodes.len(), g.nodes.len(), "{text}");
        let found: BTreeSet<String> = chart.nodes.values().map(|(_, l)| l.clone()).collect();
        assert_eq!(found, labels(&g).into_values().collect::<BTreeSet<_>>());
        let shapes: BTreeSet<&str> = chart.nodes.values().map(|(s, _)| *s).collect();
        assert_eq!(shapes, BTreeSet::from(["box", "cylinder", "hexagon"]));
        // Edges: resolve identifiers back to node ids through the labels.
        let id_of: BTreeMap<&str, String> = chart
            .nodes
            .iter()
            .map(|(id, (_, label))| {
                let n = g.nodes.iter().find(|n| labels(&g)[&n.id()] == *label).map(Node::id).unwrap_or_default();
                (id.as_str(), n)
            })
            .collect();
        let found: BTreeSet<(String, String, String)> = chart
            .edges
            .iter()
            .map(|(a, _, b, l)| (id_of[a.as_str()].clone(), id_of[b.as_str()].clone(), l.clone()))
            .collect();
        assert_eq!(found, edges(&g));
        assert!(!chart.nodes.contains_key("end"), "`end` is a Mermaid keyword: {text}");
    }
}

#[test]
fn mermaid_links_say_what_the_edge_is() {
    let chart = parse_mermaid(&shop().mermaid()).unwrap_or_else(|e| panic!("{e}"));
    let links: BTreeSet<(&str, &str, &str)> =
        chart.edges.iter().map(|(a, l, b, _)| (a.as_str(), *l, b.as_str())).collect();
    assert!(links.contains(&("s_web", "-->", "s_api")), "{links:?}");
    assert!(links.contains(&("s_db", "-.->", "v_data")), "{links:?}");
    assert!(links.contains(&("s_api", "-.-", "n_back")), "{links:?}");
    assert_eq!(
        chart.classes.keys().map(String::as_str).collect::<Vec<_>>(),
        ["network", "oneshot", "stateful", "stateless", "volume"]
    );
}
