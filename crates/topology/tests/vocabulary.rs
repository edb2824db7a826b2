//! The everyday Compose vocabulary in the topology: every field in each of
//! Compose's forms (short and long) read into the model, overlaid by a
//! profile, and every mistake reported at its file:line:col with the field
//! and what would be valid.

use deploy_topology::units::{ByteSize, Dur};
use deploy_topology::*;

fn load(text: &str) -> Topology {
    from_str("t.yaml", text, None).unwrap_or_else(|e| panic!("{}", e.render()))
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match from_str("t.yaml", text, None) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0,
    }
}

/// The one error `text` gives, checked for its place, field and a word of its help.
fn error_at(text: &str, line: u32, col: u32, field: &str, message: &str, help: &str) {
    let e = errors(text);
    assert_eq!(e.len(), 1, "{e:?}");
    let d = &e[0];
    let loc = d.loc.as_ref().unwrap_or_else(|| panic!("no location: {d}"));
    assert_eq!((loc.line, loc.col), (line, col), "{d}");
    assert_eq!(d.field.as_deref(), Some(field), "{d}");
    assert!(d.message.contains(message), "{d}");
    assert!(d.help.as_deref().unwrap_or("").contains(help), "{d}");
}

fn raws(values: &indexmap::IndexMap<String, Value>) -> Vec<(&str, &str)> {
    values.iter().map(|(k, v)| (k.as_str(), v.raw.as_str())).collect()
}

const CONTAINER: &str = r#"
version: "3.8"
services:
  app:
    image: busybox
    user: "1000:1000"
    working_dir: /srv
    hostname: app-1
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    read_only: true
    privileged: true
    init: false
    sysctls:
      - net.core.somaxconn=1024
    shm_size: 64m
    tmpfs: /run
    ulimits:
      nproc: 65535
      nofile: {soft: 20000, hard: 40000}
    stop_signal: SIGINT
    stop_grace_period: 1m30s
    labels:
      - com.example.tier=back
      - flag
    extra_hosts:
      - "db.local:10.0.0.5"
      - "gw=host-gateway"
    dns: 8.8.8.8
    dns_search: [example.com]
    dns_opt: ["ndots:2"]
    platform: linux/amd64
    pull_policy: if_not_present
    logging:
      driver: json-file
      options: {max-size: 10m, max-file: 3}
    devices: ["/dev/fuse", "/dev/null:/dev/xnull:rw"]
    runtime: runc
    security_opt: ["no-new-privileges:true", "apparmor:unconfined"]
    tty: true
    stdin_open: true
"#;

