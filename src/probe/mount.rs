//! Mount probes: a mount attempt, the sandbox's /proc, /sys and /dev, and a
//! search for a host file through every mount the sandbox can see.

use nix::mount::MsFlags;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::schema::{self, f, list, list_at, opt, rare_list_at, Field, Ty};
use super::Def;
use super::{io_outcome, outcome};
use crate::model::skeleton::SKELETON_DEVICES;
use crate::sys::mountinfo;

/// Mount points of a `/proc/<pid>/mountinfo` text, unescaped, in order.
pub fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo::entries(mountinfo)
        .into_iter()
        .map(|e| e.mount_point)
        .collect()
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
    /// The capability sets (`caps`) and what an exec gets (`exec_self`).
    #[serde(flatten)]
    pub caps: super::caps::CapsReport,
}

/// Makes `target` and mounts a small tmpfs on it.
pub fn mount_tmpfs(target: &Path, exec_self: bool) -> MountTmpfsReport {
    let caps = super::caps::report(exec_self);
    let mkdir = io_outcome(std::fs::create_dir_all(target));
    let mount = outcome(nix::mount::mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("size=64k"),
    ));
    MountTmpfsReport { mkdir, mount, caps }
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
    /// Every place the file was found: the path itself, the path below any
    /// mount point, after `..` from any mount point (`/tmp/../<path>`, as
    /// far up as `..` goes), or below `/proc/<pid>/root` and
    /// `/proc/<pid>/cwd` of any process the sandbox sees. At most
    /// [`FOUND_MAX`], sorted.
    pub found_at: Vec<String>,
    /// How many paths found it.
    pub found_count: usize,
    /// How many of those paths were tried.
    pub paths_tried: usize,
    /// Mount points searched (from /proc/self/mountinfo).
    pub mount_points: usize,
    /// The mount table's targets, in its order.
    pub mount_targets: Vec<String>,
    /// Mounts whose target is `/`: one (the new root) unless another root
    /// is stacked on it.
    pub root_mounts: usize,
    /// Targets that neither the skeleton root (its binds and devices) nor
    /// the row's `mounts` account for.
    pub unexpected_mounts: Vec<String>,
    /// The row's `mounts` the table lacks.
    pub missing_mounts: Vec<String>,
    /// Mount points whose `..` is another directory than their parent
    /// path: a mount stacked there leads out of the tree.
    pub dotdot_escapes: Vec<String>,
}

/// Paths [`FindReport::found_at`] lists at most.
pub const FOUND_MAX: usize = 32;

