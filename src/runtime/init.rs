//! The sandbox side: mount propagation, the new root and its mounts,
//! masked and read-only paths, pivot_root, hostname, the bounding set,
//! ids, capabilities, no_new_privs and last a seccomp filter. Runs in the
//! cloned child, through the [`Syscall`] seam only.

use caps::{CapSet, Capability};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::mounts;
use super::sabotage::{self, Sabotage};
use super::spec::{Namespace, Propagation, Rootfs, SandboxSpec};
use super::syscall::Syscall;
use crate::model::error::{Cause, StepError};

/// How the sandbox got its root.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RootKind {
    /// pivot_root, old root detached.
    PivotRoot,
    /// pivot_root was impossible (e.g. the host root is an initramfs):
    /// the new root was moved over / and chroot'ed into.
    Chroot,
    /// The sandbox kept the host's root.
    Host,
}

/// What the set-up did that a reader of the report should know.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SetupRecord {
    pub root: RootKind,
    /// Why pivot_root was not used, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pivot_root_errno: Option<String>,
}

/// Where the sandbox's new root is assembled and what to bind into it.
pub struct InitContext<'a> {
    pub spec: &'a SandboxSpec,
    /// An empty host directory the new root is mounted on (inside the
    /// sandbox's private mount namespace only).
    pub root_dir: &'a Path,
    /// The case's scratch directory, for `BindSource::Scratch`.
    pub scratch: Option<&'a Path>,
}

