//! The vocabulary in the create body, read back from what `docker inspect`
//! would return, and in the diff (no Docker Engine needed: the end-to-end
//! test is `tests/compose_vocabulary.rs`).

use std::collections::HashMap;

use bollard::models::{
    ContainerConfig, ContainerInspectResponse, EndpointSettings, ImageConfig, ImageInspect, NetworkSettings,
};
use deploy_topology::Env;

use super::super::{compare, plan};

const TOPOLOGY: &str = r#"
name: vocab
services:
  app:
    image: busybox:1.36
    command: sleep 1000
    user: "1000:1000"
    working_dir: /srv
    hostname: apphost
    labels:
      com.example.team: web
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    read_only: true
    privileged: false
    init: true
    sysctls:
      net.core.somaxconn: 1024
    shm_size: 128m
    tmpfs:
      - /run:size=64m,mode=1777
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 512
    extra_hosts:
      - "db.local:10.0.0.5"
    dns: [1.1.1.1]
    dns_search: [example.com]
    dns_opt: [ndots:2]
    devices:
      - /dev/null:/dev/mynull:r
    logging:
      driver: json-file
      options:
        max-size: 10m
        tag: ${LOG_TAG:-tagged}
    runtime: runc
    platform: linux/amd64
    pull_policy: never
    networks:
      back:
        aliases: [api, app.internal]
    secrets:
      - api_key
      - source: api_key
        target: /etc/app/key
        mode: 0400
    configs:
      - source: app_conf
        target: /etc/app.conf
    volumes:
      - type: tmpfs
        target: /cache
        tmpfs:
          size: 16m
    healthcheck:
      disable: true
  host:
    image: busybox:1.36
    network_mode: host
  inline:
    image: busybox:1.36
    configs:
      - source: banner
        uid: "1000"
        mode: 0440
networks:
  back: {}
secrets:
  api_key:
    file: ./secrets/api_key.txt
configs:
  app_conf:
    file: ./app.conf
  banner:
    content: hello ${LOG_TAG:-tagged}
"#;

fn planned(service: &str) -> plan::PlannedService {
    let t = deploy_topology::from_str("vocab.yaml", TOPOLOGY, None).unwrap_or_else(|e| panic!("topology: {e:?}"));
    plan::plan(&t, &Env::default(), &[service.to_string()]).expect("plan").remove(0)
}

