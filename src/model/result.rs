//! The one result model every reporter renders.
//!
//! A run is a stream of events ([`crate::model::events`]); the JSON report
//! is the [`Report`] those events add up to. Everything here is plain data:
//! reporters, the matrix and the diff read it, none of them runs anything.
//! The report carries the host facts ([`crate::model::host`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::host::HostFacts;

/// Version of the JSON report layout (`report.json`): 1.1 added the
/// host's name, 1.2 each case's `tags`.
pub const SCHEMA_VERSION: SchemaVersion = SchemaVersion::new(1, 2);

/// The version of a JSON document isocheck writes, `MAJOR.MINOR` (written
/// as the string `"1.1"`; a bare integer `N`, as reports before 1.1 carry,
/// reads as `N.0`). A change that only adds (a new optional field) raises
/// the minor; any other change raises the major. A reader accepts every
/// minor of a major it knows, ignoring fields it does not know, and
/// refuses any other major.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchemaVersion {
    pub major: u32,
    pub minor: u32,
}

impl SchemaVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        SchemaVersion { major, minor }
    }

    /// Reads `"1.1"` or `1`; `None` for anything else.
    pub fn from_value(value: &serde_json::Value) -> Option<Self> {
        match value {
            serde_json::Value::Number(n) => {
                u32::try_from(n.as_u64()?).ok().map(|m| Self::new(m, 0))
            }
            serde_json::Value::String(s) => {
                let (major, minor) = s.split_once('.')?;
                let number = |t: &str| {
                    (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| t.parse::<u32>().ok())
                        .flatten()
                };
                Some(Self::new(number(major)?, number(minor)?))
            }
            _ => None,
        }
    }

    /// Whether a reader of this version reads a document of `found`: the
    /// same major, any minor.
    pub fn reads(self, found: SchemaVersion) -> bool {
        self.major == found.major
    }
}

impl std::fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Serialize for SchemaVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SchemaVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Self::from_value(&value).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "schema_version {value} is not \"MAJOR.MINOR\" or an integer"
            ))
        })
    }
}

impl schemars::JsonSchema for SchemaVersion {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SchemaVersion".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "MAJOR.MINOR: a reader accepts every minor of a major it knows. A bare integer N (written before 1.1) reads as N.0.",
            "anyOf": [
                { "type": "string", "pattern": "^[0-9]+\\.[0-9]+$" },
                { "type": "integer", "minimum": 0 }
            ]
        })
    }
}

/// What became of one case.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The promise held (test) or the leak was seen (control).
    Pass,
    /// The kernel broke the promise.
    Fail,
    /// The case could not run here; the reason says why.
    Skip,
    /// The harness or the environment broke, or the probe proved blind.
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [Outcome::Pass, Outcome::Fail, Outcome::Skip, Outcome::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Skip => "skip",
            Outcome::Error => "error",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The closed set of reasons a case did not pass. Skip kinds say why a case
/// could not run; error kinds say what broke; `promise-broken` is the one
/// reason of a `fail`.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonKind {
    // skip
    /// The case needs uid 0 with full capabilities.
    NeedsRoot,
    /// The kernel was built without an option the case needs.
    MissingKconfig,
    /// A sysctl or other distro policy knob forbids what the case needs.
    SysctlPolicy,
    /// A Linux security module denied what the case needs.
    LsmDenied,
    /// The cgroup controller the case needs is not on this host.
    ControllerAbsent,
    /// The controller exists but is not delegated to isocheck's cgroup.
    NotDelegated,
    /// The kernel does not offer a feature the case needs.
    KernelLacksFeature,
    /// The case was filtered out or not selected for this run.
    NotSelected,
    // fail
    /// The kernel broke the isolation promise.
    PromiseBroken,
    // error
    /// The sandbox outlived its timeout and was killed.
    Timeout,
    /// The probe died before it reported.
    ProbeCrashed,
    /// Building the sandbox failed (a mount, a map, a cgroup write ...).
    SetupFailed,
    /// The control did not see the leak: the probe cannot see a violation.
    BlindProbe,
    /// The test's control could not be run, so the test proves nothing.
    ControlErrored,
    /// isocheck itself failed (the helper could not start, bad protocol).
    HarnessFailed,
    /// The run was stopped by a signal before or while this case ran: it
    /// proves nothing either way.
    Interrupted,
}

impl ReasonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::NeedsRoot => "needs-root",
            ReasonKind::MissingKconfig => "missing-kconfig",
            ReasonKind::SysctlPolicy => "sysctl-policy",
            ReasonKind::LsmDenied => "lsm-denied",
            ReasonKind::ControllerAbsent => "controller-absent",
            ReasonKind::NotDelegated => "not-delegated",
            ReasonKind::KernelLacksFeature => "kernel-lacks-feature",
            ReasonKind::NotSelected => "not-selected",
            ReasonKind::PromiseBroken => "promise-broken",
            ReasonKind::Timeout => "timeout",
            ReasonKind::ProbeCrashed => "probe-crashed",
            ReasonKind::SetupFailed => "setup-failed",
            ReasonKind::BlindProbe => "blind-probe",
            ReasonKind::ControlErrored => "control-errored",
            ReasonKind::HarnessFailed => "harness-failed",
            ReasonKind::Interrupted => "interrupted",
        }
    }
}

impl std::str::FromStr for ReasonKind {
    type Err = String;
    /// Parses the kebab-case name a report uses, e.g. `sysctl-policy`.
    fn from_str(s: &str) -> Result<Self, String> {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .map_err(|_| format!("unknown reason kind `{s}`"))
    }
}

