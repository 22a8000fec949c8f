//! Layer 3 of the chain (sys -> model -> **probe** -> runtime -> host ->
//! suite -> report -> cli): it imports only `sys` and `model`.
//!
//! Observations taken inside the sandbox: small functions that look (or try
//! one thing) and return what they saw as data. A probe never judges; the
//! suite's expectations do.

pub mod caps;
pub mod cpu;
pub mod exec;
pub mod fs;
pub mod memory;
pub mod mount;
pub mod net;
pub mod ns;
pub mod pid;
pub mod reach;
pub mod schema;
pub mod security;
pub mod tasks;
pub mod uts;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A probe path that starts with this names the case's scratch directory
/// on the host; the runner puts in the real path before the sandbox runs.
pub const SCRATCH_TOKEN: &str = "$SCRATCH";

/// Every probe a table can name, with its arguments.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Probe {
    /// Own pid, the pids /proc lists, whether a foreign PID 1 is visible.
    PidView,
    /// The hostname seen inside.
    Hostname,
    /// Network interfaces (and which are up) and the routes seen inside.
    NetView,
    /// Writes a file into `dir`; with `remount_rw`, then tries to remount
    /// `dir` read-write.
    WriteFile {
        dir: PathBuf,
        #[serde(default)]
        remount_rw: bool,
    },
    /// Allocates and touches `mib` MiB.
    MemoryHog { mib: u64 },
    /// Creates `path`, then chowns it to `uid`:`gid`; reports the five
    /// capability sets and, with `exec_self`, what an exec of isocheck's
    /// binary gets.
    Chown {
        path: PathBuf,
        uid: u32,
        gid: u32,
        #[serde(default)]
        exec_self: bool,
    },
    /// Creates `path` as the sandbox's user and reports owners as seen inside,
    /// including that of `unmapped`, a path owned by an id outside the map.
    CreateFile { path: PathBuf, unmapped: PathBuf },
    /// Starts up to `max` processes at once and counts them.
    ForkCount { max: u32 },
    /// Looks for the helper's System V segment and POSIX message queue.
    IpcView,
    /// CLOCK_MONOTONIC and CLOCK_BOOTTIME as the sandbox reads them.
    Clocks,
    /// The sandbox's cgroup paths from /proc/self/cgroup.
    CgroupView,
    /// A TCP connect to the helper's listener on 127.0.0.1.
    ConnectListener,
    /// The sandbox's ids, and whether setgroups is allowed.
    Ids,
    /// Tries to create `namespaces`, without and with a user namespace;
    /// reports the capability sets held before (and with `exec_self` what
    /// an exec gets).
    TryUnshare {
        namespaces: Vec<crate::model::namespace::Namespace>,
        #[serde(default)]
        exec_self: bool,
    },
    /// Makes `target` and mounts a tmpfs on it; reports the capability
    /// sets (and with `exec_self` what an exec gets).
    MountTmpfs {
        target: PathBuf,
        #[serde(default)]
        exec_self: bool,
    },
    /// The sandbox's /proc, /sys and /dev: whose they are, read-only or
    /// not, which devices.
    MountView,
    /// Looks for a host file by its host path (`$SCRATCH/...`) by every
    /// path that could still reach the old root (as it is, below and `..`
    /// from every mount point, through /proc/<pid>/root), and checks the
    /// mount table against the skeleton and `mounts`, the targets the
    /// row's sandbox mounts.
    FindHostFile {
        path: PathBuf,
        #[serde(default)]
        mounts: Vec<PathBuf>,
    },
    /// Every mount whose source is a host file system, whether it is
    /// read-only (mountinfo, statvfs) and what access(2) says of writing
    /// it; skips the sandbox's `own` instances (tmpfs, proc, sysfs and its
    /// root, by target), character devices and the `writable` binds.
    /// Writes nothing.
    HostWritable {
        #[serde(default)]
        own: Vec<PathBuf>,
        #[serde(default)]
        writable: Vec<PathBuf>,
    },
    /// Tries harmless system calls and reports each outcome and the
    /// seccomp mode.
    Syscalls {
        #[serde(rename = "try")]
        tries: Vec<security::Harmless>,
    },
    /// Reads the start of each `read` path; asks access(2) whether each
    /// `write` path could be written (never writes).
    PathAccess {
        #[serde(default)]
        read: Vec<PathBuf>,
        #[serde(default)]
        write: Vec<PathBuf>,
    },
    /// Execs `path` (the sandbox's exec copy of isocheck) as the sandbox's
    /// user; the program reports its ids and capabilities and, with
    /// `bind_port`, the outcome of binding that TCP port.
    Exec {
        path: PathBuf,
        #[serde(default)]
        bind_port: Option<u16>,
    },
    /// Does nothing (benchmarks).
    Noop,
    /// Harness self-test: aborts.
    Crash,
    /// Harness self-test: never returns.
    Hang,
    /// Spins for `ms` milliseconds of wall time and reports the CPU time
    /// it got and the ratio of the two. With `quota_us` (per `period_us`,
    /// 100 ms unless given) it judges that CPU time against the quota and
    /// spins on, up to `max_ms`, until it can (see [`cpu`]).
    BusyLoop {
        ms: u64,
        #[serde(default)]
        max_ms: Option<u64>,
        #[serde(default)]
        quota_us: Option<u64>,
        #[serde(default)]
        period_us: Option<u64>,
    },
    /// TCP connects to each named address (`peer = "10.200.0.1:4242"`)
    /// and reports `"ok"` or the errno, with the interfaces and routes.
    NetReach {
        connect: std::collections::BTreeMap<String, std::net::SocketAddr>,
        #[serde(default = "reach::default_timeout_ms")]
        timeout_ms: u64,
    },
}

