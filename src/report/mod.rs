//! Layer 7 of the chain (sys -> model -> probe -> runtime -> host -> suite
//! -> **report** -> cli): the sinks of the run's one event stream, and what
//! is read from finished reports. It may import every layer but `cli`.
//!
//! The result model and the event stream with the one trait every consumer
//! implements are data of the model layer ([`crate::model::result`],
//! [`crate::model::events`]). The sinks: [`console`]
//! prints as a run goes; [`sink::FileSink`] adds the stream up and writes,
//! at the run's end, [`json`] (the report file), [`html`] (one
//! self-contained page), [`junit`] (for CI) or [`ktap`] (for kernel CI),
//! each a pure rendering of the [`Report`](crate::model::result::Report)
//! the stream adds up to. Over several reports: [`matrix`]
//! (kernels across, properties down) and [`diff`] (what changed between two
//! runs). [`documents`]: the versions and JSON Schemas of every JSON
//! document isocheck writes. [`kcidb`]: reports as KernelCI's KCIDB
//! submission. [`stream`]: the run on standard output as JSON lines or
//! KTAP (`run --format json|ktap`). [`bench`]: what `isocheck bench`
//! measured, as a document and a table.

pub mod bench;
pub mod console;
pub mod diff;
pub mod documents;
pub mod html;
pub mod json;
pub mod junit;
pub mod kcidb;
pub mod ktap;
pub mod matrix;
pub mod sink;
pub mod stream;
#[cfg(test)]
pub(crate) mod testing;
mod text;
pub mod versioned;

pub use console::ConsoleSink;
pub use diff::Diff;
pub use json::{read_report, write_report, ReportError};
pub use matrix::Matrix;
pub use sink::FileSink;