/// Device and inode of what `p` resolves to.
fn identity(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

/// `target` (of type `fstype`) is one the sandbox's root or the row's
/// mounts account for: `/`, a skeleton bind or below it (binds are
/// recursive), a skeleton device, the fresh tmpfs /dev of a tree's root, a
/// listed mount or below it.
fn accounted_for(target: &Path, fstype: &str, mounts: &[PathBuf]) -> bool {
    // A tree's /dev (or any mount point) may be a symbolic link that the
    // runtime followed inside the new root: the mount sits where it leads.
    let dev = resolved(Path::new("/dev"));
    target == Path::new("/")
        || ((target == Path::new("/dev") || target == dev) && fstype == "tmpfs")
        || crate::model::skeleton::SKELETON_BINDS
            .iter()
            .any(|b| target.starts_with(b))
        || SKELETON_DEVICES
            .iter()
            .any(|d| target == Path::new("/dev").join(d) || target == dev.join(d))
        || mounts
            .iter()
            .any(|m| target.starts_with(m) || target.starts_with(resolved(m)))
}

/// `p` with its symbolic links followed (as the runtime follows a mount
/// point's links inside the new root), or as it is when it does not exist.
fn resolved(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The symbolic links directly below / and where they lead.
fn root_links() -> Vec<(PathBuf, PathBuf)> {
    std::fs::read_dir("/")
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
                .filter_map(|e| {
                    let at = Path::new("/").join(e.file_name());
                    std::fs::canonicalize(&at).ok().map(|to| (at, to))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `m` (as given or where its links lead) is one of `points`.
fn named_in(m: &Path, points: &[PathBuf]) -> bool {
    let r = resolved(m);
    points.iter().any(|p| p == m || *p == r)
}

/// `target` is one of `list`, as given or where its links lead.
fn named(target: &Path, list: &[PathBuf]) -> bool {
    list.iter().any(|m| target == m || target == resolved(m))
}

/// `dir` followed by `..` `ups` times.
fn up(dir: &Path, ups: usize) -> PathBuf {
    let mut p = dir.to_path_buf();
    for _ in 0..ups {
        p.push("..");
    }
    p
}

/// Looks for a host file by its host path in every way a sandbox could
/// still reach its old root: as it is, below each mount point, after `..`
/// from each mount point (a root stacked on the new one is entered by
/// `..`), and through the `root` and `cwd` links of every process /proc
/// shows. Also checks the mount table against what the sandbox was given
/// (`mounts`, besides the skeleton). Reads only.
pub fn find_host_file(path: &Path, mounts: &[PathBuf]) -> FindReport {
    let host_path = io_outcome(std::fs::symlink_metadata(path));
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let points = mount_points(&text);
    let rel = path.strip_prefix("/").unwrap_or(path);
    let mut candidates: Vec<PathBuf> = vec![path.to_path_buf()];
    for m in &points {
        candidates.push(m.join(rel));
        // `..` as often as the mount point is deep, and once more.
        for ups in 1..=m.components().count() + 1 {
            candidates.push(up(m, ups).join(rel));
        }
    }
    let procs: Vec<String> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.parse::<u32>().is_ok() || n == "self" || n == "thread-self")
                .collect()
        })
        .unwrap_or_default();
    for p in &procs {
        for link in ["root", "cwd"] {
            candidates.push(Path::new("/proc").join(p).join(link).join(rel));
        }
    }
    let mut found_at: Vec<String> = candidates
        .iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .map(|p| p.display().to_string())
        .collect();
    found_at.sort();
    found_at.dedup();
    let found_count = found_at.len();
    found_at.truncate(FOUND_MAX);
    let dotdot_escapes = points
        .iter()
        .filter(|m| {
            let parent = m.parent().unwrap_or(Path::new("/"));
            match (identity(&m.join("..")), identity(parent)) {
                (Some(a), Some(b)) => a != b,
                _ => false,
            }
        })
        .map(|m| m.display().to_string())
        .collect();
    FindReport {
        host_path,
        found_at,
        found_count,
        paths_tried: candidates.len(),
        mount_points: points.len(),
        mount_targets: points.iter().map(|p| p.display().to_string()).collect(),
        root_mounts: points.iter().filter(|p| *p == Path::new("/")).count(),
        unexpected_mounts: mountinfo::entries(&text)
            .iter()
            .filter(|e| !accounted_for(&e.mount_point, &e.fstype, mounts))
            .map(|e| e.mount_point.display().to_string())
            .collect(),
        missing_mounts: mounts
            .iter()
            .filter(|m| !named_in(m, &points))
            .map(|m| m.display().to_string())
            .collect(),
        dotdot_escapes,
    }
}

/// File system types a sandbox makes instances of its own: they hold no
/// host file.
pub const OWN_FSTYPES: &[&str] = &[
    "tmpfs", "proc", "sysfs", "overlay", "devpts", "mqueue", "cgroup", "cgroup2",
];

/// One mount of the sandbox taken as a host file system.
#[derive(Serialize, Debug)]
pub struct HostMount {
    pub target: String,
    pub fstype: String,
    pub source: String,
    /// The directory of the source file system it shows.
    pub root: String,
    /// mountinfo says `ro` for the mount or its super block.
    pub readonly: bool,
    /// statvfs(2) of the target says ST_RDONLY (of the topmost mount there).
    pub statvfs_readonly: Option<bool>,
    /// `"ok"` or the errno of access(target, W_OK): `EROFS` on a read-only
    /// mount, `EACCES` where permissions refuse first.
    pub access: String,
}

#[derive(Serialize, Debug)]
pub struct HostWritableReport {
    /// Targets of mounts taken as host file systems, in mount table order.
    pub host_mounts: Vec<String>,
    /// Host mounts that are not read-only (mount or super block).
    pub rw_host_mounts: Vec<String>,
    /// Host mounts access(2) calls writable for this process.
    pub writable: Vec<String>,
    /// Skipped: the sandbox's own instances (a listed `own` target with a
    /// file system type of [`OWN_FSTYPES`]).
    pub own: Vec<String>,
    /// Skipped: character devices bound in (/dev/null ...).
    pub devices: Vec<String>,
    /// Skipped: the targets the row's sandbox binds writable.
    pub allowed: Vec<String>,
    pub mounts: Vec<HostMount>,
}

/// Every mount of the sandbox whose source is a host file system, read-only
/// or not. Writes nothing: asks mountinfo, statvfs(2) and access(2).
/// `own` names the targets of the sandbox's own tmpfs, proc and sysfs
/// instances (and its root), `writable` the binds the spec makes writable.
pub fn host_writable(own: &[PathBuf], writable: &[PathBuf]) -> HostWritableReport {
    use std::os::unix::fs::FileTypeExt;
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut r = HostWritableReport {
        host_mounts: Vec::new(),
        rw_host_mounts: Vec::new(),
        writable: Vec::new(),
        own: Vec::new(),
        devices: Vec::new(),
        allowed: Vec::new(),
        mounts: Vec::new(),
    };
    let links = root_links();
    for e in mountinfo::entries(&text) {
        // Named as the sandbox names it: a mount reached through a link
        // at the root (a tree's `/data -> ...`) by that link.
        let target = links
            .iter()
            .find(|(_, to)| *to == e.mount_point)
            .map(|(name, _)| name.display().to_string())
            .unwrap_or_else(|| e.mount_point.display().to_string());
        if named(&e.mount_point, own) && OWN_FSTYPES.contains(&e.fstype.as_str()) {
            r.own.push(target);
            continue;
        }
        if std::fs::symlink_metadata(&e.mount_point).is_ok_and(|m| m.file_type().is_char_device()) {
            r.devices.push(target);
            continue;
        }
        if named(&e.mount_point, writable) {
            r.allowed.push(target);
            continue;
        }
        let access = outcome(nix::unistd::access(
            &e.mount_point,
            nix::unistd::AccessFlags::W_OK,
        ));
        let m = HostMount {
            statvfs_readonly: nix::sys::statvfs::statvfs(&e.mount_point)
                .ok()
                .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY)),
            readonly: e.readonly(),
            access,
            target,
            fstype: e.fstype,
            source: e.source,
            root: e.root,
        };
        r.host_mounts.push(m.target.clone());
        if !m.readonly {
            r.rw_host_mounts.push(m.target.clone());
        }
        if m.access == "ok" {
            r.writable.push(m.target.clone());
        }
        r.mounts.push(m);
    }
    r
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `mount-tmpfs`: makes `target` and mounts a tmpfs on it; reports the
/// capability sets (and with `exec_self` what an exec gets).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MountTmpfsArgs {
    pub target: PathBuf,
    #[serde(default)]
    pub exec_self: bool,
}

