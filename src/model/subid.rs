//! Subordinate ids: a `name:start:count` line of /etc/subuid or
//! /etc/subgid, and what the host grants a rootless runtime (the usable
//! newuidmap and newgidmap, and the ranges), as plain data.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One `name:start:count` line: `owner` (a user name or a numeric id) may
/// map `count` ids from `start` on.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub struct SubidEntry {
    pub owner: String,
    pub start: u64,
    pub count: u64,
}

/// The ranges of a user among `entries`, matched by name or by numeric uid.
pub fn ranges_for<'a>(
    entries: &'a [SubidEntry],
    name: Option<&str>,
    uid: u32,
) -> Vec<&'a SubidEntry> {
    let uid = uid.to_string();
    entries
        .iter()
        .filter(|e| Some(e.owner.as_str()) == name || e.owner == uid)
        .collect()
}

/// What the host grants a rootless runtime that maps through subordinate
/// ids: where the usable newuidmap and newgidmap are (found, and setuid
/// root or with effective file capabilities), and the lines of
/// /etc/subuid and /etc/subgid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubidGrant {
    pub newuidmap: Option<PathBuf>,
    pub newgidmap: Option<PathBuf>,
    pub subuid: Vec<SubidEntry>,
    pub subgid: Vec<SubidEntry>,
}
