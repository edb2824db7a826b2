//! Images built on apply, as `docker compose up` builds them: a service with
//! `build:` gets its image built through the engine's build endpoint when the
//! image is missing, or always with `--build`. The context goes as a tar
//! ([`context`]: `.dockerignore` honoured), with `dockerfile`, `target` and
//! the resolved `args`; the builder's output streams into the services'
//! progress lines. A failing build fails the services that use the image
//! (naming the step and showing the tail of its output), not the apply.
//!
//! The built image's ID goes into the config hash of a service with `build:`
//! ([`bind`]): a rebuild that changes the image recreates the container, one
//! the builder's cache turns into the same image leaves it alone.

mod context;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;

use bollard::Docker;
use bollard::models::ImageInspect;
use bollard::query_parameters::BuildImageOptionsBuilder;
use deploy_orchestrator::Failure;
use deploy_report::{Phase, Progress};
use deploy_topology::{Env, Topology};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::EngineError;
use super::docker::describe;
use super::labels;
use super::plan::PlannedService;

/// Lines of a failing step's output shown with the failure.
const TAIL: usize = 20;
/// A longer output line is cut (progress and failure details are one line each).
const LINE_MAX: usize = 300;

/// One image to build: the `build:` of the first selected service that builds
/// it, and every selected service that does.
#[derive(Clone, Debug)]
pub(super) struct Job {
    pub image: String,
    pub services: Vec<String>,
    /// Absolute.
    context: PathBuf,
    /// As written, for messages.
    context_text: String,
    dockerfile: String,
    target: Option<String>,
    /// Resolved; a name without a value is there only when the environment has it.
    args: HashMap<String, String>,
}

/// The builds the planned services ask for, one per image reference, their
/// arguments resolved (a missing `${VAR:?}` was caught by the selection).
pub(super) fn jobs(t: &Topology, env: &Env, plans: &[PlannedService]) -> Result<Vec<Job>, EngineError> {
    let mut out: Vec<Job> = Vec::new();
    for p in plans {
        let Some(b) = t.services.get(&p.service).and_then(|s| s.build.as_ref()) else { continue };
        if let Some(j) = out.iter_mut().find(|j| j.image == p.spec.image) {
            j.services.push(p.service.clone());
            continue;
        }
        let mut args = HashMap::new();
        for (k, v) in &b.args {
            let value = match v {
                Some(v) => {
                    Some(v.resolve(env).map_err(|e| EngineError::Input(format!("service `{}`: {e}", p.service)))?)
                }
                None => env.get(k),
            };
            if let Some(value) = value {
                args.insert(k.clone(), value);
            }
        }
        let context = t.project_dir.join(b.context_or_default());
        out.push(Job {
            image: p.spec.image.clone(),
            services: vec![p.service.clone()],
            context: std::path::absolute(&context).unwrap_or(context),
            context_text: b.context_or_default().to_string(),
            dockerfile: b.dockerfile_or_default().to_string(),
            target: b.target.clone(),
            args,
        });
    }
    Ok(out)
}

/// The image of `job`: the local one unless `force` (`--build`) or it is
/// missing, else built now.
pub(super) async fn ensure(
    docker: &Docker,
    job: &Job,
    force: bool,
    progress: &dyn Progress,
) -> Result<ImageInspect, Failure> {
    if !force {
        match docker.inspect_image(&job.image).await {
            Ok(i) => return Ok(i),
            Err(e) if super::docker::is_not_found(&e) => {}
            Err(e) => return Err(Failure::new(format!("cannot inspect image `{}`: {}", job.image, describe(&e)))),
        }
    }
    build(docker, job, progress).await
}

/// Builds `job.image` with the engine's (classic) builder, streaming its
/// output as the progress of the job's services.
async fn build(docker: &Docker, job: &Job, progress: &dyn Progress) -> Result<ImageInspect, Failure> {
    let start = Instant::now();
    let say = |line: Option<String>| {
        for s in &job.services {
            progress.update(s, &Phase::Building { progress: line.clone() }, start.elapsed());
        }
    };
    if job.context_text.contains("://") || job.context_text.starts_with("git@") {
        return Err(Failure::new(format!(
            "cannot build image `{}`: the build context `{}` is a URL, and deploy sends a local directory only; clone it and set `context` to that directory",
            job.image, job.context_text
        )));
    }
    say(None);
    let (dir, dockerfile) = (job.context.clone(), job.dockerfile.clone());
    // Reading the context is blocking file work; it changes nothing, so it may be dropped midway.
    let packed = tokio::task::spawn_blocking(move || context::pack(&dir, &dockerfile))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r)
        .map_err(|e| Failure::new(format!("cannot build image `{}`: {e}", job.image)))?;
    let mut opts =
        BuildImageOptionsBuilder::default().dockerfile(&packed.dockerfile).t(&job.image).rm(true).forcerm(true);
    if !job.args.is_empty() {
        opts = opts.buildargs(&job.args);
    }
    if let Some(target) = &job.target {
        opts = opts.target(target);
    }
    let mut stream = docker.build_image(opts.build(), None, Some(bollard::body_full(packed.tar.into())));
    let mut out = Output::default();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                for line in out.push(info.stream.as_deref().unwrap_or_default()) {
                    say(Some(line));
                }
            }
            Err(e) => return Err(out.failure(&job.image, &describe(&e))),
        }
    }
    docker
        .inspect_image(&job.image)
        .await
        .map_err(|e| Failure::new(format!("image `{}` was built but cannot be inspected: {}", job.image, describe(&e))))
}

