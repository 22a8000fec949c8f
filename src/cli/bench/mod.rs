//! `isocheck bench`: what a sandbox costs, measured side by side in one
//! run. Each round times every variant once, interleaved (starting at a
//! different variant each round, so none always runs on a cache another
//! warmed): isocheck's per-case cost, the in-process floors ([`floor`]),
//! the peers running the same check ([`peers`]), and isocheck as a
//! subprocess: a one-property run and the fixed start-up ([`runs`]). After
//! the rounds the whole default suite runs `--suite-runs` times (wall, CPU,
//! the runner's peak RSS). The figures print as a table and are written as
//! JSON ([`crate::report::bench`]) under `reports/bench/<host>.json`.

mod floor;
mod peers;
mod runs;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::model::namespace::Namespace;
use crate::model::spec::{Mount, SandboxSpec};
use crate::probe::Probe;
use crate::report::bench::{
    BenchBody, BenchDocument, BenchHost, BenchVariant, Stats, SuiteFigures, VariantStatus,
};
use crate::report::versioned::BENCH_SCHEMA_VERSION;
use crate::runtime::spawn::Launcher;

pub use runs::write_peak_rss_if_asked;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Rounds (at least 1); each round times every variant once,
    /// interleaved.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Runs of the whole default suite after the rounds (0: none).
    #[arg(long, default_value_t = 3)]
    suite_runs: u32,
    /// Where the JSON goes (default: reports/bench/<hostname>.json).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The cache `ci/bench-peers` fills with crun, runc and busybox
    /// (default: $ISOCHECK_PEERS_CACHE, else /var/cache/isocheck/peers).
    #[arg(long, value_name = "DIR")]
    peers: Option<PathBuf>,
    /// crun to run (default: <peers>/bin/crun, with <peers>/lib).
    #[arg(long, value_name = "PATH")]
    crun: Option<PathBuf>,
    /// runc to run (default: <peers>/bin/runc).
    #[arg(long, value_name = "PATH")]
    runc: Option<PathBuf>,
    /// unshare(1) to run (default: the one on PATH).
    #[arg(long, value_name = "PATH")]
    unshare: Option<PathBuf>,
    /// A static busybox for the peers' root (default: <peers>/bin/busybox).
    #[arg(long, value_name = "PATH")]
    busybox: Option<PathBuf>,
}

/// The namespaces of a typical case.
fn namespaces() -> std::collections::BTreeSet<Namespace> {
    [
        Namespace::Pid,
        Namespace::Mount,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Net,
    ]
    .into_iter()
    .collect()
}

/// A typical case's spec: the five namespaces, the skeleton root, proc,
/// pivot_root, a hostname, CAP_SYS_ADMIN dropped, no_new_privs.
fn typical_case() -> SandboxSpec {
    SandboxSpec {
        namespaces: namespaces(),
        mounts: vec![Mount::Proc {
            target: "/proc".into(),
        }],
        hostname: Some("isocheck-bench".into()),
        caps: crate::model::spec::CapsSpec {
            drop: vec![caps::Capability::CAP_SYS_ADMIN],
            ..Default::default()
        },
        no_new_privs: true,
        ..SandboxSpec::default()
    }
}

/// The variants, in the order of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Case,
    CaseCgroup,
    FloorClone,
    FloorSetup,
    FloorBuild,
    HelperClone,
    Peer(peers::Peer),
    OneCaseRun,
    Startup,
}

impl Kind {
    fn all() -> Vec<Kind> {
        let mut v = vec![
            Kind::Case,
            Kind::CaseCgroup,
            Kind::FloorSetup,
            Kind::FloorClone,
            Kind::FloorBuild,
            Kind::HelperClone,
        ];
        v.extend(peers::Peer::ALL.map(Kind::Peer));
        v.extend([Kind::OneCaseRun, Kind::Startup]);
        v
    }

