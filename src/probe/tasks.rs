//! Task limits: how many processes the sandbox may start.

use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use serde::{Deserialize, Serialize};

use super::schema::{f, opt, Field, Ty};
use super::Def;
use crate::sys::{self, CloneResult};

#[derive(Serialize, Debug)]
pub struct ForkReport {
    /// Children started (all alive at once) before the first refusal.
    pub forked: u32,
    /// The errno of the first refused fork; absent when all `max` started.
    pub error: Option<String>,
}

/// Starts up to `max` children that stay alive, counts them, then kills
/// and reaps them all.
pub fn fork_count(max: u32) -> ForkReport {
    let mut children = Vec::new();
    let mut error = None;
    for _ in 0..max {
        match sys::clone_fork(CloneFlags::empty()) {
            Ok(CloneResult::Child) => loop {
                nix::unistd::pause();
            },
            Ok(CloneResult::Parent { child }) => children.push(child),
            Err(e) => {
                error = Some(format!("{e:?}"));
                break;
            }
        }
    }
    let forked = children.len() as u32;
    for c in &children {
        let _ = kill(*c, Signal::SIGKILL);
    }
    for c in children {
        let _ = waitpid(c, None);
    }
    ForkReport { forked, error }
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `fork-count`: starts up to `max` processes at once and counts them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ForkCountArgs {
    pub max: u32,
}

impl Def for ForkCountArgs {
    type Output = ForkReport;
    fn run(&self) -> ForkReport {
        fork_count(self.max)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.forked", Ty::UINT));
        v.push(opt("probe.error", Ty::Outcome));
    }
}
