//! Probes of what the IPC, time, cgroup, network and user namespaces show.

use serde::{Deserialize, Serialize};

use super::outcome;
use super::schema::{self, f, list, opt, Field, Ty};
use super::Def;
use crate::model::names::{IPC_MQ_NAME, IPC_SHM_KEY, LISTENER_PORT_ENV};

#[derive(Serialize, Debug)]
pub struct IpcView {
    /// `"ok"` when the helper's System V segment is found by key, else the errno.
    pub shm: String,
    /// `"ok"` when the helper's POSIX message queue opens, else the errno.
    pub mq: String,
}

pub fn ipc_view() -> IpcView {
    let mq = nix::mqueue::mq_open(
        IPC_MQ_NAME,
        nix::mqueue::MQ_OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
        None,
    );
    IpcView {
        shm: outcome(crate::sys::shm_lookup(IPC_SHM_KEY)),
        mq: outcome(mq),
    }
}

#[derive(Serialize, Debug)]
pub struct Clocks {
    /// CLOCK_MONOTONIC and CLOCK_BOOTTIME, in whole seconds.
    pub monotonic_s: i64,
    pub boottime_s: i64,
}

pub fn clocks() -> Clocks {
    use nix::time::{clock_gettime, ClockId};
    let secs = |c| clock_gettime(c).map(|t| t.tv_sec()).unwrap_or(-1);
    Clocks {
        monotonic_s: secs(ClockId::CLOCK_MONOTONIC),
        boottime_s: secs(ClockId::CLOCK_BOOTTIME),
    }
}

#[derive(Serialize, Debug)]
pub struct CgroupView {
    /// The paths of /proc/self/cgroup, one per hierarchy.
    pub paths: Vec<String>,
    /// Every path is `/`: the sandbox sits at its cgroup namespace's root.
    pub all_root: bool,
}

pub fn cgroup_view() -> CgroupView {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let paths: Vec<String> = text
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .map(String::from)
        .collect();
    CgroupView {
        all_root: !paths.is_empty() && paths.iter().all(|p| p == "/"),
        paths,
    }
}

#[derive(Serialize, Debug)]
pub struct Connect {
    /// `"ok"`, the errno of a TCP connect to 127.0.0.1 at the helper's
    /// listener port, or `"no-answer"` when nothing answered in 5 s.
    pub connect: String,
    pub port: Option<u16>,
}

pub fn connect_listener() -> Connect {
    let port: Option<u16> = std::env::var(LISTENER_PORT_ENV)
        .ok()
        .and_then(|p| p.parse().ok());
    let connect = match port {
        None => "no-port".to_string(),
        Some(p) => super::reach::connect_outcome(
            &std::net::SocketAddr::from(([127, 0, 0, 1], p)),
            std::time::Duration::from_millis(super::reach::CONNECT_TIMEOUT_MS),
        ),
    };
    Connect { connect, port }
}

#[derive(Serialize, Debug)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    /// `"ok"` or the errno of setgroups([gid]).
    pub setgroups: String,
}

pub fn ids() -> Ids {
    let gid = nix::unistd::getgid();
    Ids {
        uid: nix::unistd::getuid().as_raw(),
        gid: gid.as_raw(),
        euid: nix::unistd::geteuid().as_raw(),
        setgroups: outcome(nix::unistd::setgroups(&[gid])),
    }
}

#[derive(Serialize, Debug)]
pub struct UnshareTry {
    pub uid: u32,
    /// `"ok"` or the errno of unsharing `namespaces` alone.
    pub without_userns: String,
    /// `"ok"` or the errno of unsharing them together with a new user
    /// namespace.
    pub with_userns: String,
    /// The capability sets held before any unshare (`caps`) and what an
    /// exec got then (`exec_self`).
    #[serde(flatten)]
    pub caps: super::caps::CapsReport,
}

/// Tries to create namespaces without and then with a user namespace, as
/// whatever user the sandbox runs as. (Ends the process's use of its
/// namespaces: a probe's last act.)
pub fn try_unshare(
    namespaces: &[crate::model::namespace::Namespace],
    exec_self: bool,
) -> UnshareTry {
    use nix::sched::{unshare, CloneFlags};
    // Before the unshares: a new user namespace gives every capability.
    let caps = super::caps::report(exec_self);
    let flags = namespaces
        .iter()
        .fold(CloneFlags::empty(), |f, n| f | n.clone_flag());
    let uid = nix::unistd::getuid().as_raw();
    let kinds: Vec<CloneFlags> = namespaces.iter().map(|n| n.clone_flag()).collect();
    let without_userns = each_alone(&kinds, unshare);
    let with_userns = outcome(unshare(flags | CloneFlags::CLONE_NEWUSER));
    UnshareTry {
        uid,
        without_userns,
        with_userns,
        caps,
    }
}

