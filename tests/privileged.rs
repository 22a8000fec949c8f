//! End-to-end runs as root: the whole suite passes, the judge sees broken
//! isolation, crashes and hangs are errors with typed reasons, an
//! unprivileged runner gets typed skips, and the host is left exactly as
//! it was found. Run with `cargo test --features privileged`.
//!
//! A libtest-mimic harness (`harness = false`), so that a test needing a
//! host program this machine lacks reports itself as ignored, naming the
//! program, where it was looked for and the package that brings it, instead
//! of failing, or passing without having run. `ci/install-deps` installs
//! those packages, so in CI every test runs.

mod common;
use common::*;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Mutex;

/// These tests look at host-global state: one at a time.
static HOST: Mutex<()> = Mutex::new(());

/// A host program a test runs, and the Debian package that brings it.
#[derive(Clone, Copy)]
enum Tool {
    /// A program looked up in PATH, as `Command::new` does.
    Path {
        name: &'static str,
        package: &'static str,
    },
    /// newuidmap and newgidmap, found and privileged (setuid root or file
    /// capabilities) exactly as isocheck itself decides before using them.
    IdmapTools,
}

impl Tool {
    /// Why the tool cannot be used here, or `None` when it can.
    fn missing(self) -> Option<String> {
        match self {
            Tool::Path { name, package } => {
                let path = std::env::var_os("PATH").unwrap_or_default();
                let found = std::env::split_paths(&path).any(|d| {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::metadata(d.join(name))
                        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                });
                (!found).then(|| {
                    format!(
                        "needs `{name}`, not in PATH ({}): install the {package} package",
                        path.to_string_lossy()
                    )
                })
            }
            Tool::IdmapTools => {
                let tools = isocheck::host::subid::probe_tools(std::path::Path::new("/"));
                let why: Vec<String> = tools
                    .iter()
                    .filter(|t| !t.usable())
                    .map(|t| match &t.path {
                        None => t.tried.join(", "),
                        Some(p) => format!(
                            "{}: {p} is neither setuid root nor has file capabilities",
                            t.name
                        ),
                    })
                    .collect();
                (!why.is_empty()).then(|| {
                    format!(
                        "needs newuidmap and newgidmap: {}: install the uidmap package (ci/install-deps does)",
                        why.join("; ")
                    )
                })
            }
        }
    }
}

/// A test that runs only where every tool in `needs` is usable; elsewhere
/// it is ignored with the reasons.
fn trial(name: &str, needs: &[Tool], body: fn()) -> Trial {
    let needs = needs.to_vec();
    Trial::ignorable_test(name, move || -> Result<Completion, Failed> {
        let why: Vec<String> = needs.iter().filter_map(|t| t.missing()).collect();
        if !why.is_empty() {
            return Ok(Completion::ignored_with(why.join("; ")));
        }
        body();
        Ok(Completion::Completed)
    })
}

const UNSHARE: Tool = Tool::Path {
    name: "unshare",
    package: "util-linux",
};
const MOUNT: Tool = Tool::Path {
    name: "mount",
    package: "mount",
};
const SH: Tool = Tool::Path {
    name: "sh",
    package: "dash",
};

