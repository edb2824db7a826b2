//! Planned spec versus a live container, field by field.
//!
//! The live side is read back from `docker inspect` and normalised the same
//! way the plan is. Where Docker fills in defaults from the image (command,
//! entrypoint, environment such as PATH, health check, exposed ports), the
//! plan's silence is compared with the image's value, and only environment
//! keys the plan sets or the previous apply set (label `dev.deploy.env-keys`)
//! are compared.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bollard::models::{
    ContainerInspectResponse, HealthConfig, HostConfig, ImageConfig, ImageInspect, RestartPolicyNameEnum,
};
use deploy_report::FieldChange;
use deploy_topology::is_secret_name;

use super::labels;
use super::plan::{HealthSpec, PlannedService, Spec, describe_bind, describe_mount};
use super::vocab;
use crate::units::{cpus_from_nano, duration_from_nanos, size_from_bytes};

fn list(v: &Option<Vec<String>>) -> Option<String> {
    v.as_ref().map(|a| if a.is_empty() { "[]".to_string() } else { shell_join(a) })
}

fn shell_join(a: &[String]) -> String {
    a.iter()
        .map(|s| {
            if s.is_empty() || s.chars().any(|c| c.is_whitespace() || "\"'\\$`".contains(c)) {
                format!("'{}'", s.replace('\'', "'\\''"))
            } else {
                s.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Docker health config as a spec; `None` when there is none or it is disabled (`NONE`).
fn health_spec(h: &HealthConfig) -> Option<HealthSpec> {
    let test = h.test.clone().unwrap_or_default();
    (!test.is_empty() && test.first().map(String::as_str) != Some("NONE")).then(|| HealthSpec {
        test,
        interval_ns: opt_num(h.interval),
        timeout_ns: opt_num(h.timeout),
        retries: opt_num(h.retries),
        start_period_ns: opt_num(h.start_period),
        // Not compared: engines before API 1.44 drop it.
        start_interval_ns: None,
    })
}

fn opt_num(v: Option<i64>) -> Option<i64> {
    v.filter(|n| *n != 0)
}

/// What the live container amounts to, in the plan's terms.
pub struct Live {
    pub spec: Spec,
    pub hash: Option<String>,
    /// Env keys the previous apply set.
    pub prev_env_keys: BTreeSet<String>,
    /// Env keys whose values were secret at the previous apply.
    pub prev_secret_keys: BTreeSet<String>,
    /// Image ID the container runs.
    pub image_id: Option<String>,
    /// Aliases per network.
    pub aliases: BTreeMap<String, Vec<String>>,
}

/// Reads a container back from `docker inspect` in the plan's terms.
pub fn live_spec(c: &ContainerInspectResponse) -> Live {
    let cfg = c.config.clone().unwrap_or_default();
    let hc = c.host_config.clone().unwrap_or_default();
    let lbl = cfg.labels.clone().unwrap_or_default();
    let nets = c.network_settings.as_ref().and_then(|n| n.networks.clone()).unwrap_or_default();
    let mut networks: Vec<String> = nets.keys().cloned().collect();
    networks.sort();
    let mut expose = cfg.exposed_ports.clone().unwrap_or_default();
    expose.sort();
    Live {
        spec: Spec {
            name: super::docker::container_name(c),
            image: cfg.image.clone().unwrap_or_default(),
            entrypoint: cfg.entrypoint.clone(),
            command: cfg.cmd.clone(),
            env: live_env(cfg.env.as_deref().unwrap_or_default()),
            ports: live_ports(&hc),
            expose,
            mounts: live_mounts(&hc),
            networks,
            nano_cpus: opt_num(hc.nano_cpus),
            memory: opt_num(hc.memory),
            memory_reservation: opt_num(hc.memory_reservation),
            healthcheck: cfg.healthcheck.as_ref().and_then(health_spec),
            restart: live_restart(&hc),
            labels: owned_labels(&lbl),
            vocab: vocab::live(&cfg, &hc),
        },
        hash: lbl.get(labels::CONFIG_HASH).cloned(),
        prev_env_keys: key_list(&lbl, labels::ENV_KEYS),
        prev_secret_keys: key_list(&lbl, labels::SECRET_KEYS),
        image_id: c.image.clone(),
        aliases: nets.iter().map(|(k, e)| (k.clone(), e.aliases.clone().unwrap_or_default())).collect(),
    }
}

/// A comma-separated list of keys in label `name`.
fn key_list(lbl: &HashMap<String, String>, name: &str) -> BTreeSet<String> {
    lbl.get(name).map(|s| s.split(',').filter(|k| !k.is_empty()).map(String::from).collect()).unwrap_or_default()
}

/// The labels that are part of the desired state: all but the metadata ones.
fn owned_labels(lbl: &HashMap<String, String>) -> BTreeMap<String, String> {
    lbl.iter().filter(|(k, _)| !labels::METADATA.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// `KEY=VALUE` entries as a map (an entry without `=` is an empty value).
fn live_env(env: &[String]) -> BTreeMap<String, String> {
    env.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), String::new()),
        })
        .collect()
}

/// Port bindings as `HOST_IP:HOST_PORT->PORT/PROTO`, sorted (an empty host IP is `0.0.0.0`).
fn live_ports(hc: &HostConfig) -> Vec<String> {
    let mut ports: Vec<String> = Vec::new();
    for (key, bindings) in hc.port_bindings.clone().unwrap_or_default() {
        for b in bindings.unwrap_or_default() {
            let ip = b.host_ip.unwrap_or_default();
            let ip = if ip.is_empty() { "0.0.0.0".to_string() } else { ip };
            ports.push(format!("{ip}:{}->{key}", b.host_port.unwrap_or_default()));
        }
    }
    ports.sort();
    ports
}

/// Mounts as the plan describes them, sorted: the `Mounts`, and the `Binds`
/// with an SELinux relabel (the others are anonymous volumes a recreate carried over).
fn live_mounts(hc: &HostConfig) -> Vec<String> {
    let mut mounts: Vec<String> = hc.mounts.iter().flatten().map(describe_mount).collect();
    for b in hc.binds.iter().flatten() {
        let parts: Vec<&str> = b.split(':').collect();
        if let [source, target, opts] = parts.as_slice() {
            let opts: Vec<&str> = opts.split(',').collect();
            if let Some(z) = opts.iter().find(|o| **o == "z" || **o == "Z") {
                mounts.push(describe_bind(source, target, opts.contains(&"ro"), z));
            }
        }
    }
    mounts.sort();
    mounts
}

/// The restart policy as the plan spells it (`no`, `always`, `unless-stopped`, `on-failure[:N]`).
fn live_restart(hc: &HostConfig) -> String {
    let policy = hc.restart_policy.as_ref();
    match policy.and_then(|r| r.name) {
        None | Some(RestartPolicyNameEnum::EMPTY) | Some(RestartPolicyNameEnum::NO) => "no".to_string(),
        Some(RestartPolicyNameEnum::ALWAYS) => "always".to_string(),
        Some(RestartPolicyNameEnum::UNLESS_STOPPED) => "unless-stopped".to_string(),
        Some(RestartPolicyNameEnum::ON_FAILURE) => {
            match policy.and_then(|r| r.maximum_retry_count).filter(|n| *n > 0) {
                Some(n) => format!("on-failure:{n}"),
                None => "on-failure".to_string(),
            }
        }
    }
}

/// The differences found so far, in the order they are reported.
#[derive(Default)]
struct Changes(Vec<FieldChange>);

impl Changes {
    fn push(&mut self, path: &str, live: Option<String>, planned: Option<String>, secret: bool) {
        if live != planned {
            self.0.push(FieldChange::new(path, live.as_deref(), planned.as_deref(), secret));
        }
    }
}

fn joined(v: &[String]) -> Option<String> {
    (!v.is_empty()).then(|| v.join(", "))
}

fn num(v: Option<i64>) -> Option<String> {
    v.map(|n| n.to_string())
}

/// Field differences between the plan and a live container. `image` is the
/// local image the plan refers to, when present: its defaults stand in for
/// what the plan leaves unset, and its ID must be the one the container runs.
pub fn compare(p: &PlannedService, live: &Live, image: Option<&ImageInspect>) -> Vec<FieldChange> {
    let mut ch = Changes::default();
    let (plan, l) = (&p.spec, &live.spec);
    let icfg = image.and_then(|i| i.config.clone()).unwrap_or_default();
    ch.push("name", Some(l.name.clone()), Some(plan.name.clone()), false);
    ch.push("image", Some(l.image.clone()), Some(plan.image.clone()), false);
    if let (Some(img), Some(live_id)) = (image, &live.image_id)
        && let Some(id) = &img.id
        && id != live_id
    {
        ch.push("image.id", Some(live_id.clone()), Some(id.clone()), false);
    }
    compare_command(&mut ch, p, l, image.map(|_| &icfg));
    compare_env(&mut ch, p, live, &icfg);
    compare_ports_mounts_networks(&mut ch, p, live);
    // In the topology's units (`0.25`, `256M`), not the Engine's (NanoCpus, bytes).
    let (cpus, size) = (|v: Option<i64>| v.map(cpus_from_nano), |v: Option<i64>| v.map(size_from_bytes));
    ch.push("resources.limits.cpus", cpus(l.nano_cpus), cpus(plan.nano_cpus), false);
    ch.push("resources.limits.memory", size(l.memory), size(plan.memory), false);
    ch.push("resources.reservations.memory", size(l.memory_reservation), size(plan.memory_reservation), false);
    compare_healthcheck(&mut ch, plan, l, &icfg, p.secret_probe);
    ch.push("restart", Some(l.restart.clone()), Some(plan.restart.clone()), false);
    compare_labels(&mut ch, plan, l);
    for (path, lv, pv) in vocab::differences(&plan.vocab, &l.vocab, &icfg) {
        ch.push(path, lv, pv, false);
    }
    // The hash covers everything above; when only it differs, say so.
    if ch.0.is_empty() && live.hash.as_deref() != Some(p.hash.as_str()) {
        let path = format!("labels.{}", labels::CONFIG_HASH);
        ch.0.push(FieldChange::new(path, live.hash.as_deref(), Some(&p.hash), false));
    }
    ch.0
}

/// Entrypoint and command: an unset entrypoint inherits the image's (`image`, when at
/// hand, else the container's own); an unset command inherits only along with it.
fn compare_command(ch: &mut Changes, p: &PlannedService, l: &Spec, image: Option<&ImageConfig>) {
    let plan = &p.spec;
    // What unset fields inherit: the image's values when it is at hand, else the container's own.
    let (entrypoint, cmd) = match image {
        Some(i) => (i.entrypoint.clone(), i.cmd.clone()),
        None => (l.entrypoint.clone(), l.command.clone()),
    };
    let want_entry = plan.entrypoint.clone().or(entrypoint);
    let want_cmd = match (&plan.command, &plan.entrypoint) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(_)) => None,
        (None, None) => cmd,
    };
    let norm = |v: Option<Vec<String>>| v.filter(|a| !a.is_empty());
    ch.push("entrypoint", list(&norm(l.entrypoint.clone())), list(&norm(want_entry)), p.secret_args);
    ch.push("command", list(&norm(l.command.clone())), list(&norm(want_cmd)), p.secret_args);
}

