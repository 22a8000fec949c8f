//! Requirements as data, each decided by a probe of this host (never by a
//! version string). An unmet one turns a case into a skip whose reason says
//! which probe decided it and what it saw.
//!
//! Only the host's own answer makes a skip: the errno of the namespace or
//! cgroup operation itself, a sysctl, a security module. A probe that could
//! not get that answer (the helper did not start or was killed, a
//! descriptor limit, a protocol error, a sandbox that died before it
//! reported) decides nothing: the requirement is `harness-failed` and the
//! cases that need it are errors.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::gates;
use crate::model::cgroup::Layout;
use crate::model::error::StepError;
use crate::model::host::HostFacts;
use crate::model::namespace::Namespace;
use crate::model::result::{Reason, ReasonKind, RequirementCheck};
use crate::runtime::cgroups::{self, ControllerHome};
use crate::runtime::spawn::{Observation, SpawnError};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// `root`: uid 0 with the capabilities rootful sandboxes use effective
    /// and in the bounding set, in the initial user namespace.
    Root,
    /// `namespace <kind>`: the kernel offers this namespace kind.
    Namespace(Namespace),
    /// `userns`: an unprivileged user may create a user namespace and use
    /// the capabilities it gets there.
    Userns,
    /// `id-range`: the rootless user namespace maps a range of ids, not
    /// only its root.
    IdRange,
    /// `setfcap`: isocheck may write file capabilities (CAP_SETFCAP), as
    /// rows whose exec copy carries them need.
    Setfcap,
    /// `privileged-exec`: an exec in a sandbox may gain privileges (a
    /// setuid-root file, file capabilities): isocheck does not run with
    /// no_new_privs, which every sandbox would inherit and none could unset.
    PrivilegedExec,
    /// `subid-tools`: newuidmap and newgidmap are there, setuid root, and
    /// /etc/subuid and /etc/subgid grant the rootless user a range.
    SubidTools,
    /// `kconfig CONFIG_X`: the kernel was built with the option (y or m).
    Kconfig(String),
    /// `cgroup-controller <name>`: the controller is usable by isocheck.
    CgroupController(String),
    /// `kernel-feature <name>`: see [`KernelFeature`].
    KernelFeature(KernelFeature),
}

/// A kernel feature a requirement can name, decided by trying it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelFeature {
    /// `pidfd`: pidfd_open(2) works.
    Pidfd,
    /// `time-ns`: the kernel offers time namespaces.
    TimeNs,
    /// `idmapped-mount`: a rootful sandbox can make an idmapped bind of a
    /// case's scratch directory (open_tree, mount_setattr with
    /// MOUNT_ATTR_IDMAP, move_mount), which needs the system calls and
    /// idmap support in the scratch directory's file system.
    IdmappedMount,
    /// `listmount-foreign`: listmount(2) lists a mount namespace named by
    /// its id (`mnt_id_req.mnt_ns_id`, the id from `NS_GET_MNTNS_ID`).
    ListmountForeign,
    /// `landlock`: landlock_create_ruleset(2) answers with an ABI version.
    Landlock,
    /// `memory-high`: the memory controller is on cgroup v2 here, whose
    /// cgroups have memory.high (v1 has no such limit).
    MemoryHigh,
    /// `memory-peak`: a memory cgroup here keeps a high-water mark (v2
    /// memory.peak, v1 memory.max_usage_in_bytes).
    MemoryPeak,
    /// `seccomp-user-notif`: the kernel knows the seccomp action
    /// `SECCOMP_RET_USER_NOTIF` (asked with `SECCOMP_GET_ACTION_AVAIL`,
    /// which installs nothing).
    SeccompUserNotif,
    /// `clone-into-cgroup`: a cgroup2 hierarchy is mounted and `clone3`
    /// knows `CLONE_INTO_CGROUP`.
    CloneIntoCgroup,
    /// `cgroup-kill`: a cgroup2 hierarchy is mounted and its cgroups have
    /// a `cgroup.kill` file.
    CgroupKill,
    /// `cgroup-v1`: a cgroup v1 hierarchy holding a controller exists
    /// (`/proc/cgroups` lists one at a hierarchy other than 0).
    CgroupV1,
}

impl KernelFeature {
    pub const ALL: [KernelFeature; 11] = [
        KernelFeature::Pidfd,
        KernelFeature::TimeNs,
        KernelFeature::IdmappedMount,
        KernelFeature::ListmountForeign,
        KernelFeature::Landlock,
        KernelFeature::MemoryHigh,
        KernelFeature::MemoryPeak,
        KernelFeature::SeccompUserNotif,
        KernelFeature::CloneIntoCgroup,
        KernelFeature::CgroupKill,
        KernelFeature::CgroupV1,
    ];

    /// The name a table writes.
    pub fn as_str(self) -> &'static str {
        match self {
            KernelFeature::Pidfd => "pidfd",
            KernelFeature::TimeNs => "time-ns",
            KernelFeature::IdmappedMount => "idmapped-mount",
            KernelFeature::ListmountForeign => "listmount-foreign",
            KernelFeature::Landlock => "landlock",
            KernelFeature::MemoryHigh => "memory-high",
            KernelFeature::MemoryPeak => "memory-peak",
            KernelFeature::SeccompUserNotif => "seccomp-user-notif",
            KernelFeature::CloneIntoCgroup => "clone-into-cgroup",
            KernelFeature::CgroupKill => "cgroup-kill",
            KernelFeature::CgroupV1 => "cgroup-v1",
        }
    }
}

impl std::fmt::Display for KernelFeature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a requirement's word takes after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Nothing: `root`.
    Nothing,
    /// A namespace kind: `namespace pid`.
    Namespace,
    /// A kernel config option: `kconfig CONFIG_USER_NS`.
    Kconfig,
    /// A cgroup controller's name: `cgroup-controller memory`.
    Controller,
    /// A [`KernelFeature`]: `kernel-feature pidfd`.
    Feature,
}

/// A requirement's argument, read and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReqArg {
    Nothing,
    Namespace(Namespace),
    Text(String),
    Feature(KernelFeature),
}

impl ArgKind {
    /// How the argument is written in a requirement's form.
    fn placeholder(self) -> String {
        match self {
            ArgKind::Nothing => String::new(),
            ArgKind::Namespace => " <kind>".into(),
            ArgKind::Kconfig => " CONFIG_<NAME>".into(),
            ArgKind::Controller => " <name>".into(),
            ArgKind::Feature => format!(
                " <{}>",
                KernelFeature::ALL.map(KernelFeature::as_str).join("|")
            ),
        }
    }

    /// Reads the argument as written.
    fn parse(self, arg: &str) -> Result<ReqArg, String> {
        match self {
            ArgKind::Nothing => Ok(ReqArg::Nothing),
            ArgKind::Namespace => Namespace::parse(arg)
                .map(ReqArg::Namespace)
                .ok_or_else(|| format!("unknown namespace `{arg}`")),
            ArgKind::Kconfig if arg.starts_with("CONFIG_") => Ok(ReqArg::Text(arg.into())),
            ArgKind::Kconfig => Err(format!("kconfig option `{arg}` must start with CONFIG_")),
            ArgKind::Controller => Ok(ReqArg::Text(arg.into())),
            ArgKind::Feature => KernelFeature::ALL
                .into_iter()
                .find(|f| f.as_str() == arg)
                .map(ReqArg::Feature)
                .ok_or_else(|| {
                    format!(
                        "unknown kernel feature `{arg}`; known: {}",
                        KernelFeature::ALL.map(KernelFeature::as_str).join(", ")
                    )
                }),
        }
    }
}

/// One requirement, defined once: its word, its argument, what it means,
/// how it is built from its argument and how its argument is shown.
pub struct RequirementDef {
    /// The word a table writes: `root`, `kconfig`.
    pub word: &'static str,
    pub arg: ArgKind,
    /// What must hold on the host.
    pub doc: &'static str,
    build: fn(ReqArg) -> Option<Requirement>,
    /// This entry's requirement's argument as written (empty for none);
    /// `None` for another entry's requirement.
    shown: fn(&Requirement) -> Option<String>,
}

impl RequirementDef {
    /// The requirement as a table writes it: `` `namespace <kind>` ``.
    pub fn form(&self) -> String {
        format!("`{}{}`", self.word, self.arg.placeholder())
    }
}

/// Every requirement a row can declare. How each is decided is
/// [`decide`]'s.
pub static REQUIREMENTS: &[RequirementDef] = &[
    RequirementDef {
        word: "root",
        arg: ArgKind::Nothing,
        doc: "uid 0 with the capabilities rootful sandboxes use (CAP_SYS_ADMIN, CAP_SETUID ...) effective and in the bounding set, in the initial user namespace",
        build: |_| Some(Requirement::Root),
        shown: |r| matches!(r, Requirement::Root).then(String::new),
    },
    RequirementDef {
        word: "userns",
        arg: ArgKind::Nothing,
        doc: "an unprivileged user may create a user namespace and use the capabilities it gets there",
        build: |_| Some(Requirement::Userns),
        shown: |r| matches!(r, Requirement::Userns).then(String::new),
    },
    RequirementDef {
        word: "id-range",
        arg: ArgKind::Nothing,
        doc: "the rootless user namespace maps a range of ids, not only its root",
        build: |_| Some(Requirement::IdRange),
        shown: |r| matches!(r, Requirement::IdRange).then(String::new),
    },
    RequirementDef {
        word: "subid-tools",
        arg: ArgKind::Nothing,
        doc: "newuidmap and newgidmap are there, setuid root, and /etc/subuid and /etc/subgid grant the rootless user a range",
        build: |_| Some(Requirement::SubidTools),
        shown: |r| matches!(r, Requirement::SubidTools).then(String::new),
    },
    RequirementDef {
        word: "privileged-exec",
        arg: ArgKind::Nothing,
        doc: "an exec in a sandbox may gain privileges (a setuid-root file, file capabilities): isocheck itself does not run with no_new_privs, which every sandbox inherits and none can unset",
        build: |_| Some(Requirement::PrivilegedExec),
        shown: |r| matches!(r, Requirement::PrivilegedExec).then(String::new),
    },
    RequirementDef {
        word: "setfcap",
        arg: ArgKind::Nothing,
        doc: "isocheck may write file capabilities (CAP_SETFCAP), as rows whose exec copy carries them need",
        build: |_| Some(Requirement::Setfcap),
        shown: |r| matches!(r, Requirement::Setfcap).then(String::new),
    },
    RequirementDef {
        word: "namespace",
        arg: ArgKind::Namespace,
        doc: "the kernel offers this namespace kind",
        build: |a| match a {
            ReqArg::Namespace(n) => Some(Requirement::Namespace(n)),
            _ => None,
        },
        shown: |r| match r {
            Requirement::Namespace(n) => Some(n.to_string()),
            _ => None,
        },
    },
    RequirementDef {
        word: "kconfig",
        arg: ArgKind::Kconfig,
        doc: "the kernel was built with the option (y or m)",
        build: |a| match a {
            ReqArg::Text(c) => Some(Requirement::Kconfig(c)),
            _ => None,
        },
        shown: |r| match r {
            Requirement::Kconfig(c) => Some(c.clone()),
            _ => None,
        },
    },
    RequirementDef {
        word: "cgroup-controller",
        arg: ArgKind::Controller,
        doc: "the controller is usable by isocheck",
        build: |a| match a {
            ReqArg::Text(c) => Some(Requirement::CgroupController(c)),
            _ => None,
        },
        shown: |r| match r {
            Requirement::CgroupController(c) => Some(c.clone()),
            _ => None,
        },
    },
    RequirementDef {
        word: "kernel-feature",
        arg: ArgKind::Feature,
        doc: "the kernel offers the feature, decided by trying it",
        build: |a| match a {
            ReqArg::Feature(f) => Some(Requirement::KernelFeature(f)),
            _ => None,
        },
        shown: |r| match r {
            Requirement::KernelFeature(f) => Some(f.to_string()),
            _ => None,
        },
    },
];

/// Every requirement's form, for messages.
pub fn requirement_forms() -> String {
    REQUIREMENTS
        .iter()
        .map(RequirementDef::form)
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Requirement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut it = s.split_whitespace();
        let word = it.next().unwrap_or("");
        let arg = it.next();
        if it.next().is_some() {
            return Err(format!(
                "`{s}` has too many words; a requirement is one of {}",
                requirement_forms()
            ));
        }
        let def = REQUIREMENTS.iter().find(|d| d.word == word);
        let parsed = match (def, arg) {
            (Some(def), None) if def.arg == ArgKind::Nothing => (def.build)(ReqArg::Nothing),
            (Some(def), Some(a)) if def.arg != ArgKind::Nothing => (def.build)(def.arg.parse(a)?),
            _ => None,
        };
        parsed.ok_or_else(|| {
            format!(
                "unknown requirement `{s}`; a requirement is one of {}",
                requirement_forms()
            )
        })
    }
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (word, arg) = REQUIREMENTS
            .iter()
            .find_map(|d| (d.shown)(self).map(|a| (d.word, a)))
            .unwrap_or(("?", String::new()));
        if arg.is_empty() {
            f.write_str(word)
        } else {
            write!(f, "{word} {arg}")
        }
    }
}

