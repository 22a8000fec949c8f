//! Layer 3 of the chain (sys -> model -> **probe** -> runtime -> host ->
//! suite -> report -> cli): it imports only `sys` and `model`.
//!
//! Observations taken inside the sandbox: small functions that look (or try
//! one thing) and return what they saw as data. A probe never judges; the
//! suite's expectations do.
//!
//! Each probe is defined once, next to its code: a type holding its
//! arguments that implements [`Def`] (what it reports, how it runs, the
//! paths of its report), registered by one line of [`probes!`] below
//! under the name tables write.

pub mod caps;
pub mod cgroup;
pub mod cgroup_perm;
pub mod cpu;
pub mod exec;
pub mod fs;
pub mod harness;
pub mod memory;
pub mod mount;
pub mod net;
pub mod ns;
pub mod pid;
pub mod reach;
pub mod schema;
pub mod security;
pub mod tasks;
pub mod uts;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A probe path that starts with this names the case's scratch directory
/// on the host; the runner puts in the real path before the sandbox runs.
pub const SCRATCH_TOKEN: &str = "$SCRATCH";

/// One probe kind, defined next to its code: its arguments (the type
/// itself, read from a row's `probe` table), what it reports, how it runs,
/// the paths of its report (what the tables' expectations are checked
/// against when they load) and what it does that the suite's policy
/// checks. [`probes!`] registers each under the name tables write.
pub trait Def {
    /// What the probe reports, as its observation's `probe`.
    type Output: Serialize;
    /// Runs the probe in the calling process (the sandbox init).
    fn run(&self) -> Self::Output;
    /// Every path of its report (`probe.*`), with its type, for these
    /// arguments.
    fn fields(&self, v: &mut Vec<schema::Field>);
    /// Its arguments that may name the case's scratch directory
    /// (`$SCRATCH/...`).
    fn scratch_paths(&mut self) -> Vec<&mut PathBuf> {
        Vec::new()
    }
    /// It execs isocheck's own binary (`exec_self`), which needs the
    /// host's libraries in the sandbox's root.
    fn execs_isocheck(&self) -> bool {
        false
    }
    /// The paths it writes (creates, chowns, makes a directory at), by
    /// argument name.
    fn written_paths(&self) -> Vec<(&'static str, &Path)> {
        Vec::new()
    }
    /// It may write below the case's scratch directory.
    fn may_write_scratch(&self) -> bool {
        false
    }
    /// It mounts (or remounts) something.
    fn mounts(&self) -> bool {
        false
    }
    /// Its look at the sandbox as it was born: the sandbox's first act,
    /// before the helper releases it (its ids, cgroup and scaffolding not
    /// yet in place); [`Def::run`] reports it later.
    fn at_birth(&self) {}
    /// It has an [`Def::at_birth`] look: the helper then waits for it
    /// before it moves the sandbox anywhere.
    fn looks_at_birth(&self) -> bool {
        false
    }
    /// The namespaces it makes itself (`unshare(2)` from inside the
    /// sandbox).
    fn namespaces_made(&self) -> Vec<crate::model::namespace::Namespace> {
        Vec::new()
    }
}

