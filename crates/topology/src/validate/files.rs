//! Pass 3b, what services read from files: `env_file`s (read with the `.env`
//! parser, relative to the topology file), and top-level `secrets` and
//! `configs` with the services' uses of them.

use std::path::Path;

use indexmap::IndexMap;

use super::cross::Scope;
use super::{Ctx, parse, service_field};
use crate::diag::{Diagnostic, Loc};
use crate::is_secret_name;
use crate::model::*;
use crate::raw::{self, Located, RawFileObject, RawService, RawTopology};

/// A service's secrets and configs.
pub(super) struct Files {
    pub secrets: Vec<FileRef>,
    pub configs: Vec<FileRef>,
}

pub(super) fn service_files(cx: &mut Ctx, scope: &Scope<'_>, key: &Located<String>, s: &RawService) -> Files {
    let raw = scope.raw();
    Files {
        secrets: refs(cx, &key.value, s.secrets.as_ref(), "secrets", &raw.secrets),
        configs: refs(cx, &key.value, s.configs.as_ref(), "configs", &raw.configs),
    }
}

/// The uses of `section` (`secrets` or `configs`), each of a declared key.
fn refs(
    cx: &mut Ctx,
    sname: &str,
    list: Option<&Vec<Located<raw::RawFileRef>>>,
    section: &str,
    declared: &IndexMap<Located<String>, RawFileObject>,
) -> Vec<FileRef> {
    let mut out = Vec::new();
    for r in list.into_iter().flatten() {
        let mut f = match &r.value {
            raw::RawFileRef::Short(source) => {
                FileRef { source: source.clone(), target: None, uid: None, gid: None, mode: None }
            }
            raw::RawFileRef::Long(l) => FileRef {
                source: l.source.clone(),
                target: l.target.clone(),
                uid: l.uid.clone().map(raw::Scalar::into_string),
                gid: l.gid.clone().map(raw::Scalar::into_string),
                mode: None,
            },
        };
        if let raw::RawFileRef::Long(l) = &r.value {
            match l.mode.clone().map(parse::octal).transpose() {
                Ok(m) => f.mode = m,
                Err(m) => err(cx, r.loc(), service_field(sname, section), m, "write the mode in octal, like 0440"),
            }
        }
        if !declared.contains_key(f.source.as_str()) {
            let keys: Vec<&str> = declared.keys().map(|k| k.value.as_str()).collect();
            let help = format!(
                "declare it at the top level: `{section}: {{ {}: {{ file: ./path }} }}`{}",
                f.source,
                if keys.is_empty() { String::new() } else { format!("; declared: {}", keys.join(", ")) }
            );
            let msg = format!("`{}` is used by service `{sname}` but not declared under `{section}`", f.source);
            err(cx, r.loc(), service_field(sname, section), msg, &help);
        }
        out.push(f);
    }
    out
}

fn err(cx: &mut Ctx, loc: Option<&Loc>, field: String, msg: String, help: &str) {
    cx.err(Diagnostic::new(msg).at(loc).field(field).help(help.to_string()));
}

/// Top-level secrets and configs: each from exactly one of `file`, `environment` (and, for
/// configs, `content`); `external` is refused (there is no swarm to hold them).
pub(super) fn top_level(
    cx: &mut Ctx,
    raw: &RawTopology,
) -> (IndexMap<String, FileObject>, IndexMap<String, FileObject>) {
    let secrets = raw.secrets.iter().filter_map(|(k, o)| object(cx, "secrets", k, o)).collect();
    let configs = raw.configs.iter().filter_map(|(k, o)| object(cx, "configs", k, o)).collect();
    (secrets, configs)
}

