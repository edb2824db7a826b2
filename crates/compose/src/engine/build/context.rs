//! The build context as the Docker CLI sends it: a tar of the context
//! directory without what `.dockerignore` excludes, the Dockerfile and the
//! `.dockerignore` always in it, every entry owned by root.
//!
//! `.dockerignore` follows moby's `patternmatcher`: patterns are cleaned and
//! anchored at the context root (`/foo` and `foo` are the same, and neither
//! matches `a/foo`); `*` and `?` stay within one path component, `**` spans
//! any number of them; a pattern that matches a directory excludes what is
//! under it; `!` re-includes; the last pattern that matches wins. The globs
//! themselves are `globset`'s.

use std::fs;
use std::io;
use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};

/// The name the Dockerfile gets in the tar when it lives outside the context.
const OUTSIDE_DOCKERFILE: &str = ".deploy.Dockerfile";

/// The packed context, and the Dockerfile's path inside it.
pub struct Packed {
    pub tar: Vec<u8>,
    pub dockerfile: String,
}

/// One `.dockerignore` pattern.
struct Pattern {
    glob: GlobMatcher,
    /// `!pattern`: re-includes what earlier patterns excluded.
    exception: bool,
}

/// The patterns of a `.dockerignore`, in order.
#[derive(Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

impl Ignore {
    /// Parses `.dockerignore` text: `#` comments and blank lines are skipped, lines are trimmed.
    pub fn parse(text: &str) -> Result<Ignore, String> {
        let mut patterns = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let glob = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| format!(".dockerignore line {}: `{line}` is not a valid pattern: {e}", n + 1))?;
            patterns.push(Pattern { glob: glob.compile_matcher(), exception });
        }
        Ok(Ignore { patterns })
    }

    /// Whether `rel` (a `/`-separated path relative to the context root) is
    /// left out: moby's `MatchesOrParentMatches`.
    pub fn excludes(&self, rel: &str) -> bool {
        let parents: Vec<&str> = rel.match_indices('/').map(|(i, _)| &rel[..i]).collect();
        let mut excluded = false;
        for p in &self.patterns {
            // Only a pattern that could change the answer is looked at.
            if p.exception != excluded {
                continue;
            }
            if p.glob.is_match(rel) || parents.iter().any(|d| p.glob.is_match(d)) {
                excluded = !p.exception;
            }
        }
        excluded
    }

    fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }
}

/// A pattern as moby cleans it: `.` and empty components dropped, `..` applied, no leading `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in pattern.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// `path` relative to `base`, `/`-separated, when it is inside it (both lexically normalised).
fn inside(base: &Path, path: &Path) -> Option<String> {
    let norm = crate::paths::normalise;
    let rel = norm(path).strip_prefix(norm(base)).ok()?.to_path_buf();
    let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// Packs `dir` with `dockerfile` (relative to `dir`, or absolute). Errors say
/// which path could not be read and why.
pub fn pack(dir: &Path, dockerfile: &str) -> Result<Packed, String> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(format!("the build context {} is not a directory", dir.display())),
        Err(e) => return Err(format!("the build context {} cannot be read: {e}", dir.display())),
    }
    let ignore = match fs::read_to_string(dir.join(".dockerignore")) {
        Ok(text) => Ignore::parse(&text)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ignore::default(),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.join(".dockerignore").display())),
    };
    let df_path = dir.join(dockerfile);
    if !df_path.is_file() {
        return Err(format!(
            "the Dockerfile {} does not exist (`dockerfile` is relative to the build context)",
            df_path.display()
        ));
    }
    let df_inside = inside(dir, &df_path);
    let mut tar = tar::Builder::new(Vec::new());
    add_tree(&mut tar, dir, &ignore, df_inside.as_deref())?;
    let dockerfile = match df_inside {
        Some(rel) => rel,
        None => {
            // Outside the context: sent under a name of its own, as the Docker CLI does.
            append(&mut tar, &df_path, OUTSIDE_DOCKERFILE).map_err(|e| format!("{}: {e}", df_path.display()))?;
            OUTSIDE_DOCKERFILE.to_string()
        }
    };
    let tar = tar.into_inner().map_err(|e| format!("cannot pack the build context: {e}"))?;
    Ok(Packed { tar, dockerfile })
}

/// Every entry of `dir` that `.dockerignore` keeps, in name order.
fn add_tree(
    tar: &mut tar::Builder<Vec<u8>>,
    dir: &Path,
    ignore: &Ignore,
    dockerfile: Option<&str>,
) -> Result<(), String> {
    let mut walk = walkdir::WalkDir::new(dir).min_depth(1).follow_links(false).sort_by_file_name().into_iter();
    while let Some(entry) = walk.next() {
        let entry = entry.map_err(|e| format!("cannot read the build context: {e}"))?;
        let Some(rel) = inside(dir, entry.path()) else { continue };
        let always = rel == ".dockerignore" || Some(rel.as_str()) == dockerfile;
        if !always && ignore.excludes(&rel) {
            // A directory left out is not walked, unless a `!` pattern may take something back.
            if entry.file_type().is_dir() && !ignore.has_exceptions() {
                walk.skip_current_dir();
            }
            continue;
        }
        append(tar, entry.path(), &rel).map_err(|e| format!("{}: {e}", entry.path().display()))?;
    }
    Ok(())
}

