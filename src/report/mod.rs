//! One result model; sinks that consume one event stream.
//!
//! [`model`] is the data and [`sink`] the run's event stream with the one
//! trait every consumer of it implements. The sinks: [`console`] prints as
//! a run goes; [`sink::FileSink`] adds the stream up and writes, at the
//! run's end, [`json`] (the report file), [`html`] (one self-contained
//! page) or [`junit`] (for CI), each a pure rendering of the [`Report`]
//! the stream adds up to. Over several reports: [`matrix`] (kernels across,
//! properties down) and [`diff`] (what changed between two runs).

pub mod console;
pub mod diff;
pub mod html;
pub mod json;
pub mod junit;
pub mod matrix;
pub mod model;
pub mod sink;
#[cfg(test)]
pub(crate) mod testing;
mod text;

pub use console::ConsoleSink;
pub use diff::Diff;
pub use json::{read_report, write_report, ReportError};
pub use matrix::Matrix;
pub use model::*;
pub use sink::{Collector, Event, FileSink, Sink, SinkError};
