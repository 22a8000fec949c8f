//! Capability probes: all five capability sets of the calling thread, and
//! what a program the sandbox execs gets back.
//!
//! A capability is dropped only when it is gone from every set: a
//! permitted capability can be raised into the effective set again, an
//! inheritable or ambient one survives exec, and one left in the bounding
//! set comes back on the next exec of a root process (the kernel gives
//! root's programs the whole bounding set). So the probes read every set,
//! and exec isocheck's own binary to see what it is given.

use serde::{Deserialize, Serialize};
use std::process::{Command, Stdio};

use super::exec::{SelfView, EXEC_PROBE_ARG};
use super::io_outcome;

/// Where the sets are read, as DESIGN.md and proc(5) say: the thread's own
/// status file.
pub const STATUS: &str = "/proc/thread-self/status";
/// The binary the calling process runs, exec'd by [`exec_self`]. The magic
/// link reaches it even when its path lies outside the sandbox's root.
pub const SELF_EXE: &str = "/proc/self/exe";

/// The five capability sets, each sorted by name.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, Default)]
pub struct CapSets {
    /// Where the sets came from: [`STATUS`], or `capget` where no proc is
    /// mounted (the same kernel answer, by system call).
    pub source: String,
    pub inheritable: Vec<String>,
    pub permitted: Vec<String>,
    pub effective: Vec<String>,
    pub bounding: Vec<String>,
    pub ambient: Vec<String>,
}

use crate::sys::vfscap::cap_names as names;

/// Parses the `CapInh`, `CapPrm`, `CapEff`, `CapBnd` and `CapAmb` lines
/// of a status file; `None` when one is missing or malformed.
pub fn parse_status(text: &str) -> Option<CapSets> {
    let s = crate::sys::status::parse_status(text);
    Some(CapSets {
        source: STATUS.into(),
        inheritable: names(s.cap_inh?),
        permitted: names(s.cap_prm?),
        effective: names(s.cap_eff?),
        bounding: names(s.cap_bnd?),
        ambient: names(s.cap_amb?),
    })
}

fn capget_list(set: caps::CapSet) -> Vec<String> {
    let mut v: Vec<String> = caps::read(None, set)
        .map(|s| s.into_iter().map(|c| c.to_string()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// The calling thread's five sets: from [`STATUS`], else by system call.
pub fn read() -> CapSets {
    if let Some(s) = std::fs::read_to_string(STATUS)
        .ok()
        .and_then(|t| parse_status(&t))
    {
        return s;
    }
    use caps::CapSet;
    CapSets {
        source: "capget".into(),
        inheritable: capget_list(CapSet::Inheritable),
        permitted: capget_list(CapSet::Permitted),
        effective: capget_list(CapSet::Effective),
        bounding: capget_list(CapSet::Bounding),
        ambient: capget_list(CapSet::Ambient),
    }
}

/// What an exec of isocheck's own binary got.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct ExecSelf {
    /// `"ok"` or the errno of the exec.
    pub exec: String,
    /// The exec'd program's ids and capability sets; null when it did not
    /// run or said nothing readable.
    pub child: Option<SelfView>,
}

/// Execs [`SELF_EXE`] as the exec sub-probe, with an empty environment,
/// and reads what it reports of itself.
pub fn exec_self() -> ExecSelf {
    let out = Command::new(SELF_EXE)
        .arg(EXEC_PROBE_ARG)
        .env_clear()
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(o) => ExecSelf {
            exec: "ok".into(),
            child: serde_json::from_slice(&o.stdout).ok(),
        },
        Err(e) => ExecSelf {
            exec: io_outcome::<()>(Err(e)),
            child: None,
        },
    }
}

/// The capability part of a probe's report: the sets before the probe's
/// action, and, when asked, what an exec gets.
#[derive(Serialize, Debug, Clone)]
pub struct CapsReport {
    pub caps: CapSets,
    /// Absent when the row did not ask for it (`exec_self = true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec_self: Option<ExecSelf>,
}

pub fn report(exec: bool) -> CapsReport {
    CapsReport {
        caps: read(),
        exec_self: exec.then(exec_self),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_TEXT: &str = "Name:\tx\nCapInh:\t0000000000000000\nCapPrm:\t000001fffffffffe\nCapEff:\t0000000000200000\nCapBnd:\t000001fffffffffe\nCapAmb:\t0000000000000001\nNoNewPrivs:\t0\n";

    #[test]
    fn status_lines_become_sorted_names() {
        let s = parse_status(STATUS_TEXT).unwrap();
        assert_eq!(s.inheritable, Vec::<String>::new());
        assert_eq!(s.effective, ["CAP_SYS_ADMIN"]);
        assert_eq!(s.ambient, ["CAP_CHOWN"]);
        assert!(!s.permitted.contains(&"CAP_CHOWN".to_string()));
        assert!(s.permitted.contains(&"CAP_SYS_ADMIN".to_string()));
        assert_eq!(s.permitted.len(), 40);
        assert_eq!(s.bounding, s.permitted);
    }

    #[test]
    fn unknown_bits_are_named_by_number_and_missing_lines_refused() {
        assert_eq!(names(1 << 63), ["CAP_63"]);
        assert!(parse_status("CapInh:\t0\nCapPrm:\t0\n").is_none());
        assert!(parse_status(&STATUS_TEXT.replace("0000000000200000", "zz")).is_none());
    }

    #[test]
    fn this_thread_reads_the_same_by_either_way() {
        let s = read();
        assert_eq!(s.source, STATUS);
        assert_eq!(s.effective, capget_list(caps::CapSet::Effective));
        assert_eq!(s.bounding, capget_list(caps::CapSet::Bounding));
    }
}
