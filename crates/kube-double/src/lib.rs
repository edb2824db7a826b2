//! `kube-double`: an in-process Kubernetes API server double for tests.
//!
//! [`KubeDouble::start`] serves a real HTTP API on `127.0.0.1:<random port>` that the real
//! `kube::Client` talks to: get/list/watch, server-side apply with field ownership and
//! conflicts, create/replace/merge-patch, delete with propagation policies, pod logs, plus a
//! simulated StatefulSet/Deployment/Job controller whose behaviour per workload is set with
//! [`KubeDouble::set_behaviour`]. Discovery, a minimal OpenAPI v3 and server-side Tables make
//! it usable by `kubectl` too. See the crate README for what is and is not modelled.

mod controller;
mod defaults;
mod discovery;
mod exec;
mod logs;
mod openapi;
mod resources;
mod selector;
mod server;
mod store;
mod table;
mod util;

pub use controller::Behaviour;
pub use exec::{ExecReply, ExecRequest, Responder};
pub use resources::ApiError;

use resources::Rt;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use store::Store;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// One request as received by the double.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `PATCH`, ...
    pub method: String,
    /// The URL path, e.g. `/apis/apps/v1/namespaces/default/statefulsets/redis`.
    pub path: String,
    /// The raw query string (percent-encoded, without `?`), empty if none.
    pub query: String,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Accept` header, if any (kubectl asks for Tables and aggregated discovery with it).
    pub accept: Option<String>,
}

impl RecordedRequest {
    /// Whether the query has `watch=true` / `watch=1`.
    pub fn is_watch(&self) -> bool {
        form_urlencoded::parse(self.query.as_bytes()).any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) struct Inner {
    pub(crate) store: Mutex<Store>,
    pub(crate) requests: Mutex<Vec<RecordedRequest>>,
    pub(crate) controller: controller::Controller,
    /// What `pods/{name}/exec` answers, and the commands run.
    pub(crate) execs: exec::Execs,
    pub(crate) runtime: tokio::runtime::Handle,
}

/// A running API server double. Dropping it stops the server and the simulated controller.
pub struct KubeDouble {
    inner: Arc<Inner>,
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for KubeDouble {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.inner.controller.abort_all();
    }
}

impl KubeDouble {
    /// Binds `127.0.0.1:0` and starts serving on the current tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        let (tx, _) = broadcast::channel(65_536);
        let store = Store::new(tx);
        let rx = store.subscribe();
        let inner = Arc::new(Inner {
            store: Mutex::new(store),
            requests: Mutex::new(Vec::new()),
            controller: controller::Controller::default(),
            execs: Default::default(),
            runtime: tokio::runtime::Handle::current(),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = server::router(inner.clone());
        let serve = tokio::spawn(async move {
            // The server only stops when aborted; an accept error ends it.
            let _ = axum::serve(listener, app).await;
        });
        let ctl = tokio::spawn(controller::run(inner.clone(), rx));
        Ok(Self { inner, addr, tasks: vec![serve, ctl] })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A `kube::Client` for the double with default namespace `default`.
    pub fn client(&self) -> kube::Client {
        self.client_in("default")
    }

    /// A `kube::Client` for the double with the given default namespace.
    pub fn client_in(&self, namespace: &str) -> kube::Client {
        let mut config = kube::Config::new(self.url().parse().unwrap_or_default());
        config.default_namespace = namespace.to_owned();
        config.read_timeout = None;
        // Building a plain-http client from a valid Config does not fail.
        kube::Client::try_from(config).unwrap_or_else(|e| unreachable!("kube client for {}: {e}", self.url()))
    }

    /// The kubeconfig YAML that points at the double (context `kube-double`, given namespace).
    pub fn kubeconfig_yaml(&self, namespace: &str) -> String {
        self.kubeconfig_text(Some(namespace))
    }

    fn kubeconfig_text(&self, namespace: Option<&str>) -> String {
        let namespace = namespace.map(|n| format!("    namespace: {n}\n")).unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-double\n  cluster:\n    server: {url}\ncontexts:\n- name: kube-double\n  context:\n    cluster: kube-double\n    user: kube-double\n{namespace}current-context: kube-double\nusers:\n- name: kube-double\n  user: {{}}\npreferences: {{}}\n",
            url = self.url()
        )
    }

    /// Writes a kubeconfig whose context names no namespace (as kind and
    /// minikube write theirs), so a binary can be pointed at the double via `KUBECONFIG`.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_text(None))
    }

    /// Writes a kubeconfig whose context has the given namespace.
    pub fn write_kubeconfig_in(&self, path: impl AsRef<Path>, namespace: &str) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml(namespace))
    }

    /// Server-side applies `object` (which must carry `apiVersion`, `kind`, `metadata.name` and,
    /// when namespaced, `metadata.namespace`) as field manager `manager`, with `force`.
    /// Use it to seed objects owned by another manager, e.g. to provoke conflicts.
    pub fn apply_as(&self, manager: &str, object: Value) -> Result<Value, ApiError> {
        let (kind, ns, name) = identify(&object)?;
        let out = lock(&self.inner.store).apply(kind, ns.as_deref(), &name, object, manager, true, false)?;
        Ok(out.object)
    }

    /// Creates the namespace if it does not exist.
    pub fn ensure_namespace(&self, name: &str) -> Result<(), ApiError> {
        let obj = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        let mut store = lock(&self.inner.store);
        if store.get(resources::NAMESPACES, None, name).is_none() {
            store.create(resources::NAMESPACES, None, obj, "kube-double", false)?;
        }
        Ok(())
    }

    /// Replaces an object's `status` (as a controller would through the status subresource).
    pub fn set_status(
        &self,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        status: Value,
    ) -> Result<Value, ApiError> {
        let kind = kind_of(kind)?;
        Ok(lock(&self.inner.store).set_status(kind, namespace, name, status, "kube-double")?.object)
    }

    /// Deletes an object with the API server's default propagation for its kind: dependents
    /// (by `ownerReferences`) are deleted too, except for a Job, whose pods are orphaned.
    pub fn delete(&self, kind: &str, namespace: Option<&str>, name: &str) -> Result<Value, ApiError> {
        let kind = kind_of(kind)?;
        lock(&self.inner.store).delete(kind, namespace, name, &store::DeleteOptions::default())
    }

    /// One object by kind (`"StatefulSet"`, or a plural like `"statefulsets"`), namespace and name.
    pub fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let kind = resources::by_kind_name(kind)?;
        lock(&self.inner.store).get(kind, namespace, name).cloned()
    }

    /// All objects of a kind, in one namespace or (with `None`) everywhere.
    pub fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(kind) = resources::by_kind_name(kind) else { return Vec::new() };
        lock(&self.inner.store).list(kind, namespace).into_iter().cloned().collect()
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        lock(&self.inner.store).resource_version()
    }

    /// Sets how the simulated controller treats the StatefulSet/Deployment/Job called `workload`
    /// (in any namespace), and re-reconciles existing workloads of that name (a finished Job
    /// stays finished).
    pub fn set_behaviour(&self, workload: &str, behaviour: Behaviour) {
        self.inner.controller.set_behaviour(Some(workload), behaviour);
        controller::resync(&self.inner, Some(workload));
    }

    /// Sets how the simulated controller treats the pods of any workload whose pod template
    /// uses `image` (in any container), over the workload's own behaviour: e.g. an image the
    /// cluster never pulls (`ImagePullBackOff`), while the workload's previous image still runs.
    /// Takes effect at each workload's next reconcile (a new generation, as an image change is).
    pub fn set_image_behaviour(&self, image: &str, behaviour: Behaviour) {
        self.inner.controller.set_image_behaviour(image, behaviour);
    }

    /// Sets the behaviour for workloads without their own (initially `ReadyAfter(5 ms)`).
    pub fn set_default_behaviour(&self, behaviour: Behaviour) {
        self.inner.controller.set_behaviour(None, behaviour);
    }

    /// Sets the log text (`pods/{name}/log`) of every pod of the workload called `workload` (in
    /// any namespace; a pod without a controller owner uses its own name). It takes precedence
    /// over a [`Behaviour::Fails`] log; without either, logs are empty.
    pub fn set_logs(&self, workload: &str, text: &str) {
        self.inner.controller.set_logs(workload, text);
    }

    /// Every request received since start or the last [`reset_requests`](Self::reset_requests).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }

    pub fn reset_requests(&self) {
        lock(&self.inner.requests).clear();
    }
}

fn kind_of(kind: &str) -> Result<Rt, ApiError> {
    resources::by_kind_name(kind).ok_or_else(|| ApiError::bad_request(format!("kube-double does not serve {kind:?}")))
}

fn identify(object: &Value) -> Result<(Rt, Option<String>, String), ApiError> {
    let av = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
    let rt = resources::by_kind(av, kind)
        .ok_or_else(|| ApiError::bad_request(format!("kube-double does not serve {av} {kind}")))?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("metadata.name is required"))?
        .to_owned();
    let ns = if resources::rt(rt).namespaced {
        Some(object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_owned())
    } else {
        None
    };
    Ok((rt, ns, name))
}
