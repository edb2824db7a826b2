//! Every kind of bad input gets a located, explained error; the seed stack loads.

use deploy_topology::{Condition, Env, MountSource, Restart, WorkloadKind, from_str, load};

fn errors(yaml: &str) -> Vec<deploy_topology::Diagnostic> {
    match from_str("t.yaml", yaml, None) {
        Ok(_) => panic!("expected errors for:\n{yaml}"),
        Err(e) => e.0,
    }
}

fn one(yaml: &str) -> deploy_topology::Diagnostic {
    let e = errors(yaml);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e.into_iter().next().unwrap_or_else(|| unreachable!())
}

fn assert_at(d: &deploy_topology::Diagnostic, line: u32, col: u32, field: &str, msg: &str, help: &str) {
    let loc = d.loc.as_ref().unwrap_or_else(|| panic!("no location in {d:?}"));
    assert_eq!((loc.line, loc.col), (line, col), "{d}");
    assert_eq!(loc.file.path.to_str(), Some("t.yaml"));
    assert_eq!(d.field.as_deref(), Some(field), "{d}");
    assert!(d.message.contains(msg), "message {:?} lacks {msg:?}", d.message);
    assert!(d.help.as_deref().unwrap_or("").contains(help), "help {:?} lacks {help:?}", d.help);
}

#[test]
fn unknown_field_names_the_valid_ones() {
    let d = one("name: demo\nservices:\n  redis:\n    imagee: redis:7\n");
    assert_at(&d, 4, 5, "services.redis.imagee", "unknown field `imagee`", "did you mean `image`?");
    assert!(d.message.contains("image"), "{}", d.message);
    // flow style: the exact path of the field, and a suggestion there too
    let d = one("services: {web: {image: x, resources: {limits: {memroy: 1G}}}}\n");
    assert_at(&d, 1, 49, "services.web.resources.limits.memroy", "unknown field `memroy`", "did you mean `memory`?");
    let d = one("services: {web: {image: x, resources: {limits: {memory: 1.5x}}}}\n");
    assert_at(&d, 1, 57, "services.web.resources.limits.memory", "unknown size unit", "");
}

#[test]
fn unknown_services_get_a_suggestion() {
    let d = one("services:\n  api:\n    image: a\n    depends_on: [reddis]\n  redis:\n    image: r\n");
    assert!(d.help.as_deref().unwrap_or("").starts_with("did you mean `redis`? services are: api, redis"), "{d}");
    let t = from_str("t.yaml", "services:\n  web:\n    image: w\n", None).unwrap_or_else(|e| panic!("{}", e.render()));
    let e = t.select(&["wbe".to_string()]).expect_err("unknown service");
    assert_eq!(e.help.as_deref(), Some("did you mean `web`? services are: web"));
}

#[test]
fn wrong_type() {
    let d = one("name: demo\nservices:\n  redis:\n    image: redis:7\n    replicas: many\n");
    assert_at(&d, 5, 15, "services.redis.replicas", "expected a whole number", "");
}

#[test]
fn bad_size_duration_and_cpu() {
    let d = one("services:\n  r:\n    image: x\n    resources:\n      limits:\n        memory: 12x\n");
    assert_at(&d, 6, 17, "services.r.resources.limits.memory", "unknown size unit `x`", "");
    assert!(d.message.contains("256M"), "says what is valid: {}", d.message);
    let d = one("services:\n  r:\n    image: x\n    healthcheck:\n      command: [true]\n      interval: 10\n");
    assert_at(&d, 6, 17, "services.r.healthcheck.interval", "not a duration", "");
    assert!(d.message.contains("10s"), "{}", d.message);
    let d = one("services:\n  r:\n    image: x\n    resources:\n      limits:\n        cpus: lots\n");
    assert_at(&d, 6, 15, "services.r.resources.limits.cpus", "not a CPU amount", "");
    assert!(d.message.contains("250m"), "{}", d.message);
}

