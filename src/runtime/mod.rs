//! The runtime core: a [`spec::SandboxSpec`] in, an observation and an exit
//! status out.

pub mod cgroups;
pub mod spec;
