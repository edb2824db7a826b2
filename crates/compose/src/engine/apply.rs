//! Apply: converge the engine to the plan and wait for readiness.
//!
//! Order of work, chosen so that a failure leaves nothing half-done:
//! 1. resolve every value (a missing `${VAR:?}` fails before anything is touched);
//! 2. connect; make sure every image is present (pull when missing) — an
//!    image that cannot be had fails the apply before anything is created;
//! 3. networks and named volumes (idempotent);
//! 4. every service concurrently, each waiting for its `depends_on`
//!    conditions first; a service whose spec (hash) is unchanged is left
//!    alone, a changed one is recreated (named volumes kept);
//! 5. `--prune`: containers of services no longer in the topology.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, ImageInspect, NetworkConnectRequest};
use bollard::query_parameters::{CreateContainerOptionsBuilder, CreateImageOptionsBuilder};
use deploy_report::{Action, ApplyReport, Phase, Progress, ServiceResult};
use deploy_topology::{Condition, Env, Topology};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;

use super::docker::{self as d, describe};
use super::plan::{self, PlannedService};
use super::{ApplyOptions, EngineError, TARGET, compare, labels, probe};

/// How far a service has got, as its dependents see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reached {
    Pending,
    Started,
    Ready,
    Completed,
    Failed,
}

impl Reached {
    /// Whether a dependent waiting with `cond` can stop waiting (satisfied or never will be).
    fn settles(self, cond: Condition) -> bool {
        match cond {
            Condition::ServiceStarted => self != Reached::Pending,
            Condition::ServiceHealthy => !matches!(self, Reached::Pending | Reached::Started),
            Condition::ServiceCompletedSuccessfully => {
                matches!(self, Reached::Completed | Reached::Failed)
            }
        }
    }
    fn satisfies(self, cond: Condition) -> bool {
        match cond {
            Condition::ServiceStarted => {
                matches!(self, Reached::Started | Reached::Ready | Reached::Completed)
            }
            Condition::ServiceHealthy => self == Reached::Ready,
            Condition::ServiceCompletedSuccessfully => self == Reached::Completed,
        }
    }
}

struct Ctx<'a> {
    docker: Docker,
    t: &'a Topology,
    opts: &'a ApplyOptions,
    progress: Arc<dyn Progress>,
    deadline: Instant,
    states: HashMap<String, watch::Sender<Reached>>,
    images: HashMap<String, ImageInspect>,
}

impl Ctx<'_> {
    fn update(&self, service: &str, phase: &Phase, start: Instant) {
        self.progress.update(service, phase, start.elapsed());
    }
    fn set(&self, service: &str, r: Reached) {
        if let Some(tx) = self.states.get(service) {
            tx.send_replace(r);
        }
    }
}

/// How waiting for readiness ended.
enum Outcome {
    Ready { detail: Vec<String> },
    Completed { detail: Vec<String> },
    Failed { reason: String, detail: Vec<String> },
}

fn ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

fn object(name: &str, id: &str) -> Option<String> {
    Some(format!("{name} ({})", d::short_id(id)))
}