/// Environment: keys the plan sets, plus keys the previous apply set; the image's values
/// stand in for keys the plan does not set. A value is masked when the plan's is secret,
/// when the live one was (label `dev.deploy.secret-keys`), or when its name looks secret.
fn compare_env(ch: &mut Changes, p: &PlannedService, live: &Live, icfg: &ImageConfig) {
    let image_env: BTreeMap<String, String> = icfg
        .env
        .iter()
        .flatten()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let mut keys: BTreeSet<&String> = p.spec.env.keys().collect();
    keys.extend(live.prev_env_keys.iter());
    for k in keys {
        let planned = p.spec.env.get(k).cloned().or_else(|| image_env.get(k).cloned());
        let lv = live.spec.env.get(k).cloned();
        let secret = p.secret_env.contains(k) || live.prev_secret_keys.contains(k) || is_secret_name(k);
        ch.push(&format!("env.{k}"), lv, planned, secret);
    }
}

fn compare_ports_mounts_networks(ch: &mut Changes, p: &PlannedService, live: &Live) {
    let (plan, l) = (&p.spec, &live.spec);
    ch.push("ports", joined(&l.ports), joined(&plan.ports), false);
    // Exposed ports: the image adds its own; only the planned ones must be there.
    if plan.expose.iter().any(|e| !l.expose.contains(e)) {
        ch.push("expose", joined(&l.expose), joined(&plan.expose), false);
    }
    ch.push("mounts", joined(&l.mounts), joined(&plan.mounts), false);
    // With a `network_mode` the container joins no network of the project (`network_mode` is compared).
    if plan.vocab.network_mode.is_none() {
        ch.push("networks", joined(&l.networks), joined(&plan.networks), false);
    }
    for n in &plan.networks {
        let mut want = vec![p.service.clone()];
        want.extend(plan.vocab.aliases.get(n).into_iter().flatten().cloned());
        if let Some(a) = live.aliases.get(n)
            && want.iter().any(|w| !a.contains(w))
        {
            ch.push(&format!("networks.{n}.aliases"), Some(a.join(", ")), Some(want.join(", ")), false);
        }
    }
}

