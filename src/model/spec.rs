//! What a container is: namespaces, id maps and ids, the root and its
//! mounts, cgroup limits, capabilities, no_new_privs, seccomp, hostname.
//! A [`SandboxSpec`] is plain data: the suite builds it from a table row,
//! the helper receives it as JSON, the sandbox init carries it out. The
//! test scaffolding around the container (objects outside it, a joiner,
//! exec copies ...) is [`Scaffold`], carried along in `scaffold`.

use caps::Capability;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::PathBuf;

use super::cgroup::CgroupLimits;
use super::namespace::Namespace;
use super::scaffold::{Item, Scaffold};

/// One line of a uid_map or gid_map: `inside outside count`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// The ids the probe runs as, inside the sandbox.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// The root the sandbox pivots into.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Rootfs {
    /// Stay in the helper's root (no pivot_root). Only for controls that
    /// must see the host's file system.
    Host,
    /// A tmpfs made on the fly with the host's /usr, /bin, /lib ... bound
    /// read-only into it: no network, nothing downloaded.
    #[default]
    Skeleton,
    /// A directory tree (an Alpine minirootfs, a debootstrap tree).
    Dir { path: PathBuf },
}

/// Where a bind mount's source comes from.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum BindSource {
    /// The case's scratch directory: made by the runner for this case,
    /// owned by the sandbox's root, inspected after the run and removed.
    Scratch,
    /// A host path.
    Host(PathBuf),
}

/// One mount inside the sandbox. Targets are paths inside the new root.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", tag = "kind", deny_unknown_fields)]
pub enum Mount {
    /// A fresh proc of the sandbox's PID namespace.
    Proc { target: PathBuf },
    /// A bind mount, read-only unless `readonly = false`. With `idmap` it
    /// is an idmapped bind (OCI's `uidMappings`/`gidMappings`): a detached
    /// copy of the source shows its files' ids through a user namespace
    /// with these maps, then is attached.
    Bind {
        source: BindSource,
        target: PathBuf,
        #[serde(default = "yes")]
        readonly: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        idmap: Option<MountIdmap>,
    },
    /// A tmpfs, optionally size-capped in bytes.
    Tmpfs {
        target: PathBuf,
        #[serde(default)]
        size: Option<u64>,
    },
    /// A sysfs, read-only unless `readonly = false`. It shows the network
    /// devices of the sandbox's network namespace.
    Sysfs {
        target: PathBuf,
        #[serde(default = "yes")]
        readonly: bool,
    },
}

/// The maps of an idmapped bind's user namespace: a file whose id on disk
/// is `inside` shows as `outside` (each line `inside outside count`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MountIdmap {
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
}

fn yes() -> bool {
    true
}

impl Mount {
    pub fn target(&self) -> &std::path::Path {
        match self {
            Mount::Proc { target }
            | Mount::Bind { target, .. }
            | Mount::Tmpfs { target, .. }
            | Mount::Sysfs { target, .. } => target,
        }
    }
}

/// Capabilities the sandbox keeps. Each set left `None` keeps what it has
/// after `drop`; one given as a list is reduced to exactly that list.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CapsSpec {
    /// Dropped from every set: bounding, ambient, inheritable, effective, permitted.
    pub drop: Vec<Capability>,
    pub bounding: Option<Vec<Capability>>,
    pub permitted: Option<Vec<Capability>>,
    pub effective: Option<Vec<Capability>>,
    pub inheritable: Option<Vec<Capability>>,
    pub ambient: Option<Vec<Capability>>,
}

impl CapsSpec {
    pub fn is_empty(&self) -> bool {
        *self == CapsSpec::default()
    }
}

/// A seccomp filter that denies the named system calls with an errno and
/// allows every other.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SeccompSpec {
    /// System call names as the kernel's tables spell them (`uname`, `mkdirat`).
    pub deny: Vec<String>,
    /// The errno's name the denied calls fail with.
    #[serde(default = "eperm")]
    pub errno: String,
}

/// A seccomp filter that hands one system call to a supervisor outside
/// the sandbox (`SECCOMP_RET_USER_NOTIF`), installed with a new listener
/// that the sandbox passes to the helper and then closes.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SeccompNotifySpec {
    /// The system call's name as the kernel's tables spell it (`getpgid`).
    pub call: String,
}

