//! Cgroup probes of known container-escape fixes: writing a cgroup v1
//! hierarchy's `release_agent` from a mount the sandbox made itself, and a
//! migration through a `cgroup.procs` descriptor a lesser user opened.

use nix::mount::MsFlags;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::schema::{f, opt, Field, Ty};
use super::Def;
use super::{io_outcome, outcome};
use crate::model::names::LESSER_OPENER_ENV;
use crate::sys::mountinfo;

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

/// The directory of the calling process's cgroup in the hierarchy that
/// holds `controller` (a v1 hierarchy listing it, else cgroup2 when its
/// root offers it), from `/proc/self/cgroup` and `/proc/self/mountinfo`
/// texts; with the hierarchy's version.
pub fn own_cgroup(
    proc_cgroup: &str,
    mountinfo_text: &str,
    controller: &str,
) -> Option<(PathBuf, &'static str)> {
    let mounts = mountinfo::entries(mountinfo_text);
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(id), Some(list), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if id != "0" && list.split(',').any(|c| c == controller) {
            let m = mounts.iter().find(|m| {
                m.fstype == "cgroup"
                    && m.root == "/"
                    && m.super_options.iter().any(|o| o == controller)
            })?;
            return Some((m.mount_point.join(rel), "v1"));
        }
    }
    for line in proc_cgroup.lines() {
        let Some(path) = line.strip_prefix("0::") else {
            continue;
        };
        let m = mounts
            .iter()
            .find(|m| m.fstype == "cgroup2" && m.root == "/")?;
        let offered =
            std::fs::read_to_string(m.mount_point.join("cgroup.controllers")).unwrap_or_default();
        if offered.split_whitespace().any(|c| c == controller) {
            return Some((m.mount_point.join(path.trim_start_matches('/')), "v2"));
        }
    }
    None
}

#[derive(Serialize, Debug)]
pub struct MigrateReport {
    /// The sandbox's own cgroup, in the hierarchy of the controller, or
    /// none when it has none there or it is not a cgroup isocheck made for
    /// the case (a directory under an `isocheck` parent): then nothing is
    /// touched.
    pub cgroup: Option<String>,
    /// `"v1"` or `"v2"`: the hierarchy's version.
    pub version: Option<String>,
    /// The effective uid the destination's `cgroup.procs` was opened with
    /// ([`LESSER_OPENER_ENV`]), or none: opened as root.
    pub opener: Option<u32>,
    /// `"ok"` or the errno of making the two children `a` and `b`.
    pub mkdir: String,
    /// `"ok"` or the errno of moving itself into `a` (as root).
    pub enter: String,
    /// `"ok"` or the errno of giving both children's `cgroup.procs` to the
    /// opener (as the kernel's selftest does).
    pub chown: String,
    /// `"ok"` or the errno of opening `b/cgroup.procs` for writing.
    pub open: String,
    /// `"ok"` or the errno of writing `0` (itself) through it, as root.
    pub write: String,
    /// After the write the process sits in `b`: it was migrated.
    pub moved: bool,
    /// `"ok"` or the first errno of moving back and removing `a` and `b`.
    pub cleanup: String,
}

