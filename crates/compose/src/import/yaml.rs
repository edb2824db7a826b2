//! Writing a tree as YAML in the repository's style (see manifests/): block
//! mappings, short lists of scalars in flow style (`networks: [front]`), a
//! blank line between top-level sections and between services, strings quoted
//! only where a YAML 1.1 or 1.2 reader would take them for something else.
//!
//! Every key and list item written is indexed by line and column, so that an
//! error the topology loader reports at a place can be traced to its field.

use super::node::{Map, Node, Path, Seg};
use super::read::parse_yaml;

/// How to write: flow-style short lists and blank lines (the final files), or
/// one item per line (to trace errors to list items).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Style {
    pub(crate) flow: bool,
    pub(crate) spaced: bool,
}

pub(crate) const BLOCK: Style = Style { flow: false, spaced: false };
pub(crate) const PRETTY: Style = Style { flow: true, spaced: true };

/// Where a key or list item was written (1-based line and column).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) line: u32,
    pub(crate) col: u32,
    pub(crate) path: Path,
}

pub(crate) struct Emitted {
    pub(crate) text: String,
    pub(crate) index: Vec<Entry>,
}

/// Lines wider than this are written in block style.
const WIDTH: usize = 100;

/// Writes `node` (a mapping) after `header` comment lines.
pub(crate) fn emit(node: &Node, header: &[String], style: Style) -> Emitted {
    let mut w = Writer { out: String::new(), line: 1, index: Vec::new(), style };
    for h in header {
        w.raw(&format!("# {h}"));
        w.newline();
    }
    match node {
        Node::Map(m) if !m.is_empty() => w.entries(m, 0, &Path::default(), false),
        _ => {
            w.raw("{}");
            w.newline();
        }
    }
    Emitted { text: w.out, index: w.index }
}

struct Writer {
    out: String,
    line: u32,
    index: Vec<Entry>,
    style: Style,
}

impl Writer {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }
    fn newline(&mut self) {
        self.out.push('\n');
        self.line += 1;
    }
    fn col(&self) -> u32 {
        let start = self.out.rfind('\n').map_or(0, |i| i + 1);
        u32::try_from(self.out[start..].chars().count() + 1).unwrap_or(u32::MAX)
    }
    fn mark(&mut self, path: Path) {
        let (line, col) = (self.line, self.col());
        self.index.push(Entry { line, col, path });
    }

    /// A block mapping at `indent`; `inline` when its first key follows a `- ` already written.
    fn entries(&mut self, m: &Map, indent: usize, path: &Path, inline: bool) {
        let spaced = self.style.spaced && (path.0.is_empty() || *path == Path::keys(&["services"]));
        for (i, (k, v)) in m.iter().enumerate() {
            if i > 0 && spaced {
                self.newline();
            }
            if i > 0 || !inline {
                self.raw(&" ".repeat(indent));
            }
            let p = path.key(k);
            self.mark(p.clone());
            self.raw(&format!("{}:", key(k)));
            self.value(v, indent, &p, k);
        }
    }

    /// The value of a key, after `key:`.
    fn value(&mut self, v: &Node, indent: usize, path: &Path, key: &str) {
        match v {
            Node::Null => self.newline(),
            Node::Map(m) if m.is_empty() => self.line_end(" {}"),
            Node::Seq(s) if s.is_empty() => self.line_end(" []"),
            Node::Map(m) => {
                self.newline();
                self.entries(m, indent + 2, path, false);
            }
            Node::Seq(s) => match self.flow(s, indent + key.len() + 2, key) {
                Some(f) => self.line_end(&format!(" {f}")),
                None => {
                    self.newline();
                    self.items(s, indent + 2, path);
                }
            },
            scalar => self.line_end(&format!(" {}", scalar_text(scalar, false))),
        }
    }

    fn line_end(&mut self, s: &str) {
        self.raw(s);
        self.newline();
    }

    /// A block sequence at `indent`.
    fn items(&mut self, s: &[Node], indent: usize, path: &Path) {
        for (i, item) in s.iter().enumerate() {
            self.raw(&format!("{}- ", " ".repeat(indent)));
            let p = path.child(Seg::Index(i));
            self.mark(p.clone());
            match item {
                Node::Map(m) if !m.is_empty() => self.entries(m, indent + 2, &p, true),
                Node::Seq(inner) if !inner.is_empty() => match self.flow(inner, indent + 2, "") {
                    Some(f) => self.line_end(&f),
                    None => {
                        self.newline();
                        self.items(inner, indent + 2, &p);
                    }
                },
                Node::Map(_) => self.line_end("{}"),
                Node::Seq(_) => self.line_end("[]"),
                scalar => self.line_end(&scalar_text(scalar, false)),
            }
        }
    }

    /// `[a, b]` for a short list of scalars, when the style allows it.
    fn flow(&self, s: &[Node], used: usize, key: &str) -> Option<String> {
        if !self.style.flow || key == "volumes" || !s.iter().all(Node::is_scalar) {
            return None;
        }
        let f = format!("[{}]", s.iter().map(|n| scalar_text(n, true)).collect::<Vec<_>>().join(", "));
        (used + f.len() <= WIDTH).then_some(f)
    }
}

