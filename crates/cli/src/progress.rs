//! Live progress: one line per service with its state and elapsed time.
//! Progress bars on a terminal, plain lines otherwise or with `--progress
//! plain`, nothing with `--progress quiet` or for JSON
//! (the JSON report carries the same information at the end).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deploy_report::{Phase, Progress};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::ProgressMode;

/// The progress display for `--progress` (none for `--output json`, whose
/// report carries the same information at the end).
pub fn for_mode(mode: ProgressMode, json: bool) -> Arc<dyn Progress> {
    match mode {
        _ if json => Arc::new(deploy_report::NoProgress),
        ProgressMode::Quiet => Arc::new(deploy_report::NoProgress),
        ProgressMode::Auto if std::io::stderr().is_terminal() => Arc::new(Bars::default()),
        ProgressMode::Auto | ProgressMode::Plain => Arc::new(Lines),
    }
}

/// Clears live bars before the final report is printed.
pub fn finish(p: &Arc<dyn Progress>) {
    p.note("");
}

/// Plain lines on stderr, one per state change.
struct Lines;

impl Progress for Lines {
    fn update(&self, service: &str, phase: &Phase, elapsed: Duration) {
        eprintln!("{service:<20} {:<50} {:>7.1}s", phase.describe(), elapsed.as_secs_f64());
    }
    fn note(&self, message: &str) {
        if !message.is_empty() {
            eprintln!("{message}");
        }
    }
}

/// indicatif bars, one per service, ticking while work is in flight.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Default for Bars {
    fn default() -> Self {
        Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), bars: Mutex::new(HashMap::new()) }
    }
}

impl Progress for Bars {
    fn update(&self, service: &str, phase: &Phase, elapsed: Duration) {
        let Ok(mut bars) = self.bars.lock() else { return };
        let bar = bars.entry(service.to_string()).or_insert_with(|| {
            let b = self.multi.add(ProgressBar::new_spinner());
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix:<20} {wide_msg} {elapsed:>4}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_prefix(service.to_string());
            b.enable_steady_tick(Duration::from_millis(100));
            b
        });
        bar.set_message(format!("{} ({:.1}s)", phase.describe(), elapsed.as_secs_f64()));
        if phase.is_terminal() {
            let mark = if matches!(phase, Phase::Failed { .. }) { "✗" } else { "✓" };
            bar.set_style(
                ProgressStyle::with_template("{prefix:<22} {wide_msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(format!("{mark} {service}"));
            bar.finish();
        }
    }
    fn note(&self, message: &str) {
        if message.is_empty() {
            let _ = self.multi.clear();
        } else {
            let _ = self.multi.println(message);
        }
    }
}

/// Remembers where each service is, so that an interrupted command can say
/// which objects it was changing when it stopped.
pub struct Tracker {
    inner: Arc<dyn Progress>,
    last: Mutex<std::collections::BTreeMap<String, Phase>>,
}

impl Tracker {
    pub fn new(inner: Arc<dyn Progress>) -> Arc<Tracker> {
        Arc::new(Tracker { inner, last: Mutex::new(Default::default()) })
    }

    /// The services that were in the middle of something, with what.
    pub fn in_flight(&self) -> Vec<String> {
        let Ok(last) = self.last.lock() else { return Vec::new() };
        last.iter()
            .filter(|(_, p)| !p.is_terminal() && **p != Phase::Pending)
            .map(|(s, p)| format!("`{s}` {}", p.describe()))
            .collect()
    }
}

impl Progress for Tracker {
    fn update(&self, service: &str, phase: &Phase, elapsed: Duration) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(service.to_string(), phase.clone());
        }
        self.inner.update(service, phase, elapsed);
    }
    fn note(&self, message: &str) {
        self.inner.note(message);
    }
}
