//! The helper process: a fresh, single-threaded exec of isocheck's own
//! binary (`isocheck __sandbox`). It reads a [`HelperRequest`] on stdin,
//! clones the sandbox, writes its id maps and cgroup membership, releases
//! it, waits for it with a timeout, sweeps up whatever it left, and writes
//! a [`HelperReport`] on stdout.
//!
//! Being its own process makes it safe under a threaded test harness:
//! `unshare(CLONE_NEWUSER)` and fork-then-run-Rust both need one thread.
//! The same work runs in a zygote's fork, or in the zygote itself for a
//! request that leaves the serving process as it was ([`runs_in_place`]).

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cgroups::{self, JOIN_CLONE_INTO, JOIN_PROCS_WRITE, JOIN_TASKS_SELF, KILL_BY_FILE};
use super::idmap;
use super::init::{self, InitContext, SetupRecord};
use super::plumbing::{die_with, pipe, runner_socket, step};
use super::protocol::{Escapee, ExitInfo, HelperReport, HelperRequest};
use super::sabotage::{self, Sabotage};
use super::scaffold;
use super::syscall::LinuxSyscall;
use crate::model::cgroup::{CgroupJoin, Leftovers};
use crate::model::error::{Cause, StepError};
use crate::model::namespace::Namespace;
use crate::model::spec::SandboxSpec;
use crate::sys::{self, CloneResult};

/// The argument that turns isocheck's binary into the helper.
pub const HELPER_ARG: &str = "__sandbox";
/// The runner's pid, so the helper can tell it was orphaned before it
/// could ask for a parent-death signal.
pub const RUNNER_PID_ENV: &str = "ISOCHECK_RUNNER_PID";

/// What the sandbox sends its helper on the report pipe.
#[derive(Serialize, Deserialize)]
enum ChildMessage {
    Done {
        setup: SetupRecord,
        probe: Value,
        uid_map: String,
        sabotage_fired: Vec<String>,
    },
    SetupFailed {
        error: StepError,
        sabotage_fired: Vec<String>,
    },
}

/// Entry point of `isocheck __sandbox`. Returns the process exit code.
pub fn main() -> i32 {
    // Die with the runner: a killed runner must not leave sandboxes behind.
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if let Some(runner) = std::env::var(RUNNER_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        if nix::unistd::getppid().as_raw() != runner {
            eprintln!("isocheck helper: the runner {runner} is gone");
            return 3;
        }
    }
    // The run's work directory lives in its own mount namespace.
    if let Err(e) = super::workdir::enter_work_ns() {
        eprintln!("isocheck helper: {e}");
        return 3;
    }
    let args: Vec<String> = std::env::args().skip(2).collect();
    if let [flag, bits] = &args[..] {
        if flag == "--bare-clone" {
            return bare_clone(bits);
        }
    }
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("isocheck helper: reading the request: {e}");
        return 3;
    }
    serve(&input)
}

/// Runs the request `input` (JSON) and writes the report to stdout: the
/// helper's work once it is in the run's work namespace, whether it was
/// started for this one sandbox or forked by the zygote
/// ([`super::zygote`]). Returns the process exit code.
pub fn serve(input: &[u8]) -> i32 {
    let req: HelperRequest = match serde_json::from_slice(input) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("isocheck helper: bad request: {e}");
            return 3;
        }
    };
    serve_request(&req)
}

/// Runs a parsed request and writes the report to stdout; returns the
/// process exit code.
pub fn serve_request(req: &HelperRequest) -> i32 {
    let report = run(req);
    let mut out = std::io::stdout().lock();
    if serde_json::to_writer(&mut out, &report).is_err() || out.flush().is_err() {
        return 3;
    }
    0
}

/// Whether the process serving `req` may serve it itself, with no helper
/// forked for it ([`super::zygote`] runs such a request in place): a
/// sandbox that enters no throwaway namespace, has no scaffolding and is
/// cloned as its spec says (no sabotage drops one of its namespaces: the
/// cloning process would unshare a throwaway one for good), and is either
/// rootful (cloned from the serving process) or rootless by a worker the
/// serving process forks ([`super::rootless::forks_a_worker`]: the worker,
/// not the serving process, drops to the rootless ids and makes the user
/// namespace). Nothing the helper then does outlives the request in the
/// serving process but its environment (restored by the zygote) and the
/// subreaper flag (the zygote's own anyway); a request that would unshare,
/// drop to another uid or leave objects in the process's namespaces gets a
/// helper of its own.
pub fn runs_in_place(req: &HelperRequest) -> bool {
    runs_in_place_as(req, nix::unistd::geteuid().is_root())
}

/// [`runs_in_place`] for a serving process that is root or not.
fn runs_in_place_as(req: &HelperRequest, root: bool) -> bool {
    req.rootless
        .as_ref()
        .is_none_or(|plan| super::rootless::forks_a_worker(plan, root))
        && req.spec.outer.is_empty()
        && !req.spec.has(Namespace::Time)
        && scaffold::helper_items(&req.spec.scaffold, false).is_empty()
        && !sabotage::alters_clone(&req.spec.namespaces)
}

