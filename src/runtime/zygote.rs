//! The helper zygote: one process that forks a helper for each sandbox
//! instead of the runner starting isocheck's binary anew every time. A
//! runner with one thread forks its first zygotes itself
//! ([`Zygote::fork_from`]: no exec, no dynamic loader, no runtime
//! start-up; the child keeps none of the runner's descriptors but its
//! socket); a runner with threads, and any zygote needed later, starts
//! `isocheck __zygote`. Either is named `isocheck-zygote`. A helper
//! forked from it is the helper a fresh start would be (single-threaded, in the run's work namespace, its own
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
//!   status (or `E` with the errno when the fork failed);
//! - or, for a request that changes nothing in the process serving it
//!   ([`helper::runs_in_place`]: a sandbox with no throwaway namespace and
//!   no scaffolding, rootful or rootless by a worker), the zygote is the
//!   helper: it says `P` with its own pid, clones the sandbox itself (or
//!   forks the rootless worker that clones it), writes the report, closes
//!   the pipes and says `X` with the status a helper would have had. One
//!   process fewer per sandbox: no fork, no fresh copy of the request to
//!   fault in, no exit to wait for.
//!
//! The runner reads the report from the pipes as it reads a started
//! helper's, kills the helper's process group on a timeout or an
//! interrupt (a zygote serving in place is asked first, by its socket shut
//! down), and decides from the status the zygote sends. A zygote whose
//! runner is gone sees its socket close: it ends the helper or sandbox
//! running, if any, sweeps what it left (the zygote is the subreaper of
//! all it serves), and exits; a helper dies with its zygote (parent-death
//! signal).
//! A helper binary that does not answer as a zygote (a stand-in script)
//! is started anew for every sandbox instead.

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::helper::{self, RUNNER_PID_ENV};
use super::plumbing::{fork_group, ChildProc, Forked};
use super::protocol::HelperRequest;
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
/// How long a zygote has to answer once the run is interrupted (to end
/// the sandbox it serves in place and close its streams, say), before it
/// is given up and killed.
pub(crate) const STOP_WITHIN: Duration = Duration::from_secs(2);
/// How long a zygote may stay stopped (SIGSTOP) while the runner waits
/// for its answer before it is given up.
pub(crate) const STOPPED_GIVEN_UP: Duration = Duration::from_secs(1);

/// Whether `pid` is stopped by a signal (state `T` in /proc/<pid>/stat;
/// not `t`, a debugger's stop, which is waited for).
fn is_stopped(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
    })
}

/// Watches a zygote a wait has found late: whether it has stayed stopped
/// (SIGSTOP) for [`STOPPED_GIVEN_UP`], and so cannot answer. A terminal's
/// job control cannot trip it: zygotes have process groups of their own,
/// so Ctrl-Z stops only the runner.
pub(crate) struct StopWatch {
    pid: i32,
    since: Option<Instant>,
}

impl StopWatch {
    pub(crate) fn new(pid: i32) -> StopWatch {
        StopWatch { pid, since: None }
    }

    /// Looks at the zygote once more: `true` once it has been stopped at
    /// every look for [`STOPPED_GIVEN_UP`].
    pub(crate) fn given_up(&mut self) -> bool {
        if is_stopped(self.pid) {
            self.since.get_or_insert_with(Instant::now).elapsed() >= STOPPED_GIVEN_UP
        } else {
            self.since = None;
            false
        }
    }
}

/// How often a wait for a zygote or its helper looks at the run's
/// interrupt.
pub(crate) const INTERRUPT_SEEN_WITHIN: Duration = Duration::from_millis(100);

const READY: u8 = b'R';
const STARTED: u8 = b'S';
const EXITED: u8 = b'X';
const FORK_FAILED: u8 = b'E';
const IN_PLACE: u8 = b'P';

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
    serve(sock, one)
}

