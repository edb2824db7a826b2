//! Compose's own composition, resolved before mapping, so that what is
//! written is what Compose would run: `include` (the included files'
//! services, networks, volumes, secrets and configs added), `extends` (merged
//! as Compose merges) and service `profiles` (a service with profiles is left
//! out, as `docker compose up` leaves it out without `--profile`; the topology
//! has no such switch, so the report says so).
//!
//! Merge rules (the Compose Specification's "Merge" section): mappings merge
//! by key; `command`, `entrypoint` and `healthcheck.test` are replaced;
//! `volumes`, `secrets` and `configs` are unique by target; `environment`,
//! `labels`, `depends_on` and `networks` merge as mappings whatever their
//! spelling; other sequences are appended, without duplicates.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};

use super::node::{Map, Node};
use super::read::read_compose;
use super::report::NotCarried;

/// What resolving did: merges done (notes) and services left out (warnings).
#[derive(Debug, Default)]
pub(super) struct Resolved {
    pub merged: Vec<NotCarried>,
    pub left_out: Vec<NotCarried>,
}

/// Resolves `include`, then every service's `extends`, then leaves out services
/// with `profiles` none of which is `active` (those with one are kept, without
/// `profiles`: the topology always runs what it has).
pub(super) fn resolve(compose: &mut Node, file: &FsPath, active: &[String]) -> Resolved {
    let mut r = Resolved::default();
    include(compose, file, &mut r, &mut vec![canonical(file)]);
    let Some(Node::Map(services)) = compose.as_map_mut().and_then(|m| m.get_mut("services")) else { return r };
    let names: Vec<String> = services.keys().cloned().collect();
    let mut ctx = Ctx { file: file.to_path_buf(), others: HashMap::new(), stack: Vec::new() };
    let original = services.clone();
    for name in &names {
        match ctx.service(&original, name) {
            Ok(Some((merged, from))) => {
                services.insert(name.clone(), merged);
                r.merged.push(NotCarried {
                    path: format!("services.{name}.extends"),
                    reason: format!("merged with {from} as Compose merges them"),
                });
            }
            Ok(None) => {}
            Err(reason) => {
                r.left_out.push(NotCarried { path: format!("services.{name}.extends"), reason });
                if let Some(Node::Map(s)) = services.get_mut(name) {
                    s.shift_remove("extends");
                }
            }
        }
    }
    services.retain(|name, s| {
        let profiles: Vec<String> = match s.as_map().and_then(|m| m.get("profiles")) {
            Some(Node::Seq(p)) => p.iter().filter_map(Node::scalar_text).collect(),
            _ => return true,
        };
        if let Some(m) = s.as_map_mut() {
            m.shift_remove("profiles");
        }
        if profiles.is_empty() {
            return true;
        }
        if let Some(p) = profiles.iter().find(|p| active.contains(p)) {
            r.merged.push(NotCarried {
                path: format!("services.{name}.profiles"),
                reason: format!("profile `{p}` is active: imported, and the topology always runs it"),
            });
            return true;
        }
        r.left_out.push(NotCarried {
            path: format!("services.{name}"),
            reason: format!(
                "Compose starts it only with `--profile {}`; the topology has no service profiles, so it is left out, as `docker compose up` leaves it out (`deploy import --compose-profile NAME` keeps it)",
                profiles.join("` or `--profile ")
            ),
        });
        false
    });
    r
}

fn canonical(p: &FsPath) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The files an `include` entry names: `FILE`, `{path: FILE}` or `{path: [FILE...]}`.
fn included_paths(entry: &Node) -> Result<Vec<String>, String> {
    let m = match entry {
        Node::Map(m) => m,
        other => return other.as_str().map(|s| vec![s.to_string()]).ok_or_else(|| "an entry is a path".to_string()),
    };
    if let Some(k) = ["project_directory", "env_file"].into_iter().find(|k| m.contains_key(*k)) {
        return Err(format!("`{k}` changes how the included file is read; the import reads it only as it is"));
    }
    match m.get("path") {
        Some(Node::Seq(v)) => Ok(v.iter().filter_map(Node::scalar_text).collect()),
        Some(p) => p.as_str().map(|s| vec![s.to_string()]).ok_or_else(|| "`path` is a file or a list".to_string()),
        None => Err("an entry has no `path`".into()),
    }
}

