//! The everyday Compose vocabulary rendered as Compose reads it: each field in
//! the form that `docker compose config` reads back as the topology means it
//! (short forms where they say everything, long forms where they do not),
//! `${VAR}` templates kept as written, secrets' values never written.

use deploy_topology::{
    FileObject, FileRef, FileSource, HealthcheckOff, Mount, MountSource, Network, Port, PortTemplate, Protocol,
    Service, Ulimit, Value, Volume,
};

use crate::model::*;
use crate::units::ComposeFormat as _;

fn raw(v: &Value) -> String {
    v.raw.clone()
}

/// The container fields of a service.
pub(super) fn container(s: &Service) -> ComposeContainer {
    let map = |m: &indexmap::IndexMap<String, Value>| m.iter().map(|(k, v)| (k.clone(), raw(v))).collect();
    ComposeContainer {
        user: s.user.as_ref().map(raw),
        working_dir: s.working_dir.as_ref().map(raw),
        hostname: s.hostname.as_ref().map(raw),
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        read_only: s.read_only,
        privileged: s.privileged,
        init: s.init,
        sysctls: map(&s.sysctls),
        shm_size: s.shm_size.map(|b| b.to_compose()),
        tmpfs: s.tmpfs.iter().map(|t| t.short()).collect(),
        ulimits: s.ulimits.iter().map(|(k, u)| (k.clone(), ulimit(*u))).collect(),
        stop_signal: s.stop_signal.clone(),
        stop_grace_period: s.stop_grace_period.map(|d| d.to_compose()),
        labels: map(&s.labels),
        // `HOST:IP`, read by every Compose v2; an IPv6 address needs `HOST=IP`.
        extra_hosts: s
            .extra_hosts
            .iter()
            .map(|h| if h.ip.contains(':') { format!("{}={}", h.host, h.ip) } else { format!("{}:{}", h.host, h.ip) })
            .collect(),
        dns: s.dns.clone(),
        dns_search: s.dns_search.clone(),
        dns_opt: s.dns_opt.clone(),
        platform: s.platform.as_ref().map(raw),
        pull_policy: s.pull_policy.map(|p| p.to_string()),
        logging: s.logging.as_ref().map(|l| ComposeLogging { driver: l.driver.clone(), options: map(&l.options) }),
        devices: s.devices.iter().map(|d| d.short()).collect(),
        network_mode: s.network_mode.clone(),
        runtime: s.runtime.clone(),
        security_opt: s.security_opt.clone(),
        tty: s.tty,
        stdin_open: s.stdin_open,
        secrets: s.secrets.iter().map(file_ref).collect(),
        configs: s.configs.iter().map(file_ref).collect(),
    }
}

fn ulimit(u: Ulimit) -> ComposeUlimit {
    match u {
        Ulimit::Single(n) => ComposeUlimit::Single(n),
        Ulimit::Range { soft, hard } => ComposeUlimit::Range { soft, hard },
    }
}

fn file_ref(f: &FileRef) -> ComposeFileRef {
    if f.is_short() {
        return ComposeFileRef::Short(f.source.clone());
    }
    ComposeFileRef::Long(ComposeFileRefLong {
        source: f.source.clone(),
        target: f.target.clone(),
        uid: f.uid.clone(),
        gid: f.gid.clone(),
        mode: f.mode.map(|m| format!("0{m:o}")),
    })
}

/// `env_file`s by path (their values, secrets among them, stay in the files).
pub(super) fn env_files(s: &Service) -> Vec<ComposeEnvFile> {
    s.env_files
        .iter()
        .map(|f| {
            if f.required {
                ComposeEnvFile::Path(f.path.clone())
            } else {
                ComposeEnvFile::Long { path: f.path.clone(), required: false }
            }
        })
        .collect()
}

/// The environment as written; a name without a value is null (Compose then reads the shell's).
pub(super) fn environment(s: &Service) -> indexmap::IndexMap<String, Option<String>> {
    let written = s.environment.iter().map(|(k, v)| (k.clone(), Some(raw(v))));
    written.chain(s.environment_from_shell.iter().map(|k| (k.clone(), None))).collect()
}

/// A port in the short syntax, unless it has what only the long one says (a name, a mode,
/// an application protocol, or a `published` written with variables).
pub(super) fn port(p: &Port) -> ComposePort {
    let published = match &p.template {
        Some(PortTemplate::Short(t)) if p.name.is_none() && p.mode.is_none() && p.app_protocol.is_none() => {
            return ComposePort::Short(raw(t));
        }
        Some(PortTemplate::Published(t)) => Some(raw(t)),
        None if p.name.is_none() && p.mode.is_none() && p.app_protocol.is_none() => {
            return ComposePort::Short(p.short());
        }
        _ => p.host.map(|h| h.to_string()),
    };
    ComposePort::Long(ComposePortLong {
        name: p.name.clone(),
        target: p.container,
        published,
        host_ip: p.host_ip.clone(),
        protocol: (p.protocol == Protocol::Udp).then(|| "udp".to_string()),
        mode: p.mode.clone(),
        app_protocol: p.app_protocol.clone(),
    })
}