    fn id(self) -> &'static str {
        match self {
            Kind::Case => "case",
            Kind::CaseCgroup => "case-cgroup",
            Kind::FloorClone => "floor-clone",
            Kind::FloorSetup => "floor-setup",
            Kind::FloorBuild => "floor-build",
            Kind::HelperClone => "helper-clone",
            Kind::Peer(p) => p.id(),
            Kind::OneCaseRun => "one-case-run",
            Kind::Startup => "startup",
        }
    }

    fn what(self) -> String {
        match self {
            Kind::Case => "isocheck's per-case cost (Launcher::run): a typical case's sandbox \
                (five namespaces, skeleton root, proc, pivot_root, hostname, cap drop, \
                no_new_privs), no-op probe, result back, teardown"
                .into(),
            Kind::CaseCgroup => "the same case in a cgroup of its own with memory.max 64 MiB and \
                pids.max 64 (made, joined, removed: on v1 hierarchies the sandbox's \
                own move by its tasks file)"
                .into(),
            Kind::FloorClone => {
                "in-process clone into pid+mnt+uts+ipc+net, child exits, waited for".into()
            }
            Kind::FloorSetup => {
                "in-process floor: that clone, then private /, root bind, fresh proc, \
                pivot_root, hostname, cap drop, no_new_privs, exit"
                    .into()
            }
            Kind::FloorBuild => "that clone, then the runtime's own build of the typical case \
                (init::build: skeleton root, proc, pivot_root, hostname, cap drop, \
                no_new_privs), exit: the case without its process layers"
                .into(),
            Kind::HelperClone => {
                "the same bare clone from the helper (fork+exec of isocheck included)".into()
            }
            Kind::Peer(p) => p.what().into(),
            Kind::OneCaseRun => format!("isocheck {} (4 cases), wall", runs::ONE_CASE.join(" ")),
            Kind::Startup => format!(
                "isocheck {}: host facts and every requirement decided, wall",
                runs::STARTUP.join(" ")
            ),
        }
    }
}

/// One variant's state over the rounds.
struct Slot {
    kind: Kind,
    samples: Vec<Duration>,
    status: VariantStatus,
    note: Option<String>,
    peer: Option<peers::Ready>,
}

/// /proc/loadavg's three averages.
fn loadavg() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut f = text.split_whitespace().map(|v| v.parse().unwrap_or(0.0));
    [
        f.next().unwrap_or(0.0),
        f.next().unwrap_or(0.0),
        f.next().unwrap_or(0.0),
    ]
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The default JSON path: reports/bench/<hostname>.json.
fn default_out(host: &str) -> PathBuf {
    Path::new("reports/bench").join(format!("{host}.json"))
}

/// Everything the rounds need, made once.
struct Bench {
    exe: PathBuf,
    launcher: Launcher,
    floors: floor::FloorServer,
    bundle: Option<peers::Bundle>,
    case: SandboxSpec,
    case_cgroup: SandboxSpec,
    counter: u64,
}

impl Bench {
    /// One sample of `kind`.
    fn time(&mut self, kind: Kind, peer: Option<&peers::Ready>) -> Result<Duration, String> {
        self.counter += 1;
        match kind {
            Kind::Case | Kind::CaseCgroup => {
                let spec = if kind == Kind::Case {
                    &self.case
                } else {
                    &self.case_cgroup
                };
                let t = Instant::now();
                match self.launcher.run("bench", spec, &Probe::noop()) {
                    Ok(o) if o.setup_error.is_none() => Ok(t.elapsed()),
                    Ok(o) => Err(format!("sandbox set-up failed: {:?}", o.setup_error)),
                    Err(e) => Err(e.to_string()),
                }
            }
            Kind::FloorClone => self.floors.time(floor::Floor::Clone),
            Kind::FloorSetup => self.floors.time(floor::Floor::Setup),
            Kind::FloorBuild => self.floors.time(floor::Floor::Build),
            Kind::HelperClone => {
                let t = Instant::now();
                let status = std::process::Command::new(&self.exe)
                    .arg(crate::runtime::helper::HELPER_ARG)
                    .arg("--bare-clone")
                    .arg(floor::FLAGS.bits().to_string())
                    .status()
                    .map_err(|e| e.to_string())?;
                let took = t.elapsed();
                if !status.success() {
                    return Err(format!("the helper's bare clone: {status}"));
                }
                Ok(took)
            }
            Kind::Peer(_) => match (peer, &self.bundle) {
                (Some(p), Some(b)) => p.time(b, self.counter),
                _ => Err("not ready".into()),
            },
            Kind::OneCaseRun => runs::one_case(&self.exe),
            Kind::Startup => runs::startup(&self.exe),
        }
    }
}

pub fn run(a: BenchArgs) -> u8 {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("isocheck bench: needs root (it creates namespaces)");
        return super::EXIT_USAGE;
    }
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("isocheck bench: {e}");
            return super::EXIT_HARNESS;
        }
    };
    let host = BenchHost {
        hostname: hostname(),
        kernel: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_start: loadavg(),
        load_end: [0.0; 3],
        started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let out = a.out.clone().unwrap_or_else(|| default_out(&host.hostname));
    // Before anything is made that a stop must remove.
    super::hold_stop_signals();
    let work = std::env::temp_dir().join(format!("isocheck-bench-{}", std::process::id()));
    let floor_root = work.join("floor-root");
    if let Err(e) = std::fs::create_dir_all(floor_root.join("proc")) {
        eprintln!("isocheck bench: {}: {e}", floor_root.display());
        return super::EXIT_HARNESS;
    }
    let cache = a.peers.clone().unwrap_or_else(|| {
        std::env::var_os("ISOCHECK_PEERS_CACHE")
            .map_or_else(|| PathBuf::from(peers::DEFAULT_CACHE), PathBuf::from)
    });
    let _cleanup = Cleanup(work.clone());
    measure(&a, &cache, exe, host, &work, floor_root, &out)
}

