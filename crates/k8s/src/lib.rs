//! Kubernetes backend for `deploy`.
//!
//! - [`render`]: topology → typed k8s-openapi objects (`deploy render --target k8s`);
//! - [`Cluster`]: the same objects against a cluster through `kube`, as the
//!   hooks of the shared orchestrator (server-side apply as field manager
//!   `deploy`, readiness by watch, dry-run diff, status, removal).
//! - `units` and `names`: quantities, probe seconds and object names as Kubernetes spells them.
//!
//! Every mapping decision is documented in docs/kubernetes.md.

mod atomic;
pub mod cluster;
pub mod error;
mod lease;
mod names;
pub mod object;
pub mod ops;
pub mod render;
pub mod replace;
mod units;
mod verify;
pub mod wait;

pub use cluster::{Cluster, ClusterOptions, Endpoint, client};
pub use error::Error;
pub use object::{Object, labels};
pub use ops::FIELD_MANAGER;
pub use render::{PlaceholderSecrets, Rendered, SecretMode, render, render_for_apply, render_with};
