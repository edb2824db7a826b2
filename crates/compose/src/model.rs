//! A typed subset of the Compose specification: what `deploy` writes.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

mod vocab;
pub use vocab::*;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub services: IndexMap<String, ComposeService>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub networks: IndexMap<String, ComposeNetwork>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub volumes: IndexMap<String, ComposeVolume>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub secrets: IndexMap<String, ComposeFileObject>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub configs: IndexMap<String, ComposeFileObject>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeService {
    /// Empty for a built image without `image:` (Compose names it `PROJECT-SERVICE`).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<ComposeBuild>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// `env_file`s, paths as written (their values stay out of the rendered file).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub env_file: Vec<ComposeEnvFile>,
    /// A null value: the variable of that name from the shell, as Compose reads `- NAME`.
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub environment: IndexMap<String, Option<String>>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub ports: Vec<ComposePort>,
    /// Ports other services connect to (the Engine's `ExposedPorts`, as `deploy apply` sets them).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub expose: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub volumes: Vec<ComposeMount>,
    #[serde(skip_serializing_if = "ComposeNetworks::is_empty", default)]
    pub networks: ComposeNetworks,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub depends_on: IndexMap<String, ComposeDependsOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<ComposeHealthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deploy: Option<ComposeDeploy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    #[serde(flatten)]
    pub container: ComposeContainer,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeBuild {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub args: IndexMap<String, Option<String>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ComposeDependsOn {
    pub condition: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeHealthcheck {
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub test: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_period: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeDeploy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(skip_serializing_if = "ComposeResources::is_empty", default)]
    pub resources: ComposeResources,
}

impl ComposeResources {
    pub fn is_empty(&self) -> bool {
        self.limits.is_none() && self.reservations.is_none()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeResources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<ComposeAmount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservations: Option<ComposeAmount>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeAmount {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeNetwork {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub external: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub internal: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub attachable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_ipv6: Option<bool>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub driver_opts: IndexMap<String, String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub labels: IndexMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipam: Option<ComposeIpam>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ComposeVolume {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub external: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub driver_opts: IndexMap<String, String>,
    #[serde(skip_serializing_if = "IndexMap::is_empty", default)]
    pub labels: IndexMap<String, String>,
}