/// Serves `req` in place ([`runs_in_place`]) with the zygote's socket
/// `sock` held for the span (see [`super::plumbing::runner_socket`]);
/// returns the exit code and the socket.
pub fn serve_in_place(req: &HelperRequest, sock: OwnedFd) -> (i32, OwnedFd) {
    *runner_socket() = Some(sock);
    let code = serve_request(req);
    let sock = runner_socket()
        .take()
        .expect("the socket lent for the request");
    (code, sock)
}

/// The benchmark's floor: clone with these namespace flags, the child
/// exits at once, the parent waits.
fn bare_clone(bits: &str) -> i32 {
    let Some(flags) = bits.parse().ok().map(CloneFlags::from_bits_retain) else {
        return 2;
    };
    match sys::clone_fork(flags) {
        Ok(CloneResult::Child) => sys::exit_now(0),
        Ok(CloneResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => 0,
            _ => 1,
        },
        Err(_) => 1,
    }
}

/// Runs one sandbox from this (single-threaded) process, rootful or from
/// inside a rootless user namespace.
pub fn run(req: &HelperRequest) -> HelperReport {
    if matches!(req.probe, crate::probe::Probe::Listmount(_)) {
        pass_host_mntns_id();
    }
    let mut rep = match &req.rootless {
        None => run_sandbox(req),
        Some(plan) => super::rootless::run(req, plan, run_sandbox),
    };
    sabotage::merge(&mut rep.sabotage_fired, sabotage::take_fired());
    rep
}

/// Names the host's mount namespace (the runner's) to the sandbox, a
/// clone of this single-threaded process, in [`HOST_MNTNS_ID_ENV`]. Where
/// the kernel gives namespaces no ids the variable stays unset and the
/// probe says so.
///
/// [`HOST_MNTNS_ID_ENV`]: crate::model::names::HOST_MNTNS_ID_ENV
fn pass_host_mntns_id() {
    let runner = std::env::var(RUNNER_PID_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
        .unwrap_or_else(|| nix::unistd::getppid().as_raw());
    let id = std::fs::File::open(format!("/proc/{runner}/ns/mnt"))
        .ok()
        .and_then(|f| sys::listmount::mntns_id(&f).ok());
    if let Some(id) = id {
        std::env::set_var(crate::model::names::HOST_MNTNS_ID_ENV, id.to_string());
    }
}

fn run_sandbox(req: &HelperRequest) -> HelperReport {
    let mut rep = HelperReport::default();
    if let Err(e) = enter_outer(&req.spec) {
        rep.setup_error = Some(e);
        return rep;
    }
    rep.hostname_before = crate::probe::uts::hostname();
    // Orphans of the sandbox come back to us, to be swept.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    match start_and_wait(req, &mut rep) {
        Ok(()) => {}
        Err(e) => rep.setup_error = Some(e),
    }
    rep.swept = sweep();
    rep.hostname_after = crate::probe::uts::hostname();
    if let Some(dir) = &req.scratch {
        rep.scratch_mounts = crate::probe::mount::mounts_below(dir);
    }
    sabotage::merge(&mut rep.sabotage_fired, sabotage::take_fired());
    rep
}

/// Enters the throwaway namespaces that stand in for the host.
fn enter_outer(spec: &SandboxSpec) -> Result<(), StepError> {
    let mut flags = spec
        .outer
        .iter()
        .fold(CloneFlags::empty(), |f, n| f | n.clone_flag());
    let new_time = spec.has(Namespace::Time) && !sabotage::hit(Sabotage::NsTimeDropped);
    if new_time {
        // A time namespace is entered by the children of the unsharer.
        flags |= Namespace::Time.clone_flag();
    }
    if flags.is_empty() {
        return Ok(());
    }
    nix::sched::unshare(flags).map_err(|e| step("unshare-outer", &format!("{flags:?}"), e))?;
    if spec.outer.contains(&Namespace::Mount) {
        use nix::mount::MsFlags;
        // Cut every tie to the host's mounts, then make the throwaway
        // namespace's mounts shared among themselves: a sandbox cloned from
        // it starts as their peer, and its propagation setting decides.
        for (flag, name) in [
            (MsFlags::MS_PRIVATE, "make-private-outer"),
            (MsFlags::MS_SHARED, "make-shared-outer"),
        ] {
            nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | flag,
                None::<&str>,
            )
            .map_err(|e| step(name, "/", e))?;
        }
    }
    let offsets = spec.time_offsets.filter(|_| new_time);
    if let Some(off) = offsets.filter(|_| !sabotage::hit(Sabotage::TimeOffsetsNotWritten)) {
        // Offsets are written before any process enters the namespace.
        let text = format!(
            "monotonic {} 0\nboottime {} 0\n",
            off.monotonic_s, off.boottime_s
        );
        std::fs::write("/proc/self/timens_offsets", &text)
            .map_err(|e| step("timens_offsets", text.trim(), crate::sys::io_errno(e)))?;
    }
    Ok(())
}

