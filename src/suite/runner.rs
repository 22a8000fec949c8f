//! The runner: requirements decided, test and control run, outcomes judged,
//! the run told to every sink as one event stream. It never prints.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Instant;

use super::case::{CaseId, Property};
use super::judge::{combine, judge, Run};
use super::requirements::{
    namespace_probe, userns_probe, Behaviour, Decision, Decisions, KernelFeature, Requirement,
    Tried,
};
use crate::model::events::{Collector, Event, Sink};
use crate::model::host::HostFacts;
use crate::model::result::{
    CaseResult, Mode, Outcome, Reason, ReasonKind, Report, Summary, Variant,
};
use crate::model::spec::Rootfs;
use crate::runtime::protocol::RootlessPlan;
use crate::runtime::spawn::{Launcher, SpawnError};

pub struct RunOptions {
    /// isocheck's own binary, run as the helper.
    pub helper: PathBuf,
    /// Run every skeleton-rooted sandbox in this tree instead.
    pub rootfs: Option<PathBuf>,
    /// Pairs run at once.
    pub jobs: usize,
    /// Fork helpers from zygotes of `helper` ([`crate::runtime::zygote`])
    /// instead of starting it for every sandbox: the same helpers, without
    /// an exec each. Off for a stand-in helper that must be started for
    /// each sandbox to do its part.
    pub zygote: bool,
}

pub struct Runner {
    launcher: Launcher,
    pub host: HostFacts,
    rootfs: Option<PathBuf>,
    jobs: usize,
    decisions: Decisions,
    /// Shared by every pair as it runs; an exclusive property's pair holds
    /// it alone.
    turn: RwLock<()>,
}

/// The descriptors a run of `jobs` cases at once may hold at its busiest,
/// beside those open when it starts: pipes to each helper and zygote,
/// pidfds, its sandboxes' streams and the files it writes. Requirement
/// decisions run four at once, so fewer jobs need no less. Measured with
/// the default suite under hard limits on descriptors (five open when the
/// runner is made): every case ran with 17 more at one or two jobs, 21 at
/// four and 33 at eight, and with one fewer some cases errored (`Too many
/// open files`); this leaves a margin of at least 45%.
pub fn descriptors_needed(jobs: usize) -> u64 {
    16 + 4 * jobs.max(4) as u64
}

impl Runner {
    pub fn new(opts: RunOptions, host: HostFacts) -> Result<Runner, SpawnError> {
        Ok(Runner {
            launcher: if opts.zygote {
                Launcher::new(opts.helper)?
            } else {
                Launcher::one_shot(opts.helper)?
            },
            host,
            rootfs: opts.rootfs,
            jobs: opts.jobs.max(1),
            decisions: Decisions::default(),
            turn: RwLock::new(()),
        })
    }

    /// Decides a property's requirements in a mode, each once per run.
    pub fn decide_all(&self, p: &Property, mode: Mode) -> Vec<Decision> {
        p.def(mode)
            .requires
            .iter()
            .map(|r| self.decisions.decide(r, &self.host, self))
            .collect()
    }

