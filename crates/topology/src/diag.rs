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
                let len = token_len(&line[..col_off.min(line.len())], rest);
                return (start.min(text.len()), len);
            }
            offset += line.len();
        }
        (text.len(), 0)
    }
}

/// The length of the token at the start of `rest`; `before` is what precedes
/// it on its line (inside an open `{` or `[` the token ends at `,`, `}` or `]`).
fn token_len(before: &str, rest: &str) -> usize {
    let line = rest.split('\n').next().unwrap_or("");
    let depth = before.chars().fold(0i32, |d, c| match c {
        '{' | '[' => d + 1,
        '}' | ']' => d - 1,
        _ => d,
    });
    let line = match line.find([',', '}', ']']) {
        Some(end) if depth > 0 && !line.starts_with(['"', '\'']) => &line[..end],
        _ => line,
    };
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
        let report = Report(self, self.loc.as_ref().map(|l| Named(&l.file)));
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

struct Report<'a>(&'a Diagnostic, Option<Named<'a>>);

/// A source file's text under its file name, so that every snippet's header
/// names the file (`╭─[deploy.yaml:4:5]`).
struct Named<'a>(&'a SourceFile);

impl miette::SourceCode for Named<'_> {
    fn read_span<'b>(
        &'b self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'b> + 'b>, miette::MietteError> {
        let c = self.0.text.read_span(span, before, after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.0.path.display().to_string(),
            c.data(),
            *c.span(),
            c.line(),
            c.column(),
            c.line_count(),
        )))
    }
}

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
        self.1.as_ref().map(|n| n as &dyn miette::SourceCode)
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

/// The candidate closest to `name`, when one is close enough to be a likely
/// typo (`imagee` → `image`, `reddis` → `redis`).
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, c)| *score >= 0.8 || strsim::damerau_levenshtein(name, c) <= 1)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Help for a name that is not one of `valid`: the likely one first, then all of them.
pub fn unknown_name_help<'a>(what: &str, name: &str, valid: impl IntoIterator<Item = &'a str> + Clone) -> String {
    let all = valid.clone().into_iter().collect::<Vec<_>>().join(", ");
    match did_you_mean(name, valid) {
        Some(m) => format!("did you mean `{m}`? {what} are: {all}"),
        None => format!("{what} are: {all}"),
    }
}

/// The dotted path of the YAML node at `line`:`col` (both 1-based), block or
/// flow style (`services.web.resources.limits.memory` in
/// `services: {web: {resources: {limits: {memory: 1.5x}}}}`): the keys of the
/// mappings that hold the last node starting at or before that position, read
/// from the parser's event stream. Sequences add nothing (`services.web.ports`).
/// A document the parser stops on falls back to indentation.
pub(crate) fn yaml_path_at(text: &str, line: u32, col: u32) -> Option<String> {
    use granit_parser::{Event, Parser};
    enum Frame {
        Map { key: Option<String>, want_key: bool },
        Seq,
    }
    let keys = |stack: &[Frame], extra: Option<&str>| {
        let mut parts: Vec<&str> = stack
            .iter()
            .filter_map(|f| match f {
                Frame::Map { key: Some(k), want_key: false } => Some(k.as_str()),
                _ => None,
            })
            .collect();
        parts.extend(extra);
        (!parts.is_empty()).then(|| parts.join("."))
    };
    // A value is done: the mapping holding it waits for its next key.
    let value_done = |stack: &mut Vec<Frame>| {
        if let Some(Frame::Map { want_key, .. }) = stack.last_mut() {
            *want_key = true;
        }
    };
    let target = (line as usize, col as usize);
    let mut stack: Vec<Frame> = Vec::new();
    let mut best: Option<Option<String>> = None;
    for ev in Parser::new_from_str(text) {
        let Ok((ev, span)) = ev else { break };
        if (span.start.line(), span.start.col() + 1) > target {
            break;
        }
        let in_key = matches!(stack.last(), Some(Frame::Map { want_key: true, .. }));
        match ev {
            Event::Scalar(v, ..) if in_key => {
                best = Some(keys(&stack, Some(&v)));
                if let Some(Frame::Map { key, want_key }) = stack.last_mut() {
                    (*key, *want_key) = (Some(v.into_owned()), false);
                }
            }
            Event::Scalar(..) | Event::Alias(_) => {
                best = Some(keys(&stack, None));
                value_done(&mut stack);
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                best = Some(keys(&stack, None));
                let is_map = matches!(ev, Event::MappingStart(..));
                stack.push(if is_map { Frame::Map { key: None, want_key: true } } else { Frame::Seq });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                value_done(&mut stack);
            }
            _ => {}
        }
    }
    match best {
        Some(path) => path,
        None => indent_path_at(text, line),
    }
}

/// The dotted path of the YAML key at `line` (1-based) of a block-style document,
/// found from indentation: the key on that line and every less-indented key above it.
fn indent_path_at(text: &str, line: u32) -> Option<String> {
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
        assert_eq!(indent_path_at(t, 5).as_deref(), Some("services.redis.resources.limits.cpus"));
        assert_eq!(indent_path_at(t, 7).as_deref(), Some("services.redis.ports"));
        assert_eq!(indent_path_at(t, 1).as_deref(), Some("services"));
        assert_eq!(yaml_path_at(t, 5, 15).as_deref(), Some("services.redis.resources.limits.cpus"));
        assert_eq!(yaml_path_at(t, 5, 9).as_deref(), Some("services.redis.resources.limits.cpus"));
        assert_eq!(yaml_path_at(t, 7, 9).as_deref(), Some("services.redis.ports"));
        assert_eq!(yaml_path_at(t, 1, 1).as_deref(), Some("services"));
    }

    #[test]
    fn path_in_flow_style() {
        let t = "services: {web: {image: x, resources: {limits: {memory: 1.5x}}}}\n";
        assert_eq!(yaml_path_at(t, 1, 57).as_deref(), Some("services.web.resources.limits.memory"));
        assert_eq!(yaml_path_at(t, 1, 18).as_deref(), Some("services.web.image"));
        let t = "services:\n  web:\n    ports: [\"80:80\", {target: 1, bad: 2}]\n";
        assert_eq!(yaml_path_at(t, 3, 36).as_deref(), Some("services.web.ports.bad"));
        // A document the parser stops on falls back to indentation.
        assert_eq!(yaml_path_at("a:\n  b: [unclosed\n", 2, 6).as_deref(), Some("a.b"));
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(did_you_mean("imagee", ["image", "build", "command"]), Some("image"));
        assert_eq!(did_you_mean("reddis", ["web", "redis"]), Some("redis"));
        assert_eq!(did_you_mean("zzz", ["image", "build"]), None);
    }

    #[test]
    fn snippet_header_names_the_file() {
        let file = Arc::new(SourceFile { path: "dir/x.yaml".into(), text: "a:\n  cpus: abc\n".into() });
        let r = Diagnostic::new("bad").at(Some(&Loc { file, line: 2, col: 9 })).render();
        assert!(r.contains("[dir/x.yaml:2:9]"), "{r}");
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
