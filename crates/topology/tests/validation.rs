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
    assert_at(&d, 4, 5, "services.redis.imagee", "unknown field `imagee`", "spelling");
    assert!(d.message.contains("image"), "{}", d.message);
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
        assert_eq!(t.waves().len(), 3);
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