/// Opens the `cpu.stat` next to the first of the sandbox's `cgroup.procs`
/// files that has one and names its descriptor in [`CPU_STAT_FD_ENV`]:
/// the sandbox, a clone of this process, inherits both and can read the
/// kernel's throttling counters whatever its root and mounts become.
///
/// [`CPU_STAT_FD_ENV`]: crate::model::names::CPU_STAT_FD_ENV
fn open_cpu_stat(procs: &[std::path::PathBuf]) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    let file = procs
        .iter()
        .find_map(|p| std::fs::File::open(p.with_file_name("cpu.stat")).ok())?;
    // The sandbox is a clone of this single-threaded process: it inherits
    // the variable.
    std::env::set_var(
        crate::model::names::CPU_STAT_FD_ENV,
        file.as_raw_fd().to_string(),
    );
    Some(file)
}

fn start_and_wait(req: &HelperRequest, rep: &mut HelperReport) -> Result<(), StepError> {
    let spec = &req.spec;
    // The scaffolding: each item prepares, holds and (dropped at the end
    // of this function, once the sandbox has ended) cleans up its own.
    let mut items = scaffold::helper_items(&spec.scaffold, spec.outer.contains(&Namespace::Net));
    for item in &mut items {
        item.before_clone()?;
    }
    let waits = items.iter().any(|i| i.waits_for_build());
    let _cpu_stat = open_cpu_stat(&req.cgroup_procs);
    let (sync_r, sync_w) = pipe()?;
    let (rep_r, rep_w) = pipe()?;
    // The sandbox says it is built, then waits for the items that look at
    // it built (a joiner).
    let (ready_r, ready_w) = pipe()?;
    let helper_pid = nix::unistd::getpid();
    let started = Instant::now();
    // The user namespaces of idmapped binds: the sandbox inherits their
    // descriptors.
    let idmap_ns = spec
        .mounts
        .iter()
        .filter_map(|m| match m {
            crate::model::spec::Mount::Bind { idmap: Some(i), .. } => {
                Some(idmap::mapped_userns(&i.uid_map, &i.gid_map))
            }
            _ => None,
        })
        .collect::<Result<Vec<_>, _>>()?;
    let idmaps: Vec<std::os::fd::RawFd> = idmap_ns
        .iter()
        .map(std::os::fd::AsRawFd::as_raw_fd)
        .collect();
    let flags = sabotage::clone_flags(spec.clone_flags(), &spec.namespaces, &spec.outer)?;
    let joins = !req.cgroup_procs.is_empty() && !sabotage::hit(Sabotage::CgroupJoinSkipped);
    // Checked once: the clone needs it, and the sandbox inherits it to move
    // itself into its v1 cgroups, which only a process of one thread may do
    // by a thread move.
    let one = sys::single_threaded().map_err(|e| step("clone", "one thread", e))?;
    let (cloned, join) = clone_sandbox(req, flags, joins, one)?;
    // A move by write: the sandbox moves itself on v1 hierarchies (no
    // grace-period wait, see `cgroups::join_self`), the helper writes its
    // pid on cgroup2 ones.
    let (by_self, by_helper): (Vec<&Path>, Vec<&Path>) = match join {
        Some(JOIN_PROCS_WRITE) => req
            .cgroup_procs
            .iter()
            .map(PathBuf::as_path)
            .partition(|procs| !procs.parent().is_some_and(cgroups::is_cgroup2)),
        _ => Default::default(),
    };
    rep.cgroup_join = match join {
        Some(JOIN_PROCS_WRITE) if by_helper.is_empty() => Some(JOIN_TASKS_SELF.into()),
        other => other.map(String::from),
    };
    // The release: the sandbox waits for it only where the helper has
    // something to do first (id maps, a move into a cgroup2 cgroup, the
    // scaffolding); otherwise it goes on at once, without a wake-up.
    let released = spec.has(Namespace::User) || !by_helper.is_empty() || !items.is_empty();
    let child = match cloned {
        CloneResult::Child => {
            drop(sync_w);
            drop(rep_r);
            drop(ready_r);
            items.iter().for_each(|item| item.in_sandbox());
            let pipes = ChildPipes {
                sync_r,
                rep_w,
                ready_w,
            };
            let joins = SelfJoin {
                procs: by_self,
                one,
            };
            let waits = Waits {
                release: released,
                scaffolding: waits,
            };
            sandbox_child(req, waits, helper_pid, pipes, &idmaps, joins)
        }
        CloneResult::Parent { child } => child,
    };
    drop(sync_r);
    drop(rep_w);
    drop(ready_w);
    drop(idmap_ns);
    let pidfd = sys::pidfd_open(child).map_err(|e| {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        step("pidfd_open", &child.to_string(), e)
    })?;
    // A probe that looks at the sandbox as it was born has looked before
    // anything is done to it (a move into its cgroup included), however
    // the two processes are scheduled; the child's end of the pipe closes
    // if it dies first.
    if req.probe.looks_at_birth() {
        let mut byte = [0u8; 1];
        while let Err(Errno::EINTR) = nix::unistd::read(&ready_r, &mut byte) {}
    }
    // Release the child only once its maps, cgroup and scaffolding are in
    // place.
    let prepared = prepare_child(req, child, &by_helper).and_then(|()| {
        items
            .iter_mut()
            .try_for_each(|item| item.before_release(child))
    });
    if let Err(e) = prepared {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Err(e);
    }
    if released {
        let _ = nix::unistd::write(&sync_w, b"G");
    }
    let mut seen = scaffold::Seen::default();
    if waits {
        let mut fds = [PollFd::new(ready_r.as_fd(), PollFlags::POLLIN)];
        let wait =
            PollTimeout::try_from(spec.timeout_ms.min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut byte = [0u8; 1];
        // A signal is no answer: wait again (the sandbox's own deadline
        // bounds the whole).
        let polled = loop {
            match nix::poll::poll(&mut fds, wait) {
                Err(Errno::EINTR) => continue,
                other => break other,
            }
        };
        if polled.unwrap_or(0) > 0 && nix::unistd::read(&ready_r, &mut byte) == Ok(1) {
            for item in &mut items {
                if let Err(e) = item.when_built(child, &mut seen) {
                    rep.setup_error = Some(e);
                }
            }
        }
        let _ = nix::unistd::write(&sync_w, b"J");
    }
    drop(ready_r);
    drop(sync_w);

    let deadline = started + Duration::from_millis(spec.timeout_ms);
    let mut buf = Vec::new();
    let mut rep_open = Some(rep_r);
    let mut status = None;
    while status.is_none() {
        let now = Instant::now();
        if now >= deadline && !rep.timed_out {
            rep.timed_out = true;
            let _ = kill(child, Signal::SIGKILL);
        }
        let wait_ms = if rep.timed_out {
            5_000
        } else {
            deadline.saturating_duration_since(now).as_millis().max(1) as u64
        };
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if let Some(r) = &rep_open {
            fds.push(PollFd::new(r.as_fd(), PollFlags::POLLIN));
        }
        // Served in place: the runner's socket, to end the sandbox when the
        // runner is gone.
        let sock = runner_socket();
        let runner = sock.as_ref().map(|sock| {
            fds.push(PollFd::new(sock.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        // The items' descriptors (a seccomp supervisor's), after those.
        let first_item = fds.len();
        let watched: Vec<usize> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                let fd = item.watched()?;
                fds.push(PollFd::new(fd, PollFlags::POLLIN));
                Some(i)
            })
            .collect();
        let timeout = PollTimeout::try_from(wait_ms.min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        match nix::poll::poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(step("poll", "", e)),
        }
        let pid_ready = fds[0].revents().is_some_and(|r| !r.is_empty());
        let rep_ready = rep_open.is_some()
            && fds
                .get(1)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty());
        let item_ready: Vec<(usize, PollFlags)> = watched
            .iter()
            .zip(&fds[first_item..])
            .filter_map(|(i, f)| Some((*i, f.revents().filter(|r| !r.is_empty())?)))
            .collect();
        let runner_gone = runner.is_some_and(|i| fds[i].revents().is_some_and(|r| !r.is_empty()));
        drop(fds);
        drop(sock);
        if runner_gone {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            return Err(step("runner-gone", &child.to_string(), Errno::EPIPE));
        }
        for (i, revents) in item_ready {
            items[i].on_ready(revents);
        }
        if rep_ready && read_some(rep_open.as_ref().unwrap(), &mut buf) {
            rep_open = None;
        }
        if pid_ready {
            status =
                Some(waitpid(child, None).map_err(|e| step("waitpid", &child.to_string(), e))?);
        } else if rep.timed_out && Instant::now() >= deadline + Duration::from_secs(5) {
            return Err(step(
                "kill-on-timeout",
                &child.to_string(),
                Errno::ETIMEDOUT,
            ));
        }
    }
    rep.sandbox_us = started.elapsed().as_micros() as u64;
    for item in &mut items {
        item.report(&mut seen);
    }
    rep.joiner = seen.joiner;
    if let Some(r) = rep_open {
        while !read_some(&r, &mut buf) {}
    }
    rep.exit = status.map(exit_info);
    if !buf.is_empty() {
        match serde_json::from_slice::<ChildMessage>(&buf) {
            Ok(ChildMessage::Done {
                setup,
                probe,
                uid_map,
                sabotage_fired,
            }) => {
                rep.setup = Some(setup);
                // A pid the probe reports names a task outside only where
                // the sandbox shares the helper's PID namespace.
                if let Some(way) = spec.cgroup.leftovers.filter(|_| !spec.has(Namespace::Pid)) {
                    match watch_escapee(&probe, way, &req.cgroup_procs) {
                        Ok(e) => rep.escapee = e,
                        Err(e) => rep.setup_error = Some(e),
                    }
                }
                rep.probe = Some(probe);
                // What the supervisor and the signal saw speaks of a built
                // sandbox whose probe ran; of one that failed or died
                // first it says nothing (an empty supervisor would read
                // as "nothing delivered").
                rep.notify = seen.notify.take();
                rep.pidfd_signal = seen.pidfd_signal.take();
                rep.uid_map = uid_map;
                sabotage::merge(&mut rep.sabotage_fired, sabotage_fired);
            }
            Ok(ChildMessage::SetupFailed {
                error,
                sabotage_fired,
            }) => {
                rep.setup_error = Some(error);
                sabotage::merge(&mut rep.sabotage_fired, sabotage_fired);
            }
            Err(e) => {
                return Err(StepError::with(
                    "read-report",
                    String::from_utf8_lossy(&buf).as_ref(),
                    Cause::Protocol(e.to_string()),
                ))
            }
        }
    }
    Ok(())
}

/// Reads what is there; `true` at end of file.
fn read_some(fd: &OwnedFd, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16384];
    loop {
        match nix::unistd::read(fd, &mut chunk) {
            Ok(0) => return true,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                if n < chunk.len() {
                    return false;
                }
            }
            Err(Errno::EINTR) => continue,
            Err(_) => return true,
        }
    }
}

