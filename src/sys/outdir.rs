//! Writes that cannot be redirected: isocheck's one way of writing a file.
//!
//! An output directory is opened component by component with
//! `O_DIRECTORY|O_NOFOLLOW`, each relative to the handle of the one above,
//! so a symbolic link anywhere in the path is refused rather than followed,
//! and the directory cannot be swapped for another once it is open. A file
//! is written under a fresh temporary name created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` relative to that handle, synced, and renamed
//! over its final name relative to the same handle; the directory is synced
//! after. A planted temporary name is never opened (`O_EXCL`), and the final
//! name is replaced, never followed: `rename` replaces a link itself. A
//! final name that exists as anything but a regular file is refused.

use nix::errno::Errno;
use nix::fcntl::{openat, renameat, OFlag, AT_FDCWD};
use nix::sys::stat::{fstatat, mkdirat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::ffi::OsStr;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// An output directory, held open for the writes that go into it.
#[derive(Debug)]
pub struct OutDir {
    fd: OwnedFd,
    path: PathBuf,
}

/// A system call that failed on a named path: the message a person reads
/// and the errno a caller decides by (the machine ran out of something, or
/// the path is wrong).
#[derive(Debug)]
struct Failure {
    errno: Errno,
    message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

fn err(path: &Path, what: &str, e: Errno) -> io::Error {
    io::Error::new(
        io::Error::from(e).kind(),
        Failure {
            errno: e,
            message: format!("{}: {what}: {}", path.display(), e.desc()),
        },
    )
}

/// The errno behind an error of this module, if a system call failed.
pub fn errno_of(e: &io::Error) -> Option<Errno> {
    e.raw_os_error().map(Errno::from_raw).or_else(|| {
        e.get_ref()
            .and_then(|inner| inner.downcast_ref::<Failure>())
            .map(|f| f.errno)
    })
}

/// Whether an output path failed because the machine ran out of something
/// (descriptors, memory, space) or its storage failed: the environment's
/// fault, never the caller's choice of path.
pub fn exhausted(e: &io::Error) -> bool {
    matches!(
        errno_of(e),
        Some(
            Errno::EMFILE
                | Errno::ENFILE
                | Errno::ENOMEM
                | Errno::ENOSPC
                | Errno::EDQUOT
                | Errno::EIO
        )
    )
}

/// Checks that `name` is one plain file name: not empty, no `/` or NUL,
/// not `.` or `..`, at most 255 bytes.
pub fn check_name(name: &OsStr) -> io::Result<()> {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > 255 || b == b"." || b == b".." || b.contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{:?} is not a plain file name (1 to 255 bytes, no '/', not '.' or '..')",
                name
            ),
        ));
    }
    if b.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} contains a NUL byte"),
        ));
    }
    Ok(())
}

fn file_type(st: &nix::sys::stat::FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn kind_name(t: SFlag) -> &'static str {
    match t {
        SFlag::S_IFLNK => "symbolic link",
        SFlag::S_IFDIR => "directory",
        SFlag::S_IFREG => "regular file",
        SFlag::S_IFIFO => "named pipe",
        SFlag::S_IFSOCK => "socket",
        SFlag::S_IFCHR | SFlag::S_IFBLK => "device",
        _ => "special file",
    }
}

const DIR_FLAGS: OFlag = OFlag::O_DIRECTORY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_RDONLY)
    .union(OFlag::O_CLOEXEC);

impl OutDir {
    /// Opens `path` as a directory, creating missing components (mode
    /// 0755) when `create` is set. A symbolic link at any component is
    /// refused with an error naming it.
    pub fn open(path: &Path, create: bool) -> io::Result<OutDir> {
        let start = if path.is_absolute() { "/" } else { "." };
        let fd = openat(AT_FDCWD, start, DIR_FLAGS, Mode::empty())
            .map_err(|e| err(Path::new(start), "opening", e))?;
        let mut dir = OutDir {
            fd,
            path: PathBuf::from(start),
        };
        let mut walked = PathBuf::new();
        for c in path.components() {
            match c {
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {
                    walked.push(c.as_os_str());
                }
                Component::ParentDir | Component::Normal(_) => {
                    walked.push(c.as_os_str());
                    dir = dir.child_at(c.as_os_str(), create, &walked)?;
                }
            }
        }
        dir.path = path.to_path_buf();
        Ok(dir)
    }

