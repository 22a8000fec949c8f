//! The run on standard output in a machine's format, for
//! `run --format json|ktap`.
//!
//! JSON: one object per line as the run goes (JSON Lines), each with an
//! `event`: `started` (the schema version, the host's kernel and layout,
//! the labels, the cases planned), `case` (a finished case, as
//! `report.json` holds it) and `finished` (the summary). Every line fits
//! `schemas/run-stream.schema.json`. KTAP: the whole document at the end of
//! the run, as `--ktap FILE` writes it (KTAP counts a group's tests before
//! listing them).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;

use super::versioned::STREAM_SCHEMA_VERSION;
use crate::model::events::{Collector, Event, Sink, SinkError};
use crate::model::result::{CaseResult, SchemaVersion, Summary};

/// One line of `run --format json`.
#[derive(Serialize, Deserialize, Clone, Debug, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum StreamLine {
    /// The first line.
    Started {
        schema_version: SchemaVersion,
        /// `uname -r` of the host.
        kernel: String,
        hostname: String,
        /// `unified`, `hybrid` or `legacy`.
        cgroup_layout: String,
        /// RFC 3339, UTC.
        started_at: String,
        labels: BTreeMap<String, String>,
        /// The cases the run runs.
        planned: usize,
    },
    /// A case has its final outcome.
    Case {
        /// The case's place in the run's plan.
        index: usize,
        case: Box<CaseResult>,
    },
    /// The last line.
    Finished {
        summary: Summary,
        duration_ms: f64,
        /// The signal that stopped the run, if one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interrupted: Option<String>,
    },
}

/// Writes the run as JSON lines.
pub struct JsonLinesSink<W: Write> {
    out: W,
}

impl<W: Write> JsonLinesSink<W> {
    pub fn new(out: W) -> Self {
        JsonLinesSink { out }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Sink for JsonLinesSink<W> {
    fn event(&mut self, event: &Event<'_>) -> Result<(), SinkError> {
        let line = match event {
            Event::RunStarted {
                host,
                started_at,
                labels,
                planned,
                ..
            } => StreamLine::Started {
                schema_version: STREAM_SCHEMA_VERSION,
                kernel: host.kernel.release.clone(),
                hostname: host.hostname.clone(),
                cgroup_layout: host.cgroup.layout.as_str().into(),
                started_at: started_at.to_string(),
                labels: (*labels).clone(),
                planned: *planned,
            },
            Event::CaseFinished { index, case } => StreamLine::Case {
                index: *index,
                case: Box::new((*case).clone()),
            },
            Event::RunFinished {
                summary,
                duration_ms,
                interrupted,
            } => StreamLine::Finished {
                summary: (*summary).clone(),
                duration_ms: *duration_ms,
                interrupted: interrupted.map(str::to_string),
            },
            Event::CaseStarted { .. } | Event::AuditFinished(_) => return Ok(()),
        };
        let text = serde_json::to_string(&line).expect("a stream line always serializes");
        writeln!(self.out, "{text}")?;
        Ok(self.out.flush()?)
    }
}

/// Writes the run as KTAP when it ends.
pub struct KtapStreamSink<W: Write> {
    out: W,
    collector: Collector,
}

impl<W: Write> KtapStreamSink<W> {
    pub fn new(out: W) -> Self {
        KtapStreamSink {
            out,
            collector: Collector::default(),
        }
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Sink for KtapStreamSink<W> {
    fn event(&mut self, event: &Event<'_>) -> Result<(), SinkError> {
        self.collector.take(event);
        if matches!(event, Event::RunFinished { .. }) {
            if let Some(report) = self.collector.report() {
                self.out.write_all(super::ktap::render(report).as_bytes())?;
                self.out.flush()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::result::Outcome;
    use crate::report::testing::{replay, sample_report};

    #[test]
    fn json_lines_are_started_a_case_each_and_finished() {
        let report = sample_report();
        let mut sink = JsonLinesSink::new(Vec::new());
        replay(&report, &mut sink);
        let text = String::from_utf8(sink.into_inner()).unwrap();
        let lines: Vec<StreamLine> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), report.cases.len() + 2);
        let StreamLine::Started {
            schema_version,
            planned,
            kernel,
            ..
        } = &lines[0]
        else {
            panic!("first line: {:?}", lines[0]);
        };
        assert_eq!(*schema_version, STREAM_SCHEMA_VERSION);
        assert_eq!(*planned, report.cases.len());
        assert_eq!(kernel, &report.host.kernel.release);
        for (i, (line, case)) in lines[1..].iter().zip(&report.cases).enumerate() {
            let StreamLine::Case { index, case: got } = line else {
                panic!("line {}: {line:?}", i + 1);
            };
            assert_eq!(*index, i);
            assert_eq!(**got, *case);
        }
        let StreamLine::Finished { summary, .. } = lines.last().unwrap() else {
            panic!("last line");
        };
        assert_eq!(summary.fail, report.summary.fail);
        assert!(report.cases.iter().any(|c| c.outcome == Outcome::Fail));
    }

    #[test]
    fn ktap_on_stdout_is_the_ktap_file() {
        let report = sample_report();
        let mut sink = KtapStreamSink::new(Vec::new());
        replay(&report, &mut sink);
        let text = String::from_utf8(sink.into_inner()).unwrap();
        let mut collected = Collector::default();
        replay(&report, &mut CollectorSink(&mut collected));
        assert_eq!(
            text,
            super::super::ktap::render(collected.report().unwrap())
        );
        assert!(text.starts_with("KTAP version 1\n"));
    }

    struct CollectorSink<'a>(&'a mut Collector);

    impl Sink for CollectorSink<'_> {
        fn event(&mut self, event: &Event<'_>) -> Result<(), SinkError> {
            self.0.take(event);
            Ok(())
        }
    }
}
