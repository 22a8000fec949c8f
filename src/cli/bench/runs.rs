//! isocheck itself as a subprocess, wall time with fork and exec: a
//! one-property run (`run --filter pid.pid1 --exact`), the fixed start-up
//! (`list`: host facts and every requirement decided), and the whole
//! default suite with its CPU time and the runner's own peak RSS.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::resource::{getrusage, UsageWho};

use crate::model::result::{Outcome, Summary};
use crate::report::bench::SuiteRun;

/// Set to a file path, `isocheck` writes its own peak RSS there as it
/// exits (see [`write_peak_rss_if_asked`]).
pub const PEAK_RSS_ENV: &str = "ISOCHECK_BENCH_PEAK_RSS_FILE";

/// The arguments of the one-property run.
pub const ONE_CASE: [&str; 7] = [
    "run",
    "--filter",
    "pid.pid1",
    "--exact",
    "--no-write",
    "--format",
    "json",
];
/// The arguments of the start-up measure.
pub const STARTUP: [&str; 1] = ["list"];
/// The arguments of a whole-suite run.
pub const SUITE: [&str; 4] = ["run", "--no-write", "--format", "json"];

/// Writes this process's VmHWM (KiB) to the file `ISOCHECK_BENCH_PEAK_RSS_FILE`
/// names, when set. The runner's peak is read by the runner itself just
/// before it exits: `wait4`'s `ru_maxrss` would be the largest of the
/// runner and every descendant it waited for, and the memory cases' hogs
/// (64 MiB and more) are descendants; after exit /proc/<pid>/status has no
/// memory lines left to read from outside.
pub fn write_peak_rss_if_asked() {
    let Some(path) = std::env::var_os(PEAK_RSS_ENV) else {
        return;
    };
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| vm_hwm_kib(&s));
    if let Some(kib) = hwm {
        let _ = std::fs::write(path, format!("{kib}\n"));
    }
}

/// The `VmHWM:` line of a status file, in KiB.
pub fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
}

/// What a `run --format json` printed: the outcomes by case id, the
/// finished summary, and the cases' own durations.
#[derive(Debug, Default, PartialEq)]
pub struct Stream {
    pub cases: Vec<(String, Outcome, f64)>,
    pub summary: Option<Summary>,
}

/// Reads the JSON lines of `run --format json` (lines that are not JSON
/// objects are left out).
pub fn read_stream(out: &[u8]) -> Stream {
    let mut s = Stream::default();
    for line in String::from_utf8_lossy(out).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        match v["event"].as_str() {
            Some("case") => {
                let c = &v["case"];
                if let (Some(id), Ok(o)) = (
                    c["id"].as_str(),
                    serde_json::from_value::<Outcome>(c["outcome"].clone()),
                ) {
                    s.cases
                        .push((id.to_string(), o, c["duration_ms"].as_f64().unwrap_or(0.0)));
                }
            }
            Some("finished") => s.summary = serde_json::from_value(v["summary"].clone()).ok(),
            _ => {}
        }
    }
    s
}

/// Whether the one-property run ran the check: its rootful test passed.
pub fn ran_pid1(s: &Stream) -> bool {
    s.cases
        .iter()
        .any(|(id, o, _)| id == "pid.pid1/rootful/test" && *o == Outcome::Pass)
}

