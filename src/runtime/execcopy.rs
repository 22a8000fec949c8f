//! Copies of isocheck's own binary for probes that exec a file and report
//! what the kernel gave the new program: file capabilities written as a
//! `security.capability` attribute (no setcap needed), or setuid root.
//!
//! The runner makes each distinct copy once per run, in a directory only
//! root can reach, and hard-links it into the scratch directory of every
//! case that asks for it.

use caps::Capability;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::model::scaffold::ExecCopy;
use crate::sys::outdir::OutDir;

/// `struct vfs_cap_data`, revision 2, little-endian: the capabilities as
/// permitted, none inheritable, with the effective bit (`+ep`).
pub fn vfs_cap_v2(caps: &[Capability]) -> [u8; 20] {
    let mask = caps.iter().fold(0u64, |m, c| m | c.bitmask());
    crate::sys::vfscap::encode_v2(mask, true)
}

/// The file capabilities `copy` really carries: none when they are
/// stripped.
pub fn effective_file_caps(copy: &ExecCopy) -> &[Capability] {
    if copy.strip_file_caps && !super::sabotage::hit(super::sabotage::Sabotage::FileCapsNotStripped)
    {
        &[]
    } else {
        &copy.file_caps
    }
}

/// A stable name for a copy: equal copies share one file.
pub fn key(copy: &ExecCopy) -> String {
    let mut caps: Vec<String> = effective_file_caps(copy)
        .iter()
        .map(|c| c.to_string())
        .collect();
    caps.sort();
    caps.dedup();
    format!(
        "exec{}{}",
        if copy.setuid_root { "-setuid" } else { "" },
        caps.iter()
            .map(|c| format!("-{}", c.to_lowercase()))
            .collect::<String>()
    )
}

/// Makes `dst` a copy of `src` as `copy` says: owned by root, mode 0755 (or
/// 4755 setuid), with the file capabilities, put in place atomically
/// ([`crate::sys::outdir`]). `dst`'s directory is one isocheck made. Order
/// matters: a chown clears both the setuid bit and the capability
/// attribute, so it comes first.
pub fn make(src: &Path, dst: &Path, copy: &ExecCopy) -> std::io::Result<()> {
    let (Some(dir), Some(name)) = (dst.parent(), dst.file_name()) else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{}: names no file in a directory", dst.display()),
        ));
    };
    OutDir::open_own(dir)?.write_with(name, |file| {
        std::io::copy(&mut std::fs::File::open(src)?, file)?;
        nix::unistd::fchown(
            &*file,
            Some(nix::unistd::Uid::from_raw(0)),
            Some(nix::unistd::Gid::from_raw(0)),
        )?;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))?;
        let caps = effective_file_caps(copy);
        if !caps.is_empty() {
            crate::sys::xattr::fsetxattr(&*file, "security.capability", &vfs_cap_v2(caps))?;
        }
        if copy.setuid_root {
            file.set_permissions(std::fs::Permissions::from_mode(0o4755))?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::vfscap::parse_vfs_caps;

    #[test]
    fn the_attribute_reads_back_as_getcap_would_show_it() {
        let v = vfs_cap_v2(&[Capability::CAP_NET_BIND_SERVICE]);
        assert_eq!(
            parse_vfs_caps(&v).unwrap().to_string(),
            "cap_net_bind_service=ep"
        );
        let high = vfs_cap_v2(&[Capability::CAP_CHECKPOINT_RESTORE, Capability::CAP_CHOWN]);
        assert_eq!(
            parse_vfs_caps(&high).unwrap().to_string(),
            "cap_checkpoint_restore,cap_chown=ep"
        );
    }

    #[test]
    fn a_copy_is_made_root_owned_setuid_and_replaced_in_place() {
        use std::os::unix::fs::MetadataExt;
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::write(&src, b"\x7fELF pretend").unwrap();
        let dst = t.path().join("exec-setuid");
        std::fs::write(&dst, b"stale").unwrap();
        let copy = ExecCopy {
            setuid_root: true,
            ..Default::default()
        };
        match make(&src, &dst, &copy) {
            // Only root may give a file to root.
            Err(e) if !nix::unistd::geteuid().is_root() => {
                assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{e}");
                assert_eq!(std::fs::read(&dst).unwrap(), b"stale");
            }
            r => {
                r.unwrap();
                let m = std::fs::metadata(&dst).unwrap();
                assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (0, 0, 0o4755));
                assert_eq!(std::fs::read(&dst).unwrap(), b"\x7fELF pretend");
            }
        }
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 2);
    }

    #[test]
    fn equal_copies_share_a_key_and_stripped_caps_do_not_count() {
        let a = ExecCopy {
            file_caps: vec![Capability::CAP_NET_BIND_SERVICE, Capability::CAP_CHOWN],
            ..Default::default()
        };
        let b = ExecCopy {
            file_caps: vec![Capability::CAP_CHOWN, Capability::CAP_NET_BIND_SERVICE],
            ..Default::default()
        };
        assert_eq!(key(&a), key(&b));
        assert_eq!(key(&a), "exec-cap_chown-cap_net_bind_service");
        let stripped = ExecCopy {
            strip_file_caps: true,
            ..a
        };
        assert_eq!(key(&stripped), "exec");
        let suid = ExecCopy {
            setuid_root: true,
            ..Default::default()
        };
        assert_eq!(key(&suid), "exec-setuid");
    }

    #[test]
    fn stripped_file_caps_are_none() {
        let c = ExecCopy {
            file_caps: vec![Capability::CAP_NET_BIND_SERVICE],
            strip_file_caps: true,
            setuid_root: false,
        };
        assert!(effective_file_caps(&c).is_empty());
        let kept = ExecCopy {
            strip_file_caps: false,
            ..c
        };
        assert_eq!(
            effective_file_caps(&kept),
            [Capability::CAP_NET_BIND_SERVICE]
        );
    }
}
