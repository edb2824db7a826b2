//! Engine tests that need no Docker Engine.

use deploy_topology::Env;

use super::compare;
use super::plan;

const SEED: &str = include_str!("../../../../manifests/learn-greek.yaml");
const PROD: &str = include_str!("../../../../profiles/prod.yaml");

#[test]
fn prod_redis_plan_maps_resources_and_restart() {
    let t = deploy_topology::from_str("learn-greek.yaml", SEED, Some(("prod", PROD))).expect("topology");
    let env = Env::default();
    let plans = plan::plan(&t, &env, &["redis".to_string()]).expect("plan");
    let p = &plans[0];
    assert_eq!(p.spec.name, "learn-greek-redis");
    assert_eq!(p.spec.nano_cpus, Some(250_000_000));
    assert_eq!(p.spec.memory, Some(268_435_456));
    assert_eq!(p.spec.memory_reservation, Some(67_108_864));
    assert_eq!(p.spec.restart, "unless-stopped");
    assert!(p.spec.ports.is_empty());
    assert_eq!(p.spec.mounts, vec!["volume learn-greek-redis-data -> /data".to_string()]);
    let hc = p.spec.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(hc.test, vec!["CMD", "redis-cli", "ping"]);
    assert_eq!(hc.interval_ns, Some(10_000_000_000));
    assert_eq!(hc.start_period_ns, Some(5_000_000_000));
    // Hash is stable.
    let again = plan::plan(&t, &env, &["redis".to_string()]).expect("plan");
    assert_eq!(again[0].hash, p.hash);
}

#[test]
fn a_container_created_from_the_plan_compares_equal() {
    let t = deploy_topology::from_str("learn-greek.yaml", SEED, Some(("prod", PROD))).expect("topology");
    let plans = plan::plan(&t, &Env::default(), &["redis".to_string()]).expect("plan");
    let p = &plans[0];
    // What inspect would return for a container created from this plan.
    let body = p.create_body(Some("sha256:abc"));
    let mut nets = std::collections::HashMap::new();
    nets.insert(p.first_network.clone(), plan::endpoint(&p.service));
    let live = bollard::models::ContainerInspectResponse {
        name: Some(format!("/{}", p.spec.name)),
        image: Some("sha256:abc".into()),
        config: Some(bollard::models::ContainerConfig {
            image: body.image.clone(),
            cmd: body.cmd.clone(),
            entrypoint: Some(vec!["/usr/local/bin/docker-entrypoint".into()]),
            env: Some({
                let mut e = body.env.clone().unwrap_or_default();
                e.push("PATH=/usr/local/bin:/usr/bin:/bin".into());
                e
            }),
            labels: body.labels.clone(),
            healthcheck: body.healthcheck.clone(),
            exposed_ports: Some(vec!["6379/tcp".into()]),
            ..Default::default()
        }),
        host_config: body.host_config.clone(),
        network_settings: Some(bollard::models::NetworkSettings { networks: Some(nets), ..Default::default() }),
        ..Default::default()
    };
    let image = bollard::models::ImageInspect {
        id: Some("sha256:abc".into()),
        config: Some(bollard::models::ImageConfig {
            entrypoint: Some(vec!["/usr/local/bin/docker-entrypoint".into()]),
            cmd: Some(vec!["redis-server".into()]),
            env: Some(vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let l = compare::live_spec(&live);
    let changes = compare::compare(p, &l, Some(&image));
    assert!(changes.is_empty(), "{changes:#?}");
}