/// A mapping key, quoted when it must be.
fn key(k: &str) -> String {
    if k != "<<" && plain_ok(k, false) { k.to_string() } else { quoted(k) }
}

/// A scalar as YAML text; `flow` inside `[...]`.
pub(crate) fn scalar_text(n: &Node, flow: bool) -> String {
    match n {
        Node::Null => "null".to_string(),
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::Float(f) => {
            let s = f.to_string();
            if s.contains(['.', 'e', 'E', 'N', 'n']) { s } else { format!("{s}.0") }
        }
        Node::Str(s) if plain_ok(s, flow) => s.clone(),
        Node::Str(s) => quoted(s),
        Node::Seq(_) | Node::Map(_) => String::new(),
    }
}

/// Single quotes for text with double quotes in it, else double quotes (JSON escapes are YAML's).
fn quoted(s: &str) -> String {
    if s.contains('"') && !s.contains('\'') && !s.chars().any(char::is_control) {
        format!("'{s}'")
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("'{}'", s.replace('\'', "''")))
    }
}

/// Whether `s` reads back as the same string when written plain.
fn plain_ok(s: &str, flow: bool) -> bool {
    const YAML11: &[&str] = &["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"];
    let first = s.chars().next().unwrap_or(' ');
    let bad_start = "?:,[]{}#&*!|>'\"%@`".contains(first);
    let ok = !s.is_empty()
        && s.trim() == s
        && !bad_start
        && !s.starts_with("- ")
        && s != "-"
        && !s.chars().any(char::is_control)
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !(flow && s.contains([',', '[', ']', '{', '}', ':']))
        && !YAML11.contains(&s.to_ascii_lowercase().as_str())
        && !sexagesimal(s);
    ok && parse_yaml(s).is_ok_and(|n| n == Node::Str(s.to_string()))
}

/// `80:80`, `12:30:00`: numbers to a YAML 1.1 reader.
fn sexagesimal(s: &str) -> bool {
    s.contains(':')
        && s.split(':').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '_' || c == '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(yaml: &str) -> Node {
        parse_yaml(yaml).unwrap_or(Node::Null)
    }

    #[test]
    fn writes_the_repository_style_and_reads_back_the_same() {
        let text = "name: x\nservices:\n  a:\n    image: redis:7\n    command: [redis-cli, ping]\n    environment:\n      A: \"30\"\n      B: \"true\"\n      C: '[\"x\"]'\n      D:\n    ports: [\"80:80\", \"127.0.0.1:1:2/udp\"]\n    volumes:\n      - d:/data\n      - type: bind\n        source: ./x\n        target: /x\n  b:\n    image: b\n    healthcheck:\n      command: [curl, \"http://x:1/h\"]\n      interval: 1.5\nvolumes:\n  d: {}\n";
        let n = doc(text);
        let e = emit(&n, &[], PRETTY);
        assert_eq!(doc(&e.text), n, "{}", e.text);
        assert!(e.text.contains("    command: [redis-cli, ping]\n"), "{}", e.text);
        assert!(e.text.contains("    ports: [\"80:80\", \"127.0.0.1:1:2/udp\"]\n"), "{}", e.text);
        assert!(e.text.contains("      C: '[\"x\"]'\n"), "{}", e.text);
        assert!(e.text.contains("\n\n  b:\n"), "a blank line between services: {}", e.text);
        assert!(e.text.contains("\n\nvolumes:\n"), "{}", e.text);
    }

    #[test]
    fn strings_that_read_as_something_else_are_quoted() {
        for s in [
            "yes", "no", "on", "true", "null", "~", "30", "0.25", "1e3", "010", "80:80", "", " x", "a: b", "a #b", "-",
            "@x", "x\ny",
        ] {
            let n = Node::Map(Map::from([("k".to_string(), Node::str(s))]));
            let e = emit(&n, &[], PRETTY);
            assert_eq!(doc(&e.text), n, "{s:?} written as {}", e.text);
        }
        assert_eq!(scalar_text(&Node::str("--fail"), true), "--fail");
        assert_eq!(scalar_text(&Node::str("http://x/h"), false), "http://x/h");
    }

    #[test]
    fn indexes_keys_and_items_by_line() {
        let n = doc("services:\n  a:\n    ports: [\"1:1\", \"2:2\"]\n    user: x\n");
        let e = emit(&n, &["head".to_string()], BLOCK);
        let at = |line: u32| e.index.iter().filter(|x| x.line == line).map(|x| x.path.to_string()).collect::<Vec<_>>();
        assert_eq!(at(5), ["services.a.ports[0]"]);
        assert_eq!(at(7), ["services.a.user"]);
    }
}
