//! The object store: server-managed metadata, server-side apply with field ownership,
//! plain create/replace/merge-patch, deletion with cascading, and the change feed.

use crate::defaults;
use crate::resources::{self as res, ApiError, Rt, rt};
use crate::util::{self, Path};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many past changes are kept so that watches can resume from an older resourceVersion.
const HISTORY: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One committed change, as fed to watches and the simulated controller.
#[derive(Debug, Clone)]
pub struct Change {
    pub rt: Rt,
    pub kind: ChangeKind,
    pub namespace: Option<String>,
    pub object: Arc<Value>,
    pub old: Option<Arc<Value>>,
    pub rv: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Apply,
    Update,
}

#[derive(Debug, Clone)]
struct ManagerEntry {
    manager: String,
    operation: Operation,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: BTreeSet<Path>,
}

#[derive(Debug, Clone)]
struct Stored {
    obj: Value,
    managers: Vec<ManagerEntry>,
}

pub type ObjKey = (Rt, String, String);

/// How a delete treats the objects that name the deleted one in their `ownerReferences`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Keep them, minus the reference to the deleted owner.
    Orphan,
    /// Delete them (at once here, like the garbage collector would shortly after).
    Background,
    /// Delete them (at once here; the real apiserver deletes them before the owner).
    Foreground,
}

impl Propagation {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Orphan" => Some(Self::Orphan),
            "Background" => Some(Self::Background),
            "Foreground" => Some(Self::Foreground),
            _ => None,
        }
    }
}

/// The apiserver's default propagation: `Orphan` for batch/v1 Jobs (kept for backwards
/// compatibility), `Background` for everything else served here.
pub fn default_propagation(kind: Rt) -> Propagation {
    if kind == res::JOBS { Propagation::Orphan } else { Propagation::Background }
}