#[test]
fn unknown_dependency_and_cycle() {
    let d = one("services:\n  api:\n    image: a\n    depends_on:\n      db:\n        condition: service_healthy\n");
    assert_at(&d, 5, 7, "services.api.depends_on.db", "not a service", "services are: api");
    let d = one("services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [a]\n");
    assert_at(&d, 4, 18, "services.a.depends_on", "dependency cycle: a -> b -> a", "remove one");
}

#[test]
fn undeclared_volume_and_network() {
    let e = errors("services:\n  w:\n    image: w\n    volumes: [data:/data]\n    networks: [front]\n");
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_at(&e[0], 4, 15, "services.w.volumes", "volume `data` is used by service `w` but not declared", "volumes:");
    assert_at(
        &e[1],
        5,
        16,
        "services.w.networks",
        "network `front` is used by service `w` but not declared",
        "networks:",
    );
}

#[test]
fn duplicate_host_port() {
    let d = one(
        "services:\n  a:\n    image: a\n    ports: [\"8080:80\"]\n  b:\n    image: b\n    ports: [\"127.0.0.1:8080:81\"]\n",
    );
    assert_at(&d, 7, 13, "services.b.ports", "host port 8080/tcp is published by both `a` and `b`", "own host port");
}

#[test]
fn names_kubernetes_cannot_accept() {
    let d = one("services:\n  Redis_Cache:\n    image: r\n");
    assert_at(&d, 2, 3, "services.Redis_Cache", "cannot be used on Kubernetes", "lowercase");
    let d = one("name: My Project\nservices: {}\n");
    assert_at(&d, 1, 7, "name", "project name", "lowercase");
    let d = one("services: {}\nvolumes:\n  Data.Store: {}\n");
    assert_at(&d, 3, 3, "volumes.Data.Store", "cannot be used on Kubernetes", "`_` is turned into `-`");
}

#[test]
fn health_dependency_needs_a_healthcheck() {
    let d = one(
        "services:\n  api:\n    image: a\n    depends_on:\n      db: {condition: service_healthy}\n  db:\n    image: d\n",
    );
    assert!(d.message.contains("has no healthcheck"), "{d}");
    assert!(d.help.as_deref().unwrap_or("").contains("add a healthcheck"), "{d}");
}

#[test]
fn reservations_above_limits_and_bad_restart() {
    let e = errors(
        "services:\n  r:\n    image: x\n    restart: sometimes\n    resources:\n      limits: {memory: 64M}\n      reservations: {memory: 128M}\n",
    );
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e.iter().any(|d| d.message.contains("unknown restart policy `sometimes`")));
    assert!(e.iter().any(|d| d.message.contains("reserved memory 128M exceeds the limit 64M")));
}

#[test]
fn missing_required_variable_is_located() {
    let t = from_str("t.yaml", "services:\n  r:\n    image: \"redis:${TAG:?set TAG to the image tag}\"\n", None)
        .unwrap_or_else(|e| panic!("{e}"));
    let err = t.check_resolvable(&Env::default(), &[]).err().unwrap_or_else(|| panic!("expected an error"));
    let d = &err.0[0];
    assert_at(
        d,
        3,
        12,
        "services.r.image",
        "required variable `TAG` is not set: set TAG to the image tag",
        "export TAG=",
    );
    assert!(t.check_resolvable(&Env::from_pairs([("TAG", "7")]), &[]).is_ok());
}

#[test]
fn missing_profile_lists_the_available_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let err = load(&root.join("manifests/learn-greek.yaml"), Some("staging"))
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
    let d = &err.0[0];
    assert!(d.message.contains("profile `staging` not found"), "{d}");
    assert!(d.help.as_deref().unwrap_or("").contains("dev, prod"), "{d}");
    let err = load(&root.join("manifests/nope.yaml"), None).err().unwrap_or_else(|| panic!("expected an error"));
    assert!(err.0[0].message.contains("cannot read topology file"), "{err}");
}

