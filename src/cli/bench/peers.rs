//! The peers: the same check (pid 1 in a fresh PID namespace with its own
//! proc: `busybox cat /proc/self/stat` must print `1 (busybox) ...`) run by
//! `unshare(1)` + `chroot(1)`, by `crun run` and by `runc run` on an
//! equivalent OCI bundle (the five namespaces, a fresh proc, a hostname,
//! no_new_privs, a small capability set). crun, runc and busybox come from
//! `ci/bench-peers`' cache or from options; a peer that is missing is
//! absent, not a failure. Each run's output is checked, not only its exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where `ci/bench-peers` caches crun, runc and busybox.
pub const DEFAULT_CACHE: &str = "/var/cache/isocheck/peers";
/// The cgroup2 mount crun must not see on a hybrid host.
const HYBRID_CGROUP2: &str = "/sys/fs/cgroup/unified";
/// The cgroup parent of the peers' containers, under each hierarchy's
/// root: outside the bench's own cgroup.
pub const CGROUP_PARENT: &str = "isocheck-bench";

/// The three peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Unshare,
    Crun,
    Runc,
}

impl Peer {
    pub const ALL: [Peer; 3] = [Peer::Unshare, Peer::Crun, Peer::Runc];

    pub fn id(self) -> &'static str {
        match self {
            Peer::Unshare => "unshare-chroot",
            Peer::Crun => "crun",
            Peer::Runc => "runc",
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            Peer::Unshare => {
                "unshare --fork --pid --mount --uts --ipc --net --mount-proc=ROOT/proc chroot ROOT busybox cat /proc/self/stat"
            }
            Peer::Crun => "crun run on the OCI bundle (cgroup2 mount hidden in a mount namespace)",
            Peer::Runc => "runc run on the OCI bundle",
        }
    }
}

/// A peer ready to run: its binary and, for crun, its library directory.
#[derive(Clone, Debug)]
pub struct Ready {
    pub peer: Peer,
    pub binary: PathBuf,
    /// The first line of `--version`.
    pub version: String,
    lib: Option<PathBuf>,
}

/// The bench's root tree and bundle, in a directory removed on drop.
pub struct Bundle {
    pub dir: PathBuf,
}

impl Bundle {
    /// The root tree `dir/rootfs` (busybox, proc) every peer runs in;
    /// each OCI run gets a bundle directory of its own whose config.json
    /// names this tree.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Makes the tree under `dir` (a fresh directory) with a copy of
    /// `busybox`.
    pub fn make(dir: PathBuf, busybox: &Path) -> std::io::Result<Bundle> {
        let b = Bundle { dir };
        let rootfs = b.rootfs();
        for d in ["bin", "proc", "dev", "sys", "tmp"] {
            std::fs::create_dir_all(rootfs.join(d))?;
        }
        std::fs::copy(busybox, rootfs.join("bin/busybox"))?;
        Ok(b)
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        // runc may leave mount points it made; nothing is mounted there
        // once the containers are gone.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The OCI runtime config of the check: what a typical isocheck case gets.
/// The cgroup path is set per run (see [`Ready::command`]).
pub fn oci_config() -> serde_json::Value {
    let caps = serde_json::json!(["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]);
    serde_json::json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/busybox", "cat", "/proc/self/stat"],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "noNewPrivileges": true,
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps
            }
        },
        "root": {"path": "rootfs"},
        "hostname": "isocheck-bench",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {
            "namespaces": [
                {"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                {"type": "ipc"}, {"type": "network"}
            ]
        }
    })
}

/// Whether `out` is what the check prints: its own `/proc/self/stat` as
/// pid 1 (a fresh PID namespace whose proc is mounted).
pub fn is_pid1_stat(out: &[u8]) -> bool {
    let text = String::from_utf8_lossy(out);
    let mut fields = text.split_whitespace();
    fields.next() == Some("1") && fields.next() == Some("(busybox)")
}

/// First line of `binary --version`, or why it does not run.
fn version(binary: &Path, lib: Option<&Path>) -> Result<String, String> {
    let mut cmd = Command::new(binary);
    cmd.arg("--version");
    if let Some(lib) = lib {
        cmd.env("LD_LIBRARY_PATH", lib);
    }
    let out = cmd
        .output()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} --version: {} {}",
            binary.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .to_string())
}

/// Finds `peer`: its option's path, else the cache's (crun, runc) or
/// PATH's (unshare). `Err` says why it is absent.
pub fn find(peer: Peer, given: Option<&Path>, cache: &Path) -> Result<Ready, String> {
    let (binary, lib) = match (peer, given) {
        (_, Some(p)) => (p.to_path_buf(), None),
        (Peer::Unshare, None) => (which("unshare").ok_or("unshare is not on PATH")?, None),
        (Peer::Crun, None) => (cache.join("bin/crun"), Some(cache.join("lib"))),
        (Peer::Runc, None) => (cache.join("bin/runc"), None),
    };
    if !binary.exists() {
        return Err(format!(
            "{} does not exist (ci/bench-peers fetch, or --{})",
            binary.display(),
            peer.id().split('-').next().unwrap_or("")
        ));
    }
    if peer == Peer::Unshare && which("chroot").is_none() {
        return Err("chroot is not on PATH".into());
    }
    let lib = lib.filter(|l| l.is_dir());
    let version = version(&binary, lib.as_deref())?;
    Ok(Ready {
        peer,
        binary,
        version,
        lib,
    })
}

