//! Layer 5 of the chain (sys -> model -> probe -> runtime -> **host** ->
//! suite -> report -> cli): it imports the layers to its left.
//!
//! Host facts: what kernel, distro, configuration, policy and cgroup layout
//! a run happened on, and who ran it. Their types are plain data in
//! [`crate::model::host`]; this layer probes them.
//!
//! Every report carries one [`HostFacts`]; requirements are decided against
//! it, and `isocheck audit` prints it with [`render_text`]. Each mechanism
//! has its own file: a pure parser over text (tested with tables, malformed
//! input included) and a probe that reads files under a root path, so tests
//! can point it at a fake tree. A fact that cannot be read is recorded as
//! unknown together with the paths tried; it never fails the probe.

pub mod cgroup;
pub mod cmdline;
pub mod credentials;
pub mod kconfig;
pub mod lsm;
pub mod nesting;
pub mod os_release;
mod render;
pub mod subid;
pub mod sysctl;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::host::{CgroupFacts, Credentials, Distro, HostFacts, KconfigFacts, Kernel};
pub use kconfig::{KconfigError, KernelConfig};
pub use os_release::parse_os_release;
pub use render::render_text;

/// What [`HostFacts::probe_with`] looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOptions {
    /// The file system root the probes read under (`/` on a live host, a
    /// fake tree in tests). Facts that only system calls give (uname,
    /// uid, LSM and Landlock queries, capabilities when the status file is
    /// unreadable) are taken only when this is `/`.
    pub root: PathBuf,
    /// A kernel config given explicitly (`--kconfig FILE`), used as given
    /// (not under `root`); when set, no other place is searched and an
    /// unreadable or invalid file is an error.
    pub kconfig: Option<PathBuf>,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            root: PathBuf::from("/"),
            kconfig: None,
        }
    }
}

/// Why probing failed: only something asked for explicitly can fail it.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Kconfig(#[from] KconfigError),
}

impl HostFacts {
    /// Probes this host. Never fails: what cannot be read is recorded as
    /// unknown, with the paths tried.
    pub fn probe() -> HostFacts {
        match HostFacts::probe_with(&ProbeOptions::default()) {
            Ok(f) => f,
            // Unreachable: without an explicit kconfig nothing can fail.
            Err(e) => {
                let mut f = HostFacts::default();
                f.kconfig.tried.push(e.to_string());
                f
            }
        }
    }