#[test]
fn seed_stack_loads_with_both_profiles() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for profile in ["dev", "prod"] {
        let t =
            load(&root.join("manifests/learn-greek.yaml"), Some(profile)).unwrap_or_else(|e| panic!("{}", e.render()));
        let r = &t.services["redis"];
        let args: Vec<&str> = r.command.iter().flatten().map(|v| v.raw.as_str()).collect();
        assert_eq!(
            args,
            ["redis-server", "--appendonly", "yes", "--maxmemory", "128mb", "--maxmemory-policy", "allkeys-lru"]
        );
        assert_eq!(r.kind, WorkloadKind::Stateful);
        assert_eq!(r.mounts[0].source, MountSource::Volume("redis_data".into()));
        assert_eq!(r.mounts[0].target, "/data");
        assert_eq!(t.services["backend"].depends_on["redis"], Condition::ServiceHealthy);
        // dependency order: redis and postgres before backend before frontend
        let order = t.order();
        let pos = |n: &str| order.iter().position(|x| *x == n);
        assert!(pos("redis") < pos("backend") && pos("postgres") < pos("backend") && pos("backend") < pos("frontend"));
        if profile == "prod" {
            assert_eq!(r.container_name.as_deref(), Some("learn-greek-redis"));
            assert!(r.ports.is_empty());
            assert_eq!(r.resources.limits.cpus.map(|c| c.millis()), Some(250));
            assert_eq!(r.resources.limits.memory.map(|m| m.bytes()), Some(256 * 1024 * 1024));
            assert_eq!(r.resources.reservations.cpus.map(|c| c.millis()), Some(100));
            assert_eq!(r.resources.reservations.memory.map(|m| m.bytes()), Some(64 * 1024 * 1024));
            assert_eq!(r.restart, Some(Restart::UnlessStopped));
            assert_eq!(t.volumes["redis_data"].name, "learn-greek-redis-data");
            // secrets: by declaration, by name, and by using a secret variable
            let env = &t.services["backend"].environment;
            assert!(env["JWT_SECRET_KEY"].secret);
            assert!(env["DATABASE_URL"].secret, "uses ${{POSTGRES_PASSWORD}}");
            assert!(!env["REDIS_URL"].secret);
            assert!(t.services["postgres"].environment["POSTGRES_PASSWORD"].secret);
        } else {
            assert_eq!(r.container_name.as_deref(), Some("learn-greek-redis-dev"));
            assert_eq!(r.ports[0].host, Some(6379));
            assert!(r.resources.limits.is_empty());
            assert_eq!(r.restart, None);
            assert_eq!(t.volumes["redis_data"].name, "learn-greek-redis-data-dev");
            assert_eq!(t.networks["learn-greek-network"].name, "learn-greek-network-dev");
        }
    }
}

