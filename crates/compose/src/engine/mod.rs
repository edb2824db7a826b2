//! Docker Engine operations: apply / diff / status / destroy a topology on a
//! Docker Engine through bollard, the way `docker compose` would (same labels,
//! names and networks, so `docker compose -p PROJECT ps|logs|down` sees the
//! result as its own), but waiting for real readiness in `depends_on` order.
//!
//! - [`plan`]: topology → the planned networks, volumes and containers
//!   (bollard create bodies plus a comparable [`plan::Spec`] and its hash).
//! - [`compare`]: planned spec versus a live container, field by field.
//! - [`apply`]: converge, with readiness probes run through the exec API.
//! - [`ops`]: diff, status and destroy.
//!
//! Cancel safety: every operation runs inside the caller's future (nothing is
//! spawned), and each step is idempotent, so dropping an apply at any await
//! point (Ctrl-C) leaves a state that the next apply converges.

mod apply;
mod compare;
mod docker;
mod labels;
mod ops;
mod plan;
mod probe;

use std::time::Duration;

pub use apply::apply;
pub use docker::connect;
pub use ops::{destroy, diff, status};

/// What went wrong before an operation could even start (bad input, no engine).
/// Failures of individual services are reported in the report instead.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The Docker Engine does not answer.
    #[error(
        "cannot reach the Docker engine at {host}: {reason}\n  help: start the Docker daemon (dockerd), or set DOCKER_HOST to the address of a running engine (for example unix:///var/run/docker.sock)"
    )]
    Unreachable { host: String, reason: String },
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

/// Options of [`apply`].
#[derive(Clone, Debug)]
pub struct ApplyOptions {
    /// Services to apply (with everything they depend on); empty means all.
    pub services: Vec<String>,
    /// How long to wait, in total, for the chosen services to become ready.
    pub timeout: Duration,
    /// Recreate containers even when their configuration did not change.
    pub force_recreate: bool,
    /// Remove containers of this project whose service is no longer in the topology.
    pub prune: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions { services: Vec::new(), timeout: Duration::from_secs(120), force_recreate: false, prune: false }
    }
}

/// Options of [`destroy`].
#[derive(Clone, Debug, Default)]
pub struct DestroyOptions {
    /// Services whose containers to remove; empty means the whole project
    /// (containers, networks, and volumes when `volumes`).
    pub services: Vec<String>,
    /// Also delete named volumes (data).
    pub volumes: bool,
}

/// The target name written into reports.
pub const TARGET: &str = "compose";

#[cfg(test)]
mod tests;