/// Builds the sandbox in the calling process. On return the process is in
/// its new root, with its hostname, ids and capabilities set.
pub fn build(ctx: &InitContext<'_>, sys: &dyn Syscall) -> Result<SetupRecord, StepError> {
    let spec = ctx.spec;
    let mut record = SetupRecord {
        root: RootKind::Host,
        pivot_root_errno: None,
    };
    if spec.has(Namespace::Cgroup)
        && !sabotage::hit(Sabotage::NsCgroupDropped)
        && !sabotage::hit(Sabotage::CgroupNsBeforeJoin)
    {
        // Now that the sandbox is in its own cgroup, that cgroup becomes
        // the new namespace's root.
        sys.unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| StepError::new("unshare-cgroup", "", e))?;
    }
    if spec.has(Namespace::User) && !spec.uid_map.is_empty() {
        // The clone kept the host's ids, which the new namespace does not
        // map; become its root so that files made below have a mapped owner.
        // (Without a map there is no root to become: the ids stay unmapped.)
        match sys.setgroups(&[]) {
            Ok(()) | Err(Errno::EPERM) => {}
            Err(e) => return Err(StepError::new("setgroups", "[]", e)),
        }
        sys.setresgid(0)
            .map_err(|e| StepError::new("setresgid", "0", e))?;
        sys.setresuid(0)
            .map_err(|e| StepError::new("setresuid", "0", e))?;
    }
    if spec.has(Namespace::Mount) {
        // Nothing done below may propagate back to the host: private by
        // default; slave lets mounts come in only; shared is allowed only in
        // a throwaway outer mount namespace (see `SandboxSpec::validate`).
        let mut prop = spec.root_propagation;
        if prop == Propagation::Slave && sabotage::hit(Sabotage::PropagationShared) {
            prop = Propagation::Shared;
        }
        sys.mount(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_REC | prop.flag(),
            None,
        )
        .map_err(|e| StepError::new(&format!("make-{}", prop.as_str()), "/", e))?;
        let new_root: Option<PathBuf> = match &spec.rootfs {
            Rootfs::Host => None,
            Rootfs::Skeleton => {
                mounts::skeleton(ctx.root_dir, sys)?;
                Some(ctx.root_dir.to_path_buf())
            }
            Rootfs::Dir { path } => Some(mounts::overlay_root(path, ctx.root_dir, sys)?),
        };
        let base = new_root.clone().unwrap_or_else(|| PathBuf::from("/"));
        // /proc must be mounted before the old root is detached: in a user
        // namespace a proc mount needs a fully visible proc to exist.
        for m in &spec.mounts {
            mounts::apply(m, &base, ctx.scratch, new_root.is_some(), sys)?;
        }
        // As runc: read-only paths first, then masked ones (a masked path
        // may lie below a read-only one).
        for p in &spec.readonly_paths {
            if !sabotage::hit(Sabotage::ReadonlyPathsSkipped) {
                mounts::readonly_path(&base, p, sys)?;
            }
        }
        for p in &spec.masked_paths {
            if !sabotage::hit(Sabotage::MaskedPathsSkipped) {
                mounts::mask(&base, p, sys)?;
            }
        }
        if let Some(root) = new_root {
            record = enter_root(&root, sys)?;
        }
    }
    if let Some(name) = spec
        .hostname
        .as_ref()
        .filter(|_| !sabotage::hit(Sabotage::HostnameNotSet))
    {
        sys.sethostname(name)
            .map_err(|e| StepError::new("sethostname", name, e))?;
    }
    // The bounding set is dropped while the process still has CAP_SETPCAP
    // in its effective set, which a change to a non-root uid clears.
    if !spec.caps.is_empty() && !sabotage::hit(Sabotage::BoundingDropSkipped) {
        drop_bounding(spec, sys)?;
    }
    if let Some(ids) = spec.user {
        // setgroups is refused after `deny` in a user namespace; the
        // supplementary groups are then already empty.
        match sys.setgroups(&[ids.gid]) {
            Ok(()) | Err(Errno::EPERM) => {}
            Err(e) => return Err(StepError::new("setgroups", ids.gid.to_string(), e)),
        }
        // With capabilities to set, keep the permitted set across the uid
        // change; without, a non-root user gets none, as after any setuid.
        let keep = !spec.caps.is_empty();
        if keep || sabotage::hit(Sabotage::KeepCapsAlways) {
            sys.keep_caps(true)
                .map_err(|e| StepError::new("keepcaps", "", e))?;
        }
        sys.setresgid(ids.gid)
            .map_err(|e| StepError::new("setresgid", ids.gid.to_string(), e))?;
        sys.setresuid(ids.uid)
            .map_err(|e| StepError::new("setresuid", ids.uid.to_string(), e))?;
        if keep && !sabotage::hit(Sabotage::KeepCapsAlways) {
            sys.keep_caps(false)
                .map_err(|e| StepError::new("keepcaps", "", e))?;
        }
    }
    if !spec.caps.is_empty() && !sabotage::hit(Sabotage::CapSetsNotApplied) {
        set_cap_sets(spec, sys)?;
    }
    if spec.no_new_privs && !sabotage::hit(Sabotage::NoNewPrivsSkipped) {
        sys.set_no_new_privs()
            .map_err(|e| StepError::new("no_new_privs", "", e))?;
    }
    // Last: from here on the filter applies to everything, the probe too.
    if let Some(sc) = &spec.seccomp {
        let prog = super::seccomp::compile(sc).map_err(|e| {
            StepError::with("seccomp-compile", sc.deny.join(","), Cause::Seccomp(e))
        })?;
        if !sabotage::hit(Sabotage::SeccompNotInstalled) {
            sys.install_seccomp(&prog)
                .map_err(|e| StepError::new("seccomp", sc.deny.join(","), e))?;
        }
    }
    Ok(record)
}

/// pivot_root into `root` and detach the old root; where pivot_root is
/// impossible, move the new root over / and chroot.
fn enter_root(root: &Path, sys: &dyn Syscall) -> Result<SetupRecord, StepError> {
    sys.chdir(root)
        .map_err(|e| StepError::new("chdir", root, e))?;
    match sys.pivot_root(Path::new("."), Path::new(".")) {
        Ok(()) => {
            // The old root is now stacked under the new one at "/".
            if !sabotage::hit(Sabotage::OldRootAttached) {
                sys.umount2(Path::new("."), MntFlags::MNT_DETACH)
                    .map_err(|e| StepError::new("detach-old-root", "/", e))?;
            }
            sys.chdir(Path::new("/"))
                .map_err(|e| StepError::new("chdir", "/", e))?;
            Ok(SetupRecord {
                root: RootKind::PivotRoot,
                pivot_root_errno: None,
            })
        }
        Err(e @ Errno::EINVAL) => {
            sys.mount(Some(root), Path::new("/"), None, MsFlags::MS_MOVE, None)
                .map_err(|e| StepError::new("move-root", root, e))?;
            sys.chroot(Path::new("."))
                .map_err(|e| StepError::new("chroot", root, e))?;
            sys.chdir(Path::new("/"))
                .map_err(|e| StepError::new("chdir", "/", e))?;
            Ok(SetupRecord {
                root: RootKind::Chroot,
                pivot_root_errno: Some(format!("{e:?}")),
            })
        }
        Err(e) => Err(StepError::new("pivot_root", root, e)),
    }
}

