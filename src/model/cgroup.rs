//! Cgroup data: the layout of a host's hierarchies and the limits a
//! sandbox asks for.

use serde::{Deserialize, Serialize};

/// How the cgroup hierarchies are mounted (decided by statfs magic).
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// cgroup2 only, at /sys/fs/cgroup.
    Unified,
    /// v1 hierarchies with a cgroup2 mount at /sys/fs/cgroup/unified.
    Hybrid,
    /// v1 hierarchies only.
    Legacy,
    /// No cgroup file system found.
    #[default]
    None,
}

impl Layout {
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Unified => "unified",
            Layout::Hybrid => "hybrid",
            Layout::Legacy => "legacy",
            Layout::None => "none",
        }
    }
}

/// Cgroup limits; a sandbox with any gets a cgroup of its own.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct CgroupLimits {
    /// Memory cap in bytes (v2 memory.max, v1 memory.limit_in_bytes).
    pub memory_max: Option<u64>,
    /// Memory throttling limit in bytes (v2 memory.high; v1 has none).
    #[serde(default)]
    pub memory_high: Option<u64>,
    /// A cgroup in the memory hierarchy even without a limit, so its
    /// counters (usage, high-water mark, events) can be read.
    #[serde(default)]
    pub memory_account: bool,
    /// The cgroup is made and read but the sandbox is never moved into it
    /// (a control's: its counters then show nothing of the sandbox).
    #[serde(default)]
    pub unjoined: bool,
    /// Task cap (v2 and v1 pids.max).
    pub pids_max: Option<u64>,
    /// CPU bandwidth (v2 cpu.max, v1 cpu.cfs_quota_us and cpu.cfs_period_us).
    #[serde(default)]
    pub cpu_max: Option<CpuMax>,
}

impl CgroupLimits {
    pub fn is_empty(&self) -> bool {
        self.memory_max.is_none()
            && self.memory_high.is_none()
            && !self.memory_account
            && self.pids_max.is_none()
            && self.cpu_max.is_none()
    }
}

/// CPU bandwidth: at most `quota_us` of CPU time in every `period_us` of
/// wall time. Without a quota the sandbox still gets a cgroup in the cpu
/// hierarchy, unlimited (`max`), so a control runs placed as its test.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CpuMax {
    /// CPU time per period, in microseconds; none is no limit (`max`).
    #[serde(default)]
    pub quota_us: Option<u64>,
    /// The period, in microseconds (100 ms unless given).
    #[serde(default = "default_cpu_period_us")]
    pub period_us: u64,
}

fn default_cpu_period_us() -> u64 {
    100_000
}

impl CpuMax {
    /// The kernel's bounds: a period of 1 ms to 1 s, a quota of at least 1 ms.
    pub fn validate(&self) -> Result<(), String> {
        if !(1_000..=1_000_000).contains(&self.period_us) {
            return Err(format!(
                "cgroup.cpu_max.period_us: {} is outside 1000..=1000000",
                self.period_us
            ));
        }
        if let Some(q) = self.quota_us.filter(|q| *q < 1_000) {
            return Err(format!(
                "cgroup.cpu_max.quota_us: {q} is below the kernel's minimum of 1000"
            ));
        }
        Ok(())
    }
}