/// The registration: each probe's name and definition, from which the
/// [`Probe`] enum (what tables name), its name, its dispatch and the
/// paths of its report derive.
macro_rules! probes {
    ($($name:literal => $variant:ident($def:ty),)*) => {
        /// Every probe a table can name, with its arguments.
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
        #[serde(tag = "kind", deny_unknown_fields)]
        pub enum Probe {
            $(
                #[serde(rename = $name)]
                $variant($def),
            )*
        }

        /// The name of every probe, in registration order.
        pub const KINDS: &[&str] = &[$($name),*];

        impl Probe {
            pub fn name(&self) -> &'static str {
                match self {
                    $(Probe::$variant(_) => $name,)*
                }
            }

            /// Runs the probe in the calling process (the sandbox init).
            pub fn run(&self) -> Value {
                match self {
                    $(Probe::$variant(d) => to_value(d.run()),)*
                }
            }

            /// The paths it reports under `probe.`, for its arguments.
            pub fn probe_fields(&self) -> Vec<schema::Field> {
                let mut v = vec![schema::opt("probe", schema::Ty::Object)];
                match self {
                    $(Probe::$variant(d) => d.fields(&mut v),)*
                }
                v
            }

            /// The definition behind the probe.
            fn def(&self) -> &dyn DefInfo {
                match self {
                    $(Probe::$variant(d) => d,)*
                }
            }

            /// The probe's first act in the sandbox, before its release
            /// ([`Def::at_birth`]).
            pub fn at_birth(&self) {
                match self {
                    $(Probe::$variant(d) => d.at_birth(),)*
                }
            }

            /// The probe looks at the sandbox as it was born
            /// ([`Def::looks_at_birth`]).
            pub fn looks_at_birth(&self) -> bool {
                match self {
                    $(Probe::$variant(d) => d.looks_at_birth(),)*
                }
            }

            fn scratch_paths(&mut self) -> Vec<&mut PathBuf> {
                match self {
                    $(Probe::$variant(d) => d.scratch_paths(),)*
                }
            }
        }
    };
}

/// What of a [`Def`] the suite asks without knowing its kind.
trait DefInfo {
    fn namespaces_made(&self) -> Vec<crate::model::namespace::Namespace>;
    fn execs_isocheck(&self) -> bool;
    fn written_paths(&self) -> Vec<(&'static str, &Path)>;
    fn may_write_scratch(&self) -> bool;
    fn mounts(&self) -> bool;
}

impl<D: Def> DefInfo for D {
    fn namespaces_made(&self) -> Vec<crate::model::namespace::Namespace> {
        Def::namespaces_made(self)
    }
    fn execs_isocheck(&self) -> bool {
        Def::execs_isocheck(self)
    }
    fn written_paths(&self) -> Vec<(&'static str, &Path)> {
        Def::written_paths(self)
    }
    fn may_write_scratch(&self) -> bool {
        Def::may_write_scratch(self)
    }
    fn mounts(&self) -> bool {
        Def::mounts(self)
    }
}

probes! {
    "pid-view" => PidView(pid::PidViewArgs),
    "hostname" => Hostname(uts::HostnameArgs),
    "net-view" => NetView(net::NetViewArgs),
    "write-file" => WriteFile(fs::WriteFileArgs),
    "memory-hog" => MemoryHog(memory::MemoryHogArgs),
    "chown" => Chown(fs::ChownArgs),
    "create-file" => CreateFile(fs::CreateFileArgs),
    "file-owner" => FileOwner(fs::FileOwnerArgs),
    "fork-count" => ForkCount(tasks::ForkCountArgs),
    "ipc-view" => IpcView(ns::IpcViewArgs),
    "clocks" => Clocks(ns::ClocksArgs),
    "cgroup-view" => CgroupView(ns::CgroupViewArgs),
    "connect-listener" => ConnectListener(ns::ConnectListenerArgs),
    "ids" => Ids(ns::IdsArgs),
    "try-unshare" => TryUnshare(ns::TryUnshareArgs),
    "mount-tmpfs" => MountTmpfs(mount::MountTmpfsArgs),
    "mount-view" => MountView(mount::MountViewArgs),
    "find-host-file" => FindHostFile(mount::FindHostFileArgs),
    "host-writable" => HostWritable(mount::HostWritableArgs),
    "listmount" => Listmount(mount::ListmountArgs),
    "syscalls" => Syscalls(security::SyscallsArgs),
    "path-access" => PathAccess(security::PathAccessArgs),
    "landlock-read" => LandlockRead(security::LandlockReadArgs),
    "exec" => Exec(exec::ExecArgs),
    "noop" => Noop(harness::NoopArgs),
    "crash" => Crash(harness::CrashArgs),
    "hang" => Hang(harness::HangArgs),
    "busy-loop" => BusyLoop(cpu::BusyLoopArgs),
    "net-reach" => NetReach(reach::NetReachArgs),
    "getpgid" => Getpgid(security::GetpgidArgs),
    "pidfd" => Pidfd(pid::PidfdArgs),
    "cgroup-birth" => CgroupBirth(cgroup::CgroupBirthArgs),
    "escape-session" => EscapeSession(cgroup::EscapeSessionArgs),
    "cgroup-release-agent" => CgroupReleaseAgent(cgroup_perm::ReleaseAgentArgs),
    "cgroup-migrate-through-fd" => CgroupMigrateThroughFd(cgroup_perm::MigrateArgs),
}

impl Probe {
    /// The probe that does nothing (benchmarks, requirement probes).
    pub fn noop() -> Probe {
        Probe::Noop(harness::NoopArgs {})
    }

