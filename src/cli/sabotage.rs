//! `isocheck sabotage`: runs the whole suite once per sabotage of the
//! catalogue (`runtime::sabotage`) and checks that every case a sabotage
//! must break is `fail` (or the `error` the catalogue names), none `pass`
//! and none `skip`.
//!
//! Each run is this binary re-executed as `isocheck run` with
//! `ISOCHECK_SABOTAGE=<name>`, which its helpers, rootless workers and
//! sandboxes inherit; its report.json says, case by case, which sabotage
//! steps really ran (`observed.sabotage_fired`). A first run without any
//! sabotage is the baseline: a case it skips, or does not pass, proves
//! nothing under a sabotage either.
//!
//! Exit status: 0 every sabotage exercised here was caught and every
//! property is broken by one (or excused); 1 a sabotage was not caught,
//! or a property is uncovered; 2 bad usage, or a binary built without the
//! feature; 3 a run could not be made or read.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{EXIT_BROKEN, EXIT_HARNESS, EXIT_OK, EXIT_USAGE};
use crate::model::result::{CaseResult, Outcome, ReasonKind, Report};
use crate::runtime::sabotage::{self, Entry, Expected};
use crate::suite::catalog::Breaks;

#[derive(clap::Args)]
pub struct SabotageArgs {
    /// Sabotages to run (default: the whole catalogue).
    #[arg(value_name = "NAME")]
    names: Vec<String>,
    /// Print the catalogue, one sabotage a line with the properties it
    /// breaks, and run nothing.
    #[arg(long)]
    list: bool,
    /// With --list: the catalogue as JSON.
    #[arg(long)]
    json: bool,
    /// Where the runs' reports, logs and `sabotage.json` go.
    #[arg(long, value_name = "DIR", default_value = "reports/sabotage")]
    out: PathBuf,
    /// Pairs of cases each run runs at once.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
}

/// What became of one case a sabotage must break.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum CaseVerdict {
    /// The step ran with the bug and the case showed it.
    Caught { outcome: String, note: String },
    /// The step ran with the bug and the case did not show it as the
    /// catalogue says (a pass, a skip, an unexpected error).
    NotCaught { outcome: String, why: String },
    /// The step did not run here, or the case cannot run here.
    NotExercised { why: String },
}

#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Caught,
    NotCaught,
    NotExercised,
}

impl Status {
    fn as_str(&self) -> &'static str {
        match self {
            Status::Caught => "caught",
            Status::NotCaught => "NOT CAUGHT",
            Status::NotExercised => "not exercised here",
        }
    }
}

#[derive(Serialize, Clone, Debug)]
pub struct CaseRow {
    pub case: String,
    pub expected: Expected,
    #[serde(flatten)]
    pub verdict: CaseVerdict,
}

#[derive(Serialize, Clone, Debug)]
pub struct SabotageResult {
    pub name: String,
    pub step: String,
    pub bug: String,
    pub status: Status,
    /// The step ran with the bug somewhere in the run.
    pub fired: bool,
    pub cases: Vec<CaseRow>,
    /// Test cases outside the list that failed or errored under this
    /// sabotage but passed in the baseline (for the catalogue's reader).
    pub also_broke: Vec<String>,
    pub report: PathBuf,
}

/// Whether the step of `name` ran with its bug in this case; `None` when
/// the case has no observation (it never got as far as a sandbox).
fn fired_in(case: &CaseResult, name: &str) -> Option<bool> {
    if case.observed.is_null() {
        return None;
    }
    Some(
        case.observed
            .get("sabotage_fired")
            .and_then(|v| v.as_array())
            .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(name))),
    )
}

/// The test's own expectations held, whatever its control did: a pass, or
/// an error only because the control was blind or could not run.
fn test_held(case: &CaseResult) -> bool {
    match case.outcome {
        Outcome::Pass => true,
        Outcome::Error => case
            .reason
            .as_ref()
            .is_some_and(|r| matches!(r.kind, ReasonKind::BlindProbe | ReasonKind::ControlErrored)),
        _ => false,
    }
}

fn reason(case: &CaseResult) -> String {
    case.reason
        .as_ref()
        .map(|r| format!("{}: {}", r.kind, r.detail))
        .unwrap_or_default()
}

