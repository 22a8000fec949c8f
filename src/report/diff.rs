//! The difference between two reports, case by case.
//!
//! Cases are matched by id. A change is classed as:
//! - **regression**: passed before, fails or errors now;
//! - **lost coverage**: passed or failed before, skipped now: what was
//!   tested is not any more (a skip reason the caller allows, such as a
//!   leg that takes a feature away on purpose, makes it a skip change);
//! - **fix**: failed or errored before, passes now;
//! - **skip change**: any other change to or from `skip`, or both are
//!   skips with different reason kinds;
//! - **other change**: `fail` and `error` swapped, or a fail or error kept
//!   its outcome with another reason kind;
//!
//! and cases only in the new report are **new**, only in the base
//! **vanished**. Every list is sorted by case id. Summaries are counted
//! from the cases, never taken from the files; a report that holds one
//! case id twice is refused.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;

use super::console::summary_line;
use super::matrix::leg_name;
use super::text::one_line;
use crate::model::result::{CaseResult, Outcome, Reason, ReasonKind, Report, Summary};

/// One side of a diff.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct Side {
    /// The leg name: `<kernel release>[-<labels.layout>]`.
    pub name: String,
    pub kernel_release: String,
    pub started_at: String,
    pub duration_ms: f64,
    pub summary: Summary,
}

impl Side {
    fn of(report: &Report) -> Side {
        Side {
            name: leg_name(report),
            kernel_release: report.host.kernel.release.clone(),
            started_at: report.started_at.clone(),
            duration_ms: report.duration_ms,
            summary: Summary::of(&report.cases),
        }
    }
}

/// What became of a case on one side.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct State {
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
}

impl State {
    fn of(case: &CaseResult) -> State {
        State {
            outcome: case.outcome,
            reason: case.reason.clone(),
        }
    }

    fn kind(&self) -> Option<crate::model::result::ReasonKind> {
        self.reason.as_ref().map(|r| r.kind)
    }
}

/// A case on both sides, changed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct Change {
    pub id: String,
    pub before: State,
    pub after: State,
}

/// A case on one side only.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct Lone {
    pub id: String,
    pub state: State,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct Diff {
    pub base: Side,
    pub new: Side,
    pub regressions: Vec<Change>,
    /// Cases that ran before and skip now, for a reason not allowed.
    #[serde(default)]
    pub lost_coverage: Vec<Change>,
    pub fixes: Vec<Change>,
    pub skip_changes: Vec<Change>,
    pub other_changes: Vec<Change>,
    pub new_cases: Vec<Lone>,
    pub vanished: Vec<Lone>,
}

impl Diff {
    pub fn has_regressions(&self) -> bool {
        !self.regressions.is_empty()
    }

    /// A regression or lost coverage: what makes `isocheck diff` exit 1.
    pub fn is_worse(&self) -> bool {
        self.has_regressions() || !self.lost_coverage.is_empty()
    }

    /// No case changed, appeared or vanished.
    pub fn is_empty(&self) -> bool {
        self.regressions.is_empty()
            && self.lost_coverage.is_empty()
            && self.fixes.is_empty()
            && self.skip_changes.is_empty()
            && self.other_changes.is_empty()
            && self.new_cases.is_empty()
            && self.vanished.is_empty()
    }
}

enum Class {
    Regression,
    LostCoverage,
    Fix,
    Skip,
    Other,
}

fn classify(before: &State, after: &State) -> Option<Class> {
    use Outcome::*;
    match (before.outcome, after.outcome) {
        (Pass, Fail | Error) => Some(Class::Regression),
        (Pass | Fail, Skip) => Some(Class::LostCoverage),
        (Fail | Error, Pass) => Some(Class::Fix),
        (Skip, Skip) => (before.kind() != after.kind()).then_some(Class::Skip),
        (Skip, _) | (_, Skip) => Some(Class::Skip),
        (Fail, Error) | (Error, Fail) => Some(Class::Other),
        (Fail, Fail) | (Error, Error) => (before.kind() != after.kind()).then_some(Class::Other),
        (Pass, Pass) => None,
    }
}

/// A report a diff cannot be made of.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiffError {
    #[error("the {side} report: cases[{again}].id: case `{id}` is there twice (first at cases[{first}]); a report holds each case once")]
    DuplicateCase {
        side: &'static str,
        id: String,
        first: usize,
        again: usize,
    },
}

/// What a diff lets pass.
#[derive(Clone, Debug, Default)]
pub struct DiffOptions {
    /// Skip reasons the new report may introduce: a case that ran before
    /// and skips now for one of these is a skip change, not lost coverage
    /// (a leg that takes a feature away on purpose).
    pub allowed_skips: Vec<ReasonKind>,
}

