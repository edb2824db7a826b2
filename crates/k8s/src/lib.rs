//! Kubernetes backend for `deploy`.
//!
//! - [`render`]: topology → typed k8s-openapi objects (`deploy render --target k8s`);
//! - [`apply`], [`diff`], [`status`], [`destroy`]: the same objects against a cluster through
//!   `kube` (server-side apply as field manager `deploy`, readiness by watch).
//!
//! Every mapping decision is documented in docs/kubernetes.md.

pub mod error;
pub mod object;
pub mod ops;
pub mod render;
pub mod wait;

pub use error::Error;
pub use object::{Object, labels};
pub use ops::{ApplyOptions, FIELD_MANAGER, apply, client, destroy, diff, preflight, status};
pub use render::{Rendered, SecretMode, render, render_for_apply, render_with};
