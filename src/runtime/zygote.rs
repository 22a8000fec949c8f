//! The helper zygote: one process started from isocheck's binary that
//! forks a helper for each sandbox instead of the runner starting the
//! binary anew every time. A helper forked from it is the helper a fresh
//! start would be (single-threaded, in the run's work namespace, its own
//! process group, its pipes as stdin, stdout and stderr), without paying
//! for exec, the dynamic loader and the runtime's start-up on every case.
//!
//! The runner keeps one zygote per sandbox running at once and speaks to
//! each over a `SOCK_SEQPACKET` socket pair, one message at a time:
//!
//! - the zygote says it is ready (`R`) once it is in the work namespace;
//! - the runner sends a request (the helper's JSON request, with the
//!   write ends of the helper's stdout and stderr pipes attached);
//! - the zygote forks, says `S` with the helper's pid (its process group),
//!   and, once the helper has exited and been reaped, `X` with its wait
//!   status (or `E` with the errno when the fork failed).
//!
//! The runner reads the report from the pipes as it reads a started
//! helper's, kills the helper's process group on a timeout or an
//! interrupt, and decides from the status the zygote sends. A zygote whose
//! runner is gone sees its socket close: it kills the helper running, if
//! any, and exits; a helper dies with its zygote (parent-death signal).
//! A helper binary that does not answer as a zygote (a stand-in script)
//! is started anew for every sandbox instead.

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::helper::RUNNER_PID_ENV;
use super::workdir::WorkDir;
use crate::sys::{self, fdpass, CloneResult};

/// The argument that turns isocheck's binary into a zygote.
pub const ZYGOTE_ARG: &str = "__zygote";
/// The descriptor number of the zygote's end of its socket.
pub const ZYGOTE_FD_ENV: &str = "ISOCHECK_ZYGOTE_FD";
/// The largest request the zygote takes (a helper request is a few KiB).
const MAX_REQUEST: usize = 1 << 20;
/// How long a zygote may take to say it is ready, and to answer a
/// request or report a helper's end once its pipes have closed: it does
/// nothing but fork and reap, so a loaded machine answers well within.
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_secs(30);

const READY: u8 = b'R';
const STARTED: u8 = b'S';
const EXITED: u8 = b'X';
const FORK_FAILED: u8 = b'E';

fn answer(kind: u8, value: i32) -> [u8; 5] {
    let v = value.to_le_bytes();
    [kind, v[0], v[1], v[2], v[3]]
}

fn parse_answer(msg: &[u8]) -> Option<(u8, i32)> {
    match msg {
        [kind, a, b, c, d] => Some((*kind, i32::from_le_bytes([*a, *b, *c, *d]))),
        _ => None,
    }
}

/// The wait status as the kernel encodes it, for `ExitStatus::from_raw`.
fn raw_status(s: WaitStatus) -> i32 {
    match s {
        WaitStatus::Exited(_, code) => (code & 0xff) << 8,
        WaitStatus::Signaled(_, sig, core) => sig as i32 | if core { 0x80 } else { 0 },
        _ => 0x7f,
    }
}

