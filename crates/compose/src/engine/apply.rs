//! Apply on a Docker Engine, as the orchestrator drives it: `prepare` (plans,
//! images, networks, volumes; nothing is created when an image cannot be had),
//! then `converge` one service: create it, recreate it when its spec changed
//! (named volumes kept), start it when it is not running, or leave it alone.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum,
    NetworkConnectRequest,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use deploy_orchestrator::{Converged, Done, Failure, Next, NotPrepared, Selection, Step};
use deploy_report::{Action, Phase, Progress};
use deploy_topology::Topology;

use super::build;
use super::docker::{self as d, describe};
use super::plan::{self, PlannedService};
use super::{Engine, EngineError, atomic, compare, files, images, labels, objects};

pub(super) fn object(name: &str, id: &str) -> Option<String> {
    Some(format!("{name} ({})", d::short_id(id)))
}

fn not_prepared(e: EngineError) -> NotPrepared {
    NotPrepared { message: e.to_string(), services: Vec::new() }
}

/// Plans the selection, makes sure every image is there (built when a service
/// builds it and it is missing, or with `--build`), then the networks and
/// volumes it uses. Requests: one inspect per image (a pull or a build when
/// missing), one per network and volume (a create when missing). A failed
/// build is kept for `converge` to fail its services with.
pub(super) async fn prepare(
    e: &Engine<'_>,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<Vec<String>, NotPrepared> {
    let mut plans = plan::plan(e.t, e.env, sel.services()).map_err(not_prepared)?;
    let jobs = build::jobs(e.t, e.env, &plans).map_err(not_prepared)?;
    let images = images::ensure_images(&e.docker, &plans, &jobs, e.opts.build, progress).await;
    let failures = images.unavailable;
    if !failures.is_empty() {
        let services =
            plans.iter().filter_map(|p| failures.get(&p.spec.image).map(|r| (p.service.clone(), r.clone()))).collect();
        let mut errs: Vec<String> = failures.into_values().collect();
        errs.sort();
        errs.dedup();
        return Err(NotPrepared { message: format!("nothing was changed: {}", errs.join("; ")), services });
    }
    for p in &mut plans {
        build::bind(e.t, p, images.found.get(&p.spec.image));
    }
    ensure_networks(&e.docker, e.t, &plans).await.map_err(not_prepared)?;
    ensure_volumes(&e.docker, e.t, &plans).await.map_err(not_prepared)?;
    let listed = d::project_containers(&e.docker, &e.t.name, None)
        .await
        .map_err(|err| not_prepared(EngineError::docker("listing the project's containers", &err)))?;
    let mut by_service: HashMap<String, Vec<ContainerSummary>> = HashMap::new();
    for c in listed {
        let svc = c.labels.as_ref().and_then(|l| l.get(labels::SERVICE)).cloned().unwrap_or_default();
        by_service.entry(svc).or_default().push(c);
    }
    let _ = e.listed.set(by_service);
    let warnings: Vec<String> = plans.iter().flat_map(|p| p.warnings.iter().cloned()).collect();
    // A second prepare on the same engine keeps the first plans (never happens in one command).
    let _ = e.plans.set(plans.into_iter().map(|p| (p.service.clone(), p)).collect());
    let _ = e.images.set(images.found);
    let _ = e.build_failed.set(images.build_failed);
    Ok(warnings)
}

/// Converges one service. Requests: none for a running container whose labels
/// show the planned spec; otherwise one inspect; then a create, connects and a
/// start when it is new or changed, a start when it stopped.
pub(super) async fn converge(
    e: &Engine<'_>,
    p: &PlannedService,
    step: &Step<'_>,
) -> Result<Converged<String>, Failure> {
    if let Some(f) = e.build_failed.get().and_then(|m| m.get(&p.service)) {
        return Err(f.clone());
    }
    let image = e.images.get().and_then(|m| m.get(&p.spec.image));
    let image_id = image.and_then(|i| i.id.as_deref());
    let Some(found) = existing(e, p).await.map_err(Failure::new)? else {
        return create_and_start(e, p, step, Action::Created, image_id, Vec::new()).await;
    };
    if !e.opts.force_recreate
        && let Some(c) = unchanged_at_a_glance(p, &found, image_id)
    {
        return Ok(c);
    }
    let id = found.id.clone().unwrap_or_default();
    let c = match d::inspect(&e.docker, &id).await {
        Ok(Some(c)) => c,
        Ok(None) => return create_and_start(e, p, step, Action::Created, image_id, Vec::new()).await,
        Err(err) => return Err(Failure::new(format!("cannot inspect container: {}", describe(&err)))),
    };
    let live = compare::live_spec(&c);
    if live.spec.name != p.spec.name {
        name_free(e, p).await.map_err(Failure::new)?;
    }
    let changes = compare::compare(p, &live, image);
    if changes.is_empty() && !e.opts.force_recreate {
        return unchanged(e, p, &c, step).await;
    }
    let mut detail: Vec<String> = changes
        .iter()
        .map(|f| {
            let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
            format!("changed {}: {} -> {}", f.path, show(&f.live), show(&f.planned))
        })
        .collect();
    if changes.is_empty() {
        detail.push("recreated: --force-recreate".to_string());
    }
    replace(e, p, step, &c, image_id, detail).await
}

