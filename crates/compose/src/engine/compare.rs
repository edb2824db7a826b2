//! Planned spec versus a live container, field by field.
//!
//! The live side is read back from `docker inspect` and normalised the same
//! way the plan is. Where Docker fills in defaults from the image (command,
//! entrypoint, environment such as PATH, health check, exposed ports), the
//! plan's silence is compared with the image's value, and only environment
//! keys the plan sets or the previous apply set (label `dev.deploy.env-keys`)
//! are compared.

use std::collections::{BTreeMap, BTreeSet};

use bollard::models::{ContainerInspectResponse, HealthConfig, ImageInspect, RestartPolicyNameEnum};
use deploy_report::FieldChange;

use super::labels;
use super::plan::{HealthSpec, PlannedService, Spec};

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
    /// Image ID the container runs.
    pub image_id: Option<String>,
    /// Aliases per network.
    pub aliases: BTreeMap<String, Vec<String>>,
}

pub fn live_spec(c: &ContainerInspectResponse) -> Live {
    let cfg = c.config.clone().unwrap_or_default();
    let hc = c.host_config.clone().unwrap_or_default();
    let lbl = cfg.labels.clone().unwrap_or_default();
    let env: BTreeMap<String, String> = cfg
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv, String::new()),
        })
        .collect();
    let mut ports: Vec<String> = Vec::new();
    for (key, bindings) in hc.port_bindings.clone().unwrap_or_default() {
        for b in bindings.unwrap_or_default() {
            let ip = b.host_ip.unwrap_or_default();
            let ip = if ip.is_empty() { "0.0.0.0".to_string() } else { ip };
            ports.push(format!("{ip}:{}->{key}", b.host_port.unwrap_or_default()));
        }
    }
    ports.sort();
    let mut expose = cfg.exposed_ports.clone().unwrap_or_default();
    expose.sort();
    let mut mounts: Vec<String> = hc
        .mounts
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|m| {
            let kind = match m.typ {
                Some(bollard::models::MountType::BIND) => "bind",
                Some(bollard::models::MountType::VOLUME) => "volume",
                Some(bollard::models::MountType::TMPFS) => "tmpfs",
                _ => "other",
            };
            format!(
                "{kind} {} -> {}{}",
                m.source.unwrap_or_default(),
                m.target.unwrap_or_default(),
                if m.read_only == Some(true) { ":ro" } else { "" }
            )
        })
        .collect();
    mounts.sort();
    let nets = c.network_settings.as_ref().and_then(|n| n.networks.clone()).unwrap_or_default();
    let mut networks: Vec<String> = nets.keys().cloned().collect();
    networks.sort();
    let aliases = nets.iter().map(|(k, e)| (k.clone(), e.aliases.clone().unwrap_or_default())).collect();
    let restart = match hc.restart_policy.as_ref().and_then(|r| r.name) {
        None | Some(RestartPolicyNameEnum::EMPTY) | Some(RestartPolicyNameEnum::NO) => "no".to_string(),
        Some(RestartPolicyNameEnum::ALWAYS) => "always".to_string(),
        Some(RestartPolicyNameEnum::UNLESS_STOPPED) => "unless-stopped".to_string(),
        Some(RestartPolicyNameEnum::ON_FAILURE) => {
            match hc.restart_policy.as_ref().and_then(|r| r.maximum_retry_count).filter(|n| *n > 0) {
                Some(n) => format!("on-failure:{n}"),
                None => "on-failure".to_string(),
            }
        }
    };
    let healthcheck = cfg.healthcheck.as_ref().and_then(health_spec);
    let spec_labels: BTreeMap<String, String> = lbl
        .iter()
        .filter(|(k, _)| !labels::METADATA.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let prev_env_keys = lbl
        .get(labels::ENV_KEYS)
        .map(|s| s.split(',').filter(|k| !k.is_empty()).map(String::from).collect())
        .unwrap_or_default();
    Live {
        spec: Spec {
            name: super::docker::container_name(c),
            image: cfg.image.clone().unwrap_or_default(),
            entrypoint: cfg.entrypoint.clone(),
            command: cfg.cmd.clone(),
            env,
            ports,
            expose,
            mounts,
            networks,
            nano_cpus: opt_num(hc.nano_cpus),
            memory: opt_num(hc.memory),
            memory_reservation: opt_num(hc.memory_reservation),
            healthcheck,
            restart,
            labels: spec_labels,
        },
        hash: lbl.get(labels::CONFIG_HASH).cloned(),
        prev_env_keys,
        image_id: c.image.clone(),
        aliases,
    }
}