    /// The probe execs isocheck's own binary (`exec_self`), which needs
    /// the host's libraries in the sandbox's root.
    pub fn execs_isocheck(&self) -> bool {
        self.def().execs_isocheck()
    }

    /// The namespaces the probe makes itself, from inside the sandbox.
    pub fn namespaces_made(&self) -> Vec<crate::model::namespace::Namespace> {
        self.def().namespaces_made()
    }

    /// The paths the probe writes (creates, chowns, makes a directory
    /// at), by argument name.
    pub fn written_paths(&self) -> Vec<(&'static str, &Path)> {
        self.def().written_paths()
    }

    /// The probe may write below the case's scratch directory.
    pub fn may_write_scratch(&self) -> bool {
        self.def().may_write_scratch()
    }

    /// The probe mounts (or remounts) something.
    pub fn mounts(&self) -> bool {
        self.def().mounts()
    }

    /// Every path of an observation of this probe run in `spec`: its
    /// report's and what the runner adds around it.
    pub fn fields(&self, spec: &crate::model::spec::SandboxSpec) -> Vec<schema::Field> {
        let mut v = self.probe_fields();
        v.extend(schema::runner_fields(spec));
        v
    }

    /// The probe names the case's scratch directory (`$SCRATCH/...`).
    pub fn uses_scratch(&self) -> bool {
        self.clone()
            .scratch_paths()
            .iter()
            .any(|p| p.starts_with(SCRATCH_TOKEN))
    }

    /// The probe with `$SCRATCH` replaced by the scratch directory's host path.
    pub fn with_scratch(&self, scratch: &Path) -> Probe {
        let mut p = self.clone();
        for path in p.scratch_paths() {
            if let Ok(rest) = path.strip_prefix(SCRATCH_TOKEN) {
                *path = scratch.join(rest);
            }
        }
        p
    }
}

fn to_value<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v)
        .unwrap_or_else(|e| Value::String(format!("unserialisable observation: {e}")))
}