    /// Decides every requirement of these pairs now, up to four at once
    /// (each decision that tries a sandbox waits mostly on the kernel), so
    /// that no pair waits for them one by one. Each is still decided once
    /// per run: [`Runner::decide_all`] then finds it made.
    ///
    /// The ones that try a sandbox are taken first: each waits on a helper
    /// (and a zygote to fork it) for a millisecond or more, while the
    /// others take microseconds and fill the CPU meanwhile. Taken in table
    /// order, the last sandbox would start only after the cheap ones before
    /// it and end the whole phase late.
    pub fn decide_ahead(&self, pairs: &[(&Property, Mode)]) {
        let mut seen = std::collections::HashSet::new();
        let mut reqs: Vec<&Requirement> = pairs
            .iter()
            .flat_map(|(p, m)| p.def(*m).requires.iter())
            .filter(|r| seen.insert(*r))
            .collect();
        // Stable: otherwise in table order.
        reqs.sort_by_key(|r| !tries_a_sandbox(r));
        // Four at a time: each sandbox tried waits on the kernel, but each
        // thread also needs a zygote of its own, started on first use
        // (on two cores, eight at once measured 36 ms for `list`, four 32).
        let threads = reqs.len().min(4);
        let queue = Mutex::new(reqs.into_iter());
        let work = || loop {
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some(r) = next else { break };
            self.decisions.decide(r, &self.host, self);
        };
        std::thread::scope(|s| {
            let started = (0..threads)
                .take_while(|_| std::thread::Builder::new().spawn_scoped(s, work).is_ok())
                .count();
            // No thread to spare (a pids limit, say): decided here.
            if started == 0 {
                work();
            }
        });
    }

    /// Forks, while the runner has one thread, the zygotes these pairs'
    /// requirement decisions ([`Runner::decide_ahead`]) and then `jobs`
    /// cases at once will serve from: each started from the binary later
    /// would cost an exec, the dynamic loader and the runtime's start-up,
    /// on the run's critical path. Call it before any thread is started.
    pub fn prestart(&self, pairs: &[(&Property, Mode)], jobs: usize) {
        let mut seen = std::collections::HashSet::new();
        let sandboxes = pairs
            .iter()
            .flat_map(|(p, m)| p.def(*m).requires.iter())
            .filter(|r| seen.insert(*r) && tries_a_sandbox(r))
            .count();
        // As many as run at once: decisions four at a time, then the jobs.
        self.launcher
            .prefork(sandboxes.min(4).max(jobs.min(pairs.len())).min(8));
    }

