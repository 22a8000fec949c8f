//! The sabotage catalogue: named, realistic one-line bugs at the real steps
//! of the runtime core. It proves that the suite watches every step: a
//! sabotage whose cases stay green is a step no probe looks at. Which
//! cases each must break is the suite's to say: every table row names the
//! sabotages that break it (`broken_by`), so a new property adds no entry
//! here; only a new step of the runtime does.
//!
//! The catalogue below is plain data, compiled into every build so that it
//! can be listed and checked without running anything. The hooks that
//! inject a bug exist only with the cargo feature `sabotage`: without it
//! [`hit`] is a `const fn` returning `false`, so every hook folds away and
//! the binary the README's commands build carries none of them.
//!
//! With the feature, `ISOCHECK_SABOTAGE=<name>` chooses one sabotage for
//! the whole process tree (the runner, the `__sandbox` helper it starts,
//! the rootless worker and the sandbox, which inherit the variable). A hook
//! records that its step really ran with the bug ([`hit`]); the helper and
//! the sandbox send those records back with their report, and every
//! observation carries them as `sabotage_fired`. A sabotage whose step
//! never ran on a host (a cgroup v2 limit on a host whose controller lives
//! on v1) is "not exercised here", never counted as proven.

use serde::Serialize;

/// The variable that names the active sabotage.
pub const ENV: &str = "ISOCHECK_SABOTAGE";

/// This binary was built with the feature `sabotage`.
pub const ENABLED: bool = cfg!(feature = "sabotage");

/// One sabotage of the catalogue.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sabotage {
    NsPidDropped,
    NsMountDropped,
    NsUtsDropped,
    NsIpcDropped,
    NsNetDropped,
    NsUserDropped,
    NsCgroupDropped,
    CgroupNsBeforeJoin,
    NsTimeDropped,
    TimeOffsetsNotWritten,
    HostnameNotSet,
    ProcNotFresh,
    RoRemountSkipped,
    SkeletonBindsWritable,
    DevHostBound,
    SysfsWritable,
    IdmappedBindPlain,
    MaskedPathsSkipped,
    ReadonlyPathsSkipped,
    PropagationShared,
    OldRootAttached,
    BoundingDropSkipped,
    AmbientRaised,
    InheritableFull,
    EffectiveNotReduced,
    PermittedNotReduced,
    CapSetsNotApplied,
    KeepCapsAlways,
    IdmapIdentity,
    SetgroupsDenySkipped,
    SubidRangeFromOne,
    CgroupJoinSkipped,
    CloneIntoCgroupIgnored,
    CgroupKillSkipped,
    V1MemoryLimitSkipped,
    V2MemoryLimitSkipped,
    V1PidsLimitSkipped,
    V2PidsLimitSkipped,
    V1CpuQuotaSkipped,
    V2CpuQuotaSkipped,
    CpuPeriodHalved,
    NoNewPrivsSkipped,
    SeccompNotInstalled,
    LandlockNotApplied,
    V2MemoryHighSkipped,
    SeccompListenerFlagDropped,
    FileCapsNotStripped,
    VethDefaultRoute,
    JoinerMountNsSkipped,
}

/// The outcome a broken case must have.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    /// The probe sees the broken promise.
    Fail,
    /// A precondition (or the kernel itself) refuses first; the case is an
    /// error, never a pass. A `fail` is accepted too: it shows more.
    Error,
}

impl Expected {
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Fail => "fail",
            Expected::Error => "error",
        }
    }
}

/// One catalogue entry.
#[derive(Serialize, Clone, Copy, Debug)]
pub struct Entry {
    pub id: Sabotage,
    /// The name `ISOCHECK_SABOTAGE` takes.
    pub name: &'static str,
    /// Where the bug sits: file and step of the runtime core.
    pub step: &'static str,
    /// The bug, in one line.
    pub bug: &'static str,
    /// Where the step may not run at all (and why), for the reader of a
    /// "not exercised here".
    pub runs_only: &'static str,
}

macro_rules! entry {
    ($id:ident, $name:literal, $step:literal, $bug:literal $(, $only:literal)?) => {
        Entry {
            id: Sabotage::$id,
            name: $name,
            step: $step,
            bug: $bug,
            runs_only: entry!(@only $($only)?),
        }
    };
    (@only) => { "" };
    (@only $s:literal) => { $s };
}

