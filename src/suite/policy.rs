//! The table policy: what a row may ask of the host, checked when the
//! table loads, before anything runs, for the test's sandbox and the
//! control's alike (and for every mode's).
//!
//! isocheck runs as root on other people's machines and `--suite FILE`
//! runs their tables, so a row must not be able to change the host:
//!
//! - only the case's scratch directory may be bound writable; a bind's
//!   host source, the rootfs, mount targets and masked paths are
//!   absolute and free of `..`;
//! - a probe that writes, chowns or mounts never reaches the host's root
//!   file system: not with `rootfs = host` (unless the path lies in a
//!   mount the sandbox made for itself or in the scratch directory), not
//!   without a mount namespace of its own or a throwaway outer one, not
//!   below /proc, /sys, /dev or the host directories the skeleton binds;
//!   the control's sandbox (one knob off) is held to the same rule, so a
//!   control whose leak would land on the host is refused; nor in a
//!   `rootfs = dir` tree (a device node or FIFO there is the host's), nor
//!   in a mount that a later mount over its parent hides;
//! - an `exec` probe runs only isocheck's own copy (`exec_copy`) in the
//!   scratch directory, never a program of the host's;
//! - the hostname has no NUL and fits the kernel's 64 bytes;
//! - limits and timeouts are sane: a memory cap of at least 1 MiB and at
//!   most the host's RAM, a pids cap of at least 1 and at most the
//!   kernel's PID_MAX_LIMIT, a timeout of more than 0 and at most 10
//!   minutes; a probe's own sizes and times stay within the same bounds;
//! - id maps have lines of at least one id that neither wrap, reach the
//!   invalid id 4294967295, nor overlap another line inside or outside.

use std::path::{Component, Path};

use super::knob::ControlKnob;
use crate::model::namespace::Namespace;
use crate::model::skeleton::SKELETON_BINDS;
use crate::model::spec::{BindSource, IdMap, Mount, Rootfs, SandboxSpec};
use crate::probe::cpu::BusyLoopArgs;
use crate::probe::memory::MemoryHogArgs;
use crate::probe::reach::NetReachArgs;
use crate::probe::tasks::ForkCountArgs;
use crate::probe::{Probe, SCRATCH_TOKEN};

/// The longest wall time a sandbox or probe may be given: 10 minutes.
pub const MAX_TIMEOUT_MS: u64 = 600_000;
/// The smallest memory cap: 1 MiB.
pub const MIN_MEMORY: u64 = 1 << 20;
/// The kernel's PID_MAX_LIMIT on 64-bit: no pids cap above it means anything.
pub const MAX_PIDS: u64 = 4_194_304;
/// The most processes a fork probe may start: it may run without a cap.
pub const MAX_FORKS: u32 = 1024;
/// The kernel's limit on a hostname (HOST_NAME_MAX).
pub const MAX_HOSTNAME: usize = 64;
/// The kernel's limit on the lines of an id map.
pub const MAX_MAP_LINES: usize = 340;

/// What the policy needs to know about the host.
#[derive(Clone, Copy, Debug)]
pub struct Host {
    /// Physical memory in bytes.
    pub ram: u64,
}

impl Host {
    /// This host, as sysinfo(2) reports it.
    pub fn this() -> Host {
        let ram = nix::sys::sysinfo::sysinfo()
            .map(|s| s.ram_total())
            .unwrap_or(u64::MAX);
        Host { ram }
    }
}

/// A refusal: the field (relative to the mode's definition) and why.
pub type Refusal = (String, String);

/// Checks one mode's definition: its probe, its test sandbox and the
/// sandbox of its control (the test's with `knob` off).
pub fn check(
    probe: &Probe,
    sandbox: &SandboxSpec,
    knob: &ControlKnob,
    host: &Host,
) -> Result<(), Refusal> {
    probe_bounds(probe, host).map_err(|(f, m)| (format!("probe.{f}"), m))?;
    sandbox_rules(probe, sandbox, host)?;
    let control = knob.turn_off(sandbox);
    sandbox_rules(probe, &control, host).map_err(|(f, m)| {
        (
            "control.off".to_string(),
            format!("the control's sandbox (`{knob}` off) is refused: `{f}`: {m}"),
        )
    })
}

