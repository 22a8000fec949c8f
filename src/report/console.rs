//! The console sink: a header, one aligned line per case, a summary.
//!
//! ```text
//! isocheck 0.1.0: kernel 6.1.0-43-amd64, Debian GNU/Linux 12 (bookworm), x86_64, cgroup hybrid; 12 cases planned
//! pid.pid1                     rootful  test    PASS      1.2 ms
//! net.empty                    rootless test    SKIP      0.0 ms  sysctl-policy: kernel.unprivileged_userns_clone = 0
//!                                                                 hint: sysctl -w kernel.unprivileged_userns_clone=1
//! 7 passed, 2 failed, 1 skipped, 2 errors in 1.53 s
//! ```
//!
//! Colour is off unless asked for; only the outcome word is coloured, after
//! padding, so the columns stay aligned either way. Details are printed on
//! one line whatever they contain: control characters are escaped.

use std::io::Write;

use super::text::{ms, one_line};
use crate::model::events::{Event, Sink, SinkError};
use crate::model::host::HostFacts;
use crate::model::result::{CaseResult, Outcome, Summary};

/// Width of the property column; longer names push the line right.
const PROPERTY_WIDTH: usize = 28;
/// Width of the mode column (`rootless`).
const MODE_WIDTH: usize = 8;
/// Width of the variant column (`control`).
const VARIANT_WIDTH: usize = 7;
/// Width of the outcome column (`ERROR`).
const OUTCOME_WIDTH: usize = 5;
/// Width of the duration column (`12345.6 ms`).
const DURATION_WIDTH: usize = 10;
/// Where the reason column starts.
const REASON_COLUMN: usize = PROPERTY_WIDTH
    + 1
    + MODE_WIDTH
    + 1
    + VARIANT_WIDTH
    + 1
    + OUTCOME_WIDTH
    + 1
    + DURATION_WIDTH
    + 2;

/// Prints the run to a terminal or a log.
pub struct ConsoleSink<W: Write> {
    out: W,
    /// Colour the outcome words with ANSI escapes. Off by default.
    pub color: bool,
}

impl<W: Write> ConsoleSink<W> {
    pub fn new(out: W) -> Self {
        ConsoleSink { out, color: false }
    }

    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// The one-line header of a run.
pub fn header_line(host: &HostFacts, planned: usize) -> String {
    let distro = if host.distro.pretty_name.is_empty() {
        "unknown distro"
    } else {
        &host.distro.pretty_name
    };
    format!(
        "isocheck {}: kernel {}, {}, {}, cgroup {}; {} {} planned",
        env!("CARGO_PKG_VERSION"),
        one_line(&host.kernel.release),
        one_line(distro),
        one_line(&host.arch),
        host.cgroup.layout.as_str(),
        planned,
        if planned == 1 { "case" } else { "cases" },
    )
}

/// The upper-case outcome word: PASS, FAIL, SKIP, ERROR.
pub fn outcome_word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Skip => "SKIP",
        Outcome::Error => "ERROR",
    }
}

fn ansi_color(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Pass => "\x1b[32m",
        Outcome::Fail => "\x1b[1;31m",
        Outcome::Skip => "\x1b[33m",
        Outcome::Error => "\x1b[1;35m",
    }
}

/// The line of one finished case, and its hint line if it is a skip with
/// a hint. No trailing newline.
pub fn case_lines(case: &CaseResult, color: bool) -> String {
    let word = format!("{:<OUTCOME_WIDTH$}", outcome_word(case.outcome));
    let word = if color {
        format!("{}{word}\x1b[0m", ansi_color(case.outcome))
    } else {
        word
    };
    let mut line = format!(
        "{:<PROPERTY_WIDTH$} {:<MODE_WIDTH$} {:<VARIANT_WIDTH$} {word} {:>DURATION_WIDTH$}",
        one_line(&case.property),
        case.mode.as_str(),
        case.variant.as_str(),
        ms(case.duration_ms),
    );
    if let Some(reason) = &case.reason {
        line.push_str("  ");
        line.push_str(&one_line(&reason.to_string()));
        if case.outcome == Outcome::Skip {
            if let Some(hint) = &reason.hint {
                line.push('\n');
                line.push_str(&" ".repeat(REASON_COLUMN));
                line.push_str("hint: ");
                line.push_str(&one_line(hint));
            }
        }
    }
    line
}