fn object(cx: &mut Ctx, section: &str, key: &Located<String>, o: &RawFileObject) -> Option<(String, FileObject)> {
    let field = format!("{section}.{}", key.value);
    if let Some(e) = o.external.as_ref().filter(|e| e.value) {
        let msg = format!("external {section} are not supported (`{}`)", key.value);
        let help = "external secrets and configs live in a Docker swarm, which deploy does not use: give `file: ./path` or `environment: VAR`";
        err(cx, e.loc(), field, msg, help);
        return None;
    }
    let content = o.content.as_ref().filter(|_| section == "configs");
    if let Some(c) = o.content.as_ref().filter(|_| section == "secrets") {
        err(
            cx,
            c.loc(),
            field,
            "a secret cannot be inline `content`".into(),
            "give `file: ./path` or `environment: VAR`",
        );
        return None;
    }
    if let Some(f) =
        [&o.file, &o.environment].into_iter().flatten().find(|f| !crate::interp::variables(&f.value).is_empty())
    {
        let msg = format!("`{}`: variables are not read in `{section}` sources", f.value);
        err(cx, f.loc(), field.clone(), msg, "write the path or variable name itself");
    }
    let source = match (&o.file, &o.environment, content) {
        (Some(f), None, None) => FileSource::File(f.value.clone()),
        (None, Some(e), None) => FileSource::Environment(e.value.clone()),
        (None, None, Some(c)) => {
            FileSource::Content(cx.value(c.value.clone(), c.loc(), format!("{field}.content"), false))
        }
        (None, None, None) => {
            let help = if section == "configs" {
                "give `file: ./path`, `environment: VAR` or `content: ...`"
            } else {
                "give `file: ./path` or `environment: VAR`"
            };
            err(cx, key.loc(), field, format!("`{}` says nowhere its content comes from", key.value), help);
            return None;
        }
        _ => {
            err(
                cx,
                key.loc(),
                field,
                format!("`{}` has more than one source", key.value),
                "keep one of `file`, `environment`, `content`",
            );
            return None;
        }
    };
    let name = o.name.as_ref().map(|n| n.value.clone());
    Some((key.value.clone(), FileObject { key: key.value.clone(), name, source }))
}

/// Reads every service's `env_file`s, relative to `project_dir`, into the model.
pub(super) fn env_files(cx: &mut Ctx, raw: &RawTopology, project_dir: &Path, services: &mut IndexMap<String, Service>) {
    for (key, s) in &raw.services {
        let (Some(files), Some(service)) = (&s.env_file, services.get_mut(key.value.as_str())) else { continue };
        let list: Vec<(String, bool)> = match &files.value {
            raw::RawEnvFiles::One(p) => vec![(p.clone(), true)],
            raw::RawEnvFiles::Many(l) => l
                .iter()
                .map(|f| match f {
                    raw::RawEnvFile::Path(p) => (p.clone(), true),
                    raw::RawEnvFile::Long(l) => (l.path.clone(), l.required.unwrap_or(true)),
                })
                .collect(),
        };
        let field = service_field(&key.value, "env_file");
        for (path, required) in list {
            let values = read_env_file(cx, project_dir, &path, required, files.loc(), &field);
            service.env_files.push(EnvFile { path, required, values });
        }
    }
}

fn read_env_file(
    cx: &mut Ctx,
    project_dir: &Path,
    path: &str,
    required: bool,
    loc: Option<&Loc>,
    field: &str,
) -> IndexMap<String, Value> {
    if path.contains('$') {
        let help = "write the path itself: env_file paths are read when the topology is loaded";
        err(cx, loc, field.to_string(), format!("`{path}`: variables are not read in env_file paths"), help);
        return IndexMap::new();
    }
    let full = project_dir.join(path);
    if !full.is_file() {
        if required {
            let msg = format!("env file `{path}` does not exist (looked for {})", full.display());
            let help =
                "create it, fix the path (relative to the topology file), or write `{path: ..., required: false}`";
            err(cx, loc, field.to_string(), msg, help);
        }
        return IndexMap::new();
    }
    let read = crate::read_source(&full, "env file").and_then(|source| crate::dotenv::read(&source));
    match read {
        Ok(vars) => vars
            .into_iter()
            .map(|(k, v)| {
                let secret = is_secret_name(&k);
                let value =
                    Value { raw: v.replace('$', "$$"), secret, loc: loc.cloned(), field: format!("{field}.{k}") };
                (k, value)
            })
            .collect(),
        Err(d) => {
            cx.err(d.field(field.to_string()));
            IndexMap::new()
        }
    }
}
