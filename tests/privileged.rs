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
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
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
const CHROMIUM: Tool = Tool::Path {
    name: "chromium",
    package: "chromium",
};
const SETPRIV: Tool = Tool::Path {
    name: "setpriv",
    package: "util-linux",
};
const SH: Tool = Tool::Path {
    name: "sh",
    package: "dash",
};

/// Set in a copy of this test binary that only asks the kernel for each
/// namespace the runner tries without a helper, and prints the answers.
const TRY_NAMESPACES: &str = "ISOCHECK_TEST_TRY_NAMESPACES";

/// The namespaces `isocheck::sys::try_namespaces` is asked for.
const BARE_NAMESPACES: [isocheck::model::namespace::Namespace; 6] = {
    use isocheck::model::namespace::Namespace as N;
    [N::Pid, N::Mount, N::Uts, N::Ipc, N::Net, N::Cgroup]
};

fn main() {
    if std::env::var_os(TRY_NAMESPACES).is_some() {
        for ns in BARE_NAMESPACES {
            match isocheck::sys::try_namespaces(ns.clone_flag()) {
                Ok(()) => println!("{} ok", ns.proc_name()),
                Err(e) => println!("{} {e:?}", ns.proc_name()),
            }
        }
        return;
    }
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
        t!(a_killed_runner_leaves_no_sandbox_and_no_privileged_copy_behind),
        t!(sigterm_stops_the_run_and_writes_a_partial_report),
        t!(a_list_stopped_while_it_decides_leaves_nothing_behind),
        t!(a_stopped_bench_writes_nothing_and_leaves_nothing),
        t!(sigterm_ends_a_run_whose_helpers_were_stopped_by_sigstop),
        t!(sigterm_is_prompt_when_a_rootless_worker_is_stopped),
        t!(a_stopped_zygote_costs_its_case_a_second),
        t!(an_interrupt_ends_what_left_the_sandboxs_session),
        t!(no_helper_or_sandbox_keeps_a_descriptor_the_caller_left_open),
        t!(
            a_callers_umask_ignored_sigchld_and_variables_change_no_verdict,
            SETPRIV
        ),
        t!(a_closed_stdout_ends_the_console_output_only),
        t!(
            concurrent_runs_in_other_namespaces_get_a_lone_runs_outcomes,
            UNSHARE
        ),
        t!(an_unprivileged_runner_gets_typed_skips_for_rootful_cases_and_runs_rootless_ones),
        t!(
            root_of_a_user_namespace_gets_typed_skips_never_a_verdict,
            UNSHARE
        ),
        t!(
            root_lacking_a_capability_gets_typed_skips_and_changes_nothing,
            SETPRIV
        ),
        t!(
            a_runner_with_no_new_privs_skips_what_needs_a_privileged_exec,
            SETPRIV
        ),
        t!(a_start_with_mixed_ids_is_refused_and_says_why, SETPRIV),
        t!(
            a_hard_descriptor_limit_too_low_is_said_once_before_anything_runs,
            SH
        ),
        t!(a_hard_stack_limit_too_low_is_said_not_an_abort, SH),
        t!(a_rootfs_tree_runs_the_suite_and_is_left_untouched),
        t!(
            a_proc_of_another_pid_namespace_is_refused_before_anything_runs,
            UNSHARE
        ),
        t!(the_report_and_matrix_pages_render_in_chromium, CHROMIUM),
        t!(the_bench_measures_each_variant_and_writes_a_valid_document),
        t!(the_bare_namespace_probe_gets_the_kernels_answer, SETPRIV),
        t!(a_namespace_refused_alone_leaves_the_others_met, UNSHARE, SH),
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

/// One isocheck run as these tests start it: a run id of its own (which
/// prefixes its tag, so its cgroups and work directory are named for it)
/// and a work directory of its own. The host-state checks look only at
/// what this run made, so another isocheck on the machine cannot fail them.
struct Scope {
    id: String,
    work: std::sync::Arc<tempfile::TempDir>,
}

impl Scope {
    fn new() -> Scope {
        Scope::sharing(std::sync::Arc::new(tempfile::tempdir().unwrap()))
    }

    /// A run of its own whose work directory goes below `work`, which
    /// other runs may share.
    fn sharing(work: std::sync::Arc<tempfile::TempDir>) -> Scope {
        static N: AtomicUsize = AtomicUsize::new(0);
        Scope {
            id: format!(
                "t{}n{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
            work,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .current_dir(std::env::temp_dir())
            .env("ISOCHECK_RUN_ID", &self.id)
            .env("ISOCHECK_WORK_DIR", self.work.path());
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().expect("isocheck runs")
    }

    /// [`Scope::command`] started through `wrapper` (a program and its
    /// arguments, which then execs isocheck with `args`): `setpriv ... --`,
    /// or `sh -c '...; exec "$0" "$@"'`.
    fn wrapped(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut c = Command::new(wrapper[0]);
        c.args(&wrapper[1..])
            .arg(bin())
            .args(args)
            .current_dir(std::env::temp_dir())
            .env("ISOCHECK_RUN_ID", &self.id)
            .env("ISOCHECK_WORK_DIR", self.work.path());
        c
    }

    /// Runs `isocheck run --out DIR extra...`; the output and report.json.
    fn run_to(
        &self,
        dir: &std::path::Path,
        extra: &[&str],
    ) -> (std::process::Output, serde_json::Value) {
        let mut args = vec!["run", "--out", dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = self.run(&args);
        let leg = std::fs::read_dir(dir)
            .unwrap()
            .next()
            .expect("a report directory")
            .unwrap()
            .path();
        (o, read_json(&leg.join("report.json")))
    }

    /// Everything this run could leak, and what nobody may change.
    fn state(&self) -> HostState {
        host_state(self)
    }
}

/// The runner decides `namespace` requirements by a bare clone of its own
/// (`isocheck::sys::try_namespaces`) when it is root. As root, every one is
/// made; in a copy of this binary whose bounding set lacks CAP_SYS_ADMIN
/// (the control), the kernel refuses every one with EPERM, and the probe
/// says so instead of reporting a namespace it did not get.
fn the_bare_namespace_probe_gets_the_kernels_answer() {
    let answers = |drop_admin: bool| -> Vec<String> {
        let me = std::env::current_exe().unwrap();
        let mut c = if drop_admin {
            let mut c = Command::new("setpriv");
            c.args(["--bounding-set", "-sys_admin"]).arg(&me);
            c
        } else {
            Command::new(&me)
        };
        c.env(TRY_NAMESPACES, "1");
        let o = c.output().unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    };
    let names = BARE_NAMESPACES.map(|n| n.proc_name());
    assert_eq!(answers(false), names.map(|n| format!("{n} ok")));
    assert_eq!(answers(true), names.map(|n| format!("{n} EPERM")));
}

/// A root runner decides the namespaces a bare clone can make by trying
/// them all in one clone first: here that clone makes them all, and each
/// decision says so. With one of them refused (no net namespace left to
/// make: `user.max_net_namespaces=0` of a user namespace of the test's
/// own, which leaves the host's limit alone), the one clone fails, and
/// each namespace is tried alone: the net namespace is the only one unmet,
/// by the sysctl's answer, and every other is met by its own clone, never
/// refused for the net namespace's sake. A limit above 0 that is reached
/// is no kernel's answer either way: undecided.
fn a_namespace_refused_alone_leaves_the_others_met() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let bare = ["pid", "mount", "uts", "ipc", "cgroup"];
    let decisions = |o: std::process::Output| -> BTreeMap<String, serde_json::Value> {
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{stderr}");
        let listed: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
        listed["cases"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["requirements"].as_array().unwrap())
            .filter_map(|r| {
                let req = r["requirement"].as_str()?.strip_prefix("namespace ")?;
                Some((req.to_string(), r.clone()))
            })
            .collect()
    };
    let all = decisions(isocheck(&["list", "--json"]));
    for ns in bare.iter().chain(&["net"]) {
        let d = &all[*ns];
        assert_eq!(d["met"], true, "{ns}: {d}");
        assert_eq!(
            d["observed"],
            format!("created a {ns} namespace (with the others, in one clone)"),
            "{ns}"
        );
    }
    let limited = |knob: &str, n: u32| {
        Command::new("unshare")
            .args(["--user", "--map-root-user", "--", "sh", "-c"])
            .arg(format!(
                r#"echo {n} > /proc/sys/user/{knob} && exec "$0" list --json"#
            ))
            .arg(bin())
            .current_dir("/")
            .output()
            .unwrap()
    };
    let refused = decisions(limited("max_net_namespaces", 0));
    for ns in bare {
        let d = &refused[ns];
        assert_eq!(d["met"], true, "{ns}: {d}");
        assert_eq!(d["observed"], format!("created a {ns} namespace"), "{ns}");
    }
    let net = &refused["net"];
    assert_eq!(net["met"], false, "{net}");
    assert_eq!(net["observed"], "clone: ENOSPC", "{net}");
    assert_eq!(net["reason"]["kind"], "sysctl-policy", "{net}");
    // A limit of one mount namespace, taken by the run's own work
    // namespace: the mount namespace's ENOSPC is a limit reached, which
    // decides nothing (it was a kernel-lacks-feature skip, blaming a
    // kernel that has mount namespaces).
    let reached = decisions(limited("max_mnt_namespaces", 1));
    let mount = &reached["mount"];
    assert_eq!(mount["met"], false, "{mount}");
    assert_eq!(mount["reason"]["kind"], "harness-failed", "{mount}");
    assert!(
        mount["observed"]
            .as_str()
            .unwrap()
            .contains("ENOSPC: a limit reached"),
        "{mount}"
    );
    assert_eq!(reached["pid"]["met"], true, "{reached:?}");
}

/// `isocheck bench`, two rounds and one suite run: every isocheck variant
/// and floor is measured (each peer measured or absent, never failed),
/// the document fits its schema, the runner's peak RSS is its own, and the
/// bench leaves neither its work directory nor the peers' cgroups.
fn the_bench_measures_each_variant_and_writes_a_valid_document() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bench/host.json");
    let o = isocheck(&[
        "bench",
        "--rounds",
        "2",
        "--suite-runs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("targets:"), "{stdout}");
    let doc = read_json(&out);
    let schema = read_json(&root().join("schemas/bench.schema.json"));
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    assert!(validator.is_valid(&doc), "{doc:#}");
    let variants = doc["variants"].as_array().unwrap();
    let status = |id: &str| {
        variants
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("no variant {id}"))
    };
    for id in [
        "case",
        "case-cgroup",
        "floor-setup",
        "floor-clone",
        "floor-build",
        "helper-clone",
        "one-case-run",
        "startup",
    ] {
        let v = status(id);
        assert_eq!(v["status"], "measured", "{id}: {v}");
        assert_eq!(v["stats"]["samples"], 2, "{id}");
        assert!(v["stats"]["min_ms"].as_f64().unwrap() > 0.0, "{id}");
    }
    for id in ["unshare-chroot", "crun", "runc"] {
        let v = status(id);
        assert!(
            v["status"] == "measured" || v["status"] == "absent",
            "{id}: {v}"
        );
    }
    assert_eq!(status("floor-setup")["ratio"], 1.0);
    let run = &doc["suite"]["runs"][0];
    assert!(run["summary"]["total"].as_u64().unwrap() > 100, "{run}");
    assert_eq!(run["summary"]["fail"], 0, "{run}");
    // The runner's own, not a 64 MiB hog's.
    let rss = run["peak_rss_kib"].as_u64().unwrap();
    assert!((1024..64 * 1024).contains(&rss), "{rss} KiB");
    assert!(run["user_ms"].as_f64().unwrap() + run["sys_ms"].as_f64().unwrap() > 0.0);
    let left = bench_leftovers();
    assert!(left.is_empty(), "{left:?}");
}

/// What a bench leaves if it does not clean up: the peers' cgroup parent
/// in any hierarchy, its work directory.
fn bench_leftovers() -> Vec<std::path::PathBuf> {
    let cgroups = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|d| d.path().join("isocheck-bench"))
        .filter(|p| p.exists());
    let dirs = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|d| {
            d.file_name()
                .to_string_lossy()
                .starts_with("isocheck-bench-")
        })
        .map(|d| d.path());
    cgroups.chain(dirs).collect()
}

/// `bench` stopped by SIGTERM, SIGINT or SIGHUP while it measures ends
/// between two samples with the signal's status, says so, writes no
/// figures and leaves nothing behind: not its work directory, not the
/// peers' cgroups, not the runtime's work directory, cgroups or processes.
/// (With the default dispositions it died at once and left its work
/// directory.)
fn a_stopped_bench_writes_nothing_and_leaves_nothing() {
    use nix::sys::signal::Signal;
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bench.json");
    for (signal, status) in [
        (Signal::SIGTERM, 143),
        (Signal::SIGINT, 130),
        (Signal::SIGHUP, 129),
    ] {
        let child = scope
            .command(&[
                "bench",
                "--rounds",
                "100000",
                "--suite-runs",
                "0",
                "--out",
                out.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Measuring: its work directory's holder is forked (a signal from
        // then on is held until it is caught), and rounds have begun.
        let t = std::time::Instant::now();
        while std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .is_ok_and(|c| c.trim().is_empty())
            && t.elapsed() < std::time::Duration::from_secs(10)
        {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
        let o = child.wait_with_output().unwrap();
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(status), "{signal}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "stopped by {}; nothing is written",
                signal.as_str()
            )),
            "{stderr}"
        );
        assert!(!out.exists(), "{signal}: figures written");
        let left = bench_leftovers();
        assert!(left.is_empty(), "{signal}: {left:?}");
        assert_eq!(scope.state(), before, "{signal}: the bench left something");
    }
}

/// Everything isocheck could leak, as seen from the host.
#[derive(Debug, PartialEq, Eq)]
struct HostState {
    mounts: BTreeSet<String>,
    hostname: String,
    /// The run's own cgroups (named for its run id), in every hierarchy.
    cgroups: BTreeSet<String>,
    /// The run's own processes (their environment names its run id).
    processes: BTreeSet<String>,
    /// The run's work directories.
    temp_dirs: BTreeSet<String>,
    /// Setuid or file-capability files in the run's work directory.
    privileged_copies: BTreeSet<String>,
    /// The host's interfaces, their IPv4 addresses and its routes.
    net: BTreeSet<String>,
}

fn host_state(scope: &Scope) -> HostState {
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
    let ours = format!("{}_", scope.id);
    let mut cgroups = BTreeSet::new();
    for top in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for c in std::fs::read_dir(top.path().join("isocheck"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if c.file_name().to_string_lossy().starts_with(&ours) {
                cgroups.insert(c.path().display().to_string());
            }
        }
    }
    let marker = format!("ISOCHECK_RUN_ID={}\0", scope.id);
    let processes = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let env = std::fs::read(e.path().join("environ")).ok()?;
            let env = String::from_utf8_lossy(&env);
            let cmd = std::fs::read_to_string(e.path().join("cmdline")).ok()?;
            (env.starts_with(&marker) || env.contains(&format!("\0{marker}")))
                .then(|| format!("{pid} {}", cmd.replace('\0', " ")))
        })
        .collect();
    let mut temp_dirs = BTreeSet::new();
    for dir in [scope.work.path(), &std::env::temp_dir()] {
        temp_dirs.extend(
            std::fs::read_dir(dir)
                .unwrap()
                .flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with(&format!("isocheck-{ours}"))
                })
                .map(|e| e.path().display().to_string()),
        );
    }
    let privileged_copies = privileged_files(scope.work.path());
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
        privileged_copies,
        net,
    }
}

