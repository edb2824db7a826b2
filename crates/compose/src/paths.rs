//! Host paths as Compose takes them before they exist: `.` and `..` resolved by text.

use std::path::{Component, Path, PathBuf};

/// `p` with `.` and `..` resolved lexically (the path need not exist; symbolic
/// links are not followed, as Compose does not follow them either).
pub(crate) fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
