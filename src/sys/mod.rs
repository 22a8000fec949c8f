//! Layer 1 of the chain (**sys** -> model -> probe -> runtime -> host ->
//! suite -> report -> cli): it imports only crates; every layer may import
//! it.
//!
//! The only unsafe code in isocheck: thin wrappers over the system calls
//! nix does not cover, each with the condition that makes it sound; and
//! the codecs and writers of kernel formats: capability masks and
//! `security.capability` ([`vfscap`]), mountinfo ([`mountinfo`]), task
//! status ([`status`]), seccomp filters ([`seccomp`]), passwd lines
//! ([`passwd`]), and the one atomic file writer ([`outdir`]).

pub mod caps;
pub mod clone3;
pub mod fdpass;
pub mod landlock;
pub mod listmount;
pub mod lsm;
pub mod mountapi;
pub mod mountinfo;
pub mod outdir;
pub mod passwd;
pub mod pidfd;
pub mod seccomp;
pub mod seccomp_notify;
pub mod status;
pub mod vfscap;
pub mod xattr;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use std::os::fd::{FromRawFd, OwnedFd};

/// The errno an I/O error carries (`EIO` when it carries none).
pub fn io_errno(e: std::io::Error) -> Errno {
    e.raw_os_error().map(Errno::from_raw).unwrap_or(Errno::EIO)
}

/// What [`clone_fork`] returned in each process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneResult {
    Parent { child: Pid },
    Child,
}

/// Number of threads of this process: the link count of /proc/self/task,
/// which the kernel gives as 2 plus the number of threads
/// (`proc_task_getattr`). One `statx` instead of generating and reading
/// /proc/self/status (about 5 against 50 µs here): every sandbox a zygote
/// clones asks first.
pub fn thread_count() -> std::io::Result<usize> {
    use std::os::unix::fs::MetadataExt;
    let links = std::fs::metadata("/proc/self/task")?.nlink();
    usize::try_from(links)
        .ok()
        .and_then(|l| l.checked_sub(2))
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            std::io::Error::other(format!(
                "/proc/self/task has {links} links: no thread count (2 plus the threads)"
            ))
        })
}

/// `clone(2)` with fork semantics (no new stack, SIGCHLD on exit) and the
/// given namespace flags.
///
/// Refuses with `EDEADLK` unless this process has exactly one thread: after
/// a fork of a threaded process only async-signal-safe code may run in the
/// child, and a new user namespace cannot be made at all.
pub fn clone_fork(flags: CloneFlags) -> Result<CloneResult, Errno> {
    clone_fork_as(single_threaded()?, flags)
}

/// Proof that this process was found to have one thread. Threads are never
/// started by the code that holds it (the helper, its children).
#[derive(Clone, Copy, Debug)]
pub struct SingleThreaded(());

/// Checks, through /proc/self/status, that this process has one thread.
pub fn single_threaded() -> Result<SingleThreaded, Errno> {
    if thread_count().map_err(|_| Errno::EIO)? != 1 {
        return Err(Errno::EDEADLK);
    }
    Ok(SingleThreaded(()))
}

/// [`clone_fork`] with the check done beforehand: for a process whose
/// /proc/self no longer shows it (it entered a mount namespace whose /proc
/// belongs to another PID namespace).
pub fn clone_fork_as(_proof: SingleThreaded, flags: CloneFlags) -> Result<CloneResult, Errno> {
    let raw_flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: with a null stack pointer clone(2) behaves as fork(2): the
    // child runs on a copy-on-write copy of this stack. The process has one
    // thread (checked above), so no lock held by another thread is copied
    // into the child in a held state, and the child may run ordinary Rust.
    // glibc caches no pid since 2.25, so getpid() is right in the child.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            raw_flags,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
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

/// Asks the kernel for new namespaces of `flags` without a helper: a child
/// is cloned into them, exits at once and is reaped. `Ok` means the kernel
/// made every one; the error is its answer to the `clone(2)`.
///
/// The child shares this process's memory and runs nothing but its exit
/// (`CLONE_VM | CLONE_VFORK`, as posix_spawn does), with every signal
/// blocked, so this is sound in a process with threads. It cannot make a
/// time namespace (clone(2) has no flag for it) and refuses
/// `CLONE_NEWUSER` with `EINVAL`: a user namespace is usable only once it
/// has a map, which this child never gets. `ECHILD`: the child was not
/// there to reap, or did not exit 0.
pub fn try_namespaces(flags: CloneFlags) -> Result<(), Errno> {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow};
    use nix::sys::wait::{waitpid, WaitStatus};
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        return Err(Errno::EINVAL);
    }
    extern "C" fn exit_at_once(_: *mut libc::c_void) -> libc::c_int {
        0
    }
    // The child's stack: it only returns 0, which glibc's clone wrapper
    // passes to exit(2). 16-byte aligned at the top, as the ABI asks.
    let mut stack = vec![0u8; 16 * 1024];
    let top = (stack.as_mut_ptr() as usize + stack.len()) & !15;
    let raw = flags.bits() | libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
    let mut old = SigSet::empty();
    pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    )?;
    // SAFETY: the child runs `exit_at_once` on its own stack (`stack`,
    // alive until the clone returns: CLONE_VFORK holds this thread until
    // the child has exited), touches no memory and no lock, and cannot run
    // a signal handler on the shared memory: it inherits this thread's mask
    // with every signal blocked. The pointer argument is unused.
    let pid = unsafe {
        libc::clone(
            exit_at_once,
            top as *mut libc::c_void,
            raw,
            std::ptr::null_mut(),
        )
    };
    let cloned = if pid == -1 {
        Err(Errno::last())
    } else {
        Ok(pid)
    };
    pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None)?;
    drop(stack);
    let child = Pid::from_raw(cloned?);
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => return Ok(()),
            Ok(_) => return Err(Errno::ECHILD),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `pidfd_open(2)`: a descriptor that becomes readable when `pid` exits.