/// Applies the chosen services of `t` (all when `opts.services` is empty) and everything they depend on.
pub async fn apply(
    t: &Topology,
    env: &Env,
    opts: &ApplyOptions,
    progress: Arc<dyn Progress>,
) -> Result<ApplyReport, EngineError> {
    let started = Instant::now();
    let chosen = plan::select(t, env, &opts.services)?;
    let plans = plan::plan(t, env, &chosen)?;
    let docker = d::connect().await?;
    let deadline = started + opts.timeout;

    let mut report = ApplyReport {
        target: TARGET.to_string(),
        project: t.name.clone(),
        ok: false,
        elapsed_ms: 0,
        services: Vec::new(),
        pruned: Vec::new(),
        warnings: Vec::new(),
        error: None,
    };

    // Images first: nothing is created when one cannot be had.
    let (images, failures) = ensure_images(&docker, &plans, progress.as_ref(), deadline).await;
    if !failures.is_empty() {
        for p in &plans {
            match failures.get(&p.spec.image) {
                Some(reason) => {
                    let phase = Phase::Failed { reason: reason.clone() };
                    progress.update(&p.service, &phase, started.elapsed());
                    report.services.push(ServiceResult {
                        service: p.service.clone(),
                        action: Action::Failed,
                        phase,
                        ready: false,
                        elapsed_ms: ms(started),
                        object: None,
                        detail: Vec::new(),
                    });
                }
                None => report.services.push(ServiceResult {
                    service: p.service.clone(),
                    action: Action::Unchanged,
                    phase: Phase::Waiting { reason: "not applied".into() },
                    ready: false,
                    elapsed_ms: 0,
                    object: None,
                    detail: vec!["not applied: an image of this apply is unavailable, so nothing was changed".into()],
                }),
            }
        }
        let mut errs: Vec<String> = failures.values().cloned().collect();
        errs.sort();
        errs.dedup();
        report.error = Some(format!("nothing was changed: {}", errs.join("; ")));
        report.elapsed_ms = ms(started);
        return Ok(report);
    }

    ensure_networks(&docker, t, &plans).await?;
    ensure_volumes(&docker, t, &plans).await?;

    let mut states = HashMap::new();
    for p in &plans {
        states.insert(p.service.clone(), watch::channel(Reached::Pending).0);
    }
    let ctx = Ctx { docker, t, opts, progress, deadline, states, images };
    let results = futures::future::join_all(plans.iter().map(|p| run_service(&ctx, p))).await;
    report.services = results;

    // Containers of services no longer in the topology.
    match d::project_containers(&ctx.docker, &t.name, None).await {
        Ok(all) => {
            for c in all {
                let svc = c.labels.as_ref().and_then(|l| l.get(labels::SERVICE)).cloned().unwrap_or_default();
                if t.services.contains_key(&svc) {
                    continue;
                }
                let name = d::summary_name(&c);
                if opts.prune {
                    let id = c.id.clone().unwrap_or_default();
                    match remove_container(&ctx.docker, &id, true).await {
                        Ok(()) => report.pruned.push(format!("container {name} (service `{svc}`)")),
                        Err(e) => {
                            report.warnings.push(format!("cannot remove container {name} of service `{svc}`: {e}"))
                        }
                    }
                } else {
                    report.warnings.push(format!(
                        "container {name} belongs to service `{svc}`, which is no longer in the topology; `deploy apply --prune` removes it"
                    ));
                }
            }
        }
        Err(e) => report.warnings.push(format!("cannot list the project's containers: {}", describe(&e))),
    }

    report.ok = report.services.iter().all(|r| r.ready);
    if !report.ok {
        let failed: Vec<String> = report
            .services
            .iter()
            .filter(|r| !r.ready)
            .map(|r| match &r.phase {
                Phase::Failed { reason } => format!("service `{}`: {reason}", r.service),
                other => format!("service `{}`: {}", r.service, other.describe()),
            })
            .collect();
        report.error = Some(failed.join("; "));
    }
    report.elapsed_ms = ms(started);
    Ok(report)
}

/// Splits an image reference into what the pull API wants: (image, tag).
fn pull_ref(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rfind(':') {
        Some(i) => {
            let cut = image.len() - last.len() + i;
            (image[..cut].to_string(), image[cut + 1..].to_string())
        }
        None => (image.to_string(), "latest".to_string()),
    }
}

