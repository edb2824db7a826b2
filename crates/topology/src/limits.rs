//! Every limit on untrusted input (topology, profile and `.env` files), in one place.
//!
//! Each limit is far above what a real file needs, so valid files never meet
//! one, and low enough that a hostile or broken file fails fast with a clear,
//! located error instead of exhausting memory, time or the stack. The yardstick
//! is the benchmark topology of `benches/render.rs` / `benches/run.sh`: 1,000
//! services in 627 KB, which is 64,000 YAML nodes, 77,000 parser events, 407 KB
//! of scalar text and nesting depth 5. Every limit below admits ten times that
//! (tests/limits.rs parses the 10,000-service version). docs/mapping.md
//! ("Limits") lists them for users.

use std::io::Read as _;
use std::path::Path;

use crate::diag::Diagnostic;

/// Largest topology, profile or env file read, in bytes (16 MiB): 26 times the
/// 1,000-service benchmark. Checked on the file's metadata before reading and
/// again while reading, so a growing file or a device cannot get past it.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Deepest nesting of YAML mappings and sequences (also caps flow `[...]`/`{...}`
/// nesting). A topology is about 5 levels deep (`services.S.resources.limits.
/// memory`); 64 leaves room for deep `x-` extension data. Deserializing recurses
/// once a level: at 64 levels that is about 1.7 MiB of stack in a debug build
/// (far less in release), within the main thread's 8 MiB.
pub const MAX_YAML_DEPTH: usize = 64;

/// Most YAML nodes (scalars, mappings, sequences) in one file: 31 times the
/// benchmark (serde-saphyr's default, 250,000, would refuse 4,000 services).
pub const MAX_YAML_NODES: usize = 2_000_000;

/// Most parser events (nodes, collection ends, aliases, comments) in one file:
/// 52 times the benchmark, twice [`MAX_YAML_NODES`] for the ends and comments.
pub const MAX_YAML_EVENTS: usize = 4_000_000;

/// Most bytes of scalar text (all values and keys together) in one file: half
/// [`MAX_FILE_BYTES`], 20 times the benchmark's scalar text. serde-saphyr has no
/// per-scalar cap; this total is what bounds one oversized scalar.
pub const MAX_YAML_SCALAR_BYTES: usize = 8 * 1024 * 1024;

/// Most bytes of comment text in one file: comments are kept by the parser, so
/// they are bounded like scalars (they can never exceed the file size anyway).
pub const MAX_YAML_COMMENT_BYTES: usize = MAX_FILE_BYTES as usize;

/// Most alias uses (`*name`, including `<<: *name`) in one file: ten per
/// service of a 10,000-service topology.
pub const MAX_YAML_ALIASES: usize = 100_000;

/// Most anchors (`&name`) defined in one file.
pub const MAX_YAML_ANCHORS: usize = 100_000;

/// Most merge keys (`<<`) in one file: ten per service of a 10,000-service topology.
pub const MAX_YAML_MERGE_KEYS: usize = 100_000;

/// Most parser events replayed by aliases in one file, all aliases together:
/// what stops a "billion laughs" alias bomb. A shared `x-defaults` block of 50
/// events merged into each of 10,000 services replays 500,000.
pub const MAX_ALIAS_REPLAYED_EVENTS: usize = 1_000_000;

/// Deepest nesting of alias replays (an alias inside an anchored node that is
/// itself replayed, and so on); real files nest two or three.
pub const MAX_ALIAS_REPLAY_DEPTH: usize = 32;

/// Most event copies kept while recording anchored nodes for later replay (an
/// event inside N open anchors is copied N times); the recorded counterpart of
/// [`MAX_ALIAS_REPLAYED_EVENTS`].
pub const MAX_ANCHOR_RECORDED_EVENTS: usize = 1_000_000;

/// Most bytes of scalar text copied while recording anchored nodes.
pub const MAX_ANCHOR_RECORDED_BYTES: usize = MAX_YAML_SCALAR_BYTES;

/// Longest implicit mapping key, in characters (YAML's own limit for keys
/// without `?`, kept explicit: service and field names are far shorter).
pub const MAX_YAML_KEY_CHARS: usize = 1024;

