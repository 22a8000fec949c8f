//! A busy loop: spins and reports how much CPU time it got, judged against
//! a CPU quota so that a busy host can neither fail nor blind it.
//!
//! CPU time over wall time depends on how many other tasks want the CPU;
//! a quota does not. A task held to `quota` per `period` can never get
//! more than one quota for every period its run touches, plus the little
//! the kernel lets run past it (see [`Quota::allows`]), however idle the
//! host. So the loop spins for at least `ms` and then until one of two
//! things has happened, for at most `max_ms`:
//!
//! - it got more CPU time than the quota allows over its wall time (an
//!   unlimited loop does as soon as the CPU gives it a small share): the
//!   quota cannot have held;
//! - the kernel throttled its cgroup in so many of the loop's periods that,
//!   had each of them given twice the promised quota, the loop would be
//!   over what the quota allows (cpu.stat `nr_throttled`, read through a
//!   descriptor the helper passes down), and the kernel ran no more periods
//!   than the promised period makes (`nr_periods`; shorter periods, a
//!   larger share, would make each throttle worth less): the loop ran into
//!   the quota, so its CPU time measures the quota, not the host's load.
//!
//! When neither happened by `max_ms` the loop got too little CPU time to
//! tell (a host so busy that it was rarely throttled), and says so
//! (`decided: false`) rather than let a ratio guess.

use nix::time::{clock_gettime, ClockId};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

use super::schema::{f, opt, rare, Field, Ty};
use super::Def;
use crate::model::names::CPU_STAT_FD_ENV;

/// A CPU quota to judge the loop's CPU time against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub quota_us: u64,
    pub period_us: u64,
}

/// Runtime the kernel hands a CPU's run queue ahead of use
/// (`kernel.sched_cfs_bandwidth_slice_us`, 5 ms by default), never more
/// than one quota: what is left of it on a CPU may be spent in the next
/// period.
const SLICE: Duration = Duration::from_millis(5);
/// The longest scheduler tick (HZ=100): an overrun of the quota is noticed
/// at the latest one tick late, and later periods pay it back.
const TICK: Duration = Duration::from_millis(10);

impl Quota {
    fn quota(&self) -> Duration {
        Duration::from_micros(self.quota_us.max(1))
    }

    /// What a task held to this quota may get beyond one quota per period
    /// it touches: a slice left over on each CPU it may run on (at most 16
    /// counted) and one tick.
    fn slack(&self, cpus: usize) -> Duration {
        SLICE.min(self.quota()) * cpus.clamp(1, 16) as u32 + TICK
    }

    /// Periods of the promised length a stretch of `wall` touches:
    /// `ceil(wall / period) + 1`.
    fn periods(&self, wall: Duration) -> u64 {
        let period = Duration::from_micros(self.period_us.max(1));
        wall.as_nanos().div_ceil(period.as_nanos()) as u64 + 1
    }

    /// The most CPU time a single task held to this quota can get in a
    /// stretch of `wall`: one quota for every period of the promised
    /// length the stretch touches, plus the [slack](Quota::slack). Never
    /// from the kernel's count of periods: a cgroup given a shorter period
    /// than promised (a larger share) would have itself allowed more.
    pub fn allows(&self, wall: Duration, cpus: usize) -> Duration {
        Duration::from_micros(self.quota_us.saturating_mul(self.periods(wall))) + self.slack(cpus)
    }

    /// The cgroup's counters over a stretch of `wall` show the loop ran
    /// into this quota: throttled in so many periods that twice the quota
    /// in each would have got it over [`allows`](Quota::allows), in no more
    /// periods than the promised period makes. A loop the host starved is
    /// rarely throttled and decides nothing; one given a shorter period
    /// than promised shows more periods and must get over the quota to
    /// end.
    pub fn throttling_decides(&self, wall: Duration, stat: CpuStat, cpus: usize) -> bool {
        let promised = self.periods(wall);
        let doubled = Duration::from_micros(
            self.quota_us
                .saturating_mul(2)
                .saturating_mul(stat.nr_throttled.min(promised)),
        );
        stat.nr_periods <= promised + 1 && doubled > self.allows(wall, cpus)
    }
}