/// The first `name` on PATH.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

impl Ready {
    /// The command that runs the check once; `n` makes the container's
    /// name and cgroup unique.
    fn command(&self, bundle: &Bundle, n: u64) -> std::io::Result<Command> {
        let mut cmd = Command::new(&self.binary);
        let name = format!("isocheck-bench-{}-{n}", std::process::id());
        match self.peer {
            Peer::Unshare => {
                let rootfs = bundle.rootfs();
                cmd.args(["--fork", "--pid", "--mount", "--uts", "--ipc", "--net"])
                    .arg(format!("--mount-proc={}", rootfs.join("proc").display()))
                    .arg("chroot")
                    .arg(&rootfs)
                    .args(["/bin/busybox", "cat", "/proc/self/stat"]);
            }
            Peer::Crun | Peer::Runc => {
                // The cgroup goes into config.json: a runtime takes it from
                // there only. Each run writes its own copy of the bundle's
                // config (a few hundred bytes), outside the timed part.
                let dir = bundle.dir.join(format!("run-{n}"));
                std::fs::create_dir_all(&dir)?;
                let mut config = oci_config();
                config["root"]["path"] = bundle.rootfs().display().to_string().into();
                config["linux"]["cgroupsPath"] = format!("/{CGROUP_PARENT}/{name}").into();
                std::fs::write(dir.join("config.json"), config.to_string())?;
                let state = bundle.dir.join(format!("{}-state", self.peer.id()));
                cmd.arg("--root")
                    .arg(state)
                    .arg("run")
                    .arg("--bundle")
                    .arg(&dir)
                    .arg(&name);
                if let Some(lib) = &self.lib {
                    cmd.env("LD_LIBRARY_PATH", lib);
                }
                if self.peer == Peer::Crun && Path::new(HYBRID_CGROUP2).is_dir() {
                    let magic =
                        nix::sys::statfs::statfs(HYBRID_CGROUP2).map(|s| s.filesystem_type());
                    if magic == Ok(nix::sys::statfs::CGROUP2_SUPER_MAGIC) {
                        crate::sys::exec_without_mount(&mut cmd, Path::new(HYBRID_CGROUP2))?;
                    }
                }
            }
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Ok(cmd)
    }

    /// Runs the check once and times it (from spawn to exit, output
    /// read); `Err` when it failed or printed something else.
    pub fn time(&self, bundle: &Bundle, n: u64) -> Result<std::time::Duration, String> {
        let mut cmd = self
            .command(bundle, n)
            .map_err(|e| format!("preparing the run: {e}"))?;
        let t = std::time::Instant::now();
        let out = cmd
            .output()
            .map_err(|e| format!("{}: {e}", self.binary.display()))?;
        let took = t.elapsed();
        if self.peer != Peer::Unshare {
            let _ = std::fs::remove_dir_all(bundle.dir.join(format!("run-{n}")));
        }
        if !out.status.success() || !is_pid1_stat(&out.stdout) {
            return Err(format!(
                "{}: {}, printed {:?}, said {:?}",
                self.peer.id(),
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(took)
    }
}

/// Removes the peers' cgroup parent from every hierarchy (the runtimes
/// remove their containers' own cgroups).
pub fn remove_cgroup_parent() {
    let Ok(dirs) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut roots: Vec<PathBuf> = dirs.flatten().map(|d| d.path()).collect();
    roots.push(PathBuf::from("/sys/fs/cgroup"));
    for root in roots {
        let _ = std::fs::remove_dir(root.join(CGROUP_PARENT));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pid_1_s_own_stat_is_the_check_s_output() {
        assert!(is_pid1_stat(b"1 (busybox) R 0 1 1 0 -1 4194560\n"));
        // The host's proc: another pid.
        assert!(!is_pid1_stat(b"4242 (busybox) R 1 4242 4242\n"));
        // pid 1, but not the check (the host's init through a leaked proc).
        assert!(!is_pid1_stat(b"1 (systemd) S 0 1 1\n"));
        assert!(!is_pid1_stat(b""));
        assert!(!is_pid1_stat(b"cat: can't open '/proc/self/stat'\n"));
    }

    #[test]
    fn the_bundle_asks_for_the_namespaces_and_settings_of_a_typical_case() {
        let c = oci_config();
        let ns: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(ns, ["pid", "mount", "uts", "ipc", "network"]);
        assert_eq!(c["process"]["noNewPrivileges"], true);
        assert_eq!(c["mounts"][0]["type"], "proc");
        assert_eq!(c["process"]["args"][2], "/proc/self/stat");
        assert!(!c["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "CAP_SYS_ADMIN"));
    }

    #[test]
    fn a_missing_peer_is_absent_with_the_way_to_get_it() {
        let cache = Path::new("/nonexistent/isocheck-peers");
        let why = find(Peer::Crun, None, cache).unwrap_err();
        assert!(
            why.contains("/nonexistent/isocheck-peers/bin/crun"),
            "{why}"
        );
        assert!(why.contains("ci/bench-peers fetch"), "{why}");
        let why = find(Peer::Runc, Some(Path::new("/nonexistent/runc")), cache).unwrap_err();
        assert!(why.contains("/nonexistent/runc does not exist"), "{why}");
    }
}
