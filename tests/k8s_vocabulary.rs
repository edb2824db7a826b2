//! The everyday Compose vocabulary on Kubernetes, through the binary: each
//! field's mapping in the rendered objects (securityContext, workingDir,
//! hostname, grace period, emptyDirs for tmpfs and /dev/shm, labels,
//! hostAliases, dnsConfig, imagePullPolicy, nodeSelector, env files, secrets
//! and configs mounted with subPath, alias Services) and a warning for each
//! field Kubernetes has no equivalent of; every rendered object passes
//! `kubernetes-validate --strict` for the oldest and newest supported
//! versions; and an apply against the Kubernetes API double stores the
//! Secret and ConfigMap made from the files and a pod template that carries
//! the fields, with no secret in any other object nor in the output.

mod common;
#[path = "compose_common.rs"]
mod compose_common;
#[path = "conformance/rig.rs"]
mod rig;

use common::{deploy_in, stderr, stdout};
use rig::{Rig, Target};
use serde_json::{Value, json};

const VERSIONS: &[&str] = &["1.33.0", "1.37.0"];
/// The content of the secret file and of the secret from the environment: never printed.
const KEY: &str = "api-key-8c1e-never-printed";
const TOKEN: &str = "token-5b2d-never-printed";
const FILE_PASSWORD: &str = "env-file-password-77aa";

const TOPOLOGY: &str = r#"services:
  web:
    image: deploy-test/busybox:1
    command: [sh, -c, "sleep 3600"]
    kind: stateless
    ports:
      - target: 8080
        published: 18080
        name: http
        app_protocol: http
      - target: 9090
        mode: host
    healthcheck:
      command: ["true"]
      start_period: 10s
      start_interval: 2s
      retries: 3
    user: "1000:2000"
    working_dir: /srv
    hostname: web-host
    labels:
      com.example.team: web
      com.example.note: "not a label value"
      app.kubernetes.io/name: clash
    stop_grace_period: 45s
    stop_signal: SIGINT
    cap_add: [NET_ADMIN, CAP_CHOWN]
    cap_drop: [MKNOD]
    read_only: true
    sysctls:
      net.ipv4.tcp_syncookies: 1
      net.core.somaxconn: 1024
    shm_size: 256m
    tmpfs:
      - /run:size=64m
      - /var/tmp:mode=1777
    ulimits:
      nofile: 1024
    init: true
    extra_hosts:
      - "db.local:10.0.0.5"
      - "cache.local:10.0.0.5"
      - "other.local:10.0.0.6"
    dns: [1.1.1.1]
    dns_search: [example.com]
    dns_opt: ["ndots:2", rotate]
    devices: [/dev/fuse]
    logging:
      driver: json-file
    runtime: runsc
    security_opt:
      - no-new-privileges:true
      - apparmor:unconfined
      - label:type:spc_t
      - label:disable
      - seccomp:./profile.json
    tty: true
    stdin_open: true
    platform: linux/arm64
    pull_policy: always
    env_file: [web.env]
    environment:
      FROM_SHELL:
    networks:
      back:
        aliases: [web-api, Not_A_Name]
    secrets:
      - api_key
      - source: token
        target: /etc/token
        mode: 0400
        uid: "1000"
    configs:
      - source: app_conf
        target: /etc/app.conf
      - banner
    volumes:
      - type: tmpfs
        target: /cache
        tmpfs:
          size: 16m
      - /scratch
      - shared:/shared
  db:
    image: deploy-test/busybox:1
    command: [sh, -c, "sleep 3600"]
    hostname: db-host
    networks: [back]
    volumes:
      - type: volume
        source: data
        target: /data
        volume:
          subpath: pg
  edge:
    image: deploy-test/busybox:1
    command: [sh, -c, "sleep 3600"]
    network_mode: host
  worker:
    image: deploy-test/busybox:1
    command: [sh, -c, "sleep 3600"]
    networks: [inner]
networks:
  back: {}
  inner:
    internal: true
    ipam:
      config:
        - subnet: 10.5.0.0/16