/// The catalogue, by the sandbox's life: namespaces, the root and its
/// mounts, capabilities and ids, id maps, cgroups, the security layer,
/// exec copies, veth and the joiner.
pub const CATALOGUE: &[Entry] = &[
    entry!(NsPidDropped, "ns-pid-dropped", "helper.rs: clone",
        "CLONE_NEWPID left out of the sandbox's clone flags: it shares the helper's PID namespace"),
    entry!(NsMountDropped, "ns-mount-dropped", "helper.rs: clone",
        "CLONE_NEWNS left out of the clone flags: the sandbox mounts in the helper's namespace (which the catalogue first makes a throwaway one)"),
    entry!(NsUtsDropped, "ns-uts-dropped", "helper.rs: clone",
        "CLONE_NEWUTS left out of the clone flags: the sandbox's hostname lands in the helper's UTS namespace (a throwaway one)"),
    entry!(NsIpcDropped, "ns-ipc-dropped", "helper.rs: clone",
        "CLONE_NEWIPC left out of the clone flags: the sandbox sees the IPC objects outside"),
    entry!(NsNetDropped, "ns-net-dropped", "helper.rs: clone",
        "CLONE_NEWNET left out of the clone flags: the sandbox shares the outer network namespace (a throwaway one with lo up)"),
    entry!(NsUserDropped, "ns-user-dropped", "helper.rs: clone",
        "CLONE_NEWUSER left out of the clone flags: the sandbox keeps the helper's ids and powers (the requirement probe's own uid_map write fails first)"),
    entry!(NsCgroupDropped, "ns-cgroup-dropped", "init.rs: unshare-cgroup",
        "the sandbox never unshares its cgroup namespace"),
    entry!(CgroupNsBeforeJoin, "cgroup-ns-before-join", "helper.rs: clone; init.rs: unshare-cgroup",
        "CLONE_NEWCGROUP given at clone time, before the sandbox is moved into its cgroup: the namespace's root is the helper's cgroup",
        "in rootful mode only: rootless, the worker joins the sandbox's cgroup before the clone, so the early namespace has the right root and the bug is harmless"),
    entry!(NsTimeDropped, "ns-time-dropped", "helper.rs: enter_outer",
        "the helper does not unshare CLONE_NEWTIME (and so writes no offsets): the sandbox reads the host's clocks"),
    entry!(TimeOffsetsNotWritten, "time-offsets-not-written", "helper.rs: timens_offsets",
        "the time namespace is made but its offsets are never written"),
    entry!(HostnameNotSet, "hostname-not-set", "init.rs: sethostname",
        "the sandbox's hostname is never set"),
    entry!(ProcNotFresh, "proc-not-fresh", "mounts.rs: mount-proc",
        "/proc is a recursive bind of the helper's /proc instead of a fresh proc of the sandbox's PID namespace"),
    entry!(RoRemountSkipped, "ro-remount-skipped", "mounts.rs: remount-ro",
        "a read-only bind is never remounted read-only (every bind: the spec's, the skeleton's, the read-only paths)"),
    entry!(SkeletonBindsWritable, "skeleton-binds-writable", "mounts.rs: skeleton",
        "the skeleton's host binds (/usr, /bin, /lib ...) are made read-write"),
    entry!(DevHostBound, "dev-host-bound", "mounts.rs: skeleton devices",
        "the host's whole /dev is bound into the skeleton instead of the minimal devices"),
    entry!(SysfsWritable, "sysfs-writable", "mounts.rs: mount-sysfs",
        "a read-only sysfs is mounted read-write"),
    entry!(IdmappedBindPlain, "idmapped-bind-plain", "mounts.rs: bind_idmapped (mount_setattr)",
        "an idmapped bind is attached without MOUNT_ATTR_IDMAP: its files show their owners on disk",
        "only where the kernel and the scratch directory's file system support idmapped mounts"),
    entry!(MaskedPathsSkipped, "masked-paths-skipped", "init.rs: mask",
        "the masked paths are never masked"),
    entry!(ReadonlyPathsSkipped, "readonly-paths-skipped", "init.rs: readonly_path",
        "the read-only paths are never bound read-only"),
    entry!(PropagationShared, "propagation-shared", "init.rs: make-slave",
        "slave propagation written as shared: the sandbox's mounts reach the namespace outside"),
    entry!(OldRootAttached, "old-root-attached", "init.rs: detach-old-root",
        "after pivot_root the old root is never detached"),
    entry!(BoundingDropSkipped, "bounding-drop-skipped", "init.rs: drop_bounding",
        "the bounding set is never reduced: an exec can regain a dropped capability"),
    entry!(AmbientRaised, "ambient-raised", "init.rs: capset Ambient",
        "the ambient set is written with the dropped capabilities added instead of removed; the kernel refuses an ambient capability outside permitted and inheritable (an ambient step merely skipped leaks nothing: the kernel lowers ambient capabilities with the inheritable and permitted drops)"),
    entry!(InheritableFull, "inheritable-full", "init.rs: capset Inheritable",
        "the inheritable set is written with every permitted capability, the drop not applied (root would regain it on exec); the kernel refuses a capability the bounding set lacks"),
    entry!(EffectiveNotReduced, "effective-not-reduced", "init.rs: capset Effective",
        "the effective set is written without the drop; the kernel then refuses the smaller permitted set"),
    entry!(PermittedNotReduced, "permitted-not-reduced", "init.rs: capset Permitted",
        "the permitted set is never reduced: the sandbox can raise a dropped capability again"),
    entry!(CapSetsNotApplied, "cap-sets-not-applied", "init.rs: set_cap_sets",
        "the ambient, inheritable, effective and permitted sets are never written"),
    entry!(KeepCapsAlways, "keep-caps-always", "init.rs: keepcaps",
        "PR_SET_KEEPCAPS is set across every uid change and never cleared: the unprivileged user keeps a full permitted set"),
    entry!(IdmapIdentity, "idmap-identity", "helper.rs: prepare_child (uid_map, gid_map)",
        "the sandbox's uid and gid maps are written as identity maps (inside = outside)"),
    entry!(SetgroupsDenySkipped, "setgroups-deny-skipped", "idmap.rs: setgroups",
        "`deny` is never written to setgroups"),
    entry!(SubidRangeFromOne, "subid-range-from-one", "rootless.rs: for_runner",
        "the rootless namespace's subordinate range starts at host id 1 instead of 100001",
        "only when isocheck runs as root (it then writes the rootless maps itself)"),
    entry!(CgroupJoinSkipped, "cgroup-join-skipped", "helper.rs: clone3 into cgroup, join-cgroup; rootless.rs: join-delegated-cgroup",
        "the sandbox is never placed in its cgroup (neither born there nor moved): no limit applies to it"),
    entry!(CloneIntoCgroupIgnored, "clone-into-cgroup-ignored", "helper.rs: clone3 (CLONE_INTO_CGROUP)",
        "CLONE_INTO_CGROUP left out of clone3's flags while the runtime believes the sandbox was born in its cgroup, so it never moves it: the sandbox stays in the helper's cgroup",
        "only in rootful mode where the sandbox's cgroup is on cgroup2 and the kernel has CLONE_INTO_CGROUP (5.7); rootless, the worker joins the delegated cgroup itself"),
    entry!(CgroupKillSkipped, "cgroup-kill-skipped", "helper.rs: cgroup.kill (leftovers)",
        "the write of 1 to the sandbox's cgroup.kill is left out while the runtime records it as done: a task that left the session lives on",
        "only where the kernel has cgroup.kill (5.14) and a sandbox asks for it"),
    entry!(V1MemoryLimitSkipped, "v1-memory-limit-skipped", "cgroups/v1.rs: memory.limit_in_bytes",
        "the v1 memory limit is never written",
        "only where the memory controller is on cgroup v1"),
    entry!(V2MemoryLimitSkipped, "v2-memory-limit-skipped", "cgroups/v2.rs: memory.max",
        "the v2 memory limit is never written",
        "only where the memory controller is on cgroup v2"),
    entry!(V1PidsLimitSkipped, "v1-pids-limit-skipped", "cgroups/v1.rs: pids.max",
        "the v1 pids limit is never written",
        "only where the pids controller is on cgroup v1"),
    entry!(V2PidsLimitSkipped, "v2-pids-limit-skipped", "cgroups/v2.rs: pids.max",
        "the v2 pids limit is never written",
        "only where the pids controller is on cgroup v2"),
    entry!(V1CpuQuotaSkipped, "v1-cpu-quota-skipped", "cgroups/v1.rs: cpu.cfs_quota_us",
        "the v1 CPU quota is never written",
        "only where the cpu controller is on cgroup v1"),
    entry!(V2CpuQuotaSkipped, "v2-cpu-quota-skipped", "cgroups/v2.rs: cpu.max",
        "the v2 CPU quota is never written",
        "only where the cpu controller is on cgroup v2"),
    entry!(CpuPeriodHalved, "cpu-period-halved", "cgroups/v1.rs: cpu.cfs_period_us; cgroups/v2.rs: cpu.max",
        "the CPU period is written as half the one asked, with the quota as asked: the sandbox gets twice its share of a CPU",
        "only where a cgroup has the cpu controller"),
    entry!(NoNewPrivsSkipped, "no-new-privs-skipped", "init.rs: no_new_privs",
        "PR_SET_NO_NEW_PRIVS is never set"),
    entry!(SeccompNotInstalled, "seccomp-not-installed", "init.rs: seccomp",
        "the seccomp filter is compiled but never installed"),
    entry!(LandlockNotApplied, "landlock-not-applied", "init.rs: landlock",
        "the Landlock ruleset is never applied: the sandbox reads beyond its allowed paths",
        "only where the kernel offers Landlock"),
    entry!(V2MemoryHighSkipped, "v2-memory-high-skipped", "cgroups/v2.rs: memory.high",
        "the v2 memory.high limit is never written",
        "only where the memory controller is on cgroup v2"),
    entry!(SeccompListenerFlagDropped, "seccomp-listener-flag-dropped", "init.rs: seccomp-notify",
        "the user-notification filter is installed without SECCOMP_FILTER_FLAG_NEW_LISTENER: no listener reaches the supervisor"),
    entry!(FileCapsNotStripped, "file-caps-not-stripped", "execcopy.rs: effective_file_caps",
        "an exec copy that should lose its file capabilities keeps them"),
    entry!(VethDefaultRoute, "veth-default-route", "veth.rs: attach (sandbox end)",
        "the sandbox's end of the veth pair gets a default route through the peer: addresses beyond the pair are reachable"),
    entry!(JoinerMountNsSkipped, "joiner-mount-ns-skipped", "join.rs: setns mnt",
        "the joiner enters the sandbox's PID namespace but not its mount namespace"),
];

