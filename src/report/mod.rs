//! Layer 7 of the chain (sys -> model -> probe -> runtime -> host -> suite
//! -> **report** -> cli): reporters that consume one event stream. It may
//! import every layer but `cli`.
//!
//! The result model and the event stream are data of the model layer
//! ([`crate::model::result`], re-exported here). [`console`] is the one
//! reporter that prints as a run goes; the others are pure functions of a finished [`Report`]:
//! [`json`] (the report file), [`html`] (one self-contained page),
//! [`junit`] (for CI), and over several reports [`matrix`] (kernels
//! across, properties down) and [`diff`] (what changed between two runs).

pub mod console;
pub mod diff;
pub mod html;
pub mod json;
pub mod junit;
pub mod matrix;
#[cfg(test)]
pub(crate) mod testing;
mod text;

pub use crate::model::result::*;
pub use console::ConsoleReporter;
pub use diff::Diff;
pub use json::{read_report, write_report, ReportError};
pub use matrix::Matrix;

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