    /// What a property's requirements in a mode decide before any sandbox
    /// runs: `None` when every one is met; else the outcome both cases get
    /// without running and its reason. A privilege isocheck lacks
    /// (`needs-root`) makes them skips, as they could never run here; else
    /// a requirement the harness could not decide makes them errors,
    /// whatever the others say; else the first unmet one is the skip
    /// reason. Each requirement is decided once per
    /// run, so asking here (a test harness listing its cases) and running
    /// the pair later agree.
    pub fn unmet(&self, p: &Property, mode: Mode) -> Option<(Outcome, Reason)> {
        first_unmet(&self.decide_all(p, mode))
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
            (Mode::Rootless, true) => {
                match RootlessPlan::through_subids(&self.host.subid_grant()) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        let reason =
                            Reason::new(ReasonKind::HarnessFailed, format!("subordinate ids: {e}"));
                        return Run::broken(reason, Value::Null, 0.0);
                    }
                }
            }
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
        if let Some((outcome, reason)) = first_unmet(&decisions) {
            for case in [&mut test, &mut control] {
                case.outcome = outcome;
                case.reason = Some(reason.clone());
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
    /// sandboxes, nothing new starts, and [`Runner::run`] returns a
    /// partial report marked with `signal`.
    pub fn interrupt(&self, signal: i32) {
        self.launcher.interrupt(signal);
    }

    /// The signal [`Runner::interrupt`] was given, if it was.
    pub fn interrupted(&self) -> Option<i32> {
        self.launcher.interrupted()
    }

    /// The run's tag, which names its work directory and cgroups.
    pub fn tag(&self) -> &str {
        self.launcher.tag()
    }

    /// Runs every selected case, without labels or audit: [`Runner::run`]
    /// with the default [`RunSettings`].
    pub fn run_all(
        &self,
        props: &[Property],
        select: &(dyn Fn(&CaseId) -> bool + Sync),
        sinks: &mut [&mut dyn Sink],
    ) -> Report {
        self.run(props, select, &RunSettings::default(), sinks)
    }

    /// Runs every selected case, telling `sinks` the run as one event
    /// stream (see [`crate::report::sink`]), and returns the report the
    /// stream adds up to.
    ///
    /// The plan sent first lists the selected cases in the report's order:
    /// areas in the catalogue's order (pid, uts, net, mount ...), then by
    /// property, mode and variant. Cases finish in any order, each naming
    /// its place in the plan; the runner counts the summary as it sends
    /// them. A sink that fails gets no more events; the run goes on. After
    /// [`Runner::interrupt`] the cases that did not finish are sent as
    /// errors of kind `interrupted`, and no audit runs.
    pub fn run(
        &self,
        props: &[Property],
        select: &(dyn Fn(&CaseId) -> bool + Sync),
        settings: &RunSettings,
        sinks: &mut [&mut dyn Sink],
    ) -> Report {
        let started_at =
            humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let t0 = Instant::now();
        let pairs = selected_pairs(props, select);
        let planned = pairs.len() * 2;
        let selected: Vec<&Property> = pairs.iter().map(|(p, _)| *p).collect();
        self.prepare(&selected);
        self.decide_ahead(&pairs);
        let plan = Plan::new(&pairs, select);
        let mut collector = Collector::default();
        let mut alive = vec![true; sinks.len()];
        let mut emit = |ev: &Event<'_>| {
            collector.take(ev);
            for (sink, ok) in sinks.iter_mut().zip(alive.iter_mut()) {
                if *ok && sink.event(ev).is_err() {
                    *ok = false;
                }
            }
        };
        emit(&Event::RunStarted {
            host: &self.host,
            started_at: &started_at,
            labels: &settings.labels,
            plan: &plan.ids,
            planned,
        });
        let mut summary = Summary::default();
        // Pairs whose sandboxes wait on the kernel's accounting (a CPU
        // quota's periods, a memory hog's reclaim) start first, so that the
        // run's end is not one of them started last; the report keeps the
        // plan's order whatever the order of running.
        let mut order: Vec<(usize, (&Property, Mode))> =
            pairs.iter().copied().enumerate().collect();
        order.sort_by_cached_key(|(_, (p, m))| std::cmp::Reverse(slow(p, *m)));
        let queue = Mutex::new(order.into_iter());
        let (tx, rx) = std::sync::mpsc::channel::<Progress>();
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
        let worker = |tx: std::sync::mpsc::Sender<Progress>| loop {
            if self.launcher.interrupted().is_some() {
                break;
            }
            let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
            let Some((i, (p, m))) = next else { break };
            if tx.send(Progress::Started(i)).is_err() {
                break;
            }
            let mut pair = self.run_pair(p, m);
            // A pair that ends after the interrupt may have had its
            // sandboxes killed: its outcome proves nothing.
            if let Some(sig) = self.launcher.interrupted() {
                for c in pair.iter_mut() {
                    interrupted_case(c, sig);
                }
            }
            if tx.send(Progress::Finished(i, Box::new(pair))).is_err() {
                break;
            }
        };
        std::thread::scope(|s| {
            let worker = &worker;
            let started = (0..self.jobs)
                .take_while(|_| {
                    let tx = tx.clone();
                    std::thread::Builder::new()
                        .spawn_scoped(s, move || worker(tx))
                        .is_ok()
                })
                .count();
            // No thread to spare (a pids limit, say): every pair runs
            // here, one after the other, before the events go out.
            if started == 0 {
                worker(tx.clone());
            }
            drop(tx);
            for progress in rx {
                match progress {
                    Progress::Started(i) => {
                        for index in plan.places[i].into_iter().flatten() {
                            emit(&Event::CaseStarted {
                                index,
                                id: &plan.ids[index],
                            });
                        }
                    }
                    Progress::Finished(i, pair) => {
                        for (case, place) in pair.iter().zip(plan.places[i]) {
                            if let Some(index) = place {
                                summary.add(case.outcome);
                                emit(&Event::CaseFinished { index, case });
                            }
                        }
                    }
                }
            }
        });
        let interrupted = self.launcher.interrupted();
        if let Some(sig) = interrupted {
            // The pairs never started.
            let rest = queue.into_inner().unwrap_or_else(PoisonError::into_inner);
            for (i, (p, mode)) in rest {
                for (variant, place) in [Variant::Test, Variant::Control]
                    .into_iter()
                    .zip(plan.places[i])
                {
                    let Some(index) = place else { continue };
                    let mut case = not_run(p, mode, variant);
                    interrupted_case(&mut case, sig);
                    summary.add(case.outcome);
                    emit(&Event::CaseFinished { index, case: &case });
                }
            }
        }
        let duration_ms = t0.elapsed().as_secs_f64() * 1e3;
        let mut interrupted = interrupted;
        if settings.audit && interrupted.is_none() {
            let audit = self.audit();
            // An audit stopped halfway proves nothing: the run is reported
            // stopped, without it.
            interrupted = self.launcher.interrupted();
            if interrupted.is_none() {
                emit(&Event::AuditFinished(&audit));
            }
        }
        let interrupted = interrupted.map(signal_name);
        emit(&Event::RunFinished {
            summary: &summary,
            duration_ms,
            interrupted: interrupted.as_deref(),
        });
        collector.into_report().expect("RunFinished was sent")
    }
}

