//! The everyday Compose vocabulary on the real Docker Engine: a service using
//! user, working_dir, hostname, labels, stop_signal, stop_grace_period,
//! cap_add/cap_drop, read_only, sysctls, shm_size, tmpfs,
//! ulimits, init, extra_hosts, dns, devices, logging, runtime, security_opt,
//! tty, stdin_open, platform,
//! pull_policy, env_file, a variable passed from the shell, long-form mounts,
//! network aliases, file-based and copied secrets and configs and a disabled
//! healthcheck is applied; the container is then inspected (and exec'd into)
//! through the Docker API for each field; diff shows nothing, a change is
//! diffed by field and recreates. Every test uses its own project name and no
//! fixed host port. (`privileged: true` is checked in the create body only,
//! `engine::vocab::tests`: the engine of the test environment runs inside a
//! container that cannot grant every capability, so such a container cannot start.)

mod common;
#[path = "compose_common.rs"]
mod h;

use common::stdout;
use h::{Project, inspect, show};

const TOKEN: &str = "tok-from-shell-3f9a";

fn topology(project: &str) -> String {
    format!(
        r#"name: {project}
services:
  app:
    image: deploy-test/busybox:1
    command: [sh, -c, "trap 'exit 0' INT TERM; while :; do sleep 1; done"]
    user: "1000:1000"
    working_dir: /tmp
    hostname: vocab-host
    labels:
      com.example.team: web
    stop_signal: SIGINT
    stop_grace_period: 3s
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    read_only: true
    sysctls:
      net.core.somaxconn: 1024
    shm_size: 128m
    tmpfs:
      - /run/scratch:size=8m
    ulimits:
      nofile: {{soft: 1024, hard: 2048}}
    init: true
    extra_hosts:
      - "db.vocab.test:10.1.2.3"
    dns: [10.9.8.7]
    dns_search: [vocab.test]
    dns_opt: [ndots:2]
    devices:
      - /dev/null:/dev/vocab-null:rw
    logging:
      driver: json-file
      options:
        max-size: 1m
    runtime: runc
    security_opt: ["no-new-privileges:true"]
    tty: true
    stdin_open: true
    platform: linux/amd64
    pull_policy: never
    env_file: [app.env]
    environment:
      OVERRIDDEN: from-environment
      FROM_SHELL:
    networks:
      back:
        aliases: [vocab-api]
    secrets:
      - api_key
    configs:
      - source: app_conf
        target: /etc/vocab.conf
    volumes:
      - type: tmpfs
        target: /cache
        tmpfs:
          size: 4m
    healthcheck:
      disable: true
  files:
    image: deploy-test/busybox:1
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]
    networks: [back]
    secrets:
      - source: token
        uid: "1000"
        mode: 0400
    configs:
      - source: banner
        target: /etc/banner.txt
networks:
  back: {{}}
secrets:
  api_key:
    file: ./secrets/api_key.txt
  token:
    environment: VOCAB_TOKEN
configs:
  app_conf:
    file: ./vocab.conf
  banner:
    content: banner of {project}
"#
    )
}

fn project(name: &str) -> Project {
    let mut p = Project::from_yaml(&topology(name));
    let write = |rel: &str, text: &str| {
        let path = p.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap_or(&p.dir)).unwrap_or_else(|e| panic!("mkdir: {e}"));
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {rel}: {e}"));
    };
    write("app.env", "FROM_FILE=file-value\nOVERRIDDEN=from-file\n");
    write("secrets/api_key.txt", "api-key-content\n");
    write("vocab.conf", "setting=1\n");
    p.env = vec![("FROM_SHELL".into(), "shell-value".into()), ("VOCAB_TOKEN".into(), TOKEN.into())];
    p
}

