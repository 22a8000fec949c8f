//! The work directory of one run, and how one run is told from another.
//!
//! The work directory holds setuid and file-capability copies of isocheck
//! (for the exec probes), so it must not outlive the run, whatever ends it.
//! As root it is a tmpfs mounted in a private mount namespace held by a
//! small single-threaded holder process ([`holder_main`]; forked by a
//! runner that has one thread, started as `isocheck __workns` by one that
//! has more, and named `isocheck-workns` either way; a forked holder keeps
//! none of the runner's descriptors): the host sees only an empty, locked
//! mount point. The runner reaches the tmpfs through
//! `/proc/<holder>/root`, and each helper enters the namespace through a
//! handle the runner passes it. The holder exits when the runner's end of its
//! stdin closes, which happens when the runner dies however it dies; the
//! namespace, and with it the tmpfs and every copy on it, is gone once the
//! last helper and sandbox in it (each killed by its parent-death signal)
//! have exited. Without root no privileged copy can be made, and the work
//! directory is a plain directory.
//!
//! A run is identified by its tag, never by a pid (a pid means nothing in
//! another PID namespace): the run holds an exclusive `flock` on its work
//! directory's mount point and on a lock cgroup `isocheck/<tag>.run` in one
//! hierarchy every run on the host agrees on. What another run left is
//! removed only when its lock can be taken, that is when no live process
//! holds it, in whatever namespace that process is.

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::cgroups::{self, ControllerHome};
use crate::model::cgroup::Layout;

/// The argument that turns isocheck's binary into the work namespace holder.
pub const WORKNS_ARG: &str = "__workns";
/// Tells a helper which inherited descriptor is the work mount namespace.
pub const WORK_NS_FD_ENV: &str = "ISOCHECK_WORK_NS_FD";
/// Where work directories go first (else the temp directory, /var/tmp).
pub const WORK_DIR_ENV: &str = "ISOCHECK_WORK_DIR";
/// An optional name put in front of the run's tag, so a caller can find
/// what its own run made (`<name>_<16 hex digits>`).
pub const RUN_ID_ENV: &str = "ISOCHECK_RUN_ID";

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error("{var}={value:?}: {why}")]
    Env {
        var: &'static str,
        value: String,
        why: String,
    },
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the work namespace holder (isocheck __workns): {0}")]
    Holder(String),
    #[error(
        "/proc belongs to another PID namespace (/proc/self names {shown}, this process is \
         {pid}): the sandboxes' pids could not be read there. Run isocheck with a proc of its \
         own PID namespace (`unshare --pid --fork --mount-proc`, or `mount -t proc proc /proc` \
         in a mount namespace of its own)"
    )]
    ForeignProc { pid: i32, shown: String },
}

/// What the holder said, with the likely cause when a seccomp filter may
/// have refused the mount namespace it needs (a container's default
/// confinement): nothing can run without one. (A root runner without
/// CAP_SYS_ADMIN never starts a holder: it is served as an unprivileged
/// user is.)
fn with_cause(said: String) -> String {
    if !said.contains("unshare(CLONE_NEWNS)") {
        return said;
    }
    let filtered = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| crate::sys::status::parse_status(&s).seccomp == Some(2));
    if !filtered {
        return said;
    }
    format!(
        "{said}: isocheck runs under a seccomp filter that may refuse it, as in a container's default confinement; run it with no seccomp filter (e.g. `docker run --privileged`)"
    )
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WorkError + 'a {
    move |source| WorkError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Checks the environment variables isocheck reads, before anything runs:
