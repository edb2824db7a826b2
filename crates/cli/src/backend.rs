//! The one place the target is chosen: a [`Backend`] value built once per
//! command, and [`on_backend!`] to call the shared orchestrator with whichever
//! it is. No verb matches on the target itself.

use std::time::Duration;

use deploy_compose::engine::{Engine, EngineOptions};
use deploy_k8s::{Cluster, ClusterOptions};
use deploy_topology::{Env, Topology};

use crate::args::{Target, TargetCmd};
use crate::error::CliError;

/// A connected platform (boxed: one of each per command, and they differ in size).
pub enum Backend<'a> {
    Compose(Box<Engine<'a>>),
    K8s(Box<Cluster<'a>>),
}

/// Options of the backends that only one of them takes.
#[derive(Default)]
pub struct Extra {
    pub force_recreate: bool,
    pub force_conflicts: bool,
    pub renew_anon_volumes: bool,
    pub build: bool,
    pub replace: bool,
    pub adopt: bool,
}

/// Calls `$body` with `$b` bound to the backend, whichever it is.
macro_rules! on_backend {
    ($backend:expr, $b:ident => $body:expr) => {
        match $backend {
            $crate::backend::Backend::Compose($b) => {
                let $b = $b.as_ref();
                $body
            }
            $crate::backend::Backend::K8s($b) => {
                let $b = $b.as_ref();
                $body
            }
        }
    };
}
pub(crate) use on_backend;

/// Connects to the platform `cmd` names, within `timeout`.
pub async fn connect<'a>(
    cmd: &TargetCmd,
    t: &'a Topology,
    env: &'a Env,
    extra: Extra,
    timeout: Duration,
) -> Result<Backend<'a>, CliError> {
    Ok(match cmd.target {
        Target::Compose => {
            let opts = EngineOptions {
                force_recreate: extra.force_recreate,
                renew_anon_volumes: extra.renew_anon_volumes,
                build: extra.build,
                context: cmd.context.clone(),
            };
            let engine = Engine::connect(t, env, opts, timeout).await.map_err(|e| CliError::Failed(e.to_string()))?;
            Backend::Compose(Box::new(engine))
        }
        Target::K8s => {
            let (client, endpoint) = deploy_k8s::client(cmd.context.as_deref(), cmd.kubeconfig.as_deref(), timeout)
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?;
            let opts = ClusterOptions {
                force_conflicts: extra.force_conflicts,
                force_recreate: extra.force_recreate,
                replace: extra.replace,
                adopt: extra.adopt,
            };
            Backend::K8s(Box::new(Cluster::new(client, endpoint, t, cmd.namespace.as_deref(), env, opts)))
        }
    })
}
