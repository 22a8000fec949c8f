//! Sysctls and policy knobs that allow or forbid isolation features to
//! unprivileged users, read from /proc/sys.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::host::Knob;

use super::{io_reason, under};

/// The sysctls recorded, by dotted name.
pub const SYSCTLS: &[&str] = &[
    // Per-user-namespace limits; 0 forbids creating that namespace.
    "user.max_cgroup_namespaces",
    "user.max_ipc_namespaces",
    "user.max_mnt_namespaces",
    "user.max_net_namespaces",
    "user.max_pid_namespaces",
    "user.max_time_namespaces",
    "user.max_user_namespaces",
    "user.max_uts_namespaces",
    // Distribution patches that gate unprivileged user namespaces:
    // Debian (and linux-hardened), and Ubuntu's AppArmor policy.
    "kernel.unprivileged_userns_clone",
    "kernel.apparmor_restrict_unprivileged_userns",
    "kernel.apparmor_restrict_unprivileged_unconfined",
    // What a process may see or do to others.
    "kernel.yama.ptrace_scope",
    "kernel.unprivileged_bpf_disabled",
    "kernel.perf_event_paranoid",
    "kernel.dmesg_restrict",
    "kernel.kptr_restrict",
    "kernel.seccomp.actions_avail",
    "kernel.pid_max",
];

/// The /proc/sys path of a dotted sysctl name, or `None` for a name that
/// could leave /proc/sys (empty components, `..`, slashes).
pub fn sysctl_path(name: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = name.split('.').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || p.contains('/') || p.contains('\0'))
    {
        return None;
    }
    Some(PathBuf::from("/proc/sys").join(parts.join("/")))
}

/// Reads one knob file: its trimmed value, absent, or unreadable.
pub fn read_knob(path: &Path) -> Knob {
    match std::fs::read(path) {
        Ok(b) => Knob::Value(String::from_utf8_lossy(&b).trim().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Knob::Absent,
        Err(e) => Knob::Unreadable(io_reason(&e)),
    }
}

/// Reads one sysctl under `root`.
pub fn read_sysctl(root: &Path, name: &str) -> Knob {
    match sysctl_path(name) {
        Some(p) => read_knob(&under(root, &p.to_string_lossy())),
        None => Knob::Unreadable(format!("not a sysctl name: {name:?}")),
    }
}

/// Reads every [`SYSCTLS`] under `root`.
pub fn probe(root: &Path) -> BTreeMap<String, Knob> {
    SYSCTLS
        .iter()
        .map(|n| (n.to_string(), read_sysctl(root, n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::two("user.max_user_namespaces", Some("/proc/sys/user/max_user_namespaces"))]
    #[case::three("kernel.yama.ptrace_scope", Some("/proc/sys/kernel/yama/ptrace_scope"))]
    #[case::empty("", None)]
    #[case::double_dot("kernel..x", None)]
    #[case::slash("kernel/../../etc/passwd", None)]
    #[case::trailing_dot("kernel.", None)]
    fn paths(#[case] name: &str, #[case] want: Option<&str>) {
        assert_eq!(sysctl_path(name), want.map(PathBuf::from));
    }

    #[test]
    fn reads_value_absent_and_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("proc/sys/user");
        std::fs::create_dir_all(&user).unwrap();
        std::fs::write(user.join("max_user_namespaces"), "15000\n").unwrap();
        // A directory where a file is expected cannot be read as one.
        std::fs::create_dir_all(dir.path().join("proc/sys/kernel/pid_max")).unwrap();
        let m = probe(dir.path());
        assert_eq!(m.len(), SYSCTLS.len());
        assert_eq!(m["user.max_user_namespaces"], Knob::Value("15000".into()));
        assert_eq!(m["user.max_user_namespaces"].as_i64(), Some(15000));
        assert_eq!(m["kernel.unprivileged_userns_clone"], Knob::Absent);
        assert!(matches!(m["kernel.pid_max"], Knob::Unreadable(_)));
        assert_eq!(
            read_sysctl(dir.path(), "a..b"),
            Knob::Unreadable("not a sysctl name: \"a..b\"".into())
        );
    }

    #[rstest]
    #[case::value(Knob::Value("1".into()), r#"{"value":"1"}"#, "1")]
    #[case::absent(Knob::Absent, r#""absent""#, "absent")]
    #[case::unreadable(Knob::Unreadable("permission denied".into()), r#"{"unreadable":"permission denied"}"#, "unknown (permission denied)")]
    #[case::not_probed(Knob::NotProbed, r#""not-probed""#, "unknown (not probed)")]
    fn knob_serde_and_display(#[case] k: Knob, #[case] json: &str, #[case] text: &str) {
        assert_eq!(serde_json::to_string(&k).unwrap(), json);
        assert_eq!(serde_json::from_str::<Knob>(json).unwrap(), k);
        assert_eq!(k.to_string(), text);
    }

    #[test]
    fn live_host_has_max_user_namespaces() {
        let k = read_sysctl(Path::new("/"), "user.max_user_namespaces");
        assert!(k.as_i64().is_some(), "{k:?}");
    }
}
