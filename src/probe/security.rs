//! Probes of the security layers: which harmless system calls a seccomp
//! filter lets through, what masked and read-only paths allow, and which
//! files a Landlock ruleset lets the sandbox read.
//!
//! Nothing here writes to a kernel interface: write permission is asked
//! with access(2), which reports a read-only mount (EROFS) without opening
//! the file, and reads stop after [`READ_MAX`] bytes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use super::schema::{f, list, opt, Field, Ty};
use super::Def;
use super::{io_outcome, outcome};

/// A system call the `syscalls` probe can try; each is harmless.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Harmless {
    /// uname(2).
    Uname,
    /// getcwd(2).
    Getcwd,
    /// openat(2) of `/` for reading.
    Openat,
    /// mkdirat(2) of `/`: EEXIST once it reaches the kernel; creates nothing.
    Mkdirat,
}

impl Harmless {
    pub fn name(self) -> &'static str {
        match self {
            Harmless::Uname => "uname",
            Harmless::Getcwd => "getcwd",
            Harmless::Openat => "openat",
            Harmless::Mkdirat => "mkdirat",
        }
    }

    fn call(self) -> String {
        use nix::fcntl::{OFlag, AT_FDCWD};
        use nix::sys::stat::Mode;
        match self {
            Harmless::Uname => outcome(nix::sys::utsname::uname()),
            Harmless::Getcwd => outcome(nix::unistd::getcwd()),
            Harmless::Openat => outcome(nix::fcntl::openat(
                AT_FDCWD,
                "/",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )),
            Harmless::Mkdirat => outcome(nix::sys::stat::mkdirat(
                AT_FDCWD,
                "/",
                Mode::from_bits_truncate(0o700),
            )),
        }
    }
}

#[derive(Serialize, Debug)]
pub struct SyscallsReport {
    /// Each call's name with `"ok"` or its errno.
    pub calls: BTreeMap<&'static str, String>,
    /// The `Seccomp:` mode of /proc/self/status (0 none, 1 strict, 2
    /// filter); absent without a /proc.
    pub seccomp_mode: Option<u32>,
}

pub fn syscalls(tries: &[Harmless]) -> SyscallsReport {
    let calls = tries.iter().map(|t| (t.name(), t.call())).collect();
    let seccomp_mode = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| crate::sys::status::parse_status(&s).seccomp);
    SyscallsReport {
        calls,
        seccomp_mode,
    }
}

/// Bytes read from a file at most.
pub const READ_MAX: usize = 64;

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct ReadAttempt {
    pub path: PathBuf,
    /// `file`, `dir`, `char-device`, `other`, or `absent`.
    pub kind: &'static str,
    /// `"ok"` or the errno of opening (and reading) it.
    pub read: String,
    /// Bytes a read of at most [`READ_MAX`] gave (files), or entries (dirs).
    pub content: usize,
}

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct WriteCheck {
    pub path: PathBuf,
    /// `"ok"` or the errno of access(path, W_OK).
    pub access: String,
}

#[derive(Serialize, Debug)]
pub struct PathAccessReport {
    pub reads: Vec<ReadAttempt>,
    /// Paths of `read` that exist.
    pub present: Vec<PathBuf>,
    /// Paths of `read` that gave content: bytes of a file, entries of a directory.
    pub readable: Vec<PathBuf>,
    pub writes: Vec<WriteCheck>,
    /// Paths of `write` that access(2) calls writable.
    pub writable: Vec<PathBuf>,
}

/// What a read reports for a device node it does not open.
pub const NOT_OPENED: &str = "not-opened";

/// Whether opening and reading what `meta` describes cannot act on the
/// host: anything but a FIFO or a device node, or one of the memory
/// devices (null, zero, full, random, urandom: major 1, minors 3, 5, 7,
/// 8, 9) that masked paths are bound to. Opening another device is itself
/// an act on the host (a watchdog is armed by its open, a terminal's
/// input is taken by a read), and a read of a FIFO takes what a host
/// process wrote to it, so the probes never do either, whatever path a
/// table names.
fn harmless_to_open(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let ft = meta.file_type();
    if ft.is_fifo() {
        return false;
    }
    if !ft.is_char_device() && !ft.is_block_device() {
        return true;
    }
    let rdev = meta.rdev();
    ft.is_char_device()
        && nix::sys::stat::major(rdev) == 1
        && [3, 5, 7, 8, 9].contains(&nix::sys::stat::minor(rdev))
}

