//! `isocheck bench`: the per-case sandbox overhead next to a bare clone of
//! the same namespaces, measured side by side in one run, as a ratio.

use std::time::{Duration, Instant};

use crate::model::namespace::Namespace;
use crate::model::spec::{Mount, SandboxSpec};
use crate::probe::Probe;
use crate::runtime::spawn::Launcher;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Rounds (at least 1); each round times every variant once,
    /// interleaved.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
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
        caps: crate::model::spec::CapsSpec {
            drop: vec![caps::Capability::CAP_SYS_ADMIN],
            ..Default::default()
        },
        no_new_privs: true,
        ..SandboxSpec::default()
    };
    let flags = full.clone_flags();
    let mut bare = Vec::with_capacity(a.rounds as usize);
    let mut spawn = Vec::with_capacity(a.rounds as usize);
    let mut case = Vec::with_capacity(a.rounds as usize);
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
                rootfs: crate::model::spec::Rootfs::Host,
                ..Default::default()
            },
            &Probe::noop(),
        ) {
            eprintln!("isocheck bench: {e}");
            return super::EXIT_HARNESS;
        }
        spawn.push(t.elapsed());
        let t = Instant::now();
        match launcher.run("bench", &full, &Probe::noop()) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn the_median_is_the_middle_of_the_sorted_times() {
        assert_eq!(median(&mut ms(&[7])), Duration::from_millis(7));
        assert_eq!(median(&mut ms(&[9, 1, 5])), Duration::from_millis(5));
        // An even count takes the upper of the two middle values.
        assert_eq!(median(&mut ms(&[4, 1, 3, 2])), Duration::from_millis(3));
        // One outlier does not move it.
        assert_eq!(
            median(&mut ms(&[2, 2, 3, 2, 10_000])),
            Duration::from_millis(2)
        );
        let mut v = ms(&[3, 1, 2]);
        median(&mut v);
        assert_eq!(v, ms(&[1, 2, 3]), "sorted in place");
    }

    #[test]
    fn the_bare_clone_gets_the_namespaces_of_a_typical_case() {
        use nix::sched::CloneFlags as F;
        let ns = namespaces();
        assert_eq!(ns.len(), 5);
        let spec = SandboxSpec {
            namespaces: ns,
            ..SandboxSpec::default()
        };
        // The floor clones exactly these (passed to the helper as bits).
        assert_eq!(
            spec.clone_flags(),
            F::CLONE_NEWPID | F::CLONE_NEWNS | F::CLONE_NEWUTS | F::CLONE_NEWIPC | F::CLONE_NEWNET
        );
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
