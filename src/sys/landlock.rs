//! Landlock rulesets: one that allows reading files and listing
//! directories beneath given paths only, applied to the calling thread
//! (landlock_create_ruleset(2), landlock_add_rule(2),
//! landlock_restrict_self(2)). The ABI version query is
//! [`super::lsm::landlock_abi_version`].

use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `LANDLOCK_RULE_PATH_BENEATH`.
const RULE_PATH_BENEATH: libc::c_int = 1;
/// `LANDLOCK_ACCESS_FS_READ_FILE`.
pub const ACCESS_FS_READ_FILE: u64 = 1 << 2;
/// `LANDLOCK_ACCESS_FS_READ_DIR`.
pub const ACCESS_FS_READ_DIR: u64 = 1 << 3;

/// `struct landlock_ruleset_attr` as ABI 1 defines it; the kernel accepts
/// a shorter struct than its own and treats the rest as zero.
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the kernel's UAPI).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// Restricts the calling thread (and what it starts later) to reading
/// files and listing directories beneath `read` only; everything else
/// Landlock handles is left alone. Needs no_new_privs or CAP_SYS_ADMIN in
/// the thread's user namespace. A path that cannot be opened is its
/// errno.
pub fn restrict_reads_to(read: &[&Path]) -> Result<(), Errno> {
    let handled = ACCESS_FS_READ_FILE | ACCESS_FS_READ_DIR;
    let attr = RulesetAttr {
        handled_access_fs: handled,
    };
    // SAFETY: `attr` is a live, initialised struct of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            std::mem::size_of::<RulesetAttr>(),
            0u32,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    for p in read {
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `c` is a NUL-terminated path that outlives the call.
        let pfd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if pfd < 0 {
            return Err(Errno::last());
        }
        // SAFETY: open returned a new descriptor that nothing else owns.
        let parent = unsafe { OwnedFd::from_raw_fd(pfd) };
        // A rule on a file may only carry file rights.
        let is_dir = std::fs::metadata(p).map(|m| m.is_dir()).unwrap_or(false);
        let rule = PathBeneathAttr {
            allowed_access: if is_dir { handled } else { ACCESS_FS_READ_FILE },
            parent_fd: parent.as_raw_fd(),
        };
        // SAFETY: `rule` is a live, initialised struct of the layout the
        // rule type names; both descriptors are open for the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                RULE_PATH_BENEATH,
                &rule as *const PathBeneathAttr,
                0u32,
            )
        };
        if r < 0 {
            return Err(Errno::last());
        }
    }
    // SAFETY: a ruleset descriptor and no flags; no memory is passed.
    let r = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_structs_have_the_kernels_layout() {
        assert_eq!(std::mem::size_of::<RulesetAttr>(), 8);
        assert_eq!(std::mem::size_of::<PathBeneathAttr>(), 12);
    }
}