/// Files below `dir` (on its file system) that are setuid or carry file
/// capabilities, as `find -perm -4000` and `getcap -r` would list them.
fn privileged_files(dir: &std::path::Path) -> BTreeSet<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = BTreeSet::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(m) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if m.is_dir() {
                todo.push(e.path());
            } else if m.is_file() {
                let caps = xattr_len(&e.path(), "security.capability");
                if m.permissions().mode() & 0o6000 != 0 || caps > 0 {
                    found.insert(e.path().display().to_string());
                }
            }
        }
    }
    found
}

/// The size of an extended attribute (0 when absent).
fn xattr_len(path: &std::path::Path, name: &str) -> usize {
    isocheck::sys::xattr::getxattr(path, name)
        .ok()
        .flatten()
        .map_or(0, |v| v.len())
}

/// How many cases `isocheck list` plans, in `mode` or in all modes.
fn listed(mode: Option<&str>) -> usize {
    let o = isocheck(&["list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    list["cases"]
        .as_array()
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

fn the_default_suite_passes_and_writes_json_and_html() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let out = tempfile::tempdir().unwrap();
    let junit = tempfile::tempdir().unwrap();
    let (o, report) = scope.run_to(
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
    assert_eq!(scope.state(), before, "a clean run changed the host");
}

fn the_judge_sees_broken_isolation_and_blind_probes() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let out = tempfile::tempdir().unwrap();
    let (o, report) = Scope::new().run_to(
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

/// Loads `page` in headless Chromium (a profile of its own in `tmp`,
/// nothing loaded from elsewhere) and writes a screenshot `png`; returns
/// the DOM Chromium built. Fails on a console message or a failed load.
fn chromium(page: &std::path::Path, png: &std::path::Path, tmp: &std::path::Path) -> String {
    let base = |c: &mut Command| {
        c.arg("--headless")
            .arg("--no-sandbox")
            .arg("--disable-gpu")
            .arg("--hide-scrollbars")
            .arg("--enable-logging=stderr")
            .arg("--v=0")
            .arg(format!("--user-data-dir={}", tmp.display()))
            .arg("--window-size=1280,1000");
    };
    let mut shot = Command::new("chromium");
    base(&mut shot);
    shot.arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()));
    let o = shot.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "chromium: {err}");
    // Chromium logs what a page prints to its console, and a resource it
    // could not load, as CONSOLE lines.
    let console: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("net::ERR"))
        .collect();
    assert!(console.is_empty(), "{}: {console:#?}", page.display());
    let size = std::fs::metadata(png).unwrap().len();
    assert!(size > 20_000, "{}: a {size}-byte screenshot", png.display());
    let mut dom = Command::new("chromium");
    base(&mut dom);
    dom.arg("--dump-dom")
        .arg(format!("file://{}", page.display()));
    let o = dom.output().unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The report page of a run with a broken promise and a blind probe, and
/// the matrix page of the committed references, load in a real browser
/// with no console message; the screenshots go to target/screenshots/
/// (README.md shows them).
fn the_report_and_matrix_pages_render_in_chromium() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let (o, _) = Scope::new().run_to(
        &out,
        &["--suite", fixture("suites/broken.toml").to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o).1);
    let leg = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let shots = root().join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let dom = chromium(
        &leg.join("report.html"),
        &shots.join("report.png"),
        &tmp.path().join("profile"),
    );
    assert!(dom.contains("Failed and errored (3)"), "{dom}");
    assert!(dom.contains("the probe saw the leak"));
    assert!(dom.contains(r#"id="case-custom.pid_leak-rootful-test""#));

    let mut legs: Vec<String> = std::fs::read_dir(root().join("reports"))
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path().join("report.json");
            p.exists().then(|| p.to_string_lossy().into_owned())
        })
        .collect();
    legs.sort();
    assert!(legs.len() >= 2, "{legs:?}");
    let matrix = tmp.path().join("matrix");
    let mut args = vec!["matrix", "--out", matrix.to_str().unwrap()];
    args.extend(legs.iter().map(String::as_str));
    let o = isocheck(&args);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let dom = chromium(
        &matrix.join("matrix.html"),
        &shots.join("matrix.png"),
        &tmp.path().join("profile"),
    );
    assert!(dom.contains("Rows that differ between legs"), "{dom}");
}