    /// Probes the tree under `opts.root`. Fails only when `opts.kconfig`
    /// names a file that cannot be read or is not a kernel config.
    pub fn probe_with(opts: &ProbeOptions) -> Result<HostFacts, HostError> {
        let root = opts.root.as_path();
        let live = is_live(root);

        let uts = if live {
            nix::sys::utsname::uname().ok()
        } else {
            None
        };
        let uts_field = |f: fn(&nix::sys::utsname::UtsName) -> &std::ffi::OsStr| {
            uts.as_ref()
                .map(|u| f(u).to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let kernel = Kernel {
            release: read_trimmed(&under(root, "/proc/sys/kernel/osrelease"))
                .ok()
                .unwrap_or_else(|| uts_field(|u| u.release())),
            version: read_trimmed(&under(root, "/proc/sys/kernel/version"))
                .ok()
                .unwrap_or_else(|| uts_field(|u| u.version())),
        };
        let arch = uts_field(|u| u.machine());
        let hostname = read_trimmed(&under(root, "/proc/sys/kernel/hostname"))
            .ok()
            .unwrap_or_else(|| uts_field(|u| u.nodename()));

        let kconfig = || -> Result<KconfigFacts, KconfigError> {
            match &opts.kconfig {
                Some(path) => Ok(KconfigFacts::from_config(
                    &KernelConfig::from_file(path)?,
                    path,
                )),
                None => Ok(KconfigFacts::search(root, &kernel.release)),
            }
        };
        // The kernel config (inflated, hashed and scanned: about two thirds
        // of the facts' time) is read beside the rest.
        let (kconfig, rest) = std::thread::scope(|s| {
            match std::thread::Builder::new().spawn_scoped(s, kconfig) {
                Ok(k) => {
                    let rest = Self::probe_rest(root, live);
                    (k.join(), rest)
                }
                // No thread to spare (a pids limit, say): one after the other.
                Err(_) => (Ok(kconfig()), Self::probe_rest(root, live)),
            }
        });
        let kconfig = match kconfig {
            Ok(k) => k?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        Ok(HostFacts {
            hostname,
            kernel,
            arch,
            kconfig,
            ..rest
        })
    }

    /// The facts but the kernel's release, the hostname, the architecture
    /// and the kernel config (left at their defaults).
    fn probe_rest(root: &Path, live: bool) -> HostFacts {
        let cmdline = read_trimmed(&under(root, "/proc/cmdline")).unwrap_or_default();
        let boot_params = cmdline::isolation_params(&cmdline);
        let (lsms, security) = lsm::probe(root, live);
        let runner = credentials::probe(root, live);
        let subids = subid::probe(root);
        let idmap_tools = subid::probe_tools(root);
        HostFacts {
            distro: os_release::probe(root),
            cmdline,
            lsms,
            cgroup: cgroup::probe(root),
            runner,
            boot_params,
            nesting: nesting::probe(root),
            sysctls: sysctl::probe(root),
            security,
            subids,
            idmap_tools,
            extra: BTreeMap::new(),
            ..HostFacts::default()
        }
    }
}

/// True when `root` is the live root, where system calls describe the
/// same host as the files.
fn is_live(root: &Path) -> bool {
    root == Path::new("/")
}

/// `abs` (an absolute path on a live host) under `root`.
pub(crate) fn under(root: &Path, abs: &str) -> PathBuf {
    root.join(abs.trim_start_matches('/'))
}

/// A short reason for an I/O error, for `tried` lists.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not found".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Reads a text file, with the reason as the error.
pub(crate) fn read_text(path: &Path) -> Result<String, String> {
    std::fs::read(path)
        .map_err(|e| io_reason(&e))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

pub(crate) fn read_trimmed(path: &Path) -> Result<String, String> {
    read_text(path).map(|s| s.trim().to_string())
}

/// `path: reason`, the form of every `tried` and `unreadable` entry.
pub(crate) fn tried(path: &Path, reason: &str) -> String {
    format!("{}: {reason}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cgroup::Layout;
    use crate::model::host::{Knob, NestingFacts, Tristate};

    /// A fake tree: each (path, contents) pair is written under a tempdir.
    pub(crate) fn fake_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = under(dir.path(), path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        dir
    }

    #[test]
    fn probe_live_host_does_not_panic_and_finds_basics() {
        let f = HostFacts::probe();
        assert!(!f.kernel.release.is_empty());
        assert!(!f.arch.is_empty());
        // Either a config was found or the paths tried are listed.
        assert!(f.kconfig.source.is_some() || !f.kconfig.tried.is_empty());
        assert!(f.sysctls.contains_key("user.max_user_namespaces"));
        assert_eq!(f.idmap_tools.len(), 2);
    }

    #[test]
    fn probe_fake_tree() {
        let dir = fake_tree(&[
            ("/proc/sys/kernel/osrelease", "6.1.0-18-amd64\n"),
            ("/proc/sys/kernel/version", "#1 SMP Debian 6.1.76-1\n"),
            (
                "/proc/cmdline",
                "root=/dev/vda ro lsm=landlock,yama cgroup_no_v1=all\n",
            ),
            (
                "/etc/os-release",
                "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
            ),
            (
                "/boot/config-6.1.0-18-amd64",
                "CONFIG_USER_NS=y\n# CONFIG_TIME_NS is not set\nCONFIG_VETH=m\n",
            ),
            ("/proc/sys/user/max_user_namespaces", "0\n"),
            ("/proc/self/uid_map", "0 100000 65536\n"),
            ("/etc/subuid", "alice:100000:65536\nbroken line\n"),
            ("/sys/kernel/security/lsm", "capability,landlock,yama"),
            (
                "/sys/kernel/security/lockdown",
                "[none] integrity confidentiality\n",
            ),
        ]);
        let f = HostFacts::probe_with(&ProbeOptions {
            root: dir.path().into(),
            kconfig: None,
        })
        .unwrap();
        assert_eq!(f.kernel.release, "6.1.0-18-amd64");
        assert_eq!(f.distro.id, "debian");
        assert_eq!(f.distro.version_id, "12");
        assert_eq!(f.kconfig.get("CONFIG_USER_NS"), Some(Tristate::Yes));
        assert_eq!(f.kconfig.get("CONFIG_TIME_NS"), Some(Tristate::No));
        assert_eq!(f.kconfig.get("CONFIG_VETH"), Some(Tristate::Module));
        assert_eq!(f.kconfig.get("CONFIG_SECCOMP"), Some(Tristate::No));
        assert_eq!(f.sysctl("user.max_user_namespaces"), Some("0"));
        assert_eq!(
            f.sysctls.get("kernel.unprivileged_userns_clone"),
            Some(&Knob::Absent)
        );
        assert_eq!(f.nesting.user_namespace, Some(true));
        assert_eq!(f.subids.subuid.entries.len(), 1);
        assert_eq!(f.subids.subuid.malformed.len(), 1);
        assert_eq!(f.lsms, vec!["capability", "landlock", "yama"]);
        assert_eq!(f.security.lockdown, Knob::Value("none".into()));
        assert_eq!(f.boot_params["lsm"], vec!["landlock,yama"]);
        assert_eq!(f.boot_params["cgroup_no_v1"], vec!["all"]);
        // The text rendering names what is unknown.
        let text = render_text(&f);
        assert!(text.contains("6.1.0-18-amd64"), "{text}");
    }

    /// The whole pipeline over a fake Ubuntu-like tree, rendered; the
    /// tempdir path and the test runner's ids are redacted.
    #[test]
    fn render_snapshot_of_a_fake_tree() {
        let status = "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n\
                      CapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\n\
                      CapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n";
        let dir = fake_tree(&[
            ("/proc/sys/kernel/osrelease", "6.8.0-45-generic\n"),
            ("/proc/sys/kernel/version", "#45-Ubuntu SMP PREEMPT_DYNAMIC\n"),
            ("/proc/cmdline", "BOOT_IMAGE=/vmlinuz ro quiet apparmor=1 -- single\n"),
            (
                "/etc/os-release",
                "ID=ubuntu\nVERSION_ID=\"24.04\"\nPRETTY_NAME=\"Ubuntu 24.04.1 LTS\"\n",
            ),
            ("/etc/passwd", "root:x:0:0::/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n"),
            ("/etc/subuid", "alice:100000:65536\nbob:x:1\n"),
            ("/etc/subgid", "alice:100000:65536\n"),
            (
                "/boot/config-6.8.0-45-generic",
                "CONFIG_NAMESPACES=y\nCONFIG_USER_NS=y\nCONFIG_VETH=m\n\
                 CONFIG_LSM=\"landlock,lockdown,yama,integrity,apparmor\"\n",
            ),
            ("/proc/sys/user/max_user_namespaces", "63183\n"),
            ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1\n"),
            ("/proc/sys/kernel/yama/ptrace_scope", "1\n"),
            ("/proc/self/uid_map", "         0          0 4294967295\n"),
            ("/proc/self/cgroup", "0::/user.slice/user-1000.slice/session-3.scope\n"),
            (
                "/proc/self/mountinfo",
                "35 24 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
            ),
            ("/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n"),
            ("/sys/fs/cgroup/cgroup.subtree_control", "cpu memory pids\n"),
            ("/proc/thread-self/status", status),
            ("/sys/kernel/security/lsm", "lockdown,capability,landlock,yama,apparmor"),
            ("/sys/kernel/security/lockdown", "[none] integrity confidentiality\n"),
            ("/sys/module/apparmor/parameters/enabled", "Y\n"),
        ]);
        let mut f = HostFacts::probe_with(&ProbeOptions {
            root: dir.path().into(),
            kconfig: None,
        })
        .unwrap();
        // The layout comes from statfs of the fake tree; fix it and
        // re-read the cgroup facts as on a unified host.
        f.cgroup = cgroup::probe_at(dir.path(), Layout::Unified);
        f.runner.uid = 1000;
        f.runner.gid = 1000;
        f.runner.user_name = Some("alice".into());
        let text = render_text(&f).replace(&dir.path().display().to_string(), "<root>");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn probe_fake_tree_without_config_lists_tried_paths() {
        let dir = fake_tree(&[("/proc/sys/kernel/osrelease", "6.9.0\n")]);
        let f = HostFacts::probe_with(&ProbeOptions {
            root: dir.path().into(),
            kconfig: None,
        })
        .unwrap();
        assert_eq!(f.kconfig.source, None);
        assert_eq!(f.kconfig.get("CONFIG_USER_NS"), None);
        assert!(f
            .kconfig
            .tried
            .iter()
            .any(|t| t.contains("boot/config-6.9.0: not found")));
        let text = render_text(&f);
        assert!(text.contains("unknown"), "{text}");
        assert!(text.contains("config-6.9.0"), "{text}");
    }

    #[test]
    fn probe_with_explicit_bad_kconfig_is_an_error_naming_the_file() {
        let dir = fake_tree(&[("/not-a-config", "hello\nworld\n")]);
        let path = dir.path().join("not-a-config");
        let err = HostFacts::probe_with(&ProbeOptions {
            root: dir.path().into(),
            kconfig: Some(path.clone()),
        })
        .unwrap_err();
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );

        let missing = dir.path().join("missing");
        let err = HostFacts::probe_with(&ProbeOptions {
            root: dir.path().into(),
            kconfig: Some(missing.clone()),
        })
        .unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn probe_with_explicit_kconfig_records_it() {
        let dir = fake_tree(&[("/my.config", "CONFIG_USER_NS=y\n")]);
        let path = dir.path().join("my.config");
        let f = HostFacts::probe_with(&ProbeOptions {
            root: dir.path().into(),
            kconfig: Some(path.clone()),
        })
        .unwrap();
        assert_eq!(f.kconfig.source.as_deref(), Some(&*path.to_string_lossy()));
        assert!(f.kconfig.explicit);
    }

    #[test]
    fn old_reports_without_new_fields_still_parse() {
        let json = r##"{
            "kernel": {"release": "6.1.0", "version": "#1"},
            "distro": {"id": "debian", "version_id": "12", "pretty_name": "Debian"},
            "arch": "x86_64",
            "cmdline": "ro",
            "lsms": ["capability"],
            "cgroup": {"layout": "hybrid", "v1_controllers": ["memory"], "v2_controllers": []},
            "runner": {"uid": 0, "gid": 0, "effective_caps": [], "bounding_caps": []}
        }"##;
        let f: HostFacts = serde_json::from_str(json).unwrap();
        assert_eq!(f.kernel.release, "6.1.0");
        assert_eq!(f.kconfig, KconfigFacts::default());
        assert_eq!(f.nesting, NestingFacts::default());
    }

    #[test]
    fn facts_round_trip_through_json() {
        let f = HostFacts::probe();
        let json = serde_json::to_string(&f).unwrap();
        let back: HostFacts = serde_json::from_str(&json).unwrap();
        assert_eq!(f, back);
    }
}
