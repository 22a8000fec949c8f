//! The cross-kernel matrix: one row per property and mode, one column per
//! leg (a report from one kernel, or one cgroup layout), each cell the
//! test and the control of that property on that leg.
//!
//! A **regression** is a test case that passes on at least one leg and
//! fails or errors on another; the cells where it fails or errors are
//! marked, and so is their row.
//!
//! Rows come in the order first met, leg by leg; when a report holds one
//! case id twice the first one counts.
//!
//! The matrix keeps of each case its outcome, reason and unmet
//! requirements, never its expectations and observation (those stay in the
//! leg's own report): the page and the JSON stay small for any number of
//! cases, and a row that passes on every leg is one line.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

use super::html::{all_host_facts, badge, counts, headline_facts, HEADLINE, STYLE};
use super::text::ms;
use crate::model::host::HostFacts;
use crate::model::result::{
    CaseResult, Mode, Outcome, Reason, Report, RequirementCheck, Summary, Variant,
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

/// One report's place in the matrix.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Leg {
    pub name: String,
    pub host: HostFacts,
    pub started_at: String,
    pub duration_ms: f64,
    pub summary: Summary,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// What a cell shows of one case: its outcome and why, not its evidence.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
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

/// The test and the control of one property and mode on one leg.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
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

    /// Test and control both ran and passed.
    fn passes(&self) -> bool {
        [&self.test, &self.control]
            .iter()
            .all(|c| c.as_ref().is_some_and(|c| c.outcome == Outcome::Pass))
    }
}