/// Inspects every image the plan uses, pulling those that are missing.
/// Returns the images found and, per image reference, why it could not be had.
async fn ensure_images(
    docker: &Docker,
    plans: &[PlannedService],
    progress: &dyn Progress,
    deadline: Instant,
) -> (HashMap<String, ImageInspect>, HashMap<String, String>) {
    let mut refs: Vec<&str> = plans.iter().map(|p| p.spec.image.as_str()).collect();
    refs.sort();
    refs.dedup();
    let results = futures::future::join_all(refs.iter().map(|image| async move {
        let users: Vec<&str> = plans.iter().filter(|p| p.spec.image == *image).map(|p| p.service.as_str()).collect();
        let r = ensure_image(docker, image, &users, progress, deadline).await;
        (image.to_string(), r)
    }))
    .await;
    let mut ok = HashMap::new();
    let mut failed = HashMap::new();
    for (image, r) in results {
        match r {
            Ok(i) => {
                ok.insert(image, i);
            }
            Err(e) => {
                failed.insert(image, e);
            }
        }
    }
    (ok, failed)
}

async fn ensure_image(
    docker: &Docker,
    image: &str,
    users: &[&str],
    progress: &dyn Progress,
    deadline: Instant,
) -> Result<ImageInspect, String> {
    match docker.inspect_image(image).await {
        Ok(i) => return Ok(i),
        Err(e) if d::is_not_found(&e) => {}
        Err(e) => return Err(format!("cannot inspect image `{image}`: {}", describe(&e))),
    }
    let start = Instant::now();
    let who = users.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ");
    for u in users {
        progress.update(u, &Phase::Pulling { progress: None }, start.elapsed());
    }
    let (from, tag) = pull_ref(image);
    let mut b = CreateImageOptionsBuilder::default().from_image(&from);
    if !tag.is_empty() {
        b = b.tag(&tag);
    }
    let pull = async {
        let mut stream = docker.create_image(Some(b.build()), None, None);
        let mut last_note = Instant::now();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if last_note.elapsed() >= Duration::from_millis(250) {
                        last_note = Instant::now();
                        let mut s = info.status.unwrap_or_default();
                        if let Some(p) = info.progress_detail
                            && let (Some(c), Some(t)) = (p.current, p.total)
                            && t > 0
                        {
                            s.push_str(&format!(" {}%", c * 100 / t));
                        }
                        for u in users {
                            progress.update(u, &Phase::Pulling { progress: Some(s.clone()) }, start.elapsed());
                        }
                    }
                }
                Err(e) => return Err(describe(&e)),
            }
        }
        Ok(())
    };
    let res = tokio::time::timeout_at(deadline, pull).await.unwrap_or_else(|_| Err("timed out".to_string()));
    let help = format!(
        "build or load it locally (`docker build -t {image} ...` or `docker load`), or change `image:` of {who}"
    );
    if let Err(e) = res {
        return Err(format!("image `{image}` is not present locally and cannot be pulled: {e}; {help}"));
    }
    docker
        .inspect_image(image)
        .await
        .map_err(|e| format!("image `{image}` was pulled but cannot be inspected: {}; {help}", describe(&e)))
}

async fn ensure_networks(docker: &Docker, t: &Topology, plans: &[PlannedService]) -> Result<(), EngineError> {
    for (key, name, driver) in plan::networks(t, plans) {
        match docker.inspect_network(&name, None).await {
            Ok(_) => continue,
            Err(e) if d::is_not_found(&e) => {}
            Err(e) => {
                return Err(EngineError::docker(format!("inspecting network {name}"), &e));
            }
        }
        let mut lbl = HashMap::new();
        lbl.insert(labels::PROJECT.to_string(), t.name.clone());
        lbl.insert(labels::NETWORK.to_string(), key.clone());
        lbl.insert(labels::VERSION.to_string(), labels::COMPOSE_VERSION.to_string());
        let req = bollard::models::NetworkCreateRequest {
            name: name.clone(),
            driver: Some(driver),
            labels: Some(lbl),
            ..Default::default()
        };
        match docker.create_network(req).await {
            Ok(_) => {}
            Err(e) if d::is_status(&e, 409) => {}
            Err(e) => return Err(EngineError::docker(format!("creating network {name}"), &e)),
        }
    }
    Ok(())
}

