//! The sandbox side: mount propagation, the new root and its mounts,
//! masked and read-only paths, pivot_root, hostname, the bounding set,
//! ids, capabilities, no_new_privs, a Landlock ruleset and last a seccomp
//! filter. Runs in the cloned child, through the [`Syscall`] seam only.

use caps::{CapSet, Capability};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::mounts;
use super::sabotage::{self, Sabotage};
use super::syscall::Syscall;
use crate::model::error::{Cause, StepError};
use crate::model::namespace::Namespace;
use crate::model::spec::{Mount, Propagation, Rootfs, SandboxSpec};

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
    /// The unix socket a seccomp listener is sent to (the supervisor's
    /// peer), inherited from the helper.
    pub notify_sock: Option<std::os::fd::RawFd>,
    /// The user namespaces of the idmapped binds, one per bind with an
    /// `idmap`, in the order of `spec.mounts` (made by the helper).
    pub idmaps: &'a [std::os::fd::RawFd],
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
        let mut idmaps = ctx.idmaps.iter().copied();
        for m in &spec.mounts {
            let userns = match m {
                Mount::Bind { idmap: Some(_), .. } => idmaps.next(),
                _ => None,
            };
            mounts::apply(m, &base, ctx.scratch, new_root.is_some(), userns, sys)?;
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
    // After no_new_privs (which an unprivileged ruleset needs), before
    // seccomp: from here on reads are confined to the listed paths.
    if let Some(ll) = &spec.landlock {
        if !sabotage::hit(Sabotage::LandlockNotApplied) {
            let paths: Vec<String> = ll.read.iter().map(|p| p.display().to_string()).collect();
            sys.landlock_restrict_reads(&ll.read)
                .map_err(|e| StepError::new("landlock", paths.join(","), e))?;
        }
    }
    // Last: from here on the filter applies to everything, the probe too.
    if let Some(sc) = &spec.seccomp {
        let prog = crate::sys::seccomp::compile(&sc.deny, &sc.errno).map_err(|e| {
            StepError::with("seccomp-compile", sc.deny.join(","), Cause::Seccomp(e))
        })?;
        if !sabotage::hit(Sabotage::SeccompNotInstalled) {
            sys.install_seccomp(&prog)
                .map_err(|e| StepError::new("seccomp", sc.deny.join(","), e))?;
        }
    }
    if let Some(n) = &spec.seccomp_notify {
        install_notify(&n.call, ctx.notify_sock, sys)?;
    }
    Ok(record)
}