/// One property in one mode, across the legs.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Row {
    pub property: String,
    pub area: String,
    pub mode: Mode,
    #[serde(default)]
    pub description: String,
    /// One cell per leg, in the order of [`Matrix::legs`].
    pub cells: Vec<Cell>,
    /// Some cell of this row is a regression.
    #[serde(default)]
    pub regression: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
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
                leg_name(report)
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
            });
            for case in &report.cases {
                let key = (case.property.clone(), case.mode);
                let r = *row_index.entry(key).or_insert_with(|| {
                    rows.push(Row {
                        property: case.property.clone(),
                        area: case.area.clone(),
                        mode: case.mode,
                        description: case.description.clone(),
                        cells: vec![Cell::default(); n],
                        regression: false,
                    });
                    rows.len() - 1
                });
                let row = &mut rows[r];
                if row.description.is_empty() {
                    row.description = case.description.clone();
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

/// The matrix as pretty JSON, with a final newline.
pub fn render_json(m: &Matrix) -> String {
    let mut text = serde_json::to_string_pretty(m).expect("a Matrix always serializes to JSON");
    text.push('\n');
    text
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

impl Row {
    /// Every leg ran test and control, and all passed.
    fn passes_everywhere(&self) -> bool {
        self.cells.iter().all(Cell::passes)
    }
}

/// The short form of one variant in a cell: label, badge, reason kind.
fn variant_summary(variant: Variant, case: Option<&CellCase>) -> Markup {
    html! {
        span.line {
            span.label { (variant.as_str()) }
            @match case {
                None => { span.badge.none { "not run" } }
                Some(c) => {
                    (badge(c.outcome))
                    @if let Some(r) = &c.reason {
                        " " code { (r.kind.as_str()) }
                    }
                }
            }
        }
    }
}

fn cell_markup(cell: &Cell) -> Markup {
    html! {
        td class=[cell.regression.then_some("regression")] {
            @if cell.regression {
                div.regression-mark { "regression" }
            }
            @if cell.is_empty() {
                span.badge.none { "not run" }
            } @else {
                details {
                    summary {
                        (variant_summary(Variant::Test, cell.test.as_ref()))
                        (variant_summary(Variant::Control, cell.control.as_ref()))
                    }
                    @for (variant, case) in [(Variant::Test, &cell.test), (Variant::Control, &cell.control)] {
                        @if let Some(c) = case {
                            div.variant {
                                span.label { (variant.as_str()) }
                                (badge(c.outcome))
                                span.ms { (ms(c.duration_ms)) }
                                @if let Some(r) = &c.reason {
                                    div.reason { code { (r.kind.as_str()) } ": " (clipped(&r.detail)) }
                                    @if let Some(h) = &r.hint {
                                        div.hint { "hint: " (clipped(h)) }
                                    }
                                }
                                @for q in &c.unmet {
                                    div { "unmet: " code { (q.requirement) } " (" (clipped(&q.observed)) ")" }
                                }
                                div { "case " code { (c.id) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Renders the matrix as a self-contained HTML page.
pub fn render_html(m: &Matrix) -> String {
    let mut areas: Vec<(&str, Vec<&Row>)> = Vec::new();
    for row in &m.rows {
        match areas.iter_mut().find(|(a, _)| *a == row.area) {
            Some((_, rows)) => rows.push(row),
            None => areas.push((&row.area, vec![row])),
        }
    }
    let regressions: Vec<(&Row, &Leg)> = m.regressions().collect();
    let leg_facts: Vec<_> = m.legs.iter().map(|l| headline_facts(&l.host)).collect();
    let title = format!("isocheck matrix: {} legs", m.legs.len());
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (title) }
                    table.legs {
                        thead {
                            tr {
                                th { "leg" }
                                @for leg in &m.legs { th { (leg.name) } }
                            }
                        }
                        tbody {
                            @for (i, name) in HEADLINE.iter().enumerate() {
                                tr {
                                    th { (name) }
                                    @for facts in &leg_facts { td { (facts[i].1) } }
                                }
                            }
                            tr {
                                th { "started" }
                                @for leg in &m.legs { td { (leg.started_at) } }
                            }
                            tr {
                                th { "summary" }
                                @for leg in &m.legs { td { (counts(&leg.summary)) } }
                            }
                            tr {
                                th { "labels" }
                                @for leg in &m.legs {
                                    td {
                                        @for (k, v) in &leg.labels {
                                            div { code { (k) "=" (v) } }
                                        }
                                    }
                                }
                            }
                            tr {
                                th { "host" }
                                @for leg in &m.legs { td { (all_host_facts(&leg.host)) } }
                            }
                        }
                    }
                }
                section.regressions {
                    h2 { "Regressions" }
                    @if regressions.is_empty() {
                        p { "None: no test passes on one leg and fails or errors on another." }
                    } @else {
                        p {
                            (regressions.len())
                            " cells where a test fails or errors although it passes on another leg:"
                        }
                        ul {
                            @for (row, leg) in &regressions {
                                li {
                                    a href={ "#" (row_anchor(row)) } {
                                        code { (row.property) } " " (row.mode.as_str())
                                    }
                                    " on " (leg.name)
                                }
                            }
                        }
                    }
                }
                @if areas.len() > 1 {
                    nav {
                        @for (area, _) in &areas {
                            a href={ "#area-" (area) } { (area) }
                        }
                    }
                }
                @if areas.is_empty() {
                    p { "No cases." }
                }
                @for (area, rows) in &areas {
                    section id={ "area-" (area) } {
                        h2 { (area) }
                        table.matrix {
                            thead {
                                tr {
                                    th { "property" }
                                    th { "mode" }
                                    @for leg in &m.legs { th { (leg.name) } }
                                }
                            }
                            tbody {
                                @for row in rows {
                                    tr id=(row_anchor(row)) class=[row.regression.then_some("bad")] {
                                        td {
                                            code { (row.property) }
                                            @if !row.description.is_empty() {
                                                div.desc { (row.description) }
                                            }
                                        }
                                        td { (row.mode.as_str()) }
                                        @if row.passes_everywhere() {
                                            td.allpass colspan=(m.legs.len()) {
                                                (badge(Outcome::Pass)) " test and control on every leg"
                                            }
                                        } @else {
                                            @for cell in &row.cells { (cell_markup(cell)) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{sample_report, sample_report_newer, HOSTILE};

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
        assert_eq!(html.matches(r#"<td class="regression">"#).count(), 2);
        assert!(html.contains(r##"<a href="#row-pid.pid1-rootful">"##));
        assert!(html.contains(r#"<tr id="row-pid.pid1-rootful" class="bad">"#));
        // Host facts per leg in the header.
        assert!(html.contains("<th>6.1.0-43-amd64-hybrid</th><th>6.12.57+deb12-amd64-unified</th>"));
        assert!(html.contains("<td>hybrid</td><td>unified</td>"));
        // Every non-empty cell of a row that does not pass everywhere
        // opens with one click; a row that does is one line.
        let m = sample_matrix();
        let cells: usize = m
            .rows
            .iter()
            .filter(|r| !r.passes_everywhere())
            .flat_map(|r| &r.cells)
            .filter(|c| !c.is_empty())
            .count();
        let all_pass = m.rows.iter().filter(|r| r.passes_everywhere()).count();
        assert_eq!(
            html.matches(r#"<td class="allpass" colspan="2">"#).count(),
            all_pass
        );
        assert_eq!(
            html.matches(r#"<details><summary><span class="line">"#)
                .count(),
            cells
        );
    }
}
