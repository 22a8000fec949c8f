//! A harness problem is never a skip. Faults are injected where the runner
//! meets the runtime, through the helper binary it is given (a script that
//! stands in for it, kills itself or fakes a report), and by a descriptor
//! limit on the real binary: every case whose requirement could not be
//! decided is `error(harness-failed)` with the cause, no case becomes a
//! skip it is not on a healthy run, and the run earns exit 3.
//! Run with `cargo test --features privileged`.

#![cfg(feature = "privileged")]

mod common;
use common::*;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use isocheck::model::host::HostFacts;
use isocheck::model::result::{Outcome, ReasonKind, Report, Variant};
use isocheck::runtime::protocol::{ExitInfo, HelperReport};
use isocheck::suite::case::{CaseId, Property};
use isocheck::suite::runner::{RunOptions, Runner};

/// Runs share the host's cgroups and namespaces: one at a time.
static ONE: Mutex<()> = Mutex::new(());

/// Writes an executable shell script standing in for the helper. The
/// runner starts its work-namespace holder from the same binary: that part
/// is left to the real isocheck, so only the helper's work is faulty.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\n[ \"$1\" = __workns ] && exec '{}' \"$@\"\n{body}\n",
            bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// Properties whose sandboxes exec no copy of the helper (a copy of a
/// stand-in script would not be isocheck).
fn plain_properties() -> Vec<Property> {
    isocheck::suite::table::builtin()
        .unwrap()
        .into_iter()
        .filter(|p| {
            p.defs.values().all(|d| {
                d.spec_for(Variant::Test).scaffold.exec_copy.is_none()
                    && d.spec_for(Variant::Control).scaffold.exec_copy.is_none()
            })
        })
        .collect()
}

fn run_with(helper: PathBuf, props: &[Property]) -> Report {
    let runner = Runner::new(
        RunOptions {
            helper,
            rootfs: None,
            jobs: 1,
            zygote: false,
        },
        HostFacts::probe(),
    )
    .unwrap();
    let all = |_: &CaseId| true;
    runner.run_all(props, &all, &mut [])
}

/// The helper zygotes (`isocheck __zygote`) this process started.
fn own_zygotes() -> Vec<i32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // The parent pid is the second field after the command's `)`.
            let ppid = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1));
            cmdline.split(|b| *b == 0).any(|a| a == b"__zygote") && ppid == Some(me.as_str())
        })
        .collect()
}

#[test]
fn helpers_forked_by_a_zygote_judge_as_helpers_started_anew_and_a_killed_zygote_is_replaced() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let props = plain_properties();
    let all = |_: &CaseId| true;
    let run = |zygote: bool, runner_hook: &dyn Fn(&Runner)| {
        let runner = Runner::new(
            RunOptions {
                helper: bin(),
                rootfs: None,
                jobs: 2,
                zygote,
            },
            HostFacts::probe(),
        )
        .unwrap();
        runner_hook(&runner);
        runner.run_all(&props, &all, &mut [])
    };
    let started_anew = run(false, &|_| {});
    assert!(own_zygotes().is_empty(), "one-shot helpers need no zygote");
    let forked = run(true, &|runner| {
        // Warm the pool, then kill every zygote while it is idle: the
        // run must start fresh ones and lose no case to it.
        let few: Vec<Property> = props.iter().take(2).cloned().collect();
        runner.run_all(&few, &all, &mut []);
        let zygotes = own_zygotes();
        assert!(
            !zygotes.is_empty(),
            "the run forked no helper from a zygote"
        );
        for z in zygotes {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(z),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
        }
    });
    assert_eq!(outcomes(&forked), outcomes(&started_anew));
    assert!(
        forked.cases.iter().all(|c| c.outcome != Outcome::Error),
        "{:#?}",
        outcomes(&forked)
    );
    // The runner is gone: so are its zygotes (reaped, not left behind).
    assert!(own_zygotes().is_empty(), "zygotes outlived their runner");
}

