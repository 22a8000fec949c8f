//! JUnit XML for CI systems, through `quick-junit`.
//!
//! One `<testsuite>` per area, in the order the run met the areas; one
//! `<testcase>` per case, named by the case id with the property as its
//! class name. `fail` becomes `<failure>`, `error` becomes `<error>`,
//! `skip` becomes `<skipped>`, each with the reason (`kind: detail`) as
//! its message and the reason kind as its type. Failures and errors carry
//! the expectations and the observation as their text; skips their hint.
//! Each suite carries the headline host facts as properties.

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use std::time::Duration;

use super::html::json_pretty;
use crate::model::result::{CaseResult, Outcome, Report};

fn duration(ms: f64) -> Duration {
    if ms.is_finite() && ms > 0.0 {
        Duration::from_secs_f64(ms / 1000.0)
    } else {
        Duration::ZERO
    }
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
        status.set_description(format!(
            "expected: {}\nobserved: {}",
            json_pretty(&case.expected),
            json_pretty(&case.observed)
        ));
    }
    status
}

fn test_case(case: &CaseResult) -> TestCase {
    let mut tc = TestCase::new(case.id.as_str(), status(case));
    tc.set_classname(case.property.as_str());
    tc.set_time(duration(case.duration_ms));
    tc
}

/// Renders a report as a JUnit XML document.
pub fn render(report: &Report) -> String {
    let mut junit = quick_junit::Report::new("isocheck");
    junit.set_time(duration(report.duration_ms));
    let mut areas: Vec<(&str, Vec<&CaseResult>)> = Vec::new();
    for case in &report.cases {
        match areas.iter_mut().find(|(area, _)| *area == case.area) {
            Some((_, cases)) => cases.push(case),
            None => areas.push((&case.area, vec![case])),
        }
    }
    let suites = areas.into_iter().map(|(area, cases)| {
        let mut suite = TestSuite::new(area);
        let host = &report.host;
        suite.add_properties([
            Property::new("kernel.release", host.kernel.release.as_str()),
            Property::new("distro", host.distro.pretty_name.as_str()),
            Property::new("arch", host.arch.as_str()),
            Property::new("cgroup.layout", host.cgroup.layout.as_str()),
            Property::new("started_at", report.started_at.as_str()),
        ]);
        for (name, value) in &report.labels {
            suite.add_property(Property::new(format!("label.{name}"), value.as_str()));
        }
        suite.set_time(duration(cases.iter().map(|c| c.duration_ms).sum()));
        suite.add_test_cases(cases.into_iter().map(test_case));
        suite
    });
    junit.add_test_suites(suites);
    junit
        .to_string()
        .expect("serializing JUnit XML to memory cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::sample_report;

    #[test]
    fn junit_snapshot() {
        let xml = render(&sample_report());
        insta::with_settings!({filters => vec![
            (r#"(name="kernel\.release" value=")[^"]*""#, r#"$1[release]""#),
            (r#"(name="started_at" value=")[^"]*""#, r#"$1[started_at]""#),
            (r#"time="[0-9.]+""#, r#"time="[s]""#),
        ]}, {
            insta::assert_snapshot!(xml);
        });
    }

    #[test]
    fn counts_match_the_report() {
        let report = sample_report();
        let parsed = quick_junit::Report::deserialize_from_str(&render(&report)).unwrap();
        assert_eq!(parsed.tests, report.summary.total);
        assert_eq!(parsed.failures, report.summary.fail);
        assert_eq!(parsed.errors, report.summary.error);
        assert_eq!(parsed.skipped, report.summary.skip);
        let names: Vec<&str> = parsed.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["pid", "uts", "net", "cgroup", "mount"]);
        let skipped = &parsed.test_suites[2].test_cases[0];
        assert_eq!(skipped.name.as_str(), "net.empty/rootless/test");
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
}
