//! The suite tables as tests: `cargo test --features privileged` runs every
//! case as a libtest trial named `property/mode/variant`, filterable like
//! any test name. A case skipped for a typed reason shows as ignored with
//! that reason; `fail` and `error` fail the trial with the reason.
//!
//! `cargo nextest run` runs each trial in a process of its own and learns
//! which are ignored only when it lists them (`--list` and `--list
//! --ignored`). So listing decides every case's requirements, with the same
//! probes the runner uses, and lists a case whose requirements make it a
//! skip as ignored: nextest shows it as SKIP. A skip that nextest did not
//! learn at listing (a case run with `--run-ignored`, or a requirement
//! decided otherwise when the case ran) has no outcome of its own there:
//! nextest counts a test that exits 0 as passed. Under nextest (`NEXTEST`
//! is `1` in the tests it runs) such a trial fails with `SKIP` and the
//! reason instead, so a skip never shows as a pass. And since nextest's
//! cases share no process, an exclusive property's pair is kept alone by a
//! lock on a file (see [`nextest_turn`]).

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use nix::fcntl::{Flock, FlockArg};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use isocheck::model::host::HostFacts;
use isocheck::model::result::{CaseResult, Mode, Outcome, Variant};
use isocheck::suite::case::Property;
use isocheck::suite::runner::{RunOptions, Runner};
use isocheck::suite::table;

type PairKey = (String, Mode);

/// Test and control of a property run together, once, whichever trial
/// asks first.
#[derive(Default)]
struct Pairs {
    done: Mutex<HashMap<PairKey, Arc<OnceLock<[CaseResult; 2]>>>>,
}

impl Pairs {
    fn get(&self, runner: &Runner, p: &Property, mode: Mode) -> [CaseResult; 2] {
        let cell = self
            .done
            .lock()
            .unwrap()
            .entry((p.id.clone(), mode))
            .or_default()
            .clone();
        cell.get_or_init(|| runner.run_pair(p, mode)).clone()
    }
}

/// Whether cargo-nextest runs this process: it sets `NEXTEST=1` in every
/// test it runs.
fn under_nextest() -> bool {
    std::env::var_os("NEXTEST").is_some_and(|v| v == "1")
}

/// Under nextest every case runs in a process of its own, where the
/// runner's lock that keeps an exclusive property's pair alone reaches no
/// other case. A lock on one file in the target directory does: each pair
/// shares it, an exclusive one holds it alone, until its process ends.
fn nextest_turn(exclusive: bool) -> Result<Flock<File>, Failed> {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("isocheck-suites.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            format!(
                "ERROR: cannot open the suite's lock {}: {e}",
                path.display()
            )
        })?;
    let how = if exclusive {
        FlockArg::LockExclusive
    } else {
        FlockArg::LockShared
    };
    Flock::lock(file, how).map_err(|(_, e)| {
        format!(
            "ERROR: cannot lock the suite's lock {}: {e}",
            path.display()
        )
        .into()
    })
}

/// A trial's result from its case. `nextest`: see the module's comment.
fn verdict(case: &CaseResult, nextest: bool) -> Result<Completion, Failed> {
    let reason = case
        .reason
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_default();
    match case.outcome {
        Outcome::Pass => Ok(Completion::Completed),
        Outcome::Skip if nextest => Err(format!(
            "SKIP (not run): {reason}\nnextest has no skipped outcome for a test once it runs \
             and counts one that exits 0 as passed, so this skip fails instead; \
             `cargo test --features privileged` shows it as ignored with this reason"
        )
        .into()),
        Outcome::Skip => Ok(Completion::ignored_with(format!("skip: {reason}"))),
        Outcome::Fail => Err(format!(
            "FAIL (promise broken): {reason}\nobserved: {}",
            case.observed
        )
        .into()),
        Outcome::Error => Err(format!("ERROR: {reason}\nobserved: {}", case.observed).into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let props = match table::builtin() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let helper = PathBuf::from(env!("CARGO_BIN_EXE_isocheck"));
    let runner = match Runner::new(
        RunOptions {
            helper,
            rootfs: None,
            jobs: 1,
            zygote: true,
        },
        HostFacts::probe(),
    ) {
        Ok(r) => Arc::new(r),
        Err(e) => {
            eprintln!("cannot start the runner: {e}");
            std::process::exit(3);
        }
    };
    // Requirements are decided (and a skip marks its cases ignored) where
    // the ignored flag matters: in a listing, and when only ignored trials
    // run (`--ignored`, which filters out every trial not marked). A plain
    // run leaves the flag off, so each skip is reported as it runs, with its
    // reason (libtest-mimic prints none for a trial marked ignored).
    let decide = args.list || args.ignored;
    let nextest = under_nextest();
    let pairs = Arc::new(Pairs::default());
    let mut trials = Vec::new();
    // The property of each trial, by index into `props`.
    let mut owner = Vec::new();
    for (i, p) in props.iter().enumerate() {
        for id in p.cases() {
            let area = p.area.clone();
            let skipped = decide && matches!(runner.unmet(p, id.mode), Some((Outcome::Skip, _)));
            let (runner, pairs, p) = (runner.clone(), pairs.clone(), p.clone());
            trials.push(
                Trial::ignorable_test(id.to_string(), move || {
                    let _turn = nextest.then(|| nextest_turn(p.exclusive)).transpose()?;
                    let [test, control] = pairs.get(&runner, &p, id.mode);
                    let case = match id.variant {
                        Variant::Test => &test,
                        Variant::Control => &control,
                    };
                    verdict(case, nextest)
                })
                .with_kind(area)
                .with_ignored_flag(skipped),
            );
            owner.push(i);
        }
    }
    // Only the properties whose cases run are prepared (each exec copy is a
    // copy of isocheck's binary): nextest starts this binary once per case.
    if !args.list {
        let mut chosen = vec![false; props.len()];
        for (t, &i) in trials.iter().zip(&owner) {
            chosen[i] |= !args.is_filtered_out(t);
        }
        let run: Vec<_> = props
            .iter()
            .zip(chosen)
            .filter(|(_, c)| *c)
            .map(|(p, _)| p)
            .collect();
        runner.prepare(&run);
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // exit() runs no destructors: drop the runner first, so its work
    // directory (and the exec copies in it) is removed.
    drop(runner);
    conclusion.exit();
}