/// The stop signals (the command line's: SIGINT, SIGTERM, SIGHUP),
/// caught: the bench ends between two samples and cleans up (its work
/// directory, the peers' cgroups, the runtime's work directory and
/// zygotes), which a default disposition would leave behind. They are held
/// from the bench's start (`hold_stop_signals`) until they are caught,
/// after the processes it forks are made (which keep the default
/// dispositions): one sent meanwhile is then a stop, never a death.
struct Stop(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Stop {
    /// Catches the stop signals and lets them in (one held back comes now).
    fn catch() -> std::io::Result<Stop> {
        let caught = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for sig in super::stop_signals().iter() {
            signal_hook::flag::register_usize(sig as i32, caught.clone(), sig as usize)?;
        }
        super::release_stop_signals();
        Ok(Stop(caught))
    }

    /// The exit status when a stop signal came, saying so.
    fn status(&self) -> Option<u8> {
        let sig = self.0.load(std::sync::atomic::Ordering::Relaxed);
        (sig != 0).then(|| {
            let name = crate::suite::runner::signal_name(sig as i32);
            eprintln!("isocheck bench: stopped by {name}; nothing is written");
            super::interrupted_status(&name)
        })
    }
}

/// Removes the bench's work directory and the peers' cgroup parent when
/// the bench ends, however it ends.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        peers::remove_cgroup_parent();
    }
}

