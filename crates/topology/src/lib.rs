//! The topology: services described once, with a profile overlaid, validated.
//!
//! Data flow: file (YAML) → [`raw::RawTopology`] (positions kept) → profile overlay →
//! validation → [`Topology`]. Backends (Compose, Kubernetes) read only [`Topology`].

pub mod checks;
pub mod diag;
mod dotenv;
pub mod interp;
pub mod limits;
mod model;
pub mod raw;
pub mod units;
pub mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use diag::{Diagnostic, Errors, Loc, SourceFile};
pub use dotenv::DEFAULT_ENV_FILE;
pub use model::*;
use raw::{Overlay, RawTopology};

/// Names that make a value secret wherever it is used.
pub const SECRET_SUFFIXES: &[&str] = &["_KEY", "_PASSWORD", "_SECRET", "_TOKEN"];

/// Whether an environment variable or interpolation variable name looks secret.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    SECRET_SUFFIXES.iter().any(|s| upper.ends_with(s)) || matches!(upper.as_str(), "PASSWORD" | "SECRET" | "TOKEN")
}

/// Parses one YAML document into the raw model, with errors located in `file`.
/// The parser's limits (depth, nodes, aliases...) are those of [`limits`].
pub fn parse(file: &Arc<SourceFile>) -> Result<RawTopology, Errors> {
    if file.text.trim().is_empty() {
        return Ok(RawTopology::default());
    }
    raw::with_current_file(file, || {
        serde_saphyr::with_deserializer_from_str_with_options(&file.text, limits::yaml_options(), |d| {
            raw::without_extensions::<RawTopology, _>(d)
        })
    })
    .map_err(|e| {
        let loc = e.location().filter(|l| l.line() > 0).map(|l| Loc {
            file: file.clone(),
            line: l.line() as u32,
            col: l.column() as u32,
        });
        let plain = e.render_with_options({
            let mut o = serde_saphyr::RenderOptions::default();
            o.snippets = serde_saphyr::SnippetMode::Off;
            o
        });
        let limit = limits::describe_yaml_limit(&e);
        let message = limit.as_ref().map_or_else(|| clean_serde_message(&plain), |(m, _)| m.clone());
        let mut d = Diagnostic::new(message.clone());
        if let Some(l) = &loc
            && let Some(path) = diag::yaml_path_at(&file.text, l.line, l.col)
        {
            d = d.field(path);
        }
        if let Some((_, help)) = limit {
            d = d.help(help);
        } else if message.contains("did not match any variant") {
            d = d.help("check this field's form against `deploy schema` or docs/mapping.md");
        } else if message.contains("unknown field") {
            d = d.help(match unknown_field_suggestion(&message) {
                Some(m) => format!("did you mean `{m}`? fix the spelling; the valid fields are listed above"),
                None => "fix the spelling; the valid fields are listed above".to_string(),
            });
        }
        d.at(loc.as_ref()).into()
    })
    .and_then(raw::fold_compose_spellings)
}

/// The valid field closest to the unknown one in serde's "unknown field `x`,
/// expected one of a, b, c" (or "expected `a`").
fn unknown_field_suggestion(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest.split_once("expected ")?.1;
    let expected = expected.strip_prefix("one of ").unwrap_or(expected);
    let valid: Vec<&str> = expected.split(',').map(|f| f.trim().trim_matches('`')).filter(|f| !f.is_empty()).collect();
    diag::did_you_mean(name, valid).map(String::from)
}