async fn ensure_volumes(docker: &Docker, t: &Topology, plans: &[PlannedService]) -> Result<(), EngineError> {
    for (key, name) in plan::volumes(t, plans) {
        match docker.inspect_volume(&name).await {
            Ok(_) => continue,
            Err(e) if d::is_not_found(&e) => {}
            Err(e) => return Err(EngineError::docker(format!("inspecting volume {name}"), &e)),
        }
        let mut lbl = HashMap::new();
        lbl.insert(labels::PROJECT.to_string(), t.name.clone());
        lbl.insert(labels::VOLUME.to_string(), key.clone());
        lbl.insert(labels::VERSION.to_string(), labels::COMPOSE_VERSION.to_string());
        let req =
            bollard::models::VolumeCreateRequest { name: Some(name.clone()), labels: Some(lbl), ..Default::default() };
        docker.create_volume(req).await.map_err(|e| EngineError::docker(format!("creating volume {name}"), &e))?;
    }
    Ok(())
}

/// Stops (gracefully, so that data is flushed) and removes a container. Missing is fine.
/// `anonymous_volumes`: also delete the anonymous volumes Docker made for the
/// image's `VOLUME`s (scratch space: the topology keeps data in named volumes only).
pub(super) async fn remove_container(docker: &Docker, id: &str, anonymous_volumes: bool) -> Result<(), String> {
    let stop = bollard::query_parameters::StopContainerOptionsBuilder::default().t(10).build();
    match docker.stop_container(id, Some(stop)).await {
        Ok(()) => {}
        Err(e) if d::is_not_found(&e) || d::is_status(&e, 304) => {}
        Err(e) => return Err(describe(&e)),
    }
    let rm =
        bollard::query_parameters::RemoveContainerOptionsBuilder::default().force(true).v(anonymous_volumes).build();
    match docker.remove_container(id, Some(rm)).await {
        Ok(()) => Ok(()),
        Err(e) if d::is_not_found(&e) => Ok(()),
        // Already being removed (a concurrent removal): fine.
        Err(e) if d::is_status(&e, 409) && describe(&e).contains("already in progress") => Ok(()),
        Err(e) => Err(describe(&e)),
    }
}

async fn run_service(ctx: &Ctx<'_>, p: &PlannedService) -> ServiceResult {
    let r = run_service_inner(ctx, p).await;
    let reached = if r.ready {
        if r.phase == Phase::Completed { Reached::Completed } else { Reached::Ready }
    } else {
        Reached::Failed
    };
    ctx.set(&p.service, reached);
    r
}

fn failed(
    ctx: &Ctx<'_>,
    p: &PlannedService,
    start: Instant,
    object: Option<String>,
    reason: String,
    detail: Vec<String>,
) -> ServiceResult {
    let phase = Phase::Failed { reason };
    ctx.update(&p.service, &phase, start);
    ServiceResult {
        service: p.service.clone(),
        action: Action::Failed,
        phase,
        ready: false,
        elapsed_ms: ms(start),
        object,
        detail,
    }
}

