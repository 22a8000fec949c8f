//! The seccomp supervisor: the helper's side of a user-notification
//! filter (spec `seccomp_notify`, scaffold `seccomp_supervisor`). Before
//! the clone it makes a unix socket pair whose one end the sandbox
//! inherits (named in [`NOTIFY_SOCK_FD_ENV`]); while the sandbox runs the
//! helper polls it, takes the listener the sandbox sends, then polls the
//! listener and answers each notification with [`NOTIFY_ANSWER`] once
//! `SECCOMP_IOCTL_NOTIF_ID_VALID` says its caller still waits. It never
//! blocks the helper: it only reads what poll says is there, and the
//! helper's own deadline and the sandbox's end bound the whole.
//!
//! [`NOTIFY_SOCK_FD_ENV`]: crate::model::names::NOTIFY_SOCK_FD_ENV
//! [`NOTIFY_ANSWER`]: crate::model::scaffold::NOTIFY_ANSWER

use nix::poll::PollFlags;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::model::error::StepError;
use crate::model::names::NOTIFY_SOCK_FD_ENV;
use crate::model::scaffold::NOTIFY_ANSWER;
use crate::sys::seccomp_notify as sn;

/// What the supervisor received, as the helper saw it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct NotifyView {
    /// A listener reached the supervisor.
    pub listener: bool,
    /// Notifications received.
    pub received: u32,
    /// The first notification's system call number.
    pub nr: Option<i64>,
    /// The first notification's caller, as the helper's PID namespace
    /// numbers it.
    pub pid: Option<i64>,
    /// The sandbox init's pid as the helper's clone returned it.
    pub sandbox_pid: i64,
    /// `SECCOMP_IOCTL_NOTIF_ID_VALID` on the first notification: `ok` or
    /// the errno.
    pub id_valid: Option<String>,
    /// The first answer (`SECCOMP_IOCTL_NOTIF_SEND`): `ok` or the errno.
    pub answer: Option<String>,
}

/// The supervisor item.
#[derive(Default)]
pub struct Supervisor {
    /// The helper's end of the socket, until a listener came or it closed.
    sock: Option<OwnedFd>,
    /// The sandbox's end, held until the sandbox is cloned.
    peer: Option<OwnedFd>,
    listener: Option<OwnedFd>,
    view: NotifyView,
}

fn outcome<T>(r: Result<T, nix::errno::Errno>) -> String {
    crate::probe::outcome(r)
}

impl Supervisor {
    /// Before the clone: the socket pair, its sandbox end named in the
    /// environment the sandbox inherits.
    pub fn prepare(&mut self) -> Result<(), StepError> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| StepError::new("socketpair", "seccomp-listener", e))?;
        // The sandbox is a clone of this single-threaded process: it
        // inherits the variable and the descriptor.
        std::env::set_var(NOTIFY_SOCK_FD_ENV, theirs.as_raw_fd().to_string());
        self.sock = Some(ours);
        self.peer = Some(theirs);
        Ok(())
    }
    /// After the clone: the sandbox holds its end; the helper's copy goes.
    pub fn started(&mut self, child: Pid) {
        // The sandbox holds its own copy; the socket reads as closed once
        // the sandbox is gone.
        self.peer = None;
        self.view.sandbox_pid = child.as_raw().into();
    }
    /// What to poll: the socket until a listener came, then the listener.
    pub fn polled(&self) -> Option<BorrowedFd<'_>> {
        self.listener
            .as_ref()
            .or(self.sock.as_ref())
            .map(|fd| fd.as_fd())
    }
    /// The polled descriptor is ready with `revents`: take the listener,
    /// or answer a notification.
    pub fn ready(&mut self, revents: PollFlags) {
        if let Some(l) = &self.listener {
            if !revents.contains(PollFlags::POLLIN) {
                // Hung up: no task the filter covers is left.
                self.listener = None;
                return;
            }
            match sn::receive(l.as_fd()) {
                Ok(n) => {
                    let valid = sn::id_valid(l.as_fd(), n.id);
                    let answered =
                        valid.and_then(|()| sn::answer(l.as_fd(), n.id, NOTIFY_ANSWER, 0));
                    self.view.received += 1;
                    if self.view.received == 1 {
                        self.view.nr = Some(n.nr.into());
                        self.view.pid = Some(n.pid.into());
                        self.view.id_valid = Some(outcome(valid));
                        self.view.answer = Some(outcome(answered));
                    }
                }
                // The caller went away between poll and receive.
                Err(nix::errno::Errno::ENOENT) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => self.listener = None,
            }
        } else if let Some(s) = &self.sock {
            match sn::recv_fd(s.as_fd()) {
                Ok(Some(l)) => {
                    self.view.listener = true;
                    self.listener = Some(l);
                    self.sock = None;
                }
                Err(nix::errno::Errno::EINTR) => {}
                // Closed without a listener, or unreadable: nothing comes.
                _ => self.sock = None,
            }
        }
    }
    /// What the supervisor received.
    pub fn view(&mut self) -> NotifyView {
        std::mem::take(&mut self.view)
    }
}
