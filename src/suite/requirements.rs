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

use std::path::Path;
use std::str::FromStr;

use crate::host::HostFacts;
use crate::model::error::StepError;
use crate::report::{Reason, ReasonKind, RequirementCheck};
use crate::runtime::cgroups::{self, ControllerHome, Layout};
use crate::runtime::spawn::{Observation, SpawnError};
use crate::runtime::spec::Namespace;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `root`: uid 0 with CAP_SYS_ADMIN in the effective set.
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
    /// `subid-tools`: newuidmap and newgidmap are there, setuid root, and
    /// /etc/subuid and /etc/subgid grant the rootless user a range.
    SubidTools,
    /// `kconfig CONFIG_X`: the kernel was built with the option (y or m).
    Kconfig(String),
    /// `cgroup-controller <name>`: the controller is usable by isocheck.
    CgroupController(String),
    /// `kernel-feature <name>`: see [`FEATURES`].
    KernelFeature(String),
}

/// Kernel features a requirement can name.
pub const FEATURES: &[&str] = &["pidfd", "time-ns"];

pub const REQUIREMENT_FORMS: &str =
    "`root`, `userns`, `id-range`, `subid-tools`, `setfcap`, `namespace <kind>`, `kconfig CONFIG_<NAME>`, `cgroup-controller <name>`, `kernel-feature <pidfd|time-ns>`";

impl FromStr for Requirement {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut it = s.split_whitespace();
        let word = it.next().unwrap_or("");
        let arg = it.next();
        if it.next().is_some() {
            return Err(format!(
                "`{s}` has too many words; a requirement is one of {REQUIREMENT_FORMS}"
            ));
        }
        match (word, arg) {
            ("root", None) => Ok(Requirement::Root),
            ("userns", None) => Ok(Requirement::Userns),
            ("id-range", None) => Ok(Requirement::IdRange),
            ("subid-tools", None) => Ok(Requirement::SubidTools),
            ("setfcap", None) => Ok(Requirement::Setfcap),
            ("namespace", Some(n)) => Namespace::parse(n)
                .map(Requirement::Namespace)
                .ok_or_else(|| format!("unknown namespace `{n}`")),
            ("kconfig", Some(c)) if c.starts_with("CONFIG_") => Ok(Requirement::Kconfig(c.into())),
            ("kconfig", Some(c)) => Err(format!("kconfig option `{c}` must start with CONFIG_")),
            ("cgroup-controller", Some(c)) => Ok(Requirement::CgroupController(c.into())),
            ("kernel-feature", Some(f)) if FEATURES.contains(&f) => {
                Ok(Requirement::KernelFeature(f.into()))
            }
            ("kernel-feature", Some(f)) => Err(format!(
                "unknown kernel feature `{f}`; known: {}",
                FEATURES.join(", ")
            )),
            _ => Err(format!(
                "unknown requirement `{s}`; a requirement is one of {REQUIREMENT_FORMS}"
            )),
        }
    }
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Requirement::Root => f.write_str("root"),
            Requirement::Userns => f.write_str("userns"),
            Requirement::IdRange => f.write_str("id-range"),
            Requirement::SubidTools => f.write_str("subid-tools"),
            Requirement::Setfcap => f.write_str("setfcap"),
            Requirement::Namespace(n) => write!(f, "namespace {n}"),
            Requirement::Kconfig(c) => write!(f, "kconfig {c}"),
            Requirement::CgroupController(c) => write!(f, "cgroup-controller {c}"),
            Requirement::KernelFeature(k) => write!(f, "kernel-feature {k}"),
        }
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

/// Reads one sysctl under /proc/sys; `None` when the knob does not exist.
fn sysctl(name: &str) -> Option<String> {
    std::fs::read_to_string(Path::new("/proc/sys").join(name.replace('.', "/")))
        .ok()
        .map(|s| s.trim().to_string())
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
    "make-private",
    "make-slave",
    "make-shared",
];

/// Errnos that speak of the environment, not of the feature: descriptor
/// and memory exhaustion, process limits, interrupted or broken plumbing.
/// The kernel never answers a question about a namespace with these.
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