async fn run_service_inner(ctx: &Ctx<'_>, p: &PlannedService) -> ServiceResult {
    let wait_start = Instant::now();
    // 1. Dependencies.
    if !p.depends_on.is_empty() {
        ctx.update(&p.service, &Phase::Pending, wait_start);
    }
    for (dep, cond) in &p.depends_on {
        let Some(tx) = ctx.states.get(dep) else {
            continue;
        };
        let mut rx = tx.subscribe();
        let waited = tokio::time::timeout_at(ctx.deadline, rx.wait_for(|s| s.settles(*cond))).await;
        let state = match waited {
            Ok(Ok(s)) => *s,
            Ok(Err(_)) => Reached::Failed,
            Err(_) => {
                return failed(
                    ctx,
                    p,
                    wait_start,
                    None,
                    format!(
                        "timed out after {}s waiting for dependency `{dep}` ({}); not started",
                        ctx.opts.timeout.as_secs(),
                        cond.as_str()
                    ),
                    Vec::new(),
                );
            }
        };
        if !state.satisfies(*cond) {
            let why = match (state, cond) {
                (Reached::Completed, Condition::ServiceHealthy) => "exited instead of staying up".to_string(),
                _ => "failed".to_string(),
            };
            return failed(
                ctx,
                p,
                wait_start,
                None,
                format!("dependency `{dep}` {why} ({} required); not started", cond.as_str()),
                Vec::new(),
            );
        }
    }

    // 2. What is there now.
    let start = Instant::now();
    let existing = match find_existing(ctx, p).await {
        Ok(c) => c,
        Err(reason) => return failed(ctx, p, start, None, reason, Vec::new()),
    };
    let image = ctx.images.get(&p.spec.image);
    let image_id = image.and_then(|i| i.id.clone());

    let Some(c) = existing else {
        return create_and_start(ctx, p, start, Action::Created, image_id.as_deref(), Vec::new()).await;
    };
    let id = c.id.clone().unwrap_or_default();
    let live = compare::live_spec(&c);
    let changes = compare::compare(p, &live, image);
    if !changes.is_empty() || ctx.opts.force_recreate {
        let mut detail: Vec<String> = changes
            .iter()
            .map(|f| {
                format!(
                    "changed {}: {} -> {}",
                    f.path,
                    f.live.as_deref().unwrap_or("(none)"),
                    f.planned.as_deref().unwrap_or("(none)")
                )
            })
            .collect();
        if changes.is_empty() {
            detail.push("recreated: --force-recreate".to_string());
        }
        ctx.update(&p.service, &Phase::Removing, start);
        if let Err(e) = remove_container(&ctx.docker, &id, true).await {
            return failed(
                ctx,
                p,
                start,
                object(&live.spec.name, &id),
                format!("cannot remove the old container {} to recreate it: {e}", live.spec.name),
                detail,
            );
        }
        return create_and_start(ctx, p, start, Action::Recreated, image_id.as_deref(), detail).await;
    }

    // 3. Unchanged: leave it alone, or start it when it is not running.
    let status = c.state.as_ref().and_then(|s| s.status);
    let exit_code = c.state.as_ref().and_then(|s| s.exit_code).unwrap_or(0);
    match status {
        Some(ContainerStateStatusEnum::RUNNING) | Some(ContainerStateStatusEnum::RESTARTING) => {
            ctx.set(&p.service, Reached::Started);
            finish(ctx, p, &id, start, Action::Unchanged, Vec::new()).await
        }
        Some(ContainerStateStatusEnum::EXITED) if exit_code == 0 && p.must_complete => {
            ctx.set(&p.service, Reached::Started);
            let phase = Phase::Completed;
            ctx.update(&p.service, &phase, start);
            ServiceResult {
                service: p.service.clone(),
                action: Action::Unchanged,
                phase,
                ready: true,
                elapsed_ms: ms(start),
                object: object(&p.spec.name, &id),
                detail: vec!["already completed (exit 0)".into()],
            }
        }
        _ => {
            ctx.update(&p.service, &Phase::Starting, start);
            if let Err(reason) = start_container(ctx, p, &id).await {
                return failed(ctx, p, start, object(&p.spec.name, &id), reason, Vec::new());
            }
            ctx.set(&p.service, Reached::Started);
            finish(ctx, p, &id, start, Action::Updated, vec!["was not running: started".into()]).await
        }
    }
}