/// `ISOCHECK_WORK_DIR` must name an existing directory, `ISOCHECK_RUN_ID`
/// be 1 to 32 letters or digits.
pub fn check_env() -> Result<(), WorkError> {
    if let Some(v) = std::env::var_os(WORK_DIR_ENV) {
        let value = v.to_string_lossy().into_owned();
        let why = match std::fs::metadata(&v) {
            Ok(m) if m.is_dir() => None,
            Ok(_) => Some("not a directory".to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = why {
            return Err(WorkError::Env {
                var: WORK_DIR_ENV,
                value,
                why,
            });
        }
    }
    if let Some(v) = std::env::var_os(RUN_ID_ENV) {
        let value = v.to_string_lossy().into_owned();
        if value.is_empty() || value.len() > 32 || !value.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(WorkError::Env {
                var: RUN_ID_ENV,
                value,
                why: "must be 1 to 32 letters or digits".into(),
            });
        }
    }
    Ok(())
}

/// Checks that /proc shows this process's own PID namespace: every pid
/// the runtime reads there (its children, an escaped task's cgroup) and
/// every pid it signals must be one number. A runner started in a PID
/// namespace of its own without a /proc of it would read another
/// namespace's pids and judge from them.
pub fn check_proc() -> Result<(), WorkError> {
    let pid = nix::unistd::getpid().as_raw();
    let shown = std::fs::read_link("/proc/self")
        .map(|l| l.display().to_string())
        .unwrap_or_else(|e| e.to_string());
    if shown == pid.to_string() {
        Ok(())
    } else {
        Err(WorkError::ForeignProc { pid, shown })
    }
}

/// Where work directories go: the first of `$ISOCHECK_WORK_DIR`, the temp
/// directory and /var/tmp that is writable (and, without root, allows
/// setuid: as root the work directory is a private tmpfs that does).
pub fn work_base() -> PathBuf {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let root = crate::sys::caps::privileged();
    let candidates = std::env::var_os(WORK_DIR_ENV)
        .map(PathBuf::from)
        .into_iter()
        .chain([std::env::temp_dir(), PathBuf::from("/var/tmp")]);
    for c in candidates {
        let usable = statvfs(&c).is_ok_and(|st| {
            (root || !st.flags().contains(FsFlags::ST_NOSUID))
                && !st.flags().contains(FsFlags::ST_RDONLY)
        }) && nix::unistd::access(&c, nix::unistd::AccessFlags::W_OK).is_ok();
        if usable {
            return std::fs::canonicalize(&c).unwrap_or(c);
        }
    }
    std::env::temp_dir()
}

/// A fresh tag: `[<run id>_]<16 hex digits>`.
fn new_tag() -> Result<String, WorkError> {
    let mut b = [0u8; 8];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom")
            .map_err(io_err("reading", Path::new("/dev/urandom")))?,
        &mut b,
    )
    .map_err(io_err("reading", Path::new("/dev/urandom")))?;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(match std::env::var(RUN_ID_ENV) {
        Ok(id) if !id.is_empty() => format!("{id}_{hex}"),
        _ => hex,
    })
}

/// Whether `tag` has the shape [`new_tag`] gives. Names of any other shape
/// (other programs', older isocheck versions') are never touched.
pub fn is_tag(tag: &str) -> bool {
    let hex = match tag.rsplit_once('_') {
        Some((id, hex)) => {
            if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return false;
            }
            hex
        }
        None => tag,
    };
    hex.len() == 16
        && hex
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

/// The run tag a work directory or sandbox cgroup name belongs to.
pub fn tag_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("isocheck-").unwrap_or(name);
    let tag = rest.split('-').next()?;
    let tag = tag.strip_suffix(".run").unwrap_or(tag);
    is_tag(tag).then_some(tag)
}

const DIR_FLAGS: OFlag = OFlag::O_DIRECTORY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_RDONLY)
    .union(OFlag::O_CLOEXEC);

/// Makes the directory `path` and takes an exclusive lock on it. The lock
/// is checked to be on the directory still at `path` (a run reaping
/// leftovers may have taken and removed it in between).
fn make_locked_dir(path: &Path, mode: u32) -> Result<Flock<OwnedFd>, Errno> {
    nix::unistd::mkdir(path, Mode::from_bits_truncate(mode))?;
    let fd = nix::fcntl::open(path, DIR_FLAGS, Mode::empty())?;
    let lock = Flock::lock(fd, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| e)?;
    let here = nix::sys::stat::fstat(lock.as_fd())?;
    match nix::sys::stat::lstat(path) {
        Ok(st) if st.st_ino == here.st_ino && st.st_dev == here.st_dev => Ok(lock),
        _ => Err(Errno::ESTALE),
    }
}

/// Takes the lock of a directory another run may hold: `Some` (to be held
/// while removing it) when no live process holds it.
fn take_lock(path: &Path) -> Option<Flock<OwnedFd>> {
    let fd = nix::fcntl::open(path, DIR_FLAGS, Mode::empty()).ok()?;
    Flock::lock(fd, FlockArg::LockExclusiveNonblock).ok()
}

