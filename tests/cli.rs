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
}

#[test]
fn list_shows_every_case_with_its_requirements_without_running() {
    let o = isocheck(&["list", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 32, "16 properties x test and control");
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
    assert_eq!(reqs, ["root", "namespace pid", "cgroup-controller memory"]);
    assert!(oom["requirements"][2]["probe"]
        .as_str()
        .unwrap()
        .contains("cgroup"));
}
