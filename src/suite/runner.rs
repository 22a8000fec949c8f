//! The runner: requirements decided, test and control run, outcomes judged,
//! events sent to every reporter. It never prints.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Instant;

use super::case::{CaseId, Property};
use super::expect::{check_all, Checked};
use super::requirements::{decide, tried_sandbox, Behaviour, Decision, Tried};
use crate::host::HostFacts;
use crate::report::{
    CaseResult, Collector, Event, Mode, Outcome, Reason, ReasonKind, Report, Reporter, Summary,
    Variant,
};
use crate::runtime::rootless::RootlessPlan;
use crate::runtime::spawn::{Launcher, Observation, SpawnError};
use crate::runtime::spec::Rootfs;

/// How one variant's run came out, before test and control are combined.
#[derive(Debug, Clone)]
enum Verdict {
    /// Every expectation held.
    Held,
    /// Some did not: the failed ones, described.
    NotHeld(String),
    /// The run itself broke.
    Broken(Reason),
}

/// One variant's run: its verdict, and what the report shows of it.
#[derive(Debug, Clone)]
struct Run {
    verdict: Verdict,
    checks: Vec<Checked>,
    observed: Value,
    duration_ms: f64,
}

pub struct RunOptions {
    /// isocheck's own binary, run as the helper.
    pub helper: PathBuf,
    /// Run every skeleton-rooted sandbox in this tree instead.
    pub rootfs: Option<PathBuf>,
    /// Pairs run at once.
    pub jobs: usize,
}

pub struct Runner {
    launcher: Launcher,
    pub host: HostFacts,
    rootfs: Option<PathBuf>,
    jobs: usize,
    decisions: Mutex<HashMap<String, Decision>>,
    /// Shared by every pair as it runs; an exclusive property's pair holds
    /// it alone.
    turn: RwLock<()>,
}

impl Runner {
    pub fn new(opts: RunOptions, host: HostFacts) -> Result<Runner, SpawnError> {
        Ok(Runner {
            launcher: Launcher::new(opts.helper)?,
            host,
            rootfs: opts.rootfs,
            jobs: opts.jobs.max(1),
            decisions: Mutex::new(HashMap::new()),
            turn: RwLock::new(()),
        })
    }

    /// Decides a property's requirements in a mode, each once per run.
    pub fn decide_all(&self, p: &Property, mode: Mode) -> Vec<Decision> {
        p.def(mode)
            .requires
            .iter()
            .map(|r| {
                let key = r.to_string();
                if let Some(d) = self.decisions.lock().unwrap().get(&key) {
                    return d.clone();
                }
                let d = decide(r, &self.host, self);
                self.decisions.lock().unwrap().insert(key, d.clone());
                d
            })
            .collect()
    }

    /// Makes ahead of time what these properties' sandboxes need (copies of
    /// isocheck's binary for exec probes), so no case's time includes it.
    /// A failure here is left for the case that needs the thing to report.
    pub fn prepare(&self, props: &[&Property]) {
        let specs: Vec<_> = props
            .iter()
            .flat_map(|p| {
                p.defs
                    .values()
                    .flat_map(|d| [d.spec_for(Variant::Test), d.spec_for(Variant::Control)])
            })
            .collect();
        let _ = self.launcher.prepare(&specs);
    }

    fn run_variant(&self, p: &Property, mode: Mode, variant: Variant) -> Run {
        let def = p.def(mode);
        let mut spec = def.spec_for(variant);
        // A sandbox that execs a copy of isocheck keeps the skeleton root:
        // the copy needs the host's libraries, which the skeleton binds.
        if let (Some(dir), Rootfs::Skeleton, None) = (&self.rootfs, &spec.rootfs, &spec.exec_copy) {
            spec.rootfs = Rootfs::Dir { path: dir.clone() };
        }
        let name = format!("{}-{}-{}", p.id, mode, variant);
        let t = Instant::now();
        let plan = match (mode, spec.subid_tools) {
            (Mode::Rootful, _) => None,
            (Mode::Rootless, false) => Some(RootlessPlan::for_runner()),
            (Mode::Rootless, true) => match RootlessPlan::through_subids(&self.host) {
                Ok(p) => Some(p),
                Err(e) => {
                    let reason =
                        Reason::new(ReasonKind::HarnessFailed, format!("subordinate ids: {e}"));
                    return Run {
                        verdict: Verdict::Broken(reason),
                        checks: Vec::new(),
                        observed: Value::Null,
                        duration_ms: 0.0,
                    };
                }
            },
        };
        let res = self
            .launcher
            .run_as(&name, &spec, &def.probe, plan.as_ref());
        let duration_ms = t.elapsed().as_secs_f64() * 1e3;
        judge(res, def.expect_for(variant), duration_ms)
    }

