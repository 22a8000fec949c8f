//! Mount probes: a mount attempt, the sandbox's /proc, /sys and /dev, and a
//! search for a host file through every mount the sandbox can see.

use nix::mount::MsFlags;
use serde::Serialize;
use std::path::{Path, PathBuf};

use super::{io_outcome, outcome};
use crate::runtime::mounts::SKELETON_DEVICES;

/// Mount points of a `/proc/<pid>/mountinfo` text, unescaped, in order.
pub fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let d = |k: usize| u32::from(b[i + k] - b'0');
            out.push((d(1) * 64 + d(2) * 8 + d(3)) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points strictly below `dir` in this process's mount table, as
/// paths relative to `dir`, sorted.
pub fn mounts_below(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<String> = mount_points(&text)
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(dir).ok()?;
            (!rel.as_os_str().is_empty()).then(|| rel.display().to_string())
        })
        .collect();
    v.sort();
    v
}

#[derive(Serialize, Debug)]
pub struct MountTmpfsReport {
    /// `"ok"` or the errno of making the mount point (mkdir -p).
    pub mkdir: String,
    /// `"ok"` or the errno of mounting a tmpfs there.
    pub mount: String,
}

/// Makes `target` and mounts a small tmpfs on it.
pub fn mount_tmpfs(target: &Path) -> MountTmpfsReport {
    let mkdir = io_outcome(std::fs::create_dir_all(target));
    let mount = outcome(nix::mount::mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("size=64k"),
    ));
    MountTmpfsReport { mkdir, mount }
}

#[derive(Serialize, Debug)]
pub struct MountView {
    /// getpid() inside.
    pub pid: i32,
    /// Where /proc/self points, or the errno of reading it.
    pub proc_self: String,
    /// /proc/self is this process's pid: /proc is a proc of the sandbox's
    /// PID namespace.
    pub proc_is_own: bool,
    /// Numeric entries of /proc.
    pub proc_pids: usize,
    /// /sys is a sysfs.
    pub sys_is_sysfs: bool,
    /// /sys is mounted read-only.
    pub sys_readonly: bool,
    /// Entries of /sys/class/net, sorted: the network devices of the
    /// namespace that mounted the sysfs.
    pub sys_net: Vec<String>,
    /// Entries of /dev, sorted.
    pub dev: Vec<String>,
    /// Entries of /dev beyond the minimal set a container gets.
    pub dev_extra: Vec<String>,
}

fn sorted_entries(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Looks at the sandbox's /proc, /sys and /dev; reads only.
pub fn view() -> MountView {
    let pid = nix::unistd::getpid().as_raw();
    let proc_self = match std::fs::read_link("/proc/self") {
        Ok(p) => p.display().to_string(),
        Err(e) => io_outcome::<()>(Err(e)),
    };
    let proc_pids = sorted_entries("/proc")
        .iter()
        .filter(|n| n.parse::<u32>().is_ok())
        .count();
    let sys_is_sysfs = nix::sys::statfs::statfs("/sys")
        .map(|s| s.filesystem_type() == nix::sys::statfs::SYSFS_MAGIC)
        .unwrap_or(false);
    let sys_readonly = nix::sys::statvfs::statvfs("/sys")
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false);
    let dev = sorted_entries("/dev");
    let dev_extra = dev
        .iter()
        .filter(|d| !SKELETON_DEVICES.contains(&d.as_str()))
        .cloned()
        .collect();
    MountView {
        pid,
        proc_is_own: proc_self == pid.to_string(),
        proc_self,
        proc_pids,
        sys_is_sysfs,
        sys_readonly,
        sys_net: sorted_entries("/sys/class/net"),
        dev,
        dev_extra,
    }
}

#[derive(Serialize, Debug)]
pub struct FindReport {
    /// `"ok"` or the errno of looking the host path up as it is.
    pub host_path: String,
    /// Every place the file was found: the path itself, or the path below
    /// any mount point the sandbox sees (an old root left mounted anywhere).
    pub found_at: Vec<String>,
    /// Mount points searched (from /proc/self/mountinfo).
    pub mount_points: usize,
}

/// Looks for a host file by its host path, in the sandbox's root and below
/// each of its mount points. Reads only.
pub fn find_host_file(path: &Path) -> FindReport {
    let host_path = io_outcome(std::fs::symlink_metadata(path));
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let points = mount_points(&text);
    let rel = path.strip_prefix("/").unwrap_or(path);
    let mut found_at: Vec<String> = points
        .iter()
        .map(|m| m.join(rel))
        .chain(std::iter::once(path.to_path_buf()))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .map(|p| p.display().to_string())
        .collect();
    found_at.sort();
    found_at.dedup();
    FindReport {
        host_path,
        found_at,
        mount_points: points.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
90 27 0:50 / /tmp/a\\040b rw - tmpfs tmpfs rw
91 90 0:51 / /tmp/a\\040b/inner rw - tmpfs tmpfs rw
";

    #[test]
    fn mount_points_are_unescaped() {
        let v = mount_points(MOUNTINFO);
        assert_eq!(
            v,
            ["/proc", "/", "/tmp/a b", "/tmp/a b/inner"].map(PathBuf::from)
        );
    }

    #[test]
    fn unescape_leaves_other_backslashes() {
        assert_eq!(unescape("a\\134b"), "a\\b");
        assert_eq!(unescape("a\\9"), "a\\9");
        assert_eq!(unescape("tail\\04"), "tail\\04");
    }
}