    /// Opens a directory isocheck made itself and holds, following links
    /// on the way (its private work directory is reached through
    /// `/proc/<pid>/root`). Writes into it are atomic all the same.
    pub fn open_own(path: &Path) -> io::Result<OutDir> {
        let fd = openat(
            AT_FDCWD,
            path,
            OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| err(path, "opening the directory", e))?;
        Ok(OutDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The directory `name` inside this one, created when missing and
    /// `create` is set; a symbolic link there is refused.
    pub fn child(&self, name: &OsStr, create: bool) -> io::Result<OutDir> {
        check_name(name)?;
        let path = self.path.join(name);
        self.child_at(name, create, &path)
    }

    fn child_at(&self, name: &OsStr, create: bool, path: &Path) -> io::Result<OutDir> {
        let open = || openat(self.fd.as_fd(), name, DIR_FLAGS, Mode::empty());
        let fd = match open() {
            Ok(fd) => fd,
            Err(Errno::ENOENT) if create => {
                match mkdirat(
                    self.fd.as_fd(),
                    name,
                    Mode::from_bits_truncate(0o755 & !super::caller_umask()),
                ) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(err(path, "creating the directory", e)),
                }
                open().map_err(|e| self.refusal(name, path, e))?
            }
            Err(e) => return Err(self.refusal(name, path, e)),
        };
        Ok(OutDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// Why `name` could not be opened as a directory: a symbolic link and
    /// a non-directory get their own words.
    fn refusal(&self, name: &OsStr, path: &Path, e: Errno) -> io::Error {
        if matches!(e, Errno::ELOOP | Errno::ENOTDIR) {
            if let Ok(st) = fstatat(
                self.fd.as_fd(),
                name,
                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
            ) {
                let t = file_type(&st);
                if t == SFlag::S_IFLNK {
                    return io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "{}: is a symbolic link; isocheck writes only through real directories (give the path it points to)",
                            path.display()
                        ),
                    );
                }
                return io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: is a {}, not a directory", path.display(), kind_name(t)),
                );
            }
        }
        err(path, "opening the directory", e)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses a final name that exists as anything but a regular file.
    fn check_target(&self, name: &OsStr) -> io::Result<()> {
        match fstatat(
            self.fd.as_fd(),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(err(&self.path.join(name), "checking", e)),
            Ok(st) if file_type(&st) == SFlag::S_IFREG => Ok(()),
            Ok(st) => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{}: exists as a {}; isocheck replaces only a regular file there (remove it)",
                    self.path.join(name).display(),
                    kind_name(file_type(&st))
                ),
            )),
        }
    }

    /// A new, empty temporary file here, under a name nobody had.
    fn create_temp(&self, name: &OsStr) -> io::Result<(std::ffi::OsString, std::fs::File)> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let mut last = Errno::EEXIST;
        for _ in 0..16 {
            let mut tmp = std::ffi::OsString::from(".");
            tmp.push(name);
            tmp.push(format!(
                ".{}.{}.{}.tmp",
                std::process::id(),
                SEQUENCE.fetch_add(1, Ordering::Relaxed),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.subsec_nanos())
                    .unwrap_or(0)
            ));
            match openat(
                self.fd.as_fd(),
                tmp.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644 & !super::caller_umask()),
            ) {
                Ok(fd) => return Ok((tmp, std::fs::File::from(fd))),
                Err(Errno::EEXIST) => last = Errno::EEXIST,
                Err(e) => return Err(err(&self.path.join(&tmp), "creating", e)),
            }
        }
        Err(err(&self.path, "finding a free temporary name", last))
    }

    /// Checks, before any work is done, that `name` can be written here:
    /// the final name is free or a regular file, and a file can be created
    /// (a read-only or pseudo file system is found now, not after a run).
    pub fn check_writable(&self, name: &OsStr) -> io::Result<()> {
        check_name(name)?;
        self.check_target(name)?;
        let (tmp, file) = self.create_temp(name)?;
        drop(file);
        let _ = unlinkat(self.fd.as_fd(), tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        Ok(())
    }

    /// Writes `bytes` to `name` here, atomically: readers see the old file
    /// or the whole new one.
    pub fn write(&self, name: &OsStr, bytes: &[u8]) -> io::Result<()> {
        self.write_with(name, |file| file.write_all(bytes))
    }

    /// Makes `name` here atomically: `fill` writes the content (and sets the
    /// owner, mode or attributes) of a new temporary file, which is then
    /// synced and renamed over `name`. Readers see the old file or the whole
    /// new one; on any failure the temporary file is removed.
    pub fn write_with(
        &self,
        name: &OsStr,
        fill: impl FnOnce(&mut std::fs::File) -> io::Result<()>,
    ) -> io::Result<()> {
        check_name(name)?;
        self.check_target(name)?;
        let (tmp, mut file) = self.create_temp(name)?;
        let tmp_path = self.path.join(&tmp);
        let result = (|| {
            let located = |e: io::Error| match e.raw_os_error() {
                Some(n) => err(&tmp_path, "writing", Errno::from_raw(n)),
                None => io::Error::new(e.kind(), format!("{}: {e}", tmp_path.display())),
            };
            fill(&mut file).map_err(located)?;
            file.sync_all().map_err(located)?;
            drop(file);
            self.check_target(name)?;
            renameat(self.fd.as_fd(), tmp.as_os_str(), self.fd.as_fd(), name)
                .map_err(|e| err(&self.path.join(name), "renaming into place", e))
        })();
        if result.is_err() {
            let _ = unlinkat(self.fd.as_fd(), tmp.as_os_str(), UnlinkatFlags::NoRemoveDir);
            return result;
        }
        // The rename is durable once the directory is.
        let _ = nix::unistd::fsync(self.fd.as_fd());
        Ok(())
    }
}