/// `docker exec CONTAINER ARGS...`, asserting success: stdout trimmed.
fn exec(container: &str, args: &[&str]) -> String {
    let mut a = vec!["exec", container];
    a.extend_from_slice(args);
    let o = h::docker(&a);
    assert!(o.status.success(), "docker exec {container} {args:?}: {}", show(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

fn busybox_ready() -> bool {
    h::docker_ready() && {
        assert!(h::exists("image", "deploy-test/busybox:1"), "tests/support/redis-image/build.sh builds it");
        true
    }
}

/// The container's config, as `docker inspect` shows it.
fn assert_config(c: &str) {
    assert_eq!(inspect(c, "{{.Config.User}}"), "1000:1000");
    assert_eq!(inspect(c, "{{.Config.WorkingDir}}"), "/tmp");
    assert_eq!(inspect(c, "{{.Config.Hostname}}"), "vocab-host");
    assert_eq!(inspect(c, r#"{{index .Config.Labels "com.example.team"}}"#), "web");
    assert_eq!(inspect(c, "{{.Config.StopSignal}}"), "SIGINT");
    assert_eq!(inspect(c, "{{.Config.StopTimeout}}"), "3");
    assert_eq!(inspect(c, "{{json .Config.Healthcheck.Test}}"), r#"["NONE"]"#);
}

/// The container's host config, as `docker inspect` shows it.
fn assert_host_config(c: &str) {
    assert_eq!(inspect(c, "{{json .HostConfig.CapAdd}}"), r#"["NET_ADMIN"]"#);
    assert_eq!(inspect(c, "{{json .HostConfig.CapDrop}}"), r#"["MKNOD"]"#);
    assert_eq!(inspect(c, "{{.HostConfig.ReadonlyRootfs}}"), "true");
    assert_eq!(inspect(c, "{{.HostConfig.Privileged}}"), "false");
    assert_eq!(inspect(c, "{{json .HostConfig.Sysctls}}"), r#"{"net.core.somaxconn":"1024"}"#);
    assert_eq!(inspect(c, "{{.HostConfig.ShmSize}}"), "134217728");
    assert_eq!(inspect(c, "{{json .HostConfig.Tmpfs}}"), r#"{"/run/scratch":"size=8m"}"#);
    assert_eq!(inspect(c, "{{json .HostConfig.Ulimits}}"), r#"[{"Name":"nofile","Hard":2048,"Soft":1024}]"#);
    assert_eq!(inspect(c, "{{.HostConfig.Init}}"), "true");
    assert_eq!(inspect(c, "{{json .HostConfig.ExtraHosts}}"), r#"["db.vocab.test:10.1.2.3"]"#);
    assert_eq!(inspect(c, "{{json .HostConfig.Dns}}"), r#"["10.9.8.7"]"#);
    assert_eq!(inspect(c, "{{json .HostConfig.DnsSearch}}"), r#"["vocab.test"]"#);
    assert_eq!(inspect(c, "{{json .HostConfig.DnsOptions}}"), r#"["ndots:2"]"#);
    assert_eq!(
        inspect(c, "{{json .HostConfig.Devices}}"),
        r#"[{"PathOnHost":"/dev/null","PathInContainer":"/dev/vocab-null","CgroupPermissions":"rw"}]"#
    );
    assert_eq!(inspect(c, "{{json .HostConfig.LogConfig}}"), r#"{"Type":"json-file","Config":{"max-size":"1m"}}"#);
    assert_eq!(inspect(c, "{{.HostConfig.Runtime}}"), "runc");
    assert_eq!(inspect(c, "{{json .HostConfig.SecurityOpt}}"), r#"["no-new-privileges:true"]"#);
    assert_eq!(inspect(c, "{{.Config.Tty}} {{.Config.OpenStdin}}"), "true true");
    assert_eq!(inspect(c, "{{.Platform}}"), "linux");
}

/// Inside the running container, through exec.
fn assert_inside(c: &str, dir: &std::path::Path) {
    assert_eq!(exec(c, &["id", "-u"]), "1000");
    assert_eq!(exec(c, &["pwd"]), "/tmp");
    assert_eq!(exec(c, &["hostname"]), "vocab-host");
    let env = exec(c, &["env"]);
    for line in ["FROM_FILE=file-value", "OVERRIDDEN=from-environment", "FROM_SHELL=shell-value"] {
        assert!(env.lines().any(|l| l == line), "{line} not in the environment:\n{env}");
    }
    assert_eq!(exec(c, &["cat", "/run/secrets/api_key"]), "api-key-content");
    assert_eq!(exec(c, &["cat", "/etc/vocab.conf"]), "setting=1");
    // Mounted read-only, from the project's files.
    let mounts = inspect(c, "{{range .Mounts}}{{.Source}}>{{.Destination}}:{{.RW}} {{end}}");
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|e| panic!("canonicalize: {e}"));
    assert!(mounts.contains(&format!("{}/secrets/api_key.txt>/run/secrets/api_key:false", dir.display())), "{mounts}");
    assert!(exec(c, &["sh", "-c", "touch /tmp/x 2>&1 || echo read-only"]).contains("read-only"), "read_only rootfs");
    assert!(exec(c, &["grep", "db.vocab.test", "/etc/hosts"]).starts_with("10.1.2.3"));
    assert_eq!(exec(c, &["sh", "-c", "ulimit -n"]), "1024");
    assert!(exec(c, &["test", "-c", "/dev/vocab-null"]).is_empty(), "the device is there");
    assert!(exec(c, &["mount"]).contains("/cache type tmpfs"), "the long-form tmpfs volume");
}

#[test]
fn every_field_reaches_the_container() {
    if !busybox_ready() {
        return;
    }
    let p = project("deploy-t-vocab");
    let rep = p.apply_ok(&[]);
    assert!(!rep.to_string().contains(TOKEN), "a secret from the environment is never printed: {rep}");
    let c = "deploy-t-vocab-app-1";
    assert_config(c);
    assert_host_config(c);
    assert_inside(c, &p.dir);
    let aliases = inspect(c, r#"{{json (index .NetworkSettings.Networks "deploy-t-vocab_back").Aliases}}"#);
    assert!(aliases.contains(r#""app""#) && aliases.contains(r#""vocab-api""#), "{aliases}");
    // The other service reaches `app` by its alias on the shared network.
    let f = "deploy-t-vocab-files-1";
    assert!(exec(f, &["nslookup", "vocab-api"]).contains("Address"), "vocab-api resolves");
    // Copied in before the start: the secret from the environment with its owner and mode, the inline config.
    assert_eq!(exec(f, &["cat", "/run/secrets/token"]), TOKEN);
    assert_eq!(exec(f, &["stat", "-c", "%u %a", "/run/secrets/token"]), "1000 400");
    assert_eq!(exec(f, &["cat", "/etc/banner.txt"]), "banner of deploy-t-vocab");
    // What inspect shows is what was planned: nothing to diff, nothing to change.
    let d = p.run("diff", &[]);
    assert_eq!(d.status.code(), Some(0), "{}", show(&d));
    let again = p.run("apply", &[]);
    assert_eq!(again.status.code(), Some(0), "{}", show(&again));
    assert!(stdout(&again).contains("unchanged") && !stdout(&again).contains("recreated"), "{}", show(&again));
}

#[test]
fn a_changed_field_is_diffed_and_recreates() {
    if !busybox_ready() {
        return;
    }
    let p = project("deploy-t-vocab-change");
    p.apply_ok(&[]);
    let c = "deploy-t-vocab-change-app-1";
    let before = inspect(c, "{{.Id}}");
    let changed = topology("deploy-t-vocab-change")
        .replace("cap_add: [NET_ADMIN]", "cap_add: [NET_ADMIN, SYS_PTRACE]")
        .replace("stop_grace_period: 3s", "stop_grace_period: 5s")
        .replace("db.vocab.test:10.1.2.3", "db.vocab.test:10.1.2.4");
    p.rewrite(&changed);
    let d = p.run("diff", &["--output", "json"]);
    assert_eq!(d.status.code(), Some(2), "{}", show(&d));
    let text = stdout(&d);
    for field in [r#""cap_add""#, r#""stop_grace_period""#, r#""extra_hosts""#, "SYS_PTRACE", "10.1.2.4"] {
        assert!(text.contains(field), "{field} not in the diff: {text}");
    }
    let rep = p.apply_ok(&[]);
    assert_eq!(h::service(&rep, "app")["action"], "recreated", "{rep}");
    assert_ne!(inspect(c, "{{.Id}}"), before);
    assert_eq!(inspect(c, "{{json .HostConfig.CapAdd}}"), r#"["NET_ADMIN","SYS_PTRACE"]"#);
    assert_eq!(inspect(c, "{{.Config.StopTimeout}}"), "5");
}

#[test]
fn pull_policy_never_with_a_missing_image_says_so_before_anything_is_created() {
    if !busybox_ready() {
        return;
    }
    let yaml = r#"name: deploy-t-vocab-never
services:
  app:
    image: deploy-test/not-here:never
    pull_policy: never
"#;
    let p = Project::from_yaml(yaml);
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let all = show(&o);
    assert!(all.contains("`pull_policy: never` of `app` forbids pulling it"), "{all}");
    assert!(!h::exists("container", "deploy-t-vocab-never-app-1"));
}

/// Removes a network and a volume made outside the project, when dropped.
struct Outside(&'static str, &'static str);

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = h::docker(&["network", "rm", self.0]);
        let _ = h::docker(&["volume", "rm", "-f", self.1]);
    }
}

#[test]
fn networks_and_volumes_take_their_settings_and_externals_are_left_alone() {
    if !busybox_ready() {
        return;
    }
    let outside = Outside("deploy-t-vocab-outside-net", "deploy-t-vocab-outside-vol");
    let yaml = r#"name: deploy-t-vocab-objs
services:
  app:
    image: deploy-test/busybox:1
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]
    networks:
      back:
        ipv4_address: 172.29.5.10
      outside: {}
    volumes:
      - data:/data
      - shared:/shared
networks:
  back:
    internal: true
    labels: {com.example.tier: back}
    ipam:
      config:
        - subnet: 172.29.5.0/24
  outside:
    external: true
    name: deploy-t-vocab-outside-net
volumes:
  data:
    labels: {com.example.backup: daily}
  shared:
    external: true
    name: deploy-t-vocab-outside-vol
"#;
    let p = Project::from_yaml(yaml);
    // Missing externals: a clear error, nothing created.
    let o = p.run("apply", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(show(&o).contains("network `outside` is external"), "{}", show(&o));
    assert!(!h::exists("container", "deploy-t-vocab-objs-app-1"));
    for (kind, name) in [("network", outside.0), ("volume", outside.1)] {
        let o = h::docker(&[kind, "create", name]);
        assert!(o.status.success(), "{}", show(&o));
    }
    p.apply_ok(&[]);
    let n = "deploy-t-vocab-objs_back";
    assert_eq!(inspect(n, "{{.Internal}}"), "true");
    assert_eq!(inspect(n, r#"{{index .Labels "com.example.tier"}}"#), "back");
    assert_eq!(inspect(n, "{{(index .IPAM.Config 0).Subnet}}"), "172.29.5.0/24");
    assert_eq!(inspect("deploy-t-vocab-objs_data", r#"{{index .Labels "com.example.backup"}}"#), "daily");
    let c = "deploy-t-vocab-objs-app-1";
    assert_eq!(
        inspect(c, r#"{{(index .NetworkSettings.Networks "deploy-t-vocab-objs_back").IPAddress}}"#),
        "172.29.5.10"
    );
    assert!(inspect(c, "{{range .Mounts}}{{.Name}} {{end}}").contains(outside.1));
    assert_eq!(p.run("diff", &[]).status.code(), Some(0));
    // Destroy with --volumes removes the project's volume, not the external one, nor the external network.
    let o = p.run("destroy", &["--volumes"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!h::exists("volume", "deploy-t-vocab-objs_data"));
    assert!(h::exists("volume", outside.1) && h::exists("network", outside.0));
}
