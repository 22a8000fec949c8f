//! The JSON documents isocheck writes besides the report, each versioned,
//! and the JSON Schemas (draft 2020-12) of all of them, generated from the
//! types that write them and committed under `schemas/`.
//!
//! Every document carries `schema_version` (`MAJOR.MINOR`,
//! [`SchemaVersion`]) and `tool`: `report.json` ([`Report`]),
//! `matrix.json` ([`MatrixDocument`]), `audit.json` and `audit --json`
//! ([`AuditDocument`]), `list --json` ([`ListDocument`]), `diff --json`
//! ([`DiffDocument`]) and `isocheck bench`'s figures
//! ([`super::bench::BenchDocument`]). Each has its own version; a change that only adds
//! raises its minor, any other change its major. The wrapper and the
//! versions are in [`super::versioned`], which the matrix also uses.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::diff::Diff;
use super::matrix::Matrix;
pub use super::versioned::*;
use crate::model::host::HostFacts;
use crate::model::result::{
    Audit, Mode, Reason, Report, RequirementCheck, SchemaVersion, Variant, SCHEMA_VERSION,
};

/// `matrix.json`: the legs and the rows of a matrix.
pub type MatrixDocument = Document<Matrix>;
/// `isocheck diff --json`.
pub type DiffDocument = Document<Diff>;
/// `audit.json` and `isocheck audit --json`.
pub type AuditDocument = Document<AuditBody>;
/// `isocheck list --json`.
pub type ListDocument = Document<ListBody>;

/// The host's facts and its config-against-behaviour audit.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
pub struct AuditBody {
    pub host: HostFacts,
    pub audit: Audit,
    /// The answers of `audit --for <profile>`: can this stack run here,
    /// and what blocks it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readiness: Vec<crate::suite::readiness::ProfileAnswer>,
}

/// Every case of the selected tables, without running any.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
pub struct ListBody {
    pub cases: Vec<ListedCase>,
}

/// One case as `isocheck list` shows it: its requirements, each decided
/// on this host by a probe.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
pub struct ListedCase {
    /// `<property>/<mode>/<variant>`.
    pub id: String,
    pub property: String,
    pub area: String,
    pub mode: Mode,
    pub variant: Variant,
    pub description: String,
    /// What the property is tied to in the kernel's history (`linux X.Y`,
    /// `commit <hex>`, `CVE-<year>-<number>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The knob the control turns off.
    pub control_off: String,
    /// Every requirement is met: the case would run here.
    pub runnable: bool,
    /// A requirement the harness could not decide: the case would be an
    /// error, never a skip.
    pub undecided: bool,
    pub requirements: Vec<ListedRequirement>,
}

/// A requirement of a listed case and how this host decided it.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
pub struct ListedRequirement {
    #[serde(flatten)]
    pub check: RequirementCheck,
    /// Why the case would not run, when the requirement is unmet.
    pub reason: Option<Reason>,
}

