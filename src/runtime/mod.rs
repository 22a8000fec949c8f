//! The runtime core: a [`spec::SandboxSpec`] in, an [`spawn::Observation`]
//! and an exit status out.
//!
//! - `spawn`: the runner side (scratch, cgroup, helper process, timeout, clean-up)
//! - `helper`: the single-threaded helper process (clone, id maps, wait, sweep)
//! - `init`: the sandbox side (mounts, pivot_root, hostname, ids, caps, seccomp)
//! - `execcopy`: copies of isocheck's binary with file capabilities or setuid
//! - `veth`: a veth pair from a throwaway outer network namespace into the sandbox
//! - `scaffold`: the test scaffolding items, each preparing, holding and cleaning up its own
//! - `sabotage`: the catalogue of injected bugs (hooks only with the feature `sabotage`)

pub mod cgroups;
pub mod execcopy;
pub mod helper;
pub mod idmap;
pub mod init;
pub mod join;
pub mod mounts;
pub mod rootless;
pub mod sabotage;
pub mod scaffold;
pub mod seccomp;
pub mod spawn;
pub mod spec;
pub mod syscall;
pub mod veth;
pub mod workdir;
