//! The network namespace as the sandbox sees it: interfaces and routes.

use super::schema::{self, Field};
use super::Def;
use nix::net::if_::InterfaceFlags;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct NetView {
    /// Every interface name, sorted.
    pub interfaces: Vec<String>,
    /// Interfaces that are administratively up, sorted.
    pub up: Vec<String>,
    /// Routes in /proc/net/route (IPv4) and /proc/net/ipv6_route.
    pub routes_v4: usize,
    pub routes_v6: usize,
}

pub fn view() -> NetView {
    let mut ifs: BTreeMap<String, bool> = BTreeMap::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            let up = a.flags.contains(InterfaceFlags::IFF_UP);
            *ifs.entry(a.interface_name).or_default() |= up;
        }
    }
    let routes_v4 = std::fs::read_to_string("/proc/net/route")
        .map(|t| count_v4_routes(&t))
        .unwrap_or(0);
    let routes_v6 = std::fs::read_to_string("/proc/net/ipv6_route")
        .map(|t| count_v6_routes(&t))
        .unwrap_or(0);
    NetView {
        up: ifs
            .iter()
            .filter(|(_, up)| **up)
            .map(|(n, _)| n.clone())
            .collect(),
        interfaces: ifs.into_keys().collect(),
        routes_v4,
        routes_v6,
    }
}

/// /proc/net/route has a header line, then one line per route.
pub fn count_v4_routes(text: &str) -> usize {
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count()
}

/// /proc/net/ipv6_route has no header; the loopback device's own entries
/// do not count as routes a sandbox could use.
pub fn count_v6_routes(text: &str) -> usize {
    text.lines()
        .filter(|l| l.split_whitespace().last().is_some_and(|dev| dev != "lo"))
        .count()
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `net-view`: network interfaces (and which are up) and the routes seen
/// inside.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NetViewArgs {}

impl Def for NetViewArgs {
    type Output = NetView;
    fn run(&self) -> NetView {
        view()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        schema::net_view(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_routes_without_header_and_loopback() {
        let v4 =
            "Iface\tDestination\tGateway\n eth0\t00000000\t0102A8C0\n eth0\t0002A8C0\t00000000\n";
        assert_eq!(count_v4_routes(v4), 2);
        assert_eq!(count_v4_routes("Iface\tDestination\n"), 0);
        let v6 = "00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 00200001       lo\n\
                  fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
        assert_eq!(count_v6_routes(v6), 1);
        assert_eq!(count_v6_routes(""), 0);
    }
}
