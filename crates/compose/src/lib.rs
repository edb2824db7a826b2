//! The Docker Compose backend.
//!
//! - [`render`]: topology → typed Compose model → YAML that `docker compose` reads.
//! - [`engine`]: apply / diff / status / destroy against a Docker Engine through
//!   bollard, waiting for readiness in `depends_on` order.
//! - [`import`]: Compose files → a topology (and profiles), checked by rendering back.
//! - `paths`: host paths resolved by text, as Compose resolves them.
//! - `units`: sizes, CPUs, durations and restart policies as Compose and Docker spell them.

pub mod engine;
pub mod import;
pub mod model;
mod paths;
pub mod render;
mod units;

pub use render::{Rendered, render};
