//! A memory hog: allocates and touches memory so a cgroup cap must act.

use super::schema::{f, Field, Ty};
use super::Def;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Debug)]
pub struct HogReport {
    /// MiB allocated and touched; only reported when the hog survived.
    pub allocated_mib: u64,
}

pub fn hog(mib: u64) -> HogReport {
    const MIB: usize = 1 << 20;
    let mut held: Vec<Vec<u8>> = Vec::with_capacity(mib as usize);
    for _ in 0..mib {
        let mut chunk = vec![0u8; MIB];
        // Touch every page so the memory is really charged.
        for i in (0..MIB).step_by(4096) {
            chunk[i] = 1;
        }
        held.push(std::hint::black_box(chunk));
    }
    HogReport {
        allocated_mib: held.len() as u64,
    }
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `memory-hog`: allocates and touches `mib` MiB.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MemoryHogArgs {
    pub mib: u64,
}

impl Def for MemoryHogArgs {
    type Output = HogReport;
    fn run(&self) -> HogReport {
        hog(self.mib)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.allocated_mib", Ty::UINT));
    }
}