volumes:
  data:
    driver: local
  shared:
    external: true
    name: shared-data
secrets:
  api_key:
    file: ./api_key.txt
  token:
    environment: WEB_TOKEN
configs:
  app_conf:
    file: ./app.conf
  banner:
    content: "welcome to ${SITE:-the site}"
"#;

/// A project folder with the topology and the files it reads.
fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("write {name}: {e}"));
    };
    write("deploy.yaml", &format!("name: vocab\n{TOPOLOGY}"));
    write("web.env", &format!("FROM_FILE=file-value\nAPI_PASSWORD={FILE_PASSWORD}\n"));
    write("api_key.txt", KEY);
    write("app.conf", "setting = 1\n");
    dir
}

/// `deploy render --target k8s` (secrets as placeholders): (documents, warnings).
fn render(dir: &std::path::Path) -> (Vec<Value>, String, String) {
    let env = [("WEB_TOKEN", TOKEN), ("FROM_SHELL", "shell-value")];
    let o = deploy_in(dir, &["render", "--target", "k8s", "--secrets", "placeholders", "-f", "deploy.yaml"], &env);
    assert!(o.status.success(), "render failed:\n{}", stderr(&o));
    let (out, err) = (stdout(&o), stderr(&o));
    for secret in [KEY, TOKEN, FILE_PASSWORD] {
        assert!(!out.contains(secret) && !err.contains(secret), "a secret value was printed:\n{out}\n{err}");
    }
    let docs = out
        .split("\n---\n")
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap_or_else(|e| panic!("bad YAML document: {e}\n{d}")))
        .collect();
    (docs, out, err)
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name} rendered"))
}

/// The pod template of `web` (a Deployment), its pod spec and its container.
fn assert_web_pod(template: &Value) {
    let pod = &template["spec"];
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!((&sc["runAsUser"], &sc["runAsGroup"]), (&json!(1000), &json!(2000)));
    assert_eq!(sc["capabilities"], json!({"add": ["NET_ADMIN", "CHOWN"], "drop": ["NET_RAW", "MKNOD"]}));
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["appArmorProfile"], json!({"type": "Unconfined"}));
    assert_eq!(sc["seLinuxOptions"], json!({"type": "spc_t"}));
    assert_eq!((&c["tty"], &c["stdin"]), (&json!(true), &json!(true)));
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(
        pod["securityContext"]["sysctls"],
        json!([{"name": "net.ipv4.tcp_syncookies", "value": "1"}, {"name": "net.core.somaxconn", "value": "1024"}])
    );
    assert_eq!(c["workingDir"], "/srv");
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(pod["hostname"], "web-host");
    assert_eq!(pod["terminationGracePeriodSeconds"], 45);
    assert_eq!(pod["shareProcessNamespace"], true);
    assert_eq!(pod["nodeSelector"], json!({"kubernetes.io/os": "linux", "kubernetes.io/arch": "arm64"}));
    assert_eq!(
        pod["hostAliases"],
        json!([{"ip": "10.0.0.5", "hostnames": ["db.local", "cache.local"]}, {"ip": "10.0.0.6", "hostnames": ["other.local"]}])
    );
    assert_eq!(pod["dnsPolicy"], "None");
    assert_eq!(
        pod["dnsConfig"],
        json!({"nameservers": ["1.1.1.1"], "searches": ["example.com"], "options": [{"name": "ndots", "value": "2"}, {"name": "rotate"}]})
    );
    assert_eq!(template["metadata"]["labels"]["com.example.team"], "web");
    assert_eq!(
        template["metadata"]["labels"]["app.kubernetes.io/name"], "web",
        "the selector label is not overwritten"
    );
    assert_eq!(template["metadata"]["annotations"]["com.example.note"], "not a label value");
    assert!(template["metadata"]["annotations"]["deploy.dev/files-hash"].is_string());
}