/// Whether a pair's sandboxes wait on a cgroup's accounting (a limit to
/// run into, a counter to read back): the pairs that take longest.
fn slow(p: &Property, mode: Mode) -> bool {
    let def = p.def(mode);
    [Variant::Test, Variant::Control]
        .iter()
        .any(|v| !def.spec_for(*v).cgroup.is_empty())
}

/// What a run adds to its cases.
#[derive(Default)]
pub struct RunSettings {
    /// Free-form labels of the run, e.g. the matrix leg it belongs to.
    pub labels: BTreeMap<String, String>,
    /// Audit the host after the cases (a stopped run skips it).
    pub audit: bool,
}

/// What a worker tells the run loop about the pair at this index.
enum Progress {
    Started(usize),
    Finished(usize, Box<[CaseResult; 2]>),
}

/// The selected cases in the report's order, and where each pair's cases
/// go in it.
struct Plan {
    /// Case ids in the report's order.
    ids: Vec<String>,
    /// By pair: the places of its test and its control, if selected.
    places: Vec<[Option<usize>; 2]>,
}

impl Plan {
    fn new(pairs: &[(&Property, Mode)], select: &(dyn Fn(&CaseId) -> bool + Sync)) -> Plan {
        let variants = [Variant::Test, Variant::Control];
        let mut cases: Vec<(usize, usize, CaseId)> = Vec::new();
        for (i, (p, mode)) in pairs.iter().enumerate() {
            for (k, variant) in variants.into_iter().enumerate() {
                let id = CaseId::new(&p.id, *mode, variant);
                if select(&id) {
                    cases.push((i, k, id));
                }
            }
        }
        // Areas in the catalogue's order (pid, uts, net, mount ...), then by id.
        let area_rank = |a: &str| {
            super::catalog::AREAS
                .iter()
                .position(|x| *x == a)
                .unwrap_or(usize::MAX)
        };
        cases.sort_by(|(a, ka, _), (b, kb, _)| {
            let (pa, ma) = pairs[*a];
            let (pb, mb) = pairs[*b];
            (area_rank(&pa.area), pa.id.as_str(), ma, variants[*ka]).cmp(&(
                area_rank(&pb.area),
                pb.id.as_str(),
                mb,
                variants[*kb],
            ))
        });
        let mut places = vec![[None; 2]; pairs.len()];
        let mut ids = Vec::with_capacity(cases.len());
        for (index, (i, k, id)) in cases.into_iter().enumerate() {
            places[i][k] = Some(index);
            ids.push(id.to_string());
        }
        Plan { ids, places }
    }
}

