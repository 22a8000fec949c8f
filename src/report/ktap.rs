//! KTAP version 1 (the kernel's Test Anything Protocol,
//! `Documentation/dev-tools/ktap.rst`), for kernel CI systems that read
//! kselftest and KUnit output.
//!
//! ```text
//! KTAP version 1
//! # isocheck 0.1.0: kernel 6.1.0-43-amd64, leg 6.1.0-43-amd64-hybrid
//! 1..2
//!   KTAP version 1
//!   # Subtest: pid
//!   1..2
//!   ok 1 pid.pid1/rootful/test
//!   ok 2 pid.pid1/rootful/control
//! ok 1 pid
//!   KTAP version 1
//!   # Subtest: net
//!   1..1
//!   ok 1 net.empty/rootless/test # SKIP sysctl-policy: kernel.unprivileged_userns_clone = 0
//! ok 2 net # SKIP
//! # Totals: pass:2 fail:0 xfail:0 xpass:0 skip:1 error:0
//! ```
//!
//! One nested test per area, in the order the run met the areas, each
//! case one result line named by its id. `skip` is `ok ... # SKIP` with
//! the typed reason; `fail` is `not ok` with the failed expectations as
//! diagnostic lines just before it; `error` is `not ok ... # ERROR` (or
//! `# TIMEOUT`) with its reason, kept apart from a broken promise. An area
//! fails when one of its cases fails or errs, and is skipped when all its
//! cases are. Nesting indents by two spaces, as the specification says;
//! nothing a report holds can break a line or forge a result: text is
//! escaped onto one line and `#` never appears in a test name.

use std::fmt::Write;

use super::text::{by_area, failed_expectations, one_line};
use crate::model::result::{CaseResult, Outcome, ReasonKind, Report, Summary};

/// One level of nesting.
const INDENT: &str = "  ";

/// A test name: one line, without the `#` that would start a directive.
fn name(s: &str) -> String {
    one_line(s).replace('#', "_")
}

/// The result line of one case, and the diagnostic lines before it.
fn case_lines(out: &mut String, number: usize, case: &CaseResult) {
    let reason = case
        .reason
        .as_ref()
        .map(|r| one_line(&r.to_string()).into_owned());
    let id = name(&case.id);
    if !case.tags.is_empty() {
        let _ = writeln!(
            out,
            "{INDENT}# {id}: tags: {}",
            one_line(&case.tags.join(", "))
        );
    }
    let line = match case.outcome {
        Outcome::Pass => format!("ok {number} {id}"),
        Outcome::Skip => format!(
            "ok {number} {id} # SKIP {}",
            reason.as_deref().unwrap_or("skip")
        ),
        Outcome::Fail => {
            for what in failed_expectations(&case.expected) {
                let _ = writeln!(out, "{INDENT}# {id}: expected {what}");
            }
            match &reason {
                Some(r) => format!("not ok {number} {id} # {r}"),
                None => format!("not ok {number} {id}"),
            }
        }
        Outcome::Error => {
            for what in failed_expectations(&case.expected) {
                let _ = writeln!(out, "{INDENT}# {id}: expected {what}");
            }
            let directive = match case.reason.as_ref().map(|r| r.kind) {
                Some(ReasonKind::Timeout) => "TIMEOUT",
                _ => "ERROR",
            };
            format!(
                "not ok {number} {id} # {directive} {}",
                reason.as_deref().unwrap_or("error")
            )
        }
    };
    if case.outcome == Outcome::Skip {
        if let Some(hint) = case.reason.as_ref().and_then(|r| r.hint.as_deref()) {
            let _ = writeln!(out, "{INDENT}# {id}: hint: {}", one_line(hint));
        }
    }
    let _ = writeln!(out, "{INDENT}{line}");
}

