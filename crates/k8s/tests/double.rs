//! apply / diff / status / destroy against the in-process API server double (`kube-double`):
//! the real `kube::Client`, real HTTP, a simulated controller.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deploy_k8s::{Cluster, ClusterOptions, Endpoint};
use deploy_orchestrator::{self as orchestrator, Selection};
use deploy_report::{Action, ApplyReport, Change, DestroyReport, DiffReport, Phase, Progress, StatusReport};
use deploy_topology::{Env, Topology};
use kube_double::{Behaviour, KubeDouble, RecordedRequest};

const BASE: &str = include_str!("../../../manifests/learn-greek.yaml");
const PROD: &str = include_str!("../../../profiles/prod.yaml");
const NS: &str = "learn-greek";

fn prod() -> Topology {
    deploy_topology::from_str("learn-greek.yaml", BASE, Some(("prod", PROD)))
        .unwrap_or_else(|e| panic!("{}", e.render()))
}
fn prod_with(edit: impl Fn(&str) -> String) -> Topology {
    deploy_topology::from_str("learn-greek.yaml", BASE, Some(("prod", &edit(PROD))))
        .unwrap_or_else(|e| panic!("{}", e.render()))
}
fn env() -> Env {
    Env::from_pairs([("JWT_SECRET_KEY", "jwt-secret-for-tests")])
}
fn opts(timeout: Duration) -> ApplyOptions {
    ApplyOptions { timeout, ..Default::default() }
}

/// What the CLI passes for `deploy apply --target k8s`.
#[derive(Default)]
struct ApplyOptions {
    services: Vec<String>,
    timeout: Duration,
    force_conflicts: bool,
    prune: bool,
    replace: bool,
    adopt: bool,
}

fn cluster<'a>(client: &kube::Client, t: &Topology, env: &'a Env, force_conflicts: bool) -> Cluster<'a> {
    let opts = ClusterOptions { force_conflicts, ..Default::default() };
    Cluster::new(client.clone(), Endpoint::default(), t, None, env, opts)
}

/// `deploy apply --target k8s`, as the CLI runs it: selection, then the orchestrator.
async fn apply(
    client: &kube::Client,
    t: &Topology,
    env: &Env,
    o: &ApplyOptions,
    progress: Arc<dyn Progress>,
) -> Result<ApplyReport, String> {
    let sel = Selection::with_dependencies(t, env, &o.services).map_err(|e| e.render())?;
    let copts =
        ClusterOptions { force_conflicts: o.force_conflicts, replace: o.replace, adopt: o.adopt, ..Default::default() };
    let c = Cluster::new(client.clone(), Endpoint::default(), t, None, env, copts);
    let opts = orchestrator::ApplyOptions { timeout: o.timeout, prune: o.prune, parallel: 32, atomic: false };
    Ok(orchestrator::apply(&c, &sel, &opts, progress).await)
}

async fn diff(client: &kube::Client, t: &Topology, env: &Env, services: &[String]) -> Result<DiffReport, String> {
    let sel = Selection::with_dependencies(t, env, services).map_err(|e| e.render())?;
    orchestrator::diff(&cluster(client, t, env, false), &sel, Duration::from_secs(20)).await.map_err(|e| e.to_string())
}

async fn status(client: &kube::Client, t: &Topology, services: &[String]) -> Result<StatusReport, String> {
    let sel = Selection::exactly(t, services).map_err(|e| e.render())?;
    let env = Env::default();
    orchestrator::status(&cluster(client, t, &env, false), &sel, Duration::from_secs(20))
        .await
        .map_err(|e| e.to_string())
}

