//! A picture of a topology: its services as nodes (image, kind, published
//! ports), `depends_on` edges labelled with their condition, the volumes each
//! service mounts and the networks it joins; optionally each service coloured
//! by its live state from a status report.
//!
//! [`Graph::build`] reads only the [`Topology`] (and, for `--live`, the
//! [`ServiceStatus`] rows a backend reported through the orchestrator); the
//! formats are [`Graph::mermaid`], [`Graph::dot`] and [`Graph::svg`] (laid out
//! in-process by `layout-rs`, no Graphviz needed). Output is deterministic:
//! the same topology gives the same bytes.
//!
//! Nothing secret is drawn: environment values are not part of the picture,
//! and an image is shown as written (`${VAR}` templates unresolved), masked
//! when it interpolates a secret variable.

mod dot;
mod mermaid;
mod style;
mod svg;

use deploy_report::ServiceStatus;
use deploy_topology::{Condition, Diagnostic, MountSource, Topology, WorkloadKind};

pub use svg::SvgError;

/// A service's kind as the picture names it (the topology's own notion).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceKind {
    /// `kind: stateful` (Kubernetes StatefulSet), the default for a service with a named volume.
    Stateful,
    /// Interchangeable replicas (Kubernetes Deployment).
    Stateless,
    /// Runs to completion once ([`Topology::is_one_shot`]).
    OneShot,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::Stateful => "stateful",
            ServiceKind::Stateless => "stateless",
            ServiceKind::OneShot => "one-shot",
        }
    }
}

/// What a node stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeKind {
    Service(ServiceKind),
    Volume,
    Network,
}

/// A service's live state, reduced to what the colours say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LiveClass {
    /// Ready (running and healthy, or a one-shot completed).
    Ready,
    /// There, but not ready (starting, unhealthy, exited, failing).
    NotReady,
    /// Nothing of it on the platform.
    Missing,
}

impl LiveClass {
    pub fn as_str(self) -> &'static str {
        match self {
            LiveClass::Ready => "ready",
            LiveClass::NotReady => "not-ready",
            LiveClass::Missing => "missing",
        }
    }
}

/// One service's live state: its colour and the platform's word for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Live {
    pub class: LiveClass,
    /// `running`, `exited (1)`, `3/3 ready`, `missing`... as `deploy status` shows it.
    pub state: String,
}

impl Live {
    /// From one row of a status report (the same on every target: `missing`
    /// when the platform has nothing of the service, else `ready` says it).
    pub fn from_status(s: &ServiceStatus) -> Live {
        let class = if s.state == "missing" {
            LiveClass::Missing
        } else if s.ready {
            LiveClass::Ready
        } else {
            LiveClass::NotReady
        };
        Live { class, state: s.state.clone() }
    }
}

/// A node: a service, a named volume or a network.
#[derive(Clone, Debug)]
pub struct Node {
    pub kind: NodeKind,
    /// The topology key.
    pub name: String,
    /// Lines under the name: image, kind, ports (services); what it is (volumes, networks).
    pub details: Vec<String>,
    /// Live state, when the graph was built with a status report.
    pub live: Option<Live>,
}

impl Node {
    /// A stable identifier, unique in the graph: `service:NAME`, `volume:NAME`, `network:NAME`.
    pub fn id(&self) -> String {
        let prefix = match self.kind {
            NodeKind::Service(_) => "service",
            NodeKind::Volume => "volume",
            NodeKind::Network => "network",
        };
        format!("{prefix}:{}", self.name)
    }
}

/// What an edge says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// `from` depends on `to` with this condition.
    DependsOn(Condition),
    /// `from` mounts the volume `to` (label: the target paths).
    Mounts,
    /// `from` joins the network `to`.
    Joins,
}

/// An edge between two nodes (indices into [`Graph::nodes`]).
#[derive(Clone, Debug)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    /// The condition, the mount paths, or empty.
    pub label: String,
}

/// The picture's content, independent of the output format.
#[derive(Clone, Debug)]
pub struct Graph {
    /// `learn-greek (profile prod)`: the title of the picture.
    pub title: String,
    /// Services (dependency order), then volumes, then networks.
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Whether services carry live states (the colours then mean live state, not kind).
    pub live: bool,
}

