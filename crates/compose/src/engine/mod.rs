//! Docker Engine operations: the hooks of the shared orchestrator
//! ([`deploy_orchestrator::Backend`]) for a Docker Engine, through bollard, the
//! way `docker compose` would (same labels, names and networks, so `docker
//! compose -p PROJECT ps|logs|down` sees the result as its own), but waiting
//! for real readiness.
//!
//! - [`plan`]: topology → the planned networks, volumes and containers
//!   (bollard create bodies plus a comparable [`plan::Spec`] and its hash).
//! - [`compare`]: planned spec versus a live container, field by field.
//! - `apply`: prepare (images, networks, volumes) and converge one service.
//! - `wait`: readiness of one container, through the exec API and Docker's health.
//! - [`ops`]: diff, status, remove and prune.
//!
//! Cancel safety: every operation runs inside the caller's future (nothing is
//! spawned), and each step is idempotent, so dropping an apply at any await
//! point (Ctrl-C) leaves a state that the next apply converges.

mod apply;
mod atomic;
mod build;
mod compare;
pub mod connect;
mod docker;
mod files;
mod images;
mod labels;
mod lock;
mod objects;
mod ops;
mod plan;
mod probe;
mod pull;
mod ssh;
mod verify;
mod vocab;
mod wait;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ImageInspect;
use deploy_orchestrator::{Backend, Converged, Done, Failure, Holder, Lock, NotPrepared, Removed, Selection, Step};
use deploy_report::{DiffReport, Progress, ServiceStatus};
use deploy_topology::{Env, Topology};

/// What went wrong before an operation could even start (bad input, no engine).
/// Failures of individual services are reported in the report instead.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The Docker Engine does not answer.
    #[error("cannot reach the Docker engine at {host}: {reason}\n  help: {help}")]
    Unreachable { host: String, reason: String, help: String },
    /// The topology or the options cannot be applied as given.
    #[error("{0}")]
    Input(String),
    /// An engine call failed outside of any one service.
    #[error("Docker engine error while {what}: {reason}")]
    Docker { what: String, reason: String },
}

impl EngineError {
    pub(crate) fn docker(what: impl Into<String>, e: &bollard::errors::Error) -> Self {
        EngineError::Docker { what: what.into(), reason: docker::describe(e) }
    }
}

/// Options of the engine that only Compose has.
#[derive(Clone, Debug, Default)]
pub struct EngineOptions {
    /// Recreate containers even when their configuration did not change.
    pub force_recreate: bool,
    /// On a recreate, give the new container fresh anonymous volumes instead
    /// of the old one's (`docker compose up -V`).
    pub renew_anon_volumes: bool,
    /// Build the image of every service with `build:`, not only the missing ones (`docker compose up --build`).
    pub build: bool,
    /// `--context`: the docker CLI context naming the engine (else
    /// `DOCKER_HOST`, `DOCKER_CONTEXT`, the CLI's current context, the socket).
    pub context: Option<String>,
}

/// The target name written into reports.
pub const TARGET: &str = "compose";

/// A topology on one Docker Engine: the Compose target's [`Backend`].
pub struct Engine<'a> {
    docker: Docker,
    endpoint: connect::Endpoint,
    t: &'a Topology,
    env: &'a Env,
    opts: EngineOptions,
    /// Filled by `prepare`: the plan of each selected service, and their images.
    plans: OnceLock<HashMap<String, plan::PlannedService>>,
    images: OnceLock<HashMap<String, ImageInspect>>,
    /// The project's containers by service, listed once by `prepare`.
    listed: OnceLock<HashMap<String, Vec<bollard::models::ContainerSummary>>>,
    /// Containers `prepare` created (not started) for services that had none.
    precreated: std::sync::Mutex<HashMap<String, String>>,
    /// Filled by `prepare`: the services whose image could not be built, and why.
    build_failed: OnceLock<HashMap<String, Failure>>,
    /// `apply --atomic`: the services checkpointed, the previous containers kept.
    atomic: atomic::State,
}

