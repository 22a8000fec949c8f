//! JUnit XML for CI systems, through `quick-junit`, valid against
//! Jenkins' `junit-10.xsd` and read by junitparser and xunitparser.
//!
//! One `<testsuite>` per area, in the order the run met the areas, named
//! `<leg>/<area>` and carrying the host's name and the run's start as
//! `hostname` and `timestamp`; one `<testcase>` per case, named by the
//! case id and the leg (`pid.pid1/rootful/test [6.1.0-43-amd64-v1]`), so
//! the files of several legs can share one CI view, with the property as
//! its class name. The leg is the `leg` label when the run has one, else
//! the kernel release and the layout label (the report directory's name).
//! `fail` becomes `<failure>`, `error` becomes `<error>`, `skip` becomes
//! `<skipped>`, each with the reason (`kind: detail`) as its message and
//! the reason kind as its type. Failures and errors carry the expectations
//! that did not hold and the observation cut to a few kilobytes, never a
//! whole observation; skips their hint. The run's facts (kernel, distro,
//! arch, cgroup layout, start, labels) are properties of the first suite
//! only: readers that merge suites refuse a property name twice. The
//! `<testsuites>` element has no `skipped` count, which the schema lacks.

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

use super::text::{by_area, failed_expectations, trimmed_json};
use crate::model::result::{CaseResult, Outcome, Report};

/// At most this many bytes of a case's observation in a failure's text.
pub const OBSERVED_LIMIT: usize = 2048;

fn duration(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64(ms / 1000.0)
    } else {
        Duration::ZERO
    }
}

/// The leg a report belongs to, as test names carry it.
pub fn leg(report: &Report) -> String {
    match report.labels.get("leg").filter(|l| !l.is_empty()) {
        Some(leg) => format!("{leg} {}", super::matrix::leg_name(report)),
        None => super::matrix::leg_name(report),
    }
}

/// What a failure or an error says beyond its message: the expectations
/// that did not hold and the observation, bounded.
fn body(case: &CaseResult) -> String {
    let mut text = String::new();
    if !case.tags.is_empty() {
        text.push_str("tags: ");
        text.push_str(&case.tags.join(", "));
        text.push('\n');
    }
    let failed = failed_expectations(&case.expected);
    if failed.is_empty() {
        text.push_str("no expectation of this case failed; the reason says what went wrong");
    } else {
        text.push_str("failed expectations:");
        for what in &failed {
            text.push_str("\n  ");
            text.push_str(what);
        }
    }
    text.push_str("\nobserved: ");
    text.push_str(&trimmed_json(&case.observed, OBSERVED_LIMIT));
    text
}

fn status(case: &CaseResult) -> TestCaseStatus {
    let mut status = match case.outcome {
        Outcome::Pass => return TestCaseStatus::success(),
        Outcome::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
        Outcome::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
        Outcome::Skip => TestCaseStatus::skipped(),
    };
    match &case.reason {
        Some(reason) => {
            status.set_message(reason.to_string());
            status.set_type(reason.kind.as_str());
        }
        None => {
            status.set_message(case.outcome.as_str());
        }
    }
    if case.outcome == Outcome::Skip {
        if let Some(hint) = case.reason.as_ref().and_then(|r| r.hint.as_ref()) {
            status.set_description(format!("hint: {hint}"));
        }
    } else {
        status.set_description(body(case));
    }
    status
}

fn test_case(case: &CaseResult, leg: &str) -> TestCase {
    let mut tc = TestCase::new(format!("{} [{leg}]", case.id), status(case));
    tc.set_classname(case.property.as_str());
    tc.set_time(duration(case.duration_ms));
    tc
}

