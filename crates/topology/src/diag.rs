//! Diagnostics: every error a user can cause names the file, line and column,
//! the field, and what would be valid. Rendered with miette's graphical
//! report (source snippet and a caret under the offending text).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A source file the user wrote, kept for error snippets.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// Where something was written: file, 1-based line and column.
#[derive(Clone)]
pub struct Loc {
    pub file: Arc<SourceFile>,
    pub line: u32,
    pub col: u32,
}

impl fmt::Debug for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self)
    }
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.path.display(), self.line, self.col)
    }
}

impl Loc {
    /// Byte offset of this location in its file, and the length of the token there.
    fn span(&self) -> (usize, usize) {
        let text = &self.file.text;
        let mut offset = 0usize;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            if i + 1 == self.line as usize {
                let col_off: usize = line.chars().take(self.col.saturating_sub(1) as usize).map(char::len_utf8).sum();
                let start = offset + col_off;
                let rest = &text[start.min(text.len())..];
                let len = token_len(rest);
                return (start.min(text.len()), len);
            }
            offset += line.len();
        }
        (text.len(), 0)
    }
}

fn token_len(rest: &str) -> usize {
    let line = rest.split('\n').next().unwrap_or("");
    let trimmed = line.trim_end();
    // A key: underline up to the colon; otherwise the scalar up to a comment.
    if let Some(i) = trimmed.find(": ") {
        return i.max(1);
    }
    if let Some(stripped) = trimmed.strip_suffix(':') {
        return stripped.len().max(1);
    }
    let end = trimmed.find(" #").unwrap_or(trimmed.len());
    end.max(1)
}

/// One problem found in the user's input.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub message: String,
    /// Dotted path of the field, like `services.redis.resources.limits.cpus`.
    pub field: Option<String>,
    pub loc: Option<Loc>,
    /// What would be valid, or what to do.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic { message: message.into(), field: None, loc: None, help: None }
    }
    pub fn at(mut self, loc: Option<&Loc>) -> Self {
        self.loc = loc.cloned();
        self
    }
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// The file this diagnostic points into.
    pub fn file(&self) -> Option<&Path> {
        self.loc.as_ref().map(|l| l.file.path.as_path())
    }

    /// The full report: message, `--> file:line:col`, field, a source snippet and help.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let report = Report(self);
        let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_context_lines(1)
            .with_width(100);
        if handler.render_report(&mut out, &report).is_err() {
            out = format!("error: {self}");
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = &self.loc {
            write!(f, "{loc}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(h) = &self.help {
            write!(f, " (help: {h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

struct Report<'a>(&'a Diagnostic);

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        match &d.field {
            Some(field) => write!(f, "{} (field `{field}`)", d.message)?,
            None => f.write_str(&d.message)?,
        }
        if let Some(loc) = &d.loc {
            write!(f, "\n  --> {loc}")?;
        }
        Ok(())
    }
}
impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.0.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.0.loc.as_ref().map(|l| &l.file.text as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        let loc = self.0.loc.as_ref()?;
        let (start, len) = loc.span();
        Some(Box::new(std::iter::once(miette::LabeledSpan::new(Some("here".into()), start, len))))
    }
}

/// Several diagnostics: validation reports every problem it finds, not just the first.
#[derive(Clone, Debug, Default)]
pub struct Errors(pub Vec<Diagnostic>);

impl Errors {
    pub fn push(&mut self, d: Diagnostic) {
        self.0.push(d);
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
    pub fn into_result<T>(self, ok: T) -> Result<T, Errors> {
        if self.0.is_empty() { Ok(ok) } else { Err(self) }
    }
    /// Every diagnostic rendered with snippets, separated by blank lines.
    pub fn render(&self) -> String {
        self.0.iter().map(Diagnostic::render).collect::<Vec<_>>().join("\n")
    }
}

impl From<Diagnostic> for Errors {
    fn from(d: Diagnostic) -> Self {
        Errors(vec![d])
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// The dotted path of the YAML key at `line` (1-based) of a block-style document,
/// found from indentation: the key on that line and every less-indented key above it.
pub(crate) fn yaml_path_at(text: &str, line: u32) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let idx = (line as usize).checked_sub(1)?;
    let mut parts: Vec<String> = Vec::new();
    let mut limit = usize::MAX;
    for l in lines[..=idx.min(lines.len().checked_sub(1)?)].iter().rev() {
        let body = l.trim_start();
        if body.is_empty() || body.starts_with('#') {
            continue;
        }
        let mut indent = l.len() - body.len();
        let mut body = body;
        let mut item = false;
        if let Some(rest) = body.strip_prefix("- ") {
            item = true;
            indent += 2;
            body = rest.trim_start();
        }
        if indent >= limit {
            continue;
        }
        // A key is `name:` followed by a space or the end of the line (`"1:2"` is a scalar).
        let key = body
            .split_once(": ")
            .map(|(k, _)| k)
            .or_else(|| body.split(" #").next().map(str::trim_end).and_then(|b| b.strip_suffix(':')))
            .map(|k| k.trim().trim_matches(['"', '\'']));
        match key {
            Some(k) if !k.is_empty() && !k.contains(' ') && !k.starts_with(['{', '[', '-']) => {
                parts.push(k.to_string());
                limit = if item { indent - 2 } else { indent };
            }
            _ => limit = if item { indent - 2 } else { indent },
        }
        if limit == 0 {
            break;
        }
    }
    if parts.is_empty() {
        return None;
    }
    parts.reverse();
    Some(parts.join("."))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn path_from_indentation() {
        let t = "services:\n  redis:\n    resources:\n      limits:\n        cpus: abc\n    ports:\n      - \"1:2\"\n";
        assert_eq!(yaml_path_at(t, 5).as_deref(), Some("services.redis.resources.limits.cpus"));
        assert_eq!(yaml_path_at(t, 7).as_deref(), Some("services.redis.ports"));
        assert_eq!(yaml_path_at(t, 1).as_deref(), Some("services"));
    }

    #[test]
    fn renders_file_line_column_and_snippet() {
        let file = Arc::new(SourceFile { path: "x.yaml".into(), text: "a:\n  cpus: abc\n".into() });
        let d = Diagnostic::new("bad cpus")
            .at(Some(&Loc { file, line: 2, col: 9 }))
            .field("a.cpus")
            .help("a number like 0.25");
        let r = d.render();
        assert!(r.contains("x.yaml:2:9"), "{r}");
        assert!(r.contains("cpus: abc"), "{r}");
        assert!(r.contains("a number like 0.25"), "{r}");
        assert!(r.contains("a.cpus"), "{r}");
    }
}
