//! A second process entering a running sandbox, as nsenter does: setns
//! into its mount and PID namespaces, then a fork (a PID namespace is
//! entered by the children of the caller), and a look around from there.

use nix::sched::{setns, CloneFlags};
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;

use super::plumbing::{pipe, step};
use crate::model::error::{Cause, StepError};
use crate::sys::{self, CloneResult};

/// What the joined process saw.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct JoinView {
    /// Its own pid, numbered in the namespace it joined.
    pub pid: i32,
    /// Inodes of its PID and mount namespaces, of those of the PID 1 it
    /// sees, and of the helper's (the host side).
    pub pid_ns: u64,
    pub pid1_pid_ns: u64,
    pub mnt_ns: u64,
    pub pid1_mnt_ns: u64,
    pub host_pid_ns: u64,
    pub pid1_comm: String,
}

fn ino(path: &str) -> u64 {
    std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0)
}

/// Joins `target`'s mount and PID namespaces from a child of the helper and
/// reports the view of a process born there.
pub fn join(target: Pid) -> Result<JoinView, StepError> {
    let (r, w) = pipe()?;
    let host_pid_ns = ino("/proc/self/ns/pid");
    let enter_mnt = !super::sabotage::hit(super::sabotage::Sabotage::JoinerMountNsSkipped);
    match sys::clone_fork(CloneFlags::empty()).map_err(|e| step("fork-joiner", "", e))? {
        CloneResult::Child => {
            drop(r);
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            // Checked before setns: afterwards this process's /proc/self is
            // in a /proc of another PID namespace, which does not list it.
            let code = match sys::single_threaded()
                .and_then(|proof| enter(target, enter_mnt).map(|()| proof))
            {
                Ok(proof) => born_inside(proof, w),
                Err(_) => 2,
            };
            sys::exit_now(code);
        }
        CloneResult::Parent { child } => {
            drop(w);
            let mut out = Vec::new();
            let _ = std::fs::File::from(r).read_to_end(&mut out);
            let _ = waitpid(child, None);
            let mut view: JoinView = serde_json::from_slice(&out).map_err(|_| {
                StepError::with(
                    "join",
                    format!("/proc/{target}/ns"),
                    Cause::Protocol(format!("the joiner reported nothing ({} bytes)", out.len())),
                )
            })?;
            view.host_pid_ns = host_pid_ns;
            Ok(view)
        }
    }
}

/// setns into the target's PID namespace (for the children) and its mount
/// namespace (root and cwd move to its root).
fn enter(target: Pid, enter_mnt: bool) -> Result<(), nix::errno::Errno> {
    let open = |ns: &str| {
        std::fs::File::open(format!("/proc/{target}/ns/{ns}")).map_err(crate::sys::io_errno)
    };
    let pid_ns = open("pid")?;
    let mnt_ns = open("mnt")?;
    // Joining the namespace one is already in is refused: skip it.
    if pid_ns.metadata().map(|m| m.ino()).ok() != Some(ino("/proc/self/ns/pid")) {
        setns(&pid_ns, CloneFlags::CLONE_NEWPID)?;
    }
    if enter_mnt {
        setns(&mnt_ns, CloneFlags::CLONE_NEWNS)?;
    }
    Ok(())
}

/// Forks the process that is born in the joined PID namespace; it reports.
fn born_inside(proof: sys::SingleThreaded, w: std::os::fd::OwnedFd) -> i32 {
    match sys::clone_fork_as(proof, CloneFlags::empty()) {
        Ok(CloneResult::Child) => {
            let view = JoinView {
                pid: nix::unistd::getpid().as_raw(),
                pid_ns: ino("/proc/self/ns/pid"),
                pid1_pid_ns: ino("/proc/1/ns/pid"),
                mnt_ns: ino("/proc/self/ns/mnt"),
                pid1_mnt_ns: ino("/proc/1/ns/mnt"),
                host_pid_ns: 0,
                pid1_comm: std::fs::read_to_string("/proc/1/comm")
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            let mut f = std::fs::File::from(w);
            let _ = f.write_all(&serde_json::to_vec(&view).unwrap_or_default());
            sys::exit_now(0)
        }
        Ok(CloneResult::Parent { child }) => {
            drop(w);
            let _ = waitpid(child, None);
            0
        }
        Err(_) => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ino_is_the_inode_and_zero_where_nothing_is() {
        let own = std::fs::metadata("/proc/self/ns/pid").unwrap().ino();
        assert_ne!(own, 0);
        assert_eq!(ino("/proc/self/ns/pid"), own);
        assert_eq!(ino("/proc/self/ns/no-such-namespace"), 0);
    }

    #[test]
    fn the_view_crosses_the_pipe_whole() {
        let view = JoinView {
            pid: 3,
            pid_ns: 4026532001,
            pid1_pid_ns: 4026532001,
            mnt_ns: 4026532002,
            pid1_mnt_ns: 4026532002,
            host_pid_ns: 0,
            pid1_comm: "isocheck".into(),
        };
        let bytes = serde_json::to_vec(&view).unwrap();
        assert_eq!(serde_json::from_slice::<JoinView>(&bytes).unwrap(), view);
        // A joiner that died before writing, or mid-write, reports nothing.
        assert!(serde_json::from_slice::<JoinView>(b"").is_err());
        assert!(serde_json::from_slice::<JoinView>(&bytes[..bytes.len() / 2]).is_err());
    }
}
