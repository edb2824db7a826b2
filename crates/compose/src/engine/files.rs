//! A service's `secrets` and `configs`, as `docker compose up` gives them to
//! the container:
//!
//! - a `file:` source is bind-mounted read-only at the target
//!   (`/run/secrets/NAME`, or the config's target, `/NAME` by default); its
//!   `uid`, `gid` and `mode` are not applied (a bind mount keeps the file's own
//!   owner and mode; Compose warns and ignores them too), and deploy warns;
//! - an `environment:` or `content:` source is copied into the created
//!   container before it starts, as a file owned by `uid`:`gid` (root by
//!   default) with `mode` (0444 by default). Compose refuses that for a
//!   `read_only` service, and so does deploy.
//!
//! The content of what is copied is part of the config hash (a digest of it,
//! in [`super::vocab::VocabSpec::files`]): a change recreates the container.

use bollard::Docker;
use bollard::models::{Mount, MountType};
use bollard::query_parameters::UploadToContainerOptionsBuilder;
use deploy_topology::{Env, FileKind, FileObject, FileRef, FileSource, Service, Topology};
use sha2::{Digest, Sha256};

use super::EngineError;
use super::docker::describe;
use super::plan::{Resolver, bind_source};

/// A file copied into the container before it starts.
#[derive(Clone, Debug)]
pub struct Injected {
    /// Absolute path in the container.
    pub target: String,
    pub content: Vec<u8>,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    /// `uid` or `gid` was given: the copy keeps them (else the files belong to root).
    pub chown: bool,
}

impl Injected {
    /// A digest of everything the container gets: the hash changes with any of it.
    fn digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(format!("{}:{}:{:o}\n", self.uid, self.gid, self.mode));
        h.update(&self.content);
        hex::encode(h.finalize())
    }
}

/// What a service's secrets and configs amount to on the Engine.
#[derive(Default)]
pub(super) struct Files {
    /// Bind mounts of `file:` sources, with their spec text.
    pub mounts: Vec<(String, Mount)>,
    pub injected: Vec<Injected>,
    pub warnings: Vec<String>,
    /// Values to mask: the content of secrets that come from the environment.
    pub secret_values: Vec<String>,
}

/// Plans the secrets and configs of `s`.
pub(super) fn plan(t: &Topology, s: &Service, r: &Resolver, env: &Env) -> Result<Files, EngineError> {
    let mut out = Files::default();
    let refs =
        [FileKind::Secret, FileKind::Config].into_iter().flat_map(|k| s.file_refs(k).iter().map(move |f| (k, f)));
    for (kind, fr) in refs {
        let Some(obj) = t.file_objects(kind).get(&fr.source) else {
            return Err(EngineError::Input(format!(
                "service `{}`: no top-level {} named `{}`",
                s.name,
                kind.word(),
                fr.source
            )));
        };
        one(t, s, r, env, kind, fr, obj, &mut out)?;
    }
    if s.read_only
        && let Some(f) = out.injected.first()
    {
        return Err(EngineError::Input(format!(
            "service `{}`: `{}` cannot be created in a `read_only` container (only `file:` secrets and configs are mounted; those from `environment` or `content` are copied in, as Compose does)",
            s.name, f.target
        )));
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn one(
    t: &Topology,
    s: &Service,
    r: &Resolver,
    env: &Env,
    kind: FileKind,
    fr: &FileRef,
    obj: &FileObject,
    out: &mut Files,
) -> Result<(), EngineError> {
    let target = fr.path(kind);
    let content = match &obj.source {
        FileSource::File(path) => {
            let source = bind_source(t, path);
            out.mounts.push((
                format!("bind {source} -> {target}:ro"),
                Mount {
                    target: Some(target.clone()),
                    source: Some(source),
                    typ: Some(MountType::BIND),
                    read_only: Some(true),
                    ..Default::default()
                },
            ));
            for (field, set) in [("uid", fr.uid.is_some()), ("gid", fr.gid.is_some()), ("mode", fr.mode.is_some())] {
                if set {
                    out.warnings.push(format!(
                        "service `{}`: {}s.{}.{field} is not applied to a file-based {} (a bind mount keeps the file's own owner and mode, as with Compose); use `environment:` or set them on the file",
                        s.name,
                        kind.word(),
                        fr.source,
                        kind.word()
                    ));
                }
            }
            return Ok(());
        }
        FileSource::Environment(var) => env.get(var).ok_or_else(|| {
            EngineError::Input(format!(
                "service `{}`: environment variable `{var}` required by {} `{}` is not set",
                s.name,
                kind.word(),
                fr.source
            ))
        })?,
        FileSource::Content(v) => r.one(v)?,
    };
    if kind == FileKind::Secret && !content.is_empty() {
        out.secret_values.push(content.clone());
    }
    let id = |v: &Option<String>, what: &str| -> Result<u64, EngineError> {
        v.as_deref().map_or(Ok(0), |x| {
            x.parse().map_err(|_| {
                EngineError::Input(format!(
                    "service `{}`: {}s.{}.{what} `{x}` is not a number",
                    s.name,
                    kind.word(),
                    fr.source
                ))
            })
        })
    };
    out.injected.push(Injected {
        target,
        content: content.into_bytes(),
        uid: id(&fr.uid, "uid")?,
        gid: id(&fr.gid, "gid")?,
        mode: fr.mode.unwrap_or(0o444),
        chown: fr.uid.is_some() || fr.gid.is_some(),
    });
    Ok(())
}

/// The digests of the copied files, by target (for the spec).
pub(super) fn digests(files: &[Injected]) -> std::collections::BTreeMap<String, String> {
    files.iter().map(|f| (f.target.clone(), f.digest())).collect()
}

/// One file as a tar archive to extract at `/`.
fn archive(f: &Injected) -> std::io::Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(f.content.len() as u64);
    h.set_mode(f.mode);
    h.set_uid(f.uid);
    h.set_gid(f.gid);
    h.set_mtime(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, f.target.trim_start_matches('/'), f.content.as_slice())?;
    b.into_inner()
}

/// Copies the files into the created container `id` (before it starts).
pub(super) async fn inject(docker: &Docker, id: &str, files: &[Injected]) -> Result<(), String> {
    for f in files {
        let tar = archive(f).map_err(|e| format!("cannot pack `{}`: {e}", f.target))?;
        let mut opts = UploadToContainerOptionsBuilder::default().path("/");
        if f.chown {
            opts = opts.copy_uidgid("1");
        }
        docker
            .upload_to_container(id, Some(opts.build()), bollard::body_full(tar.into()))
            .await
            .map_err(|e| format!("cannot copy `{}` into the container: {}", f.target, describe(&e)))?;
    }
    Ok(())
}
