//! `deploy`: one topology, two platforms, the same deployment.
//!
//! This crate only wires things: it parses arguments, loads the topology
//! (topology crate), calls the chosen backend (compose or k8s crate) and
//! prints its report. No platform logic lives here.

mod compose;
mod k8s;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use deploy_report::{ApplyReport, DestroyReport, DiffReport, Progress, StatusReport, exit};
use deploy_topology::{Env, Errors, Topology};

/// Deploy one service topology to Docker Compose or Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "deploy", version, about, long_about = None, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

const EXIT_CODES: &str = "Exit codes: 0 success (diff: no changes), 1 error, 2 diff found changes, 130 interrupted.";

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the Compose file or the Kubernetes objects for a profile.
    Render(RenderCmd),
    /// Apply to Docker or Kubernetes and wait until every service is ready.
    Apply(ApplyCmd),
    /// Show planned versus live state, object by object and field by field (exit 2 when they differ).
    Diff(TargetCmd),
    /// Show each service's live state and readiness.
    Status(TargetCmd),
    /// Remove what the project created (volumes and PVCs stay unless --volumes).
    Destroy(DestroyCmd),
    /// Check the topology and profile without touching any platform.
    Validate(Source),
    /// Print the JSON Schema of topology and profile files.
    Schema,
}

#[derive(Args, Debug)]
struct Source {
    /// Topology file.
    #[arg(short = 'f', long = "file", default_value = "deploy.yaml", global = true)]
    file: PathBuf,
    /// Profile: a name (profiles/NAME.yaml next to the topology) or a path.
    #[arg(short = 'p', long, env = "DEPLOY_PROFILE", global = true)]
    profile: Option<String>,
    /// Variables for `${VAR}` that the environment does not set (default: `.env` beside the topology, if any).
    #[arg(long, env = "DEPLOY_ENV_FILE", global = true)]
    env_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Target {
    Compose,
    K8s,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Output {
    Text,
    Json,
}

#[derive(Args, Debug)]
struct RenderCmd {
    #[command(flatten)]
    source: Source,
    #[arg(short = 't', long, value_enum, default_value = "compose")]
    target: Target,
}

#[derive(Args, Debug)]
struct TargetCmd {
    #[command(flatten)]
    source: Source,
    #[arg(short = 't', long, value_enum, default_value = "compose")]
    target: Target,
    /// Report format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Output,
    /// Give up waiting after this long (like 120s, 2m).
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    timeout: Duration,
    /// Kubernetes: kubeconfig context.
    #[arg(long)]
    context: Option<String>,
    /// Kubernetes: namespace (default: the topology's).
    #[arg(short = 'n', long)]
    namespace: Option<String>,
    /// Only these services (and what they depend on).
    services: Vec<String>,
}

#[derive(Args, Debug)]
struct ApplyCmd {
    #[command(flatten)]
    common: TargetCmd,
    /// Recreate containers even when nothing changed.
    #[arg(long)]
    force_recreate: bool,
    /// Remove objects of this project that the topology no longer has (never volumes).
    #[arg(long)]
    prune: bool,
    /// Kubernetes: take over fields owned by another field manager.
    #[arg(long)]
    force_conflicts: bool,
}

#[derive(Args, Debug)]
struct DestroyCmd {
    #[command(flatten)]
    common: TargetCmd,
    /// Also delete named volumes / PersistentVolumeClaims: their data is lost.
    #[arg(long)]
    volumes: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse::<deploy_topology::units::Dur>().map(|d| d.get())
}

/// Options every backend command takes.
#[derive(Clone, Debug)]
pub struct CommonArgs {
    pub services: Vec<String>,
    pub timeout: Duration,
    pub context: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ApplyArgs {
    pub common: CommonArgs,
    pub force_recreate: bool,
    pub prune: bool,
    pub force_conflicts: bool,
}

#[derive(Clone, Debug)]
pub struct DestroyArgs {
    pub common: CommonArgs,
    pub volumes: bool,
}

/// An error a backend could not turn into a report: printed as `error: ...`, exit 1.
#[derive(Debug)]
pub struct CliError(pub String);

impl From<String> for CliError {
    fn from(s: String) -> Self {
        CliError(s)
    }
}
impl From<&str> for CliError {
    fn from(s: &str) -> Self {
        CliError(s.to_string())
    }
}
impl From<Errors> for CliError {
    fn from(e: Errors) -> Self {
        CliError(e.render())
    }
}

impl TargetCmd {
    fn args(&self) -> CommonArgs {
        CommonArgs {
            services: self.services.clone(),
            timeout: self.timeout,
            context: self.context.clone(),
            namespace: self.namespace.clone(),
        }
    }
}

fn load(source: &Source) -> Result<Topology, CliError> {
    deploy_topology::load(&source.file, source.profile.as_deref()).map_err(|e| CliError(e.render()))
}

/// The variables `${VAR}` reads: the environment, then the env file.
fn env(source: &Source, t: &Topology) -> Result<Env, CliError> {
    Ok(Env::load(&t.project_dir, source.env_file.as_deref())?)
}

// Parsing and rendering a big topology is mostly small allocations; mimalloc
// makes `deploy render` of 1,000 services about a fifth faster than the
// system allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(CliError(msg)) => {
            let msg = msg.trim_end();
            if msg.starts_with("error") || msg.contains('×') {
                eprintln!("{msg}");
            } else {
                eprintln!("error: {msg}");
            }
            exit::ERROR
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Runs a backend call to completion on a small runtime. `Ok(None)` means
/// Ctrl-C stopped it: a note says how to converge, and the exit code is 130.
fn block_on<R>(what: &str, fut: impl Future<Output = Result<R, CliError>>) -> Result<Option<R>, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        tokio::select! {
            r = fut => r.map(Some),
            _ = tokio::signal::ctrl_c() => {
                eprintln!("\ninterrupted: {what} stopped part-way; run the same command again to converge (nothing is deleted)");
                Ok(None)
            }
        }
    })
}

