//! CLI wiring for the k8s target: builds the kube client from the user's kubeconfig
//! (`KUBECONFIG`, `--context`, in-cluster fallback) and calls the `deploy-k8s` crate.

use std::sync::Arc;

use deploy_report::{ApplyReport, DestroyReport, DiffReport, Progress, StatusReport};
use deploy_topology::{Env, Topology};

use crate::{ApplyArgs, CliError, CommonArgs, DestroyArgs};

impl From<deploy_k8s::Error> for CliError {
    fn from(e: deploy_k8s::Error) -> Self {
        CliError(e.to_string())
    }
}

/// The topology with `--namespace` applied.
fn with_namespace(t: &Topology, args: &CommonArgs) -> Topology {
    let mut t = t.clone();
    if let Some(ns) = &args.namespace {
        t.namespace = ns.clone();
    }
    t
}

async fn client(args: &CommonArgs) -> Result<kube::Client, CliError> {
    Ok(deploy_k8s::client(args.context.as_deref()).await?)
}

pub async fn apply(
    t: &Topology,
    env: &Env,
    args: &ApplyArgs,
    progress: Arc<dyn Progress>,
) -> Result<ApplyReport, CliError> {
    let t = with_namespace(t, &args.common);
    // Everything must resolve before the client is even built: no partial apply.
    deploy_k8s::preflight(&t, env, &args.common.services)?;
    let client = client(&args.common).await?;
    let opts = deploy_k8s::ApplyOptions {
        services: args.common.services.clone(),
        timeout: args.common.timeout,
        force_conflicts: args.force_conflicts,
        force_recreate: args.force_recreate,
        prune: args.prune,
    };
    Ok(deploy_k8s::apply(&client, &t, env, &opts, progress).await?)
}

pub async fn diff(t: &Topology, env: &Env, args: &CommonArgs) -> Result<DiffReport, CliError> {
    let t = with_namespace(t, args);
    deploy_k8s::preflight(&t, env, &args.services)?;
    let client = client(args).await?;
    Ok(deploy_k8s::diff(&client, &t, env, &args.services).await?)
}

pub async fn status(t: &Topology, args: &CommonArgs) -> Result<StatusReport, CliError> {
    let t = with_namespace(t, args);
    let client = client(args).await?;
    Ok(deploy_k8s::status(&client, &t, &args.services).await?)
}

pub async fn destroy(t: &Topology, args: &DestroyArgs) -> Result<DestroyReport, CliError> {
    let t = with_namespace(t, &args.common);
    let client = client(&args.common).await?;
    Ok(deploy_k8s::destroy(&client, &t, args.volumes).await?)
}

/// Renders the Kubernetes objects as multi-document YAML, with warnings.
pub fn render(t: &Topology, env: &Env) -> Result<(String, Vec<String>), CliError> {
    let r = deploy_k8s::render(t, env)?;
    Ok((r.to_yaml(), r.warnings))
}