/// Compares `new` against `base`, allowing nothing.
pub fn diff(base: &Report, new: &Report) -> Result<Diff, DiffError> {
    diff_with(base, new, &DiffOptions::default())
}

/// Compares `new` against `base`.
pub fn diff_with(base: &Report, new: &Report, opts: &DiffOptions) -> Result<Diff, DiffError> {
    fn by_id<'a>(
        report: &'a Report,
        side: &'static str,
    ) -> Result<HashMap<&'a str, &'a CaseResult>, DiffError> {
        let mut map: HashMap<&str, (usize, &CaseResult)> =
            HashMap::with_capacity(report.cases.len());
        for (i, c) in report.cases.iter().enumerate() {
            if let Some((first, _)) = map.insert(c.id.as_str(), (i, c)) {
                return Err(DiffError::DuplicateCase {
                    side,
                    id: c.id.clone(),
                    first,
                    again: i,
                });
            }
        }
        Ok(map.into_iter().map(|(k, (_, c))| (k, c)).collect())
    }
    let before = by_id(base, "base")?;
    let after = by_id(new, "new")?;
    let mut d = Diff {
        base: Side::of(base),
        new: Side::of(new),
        regressions: Vec::new(),
        lost_coverage: Vec::new(),
        fixes: Vec::new(),
        skip_changes: Vec::new(),
        other_changes: Vec::new(),
        new_cases: Vec::new(),
        vanished: Vec::new(),
    };
    for (id, b) in &before {
        let Some(a) = after.get(id) else {
            d.vanished.push(Lone {
                id: id.to_string(),
                state: State::of(b),
            });
            continue;
        };
        let change = Change {
            id: id.to_string(),
            before: State::of(b),
            after: State::of(a),
        };
        match classify(&change.before, &change.after) {
            Some(Class::Regression) => d.regressions.push(change),
            Some(Class::LostCoverage)
                if change
                    .after
                    .kind()
                    .is_some_and(|k| opts.allowed_skips.contains(&k)) =>
            {
                d.skip_changes.push(change)
            }
            Some(Class::LostCoverage) => d.lost_coverage.push(change),
            Some(Class::Fix) => d.fixes.push(change),
            Some(Class::Skip) => d.skip_changes.push(change),
            Some(Class::Other) => d.other_changes.push(change),
            None => {}
        }
    }
    for (id, a) in &after {
        if !before.contains_key(id) {
            d.new_cases.push(Lone {
                id: id.to_string(),
                state: State::of(a),
            });
        }
    }
    for list in [
        &mut d.regressions,
        &mut d.lost_coverage,
        &mut d.fixes,
        &mut d.skip_changes,
        &mut d.other_changes,
    ] {
        list.sort_by(|x, y| x.id.cmp(&y.id));
    }
    d.new_cases.sort_by(|x, y| x.id.cmp(&y.id));
    d.vanished.sort_by(|x, y| x.id.cmp(&y.id));
    Ok(d)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn reason_text(r: &Reason) -> String {
    one_line(&r.to_string()).into_owned()
}

/// What the reason column says about a change: the reason now, and the
/// reason before where it differs.
fn change_reason(c: &Change) -> String {
    match (&c.before.reason, &c.after.reason) {
        (None, None) => String::new(),
        (None, Some(a)) => reason_text(a),
        (Some(b), None) => format!("was {}", reason_text(b)),
        (Some(b), Some(a)) if b == a => reason_text(a),
        (Some(b), Some(a)) => format!("{} (was {})", reason_text(a), reason_text(b)),
    }
}