/// A mount in the form it was written.
pub(super) fn mount(m: &Mount) -> ComposeMount {
    if !m.long_form {
        return ComposeMount::Short(m.short());
    }
    let (typ, source) = match &m.source {
        MountSource::Volume(v) => ("volume", Some(v.clone())),
        MountSource::Bind(b) => ("bind", Some(b.clone())),
        MountSource::Anonymous => ("volume", None),
        MountSource::Tmpfs => ("tmpfs", None),
    };
    let bind = m.bind.as_ref().map(|b| ComposeBindOptions {
        propagation: b.propagation.clone(),
        create_host_path: b.create_host_path,
        selinux: b.selinux.clone(),
    });
    let volume = m.volume.as_ref().map(|v| ComposeVolumeOptions { nocopy: v.nocopy, subpath: v.subpath.clone() });
    let tmpfs = m.tmpfs.as_ref().map(|t| ComposeTmpfsOptions { size: t.size.map(|s| s.to_compose()), mode: t.mode });
    ComposeMount::Long(Box::new(ComposeMountLong {
        typ: typ.to_string(),
        source: m.source_template.as_ref().map(raw).or(source),
        target: m.target.clone(),
        read_only: m.read_only,
        bind: bind.filter(|b| *b != ComposeBindOptions::default()),
        volume: volume.filter(|v| *v != ComposeVolumeOptions::default()),
        tmpfs: tmpfs.filter(|t| *t != ComposeTmpfsOptions::default()),
        consistency: m.consistency.clone(),
    }))
}

/// A list of network keys, or a map when a network has settings.
pub(super) fn networks(s: &Service) -> ComposeNetworks {
    let settings = |k: &String| s.network_settings.get(k).filter(|n| !n.is_empty());
    if s.networks.iter().all(|k| settings(k).is_none()) {
        return ComposeNetworks::List(s.networks.clone());
    }
    let entry = |k: &String| {
        settings(k).map(|n| ComposeServiceNetwork {
            aliases: n.aliases.clone(),
            ipv4_address: n.ipv4_address.clone(),
            ipv6_address: n.ipv6_address.clone(),
            priority: n.priority,
        })
    };
    ComposeNetworks::Map(s.networks.iter().map(|k| (k.clone(), entry(k))).collect())
}

/// The image's healthcheck turned off, as the topology says it.
pub(super) fn healthcheck_off(s: &Service) -> Option<ComposeHealthcheck> {
    match s.healthcheck_disabled? {
        HealthcheckOff::Disable => Some(ComposeHealthcheck { disable: Some(true), ..Default::default() }),
        HealthcheckOff::TestNone => Some(ComposeHealthcheck { test: vec!["NONE".to_string()], ..Default::default() }),
    }
}

/// A top-level network: `name` and `driver` only where the topology gives them, so that
/// Compose names it after the project it is run as (`PROJECT_KEY`), as it names its own.
pub(super) fn network(n: &Network) -> ComposeNetwork {
    ComposeNetwork {
        driver: n.explicit_driver.then(|| n.driver.clone()),
        name: n.explicit_name.then(|| n.name.clone()),
        external: n.external,
        internal: n.internal,
        attachable: n.attachable,
        enable_ipv6: n.enable_ipv6,
        driver_opts: n.driver_opts.clone(),
        labels: n.labels.clone(),
        ipam: n.ipam.as_ref().map(|i| ComposeIpam {
            driver: i.driver.clone(),
            config: i
                .config
                .iter()
                .map(|p| ComposeIpamPool {
                    subnet: p.subnet.clone(),
                    ip_range: p.ip_range.clone(),
                    gateway: p.gateway.clone(),
                    aux_addresses: p.aux_addresses.clone(),
                })
                .collect(),
            options: i.options.clone(),
        }),
    }
}

/// A top-level volume: `name` only where the topology gives one.
pub(super) fn volume(v: &Volume) -> ComposeVolume {
    ComposeVolume {
        name: v.explicit_name.then(|| v.name.clone()),
        external: v.external,
        driver: v.driver.clone(),
        driver_opts: v.driver_opts.clone(),
        labels: v.labels.clone(),
    }
}

/// A top-level secret or config: where its content comes from, as written.
pub(super) fn file_object(o: &FileObject) -> ComposeFileObject {
    let mut out = ComposeFileObject { name: o.name.clone(), ..Default::default() };
    match &o.source {
        FileSource::File(f) => out.file = Some(f.clone()),
        FileSource::Environment(e) => out.environment = Some(e.clone()),
        FileSource::Content(c) => out.content = Some(raw(c)),
    }
    out
}