impl Probe {
    pub fn name(&self) -> &'static str {
        match self {
            Probe::PidView => "pid-view",
            Probe::Hostname => "hostname",
            Probe::NetView => "net-view",
            Probe::WriteFile { .. } => "write-file",
            Probe::MemoryHog { .. } => "memory-hog",
            Probe::Chown { .. } => "chown",
            Probe::CreateFile { .. } => "create-file",
            Probe::ForkCount { .. } => "fork-count",
            Probe::IpcView => "ipc-view",
            Probe::Clocks => "clocks",
            Probe::CgroupView => "cgroup-view",
            Probe::ConnectListener => "connect-listener",
            Probe::Ids => "ids",
            Probe::TryUnshare { .. } => "try-unshare",
            Probe::MountTmpfs { .. } => "mount-tmpfs",
            Probe::MountView => "mount-view",
            Probe::FindHostFile { .. } => "find-host-file",
            Probe::HostWritable { .. } => "host-writable",
            Probe::Syscalls { .. } => "syscalls",
            Probe::PathAccess { .. } => "path-access",
            Probe::Exec { .. } => "exec",
            Probe::Noop => "noop",
            Probe::Crash => "crash",
            Probe::Hang => "hang",
            Probe::BusyLoop { .. } => "busy-loop",
            Probe::NetReach { .. } => "net-reach",
        }
    }

    /// Runs the probe in the calling process (the sandbox init).
    pub fn run(&self) -> Value {
        match self {
            Probe::PidView => to_value(pid::view()),
            Probe::Hostname => to_value(uts::view()),
            Probe::NetView => to_value(net::view()),
            Probe::WriteFile { dir, remount_rw } => to_value(fs::write_file(dir, *remount_rw)),
            Probe::MemoryHog { mib } => to_value(memory::hog(*mib)),
            Probe::Chown {
                path,
                uid,
                gid,
                exec_self,
            } => to_value(fs::chown(path, *uid, *gid, *exec_self)),
            Probe::CreateFile { path, unmapped } => to_value(fs::create_file(path, unmapped)),
            Probe::ForkCount { max } => to_value(tasks::fork_count(*max)),
            Probe::IpcView => to_value(ns::ipc_view()),
            Probe::Clocks => to_value(ns::clocks()),
            Probe::CgroupView => to_value(ns::cgroup_view()),
            Probe::ConnectListener => to_value(ns::connect_listener()),
            Probe::Ids => to_value(ns::ids()),
            Probe::TryUnshare {
                namespaces,
                exec_self,
            } => to_value(ns::try_unshare(namespaces, *exec_self)),
            Probe::MountTmpfs { target, exec_self } => {
                to_value(mount::mount_tmpfs(target, *exec_self))
            }
            Probe::MountView => to_value(mount::view()),
            Probe::FindHostFile { path, mounts } => to_value(mount::find_host_file(path, mounts)),
            Probe::HostWritable { own, writable } => to_value(mount::host_writable(own, writable)),
            Probe::Syscalls { tries } => to_value(security::syscalls(tries)),
            Probe::PathAccess { read, write } => to_value(security::path_access(read, write)),
            Probe::Exec { path, bind_port } => to_value(exec::exec(path, *bind_port)),
            Probe::Noop => Value::Object(Default::default()),
            Probe::Crash => std::process::abort(),
            Probe::Hang => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
            Probe::BusyLoop {
                ms,
                max_ms,
                quota_us,
                period_us,
            } => to_value(cpu::busy_loop(
                *ms,
                *max_ms,
                quota_us.map(|quota_us| cpu::Quota {
                    quota_us,
                    period_us: period_us.unwrap_or(100_000),
                }),
            )),
            Probe::NetReach {
                connect,
                timeout_ms,
            } => to_value(reach::reach(connect, *timeout_ms)),
        }
    }
}