/// Adds what the files of `include` define (their own `include`s first) to `doc`.
fn include(doc: &mut Node, file: &FsPath, r: &mut Resolved, seen: &mut Vec<PathBuf>) {
    let Some(map) = doc.as_map_mut() else { return };
    let entries = match map.shift_remove("include") {
        None => return,
        Some(Node::Seq(v)) => v,
        Some(other) => vec![other],
    };
    let dir = file.parent().unwrap_or(FsPath::new(".")).to_path_buf();
    for (i, entry) in entries.iter().enumerate() {
        // Paths are the top file's; an included file's own entries name it.
        let at = match seen.len() {
            1 => format!("include[{i}]"),
            _ => format!("include[{i}] of {}", file.file_name().map(|f| f.to_string_lossy()).unwrap_or_default()),
        };
        let paths = match included_paths(entry) {
            Ok(p) => p,
            Err(reason) => {
                r.left_out.push(NotCarried { path: at, reason });
                continue;
            }
        };
        for p in paths {
            match included(&dir, &p, r, seen) {
                Ok(other) => {
                    add_resources(map, other, &p, r);
                    let reason = format!("what `{p}` defines added, as Compose includes it");
                    r.merged.push(NotCarried { path: at.clone(), reason });
                }
                Err(reason) => r.left_out.push(NotCarried { path: at.clone(), reason }),
            }
        }
    }
}

/// The included file `p`, read, with its own includes resolved.
fn included(dir: &FsPath, p: &str, r: &mut Resolved, seen: &mut Vec<PathBuf>) -> Result<Map, String> {
    let path = dir.join(p);
    if canonical(path.parent().unwrap_or(FsPath::new("."))) != canonical(dir) {
        return Err(format!(
            "`{p}` is in another folder: its relative paths would need rebasing, which the import does not do; import it on its own"
        ));
    }
    let key = canonical(&path);
    if seen.contains(&key) {
        return Err(format!("`{p}` includes itself (through the files it includes)"));
    }
    let mut other = read_compose(&path).map_err(|e| format!("cannot include `{p}`: {e}"))?;
    seen.push(key);
    include(&mut other, &path, r, seen);
    seen.pop();
    Ok(match other {
        Node::Map(m) => m,
        _ => Map::new(),
    })
}

/// The services, networks, volumes, secrets and configs of an included file
/// added to `map`; one the file defines as well is a conflict Compose refuses:
/// the file's own is kept, and the conflict said.
fn add_resources(map: &mut Map, other: Map, p: &str, r: &mut Resolved) {
    for (section, defs) in other {
        let Node::Map(defs) = defs else { continue };
        if !["services", "networks", "volumes", "secrets", "configs"].contains(&section.as_str()) {
            continue;
        }
        let Node::Map(here) = map.entry(section.clone()).or_insert_with(|| Node::Map(Map::new())) else { continue };
        for (k, v) in defs {
            if here.contains_key(&k) {
                r.left_out.push(NotCarried {
                    path: format!("{section}.{k}"),
                    reason: format!(
                        "defined here and in the included `{p}`, a conflict Compose refuses; this file's is kept"
                    ),
                });
            } else {
                here.insert(k, v);
            }
        }
    }
}

struct Ctx {
    file: PathBuf,
    /// Other files named by `extends.file`, read once.
    others: HashMap<PathBuf, Map>,
    /// The services being resolved, to catch a cycle.
    stack: Vec<(PathBuf, String)>,
}