/// A probe's own sizes and times.
fn probe_bounds(probe: &Probe, host: &Host) -> Result<(), Refusal> {
    let mib = |b: u64| b >> 20;
    match probe {
        Probe::MemoryHog(MemoryHogArgs { mib: m }) if *m > mib(host.ram) / 2 => Err((
            "mib".into(),
            format!(
                "{m} MiB is over half of this host's {} MiB of RAM; the control runs it without a cap",
                mib(host.ram)
            ),
        )),
        Probe::ForkCount(ForkCountArgs { max }) if *max > MAX_FORKS => Err((
            "max".into(),
            format!("{max} is over {MAX_FORKS}; the control runs it without a pids cap"),
        )),
        Probe::BusyLoop(BusyLoopArgs { ms, .. }) if *ms == 0 || *ms > MAX_TIMEOUT_MS => Err((
            "ms".into(),
            format!("{ms} is outside 1..={MAX_TIMEOUT_MS} (10 minutes)"),
        )),
        Probe::NetReach(NetReachArgs { timeout_ms, .. })
            if *timeout_ms == 0 || *timeout_ms > MAX_TIMEOUT_MS =>
        {
            Err((
                "timeout_ms".into(),
                format!("{timeout_ms} is outside 1..={MAX_TIMEOUT_MS} (10 minutes)"),
            ))
        }
        _ => Ok(()),
    }
}

fn has_dotdot(p: &Path) -> bool {
    p.components().any(|c| c == Component::ParentDir)
}

/// An absolute path without `..`.
fn plain(p: &Path) -> Result<(), String> {
    if !p.is_absolute() {
        return Err(format!("{p:?} must be an absolute path"));
    }
    if has_dotdot(p) {
        return Err(format!("{p:?} must not contain `..`"));
    }
    Ok(())
}

/// Everything a sandbox may ask of the host, with the probe it runs; the
/// field is named from the mode's definition (`sandbox.hostname`,
/// `probe.dir`).
fn sandbox_rules(probe: &Probe, s: &SandboxSpec, host: &Host) -> Result<(), Refusal> {
    spec_rules(s, host).map_err(|(f, m)| (format!("sandbox.{f}"), m))?;
    host_fs(probe, s)
}

/// The sandbox's own fields; the field is named below `sandbox`.
fn spec_rules(s: &SandboxSpec, host: &Host) -> Result<(), Refusal> {
    for (i, m) in s.mounts.iter().enumerate() {
        let at = |f: &str| format!("mounts[{i}].{f}");
        plain(m.target()).map_err(|e| (at("target"), e))?;
        if let Mount::Bind {
            source: BindSource::Host(src),
            readonly,
            ..
        } = m
        {
            plain(src).map_err(|e| (at("source"), format!("a bind's host source {e}")))?;
            if !readonly {
                return Err((
                    at("readonly"),
                    format!(
                        "host path {src:?} bound writable: only the case's scratch directory (source = \"scratch\") may be bound writable"
                    ),
                ));
            }
        }
    }
    if let Rootfs::Dir { path } = &s.rootfs {
        plain(path).map_err(|e| ("rootfs.path".into(), e))?;
    }
    for (name, list) in [
        ("masked_paths", &s.masked_paths),
        ("readonly_paths", &s.readonly_paths),
    ] {
        for (i, p) in list.iter().enumerate() {
            plain(p).map_err(|e| (format!("{name}[{i}]"), e))?;
        }
    }
    if let Some(h) = &s.hostname {
        if h.contains('\0') {
            return Err(("hostname".into(), "must not contain a NUL byte".into()));
        }
        if h.len() > MAX_HOSTNAME {
            return Err((
                "hostname".into(),
                format!("{} bytes is over the kernel's {MAX_HOSTNAME}", h.len()),
            ));
        }
    }
    if let Some(m) = s.cgroup.memory_max {
        if m < MIN_MEMORY {
            return Err((
                "cgroup.memory_max".into(),
                format!("{m} bytes is under 1 MiB ({MIN_MEMORY}): no sandbox starts in it"),
            ));
        }
        if m > host.ram {
            return Err((
                "cgroup.memory_max".into(),
                format!(
                    "{m} bytes is over this host's RAM ({} bytes): it caps nothing",
                    host.ram
                ),
            ));
        }
    }
    if let Some(p) = s.cgroup.pids_max {
        if !(1..=MAX_PIDS).contains(&p) {
            return Err((
                "cgroup.pids_max".into(),
                format!("{p} is outside 1..={MAX_PIDS} (the kernel's PID_MAX_LIMIT)"),
            ));
        }
    }
    if let Some(c) = &s.cgroup.cpu_max {
        c.validate().map_err(|e| {
            let (f, m) = e.split_once(": ").unwrap_or(("cgroup.cpu_max", &e));
            (f.to_string(), m.to_string())
        })?;
    }
    if s.timeout_ms == 0 || s.timeout_ms > MAX_TIMEOUT_MS {
        return Err((
            "timeout_ms".into(),
            format!(
                "{} is outside 1..={MAX_TIMEOUT_MS} (10 minutes)",
                s.timeout_ms
            ),
        ));
    }
    id_map(&s.uid_map).map_err(|(i, m)| (format!("uid_map[{i}]"), m))?;
    id_map(&s.gid_map).map_err(|(i, m)| (format!("gid_map[{i}]"), m))?;
    if let Some(u) = &s.user {
        if u.uid == u32::MAX || u.gid == u32::MAX {
            return Err(("user".into(), "4294967295 is the invalid id (-1)".into()));
        }
    }
    Ok(())
}

