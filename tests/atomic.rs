//! `deploy apply --atomic` on both targets, through the binary: a good state,
//! then an update that never becomes ready (Compose: a health check that never
//! passes, on the real engine; Kubernetes: an image the API double never
//! pulls) together with a change that does get ready and a new service. With
//! `--atomic` the apply exits 1 and every service it changed is back as it
//! was, and ready (Compose: the very same containers, same config hash;
//! Kubernetes: the same pod templates, rolled out), what it created is gone
//! and the data is kept; without it the failure is left in place.

mod common;
#[path = "compose_common.rs"]
mod compose_common;
#[path = "conformance/rig.rs"]
mod rig;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kube_double::Behaviour;
use rig::{Rig, Target};
use serde_json::Value;

use compose_common::{docker, free_port, wait_docker_healthy};

/// An image the Kubernetes double never pulls (the Compose variant fails by its health check).
const NEVER_PULLED: &str = "deploy-test/never:1";

/// `db` (a volume: a StatefulSet on Kubernetes) and `web` (a Deployment,
/// serving `$VERSION` over HTTP on a published port), each with a health
/// check; `v2` changes both, breaks `web` and adds `cache`.
fn topology(port: u16, v2: Option<Target>) -> String {
    let (level, version) = if v2.is_some() { ("2", "v2") } else { ("1", "v1") };
    let (web_image, web_check) = match v2 {
        Some(Target::Compose) => ("deploy-test/busybox:1", "[\"false\"]"),
        Some(Target::K8s) => (NEVER_PULLED, "[\"true\"]"),
        None => ("deploy-test/busybox:1", "[\"true\"]"),
    };
    let cache = if v2.is_some() {
        "  cache:\n    image: deploy-test/busybox:1\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; sleep 3600 & wait\"]\n"
    } else {
        ""
    };
    format!(
        r#"services:
  db:
    image: deploy-test/busybox:1
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    environment: {{LEVEL: "{level}"}}
    volumes: ["data:/data"]
    healthcheck: {{command: ["true"], interval: 1s, timeout: 2s, retries: 3}}
  web:
    image: {web_image}
    command: ["sh", "-c", "trap 'exit 0' TERM; mkdir -p /www && echo $$VERSION > /www/index.html && httpd -f -p 8080 -h /www & wait"]
    environment: {{VERSION: {version}}}
    ports: ["127.0.0.1:{port}:8080"]
    depends_on: {{db: {{condition: service_healthy}}}}
    healthcheck: {{command: {web_check}, interval: 1s, timeout: 2s, retries: 1}}
{cache}volumes:
  data: {{}}
"#
    )
}

/// `(service, outcome, ready)` of the report's `restored` list, by service.
fn restored(r: &Value) -> Vec<(String, String, bool)> {
    let mut v: Vec<_> = r["restored"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let s = |k: &str| x[k].as_str().unwrap_or_default().to_string();
            (s("service"), s("outcome"), x["ready"].as_bool().unwrap_or(false))
        })
        .collect();
    v.sort();
    v
}

fn expected_restore() -> Vec<(String, String, bool)> {
    [("cache", "removed"), ("db", "restored"), ("web", "restored")]
        .iter()
        .map(|(s, o)| (s.to_string(), o.to_string(), true))
        .collect()
}

// ------------------------------------------------------------------ Compose

/// One container of the project as `docker ps -a` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Container {
    name: String,
    id: String,
    hash: String,
    state: String,
}

/// The project's containers by service.
fn containers(project: &str) -> BTreeMap<String, Vec<Container>> {
    let format = "{{.Label \"com.docker.compose.service\"}}\t{{.Names}}\t{{.ID}}\t{{.Label \"com.docker.compose.config-hash\"}}\t{{.State}}";
    let label = format!("label=com.docker.compose.project={project}");
    let o = docker(&["ps", "-a", "--no-trunc", "--filter", &label, "--format", format]);
    assert!(o.status.success(), "docker ps: {}", String::from_utf8_lossy(&o.stderr));
    let mut out: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let [service, name, id, hash, state] = f[..] else { panic!("unexpected docker ps line: {line}") };
        let c = Container { name: name.into(), id: id.into(), hash: hash.into(), state: state.into() };
        out.entry(service.to_string()).or_default().push(c);
    }
    out
}

/// The one container of `service`.
fn one(all: &BTreeMap<String, Vec<Container>>, service: &str) -> Container {
    match all.get(service).map(Vec::as_slice) {
        Some([c]) => c.clone(),
        other => panic!("`{service}` should have exactly one container: {other:?} (all: {all:#?})"),
    }
}

