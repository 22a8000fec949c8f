//! The command line's answers to bad input: a clear error naming the
//! file, line or field, exit status 2, and nothing run. Needs no root.

mod common;
use common::*;

#[test]
fn a_malformed_table_names_file_line_row_and_field_and_runs_nothing() {
    let out_dir = tempfile::tempdir().unwrap();
    let table = fixture("suites/malformed.toml");
    let o = isocheck(&[
        "run",
        "--suite",
        table.to_str().unwrap(),
        "--out",
        out_dir.path().to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("malformed.toml:5: property #1 (pid.pid1), field `sandbox.mounts[0].kind`: unknown variant `prok`"), "{stderr}");
    assert!(stdout.is_empty(), "nothing may run: {stdout}");
    assert_eq!(
        std::fs::read_dir(out_dir.path()).unwrap().count(),
        0,
        "no report is written"
    );
}

/// Each fixture under fixtures/suites/refused/ holds one row the table
/// policy or the expectation checks refuse: (file, line, field, why).
const REFUSED: &[(&str, usize, &str, &str)] = &[
    (
        "rw_bind_etc",
        7,
        "sandbox.mounts[0].readonly",
        "host path \"/etc\" bound writable: only the case's scratch directory",
    ),
    (
        "rw_bind_root",
        7,
        "sandbox.mounts[0].readonly",
        "host path \"/\" bound writable",
    ),
    (
        "relative_bind_source",
        7,
        "sandbox.mounts[0].source",
        "\"../../etc\" must be an absolute path",
    ),
    (
        "host_root_write",
        6,
        "probe.dir",
        "lies on the host's root file system (rootfs = host)",
    ),
    (
        "host_root_chown",
        6,
        "probe.path",
        "probe `chown` writes \"/etc/passwd\"",
    ),
    (
        "control_no_pivot_root",
        9,
        "control.off",
        "the control's sandbox (`pivot-root` off) is refused: `probe.dir`",
    ),
    (
        "mount_without_mount_ns",
        7,
        "sandbox.namespaces",
        "its mounts land in the runner's",
    ),
    (
        "long_hostname",
        7,
        "sandbox.hostname",
        "300 bytes is over the kernel's 64",
    ),
    (
        "nul_hostname",
        7,
        "sandbox.hostname",
        "must not contain a NUL byte",
    ),
    ("memory_zero", 7, "sandbox.cgroup.memory_max", "under 1 MiB"),
    (
        "memory_2_63",
        7,
        "sandbox.cgroup.memory_max",
        "bytes is over this host's RAM",
    ),
    (
        "pids_zero",
        7,
        "sandbox.cgroup.pids_max",
        "outside 1..=4194304",
    ),
    (
        "timeout_long",
        7,
        "sandbox.timeout_ms",
        "outside 1..=600000",
    ),
    (
        "uid_map_overlap",
        7,
        "sandbox.uid_map[1]",
        "overlaps that of line 0",
    ),
    ("uid_map_wrap", 7, "sandbox.uid_map[0]", "ids are 32 bits"),
    (
        "unknown_path",
        8,
        "expect[0]",
        "no observation of this probe and sandbox has `probe.pid`",
    ),
    (
        "ne_impossible",
        9,
        "control.expect[0]",
        "is always true, so it proves nothing",
    ),
    (
        "control_same_as_test",
        9,
        "control.expect",
        "the control expects only what the test expects",
    ),
    ("contradiction", 8, "expect[1]", "can never all hold"),
    (
        "exec_host_program",
        6,
        "probe.path",
        "the exec probe runs only isocheck's own copy",
    ),
    (
        "write_in_rootfs_tree",
        6,
        "probe.path",
        "lies on a host tree (rootfs = dir)",
    ),
    (
        "builtin_id_other_knob",
        9,
        "control.off",
        "a row that names it keeps that knob",
    ),
    (
        "tmpfs_hidden_by_a_later_proc",
        6,
        "probe.path",
        "lies on a kernel file system the sandbox mounts last over it",
    ),
];

#[test]
fn hostile_and_unsound_rows_are_refused_before_anything_runs() {
    let listed: Vec<String> = std::fs::read_dir(fixture("suites/refused"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        listed.len(),
        REFUSED.len() + 1,
        "every fixture is checked: {listed:?}"
    );
    let check = |name: &str, line: usize, wants: &[&str]| {
        let table = fixture(&format!("suites/refused/{name}.toml"));
        let out = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        let o = std::process::Command::new(bin())
            .args([
                "run",
                "--suite",
                table.to_str().unwrap(),
                "--out",
                out.path().to_str().unwrap(),
            ])
            .env("ISOCHECK_WORK_DIR", work.path())
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {stderr}");
        let at = format!("{}:{line}: ", table.display());
        for want in wants {
            assert!(
                stderr.contains(&format!("{at}property #1 (custom.{name})"))
                    || stderr.contains(&format!("{at}property #1 (pid.pid1)"))
                    || wants.len() == 1,
                "{name}: {stderr}"
            );
            assert!(
                stderr.contains(&at) && stderr.contains(want),
                "{name}: want {at}...{want}\n{stderr}"
            );
        }
        assert!(stdout.is_empty(), "{name}: nothing may run: {stdout}");
        for (dir, what) in [
            (out.path(), "no report is written"),
            (work.path(), "no sandbox is made"),
        ] {
            let left: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
            assert!(left.is_empty(), "{name}: {what}: {left:?}");
        }
    };
    for (name, line, field, why) in REFUSED {
        check(name, *line, &[&format!("field `{field}`: "), why]);
    }
    check("not_utf8", 7, &["not UTF-8: byte 0xe9"]);
}

#[test]
fn a_missing_table_file_is_named() {
    let o = isocheck(&["list", "--suite", "/nonexistent/t.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("/nonexistent/t.toml"));
}

#[test]
fn a_rootfs_that_is_not_a_directory_is_refused_before_anything_runs() {
    for (arg, msg) in [
        ("/nonexistent/rootfs", "No such file"),
        ("/etc/hostname", "not a directory"),
    ] {
        let o = isocheck(&["run", "--no-write", "--rootfs", arg]);
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{arg}: {stderr}");
        assert!(stderr.contains(arg) && stderr.contains(msg), "{stderr}");
        assert!(stdout.is_empty(), "{stdout}");
    }
}

/// Runs isocheck with one environment variable set.
fn isocheck_env(args: &[&str], var: &str, value: &str) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .env(var, value)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

/// Exits 2 before anything runs (no console output), naming `what`.
fn refused_before_the_run(o: &std::process::Output, what: &str) {
    let (stdout, stderr) = text(o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(what), "{what}: {stderr}");
    assert!(stdout.is_empty(), "ran: {stdout}");
}

#[test]
fn bad_arguments_and_environment_are_refused_before_anything_runs() {
    let empty = tempfile::tempdir().unwrap();
    let e = empty.path().to_str().unwrap();
    refused_before_the_run(&isocheck(&["run", "--jobs", "0"]), "--jobs");
    refused_before_the_run(
        &isocheck(&["run", "--no-write", "--rootfs", e]),
        "an empty directory",
    );
    refused_before_the_run(
        &isocheck_env(
            &["run", "--no-write"],
            "ISOCHECK_WORK_DIR",
            "/nonexistent/w",
        ),
        "ISOCHECK_WORK_DIR=\"/nonexistent/w\"",
    );
    refused_before_the_run(
        &isocheck_env(&["list"], "ISOCHECK_WORK_DIR", "/nonexistent/w"),
        "ISOCHECK_WORK_DIR",
    );
    refused_before_the_run(
        &isocheck_env(&["run", "--no-write"], "ISOCHECK_RUN_ID", "../x"),
        "ISOCHECK_RUN_ID",
    );
    refused_before_the_run(&isocheck(&["run", "--out", "/proc/x"]), "--out /proc/x");
    refused_before_the_run(
        &isocheck(&["run", "--no-write", "--junit", "/proc/x/junit.xml"]),
        "--junit /proc/x/junit.xml",
    );
    for label in ["layout=/../../../x", "layout=..", "layout=a/b", "k=a\nb"] {
        refused_before_the_run(&isocheck(&["run", "--out", e, "--label", label]), "--label");
    }
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
}

#[test]
fn planted_links_in_the_output_are_refused_and_never_followed() {
    let t = tempfile::tempdir().unwrap();
    let victim = t.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let out = t.path().join("out");
    let release = nix::sys::utsname::uname()
        .unwrap()
        .release()
        .to_string_lossy()
        .into_owned();
    // A link at report.json.
    std::fs::create_dir_all(out.join(&release)).unwrap();
    std::os::unix::fs::symlink(&victim, out.join(&release).join("report.json")).unwrap();
    let o = isocheck(&["run", "--out", out.to_str().unwrap()]);
    refused_before_the_run(&o, "report.json: exists as a symbolic link");
    // A link as the leg directory.
    std::fs::remove_dir_all(&out).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, out.join(&release)).unwrap();
    let o = isocheck(&["run", "--out", out.to_str().unwrap()]);
    refused_before_the_run(&o, "is a symbolic link");
    // A link as --out itself.
    let o = isocheck(&["run", "--out", out.join(&release).to_str().unwrap()]);
    refused_before_the_run(&o, "is a symbolic link");
    // A link at the JUnit file.
    std::os::unix::fs::symlink(&victim, t.path().join("junit.xml")).unwrap();
    let o = isocheck(&[
        "run",
        "--no-write",
        "--junit",
        t.path().join("junit.xml").to_str().unwrap(),
    ]);
    refused_before_the_run(&o, "junit.xml: exists as a symbolic link");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(isocheck(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        isocheck(&["run", "--label", "no-equals-sign"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        isocheck(&["run", "--no-write", "--filter", "no.such.case"])
            .status
            .code(),
        Some(2)
    );
    // `list` says a filter that takes nothing, as `run` does.
    let o = isocheck(&["list", "no.such.case"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no case matches the filters"));
}

#[test]
fn list_shows_every_case_with_its_requirements_without_running() {
    let o = isocheck(&["list", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    fits_schema("list.schema.json", &list);
    let rows = list["cases"].as_array().unwrap();
    let builtin = isocheck::suite::table::builtin().unwrap();
    let want: usize = builtin.iter().map(|p| p.cases().len()).sum();
    assert_eq!(
        rows.len(),
        want,
        "every mode of every property, test and control"
    );
    assert!(rows.len() >= 28, "the core seven run rootful and rootless");
    let oom = rows
        .iter()
        .find(|r| r["id"] == "cgroup.memory_oom/rootful/test")
        .unwrap();
    let reqs: Vec<&str> = oom["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["requirement"].as_str().unwrap())
        .collect();
    // The row's own, then the namespace its sandbox makes that it does
    // not name (a refusal of it is decided before the case runs).
    assert_eq!(
        reqs,
        [
            "root",
            "namespace pid",
            "cgroup-controller memory",
            "namespace mount"
        ]
    );
    assert!(oom["requirements"][2]["probe"]
        .as_str()
        .unwrap()
        .contains("cgroup"));
}

/// A committed reference report, and a copy of it in which one passing
/// test now fails.
fn reference_and_regressed(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, String) {
    let base = std::fs::read_dir(root().join("reports"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("report.json"))
        .find(|p| p.exists())
        .expect("a committed reference report");
    let mut report = read_json(&base);
    let case = report["cases"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["outcome"] == "pass" && c["variant"] == "test")
        .unwrap();
    case["outcome"] = "fail".into();
    case["reason"] =
        serde_json::json!({"kind": "promise-broken", "detail": "probe.self_pid eq 1, got 4242"});
    let id = case["id"].as_str().unwrap().to_string();
    let new = dir.join("new.json");
    std::fs::write(&new, serde_json::to_vec(&report).unwrap()).unwrap();
    (base, new, id)
}

#[test]
fn diff_exits_1_on_a_regression_and_names_it() {
    let t = tempfile::tempdir().unwrap();
    let (base, new, id) = reference_and_regressed(t.path());
    let o = isocheck(&["diff", base.to_str().unwrap(), new.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).0.contains(&id), "{}", text(&o).0);
    let o = isocheck(&[
        "diff",
        "--json",
        base.to_str().unwrap(),
        new.to_str().unwrap(),
    ]);
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    fits_schema("diff.schema.json", &d);
    assert_eq!(d["regressions"].as_array().unwrap().len(), 1, "{d}");
    let same = isocheck(&["diff", base.to_str().unwrap(), base.to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(0));
}

#[test]
fn matrix_highlights_the_regressed_leg_and_refuses_non_reports() {
    let t = tempfile::tempdir().unwrap();
    let (base, new, id) = reference_and_regressed(t.path());
    // The regressed copy is another leg.
    let mut r = read_json(&new);
    r["labels"] = serde_json::json!({"layout": "regressed"});
    std::fs::write(&new, serde_json::to_vec(&r).unwrap()).unwrap();
    // Its report page, which the matrix links to from beside the page.
    std::fs::write(t.path().join("report.html"), "<!DOCTYPE html>").unwrap();
    let out = t.path().join("m");
    let o = isocheck(&[
        "matrix",
        base.to_str().unwrap(),
        new.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "a regression: {}", text(&o).1);
    assert!(text(&o).0.contains("1 regressions"), "{}", text(&o).0);
    let m = read_json(&out.join("matrix.json"));
    fits_schema("matrix.schema.json", &m);
    let flagged: Vec<&serde_json::Value> = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["cells"].as_array().unwrap())
        .filter(|c| c["regression"] == true)
        .collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["test"]["id"], id.as_str());
    let page = std::fs::read_to_string(out.join("matrix.html")).unwrap();
    assert!(page.contains(&id));
    assert_eq!(m["legs"][1]["report"], "../report.html");
    assert!(page.contains(r#"href="../report.html#case-"#));
    assert_eq!(m["legs"][1]["layout"], "regressed");

    let bad = isocheck(&["matrix", "/etc/hostname", "--out", out.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).1.contains("/etc/hostname"));
    let mut future = read_json(&base);
    future["schema_version"] = 99.into();
    let f = t.path().join("future.json");
    std::fs::write(&f, serde_json::to_vec(&future).unwrap()).unwrap();
    let o = isocheck(&["diff", f.to_str().unwrap(), base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).1.contains("future.json") && text(&o).1.contains("99"),
        "{}",
        text(&o).1
    );
}

/// The sabotage catalogue lives only in builds with the feature `sabotage`;
/// elsewhere the command and the variable are refused, never ignored.
#[test]
fn the_sabotage_command_needs_its_feature_and_knows_its_names() {
    let o = isocheck(&["sabotage", "--list"]);
    let (stdout, stderr) = text(&o);
    if !cfg!(feature = "sabotage") {
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("built without the feature `sabotage`"),
            "{stderr}"
        );
        let o = std::process::Command::new(bin())
            .args(["list"])
            .env("ISOCHECK_SABOTAGE", "ns-pid-dropped")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
        return;
    }
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 30, "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ns-pid-dropped") && l.contains("pid.pid1 (rootful")),
        "{stdout}"
    );
    let o = isocheck(&["sabotage", "no-such-sabotage"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    let o = std::process::Command::new(bin())
        .args(["list"])
        .env("ISOCHECK_SABOTAGE", "no-such-sabotage")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    assert!(text(&o).1.contains("no such sabotage"));
}

/// `report summary` counts a report's outcomes from its cases, for the
/// kernel matrix; a file that is not a report is named, with the JSON path
/// of the value that does not fit, and exits 2.
#[test]
fn report_summary_counts_from_the_cases_and_names_what_it_refuses() {
    let t = tempfile::tempdir().unwrap();
    let (base, new, _) = reference_and_regressed(t.path());
    let mut want = [0usize; 5];
    for c in read_json(&base)["cases"].as_array().unwrap() {
        want[0] += 1;
        match c["outcome"].as_str().unwrap() {
            "pass" => want[1] += 1,
            "fail" => want[2] += 1,
            "skip" => want[3] += 1,
            _ => want[4] += 1,
        }
    }
    let line = |w: [usize; 5]| {
        format!(
            "total={} pass={} fail={} skip={} error={}\n",
            w[0], w[1], w[2], w[3], w[4]
        )
    };
    let o = isocheck(&["report", "summary", base.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    assert_eq!(text(&o).0, line(want));
    // The regressed copy: one pass became a fail, whatever its stored summary says.
    let o = isocheck(&["report", "summary", new.to_str().unwrap()]);
    assert_eq!(
        text(&o).0,
        line([want[0], want[1] - 1, want[2] + 1, want[3], want[4]])
    );
    let o = isocheck(&["report", "summary", "--json", base.to_str().unwrap()]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j, read_json(&base)["summary"]);

    let mut bad = read_json(&base);
    bad["cases"][2]["outcome"] = "maybe".into();
    let f = t.path().join("bad.json");
    std::fs::write(&f, serde_json::to_vec(&bad).unwrap()).unwrap();
    let o = isocheck(&["report", "summary", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(
        err.contains("bad.json") && err.contains("cases[2].outcome"),
        "{err}"
    );
    let o = isocheck(&["report", "summary", "/etc/hostname"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("/etc/hostname"), "{}", text(&o).1);
}

#[test]
fn a_fresh_run_and_audit_write_json_that_fits_the_committed_schemas() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("out");
    let ktap = t.path().join("run.ktap");
    let junit = t.path().join("junit.xml");
    let o = isocheck(&[
        "run",
        "--filter",
        "uts.hostname/",
        "--out",
        out.to_str().unwrap(),
        "--ktap",
        ktap.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--label",
        "layout=fresh",
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "{}", text(&o).1);
    let leg = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report = read_json(&leg.join("report.json"));
    fits_schema("report.schema.json", &report);
    let n = report["cases"].as_array().unwrap().len();
    assert!(n >= 2, "{report}");
    // The KTAP file has one result line per case, and the JUnit file names
    // the leg in every test.
    let ktap = std::fs::read_to_string(&ktap).unwrap();
    assert!(ktap.starts_with("KTAP version 1\n"), "{ktap}");
    let results = ktap
        .lines()
        .filter(|l| l.starts_with("  ok ") || l.starts_with("  not ok "))
        .count();
    assert_eq!(results, n, "{ktap}");
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), n);
    assert_eq!(junit.matches("-fresh]\"").count(), n, "{junit}");

    let o = isocheck(&["audit", "--json", "--no-write"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let audit: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    fits_schema("audit.schema.json", &audit);
    assert_eq!(audit["schema_version"], "1.1");

    // `audit --for`: an answer per profile, in the schema; exit 1 exactly
    // when one is no.
    let o = isocheck(&[
        "audit",
        "--json",
        "--no-write",
        "--for",
        "rootless-podman",
        "--for",
        "docker",
    ]);
    let audit: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    fits_schema("audit.schema.json", &audit);
    let answers: Vec<&str> = audit["readiness"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["answer"].as_str().unwrap())
        .collect();
    assert_eq!(answers.len(), 2, "{audit}");
    let no = answers.contains(&"no");
    assert_eq!(o.status.code(), Some(if no { 1 } else { 0 }), "{answers:?}");

    // `--format json`: standard output is JSON lines only, each fitting
    // the stream's schema: started, a line per case, finished; the paths of
    // the reports go to standard error.
    let o = isocheck(&[
        "run",
        "--format",
        "json",
        "uts.hostname/",
        "--out",
        t.path().join("json-out").to_str().unwrap(),
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "{}", text(&o).1);
    let (stdout, stderr) = text(&o);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for l in &lines {
        fits_schema("run-stream.schema.json", l);
    }
    assert_eq!(lines[0]["event"], "started");
    assert_eq!(lines[0]["schema_version"], "1.0");
    assert_eq!(lines.last().unwrap()["event"], "finished");
    assert_eq!(lines.len(), n + 2, "{stdout}");
    assert!(stderr.contains("reports: "), "{stderr}");

    // `--format ktap`: standard output is the KTAP document.
    let o = isocheck(&["run", "--format", "ktap", "--no-write", "uts.hostname/"]);
    assert!(matches!(o.status.code(), Some(0 | 1 | 3)), "{}", text(&o).1);
    let (stdout, _) = text(&o);
    assert!(stdout.starts_with("KTAP version 1\n"), "{stdout}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("  ok ") || l.starts_with("  not ok "))
            .count(),
        n,
        "{stdout}"
    );

    // `--format terse`: a character per case on one line.
    let o = isocheck(&["run", "--format", "terse", "--no-write", "uts.hostname/"]);
    let (stdout, _) = text(&o);
    let chars = stdout.lines().nth(1).unwrap_or_default();
    assert_eq!(chars.chars().count(), n, "{stdout}");
    assert!(chars.chars().all(|c| ".FsE".contains(c)), "{stdout}");
}

/// Validates `doc` against the committed schema `schemas/<name>`, listing
/// every error.
fn fits_schema(name: &str, doc: &serde_json::Value) {
    let schema = read_json(&root().join("schemas").join(name));
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:#?}");
}

/// The ids `list --json` prints for these arguments.
fn listed(args: &[&str]) -> Vec<String> {
    let o = isocheck(&[&["list", "--json"], args].concat());
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o).1);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    list["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn positional_filters_skip_and_exact_select_the_same_cases_in_list_and_run() {
    let all = listed(&[]);
    let or = listed(&["pid.pid1", "uts."]);
    assert!(!or.is_empty());
    let want: Vec<&String> = all
        .iter()
        .filter(|id| id.contains("pid.pid1") || id.contains("uts."))
        .collect();
    assert_eq!(or.iter().collect::<Vec<_>>(), want, "an OR of substrings");
    assert!(or.iter().any(|id| id.starts_with("uts.")));
    assert_eq!(
        listed(&["pid.pid1", "--filter", "uts."]),
        or,
        "positional filters are --filter"
    );
    let skipped = listed(&["pid.pid1", "uts.", "--skip", "/control"]);
    assert_eq!(
        skipped,
        or.iter()
            .filter(|id| !id.contains("/control"))
            .cloned()
            .collect::<Vec<_>>()
    );
    // Exact: a whole property id or case id, never part of one.
    let exact = listed(&["--exact", "pid.pid1", "uts.hostname/rootful/test"]);
    assert!(exact
        .iter()
        .all(|id| id.starts_with("pid.pid1/") || id == "uts.hostname/rootful/test"));
    assert!(exact.contains(&"uts.hostname/rootful/test".to_string()));
    assert!(
        exact
            .iter()
            .filter(|id| id.starts_with("pid.pid1/"))
            .count()
            >= 2
    );
    // An exact filter is no prefix: it takes nothing here, which `list`
    // says as `run` does.
    let o = isocheck(&["list", "--json", "--exact", "pid.pid"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);
    assert!(o.stdout.is_empty());

    // `run --list` prints what `list` prints, runs nothing, writes nothing.
    let out = tempfile::tempdir().unwrap();
    let reports = out.path().join("reports");
    let args = ["pid.pid1", "uts.", "--skip", "/control"];
    let run = isocheck(
        &[
            &["run", "--list", "--out", reports.to_str().unwrap()][..],
            &args,
        ]
        .concat(),
    );
    let list = isocheck(&[&["list"][..], &args].concat());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run).1);
    assert_eq!(text(&run).0, text(&list).0);
    let ids: Vec<String> = text(&run)
        .0
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect();
    assert_eq!(ids, skipped);
    assert!(!reports.exists(), "run --list writes nothing");
    // A skip that leaves nothing is bad usage, as a filter matching nothing.
    let o = isocheck(&["run", "--list", "pid.pid1", "--skip", "pid."]);
    assert_eq!(o.status.code(), Some(2));
}

/// The exit statuses a `--help` text lists (`  N  meaning` lines).
fn help_codes(help: &str) -> std::collections::BTreeSet<u8> {
    help.lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn every_help_states_the_exit_codes_the_readme_lists() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    // README's exit-status table: `| N | meaning | commands |`.
    let section = readme
        .split("\n## Exit status\n")
        .nth(1)
        .expect("README has an exit status section");
    let mut table: std::collections::BTreeMap<u8, String> = Default::default();
    for row in section.lines().take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        if let (Some(code), Some(commands)) =
            (cells.get(1).and_then(|c| c.parse().ok()), cells.get(3))
        {
            table.insert(code, commands.to_string());
        }
    }
    assert_eq!(
        table.keys().copied().collect::<Vec<u8>>(),
        [0, 1, 2, 3, 129, 130, 143]
    );
    let mut seen = std::collections::BTreeSet::new();
    for command in [
        "run",
        "list",
        "bench",
        "matrix",
        "diff",
        "audit",
        "sabotage",
        "report",
        "completions",
        "man",
    ] {
        let o = isocheck(&[command, "--help"]);
        assert_eq!(o.status.code(), Some(0), "{command}");
        let help = text(&o).0;
        let (_, after) = help
            .split_once("Exit status:")
            .unwrap_or_else(|| panic!("{command} --help states no exit status: {help}"));
        let codes = help_codes(after);
        assert!(
            codes.contains(&0) && codes.contains(&2),
            "{command}: {codes:?}"
        );
        for code in &codes {
            let commands = table
                .get(code)
                .unwrap_or_else(|| panic!("{command}: {code} is not in README's table"));
            assert!(
                commands == "every command" || commands.contains(&format!("`{command}`")),
                "README's row {code} does not name `{command}`: {commands}"
            );
            seen.insert(*code);
        }
    }
    assert_eq!(
        seen,
        table.keys().copied().collect(),
        "a README code no help states"
    );
}

/// Completions and man pages come from the command line's definition:
/// every command and `run`'s options are in them, the bash script parses,
/// and each command gets its page with its exit statuses.
#[test]
fn completions_and_man_pages_are_generated_from_the_cli() {
    for shell in ["bash", "zsh", "fish"] {
        let o = isocheck(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let script = text(&o).0;
        for word in ["isocheck", "matrix", "format", "exact", "terse"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let t = tempfile::tempdir().unwrap();
    let bash = t.path().join("isocheck.bash");
    std::fs::write(&bash, isocheck(&["completions", "bash"]).stdout).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&bash)
        .status()
        .unwrap();
    assert!(syntax.success());
    let o = isocheck(&["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));

    let o = isocheck(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o).0.contains(".TH isocheck 1"));
    let dir = t.path().join("man");
    let o = isocheck(&["man", "--out", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    for command in ["run", "list", "matrix", "audit", "diff", "report"] {
        let page = std::fs::read_to_string(dir.join(format!("isocheck-{command}.1"))).unwrap();
        assert!(
            page.contains(&format!(".TH isocheck-{command} 1")),
            "{page}"
        );
        assert!(page.contains("Exit status:"), "{command}: {page}");
    }
}
