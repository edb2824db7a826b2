//! A topology on one Kubernetes cluster: the k8s target's hooks for the shared
//! orchestrator ([`deploy_orchestrator::Backend`]). Objects are server-side
//! applied as field manager `deploy`; readiness is watched ([`crate::wait`]).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use deploy_orchestrator::{
    Backend, Converged, Done, Failure, Holder, Lock, Next, NotPrepared, Removed, Selection, Step,
};
use deploy_report::{Action, DiffReport, Phase, Progress, ServiceStatus};
use deploy_topology::{Env, Topology};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::error::{Error, conflict_message, describe};
use crate::names::k8s_name;
use crate::object::{MANAGED_KINDS, Object, labels};
use crate::ops::{self, FIELD_MANAGER, RESTART_MANAGER, RESTARTED_AT};
use crate::render::{CREATED_BY, Rendered, TEMPLATE_HASH, render_for_apply};
use crate::replace::{self, Replacement};
use crate::wait::{self, Rollout, Workload};

/// Options only the Kubernetes target has.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// Take over fields owned by other field managers.
    pub force_conflicts: bool,
    /// Restart the pods of every applied workload, even unchanged ones.
    pub force_recreate: bool,
    /// Re-create a StatefulSet whose immutable fields changed (pods and claims
    /// orphaned, then adopted; claims grown to a larger size).
    pub replace: bool,
    /// Take over objects another project's label claims.
    pub adopt: bool,
}

/// Where the client connects, for messages, and the namespace its context names.
#[derive(Clone, Debug, Default)]
pub struct Endpoint {
    pub server: String,
    pub context: Option<String>,
    /// The context's `namespace`, when it sets one: used when neither `-n`
    /// nor the topology names one (as kubectl and Helm do).
    pub namespace: Option<String>,
}

/// A client from the user's kubeconfig (`kubeconfig` when given, else
/// `KUBECONFIG` or `~/.kube/config`; `context` picks a context, else the
/// current one), falling back to the in-cluster service account. Connecting
/// and sending are bounded by `timeout`.
pub async fn client(
    context: Option<&str>,
    kubeconfig: Option<&Path>,
    timeout: Duration,
) -> Result<(Client, Endpoint), Error> {
    let named = |e: &dyn std::fmt::Display| match (kubeconfig, context) {
        (Some(p), _) => Error::Config(format!("kubeconfig `{}`: {e}", p.display())),
        (None, Some(c)) => Error::Config(format!("context `{c}`: {e}")),
        (None, None) => Error::Config(e.to_string()),
    };
    let kc = match kubeconfig {
        Some(p) => Some(Kubeconfig::read_from(p).map_err(|e| named(&e))?),
        None => Kubeconfig::read().ok(),
    };
    let opts = KubeConfigOptions { context: context.map(String::from), ..Default::default() };
    let mut config = match (&kc, context, kubeconfig) {
        (Some(kc), _, Some(_)) => Config::from_custom_kubeconfig(kc.clone(), &opts).await.map_err(|e| named(&e))?,
        (_, Some(_), None) => Config::from_kubeconfig(&opts).await.map_err(|e| named(&e))?,
        _ => Config::infer().await.map_err(|e| named(&e))?,
    };
    let bound = timeout.clamp(Duration::from_millis(100), Duration::from_secs(30));
    config.connect_timeout = Some(bound);
    config.write_timeout = Some(bound);
    let current = context.map(String::from).or_else(|| kc.as_ref().and_then(|k| k.current_context.clone()));
    let namespace = kc.as_ref().zip(current.as_deref()).and_then(|(k, c)| context_namespace(k, c));
    let endpoint = Endpoint { server: config.cluster_url.to_string(), context: current, namespace };
    Ok((Client::try_from(config).map_err(|e| Error::Config(e.to_string()))?, endpoint))
}

/// The namespace the kubeconfig's context `name` sets, if any.
fn context_namespace(kc: &Kubeconfig, name: &str) -> Option<String> {
    kc.contexts.iter().find(|c| c.name == name)?.context.as_ref()?.namespace.clone().filter(|n| !n.is_empty())
}

