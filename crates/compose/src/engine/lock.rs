//! The project's lock on a Docker Engine: a container named
//! `deploy-lock-<project>`, created and never started, whose labels say who
//! holds it and until when.
//!
//! Why a container: the engine is the one thing every deploy process that
//! changes the project shares (it may be remote, so a file lock on this host
//! would not do), and creating a container under a given name is atomic
//! there: a second create gets `409 Conflict`. A lock whose holder is
//! provably gone (a process of this host that no longer runs) or whose expiry
//! has passed (the holder's `--timeout` plus a margin: no command outlives its
//! deadline) is removed and taken over. Creating needs an image: any image on
//! the engine will do, since the container never runs; an engine with no
//! image at all runs nothing of this project yet, and the lock is skipped.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListImagesOptionsBuilder, RemoveContainerOptionsBuilder,
};
use deploy_orchestrator::{Holder, Lock};

use super::Engine;
use super::docker::{self as d, describe};

const LOCK: &str = "dev.deploy.lock";
const HOLDER: &str = "dev.deploy.lock.holder";
const EXPIRES: &str = "dev.deploy.lock.expires";
/// Past the holder's own deadline, a lock is stale after this much more.
const MARGIN: Duration = Duration::from_secs(60);

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn name(e: &Engine<'_>) -> String {
    format!("deploy-lock-{}", e.t.name)
}

/// The smallest image on the engine, if any.
async fn any_image(e: &Engine<'_>) -> Result<Option<String>, String> {
    let images = e
        .docker
        .list_images(Some(ListImagesOptionsBuilder::default().build()))
        .await
        .map_err(|err| format!("cannot list images: {}", describe(&err)))?;
    Ok(images.into_iter().min_by_key(|i| i.size).map(|i| i.id))
}

pub(super) async fn try_lock(e: &Engine<'_>, me: &Holder, timeout: Duration) -> Result<Lock, String> {
    let Some(image) = any_image(e).await? else { return Ok(Lock::Taken) };
    for _ in 0..10 {
        let labels = HashMap::from([
            (LOCK.to_string(), e.t.name.clone()),
            (HOLDER.to_string(), me.encode()),
            (EXPIRES.to_string(), (now() + (timeout + MARGIN).as_secs()).to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            labels: Some(labels),
            network_disabled: Some(true),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::default().name(&name(e)).build();
        match e.docker.create_container(Some(opts), body).await {
            Ok(_) => return Ok(Lock::Taken),
            Err(err) if d::is_status(&err, 409) => {}
            Err(err) => return Err(format!("cannot create the lock container {}: {}", name(e), describe(&err))),
        }
        match holder(e).await? {
            Some((h, _)) if h == *me => return Ok(Lock::Taken),
            Some((h, expires)) if !h.is_gone() && expires > now() => return Ok(Lock::HeldBy(h)),
            // Stale: take it over.
            Some(_) => remove(e).await?,
            // Being created by another process right now (the name is reserved before the labels can be read).
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Err(format!("cannot take the lock container {}: it keeps coming back", name(e)))
}

/// The holder of the lock container and its expiry, if it exists and says.
async fn holder(e: &Engine<'_>) -> Result<Option<(Holder, u64)>, String> {
    let c =
        d::inspect(&e.docker, &name(e)).await.map_err(|err| format!("cannot inspect the lock: {}", describe(&err)))?;
    let labels = c.and_then(|c| c.config).and_then(|c| c.labels).unwrap_or_default();
    let h = labels.get(HOLDER).and_then(|h| Holder::decode(h));
    let expires = labels.get(EXPIRES).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    Ok(h.map(|h| (h, expires)))
}

async fn remove(e: &Engine<'_>) -> Result<(), String> {
    // `v`: an image with a `VOLUME` gives even a never-started container an anonymous volume.
    let opts = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
    match e.docker.remove_container(&name(e), Some(opts)).await {
        Ok(()) => Ok(()),
        Err(err) if d::is_not_found(&err) || d::is_status(&err, 409) => Ok(()),
        Err(err) => Err(format!("cannot remove the stale lock {}: {}", name(e), describe(&err))),
    }
}

pub(super) async fn unlock(e: &Engine<'_>, me: &Holder) {
    if let Ok(Some((h, _))) = holder(e).await
        && h == *me
    {
        // Best effort: a lock left behind expires, or is taken over once this process is gone.
        let _ = remove(e).await;
    }
}
