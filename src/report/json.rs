//! The JSON report: one [`Report`] per file, pretty-printed.
//!
//! Writing is atomic: the text goes to a temporary file in the same
//! directory, is synced, then renamed over the target, so a reader never
//! sees half a report. Reading checks, in order, that the file is JSON,
//! that it is an isocheck report (`schema_version` present, `tool.name` is
//! `isocheck`) and that its schema's major version is the one this build
//! reads (any minor of it: fields a newer minor added are ignored), before
//! it decodes the rest; each refusal names the file, and a value
//! that does not fit its JSON path. A case id twice is refused, and the
//! summary is counted from the cases. Files are streamed, never held whole.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use crate::model::host::HostFacts;
use crate::model::result::{
    Audit, CaseResult, Mode, Outcome, Reason, Report, RequirementCheck, SchemaVersion, Summary,
    Tool, Variant, SCHEMA_VERSION,
};

/// The tool name a report must carry.
pub const TOOL_NAME: &str = "isocheck";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot read report {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write report {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{} is not JSON: {source}", path.display())]
    NotJson {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{} is not an isocheck report: {why}", path.display())]
    NotIsocheck { path: PathBuf, why: String },
    #[error(
        "{} is an isocheck report of schema version {found}; this isocheck reads major version {} (up to {supported}){}",
        path.display(),
        supported.major,
        if *newer { ": it was written by a newer isocheck, read it with that one" } else { "" }
    )]
    UnknownSchema {
        path: PathBuf,
        found: String,
        supported: SchemaVersion,
        /// The file's major version is newer than this build's.
        newer: bool,
    },
    #[error("{} is an isocheck report of schema version {version} but does not match that schema at `{at}`: {source}", path.display())]
    Malformed {
        path: PathBuf,
        version: SchemaVersion,
        /// The JSON path of the value that does not fit, e.g. `cases[3].outcome`.
        at: String,
        source: serde_json::Error,
    },
    #[error("{}: cases[{again}].id: case `{id}` is there twice (first at cases[{first}]); a report holds each case once", path.display())]
    DuplicateCase {
        path: PathBuf,
        id: String,
        first: usize,
        again: usize,
    },
}

/// The report as pretty JSON, with a final newline.
pub fn to_string(report: &Report) -> String {
    let mut text =
        serde_json::to_string_pretty(report).expect("a Report always serializes to JSON");
    text.push('\n');
    text
}

/// How much of each case a reader keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// Everything, observations included.
    Full,
    /// Each case without its expectations and observation (read as null):
    /// what `diff` and `matrix` need, in a fraction of the memory.
    Outcomes,
}

/// Decodes a report from JSON text; `path` only names the source in errors.
pub fn from_str(text: &str, path: &Path) -> Result<Report, ReportError> {
    let version = check_header(&mut serde_json::Deserializer::from_str(text), path)?;
    decode(
        &mut serde_json::Deserializer::from_str(text),
        path,
        version,
        Detail::Full,
    )
}

/// Reads and checks the report at `path`.
pub fn read_report(path: &Path) -> Result<Report, ReportError> {
    read_report_with(path, Detail::Full)
}

/// Reads and checks the report at `path`, keeping of each case what
/// [`Detail`] says. The file is streamed twice (its header, then the
/// report), never held whole in memory.
pub fn read_report_with(path: &Path, detail: Detail) -> Result<Report, ReportError> {
    let open = || {
        fs::File::open(path)
            .map(|f| io::BufReader::with_capacity(1 << 16, f))
            .map_err(|source| ReportError::Read {
                path: path.to_path_buf(),
                source,
            })
    };
    let version = check_header(&mut serde_json::Deserializer::from_reader(open()?), path)?;
    decode(
        &mut serde_json::Deserializer::from_reader(open()?),
        path,
        version,
        detail,
    )
}

/// The two fields that say what a JSON document is, read without keeping
/// anything else.
#[derive(Default)]
struct Header {
    tool_name: Option<serde_json::Value>,
    schema_version: Option<serde_json::Value>,
    is_object: bool,
}

