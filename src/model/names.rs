//! Names and values the runtime and the probes inside a sandbox agree on:
//! the IPC objects the helper makes, and the variables that carry a
//! listener's port and a `cpu.stat` descriptor into the sandbox.

/// The key of the System V segment `ipc_objects` makes.
pub const IPC_SHM_KEY: i32 = 0x1500_c4ec;
/// The name of the POSIX message queue `ipc_objects` makes.
pub const IPC_MQ_NAME: &str = "/isocheck-probe";
/// The variable that carries the listener's port into the sandbox.
pub const LISTENER_PORT_ENV: &str = "ISOCHECK_LISTENER_PORT";
/// The variable that names the descriptor of the sandbox's cgroup
/// `cpu.stat`, opened by the helper and inherited by the sandbox.
pub const CPU_STAT_FD_ENV: &str = "ISOCHECK_CPU_STAT_FD";
/// The variable that carries the lesser uid a probe opens a cgroup file
/// with (`lesser_opener`) into the sandbox.
pub const LESSER_OPENER_ENV: &str = "ISOCHECK_LESSER_OPENER";
