//! The command line against the platforms: `apply --dry-run` (the plan,
//! nothing changed: on Compose read from the engine, on Kubernetes a
//! server-side dry run), diff in the topology's units with replacements
//! marked apart, colour, `--progress`, status exit codes and times, and the
//! namespace of the kubeconfig context (`--kubeconfig`).

mod common;
#[path = "compose_common.rs"]
mod h;

use std::path::Path;
use std::process::Output;

use common::{deploy_in, stderr, stdout};
use h::{Project, show};
use kube_double::KubeDouble;

fn app(memory: &str, cpus: &str) -> String {
    format!(
        "name: deploy-t-clidry\nservices:\n  app:\n    image: deploy-test/busybox:1\n    command: [sleep, \"3600\"]\n    \
         resources:\n      limits: {{memory: {memory}, cpus: {cpus}}}\n"
    )
}

const C: &str = "deploy-t-clidry-app-1";

#[test]
fn compose_dry_run_status_codes_units_and_colour() {
    if !h::docker_ready() {
        return;
    }
    let p = Project::from_yaml(&app("64M", "0.25"));
    // the plan, and nothing on the engine
    let o = p.run("apply", &["--dry-run"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    for s in
        [&format!("+ container {C} will be created"), "+ resources.limits.memory: 64M", "+ resources.limits.cpus: 0.25"]
    {
        assert!(stdout(&o).contains(s), "lacks {s}: {}", show(&o));
    }
    assert!(stdout(&o).contains("dry run: nothing was changed"), "{}", show(&o));
    assert!(
        !h::exists("container", C) && !h::exists("network", "deploy-t-clidry_default"),
        "dry run created something"
    );
    // status: a missing service is exit 4
    let o = p.run("status", &[]);
    assert_eq!(o.status.code(), Some(4), "{}", show(&o));
    // --progress plain: one line per state change; quiet: none
    let o = p.run("apply", &["--progress", "plain"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stderr(&o).lines().any(|l| l.starts_with("app ") && l.contains("ready")), "{}", show(&o));
    let o = p.run("apply", &["--progress", "quiet"]);
    assert_eq!((o.status.code(), stderr(&o).as_str()), (Some(0), ""), "{}", show(&o));
    // status: ready is 0, with how long it has been up
    let o = p.run("status", &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        stdout(&o).contains("up ") && stdout(&o).contains(" (since ") && stdout(&o).contains(" UTC)"),
        "{}",
        show(&o)
    );
    assert!(!stdout(&o).contains("T0") && !stdout(&o).contains("started 20"), "no raw RFC 3339: {}", show(&o));
    // killed: there but not ready, exit 3
    assert!(h::docker(&["kill", C]).status.success());
    let o = p.run("status", &[]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert!(stdout(&o).contains("exited (137)") && stdout(&o).contains("finished "), "{}", show(&o));
    assert_eq!(p.run("apply", &["--progress", "quiet"]).status.code(), Some(0));
    changed_limits_are_a_replacement_in_user_units(&p);
}

fn changed_limits_are_a_replacement_in_user_units(p: &Project) {
    p.rewrite(&app("80M", "0.5"));
    let id = h::inspect(C, "{{.Id}}");
    let o = p.run("diff", &["--color", "never"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("-/+ container {C} will be replaced")), "{out}");
    assert!(out.contains("~ resources.limits.memory: 64M -> 80M"), "{out}");
    assert!(out.contains("~ resources.limits.cpus: 0.25 -> 0.5"), "{out}");
    assert!(!out.contains("nano_cpus") && !out.contains("67108864") && !out.contains('\u{1b}'), "{out}");
    // colour: asked for, forced by CLICOLOR_FORCE, never with NO_COLOR or when piped
    let colour = |o: &Output| stdout(o).contains("\u{1b}[");
    assert!(colour(&p.run("diff", &["--color", "always"])));
    assert!(colour(&p.run_env("diff", &[], &[("CLICOLOR_FORCE", "1")])));
    assert!(!colour(&p.run_env("diff", &[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")])));
    assert!(!colour(&p.run("diff", &[])), "piped: plain");
    assert!(colour(&p.run("status", &["--color", "always"])));
    // apply --dry-run agrees, as JSON, and leaves the container alone
    let o = p.run("apply", &["--dry-run", "-o", "json"]);
    let j = h::json(&o);
    let c = j["objects"].as_array().and_then(|a| a.iter().find(|x| x["kind"] == "container")).cloned();
    assert_eq!(c.unwrap_or_default()["change"], "replace", "{j}");
    assert_eq!(h::inspect(C, "{{.Id}}"), id, "the dry run recreated the container");
}

// ---------------------------------------------------------------- Kubernetes

const WEB: &str = "services:\n  web:\n    image: nginx:1\n";

/// Runs the binary off the runtime's threads so that the double keeps serving.
async fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let v: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        deploy_in(&dir, &a, &v)
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn k8s_dry_run_is_a_server_side_dry_run_that_changes_nothing() {
    let d = KubeDouble::start().await.unwrap_or_else(|e| panic!("double: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kc = dir.path().join("kubeconfig");
    d.write_kubeconfig(&kc).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("deploy.yaml"), format!("name: cli-dry\n{WEB}")).unwrap_or_default();
    let kc = kc.display().to_string();
    let args = ["apply", "-t", "k8s", "--dry-run", "--kubeconfig", &kc];
    d.reset_requests();
    let o = run(dir.path(), &args, &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains("+ Deployment web will be created"), "{}", show(&o));
    let writes: Vec<_> = d.requests().into_iter().filter(|r| r.method != "GET").collect();
    assert!(!writes.is_empty(), "the server was asked");
    assert!(writes.iter().all(|r| r.query.contains("dryRun=All")), "every write a dry run: {writes:?}");
    assert!(d.get("Namespace", None, "cli-dry").is_none(), "nothing created");
    // applied for real, then a change: an update, dry-run against the live objects
    let o = run(dir.path(), &["apply", "-t", "k8s", "--kubeconfig", &kc, "--timeout", "30s"], &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    std::fs::write(dir.path().join("deploy.yaml"), format!("name: cli-dry\n{WEB}    replicas: 2\n"))
        .unwrap_or_default();
    d.reset_requests();
    let o = run(dir.path(), &args, &[]).await;
    assert!(stdout(&o).contains("~ spec.replicas: 1 -> 2"), "{}", show(&o));
    assert!(d.requests().iter().any(|r| r.method == "PATCH" && r.query.contains("dryRun=All")));
    let dep = d.get("Deployment", Some("cli-dry"), "web").unwrap_or_default();
    assert_eq!(dep["spec"]["replicas"], 1, "unchanged by the dry run");
}

/// As kubectl and Helm: `-n` first, then the topology's `namespace`, then the
/// kubeconfig context's namespace, then the project name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_namespace_comes_from_the_kubeconfig_context_when_the_topology_sets_none() {
    let d = KubeDouble::start().await.unwrap_or_else(|e| panic!("double: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kc = dir.path().join("kubeconfig");
    d.write_kubeconfig_in(&kc, "team-a").unwrap_or_else(|e| panic!("{e}"));
    let env = [("KUBECONFIG", kc.to_str().unwrap_or_default())];
    let apply = ["apply", "-t", "k8s", "--timeout", "30s"];
    std::fs::write(dir.path().join("deploy.yaml"), format!("name: cli-ns\n{WEB}")).unwrap_or_default();
    let o = run(dir.path(), &apply, &env).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(d.get("Deployment", Some("team-a"), "web").is_some(), "in the context's namespace");
    let o = run(dir.path(), &[&apply[..], &["-n", "team-b"]].concat(), &env).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(d.get("Deployment", Some("team-b"), "web").is_some(), "-n wins");
    std::fs::write(dir.path().join("deploy.yaml"), format!("name: cli-ns\nnamespace: own\n{WEB}")).unwrap_or_default();
    let o = run(dir.path(), &apply, &env).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(d.get("Deployment", Some("own"), "web").is_some(), "the topology's namespace wins over the context's");
    // a context without a namespace: the project's name, as before
    let plain = dir.path().join("plain-kubeconfig");
    d.write_kubeconfig(&plain).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.path().join("deploy.yaml"), format!("name: cli-ns\n{WEB}")).unwrap_or_default();
    let o = run(dir.path(), &[&apply[..], &["--kubeconfig", plain.to_str().unwrap_or_default()]].concat(), &env).await;
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(d.get("Deployment", Some("cli-ns"), "web").is_some(), "--kubeconfig wins over KUBECONFIG");
    let o = run(dir.path(), &["status", "-t", "k8s", "--kubeconfig", "/nonexistent/kubeconfig"], &[]).await;
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("kubeconfig `/nonexistent/kubeconfig`"), "{}", show(&o));
}

// ---------------------------------------------------------------- the stand-in image

/// `tests/support/redis-image/build.sh` (what `./demo.sh` and the tests use
/// when the seed's `redis:7-alpine` is missing) never replaces a real image
/// under the seed's tag: it tags the stand-in as it only when the tag is
/// absent or already the stand-in, and never with REDIS_STANDIN_OWN_TAG_ONLY.
#[test]
fn the_stand_in_never_replaces_a_real_image() {
    if !h::docker_ready() {
        return;
    }
    let real = "deploy-t/real-redis-probe:1";
    let _ = h::docker(&["rmi", "-f", real]);
    // A "real" image: not built by build.sh (its content-hash label empty).
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dockerfile = "FROM deploy-test/busybox:1\nLABEL org.deploy-test.content-hash=\"\" probe=real\n";
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap_or_else(|e| panic!("{e}"));
    let b = std::process::Command::new("docker")
        .args(["build", "-q", "-t", real])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap_or_else(|e| panic!("docker build: {e}"));
    assert!(b.status.success(), "{}", show(&b));
    let id = h::inspect(real, "{{.Id}}");
    let script = common::root().join("tests/support/redis-image/build.sh");
    let build = |env: &[(&str, &str)]| {
        let mut c = std::process::Command::new("bash");
        c.arg(&script).env("SKIP_SMOKE_TEST", "1").env("REDIS_SEED_TAG", real);
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap_or_else(|e| panic!("build.sh: {e}"));
        assert!(o.status.success(), "{}", show(&o));
        format!("{}{}", stdout(&o), stderr(&o))
    };
    let log = build(&[]);
    assert!(log.contains(&format!("{real} here is a real image: left alone")), "{log}");
    assert_eq!(h::inspect(real, "{{.Id}}"), id, "the real image was replaced");
    assert_eq!(h::inspect(real, "{{index .Config.Labels \"probe\"}}"), "real");
    // absent: tagged as the stand-in, unless only its own tag is wanted
    let o = h::docker(&["rmi", "-f", real]);
    assert!(o.status.success(), "{}", show(&o));
    build(&[("REDIS_STANDIN_OWN_TAG_ONLY", "1")]);
    assert!(!h::exists("image", real), "REDIS_STANDIN_OWN_TAG_ONLY tagged the seed's tag");
    build(&[]);
    assert_eq!(h::inspect(real, "{{.Id}}"), h::inspect("deploy-test/redis:7", "{{.Id}}"));
    let _ = h::docker(&["rmi", real]);
}
