//! Diff, status, remove and prune on a Docker Engine.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum, ImageInspect};
use bollard::query_parameters::{ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder};
use deploy_orchestrator::{Removed, Selection};
use deploy_report::{Change, DiffReport, FieldChange, ObjectDiff, ServiceStatus};

use super::apply::remove_container;
use super::docker::{self as d, describe};
use super::plan::{self, PlannedService};
use super::{Engine, EngineError, TARGET, compare, labels, probe};
use crate::units;

/// The live container of a planned service, if any (by labels, else by name).
async fn live_container(
    docker: &bollard::Docker,
    project: &str,
    service: &str,
    name: &str,
) -> Result<Option<ContainerInspectResponse>, EngineError> {
    let list = d::project_containers(docker, project, Some(service))
        .await
        .map_err(|e| EngineError::docker("listing containers", &e))?;
    let mut ids: Vec<(String, String)> =
        list.iter().map(|c| (c.id.clone().unwrap_or_default(), d::summary_name(c))).collect();
    ids.sort_by_key(|(_, n)| n != name);
    match ids.first() {
        Some((id, _)) => d::inspect(docker, id).await.map_err(|e| EngineError::docker("inspecting a container", &e)),
        None => Ok(None),
    }
}

fn create_fields(p: &PlannedService) -> Vec<FieldChange> {
    let mut f = vec![FieldChange::new("image", None, Some(&p.spec.image), false)];
    if let Some(c) = &p.spec.command {
        f.push(FieldChange::new("command", None, Some(&c.join(" ")), p.secret_args));
    }
    for (k, v) in &p.spec.env {
        f.push(FieldChange::new(format!("env.{k}"), None, Some(v), p.secret_env.contains(k)));
    }
    let lists = [("ports", &p.spec.ports), ("mounts", &p.spec.mounts)];
    for (name, list) in lists.into_iter().filter(|(_, l)| !l.is_empty()) {
        f.push(FieldChange::new(name, None, Some(&list.join(", ")), false));
    }
    f.push(FieldChange::new("networks", None, Some(&p.spec.networks.join(", ")), false));
    let amounts = [
        ("resources.limits.cpus", p.spec.nano_cpus.map(units::cpus_from_nano)),
        ("resources.limits.memory", p.spec.memory.map(units::size_from_bytes)),
        ("resources.reservations.memory", p.spec.memory_reservation.map(units::size_from_bytes)),
    ];
    for (name, value) in amounts {
        if let Some(v) = value {
            f.push(FieldChange::new(name, None, Some(&v), false));
        }
    }
    if let Some(h) = &p.spec.healthcheck {
        f.push(FieldChange::new("healthcheck", None, Some(&h.describe()), false));
    }
    f.push(FieldChange::new("restart", None, Some(&p.spec.restart), false));
    f
}

/// Planned versus live, object by object and field by field. What it reports
/// is what apply does: a changed spec is a recreate, a stopped container a
/// start, a completed one-shot nothing.
pub async fn diff(e: &Engine<'_>, sel: &Selection) -> Result<DiffReport, EngineError> {
    let plans = plan::plan(e.t, e.env, sel.services())?;
    let mut objects = networks_and_volumes(e, &plans).await?;
    let mut images: HashMap<String, Option<ImageInspect>> = HashMap::new();
    for p in &plans {
        if !images.contains_key(&p.spec.image) {
            let i = match e.docker.inspect_image(&p.spec.image).await {
                Ok(i) => Some(i),
                Err(err) if d::is_not_found(&err) => None,
                Err(err) => return Err(EngineError::docker(format!("inspecting image {}", p.spec.image), &err)),
            };
            images.insert(p.spec.image.clone(), i);
        }
        let image = images.get(&p.spec.image).and_then(Option::as_ref);
        // As apply plans it: a built image's ID is part of its service's config hash.
        let mut p = p.clone();
        super::build::bind(e.t, &mut p, image);
        objects.push(container_diff(e, &p, image).await?);
    }
    if !sel.is_partial() {
        for (name, svc) in strays(e).await.map_err(|r| EngineError::Docker { what: "listing".into(), reason: r })? {
            objects.push(ObjectDiff {
                kind: "container".into(),
                name,
                service: Some(svc.clone()),
                change: Change::Delete,
                fields: vec![FieldChange::new("service", Some(&svc), None, false)],
            });
        }
    }
    Ok(DiffReport { target: TARGET.into(), project: e.t.name.clone(), objects })
}

