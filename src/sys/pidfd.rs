//! Process descriptors beyond `pidfd_open` (in `sys`): signalling a
//! process through its pidfd, and waiting a bounded time for a blocked
//! signal (`sigtimedwait`), which is how a sandbox sees one arrive.

use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

/// `pidfd_send_signal(2)`: sends `sig` to the process `pidfd` refers to,
/// whatever PID namespace it lives in.
pub fn send_signal(pidfd: BorrowedFd<'_>, sig: Signal) -> Result<(), Errno> {
    // SAFETY: the descriptor and signal are passed by value, the siginfo
    // pointer is null (the kernel fills in its own) and flags are 0.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig as libc::c_int,
            std::ptr::null::<libc::siginfo_t>(),
            0 as libc::c_uint,
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// A signal taken by [`wait_signal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    pub signo: i32,
    /// The sender's pid as the receiver's PID namespace numbers it (0 for
    /// a sender outside it).
    pub sender_pid: i32,
}

/// `sigtimedwait(2)`: takes one of `set` (which the caller has blocked)
/// if it is pending or arrives within `timeout`; `EAGAIN` when none did.
pub fn wait_signal(set: &SigSet, timeout: Duration) -> Result<Received, Errno> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: siginfo_t is plain data; all zeroes is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: the set, the siginfo and the timespec are live locals of
        // the kernel's layouts; the kernel writes only into `info`.
        let ret = unsafe { libc::sigtimedwait(set.as_ref(), &mut info, &ts) };
        if ret >= 0 {
            // SAFETY: for a signal sent by a process (kill, pidfd) the
            // siginfo's pid field is the one filled in.
            let sender_pid = unsafe { info.si_pid() };
            return Ok(Received {
                signo: ret,
                sender_pid,
            });
        }
        match Errno::last() {
            Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_pending_is_eagain_after_the_timeout() {
        // A signal no one sends; blocked in this test thread only.
        let mut set = SigSet::empty();
        set.add(Signal::SIGWINCH);
        set.thread_block().unwrap();
        assert_eq!(
            wait_signal(&set, Duration::from_millis(10)),
            Err(Errno::EAGAIN)
        );
    }
}