/// The builder's output: the step it is at and that step's last lines.
#[derive(Default)]
struct Output {
    /// `4/6`, `RUN make` (from `Step 4/6 : RUN make`).
    step: Option<(String, String)>,
    tail: VecDeque<String>,
    /// Text after the last newline, not a line yet.
    partial: String,
}

impl Output {
    /// Takes a chunk of the builder's text; returns the complete lines worth showing.
    fn push(&mut self, text: &str) -> Vec<String> {
        self.partial.push_str(text);
        let mut shown = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            shown.extend(self.line(line.trim()));
        }
        shown
    }

    fn line(&mut self, line: &str) -> Option<String> {
        // The builder's bookkeeping (layer IDs, intermediate containers) is not worth a line.
        if line.is_empty() || line.starts_with("--->") || line.starts_with("Removing intermediate container") {
            return None;
        }
        let line: String = line.chars().take(LINE_MAX).collect();
        if let Some((n, instruction)) = line.strip_prefix("Step ").and_then(|s| s.split_once(" : ")) {
            self.step = Some((n.to_string(), instruction.to_string()));
            self.tail.clear();
            return Some(format!("step {n}: {instruction}"));
        }
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line.clone());
        Some(line)
    }

    /// The build failed with `error`: the step it was at, and that step's output.
    fn failure(&mut self, image: &str, error: &str) -> Failure {
        let rest = std::mem::take(&mut self.partial);
        self.line(rest.trim());
        let at = self.step.as_ref().map(|(n, i)| format!(" at step {n} `{i}`")).unwrap_or_default();
        let mut detail = Vec::new();
        if !self.tail.is_empty() {
            detail.push(format!("output of the step (last {} lines):", self.tail.len()));
            detail.extend(self.tail.iter().map(|l| format!("  {l}")));
        }
        Failure::new(format!("building image `{image}` failed{at}: {}", error.trim())).with_detail(detail)
    }
}

/// Mixes the image's ID into the config hash of a service with `build:`, so
/// that a different build of the image is a different container spec.
pub(super) fn bind(t: &Topology, p: &mut PlannedService, image: Option<&ImageInspect>) {
    let builds = t.services.get(&p.service).is_some_and(|s| s.build.is_some());
    let Some(id) = image.and_then(|i| i.id.as_deref()).filter(|_| builds) else { return };
    let hash = hex::encode(Sha256::digest(format!("{}\n{id}", p.hash)));
    p.all_labels.insert(labels::CONFIG_HASH.to_string(), hash.clone());
    p.hash = hash;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failing_step_and_its_output_tail() {
        let mut o = Output::default();
        let shown = o.push("Step 1/3 : FROM base\n ---> 1234\nStep 2/3 : RUN make\n ---> Running in ab\nbuil");
        assert_eq!(shown, ["step 1/3: FROM base", "step 2/3: RUN make"]);
        assert_eq!(o.push("ding\nerror: no rule\n"), ["building", "error: no rule"]);
        let f = o.failure("p-web", "The command '/bin/sh -c make' returned a non-zero code: 2\n");
        assert_eq!(
            f.reason,
            "building image `p-web` failed at step 2/3 `RUN make`: The command '/bin/sh -c make' returned a non-zero code: 2"
        );
        assert_eq!(f.detail, ["output of the step (last 2 lines):", "  building", "  error: no rule"]);
    }

    #[test]
    fn the_tail_is_the_last_lines_of_the_step() {
        let mut o = Output::default();
        o.push("Step 1/1 : RUN x\n");
        for i in 0..30 {
            o.push(&format!("line {i}\n"));
        }
        o.push("partial without newline");
        let f = o.failure("i", "boom");
        assert_eq!(f.detail.len(), TAIL + 1);
        assert_eq!(f.detail.last().map(String::as_str), Some("  partial without newline"));
        assert_eq!(f.detail[1], "  line 11");
    }
}