/// Judges one listed case: `base` from the baseline run, `run` from the
/// sabotaged one; `fired_anywhere` whether the step ran anywhere in it.
pub fn judge_case(
    entry: &Entry,
    expected: Expected,
    base: Option<&CaseResult>,
    run: Option<&CaseResult>,
    fired_anywhere: bool,
) -> CaseVerdict {
    let not_exercised = |why: String| CaseVerdict::NotExercised { why };
    let (Some(base), Some(run)) = (base, run) else {
        return not_exercised("the suites of this build have no such case".into());
    };
    if base.outcome == Outcome::Skip {
        return not_exercised(format!("skipped here without sabotage ({})", reason(base)));
    }
    if !test_held(base) {
        return CaseVerdict::NotCaught {
            outcome: run.outcome.as_str().into(),
            why: format!(
                "inconclusive: the case is {} without sabotage ({})",
                base.outcome.as_str(),
                reason(base)
            ),
        };
    }
    // Null when the case did not get as far as a sandbox: then the run as
    // a whole tells whether the step ran, or a requirement that the
    // baseline met and the sabotaged run could not decide: its probe
    // sandbox went through the broken step (requirement probes run the
    // same runtime core) and the case is an error, never a skip.
    let requirement_broke = run.outcome == Outcome::Error
        && run
            .reason
            .as_ref()
            .is_some_and(|r| r.kind == ReasonKind::HarnessFailed)
        && base.requirements.iter().all(|r| r.met)
        && run.requirements.iter().any(|r| !r.met);
    let fired = fired_in(run, entry.name).unwrap_or(fired_anywhere || requirement_broke);
    if run.outcome == Outcome::Skip {
        return CaseVerdict::NotCaught {
            outcome: "skip".into(),
            why: format!("the sabotage turned a pass into a skip ({})", reason(run)),
        };
    }
    if !fired {
        return not_exercised(format!(
            "the step did not run with the bug in this case (outcome {}){}",
            run.outcome.as_str(),
            if entry.runs_only.is_empty() {
                String::new()
            } else {
                format!(" (catalogue: the step matters {})", entry.runs_only)
            }
        ));
    }
    if test_held(run) {
        return CaseVerdict::NotCaught {
            outcome: run.outcome.as_str().into(),
            why: if run.outcome == Outcome::Pass {
                "the case passed with the bug in place".into()
            } else {
                format!(
                    "the test's expectations held with the bug in place ({})",
                    reason(run)
                )
            },
        };
    }
    match (run.outcome, expected) {
        (Outcome::Fail, Expected::Fail) => CaseVerdict::Caught {
            outcome: "fail".into(),
            note: String::new(),
        },
        (Outcome::Fail, Expected::Error) => CaseVerdict::Caught {
            outcome: "fail".into(),
            note: "fail where the catalogue expects error (shows more)".into(),
        },
        (Outcome::Error, Expected::Error) => CaseVerdict::Caught {
            outcome: "error".into(),
            note: reason(run),
        },
        (Outcome::Error, Expected::Fail) => CaseVerdict::NotCaught {
            outcome: "error".into(),
            why: format!("error where the catalogue expects fail ({})", reason(run)),
        },
        (o, _) => CaseVerdict::NotCaught {
            outcome: o.as_str().into(),
            why: "the case passed with the bug in place".into(),
        },
    }
}

