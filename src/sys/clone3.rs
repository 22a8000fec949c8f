//! `clone3(2)` with fork semantics, and its `CLONE_INTO_CGROUP` flag: the
//! child is born in the cgroup a descriptor names, so no later write of
//! its pid to `cgroup.procs` has to move it (and nothing runs in the
//! child before it is there).

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::{CloneResult, SingleThreaded};

/// `CLONE_INTO_CGROUP` (linux/sched.h, Linux 5.7).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` up to its `cgroup` field (`CLONE_ARGS_SIZE_VER2`,
/// 88 bytes), as linux/sched.h lays it out.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// The errors that say this kernel has no `clone3` (`ENOSYS`), does not
/// know the `cgroup` field of its arguments (`E2BIG`) or the
/// `CLONE_INTO_CGROUP` flag (`EINVAL`): a caller falls back to a plain
/// clone and a move.
pub fn lacks_clone_into_cgroup(e: Errno) -> bool {
    matches!(e, Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL)
}

fn raw_clone3(args: &CloneArgs) -> Result<CloneResult, Errno> {
    // SAFETY: `args` points at a live, initialised `struct clone_args` of
    // exactly the size passed; the kernel only reads it. No stack is given,
    // so the child runs on a copy-on-write copy of this one, as after
    // fork(2); no pidfd, tid or set_tid pointer is set, so the kernel
    // writes to no memory of ours. Callers hold proof of one thread (or
    // make the child call only `_exit`), so no lock held by another thread
    // is copied into the child in a held state.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(CloneResult::Child),
        pid => Ok(CloneResult::Parent {
            child: Pid::from_raw(pid as i32),
        }),
    }
}

/// `clone3(2)` with fork semantics (no new stack, SIGCHLD on exit), the
/// given namespace flags and, with `cgroup`, `CLONE_INTO_CGROUP` into the
/// cgroup2 directory that descriptor names.
pub fn clone3_fork(
    _proof: SingleThreaded,
    flags: CloneFlags,
    cgroup: Option<BorrowedFd<'_>>,
) -> Result<CloneResult, Errno> {
    let mut args = CloneArgs {
        flags: flags.bits() as u32 as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    raw_clone3(&args)
}

/// Whether this kernel knows `clone3` with `CLONE_INTO_CGROUP`, asked
/// without making a process: the flag with a descriptor that is no cgroup
/// (`fd`, any open non-cgroup file) is refused with `EBADF` by a kernel
/// that knows it, before any child exists; `ENOSYS`, `E2BIG` or `EINVAL`
/// say it does not. Safe from a threaded process: should a kernel ever
/// make a child here, that child calls only `_exit`.
pub fn clone_into_cgroup_known(not_a_cgroup: BorrowedFd<'_>) -> Result<(), Errno> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: not_a_cgroup.as_raw_fd() as u64,
        ..Default::default()
    };
    match raw_clone3(&args) {
        Err(Errno::EBADF) => Ok(()),
        Err(e) => Err(e),
        Ok(CloneResult::Child) => super::exit_now(0),
        Ok(CloneResult::Parent { child }) => {
            let _ = waitpid(child, None);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_have_the_kernels_second_size() {
        // CLONE_ARGS_SIZE_VER2: the size that carries `cgroup`.
        assert_eq!(std::mem::size_of::<CloneArgs>(), 88);
    }

    #[test]
    fn only_an_unknown_call_field_or_flag_means_a_fallback() {
        for e in [Errno::ENOSYS, Errno::E2BIG, Errno::EINVAL] {
            assert!(lacks_clone_into_cgroup(e), "{e}");
        }
        for e in [Errno::EACCES, Errno::EBADF, Errno::EBUSY, Errno::EPERM] {
            assert!(!lacks_clone_into_cgroup(e), "{e}");
        }
    }

    #[test]
    fn a_file_that_is_no_cgroup_is_refused_before_any_child() {
        let f = std::fs::File::open("/proc/self/status").unwrap();
        use std::os::fd::AsFd;
        match clone_into_cgroup_known(f.as_fd()) {
            Ok(()) => {}
            Err(e) => assert!(lacks_clone_into_cgroup(e), "{e}"),
        }
    }
}
