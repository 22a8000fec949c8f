//! Suite tables: TOML files with one `[[property]]` row per isolation
//! property. Loading checks every row before anything runs; an error names
//! the file, the line, the row and the field.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use super::case::{Control, ModeDef, Property};
use super::catalog;
use super::expect::Expect;
use super::knob::Knob;
use super::requirements::Requirement;
use crate::probe::Probe;
use crate::report::Mode;
use crate::runtime::spec::{Namespace, SandboxSpec};
use std::collections::BTreeMap;

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
    /// What differs in rootless mode.
    #[serde(default)]
    rootless: Option<RowOverride>,
    /// Run with no other case at once: the probe measures time (CPU time
    /// against wall time), which other sandboxes would eat into.
    #[serde(default)]
    exclusive: bool,
}

/// A mode's replacements for the row's fields.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RowOverride {
    requires: Option<Vec<String>>,
    probe: Option<Probe>,
    sandbox: Option<SandboxSpec>,
    expect: Option<Vec<Expect>>,
    control: Option<RowControl>,
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
        let mut defs = BTreeMap::new();
        let rootful = ModeInput {
            requires: &row.requires,
            probe: &row.probe,
            sandbox: &row.sandbox,
            expect: &row.expect,
            control: &row.control,
        };
        if row.rootless.is_some() && !row.modes.contains(&Mode::Rootless) {
            return Err(fail(
                "rootless",
                "a rootless override needs `modes` to include \"rootless\"".into(),
            ));
        }
        for mode in &row.modes {
            let def = match mode {
                Mode::Rootful => build_def(&rootful, "").map_err(|(f, m)| fail(&f, m))?,
                // A row for rootless mode alone is written as it runs there.
                Mode::Rootless if !row.modes.contains(&Mode::Rootful) && row.rootless.is_none() => {
                    build_def(&rootful, "").map_err(|(f, m)| fail(&f, m))?
                }
                Mode::Rootless => {
                    rootless_def(&rootful, row.rootless.as_ref()).map_err(|(f, m)| fail(&f, m))?
                }
            };
            defs.insert(*mode, def);
        }
        out.push(Property {
            id: row.id,
            area: area.to_string(),
            description: row.description.unwrap_or_else(|| promise.to_string()),
            defs,
            tags: row.tags,
            source: PathBuf::from(file),
            exclusive: row.exclusive,
        });
    }
    Ok(out)
}

/// One mode's definition as written, before validation.
struct ModeInput<'a> {
    requires: &'a [String],
    probe: &'a Probe,
    sandbox: &'a SandboxSpec,
    expect: &'a [Expect],
    control: &'a RowControl,
}

type FieldError = (String, String);