impl Probe {
    fn scratch_paths(&mut self) -> Vec<&mut PathBuf> {
        match self {
            Probe::MountTmpfs { target, .. } => vec![target],
            Probe::FindHostFile { path, .. } => vec![path],
            _ => Vec::new(),
        }
    }

    /// The probe execs isocheck's own binary (`exec_self`), which needs
    /// the host's libraries in the sandbox's root.
    pub fn execs_isocheck(&self) -> bool {
        matches!(
            self,
            Probe::Chown {
                exec_self: true,
                ..
            } | Probe::MountTmpfs {
                exec_self: true,
                ..
            } | Probe::TryUnshare {
                exec_self: true,
                ..
            }
        )
    }

    /// The probe names the case's scratch directory (`$SCRATCH/...`).
    pub fn uses_scratch(&self) -> bool {
        self.clone()
            .scratch_paths()
            .iter()
            .any(|p| p.starts_with(SCRATCH_TOKEN))
    }

    /// The probe with `$SCRATCH` replaced by the scratch directory's host path.
    pub fn with_scratch(&self, scratch: &Path) -> Probe {
        let mut p = self.clone();
        for path in p.scratch_paths() {
            if let Ok(rest) = path.strip_prefix(SCRATCH_TOKEN) {
                *path = scratch.join(rest);
            }
        }
        p
    }
}

fn to_value<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v)
        .unwrap_or_else(|e| Value::String(format!("unserialisable observation: {e}")))
}

/// `"ok"` or the errno's name (`"EROFS"`): what expectations compare.
pub fn outcome<T>(r: Result<T, nix::errno::Errno>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

/// Like [`outcome`] for std I/O results.
pub fn io_outcome<T>(r: std::io::Result<T>) -> String {
    outcome(r.map_err(crate::sys::io_errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_paths_are_put_in_by_the_runner() {
        let p: Probe =
            toml::from_str("kind = \"find-host-file\"\npath = \"$SCRATCH/isocheck-marker\"")
                .unwrap();
        assert!(p.uses_scratch());
        assert_eq!(
            p.with_scratch(Path::new("/tmp/w/scratch-3")),
            Probe::FindHostFile {
                path: "/tmp/w/scratch-3/isocheck-marker".into(),
                mounts: Vec::new(),
            }
        );
        let other = Probe::MountTmpfs {
            target: "/tmp/x".into(),
            exec_self: false,
        };
        assert!(!other.uses_scratch());
        assert_eq!(other.with_scratch(Path::new("/s")), other);
    }
}