/// The hierarchy whose `isocheck/<tag>.run` cgroups hold the runs' locks:
/// the cgroup2 mount, else the first v1 hierarchy of pids, memory or cpu.
/// Every run on a host computes the same one.
pub fn lock_hierarchy(layout: Layout) -> Option<PathBuf> {
    match layout {
        Layout::Unified | Layout::Hybrid => cgroups::v2_mount(layout),
        Layout::Legacy => ["pids", "memory", "cpu"].iter().find_map(|c| {
            match cgroups::controller_home(layout, c) {
                Ok(Some(ControllerHome::V1(p))) => Some(p),
                _ => None,
            }
        }),
        Layout::None => None,
    }
}

fn lock_cgroup(layout: Layout, tag: &str) -> Option<PathBuf> {
    lock_hierarchy(layout).map(|h| h.join(cgroups::PARENT_NAME).join(format!("{tag}.run")))
}

/// Whether the run `tag` is alive: its lock cgroup exists and is locked.
fn run_alive(layout: Layout, tag: &str) -> bool {
    match lock_cgroup(layout, tag) {
        Some(p) if p.exists() => take_lock(&p).is_none(),
        _ => false,
    }
}

/// The work namespace holder's process, and the write end of its stdin.
struct Holder(super::plumbing::ChildProc, Option<std::fs::File>);

impl Holder {
    /// Tells the holder the runner cleaned up itself, and closes its stdin.
    fn say_done(&mut self) {
        if let Some(mut stdin) = self.1.take() {
            let _ = std::io::Write::write_all(&mut stdin, b"done\n");
        }
    }
}

/// One run's work directory and identity; everything is removed on drop.
pub struct WorkDir {
    /// Names the run's work directory and cgroups (`<tag>-<n>-<case>`).
    pub tag: String,
    /// The work directory as the runner reaches it.
    pub here: PathBuf,
    /// The work directory as helpers (in the work namespace) see it.
    pub there: PathBuf,
    mount_point: PathBuf,
    holder: Option<Holder>,
    ns: Option<OwnedFd>,
    cgroup_lock: Option<(PathBuf, Flock<OwnedFd>)>,
    _lock: Flock<OwnedFd>,
}

impl WorkDir {
    /// Makes the run's work directory (a private tmpfs as root, see the
    /// module), after removing what dead runs left. `holder_bin` is
    /// isocheck's own binary.
    pub fn new(holder_bin: &Path, layout: Layout) -> Result<WorkDir, WorkError> {
        check_env()?;
        check_proc()?;
        reap_stale(layout);
        let base = work_base();
        let root = crate::sys::caps::privileged();
        let mut tries = 0;
        let (tag, mount_point, lock) = loop {
            let tag = new_tag()?;
            let mp = base.join(format!("isocheck-{tag}"));
            match make_locked_dir(&mp, if root { 0o700 } else { 0o755 }) {
                Ok(lock) => break (tag, mp, lock),
                // ENOENT: a run reaping leftovers took the directory for one
                // between its mkdir and its lock, and removed it.
                Err(e)
                    if tries < 8
                        && matches!(
                            e,
                            Errno::EEXIST | Errno::EWOULDBLOCK | Errno::ESTALE | Errno::ENOENT
                        ) =>
                {
                    tries += 1;
                }
                Err(e) => {
                    return Err(WorkError::Io {
                        what: "making the work directory",
                        path: mp,
                        source: e.into(),
                    })
                }
            }
        };
        let mut wd = WorkDir {
            tag,
            here: mount_point.clone(),
            there: mount_point.clone(),
            mount_point,
            holder: None,
            ns: None,
            cgroup_lock: None,
            _lock: lock,
        };
        if root {
            wd.cgroup_lock = wd.lock_cgroup(layout)?;
            wd.start_holder(holder_bin).map_err(|e| match e {
                WorkError::Holder(said) => WorkError::Holder(with_cause(said)),
                other => other,
            })?;
        }
        Ok(wd)
    }

