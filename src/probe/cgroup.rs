//! Cgroup membership seen from inside: the cgroup a sandbox was born in,
//! and a task that leaves the sandbox's session for the runtime to find.

use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::os::fd::AsRawFd;
use std::sync::OnceLock;

use super::schema::{f, opt, Field, Ty};
use super::Def;
use crate::sys::{self, CloneResult};

/// The cgroup2 line of a /proc/<pid>/cgroup text (`0::<path>`).
pub fn v2_path(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(String::from)
}

fn own_v2_path() -> Option<String> {
    std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .as_deref()
        .and_then(v2_path)
}

/// What `cgroup-birth` read as the sandbox's first act.
static AT_BIRTH: OnceLock<Option<String>> = OnceLock::new();

#[derive(Serialize, Debug)]
pub struct CgroupBirth {
    /// The sandbox's cgroup2 path as it was born, read before its release.
    pub at_birth: Option<String>,
    /// The same once the sandbox is built, after the release.
    pub now: Option<String>,
}

/// `cgroup-birth`: the sandbox's cgroup on the cgroup2 hierarchy, read from
/// /proc/self/cgroup as its first act (before the helper releases it) and
/// again when the probe runs. Needs the sandbox in no cgroup namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CgroupBirthArgs {}

impl Def for CgroupBirthArgs {
    type Output = CgroupBirth;
    fn at_birth(&self) {
        let _ = AT_BIRTH.set(own_v2_path());
    }
    fn looks_at_birth(&self) -> bool {
        true
    }
    fn run(&self) -> CgroupBirth {
        CgroupBirth {
            at_birth: AT_BIRTH.get().cloned().flatten(),
            now: own_v2_path(),
        }
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(opt("probe.at_birth", Ty::Str));
        v.push(opt("probe.now", Ty::Str));
    }
}

#[derive(Serialize, Debug, Default)]
pub struct Escape {
    /// The task that left the session, still running when the probe ended
    /// (pausing until it is killed); the helper watches it from outside.
    pub escaped_pid: Option<i32>,
    /// The session of the sandbox's init and of the escaped task.
    pub init_sid: i32,
    pub escaped_sid: Option<i32>,
    /// The escaped task is in a session of its own.
    pub left_session: bool,
    /// The errno of the step that failed, if one did.
    pub error: Option<String>,
}

/// Starts a child that makes a session of its own (setsid) and forks the
/// task that stays; the child then exits, so the task is no longer the
/// init's child (an orphan, it goes to the nearest subreaper outside).
/// The task closes every descriptor it inherited (the sandbox's report
/// pipe among them) but the one it reports its pid on, then pauses until
/// it is killed.
pub fn escape_session() -> Escape {
    let mut out = Escape {
        init_sid: nix::unistd::getsid(None).map(Pid::as_raw).unwrap_or(-1),
        ..Default::default()
    };
    let (r, w) = match nix::unistd::pipe() {
        Ok(p) => p,
        Err(e) => {
            out.error = Some(format!("pipe: {e}"));
            return out;
        }
    };
    let middle = match sys::clone_fork(CloneFlags::empty()) {
        Ok(CloneResult::Child) => {
            drop(r);
            if nix::unistd::setsid().is_err() {
                sys::exit_now(1);
            }
            match sys::clone_fork(CloneFlags::empty()) {
                Ok(CloneResult::Child) => {
                    let keep = w.as_raw_fd();
                    for fd in (3..1024).filter(|fd| *fd != keep) {
                        let _ = nix::unistd::close(fd);
                    }
                    let me = nix::unistd::getpid().as_raw().to_ne_bytes();
                    let _ = nix::unistd::write(&w, &me);
                    drop(w);
                    loop {
                        nix::unistd::pause();
                    }
                }
                Ok(CloneResult::Parent { .. }) => sys::exit_now(0),
                Err(_) => sys::exit_now(2),
            }
        }
        Ok(CloneResult::Parent { child }) => child,
        Err(e) => {
            out.error = Some(format!("fork: {e}"));
            return out;
        }
    };
    drop(w);
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(&r, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => {
                out.error = Some(format!("read: {e}"));
                break;
            }
        }
    }
    let _ = waitpid(middle, None);
    if got == buf.len() {
        let pid = i32::from_ne_bytes(buf);
        out.escaped_pid = Some(pid);
        out.escaped_sid = nix::unistd::getsid(Some(Pid::from_raw(pid)))
            .ok()
            .map(Pid::as_raw);
        out.left_session = out.escaped_sid.is_some_and(|s| s != out.init_sid);
    } else if out.error.is_none() {
        out.error = Some("the escaped task never reported".into());
    }
    out
}

/// `escape-session`: leaves a task behind in a session of its own
/// ([`escape_session`]), for the runtime to find after the main process
/// ended. Needs the sandbox in no PID namespace of its own: the end of a
/// PID namespace's init would kill the task anyway.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EscapeSessionArgs {}

impl Def for EscapeSessionArgs {
    type Output = Escape;
    fn run(&self) -> Escape {
        escape_session()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(opt("probe.escaped_pid", Ty::SINT));
        v.push(f("probe.init_sid", Ty::SINT));
        v.push(opt("probe.escaped_sid", Ty::SINT));
        v.push(f("probe.left_session", Ty::Bool));
        v.push(opt("probe.error", Ty::Str));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v2_line_is_the_one_with_hierarchy_zero() {
        let hybrid = "12:pids:/user.slice\n1:name=systemd:/user.slice/x\n0::/user.slice/x\n";
        assert_eq!(v2_path(hybrid).as_deref(), Some("/user.slice/x"));
        assert_eq!(v2_path("0::/\n").as_deref(), Some("/"));
        assert_eq!(v2_path("4:memory:/a\n"), None);
        assert_eq!(v2_path(""), None);
    }
}
