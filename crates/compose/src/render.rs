//! Topology → Compose file.
//!
//! Values are written as the topology has them, `${VAR}` interpolation
//! included: Compose interpolates them itself, so a secret never lands in
//! the rendered file (it stays `${JWT_SECRET_KEY:?...}`).

use std::collections::HashSet;

use deploy_topology::{Amount, Healthcheck, MountSource, ProbeTest, Resources, Service, Topology, Value};

use crate::model::*;
use crate::units::ComposeFormat as _;

mod vocab;

/// A rendered Compose file and the warnings rendering raised.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub file: ComposeFile,
    pub warnings: Vec<String>,
}

impl Rendered {
    /// The Compose YAML, with a header saying where it came from.
    pub fn to_yaml(&self, source: &str) -> String {
        // Plain scalars, not folded `>-` blocks: long values such as URLs stay on one line.
        let mut options = serde_saphyr::SerializerOptions::default();
        options.prefer_block_scalars = false;
        let body = serde_saphyr::to_string_with_options(&self.file, options).unwrap_or_default();
        format!("# Rendered by deploy from {source}. Edit the topology, not this file.\n{body}")
    }

    /// The same Compose file as JSON (Compose reads JSON too: `docker compose -f file.json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.file).unwrap_or_default() + "\n"
    }
}

fn raw(v: &Value) -> String {
    v.raw.clone()
}

/// Renders the whole topology.
pub fn render(t: &Topology) -> Rendered {
    let mut file = ComposeFile { name: Some(t.name.clone()), ..Default::default() };
    for s in t.services.values() {
        file.services.insert(s.name.clone(), service(s));
    }
    // A network or volume carries `name:` only where the topology gives one: Compose names the
    // others after the project it runs (`PROJECT_KEY`), so `-p other` gets networks of its own.
    for n in t.networks.values() {
        file.networks.insert(n.key.clone(), vocab::network(n));
    }
    // Only volumes some service mounts: Compose creates what is declared.
    let used = used_volumes(t);
    for v in t.volumes.values() {
        if used.contains(v.key.as_str()) {
            file.volumes.insert(v.key.clone(), vocab::volume(v));
        }
    }
    file.secrets = t.secrets.iter().map(|(k, o)| (k.clone(), vocab::file_object(o))).collect();
    file.configs = t.configs.iter().map(|(k, o)| (k.clone(), vocab::file_object(o))).collect();
    Rendered { file, warnings: Vec::new() }
}

fn service(s: &Service) -> ComposeService {
    ComposeService {
        // A built image without `image:` keeps Compose's own name for it (`PROJECT-SERVICE`).
        image: if s.build.as_ref().is_some_and(|b| b.default_image) { String::new() } else { raw(&s.image) },
        build: s.build.as_ref().map(build),
        container_name: s.container_name.clone(),
        entrypoint: s.entrypoint.as_ref().map(|a| a.iter().map(raw).collect()),
        command: s.command.as_ref().map(|a| a.iter().map(raw).collect()),
        env_file: vocab::env_files(s),
        environment: vocab::environment(s),
        ports: s.ports.iter().map(vocab::port).collect(),
        expose: s.expose.iter().map(u16::to_string).collect(),
        volumes: s.mounts.iter().map(vocab::mount).collect(),
        networks: vocab::networks(s),
        depends_on: s
            .depends_on
            .iter()
            .filter(|(k, _)| !s.implicit_depends_on.contains(k))
            .map(|(k, c)| (k.clone(), ComposeDependsOn { condition: c.as_str().to_string() }))
            .collect(),
        healthcheck: s.healthcheck.as_ref().map(healthcheck).or_else(|| vocab::healthcheck_off(s)),
        deploy: deploy(&s.resources, s.replicas),
        restart: s.restart.map(|r| r.to_compose()),
        container: vocab::container(s),
    }
}

/// `build:` as written: arguments keep their `${VAR}` templates; a name without a value stays null
/// (Compose then takes the variable of that name).
fn build(b: &deploy_topology::Build) -> ComposeBuild {
    ComposeBuild {
        context: b.context.clone(),
        dockerfile: b.dockerfile.clone(),
        target: b.target.clone(),
        args: b.args.iter().map(|(k, v)| (k.clone(), v.as_ref().map(raw))).collect(),
    }
}

fn healthcheck(h: &Healthcheck) -> ComposeHealthcheck {
    ComposeHealthcheck {
        test: match &h.test {
            ProbeTest::Exec(args) => std::iter::once("CMD".to_string()).chain(args.iter().map(raw)).collect(),
            ProbeTest::Shell(cmd) => vec!["CMD-SHELL".to_string(), raw(cmd)],
        },
        interval: h.interval.map(|d| d.to_compose()),
        timeout: h.timeout.map(|d| d.to_compose()),
        retries: h.retries,
        start_period: h.start_period.map(|d| d.to_compose()),
        start_interval: h.start_interval.map(|d| d.to_compose()),
        ..Default::default()
    }
}