/// `Kind/name` → (kind, name, resourceVersion) of what existed before the apply.
type Versions = HashMap<String, (&'static str, String, String)>;

/// A topology on one cluster: the Kubernetes target's [`Backend`].
pub struct Cluster<'a> {
    client: Client,
    endpoint: Endpoint,
    t: Topology,
    env: &'a Env,
    opts: ClusterOptions,
    /// The renewal of the project's Lease while this command holds it.
    pub(crate) renewal: Mutex<Option<tokio::task::AbortHandle>>,
    /// Filled by `prepare`.
    plan: OnceLock<Rendered>,
    before: OnceLock<Versions>,
    /// Services whose Secret, Service or claims changed in `prepare`.
    changed: Mutex<HashSet<String>>,
    /// Services whose StatefulSet has immutable fields to change (found by `prepare`).
    replacements: OnceLock<HashMap<String, Replacement>>,
    /// `apply --atomic`: what `prepare` listed before changing anything.
    atomic: crate::atomic::State,
}

impl<'a> Cluster<'a> {
    /// `t` in `namespace` when given, else in the topology's own `namespace`,
    /// else in the namespace of the kubeconfig context (`endpoint`), else in
    /// the namespace named after the project.
    pub fn new(
        client: Client,
        endpoint: Endpoint,
        t: &Topology,
        namespace: Option<&str>,
        env: &'a Env,
        opts: ClusterOptions,
    ) -> Self {
        let mut t = t.clone();
        match (namespace, &endpoint.namespace) {
            (Some(ns), _) => t.namespace = ns.to_string(),
            (None, Some(ns)) if !t.namespace_set => t.namespace = ns.clone(),
            _ => {}
        }
        let (plan, before, changed) = (OnceLock::new(), OnceLock::new(), Mutex::new(HashSet::new()));
        let replacements = OnceLock::new();
        let (renewal, atomic) = (Mutex::new(None), Default::default());
        Cluster { client, endpoint, t, env, opts, renewal, plan, before, changed, replacements, atomic }
    }

    pub(crate) fn ns(&self) -> &str {
        &self.t.namespace
    }
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
    pub(crate) fn topology(&self) -> &Topology {
        &self.t
    }

    fn pp(&self) -> PatchParams {
        let pp = PatchParams::apply(FIELD_MANAGER);
        // Adopting an object means taking over the fields its owner set.
        if self.opts.force_conflicts || self.opts.adopt { pp.force() } else { pp }
    }

    /// A kube error as a sentence naming the server.
    fn describe(&self, e: &kube::Error) -> String {
        if let kube::Error::Api(_) = e {
            return describe(e);
        }
        let mut cause = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(inner) = src {
            cause = inner.to_string();
            src = inner.source();
        }
        let ctx = self.endpoint.context.as_deref().map(|c| format!(", context `{c}`")).unwrap_or_default();
        format!("cannot reach the Kubernetes API at {}{ctx}: {cause}", self.endpoint.server)
    }

    fn apply_error(&self, o: &Object, e: &kube::Error) -> String {
        match e {
            kube::Error::Api(s) if s.code == 409 => conflict_message(&o.id(), s),
            other => format!("{}: {}", o.id(), self.describe(other)),
        }
    }
}

