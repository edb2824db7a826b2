//! The topology's units and restart policies as Compose and the Docker Engine spell them.
//!
//! Compose reads sizes with binary letters (`256M`), CPUs as a decimal number
//! of cores (`0.25`), durations in Go's syntax (`1m30s`); the Engine API takes
//! CPUs as NanoCpus. The topology only parses and validates these values.

use deploy_topology::Restart;
use deploy_topology::units::{ByteSize, Cpus, Dur, GIB, KIB, MIB, TIB};

/// A value as written in a Compose file.
pub trait ComposeFormat {
    fn to_compose(&self) -> String;
}

impl ComposeFormat for ByteSize {
    /// The largest binary unit that divides exactly (`256M`, `1G`, `1536K`, `100`).
    fn to_compose(&self) -> String {
        let n = self.bytes();
        for (unit, suffix) in [(TIB, "T"), (GIB, "G"), (MIB, "M"), (KIB, "K")] {
            if n != 0 && n.is_multiple_of(unit) {
                return format!("{}{}", n / unit, suffix);
            }
        }
        n.to_string()
    }
}

impl ComposeFormat for Cpus {
    /// A decimal number of cores (`0.25`, `2`).
    fn to_compose(&self) -> String {
        let (whole, frac) = (self.millis() / 1000, self.millis() % 1000);
        if frac == 0 { whole.to_string() } else { format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0')) }
    }
}

impl ComposeFormat for Dur {
    /// Go's spelling (`10s`, `1m30s`, `500ms`, `2us`).
    fn to_compose(&self) -> String {
        let d = self.get();
        let nanos = d.as_nanos();
        if nanos == 0 {
            return "0s".into();
        }
        if !nanos.is_multiple_of(1_000_000_000) {
            if nanos.is_multiple_of(1_000_000) {
                return format!("{}ms", nanos / 1_000_000);
            }
            return format!("{}us", nanos / 1_000);
        }
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let mut out = String::new();
        for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
            if n > 0 {
                out.push_str(&format!("{n}{unit}"));
            }
        }
        out
    }
}

impl ComposeFormat for Restart {
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    fn to_compose(&self) -> String {
        match self {
            Restart::No => "no".into(),
            Restart::Always => "always".into(),
            Restart::OnFailure(None) => "on-failure".into(),
            Restart::OnFailure(Some(n)) => format!("on-failure:{n}"),
            Restart::UnlessStopped => "unless-stopped".into(),
        }
    }
}

/// Docker's `NanoCpus` (10^-9 CPUs) for a CPU amount.
pub fn nano_cpus(c: Cpus) -> i64 {
    (c.millis() as i64) * 1_000_000
}

/// The Engine's `NanoCpus` as Compose writes CPUs (`0.25`), exact to the nanoCPU.
pub fn cpus_from_nano(n: i64) -> String {
    let (whole, frac) = (n / 1_000_000_000, n % 1_000_000_000);
    if frac == 0 { whole.to_string() } else { format!("{whole}.{}", format!("{frac:09}").trim_end_matches('0')) }
}

/// The Engine's bytes as Compose writes sizes (`256M`).
pub fn size_from_bytes(n: i64) -> String {
    u64::try_from(n).map_or_else(|_| n.to_string(), |b| ByteSize(b).to_compose())
}

/// The Engine's nanoseconds as Compose writes durations (`1m30s`).
pub fn duration_from_nanos(n: i64) -> String {
    u64::try_from(n).map_or_else(|_| format!("{n}ns"), |ns| Dur(std::time::Duration::from_nanos(ns)).to_compose())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn sizes_with_binary_letters() {
        assert_eq!(ByteSize(268_435_456).to_compose(), "256M");
        assert_eq!(ByteSize(1_572_864).to_compose(), "1536K");
        assert_eq!(ByteSize(3 * TIB).to_compose(), "3T");
        assert_eq!(ByteSize(1000).to_compose(), "1000");
        assert_eq!(ByteSize(0).to_compose(), "0");
    }

    #[test]
    fn cpus_as_decimal_cores_and_nano_cpus() {
        assert_eq!(Cpus(250).to_compose(), "0.25");
        assert_eq!(Cpus(100).to_compose(), "0.1");
        assert_eq!(Cpus(1500).to_compose(), "1.5");
        assert_eq!(Cpus(2000).to_compose(), "2");
        assert_eq!(nano_cpus(Cpus(250)), 250_000_000);
        assert_eq!(cpus_from_nano(250_000_000), "0.25");
        assert_eq!(cpus_from_nano(1_500_000_000), "1.5");
        assert_eq!(cpus_from_nano(2_000_000_000), "2");
        assert_eq!(cpus_from_nano(1), "0.000000001");
    }

    #[test]
    fn engine_values_back_in_compose_units() {
        assert_eq!(size_from_bytes(268_435_456), "256M");
        assert_eq!(size_from_bytes(335_544_320), "320M");
        assert_eq!(size_from_bytes(1000), "1000");
        assert_eq!(duration_from_nanos(90_000_000_000), "1m30s");
        assert_eq!(duration_from_nanos(500_000_000), "500ms");
    }

    #[test]
    fn durations_in_go_syntax() {
        assert_eq!(Dur(Duration::from_secs(90)).to_compose(), "1m30s");
        assert_eq!(Dur(Duration::from_secs(7200)).to_compose(), "2h");
        assert_eq!(Dur(Duration::from_secs(3661)).to_compose(), "1h1m1s");
        assert_eq!(Dur(Duration::from_millis(1500)).to_compose(), "1500ms");
        assert_eq!(Dur(Duration::from_micros(2)).to_compose(), "2us");
        assert_eq!(Dur(Duration::ZERO).to_compose(), "0s");
    }

    #[test]
    fn restart_policies() {
        assert_eq!(Restart::No.to_compose(), "no");
        assert_eq!(Restart::Always.to_compose(), "always");
        assert_eq!(Restart::UnlessStopped.to_compose(), "unless-stopped");
        assert_eq!(Restart::OnFailure(None).to_compose(), "on-failure");
        assert_eq!(Restart::OnFailure(Some(3)).to_compose(), "on-failure:3");
    }
}
