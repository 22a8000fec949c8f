//! cgroup v1 backend: one directory per controller hierarchy.

use std::path::{Path, PathBuf};

use super::cpu::cpu_stat;
use super::{
    flat_keyed, kill_all, parse_limit, read, remove_dir, write, CgroupError, CgroupStats,
    SandboxCgroup, PARENT_NAME,
};
use crate::model::cgroup::CgroupLimits;
use crate::runtime::sabotage::{hit, Sabotage::*};

/// v1 controllers named in a mountinfo text's `cgroup` super options.
pub fn controllers_from_mountinfo(mountinfo: &str) -> Vec<String> {
    let mut out: Vec<String> = v1_mounts(mountinfo)
        .into_iter()
        .flat_map(|(_, ctrls)| ctrls)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The mount point of the v1 hierarchy that carries `controller`.
pub fn mount_of(mountinfo: &str, controller: &str) -> Option<PathBuf> {
    v1_mounts(mountinfo)
        .into_iter()
        .find(|(_, ctrls)| ctrls.iter().any(|c| c == controller))
        .map(|(p, _)| p)
}

/// The v1 cgroup mounts of a mountinfo text that carry controllers: their
/// mount points and controllers (named hierarchies carry none).
fn v1_mounts(mountinfo: &str) -> Vec<(PathBuf, Vec<String>)> {
    crate::sys::mountinfo::entries(mountinfo)
        .into_iter()
        .filter(|e| e.fstype == "cgroup")
        .filter_map(|e| {
            let ctrls = e
                .super_options
                .iter()
                .filter(|o| {
                    !matches!(
                        o.as_str(),
                        "rw" | "ro"
                            | "relatime"
                            | "noatime"
                            | "nosuid"
                            | "nodev"
                            | "noexec"
                            | "clone_children"
                            | "noprefix"
                            | "xattr"
                    ) && !o.contains('=')
                })
                .cloned()
                .collect::<Vec<_>>();
            (!ctrls.is_empty()).then_some((e.mount_point, ctrls))
        })
        .collect()
}

pub struct V1Cgroup {
    /// (controller, directory of this sandbox in that hierarchy)
    dirs: Vec<(String, PathBuf)>,
    removed: bool,
}

impl V1Cgroup {
    /// `homes` pairs each controller with its hierarchy's mount point.
    pub fn create(
        homes: &[(String, PathBuf)],
        name: &str,
        limits: &CgroupLimits,
    ) -> Result<V1Cgroup, CgroupError> {
        // A limit v1 cannot apply is refused, never silently left out.
        if limits.memory_high.is_some() {
            return Err(CgroupError::ControllerAbsent(
                "memory.high (memory is on cgroup v1, which has no memory.high)".into(),
            ));
        }
        let mut cg = V1Cgroup {
            dirs: Vec::new(),
            removed: false,
        };
        for (ctrl, mount) in homes {
            let dir = mount.join(PARENT_NAME).join(name);
            make_dir(&dir)?;
            cg.dirs.push((ctrl.clone(), dir));
        }
        for (ctrl, dir) in &cg.dirs {
            match ctrl.as_str() {
                "memory" => {
                    if let Some(max) = limits.memory_max.filter(|_| !hit(V1MemoryLimitSkipped)) {
                        write(&dir.join("memory.limit_in_bytes"), &max.to_string())?;
                        let memsw = dir.join("memory.memsw.limit_in_bytes");
                        if memsw.exists() {
                            write(&memsw, &max.to_string())?;
                        }
                    }
                }
                "pids" => {
                    if let Some(max) = limits.pids_max.filter(|_| !hit(V1PidsLimitSkipped)) {
                        write(&dir.join("pids.max"), &max.to_string())?;
                    }
                }
                "cpu" => {
                    if let Some(cpu) = limits.cpu_max {
                        // The period first: a quota is checked against it.
                        let period = if hit(CpuPeriodHalved) {
                            cpu.period_us / 2
                        } else {
                            cpu.period_us
                        };
                        write(&dir.join("cpu.cfs_period_us"), &period.to_string())?;
                        let quota = cpu
                            .quota_us
                            .filter(|_| !hit(V1CpuQuotaSkipped))
                            .map_or("-1".to_string(), |q| q.to_string());
                        write(&dir.join("cpu.cfs_quota_us"), &quota)?;
                    }
                }
                _ => {}
            }
        }
        Ok(cg)
    }

    fn dir_of(&self, ctrl: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| c == ctrl)
            .map(|(_, d)| d.as_path())
    }
}