impl std::fmt::Display for ReasonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed reason with the detail that makes it actionable.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct Reason {
    pub kind: ReasonKind,
    pub detail: String,
    /// One line on how to lift a skip, where there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Reason {
    pub fn new(kind: ReasonKind, detail: impl Into<String>) -> Self {
        Reason {
            kind,
            detail: detail.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// `rootful`: the runner is root. `rootless`: an unprivileged uid that gets
/// its powers only from a user namespace.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Rootful,
    Rootless,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Rootful => "rootful",
            Mode::Rootless => "rootless",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `test`: isolation on, the promise must hold. `control`: the one knob
/// under test off, the probe must see the leak.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    Test,
    Control,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Test => "test",
            Variant::Control => "control",
        }
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one requirement was decided on this host.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct RequirementCheck {
    /// The requirement as the table wrote it, e.g. `kconfig CONFIG_USER_NS`.
    pub requirement: String,
    pub met: bool,
    /// The probe that decided it and what it saw.
    pub probe: String,
    pub observed: String,
}

/// One finished case.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct CaseResult {
    /// `<property>/<mode>/<variant>`.
    pub id: String,
    pub property: String,
    /// The area a property belongs to: the part of its id before the dot.
    pub area: String,
    pub mode: Mode,
    pub variant: Variant,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// The table's one-line statement of the promise.
    #[serde(default)]
    pub description: String,
    /// What the property is tied to in the kernel's history: `linux X.Y`,
    /// `commit <hex>`, `CVE-<year>-<number>` (see `model::tag`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The expectations, as the table wrote them.
    pub expected: serde_json::Value,
    /// What was observed; null when the case did not run.
    pub observed: serde_json::Value,
    #[serde(default)]
    pub requirements: Vec<RequirementCheck>,
    pub duration_ms: f64,
}

/// Counts by outcome.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
pub struct Summary {
    pub total: usize,
    pub pass: usize,
    pub fail: usize,
    pub skip: usize,
    pub error: usize,
}

impl Summary {
    pub fn add(&mut self, outcome: Outcome) {
        self.total += 1;
        match outcome {
            Outcome::Pass => self.pass += 1,
            Outcome::Fail => self.fail += 1,
            Outcome::Skip => self.skip += 1,
            Outcome::Error => self.error += 1,
        }
    }

    pub fn of<'a>(cases: impl IntoIterator<Item = &'a CaseResult>) -> Self {
        let mut s = Summary::default();
        for c in cases {
            s.add(c.outcome);
        }
        s
    }
}

/// The tool that wrote a report.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// The JSON report: one run on one kernel.
#[derive(Serialize, Deserialize, Clone, Debug, schemars::JsonSchema)]
pub struct Report {
    pub schema_version: SchemaVersion,
    pub tool: Tool,
    pub host: HostFacts,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub duration_ms: f64,
    pub summary: Summary,
    pub cases: Vec<CaseResult>,
    /// Free-form labels of the run, e.g. the matrix leg it belongs to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// What the kernel config and policy knobs promise, checked against
    /// what the probes observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,
    /// The signal that stopped the run (`SIGINT`, `SIGTERM`, `SIGHUP`), when one did:
    /// the report is partial, and the cases not run say `interrupted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
}

/// How a feature's config and its behaviour compare.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AuditStatus {
    /// The feature works, and the config (where known) says it is built.
    Ok,
    /// The config leaves it out and it does not work.
    Absent,
    /// Built, but a policy knob or security module keeps it from working.
    Blocked,
    /// The config and the behaviour disagree, and no knob explains it.
    Disagree,
    /// Not tried (it needs root), decided by the config alone.
    Unprobed,
    /// The probe itself broke (the helper did not start or was killed, a
    /// descriptor limit ...): the behaviour is unknown, and no knob or
    /// security module is blamed for it.
    Error,
}

impl AuditStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditStatus::Ok => "ok",
            AuditStatus::Absent => "absent",
            AuditStatus::Blocked => "blocked",
            AuditStatus::Disagree => "disagree",
            AuditStatus::Unprobed => "unprobed",
            AuditStatus::Error => "error",
        }
    }
}

/// One feature: what the config and the knobs say, what the probe saw.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct AuditCheck {
    pub feature: String,
    /// The options that build it, with their values (`CONFIG_USER_NS=y`),
    /// or `unknown`.
    pub config: String,
    /// The knobs that can block it, with their values.
    pub policy: Vec<String>,
    /// The probe that tried it.
    pub probe: String,
    /// What the probe saw.
    pub behaviour: String,
    pub status: AuditStatus,
    /// Why the status is what it is.
    pub explanation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// The config-against-behaviour audit of one host.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, schemars::JsonSchema)]
pub struct Audit {
    /// Where the kernel config came from, or `unknown` with the paths tried.
    pub kconfig: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kconfig_sha256: Option<String>,
    pub checks: Vec<AuditCheck>,
}

impl Audit {
    /// Checks that show a feature missing, blocked or contradicted.
    pub fn problems(&self) -> impl Iterator<Item = &AuditCheck> {
        self.checks.iter().filter(|c| {
            matches!(
                c.status,
                AuditStatus::Absent
                    | AuditStatus::Blocked
                    | AuditStatus::Disagree
                    | AuditStatus::Error
            )
        })
    }
}