    fn lock_cgroup(&self, layout: Layout) -> Result<Option<(PathBuf, Flock<OwnedFd>)>, WorkError> {
        let Some(path) = lock_cgroup(layout, &self.tag) else {
            return Ok(None);
        };
        let parent = path.parent().unwrap_or(Path::new("/"));
        if !parent.exists() {
            match std::fs::create_dir(parent) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                // A read-only cgroup file system: no cgroup can be made,
                // so none can be left behind either.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EROFS | libc::EACCES | libc::EPERM)
                    ) =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(io_err("making the cgroup", parent)(e)),
            }
        }
        for _ in 0..8 {
            match make_locked_dir(&path, 0o755) {
                Ok(lock) => return Ok(Some((path, lock))),
                // A run reaping leftovers removed the parent meanwhile.
                Err(Errno::ENOENT) => {
                    let _ = std::fs::create_dir(parent);
                }
                // A run reaping leftovers took the new cgroup for one
                // between its mkdir and its lock (EWOULDBLOCK: it holds the
                // lock; ESTALE: it removed the cgroup under this lock;
                // EEXIST: it has not removed it yet): made again once it is
                // gone. Before, that was the run's harness error (exit 3),
                // about once in a thousand starts of four runs at once.
                Err(Errno::EWOULDBLOCK | Errno::ESTALE | Errno::EEXIST) => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(Errno::EROFS | Errno::EACCES | Errno::EPERM) => return Ok(None),
                Err(e) => return Err(io_err("making the run's lock cgroup", &path)(e.into())),
            }
        }
        Err(WorkError::Holder(format!(
            "could not make the lock cgroup {}",
            path.display()
        )))
    }

    fn start_holder(&mut self, bin: &Path) -> Result<(), WorkError> {
        // Forked while this process has one thread (no exec, no dynamic
        // loader, no runtime start-up on the run's critical path); else
        // started from the binary.
        let (mut child, stdout, stderr) = match crate::sys::single_threaded() {
            Ok(one) => self.fork_holder(one)?,
            Err(_) => {
                let mut child = Command::new(bin)
                    .arg(WORKNS_ARG)
                    .arg(&self.mount_point)
                    .arg(&self.tag)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    // Out of the terminal's process group: a Ctrl-C goes to
                    // the runner, which cleans up with the holder still there.
                    .process_group(0)
                    .spawn()
                    .map_err(|e| WorkError::Holder(format!("starting {}: {e}", bin.display())))?;
                let stdout = OwnedFd::from(child.stdout.take().expect("piped stdout"));
                let stderr = OwnedFd::from(child.stderr.take().expect("piped stderr"));
                let stdin = child
                    .stdin
                    .take()
                    .map(|s| std::fs::File::from(OwnedFd::from(s)));
                (
                    Holder(super::plumbing::ChildProc::Started(child), stdin),
                    stdout,
                    stderr,
                )
            }
        };
        let pid = child.0.id();
        let line = ready_line(&stdout, HOLDER_READY_WITHIN);
        if line.as_deref().map(str::trim) != Ok("ready") {
            // Killed first, so reading what it said cannot wait on a holder
            // that hangs.
            child.0.kill();
            child.0.wait();
            let mut err = String::new();
            {
                let mut e = std::fs::File::from(stderr);
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            let said = match line {
                Err(why) => format!("{} ({why})", err.trim()),
                Ok(l) if err.trim().is_empty() => format!("said {:?}, not \"ready\"", l.trim()),
                Ok(_) => err.trim().to_string(),
            };
            return Err(WorkError::Holder(said.trim().to_string()));
        }
        let ns_path = PathBuf::from(format!("/proc/{pid}/ns/mnt"));
        let ns = nix::fcntl::open(&ns_path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| io_err("opening", &ns_path)(e.into()))?;
        self.here = PathBuf::from(format!("/proc/{pid}/root")).join(
            self.mount_point
                .strip_prefix("/")
                .unwrap_or(&self.mount_point),
        );
        self.holder = Some(child);
        self.ns = Some(ns);
        Ok(())
    }

    /// Forks the work namespace holder ([`holder_main`]) from this
    /// single-threaded process, with pipes as its standard streams and
    /// none of this process's descriptors: the holder a start from the
    /// binary would be. Returns it with the read ends of its stdout and
    /// stderr.
    fn fork_holder(
        &self,
        one: crate::sys::SingleThreaded,
    ) -> Result<(Holder, OwnedFd, OwnedFd), WorkError> {
        let pipe = || {
            nix::unistd::pipe2(OFlag::O_CLOEXEC)
                .map_err(|e| WorkError::Holder(format!("pipe: {}", e.desc())))
        };
        let (in_r, in_w) = pipe()?;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        let args = [
            self.mount_point.to_string_lossy().into_owned(),
            self.tag.clone(),
        ];
        let child = super::plumbing::fork_group(one, move || {
            let streams = [(in_r.as_fd(), 0), (out_w.as_fd(), 1), (err_w.as_fd(), 2)]
                .into_iter()
                .try_for_each(|(fd, target)| crate::sys::fdpass::dup_onto(fd, target));
            // A holder that kept the runner's descriptors (its end of this
            // holder's stdin among them) would never see the runner die: it
            // says why and ends instead.
            if streams.is_err() || crate::sys::close_all_but(&[]).is_err() {
                eprintln!("its descriptors could not be closed after fork");
                return 3;
            }
            let code = holder_main(&args);
            let _ = std::io::Write::flush(&mut std::io::stdout());
            code
        })
        .map_err(|e| WorkError::Holder(format!("fork: {}", e.desc())))?;
        let holder = Holder(
            super::plumbing::ChildProc::Forked(super::plumbing::Forked::new(child)),
            Some(std::fs::File::from(in_w)),
        );
        Ok((holder, out_r, err_r))
    }

    /// Sets up `cmd` (a helper) to enter the work namespace first thing.
    pub fn pass_to(&self, cmd: &mut Command) {
        if let Some(ns) = &self.ns {
            let fd = ns.as_raw_fd();
            cmd.env(WORK_NS_FD_ENV, fd.to_string());
            crate::sys::keep_fd_on_exec(cmd, fd);
        }
    }

    /// The work namespace's descriptor, for a zygote forked from the
    /// runner to enter (none for a plain work directory).
    pub fn ns_fd(&self) -> Option<RawFd> {
        self.ns.as_ref().map(|ns| ns.as_raw_fd())
    }

    /// `path` below [`WorkDir::here`] as helpers see it.
    pub fn there_of(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.here) {
            Ok(rest) => self.there.join(rest),
            Err(_) => path.to_path_buf(),
        }
    }
}

