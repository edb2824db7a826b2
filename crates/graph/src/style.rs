//! The colours every format uses: by kind, or by live state when the graph has one.

use crate::{Graph, LiveClass, Node, NodeKind, ServiceKind};

/// Fill, stroke and text colour of one class of nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paint {
    /// Class name (letters only: valid in Mermaid, DOT and CSS).
    pub class: &'static str,
    /// What the class means, for legends.
    pub meaning: &'static str,
    pub fill: &'static str,
    pub stroke: &'static str,
    /// Missing services are drawn with a dashed border.
    pub dashed: bool,
}

const fn paint(class: &'static str, meaning: &'static str, fill: &'static str, stroke: &'static str) -> Paint {
    Paint { class, meaning, fill, stroke, dashed: false }
}

pub const STATEFUL: Paint = paint("stateful", "stateful service", "#e3f2fd", "#1565c0");
pub const STATELESS: Paint = paint("stateless", "stateless service", "#ede7f6", "#5e35b1");
pub const ONE_SHOT: Paint = paint("oneshot", "one-shot service", "#fff8e1", "#ef6c00");
pub const VOLUME: Paint = paint("volume", "volume", "#eceff1", "#546e7a");
pub const NETWORK: Paint = paint("network", "network", "#e0f2f1", "#00796b");
pub const READY: Paint = paint("ready", "ready", "#c8e6c9", "#2e7d32");
pub const NOT_READY: Paint = paint("notready", "not ready", "#ffcdd2", "#c62828");
pub const MISSING: Paint = Paint { dashed: true, ..paint("missing", "missing", "#f5f5f5", "#9e9e9e") };

/// Edge colour.
pub const EDGE: &str = "#455a64";
/// Text colour.
pub const TEXT: &str = "#212121";

/// The paint of one node: a service by its live state when it has one, else by its kind.
pub fn of(node: &Node) -> Paint {
    if let Some(live) = &node.live {
        return match live.class {
            LiveClass::Ready => READY,
            LiveClass::NotReady => NOT_READY,
            LiveClass::Missing => MISSING,
        };
    }
    match node.kind {
        NodeKind::Service(ServiceKind::Stateful) => STATEFUL,
        NodeKind::Service(ServiceKind::Stateless) => STATELESS,
        NodeKind::Service(ServiceKind::OneShot) => ONE_SHOT,
        NodeKind::Volume => VOLUME,
        NodeKind::Network => NETWORK,
    }
}

/// The paints the graph uses, in a fixed order (for class definitions and legends).
pub fn used(g: &Graph) -> Vec<Paint> {
    let all = [STATEFUL, STATELESS, ONE_SHOT, READY, NOT_READY, MISSING, VOLUME, NETWORK];
    all.into_iter().filter(|p| g.nodes.iter().any(|n| of(n) == *p)).collect()
}
