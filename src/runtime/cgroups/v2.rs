//! cgroup v2 backend: one directory under `<mount>/isocheck`, the
//! controllers enabled through isocheck's own parent's subtree_control.

use std::path::{Path, PathBuf};

use super::cpu::{cpu_max_line, cpu_stat, parse_cpu_max};
use super::{
    flat_keyed, kill_all, parse_limit, read, remove_dir, write, CgroupError, CgroupStats,
    SandboxCgroup, PARENT_NAME,
};
use crate::model::cgroup::CgroupLimits;
use crate::runtime::sabotage::{hit, Sabotage::*};

pub struct V2Cgroup {
    dir: PathBuf,
    removed: bool,
}

impl V2Cgroup {
    pub fn create(
        mount: &Path,
        name: &str,
        limits: &CgroupLimits,
    ) -> Result<V2Cgroup, CgroupError> {
        let parent = mount.join(PARENT_NAME);
        let wanted = limits.controllers();
        // The controllers must be enabled in the root for isocheck's parent
        // to have them; isocheck does not change the root.
        let root_enabled = read(&mount.join("cgroup.subtree_control")).unwrap_or_default();
        for c in &wanted {
            if !root_enabled.split_whitespace().any(|e| e == *c) {
                return Err(CgroupError::ControllerAbsent(format!(
                    "{c} (not in {}/cgroup.subtree_control)",
                    mount.display()
                )));
            }
        }
        let dir = parent.join(name);
        let mut last = None;
        for _ in 0..5 {
            match std::fs::create_dir_all(&dir) {
                Ok(()) => {
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(source) = last {
            return Err(CgroupError::Create { path: dir, source });
        }
        let cg = V2Cgroup {
            dir,
            removed: false,
        };
        if !wanted.is_empty() {
            let enable: Vec<String> = wanted.iter().map(|c| format!("+{c}")).collect();
            write(&parent.join("cgroup.subtree_control"), &enable.join(" "))?;
        }
        if let Some(max) = limits.memory_max.filter(|_| !hit(V2MemoryLimitSkipped)) {
            write(&cg.dir.join("memory.max"), &max.to_string())?;
            let swap = cg.dir.join("memory.swap.max");
            if swap.exists() {
                write(&swap, "0")?;
            }
        }
        if let Some(high) = limits.memory_high.filter(|_| !hit(V2MemoryHighSkipped)) {
            write(&cg.dir.join("memory.high"), &high.to_string())?;
        }
        // Without swap for it, memory over memory.max or memory.high stays
        // charged: a limit acts the same whether or not the host swaps.
        let swap = cg.dir.join("memory.swap.max");
        if limits.memory_high.is_some() && limits.memory_max.is_none() && swap.exists() {
            write(&swap, "0")?;
        }
        if let Some(max) = limits.pids_max.filter(|_| !hit(V2PidsLimitSkipped)) {
            write(&cg.dir.join("pids.max"), &max.to_string())?;
        }
        if let Some(cpu) = limits.cpu_max.filter(|_| !hit(V2CpuQuotaSkipped)) {
            let mut cpu = cpu;
            if hit(CpuPeriodHalved) {
                cpu.period_us /= 2;
            }
            write(&cg.dir.join("cpu.max"), &cpu_max_line(&cpu))?;
        }
        Ok(cg)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl SandboxCgroup for V2Cgroup {
    fn dirs(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }

    fn procs_files(&self) -> Vec<PathBuf> {
        vec![self.dir.join("cgroup.procs")]
    }

    fn stats(&self) -> CgroupStats {
        let events = read(&self.dir.join("memory.events")).ok();
        // memory.peak came with 5.19; older kernels have no high-water mark.
        let peak = read(&self.dir.join("memory.peak"))
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .map(|v| ("memory.peak", v));
        let pids_events = read(&self.dir.join("pids.events")).ok();
        let (cpu_quota_us, cpu_period_us) = read(&self.dir.join("cpu.max"))
            .map(|t| parse_cpu_max(&t))
            .unwrap_or_default();
        let (nr_periods, nr_throttled, throttled_usec) = read(&self.dir.join("cpu.stat"))
            .map(|t| cpu_stat(&t))
            .unwrap_or_default();
        CgroupStats {
            backend: "v2".into(),
            oom_kill: events.as_deref().and_then(|t| flat_keyed(t, "oom_kill")),
            memory_limit_hits: events.as_deref().and_then(|t| flat_keyed(t, "max")),
            memory_max: read(&self.dir.join("memory.max"))
                .ok()
                .and_then(|t| parse_limit(&t)),
            memory_high: read(&self.dir.join("memory.high"))
                .ok()
                .and_then(|t| parse_limit(&t)),
            memory_high_events: events.as_deref().and_then(|t| flat_keyed(t, "high")),
            memory_peak: peak.as_ref().map(|(_, v)| *v),
            memory_peak_file: peak.map(|(f, _)| f.into()),
            memory_current: read(&self.dir.join("memory.current"))
                .ok()
                .and_then(|t| t.trim().parse().ok()),
            pids_max: read(&self.dir.join("pids.max"))
                .ok()
                .and_then(|t| parse_limit(&t)),
            pids_limit_hits: pids_events.as_deref().and_then(|t| flat_keyed(t, "max")),
            cpu_quota_us,
            cpu_period_us,
            nr_periods,
            nr_throttled,
            throttled_usec,
            kill: super::kill_method(&self.dir).into(),
            path: self
                .dir
                .parent()
                .and_then(|p| p.parent())
                .and_then(|mount| self.dir.strip_prefix(mount).ok())
                .map(|rel| format!("/{}", rel.display())),
            join: None,
        }
    }

    fn remove(&mut self) -> Result<(), CgroupError> {
        if self.removed {
            return Ok(());
        }
        if super::kill_method(&self.dir) == super::KILL_BY_FILE {
            let _ = write(&self.dir.join("cgroup.kill"), "1");
        }
        kill_all(&self.dir.join("cgroup.procs"));
        remove_dir(&self.dir)?;
        if let Some(parent) = self.dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
        self.removed = true;
        Ok(())
    }
}

impl Drop for V2Cgroup {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cgroup::CpuMax;

    fn fake_root(enabled: &str) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("cgroup.controllers"), "cpu memory pids io").unwrap();
        std::fs::write(t.path().join("cgroup.subtree_control"), enabled).unwrap();
        t
    }

    fn limits(memory: Option<u64>, pids: Option<u64>) -> CgroupLimits {
        CgroupLimits {
            memory_max: memory,
            pids_max: pids,
            ..Default::default()
        }
    }

    #[test]
    fn writes_limits_and_enables_controllers_in_own_parent() {
        let root = fake_root("memory pids");
        let cg = V2Cgroup::create(root.path(), "case-1", &limits(Some(32 << 20), Some(8))).unwrap();
        let dir = root.path().join("isocheck/case-1");
        assert_eq!(cg.dir(), dir);
        assert_eq!(
            std::fs::read_to_string(dir.join("memory.max")).unwrap(),
            "33554432"
        );
        assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap(), "8");
        assert_eq!(
            std::fs::read_to_string(root.path().join("isocheck/cgroup.subtree_control")).unwrap(),
            "+memory +pids"
        );
        // The root's own subtree_control is left as it was.
        assert_eq!(
            std::fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap(),
            "memory pids"
        );
        assert_eq!(cg.procs_files(), vec![dir.join("cgroup.procs")]);
        std::mem::forget(cg); // a plain directory cannot be rmdir'd with files in it
    }

    #[test]
    fn refuses_a_controller_the_root_does_not_delegate() {
        let root = fake_root("pids");
        let err = V2Cgroup::create(root.path(), "case-2", &limits(Some(1 << 20), None))
            .err()
            .unwrap();
        assert!(
            matches!(err, CgroupError::ControllerAbsent(ref c) if c.starts_with("memory")),
            "{err}"
        );
        assert!(
            !root.path().join("isocheck/case-2").exists(),
            "nothing is created on refusal"
        );
    }

    #[test]
    fn reads_oom_kills_and_limit_hits_from_memory_events() {
        let root = fake_root("memory");
        let cg = V2Cgroup::create(root.path(), "case-3", &limits(Some(1 << 20), None)).unwrap();
        std::fs::write(
            cg.dir().join("memory.events"),
            "low 0\nhigh 0\nmax 17\noom 1\noom_kill 1\noom_group_kill 0\n",
        )
        .unwrap();
        let s = cg.stats();
        assert_eq!(
            (
                s.backend.as_str(),
                s.oom_kill,
                s.memory_limit_hits,
                s.memory_max
            ),
            ("v2", Some(1), Some(17), Some(1 << 20))
        );
        std::mem::forget(cg);
    }

    #[test]
    fn writes_memory_high_without_swap_and_reads_its_events_and_peak() {
        let root = fake_root("memory");
        let l = CgroupLimits {
            memory_high: Some(32 << 20),
            ..Default::default()
        };
        // A kernel with swap accounting shows memory.swap.max.
        let dir = root.path().join("isocheck/case-h");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("memory.swap.max"), "max").unwrap();
        let cg = V2Cgroup::create(root.path(), "case-h", &l).unwrap();
        assert_eq!(
            std::fs::read_to_string(cg.dir().join("memory.high")).unwrap(),
            "33554432"
        );
        assert_eq!(
            std::fs::read_to_string(cg.dir().join("memory.swap.max")).unwrap(),
            "0"
        );
        std::fs::write(
            cg.dir().join("memory.events"),
            "low 0\nhigh 12\nmax 0\noom 0\noom_kill 0\n",
        )
        .unwrap();
        std::fs::write(cg.dir().join("memory.peak"), "70000000\n").unwrap();
        std::fs::write(cg.dir().join("memory.current"), "200000\n").unwrap();
        let s = cg.stats();
        assert_eq!(
            (
                s.memory_high,
                s.memory_high_events,
                s.oom_kill,
                s.memory_peak,
                s.memory_peak_file.as_deref(),
                s.memory_current
            ),
            (
                Some(32 << 20),
                Some(12),
                Some(0),
                Some(70_000_000),
                Some("memory.peak"),
                Some(200_000)
            )
        );
        std::mem::forget(cg);
    }

    #[test]
    fn a_kernel_without_memory_peak_reports_none() {
        let root = fake_root("memory");
        let l = CgroupLimits {
            memory_account: true,
            ..Default::default()
        };
        let cg = V2Cgroup::create(root.path(), "case-p", &l).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.path().join("isocheck/cgroup.subtree_control")).unwrap(),
            "+memory"
        );
        let s = cg.stats();
        assert_eq!((s.memory_peak, s.memory_peak_file), (None, None));
        std::mem::forget(cg);
    }

    #[test]
    fn the_kill_method_is_recorded_and_falls_back_without_cgroup_kill() {
        let root = fake_root("pids");
        let cg = V2Cgroup::create(root.path(), "case-k", &limits(None, Some(8))).unwrap();
        // A kernel without cgroup.kill: each pid is signalled.
        assert_eq!(cg.stats().kill, super::super::KILL_EACH_PID);
        std::fs::write(cg.dir().join("cgroup.kill"), "").unwrap();
        assert_eq!(cg.stats().kill, super::super::KILL_BY_FILE);
        std::mem::forget(cg);
    }

    fn cpu(quota: Option<u64>) -> CgroupLimits {
        CgroupLimits {
            cpu_max: Some(CpuMax {
                quota_us: quota,
                period_us: 100_000,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn writes_cpu_max_and_enables_cpu_in_own_parent() {
        let root = fake_root("cpu memory pids");
        let cg = V2Cgroup::create(root.path(), "case-5", &cpu(Some(20_000))).unwrap();
        assert_eq!(
            std::fs::read_to_string(cg.dir().join("cpu.max")).unwrap(),
            "20000 100000"
        );
        assert_eq!(
            std::fs::read_to_string(root.path().join("isocheck/cgroup.subtree_control")).unwrap(),
            "+cpu"
        );
        let unlimited = V2Cgroup::create(root.path(), "case-6", &cpu(None)).unwrap();
        assert_eq!(
            std::fs::read_to_string(unlimited.dir().join("cpu.max")).unwrap(),
            "max 100000"
        );
        std::mem::forget(cg);
        std::mem::forget(unlimited);
    }

    #[test]
    fn refuses_cpu_when_the_root_does_not_delegate_it() {
        let root = fake_root("memory pids");
        let err = V2Cgroup::create(root.path(), "case-7", &cpu(Some(20_000)))
            .err()
            .unwrap();
        assert!(
            matches!(err, CgroupError::ControllerAbsent(ref c) if c.starts_with("cpu")),
            "{err}"
        );
    }

    #[test]
    fn reads_throttling_from_cpu_stat() {
        let root = fake_root("cpu");
        let cg = V2Cgroup::create(root.path(), "case-8", &cpu(Some(20_000))).unwrap();
        std::fs::write(
            cg.dir().join("cpu.stat"),
            "usage_usec 61234\nuser_usec 61000\nsystem_usec 234\nnr_periods 4\nnr_throttled 3\nthrottled_usec 231000\nnr_bursts 0\nburst_usec 0\n",
        )
        .unwrap();
        let s = cg.stats();
        assert_eq!(
            (
                s.cpu_quota_us,
                s.cpu_period_us,
                s.nr_periods,
                s.nr_throttled,
                s.throttled_usec
            ),
            (Some(20_000), Some(100_000), Some(4), Some(3), Some(231_000))
        );
        assert_eq!(
            parse_cpu_max("max 100000\n"),
            (Some(u64::MAX), Some(100_000))
        );
        std::mem::forget(cg);
    }

    #[test]
    fn write_errors_name_the_file_and_value() {
        let root = fake_root("memory");
        // A directory where memory.max should be makes the write fail.
        std::fs::create_dir_all(root.path().join("isocheck/case-4/memory.max")).unwrap();
        let err = V2Cgroup::create(root.path(), "case-4", &limits(Some(4096), None))
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(
            msg.contains("memory.max") && msg.contains("\"4096\""),
            "{msg}"
        );
    }
}
