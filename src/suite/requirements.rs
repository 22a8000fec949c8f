//! Requirements as data, each decided by a probe of this host (never by a
//! version string). An unmet one turns a case into a skip whose reason says
//! which probe decided it and what it saw.

use std::path::Path;
use std::str::FromStr;

use crate::host::HostFacts;
use crate::report::{Reason, ReasonKind, RequirementCheck};
use crate::runtime::cgroups::{self, ControllerHome, Layout};
use crate::runtime::spec::Namespace;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// `root`: uid 0 with CAP_SYS_ADMIN in the effective set.
    Root,
    /// `namespace <kind>`: the kernel offers this namespace kind.
    Namespace(Namespace),
    /// `userns`: an unprivileged user may create a user namespace.
    Userns,
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
    "`root`, `userns`, `namespace <kind>`, `kconfig CONFIG_<NAME>`, `cgroup-controller <name>`, `kernel-feature <pidfd|time-ns>`";

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

/// Looks an option up in the running kernel's config, if one is readable.
/// `None` when no config is available (then behaviour decides).
fn kconfig_value(host: &HostFacts, option: &str) -> Option<(String, String)> {
    let candidates = [format!("/boot/config-{}", host.kernel.release)];
    let text = std::fs::read("/proc/config.gz")
        .ok()
        .and_then(|gz| {
            use std::io::Read;
            let mut s = String::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_string(&mut s)
                .ok()
                .map(|_| (s, "/proc/config.gz".to_string()))
        })
        .or_else(|| {
            candidates
                .iter()
                .find_map(|p| std::fs::read_to_string(p).ok().map(|s| (s, p.clone())))
        })?;
    let (text, source) = text;
    let value = text
        .lines()
        .find_map(|l| {
            if let Some(v) = l.strip_prefix(option).and_then(|r| r.strip_prefix('=')) {
                Some(v.to_string())
            } else if l == format!("# {option} is not set") {
                Some("n".to_string())
            } else {
                None
            }
        })
        .unwrap_or_else(|| "n".to_string());
    Some((value, source))
}

/// Decides a requirement on this host.
pub fn decide(req: &Requirement, host: &HostFacts) -> Decision {
    match req {
        Requirement::Root => {
            let uid = nix::unistd::geteuid().as_raw();
            let admin = caps::has_cap(
                None,
                caps::CapSet::Effective,
                caps::Capability::CAP_SYS_ADMIN,
            )
            .unwrap_or(false);
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
            if Path::new(&path).exists() {
                met(req, "stat /proc/self/ns", format!("{path} exists"))
            } else {
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
                unmet(
                    req,
                    "stat /proc/self/ns",
                    format!("{path} missing"),
                    Reason::new(
                        ReasonKind::MissingKconfig,
                        format!("{opt}: the kernel offers no {ns} namespace ({path} missing)"),
                    ),
                )
            }
        }
        Requirement::Userns => {
            let probe = "sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone";
            let max = sysctl("user.max_user_namespaces");
            let clone = sysctl("kernel.unprivileged_userns_clone");
            let seen = format!(
                "max_user_namespaces={}, unprivileged_userns_clone={}",
                max.as_deref().unwrap_or("absent"),
                clone.as_deref().unwrap_or("absent")
            );
            if max.as_deref() == Some("0") {
                unmet(
                    req,
                    probe,
                    seen,
                    Reason::new(ReasonKind::SysctlPolicy, "user.max_user_namespaces=0")
                        .with_hint("sysctl -w user.max_user_namespaces=15000"),
                )
            } else if clone.as_deref() == Some("0") {
                unmet(
                    req,
                    probe,
                    seen,
                    Reason::new(
                        ReasonKind::SysctlPolicy,
                        "kernel.unprivileged_userns_clone=0",
                    )
                    .with_hint("sysctl -w kernel.unprivileged_userns_clone=1"),
                )
            } else if !Path::new("/proc/self/ns/user").exists() {
                unmet(
                    req,
                    "stat /proc/self/ns/user",
                    "missing",
                    Reason::new(ReasonKind::MissingKconfig, "CONFIG_USER_NS"),
                )
            } else {
                met(req, probe, seen)
            }
        }
        Requirement::Kconfig(opt) => match kconfig_value(host, opt) {
            None => met(
                req,
                "kernel config",
                "no kernel config readable: decided by behaviour",
            ),
            Some((v, src)) if v == "y" || v == "m" => {
                met(req, "kernel config", format!("{opt}={v} in {src}"))
            }
            Some((v, src)) => unmet(
                req,
                "kernel config",
                format!("{opt}={v} in {src}"),
                Reason::new(ReasonKind::MissingKconfig, format!("{opt} is {v} in {src}")),
            ),
        },
        Requirement::CgroupController(c) => {
            let layout = host.cgroup.layout;
            let probe = "statfs /sys/fs/cgroup + mountinfo + cgroup.controllers";
            match (layout, cgroups::controller_home(layout, c)) {
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
                    let enabled = std::fs::read_to_string(m.join("cgroup.subtree_control"))
                        .unwrap_or_default();
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

    #[test]
    fn decisions_record_the_probe_and_what_it_saw() {
        let d = decide(
            &Requirement::Namespace(Namespace::Pid),
            &HostFacts::default(),
        );
        assert!(d.check.met, "{d:?}");
        assert!(
            d.check.probe.contains("/proc/self/ns")
                && d.check.observed.contains("/proc/self/ns/pid")
        );
        let d = decide(&Requirement::Root, &HostFacts::default());
        assert_eq!(d.check.met, nix::unistd::geteuid().is_root());
        if !d.check.met {
            assert_eq!(d.reason.unwrap().kind, ReasonKind::NeedsRoot);
        }
    }
}
