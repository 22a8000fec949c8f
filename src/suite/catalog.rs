//! The properties isocheck knows: the ids reports group and compare by.
//! A table may name these, or its own under `custom.`.

/// (id, area, the promise in one line)
pub const PROPERTIES: &[(&str, &str, &str)] = &[
    (
        "pid.pid1",
        "pid",
        "the sandbox init is PID 1 and sees no host process",
    ),
    (
        "uts.hostname",
        "uts",
        "a hostname set inside is seen inside and the host's is unchanged",
    ),
    (
        "net.empty",
        "net",
        "a new network namespace holds only a down lo and no routes",
    ),
    (
        "mount.ro_bind",
        "mount",
        "a read-only bind refuses writes and cannot be remounted read-write without CAP_SYS_ADMIN",
    ),
    (
        "cgroup.memory_oom",
        "cgroup",
        "a memory hog under a cgroup memory cap is OOM-killed",
    ),
    (
        "caps.chown_denied",
        "caps",
        "chown fails with EPERM once CAP_CHOWN is dropped from every set (all five, and an exec does not regain it)",
    ),
    (
        "userns.uid_map_ownership",
        "userns",
        "a file made by root in a user namespace is owned by the mapped host uid outside (rootless: the uid the runner's stated range gives, 101000)",
    ),
    (
        "pid.proc_mount_needed",
        "pid",
        "a new PID namespace hides host processes only once a fresh /proc is mounted",
    ),
    (
        "cgroup.pids_max",
        "cgroup",
        "with pids.max = N the fork that would make N+1 tasks fails with EAGAIN",
    ),
    (
        "caps.sys_admin_mount",
        "caps",
        "without CAP_SYS_ADMIN (gone from all five sets, and not regained by an exec) a mount fails with EPERM",
    ),
    (
        "caps.bounding",
        "caps",
        "a capability dropped from the bounding set does not come back through a file capability on exec",
    ),
    (
        "caps.net_bind_service",
        "caps",
        "a non-root user without CAP_NET_BIND_SERVICE cannot bind a port below 1024 (EACCES)",
    ),
    (
        "nnp.blocks_setuid",
        "security",
        "with no_new_privs a setuid-root binary runs with the caller's euid",
    ),
    (
        "seccomp.filter",
        "security",
        "a seccomp filter makes a denied system call fail with its errno and leaves others working",
    ),
    (
        "masked.proc_paths",
        "security",
        "masked /proc paths give nothing to read and read-only ones refuse writes (EROFS)",
    ),
    (
        "mount.proc_sys_dev",
        "mount",
        "/proc is the sandbox's own, /sys is a read-only sysfs of its network namespace, /dev holds only the minimal devices",
    ),
    (
        "mount.propagation",
        "mount",
        "a mount made inside a slave-propagation sandbox does not reach the namespace outside",
    ),
    (
        "cgroup.cpu_max",
        "cgroup",
        "a CPU quota holds a busy loop to about its share of a CPU and the cgroup counts the throttled periods",
    ),
    (
        "net.veth",
        "net",
        "a veth pair into the sandbox reaches its peer end and nothing else outside",
    ),
    (
        "mount.old_root_gone",
        "mount",
        "after pivot_root the old root is detached: a host file is reachable by no path (as it is, below or `..` from any mount point, through /proc/<pid>/root) and the mount table holds only what the sandbox was given",
    ),
    (
        "mount.host_unwritable",
        "mount",
        "no host path is writable from inside unless the sandbox binds it writable",
    ),
    (
        "ipc.isolated",
        "ipc",
        "System V and POSIX IPC objects of the host are invisible in a new IPC namespace",
    ),
    (
        "time.offsets",
        "time",
        "a time namespace shifts CLOCK_MONOTONIC and CLOCK_BOOTTIME by its offsets",
    ),
    (
        "userns.unmapped_nobody",
        "userns",
        "in a user namespace with no map the process sees itself as the overflow uid and gid",
    ),
    (
        "userns.setgroups_deny",
        "userns",
        "after setgroups is denied, setgroups fails with EPERM inside the user namespace",
    ),
    (
        "cgroup.namespace_root",
        "cgroup",
        "in a cgroup namespace the sandbox's own cgroup reads as /",
    ),
    (
        "net.loopback_isolated",
        "net",
        "a listener on the host's 127.0.0.1 is unreachable from a new network namespace",
    ),
    (
        "userns.unprivileged_needs_userns",
        "userns",
        "an unprivileged user holds no capability in any set, and creates PID, mount, UTS and network namespaces only with a user namespace",
    ),
    (
        "pid.join",
        "pid",
        "a process that joins the sandbox's PID and mount namespaces from outside sees its init as PID 1, in a namespace that is not the host's",
    ),
    (
        "userns.subid_range",
        "userns",
        "a user namespace mapped by newuidmap from /etc/subuid maps ownership through the subordinate range",
    ),
];

/// Areas in the order reports show them.
pub const AREAS: &[&str] = &[
    "pid", "uts", "net", "mount", "ipc", "cgroup", "userns", "caps", "time", "security", "custom",
];

/// The area and promise of a property id, if known (or `custom.*`).
pub fn lookup(id: &str) -> Option<(&'static str, &'static str)> {
    if let Some(rest) = id.strip_prefix("custom.") {
        return (!rest.is_empty()).then_some(("custom", ""));
    }
    PROPERTIES
        .iter()
        .find(|(p, _, _)| *p == id)
        .map(|(_, a, d)| (*a, *d))
}