#[derive(Serialize, Debug, PartialEq)]
pub struct BusyReport {
    /// Wall time spun, in milliseconds.
    pub wall_ms: f64,
    /// CPU time the process got meanwhile (CLOCK_PROCESS_CPUTIME_ID; the
    /// sandbox init is single-threaded, so it is the loop's).
    pub cpu_ms: f64,
    /// `cpu_ms / wall_ms`: 1.0 is a whole CPU. Depends on the host's load;
    /// reported, not judged.
    pub ratio: f64,
    /// With a quota: the most CPU time the quota allows over `wall_ms`
    /// ([`Quota::allows`]).
    pub quota_allows_ms: Option<f64>,
    /// With a quota: `cpu_ms` is more than `quota_allows_ms`.
    pub over_quota: Option<bool>,
    /// Periods and throttled periods of the sandbox's cgroup while the loop
    /// ran (cpu.stat; absent without the helper's descriptor).
    pub nr_periods: Option<u64>,
    pub nr_throttled: Option<u64>,
    /// CPU time of the whole cgroup while the loop ran (cpu.stat
    /// `usage_usec`, cgroup v2 only).
    pub cgroup_usage_ms: Option<f64>,
    /// With a quota: the loop either got more than the quota allows or ran
    /// into it (throttled, as [`Quota::throttling_decides`] says); false
    /// when it got too little CPU time to tell.
    pub decided: Option<bool>,
    /// Set when the CPU clock could not be read: nothing above means anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn cpu_time() -> Result<Duration, nix::errno::Errno> {
    clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).map(Duration::from)
}

/// The counters of a cpu.stat text this loop uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuStat {
    pub nr_periods: u64,
    pub nr_throttled: u64,
    /// `usage_usec` (v2 only).
    pub usage_us: Option<u64>,
}

impl CpuStat {
    pub fn parse(text: &str) -> Option<CpuStat> {
        let key = |k: &str| {
            text.lines().find_map(|l| {
                let mut it = l.split_whitespace();
                (it.next()? == k).then(|| it.next()?.parse::<u64>().ok())?
            })
        };
        Some(CpuStat {
            nr_periods: key("nr_periods")?,
            nr_throttled: key("nr_throttled")?,
            usage_us: key("usage_usec"),
        })
    }

    /// Reads the cgroup's cpu.stat through the descriptor the helper
    /// named in [`CPU_STAT_FD_ENV`]; `None` without one.
    fn inherited() -> Option<CpuStat> {
        let fd: i32 = std::env::var(CPU_STAT_FD_ENV).ok()?.parse().ok()?;
        let mut buf = [0u8; 4096];
        let n = crate::sys::pread_raw(fd, &mut buf, 0).ok()?;
        CpuStat::parse(std::str::from_utf8(&buf[..n]).ok()?)
    }
}

/// CPUs this process may run on.
fn cpus() -> usize {
    nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map(|set| {
            (0..nix::sched::CpuSet::count())
                .filter(|i| set.is_set(*i).unwrap_or(false))
                .count()
        })
        .unwrap_or(1)
}

/// Spins for at least `ms` milliseconds of wall time; with a `quota`, on
/// until the measurement decides (see the module), for at most `max_ms`.
pub fn busy_loop(ms: u64, max_ms: Option<u64>, quota: Option<Quota>) -> BusyReport {
    busy_loop_then(ms, max_ms, quota, || {})
}