fn exit_info(s: WaitStatus) -> ExitInfo {
    match s {
        WaitStatus::Exited(_, code) => ExitInfo {
            code: Some(code),
            signal: None,
        },
        WaitStatus::Signaled(_, sig, _) => ExitInfo {
            code: None,
            signal: Some(sig.as_str().to_string()),
        },
        other => ExitInfo {
            code: None,
            signal: Some(format!("{other:?}")),
        },
    }
}

/// Clones the sandbox. Where it has one cgroup, on cgroup2, and the spec
/// asks for it, the sandbox is born there (`clone3` with
/// `CLONE_INTO_CGROUP`): nothing runs in it before it is in its cgroup,
/// and no move follows. A kernel without the call or the flag, a v1
/// cgroup, a rootless sandbox (its worker joined the delegated cgroup
/// before it made the user namespace: the sandbox is born there anyway)
/// and a clone that makes a cgroup namespace (kept in the order it asks
/// for) get a plain clone and, with `joins`, the move before the release.
/// Returns how the sandbox joins its cgroup, if it has one.
fn clone_sandbox(
    req: &HelperRequest,
    flags: CloneFlags,
    joins: bool,
    one: sys::SingleThreaded,
) -> Result<(CloneResult, Option<&'static str>), StepError> {
    let born_in = match &req.cgroup_procs[..] {
        [procs]
            if joins
                && req.rootless.is_none()
                && req.spec.cgroup.join == CgroupJoin::CloneInto
                && !flags.contains(CloneFlags::CLONE_NEWCGROUP) =>
        {
            procs.parent().filter(|d| cgroups::is_cgroup2(d))
        }
        _ => None,
    };
    if let Some(dir) = born_in {
        let fd = std::fs::File::open(dir).map_err(|e| {
            StepError::new("open-cgroup", dir.display().to_string(), sys::io_errno(e))
        })?;
        // The bug: the flag left out while the runtime believes the
        // sandbox was born in its cgroup (and so never moves it).
        let into = (!sabotage::hit(Sabotage::CloneIntoCgroupIgnored)).then(|| fd.as_fd());
        match sys::clone3::clone3_fork(one, flags, into) {
            Ok(r) => return Ok((r, Some(JOIN_CLONE_INTO))),
            Err(e) if sys::clone3::lacks_clone_into_cgroup(e) => {}
            Err(e) => {
                return Err(step(
                    "clone3",
                    &format!("{flags:?} into {}", dir.display()),
                    e,
                ))
            }
        }
    }
    let r = sys::clone_fork_as(one, flags).map_err(|e| step("clone", &format!("{flags:?}"), e))?;
    Ok((r, joins.then_some(JOIN_PROCS_WRITE)))
}

