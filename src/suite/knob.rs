//! Knobs: the one isolation setting a control turns off.

use caps::Capability;
use std::str::FromStr;

use crate::runtime::spec::{BindSource, Mount, Namespace, Propagation, Rootfs, SandboxSpec};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Knob {
    /// `namespace <kind>`: the sandbox shares this namespace with its parent.
    /// For `user` the id maps go too. For `mount` everything that lives in a
    /// mount namespace goes too (the new root, the mounts, masked and
    /// read-only paths, the propagation setting): without one the sandbox
    /// sees the host's /, /proc, /sys and /dev, and nothing is mounted.
    Namespace(Namespace),
    /// `memory-limit`: no memory cap.
    MemoryLimit,
    /// `pids-limit`: no pids cap.
    PidsLimit,
    /// `readonly <target>`: the bind at target is read-write.
    Readonly(String),
    /// `drop <CAP>`: the capability is kept.
    Drop(Capability),
    /// `no-new-privs`: no_new_privs is left unset.
    NoNewPrivs,
    /// `fresh-proc`: no proc of the sandbox's own; its /proc is the
    /// parent's, bound in.
    FreshProc,
    /// `setgroups-deny`: setgroups is left allowed in the user namespace.
    SetgroupsDeny,
    /// `user`: the probe runs as the sandbox's root, not as `user`.
    User,
    /// `seccomp`: no seccomp filter.
    Seccomp,
    /// `masked-paths`: nothing is masked and no path is made read-only.
    MaskedPaths,
    /// `file-caps`: the exec copy keeps its file capabilities.
    FileCaps,
    /// `pivot-root`: no new root; the sandbox stays in the host's root.
    PivotRoot,
    /// `propagation`: the sandbox's mounts are shared with the namespace it
    /// was cloned from (a throwaway outer one), both ways.
    Propagation,
    /// `cpu-limit`: no CPU quota; the sandbox keeps its cgroup in the cpu
    /// hierarchy, unlimited (`max`), so it is placed as the test's.
    CpuLimit,
    /// `veth`: no veth pair into the sandbox.
    Veth,
}

pub const KNOB_FORMS: &str =
    "`namespace <user|pid|mount|uts|ipc|net|cgroup|time>`, `memory-limit`, `pids-limit`, `readonly <target>`, `drop <CAP_NAME>`, `no-new-privs`, `seccomp`, `masked-paths`, `file-caps`, `pivot-root`, `propagation`, `fresh-proc`, `setgroups-deny`, `user`, `cpu-limit`, `veth`";

impl FromStr for Knob {
    type Err = String;
    fn from_str(s: &str) -> Result<Knob, String> {
        let mut it = s.split_whitespace();
        let word = it.next().unwrap_or("");
        let arg = it.next();
        if it.next().is_some() {
            return Err(format!(
                "`{s}` has too many words; a knob is one of {KNOB_FORMS}"
            ));
        }
        match (word, arg) {
            ("namespace", Some(ns)) => Namespace::parse(ns)
                .map(Knob::Namespace)
                .ok_or_else(|| format!("unknown namespace `{ns}`")),
            ("memory-limit", None) => Ok(Knob::MemoryLimit),
            ("pids-limit", None) => Ok(Knob::PidsLimit),
            ("readonly", Some(t)) => Ok(Knob::Readonly(t.to_string())),
            ("drop", Some(c)) => Capability::from_str(c)
                .map(Knob::Drop)
                .map_err(|_| format!("unknown capability `{c}`")),
            ("no-new-privs", None) => Ok(Knob::NoNewPrivs),
            ("fresh-proc", None) => Ok(Knob::FreshProc),
            ("setgroups-deny", None) => Ok(Knob::SetgroupsDeny),
            ("user", None) => Ok(Knob::User),
            ("seccomp", None) => Ok(Knob::Seccomp),
            ("masked-paths", None) => Ok(Knob::MaskedPaths),
            ("file-caps", None) => Ok(Knob::FileCaps),
            ("pivot-root", None) => Ok(Knob::PivotRoot),
            ("propagation", None) => Ok(Knob::Propagation),
            ("cpu-limit", None) => Ok(Knob::CpuLimit),
            ("veth", None) => Ok(Knob::Veth),
            _ => Err(format!("unknown knob `{s}`; a knob is one of {KNOB_FORMS}")),
        }
    }
}