/// The service's container: by project and service labels, else `None`. A
/// container that holds the planned name but is not this service's is a conflict.
async fn find_existing(ctx: &Ctx<'_>, p: &PlannedService) -> Result<Option<ContainerInspectResponse>, String> {
    let list = d::project_containers(&ctx.docker, &ctx.t.name, Some(&p.service))
        .await
        .map_err(|e| format!("cannot list containers: {}", describe(&e)))?;
    let mut ids: Vec<(String, String)> =
        list.iter().map(|c| (c.id.clone().unwrap_or_default(), d::summary_name(c))).collect();
    // The one with the planned name first; extra ones (left by an older layout) are removed.
    ids.sort_by_key(|(_, n)| *n != p.spec.name);
    let mut found = None;
    for (i, (id, _)) in ids.iter().enumerate() {
        if i == 0 {
            found =
                d::inspect(&ctx.docker, id).await.map_err(|e| format!("cannot inspect container: {}", describe(&e)))?;
        } else {
            remove_container(&ctx.docker, id, true)
                .await
                .map_err(|e| format!("cannot remove extra container {id}: {e}"))?;
        }
    }
    if found.is_none() || found.as_ref().is_some_and(|c| d::container_name(c) != p.spec.name) {
        // Somebody else's container with our name?
        if let Some(other) = d::inspect(&ctx.docker, &p.spec.name)
            .await
            .map_err(|e| format!("cannot inspect container {}: {}", p.spec.name, describe(&e)))?
        {
            let l = other.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
            let owner = (l.get(labels::PROJECT), l.get(labels::SERVICE));
            if owner != (Some(&ctx.t.name), Some(&p.service)) {
                let whose = match owner {
                    (Some(proj), Some(svc)) => format!("service `{svc}` of project `{proj}`"),
                    _ => "no deploy/compose project".to_string(),
                };
                return Err(format!(
                    "a container named `{}` already exists and belongs to {whose}; remove it (`docker rm -f {}`) or set another `container_name`",
                    p.spec.name, p.spec.name
                ));
            }
        }
    }
    Ok(found)
}

async fn start_container(ctx: &Ctx<'_>, p: &PlannedService, id: &str) -> Result<(), String> {
    match ctx.docker.start_container(id, None).await {
        Ok(()) => Ok(()),
        Err(e) if d::is_status(&e, 304) => Ok(()),
        Err(e) => {
            let msg = describe(&e);
            if msg.contains("address already in use") || msg.contains("port is already allocated") {
                // The engine's message is long; keep its last, telling part.
                let core = ["listen tcp", "Bind for"]
                    .iter()
                    .find_map(|k| msg.find(k).map(|i| &msg[i..]))
                    .unwrap_or(&msg)
                    .trim_end_matches(" (HTTP 500)");
                Err(format!(
                    "cannot publish {}: the host port is already in use ({core}); stop whatever listens there, or change `ports:` of service `{}`",
                    p.spec.ports.join(", "),
                    p.service
                ))
            } else {
                Err(format!("cannot start container {}: {msg}", p.spec.name))
            }
        }
    }
}

async fn create_and_start(
    ctx: &Ctx<'_>,
    p: &PlannedService,
    start: Instant,
    action: Action,
    image_id: Option<&str>,
    mut detail: Vec<String>,
) -> ServiceResult {
    ctx.update(&p.service, &Phase::Creating, start);
    let opts = CreateContainerOptionsBuilder::default().name(&p.spec.name).build();
    let id = match ctx.docker.create_container(Some(opts), p.create_body(image_id)).await {
        Ok(r) => r.id,
        Err(e) => {
            return failed(
                ctx,
                p,
                start,
                None,
                format!("cannot create container {}: {}", p.spec.name, describe(&e)),
                detail,
            );
        }
    };
    // API 1.41: one network at create time, the others now.
    for net in &p.extra_networks {
        let req = NetworkConnectRequest { container: id.clone(), endpoint_config: Some(plan::endpoint(&p.service)) };
        if let Err(e) = ctx.docker.connect_network(net, req).await {
            return failed(
                ctx,
                p,
                start,
                object(&p.spec.name, &id),
                format!("cannot connect container {} to network {net}: {}", p.spec.name, describe(&e)),
                detail,
            );
        }
    }
    ctx.update(&p.service, &Phase::Starting, start);
    if let Err(reason) = start_container(ctx, p, &id).await {
        // Leave nothing half-done: the next apply creates it afresh.
        if let Err(e) = remove_container(&ctx.docker, &id, true).await {
            detail.push(format!("the container that could not start was not removed: {e}"));
        }
        return failed(ctx, p, start, None, reason, detail);
    }
    ctx.set(&p.service, Reached::Started);
    finish(ctx, p, &id, start, action, detail).await
}