/// `deploy.resources`, when there are limits or reservations, and `deploy.replicas` beyond one.
fn deploy(r: &Resources, replicas: u32) -> Option<ComposeDeploy> {
    let amount = |a: &Amount| {
        (!a.is_empty())
            .then(|| ComposeAmount { cpus: a.cpus.map(|c| c.to_compose()), memory: a.memory.map(|m| m.to_compose()) })
    };
    let resources = ComposeResources { limits: amount(&r.limits), reservations: amount(&r.reservations) };
    let replicas = (replicas != 1).then_some(replicas);
    (!resources.is_empty() || replicas.is_some()).then_some(ComposeDeploy { replicas, resources })
}

/// The keys of the named volumes some service mounts.
fn used_volumes(t: &Topology) -> HashSet<&str> {
    t.services
        .values()
        .flat_map(|s| s.mounts.iter())
        .filter_map(|m| match &m.source {
            MountSource::Volume(v) => Some(v.as_str()),
            MountSource::Bind(_) | MountSource::Anonymous | MountSource::Tmpfs => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    /// Every field the renderer writes, in the spellings Compose reads (sizes, CPUs,
    /// durations, restart policies), pinned byte for byte.
    const TOPOLOGY: &str = r#"name: extra
variables:
  API_TOKEN:
    secret: true
services:
  migrate:
    image: busybox:1.36
    entrypoint: [/bin/sh, -c]
    command: ["echo migrate ${API_TOKEN:-x}"]
    restart: on-failure:3
    networks: [back_net]
  worker:
    image: busybox:1.36
    command: sleep 1000
    restart: always
    environment:
      - A=1
      - B_PASSWORD=${PW:-p}
    ports:
      - "127.0.0.1:9000:9000/udp"
      - target: 9100
        published: 9101
        protocol: tcp
      - "9200"
    volumes:
      - data_vol:/data:ro
      - ./conf:/etc/conf
      - source: cache_vol
        target: /cache
        read_only: true
    networks: [back_net, front]
    healthcheck:
      shell: test -f /tmp/ok
      interval: 1m30s
      timeout: 1500ms
      retries: 2
      start_period: 2h
    resources:
      limits:
        cpus: 1.5
        memory: 3G
      reservations:
        cpus: 250m
        memory: 1536K
    depends_on:
      migrate:
        condition: service_completed_successfully
  plain:
    image: nginx:1
    restart: "no"
    replicas: 2
    resources:
      limits:
        memory: 1000
        cpus: 2
    depends_on: [worker]
    networks: [front]
networks:
  back_net:
    driver: bridge
  front: {}
volumes:
  data_vol:
    size: 3Ti
  cache_vol:
    size: 100
"#;

    const RENDERED: &str = r#"# Rendered by deploy from extra.yaml. Edit the topology, not this file.
name: extra
services:
  migrate:
    image: busybox:1.36
    entrypoint:
    - /bin/sh
    - -c
    command:
    - echo migrate ${API_TOKEN:-x}
    networks:
    - back_net
    restart: on-failure:3
  worker:
    image: busybox:1.36
    command:
    - sleep
    - "1000"
    environment:
      A: "1"
      B_PASSWORD: ${PW:-p}
    ports:
    - 127.0.0.1:9000:9000/udp
    - 9101:9100
    - "9200"
    volumes:
    - data_vol:/data:ro
    - ./conf:/etc/conf
    - type: volume
      source: cache_vol
      target: /cache
      read_only: true
    networks:
    - back_net
    - front
    depends_on:
      migrate:
        condition: service_completed_successfully
    healthcheck:
      test:
      - CMD-SHELL
      - test -f /tmp/ok
      interval: 1m30s
      timeout: 1500ms
      retries: 2
      start_period: 2h
    deploy:
      resources:
        limits:
          cpus: "1.5"
          memory: 3G
        reservations:
          cpus: "0.25"
          memory: 1536K
    restart: always
  plain:
    image: nginx:1
    networks:
    - front
    depends_on:
      worker:
        condition: service_started
    deploy:
      replicas: 2
      resources:
        limits:
          cpus: "2"
          memory: "1000"
    restart: "no"
networks:
  back_net:
    driver: bridge
  front: {}
volumes:
  data_vol: {}
  cache_vol: {}
"#;

    #[test]
    fn renders_every_field_as_compose_spells_it() {
        let t = deploy_topology::from_str("extra.yaml", TOPOLOGY, None).expect("topology");
        let r = super::render(&t);
        assert_eq!(r.to_yaml("extra.yaml"), RENDERED);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }
}