/// Properties no sabotage can break, with why. Every other property is
/// broken by at least one entry.
pub const EXCUSED: &[(&str, &str)] = &[];

/// The entry named `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    CATALOGUE.iter().find(|e| e.name == name)
}

impl Sabotage {
    pub fn entry(self) -> &'static Entry {
        CATALOGUE
            .iter()
            .find(|e| e.id == self)
            .expect("every sabotage has a catalogue entry")
    }

    pub fn name(self) -> &'static str {
        self.entry().name
    }
}

/// Whether the variable names a sabotage this build knows; the error says
/// which names there are.
pub fn check_env() -> Result<Option<&'static Entry>, String> {
    match std::env::var(ENV) {
        Err(_) => Ok(None),
        Ok(name) if name.is_empty() => Ok(None),
        Ok(name) => {
            if !ENABLED {
                return Err(format!(
                    "{ENV}={name}: this binary was built without the feature `sabotage`"
                ));
            }
            find(&name).map(Some).ok_or_else(|| {
                format!("{ENV}={name}: no such sabotage (`isocheck sabotage --list` lists them)")
            })
        }
    }
}

#[cfg(feature = "sabotage")]
mod hooks {
    use super::Sabotage;
    use std::cell::RefCell;
    use std::sync::OnceLock;