/// Decides `userns` by behaviour; the knobs only explain a refusal.
fn decide_userns(req: &Requirement, host: &HostFacts, behaviour: &dyn Behaviour) -> Decision {
    let probe =
        "create a user namespace as the rootless uid, then a private mount namespace inside it";
    let (step, errno) = match behaviour.rootless_userns() {
        Ok(seen) => return met(req, probe, seen),
        Err(Refusal::Harness(cause)) => return undecided(req, probe, cause),
        Err(Refusal::Kernel { step, errno }) => (step, errno),
    };
    let seen = format!("{step}: {errno}");
    let knob = |name: &str| {
        host.sysctl(name)
            .map(str::to_string)
            .or_else(|| sysctl(name))
    };
    let reason = if !Path::new("/proc/self/ns/user").exists() {
        Reason::new(
            ReasonKind::MissingKconfig,
            "CONFIG_USER_NS: the kernel offers no user namespaces",
        )
    } else if knob("user.max_user_namespaces").as_deref() == Some("0") {
        Reason::new(
            ReasonKind::SysctlPolicy,
            format!("user.max_user_namespaces=0 ({seen})"),
        )
        .with_hint("sysctl -w user.max_user_namespaces=15000")
    } else if knob("kernel.unprivileged_userns_clone").as_deref() == Some("0") {
        Reason::new(
            ReasonKind::SysctlPolicy,
            format!("kernel.unprivileged_userns_clone=0 ({seen})"),
        )
        .with_hint("sysctl -w kernel.unprivileged_userns_clone=1")
    } else if knob("kernel.apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        Reason::new(ReasonKind::LsmDenied, format!("AppArmor restricts unprivileged user namespaces ({seen})"))
            .with_hint("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile with `userns,`")
    } else if step != "unshare-user" {
        Reason::new(
            ReasonKind::LsmDenied,
            format!("a user namespace was made but its capabilities were refused ({seen})"),
        )
    } else {
        Reason::new(
            ReasonKind::KernelLacksFeature,
            format!("creating a user namespace failed ({seen})"),
        )
    };
    unmet(req, probe, seen, reason)
}

