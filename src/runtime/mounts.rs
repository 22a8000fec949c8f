//! Mounts inside the sandbox's private mount namespace: the skeleton root,
//! fresh proc and sysfs, binds (read-only keeps the source's locked flags),
//! tmpfs, and the masked and read-only paths of a container runtime.

use nix::mount::MsFlags;
use std::path::{Path, PathBuf};

use super::sabotage::{self, Sabotage};
use super::syscall::Syscall;
use crate::model::error::StepError;
use crate::model::spec::{BindSource, Mount};

use crate::model::skeleton::{SKELETON_BINDS, SKELETON_DEVICES, SKELETON_DIRS};

fn inside(base: &Path, target: &Path) -> PathBuf {
    base.join(target.strip_prefix("/").unwrap_or(target))
}

/// Where `target` of the sandbox lies on the host while the sandbox is
/// built below `base`: in a new root, symlinks are followed inside it
/// ([`resolve_in_root`]); in the host's root (`/`) the path is taken as it is.
fn locate(base: &Path, target: &Path, sys: &dyn Syscall) -> Result<PathBuf, StepError> {
    if base == Path::new("/") {
        Ok(inside(base, target))
    } else {
        resolve_in_root(base, target, sys)
    }
}

/// The tmpfs a new root is built on; `step` names it in errors.
fn root_tmpfs(root: &Path, step: &str, sys: &dyn Syscall) -> Result<(), StepError> {
    let data = Some("mode=0755");
    sys.mount(
        Some(Path::new("tmpfs")),
        root,
        Some("tmpfs"),
        MsFlags::MS_NOSUID,
        data,
    )
    .map_err(|e| StepError::new(step, root, e))
}

/// Mounts a tmpfs on `root` and lays out the skeleton in it.
pub fn skeleton(root: &Path, sys: &dyn Syscall) -> Result<(), StepError> {
    root_tmpfs(root, "mount-skeleton", sys)?;
    for d in SKELETON_DIRS {
        let p = root.join(d);
        sys.mkdir_all(&p)
            .map_err(|e| StepError::new("mkdir", &p, e))?;
    }
    for src in SKELETON_BINDS {
        let src = Path::new(src);
        let dst = inside(root, src);
        match sys.lookup(src) {
            None => {}
            Some((_, Some(link))) => sys
                .symlink(&link, &dst)
                .map_err(|e| StepError::new("symlink", &dst, e))?,
            Some((true, None)) => {
                sys.mkdir_all(&dst)
                    .map_err(|e| StepError::new("mkdir", &dst, e))?;
                bind(
                    src,
                    &dst,
                    !sabotage::hit(Sabotage::SkeletonBindsWritable),
                    sys,
                )?;
            }
            Some((false, None)) => {}
        }
    }
    minimal_devices(&root.join("dev"), sys)
}

/// Binds the minimal device nodes ([`SKELETON_DEVICES`]) of the host's /dev
/// into `dev`, an empty directory of the new root's own.
fn minimal_devices(dev: &Path, sys: &dyn Syscall) -> Result<(), StepError> {
    if sabotage::hit(Sabotage::DevHostBound) {
        return bind(Path::new("/dev"), dev, false, sys);
    }
    for name in SKELETON_DEVICES {
        let src = Path::new("/dev").join(name);
        if sys.lookup(&src).is_none() {
            continue;
        }
        let dst = dev.join(name);
        sys.create_file(&dst)
            .map_err(|e| StepError::new("touch", &dst, e))?;
        sys.mount(Some(&src), &dst, None, MsFlags::MS_BIND, None)
            .map_err(|e| StepError::new("bind-device", &dst, e))?;
    }
    Ok(())
}

/// A user's root file system tree, seen through an overlay whose upper
/// layer is a tmpfs: mount points and writes land in the tmpfs, and the
/// tree on the host is never changed. The overlay is `nodev`: a device
/// node in the tree is the host's device (a write to one would reach it),
/// and the sandbox's devices are the minimal ones bound on its own /dev.
/// Returns the new root.
pub fn overlay_root(lower: &Path, root: &Path, sys: &dyn Syscall) -> Result<PathBuf, StepError> {
    root_tmpfs(root, "mount-overlay-tmpfs", sys)?;
    let (upper, work, merged) = (root.join("upper"), root.join("work"), root.join("merged"));
    for d in [&upper, &work, &merged] {
        sys.mkdir_all(d)
            .map_err(|e| StepError::new("mkdir", d, e))?;
    }
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    sys.mount(
        Some(Path::new("overlay")),
        &merged,
        Some("overlay"),
        MsFlags::MS_NODEV,
        Some(&data),
    )
    .map_err(|e| StepError::new("mount-overlay", lower, e))?;
    // The tree's own /dev (console, pts, ptmx, shm, fd links, ...) is not
    // the sandbox's: a fresh tmpfs covers it, holding only the minimal
    // devices the skeleton gets. A tree without /dev gets one in the upper
    // layer; a /dev that is a symlink is followed inside the tree.
    let dev = resolve_in_root(&merged, Path::new("/dev"), sys)?;
    sys.mkdir_all(&dev)
        .map_err(|e| StepError::new("mkdir", &dev, e))?;
    sys.mount(
        Some(Path::new("tmpfs")),
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755"),
    )
    .map_err(|e| StepError::new("mount-dev-tmpfs", &dev, e))?;
    minimal_devices(&dev, sys)?;
    Ok(merged)
}