    thread_local! {
        static FIRED: RefCell<Vec<Sabotage>> = const { RefCell::new(Vec::new()) };
    }

    pub fn active() -> Option<Sabotage> {
        static ACTIVE: OnceLock<Option<Sabotage>> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            std::env::var(super::ENV)
                .ok()
                .and_then(|n| super::find(&n))
                .map(|e| e.id)
        })
    }

    pub fn hit(s: Sabotage) -> bool {
        if active() != Some(s) {
            return false;
        }
        FIRED.with(|f| {
            let mut f = f.borrow_mut();
            if !f.contains(&s) {
                f.push(s);
            }
        });
        true
    }

    pub fn take_fired() -> Vec<String> {
        FIRED.with(|f| {
            f.borrow_mut()
                .drain(..)
                .map(|s| s.name().to_string())
                .collect()
        })
    }
}

/// Whether the sabotage `s` is active; if it is, its step is running now
/// with the bug, and that is recorded. Call it exactly where the step runs.
#[cfg(feature = "sabotage")]
pub fn hit(s: Sabotage) -> bool {
    hooks::hit(s)
}

/// Without the feature no sabotage is ever active.
#[cfg(not(feature = "sabotage"))]
#[inline(always)]
pub const fn hit(_: Sabotage) -> bool {
    false
}

