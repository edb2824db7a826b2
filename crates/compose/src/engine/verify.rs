//! The two hooks `deploy verify` needs on a Docker Engine: run a command in
//! the service's running container (the exec API, stdout and stderr apart,
//! then the exit code), and restart the service as `docker compose restart`
//! does (the container restarted in place, Docker's own stop timeout), then
//! wait until it is ready again, as apply waits.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{ContainerStateStatusEnum, ContainerSummaryStateEnum};
use deploy_orchestrator::{Done, Exec, Failure, Step};
use futures::StreamExt;

use super::docker::{self as d, describe};
use super::{Engine, plan, wait};

/// Output kept per stream: more is cut (the orchestrator clips what it shows).
const MAX_OUTPUT: usize = 1024 * 1024;

/// The running container of `service` (by its labels; the first by name when
/// there are several), as (id, name).
async fn running_container(e: &Engine<'_>, service: &str) -> Result<(String, String), String> {
    let list = d::project_containers(&e.docker, &e.t.name, Some(service))
        .await
        .map_err(|err| format!("cannot list the containers of `{service}`: {}", describe(&err)))?;
    let mut running: Vec<(String, String)> = list
        .iter()
        .filter(|c| c.state == Some(ContainerSummaryStateEnum::RUNNING))
        .map(|c| (c.id.clone().unwrap_or_default(), d::summary_name(c)))
        .collect();
    running.sort_by(|a, b| a.1.cmp(&b.1));
    match running.into_iter().next() {
        Some(c) => Ok(c),
        None if list.is_empty() => {
            Err(format!("`{service}` has no container in project `{}`; run `deploy apply` first", e.t.name))
        }
        None => Err(format!("no container of `{service}` is running (`deploy status` says why)")),
    }
}

/// Runs `command` in the service's running container.
pub(super) async fn exec(e: &Engine<'_>, service: &str, command: &[String]) -> Result<Exec, String> {
    let (id, name) = running_container(e, service).await?;
    let (exit_code, stdout, stderr) = exec_in(e, &id, command).await?;
    Ok(Exec { instance: name, exit_code, stdout, stderr })
}

async fn exec_in(e: &Engine<'_>, id: &str, command: &[String]) -> Result<(i64, String, String), String> {
    let opts = CreateExecOptions::<String> {
        cmd: Some(command.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = e.docker.create_exec(id, opts).await.map_err(|err| format!("cannot run it: {}", describe(&err)))?;
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    match e.docker.start_exec(&created.id, None).await {
        Ok(StartExecResults::Attached { mut output, .. }) => {
            while let Some(item) = output.next().await {
                let (to, bytes) = match item.map_err(|err| format!("reading its output: {}", describe(&err)))? {
                    LogOutput::StdErr { message } => (&mut stderr, message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => (&mut stdout, message),
                    LogOutput::StdIn { .. } => continue,
                };
                let room = MAX_OUTPUT.saturating_sub(to.len());
                to.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
        }
        Ok(StartExecResults::Detached) => {}
        Err(err) => return Err(format!("cannot run it: {}", describe(&err))),
    }
    let code = exit_code(e, &created.id).await?;
    Ok((code, String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned()))
}

/// The exit code, set once the process ended (the output stream closing says it has).
async fn exit_code(e: &Engine<'_>, exec_id: &str) -> Result<i64, String> {
    let mut wait = Duration::from_millis(5);
    loop {
        let i = e
            .docker
            .inspect_exec(exec_id)
            .await
            .map_err(|err| format!("cannot read its exit code: {}", describe(&err)))?;
        match (i.running, i.exit_code) {
            (Some(true), _) | (_, None) => {}
            (_, Some(code)) => return Ok(code),
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_millis(200));
    }
}

/// Restarts the service's container in place and waits until it is ready
/// again; fails when its start time did not change (it was not restarted).
pub(super) async fn restart(e: &Engine<'_>, service: &str, step: &Step<'_>) -> Result<Vec<String>, Failure> {
    let s = e.t.services.get(service).ok_or_else(|| Failure::new(format!("no service `{service}`")))?;
    let p = plan::plan_service(e.t, e.env, s, e.t.is_one_shot(service)).map_err(|err| Failure::new(err.to_string()))?;
    let (id, name) = running_container(e, service).await.map_err(Failure::new)?;
    let object = Some(name.clone());
    let before = started_at(e, &id).await.map_err(|f| f.on(object.clone()))?;
    e.docker
        .restart_container(&id, None::<bollard::query_parameters::RestartContainerOptions>)
        .await
        .map_err(|err| Failure::new(format!("restarting {name}: {}", describe(&err))).on(object.clone()))?;
    let after = started_at(e, &id).await.map_err(|f| f.on(object.clone()))?;
    if after == before {
        return Err(Failure::new(format!("{name} was not restarted: it still has the start time {before}")).on(object));
    }
    let mut detail = vec![format!("restarted container {name} (started {before}, now {after})")];
    match wait::wait_ready(e, &p, &id, step).await? {
        Done::Ready(more) | Done::Completed(more) => detail.extend(more),
    }
    Ok(detail)
}

async fn started_at(e: &Engine<'_>, id: &str) -> Result<String, Failure> {
    let c = d::inspect(&e.docker, id)
        .await
        .map_err(|err| Failure::new(format!("cannot inspect the container: {}", describe(&err))))?
        .ok_or_else(|| Failure::new("the container disappeared"))?;
    let state = c.state.unwrap_or_default();
    if state.status != Some(ContainerStateStatusEnum::RUNNING) {
        let status = state.status.map(|s| s.to_string()).unwrap_or_default();
        return Err(Failure::new(format!("the container is {status}, not running")));
    }
    Ok(state.started_at.unwrap_or_default())
}