/// The anonymous volumes of a container (an image's own `VOLUME`s, Docker's
/// 64-hex names), as `name:/target` binds, except where the plan mounts something.
fn anonymous_volumes(c: &ContainerInspectResponse, p: &PlannedService) -> Vec<String> {
    let planned = |target: &str| {
        p.spec.mounts.iter().any(|m| m.split(" -> ").nth(1).is_some_and(|t| t.trim_end_matches(":ro") == target))
    };
    let anon = |n: &str| n.len() == 64 && n.chars().all(|ch| ch.is_ascii_hexdigit());
    c.mounts
        .iter()
        .flatten()
        .filter(|m| m.typ.as_deref() == Some("volume"))
        .filter_map(|m| Some((m.name.clone()?, m.destination.clone()?)))
        .filter(|(name, target)| anon(name) && !planned(target))
        .map(|(name, target)| format!("{name}:{target}"))
        .collect()
}

/// Replaces a changed container so that the service is never left with
/// nothing: the new one is created first (under a temporary name, with the old
/// one's anonymous volumes unless `--renew-anon-volumes`), then the old one
/// stops, the new one starts, the old one goes and the new one takes its name.
/// When the new one cannot be created or started, the old one keeps (or gets
/// back) running, and the error says so.
async fn replace(
    e: &Engine<'_>,
    p: &PlannedService,
    step: &Step<'_>,
    old: &ContainerInspectResponse,
    image_id: Option<&str>,
    mut detail: Vec<String>,
) -> Result<Converged<String>, Failure> {
    let old_id = old.id.clone().unwrap_or_default();
    let old_name = d::container_name(old);
    let carried = if e.opts.renew_anon_volumes { Vec::new() } else { anonymous_volumes(old, p) };
    let tmp = format!("{}-deploy-next", p.spec.name);
    // Left by an interrupted apply: never started, its volumes are the old container's.
    let _ = remove_container(&e.docker, &tmp, false).await;
    step.phase(Phase::Creating);
    let new_id = create(e, p, image_id, &tmp, &carried).await.map_err(|f| {
        let f = f.with_detail(detail.clone());
        Failure { reason: format!("{}; the old container {old_name} is left running", f.reason), ..f }
    })?;
    if !carried.is_empty() {
        detail.push(format!("kept the anonymous volume(s) of the old container: {}", carried.join(", ")));
    }
    step.phase(Phase::Removing);
    stop(&e.docker, &old_id)
        .await
        .map_err(|r| Failure::new(format!("cannot stop the old container {old_name}: {r}")))?;
    step.phase(Phase::Starting);
    if let Err(reason) = start_container(&e.docker, p, &new_id).await {
        let _ = remove_container(&e.docker, &new_id, false).await;
        let back = match e.docker.start_container(&old_id, None).await {
            Ok(()) => format!("the old container {old_name} was started again"),
            Err(err) => format!("the old container {old_name} could not be started again: {}", describe(&err)),
        };
        return Err(Failure::new(format!("{reason}; {back}")).with_detail(detail).on(object(&old_name, &old_id)));
    }
    // Removed, or kept (stopped, renamed) for `--atomic` to restore.
    atomic::retire(e, p, (&old_id, &old_name), carried.is_empty()).await?;
    let rename = bollard::query_parameters::RenameContainerOptionsBuilder::default().name(&p.spec.name).build();
    e.docker.rename_container(&new_id, rename).await.map_err(|err| {
        Failure::new(format!(
            "the new container runs as {tmp} but cannot take the name {}: {}",
            p.spec.name,
            describe(&err)
        ))
    })?;
    Ok(Converged { action: Action::Recreated, object: object(&p.spec.name, &new_id), detail, next: Next::Wait(new_id) })
}