fn no_kept_container(all: &BTreeMap<String, Vec<Container>>) {
    let kept: Vec<&Container> = all.values().flatten().filter(|c| c.name.ends_with("-deploy-prev")).collect();
    assert!(kept.is_empty(), "a kept previous container was left behind: {kept:#?}");
}

/// `GET /` on 127.0.0.1:port, the body trimmed.
fn http_get(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut s = TcpStream::connect(("127.0.0.1", port))?;
            s.set_read_timeout(Some(Duration::from_secs(3)))?;
            s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut buf = String::new();
            s.read_to_string(&mut buf)?;
            Ok(buf.split("\r\n\r\n").nth(1).unwrap_or_default().trim().to_string())
        })();
        match attempt {
            Ok(body) if !body.is_empty() => return body,
            other if Instant::now() > deadline => panic!("nothing served on 127.0.0.1:{port}: {other:?}"),
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

#[test]
fn compose_restores_every_changed_service_and_leaves_the_failure_without_it() {
    let port = free_port();
    let Some(rig) = Rig::new(Target::Compose, "atomic", &topology(port, None)) else { return };
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!(code, 0, "the good state: {r:#}");
    let good = containers(&rig.project);
    assert_eq!(http_get(port), "v1");

    rig.write(&topology(port, Some(Target::Compose)));
    let (code, r) = rig.json("apply", &["--atomic", "--timeout", "30s"]);
    assert_eq!(code, 1, "{r:#}");
    assert!(r["error"].as_str().unwrap_or_default().contains("service `web`"), "the original failure: {r:#}");
    assert_eq!(restored(&r), expected_restore(), "{r:#}");
    let now = containers(&rig.project);
    no_kept_container(&now);
    assert!(!now.contains_key("cache"), "what the apply created is gone: {now:#?}");
    for s in ["db", "web"] {
        let (before, after) = (one(&good, s), one(&now, s));
        assert_eq!((&after.id, &after.hash), (&before.id, &before.hash), "`{s}` is its previous container again");
        assert_eq!(after.state, "running", "{after:?}");
        wait_docker_healthy(&after.name, Duration::from_secs(20));
    }
    assert_eq!(http_get(port), "v1", "the previous container serves on the published port again");
    let volume = format!("{}_data", rig.project);
    assert!(compose_common::exists("volume", &volume), "named volumes are kept");
    rig.write(&topology(port, None));
    let (code, d) = rig.json("diff", &[]);
    assert_eq!(code, 0, "live is the good state again, as diff sees it: {d:#}");
    rig.write(&topology(port, Some(Target::Compose)));

    let (code, r) = rig.json("apply", &["--timeout", "30s"]);
    assert_eq!(code, 1, "without --atomic: {r:#}");
    assert!(r.get("restored").is_none(), "nothing restored without --atomic: {r:#}");
    let now = containers(&rig.project);
    no_kept_container(&now);
    assert_ne!(one(&now, "web").hash, one(&good, "web").hash, "the failed update is left in place");
    assert_ne!(one(&now, "db").hash, one(&good, "db").hash);
    assert_eq!(one(&now, "cache").state, "running");

    // A successful atomic apply lets the kept containers go.
    rig.write(&topology(port, None));
    let (code, r) = rig.json("apply", &["--atomic", "--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    assert!(r.get("restored").is_none(), "{r:#}");
    let now = containers(&rig.project);
    no_kept_container(&now);
    assert_eq!(one(&now, "web").hash, one(&good, "web").hash);
    assert_eq!(http_get(port), "v1");
}

#[test]
fn compose_text_output_names_the_failure_and_what_was_restored() {
    let port = free_port();
    let Some(rig) = Rig::new(Target::Compose, "atomic-text", &topology(port, None)) else { return };
    let o = rig.run("apply", &["--timeout", "60s"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    rig.write(&topology(port, Some(Target::Compose)));
    let o = rig.run("apply", &["--atomic", "--timeout", "30s", "--progress", "plain"]);
    let (out, err) = (common::stdout(&o), common::stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(out.contains("error: service `web`"), "{out}");
    for line in ["--atomic: web", "--atomic: db", "--atomic: cache"] {
        assert!(out.contains(line), "`{line}` in:\n{out}");
    }
    assert!(out.contains("restored to its state before the apply, ready"), "{out}");
    assert!(err.contains("--atomic: restoring `web`"), "progress says what it restores:\n{err}");
}

/// An atomic apply killed while it waits (the previous container kept,
/// stopped, renamed): the next apply cleans the leftover and converges.
#[test]
fn compose_a_kept_container_left_by_a_killed_apply_is_cleaned_by_the_next() {
    let port = free_port();
    let Some(rig) = Rig::new(Target::Compose, "atomic-crash", &topology(port, None)) else { return };
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    let good = containers(&rig.project);
    rig.write(&topology(port, Some(Target::Compose)));
    let mut child = Command::new(common::deploy_bin())
        .args(["apply", "--target", "compose", "--atomic", "--timeout", "60s", "--progress", "quiet"])
        .current_dir(rig.dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn deploy: {e}"));
    let deadline = Instant::now() + Duration::from_secs(40);
    while !containers(&rig.project).values().flatten().any(|c| c.name.ends_with("-deploy-prev")) {
        assert!(Instant::now() < deadline, "no previous container was kept: {:#?}", containers(&rig.project));
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let left = containers(&rig.project);
    assert!(left.values().flatten().any(|c| c.name.ends_with("-deploy-prev")), "{left:#?}");

    rig.write(&topology(port, None));
    let (code, r) = rig.json("apply", &["--timeout", "60s"]);
    assert_eq!(code, 0, "{r:#}");
    let now = containers(&rig.project);
    no_kept_container(&now);
    for s in ["db", "web"] {
        assert_eq!(one(&now, s).hash, one(&good, s).hash, "{s}");
        assert_eq!(one(&now, s).state, "running");
    }
    assert_eq!(http_get(port), "v1");
}

// --------------------------------------------------------------- Kubernetes

fn object(rig: &Rig, kind: &str, name: &str) -> Option<Value> {
    rig.double().and_then(|d| d.get(kind, Some(&rig.project), name))
}

fn template(rig: &Rig, kind: &str, name: &str) -> Value {
    let o = object(rig, kind, name).unwrap_or_else(|| panic!("no {kind}/{name}"));
    o["spec"]["template"].clone()
}

/// The pods of `service`: `(image, ready)`.
fn pods(rig: &Rig, service: &str) -> Vec<(String, bool)> {
    let d = rig.double().unwrap_or_else(|| panic!("no double"));
    d.list("Pod", Some(&rig.project))
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["deploy.dev/service"] == service)
        .map(|p| {
            let image = p["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string();
            let ready = p["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True");
            (image, ready)
        })
        .collect()
}

#[test]
fn k8s_restores_every_changed_service_and_leaves_the_failure_without_it() {
    let Some(rig) = Rig::new(Target::K8s, "atomic", &topology(30080, None)) else { return };
    let d = rig.double().unwrap_or_else(|| panic!("no double"));
    d.set_image_behaviour(NEVER_PULLED, Behaviour::ImagePullBackOff);
    let (code, r) = rig.json("apply", &["--timeout", "30s"]);
    assert_eq!(code, 0, "the good state: {r:#}");
    let good = [("Deployment", "web"), ("StatefulSet", "db")].map(|(k, n)| template(&rig, k, n));

    rig.write(&topology(30080, Some(Target::K8s)));
    let (code, r) = rig.json("apply", &["--atomic", "--timeout", "20s"]);
    assert_eq!(code, 1, "{r:#}");
    let error = r["error"].as_str().unwrap_or_default();
    assert!(error.contains("service `web`") && error.contains("ImagePullBackOff"), "the original failure: {r:#}");
    assert_eq!(restored(&r), expected_restore(), "{r:#}");
    let now = [("Deployment", "web"), ("StatefulSet", "db")].map(|(k, n)| template(&rig, k, n));
    assert_eq!(now, good, "the pod templates are the previous ones");
    assert!(object(&rig, "Deployment", "cache").is_none(), "what the apply created is gone");
    for s in ["web", "db"] {
        let p = pods(&rig, s);
        assert!(!p.is_empty() && p.iter().all(|(i, ready)| i == "deploy-test/busybox:1" && *ready), "{s}: {p:?}");
    }
    let claims = d.list("PersistentVolumeClaim", Some(&rig.project));
    assert!(!claims.is_empty(), "claims are kept");
    let (_, s) = rig.json("status", &["web", "db"]);
    let ready: Vec<bool> = s["services"].as_array().into_iter().flatten().map(|x| x["ready"] == true).collect();
    assert_eq!(ready, [true, true], "both ready again: {s:#}");
    rig.write(&topology(30080, None));
    let (code, diff) = rig.json("diff", &[]);
    assert_eq!(code, 0, "live is the good state again, as diff sees it: {diff:#}");
    rig.write(&topology(30080, Some(Target::K8s)));

    let (code, r) = rig.json("apply", &["--timeout", "20s"]);
    assert_eq!(code, 1, "without --atomic: {r:#}");
    assert!(r.get("restored").is_none(), "{r:#}");
    let web = template(&rig, "Deployment", "web");
    assert_eq!(web["spec"]["containers"][0]["image"], NEVER_PULLED, "the failed update is left in place");
    assert!(object(&rig, "Deployment", "cache").is_some());
}