/// Adds one file, directory or symbolic link (not followed), owned by root
/// as the Docker CLI sends it; sockets, pipes and devices are left out.
fn append(tar: &mut tar::Builder<Vec<u8>>, path: &Path, name: &str) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    h.set_uid(0);
    h.set_gid(0);
    h.set_username("")?;
    h.set_groupname("")?;
    let kind = meta.file_type();
    if kind.is_symlink() {
        tar.append_link(&mut h, name, fs::read_link(path)?)
    } else if kind.is_dir() {
        tar.append_data(&mut h, name, io::empty())
    } else if kind.is_file() {
        tar.append_data(&mut h, name, fs::File::open(path)?)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Ignore {
        Ignore::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn patterns_are_anchored_at_the_root_and_cover_what_is_under_a_directory() {
        let i = ignore("# comment\n\n  secret.txt  \n/logs\nbuild/*.o\n");
        assert!(i.excludes("secret.txt") && !i.excludes("sub/secret.txt"));
        assert!(i.excludes("logs") && i.excludes("logs/a/b.log") && !i.excludes("app/logs"));
        assert!(i.excludes("build/x.o") && !i.excludes("build/sub/x.o") && !i.excludes("build/x.c"));
    }

    #[test]
    fn double_star_spans_directories_and_the_last_match_wins() {
        let i = ignore("**/*.tmp\n*.md\n!README.md\ncache\n!cache/keep\n");
        assert!(i.excludes("a.tmp") && i.excludes("a/b/c.tmp"));
        assert!(i.excludes("NOTES.md") && !i.excludes("README.md") && !i.excludes("docs/x.md"));
        assert!(i.excludes("cache/other") && !i.excludes("cache/keep"));
        let i = ignore("*\n!src\n");
        assert!(i.excludes("Dockerfile") && !i.excludes("src") && !i.excludes("src/main.c"));
    }

    #[test]
    fn cleaning_and_escapes() {
        let i = ignore("./a/../b/\n\\!bang\n");
        assert!(i.excludes("b") && i.excludes("b/x") && !i.excludes("a"));
        assert!(i.excludes("!bang"));
        assert!(Ignore::parse("[unclosed\n").is_err_and(|e| e.contains("line 1")));
    }

    /// The entry names of a packed context.
    fn names(p: &Packed) -> Vec<String> {
        let mut a = tar::Archive::new(p.tar.as_slice());
        let entries = a.entries().unwrap_or_else(|e| panic!("{e}"));
        entries.flatten().map(|e| e.path().map(|p| p.display().to_string()).unwrap_or_default()).collect()
    }

    #[test]
    fn packs_what_dockerignore_keeps_and_always_the_dockerfile() {
        let root = std::env::temp_dir().join(format!("deploy-context-test-{}", std::process::id()));
        let dir = root.join("ctx");
        let write = |p: &str, text: &str| {
            let path = root.join(p);
            fs::create_dir_all(path.parent().unwrap_or(&root)).unwrap_or_else(|e| panic!("{e}"));
            fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        };
        write("ctx/.dockerignore", "Dockerfile\n*.secret\nnode_modules\n");
        write("ctx/Dockerfile", "FROM x\n");
        write("ctx/src/app.c", "int main;\n");
        write("ctx/key.secret", "k\n");
        write("ctx/node_modules/m/index.js", "x\n");
        write("other.Dockerfile", "FROM y\n");
        let p = pack(&dir, "Dockerfile").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.dockerfile, "Dockerfile");
        assert_eq!(names(&p), [".dockerignore", "Dockerfile", "src", "src/app.c"]);
        let mut a = tar::Archive::new(p.tar.as_slice());
        let first = a.entries().ok().and_then(|mut e| e.next()).and_then(Result::ok);
        assert_eq!(first.and_then(|e| e.header().uid().ok()), Some(0), "owned by root");
        // A Dockerfile outside the context goes along under a name of its own.
        let p = pack(&dir, "../other.Dockerfile").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.dockerfile, OUTSIDE_DOCKERFILE);
        assert!(names(&p).contains(&OUTSIDE_DOCKERFILE.to_string()));
        let missing = pack(&dir, "nope.Dockerfile").err().unwrap_or_default();
        assert!(missing.contains("nope.Dockerfile does not exist"), "{missing}");
        let absent = pack(&root.join("absent"), "Dockerfile").err().unwrap_or_default();
        assert!(absent.contains("absent cannot be read"), "{absent}");
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn paths_inside_the_context() {
        let base = Path::new("/ctx");
        assert_eq!(inside(base, Path::new("/ctx/./docker/../Dockerfile")).as_deref(), Some("Dockerfile"));
        assert_eq!(inside(base, Path::new("/ctx/../Dockerfile")), None);
        assert_eq!(inside(base, Path::new("/ctx")), None);
    }
}
