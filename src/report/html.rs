//! The HTML report: one self-contained file, inline CSS, no scripts.
//!
//! Host facts first (the headline facts, then every fact grouped by what
//! it is about, one click away), then the summary counts with a legend of
//! what each outcome means (a control's PASS: the leak was seen), then the
//! failed and errored cases first, each with what was expected against
//! what was found, then the properties grouped by area (in the order the
//! run met them), one row per property with a column per mode (its `id` is
//! `case-<property>-<mode>`, which the matrix links to; each case has its
//! own `case-<property>-<mode>-<variant>`). Each cell shows the test and
//! the control: outcome badges, the reason and hint, and the expectations,
//! observation and requirement checks in a `<details>` one click away. A
//! filter by outcome is made of radio buttons and CSS (`:has`), so the page
//! needs no script.
//!
//! Everything that comes from a report goes through maud's escaping; the
//! only unescaped text is this module's own stylesheet.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::collections::HashMap;

use super::console::outcome_word;
use super::text::ms;
use crate::model::host::HostFacts;
use crate::model::result::{CaseResult, Mode, Outcome, Report, Summary, Variant};

/// The stylesheet shared by the report and the matrix.
pub(crate) const STYLE: &str = r#"
:root { --pass: #1a7f37; --fail: #cf222e; --skip: #9a6700; --error: #8250df; --muted: #57606a; --line: #d0d7de; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem; color: #1f2328; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; border-bottom: 1px solid var(--line); }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
table.cases { table-layout: fixed; }
table.cases td { overflow-wrap: anywhere; }
table.cases th:first-child { width: 22%; }
table.facts { width: auto; }
table.facts th { font-weight: normal; color: var(--muted); }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; }
pre { background: #f6f8fa; padding: .4rem; margin: .2rem 0; white-space: pre-wrap; word-break: break-all; }
.badge { display: inline-block; min-width: 3.2rem; text-align: center; border-radius: 3px; padding: 0 .3rem; color: #fff; font-weight: 600; font-size: 12px; }
.badge.pass { background: var(--pass); } .badge.fail { background: var(--fail); }
.badge.skip { background: var(--skip); } .badge.error { background: var(--error); }
.badge.none { background: #fff; color: var(--muted); border: 1px dashed var(--line); font-weight: normal; }
.counts .badge { min-width: 5rem; margin-right: .3rem; }
.label { display: inline-block; width: 3.5rem; color: var(--muted); }
.ms { color: var(--muted); font-size: 12px; margin-left: .3rem; }
.variant + .variant { margin-top: .4rem; padding-top: .4rem; border-top: 1px dotted var(--line); }
.reason { margin-left: 3.5rem; }
.hint { margin-left: 3.5rem; color: var(--muted); }
.desc { color: var(--muted); font-size: 12px; }
.tag { display: inline-block; font-size: 11px; padding: 0 4px; border: 1px solid var(--muted); border-radius: 3px; color: var(--muted); margin-top: 2px; }
.variant details { margin-left: 3.5rem; }
summary { cursor: pointer; color: var(--muted); }
.line { display: block; }
tr.bad > td:first-child { border-left: 4px solid var(--fail); }
td.regression { background: #ffebe9; outline: 2px solid var(--fail); outline-offset: -2px; }
.regression-mark { color: var(--fail); font-weight: 600; }
nav a { margin-right: .8rem; }
.badge.zero { background: #fff; color: var(--muted); border: 1px solid var(--line); font-weight: normal; }
dl.legend { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .6rem; margin: .5rem 0; }
dl.legend dt { margin: 0; } dl.legend dd { margin: 0; color: var(--muted); }
.found { background: #ffebe9; border-left: 3px solid var(--fail); padding: .2rem .4rem; margin: .2rem 0; }
.found code { white-space: pre-wrap; }
.filter { margin: .5rem 0; } .filter label { margin-right: .8rem; cursor: pointer; }
body:has(#show-problems:checked) section.area table.cases tbody tr:not(.has-fail):not(.has-error) { display: none; }
body:has(#show-skip:checked) section.area table.cases tbody tr:not(.has-skip) { display: none; }
body:has(#show-pass:checked) section.area table.cases tbody tr:not(.has-pass) { display: none; }
.facts-group { margin: .4rem 0 .4rem 1rem; }
:target { outline: 2px solid #0969da; outline-offset: 2px; }
"#;

/// The anchor of one property and mode on the report page (the cell with
/// its test and control), which the matrix links to.
pub fn case_anchor(property: &str, mode: Mode) -> String {
    format!("case-{property}-{}", mode.as_str())
}

/// The anchor of one case (a variant of a property in a mode).
pub fn variant_anchor(property: &str, mode: Mode, variant: Variant) -> String {
    format!("case-{property}-{}-{}", mode.as_str(), variant.as_str())
}

/// What each outcome means, for a reader new to the suite.
pub(crate) fn legend() -> Markup {
    html! {
        dl.legend {
            dt { (badge(Outcome::Pass)) " test" } dd { "the promise held with isolation on" }
            dt { (badge(Outcome::Pass)) " control" } dd { "with the one knob under test off, the probe saw the leak: proof that a test's PASS means something" }
            dt { (badge(Outcome::Fail)) } dd { "the kernel broke the promise (a test), or a control did not see the leak" }
            dt { (badge(Outcome::Error)) } dd { "isocheck or the environment failed: nothing was decided (a test whose control was blind is an error, never a pass)" }
            dt { (badge(Outcome::Skip)) } dd { "this host lacks the feature, by the kernel's or the policy's own answer; the reason is typed" }
        }
    }
}

/// The upper-case outcome word in a coloured badge.
pub(crate) fn badge(outcome: Outcome) -> Markup {
    html! { span class={ "badge " (outcome.as_str()) } { (outcome_word(outcome)) } }
}

/// JSON as indented text.
pub(crate) fn json_pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// Flattens a JSON value into `dotted.key = text` rows: scalars as they
/// are, arrays of scalars joined by commas, other arrays as JSON.
pub(crate) fn flatten(value: &serde_json::Value) -> Vec<(String, String)> {
    fn scalar(v: &serde_json::Value) -> Option<String> {
        match v {
            serde_json::Value::Null => Some(String::new()),
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Bool(_) | serde_json::Value::Number(_) => Some(v.to_string()),
            _ => None,
        }
    }
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            serde_json::Value::Array(items) => {
                let text = items
                    .iter()
                    .map(scalar)
                    .collect::<Option<Vec<_>>>()
                    .map(|s| s.join(", "))
                    .unwrap_or_else(|| v.to_string());
                out.push((prefix.to_string(), text));
            }
            _ => out.push((prefix.to_string(), scalar(v).unwrap_or_default())),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

/// The names of the headline facts, in the order [`headline_facts`] gives.
pub(crate) const HEADLINE: [&str; 4] = ["kernel", "distro", "arch", "cgroup layout"];

/// The headline facts of a host, as (name, value) pairs.
pub(crate) fn headline_facts(host: &HostFacts) -> [(&'static str, String); 4] {
    let values = [
        host.kernel.release.clone(),
        host.distro.pretty_name.clone(),
        host.arch.clone(),
        host.cgroup.layout.as_str().to_string(),
    ];
    let mut i = 0;
    values.map(|v| {
        i += 1;
        (HEADLINE[i - 1], v)
    })
}

/// Every host fact behind a `<details>`, grouped by what it is about (the
/// kernel, its config, the cgroups, sysctls, LSMs, ...), each group a
/// table of flattened `key = value` rows.
pub(crate) fn all_host_facts(host: &HostFacts) -> Markup {
    let groups: Vec<(String, Vec<(String, String)>)> = match serde_json::to_value(host) {
        Ok(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let rows = match v {
                    serde_json::Value::Object(_) => flatten(v),
                    _ => flatten(&serde_json::json!({ k: v })),
                };
                (k.clone(), rows)
            })
            .collect(),
        _ => Vec::new(),
    };
    html! {
        details.host-facts {
            summary { "all host facts (" (groups.len()) " groups)" }
            @for (group, rows) in &groups {
                details.facts-group {
                    summary { code { (group) } " (" (rows.len()) ")" }
                    table.facts {
                        @for (k, v) in rows {
                            tr { th { code { (k) } } td { code { (v) } } }
                        }
                    }
                }
            }
        }
    }
}

/// The four counts as badges.
pub(crate) fn counts(summary: &Summary) -> Markup {
    html! {
        p.counts {
            @for outcome in Outcome::ALL {
                @let n = match outcome {
                    Outcome::Pass => summary.pass,
                    Outcome::Fail => summary.fail,
                    Outcome::Skip => summary.skip,
                    Outcome::Error => summary.error,
                };
                // A zero is no alarm: only a count above zero has its
                // outcome's colour.
                span class={ "badge " (if n == 0 { "zero" } else { outcome.as_str() }) } { (n) " " (outcome.as_str()) }
            }
            " of " (summary.total) " cases"
        }
    }
}

/// One variant of a cell: badge, duration, reason and hint, then the
/// expectations and the observation one click away.
pub(crate) fn variant_block(variant: Variant, case: Option<&CaseResult>) -> Markup {
    html! {
        div.variant id=[case.map(|c| variant_anchor(&c.property, c.mode, c.variant))] {
            span.label { (variant.as_str()) }
            @match case {
                None => { span.badge.none { "not run" } }
                Some(c) => {
                    (badge(c.outcome))
                    span.ms { (ms(c.duration_ms)) }
                    (reason_lines(c))
                    (found_lines(c))
                    details {
                        summary { "expected / observed" }
                        (case_evidence(c))
                    }
                }
            }
        }
    }
}

/// The expectations of a case that did not hold, each as expected
/// against found, highlighted.
pub(crate) fn found_lines(c: &CaseResult) -> Markup {
    let failed = super::text::failed_expectations(&c.expected);
    html! {
        @for what in &failed {
            div.found { "expected " code { (what) } }
        }
    }
}

/// The reason and hint of a case, if it has them.
pub(crate) fn reason_lines(c: &CaseResult) -> Markup {
    html! {
        @if let Some(r) = &c.reason {
            div.reason { code { (r.kind.as_str()) } ": " (r.detail) }
            @if let Some(h) = &r.hint {
                div.hint { "hint: " (h) }
            }
        }
    }
}

/// The case id, expectations, observation and requirement checks.
pub(crate) fn case_evidence(c: &CaseResult) -> Markup {
    html! {
        div { "case " code { (c.id) } }
        div { "expected" }
        pre { (json_pretty(&c.expected)) }
        div { "observed" }
        pre { (json_pretty(&c.observed)) }
        @if !c.requirements.is_empty() {
            table.facts {
                tr { th { "requirement" } th { "met" } th { "probe" } th { "observed" } }
                @for q in &c.requirements {
                    tr {
                        td { code { (q.requirement) } }
                        td { (if q.met { "yes" } else { "no" }) }
                        td { code { (q.probe) } }
                        td { code { (q.observed) } }
                    }
                }
            }
        }
    }
}

/// One property's cases, by mode and variant.
pub(crate) struct PropertyRow<'a> {
    pub property: &'a str,
    pub description: &'a str,
    /// The kernel release, commit and CVE the property is tied to.
    pub tags: &'a [String],
    pub cases: HashMap<(Mode, Variant), &'a CaseResult>,
}

impl PropertyRow<'_> {
    fn get(&self, mode: Mode, variant: Variant) -> Option<&CaseResult> {
        self.cases.get(&(mode, variant)).copied()
    }

    fn bad(&self) -> bool {
        self.cases
            .values()
            .any(|c| matches!(c.outcome, Outcome::Fail | Outcome::Error))
    }

    /// The row's classes: `bad`, and `has-<outcome>` for each outcome
    /// among its cases (what the filter shows and hides).
    fn classes(&self) -> String {
        let mut classes = Vec::new();
        if self.bad() {
            classes.push("bad".to_string());
        }
        for o in Outcome::ALL {
            if self.cases.values().any(|c| c.outcome == o) {
                classes.push(format!("has-{}", o.as_str()));
            }
        }
        classes.join(" ")
    }
}

/// Groups cases by area, then by property, both in the order first met.
/// When a report holds one case id twice the first one counts.
pub(crate) fn group_by_area(cases: &[CaseResult]) -> Vec<(&str, Vec<PropertyRow<'_>>)> {
    let mut areas: Vec<(&str, Vec<PropertyRow<'_>>)> = Vec::new();
    let mut area_index: HashMap<&str, usize> = HashMap::new();
    let mut prop_index: HashMap<&str, (usize, usize)> = HashMap::new();
    for c in cases {
        let (a, p) = match prop_index.get(c.property.as_str()) {
            Some(&ix) => ix,
            None => {
                let a = *area_index.entry(&c.area).or_insert_with(|| {
                    areas.push((&c.area, Vec::new()));
                    areas.len() - 1
                });
                areas[a].1.push(PropertyRow {
                    property: &c.property,
                    description: &c.description,
                    tags: &c.tags,
                    cases: HashMap::new(),
                });
                let ix = (a, areas[a].1.len() - 1);
                prop_index.insert(&c.property, ix);
                ix
            }
        };
        let row = &mut areas[a].1[p];
        if row.description.is_empty() {
            row.description = &c.description;
        }
        if row.tags.is_empty() {
            row.tags = &c.tags;
        }
        row.cases.entry((c.mode, c.variant)).or_insert(c);
    }
    areas
}

/// The modes that occur in `cases`, in [`Mode`] order.
fn modes_of(cases: &[CaseResult]) -> Vec<Mode> {
    [Mode::Rootful, Mode::Rootless]
        .into_iter()
        .filter(|m| cases.iter().any(|c| c.mode == *m))
        .collect()
}

/// The config-against-behaviour audit: one row per feature.
pub(crate) fn audit_section(a: &crate::model::result::Audit) -> Markup {
    html! {
        section #audit {
            h2 { "Audit: kernel config and policy against behaviour" }
            p { "kernel config: " code { (a.kconfig) } }
            table.cases {
                thead { tr { th { "feature" } th { "status" } th { "config" } th { "policy" } th { "what the probe saw" } } }
                tbody {
                    @for c in &a.checks {
                        tr class=[a.problems().any(|p| p == c).then_some("bad")] {
                            td { (c.feature) }
                            td { code { (c.status.as_str()) } }
                            td { (c.config) }
                            td { (c.policy.join(", ")) }
                            td {
                                (c.behaviour)
                                div.desc { (c.explanation) }
                                @if let Some(h) = &c.hint { div.desc { "hint: " code { (h) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The failed and errored cases, first on the page: each links to its
/// case and says why, with what was expected against what was found.
fn problems(cases: &[CaseResult]) -> Markup {
    let bad: Vec<&CaseResult> = cases
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Error))
        .collect();
    html! {
        @if !bad.is_empty() {
            section #problems {
                h2 { "Failed and errored (" (bad.len()) ")" }
                ul {
                    @for c in &bad {
                        li {
                            (badge(c.outcome)) " "
                            a href={ "#" (variant_anchor(&c.property, c.mode, c.variant)) } { code { (c.id) } }
                            (reason_lines(c))
                            @if !c.tags.is_empty() {
                                div.desc { "tags: " (c.tags.join(", ")) }
                            }
                            (found_lines(c))
                        }
                    }
                }
            }
        }
    }
}

/// Renders one report as a self-contained HTML page.
pub fn render(report: &Report) -> String {
    let areas = group_by_area(&report.cases);
    let modes = modes_of(&report.cases);
    let title = format!("isocheck report: {}", report.host.kernel.release);
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
                    table.facts {
                        @for (k, v) in headline_facts(&report.host) {
                            tr { th { (k) } td { (v) } }
                        }
                        tr { th { "started" } td { (report.started_at) } }
                        tr { th { "wall time" } td { (ms(report.duration_ms)) } }
                        tr { th { "tool" } td { (report.tool.name) " " (report.tool.version) } }
                        @for (k, v) in &report.labels {
                            tr { th { "label " (k) } td { (v) } }
                        }
                    }
                    (all_host_facts(&report.host))
                }
                section.summary {
                    h2 { "Summary" }
                    @if let Some(sig) = &report.interrupted {
                        p.interrupted {
                            strong { "Interrupted by " (sig) }
                            ": a partial report; the cases that did not finish are errors of kind interrupted."
                        }
                    }
                    (counts(&report.summary))
                    (legend())
                    (problems(&report.cases))
                    div.filter {
                        "show: "
                        label { input type="radio" name="show" id="show-all" checked; " every property" }
                        label { input type="radio" name="show" id="show-problems"; " failed or errored" }
                        label { input type="radio" name="show" id="show-skip"; " skipped" }
                        label { input type="radio" name="show" id="show-pass"; " passed" }
                    }
                    @if areas.len() > 1 {
                        nav {
                            @for (area, _) in &areas {
                                a href={ "#area-" (area) } { (area) }
                            }
                        }
                    }
                }
                @if let Some(audit) = &report.audit {
                    (audit_section(audit))
                }
                @if areas.is_empty() {
                    p { "No cases." }
                }
                @for (area, rows) in &areas {
                    section.area id={ "area-" (area) } {
                        h2 { (area) }
                        table.cases {
                            thead {
                                tr {
                                    th { "property" }
                                    @for mode in &modes { th { (mode.as_str()) } }
                                }
                            }
                            tbody {
                                @for row in rows {
                                    tr class=(row.classes()) {
                                        td {
                                            code { (row.property) }
                                            @if !row.description.is_empty() {
                                                div.desc { (row.description) }
                                            }
                                            @if !row.tags.is_empty() {
                                                div.tags {
                                                    @for t in row.tags { span.tag { (t) } " " }
                                                }
                                            }
                                        }
                                        @for mode in &modes {
                                            td id=(case_anchor(row.property, *mode)) {
                                                (variant_block(Variant::Test, row.get(*mode, Variant::Test)))
                                                (variant_block(Variant::Control, row.get(*mode, Variant::Control)))
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
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{sample_report, HOSTILE};

    #[test]
    fn hostile_strings_are_escaped() {
        let html = render(&sample_report());
        assert!(!html.contains(HOSTILE));
        assert!(!html.contains("<script"), "no script of any kind");
        assert!(!html.contains("<b>"));
        // A tagged property shows its tags.
        assert!(html.contains(r#"<span class="tag">CVE-2099-0001</span>"#));
        // The detail, escaped.
        assert!(html.contains(
            "host hostname became &lt;script&gt;alert(&quot;pwned&quot; &amp; 'x')&lt;/script&gt; &amp;amp; &lt;b&gt;"
        ));
        // The observation, escaped after JSON encoding.
        assert!(
            html.contains(r#"&quot;inside&quot;: &quot;sandbox &amp; \&quot;friends\&quot;&quot;"#)
        );
    }

    #[test]
    fn an_interrupted_run_says_so_on_top() {
        assert!(!render(&sample_report()).contains("Interrupted by"));
        let mut r = sample_report();
        r.interrupted = Some("SIGTERM".into());
        assert!(render(&r).contains("Interrupted by SIGTERM"));
    }

    #[test]
    fn self_contained() {
        let html = render(&sample_report());
        assert!(html.starts_with("<!DOCTYPE html>"));
        for external in ["src=", "<link", "http://", "https://", "@import", "url("] {
            assert!(!html.contains(external), "found {external}");
        }
    }

    #[test]
    fn host_facts_summary_and_areas() {
        let report = sample_report();
        let html = render(&report);
        assert!(html.contains("<td>6.1.0-43-amd64</td>"));
        assert!(html.contains("<td>Debian GNU/Linux 12 (bookworm)</td>"));
        assert!(html.contains("<td>hybrid</td>"));
        // Generic facts, including ones HostFacts may grow into.
        // Grouped by what they are about.
        assert!(html.contains("<summary><code>extra</code> ("));
        assert!(html.contains("<code>sysctl.kernel.unprivileged_userns_clone</code>"));
        assert!(html.contains("<code>lockdown, capability, landlock, apparmor</code>"));
        assert!(html.contains(r#"<span class="badge pass">7 pass</span>"#));
        assert!(html.contains(r#"<span class="badge error">2 error</span>"#));
        // Areas in the order the run met them.
        let at = |s: &str| html.find(s).unwrap();
        assert!(at(r#"id="area-pid""#) < at(r#"id="area-uts""#));
        assert!(at(r#"id="area-uts""#) < at(r#"id="area-net""#));
        assert!(at(r#"id="area-cgroup""#) < at(r#"id="area-mount""#));
        // Both modes side by side.
        assert!(html.contains("<th>property</th><th>rootful</th><th>rootless</th>"));
    }

    #[test]
    fn cells_show_both_variants_reasons_and_hints() {
        let html = render(&sample_report());
        assert!(html.contains("hint: sysctl -w kernel.unprivileged_userns_clone=1"));
        assert!(html.contains("<code>sysctl-policy</code>: kernel.unprivileged_userns_clone = 0"));
        // net.empty has no rootful cases and no rootless control.
        assert!(html.contains(r#"<span class="badge none">not run</span>"#));
        // A row with a fail or an error is marked.
        assert_eq!(html.matches(r#"<tr class="bad "#).count(), 3);
        // Every case has its details.
        assert_eq!(
            html.matches("<summary>expected / observed</summary>")
                .count(),
            sample_report().cases.len()
        );
    }

    #[test]
    fn failures_first_with_a_legend_a_filter_and_an_anchor_per_case() {
        let mut report = sample_report();
        report.cases[4].expected = serde_json::json!([
            {"ok": true, "what": "probe.a eq 1", "got": 1},
            {"ok": false, "what": "probe.host_hostname eq \"unchanged\"", "got": "evil"},
        ]);
        let html = render(&report);
        let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("no {s}"));
        // The legend says what a control's PASS means.
        assert!(html.contains("the probe saw the leak"));
        // The failed and errored cases come before the areas, each linked
        // to its own anchor, with expected against found highlighted.
        let bad = report
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Error))
            .count();
        assert!(html.contains(&format!("Failed and errored ({bad})")));
        assert!(at(r#"id="problems""#) < at(r#"id="area-pid""#));
        assert!(html.contains(r##"href="#case-uts.hostname-rootful-test""##));
        assert_eq!(
            html.matches(r#"id="case-uts.hostname-rootful-test""#)
                .count(),
            1
        );
        assert!(html.contains(
            r#"<div class="found">expected <code>probe.host_hostname eq &quot;unchanged&quot;: got &quot;evil&quot;</code></div>"#
        ));
        assert!(!html.contains("probe.a eq 1: got"), "only what failed");
        assert!(html.contains("tags: linux 2.6, CVE-2099-0001"));
        // Every case has its anchor.
        for c in &report.cases {
            let id = format!(r#"id="{}""#, variant_anchor(&c.property, c.mode, c.variant));
            assert_eq!(html.matches(&id).count(), 1, "{id}");
        }
        // The filter: radio buttons, and rows marked with their outcomes.
        assert!(html.contains(r#"id="show-problems""#));
        assert!(html.contains(r#"<tr class="bad has-pass has-fail">"#));
        // A zero count is not coloured as its outcome.
        let mut quiet = sample_report();
        quiet.summary.fail = 0;
        let html = render(&quiet);
        assert!(html.contains(r#"<span class="badge zero">0 fail</span>"#));
    }

    #[test]
    fn grouping_keeps_the_first_of_a_repeated_case() {
        let mut report = sample_report();
        let mut again = report.cases[0].clone();
        again.outcome = Outcome::Fail;
        report.cases.push(again);
        let areas = group_by_area(&report.cases);
        let row = &areas[0].1[0];
        assert_eq!(row.property, "pid.pid1");
        assert_eq!(
            row.get(Mode::Rootful, Variant::Test).unwrap().outcome,
            Outcome::Pass
        );
    }

    #[test]
    fn flatten_host_facts() {
        let v = serde_json::json!({"a": {"b": 1, "c": ["x", "y"], "d": [{"e": 1}]}, "f": null});
        assert_eq!(
            flatten(&v),
            vec![
                ("a.b".to_string(), "1".to_string()),
                ("a.c".to_string(), "x, y".to_string()),
                ("a.d".to_string(), r#"[{"e":1}]"#.to_string()),
                ("f".to_string(), String::new()),
            ]
        );
    }
}
