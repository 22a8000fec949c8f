//! Probes of the harness itself, not of the kernel: one that does nothing
//! (benchmarks, requirement probes that only need a sandbox to start) and
//! two that break the sandbox on purpose (the harness's own tests).

use serde::{Deserialize, Serialize};

use super::schema::Field;
use super::Def;

/// What a probe that reports nothing sends: an empty object.
#[derive(Serialize, Debug)]
pub struct Nothing {}

/// `noop`: does nothing (benchmarks).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NoopArgs {}

impl Def for NoopArgs {
    type Output = Nothing;
    fn run(&self) -> Nothing {
        Nothing {}
    }
    fn fields(&self, _: &mut Vec<Field>) {}
}

/// `crash`: harness self-test: aborts (it never reports).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CrashArgs {}

impl Def for CrashArgs {
    type Output = Nothing;
    fn run(&self) -> Nothing {
        std::process::abort()
    }
    fn fields(&self, _: &mut Vec<Field>) {}
}

/// `hang`: harness self-test: never returns (it is killed). With
/// `escape = true` it first leaves a task behind in a session of its own,
/// as `escape-session` does: what an interrupted run must still end.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HangArgs {
    #[serde(default)]
    pub escape: bool,
}

impl Def for HangArgs {
    type Output = Nothing;
    fn run(&self) -> Nothing {
        if self.escape {
            let _ = super::cgroup::escape_session();
        }
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    fn fields(&self, _: &mut Vec<Field>) {}
}
