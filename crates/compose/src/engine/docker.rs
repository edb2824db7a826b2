//! Connection to the engine and small helpers over bollard.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::errors::Error;
use bollard::models::{ContainerInspectResponse, ContainerSummary};
use bollard::query_parameters::{ListContainersOptionsBuilder, LogsOptionsBuilder};
use futures::StreamExt;

use super::EngineError;
use super::connect::Endpoint;
use super::labels;

/// Connects to `endpoint` and negotiates the API version within `timeout`,
/// so that an unreachable engine is reported before anything else happens.
/// Every later request is bounded by `timeout` too.
pub async fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<Docker, EngineError> {
    let unreachable =
        |reason: String| EngineError::Unreachable { host: endpoint.to_string(), reason, help: endpoint.help() };
    let docker = endpoint.open(timeout.as_secs().max(1)).map_err(unreachable)?;
    let docker = docker.with_timeout(timeout.max(Duration::from_secs(1)));
    match tokio::time::timeout(timeout, docker.negotiate_version()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(Error::RequestTimeoutError)) | Err(_) => {
            Err(unreachable(format!("no answer within {} (timed out)", deploy_orchestrator::human(timeout))))
        }
        Ok(Err(e)) => Err(unreachable(connect_cause(&e))),
    }
}

/// Why a connection failed, without the HTTP client's wrappers around it
/// (`client error (Connect): invalid peer certificate: UnknownIssuer` is the certificate).
fn connect_cause(e: &Error) -> String {
    const WRAPPERS: [&str; 4] = [
        "Error in the hyper legacy client: ",
        "client error (Connect): ",
        "client error (SendRequest): ",
        "connection error: ",
    ];
    let full = describe(e);
    let mut s = full.as_str();
    while let Some(rest) = WRAPPERS.iter().find_map(|w| s.strip_prefix(w)) {
        s = rest;
    }
    s.to_string()
}

/// A one-line description of a bollard error (the engine's own message when it sent one).
pub fn describe(e: &Error) -> String {
    match e {
        Error::RequestTimeoutError => "no answer from the Docker engine before the timeout".to_string(),
        Error::DockerResponseServerError { status_code, message } => format!("{message} (HTTP {status_code})"),
        Error::DockerStreamError { error } => error.clone(),
        other => {
            let mut s = other.to_string();
            let mut src = std::error::Error::source(other);
            while let Some(inner) = src {
                let m = inner.to_string();
                if !s.contains(&m) {
                    s.push_str(": ");
                    s.push_str(&m);
                }
                src = inner.source();
            }
            s
        }
    }
}

pub fn is_not_found(e: &Error) -> bool {
    matches!(e, Error::DockerResponseServerError { status_code: 404, .. })
}

pub fn is_status(e: &Error, code: u16) -> bool {
    matches!(e, Error::DockerResponseServerError { status_code, .. } if *status_code == code)
}

/// Inspects a container; `None` when it does not exist.
pub async fn inspect(docker: &Docker, name_or_id: &str) -> Result<Option<ContainerInspectResponse>, Error> {
    match docker.inspect_container(name_or_id, None).await {
        Ok(c) => Ok(Some(c)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every container (running or not) deploy created for this project (its
/// project label and deploy's own), optionally of one service. Containers
/// another tool made for a project of the same name are not deploy's to touch.
pub async fn project_containers(
    docker: &Docker,
    project: &str,
    service: Option<&str>,
) -> Result<Vec<ContainerSummary>, Error> {
    let mut label = vec![
        format!("{}={project}", labels::PROJECT),
        format!("{}=False", labels::ONEOFF),
        format!("{}={}", labels::MANAGED_BY, labels::MANAGER),
    ];
    if let Some(s) = service {
        label.push(format!("{}={s}", labels::SERVICE));
    }
    let mut filters: HashMap<&str, Vec<String>> = HashMap::new();
    filters.insert("label", label);
    let opts = ListContainersOptionsBuilder::default().all(true).filters(&filters).build();
    docker.list_containers(Some(opts)).await
}

/// The container's name without Docker's leading slash.
pub fn container_name(c: &ContainerInspectResponse) -> String {
    c.name.as_deref().unwrap_or_default().trim_start_matches('/').to_string()
}

pub fn summary_name(c: &ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_string())
        .or_else(|| c.id.clone())
        .unwrap_or_default()
}

pub fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The last `lines` lines of a container's output, each prefixed for display.
pub async fn logs_tail(docker: &Docker, container: &str, lines: usize) -> Vec<String> {
    let opts = LogsOptionsBuilder::default().stdout(true).stderr(true).tail(&lines.to_string()).build();
    let collect = async {
        let mut out = String::new();
        let mut stream = docker.logs(container, Some(opts));
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => out.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
                Err(e) => {
                    out.push_str(&format!("(cannot read logs: {})", describe(&e)));
                    break;
                }
            }
        }
        out
    };
    let text = tokio::time::timeout(Duration::from_secs(5), collect).await.unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = all.len().saturating_sub(lines);
    all[start..].iter().map(|l| format!("log: {l}")).collect()
}
