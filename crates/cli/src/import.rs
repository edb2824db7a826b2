//! `deploy import`: the command line of the Compose import. The work is the
//! Compose backend's (`deploy_compose::import`): it owns the Compose format
//! both ways.

use std::path::PathBuf;

use clap::Args;
use deploy_compose::import::{ImportError, ImportOptions, Input};
use deploy_report::ExitStatus;

use crate::error::CliError;

/// `deploy import FILE` or `deploy import --profile NAME=FILE...`.
#[derive(Args, Debug)]
pub struct ImportCmd {
    /// The Compose file to import (compose.yaml, docker-compose.yml, ...).
    pub file: Option<PathBuf>,
    /// One complete Compose file per environment, as NAME=FILE (repeat it): they become one topology
    /// with what they share and profiles/NAME.yaml with what differs.
    #[arg(long = "profile", value_name = "NAME=FILE")]
    pub profiles: Vec<String>,
    /// Folder to write deploy.yaml (and profiles/) in.
    #[arg(short = 'o', long = "out-dir", value_name = "DIR", default_value = ".")]
    pub out_dir: PathBuf,
    /// Overwrite deploy.yaml and profile files that exist.
    #[arg(long)]
    pub force: bool,
    /// A Compose profile to take as active, as `docker compose --profile NAME` (repeat it; default:
    /// $COMPOSE_PROFILES, comma-separated): its services are imported, those of other profiles left out.
    #[arg(long = "compose-profile", value_name = "NAME", env = "COMPOSE_PROFILES", value_delimiter = ',')]
    pub compose_profiles: Vec<String>,
    /// Exit 1 unless the import is lossless: a field not carried, a difference found, or a round trip
    /// that could not be checked (no `docker compose`) is then an error.
    #[arg(long)]
    pub strict: bool,
}

/// Runs the import; the report's text and the exit status.
pub fn run(cmd: &ImportCmd) -> Result<(String, ExitStatus), CliError> {
    let inputs = inputs(cmd)?;
    let opts = ImportOptions {
        inputs,
        out_dir: cmd.out_dir.clone(),
        force: cmd.force,
        compose_profiles: cmd.compose_profiles.clone(),
    };
    let report = deploy_compose::import::run(&opts).map_err(|e| match e {
        ImportError::Usage(m) => CliError::Usage(m),
        other => CliError::Failed(other.to_string()),
    })?;
    let status = if cmd.strict && !report.lossless() { ExitStatus::Error } else { ExitStatus::Ok };
    Ok((report.text(), status))
}

fn inputs(cmd: &ImportCmd) -> Result<Vec<Input>, CliError> {
    match (&cmd.file, cmd.profiles.is_empty()) {
        (Some(f), true) => Ok(vec![Input { profile: None, file: f.clone() }]),
        (None, false) => cmd
            .profiles
            .iter()
            .map(|p| match p.split_once('=') {
                Some((name, file)) if !name.is_empty() && !file.is_empty() => {
                    Ok(Input { profile: Some(name.to_string()), file: PathBuf::from(file) })
                }
                _ => {
                    Err(CliError::Usage(format!("--profile takes NAME=FILE, like prod=docker-compose.yml (got `{p}`)")))
                }
            })
            .collect(),
        (Some(_), false) => Err(CliError::Usage(
            "give either one Compose FILE or --profile NAME=FILE for each environment, not both".to_string(),
        )),
        (None, true) => Err(CliError::Usage(
            "give the Compose file to import, or --profile NAME=FILE for each environment".to_string(),
        )),
    }
}
