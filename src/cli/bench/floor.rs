//! The in-process floors: a bare clone of a typical case's five namespaces
//! (the child exits at once, the parent waits), and the full set-up done
//! plainly with the system calls in the clone's child (private /, the root
//! bound onto itself, a fresh proc, pivot_root, hostname, cap drop,
//! no_new_privs, exit). Nothing is exec'd: this is what a sandbox costs
//! the kernel, the floor the runtime is measured against. A third floor
//! clones the same way and builds the typical case with the runtime's own
//! steps ([`crate::runtime::init::build`]: the skeleton root and all), with
//! no helper and no runner around it: what the runtime's process layers
//! add is the case over it, what its build adds is it over the set-up.
//!
//! They run in a [`FloorServer`]: a fork of the bench process made before
//! anything starts a thread, so it stays single-threaded (a clone of a
//! threaded process may run only async-signal-safe code) whatever the
//! runtime does with threads in the bench process. It times each clone
//! itself and sends the time back: the pipe is outside the figure.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};

use crate::model::spec::SandboxSpec;
use crate::sys::{self, CloneResult};

/// The five namespaces of a typical case.
pub const FLAGS: CloneFlags = CloneFlags::CLONE_NEWPID
    .union(CloneFlags::CLONE_NEWNS)
    .union(CloneFlags::CLONE_NEWUTS)
    .union(CloneFlags::CLONE_NEWIPC)
    .union(CloneFlags::CLONE_NEWNET);

/// Which floor to time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Floor {
    /// Clone into the five namespaces, the child exits at once.
    Clone,
    /// The same clone, then the whole set-up in the child.
    Setup,
    /// The same clone, then the runtime's own build of the typical case.
    Build,
}

impl Floor {
    fn letter(self) -> char {
        match self {
            Floor::Clone => 'c',
            Floor::Setup => 's',
            Floor::Build => 'b',
        }
    }
}

/// The set-up steps in the child, by the exit status that names the one
/// that failed.
pub const STEPS: [&str; 9] = [
    "",
    "make / private (MS_REC|MS_PRIVATE)",
    "bind the root onto itself",
    "mount a fresh proc",
    "chdir into the root",
    "pivot_root(\".\", \".\") and detach the old root",
    "sethostname",
    "drop CAP_SYS_ADMIN, set no_new_privs",
    "build the typical case with the runtime's own steps",
];

/// The full set-up in the clone's child; returns the exit status (0, or
/// the failed step's index in [`STEPS`]).
fn setup(root: &Path) -> i32 {
    let none: Option<&str> = None;
    if mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).is_err() {
        return 1;
    }
    if mount(
        Some(root),
        root,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )
    .is_err()
    {
        return 2;
    }
    if mount(
        Some("proc"),
        &root.join("proc"),
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        none,
    )
    .is_err()
    {
        return 3;
    }
    if nix::unistd::chdir(root).is_err() {
        return 4;
    }
    if nix::unistd::pivot_root(".", ".").is_err()
        || umount2(".", MntFlags::MNT_DETACH).is_err()
        || nix::unistd::chdir("/").is_err()
    {
        return 5;
    }
    if nix::unistd::sethostname("isocheck-bench").is_err() {
        return 6;
    }
    let cap = caps::Capability::CAP_SYS_ADMIN;
    let dropped = sys::caps::drop_bounding(cap).is_ok()
        && [
            caps::CapSet::Inheritable,
            caps::CapSet::Effective,
            caps::CapSet::Permitted,
        ]
        .into_iter()
        .all(|set| {
            sys::caps::read(set).is_ok_and(|mut have| {
                have.retain(|c| *c != cap);
                sys::caps::set(set, &have).is_ok()
            })
        });
    if !dropped || nix::sys::prctl::set_no_new_privs().is_err() {
        return 7;
    }
    0
}

/// The runtime's own build of `spec` on `root` in the clone's child;
/// returns the exit status (0, or [`STEPS`]' last index).
fn build(root: &Path, spec: &SandboxSpec) -> i32 {
    let ctx = crate::runtime::init::InitContext {
        spec,
        root_dir: root,
        scratch: None,
        notify_sock: None,
        idmaps: &[],
    };
    match crate::runtime::init::build(&ctx, &crate::runtime::syscall::LinuxSyscall) {
        Ok(_) => 0,
        Err(_) => (STEPS.len() - 1) as i32,
    }
}