/// Renders a report as a KTAP version 1 document.
pub fn render(report: &Report) -> String {
    let mut out = String::from("KTAP version 1\n");
    let _ = writeln!(
        out,
        "# {} {}: kernel {}, leg {}, started {}",
        name(&report.tool.name),
        name(&report.tool.version),
        name(&report.host.kernel.release),
        name(&super::matrix::leg_name(report)),
        name(&report.started_at),
    );
    if let Some(signal) = &report.interrupted {
        let _ = writeln!(out, "# stopped by {}: partial results", name(signal));
    }
    let areas = by_area(&report.cases);
    let _ = writeln!(out, "1..{}", areas.len());
    for (number, (area, cases)) in areas.iter().enumerate() {
        let number = number + 1;
        let area = name(area);
        let _ = writeln!(out, "{INDENT}KTAP version 1");
        let _ = writeln!(out, "{INDENT}# Subtest: {area}");
        let _ = writeln!(out, "{INDENT}1..{}", cases.len());
        for (n, case) in cases.iter().enumerate() {
            case_lines(&mut out, n + 1, case);
        }
        let s = Summary::of(cases.iter().copied());
        let _ = if s.fail + s.error > 0 {
            writeln!(out, "not ok {number} {area}")
        } else if s.skip == s.total {
            writeln!(out, "ok {number} {area} # SKIP")
        } else {
            writeln!(out, "ok {number} {area}")
        };
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "# Totals: pass:{} fail:{} xfail:0 xpass:0 skip:{} error:{}",
        s.pass, s.fail, s.skip, s.error
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{sample_report, HOSTILE};
    use serde_json::json;

    #[test]
    fn ktap_snapshot() {
        let text = render(&sample_report());
        insta::with_settings!({filters => vec![
            (r"isocheck [0-9.]+: kernel [^,]*, leg [^,]*, started \S*", "isocheck [version]: kernel [release], leg [leg], started [started_at]"),
        ]}, {
            insta::assert_snapshot!(text);
        });
    }

    /// The structure a KTAP reader sees: every line is a version, a plan,
    /// a result or a diagnostic, numbers count from 1 at each level, and
    /// each plan matches the results that follow it.
    #[test]
    fn every_line_is_ktap_and_every_plan_holds() {
        let report = sample_report();
        let text = render(&report);
        let mut lines = text.lines().peekable();
        assert_eq!(lines.next(), Some("KTAP version 1"));
        // Per level: the plan and the results counted so far.
        let mut levels: Vec<(usize, usize)> = Vec::new();
        let mut top_plan = None;
        let mut results = Vec::new();
        for line in lines {
            let depth = (line.len() - line.trim_start().len()) / INDENT.len();
            let body = line.trim_start();
            if body.starts_with('#') {
                continue;
            }
            if body == "KTAP version 1" {
                assert_eq!(depth, 1, "{line}");
                levels.push((0, 0));
            } else if let Some(n) = body.strip_prefix("1..") {
                let n: usize = n.parse().unwrap();
                match levels.last_mut() {
                    Some(l) if depth == 1 => l.0 = n,
                    _ => top_plan = Some(n),
                }
            } else {
                let (ok, rest) = match body.strip_prefix("not ok ") {
                    Some(rest) => (false, rest),
                    None => (true, body.strip_prefix("ok ").expect(line)),
                };
                let number: usize = rest.split(' ').next().unwrap().parse().unwrap();
                if depth == 1 {
                    let level = levels.last_mut().unwrap();
                    level.1 += 1;
                    assert_eq!(number, level.1, "{line}");
                    results.push((ok, rest.to_string()));
                } else {
                    let (plan, seen) = levels.pop().unwrap();
                    assert_eq!(plan, seen, "{line}");
                    assert_eq!(number, levels.len() + 1, "{line}");
                    levels.push((usize::MAX, usize::MAX));
                }
            }
        }
        assert_eq!(top_plan, Some(levels.len()));
        assert_eq!(results.len(), report.cases.len());
        for ((ok, rest), case) in results.iter().zip(&report.cases) {
            assert!(rest.contains(&case.id), "{rest}");
            assert_eq!(
                *ok,
                matches!(case.outcome, Outcome::Pass | Outcome::Skip),
                "{rest}"
            );
            assert_eq!(
                rest.contains("# SKIP "),
                case.outcome == Outcome::Skip,
                "{rest}"
            );
            assert_eq!(
                rest.contains("# ERROR ") || rest.contains("# TIMEOUT "),
                case.outcome == Outcome::Error,
                "{rest}"
            );
        }
    }

    #[test]
    fn a_skip_carries_its_typed_reason_and_an_area_all_skipped_is_skipped() {
        let text = render(&sample_report());
        assert!(text.contains(
            "\n  ok 1 net.empty/rootless/test # SKIP sysctl-policy: kernel.unprivileged_userns_clone = 0\n"
        ));
        assert!(text.contains("\nok 3 net # SKIP\n"), "{text}");
        assert!(text.contains("\nnot ok 2 uts\n"), "{text}");
        assert!(text.contains("\nok 1 pid\n"), "{text}");
        assert!(text.ends_with("# Totals: pass:7 fail:2 xfail:0 xpass:0 skip:1 error:2\n"));
    }

    #[test]
    fn a_failure_says_which_expectation_failed_and_not_the_whole_observation() {
        let mut report = sample_report();
        let pids: Vec<u32> = (1000..1105).collect();
        let case = &mut report.cases[4];
        assert_eq!(case.outcome, Outcome::Fail);
        case.expected = json!([
            {"ok": true, "what": "probe.self_pid eq 1", "got": 1},
            {"ok": false, "what": "probe.pids len 1", "got": pids},
        ]);
        case.observed = json!({"pids": pids, "secret": "whole observation"});
        let text = render(&report);
        let diag = text
            .lines()
            .find(|l| {
                l.contains("# uts.hostname/rootful/test: expected probe.pids len 1: got [1000,")
            })
            .unwrap_or_else(|| panic!("{text}"));
        assert!(diag.len() < 300, "{diag}");
        assert!(!text.contains("whole observation"));
        assert!(!text.contains("probe.self_pid"), "only what failed");
    }

    #[test]
    fn hostile_text_cannot_break_a_line_or_forge_a_result() {
        let mut report = sample_report();
        report.cases[4].reason.as_mut().unwrap().detail = format!("{HOSTILE}\nok 99 forged # SKIP");
        report.cases[0].id = "pid.pid1#x/rootful/test".into();
        let text = render(&report);
        assert!(!text.lines().any(|l| l.trim_start().starts_with("ok 99")));
        assert!(text.contains("ok 1 pid.pid1_x/rootful/test\n"), "{text}");
    }

    #[test]
    fn an_empty_report_has_an_empty_plan() {
        let mut report = sample_report();
        report.cases.clear();
        report.summary = Summary::default();
        let text = render(&report);
        assert!(text.starts_with("KTAP version 1\n"));
        assert!(text.contains("\n1..0\n"), "{text}");
    }
}