/// How long the work namespace holder may take to say it is ready: it
/// mounts one tmpfs, so even a loaded machine answers in well under a
/// second; a holder that says nothing is broken, never waited on forever.
const HOLDER_READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The first line `out` gives within `within`; the error says why there
/// is none (silence past the deadline, end of output, a read error).
fn ready_line(out: &impl std::os::fd::AsFd, within: std::time::Duration) -> Result<String, String> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let deadline = std::time::Instant::now() + within;
    let mut line = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(format!("no answer within {} s", within.as_secs()));
        }
        let mut fds = [PollFd::new(out.as_fd(), PollFlags::POLLIN)];
        let wait = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        match nix::poll::poll(&mut fds, wait) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(format!("waiting for its answer: {e}")),
        }
        let mut byte = [0u8; 1];
        match nix::unistd::read(out.as_fd(), &mut byte) {
            Ok(0) => {
                return if line.is_empty() {
                    Err("it ended without an answer".to_string())
                } else {
                    Ok(String::from_utf8_lossy(&line).into_owned())
                };
            }
            Ok(_) if byte[0] == b'\n' => return Ok(String::from_utf8_lossy(&line).into_owned()),
            Ok(_) => line.push(byte[0]),
            Err(Errno::EINTR | Errno::EAGAIN) => continue,
            Err(e) => return Err(format!("reading its answer: {e}")),
        }
    }
}

