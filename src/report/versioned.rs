//! The versioned envelope of isocheck's JSON documents other than the
//! report ([`Document`]: `schema_version`, `tool`, then the body's fields)
//! and each document's version. Their schemas are in [`super::documents`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::result::{SchemaVersion, Tool};

/// Version of `matrix.json`.
pub const MATRIX_SCHEMA_VERSION: SchemaVersion = SchemaVersion::new(1, 1);
/// Version of `audit.json` and `isocheck audit --json`.
pub const AUDIT_SCHEMA_VERSION: SchemaVersion = SchemaVersion::new(1, 1);
/// Version of `isocheck list --json`.
pub const LIST_SCHEMA_VERSION: SchemaVersion = SchemaVersion::new(1, 1);
/// Version of the lines of `isocheck run --format json`.
pub const STREAM_SCHEMA_VERSION: SchemaVersion = SchemaVersion::new(1, 0);
/// Version of `isocheck diff --json`.
pub const DIFF_SCHEMA_VERSION: SchemaVersion = SchemaVersion::new(1, 0);

/// Version of `reports/bench/<host>.json` (`isocheck bench`).
pub const BENCH_SCHEMA_VERSION: SchemaVersion = SchemaVersion::new(1, 0);

/// A document: its version, the tool that wrote it, and its body's fields.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
pub struct Document<T> {
    pub schema_version: SchemaVersion,
    pub tool: Tool,
    #[serde(flatten)]
    pub body: T,
}

impl<T> Document<T> {
    /// `body` as a document of `version`, written by this isocheck.
    pub fn new(version: SchemaVersion, body: T) -> Self {
        Document {
            schema_version: version,
            tool: Tool::default(),
            body,
        }
    }

    /// The document as pretty JSON, with a final newline.
    pub fn to_json(&self) -> String
    where
        T: Serialize,
    {
        let mut text =
            serde_json::to_string_pretty(self).expect("a document always serializes to JSON");
        text.push('\n');
        text
    }
}