/// [`busy_loop`], calling `after` once the loop has ended and before the
/// cgroup's counters are read: tests stand for a preemption there.
fn busy_loop_then(
    ms: u64,
    max_ms: Option<u64>,
    quota: Option<Quota>,
    after: impl FnOnce(),
) -> BusyReport {
    let cpus = cpus();
    // Wall time from first: the cgroup's counters and the CPU time are
    // taken within it, so the kernel's periods are those of the stretch
    // judged (and one more at its end, where the counters are read last).
    let start = Instant::now();
    let stat0 = CpuStat::inherited();
    let cpu0 = cpu_time();
    let min = Duration::from_millis(ms);
    let max = Duration::from_millis(max_ms.unwrap_or(ms).max(ms));
    let mut next_stat = start + min;
    let mut x = 0u64;
    // The loop ends on a sample, wall time read first and CPU time right
    // after (CPU time only grows, so the pair can flatter the loop by the
    // microseconds between the reads, never by a preemption), and that
    // sample is what the report judges. Reading the clocks again after the
    // loop would add every millisecond the process then waited for a CPU to
    // what the quota allows, but nothing to its CPU time: an unlimited loop
    // that had just got over the quota on a busy host was judged under it.
    let (wall, cpu1, decided_on) = loop {
        for _ in 0..1_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        let now = Instant::now();
        let wall = now - start;
        if wall >= max {
            break (wall, cpu_time(), None);
        }
        if wall < min {
            continue;
        }
        let (Some(q), Ok(c0)) = (quota, cpu0) else {
            break (wall, cpu_time(), None);
        };
        let cpu = cpu_time();
        if cpu.is_ok_and(|c| c.saturating_sub(c0) > q.allows(wall, cpus)) {
            break (wall, cpu, None);
        }
        if now >= next_stat {
            next_stat = now + Duration::from_millis(5);
            let stat = since(stat0);
            if stat.is_some_and(|s| q.throttling_decides(wall, s, cpus)) {
                break (wall, cpu, stat);
            }
        }
    };
    after();
    // The counters the loop decided on, else read now (for the report).
    let delta = decided_on.or_else(|| since(stat0));
    report(
        wall,
        cpu0.and_then(|a| cpu1.map(|b| b.saturating_sub(a))),
        quota,
        delta,
        cpus,
    )
}

/// The cgroup's counters since `stat0`.
fn since(stat0: Option<CpuStat>) -> Option<CpuStat> {
    let (a, b) = (stat0?, CpuStat::inherited()?);
    Some(CpuStat {
        nr_periods: b.nr_periods.saturating_sub(a.nr_periods),
        nr_throttled: b.nr_throttled.saturating_sub(a.nr_throttled),
        usage_us: b.usage_us.zip(a.usage_us).map(|(b, a)| b.saturating_sub(a)),
    })
}

fn report(
    wall: Duration,
    cpu: Result<Duration, nix::errno::Errno>,
    quota: Option<Quota>,
    stat: Option<CpuStat>,
    cpus: usize,
) -> BusyReport {
    let ms = |d: Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let wall_ms = ms(wall);
    let mut r = BusyReport {
        wall_ms,
        cpu_ms: 0.0,
        ratio: 0.0,
        quota_allows_ms: None,
        over_quota: None,
        nr_periods: stat.map(|s| s.nr_periods),
        nr_throttled: stat.map(|s| s.nr_throttled),
        cgroup_usage_ms: stat
            .and_then(|s| s.usage_us)
            .map(|u| ms(Duration::from_micros(u))),
        decided: quota.map(|_| false),
        error: None,
    };
    let cpu = match cpu {
        Ok(c) => c,
        Err(e) => {
            r.error = Some(format!("clock_gettime(CLOCK_PROCESS_CPUTIME_ID): {e:?}"));
            return r;
        }
    };
    r.cpu_ms = ms(cpu);
    if wall_ms > 0.0 {
        r.ratio = (r.cpu_ms / wall_ms * 1000.0).round() / 1000.0;
    }
    if let Some(q) = quota {
        let allows = q.allows(wall, cpus);
        let over = cpu > allows;
        let throttled = stat.is_some_and(|s| q.throttling_decides(wall, s, cpus));
        r.quota_allows_ms = Some(ms(allows));
        r.over_quota = Some(over);
        r.decided = Some(over || throttled);
    }
    r
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `busy-loop`: spins for `ms` milliseconds of wall time and reports the
/// CPU time it got and the ratio of the two. With `quota_us` (per
/// `period_us`, 100 ms unless given) it judges that CPU time against the
/// quota and spins on, up to `max_ms`, until it can.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BusyLoopArgs {
    pub ms: u64,
    #[serde(default)]
    pub max_ms: Option<u64>,
    #[serde(default)]
    pub quota_us: Option<u64>,
    #[serde(default)]
    pub period_us: Option<u64>,
}

