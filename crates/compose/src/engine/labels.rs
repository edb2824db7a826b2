//! The labels `docker compose` puts on what it creates (so that it recognises
//! ours), plus a few of our own under `dev.deploy.`.

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const VERSION: &str = "com.docker.compose.version";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const IMAGE: &str = "com.docker.compose.image";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

/// Comma-separated list of the environment keys the last apply set, so that
/// diff can tell variables we set from those the image sets (PATH...).
pub const ENV_KEYS: &str = "dev.deploy.env-keys";
/// Comma-separated list of the environment keys whose values were secret at
/// the last apply (absent when none): diff masks their live values even once
/// the topology no longer has them, or no longer marks them secret.
pub const SECRET_KEYS: &str = "dev.deploy.secret-keys";
/// Which tool created the object: containers, networks and volumes deploy
/// creates carry it, and prune and destroy touch nothing without it.
pub const MANAGED_BY: &str = "dev.deploy.managed-by";
/// Value of [`MANAGED_BY`].
pub const MANAGER: &str = "deploy";

/// The Compose version written into `com.docker.compose.version`: the
/// Compose file format level this tool follows. Informational only.
pub const COMPOSE_VERSION: &str = "2.40.3";

/// Labels that describe where and by what the project was applied from: not
/// part of the desired state (no recreate when they differ).
pub const METADATA: &[&str] = &[CONFIG_HASH, CONFIG_FILES, WORKING_DIR, VERSION, IMAGE, MANAGED_BY];
