//! The built-in tables against the table policy with a small host: no
//! row relies on a large one. (The tables are the suite's data; the policy
//! is the rule they load under, so the check lives above both.)

use isocheck::suite::policy;
use isocheck::suite::table::builtin;

#[test]
fn every_builtin_row_passes_in_every_mode() {
    // `table::builtin` applies the policy with this host's RAM; here
    // the check is repeated with a small host, so no row relies on a
    // large one.
    let small = policy::Host { ram: 1 << 30 };
    for p in builtin().unwrap() {
        for (mode, d) in &p.defs {
            if let Err((f, m)) = policy::check(&d.probe, &d.sandbox, &d.control.knob, &small) {
                panic!("{} ({mode}): {f}: {m}", p.id);
            }
        }
    }
}

/// README.md's table of properties is the rows': each built-in property
/// has its line there (id, the row's promise, its modes, the knob its
/// control turns off, its tags), and the counts above it are the tables'.
#[test]
fn the_readme_lists_every_builtin_property_as_its_row_says() {
    let readme = include_str!("../README.md");
    let props = builtin().unwrap();
    for p in &props {
        let modes: Vec<String> = p.modes().map(|m| m.to_string()).collect();
        let knob = p.defs.values().next().unwrap().control.knob.to_string();
        let line = format!(
            "| `{}` | {} | {} | `{knob}` | {} |",
            p.id,
            p.description,
            modes.join(", "),
            p.tags.join(", ")
        );
        assert!(
            readme.lines().any(|l| l == line),
            "README.md lacks the line\n{line}"
        );
    }
    // The rows of the table under its header, to the first line that is
    // no table row (other tables in README.md are not counted).
    let listed = readme
        .lines()
        .skip_while(|l| *l != "| property | the promise | modes | the control turns off | tags |")
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .count();
    assert_eq!(listed, props.len(), "README.md lists other properties");
    let cases: usize = props.iter().map(|p| p.cases().len()).sum();
    let count = format!("{} properties, {cases} cases", props.len());
    assert!(readme.contains(&count), "README.md does not say `{count}`");
}
