//! Readiness probes run through the exec API (not Docker's own health
//! schedule, whose first check only comes after a full `interval`).

use std::time::Duration;

use bollard::Docker;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::StreamExt;

use super::docker::describe;
use super::plan::Probe;

/// The result of one probe run.
#[derive(Clone, Debug)]
pub struct ProbeResult {
    pub passed: bool,
    /// Exit code and output, trimmed, for progress lines and failure details.
    pub summary: String,
}

const MAX_OUTPUT: usize = 4096;

fn one_line(s: &str) -> String {
    let t = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.chars().count() > 200 { format!("{}…", t.chars().take(200).collect::<String>()) } else { t }
}

/// Runs the probe command once inside `container`, within `limit` (at most the probe's own timeout).
pub async fn run(docker: &Docker, container: &str, probe: &Probe, limit: Duration) -> ProbeResult {
    let limit = limit.min(probe.timeout).max(Duration::from_millis(100));
    match tokio::time::timeout(limit, run_inner(docker, container, probe)).await {
        Ok(r) => r,
        Err(_) => ProbeResult {
            passed: false,
            summary: format!("`{}` did not finish within {:.1}s", probe.cmd.join(" "), limit.as_secs_f64()),
        },
    }
}

async fn run_inner(docker: &Docker, container: &str, probe: &Probe) -> ProbeResult {
    let fail = |summary: String| ProbeResult { passed: false, summary };
    let exec = match docker
        .create_exec(
            container,
            CreateExecOptions::<String> {
                cmd: Some(probe.cmd.clone()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
    {
        Ok(e) => e,
        Err(e) => return fail(format!("cannot run the probe: {}", describe(&e))),
    };
    let mut output = String::new();
    match docker.start_exec(&exec.id, None).await {
        Ok(StartExecResults::Attached { output: mut stream, .. }) => {
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => {
                        if output.len() < MAX_OUTPUT {
                            output.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                        }
                    }
                    Err(e) => {
                        output.push_str(&format!(" (output stream error: {})", describe(&e)));
                        break;
                    }
                }
            }
        }
        Ok(StartExecResults::Detached) => {}
        Err(e) => return fail(format!("cannot run the probe: {}", describe(&e))),
    }
    // The exit code is set once the process ended; the stream closing means it has.
    let mut code = None;
    for _ in 0..20 {
        match docker.inspect_exec(&exec.id).await {
            Ok(i) if i.running == Some(true) => tokio::time::sleep(Duration::from_millis(25)).await,
            Ok(i) => {
                code = i.exit_code;
                break;
            }
            Err(e) => {
                return fail(format!("cannot read the probe's exit code: {}", describe(&e)));
            }
        }
    }
    let out = one_line(&output);
    match code {
        Some(0) => ProbeResult {
            passed: true,
            summary: if out.is_empty() { "exit 0".into() } else { format!("exit 0: {out}") },
        },
        Some(c) => fail(if out.is_empty() { format!("exit {c}") } else { format!("exit {c}: {out}") }),
        None => fail(format!("probe still running: {out}")),
    }
}
