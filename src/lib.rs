//! isocheck: a conformance suite for the Linux kernel features that
//! container isolation rests on.
//!
//! The modules form one chain, each importing only those before it:
//! [`sys`] -> [`model`] -> [`probe`] -> [`runtime`] -> [`host`] ->
//! [`suite`] -> [`report`] -> [`cli`] (checked by `tests/layers.rs`).
//!
//! A table row becomes a [`model::spec::SandboxSpec`]; a single-threaded
//! helper process builds the sandbox and runs a [`probe`] inside it; the
//! [`suite`] judges the observation against the row's expectations and its
//! negative control; every [`report`]er renders the same results.

pub mod cli;
pub mod host;
pub mod model;
pub mod probe;
pub mod report;
pub mod runtime;
pub mod suite;
pub mod sys;