impl std::fmt::Display for Knob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Knob::Namespace(n) => write!(f, "namespace {n}"),
            Knob::MemoryLimit => f.write_str("memory-limit"),
            Knob::PidsLimit => f.write_str("pids-limit"),
            Knob::Readonly(t) => write!(f, "readonly {t}"),
            Knob::Drop(c) => write!(f, "drop {c}"),
            Knob::NoNewPrivs => f.write_str("no-new-privs"),
            Knob::FreshProc => f.write_str("fresh-proc"),
            Knob::SetgroupsDeny => f.write_str("setgroups-deny"),
            Knob::User => f.write_str("user"),
            Knob::Seccomp => f.write_str("seccomp"),
            Knob::MaskedPaths => f.write_str("masked-paths"),
            Knob::FileCaps => f.write_str("file-caps"),
            Knob::PivotRoot => f.write_str("pivot-root"),
            Knob::Propagation => f.write_str("propagation"),
            Knob::CpuLimit => f.write_str("cpu-limit"),
            Knob::Veth => f.write_str("veth"),
        }
    }
}

impl Knob {
    /// Checks the knob is on in `spec`: a control that turns off a knob
    /// the test never turned on would prove nothing.
    pub fn check_on(&self, spec: &SandboxSpec) -> Result<(), String> {
        let on = match self {
            Knob::Namespace(n) => spec.has(*n),
            Knob::MemoryLimit => spec.cgroup.memory_max.is_some(),
            Knob::PidsLimit => spec.cgroup.pids_max.is_some(),
            Knob::Readonly(t) => spec.mounts.iter().any(|m| matches!(m, Mount::Bind { target, readonly: true, .. } if target.as_os_str() == t.as_str())),
            Knob::Drop(c) => spec.caps.drop.contains(c),
            Knob::NoNewPrivs => spec.no_new_privs,
            Knob::FreshProc => spec.mounts.iter().any(|m| matches!(m, Mount::Proc { .. })),
            Knob::SetgroupsDeny => spec.setgroups_deny,
            Knob::User => spec.user.is_some(),
            Knob::Seccomp => spec.seccomp.is_some(),
            Knob::MaskedPaths => !spec.masked_paths.is_empty() || !spec.readonly_paths.is_empty(),
            Knob::FileCaps => spec
                .scaffold
                .exec_copy
                .as_ref()
                .is_some_and(|c| c.strip_file_caps && !c.file_caps.is_empty()),
            Knob::PivotRoot => !matches!(spec.rootfs, Rootfs::Host),
            Knob::Propagation => {
                spec.has(Namespace::Mount) && spec.root_propagation != Propagation::Shared
            }
            Knob::CpuLimit => spec
                .cgroup
                .cpu_max
                .is_some_and(|c| c.quota_us.is_some()),
            Knob::Veth => spec.scaffold.veth.is_some(),
        };
        if on {
            Ok(())
        } else {
            Err(format!(
                "the control turns off `{self}`, which the test's sandbox does not turn on"
            ))
        }
    }

    /// The control's sandbox: `spec` with this one knob off.
    pub fn turn_off(&self, spec: &SandboxSpec) -> SandboxSpec {
        let mut s = spec.clone();
        match self {
            Knob::Namespace(n) => {
                s.namespaces.remove(n);
                if *n == Namespace::User {
                    s.uid_map.clear();
                    s.gid_map.clear();
                    s.setgroups_deny = false;
                }
                if *n == Namespace::Time {
                    s.time_offsets = None;
                }
                if *n == Namespace::Pid {
                    // Without a PID namespace of its own a fresh proc would
                    // show the parent's: that is the parent's /proc, bound
                    // (a proc mount needs privilege over the PID namespace,
                    // which a rootless sandbox lacks).
                    parents_proc(&mut s);
                }
                if *n == Namespace::Mount {
                    s.rootfs = Rootfs::Host;
                    s.mounts.clear();
                    s.masked_paths.clear();
                    s.readonly_paths.clear();
                    s.root_propagation = Propagation::Private;
                }
            }
            Knob::FreshProc => parents_proc(&mut s),
            Knob::SetgroupsDeny => s.setgroups_deny = false,
            Knob::User => s.user = None,
            Knob::MemoryLimit => s.cgroup.memory_max = None,
            Knob::PidsLimit => s.cgroup.pids_max = None,
            Knob::Readonly(t) => {
                for m in &mut s.mounts {
                    if let Mount::Bind {
                        target, readonly, ..
                    } = m
                    {
                        if target.as_os_str() == t.as_str() {
                            *readonly = false;
                        }
                    }
                }
            }
            Knob::Drop(c) => s.caps.drop.retain(|x| x != c),
            Knob::NoNewPrivs => s.no_new_privs = false,
            Knob::Seccomp => s.seccomp = None,
            Knob::MaskedPaths => {
                s.masked_paths.clear();
                s.readonly_paths.clear();
            }
            Knob::FileCaps => {
                if let Some(c) = &mut s.scaffold.exec_copy {
                    c.strip_file_caps = false;
                }
            }
            Knob::PivotRoot => s.rootfs = Rootfs::Host,
            Knob::Propagation => s.root_propagation = Propagation::Shared,
            Knob::CpuLimit => {
                if let Some(c) = &mut s.cgroup.cpu_max {
                    c.quota_us = None;
                }
            }
            Knob::Veth => s.scaffold.veth = None,
        }
        s
    }
}

