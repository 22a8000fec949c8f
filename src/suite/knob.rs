//! Knobs: the one isolation setting a control turns off.
//!
//! Every knob is one entry of [`KNOBS`]: its word, the argument it takes,
//! what turning it off means, how to tell it is on in a sandbox and how to
//! turn it off. Parsing, display, the forms an error lists and the
//! load-time check that the test's sandbox has the knob on all derive from
//! that table; adding a knob adds one entry.

use caps::Capability;
use std::str::FromStr;

use crate::model::cgroup::{CgroupJoin, Leftovers};
use crate::model::namespace::Namespace;
use crate::model::spec::{BindSource, Mount, Propagation, Rootfs, SandboxSpec};

/// What a knob's word takes after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Nothing: `memory-limit`.
    Nothing,
    /// A namespace kind: `namespace pid`.
    Namespace,
    /// A mount target in the sandbox: `readonly /data`.
    Target,
    /// A capability's name: `drop CAP_CHOWN`.
    Capability,
}

impl ArgKind {
    /// How the argument is written in a knob's form.
    fn placeholder(self) -> String {
        match self {
            ArgKind::Nothing => String::new(),
            ArgKind::Namespace => format!(" <{}>", Namespace::ALL.map(Namespace::as_str).join("|")),
            ArgKind::Target => " <target>".into(),
            ArgKind::Capability => " <CAP_NAME>".into(),
        }
    }

    /// Reads the argument as written.
    fn parse(self, arg: &str) -> Result<KnobArg, String> {
        match self {
            ArgKind::Nothing => Ok(KnobArg::Nothing),
            ArgKind::Namespace => Namespace::parse(arg)
                .map(KnobArg::Namespace)
                .ok_or_else(|| format!("unknown namespace `{arg}`")),
            ArgKind::Target => Ok(KnobArg::Target(arg.to_string())),
            ArgKind::Capability => Capability::from_str(arg)
                .map(KnobArg::Capability)
                .map_err(|_| format!("unknown capability `{arg}`")),
        }
    }
}

/// A knob's argument, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KnobArg {
    Nothing,
    Namespace(Namespace),
    Target(String),
    Capability(Capability),
}

impl std::fmt::Display for KnobArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KnobArg::Nothing => Ok(()),
            KnobArg::Namespace(n) => write!(f, " {n}"),
            KnobArg::Target(t) => write!(f, " {t}"),
            KnobArg::Capability(c) => write!(f, " {c}"),
        }
    }
}

/// One knob, defined once.
pub struct KnobDef {
    /// The word a table writes: `namespace`, `memory-limit`.
    pub word: &'static str,
    /// What follows the word.
    pub arg: ArgKind,
    /// What the control's sandbox is with the knob off.
    pub doc: &'static str,
    /// The knob is on in a sandbox.
    is_on: fn(&KnobArg, &SandboxSpec) -> bool,
    /// Turns the knob off in a sandbox.
    turn_off: fn(&KnobArg, &mut SandboxSpec),
}

impl KnobDef {
    /// The knob as a table writes it, argument as a placeholder:
    /// `` `readonly <target>` ``.
    pub fn form(&self) -> String {
        format!("`{}{}`", self.word, self.arg.placeholder())
    }
}