/// Renders a report as a JUnit XML document.
pub fn render(report: &Report) -> String {
    let mut junit = quick_junit::Report::new("isocheck");
    junit.set_time(duration(report.duration_ms));
    let leg = leg(report);
    let areas = by_area(&report.cases);
    let host = &report.host;
    let hostname = if host.hostname.is_empty() {
        "unknown"
    } else {
        &host.hostname
    };
    let suites = areas.into_iter().enumerate().map(|(i, (area, cases))| {
        let mut suite = TestSuite::new(format!("{leg}/{area}"));
        suite
            .extra
            .insert("timestamp".into(), report.started_at.as_str().into());
        suite.extra.insert("hostname".into(), hostname.into());
        if i == 0 {
            suite.add_properties([
                Property::new("kernel.release", host.kernel.release.as_str()),
                Property::new("distro", host.distro.pretty_name.as_str()),
                Property::new("arch", host.arch.as_str()),
                Property::new("cgroup.layout", host.cgroup.layout.as_str()),
                Property::new("started_at", report.started_at.as_str()),
                Property::new("leg", leg.as_str()),
            ]);
            for (name, value) in &report.labels {
                suite.add_property(Property::new(format!("label.{name}"), value.as_str()));
            }
        }
        suite.set_time(duration(cases.iter().map(|c| c.duration_ms).sum()));
        suite.add_test_cases(cases.into_iter().map(|c| test_case(c, &leg)));
        suite
    });
    junit.add_test_suites(suites);
    let xml = junit
        .to_string()
        .expect("serializing JUnit XML to memory cannot fail");
    without_total_skipped(xml)
}