/// Entry point of `isocheck __zygote`. Returns the process exit code.
pub fn main() -> i32 {
    if let Some(runner) = std::env::var(RUNNER_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        if nix::unistd::getppid().as_raw() != runner {
            return 3;
        }
    }
    if super::workdir::enter_work_ns().is_err() {
        return 3;
    }
    let Some(sock) = std::env::var(ZYGOTE_FD_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .and_then(|fd| sys::own_inherited_fd(fd).ok())
    else {
        return 3;
    };
    // Threads are never started here: every fork below is of a
    // single-threaded process.
    let Ok(one) = sys::single_threaded() else {
        return 3;
    };
    if fdpass::send(sock.as_fd(), &answer(READY, 0), &[]).is_err() {
        return 3;
    }
    let mut buf = vec![0u8; MAX_REQUEST];
    loop {
        let (n, fds) = match fdpass::recv(sock.as_fd(), &mut buf) {
            Ok(Some(m)) => m,
            // The runner closed its end: the run is over.
            Ok(None) => return 0,
            Err(_) => return 3,
        };
        let Ok([stdout, stderr]) = <[OwnedFd; 2]>::try_from(fds) else {
            return 3;
        };
        match sys::clone_fork_as(one, nix::sched::CloneFlags::empty()) {
            Ok(CloneResult::Child) => {
                drop(sock);
                sys::exit_now(helper_child(&buf[..n], stdout, stderr));
            }
            Ok(CloneResult::Parent { child }) => {
                drop((stdout, stderr));
                // Also set in the child: whichever runs first, the group
                // exists before the runner can signal it.
                let _ = nix::unistd::setpgid(child, child);
                if fdpass::send(sock.as_fd(), &answer(STARTED, child.as_raw()), &[]).is_err() {
                    end(child);
                    return 3;
                }
                let Some(status) = watch(sock.as_fd(), child) else {
                    // The runner is gone: so is the helper.
                    return 0;
                };
                if fdpass::send(sock.as_fd(), &answer(EXITED, status), &[]).is_err() {
                    return 3;
                }
            }
            Err(e) => {
                drop((stdout, stderr));
                if fdpass::send(sock.as_fd(), &answer(FORK_FAILED, e as i32), &[]).is_err() {
                    return 3;
                }
            }
        }
    }
}

/// The forked helper: its own process group, dying with the zygote, the
/// pipes as its standard streams, then the helper's work.
fn helper_child(request: &[u8], stdout: OwnedFd, stderr: OwnedFd) -> i32 {
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    let null = match std::fs::File::open("/dev/null") {
        Ok(f) => f,
        Err(_) => return 3,
    };
    for (fd, target) in [(null.as_fd(), 0), (stdout.as_fd(), 1), (stderr.as_fd(), 2)] {
        if fdpass::dup_onto(fd, target).is_err() {
            return 3;
        }
    }
    drop((null, stdout, stderr));
    super::helper::serve(request)
}

/// Kills the helper's process group and reaps the helper.
fn end(child: Pid) {
    let _ = nix::sys::signal::killpg(child, Signal::SIGKILL);
    let _ = waitpid(child, None);
}

/// Waits for the helper to exit and returns its wait status; `None` when
/// the runner's end of the socket closed first (the helper is then
/// killed and reaped).
fn watch(sock: BorrowedFd<'_>, child: Pid) -> Option<i32> {
    let Ok(pidfd) = sys::pidfd_open(child) else {
        // No pidfd (a kernel before 5.3): wait without watching the socket.
        return waitpid(child, None).ok().map(raw_status);
    };
    loop {
        let mut fds = [
            PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(sock, PollFlags::POLLIN),
        ];
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => {
                end(child);
                return None;
            }
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        if ready(&fds[0]) {
            return waitpid(child, None).ok().map(raw_status);
        }
        if ready(&fds[1]) {
            // Nothing is sent while a helper runs: the runner is gone.
            end(child);
            return None;
        }
    }
}

/// The runner's side of one zygote.
pub struct Zygote {
    child: Child,
    sock: OwnedFd,
}

impl Zygote {
    /// Starts a zygote from `helper` in the work namespace of `dir`;
    /// `Err` says why there is none (a binary that does not answer as a
    /// zygote among the reasons).
    pub fn start(helper: &Path, dir: &WorkDir) -> Result<Zygote, String> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| format!("socketpair: {e}"))?;
        let mut cmd = Command::new(helper);
        dir.pass_to(&mut cmd);
        sys::keep_fd_on_exec(&mut cmd, theirs.as_raw_fd());
        let child = cmd
            .arg(ZYGOTE_ARG)
            .env(RUNNER_PID_ENV, std::process::id().to_string())
            .env(ZYGOTE_FD_ENV, theirs.as_raw_fd().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the terminal's process group: an interrupt is the
            // runner's to handle.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", helper.display()))?;
        drop(theirs);
        let mut z = Zygote { child, sock: ours };
        match z.next(ANSWER_WITHIN)? {
            (READY, _) => Ok(z),
            (k, _) => Err(format!("the zygote said {:?} instead of ready", k as char)),
        }
    }

    /// The zygote's next answer, within `within`.
    fn next(&mut self, within: Duration) -> Result<(u8, i32), String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no answer within {} s", within.as_secs()));
            }
            let mut fds = [PollFd::new(self.sock.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(
                &mut fds,
                PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(format!("waiting for the zygote: {e}")),
            }
            let mut buf = [0u8; 16];
            return match fdpass::recv(self.sock.as_fd(), &mut buf) {
                Ok(Some((n, _))) => {
                    parse_answer(&buf[..n]).ok_or_else(|| "a malformed answer".to_string())
                }
                Ok(None) => Err("the zygote is gone".into()),
                Err(e) => Err(format!("reading the zygote's answer: {e}")),
            };
        }
    }

    /// Forks a helper for `request` with these pipes as its stdout and
    /// stderr; returns its pid, which is also its process group.
    pub fn fork_helper(
        &mut self,
        request: &[u8],
        stdout: OwnedFd,
        stderr: OwnedFd,
    ) -> Result<Pid, String> {
        fdpass::send(
            self.sock.as_fd(),
            request,
            &[stdout.as_fd(), stderr.as_fd()],
        )
        .map_err(|e| format!("sending the request: {e}"))?;
        // The helper holds the write ends now: the pipes end with it.
        drop((stdout, stderr));
        match self.next(ANSWER_WITHIN)? {
            (STARTED, pid) if pid > 0 => Ok(Pid::from_raw(pid)),
            (FORK_FAILED, errno) => Err(format!(
                "fork: {}",
                nix::errno::Errno::from_raw(errno).desc()
            )),
            (k, v) => Err(format!("unexpected answer {:?} {v}", k as char)),
        }
    }

    /// The socket the zygote answers on: readable once the helper forked
    /// last has ended and its status is there to read.
    pub fn answer_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.sock.as_fd()
    }

    /// The wait status of the helper forked last, once it has ended.
    pub fn helper_status(&mut self) -> Result<std::process::ExitStatus, String> {
        use std::os::unix::process::ExitStatusExt;
        match self.next(ANSWER_WITHIN)? {
            (EXITED, status) => Ok(std::process::ExitStatus::from_raw(status)),
            (k, v) => Err(format!("unexpected answer {:?} {v}", k as char)),
        }
    }
}

