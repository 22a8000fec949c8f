//! The calling thread's capability sets through capget/capset and prctl,
//! failing with the kernel's errno. (The `caps` crate keeps the errno only
//! inside its error messages.)

use caps::{CapSet, Capability};
use nix::errno::Errno;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`, one per 32-bit word.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn capget() -> Result<[Data; 2], Errno> {
    let mut hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: `hdr` is a valid version-3 header for the calling thread and
    // `data` is the two-element array version 3 writes; both outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut hdr as *mut Header, data.as_mut_ptr()) };
    Errno::result(r).map(|_| data)
}

fn capset(data: &[Data; 2]) -> Result<(), Errno> {
    let mut hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    // SAFETY: as in `capget`; the kernel only reads `data`.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut Header, data.as_ptr()) };
    Errno::result(r).map(drop)
}

/// `prctl(op, arg2, arg3, 0, 0)` with integer arguments.
fn prctl(op: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> Result<i32, Errno> {
    // SAFETY: the capability prctls used here take integer arguments only
    // and touch no memory of the caller.
    let r = unsafe { libc::prctl(op, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    Errno::result(r)
}

/// The word of `set` in one element of the capget data.
fn word(d: &mut Data, set: CapSet) -> Result<&mut u32, Errno> {
    match set {
        CapSet::Effective => Ok(&mut d.effective),
        CapSet::Permitted => Ok(&mut d.permitted),
        CapSet::Inheritable => Ok(&mut d.inheritable),
        CapSet::Bounding | CapSet::Ambient => Err(Errno::EINVAL),
    }
}

/// Whether a prctl query answered yes (1) or no (0).
fn yes(r: i32) -> Result<bool, Errno> {
    match r {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Errno::EINVAL),
    }
}

/// Whether the calling thread can do what a rootful runner does: uid 0
/// with CAP_SYS_ADMIN and CAP_SYS_CHROOT effective (mount namespaces,
/// mounts, namespaces made in-process, and entering the run's mount
/// namespace, which needs both). Uid 0 without them, as in a container's
/// default confinement, is served as an unprivileged user is: its work
/// directory is a plain directory and its rootful cases are skipped by
/// their `root` requirement.
pub fn privileged() -> bool {
    nix::unistd::geteuid().is_root()
        && effective_has(&[Capability::CAP_SYS_ADMIN, Capability::CAP_SYS_CHROOT])
}

/// Whether every one of `caps` is in the calling thread's effective set.
fn effective_has(caps: &[Capability]) -> bool {
    let want = caps.iter().fold(0u64, |m, c| m | c.bitmask());
    capget()
        .is_ok_and(|d| (u64::from(d[1].effective) << 32 | u64::from(d[0].effective)) & want == want)
}

/// Empties the calling thread's ambient and inheritable sets and clears
/// its securebits that are not locked: a caller's, passed on through exec
/// (`setpriv --inh-caps`, `capsh --secbits`), reached every sandbox the
/// runtime built without a set of its own, and a case that checks those
/// sets failed for the caller's sake.
pub fn clear_inherited() {
    let _ = prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        0,
    );
    if read(CapSet::Inheritable).is_ok_and(|i| !i.is_empty()) {
        let _ = set(CapSet::Inheritable, &[]);
    }
    if let Ok(bits) = prctl(libc::PR_GET_SECUREBITS, 0, 0) {
        // The lock bits are the odd ones: a locked bit stays as it is.
        let locked = (bits as libc::c_ulong) & 0xaa;
        let keep = (bits as libc::c_ulong) & (locked >> 1 | locked);
        if bits as libc::c_ulong != keep {
            let _ = prctl(libc::PR_SET_SECUREBITS, keep, 0);
        }
    }
}

/// The capabilities in `set` of the calling thread.
pub fn read(set: CapSet) -> Result<Vec<Capability>, Errno> {
    match set {
        CapSet::Bounding => caps::all()
            .into_iter()
            .filter_map(|c| {
                prctl(libc::PR_CAPBSET_READ, c.index().into(), 0)
                    .and_then(yes)
                    .map(|on| on.then_some(c))
                    .transpose()
            })
            .collect(),
        CapSet::Ambient => caps::runtime::thread_all_supported()
            .into_iter()
            .filter_map(|c| {
                prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_IS_SET as libc::c_ulong,
                    c.index().into(),
                )
                .and_then(yes)
                .map(|on| on.then_some(c))
                .transpose()
            })
            .collect(),
        _ => {
            let mut data = capget()?;
            let lo = u64::from(*word(&mut data[0], set)?);
            let hi = u64::from(*word(&mut data[1], set)?);
            let mask = hi << 32 | lo;
            Ok(caps::all()
                .into_iter()
                .filter(|c| mask & c.bitmask() != 0)
                .collect())
        }
    }
}

/// Drops `cap` from the calling thread's bounding set (needs CAP_SETPCAP).
pub fn drop_bounding(cap: Capability) -> Result<(), Errno> {
    prctl(libc::PR_CAPBSET_DROP, cap.index().into(), 0).map(drop)
}

/// Makes `set` of the calling thread exactly `list`. The bounding set can
/// only be dropped from ([`drop_bounding`]): EINVAL.
pub fn set(set: CapSet, list: &[Capability]) -> Result<(), Errno> {
    match set {
        CapSet::Bounding => Err(Errno::EINVAL),
        CapSet::Ambient => {
            for c in caps::runtime::thread_all_supported() {
                let op = if list.contains(&c) {
                    libc::PR_CAP_AMBIENT_RAISE
                } else {
                    libc::PR_CAP_AMBIENT_LOWER
                };
                prctl(libc::PR_CAP_AMBIENT, op as libc::c_ulong, c.index().into())?;
            }
            Ok(())
        }
        _ => {
            let mask = list.iter().fold(0u64, |m, c| m | c.bitmask());
            let mut data = capget()?;
            *word(&mut data[0], set)? = mask as u32;
            *word(&mut data[1], set)? = (mask >> 32) as u32;
            capset(&data)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sets_read_here_are_those_the_caps_crate_reads() {
        for set in [
            CapSet::Effective,
            CapSet::Permitted,
            CapSet::Inheritable,
            CapSet::Bounding,
            CapSet::Ambient,
        ] {
            let mut ours = read(set).unwrap();
            ours.sort_by_key(|c| c.index());
            let mut theirs: Vec<Capability> = caps::read(None, set).unwrap().into_iter().collect();
            theirs.sort_by_key(|c| c.index());
            assert_eq!(ours, theirs, "{set:?}");
        }
    }

    #[test]
    fn the_bounding_set_is_not_written_whole() {
        assert_eq!(set(CapSet::Bounding, &[]), Err(Errno::EINVAL));
    }
}
