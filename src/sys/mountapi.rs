//! The new mount API's calls an idmapped bind is made of: `open_tree(2)`
//! with `OPEN_TREE_CLONE` (a detached copy of a tree), `mount_setattr(2)`
//! with `MOUNT_ATTR_IDMAP` (the copy shows ids through a user namespace's
//! maps) and `move_mount(2)` (attaches the copy). A kernel without them
//! answers `ENOSYS`; a file system without idmap support `EINVAL`.

use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `open_tree`: clone the tree instead of opening it.
const OPEN_TREE_CLONE: libc::c_uint = 1;
/// `AT_RECURSIVE`: the whole subtree (mount_setattr, open_tree).
const AT_RECURSIVE: libc::c_uint = 0x8000;
/// `move_mount`: the source is the descriptor itself.
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
/// `mount_attr.attr_set`: read-only.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
/// `mount_attr.attr_set`: ids through `userns_fd`'s maps.
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

/// `struct mount_attr` (`MOUNT_ATTR_SIZE_VER0`).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn cpath(p: &Path) -> Result<CString, Errno> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

/// `open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
/// AT_RECURSIVE)`: a detached copy of the tree at `path`, in an anonymous
/// mount namespace that goes away with the descriptor.
pub fn open_tree_clone(path: &Path) -> Result<OwnedFd, Errno> {
    let c = cpath(path)?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | AT_RECURSIVE;
    // SAFETY: `c` is a NUL-terminated string that lives across the call;
    // the kernel only reads it. The return is a new descriptor or -1.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this descriptor and nothing else
    // owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as RawFd) })
}

/// `mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, attr)`: sets
/// `attr_set` on every mount of the detached tree, with `userns` as the
/// user namespace of `MOUNT_ATTR_IDMAP`.
pub fn mount_setattr(tree: &OwnedFd, attr_set: u64, userns: Option<RawFd>) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.map(|f| f as u64).unwrap_or(0),
    };
    let empty = c"";
    // SAFETY: `empty` is a static NUL-terminated string and `attr` a live
    // struct of the size passed; the kernel copies both before returning.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            empty.as_ptr(),
            (libc::AT_EMPTY_PATH as libc::c_uint) | AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// `move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH)`:
/// attaches a detached tree at `target`.
pub fn move_mount(tree: &OwnedFd, target: &Path) -> Result<(), Errno> {
    let c = cpath(target)?;
    let empty = c"";
    // SAFETY: both strings are NUL-terminated and live across the call;
    // the kernel only reads them.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_FDCWD,
            c.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// The name of the file system type holding `path`, from statfs(2)'s
/// magic number (`magic 0x…` for one not listed, `unknown` when statfs
/// fails): what an idmapped bind's refusal is about.
pub fn fs_type_name(path: &Path) -> String {
    const NAMES: &[(i64, &str)] = &[
        (0x0102_1994, "tmpfs"),
        (0xEF53, "ext4"),
        (0x5846_5342, "xfs"),
        (0x9123_683E, "btrfs"),
        (0x794C_7630, "overlayfs"),
        (0x0102_1997, "9p"),
        (0x6573_5546, "fuse"),
        (0x6969, "nfs"),
        (0x8584_58F6, "ramfs"),
        (0xF2F5_2010, "f2fs"),
        (0x7371_7368, "squashfs"),
    ];
    match nix::sys::statfs::statfs(path) {
        Ok(s) => {
            // f_type's width depends on the architecture.
            #[allow(clippy::unnecessary_cast)]
            let magic = s.filesystem_type().0 as i64;
            NAMES
                .iter()
                .find(|(m, _)| *m == magic)
                .map(|(_, n)| (*n).to_string())
                .unwrap_or_else(|| format!("magic {magic:#x}"))
        }
        Err(_) => "unknown".into(),
    }
}