/// Stops a container gracefully (so that data is flushed); stopped already is fine.
/// The Engine waits the container's own `StopTimeout` (`stop_grace_period`, 10 s by default) and sends its `StopSignal`.
async fn stop(docker: &Docker, id: &str) -> Result<(), String> {
    let opts = bollard::query_parameters::StopContainerOptionsBuilder::default().build();
    match docker.stop_container(id, Some(opts)).await {
        Ok(()) => Ok(()),
        Err(err) if d::is_status(&err, 304) || d::is_not_found(&err) => Ok(()),
        Err(err) => Err(describe(&err)),
    }
}

/// The spec is unchanged: leave a running container (or a completed one-shot)
/// alone, start one that is not running.
async fn unchanged(
    e: &Engine<'_>,
    p: &PlannedService,
    c: &ContainerInspectResponse,
    step: &Step<'_>,
) -> Result<Converged<String>, Failure> {
    let id = c.id.clone().unwrap_or_default();
    let obj = object(&p.spec.name, &id);
    let state = c.state.as_ref();
    let exit_code = state.and_then(|s| s.exit_code).unwrap_or(0);
    let converged = |action, detail, next| Converged { action, object: obj.clone(), detail, next };
    match state.and_then(|s| s.status) {
        Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::RESTARTING) => {
            Ok(converged(Action::Unchanged, Vec::new(), Next::Wait(id)))
        }
        Some(ContainerStateStatusEnum::EXITED) if exit_code == 0 && p.must_complete => Ok(converged(
            Action::Unchanged,
            Vec::new(),
            Next::Settled(Done::Completed(vec!["already completed (exit 0); not run again".into()])),
        )),
        _ => {
            step.phase(Phase::Starting);
            start_container(&e.docker, p, &id).await.map_err(|r| Failure::new(r).on(obj.clone()))?;
            Ok(converged(Action::Updated, vec!["was not running: started".into()], Next::Wait(id)))
        }
    }
}

/// Creates the container of a service that has none yet, while it waits for
/// its dependencies (as `docker compose up` creates before it starts): the
/// create is then off the path from one dependency to the next. A create that
/// fails here is retried, and reported, by `converge`.
pub(super) async fn stage(e: &Engine<'_>, p: &PlannedService) {
    let build_failed = e.build_failed.get().is_some_and(|m| m.contains_key(&p.service));
    if build_failed || e.listed.get().is_some_and(|m| m.contains_key(&p.service)) {
        return;
    }
    let image_id = e.images.get().and_then(|m| m.get(&p.spec.image)).and_then(|i| i.id.clone());
    if let Ok(id) = create(e, p, image_id.as_deref(), &p.spec.name, &[]).await
        && let Ok(mut m) = e.precreated.lock()
    {
        m.insert(p.service.clone(), id);
    }
}

/// Removes the container `stage` created for a service that will not be
/// started (a dependency failed): nothing is left half-done.
pub(super) async fn abandon(e: &Engine<'_>, service: &str) {
    let id = e.precreated.lock().ok().and_then(|mut m| m.remove(service));
    if let Some(id) = id {
        // Best effort: a leftover created container is replaced by the next apply anyway.
        let _ = remove_container(&e.docker, &id, true).await;
    }
}

/// Creates the container under `name` (with `binds` added: carried-over
/// anonymous volumes) and joins its other networks; returns its ID.
async fn create(
    e: &Engine<'_>,
    p: &PlannedService,
    image_id: Option<&str>,
    name: &str,
    binds: &[String],
) -> Result<String, Failure> {
    let mut opts = CreateContainerOptionsBuilder::default().name(name);
    if let Some(platform) = &p.spec.vocab.platform {
        opts = opts.platform(platform);
    }
    let opts = opts.build();
    let mut body = p.create_body(image_id);
    if !binds.is_empty()
        && let Some(hc) = body.host_config.as_mut()
    {
        hc.binds.get_or_insert_with(Vec::new).extend(binds.iter().cloned());
    }
    let id = match e.docker.create_container(Some(opts), body).await {
        Ok(r) => r.id,
        Err(err) => {
            if d::is_status(&err, 409) {
                // The name is taken: say by whom.
                name_free(e, p).await.map_err(Failure::new)?;
            }
            return Err(Failure::new(format!("cannot create container {}: {}", p.spec.name, describe(&err))));
        }
    };
    // API 1.41: one network at create time, the others now.
    for net in &p.extra_networks {
        let req = NetworkConnectRequest { container: id.clone(), endpoint_config: Some(p.endpoint_for(net)) };
        if let Err(err) = e.docker.connect_network(net, req).await {
            let reason = format!("cannot connect container {} to network {net}: {}", p.spec.name, describe(&err));
            return Err(Failure::new(reason).on(object(&p.spec.name, &id)));
        }
    }
    // Secrets and configs from `environment` or `content`: copied in before the start, as Compose does.
    if let Err(reason) = files::inject(&e.docker, &id, &p.injected).await {
        let reason = format!("container {}: {reason}", p.spec.name);
        return Err(Failure::new(reason).on(object(&p.spec.name, &id)));
    }
    Ok(id)
}

