//! Process plumbing shared by the helper, its rootless worker, the joiner
//! and the veth set-up: a failed call as a named [`StepError`], pipes that
//! close on exec, and the guard that ends a child whose parent is gone; and
//! the runner's own children forked rather than started from the binary
//! (the work namespace holder, the first zygotes).

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::model::error::StepError;
use crate::sys;

/// The status a child exits with when its parent is gone before it starts.
pub const ORPHANED_STATUS: i32 = 120;

/// A failed call of set-up step `name` on `target`.
pub fn step(name: &str, target: &str, e: Errno) -> StepError {
    StepError::new(name, target, e)
}

/// A pipe whose ends close on exec (read end, write end); a failure is the
/// step `pipe`.
pub fn pipe() -> Result<(OwnedFd, OwnedFd), StepError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| step("pipe", "", e))
}

/// Whether a child whose parent reads as `ppid` has lost `parent`. In a
/// PID namespace of its own the parent is outside it and reads as 0.
pub fn orphaned(ppid: Pid, parent: Pid, own_pid_ns: bool) -> bool {
    ppid != parent && !(own_pid_ns && ppid.as_raw() == 0)
}

/// Asks for SIGKILL when the parent dies, and exits at once
/// ([`ORPHANED_STATUS`]) if `parent` is already gone. Credential changes
/// clear the parent-death signal: call it again after them.
pub fn die_with(parent: Pid, own_pid_ns: bool) {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if orphaned(nix::unistd::getppid(), parent, own_pid_ns) {
        sys::exit_now(ORPHANED_STATUS);
    }
}

/// The zygote's socket to the runner, held here while the zygote serves a
/// request in place (`helper::serve_in_place`). The sandbox closes it
/// first (it is not the sandbox's), and the wait for the sandbox ends it
/// once the socket turns readable: nothing is sent while a request is
/// served, so the runner is gone.
static RUNNER_SOCKET: std::sync::Mutex<Option<OwnedFd>> = std::sync::Mutex::new(None);

pub(super) fn runner_socket() -> std::sync::MutexGuard<'static, Option<OwnedFd>> {
    RUNNER_SOCKET.lock().unwrap_or_else(|e| e.into_inner())
}

