//! The run's event stream and the trait every consumer of it implements.
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
//! the [`FileSink`]s (JSON, HTML, JUnit) add the stream up with a
//! [`Collector`] and write their file in [`Sink::finish`], once the run and
//! everything it made are gone. No sink sorts cases or counts outcomes:
//! the plan gives the order and `RunFinished` the summary.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use super::model::{Audit, CaseResult, Report, Summary, Tool, SCHEMA_VERSION};
use crate::host::HostFacts;
use crate::sys::outdir::OutDir;

/// What a runner tells its sinks, in order (see the module's opening
/// comment).
#[derive(Debug)]
pub enum Event<'a> {
    /// The run begins.
    RunStarted {
        host: &'a HostFacts,
        /// RFC 3339, UTC.
        started_at: &'a str,
        /// The run's labels, e.g. the matrix leg it belongs to.
        labels: &'a BTreeMap<String, String>,
        /// The ids of the cases the report lists, in the report's order;
        /// every later case event names its place in this list.
        plan: &'a [String],
        /// The cases the run's pairs run: both variants of each selected
        /// pair, as a pair runs its control even when only its test is
        /// selected.
        planned: usize,
    },
    /// A case's pair has started running.
    CaseStarted {
        /// The case's place in the plan.
        index: usize,
        id: &'a str,
    },
    /// A case has its outcome, final: nothing changes it afterwards.
    CaseFinished {
        /// The case's place in the plan.
        index: usize,
        case: &'a CaseResult,
    },
    /// The host's config-against-behaviour audit, run after the cases.
    AuditFinished(&'a Audit),
    /// The last event of a run.
    RunFinished {
        /// The outcomes of the cases finished, counted once by the runner.
        summary: &'a Summary,
        /// The wall time of the cases.
        duration_ms: f64,
        /// The signal that stopped the run (`SIGINT`, `SIGTERM`), if one
        /// did: the cases that did not finish say `interrupted`.
        interrupted: Option<&'a str>,
    },
}

/// Why a sink could not take an event or write its output.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The stream a sink prints to refused it (a console whose reader went
    /// away).
    #[error("{0}")]
    Output(#[from] io::Error),
    /// A report file could not be written.
    #[error("writing {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// A consumer of the run's event stream. The runner never prints: the
/// console, the JSON and HTML files and JUnit are all sinks.
pub trait Sink {
    /// Takes one event. A sink that fails gets no more events; the run and
    /// the other sinks go on.
    fn event(&mut self, event: &Event<'_>) -> Result<(), SinkError>;

    /// Called once after `RunFinished`, when the run has released what it
    /// made (its work directory, its cgroups): a sink that writes a file
    /// writes it here, so nothing of the run is left once the file exists.
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Adds the event stream up into a [`Report`]: the cases in the plan's
/// order, the summary as `RunFinished` gives it.
#[derive(Default)]
pub struct Collector {
    report: Option<Report>,
    /// The finished cases by their place in the plan.
    slots: Vec<Option<CaseResult>>,
    finished: bool,
}

impl Collector {
    /// Takes one event; a collector cannot fail.
    pub fn take(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted {
                host,
                started_at,
                labels,
                plan,
                ..
            } => {
                self.report = Some(Report {
                    schema_version: SCHEMA_VERSION,
                    tool: Tool::default(),
                    host: (*host).clone(),
                    started_at: started_at.to_string(),
                    duration_ms: 0.0,
                    summary: Summary::default(),
                    cases: Vec::new(),
                    labels: (*labels).clone(),
                    audit: None,
                    interrupted: None,
                });
                self.slots = vec![None; plan.len()];
                self.finished = false;
            }
            Event::CaseStarted { .. } => {}
            Event::CaseFinished { index, case } => {
                if let Some(slot) = self.slots.get_mut(*index) {
                    *slot = Some((*case).clone());
                }
            }
            Event::AuditFinished(audit) => {
                if let Some(r) = self.report.as_mut() {
                    r.audit = Some((*audit).clone());
                }
            }
            Event::RunFinished {
                summary,
                duration_ms,
                interrupted,
            } => {
                if let Some(r) = self.report.as_mut() {
                    r.cases = self.slots.drain(..).flatten().collect();
                    r.summary = (*summary).clone();
                    r.duration_ms = *duration_ms;
                    r.interrupted = interrupted.map(str::to_string);
                    self.finished = true;
                }
            }
        }
    }

    /// The report, once `RunFinished` has come.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_ref().filter(|_| self.finished)
    }

    /// The report, once `RunFinished` has come, taken out.
    pub fn into_report(self) -> Option<Report> {
        self.report.filter(|_| self.finished)
    }
}

impl Sink for Collector {
    fn event(&mut self, event: &Event<'_>) -> Result<(), SinkError> {
        self.take(event);
        Ok(())
    }
}

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
    use crate::report::testing::{replay, sample_report};

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
