//! Host facts as plain data (layer: model; no I/O): what kernel, distro,
//! configuration, policy and cgroup layout a run happened on, and who ran
//! it.
//!
//! Every report and a run's first event carry one [`HostFacts`]. The
//! probes that fill them in, the parsers and the text rendering live in
//! `host/`, which adds its own `impl` blocks (`HostFacts::probe`,
//! `KconfigFacts::search` ...); users import the types from here.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use super::cgroup::Layout;
use super::subid::{SubidEntry, SubidGrant};
use crate::sys::vfscap::FileCaps;

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
pub struct Kernel {
    /// `uname -r`, e.g. `6.1.0-18-amd64`.
    pub release: String,
    /// `uname -v`, the build string.
    pub version: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
pub struct Distro {
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
    /// The os-release file read; `None` when none was readable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The files tried, each with why it was not used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
pub struct CgroupFacts {
    pub layout: Layout,
    /// Controllers per hierarchy: `v1` lists mounted v1 controllers, `v2`
    /// those in the cgroup2 root's `cgroup.controllers`.
    pub v1_controllers: Vec<String>,
    pub v2_controllers: Vec<String>,
    /// Where cgroup2 is mounted, if anywhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v2_mount: Option<String>,
    /// The cgroup2 root's `cgroup.subtree_control`: controllers its
    /// children may use.
    #[serde(default)]
    pub v2_subtree_control: Vec<String>,
    /// Super options of the cgroup2 mount (`nsdelegate`,
    /// `memory_recursiveprot`, ...), from /proc/self/mountinfo.
    #[serde(default)]
    pub v2_mount_options: Vec<String>,
    /// The runner's own cgroups, from /proc/self/cgroup.
    #[serde(default)]
    pub own: Vec<OwnCgroup>,
    /// Files that could not be read, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// The runner's credentials: who runs isocheck and with which powers (the
/// report's `runner`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// Capability sets as sorted `CAP_*` names (a bit without a known name
    /// is `CAP_<number>`).
    pub effective_caps: Vec<String>,
    pub bounding_caps: Vec<String>,
    #[serde(default)]
    pub permitted_caps: Vec<String>,
    #[serde(default)]
    pub inheritable_caps: Vec<String>,
    #[serde(default)]
    pub ambient_caps: Vec<String>,
    /// Where the capability sets were read (`/proc/thread-self/status`, or
    /// `capget(2)` when that was unreadable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps_source: Option<String>,
    /// The runner's user name from the passwd file (read directly, no NSS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// `NoNewPrivs:` of the runner's status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_new_privs: Option<bool>,
    /// `Seccomp:` of the runner's status: `disabled`, `strict` or `filter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<String>,
    /// /proc/sys/kernel/cap_last_cap: the highest capability this kernel knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_last_cap: Option<u32>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
pub struct HostFacts {
    /// The host's name (`uname -n`); empty when unknown (a report written
    /// before it was recorded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    pub kernel: Kernel,
    pub distro: Distro,
    pub arch: String,
    pub cmdline: String,
    /// Active LSMs in call order; empty when unknown (see `security`).
    pub lsms: Vec<String>,
    pub cgroup: CgroupFacts,
    pub runner: Credentials,
    /// Kernel command-line parameters that bear on isolation (`lsm=`,
    /// `cgroup_no_v1=`, `user_namespace.enable=` ...), by name.
    #[serde(default)]
    pub boot_params: BTreeMap<String, Vec<String>>,
    /// Whether we run in a container or a non-initial user namespace.
    #[serde(default)]
    pub nesting: NestingFacts,
    /// The kernel's build configuration, or where it was looked for.
    #[serde(default)]
    pub kconfig: KconfigFacts,
    /// Sysctls and policy knobs, by dotted name (`user.max_user_namespaces`).
    #[serde(default)]
    pub sysctls: BTreeMap<String, Knob>,
    /// Where `lsms` came from, lockdown, Landlock.
    #[serde(default)]
    pub security: SecurityFacts,
    /// /etc/subuid and /etc/subgid.
    #[serde(default)]
    pub subids: SubidFacts,
    /// newuidmap and newgidmap.
    #[serde(default)]
    pub idmap_tools: Vec<IdmapTool>,
    /// Facts that later probes add, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl HostFacts {
    /// What this host grants a rootless runtime that maps through
    /// subordinate ids: the usable newuidmap and newgidmap, and the lines
    /// of /etc/subuid and /etc/subgid.
    pub fn subid_grant(&self) -> SubidGrant {
        let tool = |name: &str| {
            self.idmap_tools
                .iter()
                .find(|t| t.name == name)
                .filter(|t| t.usable())
                .and_then(|t| t.path.clone())
                .map(PathBuf::from)
        };
        SubidGrant {
            newuidmap: tool("newuidmap"),
            newgidmap: tool("newgidmap"),
            subuid: self.subids.subuid.entries.clone(),
            subgid: self.subids.subgid.entries.clone(),
        }
    }