/// What each case came to: outcome and reason kind.
fn outcomes(r: &Report) -> BTreeMap<String, (Outcome, Option<ReasonKind>)> {
    r.cases
        .iter()
        .map(|c| (c.id.clone(), (c.outcome, c.reason.as_ref().map(|r| r.kind))))
        .collect()
}

/// The rule: against a healthy run of the same cases, a faulty run may
/// turn cases into errors, never into skips; every harness-failed case
/// names one of `causes`; at least `min_errors` cases are harness-failed.
fn check_against(healthy: &Report, faulty: &Report, causes: &[&str], min_errors: usize) {
    let good = outcomes(healthy);
    let mut harness = 0;
    for c in &faulty.cases {
        let r = c.reason.as_ref();
        if c.outcome == Outcome::Skip {
            assert_eq!(
                good.get(&c.id),
                Some(&(Outcome::Skip, r.map(|r| r.kind))),
                "{} became a skip that a healthy run does not give: {r:?}",
                c.id
            );
        }
        if let Some(r) = r.filter(|r| r.kind == ReasonKind::HarnessFailed) {
            harness += 1;
            assert!(
                causes.iter().any(|cause| r.detail.contains(cause)),
                "{}: the cause is missing: {r:?}",
                c.id
            );
            assert_eq!(c.outcome, Outcome::Error, "{}", c.id);
        }
    }
    assert!(
        harness >= min_errors,
        "{harness} harness-failed cases, want at least {min_errors}: {:#?}",
        outcomes(faulty)
    );
    assert_eq!(isocheck::cli::exit_status(faulty), 3);
}

#[test]
fn the_first_requirement_helper_killed_makes_errors_not_skips() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let props = plain_properties();
    let healthy = run_with(bin(), &props);
    let dir = tempfile::tempdir().unwrap();
    let helper = script(
        dir.path(),
        "helper",
        &format!(
            "if mkdir '{}/first' 2>/dev/null; then kill -KILL $$; fi\nexec '{}' \"$@\"",
            dir.path().display(),
            bin().display()
        ),
    );
    let faulty = run_with(helper, &props);
    assert!(dir.path().join("first").exists(), "the helper never ran");
    check_against(&healthy, &faulty, &["SIGKILL"], 2);
}

#[test]
fn a_requirement_sandbox_that_exits_with_the_helpers_failure_status_makes_errors() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let props = isocheck::suite::table::builtin().unwrap();
    let healthy = run_with(bin(), &props);
    // Every sandbox ends with the status the sandbox side of the helper
    // uses for its own failures, before its probe reports.
    let dir = tempfile::tempdir().unwrap();
    let json = report_exiting(121);
    let helper = script(
        dir.path(),
        "helper",
        &format!("cat >/dev/null\nprintf '%s' '{json}'"),
    );
    let faulty = run_with(helper, &props);
    check_against(&healthy, &faulty, &["exit status 121"], 10);
}

#[test]
fn helpers_that_cannot_start_or_speak_make_errors() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let props = isocheck::suite::table::builtin().unwrap();
    let healthy = run_with(bin(), &props);
    let dir = tempfile::tempdir().unwrap();
    // A helper that does not exist cannot start the run's work-namespace
    // holder either: the runner refuses to start, no case is judged.
    let missing = Runner::new(
        RunOptions {
            helper: dir.path().join("missing"),
            rootfs: None,
            jobs: 1,
            zygote: false,
        },
        HostFacts::probe(),
    );
    assert!(missing.is_err());
    for (helper, cause) in [
        (
            script(
                dir.path(),
                "own-status",
                "cat >/dev/null\necho 'isocheck helper: bad request' >&2\nexit 3",
            ),
            "exit status: 3",
        ),
        (
            script(dir.path(), "garbage", "cat >/dev/null\necho 'not json'"),
            "not valid",
        ),
    ] {
        let faulty = run_with(helper, &props);
        check_against(&healthy, &faulty, &[cause], 10);
    }
}

