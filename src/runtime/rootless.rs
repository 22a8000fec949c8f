//! Rootless mode: the sandbox gets its powers only from a user namespace
//! owned by an unprivileged uid, as in a rootless container runtime.
//!
//! When the helper is root it plays the part newuidmap plays for a rootless
//! runtime: it forks a worker, the worker drops to the unprivileged ids and
//! creates its user namespace, the helper writes the worker's id maps (a
//! root line plus a subordinate range), and the worker builds the sandbox
//! from inside that namespace, exactly as the rootful path does. An
//! unprivileged helper creates the namespace itself with the one-line map
//! `0 <uid> 1` (setgroups denied first).

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{Gid, Pid, Uid};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;

use super::idmap;
use super::plumbing::{die_with, pipe, step};
use super::protocol::{HelperReport, HelperRequest};
use super::protocol::{IdmapTools, RootlessPlan};
use crate::model::error::{Cause, StepError};
use crate::model::spec::IdMap;
use crate::model::subid::{ranges_for, SubidEntry, SubidGrant};
use crate::sys::{self, CloneResult};

/// The unprivileged ids a rootless sandbox runs as when isocheck is root.
pub const DEFAULT_UID: u32 = 100_000;
/// The rootless worker's step that drops to the rootless user's ids,
/// before it makes the user namespace.
pub const BECOME_ROOTLESS_USER: &str = "become-rootless-user";
/// Start of the subordinate range mapped to ids 1.. in the namespace.
pub const DEFAULT_SUB_START: u32 = 100_001;
pub const DEFAULT_SUB_COUNT: u32 = 65_536;

impl IdmapTools {
    /// Runs `tool pid inside outside count ...` as `uid`:`gid`.
    fn write(
        &self,
        tool: &std::path::Path,
        pid: Pid,
        maps: &[IdMap],
        uid: u32,
        gid: u32,
    ) -> Result<(), StepError> {
        use std::os::unix::process::CommandExt;
        let mut cmd = std::process::Command::new(tool);
        cmd.arg(pid.as_raw().to_string());
        for m in maps {
            cmd.args([
                m.inside.to_string(),
                m.outside.to_string(),
                m.count.to_string(),
            ]);
        }
        if nix::unistd::geteuid().is_root() {
            cmd.uid(uid).gid(gid);
        }
        let out = cmd.output().map_err(|e| {
            step(
                &tool.display().to_string(),
                &pid.to_string(),
                crate::sys::io_errno(e),
            )
        })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(StepError::with(
                &tool.display().to_string(),
                format!(
                    "{pid} {}",
                    super::idmap::render(maps).trim().replace('\n', ", ")
                ),
                Cause::Tool {
                    status: out.status.to_string(),
                    stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
                },
            ))
        }
    }
}

impl RootlessPlan {
    /// The plan for this runner: a root runner emulates a rootless user
    /// with `DEFAULT_UID` and a subordinate range; an unprivileged runner
    /// is the rootless user, with the one-line map it may write itself.
    pub fn for_runner() -> RootlessPlan {
        let one = |id| IdMap {
            inside: 0,
            outside: id,
            count: 1,
        };
        if nix::unistd::geteuid().is_root() {
            let sub = IdMap {
                inside: 1,
                outside: if super::sabotage::hit(super::sabotage::Sabotage::SubidRangeFromOne) {
                    1
                } else {
                    DEFAULT_SUB_START
                },
                count: DEFAULT_SUB_COUNT,
            };
            RootlessPlan {
                uid: DEFAULT_UID,
                gid: DEFAULT_UID,
                uid_map: vec![one(DEFAULT_UID), sub],
                gid_map: vec![one(DEFAULT_UID), sub],
                join_cgroup: Vec::new(),
                tools: None,
            }
        } else {
            let (u, g) = (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            );
            RootlessPlan {
                uid: u,
                gid: g,
                uid_map: vec![one(u)],
                gid_map: vec![one(g)],
                join_cgroup: Vec::new(),
                tools: None,
            }
        }
    }

