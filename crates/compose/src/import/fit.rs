//! Fitting a mapped tree to what the topology takes: the tree is loaded with
//! deploy's own loader (parse and validation); each field an error points at
//! is left out and reported with the loader's words, and the rest is loaded
//! again, until it loads. Nothing is left out silently.

use std::collections::HashMap;
use std::path::Path as FsPath;
use std::sync::Arc;

use deploy_topology::{Diagnostic, SourceFile};

use super::node::{Node, Path, Seg};
use super::yaml::{self, BLOCK, Entry};
use super::{ImportError, NotCarried};

/// The tree as the topology takes it, and what it does not.
pub(crate) struct Fitted {
    pub(crate) node: Node,
    pub(crate) dropped: Vec<NotCarried>,
}

/// Loads `node` as the topology file `file` (whose folder names the project),
/// leaving out what the loader rejects.
pub(crate) fn fit(mut node: Node, file: &FsPath) -> Result<Fitted, ImportError> {
    let project_dir = file.parent().map_or_else(|| ".".into(), FsPath::to_path_buf);
    let mut dropped = Vec::new();
    let mut removed = Removed::default();
    loop {
        let e = yaml::emit(&node, &[], BLOCK);
        let source = Arc::new(SourceFile { path: file.to_path_buf(), text: e.text });
        let Err(errors) = deploy_topology::load_sources(&source, None, None, project_dir.clone()) else {
            return Ok(Fitted { node, dropped });
        };
        let mut targets: Vec<(Path, String)> = Vec::new();
        for d in errors.iter() {
            let path = locate(d, &e.index).filter(|p| p.0.len() >= 2).ok_or_else(|| unfit(d))?;
            targets.push((path, reason(d)));
        }
        // Deepest and last first, so that removing a list item does not move the next target.
        targets.sort_by(|a, b| b.0.cmp(&a.0));
        targets.dedup_by(|a, b| a.0 == b.0);
        let mut progressed = false;
        for (path, why) in targets {
            if node.get(&path.0).is_none() {
                continue; // inside something already left out this round
            }
            let original = removed.original(&path);
            if node.remove(&path.0) {
                progressed = true;
                removed.record(&original);
                dropped.push(NotCarried { path: compose_path(&original).to_string(), reason: why });
                drop_emptied_list(&mut node, &path);
            }
        }
        if !progressed {
            return Err(ImportError::Internal(format!("the topology rejects the import:\n{errors}")));
        }
    }
}

/// A list whose last item was just left out goes too (`depends_on: []` says nothing).
fn drop_emptied_list(node: &mut Node, item: &Path) {
    let Some((Seg::Index(_), parent)) = item.0.split_last() else { return };
    if matches!(node.get(parent), Some(Node::Seq(items)) if items.is_empty()) {
        node.remove(parent);
    }
}

fn unfit(d: &Diagnostic) -> ImportError {
    ImportError::Internal(format!("the topology rejects the import and no single field is to blame: {d}"))
}

/// The key or list item a diagnostic points at: by line and column, else by its field path.
fn locate(d: &Diagnostic, index: &[Entry]) -> Option<Path> {
    let by_place = d.loc.as_ref().and_then(|loc| {
        let on_line: Vec<&Entry> = index.iter().filter(|e| e.line == loc.line && e.col <= loc.col.max(1)).collect();
        let col = on_line.iter().map(|e| e.col).max()?;
        let at = on_line.into_iter().filter(|e| e.col == col);
        // A key inside a list item shares the item's place: an unknown key is the key, anything else the item.
        let pick = if d.message.starts_with("unknown field") {
            at.max_by_key(|e| e.path.0.len())
        } else {
            at.min_by_key(|e| e.path.0.len())
        };
        pick.map(|e| e.path.clone())
    });
    by_place.or_else(|| {
        let field = d.field.as_deref()?;
        index.iter().find(|e| e.path.to_string() == field).map(|e| e.path.clone())
    })
}

/// The loader's words, shortened where they list every valid field.
fn reason(d: &Diagnostic) -> String {
    let m = &d.message;
    if let Some(rest) = m.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        return format!("the topology has no `{name}` field here");
    }
    if m.contains("did not match any variant") {
        return "the topology does not read this form of the field".to_string();
    }
    m.clone()
}

/// A topology path as the Compose file spells it (`resources` is `deploy.resources`...).
fn compose_path(p: &Path) -> Path {
    let mut segs = p.0.clone();
    if p.key_at(0) == Some("services") && segs.len() >= 3 {
        match p.key_at(2) {
            Some("resources" | "replicas") => segs.insert(2, Seg::Key("deploy".to_string())),
            Some("healthcheck") if matches!(p.key_at(3), Some("command" | "shell" | "disable")) => {
                segs[3] = Seg::Key("test".to_string());
            }
            _ => {}
        }
    }
    Path(segs)
}

/// List items already left out, so that later paths name items as the input numbered them.
#[derive(Default)]
struct Removed(HashMap<Path, Vec<usize>>);

impl Removed {
    fn original(&self, p: &Path) -> Path {
        let mut out = Path::default();
        for seg in &p.0 {
            let seg = match seg {
                Seg::Index(i) => Seg::Index(self.shift(&out, *i)),
                key => key.clone(),
            };
            out = out.child(seg);
        }
        out
    }
    /// Item `i` of `list` now, as the input numbered it.
    fn shift(&self, list: &Path, i: usize) -> usize {
        let mut gone = self.0.get(list).cloned().unwrap_or_default();
        gone.sort_unstable();
        gone.into_iter().fold(i, |o, g| if g <= o { o + 1 } else { o })
    }
    fn record(&mut self, original: &Path) {
        if let Some((Seg::Index(i), parent)) = original.0.split_last() {
            self.0.entry(Path(parent.to_vec())).or_default().push(*i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read::parse_yaml;

    #[test]
    fn what_the_loader_rejects_is_left_out_by_input_path() {
        let dir = std::env::temp_dir().join("deploy-import-fit-test");
        let tree = parse_yaml(
            "services:\n  a:\n    image: x\n    cgroup_parent: m\n    expose: [\"1-2\", 80, \"3-4\"]\n  b:\n    image: y\n    expose: [\"5-6\"]\n",
        )
        .unwrap_or(Node::Null);
        let fitted = fit(tree, &dir.join("deploy.yaml"));
        let Ok(fitted) = fitted else { panic!("fit failed") };
        let mut paths: Vec<&str> = fitted.dropped.iter().map(|d| d.path.as_str()).collect();
        paths.sort_unstable();
        assert_eq!(
            paths,
            ["services.a.cgroup_parent", "services.a.expose[0]", "services.a.expose[2]", "services.b.expose[0]"]
        );
        let a = fitted.node.get(&Path::keys(&["services", "a"]).0).cloned();
        assert_eq!(a, parse_yaml("image: x\nexpose: [80]\n").ok());
        assert!(fitted.node.get(&Path::keys(&["services", "b", "expose"]).0).is_none(), "an emptied list goes");
    }
}