impl Graph {
    /// The graph of `services` and everything they depend on (every service when
    /// empty); with `live`, each service carries its row of the status report.
    /// Unknown service names are an error naming the valid ones.
    pub fn build(t: &Topology, services: &[String], live: Option<&[ServiceStatus]>) -> Result<Graph, Diagnostic> {
        let chosen = t.select(services)?;
        let mut g = Graph { title: title(t), nodes: Vec::new(), edges: Vec::new(), live: live.is_some() };
        for name in &chosen {
            let state = live.map(|rows| {
                rows.iter()
                    .find(|r| &r.service == name)
                    .map_or_else(|| Live { class: LiveClass::Missing, state: "not reported".into() }, Live::from_status)
            });
            g.nodes.push(service_node(t, name, state));
        }
        for (i, name) in chosen.iter().enumerate() {
            let s = &t.services[name.as_str()];
            for (dep, cond) in &s.depends_on {
                if let Some(to) = g.index(NodeKind::Service(ServiceKind::Stateful), dep) {
                    g.edges.push(Edge { from: i, to, kind: EdgeKind::DependsOn(*cond), label: cond.as_str().into() });
                }
            }
            g.add_mounts(t, i, name);
        }
        g.add_networks(t, &chosen);
        Ok(g)
    }

    /// Each network the services join, with an edge to each of them; a network
    /// that every service (of several) joins gets no edges but says so: an
    /// edge from every node to one node says nothing and hides the rest.
    fn add_networks(&mut self, t: &Topology, chosen: &[String]) {
        let mut networks: Vec<&str> = Vec::new();
        for name in chosen {
            for net in &t.services[name.as_str()].networks {
                if !networks.contains(&net.as_str()) {
                    networks.push(net);
                }
            }
        }
        for net in networks {
            let members: Vec<usize> = (0..chosen.len())
                .filter(|i| t.services[chosen[*i].as_str()].networks.iter().any(|n| n == net))
                .collect();
            let everyone = chosen.len() > 1 && members.len() == chosen.len();
            let mut details = network_details(t, net);
            if everyone {
                details.push("every service joins it".into());
            }
            let to = self.node(NodeKind::Network, net, || details);
            if !everyone {
                for from in members {
                    self.edges.push(Edge { from, to, kind: EdgeKind::Joins, label: String::new() });
                }
            }
        }
    }

    /// One edge per (service, volume), its label every target path (`:ro` when read-only).
    fn add_mounts(&mut self, t: &Topology, from: usize, service: &str) {
        let mut targets: Vec<(String, Vec<String>)> = Vec::new();
        for m in &t.services[service].mounts {
            let MountSource::Volume(v) = &m.source else { continue };
            let path = if m.read_only { format!("{}:ro", m.target) } else { m.target.clone() };
            match targets.iter_mut().find(|(k, _)| k == v) {
                Some((_, paths)) => paths.push(path),
                None => targets.push((v.clone(), vec![path])),
            }
        }
        for (volume, paths) in targets {
            let to = self.node(NodeKind::Volume, &volume, || volume_details(t, &volume));
            self.edges.push(Edge { from, to, kind: EdgeKind::Mounts, label: paths.join(", ") });
        }
    }

    /// The index of the node of this kind and name (any service kind matches a service).
    fn index(&self, kind: NodeKind, name: &str) -> Option<usize> {
        let same = |k: NodeKind| match (k, kind) {
            (NodeKind::Service(_), NodeKind::Service(_)) => true,
            (a, b) => a == b,
        };
        self.nodes.iter().position(|n| same(n.kind) && n.name == name)
    }

    /// The node of this kind and name, added (with `details`) when it is not there yet.
    fn node(&mut self, kind: NodeKind, name: &str, details: impl FnOnce() -> Vec<String>) -> usize {
        self.index(kind, name).unwrap_or_else(|| {
            self.nodes.push(Node { kind, name: name.to_string(), details: details(), live: None });
            self.nodes.len() - 1
        })
    }

    /// Mermaid flowchart text (renders in GitHub Markdown).
    pub fn mermaid(&self) -> String {
        mermaid::render(self)
    }

    /// Graphviz DOT text.
    pub fn dot(&self) -> String {
        dot::render(self)
    }

    /// An SVG document, laid out in-process.
    pub fn svg(&self) -> Result<String, SvgError> {
        svg::render(self)
    }
}