fn eperm() -> String {
    "EPERM".into()
}

/// A Landlock ruleset: reading files and listing directories is allowed
/// beneath the listed paths only (paths inside the sandbox's root). It is
/// applied after no_new_privs and before any seccomp filter.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LandlockSpec {
    pub read: Vec<PathBuf>,
}

/// How the sandbox's mounts propagate to and from the namespace it was
/// cloned from (applied recursively to its `/` before anything is mounted).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Propagation {
    /// Nothing propagates either way.
    #[default]
    Private,
    /// Mounts from outside come in; nothing goes back out.
    Slave,
    /// Mounts go both ways. Only inside a throwaway outer mount namespace.
    Shared,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Private => "private",
            Propagation::Slave => "slave",
            Propagation::Shared => "shared",
        }
    }

    pub fn flag(self) -> nix::mount::MsFlags {
        use nix::mount::MsFlags as F;
        match self {
            Propagation::Private => F::MS_PRIVATE,
            Propagation::Slave => F::MS_SLAVE,
            Propagation::Shared => F::MS_SHARED,
        }
    }
}

/// Everything a container is, and the scaffolding its test needs. A table
/// (and the wire) writes both as one flat set of fields ([`Written`]), so
/// an error names the exact field (`sandbox.join`, `sandbox.exec_copy.x`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(from = "Written", into = "Written")]
pub struct SandboxSpec {
    /// New namespaces for the sandbox.
    pub namespaces: BTreeSet<Namespace>,
    /// Throwaway namespaces the helper enters before it starts the
    /// sandbox: they stand in for the host, so a control that leaks (a
    /// hostname, a mount) leaks into them and never into the real host.
    pub outer: BTreeSet<Namespace>,
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    /// The ids the probe runs as inside the sandbox (after the id maps).
    pub user: Option<Ids>,
    pub rootfs: Rootfs,
    pub mounts: Vec<Mount>,
    pub hostname: Option<String>,
    pub cgroup: CgroupLimits,
    pub caps: CapsSpec,
    pub no_new_privs: bool,
    /// Wall time the sandbox may take before it is killed as a whole.
    pub timeout_ms: u64,
    /// A seccomp filter, installed last, after no_new_privs.
    pub seccomp: Option<SeccompSpec>,
    /// A Landlock ruleset, applied after no_new_privs, before seccomp.
    pub landlock: Option<LandlockSpec>,
    /// A user-notification filter, installed after `seccomp`; its listener
    /// goes to the helper's supervisor (scaffold `seccomp_supervisor`).
    pub seccomp_notify: Option<SeccompNotifySpec>,
    /// Paths hidden as a container runtime hides them: a file under a bind
    /// of /dev/null, a directory under an empty read-only tmpfs. Absent
    /// paths are skipped.
    pub masked_paths: Vec<PathBuf>,
    /// Paths bound read-only onto themselves. Absent paths are skipped.
    pub readonly_paths: Vec<PathBuf>,
    /// Propagation of the sandbox's mounts (recursively from its `/`).
    pub root_propagation: Propagation,
    /// Clock offsets of the sandbox's time namespace.
    pub time_offsets: Option<TimeOffsets>,
    /// Write `deny` to the sandbox's /proc/<pid>/setgroups before its
    /// gid_map.
    pub setgroups_deny: bool,
    /// The test scaffolding around the container, written in a table next
    /// to the container's own fields (`join = true`, `exec_copy = { ... }`).
    pub scaffold: Scaffold,
}