/// Waits for readiness and turns the outcome into the service's result.
async fn finish(
    ctx: &Ctx<'_>,
    p: &PlannedService,
    id: &str,
    start: Instant,
    action: Action,
    mut detail: Vec<String>,
) -> ServiceResult {
    let outcome = wait_ready(ctx, p, id, start).await;
    let object = object(&p.spec.name, id);
    // The phase a successful outcome ends in (unused on failure).
    let phase = match (&outcome, action) {
        (Outcome::Completed { .. }, _) => Phase::Completed,
        (_, Action::Unchanged) => Phase::Unchanged,
        _ => Phase::Ready,
    };
    match outcome {
        Outcome::Ready { detail: more } | Outcome::Completed { detail: more } => {
            detail.extend(more);
            ctx.update(&p.service, &phase, start);
            ServiceResult {
                service: p.service.clone(),
                action,
                phase,
                ready: true,
                elapsed_ms: ms(start),
                object,
                detail,
            }
        }
        Outcome::Failed { reason, detail: more } => {
            detail.extend(more);
            failed(ctx, p, start, object, reason, detail)
        }
    }
}

fn health_of(c: &ContainerInspectResponse) -> Option<String> {
    c.state.as_ref().and_then(|s| s.health.as_ref()).and_then(|h| h.status).map(|s| s.to_string())
}