    /// The plan of a rootless runtime on this host: the subordinate ranges
    /// /etc/subuid and /etc/subgid grant the rootless user, written by
    /// newuidmap and newgidmap. `None`, with the reason, where the tools or
    /// the ranges are missing.
    pub fn through_subids(grant: &SubidGrant) -> Result<RootlessPlan, String> {
        let base = RootlessPlan::for_runner();
        let tool = |name: &str, path: &Option<PathBuf>| {
            path.clone().ok_or_else(|| {
                format!("{name} is missing or not setuid root (install the uidmap package)")
            })
        };
        let tools = IdmapTools {
            newuidmap: tool("newuidmap", &grant.newuidmap)?,
            newgidmap: tool("newgidmap", &grant.newgidmap)?,
        };
        // newuidmap looks its caller up by name (in /etc/passwd: no NSS).
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let name = crate::sys::passwd::passwd_name(&passwd, base.uid).ok_or_else(|| {
            format!(
                "uid {} has no /etc/passwd entry, and newuidmap needs its name",
                base.uid
            )
        })?;
        let range = |entries: &[SubidEntry], id: u32, what: &str| {
            let name = Some(name.clone());
            ranges_for(entries, name.as_deref(), id)
                .first()
                .map(|e| IdMap {
                    inside: 1,
                    outside: e.start as u32,
                    count: e.count.min(u32::MAX as u64) as u32,
                })
                .ok_or_else(|| format!("{what} grants uid {id} no range"))
        };
        let uid_sub = range(&grant.subuid, base.uid, "/etc/subuid")?;
        let gid_sub = range(&grant.subgid, base.gid, "/etc/subgid")?;
        let one = |id| IdMap {
            inside: 0,
            outside: id,
            count: 1,
        };
        Ok(RootlessPlan {
            uid_map: vec![one(base.uid), uid_sub],
            gid_map: vec![one(base.gid), gid_sub],
            tools: Some(tools),
            ..base
        })
    }

    /// Whether ids other than root exist in the namespace.
    pub fn has_range(&self) -> bool {
        self.uid_map.iter().map(|m| m.count as u64).sum::<u64>() > 1
    }
}

/// Runs `sandbox` (the ordinary helper path) from inside the rootless user
/// namespace and returns its report.
pub fn run(
    req: &HelperRequest,
    plan: &RootlessPlan,
    sandbox: fn(&HelperRequest) -> HelperReport,
) -> HelperReport {
    let failed = |e: StepError| HelperReport {
        setup_error: Some(e),
        ..Default::default()
    };
    if !forks_a_worker(plan, nix::unistd::geteuid().is_root()) {
        if let Err(e) = enter_own_userns(plan) {
            return failed(e);
        }
        return sandbox(req);
    }
    match with_worker(req, plan, sandbox) {
        Ok(r) => r,
        Err(e) => failed(e),
    }
}

/// Whether [`run`] forks a worker for `plan` from a process that is root
/// or not: a root process writes the worker's maps itself, and newuidmap
/// and newgidmap write them for any process. Otherwise the process makes
/// the user namespace itself, and stays in it.
pub fn forks_a_worker(plan: &RootlessPlan, root: bool) -> bool {
    root || plan.tools.is_some()
}

/// The unprivileged path: unshare, deny setgroups, write one-line maps.
fn enter_own_userns(plan: &RootlessPlan) -> Result<(), StepError> {
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
        .map_err(|e| step("unshare-user", "rootless", e))?;
    idmap::write(nix::unistd::getpid(), &plan.uid_map, &plan.gid_map, true)
}

