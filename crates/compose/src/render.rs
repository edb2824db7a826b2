//! Topology → Compose file.
//!
//! Values are written as the topology has them, `${VAR}` interpolation
//! included: Compose interpolates them itself, so a secret never lands in
//! the rendered file (it stays `${JWT_SECRET_KEY:?...}`).

use deploy_topology::{MountSource, ProbeTest, Topology, Value};

use crate::model::*;

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
}

fn raw(v: &Value) -> String {
    v.raw.clone()
}

/// Renders the whole topology.
pub fn render(t: &Topology) -> Rendered {
    let mut warnings = Vec::new();
    let mut file = ComposeFile { name: Some(t.name.clone()), ..Default::default() };
    for s in t.services.values() {
        if s.replicas > 1 {
            warnings.push(format!(
                "service `{}`: replicas: {} is used on Kubernetes only; Compose runs one container",
                s.name, s.replicas
            ));
        }
        let cs = ComposeService {
            image: raw(&s.image),
            build: s.build.as_ref().map(|b| ComposeBuild {
                context: b.context.clone(),
                dockerfile: b.dockerfile.clone(),
                target: b.target.clone(),
            }),
            container_name: s.container_name.clone(),
            entrypoint: s.entrypoint.as_ref().map(|a| a.iter().map(raw).collect()),
            command: s.command.as_ref().map(|a| a.iter().map(raw).collect()),
            environment: s.environment.iter().map(|(k, v)| (k.clone(), raw(v))).collect(),
            ports: s.ports.iter().map(|p| p.short()).collect(),
            volumes: s.mounts.iter().map(|m| m.short()).collect(),
            networks: s.networks.clone(),
            depends_on: s
                .depends_on
                .iter()
                .map(|(k, c)| (k.clone(), ComposeDependsOn { condition: c.as_str().to_string() }))
                .collect(),
            healthcheck: s.healthcheck.as_ref().map(|h| ComposeHealthcheck {
                test: match &h.test {
                    ProbeTest::Exec(args) => std::iter::once("CMD".to_string()).chain(args.iter().map(raw)).collect(),
                    ProbeTest::Shell(cmd) => vec!["CMD-SHELL".to_string(), raw(cmd)],
                },
                interval: h.interval.map(|d| d.to_compose()),
                timeout: h.timeout.map(|d| d.to_compose()),
                retries: h.retries,
                start_period: h.start_period.map(|d| d.to_compose()),
            }),
            deploy: {
                let amount = |a: &deploy_topology::Amount| {
                    (!a.is_empty()).then(|| ComposeAmount {
                        cpus: a.cpus.map(|c| c.to_compose()),
                        memory: a.memory.map(|m| m.to_compose()),
                    })
                };
                let r = &s.resources;
                (!r.limits.is_empty() || !r.reservations.is_empty()).then(|| ComposeDeploy {
                    resources: ComposeResources { limits: amount(&r.limits), reservations: amount(&r.reservations) },
                })
            },
            restart: s.restart.map(|r| r.as_compose()),
        };
        file.services.insert(s.name.clone(), cs);
    }
    for n in t.networks.values() {
        file.networks
            .insert(n.key.clone(), ComposeNetwork { driver: Some(n.driver.clone()), name: Some(n.name.clone()) });
    }
    // Only volumes some service mounts: Compose creates what is declared.
    let used: std::collections::HashSet<&str> = t
        .services
        .values()
        .flat_map(|s| s.mounts.iter())
        .filter_map(|m| match &m.source {
            MountSource::Volume(v) => Some(v.as_str()),
            MountSource::Bind(_) => None,
        })
        .collect();
    for v in t.volumes.values() {
        if used.contains(v.key.as_str()) {
            file.volumes.insert(v.key.clone(), ComposeVolume { name: Some(v.name.clone()) });
        }
    }
    Rendered { file, warnings }
}
