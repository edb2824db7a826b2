//! The topology's sizes, CPU amounts and durations as Kubernetes spells them.
//!
//! Quantities are exact: sizes with binary suffixes (`256Mi`; Kubernetes' `M`
//! would be decimal), CPUs in cores or millicores (`2`, `250m`); probe fields
//! are whole seconds. The topology only parses and validates these values.

use std::time::Duration;

use deploy_topology::units::{ByteSize, Cpus, GIB, KIB, MIB, TIB};

/// A value as a Kubernetes quantity string.
pub trait K8sFormat {
    fn to_k8s(&self) -> String;
}

impl K8sFormat for ByteSize {
    /// Binary suffixes (`256Mi`), exact; a plain number of bytes otherwise.
    fn to_k8s(&self) -> String {
        let n = self.bytes();
        for (unit, suffix) in [(TIB, "Ti"), (GIB, "Gi"), (MIB, "Mi"), (KIB, "Ki")] {
            if n != 0 && n.is_multiple_of(unit) {
                return format!("{}{}", n / unit, suffix);
            }
        }
        n.to_string()
    }
}

impl K8sFormat for Cpus {
    /// Whole cores (`2`) or millicores (`250m`).
    fn to_k8s(&self) -> String {
        let m = self.millis();
        if m.is_multiple_of(1000) { (m / 1000).to_string() } else { format!("{m}m") }
    }
}

/// Whole seconds for a probe field, rounded up, at least 1.
pub fn probe_seconds(d: Duration) -> i32 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i32::try_from(s.max(1)).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_binary_suffixes() {
        assert_eq!(ByteSize(268_435_456).to_k8s(), "256Mi");
        assert_eq!(ByteSize(1_572_864).to_k8s(), "1536Ki");
        assert_eq!(ByteSize(3 * TIB).to_k8s(), "3Ti");
        assert_eq!(ByteSize(1000).to_k8s(), "1000");
        assert_eq!(ByteSize(0).to_k8s(), "0");
    }

    #[test]
    fn cpus_in_cores_or_millicores() {
        assert_eq!(Cpus(250).to_k8s(), "250m");
        assert_eq!(Cpus(1500).to_k8s(), "1500m");
        assert_eq!(Cpus(2000).to_k8s(), "2");
    }

    #[test]
    fn probe_seconds_round_up() {
        assert_eq!(probe_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(probe_seconds(Duration::from_millis(500)), 1);
        assert_eq!(probe_seconds(Duration::ZERO), 1);
        assert_eq!(probe_seconds(Duration::from_secs(90)), 90);
    }
}
