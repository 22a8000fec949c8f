//! The cross-kernel matrix: one row per property and mode, one column per
//! leg (a report from one kernel line and cgroup layout), each cell the
//! test and the control of that property on that leg.
//!
//! A **regression** is a test case that passes on at least one leg and
//! fails or errors on another; the cells where it fails or errors are
//! marked, and so is their row. A row **differs** when its legs do not all
//! show the same outcomes and reason kinds.
//!
//! Rows come in the order first met, leg by leg; when a report holds one
//! case id twice the first one counts. Legs keep the order they were given
//! in (the JSON); the page groups them by kernel line, then layout, from
//! the reports' `leg`, `line` and `layout` labels, falling back to the
//! kernel release and the cgroup layout for reports without them.
//!
//! The matrix keeps of each case its outcome, reason and unmet
//! requirements, never its expectations and observation (those stay in the
//! leg's own report, which every cell of the page links to): the page and
//! the JSON stay small for any number of cases and legs.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

use super::html::{case_anchor, STYLE};
use crate::model::host::HostFacts;
use crate::model::result::{
    CaseResult, Mode, Outcome, Reason, ReasonKind, Report, RequirementCheck, Summary, Variant,
};

/// The default name of a leg: `<kernel release>[-<labels.layout>]`.
pub fn leg_name(report: &Report) -> String {
    leg_name_of(&report.host.kernel.release, &report.labels)
}

/// The leg name of a run on kernel `release` with these labels, known
/// before the run (the report directory is checked before it starts).
pub fn leg_name_of(release: &str, labels: &BTreeMap<String, String>) -> String {
    let release = match release {
        "" => "unknown-kernel",
        r => r,
    };
    match labels.get("layout").map(String::as_str) {
        Some(layout) if !layout.is_empty() => format!("{release}-{layout}"),
        _ => release.to_string(),
    }
}

/// The name a report's leg has in the matrix: its `leg` label, else the
/// host's name and [`leg_name`] (`node-7 6.1.0-43-amd64-v2`), so the
/// reports of a fleet's nodes on one kernel stay apart; [`leg_name`] alone
/// when the host's name is unknown.
pub fn matrix_leg_name(report: &Report) -> String {
    match report.labels.get("leg").map(String::as_str) {
        Some(leg) if !leg.trim().is_empty() => leg.to_string(),
        _ => match report.host.hostname.trim() {
            "" => leg_name(report),
            host => format!("{host} {}", leg_name(report)),
        },
    }
}

/// The kernel line of a report: its `line` label (`5.10`, `6.12`, `sid`,
/// `host` ...), else its kernel release.
pub fn line_of(report: &Report) -> String {
    match report.labels.get("line").map(String::as_str) {
        Some(line) if !line.trim().is_empty() => line.to_string(),
        _ => match report.host.kernel.release.as_str() {
            "" => "unknown-kernel".to_string(),
            r => r.to_string(),
        },
    }
}

/// The layout of a report: its `layout` label (`v2`, `v1-nomemcg` ...),
/// else the cgroup layout its host facts found.
pub fn layout_of(report: &Report) -> String {
    match report.labels.get("layout").map(String::as_str) {
        Some(layout) if !layout.trim().is_empty() => layout.to_string(),
        _ => report.host.cgroup.layout.as_str().to_string(),
    }
}

/// One report's place in the matrix.
#[derive(Serialize, Deserialize, Clone, Debug, schemars::JsonSchema)]
pub struct Leg {
    pub name: String,
    pub host: HostFacts,
    pub started_at: String,
    pub duration_ms: f64,
    pub summary: Summary,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The kernel line the page groups the leg under ([`line_of`]).
    #[serde(default)]
    pub line: String,
    /// The layout the page groups the leg by within its line ([`layout_of`]).
    #[serde(default)]
    pub layout: String,
    /// The leg's report page, relative to the matrix page, when it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<String>,
}

/// What a cell shows of one case: its outcome and why, not its evidence.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
pub struct CellCase {
    pub id: String,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    pub duration_ms: f64,
    /// The requirements this leg did not meet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmet: Vec<RequirementCheck>,
}

impl CellCase {
    fn of(c: &CaseResult) -> CellCase {
        CellCase {
            id: c.id.clone(),
            outcome: c.outcome,
            reason: c.reason.clone(),
            duration_ms: c.duration_ms,
            unmet: c.requirements.iter().filter(|r| !r.met).cloned().collect(),
        }
    }
}

/// The outcome and reason kind of a cell's test and control.
type Signature = (
    Option<(Outcome, Option<ReasonKind>)>,
    Option<(Outcome, Option<ReasonKind>)>,
);

/// The combined outcome of a cell's test and control, as the overview
/// colours it: the worst of the two, where fail is worse than error, error
/// than skip, and skip than pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shade {
    /// Test and control passed.
    Pass,
    /// One of them passed, the other did not run.
    Partial,
    /// One of them was skipped (and none failed or erred).
    Skip,
    /// One of them failed: a promise broken (or a leak not seen).
    Fail,
    /// One of them erred (and none failed).
    Error,
    /// Neither ran on this leg.
    NotRun,
}

impl Shade {
    pub const ALL: [Shade; 6] = [
        Shade::Pass,
        Shade::Partial,
        Shade::Skip,
        Shade::Fail,
        Shade::Error,
        Shade::NotRun,
    ];

    /// The CSS class, also the word in the page's legend.
    pub fn as_str(self) -> &'static str {
        match self {
            Shade::Pass => "pass",
            Shade::Partial => "partial",
            Shade::Skip => "skip",
            Shade::Fail => "fail",
            Shade::Error => "error",
            Shade::NotRun => "none",
        }
    }

    /// The mark in a cell, so the overview reads without colour too.
    fn glyph(self) -> &'static str {
        match self {
            Shade::Pass => "\u{2713}",
            Shade::Partial => "\u{25d0}",
            Shade::Skip => "\u{2013}",
            Shade::Fail => "\u{2717}",
            Shade::Error => "!",
            Shade::NotRun => "",
        }
    }

    /// What the shade means, for the legend.
    fn meaning(self) -> &'static str {
        match self {
            Shade::Pass => "test and control pass",
            Shade::Partial => "one passes, the other did not run",
            Shade::Skip => "skipped (a typed reason: the host lacks it)",
            Shade::Fail => "fails: a promise broken or a leak not seen",
            Shade::Error => "error: the harness or environment broke",
            Shade::NotRun => "not run on this leg",
        }
    }
}

