//! What the PID namespace lets the sandbox see.

use super::schema::{f, list, opt, Field, Ty};
use super::Def;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Debug)]
pub struct PidView {
    /// getpid() inside.
    pub self_pid: i32,
    /// Numeric entries of /proc, sorted, at most [`LIST_MAX`].
    pub visible_pids: Vec<i32>,
    pub visible_count: usize,
    /// This process's pid as the mounted /proc numbers it (`/proc/self`):
    /// differs from `self_pid` when /proc belongs to another PID namespace.
    pub self_in_proc: Option<i32>,
    /// /proc/1 exists and is not this process: a PID 1 of another
    /// namespace (the host's init) is visible.
    pub foreign_pid1_visible: bool,
    /// /proc/1/comm, for the reader of the report.
    pub pid1_comm: Option<String>,
}

pub const LIST_MAX: usize = 32;

pub fn view() -> PidView {
    let self_pid = nix::unistd::getpid().as_raw();
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    let visible_count = pids.len();
    pids.truncate(LIST_MAX);
    let pid1_comm = std::fs::read_to_string("/proc/1/comm")
        .ok()
        .map(|s| s.trim().to_string());
    let self_in_proc = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse().ok());
    PidView {
        self_pid,
        visible_pids: pids,
        visible_count,
        foreign_pid1_visible: std::path::Path::new("/proc/1").exists() && self_in_proc != Some(1),
        self_in_proc,
        pid1_comm,
    }
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `pid-view`: own pid, the pids /proc lists, whether a foreign PID 1 is
/// visible.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PidViewArgs {}

impl Def for PidViewArgs {
    type Output = PidView;
    fn run(&self) -> PidView {
        view()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.self_pid", Ty::SINT));
        v.extend(list("probe.visible_pids", Ty::SINT));
        v.push(f("probe.visible_count", Ty::UINT));
        v.push(opt("probe.self_in_proc", Ty::SINT));
        v.push(f("probe.foreign_pid1_visible", Ty::Bool));
        v.push(opt("probe.pid1_comm", Ty::Str));
    }
}

// `pidfd`: process descriptors across the PID namespace.

/// How long the `pidfd` probe waits for the helper's signal.
pub const SIGNAL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What pidfds reach from inside the sandbox.
#[derive(Serialize, Debug)]
pub struct PidfdView {
    /// getpid() inside.
    pub self_pid: i32,
    /// The helper's pid outside, as passed in.
    pub host_pid: Option<i32>,
    /// `pidfd_open` of that pid: `ok` or the errno.
    pub host_pidfd_open: Option<String>,
    /// The signal the helper sent through a pidfd, when it arrived within
    /// [`SIGNAL_WAIT`].
    pub signal: Option<String>,
    /// Its sender's pid as this PID namespace numbers it (0: outside it).
    pub signal_sender_pid: Option<i32>,
}

/// `pidfd`: opens a pidfd of the host pid passed in, and waits (bounded)
/// for the `SIGUSR1` the helper sends through a pidfd.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PidfdArgs {}

impl Def for PidfdArgs {
    type Output = PidfdView;
    fn run(&self) -> PidfdView {
        use nix::sys::signal::{SigSet, Signal};
        let host_pid: Option<i32> = std::env::var(crate::model::names::HOST_PID_ENV)
            .ok()
            .and_then(|p| p.parse().ok());
        let host_pidfd_open =
            host_pid.map(|p| super::outcome(crate::sys::pidfd_open(nix::unistd::Pid::from_raw(p))));
        let mut set = SigSet::empty();
        set.add(Signal::SIGUSR1);
        // Blocked already since before the build (else an init would have
        // dropped it); blocking again changes nothing.
        let _ = set.thread_block();
        let got = crate::sys::pidfd::wait_signal(&set, SIGNAL_WAIT).ok();
        PidfdView {
            self_pid: nix::unistd::getpid().as_raw(),
            host_pid,
            host_pidfd_open,
            signal: got.and_then(|r| Signal::try_from(r.signo).ok().map(|s| s.as_str().into())),
            signal_sender_pid: got.map(|r| r.sender_pid),
        }
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.self_pid", Ty::SINT));
        v.push(opt("probe.host_pid", Ty::SINT));
        v.push(opt("probe.host_pidfd_open", Ty::Outcome));
        v.push(opt("probe.signal", Ty::Str));
        v.push(opt("probe.signal_sender_pid", Ty::SINT));
    }
}