/// The diff as an aligned, readable table.
pub fn render_text(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "isocheck diff: {} -> {}",
        one_line(&d.base.name),
        one_line(&d.new.name)
    );
    let _ = writeln!(
        out,
        "  base: {} ({} cases)",
        summary_line(&d.base.summary, d.base.duration_ms),
        d.base.summary.total
    );
    let _ = writeln!(
        out,
        "  new:  {} ({} cases)",
        summary_line(&d.new.summary, d.new.duration_ms),
        d.new.summary.total
    );
    let _ = writeln!(
        out,
        "{}, {} of lost coverage, {}, {}, {}, {}, {}",
        plural(d.regressions.len(), "regression", "regressions"),
        plural(d.lost_coverage.len(), "case", "cases"),
        plural(d.fixes.len(), "fix", "fixes"),
        plural(d.skip_changes.len(), "skip change", "skip changes"),
        plural(d.other_changes.len(), "other change", "other changes"),
        plural(d.new_cases.len(), "new case", "new cases"),
        plural(d.vanished.len(), "vanished case", "vanished cases"),
    );

    // One id width for every section, so the whole table lines up.
    let width = d
        .regressions
        .iter()
        .chain(&d.lost_coverage)
        .chain(&d.fixes)
        .chain(&d.skip_changes)
        .chain(&d.other_changes)
        .map(|c| c.id.len())
        .chain(d.new_cases.iter().chain(&d.vanished).map(|c| c.id.len()))
        .max()
        .unwrap_or(0);
    let row = |out: &mut String, id: &str, before: &str, after: &str, reason: &str| {
        let line = format!(
            "  {:<width$}  {:<5} -> {:<5}  {}",
            one_line(id),
            before,
            after,
            reason
        );
        let _ = writeln!(out, "{}", line.trim_end());
    };
    let changes = [
        ("regressions", &d.regressions),
        ("lost coverage (ran before, skipped now)", &d.lost_coverage),
        ("fixes", &d.fixes),
        ("skip changes", &d.skip_changes),
        ("other changes", &d.other_changes),
    ];
    for (title, list) in changes {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}:");
        for c in list {
            row(
                &mut out,
                &c.id,
                c.before.outcome.as_str(),
                c.after.outcome.as_str(),
                &change_reason(c),
            );
        }
    }
    if !d.new_cases.is_empty() {
        let _ = writeln!(out, "\nnew cases:");
        for c in &d.new_cases {
            let reason = c.state.reason.as_ref().map(reason_text).unwrap_or_default();
            row(&mut out, &c.id, "", c.state.outcome.as_str(), &reason);
        }
    }
    if !d.vanished.is_empty() {
        let _ = writeln!(out, "\nvanished cases:");
        for c in &d.vanished {
            let reason = c
                .state
                .reason
                .as_ref()
                .map(|r| format!("was {}", reason_text(r)))
                .unwrap_or_default();
            row(&mut out, &c.id, c.state.outcome.as_str(), "", &reason);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::result::{Mode, ReasonKind, Variant};
    use crate::report::testing::{case, sample_report, sample_report_newer};

    fn ids(list: &[Change]) -> Vec<&str> {
        list.iter().map(|c| c.id.as_str()).collect()
    }

    #[test]
    fn sample_diff_has_one_of_everything() {
        let d = diff(&sample_report(), &sample_report_newer()).unwrap();
        assert!(d.has_regressions());
        assert_eq!(ids(&d.regressions), ["pid.pid1/rootful/test"]);
        assert_eq!(ids(&d.fixes), ["uts.hostname/rootful/test"]);
        assert_eq!(ids(&d.skip_changes), ["net.empty/rootless/test"]);
        assert!(d.other_changes.is_empty());
        assert_eq!(d.new_cases[0].id, "time.offsets/rootless/test");
        assert_eq!(d.vanished[0].id, "cgroup.memory_oom/rootful/control");
        assert_eq!(d.base.name, "6.1.0-43-amd64-hybrid");
        assert_eq!(d.new.name, "6.12.57+deb12-amd64-unified");
    }

    #[test]
    fn a_report_against_itself_is_empty() {
        let r = sample_report();
        let d = diff(&r, &r).unwrap();
        assert!(d.is_empty());
        assert!(!d.has_regressions());
    }

    #[test]
    fn classification() {
        use Outcome::*;
        let st = |outcome, kind: Option<ReasonKind>| State {
            outcome,
            reason: kind.map(|k| Reason::new(k, "d")),
        };
        let class = |b: State, a: State| match classify(&b, &a) {
            Some(Class::Regression) => "regression",
            Some(Class::LostCoverage) => "lost",
            Some(Class::Fix) => "fix",
            Some(Class::Skip) => "skip",
            Some(Class::Other) => "other",
            None => "none",
        };
        let promise = Some(ReasonKind::PromiseBroken);
        let timeout = Some(ReasonKind::Timeout);
        let root = Some(ReasonKind::NeedsRoot);
        let policy = Some(ReasonKind::SysctlPolicy);
        assert_eq!(class(st(Pass, None), st(Fail, promise)), "regression");
        assert_eq!(class(st(Pass, None), st(Error, timeout)), "regression");
        assert_eq!(class(st(Fail, promise), st(Pass, None)), "fix");
        assert_eq!(class(st(Error, timeout), st(Pass, None)), "fix");
        assert_eq!(class(st(Pass, None), st(Skip, root)), "lost");
        assert_eq!(class(st(Fail, promise), st(Skip, policy)), "lost");
        assert_eq!(class(st(Error, timeout), st(Skip, root)), "skip");
        assert_eq!(class(st(Skip, root), st(Fail, promise)), "skip");
        assert_eq!(class(st(Skip, root), st(Skip, policy)), "skip");
        assert_eq!(class(st(Skip, root), st(Skip, root)), "none");
        assert_eq!(class(st(Fail, promise), st(Error, timeout)), "other");
        let setup = Some(ReasonKind::SetupFailed);
        assert_eq!(class(st(Error, timeout), st(Error, setup)), "other");
        assert_eq!(class(st(Error, timeout), st(Error, timeout)), "none");
        assert_eq!(class(st(Pass, None), st(Pass, None)), "none");
    }

    #[test]
    fn a_repeated_case_id_is_refused_with_where() {
        let base = sample_report();
        let mut new = base.clone();
        new.cases.push(case(
            "pid.pid1",
            Mode::Rootful,
            Variant::Test,
            Outcome::Fail,
            None,
        ));
        let again = new.cases.len() - 1;
        let first = new
            .cases
            .iter()
            .position(|c| c.id == "pid.pid1/rootful/test")
            .unwrap();
        let err = diff(&base, &new).unwrap_err();
        assert_eq!(
            err,
            DiffError::DuplicateCase {
                side: "new",
                id: "pid.pid1/rootful/test".into(),
                first,
                again
            }
        );
        assert!(err
            .to_string()
            .contains(&format!("cases[{again}].id: case `pid.pid1/rootful/test`")));
        assert!(diff(&new, &base).is_err());
    }

    #[test]
    fn summaries_are_counted_from_the_cases() {
        let mut base = sample_report();
        let truth = Summary::of(&base.cases);
        base.summary = Summary {
            total: 1,
            pass: 1,
            ..Default::default()
        };
        let d = diff(&base, &base).unwrap();
        assert_eq!((&d.base.summary, &d.new.summary), (&truth, &truth));
    }

    #[test]
    fn a_pass_that_became_a_skip_is_lost_coverage_unless_allowed() {
        let base = sample_report();
        let mut new = base.clone();
        let i = new
            .cases
            .iter()
            .position(|c| c.outcome == Outcome::Pass)
            .unwrap();
        new.cases[i].outcome = Outcome::Skip;
        new.cases[i].reason = Some(Reason::new(
            ReasonKind::SysctlPolicy,
            "user.max_user_namespaces=0",
        ));
        let id = new.cases[i].id.clone();
        let d = diff(&base, &new).unwrap();
        assert_eq!(ids(&d.lost_coverage), [id.as_str()]);
        assert!(d.is_worse() && !d.has_regressions());
        assert!(render_text(&d).contains("lost coverage (ran before, skipped now):"));
        let allowed = DiffOptions {
            allowed_skips: vec![ReasonKind::SysctlPolicy],
        };
        let d = diff_with(&base, &new, &allowed).unwrap();
        assert!(d.lost_coverage.is_empty() && !d.is_worse(), "{d:?}");
        assert_eq!(ids(&d.skip_changes), [id.as_str()]);
        // Another reason is not allowed by it.
        new.cases[i].reason = Some(Reason::new(ReasonKind::KernelLacksFeature, "x"));
        assert!(diff_with(&base, &new, &allowed).unwrap().is_worse());
    }

    fn snapshot_filters() -> Vec<(&'static str, &'static str)> {
        vec![
            (r"\d+\.\d+\.\d+\S*-(hybrid|unified)", "[release]-$1"),
            (r"in \d+\.\d+ s", "in [wall]"),
        ]
    }

    #[test]
    fn diff_text_snapshot() {
        let text = render_text(&diff(&sample_report(), &sample_report_newer()).unwrap());
        insta::with_settings!({filters => snapshot_filters()}, {
            insta::assert_snapshot!(text);
        });
    }

    #[test]
    fn empty_diff_text() {
        let r = sample_report();
        let text = render_text(&diff(&r, &r).unwrap());
        insta::with_settings!({filters => snapshot_filters()}, {
            insta::assert_snapshot!(text);
        });
    }

    #[test]
    fn diff_json_snapshot() {
        insta::assert_json_snapshot!(diff(&sample_report(), &sample_report_newer()).unwrap(), {
            ".*.name" => "[leg]",
            ".*.kernel_release" => "[release]",
            ".*.started_at" => "[started_at]",
            ".*.duration_ms" => "[ms]",
        });
    }
}
