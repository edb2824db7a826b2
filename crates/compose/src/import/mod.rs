//! `deploy import`: Compose files → a topology in the repository's own style.
//!
//! The pipeline, one small pass per file:
//! 1. [`read`]: the Compose file as Docker Compose v2 reads it (YAML 1.2
//!    scalars, anchors and merge keys expanded);
//! 2. [`map`]: every Compose spelling → the topology's (healthcheck
//!    `command`/`shell`, `resources`, environments as maps...), relative
//!    host paths rewritten for the output folder ([`paths`]);
//! 3. [`fit`]: loaded with deploy's own loader; what it rejects is left out
//!    and reported by field path with the loader's reason;
//! 4. with several files (one per environment): keys lined up ([`align`]),
//!    then one base and one overlay per profile ([`factor`]), checked by
//!    loading each base + overlay against the complete file;
//! 5. [`vars`]: secret-looking variables declared `secret: true`;
//! 6. [`yaml`]: written in the repository's style, key order kept;
//! 7. [`verify`]: rendered back (deploy's loader and Compose renderer) and
//!    compared with the input as `docker compose config` reads both.

mod align;
mod factor;
mod fit;
mod map;
mod node;
mod paths;
mod read;
mod report;
mod resolve;
mod vars;
mod verify;
mod yaml;

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use deploy_topology::SourceFile;

use node::Node;
pub use report::{FileReport, ImportReport, NotCarried};
pub use verify::Check;

/// One Compose file, and the profile it becomes (several files: one per environment).
#[derive(Clone, Debug)]
pub struct Input {
    pub profile: Option<String>,
    pub file: PathBuf,
}

#[derive(Clone, Debug)]
pub struct ImportOptions {
    pub inputs: Vec<Input>,
    /// Where `deploy.yaml` (and `profiles/`) are written.
    pub out_dir: PathBuf,
    /// Overwrite files that exist.
    pub force: bool,
    /// Compose profiles taken as active (`docker compose --profile NAME`): their
    /// services are imported; services of other profiles are left out.
    pub compose_profiles: Vec<String>,
}

#[derive(Debug)]
pub enum ImportError {
    /// The command line is wrong.
    Usage(String),
    /// A Compose file cannot be read.
    Input(String),
    /// A file would be overwritten without `--force`.
    Exists(PathBuf),
    Io(String),
    /// The import could not produce a topology that loads (a bug, or a case it does not handle).
    Internal(String),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::Usage(m) | ImportError::Input(m) | ImportError::Io(m) | ImportError::Internal(m) => {
                f.write_str(m)
            }
            ImportError::Exists(p) => {
                write!(f, "`{}` exists; pass --force to overwrite it, or choose another folder with -o", p.display())
            }
        }
    }
}

/// Name of the topology file the import writes.
pub const TOPOLOGY_FILE: &str = "deploy.yaml";

/// Runs the import: writes the topology (and profiles) and reports what was carried.
pub fn run(opts: &ImportOptions) -> Result<ImportReport, ImportError> {
    let profiles = check_inputs(&opts.inputs)?;
    let out_dir = &opts.out_dir;
    let topology_file = out_dir.join(TOPOLOGY_FILE);
    let profile_files: Vec<PathBuf> =
        profiles.iter().map(|p| out_dir.join("profiles").join(format!("{p}.yaml"))).collect();
    if !opts.force
        && let Some(p) = std::iter::once(&topology_file).chain(&profile_files).find(|p| p.exists())
    {
        return Err(ImportError::Exists(p.clone()));
    }
    let same = |a: &FsPath, b: &FsPath| {
        std::fs::canonicalize(a).ok().is_some_and(|a| Some(a) == std::fs::canonicalize(b).ok())
    };
    if let Some(i) =
        opts.inputs.iter().find(|i| std::iter::once(&topology_file).chain(&profile_files).any(|o| same(&i.file, o)))
    {
        return Err(ImportError::Usage(format!(
            "`{}` would be overwritten by the import: choose another folder with -o",
            i.file.display()
        )));
    }
    let mut files = Vec::new();
    let mut trees = Vec::new();
    let mut secrets = Vec::new();
    for input in &opts.inputs {
        let (tree, report, literal) = import_one(input, out_dir, &topology_file, &opts.compose_profiles)?;
        trees.push(tree);
        files.push(report);
        secrets.extend(literal);
    }
    let secret_vars = vars::secret_variables(&trees);
    for t in &mut trees {
        vars::declare(t, &secret_vars);
    }
    let mut notes = Vec::new();
    let texts = if profiles.is_empty() {
        vec![write_text(&trees[0], &header_single(&opts.inputs[0]))?]
    } else {
        profiled_texts(&mut trees, opts, &profiles, &mut notes)?
    };
    let mut written = vec![topology_file.clone()];
    written.extend(profile_files.iter().cloned());
    write_files(&written, &texts)?;
    let mut named = Vec::new();
    for (i, f) in files.iter_mut().enumerate() {
        let (check, project) =
            round_trip(&opts.inputs[i], (&texts[0], texts.get(i + 1)), &topology_file, &opts.compose_profiles);
        f.check = check;
        // One note per project name: the files of several profiles usually share a folder.
        if let Some((name, note)) = project.and_then(|p| project_note(&opts.inputs[i], &trees[i], &p))
            && !named.contains(&name)
        {
            named.push(name);
            notes.push(note);
        }
    }
    Ok(ImportReport::new(written, files, notes, secrets))
}