impl<'de> serde::Deserialize<'de> for Header {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Header;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON document")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Header, A::Error> {
                let mut h = Header {
                    is_object: true,
                    ..Default::default()
                };
                while let Some(key) = m.next_key::<std::borrow::Cow<'de, str>>()? {
                    match &*key {
                        "tool" => {
                            // A tool that is not an object has no name.
                            let v: serde_json::Value = m.next_value()?;
                            h.tool_name = v.get("name").cloned();
                        }
                        "schema_version" => h.schema_version = Some(m.next_value()?),
                        _ => {
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(h)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<Header, A::Error> {
                while s.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Header::default())
            }
            fn visit_bool<E>(self, _: bool) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_i64<E>(self, _: i64) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_u64<E>(self, _: u64) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_f64<E>(self, _: f64) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_str<E>(self, _: &str) -> Result<Header, E> {
                Ok(Header::default())
            }
            fn visit_unit<E>(self) -> Result<Header, E> {
                Ok(Header::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// Checks that the document is JSON, an isocheck report, and of the
/// schema version this build reads.
fn check_header<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    path: &Path,
) -> Result<SchemaVersion, ReportError> {
    let not_json = |source: serde_json::Error| match source.classify() {
        serde_json::error::Category::Io => ReportError::Read {
            path: path.to_path_buf(),
            source: source.into(),
        },
        _ => ReportError::NotJson {
            path: path.to_path_buf(),
            source,
        },
    };
    let header = serde::Deserialize::deserialize(&mut *de).map_err(not_json)?;
    de.end().map_err(not_json)?;
    let Header {
        tool_name,
        schema_version,
        is_object,
    } = header;
    let not_isocheck = |why: String| ReportError::NotIsocheck {
        path: path.to_path_buf(),
        why,
    };
    if !is_object {
        return Err(not_isocheck("the top level is not an object".into()));
    }
    match tool_name {
        Some(serde_json::Value::String(name)) if name == TOOL_NAME => {}
        Some(other) => return Err(not_isocheck(format!("tool.name is {other}"))),
        None => return Err(not_isocheck("it has no tool.name".into())),
    }
    let version = match schema_version {
        None => return Err(not_isocheck("it has no schema_version".into())),
        Some(v) => v,
    };
    match SchemaVersion::from_value(&version) {
        Some(found) if SCHEMA_VERSION.reads(found) => Ok(found),
        Some(found) => Err(ReportError::UnknownSchema {
            path: path.to_path_buf(),
            found: found.to_string(),
            supported: SCHEMA_VERSION,
            newer: found.major > SCHEMA_VERSION.major,
        }),
        None => Err(ReportError::UnknownSchema {
            path: path.to_path_buf(),
            found: version.to_string(),
            supported: SCHEMA_VERSION,
            newer: false,
        }),
    }
}

/// Decodes the report the header announced; an error names the JSON path
/// of the value that does not fit. Then every case id must be unique, and
/// the summary is counted from the cases (a stored one is never trusted).
fn decode<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    path: &Path,
    version: SchemaVersion,
    detail: Detail,
) -> Result<Report, ReportError> {
    let malformed = |at: String, source: serde_json::Error| ReportError::Malformed {
        path: path.to_path_buf(),
        version,
        at,
        source,
    };
    let mut report = match detail {
        Detail::Full => serde_path_to_error::deserialize::<_, Report>(&mut *de),
        Detail::Outcomes => serde_path_to_error::deserialize::<_, ReportOutcomes>(&mut *de)
            .map(ReportOutcomes::into_report),
    }
    .map_err(|e| {
        let at = e.path().to_string();
        malformed(at, e.into_inner())
    })?;
    de.end().map_err(|e| malformed(".".into(), e))?;
    let mut first: std::collections::HashMap<&str, usize> =
        std::collections::HashMap::with_capacity(report.cases.len());
    for (i, c) in report.cases.iter().enumerate() {
        if let Some(&at) = first.get(c.id.as_str()) {
            return Err(ReportError::DuplicateCase {
                path: path.to_path_buf(),
                id: c.id.clone(),
                first: at,
                again: i,
            });
        }
        first.insert(&c.id, i);
    }
    report.summary = Summary::of(&report.cases);
    Ok(report)
}

/// A report read with [`Detail::Outcomes`]: the same fields and rules as
/// [`Report`], each case's expectations and observation skipped unread.
#[derive(serde::Deserialize)]
struct ReportOutcomes {
    schema_version: SchemaVersion,
    tool: Tool,
    host: HostFacts,
    started_at: String,
    duration_ms: f64,
    summary: Summary,
    cases: Vec<CaseOutcome>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    audit: Option<Audit>,
    #[serde(default)]
    interrupted: Option<String>,
}

/// A [`CaseResult`] without its evidence.
#[derive(serde::Deserialize)]
struct CaseOutcome {
    id: String,
    property: String,
    area: String,
    mode: Mode,
    variant: Variant,
    outcome: Outcome,
    #[serde(default)]
    reason: Option<Reason>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    #[allow(dead_code)]
    expected: serde::de::IgnoredAny,
    #[allow(dead_code)]
    observed: serde::de::IgnoredAny,
    #[serde(default)]
    requirements: Vec<RequirementCheck>,
    duration_ms: f64,
}

impl ReportOutcomes {
    fn into_report(self) -> Report {
        Report {
            schema_version: self.schema_version,
            tool: self.tool,
            host: self.host,
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            summary: self.summary,
            interrupted: self.interrupted,
            cases: self
                .cases
                .into_iter()
                .map(|c| CaseResult {
                    id: c.id,
                    property: c.property,
                    area: c.area,
                    mode: c.mode,
                    variant: c.variant,
                    outcome: c.outcome,
                    reason: c.reason,
                    description: c.description,
                    tags: c.tags,
                    expected: serde_json::Value::Null,
                    observed: serde_json::Value::Null,
                    requirements: c.requirements,
                    duration_ms: c.duration_ms,
                })
                .collect(),
            labels: self.labels,
            audit: self.audit,
        }
    }
}

/// Writes `report` to `path` as pretty JSON, creating missing parent
/// directories; atomic, and never through a symbolic link
/// ([`crate::sys::outdir`]).
pub fn write_report(path: &Path, report: &Report) -> Result<(), ReportError> {
    crate::sys::outdir::write_file(path, to_string(report).as_bytes()).map_err(|source| {
        ReportError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{sample_report, sample_report_newer};
    use serde_json::json;

    fn json_value(report: &Report) -> serde_json::Value {
        serde_json::to_value(report).unwrap()
    }

    #[test]
    fn json_report_snapshot() {
        insta::assert_json_snapshot!(sample_report(), {
            ".host.kernel.release" => "[release]",
            ".host.kernel.version" => "[version]",
            ".host.cmdline" => "[cmdline]",
            ".tool.version" => "[version]",
            ".started_at" => "[started_at]",
            ".duration_ms" => "[ms]",
            ".cases[].duration_ms" => "[ms]",
            ".cases[].observed.host_pid" => "[pid]",
        });
    }

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        for (i, report) in [sample_report(), sample_report_newer()].iter().enumerate() {
            let path = dir.path().join(format!("a/b/report-{i}.json"));
            write_report(&path, report).unwrap();
            let back = read_report(&path).unwrap();
            assert_eq!(json_value(&back), json_value(report));
        }
        // Only the reports are left: no temporary files.
        let names: Vec<_> = fs::read_dir(dir.path().join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn write_replaces_an_existing_report() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        write_report(&path, &sample_report()).unwrap();
        write_report(&path, &sample_report_newer()).unwrap();
        let back = read_report(&path).unwrap();
        assert_eq!(back.host.kernel.release, "6.12.57+deb12-amd64");
    }

    #[test]
    fn write_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, "x").unwrap();
        let path = blocker.join("report.json");
        let err = write_report(&path, &sample_report()).unwrap_err();
        assert!(matches!(err, ReportError::Write { .. }));
        assert!(err.to_string().contains(&*path.to_string_lossy()), "{err}");
    }

    fn read_text(text: &str) -> (PathBuf, Result<Report, ReportError>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        fs::write(&path, text).unwrap();
        let result = read_report(&path);
        (path, result)
    }

    #[test]
    fn refuses_what_is_not_json() {
        let (path, r) = read_text("<html>not json</html>");
        let err = r.unwrap_err();
        assert!(matches!(err, ReportError::NotJson { .. }));
        assert!(
            err.to_string()
                .starts_with(&format!("{} is not JSON", path.display())),
            "{err}"
        );
    }

    #[test]
    fn refuses_json_that_is_not_an_isocheck_report() {
        let (path, r) = read_text(r#"{"schema_version": 1, "tool": {"name": "other"}}"#);
        let err = r.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is not an isocheck report: tool.name is \"other\"",
                path.display()
            )
        );

        let mut v = json_value(&sample_report());
        v.as_object_mut().unwrap().remove("schema_version");
        let (_, r) = read_text(&v.to_string());
        let err = r.unwrap_err();
        assert!(matches!(err, ReportError::NotIsocheck { .. }));
        assert!(
            err.to_string().ends_with("it has no schema_version"),
            "{err}"
        );

        let (_, r) = read_text("[1, 2]");
        assert!(matches!(r.unwrap_err(), ReportError::NotIsocheck { .. }));
    }

    #[test]
    fn refuses_a_newer_major_version_and_says_which() {
        for (written, shown) in [
            (json!(7), "7.0"),
            (json!("2.0"), "2.0"),
            (json!("2.5"), "2.5"),
        ] {
            let mut v = json_value(&sample_report());
            v["schema_version"] = written;
            let (path, r) = read_text(&v.to_string());
            let err = r.unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "{} is an isocheck report of schema version {shown}; this isocheck reads major version 1 (up to {SCHEMA_VERSION}): it was written by a newer isocheck, read it with that one",
                    path.display()
                )
            );
        }
        for (written, shown) in [
            (json!(0), "0.0"),
            (json!("1"), "\"1\""),
            (json!("x.1"), "\"x.1\""),
            (json!(-1), "-1"),
            (json!(1.5), "1.5"),
        ] {
            let mut v = json_value(&sample_report());
            v["schema_version"] = written;
            let (path, r) = read_text(&v.to_string());
            assert_eq!(
                r.unwrap_err().to_string(),
                format!(
                    "{} is an isocheck report of schema version {shown}; this isocheck reads major version 1 (up to {SCHEMA_VERSION})",
                    path.display()
                )
            );
        }
    }

    #[test]
    fn reads_every_minor_of_its_major_and_ignores_fields_it_does_not_know() {
        for (written, read) in [
            (json!(1), SchemaVersion::new(1, 0)),
            (json!("1.0"), SchemaVersion::new(1, 0)),
            (json!("1.1"), SchemaVersion::new(1, 1)),
            (json!("1.99"), SchemaVersion::new(1, 99)),
        ] {
            let mut v = json_value(&sample_report());
            v["schema_version"] = written;
            v["a_field_of_a_later_minor"] = json!({"x": 1});
            v["cases"][0]["another"] = json!([1, 2]);
            let (_, r) = read_text(&v.to_string());
            let r = r.unwrap();
            assert_eq!(r.schema_version, read);
            assert_eq!(r.cases.len(), sample_report().cases.len());
        }
    }

    #[test]
    fn a_report_is_written_with_this_builds_version_as_a_string() {
        let v = json_value(&sample_report());
        assert_eq!(v["schema_version"], json!(SCHEMA_VERSION.to_string()));
        assert_eq!(SCHEMA_VERSION.to_string(), "1.2");
    }

    #[test]
    fn refuses_a_report_that_does_not_match_its_schema() {
        let mut v = json_value(&sample_report());
        v["cases"][0]["outcome"] = "maybe".into();
        let (_, r) = read_text(&v.to_string());
        let err = r.unwrap_err();
        assert!(matches!(err, ReportError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("maybe"), "{err}");
        assert!(err.to_string().contains("at `cases[0].outcome`"), "{err}");

        let mut v = json_value(&sample_report());
        v["host"]["kernel"]["release"] = 7.into();
        let (_, r) = read_text(&v.to_string());
        let err = r.unwrap_err().to_string();
        assert!(err.contains("at `host.kernel.release`"), "{err}");
    }

    #[test]
    fn refuses_a_case_id_twice_and_says_where() {
        let mut v = json_value(&sample_report());
        let first = v["cases"][1].clone();
        v["cases"].as_array_mut().unwrap().push(first);
        let n = v["cases"].as_array().unwrap().len() - 1;
        let (path, r) = read_text(&v.to_string());
        let err = r.unwrap_err();
        assert!(
            matches!(err, ReportError::DuplicateCase { first: 1, .. }),
            "{err}"
        );
        assert!(
            err.to_string().starts_with(&format!(
                "{}: cases[{n}].id: case `{}` is there twice (first at cases[1])",
                path.display(),
                v["cases"][1]["id"].as_str().unwrap()
            )),
            "{err}"
        );
        assert!(from_str(&v.to_string(), &path).is_err());
    }

    #[test]
    fn the_summary_is_counted_from_the_cases() {
        let report = sample_report();
        let mut v = json_value(&report);
        v["summary"] = serde_json::json!({"total": 1, "pass": 1, "fail": 0, "skip": 0, "error": 0});
        let (_, r) = read_text(&v.to_string());
        assert_eq!(r.unwrap().summary, Summary::of(&report.cases));
    }

    #[test]
    fn outcomes_are_the_report_without_its_evidence() {
        let dir = tempfile::tempdir().unwrap();
        for report in [sample_report(), sample_report_newer()] {
            let path = dir.path().join("report.json");
            write_report(&path, &report).unwrap();
            let lean = read_report_with(&path, Detail::Outcomes).unwrap();
            let mut want = read_report(&path).unwrap();
            for c in &mut want.cases {
                c.expected = serde_json::Value::Null;
                c.observed = serde_json::Value::Null;
            }
            assert_eq!(json_value(&lean), json_value(&want));
        }
        // As strict as the full reader.
        let mut v = json_value(&sample_report());
        v["cases"][0].as_object_mut().unwrap().remove("observed");
        let (_, r) = read_text(&v.to_string());
        assert!(r.is_err());
        let path = dir.path().join("r.json");
        fs::write(&path, v.to_string()).unwrap();
        let err = read_report_with(&path, Detail::Outcomes).unwrap_err();
        assert!(err.to_string().contains("observed"), "{err}");
    }

    #[test]
    fn trailing_text_is_not_json() {
        let text = to_string(&sample_report()) + "{}";
        let (_, r) = read_text(&text);
        assert!(matches!(r.unwrap_err(), ReportError::NotJson { .. }));
    }
}
