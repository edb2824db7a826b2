//! Kubernetes backend for `deploy`.
//!
//! - [`render`]: topology → typed k8s-openapi objects (`deploy render --target k8s`);
//!
//! Every mapping decision is documented in docs/kubernetes.md.

pub mod object;
pub mod render;

pub use object::{labels, Object};
pub use render::{render, render_with, Rendered, SecretMode};
