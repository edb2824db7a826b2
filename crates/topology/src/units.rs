//! Sizes, CPU amounts and durations: parsed explicitly (sizes are binary,
//! as Docker counts them; `Mi` is accepted too), and written back the way a
//! topology file spells them. What each platform writes (Compose's `256M`,
//! Kubernetes' `256Mi`, Docker's NanoCpus...) is its backend's business
//! (`deploy-compose`, `deploy-k8s`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A memory or storage size in bytes.
///
/// Accepted spellings (case-insensitive for the Docker ones):
/// - a plain integer: bytes;
/// - Docker/Compose units `b`, `k`/`kb`, `m`/`mb`, `g`/`gb`, `t`/`tb`: **binary** (`128m` = 134217728);
/// - Kubernetes binary units `Ki`, `Mi`, `Gi`, `Ti` (same values).
///
/// Kubernetes decimal suffixes (`K`, `M` as 10^3, 10^6…) are deliberately not a
/// separate spelling: in topology files `M` means what it means to Docker (MiB),
/// which is what the Compose files this tool renders have always meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * 1024;
pub const GIB: u64 = 1024 * 1024 * 1024;
pub const TIB: u64 = 1024 * GIB;

impl ByteSize {
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ByteSize {
    /// The topology spelling: the largest binary unit that divides exactly (`256M`, `1G`, `1536K`, `100`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, suffix) in [(TIB, "T"), (GIB, "G"), (MIB, "M"), (KIB, "K")] {
            if self.0 != 0 && self.0.is_multiple_of(unit) {
                return write!(f, "{}{}", self.0 / unit, suffix);
            }
        }
        write!(f, "{}", self.0)
    }
}

pub const SIZE_HELP: &str =
    "a size like 256M, 64m, 128mb, 1G or 256Mi (Docker units are binary: 1M = 1048576 bytes), or a number of bytes";

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err(format!("`{s}` is not a size: expected {SIZE_HELP}"));
        }
        let mult = match unit {
            "" | "b" | "B" => 1,
            "Ki" => KIB,
            "Mi" => MIB,
            "Gi" => GIB,
            "Ti" => TIB,
            u => match u.to_ascii_lowercase().as_str() {
                "k" | "kb" => KIB,
                "m" | "mb" => MIB,
                "g" | "gb" => GIB,
                "t" | "tb" => TIB,
                _ => return Err(format!("`{s}` has an unknown size unit `{u}`: expected {SIZE_HELP}")),
            },
        };
        let value: f64 = num.parse().map_err(|_| format!("`{s}` is not a size: expected {SIZE_HELP}"))?;
        let bytes = value * mult as f64;
        if !bytes.is_finite() || bytes.fract() != 0.0 || bytes > u64::MAX as f64 {
            return Err(format!("`{s}` is not a whole number of bytes: expected {SIZE_HELP}"));
        }
        Ok(ByteSize(bytes as u64))
    }
}

/// A CPU amount in millicores (`0.25` = `250m` = 250).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cpus(pub u64);

pub const CPU_HELP: &str = "a number of cores like 0.25 or 2, or millicores like 250m (at most 3 decimals)";

impl Cpus {
    pub fn millis(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Cpus {
    /// The topology spelling: a decimal number of cores (`0.25`, `2`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.0 / 1000, self.0 % 1000);
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            write!(f, "{whole}.{}", format!("{frac:03}").trim_end_matches('0'))
        }
    }
}

impl std::str::FromStr for Cpus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || format!("`{s}` is not a CPU amount: expected {CPU_HELP}");
        if let Some(m) = t.strip_suffix('m') {
            let v: u64 = m.parse().map_err(|_| bad())?;
            return if v == 0 { Err(format!("`{s}`: a CPU amount must be greater than 0")) } else { Ok(Cpus(v)) };
        }
        let v: f64 = t.parse().map_err(|_| bad())?;
        if !v.is_finite() || v <= 0.0 {
            return Err(format!("`{s}`: a CPU amount must be greater than 0 ({CPU_HELP})"));
        }
        let millis = v * 1000.0;
        if (millis - millis.round()).abs() > 1e-6 {
            return Err(format!("`{s}` is finer than a millicore: expected {CPU_HELP}"));
        }
        Ok(Cpus(millis.round() as u64))
    }
}

