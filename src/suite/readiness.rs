//! Readiness: the question people ask most about a host, answered per
//! container stack (`isocheck audit --for <profile>`): can it run here,
//! and if not, what blocks it and what change would fix it.
//!
//! An answer is built only from what the audit's probes saw (a feature
//! made for real, or refused with the knob or security module that refused
//! it) and from host facts (the kernel config, newuidmap and newgidmap,
//! subordinate id ranges, cgroup delegation); never from a kernel version.
//! A need the host could not decide (no kernel config, a probe that needs
//! root) makes the answer `unknown`, never `yes`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::host::HostFacts;
use crate::model::result::{Audit, AuditStatus};

/// A container stack whose needs a host is checked against.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Rootful Docker or containerd (runc, crun).
    Docker,
    /// Rootless Podman or rootless Docker (an unprivileged user's own user
    /// namespace with subordinate ids).
    RootlessPodman,
    /// Kubernetes pods with user namespaces (`hostUsers: false`).
    K8sUserns,
    /// bubblewrap, and Flatpak which runs on it, unprivileged.
    Bubblewrap,
}

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::Docker,
        Profile::RootlessPodman,
        Profile::K8sUserns,
        Profile::Bubblewrap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Docker => "docker",
            Profile::RootlessPodman => "rootless-podman",
            Profile::K8sUserns => "k8s-userns",
            Profile::Bubblewrap => "bubblewrap",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Profile::Docker => "rootful Docker or containerd",
            Profile::RootlessPodman => "rootless Podman or Docker",
            Profile::K8sUserns => "Kubernetes pods with user namespaces (hostUsers: false)",
            Profile::Bubblewrap => "bubblewrap and Flatpak, unprivileged",
        }
    }
}

/// The answer for one profile.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct ProfileAnswer {
    /// `docker`, `rootless-podman`, `k8s-userns`, `bubblewrap`.
    pub profile: String,
    pub title: String,
    /// `yes`, `no`, or `unknown` (a need this host could not decide).
    pub answer: Answer,
    pub needs: Vec<Need>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Answer {
    Yes,
    No,
    Unknown,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        match self {
            Answer::Yes => "yes",
            Answer::No => "no",
            Answer::Unknown => "unknown",
        }
    }
}

