//! Bad input through the real binary: exit code 1, a message naming file,
//! line, column and field, what would be valid, and never a panic.

mod common;

use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap_or_else(|e| panic!("{e}"));
    name.to_string()
}

fn fails(dir: &Path, args: &[&str], expect: &[&str]) {
    let out = common::deploy_in(dir, args, &[]);
    let err = common::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "expected exit 1 for {args:?}; stderr:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    for e in expect {
        assert!(err.contains(e), "stderr for {args:?} lacks {e:?}:\n{err}");
    }
}

#[test]
fn every_bad_input_is_located_and_explained() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let d = dir.path();
    let f = write(d, "typo.yaml", "name: demo\nservices:\n  redis:\n    imagee: redis:7\n");
    fails(
        d,
        &["validate", "-f", &f],
        &["typo.yaml:4:5", "unknown field `imagee`", "services.redis.imagee", "expected one of image"],
    );
    let f = write(d, "type.yaml", "services:\n  r:\n    image: x\n    replicas: [1]\n");
    fails(d, &["render", "-f", &f], &["type.yaml:4:15", "services.r.replicas"]);
    let f = write(d, "size.yaml", "services:\n  r:\n    image: x\n    resources:\n      limits: {memory: 1.5x}\n");
    fails(d, &["render", "-f", &f], &["size.yaml:5:24", "unknown size unit", "256M"]);
    let f = write(
        d,
        "dur.yaml",
        "services:\n  r:\n    image: x\n    healthcheck:\n      command: [ok]\n      timeout: soon\n",
    );
    fails(d, &["render", "-f", &f], &["dur.yaml:6:16", "services.r.healthcheck.timeout", "10s"]);
    let f =
        write(d, "cpu.yaml", "services:\n  r:\n    image: x\n    resources:\n      reservations:\n        cpus: -1\n");
    fails(d, &["render", "-f", &f], &["cpu.yaml:6:15", "greater than 0"]);
    let f = write(d, "dep.yaml", "services:\n  api:\n    image: a\n    depends_on: [db]\n");
    fails(d, &["apply", "-f", &f], &["dep.yaml:4:18", "depends on `db`", "services are: api"]);
    let f = write(
        d,
        "cycle.yaml",
        "services:\n  a:\n    image: a\n    depends_on: [b]\n  b:\n    image: b\n    depends_on: [a]\n",
    );
    fails(d, &["diff", "-f", &f], &["cycle.yaml:4:18", "dependency cycle: a -> b -> a"]);
    let f =
        write(d, "vol.yaml", "services:\n  w:\n    image: w\n    volumes: [\"data:/data\"]\n    networks: [front]\n");
    fails(
        d,
        &["render", "-f", &f],
        &["vol.yaml:4:15", "volume `data`", "vol.yaml:5:16", "network `front`", "declare it"],
    );
    let f = write(
        d,
        "port.yaml",
        "services:\n  a:\n    image: a\n    ports: [\"6379:6379\"]\n  b:\n    image: b\n    ports: [\"6379:6380\"]\n",
    );
    fails(d, &["render", "-f", &f], &["port.yaml:7:13", "host port 6379/tcp is published by both `a` and `b`"]);
    let f = write(d, "name.yaml", "services:\n  Web_App:\n    image: w\n");
    fails(d, &["render", "--target", "k8s", "-f", &f], &["name.yaml:2:3", "cannot be used on Kubernetes", "lowercase"]);
    let f = write(d, "ok.yaml", "services:\n  w:\n    image: w\n");
    fails(d, &["render", "-f", &f, "--profile", "staging"], &["profile `staging` not found"]);
    fails(d, &["render", "-f", "missing.yaml"], &["cannot read topology file `missing.yaml`"]);
    let f = write(d, "syntax.yaml", "services:\n  w:\n    image: [unclosed\n");
    fails(d, &["render", "-f", &f], &["syntax.yaml:"]);
}

#[test]
fn missing_required_variable_stops_before_anything_is_applied() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let f = write(
        dir.path(),
        "req.yaml",
        "name: req\nservices:\n  w:\n    image: \"web:${TAG:?set TAG to the release}\"\n",
    );
    // Kubernetes has no interpolation: render must resolve, and say which variable is missing where.
    fails(
        dir.path(),
        &["render", "--target", "k8s", "-f", &f],
        &["req.yaml:4:12", "required variable `TAG` is not set: set TAG to the release", "export TAG="],
    );
}