/// Each kind tried alone: one call for all would fail as a whole on the
/// first kind refused, and hide another the kernel wrongly allowed. The
/// first answer that is not EPERM, else EPERM; with no kinds, the answer
/// to an empty unshare.
fn each_alone(
    kinds: &[nix::sched::CloneFlags],
    mut try_one: impl FnMut(nix::sched::CloneFlags) -> nix::Result<()>,
) -> String {
    if kinds.is_empty() {
        return outcome(try_one(nix::sched::CloneFlags::empty()));
    }
    kinds
        .iter()
        .map(|&k| outcome(try_one(k)))
        .find(|o| o != "EPERM")
        .unwrap_or_else(|| "EPERM".into())
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `ipc-view`: looks for the helper's System V segment and POSIX message
/// queue.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IpcViewArgs {}

impl Def for IpcViewArgs {
    type Output = IpcView;
    fn run(&self) -> IpcView {
        ipc_view()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.shm", Ty::Outcome));
        v.push(f("probe.mq", Ty::Outcome));
    }
}

/// `clocks`: CLOCK_MONOTONIC and CLOCK_BOOTTIME as the sandbox reads them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClocksArgs {}

impl Def for ClocksArgs {
    type Output = Clocks;
    fn run(&self) -> Clocks {
        clocks()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.monotonic_s", Ty::SINT));
        v.push(f("probe.boottime_s", Ty::SINT));
    }
}

/// `cgroup-view`: the sandbox's cgroup paths from /proc/self/cgroup.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CgroupViewArgs {}

impl Def for CgroupViewArgs {
    type Output = CgroupView;
    fn run(&self) -> CgroupView {
        cgroup_view()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.extend(list("probe.paths", Ty::Str));
        v.push(f("probe.all_root", Ty::Bool));
    }
}

/// `connect-listener`: a TCP connect to the helper's listener on
/// 127.0.0.1.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ConnectListenerArgs {}

impl Def for ConnectListenerArgs {
    type Output = Connect;
    fn run(&self) -> Connect {
        connect_listener()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.connect", Ty::Outcome));
        v.push(opt("probe.port", Ty::UINT));
    }
}

/// `ids`: the sandbox's ids, and whether setgroups is allowed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdsArgs {}

impl Def for IdsArgs {
    type Output = Ids;
    fn run(&self) -> Ids {
        ids()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.uid", Ty::UINT));
        v.push(f("probe.gid", Ty::UINT));
        v.push(f("probe.euid", Ty::UINT));
        v.push(f("probe.setgroups", Ty::Outcome));
    }
}

/// `try-unshare`: tries to create `namespaces` without a user namespace,
/// each kind alone (`without_userns`: the first answer that is not EPERM,
/// else EPERM), then all together with one (`with_userns`); reports the
/// capability sets held before (and with `exec_self` what an exec gets).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TryUnshareArgs {
    pub namespaces: Vec<crate::model::namespace::Namespace>,
    #[serde(default)]
    pub exec_self: bool,
}

impl Def for TryUnshareArgs {
    type Output = UnshareTry;
    fn run(&self) -> UnshareTry {
        try_unshare(&self.namespaces, self.exec_self)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.uid", Ty::UINT));
        v.push(f("probe.without_userns", Ty::Outcome));
        v.push(f("probe.with_userns", Ty::Outcome));
        schema::caps(v, self.exec_self);
    }
    fn execs_isocheck(&self) -> bool {
        self.exec_self
    }
    fn namespaces_made(&self) -> Vec<crate::model::namespace::Namespace> {
        self.namespaces.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_tried_alone_so_one_allowed_kind_shows() {
        use nix::errno::Errno;
        use nix::sched::CloneFlags as F;
        let kinds = [
            F::CLONE_NEWPID,
            F::CLONE_NEWNS,
            F::CLONE_NEWUTS,
            F::CLONE_NEWNET,
        ];
        // A kernel that lets the user make a network namespace alone: one
        // call for all four fails on the first and would hide it.
        let net_leaks = |f: F| {
            if f == F::CLONE_NEWNET {
                Ok(())
            } else {
                Err(Errno::EPERM)
            }
        };
        assert_eq!(each_alone(&kinds, net_leaks), "ok");
        let mut tried = Vec::new();
        let all_refused = |f: F| {
            tried.push(f);
            Err(Errno::EPERM)
        };
        assert_eq!(each_alone(&kinds, all_refused), "EPERM");
        assert_eq!(tried, kinds);
        assert_eq!(
            each_alone(&[F::CLONE_NEWNET], |_| Err(Errno::EINVAL)),
            "EINVAL"
        );
        assert_eq!(
            each_alone(&[], |f| if f.is_empty() {
                Ok(())
            } else {
                Err(Errno::EPERM)
            }),
            "ok"
        );
    }
}
