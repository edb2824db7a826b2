//! What `validate` reports, as text or JSON (`-o json`): the topology's
//! counts when it is valid, every problem (file, line, column, field, help)
//! when it is not.

use std::fmt::Write as _;

use deploy_topology::Topology;
use serde::Serialize;

use crate::args::Source;
use crate::error::CliError;

#[derive(Serialize)]
pub struct Validation {
    pub file: String,
    pub profile: Option<String>,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub services: usize,
    pub networks: usize,
    pub volumes: usize,
    /// Whether required variables (`${VAR:?}`) were checked (not with `--no-variables`).
    pub variables_checked: bool,
    pub errors: Vec<Problem>,
}

#[derive(Serialize)]
pub struct Problem {
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub field: Option<String>,
    pub help: Option<String>,
}

pub fn valid(source: &Source, t: &Topology, variables_checked: bool) -> Validation {
    Validation {
        file: shown(source),
        profile: source.profile.clone(),
        valid: true,
        project: Some(t.name.clone()),
        services: t.services.len(),
        networks: t.networks.len(),
        volumes: t.volumes.len(),
        variables_checked,
        errors: Vec::new(),
    }
}

/// A failed validation; `errors` holds the topology's diagnostics one by one
/// (another failure, such as an unreadable env file, as one message).
pub fn invalid(source: &Source, e: &CliError) -> Validation {
    let errors = match e {
        CliError::Topology(errs) => errs.iter().map(problem).collect(),
        CliError::Usage(m) | CliError::Failed(m) => {
            vec![Problem { message: m.clone(), file: None, line: None, column: None, field: None, help: None }]
        }
    };
    Validation {
        file: shown(source),
        profile: source.profile.clone(),
        valid: false,
        project: None,
        services: 0,
        networks: 0,
        volumes: 0,
        variables_checked: false,
        errors,
    }
}

fn problem(d: &deploy_topology::Diagnostic) -> Problem {
    Problem {
        message: d.message.clone(),
        file: d.loc.as_ref().map(|l| l.file.path.display().to_string()),
        line: d.loc.as_ref().map(|l| l.line),
        column: d.loc.as_ref().map(|l| l.col),
        field: d.field.clone(),
        help: d.help.clone(),
    }
}

impl Validation {
    pub fn text(&self) -> String {
        let mut s = format!(
            "{}: valid ({} services, {} networks, {} volumes{})\n",
            self.file,
            self.services,
            self.networks,
            self.volumes,
            self.profile.as_ref().map(|p| format!(", profile {p}")).unwrap_or_default()
        );
        if !self.variables_checked {
            let _ = writeln!(s, "required variables (${{VAR:?}}) not checked (--no-variables)");
        }
        s
    }
}

/// The topology file as reports name it (`<stdin>` for `-f -`).
fn shown(source: &Source) -> String {
    if source.file == std::path::Path::new(deploy_topology::STDIN) {
        "<stdin>".to_string()
    } else {
        source.file.display().to_string()
    }
}