/// Judges one sabotage's run against the baseline.
pub fn judge(b: &Breaks, baseline: &Report, run: &Report, report: PathBuf) -> SabotageResult {
    let entry = b.entry;
    let test_case = |r: &'_ Report, case: &str| {
        let id = format!("{case}/test");
        r.cases.iter().find(|c| c.id == id).cloned()
    };
    let fired = run
        .cases
        .iter()
        .any(|c| fired_in(c, entry.name) == Some(true));
    let cases: Vec<CaseRow> = b
        .breaks
        .iter()
        .map(|(case, expected)| CaseRow {
            case: case.clone(),
            expected: *expected,
            verdict: judge_case(
                entry,
                *expected,
                test_case(baseline, case).as_ref(),
                test_case(run, case).as_ref(),
                fired,
            ),
        })
        .collect();
    let status = if cases
        .iter()
        .any(|c| matches!(c.verdict, CaseVerdict::NotCaught { .. }))
    {
        Status::NotCaught
    } else if cases
        .iter()
        .any(|c| matches!(c.verdict, CaseVerdict::Caught { .. }))
    {
        Status::Caught
    } else {
        Status::NotExercised
    };
    let listed: Vec<String> = b.breaks.iter().map(|(c, _)| format!("{c}/test")).collect();
    let also_broke = run
        .cases
        .iter()
        .filter(|c| c.id.ends_with("/test") && !listed.contains(&c.id))
        .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Error) && !test_held(c))
        .filter(|c| baseline.cases.iter().any(|b| b.id == c.id && test_held(b)))
        .map(|c| format!("{} {}", c.id.trim_end_matches("/test"), c.outcome.as_str()))
        .collect();
    SabotageResult {
        name: entry.name.into(),
        step: entry.step.into(),
        bug: entry.bug.into(),
        status,
        fired,
        cases,
        also_broke,
        report,
    }
}

/// Properties of `props` that no sabotage of `all` breaks and none excuses.
pub fn uncovered(props: &[String], all: &[Breaks]) -> Vec<String> {
    props
        .iter()
        .filter(|p| {
            !all.iter().any(|b| b.properties().contains(&p.as_str()))
                && !sabotage::EXCUSED.iter().any(|(id, _)| id == p)
        })
        .cloned()
        .collect()
}

fn list(json: bool, all: &[Breaks]) -> u8 {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "catalogue": all,
                "excused": sabotage::EXCUSED,
            }))
            .unwrap_or_default()
        );
        return EXIT_OK;
    }
    for b in all {
        // Each property once, with the modes it is broken in.
        let mut by_prop: Vec<(&str, Vec<String>)> = Vec::new();
        for (case, expected) in &b.breaks {
            let (p, mode) = case.split_once('/').unwrap_or((case, ""));
            let m = match expected {
                Expected::Fail => mode.to_string(),
                Expected::Error => format!("{mode}:error"),
            };
            match by_prop.iter_mut().find(|(q, _)| *q == p) {
                Some((_, ms)) => ms.push(m),
                None => by_prop.push((p, vec![m])),
            }
        }
        let props: Vec<String> = by_prop
            .iter()
            .map(|(p, ms)| format!("{p} ({})", ms.join(",")))
            .collect();
        println!("{:<26} {}", b.entry.name, props.join(", "));
    }
    for (p, why) in sabotage::EXCUSED {
        println!("{:<26} no sabotage can break {p}: {why}", "(excused)");
    }
    EXIT_OK
}

/// How many times a sabotage runs while its result is undecided.
const RUNS_WHEN_UNDECIDED: u32 = 3;

/// Whether `r` is not caught only through errors where fails are wanted:
/// the runs decided nothing, so running again may.
fn undecided(r: &SabotageResult) -> bool {
    r.status == Status::NotCaught
        && r.cases.iter().all(|c| match &c.verdict {
            CaseVerdict::NotCaught { outcome, .. } => outcome == "error",
            _ => true,
        })
}

/// Runs `isocheck run` with `name` active (none: the baseline) into
/// `dir`, and reads its report.
fn run_once(name: Option<&str>, dir: &Path, jobs: usize) -> Result<(Report, PathBuf), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find its own binary: {e}"))?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let log_path = dir.join("run.log");
    let log =
        std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut cmd = Command::new(&exe);
    cmd.arg("run")
        .arg("--out")
        .arg(dir)
        .arg("--jobs")
        .arg(jobs.to_string())
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    match name {
        Some(n) => cmd.env(sabotage::ENV, n),
        None => cmd.env_remove(sabotage::ENV),
    };
    let status = cmd
        .status()
        .map_err(|e| format!("starting {}: {e}", exe.display()))?;
    if status.code() == Some(i32::from(EXIT_USAGE)) || status.code().is_none() {
        return Err(format!(
            "`isocheck run` ended with {status} (see {})",
            log_path.display()
        ));
    }
    let report_path = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path().join("report.json"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "`isocheck run` ({status}) wrote no report.json below {} (see {})",
                dir.display(),
                log_path.display()
            )
        })?;
    let report = crate::report::json::read_report(&report_path).map_err(|e| e.to_string())?;
    Ok((report, report_path))
}

