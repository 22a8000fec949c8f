//! File-system probes: writes, remounts, chown, ownership through id maps.

use nix::mount::MsFlags;
use serde::Serialize;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

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
