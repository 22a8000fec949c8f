//! cgroups: detect the layout and give each sandbox a cgroup of its own
//! under one parent named for isocheck, removed afterwards.
//!
//! The layout is decided by statfs magic, never by a version string:
//! /sys/fs/cgroup is cgroup2 -> unified; tmpfs with cgroup2 at `unified/`
//! -> hybrid; tmpfs without -> legacy.

pub mod cpu;
pub mod v1;
pub mod v2;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::model::cgroup::CgroupLimits;

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// The name of isocheck's parent cgroup in every hierarchy.
pub const PARENT_NAME: &str = "isocheck";

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const TMPFS_MAGIC: i64 = 0x0102_1994;

use crate::model::cgroup::Layout;

// f_type's width differs between targets: the cast is a no-op only on some.
#[allow(clippy::unnecessary_cast)]
fn magic(path: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(path)
        .ok()
        .map(|s| s.filesystem_type().0 as i64)
}

/// Detects the cgroup layout of `root` (normally /sys/fs/cgroup).
pub fn detect_layout_at(root: &Path) -> Layout {
    match magic(root) {
        Some(CGROUP2_SUPER_MAGIC) => Layout::Unified,
        Some(TMPFS_MAGIC) => {
            if magic(&root.join("unified")) == Some(CGROUP2_SUPER_MAGIC) {
                Layout::Hybrid
            } else {
                Layout::Legacy
            }
        }
        _ => Layout::None,
    }
}

pub fn detect_layout() -> Layout {
    detect_layout_at(Path::new(CGROUP_ROOT))
}

/// The cgroup2 mount point for a layout, if it has one.
pub fn v2_mount(layout: Layout) -> Option<PathBuf> {
    match layout {
        Layout::Unified => Some(PathBuf::from(CGROUP_ROOT)),
        Layout::Hybrid => Some(Path::new(CGROUP_ROOT).join("unified")),
        _ => None,
    }
}

/// Controllers listed in the cgroup2 root's `cgroup.controllers`.
pub fn v2_root_controllers(layout: Layout) -> Vec<String> {
    v2_mount(layout)
        .and_then(|m| std::fs::read_to_string(m.join("cgroup.controllers")).ok())
        .map(|s| s.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

/// Controllers of mounted v1 hierarchies, from /proc/self/mountinfo.
pub fn v1_controllers() -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    v1::controllers_from_mountinfo(&text)
}

/// Where a controller lives on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControllerHome {
    /// A v1 hierarchy mounted at this path.
    V1(PathBuf),
    /// The cgroup2 hierarchy mounted at this path.
    V2(PathBuf),
}

/// Finds the hierarchy a controller is usable in. On a hybrid host a
/// controller bound to v1 is not available on v2, so v1 wins. `Ok(None)`
/// means the controller is in no mounted hierarchy; a mount table or a
/// controller list that could not be read (say, out of descriptors) is an
/// error, never an absence.
pub fn controller_home(
    layout: Layout,
    controller: &str,
) -> Result<Option<ControllerHome>, CgroupError> {
    let read = |path: &Path| {
        std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
            path: path.into(),
            source,
        })
    };
    if matches!(layout, Layout::Hybrid | Layout::Legacy) {
        let text = read(Path::new("/proc/self/mountinfo"))?;
        if let Some(p) = v1::mount_of(&text, controller) {
            return Ok(Some(ControllerHome::V1(p)));
        }
    }
    let Some(m) = v2_mount(layout) else {
        return Ok(None);
    };
    let listed = read(&m.join("cgroup.controllers"))?;
    Ok(listed
        .split_whitespace()
        .any(|c| c == controller)
        .then_some(ControllerHome::V2(m)))
}

