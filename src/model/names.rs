//! Names and values the runtime and the probes inside a sandbox agree on:
//! the IPC objects the helper makes, and the variables that carry a
//! listener's port and a `cpu.stat` descriptor into the sandbox, and the
//! field of a probe's report that names a task for the helper to watch.

/// The key of the System V segment `ipc_objects` makes.
pub const IPC_SHM_KEY: i32 = 0x1500_c4ec;
/// The name of the POSIX message queue `ipc_objects` makes.
pub const IPC_MQ_NAME: &str = "/isocheck-probe";
/// The variable that carries the listener's port into the sandbox.
pub const LISTENER_PORT_ENV: &str = "ISOCHECK_LISTENER_PORT";
/// The variable that names the descriptor of the sandbox's cgroup
/// `cpu.stat`, opened by the helper and inherited by the sandbox.
pub const CPU_STAT_FD_ENV: &str = "ISOCHECK_CPU_STAT_FD";
/// The variable that carries the helper's own pid (in its PID namespace,
/// the host's) into the sandbox (scaffold `pidfd_signal`).
pub const HOST_PID_ENV: &str = "ISOCHECK_HOST_PID";
/// The variable that names the sandbox's end of the unix socket a seccomp
/// listener is sent over (scaffold `seccomp_supervisor`).
pub const NOTIFY_SOCK_FD_ENV: &str = "ISOCHECK_NOTIFY_SOCK_FD";
/// The field of a probe's report that names the pid of a task the probe
/// left behind outside the sandbox's session: the helper watches it from
/// outside once the sandbox's main process has ended.
pub const ESCAPED_PID_FIELD: &str = "escaped_pid";
/// The variable that carries the id of the host's mount namespace (the
/// runner's, read by the helper with `NS_GET_MNTNS_ID`) into a sandbox
/// whose probe asks listmount(2) about it.
pub const HOST_MNTNS_ID_ENV: &str = "ISOCHECK_HOST_MNTNS_ID";
/// The variable that carries the lesser uid a probe opens a cgroup file
/// with (`lesser_opener`) into the sandbox.
pub const LESSER_OPENER_ENV: &str = "ISOCHECK_LESSER_OPENER";

/// Every variable above that the runtime sets for a sandbox. A caller's
/// own value must never reach a probe: where the runtime sets none (no
/// scaffolding asks for it) the probe would read the caller's, so the
/// binary removes them first, at every entry point
/// ([`crate::sys::reset_inherited_state`]).
pub const SANDBOX_VARIABLES: [&str; 6] = [
    LISTENER_PORT_ENV,
    CPU_STAT_FD_ENV,
    HOST_PID_ENV,
    NOTIFY_SOCK_FD_ENV,
    HOST_MNTNS_ID_ENV,
    LESSER_OPENER_ENV,
];
