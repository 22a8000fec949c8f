//! The test scaffolding around a container: what a property's test needs
//! besides the container itself. Each item is prepared before the sandbox
//! runs, held while it runs and cleaned up after it (the behaviour lives
//! in `runtime::scaffold`); this module holds the items' plain data.
//!
//! A table writes the items next to the container's own fields
//! (`join = true`, `exec_copy = { setuid_root = true }`); [`Scaffold`] is
//! that part of a `sandbox`, and [`Scaffold::items`] lists what it asks for
//! (whether each fits its container, `model::spec` checks).

use caps::Capability;
use serde::{Deserialize, Serialize};

use super::veth::VethSpec;

/// The scaffolding a sandbox asks for, as a table writes it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(default)]
pub struct Scaffold {
    /// A copy of isocheck's binary the runner puts into the scratch directory.
    pub exec_copy: Option<ExecCopy>,
    /// The runner makes the scratch directory with a marker file
    /// ([`MARKER_NAME`]) in it, whether or not it is bound into the sandbox.
    pub scratch_marker: bool,
    /// The helper makes a System V shared memory segment and a POSIX
    /// message queue (see [`super::names::IPC_SHM_KEY`], [`super::names::IPC_MQ_NAME`]) in its own IPC
    /// namespace before it starts the sandbox (with `outer = ["ipc"]`,
    /// a throwaway one that takes them along when it goes).
    pub ipc_objects: bool,
    /// The helper listens on 127.0.0.1 (in its own network namespace:
    /// with `outer = ["net"]` a throwaway one with lo up) and tells the
    /// sandbox the port in [`super::names::LISTENER_PORT_ENV`].
    pub loopback_listener: bool,
    /// Once the sandbox is built, and before its probe runs, a second
    /// process joins its mount and PID namespaces from outside (as nsenter
    /// does) and reports what it sees (`outside.joiner`).
    pub join: bool,
    /// In rootless mode, map the rootless user namespace with newuidmap and
    /// newgidmap from the ranges /etc/subuid and /etc/subgid grant.
    pub subid_tools: bool,
    /// A veth pair from the helper's throwaway outer network namespace
    /// into the sandbox's (see `runtime::veth`).
    pub veth: Option<VethSpec>,
    /// The helper supervises a seccomp listener the sandbox passes it
    /// (spec `seccomp_notify`): it answers each notification with
    /// [`NOTIFY_ANSWER`] and reports what it received (`outside.notify`),
    /// nothing received when no listener came.
    pub seccomp_supervisor: bool,
    /// Once the sandbox is built, and before its probe runs, the helper
    /// sends its init `SIGUSR1` through a pidfd (`outside.pidfd_signal`);
    /// the sandbox blocks the signal before it is built, so it stays
    /// pending for the probe, and it finds the helper's pid in
    /// [`super::names::HOST_PID_ENV`].
    pub pidfd_signal: bool,
    /// The helper tells the sandbox this uid in
    /// [`super::names::LESSER_OPENER_ENV`]: a probe opens a cgroup file
    /// with its effective uid lowered to it before it writes as root (the
    /// knob `lesser-opener` turns this off: it opens as root).
    pub lesser_opener: Option<u32>,
}

/// The value the seccomp supervisor makes a notified call return.
pub const NOTIFY_ANSWER: i64 = 4242;

