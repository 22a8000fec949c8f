//! Cgroup probes of known container-escape fixes: writing a cgroup v1
//! hierarchy's `release_agent` from a mount the sandbox made itself.

use nix::mount::MsFlags;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::schema::{f, opt, Field, Ty};
use super::Def;
use super::{io_outcome, outcome};

/// The cgroup v1 hierarchies that hold controllers, from a `/proc/cgroups`
/// text: each as the mount option naming its controllers (`cpu,cpuacct`),
/// by hierarchy id. Hierarchy 0 is cgroup2 (or no hierarchy); a disabled
/// controller is left out.
pub fn v1_hierarchies(proc_cgroups: &str) -> Vec<String> {
    let mut by_id: std::collections::BTreeMap<u32, Vec<&str>> = Default::default();
    for line in proc_cgroups.lines().filter(|l| !l.starts_with('#')) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let (Some(name), Some(Ok(id)), Some(enabled)) =
            (w.first(), w.get(1).map(|s| s.parse::<u32>()), w.get(3))
        else {
            continue;
        };
        if id != 0 && *enabled == "1" {
            by_id.entry(id).or_default().push(name);
        }
    }
    by_id.into_values().map(|v| v.join(",")).collect()
}

#[derive(Serialize, Debug)]
pub struct ReleaseAgentReport {
    /// The v1 hierarchies with controllers the kernel has (`/proc/cgroups`).
    pub hierarchies: usize,
    /// The controllers of the hierarchy mounted whose root shows
    /// `release_agent` (the sandbox sits at that hierarchy's root), or
    /// none.
    pub hierarchy: Option<String>,
    /// `"ok"` or the errno of making the mount point.
    pub mkdir: String,
    /// `"ok"` when a hierarchy showing `release_agent` was mounted, else
    /// the errno of the last mount tried (`"none"` with no hierarchy, or
    /// `"no-release-agent"` when every mount showed a cgroup below the
    /// hierarchy's root).
    pub mount: String,
    /// `"ok"` or the errno of reading `release_agent`.
    pub read: String,
    /// `"ok"` or the errno of opening it for writing.
    pub open: String,
    /// `"ok"` or the errno of writing back the value read.
    pub write: String,
    /// The value read again afterwards is the one read before.
    pub unchanged: bool,
}

/// Mounts each cgroup v1 hierarchy the kernel has (never a new one: the
/// options name exactly an existing hierarchy's controllers) on `target`
/// until one shows `release_agent`, reads it, and writes back exactly the
/// value read, so even a kernel that allows the write is left as it was.
pub fn release_agent(target: &Path) -> ReleaseAgentReport {
    let list = std::fs::read_to_string("/proc/cgroups").unwrap_or_default();
    let hierarchies = v1_hierarchies(&list);
    let mut r = ReleaseAgentReport {
        hierarchies: hierarchies.len(),
        hierarchy: None,
        mkdir: io_outcome(std::fs::create_dir_all(target)),
        mount: "none".into(),
        read: "not-tried".into(),
        open: "not-tried".into(),
        write: "not-tried".into(),
        unchanged: false,
    };
    if r.mkdir != "ok" {
        return r;
    }
    let agent = target.join("release_agent");
    for h in &hierarchies {
        let m = nix::mount::mount(
            Some("cgroup"),
            target,
            Some("cgroup"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some(h.as_str()),
        );
        if let Err(e) = m {
            r.mount = outcome::<()>(Err(e));
            continue;
        }
        if agent.exists() {
            r.mount = "ok".into();
            r.hierarchy = Some(h.clone());
            break;
        }
        r.mount = "no-release-agent".into();
        let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
    }
    if r.mount != "ok" {
        return r;
    }
    let before = match std::fs::read(&agent) {
        Ok(b) => b,
        Err(e) => {
            r.read = io_outcome::<()>(Err(e));
            return r;
        }
    };
    r.read = "ok".into();
    // The value read ends in a newline, which the kernel strips from a
    // write: writing back the bytes read sets the same value (an empty
    // one included).
    match std::fs::OpenOptions::new().write(true).open(&agent) {
        Err(e) => r.open = io_outcome::<()>(Err(e)),
        Ok(mut file) => {
            r.open = "ok".into();
            r.write = io_outcome(std::io::Write::write_all(&mut file, &before));
        }
    }
    r.unchanged = std::fs::read(&agent).is_ok_and(|after| after == before);
    let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
    r
}

/// `cgroup-release-agent`: mounts an existing cgroup v1 hierarchy at
/// `target` and writes its `release_agent` back unchanged.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReleaseAgentArgs {
    pub target: PathBuf,
}

impl Def for ReleaseAgentArgs {
    type Output = ReleaseAgentReport;
    fn run(&self) -> ReleaseAgentReport {
        release_agent(&self.target)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.hierarchies", Ty::UINT));
        v.push(opt("probe.hierarchy", Ty::Str));
        v.push(f("probe.mkdir", Ty::Outcome));
        v.push(f("probe.mount", Ty::Str));
        v.push(f("probe.read", Ty::Str));
        v.push(f("probe.open", Ty::Str));
        v.push(f("probe.write", Ty::Str));
        v.push(f("probe.unchanged", Ty::Bool));
    }
    fn scratch_paths(&mut self) -> Vec<&mut PathBuf> {
        vec![&mut self.target]
    }
    fn written_paths(&self) -> Vec<(&'static str, &Path)> {
        vec![("target", &self.target)]
    }
    fn mounts(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchies_group_controllers_and_leave_out_cgroup2_and_disabled_ones() {
        let text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n\
                    cpuset\t0\t1\t1\n\
                    cpu\t3\t40\t1\n\
                    cpuacct\t3\t40\t1\n\
                    memory\t5\t90\t0\n\
                    rdma\t7\t1\t1\n";
        assert_eq!(v1_hierarchies(text), vec!["cpu,cpuacct", "rdma"]);
        assert!(
            v1_hierarchies("#subsys_name\thierarchy\tnum_cgroups\tenabled\npids\t0\t3\t1\n")
                .is_empty()
        );
    }
}