/// Counters read from a sandbox's cgroup after it ended.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct CgroupStats {
    /// "v1" or "v2".
    pub backend: String,
    /// OOM kills in the cgroup (v2 memory.events, v1 memory.oom_control).
    pub oom_kill: Option<u64>,
    /// Times the memory limit was hit (v1 memory.failcnt, v2 memory.events max).
    pub memory_limit_hits: Option<u64>,
    /// The memory limit as the kernel reports it back.
    pub memory_max: Option<u64>,
    /// The memory.high limit as the kernel reports it back (v2).
    #[serde(default)]
    pub memory_high: Option<u64>,
    /// Times the cgroup went over memory.high and was throttled into
    /// reclaim (v2 memory.events `high`).
    #[serde(default)]
    pub memory_high_events: Option<u64>,
    /// The cgroup's memory high-water mark in bytes (v2 memory.peak, v1
    /// memory.max_usage_in_bytes; none where the kernel has neither).
    #[serde(default)]
    pub memory_peak: Option<u64>,
    /// The file `memory_peak` was read from.
    #[serde(default)]
    pub memory_peak_file: Option<String>,
    /// The cgroup's memory usage in bytes when read (v2 memory.current,
    /// v1 memory.usage_in_bytes).
    #[serde(default)]
    pub memory_current: Option<u64>,
    /// The pids limit as the kernel reports it back.
    pub pids_max: Option<u64>,
    /// Forks refused by the pids limit (v2 pids.events max).
    pub pids_limit_hits: Option<u64>,
    /// The CPU quota per period as the kernel reports it back, in
    /// microseconds (`u64::MAX` for no quota).
    #[serde(default)]
    pub cpu_quota_us: Option<u64>,
    #[serde(default)]
    pub cpu_period_us: Option<u64>,
    /// Periods in which the cgroup was runnable (v2 and v1 cpu.stat nr_periods).
    #[serde(default)]
    pub nr_periods: Option<u64>,
    /// Periods in which it ran out of quota and was throttled (cpu.stat nr_throttled).
    #[serde(default)]
    pub nr_throttled: Option<u64>,
    /// Time spent throttled, in microseconds (v2 throttled_usec, v1
    /// throttled_time in nanoseconds).
    #[serde(default)]
    pub throttled_usec: Option<u64>,
    /// How the teardown kills what is left in the cgroup ([`kill_method`]):
    /// [`KILL_BY_FILE`], or the fallback [`KILL_EACH_PID`] where the kernel
    /// offers no `cgroup.kill`.
    #[serde(default)]
    pub kill: String,
    /// The sandbox's cgroup as /proc/<pid>/cgroup names it on the cgroup2
    /// hierarchy (`/isocheck/<name>`); v2 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// How the sandbox entered it: [`JOIN_CLONE_INTO`], [`JOIN_TASKS_SELF`]
    /// or [`JOIN_PROCS_WRITE`] (what was done, not what was asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<String>,
}

/// The sandbox was born in its cgroup: `clone3` with `CLONE_INTO_CGROUP`.
pub const JOIN_CLONE_INTO: &str = "clone-into-cgroup";
/// The sandbox was moved into its cgroup by a write of its pid to
/// `cgroup.procs` before its release.
pub const JOIN_PROCS_WRITE: &str = "cgroup.procs";

/// The sandbox moved itself into its v1 cgroups by a write of `0` to each
/// one's `tasks` file after its release ([`join_self`]).
pub const JOIN_TASKS_SELF: &str = "tasks";

/// Moves the calling process into the cgroup whose `cgroup.procs` is
/// `procs`, by its own hand; returns the file it wrote. On v1 it writes `0`
/// (itself) to the cgroup's `tasks` file: a thread moving itself skips the
/// kernel's thread-group lock, which any other move takes and whose first
/// taker after a quiet spell waits for an RCU grace period (5-14 ms on
/// this project's machines, against 0.5 ms for this write). Only the
/// calling thread moves, so the caller proves it has no other. On cgroup2
/// (no `tasks` file) it writes its pid to `cgroup.procs`.
pub fn join_self(
    procs: &Path,
    _one: crate::sys::SingleThreaded,
) -> Result<PathBuf, crate::model::error::StepError> {
    let dir = procs.parent().unwrap_or(procs);
    let (file, text) = if is_cgroup2(dir) {
        (procs.to_path_buf(), std::process::id().to_string())
    } else {
        (dir.join("tasks"), "0".to_string())
    };
    std::fs::write(&file, text).map_err(|e| {
        crate::model::error::StepError::new("join-cgroup", &file, crate::sys::io_errno(e))
    })?;
    Ok(file)
}