/// A [`SandboxSpec`] as a table writes it: the container's fields and the
/// scaffold's side by side, every one known by name (serde's `flatten`
/// would lose the field an error is about).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Written {
    namespaces: BTreeSet<Namespace>,
    outer: BTreeSet<Namespace>,
    uid_map: Vec<IdMap>,
    gid_map: Vec<IdMap>,
    user: Option<Ids>,
    rootfs: Rootfs,
    mounts: Vec<Mount>,
    hostname: Option<String>,
    cgroup: CgroupLimits,
    caps: CapsSpec,
    no_new_privs: bool,
    timeout_ms: u64,
    exec_copy: Option<super::scaffold::ExecCopy>,
    seccomp: Option<SeccompSpec>,
    landlock: Option<LandlockSpec>,
    seccomp_notify: Option<SeccompNotifySpec>,
    masked_paths: Vec<PathBuf>,
    readonly_paths: Vec<PathBuf>,
    root_propagation: Propagation,
    scratch_marker: bool,
    time_offsets: Option<TimeOffsets>,
    ipc_objects: bool,
    loopback_listener: bool,
    setgroups_deny: bool,
    join: bool,
    subid_tools: bool,
    veth: Option<super::veth::VethSpec>,
    seccomp_supervisor: bool,
    pidfd_signal: bool,
    lesser_opener: Option<u32>,
}

impl Default for Written {
    fn default() -> Self {
        SandboxSpec::default().into()
    }
}

impl From<SandboxSpec> for Written {
    fn from(s: SandboxSpec) -> Self {
        let Scaffold {
            exec_copy,
            scratch_marker,
            ipc_objects,
            loopback_listener,
            join,
            subid_tools,
            veth,
            seccomp_supervisor,
            pidfd_signal,
            lesser_opener,
        } = s.scaffold;
        Written {
            namespaces: s.namespaces,
            outer: s.outer,
            uid_map: s.uid_map,
            gid_map: s.gid_map,
            user: s.user,
            rootfs: s.rootfs,
            mounts: s.mounts,
            hostname: s.hostname,
            cgroup: s.cgroup,
            caps: s.caps,
            no_new_privs: s.no_new_privs,
            timeout_ms: s.timeout_ms,
            exec_copy,
            seccomp: s.seccomp,
            landlock: s.landlock,
            seccomp_notify: s.seccomp_notify,
            masked_paths: s.masked_paths,
            readonly_paths: s.readonly_paths,
            root_propagation: s.root_propagation,
            scratch_marker,
            time_offsets: s.time_offsets,
            ipc_objects,
            loopback_listener,
            setgroups_deny: s.setgroups_deny,
            join,
            subid_tools,
            veth,
            seccomp_supervisor,
            pidfd_signal,
            lesser_opener,
        }
    }
}

impl From<Written> for SandboxSpec {
    fn from(w: Written) -> Self {
        SandboxSpec {
            namespaces: w.namespaces,
            outer: w.outer,
            uid_map: w.uid_map,
            gid_map: w.gid_map,
            user: w.user,
            rootfs: w.rootfs,
            mounts: w.mounts,
            hostname: w.hostname,
            cgroup: w.cgroup,
            caps: w.caps,
            no_new_privs: w.no_new_privs,
            timeout_ms: w.timeout_ms,
            seccomp: w.seccomp,
            landlock: w.landlock,
            seccomp_notify: w.seccomp_notify,
            masked_paths: w.masked_paths,
            readonly_paths: w.readonly_paths,
            root_propagation: w.root_propagation,
            time_offsets: w.time_offsets,
            setgroups_deny: w.setgroups_deny,
            scaffold: Scaffold {
                exec_copy: w.exec_copy,
                scratch_marker: w.scratch_marker,
                ipc_objects: w.ipc_objects,
                loopback_listener: w.loopback_listener,
                join: w.join,
                subid_tools: w.subid_tools,
                veth: w.veth,
                seccomp_supervisor: w.seccomp_supervisor,
                pidfd_signal: w.pidfd_signal,
                lesser_opener: w.lesser_opener,
            },
        }
    }
}

/// Offsets, in seconds, of a time namespace's clocks.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TimeOffsets {
    #[serde(default)]
    pub monotonic_s: i64,
    #[serde(default)]
    pub boottime_s: i64,
}

/// How long a sandbox may run before it is killed as a whole and its case
/// is `error(timeout)`. A safety net for a hang, never a verdict: it is far
/// above what any built-in probe needs (the slowest, a 64 MiB memory hog,
/// took 1.4 s in a quiet TCG guest and over 11 s in one on a machine at
/// load 30), so load alone does not turn a case into an error.
pub const DEFAULT_TIMEOUT_MS: u64 = 60_000;

