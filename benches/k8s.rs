//! The Kubernetes target against the in-process API double (kube-double):
//! API requests per apply and per diff, and their times. The double answers
//! over real HTTP on 127.0.0.1 and its simulated controller marks workloads
//! ready at once, so the figures are deploy's own cost (requests, watches,
//! serialization), not a cluster's.

// The allocator of the `deploy` binary, so in-process figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use deploy_topology::{Env, Topology, from_str};
use kube_double::{Behaviour, KubeDouble};

fn topology() -> Topology {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    from_str("learn-greek.yaml", &read("manifests/learn-greek.yaml"), Some(("prod.yaml", &read("profiles/prod.yaml"))))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn opts() -> deploy_orchestrator::ApplyOptions {
    deploy_orchestrator::ApplyOptions { timeout: Duration::from_secs(30), prune: false, parallel: 32, atomic: false }
}

/// `deploy apply --target k8s` as the CLI runs it.
async fn apply(
    client: &kube::Client,
    t: &Topology,
    env: &Env,
    o: &deploy_orchestrator::ApplyOptions,
    progress: Arc<dyn deploy_report::Progress>,
) -> Result<deploy_report::ApplyReport, String> {
    let sel = deploy_orchestrator::Selection::with_dependencies(t, env, &[]).map_err(|e| e.render())?;
    let c = deploy_k8s::Cluster::new(client.clone(), Default::default(), t, None, env, Default::default());
    Ok(deploy_orchestrator::apply(&c, &sel, o, progress).await)
}

/// `deploy diff --target k8s`.
async fn diff(client: &kube::Client, t: &Topology, env: &Env) -> Result<deploy_report::DiffReport, String> {
    let sel = deploy_orchestrator::Selection::with_dependencies(t, env, &[]).map_err(|e| e.render())?;
    let c = deploy_k8s::Cluster::new(client.clone(), Default::default(), t, None, env, Default::default());
    deploy_orchestrator::diff(&c, &sel, Duration::from_secs(30)).await.map_err(|e| e.to_string())
}

fn count(double: &KubeDouble) -> String {
    let r = double.requests();
    let by = |m: &str| r.iter().filter(|x| x.method == m && !x.is_watch()).count();
    let watches = r.iter().filter(|x| x.is_watch()).count();
    format!(
        "{} requests: {} PATCH (apply), {} GET/LIST, {} WATCH, {} other",
        r.len(),
        by("PATCH"),
        by("GET"),
        watches,
        r.len() - by("PATCH") - by("GET") - watches
    )
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    // kube's client spawns onto the runtime it is built in.
    let _guard = rt.enter();
    let double = rt.block_on(KubeDouble::start()).unwrap_or_else(|e| panic!("{e}"));
    double.set_default_behaviour(Behaviour::ReadyAfter(Duration::ZERO));
    let client = double.client();
    let env = Env::from_pairs([("JWT_SECRET_KEY", "bench-secret")]);
    let base = topology();
    let progress: Arc<dyn deploy_report::Progress> = Arc::new(deploy_report::NoProgress);

    // Request counts, once, for docs/benchmarks.md.
    let objects = deploy_k8s::render(&base, &env).unwrap_or_else(|e| panic!("{e}")).objects.len();
    double.reset_requests();
    let r = rt.block_on(apply(&client, &base, &env, &opts(), progress.clone())).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok, "{}", r.text());
    println!("k8s first apply ({objects} objects, {} workloads): {}", base.services.len(), count(&double));
    double.reset_requests();
    let r = rt.block_on(apply(&client, &base, &env, &opts(), progress.clone())).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.ok);
    println!("k8s re-apply, nothing to do: {}", count(&double));
    double.reset_requests();
    let d = rt.block_on(diff(&client, &base, &env)).unwrap_or_else(|e| panic!("{e}"));
    assert!(!d.has_changes(), "{}", d.text());
    println!("k8s diff, no changes: {}", count(&double));

    let mut g = c.benchmark_group("k8s-double");
    g.sample_size(20);
    let mut n = 0u32;
    g.bench_function("apply/first (fresh namespace)", |b| {
        b.iter(|| {
            n += 1;
            let mut t = base.clone();
            t.namespace = format!("bench-{n}");
            let r = rt.block_on(apply(&client, &t, &env, &opts(), progress.clone())).unwrap_or_else(|e| panic!("{e}"));
            assert!(r.ok);
            black_box(r)
        })
    });
    g.bench_function("apply/no-op", |b| {
        b.iter(|| {
            black_box(
                rt.block_on(apply(&client, &base, &env, &opts(), progress.clone())).unwrap_or_else(|e| panic!("{e}")),
            )
        })
    });
    g.bench_function("diff/no-changes", |b| {
        b.iter(|| black_box(rt.block_on(diff(&client, &base, &env)).unwrap_or_else(|e| panic!("{e}"))))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