impl Def for MountTmpfsArgs {
    type Output = MountTmpfsReport;
    fn run(&self) -> MountTmpfsReport {
        mount_tmpfs(&self.target, self.exec_self)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.mkdir", Ty::Outcome));
        v.push(f("probe.mount", Ty::Outcome));
        schema::caps(v, self.exec_self);
    }
    fn scratch_paths(&mut self) -> Vec<&mut PathBuf> {
        vec![&mut self.target]
    }
    fn execs_isocheck(&self) -> bool {
        self.exec_self
    }
    fn written_paths(&self) -> Vec<(&'static str, &Path)> {
        vec![("target", &self.target)]
    }
    fn mounts(&self) -> bool {
        true
    }
    fn may_write_scratch(&self) -> bool {
        true
    }
}

/// `mount-view`: the sandbox's /proc, /sys and /dev: whose they are,
/// read-only or not, which devices.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MountViewArgs {}

impl Def for MountViewArgs {
    type Output = MountView;
    fn run(&self) -> MountView {
        view()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.pid", Ty::SINT));
        v.push(f("probe.proc_self", Ty::Str));
        v.push(f("probe.proc_is_own", Ty::Bool));
        v.push(f("probe.proc_pids", Ty::UINT));
        v.push(f("probe.sys_is_sysfs", Ty::Bool));
        v.push(f("probe.sys_readonly", Ty::Bool));
        v.extend(list("probe.sys_net", Ty::Str));
        v.extend(list("probe.dev", Ty::Str));
        v.extend(list("probe.dev_extra", Ty::Str));
    }
}

