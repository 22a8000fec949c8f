//! Observations taken inside the sandbox: small functions that look (or try
//! one thing) and return what they saw as data. A probe never judges; the
//! suite's expectations do.

pub mod fs;
pub mod memory;
pub mod net;
pub mod pid;
pub mod tasks;
pub mod uts;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

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
    /// Creates `path`, then chowns it to `uid`:`gid`.
    Chown { path: PathBuf, uid: u32, gid: u32 },
    /// Creates `path` as the sandbox's user and reports owners as seen inside,
    /// including that of `unmapped`, a path owned by an id outside the map.
    CreateFile { path: PathBuf, unmapped: PathBuf },
    /// Starts up to `max` processes at once and counts them.
    ForkCount { max: u32 },
    /// Does nothing (benchmarks).
    Noop,
    /// Harness self-test: aborts.
    Crash,
    /// Harness self-test: never returns.
    Hang,
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
            Probe::Noop => "noop",
            Probe::Crash => "crash",
            Probe::Hang => "hang",
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
            Probe::Chown { path, uid, gid } => to_value(fs::chown(path, *uid, *gid)),
            Probe::CreateFile { path, unmapped } => to_value(fs::create_file(path, unmapped)),
            Probe::ForkCount { max } => to_value(tasks::fork_count(*max)),
            Probe::Noop => Value::Object(Default::default()),
            Probe::Crash => std::process::abort(),
            Probe::Hang => loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            },
        }
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
    outcome(r.map_err(crate::runtime::syscall::io_errno))
}
