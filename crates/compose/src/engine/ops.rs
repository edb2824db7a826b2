//! Diff, status and destroy.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum, HealthStatusEnum};
use bollard::query_parameters::{ListNetworksOptionsBuilder, ListVolumesOptionsBuilder, RemoveVolumeOptionsBuilder};
use deploy_report::{Change, DestroyReport, DiffReport, FieldChange, ObjectDiff, ServiceStatus, StatusReport};
use deploy_topology::{Env, Topology};

use super::apply::remove_container;
use super::docker::{self as d, describe};
use super::plan::{self, PlannedService};
use super::{DestroyOptions, EngineError, TARGET, compare, labels, probe};

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
    if !p.spec.ports.is_empty() {
        f.push(FieldChange::new("ports", None, Some(&p.spec.ports.join(", ")), false));
    }
    if !p.spec.mounts.is_empty() {
        f.push(FieldChange::new("mounts", None, Some(&p.spec.mounts.join(", ")), false));
    }
    f.push(FieldChange::new("networks", None, Some(&p.spec.networks.join(", ")), false));
    if let Some(n) = p.spec.nano_cpus {
        f.push(FieldChange::new("resources.limits.nano_cpus", None, Some(&n.to_string()), false));
    }
    if let Some(n) = p.spec.memory {
        f.push(FieldChange::new("resources.limits.memory", None, Some(&n.to_string()), false));
    }
    if let Some(n) = p.spec.memory_reservation {
        f.push(FieldChange::new("resources.reservations.memory", None, Some(&n.to_string()), false));
    }
    if let Some(h) = &p.spec.healthcheck {
        f.push(FieldChange::new("healthcheck", None, Some(&h.describe()), false));
    }
    f.push(FieldChange::new("restart", None, Some(&p.spec.restart), false));
    f
}

/// Planned versus live, object by object and field by field.
pub async fn diff(t: &Topology, env: &Env, services: &[String]) -> Result<DiffReport, EngineError> {
    let chosen = plan::select(t, env, services)?;
    let plans = plan::plan(t, env, &chosen)?;
    let docker = d::connect().await?;
    let mut objects = Vec::new();

    for (key, name, driver) in plan::networks(t, &plans) {
        let change = match docker.inspect_network(&name, None).await {
            Ok(_) => Change::Unchanged,
            Err(e) if d::is_not_found(&e) => Change::Create,
            Err(e) => {
                return Err(EngineError::docker(format!("inspecting network {name}"), &e));
            }
        };
        let fields = if change == Change::Create {
            vec![
                FieldChange::new("driver", None, Some(&driver), false),
                FieldChange::new("key", None, Some(&key), false),
            ]
        } else {
            Vec::new()
        };
        objects.push(ObjectDiff { kind: "network".into(), name, service: None, change, fields });
    }
    for (key, name) in plan::volumes(t, &plans) {
        let change = match docker.inspect_volume(&name).await {
            Ok(_) => Change::Unchanged,
            Err(e) if d::is_not_found(&e) => Change::Create,
            Err(e) => return Err(EngineError::docker(format!("inspecting volume {name}"), &e)),
        };
        let fields =
            if change == Change::Create { vec![FieldChange::new("key", None, Some(&key), false)] } else { Vec::new() };
        objects.push(ObjectDiff { kind: "volume".into(), name, service: None, change, fields });
    }

    let mut images: HashMap<String, Option<bollard::models::ImageInspect>> = HashMap::new();
    for p in &plans {
        if !images.contains_key(&p.spec.image) {
            let i = match docker.inspect_image(&p.spec.image).await {
                Ok(i) => Some(i),
                Err(e) if d::is_not_found(&e) => None,
                Err(e) => {
                    return Err(EngineError::docker(format!("inspecting image {}", p.spec.image), &e));
                }
            };
            images.insert(p.spec.image.clone(), i);
        }
        let image = images.get(&p.spec.image).and_then(Option::as_ref);
        let live = live_container(&docker, &t.name, &p.service, &p.spec.name).await?;
        let (change, fields, name) = match live {
            None => (Change::Create, create_fields(p), p.spec.name.clone()),
            Some(c) => {
                let live = compare::live_spec(&c);
                let mut fields = compare::compare(p, &live, image);
                if image.is_none() {
                    fields.push(FieldChange::new(
                        "image.present",
                        None,
                        Some(&format!("{} (not present locally: apply will pull it)", p.spec.image)),
                        false,
                    ));
                }
                let change = if fields.is_empty() { Change::Unchanged } else { Change::Update };
                (change, fields, live.spec.name)
            }
        };
        objects.push(ObjectDiff { kind: "container".into(), name, service: Some(p.service.clone()), change, fields });
    }

    // Containers of services the topology no longer has.
    let all = d::project_containers(&docker, &t.name, None)
        .await
        .map_err(|e| EngineError::docker("listing containers", &e))?;
    for c in all {
        let svc = c.labels.as_ref().and_then(|l| l.get(labels::SERVICE)).cloned().unwrap_or_default();
        if !t.services.contains_key(&svc) {
            objects.push(ObjectDiff {
                kind: "container".into(),
                name: d::summary_name(&c),
                service: Some(svc.clone()),
                change: Change::Delete,
                fields: vec![FieldChange::new("service", Some(&svc), None, false)],
            });
        }
    }
    Ok(DiffReport { target: TARGET.into(), project: t.name.clone(), objects })
}

