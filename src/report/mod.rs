//! One result model; reporters that consume one event stream.

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
