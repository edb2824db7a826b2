//! `deploy`: one topology, two platforms, the same deployment.
//!
//! This crate only wires things: it parses arguments, loads the topology
//! (topology crate), validates the service selection (orchestrator crate),
//! connects the chosen backend once, runs the verb through the shared
//! orchestrator and prints its report. No platform logic lives here.

mod args;
mod backend;
mod error;
mod import;
mod progress;
mod summary;
mod terminal;
mod verify;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};
use deploy_orchestrator::{self as orchestrator, ApplyOptions, DestroyOptions, Selection};
use deploy_report::{ApplyReport, DestroyReport, DiffReport, ExitStatus, Progress, StatusReport};
use deploy_topology::{Env, Errors, Topology};

use args::{
    ApplyCmd, Cli, Command, DestroyCmd, K8sFlags, Output, RenderCmd, SecretsMode, Source, Target, TargetCmd,
    ValidateCmd,
};
use args::{GraphCmd, GraphFormat};
use backend::{Extra, connect, on_backend};
use error::CliError;

// Parsing and rendering a big topology is mostly small allocations; mimalloc
// makes `deploy render` of 1,000 services about a fifth faster than the
// system allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let parsed = Cli::command().try_get_matches().and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let (cli, matches) = match parsed {
        Ok(p) => p,
        Err(e) => {
            // Help and version go to stdout with 0; a usage error must not look like "diff found changes".
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { ExitStatus::Usage.code() } else { 0 });
        }
    };
    let given = Given { graph_target: on_command_line(&matches, "graph", "target") };
    let status = run(cli, given).unwrap_or_else(|e| {
        e.print();
        e.status()
    });
    ExitCode::from(status.code())
}

/// What the parsed arguments cannot tell: whether an option with a default
/// (or an environment variable) was written on the command line.
#[derive(Clone, Copy, Debug, Default)]
struct Given {
    graph_target: bool,
}

fn on_command_line(m: &clap::ArgMatches, verb: &str, arg: &str) -> bool {
    m.subcommand_matches(verb).and_then(|v| v.value_source(arg)) == Some(clap::parser::ValueSource::CommandLine)
}

fn run(cli: Cli, given: Given) -> Result<ExitStatus, CliError> {
    terminal::set_color(cli.color);
    match cli.command {
        Command::Schema => {
            out(&format!("{}\n", deploy_topology::json_schema()))?;
            Ok(ExitStatus::Ok)
        }
        Command::Completions { shell } => {
            out(&terminal::completions(shell))?;
            Ok(ExitStatus::Ok)
        }
        Command::Man => {
            let page = terminal::man_page().map_err(|e| CliError::Failed(format!("cannot write the man page: {e}")))?;
            out(&page)?;
            Ok(ExitStatus::Ok)
        }
        Command::Validate(cmd) => validate(&cmd),
        Command::Import(cmd) => {
            let (text, status) = import::run(&cmd)?;
            out(&text)?;
            Ok(status)
        }
        Command::Render(cmd) => render(&cmd),
        Command::Apply(cmd) => apply(&cmd),
        Command::Diff(cmd) => diff(&cmd),
        Command::Status(cmd) => status(&cmd),
        Command::Verify(cmd) => verify::verify(&cmd),
        Command::Graph(cmd) => graph(&cmd, given.graph_target),
        Command::Destroy(cmd) => destroy(&cmd),
    }
}

/// The topology and profile, validated; a topology without services is an
/// error for every command (an empty file, or `-f` naming the wrong one).
fn load(source: &Source) -> Result<Topology, CliError> {
    let t = deploy_topology::load(&source.file, source.profile.as_deref())?;
    if t.services.is_empty() {
        return Err(deploy_topology::Errors::from(
            deploy_topology::Diagnostic::new(format!("{}: the topology has no services", source.file.display()))
                .field("services")
                .help(
                    "declare at least one under `services:` (see `deploy schema`), or check that -f names the topology",
                ),
        )
        .into());
    }
    Ok(t)
}

/// The topology and the variables `${VAR}` reads: the environment, then the env file.
fn load_with_env(source: &Source) -> Result<(Topology, Env), CliError> {
    let t = load(source)?;
    let env = Env::load(&t.project_dir, source.env_file.as_deref())?;
    warn_all(&orchestrator::secrets_in_names(&t, &env));
    Ok((t, env))
}