/// Every knob a control can turn off.
pub static KNOBS: &[KnobDef] = &[
    KnobDef {
        word: "namespace",
        arg: ArgKind::Namespace,
        doc: "the sandbox shares this namespace with its parent. For `user` the id maps go too. For `mount` everything that lives in a mount namespace goes too (the new root, the mounts, masked and read-only paths, the propagation setting): without one the sandbox sees the host's /, /proc, /sys and /dev, and nothing is mounted",
        is_on: |a, s| matches!(a, KnobArg::Namespace(n) if s.has(*n)),
        turn_off: |a, s| {
            let KnobArg::Namespace(n) = a else { return };
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
                parents_proc(s);
            }
            if *n == Namespace::Mount {
                s.rootfs = Rootfs::Host;
                s.mounts.clear();
                s.masked_paths.clear();
                s.readonly_paths.clear();
                s.root_propagation = Propagation::Private;
            }
        },
    },
    KnobDef {
        word: "memory-limit",
        arg: ArgKind::Nothing,
        doc: "no memory cap",
        is_on: |_, s| s.cgroup.memory_max.is_some(),
        turn_off: |_, s| s.cgroup.memory_max = None,
    },
    KnobDef {
        word: "pids-limit",
        arg: ArgKind::Nothing,
        doc: "no pids cap",
        is_on: |_, s| s.cgroup.pids_max.is_some(),
        turn_off: |_, s| s.cgroup.pids_max = None,
    },
    KnobDef {
        word: "clone-into-cgroup",
        arg: ArgKind::Nothing,
        doc: "the sandbox is not born in its cgroup: a plain clone, then its pid written to cgroup.procs before its release",
        is_on: |_, s| !s.cgroup.is_empty() && s.cgroup.join == CgroupJoin::CloneInto,
        turn_off: |_, s| s.cgroup.join = CgroupJoin::Move,
    },
    KnobDef {
        word: "cgroup-kill",
        arg: ArgKind::Nothing,
        doc: "once the main process has ended nothing more is killed: no write to cgroup.kill (the teardown still empties the cgroup)",
        is_on: |_, s| s.cgroup.leftovers == Some(Leftovers::CgroupKill),
        turn_off: |_, s| s.cgroup.leftovers = Some(Leftovers::MainProcess),
    },
    KnobDef {
        word: "readonly",
        arg: ArgKind::Target,
        doc: "the bind at target is read-write",
        is_on: |a, s| {
            let KnobArg::Target(t) = a else { return false };
            s.mounts.iter().any(|m| matches!(m, Mount::Bind { target, readonly: true, .. } if target.as_os_str() == t.as_str()))
        },
        turn_off: |a, s| {
            let KnobArg::Target(t) = a else { return };
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
        },
    },
    KnobDef {
        word: "idmap",
        arg: ArgKind::Target,
        doc: "the bind at target is a plain bind: no user namespace's maps, its files show the owners they have on disk",
        is_on: |a, s| {
            let KnobArg::Target(t) = a else { return false };
            s.mounts.iter().any(|m| matches!(m, Mount::Bind { target, idmap: Some(_), .. } if target.as_os_str() == t.as_str()))
        },
        turn_off: |a, s| {
            let KnobArg::Target(t) = a else { return };
            for m in &mut s.mounts {
                if let Mount::Bind { target, idmap, .. } = m {
                    if target.as_os_str() == t.as_str() {
                        *idmap = None;
                    }
                }
            }
        },
    },
    KnobDef {
        word: "drop",
        arg: ArgKind::Capability,
        doc: "the capability is kept",
        is_on: |a, s| matches!(a, KnobArg::Capability(c) if s.caps.drop.contains(c)),
        turn_off: |a, s| {
            if let KnobArg::Capability(c) = a {
                s.caps.drop.retain(|x| x != c);
            }
        },
    },
    KnobDef {
        word: "no-new-privs",
        arg: ArgKind::Nothing,
        doc: "no_new_privs is left unset",
        is_on: |_, s| s.no_new_privs,
        turn_off: |_, s| s.no_new_privs = false,
    },
    KnobDef {
        word: "seccomp",
        arg: ArgKind::Nothing,
        doc: "no seccomp filter",
        is_on: |_, s| s.seccomp.is_some(),
        turn_off: |_, s| s.seccomp = None,
    },
    KnobDef {
        word: "seccomp-listener",
        arg: ArgKind::Nothing,
        doc: "no user-notification filter: the supervisor stays, with no listener to take",
        is_on: |_, s| s.seccomp_notify.is_some(),
        turn_off: |_, s| s.seccomp_notify = None,
    },
    KnobDef {
        word: "masked-paths",
        arg: ArgKind::Nothing,
        doc: "nothing is masked and no path is made read-only",
        is_on: |_, s| !s.masked_paths.is_empty() || !s.readonly_paths.is_empty(),
        turn_off: |_, s| {
            s.masked_paths.clear();
            s.readonly_paths.clear();
        },
    },
    KnobDef {
        word: "file-caps",
        arg: ArgKind::Nothing,
        doc: "the exec copy keeps its file capabilities",
        is_on: |_, s| {
            s.scaffold.exec_copy
                .as_ref()
                .is_some_and(|c| c.strip_file_caps && !c.file_caps.is_empty())
        },
        turn_off: |_, s| {
            if let Some(c) = &mut s.scaffold.exec_copy {
                c.strip_file_caps = false;
            }
        },
    },
    KnobDef {
        word: "pivot-root",
        arg: ArgKind::Nothing,
        doc: "no new root; the sandbox stays in the host's root",
        is_on: |_, s| !matches!(s.rootfs, Rootfs::Host),
        turn_off: |_, s| s.rootfs = Rootfs::Host,
    },
    KnobDef {
        word: "propagation",
        arg: ArgKind::Nothing,
        doc: "the sandbox's mounts are shared with the namespace it was cloned from (a throwaway outer one), both ways",
        is_on: |_, s| s.has(Namespace::Mount) && s.root_propagation != Propagation::Shared,
        turn_off: |_, s| s.root_propagation = Propagation::Shared,
    },
    KnobDef {
        word: "fresh-proc",
        arg: ArgKind::Nothing,
        doc: "no proc of the sandbox's own; its /proc is the parent's, bound in",
        is_on: |_, s| s.mounts.iter().any(|m| matches!(m, Mount::Proc { .. })),
        turn_off: |_, s| parents_proc(s),
    },
    KnobDef {
        word: "setgroups-deny",
        arg: ArgKind::Nothing,
        doc: "setgroups is left allowed in the user namespace",
        is_on: |_, s| s.setgroups_deny,
        turn_off: |_, s| s.setgroups_deny = false,
    },
    KnobDef {
        word: "user",
        arg: ArgKind::Nothing,
        doc: "the probe runs as the sandbox's root, not as `user`",
        is_on: |_, s| s.user.is_some(),
        turn_off: |_, s| s.user = None,
    },
    KnobDef {
        word: "cpu-limit",
        arg: ArgKind::Nothing,
        doc: "no CPU quota; the sandbox keeps its cgroup in the cpu hierarchy, unlimited (`max`), so it is placed as the test's",
        is_on: |_, s| s.cgroup.cpu_max.is_some_and(|c| c.quota_us.is_some()),
        turn_off: |_, s| {
            if let Some(c) = &mut s.cgroup.cpu_max {
                c.quota_us = None;
            }
        },
    },
    KnobDef {
        word: "landlock",
        arg: ArgKind::Nothing,
        doc: "no Landlock ruleset",
        is_on: |_, s| s.landlock.is_some(),
        turn_off: |_, s| s.landlock = None,
    },
    KnobDef {
        word: "memory-high",
        arg: ArgKind::Nothing,
        doc: "no memory.high limit; the sandbox keeps its cgroup in the memory hierarchy",
        is_on: |_, s| s.cgroup.memory_high.is_some(),
        turn_off: |_, s| {
            s.cgroup.memory_high = None;
            s.cgroup.memory_account = true;
        },
    },
    KnobDef {
        word: "cgroup-join",
        arg: ArgKind::Nothing,
        doc: "the sandbox's cgroup is made and read, but the sandbox is never moved into it",
        is_on: |_, s| !s.cgroup.is_empty() && !s.cgroup.unjoined,
        turn_off: |_, s| s.cgroup.unjoined = true,
    },
    KnobDef {
        word: "veth",
        arg: ArgKind::Nothing,
        doc: "no veth pair into the sandbox",
        is_on: |_, s| s.scaffold.veth.is_some(),
        turn_off: |_, s| s.scaffold.veth = None,
    },
    KnobDef {
        word: "lesser-opener",
        arg: ArgKind::Nothing,
        doc: "the probe opens the cgroup file as root, not with its effective uid lowered to the lesser opener's",
        is_on: |_, s| s.scaffold.lesser_opener.is_some(),
        turn_off: |_, s| s.scaffold.lesser_opener = None,
    },
];