/// An id map: lines of at least one id, within 32 bits short of the
/// invalid id, none overlapping another inside or outside.
fn id_map(map: &[IdMap]) -> Result<(), (usize, String)> {
    if map.len() > MAX_MAP_LINES {
        return Err((
            MAX_MAP_LINES,
            format!("{} lines is over the kernel's {MAX_MAP_LINES}", map.len()),
        ));
    }
    let end = |first: u32, count: u32| u64::from(first) + u64::from(count);
    for (i, l) in map.iter().enumerate() {
        if l.count == 0 {
            return Err((i, "count: a line maps at least one id".into()));
        }
        for (side, first) in [("inside", l.inside), ("outside", l.outside)] {
            if end(first, l.count) > u64::from(u32::MAX) {
                return Err((
                    i,
                    format!(
                        "{side} {first} + count {} runs past 4294967294: ids are 32 bits and 4294967295 is the invalid id",
                        l.count
                    ),
                ));
            }
        }
        for (j, o) in map[..i].iter().enumerate() {
            for (side, a, b) in [
                ("inside", l.inside, o.inside),
                ("outside", l.outside, o.outside),
            ] {
                if a < b.saturating_add(o.count) && b < a.saturating_add(l.count) {
                    return Err((i, format!("its {side} range overlaps that of line {j}")));
                }
            }
        }
    }
    Ok(())
}

/// The only program an `exec` probe may run: the copy of isocheck the
/// sandbox's `exec_copy` puts in its scratch directory, at a scratch
/// bind's target. Any other path is a program of the host's (or of a
/// rootfs tree's) that isocheck would run as root with an argument of
/// its own choosing: `touch` made `/__exec-probe` on the host.
fn exec_path(probe: &Probe, s: &SandboxSpec) -> Result<(), Refusal> {
    let Probe::Exec(args) = probe else {
        return Ok(());
    };
    let copies: Vec<std::path::PathBuf> = s
        .mounts
        .iter()
        .filter_map(|m| match m {
            Mount::Bind {
                source: BindSource::Scratch,
                target,
                ..
            } => Some(target.join(crate::model::scaffold::EXEC_COPY_NAME)),
            _ => None,
        })
        .collect();
    if copies.contains(&args.path) {
        return Ok(());
    }
    let where_ = match copies.first() {
        Some(c) => format!("{c:?}"),
        None => format!(
            "<target of a bind of source \"scratch\">/{}",
            crate::model::scaffold::EXEC_COPY_NAME
        ),
    };
    Err((
        "probe.path".into(),
        format!(
            "the exec probe runs only isocheck's own copy (`exec_copy`) in the scratch directory, {where_}; {:?} would be a program of the host's, run as root",
            args.path
        ),
    ))
}