impl Default for SandboxSpec {
    fn default() -> Self {
        SandboxSpec {
            namespaces: BTreeSet::new(),
            outer: BTreeSet::new(),
            uid_map: Vec::new(),
            gid_map: Vec::new(),
            user: None,
            rootfs: Rootfs::Skeleton,
            mounts: Vec::new(),
            hostname: None,
            cgroup: CgroupLimits::default(),
            caps: CapsSpec::default(),
            no_new_privs: false,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            seccomp: None,
            landlock: None,
            seccomp_notify: None,
            masked_paths: Vec::new(),
            readonly_paths: Vec::new(),
            root_propagation: Propagation::Private,
            time_offsets: None,
            setgroups_deny: false,
            scaffold: Scaffold::default(),
        }
    }
}

impl SandboxSpec {
    pub fn has(&self, ns: Namespace) -> bool {
        self.namespaces.contains(&ns)
    }

    /// The clone flags of the sandbox's new namespaces. Time is excluded
    /// (the helper unshares it, and its children enter it), and so is
    /// cgroup (the sandbox unshares it once it is in its own cgroup, which
    /// then becomes the namespace's root).
    pub fn clone_flags(&self) -> nix::sched::CloneFlags {
        self.namespaces
            .iter()
            .filter(|n| !matches!(n, Namespace::Time | Namespace::Cgroup))
            .fold(nix::sched::CloneFlags::empty(), |f, n| f | n.clone_flag())
    }

    /// Checks what the type system cannot, the container and then its
    /// scaffolding; the error names the field. (Whether a seccomp filter
    /// compiles is for the runtime to say: `runtime::spec::check`.)
    pub fn validate(&self) -> Result<(), String> {
        if self.time_offsets.is_some() && !self.has(Namespace::Time) {
            return Err("time_offsets: clock offsets need namespaces to include \"time\"".into());
        }
        if self.setgroups_deny && !self.has(Namespace::User) {
            return Err("setgroups_deny: needs namespaces to include \"user\"".into());
        }
        let needs_mount_ns = !matches!(self.rootfs, Rootfs::Host) || !self.mounts.is_empty();
        if needs_mount_ns && !self.has(Namespace::Mount) {
            return Err(
                "rootfs/mounts: a pivoted root or mounts need namespaces to include \"mount\""
                    .into(),
            );
        }
        if self.hostname.is_some()
            && !self.has(Namespace::Uts)
            && !self.outer.contains(&Namespace::Uts)
        {
            return Err("hostname: setting a hostname needs a new UTS namespace, in `namespaces` or `outer`".into());
        }
        if (!self.uid_map.is_empty() || !self.gid_map.is_empty()) && !self.has(Namespace::User) {
            return Err("uid_map/gid_map: id maps need namespaces to include \"user\"".into());
        }
        for m in &self.mounts {
            if !m.target().is_absolute() {
                return Err(format!(
                    "mounts: target {:?} must be an absolute path",
                    m.target()
                ));
            }
        }
        if let Rootfs::Dir { path } = &self.rootfs {
            if !path.is_absolute() {
                return Err(format!("rootfs: path {path:?} must be absolute"));
            }
            // The path goes into overlay mount options, where these separate.
            if path.to_string_lossy().contains([',', ':', '\\']) {
                return Err(format!(
                    "rootfs: path {path:?} must not contain ',', ':' or '\\'"
                ));
            }
        }
        if self.timeout_ms == 0 {
            return Err("timeout_ms: must be more than 0".into());
        }
        for p in self.masked_paths.iter().chain(&self.readonly_paths) {
            if !p.is_absolute() {
                return Err(format!(
                    "masked_paths/readonly_paths: {p:?} must be an absolute path"
                ));
            }
            if !self.has(Namespace::Mount) {
                return Err(
                    "masked_paths/readonly_paths: masking needs namespaces to include \"mount\""
                        .into(),
                );
            }
        }
        if self.root_propagation != Propagation::Private && !self.has(Namespace::Mount) {
            return Err("root_propagation: needs namespaces to include \"mount\"".into());
        }
        if let Some(c) = &self.cgroup.cpu_max {
            c.validate()?;
        }
        if self.root_propagation == Propagation::Shared {
            // Shared mounts would reach the namespace the helper runs in.
            if !self.outer.contains(&Namespace::Mount) {
                return Err("root_propagation: \"shared\" needs outer = [\"mount\"], a throwaway mount namespace standing in for the host".into());
            }
            // pivot_root and MS_MOVE refuse a shared parent.
            if !matches!(self.rootfs, Rootfs::Host) {
                return Err(
                    "root_propagation: \"shared\" needs rootfs = { kind = \"host\" }: pivot_root refuses shared mounts".into(),
                );
            }
        }
        if self.seccomp_notify.is_some() && !self.scaffold.seccomp_supervisor {
            return Err("seccomp_notify: the listener goes to a supervisor: needs seccomp_supervisor = true".into());
        }
        self.scaffold
            .items()
            .into_iter()
            .try_for_each(|item| self.fits(item))
    }