#[test]
fn the_create_body_carries_every_field_as_compose_sets_it() {
    let p = planned("app");
    let body = p.create_body(None);
    assert_eq!(body.user.as_deref(), Some("1000:1000"));
    assert_eq!(body.working_dir.as_deref(), Some("/srv"));
    assert_eq!(body.hostname.as_deref(), Some("apphost"));
    assert_eq!(body.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(body.stop_timeout, Some(90));
    assert_eq!(body.labels.as_ref().and_then(|l| l.get("com.example.team")).map(String::as_str), Some("web"));
    assert_eq!(body.healthcheck.as_ref().and_then(|h| h.test.clone()), Some(vec!["NONE".to_string()]));
    let hc = body.host_config.clone().expect("host config");
    assert_eq!(hc.cap_add, Some(vec!["NET_ADMIN".to_string()]));
    assert_eq!(hc.cap_drop, Some(vec!["ALL".to_string()]));
    assert_eq!((hc.readonly_rootfs, hc.privileged, hc.init), (Some(true), None, Some(true)));
    assert_eq!(hc.sysctls, Some(HashMap::from([("net.core.somaxconn".to_string(), "1024".to_string())])));
    assert_eq!(hc.shm_size, Some(128 * 1024 * 1024));
    assert_eq!(hc.tmpfs, Some(HashMap::from([("/run".to_string(), "size=64m,mode=1777".to_string())])));
    let ulimits: Vec<_> = hc.ulimits.iter().flatten().map(|u| (u.name.clone(), u.soft, u.hard)).collect();
    assert_eq!(
        ulimits,
        [(Some("nofile".into()), Some(1024), Some(2048)), (Some("nproc".into()), Some(512), Some(512))]
    );
    assert_eq!(hc.extra_hosts, Some(vec!["db.local:10.0.0.5".to_string()]));
    assert_eq!(
        (hc.dns, hc.dns_search, hc.dns_options),
        (Some(vec!["1.1.1.1".into()]), Some(vec!["example.com".into()]), Some(vec!["ndots:2".into()]))
    );
    let dev = &hc.devices.clone().expect("devices")[0];
    assert_eq!(
        (dev.path_on_host.as_deref(), dev.path_in_container.as_deref(), dev.cgroup_permissions.as_deref()),
        (Some("/dev/null"), Some("/dev/mynull"), Some("r"))
    );
    let log = hc.log_config.clone().expect("log config");
    assert_eq!(log.typ.as_deref(), Some("json-file"));
    assert_eq!(
        log.config,
        Some(HashMap::from([("max-size".to_string(), "10m".to_string()), ("tag".to_string(), "tagged".to_string())]))
    );
    assert_eq!(hc.runtime.as_deref(), Some("runc"));
    assert_eq!(p.spec.vocab.platform.as_deref(), Some("linux/amd64"));
    assert_eq!(p.pull_policy, Some(deploy_topology::PullPolicy::Never));
}

#[test]
fn secrets_and_configs_are_read_only_binds_or_copied_files() {
    let p = planned("app");
    let dir = plan::project_dir(&deploy_topology::from_str("vocab.yaml", TOPOLOGY, None).expect("topology"));
    let binds: Vec<String> = p.spec.mounts.iter().filter(|m| m.starts_with("bind")).cloned().collect();
    assert_eq!(
        binds,
        [
            format!("bind {dir}/app.conf -> /etc/app.conf:ro"),
            format!("bind {dir}/secrets/api_key.txt -> /etc/app/key:ro"),
            format!("bind {dir}/secrets/api_key.txt -> /run/secrets/api_key:ro"),
        ]
    );
    assert!(p.spec.mounts.contains(&"tmpfs  -> /cache size=16777216".to_string()), "{:?}", p.spec.mounts);
    // The mode of a file-based secret cannot be applied (a bind mount keeps the file's): a warning, as Compose.
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].contains("secrets.api_key.mode is not applied"), "{:?}", p.warnings);
    let inline = planned("inline");
    let f = &inline.injected[0];
    assert_eq!(
        (f.target.as_str(), f.content.as_slice(), f.uid, f.gid, f.mode, f.chown),
        ("/banner", &b"hello tagged"[..], 1000, 0, 0o440, true)
    );
    assert_eq!(inline.spec.vocab.files.keys().collect::<Vec<_>>(), ["/banner"]);
}

#[test]
fn network_aliases_and_network_mode() {
    let p = planned("app");
    let e = p.endpoint_for("vocab_back");
    assert_eq!(e.aliases, Some(vec!["app".to_string(), "api".into(), "app.internal".into()]));
    let host = planned("host");
    let body = host.create_body(None);
    assert_eq!(body.host_config.and_then(|h| h.network_mode).as_deref(), Some("host"));
    assert!(body.networking_config.is_none(), "a network_mode joins no project network");
    assert!(host.spec.networks.is_empty());
}

/// What `docker inspect` returns for a container created from `p`'s body (Docker's own defaults added).
fn inspected(p: &plan::PlannedService) -> ContainerInspectResponse {
    let body = p.create_body(Some("sha256:abc"));
    let nets: HashMap<String, EndpointSettings> =
        [(p.first_network.clone(), p.endpoint_for(&p.first_network))].into_iter().collect();
    let mut hc = body.host_config.clone().unwrap_or_default();
    hc.log_config.get_or_insert_default();
    ContainerInspectResponse {
        name: Some(format!("/{}", p.spec.name)),
        image: Some("sha256:abc".into()),
        config: Some(ContainerConfig {
            image: body.image.clone(),
            cmd: body.cmd.clone(),
            env: body.env.clone(),
            labels: body.labels.clone(),
            healthcheck: body.healthcheck.clone(),
            user: body.user.clone(),
            working_dir: body.working_dir.clone(),
            hostname: body.hostname.clone(),
            stop_signal: body.stop_signal.clone(),
            stop_timeout: body.stop_timeout,
            ..Default::default()
        }),
        host_config: Some(hc),
        network_settings: Some(NetworkSettings { networks: Some(nets), ..Default::default() }),
        ..Default::default()
    }
}