/// Deepest nesting of `${...}` interpolations in one value, as in
/// `${A:-${B:-${C}}}` (3). Real values nest two or three; 32 keeps evaluation
/// (which recurses once per level) far from the stack's end.
pub const MAX_INTERPOLATION_DEPTH: usize = 32;

/// serde-saphyr's options with every limit above set.
///
/// The alias/anchor ratio heuristic is off: one `x-defaults` anchor merged
/// into more than ten services (a common Compose pattern) would trip it,
/// while the amplification it guards against is bounded exactly by
/// [`MAX_ALIAS_REPLAYED_EVENTS`] and [`MAX_ANCHOR_RECORDED_EVENTS`].
///
/// Left at serde-saphyr's defaults, as they cannot apply: `max_reader_input_bytes`
/// (reader input only; files are bounded by [`MAX_FILE_BYTES`] before parsing),
/// `max_documents` (a second document is refused anyway), `max_inclusion_depth`
/// (`!include` is not enabled) and the property-interpolation budgets
/// (serde-saphyr's `${}` is not used; ours is bounded by [`MAX_INTERPOLATION_DEPTH`]).
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_YAML_DEPTH,
            flow_nesting_limit: MAX_YAML_DEPTH,
            max_nodes: MAX_YAML_NODES,
            max_events: MAX_YAML_EVENTS,
            max_total_scalar_bytes: MAX_YAML_SCALAR_BYTES,
            max_total_comment_bytes: MAX_YAML_COMMENT_BYTES,
            max_aliases: MAX_YAML_ALIASES,
            max_anchors: MAX_YAML_ANCHORS,
            max_merge_keys: MAX_YAML_MERGE_KEYS,
            max_recorded_anchor_events: MAX_ANCHOR_RECORDED_EVENTS,
            max_recorded_anchor_bytes: MAX_ANCHOR_RECORDED_BYTES,
            simple_key_max_lookahead: MAX_YAML_KEY_CHARS,
            enforce_alias_anchor_ratio: false,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_ALIAS_REPLAYED_EVENTS,
            max_replay_stack_depth: MAX_ALIAS_REPLAY_DEPTH,
            max_alias_expansions_per_anchor: MAX_YAML_ALIASES,
        },
    }
}

/// How to stay under the YAML limits, shared by every limit error.
const YAML_HELP: &str = "a topology needs nothing near this; if the file is generated, split it or \
                         simplify it (see \"Limits\" in docs/mapping.md)";

/// The message and help for a serde-saphyr error that is one of our limits
/// (seen through its snippet and alias wrappers), or `None` for any other error.
pub(crate) fn describe_yaml_limit(e: &serde_saphyr::Error) -> Option<(String, String)> {
    use serde_saphyr::Error as E;
    let mut e = e;
    while let E::WithSnippet { error, .. } | E::AliasError { error, .. } = e {
        e = error;
    }
    let message = match e {
        E::Budget { breach, .. } => budget_message(breach)?,
        E::AliasExpansionLimitExceeded { .. } => {
            format!("a YAML anchor is expanded more than {MAX_YAML_ALIASES} times (the limit; an alias bomb?)")
        }
        E::AliasReplayLimitExceeded { .. } => format!(
            "YAML aliases expand to more than {MAX_ALIAS_REPLAYED_EVENTS} parser events (the limit on alias \
             expansion; an alias bomb?)"
        ),
        E::AliasReplayStackDepthExceeded { .. } => format!(
            "YAML aliases nest more than {MAX_ALIAS_REPLAY_DEPTH} deep (an alias inside an anchor inside an \
             alias...; the limit is {MAX_ALIAS_REPLAY_DEPTH})"
        ),
        // The scanner's own cap on nesting (flow collections at MAX_YAML_DEPTH) can trip
        // before the budget sees the same depth: one limit, one message.
        E::ExternalMessage { source, .. } if is_parser_nesting_limit(source) => depth_message(),
        _ => return None,
    };
    Some((message, YAML_HELP.to_string()))
}