/// The schema of each document, by file name under `schemas/`.
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    fn titled<T: JsonSchema>(title: &str, version: SchemaVersion) -> serde_json::Value {
        let mut schema = serde_json::to_value(schemars::schema_for!(T))
            .expect("a schema always serializes to JSON");
        schema["title"] = title.into();
        schema["description"] = format!(
            "{title}, schema version {version}: a reader accepts every minor of major version {}.",
            version.major
        )
        .into();
        schema
    }
    vec![
        (
            "report.schema.json",
            titled::<Report>("isocheck report.json", SCHEMA_VERSION),
        ),
        (
            "matrix.schema.json",
            titled::<MatrixDocument>("isocheck matrix.json", MATRIX_SCHEMA_VERSION),
        ),
        (
            "audit.schema.json",
            titled::<AuditDocument>("isocheck audit.json and audit --json", AUDIT_SCHEMA_VERSION),
        ),
        (
            "list.schema.json",
            titled::<ListDocument>("isocheck list --json", LIST_SCHEMA_VERSION),
        ),
        (
            "diff.schema.json",
            titled::<DiffDocument>("isocheck diff --json", DIFF_SCHEMA_VERSION),
        ),
        (
            "bench.schema.json",
            titled::<super::bench::BenchDocument>(
                "isocheck bench's reports/bench/<host>.json",
                BENCH_SCHEMA_VERSION,
            ),
        ),
        (
            "run-stream.schema.json",
            titled::<super::stream::StreamLine>(
                "a line of isocheck run --format json",
                super::versioned::STREAM_SCHEMA_VERSION,
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{sample_host, sample_report, sample_report_newer};
    use std::path::{Path, PathBuf};

    fn schema_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas")
    }

    fn committed(name: &str) -> serde_json::Value {
        let path = schema_dir().join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    /// Validates `doc` against the committed schema `name`, listing every
    /// error.
    fn check(name: &str, doc: &serde_json::Value) {
        let schema = committed(name);
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }

    /// The committed schemas are what the types give; with
    /// `ISOCHECK_UPDATE_SCHEMAS=1` this test writes them instead.
    #[test]
    fn the_committed_schemas_are_generated_from_the_types() {
        let update = std::env::var_os("ISOCHECK_UPDATE_SCHEMAS").is_some();
        for (name, schema) in schemas() {
            let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
            let path = schema_dir().join(name);
            if update {
                std::fs::create_dir_all(schema_dir()).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                on_disk == text,
                "{} differs from the types: run ISOCHECK_UPDATE_SCHEMAS=1 cargo test --lib documents",
                path.display()
            );
            assert_eq!(
                schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{name}"
            );
            // A stream's first line carries the version; every other
            // document carries it at the top.
            let versioned = if name == "run-stream.schema.json" {
                schema["oneOf"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|v| v["properties"]["event"]["const"] == "started")
                    .unwrap()
                    .clone()
            } else {
                schema.clone()
            };
            assert!(
                versioned["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|f| f == "schema_version")),
                "{name}: schema_version is required"
            );
        }
    }

    #[test]
    fn fresh_reports_and_the_committed_references_fit_the_report_schema() {
        for report in [sample_report(), sample_report_newer()] {
            check(
                "report.schema.json",
                &serde_json::to_value(&report).unwrap(),
            );
        }
        // Real reports of every kernel and layout the matrix runs.
        let mut seen = 0;
        let refs = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
        for leg in std::fs::read_dir(&refs).unwrap() {
            let path = leg.unwrap().path().join("report.json");
            if let Ok(text) = std::fs::read_to_string(&path) {
                check("report.schema.json", &serde_json::from_str(&text).unwrap());
                seen += 1;
            }
        }
        assert!(seen >= 3, "only {seen} reference reports under reports/");
    }

    #[test]
    fn the_schema_refuses_what_the_reader_refuses() {
        let schema = committed("report.schema.json");
        let validator = jsonschema::draft202012::new(&schema).unwrap();
        let good = serde_json::to_value(sample_report()).unwrap();
        assert!(validator.is_valid(&good));
        let mut bad = good.clone();
        bad["cases"][0]["outcome"] = "maybe".into();
        assert!(!validator.is_valid(&bad));
        let mut bad = good.clone();
        bad.as_object_mut().unwrap().remove("schema_version");
        assert!(!validator.is_valid(&bad));
        let mut bad = good;
        bad["schema_version"] = "one".into();
        assert!(!validator.is_valid(&bad));
    }

    #[test]
    fn a_matrix_fits_its_schema() {
        let legs = vec![
            (String::new(), sample_report()),
            (String::new(), sample_report_newer()),
        ];
        let m = Matrix::build(&legs);
        let doc = serde_json::to_value(MatrixDocument::new(MATRIX_SCHEMA_VERSION, m)).unwrap();
        assert_eq!(doc["schema_version"], "1.1");
        // A tagged property carries its tags into its rows.
        assert!(doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["tags"] == serde_json::json!(["linux 2.6", "CVE-2099-0001"])));
        assert_eq!(doc["tool"]["name"], "isocheck");
        assert!(doc["legs"].is_array() && doc["rows"].is_array());
        check("matrix.schema.json", &doc);
    }

    #[test]
    fn a_bench_document_fits_its_schema() {
        let body = crate::report::bench::tests::sample_body();
        let doc = serde_json::to_value(super::super::bench::BenchDocument::new(
            BENCH_SCHEMA_VERSION,
            body,
        ))
        .unwrap();
        assert_eq!(doc["schema_version"], "1.0");
        assert_eq!(doc["variants"][0]["stats"]["median_ms"], 2.8);
        assert_eq!(doc["variants"][4]["status"], "absent");
        assert!(doc["variants"][4].get("stats").is_none());
        assert_eq!(doc["suite"]["runs"][0]["peak_rss_kib"], 9728);
        assert!(doc["targets"].is_array() && doc["host"]["load_end"].is_array());
        check("bench.schema.json", &doc);
        let mut bad = doc;
        bad["variants"][0]["status"] = "maybe".into();
        let schema = committed("bench.schema.json");
        assert!(!jsonschema::draft202012::new(&schema)
            .unwrap()
            .is_valid(&bad));
    }

    #[test]
    fn a_diff_fits_its_schema() {
        let d = crate::report::diff::diff_with(
            &sample_report(),
            &sample_report_newer(),
            &Default::default(),
        )
        .unwrap();
        let doc = serde_json::to_value(DiffDocument::new(DIFF_SCHEMA_VERSION, d)).unwrap();
        assert!(doc["regressions"].is_array());
        check("diff.schema.json", &doc);
    }

    #[test]
    fn an_audit_and_a_list_fit_their_schemas() {
        let audit = Audit {
            kconfig: "/boot/config-6.1.0-43-amd64".into(),
            kconfig_sha256: Some("00".repeat(32)),
            checks: vec![crate::model::result::AuditCheck {
                feature: "user namespaces".into(),
                config: "CONFIG_USER_NS=y".into(),
                policy: vec!["user.max_user_namespaces=0".into()],
                probe: "unshare(CLONE_NEWUSER)".into(),
                behaviour: "EPERM".into(),
                status: crate::model::result::AuditStatus::Blocked,
                explanation: "built, but user.max_user_namespaces=0".into(),
                hint: Some("sysctl -w user.max_user_namespaces=15000".into()),
            }],
        };
        let doc = AuditDocument::new(
            AUDIT_SCHEMA_VERSION,
            AuditBody {
                host: sample_host(),
                readiness: crate::suite::readiness::Profile::ALL
                    .iter()
                    .map(|p| crate::suite::readiness::answer(*p, &sample_host(), &audit))
                    .collect(),
                audit,
            },
        );
        check("audit.schema.json", &serde_json::to_value(&doc).unwrap());

        let case = ListedCase {
            id: "pid.pid1/rootless/test".into(),
            property: "pid.pid1".into(),
            area: "pid".into(),
            mode: Mode::Rootless,
            variant: Variant::Test,
            description: "The sandbox's first process sees itself as pid 1".into(),
            tags: vec!["linux 2.6".into()],
            control_off: "namespace pid".into(),
            runnable: false,
            undecided: false,
            requirements: vec![ListedRequirement {
                check: RequirementCheck {
                    requirement: "userns".into(),
                    met: false,
                    probe: "unshare(CLONE_NEWUSER)".into(),
                    observed: "EPERM".into(),
                },
                reason: Some(Reason::new(
                    crate::model::result::ReasonKind::SysctlPolicy,
                    "user.max_user_namespaces = 0",
                )),
            }],
        };
        let doc = serde_json::to_value(ListDocument::new(
            LIST_SCHEMA_VERSION,
            ListBody { cases: vec![case] },
        ))
        .unwrap();
        // The requirement's check is flat, as before.
        assert_eq!(doc["cases"][0]["requirements"][0]["requirement"], "userns");
        check("list.schema.json", &doc);
    }
}