impl<'a> Engine<'a> {
    /// Connects within `timeout` to the engine the docker CLI would use
    /// ([`connect::resolve`]: `--context`, `DOCKER_HOST`, `DOCKER_CONTEXT`,
    /// the current context, the local socket); every later request is
    /// bounded by `timeout` too.
    pub async fn connect(
        t: &'a Topology,
        env: &'a Env,
        opts: EngineOptions,
        timeout: Duration,
    ) -> Result<Self, EngineError> {
        let endpoint =
            connect::resolve(&connect::Settings::from_env(opts.context.as_deref())).map_err(EngineError::Input)?;
        let docker = docker::connect(&endpoint, timeout).await?;
        Ok(Engine {
            docker,
            endpoint,
            t,
            env,
            opts,
            plans: OnceLock::new(),
            images: OnceLock::new(),
            listed: OnceLock::new(),
            precreated: Default::default(),
            build_failed: OnceLock::new(),
            atomic: Default::default(),
        })
    }

    fn plan_of(&self, service: &str) -> Result<&plan::PlannedService, Failure> {
        self.plans.get().and_then(|p| p.get(service)).ok_or_else(|| Failure::new("internal: service was not planned"))
    }
}

impl Backend for Engine<'_> {
    type Handle = String;
    type Checkpoint = atomic::Checkpoint;

    fn target(&self) -> &'static str {
        TARGET
    }
    fn project(&self) -> &str {
        &self.t.name
    }
    fn endpoint(&self) -> String {
        format!("the Docker engine at {}", self.endpoint)
    }
    /// The plans' secret values once prepared, and the topology's (diff and
    /// status plan nothing beforehand).
    fn secret_values(&self) -> Vec<String> {
        let mut out = deploy_orchestrator::topology_secrets(self.t, self.env);
        out.extend(self.plans.get().into_iter().flat_map(|p| p.values()).flat_map(|p| p.secret_values.clone()));
        out
    }
    async fn try_lock(&self, holder: &Holder, timeout: Duration) -> Result<Lock, String> {
        lock::try_lock(self, holder, timeout).await
    }
    async fn unlock(&self, holder: &Holder) {
        lock::unlock(self, holder).await;
    }
    async fn prepare(&self, sel: &Selection, progress: &dyn Progress) -> Result<Vec<String>, NotPrepared> {
        apply::prepare(self, sel, progress).await
    }
    async fn converge(&self, service: &str, step: &Step<'_>) -> Result<Converged<String>, Failure> {
        apply::converge(self, self.plan_of(service)?, step).await
    }
    async fn wait(&self, service: &str, id: String, step: &Step<'_>) -> Result<Done, Failure> {
        wait::wait_ready(self, self.plan_of(service)?, &id, step).await
    }
    async fn stage(&self, service: &str) {
        if let Ok(p) = self.plan_of(service) {
            apply::stage(self, p).await;
        }
    }
    async fn abandon(&self, service: &str) {
        apply::abandon(self, service).await;
    }
    async fn prune(&self, sel: &Selection, delete: bool) -> Result<Vec<String>, String> {
        ops::prune(self, sel, delete).await
    }
    async fn remove(&self, service: &str, volumes: &[String], _: &Step<'_>) -> Result<Removed, String> {
        ops::remove(self, service, volumes).await
    }
    async fn remove_project(&self, volumes: bool) -> Result<Removed, String> {
        ops::remove_project(self, volumes).await
    }
    async fn status(&self, sel: &Selection) -> Result<Vec<ServiceStatus>, String> {
        ops::status(self, sel).await
    }
    async fn diff(&self, sel: &Selection) -> Result<DiffReport, String> {
        ops::diff(self, sel).await.map_err(|e| e.to_string())
    }
    async fn exec(&self, service: &str, command: &[String]) -> Result<deploy_orchestrator::Exec, String> {
        verify::exec(self, service, command).await
    }
    async fn restart(&self, service: &str, step: &Step<'_>) -> Result<Vec<String>, Failure> {
        verify::restart(self, service, step).await
    }
    async fn checkpoint(&self, service: &str) -> Result<atomic::Checkpoint, String> {
        atomic::checkpoint(self, service)
    }
    async fn restore(
        &self,
        service: &str,
        cp: atomic::Checkpoint,
        step: &Step<'_>,
    ) -> Result<Option<deploy_orchestrator::Restoration>, Failure> {
        atomic::restore(self, service, cp, step).await
    }
    async fn release(&self, service: &str, _: atomic::Checkpoint) -> Result<(), String> {
        atomic::release(self, service).await
    }
}

#[cfg(test)]
mod tests;