/// `find-host-file`: looks for a host file by its host path
/// (`$SCRATCH/...`) by every path that could still reach the old root (as
/// it is, below and `..` from every mount point, through /proc/<pid>/root),
/// and checks the mount table against the skeleton and `mounts`, the
/// targets the row's sandbox mounts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FindHostFileArgs {
    pub path: PathBuf,
    #[serde(default)]
    pub mounts: Vec<PathBuf>,
}

impl Def for FindHostFileArgs {
    type Output = FindReport;
    fn run(&self) -> FindReport {
        find_host_file(&self.path, &self.mounts)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.host_path", Ty::Outcome));
        v.extend(list("probe.found_at", Ty::Str));
        v.push(f("probe.found_count", Ty::UINT));
        v.push(f("probe.paths_tried", Ty::UINT));
        v.push(f("probe.mount_points", Ty::UINT));
        v.extend(list("probe.mount_targets", Ty::Str));
        v.push(f("probe.root_mounts", Ty::UINT));
        v.extend(list("probe.unexpected_mounts", Ty::Str));
        // Empty unless the old root or a mount leaked.
        v.extend(rare_list_at("probe.missing_mounts".into(), Ty::Str));
        v.extend(rare_list_at("probe.dotdot_escapes".into(), Ty::Str));
    }
    fn scratch_paths(&mut self) -> Vec<&mut PathBuf> {
        vec![&mut self.path]
    }
}

/// `host-writable`: every mount whose source is a host file system,
/// whether it is read-only (mountinfo, statvfs) and what access(2) says of
/// writing it; skips the sandbox's `own` instances (tmpfs, proc, sysfs and
/// its root, by target), character devices and the `writable` binds.
/// Writes nothing.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HostWritableArgs {
    #[serde(default)]
    pub own: Vec<PathBuf>,
    #[serde(default)]
    pub writable: Vec<PathBuf>,
}

