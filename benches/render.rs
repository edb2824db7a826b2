//! Rendering speed: the seed stack and a generated 1,000-service topology,
//! from YAML text to Compose YAML and to Kubernetes YAML (parse, overlay,
//! validate, render, serialize: everything `deploy render` does but process
//! start-up). `benches/run.sh` measures the whole process against
//! `docker compose config` in the same run.

// The allocator of the `deploy` binary, so in-process figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use deploy_topology::{Env, from_str};

fn read(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// A topology of `n` services, each with the seed Redis service's features:
/// command, env (one secret), a published port, a named volume, two networks,
/// a healthcheck, limits and reservations, restart policy, and dependencies.
pub fn generated(n: usize) -> String {
    let mut y = String::from("name: big\nvariables:\n  API_KEY: {secret: true}\nservices:\n");
    for i in 0..n {
        let _ = write!(
            y,
            "  svc-{i}:\n    image: registry.example/svc-{i}:${{TAG:-1.0.0}}\n    command: server --port 80{i:03} --name svc-{i}\n    environment:\n      MODE: production\n      API_KEY: ${{API_KEY:-k}}\n      PEER: svc-{}\n    ports: [\"{}:80\"]\n    volumes: [\"data-{i}:/data\"]\n    networks: [front, back]\n    healthcheck:\n      command: [check, --quick]\n      interval: 10s\n      timeout: 5s\n      retries: 3\n      start_period: 5s\n    resources:\n      limits: {{cpus: 0.25, memory: 256M}}\n      reservations: {{cpus: 0.1, memory: 64M}}\n    restart: unless-stopped\n",
            (i + 1) % n,
            10000 + i
        );
        if i > 0 {
            let _ = write!(y, "    depends_on:\n      svc-{}:\n        condition: service_healthy\n", i - 1);
        }
    }
    y.push_str("networks:\n  front: {}\n  back: {}\nvolumes:\n");
    for i in 0..n {
        let _ = writeln!(y, "  data-{i}: {{size: 2Gi}}");
    }
    y
}

fn bench(c: &mut Criterion) {
    let base = read("manifests/learn-greek.yaml");
    let prod = read("profiles/prod.yaml");
    let env = Env::from_pairs([("JWT_SECRET_KEY", "bench")]);
    let big = generated(1000);
    // Sanity: the inputs are valid, so the loops below measure real work.
    let t = from_str("learn-greek.yaml", &base, Some(("prod.yaml", &prod))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(t.services.len(), 4);
    let tb = from_str("big.yaml", &big, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tb.services.len(), 1000);

    let mut g = c.benchmark_group("render");
    g.bench_function("seed/compose", |b| {
        b.iter(|| {
            let t = from_str("learn-greek.yaml", black_box(&base), Some(("prod.yaml", &prod)))
                .unwrap_or_else(|e| panic!("{e}"));
            black_box(deploy_compose::render(&t).to_yaml("bench"))
        })
    });
    g.bench_function("seed/k8s", |b| {
        b.iter(|| {
            let t = from_str("learn-greek.yaml", black_box(&base), Some(("prod.yaml", &prod)))
                .unwrap_or_else(|e| panic!("{e}"));
            black_box(deploy_k8s::render(&t, &env).unwrap_or_else(|e| panic!("{e}")).to_yaml())
        })
    });
    g.sample_size(20);
    g.bench_function("1000-services/compose", |b| {
        b.iter(|| {
            let t = from_str("big.yaml", black_box(&big), None).unwrap_or_else(|e| panic!("{e}"));
            black_box(deploy_compose::render(&t).to_yaml("bench"))
        })
    });
    g.bench_function("1000-services/k8s", |b| {
        b.iter(|| {
            let t = from_str("big.yaml", black_box(&big), None).unwrap_or_else(|e| panic!("{e}"));
            black_box(deploy_k8s::render(&t, &env).unwrap_or_else(|e| panic!("{e}")).to_yaml())
        })
    });
    g.finish();

    // Where the 1,000-service time goes, stage by stage, and the floor that the
    // YAML library sets: serde-saphyr reading the same text into an untyped
    // `serde_json::Value` (no locations, no validation), which any loader built
    // on it pays at least.
    let mut g = c.benchmark_group("stages-1000");
    g.sample_size(20);
    g.bench_function("load (parse, overlay, validate)", |b| {
        b.iter(|| from_str("big.yaml", black_box(&big), None).unwrap_or_else(|e| panic!("{e}")))
    });
    g.bench_function("floor: serde-saphyr parse into serde_json::Value", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_saphyr::from_str(black_box(&big)).unwrap_or_else(|e| panic!("{e}"));
            black_box(v)
        })
    });
    let compose = deploy_compose::render(&tb);
    g.bench_function("compose: render objects", |b| b.iter(|| black_box(deploy_compose::render(black_box(&tb)))));
    g.bench_function("compose: serialize YAML", |b| b.iter(|| black_box(compose.to_yaml("bench"))));
    let k8s = deploy_k8s::render(&tb, &env).unwrap_or_else(|e| panic!("{e}"));
    g.bench_function("k8s: render objects", |b| {
        b.iter(|| black_box(deploy_k8s::render(black_box(&tb), &env).unwrap_or_else(|e| panic!("{e}"))))
    });
    g.bench_function("k8s: serialize YAML", |b| b.iter(|| black_box(k8s.to_yaml())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