async fn networks_and_volumes(e: &Engine<'_>, plans: &[PlannedService]) -> Result<Vec<ObjectDiff>, EngineError> {
    let mut objects = Vec::new();
    for (key, name, driver) in plan::networks(e.t, plans) {
        let change = match e.docker.inspect_network(&name, None).await {
            Ok(_) => Change::Unchanged,
            Err(err) if d::is_not_found(&err) => Change::Create,
            Err(err) => return Err(EngineError::docker(format!("inspecting network {name}"), &err)),
        };
        let fields = match change {
            Change::Create => vec![
                FieldChange::new("driver", None, Some(&driver), false),
                FieldChange::new("key", None, Some(&key), false),
            ],
            _ => Vec::new(),
        };
        objects.push(ObjectDiff { kind: "network".into(), name, service: None, change, fields });
    }
    for (key, name) in plan::volumes(e.t, plans) {
        let change = match e.docker.inspect_volume(&name).await {
            Ok(_) => Change::Unchanged,
            Err(err) if d::is_not_found(&err) => Change::Create,
            Err(err) => return Err(EngineError::docker(format!("inspecting volume {name}"), &err)),
        };
        let fields =
            if change == Change::Create { vec![FieldChange::new("key", None, Some(&key), false)] } else { Vec::new() };
        objects.push(ObjectDiff { kind: "volume".into(), name, service: None, change, fields });
    }
    Ok(objects)
}

async fn container_diff(
    e: &Engine<'_>,
    p: &PlannedService,
    image: Option<&ImageInspect>,
) -> Result<ObjectDiff, EngineError> {
    let live = live_container(&e.docker, &e.t.name, &p.service, &p.spec.name).await?;
    let (change, fields, name) = match live {
        None => (Change::Create, create_fields(p), p.spec.name.clone()),
        Some(c) => {
            let live = compare::live_spec(&c);
            let mut fields = compare::compare(p, &live, image);
            if image.is_none() {
                let builds = e.t.services.get(&p.service).is_some_and(|s| s.build.is_some());
                let how = if builds { "build" } else { "pull" };
                let note = format!("{} (not present locally: apply will {how} it)", p.spec.image);
                fields.push(FieldChange::new("image.present", None, Some(&note), false));
            }
            if fields.is_empty()
                && let Some(state) = not_running(&c, p.must_complete)
            {
                fields.push(FieldChange::new("state", Some(&state), Some("running"), false));
            }
            (replace_or_update(&fields), fields, live.spec.name)
        }
    };
    Ok(ObjectDiff { kind: "container".into(), name, service: Some(p.service.clone()), change, fields })
}

/// What apply does with these differences: a container whose spec changed is
/// recreated (a replacement); one only stopped is started, and an image only
/// missing locally is pulled (updates in place); none is no change.
fn replace_or_update(fields: &[FieldChange]) -> Change {
    if fields.is_empty() {
        Change::Unchanged
    } else if fields.iter().all(|f| f.path == "state" || f.path == "image.present") {
        Change::Update
    } else {
        Change::Replace
    }
}

/// The state of a container that apply would start again: not running, and not
/// a one-shot that completed (exit 0).
fn not_running(c: &ContainerInspectResponse, one_shot: bool) -> Option<String> {
    let st = c.state.as_ref()?;
    let code = st.exit_code.unwrap_or(0);
    match st.status {
        Some(ContainerStateStatusEnum::RUNNING | ContainerStateStatusEnum::RESTARTING) => None,
        Some(ContainerStateStatusEnum::EXITED) if code == 0 && one_shot => None,
        Some(ContainerStateStatusEnum::EXITED) => Some(format!("exited ({code})")),
        other => Some(other.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into())),
    }
}