/// Replaces every fresh proc mount with a read-only bind of the parent's /proc.
fn parents_proc(s: &mut SandboxSpec) {
    for m in &mut s.mounts {
        if let Mount::Proc { target } = m {
            *m = Mount::Bind {
                source: BindSource::Host("/proc".into()),
                target: target.clone(),
                readonly: true,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spec::{CpuMax, ExecCopy, IdMap, Scaffold, SeccompSpec};
    use rstest::rstest;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            namespaces: [Namespace::User, Namespace::Pid, Namespace::Mount]
                .into_iter()
                .collect(),
            uid_map: vec![IdMap {
                inside: 0,
                outside: 100000,
                count: 1,
            }],
            gid_map: vec![IdMap {
                inside: 0,
                outside: 100000,
                count: 1,
            }],
            mounts: vec![
                Mount::Bind {
                    source: BindSource::Scratch,
                    target: "/data".into(),
                    readonly: true,
                },
                Mount::Proc {
                    target: "/proc".into(),
                },
            ],
            caps: crate::runtime::spec::CapsSpec {
                drop: vec![Capability::CAP_CHOWN],
                ..Default::default()
            },
            cgroup: crate::runtime::spec::CgroupLimits {
                memory_max: Some(1 << 25),
                pids_max: None,
                cpu_max: None,
            },
            user: Some(crate::runtime::spec::Ids {
                uid: 1000,
                gid: 1000,
            }),
            ..Default::default()
        }
    }

    /// A rootful sandbox with every security layer on.
    fn secure() -> SandboxSpec {
        SandboxSpec {
            namespaces: [Namespace::Pid, Namespace::Mount].into_iter().collect(),
            outer: [Namespace::Mount].into_iter().collect(),
            mounts: vec![
                Mount::Proc {
                    target: "/proc".into(),
                },
                Mount::Bind {
                    source: BindSource::Scratch,
                    target: "/data".into(),
                    readonly: true,
                },
            ],
            no_new_privs: true,
            scaffold: Scaffold {
                exec_copy: Some(ExecCopy {
                    file_caps: vec![Capability::CAP_NET_BIND_SERVICE],
                    strip_file_caps: true,
                    setuid_root: false,
                }),
                ..Default::default()
            },
            seccomp: Some(SeccompSpec {
                deny: vec!["uname".into()],
                errno: "EPERM".into(),
            }),
            masked_paths: vec!["/proc/kcore".into()],
            readonly_paths: vec!["/proc/sys".into()],
            root_propagation: Propagation::Slave,
            ..Default::default()
        }
    }

    #[rstest]
    #[case::nnp("no-new-privs")]
    #[case::seccomp("seccomp")]
    #[case::masked("masked-paths")]
    #[case::file_caps("file-caps")]
    #[case::pivot("pivot-root")]
    #[case::propagation("propagation")]
    #[case::mount_ns("namespace mount")]
    fn security_knobs_turn_off_one_layer(#[case] src: &str) {
        let knob: Knob = src.parse().unwrap();
        let base = secure();
        base.validate().unwrap();
        knob.check_on(&base).unwrap();
        let off = knob.turn_off(&base);
        assert_ne!(off, base);
        assert!(knob.check_on(&off).is_err(), "{src} is still on");
        assert_eq!(knob.to_string(), src);
        // At most one of the process-level layers changes.
        let changed = [
            base.no_new_privs != off.no_new_privs,
            base.seccomp != off.seccomp,
            base.scaffold.exec_copy != off.scaffold.exec_copy,
            base.caps != off.caps,
            base.user != off.user,
        ]
        .into_iter()
        .filter(|c| *c)
        .count();
        assert!(changed <= 1, "{src} changed {changed} process-level layers");
    }

    #[test]
    fn turning_off_the_mount_namespace_takes_what_lives_in_it() {
        let off = Knob::Namespace(Namespace::Mount).turn_off(&secure());
        assert_eq!(off.rootfs, Rootfs::Host);
        assert!(off.mounts.is_empty() && off.masked_paths.is_empty());
        assert!(off.readonly_paths.is_empty());
        assert_eq!(off.root_propagation, Propagation::Private);
    }

    #[test]
    fn file_caps_is_on_only_when_caps_are_stripped_from_a_copy_that_has_some() {
        let mut s = secure();
        s.scaffold.exec_copy = Some(ExecCopy {
            strip_file_caps: true,
            ..Default::default()
        });
        assert!(Knob::FileCaps.check_on(&s).is_err());
        s.scaffold.exec_copy = None;
        assert!(Knob::FileCaps.check_on(&s).is_err());
    }

    #[rstest]
    #[case::pid("namespace pid")]
    #[case::user("namespace user")]
    #[case::memory("memory-limit")]
    #[case::readonly("readonly /data")]
    #[case::cap("drop CAP_CHOWN")]
    #[case::fresh_proc("fresh-proc")]
    #[case::user("user")]
    fn a_control_differs_from_its_test_in_that_one_knob(#[case] src: &str) {
        let knob: Knob = src.parse().unwrap();
        let base = spec();
        knob.check_on(&base).unwrap();
        let off = knob.turn_off(&base);
        assert_ne!(off, base);
        assert!(knob.check_on(&off).is_err(), "{src} is still on");
        assert_eq!(knob.to_string(), src);
    }

    #[test]
    fn turning_off_the_pid_namespace_shows_the_parents_proc() {
        let mut base = spec();
        base.mounts.push(Mount::Proc {
            target: "/proc".into(),
        });
        let off = Knob::Namespace(Namespace::Pid).turn_off(&base);
        assert!(off.mounts.contains(&Mount::Bind {
            source: BindSource::Host("/proc".into()),
            target: "/proc".into(),
            readonly: true
        }));
        assert!(!off.mounts.iter().any(|m| matches!(m, Mount::Proc { .. })));
    }

    #[test]
    fn turning_off_the_user_namespace_drops_its_maps() {
        let off = Knob::Namespace(Namespace::User).turn_off(&spec());
        assert!(off.uid_map.is_empty() && off.gid_map.is_empty());
        off.validate().unwrap();
    }

    #[rstest]
    #[case::unknown_word("namespaces pid", "unknown knob")]
    #[case::unknown_ns("namespace cpu", "unknown namespace `cpu`")]
    #[case::unknown_cap("drop CAP_FLY", "unknown capability")]
    #[case::extra("memory-limit now please", "too many words")]
    fn bad_knobs_are_named(#[case] src: &str, #[case] msg: &str) {
        assert!(src.parse::<Knob>().unwrap_err().contains(msg));
    }

    /// A sandbox with a CPU quota and a veth pair, as the cpu and veth rows.
    fn limited() -> SandboxSpec {
        SandboxSpec {
            namespaces: [Namespace::Pid, Namespace::Mount, Namespace::Net]
                .into_iter()
                .collect(),
            outer: [Namespace::Net].into_iter().collect(),
            cgroup: crate::runtime::spec::CgroupLimits {
                cpu_max: Some(CpuMax {
                    quota_us: Some(20_000),
                    period_us: 100_000,
                }),
                ..Default::default()
            },
            scaffold: Scaffold {
                veth: Some(Default::default()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[rstest]
    #[case::cpu("cpu-limit")]
    #[case::veth("veth")]
    #[case::net("namespace net")]
    fn cpu_and_veth_knobs_turn_off_one_thing(#[case] src: &str) {
        let knob: Knob = src.parse().unwrap();
        let base = limited();
        base.validate().unwrap();
        knob.check_on(&base).unwrap();
        let off = knob.turn_off(&base);
        off.validate().unwrap();
        assert!(knob.check_on(&off).is_err(), "{src} is still on");
        assert_eq!(knob.to_string(), src);
        let changed = [
            base.cgroup != off.cgroup,
            base.scaffold.veth != off.scaffold.veth,
            base.namespaces != off.namespaces,
        ]
        .into_iter()
        .filter(|c| *c)
        .count();
        assert_eq!(changed, 1, "{src} changed {changed} things");
    }

    #[test]
    fn without_its_quota_the_sandbox_keeps_an_unlimited_cpu_cgroup() {
        let off = Knob::CpuLimit.turn_off(&limited());
        assert_eq!(
            off.cgroup.cpu_max,
            Some(CpuMax {
                quota_us: None,
                period_us: 100_000
            })
        );
        assert!(!off.cgroup.is_empty(), "the control still gets a cgroup");
        // A cgroup in the cpu hierarchy without a quota is no limit to turn off.
        assert!(Knob::CpuLimit.check_on(&off).is_err());
    }

    #[test]
    fn a_knob_the_test_does_not_turn_on_is_refused() {
        let err = Knob::PidsLimit.check_on(&spec()).unwrap_err();
        assert!(err.contains("pids-limit"));
    }
}