impl Backend for Cluster<'_> {
    type Handle = Workload;
    type Checkpoint = crate::atomic::Checkpoint;

    fn target(&self) -> &'static str {
        "k8s"
    }
    fn project(&self) -> &str {
        &self.t.name
    }
    fn endpoint(&self) -> String {
        let ctx = self.endpoint.context.as_deref().map(|c| format!(" (context `{c}`)")).unwrap_or_default();
        format!("the Kubernetes API at {}{ctx}", self.endpoint.server)
    }
    /// The topology's secrets, and once rendered every value of its Secrets
    /// (which carry all the secrets the pods use).
    fn secret_values(&self) -> Vec<String> {
        let mut out = deploy_orchestrator::topology_secrets(&self.t, self.env);
        for o in self.plan.get().into_iter().flat_map(|r| &r.objects) {
            if let Object::Secret(s) = o {
                let data = s.data.iter().flatten().map(|(_, v)| String::from_utf8_lossy(&v.0).into_owned());
                out.extend(data.chain(s.string_data.iter().flatten().map(|(_, v)| v.clone())));
            }
        }
        out
    }
    async fn try_lock(&self, holder: &Holder, _timeout: Duration) -> Result<Lock, String> {
        crate::lease::try_lock(self, holder)
            .await
            .map_err(|e| format!("taking the project's Lease: {}", self.describe(&e)))
    }
    async fn unlock(&self, holder: &Holder) {
        crate::lease::unlock(self, holder).await;
    }
    async fn prepare(&self, sel: &Selection, progress: &dyn Progress) -> Result<Vec<String>, NotPrepared> {
        self.prepare_objects(sel, progress).await
    }
    async fn converge(&self, service: &str, step: &Step<'_>) -> Result<Converged<Workload>, Failure> {
        let obj =
            self.plan.get().and_then(|p| p.workload(service)).ok_or_else(|| Failure::new("no workload rendered"))?;
        match obj {
            Object::Job(job) => self.converge_job(obj, job, step).await,
            _ => self.converge_workload(service, obj, step).await,
        }
    }
    async fn wait(&self, service: &str, w: Workload, step: &Step<'_>) -> Result<Done, Failure> {
        let is_job = matches!(w, Workload::Job(_));
        let selector = wait::pod_selector(&self.t.name, service);
        let report = |reason: &str| step.phase(Phase::Waiting { reason: reason.to_string() });
        match wait::wait_ready(&self.client, self.ns(), &selector, w, step.deadline, &report).await {
            Ok(w) if w.ready && is_job => Ok(Done::Completed(vec!["Job complete".into()])),
            Ok(w) if w.ready => Ok(Done::Ready(Vec::new())),
            Ok(w) => Err(Failure::new(w.reason).with_detail(w.detail)),
            Err(Error::Kube(e)) => Err(Failure::new(self.describe(&e))),
            Err(e) => Err(Failure::new(e.to_string())),
        }
    }
    async fn prune(&self, sel: &Selection, delete: bool) -> Result<Vec<String>, String> {
        self.prune_objects(sel, delete).await.map_err(|e| self.describe(&e))
    }
    async fn remove(&self, service: &str, volumes: &[String], _: &Step<'_>) -> Result<Removed, String> {
        let claim = |pvc: &str| claim_of(pvc, service, volumes);
        self.remove_labelled(Some(service), &claim).await.map_err(|e| self.describe(&e))
    }
    async fn remove_project(&self, volumes: bool) -> Result<Removed, String> {
        let mut r = self.remove_labelled(None, &|_| volumes).await.map_err(|e| self.describe(&e))?;
        if volumes && self.delete_own_namespace().await.map_err(|e| self.describe(&e))? {
            r.removed.push(format!("Namespace/{}", self.ns()));
        }
        Ok(r)
    }
    async fn status(&self, sel: &Selection) -> Result<Vec<ServiceStatus>, String> {
        ops::status(&self.client, &self.t, sel).await.map_err(|e| self.error(e))
    }
    async fn diff(&self, sel: &Selection) -> Result<DiffReport, String> {
        ops::diff(&self.client, &self.t, self.env, sel).await.map_err(|e| self.error(e))
    }
    async fn exec(&self, service: &str, command: &[String]) -> Result<deploy_orchestrator::Exec, String> {
        crate::verify::exec(self, service, command).await
    }
    async fn restart(&self, service: &str, step: &Step<'_>) -> Result<Vec<String>, Failure> {
        crate::verify::restart(self, service, step).await
    }
    async fn checkpoint(&self, service: &str) -> Result<crate::atomic::Checkpoint, String> {
        Ok(crate::atomic::checkpoint(&self.atomic, service))
    }
    async fn restore(
        &self,
        service: &str,
        cp: crate::atomic::Checkpoint,
        step: &Step<'_>,
    ) -> Result<Option<deploy_orchestrator::Restoration>, Failure> {
        crate::atomic::restore(self, service, cp, step).await
    }
    async fn release(&self, _: &str, _: crate::atomic::Checkpoint) -> Result<(), String> {
        Ok(())
    }
    async fn dry_run(&self, sel: &Selection) -> Result<DiffReport, String> {
        ops::dry_run(&self.client, &self.t, self.env, sel).await.map_err(|e| self.error(e))
    }
}

/// Whether claim `pvc` of `service` holds one of the topology `volumes`: a
/// StatefulSet's `<volume>-<service>-<ordinal>`, or `<service>-<volume>`.
fn claim_of(pvc: &str, service: &str, volumes: &[String]) -> bool {
    volumes.iter().map(|v| k8s_name(v)).any(|v| {
        pvc == format!("{service}-{v}")
            || pvc.strip_prefix(&format!("{v}-{service}-")).is_some_and(|o| o.parse::<u32>().is_ok())
    })
}