/// The test and the control of one property and mode on one leg.
#[derive(Serialize, Deserialize, Clone, Debug, Default, schemars::JsonSchema)]
pub struct Cell {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<CellCase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<CellCase>,
    /// The test fails or errors here and passes on another leg.
    #[serde(default)]
    pub regression: bool,
}

impl Cell {
    pub fn is_empty(&self) -> bool {
        self.test.is_none() && self.control.is_none()
    }

    fn test_outcome(&self) -> Option<Outcome> {
        self.test.as_ref().map(|c| c.outcome)
    }

    /// What tells this cell from another in the same row: the outcome and
    /// reason kind of its test and of its control.
    fn signature(&self) -> Signature {
        let part = |c: &Option<CellCase>| {
            c.as_ref()
                .map(|c| (c.outcome, c.reason.as_ref().map(|r| r.kind)))
        };
        (part(&self.test), part(&self.control))
    }

    /// The one shade of the overview for test and control together.
    pub fn shade(&self) -> Shade {
        let outcomes = [self.test.as_ref(), self.control.as_ref()].map(|c| c.map(|c| c.outcome));
        let any = |o: Outcome| outcomes.contains(&Some(o));
        if any(Outcome::Fail) {
            Shade::Fail
        } else if any(Outcome::Error) {
            Shade::Error
        } else if any(Outcome::Skip) {
            Shade::Skip
        } else if outcomes.iter().all(|o| *o == Some(Outcome::Pass)) {
            Shade::Pass
        } else if any(Outcome::Pass) {
            Shade::Partial
        } else {
            Shade::NotRun
        }
    }
}

/// One property in one mode, across the legs.
#[derive(Serialize, Deserialize, Clone, Debug, schemars::JsonSchema)]
pub struct Row {
    pub property: String,
    pub area: String,
    pub mode: Mode,
    #[serde(default)]
    pub description: String,
    /// The kernel release, commit and CVE the property is tied to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// One cell per leg, in the order of [`Matrix::legs`].
    pub cells: Vec<Cell>,
    /// Some cell of this row is a regression.
    #[serde(default)]
    pub regression: bool,
    /// Its legs do not all show the same outcomes and reason kinds (a leg
    /// where it did not run counts as one more kind).
    #[serde(default)]
    pub differs: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, schemars::JsonSchema)]
pub struct Matrix {
    pub legs: Vec<Leg>,
    pub rows: Vec<Row>,
}

impl Matrix {
    /// Builds the matrix from `(leg name, report)` pairs; an empty name
    /// means [`leg_name`]. A name already taken gets `#2`, `#3` ...
    pub fn build(reports: &[(String, Report)]) -> Matrix {
        let mut legs: Vec<Leg> = Vec::new();
        let mut rows: Vec<Row> = Vec::new();
        let mut row_index: HashMap<(String, Mode), usize> = HashMap::new();
        let n = reports.len();
        for (leg, (name, report)) in reports.iter().enumerate() {
            let base = if name.is_empty() {
                matrix_leg_name(report)
            } else {
                name.clone()
            };
            let mut unique = base.clone();
            let mut k = 1;
            while legs.iter().any(|l| l.name == unique) {
                k += 1;
                unique = format!("{base}#{k}");
            }
            legs.push(Leg {
                name: unique,
                host: report.host.clone(),
                started_at: report.started_at.clone(),
                duration_ms: report.duration_ms,
                summary: Summary::of(&report.cases),
                labels: report.labels.clone(),
                line: line_of(report),
                layout: layout_of(report),
                report: None,
            });
            for case in &report.cases {
                let key = (case.property.clone(), case.mode);
                let r = *row_index.entry(key).or_insert_with(|| {
                    rows.push(Row {
                        property: case.property.clone(),
                        area: case.area.clone(),
                        mode: case.mode,
                        description: case.description.clone(),
                        tags: case.tags.clone(),
                        cells: vec![Cell::default(); n],
                        regression: false,
                        differs: false,
                    });
                    rows.len() - 1
                });
                let row = &mut rows[r];
                if row.description.is_empty() {
                    row.description = case.description.clone();
                }
                if row.tags.is_empty() {
                    row.tags = case.tags.clone();
                }
                let slot = match case.variant {
                    Variant::Test => &mut row.cells[leg].test,
                    Variant::Control => &mut row.cells[leg].control,
                };
                if slot.is_none() {
                    *slot = Some(CellCase::of(case));
                }
            }
        }
        for row in &mut rows {
            let passes_somewhere = row
                .cells
                .iter()
                .any(|c| c.test_outcome() == Some(Outcome::Pass));
            for cell in &mut row.cells {
                cell.regression = passes_somewhere
                    && matches!(cell.test_outcome(), Some(Outcome::Fail | Outcome::Error));
                row.regression |= cell.regression;
            }
            let first = row.cells.first().map(Cell::signature);
            row.differs = row.cells.iter().any(|c| Some(c.signature()) != first);
        }
        Matrix { legs, rows }
    }

    /// The regression cells, as (row, leg) pairs.
    pub fn regressions(&self) -> impl Iterator<Item = (&Row, &Leg)> + '_ {
        self.rows.iter().flat_map(move |row| {
            row.cells
                .iter()
                .zip(&self.legs)
                .filter(|(cell, _)| cell.regression)
                .map(move |(_, leg)| (row, leg))
        })
    }

    pub fn has_regressions(&self) -> bool {
        self.rows.iter().any(|r| r.regression)
    }
}

/// The matrix as pretty JSON, versioned, with a final newline.
pub fn render_json(m: &Matrix) -> String {
    super::versioned::Document::new(super::versioned::MATRIX_SCHEMA_VERSION, m).to_json()
}

fn row_anchor(row: &Row) -> String {
    format!("row-{}-{}", row.property, row.mode.as_str())
}

/// Reason details longer than this are cut on the page (the JSON and the
/// leg's report keep them whole).
const DETAIL_MAX: usize = 600;

fn clipped(text: &str) -> String {
    match text.char_indices().nth(DETAIL_MAX) {
        None => text.to_string(),
        Some((at, _)) => format!("{} [...]", &text[..at]),
    }
}

