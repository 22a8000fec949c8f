//! What `isocheck bench` measured, as one document (`reports/bench/<host>.json`,
//! [`BenchDocument`]) and as a table a person reads ([`render`]): each
//! variant's samples summed up as median, min and max ([`Stats`]), its
//! ratio to the in-process set-up floor, the whole suite's runs, and the
//! performance targets checked against the figures ([`targets`]).

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::versioned::Document;
use crate::model::result::Summary;

/// `reports/bench/<host>.json`.
pub type BenchDocument = Document<BenchBody>;

/// One `isocheck bench` run.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
pub struct BenchBody {
    /// The command line that made these figures.
    pub command: Vec<String>,
    pub host: BenchHost,
    /// Rounds; each timed every measured variant once, interleaved.
    pub rounds: u32,
    /// The variant the others are divided by (`floor-setup`).
    pub reference: String,
    pub variants: Vec<BenchVariant>,
    /// The whole default suite, run `--suite-runs` times after the rounds.
    pub suite: SuiteFigures,
    pub targets: Vec<Target>,
}

/// What makes figures comparable over time.
#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
pub struct BenchHost {
    pub hostname: String,
    /// `uname -r`.
    pub kernel: String,
    /// CPUs this process may run on.
    pub cpus: usize,
    /// `/proc/loadavg`'s 1, 5 and 15 minute averages when the bench began.
    pub load_start: [f64; 3],
    /// The same when it ended.
    pub load_end: [f64; 3],
    /// UTC, RFC 3339.
    pub started_at: String,
}

/// Whether a variant was measured.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum VariantStatus {
    /// Every round timed it and checked its output.
    Measured,
    /// The peer is not on this host (not a failure).
    Absent,
    /// It ran but failed, or its output was not the check's: its note
    /// says how. The bench exits 3.
    Failed,
}

/// One thing timed in every round.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
pub struct BenchVariant {
    /// Stable name, e.g. `case`, `floor-setup`, `crun`.
    pub id: String,
    /// What one sample covers.
    pub what: String,
    pub status: VariantStatus,
    /// Why absent or failed; the peer's version when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Absent when nothing was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// Median over the reference's median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

/// Median, minimum and maximum of samples, in milliseconds.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, JsonSchema)]
pub struct Stats {
    pub samples: usize,
    /// The middle of the sorted samples (of an even count, the upper of
    /// the two middle ones: always a time that was measured).
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

impl Stats {
    /// The samples' figures; none of no samples.
    pub fn of(samples: &[Duration]) -> Option<Stats> {
        let mut v = samples.to_vec();
        v.sort();
        let ms = |d: &Duration| d.as_secs_f64() * 1e3;
        Some(Stats {
            samples: v.len(),
            median_ms: ms(v.get(v.len() / 2)?),
            min_ms: ms(v.first()?),
            max_ms: ms(v.last()?),
        })
    }
}

/// `a / b`, none when `b` is not a positive time.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

/// The whole default suite, run as `isocheck run` in a process of its own.
#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
pub struct SuiteFigures {
    /// The arguments after `isocheck`.
    pub command: Vec<String>,
    pub runs: Vec<SuiteRun>,
    /// Wall time of the runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall: Option<Stats>,
    /// User plus system CPU of each run's whole process tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Stats>,
    /// The highest peak RSS of the runner process over the runs, KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kib: Option<u64>,
}

/// One run of the whole suite.
#[derive(Serialize, Deserialize, Clone, Debug, Default, JsonSchema)]
pub struct SuiteRun {
    pub wall_ms: f64,
    /// CPU time of the runner and every process under it that was waited
    /// for (helpers, sandboxes, probes).
    pub user_ms: f64,
    pub sys_ms: f64,
    /// The runner process's own VmHWM, KiB (not its sandboxes').
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_kib: Option<u64>,
    pub exit_code: i32,
    pub summary: Summary,
    /// The median of the cases' own durations inside the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_median_ms: Option<f64>,
}

/// A performance target checked against this run's figures.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct Target {
    /// What is compared, e.g. `case / floor-setup`.
    pub what: String,
    pub measured: f64,
    /// The figure must be at most this.
    pub at_most: f64,
    pub unit: String,
    pub met: bool,
}

impl BenchBody {
    /// The measured median of variant `id`.
    pub fn median(&self, id: &str) -> Option<f64> {
        self.variants
            .iter()
            .find(|v| v.id == id && v.status == VariantStatus::Measured)
            .and_then(|v| v.stats)
            .map(|s| s.median_ms)
    }