/// The `DeleteOptions` the double honours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// `None`: the kind's [`default_propagation`].
    pub propagation: Option<Propagation>,
    pub dry_run: bool,
    /// `preconditions.uid`
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`
    pub resource_version: Option<String>,
}

/// The field manager of the simulated garbage collector's writes.
const GC_MANAGER: &str = "kube-controller-manager";

/// What a successful write did.
#[derive(Debug, Clone)]
pub struct WriteOutcome {
    pub object: Value,
    pub created: bool,
}

pub struct Store {
    rv: u64,
    objects: BTreeMap<ObjKey, Stored>,
    history: VecDeque<Change>,
    next_ip: u32,
    tx: broadcast::Sender<Change>,
}

/// Fields of an object that field ownership tracks: everything except identity metadata,
/// `apiVersion`/`kind` and `status`. Maps recurse; every other value (including lists, which
/// this double treats atomically) is a leaf.
fn leaves(obj: &Value) -> BTreeMap<Path, Value> {
    fn rec(v: &Value, prefix: &mut Path, out: &mut BTreeMap<Path, Value>) {
        match v {
            Value::Object(m) if !m.is_empty() => {
                for (k, c) in m {
                    prefix.push(k.clone());
                    rec(c, prefix, out);
                    prefix.pop();
                }
            }
            _ => {
                out.insert(prefix.clone(), v.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    let Some(m) = obj.as_object() else { return out };
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" | "kind" | "status" => {}
            "metadata" => {
                for key in ["labels", "annotations", "finalizers", "ownerReferences"] {
                    if let Some(c) = v.get(key) {
                        rec(c, &mut vec!["metadata".into(), key.into()], &mut out);
                    }
                }
            }
            _ => rec(v, &mut vec![k.clone()], &mut out),
        }
    }
    out
}

/// Renders owned paths in the `FieldsV1` format: `{"f:spec":{"f:replicas":{}}}`.
fn fields_v1(paths: &BTreeSet<Path>) -> Value {
    let mut root = json!({});
    for p in paths {
        let fp: Path = p.iter().map(|s| format!("f:{s}")).collect();
        if util::get_path(&root, &fp).is_none() {
            util::set_path(&mut root, &fp, json!({}));
        }
    }
    root
}

fn meta_str(obj: &Value, key: &str) -> Option<String> {
    obj.get("metadata")?.get(key)?.as_str().map(str::to_owned)
}

/// The object without the fields that change on every write, to detect no-op writes.
fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(md) = o.get_mut("metadata").and_then(Value::as_object_mut) {
        md.remove("resourceVersion");
        if let Some(Value::Array(mf)) = md.get_mut("managedFields") {
            for e in mf.iter_mut().filter_map(Value::as_object_mut) {
                e.remove("time");
            }
        }
    }
    o
}

/// Server-owned identity metadata: kept from `old`, or a new `uid`/`creationTimestamp` on create.
fn identity_metadata(obj: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
    let old_md = old.and_then(|o| o.get("metadata")).cloned().unwrap_or_else(|| json!({}));
    let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        return Err(ApiError::bad_request("metadata must be an object"));
    };
    for k in ["uid", "creationTimestamp", "resourceVersion", "generation", "deletionTimestamp"] {
        md.remove(k);
        if let Some(v) = old_md.get(k) {
            md.insert(k.into(), v.clone());
        }
    }
    if old.is_none() {
        md.insert("uid".into(), json!(util::uid()));
        md.insert("creationTimestamp".into(), json!(util::now_rfc3339()));
    }
    Ok(())
}

/// `metadata.generation`: 1 on create, bumped when the (defaulted) `spec` changes.
fn set_generation(obj: &mut Value, old: Option<&Value>) {
    let prev = old.and_then(|o| o.pointer("/metadata/generation")).and_then(Value::as_i64);
    let spec_changed = old.is_none_or(|o| o.get("spec") != obj.get("spec"));
    let g = match prev {
        Some(g) if spec_changed => g + 1,
        Some(g) => g,
        None => 1,
    };
    if let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        md.insert("generation".into(), json!(g));
    }
}

fn set_managed_fields(obj: &mut Value, managers: &[ManagerEntry]) {
    let mf: Vec<Value> = managers
        .iter()
        .filter(|m| !m.fields.is_empty())
        .map(|m| {
            let mut e = json!({
                "manager": m.manager,
                "operation": if m.operation == Operation::Apply { "Apply" } else { "Update" },
                "apiVersion": m.api_version,
                "time": m.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(&m.fields),
            });
            if let Some(s) = &m.subresource {
                e["subresource"] = json!(s);
            }
            e
        })
        .collect();
    if let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if mf.is_empty() {
            md.remove("managedFields");
        } else {
            md.insert("managedFields".into(), Value::Array(mf));
        }
    }
}

impl Store {
    pub fn new(tx: broadcast::Sender<Change>) -> Self {
        let mut s = Self { rv: 0, objects: BTreeMap::new(), history: VecDeque::new(), next_ip: 10, tx };
        for ns in ["default", "kube-system", "kube-public"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            // Seeding a fixed, valid object cannot fail.
            let _ = s.create(res::NAMESPACES, None, obj, "kube-apiserver", false);
        }
        s
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn oldest_replayable_rv(&self) -> u64 {
        self.history.front().map_or(self.rv, |c| c.rv.saturating_sub(1))
    }

    /// Changes after `rv` still in history.
    pub fn changes_since(&self, rv: u64) -> Vec<Change> {
        self.history.iter().filter(|c| c.rv > rv).cloned().collect()
    }

    fn key(kind: Rt, ns: Option<&str>, name: &str) -> ObjKey {
        (kind, ns.unwrap_or_default().to_owned(), name.to_owned())
    }

    pub fn get(&self, kind: Rt, ns: Option<&str>, name: &str) -> Option<&Value> {
        self.objects.get(&Self::key(kind, ns, name)).map(|s| &s.obj)
    }

    /// Objects of a kind, optionally in one namespace, sorted by namespace and name.
    pub fn list(&self, kind: Rt, ns: Option<&str>) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|((k, n, _), _)| *k == kind && ns.is_none_or(|ns| ns == n))
            .map(|(_, s)| &s.obj)
            .collect()
    }

    fn commit(&mut self, kind: Rt, ck: ChangeKind, mut stored: Stored, old: Option<Arc<Value>>) -> Value {
        self.rv += 1;
        let ns = meta_str(&stored.obj, "namespace");
        let name = meta_str(&stored.obj, "name").unwrap_or_default();
        if let Some(md) = stored.obj.get_mut("metadata").and_then(Value::as_object_mut) {
            md.insert("resourceVersion".into(), json!(self.rv.to_string()));
        }
        let object = stored.obj.clone();
        let key = Self::key(kind, ns.as_deref(), &name);
        if ck == ChangeKind::Deleted {
            self.objects.remove(&key);
        } else {
            self.objects.insert(key, stored);
        }
        let change = Change { rt: kind, kind: ck, namespace: ns, object: Arc::new(object.clone()), old, rv: self.rv };
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(change.clone());
        // No receivers is fine.
        let _ = self.tx.send(change);
        object
    }

    fn check_namespace(&self, kind: Rt, ns: Option<&str>) -> Result<(), ApiError> {
        if rt(kind).namespaced {
            let ns = ns.ok_or_else(|| ApiError::bad_request("a namespace is required for a namespaced resource"))?;
            if !self.objects.contains_key(&Self::key(res::NAMESPACES, None, ns)) {
                return Err(ApiError::not_found(rt(res::NAMESPACES), ns));
            }
        }
        Ok(())
    }

    /// Checks identity fields of a request body against the URL and fills them in.
    fn normalize_body(kind: Rt, ns: Option<&str>, name: Option<&str>, body: &mut Value) -> Result<(), ApiError> {
        let r = rt(kind);
        let Some(m) = body.as_object_mut() else {
            return Err(ApiError::bad_request("the request body must be a JSON or YAML object"));
        };
        let av = m.get("apiVersion").and_then(Value::as_str).map(str::to_owned);
        let k = m.get("kind").and_then(Value::as_str).map(str::to_owned);
        if av.as_deref().is_some_and(|a| a != r.api_version()) || k.as_deref().is_some_and(|x| x != r.kind) {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({})",
                av.unwrap_or_default(),
                r.api_version()
            )));
        }
        m.insert("apiVersion".into(), json!(r.api_version()));
        m.insert("kind".into(), json!(r.kind));
        let md = m.entry("metadata").or_insert_with(|| json!({}));
        let Some(md) = md.as_object_mut() else {
            return Err(ApiError::bad_request("metadata must be an object"));
        };
        if let Some(n) = name {
            match md.get("name").and_then(Value::as_str) {
                Some(b) if b != n => {
                    return Err(ApiError::bad_request(format!(
                        "the name of the object ({b}) does not match the name on the URL ({n})"
                    )));
                }
                _ => {
                    md.insert("name".into(), json!(n));
                }
            }
        }
        if r.namespaced {
            match (md.get("namespace").and_then(Value::as_str), ns) {
                (Some(b), Some(u)) if b != u => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                (_, Some(u)) => {
                    md.insert("namespace".into(), json!(u));
                }
                _ => {}
            }
        } else {
            md.remove("namespace");
        }
        Ok(())
    }

    /// Finishes a write: server metadata, defaults, validation, managedFields, no-op detection,
    /// and (unless `dry_run`) the commit.
    fn finish(
        &mut self,
        kind: Rt,
        mut obj: Value,
        managers: Vec<ManagerEntry>,
        old: Option<&Stored>,
        dry_run: bool,
    ) -> Result<WriteOutcome, ApiError> {
        identity_metadata(&mut obj, old.map(|o| &o.obj))?;
        if old.is_none() {
            defaults::on_create(kind, &mut obj);
        }
        let mut next_ip = self.next_ip;
        defaults::apply(kind, &mut obj, &mut || {
            let ip = format!("10.96.{}.{}", next_ip / 250, next_ip % 250 + 1);
            next_ip += 1;
            ip
        });
        defaults::validate(kind, &obj, old.map(|o| &o.obj))?;
        if rt(kind).generation {
            set_generation(&mut obj, old.map(|o| &o.obj));
        }
        set_managed_fields(&mut obj, &managers);
        if let Some(old) = old
            && comparable(&old.obj) == comparable(&obj)
        {
            return Ok(WriteOutcome { object: old.obj.clone(), created: false });
        }
        let managers = managers.into_iter().filter(|m| !m.fields.is_empty()).collect();
        let stored = Stored { obj, managers };
        if dry_run {
            return Ok(WriteOutcome { object: stored.obj, created: old.is_none() });
        }
        if old.is_none() {
            self.next_ip = next_ip;
        }
        let old_obj = old.map(|o| Arc::new(o.obj.clone()));
        let ck = if old.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
        let object = self.commit(kind, ck, stored, old_obj);
        Ok(WriteOutcome { object, created: ck == ChangeKind::Added })
    }

    fn check_precondition(kind: Rt, body: &Value, old: Option<&Stored>, name: &str) -> Result<(), ApiError> {
        if let Some(want) = meta_str(body, "resourceVersion").filter(|s| !s.is_empty()) {
            let have = old.and_then(|o| meta_str(&o.obj, "resourceVersion"));
            if have.as_deref() != Some(want.as_str()) {
                return Err(match old {
                    Some(_) => ApiError::modified(rt(kind), name),
                    None => ApiError::not_found(rt(kind), name),
                });
            }
        }
        Ok(())
    }

    /// Server-side apply (`application/apply-patch+yaml`).
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &mut self,
        kind: Rt,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        manager: &str,
        force: bool,
        dry_run: bool,
    ) -> Result<WriteOutcome, ApiError> {
        let r = rt(kind);
        if manager.is_empty() {
            return Err(ApiError::bad_request("PATCH, fieldManager is required for apply requests"));
        }
        Self::normalize_body(kind, ns, Some(name), &mut body)?;
        if body.get("apiVersion").is_none() || body.get("kind").is_none() {
            return Err(ApiError::bad_request("apiVersion and kind must be set"));
        }
        defaults::validate_name(kind, name)?;
        let key = Self::key(kind, ns, name);
        let old = self.objects.get(&key).cloned();
        if old.is_none() {
            self.check_namespace(kind, ns)?;
        }
        Self::check_precondition(kind, &body, old.as_ref(), name)?;
        let sent = leaves(&body);
        let (mut obj, mut managers) = match &old {
            Some(o) => (o.obj.clone(), o.managers.clone()),
            None => {
                let mut skeleton = json!({"apiVersion": r.api_version(), "kind": r.kind, "metadata": {"name": name}});
                if let Some(ns) = ns.filter(|_| r.namespaced) {
                    skeleton["metadata"]["namespace"] = json!(ns);
                }
                (skeleton, Vec::new())
            }
        };
        let old_obj = obj.clone();
        let before: BTreeSet<Path> = managers
            .iter()
            .find(|m| m.manager == manager && m.operation == Operation::Apply && m.subresource.is_none())
            .map(|m| m.fields.clone())
            .unwrap_or_default();
        for p in before.iter().filter(|p| !sent.contains_key(*p)) {
            let owned_elsewhere = managers
                .iter()
                .any(|m| !(m.manager == manager && m.operation == Operation::Apply) && m.fields.contains(p));
            if !owned_elsewhere {
                util::remove_path(&mut obj, p);
            }
        }
        for (p, v) in &sent {
            util::set_path(&mut obj, p, v.clone());
        }
        let conflicts = apply_conflicts(kind, &obj, &old_obj, &sent, &managers, manager);
        if !conflicts.is_empty() {
            if !force {
                return Err(conflict_error(r, name, &conflicts));
            }
            for m in managers.iter_mut().filter(|m| m.manager != manager) {
                for p in conflicts.keys() {
                    m.fields.remove(p);
                }
            }
        }
        let fields: BTreeSet<Path> = sent.keys().cloned().collect();
        let now = util::now_rfc3339();
        match managers
            .iter_mut()
            .find(|m| m.manager == manager && m.operation == Operation::Apply && m.subresource.is_none())
        {
            Some(m) => {
                if m.fields != fields {
                    m.time = now;
                }
                m.fields = fields;
            }
            None => managers.push(ManagerEntry {
                manager: manager.to_owned(),
                operation: Operation::Apply,
                api_version: r.api_version(),
                time: now,
                subresource: None,
                fields,
            }),
        }
        self.finish(kind, obj, managers, old.as_ref(), dry_run)
    }

    /// Ownership bookkeeping for a non-apply write from `old_obj` to `new_obj` by `manager`.
    fn update_managers(
        kind: Rt,
        old: Option<&Stored>,
        new_obj: &Value,
        manager: &str,
        subresource: Option<&str>,
    ) -> Vec<ManagerEntry> {
        let mut managers = old.map(|o| o.managers.clone()).unwrap_or_default();
        let (old_leaves, new_leaves) = match subresource {
            Some(_) => {
                let status = |v: Option<&Value>| {
                    let mut out = BTreeMap::new();
                    if let Some(s) = v.and_then(|v| v.get("status")) {
                        for (mut p, v) in leaves(&json!({ "s": s })) {
                            p[0] = "status".into();
                            out.insert(p, v);
                        }
                    }
                    out
                };
                (status(old.map(|o| &o.obj)), status(Some(new_obj)))
            }
            None => (old.map(|o| leaves(&o.obj)).unwrap_or_default(), leaves(new_obj)),
        };
        let changed: BTreeSet<Path> =
            new_leaves.iter().filter(|(p, v)| old_leaves.get(*p) != Some(*v)).map(|(p, _)| p.clone()).collect();
        let removed: BTreeSet<Path> = old_leaves.keys().filter(|p| !new_leaves.contains_key(*p)).cloned().collect();
        if changed.is_empty() && removed.is_empty() {
            return managers;
        }
        for m in managers.iter_mut() {
            m.fields.retain(|p| !changed.contains(p) && !removed.contains(p));
        }
        let now = util::now_rfc3339();
        let sub = subresource.map(str::to_owned);
        match managers
            .iter_mut()
            .find(|m| m.manager == manager && m.operation == Operation::Update && m.subresource == sub)
        {
            Some(m) => {
                m.fields.extend(changed);
                m.time = now;
            }
            None => managers.push(ManagerEntry {
                manager: manager.to_owned(),
                operation: Operation::Update,
                api_version: rt(kind).api_version(),
                time: now,
                subresource: sub,
                fields: changed,
            }),
        }
        managers
    }

    /// POST to a collection.
    pub fn create(
        &mut self,
        kind: Rt,
        ns: Option<&str>,
        mut body: Value,
        manager: &str,
        dry_run: bool,
    ) -> Result<WriteOutcome, ApiError> {
        Self::normalize_body(kind, ns, None, &mut body)?;
        let mut name = meta_str(&body, "name").unwrap_or_default();
        if name.is_empty() {
            let gen_name = meta_str(&body, "generateName").unwrap_or_default();
            if gen_name.is_empty() {
                return Err(ApiError::invalid(
                    rt(kind),
                    "",
                    &[(
                        "FieldValueRequired".into(),
                        "metadata.name".into(),
                        "Required value: name or generateName is required".into(),
                    )],
                ));
            }
            name = format!("{gen_name}{}", util::random_suffix(5));
            body["metadata"]["name"] = json!(name);
        }
        defaults::validate_name(kind, &name)?;
        self.check_namespace(kind, ns)?;
        if self.objects.contains_key(&Self::key(kind, ns, &name)) {
            return Err(ApiError::already_exists(rt(kind), &name));
        }
        if let Some(md) = body.get_mut("metadata").and_then(Value::as_object_mut) {
            md.remove("resourceVersion");
        }
        let managers = Self::update_managers(kind, None, &body, manager, None);
        self.finish(kind, body, managers, None, dry_run)
    }

    #[allow(clippy::too_many_arguments)]
    /// PUT: replace (or create if absent). `subresource` is `Some("status")` for `/status`.
    pub fn replace(
        &mut self,
        kind: Rt,
        ns: Option<&str>,
        name: &str,
        mut body: Value,
        manager: &str,
        subresource: Option<&str>,
        dry_run: bool,
    ) -> Result<WriteOutcome, ApiError> {
        Self::normalize_body(kind, ns, Some(name), &mut body)?;
        let old = self.objects.get(&Self::key(kind, ns, name)).cloned();
        let Some(old) = old else {
            if subresource.is_some() {
                return Err(ApiError::not_found(rt(kind), name));
            }
            return self.create(kind, ns, body, manager, dry_run);
        };
        Self::check_precondition(kind, &body, Some(&old), name)?;
        let new_obj = self.merge_status(kind, &old.obj, body, subresource);
        let managers = Self::update_managers(kind, Some(&old), &new_obj, manager, subresource);
        self.finish(kind, new_obj, managers, Some(&old), dry_run)
    }

    /// Keeps status from `old` for main-resource writes; keeps everything but status for `/status`.
    fn merge_status(&self, kind: Rt, old: &Value, mut body: Value, subresource: Option<&str>) -> Value {
        if subresource.is_some() {
            let mut o = old.clone();
            match body.get_mut("status").map(Value::take) {
                Some(s) => o["status"] = s,
                None => {
                    if let Some(m) = o.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            return o;
        }
        if let Some(m) = body.as_object_mut() {
            m.remove("status");
            if let Some(s) = old.get("status") {
                m.insert("status".into(), s.clone());
            }
            // Like the apiserver, an omitted clusterIP on update keeps the allocated one.
            if kind == res::SERVICES
                && let Some(ip) = old.pointer("/spec/clusterIP")
                && let Some(spec) = m.get_mut("spec").and_then(Value::as_object_mut)
            {
                spec.entry("clusterIP").or_insert_with(|| ip.clone());
                if let Some(ips) = old.pointer("/spec/clusterIPs") {
                    spec.entry("clusterIPs").or_insert_with(|| ips.clone());
                }
            }
        }
        body
    }

    /// `application/merge-patch+json` (also used, simplified, for strategic merge patches).
    #[allow(clippy::too_many_arguments)]
    pub fn merge_patch(
        &mut self,
        kind: Rt,
        ns: Option<&str>,
        name: &str,
        patch: &Value,
        manager: &str,
        subresource: Option<&str>,
        dry_run: bool,
    ) -> Result<WriteOutcome, ApiError> {
        let old = self.objects.get(&Self::key(kind, ns, name)).cloned();
        let Some(old) = old else {
            return Err(ApiError::not_found(rt(kind), name));
        };
        if !patch.is_object() {
            return Err(ApiError::bad_request("a merge patch must be a JSON object"));
        }
        Self::check_precondition(kind, patch, Some(&old), name)?;
        let mut new_obj = old.obj.clone();
        util::merge_patch(&mut new_obj, patch);
        Self::normalize_body(kind, ns, Some(name), &mut new_obj)?;
        let new_obj = self.merge_status(kind, &old.obj, new_obj, subresource);
        let managers = Self::update_managers(kind, Some(&old), &new_obj, manager, subresource);
        self.finish(kind, new_obj, managers, Some(&old), dry_run)
    }

    /// Deletes an object after checking `opts`' preconditions. The namespaced objects of a
    /// deleted namespace go too. Objects whose `ownerReferences` name the deleted uid are
    /// deleted as well (garbage collection; transitively) unless the propagation policy
    /// (default: [`default_propagation`]) is `Orphan`, which only removes those references.
    pub fn delete(&mut self, kind: Rt, ns: Option<&str>, name: &str, opts: &DeleteOptions) -> Result<Value, ApiError> {
        let key = Self::key(kind, ns, name);
        let Some(stored) = self.objects.get(&key) else {
            return Err(ApiError::not_found(rt(kind), name));
        };
        let obj = stored.obj.clone();
        for (what, want, key) in
            [("UID", &opts.uid, "uid"), ("ResourceVersion", &opts.resource_version, "resourceVersion")]
        {
            let have = meta_str(&obj, key).unwrap_or_default();
            if let Some(want) = want.as_deref().filter(|w| *w != have) {
                return Err(ApiError::precondition_failed(rt(kind), name, what, want, &have));
            }
        }
        if opts.dry_run {
            return Ok(obj);
        }
        let orphan = opts.propagation.unwrap_or_else(|| default_propagation(kind)) == Propagation::Orphan;
        if orphan {
            let uid = meta_str(&obj, "uid").unwrap_or_default();
            for dep in self.dependents(&key, &uid) {
                self.remove_owner_reference(&dep, &uid);
            }
        }
        Ok(self.cascade(key, orphan).unwrap_or(obj))
    }

    /// Keys of the objects (in the owner's namespace) with an ownerReference to `uid`.
    fn dependents(&self, owner: &ObjKey, uid: &str) -> Vec<ObjKey> {
        self.objects
            .iter()
            .filter(|(k, s)| {
                k.1 == owner.1
                    && s.obj
                        .pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .is_some_and(|refs| refs.iter().any(|r| r.get("uid").and_then(Value::as_str) == Some(uid)))
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// What the garbage collector does to an orphaned dependent: drop the reference to `uid`.
    fn remove_owner_reference(&mut self, key: &ObjKey, uid: &str) {
        let Some(old) = self.objects.get(key).cloned() else { return };
        let mut obj = old.obj.clone();
        if let Some(md) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            let refs = md.get("ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
            let kept: Vec<Value> =
                refs.into_iter().filter(|r| r.get("uid").and_then(Value::as_str) != Some(uid)).collect();
            if kept.is_empty() {
                md.remove("ownerReferences");
            } else {
                md.insert("ownerReferences".into(), Value::Array(kept));
            }
        }
        let managers = Self::update_managers(key.0, Some(&old), &obj, GC_MANAGER, None);
        // Dropping a reference from a valid stored object cannot fail validation.
        let _ = self.finish(key.0, obj, managers, Some(&old), false);
    }

    /// Deletes `root`, a namespace's content, and dependents (those of `root` unless
    /// `orphan_root`); returns the deleted `root` as committed.
    fn cascade(&mut self, root: ObjKey, orphan_root: bool) -> Option<Value> {
        let mut queue = vec![root.clone()];
        let mut deleted_root = None;
        while let Some(key) = queue.pop() {
            let Some(stored) = self.objects.get(&key).cloned() else { continue };
            if key.0 == res::NAMESPACES {
                queue.extend(self.objects.keys().filter(|k| rt(k.0).namespaced && k.1 == key.2).cloned());
            }
            if !(orphan_root && key == root) {
                let uid = meta_str(&stored.obj, "uid").unwrap_or_default();
                queue.extend(self.dependents(&key, &uid));
            }
            let old = Arc::new(stored.obj.clone());
            let obj = self.commit(key.0, ChangeKind::Deleted, stored, Some(old));
            if key == root {
                deleted_root = Some(obj);
            }
        }
        deleted_root
    }

    /// Controller-side write: create or fully replace an object (status included) as `manager`.
    pub fn put_internal(&mut self, kind: Rt, mut obj: Value, manager: &str) -> Result<WriteOutcome, ApiError> {
        let ns = meta_str(&obj, "namespace");
        let name = meta_str(&obj, "name").unwrap_or_default();
        Self::normalize_body(kind, ns.as_deref(), Some(&name), &mut obj)?;
        let old = self.objects.get(&Self::key(kind, ns.as_deref(), &name)).cloned();
        if old.is_none() {
            self.check_namespace(kind, ns.as_deref())?;
        }
        let managers = Self::update_managers(kind, old.as_ref(), &obj, manager, None);
        self.finish(kind, obj, managers, old.as_ref(), false)
    }

    /// Controller-side status write.
    pub fn set_status(
        &mut self,
        kind: Rt,
        ns: Option<&str>,
        name: &str,
        status: Value,
        manager: &str,
    ) -> Result<WriteOutcome, ApiError> {
        let body = json!({"metadata": {"name": name}, "status": status});
        let old = self.objects.get(&Self::key(kind, ns, name)).cloned();
        let Some(old) = old else {
            return Err(ApiError::not_found(rt(kind), name));
        };
        let mut b = body;
        Self::normalize_body(kind, ns, Some(name), &mut b)?;
        let new_obj = self.merge_status(kind, &old.obj, b, Some("status"));
        let managers = Self::update_managers(kind, Some(&old), &new_obj, manager, Some("status"));
        self.finish(kind, new_obj, managers, Some(&old), false)
    }
}

/// Conflicts of an apply: a sent leaf owned by another manager (on the main resource) whose
/// value would change. Values are compared after defaulting, so an atomic list such as
/// `containers` that only differs by server defaults is not a conflict.
fn apply_conflicts(
    kind: Rt,
    obj: &Value,
    old_obj: &Value,
    sent: &BTreeMap<Path, Value>,
    managers: &[ManagerEntry],
    manager: &str,
) -> BTreeMap<Path, Vec<String>> {
    let mut defaulted = obj.clone();
    defaults::apply(kind, &mut defaulted, &mut String::new);
    let mut conflicts: BTreeMap<Path, Vec<String>> = BTreeMap::new();
    for p in sent.keys() {
        for m in managers.iter().filter(|m| m.manager != manager && m.subresource.is_none()) {
            if m.fields.contains(p) && util::get_path(&defaulted, p) != util::get_path(old_obj, p) {
                conflicts.entry(p.clone()).or_default().push(m.manager.clone());
            }
        }
    }
    conflicts
}

fn conflict_error(r: &res::ResourceType, name: &str, conflicts: &BTreeMap<Path, Vec<String>>) -> ApiError {
    let mut causes = Vec::new();
    let mut lines = Vec::new();
    for (p, owners) in conflicts {
        for o in owners {
            let field = util::render_path(p);
            lines.push(format!("conflict with \"{o}\": {field}"));
            causes.push(
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{o}\""), "field": field}),
            );
        }
    }
    let message = if lines.len() == 1 {
        format!("Apply failed with 1 conflict: {}", lines[0])
    } else {
        format!("Apply failed with {} conflicts: {}", lines.len(), lines.join("\n"))
    };
    ApiError {
        code: 409,
        reason: "Conflict".into(),
        message,
        details: Some(json!({"name": name, "group": r.group, "kind": r.plural, "causes": causes})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::new(broadcast::channel(16).0)
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": data})
    }

    #[test]
    fn fields_v1_format() {
        let l = leaves(
            &json!({"apiVersion": "apps/v1", "kind": "X", "metadata": {"name": "n", "labels": {"a": "b"}}, "spec": {"replicas": 1, "list": [1]}, "status": {"x": 1}}),
        );
        let f = fields_v1(&l.keys().cloned().collect());
        assert_eq!(f, json!({"f:metadata": {"f:labels": {"f:a": {}}}, "f:spec": {"f:replicas": {}, "f:list": {}}}));
    }

    #[test]
    fn apply_removes_fields_no_longer_sent_unless_shared() {
        let mut s = store();
        s.apply(2, Some("default"), "c", cm(json!({"x": "1", "y": "2"})), "a", false, false).expect("apply");
        s.apply(2, Some("default"), "c", cm(json!({"y": "2"})), "b", false, false).expect("apply b");
        let out = s.apply(2, Some("default"), "c", cm(json!({"z": "3"})), "a", false, false).expect("apply");
        assert_eq!(out.object["data"], json!({"y": "2", "z": "3"}));
    }

    #[test]
    fn orphan_and_background_deletion() {
        let mut s = store();
        let owner = s.create(2, Some("default"), cm(json!({})), "t", false).expect("owner").object;
        let uid = owner["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
        for name in ["d1", "d2"] {
            let mut d = cm(json!({}));
            d["metadata"]["name"] = json!(name);
            d["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": uid}, {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "other"}]);
            s.create(2, Some("default"), d, "t", false).expect("dependent");
        }
        let orphan = DeleteOptions { propagation: Some(Propagation::Orphan), ..DeleteOptions::default() };
        s.delete(2, Some("default"), "c", &orphan).expect("delete");
        let d1 = s.get(2, Some("default"), "d1").cloned().unwrap_or_default();
        assert_eq!(
            d1["metadata"]["ownerReferences"],
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "other"}])
        );
        s.delete(2, Some("default"), "d1", &DeleteOptions::default()).expect("delete d1");
        assert!(s.get(2, Some("default"), "d2").is_some());
        assert_eq!(default_propagation(res::JOBS), Propagation::Orphan);
        assert_eq!(default_propagation(res::STATEFULSETS), Propagation::Background);
    }

    #[test]
    fn conflict_message() {
        let mut s = store();
        s.apply(2, Some("default"), "c", cm(json!({"x": "1"})), "a", false, false).expect("apply");
        let e = s.apply(2, Some("default"), "c", cm(json!({"x": "2"})), "b", false, false).expect_err("conflict");
        assert_eq!(e.code, 409);
        assert_eq!(e.message, "Apply failed with 1 conflict: conflict with \"a\": .data.x");
        let out = s.apply(2, Some("default"), "c", cm(json!({"x": "2"})), "b", true, false).expect("force");
        assert_eq!(out.object["data"]["x"], "2");
        let mf = out.object["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
        let a = mf.iter().find(|e| e["manager"] == "a").cloned().unwrap_or_default();
        assert_eq!(a["fieldsV1"], json!({"f:metadata": {"f:labels": {"f:a": {}}}}));
    }
}