/// The directory part and file name of `path`, for a single file.
fn split(path: &Path) -> io::Result<(&Path, &OsStr)> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: names no file", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// Opens (creating) the directory of `path` and checks the file can be
/// written there; the handle is what the file is later written through.
pub fn prepare_file(path: &Path) -> io::Result<(OutDir, std::ffi::OsString)> {
    let (dir, name) = split(path)?;
    let d = OutDir::open(dir, true)?;
    d.check_writable(name)?;
    Ok((d, name.to_os_string()))
}

/// Writes `bytes` to `path` atomically, creating missing directories; no
/// symbolic link in the path is followed.
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let (dir, name) = split(path)?;
    OutDir::open(dir, true)?.write(name, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn the_errno_survives_the_message_so_callers_can_tell_exhaustion_from_a_wrong_path() {
        let t = tempfile::tempdir().unwrap();
        let e = OutDir::open(&t.path().join("missing"), false).unwrap_err();
        assert_eq!(errno_of(&e), Some(Errno::ENOENT));
        assert!(!exhausted(&e));
        assert!(e.to_string().contains("missing"), "{e}");
        let e = err(t.path(), "creating", Errno::EMFILE);
        assert!(exhausted(&e));
        assert!(e.to_string().contains("creating"), "{e}");
        assert!(exhausted(&io::Error::from_raw_os_error(libc::ENOSPC)));
        let named = OutDir::open(t.path(), false)
            .unwrap()
            .check_writable(OsStr::new("a/b"))
            .unwrap_err();
        assert_eq!(errno_of(&named), None);
    }

    #[test]
    fn writes_and_replaces_leaving_no_temporary_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a/b/report.json");
        write_file(&p, b"one").unwrap();
        write_file(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(t.path().join("a/b")).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn a_file_made_by_a_filler_lands_whole_or_not_at_all() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        // Reached through a link, as the private work directory is.
        symlink(t.path(), t.path().join("via")).unwrap();
        let d = OutDir::open_own(&t.path().join("via")).unwrap();
        d.write_with(OsStr::new("copy"), |f| {
            f.write_all(b"binary")?;
            f.set_permissions(std::fs::Permissions::from_mode(0o755))
        })
        .unwrap();
        let p = t.path().join("copy");
        assert_eq!(std::fs::read(&p).unwrap(), b"binary");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777,
            0o755
        );
        let e = d
            .write_with(OsStr::new("copy"), |f| {
                f.write_all(b"half")?;
                Err(io::Error::from_raw_os_error(libc::EPERM))
            })
            .unwrap_err();
        assert_eq!(errno_of(&e), Some(Errno::EPERM), "{e}");
        assert!(
            e.to_string().contains(".copy."),
            "names the temporary file: {e}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"binary");
        let mut names: Vec<_> = std::fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["copy", "via"]);
        assert!(OutDir::open_own(&t.path().join("missing")).is_err());
    }

    #[test]
    fn a_planted_link_at_the_final_name_is_refused_and_its_target_untouched() {
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        symlink(&victim, t.path().join("report.html")).unwrap();
        let e = write_file(&t.path().join("report.html"), b"x").unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
        let d = OutDir::open(t.path(), false).unwrap();
        assert!(d.check_writable(OsStr::new("report.html")).is_err());
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert!(std::fs::symlink_metadata(t.path().join("report.html"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn planted_temporary_names_are_never_opened() {
        let t = tempfile::tempdir().unwrap();
        let victim = t.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        // Every name a guess at the pid and sequence could give.
        for seq in 0..64 {
            let _ = symlink(
                &victim,
                t.path()
                    .join(format!(".r.json.{}.{seq}.0.tmp", std::process::id())),
            );
        }
        write_file(&t.path().join("r.json"), b"new").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        assert_eq!(std::fs::read(t.path().join("r.json")).unwrap(), b"new");
    }

    #[test]
    fn a_symlinked_directory_anywhere_in_the_path_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        symlink(&real, t.path().join("leg")).unwrap();
        for p in [
            t.path().join("leg/report.json"),
            t.path().join("leg/x/report.json"),
        ] {
            let e = write_file(&p, b"x").unwrap_err();
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);
        let d = OutDir::open(t.path(), false).unwrap();
        assert!(d.child(OsStr::new("leg"), true).is_err());
    }

    #[test]
    fn a_directory_at_the_final_name_is_refused_before_the_write() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("report.json")).unwrap();
        let e = prepare_file(&t.path().join("report.json")).unwrap_err();
        assert!(e.to_string().contains("exists as a directory"), "{e}");
    }

    #[test]
    fn names_that_are_not_one_component_are_refused() {
        for bad in ["", ".", "..", "a/b", "/x", "a\0b"] {
            assert!(check_name(OsStr::new(bad)).is_err(), "{bad:?}");
        }
        check_name(OsStr::new("6.1.0-43-amd64-hybrid")).unwrap();
        let t = tempfile::tempdir().unwrap();
        let d = OutDir::open(t.path(), false).unwrap();
        assert!(d.child(OsStr::new(".."), true).is_err());
    }

    #[test]
    fn an_unwritable_place_is_found_by_the_check() {
        assert!(prepare_file(Path::new("/proc/isocheck-x/report.json")).is_err());
        assert!(prepare_file(Path::new("/proc/version")).is_err());
    }
}