#[test]
fn container_fields_in_compose_forms() {
    let t = load(CONTAINER);
    let s = &t.services["app"];
    assert_eq!(s.user.as_ref().map(|v| v.raw.as_str()), Some("1000:1000"));
    assert_eq!(s.working_dir.as_ref().map(|v| v.raw.as_str()), Some("/srv"));
    assert_eq!(s.hostname.as_ref().map(|v| v.raw.as_str()), Some("app-1"));
    assert_eq!((s.cap_add.clone(), s.cap_drop.clone()), (vec!["NET_ADMIN".to_string()], vec!["ALL".to_string()]));
    assert!(s.read_only && s.privileged);
    assert_eq!(s.init, Some(false));
    assert_eq!(raws(&s.sysctls), [("net.core.somaxconn", "1024")]);
    assert_eq!(s.shm_size, Some(ByteSize(64 << 20)));
    assert_eq!(s.tmpfs.iter().map(Tmpfs::short).collect::<Vec<_>>(), ["/run"]);
    assert_eq!(s.ulimits["nproc"], Ulimit::Single(65535));
    assert_eq!(s.ulimits["nofile"], Ulimit::Range { soft: 20000, hard: 40000 });
    assert_eq!(s.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(s.stop_grace_period, Some("1m30s".parse::<Dur>().unwrap_or_else(|e| panic!("{e}"))));
    assert_eq!(raws(&s.labels), [("com.example.tier", "back"), ("flag", "")]);
    let hosts: Vec<(&str, &str)> = s.extra_hosts.iter().map(|h| (h.host.as_str(), h.ip.as_str())).collect();
    assert_eq!(hosts, [("db.local", "10.0.0.5"), ("gw", "host-gateway")]);
    assert_eq!(
        (s.dns.clone(), s.dns_search.clone(), s.dns_opt.clone()),
        (vec!["8.8.8.8".to_string()], vec!["example.com".to_string()], vec!["ndots:2".to_string()])
    );
    assert_eq!(s.platform.as_ref().map(|v| v.raw.as_str()), Some("linux/amd64"));
    assert_eq!(s.pull_policy, Some(PullPolicy::Missing));
    let logging = s.logging.as_ref().unwrap_or_else(|| panic!("logging"));
    assert_eq!(logging.driver.as_deref(), Some("json-file"));
    assert_eq!(raws(&logging.options), [("max-size", "10m"), ("max-file", "3")]);
    assert_eq!(
        s.devices.iter().map(Device::short).collect::<Vec<_>>(),
        ["/dev/fuse:/dev/fuse", "/dev/null:/dev/xnull:rw"]
    );
    assert_eq!(s.runtime.as_deref(), Some("runc"));
    assert_eq!(s.security_opt, ["no-new-privileges:true", "apparmor:unconfined"]);
    assert!(s.tty && s.stdin_open);
    assert!(s.network_mode.is_none());
}

#[test]
fn the_other_spellings() {
    let t = load(
        "services:\n  app:\n    image: x\n    sysctls: {net.ipv4.ip_forward: 1}\n    tmpfs: [/run, \"/tmp:size=1g,mode=1777\"]\n    labels: {a: b, n: 1}\n    extra_hosts: {one: 1.2.3.4, two: [\"::1\", 5.6.7.8]}\n    dns: [1.1.1.1, 8.8.4.4]\n    pull_policy: every_12h\n    devices: [{source: /dev/kvm, permissions: rw}]\n",
    );
    let s = &t.services["app"];
    assert_eq!(raws(&s.sysctls), [("net.ipv4.ip_forward", "1")]);
    assert_eq!(s.tmpfs[1].size, Some(ByteSize(1 << 30)));
    assert_eq!(raws(&s.labels), [("a", "b"), ("n", "1")]);
    let hosts: Vec<String> = s.extra_hosts.iter().map(|h| format!("{}={}", h.host, h.ip)).collect();
    assert_eq!(hosts, ["one=1.2.3.4", "two=::1", "two=5.6.7.8"]);
    assert_eq!(s.dns, ["1.1.1.1", "8.8.4.4"]);
    assert_eq!(s.pull_policy.map(|p| p.to_string()).as_deref(), Some("every_12h"));
    assert_eq!(s.devices[0].short(), "/dev/kvm:/dev/kvm:rw");
}

#[test]
fn container_field_errors_are_located() {
    let svc = "services:\n  app:\n    image: x\n";
    let cases: &[(&str, u32, u32, &str, &str, &str)] = &[
        ("    working_dir: srv\n", 4, 18, "working_dir", "not an absolute path", "absolute path"),
        ("    hostname: \"bad host\"\n", 4, 15, "hostname", "not a host name", "DNS name"),
        ("    cap_add: [\"NET ADMIN\"]\n", 4, 15, "cap_add", "not a capability", "NET_ADMIN"),
        ("    sysctls: [net.core.somaxconn]\n", 4, 15, "sysctls.net.core.somaxconn", "has no value", "NAME=value"),
        ("    tmpfs: run\n", 4, 12, "tmpfs", "absolute path", "/path"),
        ("    ulimits: {nofiles: 3}\n", 4, 15, "ulimits.nofiles", "unknown ulimit", "nofile"),
        ("    ulimits: {nofile: {soft: 9, hard: 3}}\n", 4, 23, "ulimits.nofile", "exceeds the hard", "soft"),
        ("    stop_signal: \"kill me\"\n", 4, 18, "stop_signal", "not a signal", "SIGTERM"),
        (
            "    labels: {com.docker.compose.project: x}\n",
            4,
            14,
            "labels.com.docker.compose.project",
            "reserved",
            "prefix",
        ),
        ("    extra_hosts: [\"db:not-an-ip\"]\n", 4, 19, "extra_hosts", "not a host entry", "host-gateway"),
        ("    platform: amd64\n", 4, 15, "platform", "not a platform", "linux/amd64"),
        ("    pull_policy: sometimes\n", 4, 18, "pull_policy", "unknown pull policy", "if_not_present"),
        ("    devices: [\"dev/x\"]\n", 4, 15, "devices", "not a device", "/dev/HOST"),
        ("    network_mode: service:nope\n", 4, 19, "network_mode", "no service named `nope`", "service:NAME"),
        ("    network_mode: host\n    networks: [default]\n", 4, 19, "network_mode", "cannot both", "no `networks`"),
        ("    network_mode: wifi\n", 4, 19, "network_mode", "unknown network_mode", "bridge, host"),
        ("    security_opt: [apparmor]\n", 4, 20, "security_opt", "not a security option", "seccomp:PROFILE"),
        ("    dns: \"${DNS}\"\n", 4, 10, "dns", "variables are not read in `dns`", "value itself"),
        ("    runtime: \"${RT:-runc}\"\n", 4, 14, "runtime", "variables are not read in `runtime`", "value itself"),
    ];
    for (extra, line, col, field, message, help) in cases {
        let text = format!("{svc}{extra}networks:\n  default: {{}}\n");
        error_at(&text, *line, *col, &format!("services.app.{field}"), message, help);
    }
    // a type error names the field and the line
    let e = errors("services:\n  app:\n    image: x\n    read_only: maybe\n");
    assert_eq!(e[0].loc.as_ref().map(|l| l.line), Some(4), "{e:?}");
    assert_eq!(e[0].field.as_deref(), Some("services.app.read_only"), "{e:?}");
}

#[test]
fn network_mode_replaces_networks() {
    let t = load("services:\n  app:\n    image: x\n    network_mode: service:vpn\n  vpn:\n    image: x\n");
    assert!(t.services["app"].networks.is_empty());
    assert_eq!(t.services["app"].network_mode.as_deref(), Some("service:vpn"));
    // as in Compose, the service starts after the one whose network it shares
    assert_eq!(t.services["app"].depends_on.get("vpn"), Some(&Condition::ServiceStarted));
    assert_eq!(t.services["app"].implicit_depends_on, ["vpn"]);
    assert_eq!(t.order(), ["vpn", "app"]);
    assert_eq!(t.services["vpn"].networks, ["default"]);
    let t = load("services:\n  app:\n    image: x\n    network_mode: host\n");
    assert!(t.networks.is_empty(), "no default network when nothing joins it: {:?}", t.networks);
}

#[test]
fn environment_without_a_value_comes_from_the_shell() {
    let t = load(
        "services:\n  a:\n    image: x\n    environment: [FOO, BAR=, BAZ=1]\n  b:\n    image: x\n    environment:\n      FOO:\n      BAR: \"\"\n      BAZ: 1\n",
    );
    for s in ["a", "b"] {
        let s = &t.services[s];
        assert_eq!(s.environment_from_shell, ["FOO"], "{}", s.name);
        assert!(!s.environment.contains_key("FOO"));
        assert_eq!(s.environment["BAR"].raw, "");
    }
    let t = load("services:\n  b:\n    image: x\n    environment:\n      BAR: null\n");
    assert_eq!(t.services["b"].environment_from_shell, ["BAR"]);
}

#[test]
fn healthcheck_test_in_every_compose_form() {
    let t = load(
        "services:\n  exec:\n    image: x\n    healthcheck: {test: [CMD, pg_isready, -U, pg]}\n  shell:\n    image: x\n    healthcheck: {test: [CMD-SHELL, \"curl -f localhost || exit 1\"], start_interval: 2s}\n  string:\n    image: x\n    healthcheck: {test: curl -f localhost}\n  none:\n    image: x\n    healthcheck: {test: [NONE]}\n  off:\n    image: x\n    healthcheck: {disable: true}\n",
    );
    let test = |s: &str| t.services[s].healthcheck.as_ref().map(|h| h.test.clone());
    assert!(
        matches!(test("exec"), Some(ProbeTest::Exec(a)) if a.iter().map(|v| v.raw.as_str()).eq(["pg_isready", "-U", "pg"]))
    );
    assert!(matches!(test("shell"), Some(ProbeTest::Shell(v)) if v.raw == "curl -f localhost || exit 1"));
    assert!(matches!(test("string"), Some(ProbeTest::Shell(v)) if v.raw == "curl -f localhost"));
    assert_eq!(
        t.services["shell"].healthcheck.as_ref().and_then(|h| h.start_interval).map(|d| d.to_string()).as_deref(),
        Some("2s")
    );
    assert!(test("none").is_none() && test("off").is_none());
    assert_eq!(t.services["none"].healthcheck_disabled, Some(HealthcheckOff::TestNone));
    assert_eq!(t.services["off"].healthcheck_disabled, Some(HealthcheckOff::Disable));
    assert_eq!(t.services["exec"].healthcheck_disabled, None);
}

#[test]
fn healthcheck_errors() {
    let base = "services:\n  a:\n    image: x\n    healthcheck:\n";
    let cases: &[(&str, u32, u32, &str, &str, &str)] = &[
        ("      test: [CMD]\n", 5, 13, "healthcheck.test", "not a healthcheck test", "[CMD, prog"),
        ("      test: [RUN, x]\n", 5, 13, "healthcheck.test", "not a healthcheck test", "CMD-SHELL"),
        ("      test: [CMD-SHELL, a, b]\n", 5, 13, "healthcheck.test", "not a healthcheck test", "CMD-SHELL"),
        ("      test: [CMD, x]\n      shell: y\n", 5, 13, "healthcheck.test", "another form", "keep one"),
        (
            "      disable: true\n      interval: 5s\n",
            6,
            17,
            "healthcheck",
            "turned off but has timings",
            "drop the timings",
        ),
    ];
    for (extra, line, col, field, message, help) in cases {
        error_at(&format!("{base}{extra}"), *line, *col, &format!("services.a.{field}"), message, help);
    }
    // waiting for a service whose healthcheck is off is waiting forever
    let e = errors(
        "services:\n  a:\n    image: x\n    healthcheck: {disable: true}\n  b:\n    image: x\n    depends_on: {a: {condition: service_healthy}}\n",
    );
    assert!(e[0].message.contains("has no healthcheck"), "{e:?}");
}

#[test]
fn deploy_resources_and_replicas_are_aliases() {
    let compose = "services:\n  a:\n    image: x\n    deploy:\n      replicas: 3\n      resources:\n        limits: {cpus: '0.5', memory: 256M}\n";
    let t = load(compose);
    let s = &t.services["a"];
    assert_eq!(s.replicas, 3);
    assert_eq!(s.resources.limits.memory, Some(ByteSize(256 << 20)));
    // a profile in the topology's spelling overrides a base in Compose's, and the reverse
    let own = ("p.yaml", "services:\n  a:\n    replicas: 2\n    resources: {limits: {memory: 1G}}\n");
    let t = from_str("t.yaml", compose, Some(own)).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!((t.services["a"].replicas, t.services["a"].resources.limits.memory), (2, Some(ByteSize(1 << 30))));
    assert_eq!(t.services["a"].resources.limits.cpus.map(|c| c.to_string()).as_deref(), Some("0.5"));
    error_at(
        "services:\n  a:\n    image: x\n    replicas: 2\n    deploy: {replicas: 3}\n",
        5,
        24,
        "services.a.deploy.replicas",
        "both `replicas` and `deploy.replicas`",
        "keep one",
    );
    error_at(
        "services:\n  a:\n    image: x\n    deploy:\n      restart_policy: {condition: any}\n",
        5,
        7,
        "services.a.deploy.restart_policy",
        "unknown field `restart_policy`",
        "",
    );
}

#[test]
fn ports_long_form_ranges_and_variables() {
    let t = load(
        "services:\n  a:\n    image: x\n    ports:\n      - \"${WEB_PORT:-8080}:80\"\n      - \"${BIND:-127.0.0.1}:${API:-9000}:9000/udp\"\n      - \"7000-7001:7000-7001\"\n      - target: 443\n        published: \"${TLS_PORT}\"\n        mode: host\n        name: tls\n        app_protocol: https\n      - \"[::1]:5432:5432\"\n",
    );
    let ports = &t.services["a"].ports;
    let host = |i: usize| (ports[i].host_ip.as_deref(), ports[i].host, ports[i].container);
    assert_eq!(host(0), (None, Some(8080), 80));
    assert_eq!(host(1), (Some("127.0.0.1"), Some(9000), 9000));
    assert_eq!((host(2), host(3)), ((None, Some(7000), 7000), (None, Some(7001), 7001)));
    assert_eq!(host(4), (None, None, 443));
    assert_eq!((ports[4].mode.as_deref(), ports[4].name.as_deref()), (Some("host"), Some("tls")));
    assert_eq!(host(5), (Some("::1"), Some(5432), 5432));
    assert_eq!(ports[0].short(), "${WEB_PORT:-8080}:80");
    let env = Env::from_pairs([("WEB_PORT", "18080"), ("TLS_PORT", "8443"), ("BIND", "0.0.0.0")]);
    let resolved = |i: usize| ports[i].resolve(&env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved(0).short(), "18080:80");
    assert_eq!(resolved(1).short(), "0.0.0.0:9000:9000/udp");
    assert_eq!((resolved(4).host, resolved(4).name.as_deref()), (Some(8443), Some("tls")));
    let bad = Env::from_pairs([("WEB_PORT", "eighty")]);
    let e = ports[0].resolve(&bad).expect_err("not a port");
    assert!(e.message.contains("`eighty` in port") && e.loc.as_ref().is_some_and(|l| l.line == 5), "{e}");
    // a template is checked where it is written, and its variables are checked before apply
    error_at(
        "services:\n  a:\n    image: x\n    ports: [\"${P:-http}:80\"]\n",
        4,
        13,
        "services.a.ports",
        "`http`",
        "HOST:CONTAINER",
    );
    let t = load("services:\n  a:\n    image: x\n    ports: [\"${P:?set P}:80\"]\n");
    assert!(t.check_resolvable(&Env::default(), &[]).is_err());
}

#[test]
fn mounts_long_form_anonymous_tmpfs_and_variables() {
    let t = load(
        "services:\n  a:\n    image: x\n    volumes:\n      - /anon\n      - type: tmpfs\n        target: /cache\n        tmpfs: {size: 64m, mode: 1777}\n      - type: bind\n        source: ./conf\n        target: /etc/app\n        read_only: true\n        bind: {create_host_path: true, selinux: z}\n      - type: volume\n        source: data\n        target: /data\n        volume: {nocopy: true, subpath: sub}\n      - type: volume\n        target: /scratch\n      - ${DATA_DIR:-./data}:/srv:ro\nvolumes:\n  data: {}\n",
    );
    let m = &t.services["a"].mounts;
    assert_eq!((m[0].source.clone(), m[0].long_form), (MountSource::Anonymous, false));
    assert_eq!(m[1].source, MountSource::Tmpfs);
    assert_eq!(m[1].tmpfs, Some(TmpfsOptions { size: Some(ByteSize(64 << 20)), mode: Some(1777) }));
    assert_eq!(m[2].source, MountSource::Bind("./conf".into()));
    assert!(m[2].read_only && m[2].long_form && m[2].bind.as_ref().is_some_and(|b| b.create_host_path));
    assert_eq!(m[3].volume, Some(VolumeOptions { nocopy: true, subpath: Some("sub".into()) }));
    assert_eq!(m[4].source, MountSource::Anonymous);
    assert_eq!(m[5].source, MountSource::Bind("./data".into()));
    assert_eq!(m[5].short(), "${DATA_DIR:-./data}:/srv:ro");
    let resolved = m[5].resolve(&Env::from_pairs([("DATA_DIR", "/var/lib/app")])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resolved.short(), "/var/lib/app:/srv:ro");
    assert!(t.services["a"].named_volumes().map(|(k, _)| k).eq(["data"]));
    let cases: &[(&str, &str)] = &[
        ("{type: bind, target: /x}", "needs a `source`"),
        ("{type: tmpfs, source: x, target: /x}", "has no `source`"),
        ("{type: nfs, source: x, target: /x}", "unknown mount type `nfs`"),
        ("{type: volume, source: data, target: /x, bind: {selinux: z}}", "`bind` options on a volume mount"),
    ];
    for (mount, message) in cases {
        let text = format!("services:\n  a:\n    image: x\n    volumes: [{mount}]\nvolumes:\n  data: {{}}\n");
        error_at(&text, 4, 15, "services.a.volumes", message, "type");
    }
}

#[test]
fn service_networks_in_map_form() {
    let t = load(
        "services:\n  a:\n    image: x\n    networks:\n      front:\n      back:\n        aliases: [db, primary]\n        ipv4_address: 172.20.0.2\n        priority: 10\nnetworks:\n  front:\n  back:\n    ipam:\n      config:\n        - subnet: 172.20.0.0/24\n",
    );
    let s = &t.services["a"];
    assert_eq!(s.networks, ["front", "back"]);
    assert!(s.network_settings["front"].is_empty());
    assert_eq!(s.network_settings["back"].aliases, ["db", "primary"]);
    assert_eq!(s.network_settings["back"].ipv4_address.as_deref(), Some("172.20.0.2"));
    assert_eq!(s.network_settings["back"].priority, Some(10));
    let ipam = t.networks["back"].ipam.as_ref().unwrap_or_else(|| panic!("ipam"));
    assert_eq!(ipam.config[0].subnet.as_deref(), Some("172.20.0.0/24"));
    error_at(
        "services:\n  a:\n    image: x\n    networks:\n      front: {ipv4_address: 300.1.1.1}\nnetworks:\n  front: {}\n",
        5,
        29,
        "services.a.networks.front",
        "not an IP address",
        "subnet",
    );
}

#[test]
fn top_level_networks_and_volumes() {
    let t = load(
        "name: t\nservices:\n  a:\n    image: x\n    networks: [ext, int]\n    volumes: [old:/old, local:/local]\nnetworks:\n  ext:\n    external: true\n  int:\n    internal: true\n    attachable: true\n    driver_opts: {com.docker.network.bridge.name: br9}\n    labels: [team=core]\nvolumes:\n  old:\n    external: true\n    name: legacy\n  local:\n    driver: local\n    driver_opts: {type: tmpfs, device: tmpfs}\n    labels: {keep: \"yes\"}\n",
    );
    let (ext, int) = (&t.networks["ext"], &t.networks["int"]);
    assert!(ext.external && ext.name == "ext" && !ext.explicit_name && !ext.explicit_driver);
    assert!(int.internal && int.attachable && int.name == "t_int");
    assert_eq!(int.driver_opts["com.docker.network.bridge.name"], "br9");
    assert_eq!(int.labels["team"], "core");
    let (old, local) = (&t.volumes["old"], &t.volumes["local"]);
    assert!(old.external && old.name == "legacy" && old.explicit_name);
    assert_eq!((local.driver.as_deref(), local.driver_opts["type"].as_str()), (Some("local"), "tmpfs"));
    assert_eq!(local.labels["keep"], "yes");
}

#[test]
fn secrets_and_configs() {
    let t = load(
        "services:\n  a:\n    image: x\n    secrets:\n      - db-password\n      - source: api_key\n        target: api\n        uid: \"103\"\n        mode: 0440\n    configs:\n      - app_conf\n      - source: inline\n        target: /etc/inline.conf\nsecrets:\n  db-password:\n    file: db/password.txt\n  api_key:\n    environment: API_KEY\nconfigs:\n  app_conf:\n    file: ./app.conf\n    name: shared-conf\n  inline:\n    content: |\n      port=${PORT:-80}\n",
    );
    let s = &t.services["a"];
    assert_eq!(s.secrets[0].secret_path(), "/run/secrets/db-password");
    assert!(s.secrets[0].is_short());
    assert_eq!(s.secrets[1].secret_path(), "/run/secrets/api");
    assert_eq!((s.secrets[1].uid.as_deref(), s.secrets[1].mode), (Some("103"), Some(0o440)));
    assert_eq!(s.configs[0].config_path(), "/app_conf");
    assert_eq!(s.configs[1].config_path(), "/etc/inline.conf");
    assert!(matches!(&t.secrets["db-password"].source, FileSource::File(f) if f == "db/password.txt"));
    assert!(matches!(&t.secrets["api_key"].source, FileSource::Environment(v) if v == "API_KEY"));
    assert_eq!(t.configs["app_conf"].name.as_deref(), Some("shared-conf"));
    assert!(matches!(&t.configs["inline"].source, FileSource::Content(v) if v.raw == "port=${PORT:-80}\n"));
    let cases: &[(&str, u32, u32, &str, &str, &str)] = &[
        ("    secrets: [nope]\n", 4, 15, "services.a.secrets", "not declared under `secrets`", "file: ./path"),
        ("secrets:\n  s: {external: true}\n", 5, 17, "secrets.s", "external secrets are not supported", "swarm"),
        ("secrets:\n  s: {content: x}\n", 5, 16, "secrets.s", "cannot be inline", "environment"),
        ("configs:\n  c: {}\n", 5, 3, "configs.c", "nowhere its content", "content"),
        ("configs:\n  c: {file: a, environment: B}\n", 5, 3, "configs.c", "more than one source", "keep one"),
        ("configs:\n  c: {file: \"${DIR}/c\"}\n", 5, 13, "configs.c", "variables are not read", "path"),
    ];
    for (extra, line, col, field, message, help) in cases {
        error_at(&format!("services:\n  a:\n    image: x\n{extra}"), *line, *col, field, message, help);
    }
}

#[test]
fn env_files_are_read_like_dot_env_and_stay_secret() {
    let dir = std::env::temp_dir().join(format!("deploy-vocabulary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let d = dir.as_path();
    std::fs::write(d.join("app.env"), "# settings\nMODE=prod\nDB_PASSWORD='s3cr3t'\nPRICE='5$'\n")
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        d.join("deploy.yaml"),
        "services:\n  a:\n    image: x\n    env_file:\n      - app.env\n      - path: ./optional.env\n        required: false\n    environment:\n      MODE: dev\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let t = deploy_topology::load(&d.join("deploy.yaml"), None).unwrap_or_else(|e| panic!("{}", e.render()));
    let s = &t.services["a"];
    assert_eq!(s.env_files.len(), 2);
    assert_eq!((s.env_files[0].path.as_str(), s.env_files[0].required), ("app.env", true));
    assert!(s.env_files[1].values.is_empty() && !s.env_files[1].required);
    let env = s.environment_with_files();
    let get = |k: &str| env[k].resolve(&Env::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((get("MODE"), get("DB_PASSWORD"), get("PRICE")), ("dev".into(), "s3cr3t".into(), "5$".into()));
    assert!(env["DB_PASSWORD"].secret && !env["PRICE"].secret, "secret by name, as environment values");
    assert!(s.values().iter().any(|v| v.secret && v.raw == "s3cr3t"), "masked with the service's other secrets");
    // a missing required file is an error at the env_file entry
    std::fs::write(d.join("deploy.yaml"), "services:\n  a:\n    image: x\n    env_file: missing.env\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let e = deploy_topology::load(&d.join("deploy.yaml"), None).expect_err("missing env file");
    let d0 = &e.0[0];
    assert!(d0.message.contains("env file `missing.env` does not exist"), "{d0}");
    assert_eq!(
        (d0.loc.as_ref().map(|l| (l.line, l.col)), d0.field.as_deref()),
        (Some((4, 15)), Some("services.a.env_file"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_profile_overlays_the_vocabulary() {
    let base = "services:\n  a:\n    image: x\n    user: app\n    labels: {a: '1', b: '2'}\n    sysctls: {x.y: '1'}\n    ulimits: {nofile: 10}\n    cap_add: [NET_ADMIN]\n    logging: {driver: json-file, options: {max-size: 1m}}\n    healthcheck: {test: [CMD, true]}\n";
    let profile = "services:\n  a:\n    user: root\n    labels: [b=3, c=4]\n    ulimits: {nproc: 5}\n    cap_add: [SYS_PTRACE]\n    logging: {driver: local}\n    healthcheck: {disable: true}\n";
    let t = from_str("t.yaml", base, Some(("p.yaml", profile))).unwrap_or_else(|e| panic!("{}", e.render()));
    let s = &t.services["a"];
    assert_eq!(s.user.as_ref().map(|u| u.raw.as_str()), Some("root"));
    assert_eq!(raws(&s.labels), [("a", "1"), ("b", "3"), ("c", "4")], "labels merge by name");
    assert_eq!(s.ulimits.keys().collect::<Vec<_>>(), ["nofile", "nproc"], "ulimits merge by name");
    assert_eq!(s.cap_add, ["SYS_PTRACE"], "lists are replaced");
    let logging = s.logging.as_ref().unwrap_or_else(|| panic!("logging"));
    assert_eq!((logging.driver.as_deref(), logging.options.len()), (Some("local"), 1), "nested fields merge");
    assert!(s.healthcheck.is_none() && s.healthcheck_disabled == Some(HealthcheckOff::Disable));
}

#[test]
fn values_use_variables_and_are_checked_before_apply() {
    let t = load(
        "services:\n  a:\n    image: x\n    user: \"${UID:-1000}\"\n    labels: {token: \"${API_TOKEN}\"}\n    hostname: \"${HOST:?set HOST}\"\n",
    );
    let s = &t.services["a"];
    assert!(s.labels["token"].secret, "a label using a secret-looking variable is secret");
    let other = load(
        "services:\n  a:\n    image: x\n    logging: {options: {token: \"${LOG_TOKEN}\"}}\n    ports: [\"${ADMIN_SECRET:-1}:80\"]\nconfigs:\n  c: {content: \"key=${APP_KEY}\"}\n",
    );
    let o = &other.services["a"];
    assert!(o.logging.as_ref().is_some_and(|l| l.options["token"].secret), "log options too");
    assert!(matches!(&o.ports[0].template, Some(PortTemplate::Short(v)) if v.secret), "and port templates");
    assert!(matches!(&other.configs["c"].source, FileSource::Content(v) if v.secret), "and config content");
    let e = t.check_resolvable(&Env::default(), &[]).expect_err("HOST is required");
    assert!(e.render().contains("set HOST"), "{}", e.render());
    assert!(t.check_resolvable(&Env::from_pairs([("HOST", "h")]), &[]).is_ok());
}

#[test]
fn the_schema_describes_the_vocabulary() {
    let schema: serde_json::Value =
        serde_json::from_str(&deploy_topology::json_schema()).unwrap_or_else(|e| panic!("{e}"));
    let service = &schema["$defs"]["RawService"]["properties"];
    for field in [
        "user",
        "working_dir",
        "hostname",
        "cap_add",
        "cap_drop",
        "read_only",
        "privileged",
        "init",
        "sysctls",
        "shm_size",
        "tmpfs",
        "ulimits",
        "stop_signal",
        "stop_grace_period",
        "labels",
        "extra_hosts",
        "dns",
        "platform",
        "pull_policy",
        "logging",
        "devices",
        "network_mode",
        "runtime",
        "env_file",
        "secrets",
        "configs",
        "deploy",
        "security_opt",
        "tty",
        "stdin_open",
    ] {
        let description = service[field]["description"].as_str().unwrap_or("");
        assert!(!description.is_empty(), "services.*.{field} has no description: {}", service[field]);
    }
    for field in ["secrets", "configs", "version"] {
        assert!(schema["properties"].get(field).is_some(), "top-level {field}");
    }
    assert!(schema["$defs"]["RawHealth"]["properties"].get("test").is_some());
}
