//! batch/v1 Jobs through the real `kube::Client`: defaulting, validation, the simulated Job
//! controller, and delete propagation (Jobs orphan their pods by default).

mod common;

use common::*;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Error, ResourceExt};
use kube_double::{Behaviour, KubeDouble};
use serde_json::json;
use std::time::Duration;

fn api_error(e: Error) -> kube::core::Status {
    match e {
        Error::Api(s) => *s,
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

fn jobs(s: &KubeDouble) -> Api<Job> {
    Api::namespaced(s.client(), "default")
}

fn pods(s: &KubeDouble) -> Api<Pod> {
    Api::namespaced(s.client(), "default")
}

async fn apply_job(s: &KubeDouble, j: &Job) -> Job {
    jobs(s).patch(&j.name_any(), &PatchParams::apply("deploy"), &Patch::Apply(j)).await.expect("apply job")
}

fn failed_condition(j: Option<&Job>) -> bool {
    j.and_then(|j| j.status.as_ref())
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Failed" && c.status == "True"))
}

/// The pods of a Job, found by the generated `job-name` label as a client would.
async fn job_pods(s: &KubeDouble, job: &str) -> Vec<Pod> {
    pods(s).list(&ListParams::default().labels(&format!("job-name={job}"))).await.expect("pods").items
}

fn terminated(p: &Pod) -> Option<(i32, String)> {
    let cs = p.status.as_ref()?.container_statuses.as_ref()?.first()?;
    let t = cs.state.as_ref()?.terminated.as_ref()?;
    Some((t.exit_code, t.reason.clone().unwrap_or_default()))
}

#[tokio::test]
async fn job_is_defaulted_like_the_apiserver() {
    let s = server().await;
    s.set_behaviour("migrate", Behaviour::Never);
    let j = apply_job(&s, &job("migrate", "migrate:1", "Never")).await;
    let uid = j.uid().expect("uid");
    assert_eq!(j.metadata.generation, Some(1));
    let spec = j.spec.clone().expect("spec");
    assert_eq!(spec.backoff_limit, Some(6));
    assert_eq!((spec.completions, spec.parallelism), (Some(1), Some(1)));
    assert_eq!(spec.completion_mode.as_deref(), Some("NonIndexed"));
    assert_eq!(spec.suspend, Some(false));
    assert_eq!(spec.manual_selector, None);
    assert_eq!(spec.pod_replacement_policy.as_deref(), Some("TerminatingOrFailed"));
    let selector = spec.selector.expect("selector").match_labels.expect("matchLabels");
    assert_eq!(
        selector.into_iter().collect::<Vec<_>>(),
        [("batch.kubernetes.io/controller-uid".to_owned(), uid.clone())]
    );
    let labels = spec.template.metadata.clone().expect("template metadata").labels.expect("labels");
    for (k, v) in [
        ("app", "migrate"),
        ("batch.kubernetes.io/controller-uid", uid.as_str()),
        ("batch.kubernetes.io/job-name", "migrate"),
        ("controller-uid", uid.as_str()),
        ("job-name", "migrate"),
    ] {
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "template label {k}");
    }
    // A Job without labels of its own gets the template's.
    assert_eq!(j.labels(), &labels);
    let pod_spec = spec.template.spec.expect("pod spec");
    assert_eq!(pod_spec.restart_policy.as_deref(), Some("Never"));
    assert_eq!(pod_spec.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(pod_spec.termination_grace_period_seconds, Some(30));
    assert_eq!(pod_spec.containers[0].image_pull_policy.as_deref(), Some("IfNotPresent"));
    // Selectors work on the defaulted labels.
    let listed = jobs(&s).list(&ListParams::default().labels("app=migrate")).await.expect("list");
    assert_eq!(listed.items.len(), 1);
    // The same apply again writes nothing; a dry-run create stores nothing.
    let rv = jobs(&s).get("migrate").await.expect("get").resource_version();
    let again = apply_job(&s, &job("migrate", "migrate:1", "Never")).await;
    assert_eq!(again.resource_version(), rv, "a no-op apply must not write");
    let pp = PatchParams::apply("deploy").dry_run();
    jobs(&s).patch("dry", &pp, &Patch::Apply(&job("dry", "x:1", "Never"))).await.expect("dry run");
    assert!(s.get("Job", Some("default"), "dry").is_none());
}

#[tokio::test]
async fn job_validation_and_immutable_template() {
    let s = server().await;
    let api = jobs(&s);
    let pp = PatchParams::apply("deploy");
    let e = api_error(api.patch("bad", &pp, &Patch::Apply(&job("bad", "x:1", "Always"))).await.expect_err("Always"));
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        e.message,
        "Job.batch \"bad\" is invalid: spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
    );
    let mut missing = job_json("bad", "x:1", "Never");
    missing["spec"]["template"]["spec"].as_object_mut().expect("spec").remove("restartPolicy");
    let e = api_error(api.create(&PostParams::default(), &job_of(missing)).await.expect_err("missing"));
    assert_eq!(
        e.message,
        "Job.batch \"bad\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
    // A hand-written selector needs manualSelector: true.
    let mut manual = job_json("manual", "x:1", "Never");
    manual["spec"]["selector"] = json!({"matchLabels": {"app": "manual"}});
    let e = api_error(api.create(&PostParams::default(), &job_of(manual.clone())).await.expect_err("selector"));
    assert!(
        e.message.contains("spec.selector: Invalid value: ") && e.message.ends_with("`selector` not auto-generated")
    );
    manual["spec"]["manualSelector"] = json!(true);
    let created = api.create(&PostParams::default(), &job_of(manual)).await.expect("manual selector");
    assert!(!created.spec.expect("spec").template.metadata.expect("md").labels.expect("l").contains_key("job-name"));

    // The pod template is immutable: a changed image is 422, by apply and by replace.
    s.set_behaviour("once", Behaviour::Never);
    apply_job(&s, &job("once", "migrate:1", "Never")).await;
    let e =
        api_error(api.patch("once", &pp, &Patch::Apply(&job("once", "migrate:2", "Never"))).await.expect_err("imm"));
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(e.message.starts_with("Job.batch \"once\" is invalid: spec.template: Invalid value: "), "{}", e.message);
    assert!(e.message.ends_with(": field is immutable"), "{}", e.message);
    let mut changed = api.get("once").await.expect("get");
    if let Some(spec) = changed.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        spec.containers[0].image = Some("migrate:2".into());
    }
    let e = api_error(api.replace("once", &PostParams::default(), &changed).await.expect_err("replace"));
    assert!(e.message.contains("spec.template: Invalid value"), "{}", e.message);
    // Mutable fields are fine and bump the generation.
    let mut more = job_json("once", "migrate:1", "Never");
    more["spec"]["backoffLimit"] = json!(2);
    let updated = api.patch("once", &pp, &Patch::Apply(&more)).await.expect("backoffLimit is mutable");
    assert_eq!(updated.metadata.generation, Some(2));
    // SSA conflicts work as for other kinds.
    s.apply_as("helm", {
        let mut j = job_json("once", "migrate:1", "Never");
        j["spec"]["backoffLimit"] = json!(3);
        j
    })
    .expect("helm");
    let e = api_error(api.patch("once", &pp, &Patch::Apply(&more)).await.expect_err("conflict"));
    assert_eq!(e.code, 409);
    assert_eq!(e.message, "Apply failed with 1 conflict: conflict with \"helm\": .spec.backoffLimit");
}

#[tokio::test]
async fn job_runs_one_pod_to_completion() {
    let s = server().await;
    // Long enough for the reads below to see it running on a loaded machine.
    s.set_behaviour("migrate", Behaviour::ReadyAfter(Duration::from_secs(3)));
    let created = apply_job(&s, &job("migrate", "migrate:1", "Never")).await;
    // Right after the create: one active pod, still creating.
    let j = jobs(&s).get("migrate").await.expect("get");
    let st = j.status.clone().expect("status");
    assert_eq!((st.active, st.ready, st.terminating, st.succeeded), (Some(1), Some(0), Some(0), None));
    assert!(st.start_time.is_some() && st.completion_time.is_none() && st.conditions.is_none());
    assert!(st.uncounted_terminated_pods.is_some());
    let running = job_pods(&s, "migrate").await;
    assert_eq!(running.len(), 1);
    let name = running[0].name_any();
    assert!(name.starts_with("migrate-") && name.len() == "migrate-".len() + 5, "{name}");
    assert_eq!(running[0].status.as_ref().and_then(|s| s.phase.as_deref()), Some("Pending"));

    let done =
        await_condition(jobs(&s), "migrate", conditions::is_job_completed()).await.expect("wait").expect("exists");
    let st = done.status.expect("status");
    assert_eq!((st.succeeded, st.active, st.failed), (Some(1), None, None));
    assert!(st.completion_time.is_some());
    assert_eq!(st.start_time, j.status.and_then(|s| s.start_time), "startTime is kept");
    let conds = st.conditions.expect("conditions");
    let summary: Vec<_> = conds.iter().map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_deref())).collect();
    assert_eq!(
        summary,
        [("SuccessCriteriaMet", "True", Some("CompletionsReached")), ("Complete", "True", Some("CompletionsReached"))]
    );
    assert!(conds.iter().all(|c| c.last_probe_time.is_some() && c.last_transition_time.is_some()));
    assert_eq!(conds[1].message.as_deref(), Some("Reached expected number of succeeded pods"));

    let p = pods(&s).get(&name).await.expect("pod");
    assert_eq!(p.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded"));
    assert_eq!(terminated(&p), Some((0, "Completed".into())));
    let owner = &p.owner_references()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str(), owner.controller), ("Job", "migrate", Some(true)));
    assert_eq!(owner.uid, created.uid().expect("uid"));
    assert_eq!(p.labels().get("batch.kubernetes.io/job-name").map(String::as_str), Some("migrate"));
    let events: Api<Event> = Api::namespaced(s.client(), "default");
    let evs = events.list(&ListParams::default().fields("involvedObject.name=migrate")).await.expect("events").items;
    let reasons: Vec<_> = evs.iter().filter_map(|e| e.reason.clone()).collect();
    assert!(reasons.contains(&"SuccessfulCreate".into()) && reasons.contains(&"Completed".into()), "{reasons:?}");
    // A finished Job stays finished: no new pod on a behaviour change.
    s.set_behaviour("migrate", Behaviour::Never);
    assert_eq!(job_pods(&s, "migrate").await.len(), 1);
}