/// Profile names (empty for one file without one); every file needs one when there are several.
fn check_inputs(inputs: &[Input]) -> Result<Vec<String>, ImportError> {
    if inputs.is_empty() {
        return Err(ImportError::Usage("give a Compose file, or --profile NAME=FILE for each environment".into()));
    }
    let names: Vec<String> = inputs.iter().filter_map(|i| i.profile.clone()).collect();
    if inputs.len() > 1 && names.len() != inputs.len() {
        return Err(ImportError::Usage(
            "several files are imported as profiles: give each as --profile NAME=FILE".into(),
        ));
    }
    for (i, n) in names.iter().enumerate() {
        let ok = !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok || n.starts_with('.') {
            return Err(ImportError::Usage(format!(
                "profile name `{n}` cannot name a file: use letters, digits, `-`, `_` and `.`"
            )));
        }
        if names[..i].contains(n) {
            return Err(ImportError::Usage(format!("profile `{n}` is given twice")));
        }
    }
    Ok(names)
}

/// Read, map and fit one file: its tree, its report (round trip not yet checked) and its literal secrets.
fn import_one(
    input: &Input,
    out_dir: &FsPath,
    topology_file: &FsPath,
    active: &[String],
) -> Result<(Node, FileReport, Vec<String>), ImportError> {
    let mut compose = read::read_compose(&input.file)?;
    let resolved = resolve::resolve(&mut compose, &input.file, active);
    let compose_dir = input.file.parent().unwrap_or(FsPath::new("."));
    let rebase = paths::Rebase::new(compose_dir, out_dir);
    let mapped = map::topology(compose.as_map().unwrap_or(&node::Map::new()), &rebase);
    let literal = vars::literal_secrets(std::slice::from_ref(&mapped.node));
    let fitted = fit::fit(mapped.node, topology_file)?;
    let services = fitted.node.get(&node::Path::keys(&["services"]).0).and_then(Node::as_map).map_or(0, |m| m.len());
    let report = FileReport {
        profile: input.profile.clone(),
        input: input.file.clone(),
        services,
        not_carried: resolved.left_out.into_iter().chain(fitted.dropped).collect(),
        merged: resolved.merged,
        ignored: mapped.ignored.into_iter().map(|(p, reason)| NotCarried { path: p.to_string(), reason }).collect(),
        check: Check::NotRun("not yet checked".into()),
    };
    Ok((fitted.node, report, literal))
}

/// Base and overlay texts for several environments, the factoring checked by deploy's loader.
fn profiled_texts(
    trees: &mut [Node],
    opts: &ImportOptions,
    profiles: &[String],
    notes: &mut Vec<String>,
) -> Result<Vec<String>, ImportError> {
    for (i, section, from, to) in align::align(trees) {
        let kind = if section == "volumes" { "volume" } else { "network" };
        notes.push(format!(
            "{kind} `{from}` of {} is keyed `{to}` as in {} (its Docker name is kept)",
            file_name(&opts.inputs[i].file),
            file_name(&opts.inputs[0].file)
        ));
    }
    let topology_file = opts.out_dir.join(TOPOLOGY_FILE);
    let full: Vec<String> = trees.iter().map(|t| write_text(t, &[])).collect::<Result<_, _>>()?;
    for grain in [factor::Grain::Fine, factor::Grain::Coarse] {
        let f = factor::factor(trees, grain);
        let mut texts = vec![write_text(&f.base, &header_base(&opts.inputs))?];
        for (o, input) in f.overlays.iter().zip(&opts.inputs) {
            texts.push(write_text(o, &header_profile(input))?);
        }
        if let Some(bad) = factored_mismatch(&texts, &full, profiles, &topology_file) {
            notes.push(format!(
                "profile `{bad}` did not load back as its file with shared maps merged; shared whole fields only"
            ));
            continue;
        }
        return Ok(texts);
    }
    Err(ImportError::Internal(
        "the files could not be factored into a base and profiles that load back as each file".into(),
    ))
}