impl Ctx {
    /// The service `name` of `services` with its `extends` merged in (and what
    /// it was merged with), or `None` when it extends nothing.
    fn service(&mut self, services: &Map, name: &str) -> Result<Option<(Node, String)>, String> {
        let Some(Node::Map(local)) = services.get(name) else { return Ok(None) };
        let Some(ext) = local.get("extends") else { return Ok(None) };
        let (base_name, file) = match ext {
            Node::Map(m) => (m.get("service").and_then(Node::as_str), m.get("file").and_then(Node::as_str)),
            other => (other.as_str(), None),
        };
        let Some(base_name) = base_name else {
            return Err("`extends` names no service (`extends: NAME` or `extends: {service: NAME, file: FILE}`)".into());
        };
        let key = (self.file.clone(), name.to_string());
        if self.stack.contains(&key) {
            return Err(format!("`extends` of service `{name}` loops back to itself"));
        }
        self.stack.push(key);
        let base = match file {
            None => self.base_here(services, base_name),
            Some(f) => self.base_in_file(f, base_name),
        };
        self.stack.pop();
        let mut local = local.clone();
        local.shift_remove("extends");
        let from = match file {
            None => format!("service `{base_name}`"),
            Some(f) => format!("service `{base_name}` of `{f}`"),
        };
        Ok(Some((merge_service(base?, Node::Map(local)), from)))
    }

    fn base_here(&mut self, services: &Map, base_name: &str) -> Result<Node, String> {
        let Some(base) = services.get(base_name) else {
            return Err(format!("`extends` names service `{base_name}`, which the file does not have"));
        };
        Ok(match self.service(services, base_name)? {
            Some((merged, _)) => merged,
            None => base.clone(),
        })
    }

    fn base_in_file(&mut self, f: &str, base_name: &str) -> Result<Node, String> {
        let dir = self.file.parent().unwrap_or(FsPath::new(".")).to_path_buf();
        let path = dir.join(f);
        let other_dir = path.parent().unwrap_or(FsPath::new(".")).to_path_buf();
        if std::fs::canonicalize(&other_dir).ok() != std::fs::canonicalize(&dir).ok() {
            return Err(format!(
                "`extends` takes service `{base_name}` from `{f}`, in another folder: its relative paths would need rebasing, which the import does not do; copy what it needs into this file"
            ));
        }
        if !self.others.contains_key(&path) {
            let doc = read_compose(&path).map_err(|e| format!("`extends` file `{f}`: {e}"))?;
            let services = doc.as_map().and_then(|m| m.get("services")).and_then(Node::as_map).cloned();
            self.others.insert(path.clone(), services.unwrap_or_default());
        }
        let services = self.others.get(&path).cloned().unwrap_or_default();
        let outer = std::mem::replace(&mut self.file, path);
        let r = self.base_here(&services, base_name);
        self.file = outer;
        r
    }
}

/// `over` merged onto `base`, service fields by Compose's rules.
fn merge_service(base: Node, over: Node) -> Node {
    // A service written with nothing under it (`base:`) is an empty one.
    let fields = |n: Node| match n {
        Node::Map(m) => m,
        _ => Map::new(),
    };
    let (mut b, o) = (fields(base), fields(over));
    for (k, v) in o {
        let merged = match (k.as_str(), b.shift_remove(&k)) {
            (_, None) => v,
            ("command" | "entrypoint", Some(_)) => v,
            ("environment" | "labels" | "annotations" | "sysctls", Some(old)) => merge_maps(as_map(old), as_map(v)),
            ("depends_on", Some(old)) => merge_maps(keyed(old, started()), keyed(v, started())),
            ("networks", Some(old)) => merge_maps(keyed(old, Node::Null), keyed(v, Node::Null)),
            ("volumes", Some(old)) => unique_by(old, v, volume_target),
            ("secrets" | "configs", Some(old)) => unique_by(old, v, file_target),
            ("healthcheck" | "build" | "deploy" | "logging" | "ulimits", Some(old)) => merge_nested(old, v),
            (_, Some(old)) => merge_any(old, v),
        };
        b.insert(k, merged);
    }
    Node::Map(b)
}

