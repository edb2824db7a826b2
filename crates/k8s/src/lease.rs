//! The project's lock on Kubernetes: a `coordination.k8s.io/v1` Lease
//! `deploy-lock-<project>` in the project's namespace, the way controllers
//! elect a leader. Taken by create (or by replace with the resourceVersion it
//! read, when the Lease expired or its holder is provably gone), renewed every
//! few seconds while the command runs, deleted at the end.

use std::time::Duration;

use deploy_orchestrator::{Holder, Lock};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{DeleteParams, PatchParams, PostParams};

use crate::cluster::Cluster;
use crate::object::labels;
use crate::ops::{self, FIELD_MANAGER};

/// How long a Lease holds without renewal.
const LEASE_SECONDS: i32 = 15;
/// How often the holder renews it.
const RENEW_EVERY: Duration = Duration::from_secs(5);

fn name(c: &Cluster<'_>) -> String {
    format!("deploy-lock-{}", c.topology().name)
}

fn lease(c: &Cluster<'_>, me: &Holder, rv: Option<String>) -> Lease {
    let now = Some(MicroTime(Timestamp::now()));
    let labels = [(labels::INSTANCE, c.topology().name.as_str()), (labels::MANAGED_BY, labels::MANAGER)];
    Lease {
        metadata: ObjectMeta {
            name: Some(name(c)),
            namespace: Some(c.ns().to_string()),
            labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            resource_version: rv,
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(me.encode()),
            lease_duration_seconds: Some(LEASE_SECONDS),
            acquire_time: now.clone(),
            renew_time: now,
            ..Default::default()
        }),
    }
}

/// The live holder of a Lease, unless it expired, was released, or its process is gone.
fn live_holder(l: &Lease) -> Option<Holder> {
    let spec = l.spec.as_ref()?;
    let holder = Holder::decode(spec.holder_identity.as_deref()?)?;
    let renewed = spec.renew_time.as_ref()?.0.as_second();
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS));
    let expired = renewed + duration < Timestamp::now().as_second();
    (!expired && !holder.is_gone()).then_some(holder)
}

/// Takes the Lease, creating the namespace first when it is absent (for
/// apply; a destroy of an absent namespace has nothing to protect).
pub(crate) async fn try_lock(c: &Cluster<'_>, me: &Holder) -> Result<Lock, kube::Error> {
    let namespaces: Api<Namespace> = Api::all(c.client().clone());
    if namespaces.get_opt(c.ns()).await?.is_none() {
        if me.verb == "destroy" {
            return Ok(Lock::Taken);
        }
        ops::patch_object(c.client(), &crate::render::namespace(c.topology()), &PatchParams::apply(FIELD_MANAGER))
            .await?;
    }
    let api: Api<Lease> = Api::namespaced(c.client().clone(), c.ns());
    let taken = match api.get_opt(&name(c)).await? {
        None => api.create(&PostParams::default(), &lease(c, me, None)).await,
        Some(l) => match live_holder(&l) {
            Some(h) if h != *me => return Ok(Lock::HeldBy(h)),
            _ => api.replace(&name(c), &PostParams::default(), &lease(c, me, l.metadata.resource_version)).await,
        },
    };
    match taken {
        Ok(_) => {
            renew(c, me);
            Ok(Lock::Taken)
        }
        // Someone else got there first: they hold it now.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let l = api.get_opt(&name(c)).await?;
            Ok(l.as_ref().and_then(live_holder).map_or(Lock::HeldBy(me.clone()), Lock::HeldBy))
        }
        Err(e) => Err(e),
    }
}

/// Renews the Lease in the background until [`unlock`].
fn renew(c: &Cluster<'_>, me: &Holder) {
    let api: Api<Lease> = Api::namespaced(c.client().clone(), c.ns());
    let (lease_name, me) = (name(c), me.clone());
    let task = tokio::spawn(async move {
        loop {
            tokio::time::sleep(RENEW_EVERY).await;
            let Ok(Some(mut l)) = api.get_opt(&lease_name).await else { continue };
            if l.spec.as_ref().and_then(|s| s.holder_identity.clone()) != Some(me.encode()) {
                return;
            }
            if let Some(spec) = l.spec.as_mut() {
                spec.renew_time = Some(MicroTime(Timestamp::now()));
            }
            // A failed renewal is retried; the command's own deadline bounds it anyway.
            let _ = api.replace(&lease_name, &PostParams::default(), &l).await;
        }
    });
    if let Ok(mut r) = c.renewal.lock() {
        *r = Some(task.abort_handle());
    }
}

/// Stops renewing and deletes the Lease if it is still ours.
pub(crate) async fn unlock(c: &Cluster<'_>, me: &Holder) {
    if let Some(task) = c.renewal.lock().ok().and_then(|mut r| r.take()) {
        task.abort();
    }
    let api: Api<Lease> = Api::namespaced(c.client().clone(), c.ns());
    if let Ok(Some(l)) = api.get_opt(&name(c)).await
        && l.spec.as_ref().and_then(|s| s.holder_identity.clone()) == Some(me.encode())
    {
        // Best effort: a Lease left behind expires after LEASE_SECONDS.
        let _ = api.delete(&name(c), &DeleteParams::default()).await;
    }
}