/// `"ok"` or the errno's name (`"EROFS"`): what expectations compare.
pub fn outcome<T>(r: Result<T, nix::errno::Errno>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

/// Like [`outcome`] for std I/O results.
pub fn io_outcome<T>(r: std::io::Result<T>) -> String {
    outcome(r.map_err(crate::sys::io_errno))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_paths_are_put_in_by_the_runner() {
        let p: Probe =
            toml::from_str("kind = \"find-host-file\"\npath = \"$SCRATCH/isocheck-marker\"")
                .unwrap();
        assert!(p.uses_scratch());
        assert_eq!(
            p.with_scratch(Path::new("/tmp/w/scratch-3")),
            Probe::FindHostFile(mount::FindHostFileArgs {
                path: "/tmp/w/scratch-3/isocheck-marker".into(),
                mounts: Vec::new(),
            })
        );
        let other = Probe::MountTmpfs(mount::MountTmpfsArgs {
            target: "/tmp/x".into(),
            exec_self: false,
        });
        assert!(!other.uses_scratch());
        assert_eq!(other.with_scratch(Path::new("/s")), other);
    }

    #[test]
    fn a_probe_is_read_by_its_name_with_its_own_arguments_only() {
        let names: std::collections::BTreeSet<&str> = KINDS.iter().copied().collect();
        assert_eq!(names.len(), KINDS.len(), "a name registered twice");
        for kind in KINDS {
            let p: Result<Probe, _> = toml::from_str(&format!("kind = \"{kind}\""));
            // Those without required arguments read from the name alone.
            if let Ok(p) = p {
                assert_eq!(p.name(), *kind);
            }
        }
        let p: Probe = toml::from_str("kind = \"memory-hog\"\nmib = 8").unwrap();
        assert_eq!(p.name(), "memory-hog");
        let e = toml::from_str::<Probe>("kind = \"pid-view\"\nexec_self = true").unwrap_err();
        assert!(e.to_string().contains("unknown field `exec_self`"), "{e}");
        let e = toml::from_str::<Probe>("kind = \"memory-hog\"\nmibs = 8").unwrap_err();
        assert!(e.to_string().contains("unknown field `mibs`"), "{e}");
    }

    #[test]
    fn fields_follow_the_probe_arguments_and_the_sandbox() {
        let p: Probe = toml::from_str("kind = \"syscalls\"\ntry = [\"uname\"]").unwrap();
        let spec = crate::model::spec::SandboxSpec::default();
        let fs = p.fields(&spec);
        assert!(schema::find(&fs, "probe.calls.uname").is_some());
        assert!(schema::find(&fs, "probe.calls.getcwd").is_none());
        assert!(
            schema::find(&fs, "outside.cgroup.oom_kill").is_none(),
            "no limits, no cgroup"
        );
        assert!(
            schema::find(&fs, "outside.joiner.pid").is_none(),
            "no joiner"
        );
        let spec = crate::model::spec::SandboxSpec {
            scaffold: crate::model::scaffold::Scaffold {
                join: true,
                ..Default::default()
            },
            cgroup: crate::model::cgroup::CgroupLimits {
                pids_max: Some(8),
                ..Default::default()
            },
            ..Default::default()
        };
        let fs = p.fields(&spec);
        assert!(schema::find(&fs, "outside.cgroup.oom_kill").is_some());
        assert!(schema::find(&fs, "outside.joiner.pid").is_some());
    }

    /// The probes that only look, run here in the test process: every
    /// path their report has is declared by their definition with a type
    /// it fits, and every plain field they declare one level below
    /// `probe` is there. (tests/schema.rs checks every probe this way,
    /// both ways, through real sandboxes.)
    #[test]
    fn what_a_looking_probe_reports_is_what_its_definition_declares() {
        for text in [
            "kind = \"pid-view\"",
            "kind = \"hostname\"",
            "kind = \"net-view\"",
            "kind = \"ids\"",
            "kind = \"clocks\"",
            "kind = \"cgroup-view\"",
            "kind = \"mount-view\"",
            "kind = \"syscalls\"\ntry = [\"uname\", \"getcwd\"]",
            "kind = \"path-access\"\nread = [\"/proc/self/status\"]\nwrite = [\"/proc/sys/kernel/hostname\"]",
            "kind = \"noop\"",
        ] {
            let p: Probe = toml::from_str(text).unwrap();
            let fields = p.probe_fields();
            let report = serde_json::json!({ "probe": p.run() });
            for (path, _) in schema::paths_of(&report) {
                let value = expect_at(&report, &path);
                let f = schema::find(&fields, &path)
                    .unwrap_or_else(|| panic!("{}: `{path}` is not declared", p.name()));
                assert!(
                    schema::fits(f, value),
                    "{}: `{path}` = {value} is not {}",
                    p.name(),
                    f.ty.name()
                );
            }
            for f in &fields {
                let plain = f.path.matches('.').count() == 1 && !f.nullable;
                if plain {
                    assert!(
                        expect_at(&report, &f.path) != &Value::Null,
                        "{}: declared `{}` is not reported",
                        p.name(),
                        f.path
                    );
                }
            }
        }
    }

    /// The first value at a declared path (`#` is the first element).
    fn expect_at<'a>(v: &'a Value, path: &str) -> &'a Value {
        path.split('.').fold(v, |cur, seg| match (cur, seg) {
            (Value::Array(a), "#") => a.first().unwrap_or(&Value::Null),
            (Value::Object(m), k) => m.get(k).unwrap_or(&Value::Null),
            _ => &Value::Null,
        })
    }
}