/// Each distinct requirement decided once per run, however many cases
/// (on however many threads) ask for it at once.
#[derive(Default)]
pub struct Decisions {
    cells: Mutex<HashMap<Requirement, Arc<OnceLock<Decision>>>>,
}

impl Decisions {
    /// The decision on `req`: made now by [`decide`] when no case asked
    /// before, else the one made then (waiting for it if it is being made).
    pub fn decide(
        &self,
        req: &Requirement,
        host: &HostFacts,
        behaviour: &dyn Behaviour,
    ) -> Decision {
        let cell = self
            .cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(req.clone())
            .or_default()
            .clone();
        cell.get_or_init(|| decide(req, host, behaviour)).clone()
    }

    /// Records a decision as made (tests).
    pub fn insert(&self, req: Requirement, decision: Decision) {
        let cell = OnceLock::new();
        let _ = cell.set(decision);
        self.cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(req, Arc::new(cell));
    }
}

/// How a requirement was decided, and the skip reason when unmet.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub check: RequirementCheck,
    pub reason: Option<Reason>,
}

fn met(req: &Requirement, probe: &str, observed: impl Into<String>) -> Decision {
    Decision {
        check: RequirementCheck {
            requirement: req.to_string(),
            met: true,
            probe: probe.into(),
            observed: observed.into(),
        },
        reason: None,
    }
}

fn unmet(req: &Requirement, probe: &str, observed: impl Into<String>, reason: Reason) -> Decision {
    Decision {
        check: RequirementCheck {
            requirement: req.to_string(),
            met: false,
            probe: probe.into(),
            observed: observed.into(),
        },
        reason: Some(reason),
    }
}

/// Reads one sysctl of the live host; `None` when it has no value.
fn sysctl(name: &str) -> Option<String> {
    crate::host::sysctl::read_sysctl(Path::new("/"), name)
        .value()
        .map(str::to_string)
}

/// Why a probe that tries a feature did not get it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The kernel or a policy answered: the step of the operation itself
    /// and its errno. Only this can make a skip.
    Kernel { step: String, errno: String },
    /// The harness broke before the kernel could answer; the cause.
    Harness(String),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Kernel { step, errno } => write!(f, "{step}: {errno}"),
            Refusal::Harness(cause) => write!(f, "harness: {cause}"),
        }
    }
}

/// What trying a feature gave: what was seen when it worked, or why not.
pub type Tried = Result<String, Refusal>;

/// Steps whose errno is the kernel's or a policy's answer about the
/// feature a requirement sandbox tries: creating the namespace, writing the
/// user namespace's maps and dropping to its ids, making its mounts
/// private. Any other step (pipes, pidfds, waiting, the rootless worker's
/// plumbing) failing is the harness's problem.
const KERNEL_STEPS: &[&str] = &[
    "clone",
    "unshare-user",
    "unshare-outer",
    "unshare-cgroup",
    "timens_offsets",
    "write uid_map",
    "write gid_map",
    "write setgroups",
    "setgroups",
    "setresgid",
    "setresuid",
    crate::runtime::rootless::BECOME_ROOTLESS_USER,
    "make-private",
    "make-slave",
    "make-shared",
];

/// Errnos that speak of the environment, not of the feature: descriptor
/// and memory exhaustion, process limits, interrupted or broken plumbing,
/// a child not there to reap. The kernel never answers a question about a namespace with these.
const HARNESS_ERRNOS: &[&str] = &[
    "EMFILE",
    "ENFILE",
    "ENOMEM",
    "EAGAIN",
    "ENOBUFS",
    "EINTR",
    "EBADF",
    "EPIPE",
    "EFAULT",
    "ETIMEDOUT",
    "ECHILD",
];

/// Whether an errno (as `EMFILE`) speaks of the environment.
pub fn is_harness_errno(errno: &str) -> bool {
    HARNESS_ERRNOS.contains(&errno.trim())
}

/// Classes a failed set-up step of a requirement sandbox.
pub fn refusal_of_step(e: &StepError) -> Refusal {
    let errno = e.errno().map(|n| format!("{n:?}"));
    if let Some(errno) =
        errno.filter(|n| KERNEL_STEPS.contains(&e.step.as_str()) && !is_harness_errno(n))
    {
        Refusal::Kernel {
            step: e.step.clone(),
            errno,
        }
    } else {
        Refusal::Harness(format!("step {e}"))
    }
}

/// What a requirement sandbox's run says: its observation when the probe
/// reported, else the kernel's refusal (a set-up step the kernel answered)
/// or the harness failure that kept the question from being asked.
pub fn tried_sandbox(run: Result<Observation, SpawnError>) -> Result<Observation, Refusal> {
    let o = run.map_err(|e| Refusal::Harness(e.to_string()))?;
    if o.timed_out {
        return Err(Refusal::Harness(
            "the requirement sandbox outlived its timeout".into(),
        ));
    }
    if let Some(e) = &o.setup_error {
        return Err(refusal_of_step(e));
    }
    if o.probe.is_none() {
        let how = match &o.exit {
            Some(e) => match (&e.signal, e.code) {
                (Some(s), _) => format!("killed by {s}"),
                (None, Some(c)) => format!("exit status {c}"),
                (None, None) => "no exit status".into(),
            },
            None => "no exit status".into(),
        };
        return Err(Refusal::Harness(format!(
            "the requirement sandbox ended before its probe reported ({how})"
        )));
    }
    Ok(o)
}

/// Probes that decide a requirement by trying the thing.
pub trait Behaviour {
    /// Creates a user namespace as the rootless user and, inside it, a
    /// mount namespace made private (which needs CAP_SYS_ADMIN there).
    fn rootless_userns(&self) -> Tried;
    /// Creates a namespace of this kind (as root, or from the rootless user
    /// namespace when isocheck is not root).
    fn namespace(&self, ns: Namespace) -> Tried;
    /// Makes an idmapped bind of a scratch directory in a rootful sandbox
    /// ([`idmapped_mount_probe`]). Without a way to try it, nothing is
    /// decided.
    fn idmapped_mount(&self) -> Tried {
        Err(Refusal::Harness("no idmapped-mount probe here".into()))
    }
}

/// A requirement the harness could not decide: never a skip.
fn undecided(req: &Requirement, probe: &str, cause: impl Into<String>) -> Decision {
    let cause = cause.into();
    Decision {
        check: RequirementCheck {
            requirement: req.to_string(),
            met: false,
            probe: probe.into(),
            observed: cause.clone(),
        },
        reason: Some(Reason::new(
            ReasonKind::HarnessFailed,
            format!("`{req}` could not be decided: {cause}"),
        )),
    }
}

impl Decision {
    /// Whether the harness failed to decide it (the cases are errors).
    pub fn harness_failed(&self) -> bool {
        self.reason
            .as_ref()
            .is_some_and(|r| r.kind == ReasonKind::HarnessFailed)
    }
}

/// The capabilities a rootful sandbox is built with and its controls
/// show: namespaces, mounts and pivot_root (SYS_ADMIN, SYS_CHROOT, which
/// entering the run's mount namespace also needs), its ids and maps
/// (SETUID, SETGID), the bounding set dropped (SETPCAP), loopback and veth
/// (NET_ADMIN), exec copies' file capabilities (SETFCAP), the scratch
/// directory's and the chown control's owner (CHOWN), cgroup and /proc
/// files of other owners (DAC_OVERRIDE), other processes' namespaces
/// (SYS_PTRACE), a time namespace's offsets (SYS_TIME) and the low port
/// the net_bind_service control binds with its capability kept
/// (NET_BIND_SERVICE). Without any of the last three, as with the others,
/// cases errored instead of skipping.
const ROOTFUL_CAPS: &[caps::Capability] = &[
    caps::Capability::CAP_SYS_ADMIN,
    caps::Capability::CAP_SYS_CHROOT,
    caps::Capability::CAP_SETUID,
    caps::Capability::CAP_SETGID,
    caps::Capability::CAP_SETPCAP,
    caps::Capability::CAP_NET_ADMIN,
    caps::Capability::CAP_SETFCAP,
    caps::Capability::CAP_CHOWN,
    caps::Capability::CAP_DAC_OVERRIDE,
    caps::Capability::CAP_SYS_PTRACE,
    caps::Capability::CAP_SYS_TIME,
    caps::Capability::CAP_NET_BIND_SERVICE,
];

/// What a root runner needs to stand in for the rootless user: to become
/// it (SETUID, SETGID), to write the maps of that user's namespace from
/// outside it (SYS_ADMIN over it, DAC_OVERRIDE for the files of a process
/// of another owner), to read that process's namespace (SYS_PTRACE), and
/// to give it its cgroup (CHOWN).
const STAND_IN_CAPS: &[caps::Capability] = &[
    caps::Capability::CAP_SETUID,
    caps::Capability::CAP_SETGID,
    caps::Capability::CAP_SYS_ADMIN,
    caps::Capability::CAP_DAC_OVERRIDE,
    caps::Capability::CAP_SYS_PTRACE,
    caps::Capability::CAP_CHOWN,
];

/// The [`ROOTFUL_CAPS`] the runner lacks in its effective or its bounding
/// set, by name: a rootful sandbox starts from the runner's sets.
pub fn lacking_caps() -> Result<Vec<String>, caps::errors::CapsError> {
    let effective = caps::read(None, caps::CapSet::Effective)?;
    let bounding = caps::read(None, caps::CapSet::Bounding)?;
    Ok(ROOTFUL_CAPS
        .iter()
        .filter(|c| !effective.contains(c) || !bounding.contains(c))
        .map(|c| c.to_string())
        .collect())
}

/// The runner's user namespace when isocheck is its uid 0 but it is not
/// the initial one (`unshare -r`, a container with a user namespace of its
/// own): capabilities there hold over that namespace alone, and only the
/// ids its maps list exist in it.
struct NestedRoot {
    uid_map: Vec<crate::host::nesting::IdMapLine>,
    gid_map: Vec<crate::host::nesting::IdMapLine>,
    /// The uid map as read (`0 1000 1`), or why it could not be.
    shown: String,
}

impl NestedRoot {
    /// `None` for root of the initial user namespace and for an
    /// unprivileged runner.
    fn of_runner(host: &HostFacts) -> Option<NestedRoot> {
        if !nix::unistd::geteuid().is_root() || host.nesting.user_namespace != Some(true) {
            return None;
        }
        let read = |file: &str| {
            std::fs::read_to_string(format!("/proc/self/{file}"))
                .map_err(|e| format!("/proc/self/{file}: {e}"))
                .and_then(|t| crate::host::nesting::parse_id_map(&t).map(|m| (t, m)))
        };
        let (uid_map, shown) = match read("uid_map") {
            Ok((text, map)) => (map, compact_map(&text)),
            Err(e) => (Vec::new(), e),
        };
        let gid_map = read("gid_map").map(|(_, m)| m).unwrap_or_default();
        Some(NestedRoot {
            uid_map,
            gid_map,
            shown,
        })
    }

    /// Ids the maps do not give both as a uid and as a gid: the outside
    /// side of `maps`, the ids a sandbox of isocheck's would map. `None`
    /// when every one exists here.
    fn missing(&self, maps: &[crate::model::spec::IdMap]) -> Option<String> {
        let covers = |map: &[crate::host::nesting::IdMapLine], m: &crate::model::spec::IdMap| {
            let (lo, hi) = (
                u64::from(m.outside),
                u64::from(m.outside) + u64::from(m.count),
            );
            // The map's ranges never overlap: the ids of [lo, hi) inside
            // them add up to the whole only when all are there.
            let inside: u64 = map
                .iter()
                .map(|l| {
                    let (a, b) = (
                        u64::from(l.inside),
                        u64::from(l.inside) + u64::from(l.count),
                    );
                    b.min(hi).saturating_sub(a.max(lo))
                })
                .sum();
            inside == hi - lo
        };
        let missing: Vec<String> = maps
            .iter()
            .filter(|m| m.count > 0 && !(covers(&self.uid_map, m) && covers(&self.gid_map, m)))
            .map(|m| match m.count {
                1 => format!("{}", m.outside),
                n => format!("{}-{}", m.outside, u64::from(m.outside) + u64::from(n) - 1),
            })
            .collect();
        (!missing.is_empty()).then(|| missing.join(", "))
    }

    /// Why an idmapped bind of a host directory or a rootful case cannot
    /// be had here.
    fn not_initial(&self) -> String {
        format!(
            "isocheck is uid 0 of a user namespace that is not the initial one (uid_map `{}`)",
            self.shown
        )
    }