async fn create_and_start(
    e: &Engine<'_>,
    p: &PlannedService,
    step: &Step<'_>,
    action: Action,
    image_id: Option<&str>,
    mut detail: Vec<String>,
) -> Result<Converged<String>, Failure> {
    let precreated = e.precreated.lock().ok().and_then(|mut m| m.remove(&p.service));
    let id = match precreated {
        Some(id) => id,
        None => {
            step.phase(Phase::Creating);
            create(e, p, image_id, &p.spec.name, &[]).await.map_err(|f| f.with_detail(detail.clone()))?
        }
    };
    step.phase(Phase::Starting);
    if let Err(reason) = start_container(&e.docker, p, &id).await {
        // Leave nothing half-done: the next apply creates it afresh.
        if let Err(err) = remove_container(&e.docker, &id, true).await {
            detail.push(format!("the container that could not start was not removed: {err}"));
        }
        return Err(Failure::new(reason).with_detail(detail));
    }
    Ok(Converged { action, object: object(&p.spec.name, &id), detail, next: Next::Wait(id) })
}

/// The service's container from the project listing `prepare` made (the one
/// with the planned name first); extra ones, left by an older layout, are removed.
async fn existing(e: &Engine<'_>, p: &PlannedService) -> Result<Option<ContainerSummary>, String> {
    let mut list: Vec<ContainerSummary> = e.listed.get().and_then(|m| m.get(&p.service)).cloned().unwrap_or_default();
    // A previous container `--atomic` kept is an extra unless it is all there is.
    list.sort_by_key(|c| (d::summary_name(c) != p.spec.name, atomic::is_kept(c)));
    for extra in list.iter().skip(1) {
        let id = extra.id.clone().unwrap_or_default();
        remove_container(&e.docker, &id, true)
            .await
            .map_err(|err| format!("cannot remove extra container {id}: {err}"))?;
    }
    match list.into_iter().next() {
        Some(c) if atomic::is_kept(&c) => atomic::reclaim(e, p, c).await.map(Some),
        first => Ok(first),
    }
}

/// An error when a container that is not this service's holds the planned name.
async fn name_free(e: &Engine<'_>, p: &PlannedService) -> Result<(), String> {
    let other = d::inspect(&e.docker, &p.spec.name)
        .await
        .map_err(|err| format!("cannot inspect container {}: {}", p.spec.name, describe(&err)))?;
    let Some(other) = other else { return Ok(()) };
    let l = other.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
    let owner = (l.get(labels::PROJECT), l.get(labels::SERVICE));
    if owner == (Some(&e.t.name), Some(&p.service)) {
        return Ok(());
    }
    let whose = match owner {
        (Some(proj), Some(svc)) => format!("service `{svc}` of project `{proj}`"),
        _ => "no deploy/compose project".to_string(),
    };
    Err(format!(
        "a container named `{}` already exists and belongs to {whose}; remove it (`docker rm -f {}`) or set another `container_name`",
        p.spec.name, p.spec.name
    ))
}

/// Without an inspect: a running container whose labels carry the planned
/// spec hash and image is unchanged; ready already when it has no probe or
/// Docker says it is healthy. `None`: look closer.
fn unchanged_at_a_glance(
    p: &PlannedService,
    c: &ContainerSummary,
    image_id: Option<&str>,
) -> Option<Converged<String>> {
    let l = c.labels.as_ref()?;
    let same = l.get(labels::CONFIG_HASH) == Some(&p.hash) && l.get(labels::IMAGE).map(String::as_str) == image_id;
    if !same || p.must_complete || c.state != Some(ContainerSummaryStateEnum::RUNNING) {
        return None;
    }
    let id = c.id.clone().unwrap_or_default();
    let healthy = c.status.as_deref().is_some_and(|s| s.contains("(healthy)"));
    let next = match (&p.probe, healthy) {
        (None, _) => Next::Settled(Done::Ready(Vec::new())),
        (Some(_), true) => Next::Settled(Done::Ready(vec!["docker health: healthy".into()])),
        (Some(_), false) => Next::Wait(id.clone()),
    };
    Some(Converged { action: Action::Unchanged, object: object(&p.spec.name, &id), detail: Vec::new(), next })
}

