//! A service's `secrets` and `configs` on Kubernetes: a Secret `<service>-secrets`
//! and a ConfigMap `<service>-configs` holding the files (read relative to the
//! project directory, or taken from the environment or the inline `content`),
//! each mounted with `subPath` at the path Compose uses (`/run/secrets/NAME`,
//! the config's target or `/NAME`), read-only, with `mode` (0444 by default,
//! as Compose's copied files). `uid`/`gid` cannot be set per file: a warning.
//!
//! The pod template carries a digest of the contents (annotation
//! `deploy.dev/files-hash`), so that a changed file rolls the pods: files
//! mounted with `subPath` are never updated in a running pod.
//!
//! `deploy render` never writes a secret file's content: the Secret is left
//! out with the `kubectl create secret` command that makes it, and a secret
//! from the environment stays a `${VAR}` placeholder, as other secrets do.
//! `deploy apply` (and diff) read every file: a missing one is an error that
//! names it.

use std::collections::BTreeMap;

use deploy_topology::{self as topo, Diagnostic, FileKind, FileRef, FileSource};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, KeyToPath, PodSpec, Secret, SecretVolumeSource, Volume as PodVolume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::Digest as _;

use super::super::{Renderer, SecretMode};
use crate::object::Object;

/// The annotation on the pod template with a digest of the mounted files.
pub const FILES_HASH: &str = "deploy.dev/files-hash";

/// The largest object the API server stores.
const MAX_BYTES: usize = 1024 * 1024;

/// The files of one kind a service mounts.
struct FileSet {
    kind: FileKind,
    object: String,
    volume: &'static str,
    items: Vec<KeyToPath>,
    mounts: Vec<VolumeMount>,
    /// Contents by key.
    data: BTreeMap<String, Vec<u8>>,
    /// `${VAR}` placeholders by key (`deploy render` of a secret from the environment).
    placeholders: BTreeMap<String, String>,
    /// `kubectl create` arguments for what is not rendered (`--from-file=KEY=PATH`...).
    left_out: Vec<String>,
}

/// A Secret data key: letters, digits, `-`, `_` and `.`.
fn data_key(source: &str) -> String {
    source.chars().map(|c| if c.is_ascii_alphanumeric() || "-_.".contains(c) { c } else { '-' }).collect()
}