fn isocheck(exe: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// One `isocheck run --filter pid.pid1 --exact` (wall, fork and exec
/// included); `Err` unless its rootful test passed.
pub fn one_case(exe: &Path) -> Result<Duration, String> {
    let t = Instant::now();
    let out = isocheck(exe, &ONE_CASE)
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let took = t.elapsed();
    if !out.status.success() || !ran_pid1(&read_stream(&out.stdout)) {
        return Err(format!(
            "isocheck {}: {}, no passed pid.pid1/rootful/test; said {:?}",
            ONE_CASE.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(took)
}

/// One `isocheck list` (wall); `Err` unless it listed pid.pid1.
pub fn startup(exe: &Path) -> Result<Duration, String> {
    let t = Instant::now();
    let out = isocheck(exe, &STARTUP)
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let took = t.elapsed();
    if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("pid.pid1") {
        return Err(format!(
            "isocheck list: {}, said {:?}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(took)
}

fn cpu_ms(u: &nix::sys::resource::Usage) -> (f64, f64) {
    let ms = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e3 + t.tv_usec() as f64 / 1e3;
    (ms(u.user_time()), ms(u.system_time()))
}

/// One run of the whole default suite. CPU is the growth of this
/// process's `RUSAGE_CHILDREN` across the run: the runner and everything
/// under it that was waited for (this process runs nothing else
/// meanwhile). `Err` when it ran no case or ended by a signal.
pub fn suite(exe: &Path, dir: &Path) -> Result<SuiteRun, String> {
    let rss_file = dir.join("peak-rss");
    let _ = std::fs::remove_file(&rss_file);
    let before = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|e| format!("getrusage: {e}"))?;
    let t = Instant::now();
    let out = isocheck(exe, &SUITE)
        .env(PEAK_RSS_ENV, &rss_file)
        .output()
        .map_err(|e| format!("{}: {e}", exe.display()))?;
    let wall = t.elapsed();
    let after = getrusage(UsageWho::RUSAGE_CHILDREN).map_err(|e| format!("getrusage: {e}"))?;
    let ((u0, s0), (u1, s1)) = (cpu_ms(&before), cpu_ms(&after));
    let stream = read_stream(&out.stdout);
    let Some(code) = out.status.code() else {
        return Err(format!("isocheck run: {}", out.status));
    };
    let summary = stream.summary.clone().unwrap_or_default();
    if summary.total == 0 {
        return Err(format!(
            "isocheck run: exit {code}, no case finished; said {:?}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let durations: Vec<Duration> = stream
        .cases
        .iter()
        .map(|(_, _, ms)| Duration::from_secs_f64(ms / 1e3))
        .collect();
    Ok(SuiteRun {
        wall_ms: wall.as_secs_f64() * 1e3,
        user_ms: u1 - u0,
        sys_ms: s1 - s0,
        peak_rss_kib: std::fs::read_to_string(&rss_file)
            .ok()
            .and_then(|s| s.trim().parse().ok()),
        exit_code: code,
        summary,
        case_median_ms: crate::report::bench::Stats::of(&durations).map(|s| s.median_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_rss_is_the_status_file_s_high_water_mark() {
        let status =
            "Name:\tisocheck\nVmPeak:\t  30000 kB\nVmHWM:\t    9728 kB\nVmRSS:\t    9000 kB\n";
        assert_eq!(vm_hwm_kib(status), Some(9728));
        assert_eq!(vm_hwm_kib("Name:\tzombie\n"), None, "no mm: no figure");
        let real = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(vm_hwm_kib(&real).is_some_and(|k| k > 0));
    }

    #[test]
    fn the_stream_gives_the_outcomes_and_the_summary() {
        let out = br#"{"event":"started","schema_version":"1.0"}
{"event":"case","index":0,"case":{"id":"pid.pid1/rootful/test","outcome":"pass","duration_ms":4.5}}
{"event":"case","index":1,"case":{"id":"pid.pid1/rootful/control","outcome":"pass","duration_ms":5.0}}
not json
{"event":"finished","summary":{"total":2,"pass":2,"fail":0,"skip":0,"error":0},"duration_ms":12}
"#;
        let s = read_stream(out);
        assert_eq!(s.cases.len(), 2);
        assert_eq!(
            s.cases[0],
            ("pid.pid1/rootful/test".into(), Outcome::Pass, 4.5)
        );
        assert_eq!(s.summary.as_ref().map(|s| s.total), Some(2));
        assert!(ran_pid1(&s));
        // The control alone, or a failed test, is not the check.
        let only_control = Stream {
            cases: vec![s.cases[1].clone()],
            summary: None,
        };
        assert!(!ran_pid1(&only_control));
        let failed = Stream {
            cases: vec![("pid.pid1/rootful/test".into(), Outcome::Fail, 1.0)],
            summary: None,
        };
        assert!(!ran_pid1(&failed));
    }
}
