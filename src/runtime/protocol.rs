//! The helper's wire protocol: the [`HelperRequest`] the runner writes on
//! the helper's stdin, the [`HelperReport`] it reads back, and the
//! [`RootlessPlan`] a request carries for a rootless worker (whose
//! behaviour lives in `rootless`). Plain data, serialised as JSON.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

use super::init::SetupRecord;
use crate::model::error::StepError;
use crate::model::spec::{IdMap, SandboxSpec};
use crate::probe::Probe;

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct HelperRequest {
    pub spec: SandboxSpec,
    pub probe: Probe,
    /// An empty directory the new root is mounted on.
    pub root_dir: PathBuf,
    pub scratch: Option<PathBuf>,
    /// `cgroup.procs` files the sandbox is moved into before it is released.
    pub cgroup_procs: Vec<PathBuf>,
    /// Write `deny` to setgroups before gid_map (a rootless writer).
    pub deny_setgroups: bool,
    /// Build the sandbox from inside a user namespace owned by an
    /// unprivileged uid (rootless mode).
    #[serde(default)]
    pub rootless: Option<RootlessPlan>,
}

/// How the sandbox ended.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct ExitInfo {
    pub code: Option<i32>,
    /// The signal's name, e.g. `SIGKILL`.
    pub signal: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct HelperReport {
    /// What the probe reported; `None` when the sandbox died first.
    pub probe: Option<Value>,
    pub setup: Option<SetupRecord>,
    pub setup_error: Option<StepError>,
    pub exit: Option<ExitInfo>,
    pub timed_out: bool,
    /// The hostname outside the sandbox (in the helper's namespace, which
    /// is a throwaway one when the spec asks for `outer = ["uts"]`).
    pub hostname_before: String,
    pub hostname_after: String,
    /// Processes left behind that the sweep killed.
    pub swept: usize,
    /// Microseconds from clone to the sandbox's exit.
    pub sandbox_us: u64,
    /// What a process that joined the sandbox saw (scaffold `join`).
    #[serde(default)]
    pub joiner: Option<super::join::JoinView>,
    /// What the seccomp supervisor received (scaffold `seccomp_supervisor`).
    #[serde(default)]
    pub notify: Option<super::notify::NotifyView>,
    /// A signal sent the sandbox's init through a pidfd (scaffold
    /// `pidfd_signal`).
    #[serde(default)]
    pub pidfd_signal: Option<super::scaffold::SignalView>,
    /// The sandbox's /proc/self/uid_map, lines joined by `; `.
    #[serde(default)]
    pub uid_map: String,
    /// Mount points below the scratch directory in the helper's own mount
    /// table after the sandbox ended (relative paths): mounts the sandbox
    /// sent out (into a throwaway outer namespace, for `outer = ["mount"]`).
    #[serde(default)]
    pub scratch_mounts: Vec<String>,
    /// Sabotages whose steps ran with their bug (feature `sabotage`), in
    /// the helper, the rootless worker and the sandbox.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sabotage_fired: Vec<String>,
    /// How the sandbox was placed in its cgroup ([`JOIN_CLONE_INTO`],
    /// [`JOIN_TASKS_SELF`] or [`JOIN_PROCS_WRITE`]); none without one.
    ///
    /// [`JOIN_CLONE_INTO`]: super::cgroups::JOIN_CLONE_INTO
    /// [`JOIN_TASKS_SELF`]: super::cgroups::JOIN_TASKS_SELF
    /// [`JOIN_PROCS_WRITE`]: super::cgroups::JOIN_PROCS_WRITE
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_join: Option<String>,
    /// The task the probe left outside the sandbox's session, as the
    /// helper saw it after the main process ended (spec `leftovers`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escapee: Option<Escapee>,
}

/// A task that left the sandbox's session (the probe's `escaped_pid`),
/// watched by the helper through a pidfd once the main process has ended.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Escapee {
    pub pid: i32,
    /// Its cgroup on the cgroup2 hierarchy, from /proc/<pid>/cgroup.
    pub cgroup: String,
    /// It was alive when the helper found it.
    pub alive_before: bool,
    /// What the runtime did: `cgroup.kill` (1 written to the sandbox's
    /// `cgroup.kill`) or `main-process` (only the main process ended).
    pub ended_by: String,
    /// It was still alive after the wait that followed.
    pub alive_after: bool,
    /// Milliseconds the helper waited for it to die.
    pub waited_ms: u64,
}

/// How the worker's user namespace is made.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RootlessPlan {
    /// The unprivileged ids that own the user namespace.
    pub uid: u32,
    pub gid: u32,
    /// The namespace's maps: `0 uid 1` and, when a privileged writer is
    /// there, a subordinate range.
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    /// `cgroup.procs` files the worker joins before it drops its ids: a
    /// delegated cgroup it may then move the sandbox from (cgroup v2).
    pub join_cgroup: Vec<PathBuf>,
    /// Write the maps with newuidmap and newgidmap, run as the
    /// unprivileged user (they check /etc/subuid and /etc/subgid), as a
    /// rootless runtime does; else the helper writes them itself.
    #[serde(default)]
    pub tools: Option<IdmapTools>,
}

/// Paths of the setuid map writers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct IdmapTools {
    pub newuidmap: PathBuf,
    pub newgidmap: PathBuf,
}
