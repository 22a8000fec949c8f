//! The one seam between the sandbox set-up and the kernel.
//!
//! `init` builds the sandbox through [`Syscall`] alone, so its order and its
//! error handling are unit-tested unprivileged against [`RecordingSyscall`],
//! which records every call and fails the ones it is told to.

use caps::{CapSet, Capability};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use std::path::{Path, PathBuf};

pub trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno>;
    fn chroot(&self, path: &Path) -> Result<(), Errno>;
    fn chdir(&self, path: &Path) -> Result<(), Errno>;
    /// mkdir -p.
    fn mkdir_all(&self, path: &Path) -> Result<(), Errno>;
    /// Creates an empty file (a bind mount target for a file source).
    fn create_file(&self, path: &Path) -> Result<(), Errno>;
    fn symlink(&self, target: &Path, link: &Path) -> Result<(), Errno>;
    /// What `path` is on the host: `None` if absent, else (is_dir, symlink target).
    fn lookup(&self, path: &Path) -> Option<(bool, Option<PathBuf>)>;
    /// The mount flags of the file system holding `path` that a remount
    /// must keep (nosuid, nodev, noexec, atime flags).
    fn locked_flags(&self, path: &Path) -> Result<MsFlags, Errno>;
    fn sethostname(&self, name: &str) -> Result<(), Errno>;
    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno>;
    fn setresgid(&self, gid: u32) -> Result<(), Errno>;
    fn setresuid(&self, uid: u32) -> Result<(), Errno>;
    fn keep_caps(&self, on: bool) -> Result<(), Errno>;
    fn read_caps(&self, set: CapSet) -> Result<Vec<Capability>, Errno>;
    fn drop_bounding(&self, cap: Capability) -> Result<(), Errno>;
    fn set_caps(&self, set: CapSet, caps: &[Capability]) -> Result<(), Errno>;
    fn set_no_new_privs(&self) -> Result<(), Errno>;
    /// unshare(2) of the calling process.
    fn unshare(&self, flags: nix::sched::CloneFlags) -> Result<(), Errno>;
    /// Installs a seccomp BPF filter on the calling thread.
    fn install_seccomp(&self, prog: &[seccompiler::sock_filter]) -> Result<(), Errno>;
}

/// The real kernel.
pub struct LinuxSyscall;

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        nix::mount::mount(source, target, fstype, flags, data)
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        nix::mount::umount2(target, flags)
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        nix::unistd::pivot_root(new_root, put_old)
    }
    fn chroot(&self, path: &Path) -> Result<(), Errno> {
        nix::unistd::chroot(path)
    }
    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        nix::unistd::chdir(path)
    }
    fn mkdir_all(&self, path: &Path) -> Result<(), Errno> {
        std::fs::create_dir_all(path).map_err(io_errno)
    }
    fn create_file(&self, path: &Path) -> Result<(), Errno> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map(drop)
            .map_err(io_errno)
    }
    fn symlink(&self, target: &Path, link: &Path) -> Result<(), Errno> {
        std::os::unix::fs::symlink(target, link).map_err(io_errno)
    }
    fn lookup(&self, path: &Path) -> Option<(bool, Option<PathBuf>)> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        if meta.file_type().is_symlink() {
            Some((false, std::fs::read_link(path).ok()))
        } else {
            Some((meta.is_dir(), None))
        }
    }
    fn locked_flags(&self, path: &Path) -> Result<MsFlags, Errno> {
        use nix::sys::statvfs::FsFlags;
        let f = nix::sys::statvfs::statvfs(path)?.flags();
        let mut out = MsFlags::empty();
        for (fs, ms) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(fs) {
                out |= ms;
            }
        }
        Ok(out)
    }
    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        nix::unistd::sethostname(name)
    }
    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno> {
        let g: Vec<nix::unistd::Gid> = gids
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&g)
    }
    fn setresgid(&self, gid: u32) -> Result<(), Errno> {
        let g = nix::unistd::Gid::from_raw(gid);
        nix::unistd::setresgid(g, g, g)
    }
    fn setresuid(&self, uid: u32) -> Result<(), Errno> {
        let u = nix::unistd::Uid::from_raw(uid);
        nix::unistd::setresuid(u, u, u)
    }
    fn keep_caps(&self, on: bool) -> Result<(), Errno> {
        nix::sys::prctl::set_keepcaps(on)
    }
    fn read_caps(&self, set: CapSet) -> Result<Vec<Capability>, Errno> {
        crate::sys::caps::read(set)
    }
    fn drop_bounding(&self, cap: Capability) -> Result<(), Errno> {
        crate::sys::caps::drop_bounding(cap)
    }
    fn set_caps(&self, set: CapSet, caps_list: &[Capability]) -> Result<(), Errno> {
        crate::sys::caps::set(set, caps_list)
    }
    fn set_no_new_privs(&self) -> Result<(), Errno> {
        nix::sys::prctl::set_no_new_privs()
    }
    fn unshare(&self, flags: nix::sched::CloneFlags) -> Result<(), Errno> {
        nix::sched::unshare(flags)
    }
    fn install_seccomp(&self, prog: &[seccompiler::sock_filter]) -> Result<(), Errno> {
        crate::sys::seccomp_set_filter(prog)
    }
}