/// Memory and scratch directories, secrets and configs, each mounted where Compose puts it.
fn assert_web_mounts(pod: &Value) {
    let mounts = &pod["containers"][0]["volumeMounts"];
    let at = |path: &str| -> &Value {
        mounts
            .as_array()
            .and_then(|m| m.iter().find(|m| m["mountPath"] == path))
            .unwrap_or_else(|| panic!("nothing at {path}: {mounts}"))
    };
    let volume = |name: &Value| -> &Value {
        pod["volumes"]
            .as_array()
            .and_then(|v| v.iter().find(|v| v["name"] == *name))
            .unwrap_or_else(|| panic!("no volume {name}"))
    };
    assert_eq!(volume(&at("/run")["name"])["emptyDir"], json!({"medium": "Memory", "sizeLimit": "64Mi"}));
    assert_eq!(volume(&at("/var/tmp")["name"])["emptyDir"], json!({"medium": "Memory"}));
    assert_eq!(volume(&at("/dev/shm")["name"])["emptyDir"], json!({"medium": "Memory", "sizeLimit": "256Mi"}));
    assert_eq!(volume(&at("/cache")["name"])["emptyDir"], json!({"medium": "Memory", "sizeLimit": "16Mi"}));
    assert_eq!(volume(&at("/scratch")["name"])["emptyDir"], json!({}));
    let secret = at("/run/secrets/api_key");
    assert_eq!((&secret["subPath"], &secret["readOnly"]), (&json!("api_key"), &json!(true)));
    assert_eq!(at("/etc/token")["subPath"], "token");
    let sv = &volume(&secret["name"])["secret"];
    assert_eq!(sv["secretName"], "web-secrets");
    assert_eq!(
        sv["items"],
        json!([{"key": "api_key", "path": "api_key", "mode": 0o444}, {"key": "token", "path": "token", "mode": 0o400}])
    );
    let conf = at("/etc/app.conf");
    assert_eq!(conf["subPath"], "app_conf");
    assert_eq!(at("/banner")["subPath"], "banner");
    assert_eq!(volume(&conf["name"])["configMap"]["name"], "web-configs");
}