fn main() {
    let args = Arguments::from_args();
    macro_rules! t {
        ($f:ident $(, $need:expr)*) => {
            trial(stringify!($f), &[$($need),*], $f)
        };
    }
    let trials = vec![
        t!(the_default_suite_passes_and_writes_json_and_html),
        t!(the_judge_sees_broken_isolation_and_blind_probes),
        t!(crashing_and_hanging_probes_are_errors_and_leave_the_host_clean),
        t!(a_killed_runner_leaves_no_sandbox_behind),
        t!(an_unprivileged_runner_gets_typed_skips_for_rootful_cases_and_runs_rootless_ones),
        t!(a_rootfs_tree_runs_the_suite_and_is_left_untouched),
        t!(
            subordinate_ranges_map_through_newuidmap,
            Tool::IdmapTools,
            UNSHARE,
            MOUNT,
            SH
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}

/// Everything isocheck could leak, as seen from the host.
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    mounts: BTreeSet<String>,
    hostname: String,
    cgroups: BTreeSet<String>,
    processes: BTreeSet<String>,
    temp_dirs: BTreeSet<String>,
    /// The host's interfaces, their IPv4 addresses and its routes.
    net: BTreeSet<String>,
}

fn host_state() -> HostState {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        // mount id, parent, major:minor, root, mount point, options
        .map(|l| {
            l.split_whitespace()
                .skip(3)
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut cgroups = BTreeSet::new();
    for top in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for entry in [top.path(), top.path().join("isocheck")] {
            if entry.file_name().is_some_and(|n| n == "isocheck") && entry.exists() {
                cgroups.insert(entry.display().to_string());
            }
        }
    }
    let processes = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmd = std::fs::read_to_string(e.path().join("cmdline")).ok()?;
            cmd.contains("__sandbox")
                .then(|| format!("{pid} {}", cmd.replace('\0', " ")))
        })
        .collect();
    let temp_dirs = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("isocheck-"))
        .collect();
    let mut net: BTreeSet<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| format!("if {}", e.file_name().to_string_lossy()))
        .collect();
    for a in nix::ifaddrs::getifaddrs().unwrap() {
        if let Some(v4) = a.address.as_ref().and_then(|x| x.as_sockaddr_in()) {
            net.insert(format!("addr {} {}", a.interface_name, v4.ip()));
        }
    }
    // Routes without their use counters (which move on their own): IPv4
    // RefCnt and Use, IPv6 refcnt and use.
    for (f, counters) in [
        ("/proc/net/route", [4, 5]),
        ("/proc/net/ipv6_route", [6, 7]),
    ] {
        for l in std::fs::read_to_string(f).unwrap_or_default().lines() {
            let cols: Vec<&str> = l
                .split_whitespace()
                .enumerate()
                .filter(|(i, _)| !counters.contains(i))
                .map(|(_, c)| c)
                .collect();
            net.insert(format!("route {}", cols.join(" ")));
        }
    }
    HostState {
        mounts,
        hostname: nix::unistd::gethostname()
            .unwrap()
            .to_string_lossy()
            .into_owned(),
        cgroups,
        processes,
        temp_dirs,
        net,
    }
}

/// How many cases `isocheck list` plans, in `mode` or in all modes.
fn listed(mode: Option<&str>) -> usize {
    let o = isocheck(&["list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .filter(|r| mode.is_none_or(|m| r["mode"] == m))
        .count()
}

fn listed_cases() -> usize {
    listed(None)
}

fn cases(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
                c["reason"]["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn run_to(dir: &std::path::Path, extra: &[&str]) -> (std::process::Output, serde_json::Value) {
    let mut args = vec!["run", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = isocheck(&args);
    let leg = std::fs::read_dir(dir)
        .unwrap()
        .next()
        .expect("a report directory")
        .unwrap()
        .path();
    (o, read_json(&leg.join("report.json")))
}

fn the_default_suite_passes_and_writes_json_and_html() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let before = host_state();
    let out = tempfile::tempdir().unwrap();
    let junit = tempfile::tempdir().unwrap();
    let (o, report) = run_to(
        out.path(),
        &["--junit", junit.path().join("junit.xml").to_str().unwrap()],
    );
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let release = nix::sys::utsname::uname()
        .unwrap()
        .release()
        .to_string_lossy()
        .into_owned();
    let dir = out.path().join(&release);
    assert!(dir.join("report.html").exists() && junit.path().join("junit.xml").exists());
    assert!(
        stdout.contains(&format!("{}/report.json", dir.display())),
        "the run says where the reports are"
    );
    assert_eq!(
        (
            report["summary"]["fail"].as_u64(),
            report["summary"]["error"].as_u64()
        ),
        (Some(0), Some(0)),
        "{stdout}"
    );
    // As root, a case skips only for what this host lacks, said by a typed
    // reason (subordinate ids for the rootless user, say), never for root.
    for c in report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "skip")
    {
        let kind = c["reason"]["kind"].as_str().unwrap_or("");
        assert!(!kind.is_empty() && kind != "needs-root", "{c}");
    }
    assert!(
        report["summary"]["pass"].as_u64().unwrap() >= 80,
        "{stdout}"
    );
    assert_eq!(
        report["summary"]["total"].as_u64(),
        Some(listed_cases() as u64),
        "every listed case ran"
    );
    assert_eq!(report["host"]["kernel"]["release"], release.as_str());
    for line in stdout
        .lines()
        .filter(|l| matches!(l.split_whitespace().nth(1), Some("rootful" | "rootless")))
    {
        assert!(
            (line.contains("PASS") || line.contains("SKIP")) && line.contains(" ms"),
            "{line}"
        );
    }
    assert_eq!(host_state(), before, "a clean run changed the host");
}

fn the_judge_sees_broken_isolation_and_blind_probes() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let out = tempfile::tempdir().unwrap();
    let (o, report) = run_to(
        out.path(),
        &["--suite", fixture("suites/broken.toml").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "a broken promise exits 1");
    let got = cases(&report);
    let want = [
        ("custom.blind/rootful/test", "error", "blind-probe"),
        ("custom.blind/rootful/control", "error", "blind-probe"),
        ("custom.pid_leak/rootful/test", "fail", "promise-broken"),
        ("custom.pid_leak/rootful/control", "pass", ""),
    ];
    assert_eq!(got, want.map(|(a, b, c)| (a.into(), b.into(), c.into())));
}

fn crashing_and_hanging_probes_are_errors_and_leave_the_host_clean() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let before = host_state();
    let out = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let (o, report) = run_to(
        out.path(),
        &["--suite", fixture("suites/selftest.toml").to_str().unwrap()],
    );
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "the hang was cut at its timeout"
    );
    assert_eq!(
        o.status.code(),
        Some(3),
        "harness errors exit 3: {}",
        text(&o).0
    );
    let got = cases(&report);
    for (id, outcome, kind) in &got {
        assert_eq!(outcome, "error", "{id}");
        let want = if id.starts_with("custom.crash") {
            "probe-crashed"
        } else {
            "timeout"
        };
        assert_eq!(kind, want, "{id}");
    }
    assert_eq!(got.len(), 4);
    assert_eq!(
        host_state(),
        before,
        "a crash or a hang leaked into the host"
    );
}

