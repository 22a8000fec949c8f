//! The LSM system calls that need no securityfs: `lsm_list_modules(2)`
//! (Linux 6.8) and Landlock's ABI version query (Linux 5.13).

use nix::errno::Errno;

/// `lsm_list_modules` has number 461 on every architecture that uses the
/// common system call table (x86_64, aarch64, riscv64, ...).
const SYS_LSM_LIST_MODULES: libc::c_long = 461;
/// `LANDLOCK_CREATE_RULESET_VERSION`: ask for the ABI version instead of a
/// ruleset.
const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;

/// The ids of the active LSMs, in the order the kernel calls them
/// (`LSM_ID_*` of `<linux/lsm.h>`). `ENOSYS` before Linux 6.8.
pub fn lsm_list_modules() -> Result<Vec<u64>, Errno> {
    let mut ids = vec![0u64; 32];
    loop {
        let mut size: u32 = (ids.len() * std::mem::size_of::<u64>()) as u32;
        // SAFETY: `ids` is a writable array of `size` bytes and `size` is a
        // live u32; the kernel writes at most `size` bytes into `ids` and
        // the needed size into `size`.
        let ret = unsafe {
            libc::syscall(
                SYS_LSM_LIST_MODULES,
                ids.as_mut_ptr(),
                &mut size as *mut u32,
                0 as libc::c_uint,
            )
        };
        if ret >= 0 {
            ids.truncate(ret as usize);
            return Ok(ids);
        }
        match Errno::last() {
            Errno::E2BIG if ids.len() < 1024 => {
                let want = (size as usize).div_ceil(std::mem::size_of::<u64>());
                ids.resize(want.max(ids.len() * 2), 0);
            }
            e => return Err(e),
        }
    }
}

/// The Landlock ABI version the kernel offers; `EOPNOTSUPP` when Landlock
/// is built but not active, `ENOSYS` when it is not built.
pub fn landlock_abi_version() -> Result<u32, Errno> {
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag
    // the kernel reads no memory and returns a number or -1.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0 as libc::size_t,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret as u32)
    }
}
