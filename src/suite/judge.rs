//! The judge: one variant's observation against its expectations, then
//! test and control together.
//!
//! The order of the rules is the point. A promise expectation that shows
//! the leak makes the test `fail` whatever else went wrong (a failed
//! precondition, a set-up step, a value missing elsewhere): a broken
//! promise is never hidden behind an error. Short of that, a run that
//! broke, a precondition that did not hold, or a value the observation
//! lacks makes the case an `error` naming the cause; a value missing at
//! run time is never a match for any operator.

use serde_json::Value;

use super::expect::{check_all, Checked, Expect};
use crate::model::result::{Outcome, Reason, ReasonKind};
use crate::runtime::spawn::{Observation, SpawnError};

/// How one variant's run came out, before test and control are combined.
#[derive(Debug, Clone)]
pub(crate) enum Verdict {
    /// Every expectation held.
    Held,
    /// Some did not: the failed ones, described.
    NotHeld(String),
    /// The run itself broke.
    Broken(Reason),
}

/// One variant's run: its verdict, and what the report shows of it.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub verdict: Verdict,
    pub checks: Vec<Checked>,
    pub observed: Value,
    pub duration_ms: f64,
}

impl Run {
    /// A run that broke before there was anything to judge.
    pub fn broken(reason: Reason, observed: Value, duration_ms: f64) -> Run {
        Run {
            verdict: Verdict::Broken(reason),
            checks: Vec::new(),
            observed,
            duration_ms,
        }
    }
}

type Judged = (Outcome, Option<Reason>);

/// Test and control judged together: a test passes only when its control
/// saw the leak; a control that did not is a blind probe, never a pass.
pub(crate) fn combine(test: &Verdict, control: &Verdict, knob: &str) -> (Judged, Judged) {
    let c = match control {
        Verdict::Held => (Outcome::Pass, None),
        Verdict::NotHeld(what) => (
            Outcome::Error,
            Some(Reason::new(
                ReasonKind::BlindProbe,
                format!("with `{knob}` off the probe did not see the leak: {what}"),
            )),
        ),
        Verdict::Broken(r) => (Outcome::Error, Some(r.clone())),
    };
    let t = match (test, control) {
        (Verdict::Broken(r), _) => (Outcome::Error, Some(r.clone())),
        // The probe saw the leak with isolation on: that needs no control.
        (Verdict::NotHeld(what), _) => (
            Outcome::Fail,
            Some(Reason::new(ReasonKind::PromiseBroken, what.clone())),
        ),
        (Verdict::Held, Verdict::Held) => (Outcome::Pass, None),
        (Verdict::Held, Verdict::NotHeld(_)) => (
            Outcome::Error,
            Some(Reason::new(
                ReasonKind::BlindProbe,
                format!(
                    "the control (`{knob}` off) did not see the leak, so this pass proves nothing"
                ),
            )),
        ),
        (Verdict::Held, Verdict::Broken(r)) => (
            Outcome::Error,
            Some(Reason::new(
                ReasonKind::ControlErrored,
                format!("the control could not run: {r}"),
            )),
        ),
    };
    (t, c)
}

/// The checks that show the leak: promise (not `pre`) expectations that
/// failed on a value the observation has (not null, not missing) and that
/// looks like the leak: where the control expects something at the same
/// path, the value meets the control's expectation (an errno that only
/// follows from a failed precondition is not the leak); where it does not,
/// only a value the probe reported counts (a sandbox that died before
/// reporting shows a crash, not a leak, unless the control's own
/// expectations recognise it). With `unexplained` (a precondition's value
/// never came) only values the probe reported (`probe.*`) can show it.
fn leaks(
    checks: &[Checked],
    expects: &[Expect],
    leak: &[Expect],
    obs: &Value,
    reported: bool,
    unexplained: bool,
) -> Vec<String> {
    checks
        .iter()
        .zip(expects)
        .filter(|(c, e)| {
            let mut said = leak.iter().filter(|l| l.path == e.path).peekable();
            let recognised = if said.peek().is_some() {
                said.all(|l| l.check(obs).ok)
            } else {
                reported
            };
            let explained = !unexplained || e.path.starts_with("probe.");
            !c.ok && !c.pre && c.missing.is_none() && !c.got.is_null() && recognised && explained
        })
        .map(|(c, _)| format!("{}, got {}", c.what, c.got))
        .collect()
}