/// How long the helper waits for an escaped task to die after it wrote
/// `cgroup.kill` (a killed task exits as soon as it runs; on a loaded host
/// that can wait for the CPU), and how long it watches one it did not
/// kill.
const ESCAPEE_KILL_WAIT: Duration = Duration::from_secs(5);
const ESCAPEE_WATCH: Duration = Duration::from_millis(50);

/// Watches the task the probe reports as escaped (the report's
/// [`ESCAPED_PID_FIELD`]) once the main process has ended: a pidfd of it,
/// its cgroup, then what `way` asks for, then whether it died. It is this
/// helper's descendant (an orphan comes back to the subreaper), so its pid
/// cannot be reused before the sweep reaps it, and the sweep ends it
/// whatever happens here.
///
/// [`ESCAPED_PID_FIELD`]: crate::model::names::ESCAPED_PID_FIELD
fn watch_escapee(
    probe: &Value,
    way: Leftovers,
    procs: &[std::path::PathBuf],
) -> Result<Option<Escapee>, StepError> {
    let Some(pid) = probe
        .get(crate::model::names::ESCAPED_PID_FIELD)
        .and_then(Value::as_i64)
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p > 0)
    else {
        return Ok(None);
    };
    let pidfd =
        sys::pidfd_open(Pid::from_raw(pid)).map_err(|e| step("pidfd_open", &pid.to_string(), e))?;
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_default()
        .to_string();
    let alive_before = !exited(&pidfd, Duration::ZERO);
    let (ended_by, wait) = match way {
        Leftovers::CgroupKill => {
            let kill = procs
                .iter()
                .map(|p| p.with_file_name("cgroup.kill"))
                .find(|k| k.exists())
                .ok_or_else(|| {
                    StepError::new("cgroup.kill", "the sandbox's cgroup", Errno::ENOENT)
                })?;
            // The bug: the write left out while the runtime records it.
            if !sabotage::hit(Sabotage::CgroupKillSkipped) {
                std::fs::write(&kill, "1").map_err(|e| {
                    StepError::new("cgroup.kill", kill.display().to_string(), sys::io_errno(e))
                })?;
            }
            (KILL_BY_FILE, ESCAPEE_KILL_WAIT)
        }
        Leftovers::MainProcess => ("main-process", ESCAPEE_WATCH),
    };
    let started = Instant::now();
    let alive_after = !exited(&pidfd, wait);
    Ok(Some(Escapee {
        pid,
        cgroup,
        alive_before,
        ended_by: ended_by.into(),
        alive_after,
        waited_ms: started.elapsed().as_millis() as u64,
    }))
}