/// The zygote's work once it is in the work namespace with its socket:
/// says it is ready, then serves requests until the runner closes its end.
fn serve(mut sock: OwnedFd, one: sys::SingleThreaded) -> i32 {
    // Named for `ps` and `top`: a forked zygote's command line is the
    // runner's.
    let _ = nix::sys::prctl::set_name(c"isocheck-zygote");
    // What a helper or a sandbox leaves behind when it is killed (a
    // process that left its group and session, say) comes back here, to be
    // swept: never to pid 1, where nothing would end it.
    if nix::sys::prctl::set_child_subreaper(true).is_err() {
        return 3;
    }
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
        let request = serde_json::from_slice::<HelperRequest>(&buf[..n]).ok();
        if let Some(req) = request.as_ref().filter(|r| helper::runs_in_place(r)) {
            match in_place(sock, req, stdout, stderr) {
                Ok(s) => sock = s,
                Err(()) => return 3,
            }
            continue;
        }
        match sys::clone_fork_as(one, nix::sched::CloneFlags::empty()) {
            Ok(CloneResult::Child) => {
                drop(sock);
                let code = helper_child(stdout, stderr, || match &request {
                    Some(req) => helper::serve_request(req),
                    // The helper says what is wrong with it.
                    None => helper::serve(&buf[..n]),
                });
                sys::exit_now(code);
            }
            Ok(CloneResult::Parent { child }) => {
                drop((stdout, stderr));
                // Also set in the child: whichever runs first, the group
                // exists before the runner can signal it.
                let _ = nix::unistd::setpgid(child, child);
                if fdpass::send(sock.as_fd(), &answer(STARTED, child.as_raw()), &[]).is_err() {
                    end(child);
                    helper::sweep();
                    return 3;
                }
                let status = watch(sock.as_fd(), child);
                // What the helper left if it was killed before its own
                // sweep, ended before the runner hears that it is over (a
                // leftover would hold the helper's pipes open).
                helper::sweep();
                let Some(status) = status else {
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

/// The zygote forked from the runner, before it serves: what a start
/// from the binary gets from `Command` and from [`main`]'s checks.
fn forked_zygote(sock: OwnedFd, ns: Option<std::os::fd::RawFd>, runner: u32) -> i32 {
    let null = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        Ok(f) => f,
        Err(_) => return 3,
    };
    for target in 0..=2 {
        if fdpass::dup_onto(null.as_fd(), target).is_err() {
            return 3;
        }
    }
    drop(null);
    let mut keep = vec![sock.as_raw_fd()];
    keep.extend(ns);
    if sys::close_all_but(&keep).is_err() {
        return 3;
    }
    if let Some(ns) = ns {
        let Ok(ns) = sys::own_inherited_fd(ns) else {
            return 3;
        };
        if nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNS).is_err() {
            return 3;
        }
    }
    // As a started zygote's environment says: the runner is its parent
    // (the helpers it forks name the runner's mount namespace by it).
    std::env::set_var(RUNNER_PID_ENV, runner.to_string());
    let Ok(one) = sys::single_threaded() else {
        return 3;
    };
    serve(sock, one)
}

/// Runs `req` in the zygote itself ([`helper::runs_in_place`]): the
/// helper's work with the pipes as stdout and stderr, the sandbox cloned
/// from here (a rootless one from the worker forked here). The runner is
/// told `P` with the zygote's pid (the process group killed if the zygote
/// does not stop when asked: the worker and its sandbox are in it), then,
/// once the report is written and the pipes are closed, `X` with the
/// status a helper would have exited with. The environment the helper's
/// work set is restored, so the next request finds the zygote as it was
/// (its subreaper flag is the zygote's own, and the helper's work swept
/// what the sandbox left). `Err` when the runner cannot be told.
fn in_place(
    sock: OwnedFd,
    req: &HelperRequest,
    stdout: OwnedFd,
    stderr: OwnedFd,
) -> Result<OwnedFd, ()> {
    let me = nix::unistd::getpid().as_raw();
    fdpass::send(sock.as_fd(), &answer(IN_PLACE, me), &[]).map_err(drop)?;
    let streams = [(stdout.as_fd(), 1), (stderr.as_fd(), 2)]
        .into_iter()
        .try_for_each(|(fd, target)| fdpass::dup_onto(fd, target));
    drop((stdout, stderr));
    let (code, sock) = match streams {
        Ok(()) => {
            let env: Vec<_> = std::env::vars_os().collect();
            let (code, sock) = helper::serve_in_place(req, sock);
            restore_env(&env);
            // What came back to the zygote, the subreaper, when a rootless
            // worker died before its own sweep: ended before the pipes
            // close (a leftover holds them open). A rootful sandbox's
            // leftovers were swept by the helper's work, here.
            if req.rootless.is_some() {
                helper::sweep();
            }
            (code, sock)
        }
        Err(_) => (3, sock),
    };
    // The pipes close here (stdin is /dev/null): the runner reads to
    // their end.
    let closed = [1, 2]
        .into_iter()
        .try_for_each(|target| fdpass::dup_onto(std::io::stdin().as_fd(), target));
    let code = if closed.is_ok() { code } else { 3 };
    fdpass::send(sock.as_fd(), &answer(EXITED, (code & 0xff) << 8), &[]).map_err(drop)?;
    Ok(sock)
}

/// Makes the environment `before` again: what was added since is removed,
/// what was changed or removed is set back.
fn restore_env(before: &[(OsString, OsString)]) {
    let now: Vec<_> = std::env::vars_os().collect();
    for (key, value) in env_undo(before, &now) {
        match value {
            Some(v) => std::env::set_var(key, v),
            None => std::env::remove_var(key),
        }
    }
}

/// What makes the environment `now` into `before` again: each variable to
/// set back (`Some`) or to remove (`None`).
fn env_undo(
    before: &[(OsString, OsString)],
    now: &[(OsString, OsString)],
) -> Vec<(OsString, Option<OsString>)> {
    let was = |key: &OsString| before.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    let mut undo: Vec<_> = now
        .iter()
        .filter(|(key, value)| was(key) != Some(value))
        .map(|(key, _)| (key.clone(), was(key).cloned()))
        .collect();
    undo.extend(
        before
            .iter()
            .filter(|(key, _)| !now.iter().any(|(k, _)| k == key))
            .map(|(key, value)| (key.clone(), Some(value.clone()))),
    );
    undo
}

/// The forked helper: its own process group, dying with the zygote, the
/// pipes as its standard streams, then the helper's work (`serve`).
fn helper_child(stdout: OwnedFd, stderr: OwnedFd, serve: impl FnOnce() -> i32) -> i32 {
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
    serve()
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

/// Who serves a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    /// A helper forked for it: its pid, also its process group.
    Forked(Pid),
    /// The zygote itself: its pid, also its process group (killing it
    /// ends the zygote, which then cannot go back to the pool).
    InPlace(Pid),
}

impl Served {
    /// The process group that holds whatever serves the request.
    pub fn group(self) -> Pid {
        match self {
            Served::Forked(p) | Served::InPlace(p) => p,
        }
    }
}

/// The runner's side of one zygote.
pub struct Zygote {
    child: ChildProc,
    sock: OwnedFd,
    /// The run's interrupt (a signal number, 0 until one comes): a wait
    /// for an answer gives up [`STOP_WITHIN`] after it, so that a zygote
    /// that never answers (stopped by SIGSTOP) cannot hold up a stopped run.
    interrupted: Arc<AtomicI32>,
}

/// A zygote forked whose `ready` has not been read yet
/// ([`Zygote::fork_unready`]); dropped, it is ended as a zygote is.
pub struct Unready(Zygote);

impl Unready {
    /// Waits for the zygote's `ready`.
    pub fn ready(self) -> Result<Zygote, String> {
        self.0.ready()
    }
}

impl Zygote {
    /// Starts a zygote from `helper` in the work namespace of `dir`;
    /// `Err` says why there is none (a binary that does not answer as a
    /// zygote among the reasons).
    pub fn start(
        helper: &Path,
        dir: &WorkDir,
        interrupted: Arc<AtomicI32>,
    ) -> Result<Zygote, String> {
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
        Zygote {
            child: ChildProc::Started(child),
            sock: ours,
            interrupted,
        }
        .ready()
    }

    /// Forks a zygote from this process, which must be single-threaded
    /// (`one`): the zygote a start from the binary would be (in the work
    /// namespace of `dir`, its own process group, /dev/null as its standard
    /// streams, holding no descriptor but its socket), without paying for
    /// exec, the dynamic loader and the runtime's start-up. The runner
    /// forks its first zygotes this way before it starts any thread.
    pub fn fork_from(
        dir: &WorkDir,
        one: sys::SingleThreaded,
        interrupted: Arc<AtomicI32>,
    ) -> Result<Zygote, String> {
        Zygote::fork_unready(dir, one, interrupted)?.ready()
    }

    /// [`Zygote::fork_from`] without waiting for the zygote's `ready`: the
    /// caller forks the others meanwhile, then waits for each
    /// ([`Unready::ready`]), so that their start-ups overlap.
    pub fn fork_unready(
        dir: &WorkDir,
        one: sys::SingleThreaded,
        interrupted: Arc<AtomicI32>,
    ) -> Result<Unready, String> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| format!("socketpair: {e}"))?;
        let (ns, runner) = (dir.ns_fd(), std::process::id());
        let child = fork_group(one, move || forked_zygote(theirs, ns, runner))
            .map_err(|e| format!("fork: {}", e.desc()))?;
        Ok(Unready(Zygote {
            child: ChildProc::Forked(Forked::new(child)),
            sock: ours,
            interrupted,
        }))
    }

    /// Waits for the zygote's `ready`.
    fn ready(mut self) -> Result<Zygote, String> {
        match self.next(ANSWER_WITHIN)? {
            (READY, _) => Ok(self),
            (k, _) => Err(format!("the zygote said {:?} instead of ready", k as char)),
        }
    }

    /// The zygote's next answer, within `within`, or within
    /// [`STOP_WITHIN`] of the run's interrupt.
    fn next(&mut self, within: Duration) -> Result<(u8, i32), String> {
        let mut deadline = Instant::now() + within;
        let mut seen = false;
        let mut stopped = StopWatch::new(self.pid());
        loop {
            if !seen && self.interrupted.load(Ordering::SeqCst) != 0 {
                seen = true;
                deadline = deadline.min(Instant::now() + STOP_WITHIN);
            }

            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(if seen {
                    "no answer once the run was interrupted".to_string()
                } else {
                    format!("no answer within {} s", within.as_secs())
                });
            }
            let mut fds = [PollFd::new(self.sock.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(
                &mut fds,
                PollTimeout::try_from(left.min(INTERRUPT_SEEN_WITHIN)).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) => {
                    // A zygote stopped by SIGSTOP answers nothing until it
                    // is continued: given up after STOPPED_GIVEN_UP, not
                    // at the end of `within` (30 s). Looked at only once an
                    // answer is late, never on a prompt one.
                    if stopped.given_up() {
                        return Err(format!(
                            "the zygote has been stopped (SIGSTOP) for {} s and cannot answer",
                            STOPPED_GIVEN_UP.as_secs()
                        ));
                    }
                    continue;
                }
                Err(nix::errno::Errno::EINTR) => continue,
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

    /// Has `request` served with these pipes as the helper's stdout and
    /// stderr: by a forked helper, or by the zygote itself.
    pub fn fork_helper(
        &mut self,
        request: &[u8],
        stdout: OwnedFd,
        stderr: OwnedFd,
    ) -> Result<Served, String> {
        fdpass::send(
            self.sock.as_fd(),
            request,
            &[stdout.as_fd(), stderr.as_fd()],
        )
        .map_err(|e| format!("sending the request: {e}"))?;
        // The helper holds the write ends now: the pipes end with it.
        drop((stdout, stderr));
        match self.next(ANSWER_WITHIN)? {
            (STARTED, pid) if pid > 0 => Ok(Served::Forked(Pid::from_raw(pid))),
            (IN_PLACE, pid) if pid == self.child.id() => Ok(Served::InPlace(Pid::from_raw(pid))),
            (FORK_FAILED, errno) => Err(format!(
                "fork: {}",
                nix::errno::Errno::from_raw(errno).desc()
            )),
            (k, v) => Err(format!("unexpected answer {:?} {v}", k as char)),
        }
    }

    /// The zygote's pid.
    pub fn pid(&self) -> i32 {
        self.child.id()
    }

    /// The socket the zygote answers on: readable once the helper forked
    /// last has ended and its status is there to read.
    pub fn answer_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.sock.as_fd()
    }

    /// The wait status of the helper forked last, once it has ended.
    pub fn helper_status(&mut self) -> Result<std::process::ExitStatus, String> {
        self.helper_status_within(ANSWER_WITHIN)
    }

    /// [`Zygote::helper_status`], waited for at most `within`.
    pub fn helper_status_within(
        &mut self,
        within: Duration,
    ) -> Result<std::process::ExitStatus, String> {
        use std::os::unix::process::ExitStatusExt;
        match self.next(within)? {
            (EXITED, status) => Ok(std::process::ExitStatus::from_raw(status)),
            (k, v) => Err(format!("unexpected answer {:?} {v}", k as char)),
        }
    }
}

/// Kills these zygotes, each before any is waited for, so that their exits
/// overlap instead of following one another; dropping each then reaps it
/// (and kills it again, harmlessly).
pub fn kill_all(zygotes: &mut [Zygote]) {
    for z in zygotes {
        z.child.kill();
    }
}

impl Drop for Zygote {
    /// Ends the zygote and reaps it (its helpers' CPU time is counted to
    /// the runner's children only once it is reaped).
    fn drop(&mut self) {
        self.child.kill();
        self.child.wait();
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
            (IN_PLACE, 4243),
        ] {
            assert_eq!(parse_answer(&answer(k, v)), Some((k, v)));
        }
        assert_eq!(parse_answer(b"S42"), None);
        assert_eq!(parse_answer(b""), None);
    }

    #[test]
    fn what_the_request_did_to_the_environment_is_undone() {
        let env = |pairs: &[(&str, &str)]| -> Vec<(OsString, OsString)> {
            pairs.iter().map(|(k, v)| (k.into(), v.into())).collect()
        };
        let before = env(&[("KEPT", "1"), ("CHANGED", "before"), ("GONE", "here")]);
        let now = env(&[("KEPT", "1"), ("CHANGED", "after"), ("ADDED", "7")]);
        let mut undo = env_undo(&before, &now);
        undo.sort();
        assert_eq!(
            undo,
            [
                ("ADDED".into(), None),
                ("CHANGED".into(), Some("before".into())),
                ("GONE".into(), Some("here".into())),
            ]
        );
        assert!(env_undo(&before, &before).is_empty());
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
