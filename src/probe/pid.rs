//! What the PID namespace lets the sandbox see.

use serde::Serialize;

#[derive(Serialize, Debug)]
pub struct PidView {
    /// getpid() inside.
    pub self_pid: i32,
    /// Numeric entries of /proc, sorted, at most [`LIST_MAX`].
    pub visible_pids: Vec<i32>,
    pub visible_count: usize,
    /// This process's pid as the mounted /proc numbers it (`/proc/self`):
    /// differs from `self_pid` when /proc belongs to another PID namespace.
    pub self_in_proc: Option<i32>,
    /// /proc/1 exists and is not this process: a PID 1 of another
    /// namespace (the host's init) is visible.
    pub foreign_pid1_visible: bool,
    /// /proc/1/comm, for the reader of the report.
    pub pid1_comm: Option<String>,
}

pub const LIST_MAX: usize = 32;

pub fn view() -> PidView {
    let self_pid = nix::unistd::getpid().as_raw();
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    pids.sort_unstable();
    let visible_count = pids.len();
    pids.truncate(LIST_MAX);
    let pid1_comm = std::fs::read_to_string("/proc/1/comm")
        .ok()
        .map(|s| s.trim().to_string());
    let self_in_proc = std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str()?.parse().ok());
    PidView {
        self_pid,
        visible_pids: pids,
        visible_count,
        foreign_pid1_visible: std::path::Path::new("/proc/1").exists() && self_in_proc != Some(1),
        self_in_proc,
        pid1_comm,
    }
}