/// Whether the process behind `pidfd` has exited, waiting up to `wait`.
fn exited(pidfd: &OwnedFd, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        let timeout =
            PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        match nix::poll::poll(&mut fds, timeout) {
            Err(Errno::EINTR) if !left.is_zero() => continue,
            Ok(n) => return n > 0,
            Err(_) => return false,
        }
    }
}

/// Parent side, before release: id maps, then the move into the cgroup2
/// cgroups in `procs` (their `cgroup.procs` files).
fn prepare_child(req: &HelperRequest, child: Pid, procs: &[&Path]) -> Result<(), StepError> {
    let spec = &req.spec;
    if spec.has(Namespace::User) {
        let (uid_map, gid_map) = (identity(&spec.uid_map), identity(&spec.gid_map));
        idmap::write(
            child,
            uid_map.as_deref().unwrap_or(&spec.uid_map),
            gid_map.as_deref().unwrap_or(&spec.gid_map),
            req.deny_setgroups || spec.setgroups_deny,
        )?;
    }
    for procs in procs {
        std::fs::write(procs, child.as_raw().to_string())
            .map_err(|e| StepError::new("join-cgroup", procs, crate::sys::io_errno(e)))?;
    }
    Ok(())
}

/// The maps the `idmap-identity` sabotage writes instead of `maps`: each
/// line's outside id made equal to its inside id.
fn identity(maps: &[crate::model::spec::IdMap]) -> Option<Vec<crate::model::spec::IdMap>> {
    (!maps.is_empty() && sabotage::hit(Sabotage::IdmapIdentity)).then(|| {
        maps.iter()
            .map(|m| crate::model::spec::IdMap {
                outside: m.inside,
                ..*m
            })
            .collect()
    })
}

/// The sandbox: waits for release, builds itself, runs the probe, reports.
/// The sandbox's ends of its pipes to the helper.
struct ChildPipes {
    sync_r: OwnedFd,
    rep_w: OwnedFd,
    ready_w: OwnedFd,
}

/// The v1 cgroups the sandbox moves itself into after its release (their
/// `cgroup.procs` files), with the helper's proof that it has one thread.
struct SelfJoin<'a> {
    procs: Vec<&'a Path>,
    one: sys::SingleThreaded,
}

/// What the sandbox waits for its helper to do: the release (before it
/// builds itself) and the scaffolding's look at it built.
struct Waits {
    release: bool,
    scaffolding: bool,
}

