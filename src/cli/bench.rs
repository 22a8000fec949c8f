//! `isocheck bench`: the per-case sandbox overhead next to a bare clone of
//! the same namespaces, measured side by side in one run, as a ratio.

use std::time::{Duration, Instant};

use crate::probe::Probe;
use crate::runtime::spawn::Launcher;
use crate::runtime::spec::{Mount, Namespace, SandboxSpec};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Rounds; each round times every variant once, interleaved.
    #[arg(long, default_value_t = 200)]
    rounds: usize,
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
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

pub fn run(a: BenchArgs) -> u8 {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("isocheck bench: needs root (it creates namespaces)");
        return super::EXIT_USAGE;
    }
    let helper = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("isocheck bench: {e}");
            return super::EXIT_HARNESS;
        }
    };
    let launcher = match Launcher::new(helper.clone()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("isocheck bench: {e}");
            return super::EXIT_HARNESS;
        }
    };
    let full = SandboxSpec {
        namespaces: namespaces(),
        mounts: vec![Mount::Proc {
            target: "/proc".into(),
        }],
        hostname: Some("isocheck-bench".into()),
        caps: crate::runtime::spec::CapsSpec {
            drop: vec![caps::Capability::CAP_SYS_ADMIN],
            ..Default::default()
        },
        no_new_privs: true,
        ..SandboxSpec::default()
    };
    let flags = full.clone_flags();
    let mut bare = Vec::with_capacity(a.rounds);
    let mut spawn = Vec::with_capacity(a.rounds);
    let mut case = Vec::with_capacity(a.rounds);
    for _ in 0..a.rounds {
        // A bare clone of the same namespaces from a process of its own:
        // `unshare(1)`-like floor, timed around fork+exec of the helper
        // doing nothing but clone and wait.
        let t = Instant::now();
        let ok = std::process::Command::new(&helper)
            .arg(crate::runtime::helper::HELPER_ARG)
            .arg("--bare-clone")
            .arg(flags.bits().to_string())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("isocheck bench: the bare clone failed");
            return super::EXIT_HARNESS;
        }
        bare.push(t.elapsed());
        let t = Instant::now();
        if let Err(e) = launcher.run(
            "bench",
            &SandboxSpec {
                namespaces: namespaces(),
                rootfs: crate::runtime::spec::Rootfs::Host,
                ..Default::default()
            },
            &Probe::Noop,
        ) {
            eprintln!("isocheck bench: {e}");
            return super::EXIT_HARNESS;
        }
        spawn.push(t.elapsed());
        let t = Instant::now();
        match launcher.run("bench", &full, &Probe::Noop) {
            Ok(o) if o.setup_error.is_none() => {}
            Ok(o) => {
                eprintln!("isocheck bench: sandbox set-up failed: {:?}", o.setup_error);
                return super::EXIT_HARNESS;
            }
            Err(e) => {
                eprintln!("isocheck bench: {e}");
                return super::EXIT_HARNESS;
            }
        }
        case.push(t.elapsed());
    }
    let b = median(&mut bare);
    let s = median(&mut spawn);
    let c = median(&mut case);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "isocheck bench: {} rounds, medians, variants interleaved in each round",
        a.rounds
    );
    println!(
        "  bare clone of pid+mnt+uts+ipc+net (exec + clone + wait)   {:>7.3} ms  1.00x",
        ms(b)
    );
    println!(
        "  sandbox, same namespaces, host root, no-op probe          {:>7.3} ms  {:.2}x",
        ms(s),
        ms(s) / ms(b)
    );
    println!("  full case set-up (skeleton root, proc, pivot_root,");
    println!(
        "    hostname, cap drop, no_new_privs), no-op probe          {:>7.3} ms  {:.2}x",
        ms(c),
        ms(c) / ms(b)
    );
    super::EXIT_OK
}