/// A path as a relative URL: every byte but unreserved ones, `/` and `+`
/// percent-encoded (a leg directory may hold `#`, `?` or spaces).
fn url_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/+".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The link from a page in directory `from` to the file `to`, both
/// absolute and free of `.` and `..` (canonical): `6.12-v2/report.html`,
/// `../reports/6.12-v2/report.html`. `None` when one of them is relative
/// or either is not valid UTF-8.
pub fn relative_href(from: &std::path::Path, to: &std::path::Path) -> Option<String> {
    use std::path::Component;
    if !from.is_absolute() || !to.is_absolute() {
        return None;
    }
    let a: Vec<Component> = from.components().collect();
    let b: Vec<Component> = to.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<&str> = vec![".."; a.len() - common];
    for c in &b[common..] {
        parts.push(c.as_os_str().to_str()?);
    }
    (!parts.is_empty()).then(|| url_path(&parts.join("/")))
}

/// Where a line comes in the page: numbered lines (`5.10`, `6.12`, or a
/// kernel release when a report has no `line` label) in numeric order,
/// then the named ones, the host last.
fn line_key(line: &str) -> (u8, Vec<u64>, String) {
    let numbers: Option<Vec<u64>> = line.starts_with(|c: char| c.is_ascii_digit()).then(|| {
        line.split('.')
            .map(|part| {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().unwrap_or(0)
            })
            .collect()
    });
    match (numbers, line) {
        (Some(n), _) => (0, n, line.to_string()),
        (None, "backports") => (1, Vec::new(), String::new()),
        (None, "sid") => (2, Vec::new(), String::new()),
        (None, "host") => (4, Vec::new(), String::new()),
        (None, _) => (3, Vec::new(), line.to_string()),
    }
}

/// Where a layout comes within its line: v2 (unified), v1, hybrid,
/// legacy, others; each base layout before its variants.
fn layout_key(layout: &str) -> (u8, String) {
    let (base, variant) = layout.split_once('-').unwrap_or((layout, ""));
    let rank = match base {
        "v2" | "unified" => 0,
        "v1" => 1,
        "hybrid" => 2,
        "legacy" => 3,
        _ => 4,
    };
    (rank, format!("{base}\u{0}{variant}"))
}

impl Matrix {
    /// The legs in the page's order, grouped by line then layout (the
    /// order given breaks ties), as (line, indices into [`Matrix::legs`]).
    pub fn groups(&self) -> Vec<(&str, Vec<usize>)> {
        let mut order: Vec<usize> = (0..self.legs.len()).collect();
        order.sort_by_cached_key(|&i| {
            let l = &self.legs[i];
            (line_key(&l.line), layout_key(&l.layout), i)
        });
        let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
        for i in order {
            let line = self.legs[i].line.as_str();
            match groups.last_mut() {
                Some((l, legs)) if *l == line => legs.push(i),
                _ => groups.push((line, vec![i])),
            }
        }
        groups
    }
}

/// A leg's short header: its name without the line in front (`v2`,
/// `v1-nomemcg`), its layout when the name is the line, or the whole name.
fn short_name(leg: &Leg) -> &str {
    if leg.name == leg.line && !leg.layout.is_empty() {
        return &leg.layout;
    }
    leg.name
        .strip_prefix(leg.line.as_str())
        .and_then(|rest| rest.strip_prefix('-'))
        .filter(|rest| !rest.is_empty())
        .unwrap_or(&leg.name)
}

/// A line's header is turned upright when its name is wider than its
/// columns (a kernel release standing in for a line label).
fn line_rotated(line: &str, legs: usize) -> bool {
    line.chars().count() > 4 * legs
}

/// A row's title: its promise, then the release, commit and CVE it is
/// tied to.
fn row_title(row: &Row) -> String {
    if row.tags.is_empty() {
        row.description.clone()
    } else {
        format!("{} ({})", row.description, row.tags.join(", "))
    }
}

/// The full description of a leg, for titles.
fn leg_title(leg: &Leg) -> String {
    format!(
        "{} (line {}, layout {}): kernel {}",
        leg.name, leg.line, leg.layout, leg.host.kernel.release
    )
}

/// The link to a leg's report, at one property and mode when given.
fn leg_href(leg: &Leg, at: Option<(&str, Mode)>) -> Option<String> {
    let base = leg.report.as_ref()?;
    Some(match at {
        Some((property, mode)) => format!("{base}#{}", url_path(&case_anchor(property, mode))),
        None => base.clone(),
    })
}

/// A variant's outcome and reason kind in words: `pass`, `skip
/// (missing-kconfig)`, `not run`.
fn variant_words(case: Option<&CellCase>) -> String {
    match case {
        None => "not run".into(),
        Some(c) => match &c.reason {
            Some(r) => format!("{} ({})", c.outcome.as_str(), r.kind.as_str()),
            None => c.outcome.as_str().to_string(),
        },
    }
}

/// One overview cell: a coloured mark linking to the leg's report.
fn overview_cell(row: &Row, cell: &Cell, leg: &Leg, first_of_line: bool) -> Markup {
    let shade = cell.shade();
    let title = format!(
        "{}: test {}, control {}{}",
        leg.name,
        variant_words(cell.test.as_ref()),
        variant_words(cell.control.as_ref()),
        if cell.regression { "; regression" } else { "" }
    );
    let class = format!(
        "c {}{}{}",
        shade.as_str(),
        if cell.regression { " reg" } else { "" },
        if first_of_line { " g" } else { "" }
    );
    html! {
        td class=(class) {
            @match leg_href(leg, Some((&row.property, row.mode))) {
                Some(href) => { a href=(href) title=(title) { (shade.glyph()) } }
                None => { span title=(title) { (shade.glyph()) } }
            }
        }
    }
}

/// The legend of the overview's shades.
fn legend() -> Markup {
    html! {
        p.legend {
            @for shade in Shade::ALL {
                span.key {
                    span class={ "sw c " (shade.as_str()) } { (shade.glyph()) }
                    " " (shade.meaning())
                }
            }
            span.key { span.sw.c.pass.reg { (Shade::Pass.glyph()) } " outlined: a regression" }
        }
    }
}

/// A leg as a link to its report, or its name.
fn leg_link(leg: &Leg) -> Markup {
    html! {
        @match leg_href(leg, None) {
            Some(href) => { a href=(href) title=(leg_title(leg)) { (leg.name) } }
            None => { span title=(leg_title(leg)) { (leg.name) } }
        }
    }
}