/// The outcome and reason decisions give a pair before it runs (see
/// [`Runner::unmet`]).
fn first_unmet(decisions: &[Decision]) -> Option<(Outcome, Reason)> {
    // A privilege isocheck lacks is certain: the case could never run
    // here, whatever else could not be decided (that harness failure
    // shows on the cases it keeps from running).
    let lacking = decisions.iter().find(|d| {
        d.reason
            .as_ref()
            .is_some_and(|r| r.kind == ReasonKind::NeedsRoot)
    });
    if let Some(d) = lacking {
        return Some((Outcome::Skip, d.reason.clone()?));
    }
    let undecided = decisions.iter().find(|d| d.harness_failed());
    let d = undecided.or_else(|| decisions.iter().find(|d| d.reason.is_some()))?;
    let outcome = if d.harness_failed() {
        Outcome::Error
    } else {
        Outcome::Skip
    };
    Some((outcome, d.reason.clone()?))
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
        tags: p.tags.clone(),
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
    pub fn audit(&self) -> crate::model::result::Audit {
        super::audit::audit(&self.host, &self.launcher)
    }
}

/// Each property and mode of which `select` takes a case, in table order.
pub fn selected_pairs<'a>(
    props: &'a [Property],
    select: &(dyn Fn(&CaseId) -> bool + Sync),
) -> Vec<(&'a Property, Mode)> {
    props
        .iter()
        .flat_map(|p| p.modes().map(move |m| (p, m)))
        .filter(|(p, m)| {
            [Variant::Test, Variant::Control]
                .iter()
                .any(|v| select(&CaseId::new(&p.id, *m, *v)))
        })
        .collect()
}

/// Whether deciding `r` tries a sandbox through the runner's
/// [`Behaviour`]: the rootless user namespace, an idmapped mount, and a
/// namespace that is not created in-process (a user or time namespace,
/// or any when isocheck is not root: see
/// [`super::requirements::namespace_clone_probe`]). Only the order of the
/// decisions depends on it, never what they decide.
fn tries_a_sandbox(r: &Requirement) -> bool {
    match r {
        Requirement::Userns | Requirement::KernelFeature(KernelFeature::IdmappedMount) => true,
        Requirement::Namespace(ns) => {
            !super::requirements::bare_clone_makes(*ns) || !crate::sys::caps::privileged()
        }
        _ => false,
    }
}

