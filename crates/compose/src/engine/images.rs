//! Images: inspect every image the plan uses, pull those that are missing,
//! build those a service builds ([`super::build`]). An image that cannot be
//! pulled stops the apply before anything is created; a failed build fails
//! the services that use the image.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::ImageInspect;
use bollard::query_parameters::CreateImageOptionsBuilder;
use deploy_orchestrator::Failure;
use deploy_report::{Phase, Progress};
use futures::StreamExt;
use tokio::time::Instant;

use super::build::{self, Job};
use super::docker::{self as d, describe};
use super::plan::PlannedService;
use super::pull::{self, Pull};

/// Splits an image reference into what the pull API wants: (image, tag).
fn pull_ref(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rfind(':') {
        Some(i) => {
            let cut = image.len() - last.len() + i;
            (image[..cut].to_string(), image[cut + 1..].to_string())
        }
        None => (image.to_string(), "latest".to_string()),
    }
}

/// What became of the images of a plan.
#[derive(Default)]
pub(super) struct Images {
    /// By image reference.
    pub found: HashMap<String, ImageInspect>,
    /// Per image reference, why it could not be pulled (the apply stops).
    pub unavailable: HashMap<String, String>,
    /// Per service, why the image it uses could not be built (that service fails).
    pub build_failed: HashMap<String, Failure>,
}

/// Why an image is not there.
enum Missing {
    /// Neither local nor pullable.
    Unavailable(String),
    NotBuilt(Failure),
}

/// Inspects every image the plan uses: pulls those that are missing, builds
/// those `jobs` build when missing (every one of them when `force_build`).
pub(super) async fn ensure_images(
    docker: &Docker,
    plans: &[PlannedService],
    jobs: &[Job],
    force_build: bool,
    progress: &dyn Progress,
) -> Images {
    let mut refs: Vec<&str> = plans.iter().map(|p| p.spec.image.as_str()).collect();
    refs.sort();
    refs.dedup();
    let results = futures::future::join_all(refs.iter().map(|image| async move {
        let users: Vec<&str> = plans.iter().filter(|p| p.spec.image == *image).map(|p| p.service.as_str()).collect();
        let policy = pull::of(&plans.iter().filter(|p| p.spec.image == *image).collect::<Vec<_>>());
        let r = match jobs.iter().find(|j| j.image == *image) {
            Some(job) => {
                build::ensure(docker, job, force_build || policy.build, progress).await.map_err(Missing::NotBuilt)
            }
            None => ensure_image(docker, image, &users, &policy, progress).await.map_err(Missing::Unavailable),
        };
        (image.to_string(), users, r)
    }))
    .await;
    let mut out = Images::default();
    for (image, users, r) in results {
        match r {
            Ok(i) => {
                out.found.insert(image, i);
            }
            Err(Missing::Unavailable(reason)) => {
                out.unavailable.insert(image, reason);
            }
            Err(Missing::NotBuilt(failure)) => {
                out.build_failed.extend(users.iter().map(|u| (u.to_string(), failure.clone())));
            }
        }
    }
    out
}

async fn ensure_image(
    docker: &Docker,
    image: &str,
    users: &[&str],
    policy: &Pull,
    progress: &dyn Progress,
) -> Result<ImageInspect, String> {
    match docker.inspect_image(image).await {
        Ok(i) if !policy.due(&i, std::time::SystemTime::now()) => return Ok(i),
        Ok(_) => {}
        Err(e) if d::is_not_found(&e) && !policy.pulls_when_missing() => {
            let who = users.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ");
            return Err(format!(
                "image `{image}` is not present locally and {} of {who} forbids pulling it; build or load it first (`docker build -t {image} ...` or `docker load`)",
                policy.forbidden_by()
            ));
        }
        Err(e) if d::is_not_found(&e) => {}
        Err(e) => return Err(format!("cannot inspect image `{image}`: {}", describe(&e))),
    }
    let start = Instant::now();
    let who = users.iter().map(|u| format!("`{u}`")).collect::<Vec<_>>().join(", ");
    for u in users {
        progress.update(u, &Phase::Pulling { progress: None }, start.elapsed());
    }
    let (from, tag) = pull_ref(image);
    let mut b = CreateImageOptionsBuilder::default().from_image(&from);
    if !tag.is_empty() {
        b = b.tag(&tag);
    }
    if let Some(p) = &policy.platform {
        b = b.platform(p);
    }
    let pull = async {
        let mut stream = docker.create_image(Some(b.build()), None, None);
        let mut last_note = Instant::now();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if last_note.elapsed() >= Duration::from_millis(250) {
                        last_note = Instant::now();
                        let mut s = info.status.unwrap_or_default();
                        if let Some(p) = info.progress_detail
                            && let (Some(c), Some(t)) = (p.current, p.total)
                            && t > 0
                        {
                            s.push_str(&format!(" {}%", c * 100 / t));
                        }
                        for u in users {
                            progress.update(u, &Phase::Pulling { progress: Some(s.clone()) }, start.elapsed());
                        }
                    }
                }
                Err(e) => return Err(describe(&e)),
            }
        }
        Ok(())
    };
    // The orchestrator bounds the whole prepare step by the deadline.
    let res = pull.await;
    let help = format!(
        "build or load it locally (`docker build -t {image} ...` or `docker load`), or change `image:` of {who}"
    );
    if let Err(e) = res {
        return Err(format!("image `{image}` is not present locally and cannot be pulled: {e}; {help}"));
    }
    docker
        .inspect_image(image)
        .await
        .map_err(|e| format!("image `{image}` was pulled but cannot be inspected: {}; {help}", describe(&e)))
}

#[cfg(test)]
mod tests {
    use super::pull_ref;

    #[test]
    fn pull_refs() {
        assert_eq!(pull_ref("redis:7-alpine"), ("redis".into(), "7-alpine".into()));
        assert_eq!(pull_ref("redis"), ("redis".into(), "latest".into()));
        assert_eq!(pull_ref("localhost:5000/x/y"), ("localhost:5000/x/y".into(), "latest".into()));
        assert_eq!(pull_ref("localhost:5000/x/y:2"), ("localhost:5000/x/y".into(), "2".into()));
        assert_eq!(pull_ref("a@sha256:00"), ("a@sha256:00".into(), String::new()));
    }
}
