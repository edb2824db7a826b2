//! A Compose file (read as a tree) → a topology tree in the repository's own
//! style: healthcheck `command:`/`shell:`/`disable:` instead of `test:`,
//! `resources:` and `replicas:` instead of `deploy.*`, environments as maps,
//! each key where the input had it. Every Compose spelling of a field is read
//! (strings or lists, lists or maps, short or long syntax); relative host
//! paths are rewritten for the output folder. Fields with no spelling of
//! their own pass through as Compose writes them: the topology takes them
//! when it knows them, and [`super::fit`] reports them when it does not.

use super::node::{Map, Node, Path};
use super::paths::{Rebase, is_relative_path};

/// The topology tree, and what was ignored on purpose (with why).
pub(crate) struct Mapped {
    pub(crate) node: Node,
    pub(crate) ignored: Vec<(Path, String)>,
}

/// Maps a whole Compose file.
pub(crate) fn topology(compose: &Map, rebase: &Rebase) -> Mapped {
    let mut out = Map::new();
    let mut ignored = Vec::new();
    for (k, v) in compose {
        match k.as_str() {
            "version" => ignored.push((Path::keys(&["version"]), "obsolete; Compose v2 ignores it".to_string())),
            x if x.starts_with("x-") => ignored.push((Path::keys(&[x]), extension_reason())),
            "services" => {
                let services = v.as_map().cloned().unwrap_or_default();
                let mut mapped = Map::new();
                for (name, s) in services {
                    let spath = Path::keys(&["services", &name]);
                    mapped.insert(name, service(&spath, &s, rebase, &mut ignored));
                }
                out.insert(k.clone(), Node::Map(mapped));
            }
            "networks" | "volumes" => {
                out.insert(k.clone(), declarations(v, |d| d));
            }
            "secrets" | "configs" => {
                out.insert(k.clone(), declarations(v, |d| file_declaration(d, rebase)));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Mapped { node: Node::Map(out), ignored }
}

fn extension_reason() -> String {
    "extension field: Compose gives it no meaning (anchors in it are expanded where they are used)".to_string()
}

/// Top-level `networks`/`volumes`/`secrets`/`configs`: `name:` alone (null) as `{}`.
fn declarations(v: &Node, f: impl Fn(Map) -> Map) -> Node {
    let Some(m) = v.as_map() else { return v.clone() };
    let out = m
        .iter()
        .map(|(k, d)| {
            let d = match d {
                Node::Null => Node::Map(Map::new()),
                Node::Map(m) => Node::Map(f(m.clone())),
                other => other.clone(),
            };
            (k.clone(), d)
        })
        .collect();
    Node::Map(out)
}

/// A secret or config declaration: its `file:` rewritten.
fn file_declaration(mut d: Map, rebase: &Rebase) -> Map {
    if let Some(Node::Str(f)) = d.get("file") {
        let p = rebase.path(f);
        d.insert("file".to_string(), Node::Str(p));
    }
    d
}

/// One service, key by key in the input's order.
fn service(spath: &Path, s: &Node, rebase: &Rebase, ignored: &mut Vec<(Path, String)>) -> Node {
    let Some(m) = s.as_map() else { return s.clone() };
    let mut out = Map::new();
    for (k, v) in m {
        let v = match k.as_str() {
            x if x.starts_with("x-") => {
                ignored.push((spath.key(x), extension_reason()));
                continue;
            }
            "deploy" => {
                deploy(v, &mut out);
                continue;
            }
            "build" => build(v, rebase),
            "healthcheck" => healthcheck(v),
            "environment" => key_values(v, true),
            "labels" | "sysctls" | "annotations" => key_values(v, false),
            "env_file" => env_files(v, rebase),
            "volumes" => mounts(v, rebase),
            "networks" => networks(v),
            "expose" => expose(v),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    fold_legacy_resources(&mut out);
    Node::Map(out)
}

/// The version-2 file format's `mem_limit`, `cpus` and `mem_reservation`: Compose
/// reads them as `deploy.resources` (it refuses the two when they disagree), so
/// they become `resources:` where the first of them was; `deploy.resources` wins.
fn fold_legacy_resources(out: &mut Map) {
    const LEGACY: [(&str, &str, &str); 3] =
        [("mem_limit", "limits", "memory"), ("cpus", "limits", "cpus"), ("mem_reservation", "reservations", "memory")];
    let Some(at) = out.keys().position(|k| LEGACY.iter().any(|(l, _, _)| l == k)) else { return };
    let mut resources = match out.get("resources") {
        Some(Node::Map(m)) => m.clone(),
        Some(_) => return,
        None => Map::new(),
    };
    for (legacy, section, field) in LEGACY {
        let Some(v) = out.shift_remove(legacy) else { continue };
        let Node::Map(amount) = resources.entry(section.to_string()).or_insert_with(|| Node::Map(Map::new())) else {
            continue;
        };
        amount.entry(field.to_string()).or_insert(v);
    }
    let resources = self::resources(&Node::Map(resources));
    if out.contains_key("resources") {
        out.insert("resources".to_string(), resources);
    } else {
        out.shift_insert(at.min(out.len()), "resources".to_string(), resources);
    }
}

/// `deploy:` → `resources:` and `replicas:` in its place; what else it holds stays under `deploy:`.
fn deploy(v: &Node, out: &mut Map) {
    let Some(m) = v.as_map() else {
        out.insert("deploy".to_string(), v.clone());
        return;
    };
    let mut rest = Map::new();
    for (k, x) in m {
        match k.as_str() {
            "resources" => {
                out.insert("resources".to_string(), resources(x));
            }
            "replicas" => {
                out.insert("replicas".to_string(), x.clone());
            }
            _ => {
                rest.insert(k.clone(), x.clone());
            }
        }
    }
    if !rest.is_empty() {
        out.insert("deploy".to_string(), Node::Map(rest));
    }
}

/// `cpus: '0.25'` as the number it is; everything else as written.
fn resources(v: &Node) -> Node {
    let Some(m) = v.as_map() else { return v.clone() };
    let amount = |a: &Node| match a.as_map() {
        Some(am) => Node::Map(
            am.iter()
                .map(|(k, x)| {
                    let x = match (k.as_str(), x) {
                        ("cpus", Node::Str(s)) => {
                            s.parse::<f64>().ok().filter(|f| f.is_finite()).map_or(x.clone(), Node::Float)
                        }
                        _ => x.clone(),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        None => a.clone(),
    };
    Node::Map(m.iter().map(|(k, a)| (k.clone(), amount(a))).collect())
}

/// `build: DIR` or `build: {context, dockerfile, target, args, ...}`, the context rewritten.
fn build(v: &Node, rebase: &Rebase) -> Node {
    match v {
        Node::Str(ctx) => Node::Map(Map::from([("context".to_string(), Node::Str(rebase.path(ctx)))])),
        Node::Map(m) => Node::Map(
            m.iter()
                .map(|(k, x)| {
                    let x = match (k.as_str(), x) {
                        ("context", Node::Str(c)) => Node::Str(rebase.path(c)),
                        ("args" | "labels", _) => key_values(x, true),
                        _ => x.clone(),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `test:` in every Compose form → `command:` (exec), `shell:` (`sh -c`) or `disable: true`.
fn healthcheck(v: &Node) -> Node {
    let Some(m) = v.as_map() else { return v.clone() };
    let mut out = Map::new();
    for (k, x) in m {
        if k != "test" {
            out.insert(k.clone(), x.clone());
            continue;
        }
        let (key, value) = match x {
            Node::Str(s) => ("shell", Node::Str(s.clone())),
            Node::Seq(items) => match items.split_first() {
                Some((Node::Str(first), args)) if first == "CMD" && args.iter().all(|a| a.scalar_text().is_some()) => {
                    ("command", Node::Seq(args.iter().filter_map(Node::scalar_text).map(Node::Str).collect()))
                }
                Some((Node::Str(first), [Node::Str(line)])) if first == "CMD-SHELL" => {
                    ("shell", Node::Str(line.clone()))
                }
                Some((Node::Str(first), [])) if first == "NONE" => ("disable", Node::Bool(true)),
                _ => ("test", x.clone()),
            },
            _ => ("test", x.clone()),
        };
        out.insert(key.to_string(), value);
    }
    Node::Map(out)
}

/// A list of `KEY=VALUE` (or a map) as a map of strings; `KEY` alone is a null
/// value when `bare_is_null` (an environment entry the shell fills in), else empty.
fn key_values(v: &Node, bare_is_null: bool) -> Node {
    let text = |x: &Node| x.scalar_text().map_or(Node::Null, Node::Str);
    match v {
        Node::Seq(items) => {
            let mut out = Map::new();
            for item in items {
                let Some(s) = item.scalar_text() else { return v.clone() };
                let (k, val) = match s.split_once('=') {
                    Some((k, val)) => (k.to_string(), Node::Str(val.to_string())),
                    None if bare_is_null => (s, Node::Null),
                    None => (s, Node::str("")),
                };
                out.insert(k, val);
            }
            Node::Map(out)
        }
        Node::Map(m) if m.values().all(Node::is_scalar) => {
            Node::Map(m.iter().map(|(k, x)| (k.clone(), text(x))).collect())
        }
        other => other.clone(),
    }
}

/// `env_file:` (a path, a list of paths, or of `{path, required}`) with paths rewritten.
fn env_files(v: &Node, rebase: &Rebase) -> Node {
    let one = |x: &Node| match x {
        Node::Str(p) => Node::Str(rebase.path(p)),
        Node::Map(m) => {
            let mut m = m.clone();
            if let Some(Node::Str(p)) = m.get("path") {
                let p = rebase.path(p);
                m.insert("path".to_string(), Node::Str(p));
            }
            Node::Map(m)
        }
        other => other.clone(),
    };
    match v {
        Node::Seq(items) => Node::Seq(items.iter().map(one).collect()),
        other => one(other),
    }
}

/// Mounts, short or long syntax, with relative bind sources rewritten.
fn mounts(v: &Node, rebase: &Rebase) -> Node {
    let Node::Seq(items) = v else { return v.clone() };
    let one = |x: &Node| match x {
        Node::Str(s) => Node::Str(short_mount(s, rebase)),
        Node::Map(m) => {
            let mut m = m.clone();
            let is_bind = m.get("type").and_then(Node::as_str) == Some("bind");
            if let (true, Some(Node::Str(src))) = (is_bind, m.get("source"))
                && is_relative_path(src)
            {
                let mut p = rebase.path(src);
                if !p.starts_with(['.', '/']) {
                    p = format!("./{p}");
                }
                m.insert("source".to_string(), Node::Str(p));
            }
            Node::Map(m)
        }
        other => other.clone(),
    };
    Node::Seq(items.iter().map(one).collect())
}

/// `SOURCE:TARGET[:OPTS]`: a source starting with `.` is a host path relative to the project.
fn short_mount(s: &str, rebase: &Rebase) -> String {
    match s.split_once(':') {
        Some((src, rest)) if src.starts_with('.') => format!("{}:{rest}", rebase.path(src)),
        _ => s.to_string(),
    }
}

/// `networks:` as a list when no network has settings (`{net: null}` is the list form).
fn networks(v: &Node) -> Node {
    match v {
        Node::Map(m) if m.values().all(|x| matches!(x, Node::Null)) => {
            Node::Seq(m.keys().map(|k| Node::Str(k.clone())).collect())
        }
        other => other.clone(),
    }
}

/// `expose:` entries as numbers where they are plain port numbers.
fn expose(v: &Node) -> Node {
    let Node::Seq(items) = v else { return v.clone() };
    Node::Seq(
        items
            .iter()
            .map(|x| match x {
                Node::Str(s) => s.parse::<i64>().map_or_else(|_| x.clone(), Node::Int),
                other => other.clone(),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read::parse_yaml;

    fn map(yaml: &str) -> Node {
        let doc = parse_yaml(yaml).ok().and_then(|n| n.as_map().cloned()).unwrap_or_default();
        topology(&doc, &Rebase::new(std::path::Path::new("/p/app"), std::path::Path::new("/p/out"))).node
    }

    #[test]
    fn compose_spellings_become_the_topology_style() {
        let t = map(
            "version: '3'\nservices:\n  a:\n    build: ./web\n    environment: [A=1, B]\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 5s\n    deploy:\n      resources:\n        limits: {cpus: '0.5'}\n      replicas: 2\n    volumes: [\"./d:/d:ro\", \"v:/v\"]\n    networks: {n: null}\n",
        );
        let a = t.get(&Path::keys(&["services", "a"]).0).and_then(Node::as_map).cloned().unwrap_or_default();
        let keys: Vec<&str> = a.keys().map(String::as_str).collect();
        assert_eq!(keys, ["build", "environment", "healthcheck", "resources", "replicas", "volumes", "networks"]);
        assert_eq!(a["build"], Node::Map(Map::from([("context".into(), Node::str("../app/web"))])));
        assert_eq!(a["environment"], Node::Map(Map::from([("A".into(), Node::str("1")), ("B".into(), Node::Null)])));
        let hc = a["healthcheck"].as_map().cloned().unwrap_or_default();
        assert_eq!(hc.keys().collect::<Vec<_>>(), ["command", "interval"]);
        assert_eq!(a["volumes"], Node::Seq(vec![Node::str("../app/d:/d:ro"), Node::str("v:/v")]));
        assert_eq!(a["networks"], Node::Seq(vec![Node::str("n")]));
        assert!(t.as_map().is_some_and(|m| !m.contains_key("version")));
    }

    #[test]
    fn version_2_resource_fields_are_resources() {
        let t = map(
            "services:\n  a:\n    image: x\n    mem_limit: 256m\n    cpus: '0.5'\n    user: u\n    mem_reservation: 64m\n",
        );
        let a = t.get(&Path::keys(&["services", "a"]).0).cloned().unwrap_or(Node::Null);
        let expected = parse_yaml(
            "image: x\nresources:\n  limits: {memory: 256m, cpus: 0.5}\n  reservations: {memory: 64m}\nuser: u\n",
        );
        assert_eq!(Some(a), expected.ok());
    }

    #[test]
    fn every_healthcheck_test_form() {
        let hc = |t: &str| healthcheck(&parse_yaml(&format!("test: {t}")).unwrap_or(Node::Null));
        let one = |n: Node| n.as_map().and_then(|m| m.iter().next().map(|(k, v)| (k.clone(), v.clone())));
        assert_eq!(one(hc("[CMD-SHELL, pg_isready]")), Some(("shell".into(), Node::str("pg_isready"))));
        assert_eq!(one(hc("curl -f x")), Some(("shell".into(), Node::str("curl -f x"))));
        assert_eq!(one(hc("[NONE]")), Some(("disable".into(), Node::Bool(true))));
        assert_eq!(
            one(hc("[CMD, redis-cli, ping]")),
            Some(("command".into(), Node::Seq(vec![Node::str("redis-cli"), Node::str("ping")])))
        );
    }
}