/// Rejects options the chosen target does not take.
fn check(cmd: &TargetCmd, k8s: K8sFlags, compose: args::ComposeFlags) -> Result<(), CliError> {
    match cmd.misplaced(k8s, compose) {
        Some((flag, target)) => Err(CliError::Usage(format!(
            "{flag} is an option of the {target} target only; drop it, or use --target {target}"
        ))),
        None => Ok(()),
    }
}

fn validate(cmd: &ValidateCmd) -> Result<ExitStatus, CliError> {
    let checked = load(&cmd.source).and_then(|t| {
        if !cmd.no_variables {
            let env = Env::load(&t.project_dir, cmd.source.env_file.as_deref())?;
            t.check_resolvable(&env, &[])?;
            warn_all(&orchestrator::secrets_in_names(&t, &env));
        }
        Ok(t)
    });
    let t = match (checked, cmd.output) {
        (Ok(t), _) => t,
        (Err(e), Output::Json) => {
            out(&(serde_json::to_string_pretty(&summary::invalid(&cmd.source, &e)).unwrap_or_default() + "\n"))?;
            return Ok(ExitStatus::Error);
        }
        (Err(e), Output::Text) => return Err(e),
    };
    let r = summary::valid(&cmd.source, &t, !cmd.no_variables);
    match cmd.output {
        Output::Json => out(&(serde_json::to_string_pretty(&r).unwrap_or_default() + "\n"))?,
        Output::Text => out(&r.text())?,
    }
    Ok(ExitStatus::Ok)
}

fn render(cmd: &RenderCmd) -> Result<ExitStatus, CliError> {
    if cmd.target == Target::Compose && cmd.secrets.is_some() {
        return Err(CliError::Usage(
            "--secrets is an option of the k8s target only (a Compose file keeps `${VAR}` for Compose to \
             resolve); drop it, or use --target k8s"
                .into(),
        ));
    }
    let t = load(&cmd.source)?;
    let source = match &cmd.source.profile {
        Some(p) => format!("{} (profile {p})", cmd.source.file.display()),
        None => cmd.source.file.display().to_string(),
    };
    let json = cmd.output == Output::Json;
    let (text, warnings) = match cmd.target {
        Target::Compose => {
            let r = deploy_compose::render(&t);
            (if json { r.to_json() } else { r.to_yaml(&source) }, r.warnings)
        }
        Target::K8s => {
            let env = Env::load(&t.project_dir, cmd.source.env_file.as_deref())?;
            let policy = match cmd.secrets.unwrap_or(SecretsMode::Refuse) {
                SecretsMode::Refuse => deploy_k8s::PlaceholderSecrets::Refuse,
                SecretsMode::Omit => deploy_k8s::PlaceholderSecrets::Omit,
                SecretsMode::Placeholders => deploy_k8s::PlaceholderSecrets::Keep,
            };
            let r = deploy_k8s::render(&t, &env)?.placeholder_policy(policy).map_err(CliError::Failed)?;
            (if json { r.to_json() } else { r.to_yaml() }, r.warnings)
        }
    };
    warn_all(&warnings);
    out(&text)?;
    // A big topology is a large object graph; the process is about to exit,
    // so let it go without walking it to free each part.
    std::mem::forget((t, text, warnings));
    Ok(ExitStatus::Ok)
}

fn apply(cmd: &ApplyCmd) -> Result<ExitStatus, CliError> {
    let c = &cmd.common;
    let k8s = K8sFlags { force_conflicts: cmd.force_conflicts, replace: cmd.replace, adopt: cmd.adopt };
    check(c, k8s, args::ComposeFlags { renew_anon_volumes: cmd.renew_anon_volumes, build: cmd.build })?;
    let (t, env) = load_with_env(&c.source)?;
    // Unknown services and missing variables fail here, before any platform is touched.
    let sel = Selection::with_dependencies(&t, &env, &c.services)?;
    let timeout = c.timeout.unwrap_or(Duration::from_secs(120));
    if cmd.dry_run {
        return dry_run(cmd, &t, &env, &sel, timeout);
    }
    let tracker = progress::Tracker::new(progress::for_mode(cmd.progress, c.output == Output::Json));
    let progress: Arc<dyn Progress> = tracker.clone();
    let extra = Extra {
        force_recreate: cmd.force_recreate,
        force_conflicts: cmd.force_conflicts,
        renew_anon_volumes: cmd.renew_anon_volumes,
        build: cmd.build,
        replace: cmd.replace,
        adopt: cmd.adopt,
    };
    let started = std::time::Instant::now();
    let result = block_on("apply", Some(&tracker), async {
        let backend = connect(c, &t, &env, extra, timeout).await?;
        let opts = ApplyOptions { timeout, prune: cmd.prune, parallel: 32, atomic: cmd.atomic };
        Ok(on_backend!(&backend, b => {
            let mut r = orchestrator::apply(b, &sel, &opts, progress.clone()).await;
            if cmd.verify {
                verify::after_apply(b, (&t, &env, &sel), &mut r, (timeout, started), progress.clone()).await;
            }
            r
        }))
    });
    progress::finish(&progress);
    let Some(report) = result? else { return Ok(ExitStatus::Interrupted) };
    emit(c.output, &report, ApplyReport::text)?;
    Ok(verify::apply_status(&report))
}

