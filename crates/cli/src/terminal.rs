//! The terminal side of the binary: colour (`--color`, `NO_COLOR`, plain when
//! piped, as clap and cargo decide it through anstream), shell completions and
//! the manual page (both generated from the clap definitions).

use anstream::ColorChoice;
use clap::CommandFactory as _;

use crate::args::{Cli, ColorWhen};

/// Records the user's `--color` for the whole process.
pub fn set_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => ColorChoice::Auto,
        ColorWhen::Always => ColorChoice::Always,
        ColorWhen::Never => ColorChoice::Never,
    };
    choice.write_global();
}

/// Whether what goes to standard output gets colour: `--color always`, or
/// `auto` on a terminal that takes colour with neither `NO_COLOR` nor
/// `CLICOLOR=0` set (`CLICOLOR_FORCE` forces it).
pub fn stdout_color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never
}

/// The completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "deploy", &mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// The manual page, deploy(1), in roff: the command and each subcommand with its options.
pub fn man_page() -> Result<String, std::io::Error> {
    let cmd = Cli::command();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let page = clap_mangen::Man::new(sub.clone());
        let mut section = Vec::new();
        page.render_options_section(&mut section)?;
        let section = String::from_utf8_lossy(&section);
        // One section per subcommand, its about line, then its options (without their own heading).
        let options = section.strip_prefix(".SH OPTIONS\n").unwrap_or(&section);
        buf.extend_from_slice(format!(".SH \"DEPLOY {}\"\n", sub.get_name().to_uppercase()).as_bytes());
        if let Some(about) = sub.get_about() {
            buf.extend_from_slice(format!("{}\n", roff_escape(&about.to_string())).as_bytes());
        }
        buf.extend_from_slice(options.as_bytes());
    }
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Text safe as a roff line: no leading `.` or `'`, backslashes doubled.
fn roff_escape(s: &str) -> String {
    let s = s.replace('\\', "\\\\");
    if s.starts_with(['.', '\'']) { format!("\\&{s}") } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_has_every_subcommand_and_its_options() {
        let page = man_page().unwrap_or_default();
        assert!(page.starts_with(".ie") || page.contains(".TH deploy"), "{page}");
        for s in ["DEPLOY APPLY", "DEPLOY DIFF", "DEPLOY STATUS", "\\-\\-dry\\-run", "\\-\\-kubeconfig"] {
            assert!(page.contains(s), "man page lacks {s}");
        }
    }

    #[test]
    fn completions_for_every_shell() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let script = completions(shell);
            assert!(script.contains("deploy"), "{shell}: {script}");
            assert!(script.contains("dry-run"), "{shell}");
        }
    }
}