    /// Checks a scaffolding item fits this container; the error names the
    /// field.
    fn fits(&self, item: Item<'_>) -> Result<(), String> {
        match item {
            Item::IpcObjects if !self.outer.contains(&Namespace::Ipc) => {
                Err("ipc_objects: the objects are made in a throwaway IPC namespace: `outer` must include \"ipc\"".into())
            }
            Item::LoopbackListener if !self.outer.contains(&Namespace::Net) => {
                Err("loopback_listener: the listener runs in a throwaway network namespace: `outer` must include \"net\"".into())
            }
            Item::Joiner if !self.has(Namespace::Mount) => {
                Err("join: a joiner enters the sandbox's mount namespace: namespaces must include \"mount\"".into())
            }
            Item::ExecCopy(_) if !self.binds_scratch() => {
                Err("exec_copy: the copy goes into the scratch directory; mount it with a `bind` of source \"scratch\"".into())
            }
            Item::ExecCopy(_) if self.has(Namespace::User) => {
                Err("exec_copy: file capabilities and setuid copies are made for rootful sandboxes only, without \"user\" in namespaces".into())
            }
            Item::Veth(v) => v.validate(self.outer.contains(&Namespace::Net)),
            _ => Ok(()),
        }
    }

    /// A bind mount of the case's scratch directory is among the mounts.
    pub fn binds_scratch(&self) -> bool {
        self.mounts.iter().any(|m| {
            matches!(
                m,
                Mount::Bind {
                    source: BindSource::Scratch,
                    ..
                }
            )
        })
    }