/// serde-saphyr's plain message, without its own location suffix (we print ours).
fn clean_serde_message(m: &str) -> String {
    let first = m.lines().next().unwrap_or(m).trim();
    let first = match first.find(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    let first = first.trim_start_matches("error: ");
    // Make serde's terse type names readable.
    for (terse, plain) in [
        ("invalid u32", "expected a whole number (0 or more)"),
        ("invalid u16", "expected a port number (1-65535)"),
        ("invalid i64", "expected a whole number"),
        ("invalid f64", "expected a number"),
    ] {
        if let Some(rest) = first.strip_prefix(terse) {
            return format!("{plain}{rest}");
        }
    }
    first.to_string()
}

/// Reads a file into a [`SourceFile`], with a clear error when it is missing
/// or over [`limits::MAX_FILE_BYTES`] (checked before reading it).
pub fn read_source(path: &Path, what: &str) -> Result<Arc<SourceFile>, Diagnostic> {
    match limits::read_bounded(path) {
        Ok(text) => Ok(Arc::new(SourceFile { path: path.to_path_buf(), text })),
        Err(limits::ReadError::TooLarge(size)) => Err(limits::too_large(path, what, size)),
        Err(limits::ReadError::Io(e)) => Err(Diagnostic::new(format!("cannot read {what} `{}`: {e}", path.display()))
            .help(if what == "topology file" {
                "pass the topology with `-f FILE` (default `deploy.yaml`)".to_string()
            } else {
                "check the path".to_string()
            })),
    }
}

/// Finds the profile file for `profile`: a path when it contains `/` or ends
/// in `.yaml`/`.yml`, else `profiles/<profile>.yaml` beside the topology file,
/// in its parent directory, or in the current directory.
pub fn find_profile(topology_file: &Path, profile: &str) -> Result<PathBuf, Diagnostic> {
    if profile.contains('/') || profile.ends_with(".yaml") || profile.ends_with(".yml") {
        let p = PathBuf::from(profile);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Diagnostic::new(format!("profile file `{profile}` does not exist"))
                .help("check the path given to --profile"))
        };
    }
    let dir = topology_file.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let mut candidates = vec![dir.join("profiles"), dir.join("..").join("profiles"), PathBuf::from("profiles")];
    candidates.dedup();
    for c in &candidates {
        for ext in ["yaml", "yml"] {
            let p = c.join(format!("{profile}.{ext}"));
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    let mut available: Vec<String> = candidates
        .iter()
        .filter_map(|c| std::fs::read_dir(c).ok())
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.strip_suffix(".yaml").or_else(|| name.strip_suffix(".yml")).map(String::from)
        })
        .collect();
    available.sort();
    available.dedup();
    let searched = candidates.iter().map(|c| format!("{}/{profile}.yaml", c.display())).collect::<Vec<_>>().join(", ");
    Err(Diagnostic::new(format!("profile `{profile}` not found (looked for {searched})")).help(
        if available.is_empty() {
            "create the profile file, or give its path with --profile path/to/profile.yaml".to_string()
        } else {
            format!("available profiles: {}", available.join(", "))
        },
    ))
}

/// The path that means "standard input" (`deploy -f -`), as with kubectl and Compose.
pub const STDIN: &str = "-";

/// Reads the topology from standard input (at most [`limits::MAX_FILE_BYTES`]),
/// named `<stdin>` in errors.
fn read_stdin() -> Result<Arc<SourceFile>, Diagnostic> {
    use std::io::Read as _;
    let mut text = String::new();
    let read = std::io::stdin().lock().take(limits::MAX_FILE_BYTES + 1).read_to_string(&mut text);
    match read {
        Ok(n) if n as u64 > limits::MAX_FILE_BYTES => {
            Err(limits::too_large(Path::new("<stdin>"), "topology file", None))
        }
        Ok(_) => Ok(Arc::new(SourceFile { path: "<stdin>".into(), text })),
        Err(e) => Err(Diagnostic::new(format!("cannot read the topology from standard input: {e}"))
            .help("`-f -` reads UTF-8 YAML from standard input; pass a file with `-f FILE` instead")),
    }
}

/// Loads a topology file (`-`: standard input; its project directory is then
/// the current one) and overlays a profile (by name or path), then validates.
pub fn load(file: &Path, profile: Option<&str>) -> Result<Topology, Errors> {
    let base = if file == Path::new(STDIN) { read_stdin()? } else { read_source(file, "topology file")? };
    let overlay = match profile {
        Some(p) => {
            let path = find_profile(file, p)?;
            Some(read_source(&path, "profile file")?)
        }
        None => None,
    };
    let project_dir =
        file.parent().map(Path::to_path_buf).filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| ".".into());
    load_sources(&base, overlay.as_ref(), profile, project_dir)
}

/// Like [`load`], from sources already in memory.
pub fn load_sources(
    base: &Arc<SourceFile>,
    overlay: Option<&Arc<SourceFile>>,
    profile: Option<&str>,
    project_dir: PathBuf,
) -> Result<Topology, Errors> {
    let mut raw = parse(base)?;
    if let Some(o) = overlay {
        raw.overlay(parse(o)?);
    }
    let profile_name =
        profile.map(|p| Path::new(p).file_stem().map_or_else(|| p.to_string(), |s| s.to_string_lossy().to_string()));
    validate::build(raw, profile_name, project_dir, base)
}

/// Convenience for tests and benchmarks: a topology from YAML text.
pub fn from_str(name: &str, text: &str, profile: Option<(&str, &str)>) -> Result<Topology, Errors> {
    let base = Arc::new(SourceFile { path: name.into(), text: text.to_string() });
    let overlay = profile.map(|(n, t)| Arc::new(SourceFile { path: n.into(), text: t.to_string() }));
    load_sources(&base, overlay.as_ref(), profile.map(|(n, _)| n), ".".into())
}

/// The `$id` of [`json_schema`]: a URN, since the schema is shipped in the
/// repository (docs/deploy.schema.json) rather than served from a host.
pub const SCHEMA_ID: &str = "urn:deploy:schema:topology:v1";

/// The JSON Schema of topology (and profile) files.
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(RawTopology);
    // Names this schema for editors and tools that cache schemas by id; the
    // file itself is docs/deploy.schema.json (kept equal to `deploy schema` by a test).
    schema.insert("$id".to_string(), SCHEMA_ID.into());
    serde_json::to_string_pretty(&schema).unwrap_or_default()
}