    /// Runs one property in one mode: control and test, judged together.
    pub fn run_pair(&self, p: &Property, mode: Mode) -> [CaseResult; 2] {
        let decisions = self.decide_all(p, mode);
        let def = p.def(mode);
        let checks: Vec<_> = decisions.iter().map(|d| d.check.clone()).collect();
        let base = |variant: Variant| CaseResult {
            id: CaseId::new(&p.id, mode, variant).to_string(),
            property: p.id.clone(),
            area: p.area.clone(),
            mode,
            variant,
            outcome: Outcome::Skip,
            reason: None,
            description: p.description.clone(),
            expected: Value::Array(
                def.expect_for(variant)
                    .iter()
                    .map(|e| json!({ "what": e.describe() }))
                    .collect(),
            ),
            observed: Value::Null,
            requirements: checks.clone(),
            duration_ms: 0.0,
        };
        let mut test = base(Variant::Test);
        let mut control = base(Variant::Control);
        // A requirement the harness could not decide makes both cases
        // errors, whatever the other requirements say; else the first
        // unmet one is the skip reason.
        let undecided = decisions.iter().find(|d| d.harness_failed());
        if let Some(d) = undecided.or_else(|| decisions.iter().find(|d| d.reason.is_some())) {
            let outcome = if d.harness_failed() {
                Outcome::Error
            } else {
                Outcome::Skip
            };
            for case in [&mut test, &mut control] {
                case.outcome = outcome;
                case.reason = d.reason.clone();
            }
            return [test, control];
        }
        // An exclusive pair waits for the pairs running to finish and keeps
        // others from starting meanwhile.
        let _shared =
            (!p.exclusive).then(|| self.turn.read().unwrap_or_else(PoisonError::into_inner));
        let _alone = p
            .exclusive
            .then(|| self.turn.write().unwrap_or_else(PoisonError::into_inner));
        let c = self.run_variant(p, mode, Variant::Control);
        let t = self.run_variant(p, mode, Variant::Test);
        let ((to, tr), (co, cr)) = combine(&t.verdict, &c.verdict, &def.control.knob.to_string());
        for (case, run, outcome, reason) in [(&mut test, t, to, tr), (&mut control, c, co, cr)] {
            case.outcome = outcome;
            case.reason = reason;
            case.expected = serde_json::to_value(&run.checks).unwrap_or(Value::Null);
            case.observed = run.observed;
            case.duration_ms = run.duration_ms;
        }
        [test, control]
    }

