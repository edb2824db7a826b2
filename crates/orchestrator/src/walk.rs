//! One dependency walker for every command (compose-go's `graph/traversal.go`):
//! each service is visited as soon as *its own* predecessors allow, never a
//! whole layer at a time. Forward (apply) a service waits for its
//! dependencies' `depends_on` conditions; in reverse (destroy) it waits until
//! every service that depends on it is gone.

use std::collections::HashMap;

use deploy_topology::Condition;
use tokio::sync::watch;

use crate::Selection;

/// How far a service has got, as the services waiting on it see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reached {
    Pending,
    /// Its container or workload exists and was started.
    Started,
    Ready,
    /// A one-shot that ran to completion (exit 0).
    Completed,
    Failed,
    /// Destroy: removed.
    Removed,
}

impl Reached {
    /// Whether a dependent waiting with `cond` can stop waiting (satisfied, or never will be).
    pub fn settles(self, cond: Condition) -> bool {
        match cond {
            Condition::ServiceStarted => self != Reached::Pending,
            Condition::ServiceHealthy => !matches!(self, Reached::Pending | Reached::Started),
            Condition::ServiceCompletedSuccessfully => matches!(self, Reached::Completed | Reached::Failed),
        }
    }
    /// Whether `cond` holds.
    pub fn satisfies(self, cond: Condition) -> bool {
        match cond {
            Condition::ServiceStarted => matches!(self, Reached::Started | Reached::Ready | Reached::Completed),
            Condition::ServiceHealthy => self == Reached::Ready,
            Condition::ServiceCompletedSuccessfully => self == Reached::Completed,
        }
    }
}

/// Direction of a walk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Dependencies first (apply).
    Forward,
    /// Dependents first (destroy).
    Reverse,
}

/// Where every service of a walk is; services publish, their neighbours wait.
pub struct Board<'a> {
    sel: &'a Selection,
    cells: HashMap<&'a str, watch::Sender<Reached>>,
}

impl<'a> Board<'a> {
    pub fn new(sel: &'a Selection) -> Self {
        let cells = sel.services().iter().map(|s| (s.as_str(), watch::channel(Reached::Pending).0)).collect();
        Board { sel, cells }
    }

    /// Whether `service` waits for anything in a forward walk.
    pub fn has_dependencies(&self, service: &str) -> bool {
        !self.sel.dependencies(service).is_empty()
    }

    pub fn set(&self, service: &str, r: Reached) {
        if let Some(tx) = self.cells.get(service) {
            tx.send_replace(r);
        }
    }

    async fn until(&self, service: &str, done: impl Fn(Reached) -> bool) -> Reached {
        let Some(tx) = self.cells.get(service) else { return Reached::Removed };
        let mut rx = tx.subscribe();
        // The sender lives as long as the board: `wait_for` ends only when `done` holds.
        rx.wait_for(|r| done(*r)).await.map_or(Reached::Failed, |r| *r)
    }

    /// Waits until every dependency of `service` has at least started; `false`
    /// when one failed.
    pub async fn gate_started(&self, service: &str) -> bool {
        for (dep, _) in self.sel.dependencies(service) {
            if self.until(dep, |r| r != Reached::Pending).await == Reached::Failed {
                return false;
            }
        }
        true
    }

    /// Waits until `service` may go ahead in `dir`. `Err` says why it never will.
    pub async fn gate(&self, service: &str, dir: Direction) -> Result<(), String> {
        match dir {
            Direction::Forward => {
                for (dep, cond) in self.sel.dependencies(service) {
                    let got = self.until(dep, |r| r.settles(*cond)).await;
                    if !got.satisfies(*cond) {
                        let why = match (got, cond) {
                            (Reached::Completed, Condition::ServiceHealthy) => "exited instead of staying up",
                            _ => "failed",
                        };
                        return Err(format!("dependency `{dep}` {why} ({} required); not started", cond.as_str()));
                    }
                }
            }
            Direction::Reverse => {
                for d in self.sel.dependents(service) {
                    if self.until(d, |r| matches!(r, Reached::Removed | Reached::Failed)).await == Reached::Failed {
                        return Err(format!("kept: `{d}`, which depends on it, could not be removed"));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_settle_and_hold() {
        use Condition::*;
        assert!(Reached::Started.settles(ServiceStarted) && Reached::Started.satisfies(ServiceStarted));
        assert!(!Reached::Started.settles(ServiceHealthy));
        assert!(Reached::Completed.settles(ServiceHealthy) && !Reached::Completed.satisfies(ServiceHealthy));
        assert!(!Reached::Ready.settles(ServiceCompletedSuccessfully));
        assert!(Reached::Failed.settles(ServiceCompletedSuccessfully));
        assert!(!Reached::Failed.satisfies(ServiceCompletedSuccessfully));
    }
}