/// `apply --dry-run`: what apply would do, through the backend's dry run
/// (Kubernetes: a server-side dry run); nothing is changed, no lock is taken.
fn dry_run(
    cmd: &ApplyCmd,
    t: &Topology,
    env: &Env,
    sel: &Selection,
    timeout: Duration,
) -> Result<ExitStatus, CliError> {
    let c = &cmd.common;
    let extra = Extra { force_recreate: cmd.force_recreate, ..Extra::default() };
    let result = block_on("apply --dry-run", None, async {
        let backend = connect(c, t, env, extra, timeout).await?;
        Ok(on_backend!(&backend, b => orchestrator::dry_run(b, sel, timeout).await)?)
    });
    let Some(report) = result? else { return Ok(ExitStatus::Interrupted) };
    let note = "dry run: nothing was changed; `deploy apply` without --dry-run makes these changes\n";
    emit_styled(c.output, &report, |r| format!("{}{note}", r.text()), |r| format!("{}{note}", r.styled()))?;
    Ok(ExitStatus::Ok)
}

fn diff(c: &TargetCmd) -> Result<ExitStatus, CliError> {
    check(c, K8sFlags::default(), args::ComposeFlags::default())?;
    let (t, env) = load_with_env(&c.source)?;
    let sel = Selection::with_dependencies(&t, &env, &c.services)?;
    let timeout = c.timeout.unwrap_or(Duration::from_secs(30));
    let result = block_on("diff", None, async {
        let backend = connect(c, &t, &env, Extra::default(), timeout).await?;
        Ok(on_backend!(&backend, b => orchestrator::diff(b, &sel, timeout).await)?)
    });
    let Some(report) = result? else { return Ok(ExitStatus::Interrupted) };
    emit_styled(c.output, &report, DiffReport::text, DiffReport::styled)?;
    Ok(report.exit_status())
}

fn status(c: &TargetCmd) -> Result<ExitStatus, CliError> {
    check(c, K8sFlags::default(), args::ComposeFlags::default())?;
    let (t, env) = load_with_env(&c.source)?;
    let sel = Selection::exactly(&t, &c.services)?;
    let timeout = c.timeout.unwrap_or(Duration::from_secs(30));
    let result = block_on("status", None, async {
        let backend = connect(c, &t, &env, Extra::default(), timeout).await?;
        Ok(on_backend!(&backend, b => orchestrator::status(b, &sel, timeout).await)?)
    });
    let Some(report) = result? else { return Ok(ExitStatus::Interrupted) };
    emit_styled(c.output, &report, StatusReport::text, StatusReport::styled)?;
    Ok(report.exit_status())
}

