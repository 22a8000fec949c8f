//! Mounts inside the sandbox's private mount namespace: the skeleton root,
//! fresh proc and sysfs, binds (read-only keeps the source's locked flags),
//! tmpfs, and the masked and read-only paths of a container runtime.

use nix::mount::MsFlags;
use std::path::{Path, PathBuf};

use super::init::StepError;
use super::sabotage::{self, Sabotage};
use super::spec::{BindSource, Mount};
use super::syscall::Syscall;

/// Host directories bound read-only into the skeleton root, or recreated
/// as symlinks where the host has symlinks (merged /usr).
pub const SKELETON_BINDS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];
/// Empty directories of the skeleton root.
pub const SKELETON_DIRS: &[&str] = &["proc", "sys", "dev", "tmp", "etc", "root", "run"];
/// Device nodes bound from the host's /dev: the minimal set a container gets.
pub const SKELETON_DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

fn inside(base: &Path, target: &Path) -> PathBuf {
    base.join(target.strip_prefix("/").unwrap_or(target))
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
    if sabotage::hit(Sabotage::DevHostBound) {
        return bind(Path::new("/dev"), &root.join("dev"), false, sys);
    }
    for dev in SKELETON_DEVICES {
        let src = Path::new("/dev").join(dev);
        if sys.lookup(&src).is_none() {
            continue;
        }
        let dst = root.join("dev").join(dev);
        sys.create_file(&dst)
            .map_err(|e| StepError::new("touch", &dst, e))?;
        sys.mount(Some(&src), &dst, None, MsFlags::MS_BIND, None)
            .map_err(|e| StepError::new("bind-device", &dst, e))?;
    }
    Ok(())
}

/// A user's root file system tree, seen through an overlay whose upper
/// layer is a tmpfs: mount points and writes land in the tmpfs, and the
/// tree on the host is never changed. Returns the new root.
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
        MsFlags::empty(),
        Some(&data),
    )
    .map_err(|e| StepError::new("mount-overlay", lower, e))?;
    Ok(merged)
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

/// Applies one spec mount below `base` (the new root, or / for a sandbox
/// that keeps the host root). `create` makes missing mount points; it is
/// off in the host's root, whose file system must never be changed (a
/// missing target is then an error of the mount).
pub fn apply(
    m: &Mount,
    base: &Path,
    scratch: Option<&Path>,
    create: bool,
    sys: &dyn Syscall,
) -> Result<(), StepError> {
    let dst = inside(base, m.target());
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
            source, readonly, ..
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
            bind(&src, &dst, *readonly, sys)
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
    let dst = inside(base, path);
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
    let dst = inside(base, path);
    if sys.lookup(&dst).is_none() {
        return Ok(());
    }
    bind(&dst, &dst, true, sys)
}
