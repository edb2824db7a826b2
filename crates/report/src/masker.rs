//! The one masking point: every occurrence of a known secret value, in every
//! string of a report or progress event, replaced by [`MASK`].

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::{ApplyReport, DestroyReport, DiffReport, MASK, Phase, Progress, StatusReport, VerifyReport};

/// Values shorter than this are not masked: replacing every `on` or `123` in a
/// report would garble it (and tell a reader the value anyway). A secret that
/// short is not a secret worth the name.
pub const MIN_MASKED_LEN: usize = 4;

/// The secret values to mask, shared between the reports and the progress of
/// one command (the set can grow once the backend has prepared).
#[derive(Clone, Debug, Default)]
pub struct Masker {
    /// Longest first, so that a value containing another is masked whole.
    values: Arc<RwLock<Vec<String>>>,
}

impl Masker {
    pub fn new(values: Vec<String>) -> Self {
        let m = Masker::default();
        m.add(values);
        m
    }

    /// Adds values to mask (those shorter than [`MIN_MASKED_LEN`] are skipped).
    pub fn add(&self, values: Vec<String>) {
        let Ok(mut v) = self.values.write() else { return };
        v.extend(values.into_iter().filter(|s| s.chars().count() >= MIN_MASKED_LEN));
        v.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        v.dedup();
    }

    /// `s` with every secret value masked.
    pub fn text(&self, s: &str) -> String {
        let Ok(values) = self.values.read() else { return MASK.to_string() };
        let mut out = s.to_string();
        for v in values.iter() {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }

    fn one(&self, s: &mut String) {
        let masked = self.text(s);
        if masked != *s {
            *s = masked;
        }
    }

    fn opt(&self, s: &mut Option<String>) {
        if let Some(x) = s {
            self.one(x);
        }
    }

    fn all(&self, v: &mut [String]) {
        v.iter_mut().for_each(|s| self.one(s));
    }

    pub fn phase(&self, p: &Phase) -> Phase {
        let mut p = p.clone();
        match &mut p {
            Phase::Pulling { progress } | Phase::Building { progress } => self.opt(progress),
            Phase::Probing { last, .. } => self.opt(last),
            Phase::Waiting { reason } | Phase::Failed { reason } => self.one(reason),
            _ => {}
        }
        p
    }

    pub fn apply_report(&self, r: &mut ApplyReport) {
        for s in &mut r.services {
            s.phase = self.phase(&s.phase);
            self.opt(&mut s.object);
            self.all(&mut s.detail);
        }
        self.all(&mut r.pruned);
        self.all(&mut r.warnings);
        self.opt(&mut r.error);
        if let Some(v) = &mut r.verify {
            self.verify_report(v);
        }
        for x in &mut r.restored {
            self.opt(&mut x.object);
            self.all(&mut x.detail);
            self.opt(&mut x.error);
        }
    }

    /// Every output a check printed, its command and its reason.
    pub fn verify_report(&self, r: &mut VerifyReport) {
        for c in &mut r.checks {
            self.one(&mut c.name);
            self.opt(&mut c.instance);
            self.opt(&mut c.reason);
            self.all(&mut c.detail);
            if let Some(o) = &mut c.output {
                self.one(&mut o.command);
                self.one(&mut o.stdout);
                self.one(&mut o.stderr);
            }
        }
        self.opt(&mut r.error);
    }

    pub fn diff_report(&self, r: &mut DiffReport) {
        for o in &mut r.objects {
            self.one(&mut o.name);
            for f in &mut o.fields {
                self.one(&mut f.path);
                self.opt(&mut f.live);
                self.opt(&mut f.planned);
            }
        }
    }

    pub fn status_report(&self, r: &mut StatusReport) {
        for s in &mut r.services {
            self.opt(&mut s.object);
            self.one(&mut s.state);
            self.opt(&mut s.health);
            self.all(&mut s.detail);
        }
    }

    pub fn destroy_report(&self, r: &mut DestroyReport) {
        self.all(&mut r.removed);
        self.all(&mut r.kept);
        self.opt(&mut r.error);
    }
}

/// A [`Progress`] that masks every secret value before passing events on.
pub struct Masking {
    inner: Arc<dyn Progress>,
    mask: Masker,
}

impl Masking {
    pub fn new(inner: Arc<dyn Progress>, mask: Masker) -> Self {
        Masking { inner, mask }
    }
}

impl Progress for Masking {
    fn update(&self, service: &str, phase: &Phase, elapsed: Duration) {
        self.inner.update(service, &self.mask.phase(phase), elapsed);
    }
    fn note(&self, message: &str) {
        self.inner.note(&self.mask.text(message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_is_masked_longest_first_and_short_values_are_not() {
        let m = Masker::new(vec!["abc".into(), "s3cret".into(), "s3cret-and-more".into()]);
        assert_eq!(m.text("a s3cret-and-more, s3cret twice: s3cret"), "a ********, ******** twice: ********");
        assert_eq!(m.text("abc stays"), "abc stays");
        let p = m.phase(&Phase::Failed { reason: "probe `x s3cret` failed".into() });
        assert_eq!(p, Phase::Failed { reason: "probe `x ********` failed".into() });
    }
}