    /// Why ids a sandbox needs cannot be had here.
    fn unmapped(&self, who: &str, ids: &str) -> String {
        format!(
            "{}: {who} (ids {ids}) does not exist there",
            self.not_initial()
        )
    }
}

/// A uid_map's lines as one: `0 1000 1; 1 100000 65536`.
fn compact_map(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a root runner cannot stand in for the rootless user here: it is uid
/// 0 of a nested user namespace whose maps lack that user's ids. The
/// explanation and the missing ids; `None` where it can.
pub fn emulated_user_unmapped(host: &HostFacts) -> Option<(String, String)> {
    let nested = NestedRoot::of_runner(host)?;
    let plan = crate::runtime::protocol::RootlessPlan::for_runner();
    let ids = nested.missing(&plan.uid_map)?;
    let who = format!(
        "the rootless user isocheck stands in for as root, uid {}",
        plan.uid
    );
    Some((nested.unmapped(&who, &ids), ids))
}

/// Why a root runner cannot stand in for the rootless user: it is uid 0
/// without some of [`STAND_IN_CAPS`] (a container's default confinement
/// lacks CAP_SYS_ADMIN). `None` for any other runner.
fn emulated_user_unwritable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let effective = caps::read(None, caps::CapSet::Effective).ok()?;
    let lacking: Vec<String> = STAND_IN_CAPS
        .iter()
        .filter(|c| !effective.contains(c))
        .map(|c| c.to_string())
        .collect();
    (!lacking.is_empty()).then(|| {
        let needed: Vec<String> = STAND_IN_CAPS.iter().map(|c| c.to_string()).collect();
        format!(
            "isocheck as root stands in for the rootless user, uid {}: it becomes that user, writes the maps of that user's namespace from outside it, reads that namespace and gives it its cgroup, which needs {}; isocheck is uid 0 without {}",
            crate::runtime::protocol::RootlessPlan::for_runner().uid,
            needed.join(", "),
            lacking.join(", ")
        )
    })
}

/// Why a root runner cannot stand in for the rootless user here, if it
/// cannot: [`emulated_user_unwritable`] or [`emulated_user_unmapped`].
pub fn emulated_user_unusable(host: &HostFacts) -> Option<String> {
    emulated_user_unwritable().or_else(|| emulated_user_unmapped(host).map(|(why, _)| why))
}

/// The skip a root runner that cannot stand in for the rootless user
/// makes, if it makes one: [`emulated_user_unwritable`] (a `needs-root`
/// skip) or [`emulated_user_unmapped`] (`not-delegated`).
fn emulated_user_missing(req: &Requirement, host: &HostFacts, probe: &str) -> Option<Decision> {
    if let Some(why) = emulated_user_unwritable() {
        return Some(unmet(
            req,
            probe,
            "euid 0, capabilities the stand-in needs not effective",
            Reason::new(ReasonKind::NeedsRoot, why).with_hint(
                "run isocheck as root with its full capability sets, or as an unprivileged user, which maps its own uid",
            ),
        ));
    }
    let (why, ids) = emulated_user_unmapped(host)?;
    Some(unmet(
        req,
        probe,
        why.clone(),
        Reason::new(ReasonKind::NotDelegated, why).with_hint(format!(
            "run isocheck as root outside any user namespace, or in one that maps ids {ids}"
        )),
    ))
}

/// Decides `userns` by behaviour; the knobs only explain a refusal.
fn decide_userns(req: &Requirement, host: &HostFacts, behaviour: &dyn Behaviour) -> Decision {
    let probe =
        "create a user namespace as the rootless uid, then a private mount namespace inside it";
    if let Some(d) = emulated_user_missing(req, host, probe) {
        return d;
    }
    let (step, errno) = match behaviour.rootless_userns() {
        Ok(seen) => return met(req, probe, seen),
        Err(Refusal::Harness(cause)) => return undecided(req, probe, cause),
        Err(Refusal::Kernel { step, errno }) => (step, errno),
    };
    let seen = format!("{step}: {errno}");
    let reason = userns_refusal(host, &step, &errno);
    // With no user namespaces built, the kernel's answer is the missing
    // /proc/self/ns/user, not the errno.
    let seen = if reason.kind == ReasonKind::MissingKconfig {
        "/proc/self/ns/user missing".to_string()
    } else {
        seen
    };
    unmet(req, probe, seen, reason)
}

/// Why a rootless user namespace was refused at `step` with `errno`: the
/// skip reason of `userns`, and of every requirement whose probe needed
/// that namespace first (a namespace kind an unprivileged runner tries).
fn userns_refusal(host: &HostFacts, step: &str, errno: &str) -> Reason {
    let seen = format!("{step}: {errno}");
    if step == crate::runtime::rootless::BECOME_ROOTLESS_USER {
        let uid = crate::runtime::protocol::RootlessPlan::for_runner().uid;
        return Reason::new(
            ReasonKind::NeedsRoot,
            format!("isocheck as root stands in for the rootless user, uid {uid}, and could not become it ({seen}): it lacks CAP_SETUID or CAP_SETGID, or setgroups is denied where it runs"),
        )
        .with_hint("run isocheck as root with its full capability sets, outside any user namespace");
    }
    let knob = |name: &str| {
        host.sysctl(name)
            .map(str::to_string)
            .or_else(|| sysctl(name))
    };
    let blocker = gates::USERNS_GATES
        .iter()
        .find(|g| knob(g.sysctl).is_some_and(|v| g.blocks(&v)));
    if !Path::new("/proc/self/ns/user").exists() {
        Reason::new(
            ReasonKind::MissingKconfig,
            format!(
                "{}: the kernel offers no user namespaces",
                gates::namespace(Namespace::User).config
            ),
        )
    } else if let Some(g) = blocker {
        Reason::new(gate_kind(g), format!("{} ({seen})", g.explanation())).with_hint(g.hint)
    } else if gates::refused_after_creation(step) {
        Reason::new(
            ReasonKind::LsmDenied,
            format!("a user namespace was made but its capabilities were refused ({seen})"),
        )
    } else {
        Reason::new(
            ReasonKind::KernelLacksFeature,
            format!("creating a user namespace failed ({seen})"),
        )
    }
}

/// The skip reason a blocking knob gives.
fn gate_kind(g: &gates::Gate) -> ReasonKind {
    match g.authority {
        gates::Authority::Sysctl => ReasonKind::SysctlPolicy,
        gates::Authority::SecurityModule => ReasonKind::LsmDenied,
    }
}

/// The kernel config as a decision reads it.
pub enum ConfigAnswer<'a> {
    /// Read from `source`.
    Known {
        source: &'a str,
        config: &'a crate::host::KernelConfig,
    },
    /// None could be read, and why.
    Unknown(String),
}

/// What the kernel's own answers (its config, /proc/cgroups) say of a
/// controller's cgroup v1 interface, for the controllers that build it
/// with an option of its own ([`gates::controller_v1_config`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V1Interface {
    /// Built; what said so.
    Built(String),
    /// Not built: the option that is not set, and the config that says so.
    NotBuilt {
        option: &'static str,
        source: String,
    },
    /// No config to ask, and /proc/cgroups does not list the controller.
    Unlisted {
        option: &'static str,
        why_unknown: String,
    },
    /// Nothing tells: no config, and /proc/cgroups lists the controller (as
    /// it does on kernels that list controllers whose v1 interface is not
    /// built).
    Unknown {
        option: &'static str,
        why_unknown: String,
    },
}

/// Decides [`V1Interface`] for `controller` from the config and the text
/// of /proc/cgroups (`None` when unreadable); `None` for a controller
/// whose v1 interface has no option of its own. Never from a version.
pub fn v1_interface(
    controller: &str,
    config: &ConfigAnswer<'_>,
    proc_cgroups: Option<&str>,
) -> Option<V1Interface> {
    let v1 = gates::controller_v1_config(controller)?;
    // An option the config names on a line with no value tells nothing:
    // decided as without a config.
    let unreadable = match config {
        ConfigAnswer::Known { source, config } => {
            // The controller's own option is asked only without v1's.
            let asked = if config.lookup(v1.option).is_some() || config.is_unreadable(v1.option) {
                v1.option
            } else {
                v1.controller
            };
            match config.get(asked) {
                None => Some(format!("{source} gives no value for {asked}")),
                Some(v) if v.built().is_none() => {
                    Some(format!("{source} gives {asked}={v}, not y, m or n"))
                }
                Some(_) => None,
            }
        }
        ConfigAnswer::Unknown(_) => None,
    };
    let unreadable = unreadable.map(ConfigAnswer::Unknown);
    Some(match unreadable.as_ref().unwrap_or(config) {
        ConfigAnswer::Known { source, config } => match config.lookup(v1.option) {
            Some(t) if t.is_enabled() => {
                V1Interface::Built(format!("{}={t} in {source}", v1.option))
            }
            Some(_) => V1Interface::NotBuilt {
                option: v1.option,
                source: source.to_string(),
            },
            // A kernel from before the option: v1 comes with the controller.
            None if config.get(v1.controller).is_some_and(|t| t.is_enabled()) => {
                V1Interface::Built(format!(
                    "{source} has no {} and sets {}",
                    v1.option, v1.controller
                ))
            }
            None => V1Interface::NotBuilt {
                option: v1.controller,
                source: source.to_string(),
            },
        },
        ConfigAnswer::Unknown(why) => {
            let listed = proc_cgroups.map(|t| {
                t.lines()
                    .filter(|l| !l.starts_with('#'))
                    .any(|l| l.split_whitespace().next() == Some(controller))
            });
            match listed {
                Some(false) => V1Interface::Unlisted {
                    option: v1.option,
                    why_unknown: why.clone(),
                },
                _ => V1Interface::Unknown {
                    option: v1.option,
                    why_unknown: why.clone(),
                },
            }
        }
    })
}

impl V1Interface {
    /// The skip reason of a controller that is on no v1 hierarchy because
    /// its v1 interface is missing; `None` when it is built or nothing tells.
    pub fn reason(&self, controller: &str) -> Option<Reason> {
        match self {
            V1Interface::NotBuilt { option, source } => Some(Reason::new(
                ReasonKind::MissingKconfig,
                format!("{controller} controller not built for cgroup v1: {option} is not set (in {source})"),
            )),
            V1Interface::Unlisted { option, why_unknown } => Some(Reason::new(
                ReasonKind::ControllerAbsent,
                format!("{controller} controller not available for cgroup v1: /proc/cgroups does not list it (kernel config unknown: {why_unknown}; {option} builds it)"),
            )),
            V1Interface::Built(_) | V1Interface::Unknown { .. } => None,
        }
    }

    /// What was seen, for a requirement check.
    pub fn observed(&self) -> String {
        match self {
            V1Interface::Built(seen) => format!("v1 interface built: {seen}"),
            V1Interface::NotBuilt { option, source } => format!("{option} not set in {source}"),
            V1Interface::Unlisted { option, .. } => {
                format!("not in /proc/cgroups; no kernel config to tell {option}")
            }
            V1Interface::Unknown { option, why_unknown } => format!(
                "no kernel config ({why_unknown}) and /proc/cgroups lists it: whether {option} is built cannot be told"
            ),
        }
    }
}

/// [`v1_interface`] on this host: its config (as the host facts found it)
/// and /proc/cgroups.
fn v1_interface_here(controller: &str, host: &HostFacts) -> Option<V1Interface> {
    gates::controller_v1_config(controller)?;
    let proc_cgroups = std::fs::read_to_string("/proc/cgroups").ok();
    let parsed = host
        .kconfig
        .source
        .as_deref()
        .map(|src| (src, crate::host::KernelConfig::from_file(Path::new(src))));
    let answer = match &parsed {
        None => ConfigAnswer::Unknown("no kernel config found".into()),
        Some((_, Err(e))) => ConfigAnswer::Unknown(e.to_string()),
        Some((source, Ok(config))) => ConfigAnswer::Known { source, config },
    };
    v1_interface(controller, &answer, proc_cgroups.as_deref())
}

/// On a layout with v1 hierarchies, a controller on none of them whose v1
/// interface the kernel did not build: what said so, and the skip reason.
fn missing_v1(layout: Layout, controller: &str, host: &HostFacts) -> Option<(V1Interface, Reason)> {
    if !matches!(layout, Layout::Hybrid | Layout::Legacy) {
        return None;
    }
    let v1 = v1_interface_here(controller, host)?;
    let reason = v1.reason(controller)?;
    Some((v1, reason))
}

/// Decides a requirement on this host.
pub fn decide(req: &Requirement, host: &HostFacts, behaviour: &dyn Behaviour) -> Decision {
    attributed(req, decide_by_probe(req, host, behaviour), host)
}

/// Errnos that never mean a kernel without the feature: a privilege or a
/// policy refused the call.
const REFUSAL_ERRNOS: &[&str] = &["EPERM", "EACCES"];

