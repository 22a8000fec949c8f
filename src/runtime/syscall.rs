//! The one seam between the sandbox set-up and the kernel.
//!
//! `init` builds the sandbox through [`Syscall`] alone, so its order and its
//! error handling are unit-tested unprivileged against [`RecordingSyscall`],
//! which records every call as a typed [`Call`] and fails the ones it is
//! told to.

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
    /// An idmapped bind of `src` on `dst`: a detached clone of the tree
    /// (`open_tree`), given the user namespace `userns` and read-only when
    /// asked (`mount_setattr`), attached (`move_mount`). Without `userns`
    /// the clone is attached as it is. The error names the failing call.
    fn bind_idmapped(
        &self,
        src: &Path,
        dst: &Path,
        userns: Option<std::os::fd::RawFd>,
        readonly: bool,
    ) -> Result<(), (&'static str, Errno)>;
    /// Applies a Landlock ruleset allowing reads beneath `read` only.
    fn landlock_restrict_reads(&self, read: &[PathBuf]) -> Result<(), Errno>;
    /// Installs a seccomp BPF filter with a new listener and returns it.
    fn install_seccomp_listener(
        &self,
        prog: &[seccompiler::sock_filter],
    ) -> Result<std::os::fd::OwnedFd, Errno>;
    /// Sends a descriptor over the unix socket `sock` (`SCM_RIGHTS`).
    fn send_fd(
        &self,
        sock: std::os::fd::RawFd,
        fd: std::os::fd::BorrowedFd<'_>,
    ) -> Result<(), Errno>;
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
    fn bind_idmapped(
        &self,
        src: &Path,
        dst: &Path,
        userns: Option<std::os::fd::RawFd>,
        readonly: bool,
    ) -> Result<(), (&'static str, Errno)> {
        use crate::sys::mountapi;
        let tree = mountapi::open_tree_clone(src).map_err(|e| ("open_tree", e))?;
        let mut attr = if readonly {
            mountapi::MOUNT_ATTR_RDONLY
        } else {
            0
        };
        if userns.is_some() {
            attr |= mountapi::MOUNT_ATTR_IDMAP;
        }
        if attr != 0 {
            mountapi::mount_setattr(&tree, attr, userns).map_err(|e| ("mount_setattr", e))?;
        }
        mountapi::move_mount(&tree, dst).map_err(|e| ("move_mount", e))
    }
    fn landlock_restrict_reads(&self, read: &[PathBuf]) -> Result<(), Errno> {
        let paths: Vec<&Path> = read.iter().map(PathBuf::as_path).collect();
        crate::sys::landlock::restrict_reads_to(&paths)
    }
    fn install_seccomp_listener(
        &self,
        prog: &[seccompiler::sock_filter],
    ) -> Result<std::os::fd::OwnedFd, Errno> {
        crate::sys::seccomp_notify::install_with_listener(prog)
    }
    fn send_fd(
        &self,
        sock: std::os::fd::RawFd,
        fd: std::os::fd::BorrowedFd<'_>,
    ) -> Result<(), Errno> {
        crate::sys::seccomp_notify::send_fd(sock, fd)
    }
}

use crate::sys::io_errno;

/// One call the test double received, with its arguments as typed values.
#[cfg(test)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount2 {
        target: PathBuf,
        flags: MntFlags,
    },
    PivotRoot {
        new_root: PathBuf,
        put_old: PathBuf,
    },
    Chroot(PathBuf),
    Chdir(PathBuf),
    MkdirAll(PathBuf),
    CreateFile(PathBuf),
    Symlink {
        target: PathBuf,
        link: PathBuf,
    },
    /// `locked_flags`: the statvfs of the file system holding the path.
    LockedFlags(PathBuf),
    Sethostname(String),
    Setgroups(Vec<u32>),
    Setresgid(u32),
    Setresuid(u32),
    KeepCaps(bool),
    DropBounding(Capability),
    SetCaps {
        set: Set,
        caps: caps::CapsHashSet,
    },
    SetNoNewPrivs,
    Unshare(nix::sched::CloneFlags),
    /// The whole BPF program installed.
    InstallSeccomp(Vec<seccompiler::sock_filter>),
    /// An idmapped bind; `idmap`: a user namespace was given.
    BindIdmapped {
        source: PathBuf,
        target: PathBuf,
        idmap: bool,
        readonly: bool,
    },
    /// A Landlock ruleset allowing reads beneath these paths.
    LandlockRestrictReads(Vec<PathBuf>),
    /// The whole BPF program installed with a new listener.
    InstallSeccompListener(Vec<seccompiler::sock_filter>),
    /// A descriptor sent over the socket with this number.
    SendFd(std::os::fd::RawFd),
}

