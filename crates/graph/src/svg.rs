//! SVG drawn in-process. `layout-rs` lays the graph out (ranks, crossing
//! reduction, Brandes-Köpf placement, edge curves through label and
//! long-edge connectors); this module measures the nodes, records the edge
//! curves and label positions the layout produces, and writes the document
//! itself: every node with its own shape and colours, a title and a legend,
//! numbers rounded to a tenth so the same graph always gives the same bytes.

use std::fmt::Write as _;

use layout::core::base::Orientation;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::{LineStyleKind, StyleAttr};
use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
use layout::topo::layout::VisualGraph;

use crate::{EdgeKind, Graph, Node, NodeKind, style};

/// Why no SVG could be drawn.
#[derive(Debug)]
pub struct SvgError(String);

impl std::fmt::Display for SvgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cannot lay the graph out: {}", self.0)
    }
}

impl std::error::Error for SvgError {}

const SANS: &str = "Helvetica, Arial, sans-serif";
const MONO: &str = "ui-monospace, Menlo, Consolas, 'DejaVu Sans Mono', monospace";
/// Name line: bold sans-serif at 14 px, measured at 8.4 px a character (wide enough for bold capitals).
const NAME_PX: f64 = 14.;
const NAME_CHAR: f64 = 8.4;
/// Detail lines: monospace at 12 px, 0.6 em a character.
const DETAIL_PX: f64 = 12.;
const DETAIL_CHAR: f64 = 7.2;
const LINE: f64 = 16.;
const PAD_X: f64 = 12.;
const PAD_Y: f64 = 10.;
/// Edge labels: monospace at 11 px (6.6 px a character). The layout sizes a
/// label's connector at `font_size` px a character, so labels are given this size there.
const LABEL_PX: f64 = 11.;
const LABEL_CHAR: f64 = 6.6;
const LABEL_LAYOUT_FONT: usize = 7;
/// Margin around the drawing; room for the title above it.
const MARGIN: f64 = 16.;
const TITLE_H: f64 = 28.;
/// Volumes get room for the cylinder's caps.
const CAP: f64 = 7.;

/// A node's measured box.
#[derive(Clone, Copy)]
struct Size {
    w: f64,
    h: f64,
}

/// Where the layout put things.
struct Placed {
    /// Centre of each node, in `Graph::nodes` order.
    centres: Vec<Point>,
    /// Each edge's curve, as layout-rs gives it: the first pair is (start, its
    /// control point); every following pair is (control point, point).
    curves: Vec<(usize, Vec<(Point, Point)>)>,
    /// Edge labels: centre and text.
    labels: Vec<(Point, String)>,
}

pub fn render(g: &Graph) -> Result<String, SvgError> {
    let sizes: Vec<Size> = g.nodes.iter().map(measure).collect();
    let placed = if g.nodes.is_empty() {
        Placed { centres: Vec::new(), curves: Vec::new(), labels: Vec::new() }
    } else {
        // layout-rs asserts on graphs it cannot handle; ours are acyclic with
        // no duplicate edges, but a failure must still be an error, not a crash.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| place(g, &sizes))).map_err(|p| {
            SvgError(p.downcast_ref::<&str>().map_or_else(|| "layout-rs panicked".into(), |s| s.to_string()))
        })?
    };
    Ok(write(g, &sizes, &placed))
}

fn measure(n: &Node) -> Size {
    let name = n.name.chars().count() as f64 * NAME_CHAR;
    let details = n.details.iter().map(|d| d.chars().count()).max().unwrap_or(0) as f64 * DETAIL_CHAR;
    let mut w = name.max(details) + 2. * PAD_X;
    let mut h = 2. * PAD_Y + LINE + 2. + LINE * n.details.len() as f64;
    match n.kind {
        NodeKind::Volume => h += 2. * CAP,
        NodeKind::Network => w += 2. * PAD_X,
        NodeKind::Service(_) => {}
    }
    Size { w: w.round(), h: h.round() }
}

