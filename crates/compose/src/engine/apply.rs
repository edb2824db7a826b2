//! Apply on a Docker Engine, as the orchestrator drives it: `prepare` (plans,
//! images, networks, volumes; nothing is created when an image cannot be had),
//! then `converge` one service: create it, recreate it when its spec changed
//! (named volumes kept), start it when it is not running, or leave it alone.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, NetworkConnectRequest};
use bollard::query_parameters::CreateContainerOptionsBuilder;
use deploy_orchestrator::{Converged, Done, Failure, Next, NotPrepared, Selection, Step};
use deploy_report::{Action, Phase, Progress};
use deploy_topology::Topology;

use super::docker::{self as d, describe};
use super::plan::{self, PlannedService};
use super::{Engine, EngineError, compare, images, labels};

pub(super) fn object(name: &str, id: &str) -> Option<String> {
    Some(format!("{name} ({})", d::short_id(id)))
}

fn not_prepared(e: EngineError) -> NotPrepared {
    NotPrepared { message: e.to_string(), services: Vec::new() }
}

/// Plans the selection, makes sure every image is there, then the networks and
/// volumes it uses. Requests: one inspect per image (a pull when missing), one
/// per network and volume (a create when missing).
pub(super) async fn prepare(
    e: &Engine<'_>,
    sel: &Selection,
    progress: &dyn Progress,
) -> Result<Vec<String>, NotPrepared> {
    let plans = plan::plan(e.t, e.env, sel.services()).map_err(not_prepared)?;
    let (found, failures) = images::ensure_images(&e.docker, &plans, progress).await;
    if !failures.is_empty() {
        let services =
            plans.iter().filter_map(|p| failures.get(&p.spec.image).map(|r| (p.service.clone(), r.clone()))).collect();
        let mut errs: Vec<String> = failures.into_values().collect();
        errs.sort();
        errs.dedup();
        return Err(NotPrepared { message: format!("nothing was changed: {}", errs.join("; ")), services });
    }
    ensure_networks(&e.docker, e.t, &plans).await.map_err(not_prepared)?;
    ensure_volumes(&e.docker, e.t, &plans).await.map_err(not_prepared)?;
    // A second prepare on the same engine keeps the first plans (never happens in one command).
    let _ = e.plans.set(plans.into_iter().map(|p| (p.service.clone(), p)).collect());
    let _ = e.images.set(found);
    Ok(Vec::new())
}

/// Converges one service. Requests: one list and one inspect; then a create,
/// connects and a start when it is new or changed, a start when it stopped.
pub(super) async fn converge(
    e: &Engine<'_>,
    p: &PlannedService,
    step: &Step<'_>,
) -> Result<Converged<String>, Failure> {
    let existing = find_existing(e, p).await.map_err(Failure::new)?;
    let image = e.images.get().and_then(|m| m.get(&p.spec.image));
    let image_id = image.and_then(|i| i.id.as_deref());
    let Some(c) = existing else {
        return create_and_start(e, p, step, Action::Created, image_id, Vec::new()).await;
    };
    let id = c.id.clone().unwrap_or_default();
    let live = compare::live_spec(&c);
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
    step.phase(Phase::Removing);
    if let Err(err) = remove_container(&e.docker, &id, true).await {
        let reason = format!("cannot remove the old container {} to recreate it: {err}", live.spec.name);
        return Err(Failure::new(reason).with_detail(detail).on(object(&live.spec.name, &id)));
    }
    create_and_start(e, p, step, Action::Recreated, image_id, detail).await
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

async fn create_and_start(
    e: &Engine<'_>,
    p: &PlannedService,
    step: &Step<'_>,
    action: Action,
    image_id: Option<&str>,
    mut detail: Vec<String>,
) -> Result<Converged<String>, Failure> {
    step.phase(Phase::Creating);
    let opts = CreateContainerOptionsBuilder::default().name(&p.spec.name).build();
    let id = match e.docker.create_container(Some(opts), p.create_body(image_id)).await {
        Ok(r) => r.id,
        Err(err) => {
            let reason = format!("cannot create container {}: {}", p.spec.name, describe(&err));
            return Err(Failure::new(reason).with_detail(detail));
        }
    };
    // API 1.41: one network at create time, the others now.
    for net in &p.extra_networks {
        let req = NetworkConnectRequest { container: id.clone(), endpoint_config: Some(plan::endpoint(&p.service)) };
        if let Err(err) = e.docker.connect_network(net, req).await {
            let reason = format!("cannot connect container {} to network {net}: {}", p.spec.name, describe(&err));
            return Err(Failure::new(reason).with_detail(detail).on(object(&p.spec.name, &id)));
        }
    }
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

/// The service's container: by project and service labels, else `None`. A
/// container that holds the planned name but is not this service's is a conflict.
async fn find_existing(e: &Engine<'_>, p: &PlannedService) -> Result<Option<ContainerInspectResponse>, String> {
    let list = d::project_containers(&e.docker, &e.t.name, Some(&p.service))
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
                d::inspect(&e.docker, id).await.map_err(|e| format!("cannot inspect container: {}", describe(&e)))?;
        } else {
            remove_container(&e.docker, id, true)
                .await
                .map_err(|e| format!("cannot remove extra container {id}: {e}"))?;
        }
    }
    if found.is_none() || found.as_ref().is_some_and(|c| d::container_name(c) != p.spec.name) {
        // Somebody else's container with our name?
        if let Some(other) = d::inspect(&e.docker, &p.spec.name)
            .await
            .map_err(|e| format!("cannot inspect container {}: {}", p.spec.name, describe(&e)))?
        {
            let l = other.config.as_ref().and_then(|c| c.labels.clone()).unwrap_or_default();
            let owner = (l.get(labels::PROJECT), l.get(labels::SERVICE));
            if owner != (Some(&e.t.name), Some(&p.service)) {
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