impl WorkDir {
    /// Empties the work directory, ends the holder (and with it the work
    /// namespace, once no zygote is left in it) and removes the mount
    /// point; the lock cgroup, which says the run is alive, stays until the
    /// drop. Done once: the drop then finds it done.
    pub fn end_namespace(&mut self) {
        if let Some(mut h) = self.holder.take() {
            // The tmpfs goes with the namespace; emptying it first returns
            // its memory at once.
            let _ = std::fs::remove_dir_all(&self.here);
            h.say_done();
            // Told, it exits at once and does nothing more; killed, it
            // cannot keep the runner waiting (a holder stopped by SIGSTOP
            // would never read what it was told).
            h.0.kill();
            h.0.wait();
        }
        self.ns = None;
        let _ = std::fs::remove_dir_all(&self.mount_point);
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        self.end_namespace();
        if let Some((path, lock)) = self.cgroup_lock.take() {
            let _ = std::fs::remove_dir(&path);
            drop(lock);
            if let Some(parent) = path.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

/// Entry point of `isocheck __workns <mount point> <tag>`: makes a private
/// mount namespace with a tmpfs on the mount point, says `ready`, and keeps
/// it until its stdin closes (the runner exited or died). When the runner
/// died (its lock on the mount point is free), it removes what the runner
/// could not: the run's cgroups, its lock cgroup and the mount point.
pub fn holder_main(args: &[String]) -> i32 {
    let [mp, tag] = args else {
        eprintln!("usage: isocheck {WORKNS_ARG} <mount point> <tag>");
        return 2;
    };
    if !is_tag(tag) {
        eprintln!("{tag:?} is not a run tag");
        return 2;
    }
    // Named for `ps` and `top`: a forked holder's command line is the
    // runner's.
    let _ = nix::sys::prctl::set_name(c"isocheck-workns");
    let fail = |what: &str, e: Errno| {
        eprintln!("{what}: {}", e.desc());
        3
    };
    // The mount point itself, before the tmpfs hides it: its lock tells
    // whether the runner is alive.
    let under = match nix::fcntl::open(mp.as_str(), DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => return fail(&format!("opening {mp}"), e),
    };
    if let Err(e) = nix::sched::unshare(CloneFlags::CLONE_NEWNS) {
        return fail("unshare(CLONE_NEWNS)", e);
    }
    // Nothing mounted here propagates back to the host.
    use nix::mount::{mount, MsFlags};
    if let Err(e) = mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    ) {
        return fail("making / a slave", e);
    }
    // setuid allowed: the exec probes run setuid copies from here.
    if let Err(e) = mount(
        Some("isocheck-work"),
        mp.as_str(),
        Some("tmpfs"),
        MsFlags::empty(),
        Some("mode=0755"),
    ) {
        return fail(&format!("mounting a tmpfs on {mp}"), e);
    }
    for (dir, mode) in [("root", 0o755), ("private", 0o700)] {
        let p = Path::new(mp).join(dir);
        if let Err(e) = nix::unistd::mkdir(&p, Mode::from_bits_truncate(mode)) {
            return fail(&format!("mkdir {}", p.display()), e);
        }
    }
    println!("ready");
    // Wait for the runner's end of stdin to close. A runner that exits
    // says `done` first: it cleans up itself.
    let mut said = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut said);
    if said.starts_with(b"done") {
        return 0;
    }
    // The runner died. Its descriptors close one by one as it exits: its
    // lock may be let go a moment after its end of the pipe.
    let mut under = under;
    let mut lock = None;
    for _ in 0..250 {
        match Flock::lock(under, FlockArg::LockExclusiveNonblock) {
            Ok(l) => {
                lock = Some(l);
                break;
            }
            Err((fd, _)) => {
                under = fd;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    }
    let Some(lock) = lock else {
        return 0;
    };
    remove_run_cgroups(tag);
    let _ = nix::mount::umount2(mp.as_str(), nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir(mp);
    drop(lock);
    0
}

/// Kills what is left in the cgroups of run `tag` and removes them, then
/// its lock cgroup (once its lock is free).
fn remove_run_cgroups(tag: &str) {
    let Ok(tops) = std::fs::read_dir(cgroups::CGROUP_ROOT) else {
        return;
    };
    let prefix = format!("{tag}-");
    let lock_name = format!("{tag}.run");
    let mut locks = Vec::new();
    for top in tops.flatten() {
        let parent = top.path().join(cgroups::PARENT_NAME);
        for c in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
            let name = c.file_name().to_string_lossy().into_owned();
            if name == lock_name {
                locks.push(c.path());
            } else if name.starts_with(&prefix) {
                // Helpers die with the runner a moment after it: wait for
                // the cgroup to empty.
                for _ in 0..50 {
                    cgroups::kill_all(&c.path().join("cgroup.procs"));
                    if std::fs::remove_dir(c.path()).is_ok() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            }
        }
        let _ = std::fs::remove_dir(&parent);
    }
    for l in locks {
        if let Some(lock) = take_lock(&l) {
            let _ = std::fs::remove_dir(&l);
            drop(lock);
            if let Some(parent) = l.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }
}

/// Enters the work namespace a helper was handed, if it was handed one.
pub fn enter_work_ns() -> Result<(), String> {
    let Some(fd) = std::env::var(WORK_NS_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<RawFd>().ok())
    else {
        return Ok(());
    };
    let ns = crate::sys::own_inherited_fd(fd).map_err(|e| format!("{WORK_NS_FD_ENV}={fd}: {e}"))?;
    nix::sched::setns(&ns, CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("entering the work namespace: {}", e.desc()))
}

/// Removes what runs that are gone left: their work directories and their
/// sandbox and lock cgroups. Only names of isocheck's tag shape whose run
/// lock no live process holds.
pub fn reap_stale(layout: Layout) {
    let mut bases = vec![std::env::temp_dir(), work_base()];
    if let Some(v) = std::env::var_os(WORK_DIR_ENV) {
        bases.push(PathBuf::from(v));
    }
    bases.sort();
    bases.dedup();
    for rd in bases.iter().filter_map(|b| std::fs::read_dir(b).ok()) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("isocheck-") || tag_of(&name).is_none() {
                continue;
            }
            if let Some(lock) = take_lock(&e.path()) {
                let _ = std::fs::remove_dir_all(e.path());
                drop(lock);
            }
        }
    }
    let Ok(rd) = std::fs::read_dir(cgroups::CGROUP_ROOT) else {
        return;
    };
    let lock_parent = lock_hierarchy(layout).map(|h| h.join(cgroups::PARENT_NAME));
    let mut parents: Vec<PathBuf> = rd
        .flatten()
        .map(|top| top.path().join(cgroups::PARENT_NAME))
        .collect();
    // Lock cgroups last: a sandbox cgroup is judged by its run's lock.
    parents.sort_by_key(|p| Some(p) == lock_parent.as_ref());
    for parent in parents {
        let Ok(children) = std::fs::read_dir(&parent) else {
            continue;
        };
        for c in children.flatten() {
            let name = c.file_name().to_string_lossy().into_owned();
            let Some(tag) = tag_of(&name) else { continue };
            if name.ends_with(".run") {
                if Some(&parent) == lock_parent.as_ref() {
                    if let Some(lock) = take_lock(&c.path()) {
                        let _ = std::fs::remove_dir(c.path());
                        drop(lock);
                    }
                }
            } else if c.path().is_dir() && !run_alive(layout, tag) {
                cgroups::kill_all(&c.path().join("cgroup.procs"));
                let _ = std::fs::remove_dir(c.path());
            }
        }
        let _ = std::fs::remove_dir(&parent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_is_waited_on_for_its_first_line_and_never_forever() {
        use std::time::Duration;
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, b"ready\nmore").unwrap();
        assert_eq!(
            ready_line(&r, Duration::from_secs(5)).as_deref(),
            Ok("ready")
        );
        // Silent with its end open: the deadline decides.
        let (r, w) = nix::unistd::pipe().unwrap();
        let started = std::time::Instant::now();
        let e = ready_line(&r, Duration::from_millis(200)).unwrap_err();
        assert!(e.contains("no answer within"), "{e}");
        assert!(started.elapsed() >= Duration::from_millis(200));
        drop(w);
        // Gone without a word.
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(w);
        let e = ready_line(&r, Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("ended without an answer"), "{e}");
        // A last line without a newline is still its answer.
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, b"no such namespace").unwrap();
        drop(w);
        assert_eq!(
            ready_line(&r, Duration::from_secs(5)).as_deref(),
            Ok("no such namespace")
        );
    }

    #[test]
    fn tags_have_one_shape_and_other_names_are_left_alone() {
        assert!(is_tag("0123456789abcdef"));
        assert!(is_tag("ci42_0123456789abcdef"));
        for bad in [
            "1234",
            "1234-5678",
            "0123456789ABCDEF",
            "_0123456789abcdef",
            "a-b_0123456789abcdef",
        ] {
            assert!(!is_tag(bad), "{bad}");
        }
        assert_eq!(
            tag_of("isocheck-0123456789abcdef"),
            Some("0123456789abcdef")
        );
        assert_eq!(
            tag_of("0123456789abcdef-3-pid.pid1-rootful-test"),
            Some("0123456789abcdef")
        );
        assert_eq!(
            tag_of("t1_0123456789abcdef.run"),
            Some("t1_0123456789abcdef")
        );
        // An older isocheck's `<pid>-<nanos>` names are not ours to judge.
        assert_eq!(tag_of("isocheck-4242-123456789"), None);
        assert_eq!(tag_of("4242-123456789-0-x"), None);
    }

    #[test]
    fn a_locked_directory_is_not_taken_and_a_free_one_is() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("isocheck-0123456789abcdef");
        let held = make_locked_dir(&p, 0o700).unwrap();
        assert!(take_lock(&p).is_none(), "a held lock was taken");
        drop(held);
        assert!(take_lock(&p).is_some());
        assert_eq!(make_locked_dir(&p, 0o700).unwrap_err(), Errno::EEXIST);
    }
}
