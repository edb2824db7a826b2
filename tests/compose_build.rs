//! Images built on apply (`build:`) on the real Docker Engine: a service
//! without `image:` is built as `PROJECT-SERVICE` when its image is missing
//! (context from tests/fixtures/build/app, FROM the local busybox test image:
//! a COPY, a RUN, build arguments, a second stage left out by `target`, a
//! `.dockerignore`d file that must not reach the image); the builder's output
//! streams into the progress lines, secrets masked; a failing RUN fails its
//! service with the step and its output and spares what does not depend on
//! it; `--build` rebuilds, and recreates only when the image changed.
//! Every test uses its own project name.

mod common;
#[path = "compose_common.rs"]
mod h;

use std::path::Path;
use std::process::Command;

use common::{stderr, stdout};
use h::{Project, docker, inspect, service, show};

/// A build argument that is secret by its name (`API_TOKEN`): never printed.
const TOKEN: &str = "tok-5ecret-value-91";

fn topology(project: &str) -> String {
    format!(
        r#"name: {project}
services:
  web:
    build:
      context: ./app
      dockerfile: build.Dockerfile
      target: app
      args:
        GREETING: ${{GREETING:-hello}}
        FROM_SHELL:
        API_TOKEN: ${{BUILD_TOKEN}}
    healthcheck:
      command: [cat, /app/greeting.txt]
      interval: 1s
      timeout: 3s
      retries: 3
"#
    )
}

/// A project whose directory holds a copy of the fixture context in `app/`,
/// with a file naming the project: the tests run at once on one engine, and
/// the builder's cache must not hand one test the layers another built.
fn project(name: &str, yaml: &str) -> Project {
    let mut p = Project::from_yaml(yaml);
    let from = common::root().join("tests/fixtures/build/app");
    copy_dir(&from, &p.dir.join("app"));
    std::fs::write(p.dir.join("app/project.txt"), name).unwrap_or_else(|e| panic!("write: {e}"));
    p.env = vec![
        ("GREETING".into(), "hola".into()),
        ("FROM_SHELL".into(), "shell-value".into()),
        ("BUILD_TOKEN".into(), TOKEN.into()),
    ];
    p
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())).flatten() {
        let target = to.join(entry.file_name());
        std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("copy to {}: {e}", target.display()));
    }
}

/// Removes the images a test built, when dropped (declare it before the
/// `Project`, so that the containers go first).
struct Images(Vec<String>);

impl Images {
    fn absent(names: &[&str]) -> Images {
        let i = Images(names.iter().map(|s| s.to_string()).collect());
        i.remove();
        for n in names {
            assert!(!h::exists("image", n), "image {n} is still there");
        }
        i
    }
    fn remove(&self) {
        for n in &self.0 {
            let _ = docker(&["rmi", "-f", n]);
        }
    }
}

