//! What blocks what: the kernel-config options that build each isolation
//! feature, the sysctls and security-module knobs that forbid it, and how
//! to read each one's answer. Requirements (which explain a skip) and the
//! audit (which lines config, policy and behaviour up) both read these
//! tables, so each fact is written once.

use std::path::Path;

use crate::model::namespace::Namespace;

/// Whose policy a knob is, when it blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authority {
    /// A kernel sysctl (a limit or a distribution's switch).
    Sysctl,
    /// A security module's switch, exposed as a sysctl.
    SecurityModule,
}

/// A knob under /proc/sys that forbids a feature while it holds one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    /// The dotted sysctl name.
    pub sysctl: &'static str,
    /// The value that blocks; any other value lets the feature through.
    pub blocks_at: &'static str,
    pub authority: Authority,
    /// What the blocking value means, where `name=value` does not say it.
    pub meaning: Option<&'static str>,
    /// How to lift it.
    pub hint: &'static str,
}

impl Gate {
    /// Whether the knob's value (as read, trimmed) blocks the feature.
    pub fn blocks(&self, value: &str) -> bool {
        value == self.blocks_at
    }

    /// The knob as a report shows it: `name=value`.
    pub fn shown(&self, value: &str) -> String {
        format!("{}={value}", self.sysctl)
    }

    /// What the knob says when it blocks, as a skip reason words it.
    pub fn explanation(&self) -> String {
        match self.meaning {
            Some(m) => m.to_string(),
            None => self.shown(self.blocks_at),
        }
    }
}

/// A per-user-namespace limit: 0 forbids creating that namespace kind.
const fn limit(sysctl: &'static str, hint: &'static str) -> Gate {
    Gate {
        sysctl,
        blocks_at: "0",
        authority: Authority::Sysctl,
        meaning: None,
        hint,
    }
}

/// `user.max_user_namespaces`: no user namespace at all when 0.
pub const MAX_USER_NAMESPACES: Gate = limit(
    "user.max_user_namespaces",
    "sysctl -w user.max_user_namespaces=15000",
);

/// Debian's (and linux-hardened's) switch for unprivileged user namespaces.
pub const UNPRIVILEGED_USERNS_CLONE: Gate = Gate {
    sysctl: "kernel.unprivileged_userns_clone",
    blocks_at: "0",
    authority: Authority::Sysctl,
    meaning: None,
    hint: "sysctl -w kernel.unprivileged_userns_clone=1",
};

/// Ubuntu's AppArmor restriction on unprivileged user namespaces.
pub const APPARMOR_RESTRICT_USERNS: Gate = Gate {
    sysctl: "kernel.apparmor_restrict_unprivileged_userns",
    blocks_at: "1",
    authority: Authority::SecurityModule,
    meaning: Some("AppArmor restricts unprivileged user namespaces"),
    hint: "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile allowing `userns,`",
};

/// The knobs that can forbid an unprivileged user namespace, in the order
/// a refusal is explained by them (the first that blocks is named).
pub const USERNS_GATES: &[Gate] = &[
    MAX_USER_NAMESPACES,
    UNPRIVILEGED_USERNS_CLONE,
    APPARMOR_RESTRICT_USERNS,
];

/// The set-up step that creates the rootless user namespace itself. A
/// refusal at a later step (its maps, its private mounts) means the
/// namespace was made but its capabilities were refused: the mark of a
/// security module, even with no knob to show.
pub const USERNS_CREATE_STEP: &str = "unshare-user";

/// Whether a rootless user namespace refused at `step` was refused after it
/// was made (see [`USERNS_CREATE_STEP`]).
pub fn refused_after_creation(step: &str) -> bool {
    step != USERNS_CREATE_STEP && step != crate::runtime::rootless::BECOME_ROOTLESS_USER
}

/// What builds a namespace kind and what limits it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NamespaceGates {
    /// The kernel-config option without which the kind is missing.
    pub config: &'static str,
    /// Its per-user-namespace limit.
    pub limit: Gate,
}

/// The config option and the limit of a namespace kind.
pub const fn namespace(ns: Namespace) -> NamespaceGates {
    let (config, limit) = match ns {
        Namespace::User => ("CONFIG_USER_NS", MAX_USER_NAMESPACES),
        Namespace::Pid => (
            "CONFIG_PID_NS",
            limit(
                "user.max_pid_namespaces",
                "sysctl -w user.max_pid_namespaces=15000",
            ),
        ),
        Namespace::Net => (
            "CONFIG_NET_NS",
            limit(
                "user.max_net_namespaces",
                "sysctl -w user.max_net_namespaces=15000",
            ),
        ),
        Namespace::Uts => (
            "CONFIG_UTS_NS",
            limit(
                "user.max_uts_namespaces",
                "sysctl -w user.max_uts_namespaces=15000",
            ),
        ),
        Namespace::Ipc => (
            "CONFIG_IPC_NS",
            limit(
                "user.max_ipc_namespaces",
                "sysctl -w user.max_ipc_namespaces=15000",
            ),
        ),
        Namespace::Time => (
            "CONFIG_TIME_NS",
            limit(
                "user.max_time_namespaces",
                "sysctl -w user.max_time_namespaces=15000",
            ),
        ),
        Namespace::Cgroup => (
            "CONFIG_CGROUPS",
            limit(
                "user.max_cgroup_namespaces",
                "sysctl -w user.max_cgroup_namespaces=15000",
            ),
        ),
        Namespace::Mount => (
            "CONFIG_NAMESPACES",
            limit(
                "user.max_mnt_namespaces",
                "sysctl -w user.max_mnt_namespaces=15000",
            ),
        ),
    };
    NamespaceGates { config, limit }
}

