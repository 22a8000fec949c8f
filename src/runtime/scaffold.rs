//! The behaviour of the test scaffolding (`model::scaffold`): each item
//! the helper runs prepares its resources at its own point around the
//! sandbox, holds them while the sandbox runs, and cleans them up when it
//! is dropped, after the sandbox has ended. The helper knows only the
//! hooks, never the items: a property that needs new scaffolding adds an
//! item here and its data in `model::scaffold`.
//!
//! The runner's items (exec copies and the marker in the scratch
//! directory, subordinate-id tools) are prepared where the runner makes
//! the scratch directory and picks the rootless plan.

use nix::poll::PollFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::net::TcpListener;
use std::os::fd::{AsFd, BorrowedFd};

use super::join::JoinView;
use super::veth;
use crate::model::error::StepError;
use crate::model::names::{
    HOST_PID_ENV, IPC_MQ_NAME, IPC_SHM_KEY, LESSER_OPENER_ENV, LISTENER_PORT_ENV,
};
use crate::model::scaffold::{Item, Scaffold};
use crate::model::veth::VethSpec;
use crate::sys;

/// What the items saw while the sandbox ran, for the helper's report.
#[derive(Default, Debug)]
pub struct Seen {
    /// What a process that joined the sandbox saw.
    pub joiner: Option<JoinView>,
    /// What the seccomp supervisor received.
    pub notify: Option<super::notify::NotifyView>,
    /// How a signal sent through a pidfd went.
    pub pidfd_signal: Option<SignalView>,
}

/// A signal the helper sent the built sandbox's init through a pidfd.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct SignalView {
    /// The signal's name.
    pub signal: String,
    /// `pidfd_open` of the init: `ok` or the errno.
    pub pidfd_open: String,
    /// `pidfd_send_signal`: `ok` or the errno.
    pub result: String,
}

/// One item of scaffolding the helper runs. Every hook has a default that
/// does nothing; what an item holds is released when it is dropped.
pub trait Hook {
    /// In the helper, in its outer namespaces, before the sandbox is cloned
    /// (the sandbox inherits what the helper's environment then holds).
    fn before_clone(&mut self) -> Result<(), StepError> {
        Ok(())
    }
    /// After the clone, with the sandbox's id maps and cgroup in place,
    /// before the sandbox is released.
    fn before_release(&mut self, _child: Pid) -> Result<(), StepError> {
        Ok(())
    }
    /// The sandbox, once built, waits for [`Hook::when_built`] before its
    /// probe runs.
    fn waits_for_build(&self) -> bool {
        false
    }
    /// The sandbox is built and waiting; what the item sees goes to `seen`.
    fn when_built(&mut self, _child: Pid, _seen: &mut Seen) -> Result<(), StepError> {
        Ok(())
    }
    /// In the cloned sandbox, before it is built (the item's data is the
    /// clone's copy).
    fn in_sandbox(&self) {}
    /// A descriptor the helper polls while the sandbox runs.
    fn watched(&self) -> Option<BorrowedFd<'_>> {
        None
    }
    /// The watched descriptor polled ready with `revents`.
    fn on_ready(&mut self, _revents: PollFlags) {}
    /// The sandbox has ended; what the item saw goes to `seen`.
    fn report(&mut self, _seen: &mut Seen) {}
}

/// The helper's items of `scaffold`, in the order they are prepared.
/// `outer_net`: the helper is in a throwaway network namespace of its own.
pub fn helper_items(scaffold: &Scaffold, outer_net: bool) -> Vec<Box<dyn Hook>> {
    scaffold
        .items()
        .into_iter()
        .filter_map(|item| -> Option<Box<dyn Hook>> {
            match item {
                Item::IpcObjects => Some(Box::new(IpcObjects::default())),
                Item::LoopbackListener => Some(Box::new(LoopbackListener {
                    outer_net,
                    listener: None,
                })),
                Item::Veth(spec) => Some(Box::new(Veth {
                    spec: spec.clone(),
                    held: None,
                })),
                Item::Joiner => Some(Box::new(Joiner)),
                Item::SeccompSupervisor => Some(Box::new(super::notify::Supervisor::default())),
                Item::PidfdSignal => Some(Box::new(PidfdSignal)),
                Item::LesserOpener(uid) => Some(Box::new(LesserOpener { uid })),
                Item::ExecCopy(_) | Item::ScratchMarker | Item::SubidTools => None,
            }
        })
        .collect()
}

fn step(s: &str, target: &str, e: nix::errno::Errno) -> StepError {
    StepError::new(s, target, e)
}

/// A System V shared memory segment and a POSIX message queue in the
/// helper's IPC namespace, for the sandbox to look for.
#[derive(Default)]
struct IpcObjects {
    _mq: Option<nix::mqueue::MqdT>,
}

