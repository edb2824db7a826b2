//! The command line: clap definitions, and the checks that tie an option to
//! the target that uses it (an option a target does not take is an error, not
//! silently ignored).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Deploy one service topology to Docker Compose or Kubernetes.
#[derive(Parser, Debug)]
#[command(name = "deploy", version, about, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Colour in diff and status: `auto` (when standard output is a terminal and NO_COLOR is unset), `always`, `never`.
    #[arg(long, value_enum, default_value = "auto", global = true)]
    pub color: ColorWhen,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// How apply and destroy show their progress on standard error.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ProgressMode {
    /// Live lines on a terminal, plain lines otherwise.
    Auto,
    /// One plain line per change of state (CI logs).
    Plain,
    /// None: only the final report.
    Quiet,
}

const EXIT_CODES: &str = "Exit codes: 0 success (diff: no changes; status: all ready), 1 error, 2 diff found changes, \
                          3 status: a service is not ready, 4 status: a service is missing, \
                          64 usage error (bad flags or arguments), 130 interrupted.";

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the Compose file or the Kubernetes objects for a profile.
    Render(RenderCmd),
    /// Apply to Docker or Kubernetes and wait until every service is ready.
    Apply(ApplyCmd),
    /// Show planned versus live state, object by object and field by field (exit 2 when they differ).
    Diff(TargetCmd),
    /// Show each service's live state and readiness.
    Status(TargetCmd),
    /// Run the checks the topology declares inside the running services (exit 1 when one fails).
    Verify(TargetCmd),
    /// Draw the topology: services, depends_on, volumes and networks (Mermaid, DOT or SVG; --live colours by status).
    Graph(GraphCmd),
    /// Remove what the project created, dependents first (volumes and PVCs stay unless --volumes).
    Destroy(DestroyCmd),
    /// Check the topology and profile without touching any platform.
    Validate(ValidateCmd),
    /// Print the JSON Schema of topology and profile files.
    Schema,
    /// Turn Compose files into a topology (and profiles), checked by rendering it back.
    Import(crate::import::ImportCmd),
    /// Print a shell completion script (`source <(deploy completions bash)`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `deploy man | man -l -`).
    Man,
}