#[test]
fn a_descriptor_limit_makes_errors_not_skips() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let out = tempfile::tempdir().unwrap();
    // One run under `ulimit -n` with these arguments: its exit status,
    // stderr and report, if it wrote one.
    let run = |limit: u32, dir: &Path, args: &[&str]| {
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" run --out \"$@\""))
            .arg(bin())
            .arg(dir)
            .args(args)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        let leg = std::fs::read_dir(dir)
            .ok()
            .and_then(|mut d| d.next())
            .map(|e| e.unwrap().path().join("report.json"))
            .filter(|p| p.exists());
        let report = leg.map(|p| isocheck::report::json::read_report(&p).unwrap());
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            report,
        )
    };
    // Descriptors the environment leaves open count against the limit
    // too, so the limits start from what a child of this test inherits.
    let inherited: u32 = String::from_utf8(
        std::process::Command::new("sh")
            .arg("-c")
            .arg("ls /proc/$$/fd | wc -l")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    let (code, _, healthy) = run(4096, &out.path().join("healthy"), &[]);
    assert_eq!(code, Some(0));
    let healthy = healthy.expect("a healthy run writes its report");
    // Every limit from "not even the work namespace holder starts" up is
    // said before anything runs (exit 3, no report, the cause named),
    // until the first the run has room under: it runs every case as the
    // healthy run does. Never a skip, a fail or a usage error.
    let mut first_run = None;
    for n in inherited + 3..=inherited + 80 {
        let (code, stderr, report) = run(n, &out.path().join(format!("limit-{n}")), &[]);
        match report {
            None => {
                assert_eq!(code, Some(3), "ulimit -n {n}: {stderr}");
                assert!(
                    stderr.contains("(RLIMIT_NOFILE)") || stderr.contains("Too many open files"),
                    "ulimit -n {n}: the cause is missing: {stderr}"
                );
            }
            Some(r) => {
                assert_eq!(outcomes(&r), outcomes(&healthy), "ulimit -n {n}");
                first_run = Some(n);
                break;
            }
        }
    }
    let first_run = first_run.expect("no limit up to 80 above the inherited let the run start");
    // A table whose sandboxes hold more descriptors than the run's estimate
    // (forty idmapped binds, each a user namespace's descriptor while it is
    // made) at the lowest limit a run starts under: its cases may error,
    // naming the exhaustion, and never become skips or fails.
    let binds: Vec<String> = (0..40)
        .map(|i| {
            let o = 100_000 + i * 70_000;
            format!(
                "{{ kind = \"bind\", source = \"scratch\", target = \"/i{i}\", idmap = {{ uid_map = [{{ inside = 0, outside = {o}, count = 65536 }}], gid_map = [{{ inside = 0, outside = {o}, count = 65536 }}] }} }}"
            )
        })
        .collect();
    let table = out.path().join("idmaps.toml");
    std::fs::write(
        &table,
        format!(
            r#"
[[property]]
id = "custom.many_idmaps"
description = "forty idmapped binds of the scratch directory"
requires = ["kernel-feature idmapped-mount"]
probe = {{ kind = "file-owner", path = "/i39/isocheck-marker" }}
sandbox = {{ namespaces = ["mount", "pid"], mounts = [{}], scratch_marker = true }}
expect = [{{ path = "probe.uid", eq = 2830000 }}]
control = {{ off = "idmap /i39", expect = [{{ path = "probe.uid", eq = 0 }}] }}
"#,
            binds.join(", ")
        ),
    )
    .unwrap();
    let args = ["--suite", table.to_str().unwrap(), "--jobs", "1"];
    let (_, stderr, roomy) = run(4096, &out.path().join("idmaps-healthy"), &args);
    let roomy = roomy.unwrap_or_else(|| panic!("{stderr}"));
    let (_, stderr, tight) = run(first_run, &out.path().join("idmaps-tight"), &args);
    let tight = tight.unwrap_or_else(|| panic!("ulimit -n {first_run}: {stderr}"));
    for c in &tight.cases {
        let healthy_outcome = outcomes(&roomy).get(&c.id).cloned();
        match c.outcome {
            Outcome::Error => {
                let detail = c
                    .reason
                    .as_ref()
                    .map(|r| r.detail.clone())
                    .unwrap_or_default();
                assert!(
                    detail.contains("EMFILE") || detail.contains("Too many open files"),
                    "{}: {detail}",
                    c.id
                );
            }
            o => assert_eq!(
                Some((o, c.reason.as_ref().map(|r| r.kind))),
                healthy_outcome,
                "{}",
                c.id
            ),
        }
    }
}

