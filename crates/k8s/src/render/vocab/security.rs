//! `security_opt`, `tty` and `stdin_open` on Kubernetes: what the container's
//! `securityContext` can say (no-new-privileges, seccomp and AppArmor
//! profiles, SELinux labels) is said there; the rest is a warning.

use deploy_topology as topo;
use k8s_openapi::api::core::v1::{AppArmorProfile, Container, SELinuxOptions, SeccompProfile};

use super::super::{Renderer, container_security};

impl Renderer<'_> {
    pub(super) fn security_options(&mut self, s: &topo::Service, c: &mut Container) {
        c.tty = s.tty.then_some(true);
        c.stdin = s.stdin_open.then_some(true);
        for opt in &s.security_opt {
            // Docker takes `name:value` and `name=value` alike.
            let (key, value) = opt.split_once([':', '=']).map_or((opt.as_str(), ""), |(k, v)| (k, v));
            let sc = c.security_context.get_or_insert_with(container_security);
            let warning = match (key, value) {
                ("no-new-privileges", "" | "true") => None,
                ("no-new-privileges", "false") => {
                    sc.allow_privilege_escalation = None;
                    None
                }
                ("seccomp", "unconfined") => {
                    sc.seccomp_profile = Some(SeccompProfile { type_: "Unconfined".into(), localhost_profile: None });
                    Some(
                        "runs without a seccomp profile (seccompProfile Unconfined), which the Pod Security baseline forbids",
                    )
                }
                ("seccomp", "builtin") => None,
                ("seccomp", _) => Some(
                    "a seccomp profile file has no place in a pod spec: install it on the nodes and set seccompProfile type Localhost; the runtime's default profile is used",
                ),
                ("apparmor", p) => {
                    let (type_, localhost_profile) = match p {
                        "unconfined" => ("Unconfined", None),
                        "runtime/default" | "docker-default" => ("RuntimeDefault", None),
                        other => ("Localhost", Some(other.to_string())),
                    };
                    sc.app_armor_profile = Some(AppArmorProfile { type_: type_.into(), localhost_profile });
                    (type_ == "Localhost")
                        .then_some("the AppArmor profile must be loaded on every node (appArmorProfile Localhost)")
                }
                ("label", l) => selinux(&mut sc.se_linux_options, l),
                _ => Some("has no Kubernetes equivalent"),
            };
            if let Some(w) = warning {
                self.warn(format!("service `{}`: security_opt `{opt}`: {w}", s.name));
            }
        }
    }
}

/// `label:user:U`, `label:role:R`, `label:type:T`, `label:level:L` as seLinuxOptions; `label:disable` has none.
fn selinux(slot: &mut Option<SELinuxOptions>, label: &str) -> Option<&'static str> {
    let none = Some("has no Kubernetes equivalent");
    let Some((field, value)) = label.split_once(':') else { return none };
    if !["user", "role", "type", "level"].contains(&field) {
        return none;
    }
    let se = slot.get_or_insert_with(SELinuxOptions::default);
    match field {
        "user" => se.user = Some(value.to_string()),
        "role" => se.role = Some(value.to_string()),
        "type" => se.type_ = Some(value.to_string()),
        "level" => se.level = Some(value.to_string()),
        _ => return none,
    }
    None
}
