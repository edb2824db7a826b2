//! CLI wiring for the k8s target (being built).

use std::sync::Arc;

use deploy_report::{ApplyReport, DestroyReport, DiffReport, Progress, StatusReport};
use deploy_topology::{Env, Topology};

use crate::{ApplyArgs, CliError, CommonArgs, DestroyArgs};

const NOT_YET: &str = "the k8s target cannot apply yet";

pub async fn apply(_: &Topology, _: &Env, _: &ApplyArgs, _: Arc<dyn Progress>) -> Result<ApplyReport, CliError> {
    Err(NOT_YET.into())
}
pub async fn diff(_: &Topology, _: &Env, _: &CommonArgs) -> Result<DiffReport, CliError> {
    Err(NOT_YET.into())
}
pub async fn status(_: &Topology, _: &CommonArgs) -> Result<StatusReport, CliError> {
    Err(NOT_YET.into())
}
pub async fn destroy(_: &Topology, _: &DestroyArgs) -> Result<DestroyReport, CliError> {
    Err(NOT_YET.into())
}

/// Renders the Kubernetes objects as multi-document YAML, with warnings.
pub fn render(t: &Topology, env: &Env) -> Result<(String, Vec<String>), CliError> {
    let r = deploy_k8s::render(t, env)?;
    Ok((r.to_yaml(), r.warnings))
}
