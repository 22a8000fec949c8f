//! The run's event stream and the trait every consumer of it implements
//! (layer: model; plain data and one trait, nothing here runs or prints).
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
//! the report files (JSON, HTML, JUnit, KTAP: `report::FileSink`) add the stream up with a
//! [`Collector`] and write their file in [`Sink::finish`], once the run and
//! everything it made are gone. No sink sorts cases or counts outcomes:
//! the plan gives the order and `RunFinished` the summary.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use super::host::HostFacts;
use super::result::{Audit, CaseResult, Report, Summary, Tool, SCHEMA_VERSION};

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
        /// The signal that stopped the run (`SIGINT`, `SIGTERM`, `SIGHUP`), if one
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
/// console, the JSON and HTML files, JUnit and KTAP are all sinks.
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

/// A sink for tests that keeps every event it is given.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// One event as a [`RecordingSink`] keeps it.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Recorded {
        RunStarted {
            plan: Vec<String>,
            planned: usize,
            labels: BTreeMap<String, String>,
        },
        CaseStarted {
            index: usize,
            id: String,
        },
        CaseFinished {
            index: usize,
            case: Box<CaseResult>,
        },
        AuditFinished(Audit),
        RunFinished {
            summary: Summary,
            interrupted: Option<String>,
        },
    }

    /// A sink that keeps every event it is given, in order.
    #[derive(Default)]
    pub struct RecordingSink {
        pub events: Vec<Recorded>,
    }

    impl Sink for RecordingSink {
        fn event(&mut self, event: &Event<'_>) -> Result<(), SinkError> {
            self.events.push(match event {
                Event::RunStarted {
                    plan,
                    planned,
                    labels,
                    ..
                } => Recorded::RunStarted {
                    plan: plan.to_vec(),
                    planned: *planned,
                    labels: (*labels).clone(),
                },
                Event::CaseStarted { index, id } => Recorded::CaseStarted {
                    index: *index,
                    id: id.to_string(),
                },
                Event::CaseFinished { index, case } => Recorded::CaseFinished {
                    index: *index,
                    case: Box::new((*case).clone()),
                },
                Event::AuditFinished(a) => Recorded::AuditFinished((*a).clone()),
                Event::RunFinished {
                    summary,
                    interrupted,
                    ..
                } => Recorded::RunFinished {
                    summary: (*summary).clone(),
                    interrupted: interrupted.map(str::to_string),
                },
            });
            Ok(())
        }
    }
}
