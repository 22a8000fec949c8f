//! Layer 2 of the chain (sys -> **model** -> probe -> runtime -> host ->
//! suite -> report -> cli): plain data, no I/O. It imports only `sys` and
//! crates; every other layer may import it.
//!
//! What a sandbox is ([`spec`]), the test scaffolding around it
//! ([`scaffold`]) and the error of a set-up step ([`error`]); namespace
//! kinds, cgroup layout and limits, the skeleton root, a veth pair,
//! subordinate-id grants, the names the runtime and the probes agree on;
//! the host facts a run happened on ([`host`]); the result model
//! ([`result`]) and the run's event stream with the trait its sinks
//! implement ([`events`]).

pub mod cgroup;
pub mod error;
pub mod events;
pub mod host;
pub mod names;
pub mod namespace;
pub mod result;
pub mod scaffold;
pub mod skeleton;
pub mod spec;
pub mod subid;
pub mod tag;
pub mod veth;