/// Judges one variant's run. `leak` is what the control expects: given
/// for the test, where a promise expectation that shows the leak is a
/// broken promise whatever else the run says; `None` for the control.
pub(crate) fn judge(
    res: Result<Observation, SpawnError>,
    expects: &[Expect],
    leak: Option<&[Expect]>,
    duration_ms: f64,
) -> Run {
    let broken = |kind, detail: String, observed: Value| {
        Run::broken(Reason::new(kind, detail), observed, duration_ms)
    };
    let obs = match res {
        Ok(o) => o,
        Err(SpawnError::HelperTimeout { deadline, after }) => {
            return broken(
                ReasonKind::Timeout,
                format!(
                    "the helper outlived its deadline of {deadline:?} and was killed with its process group after {:.1} s",
                    after.as_secs_f64()
                ),
                Value::Null,
            )
        }
        Err(SpawnError::Cgroup(e)) => {
            return broken(ReasonKind::SetupFailed, format!("cgroup: {e}"), Value::Null)
        }
        Err(e) => return broken(ReasonKind::HarnessFailed, e.to_string(), Value::Null),
    };
    let observed = serde_json::to_value(&obs).unwrap_or(Value::Null);
    if obs.timed_out {
        return broken(
            ReasonKind::Timeout,
            "the sandbox outlived its timeout and was killed as a whole".into(),
            observed,
        );
    }
    let (checks, ok) = check_all(expects, &observed);
    let run = |verdict| Run {
        verdict,
        checks: checks.clone(),
        observed: observed.clone(),
        duration_ms,
    };
    let reported = obs.probe.is_some();
    // A precondition whose value never came (the sandbox died before
    // reporting it) leaves the values read around the probe unexplained:
    // a counter read from outside that looks like the leak may only show
    // that the probe never ran. What the probe itself reported stays
    // evidence (an exec'd copy that said nothing does not undo a chown
    // the probe saw go through).
    let unexplained = checks.iter().any(|c| c.pre && c.missing.is_some());
    let shown = leak.map_or_else(Vec::new, |l| {
        leaks(&checks, expects, l, &observed, reported, unexplained)
    });
    let failed = |c: &&Checked| !c.ok;
    let describe = |c: &Checked| match &c.missing {
        Some(p) => format!("{}: the observation has no `{p}`", c.what),
        None => format!("{}, got {}", c.what, c.got),
    };
    let verdict = if !shown.is_empty() {
        Verdict::NotHeld(shown.join("; "))
    } else if let Some(e) = &obs.setup_error {
        Verdict::Broken(Reason::new(ReasonKind::SetupFailed, e.to_string()))
    } else if ok {
        Verdict::Held
    } else if obs.probe.is_some() && checks.iter().any(|c| c.pre && !c.ok) {
        let unmet: Vec<String> = checks
            .iter()
            .filter(|c| c.pre && !c.ok)
            .map(describe)
            .collect();
        Verdict::Broken(Reason::new(
            ReasonKind::SetupFailed,
            format!(
                "a precondition of the probe did not hold: {}",
                unmet.join("; ")
            ),
        ))
    } else if obs.probe.is_none() {
        let how = match &obs.exit {
            Some(e) if e.signal.is_some() => {
                format!("killed by {}", e.signal.as_deref().unwrap_or("?"))
            }
            Some(e) => format!("exit code {}", e.code.unwrap_or(-1)),
            None => "no exit status".into(),
        };
        Verdict::Broken(Reason::new(
            ReasonKind::ProbeCrashed,
            format!("the sandbox ended before the probe reported ({how})"),
        ))
    } else if checks.iter().any(|c| c.missing.is_some()) {
        let missing: Vec<String> = checks
            .iter()
            .filter(|c| c.missing.is_some())
            .map(describe)
            .collect();
        Verdict::Broken(Reason::new(
            ReasonKind::HarnessFailed,
            format!(
                "a value the expectations read is missing, so they cannot be judged: {}",
                missing.join("; ")
            ),
        ))
    } else {
        let failed: Vec<String> = checks.iter().filter(failed).map(describe).collect();
        Verdict::NotHeld(failed.join("; "))
    };
    run(verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::protocol::ExitInfo;
    use rstest::rstest;

    fn broken() -> Verdict {
        Verdict::Broken(Reason::new(ReasonKind::Timeout, "killed"))
    }

    #[rstest]
    #[case::both_hold(Verdict::Held, Verdict::Held, (Outcome::Pass, None), (Outcome::Pass, None))]
    #[case::blind_control(Verdict::Held, Verdict::NotHeld("x".into()), (Outcome::Error, Some(ReasonKind::BlindProbe)), (Outcome::Error, Some(ReasonKind::BlindProbe)))]
    #[case::broken_control(Verdict::Held, broken(), (Outcome::Error, Some(ReasonKind::ControlErrored)), (Outcome::Error, Some(ReasonKind::Timeout)))]
    #[case::promise_broken(Verdict::NotHeld("x".into()), Verdict::Held, (Outcome::Fail, Some(ReasonKind::PromiseBroken)), (Outcome::Pass, None))]
    #[case::broken_even_if_blind(Verdict::NotHeld("x".into()), Verdict::NotHeld("y".into()), (Outcome::Fail, Some(ReasonKind::PromiseBroken)), (Outcome::Error, Some(ReasonKind::BlindProbe)))]
    #[case::test_errored(broken(), Verdict::Held, (Outcome::Error, Some(ReasonKind::Timeout)), (Outcome::Pass, None))]
    fn test_and_control_are_judged_together(
        #[case] test: Verdict,
        #[case] control: Verdict,
        #[case] want_test: (Outcome, Option<ReasonKind>),
        #[case] want_control: (Outcome, Option<ReasonKind>),
    ) {
        let (t, c) = combine(&test, &control, "namespace pid");
        assert_eq!((t.0, t.1.map(|r| r.kind)), want_test);
        assert_eq!((c.0, c.1.map(|r| r.kind)), want_control);
    }

    fn expects(src: &str) -> Vec<Expect> {
        #[derive(serde::Deserialize)]
        struct E {
            expect: Vec<Expect>,
        }
        toml::from_str::<E>(src).unwrap().expect
    }

    fn obs(probe: Option<serde_json::Value>, exit: ExitInfo) -> Observation {
        Observation {
            probe,
            exit: Some(exit),
            ..Default::default()
        }
    }

    /// Judges a sandbox that reported `probe` (or nothing) and ended with
    /// `code` or `signal`.
    fn judged(
        expect: &str,
        probe: Option<serde_json::Value>,
        code: Option<i32>,
        signal: Option<&str>,
    ) -> Verdict {
        let exit = ExitInfo {
            code,
            signal: signal.map(String::from),
        };
        judge(Ok(obs(probe, exit)), &expects(expect), None, 1.0).verdict
    }

    #[test]
    fn a_sandbox_that_dies_before_reporting_is_a_crash_not_a_failure() {
        let verdict = judged(
            "expect = [{ path = \"probe.x\", eq = 1 }]",
            None,
            None,
            Some("SIGABRT"),
        );
        assert!(
            matches!(&verdict, Verdict::Broken(r) if r.kind == ReasonKind::ProbeCrashed && r.detail.contains("SIGABRT")),
            "{:?}",
            verdict
        );
    }

    #[test]
    fn a_probe_that_reports_the_wrong_thing_is_not_held() {
        let verdict = judged(
            "expect = [{ path = \"probe.x\", eq = 1 }]",
            Some(serde_json::json!({"x": 2})),
            Some(0),
            None,
        );
        assert!(
            matches!(&verdict, Verdict::NotHeld(w) if w.contains("probe.x eq 1, got 2")),
            "{:?}",
            verdict
        );
    }

    #[test]
    fn an_unmet_precondition_is_an_error_not_a_failure() {
        let verdict = judged("expect = [{ path = \"probe.create\", eq = \"ok\", pre = true }, { path = \"probe.chown\", eq = \"EPERM\" }]", Some(serde_json::json!({"create": "ENOENT", "chown": "ENOENT"})), Some(0), None);
        assert!(
            matches!(&verdict, Verdict::Broken(r) if r.kind == ReasonKind::SetupFailed && r.detail.contains("probe.create")),
            "{:?}",
            verdict
        );
    }

    #[test]
    fn a_death_the_expectations_ask_for_is_held() {
        let verdict = judged(
            "expect = [{ path = \"exit.signal\", eq = \"SIGKILL\" }]",
            None,
            None,
            Some("SIGKILL"),
        );
        assert!(matches!(verdict, Verdict::Held));
    }

    #[rstest]
    #[case::timeout(Observation { timed_out: true, ..Default::default() }, ReasonKind::Timeout)]
    #[case::setup(Observation { setup_error: Some(crate::model::error::StepError::new("pivot_root", "/r", nix::errno::Errno::EPERM)), ..Default::default() }, ReasonKind::SetupFailed)]
    fn broken_runs_are_errors_with_their_kind(#[case] o: Observation, #[case] kind: ReasonKind) {
        let e = expects("expect = [{ path = \"probe.x\", eq = 1 }]");
        assert!(
            matches!(judge(Ok(o), &e, None, 1.0).verdict, Verdict::Broken(r) if r.kind == kind)
        );
    }

    #[test]
    fn a_helper_that_hung_is_a_timeout() {
        let run = judge(
            Err(SpawnError::HelperTimeout {
                deadline: std::time::Duration::from_secs(1),
                after: std::time::Duration::from_secs(3),
            }),
            &[],
            None,
            1.0,
        );
        let Verdict::Broken(r) = run.verdict else {
            panic!("{:?}", run.verdict)
        };
        assert_eq!(r.kind, ReasonKind::Timeout);
        // The time of the kill, not only the deadline: a zygote asked to
        // end its sandbox first may have taken longer.
        assert!(
            r.detail.contains("deadline of 1s") && r.detail.contains("after 3.0 s"),
            "{}",
            r.detail
        );
    }

    /// Judges a test that reported `probe`, knowing the control's expectations.
    fn judged_test(expect: &str, control: &str, probe: serde_json::Value) -> Verdict {
        let exit = ExitInfo {
            code: Some(0),
            signal: None,
        };
        let leak = expects(control);
        judge(
            Ok(obs(Some(probe), exit)),
            &expects(expect),
            Some(&leak),
            1.0,
        )
        .verdict
    }

    const OWNERSHIP: &str = "expect = [{ path = \"probe.create\", eq = \"ok\", pre = true }, { path = \"probe.unmapped_owner\", eq = 65534 }, { path = \"probe.owner_inside\", eq = 0 }]";
    const OWNERSHIP_CONTROL: &str =
        "expect = [{ path = \"outside.scratch\", any = { name = \"f\", uid = 0 } }]";

    #[test]
    fn a_failed_precondition_never_hides_a_broken_promise() {
        // uid_map written `0 0 1`: the file cannot be made, but the
        // unmapped owner already shows host root.
        let verdict = judged_test(
            OWNERSHIP,
            OWNERSHIP_CONTROL,
            serde_json::json!({"create": "EACCES", "unmapped_owner": 0, "owner_inside": null}),
        );
        assert!(
            matches!(&verdict, Verdict::NotHeld(w) if w.contains("probe.unmapped_owner eq 65534, got 0") && !w.contains("owner_inside")),
            "{verdict:?}"
        );
        let (t, _) = combine(&verdict, &Verdict::Held, "namespace user");
        assert_eq!(t.0, Outcome::Fail);
    }

    #[test]
    fn a_set_up_failure_never_hides_a_broken_promise_either() {
        let o = Observation {
            probe: Some(
                serde_json::json!({"create": "ok", "unmapped_owner": 0, "owner_inside": 0}),
            ),
            setup_error: Some(crate::model::error::StepError::new(
                "mount",
                "/x",
                nix::errno::Errno::EPERM,
            )),
            ..Default::default()
        };
        let leak = expects(OWNERSHIP_CONTROL);
        let verdict = judge(Ok(o), &expects(OWNERSHIP), Some(&leak), 1.0).verdict;
        assert!(matches!(verdict, Verdict::NotHeld(_)), "{verdict:?}");
    }

    #[test]
    fn a_value_that_only_follows_from_the_failed_precondition_is_not_the_leak() {
        // chown of a file that could not be made: ENOENT is not what the
        // leak looks like (the control expects "ok").
        let verdict = judged_test(
            "expect = [{ path = \"probe.create\", eq = \"ok\", pre = true }, { path = \"probe.chown\", eq = \"EPERM\" }]",
            "expect = [{ path = \"probe.chown\", eq = \"ok\" }]",
            serde_json::json!({"create": "ENOENT", "chown": "ENOENT"}),
        );
        assert!(
            matches!(&verdict, Verdict::Broken(r) if r.kind == ReasonKind::SetupFailed),
            "{verdict:?}"
        );
        let verdict = judged_test(
            "expect = [{ path = \"probe.create\", eq = \"ok\", pre = true }, { path = \"probe.chown\", eq = \"EPERM\" }]",
            "expect = [{ path = \"probe.chown\", eq = \"ok\" }]",
            serde_json::json!({"create": "ENOENT", "chown": "ok"}),
        );
        assert!(matches!(&verdict, Verdict::NotHeld(_)), "{verdict:?}");
    }

    #[rstest]
    #[case::ne("{ path = \"probe.y\", ne = 1 }")]
    #[case::excludes("{ path = \"probe.y\", excludes = 1 }")]
    #[case::ne_path("{ path = \"probe.x\", ne_path = \"probe.y\" }")]
    fn a_missing_value_is_an_error_naming_the_path(#[case] e: &str) {
        let verdict = judged_test(
            &format!("expect = [{{ path = \"probe.x\", eq = 1 }}, {e}]"),
            "expect = [{ path = \"probe.x\", eq = 2 }]",
            serde_json::json!({"x": 1}),
        );
        assert!(
            matches!(&verdict, Verdict::Broken(r) if r.kind == ReasonKind::HarnessFailed && r.detail.contains("no `probe.y`")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_precondition_missing_from_a_report_does_not_hide_the_leak_it_reported() {
        // The chown row: the exec'd copy said nothing readable (`child`
        // is null, so `child.euid` is missing), but the probe itself
        // reported that the chown it should have been refused went
        // through, which is what the control (CAP_CHOWN kept) shows.
        let verdict = judged_test(
            "expect = [{ path = \"probe.exec_self.child.euid\", eq = 0, pre = true }, { path = \"probe.chown\", eq = \"EPERM\" }]",
            "expect = [{ path = \"probe.chown\", eq = \"ok\" }]",
            serde_json::json!({"exec_self": {"exec": "ok", "child": null}, "chown": "ok"}),
        );
        assert!(
            matches!(&verdict, Verdict::NotHeld(w) if w.contains("probe.chown")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_missing_value_does_not_hide_a_leak_shown_elsewhere() {
        let verdict = judged_test(
            "expect = [{ path = \"probe.x\", eq = 1 }, { path = \"probe.y\", ne = 1 }]",
            "expect = [{ path = \"probe.x\", eq = 2 }]",
            serde_json::json!({"x": 2}),
        );
        assert!(
            matches!(&verdict, Verdict::NotHeld(w) if w.contains("probe.x eq 1, got 2")),
            "{verdict:?}"
        );
    }

    #[test]
    fn a_sandbox_that_died_before_reporting_shows_a_crash_not_a_leak() {
        // The hog died of SIGSEGV: not the OOM kill the test expects, but
        // nothing the control recognises as the leak either.
        let o = Observation {
            probe: None,
            exit: Some(ExitInfo {
                code: None,
                signal: Some("SIGSEGV".into()),
            }),
            ..Default::default()
        };
        let leak = expects("expect = [{ path = \"probe.allocated_mib\", eq = 64 }, { path = \"exit.code\", eq = 0 }]");
        let e = expects("expect = [{ path = \"exit.signal\", eq = \"SIGKILL\" }]");
        let verdict = judge(Ok(o.clone()), &e, Some(&leak), 1.0).verdict;
        assert!(
            matches!(&verdict, Verdict::Broken(r) if r.kind == ReasonKind::ProbeCrashed),
            "{verdict:?}"
        );
        // One the control does recognise is the leak, reported or not.
        let o = Observation {
            exit: Some(ExitInfo {
                code: Some(0),
                signal: None,
            }),
            ..o
        };
        let e = expects("expect = [{ path = \"exit.code\", eq = 137 }]");
        let verdict = judge(Ok(o), &e, Some(&leak), 1.0).verdict;
        assert!(matches!(&verdict, Verdict::NotHeld(_)), "{verdict:?}");
    }

    #[test]
    fn an_outside_value_is_no_leak_when_the_precondition_never_reported() {
        // The memory hog's sandbox ended before its probe reported: the
        // cgroup's peak read from outside is 0, which is what the control
        // (no cgroup joined) shows, but nothing was allocated to charge.
        let died = Observation {
            probe: None,
            exit: Some(ExitInfo {
                code: Some(121),
                signal: None,
            }),
            outside: crate::runtime::spawn::Outside {
                cgroup: Some(crate::runtime::cgroups::CgroupStats {
                    memory_peak: Some(0),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let e = expects("expect = [{ path = \"probe.allocated_mib\", eq = 32, pre = true }, { path = \"outside.cgroup.memory_peak\", ge = 33554432 }]");
        let leak = expects("expect = [{ path = \"probe.allocated_mib\", eq = 32 }, { path = \"outside.cgroup.memory_peak\", le = 8388608 }]");
        let verdict = judge(Ok(died.clone()), &e, Some(&leak), 1.0).verdict;
        assert!(
            matches!(&verdict, Verdict::Broken(r) if r.kind == ReasonKind::ProbeCrashed),
            "{verdict:?}"
        );
        // The same peak with the precondition reported is the leak.
        let reported = Observation {
            probe: Some(serde_json::json!({"allocated_mib": 32})),
            exit: Some(ExitInfo {
                code: Some(0),
                signal: None,
            }),
            ..died
        };
        let verdict = judge(Ok(reported), &e, Some(&leak), 1.0).verdict;
        assert!(
            matches!(&verdict, Verdict::NotHeld(w) if w.contains("memory_peak")),
            "{verdict:?}"
        );
    }
}
