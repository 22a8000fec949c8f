//! The runner: requirements decided, test and control run, outcomes judged,
//! events sent to every reporter. It never prints.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Instant;

use super::case::{CaseId, Property};
use super::judge::{combine, judge, Run};
use super::requirements::{decide, tried_sandbox, Behaviour, Decision, Tried};
use crate::host::HostFacts;
use crate::report::{
    CaseResult, Collector, Event, Mode, Outcome, Reason, ReasonKind, Report, Reporter, Summary,
    Variant,
};
use crate::runtime::rootless::RootlessPlan;
use crate::runtime::spawn::{Launcher, SpawnError};
use crate::runtime::spec::Rootfs;

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
        // A sandbox that execs a copy of isocheck (or its binary, through
        // /proc/self/exe) keeps the skeleton root: the program needs the
        // host's libraries, which the skeleton binds.
        let execs = spec.scaffold.exec_copy.is_some() || def.probe.execs_isocheck();
        if let (Some(dir), Rootfs::Skeleton, false) = (&self.rootfs, &spec.rootfs, execs) {
            spec.rootfs = Rootfs::Dir { path: dir.clone() };
        }
        let name = format!("{}-{}-{}", p.id, mode, variant);
        let t = Instant::now();
        let plan = match (mode, spec.scaffold.subid_tools) {
            (Mode::Rootful, _) => None,
            (Mode::Rootless, false) => Some(RootlessPlan::for_runner()),
            (Mode::Rootless, true) => match RootlessPlan::through_subids(&self.host) {
                Ok(p) => Some(p),
                Err(e) => {
                    let reason =
                        Reason::new(ReasonKind::HarnessFailed, format!("subordinate ids: {e}"));
                    return Run::broken(reason, Value::Null, 0.0);
                }
            },
        };
        let res = self
            .launcher
            .run_as(&name, &spec, &def.probe, plan.as_ref());
        let duration_ms = t.elapsed().as_secs_f64() * 1e3;
        // The test is judged knowing what the leak looks like (the
        // control's expectations): a promise that shows it is broken,
        // whatever its preconditions say.
        let leak = (variant == Variant::Test).then_some(def.control.expect.as_slice());
        judge(res, def.expect_for(variant), leak, duration_ms)
    }

    /// Runs one property in one mode: control and test, judged together.
    pub fn run_pair(&self, p: &Property, mode: Mode) -> [CaseResult; 2] {
        let decisions = self.decide_all(p, mode);
        let def = p.def(mode);
        let checks: Vec<_> = decisions.iter().map(|d| d.check.clone()).collect();
        let base = |variant: Variant| CaseResult {
            requirements: checks.clone(),
            ..not_run(p, mode, variant)
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

    /// Stops the run at once: helpers running now are killed with their
    /// sandboxes, nothing new starts, and [`Runner::run_all`] returns a
    /// partial report marked with `signal`.
    pub fn interrupt(&self, signal: i32) {
        self.launcher.interrupt(signal);
    }

    /// The run's tag, which names its work directory and cgroups.
    pub fn tag(&self) -> &str {
        self.launcher.tag()
    }

    /// Runs every selected case, sending events to `reporters` as cases
    /// finish, and returns the report they add up to.
    ///
    /// A reporter that fails (a console whose reader went away) gets no
    /// more events; the run goes on. After [`Runner::interrupt`] the cases
    /// that did not finish are reported as errors of kind `interrupted`.
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
        let mut alive = vec![true; reporters.len()];
        // The collector's errors end the run; a reporter's only its output.
        let mut emit = |collector: &mut Collector,
                        ev: &Event<'_>,
                        reps: &mut [&mut dyn Reporter]|
         -> std::io::Result<()> {
            collector.event(ev)?;
            for (r, ok) in reps.iter_mut().zip(alive.iter_mut()) {
                if *ok && r.event(ev).is_err() {
                    *ok = false;
                }
            }
            Ok(())
        };
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
        let interrupted_case = |c: &mut CaseResult, sig: i32| {
            c.outcome = Outcome::Error;
            c.reason = Some(Reason::new(
                ReasonKind::Interrupted,
                format!(
                    "the run was stopped by {} before this case finished",
                    signal_name(sig)
                ),
            ));
        };
        std::thread::scope(|s| {
            for _ in 0..self.jobs {
                let tx = tx.clone();
                let queue = &queue;
                s.spawn(move || loop {
                    if self.launcher.interrupted().is_some() {
                        break;
                    }
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((p, m)) = next else { break };
                    let mut pair = self.run_pair(p, m);
                    // A pair that ends after the interrupt may have had its
                    // sandboxes killed: its outcome proves nothing.
                    if let Some(sig) = self.launcher.interrupted() {
                        for c in pair.iter_mut() {
                            interrupted_case(c, sig);
                        }
                    }
                    if tx.send(pair).is_err() {
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
        let interrupted = self.launcher.interrupted();
        if let Some(sig) = interrupted {
            // The pairs never started.
            let rest: Vec<_> = queue
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .collect();
            for (p, mode) in rest {
                for variant in [Variant::Test, Variant::Control] {
                    let id = CaseId::new(&p.id, mode, variant);
                    if !select(&id) {
                        continue;
                    }
                    let mut case = not_run(p, mode, variant);
                    interrupted_case(&mut case, sig);
                    emit(&mut collector, &Event::CaseFinished(&case), reporters)?;
                }
            }
        }
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
        report.interrupted = interrupted.map(signal_name);
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

/// A case as the report lists it before it ran.
fn not_run(p: &Property, mode: Mode, variant: Variant) -> CaseResult {
    let def = p.def(mode);
    CaseResult {
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
        requirements: Vec::new(),
        duration_ms: 0.0,
    }
}

/// `SIGINT`, `SIGTERM` ... for a signal number.
pub fn signal_name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::helper::ExitInfo;

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
                // As the work-namespace holder (started from the same
                // binary) it says ready and leaves when told.
                "#!/bin/sh\n[ \"$1\" = __workns ] && {{ echo ready; read x; exit 0; }}\ncat >/dev/null\nprintf '%s' '{}'\n",
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