fn place(g: &Graph, sizes: &[Size]) -> Placed {
    let mut vg = VisualGraph::new(Orientation::TopToBottom);
    // Nodes are boxes without text (this module writes their text): the only
    // text layout-rs draws is edge labels, at the connectors it made for them.
    let look = StyleAttr::simple();
    let handles: Vec<_> = sizes
        .iter()
        .map(|s| {
            let e =
                Element::create(ShapeKind::new_box(""), look.clone(), Orientation::TopToBottom, Point::new(s.w, s.h));
            vg.add_node(e)
        })
        .collect();
    let mut label_look = StyleAttr::simple();
    label_look.font_size = LABEL_LAYOUT_FONT;
    for (i, e) in g.edges.iter().enumerate() {
        let (line, end) = match e.kind {
            EdgeKind::DependsOn(_) => (LineStyleKind::Normal, LineEndKind::Arrow),
            EdgeKind::Mounts => (LineStyleKind::Dashed, LineEndKind::Arrow),
            EdgeKind::Joins => (LineStyleKind::Dotted, LineEndKind::None),
        };
        let mut arrow = Arrow::new(LineEndKind::None, end, line, &e.label, &label_look, &None, &None);
        arrow.properties = Some(i.to_string());
        vg.add_edge(arrow, handles[e.from], handles[e.to]);
    }
    let mut rec = Recorder::default();
    vg.do_it(false, false, false, &mut rec);
    let centres = handles.iter().map(|h| vg.pos(*h).center()).collect();
    Placed { centres, curves: rec.curves, labels: rec.labels }
}

/// A layout-rs render backend that keeps only what this module does not draw
/// itself: the edge curves and the edge labels.
#[derive(Default)]
struct Recorder {
    curves: Vec<(usize, Vec<(Point, Point)>)>,
    labels: Vec<(Point, String)>,
}

impl RenderBackend for Recorder {
    fn draw_rect(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>, _: Option<ClipHandle>) {}
    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}
    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}
    fn draw_text(&mut self, xy: Point, text: &str, _: &StyleAttr) {
        if !text.is_empty() {
            self.labels.push((xy, text.to_string()));
        }
    }
    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _: bool,
        _: (bool, bool),
        _: &StyleAttr,
        p: Option<String>,
        _: &str,
    ) {
        if let Some(i) = p.and_then(|p| p.parse().ok()) {
            self.curves.push((i, path.to_vec()));
        }
    }
    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

/// The drawing's extent: (min x, min y, max x, max y).
fn extent(sizes: &[Size], p: &Placed) -> (f64, f64, f64, f64) {
    let mut e = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    let mut grow = |x0: f64, y0: f64, x1: f64, y1: f64| {
        e = (e.0.min(x0), e.1.min(y0), e.2.max(x1), e.3.max(y1));
    };
    for (c, s) in p.centres.iter().zip(sizes) {
        grow(c.x - s.w / 2., c.y - s.h / 2., c.x + s.w / 2., c.y + s.h / 2.);
    }
    for (_, curve) in &p.curves {
        for (a, b) in curve {
            grow(a.x.min(b.x), a.y.min(b.y), a.x.max(b.x), a.y.max(b.y));
        }
    }
    for (c, text) in &p.labels {
        let w = label_width(text) / 2.;
        grow(c.x - w, c.y - LINE / 2., c.x + w, c.y + LINE / 2.);
    }
    if e.0 > e.2 { (0., 0., 0., 0.) } else { e }
}

fn label_width(text: &str) -> f64 {
    text.chars().count() as f64 * LABEL_CHAR + 8.
}

/// A number as the document writes it: a tenth at most, no `-0`.
fn n(x: f64) -> String {
    let r = (x * 10.).round() / 10.;
    if r == 0. { "0".into() } else { format!("{r}") }
}

