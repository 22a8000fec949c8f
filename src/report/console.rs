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
//! padding, so the columns stay aligned either way. The property column is
//! as wide as the longest property of the run's plan, so long names keep
//! the columns aligned too. Details are printed on one line whatever they
//! contain: control characters are escaped. Quiet, the sink prints only the
//! failed and errored cases and the summary.
//!
//! Terse, a case is one character (`.` pass, `F` fail, `s` skip, `E`
//! error), 60 to a line, and the failed and errored cases follow in full
//! before the summary, as libtest's terse format does.
//!
//! On a terminal the sink can keep a live progress line under the cases
//! (done of planned, and the case running), redrawn by `indicatif`; the
//! case lines print above it, so a log or a pipe never sees it.

use std::io::Write;

use super::text::{ms, one_line};
use crate::model::events::{Event, Sink, SinkError};
use crate::model::host::HostFacts;
use crate::model::result::{CaseResult, Outcome, Summary};

/// Least width of the property column; a plan with longer property names
/// widens it to the longest.
const PROPERTY_WIDTH: usize = 28;
/// Width of the mode column (`rootless`).
const MODE_WIDTH: usize = 8;
/// Width of the variant column (`control`).
const VARIANT_WIDTH: usize = 7;
/// Width of the outcome column (`ERROR`).
const OUTCOME_WIDTH: usize = 5;
/// Width of the duration column (`12345.6 ms`).
const DURATION_WIDTH: usize = 10;
/// Where the reason column starts, after a property column this wide.
fn reason_column(property_width: usize) -> usize {
    property_width + 1 + MODE_WIDTH + 1 + VARIANT_WIDTH + 1 + OUTCOME_WIDTH + 1 + DURATION_WIDTH + 2
}

/// The property column's width for a plan of case ids
/// (`property/mode/variant`): the longest property, at least
/// [`PROPERTY_WIDTH`].
pub fn property_width(plan: &[String]) -> usize {
    plan.iter()
        .map(|id| {
            let property = id.rsplitn(3, '/').last().unwrap_or(id);
            one_line(property).chars().count()
        })
        .fold(PROPERTY_WIDTH, usize::max)
}

/// How the console shows the cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// A header, one aligned line per case, the summary.
    #[default]
    Pretty,
    /// A character per case, then the failures in full and the summary.
    Terse,
}

/// Cases per line in the terse style.
const TERSE_WIDTH: usize = 60;

/// The terse style's character for an outcome.
pub fn outcome_char(outcome: Outcome) -> char {
    match outcome {
        Outcome::Pass => '.',
        Outcome::Fail => 'F',
        Outcome::Skip => 's',
        Outcome::Error => 'E',
    }
}

/// Prints the run to a terminal or a log.
pub struct ConsoleSink<W: Write> {
    out: W,
    /// Colour the outcome words with ANSI escapes. Off by default.
    pub color: bool,
    /// Print only failed and errored cases and the summary. Off by default.
    pub quiet: bool,
    /// The property column's width, set from the plan when the run starts.
    property_width: usize,
    pub style: Style,
    /// Terse: characters printed on the current line.
    column: usize,
    /// Terse: the failed and errored cases, printed in full at the end.
    loud: Vec<String>,
    /// The live progress line, on a terminal only.
    progress: Option<indicatif::ProgressBar>,
}

impl<W: Write> ConsoleSink<W> {
    pub fn new(out: W) -> Self {
        ConsoleSink {
            out,
            color: false,
            quiet: false,
            property_width: PROPERTY_WIDTH,
            style: Style::Pretty,
            column: 0,
            loud: Vec::new(),
            progress: None,
        }
    }

    pub fn with_style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// Keeps a live progress line (cases done of planned, the case
    /// running) on standard error. Only for a terminal: the caller decides.
    pub fn with_progress(mut self, on: bool) -> Self {
        self.progress = on.then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template("[{pos}/{len}] {elapsed} {wide_msg}")
                    .expect("a fixed template"),
            );
            bar
        });
        self
    }

    /// Writes `text` and a newline, above the progress line if there is
    /// one.
    fn line(&mut self, text: &str) -> std::io::Result<()> {
        match &self.progress {
            Some(bar) => {
                let bar = bar.clone();
                bar.suspend(|| writeln!(self.out, "{text}").and_then(|()| self.out.flush()))
            }
            None => writeln!(self.out, "{text}"),
        }
    }

    /// Terse: one character, starting a new line every [`TERSE_WIDTH`].
    fn terse_char(&mut self, c: char) -> std::io::Result<()> {
        let end = self.column + 1 == TERSE_WIDTH;
        let write = |out: &mut W| {
            write!(out, "{c}")?;
            if end {
                writeln!(out)?;
            }
            out.flush()
        };
        match self.progress.clone() {
            Some(bar) => bar.suspend(|| write(&mut self.out))?,
            None => write(&mut self.out)?,
        }
        self.column = if end { 0 } else { self.column + 1 };
        Ok(())
    }

    pub fn with_color(mut self, color: bool) -> Self {
        self.color = color;
        self
    }

    pub fn with_quiet(mut self, quiet: bool) -> Self {
        self.quiet = quiet;
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
    case_lines_in(case, color, PROPERTY_WIDTH)
}