/// A skip that blames the kernel (its build, or a feature it lacks) on
/// EPERM or EACCES is no skip: those are a privilege's or a policy's
/// answer (a security module, a seccomp filter around isocheck, a chroot,
/// a capability isocheck lacks), never a missing feature's. The
/// requirement is undecided, and the cases that need it are errors naming
/// the refusal.
fn attributed(req: &Requirement, d: Decision, host: &HostFacts) -> Decision {
    let blames_kernel = d.reason.as_ref().is_some_and(|r| {
        matches!(
            r.kind,
            ReasonKind::KernelLacksFeature | ReasonKind::MissingKconfig
        )
    });
    if !blames_kernel {
        return d;
    }
    let seen = &d.check.observed;
    let mut errnos = seen.split(|c: char| !c.is_ascii_alphanumeric());
    // ENOSPC from clone(2) or unshare(2) is a limit reached: a
    // user.max_*_namespaces count (a limit of 0 is the policy's own answer,
    // decided before this as sysctl-policy) or the nesting depth of PID
    // namespaces (32). A kernel without the namespace says EINVAL.
    if errnos.clone().any(|t| t == "ENOSPC") {
        return undecided(
            req,
            &d.check.probe,
            format!(
                "{seen}: a limit reached (a user.max_*_namespaces count in use, or 32 nested PID namespaces), no answer of a kernel without the feature"
            ),
        );
    }
    let Some(errno) = errnos.find(|t| REFUSAL_ERRNOS.contains(t)) else {
        return d;
    };
    let by = if host.runner.seccomp.as_deref() == Some("filter") {
        "isocheck runs under a seccomp filter (Seccomp: filter), which may have refused it, as may a security module, a chroot or a capability isocheck lacks"
    } else {
        "a security module, a chroot or a capability isocheck lacks refused it"
    };
    undecided(
        req,
        &d.check.probe,
        format!("{seen}: {errno} is no answer of a kernel without the feature: {by}"),
    )
}