fn title(t: &Topology) -> String {
    match &t.profile {
        Some(p) => format!("{} (profile {p})", t.name),
        None => t.name.clone(),
    }
}

/// The topology's own notion of a service's kind.
pub fn service_kind(t: &Topology, name: &str) -> ServiceKind {
    if t.is_one_shot(name) {
        return ServiceKind::OneShot;
    }
    match t.services.get(name).map(|s| s.kind) {
        Some(WorkloadKind::Stateful) => ServiceKind::Stateful,
        Some(WorkloadKind::Job) => ServiceKind::OneShot,
        Some(WorkloadKind::Stateless) | None => ServiceKind::Stateless,
    }
}

fn service_node(t: &Topology, name: &str, live: Option<Live>) -> Node {
    let s = &t.services[name];
    let kind = service_kind(t, name);
    // As written: `${VAR}` templates stay templates. A template of a secret
    // variable may carry a secret default, so such an image is masked.
    let image = deploy_report::mask(&s.image.raw, s.image.secret);
    let mut details = vec![image];
    details.push(if s.replicas == 1 {
        kind.as_str().to_string()
    } else {
        format!("{} ×{}", kind.as_str(), s.replicas)
    });
    if !s.ports.is_empty() {
        let ports: Vec<String> = s.ports.iter().map(|p| p.short()).collect();
        details.push(format!("ports {}", ports.join(", ")));
    }
    if let Some(l) = &live {
        details.push(format!("live: {}", l.state));
    }
    Node { kind: NodeKind::Service(kind), name: name.to_string(), details, live }
}

fn volume_details(t: &Topology, key: &str) -> Vec<String> {
    match t.volumes.get(key) {
        Some(v) => vec![format!("volume, {}", v.size)],
        None => vec!["volume".into()],
    }
}