fn write(g: &Graph, sizes: &[Size], p: &Placed) -> String {
    let (x0, y0, x1, y1) = extent(sizes, p);
    let legend = legend_items(g);
    let legend_w = legend.iter().map(|(_, text)| 22. + text.chars().count() as f64 * DETAIL_CHAR + 18.).sum::<f64>();
    let title_w = g.title.chars().count() as f64 * NAME_CHAR * 1.1;
    let width = ((x1 - x0).max(legend_w).max(title_w) + 2. * MARGIN).ceil();
    let height = (y1 - y0 + 2. * MARGIN + TITLE_H + 2. * LINE).ceil();
    // Shift everything so the drawing starts below the title, centred.
    let dx = MARGIN - x0 + ((width - 2. * MARGIN) - (x1 - x0)) / 2.;
    let at = |q: Point| Point::new(q.x + dx, q.y - y0 + MARGIN + TITLE_H);
    let mut s = String::new();
    let (w, h) = (n(width), n(height));
    let _ = writeln!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"{SANS}\" fill=\"{}\">",
        style::TEXT
    );
    let _ = writeln!(s, "<title>{}</title>", xml(&g.title));
    let _ = writeln!(
        s,
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" \
         markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"{}\"/></marker></defs>",
        style::EDGE
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        n(MARGIN),
        n(MARGIN + 8.),
        xml(&g.title)
    );
    edges(&mut s, g, p, &at);
    for (i, node) in g.nodes.iter().enumerate() {
        draw_node(&mut s, node, sizes[i], at(p.centres[i]));
    }
    draw_legend(&mut s, &legend, y1 - y0 + MARGIN + TITLE_H + MARGIN);
    s.push_str("</svg>\n");
    s
}

fn edges(s: &mut String, g: &Graph, p: &Placed, at: &dyn Fn(Point) -> Point) {
    let _ = writeln!(s, "<g class=\"edges\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\">", style::EDGE);
    for (i, curve) in &p.curves {
        let Some(e) = g.edges.get(*i) else { continue };
        if curve.len() < 2 {
            continue;
        }
        let pt = |q: Point| {
            let q = at(q);
            format!("{} {}", n(q.x), n(q.y))
        };
        let mut d = format!("M {} C {}, {}, {}", pt(curve[0].0), pt(curve[0].1), pt(curve[1].0), pt(curve[1].1));
        for (c, q) in &curve[2..] {
            let _ = write!(d, " S {}, {}", pt(*c), pt(*q));
        }
        let (class, extra) = match e.kind {
            EdgeKind::DependsOn(_) => ("depends-on", " marker-end=\"url(#arrow)\""),
            EdgeKind::Mounts => ("mounts", " stroke-dasharray=\"6 4\" marker-end=\"url(#arrow)\""),
            EdgeKind::Joins => ("joins", " stroke-dasharray=\"2 3\" stroke-opacity=\"0.6\""),
        };
        let _ = writeln!(
            s,
            "<path class=\"{class}\" data-from=\"{}\" data-to=\"{}\" d=\"{d}\"{extra}/>",
            xml(&g.nodes[e.from].id()),
            xml(&g.nodes[e.to].id())
        );
    }
    s.push_str("</g>\n");
    let _ = writeln!(s, "<g class=\"edge-labels\" font-family=\"{MONO}\" font-size=\"{}\">", n(LABEL_PX));
    for (c, text) in &p.labels {
        let c = at(*c);
        let w = label_width(text);
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"#ffffff\" fill-opacity=\"0.85\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"central\">{}</text>",
            n(c.x - w / 2.),
            n(c.y - 8.),
            n(w),
            n(16.),
            n(c.x),
            n(c.y),
            xml(text)
        );
    }
    s.push_str("</g>\n");
}