fn print_result(r: &SabotageResult) {
    println!("{:<26} {:<18} {}", r.name, r.status.as_str(), r.step);
    for c in &r.cases {
        let (what, detail) = match &c.verdict {
            CaseVerdict::Caught { outcome, note } => (format!("caught ({outcome})"), note.clone()),
            CaseVerdict::NotCaught { outcome, why } => {
                (format!("NOT CAUGHT ({outcome})"), why.clone())
            }
            CaseVerdict::NotExercised { why } => ("not exercised".to_string(), why.clone()),
        };
        println!(
            "    {:<42} want {:<5} {:<18} {}",
            c.case,
            c.expected.as_str(),
            what,
            detail
        );
    }
    if !r.also_broke.is_empty() {
        println!("    also broke: {}", r.also_broke.join(", "));
    }
}

pub fn run(a: SabotageArgs) -> u8 {
    if !sabotage::ENABLED {
        eprintln!(
            "isocheck: this binary was built without the feature `sabotage`; build it with `cargo build --release --features sabotage`"
        );
        return EXIT_USAGE;
    }
    // What each sabotage breaks is said by the built-in rows.
    let builtin = match crate::suite::table::builtin() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("isocheck: {e}");
            return EXIT_USAGE;
        }
    };
    let all = crate::suite::catalog::breaks(&builtin);
    if a.list {
        return list(a.json, &all);
    }
    let mut chosen: Vec<&Breaks> = Vec::new();
    for n in &a.names {
        match all.iter().find(|b| b.entry.name == n.as_str()) {
            Some(b) => chosen.push(b),
            None => {
                eprintln!("isocheck: no sabotage named `{n}` (`isocheck sabotage --list`)");
                return EXIT_USAGE;
            }
        }
    }
    if chosen.is_empty() {
        chosen = all.iter().collect();
    }
    let props: Vec<String> = builtin.into_iter().map(|p| p.id).collect();
    let missing = uncovered(&props, &all);
    println!("baseline: the suite without sabotage");
    let (baseline, base_path) = match run_once(None, &a.out.join("baseline"), a.jobs) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("isocheck: baseline: {e}");
            return EXIT_HARNESS;
        }
    };
    let s = &baseline.summary;
    println!(
        "baseline: {} pass, {} fail, {} skip, {} error ({})",
        s.pass,
        s.fail,
        s.skip,
        s.error,
        base_path.display()
    );
    let mut results = Vec::new();
    let mut harness = Vec::new();
    for b in &chosen {
        let e = b.entry;
        // An error where a fail is wanted is undecided (a measurement the
        // load left inconclusive), never a verdict: the sabotage runs again,
        // up to RUNS_WHEN_UNDECIDED times. A pass with the bug in place is
        // final at once.
        let mut outcome = None;
        for attempt in 1..=RUNS_WHEN_UNDECIDED {
            let dir = match attempt {
                1 => a.out.join(e.name),
                n => a.out.join(format!("{}.run{n}", e.name)),
            };
            match run_once(Some(e.name), &dir, a.jobs) {
                Ok((report, path)) => {
                    let r = judge(b, &baseline, &report, path);
                    let again = undecided(&r) && attempt < RUNS_WHEN_UNDECIDED;
                    if again {
                        println!(
                            "{:<26} undecided (an error where a fail is wanted): run {} of {}",
                            e.name,
                            attempt + 1,
                            RUNS_WHEN_UNDECIDED
                        );
                    }
                    outcome = Some(Ok(r));
                    if !again {
                        break;
                    }
                }
                Err(err) => {
                    outcome = Some(Err(err));
                    break;
                }
            }
        }
        match outcome {
            Some(Ok(r)) => {
                print_result(&r);
                results.push(r);
            }
            Some(Err(err)) => {
                eprintln!("isocheck: sabotage {}: {err}", e.name);
                harness.push(format!("{}: {err}", e.name));
            }
            None => {}
        }
    }
    // A property is proven here when a case of it caught a sabotage.
    let mut proven: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &results {
        for c in &r.cases {
            if matches!(c.verdict, CaseVerdict::Caught { .. }) {
                let p = c.case.split('/').next().unwrap_or(&c.case).to_string();
                let v = proven.entry(p).or_default();
                if !v.contains(&r.name) {
                    v.push(r.name.clone());
                }
            }
        }
    }
    let unproven: Vec<&String> = props.iter().filter(|p| !proven.contains_key(*p)).collect();
    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    println!();
    println!("{:<26} outcome", "sabotage");
    for r in &results {
        println!("{:<26} {}", r.name, r.status.as_str());
    }
    println!(
        "\n{} sabotages: {} caught, {} not caught, {} not exercised here{}",
        results.len(),
        count(Status::Caught),
        count(Status::NotCaught),
        count(Status::NotExercised),
        if harness.is_empty() {
            String::new()
        } else {
            format!(", {} could not run", harness.len())
        }
    );
    if !missing.is_empty() {
        println!(
            "properties no sabotage breaks and none excuses: {}",
            missing.join(", ")
        );
    }
    if !unproven.is_empty() && chosen.len() == all.len() {
        let u: Vec<&str> = unproven.iter().map(|s| s.as_str()).collect();
        println!(
            "properties no caught sabotage proved here: {}",
            u.join(", ")
        );
    }
    let summary = serde_json::json!({
        "baseline": base_path,
        "sabotages": results,
        "could_not_run": harness,
        "uncovered_properties": missing,
        "proven_properties": proven,
        "unproven_properties": unproven,
        "excused": sabotage::EXCUSED,
    });
    let path = a.out.join("sabotage.json");
    if let Err(e) = crate::sys::outdir::write_file(
        &path,
        (serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n").as_bytes(),
    ) {
        eprintln!("isocheck: writing {}: {e}", path.display());
        return EXIT_HARNESS;
    }
    println!("summary: {}", path.display());
    if !harness.is_empty() {
        EXIT_HARNESS
    } else if count(Status::NotCaught) > 0 || !missing.is_empty() {
        EXIT_BROKEN
    } else {
        EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::result::{Mode, Reason, Variant};

    fn case(outcome: Outcome, fired: Option<&[&str]>) -> CaseResult {
        CaseResult {
            id: "pid.pid1/rootful/test".into(),
            property: "pid.pid1".into(),
            area: "pid".into(),
            mode: Mode::Rootful,
            variant: Variant::Test,
            outcome,
            reason: (outcome == Outcome::Skip)
                .then(|| Reason::new(ReasonKind::NeedsRoot, "not root")),
            description: String::new(),
            tags: Vec::new(),
            expected: serde_json::Value::Null,
            observed: match fired {
                None => serde_json::Value::Null,
                Some(f) => serde_json::json!({ "sabotage_fired": f }),
            },
            requirements: Vec::new(),
            duration_ms: 0.0,
        }
    }

    const N: &str = "ns-pid-dropped";
    const P: &Entry = &sabotage::CATALOGUE[0];

    #[test]
    fn a_fail_where_the_step_ran_is_caught() {
        let v = judge_case(
            P,
            Expected::Fail,
            Some(&case(Outcome::Pass, Some(&[]))),
            Some(&case(Outcome::Fail, Some(&[N]))),
            true,
        );
        assert!(matches!(v, CaseVerdict::Caught { .. }), "{v:?}");
    }

    #[test]
    fn only_errors_where_fails_are_wanted_leave_a_sabotage_undecided() {
        let row = |verdict: CaseVerdict| CaseRow {
            case: "p/rootful".into(),
            expected: Expected::Fail,
            verdict,
        };
        let not_caught = |outcome: &str| {
            row(CaseVerdict::NotCaught {
                outcome: outcome.into(),
                why: String::new(),
            })
        };
        let caught = row(CaseVerdict::Caught {
            outcome: "fail".into(),
            note: String::new(),
        });
        let result = |status: Status, cases: Vec<CaseRow>| SabotageResult {
            name: "x".into(),
            step: String::new(),
            bug: String::new(),
            status,
            fired: true,
            cases,
            also_broke: Vec::new(),
            report: PathBuf::new(),
        };
        assert!(undecided(&result(
            Status::NotCaught,
            vec![not_caught("error"), caught.clone()]
        )));
        // A pass with the bug in place is final: no second run hides it.
        assert!(!undecided(&result(
            Status::NotCaught,
            vec![not_caught("error"), not_caught("pass")]
        )));
        assert!(!undecided(&result(
            Status::NotCaught,
            vec![not_caught("skip")]
        )));
        assert!(!undecided(&result(Status::Caught, vec![caught])));
    }

    #[test]
    fn a_pass_with_the_bug_in_place_is_not_caught() {
        let v = judge_case(
            P,
            Expected::Fail,
            Some(&case(Outcome::Pass, Some(&[]))),
            Some(&case(Outcome::Pass, Some(&[N]))),
            true,
        );
        assert!(matches!(v, CaseVerdict::NotCaught { .. }), "{v:?}");
    }

    #[test]
    fn a_step_that_never_ran_is_not_exercised_whatever_the_outcome() {
        for o in [Outcome::Pass, Outcome::Fail] {
            let v = judge_case(
                P,
                Expected::Fail,
                Some(&case(Outcome::Pass, Some(&[]))),
                Some(&case(o, Some(&["other"]))),
                false,
            );
            assert!(matches!(v, CaseVerdict::NotExercised { .. }), "{v:?}");
        }
    }

    #[test]
    fn skips_are_not_exercised_only_when_the_baseline_skips_too() {
        let v = judge_case(
            P,
            Expected::Fail,
            Some(&case(Outcome::Skip, None)),
            Some(&case(Outcome::Skip, None)),
            true,
        );
        assert!(matches!(v, CaseVerdict::NotExercised { .. }), "{v:?}");
        let v = judge_case(
            P,
            Expected::Fail,
            Some(&case(Outcome::Pass, Some(&[]))),
            Some(&case(Outcome::Skip, None)),
            true,
        );
        assert!(
            matches!(v, CaseVerdict::NotCaught { ref outcome, .. } if outcome == "skip"),
            "{v:?}"
        );
    }

    #[test]
    fn errors_count_only_where_the_catalogue_names_them() {
        let base = case(Outcome::Pass, Some(&[]));
        let err = case(Outcome::Error, Some(&[N]));
        assert!(matches!(
            judge_case(P, Expected::Error, Some(&base), Some(&err), true),
            CaseVerdict::Caught { .. }
        ));
        assert!(matches!(
            judge_case(P, Expected::Fail, Some(&base), Some(&err), true),
            CaseVerdict::NotCaught { .. }
        ));
        let fail = case(Outcome::Fail, Some(&[N]));
        assert!(matches!(
            judge_case(P, Expected::Error, Some(&base), Some(&fail), true),
            CaseVerdict::Caught { .. }
        ));
    }

    #[test]
    fn a_blind_control_is_no_catch_and_no_excuse() {
        let mut blind = case(Outcome::Error, Some(&[N]));
        blind.reason = Some(Reason::new(ReasonKind::BlindProbe, "control blind"));
        let base = case(Outcome::Pass, Some(&[]));
        // Under the sabotage: the test held, so the bug went unseen.
        assert!(matches!(
            judge_case(P, Expected::Error, Some(&base), Some(&blind), true),
            CaseVerdict::NotCaught { .. }
        ));
        // In the baseline: the test held, so a fail under the bug counts.
        let fail = case(Outcome::Fail, Some(&[N]));
        assert!(matches!(
            judge_case(P, Expected::Fail, Some(&blind), Some(&fail), true),
            CaseVerdict::Caught { .. }
        ));
    }

    #[test]
    fn a_baseline_that_does_not_pass_makes_the_case_inconclusive() {
        let v = judge_case(
            P,
            Expected::Fail,
            Some(&case(Outcome::Fail, Some(&[]))),
            Some(&case(Outcome::Fail, Some(&[N]))),
            true,
        );
        assert!(
            matches!(v, CaseVerdict::NotCaught { ref why, .. } if why.contains("inconclusive")),
            "{v:?}"
        );
    }

    #[test]
    fn the_builtin_suites_are_covered() {
        let builtin = crate::suite::table::builtin().unwrap();
        let all = crate::suite::catalog::breaks(&builtin);
        let props: Vec<String> = builtin.into_iter().map(|p| p.id).collect();
        assert_eq!(uncovered(&props, &all), Vec::<String>::new());
        assert_eq!(
            uncovered(&["no.such".to_string()], &all),
            vec!["no.such".to_string()]
        );
    }

    #[test]
    fn fired_in_reads_the_observation_and_none_without_one() {
        assert_eq!(fired_in(&case(Outcome::Error, None), N), None);
        assert_eq!(fired_in(&case(Outcome::Pass, Some(&[])), N), Some(false));
        assert_eq!(
            fired_in(&case(Outcome::Pass, Some(&["other", N])), N),
            Some(true)
        );
        let mut c = case(Outcome::Pass, None);
        c.observed = serde_json::json!({ "probe": { "sabotage_fired": [N] } });
        assert_eq!(fired_in(&c, N), Some(false), "only the top-level record");
        c.observed = serde_json::json!({ "sabotage_fired": N });
        assert_eq!(fired_in(&c, N), Some(false), "a list, not a string");
    }

    #[test]
    fn a_test_held_when_it_passed_or_only_its_control_broke() {
        assert!(test_held(&case(Outcome::Pass, None)));
        for o in [Outcome::Fail, Outcome::Skip, Outcome::Error] {
            assert!(!test_held(&case(o, None)), "{o:?}");
        }
        for (kind, held) in [
            (ReasonKind::BlindProbe, true),
            (ReasonKind::ControlErrored, true),
            (ReasonKind::HarnessFailed, false),
            (ReasonKind::SetupFailed, false),
        ] {
            let mut c = case(Outcome::Error, None);
            c.reason = Some(Reason::new(kind, "x"));
            assert_eq!(test_held(&c), held, "{kind:?}");
        }
    }

    #[test]
    fn a_reason_reads_kind_and_detail() {
        let mut c = case(Outcome::Error, None);
        assert_eq!(reason(&c), "");
        c.reason = Some(Reason::new(ReasonKind::BlindProbe, "control saw nothing"));
        assert_eq!(reason(&c), "blind-probe: control saw nothing");
    }

    #[test]
    fn a_case_missing_from_either_run_is_not_exercised() {
        let pass = case(Outcome::Pass, Some(&[]));
        let fail = case(Outcome::Fail, Some(&[N]));
        for (base, run) in [(None, Some(&fail)), (Some(&pass), None), (None, None)] {
            let v = judge_case(P, Expected::Fail, base, run, true);
            assert!(
                matches!(v, CaseVerdict::NotExercised { ref why } if why.contains("no such case")),
                "{v:?}"
            );
        }
    }

    #[test]
    fn a_requirement_the_sabotage_broke_counts_as_the_step_firing() {
        let req = |met| crate::model::result::RequirementCheck {
            requirement: "userns".into(),
            met,
            probe: "unshare".into(),
            observed: String::new(),
        };
        let mut base = case(Outcome::Pass, Some(&[]));
        base.requirements = vec![req(true)];
        // No observation: the case never reached a sandbox.
        let mut run = case(Outcome::Error, None);
        run.reason = Some(Reason::new(ReasonKind::HarnessFailed, "probe broke"));
        run.requirements = vec![req(false)];
        let v = judge_case(P, Expected::Error, Some(&base), Some(&run), false);
        assert!(
            matches!(v, CaseVerdict::Caught { ref outcome, .. } if outcome == "error"),
            "{v:?}"
        );
        // A requirement the baseline did not meet either proves nothing.
        base.requirements = vec![req(false)];
        let v = judge_case(P, Expected::Error, Some(&base), Some(&run), false);
        assert!(matches!(v, CaseVerdict::NotExercised { .. }), "{v:?}");
    }

    #[test]
    fn a_fail_where_error_was_expected_is_caught_with_a_note() {
        let v = judge_case(
            P,
            Expected::Error,
            Some(&case(Outcome::Pass, Some(&[]))),
            Some(&case(Outcome::Fail, Some(&[N]))),
            true,
        );
        assert_eq!(
            v,
            CaseVerdict::Caught {
                outcome: "fail".into(),
                note: "fail where the catalogue expects error (shows more)".into()
            }
        );
    }

    #[test]
    fn the_status_words_of_the_table() {
        assert_eq!(Status::Caught.as_str(), "caught");
        assert_eq!(Status::NotCaught.as_str(), "NOT CAUGHT");
        assert_eq!(Status::NotExercised.as_str(), "not exercised here");
    }

    /// A sabotage that must break `uts.hostname` in both modes.
    fn uts() -> Breaks {
        const ENTRY: &Entry = &Entry {
            name: "test-uts",
            ..sabotage::CATALOGUE[0]
        };
        Breaks {
            entry: ENTRY,
            breaks: vec![
                ("uts.hostname/rootful".into(), Expected::Fail),
                ("uts.hostname/rootless".into(), Expected::Fail),
            ],
        }
    }

    fn at(id: &str, outcome: Outcome, fired: Option<&[&str]>) -> CaseResult {
        let mut c = case(outcome, fired);
        let mut parts = id.split('/');
        c.id = id.into();
        c.property = parts.next().unwrap().into();
        c.area = c.property.split('.').next().unwrap().into();
        c.mode = if parts.next() == Some("rootless") {
            Mode::Rootless
        } else {
            Mode::Rootful
        };
        c.variant = if parts.next() == Some("control") {
            Variant::Control
        } else {
            Variant::Test
        };
        c
    }

    fn report(cases: Vec<CaseResult>) -> Report {
        let mut r = crate::report::testing::sample_report();
        r.cases = cases;
        r
    }

    fn baseline() -> Report {
        report(vec![
            at("uts.hostname/rootful/test", Outcome::Pass, Some(&[])),
            at("uts.hostname/rootless/test", Outcome::Pass, Some(&[])),
            at("uts.hostname/rootful/control", Outcome::Pass, Some(&[])),
            at("pid.pid1/rootful/test", Outcome::Pass, Some(&[])),
            at("net.empty/rootful/test", Outcome::Skip, None),
        ])
    }

    #[test]
    fn one_case_not_caught_makes_the_sabotage_not_caught() {
        let f: &[&str] = &["test-uts"];
        let run = report(vec![
            at("uts.hostname/rootful/test", Outcome::Fail, Some(f)),
            at("uts.hostname/rootless/test", Outcome::Pass, Some(f)),
            at("uts.hostname/rootful/control", Outcome::Fail, Some(f)),
            at("pid.pid1/rootful/test", Outcome::Fail, Some(&[])),
            at("net.empty/rootful/test", Outcome::Error, None),
        ]);
        let r = judge(&uts(), &baseline(), &run, "r.json".into());
        assert_eq!(
            (r.name.as_str(), r.status.clone(), r.fired),
            ("test-uts", Status::NotCaught, true)
        );
        let verdicts: Vec<(&str, bool)> = r
            .cases
            .iter()
            .map(|c| {
                (
                    c.case.as_str(),
                    matches!(c.verdict, CaseVerdict::Caught { .. }),
                )
            })
            .collect();
        assert_eq!(
            verdicts,
            [
                ("uts.hostname/rootful", true),
                ("uts.hostname/rootless", false)
            ]
        );
        // Broken outside the list, and passing in the baseline: a test case
        // only, and never one the baseline skipped.
        assert_eq!(r.also_broke, ["pid.pid1/rootful fail"]);
        assert_eq!(r.report, PathBuf::from("r.json"));
    }

    #[test]
    fn every_listed_case_caught_is_caught_and_none_fired_is_not_exercised() {
        let f: &[&str] = &["test-uts"];
        let run = report(vec![
            at("uts.hostname/rootful/test", Outcome::Fail, Some(f)),
            at("uts.hostname/rootless/test", Outcome::Fail, Some(f)),
            at("pid.pid1/rootful/test", Outcome::Pass, Some(&[])),
        ]);
        let r = judge(&uts(), &baseline(), &run, "r.json".into());
        assert_eq!((r.status, r.fired), (Status::Caught, true));
        assert!(r.also_broke.is_empty(), "{:?}", r.also_broke);
        let run = report(vec![
            at("uts.hostname/rootful/test", Outcome::Pass, Some(&[])),
            at("uts.hostname/rootless/test", Outcome::Fail, Some(&[])),
        ]);
        let r = judge(&uts(), &baseline(), &run, "r.json".into());
        assert_eq!((r.status, r.fired), (Status::NotExercised, false));
    }
}