impl Behaviour for Runner {
    fn rootless_userns(&self) -> Tried {
        userns_probe(&self.launcher)
    }
    fn namespace(&self, ns: crate::model::namespace::Namespace) -> Tried {
        super::requirements::namespace_clone_probe(ns)
            .unwrap_or_else(|| namespace_probe(&self.launcher, ns))
    }
    fn idmapped_mount(&self) -> Tried {
        super::requirements::idmapped_mount_probe(&self.launcher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::events::testing::{Recorded, RecordingSink};
    use crate::runtime::protocol::ExitInfo;

    /// A runner whose helper is a script that fakes a sandbox ending with
    /// the helper's own failure status before its probe reports.
    fn runner_with_a_broken_helper(dir: &std::path::Path) -> Runner {
        use std::os::unix::fs::PermissionsExt;
        let report = crate::runtime::protocol::HelperReport {
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
        // A child another test forks (without exec) while the script is
        // being written keeps a copy of its write descriptor for a moment:
        // until it lets go, starting the script is ETXTBSY.
        for _ in 0..100 {
            match Runner::new(
                RunOptions {
                    helper: helper.clone(),
                    rootfs: None,
                    jobs: 1,
                    zygote: false,
                },
                HostFacts::default(),
            ) {
                Err(e) if e.to_string().contains("Text file busy") => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => return r.unwrap(),
            }
        }
        panic!("{} stayed busy for a second", helper.display())
    }

    fn builtin(id: &str) -> Property {
        super::super::table::builtin()
            .unwrap()
            .into_iter()
            .find(|p| p.id == id)
            .unwrap()
    }

    fn net_loopback() -> Property {
        builtin("net.loopback_isolated")
    }

    /// The cases a recording finished, by their place in the plan.
    fn finished(events: &[Recorded]) -> Vec<(usize, CaseResult)> {
        events
            .iter()
            .filter_map(|e| match e {
                Recorded::CaseFinished { index, case } => Some((*index, (**case).clone())),
                _ => None,
            })
            .collect()
    }

    /// The requirements taken first are those whose decision starts a
    /// helper; the in-process ones are not among them.
    #[test]
    fn sandbox_trying_requirements_are_told_apart() {
        let req = |s: &str| s.parse::<Requirement>().unwrap();
        for r in ["userns", "namespace user", "kernel-feature idmapped-mount"] {
            assert!(tries_a_sandbox(&req(r)), "{r}");
        }
        for r in [
            "root",
            "setfcap",
            "kernel-feature pidfd",
            "cgroup-controller pids",
        ] {
            assert!(!tries_a_sandbox(&req(r)), "{r}");
        }
        // Made in-process by root; from the rootless user namespace, in a
        // sandbox, otherwise.
        let root = crate::sys::caps::privileged();
        assert_eq!(tries_a_sandbox(&req("namespace pid")), !root);
    }

    /// `planned` counts what runs: a pair runs both its cases (the test is
    /// judged against its control), so a control selected alone plans two
    /// runs, while the plan and the report list the one case selected.
    #[test]
    fn planned_counts_both_runs_of_a_pair_even_when_one_case_is_selected() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner_with_a_broken_helper(dir.path());
        let props = [builtin("pid.join"), net_loopback()];
        let select = |id: &CaseId| id.to_string() == "pid.join/rootless/control";
        let mut sink = RecordingSink::default();
        let report = runner.run(&props, &select, &RunSettings::default(), &mut [&mut sink]);
        match &sink.events[0] {
            Recorded::RunStarted { plan, planned, .. } => {
                assert_eq!(plan, &["pid.join/rootless/control"]);
                assert_eq!(*planned, 2);
            }
            other => panic!("the first event is {other:?}"),
        }
        let finished = finished(&sink.events);
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].1.id, "pid.join/rootless/control");
        assert_eq!(report.cases.len(), 1);
    }

