//! File-system probes: writes, remounts, chown, ownership through id maps.

use nix::mount::MsFlags;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::schema::{self, f, opt, Field, Ty};
use super::Def;
use super::{io_outcome, outcome};

/// Name of the file write probes create.
pub const PROBE_FILE: &str = "isocheck-probe";

#[derive(Serialize, Debug)]
pub struct WriteReport {
    /// `"ok"` or the errno of creating a file in the directory.
    pub write: String,
    /// `"ok"` or the errno of remounting it read-write; absent when not tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remount_rw: Option<String>,
}

pub fn write_file(dir: &Path, remount_rw: bool) -> WriteReport {
    let write = io_outcome(std::fs::write(dir.join(PROBE_FILE), b"isocheck"));
    let remount_rw = remount_rw.then(|| {
        outcome(nix::mount::mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND,
            None::<&str>,
        ))
    });
    WriteReport { write, remount_rw }
}

#[derive(Serialize, Debug)]
pub struct ChownReport {
    pub create: String,
    pub chown: String,
    pub uid: u32,
    /// The capability sets (`caps`) and what an exec gets (`exec_self`).
    #[serde(flatten)]
    pub caps: super::caps::CapsReport,
}

pub fn chown(path: &Path, uid: u32, gid: u32, exec_self: bool) -> ChownReport {
    let caps = super::caps::report(exec_self);
    let create = io_outcome(std::fs::write(path, b""));
    let chown = outcome(nix::unistd::chown(
        path,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    ));
    ChownReport {
        create,
        chown,
        uid: nix::unistd::getuid().as_raw(),
        caps,
    }
}

#[derive(Serialize, Debug)]
pub struct CreateReport {
    pub create: String,
    /// getuid() inside.
    pub uid: u32,
    /// The new file's owner as seen inside.
    pub owner_inside: Option<u32>,
    /// The owner of a path whose owner is outside the map, as seen inside.
    pub unmapped_owner: Option<u32>,
}

pub fn create_file(path: &Path, unmapped: &Path) -> CreateReport {
    let create = io_outcome(std::fs::write(path, b"isocheck"));
    CreateReport {
        create,
        uid: nix::unistd::getuid().as_raw(),
        owner_inside: std::fs::metadata(path).ok().map(|m| m.uid()),
        unmapped_owner: std::fs::metadata(unmapped).ok().map(|m| m.uid()),
    }
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `write-file`: writes a file into `dir`; with `remount_rw`, then tries
/// to remount `dir` read-write.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WriteFileArgs {
    pub dir: PathBuf,
    #[serde(default)]
    pub remount_rw: bool,
}

impl Def for WriteFileArgs {
    type Output = WriteReport;
    fn run(&self) -> WriteReport {
        write_file(&self.dir, self.remount_rw)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.write", Ty::Outcome));
        if self.remount_rw {
            v.push(f("probe.remount_rw", Ty::Outcome));
        }
    }
    fn written_paths(&self) -> Vec<(&'static str, &Path)> {
        vec![("dir", &self.dir)]
    }
    fn mounts(&self) -> bool {
        self.remount_rw
    }
}

/// `chown`: creates `path`, then chowns it to `uid`:`gid`; reports the
/// five capability sets and, with `exec_self`, what an exec of isocheck's
/// binary gets.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ChownArgs {
    pub path: PathBuf,
    pub uid: u32,
    pub gid: u32,
    #[serde(default)]
    pub exec_self: bool,
}

impl Def for ChownArgs {
    type Output = ChownReport;
    fn run(&self) -> ChownReport {
        chown(&self.path, self.uid, self.gid, self.exec_self)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.create", Ty::Outcome));
        v.push(f("probe.chown", Ty::Outcome));
        v.push(f("probe.uid", Ty::UINT));
        schema::caps(v, self.exec_self);
    }
    fn execs_isocheck(&self) -> bool {
        self.exec_self
    }
    fn written_paths(&self) -> Vec<(&'static str, &Path)> {
        vec![("path", &self.path)]
    }
}

/// `create-file`: creates `path` as the sandbox's user and reports owners
/// as seen inside, including that of `unmapped`, a path owned by an id
/// outside the map.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CreateFileArgs {
    pub path: PathBuf,
    pub unmapped: PathBuf,
}

impl Def for CreateFileArgs {
    type Output = CreateReport;
    fn run(&self) -> CreateReport {
        create_file(&self.path, &self.unmapped)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.create", Ty::Outcome));
        v.push(f("probe.uid", Ty::UINT));
        v.push(opt("probe.owner_inside", Ty::UINT));
        v.push(opt("probe.unmapped_owner", Ty::UINT));
    }
    fn written_paths(&self) -> Vec<(&'static str, &Path)> {
        vec![("path", &self.path)]
    }
}

#[derive(Serialize, Debug)]
pub struct FileOwnerReport {
    /// `"ok"` or the errno of stat(2) on the path.
    pub stat: String,
    /// The file's owner and group as the sandbox sees them (null when
    /// stat failed).
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Stats `path` (following symlinks) and reports its owner and group as
/// seen from the calling process.
pub fn file_owner(path: &Path) -> FileOwnerReport {
    match std::fs::metadata(path) {
        Ok(m) => FileOwnerReport {
            stat: "ok".into(),
            uid: Some(m.uid()),
            gid: Some(m.gid()),
        },
        Err(e) => FileOwnerReport {
            stat: io_outcome::<()>(Err(e)),
            uid: None,
            gid: None,
        },
    }
}

/// `file-owner`: the owner and group of `path` as the sandbox sees them
/// (through an idmapped mount, the mapped ids). It only reads.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileOwnerArgs {
    pub path: PathBuf,
}

impl Def for FileOwnerArgs {
    type Output = FileOwnerReport;
    fn run(&self) -> FileOwnerReport {
        file_owner(&self.path)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.stat", Ty::Outcome));
        v.push(opt("probe.uid", Ty::UINT));
        v.push(opt("probe.gid", Ty::UINT));
    }
}