    /// Runs every selected case, sending events to `reporters` as cases
    /// finish, and returns the report they add up to.
    pub fn run_all(
        &self,
        props: &[Property],
        select: &(dyn Fn(&CaseId) -> bool + Sync),
        reporters: &mut [&mut dyn Reporter],
    ) -> std::io::Result<Report> {
        let started_at =
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let t0 = Instant::now();
        let pairs: Vec<(&Property, Mode)> = props
            .iter()
            .flat_map(|p| p.modes().map(move |m| (p, m)))
            .filter(|(p, m)| {
                [Variant::Test, Variant::Control]
                    .iter()
                    .any(|v| select(&CaseId::new(&p.id, *m, *v)))
            })
            .collect();
        let planned = pairs.len() * 2;
        let selected: Vec<&Property> = pairs.iter().map(|(p, _)| *p).collect();
        self.prepare(&selected);
        let mut collector = Collector::default();
        fn emit(
            collector: &mut Collector,
            ev: &Event<'_>,
            reps: &mut [&mut dyn Reporter],
        ) -> std::io::Result<()> {
            collector.event(ev)?;
            for r in reps.iter_mut() {
                r.event(ev)?;
            }
            Ok(())
        }
        emit(
            &mut collector,
            &Event::RunStarted {
                host: &self.host,
                started_at: &started_at,
                planned,
            },
            reporters,
        )?;
        let queue = Mutex::new(pairs.into_iter());
        let (tx, rx) = std::sync::mpsc::channel::<[CaseResult; 2]>();
        let mut io_result = Ok(());
        std::thread::scope(|s| {
            for _ in 0..self.jobs {
                let tx = tx.clone();
                let queue = &queue;
                s.spawn(move || loop {
                    let next = queue.lock().unwrap().next();
                    let Some((p, m)) = next else { break };
                    if tx.send(self.run_pair(p, m)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for pair in rx {
                for case in pair
                    .iter()
                    .filter(|c| select(&CaseId::new(&c.property, c.mode, c.variant)))
                {
                    if let Err(e) = emit(&mut collector, &Event::CaseFinished(case), reporters) {
                        io_result = Err(e);
                    }
                }
            }
        });
        io_result?;
        let duration_ms = t0.elapsed().as_secs_f64() * 1e3;
        let summary = collector
            .report
            .as_ref()
            .map(|r| r.summary.clone())
            .unwrap_or_default();
        emit(
            &mut collector,
            &Event::RunFinished {
                summary: &summary,
                duration_ms,
            },
            reporters,
        )?;
        let mut report = collector.report.take().expect("RunStarted was sent");
        // Areas in the catalogue's order (pid, uts, net, mount ...), then by id.
        let area_rank = |a: &str| {
            super::catalog::AREAS
                .iter()
                .position(|x| *x == a)
                .unwrap_or(usize::MAX)
        };
        report.cases.sort_by(|a, b| {
            (area_rank(&a.area), a.property.as_str(), a.mode, a.variant).cmp(&(
                area_rank(&b.area),
                b.property.as_str(),
                b.mode,
                b.variant,
            ))
        });
        report.summary = Summary::of(&report.cases);
        Ok(report)
    }
}

impl Runner {
    /// The config-against-behaviour audit of this host.
    pub fn audit(&self) -> crate::report::Audit {
        super::audit::audit(&self.host, &self.launcher)
    }
}

impl Behaviour for Runner {
    fn rootless_userns(&self) -> Tried {
        userns_probe(&self.launcher)
    }
    fn namespace(&self, ns: crate::runtime::spec::Namespace) -> Tried {
        namespace_probe(&self.launcher, ns)
    }
}

/// Creates one namespace for real: as root, or inside the rootless user
/// namespace when isocheck is not root. A refusal is the kernel's only when
/// the namespace operation itself failed (see [`tried_sandbox`]).
pub fn namespace_probe(launcher: &Launcher, ns: crate::runtime::spec::Namespace) -> Tried {
    use crate::runtime::spec::{IdMap, Namespace, SandboxSpec};
    let root = nix::unistd::geteuid().is_root();
    let mut spec = SandboxSpec {
        namespaces: [ns].into_iter().collect(),
        rootfs: Rootfs::Host,
        ..Default::default()
    };
    if ns == Namespace::User {
        // A user namespace is usable once it has a map: root to an
        // unprivileged uid (or, nested in the rootless one, to its root).
        let outside = if root {
            crate::runtime::rootless::DEFAULT_UID
        } else {
            0
        };
        spec.uid_map = vec![IdMap {
            inside: 0,
            outside,
            count: 1,
        }];
        spec.gid_map = spec.uid_map.clone();
    }
    let plan = (!root).then(RootlessPlan::for_runner);
    let run = launcher.run_as("ns-probe", &spec, &crate::probe::Probe::Noop, plan.as_ref());
    tried_sandbox(run).map(|_| format!("created a {ns} namespace"))
}

/// Tries a rootless user namespace for real: the sandbox `userns`
/// requirements stand on.
pub fn userns_probe(launcher: &Launcher) -> Tried {
    use crate::runtime::spec::{Namespace, SandboxSpec};
    let spec = SandboxSpec {
        namespaces: [Namespace::Mount].into_iter().collect(),
        rootfs: Rootfs::Host,
        ..Default::default()
    };
    let plan = RootlessPlan::for_runner();
    let run = launcher.run_as(
        "userns-probe",
        &spec,
        &crate::probe::Probe::Noop,
        Some(&plan),
    );
    tried_sandbox(run).map(|o| {
        format!(
            "user namespace of uid {} with map {}",
            plan.uid, o.ids.uid_map
        )
    })
}

type Judged = (Outcome, Option<Reason>);

/// Test and control judged together: a test passes only when its control
/// saw the leak; a control that did not is a blind probe, never a pass.
fn combine(test: &Verdict, control: &Verdict, knob: &str) -> (Judged, Judged) {
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

fn judge(
    res: Result<Observation, SpawnError>,
    expects: &[super::expect::Expect],
    duration_ms: f64,
) -> Run {
    let broken = |kind, detail: String, observed: Value| Run {
        verdict: Verdict::Broken(Reason::new(kind, detail)),
        checks: Vec::new(),
        observed,
        duration_ms,
    };
    let obs = match res {
        Ok(o) => o,
        Err(SpawnError::HelperTimeout(d)) => {
            return broken(
                ReasonKind::Timeout,
                format!("the helper outlived {d:?} and was killed with its process group"),
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
    if let Some(e) = &obs.setup_error {
        return broken(ReasonKind::SetupFailed, e.to_string(), observed);
    }
    let (checks, ok) = check_all(expects, &observed);
    let unmet_pre: Vec<String> = checks
        .iter()
        .filter(|c| c.pre && !c.ok)
        .map(|c| format!("{}, got {}", c.what, c.got))
        .collect();
    let verdict = if ok {
        Verdict::Held
    } else if !unmet_pre.is_empty() && obs.probe.is_some() {
        Verdict::Broken(Reason::new(
            ReasonKind::SetupFailed,
            format!(
                "a precondition of the probe did not hold: {}",
                unmet_pre.join("; ")
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
    } else {
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| !c.ok)
            .map(|c| format!("{}, got {}", c.what, c.got))
            .collect();
        Verdict::NotHeld(failed.join("; "))
    };
    Run {
        verdict,
        checks,
        observed,
        duration_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::helper::ExitInfo;
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

    fn expects(src: &str) -> Vec<super::super::expect::Expect> {
        #[derive(serde::Deserialize)]
        struct E {
            expect: Vec<super::super::expect::Expect>,
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
        judge(Ok(obs(probe, exit)), &expects(expect), 1.0).verdict
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
    #[case::setup(Observation { setup_error: Some(crate::runtime::init::StepError { step: "pivot_root".into(), target: "/r".into(), errno: "EPERM".into() }), ..Default::default() }, ReasonKind::SetupFailed)]
    fn broken_runs_are_errors_with_their_kind(#[case] o: Observation, #[case] kind: ReasonKind) {
        let e = expects("expect = [{ path = \"probe.x\", eq = 1 }]");
        assert!(matches!(judge(Ok(o), &e, 1.0).verdict, Verdict::Broken(r) if r.kind == kind));
    }

    #[test]
    fn a_helper_that_hung_is_a_timeout() {
        let run = judge(
            Err(SpawnError::HelperTimeout(std::time::Duration::from_secs(1))),
            &[],
            1.0,
        );
        assert!(matches!(run.verdict, Verdict::Broken(r) if r.kind == ReasonKind::Timeout));
    }

    /// A runner whose helper is a script that fakes a sandbox ending with
    /// the helper's own failure status before its probe reports.
    fn runner_with_a_broken_helper(dir: &std::path::Path) -> Runner {
        use std::os::unix::fs::PermissionsExt;
        let report = crate::runtime::helper::HelperReport {
            exit: Some(ExitInfo {
                code: Some(121),
                signal: None,
            }),
            ..Default::default()
        };
        let helper = dir.join("helper");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\ncat >/dev/null\nprintf '%s' '{}'\n",
                serde_json::to_string(&report).unwrap()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        Runner::new(
            RunOptions {
                helper,
                rootfs: None,
                jobs: 1,
            },
            HostFacts::default(),
        )
        .unwrap()
    }

    fn net_loopback() -> Property {
        super::super::table::builtin()
            .unwrap()
            .into_iter()
            .find(|p| p.id == "net.loopback_isolated")
            .unwrap()
    }

    #[test]
    fn a_requirement_the_helper_could_not_decide_makes_both_cases_errors() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner_with_a_broken_helper(dir.path());
        let p = net_loopback();
        let decisions = runner.decide_all(&p, Mode::Rootful);
        let ns = decisions
            .iter()
            .find(|d| d.check.requirement == "namespace net")
            .unwrap();
        assert!(ns.harness_failed(), "{ns:?}");
        // Whatever `root` says, the harness failure decides the outcome.
        runner.decisions.lock().unwrap().insert(
            "root".into(),
            Decision {
                check: crate::report::RequirementCheck {
                    requirement: "root".into(),
                    met: false,
                    probe: "geteuid+capget".into(),
                    observed: "euid 1000".into(),
                },
                reason: Some(Reason::new(ReasonKind::NeedsRoot, "not root")),
            },
        );
        for case in runner.run_pair(&p, Mode::Rootful) {
            let r = case.reason.as_ref().unwrap();
            assert_eq!(
                (case.outcome, r.kind),
                (Outcome::Error, ReasonKind::HarnessFailed),
                "{case:?}"
            );
            assert!(r.detail.contains("exit status 121"), "{r:?}");
        }
    }
}