/// Every knob's form, for messages: `` `namespace <user|pid|...>`, `memory-limit`, ... ``.
pub fn knob_forms() -> String {
    KNOBS
        .iter()
        .map(KnobDef::form)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The knob a control turns off: one entry of [`KNOBS`] with its argument.
#[derive(Clone)]
pub struct ControlKnob {
    def: &'static KnobDef,
    arg: KnobArg,
}

impl PartialEq for ControlKnob {
    fn eq(&self, other: &ControlKnob) -> bool {
        self.def.word == other.def.word && self.arg == other.arg
    }
}

impl Eq for ControlKnob {}

impl std::fmt::Debug for ControlKnob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ControlKnob({self})")
    }
}

impl FromStr for ControlKnob {
    type Err = String;
    fn from_str(s: &str) -> Result<ControlKnob, String> {
        let mut it = s.split_whitespace();
        let word = it.next().unwrap_or("");
        let arg = it.next();
        if it.next().is_some() {
            return Err(format!(
                "`{s}` has too many words; a knob is one of {}",
                knob_forms()
            ));
        }
        let def = KNOBS.iter().find(|d| d.word == word);
        match (def, arg) {
            (Some(def), None) if def.arg == ArgKind::Nothing => Ok(ControlKnob {
                def,
                arg: KnobArg::Nothing,
            }),
            (Some(def), Some(a)) if def.arg != ArgKind::Nothing => Ok(ControlKnob {
                def,
                arg: def.arg.parse(a)?,
            }),
            _ => Err(format!(
                "unknown knob `{s}`; a knob is one of {}",
                knob_forms()
            )),
        }
    }
}

