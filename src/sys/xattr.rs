//! `getxattr(2)` and `fsetxattr(2)`: one extended attribute of a file (file
//! capabilities live in `security.capability`).

use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The value of attribute `name` of `path` (following symlinks), or `None`
/// when the file has no such attribute (`ENODATA`) or the file system
/// keeps none (`EOPNOTSUPP`).
pub fn getxattr(path: &Path, name: &str) -> Result<Option<Vec<u8>>, Errno> {
    let cpath = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    let cname = CString::new(name).map_err(|_| Errno::EINVAL)?;
    let mut buf = vec![0u8; 256];
    loop {
        // SAFETY: both strings are NUL-terminated and live across the call;
        // `buf` is a writable allocation of exactly `buf.len()` bytes, and
        // the kernel writes at most that many.
        let ret = unsafe {
            libc::getxattr(
                cpath.as_ptr(),
                cname.as_ptr(),
                buf.as_mut_ptr().cast::<libc::c_void>(),
                buf.len(),
            )
        };
        if ret >= 0 {
            buf.truncate(ret as usize);
            return Ok(Some(buf));
        }
        match Errno::last() {
            Errno::ENODATA | Errno::EOPNOTSUPP => return Ok(None),
            // The value grew past the buffer: ask for its size and retry.
            Errno::ERANGE if buf.len() < 1 << 16 => {
                let new_len = buf.len() * 4;
                buf.resize(new_len, 0);
            }
            e => return Err(e),
        }
    }
}

/// Sets attribute `name` of the open file `fd` to `value`.
pub fn fsetxattr(fd: impl AsFd, name: &str, value: &[u8]) -> Result<(), Errno> {
    let cname = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: `fd` is a descriptor borrowed for the call, so it stays open;
    // the name is NUL-terminated and lives across the call; `value` is a
    // readable slice of exactly `value.len()` bytes, which the kernel
    // copies before returning.
    let ret = unsafe {
        libc::fsetxattr(
            fd.as_fd().as_raw_fd(),
            cname.as_ptr(),
            value.as_ptr().cast::<libc::c_void>(),
            value.len(),
            0,
        )
    };
    if ret != 0 {
        return Err(Errno::last());
    }
    Ok(())
}
