//! Plain data, the bottom layer: what a sandbox is ([`spec`]), the test
//! scaffolding around it ([`scaffold`]) and the error of a set-up step
//! ([`error`]). Imports only `sys`-level crates, never the layers above.

pub mod error;
pub mod scaffold;
pub mod spec;