async fn destroy(client: &kube::Client, t: &Topology, volumes: bool) -> Result<DestroyReport, String> {
    let sel = Selection::exactly(t, &[]).map_err(|e| e.render())?;
    let env = Env::default();
    let opts = orchestrator::DestroyOptions { timeout: Duration::from_secs(20), volumes };
    Ok(orchestrator::destroy(&cluster(client, t, &env, false), t, &sel, &opts, Arc::new(Recorder::default())).await)
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(String, Phase, Instant)>>);
impl Progress for Recorder {
    fn update(&self, service: &str, phase: &Phase, _: Duration) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((
            service.to_string(),
            phase.clone(),
            Instant::now(),
        ));
    }
    fn note(&self, _: &str) {}
}
impl Recorder {
    fn events(&self) -> Vec<(String, Phase, Instant)> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Applies the prod topology and expects every service ready (where most tests start).
async fn apply_prod(client: &kube::Client) {
    let r = apply(client, &prod(), &env(), &opts(Duration::from_secs(20)), Arc::new(Recorder::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok, "{}", r.text());
}

async fn double() -> KubeDouble {
    KubeDouble::start().await.unwrap_or_else(|e| panic!("start kube-double: {e}"))
}

fn patches(reqs: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    reqs.iter().filter(|r| r.method == "PATCH").collect()
}
fn watches(reqs: &[RecordedRequest]) -> Vec<&RecordedRequest> {
    reqs.iter().filter(|r| r.is_watch()).collect()
}
fn summary(reqs: &[RecordedRequest]) -> String {
    reqs.iter().map(|r| format!("{} {}?{}", r.method, r.path, r.query)).collect::<Vec<_>>().join("\n")
}
fn position(reqs: &[&RecordedRequest], path_end: &str) -> usize {
    reqs.iter().position(|r| r.path.ends_with(path_end)).unwrap_or_else(|| panic!("no request for {path_end}"))
}

#[tokio::test]
async fn apply_creates_everything_in_order_and_waits_then_reapply_changes_nothing() {
    let d = double().await;
    let client = d.client();
    let t = prod();
    let plan = deploy_k8s::render_with(&t, &env(), deploy_k8s::SecretMode::Resolved)
        .unwrap_or_else(|e| panic!("{}", e.render()));
    let rec = Arc::new(Recorder::default());
    let started = Instant::now();
    let r =
        apply(&client, &t, &env(), &opts(Duration::from_secs(20)), rec.clone()).await.unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    assert!(r.ok, "{}", r.text());
    assert_eq!(r.services.len(), 4);
    assert!(r.services.iter().all(|s| s.ready && s.action == Action::Created), "{}", r.text());

    let reqs = d.requests();
    let p = patches(&reqs);
    assert_eq!(p.len(), plan.objects.len(), "one apply request per object:\n{}", summary(&reqs));
    assert!(p.iter().all(|r| r.content_type.as_deref() == Some("application/apply-patch+yaml")), "{}", summary(&reqs));
    assert!(p[0].path.ends_with("/namespaces/learn-greek"), "namespace first:\n{}", summary(&reqs));
    let secret = position(&p, "/secrets/backend-env");
    for w in ["/statefulsets/redis", "/statefulsets/postgres", "/deployments/backend", "/deployments/frontend"] {
        assert!(secret < position(&p, w), "secrets before workloads:\n{}", summary(&reqs));
    }
    // backend depends on redis and postgres being healthy, frontend on backend.
    assert!(position(&p, "/statefulsets/redis") < position(&p, "/deployments/backend"));
    assert!(position(&p, "/statefulsets/postgres") < position(&p, "/deployments/backend"));
    assert!(position(&p, "/deployments/backend") < position(&p, "/deployments/frontend"));
    let ready_at =
        |svc: &str| rec.events().iter().find(|(s, ph, _)| s == svc && *ph == Phase::Ready).map(|e| e.2).expect("ready");
    // the workload's own `Creating` is the service's last one (its Secret and Service come first)
    let workload_applied_at = |svc: &str| {
        rec.events().iter().rev().find(|(s, ph, _)| s == svc && *ph == Phase::Creating).map(|e| e.2).expect("creating")
    };
    assert!(ready_at("redis") <= workload_applied_at("backend"), "backend applied only after redis is ready");
    assert!(ready_at("postgres") <= workload_applied_at("backend"));
    assert!(ready_at("backend") <= workload_applied_at("frontend"));
    // waiting is watching: at most a workload watch and a pod watch per workload, no GET loops.
    let w = watches(&reqs);
    assert!(w.len() <= 2 * 4, "{}", summary(&reqs));
    let gets = reqs.iter().filter(|r| r.method == "GET" && !r.is_watch()).count();
    assert!(
        gets <= 18,
        "the namespace (lock, prepare), the Lease (take, release), one list per managed kind, \
         one per kind of object to create (is it another project's?):\n{}",
        summary(&reqs)
    );
    eprintln!(
        "first apply: {} requests ({} PATCH, {} WATCH, {} other GET) in {took:?}",
        reqs.len(),
        p.len(),
        w.len(),
        gets
    );

    // re-apply: nothing changes, no new generation, nothing to wait for.
    let gen_before = d.get("StatefulSet", Some(NS), "redis").and_then(|s| s["metadata"]["generation"].as_i64());
    d.reset_requests();
    let started = Instant::now();
    let r = apply(&client, &t, &env(), &opts(Duration::from_secs(20)), Arc::new(Recorder::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let took = started.elapsed();
    assert!(r.ok, "{}", r.text());
    assert!(r.services.iter().all(|s| s.action == Action::Unchanged && s.phase == Phase::Unchanged), "{}", r.text());
    assert!(r.text().contains("nothing to do"), "{}", r.text());
    let gen_after = d.get("StatefulSet", Some(NS), "redis").and_then(|s| s["metadata"]["generation"].as_i64());
    assert_eq!(gen_before, gen_after);
    let reqs = d.requests();
    assert_eq!(patches(&reqs).len(), plan.objects.len() - 1, "every object but the namespace, which exists");
    assert_eq!(watches(&reqs).len(), 0, "nothing to wait for:\n{}", summary(&reqs));
    eprintln!("re-apply: {} requests ({} PATCH, 0 WATCH) in {took:?}", reqs.len(), patches(&reqs).len());

    // diff: nothing changed.
    d.reset_requests();
    let df = diff(&client, &t, &env(), &[]).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!df.has_changes(), "{}", df.text());
    let reqs = d.requests();
    eprintln!("diff (no changes): {} requests ({} dry-run PATCH)", reqs.len(), patches(&reqs).len());
    assert!(patches(&reqs).iter().all(|r| r.query.contains("dryRun=All")));

    // status
    let st = status(&client, &t, &[]).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(st.all_ready(), "{}", st.text());
    let redis = st.services.iter().find(|s| s.service == "redis").expect("redis");
    assert_eq!(redis.object.as_deref(), Some("StatefulSet/redis"));
    assert_eq!(redis.state, "1/1 ready");
    assert!(!redis.detail.is_empty(), "pods listed");
}

#[tokio::test]
async fn a_changed_limit_is_a_one_field_diff_and_an_update() {
    let d = double().await;
    let client = d.client();
    apply_prod(&client).await;
    let gen_before =
        d.get("StatefulSet", Some(NS), "redis").and_then(|s| s["metadata"]["generation"].as_i64()).expect("gen");
    let t = prod_with(|p| p.replace("cpus: 0.25", "cpus: 0.5"));
    d.reset_requests();
    let df = diff(&client, &t, &env(), &[]).await.unwrap_or_else(|e| panic!("{e}"));
    let changed: Vec<_> = df.objects.iter().filter(|o| o.change != Change::Unchanged).collect();
    assert_eq!(changed.len(), 1, "{}", df.text());
    assert_eq!((changed[0].kind.as_str(), changed[0].name.as_str()), ("StatefulSet", "redis"));
    assert_eq!(changed[0].fields.len(), 1, "{}", df.text());
    let f = &changed[0].fields[0];
    assert_eq!(f.path, "spec.template.spec.containers[0].resources.limits.cpu");
    assert_eq!((f.live.as_deref(), f.planned.as_deref()), (Some("250m"), Some("500m")));
    assert_eq!(df.exit_status(), deploy_report::ExitStatus::Changes);
    eprintln!("diff (one change): {} requests", d.requests().len());

    let r = apply(&client, &t, &env(), &opts(Duration::from_secs(20)), Arc::new(Recorder::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok, "{}", r.text());
    let action = |s: &str| r.services.iter().find(|x| x.service == s).map(|x| x.action).expect("svc");
    assert_eq!(action("redis"), Action::Updated);
    assert_eq!(action("postgres"), Action::Unchanged);
    let sts = d.get("StatefulSet", Some(NS), "redis").expect("sts");
    assert_eq!(sts["metadata"]["generation"].as_i64(), Some(gen_before + 1));
    assert_eq!(sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"], "500m");
}

#[tokio::test]
async fn a_conflict_names_the_other_manager() {
    let d = double().await;
    let client = d.client();
    apply_prod(&client).await;
    // someone else takes over the memory limit
    let mut sts = d.get("StatefulSet", Some(NS), "redis").expect("sts");
    sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "512Mi".into();
    let obj = serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "redis", "namespace": NS},
        "spec": {"template": {"spec": {"containers": [{"name": "redis", "image": "redis:7-alpine", "resources": {"limits": {"memory": "512Mi"}}}]}},
                 "selector": sts["spec"]["selector"], "serviceName": "redis"}
    });
    d.apply_as("kubectl-edit", obj).unwrap_or_else(|e| panic!("{e}"));
    let t = prod_with(|p| p.replace("memory: 256M", "memory: 300M"));
    let r = apply(&client, &t, &env(), &opts(Duration::from_secs(20)), Arc::new(Recorder::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!r.ok);
    let err = r.error.clone().unwrap_or_default();
    assert!(
        err.contains("\"kubectl-edit\"") && err.contains("--force-conflicts") && err.contains("StatefulSet/redis"),
        "{err}"
    );
    // with --force-conflicts it goes through
    let mut o = opts(Duration::from_secs(20));
    o.force_conflicts = true;
    let r = apply(&client, &t, &env(), &o, Arc::new(Recorder::default())).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok, "{}", r.text());
    let sts = d.get("StatefulSet", Some(NS), "redis").expect("sts");
    assert_eq!(sts["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"], "300Mi");
}

#[tokio::test]
async fn a_never_ready_workload_times_out_with_its_reason() {
    let d = double().await;
    let client = d.client();
    d.set_behaviour("redis", Behaviour::ImagePullBackOff);
    let rec = Arc::new(Recorder::default());
    let started = Instant::now();
    let r = apply(&client, &prod(), &env(), &opts(Duration::from_millis(1500)), rec.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(!r.ok);
    let redis = r.services.iter().find(|s| s.service == "redis").expect("redis");
    let Phase::Failed { reason } = &redis.phase else { panic!("{:?}", redis.phase) };
    assert!(reason.contains("timed out") && reason.contains("ImagePullBackOff"), "{reason}");
    assert!(redis.detail.iter().any(|l| l.contains("ImagePullBackOff")), "{:?}", redis.detail);
    // progress showed the reason while waiting
    assert!(
        rec.events()
            .iter()
            .any(|(s, p, _)| s == "redis"
                && matches!(p, Phase::Waiting { reason } if reason.contains("ImagePullBackOff")))
    );
    // backend needs a healthy redis: never applied
    let backend = r.services.iter().find(|s| s.service == "backend").expect("backend");
    assert!(matches!(&backend.phase, Phase::Failed { reason } if reason.contains("redis")), "{:?}", backend.phase);
    assert!(d.get("Deployment", Some(NS), "backend").is_none());

    // a Deployment in CrashLoopBackOff
    let d = double().await;
    d.set_behaviour("frontend", Behaviour::CrashLoopBackOff);
    let t = deploy_topology::from_str(
        "x.yaml",
        "name: web\nservices:\n  frontend:\n    image: nginx\n    expose: [80]\n",
        None,
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    let r = apply(&d.client(), &t, &Env::default(), &opts(Duration::from_millis(800)), Arc::new(Recorder::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let f = &r.services[0];
    assert!(!f.ready);
    assert!(matches!(&f.phase, Phase::Failed { reason } if reason.contains("CrashLoopBackOff")), "{:?}", f.phase);
    assert!(r.error.unwrap_or_default().contains("CrashLoopBackOff"));
}

#[tokio::test]
async fn the_wait_reacts_to_a_status_change_within_milliseconds() {
    let d = Arc::new(double().await);
    let t =
        deploy_topology::from_str("x.yaml", "name: web\nservices:\n  web:\n    image: nginx\n    expose: [80]\n", None)
            .unwrap_or_else(|e| panic!("{}", e.render()));
    d.set_behaviour("web", Behaviour::Never);
    let client = d.client();
    let task = tokio::spawn(async move {
        apply(&client, &t, &Env::default(), &opts(Duration::from_secs(20)), Arc::new(Recorder::default())).await
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    d.reset_requests();
    let changed = Instant::now();
    d.set_behaviour("web", Behaviour::ReadyAfter(Duration::ZERO));
    let r = task.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}"));
    let reacted = changed.elapsed();
    assert!(r.ok, "{}", r.text());
    assert!(reacted < Duration::from_millis(150), "took {reacted:?} after the status change");
    // Only the release of the project's Lease at the end.
    let reqs: Vec<RecordedRequest> = d.requests().into_iter().filter(|r| !r.path.contains("/leases/")).collect();
    assert!(reqs.is_empty(), "no request while waiting (it was a watch):\n{}", summary(&reqs));
    eprintln!("ready seen {reacted:?} after the status change");
}

#[tokio::test]
async fn prune_deletes_only_labelled_objects_and_destroy_keeps_claims() {
    let d = double().await;
    let client = d.client();
    apply_prod(&client).await;
    // an object someone else made in the namespace
    d.apply_as(
        "someone",
        serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other", "namespace": NS},
        "spec": {"ports": [{"port": 1}]}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // the topology without frontend
    let base = BASE.replace("  frontend:\n    image: learn-greek-frontend:latest\n    build:\n      context: ./learn-greek-easy-frontend\n      dockerfile: Dockerfile\n    depends_on:\n      backend:\n        condition: service_healthy\n    networks: [learn-greek-network]\n\n", "");
    let prof = PROD.split("  backend:").collect::<Vec<_>>();
    let prof = format!("services:\n  backend:{}", prof.get(1).copied().unwrap_or_default());
    let t = deploy_topology::from_str("learn-greek.yaml", &base, Some(("prod", &prof)))
        .unwrap_or_else(|e| panic!("{}", e.render()));
    assert!(!t.services.contains_key("frontend"));
    let df = diff(&client, &t, &env(), &[]).await.unwrap_or_else(|e| panic!("{e}"));
    let deletes: Vec<String> =
        df.objects.iter().filter(|o| o.change == Change::Delete).map(|o| format!("{}/{}", o.kind, o.name)).collect();
    assert_eq!(deletes.len(), 3, "{deletes:?}");
    let mut o = opts(Duration::from_secs(20));
    o.prune = true;
    let r = apply(&client, &t, &env(), &o, Arc::new(Recorder::default())).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok, "{}", r.text());
    let mut pruned = r.pruned.clone();
    pruned.sort();
    assert_eq!(pruned, vec!["Deployment/frontend", "NetworkPolicy/frontend-published", "Service/frontend"]);
    assert!(d.get("Service", Some(NS), "other").is_some());
    assert!(d.get("Deployment", Some(NS), "frontend").is_none());

    // destroy keeps the data and the namespace
    let pvcs = d.list("PersistentVolumeClaim", Some(NS));
    assert!(!pvcs.is_empty(), "the controller created the claims");
    let r = destroy(&client, &t, false).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.kept.contains(&"PersistentVolumeClaim/redis-data-redis-0".to_string()), "{}", r.text());
    assert!(r.removed.contains(&"StatefulSet/redis".to_string()), "{}", r.text());
    assert!(d.get("StatefulSet", Some(NS), "redis").is_none());
    assert!(d.get("PersistentVolumeClaim", Some(NS), "redis-data-redis-0").is_some());
    assert!(d.get("Namespace", None, NS).is_some());
    assert!(d.get("Service", Some(NS), "other").is_some());
    // with --volumes: the claims go; the namespace deploy created stays while it holds someone else's Service
    let r = destroy(&client, &t, true).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.removed.contains(&"PersistentVolumeClaim/redis-data-redis-0".to_string()), "{}", r.text());
    assert!(!r.removed.contains(&format!("Namespace/{NS}")), "{}", r.text());
    assert!(d.get("Service", Some(NS), "other").is_some());
    // once it is gone, the namespace goes too
    d.delete("Service", Some(NS), "other").unwrap_or_else(|e| panic!("{e}"));
    let r = destroy(&client, &t, true).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.removed.contains(&format!("Namespace/{NS}")), "{}", r.text());
    assert!(d.get("Namespace", None, NS).is_none());
}

#[tokio::test]
async fn a_namespace_deploy_did_not_create_is_never_labelled_or_deleted() {
    let d = double().await;
    let client = d.client();
    d.ensure_namespace(NS).unwrap_or_else(|e| panic!("{e}"));
    d.apply_as(
        "someone",
        serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other", "namespace": NS},
        "spec": {"ports": [{"port": 1}]}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut o = opts(Duration::from_secs(20));
    o.services = vec!["redis".into()];
    let r = apply(&client, &prod(), &env(), &o, Arc::new(Recorder::default())).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok, "{}", r.text());
    let ns = d.get("Namespace", None, NS).unwrap_or_else(|| panic!("namespace"));
    assert!(ns["metadata"]["labels"].get("app.kubernetes.io/managed-by").is_none(), "not labelled: {ns:#}");
    assert!(ns["metadata"]["annotations"].get(deploy_k8s::render::CREATED_BY).is_none(), "{ns:#}");
    let df = diff(&client, &prod(), &env(), &["redis".into()]).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!df.has_changes(), "diff agrees: the namespace is left as it is\n{}", df.text());
    let r = destroy(&client, &prod(), true).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.error.is_none(), "{}", r.text());
    assert!(!r.removed.iter().any(|x| x.starts_with("Namespace/")), "{}", r.text());
    assert!(d.get("Namespace", None, NS).is_some(), "the namespace stays");
    assert!(d.get("Service", Some(NS), "other").is_some(), "and so does what others put in it");
    assert!(d.get("StatefulSet", Some(NS), "redis").is_none(), "deploy's own objects are gone");
}

#[tokio::test]
async fn nothing_is_sent_when_a_required_variable_is_missing() {
    let d = double().await;
    let e = apply(&d.client(), &prod(), &Env::default(), &opts(Duration::from_secs(5)), Arc::new(Recorder::default()))
        .await
        .expect_err("error");
    assert!(e.to_string().contains("JWT_SECRET_KEY"), "{e}");
    assert!(d.requests().is_empty(), "no partial apply");
}

#[tokio::test]
async fn a_selection_needs_only_its_own_variables_and_sends_only_its_objects() {
    let d = double().await;
    let client = d.client();
    let t = prod();
    let mut o = opts(Duration::from_secs(20));
    o.services = vec!["redis".into()];
    // JWT_SECRET_KEY belongs to backend, which redis does not depend on.
    let r =
        apply(&client, &t, &Env::default(), &o, Arc::new(Recorder::default())).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok, "{}", r.text());
    assert_eq!(r.services.iter().map(|s| s.service.as_str()).collect::<Vec<_>>(), ["redis"]);
    assert!(d.get("StatefulSet", Some(NS), "redis").is_some());
    let reqs = d.requests();
    let sent: Vec<&str> = patches(&reqs).iter().map(|r| r.path.as_str()).collect();
    assert!(sent.iter().all(|p| !p.contains("backend") && !p.contains("frontend")), "{sent:#?}");
    assert!(d.get("Secret", Some(NS), "backend-env").is_none(), "backend's Secret is not sent");

    // diff of the same selection: same variables, and redis is now unchanged
    let df = diff(&client, &t, &Env::default(), &["redis".into()]).await.unwrap_or_else(|e| panic!("{e}"));
    let redis = df.objects.iter().find(|o| o.kind == "StatefulSet" && o.name == "redis").expect("redis in the diff");
    assert_eq!(redis.change, Change::Unchanged, "{}", df.text());
    assert!(df.objects.iter().all(|o| o.service.as_deref() != Some("backend")), "{}", df.text());

    // backend depends on redis and postgres and needs its own secret: still checked before any request
    d.reset_requests();
    o.services = vec!["backend".into()];
    let e = apply(&client, &t, &Env::default(), &o, Arc::new(Recorder::default())).await.expect_err("error");
    assert!(e.to_string().contains("JWT_SECRET_KEY"), "{e}");
    assert!(d.requests().is_empty(), "no partial apply:\n{}", summary(&d.requests()));
}

fn uid(d: &KubeDouble, kind: &str, name: &str) -> String {
    let o = d.get(kind, Some(NS), name).unwrap_or_else(|| panic!("no {kind}/{name}"));
    o["metadata"]["uid"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_larger_volume_is_a_replacement_that_apply_makes_only_with_replace() {
    let d = double().await;
    let client = d.client();
    apply_prod(&client).await;
    let t = prod_with(|p| p.replace("name: learn-greek-redis-data", "name: learn-greek-redis-data\n    size: 2Gi"));
    let storage = "spec.volumeClaimTemplates[0].spec.resources.requests.storage";

    // diff: a replacement of the StatefulSet, exit 2
    let df = diff(&client, &t, &env(), &[]).await.unwrap_or_else(|e| panic!("{e}"));
    let changed: Vec<_> = df.objects.iter().filter(|o| o.change != Change::Unchanged).collect();
    assert_eq!(changed.len(), 1, "{}", df.text());
    assert_eq!((changed[0].kind.as_str(), changed[0].name.as_str()), ("StatefulSet", "redis"));
    assert_eq!(changed[0].fields.len(), 1, "{}", df.text());
    let f = &changed[0].fields[0];
    assert_eq!(f.path, format!("{storage} (immutable: the StatefulSet is replaced)"));
    assert_eq!((f.live.as_deref(), f.planned.as_deref()), (Some("1Gi"), Some("2Gi")));
    assert_eq!(df.exit_status(), deploy_report::ExitStatus::Changes);

    // apply without --replace: redis fails with what would happen, nothing changes
    let (sts_uid, pod_uid, pvc_uid) = (
        uid(&d, "StatefulSet", "redis"),
        uid(&d, "Pod", "redis-0"),
        uid(&d, "PersistentVolumeClaim", "redis-data-redis-0"),
    );
    let generation =
        |d: &KubeDouble| d.get("StatefulSet", Some(NS), "redis").and_then(|s| s["metadata"]["generation"].as_i64());
    let gen_before = generation(&d);
    d.reset_requests();
    let r = apply(&client, &t, &env(), &opts(Duration::from_secs(20)), Arc::new(Recorder::default()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!r.ok, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains(&format!("StatefulSet/redis: {storage} 1Gi -> 2Gi cannot change in place"))
            && text.contains("`deploy apply --replace` deletes the StatefulSet keeping its pods and claims (orphan)")
            && text.contains("larger claims"),
        "{text}"
    );
    let reqs = d.requests();
    let writes: Vec<_> = reqs.iter().filter(|r| r.method != "GET" && r.path.contains("redis")).collect();
    assert!(writes.iter().all(|r| r.path.contains("/leases/")), "nothing of redis written:\n{}", summary(&reqs));
    assert_eq!((uid(&d, "StatefulSet", "redis"), generation(&d)), (sts_uid.clone(), gen_before));

    // apply --replace: a new StatefulSet, the same pod and claim, the claim grown
    let mut o = opts(Duration::from_secs(20));
    o.replace = true;
    let r = apply(&client, &t, &env(), &o, Arc::new(Recorder::default())).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok, "{}", r.text());
    let reqs = d.requests();
    assert!(reqs.iter().any(|r| r.method == "DELETE" && r.path.ends_with("/statefulsets/redis")), "{}", summary(&reqs));
    let redis = r.services.iter().find(|s| s.service == "redis").expect("redis");
    assert_eq!(redis.action, Action::Recreated, "{}", r.text());
    assert!(redis.detail.iter().any(|l| l.contains("redis-data-redis-0: 1Gi -> 2Gi")), "{}", r.text());
    assert_ne!(uid(&d, "StatefulSet", "redis"), sts_uid);
    assert_eq!(uid(&d, "Pod", "redis-0"), pod_uid, "the orphaned pod was adopted, not deleted");
    assert_eq!(uid(&d, "PersistentVolumeClaim", "redis-data-redis-0"), pvc_uid);
    let pvc = d.get("PersistentVolumeClaim", Some(NS), "redis-data-redis-0").expect("pvc");
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "2Gi");
    let sts = d.get("StatefulSet", Some(NS), "redis").expect("sts");
    assert_eq!(sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"], "2Gi");
    let df = diff(&client, &t, &env(), &[]).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!df.has_changes(), "{}", df.text());
}

#[tokio::test]
async fn a_smaller_volume_is_refused_even_with_replace() {
    let d = double().await;
    let client = d.client();
    apply_prod(&client).await;
    let sts_uid = uid(&d, "StatefulSet", "redis");
    let t = prod_with(|p| p.replace("name: learn-greek-redis-data", "name: learn-greek-redis-data\n    size: 512M"));
    let mut o = opts(Duration::from_secs(20));
    o.replace = true;
    let r = apply(&client, &t, &env(), &o, Arc::new(Recorder::default())).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!r.ok, "{}", r.text());
    assert!(r.text().contains("Kubernetes cannot shrink a PersistentVolumeClaim"), "{}", r.text());
    assert_eq!(uid(&d, "StatefulSet", "redis"), sts_uid);
}

#[tokio::test]
async fn an_object_of_another_project_is_never_taken_over_without_adopt() {
    let d = double().await;
    let client = d.client();
    d.ensure_namespace(NS).unwrap_or_else(|e| panic!("{e}"));
    // Another project (say a Helm release, or another topology) already has a Service named `redis` here.
    d.apply_as(
        "someone",
        serde_json::json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "redis", "namespace": NS, "labels": {"app.kubernetes.io/instance": "cache-team"}},
            "spec": {"ports": [{"port": 6379}]}}),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut o = opts(Duration::from_secs(20));
    o.services = vec!["redis".into()];
    let r = apply(&client, &prod(), &env(), &o, Arc::new(Recorder::default())).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!r.ok, "{}", r.text());
    let e = r.error.clone().unwrap_or_default();
    assert!(e.contains("Service/redis") && e.contains("cache-team") && e.contains("--adopt"), "{e}");
    assert!(d.get("StatefulSet", Some(NS), "redis").is_none(), "nothing of redis was applied");
    let svc = d.get("Service", Some(NS), "redis").unwrap_or_else(|| panic!("service"));
    assert_eq!(svc["metadata"]["labels"]["app.kubernetes.io/instance"], "cache-team", "left as it was");
    // With --adopt it is taken over.
    o.adopt = true;
    let r = apply(&client, &prod(), &env(), &o, Arc::new(Recorder::default())).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok, "{}", r.text());
    let svc = d.get("Service", Some(NS), "redis").unwrap_or_else(|| panic!("service"));
    assert_eq!(svc["metadata"]["labels"]["app.kubernetes.io/instance"], "learn-greek");
}
