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
use std::net::Ipv4Addr;

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
    /// message queue (see [`IPC_SHM_KEY`], [`IPC_MQ_NAME`]) in its own IPC
    /// namespace before it starts the sandbox (with `outer = ["ipc"]`,
    /// a throwaway one that takes them along when it goes).
    pub ipc_objects: bool,
    /// The helper listens on 127.0.0.1 (in its own network namespace:
    /// with `outer = ["net"]` a throwaway one with lo up) and tells the
    /// sandbox the port in [`LISTENER_PORT_ENV`].
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
}

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
        if self.join {
            v.push(Item::Joiner);
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
/// The key of the System V segment `ipc_objects` makes.
pub const IPC_SHM_KEY: i32 = 0x1500_c4ec;
/// The name of the POSIX message queue `ipc_objects` makes.
pub const IPC_MQ_NAME: &str = "/isocheck-probe";
/// The variable that carries the listener's port into the sandbox.
pub const LISTENER_PORT_ENV: &str = "ISOCHECK_LISTENER_PORT";

/// A veth pair into the sandbox, in a throwaway outer network namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VethSpec {
    /// The end in the sandbox's network namespace.
    #[serde(default = "default_inside_name")]
    pub inside_name: String,
    /// The end left in the outer namespace.
    #[serde(default = "default_outside_name")]
    pub outside_name: String,
    #[serde(default = "default_inside")]
    pub inside: Ipv4Addr,
    #[serde(default = "default_outside")]
    pub outside: Ipv4Addr,
    /// The prefix both addresses share; the only route either end gets.
    #[serde(default = "default_prefix_len")]
    pub prefix_len: u8,
    /// The helper listens on this TCP port on every address of the outer
    /// namespace while the sandbox runs.
    #[serde(default)]
    pub listen_port: Option<u16>,
    /// More addresses (each a /32) on the outer namespace's `lo`: they
    /// stand in for the host's other addresses.
    #[serde(default)]
    pub outside_lo: Vec<Ipv4Addr>,
}

fn default_inside_name() -> String {
    "veth0".into()
}
fn default_outside_name() -> String {
    "veth-outer".into()
}
fn default_inside() -> Ipv4Addr {
    Ipv4Addr::new(10, 200, 0, 2)
}
fn default_outside() -> Ipv4Addr {
    Ipv4Addr::new(10, 200, 0, 1)
}
fn default_prefix_len() -> u8 {
    30
}

impl Default for VethSpec {
    fn default() -> Self {
        VethSpec {
            inside_name: default_inside_name(),
            outside_name: default_outside_name(),
            inside: default_inside(),
            outside: default_outside(),
            prefix_len: default_prefix_len(),
            listen_port: None,
            outside_lo: Vec::new(),
        }
    }
}

/// `addr` with only its first `len` bits kept.
fn network(addr: Ipv4Addr, len: u8) -> u32 {
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    u32::from(addr) & mask
}

impl VethSpec {
    /// Checks the pair can only ever live in throwaway namespaces and that
    /// its addresses make sense; the error names the field.
    pub fn validate(&self, outer_net: bool) -> Result<(), String> {
        if !outer_net {
            return Err("veth: a veth pair needs outer = [\"net\"], a throwaway network namespace standing in for the host: isocheck never adds interfaces to the host".into());
        }
        for (field, name) in [
            ("inside_name", &self.inside_name),
            ("outside_name", &self.outside_name),
        ] {
            if name.is_empty() || name.len() > 15 || name == "lo" || name.contains(['/', ' ', ':'])
            {
                return Err(format!(
                    "veth.{field}: {name:?} is not a usable interface name (1 to 15 characters, no '/', ' ' or ':', not lo)"
                ));
            }
        }
        if self.inside_name == self.outside_name {
            return Err("veth: inside_name and outside_name must differ".into());
        }
        if !(1..=30).contains(&self.prefix_len) {
            return Err(format!(
                "veth.prefix_len: {} is outside 1..=30",
                self.prefix_len
            ));
        }
        for (field, a) in [("inside", self.inside), ("outside", self.outside)] {
            if a.is_loopback() || a.is_unspecified() || a.is_multicast() || a.is_broadcast() {
                return Err(format!("veth.{field}: {a} cannot be an interface address"));
            }
        }
        if self.inside == self.outside
            || network(self.inside, self.prefix_len) != network(self.outside, self.prefix_len)
        {
            return Err(format!(
                "veth: inside {} and outside {} must be two addresses of one /{} prefix",
                self.inside, self.outside, self.prefix_len
            ));
        }
        for a in &self.outside_lo {
            if network(*a, self.prefix_len) == network(self.inside, self.prefix_len) {
                return Err(format!(
                    "veth.outside_lo: {a} lies in the pair's own prefix /{}",
                    self.prefix_len
                ));
            }
        }
        Ok(())
    }
}

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
