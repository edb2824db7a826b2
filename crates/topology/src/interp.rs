//! `${VAR}` interpolation with Compose's semantics:
//! `$VAR`, `${VAR}`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
//! `${VAR:?message}` / `${VAR?message}` (required), `${VAR:+alt}` / `${VAR+alt}`,
//! and `$$` for a literal `$`. Defaults may nest further interpolations, at most
//! [`MAX_INTERPOLATION_DEPTH`] deep.

pub use crate::limits::MAX_INTERPOLATION_DEPTH;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Lit(String),
    Var { name: String, op: Op, arg: Vec<Piece> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Plain,
    /// `:-` (true) or `-` (false)
    Default(bool),
    /// `:?` or `?`
    Required(bool),
    /// `:+` or `+`
    Alt(bool),
}

/// Why a template could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterpError {
    Syntax(String),
    /// A `${VAR:?message}` whose variable is missing.
    Required {
        var: String,
        message: String,
    },
    /// `${...}` nested deeper than [`MAX_INTERPOLATION_DEPTH`].
    TooDeep {
        /// How deep the value nests `${...}`.
        depth: usize,
        limit: usize,
    },
}

impl InterpError {
    /// What to do about it, for the diagnostic's help.
    pub fn help(&self) -> String {
        match self {
            InterpError::Syntax(_) => "write `$$` for a literal `$`".to_string(),
            InterpError::Required { var, .. } => {
                format!("set `{var}` in the environment (for example `export {var}=...`) and run again")
            }
            InterpError::TooDeep { limit, .. } => format!(
                "nest at most {limit} `${{...}}` inside one another (a default of a default...); \
                 set the value in a variable instead"
            ),
        }
    }
}

impl std::fmt::Display for InterpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InterpError::Syntax(m) => f.write_str(m),
            InterpError::Required { var, message } if message.is_empty() => {
                write!(f, "required variable `{var}` is not set")
            }
            InterpError::Required { var, message } => {
                write!(f, "required variable `{var}` is not set: {message}")
            }
            InterpError::TooDeep { depth, limit } => {
                write!(f, "interpolation nests `${{...}}` {depth} deep, over the limit of {limit}")
            }
        }
    }
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}
fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

fn parse(s: &str) -> Result<Vec<Piece>, InterpError> {
    let chars: Vec<char> = s.chars().collect();
    let (pieces, end) = parse_until(&chars, 0, 0, s)?;
    debug_assert_eq!(end, chars.len());
    Ok(pieces)
}