fn network_details(t: &Topology, key: &str) -> Vec<String> {
    match t.networks.get(key) {
        Some(n) => vec![format!("network, {}", n.driver)],
        None => vec!["network".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPOLOGY: &str = "
name: shop
variables:
  REGISTRY_TOKEN: {secret: true}
services:
  web:
    image: shop/web:${TAG:-1.0}
    ports: ['8080:80']
    depends_on:
      api: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
    networks: [front]
  api:
    image: shop/api:1
    replicas: 3
    healthcheck: {command: [curl, -f, localhost]}
    depends_on: [db]
    networks: [front, back]
  migrate:
    image: shop/migrate:${REGISTRY_TOKEN:-s3cr3t-default}
    restart: 'no'
    networks: [back]
  db:
    image: postgres:16
    volumes: [data:/var/lib/postgresql/data, data:/backup:ro]
    networks: [back]
networks:
  front: {}
  back: {}
volumes:
  data: {size: 2Gi}
";

    fn graph(services: &[&str]) -> Graph {
        let t = deploy_topology::from_str("shop.yaml", TOPOLOGY, None).unwrap_or_else(|e| panic!("{e:?}"));
        let names: Vec<String> = services.iter().map(|s| s.to_string()).collect();
        Graph::build(&t, &names, None).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn edge(g: &Graph, from: &str, to: &str) -> Option<(EdgeKind, String)> {
        g.edges
            .iter()
            .find(|e| g.nodes[e.from].name == from && g.nodes[e.to].name == to)
            .map(|e| (e.kind, e.label.clone()))
    }

    #[test]
    fn services_carry_image_kind_and_ports_as_the_topology_says() {
        let g = graph(&[]);
        let names: Vec<(&str, NodeKind)> = g.nodes.iter().map(|n| (n.name.as_str(), n.kind)).collect();
        assert_eq!(
            names,
            [
                ("db", NodeKind::Service(ServiceKind::Stateful)),
                ("api", NodeKind::Service(ServiceKind::Stateless)),
                ("migrate", NodeKind::Service(ServiceKind::OneShot)),
                ("web", NodeKind::Service(ServiceKind::Stateless)),
                ("data", NodeKind::Volume),
                ("back", NodeKind::Network),
                ("front", NodeKind::Network),
            ]
        );
        let web = &g.nodes[3];
        assert_eq!(web.details, ["shop/web:${TAG:-1.0}", "stateless", "ports 8080:80"]);
        assert_eq!(g.nodes[1].details, ["shop/api:1", "stateless ×3"]);
    }

    #[test]
    fn edges_say_condition_mount_paths_and_networks() {
        let g = graph(&[]);
        assert_eq!(
            edge(&g, "web", "api"),
            Some((EdgeKind::DependsOn(Condition::ServiceHealthy), "service_healthy".into()))
        );
        assert_eq!(edge(&g, "api", "db").map(|e| e.1), Some("service_started".into()));
        assert_eq!(edge(&g, "db", "data"), Some((EdgeKind::Mounts, "/var/lib/postgresql/data, /backup:ro".into())));
        assert_eq!(edge(&g, "api", "back"), Some((EdgeKind::Joins, String::new())));
        assert_eq!(edge(&g, "api", "front").map(|e| e.0), Some(EdgeKind::Joins));
        assert_eq!(g.edges.iter().filter(|e| e.kind == EdgeKind::Joins).count(), 5);
    }

    #[test]
    fn a_network_every_service_joins_is_drawn_once_without_an_edge_to_each() {
        let yaml = "name: two\nservices:\n  a: {image: x}\n  b: {image: y, depends_on: [a]}\n";
        let t = deploy_topology::from_str("two.yaml", yaml, None).unwrap_or_else(|e| panic!("{e:?}"));
        let g = Graph::build(&t, &[], None).unwrap_or_else(|e| panic!("{e:?}"));
        let net = g.nodes.iter().find(|n| n.kind == NodeKind::Network).map(|n| (n.name.as_str(), n.details.clone()));
        assert_eq!(net, Some(("default", vec!["network, bridge".into(), "every service joins it".into()])));
        assert!(g.edges.iter().all(|e| e.kind != EdgeKind::Joins));
        // Alone, a service's network is an edge like any other.
        let g = Graph::build(&t, &["a".into()], None).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(edge(&g, "a", "default"), Some((EdgeKind::Joins, String::new())));
    }

    #[test]
    fn a_selection_keeps_what_it_depends_on_and_only_their_volumes_and_networks() {
        let g = graph(&["api"]);
        let names: Vec<&str> = g.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["db", "api", "data", "back", "front"]);
        let t = deploy_topology::from_str("shop.yaml", TOPOLOGY, None).unwrap_or_else(|e| panic!("{e:?}"));
        let err = Graph::build(&t, &["nope".into()], None).err().map(|d| format!("{d:?}")).unwrap_or_default();
        assert!(err.contains("nope") && err.contains("web"), "{err}");
    }

    #[test]
    fn an_image_interpolating_a_secret_is_masked_and_nothing_else_secret_is_drawn() {
        let g = graph(&[]);
        for text in [g.mermaid(), g.dot(), g.svg().unwrap_or_else(|e| panic!("{e}"))] {
            assert!(!text.contains("s3cr3t"), "{text}");
            assert!(!text.contains("REGISTRY_TOKEN"), "{text}");
            assert!(text.contains(deploy_report::MASK), "{text}");
        }
    }

    #[test]
    fn live_states_come_from_the_status_rows() {
        let t = deploy_topology::from_str("shop.yaml", TOPOLOGY, None).unwrap_or_else(|e| panic!("{e:?}"));
        let row = |service: &str, state: &str, ready: bool| ServiceStatus {
            service: service.into(),
            object: None,
            state: state.into(),
            ready,
            health: None,
            ports: Vec::new(),
            detail: Vec::new(),
        };
        let rows = [row("db", "running", true), row("api", "exited (1)", false), row("web", "missing", false)];
        let g = Graph::build(&t, &[], Some(&rows)).unwrap_or_else(|e| panic!("{e:?}"));
        let live = |name: &str| g.nodes.iter().find(|n| n.name == name).and_then(|n| n.live.clone());
        assert_eq!(live("db").map(|l| l.class), Some(LiveClass::Ready));
        assert_eq!(live("api"), Some(Live { class: LiveClass::NotReady, state: "exited (1)".into() }));
        assert_eq!(live("web").map(|l| l.class), Some(LiveClass::Missing));
        assert_eq!(live("migrate").map(|l| l.state), Some("not reported".into()));
        assert_eq!(live("data"), None);
        assert!(g.nodes.iter().any(|n| n.details.last().is_some_and(|d| d == "live: exited (1)")));
    }
}
