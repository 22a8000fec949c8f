//! listmount(2) and statmount(2): the mounts of a mount namespace by
//! their unique 64-bit ids, and one mount's legacy id (the first column of
//! mountinfo); and a mount namespace's id (`NS_GET_MNTNS_ID` on its nsfs
//! file), which names a foreign namespace in `mnt_id_req.mnt_ns_id`. A
//! kernel without the calls answers `ENOSYS`; one whose `mnt_id_req` has
//! no `mnt_ns_id` refuses the longer request (`E2BIG`).

use nix::errno::Errno;
use std::os::fd::AsRawFd;

/// `__NR_statmount` (the same on every architecture).
const SYS_STATMOUNT: libc::c_long = 457;
/// `__NR_listmount`.
const SYS_LISTMOUNT: libc::c_long = 458;
/// `LSMT_ROOT`: list from the root of the namespace (the caller's root in
/// its own).
pub const LSMT_ROOT: u64 = u64::MAX;
/// `STATMOUNT_MNT_BASIC`: the mount's ids.
const STATMOUNT_MNT_BASIC: u64 = 0x2;
/// `MNT_ID_REQ_SIZE_VER0`: without `mnt_ns_id`.
const MNT_ID_REQ_SIZE_VER0: u32 = 24;
/// `MNT_ID_REQ_SIZE_VER1`: with `mnt_ns_id`.
const MNT_ID_REQ_SIZE_VER1: u32 = 32;
/// `NS_GET_MNTNS_ID`: `_IOR(0xb7, 0x5, __u64)`.
const NS_GET_MNTNS_ID: libc::c_ulong = 0x8008_b705;
/// `NS_GET_MNTNS_ID` as its first declaration spelled it,
/// `_IO(0xb7, 0x5)`: tried when the other is unknown (`ENOTTY`).
const NS_GET_MNTNS_ID_IO: libc::c_ulong = 0xb705;
/// Offset of `mnt_id_old` in `struct statmount`.
const MNT_ID_OLD_AT: usize = 56;

/// `struct mnt_id_req`.
#[repr(C)]
struct MntIdReq {
    size: u32,
    spare: u32,
    mnt_id: u64,
    param: u64,
    mnt_ns_id: u64,
}

impl MntIdReq {
    /// A request about `mnt_id` in the namespace `ns` (0: the caller's),
    /// in the shortest form that can say it.
    fn new(mnt_id: u64, param: u64, ns: u64) -> Self {
        MntIdReq {
            size: if ns == 0 {
                MNT_ID_REQ_SIZE_VER0
            } else {
                MNT_ID_REQ_SIZE_VER1
            },
            spare: 0,
            mnt_id,
            param,
            mnt_ns_id: ns,
        }
    }
}

/// The id of the mount namespace whose nsfs file `ns` is open
/// (`/proc/<pid>/ns/mnt`).
pub fn mntns_id(ns: &std::fs::File) -> Result<u64, Errno> {
    let ask = |request: libc::c_ulong| {
        let mut id: u64 = 0;
        // SAFETY: NS_GET_MNTNS_ID writes one u64 through the pointer,
        // which points at `id`, live and writable across the call.
        let ret = unsafe { libc::ioctl(ns.as_raw_fd(), request, &mut id as *mut u64) };
        if ret < 0 {
            Err(Errno::last())
        } else {
            Ok(id)
        }
    };
    match ask(NS_GET_MNTNS_ID) {
        Err(Errno::ENOTTY) => ask(NS_GET_MNTNS_ID_IO),
        other => other,
    }
}

/// Every mount below `mnt_id` (`LSMT_ROOT`: the root) in the namespace
/// `ns` (0: the caller's), as listmount(2) gives them, page by page.
pub fn listmount(mnt_id: u64, ns: u64) -> Result<Vec<u64>, Errno> {
    const PAGE: usize = 256;
    let mut out = Vec::new();
    let mut last = 0u64;
    loop {
        let req = MntIdReq::new(mnt_id, last, ns);
        let mut ids = [0u64; PAGE];
        // SAFETY: `req` is a live request of the size it states; `ids`
        // holds PAGE u64s and the kernel writes at most that many.
        let ret = unsafe {
            libc::syscall(
                SYS_LISTMOUNT,
                &req as *const MntIdReq,
                ids.as_mut_ptr(),
                PAGE,
                0 as libc::c_uint,
            )
        };
        if ret < 0 {
            return Err(Errno::last());
        }
        let n = ret as usize;
        out.extend_from_slice(&ids[..n]);
        match ids[..n].last() {
            Some(l) if n == PAGE => last = *l,
            _ => return Ok(out),
        }
    }
}

/// The legacy id (mountinfo's first column) of the mount `mnt_id` in the
/// namespace `ns` (0: the caller's), from statmount(2).
pub fn mnt_id_old(mnt_id: u64, ns: u64) -> Result<u32, Errno> {
    let req = MntIdReq::new(mnt_id, STATMOUNT_MNT_BASIC, ns);
    // `struct statmount` is 512 bytes; u64s keep the buffer aligned.
    let mut buf = [0u64; 128];
    // SAFETY: `req` is a live request of the size it states; `buf` is
    // writable for the byte length passed, which the kernel does not
    // exceed.
    let ret = unsafe {
        libc::syscall(
            SYS_STATMOUNT,
            &req as *const MntIdReq,
            buf.as_mut_ptr(),
            std::mem::size_of_val(&buf),
            0 as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    let word = buf[MNT_ID_OLD_AT / 8];
    // Little or big endian, `mnt_id_old` is the first u32 of that u64 in
    // memory order.
    let bytes = word.to_ne_bytes();
    Ok(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}
