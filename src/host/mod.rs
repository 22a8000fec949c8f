//! Host facts: what kernel, distro and cgroup layout a run happened on.
//!
//! Every report carries one [`HostFacts`]; requirements are decided against it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::runtime::cgroups::{self, Layout};

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Kernel {
    pub release: String,
    pub version: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Distro {
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct CgroupFacts {
    pub layout: Layout,
    /// Controllers per hierarchy: `v1` lists mounted v1 controllers, `v2`
    /// those in the cgroup2 root's `cgroup.controllers`.
    pub v1_controllers: Vec<String>,
    pub v2_controllers: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Runner {
    pub uid: u32,
    pub gid: u32,
    pub effective_caps: Vec<String>,
    pub bounding_caps: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct HostFacts {
    pub kernel: Kernel,
    pub distro: Distro,
    pub arch: String,
    pub cmdline: String,
    pub lsms: Vec<String>,
    pub cgroup: CgroupFacts,
    pub runner: Runner,
    /// Facts that later probes add, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn read_trim(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Parses os-release text (`KEY=value`, values optionally quoted).
pub fn parse_os_release(text: &str) -> Distro {
    let mut d = Distro::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k.trim() {
            "ID" => d.id = v,
            "VERSION_ID" => d.version_id = v,
            "PRETTY_NAME" => d.pretty_name = v,
            _ => {}
        }
    }
    d
}

impl HostFacts {
    /// Probes this host. Never fails: what cannot be read is left empty.
    pub fn probe() -> HostFacts {
        let uts = nix::sys::utsname::uname().ok();
        let kernel = Kernel {
            release: uts
                .as_ref()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            version: uts
                .as_ref()
                .map(|u| u.version().to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let arch = uts
            .as_ref()
            .map(|u| u.machine().to_string_lossy().into_owned())
            .unwrap_or_default();
        let distro = std::fs::read_to_string("/etc/os-release")
            .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
            .map(|t| parse_os_release(&t))
            .unwrap_or_default();
        let lsms = read_trim("/sys/kernel/security/lsm")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let layout = cgroups::detect_layout();
        let cgroup = CgroupFacts {
            layout,
            v1_controllers: cgroups::v1_controllers(),
            v2_controllers: cgroups::v2_root_controllers(layout),
        };
        let caps_of = |set| {
            caps::read(None, set)
                .map(|s| {
                    let mut v: Vec<String> = s.iter().map(|c| c.to_string()).collect();
                    v.sort();
                    v
                })
                .unwrap_or_default()
        };
        let runner = Runner {
            uid: nix::unistd::getuid().as_raw(),
            gid: nix::unistd::getgid().as_raw(),
            effective_caps: caps_of(caps::CapSet::Effective),
            bounding_caps: caps_of(caps::CapSet::Bounding),
        };
        HostFacts {
            kernel,
            distro,
            arch,
            cmdline: read_trim("/proc/cmdline"),
            lsms,
            cgroup,
            runner,
            extra: BTreeMap::new(),
        }
    }
}