async fn start_container(docker: &Docker, p: &PlannedService, id: &str) -> Result<(), String> {
    match docker.start_container(id, None).await {
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

async fn ensure_networks(docker: &Docker, t: &Topology, plans: &[PlannedService]) -> Result<(), EngineError> {
    for (key, name, driver) in plan::networks(t, plans) {
        let external = objects::external_network(t, &key);
        if !networks_named(docker, &name).await?.is_empty() {
            if !external {
                dedupe_network(docker, &name).await?;
            }
            continue;
        }
        if external {
            return Err(objects::missing_external("network", &key, &name));
        }
        let req = objects::network(t, &key, &name, &driver);
        match docker.create_network(req).await {
            Ok(_) => {}
            Err(e) if d::is_status(&e, 409) => {}
            Err(e) => return Err(EngineError::docker(format!("creating network {name}"), &e)),
        }
        // Docker (API < 1.44) lets two creates of one name both succeed: heal a race at once.
        dedupe_network(docker, &name).await?;
    }
    Ok(())
}

/// The networks whose name is exactly `name` (Docker's filter matches substrings).
async fn networks_named(docker: &Docker, name: &str) -> Result<Vec<bollard::models::Network>, EngineError> {
    let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
    filters.insert("name", vec![name.to_string()]);
    let opts = bollard::query_parameters::ListNetworksOptionsBuilder::default().filters(&filters).build();
    let all = docker
        .list_networks(Some(opts))
        .await
        .map_err(|e| EngineError::docker(format!("listing networks named {name}"), &e))?;
    Ok(all.into_iter().filter(|n| n.name.as_deref() == Some(name)).collect())
}

/// Two networks with one name (left by an engine race or an older tool) make
/// every later request by name fail as "ambiguous". Keeps the one containers
/// use (else the oldest) and removes the others when they are empty; a
/// duplicate in use is an error that names both.
async fn dedupe_network(docker: &Docker, name: &str) -> Result<(), EngineError> {
    let nets = networks_named(docker, name).await?;
    if nets.len() < 2 {
        return Ok(());
    }
    let mut users = Vec::new();
    for n in &nets {
        let id = n.id.clone().unwrap_or_default();
        let detail = docker
            .inspect_network(&id, None)
            .await
            .map_err(|e| EngineError::docker(format!("inspecting network {name} ({})", d::short_id(&id)), &e))?;
        users.push((detail.containers.map_or(0, |c| c.len()), n.created.clone().unwrap_or_default(), id));
    }
    users.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (count, _, id) in users.iter().skip(1) {
        if *count > 0 {
            let ids: Vec<&str> = users.iter().map(|u| d::short_id(&u.2)).collect();
            return Err(EngineError::Input(format!(
                "two networks are named {name} ({}) and both have containers; remove one with `docker network rm`",
                ids.join(", ")
            )));
        }
        match docker.remove_network(id).await {
            Ok(()) => {}
            Err(e) if d::is_not_found(&e) => {}
            Err(e) => return Err(EngineError::docker(format!("removing the duplicate network {name}"), &e)),
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
        if objects::external_volume(t, &key) {
            return Err(objects::missing_external("volume", &key, &name));
        }
        let req = objects::volume(t, &key, &name);
        docker.create_volume(req).await.map_err(|e| EngineError::docker(format!("creating volume {name}"), &e))?;
    }
    Ok(())
}

/// Stops (gracefully, so that data is flushed) and removes a container. Missing is fine.
/// `anonymous_volumes`: also delete the anonymous volumes Docker made for the
/// image's `VOLUME`s (scratch space: the topology keeps data in named volumes only).
pub(super) async fn remove_container(docker: &Docker, id: &str, anonymous_volumes: bool) -> Result<(), String> {
    // The container's own stop timeout (`stop_grace_period`, 10 s by default), as `docker compose down`.
    let stop = bollard::query_parameters::StopContainerOptionsBuilder::default().build();
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