/// The summary line: `N passed, N failed, N skipped, N errors in S s`.
pub fn summary_line(summary: &Summary, duration_ms: f64) -> String {
    format!(
        "{} passed, {} failed, {} skipped, {} errors in {:.2} s",
        summary.pass,
        summary.fail,
        summary.skip,
        summary.error,
        duration_ms / 1000.0
    )
}

impl<W: Write> Sink for ConsoleSink<W> {
    /// Prints the header, each case as it finishes and the summary; a
    /// case starting and the audit print nothing.
    fn event(&mut self, event: &Event<'_>) -> Result<(), SinkError> {
        match event {
            Event::RunStarted { host, planned, .. } => {
                writeln!(self.out, "{}", header_line(host, *planned))?;
            }
            Event::CaseStarted { .. } | Event::AuditFinished(_) => return Ok(()),
            Event::CaseFinished { case, .. } => {
                writeln!(self.out, "{}", case_lines(case, self.color))?;
            }
            Event::RunFinished {
                summary,
                duration_ms,
                ..
            } => {
                writeln!(self.out, "{}", summary_line(summary, *duration_ms))?;
            }
        }
        Ok(self.out.flush()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::result::Report;
    use crate::report::testing::{replay, sample_report, HOSTILE};

    fn console_text(report: &Report, color: bool) -> String {
        let mut sink = ConsoleSink::new(Vec::new()).with_color(color);
        replay(report, &mut sink);
        String::from_utf8(sink.into_inner()).unwrap()
    }

    #[test]
    fn console_snapshot() {
        let text = console_text(&sample_report(), false);
        insta::with_settings!({filters => vec![
            (r"kernel \S+,", "kernel [release],"),
            (r"isocheck \d+\.\d+\.\d+\S*:", "isocheck [version]:"),
            (r"\d+\.\d ms", "[ms]"),
            (r"in \d+\.\d+ s", "in [wall]"),
        ]}, {
            insta::assert_snapshot!(text);
        });
    }

    #[test]
    fn no_colour_by_default_and_colour_keeps_columns() {
        let report = sample_report();
        let plain = console_text(&report, false);
        assert!(!plain.contains('\x1b'));
        let coloured = console_text(&report, true);
        assert!(coloured.contains("\x1b[32mPASS \x1b[0m"));
        // Stripped of its escapes, the coloured text is the plain text.
        let stripped = coloured
            .replace("\x1b[0m", "")
            .replace("\x1b[32m", "")
            .replace("\x1b[1;31m", "")
            .replace("\x1b[33m", "")
            .replace("\x1b[1;35m", "");
        assert_eq!(stripped, plain);
    }

    #[test]
    fn one_line_per_case_plus_hints() {
        let report = sample_report();
        let text = console_text(&report, false);
        let hints = report
            .cases
            .iter()
            .filter(|c| c.outcome == Outcome::Skip)
            .filter(|c| c.reason.as_ref().is_some_and(|r| r.hint.is_some()))
            .count();
        assert_eq!(text.lines().count(), 1 + report.cases.len() + hints + 1);
        assert!(
            text.contains(HOSTILE),
            "the console prints details as they are"
        );
    }

    #[test]
    fn control_characters_cannot_break_the_line() {
        let mut case = sample_report().cases[4].clone();
        case.reason.as_mut().unwrap().detail = "a\nb\x1b[2J".into();
        let line = case_lines(&case, false);
        assert_eq!(line.lines().count(), 1);
        assert!(line.ends_with("promise-broken: a\\nb\\u{1b}[2J"));
    }

    #[test]
    fn summary_line_form() {
        let s = Summary {
            total: 10,
            pass: 4,
            fail: 3,
            skip: 2,
            error: 1,
        };
        assert_eq!(
            summary_line(&s, 2500.0),
            "4 passed, 3 failed, 2 skipped, 1 errors in 2.50 s"
        );
    }
}