impl Def for BusyLoopArgs {
    type Output = BusyReport;
    fn run(&self) -> BusyReport {
        busy_loop(
            self.ms,
            self.max_ms,
            self.quota_us.map(|quota_us| Quota {
                quota_us,
                period_us: self.period_us.unwrap_or(100_000),
            }),
        )
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.wall_ms", Ty::Number));
        v.push(f("probe.cpu_ms", Ty::Number));
        v.push(f("probe.ratio", Ty::Number));
        v.push(opt("probe.quota_allows_ms", Ty::Number));
        v.push(opt("probe.over_quota", Ty::Bool));
        v.push(opt("probe.nr_periods", Ty::UINT));
        v.push(opt("probe.nr_throttled", Ty::UINT));
        v.push(opt("probe.cgroup_usage_ms", Ty::Number));
        v.push(opt("probe.decided", Ty::Bool));
        v.push(rare("probe.error", Ty::Str));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: Quota = Quota {
        quota_us: 5_000,
        period_us: 100_000,
    };

    #[test]
    fn the_quota_allows_one_quota_per_period_touched_plus_slack() {
        // 300 ms touch at most 4 periods: 20 ms, + 2 slices + a tick.
        assert_eq!(
            Q.allows(Duration::from_millis(300), 2),
            Duration::from_millis(40)
        );
        assert_eq!(
            Q.allows(Duration::from_millis(301), 2),
            Duration::from_millis(45)
        );
        // Slices are counted for 16 CPUs at most.
        assert_eq!(
            Q.allows(Duration::from_millis(300), 256),
            Duration::from_millis(20 + 80 + 10)
        );
        // A quota smaller than a slice is all a CPU's run queue can hold.
        assert_eq!(
            SMALL.allows(Duration::from_millis(100), 2),
            Duration::from_millis(11 + 2 + 10)
        );
    }

    const SMALL: Quota = Quota {
        quota_us: 1_000,
        period_us: 10_000,
    };

    fn stat(nr_periods: u64, nr_throttled: u64) -> CpuStat {
        CpuStat {
            nr_periods,
            nr_throttled,
            usage_us: None,
        }
    }

    #[test]
    fn throttling_decides_once_a_doubled_quota_would_have_shown() {
        let ms = Duration::from_millis;
        // 1 ms per 10 ms on two CPUs, throttled in every period: 160 ms
        // touch 17 periods, 29 ms allowed; 16 throttles doubled are 32.
        assert!(SMALL.throttling_decides(ms(160), stat(17, 16), 2));
        // Not yet at 100 ms (11 throttles doubled: 22 of 23 ms).
        assert!(!SMALL.throttling_decides(ms(100), stat(11, 11), 2));
        // A starved loop, throttled in every other period, never does.
        for wall in [160, 400, 1000, 5000] {
            let p = wall / 10 + 1;
            assert!(
                !SMALL.throttling_decides(ms(wall), stat(p, p / 2), 2),
                "{wall} ms"
            );
        }
        // Periods shorter than promised (a larger share): more periods
        // than the promised period makes decide nothing, however many
        // throttles they show.
        assert!(!SMALL.throttling_decides(ms(160), stat(33, 32), 2));
        assert!(!SMALL.throttling_decides(ms(160), stat(20, 16), 2));
        // The counters read just after the stretch may show one more.
        assert!(SMALL.throttling_decides(ms(160), stat(18, 16), 2));
    }

    #[test]
    fn an_unlimited_share_is_over_and_a_throttled_loop_is_decided() {
        let wall = Duration::from_millis(300);
        // A loaded host's share of an unlimited loop: 0.3 of a CPU.
        let r = report(
            wall,
            Ok(Duration::from_millis(90)),
            Some(Q),
            Some(stat(3, 0)),
            2,
        );
        assert_eq!(
            (r.over_quota, r.decided, r.quota_allows_ms),
            (Some(true), Some(true), Some(40.0))
        );
        // 1 ms per 10 ms, held to it and throttled in every period.
        let r = report(
            wall,
            Ok(Duration::from_millis(32)),
            Some(SMALL),
            Some(stat(31, 30)),
            2,
        );
        assert_eq!(
            (r.over_quota, r.decided),
            (Some(false), Some(true)),
            "{r:?}"
        );
        // Throttled in a few periods only: the host's load, not the quota.
        let r = report(
            wall,
            Ok(Duration::from_millis(16)),
            Some(SMALL),
            Some(stat(31, 3)),
            2,
        );
        assert_eq!(
            (r.over_quota, r.decided),
            (Some(false), Some(false)),
            "{r:?}"
        );
        // Throttled in every period of a period half the promised one: the
        // share is twice the promise, which only the CPU time can show.
        let r = report(
            wall,
            Ok(Duration::from_millis(40)),
            Some(SMALL),
            Some(stat(61, 60)),
            2,
        );
        assert_eq!(
            (r.over_quota, r.decided),
            (Some(false), Some(false)),
            "{r:?}"
        );
        let r = report(
            wall,
            Ok(Duration::from_millis(60)),
            Some(SMALL),
            Some(stat(61, 60)),
            2,
        );
        assert_eq!((r.over_quota, r.decided), (Some(true), Some(true)), "{r:?}");
        // Starved: neither throttled nor over, nothing to judge.
        let r = report(
            wall,
            Ok(Duration::from_millis(4)),
            Some(Q),
            Some(stat(3, 0)),
            2,
        );
        assert_eq!((r.over_quota, r.decided), (Some(false), Some(false)));
        // Without a quota nothing is judged.
        let r = report(wall, Ok(Duration::from_millis(61)), None, None, 2);
        assert_eq!((r.cpu_ms, r.ratio, r.decided), (61.0, 0.203, None));
    }

    #[test]
    fn a_clock_error_decides_nothing() {
        let e = report(
            Duration::from_millis(300),
            Err(nix::errno::Errno::EINVAL),
            Some(Q),
            None,
            2,
        );
        assert_eq!((e.ratio, e.over_quota, e.decided), (0.0, None, Some(false)));
        assert!(e.error.unwrap().contains("EINVAL"));
    }

    #[test]
    fn cpu_stat_of_both_versions() {
        assert_eq!(
            CpuStat::parse("usage_usec 61234\nuser_usec 61000\nnr_periods 4\nnr_throttled 3\nthrottled_usec 1\n"),
            Some(CpuStat { nr_periods: 4, nr_throttled: 3, usage_us: Some(61234) })
        );
        assert_eq!(
            CpuStat::parse("nr_periods 7\nnr_throttled 5\nthrottled_time 412345678\n"),
            Some(CpuStat {
                nr_periods: 7,
                nr_throttled: 5,
                usage_us: None
            })
        );
        // v2 without the cpu controller: usage only, no bandwidth counters.
        assert_eq!(CpuStat::parse("usage_usec 5\nuser_usec 5\n"), None);
    }

    #[test]
    fn an_unlimited_loop_spins_for_its_wall_time() {
        // The process clock counts every thread of the test harness too:
        // only the sandbox, single-threaded, makes the ratio the loop's own.
        let r = busy_loop(20, None, None);
        assert!(r.wall_ms >= 20.0, "{r:?}");
        assert!(r.cpu_ms > 0.0 && r.error.is_none(), "{r:?}");
    }

    #[test]
    fn with_a_quota_the_loop_stops_once_over_it() {
        // No cgroup here: the process is unlimited, so it is over the quota
        // as soon as it has had ~40 ms of CPU, long before max_ms.
        let r = busy_loop(10, Some(20_000), Some(Q));
        assert_eq!((r.over_quota, r.decided), (Some(true), Some(true)), "{r:?}");
        assert!(r.wall_ms < 20_000.0, "{r:?}");
    }

    #[test]
    fn a_wait_for_the_cpu_after_the_loop_does_not_undo_its_verdict() {
        // The loop ends just over what 1 ms per 10 ms allows; 60 ms without
        // a CPU after it (a busy host) would have the quota allow 6 ms more
        // than the loop got, were the clocks read again.
        let r = busy_loop_then(10, Some(20_000), Some(SMALL), || {
            std::thread::sleep(Duration::from_millis(60))
        });
        assert_eq!((r.over_quota, r.decided), (Some(true), Some(true)), "{r:?}");
    }
}