/// The sabotages whose steps ran with their bug in this thread since the
/// last call (a process's own in the helper and the sandbox, which are
/// single-threaded).
#[cfg(feature = "sabotage")]
pub fn take_fired() -> Vec<String> {
    hooks::take_fired()
}

#[cfg(not(feature = "sabotage"))]
#[inline(always)]
pub fn take_fired() -> Vec<String> {
    Vec::new()
}

/// Adds `more` to `into`, each name once, sorted.
pub fn merge(into: &mut Vec<String>, more: Vec<String>) {
    into.extend(more);
    into.sort();
    into.dedup();
}

/// The sandbox's clone flags (`flags`, for its `namespaces` and `outer`
/// ones), with the namespace a `ns-*-dropped` sabotage
/// leaves out (or the cgroup namespace `cgroup-ns-before-join` adds). So
/// that a dropped namespace never lands on the host, the helper first
/// enters a throwaway one of that kind (unless the spec's `outer` already
/// made one): the sandbox's leak lands there, where the probes see it.
#[cfg(feature = "sabotage")]
pub fn clone_flags(
    flags: nix::sched::CloneFlags,
    namespaces: &std::collections::BTreeSet<crate::model::namespace::Namespace>,
    outer: &std::collections::BTreeSet<crate::model::namespace::Namespace>,
) -> Result<nix::sched::CloneFlags, crate::model::error::StepError> {
    use crate::model::error::StepError;
    use crate::model::namespace::Namespace as N;
    use nix::mount::MsFlags;
    use nix::sched::CloneFlags as C;
    let mut flags = flags;
    let [(cgroup, before_join), dropping @ ..] = CLONE_SABOTAGES;
    if namespaces.contains(&cgroup) && hit(before_join) {
        flags |= C::CLONE_NEWCGROUP;
    }
    let dropped = dropping
        .into_iter()
        .find(|(ns, s)| namespaces.contains(ns) && hit(*s));
    let Some((ns, _)) = dropped else {
        return Ok(flags);
    };
    flags.remove(ns.clone_flag());
    let fail = |what: &str, e| StepError::new(what, ns.as_str(), e);
    let throwaway = matches!(ns, N::Mount | N::Uts | N::Ipc | N::Net) && !outer.contains(&ns);
    if throwaway {
        nix::sched::unshare(ns.clone_flag()).map_err(|e| fail("sabotage-throwaway", e))?;
        match ns {
            N::Mount => nix::mount::mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(|e| fail("sabotage-throwaway-private", e))?,
            N::Net => crate::sys::loopback_up().map_err(|e| fail("sabotage-throwaway-lo", e))?,
            _ => {}
        }
    }
    Ok(flags)
}

/// The sabotages that change the sandbox's clone flags, with the namespace
/// of the sandbox's each needs to act.
#[cfg(feature = "sabotage")]
const CLONE_SABOTAGES: [(crate::model::namespace::Namespace, Sabotage); 7] = {
    use crate::model::namespace::Namespace as N;
    [
        (N::Cgroup, Sabotage::CgroupNsBeforeJoin),
        (N::Pid, Sabotage::NsPidDropped),
        (N::Mount, Sabotage::NsMountDropped),
        (N::Uts, Sabotage::NsUtsDropped),
        (N::Ipc, Sabotage::NsIpcDropped),
        (N::Net, Sabotage::NsNetDropped),
        (N::User, Sabotage::NsUserDropped),
    ]
};

