//! Colour for the text reports (ANSI through `anstyle`, what clap uses; the
//! CLI decides whether it reaches the terminal), and human times ("up 3 min").

use std::time::Duration;

use anstyle::{AnsiColor, Style};

pub(crate) const ADD: Style = AnsiColor::Green.on_default();
pub(crate) const REMOVE: Style = AnsiColor::Red.on_default();
pub(crate) const UPDATE: Style = AnsiColor::Yellow.on_default();
pub(crate) const REPLACE: Style = AnsiColor::Magenta.on_default();

/// `text` in `style` when `color`, else as it is.
pub(crate) fn paint(text: &str, style: Style, color: bool) -> String {
    if color { format!("{style}{text}{style:#}") } else { text.to_string() }
}

/// A duration as people say it: `45 s`, `3 min`, `2 h`, `4 days`.
pub fn ago(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ if s / 86_400 == 1 => "1 day".to_string(),
        _ => format!("{} days", s / 86_400),
    }
}

/// `up 3 min (since 2025-11-26 18:12:03 UTC)` for an RFC 3339 start time, as
/// Docker and the Kubernetes API write them (nanoseconds, offsets); `None`
/// when it does not parse or is Docker's zero time.
pub fn up_since(rfc3339: &str) -> Option<String> {
    let (elapsed, at) = since(rfc3339)?;
    Some(format!("up {} (since {at})", ago(elapsed)))
}

/// `finished 3 min ago (2025-11-26 18:12:03 UTC)` for an RFC 3339 end time.
pub fn finished_since(rfc3339: &str) -> Option<String> {
    let (elapsed, at) = since(rfc3339)?;
    Some(format!("finished {} ago ({at})", ago(elapsed)))
}

/// Time since `rfc3339`, and the moment in UTC to the second.
fn since(rfc3339: &str) -> Option<(Duration, String)> {
    let t: jiff::Timestamp = rfc3339.parse().ok()?;
    if t.as_second() <= 0 {
        return None;
    }
    let elapsed = Duration::try_from(jiff::Timestamp::now().duration_since(t)).unwrap_or_default();
    Some((elapsed, t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_people_say_them() {
        assert_eq!(ago(Duration::from_secs(42)), "42 s");
        assert_eq!(ago(Duration::from_secs(200)), "3 min");
        assert_eq!(ago(Duration::from_secs(7300)), "2 h");
        assert_eq!(ago(Duration::from_secs(86_400 + 5)), "1 day");
        assert_eq!(ago(Duration::from_secs(3 * 86_400)), "3 days");
    }

    #[test]
    fn start_times_from_docker_and_kubernetes() {
        let three_min_ago = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(185);
        let docker = three_min_ago.to_string(); // nanoseconds, `Z`
        let up = up_since(&docker).unwrap_or_default();
        assert!(up.starts_with("up 3 min (since "), "{up}");
        assert!(up.ends_with(" UTC)"), "{up}");
        assert_eq!(up_since("0001-01-01T00:00:00Z"), None);
        assert_eq!(up_since("soon"), None);
        assert!(finished_since(&docker).is_some_and(|f| f.starts_with("finished 3 min ago (")));
        assert!(up_since("2025-01-02T03:04:05.123456789+01:00").is_some_and(|u| u.contains("2025-01-02 02:04:05 UTC")));
    }

    #[test]
    fn paint_only_when_asked() {
        assert_eq!(paint("x", ADD, false), "x");
        assert_eq!(paint("x", ADD, true), "\u{1b}[32mx\u{1b}[0m");
    }
}