#[tokio::test]
async fn failing_job_reaches_the_backoff_limit() {
    let s = server().await;
    s.set_behaviour("migrate", Behaviour::Fails { exit_code: 3, log: "connecting\nerror: relation exists\n".into() });
    let mut body = job_json("migrate", "migrate:1", "Never");
    body["spec"]["backoffLimit"] = json!(2);
    jobs(&s).patch("migrate", &PatchParams::apply("deploy"), &Patch::Apply(&body)).await.expect("apply");
    let j = await_condition(jobs(&s), "migrate", failed_condition).await.expect("wait").expect("exists");
    let st = j.status.expect("status");
    assert_eq!((st.failed, st.active, st.succeeded, st.completion_time), (Some(3), None, None, None));
    let conds = st.conditions.expect("conditions");
    let summary: Vec<_> = conds.iter().map(|c| (c.type_.as_str(), c.status.as_str(), c.reason.as_deref())).collect();
    assert_eq!(
        summary,
        [("FailureTarget", "True", Some("BackoffLimitExceeded")), ("Failed", "True", Some("BackoffLimitExceeded"))]
    );
    assert_eq!(conds[1].message.as_deref(), Some("Job has reached the specified backoff limit"));
    let ps = job_pods(&s, "migrate").await;
    assert_eq!(ps.len(), 1, "one failed pod stands for all retries");
    assert_eq!(ps[0].status.as_ref().and_then(|s| s.phase.as_deref()), Some("Failed"));
    assert_eq!(terminated(&ps[0]), Some((3, "Error".into())));
    let events: Api<Event> = Api::namespaced(s.client(), "default");
    let evs = events.list(&ListParams::default().fields("involvedObject.name=migrate")).await.expect("events").items;
    assert!(
        evs.iter()
            .any(|e| e.reason.as_deref() == Some("BackoffLimitExceeded") && e.type_.as_deref() == Some("Warning"))
    );
}