/// Validates one mode's definition; errors name the field under `prefix`.
fn build_def(m: &ModeInput<'_>, prefix: &str) -> Result<ModeDef, FieldError> {
    let f = |field: &str| format!("{prefix}{field}");
    let requires = m
        .requires
        .iter()
        .enumerate()
        .map(|(j, r)| {
            r.parse::<Requirement>()
                .map_err(|e| (f(&format!("requires[{j}]")), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    m.sandbox.validate().map_err(|e| (f("sandbox"), e))?;
    if m.expect.is_empty() {
        return Err((f("expect"), "a test needs at least one expectation".into()));
    }
    for (j, e) in m.expect.iter().enumerate() {
        e.validate().map_err(|e| (f(&format!("expect[{j}]")), e))?;
    }
    let knob: Knob = m.control.off.parse().map_err(|e| (f("control.off"), e))?;
    knob.check_on(m.sandbox)
        .map_err(|e| (f("control.off"), e))?;
    knob.turn_off(m.sandbox).validate().map_err(|e| {
        (
            f("control.off"),
            format!("the control's sandbox is invalid: {e}"),
        )
    })?;
    if m.control.expect.is_empty() {
        return Err((
            f("control.expect"),
            "a control needs at least one expectation: what the leak looks like".into(),
        ));
    }
    for (j, e) in m.control.expect.iter().enumerate() {
        e.validate()
            .map_err(|e| (f(&format!("control.expect[{j}]")), e))?;
    }
    Ok(ModeDef {
        requires,
        probe: m.probe.clone(),
        sandbox: m.sandbox.clone(),
        expect: m.expect.to_vec(),
        control: Control {
            knob,
            expect: m.control.expect.to_vec(),
        },
    })
}

/// The rootless definition: the row's `rootless` overrides where given,
/// else the rootful one with the user namespace it would make left to the
/// rootless namespace the sandbox already lives in, and `root` replaced
/// by `userns`.
fn rootless_def(
    rootful: &ModeInput<'_>,
    over: Option<&RowOverride>,
) -> Result<ModeDef, FieldError> {
    let default_requires: Vec<String> = rootful
        .requires
        .iter()
        .map(|r| {
            if r == "root" {
                "userns".to_string()
            } else {
                r.clone()
            }
        })
        .collect();
    let mut default_sandbox = rootful.sandbox.clone();
    default_sandbox.namespaces.remove(&Namespace::User);
    default_sandbox.uid_map.clear();
    default_sandbox.gid_map.clear();
    let o = over;
    let input = ModeInput {
        requires: o
            .and_then(|o| o.requires.as_deref())
            .unwrap_or(&default_requires),
        probe: o.and_then(|o| o.probe.as_ref()).unwrap_or(rootful.probe),
        sandbox: o
            .and_then(|o| o.sandbox.as_ref())
            .unwrap_or(&default_sandbox),
        expect: o
            .and_then(|o| o.expect.as_deref())
            .unwrap_or(rootful.expect),
        control: o
            .and_then(|o| o.control.as_ref())
            .unwrap_or(rootful.control),
    };
    build_def(
        &input,
        if o.is_some() {
            "rootless."
        } else {
            "(rootless) "
        },
    )
}

/// The suites built into isocheck, by file name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("suites/core.toml", include_str!("../../suites/core.toml")),
    ("suites/pid.toml", include_str!("../../suites/pid.toml")),
    (
        "suites/cgroup.toml",
        include_str!("../../suites/cgroup.toml"),
    ),
    (
        "suites/security.toml",
        include_str!("../../suites/security.toml"),
    ),
    ("suites/caps.toml", include_str!("../../suites/caps.toml")),
    ("suites/mount.toml", include_str!("../../suites/mount.toml")),
    ("suites/ipc.toml", include_str!("../../suites/ipc.toml")),
    ("suites/time.toml", include_str!("../../suites/time.toml")),
    (
        "suites/userns.toml",
        include_str!("../../suites/userns.toml"),
    ),
    ("suites/net.toml", include_str!("../../suites/net.toml")),
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
    #[case::rootless_override_without_the_mode(
        "requires =",
        "rootless = { requires = [\"userns\"] }\nrequires =",
        4,
        "needs `modes` to include \"rootless\""
    )]
    #[case::rootless_override_checked(
        "requires =",
        "modes = [\"rootless\"]\nrootless = { requires = [\"rooot\"] }\nrequires =",
        5,
        "field `rootless.requires[0]`: unknown requirement"
    )]
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
    fn rootless_mode_leaves_the_user_namespace_to_the_rootless_one() {
        let text = GOOD.replacen(
            "requires =",
            "modes = [\"rootful\", \"rootless\"]\nrequires =",
            1,
        );
        let p = &parse("t.toml", &text).unwrap()[0];
        let rootless = p.def(Mode::Rootless);
        assert_eq!(
            rootless.requires[0],
            Requirement::Userns,
            "root becomes userns"
        );
        assert_eq!(p.cases().len(), 4);
        let text = text
            .replace(
                "namespaces = [\"pid\", \"mount\"]",
                "namespaces = [\"user\", \"pid\", \"mount\"]",
            )
            .replace("namespace pid\", expect", "namespace user\", expect");
        let err = parse("t.toml", &text).unwrap_err().to_string();
        assert!(
            err.contains("(rootless) control.off") && err.contains("does not turn on"),
            "{err}"
        );
    }

    #[test]
    fn exclusive_rows_are_marked_and_others_are_not() {
        assert!(!parse("t.toml", GOOD).unwrap()[0].exclusive);
        let text = GOOD.replacen("requires =", "exclusive = true\nrequires =", 1);
        assert!(parse("t.toml", &text).unwrap()[0].exclusive);
        let props = builtin().unwrap();
        let cpu = props.iter().find(|p| p.id == "cgroup.cpu_max").unwrap();
        assert!(
            cpu.exclusive,
            "the busy loop measures CPU time: it runs alone"
        );
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
