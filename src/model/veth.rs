//! A veth pair into the sandbox: names, addresses, prefix, the listener
//! port and the extra loopback addresses of the outer namespace.

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

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