pub fn pidfd_open(pid: Pid) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and flags by value and returns a new
    // descriptor or -1; it touches no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0 as libc::c_uint) };
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this descriptor to us and nothing
    // else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(ret as i32) })
}

/// `pread(2)` on a descriptor known only by number (one inherited from the
/// helper, named in an environment variable): reads at `offset` without
/// moving the file position. A number that is not an open descriptor is
/// `EBADF`.
pub fn pread_raw(fd: std::os::fd::RawFd, buf: &mut [u8], offset: i64) -> Result<usize, Errno> {
    // SAFETY: the pointer and length describe `buf`, which is writable and
    // lives across the call; the kernel writes at most `buf.len()` bytes
    // into it. The descriptor is passed by value: a stale or foreign
    // number makes the call fail (EBADF, EINVAL), it cannot touch memory.
    let ret = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), offset) };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(ret as usize)
}

/// `_exit(2)`: ends the process at once, running no destructors or atexit
/// handlers (used by the sandbox child, which shares the parent's buffers).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, prog)`: installs a BPF filter on
/// the calling thread. Needs no_new_privs or CAP_SYS_ADMIN; it does not
/// set no_new_privs itself (the sandbox spec decides that).
pub fn seccomp_set_filter(prog: &[seccompiler::sock_filter]) -> Result<(), Errno> {
    seccomp_set_filter_flags(prog, 0).map(|_| ())
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`: the kernel's answer,
/// which some flags make a descriptor (`SECCOMP_FILTER_FLAG_NEW_LISTENER`).
pub(crate) fn seccomp_set_filter_flags(
    prog: &[seccompiler::sock_filter],
    flags: libc::c_ulong,
) -> Result<i64, Errno> {
    if prog.is_empty() || prog.len() > u16::MAX as usize {
        return Err(Errno::EINVAL);
    }
    let filter: Vec<libc::sock_filter> = prog
        .iter()
        .map(|f| libc::sock_filter {
            code: f.code,
            jt: f.jt,
            jf: f.jf,
            k: f.k,
        })
        .collect();
    let fprog = libc::sock_fprog {
        len: filter.len() as libc::c_ushort,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `filter`, a live allocation of exactly
    // `len` instructions in the kernel's `struct sock_filter` layout; the
    // kernel copies the program before returning and keeps no pointer.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(ret)
}

/// Whether this process runs in secure-execution mode (`AT_SECURE`): it was
/// exec'd setuid, setgid or with file capabilities.
pub fn at_secure() -> bool {
    // SAFETY: getauxval only reads the auxiliary vector the kernel gave the
    // process; it returns 0 for an absent entry.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// `shmget(2)` of an existing System V segment by key (no creation):
/// `Ok(id)` when this IPC namespace has it.
pub fn shm_lookup(key: i32) -> Result<i32, Errno> {
    // SAFETY: shmget takes integers by value and returns an id or -1.
    let id = unsafe { libc::shmget(key, 0, 0) };
    if id < 0 {
        Err(Errno::last())
    } else {
        Ok(id)
    }
}

/// Creates a small System V segment with `key` in this IPC namespace.
/// It lives as long as the namespace (the helper makes it only in a
/// throwaway one).
pub fn shm_create(key: i32) -> Result<i32, Errno> {
    // SAFETY: shmget takes integers by value and returns an id or -1.
    let id = unsafe { libc::shmget(key, 4096, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
    if id < 0 {
        Err(Errno::last())
    } else {
        Ok(id)
    }
}

/// Brings the loopback interface of this network namespace up.
pub fn loopback_up() -> Result<(), Errno> {
    let sock = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: ifreq is plain old data; zeroed is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *d = *s as libc::c_char;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags into `req`,
    // which lives across the call.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the union member ifru_flags is the one SIOCGIFFLAGS filled.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the name and flags from `req`.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Marks every descriptor from 3 up close-on-exec: what the invoking
/// environment left open (a shell's, a CI runner's, a test harness's pipe)
/// reaches no helper, zygote or sandbox this process starts, and so no
/// sandbox holds a descriptor of the host's. Called first, before this
/// process opens anything of its own; the descriptors stay open here.
pub fn close_inherited_on_exec() {
    // SAFETY: close_range(2) takes three integers and touches no memory;
    // with CLOSE_RANGE_CLOEXEC it only sets a flag on open descriptors.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        return;
    }
    // A kernel before 5.11: each open descriptor, as /proc lists them.
    let open: Vec<std::os::fd::RawFd> = std::fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd >= 3)
        .collect();
    for fd in open {
        // SAFETY: one fcntl(2) call on a descriptor number; on a number
        // that is no longer open (the listing's own) it fails with EBADF.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
}

/// The umask the caller gave, before [`reset_inherited_state`] (0 when it
/// was not called): the files made for the operator (reports) honour it.
static CALLER_UMASK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// The caller's umask (see [`CALLER_UMASK`]), for the modes of files and
/// directories made for the operator.
pub fn caller_umask() -> libc::mode_t {
    CALLER_UMASK.load(std::sync::atomic::Ordering::Relaxed)
}

/// Resets what a process inherits across exec that isocheck's verdicts
/// must not depend on: the umask to 022 (a caller's 077 made the work
/// directory and cgroups isocheck creates unreachable for the rootless
/// user, and a Landlock case failed falsely), SIGCHLD to its default
/// (a caller that ignores it has the kernel reap every child at once, so
/// that each wait fails with ECHILD), and removes `variables` from the
/// environment (the binary passes those the runtime sets for sandboxes,
/// `model::names::SANDBOX_VARIABLES`: a caller's `ISOCHECK_LESSER_OPENER=1`
/// made two cases blind probes), empties the ambient and inheritable
/// capability sets and clears unlocked securebits ([`caps::clear_inherited`]:
/// a caller's inheritable set made a rootful case fail falsely), and raises
/// low soft limits on the stack, file sizes, descriptors, processes,
/// message queues and pending signals to what the hard limits allow (a
/// 64 KiB stack made the main thread overflow and abort; a 1 KiB file size
/// had SIGXFSZ kill the run, with no word, as it copied itself for the
/// exec probes). Called first by every entry point but the exec probe's,
/// while the process has one thread. The reports still honour the caller's
/// umask ([`caller_umask`]).
pub fn reset_inherited_state(variables: &[&str]) {
    for name in variables {
        std::env::remove_var(name);
    }
    caps::clear_inherited();
    use nix::sys::resource::{Resource, RLIM_INFINITY};
    // The stack to the usual 8 MiB, not to an unlimited hard limit, which
    // would change how the sandboxes' execs lay out their memory.
    raise_soft_limit(Resource::RLIMIT_STACK, 8 << 20);
    raise_soft_limit(Resource::RLIMIT_FSIZE, RLIM_INFINITY);
    // Descriptors (12 made every case error), the rootless user's
    // processes (5 blinded the pids control) and POSIX message queue bytes
    // (0 made the ipc cases error).
    raise_soft_limit(Resource::RLIMIT_NOFILE, 1024);
    raise_soft_limit(Resource::RLIMIT_NPROC, RLIM_INFINITY);
    raise_soft_limit(Resource::RLIMIT_MSGQUEUE, RLIM_INFINITY);
    raise_soft_limit(Resource::RLIMIT_SIGPENDING, RLIM_INFINITY);
    if nix::sys::resource::getrlimit(Resource::RLIMIT_FSIZE)
        .is_ok_and(|(soft, _)| soft != RLIM_INFINITY)
    {
        // A hard limit on file sizes: a write past it fails with EFBIG,
        // which the step that wrote reports, instead of SIGXFSZ killing
        // the run without a word.
        // SAFETY: sets one signal's disposition to "ignore": no handler is
        // installed, so no code runs in signal context.
        unsafe {
            let _ = nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGXFSZ,
                nix::sys::signal::SigHandler::SigIgn,
            );
        }
    }
    let was = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
    CALLER_UMASK.store(was.bits(), std::sync::atomic::Ordering::Relaxed);
    // SAFETY: sets one signal's disposition to its default action: no
    // handler is installed, so no code runs in signal context.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGCHLD,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
}

/// The least stack isocheck's main thread runs on. A hard limit of 64 KiB
/// made a release build overflow and abort (`run`), where 96 KiB was
/// enough for `run`, `audit` and `matrix` with reports written; a debug
/// build (the tests') aborted in 4 of 6 runs at 256 KiB and in none of 6
/// at 384 KiB. About two and a half times that.
pub const MIN_STACK: u64 = 1 << 20;

/// The soft limit on the main thread's stack (RLIMIT_STACK), `None` when
/// it cannot be read or is unlimited.
pub fn stack_limit() -> Option<u64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_STACK)
        .ok()
        .map(|(soft, _)| soft)
        .filter(|&s| s != nix::sys::resource::RLIM_INFINITY)
}

/// Makes room for `need` descriptors beside those open now: raises the
/// soft limit on open descriptors (RLIMIT_NOFILE) as far as that takes and
/// the hard limit allows. `Err((hard, open))` when the hard limit leaves
/// less room: the hard limit and the descriptors open. Where neither can
/// be read, `Ok`: a shortage then shows as the step that met it.
pub fn room_for_descriptors(need: u64) -> Result<(), (u64, u64)> {
    use nix::sys::resource::Resource;
    let Ok((soft, hard)) = nix::sys::resource::getrlimit(Resource::RLIMIT_NOFILE) else {
        return Ok(());
    };
    // The listing's own descriptor is in it.
    let Ok(open) = std::fs::read_dir("/proc/self/fd").map(|d| d.count().saturating_sub(1) as u64)
    else {
        return Ok(());
    };
    let want = open.saturating_add(need);
    if want <= soft {
        return Ok(());
    }
    if want > hard {
        return Err((hard, open));
    }
    let _ = nix::sys::resource::setrlimit(Resource::RLIMIT_NOFILE, want, hard);
    Ok(())
}

/// Raises the soft limit on `resource` to `want`, or to the hard limit
/// when that is lower; never lowers it.
fn raise_soft_limit(resource: nix::sys::resource::Resource, want: u64) {
    if let Ok((soft, hard)) = nix::sys::resource::getrlimit(resource) {
        let target = want.min(hard);
        if soft < target {
            let _ = nix::sys::resource::setrlimit(resource, target, hard);
        }
    }
}

/// Closes every descriptor from 3 up but those in `keep`: for a process
/// forked from the runner (a zygote) that must hold nothing of the
/// runner's (its locks, its pipes to the work namespace holder, the
/// caller's descriptors) but its own. `Err` when the descriptors open
/// could not be listed (no close_range and no /proc): the caller must not
/// go on holding what it was to close.
pub fn close_all_but(keep: &[std::os::fd::RawFd]) -> Result<(), Errno> {
    let (keep, gaps) = close_gaps(keep);
    // SAFETY: close_range(2) takes three integers and touches no memory.
    // The descriptors it closes are owned by objects of the runner's that
    // this process never uses or drops (it ends with `exit_now`).
    let ranged = gaps.iter().all(|&(first, last)| unsafe {
        libc::syscall(libc::SYS_close_range, first, last, 0 as libc::c_uint) == 0
    });
    if ranged {
        return Ok(());
    }
    // A kernel before 5.9: each open descriptor, as /proc lists them.
    let listing = std::fs::read_dir("/proc/self/fd").map_err(io_errno)?;
    let open: Vec<libc::c_int> = listing
        .map(|e| e.map_err(io_errno))
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd: &libc::c_int| fd >= 3 && !keep.contains(&(fd as libc::c_uint)))
        .collect();
    for fd in open {
        // SAFETY: one close(2) on a descriptor number, owned as above; the
        // listing's own descriptor, closed already, fails with EBADF.
        unsafe {
            libc::close(fd);
        }
    }
    Ok(())
}

/// The descriptors of `keep` from 3 up, sorted, and the ranges between
/// them (inclusive, the last open-ended) that [`close_all_but`] closes.
fn close_gaps(
    keep: &[std::os::fd::RawFd],
) -> (Vec<libc::c_uint>, Vec<(libc::c_uint, libc::c_uint)>) {
    let mut keep: Vec<libc::c_uint> = keep
        .iter()
        .filter_map(|&fd| libc::c_uint::try_from(fd).ok())
        .filter(|&fd| fd >= 3)
        .collect();
    keep.sort_unstable();
    keep.dedup();
    let mut gaps = Vec::with_capacity(keep.len() + 1);
    let mut low: libc::c_uint = 3;
    for &k in &keep {
        if k > low {
            gaps.push((low, k - 1));
        }
        low = k.saturating_add(1);
    }
    gaps.push((low, libc::c_uint::MAX));
    (keep, gaps)
}

/// Lets `fd` survive into the program `cmd` runs, at the same number, in
/// that child only (it stays close-on-exec here and in every other child).
pub fn keep_fd_on_exec(cmd: &mut std::process::Command, fd: std::os::fd::RawFd) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec. It makes
    // one fcntl(2) call, which is async-signal-safe, allocates nothing and
    // touches no memory another thread could hold a lock on.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        });
    }
}

/// Takes ownership of a descriptor this process inherited at exec (named
/// by its parent, see [`keep_fd_on_exec`]), after checking it is open.
pub fn own_inherited_fd(fd: std::os::fd::RawFd) -> Result<OwnedFd, Errno> {
    if fd < 3 {
        return Err(Errno::EBADF);
    }
    nix::fcntl::fcntl(
        // SAFETY: only borrowed for this one F_GETFD call, which fails
        // with EBADF on a number that is not open.
        unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
        nix::fcntl::FcntlArg::F_GETFD,
    )?;
    // SAFETY: the descriptor is open (checked above), was handed to this
    // process for this purpose alone, and nothing else in it owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes the program `cmd` runs start in a mount namespace of its own, with
/// propagation private, in which the mount at `hide` is detached: a
/// program then sees the host without that mount, and the host keeps it.
/// (`isocheck bench` runs crun this way: crun refuses a hybrid cgroup
/// layout while the cgroup2 mount holds a controller.)
pub fn exec_without_mount(
    cmd: &mut std::process::Command,
    hide: &std::path::Path,
) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    let hide = std::ffi::CString::new(hide.as_os_str().as_bytes())?;
    // SAFETY: the closure runs in the child between fork and exec. It makes
    // only unshare(2), mount(2) and umount2(2) calls, which are
    // async-signal-safe, on C strings made before the fork (a literal and
    // `hide`, moved in); it allocates nothing and touches no memory another
    // thread could hold a lock on.
    unsafe {
        cmd.pre_exec(move || {
            if libc::unshare(libc::CLONE_NEWNS) == -1
                || libc::mount(
                    std::ptr::null(),
                    c"/".as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == -1
                || libc::umount2(hide.as_ptr(), libc::MNT_DETACH) == -1
            {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::close_gaps;

    /// Every descriptor from 3 up is in exactly one range, but those kept
    /// (and 0 to 2, never touched).
    #[test]
    fn the_ranges_closed_are_everything_from_3_but_what_is_kept() {
        let max = libc::c_uint::MAX;
        assert_eq!(close_gaps(&[]), (vec![], vec![(3, max)]));
        assert_eq!(
            close_gaps(&[9, 4, 1, 9, -1]),
            (vec![4, 9], vec![(3, 3), (5, 8), (10, max)])
        );
        assert_eq!(close_gaps(&[3, 4]), (vec![3, 4], vec![(5, max)]));
    }

    /// The `Threads:` line of /proc/self/status.
    fn threads_in_status() -> usize {
        std::fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    }

    /// The link count of /proc/self/task follows the threads as the
    /// kernel's own count in /proc/self/status does, up and down (the test
    /// harness's other threads come and go, so both are read while the
    /// threads started here are parked).
    #[test]
    fn the_thread_count_is_the_kernels() {
        use std::sync::{Arc, Barrier};
        for extra in [0usize, 1, 5] {
            let parked = Arc::new(Barrier::new(extra + 1));
            let done = Arc::new(Barrier::new(extra + 1));
            let threads: Vec<_> = (0..extra)
                .map(|_| {
                    let (parked, done) = (parked.clone(), done.clone());
                    std::thread::spawn(move || {
                        parked.wait();
                        done.wait();
                    })
                })
                .collect();
            parked.wait();
            // Other tests' threads may start or end between the two reads.
            let agreed = (0..50).any(|_| {
                let a = super::thread_count().unwrap();
                a == threads_in_status() && a > extra
            });
            done.wait();
            for t in threads {
                t.join().unwrap();
            }
            assert!(agreed, "with {extra} threads more");
        }
    }
}