/// Symlinks followed in one path before giving up with ELOOP, as the kernel.
const MAX_SYMLINKS: usize = 40;

/// `target`, a path as the sandbox will see it, as a path below `root` in
/// which no existing component is a symlink: each symlink on the way is
/// followed as it will resolve once `root` is `/` (an absolute link starts
/// again at `root`, `..` never climbs above it), as runc's securejoin does.
/// A user's tree holds absolute links (`/var/run -> /run`) that, followed
/// from the host, lead out of the tree into the host's own directories,
/// where a mkdir or a mount must never land. Components that do not exist
/// stay as they are: a later mkdir makes them plain directories.
pub fn resolve_in_root(
    root: &Path,
    target: &Path,
    sys: &dyn Syscall,
) -> Result<PathBuf, StepError> {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    use std::path::Component;
    fn parts(p: &Path) -> impl Iterator<Item = OsString> + '_ {
        p.components().filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
    }
    let mut rest: VecDeque<OsString> = parts(target).collect();
    let mut done: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = rest.pop_front() {
        if part == ".." {
            done.pop();
            continue;
        }
        let here: PathBuf = root.join(done.iter().collect::<PathBuf>()).join(&part);
        match sys.lookup(&here) {
            Some((_, Some(link))) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(StepError::new("resolve", target, nix::errno::Errno::ELOOP));
                }
                if link.is_absolute() {
                    done.clear();
                }
                for p in parts(&link).collect::<Vec<_>>().into_iter().rev() {
                    rest.push_front(p);
                }
            }
            _ => done.push(part),
        }
    }
    Ok(root.join(done.iter().collect::<PathBuf>()))
}