fn crashing_and_hanging_probes_are_errors_and_leave_the_host_clean() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let out = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let (o, report) = scope.run_to(
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
        scope.state(),
        before,
        "a crash or a hang leaked into the host"
    );
}

fn a_killed_runner_leaves_no_sandbox_and_no_privileged_copy_behind() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    // The selftest's hang (in a cgroup, cut at 500 ms) and one in no
    // cgroup that would hang for a minute: nothing but the runner's death
    // may end it within the wait below.
    let suite = tempfile::tempdir().unwrap();
    let table = suite.path().join("hangs.toml");
    let selftest = std::fs::read_to_string(fixture("suites/selftest.toml")).unwrap();
    std::fs::write(
        &table,
        format!(
            "{selftest}\n{}",
            r#"
[[property]]
id = "custom.hang_long"
description = "the sandbox never returns, in no cgroup"
requires = ["root"]
probe = { kind = "hang" }
sandbox = { namespaces = ["pid", "mount"], timeout_ms = 60000 }
expect = [{ path = "exit.code", eq = 0 }]
control = { off = "namespace pid", expect = [{ path = "exit.code", ge = 0 }] }
"#
        ),
    )
    .unwrap();
    let mut child = scope
        .command(&[
            "run",
            "--no-write",
            "--suite",
            table.to_str().unwrap(),
            "--filter",
            "custom.hang",
            // Both properties' pairs at once.
            "--jobs",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    // The runner dies without a chance to clean up; its helpers and their
    // sandboxes must die with it (parent-death signals), and its work
    // directory's tmpfs with its private mount namespace.
    child.kill().unwrap();
    child.wait().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let after = scope.state();
    assert_eq!(
        after.processes, before.processes,
        "sandbox processes outlived their runner"
    );
    assert_eq!(after.mounts, before.mounts);
    assert_eq!(after.hostname, before.hostname);
    assert_eq!(
        after.privileged_copies,
        BTreeSet::new(),
        "a setuid or file-capability copy outlived the runner"
    );
    // What only the runner could remove (its empty mount point, its lock
    // cgroup) is reaped by the next run, which knows it by its free lock.
    let o = scope.run(&["run", "--no-write", "--filter", "pid.pid1"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        scope.state(),
        before,
        "the next run did not reap what the killed one left"
    );
}

fn sigterm_stops_the_run_and_writes_a_partial_report() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    // SIGHUP (its terminal closed) as SIGTERM: it used to end the process
    // at once, with an empty report directory left behind.
    for (signal, status) in [
        (nix::sys::signal::Signal::SIGTERM, 143),
        (nix::sys::signal::Signal::SIGHUP, 129),
    ] {
        let out = tempfile::tempdir().unwrap();
        let child = scope
            .command(&[
                "run",
                "--out",
                out.path().to_str().unwrap(),
                "--suite",
                fixture("suites/selftest.toml").to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The hanging cases run for seconds; stop the run in the middle.
        std::thread::sleep(std::time::Duration::from_millis(700));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let t = std::time::Instant::now();
        let o = child.wait_with_output().unwrap();
        assert!(
            t.elapsed() < std::time::Duration::from_secs(1),
            "{signal}: stopping took {:?}",
            t.elapsed()
        );
        assert_eq!(o.status.code(), Some(status), "{signal}: {}", text(&o).1);
        let leg = std::fs::read_dir(out.path())
            .unwrap()
            .next()
            .expect("a report directory")
            .unwrap()
            .path();
        let report = read_json(&leg.join("report.json"));
        assert_eq!(report["interrupted"], signal.as_str());
        let got = cases(&report);
        assert_eq!(got.len(), 4, "every selected case is listed");
        assert!(
            got.iter()
                .any(|(_, outcome, kind)| outcome == "error" && kind == "interrupted"),
            "{got:?}"
        );
        assert!(
            got.iter().all(|(_, outcome, _)| outcome != "pass"),
            "{got:?}"
        );
        assert_eq!(
            scope.state(),
            before,
            "{signal}: the stopped run left something behind"
        );
    }
}

/// `list` decides requirements by trying sandboxes in a work directory of
/// its own. Stopped by SIGTERM, SIGINT or SIGHUP while it decides, it ends
/// them and its work directory as a run does, lists nothing and exits 143,
/// 130 or 129,
/// leaving nothing for a next run to reap.
fn a_list_stopped_while_it_decides_leaves_nothing_behind() {
    use std::os::unix::fs::MetadataExt;
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let mut stopped = 0;
    // Rounds 20 to 29 send the signal as soon as the work directory's
    // holder is forked, before the signals are caught: held back until
    // they are, it is an interrupt all the same, never the list's death
    // with its work directory half made.
    for round in 0..30 {
        let early = round >= 20;
        let signal = match round % 3 {
            0 => nix::sys::signal::Signal::SIGTERM,
            1 => nix::sys::signal::Signal::SIGINT,
            // The terminal closed.
            _ => nix::sys::signal::Signal::SIGHUP,
        };
        let child = scope
            .command(&["list"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // The work directory's holder is its child once the runner is made;
        // a thread beside the main one after that is the signal watcher or
        // a decision's: the signals are caught by then.
        let deciding = || {
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"));
            let tasks = std::fs::metadata(format!("/proc/{pid}/task"));
            children.is_ok_and(|c| !c.trim().is_empty())
                && (early || tasks.is_ok_and(|t| t.nlink() >= 4))
        };
        let t = std::time::Instant::now();
        while !deciding() && t.elapsed() < std::time::Duration::from_secs(10) {
            std::hint::spin_loop();
        }
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
        let o = child.wait_with_output().unwrap();
        let (stdout, stderr) = text(&o);
        match o.status.code() {
            // It had decided everything before the signal came.
            Some(0) => {}
            Some(code) => {
                assert_eq!(code, 128 + signal as i32, "{stderr}");
                assert!(
                    stderr.contains(&format!(
                        "stopped by {}; nothing is listed",
                        signal.as_str()
                    )),
                    "{stderr}"
                );
                assert!(stdout.is_empty(), "{stdout}");
                stopped += 1;
            }
            None => panic!("round {round}: list died of {signal}: {stderr}"),
        }
        assert_eq!(
            scope.state(),
            before,
            "round {round}: the stopped list left something behind"
        );
    }
    assert!(
        stopped >= 15,
        "only {stopped} of 30 lists were stopped while they decided"
    );
}

/// A zygote or work-namespace holder stopped by SIGSTOP (a debugger, a
/// job-control mistake) answers nothing; SIGTERM still ends the run within
/// the time a zygote has to stop its sandbox (2 s), not at the sandbox's
/// deadline or never, and leaves nothing behind.
fn sigterm_ends_a_run_whose_helpers_were_stopped_by_sigstop() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    // A hang served by a helper the zygote forks (an outer namespace), as
    // the selftest's is served by the zygote itself.
    let suite = tempfile::tempdir().unwrap();
    let forked = suite.path().join("forked.toml");
    std::fs::write(
        &forked,
        r#"
[[property]]
id = "custom.forked_hang"
description = "a forked helper's sandbox hangs for a minute"
requires = ["root"]
probe = { kind = "hang" }
sandbox = { namespaces = ["mount"], rootfs = { kind = "host" }, timeout_ms = 60000, outer = ["uts"] }
expect = [{ path = "exit.code", eq = 0 }]
control = { off = "namespace mount", expect = [{ path = "exit.code", ge = 0 }] }
"#,
    )
    .unwrap();
    let selftest = fixture("suites/selftest.toml");
    // The default suite, its zygotes stopped as soon as the signals are
    // caught: while they decide requirements or start the first pairs, a
    // wait for a zygote's answer is what the interrupt must cut short.
    let default = std::path::PathBuf::from("the default suite");
    for (table, stopped) in [
        (&selftest, "isocheck-workns"),
        (&selftest, "isocheck-zygote"),
        (&forked, "isocheck-zygote"),
        (&default, "isocheck-zygote"),
    ] {
        let mut args = vec!["run", "--no-write", "--jobs", "2"];
        if table != &default {
            args.extend(["--suite", table.to_str().unwrap()]);
        }
        let child = scope
            .command(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        if table == &default {
            // Children (the runner is made), and a thread beside the main
            // one after that: the signals are caught.
            use std::os::unix::fs::MetadataExt;
            let deciding = || {
                let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"));
                let tasks = std::fs::metadata(format!("/proc/{pid}/task"));
                children.is_ok_and(|c| !c.trim().is_empty()) && tasks.is_ok_and(|t| t.nlink() >= 4)
            };
            let t = std::time::Instant::now();
            while !deciding() && t.elapsed() < std::time::Duration::from_secs(10) {
                std::hint::spin_loop();
            }
        } else {
            // The hanging case runs for seconds.
            std::thread::sleep(std::time::Duration::from_millis(700));
        }
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
        let mut n = 0;
        for c in children.split_whitespace() {
            if std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|n| n.trim() == stopped)
            {
                let c = nix::unistd::Pid::from_raw(c.parse().unwrap());
                nix::sys::signal::kill(c, nix::sys::signal::Signal::SIGSTOP).unwrap();
                n += 1;
            }
        }
        assert!(
            n > 0,
            "no {stopped} among the runner's children {children:?}"
        );
        if table == &default {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        let t = std::time::Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        // Whatever happens, nothing stays stopped once this is decided.
        let o = child.wait_with_output().unwrap();
        let took = t.elapsed();
        assert_eq!(o.status.code(), Some(143), "{}", text(&o).1);
        assert!(
            took < std::time::Duration::from_secs(4),
            "{}: with {stopped} stopped, SIGTERM took {took:?}",
            table.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert_eq!(
            scope.state(),
            before,
            "{}: with {stopped} stopped, the run left something behind",
            table.display()
        );
    }
}

/// A zygote stopped by SIGSTOP while it serves a hanging sandbox in place
/// can neither end it at the sandbox's own timeout (500 ms) nor report it.
/// The runner sees it stopped, and after 1 s kills the sandbox and the
/// zygote: the case is an error saying so, the control runs on another
/// zygote, the run ends within seconds, and nothing is left behind.
/// Before, the case waited for the runner's deadline (the timeout and
/// 5 s) and 2 s more, and the message named only the deadline; a zygote
/// stopped before it answered a request cost 30 s.
fn a_stopped_zygote_costs_its_case_a_second() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let out = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    let child = scope
        .command(&[
            "run",
            "--out",
            out.path().to_str().unwrap(),
            "--filter",
            "custom.hang",
            "--suite",
            fixture("suites/selftest.toml").to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // The zygote serving the hang: the one with a child (its sandbox).
    let mut stopped = None;
    while stopped.is_none() && t.elapsed() < std::time::Duration::from_secs(3) {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        for c in children.split_whitespace() {
            let serving = std::fs::read_to_string(format!("/proc/{c}/comm"))
                .is_ok_and(|n| n.trim() == "isocheck-zygote")
                && std::fs::read_to_string(format!("/proc/{c}/task/{c}/children"))
                    .is_ok_and(|k| !k.trim().is_empty());
            if serving {
                let c = nix::unistd::Pid::from_raw(c.parse().unwrap());
                nix::sys::signal::kill(c, nix::sys::signal::Signal::SIGSTOP).unwrap();
                stopped = Some(c);
                break;
            }
        }
    }
    assert!(stopped.is_some(), "no zygote served the hang");
    let o = child.wait_with_output().unwrap();
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o).1);
    // 1 s stopped, the control's 0.5 s.
    assert!(
        took < std::time::Duration::from_secs(5),
        "a stopped zygote kept the run {took:?}"
    );
    let leg = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report = read_json(&leg.join("report.json"));
    // The case the stopped zygote served (the control runs first) is the
    // one ended for it.
    let details: Vec<String> = report["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["reason"]["detail"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        details
            .iter()
            .filter(|d| d
                .contains("stopped (SIGSTOP) for 1 s while it served the sandbox in place")
                && d.contains("the sandbox was killed after 1."))
            .count(),
        1,
        "{details:#?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        scope.state(),
        before,
        "the stopped zygote's run left something behind"
    );
}

/// A rootless sandbox served in place by its zygote: the zygote waits on
/// the rootless worker it forked. With that worker stopped by SIGSTOP,
/// SIGTERM still ends the run at once (the zygote watches the runner while
/// it waits and kills the worker), not after the 2 s a zygote that does
/// not answer is given, and leaves nothing behind.
fn sigterm_is_prompt_when_a_rootless_worker_is_stopped() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let suite = tempfile::tempdir().unwrap();
    let table = suite.path().join("rootless.toml");
    std::fs::write(
        &table,
        r#"
[[property]]
id = "custom.rootless_hang"
description = "a rootless sandbox hangs for a minute"
modes = ["rootless"]
requires = ["root"]
probe = { kind = "hang" }
sandbox = { namespaces = ["pid", "mount"], timeout_ms = 60000 }
expect = [{ path = "exit.code", eq = 0 }]
control = { off = "namespace pid", expect = [{ path = "exit.code", ge = 0 }] }
"#,
    )
    .unwrap();
    let child = scope
        .command(&[
            "run",
            "--no-write",
            "--jobs",
            "1",
            "--suite",
            table.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let children = |p: &str| {
        std::fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default()
    };
    let uid = |p: &str| {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
    };
    // The worker: a zygote's child running as the rootless user, still
    // there 300 ms later (the `userns` requirement's decision forks one
    // too, which ends at once); its sandbox hangs by then.
    let t = std::time::Instant::now();
    let rootless_workers = || -> Vec<String> {
        children(&pid.to_string())
            .split_whitespace()
            .flat_map(|z| {
                children(z)
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|c| uid(c).as_deref() == Some("100000"))
            .collect()
    };
    let worker = loop {
        let found = rootless_workers();
        if !found.is_empty() {
            std::thread::sleep(std::time::Duration::from_millis(300));
            if let Some(w) = rootless_workers().into_iter().find(|w| found.contains(w)) {
                break w;
            }
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "no rootless worker appeared"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let worker = nix::unistd::Pid::from_raw(worker.parse().unwrap());
    nix::sys::signal::kill(worker, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let t = std::time::Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(143), "{}", text(&o).1);
    assert!(
        took < std::time::Duration::from_secs(1),
        "with the rootless worker stopped, SIGTERM took {took:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(scope.state(), before, "the run left something behind");
}

fn an_interrupt_ends_what_left_the_sandboxs_session() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    // Sandboxes in no PID namespace and no cgroup, each leaving a task in a
    // session of its own before it hangs for a minute: one served by the
    // zygote in place, one by a forked helper (an outer namespace).
    let suite = tempfile::tempdir().unwrap();
    let table = suite.path().join("escapes.toml");
    let property = |id: &str, outer: &str| {
        format!(
            r#"
[[property]]
id = "custom.{id}"
description = "a task leaves the session, then the sandbox hangs"
requires = ["root"]
probe = {{ kind = "hang", escape = true }}
sandbox = {{ namespaces = ["mount"], rootfs = {{ kind = "host" }}, timeout_ms = 60000{outer} }}
expect = [{{ path = "exit.code", eq = 0 }}]
control = {{ off = "namespace mount", expect = [{{ path = "exit.code", ge = 0 }}] }}
"#
        )
    };
    std::fs::write(
        &table,
        property("in_place", "") + &property("forked", r#", outer = ["uts"]"#),
    )
    .unwrap();
    // Last, the zygotes are killed first (SIGKILL: neither they nor the
    // helper forked from one can sweep anything): their escaped tasks are
    // given to the runner, its subreaper, which ends them as it exits.
    // Before, they were given to init and outlived the run.
    for (signal, zygotes_killed) in [
        (nix::sys::signal::Signal::SIGINT, false),
        (nix::sys::signal::Signal::SIGTERM, false),
        (nix::sys::signal::Signal::SIGTERM, true),
    ] {
        let child = scope
            .command(&[
                "run",
                "--no-write",
                "--suite",
                table.to_str().unwrap(),
                // Both properties at once.
                "--jobs",
                "2",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The sandboxes have each left a task in a session of its own (a
        // session other than the runner's): else this would prove nothing.
        let session = |pid: &str| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let after = s.rsplit_once(')')?.1.to_string();
                    after.split_whitespace().nth(3).map(str::to_string)
                })
        };
        let runner_session = session(&child.id().to_string());
        let escaped = || {
            scope
                .state()
                .processes
                .iter()
                .filter_map(|p| session(p.split_whitespace().next()?))
                .filter(|s| Some(s) != runner_session.as_ref())
                .count()
        };
        let waited = std::time::Instant::now();
        // Each pair runs its test, then its control: one sandbox of each
        // property at a time.
        while escaped() < 2 && waited.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(escaped(), 2, "{signal}: each sandbox left a task behind");
        if zygotes_killed {
            let pid = child.id();
            let children =
                std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap();
            for c in children.split_whitespace() {
                if std::fs::read_to_string(format!("/proc/{c}/comm"))
                    .is_ok_and(|n| n.trim() == "isocheck-zygote")
                {
                    let c = nix::unistd::Pid::from_raw(c.parse().unwrap());
                    nix::sys::signal::kill(c, nix::sys::signal::Signal::SIGKILL).unwrap();
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            assert_eq!(escaped(), 2, "the escaped tasks outlive their zygotes");
        }
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let t = std::time::Instant::now();
        let o = child.wait_with_output().unwrap();
        // Not the sandboxes' minute: what holds the helpers' pipes is ended.
        assert!(
            t.elapsed() < std::time::Duration::from_secs(5),
            "{signal}: stopping took {:?}",
            t.elapsed()
        );
        assert_eq!(
            o.status.code(),
            Some(128 + signal as i32),
            "{signal}: {}",
            text(&o).1
        );
        assert_eq!(
            scope.state(),
            before,
            "{signal}: the stopped run left something behind"
        );
    }
}

fn no_helper_or_sandbox_keeps_a_descriptor_the_caller_left_open() {
    use std::os::fd::AsRawFd;
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    // A pipe end the caller leaves open (not close-on-exec), as a shell or
    // a CI runner does.
    let (_r, w) = nix::unistd::pipe().unwrap();
    let inherited = std::fs::read_link(format!("/proc/self/fd/{}", w.as_raw_fd())).unwrap();
    let mut child = scope
        .command(&[
            "run",
            "--no-write",
            "--suite",
            fixture("suites/selftest.toml").to_str().unwrap(),
            "--filter",
            "custom.hang",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(w);
    // The hanging sandboxes are up (they are cut at 500 ms).
    std::thread::sleep(std::time::Duration::from_millis(250));
    let runner = child.id().to_string();
    // Each with its name: a zygote or holder forked from the runner has
    // the runner's command line and a name of its own.
    let others: Vec<String> = scope
        .state()
        .processes
        .into_iter()
        .filter(|p| p.split_whitespace().next() != Some(runner.as_str()))
        .map(|p| {
            let pid = p.split_whitespace().next().unwrap_or_default();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            format!("{p} [{}]", comm.trim())
        })
        .collect();
    let holding: Vec<&String> = others
        .iter()
        .filter(|p| {
            let pid = p.split_whitespace().next().unwrap_or_default();
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == inherited))
        })
        .collect();
    // The hangs end at their timeout, and the run with them.
    let _ = child.wait();
    assert!(
        others.iter().any(|p| p.ends_with("[isocheck-zygote]")),
        "no zygote or sandbox was running: {others:?}"
    );
    assert!(holding.is_empty(), "{holding:?} keep {inherited:?}");
}

/// A caller's umask 077 (which made what isocheck creates unreachable for
/// the rootless user: a Landlock case failed falsely and 14 errored) and
/// an ignored SIGCHLD (children reaped by the kernel: every case errored
/// on ECHILD), with the caller's own values for the variables the runtime
/// passes into sandboxes (`ISOCHECK_LESSER_OPENER=1` made two cases blind
/// probes), and low soft limits on the stack (64 KiB: the main thread
/// overflowed and aborted), file sizes (1 KiB: SIGXFSZ killed the run as
/// it copied itself), descriptors (12: every case errored), processes (5:
/// the rootless pids control was blind) and message queues (0: the ipc
/// cases errored), and every capability in its inheritable and ambient
/// sets (`userns.unprivileged_needs_userns` failed falsely: its sandbox
/// kept them), give the same outcomes as a plain run.
fn a_callers_umask_ignored_sigchld_and_variables_change_no_verdict() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let outcomes = |report: &serde_json::Value| -> Vec<(String, String, String)> {
        report["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or_default().to_string(),
                    c["outcome"].as_str().unwrap_or_default().to_string(),
                    c["reason"]["kind"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let plain = tempfile::tempdir().unwrap();
    let (o, report) = Scope::new().run_to(plain.path(), &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).0);
    let expected = outcomes(&report);
    let scope = Scope::new();
    let before = scope.state();
    let out = tempfile::tempdir().unwrap();
    // bash passes an ignored SIGCHLD on to what it execs (dash does not);
    // setpriv gives it every capability in its inheritable and ambient
    // sets, which it passes on too.
    let every = caps::read(None, caps::CapSet::Bounding)
        .unwrap()
        .into_iter()
        .map(|c| {
            format!(
                "+{}",
                c.to_string().to_lowercase().trim_start_matches("cap_")
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let mut caller = Command::new("setpriv");
    caller
        .arg(format!("--inh-caps={every}"))
        .arg(format!("--ambient-caps={every}"))
        .args(["--", "bash"])
        .args([
            "-c",
            "umask 077; trap '' CHLD; ulimit -S -s 64 -f 1 -n 12 -u 5 -q 0; exec \"$0\" \"$@\"",
        ])
        .arg(bin())
        .args(["run", "--out", out.path().to_str().unwrap()]);
    // The variables the runtime passes into sandboxes, set by the caller
    // (`1` made `cve.2021_4197` a blind probe when it reached the probe).
    for name in isocheck::model::names::SANDBOX_VARIABLES {
        caller.env(name, "1");
    }
    let o = caller
        .current_dir(std::env::temp_dir())
        .env("ISOCHECK_RUN_ID", &scope.id)
        .env("ISOCHECK_WORK_DIR", scope.work.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let leg = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(leg.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(outcomes(&report), expected);
    assert_eq!(scope.state(), before, "the host is as it was");
    // The reports still honour the caller's umask.
    use std::os::unix::fs::PermissionsExt;
    for p in [leg.path(), leg.path().join("report.json")] {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is {mode:o}", p.display());
    }
}

fn a_closed_stdout_ends_the_console_output_only() {
    use std::io::BufRead;
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let out = tempfile::tempdir().unwrap();
    // As `isocheck run | head -1`.
    let mut child = scope
        .command(&[
            "run",
            "--out",
            out.path().to_str().unwrap(),
            "--filter",
            "pid.",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut first).unwrap();
    drop(reader);
    let o = child.wait_with_output().unwrap();
    assert!(first.starts_with("isocheck "), "{first}");
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let leg = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .expect("a report directory")
        .unwrap()
        .path();
    let report = read_json(&leg.join("report.json"));
    assert!(leg.join("report.html").exists());
    let n = cases(&report).len();
    assert!(n >= 4, "{n} cases");
    assert_eq!(report["summary"]["pass"].as_u64(), Some(n as u64));
}

/// `id outcome reason-kind` of every case, for comparing runs.
fn signature(report: &serde_json::Value) -> BTreeSet<String> {
    cases(report)
        .into_iter()
        // Load-sensitive cases, which fail in a lone run on a loaded
        // machine as well, and concurrent runs are load: CPU shares over
        // wall time, and the veth pair's first connection (the pair is
        // used without waiting for its carrier; when the kernel's rtnl lock
        // is contended the first SYN is lost and the 1 s connect times out).
        .filter(|(id, _, _)| !id.starts_with("cgroup.cpu_") && !id.starts_with("net.veth/"))
        .map(|(id, outcome, kind)| format!("{id} {outcome} {kind}"))
        .collect()
}

fn concurrent_runs_in_other_namespaces_get_a_lone_runs_outcomes() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let lone_scope = Scope::new();
    let lone_out = tempfile::tempdir().unwrap();
    let (o, lone) = lone_scope.run_to(lone_out.path(), &[]);
    // A finished run: its exit code follows its outcomes, compared below.
    let finished = |code: Option<i32>| matches!(code, Some(0 | 1 | 3));
    assert!(finished(o.status.code()), "{}", text(&o).1);
    let lone = signature(&lone);
    assert!(lone.len() > 50, "{lone:?}");
    // One work directory for all three: each looks there for leftovers to
    // reap while the others' live work directories are in it.
    let shared = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let scopes: Vec<Scope> = (0..3).map(|_| Scope::sharing(shared.clone())).collect();
    let befores: Vec<HostState> = scopes.iter().map(Scope::state).collect();
    let outs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let children: Vec<std::process::Child> = scopes
        .iter()
        .zip(&outs)
        .enumerate()
        .map(|(i, (scope, out))| {
            let args = ["run", "--out", out.path().to_str().unwrap()];
            let mut c = if i == 0 {
                // In a new PID and mount namespace: its pids mean nothing
                // to the others, and theirs nothing to it.
                let mut c = Command::new("unshare");
                c.args(["-pmf", "--mount-proc"])
                    .arg(bin())
                    .args(args)
                    .current_dir(std::env::temp_dir())
                    .env("ISOCHECK_RUN_ID", &scope.id)
                    .env("ISOCHECK_WORK_DIR", scope.work.path());
                c
            } else {
                scope.command(&args)
            };
            // Staggered, so that each run starts (and looks for leftovers
            // to reap) while the ones before it are in the middle of theirs.
            std::thread::sleep(std::time::Duration::from_millis(400 * i as u64));
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for ((child, out), (scope, before)) in children
        .into_iter()
        .zip(&outs)
        .zip(scopes.iter().zip(&befores))
    {
        let o = child.wait_with_output().unwrap();
        let (stdout, stderr) = text(&o);
        assert!(finished(o.status.code()), "{stdout}\n{stderr}");
        let leg = std::fs::read_dir(out.path())
            .unwrap()
            .next()
            .expect("a report directory")
            .unwrap()
            .path();
        let got = signature(&read_json(&leg.join("report.json")));
        assert_eq!(
            got.symmetric_difference(&lone).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "a concurrent run's outcomes differ from a lone run's"
        );
        assert_eq!(
            &scope.state(),
            before,
            "a concurrent run left something behind"
        );
    }
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

/// isocheck as uid 0 of a user namespace that maps only its root (`unshare
/// -r`): its capabilities hold over that namespace alone, and ids 1000 and
/// 100000 do not exist there. Before rootful cases needed root of the
/// initial namespace, `caps.chown_denied` failed there (chown to an unmapped
/// id is EINVAL, not EPERM: a false fail) and others were errors. Every
/// case is now a typed skip naming the namespace, `list` says which
/// requirement decided it, and the audit no longer blames a security module
/// for the unprivileged user namespace it could not try (it said `blocked`).
fn a_proc_of_another_pid_namespace_is_refused_before_anything_runs() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    // A PID namespace of its own; with --mount-proc a proc of it too.
    let in_pid_ns = |mount_proc: bool| {
        let mut cmd = Command::new("unshare");
        cmd.args(["--pid", "--fork", "--kill-child"]);
        if mount_proc {
            cmd.arg("--mount-proc");
        }
        cmd.arg("--")
            .arg(bin())
            .args(["run", "--no-write", "--filter", "pid.pid1"])
            .env("ISOCHECK_RUN_ID", &scope.id)
            .env("ISOCHECK_WORK_DIR", scope.work.path())
            .current_dir("/")
            .output()
            .unwrap()
    };
    // Before the fix this configuration judged from the host's pids: a
    // false fail (an escaped task's cgroup read as empty) and errors.
    let o = in_pid_ns(false);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("/proc belongs to another PID namespace"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("PASS") && !stdout.contains("FAIL"),
        "{stdout}"
    );
    assert_eq!(scope.state(), before, "the refused run changed the host");
    let o = in_pid_ns(true);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
}

fn root_of_a_user_namespace_gets_typed_skips_never_a_verdict() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let nested = |args: &[&str]| {
        Command::new("unshare")
            .args(["--user", "--map-root-user", "--"])
            .arg(bin())
            .args(args)
            .current_dir("/")
            .output()
            .unwrap()
    };
    let o = nested(&["run", "--no-write"]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let mut lines = 0;
    for l in stdout
        .lines()
        .filter(|l| matches!(l.split_whitespace().nth(1), Some("rootful" | "rootless")))
    {
        lines += 1;
        let kind = if l.split_whitespace().nth(1) == Some("rootful") {
            "needs-root"
        } else {
            "not-delegated"
        };
        assert!(
            l.contains("SKIP") && l.contains(kind) && l.contains("not the initial one"),
            "{l}"
        );
    }
    assert_eq!(lines, listed_cases(), "{stdout}");
    let o = nested(&["list", "--json"]);
    let (stdout, stderr) = text(&o);
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
    let mut kinds = std::collections::BTreeMap::new();
    for r in listed["cases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["requirements"].as_array().unwrap())
        .filter(|r| r["met"] == false)
    {
        kinds.insert(
            r["requirement"].as_str().unwrap().to_string(),
            r["reason"]["kind"].as_str().unwrap().to_string(),
        );
    }
    for (req, kind) in [
        ("root", "needs-root"),
        ("userns", "not-delegated"),
        ("id-range", "not-delegated"),
        ("namespace user", "not-delegated"),
        ("kernel-feature idmapped-mount", "needs-root"),
    ] {
        assert_eq!(
            kinds.get(req).map(String::as_str),
            Some(kind),
            "{req}: {kinds:?}"
        );
    }
    assert!(!kinds.values().any(|k| k == "harness-failed"), "{kinds:?}");
    // The audit does not blame a security module for the missing ids.
    let o = nested(&["audit", "--no-write", "--json"]);
    let (stdout, stderr) = text(&o);
    let audit: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
    let userns = audit["audit"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["feature"] == "unprivileged user namespaces")
        .unwrap();
    assert_eq!(userns["status"], "unprobed", "{userns}");
    assert!(
        userns["behaviour"]
            .as_str()
            .unwrap()
            .contains("not the initial one"),
        "{userns}"
    );
}

/// isocheck as uid 0 without CAP_SYS_ADMIN (a container's default
/// confinement, here `setpriv` dropping it from the bounding and
/// inheritable sets). It can make no mount namespace for its work directory
/// and cannot write the maps of the rootless user it stands in for. Before,
/// every run ended with exit 3 and no report; now it is served as an
/// unprivileged user is: every case is a typed `needs-root` skip naming
/// the capability, `list` says which requirement decided it, the audit
/// blames no security module for the user namespace it could not try, and
/// the host is as it was. Without any other capability its sandboxes or
/// its stand-in for the rootless user use (an outside attack found errors,
/// and audit problems blamed on the host, for each of these), every case
/// passes or is a typed skip, and the audit finds no problem.
fn root_lacking_a_capability_gets_typed_skips_and_changes_nothing() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let confined = |cap: &str, args: &[&str]| {
        let mut c = Command::new("setpriv");
        c.arg(format!("--inh-caps=-{cap}"))
            .arg(format!("--bounding-set=-{cap}"))
            .arg("--")
            .arg(bin())
            .args(args)
            .current_dir("/")
            .env("ISOCHECK_RUN_ID", &scope.id)
            .env("ISOCHECK_WORK_DIR", scope.work.path());
        c.output().unwrap()
    };
    for cap in [
        "sys_admin",
        "sys_chroot",
        "sys_ptrace",
        "sys_time",
        "net_bind_service",
        "dac_override",
        "chown",
    ] {
        let o = confined(cap, &["run", "--no-write", "--format", "json"]);
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{cap}: {stdout}\n{stderr}");
        let mut cases = 0;
        for l in stdout.lines() {
            let event: serde_json::Value = serde_json::from_str(l).expect(l);
            if event["event"] != "case" {
                continue;
            }
            cases += 1;
            let case = &event["case"];
            if cap == "sys_admin" {
                assert_eq!(case["outcome"], "skip", "{case}");
                assert_eq!(case["reason"]["kind"], "needs-root", "{case}");
                assert!(
                    case["reason"]["detail"]
                        .as_str()
                        .unwrap()
                        .contains("CAP_SYS_ADMIN"),
                    "{case}"
                );
            } else {
                assert!(
                    case["outcome"] == "pass" || case["outcome"] == "skip",
                    "{cap}: {case}"
                );
            }
        }
        assert_eq!(cases, listed_cases(), "{cap}: {stdout}");
        let o = confined(cap, &["list", "--json"]);
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{cap}: {stderr}");
        let listed: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
        let mut kinds = BTreeMap::new();
        for r in listed["cases"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["requirements"].as_array().unwrap())
            .filter(|r| r["met"] == false)
        {
            kinds.insert(
                r["requirement"].as_str().unwrap().to_string(),
                r["reason"]["kind"].as_str().unwrap().to_string(),
            );
        }
        assert_eq!(
            kinds.get("root").map(String::as_str),
            Some("needs-root"),
            "{cap}: {kinds:?}"
        );
        if cap == "sys_admin" {
            for req in ["userns", "namespace user", "namespace pid"] {
                assert_eq!(
                    kinds.get(req).map(String::as_str),
                    Some("needs-root"),
                    "{req}: {kinds:?}"
                );
            }
        }
        assert!(
            !kinds.values().any(|k| k == "harness-failed"),
            "{cap}: {kinds:?}"
        );
        let o = confined(cap, &["audit", "--no-write", "--json", "--strict"]);
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{cap}: {stdout}\n{stderr}");
        let audit: serde_json::Value = serde_json::from_str(&stdout).expect(&stderr);
        if cap == "sys_admin" {
            let userns = audit["audit"]["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["feature"] == "unprivileged user namespaces")
                .unwrap();
            assert_eq!(userns["status"], "unprobed", "{userns}");
        }
        assert_eq!(
            scope.state(),
            before,
            "{cap}: the confined runs changed the host"
        );
    }
}

/// A hard limit on open descriptors too low for the run is said in one
/// line before anything runs (exit 3, the environment), and the host is
/// as it was; before, every case errored with `Too many open files` (142
/// errors under a hard limit of 16). A limit with room enough runs every
/// case: the estimate is not so far above what a run holds that it turns
/// away runs that would work.
fn a_hard_descriptor_limit_too_low_is_said_once_before_anything_runs() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let limited = |hard: u32, args: &[&str]| {
        let ulimit = format!("ulimit -n {hard} && exec \"$0\" \"$@\"");
        let o = scope
            .wrapped(&["sh", "-c", &ulimit], args)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&o);
        (o.status.code(), stdout, stderr)
    };
    for (hard, args) in [
        (16, &["run", "--no-write"][..]),
        (16, &["list"][..]),
        (64, &["run", "--no-write", "--jobs", "16"][..]),
    ] {
        let (code, stdout, stderr) = limited(hard, args);
        assert_eq!(code, Some(3), "{hard} {args:?}: {stdout}\n{stderr}");
        assert!(stdout.is_empty(), "{hard} {args:?}: {stdout}");
        assert_eq!(stderr.lines().count(), 1, "{hard} {args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("(RLIMIT_NOFILE) is {hard}")),
            "{hard} {args:?}: {stderr}"
        );
    }
    let (code, stdout, stderr) = limited(64, &["run", "--no-write", "--format", "json"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let errors = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "case" && e["case"]["outcome"] == "error")
        .count();
    assert_eq!(errors, 0, "{stdout}");
    assert_eq!(scope.state(), before, "the limited runs changed the host");
}

/// A hard limit on the stack too small for the main thread is said in
/// one line, exit 3; before, the main thread overflowed and the run
/// aborted (SIGABRT) under a limit of 64 KiB. A limit of 1 MiB runs.
fn a_hard_stack_limit_too_low_is_said_not_an_abort() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let limited = |kib: u32| {
        let ulimit = format!("ulimit -s {kib} && exec \"$0\" \"$@\"");
        let o = scope
            .wrapped(
                &["sh", "-c", &ulimit],
                &["run", "--no-write", "--filter", "pid.pid1"],
            )
            .output()
            .unwrap();
        let (stdout, stderr) = text(&o);
        (o.status.code(), stdout, stderr)
    };
    let (code, stdout, stderr) = limited(64);
    assert_eq!(code, Some(3), "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("(RLIMIT_STACK) is 64 KiB"), "{stderr}");
    let (code, stdout, stderr) = limited(1024);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("4 passed"), "{stdout}");
    assert_eq!(scope.state(), before, "the limited runs changed the host");
}

/// isocheck started by root with a real uid of 1000 (`setpriv --ruid`, a
/// setuid wrapper) runs in secure-execution mode, as its setuid copies do.
/// It runs nothing, says which ids it was given, and changes nothing;
/// before, it said only that a privileged copy runs the exec sub-probe,
/// which this start is not.
fn a_start_with_mixed_ids_is_refused_and_says_why() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    for (ids, said) in [
        (
            &["--ruid=1000"][..],
            "real uid 1000 and gid 0 but effective uid 0 and gid 0",
        ),
        (
            &["--ruid=1000", "--rgid=1000", "--keep-groups"][..],
            "real uid 1000 and gid 1000 but effective uid 0 and gid 0",
        ),
    ] {
        let setpriv: Vec<&str> = ["setpriv"]
            .into_iter()
            .chain(ids.iter().copied())
            .chain(["--"])
            .collect();
        let o = scope
            .wrapped(&setpriv, &["run", "--no-write"])
            .output()
            .unwrap();
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{ids:?}: {stdout}\n{stderr}");
        assert!(stdout.is_empty(), "{ids:?}: {stdout}");
        assert!(stderr.contains(said), "{ids:?}: {stderr}");
        assert!(stderr.contains("one set of ids"), "{ids:?}: {stderr}");
    }
    assert_eq!(scope.state(), before, "the refused starts changed the host");
}

/// isocheck started with no_new_privs (`setpriv --no-new-privs`, systemd's
/// NoNewPrivileges=): every sandbox inherits it, so the controls that exec
/// a setuid-root or file-capability copy gain nothing, and they were
/// `blind-probe` errors (exit 3). Those cases now need `privileged-exec`
/// and are typed skips; every other case passes, and the host is as it was.
fn a_runner_with_no_new_privs_skips_what_needs_a_privileged_exec() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let scope = Scope::new();
    let before = scope.state();
    let o = Command::new("setpriv")
        .args(["--no-new-privs", "--"])
        .arg(bin())
        .args(["run", "--no-write", "--format", "json"])
        .current_dir("/")
        .env("ISOCHECK_RUN_ID", &scope.id)
        .env("ISOCHECK_WORK_DIR", scope.work.path())
        .output()
        .unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let mut skipped = BTreeSet::new();
    for l in stdout.lines() {
        let event: serde_json::Value = serde_json::from_str(l).expect(l);
        if event["event"] != "case" {
            continue;
        }
        let case = &event["case"];
        let property = case["property"].as_str().unwrap();
        if [
            "nnp.blocks_setuid",
            "caps.bounding",
            "caps.net_bind_service",
        ]
        .contains(&property)
        {
            assert_eq!(case["outcome"], "skip", "{case}");
            assert_eq!(case["reason"]["kind"], "sysctl-policy", "{case}");
            assert!(
                case["reason"]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("no_new_privs"),
                "{case}"
            );
            skipped.insert(property.to_string());
        } else {
            assert!(
                case["outcome"] == "pass" || case["outcome"] == "skip",
                "{case}"
            );
        }
    }
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert_eq!(scope.state(), before, "the run changed the host");
}

fn a_rootfs_tree_runs_the_suite_and_is_left_untouched() {
    let _g = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let tree = tempfile::tempdir().unwrap();
    std::fs::create_dir(tree.path().join("usr")).unwrap();
    let o = Scope::new().run(&[
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
    // A tree without the /usr the ownership probe stats breaks no promise:
    // its cases are errors naming the precondition (they were false fails).
    let bare = tempfile::tempdir().unwrap();
    std::fs::write(bare.path().join("x.xml"), "x").unwrap();
    let o = Scope::new().run(&[
        "run",
        "--no-write",
        "--rootfs",
        bare.path().to_str().unwrap(),
        "--filter",
        "userns.uid_map_ownership",
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{stdout}\n{stderr}");
    let tests: Vec<&str> = stdout.lines().filter(|l| l.contains(" test ")).collect();
    assert_eq!(tests.len(), 2, "{stdout}");
    for l in tests {
        assert!(
            l.contains("ERROR") && l.contains("probe.unmapped_owner ge 0, got null"),
            "{l}"
        );
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
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
