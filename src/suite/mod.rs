//! Layer 6 of the chain (sys -> model -> probe -> runtime -> host ->
//! **suite** -> report -> cli): it imports the layers to its left.
//!
//! The case model, requirements, tables, expectations and controls, and
//! the runner that turns them into results.

pub mod audit;
pub mod case;
pub mod catalog;
pub mod expect;
pub mod gates;
pub mod judge;
pub mod knob;
pub mod policy;
pub mod readiness;
pub mod requirements;
pub mod runner;
pub mod table;