/// Decides a requirement on this host.
pub fn decide(req: &Requirement, host: &HostFacts, behaviour: &dyn Behaviour) -> Decision {
    match req {
        Requirement::Root => {
            let uid = nix::unistd::geteuid().as_raw();
            let admin = match caps::has_cap(
                None,
                caps::CapSet::Effective,
                caps::Capability::CAP_SYS_ADMIN,
            ) {
                Ok(a) => a,
                Err(e) => return undecided(req, "geteuid+capget", format!("capget: {e}")),
            };
            let seen = format!(
                "euid {uid}, CAP_SYS_ADMIN {}",
                if admin { "effective" } else { "absent" }
            );
            if uid == 0 && admin {
                met(req, "geteuid+capget", seen)
            } else {
                unmet(
                    req,
                    "geteuid+capget",
                    seen.clone(),
                    Reason::new(
                        ReasonKind::NeedsRoot,
                        format!("rootful cases need uid 0 with CAP_SYS_ADMIN; {seen}"),
                    )
                    .with_hint("run as root, e.g. `sudo isocheck run`"),
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
                let opt = match ns {
                    Namespace::User => "CONFIG_USER_NS",
                    Namespace::Pid => "CONFIG_PID_NS",
                    Namespace::Net => "CONFIG_NET_NS",
                    Namespace::Uts => "CONFIG_UTS_NS",
                    Namespace::Ipc => "CONFIG_IPC_NS",
                    Namespace::Time => "CONFIG_TIME_NS",
                    Namespace::Cgroup => "CONFIG_CGROUPS",
                    Namespace::Mount => "CONFIG_NAMESPACES",
                };
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
            match behaviour.namespace(*ns) {
                Ok(seen) => met(req, &probe, seen),
                Err(Refusal::Harness(cause)) => undecided(req, &probe, cause),
                Err(Refusal::Kernel { step, errno }) => {
                    let seen = format!("{step}: {errno}");
                    let max = format!(
                        "user.max_{}_namespaces",
                        ns.as_str().replace("mount", "mnt")
                    );
                    let knob = host
                        .sysctl(&max)
                        .map(str::to_string)
                        .or_else(|| sysctl(&max));
                    let reason = if knob.as_deref() == Some("0") {
                        Reason::new(ReasonKind::SysctlPolicy, format!("{max}=0 ({seen})"))
                            .with_hint(format!("sysctl -w {max}=15000"))
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
            match crate::runtime::rootless::RootlessPlan::through_subids(host) {
                Ok(p) => met(req, probe, format!("uid_map {}", crate::runtime::idmap::render(&p.uid_map).trim().replace('\n', ", "))),
                Err(e) => unmet(
                    req,
                    probe,
                    e.clone(),
                    Reason::new(ReasonKind::NotDelegated, e).with_hint(format!(
                        "install uidmap and grant a range, e.g. `usermod --add-subuids 200000-265535 --add-subgids 200000-265535 <user of uid {}>` or a `{}:200000:65536` line in /etc/subuid and /etc/subgid",
                        crate::runtime::rootless::RootlessPlan::for_runner().uid,
                        crate::runtime::rootless::RootlessPlan::for_runner().uid
                    )),
                ),
            }
        }
        Requirement::IdRange => {
            let probe = "geteuid";
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
            match crate::host::KernelConfig::from_file(std::path::Path::new(&src)) {
                Err(e) => met(
                    req,
                    probe,
                    format!("config unreadable ({e}): decided by behaviour"),
                ),
                Ok(cfg) => match cfg.get(opt) {
                    crate::host::Tristate::Yes | crate::host::Tristate::Module => {
                        met(req, probe, format!("{opt} set in {src}"))
                    }
                    other => unmet(
                        req,
                        probe,
                        format!("{opt}={other:?} in {src}"),
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
            if let Err(e) = std::fs::read("/proc/self/mountinfo") {
                return undecided(req, probe, format!("reading /proc/self/mountinfo: {e}"));
            }
            let home = cgroups::controller_home(layout, c);
            // Without root, isocheck can only use a hierarchy delegated to it.
            if let (false, Some(ControllerHome::V1(p) | ControllerHome::V2(p))) =
                (nix::unistd::geteuid().is_root(), &home)
            {
                let parent = p.join(cgroups::PARENT_NAME);
                let target = if parent.exists() { parent } else { p.clone() };
                if let Err(e) = nix::unistd::access(&target, nix::unistd::AccessFlags::W_OK) {
                    return unmet(
                        req,
                        "access(W_OK) on isocheck's cgroup parent",
                        format!("{}: {e:?} for uid {}", target.display(), nix::unistd::geteuid()),
                        Reason::new(ReasonKind::NotDelegated, format!("{c}: {} is not delegated to uid {}", target.display(), nix::unistd::geteuid()))
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
                    if enabled.split_whitespace().any(|e| e == c) {
                        met(
                            req,
                            probe,
                            format!("v2 at {}, enabled in subtree_control", m.display()),
                        )
                    } else {
                        unmet(
                            req,
                            probe,
                            format!("v2 at {}, not in subtree_control ({})", m.display(), enabled.trim()),
                            Reason::new(ReasonKind::NotDelegated, format!("{c} is in cgroup.controllers but not enabled in {}/cgroup.subtree_control", m.display()))
                                .with_hint(format!("echo +{c} > {}/cgroup.subtree_control", m.display())),
                        )
                    }
                }
                (l, None) => unmet(
                    req,
                    probe,
                    format!(
                        "layout {}, v1 controllers [{}], v2 controllers [{}]",
                        l.as_str(),
                        host.cgroup.v1_controllers.join(" "),
                        host.cgroup.v2_controllers.join(" ")
                    ),
                    Reason::new(
                        ReasonKind::ControllerAbsent,
                        format!("{c} controller is in no mounted hierarchy"),
                    ),
                ),
            }
        }
        Requirement::KernelFeature(f) => match f.as_str() {
            "time-ns" => {
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
            "pidfd" => match crate::sys::pidfd_open(nix::unistd::getpid()) {
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
            other => unmet(
                req,
                "none",
                "unknown feature",
                Reason::new(
                    ReasonKind::KernelLacksFeature,
                    format!("unknown feature {other}"),
                ),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("root", Requirement::Root)]
    #[case("userns", Requirement::Userns)]
    #[case("namespace pid", Requirement::Namespace(Namespace::Pid))]
    #[case("namespace mnt", Requirement::Namespace(Namespace::Mount))]
    #[case("kconfig CONFIG_USER_NS", Requirement::Kconfig("CONFIG_USER_NS".into()))]
    #[case("cgroup-controller memory", Requirement::CgroupController("memory".into()))]
    #[case("kernel-feature time-ns", Requirement::KernelFeature("time-ns".into()))]
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

    #[rstest]
    #[case::policy(&[("user.max_user_namespaces", "0")], ReasonKind::SysctlPolicy, "user.max_user_namespaces=0")]
    #[case::unexplained(&[], ReasonKind::KernelLacksFeature, "clone: ENOSPC")]
    fn a_namespace_that_cannot_be_made_is_a_typed_skip(
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
            h.sysctls
                .insert(k.to_string(), crate::host::Knob::Value(v.to_string()));
        }
        h
    }

    #[rstest]
    #[case::max_zero(&[("user.max_user_namespaces", "0")], "unshare-user", ReasonKind::SysctlPolicy, "user.max_user_namespaces=0")]
    #[case::debian_knob(&[("user.max_user_namespaces", "63000"), ("kernel.unprivileged_userns_clone", "0")], "unshare-user", ReasonKind::SysctlPolicy, "unprivileged_userns_clone=0")]
    #[case::apparmor(&[("kernel.apparmor_restrict_unprivileged_userns", "1")], "make-private", ReasonKind::LsmDenied, "AppArmor")]
    #[case::caps_refused(&[], "make-private", ReasonKind::LsmDenied, "capabilities were refused")]
    #[case::unexplained(&[], "unshare-user", ReasonKind::KernelLacksFeature, "unshare-user: EPERM")]
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
            exit: Some(crate::runtime::helper::ExitInfo {
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
        Err(SpawnError::HelperTimeout(std::time::Duration::from_secs(5))),
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