pub fn io_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO)
}

/// A test double: records each call as a line and fails the calls whose
/// line starts with a prefix it was given.
#[cfg(test)]
#[derive(Default)]
pub struct RecordingSyscall {
    pub calls: std::cell::RefCell<Vec<String>>,
    pub failures: Vec<(String, Errno)>,
    /// Host paths that exist: path -> (is_dir, symlink target).
    pub host: std::collections::BTreeMap<PathBuf, (bool, Option<PathBuf>)>,
    pub caps: std::cell::RefCell<std::collections::BTreeMap<String, Vec<Capability>>>,
}

#[cfg(test)]
impl RecordingSyscall {
    pub fn failing(mut self, prefix: &str, errno: Errno) -> Self {
        self.failures.push((prefix.to_string(), errno));
        self
    }

    fn record(&self, line: String) -> Result<(), Errno> {
        let fail = self
            .failures
            .iter()
            .find(|(p, _)| line.starts_with(p.as_str()))
            .map(|(_, e)| *e);
        self.calls.borrow_mut().push(line);
        fail.map_or(Ok(()), Err)
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    /// Index of the first call starting with `prefix`.
    pub fn position(&self, prefix: &str) -> Option<usize> {
        self.calls
            .borrow()
            .iter()
            .position(|c| c.starts_with(prefix))
    }
}

#[cfg(test)]
impl Syscall for RecordingSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
        self.record(format!(
            "mount {} {} {} {} {}",
            source.map_or("-".into(), |s| s.display().to_string()),
            target.display(),
            fstype.unwrap_or("-"),
            names.join("|"),
            data.unwrap_or("-")
        ))
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        self.record(format!("umount2 {} {:?}", target.display(), flags))
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        self.record(format!(
            "pivot_root {} {}",
            new_root.display(),
            put_old.display()
        ))
    }
    fn chroot(&self, path: &Path) -> Result<(), Errno> {
        self.record(format!("chroot {}", path.display()))
    }
    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        self.record(format!("chdir {}", path.display()))
    }
    fn mkdir_all(&self, path: &Path) -> Result<(), Errno> {
        self.record(format!("mkdir {}", path.display()))
    }
    fn create_file(&self, path: &Path) -> Result<(), Errno> {
        self.record(format!("touch {}", path.display()))
    }
    fn symlink(&self, target: &Path, link: &Path) -> Result<(), Errno> {
        self.record(format!("symlink {} {}", target.display(), link.display()))
    }
    fn lookup(&self, path: &Path) -> Option<(bool, Option<PathBuf>)> {
        self.host.get(path).cloned()
    }
    fn locked_flags(&self, path: &Path) -> Result<MsFlags, Errno> {
        self.record(format!("statvfs {}", path.display()))?;
        Ok(MsFlags::MS_NOSUID | MsFlags::MS_NODEV)
    }
    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        self.record(format!("sethostname {name}"))
    }
    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno> {
        self.record(format!("setgroups {gids:?}"))
    }
    fn setresgid(&self, gid: u32) -> Result<(), Errno> {
        self.record(format!("setresgid {gid}"))
    }
    fn setresuid(&self, uid: u32) -> Result<(), Errno> {
        self.record(format!("setresuid {uid}"))
    }
    fn keep_caps(&self, on: bool) -> Result<(), Errno> {
        self.record(format!("keepcaps {on}"))
    }
    fn read_caps(&self, set: CapSet) -> Result<Vec<Capability>, Errno> {
        Ok(self
            .caps
            .borrow()
            .get(&format!("{set:?}"))
            .cloned()
            .unwrap_or_else(|| caps::all().into_iter().collect()))
    }
    fn drop_bounding(&self, cap: Capability) -> Result<(), Errno> {
        self.record(format!("drop Bounding {cap}"))
    }
    fn set_caps(&self, set: CapSet, caps_list: &[Capability]) -> Result<(), Errno> {
        let mut v: Vec<String> = caps_list.iter().map(|c| c.to_string()).collect();
        v.sort();
        self.record(format!("set {set:?} [{}]", v.join(",")))?;
        self.caps
            .borrow_mut()
            .insert(format!("{set:?}"), caps_list.to_vec());
        Ok(())
    }
    fn set_no_new_privs(&self) -> Result<(), Errno> {
        self.record("no_new_privs".into())
    }
    fn unshare(&self, flags: nix::sched::CloneFlags) -> Result<(), Errno> {
        let names: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
        self.record(format!("unshare {}", names.join("|")))
    }
    fn install_seccomp(&self, prog: &[seccompiler::sock_filter]) -> Result<(), Errno> {
        self.record(format!("seccomp {} instructions", prog.len()))
    }
}
