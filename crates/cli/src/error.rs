//! Errors typed up to `main`, printed once there, each with its exit status.

use deploy_report::ExitStatus;
use deploy_topology::Errors;

#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong: exit 64.
    Usage(String),
    /// The command failed: exit 1.
    Failed(String),
    /// The topology, a profile or an env file is wrong: exit 1, every problem located.
    Topology(Errors),
}

impl CliError {
    pub fn status(&self) -> ExitStatus {
        match self {
            CliError::Usage(_) => ExitStatus::Usage,
            CliError::Failed(_) | CliError::Topology(_) => ExitStatus::Error,
        }
    }
    /// Prints the error on standard error, once.
    pub fn print(&self) {
        let rendered;
        let msg = match self {
            CliError::Usage(msg) | CliError::Failed(msg) => msg.trim_end(),
            CliError::Topology(e) => {
                rendered = e.render();
                rendered.trim_end()
            }
        };
        if msg.starts_with("error") || msg.contains('×') {
            eprintln!("{msg}");
        } else {
            eprintln!("error: {msg}");
        }
    }
}

impl From<Errors> for CliError {
    fn from(e: Errors) -> Self {
        CliError::Topology(e)
    }
}

impl From<deploy_orchestrator::Error> for CliError {
    fn from(e: deploy_orchestrator::Error) -> Self {
        CliError::Failed(e.to_string())
    }
}
