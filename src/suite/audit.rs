//! `isocheck audit`: what the kernel config and the policy knobs promise,
//! lined up with what probes that try each feature observe, and every
//! disagreement explained.

use super::gates::{self, Gate};
use super::requirements::{is_harness_errno, Refusal, Tried};
use crate::model::cgroup::CgroupLimits;
use crate::model::cgroup::Layout;
use crate::model::host::{HostFacts, Tristate};
use crate::model::namespace::Namespace;
use crate::model::result::{Audit, AuditCheck, AuditStatus};
use crate::runtime::cgroups;
use crate::runtime::spawn::Launcher;

/// What a probe of one feature saw: `Ok(detail)` it works, a refusal
/// (the kernel's answer, or the harness's failure to ask), `None` not
/// tried.
type Seen = Option<Tried>;

/// A refusal as the audit shows it.
fn refused(step: &str, errno: &str) -> Refusal {
    Refusal::Kernel {
        step: step.into(),
        errno: errno.into(),
    }
}

fn config_of(host: &HostFacts, options: &[&str]) -> (String, Option<bool>) {
    if !host.kconfig.is_known() {
        return ("unknown (no kernel config found)".into(), None);
    }
    let mut parts = Vec::new();
    let mut all = Some(true);
    for o in options {
        // Every option a check names is recorded (a gates test says so):
        // one missing had a line with no value that can be read.
        let Some(v) = host.kconfig.get(o) else {
            parts.push(format!("{o}=? (its line has no value)"));
            all = None;
            continue;
        };
        let Some(on) = v.built() else {
            parts.push(format!("{o}={v} (not y, m or n)"));
            all = None;
            continue;
        };
        all = all.map(|a| a && on);
        parts.push(format!(
            "{o}={}",
            if on {
                if v == Tristate::Module {
                    "m"
                } else {
                    "y"
                }
            } else {
                "n"
            }
        ));
    }
    (parts.join(", "), all)
}

/// A knob with its value, and whether that value blocks the feature.
struct KnobSeen {
    shown: String,
    blocks: bool,
    hint: Option<String>,
}

/// The gate's knob as this host has it; `None` when it is not there.
fn knob(host: &HostFacts, gate: &Gate) -> Option<KnobSeen> {
    let v = host.sysctl(gate.sysctl)?;
    Some(KnobSeen {
        shown: gate.shown(v),
        blocks: gate.blocks(v),
        hint: Some(gate.hint.to_string()),
    })
}

/// Decides the status from config, knobs and behaviour.
fn judge(
    feature: &str,
    config: (String, Option<bool>),
    knobs: Vec<KnobSeen>,
    probe: &str,
    seen: Seen,
) -> AuditCheck {
    let (config_text, built) = config;
    let policy: Vec<String> = knobs.iter().map(|k| k.shown.clone()).collect();
    let blocker = knobs.iter().find(|k| k.blocks);
    let (behaviour, status, explanation, hint) = match (&seen, built) {
        // Checked first: a probe that broke tells nothing, and no knob or
        // security module is blamed for it.
        (Some(Err(Refusal::Harness(cause))), _) => (
            format!("the probe broke: {cause}"),
            AuditStatus::Error,
            "isocheck could not ask the kernel (a harness or environment failure, not the kernel's answer)".into(),
            None,
        ),
        (None, Some(true)) => ("not tried (needs root)".into(), AuditStatus::Unprobed, "built; not tried".into(), None),
        (None, Some(false)) => ("not tried (needs root)".into(), AuditStatus::Absent, format!("the kernel is built without {feature}"), None),
        (None, None) => ("not tried (needs root)".into(), AuditStatus::Unprobed, "neither config nor behaviour known".into(), None),
        (Some(Ok(d)), Some(false)) => (
            d.clone(),
            AuditStatus::Disagree,
            format!("the config says {feature} is not built, yet it works: the config file may not belong to the running kernel"),
            None,
        ),
        (Some(Ok(d)), _) => (d.clone(), AuditStatus::Ok, "works as built".into(), None),
        (Some(Err(d)), Some(false)) => (d.to_string(), AuditStatus::Absent, format!("not built ({})", config_text), None),
        (Some(Err(d)), _) if blocker.is_some() => {
            let k = blocker.unwrap();
            (d.to_string(), AuditStatus::Blocked, format!("built, but {} blocks it", k.shown), k.hint.clone())
        }
        (Some(Err(d)), Some(true)) => (
            d.to_string(),
            AuditStatus::Disagree,
            format!("built ({config_text}) but it fails and no knob explains it: a security module, a seccomp filter or a container around isocheck may refuse it"),
            None,
        ),
        (Some(Err(d)), None) => (d.to_string(), AuditStatus::Absent, format!("it fails, and the kernel config cannot say why: {config_text}"), None),
    };
    AuditCheck {
        feature: feature.into(),
        config: config_text,
        policy,
        probe: probe.into(),
        behaviour,
        status,
        explanation,
        hint,
    }
}