/// `deploy graph`: the topology as a picture; with `--live`, each service
/// coloured by the state `deploy status` reads (through the same backend and
/// orchestrator call), the graph crate only turning status rows into colours.
fn graph(cmd: &GraphCmd, target_given: bool) -> Result<ExitStatus, CliError> {
    let c = &cmd.common;
    if let Some(problem) = cmd.misplaced(target_given) {
        return Err(CliError::Usage(problem));
    }
    let (t, live) = if cmd.live {
        check(c, K8sFlags::default(), Default::default())?;
        let (t, env) = load_with_env(&c.source)?;
        // The services drawn: the named ones and what they depend on (all when none are named).
        let names = if c.services.is_empty() { Vec::new() } else { t.select(&c.services).map_err(Errors::from)? };
        let sel = Selection::exactly(&t, &names)?;
        let timeout = c.timeout.unwrap_or(Duration::from_secs(30));
        let result = block_on("graph", None, async {
            let backend = connect(c, &t, &env, Extra::default(), timeout).await?;
            Ok(on_backend!(&backend, b => orchestrator::status(b, &sel, timeout).await)?)
        });
        let Some(report) = result? else { return Ok(ExitStatus::Interrupted) };
        (t, Some(report.services))
    } else {
        (load(&c.source)?, None)
    };
    let g = deploy_graph::Graph::build(&t, &c.services, live.as_deref()).map_err(Errors::from)?;
    let text = match cmd.format {
        GraphFormat::Mermaid => g.mermaid(),
        GraphFormat::Dot => g.dot(),
        GraphFormat::Svg => g.svg().map_err(|e| CliError::Failed(e.to_string()))?,
    };
    out(&text)?;
    Ok(ExitStatus::Ok)
}

fn destroy(cmd: &DestroyCmd) -> Result<ExitStatus, CliError> {
    let c = &cmd.common;
    check(c, K8sFlags::default(), args::ComposeFlags::default())?;
    let (t, env) = load_with_env(&c.source)?;
    let sel = Selection::exactly(&t, &c.services)?;
    let timeout = c.timeout.unwrap_or(Duration::from_secs(60));
    let tracker = progress::Tracker::new(progress::for_mode(cmd.progress, c.output == Output::Json));
    let progress: Arc<dyn Progress> = tracker.clone();
    let result = block_on("destroy", Some(&tracker), async {
        let backend = connect(c, &t, &env, Extra::default(), timeout).await?;
        let opts = DestroyOptions { timeout, volumes: cmd.volumes };
        Ok(on_backend!(&backend, b => orchestrator::destroy(b, &t, &sel, &opts, progress.clone()).await))
    });
    progress::finish(&progress);
    let Some(report) = result? else { return Ok(ExitStatus::Interrupted) };
    emit(c.output, &report, DestroyReport::text)?;
    Ok(if report.error.is_none() { ExitStatus::Ok } else { ExitStatus::Error })
}

/// Runs a backend call to completion on a small runtime. `Ok(None)` means
/// Ctrl-C stopped it: a note says what was in flight (from `tracker`) and how
/// to converge, and the exit status is 130.
fn block_on<R>(
    what: &str,
    tracker: Option<&progress::Tracker>,
    fut: impl Future<Output = Result<R, CliError>>,
) -> Result<Option<R>, CliError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        tokio::select! {
            r = fut => r.map(Some),
            _ = tokio::signal::ctrl_c() => {
                let busy = tracker.map(progress::Tracker::in_flight).unwrap_or_default();
                let during = if busy.is_empty() { String::new() } else { format!(" while {}", busy.join("; ")) };
                eprintln!(
                    "\ninterrupted: {what} stopped part-way{during}; run the same command again to converge \
                     (nothing is deleted; a container being replaced keeps its data, and the project's lock is \
                     taken over since this process is gone)"
                );
                Ok(None)
            }
        }
    })
}

/// Prints a report: pretty JSON for machines, or its text form.
fn emit<R: serde::Serialize>(output: Output, report: &R, text: impl FnOnce(&R) -> String) -> Result<(), CliError> {
    if output == Output::Json {
        let json =
            serde_json::to_string_pretty(report).map_err(|e| CliError::Failed(format!("cannot write JSON: {e}")))?;
        out(&(json + "\n"))
    } else {
        out(&text(report))
    }
}

/// Prints a report: pretty JSON, or its text form, coloured when standard
/// output takes colour (`--color`, `NO_COLOR`, a terminal).
fn emit_styled<R: serde::Serialize>(
    output: Output,
    report: &R,
    plain: impl FnOnce(&R) -> String,
    styled: impl FnOnce(&R) -> String,
) -> Result<(), CliError> {
    if output == Output::Text && terminal::stdout_color() { out(&styled(report)) } else { emit(output, report, plain) }
}

/// Writes `text` to standard output in one write. A reader that went away
/// (`deploy render ... | head`) is not an error: the rest was not wanted, and
/// the command's own exit code stands.
fn out(text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Failed(format!("cannot write to standard output: {e}")))
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