fn read_attempt(path: &Path) -> ReadAttempt {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return ReadAttempt {
                path: path.into(),
                kind: "absent",
                read: io_outcome::<()>(Err(e)),
                content: 0,
            }
        }
    };
    let ft = meta.file_type();
    let kind = if ft.is_dir() {
        "dir"
    } else if ft.is_file() {
        "file"
    } else if ft.is_char_device() {
        "char-device"
    } else {
        "other"
    };
    let (read, content) = if !harmless_to_open(&meta) {
        (NOT_OPENED.to_string(), 0)
    } else if ft.is_dir() {
        match std::fs::read_dir(path) {
            Ok(d) => ("ok".into(), d.count()),
            Err(e) => (io_outcome::<()>(Err(e)), 0),
        }
    } else {
        let mut buf = [0u8; READ_MAX];
        match std::fs::File::open(path).and_then(|mut f| f.read(&mut buf)) {
            Ok(n) => ("ok".into(), n),
            Err(e) => (io_outcome::<()>(Err(e)), 0),
        }
    };
    ReadAttempt {
        path: path.into(),
        kind,
        read,
        content,
    }
}

/// Reads the start of each `read` path and asks access(2) about writing
/// each `write` path.
pub fn path_access(read: &[PathBuf], write: &[PathBuf]) -> PathAccessReport {
    let reads: Vec<ReadAttempt> = read.iter().map(|p| read_attempt(p)).collect();
    let writes: Vec<WriteCheck> = write
        .iter()
        .map(|p| WriteCheck {
            path: p.clone(),
            access: outcome(nix::unistd::access(
                p.as_path(),
                nix::unistd::AccessFlags::W_OK,
            )),
        })
        .collect();
    PathAccessReport {
        present: reads
            .iter()
            .filter(|r| r.kind != "absent")
            .map(|r| r.path.clone())
            .collect(),
        readable: reads
            .iter()
            .filter(|r| r.content > 0)
            .map(|r| r.path.clone())
            .collect(),
        writable: writes
            .iter()
            .filter(|w| w.access == "ok")
            .map(|w| w.path.clone())
            .collect(),
        reads,
        writes,
    }
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `syscalls`: tries harmless system calls and reports each outcome and
/// the seccomp mode.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SyscallsArgs {
    #[serde(rename = "try")]
    pub tries: Vec<Harmless>,
}

impl Def for SyscallsArgs {
    type Output = SyscallsReport;
    fn run(&self) -> SyscallsReport {
        syscalls(&self.tries)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.calls", Ty::Object));
        v.extend(
            self.tries
                .iter()
                .map(|t| f(format!("probe.calls.{}", t.name()), Ty::Outcome)),
        );
        v.push(opt("probe.seccomp_mode", Ty::UINT));
    }
}

/// `path-access`: reads the start of each `read` path; asks access(2)
/// whether each `write` path could be written (never writes).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PathAccessArgs {
    #[serde(default)]
    pub read: Vec<PathBuf>,
    #[serde(default)]
    pub write: Vec<PathBuf>,
}

impl Def for PathAccessArgs {
    type Output = PathAccessReport;
    fn run(&self) -> PathAccessReport {
        path_access(&self.read, &self.write)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.extend(list("probe.reads", Ty::Object));
        v.push(f("probe.reads.#.path", Ty::Str));
        v.push(f("probe.reads.#.kind", Ty::Str));
        v.push(f("probe.reads.#.read", Ty::Outcome));
        v.push(f("probe.reads.#.content", Ty::UINT));
        v.extend(list("probe.present", Ty::Str));
        v.extend(list("probe.readable", Ty::Str));
        v.extend(list("probe.writes", Ty::Object));
        v.push(f("probe.writes.#.path", Ty::Str));
        v.push(f("probe.writes.#.access", Ty::Outcome));
        v.extend(list("probe.writable", Ty::Str));
    }
}

/// What the `landlock-read` probe saw.
#[derive(Serialize, Debug)]
pub struct LandlockReadReport {
    /// The Landlock ABI version the kernel offers (none where it refused).
    pub abi: Option<u32>,
    /// The errno of the version query where the kernel refused it.
    pub abi_errno: Option<String>,
    /// `"ok"` or the errno of opening and reading the allowed file.
    pub allowed: String,
    /// `"ok"` or the errno of opening and reading the other file.
    pub denied: String,
}

/// `"ok"` once the start of the file at `path` was read, else the errno.
fn read_start(path: &Path) -> String {
    if std::fs::metadata(path).is_ok_and(|m| !harmless_to_open(&m)) {
        return NOT_OPENED.to_string();
    }
    let mut buf = [0u8; READ_MAX];
    io_outcome(std::fs::File::open(path).and_then(|mut f| f.read(&mut buf)))
}

