//! CLI wiring for the compose target: options in, engine call, report out.
//! The platform logic lives in `deploy_compose::engine`.

use std::sync::Arc;

use deploy_compose::engine::{self, ApplyOptions, DestroyOptions};
use deploy_report::{ApplyReport, DestroyReport, DiffReport, Progress, StatusReport};
use deploy_topology::{Env, Topology};

use crate::{ApplyArgs, CliError, CommonArgs, DestroyArgs};

fn err(e: engine::EngineError) -> CliError {
    CliError(e.to_string())
}

pub async fn apply(
    t: &Topology,
    env: &Env,
    args: &ApplyArgs,
    progress: Arc<dyn Progress>,
) -> Result<ApplyReport, CliError> {
    let opts = ApplyOptions {
        services: args.common.services.clone(),
        timeout: args.common.timeout,
        force_recreate: args.force_recreate,
        prune: args.prune,
    };
    engine::apply(t, env, &opts, progress).await.map_err(err)
}

pub async fn diff(t: &Topology, env: &Env, args: &CommonArgs) -> Result<DiffReport, CliError> {
    engine::diff(t, env, &args.services).await.map_err(err)
}

pub async fn status(t: &Topology, args: &CommonArgs) -> Result<StatusReport, CliError> {
    engine::status(t, &args.services).await.map_err(err)
}

pub async fn destroy(t: &Topology, args: &DestroyArgs) -> Result<DestroyReport, CliError> {
    let opts = DestroyOptions { services: args.common.services.clone(), volumes: args.volumes };
    engine::destroy(t, &opts).await.map_err(err)
}