/// The directory is on a cgroup2 hierarchy (the kernel's own answer, by
/// statfs magic).
pub fn is_cgroup2(dir: &Path) -> bool {
    magic(dir) == Some(CGROUP2_SUPER_MAGIC)
}

/// The teardown writes `1` to the cgroup's `cgroup.kill`.
pub const KILL_BY_FILE: &str = "cgroup.kill";
/// The teardown sends SIGKILL to each pid `cgroup.procs` lists, until it
/// is empty: v1 hierarchies, and cgroup2 on kernels without `cgroup.kill`.
pub const KILL_EACH_PID: &str = "sigkill-each-pid";

/// How the teardown empties the cgroup directory `dir`: decided by the
/// kernel's own answer, whether `cgroup.kill` is there.
pub fn kill_method(dir: &Path) -> &'static str {
    if dir.join("cgroup.kill").exists() {
        KILL_BY_FILE
    } else {
        KILL_EACH_PID
    }
}

/// Errors name the file and the value.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("controller `{0}` is not available on this host")]
    ControllerAbsent(String),
    #[error("failed to write {data:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        data: String,
        source: std::io::Error,
    },
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to remove {path}: {source}")]
    Remove {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub(crate) fn write(path: &Path, data: &str) -> Result<(), CgroupError> {
    std::fs::write(path, data).map_err(|source| CgroupError::Write {
        path: path.into(),
        data: data.into(),
        source,
    })
}

pub(crate) fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.into(),
        source,
    })
}