fn health_str(h: HealthStatusEnum) -> String {
    h.to_string()
}

/// Each service's container, state, readiness, health and published ports.
pub async fn status(t: &Topology, services: &[String]) -> Result<StatusReport, EngineError> {
    let chosen: Vec<String> = if services.is_empty() {
        t.order().into_iter().map(String::from).collect()
    } else {
        for s in services {
            if !t.services.contains_key(s) {
                return Err(EngineError::Input(format!(
                    "no service named `{s}` in this topology (services are: {})",
                    t.services.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        services.to_vec()
    };
    let docker = d::connect().await?;
    let mut out = Vec::new();
    for name in &chosen {
        let Some(s) = t.services.get(name) else {
            continue;
        };
        let cname = plan::container_name(t, s);
        let Some(c) = live_container(&docker, &t.name, name, &cname).await? else {
            out.push(ServiceStatus {
                service: name.clone(),
                object: None,
                state: "missing".into(),
                ready: false,
                health: None,
                ports: Vec::new(),
                detail: vec!["no container: run `deploy apply`".into()],
            });
            continue;
        };
        let id = c.id.clone().unwrap_or_default();
        let st = c.state.clone().unwrap_or_default();
        let code = st.exit_code.unwrap_or(0);
        let health = st.health.as_ref().and_then(|h| h.status).map(health_str);
        let status = st.status.map(|s| s.to_string()).unwrap_or_else(|| "unknown".into());
        let mut detail = Vec::new();
        let (state, ready) = match st.status {
            Some(ContainerStateStatusEnum::RUNNING) => {
                let ready = match (&s.healthcheck, st.health.as_ref().and_then(|h| h.status)) {
                    (None, _) => true,
                    (Some(_), Some(HealthStatusEnum::HEALTHY)) => true,
                    (Some(_), _) => {
                        // Docker may not have run its first check yet: probe now.
                        let env = Env::from_process();
                        match plan::plan_service(t, &env, s, false).ok().and_then(|p| p.probe) {
                            Some(pr) => {
                                let r = probe::run(&docker, &id, &pr, Duration::from_secs(5)).await;
                                detail.push(format!("probe: {}", r.summary));
                                r.passed
                            }
                            None => false,
                        }
                    }
                };
                ("running".to_string(), ready)
            }
            Some(ContainerStateStatusEnum::EXITED) if code == 0 => ("completed (exit 0)".to_string(), true),
            Some(ContainerStateStatusEnum::EXITED) => (format!("exited ({code})"), false),
            _ => (status, false),
        };
        if let Some(started) = st.started_at.as_deref().filter(|s| !s.starts_with("0001")) {
            detail.push(format!("started {started}"));
        }
        let mut ports = Vec::new();
        for (key, bindings) in c.network_settings.as_ref().and_then(|n| n.ports.clone()).unwrap_or_default() {
            for b in bindings.unwrap_or_default() {
                ports.push(format!("{}:{}->{key}", b.host_ip.unwrap_or_default(), b.host_port.unwrap_or_default()));
            }
        }
        ports.sort();
        out.push(ServiceStatus {
            service: name.clone(),
            object: Some(d::container_name(&c)),
            state,
            ready,
            health,
            ports,
            detail,
        });
    }
    Ok(StatusReport { target: TARGET.into(), project: t.name.clone(), services: out })
}

/// Removes the project's containers and networks; named volumes only when asked.
pub async fn destroy(t: &Topology, opts: &DestroyOptions) -> Result<DestroyReport, EngineError> {
    for s in &opts.services {
        if !t.services.contains_key(s) {
            return Err(EngineError::Input(format!(
                "no service named `{s}` in this topology (services are: {})",
                t.services.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    let docker = d::connect().await?;
    let mut removed = Vec::new();
    let mut kept = Vec::new();

    let all = d::project_containers(&docker, &t.name, None)
        .await
        .map_err(|e| EngineError::docker("listing containers", &e))?;
    let targets: Vec<_> = all
        .into_iter()
        .filter(|c| {
            opts.services.is_empty()
                || c.labels.as_ref().and_then(|l| l.get(labels::SERVICE)).is_some_and(|s| opts.services.contains(s))
        })
        .collect();
    let results = futures::future::join_all(targets.iter().map(|c| {
        let docker = &docker;
        async move {
            let id = c.id.clone().unwrap_or_default();
            (d::summary_name(c), remove_container(docker, &id, opts.volumes).await)
        }
    }))
    .await;
    let mut errors = Vec::new();
    for (name, r) in results {
        match r {
            Ok(()) => removed.push(format!("container {name}")),
            Err(e) => errors.push(format!("container {name}: {e}")),
        }
    }
    if opts.services.is_empty() {
        // Networks: those labelled with the project, plus the topology's own
        // (when they carry our label).
        let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
        filters.insert("label", vec![format!("{}={}", labels::PROJECT, t.name)]);
        let nets = docker
            .list_networks(Some(ListNetworksOptionsBuilder::default().filters(&filters).build()))
            .await
            .map_err(|e| EngineError::docker("listing networks", &e))?;
        for n in nets {
            let name = n.name.clone().unwrap_or_default();
            match docker.remove_network(n.id.as_deref().unwrap_or(&name)).await {
                Ok(()) => removed.push(format!("network {name}")),
                Err(e) if d::is_not_found(&e) => {}
                Err(e) => errors.push(format!("network {name}: {}", describe(&e))),
            }
        }
        let vols = docker
            .list_volumes(Some(ListVolumesOptionsBuilder::default().filters(&filters).build()))
            .await
            .map_err(|e| EngineError::docker("listing volumes", &e))?;
        for v in vols.volumes.unwrap_or_default() {
            if opts.volumes {
                match docker.remove_volume(&v.name, Some(RemoveVolumeOptionsBuilder::default().build())).await {
                    Ok(()) => removed.push(format!("volume {}", v.name)),
                    Err(e) if d::is_not_found(&e) => {}
                    Err(e) => errors.push(format!("volume {}: {}", v.name, describe(&e))),
                }
            } else {
                kept.push(format!("volume {}", v.name));
            }
        }
    }
    if !errors.is_empty() {
        return Err(EngineError::Docker { what: "destroying".into(), reason: errors.join("; ") });
    }
    Ok(DestroyReport { target: TARGET.into(), project: t.name.clone(), removed, kept })
}
