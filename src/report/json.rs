//! The JSON report: one [`Report`] per file, pretty-printed.
//!
//! Writing is atomic: the text goes to a temporary file in the same
//! directory, is synced, then renamed over the target, so a reader never
//! sees half a report. Reading checks, in order, that the file is JSON,
//! that it is an isocheck report (`schema_version` present, `tool.name` is
//! `isocheck`) and that its schema version is the one this build reads,
//! before it decodes the rest; each refusal names the file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::model::{Report, SCHEMA_VERSION};

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
        "{} is an isocheck report of schema version {found}; this isocheck reads version {supported}",
        path.display()
    )]
    UnknownSchema {
        path: PathBuf,
        found: String,
        supported: u32,
    },
    #[error("{} is an isocheck report of schema version {version} but does not match that schema: {source}", path.display())]
    Malformed {
        path: PathBuf,
        version: u32,
        source: serde_json::Error,
    },
}

/// The report as pretty JSON, with a final newline.
pub fn to_string(report: &Report) -> String {
    let mut text =
        serde_json::to_string_pretty(report).expect("a Report always serializes to JSON");
    text.push('\n');
    text
}

/// Decodes a report from JSON text; `path` only names the source in errors.
pub fn from_str(text: &str, path: &Path) -> Result<Report, ReportError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|source| ReportError::NotJson {
            path: path.to_path_buf(),
            source,
        })?;
    let not_isocheck = |why: String| ReportError::NotIsocheck {
        path: path.to_path_buf(),
        why,
    };
    let Some(object) = value.as_object() else {
        return Err(not_isocheck("the top level is not an object".into()));
    };
    match object.get("tool").and_then(|t| t.get("name")) {
        Some(serde_json::Value::String(name)) if name == TOOL_NAME => {}
        Some(other) => return Err(not_isocheck(format!("tool.name is {other}"))),
        None => return Err(not_isocheck("it has no tool.name".into())),
    }
    let version = match object.get("schema_version") {
        None => return Err(not_isocheck("it has no schema_version".into())),
        Some(v) => v,
    };
    if version.as_u64() != Some(u64::from(SCHEMA_VERSION)) {
        return Err(ReportError::UnknownSchema {
            path: path.to_path_buf(),
            found: version.to_string(),
            supported: SCHEMA_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|source| ReportError::Malformed {
        path: path.to_path_buf(),
        version: SCHEMA_VERSION,
        source,
    })
}

/// Reads and checks the report at `path`.
pub fn read_report(path: &Path) -> Result<Report, ReportError> {
    let text = fs::read_to_string(path).map_err(|source| ReportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    from_str(&text, path)
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
    fn refuses_an_unknown_schema_version_and_says_which() {
        let mut v = json_value(&sample_report());
        v["schema_version"] = 7.into();
        let (path, r) = read_text(&v.to_string());
        let err = r.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is an isocheck report of schema version 7; this isocheck reads version {SCHEMA_VERSION}",
                path.display()
            )
        );
    }

    #[test]
    fn refuses_a_report_that_does_not_match_its_schema() {
        let mut v = json_value(&sample_report());
        v["cases"][0]["outcome"] = "maybe".into();
        let (_, r) = read_text(&v.to_string());
        let err = r.unwrap_err();
        assert!(matches!(err, ReportError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("maybe"), "{err}");
    }
}