    /// Fills each variant's ratio to the reference's median.
    pub fn set_ratios(&mut self) {
        let reference = self.median(&self.reference.clone());
        for v in &mut self.variants {
            v.ratio = match (v.stats, reference) {
                (Some(s), Some(r)) => ratio(s.median_ms, r),
                _ => None,
            };
        }
    }
}

/// The targets this body has the figures for: per-case cost within 1.3x
/// of the set-up floor; a one-case run at most half of `crun run` and
/// below `unshare(1)` + chroot; start-up under 15 ms; the suite under
/// 1.0 s wall; the runner's peak RSS under 20 MiB.
pub fn targets(b: &BenchBody) -> Vec<Target> {
    let mut out = Vec::new();
    let mut add = |what: &str, measured: Option<f64>, at_most: f64, unit: &str| {
        if let Some(m) = measured {
            out.push(Target {
                what: what.into(),
                measured: m,
                at_most,
                unit: unit.into(),
                met: m <= at_most,
            });
        }
    };
    let per = |a: &str, r: &str| b.median(a).zip(b.median(r)).and_then(|(a, r)| ratio(a, r));
    add("case / floor-setup", per("case", "floor-setup"), 1.3, "x");
    add("one-case-run / crun", per("one-case-run", "crun"), 0.5, "x");
    add(
        "one-case-run / unshare-chroot",
        per("one-case-run", "unshare-chroot"),
        1.0,
        "x",
    );
    add("startup (isocheck list)", b.median("startup"), 15.0, "ms");
    add(
        "whole suite, wall (quiet machine)",
        b.suite.wall.map(|s| s.median_ms / 1e3),
        1.0,
        "s",
    );
    add(
        "runner peak RSS",
        b.suite.peak_rss_kib.map(|k| k as f64 / 1024.0),
        20.0,
        "MiB",
    );
    out
}

/// The table `isocheck bench` prints.
pub fn render(b: &BenchBody) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let h = &b.host;
    let load = |l: &[f64; 3]| format!("{:.2} {:.2} {:.2}", l[0], l[1], l[2]);
    let _ = writeln!(
        s,
        "isocheck bench: {} on {} ({} cpus), {} rounds, variants interleaved; load {} -> {}",
        h.kernel,
        h.hostname,
        h.cpus,
        b.rounds,
        load(&h.load_start),
        load(&h.load_end)
    );
    let _ = writeln!(
        s,
        "  {:<16} {:>10} {:>9} {:>9} {:>13}",
        "variant",
        "median ms",
        "min",
        "max",
        format!("/ {}", b.reference)
    );
    for v in &b.variants {
        match (v.status, v.stats) {
            (VariantStatus::Measured, Some(st)) => {
                let _ = writeln!(
                    s,
                    "  {:<16} {:>10.3} {:>9.3} {:>9.3} {:>13}",
                    v.id,
                    st.median_ms,
                    st.min_ms,
                    st.max_ms,
                    v.ratio.map_or("-".into(), |r| format!("{r:.2}x")),
                );
            }
            (status, _) => {
                let word = match status {
                    VariantStatus::Absent => "absent",
                    _ => "FAILED",
                };
                let _ = writeln!(s, "  {:<16} {:>10}", v.id, word);
            }
        }
    }
    let _ = writeln!(s, "variants:");
    for v in &b.variants {
        let _ = writeln!(
            s,
            "  {}: {}{}",
            v.id,
            v.what,
            v.note
                .as_deref()
                .map_or(String::new(), |n| format!(" [{n}]"))
        );
    }
    let su = &b.suite;
    if !su.runs.is_empty() {
        let _ = writeln!(
            s,
            "whole suite, {} run(s) of `isocheck {}`:",
            su.runs.len(),
            su.command.join(" ")
        );
        for (i, r) in su.runs.iter().enumerate() {
            let _ = writeln!(
                s,
                "  run {}: wall {:.0} ms, cpu {:.0} ms (user {:.0} + sys {:.0}), runner peak RSS {}, exit {}, {} cases ({} pass, {} fail, {} skip, {} error), case median {}",
                i + 1,
                r.wall_ms,
                r.user_ms + r.sys_ms,
                r.user_ms,
                r.sys_ms,
                r.peak_rss_kib
                    .map_or("unknown".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
                r.exit_code,
                r.summary.total,
                r.summary.pass,
                r.summary.fail,
                r.summary.skip,
                r.summary.error,
                r.case_median_ms
                    .map_or("-".into(), |m| format!("{m:.1} ms"))
            );
        }
        if let (Some(w), Some(c)) = (su.wall, su.cpu) {
            let _ = writeln!(
                s,
                "  median wall {:.0} ms (min {:.0}, max {:.0}), median cpu {:.0} ms",
                w.median_ms, w.min_ms, w.max_ms, c.median_ms
            );
        }
    }
    if !b.targets.is_empty() {
        let _ = writeln!(s, "targets:");
        for t in &b.targets {
            let _ = writeln!(
                s,
                "  {:<36} {:>8.3} {:<3} (at most {} {}) {}",
                t.what,
                t.measured,
                t.unit,
                t.at_most,
                t.unit,
                if t.met { "met" } else { "NOT MET" }
            );
        }
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn stats_are_the_median_min_and_max_of_the_samples() {
        assert_eq!(Stats::of(&[]), None, "no figures of nothing");
        let s = Stats::of(&ms(&[7])).unwrap();
        assert_eq!(
            (s.samples, s.median_ms, s.min_ms, s.max_ms),
            (1, 7.0, 7.0, 7.0)
        );
        let s = Stats::of(&ms(&[9, 1, 5])).unwrap();
        assert_eq!((s.median_ms, s.min_ms, s.max_ms), (5.0, 1.0, 9.0));
        // An even count takes the upper of the two middle values.
        assert_eq!(Stats::of(&ms(&[4, 1, 3, 2])).unwrap().median_ms, 3.0);
        // One outlier moves the max, not the median.
        let s = Stats::of(&ms(&[2, 2, 3, 2, 10_000])).unwrap();
        assert_eq!((s.median_ms, s.max_ms, s.samples), (2.0, 10_000.0, 5));
        let s = Stats::of(&[Duration::from_micros(1500)]).unwrap();
        assert!((s.median_ms - 1.5).abs() < 1e-9);
    }

    #[test]
    fn a_ratio_needs_a_positive_divisor() {
        assert_eq!(ratio(3.0, 1.5), Some(2.0));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(1.0, -1.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
    }

    fn variant(id: &str, median: Option<f64>, status: VariantStatus) -> BenchVariant {
        BenchVariant {
            id: id.into(),
            what: format!("the {id}"),
            status,
            note: None,
            stats: median.map(|m| Stats {
                samples: 3,
                median_ms: m,
                min_ms: m / 2.0,
                max_ms: m * 2.0,
            }),
            ratio: None,
        }
    }

    pub(crate) fn sample_body() -> BenchBody {
        let mut b = BenchBody {
            command: vec!["isocheck".into(), "bench".into()],
            host: BenchHost {
                hostname: "box".into(),
                kernel: "6.18.0".into(),
                cpus: 2,
                load_start: [0.5, 0.4, 0.3],
                load_end: [0.6, 0.4, 0.3],
                started_at: "2026-01-01T00:00:00Z".into(),
            },
            rounds: 3,
            reference: "floor-setup".into(),
            variants: vec![
                variant("case", Some(2.8), VariantStatus::Measured),
                variant("floor-setup", Some(1.4), VariantStatus::Measured),
                variant("crun", Some(20.0), VariantStatus::Measured),
                variant("one-case-run", Some(30.0), VariantStatus::Measured),
                variant("runc", None, VariantStatus::Absent),
                variant("startup", Some(12.0), VariantStatus::Measured),
            ],
            suite: SuiteFigures {
                command: vec!["run".into()],
                runs: vec![SuiteRun {
                    wall_ms: 1800.0,
                    user_ms: 300.0,
                    sys_ms: 900.0,
                    peak_rss_kib: Some(9728),
                    exit_code: 0,
                    summary: Summary::default(),
                    case_median_ms: Some(6.0),
                }],
                wall: Stats::of(&[Duration::from_millis(1800)]),
                cpu: Stats::of(&[Duration::from_millis(1200)]),
                peak_rss_kib: Some(9728),
            },
            targets: vec![],
        };
        b.set_ratios();
        b.targets = targets(&b);
        b
    }

    #[test]
    fn ratios_and_targets_come_from_the_medians() {
        let b = sample_body();
        let r = |id: &str| b.variants.iter().find(|v| v.id == id).unwrap().ratio;
        assert_eq!(r("case"), Some(2.0));
        assert_eq!(r("floor-setup"), Some(1.0));
        assert_eq!(r("runc"), None, "absent: no ratio");
        let t = |what: &str| b.targets.iter().find(|t| t.what == what).cloned();
        let case = t("case / floor-setup").unwrap();
        assert_eq!((case.measured, case.met), (2.0, false));
        let crun = t("one-case-run / crun").unwrap();
        assert_eq!((crun.measured, crun.met), (1.5, false));
        assert!(t("startup (isocheck list)").unwrap().met);
        assert!(
            t("one-case-run / unshare-chroot").is_none(),
            "no unshare figure"
        );
        let wall = t("whole suite, wall (quiet machine)").unwrap();
        assert_eq!((wall.measured, wall.met), (1.8, false));
        let rss = t("runner peak RSS").unwrap();
        assert_eq!((rss.measured, rss.met), (9.5, true));
    }

    #[test]
    fn the_table_shows_every_variant_and_target() {
        let text = render(&sample_body());
        assert!(text.contains("6.18.0 on box (2 cpus), 3 rounds"), "{text}");
        assert!(
            text.contains("load 0.50 0.40 0.30 -> 0.60 0.40 0.30"),
            "{text}"
        );
        let case = text
            .lines()
            .find(|l| l.trim_start().starts_with("case "))
            .unwrap();
        assert!(case.contains("2.800") && case.contains("2.00x"), "{case}");
        let runc = text.lines().find(|l| l.contains("runc")).unwrap();
        assert!(runc.contains("absent"), "{runc}");
        assert!(text.contains("  crun: the crun\n"), "the legend: {text}");
        assert!(text.contains("runner peak RSS 9.5 MiB"), "{text}");
        assert!(text.contains("NOT MET") && text.contains(" met"), "{text}");
    }
}