/// Installs the filter that hands `call` to a supervisor, with a new
/// listener, sends the listener to the supervisor's socket and closes the
/// sandbox's copy (without a socket the listener is closed at once and the
/// call fails with ENOSYS, as with no supervisor).
fn install_notify(
    call: &str,
    sock: Option<std::os::fd::RawFd>,
    sys: &dyn Syscall,
) -> Result<(), StepError> {
    use std::os::fd::AsFd;
    let prog = crate::sys::seccomp_notify::compile(call)
        .map_err(|e| StepError::with("seccomp-notify-compile", call, Cause::Seccomp(e)))?;
    if sabotage::hit(Sabotage::SeccompListenerFlagDropped) {
        return sys
            .install_seccomp(&prog)
            .map_err(|e| StepError::new("seccomp-notify", call, e));
    }
    let listener = sys
        .install_seccomp_listener(&prog)
        .map_err(|e| StepError::new("seccomp-notify", call, e))?;
    if let Some(sock) = sock {
        sys.send_fd(sock, listener.as_fd())
            .map_err(|e| StepError::new("send-listener", call, e))?;
    }
    Ok(())
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
    use crate::model::spec::{BindSource, CapsSpec, Ids, Mount, Propagation};
    use crate::runtime::syscall::{Call, RecordingSyscall, Set};
    use rstest::rstest;

    /// The flags a fresh proc is mounted with.
    const PROC_FLAGS: MsFlags = MsFlags::MS_NOSUID
        .union(MsFlags::MS_NODEV)
        .union(MsFlags::MS_NOEXEC);
    /// A read-only remount of a bind whose source is nosuid and nodev (the
    /// flags the double's `locked_flags` answers).
    const RO_REMOUNT: MsFlags = MsFlags::MS_BIND
        .union(MsFlags::MS_REMOUNT)
        .union(MsFlags::MS_RDONLY)
        .union(MsFlags::MS_NOSUID)
        .union(MsFlags::MS_NODEV);

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
                    idmap: None,
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
            notify_sock: None,
            idmaps: &[7],
        }
    }

    fn proc_at(target: &str) -> Call {
        Call::mount(Some("proc"), target, Some("proc"), PROC_FLAGS, None)
    }

    fn is_pivot_root(c: &Call) -> bool {
        matches!(c, Call::PivotRoot { .. })
    }

    /// Index of the first write of capability set `set`.
    fn set_caps_at(s: &RecordingSyscall, set: Set) -> Option<usize> {
        s.position(|c| matches!(c, Call::SetCaps { set: x, .. } if *x == set))
    }

    #[test]
    fn proc_is_mounted_before_the_old_root_is_detached() {
        let s = sys();
        let sp = spec();
        let rec = build(&ctx(&sp), &s).unwrap();
        assert_eq!(rec.root, RootKind::PivotRoot);
        let proc_at = s
            .index_of(&proc_at("/run/iso/root/proc"))
            .expect("proc mounted");
        let pivot = s
            .index_of(&Call::PivotRoot {
                new_root: ".".into(),
                put_old: ".".into(),
            })
            .unwrap();
        let detach = s
            .index_of(&Call::Umount2 {
                target: ".".into(),
                flags: MntFlags::MNT_DETACH,
            })
            .unwrap();
        let private = Call::mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None);
        assert!(s.index_of(&private).unwrap() < proc_at);
        assert!(proc_at < pivot && pivot < detach, "{:#?}", s.calls());
    }

    #[test]
    fn readonly_bind_keeps_the_source_locked_flags() {
        let s = sys();
        build(&ctx(&spec()), &s).unwrap();
        let bind = s
            .index_of(&Call::mount(
                Some("/run/iso/scratch"),
                "/run/iso/root/data",
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            ))
            .unwrap();
        let statvfs = s
            .index_of(&Call::LockedFlags("/run/iso/scratch".into()))
            .expect("the locked flags are read from the source");
        let remount = s
            .index_of(&Call::mount(
                None,
                "/run/iso/root/data",
                None,
                RO_REMOUNT,
                None,
            ))
            .unwrap_or_else(|| panic!("{:#?}", s.calls()));
        assert!(bind < statvfs && statvfs < remount);
    }

    #[test]
    fn skeleton_recreates_symlinks_and_binds_directories_readonly() {
        let s = sys();
        build(&ctx(&spec()), &s).unwrap();
        assert!(
            s.index_of(&Call::Symlink {
                target: "usr/bin".into(),
                link: "/run/iso/root/bin".into(),
            })
            .is_some(),
            "{:#?}",
            s.calls()
        );
        let usr = s
            .index_of(&Call::mount(
                Some("/usr"),
                "/run/iso/root/usr",
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            ))
            .unwrap();
        let usr_ro = s
            .index_of(&Call::mount(
                None,
                "/run/iso/root/usr",
                None,
                RO_REMOUNT,
                None,
            ))
            .unwrap();
        assert!(usr < usr_ro);
        assert!(s
            .index_of(&Call::mount(
                Some("/dev/null"),
                "/run/iso/root/dev/null",
                None,
                MsFlags::MS_BIND,
                None,
            ))
            .is_some());
        assert!(
            s.calls()
                .iter()
                .all(|c| c.paths().iter().all(|p| !p.ends_with("lib64"))),
            "absent host dirs are not bound"
        );
    }

    #[test]
    fn pivot_root_einval_falls_back_to_move_and_chroot() {
        let s = sys().failing(is_pivot_root, Errno::EINVAL);
        let rec = build(&ctx(&spec()), &s).unwrap();
        assert_eq!(
            rec,
            SetupRecord {
                root: RootKind::Chroot,
                pivot_root_errno: Some("EINVAL".into())
            }
        );
        let moved = Call::mount(Some("/run/iso/root"), "/", None, MsFlags::MS_MOVE, None);
        assert!(s.index_of(&moved).unwrap() < s.index_of(&Call::Chroot(".".into())).unwrap());
    }

    #[rstest]
    #[case::private(|c: &Call| c.is_mount(None, "/"), "make-private")]
    #[case::tmpfs_root(|c: &Call| c.is_mount(Some("tmpfs"), "/run/iso/root"), "mount-skeleton")]
    #[case::proc(|c: &Call| matches!(c, Call::Mount { fstype: Some(t), .. } if t == "proc"), "mount-proc")]
    #[case::bind(
        |c: &Call| matches!(c, Call::Mount { source: Some(s), .. } if s == Path::new("/run/iso/scratch")),
        "bind"
    )]
    #[case::pivot(is_pivot_root, "pivot_root")]
    #[case::detach(|c: &Call| matches!(c, Call::Umount2 { .. }), "detach-old-root")]
    #[case::hostname(|c: &Call| matches!(c, Call::Sethostname(_)), "sethostname")]
    fn each_failing_step_is_named(#[case] failing: fn(&Call) -> bool, #[case] step: &str) {
        let s = sys().failing(failing, Errno::EPERM);
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
        let drop = s
            .index_of(&Call::DropBounding(Capability::CAP_CHOWN))
            .unwrap();
        let amb = set_caps_at(&s, Set::Ambient).unwrap();
        let inh = set_caps_at(&s, Set::Inheritable).unwrap();
        let eff = set_caps_at(&s, Set::Effective).unwrap();
        let perm = set_caps_at(&s, Set::Permitted).unwrap();
        assert!(drop < amb && amb < inh && inh < eff && eff < perm);
        // The double's sets start full: permitted keeps all but the drop.
        let mut want = caps::all();
        want.remove(&Capability::CAP_CHOWN);
        assert!(want.contains(&Capability::CAP_SETUID));
        assert_eq!(
            s.calls()[perm],
            Call::SetCaps {
                set: Set::Permitted,
                caps: want
            }
        );
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
        let at = |want: Call| {
            s.index_of(&want)
                .unwrap_or_else(|| panic!("{want:?} missing"))
        };
        let order = [
            at(Call::DropBounding(Capability::CAP_CHOWN)),
            at(Call::KeepCaps(true)),
            at(Call::Setresgid(1000)),
            at(Call::Setresuid(1000)),
            at(Call::KeepCaps(false)),
            set_caps_at(&s, Set::Ambient).expect("ambient set"),
            set_caps_at(&s, Set::Permitted).expect("permitted set"),
            at(Call::SetNoNewPrivs),
        ];
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
        assert!(s.index_of(&Call::Setresuid(1000)).is_some());
        assert!(
            s.position(|c| matches!(c, Call::KeepCaps(_) | Call::SetCaps { .. }))
                .is_none(),
            "{:#?}",
            s.calls()
        );
    }

    #[test]
    fn seccomp_is_installed_last_after_no_new_privs() {
        let s = sys();
        let filter = crate::model::spec::SeccompSpec {
            deny: vec!["uname".into()],
            errno: "EPERM".into(),
        };
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
            seccomp: Some(filter.clone()),
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        let calls = s.calls();
        // The program installed is the one the spec compiles to.
        let program = crate::sys::seccomp::compile(&filter.deny, &filter.errno).unwrap();
        let sc = s.index_of(&Call::InstallSeccomp(program)).unwrap();
        assert_eq!(sc, calls.len() - 1, "{calls:#?}");
        assert!(s.index_of(&Call::SetNoNewPrivs).unwrap() < sc);
    }

    #[test]
    fn landlock_comes_after_no_new_privs_and_before_seccomp() {
        let s = sys();
        let sp = SandboxSpec {
            no_new_privs: true,
            landlock: Some(crate::model::spec::LandlockSpec {
                read: vec!["/data".into()],
            }),
            seccomp: Some(crate::model::spec::SeccompSpec {
                deny: vec!["uname".into()],
                errno: "EPERM".into(),
            }),
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        let ll = s
            .index_of(&Call::LandlockRestrictReads(vec!["/data".into()]))
            .unwrap();
        assert!(s.index_of(&Call::SetNoNewPrivs).unwrap() < ll);
        assert!(ll < s.position(is_seccomp).unwrap(), "{:#?}", s.calls());
    }

    #[test]
    fn the_notify_filter_comes_after_the_other_and_its_listener_goes_to_the_socket() {
        let s = sys();
        let sp = SandboxSpec {
            no_new_privs: true,
            seccomp: Some(crate::model::spec::SeccompSpec {
                deny: vec!["uname".into()],
                errno: "EPERM".into(),
            }),
            seccomp_notify: Some(crate::model::spec::SeccompNotifySpec {
                call: "getpgid".into(),
            }),
            ..spec()
        };
        let c = InitContext {
            notify_sock: Some(7),
            ..ctx(&sp)
        };
        build(&c, &s).unwrap();
        let calls = s.calls();
        let program = crate::sys::seccomp_notify::compile("getpgid").unwrap();
        let notify = s.index_of(&Call::InstallSeccompListener(program)).unwrap();
        assert!(s.position(is_seccomp).unwrap() < notify, "{calls:#?}");
        if std::env::var(sabotage::ENV).is_err() {
            assert_eq!(calls[notify + 1..], [Call::SendFd(7)], "{calls:#?}");
        }
        // Without a socket the listener is only closed.
        let s = sys();
        build(&ctx(&sp), &s).unwrap();
        assert!(!s.calls().iter().any(|c| matches!(c, Call::SendFd(_))));
    }

    fn is_seccomp(c: &Call) -> bool {
        matches!(c, Call::InstallSeccomp(_))
    }

    #[rstest]
    #[case::seccomp(is_seccomp, "seccomp", "EINVAL")]
    #[case::nnp(|c: &Call| *c == Call::SetNoNewPrivs, "no_new_privs", "EINVAL")]
    fn a_failing_seccomp_or_nnp_step_is_named(
        #[case] failing: fn(&Call) -> bool,
        #[case] step: &str,
        #[case] errno: &str,
    ) {
        let s = sys().failing(failing, Errno::EINVAL);
        let sp = SandboxSpec {
            no_new_privs: true,
            seccomp: Some(crate::model::spec::SeccompSpec {
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
            assert!(
                s.position(is_seccomp).is_none(),
                "no filter after a failure"
            );
        }
    }

    #[rstest]
    #[case::private(Propagation::Private, MsFlags::MS_REC | MsFlags::MS_PRIVATE)]
    #[case::slave(Propagation::Slave, MsFlags::MS_REC | MsFlags::MS_SLAVE)]
    fn root_propagation_is_set_before_anything_is_mounted(
        #[case] prop: Propagation,
        #[case] flags: MsFlags,
    ) {
        let s = sys();
        let sp = SandboxSpec {
            root_propagation: prop,
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        let calls = s.calls();
        let first_mount = s.position(|c| matches!(c, Call::Mount { .. })).unwrap();
        assert_eq!(
            calls[first_mount],
            Call::mount(None, "/", None, flags, None)
        );
    }

    #[test]
    fn a_failing_propagation_change_is_named_after_its_kind() {
        let s = sys().failing(|c| c.is_mount(None, "/"), Errno::EINVAL);
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
        let at = |want: Call| {
            s.index_of(&want)
                .unwrap_or_else(|| panic!("{want:?} missing: {:#?}", s.calls()))
        };
        let proc_at = at(proc_at("/run/iso/root/proc"));
        let ro_bind = at(Call::mount(
            Some("/run/iso/root/proc/sys"),
            "/run/iso/root/proc/sys",
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        ));
        let ro_remount = at(Call::mount(
            None,
            "/run/iso/root/proc/sys",
            None,
            RO_REMOUNT,
            None,
        ));
        let file = at(Call::mount(
            Some("/dev/null"),
            "/run/iso/root/proc/kcore",
            None,
            MsFlags::MS_BIND,
            None,
        ));
        let dir = at(Call::mount(
            Some("tmpfs"),
            "/run/iso/root/proc/acpi",
            Some("tmpfs"),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None,
        ));
        let pivot = s.position(is_pivot_root).unwrap();
        assert!(proc_at < ro_bind && ro_bind < ro_remount && ro_remount < file);
        assert!(file < dir && dir < pivot, "{:#?}", s.calls());
        let calls = s.calls();
        assert!(
            calls.iter().all(|c| c
                .paths()
                .iter()
                .all(|p| !p.ends_with("absent") && !p.ends_with("sysrq-trigger"))),
            "absent paths are skipped: {calls:#?}"
        );
    }

    #[rstest]
    #[case::file(
        |c: &Call| matches!(c, Call::Mount { source: Some(s), target, .. }
            if s == Path::new("/dev/null") && target.starts_with("/run/iso/root/proc")),
        "mask-file"
    )]
    #[case::dir(|c: &Call| c.is_mount(Some("tmpfs"), "/run/iso/root/proc/acpi"), "mask-dir")]
    #[case::readonly(
        |c: &Call| matches!(c, Call::Mount { source: Some(s), .. } if s == Path::new("/run/iso/root/proc/sys")),
        "bind"
    )]
    fn a_failing_mask_is_named(#[case] failing: fn(&Call) -> bool, #[case] step: &str) {
        let (s, sp) = masking();
        let s = s.failing(failing, Errno::EACCES);
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
            s.index_of(&Call::mount(
                Some("sysfs"),
                "/run/iso/root/sys",
                Some("sysfs"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None,
            ))
            .is_some(),
            "{:#?}",
            s.calls()
        );
        let s = sys().failing(
            |c| matches!(c, Call::Mount { fstype: Some(t), .. } if t == "sysfs"),
            Errno::EPERM,
        );
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
            s.position(|c| matches!(c, Call::MkdirAll(_) | Call::CreateFile(_)))
                .is_none(),
            "{:#?}",
            s.calls()
        );
        assert!(s
            .index_of(&Call::mount(
                Some("tmpfs"),
                "/isocheck-nowhere",
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                None,
            ))
            .is_some());
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
            uid_map: vec![crate::model::spec::IdMap {
                inside: 0,
                outside: 100000,
                count: 1,
            }],
            gid_map: vec![crate::model::spec::IdMap {
                inside: 0,
                outside: 100000,
                count: 1,
            }],
            ..spec()
        };
        build(&ctx(&sp), &s).unwrap();
        let uid = s.index_of(&Call::Setresuid(0)).unwrap();
        let first_mount = s.position(|c| matches!(c, Call::Mount { .. })).unwrap();
        assert!(s.index_of(&Call::Setresgid(0)).unwrap() < uid && uid < first_mount);
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
            .index_of(&Call::mount(
                Some("overlay"),
                "/run/iso/root/merged",
                Some("overlay"),
                MsFlags::MS_NODEV,
                Some(
                    "lowerdir=/srv/alpine,upperdir=/run/iso/root/upper,workdir=/run/iso/root/work",
                ),
            ))
            .unwrap_or_else(|| panic!("{:#?}", s.calls()));
        assert!(s.index_of(&proc_at("/run/iso/root/merged/proc")).unwrap() > ov);
        assert!(
            s.calls()
                .iter()
                .all(|c| c.paths().iter().all(|p| !p.starts_with("/srv/alpine"))),
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
            s.index_of(&Call::Unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)),
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
        assert!(
            s.position(|c| matches!(c, Call::Setresuid(_))).is_none(),
            "{:#?}",
            s.calls()
        );
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
        assert!(
            s.position(|c| is_pivot_root(c)
                || matches!(c, Call::Mount { fstype: Some(t), .. } if t == "tmpfs"))
                .is_none(),
            "{:#?}",
            s.calls()
        );
        assert!(s.index_of(&proc_at("/proc")).is_some());
    }
}