/// Whether a parser error is its nesting ("recursion") limit.
fn is_parser_nesting_limit(source: &serde_saphyr::ExternalMessageSource) -> bool {
    use serde_saphyr::granit_parser::ErrorKind;
    matches!(source, serde_saphyr::ExternalMessageSource::Parser(e) if matches!(e.kind(), ErrorKind::RecursionLimitExceeded))
}

fn depth_message() -> String {
    format!("YAML nesting is deeper than {MAX_YAML_DEPTH} levels (the limit)")
}

/// The message for one breached budget limit.
fn budget_message(breach: &serde_saphyr::budget::BudgetBreach) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach as B;
    Some(match breach {
        B::Depth { .. } => depth_message(),
        B::Nodes { .. } => {
            format!("the file has more than {MAX_YAML_NODES} YAML nodes (values, mappings, lists; the limit)")
        }
        B::Events { .. } => format!("the file has more than {MAX_YAML_EVENTS} YAML parser events (the limit)"),
        B::ScalarBytes { total_scalar_bytes } => format!(
            "the file's text values add up to more than {} (the limit on scalar text; {} read so far)",
            bytes(MAX_YAML_SCALAR_BYTES as u64),
            bytes(*total_scalar_bytes as u64)
        ),
        B::CommentBytes { .. } => {
            format!("the file's comments add up to more than {}", bytes(MAX_YAML_COMMENT_BYTES as u64))
        }
        B::Aliases { .. } => format!("the file uses more than {MAX_YAML_ALIASES} YAML aliases (`*name`, the limit)"),
        B::Anchors { .. } => format!("the file defines more than {MAX_YAML_ANCHORS} YAML anchors (`&name`, the limit)"),
        B::MergeKeys { .. } => format!("the file has more than {MAX_YAML_MERGE_KEYS} merge keys (`<<`, the limit)"),
        B::RecordedAnchorEvents { .. } => format!(
            "YAML anchors record more than {MAX_ANCHOR_RECORDED_EVENTS} parser events (the limit on anchored \
             content; an alias bomb?)"
        ),
        B::RecordedAnchorBytes { .. } => format!(
            "YAML anchors record more than {} of text (the limit on anchored content)",
            bytes(MAX_ANCHOR_RECORDED_BYTES as u64)
        ),
        _ => return None,
    })
}

/// A byte count for people: `16 MiB`, `17825792 bytes (17.0 MiB)`, `512 bytes`.
pub(crate) fn bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{n} bytes ({:.1} MiB)", n as f64 / MIB as f64)
    } else {
        format!("{n} bytes")
    }
}

/// Why [`read_bounded`] read nothing.
#[derive(Debug)]
pub(crate) enum ReadError {
    Io(std::io::Error),
    /// Over [`MAX_FILE_BYTES`]: the size when the metadata tells it.
    TooLarge(Option<u64>),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// The error for a file over [`MAX_FILE_BYTES`], naming it and its size.
pub(crate) fn too_large(path: &Path, what: &str, size: Option<u64>) -> Diagnostic {
    let size = match size {
        Some(n) => bytes(n),
        None => format!("more than {}", bytes(MAX_FILE_BYTES)),
    };
    Diagnostic::new(format!(
        "{what} `{}` is {size}, over the limit of {} for input files",
        path.display(),
        bytes(MAX_FILE_BYTES)
    ))
    .help(format!(
        "keep {what}s under {} (a topology needs far less): check that the path names the file you meant, \
         or split a generated file",
        bytes(MAX_FILE_BYTES)
    ))
}

/// Reads a whole file as UTF-8, refusing one over [`MAX_FILE_BYTES`]: first by
/// its metadata, then by reading at most one byte more than the limit (a file
/// that grows, or a device or pipe whose size is unknown, cannot get past it).
pub(crate) fn read_bounded(path: &Path) -> Result<String, ReadError> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(Some(meta.len())));
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len().min(MAX_FILE_BYTES)).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge(None));
    }
    String::from_utf8(buf).map_err(|_| {
        ReadError::Io(std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
    })
}