/// Asks the kernel's Landlock ABI version, then reads `allowed` and `denied`.
pub fn landlock_read(allowed: &Path, denied: &Path) -> LandlockReadReport {
    let abi = crate::sys::lsm::landlock_abi_version();
    LandlockReadReport {
        abi: abi.ok(),
        abi_errno: abi.err().map(|e| format!("{e:?}")),
        allowed: read_start(allowed),
        denied: read_start(denied),
    }
}

/// `landlock-read`: records the Landlock ABI version and reads the start
/// of a file beneath the ruleset's allowed paths and of one outside them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LandlockReadArgs {
    pub allowed: PathBuf,
    pub denied: PathBuf,
}

impl Def for LandlockReadArgs {
    type Output = LandlockReadReport;
    fn run(&self) -> LandlockReadReport {
        landlock_read(&self.allowed, &self.denied)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(opt("probe.abi", Ty::UINT));
        v.push(opt("probe.abi_errno", Ty::Str));
        v.push(f("probe.allowed", Ty::Outcome));
        v.push(f("probe.denied", Ty::Outcome));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A FIFO (whose read would take a host process's data, or hang) and a
    /// device other than the memory ones (whose open acts on the host) are
    /// never opened; /dev/null, files and directories are read.
    #[test]
    fn reads_never_open_a_fifo_or_a_device() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let r = path_access(&[fifo.clone(), file.clone(), "/dev/null".into()], &[]);
        assert_eq!(r.reads[0].read, NOT_OPENED);
        assert_eq!(r.reads[1].read, "ok");
        assert_eq!(r.reads[2].read, "ok");
        assert_eq!(read_start(&fifo), NOT_OPENED);
        // Another character device (here the console's), where there is one.
        for other in ["/dev/kmsg", "/dev/tty0", "/dev/console"] {
            if let Ok(m) = std::fs::metadata(other) {
                assert!(!harmless_to_open(&m), "{other}");
            }
        }
    }

    #[test]
    fn unprivileged_calls_run_here() {
        let r = syscalls(&[
            Harmless::Uname,
            Harmless::Getcwd,
            Harmless::Openat,
            Harmless::Mkdirat,
        ]);
        assert_eq!(r.calls["mkdirat"], "EEXIST");
        assert_eq!(r.calls["uname"], "ok");
        assert_eq!(r.calls["getcwd"], "ok");
        assert_eq!(r.calls["openat"], "ok");
    }

    #[test]
    fn landlock_read_reports_each_read_and_the_abi() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"hello").unwrap();
        let r = landlock_read(&f, &dir.path().join("gone"));
        assert_eq!((r.allowed.as_str(), r.denied.as_str()), ("ok", "ENOENT"));
        assert!(r.abi.is_some() != r.abi_errno.is_some());
    }

    #[test]
    fn path_access_tells_content_absence_and_write_permission() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, b"hello").unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let gone = dir.path().join("gone");
        let r = path_access(
            &[f.clone(), empty.clone(), gone.clone(), "/dev/null".into()],
            &[f.clone(), gone.clone()],
        );
        assert_eq!(r.present, [f.clone(), empty, "/dev/null".into()]);
        assert_eq!(r.readable, std::slice::from_ref(&f));
        assert_eq!(r.reads[2].read, "ENOENT");
        assert_eq!(r.reads[3].kind, "char-device");
        assert_eq!(r.writable, [f]);
        assert_eq!(r.writes[1].access, "ENOENT");
    }
}

// `getpgid`: a call a seccomp supervisor may answer.

/// What `getpgid(0)` returned, next to the value /proc gives without the
/// call.
#[derive(Serialize, Debug)]
pub struct GetpgidReport {
    /// The call's number on this architecture (libc's table, not the
    /// filter's).
    pub nr: i64,
    /// What the call returned, when it succeeded.
    pub result: Option<i64>,
    /// Its errno, when it failed.
    pub errno: Option<String>,
    /// The process group in /proc/self/stat: the call's real result, read
    /// without the call.
    pub real_pgid: Option<i64>,
}

/// The process group field of /proc/self/stat.
fn stat_pgrp() -> Option<i64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After the command, in parentheses: state, ppid, pgrp.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// `getpgid`: calls getpgid(0) once and reports what it returned.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GetpgidArgs {}

impl Def for GetpgidArgs {
    type Output = GetpgidReport;
    fn run(&self) -> GetpgidReport {
        let real_pgid = stat_pgrp();
        let r = nix::unistd::getpgid(None);
        GetpgidReport {
            nr: libc::SYS_getpgid,
            result: r.ok().map(|p| p.as_raw().into()),
            errno: r.err().map(|e| format!("{e:?}")),
            real_pgid,
        }
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.nr", Ty::SINT));
        v.push(opt("probe.result", Ty::SINT));
        v.push(opt("probe.errno", Ty::Outcome));
        v.push(opt("probe.real_pgid", Ty::SINT));
    }
}