/// Prints a report: pretty JSON for machines, or its text form.
fn emit<R: serde::Serialize>(output: Output, report: &R, text: impl FnOnce(&R) -> String) -> Result<(), CliError> {
    if output == Output::Json {
        let json = serde_json::to_string_pretty(report).map_err(|e| CliError(format!("cannot write JSON: {e}")))?;
        out(&(json + "\n"))
    } else {
        out(&text(report))
    }
}

/// Writes `text` to standard output in one write. A reader that went away
/// (`deploy render ... | head`) is not an error: the rest was not wanted, and
/// the command's own exit code stands.
fn out(text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError(format!("cannot write to standard output: {e}")))
        }
        _ => Ok(()),
    }
}

/// Warnings to standard error, all in one write (a big topology can have
/// thousands, and standard error is unbuffered).
fn warn_all(warnings: &[String]) {
    use std::io::Write as _;
    if warnings.is_empty() {
        return;
    }
    let text: String = warnings.iter().map(|w| format!("warning: {w}\n")).collect();
    // Nowhere left to report a failure to write to standard error.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

fn run(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Schema => {
            out(&format!("{}\n", deploy_topology::json_schema()))?;
            Ok(exit::OK)
        }
        Command::Validate(source) => {
            let t = load(&source)?;
            out(&format!(
                "{}: valid ({} services, {} networks, {} volumes{})\n",
                source.file.display(),
                t.services.len(),
                t.networks.len(),
                t.volumes.len(),
                t.profile.as_ref().map(|p| format!(", profile {p}")).unwrap_or_default()
            ))?;
            Ok(exit::OK)
        }
        Command::Render(cmd) => {
            let t = load(&cmd.source)?;
            let source = match &cmd.source.profile {
                Some(p) => format!("{} (profile {p})", cmd.source.file.display()),
                None => cmd.source.file.display().to_string(),
            };
            let (text, warnings) = match cmd.target {
                Target::Compose => {
                    let r = deploy_compose::render(&t);
                    (r.to_yaml(&source), r.warnings)
                }
                Target::K8s => k8s::render(&t, &env(&cmd.source, &t)?)?,
            };
            warn_all(&warnings);
            out(&text)?;
            // A big topology is a large object graph; the process is about to
            // exit, so let it go without walking it to free each part.
            std::mem::forget((t, text, warnings));
            Ok(exit::OK)
        }
        Command::Apply(cmd) => {
            let t = load(&cmd.common.source)?;
            let env = env(&cmd.common.source, &t)?;
            let args = ApplyArgs {
                common: cmd.common.args(),
                force_recreate: cmd.force_recreate,
                prune: cmd.prune,
                force_conflicts: cmd.force_conflicts,
            };
            let progress: Arc<dyn Progress> = progress::for_terminal(cmd.common.output == Output::Json);
            let result = block_on("apply", async {
                match cmd.common.target {
                    Target::Compose => compose::apply(&t, &env, &args, progress.clone()).await,
                    Target::K8s => k8s::apply(&t, &env, &args, progress.clone()).await,
                }
            });
            progress::finish(&progress);
            let Some(report) = result? else { return Ok(exit::INTERRUPTED) };
            emit(cmd.common.output, &report, ApplyReport::text)?;
            Ok(if report.ok { exit::OK } else { exit::ERROR })
        }
        Command::Diff(cmd) => {
            let t = load(&cmd.source)?;
            let env = env(&cmd.source, &t)?;
            let args = cmd.args();
            let Some(report) = block_on("diff", async {
                match cmd.target {
                    Target::Compose => compose::diff(&t, &env, &args).await,
                    Target::K8s => k8s::diff(&t, &env, &args).await,
                }
            })?
            else {
                return Ok(exit::INTERRUPTED);
            };
            emit(cmd.output, &report, DiffReport::text)?;
            Ok(report.exit_code())
        }
        Command::Status(cmd) => {
            let t = load(&cmd.source)?;
            let args = cmd.args();
            let Some(report) = block_on("status", async {
                match cmd.target {
                    Target::Compose => compose::status(&t, &args).await,
                    Target::K8s => k8s::status(&t, &args).await,
                }
            })?
            else {
                return Ok(exit::INTERRUPTED);
            };
            emit(cmd.output, &report, StatusReport::text)?;
            Ok(exit::OK)
        }
        Command::Destroy(cmd) => {
            let t = load(&cmd.common.source)?;
            let args = DestroyArgs { common: cmd.common.args(), volumes: cmd.volumes };
            let Some(report) = block_on("destroy", async {
                match cmd.common.target {
                    Target::Compose => compose::destroy(&t, &args).await,
                    Target::K8s => k8s::destroy(&t, &args).await,
                }
            })?
            else {
                return Ok(exit::INTERRUPTED);
            };
            emit(cmd.common.output, &report, DestroyReport::text)?;
            Ok(exit::OK)
        }
    }
}
