//! Relative host paths (build contexts, bind mounts, env files, secret and
//! config files) rewritten so that they point at the same place from the
//! folder the topology is written to as they did from the Compose file's.

use crate::paths::normalise;
use std::path::{Component, Path, PathBuf};

/// From the Compose file's folder to the output folder.
#[derive(Clone, Debug)]
pub(crate) struct Rebase {
    from: PathBuf,
    to: PathBuf,
}

impl Rebase {
    /// Both folders, made absolute against the current directory (they need not exist).
    pub(crate) fn new(compose_dir: &Path, out_dir: &Path) -> Rebase {
        let cwd = std::env::current_dir().unwrap_or_default();
        let abs = |p: &Path| {
            let p = if p.as_os_str().is_empty() { Path::new(".") } else { p };
            normalise(&cwd.join(p))
        };
        Rebase { from: abs(compose_dir), to: abs(out_dir) }
    }

    /// Whether nothing needs rewriting (the topology goes beside the Compose file).
    pub(crate) fn is_identity(&self) -> bool {
        self.from == self.to
    }

    /// `p` as written in the Compose file, as it must be written in the topology.
    /// Absolute paths, `~` paths, interpolated ones (`${PWD}/x`) and URLs stay as written.
    pub(crate) fn path(&self, p: &str) -> String {
        if self.is_identity() || !is_relative_path(p) {
            return p.to_string();
        }
        let target = normalise(&self.from.join(p));
        // Folders that share nothing below the root: `../../../x` would say no more than `/x`.
        let shared = target.components().zip(self.to.components()).take_while(|(a, b)| a == b).count();
        if shared <= 1 {
            return target.to_string_lossy().replace('\\', "/");
        }
        let rel = relative(&target, &self.to);
        let mut out = rel.to_string_lossy().replace('\\', "/");
        if out.is_empty() {
            out = ".".to_string();
        } else if !out.starts_with("..") {
            out = format!("./{out}");
        }
        if p.ends_with('/') && !out.ends_with('/') {
            out.push('/');
        }
        out
    }
}

/// A path relative to the project folder (not absolute, not `~`, not a URL or a `${VAR}` template).
pub(crate) fn is_relative_path(p: &str) -> bool {
    !(p.is_empty()
        || p.starts_with('/')
        || p.starts_with('~')
        || p.starts_with('$')
        || p.contains("://")
        || p.starts_with("git@")
        || (p.len() > 1 && p.as_bytes()[1] == b':' && p.as_bytes()[0].is_ascii_alphabetic()))
}

/// `target` relative to the folder `base` (both absolute and normalised).
fn relative(target: &Path, base: &Path) -> PathBuf {
    let t: Vec<Component<'_>> = target.components().collect();
    let b: Vec<Component<'_>> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_point_at_the_same_place_from_the_output_folder() {
        let r = Rebase::new(Path::new("/a/app"), Path::new("/a/out"));
        assert_eq!(r.path("./src"), "../app/src");
        assert_eq!(r.path("backend"), "../app/backend");
        assert_eq!(r.path("."), "../app");
        assert_eq!(r.path("/etc/x"), "/etc/x");
        assert_eq!(r.path("~/x"), "~/x");
        assert_eq!(r.path("https://github.com/a/b.git"), "https://github.com/a/b.git");
        let down = Rebase::new(Path::new("/a"), Path::new("/a/out"));
        assert_eq!(down.path("./src/"), "../src/");
        let up = Rebase::new(Path::new("/a/app"), Path::new("/a"));
        assert_eq!(up.path("./src"), "./app/src");
        assert_eq!(up.path("."), "./app");
        let apart = Rebase::new(Path::new("/a/app"), Path::new("/b/out"));
        assert_eq!(apart.path("./src"), "/a/app/src");
        let same = Rebase::new(Path::new("/a/app"), Path::new("/a/app/."));
        assert!(same.is_identity());
        assert_eq!(same.path("backend"), "backend");
    }
}