fn draw_node(s: &mut String, node: &Node, size: Size, c: Point) {
    let paint = style::of(node);
    let kind = match node.kind {
        NodeKind::Service(_) => "service",
        NodeKind::Volume => "volume",
        NodeKind::Network => "network",
    };
    let _ = writeln!(s, "<g class=\"node {kind} {}\" data-node=\"{}\">", paint.class, xml(&node.id()));
    let (l, t, w, h) = (c.x - size.w / 2., c.y - size.h / 2., size.w, size.h);
    let dash = if paint.dashed { " stroke-dasharray=\"5 4\"" } else { "" };
    let look = format!("fill=\"{}\" stroke=\"{}\" stroke-width=\"1.5\"{dash}", paint.fill, paint.stroke);
    match node.kind {
        NodeKind::Service(_) => {
            let _ = writeln!(
                s,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"6\" {look}/>",
                n(l),
                n(t),
                n(w),
                n(h)
            );
        }
        NodeKind::Volume => {
            let (r, b, rx) = (l + w, t + h, w / 2.);
            let _ = writeln!(
                s,
                "<path d=\"M {l} {t2} A {rx} {CAP} 0 0 1 {r} {t2} L {r} {b2} A {rx} {CAP} 0 0 1 {l} {b2} Z\" {look}/>\
                 <path d=\"M {l} {t2} A {rx} {CAP} 0 0 0 {r} {t2}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>",
                paint.stroke,
                l = n(l),
                r = n(r),
                t2 = n(t + CAP),
                b2 = n(b - CAP),
                rx = n(rx),
            );
        }
        NodeKind::Network => {
            let (r, m, b, k) = (l + w, c.y, t + h, PAD_X);
            let pts = [(l, m), (l + k, t), (r - k, t), (r, m), (r - k, b), (l + k, b)];
            let pts: Vec<String> = pts.iter().map(|(x, y)| format!("{},{}", n(*x), n(*y))).collect();
            let _ = writeln!(s, "<polygon points=\"{}\" {look}/>", pts.join(" "));
        }
    }
    let top = c.y - (LINE + 2. + LINE * node.details.len() as f64) / 2.;
    let _ = writeln!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"central\" font-size=\"{}\" \
         font-weight=\"bold\">{}</text>",
        n(c.x),
        n(top + LINE / 2.),
        n(NAME_PX),
        xml(&node.name)
    );
    for (i, d) in node.details.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" dominant-baseline=\"central\" font-family=\"{MONO}\" \
             font-size=\"{}\">{}</text>",
            n(c.x),
            n(top + LINE + 2. + LINE * i as f64 + LINE / 2.),
            n(DETAIL_PX),
            xml(d)
        );
    }
    s.push_str("</g>\n");
}

/// The legend's entries: a node paint or an edge style, and its words.
enum Key {
    Paint(style::Paint),
    Edge(&'static str),
}

fn legend_items(g: &Graph) -> Vec<(Key, String)> {
    let mut items: Vec<(Key, String)> = style::used(g).into_iter().map(|p| (Key::Paint(p), p.meaning.into())).collect();
    let has = |k: fn(&EdgeKind) -> bool| g.edges.iter().any(|e| k(&e.kind));
    if has(|k| matches!(k, EdgeKind::DependsOn(_))) {
        items.push((Key::Edge(""), "depends on (condition)".into()));
    }
    if has(|k| *k == EdgeKind::Mounts) {
        items.push((Key::Edge(" stroke-dasharray=\"6 4\""), "mounts (path)".into()));
    }
    if has(|k| *k == EdgeKind::Joins) {
        items.push((Key::Edge(" stroke-dasharray=\"2 3\""), "joins".into()));
    }
    items
}

fn draw_legend(s: &mut String, items: &[(Key, String)], y: f64) {
    let _ = writeln!(s, "<g class=\"legend\" font-family=\"{MONO}\" font-size=\"{}\">", n(DETAIL_PX));
    let mut x = MARGIN;
    let mid = y + LINE / 2.;
    for (key, text) in items {
        match key {
            Key::Paint(p) => {
                let dash = if p.dashed { " stroke-dasharray=\"3 2\"" } else { "" };
                let _ = writeln!(
                    s,
                    "<rect x=\"{}\" y=\"{}\" width=\"16\" height=\"12\" rx=\"2\" fill=\"{}\" stroke=\"{}\"{dash}/>",
                    n(x),
                    n(mid - 6.),
                    p.fill,
                    p.stroke
                );
            }
            Key::Edge(dash) => {
                let _ = writeln!(
                    s,
                    "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"1.5\"{dash}/>",
                    n(x),
                    n(mid),
                    n(x + 16.),
                    n(mid),
                    style::EDGE
                );
            }
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" dominant-baseline=\"central\">{}</text>",
            n(x + 22.),
            n(mid),
            xml(text)
        );
        x += 22. + text.chars().count() as f64 * DETAIL_CHAR + 18.;
    }
    s.push_str("</g>\n");
}

/// Text or an attribute value, escaped for XML; characters XML 1.0 cannot carry become spaces.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