    /// A sysctl's value, `None` when absent or unreadable.
    pub fn sysctl(&self, name: &str) -> Option<&str> {
        self.sysctls.get(name).and_then(Knob::value)
    }
}

impl CgroupFacts {
    /// True when the cgroup2 mount carries option `opt` (`nsdelegate`,
    /// `memory_recursiveprot`, ...).
    pub fn has_v2_option(&self, opt: &str) -> bool {
        self.v2_mount_options.iter().any(|o| o == opt)
    }

    /// The runner's cgroup in the cgroup2 hierarchy.
    pub fn own_v2(&self) -> Option<&str> {
        self.own
            .iter()
            .find(|c| c.hierarchy == 0 && c.controllers.is_empty())
            .map(|c| c.path.as_str())
    }
}

/// One line of /proc/self/cgroup: `hierarchy-id:controllers:path`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(default)]
pub struct OwnCgroup {
    /// 0 for the cgroup2 hierarchy.
    pub hierarchy: u32,
    /// Empty for cgroup2; `name=systemd` style names are kept.
    pub controllers: Vec<String>,
    pub path: String,
}

/// The kernel config as facts: where it came from and the options that
/// matter. `source: None` means unknown; `tried` then says why.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(default)]
pub struct KconfigFacts {
    /// The file the config was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// True when the file was given explicitly (`--kconfig`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub explicit: bool,
    /// Places looked at before `source` (or all of them, if none served),
    /// each with why it was not used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<String>,
    /// Hex sha256 of the config text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The [`ISOLATION_OPTIONS`](crate::host::kconfig::ISOLATION_OPTIONS), with their values;
    /// one whose line gives no value that can be read (`CONFIG_X=`) is left
    /// out: its value is unknown.
    pub options: BTreeMap<String, Tristate>,
    /// Odd lines of the source, with their numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl KconfigFacts {
    pub fn is_known(&self) -> bool {
        self.source.is_some()
    }

    /// An option's value; `None` when the config is unknown, its line
    /// gives no value that can be read, or the option is not one of the
    /// recorded [`ISOLATION_OPTIONS`](crate::host::kconfig::ISOLATION_OPTIONS).
    pub fn get(&self, name: &str) -> Option<Tristate> {
        self.options.get(name).cloned()
    }
}

/// One option's value. An option absent from the file is `No`, as the
/// kernel build treats it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Tristate {
    #[serde(rename = "y")]
    Yes,
    #[serde(rename = "m")]
    Module,
    /// `n`, `# CONFIG_X is not set`, or absent.
    #[serde(rename = "n")]
    No,
    /// A string or number, unquoted (`CONFIG_LSM="landlock,yama"`).
    #[serde(rename = "value")]
    Value(String),
}

impl Tristate {
    /// Built in or as a module.
    pub fn is_enabled(&self) -> bool {
        matches!(self, Tristate::Yes | Tristate::Module)
    }