/// The legs, one line each, grouped as the overview's columns are.
fn legs_table(m: &Matrix, groups: &[(&str, Vec<usize>)]) -> Markup {
    html! {
        table.legs {
            thead {
                tr { th { "line" } th { "leg" } th { "kernel" } th { "layout" } th { "distro" } th { "outcomes" } th { "started" } }
            }
            tbody {
                @for (line, legs) in groups {
                    @for (k, &i) in legs.iter().enumerate() {
                        @let leg = &m.legs[i];
                        tr {
                            @if k == 0 { th rowspan=(legs.len()) { (line) } }
                            td { (leg_link(leg)) }
                            td { code { (leg.host.kernel.release) } }
                            td { (leg.layout) " " span.desc { "(" (leg.host.cgroup.layout.as_str()) ")" } }
                            td { (leg.host.distro.pretty_name) }
                            td.outcomes {
                                @for o in Outcome::ALL {
                                    @let n = match o {
                                        Outcome::Pass => leg.summary.pass,
                                        Outcome::Fail => leg.summary.fail,
                                        Outcome::Skip => leg.summary.skip,
                                        Outcome::Error => leg.summary.error,
                                    };
                                    @if n > 0 || o == Outcome::Pass {
                                        span class={ "n " (o.as_str()) } { (n) " " (o.as_str()) } " "
                                    }
                                }
                            }
                            td { (leg.started_at) }
                        }
                    }
                }
            }
        }
    }
}

/// One kind of cell in a row that differs: the legs that show it, and why.
struct CellGroup<'a> {
    cell: &'a Cell,
    legs: Vec<usize>,
}

/// The cells of a row grouped by their signature, in the page's leg order.
fn cell_groups<'a>(row: &'a Row, order: &[usize]) -> Vec<CellGroup<'a>> {
    let mut groups: Vec<CellGroup<'a>> = Vec::new();
    for &i in order {
        let cell = &row.cells[i];
        match groups
            .iter_mut()
            .find(|g| g.cell.signature() == cell.signature())
        {
            Some(g) => g.legs.push(i),
            None => groups.push(CellGroup {
                cell,
                legs: vec![i],
            }),
        }
    }
    groups
}