impl Renderer<'_> {
    /// The Secret and ConfigMap of `s`'s files, their volumes, mounts and digest.
    pub(super) fn files(&mut self, s: &topo::Service, pod: &mut PodSpec, meta: &mut ObjectMeta, out: &mut Vec<Object>) {
        let mut digest = sha2::Sha256::new();
        for (kind, refs) in [FileKind::Secret, FileKind::Config].map(|k| (k, s.file_refs(k))) {
            if refs.is_empty() {
                continue;
            }
            let set = self.file_set(s, kind, refs);
            for (k, v) in &set.data {
                digest.update(format!("{}:{k}:{}\n", kind.word(), v.len()));
                digest.update(v);
            }
            for (k, v) in set.placeholders.iter().map(|(k, v)| (k, v.as_bytes())) {
                digest.update(format!("{}:{k}:placeholder\n", kind.word()));
                digest.update(v);
            }
            pod.containers[0].volume_mounts.get_or_insert_with(Vec::new).extend(set.mounts.iter().cloned());
            pod.volumes.get_or_insert_with(Vec::new).push(volume(&set));
            out.extend(self.file_object(s, set));
        }
        if !s.secrets.is_empty() || !s.configs.is_empty() {
            let hash: String = digest.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
            meta.annotations.get_or_insert_with(BTreeMap::new).insert(FILES_HASH.to_string(), hash);
        }
    }

    fn file_set(&mut self, s: &topo::Service, kind: FileKind, refs: &[FileRef]) -> FileSet {
        let (object, volume) = match kind {
            FileKind::Secret => (format!("{}-secrets", s.name), "deploy-secrets"),
            FileKind::Config => (format!("{}-configs", s.name), "deploy-configs"),
        };
        let mut set = FileSet {
            kind,
            object,
            volume,
            items: Vec::new(),
            mounts: Vec::new(),
            data: BTreeMap::new(),
            placeholders: BTreeMap::new(),
            left_out: Vec::new(),
        };
        for (i, fr) in refs.iter().enumerate() {
            let key = data_key(&fr.source);
            let repeated = refs.iter().filter(|o| o.source == fr.source).count() > 1;
            let path = if repeated { format!("{key}-{i}") } else { key.clone() };
            let target = fr.path(kind);
            let mode = i32::try_from(fr.mode.unwrap_or(0o444)).ok();
            set.items.push(KeyToPath { key: key.clone(), path: path.clone(), mode });
            set.mounts.push(VolumeMount {
                name: volume.to_string(),
                mount_path: target.clone(),
                sub_path: Some(path),
                read_only: Some(true),
                ..Default::default()
            });
            if fr.uid.is_some() || fr.gid.is_some() {
                self.warn(format!(
                    "service `{}`: {}s.{}: uid/gid are not applied on Kubernetes (files from a {} volume belong to root; a pod-wide `fsGroup` sets their group)",
                    s.name,
                    kind.word(),
                    fr.source,
                    if kind == FileKind::Secret { "Secret" } else { "ConfigMap" }
                ));
            }
            if !set.data.contains_key(&key) && !set.placeholders.contains_key(&key) {
                self.content(s, kind, fr, &key, &mut set);
            }
        }
        set
    }

    /// Reads one file's content into `set` (or its placeholder, or what to create by hand).
    fn content(&mut self, s: &topo::Service, kind: FileKind, fr: &FileRef, key: &str, set: &mut FileSet) {
        let Some(obj) = self.t.file_objects(kind).get(&fr.source) else { return };
        let field = format!("{}s.{}", kind.word(), fr.source);
        let rendering = self.mode == SecretMode::AsWritten;
        let required = self.required.as_ref().is_none_or(|r| r.contains(s.name.as_str()));
        let missing = |what: String, help: &str| Diagnostic::new(what).help(help.to_string());
        let found = match &obj.source {
            FileSource::File(path) if kind == FileKind::Secret && rendering => {
                set.left_out.push(format!("--from-file={key}={path}"));
                return;
            }
            FileSource::File(path) => {
                let full = self.t.project_dir.join(path);
                std::fs::read(&full).map_err(|e| {
                    missing(
                        format!("{} `{}`: cannot read its file `{}`: {e}", kind.word(), fr.source, full.display()),
                        "create the file, or fix `file:` (relative to the topology file's folder)",
                    )
                    .field(format!("{field}.file"))
                })
            }
            FileSource::Environment(var) if kind == FileKind::Secret && rendering => {
                set.placeholders.insert(key.to_string(), format!("${{{var}}}"));
                return;
            }
            FileSource::Environment(var) => self.env.get(var).map(String::into_bytes).ok_or_else(|| {
                missing(
                    format!("environment variable `{var}` required by {} `{}` is not set", kind.word(), fr.source),
                    "set it in the environment deploy runs in (or in .env)",
                )
                .field(format!("{field}.environment"))
            }),
            FileSource::Content(v) => Ok(self.value(&s.name, v).into_bytes()),
        };
        match found {
            Ok(bytes) if bytes.len() > MAX_BYTES => self.errors.push(
                missing(
                    format!(
                        "{} `{}` is {} bytes: larger than a Kubernetes object holds (1 MiB)",
                        kind.word(),
                        fr.source,
                        bytes.len()
                    ),
                    "mount it from a volume instead",
                )
                .field(field),
            ),
            Ok(bytes) => {
                set.data.insert(key.to_string(), bytes);
            }
            // `deploy render`: the object is left out, with the command that creates it.
            Err(d) if rendering => {
                self.warn(format!("service `{}`: {}", s.name, d.message));
                set.left_out.push(format!("--from-file={key}=..."));
            }
            Err(d) if required => self.errors.push(d),
            Err(_) => {}
        }
    }

    /// The Secret or ConfigMap of a file set, unless part of it cannot be rendered.
    fn file_object(&mut self, s: &topo::Service, set: FileSet) -> Option<Object> {
        let meta = self.meta(&set.object, self.service_labels(&s.name));
        if !set.left_out.is_empty() {
            let literals = set.placeholders.keys().map(|k| format!("--from-literal={k}=..."));
            let args: Vec<String> = set.left_out.iter().cloned().chain(literals).collect();
            let (what, create) = match set.kind {
                FileKind::Secret => ("Secret", "secret generic"),
                FileKind::Config => ("ConfigMap", "configmap"),
            };
            self.warn(format!(
                "service `{}`: {what}/{} is not rendered (it would hold the files' content): create it with `kubectl create {create} {} -n {} {}`; `deploy apply --target k8s` creates it from the files",
                s.name,
                set.object,
                set.object,
                self.t.namespace,
                args.join(" ")
            ));
            return None;
        }
        let some = |m: BTreeMap<String, ByteString>| (!m.is_empty()).then_some(m);
        match set.kind {
            FileKind::Secret => Some(Object::Secret(Secret {
                metadata: meta,
                type_: Some("Opaque".into()),
                data: some(set.data.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
                string_data: (!set.placeholders.is_empty()).then_some(set.placeholders),
                immutable: None,
            })),
            FileKind::Config => {
                let (text, binary): (BTreeMap<_, _>, BTreeMap<_, _>) =
                    set.data.into_iter().partition(|(_, v)| std::str::from_utf8(v).is_ok());
                let text: BTreeMap<String, String> =
                    text.into_iter().map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned())).collect();
                Some(Object::ConfigMap(ConfigMap {
                    metadata: meta,
                    data: (!text.is_empty()).then_some(text),
                    binary_data: some(binary.into_iter().map(|(k, v)| (k, ByteString(v))).collect()),
                    immutable: None,
                }))
            }
        }
    }
}

/// The pod volume of a file set: only the keys it mounts, each with its mode.
fn volume(set: &FileSet) -> PodVolume {
    let mut items = set.items.clone();
    items.dedup_by(|a, b| a.path == b.path);
    match set.kind {
        FileKind::Secret => PodVolume {
            name: set.volume.to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(set.object.clone()),
                items: Some(items),
                ..Default::default()
            }),
            ..Default::default()
        },
        FileKind::Config => PodVolume {
            name: set.volume.to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: set.object.clone(),
                items: Some(items),
                ..Default::default()
            }),
            ..Default::default()
        },
    }
}