#[test]
fn the_audit_blames_no_knob_or_security_module_for_a_killed_helper() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let helper = script(dir.path(), "helper", "kill -KILL $$");
    let runner = Runner::new(
        RunOptions {
            helper,
            rootfs: None,
            jobs: 1,
            zygote: false,
        },
        HostFacts::probe(),
    )
    .unwrap();
    let audit = runner.audit();
    let userns = audit
        .checks
        .iter()
        .find(|c| c.feature == "unprivileged user namespaces")
        .unwrap();
    assert_eq!(
        userns.status,
        isocheck::model::result::AuditStatus::Error,
        "{userns:?}"
    );
    assert!(userns.behaviour.contains("SIGKILL"), "{userns:?}");
    assert!(
        !userns.policy.iter().any(|p| p.contains("security module")),
        "{userns:?}"
    );
    // Every check a helper decides (tried as root only) says the probe
    // broke.
    use isocheck::model::result::AuditStatus::{Error, Unprobed};
    for c in audit
        .checks
        .iter()
        .filter(|c| c.feature.ends_with(" namespaces"))
    {
        assert!(matches!(c.status, Error | Unprobed), "{c:?}");
    }
}

/// A helper's report, as JSON, of a sandbox that exited with `code` and
/// reported nothing else.
fn report_exiting(code: i32) -> String {
    serde_json::to_string(&HelperReport {
        exit: Some(ExitInfo {
            code: Some(code),
            signal: None,
        }),
        ..Default::default()
    })
    .unwrap()
}

/// Runs one sandbox through a launcher that starts `helper` anew, on a
/// thread of its own: `None` when it had not returned within `within`
/// (the runner would hang there).
fn one_sandbox_within(
    helper: PathBuf,
    within: std::time::Duration,
) -> Option<Result<isocheck::runtime::spawn::Observation, String>> {
    let launcher = isocheck::runtime::spawn::Launcher::one_shot(helper).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let spec = isocheck::model::spec::SandboxSpec {
            rootfs: isocheck::model::spec::Rootfs::Host,
            ..Default::default()
        };
        let r = launcher.run("stderr", &spec, &isocheck::probe::Probe::noop());
        let _ = tx.send(r.map_err(|e| e.to_string()));
    });
    rx.recv_timeout(within).ok()
}

#[test]
fn a_helper_that_writes_much_to_stderr_after_its_report_does_not_hang_the_runner() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let json = report_exiting(0);
    // The report, stdout closed, then more than a pipe holds on stderr
    // before the helper exits: the runner must keep reading stderr while
    // it waits for the helper's status.
    let helper = script(
        dir.path(),
        "helper",
        &format!(
            "cat >/dev/null\nprintf '%s' '{json}'\nexec 1>&-\nhead -c 1048576 /dev/zero | tr '\\0' x >&2"
        ),
    );
    let got = one_sandbox_within(helper, std::time::Duration::from_secs(60))
        .expect("the runner still waits for a helper blocked on a full stderr pipe");
    // The report was whole and the status 0: an observation, not an error.
    assert!(got.is_ok(), "{got:?}");
}

