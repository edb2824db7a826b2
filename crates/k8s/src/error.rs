//! Errors of the Kubernetes backend.

/// What can go wrong before a report can be produced.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The topology does not resolve (missing required variables...): nothing was sent.
    #[error("{}", .0.render())]
    Topology(deploy_topology::Errors),
    /// No usable kubeconfig / in-cluster configuration.
    #[error("cannot configure the Kubernetes client: {0}")]
    Config(String),
    #[error("{}", describe(.0))]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Other(String),
}

impl From<deploy_topology::Errors> for Error {
    fn from(e: deploy_topology::Errors) -> Self {
        Error::Topology(e)
    }
}

/// A Kubernetes API error as a sentence.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => {
            let reason = if s.reason.is_empty() { String::new() } else { format!(" ({})", s.reason) };
            format!("Kubernetes API error {}{reason}: {}", s.code, s.message)
        }
        other => format!("cannot reach the Kubernetes API: {other}"),
    }
}

/// The field managers named in a server-side apply conflict message
/// (`Apply failed with 1 conflict: conflict with "kubectl-edit": .spec.replicas`).
pub fn conflict_managers(message: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = message;
    while let Some(i) = rest.find("conflict with \"") {
        rest = &rest[i + "conflict with \"".len()..];
        if let Some(j) = rest.find('"') {
            let m = rest[..j].to_string();
            if !out.contains(&m) {
                out.push(m);
            }
            rest = &rest[j..];
        } else {
            break;
        }
    }
    out
}

/// The message for a 409 conflict on `object`.
pub fn conflict_message(object: &str, status: &kube::core::Status) -> String {
    let managers = conflict_managers(&status.message);
    let who = if managers.is_empty() {
        "another field manager".to_string()
    } else {
        managers.iter().map(|m| format!("\"{m}\"")).collect::<Vec<_>>().join(", ")
    };
    let fields: Vec<String> = status
        .details
        .as_ref()
        .map(|d| d.causes.iter().filter(|c| !c.field.is_empty()).map(|c| c.field.clone()).collect())
        .unwrap_or_default();
    let fields = if fields.is_empty() { String::new() } else { format!(" ({})", fields.join(", ")) };
    format!(
        "{object}: conflict: fields this topology sets{fields} are owned by {who}, which changed them outside deploy; \
         run again with --force-conflicts to take them over, or change the topology to match"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn managers_from_conflict_message() {
        let m =
            "Apply failed with 2 conflicts: conflict with \"kubectl-edit\": .spec.replicas\nconflict with \"helm\": .x";
        assert_eq!(super::conflict_managers(m), vec!["kubectl-edit".to_string(), "helm".to_string()]);
    }
}