/// Probes until ready, exited, or the deadline. Backs off from 100 ms to 1 s between probes.
async fn wait_ready(ctx: &Ctx<'_>, p: &PlannedService, id: &str, start: Instant) -> Outcome {
    let mut attempt: u32 = 0;
    let mut backoff = Duration::from_millis(100);
    let mut last: Option<String> = None;
    let mut last_health: Option<String> = None;
    let mut announced_wait = false;
    loop {
        let c = match d::inspect(&ctx.docker, id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return Outcome::Failed {
                    reason: format!("container {} disappeared while waiting for it", p.spec.name),
                    detail: Vec::new(),
                };
            }
            Err(e) => {
                return Outcome::Failed {
                    reason: format!("cannot inspect container: {}", describe(&e)),
                    detail: Vec::new(),
                };
            }
        };
        last_health = health_of(&c).or(last_health);
        let state = c.state.clone().unwrap_or_default();
        let code = state.exit_code.unwrap_or(0);
        match state.status {
            Some(ContainerStateStatusEnum::RUNNING) => {
                if p.must_complete {
                    if !announced_wait {
                        announced_wait = true;
                        ctx.update(&p.service, &Phase::Waiting { reason: "running until it completes".into() }, start);
                    }
                } else if p.probe.is_some() && last_health.as_deref() == Some("healthy") {
                    // Docker ran the same probe within its interval and it passed:
                    // no need to exec it again (this keeps a no-op re-apply fast).
                    return Outcome::Ready { detail: vec!["docker health: healthy".into()] };
                } else if let Some(pr) = &p.probe {
                    attempt += 1;
                    ctx.update(&p.service, &Phase::Probing { attempt, last: last.clone() }, start);
                    let remaining = ctx.deadline.saturating_duration_since(Instant::now());
                    let res = probe::run(&ctx.docker, id, pr, remaining).await;
                    if res.passed {
                        let mut detail = vec![format!(
                            "probe `{}` passed after {attempt} attempt(s): {}",
                            pr.cmd.join(" "),
                            res.summary
                        )];
                        // Docker's own view (its first scheduled check comes one interval after start).
                        if let Ok(Some(c2)) = d::inspect(&ctx.docker, id).await {
                            last_health = health_of(&c2).or(last_health);
                        }
                        if let Some(h) = &last_health {
                            detail.push(format!("docker health: {h}"));
                        }
                        return Outcome::Ready { detail };
                    }
                    last = Some(res.summary);
                } else {
                    return Outcome::Ready { detail: Vec::new() };
                }
            }
            Some(ContainerStateStatusEnum::EXITED) | Some(ContainerStateStatusEnum::DEAD) => {
                if code == 0 && (p.must_complete || p.probe.is_none()) {
                    return Outcome::Completed { detail: vec!["exited 0".into()] };
                }
                let mut detail = Vec::new();
                if let Some(l) = &last {
                    detail.push(format!("last probe: {l}"));
                }
                detail.extend(d::logs_tail(&ctx.docker, id, 20).await);
                let oom = if state.oom_killed == Some(true) { " (killed: out of memory)" } else { "" };
                let err = state.error.filter(|e| !e.is_empty()).map(|e| format!(": {e}")).unwrap_or_default();
                return Outcome::Failed {
                    reason: format!(
                        "container {} exited with code {code}{oom}{err} before becoming ready; see its logs below (`docker logs {}`)",
                        p.spec.name, p.spec.name
                    ),
                    detail,
                };
            }
            Some(ContainerStateStatusEnum::RESTARTING) => {
                let mut detail = Vec::new();
                detail.extend(d::logs_tail(&ctx.docker, id, 20).await);
                return Outcome::Failed {
                    reason: format!(
                        "container {} keeps restarting (last exit code {code}); see its logs below",
                        p.spec.name
                    ),
                    detail,
                };
            }
            Some(ContainerStateStatusEnum::PAUSED) => {
                return Outcome::Failed {
                    reason: format!("container {} is paused; `docker unpause {}`", p.spec.name, p.spec.name),
                    detail: Vec::new(),
                };
            }
            _ => {}
        }
        let now = Instant::now();
        if now >= ctx.deadline {
            let mut detail = Vec::new();
            let reason = match (&p.probe, p.must_complete) {
                (_, true) => format!(
                    "did not complete within {}s (still running); raise --timeout or check why it does not exit",
                    ctx.opts.timeout.as_secs()
                ),
                (Some(pr), false) => {
                    detail.push(format!(
                        "last probe (`{}`): {}",
                        pr.cmd.join(" "),
                        last.as_deref().unwrap_or("none ran")
                    ));
                    format!(
                        "not ready after {}s: the health probe `{}` never passed ({attempt} attempts); last output: {}",
                        ctx.opts.timeout.as_secs(),
                        pr.cmd.join(" "),
                        last.as_deref().unwrap_or("none")
                    )
                }
                (None, false) => format!("not running after {}s", ctx.opts.timeout.as_secs()),
            };
            if let Some(h) = &last_health {
                detail.push(format!("docker health: {h}"));
            }
            detail.extend(d::logs_tail(&ctx.docker, id, 20).await);
            return Outcome::Failed { reason, detail };
        }
        tokio::time::sleep(backoff.min(ctx.deadline - now)).await;
        backoff = (backoff * 3 / 2).min(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::pull_ref;

    #[test]
    fn pull_refs() {
        assert_eq!(pull_ref("redis:7-alpine"), ("redis".into(), "7-alpine".into()));
        assert_eq!(pull_ref("redis"), ("redis".into(), "latest".into()));
        assert_eq!(pull_ref("localhost:5000/x/y"), ("localhost:5000/x/y".into(), "latest".into()));
        assert_eq!(pull_ref("localhost:5000/x/y:2"), ("localhost:5000/x/y".into(), "2".into()));
        assert_eq!(pull_ref("a@sha256:00"), ("a@sha256:00".into(), String::new()));
    }
}