/// Ends these zygotes together: each is killed before any is waited for,
/// so that their exits overlap instead of following one another.
pub fn end_all(mut zygotes: Vec<Zygote>) {
    for z in &mut zygotes {
        let _ = z.child.kill();
    }
    // Each drop waits for its zygote (and kills it again, harmlessly).
    drop(zygotes);
}

impl Drop for Zygote {
    /// Ends the zygote and reaps it (its helpers' CPU time is counted to
    /// the runner's children only once it is reaped).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_round_trip_and_anything_else_is_malformed() {
        for (k, v) in [
            (READY, 0),
            (STARTED, 4242),
            (EXITED, 3 << 8),
            (FORK_FAILED, 11),
        ] {
            assert_eq!(parse_answer(&answer(k, v)), Some((k, v)));
        }
        assert_eq!(parse_answer(b"S42"), None);
        assert_eq!(parse_answer(b""), None);
    }

    #[test]
    fn wait_statuses_encode_as_the_kernel_does() {
        use std::os::unix::process::ExitStatusExt;
        let p = Pid::from_raw(1);
        let exited = std::process::ExitStatus::from_raw(raw_status(WaitStatus::Exited(p, 3)));
        assert_eq!(exited.code(), Some(3));
        let killed = std::process::ExitStatus::from_raw(raw_status(WaitStatus::Signaled(
            p,
            Signal::SIGKILL,
            false,
        )));
        assert_eq!((killed.code(), killed.signal()), (None, Some(9)));
        assert_eq!(killed.to_string(), "signal: 9 (SIGKILL)");
    }
}