#[test]
fn a_helper_whose_stderr_outlives_its_group_does_not_hang_the_runner() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let json = report_exiting(0);
    // A process of its own session (out of the reach of the group kill)
    // keeps the helper's stderr open long after the helper has exited. The
    // helper reports only once the stray has its session (it has written
    // its pid), so the group kill can never reach it.
    let stray = dir.path().join("stray");
    let helper = script(
        dir.path(),
        "helper",
        &format!(
            "cat >/dev/null\nsetsid sh -c 'echo $$ > \"$0\"; exec sleep 120' '{}' </dev/null >/dev/null &\nwhile [ ! -s '{}' ]; do sleep 0.01; done\nprintf '%s' '{json}'",
            stray.display(),
            stray.display()
        ),
    );
    let started = std::time::Instant::now();
    let got = one_sandbox_within(helper, std::time::Duration::from_secs(60))
        .expect("the runner still waits for the end of a stderr a stray process holds");
    let took = started.elapsed();
    if let Some(pid) = std::fs::read_to_string(&stray)
        .ok()
        .and_then(|p| p.trim().parse::<i32>().ok())
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(got.is_ok(), "{got:?}");
    // Well before the stray's 120 s: the runner stops reading soon after
    // the helper's group is gone.
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_pids_limit_makes_list_and_run_give_errors_not_panics_or_skips() {
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    // A throwaway child of the pids hierarchy (v1, else cgroup2's root
    // where it has the controller), removed at the end.
    let v1 = Path::new("/sys/fs/cgroup/pids");
    let v2 = Path::new("/sys/fs/cgroup");
    let parent = if v1.join("cgroup.procs").exists() {
        Some(v1)
    } else {
        std::fs::read_to_string(v2.join("cgroup.subtree_control"))
            .is_ok_and(|c| c.split_whitespace().any(|w| w == "pids"))
            .then_some(v2)
    };
    // Without a pids hierarchy this test would assert nothing: it says so
    // instead of passing.
    let parent = parent.expect(
        "no pids hierarchy (v1 /sys/fs/cgroup/pids, or pids in cgroup2's \
         subtree_control): this test limits isocheck's tasks with one",
    );
    // isocheck with `args`, started in a throwaway pids cgroup of `max`.
    let under = |max: u32, args: &str| {
        let cg = parent.join(format!("isocheck-test-pids-{}-{max}", std::process::id()));
        std::fs::create_dir(&cg).unwrap();
        std::fs::write(cg.join("pids.max"), max.to_string()).unwrap();
        let o = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("echo $$ > \"$1\" && exec \"$0\" {args}"))
            .arg(bin())
            .arg(cg.join("cgroup.procs"))
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        let _ = std::fs::remove_dir(&cg);
        o
    };
    for max in [2, 4, 6, 8] {
        let o = under(max, "list --json");
        let (stdout, stderr) = text(&o);
        assert!(!stderr.contains("panicked"), "pids.max {max}: {stderr}");
        // A run under the same limit: no panic either (its job threads,
        // the audit's and the signal watcher's), and what it could not do
        // makes it exit 3.
        let run = under(max, "run --no-write --format terse --audit always");
        let (_, run_err) = text(&run);
        assert!(
            !run_err.contains("panicked"),
            "run, pids.max {max}: {run_err}"
        );
        assert_eq!(run.status.code(), Some(3), "run, pids.max {max}: {run_err}");
        // Either the runner could not start at all (exit 3), or every
        // requirement it could not decide is an error, never a skip.
        if o.status.code() == Some(3) {
            continue;
        }
        assert_eq!(o.status.code(), Some(0), "pids.max {max}: {stderr}");
        let list: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        for c in list["cases"].as_array().unwrap() {
            for r in c["requirements"].as_array().unwrap() {
                let observed = r["observed"].as_str().unwrap_or_default();
                if observed.contains("EAGAIN") || observed.contains("failed to start") {
                    assert_eq!(r["reason"]["kind"], "harness-failed", "pids.max {max}: {r}");
                }
            }
        }
    }
}