/// Runs every audit check. Behaviour probes that need root are skipped
/// (status `unprobed`) when isocheck is not root.
pub fn audit(host: &HostFacts, launcher: &Launcher) -> Audit {
    // Root with every capability its rootful sandboxes use: without one
    // (CAP_DAC_OVERRIDE, say) a probe's failure would be read as the
    // host's answer.
    let root = crate::sys::caps::privileged()
        && super::requirements::lacking_caps().is_ok_and(|l| l.is_empty());
    let mut checks = Vec::new();

    // The sandboxes the audit tries run at once: each waits mostly on the
    // kernel (namespace set-up and teardown), not on a CPU.
    let namespaces = [
        Namespace::Pid,
        Namespace::Net,
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Cgroup,
        Namespace::Time,
    ];
    let unusable = super::requirements::emulated_user_unusable(host);
    let (seen, mut ns_seen) = std::thread::scope(|s| {
        // Each in a sandbox (the runtime's own path, which the audit
        // describes), on a thread of its own; with no thread to spare (a
        // pids limit, say), here.
        let each: Vec<_> = namespaces
            .iter()
            .map(|&ns| {
                let probe =
                    move || root.then(|| super::requirements::namespace_probe(launcher, ns));
                std::thread::Builder::new()
                    .spawn_scoped(s, probe)
                    .map_err(|_| probe())
            })
            .collect();
        // A root runner that cannot stand in for the rootless user (nested
        // in a user namespace that lacks that user's ids, or without a
        // capability the stand-in uses) has nothing to try.
        let userns = unusable
            .is_none()
            .then(|| super::requirements::userns_probe(launcher));
        let each: Vec<Seen> = each
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)),
                Err(seen) => seen,
            })
            .collect();
        (userns, each.into_iter())
    });

    // Unprivileged user namespaces, the root of rootless containers.
    let mut knobs: Vec<KnobSeen> = gates::USERNS_GATES
        .iter()
        .filter_map(|g| knob(host, g))
        .collect();
    // A user namespace that is made but whose capabilities are refused is
    // the mark of an LSM policy, even with no knob to show.
    if let Some(Err(Refusal::Kernel { step, .. })) = &seen {
        if gates::refused_after_creation(step) && !knobs.iter().any(|k| k.blocks) {
            knobs.push(KnobSeen {
                shown: "a security module (capabilities refused inside the new user namespace)"
                    .into(),
                blocks: true,
                hint: None,
            });
        }
    }
    let mut check = judge(
        "unprivileged user namespaces",
        config_of(host, &[gates::namespace(Namespace::User).config]),
        knobs,
        "create a user namespace as an unprivileged uid, then a private mount namespace in it",
        seen,
    );
    if let Some(why) = unusable {
        check.behaviour = format!("not tried: {why}");
    }
    checks.push(check);

    // Each namespace kind, created for real by a rootful sandbox.
    for ns in namespaces {
        let seen = ns_seen.next().flatten();
        let facts = gates::namespace(ns);
        let knobs = knob(host, &facts.limit).into_iter().collect();
        checks.push(judge(
            &format!("{ns} namespaces"),
            config_of(host, &[facts.config]),
            knobs,
            &format!(
                "clone a sandbox with CLONE_NEW{}",
                ns.as_str().to_uppercase()
            ),
            seen,
        ));
    }

    // cgroup controllers, used through isocheck's own cgroup.
    for (ctrl, limits) in [
        (
            "memory",
            CgroupLimits {
                memory_max: Some(64 << 20),
                ..Default::default()
            },
        ),
        (
            "pids",
            CgroupLimits {
                pids_max: Some(64),
                ..Default::default()
            },
        ),
        (
            "cpu",
            CgroupLimits {
                cpu_max: Some(crate::model::cgroup::CpuMax {
                    quota_us: Some(10_000),
                    period_us: 100_000,
                }),
                ..Default::default()
            },
        ),
    ] {
        let layout = host.cgroup.layout;
        let seen = root.then(|| {
            if layout == Layout::None {
                return Err(refused("statfs", "no cgroup file system at /sys/fs/cgroup"));
            }
            match cgroups::create(
                std::path::Path::new(cgroups::CGROUP_ROOT),
                layout,
                &format!("{}-audit-{ctrl}", std::process::id()),
                &limits,
            ) {
                Ok(mut cg) => {
                    let where_ = cg
                        .dirs()
                        .iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ");
                    let _ = cg.remove();
                    Ok(format!("made a cgroup with a {ctrl} limit at {where_}"))
                }
                Err(e) => {
                    // The errno of the cgroup operation is the kernel's
                    // answer, unless it speaks of the environment.
                    let errno = match &e {
                        cgroups::CgroupError::Write { source, .. }
                        | cgroups::CgroupError::Read { source, .. }
                        | cgroups::CgroupError::Create { source, .. }
                        | cgroups::CgroupError::Remove { source, .. } => source
                            .raw_os_error()
                            .map(|n| format!("{:?}", nix::errno::Errno::from_raw(n))),
                        cgroups::CgroupError::ControllerAbsent(_) => None,
                    };
                    if errno.as_deref().is_some_and(is_harness_errno) {
                        Err(Refusal::Harness(e.to_string()))
                    } else {
                        Err(refused("create-cgroup", &e.to_string()))
                    }
                }
            }
        });
        let mut knobs = Vec::new();
        if let Some(m) = cgroups::v2_mount(layout) {
            let enabled =
                std::fs::read_to_string(m.join("cgroup.subtree_control")).unwrap_or_default();
            let on = gates::subtree_enables(&enabled, ctrl);
            let in_root = host.cgroup.v2_controllers.iter().any(|c| c == ctrl);
            if in_root && !host.cgroup.v1_controllers.iter().any(|c| c == ctrl) {
                knobs.push(KnobSeen {
                    shown: format!(
                        "{}/cgroup.subtree_control: {}",
                        m.display(),
                        if on {
                            format!("+{ctrl}")
                        } else {
                            format!("no {ctrl}")
                        }
                    ),
                    blocks: !on,
                    hint: Some(gates::subtree_control_hint(&m, ctrl)),
                });
            }
        }
        checks.push(judge(
            &format!("{ctrl} controller"),
            config_of(host, gates::controller_config(ctrl)),
            knobs,
            &format!("create a cgroup with a {ctrl} limit under isocheck's parent"),
            seen,
        ));
    }

    // seccomp filters: the status file shows the field only when built.
    let seen = match std::fs::read_to_string("/proc/self/status") {
        Err(e) => Err(Refusal::Harness(format!("reading /proc/self/status: {e}"))),
        Ok(status) if status.lines().any(|l| l.starts_with("Seccomp_filters:")) => {
            Ok("/proc/self/status has Seccomp_filters".to_string())
        }
        Ok(status) if status.lines().any(|l| l.starts_with("Seccomp:")) => {
            Ok("/proc/self/status has Seccomp".to_string())
        }
        Ok(_) => Err(refused("read /proc/self/status", "no Seccomp field")),
    };
    checks.push(judge(
        "seccomp filters",
        config_of(host, gates::SECCOMP_CONFIG),
        Vec::new(),
        "read /proc/self/status",
        Some(seen),
    ));

    let kconfig = match &host.kconfig.source {
        Some(s) => s.clone(),
        None => format!("unknown (tried: {})", host.kconfig.tried.join("; ")),
    };
    Audit {
        kconfig,
        kconfig_sha256: host.kconfig.sha256.clone(),
        checks,
    }
}

