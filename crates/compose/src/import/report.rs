//! What an import carried, left out and checked; its text, with every
//! literal secret of the input masked.

use std::path::PathBuf;

use deploy_report::Masker;
use serde::Serialize;

use super::verify::Check;

/// A field of the Compose file the topology does not carry, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotCarried {
    /// Path in the Compose file, like `services.web.cap_add` or `services.web.volumes[1]`.
    pub path: String,
    pub reason: String,
}

/// One Compose file's import.
#[derive(Clone, Debug)]
pub struct FileReport {
    pub profile: Option<String>,
    pub input: PathBuf,
    pub services: usize,
    /// Fields left out because the topology does not take them: warnings.
    pub not_carried: Vec<NotCarried>,
    /// Fields Compose itself gives no meaning to (`version:`, `x-*`): notes.
    pub ignored: Vec<NotCarried>,
    /// `extends` resolved: the service written is the merge Compose makes (notes).
    pub merged: Vec<NotCarried>,
    pub check: Check,
}

impl FileReport {
    /// Nothing left out, and Docker Compose reads the rendered file as the input.
    pub fn lossless(&self) -> bool {
        self.not_carried.is_empty() && self.check == Check::Compared(Vec::new())
    }
    /// Fields left out plus differences found.
    pub fn warnings(&self) -> usize {
        self.not_carried.len() + self.differences()
    }
    fn differences(&self) -> usize {
        match &self.check {
            Check::Compared(d) => d.len(),
            Check::NotRun(_) => 0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ImportReport {
    pub written: Vec<PathBuf>,
    pub files: Vec<FileReport>,
    pub notes: Vec<String>,
    masker: Masker,
}

impl ImportReport {
    pub(crate) fn new(written: Vec<PathBuf>, files: Vec<FileReport>, notes: Vec<String>, secrets: Vec<String>) -> Self {
        ImportReport { written, files, notes, masker: Masker::new(secrets) }
    }

    /// Every file carried whole and checked equal by Docker Compose.
    pub fn lossless(&self) -> bool {
        self.files.iter().all(FileReport::lossless)
    }

    /// The report as text. What may quote a value (the loader's reasons, Docker
    /// Compose's messages) has every literal secret of the input masked; paths
    /// and names are keys, not values.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let written: Vec<String> = self.written.iter().map(|p| p.display().to_string()).collect();
        out.push_str(&format!("wrote {}\n", written.join(", ")));
        for n in &self.notes {
            out.push_str(&format!("note: {n}\n"));
        }
        for f in &self.files {
            file_text(f, &self.masker, &mut out);
        }
        out.push_str(&self.summary());
        out
    }

    fn summary(&self) -> String {
        let warnings: usize = self.files.iter().map(FileReport::warnings).sum();
        let unchecked = self.files.iter().any(|f| matches!(f.check, Check::NotRun(_)));
        if self.lossless() {
            "result: lossless\n".to_string()
        } else if warnings == 0 && unchecked {
            "result: nothing left out, but the round trip was not checked (--strict makes this an error)\n".to_string()
        } else {
            format!("result: not lossless, {warnings} warning(s) (--strict makes this an error)\n")
        }
    }
}

fn file_text(f: &FileReport, masker: &Masker, out: &mut String) {
    let what = match &f.profile {
        Some(p) => format!("profile `{p}` ({})", f.input.display()),
        None => f.input.display().to_string(),
    };
    out.push_str(&format!("{what}: {} service(s)\n", f.services));
    for i in &f.ignored {
        out.push_str(&format!("  ignored: {}: {}\n", i.path, i.reason));
    }
    for m in &f.merged {
        out.push_str(&format!("  resolved: {}: {}\n", m.path, m.reason));
    }
    if !f.not_carried.is_empty() {
        out.push_str(&format!("  not carried ({}):\n", f.not_carried.len()));
        for n in &f.not_carried {
            out.push_str(&format!("    {}: {}\n", n.path, masker.text(&n.reason)));
        }
    }
    match &f.check {
        Check::NotRun(why) => out.push_str(&format!("  round trip: not checked: {}\n", masker.text(why))),
        Check::Compared(d) if d.is_empty() => out.push_str(
            "  round trip: equal (docker compose config reads the input and the rendered topology the same)\n",
        ),
        Check::Compared(d) => {
            out.push_str(&format!(
                "  round trip: {} difference(s) (docker compose config, input vs rendered):\n",
                d.len()
            ));
            for x in d {
                out.push_str(&format!("    {}\n", masker.text(x)));
            }
        }
    }
}
