//! Seccomp user notification: a filter that hands one system call to a
//! supervisor (`SECCOMP_RET_USER_NOTIF`), installed with
//! `SECCOMP_FILTER_FLAG_NEW_LISTENER` so the kernel returns the listener
//! descriptor; the supervisor's side (receive, check the id is still
//! valid, answer); passing the listener over a unix socket
//! (`SCM_RIGHTS`); and whether the kernel knows the action at all.

use nix::errno::Errno;
use seccompiler::BpfProgram;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The errno the filter is first compiled with, then rewritten into the
/// user-notification action (seccompiler has no such action). No other
/// instruction of a one-rule filter returns it.
const PLACEHOLDER_ERRNO: u32 = 4000;

/// Compiles a filter for this machine's architecture that hands `call` to
/// the listener and allows every other call. The error names what is
/// wrong (an unknown call, an unsupported architecture).
pub fn compile(call: &str) -> Result<BpfProgram, String> {
    let arch = seccompiler::TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| format!("architecture {}: {e}", std::env::consts::ARCH))?;
    let doc = serde_json::json!({
        "notify": {
            "mismatch_action": "allow",
            "match_action": { "errno": PLACEHOLDER_ERRNO },
            "filter": [{ "syscall": call }],
        }
    });
    let mut map = seccompiler::compile_from_json(doc.to_string().as_bytes(), arch)
        .map_err(|e| format!("notify {call:?}: {e}"))?;
    let mut prog = map
        .remove("notify")
        .ok_or_else(|| "the compiler returned no filter".to_string())?;
    let placeholder = libc::SECCOMP_RET_ERRNO | PLACEHOLDER_ERRNO;
    let ret_k = (libc::BPF_RET | libc::BPF_K) as u16;
    let mut rewritten = 0;
    for insn in prog.iter_mut() {
        if insn.code == ret_k && insn.k == placeholder {
            insn.k = libc::SECCOMP_RET_USER_NOTIF;
            rewritten += 1;
        }
    }
    if rewritten == 0 {
        return Err(format!("notify {call:?}: the filter has no rule's return"));
    }
    Ok(prog)
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
/// prog)`: installs the filter on the calling thread and returns its
/// listener. Needs no_new_privs or CAP_SYS_ADMIN in the caller's user
/// namespace.
pub fn install_with_listener(prog: &[seccompiler::sock_filter]) -> Result<OwnedFd, Errno> {
    let fd = super::seccomp_set_filter_flags(prog, libc::SECCOMP_FILTER_FLAG_NEW_LISTENER)?;
    // SAFETY: with NEW_LISTENER a successful call returns a new
    // descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Whether the kernel knows the user-notification action:
/// `seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &SECCOMP_RET_USER_NOTIF)`, which
/// installs nothing. `EOPNOTSUPP`: the action is unknown; `EINVAL`: the
/// operation itself is.
pub fn user_notif_available() -> Result<(), Errno> {
    let action: u32 = libc::SECCOMP_RET_USER_NOTIF;
    // SAFETY: the kernel reads one u32 from `action`, which lives across
    // the call, and writes nothing.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL as libc::c_ulong,
            0 as libc::c_ulong,
            &action as *const u32,
        )
    };
    if ret != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// One notification as the supervisor received it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The kernel's cookie for the answer.
    pub id: u64,
    /// The caller's pid, in the supervisor's PID namespace (0 when the
    /// caller is not visible there).
    pub pid: u32,
    /// The system call's number.
    pub nr: i32,
}

/// `SECCOMP_IOCTL_NOTIF_RECV`: takes the next pending notification.
/// Blocks while none is pending: poll the listener for `POLLIN` first.
pub fn receive(listener: BorrowedFd<'_>) -> Result<Notification, Errno> {
    // SAFETY: seccomp_notif is plain integers; all zeroes is valid (and
    // the kernel requires the buffer zeroed).
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: the kernel writes one `struct seccomp_notif` into `n`, which
    // is exactly that size and lives across the call.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_RECV,
            &mut n as *mut libc::seccomp_notif,
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(Notification {
        id: n.id,
        pid: n.pid,
        nr: n.data.nr,
    })
}

/// `SECCOMP_IOCTL_NOTIF_ID_VALID`: the caller of notification `id` is
/// still waiting for its answer (`ENOENT` when it is gone).
pub fn id_valid(listener: BorrowedFd<'_>, id: u64) -> Result<(), Errno> {
    // SAFETY: the kernel reads one u64 from `id`, a live local.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &id as *const u64,
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// `SECCOMP_IOCTL_NOTIF_SEND`: the call of notification `id` returns
/// `val`, or fails with `error` when that is not 0.
pub fn answer(listener: BorrowedFd<'_>, id: u64, val: i64, error: i32) -> Result<(), Errno> {
    let mut resp = libc::seccomp_notif_resp {
        id,
        val,
        error: -error,
        flags: 0,
    };
    // SAFETY: the kernel reads one `struct seccomp_notif_resp` from
    // `resp`, a live local of exactly that layout.
    let ret = unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_SEND,
            &mut resp as *mut libc::seccomp_notif_resp,
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Sends `fd` over the unix socket `sock` (`SCM_RIGHTS`, one byte of data).
pub fn send_fd(sock: RawFd, fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: only borrowed for this one send; the caller keeps it open.
    let sock = unsafe { BorrowedFd::borrow_raw(sock) };
    super::fdpass::send(sock, b"L", &[fd])
}

/// Receives a descriptor sent with [`send_fd`]; `Ok(None)` when the peer
/// closed the socket without sending one.
pub fn recv_fd(sock: BorrowedFd<'_>) -> Result<Option<OwnedFd>, Errno> {
    let mut byte = [0u8; 1];
    Ok(super::fdpass::recv(sock, &mut byte)?.and_then(|(_, fds)| fds.into_iter().next()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_returns_the_notification_action() {
        let prog = compile("getpgid").unwrap();
        let ret_k = (libc::BPF_RET | libc::BPF_K) as u16;
        assert!(prog
            .iter()
            .any(|i| i.code == ret_k && i.k == libc::SECCOMP_RET_USER_NOTIF));
        assert!(!prog
            .iter()
            .any(|i| i.code == ret_k && i.k == libc::SECCOMP_RET_ERRNO | PLACEHOLDER_ERRNO));
        assert!(compile("getpgidx").unwrap_err().contains("getpgidx"));
    }

    #[test]
    fn a_descriptor_crosses_a_socket() {
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        use std::os::fd::AsFd;
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send_fd(a.as_raw_fd(), r.as_fd()).unwrap();
        let got = recv_fd(b.as_fd()).unwrap().expect("a descriptor");
        nix::unistd::write(&w, b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(nix::unistd::read(&got, &mut buf), Ok(1));
        drop(a);
        assert!(recv_fd(b.as_fd()).unwrap().is_none(), "closed: none");
    }
}