#[derive(Args, Debug)]
pub struct Source {
    /// Topology file; `-` reads it from standard input.
    #[arg(short = 'f', long = "file", env = "DEPLOY_FILE", default_value = "deploy.yaml", global = true)]
    pub file: PathBuf,
    /// Profile: a name (profiles/NAME.yaml next to the topology) or a path.
    #[arg(short = 'p', long, env = "DEPLOY_PROFILE", global = true)]
    pub profile: Option<String>,
    /// Variables for `${VAR}` that the environment does not set (default: `.env` beside the topology, if any).
    #[arg(long, env = "DEPLOY_ENV_FILE", global = true)]
    pub env_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Target {
    Compose,
    K8s,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct RenderCmd {
    #[command(flatten)]
    pub source: Source,
    #[arg(short = 't', long, value_enum, env = "DEPLOY_TARGET", default_value = "compose")]
    pub target: Target,
    /// `text`: the Compose file or the Kubernetes manifests (YAML); `json`: the same objects as JSON.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
    /// Kubernetes only: what to do with a Secret that would hold a `${VAR}` placeholder (render never
    /// writes a resolved secret): `refuse` (default), `omit` them (create them yourself), or write the
    /// `placeholders` (for review and schema checks, not for `kubectl apply`).
    #[arg(long, value_enum)]
    pub secrets: Option<SecretsMode>,
}

/// `render --target k8s --secrets`: Secrets that would hold a placeholder.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum SecretsMode {
    Refuse,
    Omit,
    Placeholders,
}

#[derive(Args, Debug)]
pub struct ValidateCmd {
    #[command(flatten)]
    pub source: Source,
    /// Report format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
    /// Do not check that required variables (`${VAR:?}`) are set (the report says they were not checked).
    #[arg(long)]
    pub no_variables: bool,
}

#[derive(Args, Debug)]
pub struct TargetCmd {
    #[command(flatten)]
    pub source: Source,
    #[arg(short = 't', long, value_enum, env = "DEPLOY_TARGET", default_value = "compose")]
    pub target: Target,
    /// Report format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
    /// Bound the whole command (like 120s, 2m). Default: 120s for apply and verify, 60s for destroy, 30s for diff and status.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// The context: on k8s a kubeconfig context; on compose a docker CLI context (`docker context ls`).
    #[arg(long)]
    pub context: Option<String>,
    /// Kubernetes only: namespace (default: the topology's `namespace`, else the kubeconfig context's, else `name`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Kubernetes only: the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Only these services (apply and diff: and what they depend on; status, destroy and verify: exactly these).
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ApplyCmd {
    #[command(flatten)]
    pub common: TargetCmd,
    /// Recreate containers (restart pods, re-run Jobs) even when nothing changed.
    #[arg(long)]
    pub force_recreate: bool,
    /// Remove objects of this project that the topology no longer has (never volumes); whole-project applies only.
    #[arg(long)]
    pub prune: bool,
    /// Kubernetes only: take over fields owned by another field manager.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Kubernetes only: re-create a StatefulSet whose immutable fields changed (volume size, serviceName, selector...),
    /// keeping its pods and claims; a larger volume size is asked of the existing claims.
    #[arg(long)]
    pub replace: bool,
    /// Kubernetes only: take over objects whose `app.kubernetes.io/instance` label names another project.
    #[arg(long)]
    pub adopt: bool,
    /// Compose only: on a recreate, fresh anonymous volumes instead of the old container's (as `docker compose up -V`).
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Once every service is ready, run the checks the topology declares (as `deploy verify`); exit 1 when one fails.
    #[arg(long)]
    pub verify: bool,
    /// Compose only: build the image of every service with `build:`, not only missing ones (as `docker compose up --build`).
    #[arg(long)]
    pub build: bool,
    /// Show what apply would do and change nothing (Kubernetes: a server-side dry run).
    #[arg(long)]
    pub dry_run: bool,
    /// When a service fails to become ready, put every service this apply changed back as it was and wait for it.
    #[arg(long)]
    pub atomic: bool,
    /// Progress on standard error.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
}

#[derive(Args, Debug)]
pub struct DestroyCmd {
    #[command(flatten)]
    pub common: TargetCmd,
    /// Also delete named volumes / PersistentVolumeClaims: their data is lost.
    #[arg(long)]
    pub volumes: bool,
    /// Progress on standard error.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: ProgressMode,
}

#[derive(Args, Debug)]
pub struct GraphCmd {
    /// The topology, and with --live the platform to ask (as `deploy status` takes them); services named
    /// here are drawn with what they depend on.
    #[command(flatten)]
    pub common: TargetCmd,
    /// `mermaid` (renders in GitHub Markdown), `dot` (Graphviz), or `svg` (laid out in-process, no Graphviz).
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: GraphFormat,
    /// Colour each service by its live state on --target, read as `deploy status` reads it.
    #[arg(long)]
    pub live: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum GraphFormat {
    Mermaid,
    Dot,
    Svg,
}

impl GraphCmd {
    /// An option that only means something with `--live`, given without it; or `-o json` (the
    /// picture's format is `--format`). `target_given`: `--target` was on the command line
    /// (`DEPLOY_TARGET` in the environment is not a mistake).
    pub fn misplaced(&self, target_given: bool) -> Option<String> {
        let c = &self.common;
        if c.output != Output::Text {
            return Some("-o/--output is for reports; choose the picture's format with --format".into());
        }
        let live_only = [
            (target_given, "--target"),
            (c.timeout.is_some(), "--timeout"),
            (c.context.is_some(), "--context"),
            (c.namespace.is_some(), "--namespace"),
            (c.kubeconfig.is_some(), "--kubeconfig"),
        ];
        let (_, flag) = live_only.iter().find(|(given, _)| *given && !self.live)?;
        Some(format!("{flag} is an option of `graph --live` only: add --live (and --target), or drop it"))
    }
}

/// The apply flags only the Kubernetes target takes (besides `--namespace`).
#[derive(Clone, Copy, Debug, Default)]
pub struct K8sFlags {
    pub force_conflicts: bool,
    pub replace: bool,
    pub adopt: bool,
}

/// The apply flags only the Compose target takes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ComposeFlags {
    pub renew_anon_volumes: bool,
    pub build: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse::<deploy_topology::units::Dur>().map(|d| d.get())
}

impl TargetCmd {
    /// An option given that the chosen target does not take, with the target that does.
    pub fn misplaced(&self, k8s: K8sFlags, compose: ComposeFlags) -> Option<(&'static str, &'static str)> {
        let k8s_only = [
            (self.namespace.is_some(), "--namespace"),
            (self.kubeconfig.is_some(), "--kubeconfig"),
            (k8s.force_conflicts, "--force-conflicts"),
            (k8s.replace, "--replace"),
            (k8s.adopt, "--adopt"),
        ];
        let compose_only = [(compose.renew_anon_volumes, "--renew-anon-volumes"), (compose.build, "--build")];
        let (others, target) = match self.target {
            Target::K8s => (&compose_only[..], "compose"),
            Target::Compose => (&k8s_only[..], "k8s"),
        };
        others.iter().find_map(|(given, flag)| given.then_some((*flag, target)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_cmd(args: &[&str]) -> ApplyCmd {
        let cli = Cli::try_parse_from([&["deploy", "apply"], args].concat()).unwrap_or_else(|e| panic!("{e}"));
        match cli.command {
            Command::Apply(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn replace_is_an_option_of_the_k8s_target_only() {
        let misplaced = |a: &ApplyCmd| {
            let k8s = K8sFlags { force_conflicts: a.force_conflicts, replace: a.replace, adopt: a.adopt };
            a.common.misplaced(k8s, ComposeFlags { renew_anon_volumes: a.renew_anon_volumes, build: a.build })
        };
        assert_eq!(misplaced(&apply_cmd(&["--target", "compose", "--replace"])), Some(("--replace", "k8s")));
        assert_eq!(misplaced(&apply_cmd(&["--target", "k8s", "--replace"])), None);
        assert!(apply_cmd(&["--target", "k8s", "--replace"]).replace);
        assert_eq!(misplaced(&apply_cmd(&["--target", "k8s", "--build"])), Some(("--build", "compose")));
        assert_eq!(misplaced(&apply_cmd(&["--target", "compose", "--build"])), None);
        assert!(apply_cmd(&["--build"]).build);
    }
}