/// Containers of this project whose service the topology no longer has: (name, service).
async fn strays(e: &Engine<'_>) -> Result<Vec<(String, String)>, String> {
    let all = d::project_containers(&e.docker, &e.t.name, None)
        .await
        .map_err(|err| format!("cannot list the project's containers: {}", describe(&err)))?;
    Ok(all
        .iter()
        .filter_map(|c| {
            let svc = c.labels.as_ref().and_then(|l| l.get(labels::SERVICE)).cloned().unwrap_or_default();
            (!e.t.services.contains_key(&svc)).then(|| (d::summary_name(c), svc))
        })
        .collect())
}

/// `--prune`: the containers of services no longer in the topology (whole-project applies only).
pub async fn prune(e: &Engine<'_>, sel: &Selection, delete: bool) -> Result<Vec<String>, String> {
    if sel.is_partial() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (name, svc) in strays(e).await? {
        if delete {
            remove_container(&e.docker, &name, true).await.map_err(|err| format!("container {name}: {err}"))?;
        }
        out.push(format!("container {name} (service `{svc}`)"));
    }
    Ok(out)
}

fn health_str(h: HealthStatusEnum) -> String {
    h.to_string()
}

/// Each selected service's container, state, readiness, health and published ports.
/// Requests per service: one list and one inspect (an exec probe when Docker has no health answer yet).
pub async fn status(e: &Engine<'_>, sel: &Selection) -> Result<Vec<ServiceStatus>, String> {
    let mut out = Vec::new();
    for name in sel.services() {
        out.push(service_status(e, name).await.map_err(|err| err.to_string())?);
    }
    Ok(out)
}

async fn service_status(e: &Engine<'_>, name: &str) -> Result<ServiceStatus, EngineError> {
    let s = &e.t.services[name];
    let cname = plan::container_name(e.t, s);
    let Some(c) = live_container(&e.docker, &e.t.name, name, &cname).await? else {
        return Ok(ServiceStatus {
            service: name.into(),
            object: None,
            state: "missing".into(),
            ready: false,
            health: None,
            ports: Vec::new(),
            detail: vec!["no container: run `deploy apply`".into()],
        });
    };
    let st = c.state.clone().unwrap_or_default();
    let code = st.exit_code.unwrap_or(0);
    let mut detail = Vec::new();
    let (state, ready) = match st.status {
        Some(ContainerStateStatusEnum::RUNNING) => {
            ("running".to_string(), running_ready(e, name, &c, &mut detail).await)
        }
        Some(ContainerStateStatusEnum::EXITED) if code == 0 => ("completed (exit 0)".to_string(), true),
        Some(ContainerStateStatusEnum::EXITED) => (format!("exited ({code})"), false),
        other => (other.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into()), false),
    };
    let when = match st.status {
        Some(ContainerStateStatusEnum::RUNNING) => st.started_at.as_deref().and_then(deploy_report::up_since),
        _ => st.finished_at.as_deref().and_then(deploy_report::finished_since),
    };
    detail.extend(when);
    let mut ports = Vec::new();
    for (key, bindings) in c.network_settings.as_ref().and_then(|n| n.ports.clone()).unwrap_or_default() {
        for b in bindings.unwrap_or_default() {
            ports.push(format!("{}:{}->{key}", b.host_ip.unwrap_or_default(), b.host_port.unwrap_or_default()));
        }
    }
    ports.sort();
    let health = st.health.as_ref().and_then(|h| h.status).map(health_str);
    Ok(ServiceStatus { service: name.into(), object: Some(d::container_name(&c)), state, ready, health, ports, detail })
}

/// A running container is ready when it has no probe, Docker says healthy, or
/// (before Docker's first check) the probe passes now.
async fn running_ready(e: &Engine<'_>, name: &str, c: &ContainerInspectResponse, detail: &mut Vec<String>) -> bool {
    let s = &e.t.services[name];
    match (&s.healthcheck, c.state.as_ref().and_then(|st| st.health.as_ref()).and_then(|h| h.status)) {
        (None, _) | (Some(_), Some(HealthStatusEnum::HEALTHY)) => true,
        (Some(_), Some(HealthStatusEnum::UNHEALTHY)) => false,
        (Some(_), _) => {
            let id = c.id.clone().unwrap_or_default();
            match plan::plan_service(e.t, e.env, s, false).ok().and_then(|p| p.probe) {
                Some(pr) => {
                    let r = probe::run(&e.docker, &id, &pr, Duration::from_secs(5)).await;
                    detail.push(format!("probe: {}", r.summary));
                    r.passed
                }
                None => false,
            }
        }
    }
}

