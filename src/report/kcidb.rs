//! KernelCI's KCIDB I/O format (schema version 4.5), for submitting
//! isocheck's results next to other kernel test systems'.
//!
//! Reports become one document: a checkout per kernel release (isocheck
//! tests a built kernel, so the release stands for the source it came
//! from), a build per release and architecture, and a test per case and
//! leg. The culprit decides the status as KCIDB defines it: `fail` (the
//! kernel broke the promise) is `FAIL`; `error` (isocheck or the
//! environment broke) is `ERROR`, or `MISS` for a case a stopped run never
//! ran; `skip` is `SKIP`; `pass` is `PASS`. A test's path is
//! `isocheck.<property>.<mode>.<variant>`; its log excerpt holds the
//! reason and the expectations that did not hold, never the observation.

use serde_json::{json, Map, Value};

use super::text::{cut, failed_expectations};
use crate::model::result::{CaseResult, Outcome, ReasonKind, Report};

/// The CI system's name in every id.
pub const ORIGIN: &str = "isocheck";
/// The KCIDB I/O schema version written.
pub const VERSION: (u32, u32) = (4, 5);
/// At most this many bytes of a test's log excerpt (the schema allows
/// 16384).
const EXCERPT_LIMIT: usize = 4096;

/// `s` with every character a KCIDB test path does not allow made `_`.
fn path_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn release(report: &Report) -> &str {
    match report.host.kernel.release.as_str() {
        "" => "unknown-kernel",
        r => r,
    }
}

fn checkout_id(report: &Report) -> String {
    format!("{ORIGIN}:{}", release(report))
}

fn build_id(report: &Report) -> String {
    format!("{ORIGIN}:{}-{}", release(report), report.host.arch)
}

/// The KCIDB status of a case.
pub fn status(case: &CaseResult) -> &'static str {
    match case.outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Skip => "SKIP",
        Outcome::Error => match case.reason.as_ref().map(|r| r.kind) {
            Some(ReasonKind::Interrupted) => "MISS",
            _ => "ERROR",
        },
    }
}

fn test(report: &Report, leg: &str, case: &CaseResult) -> Value {
    let host = &report.host;
    let who = if host.hostname.is_empty() {
        leg.to_string()
    } else {
        format!("{}/{leg}", host.hostname)
    };
    let mut t = Map::new();
    t.insert("build_id".into(), build_id(report).into());
    t.insert("id".into(), format!("{ORIGIN}:{who}/{}", case.id).into());
    t.insert("origin".into(), ORIGIN.into());
    t.insert(
        "path".into(),
        format!(
            "{ORIGIN}.{}.{}.{}",
            path_part(&case.property),
            case.mode,
            case.variant
        )
        .into(),
    );
    t.insert(
        "environment".into(),
        json!({
            "comment": format!(
                "{who}: {}, cgroup {}",
                if host.distro.pretty_name.is_empty() { "unknown distro" } else { &host.distro.pretty_name },
                host.cgroup.layout.as_str()
            ),
            "misc": {
                "hostname": host.hostname,
                "leg": leg,
                "cgroup_layout": host.cgroup.layout.as_str(),
                "labels": report.labels,
            },
        }),
    );
    t.insert("status".into(), status(case).into());
    t.insert("waived".into(), false.into());
    if !case.description.is_empty() {
        t.insert("comment".into(), case.description.clone().into());
    }
    if !report.started_at.is_empty() {
        t.insert("start_time".into(), report.started_at.clone().into());
    }
    if case.duration_ms.is_finite() && case.duration_ms >= 0.0 {
        t.insert("duration".into(), json!(case.duration_ms / 1000.0));
    }
    if let Some(reason) = &case.reason {
        let mut excerpt = reason.to_string();
        if case.outcome == Outcome::Fail && !case.tags.is_empty() {
            excerpt.push_str("\ntags: ");
            excerpt.push_str(&case.tags.join(", "));
        }
        for what in failed_expectations(&case.expected) {
            excerpt.push_str("\nexpected ");
            excerpt.push_str(&what);
        }
        if let Some(hint) = &reason.hint {
            excerpt.push_str("\nhint: ");
            excerpt.push_str(hint);
        }
        t.insert(
            "log_excerpt".into(),
            cut(&excerpt, EXCERPT_LIMIT).into_owned().into(),
        );
    }
    t.insert(
        "misc".into(),
        json!({
            "case": case.id,
            "outcome": case.outcome,
            "reason": case.reason,
            "tags": case.tags,
            "tool_version": report.tool.version,
        }),
    );
    Value::Object(t)
}