/// mkdir -p of a sandbox cgroup; retried because a finishing sibling may
/// remove the shared parent in between.
fn make_dir(dir: &Path) -> Result<(), CgroupError> {
    let mut last = None;
    for _ in 0..5 {
        match std::fs::create_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(CgroupError::Create {
        path: dir.into(),
        source: last.unwrap(),
    })
}

impl SandboxCgroup for V1Cgroup {
    fn dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.clone()).collect()
    }

    fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs
            .iter()
            .map(|(_, d)| d.join("cgroup.procs"))
            .collect()
    }

    fn stats(&self) -> CgroupStats {
        let mut s = CgroupStats {
            backend: "v1".into(),
            // A v1 hierarchy has no cgroup.kill.
            kill: super::KILL_EACH_PID.into(),
            ..Default::default()
        };
        if let Some(d) = self.dir_of("memory") {
            let oom = read(&d.join("memory.oom_control")).ok();
            s.oom_kill = oom.as_deref().and_then(|t| flat_keyed(t, "oom_kill"));
            s.memory_limit_hits = read(&d.join("memory.failcnt"))
                .ok()
                .and_then(|t| t.trim().parse().ok());
            s.memory_max = read(&d.join("memory.limit_in_bytes"))
                .ok()
                .and_then(|t| parse_limit(&t));
            // v1's high-water mark; v1 has no memory.high.
            s.memory_peak = read(&d.join("memory.max_usage_in_bytes"))
                .ok()
                .and_then(|t| t.trim().parse().ok());
            s.memory_peak_file = s
                .memory_peak
                .map(|_| "memory.max_usage_in_bytes".to_string());
            s.memory_current = read(&d.join("memory.usage_in_bytes"))
                .ok()
                .and_then(|t| t.trim().parse().ok());
        }
        if let Some(d) = self.dir_of("cpu") {
            // cpu.cfs_quota_us reads -1 for no quota.
            s.cpu_quota_us = read(&d.join("cpu.cfs_quota_us"))
                .ok()
                .and_then(|t| match t.trim() {
                    "-1" => Some(u64::MAX),
                    q => q.parse().ok(),
                });
            s.cpu_period_us = read(&d.join("cpu.cfs_period_us"))
                .ok()
                .and_then(|t| t.trim().parse().ok());
            (s.nr_periods, s.nr_throttled, s.throttled_usec) = read(&d.join("cpu.stat"))
                .map(|t| cpu_stat(&t))
                .unwrap_or_default();
        }
        if let Some(d) = self.dir_of("pids") {
            s.pids_max = read(&d.join("pids.max")).ok().and_then(|t| parse_limit(&t));
            s.pids_limit_hits = read(&d.join("pids.events"))
                .ok()
                .and_then(|t| flat_keyed(&t, "max"));
        }
        s
    }

    fn remove(&mut self) -> Result<(), CgroupError> {
        if self.removed {
            return Ok(());
        }
        let mut first_err = None;
        for (_, d) in &self.dirs {
            kill_all(&d.join("cgroup.procs"));
            if let Err(e) = remove_dir(d) {
                first_err.get_or_insert(e);
            }
            if let Some(parent) = d.parent() {
                // Fails while a sibling sandbox still lives there: fine.
                let _ = std::fs::remove_dir(parent);
            }
        }
        self.removed = true;
        first_err.map_or(Ok(()), Err)
    }
}

impl Drop for V1Cgroup {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const HYBRID: &str = "\
35 25 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw
40 35 0:35 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 35 0:36 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
42 35 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
43 35 0:38 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
";