/// A sandbox's cgroup: one directory per hierarchy that carries a limit.
/// Dropping it kills whatever is left inside and removes the directories.
pub trait SandboxCgroup: Send {
    /// The `cgroup.procs` files the sandbox's pid must be written into.
    fn procs_files(&self) -> Vec<PathBuf>;
    /// Reads the counters after the sandbox ended.
    fn stats(&self) -> CgroupStats;
    /// Kills every process left inside and removes the cgroup. Idempotent.
    fn remove(&mut self) -> Result<(), CgroupError>;
    /// The sandbox's directories, one per hierarchy.
    fn dirs(&self) -> Vec<PathBuf>;
    /// Delegates the cgroup to an unprivileged owner, as a service manager
    /// delegates a cgroup to a user: the directory and its `cgroup.procs`
    /// (and `cgroup.threads`, `cgroup.subtree_control`) change owner.
    fn delegate(&self, uid: u32, gid: u32) -> Result<(), CgroupError> {
        for d in self.dirs() {
            for p in [
                d.clone(),
                d.join("cgroup.procs"),
                d.join("cgroup.threads"),
                d.join("cgroup.subtree_control"),
                d.join("tasks"),
            ] {
                if p.exists() {
                    std::os::unix::fs::chown(&p, Some(uid), Some(gid)).map_err(|source| {
                        CgroupError::Write {
                            path: p.clone(),
                            data: format!("owner {uid}:{gid}"),
                            source,
                        }
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// Creates a cgroup for one sandbox named `name` with `limits`, in
/// whichever backend holds the controllers the limits need.
pub fn create(
    root: &Path,
    layout: Layout,
    name: &str,
    limits: &CgroupLimits,
) -> Result<Box<dyn SandboxCgroup>, CgroupError> {
    let needs = limits.controllers();
    let mut homes = Vec::new();
    for c in &needs {
        let home = if root == Path::new(CGROUP_ROOT) {
            controller_home(layout, c)?
        } else {
            // A fake tree (tests): unified at `root`.
            Some(ControllerHome::V2(root.to_path_buf()))
        };
        homes.push((
            *c,
            home.ok_or_else(|| CgroupError::ControllerAbsent(c.to_string()))?,
        ));
    }
    if homes.is_empty() {
        // No limit: a cgroup of its own on the cgroup2 hierarchy.
        let mount = if root == Path::new(CGROUP_ROOT) {
            v2_mount(layout)
        } else {
            Some(root.to_path_buf())
        };
        let mount = mount.ok_or_else(|| {
            CgroupError::ControllerAbsent(format!(
                "cgroup2 hierarchy (none mounted, layout {})",
                layout.as_str()
            ))
        })?;
        Ok(Box::new(v2::V2Cgroup::create(&mount, name, limits)?))
    } else if homes
        .iter()
        .all(|(_, h)| matches!(h, ControllerHome::V2(_)))
    {
        let ControllerHome::V2(mount) = &homes[0].1 else {
            unreachable!()
        };
        Ok(Box::new(v2::V2Cgroup::create(mount, name, limits)?))
    } else if limits.unified {
        Err(CgroupError::ControllerAbsent(format!(
            "{} on cgroup2 (on a v1 hierarchy here)",
            needs.join(", ")
        )))
    } else {
        let mut dirs = Vec::new();
        for (c, h) in homes {
            match h {
                ControllerHome::V1(m) => dirs.push((c.to_string(), m)),
                ControllerHome::V2(_) => {
                    return Err(CgroupError::ControllerAbsent(format!(
                        "{c} (on v2 while others are on v1)"
                    )))
                }
            }
        }
        Ok(Box::new(v1::V1Cgroup::create(&dirs, name, limits)?))
    }
}

impl CgroupLimits {
    /// The controllers these limits need, in a fixed order.
    pub fn controllers(&self) -> Vec<&'static str> {
        [
            (self.memory_max.is_some() || self.memory_high.is_some() || self.memory_account)
                .then_some("memory"),
            self.pids_max.map(|_| "pids"),
            self.cpu_max.map(|_| "cpu"),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// How long the clean-up waits for a cgroup's tasks to die and for the
/// kernel to let its directory go: a killed task exits and a cgroup is
/// released in milliseconds, but on a loaded host the exit can wait for
/// the CPU, so the bound is time, not a count of short sleeps.
const TEARDOWN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Kills every pid listed in a `cgroup.procs` file, until it is empty.
pub(crate) fn kill_all(procs: &Path) {
    let start = std::time::Instant::now();
    while start.elapsed() < TEARDOWN_WAIT {
        let Ok(text) = std::fs::read_to_string(procs) else {
            return;
        };
        let pids: Vec<i32> = text
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if pids.is_empty() {
            return;
        }
        for p in pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// Removes a cgroup directory, retrying while the kernel finishes tearing
/// down its last tasks (rmdir answers EBUSY until then).
pub(crate) fn remove_dir(path: &Path) -> Result<(), CgroupError> {
    let mut last = None;
    let start = std::time::Instant::now();
    while start.elapsed() < TEARDOWN_WAIT {
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => last = Some(e),
            Err(source) => {
                return Err(CgroupError::Remove {
                    path: path.into(),
                    source,
                })
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Err(CgroupError::Remove {
        path: path.into(),
        source: last.unwrap_or_else(|| std::io::Error::from_raw_os_error(libc::EBUSY)),
    })
}

/// Parses `key value` lines (memory.events, memory.oom_control, pids.events).
pub fn flat_keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == key)
            .then(|| it.next()?.parse().ok())
            .flatten()
    })
}

/// Parses a limit file: a number, or `max` (no limit).
pub fn parse_limit(text: &str) -> Option<u64> {
    let t = text.trim();
    if t == "max" {
        Some(u64::MAX)
    } else {
        t.parse().ok()
    }
}