/// The audit as aligned text.
pub fn render_text(a: &Audit) -> String {
    let mut out = format!("kernel config: {}\n", a.kconfig);
    if let Some(h) = &a.kconfig_sha256 {
        out += &format!("config sha256: {h}\n");
    }
    for c in &a.checks {
        out += &format!("\n{:<9} {}\n", c.status.as_str().to_uppercase(), c.feature);
        out += &format!("          config:    {}\n", c.config);
        if !c.policy.is_empty() {
            out += &format!("          policy:    {}\n", c.policy.join(", "));
        }
        out += &format!(
            "          probe:     {}\n          saw:       {}\n          therefore: {}\n",
            c.probe, c.behaviour, c.explanation
        );
        if let Some(h) = &c.hint {
            out += &format!("          hint:      {h}\n");
        }
    }
    let problems = a.problems().count();
    out += &format!(
        "\n{} checks, {} ok, {problems} problems\n",
        a.checks.len(),
        a.checks
            .iter()
            .filter(|c| c.status == AuditStatus::Ok)
            .count()
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn host(config: Option<&[(&str, Tristate)]>, knobs: &[(&str, &str)]) -> HostFacts {
        let mut h = HostFacts::default();
        if let Some(opts) = config {
            h.kconfig.source = Some("/boot/config-test".into());
            for (k, v) in opts {
                h.kconfig.options.insert(k.to_string(), v.clone());
            }
        }
        for (k, v) in knobs {
            h.sysctls.insert(
                k.to_string(),
                crate::model::host::Knob::Value(v.to_string()),
            );
        }
        h
    }

    #[rstest]
    #[case::works(Some(Tristate::Yes), &[], Some(Ok("made".to_string())), AuditStatus::Ok)]
    #[case::blocked_by_sysctl(Some(Tristate::Yes), &[("user.max_user_namespaces", "0")], Some(Err(refused("unshare-user", "EPERM"))), AuditStatus::Blocked)]
    #[case::unexplained(Some(Tristate::Yes), &[("user.max_user_namespaces", "100")], Some(Err(refused("unshare-user", "EPERM"))), AuditStatus::Disagree)]
    #[case::not_built(Some(Tristate::No), &[], Some(Err(refused("unshare-user", "EINVAL"))), AuditStatus::Absent)]
    #[case::config_lies(Some(Tristate::No), &[], Some(Ok("made".to_string())), AuditStatus::Disagree)]
    #[case::unknown_config_works(None, &[], Some(Ok("made".to_string())), AuditStatus::Ok)]
    #[case::not_tried(Some(Tristate::Yes), &[], None, AuditStatus::Unprobed)]
    #[case::probe_broke(Some(Tristate::Yes), &[], Some(Err(Refusal::Harness("the helper failed (status signal: 9 (SIGKILL))".into()))), AuditStatus::Error)]
    #[case::probe_broke_while_a_knob_blocks(Some(Tristate::Yes), &[("user.max_user_namespaces", "0")], Some(Err(Refusal::Harness("the helper failed (status signal: 9 (SIGKILL))".into()))), AuditStatus::Error)]
    #[case::probe_broke_not_built(Some(Tristate::No), &[], Some(Err(Refusal::Harness("step pipe : EMFILE".into()))), AuditStatus::Error)]
    fn config_knobs_and_behaviour_are_lined_up(
        #[case] built: Option<Tristate>,
        #[case] knobs: &[(&str, &str)],
        #[case] seen: Seen,
        #[case] want: AuditStatus,
    ) {
        let opts = built.map(|b| vec![("CONFIG_USER_NS", b)]);
        let h = host(opts.as_deref(), knobs);
        let ks = knob(&h, &gates::MAX_USER_NAMESPACES).into_iter().collect();
        let c = judge(
            "user namespaces",
            config_of(&h, &["CONFIG_USER_NS"]),
            ks,
            "try",
            seen,
        );
        assert_eq!(c.status, want, "{c:?}");
        if want == AuditStatus::Blocked {
            assert!(
                c.explanation.contains("user.max_user_namespaces=0") && c.hint.is_some(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn an_option_whose_value_is_unknown_is_not_read_as_off() {
        // CONFIG_USER_NS had a line with no value: not recorded.
        let h = host(Some(&[("CONFIG_PID_NS", Tristate::Yes)]), &[]);
        let (text, built) = config_of(&h, &["CONFIG_PID_NS", "CONFIG_USER_NS"]);
        assert_eq!(built, None);
        assert_eq!(
            text,
            "CONFIG_PID_NS=y, CONFIG_USER_NS=? (its line has no value)"
        );
        // Working is then OK, never DISAGREE; refused is not blamed on
        // the build alone.
        let c = judge(
            "user namespaces",
            config_of(&h, &["CONFIG_USER_NS"]),
            Vec::new(),
            "try",
            Some(Ok("made".into())),
        );
        assert_eq!(c.status, AuditStatus::Ok, "{c:?}");
        let c = judge(
            "user namespaces",
            config_of(&h, &["CONFIG_USER_NS"]),
            Vec::new(),
            "try",
            Some(Err(refused("unshare-user", "EINVAL"))),
        );
        assert!(c.explanation.contains("CONFIG_USER_NS=?"), "{c:?}");
        // A value that is not y, m or n, for an on/off option, likewise.
        let h = host(
            Some(&[("CONFIG_USER_NS", Tristate::Value(String::new()))]),
            &[],
        );
        let (text, built) = config_of(&h, &["CONFIG_USER_NS"]);
        assert_eq!(
            (text.as_str(), built),
            ("CONFIG_USER_NS=\"\" (not y, m or n)", None)
        );
    }

    #[test]
    fn text_names_every_problem() {
        let h = host(
            Some(&[("CONFIG_USER_NS", Tristate::Yes)]),
            &[("user.max_user_namespaces", "0")],
        );
        let ks = knob(&h, &gates::MAX_USER_NAMESPACES).into_iter().collect();
        let a = Audit {
            kconfig: "/boot/config-test".into(),
            kconfig_sha256: None,
            checks: vec![judge(
                "user namespaces",
                config_of(&h, &["CONFIG_USER_NS"]),
                ks,
                "try",
                Some(Err(refused("unshare-user", "ENOSPC"))),
            )],
        };
        let t = render_text(&a);
        assert!(
            t.contains("BLOCKED   user namespaces")
                && t.contains("hint:      sysctl -w")
                && t.contains("1 problems"),
            "{t}"
        );
    }
}