fn decide_by_probe(req: &Requirement, host: &HostFacts, behaviour: &dyn Behaviour) -> Decision {
    match req {
        Requirement::Root => {
            let uid = nix::unistd::geteuid().as_raw();
            let lacking = match lacking_caps() {
                Ok(l) => l,
                Err(e) => return undecided(req, "geteuid+capget", format!("capget: {e}")),
            };
            let seen = if lacking.is_empty() {
                format!("euid {uid}, the capabilities rootful sandboxes use effective and in the bounding set")
            } else {
                format!("euid {uid}, lacking {}", lacking.join(", "))
            };
            if uid == 0 && lacking.is_empty() {
                match NestedRoot::of_runner(host) {
                    None => met(req, "geteuid+capget", seen),
                    Some(nested) => unmet(
                        req,
                        "geteuid+capget+uid_map",
                        format!("{seen}, uid_map {}", nested.shown),
                        Reason::new(
                            ReasonKind::NeedsRoot,
                            format!(
                                "{}: rootful cases need root of the initial user namespace, whose ids, cgroups and file systems they use",
                                nested.not_initial()
                            ),
                        )
                        .with_hint("run isocheck as root outside any user namespace; the rootless cases need no root"),
                    ),
                }
            } else {
                unmet(
                    req,
                    "geteuid+capget",
                    seen.clone(),
                    Reason::new(
                        ReasonKind::NeedsRoot,
                        format!(
                            "rootful cases need uid 0 with the capabilities their sandboxes use and their controls show ({}); {seen}",
                            ROOTFUL_CAPS.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .with_hint("run as root with the full capability sets, e.g. `sudo isocheck run` (in a container: `--privileged`)"),
                )
            }
        }
        Requirement::Namespace(ns) => {
            let path = format!("/proc/self/ns/{}", ns.proc_name());
            let missing = match std::fs::symlink_metadata(&path) {
                Ok(_) => false,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => return undecided(req, "stat /proc/self/ns", format!("{path}: {e}")),
            };
            if missing {
                let opt = gates::namespace(*ns).config;
                return unmet(
                    req,
                    "stat /proc/self/ns",
                    format!("{path} missing"),
                    Reason::new(
                        ReasonKind::MissingKconfig,
                        format!("{opt}: the kernel offers no {ns} namespace ({path} missing)"),
                    ),
                );
            }
            let probe = format!("create a {ns} namespace");
            if *ns == Namespace::User || !crate::sys::caps::privileged() {
                // The probe's namespace maps its root to the user a root
                // runner stands in for: an id that must exist here. Other
                // kinds are tried in that user's namespace when the runner
                // cannot make them itself.
                if let Some(d) = emulated_user_missing(req, host, &probe) {
                    return d;
                }
            }
            match behaviour.namespace(*ns) {
                Ok(seen) => met(req, &probe, seen),
                Err(Refusal::Harness(cause)) => undecided(req, &probe, cause),
                // An unprivileged runner tries the kind inside a rootless
                // user namespace: refused before the kind was tried, the
                // user namespace's refusal is the reason.
                Err(Refusal::Kernel { step, errno })
                    if step == gates::USERNS_CREATE_STEP
                        || step == crate::runtime::rootless::BECOME_ROOTLESS_USER =>
                {
                    let reason = userns_refusal(host, &step, &errno);
                    unmet(req, &probe, format!("{step}: {errno}"), reason)
                }
                Err(Refusal::Kernel { step, errno }) => {
                    let seen = format!("{step}: {errno}");
                    let limit = gates::namespace(*ns).limit;
                    let knob = host
                        .sysctl(limit.sysctl)
                        .map(str::to_string)
                        .or_else(|| sysctl(limit.sysctl));
                    let reason = if knob.is_some_and(|v| limit.blocks(&v)) {
                        Reason::new(
                            gate_kind(&limit),
                            format!("{} ({seen})", limit.explanation()),
                        )
                        .with_hint(limit.hint)
                    } else {
                        Reason::new(
                            ReasonKind::KernelLacksFeature,
                            format!("creating a {ns} namespace failed ({seen})"),
                        )
                    };
                    unmet(req, &probe, seen, reason)
                }
            }
        }
        Requirement::Userns => decide_userns(req, host, behaviour),
        Requirement::PrivilegedExec => {
            let probe = "/proc/self/status NoNewPrivs";
            let status = match std::fs::read_to_string("/proc/self/status") {
                Ok(s) => crate::sys::status::parse_status(&s),
                Err(e) => return undecided(req, probe, format!("/proc/self/status: {e}")),
            };
            match status.no_new_privs {
                Some(false) => met(req, probe, "NoNewPrivs: 0"),
                Some(true) => unmet(
                    req,
                    probe,
                    "NoNewPrivs: 1",
                    Reason::new(
                        ReasonKind::SysctlPolicy,
                        "isocheck runs with no_new_privs (set by whatever started it: `setpriv --no-new-privs`, systemd's NoNewPrivileges=, a container's no-new-privileges): every sandbox inherits it and none can unset it, so no exec there gains privileges, which these cases' controls need",
                    )
                    .with_hint("run isocheck without no_new_privs"),
                ),
                None => undecided(req, probe, "no NoNewPrivs line in /proc/self/status"),
            }
        }
        Requirement::Setfcap => {
            let has =
                match caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SETFCAP) {
                    Ok(h) => h,
                    Err(e) => return undecided(req, "capget", format!("capget: {e}")),
                };
            if has {
                met(req, "capget", "CAP_SETFCAP effective")
            } else {
                unmet(
                    req,
                    "capget",
                    "CAP_SETFCAP absent",
                    Reason::new(
                        ReasonKind::NeedsRoot,
                        "writing file capabilities on the exec copy needs CAP_SETFCAP",
                    )
                    .with_hint("run as root, e.g. `sudo isocheck run`"),
                )
            }
        }
        Requirement::SubidTools => {
            let probe = "host facts: newuidmap/newgidmap (setuid), /etc/subuid and /etc/subgid";
            match crate::runtime::protocol::RootlessPlan::through_subids(&host.subid_grant()) {
                Ok(p) => met(req, probe, format!("uid_map {}", crate::runtime::idmap::render(&p.uid_map).trim().replace('\n', ", "))),
                Err(e) => unmet(
                    req,
                    probe,
                    e.clone(),
                    Reason::new(ReasonKind::NotDelegated, e).with_hint(format!(
                        "install uidmap and grant a range, e.g. `usermod --add-subuids 200000-265535 --add-subgids 200000-265535 <user of uid {}>` or a `{}:200000:65536` line in /etc/subuid and /etc/subgid",
                        crate::runtime::protocol::RootlessPlan::for_runner().uid,
                        crate::runtime::protocol::RootlessPlan::for_runner().uid
                    )),
                ),
            }
        }
        Requirement::IdRange => {
            let probe = "geteuid";
            if let Some(d) = emulated_user_missing(req, host, probe) {
                return d;
            }
            if nix::unistd::geteuid().is_root() {
                met(
                    req,
                    probe,
                    "isocheck is root: it writes the subordinate range as newuidmap would",
                )
            } else {
                unmet(
                    req,
                    probe,
                    format!("euid {}", nix::unistd::geteuid()),
                    Reason::new(
                        ReasonKind::NotDelegated,
                        "an unprivileged runner maps only its own uid; ranges from /etc/subuid through newuidmap are not used",
                    )
                    .with_hint("run as root, which emulates the rootless user with a subordinate range"),
                )
            }
        }
        Requirement::Kconfig(opt) => {
            let probe = "kernel config";
            let Some(src) = host.kconfig.source.clone() else {
                return met(
                    req,
                    probe,
                    "no kernel config readable: decided by behaviour",
                );
            };
            // The host facts hold the isolation options' values, read from
            // the same file: only another option needs the file again.
            let read = match host.kconfig.get(opt) {
                Some(v) => Ok(Some(v)),
                None => crate::host::KernelConfig::from_file(std::path::Path::new(&src))
                    .map(|cfg| cfg.get(opt)),
            };
            match read {
                Err(e) => met(
                    req,
                    probe,
                    format!("config unreadable ({e}): decided by behaviour"),
                ),
                Ok(None) => met(
                    req,
                    probe,
                    format!("{opt} has a line with no value in {src}: decided by behaviour"),
                ),
                Ok(Some(value)) => match value.built() {
                    Some(true) => met(req, probe, format!("{opt} set in {src}")),
                    None => met(
                        req,
                        probe,
                        format!("{opt}={value} in {src}, not y, m or n: decided by behaviour"),
                    ),
                    Some(false) => unmet(
                        req,
                        probe,
                        format!("{opt}={value:?} in {src}"),
                        Reason::new(
                            ReasonKind::MissingKconfig,
                            format!("{opt} is not set in {src}"),
                        ),
                    ),
                },
            }
        }
        Requirement::CgroupController(c) => {
            let layout = host.cgroup.layout;
            let probe = "statfs /sys/fs/cgroup + mountinfo + cgroup.controllers";
            // Where a controller lives is read from the mount table: a table
            // that cannot be read says nothing about the controller.
            let home = match cgroups::controller_home(layout, c) {
                Ok(h) => h,
                Err(e) => return undecided(req, probe, e.to_string()),
            };
            // Without root (of the initial user namespace), isocheck can
            // only use a hierarchy delegated to it; nobody can use one
            // mounted read-only (a container's default).
            let root = crate::sys::caps::privileged() && NestedRoot::of_runner(host).is_none();
            if let Some(ControllerHome::V1(p) | ControllerHome::V2(p)) = &home {
                let parent = p.join(cgroups::PARENT_NAME);
                let target = if parent.exists() { parent } else { p.clone() };
                let refused = nix::unistd::access(&target, nix::unistd::AccessFlags::W_OK)
                    .err()
                    .filter(|e| !root || *e == nix::errno::Errno::EROFS);
                if let Some(e) = refused {
                    return unmet(
                        req,
                        "access(W_OK) on isocheck's cgroup parent",
                        format!("{}: {e:?} for uid {}", target.display(), nix::unistd::geteuid()),
                        Reason::new(ReasonKind::NotDelegated, format!("{c}: {} is not delegated to uid {} here ({e:?} for write access)", target.display(), nix::unistd::geteuid()))
                            .with_hint(format!(
                                "delegate a parent to it: mkdir -p {0} && chown {1} {0} {0}/cgroup.procs",
                                p.join(cgroups::PARENT_NAME).display(),
                                nix::unistd::geteuid()
                            )),
                    );
                }
            }
            match (layout, home) {
                (Layout::None, _) => unmet(
                    req,
                    probe,
                    "no cgroup file system",
                    Reason::new(
                        ReasonKind::ControllerAbsent,
                        format!("{c}: no cgroup file system at /sys/fs/cgroup"),
                    ),
                ),
                (_, Some(ControllerHome::V1(p))) => {
                    met(req, probe, format!("v1 hierarchy at {}", p.display()))
                }
                (_, Some(ControllerHome::V2(m))) => {
                    let file = m.join("cgroup.subtree_control");
                    let enabled = match std::fs::read_to_string(&file) {
                        Ok(t) => t,
                        Err(e) => {
                            return undecided(
                                req,
                                probe,
                                format!("reading {}: {e}", file.display()),
                            )
                        }
                    };
                    if gates::subtree_enables(&enabled, c) {
                        met(
                            req,
                            probe,
                            format!("v2 at {}, enabled in subtree_control", m.display()),
                        )
                    } else if let Some((v1, reason)) = missing_v1(layout, c, host) {
                        // On a v1 layout the controller is on cgroup2 only
                        // because its v1 interface is not built.
                        unmet(
                            req,
                            probe,
                            format!(
                                "v2 at {}, not in subtree_control ({}); {}",
                                m.display(),
                                enabled.trim(),
                                v1.observed()
                            ),
                            reason.with_hint(format!(
                                "run it on cgroup2 instead: {}",
                                gates::subtree_control_hint(&m, c)
                            )),
                        )
                    } else {
                        unmet(
                            req,
                            probe,
                            format!("v2 at {}, not in subtree_control ({})", m.display(), enabled.trim()),
                            Reason::new(ReasonKind::NotDelegated, format!("{c} is in cgroup.controllers but not enabled in {}/cgroup.subtree_control", m.display()))
                                .with_hint(gates::subtree_control_hint(&m, c)),
                        )
                    }
                }
                (l, None) => {
                    let seen = format!(
                        "layout {}, v1 controllers [{}], v2 controllers [{}]",
                        l.as_str(),
                        host.cgroup.v1_controllers.join(" "),
                        host.cgroup.v2_controllers.join(" ")
                    );
                    match missing_v1(layout, c, host) {
                        Some((v1, reason)) => {
                            unmet(req, probe, format!("{seen}; {}", v1.observed()), reason)
                        }
                        None => unmet(
                            req,
                            probe,
                            seen,
                            Reason::new(
                                ReasonKind::ControllerAbsent,
                                format!("{c} controller is in no mounted hierarchy"),
                            ),
                        ),
                    }
                }
            }
        }
        Requirement::KernelFeature(f) => match f {
            KernelFeature::TimeNs => {
                if Path::new("/proc/self/ns/time").exists() {
                    met(req, "stat /proc/self/ns/time", "exists")
                } else {
                    unmet(
                        req,
                        "stat /proc/self/ns/time",
                        "missing",
                        Reason::new(
                            ReasonKind::KernelLacksFeature,
                            "no time namespaces (/proc/self/ns/time missing)",
                        ),
                    )
                }
            }
            KernelFeature::IdmappedMount => decide_idmapped_mount(req, host, behaviour),
            KernelFeature::ListmountForeign => decide_listmount_foreign(req),
            KernelFeature::Landlock => decide_landlock(req, host),
            KernelFeature::MemoryHigh => decide_memory_high(req, host),
            KernelFeature::MemoryPeak => decide_memory_peak(req, host),
            KernelFeature::CgroupV1 => match std::fs::read_to_string("/proc/cgroups") {
                Err(e) => undecided(req, "read /proc/cgroups", format!("/proc/cgroups: {e}")),
                Ok(text) => {
                    let found = crate::probe::cgroup_perm::v1_hierarchies(&text);
                    if found.is_empty() {
                        unmet(
                            req,
                            "read /proc/cgroups",
                            "every controller at hierarchy 0",
                            Reason::new(
                                ReasonKind::ControllerAbsent,
                                "no cgroup v1 hierarchy (/proc/cgroups lists every controller at hierarchy 0, cgroup2's)",
                            ),
                        )
                    } else {
                        met(req, "read /proc/cgroups", found.join(" "))
                    }
                }
            },
            KernelFeature::Pidfd => match crate::sys::pidfd_open(nix::unistd::getpid()) {
                Ok(_) => met(req, "pidfd_open(self)", "ok"),
                Err(e) if is_harness_errno(&format!("{e:?}")) => {
                    undecided(req, "pidfd_open(self)", format!("pidfd_open: {e:?}"))
                }
                Err(e) => unmet(
                    req,
                    "pidfd_open(self)",
                    format!("{e:?}"),
                    Reason::new(ReasonKind::KernelLacksFeature, format!("pidfd_open: {e:?}")),
                ),
            },
            KernelFeature::SeccompUserNotif => {
                let how = "seccomp(SECCOMP_GET_ACTION_AVAIL, SECCOMP_RET_USER_NOTIF)";
                match crate::sys::seccomp_notify::user_notif_available() {
                    Ok(()) => met(req, how, "ok"),
                    // EOPNOTSUPP: the action is unknown; EINVAL: the
                    // operation is (before 4.14), or seccomp is not built.
                    Err(e @ (nix::errno::Errno::EOPNOTSUPP | nix::errno::Errno::EINVAL)) => unmet(
                        req,
                        how,
                        format!("{e:?}"),
                        Reason::new(
                            ReasonKind::KernelLacksFeature,
                            format!("no seccomp user notification ({e:?} from SECCOMP_GET_ACTION_AVAIL)"),
                        ),
                    ),
                    Err(e) => undecided(req, how, format!("seccomp: {e:?}")),
                }
            }
            KernelFeature::CloneIntoCgroup | KernelFeature::CgroupKill => {
                cgroup2_feature(req, *f, host.cgroup.layout)
            }
        },
    }
}

/// The calls an idmapped bind is made of, as the runtime names its steps.
const IDMAP_STEPS: &[&str] = &[
    "clone-idmap-userns",
    "open_tree",
    "mount_setattr",
    "move_mount",
];

/// Decides `kernel-feature idmapped-mount` by making one. Only a call the
/// kernel does not have (`ENOSYS`) or a file system without idmap support
/// (`EINVAL` from mount_setattr) is a skip; any other refusal decides
/// nothing.
fn decide_idmapped_mount(
    req: &Requirement,
    host: &HostFacts,
    behaviour: &dyn Behaviour,
) -> Decision {
    let probe = "idmapped bind of a scratch directory (open_tree, mount_setattr, move_mount)";
    if let Some(nested) = NestedRoot::of_runner(host) {
        return unmet(
            req,
            probe,
            format!("uid_map {}", nested.shown),
            Reason::new(
                ReasonKind::NeedsRoot,
                format!(
                    "{}: an idmapped bind of a host directory needs CAP_SYS_ADMIN over its file system's user namespace (the initial one)",
                    nested.not_initial()
                ),
            )
            .with_hint("run isocheck as root outside any user namespace"),
        );
    }
    if !crate::sys::caps::privileged() {
        return unmet(
            req,
            probe,
            format!("euid {}", nix::unistd::geteuid()),
            Reason::new(
                ReasonKind::NeedsRoot,
                "an idmapped bind of a host directory needs CAP_SYS_ADMIN over its file system's user namespace (the initial one)",
            )
            .with_hint("run as root, e.g. `sudo isocheck run`"),
        );
    }
    match behaviour.idmapped_mount() {
        Ok(seen) => met(req, probe, seen),
        Err(Refusal::Harness(cause)) => undecided(req, probe, cause),
        Err(Refusal::Kernel { step, errno }) => {
            let seen = format!("{step}: {errno}");
            match idmap_refusal(&step, &errno) {
                Some(reason) => unmet(req, probe, seen, reason),
                None => undecided(req, probe, format!("unexpected refusal {seen}")),
            }
        }
    }
}

/// The skip an idmapped bind's refusal makes, if it makes one: `step` is
/// the call and the file system (`mount_setattr (tmpfs)`).
fn idmap_refusal(step: &str, errno: &str) -> Option<Reason> {
    let call = step.split_whitespace().next().unwrap_or_default();
    let seen = format!("{step}: {errno}");
    // The idmap is a user namespace the helper makes: a limit of zero
    // refuses it with ENOSPC (EUSERS before 4.9), a security module with
    // EPERM or EACCES. The host's policy, not the kernel's lack.
    if call == "clone-idmap-userns" {
        return match errno {
            "ENOSPC" | "EUSERS" => Some(
                Reason::new(
                    ReasonKind::SysctlPolicy,
                    format!("no user namespace for the idmap ({seen}): user.max_user_namespaces is reached or 0"),
                )
                .with_hint("sysctl -w user.max_user_namespaces=15000"),
            ),
            "EPERM" | "EACCES" => Some(Reason::new(
                ReasonKind::LsmDenied,
                format!("the user namespace for the idmap was refused ({seen})"),
            )),
            _ => None,
        };
    }
    if errno == "ENOSYS" {
        Some(Reason::new(
            ReasonKind::KernelLacksFeature,
            format!("the kernel has no {call} system call ({seen}): no idmapped mounts"),
        ))
    } else if errno == "EINVAL" && call == "mount_setattr" {
        let fs = step
            .split_once('(')
            .and_then(|(_, r)| r.strip_suffix(')'))
            .unwrap_or("the scratch directory's file system");
        Some(Reason::new(
            ReasonKind::KernelLacksFeature,
            format!("{fs} does not support idmapped mounts (EINVAL from mount_setattr)"),
        ))
    } else {
        None
    }
}

/// Decides `kernel-feature listmount-foreign` by trying, in this process
/// (it only reads): listmount(2) of its own mount namespace, that
/// namespace's id (`NS_GET_MNTNS_ID`), then listmount(2) naming it by the
/// id. A call the kernel lacks (`ENOSYS`), an ioctl it does not know
/// (`ENOTTY`, `EINVAL`) or a request longer than its `mnt_id_req`
/// (`E2BIG`: no `mnt_ns_id`) is a skip; any other answer decides nothing.
fn decide_listmount_foreign(req: &Requirement) -> Decision {
    use crate::sys::listmount::{listmount, mntns_id, LSMT_ROOT};
    use nix::errno::Errno;
    let probe = "listmount(2) of this mount namespace, then by its NS_GET_MNTNS_ID id";
    let lacks = |seen: String, why: String| {
        unmet(
            req,
            probe,
            seen,
            Reason::new(ReasonKind::KernelLacksFeature, why),
        )
    };
    match listmount(LSMT_ROOT, 0) {
        Ok(_) => {}
        Err(Errno::ENOSYS) => {
            return lacks(
                "listmount: ENOSYS".into(),
                "the kernel has no listmount system call (ENOSYS)".into(),
            )
        }
        Err(e) => return undecided(req, probe, format!("listmount of this namespace: {e:?}")),
    }
    let ns = match std::fs::File::open("/proc/self/ns/mnt") {
        Ok(f) => f,
        Err(e) => return undecided(req, probe, format!("/proc/self/ns/mnt: {e}")),
    };
    let id = match mntns_id(&ns) {
        Ok(id) => id,
        Err(e @ (Errno::ENOTTY | Errno::EINVAL)) => {
            return lacks(
                format!("NS_GET_MNTNS_ID: {e:?}"),
                format!("mount namespaces have no ids to name (NS_GET_MNTNS_ID on /proc/self/ns/mnt: {e:?})"),
            )
        }
        Err(e) => return undecided(req, probe, format!("NS_GET_MNTNS_ID: {e:?}")),
    };
    match listmount(LSMT_ROOT, id) {
        Ok(ids) => met(
            req,
            probe,
            format!(
                "listed {} mounts of mount namespace {id} by its id",
                ids.len()
            ),
        ),
        Err(e @ (Errno::E2BIG | Errno::EINVAL)) => lacks(
            format!("listmount with mnt_ns_id {id}: {e:?}"),
            format!(
                "listmount takes no mount namespace id ({e:?} for a mnt_id_req with mnt_ns_id)"
            ),
        ),
        Err(e) => undecided(req, probe, format!("listmount with mnt_ns_id {id}: {e:?}")),
    }
}

/// Makes an idmapped bind of a scratch directory in a rootful sandbox with
/// its own mount namespace. A refusal of one of its calls is the kernel's
/// answer and names the call and the file system (`mount_setattr
/// (tmpfs)`); anything else is the harness's.
///
/// The sandbox keeps the host's root and attaches the bind on the work
/// directory's empty root directory ([`Launcher::root_dir`], which exists:
/// nothing is made in the host's root), in its own mount namespace, where
/// no one else sees it: whether the kernel idmaps a mount depends on the
/// source's file system and on the calls, not on where it is attached, and
/// a skeleton root would only add its mounts to make and tear down.
///
/// [`Launcher::root_dir`]: crate::runtime::spawn::Launcher::root_dir
pub fn idmapped_mount_probe(launcher: &crate::runtime::spawn::Launcher) -> Tried {
    use crate::model::spec::{BindSource, IdMap, Mount, MountIdmap, Rootfs, SandboxSpec};
    let map = vec![IdMap {
        inside: 0,
        outside: 100000,
        count: 65536,
    }];
    let spec = SandboxSpec {
        namespaces: [Namespace::Mount].into_iter().collect(),
        rootfs: Rootfs::Host,
        mounts: vec![Mount::Bind {
            source: BindSource::Scratch,
            target: launcher.root_dir(),
            readonly: true,
            idmap: Some(MountIdmap {
                uid_map: map.clone(),
                gid_map: map,
            }),
        }],
        ..Default::default()
    };
    let run = launcher.run_as("idmap-probe", &spec, &crate::probe::Probe::noop(), None);
    if let Ok(o) = &run {
        if let Some(e) = &o.setup_error {
            let errno = e.errno().map(|n| format!("{n:?}"));
            if let Some(errno) =
                errno.filter(|n| IDMAP_STEPS.contains(&e.step.as_str()) && !is_harness_errno(n))
            {
                let fs = e
                    .target
                    .rsplit_once(" (")
                    .map(|(_, f)| f.trim_end_matches(')'))
                    .unwrap_or("unknown");
                return Err(Refusal::Kernel {
                    step: format!("{} ({fs})", e.step),
                    errno,
                });
            }
        }
    }
    tried_sandbox(run).map(|_| "made an idmapped bind of a scratch directory".into())
}

/// Decides `kernel-feature landlock` by asking the ABI version: ENOSYS is
/// a kernel built without it, EOPNOTSUPP one that built it but did not
/// enable it at boot.
fn decide_landlock(req: &Requirement, host: &HostFacts) -> Decision {
    let probe = "landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION)";
    match crate::sys::lsm::landlock_abi_version() {
        Ok(v) => met(req, probe, format!("ABI {v}")),
        Err(nix::errno::Errno::ENOSYS) => unmet(
            req,
            probe,
            "ENOSYS",
            Reason::new(
                ReasonKind::MissingKconfig,
                "CONFIG_SECURITY_LANDLOCK: the kernel lacks Landlock (ENOSYS from landlock_create_ruleset)",
            ),
        ),
        Err(nix::errno::Errno::EOPNOTSUPP) => {
            let active = if host.lsms.is_empty() {
                "active LSMs unknown".to_string()
            } else {
                format!("active LSMs: {}", host.lsms.join(","))
            };
            unmet(
                req,
                probe,
                "EOPNOTSUPP",
                Reason::new(
                    ReasonKind::LsmDenied,
                    format!("Landlock is built but not enabled at boot (EOPNOTSUPP from landlock_create_ruleset; {active})"),
                )
                .with_hint("add `landlock` to the kernel's lsm= list (or CONFIG_LSM)"),
            )
        }
        Err(e) => undecided(req, probe, format!("landlock_create_ruleset: {e:?}")),
    }
}

/// Where the memory controller lives here, for `memory-high` and
/// `memory-peak`: the decision already made when it lives nowhere usable.
fn memory_home(req: &Requirement, probe: &str) -> Result<ControllerHome, Box<Decision>> {
    let home = cgroups::controller_home(cgroups::detect_layout(), "memory")
        .map_err(|e| Box::new(undecided(req, probe, e.to_string())))?;
    home.ok_or_else(|| {
        Box::new(unmet(
            req,
            probe,
            "memory controller in no mounted hierarchy",
            Reason::new(
                ReasonKind::ControllerAbsent,
                "the memory controller is in no mounted cgroup hierarchy",
            ),
        ))
    })
}

/// Whether a fresh cgroup2 memory cgroup under isocheck's parent at
/// `mount` shows `file`: made, looked at, removed.
fn v2_memory_file(
    req: &Requirement,
    probe: &str,
    mount: &Path,
    file: &str,
) -> Result<bool, Box<Decision>> {
    let limits = crate::model::cgroup::CgroupLimits {
        memory_account: true,
        ..Default::default()
    };
    let name = format!("probe-{}-{file}", std::process::id());
    match cgroups::v2::V2Cgroup::create(mount, &name, &limits) {
        Ok(cg) => {
            let there = cg.dir().join(file).exists();
            // Dropping it removes it.
            drop(cg);
            Ok(there)
        }
        Err(cgroups::CgroupError::ControllerAbsent(c)) => Err(Box::new(unmet(
            req,
            probe,
            format!("controller {c}"),
            Reason::new(
                ReasonKind::ControllerAbsent,
                format!("memory is not enabled for isocheck's cgroups: {c}"),
            ),
        ))),
        Err(e) if !crate::sys::caps::privileged() => Err(Box::new(unmet(
            req,
            probe,
            e.to_string(),
            Reason::new(
                ReasonKind::NotDelegated,
                format!(
                    "no memory cgroup could be made under {}: {e}",
                    mount.display()
                ),
            ),
        ))),
        Err(e) => Err(Box::new(undecided(req, probe, e.to_string()))),
    }
}

/// Decides `kernel-feature memory-high`: v1 has no memory.high, so the
/// memory controller must be on cgroup v2 here, and a memory cgroup made
/// there must show the file.
fn decide_memory_high(req: &Requirement, _host: &HostFacts) -> Decision {
    let probe = "mountinfo + a throwaway cgroup2 memory cgroup";
    let m = match memory_home(req, probe) {
        Ok(ControllerHome::V2(m)) => m,
        Ok(ControllerHome::V1(p)) => {
            return unmet(
                req,
                probe,
                format!("memory on v1 at {}", p.display()),
                Reason::new(
                    ReasonKind::ControllerAbsent,
                    format!(
                        "memory is on cgroup v1 here ({}): v1 has no memory.high",
                        p.display()
                    ),
                ),
            )
        }
        Err(d) => return *d,
    };
    match v2_memory_file(req, probe, &m, "memory.high") {
        Ok(true) => met(
            req,
            probe,
            format!("memory.high in a memory cgroup under {}", m.display()),
        ),
        Ok(false) => unmet(
            req,
            probe,
            format!("no memory.high in a memory cgroup under {}", m.display()),
            Reason::new(
                ReasonKind::KernelLacksFeature,
                format!(
                    "a cgroup2 memory cgroup under {} has no memory.high",
                    m.display()
                ),
            ),
        ),
        Err(d) => *d,
    }
}

/// Decides `kernel-feature memory-peak`: on v1 memory.max_usage_in_bytes
/// of the hierarchy's root; on v2 memory.peak in a memory cgroup made for
/// the question (the root cgroup has none on any kernel).
fn decide_memory_peak(req: &Requirement, _host: &HostFacts) -> Decision {
    let probe = "mountinfo + the memory cgroup's high-water mark file";
    match memory_home(req, probe) {
        Ok(ControllerHome::V1(p)) => {
            let f = p.join("memory.max_usage_in_bytes");
            if f.exists() {
                met(req, probe, format!("v1: {}", f.display()))
            } else {
                unmet(
                    req,
                    probe,
                    format!("no {}", f.display()),
                    Reason::new(
                        ReasonKind::KernelLacksFeature,
                        format!("the v1 memory hierarchy has no memory.max_usage_in_bytes ({})", f.display()),
                    ),
                )
            }
        }
        Ok(ControllerHome::V2(m)) => match v2_memory_file(req, probe, &m, "memory.peak") {
            Ok(true) => met(req, probe, format!("v2: memory.peak in a memory cgroup under {}", m.display())),
            Ok(false) => unmet(
                req,
                probe,
                format!("no memory.peak in a memory cgroup under {}", m.display()),
                Reason::new(
                    ReasonKind::KernelLacksFeature,
                    format!("cgroup2 memory cgroups have no memory.peak here (a memory cgroup under {} lacks it)", m.display()),
                ),
            ),
            Err(d) => *d,
        },
        Err(d) => *d,
    }
}

/// Decides a feature of the cgroup2 hierarchy: there must be one mounted
/// (a v1-only layout has none: `controller-absent`), then the kernel is
/// asked. `clone-into-cgroup`: `clone3` with `CLONE_INTO_CGROUP` and a
/// descriptor that is no cgroup, which a kernel that knows the flag
/// refuses with EBADF before any child exists. `cgroup-kill`: the file in
/// a cgroup below the root ([`cgroup_below_root`]; the root has none).
fn cgroup2_feature(req: &Requirement, f: KernelFeature, layout: Layout) -> Decision {
    let Some(mount) = cgroups::v2_mount(layout) else {
        return unmet(
            req,
            "statfs /sys/fs/cgroup",
            format!("layout {}", layout.as_str()),
            Reason::new(
                ReasonKind::ControllerAbsent,
                format!(
                    "no cgroup2 hierarchy mounted (cgroup layout {}): {f} needs one",
                    layout.as_str()
                ),
            ),
        );
    };
    match f {
        KernelFeature::CloneIntoCgroup => {
            let probe = "clone3(CLONE_INTO_CGROUP, a descriptor that is no cgroup)";
            let file = match std::fs::File::open("/proc/self/status") {
                Ok(file) => file,
                Err(e) => return undecided(req, probe, format!("open /proc/self/status: {e}")),
            };
            use std::os::fd::AsFd;
            match crate::sys::clone3::clone_into_cgroup_known(file.as_fd()) {
                Ok(()) => met(req, probe, "EBADF: the flag is known"),
                Err(e) if crate::sys::clone3::lacks_clone_into_cgroup(e) => unmet(
                    req,
                    probe,
                    format!("{e:?}"),
                    Reason::new(
                        ReasonKind::KernelLacksFeature,
                        format!("clone3 with CLONE_INTO_CGROUP refused: {e:?}"),
                    ),
                ),
                Err(e) => undecided(req, probe, format!("clone3: {e:?}")),
            }
        }
        _ => {
            let probe = "stat cgroup.kill in a cgroup2 cgroup below the root";
            let parent = match cgroup_below_root(&mount) {
                Ok(dir) => dir,
                // Nothing to look in, and no right to make it: the
                // hierarchy is not delegated to this user, or is mounted
                // read-only where isocheck runs (a container's default).
                Err((e, Some(libc::EACCES | libc::EPERM | libc::EROFS))) => {
                    return unmet(
                        req,
                        probe,
                        e.clone(),
                        Reason::new(ReasonKind::NotDelegated, e),
                    )
                }
                Err((e, _)) => return undecided(req, probe, e),
            };
            let file = parent.join("cgroup.kill");
            if file.exists() {
                met(req, probe, format!("{} exists", file.display()))
            } else {
                unmet(
                    req,
                    probe,
                    "missing",
                    Reason::new(
                        ReasonKind::KernelLacksFeature,
                        format!("no cgroup.kill in {}", parent.display()),
                    ),
                )
            }
        }
    }
}

/// A cgroup below the root of the cgroup2 hierarchy at `mount` (the root
/// lacks files every other cgroup has): isocheck's parent, else any
/// directory there, else isocheck's parent made as the runtime makes it.
fn cgroup_below_root(mount: &Path) -> Result<std::path::PathBuf, (String, Option<i32>)> {
    let parent = mount.join(cgroups::PARENT_NAME);
    if parent.is_dir() {
        return Ok(parent);
    }
    let other = std::fs::read_dir(mount)
        .ok()
        .and_then(|entries| entries.flatten().map(|e| e.path()).find(|p| p.is_dir()));
    if let Some(dir) = other {
        return Ok(dir);
    }
    std::fs::create_dir_all(&parent)
        .map(|()| parent.clone())
        .map_err(|e| {
            (
                format!(
                    "no cgroup below the cgroup2 root to look in, and mkdir {}: {e}",
                    parent.display()
                ),
                e.raw_os_error(),
            )
        })
}

/// Creates one namespace for real: as root, or inside the rootless user
/// namespace when isocheck is not root. A refusal is the kernel's only when
/// the namespace operation itself failed (see [`tried_sandbox`]).
pub fn namespace_probe(
    launcher: &crate::runtime::spawn::Launcher,
    ns: crate::model::namespace::Namespace,
) -> Tried {
    use crate::model::namespace::Namespace;
    use crate::model::spec::{IdMap, SandboxSpec};
    let root = crate::sys::caps::privileged();
    let mut spec = SandboxSpec {
        namespaces: [ns].into_iter().collect(),
        rootfs: crate::model::spec::Rootfs::Host,
        ..Default::default()
    };
    if ns == Namespace::User {
        // A user namespace is usable once it has a map: root to an
        // unprivileged uid (or, nested in the rootless one, to its root).
        let outside = if root {
            crate::runtime::rootless::DEFAULT_UID
        } else {
            0
        };
        spec.uid_map = vec![IdMap {
            inside: 0,
            outside,
            count: 1,
        }];
        spec.gid_map = spec.uid_map.clone();
    }
    let plan = (!root).then(crate::runtime::protocol::RootlessPlan::for_runner);
    let run = launcher.run_as(
        "ns-probe",
        &spec,
        &crate::probe::Probe::noop(),
        plan.as_ref(),
    );
    tried_sandbox(run).map(|_| format!("created a {ns} namespace"))
}

/// Tries a namespace by a bare clone from the runner itself
/// ([`crate::sys::try_namespaces`]): the kernel's own answer to the
/// `clone(2)` a sandbox makes, without a helper's cost. `None` where that
/// is not the question: for a user or time namespace, and for a runner
/// that is not root (its namespaces are made inside its user namespace,
/// which needs the map a sandbox writes: [`namespace_probe`]).
///
/// The first such question of a run tries every namespace a bare clone can
/// make at once, in one `clone(2)` (one child, one exit, one reap instead
/// of six; the net namespace, the dearest, is made once either way): when
/// the kernel makes them all, that is each one's answer. When it refuses,
/// each namespace is tried alone, so that the refusal is the named
/// namespace's own.
pub fn namespace_clone_probe(ns: crate::model::namespace::Namespace) -> Option<Tried> {
    static ALL_AT_ONCE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !bare_clone_makes(ns) || !crate::sys::caps::privileged() {
        return None;
    }
    let made = format!("created a {ns} namespace");
    let all = *ALL_AT_ONCE.get_or_init(|| crate::sys::try_namespaces(bare_clone_flags()).is_ok());
    if all {
        return Some(Ok(format!("{made} (with the others, in one clone)")));
    }
    let flags = ns.clone_flag();
    Some(
        crate::sys::try_namespaces(flags)
            .map(|()| made)
            .map_err(|e| refusal_of_step(&StepError::new("clone", format!("{flags:?}"), e))),
    )
}

/// Whether a bare clone ([`crate::sys::try_namespaces`]) can make `ns`:
/// not a user namespace (usable only once mapped) nor a time namespace
/// (clone(2) has no flag for it).
pub fn bare_clone_makes(ns: crate::model::namespace::Namespace) -> bool {
    use crate::model::namespace::Namespace;
    !matches!(ns, Namespace::User | Namespace::Time)
}

/// Every namespace [`namespace_clone_probe`] decides, as clone flags.
fn bare_clone_flags() -> nix::sched::CloneFlags {
    crate::model::namespace::Namespace::ALL
        .into_iter()
        .filter(|&ns| bare_clone_makes(ns))
        .fold(nix::sched::CloneFlags::empty(), |f, ns| f | ns.clone_flag())
}

/// Tries a rootless user namespace for real: the sandbox `userns`
/// requirements stand on.
pub fn userns_probe(launcher: &crate::runtime::spawn::Launcher) -> Tried {
    use crate::model::namespace::Namespace;
    use crate::model::spec::SandboxSpec;
    let spec = SandboxSpec {
        namespaces: [Namespace::Mount].into_iter().collect(),
        rootfs: crate::model::spec::Rootfs::Host,
        ..Default::default()
    };
    let plan = crate::runtime::protocol::RootlessPlan::for_runner();
    let run = launcher.run_as(
        "userns-probe",
        &spec,
        &crate::probe::Probe::noop(),
        Some(&plan),
    );
    tried_sandbox(run).map(|o| {
        format!(
            "user namespace of uid {} with map {}",
            plan.uid, o.ids.uid_map
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// /proc/cgroups of Debian's 6.12 on the hybrid layout: memory is
    /// listed although its v1 interface is not built.
    const PROC_CGROUPS_612: &str = "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t1\nmemory\t0\t1\t1\npids\t1\t1\t1\n";
    const PROC_CGROUPS_NO_MEMORY: &str =
        "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t1\npids\t1\t1\t1\n";

    fn nested(uid_map: &str, gid_map: &str) -> NestedRoot {
        use crate::host::nesting::parse_id_map;
        NestedRoot {
            uid_map: parse_id_map(uid_map).unwrap(),
            gid_map: parse_id_map(gid_map).unwrap(),
            shown: compact_map(uid_map),
        }
    }

    fn ids(outside: u32, count: u32) -> crate::model::spec::IdMap {
        crate::model::spec::IdMap {
            inside: 0,
            outside,
            count,
        }
    }

    #[test]
    fn a_nested_root_misses_the_ids_its_maps_do_not_list() {
        // `unshare -r` as root: only uid 0 exists.
        let only_root = nested("         0          0          1\n", "0 0 1\n");
        assert_eq!(only_root.shown, "0 0 1");
        assert_eq!(only_root.missing(&[ids(0, 1)]), None);
        assert_eq!(
            only_root
                .missing(&[ids(100000, 1), ids(100001, 65536)])
                .as_deref(),
            Some("100000, 100001-165536")
        );
        // Two ranges that meet cover the ids across their border; one id
        // short of the end is missing.
        let split = nested("0 0 100001\n100001 500000 65536\n", "0 0 200000\n");
        assert_eq!(split.missing(&[ids(100000, 1), ids(100001, 65536)]), None);
        assert_eq!(
            split.missing(&[ids(100001, 65537)]).as_deref(),
            Some("100001-165537")
        );
        // A uid without its gid is missing too.
        let no_gids = nested("0 0 4294967295\n", "0 0 1\n");
        assert_eq!(no_gids.missing(&[ids(1000, 1)]).as_deref(), Some("1000"));
        let why = only_root.unmapped("the rootless user", "100000");
        assert!(why.contains("uid_map `0 0 1`"), "{why}");
    }

    #[rstest]
    #[case::option_set(
        "memory",
        Some("CONFIG_MEMCG=y\nCONFIG_MEMCG_V1=y\n"),
        PROC_CGROUPS_612,
        None
    )]
    #[case::option_not_set(
        "memory",
        Some("CONFIG_MEMCG=y\n# CONFIG_MEMCG_V1 is not set\n"),
        PROC_CGROUPS_612,
        Some((ReasonKind::MissingKconfig, "memory controller not built for cgroup v1: CONFIG_MEMCG_V1 is not set (in /boot/config-x)"))
    )]
    #[case::cpuset_not_set(
        "cpuset",
        Some("CONFIG_CPUSETS=y\n# CONFIG_CPUSETS_V1 is not set\n"),
        PROC_CGROUPS_612,
        Some((ReasonKind::MissingKconfig, "cpuset controller not built for cgroup v1: CONFIG_CPUSETS_V1 is not set (in /boot/config-x)"))
    )]
    #[case::option_older_than_the_kernel(
        "memory",
        Some("CONFIG_MEMCG=y\n"),
        PROC_CGROUPS_612,
        None
    )]
    #[case::no_controller_at_all(
        "memory",
        Some("# CONFIG_MEMCG is not set\n"),
        PROC_CGROUPS_NO_MEMORY,
        Some((ReasonKind::MissingKconfig, "memory controller not built for cgroup v1: CONFIG_MEMCG is not set (in /boot/config-x)"))
    )]
    #[case::config_unknown("memory", None, PROC_CGROUPS_612, None)]
    #[case::option_with_no_value(
        "memory",
        Some("CONFIG_MEMCG=y\nCONFIG_MEMCG_V1=\n"),
        PROC_CGROUPS_NO_MEMORY,
        Some((ReasonKind::ControllerAbsent, "memory controller not available for cgroup v1: /proc/cgroups does not list it (kernel config unknown: /boot/config-x gives no value for CONFIG_MEMCG_V1; CONFIG_MEMCG_V1 builds it)"))
    )]
    #[case::controller_with_no_value_and_no_v1_option(
        "memory",
        Some("CONFIG_CGROUPS=y\nCONFIG_MEMCG=\n"),
        PROC_CGROUPS_612,
        None
    )]
    #[case::config_unknown_and_unlisted(
        "memory",
        None,
        PROC_CGROUPS_NO_MEMORY,
        Some((ReasonKind::ControllerAbsent, "memory controller not available for cgroup v1: /proc/cgroups does not list it (kernel config unknown: no config; CONFIG_MEMCG_V1 builds it)"))
    )]
    fn a_v1_controller_missing_from_the_build_is_a_skip_naming_the_option(
        #[case] controller: &str,
        #[case] config: Option<&str>,
        #[case] proc_cgroups: &str,
        #[case] want: Option<(ReasonKind, &str)>,
    ) {
        let parsed = config.map(|t| crate::host::KernelConfig::parse(t).unwrap());
        let answer = match &parsed {
            Some(config) => ConfigAnswer::Known {
                source: "/boot/config-x",
                config,
            },
            None => ConfigAnswer::Unknown("no config".into()),
        };
        let v1 = v1_interface(controller, &answer, Some(proc_cgroups)).unwrap();
        let got = v1.reason(controller).map(|r| (r.kind, r.detail));
        assert_eq!(
            got,
            want.map(|(k, d)| (k, d.to_string())),
            "{controller} with {config:?}: {v1:?}"
        );
        assert!(!v1.observed().is_empty());
    }

    #[test]
    fn controllers_whose_v1_interface_has_no_option_are_not_asked() {
        let config = crate::host::KernelConfig::parse("# CONFIG_MEMCG_V1 is not set\n").unwrap();
        let answer = ConfigAnswer::Known {
            source: "x",
            config: &config,
        };
        assert_eq!(v1_interface("pids", &answer, None), None);
        assert_eq!(v1_interface("cpu", &answer, None), None);
        // Unknown config and unreadable /proc/cgroups: nothing tells.
        let unknown = ConfigAnswer::Unknown("none".into());
        assert!(matches!(
            v1_interface("memory", &unknown, None),
            Some(V1Interface::Unknown { .. })
        ));
    }

    #[rstest]
    #[case("root", Requirement::Root)]
    #[case("userns", Requirement::Userns)]
    #[case("namespace pid", Requirement::Namespace(Namespace::Pid))]
    #[case("namespace mnt", Requirement::Namespace(Namespace::Mount))]
    #[case("kconfig CONFIG_USER_NS", Requirement::Kconfig("CONFIG_USER_NS".into()))]
    #[case("cgroup-controller memory", Requirement::CgroupController("memory".into()))]
    #[case(
        "kernel-feature time-ns",
        Requirement::KernelFeature(KernelFeature::TimeNs)
    )]
    fn parses(#[case] src: &str, #[case] want: Requirement) {
        assert_eq!(src.parse::<Requirement>().unwrap(), want);
    }

    #[rstest]
    #[case("roots", "unknown requirement")]
    #[case("namespace cpu", "unknown namespace")]
    #[case("kconfig USER_NS", "must start with CONFIG_")]
    #[case("kernel-feature warp", "unknown kernel feature `warp`")]
    #[case("namespace pid now", "too many words")]
    fn refuses_with_the_reason(#[case] src: &str, #[case] msg: &str) {
        assert!(src.parse::<Requirement>().unwrap_err().contains(msg));
    }

    #[test]
    fn only_a_missing_call_or_file_system_support_skips_an_idmapped_bind() {
        let r = idmap_refusal("mount_setattr (tmpfs)", "EINVAL").unwrap();
        assert_eq!(r.kind, ReasonKind::KernelLacksFeature);
        assert!(
            r.detail
                .starts_with("tmpfs does not support idmapped mounts"),
            "{r:?}"
        );
        let r = idmap_refusal("mount_setattr (ext4)", "ENOSYS").unwrap();
        assert!(r.detail.contains("no mount_setattr system call"), "{r:?}");
        assert!(idmap_refusal("mount_setattr (tmpfs)", "EPERM").is_none());
        assert!(idmap_refusal("move_mount (tmpfs)", "EINVAL").is_none());
        // The idmap's user namespace refused by the host's policy: a
        // user.max_user_namespaces of 0, a security module.
        let r = idmap_refusal("clone-idmap-userns ", "ENOSPC").unwrap();
        assert_eq!(r.kind, ReasonKind::SysctlPolicy);
        assert!(r.detail.contains("user.max_user_namespaces"), "{r:?}");
        let r = idmap_refusal("clone-idmap-userns ", "EPERM").unwrap();
        assert_eq!(r.kind, ReasonKind::LsmDenied);
        assert!(idmap_refusal("clone-idmap-userns ", "EINVAL").is_none());
    }

    #[test]
    fn every_requirement_is_one_entry_that_parses_back_from_its_display() {
        assert_eq!(
            requirement_forms(),
            "`root`, `userns`, `id-range`, `subid-tools`, `privileged-exec`, `setfcap`, `namespace <kind>`, `kconfig CONFIG_<NAME>`, `cgroup-controller <name>`, `kernel-feature <pidfd|time-ns|idmapped-mount|listmount-foreign|landlock|memory-high|memory-peak|seccomp-user-notif|clone-into-cgroup|cgroup-kill|cgroup-v1>`"
        );
        for def in REQUIREMENTS {
            assert!(!def.doc.is_empty(), "{} has no doc", def.word);
            let src = match def.arg {
                ArgKind::Nothing => def.word.to_string(),
                ArgKind::Namespace => format!("{} net", def.word),
                ArgKind::Kconfig => format!("{} CONFIG_NET_NS", def.word),
                ArgKind::Controller => format!("{} pids", def.word),
                ArgKind::Feature => format!("{} pidfd", def.word),
            };
            assert_eq!(src.parse::<Requirement>().unwrap().to_string(), src);
        }
        for f in KernelFeature::ALL {
            let r: Requirement = format!("kernel-feature {f}").parse().unwrap();
            assert_eq!(r, Requirement::KernelFeature(f));
        }
    }

    /// A behaviour double that counts the namespaces it is asked to make,
    /// slowly enough that cases asking at once overlap.
    #[derive(Default)]
    struct Counts(std::sync::atomic::AtomicUsize);

    impl Behaviour for Counts {
        fn rootless_userns(&self) -> Tried {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok("uid_map 0 100000 1".into())
        }
        fn namespace(&self, ns: Namespace) -> Tried {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(format!("created a {ns} namespace"))
        }
    }

    #[test]
    fn each_distinct_requirement_is_decided_once_however_many_ask_at_once() {
        let decisions = Decisions::default();
        let counts = Counts::default();
        let host = HostFacts::default();
        // Two spellings of one requirement, asked from eight threads at once.
        std::thread::scope(|s| {
            for i in 0..8 {
                let (decisions, counts, host) = (&decisions, &counts, &host);
                s.spawn(move || {
                    let src = if i % 2 == 0 {
                        "namespace mnt"
                    } else {
                        "namespace mount"
                    };
                    let d = decisions.decide(&src.parse().unwrap(), host, counts);
                    assert!(d.check.met, "{d:?}");
                });
            }
        });
        assert_eq!(counts.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        decisions.decide(&Requirement::Userns, &host, &counts);
        decisions.decide(&Requirement::Userns, &host, &counts);
        assert_eq!(
            counts.0.load(std::sync::atomic::Ordering::SeqCst),
            2,
            "a second requirement is decided once more, and only once"
        );
    }

    /// A behaviour double: the rootless user namespace fails at `step`.
    struct Refuses(&'static str, &'static str);

    impl Refuses {
        fn refusal(&self) -> Refusal {
            Refusal::Kernel {
                step: self.0.into(),
                errno: self.1.into(),
            }
        }
    }

    impl Behaviour for Refuses {
        fn rootless_userns(&self) -> Tried {
            Err(self.refusal())
        }
        fn namespace(&self, _: Namespace) -> Tried {
            Err(self.refusal())
        }
    }

    /// A behaviour double whose probes broke for a harness reason.
    struct Breaks(&'static str);

    impl Behaviour for Breaks {
        fn rootless_userns(&self) -> Tried {
            Err(Refusal::Harness(self.0.into()))
        }
        fn namespace(&self, _: Namespace) -> Tried {
            Err(Refusal::Harness(self.0.into()))
        }
    }

    struct Works;

    impl Behaviour for Works {
        fn rootless_userns(&self) -> Tried {
            Ok("uid_map 0 100000 1".into())
        }
        fn namespace(&self, ns: Namespace) -> Tried {
            Ok(format!("created a {ns} namespace"))
        }
    }

    /// A limit of 0 is the policy's own answer (a typed skip); ENOSPC with
    /// no such limit is a limit reached (a count in use, the PID nesting
    /// depth): undecided, never a kernel without the namespace.
    #[rstest]
    #[case::policy(&[("user.max_user_namespaces", "0")], ReasonKind::SysctlPolicy, "user.max_user_namespaces=0")]
    #[case::limit_reached(&[("user.max_user_namespaces", "15000")], ReasonKind::HarnessFailed, "clone: ENOSPC: a limit reached")]
    #[case::unexplained(&[], ReasonKind::HarnessFailed, "clone: ENOSPC: a limit reached")]
    fn a_namespace_that_cannot_be_made_is_a_typed_skip_or_undecided(
        #[case] knobs: &[(&str, &str)],
        #[case] kind: ReasonKind,
        #[case] detail: &str,
    ) {
        let d = decide(
            &Requirement::Namespace(Namespace::User),
            &host_with(knobs),
            &Refuses("clone", "ENOSPC"),
        );
        let r = d.reason.unwrap();
        assert_eq!(r.kind, kind);
        assert!(r.detail.contains(detail), "{r:?}");
        assert!(
            decide(
                &Requirement::Namespace(Namespace::User),
                &host_with(knobs),
                &Works
            )
            .check
            .met
        );
    }

    fn host_with(knobs: &[(&str, &str)]) -> HostFacts {
        let mut h = HostFacts::default();
        for (k, v) in knobs {
            h.sysctls.insert(
                k.to_string(),
                crate::model::host::Knob::Value(v.to_string()),
            );
        }
        h
    }

    #[rstest]
    #[case::max_zero(&[("user.max_user_namespaces", "0")], "unshare-user", ReasonKind::SysctlPolicy, "user.max_user_namespaces=0")]
    #[case::debian_knob(&[("user.max_user_namespaces", "63000"), ("kernel.unprivileged_userns_clone", "0")], "unshare-user", ReasonKind::SysctlPolicy, "unprivileged_userns_clone=0")]
    #[case::apparmor(&[("kernel.apparmor_restrict_unprivileged_userns", "1")], "make-private", ReasonKind::LsmDenied, "AppArmor")]
    #[case::caps_refused(&[], "make-private", ReasonKind::LsmDenied, "capabilities were refused")]
    #[case::unexplained(&[], "unshare-user", ReasonKind::HarnessFailed, "EPERM is no answer of a kernel without the feature")]
    fn a_refused_user_namespace_is_explained_by_the_knob_that_blocks_it(
        #[case] knobs: &[(&str, &str)],
        #[case] step: &'static str,
        #[case] kind: ReasonKind,
        #[case] detail: &str,
    ) {
        let d = decide(
            &Requirement::Userns,
            &host_with(knobs),
            &Refuses(step, "EPERM"),
        );
        assert!(!d.check.met);
        assert!(d.check.observed.contains(step), "{d:?}");
        let r = d.reason.unwrap();
        assert_eq!(r.kind, kind, "{r:?}");
        assert!(r.detail.contains(detail), "{r:?}");
    }

    /// EPERM and EACCES never blame the kernel, filtered or not.
    #[rstest]
    #[case::einval_unfiltered(None, "EINVAL", ReasonKind::KernelLacksFeature)]
    #[case::eperm_unfiltered(None, "EPERM", ReasonKind::HarnessFailed)]
    #[case::eacces_filtered(Some("filter"), "EACCES", ReasonKind::HarnessFailed)]
    #[case::einval_filtered(Some("filter"), "EINVAL", ReasonKind::KernelLacksFeature)]
    fn a_refusal_blames_the_kernel_only_with_an_errno_a_kernel_gives(
        #[case] seccomp: Option<&str>,
        #[case] errno: &'static str,
        #[case] kind: ReasonKind,
    ) {
        let mut host = host_with(&[]);
        host.runner.seccomp = seccomp.map(String::from);
        let d = decide(
            &Requirement::Namespace(Namespace::Net),
            &host,
            &Refuses("clone", errno),
        );
        assert!(!d.check.met, "{d:?}");
        assert_eq!(d.reason.unwrap().kind, kind);
    }

    #[test]
    fn a_user_namespace_that_works_is_met_whatever_the_knobs_say() {
        let d = decide(
            &Requirement::Userns,
            &host_with(&[("kernel.unprivileged_userns_clone", "0")]),
            &Works,
        );
        assert!(
            d.check.met && d.reason.is_none(),
            "behaviour decides, not the knob: {d:?}"
        );
    }

    #[test]
    fn decisions_record_the_probe_and_what_it_saw() {
        let d = decide(
            &Requirement::Namespace(Namespace::Pid),
            &HostFacts::default(),
            &Works,
        );
        assert!(d.check.met, "{d:?}");
        assert_eq!(
            (d.check.probe.as_str(), d.check.observed.as_str()),
            ("create a pid namespace", "created a pid namespace")
        );
        let d = decide(
            &Requirement::Root,
            &HostFacts::default(),
            &Refuses("unshare-user", "EPERM"),
        );
        assert_eq!(d.check.met, nix::unistd::geteuid().is_root());
        if !d.check.met {
            assert_eq!(d.reason.unwrap().kind, ReasonKind::NeedsRoot);
        }
    }

    /// Whatever the knobs say, a probe that broke decides nothing: the
    /// requirement is `harness-failed`, never a skip reason.
    #[rstest]
    #[case::userns_no_knob(Requirement::Userns, &[])]
    #[case::userns_knob_says_blocked(Requirement::Userns, &[("user.max_user_namespaces", "0"), ("kernel.apparmor_restrict_unprivileged_userns", "1")])]
    #[case::namespace(Requirement::Namespace(Namespace::Net), &[])]
    #[case::namespace_knob_says_blocked(Requirement::Namespace(Namespace::Net), &[("user.max_net_namespaces", "0")])]
    fn a_probe_that_broke_is_a_harness_failure_not_a_skip(
        #[case] req: Requirement,
        #[case] knobs: &[(&str, &str)],
    ) {
        let d = decide(
            &req,
            &host_with(knobs),
            &Breaks("the helper failed (status signal: 9 (SIGKILL))"),
        );
        assert!(!d.check.met && d.harness_failed(), "{d:?}");
        let r = d.reason.unwrap();
        assert!(
            r.detail.contains("SIGKILL") && r.detail.contains(&req.to_string()),
            "{r:?}"
        );
    }

    fn step(step: &str, errno: &str) -> StepError {
        StepError::with(step, "t", crate::model::error::Cause::from_text(errno))
    }

    #[rstest]
    #[case::clone_refused("clone", "EPERM", true)]
    #[case::clone_limit("clone", "ENOSPC", true)]
    #[case::userns_refused("unshare-user", "EPERM", true)]
    #[case::map_refused("write uid_map", "EPERM", true)]
    #[case::mount_refused("make-private", "EACCES", true)]
    #[case::fd_limit_at_clone("clone", "EMFILE", false)]
    #[case::process_limit("clone", "EAGAIN", false)]
    #[case::no_memory("unshare-user", "ENOMEM", false)]
    #[case::pipe("pipe", "EMFILE", false)]
    #[case::pidfd("pidfd_open", "EINVAL", false)]
    #[case::worker_killed("rootless-worker", "killed by SIGKILL", false)]
    #[case::maps_never_came("wait-for-maps", "EPIPE", false)]
    #[case::bad_report("read-report", "EOF while parsing", false)]
    fn only_the_namespace_operation_itself_answers_for_the_kernel(
        #[case] name: &str,
        #[case] errno: &str,
        #[case] kernel: bool,
    ) {
        let r = refusal_of_step(&step(name, errno));
        assert_eq!(matches!(r, Refusal::Kernel { .. }), kernel, "{r:?}");
        if let Refusal::Harness(cause) = r {
            assert!(cause.contains(name) && cause.contains(errno), "{cause}");
        }
    }

    fn exited(code: Option<i32>, signal: Option<&str>) -> Observation {
        Observation {
            exit: Some(crate::runtime::protocol::ExitInfo {
                code,
                signal: signal.map(String::from),
            }),
            ..Default::default()
        }
    }

    #[rstest]
    #[case::start(Err(SpawnError::Start { path: "/x/isocheck".into(), source: std::io::Error::from_raw_os_error(libc::EMFILE) }), "Too many open files")]
    #[case::helper_killed(Err(SpawnError::Helper { status: "signal: 9 (SIGKILL)".into(), stderr: String::new() }), "SIGKILL")]
    #[case::helper_own_status(Err(SpawnError::Helper { status: "exit status: 3".into(), stderr: "isocheck helper: bad request".into() }), "exit status: 3")]
    #[case::protocol(Err(SpawnError::Protocol("expected value at line 1 column 1".into())), "not valid")]
    #[case::hung(
        Err(SpawnError::HelperTimeout {
            deadline: std::time::Duration::from_secs(5),
            after: std::time::Duration::from_secs(5),
        }),
        "deadline"
    )]
    #[case::sandbox_own_status(Ok(exited(Some(121), None)), "exit status 121")]
    #[case::sandbox_killed(Ok(exited(None, Some("SIGKILL"))), "killed by SIGKILL")]
    #[case::sandbox_timed_out(Ok(Observation { timed_out: true, ..Default::default() }), "timeout")]
    fn a_requirement_sandbox_that_never_answered_is_a_harness_failure(
        #[case] run: Result<Observation, SpawnError>,
        #[case] cause: &str,
    ) {
        match tried_sandbox(run) {
            Err(Refusal::Harness(c)) => assert!(c.contains(cause), "{c}"),
            other => panic!("want a harness failure with {cause:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_requirement_sandbox_the_kernel_refused_or_that_reported_is_an_answer() {
        let refused = Observation {
            setup_error: Some(step("clone", "EINVAL")),
            ..Default::default()
        };
        assert_eq!(
            tried_sandbox(Ok(refused)).unwrap_err(),
            Refusal::Kernel {
                step: "clone".into(),
                errno: "EINVAL".into()
            }
        );
        let reported = Observation {
            probe: Some(serde_json::json!({})),
            ..exited(Some(0), None)
        };
        assert!(tried_sandbox(Ok(reported)).is_ok());
    }
}