fn a_killed_runner_leaves_no_sandbox_behind() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let before = host_state();
    let mut child = Command::new(bin())
        .args([
            "run",
            "--no-write",
            "--suite",
            fixture("suites/selftest.toml").to_str().unwrap(),
            "--filter",
            "custom.hang",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // The runner dies without a chance to clean up; its helpers and their
    // sandboxes must die with it (parent-death signals), and only its
    // temp directory and cgroup remain for the next run to reap.
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let after = host_state();
    assert_eq!(
        after.processes, before.processes,
        "sandbox processes outlived their runner"
    );
    assert_eq!(after.mounts, before.mounts);
    assert_eq!(after.hostname, before.hostname);
    // What only the runner could remove (its work directory, its empty
    // cgroup) is reaped by the next run.
    let o = isocheck(&["run", "--no-write", "--filter", "pid.pid1"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        host_state(),
        before,
        "the next run did not reap what the killed one left"
    );
}

fn an_unprivileged_runner_gets_typed_skips_for_rootful_cases_and_runs_rootless_ones() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let o = Command::new(bin())
        .args(["run", "--no-write"])
        .current_dir("/")
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "skips are not failures: {stdout}\n{stderr}"
    );
    let rootful: Vec<&str> = stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("rootful"))
        .collect();
    assert_eq!(rootful.len(), listed(Some("rootful")), "{stdout}");
    for r in rootful {
        assert!(r.contains("SKIP") && r.contains("needs-root"), "{r}");
    }
    // Rootless cases run for real, or skip for a typed reason of their own.
    let rootless: Vec<&str> = stdout
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("rootless"))
        .collect();
    assert_eq!(rootless.len(), listed(Some("rootless")), "{stdout}");
    for r in &rootless {
        assert!(
            r.contains("PASS") || (r.contains("SKIP") && !r.contains("rootful cases need uid 0")),
            "{r}"
        );
    }
    assert!(
        rootless
            .iter()
            .any(|r| r.contains("pid.pid1") && r.contains("PASS")),
        "{stdout}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn a_rootfs_tree_runs_the_suite_and_is_left_untouched() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let tree = tempfile::tempdir().unwrap();
    std::fs::create_dir(tree.path().join("usr")).unwrap();
    let o = isocheck(&[
        "run",
        "--no-write",
        "--rootfs",
        tree.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).0);
    let left: Vec<_> = std::fs::read_dir(tree.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("usr")],
        "the sandbox wrote into the user's tree"
    );
}

fn subordinate_ranges_map_through_newuidmap() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    // The host's /etc/passwd, /etc/subuid and /etc/subgid stay as they are:
    // copies with an entry for the rootless uid are bound over them in a
    // private mount namespace that only this run sees.
    let t = tempfile::tempdir().unwrap();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap()
        + "isocheck-rootless:x:100000:100000::/nonexistent:/usr/sbin/nologin\n";
    std::fs::write(t.path().join("passwd"), passwd).unwrap();
    std::fs::write(t.path().join("subid"), "isocheck-rootless:200000:65536\n").unwrap();
    let script = format!(
        "mount --make-rprivate / && mount --bind {d}/passwd /etc/passwd && mount --bind {d}/subid /etc/subuid && mount --bind {d}/subid /etc/subgid && exec {bin} run --no-write --filter userns.subid_range",
        d = t.path().display(),
        bin = bin().display()
    );
    let o = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("userns.subid_range"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    assert!(rows.iter().all(|r| r.contains("PASS")), "{stdout}");
}