#[test]
fn a_container_created_with_the_vocabulary_compares_equal_and_drift_shows() {
    let p = planned("app");
    let image =
        ImageInspect { id: Some("sha256:abc".into()), config: Some(ImageConfig::default()), ..Default::default() };
    let live = inspected(&p);
    assert_eq!(compare::compare(&p, &compare::live_spec(&live), Some(&image)), []);
    let mut drifted = live.clone();
    if let Some(c) = drifted.config.as_mut() {
        c.user = None;
        c.stop_timeout = None;
    }
    if let Some(h) = drifted.host_config.as_mut() {
        h.cap_add = Some(vec!["CAP_SYS_ADMIN".into()]);
        h.readonly_rootfs = Some(false);
        h.shm_size = Some(64 * 1024 * 1024);
        h.extra_hosts = None;
        h.log_config = Some(bollard::models::HostConfigLogConfig { typ: Some("local".into()), config: None });
    }
    let got: Vec<String> = compare::compare(&p, &compare::live_spec(&drifted), Some(&image))
        .iter()
        .map(|c| format!("{}: {:?} -> {:?}", c.path, c.live, c.planned))
        .collect();
    assert_eq!(
        got,
        [
            r#"user: None -> Some("1000:1000")"#,
            r#"cap_add: Some("SYS_ADMIN") -> Some("NET_ADMIN")"#,
            r#"read_only: None -> Some("true")"#,
            r#"stop_grace_period: None -> Some("90s")"#,
            r#"extra_hosts: None -> Some("db.local:10.0.0.5")"#,
            r#"shm_size: Some("64M") -> Some("128M")"#,
            r#"logging.driver: Some("local") -> Some("json-file")"#,
            r#"logging.options: None -> Some("max-size=10m, tag=tagged")"#,
        ]
    );
}

#[test]
fn the_vocabulary_changes_the_config_hash() {
    let base = planned("app");
    let t = TOPOLOGY.replace("stop_signal: SIGINT", "stop_signal: SIGQUIT");
    let t = deploy_topology::from_str("vocab.yaml", &t, None).expect("topology");
    let other = plan::plan(&t, &Env::default(), &["app".to_string()]).expect("plan").remove(0);
    assert_ne!(base.hash, other.hash);
}

#[test]
fn a_read_only_service_cannot_get_copied_files() {
    let t = TOPOLOGY
        .replace("  inline:\n    image: busybox:1.36\n", "  inline:\n    image: busybox:1.36\n    read_only: true\n");
    let t = deploy_topology::from_str("vocab.yaml", &t, None).expect("topology");
    let err = plan::plan(&t, &Env::default(), &["inline".to_string()]).expect_err("an error");
    assert!(err.to_string().contains("cannot be created in a `read_only` container"), "{err}");
}

#[test]
fn security_options_are_sent_as_compose_sends_them() {
    let dir = std::env::temp_dir().join(format!("deploy-vocab-seccomp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("profile.json"), "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n").expect("profile");
    let text = "name: sec\nservices:\n  app:\n    image: busybox:1.36\n    tty: true\n    stdin_open: true\n    security_opt:\n      - no-new-privileges:true\n      - seccomp:profile.json\n      - systempaths=unconfined\n";
    let source = std::sync::Arc::new(deploy_topology::SourceFile { path: dir.join("deploy.yaml"), text: text.into() });
    let t = deploy_topology::load_sources(&source, None, None, dir.clone()).unwrap_or_else(|e| panic!("{e:?}"));
    let p = plan::plan(&t, &Env::default(), &["app".to_string()]).expect("plan").remove(0);
    let body = p.create_body(None);
    assert_eq!((body.tty, body.open_stdin), (Some(true), Some(true)));
    let hc = body.host_config.expect("host config");
    let opts = hc.security_opt.expect("security_opt");
    assert_eq!(opts, ["no-new-privileges:true", r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#]);
    assert_eq!((hc.masked_paths, hc.readonly_paths), (Some(Vec::new()), Some(Vec::new())));
    std::fs::remove_file(dir.join("profile.json")).expect("rm");
    let err = plan::plan(&t, &Env::default(), &["app".to_string()]).expect_err("no profile");
    assert!(err.to_string().contains("cannot read the seccomp profile"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