#[cfg(test)]
impl Call {
    /// A mount call, from borrowed arguments.
    pub fn mount(
        source: Option<&str>,
        target: &str,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> Self {
        Call::Mount {
            source: source.map(PathBuf::from),
            target: target.into(),
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        }
    }

    /// The target of a mount call; `None` for any other call.
    pub fn mount_target(&self) -> Option<&Path> {
        match self {
            Call::Mount { target, .. } => Some(target),
            _ => None,
        }
    }

    /// The flags of a mount call; `None` for any other call.
    pub fn mount_flags(&self) -> Option<MsFlags> {
        match self {
            Call::Mount { flags, .. } => Some(*flags),
            _ => None,
        }
    }

    /// Whether this is a mount of `source` (`None`: no source) onto
    /// `target`, whatever its type, flags and data.
    pub fn is_mount(&self, source: Option<&str>, target: &str) -> bool {
        matches!(self, Call::Mount { source: s, target: t, .. }
            if s.as_deref() == source.map(Path::new) && t == Path::new(target))
    }

    /// Every path the call names.
    pub fn paths(&self) -> Vec<&Path> {
        match self {
            Call::Mount { source, target, .. } => source
                .iter()
                .map(PathBuf::as_path)
                .chain([target.as_path()])
                .collect(),
            Call::Umount2 { target, .. } => vec![target],
            Call::PivotRoot { new_root, put_old } => vec![new_root, put_old],
            Call::Chroot(p)
            | Call::Chdir(p)
            | Call::MkdirAll(p)
            | Call::CreateFile(p)
            | Call::LockedFlags(p) => vec![p],
            Call::Symlink { target, link } => vec![target, link],
            Call::BindIdmapped { source, target, .. } => vec![source, target],
            _ => Vec::new(),
        }
    }
}

/// A capability set, as [`Call::SetCaps`] records it (`caps::CapSet` can
/// be neither compared nor ordered).
#[cfg(test)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Set {
    Ambient,
    Bounding,
    Effective,
    Inheritable,
    Permitted,
}

#[cfg(test)]
impl From<CapSet> for Set {
    fn from(set: CapSet) -> Self {
        match set {
            CapSet::Ambient => Set::Ambient,
            CapSet::Bounding => Set::Bounding,
            CapSet::Effective => Set::Effective,
            CapSet::Inheritable => Set::Inheritable,
            CapSet::Permitted => Set::Permitted,
        }
    }
}

/// Which calls a [`RecordingSyscall`] fails.
#[cfg(test)]
pub type CallFilter = Box<dyn Fn(&Call) -> bool>;

/// A test double: records each call as a [`Call`] and fails the calls that
/// a filter it was given accepts.
#[cfg(test)]
#[derive(Default)]
pub struct RecordingSyscall {
    pub calls: std::cell::RefCell<Vec<Call>>,
    pub failures: Vec<(CallFilter, Errno)>,
    /// Host paths that exist: path -> (is_dir, symlink target).
    pub host: std::collections::BTreeMap<PathBuf, (bool, Option<PathBuf>)>,
    /// What each capability set holds after `set_caps` (unset: all).
    pub caps: std::cell::RefCell<std::collections::BTreeMap<Set, Vec<Capability>>>,
}

#[cfg(test)]
impl RecordingSyscall {
    /// Fails every call `filter` accepts with `errno` (the call is still
    /// recorded).
    pub fn failing(mut self, filter: impl Fn(&Call) -> bool + 'static, errno: Errno) -> Self {
        self.failures.push((Box::new(filter), errno));
        self
    }