/// Bind `src` on `dst`; read-only binds are remounted keeping the flags
/// the kernel locks (a remount that drops nosuid/nodev/noexec is EPERM).
pub fn bind(src: &Path, dst: &Path, readonly: bool, sys: &dyn Syscall) -> Result<(), StepError> {
    sys.mount(
        Some(src),
        dst,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .map_err(|e| StepError::new("bind", dst, e))?;
    if readonly && !sabotage::hit(Sabotage::RoRemountSkipped) {
        let locked = sys
            .locked_flags(src)
            .map_err(|e| StepError::new("statvfs", src, e))?;
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked;
        sys.mount(None, dst, None, flags, None)
            .map_err(|e| StepError::new("remount-ro", dst, e))?;
    }
    Ok(())
}

/// An idmapped bind of `src` on `dst`, through the user namespace
/// `userns` (which the helper made with the bind's maps). A failing call
/// is the step it names (`open_tree`, `mount_setattr`, `move_mount`), its
/// target the source and the source's file system type, which is what a
/// refusal (`EINVAL`: the file system does not support idmapped mounts)
/// is about.
fn bind_idmapped(
    src: &Path,
    dst: &Path,
    readonly: bool,
    userns: Option<std::os::fd::RawFd>,
    sys: &dyn Syscall,
) -> Result<(), StepError> {
    let Some(userns) = userns else {
        return Err(StepError::with(
            "idmap-userns",
            dst,
            crate::model::error::Cause::Precondition(
                "no user namespace was made for this idmapped bind".into(),
            ),
        ));
    };
    let userns = (!sabotage::hit(Sabotage::IdmappedBindPlain)).then_some(userns);
    sys.bind_idmapped(src, dst, userns, readonly)
        .map_err(|(step, e)| {
            let fs = crate::sys::mountapi::fs_type_name(src);
            StepError::new(step, format!("{} ({fs})", src.display()), e)
        })
}

/// Applies one spec mount below `base` (the new root, or / for a sandbox
/// that keeps the host root). `create` makes missing mount points; it is
/// off in the host's root, whose file system must never be changed (a
/// missing target is then an error of the mount). `userns` is the user
/// namespace of an idmapped bind.
pub fn apply(
    m: &Mount,
    base: &Path,
    scratch: Option<&Path>,
    create: bool,
    userns: Option<std::os::fd::RawFd>,
    sys: &dyn Syscall,
) -> Result<(), StepError> {
    let dst = locate(base, m.target(), sys)?;
    let mkdir = |dst: &Path| {
        if create {
            sys.mkdir_all(dst)
                .map_err(|e| StepError::new("mkdir", dst, e))
        } else {
            Ok(())
        }
    };
    match m {
        Mount::Proc { .. } => {
            mkdir(&dst)?;
            let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            if sabotage::hit(Sabotage::ProcNotFresh) {
                return bind(Path::new("/proc"), &dst, false, sys);
            }
            sys.mount(Some(Path::new("proc")), &dst, Some("proc"), flags, None)
                .map_err(|e| StepError::new("mount-proc", &dst, e))
        }
        Mount::Bind {
            source,
            readonly,
            idmap,
            ..
        } => {
            let src: PathBuf = match source {
                BindSource::Scratch => scratch
                    .ok_or_else(|| StepError::new("bind", &dst, nix::errno::Errno::ENOENT))?
                    .to_path_buf(),
                BindSource::Host(p) => p.clone(),
            };
            match sys.lookup(&src) {
                Some((false, None)) if create => sys
                    .create_file(&dst)
                    .map_err(|e| StepError::new("touch", &dst, e))?,
                _ => mkdir(&dst)?,
            }
            match idmap {
                None => bind(&src, &dst, *readonly, sys),
                Some(_) => bind_idmapped(&src, &dst, *readonly, userns, sys),
            }
        }
        Mount::Tmpfs { size, .. } => {
            mkdir(&dst)?;
            let data = size.map(|s| format!("size={s}"));
            sys.mount(
                Some(Path::new("tmpfs")),
                &dst,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                data.as_deref(),
            )
            .map_err(|e| StepError::new("mount-tmpfs", &dst, e))
        }
        Mount::Sysfs { readonly, .. } => {
            mkdir(&dst)?;
            let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
            if *readonly && !sabotage::hit(Sabotage::SysfsWritable) {
                flags |= MsFlags::MS_RDONLY;
            }
            sys.mount(Some(Path::new("sysfs")), &dst, Some("sysfs"), flags, None)
                .map_err(|e| StepError::new("mount-sysfs", &dst, e))
        }
    }
}

/// Hides `path` (below `base`) as a container runtime does: a file under a
/// bind of /dev/null, a directory under an empty read-only tmpfs. A path
/// that does not exist is left alone.
pub fn mask(base: &Path, path: &Path, sys: &dyn Syscall) -> Result<(), StepError> {
    let dst = locate(base, path, sys)?;
    match sys.lookup(&dst) {
        None => Ok(()),
        Some((true, None)) => sys
            .mount(
                Some(Path::new("tmpfs")),
                &dst,
                Some("tmpfs"),
                MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
                None,
            )
            .map_err(|e| StepError::new("mask-dir", &dst, e)),
        Some(_) => sys
            .mount(
                Some(Path::new("/dev/null")),
                &dst,
                None,
                MsFlags::MS_BIND,
                None,
            )
            .map_err(|e| StepError::new("mask-file", &dst, e)),
    }
}

/// Binds `path` (below `base`) read-only onto itself. A path that does
/// not exist is left alone.
pub fn readonly_path(base: &Path, path: &Path, sys: &dyn Syscall) -> Result<(), StepError> {
    let dst = locate(base, path, sys)?;
    if sys.lookup(&dst).is_none() {
        return Ok(());
    }
    bind(&dst, &dst, true, sys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::syscall::{Call, RecordingSyscall};

    /// A merged tree at /m: merged /usr (`bin -> usr/bin`), `var/run ->
    /// /run` (absolute), `etc/mtab -> ../proc/self/mounts`, a loop, and a
    /// link that climbs above the root.
    fn tree() -> RecordingSyscall {
        let mut s = RecordingSyscall::default();
        for (p, dir, link) in [
            ("/m/usr", true, None),
            ("/m/usr/bin", true, None),
            ("/m/bin", false, Some("usr/bin")),
            ("/m/var", true, None),
            ("/m/var/run", false, Some("/run")),
            ("/m/run", true, None),
            ("/m/etc", true, None),
            ("/m/etc/mtab", false, Some("../proc/self/mounts")),
            ("/m/loop", false, Some("/loop")),
            ("/m/up", false, Some("../../../../etc")),
            ("/m/dev", false, Some("/var/run/dev")),
            ("/dev/null", false, None),
            ("/dev/zero", false, None),
        ] {
            s.host.insert(p.into(), (dir, link.map(PathBuf::from)));
        }
        s
    }

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let s = tree();
        let r = |t: &str| resolve_in_root(Path::new("/m"), Path::new(t), &s);
        assert_eq!(r("/bin/sh").unwrap(), Path::new("/m/usr/bin/sh"));
        assert_eq!(r("/var/run/x/y").unwrap(), Path::new("/m/run/x/y"));
        assert_eq!(r("/etc/mtab").unwrap(), Path::new("/m/proc/self/mounts"));
        assert_eq!(r("/up/passwd").unwrap(), Path::new("/m/etc/passwd"));
        assert_eq!(r("/../../tmp").unwrap(), Path::new("/m/tmp"));
        assert_eq!(r("/missing/dir").unwrap(), Path::new("/m/missing/dir"));
        assert_eq!(r("/").unwrap(), Path::new("/m"));
        let e = r("/loop/x").unwrap_err();
        assert_eq!(
            (e.step.as_str(), e.errno()),
            ("resolve", Some(nix::errno::Errno::ELOOP))
        );
    }

    #[test]
    fn a_tree_gets_a_fresh_dev_with_the_minimal_devices_only() {
        let s = tree();
        let merged = overlay_root(Path::new("/srv/t"), Path::new("/m0"), &s).unwrap();
        assert_eq!(merged, Path::new("/m0/merged"));
        let calls = s.calls();
        let at = |want: Call| {
            s.index_of(&want)
                .unwrap_or_else(|| panic!("{want:?} missing: {calls:#?}"))
        };
        let ov = at(Call::mount(
            Some("overlay"),
            "/m0/merged",
            Some("overlay"),
            MsFlags::MS_NODEV,
            Some("lowerdir=/srv/t,upperdir=/m0/upper,workdir=/m0/work"),
        ));
        let dev = at(Call::mount(
            Some("tmpfs"),
            "/m0/merged/dev",
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("mode=0755"),
        ));
        let null = at(Call::mount(
            Some("/dev/null"),
            "/m0/merged/dev/null",
            None,
            MsFlags::MS_BIND,
            None,
        ));
        assert!(ov < dev && dev < null, "{calls:#?}");
        at(Call::mount(
            Some("/dev/zero"),
            "/m0/merged/dev/zero",
            None,
            MsFlags::MS_BIND,
            None,
        ));
        // Devices the host lacks are not made up.
        assert!(
            s.position(|c| c.paths().iter().any(|p| p.ends_with("full")))
                .is_none(),
            "{calls:#?}"
        );
    }

    #[test]
    fn a_symlinked_dev_or_mount_point_never_leads_out_of_the_tree() {
        let s = tree();
        // /m/dev -> /var/run/dev -> (/var/run -> /run) /m/run/dev.
        let dev = Path::new("/m/run/dev");
        let root = Path::new("/m");
        apply(
            &Mount::Tmpfs {
                target: "/var/run/lock".into(),
                size: None,
            },
            root,
            None,
            true,
            None,
            &s,
        )
        .unwrap();
        assert_eq!(resolve_in_root(root, Path::new("/dev"), &s).unwrap(), dev);
        let calls = s.calls();
        assert!(
            calls.contains(&Call::MkdirAll("/m/run/lock".into()))
                && calls
                    .iter()
                    .any(|c| c.is_mount(Some("tmpfs"), "/m/run/lock")),
            "{calls:#?}"
        );
        assert!(
            calls.iter().all(|c| c
                .paths()
                .iter()
                .all(|p| !p.starts_with("/run") && !p.starts_with("/var/run"))),
            "{calls:#?}"
        );
    }

    #[test]
    fn an_idmapped_bind_goes_through_its_user_namespace_and_no_plain_mount() {
        let s = tree();
        let m = Mount::Bind {
            source: BindSource::Scratch,
            target: "/idmapped".into(),
            readonly: true,
            idmap: Some(crate::model::spec::MountIdmap {
                uid_map: Vec::new(),
                gid_map: Vec::new(),
            }),
        };
        let scratch = Some(Path::new("/run/iso/scratch"));
        apply(&m, Path::new("/m"), scratch, true, Some(9), &s).unwrap();
        assert!(
            s.calls().contains(&Call::BindIdmapped {
                source: "/run/iso/scratch".into(),
                target: "/m/idmapped".into(),
                idmap: true,
                readonly: true,
            }),
            "{:#?}",
            s.calls()
        );
        assert!(s.position(|c| c.mount_target().is_some()).is_none());
        // Without the namespace the helper was to make, nothing is mounted.
        let s = tree();
        let e = apply(&m, Path::new("/m"), scratch, true, None, &s).unwrap_err();
        assert_eq!(e.step, "idmap-userns");
        assert!(!s
            .calls()
            .iter()
            .any(|c| matches!(c, Call::BindIdmapped { .. })));
    }

    #[test]
    fn the_host_root_takes_paths_as_they_are() {
        let s = tree();
        mask(Path::new("/"), Path::new("/dev/null"), &s).unwrap();
        assert_eq!(
            s.calls(),
            vec![Call::mount(
                Some("/dev/null"),
                "/dev/null",
                None,
                MsFlags::MS_BIND,
                None
            )]
        );
    }
}