/// The reports as one KCIDB I/O document.
pub fn render(reports: &[Report]) -> Value {
    let mut checkouts: Vec<Value> = Vec::new();
    let mut builds: Vec<Value> = Vec::new();
    let mut tests: Vec<Value> = Vec::new();
    for report in reports {
        let checkout = checkout_id(report);
        if !checkouts.iter().any(|c| c["id"] == checkout.as_str()) {
            let mut c = Map::new();
            c.insert("id".into(), checkout.clone().into());
            c.insert("origin".into(), ORIGIN.into());
            c.insert(
                "comment".into(),
                format!("Linux {} ({})", release(report), report.host.kernel.version).into(),
            );
            if !report.started_at.is_empty() {
                c.insert("start_time".into(), report.started_at.clone().into());
            }
            c.insert("valid".into(), true.into());
            checkouts.push(Value::Object(c));
        }
        let build = build_id(report);
        if !builds.iter().any(|b| b["id"] == build.as_str()) {
            let mut b = Map::new();
            b.insert("checkout_id".into(), checkout.into());
            b.insert("id".into(), build.into());
            b.insert("origin".into(), ORIGIN.into());
            if !report.host.arch.is_empty() {
                b.insert("architecture".into(), report.host.arch.clone().into());
            }
            b.insert("comment".into(), report.host.kernel.version.clone().into());
            b.insert("valid".into(), true.into());
            builds.push(Value::Object(b));
        }
        let leg = super::matrix::leg_name(report);
        tests.extend(report.cases.iter().map(|c| test(report, &leg, c)));
    }
    json!({
        "version": { "major": VERSION.0, "minor": VERSION.1 },
        "checkouts": checkouts,
        "builds": builds,
        "tests": tests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{sample_report, sample_report_newer};

    #[test]
    fn fail_and_error_stay_apart_as_kcidb_keeps_them() {
        let report = sample_report();
        let doc = render(std::slice::from_ref(&report));
        let tests = doc["tests"].as_array().unwrap();
        assert_eq!(tests.len(), report.cases.len());
        for (t, c) in tests.iter().zip(&report.cases) {
            let want = match c.outcome {
                Outcome::Pass => "PASS",
                Outcome::Fail => "FAIL",
                Outcome::Skip => "SKIP",
                Outcome::Error => "ERROR",
            };
            assert_eq!(t["status"], want, "{}", c.id);
            assert_eq!(t["misc"]["outcome"], c.outcome.as_str());
        }
        let mut stopped = report.clone();
        stopped.cases[0].outcome = Outcome::Error;
        stopped.cases[0].reason = Some(crate::model::result::Reason::new(
            ReasonKind::Interrupted,
            "the run was stopped by SIGTERM",
        ));
        assert_eq!(render(&[stopped])["tests"][0]["status"], "MISS");
    }

    #[test]
    fn ids_paths_and_the_version_follow_the_kcidb_rules() {
        let doc = render(&[sample_report(), sample_report_newer(), sample_report()]);
        assert_eq!(doc["version"], json!({"major": 4, "minor": 5}));
        // One checkout and build per kernel, however many reports.
        assert_eq!(doc["checkouts"].as_array().unwrap().len(), 2);
        assert_eq!(doc["builds"].as_array().unwrap().len(), 2);
        assert_eq!(doc["builds"][0]["checkout_id"], doc["checkouts"][0]["id"]);
        let t = &doc["tests"][0];
        assert_eq!(
            t["id"],
            "isocheck:6.1.0-43-amd64-hybrid/pid.pid1/rootful/test"
        );
        assert_eq!(t["path"], "isocheck.pid.pid1.rootful.test");
        assert_eq!(t["build_id"], "isocheck:6.1.0-43-amd64-x86_64");
        for t in doc["tests"].as_array().unwrap() {
            let id = t["id"].as_str().unwrap();
            assert!(id.starts_with("isocheck:") && !id.contains('\0'), "{id}");
            assert!(t["path"]
                .as_str()
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
            assert!(t
                .get("log_excerpt")
                .is_none_or(|e| e.as_str().unwrap().len() <= 16384));
        }
        assert_eq!(path_part("custom.a b#c"), "custom.a_b_c");
    }

    #[test]
    fn a_failure_excerpt_names_the_reason_and_what_failed_not_the_observation() {
        let mut report = sample_report();
        report.host.hostname = "node-7".into();
        let case = &mut report.cases[4];
        case.expected = json!([{"ok": false, "what": "probe.pids len 1", "got": (0..105).collect::<Vec<u32>>()}]);
        case.observed = json!({"secret": "whole observation"});
        let doc = render(&[report]);
        let t = &doc["tests"][4];
        assert_eq!(
            t["id"],
            "isocheck:node-7/6.1.0-43-amd64-hybrid/uts.hostname/rootful/test"
        );
        let excerpt = t["log_excerpt"].as_str().unwrap();
        assert!(excerpt.starts_with("promise-broken: "), "{excerpt}");
        assert!(
            excerpt.contains("\nexpected probe.pids len 1: got [0,1,2,"),
            "{excerpt}"
        );
        assert!(!doc.to_string().contains("whole observation"));
        // The tags of a broken promise: in the excerpt and in misc.
        assert!(
            excerpt.contains("\ntags: linux 2.6, CVE-2099-0001"),
            "{excerpt}"
        );
        assert_eq!(t["misc"]["tags"], json!(["linux 2.6", "CVE-2099-0001"]));
    }
}
