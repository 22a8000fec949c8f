//! The observation schema (`src/probe/schema.rs`) against what the
//! built-in cases really observe, both ways: a path a run produced that
//! the schema does not declare (or of another type), and a declared path
//! no run produced, each fail the test by name. Tables are checked against
//! the schema when they load, so it must not drift from the probes. Runs
//! the whole suite as root: `cargo test --features privileged --test schema`.

mod common;
use common::*;
use std::collections::{BTreeMap, BTreeSet};

use isocheck::model::result::{Mode, Variant};
use isocheck::probe::schema;

/// Every concrete path of `v` with its value, array indices kept.
fn walk<'a>(v: &'a serde_json::Value, at: String, out: &mut Vec<(String, &'a serde_json::Value)>) {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| walk(x, join(k), out)),
        serde_json::Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, x)| walk(x, join(&i.to_string()), out)),
        _ => {}
    }
    if !at.is_empty() {
        out.push((at, v));
    }
}

#[test]
fn the_schema_declares_exactly_what_the_builtin_cases_observe() {
    let out = tempfile::tempdir().unwrap();
    let o = isocheck(&["run", "--out", out.path().to_str().unwrap()]);
    let leg = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .unwrap_or_else(|| panic!("no report: {}", text(&o).1))
        .unwrap()
        .path();
    let report = read_json(&leg.join("report.json"));
    let props = isocheck::suite::table::builtin().unwrap();
    let mut undeclared: BTreeSet<String> = BTreeSet::new();
    // Per probe kind: the declared paths, and those some run produced.
    let mut declared: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut produced: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let mut judged = 0;
    for case in report["cases"].as_array().unwrap() {
        let observed = &case["observed"];
        if observed.is_null() {
            continue; // skipped: nothing ran
        }
        let p = props
            .iter()
            .find(|p| p.id == case["property"])
            .unwrap_or_else(|| panic!("{} is not a built-in property", case["id"]));
        let mode = if case["mode"] == "rootful" {
            Mode::Rootful
        } else {
            Mode::Rootless
        };
        let variant = if case["variant"] == "test" {
            Variant::Test
        } else {
            Variant::Control
        };
        let def = p.def(mode);
        let fields = def.probe.fields(&def.spec_for(variant));
        let kind = def.probe.name();
        // A probe's paths are its kind's; what the runner adds is checked
        // over every case at once.
        let owner = |path: &str| {
            if path.starts_with("probe") {
                kind
            } else {
                "runner"
            }
        };
        for f in fields.iter().filter(|f| !f.rare) {
            declared
                .entry(owner(&f.path))
                .or_default()
                .insert(f.path.to_string());
        }
        let mut paths = Vec::new();
        walk(observed, String::new(), &mut paths);
        for (path, value) in paths {
            match schema::find(&fields, &path) {
                None => {
                    undeclared.insert(format!("{kind}: `{path}` (in {}) = {value}", case["id"]));
                }
                Some(f) if !schema::fits(f, value) => {
                    undeclared.insert(format!(
                        "{kind}: `{path}` (in {}) = {value}, declared {}{}",
                        case["id"],
                        f.ty.name(),
                        if f.nullable { " or null" } else { "" }
                    ));
                }
                Some(f) => {
                    produced
                        .entry(owner(&f.path))
                        .or_default()
                        .insert(f.path.to_string());
                }
            }
        }
        judged += 1;
    }
    assert!(judged >= 80, "too few cases ran to compare: {judged}");
    let never: Vec<String> = declared
        .iter()
        .flat_map(|(kind, paths)| {
            let seen = produced.get(kind);
            paths
                .iter()
                .filter(move |p| !seen.is_some_and(|s| s.contains(*p)))
                .map(move |p| format!("{kind}: `{p}`"))
        })
        .collect();
    assert!(
        undeclared.is_empty() && never.is_empty(),
        "the schema (src/probe/schema.rs) and the observations disagree.\nobserved but not declared (or of another type):\n  {}\ndeclared but never produced by any built-in case:\n  {}",
        undeclared.into_iter().collect::<Vec<_>>().join("\n  "),
        never.join("\n  ")
    );
}
