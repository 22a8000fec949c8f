//! A busy loop: spins for a stretch of wall time and reports how much CPU
//! time it got, so a cgroup CPU quota must show as a low ratio.

use nix::time::{clock_gettime, ClockId};
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Serialize, Debug, PartialEq)]
pub struct BusyReport {
    /// Wall time spun, in milliseconds.
    pub wall_ms: f64,
    /// CPU time the process got meanwhile (CLOCK_PROCESS_CPUTIME_ID; the
    /// sandbox init is single-threaded, so it is the loop's).
    pub cpu_ms: f64,
    /// `cpu_ms / wall_ms`: 1.0 is a whole CPU, a quota of 20% about 0.2.
    pub ratio: f64,
    /// Set when the CPU clock could not be read: the ratio means nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn cpu_time() -> Result<Duration, nix::errno::Errno> {
    clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).map(Duration::from)
}

/// Spins for `ms` milliseconds of wall time.
pub fn busy_loop(ms: u64) -> BusyReport {
    let cpu0 = cpu_time();
    let start = Instant::now();
    let until = start + Duration::from_millis(ms);
    let mut x = 0u64;
    while Instant::now() < until {
        for _ in 0..1_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    let wall = start.elapsed();
    let cpu1 = cpu_time();
    report(wall, cpu0.and_then(|a| cpu1.map(|b| b.saturating_sub(a))))
}

fn report(wall: Duration, cpu: Result<Duration, nix::errno::Errno>) -> BusyReport {
    let wall_ms = wall.as_secs_f64() * 1e3;
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    match cpu {
        Ok(cpu) => {
            let cpu_ms = cpu.as_secs_f64() * 1e3;
            BusyReport {
                wall_ms: round(wall_ms),
                cpu_ms: round(cpu_ms),
                ratio: if wall_ms > 0.0 {
                    round(cpu_ms / wall_ms)
                } else {
                    0.0
                },
                error: None,
            }
        }
        Err(e) => BusyReport {
            wall_ms: round(wall_ms),
            cpu_ms: 0.0,
            ratio: 0.0,
            error: Some(format!("clock_gettime(CLOCK_PROCESS_CPUTIME_ID): {e:?}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_is_cpu_over_wall_rounded() {
        let r = report(Duration::from_millis(300), Ok(Duration::from_millis(61)));
        assert_eq!((r.wall_ms, r.cpu_ms, r.ratio), (300.0, 61.0, 0.203));
        let e = report(Duration::from_millis(300), Err(nix::errno::Errno::EINVAL));
        assert_eq!(e.ratio, 0.0);
        assert!(e.error.unwrap().contains("EINVAL"));
    }

    #[test]
    fn an_unlimited_loop_spins_for_its_wall_time() {
        // The process clock counts every thread of the test harness too:
        // only the sandbox, single-threaded, makes the ratio the loop's own.
        let r = busy_loop(20);
        assert!(r.wall_ms >= 20.0, "{r:?}");
        assert!(r.cpu_ms > 0.0 && r.error.is_none(), "{r:?}");
    }
}