/// One thing a profile needs, and whether this host has it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
pub struct Need {
    pub what: String,
    /// `None`: this host could not decide it.
    pub met: Option<bool>,
    /// Without it the stack still runs, with less (say, no resource
    /// limits): it does not make the answer `no`.
    pub optional: bool,
    /// What was seen.
    pub seen: String,
    /// The change that would meet it, when it is not met.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// A need decided by one of the audit's checks (by its feature name).
fn from_audit(audit: &Audit, feature: &str, optional: bool) -> Need {
    let Some(c) = audit.checks.iter().find(|c| c.feature == feature) else {
        return Need {
            what: feature.into(),
            met: None,
            optional,
            seen: "not audited".into(),
            fix: None,
        };
    };
    let met = match c.status {
        AuditStatus::Ok => Some(true),
        AuditStatus::Absent | AuditStatus::Blocked | AuditStatus::Disagree => Some(false),
        AuditStatus::Unprobed | AuditStatus::Error => None,
    };
    let fix = match c.status {
        AuditStatus::Absent => Some(format!(
            "a kernel built with {}",
            c.config.replace("=n", "=y")
        )),
        AuditStatus::Blocked | AuditStatus::Disagree => Some(
            c.hint
                .clone()
                .unwrap_or_else(|| format!("lift what blocks it: {}", c.explanation)),
        ),
        _ => None,
    };
    Need {
        what: feature.into(),
        met,
        optional,
        seen: format!("{}: {} ({})", c.status.as_str(), c.behaviour, c.explanation),
        fix,
    }
}

/// A need decided by the kernel config: every option built in or as a
/// module.
fn from_kconfig(host: &HostFacts, what: &str, options: &[&str], optional: bool) -> Need {
    if !host.kconfig.is_known() {
        return Need {
            what: what.into(),
            met: None,
            optional,
            seen: "the kernel config was not found".into(),
            fix: None,
        };
    }
    // Every option named here is recorded: one missing had a line with no
    // value that can be read, and whether it is built is unknown.
    let unknown: Vec<&str> = options
        .iter()
        .copied()
        .filter(|o| host.kconfig.get(o).and_then(|v| v.built()).is_none())
        .collect();
    let missing: Vec<&str> = options
        .iter()
        .copied()
        .filter(|o| host.kconfig.get(o).and_then(|v| v.built()) == Some(false))
        .collect();
    if missing.is_empty() && !unknown.is_empty() {
        return Need {
            what: what.into(),
            met: None,
            optional,
            seen: format!(
                "the kernel config gives no y, m or n for {}",
                unknown.join(", ")
            ),
            fix: None,
        };
    }
    Need {
        what: what.into(),
        met: Some(missing.is_empty()),
        optional,
        seen: if missing.is_empty() {
            format!("{} built", options.join(", "))
        } else {
            format!("not built: {}", missing.join(", "))
        },
        fix: (!missing.is_empty())
            .then(|| format!("a kernel built with {}", missing.join("=y, ") + "=y")),
    }
}

/// newuidmap and newgidmap, found and privileged.
fn idmap_tools(host: &HostFacts) -> Need {
    let unusable: Vec<&str> = ["newuidmap", "newgidmap"]
        .into_iter()
        .filter(|n| !host.idmap_tools.iter().any(|t| t.name == *n && t.usable()))
        .collect();
    Need {
        what: "newuidmap and newgidmap (setuid root or with file capabilities)".into(),
        met: Some(unusable.is_empty()),
        optional: false,
        seen: if unusable.is_empty() {
            "both found and privileged".into()
        } else {
            format!("missing or unprivileged: {}", unusable.join(", "))
        },
        fix: (!unusable.is_empty())
            .then(|| "install the uidmap package (Debian, Ubuntu) or shadow-utils (Fedora)".into()),
    }
}

/// Subordinate id ranges for at least one user in both files.
fn subid_ranges(host: &HostFacts) -> Need {
    let users = |f: &crate::model::host::SubidFile| f.entries.len();
    let (u, g) = (users(&host.subids.subuid), users(&host.subids.subgid));
    let met = match (host.subids.subuid.exists, host.subids.subgid.exists) {
        (None, _) | (_, None) => None,
        _ => Some(u > 0 && g > 0),
    };
    Need {
        what: "subordinate id ranges in /etc/subuid and /etc/subgid".into(),
        met,
        optional: false,
        seen: format!("{u} ranges in subuid, {g} in subgid"),
        fix: (met == Some(false)).then(|| {
            "usermod --add-subuids 100000-165535 --add-subgids 100000-165535 <user>".into()
        }),
    }
}

/// cgroup v2 with cpu, memory and pids enabled below the root, so a
/// systemd user session can be delegated them (the resource limits of
/// rootless containers).
fn v2_delegation(host: &HostFacts) -> Need {
    let unified = host.cgroup.layout.as_str() == "unified";
    let enabled: Vec<&String> = host.cgroup.v2_controllers.iter().collect();
    let lacking: Vec<&str> = ["cpu", "memory", "pids"]
        .into_iter()
        .filter(|c| !enabled.iter().any(|e| e.as_str() == *c))
        .collect();
    let met = unified && lacking.is_empty();
    Need {
        what: "cgroup v2 with cpu, memory and pids (resource limits of rootless containers)".into(),
        met: Some(met),
        optional: true,
        seen: if unified {
            format!("cgroup v2; controllers: {}", host.cgroup.v2_controllers.join(" "))
        } else {
            format!("cgroup layout {}", host.cgroup.layout.as_str())
        },
        fix: (!met).then(|| {
            if unified {
                format!(
                    "enable {} on cgroup v2 and delegate them to user sessions (systemd: Delegate=cpu memory pids in user@.service.d)",
                    lacking.join(" ")
                )
            } else {
                "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2) and delegate cpu memory pids to user sessions".into()
            }
        }),
    }
}

/// crun, the OCI runtime Podman runs by default on Debian and Fedora,
/// refuses a hybrid layout whose cgroup2 hierarchy holds a controller
/// ("cgroups in hybrid mode not supported, drop all controllers from
/// cgroupv2"), whatever `--cgroups` says: seen on such a host with
/// Debian's Podman 4.3 and crun 1.8.
fn crun_layout(host: &HostFacts) -> Need {
    let hybrid = host.cgroup.layout.as_str() == "hybrid";
    let on_v2 = &host.cgroup.v2_controllers;
    let met = !hybrid || on_v2.is_empty();
    Need {
        what: "a cgroup layout crun accepts (not hybrid with a controller on cgroup2)".into(),
        met: Some(met),
        optional: false,
        seen: if hybrid {
            format!(
                "hybrid layout; on cgroup2: {}",
                if on_v2.is_empty() {
                    "no controller".to_string()
                } else {
                    on_v2.join(" ")
                }
            )
        } else {
            format!("cgroup layout {}", host.cgroup.layout.as_str())
        },
        fix: (!met).then(|| {
            "boot with systemd.unified_cgroup_hierarchy=1 (cgroup v2 only), or run Podman with runc (--runtime runc)".into()
        }),
    }
}

/// A user-mode network stack for rootless containers' default network:
/// slirp4netns or pasta, looked up in `path` (PATH's value).
fn rootless_network(path: Option<&std::ffi::OsStr>) -> Need {
    let found: Vec<String> = ["slirp4netns", "pasta"]
        .into_iter()
        .filter_map(|name| {
            std::env::split_paths(path.unwrap_or_default())
                .map(|d| d.join(name))
                .find(|p| p.is_file())
                .map(|p| p.display().to_string())
        })
        .collect();
    Need {
        what: "slirp4netns or pasta (the default network of rootless containers)".into(),
        met: Some(!found.is_empty()),
        optional: false,
        seen: if found.is_empty() {
            "neither in PATH".into()
        } else {
            found.join(", ")
        },
        fix: found
            .is_empty()
            .then(|| "install slirp4netns (or passt, for pasta)".into()),
    }
}

/// `user.max_user_namespaces` above zero.
fn userns_count(host: &HostFacts) -> Need {
    let v = host.sysctl("user.max_user_namespaces");
    let met = v.map(|v| v.trim().parse::<u64>().is_ok_and(|n| n > 0));
    Need {
        what: "user namespaces allowed (user.max_user_namespaces > 0)".into(),
        met,
        optional: false,
        seen: match v {
            Some(v) => format!("user.max_user_namespaces = {}", v.trim()),
            None => "user.max_user_namespaces could not be read".into(),
        },
        fix: (met == Some(false)).then(|| "sysctl -w user.max_user_namespaces=15000".into()),
    }
}

/// The needs of each profile, decided on this host (programs looked up in
/// this process's PATH).
pub fn answer(profile: Profile, host: &HostFacts, audit: &Audit) -> ProfileAnswer {
    answer_with(profile, host, audit, std::env::var_os("PATH").as_deref())
}

/// [`answer`], with programs looked up in `path`.
pub fn answer_with(
    profile: Profile,
    host: &HostFacts,
    audit: &Audit,
    path: Option<&std::ffi::OsStr>,
) -> ProfileAnswer {
    let ns = |n: &str| from_audit(audit, &format!("{n} namespaces"), false);
    let needs: Vec<Need> =
        match profile {
            Profile::Docker => vec![
            ns("pid"),
            ns("net"),
            ns("uts"),
            ns("ipc"),
            from_audit(audit, "memory controller", false),
            from_audit(audit, "pids controller", false),
            from_audit(audit, "cpu controller", true),
            from_audit(audit, "seccomp filters", false),
            from_kconfig(
                host,
                "overlay file system, veth, bridge and netfilter (images and the default network)",
                &["CONFIG_OVERLAY_FS", "CONFIG_VETH", "CONFIG_BRIDGE", "CONFIG_NETFILTER"],
                false,
            ),
        ],
            Profile::RootlessPodman => vec![
                from_audit(audit, "unprivileged user namespaces", false),
                idmap_tools(host),
                subid_ranges(host),
                ns("pid"),
                ns("net"),
                crun_layout(host),
                rootless_network(path),
                from_kconfig(
                    host,
                    "overlay or FUSE file system (rootless image layers)",
                    &["CONFIG_OVERLAY_FS"],
                    true,
                ),
                v2_delegation(host),
            ],
            Profile::K8sUserns => vec![
                // The kubelet is root: it needs user namespaces built and
                // allowed by their count, not open to unprivileged users.
                from_kconfig(host, "user namespaces", &["CONFIG_USER_NS"], false),
                userns_count(host),
                ns("pid"),
                ns("net"),
                ns("ipc"),
                ns("uts"),
                from_audit(audit, "memory controller", false),
                from_audit(audit, "pids controller", false),
            ],
            Profile::Bubblewrap => vec![
                from_audit(audit, "unprivileged user namespaces", false),
                ns("pid"),
                ns("net"),
                from_audit(audit, "seccomp filters", false),
            ],
        };
    let required = needs.iter().filter(|n| !n.optional);
    let answer = if required.clone().any(|n| n.met == Some(false)) {
        Answer::No
    } else if required.clone().any(|n| n.met.is_none()) {
        Answer::Unknown
    } else {
        Answer::Yes
    };
    ProfileAnswer {
        profile: profile.name().into(),
        title: profile.title().into(),
        answer,
        needs,
    }
}

/// The answers as text: a line per profile, then each need that is not
/// met with its fix.
pub fn render_text(answers: &[ProfileAnswer]) -> String {
    let mut out = String::new();
    for a in answers {
        out.push_str(&format!(
            "{:<16} {:<7} {}\n",
            a.profile,
            a.answer.as_str(),
            a.title
        ));
        for n in &a.needs {
            let mark = match n.met {
                Some(true) => continue,
                Some(false) if n.optional => "limited",
                Some(false) => "blocks",
                None => "unknown",
            };
            out.push_str(&format!("    {mark:<8} {}: {}\n", n.what, n.seen));
            if let Some(fix) = &n.fix {
                out.push_str(&format!("             fix: {fix}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host::IdmapTool;
    use crate::model::host::Tristate;
    use crate::model::result::AuditCheck;
    use crate::model::subid::SubidEntry;

    fn check(feature: &str, status: AuditStatus, hint: Option<&str>) -> AuditCheck {
        AuditCheck {
            feature: feature.into(),
            config: "CONFIG_X=y".into(),
            policy: Vec::new(),
            probe: "tried".into(),
            behaviour: "seen".into(),
            status,
            explanation: "because".into(),
            hint: hint.map(str::to_string),
        }
    }

    /// An audit where every feature works.
    fn all_ok() -> Audit {
        let mut checks = vec![check("unprivileged user namespaces", AuditStatus::Ok, None)];
        for ns in ["pid", "net", "uts", "ipc", "cgroup", "time"] {
            checks.push(check(&format!("{ns} namespaces"), AuditStatus::Ok, None));
        }
        for c in ["memory", "pids", "cpu"] {
            checks.push(check(&format!("{c} controller"), AuditStatus::Ok, None));
        }
        checks.push(check("seccomp filters", AuditStatus::Ok, None));
        Audit {
            kconfig: "/boot/config".into(),
            kconfig_sha256: None,
            checks,
        }
    }

    /// A host with a kernel config that builds everything the profiles
    /// name, the id-mapping tools, ranges for one user and cgroup v2 with
    /// its controllers.
    fn ready_host() -> HostFacts {
        let mut h = HostFacts::default();
        h.kconfig.source = Some("/boot/config".into());
        for o in [
            "CONFIG_USER_NS",
            "CONFIG_OVERLAY_FS",
            "CONFIG_VETH",
            "CONFIG_BRIDGE",
            "CONFIG_NETFILTER",
        ] {
            h.kconfig.options.insert(o.into(), Tristate::Yes);
        }
        for name in ["newuidmap", "newgidmap"] {
            h.idmap_tools.push(IdmapTool {
                name: name.into(),
                path: Some(format!("/usr/bin/{name}")),
                setuid_root: true,
                ..Default::default()
            });
        }
        let entry = SubidEntry {
            owner: "alice".into(),
            start: 100_000,
            count: 65_536,
        };
        for f in [&mut h.subids.subuid, &mut h.subids.subgid] {
            f.exists = Some(true);
            f.entries.push(entry.clone());
        }
        h.cgroup.layout = crate::model::cgroup::Layout::Unified;
        h.cgroup.v2_controllers = vec!["cpu".into(), "memory".into(), "pids".into()];
        h.sysctls.insert(
            "user.max_user_namespaces".into(),
            crate::model::host::Knob::Value("15000".into()),
        );
        h
    }

    /// A PATH holding a slirp4netns (an empty file is enough to be found).
    fn net_path() -> (tempfile::TempDir, std::ffi::OsString) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("slirp4netns"), b"").unwrap();
        let path = dir.path().as_os_str().to_owned();
        (dir, path)
    }

    fn answer(profile: Profile, host: &HostFacts, audit: &Audit) -> ProfileAnswer {
        let (_dir, path) = net_path();
        answer_with(profile, host, audit, Some(&path))
    }

    fn answers(host: &HostFacts, audit: &Audit) -> Vec<(&'static str, Answer)> {
        Profile::ALL
            .iter()
            .map(|p| (p.name(), answer(*p, host, audit).answer))
            .collect()
    }

    #[test]
    fn crun_s_hybrid_refusal_and_a_missing_network_stack_block_rootless_podman() {
        // A hybrid host with hugetlb on its cgroup2 hierarchy, as crun
        // refuses it ("cgroups in hybrid mode not supported").
        let mut host = ready_host();
        host.cgroup.layout = crate::model::cgroup::Layout::Hybrid;
        host.cgroup.v2_controllers = vec!["hugetlb".into()];
        let a = answer(Profile::RootlessPodman, &host, &all_ok());
        assert_eq!(a.answer, Answer::No);
        let n = a.needs.iter().find(|n| n.what.contains("crun")).unwrap();
        assert_eq!(n.met, Some(false));
        assert!(n.fix.as_deref().unwrap().contains("--runtime runc"));
        // Without a controller on cgroup2 crun takes the hybrid layout.
        host.cgroup.v2_controllers.clear();
        assert_eq!(
            answer(Profile::RootlessPodman, &host, &all_ok()).answer,
            Answer::Yes
        );
        // Neither slirp4netns nor pasta in PATH.
        let empty = tempfile::tempdir().unwrap();
        let a = answer_with(
            Profile::RootlessPodman,
            &ready_host(),
            &all_ok(),
            Some(empty.path().as_os_str()),
        );
        assert_eq!(a.answer, Answer::No);
        assert!(a
            .needs
            .iter()
            .any(|n| n.fix.as_deref() == Some("install slirp4netns (or passt, for pasta)")));
    }

    #[test]
    fn an_option_with_no_value_in_the_config_is_unknown_not_missing() {
        // CONFIG_VETH had a line with no value: the facts leave it out.
        let mut host = ready_host();
        host.kconfig.options.remove("CONFIG_VETH");
        let n = from_kconfig(&host, "net", &["CONFIG_VETH", "CONFIG_BRIDGE"], false);
        assert_eq!(n.met, None, "{n:?}");
        assert_eq!(
            n.seen,
            "the kernel config gives no y, m or n for CONFIG_VETH"
        );
        // Nor does a value that is not y, m or n.
        let mut other = ready_host();
        other
            .kconfig
            .options
            .insert("CONFIG_VETH".into(), Tristate::Value(String::new()));
        let n = from_kconfig(&other, "net", &["CONFIG_VETH"], false);
        assert_eq!(n.met, None, "{n:?}");
        // One that is known to be missing still says no.
        host.kconfig
            .options
            .insert("CONFIG_BRIDGE".into(), Tristate::No);
        let n = from_kconfig(&host, "net", &["CONFIG_VETH", "CONFIG_BRIDGE"], false);
        assert_eq!(n.met, Some(false), "{n:?}");
    }

    #[test]
    fn a_host_with_everything_runs_every_stack() {
        let got = answers(&ready_host(), &all_ok());
        assert!(got.iter().all(|(_, a)| *a == Answer::Yes), "{got:?}");
    }

    #[test]
    fn a_blocked_user_namespace_says_no_with_the_knob_s_fix() {
        let mut audit = all_ok();
        audit.checks[0] = check(
            "unprivileged user namespaces",
            AuditStatus::Blocked,
            Some("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
        );
        let a = answer(Profile::RootlessPodman, &ready_host(), &audit);
        assert_eq!(a.answer, Answer::No);
        let n = a.needs.iter().find(|n| n.met == Some(false)).unwrap();
        assert_eq!(
            n.fix.as_deref(),
            Some("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")
        );
        assert_eq!(
            answer(Profile::Bubblewrap, &ready_host(), &audit).answer,
            Answer::No
        );
        // Rootful stacks do not need unprivileged user namespaces.
        assert_eq!(
            answer(Profile::Docker, &ready_host(), &audit).answer,
            Answer::Yes
        );
        assert_eq!(
            answer(Profile::K8sUserns, &ready_host(), &audit).answer,
            Answer::Yes
        );
        let text = render_text(&[a]);
        assert!(text.contains("rootless-podman  no"), "{text}");
        assert!(text.contains("fix: sysctl -w kernel.apparmor"), "{text}");
    }

    #[test]
    fn missing_tools_and_ranges_block_rootless_podman_only() {
        let mut host = ready_host();
        host.idmap_tools.clear();
        host.subids.subuid.entries.clear();
        let a = answer(Profile::RootlessPodman, &host, &all_ok());
        assert_eq!(a.answer, Answer::No);
        let fixes: Vec<&str> = a.needs.iter().filter_map(|n| n.fix.as_deref()).collect();
        assert!(
            fixes.iter().any(|f| f.contains("uidmap package")),
            "{fixes:?}"
        );
        assert!(
            fixes.iter().any(|f| f.starts_with("usermod --add-subuids")),
            "{fixes:?}"
        );
        assert_eq!(
            answer(Profile::Docker, &host, &all_ok()).answer,
            Answer::Yes
        );
    }

    #[test]
    fn cgroup_v1_limits_rootless_podman_but_does_not_block_it() {
        let mut host = ready_host();
        host.cgroup.layout = crate::model::cgroup::Layout::Hybrid;
        // No controller on its cgroup2 hierarchy: crun takes it.
        host.cgroup.v2_controllers.clear();
        let a = answer(Profile::RootlessPodman, &host, &all_ok());
        assert_eq!(a.answer, Answer::Yes);
        let limited = a.needs.iter().find(|n| n.optional && n.met == Some(false));
        assert!(limited
            .unwrap()
            .fix
            .as_deref()
            .unwrap()
            .contains("unified_cgroup_hierarchy"));
    }

    #[test]
    fn what_the_host_could_not_decide_is_unknown_never_yes() {
        let mut audit = all_ok();
        for c in &mut audit.checks {
            c.status = AuditStatus::Unprobed;
        }
        let got = answers(&ready_host(), &audit);
        for (p, a) in &got {
            if *p != "k8s-userns" {
                assert_eq!(*a, Answer::Unknown, "{p}");
            }
        }
        let mut host = ready_host();
        host.kconfig.source = None;
        assert_eq!(
            answer(Profile::Docker, &host, &all_ok()).answer,
            Answer::Unknown
        );
        // A feature the kernel lacks says which option to build.
        let mut audit = all_ok();
        audit.checks[1] = AuditCheck {
            config: "CONFIG_PID_NS=n".into(),
            ..check("pid namespaces", AuditStatus::Absent, None)
        };
        let a = answer(Profile::Docker, &ready_host(), &audit);
        assert_eq!(a.answer, Answer::No);
        assert!(a
            .needs
            .iter()
            .any(|n| n.fix.as_deref() == Some("a kernel built with CONFIG_PID_NS=y")));
    }
}
