//! uid_map / gid_map: written once, from outside the new user namespace.

use std::path::PathBuf;

use crate::model::error::{Cause, StepError};
use crate::model::spec::IdMap;
use nix::unistd::Pid;

/// The text of a map file: one `inside outside count` line per entry.
pub fn render(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.inside, m.outside, m.count))
        .collect()
}

/// Writes the child's maps. `deny_setgroups` must be set when the writer
/// lacks CAP_SETGID over the parent namespace (a rootless runner): the
/// kernel then refuses gid_map until setgroups is denied.
pub fn write(
    child: Pid,
    uid_map: &[IdMap],
    gid_map: &[IdMap],
    deny_setgroups: bool,
) -> Result<(), StepError> {
    let dir = PathBuf::from(format!("/proc/{}", child.as_raw()));
    let put = |file: &str, text: &str| {
        let p = dir.join(file);
        std::fs::write(&p, text).map_err(|e| {
            StepError::new(
                &format!("write {file}"),
                format!("{} <- {:?}", p.display(), text.trim_end()),
                crate::sys::io_errno(e),
            )
        })
    };
    // (A process mapping itself, as an unprivileged runner does after its
    // own unshare, is in the namespace it made by then.)
    let itself = child == nix::unistd::getpid();
    if !itself && (!uid_map.is_empty() || !gid_map.is_empty()) {
        own_user_namespace(&dir)?;
    }
    if !uid_map.is_empty() {
        put("uid_map", &render(uid_map))?;
    }
    if deny_setgroups && !super::sabotage::hit(super::sabotage::Sabotage::SetgroupsDenySkipped) {
        put("setgroups", "deny")?;
    }
    if !gid_map.is_empty() {
        put("gid_map", &render(gid_map))?;
    }
    Ok(())
}

/// The process at `dir` (a /proc/<pid> directory) is in a user namespace
/// other than the caller's. A map written to a process that shares the
/// caller's namespace fails with EPERM, which would read as the kernel
/// refusing user namespaces; a child that is not in the namespace it was
/// cloned into is the runtime's own failure, and says so.
fn own_user_namespace(dir: &std::path::Path) -> Result<(), StepError> {
    use std::os::unix::fs::MetadataExt;
    let ns = |p: PathBuf| {
        std::fs::metadata(&p)
            .map(|m| (m.dev(), m.ino()))
            .map_err(|e| StepError::new("check-userns", &p, crate::sys::io_errno(e)))
    };
    let child = ns(dir.join("ns/user"))?;
    if child == ns(PathBuf::from("/proc/self/ns/user"))? {
        return Err(StepError::with(
            "check-userns",
            dir.join("ns/user"),
            Cause::Precondition(
                "the child shares the helper's user namespace: none was created for it".into(),
            ),
        ));
    }
    Ok(())
}

/// A user namespace with these maps, held by a descriptor alone (the
/// namespace of an idmapped bind): a child is cloned into a new user
/// namespace, its maps are written from here, its namespace is opened, and
/// the child is let go and reaped. The caller is single-threaded.
pub fn mapped_userns(
    uid_map: &[IdMap],
    gid_map: &[IdMap],
) -> Result<std::os::fd::OwnedFd, StepError> {
    use crate::sys::CloneResult;
    let (r, w) = super::plumbing::pipe()?;
    let flags = nix::sched::CloneFlags::CLONE_NEWUSER;
    match crate::sys::clone_fork(flags).map_err(|e| StepError::new("clone-idmap-userns", "", e))? {
        CloneResult::Child => {
            // Wait until the parent has what it needs (or is gone).
            drop(w);
            let mut byte = [0u8; 1];
            let _ = nix::unistd::read(&r, &mut byte);
            crate::sys::exit_now(0)
        }
        CloneResult::Parent { child } => {
            drop(r);
            let ns = PathBuf::from(format!("/proc/{}/ns/user", child.as_raw()));
            let opened = write(child, uid_map, gid_map, false).and_then(|()| {
                std::fs::File::open(&ns)
                    .map(std::os::fd::OwnedFd::from)
                    .map_err(|e| StepError::new("open-idmap-userns", &ns, crate::sys::io_errno(e)))
            });
            drop(w);
            let _ = nix::sys::wait::waitpid(child, None);
            opened
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_line_per_entry() {
        let maps = [
            IdMap {
                inside: 0,
                outside: 100000,
                count: 1,
            },
            IdMap {
                inside: 1,
                outside: 200000,
                count: 65536,
            },
        ];
        assert_eq!(render(&maps), "0 100000 1\n1 200000 65536\n");
        assert_eq!(render(&[]), "");
    }
}