/// The root path: fork a worker, let it drop and unshare, write its maps.
fn with_worker(
    req: &HelperRequest,
    plan: &RootlessPlan,
    sandbox: fn(&HelperRequest) -> HelperReport,
) -> Result<HelperReport, StepError> {
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let (rep_r, rep_w) = pipe()?;
    let me = nix::unistd::getpid();
    let worker =
        match sys::clone_fork(CloneFlags::empty()).map_err(|e| step("fork-worker", "", e))? {
            CloneResult::Child => {
                drop((ready_r, go_w, rep_r));
                let code = match worker_setup(plan, me, ready_w, go_r) {
                    Ok(()) => {
                        let report = sandbox(req);
                        let mut f = std::fs::File::from(rep_w);
                        let _ = f.write_all(&serde_json::to_vec(&report).unwrap_or_default());
                        0
                    }
                    Err(e) => {
                        let report = HelperReport {
                            setup_error: Some(e),
                            ..Default::default()
                        };
                        let mut f = std::fs::File::from(rep_w);
                        let _ = f.write_all(&serde_json::to_vec(&report).unwrap_or_default());
                        1
                    }
                };
                sys::exit_now(code);
            }
            CloneResult::Parent { child } => child,
        };
    drop((ready_w, go_r, rep_w));
    let kill_worker = |e: StepError| {
        let _ = nix::sys::signal::kill(worker, Signal::SIGKILL);
        let _ = waitpid(worker, None);
        e
    };
    // Served in place, each wait on the worker also watches the runner:
    // stopped, the worker is killed (the sandbox dies with it) instead of
    // waited for.
    let stopped = || kill_worker(step("runner-gone", &worker.to_string(), Errno::EPIPE));
    let mut byte = [0u8; 1];
    // The worker says it has unshared (or closes the pipe as it fails).
    if !super::plumbing::readable_unless_stopped(ready_r.as_fd()) {
        return Err(stopped());
    }
    if nix::unistd::read(&ready_r, &mut byte) == Ok(1) {
        match &plan.tools {
            Some(t) => t
                .write(&t.newuidmap, worker, &plan.uid_map, plan.uid, plan.gid)
                .and_then(|()| t.write(&t.newgidmap, worker, &plan.gid_map, plan.uid, plan.gid))
                .map_err(kill_worker)?,
            None => {
                idmap::write(worker, &plan.uid_map, &plan.gid_map, false).map_err(kill_worker)?
            }
        }
        let _ = nix::unistd::write(&go_w, b"G");
    }
    drop(go_w);
    let mut out = Vec::new();
    let mut rep = std::fs::File::from(rep_r);
    let mut buf = [0u8; 16384];
    loop {
        if !super::plumbing::readable_unless_stopped(rep.as_fd()) {
            return Err(stopped());
        }
        match rep.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let status = waitpid(worker, None).map_err(|e| step("waitpid", &worker.to_string(), e))?;
    match serde_json::from_slice::<HelperReport>(&out) {
        Ok(r) => Ok(r),
        Err(_) => Err(StepError::with(
            "rootless-worker",
            worker.to_string(),
            Cause::Protocol(match status {
                WaitStatus::Signaled(_, s, _) => format!("killed by {}", s.as_str()),
                WaitStatus::Exited(_, c) => format!("exited {c} without a report"),
                other => format!("{other:?}"),
            }),
        )),
    }
}

/// In the worker: join the delegated cgroup, drop to the unprivileged ids,
/// create the user namespace and wait for its maps.
fn worker_setup(
    plan: &RootlessPlan,
    helper: Pid,
    ready_w: std::os::fd::OwnedFd,
    go_r: std::os::fd::OwnedFd,
) -> Result<(), StepError> {
    die_with(helper, false);
    let join = !super::sabotage::hit(super::sabotage::Sabotage::CgroupJoinSkipped);
    if join && !plan.join_cgroup.is_empty() {
        // On v1 by a thread move (no grace-period wait: see
        // `cgroups::join_self`).
        let one = crate::sys::single_threaded()
            .map_err(|e| step("join-delegated-cgroup", "one thread", e))?;
        for procs in &plan.join_cgroup {
            super::cgroups::join_self(procs, one).map_err(|e| StepError {
                step: "join-delegated-cgroup".into(),
                ..e
            })?;
        }
    }
    // Becoming the rootless user: the runner's own privileges (a root
    // runner's CAP_SETUID and CAP_SETGID, setgroups allowed where it
    // runs), asked before any user namespace is made.
    let become_user = |call: &str, e| step(BECOME_ROOTLESS_USER, call, e);
    if nix::unistd::geteuid().is_root() {
        nix::unistd::setgroups(&[]).map_err(|e| become_user("setgroups []", e))?;
    }
    nix::unistd::setresgid(
        Gid::from_raw(plan.gid),
        Gid::from_raw(plan.gid),
        Gid::from_raw(plan.gid),
    )
    .map_err(|e| become_user(&format!("setresgid {}", plan.gid), e))?;
    nix::unistd::setresuid(
        Uid::from_raw(plan.uid),
        Uid::from_raw(plan.uid),
        Uid::from_raw(plan.uid),
    )
    .map_err(|e| become_user(&format!("setresuid {}", plan.uid), e))?;
    // The id change cleared the parent-death signal, and made the process
    // non-dumpable: its /proc files (and its children's, among them the
    // uid_map of a nested user namespace) would then belong to root.
    die_with(helper, false);
    nix::sys::prctl::set_dumpable(true).map_err(|e| step("set-dumpable", "", e))?;
    nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
        .map_err(|e| step("unshare-user", "rootless", e))?;
    nix::unistd::write(&ready_w, b"R").map_err(|e| step("notify-helper", "", e))?;
    drop(ready_w);
    let mut go = [0u8; 1];
    match nix::unistd::read(&go_r, &mut go) {
        Ok(1) => Ok(()),
        _ => Err(step("wait-for-maps", "", Errno::EPIPE)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(inside: u32, outside: u32, count: u32) -> IdMap {
        IdMap {
            inside,
            outside,
            count,
        }
    }

    fn plan(uid_map: Vec<IdMap>) -> RootlessPlan {
        RootlessPlan {
            uid: 1000,
            gid: 1000,
            gid_map: uid_map.clone(),
            uid_map,
            join_cgroup: Vec::new(),
            tools: None,
        }
    }

    #[test]
    fn a_range_is_any_id_beyond_root() {
        assert!(!plan(vec![map(0, 1000, 1)]).has_range());
        assert!(!plan(Vec::new()).has_range());
        assert!(plan(vec![map(0, 1000, 1), map(1, 100000, 1)]).has_range());
        assert!(plan(vec![map(0, 100000, 65537)]).has_range());
        // Counts are summed wide: no overflow to a small total.
        assert!(plan(vec![map(0, 0, u32::MAX), map(0, 0, 2)]).has_range());
    }

    #[test]
    fn the_runner_plan_follows_who_runs() {
        let p = RootlessPlan::for_runner();
        assert!(p.join_cgroup.is_empty() && p.tools.is_none());
        if nix::unistd::geteuid().is_root() {
            assert_eq!((p.uid, p.gid), (DEFAULT_UID, DEFAULT_UID));
            if std::env::var(super::super::sabotage::ENV).is_err() {
                let want = vec![
                    map(0, DEFAULT_UID, 1),
                    map(1, DEFAULT_SUB_START, DEFAULT_SUB_COUNT),
                ];
                assert_eq!((&p.uid_map, &p.gid_map), (&want, &want));
            }
            assert!(p.has_range());
        } else {
            let (u, g) = (
                nix::unistd::geteuid().as_raw(),
                nix::unistd::getegid().as_raw(),
            );
            assert_eq!((p.uid, p.gid), (u, g));
            assert_eq!(
                (p.uid_map, p.gid_map),
                (vec![map(0, u, 1)], vec![map(0, g, 1)])
            );
        }
    }

    #[test]
    fn a_plan_crosses_the_pipe_and_reads_without_tools() {
        let mut p = plan(vec![map(0, 1000, 1), map(1, 100000, 65536)]);
        p.tools = Some(IdmapTools {
            newuidmap: "/usr/bin/newuidmap".into(),
            newgidmap: "/usr/bin/newgidmap".into(),
        });
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            serde_json::from_value::<RootlessPlan>(v.clone()).unwrap(),
            p
        );
        let mut old = v;
        old.as_object_mut().unwrap().remove("tools");
        assert_eq!(
            serde_json::from_value::<RootlessPlan>(old).unwrap().tools,
            None
        );
    }

    fn tools() -> IdmapTools {
        IdmapTools {
            newuidmap: "/bin/true".into(),
            newgidmap: "/bin/false".into(),
        }
    }

    #[test]
    fn a_map_tool_that_succeeds_is_done() {
        let t = tools();
        let maps = [map(0, 1000, 1)];
        assert!(t
            .write(&t.newuidmap, Pid::from_raw(1), &maps, 65534, 65534)
            .is_ok());
    }

    #[test]
    fn a_map_tool_that_fails_is_named_with_its_maps_and_status() {
        let t = tools();
        let maps = [map(0, 1000, 1), map(1, 100000, 65536)];
        let e = t
            .write(&t.newgidmap, Pid::from_raw(4242), &maps, 65534, 65534)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "/bin/false 4242 0 1000 1, 1 100000 65536: exit status: 1: "
        );
        let missing = std::path::Path::new("/nonexistent/newuidmap");
        let e = t
            .write(missing, Pid::from_raw(4242), &maps, 65534, 65534)
            .unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent/newuidmap 4242: ENOENT");
    }
}