    #[rstest]
    #[case::memory("memory", Some("/sys/fs/cgroup/memory"))]
    #[case::comounted("cpuacct", Some("/sys/fs/cgroup/cpu,cpuacct"))]
    #[case::cpu_comounted("cpu", Some("/sys/fs/cgroup/cpu,cpuacct"))]
    #[case::named_hierarchy_is_no_controller("systemd", None)]
    #[case::absent("hugetlb", None)]
    fn finds_v1_mounts(#[case] ctrl: &str, #[case] want: Option<&str>) {
        assert_eq!(mount_of(HYBRID, ctrl), want.map(PathBuf::from));
    }

    #[test]
    fn lists_controllers_sorted_without_options() {
        assert_eq!(
            controllers_from_mountinfo(HYBRID),
            vec!["cpu", "cpuacct", "memory", "pids"]
        );
    }

    /// This host's layout: cpu and cpuacct mounted apart.
    const SEPARATE: &str = "\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
";

    #[test]
    fn finds_cpu_mounted_alone() {
        assert_eq!(
            mount_of(SEPARATE, "cpu"),
            Some(PathBuf::from("/sys/fs/cgroup/cpu"))
        );
    }

    fn cpu(quota: Option<u64>) -> CgroupLimits {
        CgroupLimits {
            cpu_max: Some(crate::model::cgroup::CpuMax {
                quota_us: quota,
                period_us: 50_000,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn memory_high_is_refused_on_v1_before_anything_is_made() {
        let t = tempfile::tempdir().unwrap();
        let limits = CgroupLimits {
            memory_high: Some(32 << 20),
            ..Default::default()
        };
        let err = V1Cgroup::create(
            &[("memory".into(), t.path().to_path_buf())],
            "case-h",
            &limits,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("memory.high"), "{err}");
        assert!(!t.path().join(PARENT_NAME).exists());
    }

    #[test]
    fn writes_the_cfs_period_and_quota_in_the_cpu_hierarchy() {
        // A fake co-mounted cpu,cpuacct hierarchy.
        let t = tempfile::tempdir().unwrap();
        let mount = t.path().join("cpu,cpuacct");
        let cg = V1Cgroup::create(
            &[("cpu".into(), mount.clone())],
            "case-1",
            &cpu(Some(10_000)),
        )
        .unwrap();
        let dir = mount.join("isocheck/case-1");
        assert_eq!(cg.dirs(), vec![dir.clone()]);
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        assert_eq!(
            (
                read("cpu.cfs_period_us").as_str(),
                read("cpu.cfs_quota_us").as_str()
            ),
            ("50000", "10000")
        );
        assert_eq!(cg.procs_files(), vec![dir.join("cgroup.procs")]);
        std::fs::write(
            dir.join("cpu.stat"),
            "nr_periods 7\nnr_throttled 5\nthrottled_time 412345678\nnr_bursts 0\nburst_time 0\n",
        )
        .unwrap();
        let s = cg.stats();
        assert_eq!(
            (
                s.backend.as_str(),
                s.cpu_quota_us,
                s.cpu_period_us,
                s.nr_periods,
                s.nr_throttled,
                s.throttled_usec
            ),
            (
                "v1",
                Some(10_000),
                Some(50_000),
                Some(7),
                Some(5),
                Some(412_345)
            )
        );
        std::mem::forget(cg);
        // Without a quota the cgroup is made all the same, unlimited.
        let un = V1Cgroup::create(&[("cpu".into(), mount.clone())], "case-2", &cpu(None)).unwrap();
        let dir = mount.join("isocheck/case-2");
        assert_eq!(
            std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).unwrap(),
            "-1"
        );
        std::fs::write(dir.join("cpu.cfs_quota_us"), "-1\n").unwrap();
        assert_eq!(un.stats().cpu_quota_us, Some(u64::MAX));
        std::mem::forget(un);
    }

    #[rstest]
    #[case::empty("")]
    #[case::truncated("40 35 0:35 / /sys/fs/cgroup/memory rw - cgroup")]
    #[case::no_separator("garbage line with no dash")]
    fn malformed_mountinfo_yields_nothing(#[case] text: &str) {
        assert!(controllers_from_mountinfo(text).is_empty());
    }
}