    /// Whether an on/off option is built: `None` for a value that is not
    /// `y`, `m` or `n` (`CONFIG_USER_NS=""`), which the kernel's build
    /// would not take for one, so that what it built is unknown.
    pub fn built(&self) -> Option<bool> {
        match self {
            Tristate::Yes | Tristate::Module => Some(true),
            Tristate::No => Some(false),
            Tristate::Value(_) => None,
        }
    }
}

impl fmt::Display for Tristate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tristate::Yes => f.write_str("y"),
            Tristate::Module => f.write_str("m"),
            Tristate::No => f.write_str("n"),
            Tristate::Value(v) => write!(f, "{v:?}"),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(default)]
pub struct SecurityFacts {
    /// Where [`HostFacts::lsms`] came from: a file or `lsm_list_modules(2)`; `None`
    /// when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lsm_source: Option<String>,
    /// Places looked at for the list, each with why it was not used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lsm_tried: Vec<String>,
    /// The kernel lockdown mode (`none`, `integrity`, `confidentiality`);
    /// absent when the lockdown LSM is not built.
    pub lockdown: Knob,
    /// The Landlock ABI version, `None` when Landlock is unavailable or
    /// was not asked (fake trees).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlock_abi: Option<u32>,
    /// Why `landlock_abi` is `None`, when it was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlock_error: Option<String>,
    /// Signs of particular LSMs visible without securityfs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(default)]
pub struct NestingFacts {
    /// `Some(true)` when /proc/self/uid_map is not the initial identity
    /// map `0 0 4294967295`; `None` when it could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_namespace: Option<bool>,
    /// Whether each of this process's namespaces is the initial one, from
    /// the fixed inode numbers the kernel gives initial namespaces.
    pub namespaces: BTreeMap<String, NsState>,
    /// True when any container sign was found.
    pub container: bool,
    /// The container manager the signs name (`docker`, `podman`, `lxc`,
    /// `kubernetes`, `systemd-nspawn` ...), first sign first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// Every sign found, as `source: what`.
    pub evidence: Vec<String>,
    /// Checks that could not be made, as `path: reason`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

impl NestingFacts {
    /// Inside a container or a non-initial user namespace.
    pub fn nested(&self) -> bool {
        self.container || self.user_namespace == Some(true)
    }
}

/// Whether a namespace is the initial one.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NsState {
    Initial,
    NonInitial,
    /// Could not tell; the reason.
    Unknown(String),
}

/// A knob's state. `Absent` (the file does not exist) is a fact of its
/// own: most kernels lack the distribution-specific knobs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Knob {
    /// The value, trimmed.
    Value(String),
    Absent,
    /// The file exists but could not be read (or the file system that
    /// holds it is not mounted); the reason.
    Unreadable(String),
    /// Not looked at (a report older than the knob).
    #[default]
    NotProbed,
}

impl Knob {
    pub fn value(&self) -> Option<&str> {
        match self {
            Knob::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value as an integer, when it is one.
    pub fn as_i64(&self) -> Option<i64> {
        self.value()?.parse().ok()
    }
}

impl fmt::Display for Knob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Knob::Value(v) => f.write_str(v),
            Knob::Absent => f.write_str("absent"),
            Knob::Unreadable(why) => write!(f, "unknown ({why})"),
            Knob::NotProbed => f.write_str("unknown (not probed)"),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(default)]
pub struct SubidFacts {
    pub subuid: SubidFile,
    pub subgid: SubidFile,
}

/// One subordinate id file.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(default)]
pub struct SubidFile {
    pub path: String,
    /// `Some(true)` read, `Some(false)` does not exist, `None` not read
    /// (see `error`).
    pub exists: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub entries: Vec<SubidEntry>,
    /// Lines that are not `name:start:count`, with their numbers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub malformed: Vec<String>,
}

impl SubidFile {
    /// The ranges of a user, matched by name or by numeric uid.
    pub fn ranges_for(&self, name: Option<&str>, uid: u32) -> Vec<&SubidEntry> {
        crate::model::subid::ranges_for(&self.entries, name, uid)
    }
}

/// newuidmap or newgidmap: where it is and how it gets its privilege.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(default)]
pub struct IdmapTool {
    pub name: String,
    /// Where it was found; `None` when in none of [`TOOL_DIRS`](crate::host::subid::TOOL_DIRS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Places looked at before `path` (or all, when not found).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<String>,
    /// Owned by root with the setuid bit.
    pub setuid_root: bool,
    /// Its file capabilities, if it has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_caps: Option<FileCaps>,
    /// What could not be read about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl IdmapTool {
    /// Found, and privileged by setuid root or by file capabilities.
    pub fn usable(&self) -> bool {
        self.path.is_some()
            && (self.setuid_root || self.file_caps.as_ref().is_some_and(|c| c.effective))
    }
}