#[cfg(test)]
mod tests {
    /// Each vocabulary field in the topology's spellings ...
    const TOPOLOGY: &str = r#"name: vocab
services:
  app:
    image: app:1
    user: "1000"
    working_dir: /app
    hostname: app
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    read_only: true
    privileged: true
    init: true
    sysctls: [net.core.somaxconn=511]
    shm_size: 1g
    tmpfs: /run
    ulimits: {nofile: {soft: 1024, hard: 2048}, core: 0}
    stop_signal: SIGINT
    stop_grace_period: 45s
    labels: [a=1]
    extra_hosts: {db: 10.0.0.2, v6: "::1"}
    dns: 9.9.9.9
    dns_search: lan
    dns_opt: [rotate]
    platform: linux/arm64
    pull_policy: always
    logging: {driver: local, options: {max-size: 5m}}
    devices: [/dev/fuse]
    runtime: runc
    security_opt: [no-new-privileges:true]
    tty: true
    stdin_open: true
    environment: [KEEP, SET=1]
    ports:
      - "${PORT:-80}:80"
      - {target: 81, published: "${ALT:-8081}"}
      - {target: 82, name: admin}
    volumes:
      - /anon
      - {type: tmpfs, target: /t, tmpfs: {size: 1m, mode: 1777}}
      - {type: bind, source: ./src, target: /src, bind: {propagation: rshared, selinux: Z}, consistency: cached}
      - "${DATA:-./data}:/data"
    secrets: [s, {source: s, target: /etc/s, gid: "5", mode: 0400}]
    configs: [{source: c, uid: "1"}]
    networks: {net: {aliases: [x], priority: 5}}
    healthcheck: {test: [CMD, probe], start_interval: 500ms}
  side:
    image: side:1
    network_mode: host
    healthcheck: {disable: true}
    deploy: {replicas: 3}
networks:
  net: {attachable: true, enable_ipv6: true, ipam: {driver: default, options: {o: v}}}
secrets:
  s: {environment: S_VALUE}
configs:
  c: {content: "x=${X:-1}", name: shared}
"#;

    /// ... rendered in Compose's, byte for byte.
    const RENDERED: &str = r#"# Rendered by deploy from vocab.yaml. Edit the topology, not this file.
name: vocab
services:
  app:
    image: app:1
    environment:
      SET: "1"
      KEEP: null
    ports:
    - ${PORT:-80}:80
    - target: 81
      published: ${ALT:-8081}
    - name: admin
      target: 82
    volumes:
    - /anon
    - type: tmpfs
      target: /t
      tmpfs:
        size: 1M
        mode: 1777
    - type: bind
      source: ./src
      target: /src
      bind:
        propagation: rshared
        selinux: Z
      consistency: cached
    - ${DATA:-./data}:/data
    networks:
      net:
        aliases:
        - x
        priority: 5
    healthcheck:
      test:
      - CMD
      - probe
      start_interval: 500ms
    user: "1000"
    working_dir: /app
    hostname: app
    cap_add:
    - NET_ADMIN
    cap_drop:
    - MKNOD
    read_only: true
    privileged: true
    init: true
    sysctls:
      net.core.somaxconn: "511"
    shm_size: 1G
    tmpfs:
    - /run
    ulimits:
      nofile:
        soft: 1024
        hard: 2048
      core: 0
    stop_signal: SIGINT
    stop_grace_period: 45s
    labels:
      a: "1"
    extra_hosts:
    - db:10.0.0.2
    - v6=::1
    dns:
    - "9.9.9.9"
    dns_search:
    - lan
    dns_opt:
    - rotate
    platform: linux/arm64
    pull_policy: always
    logging:
      driver: local
      options:
        max-size: 5m
    devices:
    - /dev/fuse:/dev/fuse
    runtime: runc
    security_opt:
    - no-new-privileges:true
    tty: true
    stdin_open: true
    secrets:
    - s
    - source: s
      target: /etc/s
      gid: "5"
      mode: "0400"
    configs:
    - source: c
      uid: "1"
  side:
    image: side:1
    healthcheck:
      disable: true
    deploy:
      replicas: 3
    network_mode: host
networks:
  net:
    attachable: true
    enable_ipv6: true
    ipam:
      driver: default
      options:
        o: v
secrets:
  s:
    environment: S_VALUE
configs:
  c:
    name: shared
    content: x=${X:-1}
"#;

    #[test]
    fn renders_each_vocabulary_field_as_compose_spells_it() {
        let t = deploy_topology::from_str("vocab.yaml", TOPOLOGY, None).unwrap_or_else(|e| panic!("{}", e.render()));
        let r = super::super::render(&t);
        assert_eq!(r.to_yaml("vocab.yaml"), RENDERED);
    }
}