/// How deep `s` nests `${`, counted without recursion (for the error only:
/// `$$` is literal, and a `}` outside any `${` is plain text).
fn nesting_depth(s: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, chars.peek()) {
            ('$', Some('$')) => {
                chars.next();
            }
            ('$', Some('{')) => {
                chars.next();
                depth += 1;
                max = max.max(depth);
            }
            ('}', _) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses from `i`; inside `depth` braces (> 0), stops at the `}` closing the current `${`.
/// Each `${` recurses once, so `depth` is bounded by [`MAX_INTERPOLATION_DEPTH`].
fn parse_until(c: &[char], mut i: usize, depth: usize, src: &str) -> Result<(Vec<Piece>, usize), InterpError> {
    let in_braces = depth > 0;
    let mut out = Vec::new();
    let mut lit = String::new();
    let syntax = |m: &str| InterpError::Syntax(format!("invalid interpolation in `{src}`: {m}"));
    while i < c.len() {
        let ch = c[i];
        if in_braces && ch == '}' {
            break;
        }
        if ch != '$' {
            lit.push(ch);
            i += 1;
            continue;
        }
        // ch == '$'
        match c.get(i + 1) {
            Some('$') => {
                lit.push('$');
                i += 2;
            }
            Some('{') => {
                if depth >= MAX_INTERPOLATION_DEPTH {
                    return Err(InterpError::TooDeep { depth: nesting_depth(src), limit: MAX_INTERPOLATION_DEPTH });
                }
                let mut j = i + 2;
                if !c.get(j).is_some_and(|&x| is_name_start(x)) {
                    return Err(syntax("expected a variable name after `${`"));
                }
                let start = j;
                while c.get(j).is_some_and(|&x| is_name_char(x)) {
                    j += 1;
                }
                let name: String = c[start..j].iter().collect();
                let (op, skip) = match (c.get(j), c.get(j + 1)) {
                    (Some('}'), _) => (Op::Plain, 0),
                    (Some(':'), Some('-')) => (Op::Default(true), 2),
                    (Some(':'), Some('?')) => (Op::Required(true), 2),
                    (Some(':'), Some('+')) => (Op::Alt(true), 2),
                    (Some('-'), _) => (Op::Default(false), 1),
                    (Some('?'), _) => (Op::Required(false), 1),
                    (Some('+'), _) => (Op::Alt(false), 1),
                    (None, _) => return Err(syntax("unclosed `${`")),
                    (Some(x), _) => return Err(syntax(&format!("unexpected `{x}` after `${{{name}`"))),
                };
                j += skip;
                let (arg, end) = if op == Op::Plain { (Vec::new(), j) } else { parse_until(c, j, depth + 1, src)? };
                if c.get(end) != Some(&'}') {
                    return Err(syntax("unclosed `${`"));
                }
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(Piece::Var { name, op, arg });
                i = end + 1;
            }
            Some(&x) if is_name_start(x) => {
                let mut j = i + 1;
                while c.get(j).is_some_and(|&x| is_name_char(x)) {
                    j += 1;
                }
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(Piece::Var { name: c[i + 1..j].iter().collect(), op: Op::Plain, arg: Vec::new() });
                i = j;
            }
            _ => return Err(syntax("a lone `$` must be written `$$`")),
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    Ok((out, i))
}

/// Every variable a template mentions (including inside defaults), in order,
/// deduplicated; an error when the template's syntax is wrong.
pub fn checked_variables(s: &str) -> Result<Vec<String>, InterpError> {
    fn walk(p: &[Piece], out: &mut Vec<String>) {
        for piece in p {
            if let Piece::Var { name, arg, .. } = piece {
                if !out.contains(name) {
                    out.push(name.clone());
                }
                walk(arg, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&parse(s)?, &mut out);
    Ok(out)
}

/// Every variable a template mentions; none when its syntax is wrong.
pub fn variables(s: &str) -> Vec<String> {
    checked_variables(s).unwrap_or_default()
}

/// Resolves a template against `lookup`. An unset variable without a default
/// resolves to the empty string, as in Compose.
pub fn resolve(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, InterpError> {
    fn eval(p: &[Piece], lookup: &dyn Fn(&str) -> Option<String>, out: &mut String) -> Result<(), InterpError> {
        for piece in p {
            match piece {
                Piece::Lit(l) => out.push_str(l),
                Piece::Var { name, op, arg } => {
                    let v = lookup(name);
                    let present = |colon: bool| match &v {
                        None => false,
                        Some(x) => !(colon && x.is_empty()),
                    };
                    match *op {
                        Op::Plain => out.push_str(v.as_deref().unwrap_or("")),
                        Op::Default(colon) => {
                            if present(colon) {
                                out.push_str(v.as_deref().unwrap_or(""));
                            } else {
                                eval(arg, lookup, out)?;
                            }
                        }
                        Op::Required(colon) => {
                            if present(colon) {
                                out.push_str(v.as_deref().unwrap_or(""));
                            } else {
                                let mut message = String::new();
                                eval(arg, lookup, &mut message)?;
                                return Err(InterpError::Required { var: name.clone(), message });
                            }
                        }
                        Op::Alt(colon) => {
                            if present(colon) {
                                eval(arg, lookup, out)?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
    let pieces = parse(s)?;
    let mut out = String::with_capacity(s.len());
    eval(&pieces, lookup, &mut out)?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn compose_semantics() {
        let r = |s: &str| resolve(s, &env);
        assert_eq!(r("plain").unwrap(), "plain");
        assert_eq!(r("a$$b").unwrap(), "a$b");
        assert_eq!(r("${SET}/$SET").unwrap(), "value/value");
        assert_eq!(r("${UNSET:-1.0.0}").unwrap(), "1.0.0");
        assert_eq!(r("${EMPTY:-d}").unwrap(), "d");
        assert_eq!(r("${EMPTY-d}").unwrap(), "");
        assert_eq!(r("${UNSET-d}").unwrap(), "d");
        assert_eq!(r("${UNSET:-${SET}}").unwrap(), "value");
        assert_eq!(r(r#"${UNSET:-["https://x.com"]}"#).unwrap(), r#"["https://x.com"]"#);
        assert_eq!(r("${SET:+alt}|${UNSET:+alt}").unwrap(), "alt|");
        assert_eq!(r("${UNSET}").unwrap(), "");
        assert_eq!(
            r("${UNSET:?UNSET is required}").unwrap_err(),
            InterpError::Required { var: "UNSET".into(), message: "UNSET is required".into() }
        );
        assert!(matches!(r("${EMPTY:?x}"), Err(InterpError::Required { .. })));
        assert_eq!(r("${EMPTY?x}").unwrap(), "");
        for bad in ["$", "a $ b", "${", "${1X}", "${SET", "${SET:x}"] {
            assert!(matches!(r(bad), Err(InterpError::Syntax(_))), "{bad:?}");
        }
    }

    /// `${V0:-${V1:-...}}`, `n` levels deep, the innermost `${V{n-1}}`.
    fn nested(n: usize) -> String {
        let mut s: String = (0..n - 1).map(|i| format!("${{V{i}:-")).collect();
        s.push_str(&format!("${{V{}}}", n - 1));
        s + &"}".repeat(n - 1)
    }

    #[test]
    fn nesting_beyond_the_limit_is_an_error_not_a_stack_overflow() {
        // On a 256 KiB stack: unlimited, 10,000 levels of recursion would overflow it.
        let run = std::thread::Builder::new().stack_size(256 * 1024).spawn(|| {
            let deep = nested(10_000);
            let too_deep = InterpError::TooDeep { depth: 10_000, limit: MAX_INTERPOLATION_DEPTH };
            assert_eq!(resolve(&deep, &env).unwrap_err(), too_deep);
            assert_eq!(checked_variables(&deep).unwrap_err(), too_deep);
            assert!(variables(&deep).is_empty());
            // the count ignores `$$` and a stray `}` outside any `${`
            let deep = format!("}}$${{{}", nested(40));
            assert_eq!(resolve(&deep, &env).unwrap_err(), InterpError::TooDeep { depth: 40, limit: 32 });
        });
        run.unwrap().join().unwrap();
    }

    #[test]
    fn nesting_up_to_the_limit_resolves() {
        let at_limit = nested(MAX_INTERPOLATION_DEPTH);
        let last = format!("V{}", MAX_INTERPOLATION_DEPTH - 1);
        assert_eq!(resolve(&at_limit, &|k: &str| (k == last).then(|| "deep".to_string())).unwrap(), "deep");
        assert_eq!(resolve(&at_limit, &|k: &str| (k == "V0").then(|| "top".to_string())).unwrap(), "top");
        assert_eq!(checked_variables(&at_limit).unwrap().len(), MAX_INTERPOLATION_DEPTH);
        let over = nested(MAX_INTERPOLATION_DEPTH + 1);
        let err = resolve(&over, &env).unwrap_err();
        assert_eq!(err.to_string(), "interpolation nests `${...}` 33 deep, over the limit of 32");
        assert!(err.help().contains("nest at most 32"), "{}", err.help());
    }

    #[test]
    fn lists_variables() {
        assert_eq!(variables("a ${A:-${B}} $C $$D"), vec!["A", "B", "C"]);
        assert!(variables("a $$ b").is_empty(), "an escaped `$$` is literal");
        assert_eq!(variables("${X}"), vec!["X"]);
        assert!(checked_variables("a $ b").is_err());
    }
}