/// Writes and mounts of the probe stay off the host's root file system.
fn host_fs(probe: &Probe, s: &SandboxSpec) -> Result<(), Refusal> {
    exec_path(probe, s)?;
    let pf = |f: &str| format!("probe.{f}");
    if probe.mounts() && !s.has(Namespace::Mount) && !s.outer.contains(&Namespace::Mount) {
        return Err((
            "sandbox.namespaces".into(),
            format!(
                "probe `{}` mounts, and without a mount namespace (in `namespaces` or `outer`) its mounts land in the runner's",
                probe.name()
            ),
        ));
    }
    for (field, path) in probe.written_paths() {
        let scratch = path.starts_with(SCRATCH_TOKEN);
        let scratch_ok = scratch && probe.may_write_scratch();
        if !scratch_ok {
            plain(path).map_err(|e| (pf(field), format!("a path the probe writes {e}")))?;
        } else if has_dotdot(path) {
            return Err((pf(field), format!("{path:?} must not contain `..`")));
        }
        if scratch_ok {
            continue;
        }
        if ["/proc", "/sys", "/dev"]
            .iter()
            .any(|k| path.starts_with(k))
        {
            return Err((
                pf(field),
                format!(
                    "probe `{}` writes {path:?}: no probe writes below /proc, /sys or /dev (the kernel's and the host's)",
                    probe.name()
                ),
            ));
        }
        // The mount the path lies in: of those the sandbox makes over it,
        // the last made (the runtime mounts them in the row's order, and a
        // later one over a parent hides an earlier one below it: a tmpfs
        // at /t/x under a proc mounted at /t after it is not where /t/x
        // leads).
        let own = s.mounts.iter().rev().find(|m| path.starts_with(m.target()));
        let contained = match own {
            Some(Mount::Tmpfs { .. })
            | Some(Mount::Bind {
                source: BindSource::Scratch,
                ..
            }) => true,
            Some(_) => false,
            None => match s.rootfs {
                Rootfs::Host => false,
                Rootfs::Skeleton => !SKELETON_BINDS.iter().any(|b| path.starts_with(b)),
                // Seen through an overlay whose writes land in a tmpfs, but
                // a device node, a FIFO or a socket in the tree opens the
                // host's own: only a path in a mount of the sandbox's.
                Rootfs::Dir { .. } => false,
            },
        };
        if !contained {
            let root = match (&s.rootfs, own) {
                (Rootfs::Host, None) => "the host's root file system (rootfs = host)",
                (Rootfs::Dir { .. }, None) => {
                    "a host tree (rootfs = dir), whose device nodes and FIFOs are the host's"
                }
                (_, Some(m)) if !matches!(m, Mount::Bind { .. }) => {
                    "a kernel file system the sandbox mounts last over it"
                }
                _ => "a host directory bound into the sandbox",
            };
            return Err((
                pf(field),
                format!(
                    "probe `{}` writes {path:?}, which lies on {root}; a writing probe's path must lie in a tmpfs or the scratch directory the sandbox mounts",
                    probe.name()
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const HOST: Host = Host { ram: 4 << 30 };

    fn probe(src: &str) -> Probe {
        toml::from_str(src).unwrap()
    }

    fn spec(src: &str) -> SandboxSpec {
        toml::from_str(src).unwrap()
    }

    const NOOP: &str = "kind = \"noop\"";
    const BASE: &str = "namespaces = [\"mount\", \"pid\"]";

    /// (probe, sandbox, knob, field named, text of the reason)
    #[rstest]
    #[case::rw_bind_of_etc(NOOP, "namespaces = [\"mount\"]\nmounts = [{ kind = \"bind\", source = { host = \"/etc\" }, target = \"/etc\", readonly = false }]", "namespace pid", "sandbox.mounts[0].readonly", "only the case's scratch directory")]
    #[case::rw_bind_of_root(NOOP, "namespaces = [\"mount\"]\nmounts = [{ kind = \"bind\", source = { host = \"/\" }, target = \"/host\", readonly = false }]", "namespace mount", "sandbox.mounts[0].readonly", "bound writable")]
    #[case::relative_bind_source(NOOP, "namespaces = [\"mount\"]\nmounts = [{ kind = \"bind\", source = { host = \"../../etc\" }, target = \"/x\" }]", "namespace mount", "sandbox.mounts[0].source", "must be an absolute path")]
    #[case::dotdot_bind_source(NOOP, "namespaces = [\"mount\"]\nmounts = [{ kind = \"bind\", source = { host = \"/tmp/../etc\" }, target = \"/x\" }]", "namespace mount", "sandbox.mounts[0].source", "must not contain `..`")]
    #[case::dotdot_target(
        NOOP,
        "namespaces = [\"mount\"]\nmounts = [{ kind = \"tmpfs\", target = \"/x/../../etc\" }]",
        "namespace mount",
        "sandbox.mounts[0].target",
        "must not contain `..`"
    )]
    #[case::dotdot_rootfs(
        NOOP,
        "namespaces = [\"mount\"]\nrootfs = { kind = \"dir\", path = \"/srv/../etc\" }",
        "namespace mount",
        "sandbox.rootfs.path",
        "`..`"
    )]
    #[case::dotdot_masked(
        NOOP,
        "namespaces = [\"mount\"]\nmasked_paths = [\"/proc/../etc\"]",
        "namespace mount",
        "sandbox.masked_paths[0]",
        "`..`"
    )]
    #[case::host_root_write(
        "kind = \"write-file\"\ndir = \"/etc\"",
        "namespaces = [\"mount\"]\nrootfs = { kind = \"host\" }",
        "namespace mount",
        "probe.dir",
        "the host's root file system"
    )]
    #[case::host_root_chown(
        "kind = \"chown\"\npath = \"/etc/passwd\"\nuid = 1000\ngid = 1000",
        "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }",
        "namespace pid",
        "probe.path",
        "rootfs = host"
    )]
    #[case::skeleton_host_bind_write(
        "kind = \"create-file\"\npath = \"/usr/x\"\nunmapped = \"/usr\"",
        BASE,
        "namespace pid",
        "probe.path",
        "a host directory bound into the sandbox"
    )]
    #[case::exec_of_a_host_program(
        "kind = \"exec\"\npath = \"/usr/bin/touch\"",
        "namespaces = [\"uts\"]\nrootfs = { kind = \"host\" }",
        "namespace uts",
        "probe.path",
        "runs only isocheck's own copy"
    )]
    #[case::exec_beside_the_copy(
        "kind = \"exec\"\npath = \"/data/sh\"",
        "namespaces = [\"mount\"]\nmounts = [{ kind = \"bind\", source = \"scratch\", target = \"/data\" }]\nexec_copy = { setuid_root = true }",
        "namespace mount",
        "probe.path",
        "\"/data/isocheck-exec\""
    )]
    #[case::write_in_a_rootfs_tree(
        "kind = \"create-file\"\npath = \"/kmsg\"\nunmapped = \"/null\"",
        "namespaces = [\"mount\", \"pid\"]\nrootfs = { kind = \"dir\", path = \"/dev\" }",
        "namespace pid",
        "probe.path",
        "rootfs = dir"
    )]
    #[case::tmpfs_hidden_by_a_later_proc(
        "kind = \"create-file\"\npath = \"/t/sys/kernel/hostname\"\nunmapped = \"/usr\"",
        "namespaces = [\"mount\", \"pid\"]\nmounts = [{ kind = \"tmpfs\", target = \"/t/sys/kernel/hostname\" }, { kind = \"proc\", target = \"/t\" }]",
        "namespace pid",
        "probe.path",
        "mounts last over it"
    )]
    #[case::dotdot_write(
        "kind = \"write-file\"\ndir = \"/tmp/../etc\"",
        "namespaces = [\"mount\"]\nmounts = [{ kind = \"tmpfs\", target = \"/tmp\" }]",
        "namespace mount",
        "probe.dir",
        "`..`"
    )]
    #[case::relative_write(
        "kind = \"write-file\"\ndir = \"$SCRATCH/x\"",
        BASE,
        "namespace pid",
        "probe.dir",
        "absolute"
    )]
    #[case::proc_write(
        "kind = \"write-file\"\ndir = \"/proc/sys/kernel\"",
        "namespaces = [\"mount\", \"pid\"]\nmounts = [{ kind = \"proc\", target = \"/proc\" }]",
        "namespace pid",
        "probe.dir",
        "below /proc, /sys or /dev"
    )]
    #[case::control_without_pivot_root(
        "kind = \"write-file\"\ndir = \"/etc\"",
        BASE,
        "pivot-root",
        "control.off",
        "the control's sandbox (`pivot-root` off) is refused: `probe.dir`"
    )]
    #[case::control_without_mount_ns(
        "kind = \"chown\"\npath = \"/tmp/f\"\nuid = 1\ngid = 1",
        "namespaces = [\"mount\", \"pid\"]\nmounts = [{ kind = \"tmpfs\", target = \"/tmp\" }]",
        "namespace mount",
        "control.off",
        "rootfs = host"
    )]
    #[case::mount_without_mount_ns(
        "kind = \"mount-tmpfs\"\ntarget = \"$SCRATCH/inner\"",
        "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }",
        "namespace pid",
        "sandbox.namespaces",
        "land in the runner's"
    )]
    #[case::control_mounts_without_mount_ns(
        "kind = \"mount-tmpfs\"\ntarget = \"/tmp/m\"",
        "namespaces = [\"mount\"]\nmounts = [{ kind = \"tmpfs\", target = \"/tmp\" }]",
        "namespace mount",
        "control.off",
        "land in the runner's"
    )]
    #[case::long_hostname(NOOP, "namespaces = [\"uts\"]\nrootfs = { kind = \"host\" }\nhostname = \"hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\"", "namespace uts", "sandbox.hostname", "65 bytes is over the kernel's 64")]
    #[case::nul_hostname(
        NOOP,
        "namespaces = [\"uts\"]\nrootfs = { kind = \"host\" }\nhostname = \"a\\u0000b\"",
        "namespace uts",
        "sandbox.hostname",
        "NUL"
    )]
    #[case::memory_zero(
        NOOP,
        "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }\ncgroup = { memory_max = 0 }",
        "namespace pid",
        "sandbox.cgroup.memory_max",
        "under 1 MiB"
    )]
    #[case::memory_over_ram(NOOP, "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }\ncgroup = { memory_max = 8589934592 }", "namespace pid", "sandbox.cgroup.memory_max", "over this host's RAM")]
    #[case::pids_zero(
        NOOP,
        "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }\ncgroup = { pids_max = 0 }",
        "namespace pid",
        "sandbox.cgroup.pids_max",
        "outside 1..=4194304"
    )]
    #[case::cpu_period(NOOP, "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }\ncgroup = { cpu_max = { quota_us = 1000, period_us = 10 } }", "namespace pid", "sandbox.cgroup.cpu_max.period_us", "outside 1000..=1000000")]
    #[case::timeout_zero(
        NOOP,
        "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }\ntimeout_ms = 0",
        "namespace pid",
        "sandbox.timeout_ms",
        "outside 1..=600000"
    )]
    #[case::timeout_long(
        NOOP,
        "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }\ntimeout_ms = 600001",
        "namespace pid",
        "sandbox.timeout_ms",
        "10 minutes"
    )]
    #[case::uid_map_overlap(NOOP, "namespaces = [\"user\"]\nrootfs = { kind = \"host\" }\nuid_map = [{ inside = 0, outside = 100000, count = 10 }, { inside = 5, outside = 200000, count = 1 }]", "namespace user", "sandbox.uid_map[1]", "inside range overlaps that of line 0")]
    #[case::uid_map_outside_overlap(NOOP, "namespaces = [\"user\"]\nrootfs = { kind = \"host\" }\nuid_map = [{ inside = 0, outside = 100000, count = 10 }, { inside = 10, outside = 100009, count = 1 }]", "namespace user", "sandbox.uid_map[1]", "outside range overlaps")]
    #[case::uid_map_wrap(NOOP, "namespaces = [\"user\"]\nrootfs = { kind = \"host\" }\nuid_map = [{ inside = 4294967295, outside = 0, count = 2 }]", "namespace user", "sandbox.uid_map[0]", "ids are 32 bits")]
    #[case::gid_map_to_the_invalid_id(NOOP, "namespaces = [\"user\"]\nrootfs = { kind = \"host\" }\ngid_map = [{ inside = 0, outside = 4294967295, count = 1 }]", "namespace user", "sandbox.gid_map[0]", "invalid id")]
    #[case::uid_map_empty_line(NOOP, "namespaces = [\"user\"]\nrootfs = { kind = \"host\" }\nuid_map = [{ inside = 0, outside = 1, count = 0 }]", "namespace user", "sandbox.uid_map[0]", "at least one id")]
    #[case::hog_over_ram(
        "kind = \"memory-hog\"\nmib = 4096",
        BASE,
        "namespace pid",
        "probe.mib",
        "over half of this host's"
    )]
    #[case::fork_bomb(
        "kind = \"fork-count\"\nmax = 100000",
        BASE,
        "namespace pid",
        "probe.max",
        "over 1024"
    )]
    #[case::reach_timeout(
        "kind = \"net-reach\"\nconnect = { a = \"10.0.0.1:1\" }\ntimeout_ms = 0",
        BASE,
        "namespace pid",
        "probe.timeout_ms",
        "outside 1..=600000"
    )]
    fn each_rule_refuses_its_row(
        #[case] p: &str,
        #[case] s: &str,
        #[case] knob: &str,
        #[case] field: &str,
        #[case] why: &str,
    ) {
        let knob: ControlKnob = knob.parse().unwrap();
        let (f, m) = check(&probe(p), &spec(s), &knob, &HOST).unwrap_err();
        assert_eq!(f, field, "{m}");
        assert!(m.contains(why), "{m}");
    }

    #[rstest]
    #[case::scratch_bound_writable("kind = \"create-file\"\npath = \"/data/f\"\nunmapped = \"/usr\"", "namespaces = [\"mount\", \"user\"]\nmounts = [{ kind = \"bind\", source = \"scratch\", target = \"/data\", readonly = false }]", "namespace user")]
    #[case::read_only_host_bind(NOOP, "namespaces = [\"mount\"]\nmounts = [{ kind = \"bind\", source = { host = \"/etc\" }, target = \"/etc\" }]", "namespace mount")]
    #[case::tmpfs_on_the_host_root("kind = \"chown\"\npath = \"/tmp/f\"\nuid = 1\ngid = 1", "namespaces = [\"mount\", \"pid\"]\nrootfs = { kind = \"host\" }\nmounts = [{ kind = \"tmpfs\", target = \"/tmp\" }]", "drop CAP_CHOWN")]
    #[case::skeleton_tmp("kind = \"write-file\"\ndir = \"/tmp\"", BASE, "namespace pid")]
    #[case::scratch_mount_in_a_throwaway_namespace(
        "kind = \"mount-tmpfs\"\ntarget = \"$SCRATCH/inner\"",
        "namespaces = [\"mount\", \"pid\"]\nouter = [\"mount\"]\nrootfs = { kind = \"host\" }",
        "propagation"
    )]
    #[case::reading_without_pivot_root(
        "kind = \"find-host-file\"\npath = \"$SCRATCH/m\"",
        BASE,
        "pivot-root"
    )]
    #[case::an_exact_64_byte_hostname(NOOP, "namespaces = [\"uts\"]\nrootfs = { kind = \"host\" }\nhostname = \"hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh\"", "namespace uts")]
    #[case::adjacent_map_lines(NOOP, "namespaces = [\"user\"]\nrootfs = { kind = \"host\" }\nuid_map = [{ inside = 0, outside = 100000, count = 1 }, { inside = 1, outside = 100001, count = 65536 }]", "namespace user")]
    fn rows_within_the_rules_pass(#[case] p: &str, #[case] s: &str, #[case] knob: &str) {
        let knob: ControlKnob = knob.parse().unwrap();
        assert_eq!(check(&probe(p), &spec(s), &knob, &HOST), Ok(()));
    }
}
