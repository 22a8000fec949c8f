//! The suite tables as tests: `cargo test --features privileged` runs every
//! case as a libtest trial named `property/mode/variant`, filterable like
//! any test name. A case skipped for a typed reason shows as ignored with
//! that reason; `fail` and `error` fail the trial with the reason.
//!

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::collections::HashMap;
use std::path::PathBuf;
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

fn verdict(case: &CaseResult) -> Result<Completion, Failed> {
    let reason = case
        .reason
        .as_ref()
        .map(|r| r.to_string())
        .unwrap_or_default();
    match case.outcome {
        Outcome::Pass => Ok(Completion::Completed),
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
    if !args.list {
        runner.prepare(&props.iter().collect::<Vec<_>>());
    }
    let pairs = Arc::new(Pairs::default());
    let mut trials = Vec::new();
    for p in &props {
        for id in p.cases() {
            let area = p.area.clone();
            let (runner, pairs, p) = (runner.clone(), pairs.clone(), p.clone());
            trials.push(
                Trial::ignorable_test(id.to_string(), move || {
                    let [test, control] = pairs.get(&runner, &p, id.mode);
                    verdict(match id.variant {
                        Variant::Test => &test,
                        Variant::Control => &control,
                    })
                })
                .with_kind(area),
            );
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // exit() runs no destructors: drop the runner first, so its work
    // directory (and the exec copies in it) is removed.
    drop(runner);
    conclusion.exit();
}