/// The capabilities `set` should hold: the spec's list, or what the set
/// holds now, less `drop`.
fn cap_target(
    spec: &SandboxSpec,
    set: CapSet,
    given: &Option<Vec<Capability>>,
    sys: &dyn Syscall,
) -> Result<Vec<Capability>, StepError> {
    let base = match given {
        Some(list) => list.clone(),
        None => sys
            .read_caps(set)
            .map_err(|e| StepError::new("capget", format!("{set:?}"), e))?,
    };
    let mut v: Vec<Capability> = base
        .into_iter()
        .filter(|cap| !spec.caps.drop.contains(cap))
        .collect();
    v.sort_by_key(|cap| cap.index());
    v.dedup();
    Ok(v)
}

/// Capabilities are per thread and the order matters: the bounding set
/// first (dropping needs CAP_SETPCAP, so before the ids change), then,
/// after the ids, [`set_cap_sets`].
fn drop_bounding(spec: &SandboxSpec, sys: &dyn Syscall) -> Result<(), StepError> {
    let bounding = cap_target(spec, CapSet::Bounding, &spec.caps.bounding, sys)?;
    let current_bounding = sys
        .read_caps(CapSet::Bounding)
        .map_err(|e| StepError::new("capget", "Bounding", e))?;
    let mut to_drop: Vec<Capability> = current_bounding
        .into_iter()
        .filter(|cap| !bounding.contains(cap))
        .collect();
    to_drop.sort_by_key(|cap| cap.index());
    for cap in to_drop {
        sys.drop_bounding(cap)
            .map_err(|e| StepError::new("drop-bounding", cap.to_string(), e))?;
    }
    Ok(())
}

/// Ambient, inheritable, effective and last permitted (effective must stay
/// a subset of it).
fn set_cap_sets(spec: &SandboxSpec, sys: &dyn Syscall) -> Result<(), StepError> {
    let c = &spec.caps;
    for (set, given) in [
        (CapSet::Ambient, &c.ambient),
        (CapSet::Inheritable, &c.inheritable),
        (CapSet::Effective, &c.effective),
        (CapSet::Permitted, &c.permitted),
    ] {
        let want = match sabotaged_set(spec, set, sys)? {
            Some(SetBug::Skip) => continue,
            Some(SetBug::Write(v)) => v,
            None => cap_target(spec, set, given, sys)?,
        };
        sys.set_caps(set, &want)
            .map_err(|e| StepError::new("capset", format!("{set:?}"), e))?;
    }
    Ok(())
}

/// What a capability-set sabotage does to one set's step.
enum SetBug {
    /// The step is left out.
    Skip,
    /// The set is written with this list instead.
    Write(Vec<Capability>),
}