/// Times one floor from this (single-threaded) process.
fn time(floor: Floor, root: &Path, spec: &SandboxSpec) -> Result<Duration, String> {
    let t = Instant::now();
    match sys::clone_fork(FLAGS) {
        Ok(CloneResult::Child) => sys::exit_now(match floor {
            Floor::Clone => 0,
            Floor::Setup => setup(root),
            Floor::Build => build(root, spec),
        }),
        Ok(CloneResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(t.elapsed()),
            Ok(WaitStatus::Exited(_, n)) => Err(format!(
                "the floor's child failed to {}",
                STEPS.get(n as usize).copied().unwrap_or("(unknown step)")
            )),
            other => Err(format!("the floor's child ended as {other:?}")),
        },
        Err(e) => Err(format!("clone: {e}")),
    }
}

/// The single-threaded fork that times the floors.
pub struct FloorServer {
    conn: BufReader<UnixStream>,
    child: nix::unistd::Pid,
}

impl FloorServer {
    /// Forks the server; `root` is the directory the set-up pivots into
    /// (it must hold `proc`), and the one the runtime's build of `spec`
    /// mounts its root on. Call it while this process has one thread.
    pub fn start(root: PathBuf, spec: SandboxSpec) -> Result<FloorServer, String> {
        let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
        match sys::clone_fork(CloneFlags::empty()) {
            Ok(CloneResult::Child) => {
                drop(ours);
                sys::exit_now(serve(theirs, &root, &spec))
            }
            Ok(CloneResult::Parent { child }) => Ok(FloorServer {
                conn: BufReader::new(ours),
                child,
            }),
            Err(e) => Err(format!("forking the floor server: {e}")),
        }
    }

    /// One timing of `floor`.
    pub fn time(&mut self, floor: Floor) -> Result<Duration, String> {
        writeln!(self.conn.get_mut(), "{}", floor.letter())
            .map_err(|e| format!("asking the floor server: {e}"))?;
        let mut line = String::new();
        self.conn
            .read_line(&mut line)
            .map_err(|e| format!("reading the floor server: {e}"))?;
        parse_reply(&line)
    }
}

impl Drop for FloorServer {
    fn drop(&mut self) {
        let _ = self.conn.get_mut().shutdown(std::net::Shutdown::Both);
        let _ = waitpid(self.child, None);
    }
}

/// The server's reply: `ok <nanoseconds>` or `err <why>`.
fn parse_reply(line: &str) -> Result<Duration, String> {
    let line = line.trim_end();
    if let Some(ns) = line.strip_prefix("ok ") {
        return ns
            .parse()
            .map(Duration::from_nanos)
            .map_err(|_| format!("the floor server said {line:?}"));
    }
    Err(line
        .strip_prefix("err ")
        .map_or_else(|| format!("the floor server said {line:?}"), str::to_string))
}

/// The server's loop: a letter in, a reply out, until the bench hangs up.
fn serve(conn: UnixStream, root: &Path, spec: &SandboxSpec) -> i32 {
    let mut out = match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return 3,
    };
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else { return 3 };
        let floor = match line.as_str() {
            "c" => Floor::Clone,
            "s" => Floor::Setup,
            "b" => Floor::Build,
            _ => return 2,
        };
        let reply = match time(floor, root, spec) {
            Ok(d) => format!("ok {}", d.as_nanos()),
            Err(e) => format!("err {e}"),
        };
        if writeln!(out, "{reply}").is_err() {
            return 3;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_replies_are_read_strictly() {
        assert_eq!(parse_reply("ok 1500000\n"), Ok(Duration::from_micros(1500)));
        assert_eq!(
            parse_reply("err the floor's child failed to sethostname\n"),
            Err("the floor's child failed to sethostname".into())
        );
        assert!(parse_reply("ok soon").is_err());
        assert!(parse_reply("").is_err());
    }
}