impl Drop for Images {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `docker exec CONTAINER ARGS...`: (success, stdout trimmed).
fn exec(container: &str, args: &[&str]) -> (bool, String) {
    let mut a = vec!["exec", container];
    a.extend_from_slice(args);
    let o = docker(&a);
    (o.status.success(), String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn cat(container: &str, path: &str) -> String {
    let (ok, out) = exec(container, &["cat", path]);
    assert!(ok, "cat {path} in {container} failed");
    out
}

fn busybox_ready() -> bool {
    if !h::docker_ready() {
        return false;
    }
    assert!(
        h::exists("image", "deploy-test/busybox:1"),
        "deploy-test/busybox:1 is missing: tests/support/redis-image/build.sh builds it from Debian's busybox-static"
    );
    true
}

#[test]
fn a_service_without_image_is_built_as_project_service_and_ready() {
    if !busybox_ready() {
        return;
    }
    let images = Images::absent(&["deploy-t-build-new-web"]);
    let p = project("deploy-t-build-new", &topology("deploy-t-build-new"));
    let c = "deploy-t-build-new-web-1";
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    // The builder's output streams into the service's progress lines, secrets masked.
    assert!(err.contains("building image: step 1/"), "{}", show(&o));
    assert!(err.contains("building image: building marker-b41d (token ********)"), "{}", show(&o));
    assert!(!out.contains(TOKEN) && !err.contains(TOKEN), "{}", show(&o));
    assert!(h::exists("image", &images.0[0]), "built under Compose's name");
    assert!(out.contains("web") && out.contains("ready"), "{}", show(&o));
    // COPY, RUN, arguments (a template, and a name taken from the environment), target.
    assert_eq!(cat(c, "/app/greeting.txt"), "hola from the build");
    assert_eq!(cat(c, "/app/from-shell.txt"), "shell-value");
    assert_eq!(cat(c, "/app/content.txt"), "v1");
    assert!(exec(c, &["test", "-e", "/app/build.Dockerfile"]).0, "the context was copied");
    assert!(!exec(c, &["test", "-e", "/app/extra-stage"]).0, "`target: app` stops before the second stage");
    // `.dockerignore`d files never left the host.
    assert!(!exec(c, &["test", "-e", "/app/secret.txt"]).0, "secret.txt is .dockerignore'd");
    assert!(!exec(c, &["test", "-e", "/app/debug.log"]).0, "*.log is .dockerignore'd");
    let image_id = inspect(&images.0[0], "{{.Id}}");
    assert_eq!(inspect(c, "{{.Image}}"), image_id);
    assert_eq!(inspect(c, r#"{{index .Config.Labels "com.docker.compose.image"}}"#), image_id);
    let d = p.run("diff", &[]);
    assert_eq!(d.status.code(), Some(0), "{}", show(&d));
    // Present now: not built again, nothing changes.
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!stderr(&o).contains("building image"), "{}", show(&o));
    assert!(stdout(&o).contains("unchanged"), "{}", show(&o));
}

#[test]
fn a_failing_run_names_the_step_shows_its_output_and_spares_the_rest() {
    if !busybox_ready() {
        return;
    }
    let _images = Images::absent(&["deploy-t-build-fail-broken"]);
    let yaml = r#"name: deploy-t-build-fail
services:
  broken:
    build:
      context: app
      dockerfile: fail.Dockerfile
      args:
        - API_TOKEN=${BUILD_TOKEN}
  after:
    image: deploy-test/busybox:1
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]
    depends_on: [broken]
  other:
    image: deploy-test/busybox:1
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]
"#;
    let p = project("deploy-t-build-fail", yaml);
    let o = p.run("apply", &["--output", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(!stdout(&o).contains(TOKEN) && !stderr(&o).contains(TOKEN), "{}", show(&o));
    let rep = h::json(&o);
    let broken = service(&rep, "broken");
    let reason = broken["phase"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("building image `deploy-t-build-fail-broken` failed at step 3/3 `RUN echo"), "{rep}");
    assert!(reason.contains("returned a non-zero code: 3"), "{rep}");
    let detail = broken["detail"].to_string();
    assert!(detail.contains("about to fail marker-7f3a (token ********)"), "{rep}");
    assert_eq!(service(&rep, "after")["ready"], false, "{rep}");
    assert!(!h::exists("container", "deploy-t-build-fail-after-1"), "a dependent of a failed build is not started");
    assert!(!h::exists("container", "deploy-t-build-fail-broken-1"));
    assert_eq!(service(&rep, "other")["ready"], true, "{rep}");
    assert!(!h::exists("image", "deploy-t-build-fail-broken"));
    // The text form says it too.
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stdout(&o).contains("failed at step 3/3"), "{}", show(&o));
}

#[test]
fn build_flag_rebuilds_and_recreates_only_when_the_image_changed() {
    if !busybox_ready() {
        return;
    }
    let images = Images::absent(&["deploy-t-build-again-web"]);
    let p = project("deploy-t-build-again", &topology("deploy-t-build-again"));
    let c = "deploy-t-build-again-web-1";
    let hash = || inspect(c, r#"{{index .Config.Labels "com.docker.compose.config-hash"}}"#);
    assert_eq!(service(&p.apply_ok(&[]), "web")["action"], "created");
    let (id1, hash1) = (inspect(c, "{{.Id}}"), hash());
    std::fs::write(p.dir.join("app/content.txt"), "v2\n").unwrap_or_else(|e| panic!("write: {e}"));
    // Without --build the image is there: nothing is built or changed.
    assert_eq!(service(&p.apply_ok(&[]), "web")["action"], "unchanged");
    assert_eq!(cat(c, "/app/content.txt"), "v1");
    // --build: a new image, so a new container (its hash carries the image ID).
    let rep = p.apply_ok(&["--build"]);
    assert_eq!(service(&rep, "web")["action"], "recreated", "{rep}");
    assert_eq!(cat(c, "/app/content.txt"), "v2");
    let (id2, hash2) = (inspect(c, "{{.Id}}"), hash());
    assert_ne!(id1, id2);
    assert_ne!(hash1, hash2, "the config hash includes the built image ID");
    assert_eq!(inspect(c, "{{.Image}}"), inspect(&images.0[0], "{{.Id}}"));
    assert_eq!(p.run("diff", &[]).status.code(), Some(0));
    // Built again from the same context: the same image, the container is left alone.
    assert_eq!(service(&p.apply_ok(&["--build"]), "web")["action"], "unchanged");
    assert_eq!((inspect(c, "{{.Id}}"), hash()), (id2, hash2));
    // --build is an option of the compose target only.
    let o = p.run("apply", &["--target", "k8s", "--build"]);
    assert_eq!(o.status.code(), Some(64), "{}", show(&o));
    assert!(stderr(&o).contains("--build is an option of the compose target only"), "{}", show(&o));
}

#[test]
fn rendered_build_sections_read_back_in_compose_and_warn_on_kubernetes() {
    let p = project("deploy-t-build-render", &topology("deploy-t-build-render"));
    let o = p.run("render", &["--target", "compose"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let yaml = stdout(&o);
    assert!(!yaml.contains("image:"), "Compose names a built image itself:\n{yaml}");
    assert!(yaml.contains("GREETING: ${GREETING:-hello}"), "templates stay as written:\n{yaml}");
    if Command::new("docker").args(["compose", "version"]).output().is_ok_and(|o| o.status.success()) {
        std::fs::write(p.dir.join("compose.yaml"), &yaml).unwrap_or_else(|e| panic!("write: {e}"));
        let out = Command::new("docker")
            .args(["compose", "-p", "deploy-t-build-render", "-f", "compose.yaml", "config", "--format", "json"])
            .current_dir(&p.dir)
            .envs(p.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap_or_else(|e| panic!("docker compose: {e}"));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("JSON: {e}"));
        let b = &j["services"]["web"]["build"];
        assert_eq!(b["context"], p.dir.join("app").display().to_string(), "{j}");
        assert_eq!((b["dockerfile"].as_str(), b["target"].as_str()), (Some("build.Dockerfile"), Some("app")));
        assert_eq!(
            (b["args"]["GREETING"].as_str(), b["args"]["FROM_SHELL"].as_str()),
            (Some("hola"), Some("shell-value"))
        );
    } else if common::under_ci() {
        panic!("docker compose is not installed");
    }
    // Kubernetes does not build: a warning says what to do.
    let o = p.run("render", &["--target", "k8s"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let err = stderr(&o);
    assert!(err.contains("service `web` has `build` and no `image`"), "{err}");
    assert!(err.contains("docker push REGISTRY/deploy-t-build-render-web:TAG"), "{err}");
}