/// The capability-set sabotages: the bug for `set`, if one is active there.
fn sabotaged_set(
    spec: &SandboxSpec,
    set: CapSet,
    sys: &dyn Syscall,
) -> Result<Option<SetBug>, StepError> {
    let read = |s: CapSet| {
        sys.read_caps(s)
            .map_err(|e| StepError::new("capget", format!("{s:?}"), e))
    };
    Ok(match set {
        CapSet::Ambient if sabotage::hit(Sabotage::AmbientRaised) => {
            let mut v = read(CapSet::Ambient)?;
            v.extend(spec.caps.drop.iter().copied());
            Some(SetBug::Write(v))
        }
        CapSet::Inheritable if sabotage::hit(Sabotage::InheritableFull) => {
            Some(SetBug::Write(read(CapSet::Permitted)?))
        }
        CapSet::Effective if sabotage::hit(Sabotage::EffectiveNotReduced) => {
            Some(SetBug::Write(read(CapSet::Effective)?))
        }
        CapSet::Permitted if sabotage::hit(Sabotage::PermittedNotReduced) => Some(SetBug::Skip),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spec::{BindSource, CapsSpec, Ids, Mount, Propagation};
    use crate::runtime::syscall::RecordingSyscall;
    use rstest::rstest;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            namespaces: [Namespace::Pid, Namespace::Mount, Namespace::Uts]
                .into_iter()
                .collect(),
            mounts: vec![
                Mount::Proc {
                    target: "/proc".into(),
                },
                Mount::Bind {
                    source: BindSource::Scratch,
                    target: "/data".into(),
                    readonly: true,
                },
            ],
            hostname: Some("sbx".into()),
            ..SandboxSpec::default()
        }
    }

    fn sys() -> RecordingSyscall {
        let mut s = RecordingSyscall::default();
        s.host.insert("/usr".into(), (true, None));
        s.host
            .insert("/bin".into(), (false, Some("usr/bin".into())));
        s.host.insert("/dev/null".into(), (false, None));
        s
    }

    fn ctx(spec: &SandboxSpec) -> InitContext<'_> {
        InitContext {
            spec,
            root_dir: Path::new("/run/iso/root"),
            scratch: Some(Path::new("/run/iso/scratch")),
        }
    }

    #[test]
    fn proc_is_mounted_before_the_old_root_is_detached() {
        let s = sys();
        let sp = spec();
        let rec = build(&ctx(&sp), &s).unwrap();
        assert_eq!(rec.root, RootKind::PivotRoot);
        let proc_at = s
            .position("mount proc /run/iso/root/proc proc")
            .expect("proc mounted");
        let pivot = s.position("pivot_root . .").unwrap();
        let detach = s.position("umount2 . ").unwrap();
        assert!(s.position("mount - / - MS_REC|MS_PRIVATE").unwrap() < proc_at);
        assert!(proc_at < pivot && pivot < detach, "{:#?}", s.calls());
    }

    #[test]
    fn readonly_bind_keeps_the_source_locked_flags() {
        let s = sys();
        build(&ctx(&spec()), &s).unwrap();
        let calls = s.calls();
        let bind = s
            .position("mount /run/iso/scratch /run/iso/root/data - MS_BIND")
            .unwrap();
        let remount = calls
            .iter()
            .position(|c| c.starts_with("mount - /run/iso/root/data") && c.contains("MS_REMOUNT"))
            .unwrap();
        assert!(bind < remount);
        let line = &calls[remount];
        for f in ["MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_BIND"] {
            assert!(line.contains(f), "{line} lacks {f}");
        }
    }

    #[test]
    fn skeleton_recreates_symlinks_and_binds_directories_readonly() {
        let s = sys();
        build(&ctx(&spec()), &s).unwrap();
        assert!(
            s.position("symlink usr/bin /run/iso/root/bin").is_some(),
            "{:#?}",
            s.calls()
        );
        assert!(s
            .position("mount /usr /run/iso/root/usr - MS_BIND|MS_REC")
            .is_some());
        assert!(s
            .position("mount /dev/null /run/iso/root/dev/null - MS_BIND")
            .is_some());
        assert!(
            s.position("mount /lib64").is_none(),
            "absent host dirs are not bound"
        );
    }

    #[test]
    fn pivot_root_einval_falls_back_to_move_and_chroot() {
        let s = sys().failing("pivot_root", Errno::EINVAL);
        let rec = build(&ctx(&spec()), &s).unwrap();
        assert_eq!(
            rec,
            SetupRecord {
                root: RootKind::Chroot,
                pivot_root_errno: Some("EINVAL".into())
            }
        );
        assert!(
            s.position("mount /run/iso/root / - MS_MOVE").unwrap()
                < s.position("chroot .").unwrap()
        );
    }

    #[rstest]
    #[case::private("mount - / -", "make-private")]
    #[case::tmpfs_root("mount tmpfs /run/iso/root", "mount-skeleton")]
    #[case::proc("mount proc", "mount-proc")]
    #[case::bind("mount /run/iso/scratch", "bind")]
    #[case::pivot("pivot_root", "pivot_root")]
    #[case::detach("umount2", "detach-old-root")]
    #[case::hostname("sethostname", "sethostname")]
    fn each_failing_step_is_named(#[case] prefix: &str, #[case] step: &str) {
        let s = sys().failing(prefix, Errno::EPERM);
        let err = build(&ctx(&spec()), &s).unwrap_err();
        assert_eq!(
            (err.step.as_str(), err.cause.to_string().as_str()),
            (step, "EPERM"),
            "{err}"
        );
    }

    #[test]
    fn caps_drop_bounding_first_then_effective_before_permitted() {
        let s = sys();
        let sp = SandboxSpec {
            caps: CapsSpec {
                drop: vec![Capability::CAP_CHOWN],
                ..Default::default()
            },
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        let drop = s.position("drop Bounding CAP_CHOWN").unwrap();
        let amb = s.position("set Ambient").unwrap();
        let inh = s.position("set Inheritable").unwrap();
        let eff = s.position("set Effective").unwrap();
        let perm = s.position("set Permitted").unwrap();
        assert!(drop < amb && amb < inh && inh < eff && eff < perm);
        let calls = s.calls();
        assert!(!calls[perm].contains("CAP_CHOWN") && calls[perm].contains("CAP_SETUID"));
    }

    #[test]
    fn bounding_is_dropped_before_the_ids_change_and_sets_after() {
        let s = sys();
        let sp = SandboxSpec {
            user: Some(Ids {
                uid: 1000,
                gid: 1000,
            }),
            caps: CapsSpec {
                drop: vec![Capability::CAP_CHOWN],
                ..Default::default()
            },
            no_new_privs: true,
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        // Dropping from the bounding set needs CAP_SETPCAP in the effective
        // set, which the change to uid 1000 clears.
        let order: Vec<usize> = [
            "drop Bounding CAP_CHOWN",
            "keepcaps true",
            "setresgid 1000",
            "setresuid 1000",
            "keepcaps false",
            "set Ambient",
            "set Permitted",
            "no_new_privs",
        ]
        .iter()
        .map(|p| s.position(p).unwrap_or_else(|| panic!("{p} missing")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{:#?}", s.calls());
    }

    #[test]
    fn a_user_without_caps_to_set_keeps_none() {
        let s = sys();
        let sp = SandboxSpec {
            user: Some(Ids {
                uid: 1000,
                gid: 1000,
            }),
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        assert!(s.position("setresuid 1000").is_some());
        assert!(
            s.position("keepcaps").is_none() && s.position("set ").is_none(),
            "{:#?}",
            s.calls()
        );
    }

    #[test]
    fn seccomp_is_installed_last_after_no_new_privs() {
        let s = sys();
        let sp = SandboxSpec {
            user: Some(Ids {
                uid: 1000,
                gid: 1000,
            }),
            caps: CapsSpec {
                drop: vec![Capability::CAP_CHOWN],
                ..Default::default()
            },
            no_new_privs: true,
            seccomp: Some(crate::runtime::spec::SeccompSpec {
                deny: vec!["uname".into()],
                errno: "EPERM".into(),
            }),
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        let calls = s.calls();
        let sc = s.position("seccomp ").unwrap();
        assert_eq!(sc, calls.len() - 1, "{calls:#?}");
        assert!(s.position("no_new_privs").unwrap() < sc);
    }

    #[rstest]
    #[case::seccomp("seccomp ", "seccomp", "EINVAL")]
    #[case::nnp("no_new_privs", "no_new_privs", "EINVAL")]
    fn a_failing_seccomp_or_nnp_step_is_named(
        #[case] prefix: &str,
        #[case] step: &str,
        #[case] errno: &str,
    ) {
        let s = sys().failing(prefix, Errno::EINVAL);
        let sp = SandboxSpec {
            no_new_privs: true,
            seccomp: Some(crate::runtime::spec::SeccompSpec {
                deny: vec!["uname".into()],
                errno: "EPERM".into(),
            }),
            ..spec()
        };
        let err = build(&ctx(&sp), &s).unwrap_err();
        assert_eq!(
            (err.step.as_str(), err.cause.to_string().as_str()),
            (step, errno)
        );
        if step == "no_new_privs" {
            assert!(s.position("seccomp").is_none(), "no filter after a failure");
        }
    }

    #[rstest]
    #[case::private(Propagation::Private, "MS_REC|MS_PRIVATE")]
    #[case::slave(Propagation::Slave, "MS_REC|MS_SLAVE")]
    fn root_propagation_is_set_before_anything_is_mounted(
        #[case] prop: Propagation,
        #[case] flags: &str,
    ) {
        let s = sys();
        let sp = SandboxSpec {
            root_propagation: prop,
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        let calls = s.calls();
        let first_mount = s.position("mount").unwrap();
        assert_eq!(calls[first_mount], format!("mount - / - {flags} -"));
    }

    #[test]
    fn a_failing_propagation_change_is_named_after_its_kind() {
        let s = sys().failing("mount - / -", Errno::EINVAL);
        let sp = SandboxSpec {
            root_propagation: Propagation::Slave,
            ..spec()
        };
        let err = build(&ctx(&sp), &s).unwrap_err();
        assert_eq!(err.step, "make-slave");
    }

    fn masking() -> (RecordingSyscall, SandboxSpec) {
        let mut s = sys();
        for (p, dir) in [
            ("/run/iso/root/proc/kcore", false),
            ("/run/iso/root/proc/acpi", true),
            ("/run/iso/root/proc/sys", true),
        ] {
            s.host.insert(p.into(), (dir, None));
        }
        let sp = SandboxSpec {
            masked_paths: vec![
                "/proc/kcore".into(),
                "/proc/acpi".into(),
                "/proc/absent".into(),
            ],
            readonly_paths: vec!["/proc/sys".into(), "/proc/sysrq-trigger".into()],
            ..spec()
        };
        (s, sp)
    }

    #[test]
    fn masked_and_readonly_paths_after_proc_and_before_pivot() {
        let (s, sp) = masking();
        build(&ctx(&sp), &s).unwrap();
        let proc_at = s.position("mount proc /run/iso/root/proc proc").unwrap();
        let ro_bind = s
            .position("mount /run/iso/root/proc/sys /run/iso/root/proc/sys - MS_BIND|MS_REC")
            .unwrap();
        let ro_remount = s
            .calls()
            .iter()
            .position(|c| {
                c.starts_with("mount - /run/iso/root/proc/sys") && c.contains("MS_RDONLY")
            })
            .unwrap();
        let file = s
            .position("mount /dev/null /run/iso/root/proc/kcore - MS_BIND -")
            .unwrap();
        let dir = s
            .position("mount tmpfs /run/iso/root/proc/acpi tmpfs MS_RDONLY")
            .unwrap();
        let pivot = s.position("pivot_root").unwrap();
        assert!(proc_at < ro_bind && ro_bind < ro_remount && ro_remount < file);
        assert!(file < dir && dir < pivot, "{:#?}", s.calls());
        let calls = s.calls();
        assert!(
            calls
                .iter()
                .all(|c| !c.contains("absent") && !c.contains("sysrq")),
            "absent paths are skipped: {calls:#?}"
        );
    }

    #[rstest]
    #[case::file("mount /dev/null /run/iso/root/proc", "mask-file")]
    #[case::dir("mount tmpfs /run/iso/root/proc/acpi", "mask-dir")]
    #[case::readonly("mount /run/iso/root/proc/sys", "bind")]
    fn a_failing_mask_is_named(#[case] prefix: &str, #[case] step: &str) {
        let (s, sp) = masking();
        let s = s.failing(prefix, Errno::EACCES);
        let err = build(&ctx(&sp), &s).unwrap_err();
        assert_eq!(
            (err.step.as_str(), err.cause.to_string().as_str()),
            (step, "EACCES")
        );
    }

    #[test]
    fn sysfs_is_mounted_read_only_with_the_safe_flags() {
        let s = sys();
        let mut sp = spec();
        sp.mounts.push(Mount::Sysfs {
            target: "/sys".into(),
            readonly: true,
        });
        build(&ctx(&sp), &s).unwrap();
        assert!(
            s.position(
                "mount sysfs /run/iso/root/sys sysfs MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC -"
            )
            .is_some(),
            "{:#?}",
            s.calls()
        );
        let s = sys().failing("mount sysfs", Errno::EPERM);
        assert_eq!(build(&ctx(&sp), &s).unwrap_err().step, "mount-sysfs");
    }

    #[test]
    fn the_host_root_gets_no_new_mount_points() {
        let s = sys();
        let sp = SandboxSpec {
            rootfs: Rootfs::Host,
            mounts: vec![
                Mount::Proc {
                    target: "/proc".into(),
                },
                Mount::Tmpfs {
                    target: "/isocheck-nowhere".into(),
                    size: None,
                },
            ],
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        assert!(
            s.position("mkdir").is_none() && s.position("touch").is_none(),
            "{:#?}",
            s.calls()
        );
        assert!(s.position("mount tmpfs /isocheck-nowhere").is_some());
    }

    #[test]
    fn a_user_namespace_makes_the_child_its_root_before_any_mount() {
        let s = sys();
        let sp = SandboxSpec {
            namespaces: spec()
                .namespaces
                .into_iter()
                .chain([Namespace::User])
                .collect(),
            uid_map: vec![crate::runtime::spec::IdMap {
                inside: 0,
                outside: 100000,
                count: 1,
            }],
            gid_map: vec![crate::runtime::spec::IdMap {
                inside: 0,
                outside: 100000,
                count: 1,
            }],
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        let uid = s.position("setresuid 0").unwrap();
        assert!(s.position("setresgid 0").unwrap() < uid && uid < s.position("mount").unwrap());
    }

    #[test]
    fn a_rootfs_tree_is_seen_through_an_overlay_and_never_written() {
        let s = sys();
        let sp = SandboxSpec {
            rootfs: Rootfs::Dir {
                path: "/srv/alpine".into(),
            },
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        let ov = s
            .position("mount overlay /run/iso/root/merged overlay")
            .unwrap();
        let line = &s.calls()[ov];
        assert!(
            line.contains(
                "lowerdir=/srv/alpine,upperdir=/run/iso/root/upper,workdir=/run/iso/root/work"
            ),
            "{line}"
        );
        assert!(s.position("mount proc /run/iso/root/merged/proc").unwrap() > ov);
        assert!(
            s.calls().iter().all(|c| !c.contains(" /srv/alpine/")),
            "nothing is mounted or made inside the tree"
        );
    }

    #[test]
    fn a_cgroup_namespace_is_entered_first_inside_the_sandbox() {
        let s = sys();
        let sp = SandboxSpec {
            namespaces: spec()
                .namespaces
                .into_iter()
                .chain([Namespace::Cgroup])
                .collect(),
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        assert_eq!(
            s.position("unshare CLONE_NEWCGROUP"),
            Some(0),
            "{:#?}",
            s.calls()
        );
        assert!(
            !sp.clone_flags()
                .contains(nix::sched::CloneFlags::CLONE_NEWCGROUP),
            "not at clone time"
        );
    }

    #[test]
    fn a_user_namespace_without_maps_keeps_its_unmapped_ids() {
        let s = sys();
        let sp = SandboxSpec {
            namespaces: [Namespace::User].into_iter().collect(),
            rootfs: Rootfs::Host,
            ..Default::default()
        };
        build(&ctx(&sp), &s).unwrap();
        assert!(s.position("setresuid").is_none(), "{:#?}", s.calls());
    }

    #[test]
    fn host_rootfs_neither_pivots_nor_builds_a_skeleton() {
        let s = sys();
        let sp = SandboxSpec {
            rootfs: Rootfs::Host,
            mounts: vec![Mount::Proc {
                target: "/proc".into(),
            }],
            ..spec()
        };
        let rec = build(&ctx(&sp), &s).unwrap();
        assert_eq!(rec.root, RootKind::Host);
        assert!(s.position("pivot_root").is_none() && s.position("mount tmpfs").is_none());
        assert!(s.position("mount proc /proc proc").is_some());
    }
}