/// The first profile whose base + overlay does not load as its complete topology.
fn factored_mismatch(texts: &[String], full: &[String], profiles: &[String], file: &FsPath) -> Option<String> {
    let dir = file.parent().map_or_else(|| ".".into(), FsPath::to_path_buf);
    let src = |t: &String, p: &FsPath| Arc::new(SourceFile { path: p.to_path_buf(), text: t.clone() });
    let as_json = |t: Result<deploy_topology::Topology, _>| t.ok().and_then(|t| serde_json::to_value(t).ok());
    for (i, p) in profiles.iter().enumerate() {
        let overlay_path = dir.join("profiles").join(format!("{p}.yaml"));
        let layered = deploy_topology::load_sources(
            &src(&texts[0], file),
            Some(&src(&texts[i + 1], &overlay_path)),
            Some(p),
            dir.clone(),
        );
        let whole = deploy_topology::load_sources(&src(&full[i], file), None, Some(p), dir.clone());
        let (a, b) = (as_json(layered), as_json(whole));
        if a.is_none() || a != b {
            return Some(p.clone());
        }
    }
    None
}

/// The tree as YAML text, checked to read back as the same tree.
fn write_text(tree: &Node, header: &[String]) -> Result<String, ImportError> {
    let text = yaml::emit(tree, header, yaml::PRETTY).text;
    match read::parse_yaml(&text) {
        Ok(back) if back == *tree || (back == Node::Null && tree.as_map().is_some_and(|m| m.is_empty())) => Ok(text),
        _ => Err(ImportError::Internal(format!("the YAML written does not read back as what was meant:\n{text}"))),
    }
}

fn write_files(paths: &[PathBuf], texts: &[String]) -> Result<(), ImportError> {
    for (p, t) in paths.iter().zip(texts) {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| ImportError::Io(format!("cannot create `{}`: {e}", dir.display())))?;
        }
        std::fs::write(p, t).map_err(|e| ImportError::Io(format!("cannot write `{}`: {e}", p.display())))?;
    }
    Ok(())
}

/// Loads what was written (with the input's profile), renders it to Compose and compares with the
/// input; also the project name deploy gives it.
fn round_trip(
    input: &Input,
    (base, overlay): (&str, Option<&String>),
    file: &FsPath,
    active: &[String],
) -> (Check, Option<String>) {
    let dir = file.parent().map_or_else(|| ".".into(), FsPath::to_path_buf);
    let base = Arc::new(SourceFile { path: file.to_path_buf(), text: base.to_string() });
    let overlay = overlay
        .zip(input.profile.as_ref())
        .map(|(t, p)| Arc::new(SourceFile { path: dir.join("profiles").join(format!("{p}.yaml")), text: t.clone() }));
    let t = match deploy_topology::load_sources(&base, overlay.as_ref(), input.profile.as_deref(), dir.clone()) {
        Ok(t) => t,
        Err(e) => return (Check::Compared(vec![format!("the topology written does not load: {e}")]), None),
    };
    let rendered = crate::render(&t).to_yaml(TOPOLOGY_FILE);
    let abs = std::fs::canonicalize(&input.file).unwrap_or_else(|_| input.file.clone());
    (verify::compare(&abs, &rendered, &dir, (&t.name, active)), Some(t.name))
}

/// When the input names no project, Compose names it after the input's folder and deploy after the
/// output's: different names mean new containers, networks and volumes (the old data stays behind).
fn project_note(input: &Input, tree: &Node, deploy_name: &str) -> Option<(String, String)> {
    if tree.as_map().is_some_and(|m| m.contains_key("name")) {
        return None;
    }
    let dir =
        std::fs::canonicalize(input.file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(FsPath::new(".")));
    let folder = dir.ok()?.file_name()?.to_string_lossy().to_ascii_lowercase();
    let compose: String =
        folder.chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-')).collect();
    let compose = compose.trim_start_matches(['_', '-']).to_string();
    (compose != deploy_name && !compose.is_empty()).then(|| {
        let note = format!(
            "Compose names the project of {} `{compose}` (its folder) and deploy names this one `{deploy_name}` (the folder \
             of deploy.yaml): containers, networks and volumes without an explicit name get new names; to keep them, \
             add `name: {compose}` to deploy.yaml{}",
            file_name(&input.file),
            if compose.contains('_') { " (`_` is not allowed there: rename the folder or the volumes)" } else { "" }
        );
        (compose, note)
    })
}

fn file_name(p: &FsPath) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().to_string())
}

fn header_single(input: &Input) -> Vec<String> {
    vec![
        format!("Imported by `deploy import` from {}.", file_name(&input.file)),
        "Schema: `deploy schema`; field reference: docs/topology.md.".to_string(),
    ]
}

fn header_base(inputs: &[Input]) -> Vec<String> {
    let list: Vec<String> = inputs
        .iter()
        .map(|i| format!("{} ({})", file_name(&i.file), i.profile.as_deref().unwrap_or_default()))
        .collect();
    vec![
        format!("Imported by `deploy import` from {}.", list.join(", ")),
        "What every environment shares; profiles/NAME.yaml holds what differs.".to_string(),
        "Schema: `deploy schema`; field reference: docs/topology.md.".to_string(),
    ]
}

fn header_profile(input: &Input) -> Vec<String> {
    vec![format!(
        "Profile `{}`: what {} sets differently from deploy.yaml.",
        input.profile.as_deref().unwrap_or_default(),
        file_name(&input.file)
    )]
}
