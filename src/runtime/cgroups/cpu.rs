//! The cpu controller: CPU bandwidth (a quota of CPU time per period) as
//! a table writes it, as v2 `cpu.max` and v1 `cpu.cfs_quota_us` and
//! `cpu.cfs_period_us` carry it, and the throttling counters of `cpu.stat`.

use super::{flat_keyed, parse_limit};

use crate::model::cgroup::CpuMax;

/// The line written to cpu.max: `<quota> <period>`, `max` for no quota.
pub fn cpu_max_line(cpu: &CpuMax) -> String {
    match cpu.quota_us {
        Some(q) => format!("{q} {}", cpu.period_us),
        None => format!("max {}", cpu.period_us),
    }
}

/// Parses cpu.max back: (quota, period), `u64::MAX` for `max`.
pub fn parse_cpu_max(text: &str) -> (Option<u64>, Option<u64>) {
    let mut it = text.split_whitespace();
    (
        it.next().and_then(parse_limit),
        it.next().and_then(|p| p.parse().ok()),
    )
}

/// Reads cpu.stat: (nr_periods, nr_throttled, throttled microseconds).
/// v2 reports `throttled_usec`; v1 `throttled_time` in nanoseconds.
pub fn cpu_stat(text: &str) -> (Option<u64>, Option<u64>, Option<u64>) {
    let throttled = flat_keyed(text, "throttled_usec")
        .or_else(|| flat_keyed(text, "throttled_time").map(|ns| ns / 1_000));
    (
        flat_keyed(text, "nr_periods"),
        flat_keyed(text, "nr_throttled"),
        throttled,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::SandboxSpec;
    use rstest::rstest;

    #[rstest]
    #[case::short_period("cpu_max = { quota_us = 10000, period_us = 500 }", "period_us: 500")]
    #[case::long_period(
        "cpu_max = { quota_us = 10000, period_us = 2000000 }",
        "period_us: 2000000"
    )]
    #[case::tiny_quota("cpu_max = { quota_us = 999 }", "quota_us: 999")]
    fn a_sandbox_with_a_bandwidth_the_kernel_refuses_is_refused(
        #[case] cgroup: &str,
        #[case] msg: &str,
    ) {
        let spec: SandboxSpec = toml::from_str(&format!(
            "namespaces = [\"mount\"]\ncgroup = {{ {cgroup} }}"
        ))
        .unwrap();
        let err = spec.validate().unwrap_err();
        assert!(
            err.contains(msg) && err.starts_with("cgroup.cpu_max."),
            "{err}"
        );
    }

    #[test]
    fn the_period_defaults_to_100_ms_and_no_quota_is_max() {
        let c: CpuMax = toml::from_str("quota_us = 10000").unwrap();
        assert_eq!(cpu_max_line(&c), "10000 100000");
        let unlimited: CpuMax = toml::from_str("").unwrap();
        assert_eq!(cpu_max_line(&unlimited), "max 100000");
        unlimited.validate().unwrap();
        assert_eq!(
            parse_cpu_max("max 100000\n"),
            (Some(u64::MAX), Some(100_000))
        );
        assert_eq!(parse_cpu_max("10000 50000"), (Some(10_000), Some(50_000)));
    }

    #[test]
    fn cpu_stat_reads_v2_microseconds_and_v1_nanoseconds() {
        assert_eq!(
            cpu_stat("usage_usec 5\nnr_periods 4\nnr_throttled 3\nthrottled_usec 1200\n"),
            (Some(4), Some(3), Some(1200))
        );
        assert_eq!(
            cpu_stat("nr_periods 4\nnr_throttled 3\nthrottled_time 1200000\n"),
            (Some(4), Some(3), Some(1200))
        );
        assert_eq!(cpu_stat(""), (None, None, None));
    }
}
