//! `.env` files, as Docker Compose reads them: variables for `${VAR}`
//! interpolation that the shell does not set. `KEY=VALUE` lines, `#`
//! comments, `export KEY=...`, single and double quotes, and `$VAR`
//! references to earlier lines or the environment (parsed by `dotenvy`).

use std::path::Path;
use std::sync::Arc;

use crate::diag::{Diagnostic, Errors, Loc, SourceFile};
use crate::model::Env;

/// The name Compose and deploy look for in the project directory.
pub const DEFAULT_ENV_FILE: &str = ".env";

impl Env {
    /// The process environment, plus the variables of an env file that the
    /// process does not set: the shell wins, as in Compose. `file` is an
    /// explicit `--env-file` (it must exist); without one, `.env` in
    /// `project_dir` is read when there is one.
    pub fn load(project_dir: &Path, file: Option<&Path>) -> Result<Env, Errors> {
        let mut env = Env::from_process();
        let path = match file {
            Some(f) => f.to_path_buf(),
            None => {
                let p = project_dir.join(DEFAULT_ENV_FILE);
                if !p.is_file() {
                    return Ok(env);
                }
                p
            }
        };
        let source = crate::read_source(&path, "env file")?;
        for (k, v) in read(&source)? {
            if env.get(&k).is_none() {
                env.set(k, v);
            }
        }
        Ok(env)
    }
}

/// The file's variables in order, or an error at the line that cannot be read.
pub(crate) fn read(source: &Arc<SourceFile>) -> Result<Vec<(String, String)>, Diagnostic> {
    let mut out = Vec::new();
    for item in dotenvy::from_read_iter(source.text.as_bytes()) {
        match item {
            Ok(kv) => out.push(kv),
            Err(dotenvy::Error::LineParse(line, index)) => {
                let number = source.text.lines().position(|l| l.trim_end() == line.trim_end()).map_or(1, |i| i + 1);
                let loc = Loc {
                    file: source.clone(),
                    line: u32::try_from(number).unwrap_or(u32::MAX),
                    col: u32::try_from(index + 1).unwrap_or(u32::MAX),
                };
                return Err(Diagnostic::new("cannot read this line of the env file").at(Some(&loc)).help(
                    "write `KEY=VALUE` (quote values with spaces or `#`: KEY=\"a b\"); lines starting with `#` are comments",
                ));
            }
            Err(e) => {
                return Err(Diagnostic::new(format!("cannot read env file `{}`: {e}", source.path.display()))
                    .help("write `KEY=VALUE` lines"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Arc<SourceFile> {
        Arc::new(SourceFile { path: ".env".into(), text: text.into() })
    }

    #[test]
    fn compose_style_lines() {
        let vars = read(&source(
            "# comment\nexport A=1\nB='two words'\nC=\"x\\ny\"\nD=plain # trailing comment\nE=${A}-suffix\n\nF=\n",
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("B"), Some("two words"));
        assert_eq!(get("C"), Some("x\ny"));
        assert_eq!(get("D"), Some("plain"));
        assert_eq!(get("E"), Some("1-suffix"));
        assert_eq!(get("F"), Some(""));
    }

    #[test]
    fn a_bad_line_is_located() {
        let d = read(&source("A=1\nB='unclosed\n")).err().unwrap_or_else(|| panic!("expected an error"));
        let loc = d.loc.unwrap_or_else(|| panic!("no location"));
        assert_eq!(loc.line, 2);
        assert!(d.help.unwrap_or_default().contains("KEY=VALUE"));
    }

    #[test]
    fn the_shell_wins_and_a_missing_default_file_is_fine() {
        let dir = std::env::temp_dir().join(format!("deploy-dotenv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        // PATH is set in any test process; the file's value must not replace it.
        std::fs::write(dir.join(".env"), "PATH=/from-the-file\nDEPLOY_DOTENV_TEST_ONLY=from-file\n")
            .unwrap_or_else(|e| panic!("{e}"));
        let env = Env::load(&dir, None).unwrap_or_else(|e| panic!("{}", e.render()));
        assert_eq!(env.get("DEPLOY_DOTENV_TEST_ONLY").as_deref(), Some("from-file"));
        assert_ne!(env.get("PATH").as_deref(), Some("/from-the-file"));
        std::fs::remove_file(dir.join(".env")).unwrap_or_else(|e| panic!("{e}"));
        let env = Env::load(&dir, None).unwrap_or_else(|e| panic!("{}", e.render()));
        assert_eq!(env.get("DEPLOY_DOTENV_TEST_ONLY"), None);
        let e = Env::load(&dir, Some(&dir.join("missing.env"))).err().unwrap_or_else(|| panic!("expected an error"));
        assert!(e.render().contains("missing.env"), "{}", e.render());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
