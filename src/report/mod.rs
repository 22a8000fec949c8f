//! One result model; reporters that consume one event stream.
//!
//! [`model`] is the data. [`console`] is the one reporter that prints as a
//! run goes; the others are pure functions of a finished [`Report`]:
//! [`json`] (the report file), [`html`] (one self-contained page),
//! [`junit`] (for CI), and over several reports [`matrix`] (kernels
//! across, properties down) and [`diff`] (what changed between two runs).

pub mod console;
pub mod diff;
pub mod html;
pub mod json;
pub mod junit;
pub mod matrix;
pub mod model;
#[cfg(test)]
pub(crate) mod testing;
mod text;

pub use console::ConsoleReporter;
pub use diff::Diff;
pub use json::{read_report, write_report, ReportError};
pub use matrix::Matrix;
pub use model::*;

/// A consumer of the run's event stream. The runner never prints: the
/// console, the JSON and HTML files and JUnit are all reporters.
pub trait Reporter {
    fn event(&mut self, event: &Event<'_>) -> std::io::Result<()>;
}

/// Adds the event stream up into a [`Report`].
#[derive(Default)]
pub struct Collector {
    pub report: Option<Report>,
}

impl Reporter for Collector {
    fn event(&mut self, event: &Event<'_>) -> std::io::Result<()> {
        match event {
            Event::RunStarted {
                host, started_at, ..
            } => {
                self.report = Some(Report {
                    schema_version: SCHEMA_VERSION,
                    tool: Tool::default(),
                    host: (*host).clone(),
                    started_at: started_at.to_string(),
                    duration_ms: 0.0,
                    summary: Summary::default(),
                    cases: Vec::new(),
                    labels: Default::default(),
                    audit: None,
                    interrupted: None,
                });
            }
            Event::CaseFinished(case) => {
                if let Some(r) = self.report.as_mut() {
                    r.summary.add(case.outcome);
                    r.cases.push((*case).clone());
                }
            }
            Event::RunFinished { duration_ms, .. } => {
                if let Some(r) = self.report.as_mut() {
                    r.duration_ms = *duration_ms;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testing::{replay, sample_report};

    #[test]
    fn collector_adds_the_events_up_to_the_report() {
        let report = sample_report();
        let mut collector = Collector::default();
        replay(&report, &mut collector);
        let collected = collector.report.unwrap();
        assert_eq!(collected.summary, report.summary);
        assert_eq!(collected.cases, report.cases);
        assert_eq!(collected.host, report.host);
        assert_eq!(collected.started_at, report.started_at);
        assert_eq!(collected.duration_ms, report.duration_ms);
    }
}
