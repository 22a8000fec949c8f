//! Layer 4 of the chain (sys -> model -> probe -> **runtime** -> host ->
//! suite -> report -> cli): it imports `sys`, `model` and `probe`.
//!
//! The runtime core: a [`spec::SandboxSpec`] in, an [`spawn::Observation`]
//! and an exit status out.
//!
//! - `spawn`: the runner side (scratch, cgroup, helper process, timeout, clean-up)
//! - `helper`: the single-threaded helper process (clone, id maps, wait, sweep)
//! - `protocol`: what the runner and the helper send each other
//! - `init`: the sandbox side (mounts, pivot_root, hostname, ids, caps, seccomp)
//! - `execcopy`: copies of isocheck's binary with file capabilities or setuid
//! - `veth`: a veth pair from a throwaway outer network namespace into the sandbox
//! - `plumbing`: the step errors, pipes and parent-death guard the helper's processes share
//! - `notify`: the seccomp supervisor, the helper's side of a user-notification filter
//! - `scaffold`: the test scaffolding items, each preparing, holding and cleaning up its own
//! - `sabotage`: the catalogue of injected bugs (hooks only with the feature `sabotage`)

pub mod cgroups;
pub mod execcopy;
pub mod helper;
pub mod idmap;
pub mod init;
pub mod join;
pub mod mounts;
pub mod notify;
pub mod plumbing;
pub mod protocol;
pub mod rootless;
pub mod sabotage;
pub mod scaffold;
pub mod spawn;
pub mod spec;
pub mod syscall;
pub mod veth;
pub mod workdir;
pub mod zygote;
