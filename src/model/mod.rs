//! Layer 2 of the chain (sys -> **model** -> probe -> runtime -> host ->
//! suite -> report -> cli): plain data, no I/O. It imports only `sys` and
//! crates; every other layer may import it.
//!
//! Namespace kinds, cgroup layout and limits, the skeleton root, a veth
//! pair, and the names the runtime and the probes agree on.

pub mod cgroup;
pub mod names;
pub mod namespace;
pub mod skeleton;
pub mod veth;