/// Waits until `fd` is readable (or at its end); `false` when the
/// runner's socket, held while a request is served in place, turned
/// readable first: the runner is gone, or asks the request to stop (it
/// sends nothing else meanwhile). Served by a forked helper (no socket
/// held), it waits for `fd` alone. A wait on another process that can be
/// stopped (a rootless worker, by SIGSTOP) ends so at once when the run
/// is interrupted, as a forked helper's group kill would end it.
pub(super) fn readable_unless_stopped(fd: BorrowedFd<'_>) -> bool {
    loop {
        let sock = runner_socket();
        let mut fds = vec![PollFd::new(fd, PollFlags::POLLIN)];
        if let Some(sock) = sock.as_ref() {
            fds.push(PollFd::new(sock.as_fd(), PollFlags::POLLIN));
        }
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Err(Errno::EINTR) => continue,
            // The read that follows says what is wrong.
            Err(_) => return true,
            Ok(_) => {}
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        if ready(1) {
            return false;
        }
        if ready(0) {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn a_step_names_the_call_its_target_and_the_errno() {
        let e = step("join-delegated-cgroup", "/sys/fs/cgroup/x", Errno::EACCES);
        assert_eq!(
            (
                e.step.as_str(),
                e.target.as_str(),
                e.cause.to_string().as_str()
            ),
            ("join-delegated-cgroup", "/sys/fs/cgroup/x", "EACCES")
        );
        assert_eq!(
            e.to_string(),
            "join-delegated-cgroup /sys/fs/cgroup/x: EACCES"
        );
    }

    #[test]
    fn pipes_carry_bytes_and_close_on_exec() {
        use std::os::fd::AsFd;
        let (r, w) = pipe().unwrap();
        for end in [r.as_fd(), w.as_fd()] {
            let flags = nix::fcntl::fcntl(end, nix::fcntl::FcntlArg::F_GETFD).unwrap();
            assert!(nix::fcntl::FdFlag::from_bits_truncate(flags)
                .contains(nix::fcntl::FdFlag::FD_CLOEXEC));
        }
        assert_eq!(nix::unistd::write(&w, b"R"), Ok(1));
        let mut b = [0u8; 1];
        assert_eq!(nix::unistd::read(&r, &mut b), Ok(1));
        assert_eq!(&b, b"R");
    }

    #[rstest]
    #[case::parent_there(10, 10, false, false)]
    #[case::parent_there_own_ns(10, 10, true, false)]
    #[case::reparented(1, 10, false, true)]
    #[case::reparented_own_ns(1, 10, true, true)]
    #[case::outside_own_ns(0, 10, true, false)]
    #[case::zero_without_own_ns(0, 10, false, true)]
    fn a_child_is_orphaned_when_its_parent_changed(
        #[case] ppid: i32,
        #[case] parent: i32,
        #[case] own_pid_ns: bool,
        #[case] want: bool,
    ) {
        assert_eq!(
            orphaned(Pid::from_raw(ppid), Pid::from_raw(parent), own_pid_ns),
            want
        );
    }
}

/// Forks `child` from this single-threaded process (`one`) as a process
/// group of its own with no signal blocked, as `Command` leaves a program
/// it starts, and returns its pid. Both buffered standard streams are
/// flushed first, so the child writes nothing of this process's again.
/// The child's stack below `child` is a copy of this process's frames: a
/// panic in `child`, or in anything forked from it, ends the child (101),
/// never unwinds into them (their clean-up would run in the child).
pub fn fork_group(one: sys::SingleThreaded, child: impl FnOnce() -> i32) -> Result<Pid, Errno> {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    match sys::clone_fork_as(one, nix::sched::CloneFlags::empty())? {
        sys::CloneResult::Child => {
            let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
            let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
            let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
            sys::exit_now(code)
        }
        sys::CloneResult::Parent { child } => {
            // Also set in the child: whichever runs first, the group exists
            // before this process can signal it.
            let _ = nix::unistd::setpgid(child, child);
            Ok(child)
        }
    }
}

/// A helper process of the runner's (a zygote, the work namespace holder):
/// started from the binary, or forked ([`fork_group`]).
pub enum ChildProc {
    Started(std::process::Child),
    Forked(Forked),
}

impl ChildProc {
    pub fn id(&self) -> i32 {
        match self {
            ChildProc::Started(c) => c.id() as i32,
            ChildProc::Forked(f) => f.pid().as_raw(),
        }
    }

    pub fn kill(&mut self) {
        match self {
            ChildProc::Started(c) => {
                let _ = c.kill();
            }
            ChildProc::Forked(f) => f.kill(),
        }
    }

    pub fn wait(&mut self) {
        match self {
            ChildProc::Started(c) => {
                let _ = c.wait();
            }
            ChildProc::Forked(f) => f.wait(),
        }
    }
}

/// A child forked from this process (not started from a binary, so with
/// no `std::process::Child`): signalled and reaped by its pid until it is
/// reaped once, never after (its pid may then name another process).
#[derive(Debug)]
pub struct Forked {
    pid: Pid,
    reaped: bool,
}

impl Forked {
    pub fn new(pid: Pid) -> Forked {
        Forked { pid, reaped: false }
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// SIGKILL, unless reaped already.
    pub fn kill(&mut self) {
        if !self.reaped {
            let _ = nix::sys::signal::kill(self.pid, Signal::SIGKILL);
        }
    }

    /// Waits for the child to end and reaps it, once.
    pub fn wait(&mut self) {
        while !self.reaped {
            match nix::sys::wait::waitpid(self.pid, None) {
                Err(Errno::EINTR) => {}
                // Reaped, or not ours to reap (ECHILD): never waited for again.
                _ => self.reaped = true,
            }
        }
    }
}