/// Removes one service's containers (with their anonymous volumes), and the
/// named volumes in `volumes` (topology keys) when they carry this project's label.
pub async fn remove(e: &Engine<'_>, service: &str, volumes: &[String]) -> Result<Removed, String> {
    let mut out = Removed::default();
    let list = d::project_containers(&e.docker, &e.t.name, Some(service))
        .await
        .map_err(|err| format!("cannot list containers: {}", describe(&err)))?;
    for c in &list {
        let name = d::summary_name(c);
        remove_container(&e.docker, c.id.as_deref().unwrap_or(&name), true)
            .await
            .map_err(|err| format!("container {name}: {err}"))?;
        out.removed.push(format!("container {name}"));
    }
    for (key, _) in e.t.services[service].named_volumes() {
        let name = e.t.volumes.get(key).map_or_else(|| format!("{}_{key}", e.t.name), |v| v.name.clone());
        // An external volume is the user's: never removed.
        if volumes.iter().any(|v| v == key) && !super::objects::external_volume(e.t, key) {
            if remove_volume(e, &name).await? {
                out.removed.push(format!("volume {name}"));
            }
        } else if e.docker.inspect_volume(&name).await.is_ok() {
            out.kept.push(format!("volume {name}"));
        }
    }
    Ok(out)
}

/// Deletes a named volume of this project; `false` when it is not there.
async fn remove_volume(e: &Engine<'_>, name: &str) -> Result<bool, String> {
    match e.docker.inspect_volume(name).await {
        Ok(v)
            if v.labels.get(labels::PROJECT) == Some(&e.t.name)
                && v.labels.get(labels::MANAGED_BY).map(String::as_str) == Some(labels::MANAGER) => {}
        Ok(_) => return Err(format!("volume {name} was not created by deploy for project `{}`; left alone", e.t.name)),
        Err(err) if d::is_not_found(&err) => return Ok(false),
        Err(err) => return Err(format!("volume {name}: {}", describe(&err))),
    }
    match e.docker.remove_volume(name, Some(RemoveVolumeOptionsBuilder::default().build())).await {
        Ok(()) => Ok(true),
        Err(err) if d::is_not_found(&err) => Ok(false),
        Err(err) => Err(format!("volume {name}: {}", describe(&err))),
    }
}

/// After every service is gone: containers of services the topology no longer
/// has, the project's networks, and its volumes (deleted only when `volumes`).
pub async fn remove_project(e: &Engine<'_>, volumes: bool) -> Result<Removed, String> {
    let mut out = Removed::default();
    for (name, _) in strays(e).await? {
        remove_container(&e.docker, &name, true).await.map_err(|err| format!("container {name}: {err}"))?;
        out.removed.push(format!("container {name}"));
    }
    let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
    let ours = format!("{}={}", labels::MANAGED_BY, labels::MANAGER);
    filters.insert("label", vec![format!("{}={}", labels::PROJECT, e.t.name), ours]);
    let nets = e
        .docker
        .list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build()))
        .await
        .map_err(|err| format!("cannot list networks: {}", describe(&err)))?;
    for n in nets {
        let name = n.name.clone().unwrap_or_default();
        match e.docker.remove_network(n.id.as_deref().unwrap_or(&name)).await {
            Ok(()) => out.removed.push(format!("network {name}")),
            Err(err) if d::is_not_found(&err) => {}
            Err(err) => return Err(format!("network {name}: {}", describe(&err))),
        }
    }
    let vols = e
        .docker
        .list_volumes(Some(ListVolumesOptionsBuilder::default().filters(&filters).build()))
        .await
        .map_err(|err| format!("cannot list volumes: {}", describe(&err)))?;
    for v in vols.volumes.unwrap_or_default() {
        if !volumes {
            out.kept.push(format!("volume {}", v.name));
        } else if remove_volume(e, &v.name).await? {
            out.removed.push(format!("volume {}", v.name));
        }
    }
    Ok(out)
}