/// Mappings merge by key (recursively); a sequence is replaced when it is a
/// healthcheck `test`, else appended; scalars are replaced.
fn merge_nested(old: Node, new: Node) -> Node {
    match (old, new) {
        (Node::Map(mut a), Node::Map(b)) => {
            for (k, v) in b {
                let merged = match (k.as_str(), a.shift_remove(&k)) {
                    ("test", _) | (_, None) => v,
                    (_, Some(o)) => merge_nested(o, v),
                };
                a.insert(k, merged);
            }
            Node::Map(a)
        }
        (old, new) => merge_any(old, new),
    }
}

fn merge_any(old: Node, new: Node) -> Node {
    match (old, new) {
        (Node::Seq(mut a), Node::Seq(b)) => {
            for x in b {
                if !a.contains(&x) {
                    a.push(x);
                }
            }
            Node::Seq(a)
        }
        (a @ Node::Map(_), b @ Node::Map(_)) => merge_nested(a, b),
        (_, new) => new,
    }
}

/// Two mappings merged by key, the second's values winning.
fn merge_maps(a: Map, b: Map) -> Node {
    let mut a = a;
    for (k, v) in b {
        a.shift_remove(&k);
        a.insert(k, v);
    }
    Node::Map(a)
}

/// `environment`/`labels` as a mapping: `KEY=VALUE` items split, `KEY` alone null.
fn as_map(n: Node) -> Map {
    match n {
        Node::Map(m) => m,
        Node::Seq(items) => items
            .iter()
            .filter_map(Node::scalar_text)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_string(), Node::str(v)),
                None => (item, Node::Null),
            })
            .collect(),
        _ => Map::new(),
    }
}

/// `depends_on`/`networks` as a mapping: a list of names becomes names with `options`.
fn keyed(n: Node, options: Node) -> Map {
    match n {
        Node::Map(m) => m,
        Node::Seq(items) => items.iter().filter_map(Node::scalar_text).map(|k| (k, options.clone())).collect(),
        _ => Map::new(),
    }
}

/// What `depends_on: [NAME]` means.
fn started() -> Node {
    Node::Map(Map::from_iter([("condition".to_string(), Node::str("service_started"))]))
}

/// `old` then `new`, an item of `new` replacing the one of `old` with the same key.
fn unique_by(old: Node, new: Node, key: fn(&Node) -> Option<String>) -> Node {
    match (old, new) {
        (Node::Seq(mut a), Node::Seq(b)) => {
            for x in b {
                let k = key(&x);
                match a.iter().position(|y| k.is_some() && key(y) == k) {
                    Some(i) => a[i] = x,
                    None => a.push(x),
                }
            }
            Node::Seq(a)
        }
        // Not two lists (a mistake the loader reports): the local value, as for any other field.
        (_, new) => new,
    }
}

/// A volume's mount path: `target` of the long form, the part after the source in the short one.
fn volume_target(n: &Node) -> Option<String> {
    match n {
        Node::Map(m) => m.get("target").and_then(Node::scalar_text),
        other => {
            let s = other.scalar_text()?;
            let parts: Vec<&str> = s.split(':').collect();
            Some(if parts.len() >= 2 { parts[1] } else { parts[0] }.to_string())
        }
    }
}

/// A secret's or config's path in the container: `target`, else its source's name.
fn file_target(n: &Node) -> Option<String> {
    match n {
        Node::Map(m) => m.get("target").or_else(|| m.get("source")).and_then(Node::scalar_text),
        other => other.scalar_text(),
    }
}

#[cfg(test)]
mod tests;
