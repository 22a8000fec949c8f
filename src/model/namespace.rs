//! Namespace kinds: their names in tables and under /proc/<pid>/ns/, and
//! their clone flags.

use serde::{Deserialize, Serialize};

/// A namespace kind.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    User,
    Pid,
    Mount,
    Uts,
    Ipc,
    Net,
    Cgroup,
    Time,
}

impl Namespace {
    pub const ALL: [Namespace; 8] = [
        Namespace::User,
        Namespace::Pid,
        Namespace::Mount,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Net,
        Namespace::Cgroup,
        Namespace::Time,
    ];

    /// The clone/unshare flag for this namespace.
    pub fn clone_flag(self) -> nix::sched::CloneFlags {
        use nix::sched::CloneFlags as F;
        match self {
            Namespace::User => F::CLONE_NEWUSER,
            Namespace::Pid => F::CLONE_NEWPID,
            Namespace::Mount => F::CLONE_NEWNS,
            Namespace::Uts => F::CLONE_NEWUTS,
            Namespace::Ipc => F::CLONE_NEWIPC,
            Namespace::Net => F::CLONE_NEWNET,
            Namespace::Cgroup => F::CLONE_NEWCGROUP,
            // CLONE_NEWTIME shares its bit with CSIGNAL's range in clone(2)
            // but is valid for unshare(2).
            Namespace::Time => F::from_bits_retain(0x80),
        }
    }

    /// The name under /proc/<pid>/ns/.
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::User => "user",
            Namespace::Pid => "pid",
            Namespace::Mount => "mnt",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Cgroup => "cgroup",
            Namespace::Time => "time",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::User => "user",
            Namespace::Pid => "pid",
            Namespace::Mount => "mount",
            Namespace::Uts => "uts",
            Namespace::Ipc => "ipc",
            Namespace::Net => "net",
            Namespace::Cgroup => "cgroup",
            Namespace::Time => "time",
        }
    }

    pub fn parse(s: &str) -> Option<Namespace> {
        Namespace::ALL
            .into_iter()
            .find(|n| n.as_str() == s || n.proc_name() == s)
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