impl Def for HostWritableArgs {
    type Output = HostWritableReport;
    fn run(&self) -> HostWritableReport {
        host_writable(&self.own, &self.writable)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        for l in [
            "host_mounts",
            "rw_host_mounts",
            "writable",
            "own",
            "devices",
            "allowed",
        ] {
            v.extend(list_at(format!("probe.{l}"), Ty::Str));
        }
        v.extend(list("probe.mounts", Ty::Object));
        for k in ["target", "fstype", "source", "root"] {
            v.push(f(format!("probe.mounts.#.{k}"), Ty::Str));
        }
        v.push(f("probe.mounts.#.readonly", Ty::Bool));
        v.push(opt("probe.mounts.#.statvfs_readonly", Ty::Bool));
        v.push(f("probe.mounts.#.access", Ty::Outcome));
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
    fn dotdot_paths_climb_past_the_mount_point() {
        assert_eq!(up(Path::new("/proc"), 2), Path::new("/proc/../.."));
        let procs = ["/proc".into()];
        assert!(accounted_for(Path::new("/usr/lib"), "ext4", &[]));
        assert!(accounted_for(Path::new("/dev/null"), "devtmpfs", &[]));
        assert!(accounted_for(Path::new("/proc"), "proc", &procs));
        assert!(accounted_for(Path::new("/dev"), "tmpfs", &procs));
        assert!(!accounted_for(Path::new("/dev"), "devtmpfs", &procs));
        assert!(!accounted_for(Path::new("/sys"), "sysfs", &procs));
    }

    #[test]
    fn host_mounts_here_are_listed_and_nothing_is_written() {
        let r = host_writable(&["/proc".into(), "/sys".into()], &[]);
        assert!(r.own.contains(&"/proc".to_string()), "{r:?}");
        assert!(r.host_mounts.contains(&"/".to_string()), "{r:?}");
    }
}

#[derive(Serialize, Debug)]
pub struct ListmountReport {
    /// The host's mount namespace id reached the sandbox (the helper
    /// passes it in [`HOST_MNTNS_ID_ENV`]).
    ///
    /// [`HOST_MNTNS_ID_ENV`]: crate::model::names::HOST_MNTNS_ID_ENV
    pub host_ns_given: bool,
    /// `"ok"` or the errno of listmount(2) of the host's namespace.
    pub host: String,
    /// Mounts that listing gave.
    pub host_count: usize,
    /// `"ok"` or the errno of listmount(2) of the sandbox's own namespace,
    /// from its root and then below each mount found.
    pub own: String,
    /// `"ok"` or the first errno of statmount(2) of a mount found there.
    pub statmount: String,
    /// The legacy ids (mountinfo's first column) of the mounts found in
    /// its own namespace, sorted.
    pub own_ids: Vec<u32>,
    /// The ids of the sandbox's /proc/self/mountinfo, sorted.
    pub mountinfo_ids: Vec<u32>,
    /// Mounts listmount gave that the sandbox's mountinfo does not show:
    /// mounts that are not the sandbox's.
    pub own_unknown: Vec<u32>,
}

/// Every mount below the caller's root in its own namespace: listmount
/// from the root, then below each mount found (a kernel that lists only
/// the direct children gets the whole tree too).
fn own_mounts() -> Result<Vec<u64>, nix::errno::Errno> {
    use crate::sys::listmount::{listmount, LSMT_ROOT};
    let mut seen: std::collections::BTreeSet<u64> = std::collections::BTreeSet::new();
    let mut todo = listmount(LSMT_ROOT, 0)?;
    while let Some(id) = todo.pop() {
        if seen.insert(id) {
            todo.extend(listmount(id, 0)?);
        }
    }
    Ok(seen.into_iter().collect())
}

/// Lists the host's mount namespace (by the id the helper passed) and the
/// sandbox's own, and holds the latter against its mountinfo.
pub fn listmount_view() -> ListmountReport {
    use crate::sys::listmount::{listmount, mnt_id_old, LSMT_ROOT};
    let host_id = std::env::var(crate::model::names::HOST_MNTNS_ID_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let (host, host_count) = match host_id.map(|id| listmount(LSMT_ROOT, id)) {
        None => ("not tried".to_string(), 0),
        Some(Ok(ids)) => ("ok".to_string(), ids.len()),
        Some(Err(e)) => (format!("{e:?}"), 0),
    };
    let mut statmount = "ok".to_string();
    let (own, mut own_ids) = match own_mounts() {
        Ok(ids) => {
            let mut old = Vec::new();
            for id in ids {
                match mnt_id_old(id, 0) {
                    Ok(o) => old.push(o),
                    Err(e) if statmount == "ok" => statmount = format!("{e:?}"),
                    Err(_) => {}
                }
            }
            ("ok".to_string(), old)
        }
        Err(e) => (format!("{e:?}"), Vec::new()),
    };
    own_ids.sort_unstable();
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mountinfo_ids: Vec<u32> = mountinfo::entries(&text).iter().map(|e| e.id).collect();
    mountinfo_ids.sort_unstable();
    let own_unknown = own_ids
        .iter()
        .copied()
        .filter(|i| mountinfo_ids.binary_search(i).is_err())
        .collect();
    ListmountReport {
        host_ns_given: host_id.is_some(),
        host,
        host_count,
        own,
        statmount,
        own_ids,
        mountinfo_ids,
        own_unknown,
    }
}

/// `listmount`: listmount(2) of the host's mount namespace, named by its
/// id, and of the sandbox's own, held against its mountinfo. It only
/// reads.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ListmountArgs {}

impl Def for ListmountArgs {
    type Output = ListmountReport;
    fn run(&self) -> ListmountReport {
        listmount_view()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.host_ns_given", Ty::Bool));
        v.push(f("probe.host", Ty::Str));
        v.push(f("probe.host_count", Ty::UINT));
        v.push(f("probe.own", Ty::Outcome));
        v.push(f("probe.statmount", Ty::Outcome));
        v.extend(list("probe.own_ids", Ty::UINT));
        v.extend(list("probe.mountinfo_ids", Ty::UINT));
        v.extend(rare_list_at("probe.own_unknown".into(), Ty::UINT));
    }
}