    /// The runner makes a scratch directory for this sandbox.
    pub fn uses_scratch(&self) -> bool {
        self.binds_scratch() || self.scaffold.uses_scratch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn from(toml_src: &str) -> SandboxSpec {
        toml::from_str(toml_src).unwrap()
    }

    #[rstest]
    #[case::exec_copy_without_scratch(
        "namespaces = [\"mount\"]\nexec_copy = { setuid_root = true }",
        "exec_copy: the copy goes into the scratch directory"
    )]
    #[case::exec_copy_in_a_user_namespace(
        "namespaces = [\"mount\", \"user\"]\nmounts = [{ kind = \"bind\", source = \"scratch\", target = \"/data\" }]\nexec_copy = { setuid_root = true }",
        "rootful sandboxes only"
    )]
    #[case::relative_mask(
        "namespaces = [\"mount\"]\nmasked_paths = [\"proc/kcore\"]",
        "must be an absolute path"
    )]
    #[case::mask_without_mount_ns(
        "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }\nreadonly_paths = [\"/proc/sys\"]",
        "masking needs namespaces to include \"mount\""
    )]
    #[case::shared_without_outer(
        "namespaces = [\"mount\"]\nrootfs = { kind = \"host\" }\nroot_propagation = \"shared\"",
        "needs outer = [\"mount\"]"
    )]
    #[case::shared_with_pivot(
        "namespaces = [\"mount\"]\nouter = [\"mount\"]\nroot_propagation = \"shared\"",
        "pivot_root refuses shared mounts"
    )]
    #[case::notify_without_supervisor(
        "namespaces = [\"mount\"]\nseccomp_notify = { call = \"getpgid\" }",
        "seccomp_notify: the listener goes to a supervisor"
    )]
    #[case::joiner_without_mount_ns(
        "namespaces = [\"pid\"]\nrootfs = { kind = \"host\" }\njoin = true",
        "join: a joiner enters the sandbox's mount namespace"
    )]
    #[case::listener_without_outer_net(
        "namespaces = [\"net\"]\nrootfs = { kind = \"host\" }\nloopback_listener = true",
        "loopback_listener: the listener runs in a throwaway network namespace"
    )]
    fn bad_specs_are_refused_naming_the_field(#[case] src: &str, #[case] msg: &str) {
        let err = from(src).validate().unwrap_err();
        assert!(err.contains(msg), "{err}");
    }

    #[test]
    fn scaffold_fields_sit_beside_the_container_and_unknown_ones_are_refused() {
        let s = from("namespaces = [\"ipc\"]\nouter = [\"ipc\"]\nrootfs = { kind = \"host\" }\nipc_objects = true");
        assert!(s.scaffold.ipc_objects && s.has(Namespace::Ipc));
        s.validate().unwrap();
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["ipc_objects"], true, "{json}");
        assert_eq!(serde_json::from_value::<SandboxSpec>(json).unwrap(), s);
        let err = toml::from_str::<SandboxSpec>("namespaces = [\"ipc\"]\nipc_object = true")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `ipc_object`"), "{err}");
    }

    #[test]
    fn new_fields_default_to_off_and_good_specs_validate() {
        let s = from("namespaces = [\"mount\"]");
        assert_eq!(s.scaffold.exec_copy, None);
        assert_eq!(s.seccomp, None);
        assert_eq!(s.root_propagation, Propagation::Private);
        assert!(!s.scaffold.scratch_marker && !s.uses_scratch());
        s.validate().unwrap();
        let s = from(
            "namespaces = [\"mount\"]\nouter = [\"mount\"]\nrootfs = { kind = \"host\" }\nroot_propagation = \"shared\"\nseccomp = { deny = [\"uname\", \"mkdirat\"] }\nscratch_marker = true",
        );
        s.validate().unwrap();
        assert_eq!(s.seccomp.as_ref().unwrap().errno, "EPERM");
        assert!(s.uses_scratch());
    }

    /// The path of the field a table's mistake is about, as the loader
    /// reports it.
    fn mistake_at(src: &str) -> (String, String) {
        let de = toml::Deserializer::parse(src).unwrap();
        let e = serde_path_to_error::deserialize::<_, SandboxSpec>(de).unwrap_err();
        (e.path().to_string(), e.inner().message().to_string())
    }

    #[test]
    fn a_mistake_in_a_container_or_scaffold_field_names_that_field() {
        let (path, msg) = mistake_at("hostnme = \"x\"");
        assert_eq!(path, "hostnme");
        assert!(msg.contains("expected one of `namespaces`"), "{msg}");
        assert!(
            msg.contains("`join`"),
            "scaffold fields are listed too: {msg}"
        );
        assert_eq!(mistake_at("join = \"yes\"").0, "join");
        assert_eq!(
            mistake_at("exec_copy = { setuid = true }").0,
            "exec_copy.setuid"
        );
        assert_eq!(
            mistake_at("veth = { prefix_len = \"x\" }").0,
            "veth.prefix_len"
        );
    }

    #[test]
    fn container_and_scaffold_fields_round_trip_as_one_flat_table() {
        let src = "namespaces = [\"pid\", \"mount\"]\njoin = true\nscratch_marker = true\nno_new_privs = true";
        let s: SandboxSpec = toml::from_str(src).unwrap();
        assert!(s.scaffold.join && s.scaffold.scratch_marker && s.no_new_privs);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["join"], true, "flat on the wire: {v}");
        assert!(v.get("scaffold").is_none(), "{v}");
        let back: SandboxSpec = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
        assert_eq!(SandboxSpec::default().timeout_ms, DEFAULT_TIMEOUT_MS);
        let empty: SandboxSpec = toml::from_str("").unwrap();
        assert_eq!(empty, SandboxSpec::default());
    }
}