/// One item of scaffolding, with its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// Runner: a copy of isocheck's binary in the scratch directory.
    ExecCopy(&'a ExecCopy),
    /// Runner: a marker file in the scratch directory.
    ScratchMarker,
    /// Runner: the rootless user namespace mapped by newuidmap and newgidmap.
    SubidTools,
    /// Helper, before the clone: IPC objects in its own IPC namespace.
    IpcObjects,
    /// Helper, before the clone: a TCP listener on its loopback.
    LoopbackListener,
    /// Helper, before the release: a veth pair into the sandbox.
    Veth(&'a VethSpec),
    /// Helper, once the sandbox is built: a process joins it.
    Joiner,
    /// Helper, while the sandbox runs: a seccomp listener's supervisor.
    SeccompSupervisor,
    /// Helper, once the sandbox is built: a signal through a pidfd.
    PidfdSignal,
    /// Helper, before the clone: the lesser opener's uid told to the
    /// sandbox.
    LesserOpener(u32),
}

impl Scaffold {
    /// Every item asked for, in the order they are prepared.
    pub fn items(&self) -> Vec<Item<'_>> {
        let mut v = Vec::new();
        if let Some(c) = &self.exec_copy {
            v.push(Item::ExecCopy(c));
        }
        if self.scratch_marker {
            v.push(Item::ScratchMarker);
        }
        if self.subid_tools {
            v.push(Item::SubidTools);
        }
        if self.ipc_objects {
            v.push(Item::IpcObjects);
        }
        if self.loopback_listener {
            v.push(Item::LoopbackListener);
        }
        if let Some(veth) = &self.veth {
            v.push(Item::Veth(veth));
        }
        if let Some(uid) = self.lesser_opener {
            v.push(Item::LesserOpener(uid));
        }
        if self.join {
            v.push(Item::Joiner);
        }
        if self.seccomp_supervisor {
            v.push(Item::SeccompSupervisor);
        }
        if self.pidfd_signal {
            v.push(Item::PidfdSignal);
        }
        v
    }

    /// An item puts a file into the scratch directory.
    pub fn uses_scratch(&self) -> bool {
        self.exec_copy.is_some() || self.scratch_marker
    }
}

/// A copy of isocheck's own binary that the runner puts into the case's
/// scratch directory as [`EXEC_COPY_NAME`], for probes that exec it and
/// report what the kernel gave the new program (`isocheck __exec-probe`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, Hash)]
#[serde(deny_unknown_fields, default)]
pub struct ExecCopy {
    /// File capabilities the copy carries in `security.capability`
    /// (revision 2, permitted with the effective bit: `+ep`).
    pub file_caps: Vec<Capability>,
    /// The copy is made without its file capabilities, as by a runtime
    /// that strips them; the knob `file-caps` turns this off.
    pub strip_file_caps: bool,
    /// The copy is owned by root with the setuid bit (mode 4755).
    pub setuid_root: bool,
}

/// The file name of the exec copy in the scratch directory.
pub const EXEC_COPY_NAME: &str = "isocheck-exec";
/// The file name of the marker the runner makes in the scratch directory.
pub const MARKER_NAME: &str = "isocheck-marker";

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn spec(src: &str) -> VethSpec {
        toml::from_str(src).unwrap()
    }

    #[test]
    fn defaults_are_a_private_slash_30() {
        let v = spec("");
        assert_eq!(v, VethSpec::default());
        assert_eq!(
            (v.outside.to_string(), v.inside.to_string(), v.prefix_len),
            ("10.200.0.1".into(), "10.200.0.2".into(), 30)
        );
        v.validate(true).unwrap();
    }

    #[rstest]
    #[case::host_namespace("", false, "needs outer = [\"net\"]")]
    #[case::long_name("inside_name = \"a-very-long-name0\"", true, "veth.inside_name")]
    #[case::lo("outside_name = \"lo\"", true, "veth.outside_name")]
    #[case::same_names("inside_name = \"veth-outer\"", true, "must differ")]
    #[case::other_prefix("inside = \"10.200.0.6\"", true, "one /30 prefix")]
    #[case::same_address("inside = \"10.200.0.1\"", true, "one /30 prefix")]
    #[case::loopback("inside = \"127.0.0.2\"", true, "veth.inside")]
    #[case::prefix("prefix_len = 31", true, "veth.prefix_len")]
    #[case::lo_in_prefix("outside_lo = [\"10.200.0.3\"]", true, "veth.outside_lo")]
    fn bad_pairs_are_refused_naming_the_field(
        #[case] src: &str,
        #[case] outer: bool,
        #[case] msg: &str,
    ) {
        let err = spec(src).validate(outer).unwrap_err();
        assert!(err.contains(msg), "{err}");
    }
}