impl Hook for IpcObjects {
    fn before_clone(&mut self) -> Result<(), StepError> {
        sys::shm_create(IPC_SHM_KEY)
            .map_err(|e| step("shmget", &format!("{IPC_SHM_KEY:#x}"), e))?;
        let flags = nix::mqueue::MQ_OFlag::O_CREAT
            | nix::mqueue::MQ_OFlag::O_RDWR
            | nix::mqueue::MQ_OFlag::O_EXCL;
        let mode = nix::sys::stat::Mode::from_bits_truncate(0o600);
        // With O_CREAT the mode and attributes must be passed: explicit,
        // small ones, within any host's fs.mqueue limits.
        let attr = nix::mqueue::MqAttr::new(0, 1, 64, 0);
        self._mq = Some(
            nix::mqueue::mq_open(IPC_MQ_NAME, flags, mode, Some(&attr))
                .map_err(|e| step("mq_open", IPC_MQ_NAME, e))?,
        );
        Ok(())
    }
}

/// A TCP listener on the helper's 127.0.0.1, its port told to the sandbox.
struct LoopbackListener {
    outer_net: bool,
    listener: Option<TcpListener>,
}

impl Hook for LoopbackListener {
    fn before_clone(&mut self) -> Result<(), StepError> {
        if self.outer_net {
            sys::loopback_up().map_err(|e| step("loopback-up", "lo", e))?;
        }
        let l = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| step("listen", "127.0.0.1:0", crate::sys::io_errno(e)))?;
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        // The sandbox is a clone of this single-threaded process: it
        // inherits the variable.
        std::env::set_var(LISTENER_PORT_ENV, port.to_string());
        self.listener = Some(l);
        Ok(())
    }
}

/// The lesser opener's uid, told to the sandbox.
struct LesserOpener {
    uid: u32,
}

impl Hook for LesserOpener {
    fn before_clone(&mut self) -> Result<(), StepError> {
        // The sandbox is a clone of this single-threaded process: it
        // inherits the variable.
        std::env::set_var(LESSER_OPENER_ENV, self.uid.to_string());
        Ok(())
    }
}

/// A veth pair into the sandbox's network namespace; what it holds (a
/// listener) lives until the sandbox has ended.
struct Veth {
    spec: VethSpec,
    held: Option<veth::Attached>,
}

impl Hook for Veth {
    fn before_release(&mut self, child: Pid) -> Result<(), StepError> {
        self.held = Some(veth::attach(&self.spec, child)?);
        Ok(())
    }
}

/// A second process that joins the built sandbox before its probe runs.
struct Joiner;

impl Hook for Joiner {
    fn waits_for_build(&self) -> bool {
        true
    }
    fn when_built(&mut self, child: Pid, seen: &mut Seen) -> Result<(), StepError> {
        seen.joiner = Some(super::join::join(child)?);
        Ok(())
    }
}

impl Hook for super::notify::Supervisor {
    fn before_clone(&mut self) -> Result<(), StepError> {
        self.prepare()
    }
    fn before_release(&mut self, child: Pid) -> Result<(), StepError> {
        self.started(child);
        Ok(())
    }
    fn watched(&self) -> Option<BorrowedFd<'_>> {
        self.polled()
    }
    fn on_ready(&mut self, revents: PollFlags) {
        self.ready(revents)
    }
    fn report(&mut self, seen: &mut Seen) {
        seen.notify = Some(self.view());
    }
}

/// `SIGUSR1` to the built sandbox's init through a pidfd, from the
/// helper, across the sandbox's PID namespace. The sandbox blocks the
/// signal before it is built, so it waits, pending, for the probe (an
/// init ignores a signal it has no handler for from an outer namespace).
struct PidfdSignal;

/// The signal [`PidfdSignal`] sends.
pub const PIDFD_SIGNAL: Signal = Signal::SIGUSR1;

impl Hook for PidfdSignal {
    fn before_clone(&mut self) -> Result<(), StepError> {
        // The sandbox is a clone of this single-threaded process: it
        // inherits the variable.
        std::env::set_var(HOST_PID_ENV, nix::unistd::getpid().to_string());
        Ok(())
    }
    fn waits_for_build(&self) -> bool {
        true
    }
    fn in_sandbox(&self) {
        let mut set = SigSet::empty();
        set.add(PIDFD_SIGNAL);
        let _ = set.thread_block();
    }
    fn when_built(&mut self, child: Pid, seen: &mut Seen) -> Result<(), StepError> {
        let pidfd = sys::pidfd_open(child);
        let result = pidfd
            .as_ref()
            .map_err(|e| *e)
            .and_then(|fd| sys::pidfd::send_signal(fd.as_fd(), PIDFD_SIGNAL));
        seen.pidfd_signal = Some(SignalView {
            signal: PIDFD_SIGNAL.as_str().into(),
            pidfd_open: crate::probe::outcome(pidfd),
            result: crate::probe::outcome(result),
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_helpers_items_become_hooks_and_only_the_joiner_waits() {
        let s = Scaffold {
            exec_copy: Some(Default::default()),
            scratch_marker: true,
            subid_tools: true,
            join: true,
            ..Default::default()
        };
        let items = helper_items(&s, false);
        assert_eq!(items.len(), 1);
        assert!(items[0].waits_for_build());
        let s = Scaffold {
            ipc_objects: true,
            loopback_listener: true,
            veth: Some(VethSpec::default()),
            ..Default::default()
        };
        let items = helper_items(&s, true);
        assert_eq!(items.len(), 3);
        assert!(items.iter().all(|i| !i.waits_for_build()));
        assert!(helper_items(&Scaffold::default(), true).is_empty());
    }
}