/// The config options that build a cgroup controller's limits, for the
/// controllers isocheck limits; empty for any other.
pub fn controller_config(controller: &str) -> &'static [&'static str] {
    match controller {
        "memory" => &["CONFIG_MEMCG"],
        "pids" => &["CONFIG_CGROUP_PIDS"],
        "cpu" => &["CONFIG_CGROUP_SCHED", "CONFIG_CFS_BANDWIDTH"],
        _ => &[],
    }
}

/// The option that builds a controller's cgroup v1 interface apart from
/// the controller itself, and the controller's own option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V1Config {
    /// `CONFIG_MEMCG_V1`: without it the controller works on cgroup2 only.
    pub option: &'static str,
    /// `CONFIG_MEMCG`: a kernel whose config does not mention [`V1Config::option`]
    /// has no such option, and its v1 interface comes with this one.
    pub controller: &'static str,
}

/// The [`V1Config`] of a controller whose v1 interface is an option of
/// its own (memory and cpuset; Debian's 6.12 and later build neither);
/// `None` for the others.
pub fn controller_v1_config(controller: &str) -> Option<V1Config> {
    match controller {
        "memory" => Some(V1Config {
            option: "CONFIG_MEMCG_V1",
            controller: "CONFIG_MEMCG",
        }),
        "cpuset" => Some(V1Config {
            option: "CONFIG_CPUSETS_V1",
            controller: "CONFIG_CPUSETS",
        }),
        _ => None,
    }
}

/// The config options that build seccomp filters.
pub const SECCOMP_CONFIG: &[&str] = &["CONFIG_SECCOMP", "CONFIG_SECCOMP_FILTER"];

/// Whether a cgroup2 `cgroup.subtree_control` text enables `controller`
/// for the children: without it a v2 controller is there but not usable.
pub fn subtree_enables(subtree_control: &str, controller: &str) -> bool {
    subtree_control.split_whitespace().any(|c| c == controller)
}

/// How to enable `controller` for the children of the cgroup2 root `mount`.
pub fn subtree_control_hint(mount: &Path, controller: &str) -> String {
    format!(
        "echo +{controller} > {}/cgroup.subtree_control",
        mount.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::kconfig::ISOLATION_OPTIONS;
    use crate::host::sysctl::SYSCTLS;
    use rstest::rstest;

    #[rstest]
    #[case::limit(MAX_USER_NAMESPACES, "0", true)]
    #[case::limit_raised(MAX_USER_NAMESPACES, "15000", false)]
    #[case::debian_off(UNPRIVILEGED_USERNS_CLONE, "0", true)]
    #[case::debian_on(UNPRIVILEGED_USERNS_CLONE, "1", false)]
    #[case::apparmor_on(APPARMOR_RESTRICT_USERNS, "1", true)]
    #[case::apparmor_off(APPARMOR_RESTRICT_USERNS, "0", false)]
    fn a_gate_blocks_at_its_one_value(
        #[case] gate: Gate,
        #[case] value: &str,
        #[case] blocks: bool,
    ) {
        assert_eq!(gate.blocks(value), blocks, "{gate:?} at {value}");
    }

    #[test]
    fn a_gate_explains_itself_by_name_and_value_unless_it_has_words() {
        assert_eq!(
            MAX_USER_NAMESPACES.explanation(),
            "user.max_user_namespaces=0"
        );
        assert_eq!(
            APPARMOR_RESTRICT_USERNS.explanation(),
            "AppArmor restricts unprivileged user namespaces"
        );
        assert_eq!(
            UNPRIVILEGED_USERNS_CLONE.shown("1"),
            "kernel.unprivileged_userns_clone=1"
        );
    }

    #[test]
    fn every_gate_is_a_sysctl_the_host_records_and_its_hint_names_it() {
        let all = USERNS_GATES
            .iter()
            .copied()
            .chain(Namespace::ALL.map(|ns| namespace(ns).limit));
        for g in all {
            assert!(SYSCTLS.contains(&g.sysctl), "{} is not recorded", g.sysctl);
            assert!(g.hint.contains(g.sysctl), "{g:?}");
        }
    }

    #[test]
    fn every_config_option_read_is_one_the_host_records() {
        let options = Namespace::ALL
            .map(|ns| namespace(ns).config)
            .into_iter()
            .chain(["memory", "pids", "cpu"].iter().flat_map(|c| {
                let opts = controller_config(c);
                assert!(!opts.is_empty(), "{c} has no config");
                opts.iter().copied()
            }))
            .chain(SECCOMP_CONFIG.iter().copied());
        for o in options {
            assert!(ISOLATION_OPTIONS.contains(&o), "{o} is not recorded");
        }
        assert!(controller_config("hugetlb").is_empty());
    }

    #[test]
    fn namespace_limits_are_named_after_the_proc_name() {
        for ns in Namespace::ALL {
            assert_eq!(
                namespace(ns).limit.sysctl,
                format!("user.max_{}_namespaces", ns.proc_name())
            );
            assert_eq!(namespace(ns).limit.authority, Authority::Sysctl);
        }
    }

    #[test]
    fn a_refusal_after_the_unshare_is_a_refusal_of_capabilities() {
        assert!(!refused_after_creation("unshare-user"));
        assert!(refused_after_creation("make-private"));
        assert!(refused_after_creation("write uid_map"));
    }

    #[test]
    fn subtree_control_is_read_word_by_word() {
        assert!(subtree_enables("cpu memory pids\n", "memory"));
        assert!(!subtree_enables("cpuset cpu\n", "cpus"));
        assert!(!subtree_enables("", "memory"));
        assert_eq!(
            subtree_control_hint(Path::new("/sys/fs/cgroup/unified"), "pids"),
            "echo +pids > /sys/fs/cgroup/unified/cgroup.subtree_control"
        );
    }
}