/// A duration written like Compose does: `10s`, `1m30s`, `500ms`, `1h`, `2us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub Duration);

pub const DURATION_HELP: &str = "a duration like 10s, 1m30s, 500ms or 1h (units: us, ms, s, m, h)";

impl Dur {
    pub fn get(self) -> Duration {
        self.0
    }
}

impl fmt::Display for Dur {
    /// The topology (and Go) spelling: `10s`, `1m30s`, `500ms`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if !nanos.is_multiple_of(1_000_000_000) {
            if nanos.is_multiple_of(1_000_000) {
                return write!(f, "{}ms", nanos / 1_000_000);
            }
            return write!(f, "{}us", nanos / 1_000);
        }
        let secs = self.0.as_secs();
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("`{s}` is not a duration: expected {DURATION_HELP}");
        let mut rest = s.trim();
        if rest.is_empty() {
            return Err(bad());
        }
        if rest == "0" {
            return Ok(Dur(Duration::ZERO));
        }
        let mut total = Duration::ZERO;
        while !rest.is_empty() {
            let n = rest.find(|c: char| !c.is_ascii_digit() && c != '.').ok_or_else(bad)?;
            if n == 0 {
                return Err(bad());
            }
            let value: f64 = rest[..n].parse().map_err(|_| bad())?;
            rest = &rest[n..];
            let u = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let unit = match &rest[..u] {
                "ns" => 1e-9,
                "us" | "µs" => 1e-6,
                "ms" => 1e-3,
                "s" => 1.0,
                "m" => 60.0,
                "h" => 3600.0,
                _ => return Err(bad()),
            };
            rest = &rest[u..];
            total += Duration::try_from_secs_f64(value * unit).map_err(|_| bad())?;
        }
        Ok(Dur(total))
    }
}

/// Read from a string or a number; written as the topology spelling ([`fmt::Display`]).
macro_rules! serde_via_str {
    ($t:ty, $expect:expr, $pattern:expr) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expect)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$t, E> {
                        v.parse().map_err(E::custom)
                    }
                    fn visit_u64<E: de::Error>(self, v: u64) -> Result<$t, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                    fn visit_i64<E: de::Error>(self, v: i64) -> Result<$t, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                    fn visit_f64<E: de::Error>(self, v: f64) -> Result<$t, E> {
                        v.to_string().parse().map_err(E::custom)
                    }
                }
                d.deserialize_any(V)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }
        impl schemars::JsonSchema for $t {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($t).into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "description": $expect,
                    "type": ["string", "number"],
                    "pattern": $pattern
                })
            }
        }
    };
}

/// What the schema says a size written as a string looks like (editors check it as you type).
pub const SIZE_PATTERN: &str = r"^\s*([0-9]+\.?[0-9]*|\.[0-9]+)([bB]|[kKmMgGtT][bB]?|[KMGT]i)?\s*$";
/// A CPU amount written as a string: cores or millicores.
pub const CPU_PATTERN: &str = r"^\s*([0-9]+m|[0-9]+\.?[0-9]*|\.[0-9]+)\s*$";
/// A duration written as a string: `0`, or numbers each with a unit.
pub const DURATION_PATTERN: &str = r"^\s*(0|(([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|ms|s|m|h))+)\s*$";