/// Long-form port names, `start_interval`, the external volume's claim, the internal network's egress policy.
fn assert_ports_networks_volumes(docs: &[Value]) {
    let pod = &find(docs, "Deployment", "web")["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let port = |n: u16| c["ports"].as_array().and_then(|p| p.iter().find(|p| p["containerPort"] == n)).cloned();
    assert_eq!(port(8080).unwrap_or_default()["name"], "http");
    assert_eq!(port(9090).unwrap_or_default()["name"], "tcp-9090");
    let svc = &find(docs, "Service", "web")["spec"]["ports"];
    let sp = svc.as_array().and_then(|p| p.iter().find(|p| p["port"] == 8080)).cloned().unwrap_or_default();
    assert_eq!((&sp["name"], &sp["appProtocol"]), (&json!("http"), &json!("http")));
    assert_eq!((&c["startupProbe"]["periodSeconds"], &c["startupProbe"]["failureThreshold"]), (&json!(2), &json!(8)));
    let shared = pod["volumes"].as_array().and_then(|v| v.iter().find(|v| v["name"] == "shared")).cloned();
    assert_eq!(shared.unwrap_or_default()["persistentVolumeClaim"], json!({"claimName": "shared-data"}));
    assert!(!docs.iter().any(|d| d["kind"] == "PersistentVolumeClaim" && d["metadata"]["name"] == "web-shared"));
    let np = &find(docs, "NetworkPolicy", "network-inner-internal")["spec"];
    assert_eq!(np["policyTypes"], json!(["Egress"]));
    assert_eq!(
        np["podSelector"],
        json!({"matchLabels": {"app.kubernetes.io/instance": "vocab", "deploy.dev/network-inner": "true"},
               "matchExpressions": [{"key": "deploy.dev/network-back", "operator": "DoesNotExist"}]})
    );
    assert_eq!(np["egress"][0], json!({"to": [{"podSelector": {}}]}));
    assert_eq!(np["egress"][1]["ports"], json!([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]));
}

#[test]
fn every_field_maps_or_warns() {
    let dir = folder();
    let (docs, _, warnings) = render(dir.path());
    let web = find(&docs, "Deployment", "web");
    assert_web_pod(&web["spec"]["template"]);
    assert_web_mounts(&web["spec"]["template"]["spec"]);
    // env_file values (the secret-looking one from the Secret), and a name passed from the shell.
    let env = &web["spec"]["template"]["spec"]["containers"][0]["env"];
    let var = |n: &str| {
        env.as_array().and_then(|e| e.iter().find(|v| v["name"] == n)).unwrap_or_else(|| panic!("no {n}: {env}"))
    };
    assert_eq!(var("FROM_FILE")["value"], "file-value");
    assert_eq!(var("FROM_SHELL")["value"], "shell-value");
    assert_eq!(var("API_PASSWORD")["valueFrom"]["secretKeyRef"], json!({"name": "web-env", "key": "API_PASSWORD"}));
    // The ConfigMap holds the files; the secret file is never rendered: the Secret is left out, with the way to make it.
    let cm = find(&docs, "ConfigMap", "web-configs");
    assert_eq!(cm["data"], json!({"app_conf": "setting = 1\n", "banner": "welcome to the site"}));
    assert!(!docs.iter().any(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "web-secrets"));
    assert!(warnings.contains("kubectl create secret generic web-secrets -n vocab --from-file=api_key=./api_key.txt --from-literal=token=..."), "{warnings}");
    // The alias is a Service selecting web's pods; the one that is no Service name is a warning.
    let alias = find(&docs, "Service", "web-api");
    assert_eq!(
        alias["spec"]["selector"],
        json!({"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "vocab"})
    );
    assert_eq!(alias["metadata"]["labels"]["deploy.dev/service"], "web");
    // db: a StatefulSet (its hostname is its pod's name), the volume's subPath.
    let db = find(&docs, "StatefulSet", "db");
    assert_eq!(db["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["subPath"], "pg");
    assert!(db["spec"]["template"]["spec"].get("hostname").is_none());
    assert_eq!(find(&docs, "Deployment", "edge")["spec"]["template"]["spec"]["hostNetwork"], true);
    assert_ports_networks_volumes(&docs);
    assert!(!warnings.contains("`user: 1000:2000`"), "a numeric user maps: {warnings}");
    for w in [
        "label `app.kubernetes.io/name` is left out",
        "cap_add `NET_ADMIN` is beyond the Pod Security Standards' baseline profile",
        "sysctl `net.core.somaxconn` is not one of Kubernetes' safe sysctls",
        "tmpfs `/var/tmp`: options `mode=1777` have no Kubernetes equivalent",
        "ulimits `nofile` has no Kubernetes equivalent",
        "`stop_signal: SIGINT` has no Kubernetes equivalent",
        "devices `/dev/fuse:/dev/fuse` has no Kubernetes equivalent",
        "`logging` (driver json-file) has no Kubernetes equivalent",
        "`runtime: runsc` is not set on Kubernetes",
        "network alias `Not_A_Name` is left out",
        "secrets.token: uid/gid are not applied on Kubernetes",
        "service `db`: `hostname: db-host` is not used on Kubernetes for a StatefulSet",
        "service `edge`: `network_mode: host` is hostNetwork",
        "security_opt `label:disable`: has no Kubernetes equivalent",
        "security_opt `seccomp:./profile.json`: a seccomp profile file has no place in a pod spec",
        "port 9090 `mode: host` has no Kubernetes equivalent",
        "network `inner`: `ipam` has no Kubernetes equivalent",
        "volume `data`: `driver`/`driver_opts` have no Kubernetes equivalent",
    ] {
        assert!(warnings.contains(w), "warning `{w}` missing:\n{warnings}");
    }
    assert!(!warnings.contains("sysctl `net.ipv4.tcp_syncookies`"), "a safe sysctl: {warnings}");
}

#[test]
fn every_rendered_object_passes_kubernetes_validate_strict() {
    if !common::kubernetes_validate_available() {
        return;
    }
    let dir = folder();
    let (docs, yaml, _) = render(dir.path());
    let file = dir.path().join("k8s.yaml");
    std::fs::write(&file, &yaml).unwrap_or_else(|e| panic!("write: {e}"));
    for version in VERSIONS {
        let (ok, passed, out) = common::kubernetes_validate(&file, version);
        assert!(ok, "against {version}:\n{out}");
        assert_eq!(passed, docs.len(), "against {version}:\n{out}");
    }
}

#[test]
fn apply_stores_the_files_and_the_pod_template() {
    let Some(r) = Rig::new(Target::K8s, "vocab", TOPOLOGY) else { return };
    r.write_file("web.env", &format!("FROM_FILE=file-value\nAPI_PASSWORD={FILE_PASSWORD}\n"));
    r.write_file("api_key.txt", KEY);
    r.write_file("app.conf", "setting = 1\n");
    let vars = [("WEB_TOKEN", TOKEN), ("FROM_SHELL", "shell-value")];
    let o = r.run_with("apply", &["--timeout", "60s"], &vars);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(0), "{all}");
    for secret in [KEY, TOKEN, FILE_PASSWORD] {
        assert!(!all.contains(secret), "a secret value was printed:\n{all}");
    }
    let Some(d) = r.double() else { return };
    let ns = Some(r.project.as_str());
    let secret = d.get("Secret", ns, "web-secrets").unwrap_or_else(|| panic!("no Secret web-secrets"));
    // Secret data is base64, as k8s-openapi writes a ByteString.
    let b64 = |s: &str| serde_json::to_value(k8s_openapi::ByteString(s.as_bytes().to_vec())).unwrap_or_default();
    assert_eq!(secret["data"], json!({"api_key": b64(KEY), "token": b64(TOKEN)}));
    let cm = d.get("ConfigMap", ns, "web-configs").unwrap_or_else(|| panic!("no ConfigMap web-configs"));
    assert_eq!(cm["data"], json!({"app_conf": "setting = 1\n", "banner": "welcome to the site"}));
    let web = d.get("Deployment", ns, "web").unwrap_or_else(|| panic!("no Deployment web"));
    assert_web_pod(&web["spec"]["template"]);
    assert_web_mounts(&web["spec"]["template"]["spec"]);
    assert!(d.get("Service", ns, "web-api").is_some(), "the alias Service");
    // No object but a Secret holds a secret value.
    for kind in ["ConfigMap", "Service", "Pod", "Deployment", "StatefulSet", "Job", "NetworkPolicy"] {
        for o in d.list(kind, ns) {
            let text = o.to_string();
            for secret in [KEY, TOKEN, FILE_PASSWORD] {
                assert!(!text.contains(secret), "{kind} {} holds a secret", o["metadata"]["name"]);
            }
        }
    }
    // Diff agrees with what was applied; a changed file is a change (and rolls the pods).
    assert_eq!(r.run_with("diff", &[], &vars).status.code(), Some(0));
    r.write_file("app.conf", "setting = 2\n");
    let o = r.run_with("diff", &[], &vars);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("files-hash"), "{}", stdout(&o));
}

#[test]
fn apply_with_a_missing_file_names_it_and_changes_nothing() {
    let Some(r) = Rig::new(Target::K8s, "vocab-missing", TOPOLOGY) else { return };
    r.write_file("web.env", "FROM_FILE=1\n");
    r.write_file("app.conf", "setting = 1\n");
    let o = r.run_with("apply", &["--timeout", "30s"], &[("WEB_TOKEN", TOKEN)]);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{all}");
    assert!(all.contains("secret `api_key`: cannot read its file") && all.contains("api_key.txt"), "{all}");
    let Some(d) = r.double() else { return };
    assert!(d.get("Deployment", Some(r.project.as_str()), "web").is_none(), "nothing applied");
}
