//! Pass 2: the top-level sections: project name, namespace, and volume and network keys as Kubernetes names.

use indexmap::IndexMap;

use super::{Ctx, DNS1123_HELP, is_dns1123};
use crate::diag::Diagnostic;
use crate::raw::{Located, RawTopology};

pub(super) fn check(cx: &mut Ctx, raw: &RawTopology) {
    check_name(cx, raw.name.as_ref());
    check_namespace(cx, raw.namespace.as_ref());
    check_keys(cx, &raw.volumes, "volumes");
    check_keys(cx, &raw.networks, "networks");
}

fn check_name(cx: &mut Ctx, name: Option<&Located<String>>) {
    if let Some(n) = name
        && !is_dns1123(&n.value)
    {
        cx.err(
            Diagnostic::new(format!("project name `{}` is not valid", n.value))
                .at(n.loc())
                .field("name")
                .help(DNS1123_HELP),
        );
    }
}

fn check_namespace(cx: &mut Ctx, namespace: Option<&Located<String>>) {
    if let Some(n) = namespace
        && !is_dns1123(&n.value)
    {
        cx.err(
            Diagnostic::new(format!("namespace `{}` is not a valid Kubernetes namespace", n.value))
                .at(n.loc())
                .field("namespace")
                .help(DNS1123_HELP),
        );
    }
}

/// What a volume or network key becomes on Kubernetes (`redis_data` → `redis-data`).
///
/// Validation has to know this to reject, before anything is touched, a key that
/// cannot name a Kubernetes object; `deploy-k8s` owns the conversion it renders
/// with (`k8s_name` in `crates/k8s/src/names.rs`), and the two must stay the same.
fn as_kubernetes_name(key: &str) -> String {
    key.replace('_', "-").to_ascii_lowercase()
}

/// Each key of `section` (`volumes` or `networks`) must be a DNS name once `_` becomes `-`.
fn check_keys<T>(cx: &mut Ctx, keys: &IndexMap<Located<String>, T>, section: &str) {
    for k in keys.keys() {
        let kn = as_kubernetes_name(&k.value);
        if !is_dns1123(&kn) {
            cx.err(
                Diagnostic::new(format!("{section} key `{}` cannot be used on Kubernetes (as `{kn}`)", k.value))
                    .at(k.loc())
                    .field(format!("{section}.{}", k.value))
                    .help(format!("{DNS1123_HELP}; `_` is turned into `-`")),
            );
        }
    }
}