/// Field differences between the plan and a live container. `image` is the
/// local image the plan refers to, when present: its defaults stand in for
/// what the plan leaves unset, and its ID must be the one the container runs.
pub fn compare(p: &PlannedService, live: &Live, image: Option<&ImageInspect>) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let plan = &p.spec;
    let l = &live.spec;
    let icfg = image.and_then(|i| i.config.clone()).unwrap_or_default();
    let mut push = |path: &str, live: Option<String>, planned: Option<String>, secret: bool| {
        if live != planned {
            out.push(FieldChange::new(path, live.as_deref(), planned.as_deref(), secret));
        }
    };

    push("name", Some(l.name.clone()), Some(plan.name.clone()), false);
    push("image", Some(l.image.clone()), Some(plan.image.clone()), false);
    if let (Some(img), Some(live_id)) = (image, &live.image_id)
        && let Some(id) = &img.id
        && id != live_id
    {
        push("image.id", Some(live_id.clone()), Some(id.clone()), false);
    }

    // Entrypoint and command: an unset entrypoint inherits the image's; an unset
    // command inherits the image's only when the entrypoint is inherited too.
    let want_entry = plan
        .entrypoint
        .clone()
        .or_else(|| if image.is_some() { icfg.entrypoint.clone() } else { l.entrypoint.clone() });
    let want_cmd = match (&plan.command, &plan.entrypoint) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(_)) => None,
        (None, None) => {
            if image.is_some() {
                icfg.cmd.clone()
            } else {
                l.command.clone()
            }
        }
    };
    let norm = |v: Option<Vec<String>>| v.filter(|a| !a.is_empty());
    push("entrypoint", list(&norm(l.entrypoint.clone())), list(&norm(want_entry)), p.secret_args);
    push("command", list(&norm(l.command.clone())), list(&norm(want_cmd)), p.secret_args);

    // Environment: keys the plan sets, plus keys the previous apply set.
    let image_env: BTreeMap<String, String> = icfg
        .env
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let mut keys: BTreeSet<&String> = plan.env.keys().collect();
    keys.extend(live.prev_env_keys.iter());
    for k in keys {
        let planned = plan.env.get(k).cloned().or_else(|| image_env.get(k).cloned());
        let lv = l.env.get(k).cloned();
        push(&format!("env.{k}"), lv, planned, p.secret_env.contains(k));
    }

    let joined = |v: &Vec<String>| (!v.is_empty()).then(|| v.join(", "));
    push("ports", joined(&l.ports), joined(&plan.ports), false);
    // Exposed ports: the image adds its own; only the planned ones must be there.
    let missing_expose: Vec<String> = plan.expose.iter().filter(|e| !l.expose.contains(e)).cloned().collect();
    if !missing_expose.is_empty() {
        push("expose", joined(&l.expose), joined(&plan.expose), false);
    }
    push("mounts", joined(&l.mounts), joined(&plan.mounts), false);
    push("networks", joined(&l.networks), joined(&plan.networks), false);
    for n in &plan.networks {
        if let Some(a) = live.aliases.get(n)
            && !a.contains(&p.service)
        {
            push(&format!("networks.{n}.aliases"), Some(a.join(", ")), Some(p.service.clone()), false);
        }
    }
    let num = |v: Option<i64>| v.map(|n| n.to_string());
    push("resources.limits.nano_cpus", num(l.nano_cpus), num(plan.nano_cpus), false);
    push("resources.limits.memory", num(l.memory), num(plan.memory), false);
    push("resources.reservations.memory", num(l.memory_reservation), num(plan.memory_reservation), false);

    // Health check: an unset one inherits the image's.
    let want_hc = plan.healthcheck.clone().or_else(|| icfg.healthcheck.as_ref().and_then(health_spec));
    let hc_secret = false;
    match (&l.healthcheck, &want_hc) {
        (Some(a), Some(b)) => {
            push("healthcheck.test", Some(shell_join(&a.test)), Some(shell_join(&b.test)), hc_secret);
            let d = |v: Option<i64>| v.map(|ns| format!("{}s", ns as f64 / 1e9));
            // Fields the plan leaves unset take Docker's defaults: not compared.
            if b.interval_ns.is_some() {
                push("healthcheck.interval", d(a.interval_ns), d(b.interval_ns), false);
            }
            if b.timeout_ns.is_some() {
                push("healthcheck.timeout", d(a.timeout_ns), d(b.timeout_ns), false);
            }
            if b.retries.is_some() {
                push("healthcheck.retries", num(a.retries), num(b.retries), false);
            }
            if b.start_period_ns.is_some() {
                push("healthcheck.start_period", d(a.start_period_ns), d(b.start_period_ns), false);
            }
        }
        (a, b) => {
            push("healthcheck", a.as_ref().map(HealthSpec::describe), b.as_ref().map(HealthSpec::describe), hc_secret)
        }
    }
    push("restart", Some(l.restart.clone()), Some(plan.restart.clone()), false);

    // Labels the plan owns (metadata such as the working directory is not compared).
    let mut lkeys: BTreeSet<&String> = plan.labels.keys().collect();
    lkeys.extend(l.labels.keys().filter(|k| k.starts_with("com.docker.compose.") || k.starts_with("dev.deploy.")));
    for k in lkeys {
        push(&format!("labels.{k}"), l.labels.get(k).cloned(), plan.labels.get(k).cloned(), false);
    }
    // The hash covers everything above; when only it differs, say so.
    if out.is_empty() && live.hash.as_deref() != Some(p.hash.as_str()) {
        out.push(FieldChange::new(
            format!("labels.{}", labels::CONFIG_HASH),
            live.hash.as_deref(),
            Some(&p.hash),
            false,
        ));
    }
    out
}
