//! One apply (or destroy) at a time per project. The backend supplies the
//! platform's atomic primitive (`try_lock`: a Lease on Kubernetes, a lock
//! container on Docker); the orchestrator waits for it, with a progress line
//! naming the holder, until the command's own deadline.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deploy_report::Progress;

use crate::{Backend, human};

/// Who holds (or wants) a project's lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// Seconds since the Unix epoch when the command started.
    pub since: u64,
    /// `apply` or `destroy`.
    pub verb: String,
}

impl Holder {
    /// This process.
    pub fn me(verb: &str) -> Holder {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .or_else(|| std::env::var("HOSTNAME").ok())
            .unwrap_or_else(|| "unknown".into());
        let since = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Holder { pid: std::process::id(), host, since, verb: verb.into() }
    }

    /// `1234@host@1764169331@apply`: what a backend stores.
    pub fn encode(&self) -> String {
        format!("{}@{}@{}@{}", self.pid, self.host, self.since, self.verb)
    }

    pub fn decode(s: &str) -> Option<Holder> {
        let mut it = s.splitn(4, '@');
        let pid = it.next()?.parse().ok()?;
        let host = it.next()?.to_string();
        let since = it.next()?.parse().ok()?;
        let verb = it.next().unwrap_or("apply").to_string();
        Some(Holder { pid, host, since, verb })
    }

    /// "the apply started by pid 1234 on host h at 15:02:11 UTC".
    pub fn describe(&self) -> String {
        let t = self.since % 86_400;
        format!(
            "the {} started by pid {} on host {} at {:02}:{:02}:{:02} UTC",
            self.verb,
            self.pid,
            self.host,
            t / 3600,
            t % 3600 / 60,
            t % 60
        )
    }

    /// Whether the holder is provably gone: a process of this host that no longer runs.
    pub fn is_gone(&self) -> bool {
        let here = Holder::me("").host;
        self.host == here && !std::path::Path::new(&format!("/proc/{}", self.pid)).exists()
    }
}

/// What `try_lock` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Ours now.
    Taken,
    /// Someone else's, live.
    HeldBy(Holder),
}

/// Takes the project's lock, waiting for a live holder until `deadline`.
pub async fn acquire<B: Backend>(
    b: &B,
    me: &Holder,
    deadline: std::time::Instant,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), String> {
    acquire_for(b, me, deadline, (timeout, timeout), progress).await
}

/// [`acquire`] for a command that may hold the lock for `hold` (longer than
/// its `timeout`: `apply --atomic` restores after its deadline).
pub async fn acquire_for<B: Backend>(
    b: &B,
    me: &Holder,
    deadline: std::time::Instant,
    (timeout, hold): (Duration, Duration),
    progress: &dyn Progress,
) -> Result<(), String> {
    let mut said: Option<Holder> = None;
    loop {
        match b.try_lock(me, hold).await? {
            Lock::Taken => return Ok(()),
            Lock::HeldBy(h) => {
                if said.as_ref() != Some(&h) {
                    progress.note(&format!("waiting for {} to finish (project `{}`)", h.describe(), b.project()));
                    said = Some(h.clone());
                }
                if std::time::Instant::now() + Duration::from_millis(500) >= deadline {
                    return Err(format!(
                        "gave up after {}: project `{}` is being changed by {}; run again when it has finished",
                        human(timeout),
                        b.project(),
                        h.describe()
                    ));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_round_trip_and_read_well() {
        let h = Holder { pid: 1234, host: "h".into(), since: 15 * 3600 + 2 * 60 + 11, verb: "apply".into() };
        assert_eq!(Holder::decode(&h.encode()), Some(h.clone()));
        assert_eq!(h.describe(), "the apply started by pid 1234 on host h at 15:02:11 UTC");
        assert!(Holder::me("apply").pid > 0);
    }

    #[test]
    fn a_holder_of_this_host_whose_process_is_gone_is_gone() {
        let mut h = Holder::me("apply");
        assert!(!h.is_gone(), "this process runs");
        h.pid = u32::MAX - 1;
        assert!(h.is_gone());
        h.host = "another-host".into();
        assert!(!h.is_gone(), "a process elsewhere cannot be checked");
    }
}