/// The index of the group with the most legs, the first of them on a tie.
fn largest_group(groups: &[CellGroup<'_>]) -> usize {
    let mut best = 0;
    for (k, g) in groups.iter().enumerate() {
        if g.legs.len() > groups[best].legs.len() {
            best = k;
        }
    }
    best
}

/// The distinct reasons and unmet requirements of a group's cells, each
/// once with the variants that gave it (`test, control: sysctl-policy: ...`).
fn group_reasons(row: &Row, group: &CellGroup<'_>) -> Vec<String> {
    let mut lines: Vec<(Vec<&'static str>, String)> = Vec::new();
    for &i in &group.legs {
        let cell = &row.cells[i];
        for (variant, case) in [
            (Variant::Test, &cell.test),
            (Variant::Control, &cell.control),
        ] {
            let Some(c) = case else { continue };
            let mut add = |text: String| match lines.iter_mut().find(|(_, t)| *t == text) {
                Some((variants, _)) if !variants.contains(&variant.as_str()) => {
                    variants.push(variant.as_str())
                }
                Some(_) => {}
                None => lines.push((vec![variant.as_str()], text)),
            };
            if let Some(r) = &c.reason {
                add(format!("{}: {}", r.kind.as_str(), clipped(&r.detail)));
            }
            for q in &c.unmet {
                add(format!(
                    "unmet {} ({})",
                    q.requirement,
                    clipped(&q.observed)
                ));
            }
        }
    }
    lines
        .into_iter()
        .map(|(variants, text)| format!("{}: {text}", variants.join(", ")))
        .collect()
}

/// The largest group of a row, when it has more legs than this and none
/// of them is a regression, is counted rather than listed (the overview
/// links each of its cells).
const LIST_MAX: usize = 4;

/// The rows that differ between legs, each with its legs grouped by what
/// they show and why.
fn differences(m: &Matrix, order: &[usize]) -> Markup {
    let rows: Vec<&Row> = m.rows.iter().filter(|r| r.differs).collect();
    html! {
        section #differences {
            h2 { "Rows that differ between legs (" (rows.len()) " of " (m.rows.len()) ")" }
            @if rows.is_empty() {
                p { "None: every row shows the same outcomes and reasons on every leg." }
            } @else {
                table.diffs {
                    tbody {
                        @for row in &rows {
                            tr id={ "diff-" (row_anchor(row)) } class=[row.regression.then_some("bad")] {
                                td.prop {
                                    a href={ "#" (row_anchor(row)) } { code { (row.property) } }
                                    " " span.desc { (row.mode.as_str()) }
                                    @if !row.tags.is_empty() {
                                        div.desc { (row.tags.join(", ")) }
                                    }
                                }
                                td {
                                    @let groups = cell_groups(row, order);
                                    @let largest = largest_group(&groups);
                                    @for (k, g) in groups.iter().enumerate() {
                                        @let shade = g.cell.shade();
                                        div.grp {
                                            span class={ "sw c " (shade.as_str()) } { (shade.glyph()) }
                                            " test " (variant_words(g.cell.test.as_ref()))
                                            ", control " (variant_words(g.cell.control.as_ref()))
                                            @if k == largest && g.legs.len() > LIST_MAX && !g.legs.iter().any(|&i| row.cells[i].regression) {
                                                " on the other " (g.legs.len()) " legs"
                                            } @else {
                                                " on "
                                                @for (n, &i) in g.legs.iter().enumerate() {
                                                    @if n > 0 { ", " }
                                                    @let leg = &m.legs[i];
                                                    @match leg_href(leg, Some((&row.property, row.mode))) {
                                                        Some(href) => { a href=(href) { (leg.name) } }
                                                        None => { (leg.name) }
                                                    }
                                                    @if row.cells[i].regression { " " span.regression-mark { "(regression)" } }
                                                }
                                            }
                                            @for line in group_reasons(row, g) {
                                                div.why { (line) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The matrix page's own rules, after the shared stylesheet.
const MATRIX_STYLE: &str = r#"
body { max-width: 100%; }
table.legs, table.ov, table.diffs { width: auto; }
table.legs td, table.legs th { padding: .15rem .4rem; }
.n { font-weight: 600; } .n.pass { color: var(--pass); } .n.fail { color: var(--fail); }
.n.skip { color: var(--skip); } .n.error { color: var(--error); }
.c { text-align: center; font-size: 12px; }
.c.pass { background: #2da44e; color: #fff; } .c.partial { background: #aceebb; color: #1f2328; }
.c.skip { background: #e3b341; color: #1f2328; } .c.fail { background: var(--fail); color: #fff; }
.c.error { background: var(--error); color: #fff; } .c.none { background: #fff; color: var(--muted); }
.c.reg { outline: 2px solid #1f2328; outline-offset: -3px; }
.sw { display: inline-block; width: 1.2rem; height: 1.1rem; line-height: 1.1rem; border: 1px solid var(--line); vertical-align: middle; }
.legend .key { display: inline-block; margin: 0 1rem .3rem 0; white-space: nowrap; }
table.ov th, table.ov td { padding: 0; }
table.ov td.c { width: 1.45rem; min-width: 1.45rem; height: 1.35rem; }
table.ov td.c a, table.ov td.c span { display: block; color: inherit; text-decoration: none; line-height: 1.35rem; }
table.ov .g { border-left: 3px solid #57606a; }
table.ov th.line { display: table-cell; text-align: center; font-weight: 600; padding: .1rem .2rem; white-space: nowrap; }
table.ov th.leg { vertical-align: bottom; text-align: center; padding: .2rem 0; font-weight: normal; }
table.ov th.rot { vertical-align: bottom; }
table.ov th.rot span, table.ov th.leg a, table.ov th.leg span { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; display: inline-block; font-size: 12px; }
table.ov td.prop, table.diffs td.prop { white-space: nowrap; padding: 0 .4rem; max-width: 22rem; overflow: hidden; text-overflow: ellipsis; }
table.ov td.mode { padding: 0 .3rem; color: var(--muted); font-size: 12px; }
table.ov tr.area th { text-align: left; padding: .3rem .4rem .1rem; background: #fff; border-left: 0; border-right: 0; }
table.ov tr:hover td.prop { background: #f6f8fa; }
.grp + .grp { margin-top: .35rem; }
.why { margin-left: 1.6rem; color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
table.diffs td { padding: .3rem .4rem; }
"#;

/// Renders the matrix as a self-contained HTML page: the legs, the
/// regressions, an overview of one coloured cell per property and leg, and
/// the rows that differ between legs with why.
pub fn render_html(m: &Matrix) -> String {
    let mut areas: Vec<(&str, Vec<&Row>)> = Vec::new();
    for row in &m.rows {
        match areas.iter_mut().find(|(a, _)| *a == row.area) {
            Some((_, rows)) => rows.push(row),
            None => areas.push((&row.area, vec![row])),
        }
    }
    let groups = m.groups();
    let order: Vec<usize> = groups
        .iter()
        .flat_map(|(_, legs)| legs.iter().copied())
        .collect();
    let first_of_line: Vec<bool> = {
        let mut v = vec![false; m.legs.len()];
        for (_, legs) in &groups {
            if let Some(&i) = legs.first() {
                v[i] = true;
            }
        }
        v
    };
    let regressions: Vec<(&Row, &Leg, &Cell)> = m
        .rows
        .iter()
        .flat_map(|row| {
            row.cells
                .iter()
                .zip(&m.legs)
                .filter(|(cell, _)| cell.regression)
                .map(move |(cell, leg)| (row, leg, cell))
        })
        .collect();
    let differing = m.rows.iter().filter(|r| r.differs).count();
    let title = format!("isocheck matrix: {} legs", m.legs.len());
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) (PreEscaped(MATRIX_STYLE)) }
            }
            body {
                header {
                    h1 { (title) }
                    p {
                        (m.legs.len()) " legs in " (groups.len()) " lines, "
                        (m.rows.len()) " rows (property and mode), "
                        a href="#differences" { (differing) " differ between legs" } ", "
                        a href="#regressions" { (regressions.len()) " regression cells" } "."
                    }
                    (legs_table(m, &groups))
                }
                section #regressions {
                    h2 { "Regressions" }
                    @if regressions.is_empty() {
                        p { "None: no test passes on one leg and fails or errors on another." }
                    } @else {
                        p {
                            (regressions.len())
                            " cells where a test fails or errors although it passes on another leg:"
                        }
                        ul {
                            @for (row, leg, cell) in &regressions {
                                li {
                                    a href={ "#" (row_anchor(row)) } {
                                        code { (row.property) } " " (row.mode.as_str())
                                    }
                                    " on " (leg_link(leg))
                                    @if let Some(t) = &cell.test {
                                        ": " code { (t.id) } " " (t.outcome.as_str())
                                        @if let Some(r) = &t.reason {
                                            " (" (r.kind.as_str()) ": " (clipped(&r.detail)) ")"
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                section #overview {
                    h2 { "Overview" }
                    (legend())
                    @if areas.is_empty() {
                        p { "No cases." }
                    } @else {
                        table.ov {
                            thead {
                                tr {
                                    th rowspan="2" { "property" }
                                    th rowspan="2" { "mode" }
                                    @for (line, legs) in &groups {
                                        th class={ "line g" @if line_rotated(line, legs.len()) { " rot" } } colspan=(legs.len()) title={ "line " (line) } {
                                            span { (line) }
                                        }
                                    }
                                }
                                tr {
                                    @for &i in &order {
                                        @let leg = &m.legs[i];
                                        th class={ "leg" @if first_of_line[i] { " g" } } {
                                            @match leg_href(leg, None) {
                                                Some(href) => { a href=(href) title=(leg_title(leg)) { (short_name(leg)) } }
                                                None => { span title=(leg_title(leg)) { (short_name(leg)) } }
                                            }
                                        }
                                    }
                                }
                            }
                            tbody {
                                @for (area, rows) in &areas {
                                    tr.area id={ "area-" (area) } { th colspan=(order.len() + 2) { (area) } }
                                    @for row in rows {
                                        tr id=(row_anchor(row)) class=[row.regression.then_some("bad")] {
                                            td.prop title=(row_title(row)) {
                                                @if row.differs {
                                                    a href={ "#diff-" (row_anchor(row)) } { code { (row.property) } }
                                                } @else {
                                                    code { (row.property) }
                                                }
                                            }
                                            td.mode { (row.mode.as_str()) }
                                            @for &i in &order {
                                                (overview_cell(row, &row.cells[i], &m.legs[i], first_of_line[i]))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                (differences(m, &order))
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{sample_report, sample_report_newer, HOSTILE};
    use std::path::Path;

    fn sample_matrix() -> Matrix {
        Matrix::build(&[
            (String::new(), sample_report()),
            (String::new(), sample_report_newer()),
        ])
    }

    fn row<'a>(m: &'a Matrix, property: &str, mode: Mode) -> &'a Row {
        m.rows
            .iter()
            .find(|r| r.property == property && r.mode == mode)
            .unwrap()
    }

    #[test]
    fn leg_names_default_and_stay_unique() {
        let m = sample_matrix();
        let names: Vec<&str> = m.legs.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["6.1.0-43-amd64-hybrid", "6.12.57+deb12-amd64-unified"]
        );

        let mut unlabelled = sample_report();
        unlabelled.labels.clear();
        assert_eq!(leg_name(&unlabelled), "6.1.0-43-amd64");

        let m = Matrix::build(&[
            ("x".into(), sample_report()),
            ("x".into(), sample_report()),
            (String::new(), sample_report()),
        ]);
        let names: Vec<&str> = m.legs.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["x", "x#2", "6.1.0-43-amd64-hybrid"]);
    }

    /// A fleet: 200 nodes on three kernels, reports without `leg` labels.
    /// Each node keeps its own leg, named by host and kernel, and the legs
    /// are grouped by kernel.
    #[test]
    fn a_fleet_of_200_nodes_is_named_by_host_and_kernel_and_grouped_by_kernel() {
        let kernels = [
            "6.1.0-43-amd64",
            "6.12.57+deb13-amd64",
            "7.2.13+deb14-amd64",
        ];
        let reports: Vec<(String, Report)> = (0..200)
            .map(|i| {
                let mut r = sample_report();
                r.labels.clear();
                r.host.hostname = format!("node-{i:03}");
                r.host.kernel.release = kernels[i % 3].into();
                (String::new(), r)
            })
            .collect();
        let m = Matrix::build(&reports);
        assert_eq!(m.legs.len(), 200);
        assert_eq!(m.legs[7].name, "node-007 6.12.57+deb13-amd64");
        assert!(m.legs.iter().all(|l| !l.name.contains('#')));
        let groups = m.groups();
        let lines: Vec<&str> = groups.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, kernels);
        assert_eq!(
            groups
                .iter()
                .map(|(_, legs)| legs.len())
                .collect::<Vec<_>>(),
            [67, 67, 66]
        );
        let page = render_html(&m);
        for l in &m.legs {
            assert!(page.contains(&l.name), "{} is not on the page", l.name);
        }
        // The page grows with the legs, not with legs times rows times
        // their full host facts.
        assert!(page.len() < 4 << 20, "{} bytes", page.len());
        // Without a host name a leg keeps the kernel's name.
        let mut anonymous = sample_report();
        anonymous.labels.clear();
        anonymous.host.hostname = "  ".into();
        assert_eq!(matrix_leg_name(&anonymous), "6.1.0-43-amd64");
    }

    #[test]
    fn rows_are_property_and_mode_cells_are_legs() {
        let m = sample_matrix();
        let keys: Vec<(&str, Mode)> = m
            .rows
            .iter()
            .map(|r| (r.property.as_str(), r.mode))
            .collect();
        assert_eq!(
            keys,
            [
                ("pid.pid1", Mode::Rootful),
                ("pid.pid1", Mode::Rootless),
                ("uts.hostname", Mode::Rootful),
                ("net.empty", Mode::Rootless),
                ("cgroup.memory_oom", Mode::Rootful),
                ("mount.ro_bind", Mode::Rootful),
                ("mount.ro_bind", Mode::Rootless),
                ("time.offsets", Mode::Rootless),
            ]
        );
        assert!(m.rows.iter().all(|r| r.cells.len() == 2));
        // Present on the newer leg only.
        let t = row(&m, "time.offsets", Mode::Rootless);
        assert!(t.cells[0].is_empty());
        assert_eq!(t.cells[1].test.as_ref().unwrap().outcome, Outcome::Pass);
        // The control vanished on the newer leg.
        let oom = row(&m, "cgroup.memory_oom", Mode::Rootful);
        assert!(oom.cells[0].control.is_some());
        assert!(oom.cells[1].control.is_none());
    }

    #[test]
    fn regressions_are_tests_that_pass_somewhere_and_fail_or_error_elsewhere() {
        let m = sample_matrix();
        let found: Vec<(&str, Mode, &str)> = m
            .regressions()
            .map(|(r, l)| (r.property.as_str(), r.mode, l.name.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                // Passed on 6.1, fails on 6.12.
                ("pid.pid1", Mode::Rootful, "6.12.57+deb12-amd64-unified"),
                // Fails on 6.1, fixed on 6.12: still a test that passes on
                // one leg and fails on another.
                ("uts.hostname", Mode::Rootful, "6.1.0-43-amd64-hybrid"),
            ]
        );
        assert!(m.has_regressions());
        // Failing everywhere is not a regression.
        assert!(!row(&m, "mount.ro_bind", Mode::Rootless).regression);
        // Erroring everywhere is not either.
        assert!(!row(&m, "cgroup.memory_oom", Mode::Rootful).regression);
        // A single leg has none.
        assert!(!Matrix::build(&[(String::new(), sample_report())]).has_regressions());
    }

    #[test]
    fn observations_stay_in_the_legs_reports() {
        let m = sample_matrix();
        let html = render_html(&m);
        let json = render_json(&m);
        // The sample's observation of uts.hostname holds this text; its
        // reason does not.
        for page in [&html, &json] {
            assert!(!page.contains("friends"), "an observation was embedded");
        }
        let cell = &row(&m, "uts.hostname", Mode::Rootful).cells[0];
        assert!(cell.test.as_ref().unwrap().reason.is_some());
    }

    #[test]
    fn long_reasons_are_cut_on_the_page() {
        let long = "x".repeat(5 * DETAIL_MAX);
        let cut = clipped(&long);
        assert!(cut.len() < DETAIL_MAX + 10 && cut.ends_with("[...]"));
        assert_eq!(clipped("short"), "short");
    }

    #[test]
    fn json_round_trips() {
        let m = sample_matrix();
        let back: Matrix = serde_json::from_str(&render_json(&m)).unwrap();
        assert_eq!(
            serde_json::to_value(&back).unwrap(),
            serde_json::to_value(&m).unwrap()
        );
    }

    #[test]
    fn html_marks_regressions_escapes_and_stays_self_contained() {
        let html = render_html(&sample_matrix());
        assert!(html.starts_with("<!DOCTYPE html>"));
        for external in [
            "<script", "src=", "<link", "http://", "https://", "@import", "url(",
        ] {
            assert!(!html.contains(external), "found {external}");
        }
        assert!(!html.contains(HOSTILE));
        assert!(html.contains("&lt;script&gt;alert(&quot;pwned&quot; &amp; 'x')&lt;/script&gt;"));
        // Two regression cells, outlined in the overview.
        assert_eq!(html.matches(r#"<td class="c fail reg"#).count(), 2);
        assert!(html.contains(r##"<a href="#row-pid.pid1-rootful">"##));
        assert!(html.contains(r#"<tr id="row-pid.pid1-rootful" class="bad">"#));
        // The regressions list names the failing test case and why.
        assert!(html.contains(
            "<code>pid.pid1/rootful/test</code> fail (promise-broken: saw pid 48213, want 1)"
        ));
        // One overview cell per row and leg, and a legend of every shade.
        let m = sample_matrix();
        assert_eq!(
            html.matches(r#"<td class="c "#).count(),
            m.rows.len() * m.legs.len()
        );
        for shade in Shade::ALL {
            assert!(
                html.contains(shade.meaning()),
                "{shade:?} not in the legend"
            );
        }
        // The exact kernel release is in each leg's title.
        assert!(html.contains("kernel 6.12.57+deb12-amd64"));
        // The legs, headline facts first.
        assert!(html.contains("<td><code>6.1.0-43-amd64</code></td>"));
    }

    /// The page's markup, without the stylesheet, a line per row, list
    /// item, group and section, for a readable snapshot.
    fn markup_lines(html: &str) -> String {
        let (head, rest) = html.split_once("<style>").unwrap();
        let (_, body) = rest.split_once("</style>").unwrap();
        let mut out = String::from(head);
        for part in body.split_inclusive('>') {
            for tag in ["<tr", "<section", "<div", "<li", "<p", "<table", "<h2"] {
                if part.contains(tag) {
                    out.push('\n');
                    break;
                }
            }
            out.push_str(part);
        }
        out
    }

    #[test]
    fn matrix_page_snapshot() {
        let mut m = Matrix::build(&[
            labelled("6.1-v1", "6.1", "v1", false),
            labelled("6.12-v2", "6.12", "v2", true),
        ]);
        m.legs[0].report = Some("6.1-v1/report.html".into());
        m.legs[1].report = Some("6.12-v2/report.html".into());
        insta::assert_snapshot!(markup_lines(&render_html(&m)));
    }

    #[test]
    fn a_cell_is_shaded_by_test_and_control_together() {
        let case = |o: Outcome| {
            Some(CellCase {
                id: String::new(),
                outcome: o,
                reason: None,
                duration_ms: 0.0,
                unmet: Vec::new(),
            })
        };
        let cell = |t: Option<Outcome>, c: Option<Outcome>| Cell {
            test: t.and_then(case),
            control: c.and_then(case),
            regression: false,
        };
        use Outcome::*;
        for (t, c, want) in [
            (Some(Pass), Some(Pass), Shade::Pass),
            (Some(Pass), None, Shade::Partial),
            (None, Some(Pass), Shade::Partial),
            (Some(Skip), Some(Skip), Shade::Skip),
            (Some(Pass), Some(Skip), Shade::Skip),
            (Some(Skip), Some(Error), Shade::Error),
            (Some(Error), Some(Fail), Shade::Fail),
            (Some(Pass), Some(Fail), Shade::Fail),
            (None, None, Shade::NotRun),
        ] {
            assert_eq!(cell(t, c).shade(), want, "test {t:?}, control {c:?}");
        }
    }

    /// A copy of the sample relabelled as one leg of a line.
    fn labelled(leg: &str, line: &str, layout: &str, newer: bool) -> (String, Report) {
        let mut r = if newer {
            sample_report_newer()
        } else {
            sample_report()
        };
        r.labels = [("leg", leg), ("line", line), ("layout", layout)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (String::new(), r)
    }

    #[test]
    fn legs_are_named_and_grouped_by_line_then_layout_from_their_labels() {
        let m = Matrix::build(&[
            labelled("sid-v1", "sid", "v1", true),
            labelled("6.12-v2-nouserns", "6.12", "v2-nouserns", true),
            labelled("host-hybrid", "host", "hybrid", false),
            labelled("6.12-v1", "6.12", "v1", true),
            labelled("5.10-v2", "5.10", "v2", false),
            labelled("6.12-v2", "6.12", "v2", true),
            labelled("backports-v2", "backports", "v2", true),
            // No leg or line label: the release and the layout label.
            (String::new(), sample_report()),
        ]);
        // The JSON keeps the order given.
        let names: Vec<&str> = m.legs.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names[..2], ["sid-v1", "6.12-v2-nouserns"]);
        assert_eq!(names[7], "6.1.0-43-amd64-hybrid");
        assert_eq!(
            (m.legs[7].line.as_str(), m.legs[7].layout.as_str()),
            ("6.1.0-43-amd64", "hybrid")
        );
        // The page groups them.
        let groups: Vec<(&str, Vec<&str>)> = m
            .groups()
            .into_iter()
            .map(|(line, legs)| (line, legs.iter().map(|&i| short_name(&m.legs[i])).collect()))
            .collect();
        assert_eq!(
            groups,
            [
                ("5.10", vec!["v2"]),
                ("6.1.0-43-amd64", vec!["hybrid"]),
                ("6.12", vec!["v2", "v2-nouserns", "v1"]),
                ("backports", vec!["v2"]),
                ("sid", vec!["v1"]),
                ("host", vec!["hybrid"]),
            ]
        );
        // A report without labels at all: its release and cgroup layout.
        let mut bare = sample_report();
        bare.labels.clear();
        let m = Matrix::build(&[(String::new(), bare)]);
        assert_eq!(
            (
                m.legs[0].name.as_str(),
                m.legs[0].line.as_str(),
                m.legs[0].layout.as_str()
            ),
            ("6.1.0-43-amd64", "6.1.0-43-amd64", "hybrid")
        );
        // Its header says the layout; the release above it stands upright.
        assert_eq!(short_name(&m.legs[0]), "hybrid");
        assert!(line_rotated("6.1.0-43-amd64", 1));
        assert!(!line_rotated("6.12", 1) && !line_rotated("backports", 3));
        assert!(line_rotated("backports", 1));
    }

    #[test]
    fn line_and_layout_order() {
        let mut lines = ["host", "sid", "6.12", "backports", "5.10", "6.1", "zz"];
        lines.sort_by_key(|l| line_key(l));
        assert_eq!(
            lines,
            ["5.10", "6.1", "6.12", "backports", "sid", "zz", "host"]
        );
        let mut layouts = ["hybrid", "v1-nomemcg", "v2-nouserns", "v1", "v2", "unified"];
        layouts.sort_by_key(|l| layout_key(l));
        assert_eq!(
            layouts,
            ["unified", "v2", "v2-nouserns", "v1", "v1-nomemcg", "hybrid"]
        );
    }

    #[test]
    fn every_cell_links_to_its_legs_report_at_the_case() {
        let mut m = Matrix::build(&[
            labelled("6.1-v1", "6.1", "v1", false),
            labelled("6.12-v2", "6.12", "v2", true),
        ]);
        m.legs[0].report = Some("6.1-v1/report.html".into());
        m.legs[1].report = Some("../x%23y/report.html".into());
        let html = render_html(&m);
        let cells = m.rows.len() * m.legs.len();
        assert_eq!(html.matches(r#"<td class="c "#).count(), cells);
        assert_eq!(
            html.matches(r#"<a href="6.1-v1/report.html#case-"#).count()
                + html
                    .matches(r#"<a href="../x%23y/report.html#case-"#)
                    .count(),
            // Every overview cell, and each leg again in every row that differs.
            cells + m.rows.iter().filter(|r| r.differs).count() * m.legs.len()
        );
        assert!(html.contains(r#"href="6.1-v1/report.html#case-pid.pid1-rootful""#));
        // The leg headers: the short name, the full one and the release in the title.
        assert!(html.contains(
            r#"<a href="../x%23y/report.html" title="6.12-v2 (line 6.12, layout v2): kernel 6.12.57+deb12-amd64">v2</a>"#
        ));
        // Without a known report page, a cell is a plain mark.
        let plain = render_html(&sample_matrix());
        assert!(!plain.contains("report.html"));
    }

    #[test]
    fn the_report_page_has_the_anchors_the_matrix_links_to() {
        let page = crate::report::html::render(&sample_report());
        assert!(page.contains(r#"<td id="case-pid.pid1-rootful">"#));
        assert!(page.contains(r#"<td id="case-pid.pid1-rootless">"#));
    }

    #[test]
    fn rows_that_differ_are_listed_with_their_legs_grouped_and_why() {
        let m = sample_matrix();
        let differing: Vec<(&str, Mode)> = m
            .rows
            .iter()
            .filter(|r| r.differs)
            .map(|r| (r.property.as_str(), r.mode))
            .collect();
        // An outcome changed, a case is new, a reason kind changed.
        assert!(differing.contains(&("pid.pid1", Mode::Rootful)));
        assert!(differing.contains(&("time.offsets", Mode::Rootless)));
        assert!(
            differing.contains(&("net.empty", Mode::Rootless)),
            "a reason kind changed"
        );
        let same: Vec<&Row> = m.rows.iter().filter(|r| !r.differs).collect();
        assert!(!same.is_empty());
        for r in &same {
            assert!(r
                .cells
                .iter()
                .all(|c| c.signature() == r.cells[0].signature()));
        }
        let html = render_html(&m);
        assert_eq!(
            html.matches(r#"<tr id="diff-row-"#).count(),
            differing.len()
        );
        // The reason is given once per group, with its kind.
        assert!(html.contains("test: lsm-denied: apparmor denied userns_create"));
    }

    #[test]
    fn relative_links_from_the_page_to_a_report() {
        let href = |from: &str, to: &str| relative_href(Path::new(from), Path::new(to));
        assert_eq!(
            href("/r", "/r/6.12-v2/report.html").as_deref(),
            Some("6.12-v2/report.html")
        );
        assert_eq!(
            href("/a/out", "/a/reports/6.12.117+deb12-amd64-v1/report.html").as_deref(),
            Some("../reports/6.12.117+deb12-amd64-v1/report.html")
        );
        assert_eq!(
            href("/r", "/r/a b#?/report.html").as_deref(),
            Some("a%20b%23%3F/report.html")
        );
        assert_eq!(href("r", "/r/x/report.html"), None);
    }

    #[test]
    fn fifteen_legs_of_a_hundred_cases_make_a_small_page() {
        // Fifteen legs of the sample widened to 112 cases.
        let wide = |newer: bool| {
            let mut r = if newer {
                sample_report_newer()
            } else {
                sample_report()
            };
            let base = r.cases.clone();
            for k in 0..(112 / base.len()) {
                for c in &base {
                    let mut c = c.clone();
                    c.property = format!("{}{k}", c.property);
                    c.id = format!("{}/{}/{}", c.property, c.mode, c.variant);
                    r.cases.push(c);
                }
            }
            r
        };
        let legs: Vec<(String, Report)> = (0..15)
            .map(|i| {
                let (_, mut r) = labelled(
                    &format!("l{}-v{}", i / 2, i % 2 + 1),
                    &format!("{}", i / 2),
                    "v2",
                    i % 3 == 0,
                );
                r.cases = wide(i % 3 == 0).cases;
                (String::new(), r)
            })
            .collect();
        let mut m = Matrix::build(&legs);
        for (i, leg) in m.legs.iter_mut().enumerate() {
            leg.report = Some(format!("6.12.117+deb12-amd64-v2-nouserns-{i}/report.html"));
        }
        let html = render_html(&m);
        assert!(html.len() < 1 << 20, "{} bytes", html.len());
    }
}
