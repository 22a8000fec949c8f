//! Suite tables: TOML files with one `[[property]]` row per isolation
//! property. Loading checks every row before anything runs; an error names
//! the file, the line, the row and the field.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use super::case::{Control, Property};
use super::catalog;
use super::expect::Expect;
use super::knob::Knob;
use super::requirements::Requirement;
use crate::probe::Probe;
use crate::report::Mode;
use crate::runtime::spec::SandboxSpec;

/// One row as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Row {
    id: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "rootful")]
    modes: Vec<Mode>,
    #[serde(default)]
    requires: Vec<String>,
    probe: Probe,
    #[serde(default)]
    sandbox: SandboxSpec,
    expect: Vec<Expect>,
    control: RowControl,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RowControl {
    off: String,
    expect: Vec<Expect>,
}

fn rootful() -> Vec<Mode> {
    vec![Mode::Rootful]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    property: Vec<toml::Spanned<toml::Table>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {place}{message}")]
pub struct TableError {
    pub file: String,
    pub line: usize,
    /// `property #2 (pid.pid1), field `sandbox.mounts[0].kind`: ` or empty.
    pub place: String,
    pub message: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// Loads a table file.
pub fn load_file(path: &Path) -> Result<Vec<Property>, TableError> {
    let text = std::fs::read_to_string(path).map_err(|e| TableError {
        file: path.display().to_string(),
        line: 0,
        place: String::new(),
        message: format!("cannot read the table: {e}"),
    })?;
    parse(&path.display().to_string(), &text)
}

/// Parses a table's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Property>, TableError> {
    let err = |line: usize, place: String, message: String| TableError {
        file: file.into(),
        line,
        place,
        message,
    };
    let parsed: File = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        err(line, String::new(), e.message().trim().to_string())
    })?;
    if parsed.property.is_empty() {
        return Err(err(1, String::new(), "no [[property]] rows".into()));
    }
    let mut out: Vec<Property> = Vec::new();
    for (i, spanned) in parsed.property.into_iter().enumerate() {
        // The span covers the `[[property]]` header; the row runs to the next one.
        let span = spanned.span();
        let row_end = text[span.end.min(text.len())..]
            .find("[[property]]")
            .map_or(text.len(), |o| span.end + o);
        let row_line = line_of(text, span.start);
        let table = spanned.into_inner();
        let id = table
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        let here = |field: &str| {
            if field.is_empty() {
                format!("property #{} ({id}): ", i + 1)
            } else {
                format!("property #{} ({id}), field `{field}`: ", i + 1)
            }
        };
        // The line of the field's first key inside this row, else the row's.
        let field_line = |field: &str| {
            let key = field.split(['.', '[']).next().unwrap_or("");
            let row_text = &text[span.start.min(text.len())..row_end];
            row_text
                .lines()
                .position(|l| {
                    let t = l.trim_start();
                    !key.is_empty()
                        && (t.starts_with(&format!("{key} "))
                            || t.starts_with(&format!("{key}="))
                            || t.starts_with(&format!("[property.{key}")))
                })
                .map(|p| row_line + p)
                .unwrap_or(row_line)
        };
        let row: Row =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let field = e.path().to_string();
                let field = if field == "." { String::new() } else { field };
                err(field_line(&field), here(&field), e.into_inner().to_string())
            })?;
        let fail = |field: &str, msg: String| err(field_line(field), here(field), msg);
        let (area, promise) = catalog::lookup(&row.id).ok_or_else(|| {
            let known: Vec<&str> = catalog::PROPERTIES.iter().map(|p| p.0).collect();
            fail(
                "id",
                format!(
                    "unknown property `{}`; known: {}, or your own as `custom.<name>`",
                    row.id,
                    known.join(", ")
                ),
            )
        })?;
        if out.iter().any(|p| p.id == row.id) {
            return Err(fail("id", format!("property `{}` appears twice", row.id)));
        }
        if row.modes.is_empty() {
            return Err(fail("modes", "must list at least one mode".into()));
        }
        if row.modes.contains(&Mode::Rootless) {
            return Err(fail(
                "modes",
                "rootless mode is not supported by this version of isocheck".into(),
            ));
        }
        let requires = row
            .requires
            .iter()
            .enumerate()
            .map(|(j, r)| {
                r.parse::<Requirement>()
                    .map_err(|m| fail(&format!("requires[{j}]"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        row.sandbox.validate().map_err(|m| fail("sandbox", m))?;
        for (j, e) in row.expect.iter().enumerate() {
            e.validate().map_err(|m| fail(&format!("expect[{j}]"), m))?;
        }
        if row.expect.is_empty() {
            return Err(fail(
                "expect",
                "a test needs at least one expectation".into(),
            ));
        }
        let knob: Knob = row
            .control
            .off
            .parse()
            .map_err(|m| fail("control.off", m))?;
        knob.check_on(&row.sandbox)
            .map_err(|m| fail("control.off", m))?;
        knob.turn_off(&row.sandbox).validate().map_err(|m| {
            fail(
                "control.off",
                format!("the control's sandbox is invalid: {m}"),
            )
        })?;
        for (j, e) in row.control.expect.iter().enumerate() {
            e.validate()
                .map_err(|m| fail(&format!("control.expect[{j}]"), m))?;
        }
        if row.control.expect.is_empty() {
            return Err(fail(
                "control.expect",
                "a control needs at least one expectation: what the leak looks like".into(),
            ));
        }
        out.push(Property {
            id: row.id,
            area: area.to_string(),
            description: row.description.unwrap_or_else(|| promise.to_string()),
            modes: row.modes,
            requires,
            probe: row.probe,
            sandbox: row.sandbox,
            expect: row.expect,
            control: Control {
                knob,
                expect: row.control.expect,
            },
            tags: row.tags,
            source: PathBuf::from(file),
        });
    }
    Ok(out)
}

/// The suites built into isocheck, by file name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("suites/core.toml", include_str!("../../suites/core.toml")),
    (
        "suites/security.toml",
        include_str!("../../suites/security.toml"),
    ),
    ("suites/caps.toml", include_str!("../../suites/caps.toml")),
    ("suites/mount.toml", include_str!("../../suites/mount.toml")),
];

/// Loads the built-in suites.
pub fn builtin() -> Result<Vec<Property>, TableError> {
    let mut all: Vec<Property> = Vec::new();
    for (name, text) in BUILTIN {
        for p in parse(name, text)? {
            if let Some(prev) = all.iter().find(|q| q.id == p.id) {
                return Err(TableError {
                    file: name.to_string(),
                    line: 0,
                    place: String::new(),
                    message: format!(
                        "property `{}` is also defined in {}",
                        p.id,
                        prev.source.display()
                    ),
                });
            }
            all.push(p);
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const GOOD: &str = r#"
[[property]]
id = "pid.pid1"
requires = ["root", "namespace pid"]
probe = { kind = "pid-view" }
sandbox = { namespaces = ["pid", "mount"], mounts = [{ kind = "proc", target = "/proc" }] }
expect = [{ path = "probe.self_pid", eq = 1 }]
control = { off = "namespace pid", expect = [{ path = "probe.self_pid", ne = 1 }] }
"#;

    #[test]
    fn the_builtin_suites_load() {
        let props = builtin().unwrap();
        let ids: Vec<&str> = props.iter().map(|p| p.id.as_str()).collect();
        for (id, _, _) in catalog::PROPERTIES {
            assert!(ids.contains(id), "{id} has no row in the built-in suites");
        }
    }

    #[test]
    fn a_good_row_loads_with_the_catalogue_promise() {
        let props = parse("t.toml", GOOD).unwrap();
        assert_eq!(props.len(), 1);
        assert_eq!(props[0].area, "pid");
        assert!(props[0].description.contains("PID 1"));
        assert_eq!(props[0].cases().len(), 2);
    }

    /// (what to replace in GOOD, with what, expected line, text the error must hold)
    #[rstest]
    #[case::unknown_probe(
        "kind = \"pid-view\"",
        "kind = \"pid-veiw\"",
        5,
        "field `probe.kind`: unknown variant `pid-veiw`"
    )]
    #[case::unknown_property(
        "id = \"pid.pid1\"",
        "id = \"pid.pid2\"",
        3,
        "unknown property `pid.pid2`"
    )]
    #[case::wrong_type(
        "mounts = [{ kind = \"proc\", target = \"/proc\" }]",
        "mounts = 3",
        6,
        "field `sandbox.mounts`"
    )]
    #[case::missing_field(
        "expect = [{ path = \"probe.self_pid\", eq = 1 }]\n",
        "",
        2,
        "missing field `expect`"
    )]
    #[case::unknown_field("requires =", "requirez =", 4, "unknown field `requirez`")]
    #[case::bad_requirement(
        "\"namespace pid\"]",
        "\"namespace pidd\"]",
        4,
        "field `requires[1]`: unknown namespace `pidd`"
    )]
    #[case::bad_knob(
        "off = \"namespace pid\"",
        "off = \"namespace net\"",
        8,
        "does not turn on"
    )]
    #[case::unknown_knob("off = \"namespace pid\"", "off = \"pid\"", 8, "unknown knob `pid`")]
    #[case::bad_expectation(
        "eq = 1 }]\ncontrol",
        "equals = 1 }]\ncontrol",
        7,
        "unknown field `equals`"
    )]
    #[case::no_operator("eq = 1 }]\ncontrol", "}]\ncontrol", 7, "no operator")]
    #[case::bad_sandbox(
        "mounts = [",
        "hostname = \"x\", mounts = [",
        6,
        "needs a new UTS namespace"
    )]
    #[case::rootless("requires =", "modes = [\"rootless\"]\nrequires =", 4, "rootless")]
    #[case::unknown_syscall(
        "mounts = [",
        "seccomp = { deny = [\"nosuchcall\"] }, mounts = [",
        6,
        "seccomp: deny [\"nosuchcall\"]"
    )]
    #[case::knob_off_in_the_test(
        "off = \"namespace pid\"",
        "off = \"seccomp\"",
        8,
        "the control turns off `seccomp`, which the test's sandbox does not turn on"
    )]
    fn bad_rows_name_file_line_row_and_field(
        #[case] from: &str,
        #[case] to: &str,
        #[case] line: usize,
        #[case] msg: &str,
    ) {
        let text = GOOD.replacen(from, to, 1);
        assert_ne!(text, GOOD, "the case did not change the table");
        let err = parse("suites/mine.toml", &text).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.starts_with(&format!("suites/mine.toml:{line}: ")),
            "{shown}"
        );
        assert!(shown.contains(msg), "{shown}");
        if !msg.starts_with("missing") {
            assert!(shown.contains("property #1 (pid.pid"), "{shown}");
        }
    }

    #[test]
    fn toml_syntax_errors_give_the_line() {
        let err = parse("x.toml", "[[property]]\nid = \"pid.pid1\nprobe = 1\n").unwrap_err();
        assert_eq!((err.file.as_str(), err.line), ("x.toml", 2), "{err}");
    }

    #[test]
    fn duplicate_and_empty_tables_are_refused() {
        let twice = format!("{GOOD}\n{GOOD}");
        assert!(parse("t.toml", &twice)
            .unwrap_err()
            .to_string()
            .contains("appears twice"));
        assert!(parse("t.toml", "# nothing\n")
            .unwrap_err()
            .to_string()
            .contains("no [[property]] rows"));
    }

    #[test]
    fn an_unreadable_file_is_named() {
        let err = load_file(Path::new("/nonexistent/suite.toml")).unwrap_err();
        assert!(err
            .to_string()
            .starts_with("/nonexistent/suite.toml:0: cannot read the table"));
    }
}