#[test]
fn extension_fields_hold_anchors_and_are_ignored_as_in_compose() {
    let with_anchors = "name: demo
x-defaults: &defaults
  restart: unless-stopped
  resources:
    limits: {cpus: 0.5, memory: 128M}
  environment: &env
    MODE: fast
services:
  a:
    <<: *defaults
    image: img:1
    x-owner: team-a
  b:
    <<: *defaults
    image: img:2
    restart: \"no\"
    environment:
      <<: *env
      EXTRA: \"1\"
";
    let expanded = "name: demo
services:
  a:
    restart: unless-stopped
    resources:
      limits: {cpus: 0.5, memory: 128M}
    environment: {MODE: fast}
    image: img:1
  b:
    resources:
      limits: {cpus: 0.5, memory: 128M}
    image: img:2
    restart: \"no\"
    environment: {MODE: fast, EXTRA: \"1\"}
";
    let a = from_str("t.yaml", with_anchors, None).unwrap_or_else(|e| panic!("{}", e.render()));
    let b = from_str("t.yaml", expanded, None).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!(a.services.keys().collect::<Vec<_>>(), ["a", "b"]);
    for name in ["a", "b"] {
        let (x, y) = (&a.services[name], &b.services[name]);
        assert_eq!(x.restart, y.restart, "{name}");
        assert_eq!(x.resources.limits, y.resources.limits, "{name}");
        assert_eq!(x.image.raw, y.image.raw, "{name}");
        let env = |s: &deploy_topology::Service| {
            let mut e: Vec<_> = s.environment.iter().map(|(k, v)| (k.clone(), v.raw.clone())).collect();
            e.sort();
            e
        };
        assert_eq!(env(x), env(y), "{name}");
    }
    assert_eq!(a.services["b"].restart, Some(Restart::No));
}

#[test]
fn a_key_that_only_looks_like_an_extension_is_still_unknown() {
    // `x_defaults` (underscore) is not an extension field: reported where it is written
    let d = one("name: demo\nx_defaults: {}\nservices:\n  a:\n    image: i\n");
    assert_at(&d, 2, 1, "x_defaults", "unknown field `x_defaults`", "spelling");
    // and after an extension field, a typo in the same service keeps its own position
    let d = one("name: demo\nservices:\n  a:\n    x-note: hi\n    image: i\n    restrat: always\n");
    assert_at(&d, 6, 5, "services.a.restrat", "unknown field `restrat`", "spelling");
}

/// Every check of `validate`, each error with its file:line:col, field, message and help, all at once, in this order.
#[test]
fn every_validation_error_is_reported_at_once_in_order() {
    let got: Vec<String> = errors(EVERY_ERROR_YAML).iter().map(ToString::to_string).collect();
    assert_eq!(got, EVERY_ERROR);
}

/// One or more of every error `validate` reports (a service per problem).
const EVERY_ERROR_YAML: &str = r#"name: Bad_Name
namespace: -ns
variables:
  API_TOKEN: {}
volumes:
  Data.Store: {}
  data: {}
networks:
  Front.Net: {}
  back: {}
services:
  Web_1:
    image: web
  noimage:
    container_name: -bad
    command: "echo 'unclosed"
    entrypoint: ["run", "${BROKEN"]
  env:
    image: "img:${TAG"
    environment:
      1BAD: x
      GOOD: "${OK}"
  ports:
    image: p
    ports: ["99999:80", "8080:80", "8080:81", "9090:90/sctp", "6000:60", "6000:61"]
  ports2:
    image: p
    ports: ["0.0.0.0:8080:80", "127.0.0.1:5000:50", "127.0.0.2:5000:51"]
  mounts:
    image: m
    volumes: ["/anon", "data:relative", "data:/x:bogus", "missing:/m", "./host:/h:ro"]
    networks: [nowhere, back]
  hc-empty:
    image: h
    healthcheck: {command: []}
  hc-both:
    image: h
    healthcheck: {command: [a], shell: "b"}
  hc-none:
    image: h
    healthcheck: {interval: 0s, timeout: 0s, retries: 0}
  hc-zero:
    image: h
    healthcheck: {command: [x], interval: 0s, timeout: 0s, retries: 0}
  res:
    image: r
    resources:
      limits: {cpus: 0.5, memory: 64M}
      reservations: {cpus: 1, memory: 128M}
    restart: sometimes
    kind: daemon
  deps:
    image: d
    depends_on:
      nosuch: {}
      deps: {}
      res: {condition: whenever}
      ports: {condition: service_healthy}
      hc-zero: {condition: service_healthy}
  rep0:
    image: r
    replicas: 0
  rep-named:
    image: r
    container_name: fixed
    replicas: 2
  rep-port:
    image: r
    ports: ["7070:70"]
    replicas: 3
  cyc-a:
    image: c
    depends_on: [cyc-b]
  cyc-b:
    image: c
    depends_on: [cyc-a]
"#;

const EVERY_ERROR: &[&str] = &[
    "t.yaml:1:7: name: project name `Bad_Name` is not valid (help: use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit (the name becomes a Kubernetes object name))",
    "t.yaml:2:12: namespace: namespace `-ns` is not a valid Kubernetes namespace (help: use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit (the name becomes a Kubernetes object name))",
    "t.yaml:6:3: volumes.Data.Store: volumes key `Data.Store` cannot be used on Kubernetes (as `data.store`) (help: use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit (the name becomes a Kubernetes object name); `_` is turned into `-`)",
    "t.yaml:9:3: networks.Front.Net: networks key `Front.Net` cannot be used on Kubernetes (as `front.net`) (help: use at most 63 lowercase letters, digits and `-`, starting and ending with a letter or digit (the name becomes a Kubernetes object name); `_` is turned into `-`)",
    "t.yaml:12:3: services.Web_1: service name `Web_1` cannot be used on Kubernetes (help: use at most 63 lowercase letters, digits and `-`, starting with a letter and ending with a letter or digit (the name becomes a Kubernetes object and DNS name))",
    "t.yaml:14:3: services.noimage.image: service `noimage` has no image (help: add `image: NAME[:TAG]`, or a `build:` section to build it from a Dockerfile)",
    "t.yaml:15:21: services.noimage.container_name: container name `-bad` is not valid on Docker (help: use letters, digits, `_`, `.` and `-`, starting with a letter or digit)",
    "t.yaml:16:14: services.noimage.command: cannot split the command line: missing closing quote (help: close the quotes, or write the command as a list)",
    "t.yaml:17:17: services.noimage.entrypoint: invalid interpolation in `${BROKEN`: unclosed `${` (help: write `$$` for a literal `$`)",
    "t.yaml:19:12: services.env.image: invalid interpolation in `img:${TAG`: unclosed `${` (help: write `$$` for a literal `$`)",
    "t.yaml:21:7: services.env.environment.1BAD: `1BAD` is not a valid environment variable name (help: use letters, digits, `_`, `-` and `.`, not starting with a digit)",
    "t.yaml:25:13: services.ports.ports: `99999` in port `99999:80` is not a port number (1-65535) (help: write `HOST:CONTAINER`, `IP:HOST:CONTAINER` or `CONTAINER` (ranges like `8000-8001:8000-8001`), optionally with `/tcp` or `/udp`, or a map with `target`, `published`, `host_ip`, `protocol`, `mode`, `name`, `app_protocol`)",
    "t.yaml:25:36: services.ports.ports: service `ports` publishes host port 8080/tcp twice (help: give each service its own host port, or remove one of the mappings)",
    "t.yaml:25:47: services.ports.ports: unknown protocol `sctp` (use tcp or udp) (help: write `HOST:CONTAINER`, `IP:HOST:CONTAINER` or `CONTAINER` (ranges like `8000-8001:8000-8001`), optionally with `/tcp` or `/udp`, or a map with `target`, `published`, `host_ip`, `protocol`, `mode`, `name`, `app_protocol`)",
    "t.yaml:25:74: services.ports.ports: service `ports` publishes host port 6000/tcp twice (help: give each service its own host port, or remove one of the mappings)",
    "t.yaml:28:13: services.ports2.ports: host port 8080/tcp is published by both `ports` and `ports2` (help: give each service its own host port, or remove one of the mappings)",
    "t.yaml:31:24: services.mounts.volumes: mount target `relative` must be an absolute path in the container (help: write `VOLUME:/container/path[:ro]`, `./host/path:/container/path[:ro]` or `/container/path` (an anonymous volume), or a map with `type` (volume, bind, tmpfs), `source`, `target`, `read_only`)",
    "t.yaml:31:41: services.mounts.volumes: unknown mount option `bogus` in `data:/x:bogus` (use ro, rw, cached, delegated, consistent, z, Z, nocopy, shared, rshared, slave, rslave, private, rprivate) (help: write `VOLUME:/container/path[:ro]`, `./host/path:/container/path[:ro]` or `/container/path` (an anonymous volume), or a map with `type` (volume, bind, tmpfs), `source`, `target`, `read_only`)",
    "t.yaml:31:58: services.mounts.volumes: volume `missing` is used by service `mounts` but not declared (help: declare it at the top level: `volumes: { missing: {} }`, or write a host path starting with `./` for a bind mount)",
    "t.yaml:32:16: services.mounts.networks: network `nowhere` is used by service `mounts` but not declared (help: declare it at the top level: `networks: { nowhere: {} }`; declared: Front.Net, back)",
    "t.yaml:35:28: services.hc-empty.healthcheck.command: the health probe command is empty (help: give the command and its arguments, like `[redis-cli, ping]`)",
    "t.yaml:38:28: services.hc-both.healthcheck: a health probe has either `command` or `shell`, not both (help: keep `command: [...]` (run directly) or `shell: \"...\"` (run with sh -c))",
    "t.yaml:39:3: services.hc-none.healthcheck: the health probe of `hc-none` has no command (help: add `command: [prog, args...]` or `shell: \"command line\"`)",
    "t.yaml:44:43: services.hc-zero.healthcheck.interval: healthcheck interval must be greater than zero (help: a duration like 10s, 1m30s, 500ms or 1h (units: us, ms, s, m, h))",
    "t.yaml:44:56: services.hc-zero.healthcheck.timeout: healthcheck timeout must be greater than zero (help: a duration like 10s, 1m30s, 500ms or 1h (units: us, ms, s, m, h))",
    "t.yaml:44:69: services.hc-zero.healthcheck.retries: healthcheck retries must be at least 1 (help: the number of consecutive failures before the service is unhealthy, like 3)",
    "t.yaml:49:28: services.res.resources.reservations.cpus: reserved cpus 1 exceed the limit 0.5 (help: a reservation must not exceed its limit)",
    "t.yaml:49:39: services.res.resources.reservations.memory: reserved memory 128M exceeds the limit 64M (help: a reservation must not exceed its limit)",
    "t.yaml:50:14: services.res.restart: unknown restart policy `sometimes` (help: use `no`, `always`, `on-failure`, `on-failure:N` or `unless-stopped`)",
    "t.yaml:51:11: services.res.kind: unknown kind `daemon` (help: use `stateful` (StatefulSet), `stateless` (Deployment) or `job` (runs to completion: a Job))",
    "t.yaml:55:7: services.deps.depends_on.nosuch: service `deps` depends on `nosuch`, which is not a service of this topology (help: services are: Web_1, noimage, env, ports, ports2, mounts, hc-empty, hc-both, hc-none, hc-zero, res, deps, rep0, rep-named, rep-port, cyc-a, cyc-b)",
    "t.yaml:56:7: services.deps.depends_on: service `deps` depends on itself (help: remove it from its own depends_on)",
    "t.yaml:57:24: services.deps.depends_on.res.condition: unknown depends_on condition `whenever` (help: use `service_started`, `service_healthy` or `service_completed_successfully`)",
    "t.yaml:58:26: services.deps.depends_on.ports.condition: `deps` waits for `ports` to be healthy, but `ports` has no healthcheck (help: add a healthcheck to `ports`, or use `condition: service_started`)",
    "t.yaml:62:15: services.rep0.replicas: replicas must be at least 1 (help: use `deploy destroy` to remove a service)",
    "t.yaml:66:15: services.rep-named.replicas: `rep-named` has 2 replicas but a fixed container_name (help: Docker cannot run two containers with one name: drop `container_name` or use one replica)",
    "t.yaml:70:15: services.rep-port.replicas: `rep-port` has 3 replicas but publishes a fixed host port (help: two containers cannot bind one host port: publish `CONTAINER` only, or use one replica)",
    "t.yaml:73:18: services.cyc-a.depends_on: dependency cycle: cyc-a -> cyc-b -> cyc-a (help: remove one of these depends_on entries: services in a cycle can never start)",
];

/// `default` is only implicit when no service names it; template syntax is checked in every value; a cycle through three services.
#[test]
fn bad_templates_an_undeclared_default_network_and_a_long_cycle() {
    let yaml = r#"services:
  a:
    image: a
    networks: [default]
    depends_on: [b]
  b:
    image: b
    depends_on: [c]
  c:
    image: c
    depends_on: [a]
  d:
    image: d
    environment:
      BAD: "$${x} ${"
    healthcheck: {command: ["${"], timeout: 0s}
"#;
    let got: Vec<String> = errors(yaml).iter().map(ToString::to_string).collect();
    let want = [
        "t.yaml:4:16: services.a.networks: network `default` is used by service `a` but not declared (help: declare it at the top level: `networks: { default: {} }`)",
        "t.yaml:15:12: services.d.environment.BAD: invalid interpolation in `$${x} ${`: expected a variable name after `${` (help: write `$$` for a literal `$`)",
        "t.yaml:16:28: services.d.healthcheck.command: invalid interpolation in `${`: expected a variable name after `${` (help: write `$$` for a literal `$`)",
        "t.yaml:16:45: services.d.healthcheck.timeout: healthcheck timeout must be greater than zero (help: a duration like 10s, 1m30s, 500ms or 1h (units: us, ms, s, m, h))",
        "t.yaml:5:18: services.a.depends_on: dependency cycle: a -> b -> c -> a (help: remove one of these depends_on entries: services in a cycle can never start)",
    ];
    assert_eq!(got, want);
}

/// The normalising pass: names and defaults filled in before anything is checked.
#[test]
fn names_and_defaults_are_filled_in() {
    let yaml = "variables:
  DB_PASS: {secret: true}
  API_KEY: {secret: false}
volumes:
  data: {}
  named_vol: {name: explicit-name, size: 5G, storage_class: fast}
networks:
  front: {driver: overlay}
services:
  web:
    image: \"nginx:${TAG:-1}\"
    environment:
      URL: \"postgres://u:${DB_PASS}@db\"
      SOME_TOKEN: abc
      FLAG: {value: x, secret: true}
      OTHER: \"${UNDECLARED_SECRET}\"
      PLAIN: \"${API_KEY}\"
    volumes: [\"data:/data\"]
    networks: [front]
  db:
    image: postgres
    kind: stateless
    volumes: [\"named_vol:/var/lib/postgresql/data\"]
  worker:
    image: w
    depends_on: [db]
";
    let t = from_str("My_App.v2/deploy.yaml", yaml, None).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!((t.name.as_str(), t.namespace.as_str()), ("my-app-v2", "my-app-v2"));
    assert_eq!((t.volumes["data"].name.as_str(), t.volumes["data"].explicit_name), ("my-app-v2_data", false));
    assert_eq!(t.volumes["data"].size, deploy_topology::DEFAULT_VOLUME_SIZE);
    let named = &t.volumes["named_vol"];
    assert_eq!((named.name.as_str(), named.explicit_name, named.size.bytes()), ("explicit-name", true, 5 << 30));
    assert_eq!(named.storage_class.as_deref(), Some("fast"));
    assert_eq!(
        (t.networks["front"].name.as_str(), t.networks["front"].driver.as_str()),
        ("my-app-v2_front", "overlay")
    );
    assert_eq!(
        (t.networks["default"].name.as_str(), t.networks["default"].driver.as_str()),
        ("my-app-v2_default", "bridge")
    );
    assert_eq!(t.networks.keys().collect::<Vec<_>>(), ["front", "default"]);
    let (web, db, worker) = (&t.services["web"], &t.services["db"], &t.services["worker"]);
    assert_eq!((web.networks.clone(), db.networks.clone()), (vec!["front".to_string()], vec!["default".to_string()]));
    assert_eq!(
        (web.kind, db.kind, worker.kind),
        (WorkloadKind::Stateful, WorkloadKind::Stateless, WorkloadKind::Stateless)
    );
    assert_eq!((web.replicas, web.restart), (1, None));
    assert_eq!(worker.depends_on["db"], Condition::ServiceStarted);
    let secret = |k: &str| web.environment[k].secret;
    assert!(secret("URL") && secret("SOME_TOKEN") && secret("FLAG") && secret("OTHER"));
    assert!(!secret("PLAIN"), "API_KEY is declared `secret: false`");
    assert!(!web.image.secret);
    assert!(t.variables["DB_PASS"].secret && !t.variables["API_KEY"].secret);
    // a file name that is no DNS name falls back to `deploy`; `namespace` defaults to `name`
    let t =
        from_str("-/deploy.yaml", "services:\n  w:\n    image: w\n", None).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!((t.name.as_str(), t.namespace.as_str()), ("deploy", "deploy"));
    let t = from_str("x.yaml", "name: app\nservices: {}\n", None).unwrap_or_else(|e| panic!("{}", e.render()));
    assert_eq!((t.name.as_str(), t.namespace.as_str()), ("app", "app"));
}