impl Cluster<'_> {
    fn error(&self, e: Error) -> String {
        match e {
            Error::Kube(k) => self.describe(&k),
            other => other.to_string(),
        }
    }

    /// Renders the plan, reads what exists, then applies the namespace and the
    /// selected services' Secrets, NetworkPolicies, Services and claims.
    async fn prepare_objects(&self, sel: &Selection, progress: &dyn Progress) -> Result<Vec<String>, NotPrepared> {
        let fail = |message: String, services: Vec<(String, String)>| NotPrepared { message, services };
        let plan = render_for_apply(&self.t, self.env, sel.services()).map_err(|e| fail(e.render(), Vec::new()))?;
        let kinds = [
            "Secret",
            "ConfigMap",
            "Service",
            "StatefulSet",
            "Deployment",
            "Job",
            "NetworkPolicy",
            "PersistentVolumeClaim",
        ];
        let before = ops::list_managed(&self.client, self.ns(), &self.t.name, None, &kinds)
            .await
            .map_err(|e| fail(self.describe(&e), Vec::new()))?;
        self.check_owners(&plan, sel, &before).await?;
        self.atomic.remember(&before);
        let replacements = replacements(&plan, &before);
        // A service that cannot go ahead (a replacement not allowed) is left as it is, side objects included.
        let blocked = |s: Option<&str>| {
            s.and_then(|s| replacements.get(s)).is_some_and(|r| !self.opts.replace || !r.shrink.is_empty())
        };
        let rv = |o: &Object| o.metadata().resource_version.clone().unwrap_or_default();
        let before: Versions = before.iter().map(|o| (o.id(), (o.kind(), o.name().to_string(), rv(o)))).collect();
        let ns_exists = Api::<Namespace>::all(self.client.clone())
            .get_opt(self.ns())
            .await
            .map_err(|e| fail(self.describe(&e), Vec::new()))?
            .is_some();
        // A namespace that exists is not ours to label or change: only an absent one is created.
        let mut first: Vec<&Object> = ops::selected_objects(&plan, sel.services())
            .into_iter()
            .filter(|o| !(o.is_workload() || ns_exists && matches!(o, Object::Namespace(_)) || blocked(o.service())))
            .collect();
        first.sort_by_key(|o| rank(o));
        for o in first {
            if let Some(s) = o.service() {
                progress.update(s, &Phase::Creating, Duration::ZERO);
            }
            let live = ops::patch_object(&self.client, o, &self.pp()).await.map_err(|e| {
                let msg = self.apply_error(o, &e);
                fail(msg.clone(), o.service().map(|s| vec![(s.to_string(), msg)]).unwrap_or_default())
            })?;
            let rv = live.metadata().resource_version.clone().unwrap_or_default();
            if let Some(s) = o.service()
                && before.get(&o.id()).map(|b| &b.2) != Some(&rv)
                && let Ok(mut c) = self.changed.lock()
            {
                c.insert(s.to_string());
            }
        }
        let warnings = plan.warnings.clone();
        let _ = self.plan.set(plan);
        let _ = self.before.set(before);
        let _ = self.replacements.set(replacements);
        Ok(warnings)
    }

    /// Refuses to take over an object the plan would create but that exists
    /// already and belongs to another project (its `app.kubernetes.io/instance`
    /// says so), unless `--adopt`. Requests: one list per kind of such object,
    /// none when everything planned is already this project's.
    async fn check_owners(&self, plan: &Rendered, sel: &Selection, before: &[Object]) -> Result<(), NotPrepared> {
        if self.opts.adopt {
            return Ok(());
        }
        let ours: HashSet<String> = before.iter().map(Object::id).collect();
        let new: Vec<&Object> = ops::selected_objects(plan, sel.services())
            .into_iter()
            .filter(|o| !matches!(o, Object::Namespace(_)) && !ours.contains(&o.id()))
            .collect();
        let mut kinds: Vec<&str> = new.iter().map(|o| o.kind()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        if kinds.is_empty() {
            return Ok(());
        }
        let selector = format!("{0},{0}!={1}", labels::INSTANCE, self.t.name);
        let others = ops::list_selected(&self.client, self.ns(), &selector, &kinds)
            .await
            .map_err(|e| NotPrepared { message: self.describe(&e), services: Vec::new() })?;
        let taken: Vec<(String, String)> = new
            .iter()
            .filter_map(|o| {
                let other = others.iter().find(|x| x.id() == o.id())?;
                let owner = other.metadata().labels.as_ref()?.get(labels::INSTANCE)?;
                let msg = format!(
                    "{} exists and belongs to project `{owner}` (label {}); deploy does not take it over: rename the service, use another namespace, or pass --adopt",
                    o.id(),
                    labels::INSTANCE
                );
                Some((o.service().unwrap_or_default().to_string(), msg))
            })
            .collect();
        if taken.is_empty() {
            return Ok(());
        }
        let message = taken.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>().join("; ");
        Err(NotPrepared { message, services: taken })
    }

    /// Applies a StatefulSet or Deployment (and restarts it with `--force-recreate`).
    async fn converge_workload(
        &self,
        service: &str,
        obj: &Object,
        step: &Step<'_>,
    ) -> Result<Converged<Workload>, Failure> {
        let replacement = self.replacements.get().and_then(|r| r.get(service));
        if let Some(r) = replacement {
            if !self.opts.replace || !r.shrink.is_empty() {
                return Err(Failure::new(r.message(&obj.id())).on(Some(obj.id())));
            }
            step.phase(Phase::Removing);
            replace::delete_orphaning(&self.client, self.ns(), obj.name(), step.remaining())
                .await
                .map_err(|e| Failure::new(format!("{}: {e}", obj.id())).on(Some(obj.id())))?;
        }
        step.phase(Phase::Creating);
        let mut live = ops::patch_object(&self.client, obj, &self.pp())
            .await
            .map_err(|e| Failure::new(self.apply_error(obj, &e)).on(Some(obj.id())))?;
        let rv = live.metadata().resource_version.clone().unwrap_or_default();
        let side_changed = self.changed.lock().map(|c| c.contains(service)).unwrap_or(false);
        let mut action = match self.before.get().and_then(|b| b.get(&obj.id())) {
            None => Action::Created,
            Some((_, _, old)) if *old != rv || side_changed => Action::Updated,
            Some(_) => Action::Unchanged,
        };
        let mut detail = Vec::new();
        if let Some(r) = replacement {
            detail = self.finish_replacement(obj, r).await?;
            action = Action::Recreated;
        }
        if self.opts.force_recreate {
            live = self.restart(obj).await.map_err(|e| {
                Failure::new(format!("{}: restart: {}", obj.id(), self.describe(&e))).on(Some(obj.id()))
            })?;
            action = Action::Recreated;
        }
        let w = match live {
            Object::StatefulSet(s) => Workload::StatefulSet(s),
            Object::Deployment(d) => Workload::Deployment(d),
            _ => return Err(Failure::new(format!("{} is not a workload", obj.id()))),
        };
        Ok(Converged { action, object: Some(obj.id()), detail, next: Next::Wait(w) })
    }

    /// After a StatefulSet was re-created: grows its existing claims, and says what was done.
    async fn finish_replacement(&self, obj: &Object, r: &Replacement) -> Result<Vec<String>, Failure> {
        let mut detail: Vec<String> = r
            .changes
            .iter()
            .map(|c| {
                let (a, b) = (c.live.as_deref().unwrap_or("(none)"), c.planned.as_deref().unwrap_or("(none)"));
                format!("re-created (pods and claims kept): {} {a} -> {b}", c.path)
            })
            .collect();
        if !r.grow.is_empty() {
            let grown = replace::grow_claims(&self.client, self.ns(), &self.t.name, obj.name(), &r.grow)
                .await
                .map_err(|e| Failure::new(format!("{}: growing claims: {}", obj.id(), self.describe(&e))))?;
            detail.extend(grown.into_iter().map(|g| format!("{g} (expanded where the storage class allows it)")));
        }
        Ok(detail)
    }

    /// `kubectl rollout restart`: a merge patch of the pod-template annotation, as a separate manager.
    async fn restart(&self, obj: &Object) -> Result<Object, kube::Error> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let body = serde_json::json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: format!("{}", now.as_nanos())}}}}});
        let pp = PatchParams { field_manager: Some(RESTART_MANAGER.into()), ..Default::default() };
        let (client, ns) = (self.client.clone(), self.ns());
        Ok(match obj {
            Object::StatefulSet(_) => Object::StatefulSet(
                Api::<StatefulSet>::namespaced(client, ns).patch(obj.name(), &pp, &Patch::Merge(&body)).await?,
            ),
            _ => Object::Deployment(
                Api::<Deployment>::namespaced(client, ns).patch(obj.name(), &pp, &Patch::Merge(&body)).await?,
            ),
        })
    }
}