/// Whether the active sabotage would change the clone of a sandbox with
/// these namespaces ([`clone_flags`]); asked without firing it. A dropped
/// namespace makes the cloning process unshare a throwaway one for good,
/// so such a sandbox must be cloned from a helper of its own.
#[cfg(feature = "sabotage")]
pub fn alters_clone(
    namespaces: &std::collections::BTreeSet<crate::model::namespace::Namespace>,
) -> bool {
    hooks::active().is_some_and(|active| {
        CLONE_SABOTAGES
            .iter()
            .any(|(ns, s)| *s == active && namespaces.contains(ns))
    })
}

/// Without the feature: no sabotage changes a clone.
#[cfg(not(feature = "sabotage"))]
#[inline(always)]
pub fn alters_clone(
    _namespaces: &std::collections::BTreeSet<crate::model::namespace::Namespace>,
) -> bool {
    false
}

/// Without the feature: the spec's own clone flags.
#[cfg(not(feature = "sabotage"))]
#[inline(always)]
pub fn clone_flags(
    flags: nix::sched::CloneFlags,
    _namespaces: &std::collections::BTreeSet<crate::model::namespace::Namespace>,
    _outer: &std::collections::BTreeSet<crate::model::namespace::Namespace>,
) -> Result<nix::sched::CloneFlags, crate::model::error::StepError> {
    Ok(flags)
}

/// A default route through `gateway` on the link `index`: what the
/// `veth-default-route` sabotage adds in the sandbox.
pub fn default_route(
    index: u32,
    gateway: std::net::Ipv4Addr,
) -> netlink_packet_route::RouteNetlinkMessage {
    use netlink_packet_route::route::{
        RouteAddress, RouteAttribute, RouteMessage, RouteProtocol, RouteScope, RouteType,
    };
    use netlink_packet_route::AddressFamily;
    let mut m = RouteMessage::default();
    m.header.address_family = AddressFamily::Inet;
    m.header.destination_prefix_length = 0;
    m.header.table = netlink_packet_route::route::RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = RouteScope::Universe;
    m.header.kind = RouteType::Unicast;
    m.attributes = vec![
        RouteAttribute::Gateway(RouteAddress::Inet(gateway)),
        RouteAttribute::Oif(index),
    ];
    netlink_packet_route::RouteNetlinkMessage::NewRoute(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_and_every_sabotage_has_one_entry() {
        let names: BTreeSet<&str> = CATALOGUE.iter().map(|e| e.name).collect();
        assert_eq!(names.len(), CATALOGUE.len(), "duplicate names");
        let ids: BTreeSet<Sabotage> = CATALOGUE.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), CATALOGUE.len(), "duplicate ids");
        assert!(CATALOGUE.len() >= 30, "{} sabotages", CATALOGUE.len());
        for e in CATALOGUE {
            assert_eq!(e.id.entry().name, e.name);
            assert_eq!(find(e.name).map(|f| f.id), Some(e.id));
            assert!(
                e.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                e.name
            );
            assert!(!e.step.is_empty() && !e.bug.is_empty(), "{}", e.name);
        }
    }

    #[test]
    fn the_catalogue_lists_every_step_of_the_sandboxs_life() {
        // Each namespace flag, each capability set, each cgroup limit on
        // both versions: one sabotage each at least.
        for word in [
            "ns-pid",
            "ns-mount",
            "ns-uts",
            "ns-ipc",
            "ns-net",
            "ns-user",
            "ns-cgroup",
            "ns-time",
            "bounding",
            "ambient",
            "inheritable",
            "effective",
            "permitted",
            "keep-caps",
            "old-root",
            "idmap",
            "setgroups",
            "subid",
            "v1-memory",
            "v2-memory",
            "v1-pids",
            "v2-pids",
            "v1-cpu",
            "v2-cpu",
            "no-new-privs",
            "seccomp",
            "landlock",
            "v2-memory-high",
            "masked",
            "readonly-paths",
            "propagation",
            "file-caps",
            "veth",
            "joiner",
            "proc-not-fresh",
            "ro-remount",
            "skeleton-binds",
        ] {
            assert!(
                CATALOGUE.iter().any(|e| e.name.contains(word)),
                "no sabotage for {word}"
            );
        }
    }

    #[test]
    fn without_a_variable_nothing_is_active() {
        if std::env::var_os(ENV).is_none() {
            assert!(matches!(check_env(), Ok(None)));
            assert!(!hit(Sabotage::NsPidDropped));
        }
    }
}