fn sandbox_child(
    req: &HelperRequest,
    waits: Waits,
    helper: Pid,
    pipes: ChildPipes,
    idmaps: &[std::os::fd::RawFd],
    joins: SelfJoin<'_>,
) -> ! {
    let ChildPipes {
        sync_r,
        rep_w,
        ready_w,
    } = pipes;
    // The probe's first act, before anything else runs here (a probe that
    // looks at the sandbox as it was born); the helper waits for it.
    req.probe.at_birth();
    drop(runner_socket().take());
    if req.probe.looks_at_birth() {
        let _ = nix::unistd::write(&ready_w, b"B");
    }
    // In a new PID namespace the parent is outside it and getppid() is 0.
    die_with(helper, req.spec.has(Namespace::Pid));
    if !req.spec.has(Namespace::Pid) {
        // Its own process group, so whatever it forks can be swept.
        let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    }
    let mut go = [0u8; 1];
    if waits.release {
        match nix::unistd::read(&sync_r, &mut go) {
            Ok(1) => {}
            _ => sys::exit_now(121),
        }
    }
    // Into its v1 cgroups, first of all.
    let joined = joins
        .procs
        .iter()
        .try_for_each(|procs| cgroups::join_self(procs, joins.one).map(drop));
    // Read before the root changes: the new root may have no /proc.
    let uid_map = std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| {
            m.lines()
                .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    let ctx = InitContext {
        spec: &req.spec,
        root_dir: &req.root_dir,
        scratch: req.scratch.as_deref(),
        notify_sock: std::env::var(crate::model::names::NOTIFY_SOCK_FD_ENV)
            .ok()
            .and_then(|fd| fd.parse().ok()),
        idmaps,
    };
    let msg = match joined.and_then(|()| init::build(&ctx, &LinuxSyscall)) {
        Ok(setup) => {
            // Credential changes clear the parent-death signal: set it again.
            die_with(helper, req.spec.has(Namespace::Pid));
            if waits.scaffolding {
                // Built: let the scaffolding look (a joiner in), and wait
                // until it has.
                let _ = nix::unistd::write(&ready_w, b"R");
                let _ = nix::unistd::read(&sync_r, &mut go);
            }
            drop((sync_r, ready_w));
            let probe = req.probe.run();
            ChildMessage::Done {
                setup,
                probe,
                uid_map,
                sabotage_fired: sabotage::take_fired(),
            }
        }
        Err(error) => ChildMessage::SetupFailed {
            error,
            sabotage_fired: sabotage::take_fired(),
        },
    };
    let bytes = serde_json::to_vec(&msg).unwrap_or_default();
    let mut f = std::fs::File::from(rep_w);
    let _ = f.write_all(&bytes);
    drop(f);
    sys::exit_now(0)
}

/// Kills and reaps every process left below the helper (orphans of the
/// sandbox are reparented to it as subreaper), or below the command line
/// as it exits. Returns how many there were. Single-threaded callers only:
/// it reads the children of the calling process's main thread.
pub fn sweep() -> usize {
    let me = nix::unistd::getpid();
    let mut swept = 0;
    for _ in 0..50 {
        let list =
            std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")).unwrap_or_default();
        let kids: Vec<Pid> = list
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .map(Pid::from_raw)
            .collect();
        if kids.is_empty() {
            // Reap any zombie the children file no longer lists.
            while let Ok(s) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                if s == WaitStatus::StillAlive {
                    break;
                }
            }
            return swept;
        }
        for k in &kids {
            let _ = kill(*k, Signal::SIGKILL);
        }
        for k in &kids {
            let _ = waitpid(*k, None);
            swept += 1;
        }
    }
    swept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exit_is_a_code_and_a_death_is_the_signal_name() {
        let pid = Pid::from_raw(1);
        assert_eq!(
            exit_info(WaitStatus::Exited(pid, 3)),
            ExitInfo {
                code: Some(3),
                signal: None
            }
        );
        assert_eq!(
            exit_info(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            ExitInfo {
                code: None,
                signal: Some("SIGKILL".into())
            }
        );
        assert_eq!(
            exit_info(WaitStatus::Signaled(pid, Signal::SIGSEGV, true)).signal,
            Some("SIGSEGV".into()),
            "a core dump is still the signal"
        );
        let stopped = exit_info(WaitStatus::Stopped(pid, Signal::SIGSTOP));
        assert_eq!(stopped.code, None);
        assert!(
            stopped
                .signal
                .as_deref()
                .is_some_and(|s| s.contains("Stopped")),
            "{stopped:?}"
        );
    }

    #[test]
    fn the_maps_are_written_as_given_without_the_identity_sabotage() {
        let maps = [crate::model::spec::IdMap {
            inside: 0,
            outside: 100000,
            count: 1,
        }];
        assert_eq!(identity(&[]), None);
        if std::env::var(sabotage::ENV).is_err() {
            assert_eq!(identity(&maps), None);
        }
    }

    #[test]
    fn read_some_takes_what_is_there_and_says_when_the_writer_closed() {
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
        // More than one read's chunk, within the pipe's capacity.
        let sent: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        nix::unistd::write(&w, &sent).unwrap();
        let mut buf = Vec::new();
        assert!(!read_some(&r, &mut buf), "the writer is still open");
        assert_eq!(buf, sent);
        nix::unistd::write(&w, b"end").unwrap();
        drop(w);
        assert!(!read_some(&r, &mut buf), "data first");
        assert!(read_some(&r, &mut buf), "then end of file");
        assert_eq!(&buf[20_000..], b"end");
    }

    #[test]
    fn a_bare_clone_with_unreadable_flags_is_a_usage_error() {
        for bits in ["", "x", "0x20000", "99999999999"] {
            assert_eq!(bare_clone(bits), 2, "{bits:?}");
        }
    }

    #[test]
    fn only_a_request_that_leaves_the_serving_process_as_it_was_runs_in_place() {
        let plain = HelperRequest {
            spec: SandboxSpec::default(),
            probe: crate::probe::Probe::noop(),
            root_dir: "/root-dir".into(),
            scratch: None,
            cgroup_procs: vec!["/sys/fs/cgroup/memory/x/cgroup.procs".into()],
            deny_setgroups: false,
            rootless: None,
        };
        assert!(runs_in_place_as(&plain, true));
        let changed = |change: &dyn Fn(&mut HelperRequest)| {
            let mut r = plain.clone();
            change(&mut r);
            runs_in_place_as(&r, true)
        };
        // Each would change the serving process for good: its namespaces,
        // its uid, objects in its namespaces.
        assert!(!changed(&|r| {
            r.spec.outer.insert(Namespace::Net);
        }));
        assert!(!changed(&|r| {
            r.spec.namespaces.insert(Namespace::Time);
        }));
        assert!(!changed(&|r| r.spec.scaffold.ipc_objects = true));
        // Rootless: a root serving process, or one with newuidmap and
        // newgidmap, forks a worker that drops its ids and unshares; an
        // unprivileged one without the tools would unshare itself.
        let plan = super::super::protocol::RootlessPlan {
            uid: 100000,
            gid: 100000,
            uid_map: Vec::new(),
            gid_map: Vec::new(),
            join_cgroup: Vec::new(),
            tools: None,
        };
        let rootless = HelperRequest {
            rootless: Some(plan.clone()),
            ..plain.clone()
        };
        assert!(runs_in_place_as(&rootless, true));
        assert!(!runs_in_place_as(&rootless, false));
        let with_tools = HelperRequest {
            rootless: Some(super::super::protocol::RootlessPlan {
                tools: Some(super::super::protocol::IdmapTools {
                    newuidmap: "/usr/bin/newuidmap".into(),
                    newgidmap: "/usr/bin/newgidmap".into(),
                }),
                ..plan
            }),
            ..plain.clone()
        };
        assert!(runs_in_place_as(&with_tools, false));
        // The other conditions hold for a rootless request too.
        let mut outer = rootless.clone();
        outer.spec.outer.insert(Namespace::Net);
        assert!(!runs_in_place_as(&outer, true));
    }

    #[test]
    fn a_spec_without_outer_namespaces_enters_none() {
        assert!(enter_outer(&SandboxSpec::default()).is_ok());
    }

    #[test]
    fn no_cpu_stat_is_opened_where_none_is() {
        assert!(open_cpu_stat(&[]).is_none());
        let dir = tempfile::tempdir().unwrap();
        assert!(open_cpu_stat(&[dir.path().join("cgroup.procs")]).is_none());
    }

    #[test]
    fn the_sandbox_messages_round_trip() {
        let done = ChildMessage::Done {
            setup: SetupRecord {
                root: init::RootKind::PivotRoot,
                pivot_root_errno: None,
            },
            probe: serde_json::json!({"pid": 1}),
            uid_map: "0 100000 1".into(),
            sabotage_fired: vec!["ns-pid-dropped".into()],
        };
        let bytes = serde_json::to_vec(&done).unwrap();
        match serde_json::from_slice::<ChildMessage>(&bytes).unwrap() {
            ChildMessage::Done {
                setup,
                probe,
                uid_map,
                sabotage_fired,
            } => {
                assert_eq!(setup.root, init::RootKind::PivotRoot);
                assert_eq!(probe, serde_json::json!({"pid": 1}));
                assert_eq!(uid_map, "0 100000 1");
                assert_eq!(sabotage_fired, ["ns-pid-dropped"]);
            }
            ChildMessage::SetupFailed { .. } => panic!("decoded as a failure"),
        }
        let failed = ChildMessage::SetupFailed {
            error: StepError::new("pivot_root", "/run/iso/root", Errno::EINVAL),
            sabotage_fired: Vec::new(),
        };
        let bytes = serde_json::to_vec(&failed).unwrap();
        match serde_json::from_slice::<ChildMessage>(&bytes).unwrap() {
            ChildMessage::SetupFailed { error, .. } => {
                assert_eq!(error.to_string(), "pivot_root /run/iso/root: EINVAL");
            }
            ChildMessage::Done { .. } => panic!("decoded as done"),
        }
        // A sandbox that died mid-write leaves a message that does not decode.
        assert!(serde_json::from_slice::<ChildMessage>(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn a_report_reads_without_its_optional_fields() {
        let rep: HelperReport = serde_json::from_value(serde_json::json!({
            "probe": null,
            "setup": null,
            "setup_error": null,
            "exit": {"code": 0, "signal": null},
            "timed_out": false,
            "hostname_before": "h",
            "hostname_after": "h",
            "swept": 0,
            "sandbox_us": 1200
        }))
        .unwrap();
        assert_eq!(
            rep.exit,
            Some(ExitInfo {
                code: Some(0),
                signal: None
            })
        );
        assert!(rep.joiner.is_none() && rep.uid_map.is_empty());
        assert!(rep.scratch_mounts.is_empty() && rep.sabotage_fired.is_empty());
        let v = serde_json::to_value(&rep).unwrap();
        assert!(v.get("sabotage_fired").is_none(), "left out when empty");
    }
}