/// Per service, its StatefulSet's immutable changes: the plan against what
/// `prepare` listed (no request of its own).
fn replacements(plan: &Rendered, live: &[Object]) -> HashMap<String, Replacement> {
    let mut out = HashMap::new();
    for o in plan.objects.iter().filter(|o| matches!(o, Object::StatefulSet(_))) {
        let (Some(service), Some(l)) = (o.service(), live.iter().find(|l| l.id() == o.id())) else { continue };
        if let Some(r) = Replacement::between(&l.to_json(), &o.to_json()) {
            out.insert(service.to_string(), r);
        }
    }
    out
}

/// Apply order of the objects that come before workloads.
fn rank(o: &Object) -> u8 {
    match o {
        Object::Namespace(_) => 0,
        Object::Secret(_) | Object::ConfigMap(_) => 1,
        Object::NetworkPolicy(_) => 2,
        Object::Service(_) => 3,
        Object::PersistentVolumeClaim(_) => 4,
        _ => 5,
    }
}

impl Cluster<'_> {
    /// A one-shot's Job: left alone when complete with the same template,
    /// awaited when running, re-created when its template changed or it failed.
    async fn converge_job(&self, obj: &Object, job: &Job, step: &Step<'_>) -> Result<Converged<Workload>, Failure> {
        let api: Api<Job> = Api::namespaced(self.client.clone(), self.ns());
        let id = Some(obj.id());
        let live = api.get_opt(obj.name()).await.map_err(|e| Failure::new(self.describe(&e)).on(id.clone()))?;
        let hash = |j: &Job| j.metadata.annotations.as_ref().and_then(|a| a.get(TEMPLATE_HASH)).cloned();
        let mut action = Action::Created;
        let mut detail = Vec::new();
        if let Some(l) = live {
            let same = hash(&l) == hash(job) && !self.opts.force_recreate;
            match wait::job_rollout(&l) {
                Rollout::Ready if same => {
                    let done = Done::Completed(vec!["already completed; not run again".into()]);
                    return Ok(Converged { action: Action::Unchanged, object: id, detail, next: Next::Settled(done) });
                }
                Rollout::Progressing(_) if same => {
                    return Ok(Converged {
                        action: Action::Unchanged,
                        object: id,
                        detail,
                        next: Next::Wait(Workload::Job(l)),
                    });
                }
                Rollout::Failed(r) if same => detail.push(format!("run again: the last run failed ({r})")),
                _ => detail.push("re-created: its pod template changed (a Job's template is immutable)".into()),
            }
            step.phase(Phase::Removing);
            self.delete_and_forget(&api, obj.name(), step).await.map_err(|f| f.on(id.clone()))?;
            action = Action::Recreated;
        }
        step.phase(Phase::Creating);
        let applied = ops::patch_object(&self.client, obj, &self.pp())
            .await
            .map_err(|e| Failure::new(self.apply_error(obj, &e)).on(id.clone()))?;
        let Object::Job(j) = applied else { return Err(Failure::new("the server returned no Job")) };
        Ok(Converged { action, object: id, detail, next: Next::Wait(Workload::Job(j)) })
    }

    /// Deletes a Job with its pods (background propagation: a Job's own
    /// default would orphan them) and waits until the name is free.
    async fn delete_and_forget(&self, api: &Api<Job>, name: &str, step: &Step<'_>) -> Result<(), Failure> {
        ops::delete_object(&self.client, "Job", self.ns(), name).await.map_err(|e| Failure::new(self.describe(&e)))?;
        while api.get_opt(name).await.map_err(|e| Failure::new(self.describe(&e)))?.is_some() {
            if step.remaining().is_zero() {
                return Err(Failure::new(format!("Job/{name} was deleted but is still there")));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(())
    }

    /// Objects of this project that the plan no longer has (never claims), as
    /// `prepare` listed them: no request unless `delete`.
    async fn prune_objects(&self, sel: &Selection, delete: bool) -> Result<Vec<String>, kube::Error> {
        let (Some(plan), Some(before)) = (self.plan.get(), self.before.get()) else { return Ok(Vec::new()) };
        if sel.is_partial() {
            return Ok(Vec::new());
        }
        let planned: HashSet<String> = plan.objects.iter().map(Object::id).collect();
        let mut gone: Vec<(&String, &(&'static str, String, String))> = before
            .iter()
            .filter(|(id, (kind, _, _))| !planned.contains(*id) && *kind != "PersistentVolumeClaim")
            .collect();
        gone.sort_by_key(|(id, _)| *id);
        let mut out = Vec::new();
        for (id, (kind, name, _)) in gone {
            if delete {
                ops::delete_object(&self.client, kind, self.ns(), name).await?;
            }
            out.push(id.clone());
        }
        Ok(out)
    }

    /// Deletes the objects of this project (of one service when given); a
    /// claim only when `delete_claim` says so, else it is reported kept.
    async fn remove_labelled(
        &self,
        service: Option<&str>,
        delete_claim: &dyn Fn(&str) -> bool,
    ) -> Result<Removed, kube::Error> {
        let mut out = Removed::default();
        for o in ops::list_managed(&self.client, self.ns(), &self.t.name, service, MANAGED_KINDS).await? {
            if matches!(o, Object::PersistentVolumeClaim(_)) && !delete_claim(o.name()) {
                out.kept.push(o.id());
                continue;
            }
            ops::delete_object(&self.client, o.kind(), self.ns(), o.name()).await?;
            out.removed.push(o.id());
        }
        Ok(out)
    }

    /// Deletes the namespace when this project created it (its annotation says
    /// so) and it holds nothing of anyone else's.
    async fn delete_own_namespace(&self) -> Result<bool, kube::Error> {
        let Some(n) = Api::<Namespace>::all(self.client.clone()).get_opt(self.ns()).await? else { return Ok(false) };
        let created = n.metadata.annotations.as_ref().and_then(|a| a.get(CREATED_BY));
        if created != Some(&self.t.name) || !self.foreign_objects().await?.is_empty() {
            return Ok(false);
        }
        ops::delete_object(&self.client, "Namespace", "", self.ns()).await?;
        Ok(true)
    }

    /// Objects in the namespace that this project does not own (`Kind/name`).
    pub async fn foreign_objects(&self) -> Result<Vec<String>, kube::Error> {
        let ours = |o: &kube::api::ObjectMeta| {
            let l = o.labels.as_ref();
            l.and_then(|l| l.get(labels::INSTANCE)) == Some(&self.t.name)
                && l.and_then(|l| l.get(labels::MANAGED_BY)).map(String::as_str) == Some(labels::MANAGER)
        };
        let mut out = Vec::new();
        let lp = kube::api::ListParams::default();
        macro_rules! scan {
            ($t:ty, $kind:expr) => {
                for o in Api::<$t>::namespaced(self.client.clone(), self.ns()).list(&lp).await?.items {
                    if !ours(&o.metadata) && !ours_by_owner(&o.metadata) {
                        out.push(format!("{}/{}", $kind, o.metadata.name.unwrap_or_default()));
                    }
                }
            };
        }
        scan!(k8s_openapi::api::core::v1::Service, "Service");
        scan!(k8s_openapi::api::core::v1::Secret, "Secret");
        scan!(k8s_openapi::api::core::v1::ConfigMap, "ConfigMap");
        scan!(k8s_openapi::api::core::v1::PersistentVolumeClaim, "PersistentVolumeClaim");
        scan!(k8s_openapi::api::core::v1::Pod, "Pod");
        scan!(StatefulSet, "StatefulSet");
        scan!(Deployment, "Deployment");
        scan!(Job, "Job");
        Ok(out)
    }
}

/// Objects the cluster makes for ours (a Job's pods carry its labels, but
/// service-account tokens and the like do not): owned by something.
fn ours_by_owner(m: &kube::api::ObjectMeta) -> bool {
    m.owner_references.as_ref().is_some_and(|o| !o.is_empty())
}
