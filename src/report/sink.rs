//! The report files as sinks of the run's event stream
//! ([`crate::model::events`]).
//!
//! A run is told as one stream of [`Event`]s, in this order: `RunStarted`
//! (the host, the labels and the plan: every case the report will list,
//! in the report's order), then `CaseStarted` and `CaseFinished` as the
//! cases go (in the order they finish; each names its place in the plan),
//! `AuditFinished` when the run audits its host, and last `RunFinished`
//! with the summary the runner counted, the wall time and the signal that
//! stopped the run, if one did. A stopped run still finishes every case of
//! its plan: those that never started come as `CaseFinished` with the
//! reason `interrupted`.
//!
//! Every consumer is a [`Sink`]: the console prints each event as it comes;
//! the [`FileSink`]s (JSON, HTML, JUnit, KTAP) add the stream up with a
//! [`Collector`] and write their file in [`Sink::finish`], once the run and
//! everything it made are gone. No sink sorts cases or counts outcomes:
//! the plan gives the order and `RunFinished` the summary.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use crate::model::events::{Collector, Event, Sink, SinkError};
use crate::model::result::Report;
use crate::sys::outdir::OutDir;

/// The name of the JSON report in its run's directory.
pub const REPORT_JSON: &str = "report.json";
/// The name of the HTML report in its run's directory.
pub const REPORT_HTML: &str = "report.html";

/// A report file: the stream added up, rendered and written atomically
/// into its directory when the run is over.
pub struct FileSink {
    collector: Collector,
    /// Shared by the sinks that write into one directory.
    dir: Arc<OutDir>,
    name: OsString,
    render: fn(&Report) -> String,
}

impl FileSink {
    /// [`REPORT_JSON`] in `dir`.
    pub fn json(dir: Arc<OutDir>) -> Self {
        Self::new(dir, REPORT_JSON.into(), super::json::to_string)
    }

    /// [`REPORT_HTML`] in `dir`.
    pub fn html(dir: Arc<OutDir>) -> Self {
        Self::new(dir, REPORT_HTML.into(), super::html::render)
    }

    /// The JUnit XML file `name` in `dir`.
    pub fn junit(dir: OutDir, name: OsString) -> Self {
        Self::new(Arc::new(dir), name, super::junit::render)
    }

    /// The KTAP file `name` in `dir`.
    pub fn ktap(dir: OutDir, name: OsString) -> Self {
        Self::new(Arc::new(dir), name, super::ktap::render)
    }

    fn new(dir: Arc<OutDir>, name: OsString, render: fn(&Report) -> String) -> Self {
        FileSink {
            collector: Collector::default(),
            dir,
            name,
            render,
        }
    }

    /// Where the file goes.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join(&self.name)
    }
}

impl Sink for FileSink {
    fn event(&mut self, event: &Event<'_>) -> Result<(), SinkError> {
        self.collector.take(event);
        Ok(())
    }

    /// Writes the file; a run that never finished writes nothing.
    fn finish(&mut self) -> Result<(), SinkError> {
        let Some(report) = self.collector.report() else {
            return Ok(());
        };
        self.dir
            .write(&self.name, (self.render)(report).as_bytes())
            .map_err(|source| SinkError::Write {
                path: self.path(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::result::Summary;
    use crate::report::testing::{replay, sample_report};
    use std::collections::BTreeMap;

    #[test]
    fn collector_adds_the_events_up_to_the_report() {
        let report = sample_report();
        let mut collector = Collector::default();
        replay(&report, &mut collector);
        let collected = collector.into_report().unwrap();
        assert_eq!(collected.summary, report.summary);
        assert_eq!(collected.cases, report.cases);
        assert_eq!(collected.host, report.host);
        assert_eq!(collected.started_at, report.started_at);
        assert_eq!(collected.duration_ms, report.duration_ms);
        assert_eq!(collected.labels, report.labels);
        assert_eq!(
            crate::report::json::to_string(&collected),
            crate::report::json::to_string(&report)
        );
    }

    #[test]
    fn cases_take_their_place_in_the_plan_whatever_order_they_finish_in() {
        let report = sample_report();
        let plan: Vec<String> = report.cases.iter().map(|c| c.id.clone()).collect();
        let labels = BTreeMap::new();
        let mut collector = Collector::default();
        collector.take(&Event::RunStarted {
            host: &report.host,
            started_at: &report.started_at,
            labels: &labels,
            plan: &plan,
            planned: plan.len(),
        });
        for (index, case) in report.cases.iter().enumerate().rev() {
            collector.take(&Event::CaseFinished { index, case });
            assert!(collector.report().is_none(), "no report before the end");
        }
        // The summary is the runner's, never recounted.
        let summary = Summary {
            total: 99,
            ..Default::default()
        };
        collector.take(&Event::RunFinished {
            summary: &summary,
            duration_ms: 1.0,
            interrupted: Some("SIGINT"),
        });
        let r = collector.into_report().unwrap();
        assert_eq!(r.cases, report.cases);
        assert_eq!(r.summary, summary);
        assert_eq!(r.interrupted.as_deref(), Some("SIGINT"));
    }

    #[test]
    fn a_file_sink_writes_its_file_at_the_end_only() {
        let dir = tempfile::tempdir().unwrap();
        let report = sample_report();
        let mut sink = FileSink::json(Arc::new(OutDir::open(dir.path(), false).unwrap()));
        sink.finish().unwrap();
        assert!(!dir.path().join("report.json").exists(), "nothing to write");
        replay(&report, &mut sink);
        assert!(!dir.path().join("report.json").exists(), "written early");
        sink.finish().unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("report.json")).unwrap(),
            crate::report::json::to_string(&report)
        );
    }
}