    #[test]
    fn a_run_is_one_stream_in_order_and_the_report_is_what_it_adds_up_to() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner_with_a_broken_helper(dir.path());
        // Given net before pid: the plan puts pid first, the catalogue's
        // order; a filter drops the rootless control of net.
        let props = [net_loopback(), builtin("pid.join")];
        let select = |id: &CaseId| id.to_string() != "net.loopback_isolated/rootless/control";
        let settings = RunSettings {
            labels: [("layout".to_string(), "v1".to_string())].into(),
            audit: true,
        };
        let mut sink = RecordingSink::default();
        let report = runner.run(&props, &select, &settings, &mut [&mut sink]);
        let events = sink.events;
        let want_plan = [
            "pid.join/rootful/test",
            "pid.join/rootful/control",
            "pid.join/rootless/test",
            "pid.join/rootless/control",
            "net.loopback_isolated/rootful/test",
            "net.loopback_isolated/rootful/control",
            "net.loopback_isolated/rootless/test",
        ];
        match &events[0] {
            Recorded::RunStarted {
                plan,
                planned,
                labels,
            } => {
                assert_eq!(plan, &want_plan);
                // Every pair runs both its cases, selected or not.
                assert_eq!(*planned, 8);
                assert_eq!(labels, &settings.labels);
            }
            other => panic!("the first event is {other:?}"),
        }
        // Run in table order, one pair at a time: each pair's cases start,
        // then finish, in the order net rootful, net rootless, pid ...
        let order: Vec<(usize, bool)> = events[1..]
            .iter()
            .filter_map(|e| match e {
                Recorded::CaseStarted { index, id } => {
                    assert_eq!(id, want_plan[*index]);
                    Some((*index, false))
                }
                Recorded::CaseFinished { index, case } => {
                    assert_eq!(case.id, want_plan[*index]);
                    Some((*index, true))
                }
                _ => None,
            })
            .collect();
        let (s, f) = (false, true);
        assert_eq!(
            order,
            [
                (4, s),
                (5, s),
                (4, f),
                (5, f),
                (6, s),
                (6, f),
                (0, s),
                (1, s),
                (0, f),
                (1, f),
                (2, s),
                (3, s),
                (2, f),
                (3, f),
            ]
        );
        let n = events.len();
        let Recorded::AuditFinished(audit) = &events[n - 2] else {
            panic!("no audit before the end: {:?}", events[n - 2]);
        };
        let Recorded::RunFinished {
            summary,
            interrupted,
        } = &events[n - 1]
        else {
            panic!("the last event is {:?}", events[n - 1]);
        };
        assert_eq!(*interrupted, None);
        // Every requirement the broken helper had to decide is an error.
        assert_eq!((summary.total, summary.error), (7, 7), "{summary:?}");
        // The report is the stream: cases in the plan's order, the
        // runner's summary, the audit and labels as sent.
        let ids: Vec<&str> = report.cases.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, want_plan);
        let mut cases = finished(&events);
        cases.sort_by_key(|(i, _)| *i);
        assert_eq!(
            report.cases,
            cases.into_iter().map(|(_, c)| c).collect::<Vec<_>>()
        );
        assert_eq!(&report.summary, summary);
        assert_eq!(report.audit.as_ref(), Some(audit));
        assert_eq!(report.labels, settings.labels);
        assert_eq!(report.interrupted, None);
    }

    /// A sink whose output goes away at its first finished case.
    #[derive(Default)]
    struct Failing {
        seen: usize,
    }

    impl Sink for Failing {
        fn event(&mut self, event: &Event<'_>) -> Result<(), crate::model::events::SinkError> {
            self.seen += 1;
            match event {
                Event::CaseFinished { .. } => {
                    Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))?
                }
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn a_failing_sink_gets_no_more_events_and_the_others_get_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner_with_a_broken_helper(dir.path());
        let props = [net_loopback()];
        let mut failing = Failing::default();
        let mut recording = RecordingSink::default();
        let report = runner.run_all(
            &props,
            &|_: &CaseId| true,
            &mut [&mut failing, &mut recording],
        );
        // Started, two cases started, the first finished: then nothing.
        assert_eq!(failing.seen, 4);
        assert_eq!(finished(&recording.events).len(), 4);
        assert!(matches!(
            recording.events.last(),
            Some(Recorded::RunFinished { .. })
        ));
        assert_eq!(report.cases.len(), 4);
    }

    #[test]
    fn a_stopped_run_finishes_every_planned_case_as_interrupted_without_audit() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner_with_a_broken_helper(dir.path());
        runner.interrupt(libc::SIGINT);
        let props = [net_loopback()];
        let settings = RunSettings {
            audit: true,
            ..Default::default()
        };
        let mut sink = RecordingSink::default();
        let report = runner.run(&props, &|_: &CaseId| true, &settings, &mut [&mut sink]);
        let events = sink.events;
        assert!(matches!(events[0], Recorded::RunStarted { .. }));
        let cases = finished(&events);
        assert_eq!(
            cases.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        for (_, c) in &cases {
            let r = c.reason.as_ref().unwrap();
            assert_eq!(
                (c.outcome, r.kind),
                (Outcome::Error, ReasonKind::Interrupted)
            );
            assert!(r.detail.contains("SIGINT"), "{r:?}");
        }
        assert_eq!(
            events.len(),
            1 + 4 + 1,
            "nothing started, no audit: {events:?}"
        );
        assert_eq!(
            events[5],
            Recorded::RunFinished {
                summary: Summary {
                    total: 4,
                    error: 4,
                    ..Default::default()
                },
                interrupted: Some("SIGINT".into()),
            }
        );
        assert_eq!(report.interrupted.as_deref(), Some("SIGINT"));
        assert_eq!(report.audit, None);
        assert_eq!(report.cases.len(), 4);
    }

    #[test]
    fn a_requirement_the_helper_could_not_decide_makes_both_cases_errors() {
        let dir = tempfile::tempdir().unwrap();
        let runner = runner_with_a_broken_helper(dir.path());
        let p = net_loopback();
        // `userns` is decided by a sandbox of the (broken) helper.
        let decisions = runner.decide_all(&p, Mode::Rootless);
        let userns = decisions
            .iter()
            .find(|d| d.check.requirement == "userns")
            .unwrap();
        assert!(userns.harness_failed(), "{userns:?}");
        // Whatever the other requirement says, the harness failure decides
        // the outcome.
        runner.decisions.insert(
            crate::suite::requirements::Requirement::Namespace(
                crate::model::namespace::Namespace::Net,
            ),
            Decision {
                check: crate::model::result::RequirementCheck {
                    requirement: "namespace net".into(),
                    met: false,
                    probe: "create a net namespace".into(),
                    observed: "clone: EPERM".into(),
                },
                reason: Some(Reason::new(
                    ReasonKind::KernelLacksFeature,
                    "no net namespace",
                )),
            },
        );
        for case in runner.run_pair(&p, Mode::Rootless) {
            let r = case.reason.as_ref().unwrap();
            assert_eq!(
                (case.outcome, r.kind),
                (Outcome::Error, ReasonKind::HarnessFailed),
                "{case:?}"
            );
            assert!(r.detail.contains("exit status 121"), "{r:?}");
        }
        // Asked before the pair runs (a test harness listing its cases),
        // the answer is the same.
        let (outcome, reason) = runner.unmet(&p, Mode::Rootless).unwrap();
        assert_eq!(
            (outcome, reason.kind),
            (Outcome::Error, ReasonKind::HarnessFailed)
        );
    }

    #[test]
    fn an_unmet_requirement_is_a_skip_and_all_met_is_none() {
        let check = |met| crate::model::result::RequirementCheck {
            requirement: "root".into(),
            met,
            probe: "geteuid+capget".into(),
            observed: "euid 1000".into(),
        };
        let met = Decision {
            check: check(true),
            reason: None,
        };
        let unmet = Decision {
            check: check(false),
            reason: Some(Reason::new(ReasonKind::NeedsRoot, "not root")),
        };
        assert!(first_unmet(std::slice::from_ref(&met)).is_none());
        assert!(first_unmet(&[]).is_none());
        let (outcome, reason) = first_unmet(&[met, unmet.clone()]).unwrap();
        assert_eq!(
            (outcome, reason.kind, reason.detail.as_str()),
            (Outcome::Skip, ReasonKind::NeedsRoot, "not root")
        );
        // A privilege isocheck lacks is certain and wins over a requirement
        // the harness could not decide; without it, the undecided one is
        // an error.
        let undecided = Decision {
            check: check(false),
            reason: Some(Reason::new(ReasonKind::HarnessFailed, "helper died")),
        };
        let (outcome, reason) = first_unmet(&[undecided.clone(), unmet]).unwrap();
        assert_eq!(
            (outcome, reason.kind),
            (Outcome::Skip, ReasonKind::NeedsRoot)
        );
        let (outcome, reason) = first_unmet(&[undecided]).unwrap();
        assert_eq!(
            (outcome, reason.kind),
            (Outcome::Error, ReasonKind::HarnessFailed)
        );
    }
}