/// Health check: an unset one inherits the image's; fields the plan leaves unset take
/// Docker's defaults and are not compared. Its command is masked when it uses a secret.
fn compare_healthcheck(ch: &mut Changes, plan: &Spec, l: &Spec, icfg: &ImageConfig, secret: bool) {
    let image = icfg.healthcheck.as_ref().and_then(health_spec).filter(|_| !plan.vocab.no_healthcheck);
    let want = plan.healthcheck.clone().or(image);
    let (Some(a), Some(b)) = (&l.healthcheck, &want) else {
        let describe = |h: &Option<HealthSpec>| h.as_ref().map(HealthSpec::describe);
        ch.push("healthcheck", describe(&l.healthcheck), describe(&want), secret);
        return;
    };
    ch.push("healthcheck.test", Some(shell_join(&a.test)), Some(shell_join(&b.test)), secret);
    let d = |v: Option<i64>| v.map(duration_from_nanos);
    if b.interval_ns.is_some() {
        ch.push("healthcheck.interval", d(a.interval_ns), d(b.interval_ns), false);
    }
    if b.timeout_ns.is_some() {
        ch.push("healthcheck.timeout", d(a.timeout_ns), d(b.timeout_ns), false);
    }
    if b.retries.is_some() {
        ch.push("healthcheck.retries", num(a.retries), num(b.retries), false);
    }
    if b.start_period_ns.is_some() {
        ch.push("healthcheck.start_period", d(a.start_period_ns), d(b.start_period_ns), false);
    }
}

/// Labels the plan owns, and Compose's or ours the container has beyond them (metadata
/// such as the working directory is not compared).
fn compare_labels(ch: &mut Changes, plan: &Spec, l: &Spec) {
    let mut keys: BTreeSet<&String> = plan.labels.keys().collect();
    keys.extend(l.labels.keys().filter(|k| k.starts_with("com.docker.compose.") || k.starts_with("dev.deploy.")));
    for k in keys {
        ch.push(&format!("labels.{k}"), l.labels.get(k).cloned(), plan.labels.get(k).cloned(), false);
    }
}