/// `xml` without the `skipped` attribute of its `<testsuites>` element,
/// which `quick-junit` always writes and Jenkins' schema does not allow
/// (each `<testsuite>` keeps its own).
fn without_total_skipped(mut xml: String) -> String {
    let Some(open) = xml.find("<testsuites ") else {
        return xml;
    };
    let Some(close) = xml[open..].find('>').map(|c| open + c) else {
        return xml;
    };
    if let Some(at) = xml[open..close].find(" skipped=\"").map(|a| open + a) {
        let value = at + " skipped=\"".len();
        if let Some(end) = xml[value..close].find('"').map(|e| value + e + 1) {
            xml.replace_range(at..end, "");
        }
    }
    xml
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::sample_report;
    use serde_json::json;

    #[test]
    fn junit_snapshot() {
        let xml = render(&sample_report());
        insta::with_settings!({filters => vec![
            (r#"(name="kernel\.release" value=")[^"]*""#, r#"$1[release]""#),
            (r#"(name="started_at" value=")[^"]*""#, r#"$1[started_at]""#),
            (r#"timestamp="[^"]*""#, r#"timestamp="[started_at]""#),
            (r#"time="[0-9.]+""#, r#"time="[s]""#),
        ]}, {
            insta::assert_snapshot!(xml);
        });
    }

    #[test]
    fn counts_match_the_report() {
        let report = sample_report();
        let xml = render(&report);
        let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(parsed.tests, report.summary.total);
        assert_eq!(parsed.failures, report.summary.fail);
        assert_eq!(parsed.errors, report.summary.error);
        let skipped: usize = parsed.test_suites.iter().map(|s| s.skipped).sum();
        assert_eq!(skipped, report.summary.skip);
        let names: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
        let leg = "6.1.0-43-amd64-hybrid";
        assert_eq!(
            names,
            ["pid", "uts", "net", "cgroup", "mount"].map(|a| format!("{leg}/{a}"))
        );
        let skipped = &parsed.test_suites[2].test_cases[0];
        assert_eq!(
            skipped.name.as_str(),
            format!("net.empty/rootless/test [{leg}]")
        );
        assert_eq!(
            skipped.classname.as_ref().map(|c| c.as_str()),
            Some("net.empty")
        );
        match &skipped.status {
            TestCaseStatus::Skipped { message, ty, .. } => {
                assert_eq!(
                    message.as_ref().unwrap().as_str(),
                    "sysctl-policy: kernel.unprivileged_userns_clone = 0"
                );
                assert_eq!(ty.as_ref().unwrap().as_str(), "sysctl-policy");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_totals_have_no_skipped_attribute_and_suites_keep_theirs() {
        let xml = render(&sample_report());
        let open = xml.lines().find(|l| l.starts_with("<testsuites ")).unwrap();
        assert!(!open.contains("skipped="), "{open}");
        assert!(open.contains(r#"tests="12""#), "{open}");
        assert!(xml.contains(r#"name="6.1.0-43-amd64-hybrid/net" tests="1" skipped="1""#));
    }

    #[test]
    fn each_suite_has_a_hostname_and_a_timestamp_and_no_property_name_repeats() {
        let mut report = sample_report();
        report.host.hostname = "node-7".into();
        let xml = render(&report);
        let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let mut seen = std::collections::HashSet::new();
        for suite in &parsed.test_suites {
            assert_eq!(
                suite.extra.get("hostname").map(|h| h.as_str()),
                Some("node-7")
            );
            assert!(suite.timestamp.is_some(), "a timestamp JUnit readers parse");
            for p in &suite.properties {
                assert!(
                    seen.insert(p.name.as_str().to_string()),
                    "{:?} twice",
                    p.name
                );
            }
        }
        assert!(seen.contains("kernel.release") && seen.contains("label.layout"));
        assert!(xml.contains(&format!(r#"timestamp="{}""#, report.started_at)));
        report.host.hostname.clear();
        assert!(render(&report).contains(r#"hostname="unknown""#));
    }

    #[test]
    fn the_leg_label_and_the_release_name_the_leg() {
        let mut report = sample_report();
        assert_eq!(leg(&report), "6.1.0-43-amd64-hybrid");
        report.labels.insert("leg".into(), "node-7".into());
        assert_eq!(leg(&report), "node-7 6.1.0-43-amd64-hybrid");
        assert!(render(&report)
            .contains(r#"name="pid.pid1/rootful/test [node-7 6.1.0-43-amd64-hybrid]""#));
    }

    #[test]
    fn a_failure_holds_the_failed_expectation_and_a_bounded_observation() {
        let mut report = sample_report();
        let pids: Vec<u32> = (100_000..100_105).collect();
        let case = &mut report.cases[4];
        case.expected = json!([
            {"ok": true, "what": "probe.self_pid eq 1", "got": 1},
            {"ok": false, "what": "probe.pids len 1", "got": pids},
        ]);
        case.observed = json!({"pids": pids, "maps": "x".repeat(10_000)});
        let parsed = quick_junit::Report::deserialize_from_str(&render(&report)).unwrap();
        let TestCaseStatus::NonSuccess { description, .. } =
            &parsed.test_suites[1].test_cases[0].status
        else {
            panic!("not a failure");
        };
        let text = description.as_ref().unwrap().as_str();
        // A tagged property's failure names its tags first.
        let text = text
            .strip_prefix("tags: linux 2.6, CVE-2099-0001\n")
            .unwrap_or_else(|| panic!("no tags line: {text}"));
        assert!(
            text.starts_with("failed expectations:\n  probe.pids len 1: got [100000,"),
            "{text}"
        );
        assert!(!text.contains("probe.self_pid"), "only what failed: {text}");
        assert!(text.contains("\nobserved: {"), "{text}");
        assert!(text.len() < OBSERVED_LIMIT + 600, "{} bytes", text.len());
        assert!(text.ends_with("bytes more)"), "{text}");
    }

    #[test]
    fn hostile_strings_survive_as_text() {
        let xml = render(&sample_report());
        assert!(!xml.contains("<script>"));
        let parsed = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        let failed = &parsed.test_suites[1].test_cases[0];
        match &failed.status {
            TestCaseStatus::NonSuccess { message, .. } => assert_eq!(
                message.as_ref().unwrap().as_str(),
                format!(
                    "promise-broken: host hostname became {}",
                    crate::report::testing::HOSTILE
                )
            ),
            other => panic!("{other:?}"),
        }
    }

    /// Jenkins' schema (`fixtures/junit/junit-10.xsd`), checked with
    /// xmllint (libxml2-utils, installed by ci/install-deps). Without
    /// xmllint the check is skipped with a note, except under CI.
    #[test]
    fn valid_against_jenkins_junit_10_xsd() {
        let xsd =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/junit/junit-10.xsd");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("junit.xml");
        let mut report = sample_report();
        report.host.hostname = "node-7".into();
        std::fs::write(&file, render(&report)).unwrap();
        let out = match std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(&file)
            .output()
        {
            Ok(out) => out,
            Err(e)
                if e.kind() == std::io::ErrorKind::NotFound && std::env::var_os("CI").is_none() =>
            {
                eprintln!(
                    "xmllint is not installed (apt-get install libxml2-utils): schema not checked"
                );
                return;
            }
            Err(e) => panic!("xmllint: {e}"),
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The schema does refuse what it should.
        let bad = std::fs::read_to_string(&file).unwrap().replacen(
            "<testsuites ",
            r#"<testsuites skipped="1" "#,
            1,
        );
        std::fs::write(&file, bad).unwrap();
        let out = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(&file)
            .output()
            .unwrap();
        assert!(!out.status.success());
    }
}