    fn record(&self, call: Call) -> Result<(), Errno> {
        let fail = self
            .failures
            .iter()
            .find(|(f, _)| f(&call))
            .map(|(_, e)| *e);
        self.calls.borrow_mut().push(call);
        fail.map_or(Ok(()), Err)
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// Index of the first call `filter` accepts.
    pub fn position(&self, filter: impl Fn(&Call) -> bool) -> Option<usize> {
        self.calls.borrow().iter().position(filter)
    }

    /// Index of the first call equal to `call`.
    pub fn index_of(&self, call: &Call) -> Option<usize> {
        self.position(|c| c == call)
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
        self.record(Call::Mount {
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(String::from),
            flags,
            data: data.map(String::from),
        })
    }
    fn umount2(&self, target: &Path, flags: MntFlags) -> Result<(), Errno> {
        self.record(Call::Umount2 {
            target: target.to_path_buf(),
            flags,
        })
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        self.record(Call::PivotRoot {
            new_root: new_root.to_path_buf(),
            put_old: put_old.to_path_buf(),
        })
    }
    fn chroot(&self, path: &Path) -> Result<(), Errno> {
        self.record(Call::Chroot(path.to_path_buf()))
    }
    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        self.record(Call::Chdir(path.to_path_buf()))
    }
    fn mkdir_all(&self, path: &Path) -> Result<(), Errno> {
        self.record(Call::MkdirAll(path.to_path_buf()))
    }
    fn create_file(&self, path: &Path) -> Result<(), Errno> {
        self.record(Call::CreateFile(path.to_path_buf()))
    }
    fn symlink(&self, target: &Path, link: &Path) -> Result<(), Errno> {
        self.record(Call::Symlink {
            target: target.to_path_buf(),
            link: link.to_path_buf(),
        })
    }
    fn lookup(&self, path: &Path) -> Option<(bool, Option<PathBuf>)> {
        self.host.get(path).cloned()
    }
    fn locked_flags(&self, path: &Path) -> Result<MsFlags, Errno> {
        self.record(Call::LockedFlags(path.to_path_buf()))?;
        Ok(MsFlags::MS_NOSUID | MsFlags::MS_NODEV)
    }
    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        self.record(Call::Sethostname(name.into()))
    }
    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno> {
        self.record(Call::Setgroups(gids.to_vec()))
    }
    fn setresgid(&self, gid: u32) -> Result<(), Errno> {
        self.record(Call::Setresgid(gid))
    }
    fn setresuid(&self, uid: u32) -> Result<(), Errno> {
        self.record(Call::Setresuid(uid))
    }
    fn keep_caps(&self, on: bool) -> Result<(), Errno> {
        self.record(Call::KeepCaps(on))
    }
    fn read_caps(&self, set: CapSet) -> Result<Vec<Capability>, Errno> {
        Ok(self
            .caps
            .borrow()
            .get(&Set::from(set))
            .cloned()
            .unwrap_or_else(|| caps::all().into_iter().collect()))
    }
    fn drop_bounding(&self, cap: Capability) -> Result<(), Errno> {
        self.record(Call::DropBounding(cap))
    }
    fn set_caps(&self, set: CapSet, caps_list: &[Capability]) -> Result<(), Errno> {
        self.record(Call::SetCaps {
            set: set.into(),
            caps: caps_list.iter().copied().collect(),
        })?;
        self.caps
            .borrow_mut()
            .insert(set.into(), caps_list.to_vec());
        Ok(())
    }
    fn set_no_new_privs(&self) -> Result<(), Errno> {
        self.record(Call::SetNoNewPrivs)
    }
    fn unshare(&self, flags: nix::sched::CloneFlags) -> Result<(), Errno> {
        self.record(Call::Unshare(flags))
    }
    fn install_seccomp(&self, prog: &[seccompiler::sock_filter]) -> Result<(), Errno> {
        self.record(Call::InstallSeccomp(prog.to_vec()))
    }
    fn bind_idmapped(
        &self,
        src: &Path,
        dst: &Path,
        userns: Option<std::os::fd::RawFd>,
        readonly: bool,
    ) -> Result<(), (&'static str, Errno)> {
        self.record(Call::BindIdmapped {
            source: src.to_path_buf(),
            target: dst.to_path_buf(),
            idmap: userns.is_some(),
            readonly,
        })
        .map_err(|e| ("mount_setattr", e))
    }
    fn landlock_restrict_reads(&self, read: &[PathBuf]) -> Result<(), Errno> {
        self.record(Call::LandlockRestrictReads(read.to_vec()))
    }
    fn install_seccomp_listener(
        &self,
        prog: &[seccompiler::sock_filter],
    ) -> Result<std::os::fd::OwnedFd, Errno> {
        self.record(Call::InstallSeccompListener(prog.to_vec()))?;
        // A descriptor stands in for the listener.
        std::fs::File::open("/dev/null")
            .map(Into::into)
            .map_err(io_errno)
    }
    fn send_fd(
        &self,
        sock: std::os::fd::RawFd,
        _fd: std::os::fd::BorrowedFd<'_>,
    ) -> Result<(), Errno> {
        self.record(Call::SendFd(sock))
    }
}