/// Like the kernel selftest `test_cgcore_lesser_euid_open`, inside the
/// sandbox's own cgroup only: makes children `a` and `b`, moves itself
/// into `a`, gives both children's `cgroup.procs` to the opener, opens
/// `b/cgroup.procs` with its effective uid lowered to the opener's, and
/// writes `0` through it as root. The kernel checks a migration against
/// the credentials the file was opened with, and the opener may not write
/// the common parent's `cgroup.procs`: EACCES. Then it moves back and
/// removes both children, whatever happened.
pub fn migrate_through_fd(controller: &str) -> MigrateReport {
    let opener: Option<u32> = std::env::var(LESSER_OPENER_ENV)
        .ok()
        .and_then(|v| v.parse().ok());
    let mut r = MigrateReport {
        cgroup: None,
        version: None,
        opener,
        mkdir: "not-tried".into(),
        enter: "not-tried".into(),
        chown: "not-tried".into(),
        open: "not-tried".into(),
        write: "not-tried".into(),
        moved: false,
        cleanup: "not-tried".into(),
    };
    let own = own_cgroup(
        &std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
        &std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
        controller,
    );
    let Some((dir, version)) = own else {
        return r;
    };
    // Only ever below a cgroup made for the case: its parent is isocheck's.
    if dir.parent().and_then(Path::file_name) != Some(std::ffi::OsStr::new("isocheck")) {
        return r;
    }
    r.cgroup = Some(dir.display().to_string());
    r.version = Some(version.into());
    let (a, b) = (dir.join("a"), dir.join("b"));
    r.mkdir = io_outcome(std::fs::create_dir(&a).and_then(|_| std::fs::create_dir(&b)));
    if r.mkdir == "ok" {
        r.enter = io_outcome(std::fs::write(a.join("cgroup.procs"), "0"));
    }
    if r.enter == "ok" {
        let uid = nix::unistd::Uid::from_raw(opener.unwrap_or(0));
        r.chown = outcome(
            nix::unistd::chown(&a.join("cgroup.procs"), Some(uid), None)
                .and_then(|_| nix::unistd::chown(&b.join("cgroup.procs"), Some(uid), None)),
        );
    }
    if r.chown == "ok" {
        let file = match opener {
            Some(u) => match nix::unistd::seteuid(nix::unistd::Uid::from_raw(u)) {
                Err(e) => Err(std::io::Error::from(e)),
                Ok(()) => {
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(b.join("cgroup.procs"));
                    if let Err(e) = nix::unistd::seteuid(nix::unistd::Uid::from_raw(0)) {
                        // Without root back nothing below can be trusted.
                        r.open = format!("{e:?}");
                        return r;
                    }
                    f
                }
            },
            None => std::fs::OpenOptions::new()
                .write(true)
                .open(b.join("cgroup.procs")),
        };
        match file {
            Ok(mut f) => {
                r.open = "ok".into();
                r.write = io_outcome(std::io::Write::write_all(&mut f, b"0"));
            }
            Err(e) => r.open = io_outcome::<()>(Err(e)),
        }
        r.moved = own_cgroup(
            &std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
            &std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
            controller,
        )
        .is_some_and(|(now, _)| now == b);
    }
    let mut cleanup = Vec::new();
    if r.enter == "ok" {
        cleanup.push(io_outcome(std::fs::write(dir.join("cgroup.procs"), "0")));
    }
    if r.mkdir != "not-tried" {
        for d in [&a, &b] {
            if d.exists() {
                cleanup.push(io_outcome(std::fs::remove_dir(d)));
            }
        }
    }
    r.cleanup = cleanup
        .into_iter()
        .find(|o| o != "ok")
        .unwrap_or_else(|| "ok".into());
    r
}

/// `cgroup-migrate-through-fd`: a migration through a `cgroup.procs`
/// descriptor opened by a lesser user, written by root, inside the
/// sandbox's own cgroup in the hierarchy of `controller`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MigrateArgs {
    pub controller: String,
}

impl Def for MigrateArgs {
    type Output = MigrateReport;
    fn run(&self) -> MigrateReport {
        migrate_through_fd(&self.controller)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(opt("probe.cgroup", Ty::Str));
        v.push(opt("probe.version", Ty::Str));
        v.push(opt("probe.opener", Ty::UINT));
        v.push(f("probe.mkdir", Ty::Str));
        v.push(f("probe.enter", Ty::Str));
        v.push(f("probe.chown", Ty::Str));
        v.push(f("probe.open", Ty::Str));
        v.push(f("probe.write", Ty::Str));
        v.push(f("probe.moved", Ty::Bool));
        v.push(f("probe.cleanup", Ty::Str));
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