serde_via_str!(ByteSize, SIZE_HELP, SIZE_PATTERN);
serde_via_str!(Cpus, CPU_HELP, CPU_PATTERN);
serde_via_str!(Dur, DURATION_HELP, DURATION_PATTERN);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The schema's patterns accept what the parsers accept (and the usual typos neither does).
    #[test]
    fn schema_patterns_agree_with_the_parsers() {
        let check = |pattern: &str, ok: &[&str], bad: &[&str], parses: &dyn Fn(&str) -> bool| {
            let re = regex::Regex::new(pattern).unwrap();
            for v in ok {
                assert!(re.is_match(v) && parses(v), "{v:?} should be accepted by {pattern} and the parser");
            }
            for v in bad {
                assert!(!re.is_match(v) && !parses(v), "{v:?} should be rejected by {pattern} and the parser");
            }
        };
        check(
            SIZE_PATTERN,
            &["256M", "64m", "128mb", "1G", "256Mi", "1.5G", "100", " 2Ki ", "1TB", "10b"],
            &["256 M", "1.5x", "M", "1e3", "256MiB", "-1M"],
            &|v| v.parse::<ByteSize>().is_ok(),
        );
        check(CPU_PATTERN, &["0.25", "2", "250m", ".5", "1.5"], &["abc", "0.25 cores", "-1", "250 m"], &|v| {
            v.parse::<Cpus>().is_ok()
        });
        check(
            DURATION_PATTERN,
            &["10s", "1m30s", "500ms", "1h", "0", "2us", "1.5s", "100ns"],
            &["soon", "10", "1 m", "s", "-1s", "1d"],
            &|v| v.parse::<Dur>().is_ok(),
        );
    }

    #[test]
    fn sizes_are_binary_like_docker() {
        assert_eq!("128m".parse::<ByteSize>().unwrap().bytes(), 134_217_728);
        assert_eq!("128mb".parse::<ByteSize>().unwrap().bytes(), 134_217_728);
        assert_eq!("256M".parse::<ByteSize>().unwrap().bytes(), 268_435_456);
        assert_eq!("256Mi".parse::<ByteSize>().unwrap().bytes(), 268_435_456);
        assert_eq!("1.5G".parse::<ByteSize>().unwrap().bytes(), 1_610_612_736);
        assert_eq!("1024".parse::<ByteSize>().unwrap().bytes(), 1024);
        assert_eq!(ByteSize(268_435_456).to_string(), "256M");
        assert_eq!(ByteSize(1_572_864).to_string(), "1536K");
        assert_eq!(ByteSize(1000).to_string(), "1000");
        for bad in ["", "abc", "12x", "1.5", "-3m", "m"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn cpus_in_millicores() {
        assert_eq!("0.25".parse::<Cpus>().unwrap(), Cpus(250));
        assert_eq!("250m".parse::<Cpus>().unwrap(), Cpus(250));
        assert_eq!("0.1".parse::<Cpus>().unwrap(), Cpus(100));
        assert_eq!("2".parse::<Cpus>().unwrap(), Cpus(2000));
        assert_eq!(Cpus(250).to_string(), "0.25");
        assert_eq!(Cpus(1500).to_string(), "1.5");
        assert_eq!(Cpus(2000).to_string(), "2");
        for bad in ["0", "-1", "abc", "0.0001", "0m", "1.5m"] {
            assert!(bad.parse::<Cpus>().is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn durations_like_compose() {
        assert_eq!("10s".parse::<Dur>().unwrap().get(), Duration::from_secs(10));
        assert_eq!("1m30s".parse::<Dur>().unwrap().get(), Duration::from_secs(90));
        assert_eq!("500ms".parse::<Dur>().unwrap().get(), Duration::from_millis(500));
        assert_eq!(Dur(Duration::from_secs(90)).to_string(), "1m30s");
        assert_eq!(Dur(Duration::from_millis(1500)).to_string(), "1500ms");
        assert_eq!(Dur(Duration::from_secs(7200)).to_string(), "2h");
        for bad in ["", "10", "s", "10x", "1m30", "ten seconds"] {
            assert!(bad.parse::<Dur>().is_err(), "{bad:?} should be rejected");
        }
    }
}