#[tokio::test]
async fn stuck_jobs_stay_active_until_the_behaviour_changes() {
    let s = server().await;
    for (name, b) in
        [("pull", Behaviour::ImagePullBackOff), ("crash", Behaviour::CrashLoopBackOff), ("sched", Behaviour::Never)]
    {
        s.set_behaviour(name, b);
        apply_job(&s, &job(name, "app:1", "OnFailure")).await;
    }
    eventually("image pull back-off", || {
        let ps = s.list("Pod", Some("default"));
        let p = ps.iter().find(|p| p["metadata"]["labels"]["job-name"] == "pull")?;
        (p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    for name in ["pull", "crash", "sched"] {
        let st = jobs(&s).get(name).await.expect("get").status.expect("status");
        assert_eq!((st.active, st.succeeded, st.failed), (Some(1), None, None), "{name}");
        assert!(st.conditions.is_none(), "{name} must not finish");
    }
    let crash = &job_pods(&s, "crash").await[0];
    let cs = &crash.status.as_ref().and_then(|s| s.container_statuses.clone()).expect("cs")[0];
    assert_eq!(
        cs.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()),
        Some("CrashLoopBackOff")
    );
    // Recovery: the same pod then succeeds.
    s.set_behaviour("pull", Behaviour::ReadyAfter(Duration::ZERO));
    await_condition(jobs(&s), "pull", conditions::is_job_completed()).await.expect("completes");
    assert_eq!(job_pods(&s, "pull").await.len(), 1);
}

#[tokio::test]
async fn suspended_job_has_no_pods_until_resumed() {
    let s = server().await;
    let mut body = job_json("later", "app:1", "Never");
    body["spec"]["suspend"] = json!(true);
    jobs(&s).patch("later", &PatchParams::apply("deploy"), &Patch::Apply(&body)).await.expect("apply");
    let st = jobs(&s).get("later").await.expect("get").status.expect("status");
    let c = &st.conditions.expect("conditions")[0];
    assert_eq!((c.type_.as_str(), c.status.as_str(), c.reason.as_deref()), ("Suspended", "True", Some("JobSuspended")));
    assert!(st.start_time.is_none() && st.active.is_none());
    assert!(job_pods(&s, "later").await.is_empty());
    body["spec"]["suspend"] = json!(false);
    jobs(&s).patch("later", &PatchParams::apply("deploy"), &Patch::Apply(&body)).await.expect("resume");
    let j = await_condition(jobs(&s), "later", conditions::is_job_completed()).await.expect("wait").expect("exists");
    let conds = j.status.and_then(|s| s.conditions).expect("conditions");
    assert_eq!((conds[0].type_.as_str(), conds[0].status.as_str()), ("Suspended", "False"));
}

#[tokio::test]
async fn deleting_a_job_orphans_its_pods_unless_told_otherwise() {
    let s = server().await;
    s.set_default_behaviour(Behaviour::Never);
    for name in ["a", "b", "c"] {
        apply_job(&s, &job(name, "app:1", "Never")).await;
    }
    // kube's DeleteParams::default() sends `{}`: the batch/v1 default, orphan, applies.
    jobs(&s).delete("a", &DeleteParams::default()).await.expect("delete a");
    let left = job_pods(&s, "a").await;
    assert_eq!(left.len(), 1, "the pod is orphaned");
    assert!(left[0].owner_references().is_empty(), "the reference to the deleted Job is removed");
    // DeleteParams::background() sends {"propagationPolicy":"Background"} in the body.
    jobs(&s).delete("b", &DeleteParams::background()).await.expect("delete b");
    assert!(job_pods(&s, "b").await.is_empty());
    // The query parameter works too (what kubectl --cascade sends in some versions).
    let req = axum::http::Request::delete("/apis/batch/v1/namespaces/default/jobs/c?propagationPolicy=Foreground")
        .body(Vec::new())
        .expect("request");
    s.client().request_text(req).await.expect("delete c");
    assert!(job_pods(&s, "c").await.is_empty());
    assert!(s.list("Job", Some("default")).is_empty());
}

#[tokio::test]
async fn propagation_policy_for_other_kinds_and_preconditions() {
    let s = server().await;
    let deploys: Api<Deployment> = Api::namespaced(s.client(), "default");
    let pp = PatchParams::apply("deploy");
    deploys.patch("web", &pp, &Patch::Apply(&deployment("web", 2, "nginx:1"))).await.expect("deploy");
    await_condition(deploys.clone(), "web", conditions::is_deployment_completed()).await.expect("ready");
    let d = deploys.get("web").await.expect("get");
    // A stale resourceVersion precondition is a 409 and deletes nothing.
    let stale = DeleteParams {
        preconditions: Some(Preconditions { resource_version: Some("1".into()), uid: None }),
        ..DeleteParams::default()
    };
    let e = api_error(deploys.delete("web", &stale).await.expect_err("precondition"));
    assert_eq!(e.code, 409);
    assert!(e.message.starts_with("Operation cannot be fulfilled on deployments.apps \"web\": Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: "), "{}", e.message);
    let ok = DeleteParams {
        preconditions: Some(Preconditions { uid: d.uid(), resource_version: None }),
        ..DeleteParams::orphan()
    };
    deploys.delete("web", &ok).await.expect("orphan delete");
    let left = pods(&s).list(&ListParams::default().labels("app=web")).await.expect("pods").items;
    assert_eq!(left.len(), 2, "orphaned");
    assert!(left.iter().all(|p| p.owner_references().is_empty()));
    // The default for everything but Jobs is still background.
    let sts_api: Api<StatefulSet> = Api::namespaced(s.client(), "default");
    sts_api.patch("db", &pp, &Patch::Apply(&sts("db", 1, "redis:7"))).await.expect("sts");
    await_condition(sts_api.clone(), "db", sts_ready).await.expect("ready");
    sts_api.delete("db", &DeleteParams::default()).await.expect("delete");
    assert!(s.get("Pod", Some("default"), "db-0").is_none());
    // dryRun in the body deletes nothing.
    let kept = s.list("Pod", Some("default"));
    let name = kept[0]["metadata"]["name"].as_str().expect("name").to_owned();
    pods(&s).delete(&name, &DeleteParams::default().dry_run()).await.expect("dry run");
    assert!(s.get("Pod", Some("default"), &name).is_some());
}