impl std::fmt::Display for ControlKnob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.def.word, self.arg)
    }
}

impl ControlKnob {
    /// Its definition.
    pub fn def(&self) -> &'static KnobDef {
        self.def
    }

    /// Checks the knob is on in `spec`: a control that turns off a knob
    /// the test never turned on would prove nothing.
    pub fn check_on(&self, spec: &SandboxSpec) -> Result<(), String> {
        if (self.def.is_on)(&self.arg, spec) {
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
        (self.def.turn_off)(&self.arg, &mut s);
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
                idmap: None,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cgroup::CpuMax;
    use crate::model::scaffold::{ExecCopy, Scaffold};
    use crate::model::spec::{IdMap, SeccompSpec};
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
                    idmap: None,
                },
                Mount::Proc {
                    target: "/proc".into(),
                },
            ],
            caps: crate::model::spec::CapsSpec {
                drop: vec![Capability::CAP_CHOWN],
                ..Default::default()
            },
            cgroup: crate::model::cgroup::CgroupLimits {
                memory_max: Some(1 << 25),
                ..Default::default()
            },
            user: Some(crate::model::spec::Ids {
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
                    idmap: None,
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

    /// A knob as a table writes it.
    fn knob(src: &str) -> ControlKnob {
        src.parse().unwrap()
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
        let knob = knob(src);
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
        let off = knob("namespace mount").turn_off(&secure());
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
        assert!(knob("file-caps").check_on(&s).is_err());
        s.scaffold.exec_copy = None;
        assert!(knob("file-caps").check_on(&s).is_err());
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
        let knob = knob(src);
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
        let off = knob("namespace pid").turn_off(&base);
        assert!(off.mounts.contains(&Mount::Bind {
            source: BindSource::Host("/proc".into()),
            target: "/proc".into(),
            readonly: true,
            idmap: None,
        }));
        assert!(!off.mounts.iter().any(|m| matches!(m, Mount::Proc { .. })));
    }

    #[test]
    fn turning_off_the_user_namespace_drops_its_maps() {
        let off = knob("namespace user").turn_off(&spec());
        assert!(off.uid_map.is_empty() && off.gid_map.is_empty());
        off.validate().unwrap();
    }

    #[rstest]
    #[case::unknown_word("namespaces pid", "unknown knob")]
    #[case::unknown_ns("namespace cpu", "unknown namespace `cpu`")]
    #[case::unknown_cap("drop CAP_FLY", "unknown capability")]
    #[case::extra("memory-limit now please", "too many words")]
    fn bad_knobs_are_named(#[case] src: &str, #[case] msg: &str) {
        assert!(src.parse::<ControlKnob>().unwrap_err().contains(msg));
    }

    /// A sandbox with a CPU quota and a veth pair, as the cpu and veth rows.
    fn limited() -> SandboxSpec {
        SandboxSpec {
            namespaces: [Namespace::Pid, Namespace::Mount, Namespace::Net]
                .into_iter()
                .collect(),
            outer: [Namespace::Net].into_iter().collect(),
            cgroup: crate::model::cgroup::CgroupLimits {
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
        let knob = knob(src);
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
        let off = knob("cpu-limit").turn_off(&limited());
        assert_eq!(
            off.cgroup.cpu_max,
            Some(CpuMax {
                quota_us: None,
                period_us: 100_000
            })
        );
        assert!(!off.cgroup.is_empty(), "the control still gets a cgroup");
        // A cgroup in the cpu hierarchy without a quota is no limit to turn off.
        assert!(knob("cpu-limit").check_on(&off).is_err());
    }

    #[test]
    fn every_knob_is_one_entry_that_parses_back_from_its_display() {
        assert_eq!(
            knob_forms(),
            "`namespace <user|pid|mount|uts|ipc|net|cgroup|time>`, `memory-limit`, `pids-limit`, `clone-into-cgroup`, `cgroup-kill`, `readonly <target>`, `idmap <target>`, `drop <CAP_NAME>`, `no-new-privs`, `seccomp`, `seccomp-listener`, `masked-paths`, `file-caps`, `pivot-root`, `propagation`, `fresh-proc`, `setgroups-deny`, `user`, `cpu-limit`, `landlock`, `memory-high`, `cgroup-join`, `veth`, `lesser-opener`"
        );
        for def in KNOBS {
            assert!(!def.doc.is_empty(), "{} has no doc", def.word);
            let src = match def.arg {
                ArgKind::Nothing => def.word.to_string(),
                ArgKind::Namespace => format!("{} net", def.word),
                ArgKind::Target => format!("{} /data", def.word),
                ArgKind::Capability => format!("{} CAP_CHOWN", def.word),
            };
            let k = knob(&src);
            assert_eq!(k.to_string(), src);
            assert_eq!(k.def().word, def.word);
            let missing = if def.arg == ArgKind::Nothing {
                format!("{} x", def.word)
            } else {
                def.word.to_string()
            };
            assert!(missing.parse::<ControlKnob>().is_err(), "{missing}");
        }
        let words: std::collections::HashSet<_> = KNOBS.iter().map(|d| d.word).collect();
        assert_eq!(words.len(), KNOBS.len(), "a word defined twice");
    }

    #[test]
    fn the_readme_lists_every_knob() {
        let readme = include_str!("../../README.md").replace('\n', " ");
        let at = readme
            .find("Knobs a control can turn off:")
            .expect("the README lists the knobs");
        let list = &readme[at..at + readme[at..].find('.').unwrap_or(0)];
        for def in KNOBS {
            assert!(
                list.contains(&format!("`{}", def.word)),
                "README.md does not list the knob `{}`",
                def.word
            );
        }
    }

    #[test]
    fn a_knob_the_test_does_not_turn_on_is_refused() {
        let err = knob("pids-limit").check_on(&spec()).unwrap_err();
        assert!(err.contains("pids-limit"));
    }
}