/// [`case_lines`] with a property column `property_width` wide.
pub fn case_lines_in(case: &CaseResult, color: bool, property_width: usize) -> String {
    let word = format!("{:<OUTCOME_WIDTH$}", outcome_word(case.outcome));
    let word = if color {
        format!("{}{word}\x1b[0m", ansi_color(case.outcome))
    } else {
        word
    };
    let mut line = format!(
        "{:<property_width$} {:<MODE_WIDTH$} {:<VARIANT_WIDTH$} {word} {:>DURATION_WIDTH$}",
        one_line(&case.property),
        case.mode.as_str(),
        case.variant.as_str(),
        ms(case.duration_ms),
    );
    if let Some(reason) = &case.reason {
        line.push_str("  ");
        line.push_str(&one_line(&reason.to_string()));
        // A broken promise names what it is tied to in the kernel's
        // history: the release, the commit, the CVE.
        if case.outcome == Outcome::Fail && !case.tags.is_empty() {
            line.push('\n');
            line.push_str(&" ".repeat(reason_column(property_width)));
            line.push_str("tags: ");
            line.push_str(&one_line(&case.tags.join(", ")));
        }
        if case.outcome == Outcome::Skip {
            if let Some(hint) = &reason.hint {
                line.push('\n');
                line.push_str(&" ".repeat(reason_column(property_width)));
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
    /// case starting and the audit print nothing. Quiet, only failed and
    /// errored cases and the summary.
    fn event(&mut self, event: &Event<'_>) -> Result<(), SinkError> {
        match event {
            Event::RunStarted {
                host,
                planned,
                plan,
                ..
            } => {
                self.property_width = property_width(plan);
                if let Some(bar) = &self.progress {
                    bar.set_length(*planned as u64);
                }
                if self.quiet {
                    return Ok(());
                }
                self.line(&header_line(host, *planned))?;
            }
            Event::CaseStarted { id, .. } => {
                if let Some(bar) = &self.progress {
                    bar.set_message(one_line(id).into_owned());
                }
                return Ok(());
            }
            Event::AuditFinished(_) => return Ok(()),
            Event::CaseFinished { case, .. } => {
                if let Some(bar) = &self.progress {
                    bar.inc(1);
                }
                let loud = matches!(case.outcome, Outcome::Fail | Outcome::Error);
                let text = case_lines_in(case, self.color, self.property_width);
                match self.style {
                    Style::Pretty if self.quiet && !loud => return Ok(()),
                    Style::Pretty => self.line(&text)?,
                    Style::Terse => {
                        if loud {
                            self.loud.push(text);
                        }
                        if !self.quiet {
                            self.terse_char(outcome_char(case.outcome))?;
                        }
                    }
                }
            }
            Event::RunFinished {
                summary,
                duration_ms,
                ..
            } => {
                if let Some(bar) = self.progress.take() {
                    bar.finish_and_clear();
                }
                if self.column > 0 {
                    writeln!(self.out)?;
                    self.column = 0;
                }
                for text in std::mem::take(&mut self.loud) {
                    writeln!(self.out, "{text}")?;
                }
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
        // A failure of a tagged property names its tags on a line of its own.
        let tagged = report
            .cases
            .iter()
            .filter(|c| c.outcome == Outcome::Fail && !c.tags.is_empty())
            .count();
        assert_eq!(tagged, 1);
        assert_eq!(
            text.lines().count(),
            1 + report.cases.len() + hints + tagged + 1
        );
        let tags_line = text
            .lines()
            .find(|l| l.trim_start().starts_with("tags: "))
            .unwrap();
        assert_eq!(tags_line.trim_start(), "tags: linux 2.6, CVE-2099-0001");
        assert!(
            text.contains(HOSTILE),
            "the console prints details as they are"
        );
    }

    #[test]
    fn control_characters_cannot_break_the_line() {
        let mut case = sample_report().cases[4].clone();
        case.reason.as_mut().unwrap().detail = "a\nb\x1b[2J".into();
        case.tags.clear();
        let line = case_lines(&case, false);
        assert_eq!(line.lines().count(), 1);
        assert!(line.ends_with("promise-broken: a\\nb\\u{1b}[2J"));
    }

    #[test]
    fn a_long_property_widens_the_column_for_every_line() {
        let mut report = sample_report();
        let long = "custom.a_property_name_far_longer_than_the_column";
        report.cases[0].property = long.into();
        report.cases[0].id = format!(
            "{long}/{}/{}",
            report.cases[0].mode.as_str(),
            report.cases[0].variant.as_str()
        );
        let text = console_text(&report, true);
        let width = long.chars().count();
        assert!(width > PROPERTY_WIDTH);
        let lines: Vec<&str> = text.lines().collect();
        // The header, then the cases in the report's order (with their
        // hints), then the summary.
        let case_lines: Vec<&&str> = lines[1..lines.len() - 1]
            .iter()
            .filter(|l| !l.trim_start().starts_with("hint: "))
            .filter(|l| !l.trim_start().starts_with("tags: "))
            .collect();
        assert_eq!(case_lines.len(), report.cases.len());
        for (line, case) in case_lines.into_iter().zip(&report.cases) {
            assert!(line.starts_with(&format!("{} ", one_line(&case.property))));
            // The mode and variant columns start at the same place on
            // every line.
            assert_eq!(
                line.chars()
                    .skip(width + 1)
                    .take(MODE_WIDTH + 1 + VARIANT_WIDTH)
                    .collect::<String>(),
                format!(
                    "{:<MODE_WIDTH$} {:<VARIANT_WIDTH$}",
                    case.mode.as_str(),
                    case.variant.as_str()
                ),
                "{line:?}"
            );
        }
        // Hint lines start at the widened reason column.
        for hint in lines
            .iter()
            .filter(|l| l.trim_start().starts_with("hint: "))
        {
            assert_eq!(hint.find("hint: "), Some(reason_column(width)), "{hint:?}");
        }
        // So do tag lines.
        for tags in lines
            .iter()
            .filter(|l| l.trim_start().starts_with("tags: "))
        {
            assert_eq!(tags.find("tags: "), Some(reason_column(width)), "{tags:?}");
        }
        assert_eq!(property_width(&[]), PROPERTY_WIDTH);
        assert_eq!(property_width(&["a/rootful/test".into()]), PROPERTY_WIDTH);
    }

    #[test]
    fn terse_prints_a_character_per_case_then_the_failures_in_full() {
        let report = sample_report();
        let mut sink = ConsoleSink::new(Vec::new()).with_style(Style::Terse);
        replay(&report, &mut sink);
        let text = String::from_utf8(sink.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("isocheck "), "{text}");
        let chars: String = report
            .cases
            .iter()
            .map(|c| outcome_char(c.outcome))
            .collect();
        assert_eq!(lines[1], chars);
        assert!(chars.contains('F') && chars.contains('s') && chars.contains('.'));
        // Then each failed or errored case as the pretty style prints it.
        let loud: Vec<String> = report
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Error))
            .map(|c| case_lines_in(c, false, property_width(&[])))
            .collect();
        assert_eq!(lines[2..lines.len() - 1].join("\n"), loud.join("\n"));
        assert!(lines.last().unwrap().contains(" passed, "));
    }

    #[test]
    fn terse_wraps_at_sixty_cases() {
        let mut report = sample_report();
        let one = report.cases[0].clone();
        report.cases = (0..130)
            .map(|i| {
                let mut c = one.clone();
                c.property = format!("custom.p{i}");
                c.id = format!("custom.p{i}/rootful/test");
                c
            })
            .collect();
        let mut sink = ConsoleSink::new(Vec::new()).with_style(Style::Terse);
        replay(&report, &mut sink);
        let text = String::from_utf8(sink.into_inner()).unwrap();
        let dots: Vec<usize> = text
            .lines()
            .filter(|l| l.chars().all(|c| c == '.'))
            .map(str::len)
            .collect();
        assert_eq!(dots, vec![60, 60, 10], "{text}");
    }

    #[test]
    fn quiet_prints_only_failures_errors_and_the_summary() {
        let report = sample_report();
        let mut sink = ConsoleSink::new(Vec::new()).with_quiet(true);
        replay(&report, &mut sink);
        let text = String::from_utf8(sink.into_inner()).unwrap();
        let loud = report
            .cases
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fail | Outcome::Error))
            .count();
        assert!(loud > 0 && loud < report.cases.len());
        let tag_lines = text
            .lines()
            .filter(|l| l.trim_start().starts_with("tags: "))
            .count();
        assert_eq!(tag_lines, 1, "{text}");
        assert_eq!(text.lines().count(), loud + tag_lines + 1, "{text}");
        assert!(!text.contains("PASS") && !text.contains("SKIP") && !text.contains("planned"));
        assert!(text.lines().last().unwrap().contains(" passed, "));
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