/// The rounds, the suite runs, the table and the JSON.
fn measure(
    a: &BenchArgs,
    cache: &Path,
    exe: PathBuf,
    mut host: BenchHost,
    work: &Path,
    floor_root: PathBuf,
    out: &Path,
) -> u8 {
    // First, while this process has one thread.
    let floors = match floor::FloorServer::start(floor_root, typical_case()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("isocheck bench: {e}");
            return super::EXIT_HARNESS;
        }
    };
    let launcher = match Launcher::new(exe.clone()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("isocheck bench: {e}");
            return super::EXIT_HARNESS;
        }
    };
    let stop = match Stop::catch() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("isocheck bench: catching SIGINT, SIGTERM and SIGHUP: {e}");
            return super::EXIT_HARNESS;
        }
    };
    let busybox = a
        .busybox
        .clone()
        .unwrap_or_else(|| cache.join("bin/busybox"));
    let bundle = if busybox.exists() {
        match peers::Bundle::make(work.join("peers"), &busybox) {
            Ok(b) => Ok(b),
            Err(e) => {
                eprintln!("isocheck bench: the peers' bundle: {e}");
                return super::EXIT_HARNESS;
            }
        }
    } else {
        Err(format!(
            "no busybox for the peers' root: {} does not exist (ci/bench-peers fetch, or --busybox)",
            busybox.display()
        ))
    };
    let mut slots: Vec<Slot> = Kind::all()
        .into_iter()
        .map(|kind| {
            let mut slot = Slot {
                kind,
                samples: Vec::with_capacity(a.rounds as usize),
                status: VariantStatus::Measured,
                note: None,
                peer: None,
            };
            if let Kind::Peer(p) = kind {
                let given = match p {
                    peers::Peer::Unshare => a.unshare.as_deref(),
                    peers::Peer::Crun => a.crun.as_deref(),
                    peers::Peer::Runc => a.runc.as_deref(),
                };
                match bundle
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|_| peers::find(p, given, cache))
                {
                    Ok(r) => {
                        slot.note = Some(r.version.clone());
                        slot.peer = Some(r);
                    }
                    Err(why) => {
                        slot.status = VariantStatus::Absent;
                        slot.note = Some(why);
                    }
                }
            }
            slot
        })
        .collect();
    let mut bench = Bench {
        exe: exe.clone(),
        launcher,
        floors,
        bundle: bundle.ok(),
        case: typical_case(),
        case_cgroup: SandboxSpec {
            cgroup: crate::model::cgroup::CgroupLimits {
                memory_max: Some(64 << 20),
                pids_max: Some(64),
                ..Default::default()
            },
            ..typical_case()
        },
        counter: 0,
    };
    // One untimed run of each first: it checks each variant works (and
    // warms the caches).
    for round in 0..=a.rounds {
        let n = slots.len();
        for k in 0..n {
            if let Some(code) = stop.status() {
                return code;
            }
            let slot = &mut slots[(k + round as usize) % n];
            if slot.status != VariantStatus::Measured {
                continue;
            }
            match bench.time(slot.kind, slot.peer.as_ref()) {
                Ok(d) if round > 0 => slot.samples.push(d),
                Ok(_) => {}
                Err(e) => {
                    // A sample cut short by the stop signal (it reached the
                    // peer too: a terminal's ^C) is the stop, not a failure.
                    if let Some(code) = stop.status() {
                        return code;
                    }
                    if matches!(slot.kind, Kind::Peer(_)) {
                        // A peer that fails is reported, and the rest go on.
                        eprintln!("isocheck bench: {}: {e}", slot.kind.id());
                        slot.status = VariantStatus::Failed;
                        slot.note = Some(e);
                    } else {
                        eprintln!("isocheck bench: {}: {e}", slot.kind.id());
                        return super::EXIT_HARNESS;
                    }
                }
            }
        }
    }
    drop(bench);
    let mut suite = SuiteFigures {
        command: runs::SUITE.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    for _ in 0..a.suite_runs {
        if let Some(code) = stop.status() {
            return code;
        }
        match runs::suite(&exe, work) {
            Ok(r) => suite.runs.push(r),
            Err(e) => {
                if let Some(code) = stop.status() {
                    return code;
                }
                eprintln!("isocheck bench: the whole suite: {e}");
                return super::EXIT_HARNESS;
            }
        }
    }
    let ms = |v: f64| Duration::from_secs_f64(v / 1e3);
    suite.wall = Stats::of(&suite.runs.iter().map(|r| ms(r.wall_ms)).collect::<Vec<_>>());
    suite.cpu = Stats::of(
        &suite
            .runs
            .iter()
            .map(|r| ms(r.user_ms + r.sys_ms))
            .collect::<Vec<_>>(),
    );
    suite.peak_rss_kib = suite.runs.iter().filter_map(|r| r.peak_rss_kib).max();
    host.load_end = loadavg();
    let failed = slots.iter().any(|s| s.status == VariantStatus::Failed);
    let mut body = BenchBody {
        command: std::env::args().collect(),
        host,
        rounds: a.rounds,
        reference: Kind::FloorSetup.id().into(),
        variants: slots
            .into_iter()
            .map(|s| BenchVariant {
                id: s.kind.id().into(),
                what: s.kind.what(),
                stats: match s.status {
                    VariantStatus::Measured => Stats::of(&s.samples),
                    _ => None,
                },
                status: s.status,
                note: s.note,
                ratio: None,
            })
            .collect(),
        suite,
        targets: vec![],
    };
    body.set_ratios();
    body.targets = crate::report::bench::targets(&body);
    // A closed standard output does not stop the figures being written.
    let _ = std::io::stdout().write_all(crate::report::bench::render(&body).as_bytes());
    let doc = BenchDocument::new(BENCH_SCHEMA_VERSION, body);
    if let Err(e) = crate::sys::outdir::write_file(out, doc.to_json().as_bytes()) {
        eprintln!("isocheck bench: {}: {e}", out.display());
        return super::EXIT_HARNESS;
    }
    let _ = writeln!(std::io::stdout(), "figures: {}", out.display());
    if failed {
        super::EXIT_HARNESS
    } else {
        super::EXIT_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn the_bare_clone_gets_the_namespaces_of_a_typical_case() {
        use nix::sched::CloneFlags as F;
        let ns = namespaces();
        assert_eq!(ns.len(), 5);
        let spec = SandboxSpec {
            namespaces: ns,
            ..SandboxSpec::default()
        };
        // The floors clone exactly these (passed to the helper as bits).
        assert_eq!(
            spec.clone_flags(),
            F::CLONE_NEWPID | F::CLONE_NEWNS | F::CLONE_NEWUTS | F::CLONE_NEWIPC | F::CLONE_NEWNET
        );
        assert_eq!(spec.clone_flags(), floor::FLAGS);
        let bits = spec.clone_flags().bits().to_string();
        assert_eq!(
            bits.parse().ok().map(F::from_bits_retain),
            Some(spec.clone_flags())
        );
    }

    #[test]
    fn rounds_default_to_200_and_must_be_a_count() {
        let rounds = |args: &[&str]| match super::super::Cli::try_parse_from(
            ["isocheck", "bench"].iter().chain(args),
        ) {
            Ok(super::super::Cli {
                command: super::super::Command::Bench(b),
            }) => Ok(b.rounds),
            Ok(_) => panic!("not bench"),
            Err(e) => Err(e),
        };
        assert_eq!(rounds(&[]).unwrap(), 200);
        assert_eq!(rounds(&["--rounds", "3"]).unwrap(), 3);
        assert!(rounds(&["--rounds", "-1"]).is_err());
        assert!(rounds(&["--rounds", "0"]).is_err(), "no median of nothing");
        assert!(rounds(&["--rounds", "many"]).is_err());
    }
}
