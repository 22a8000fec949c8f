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

use super::spec::ExecCopy;

const VFS_CAP_REVISION_2: u32 = 0x0200_0000;
const VFS_CAP_FLAGS_EFFECTIVE: u32 = 0x0000_0001;

/// `struct vfs_cap_data`, revision 2, little-endian: the capabilities as
/// permitted, none inheritable, with the effective bit (`+ep`).
pub fn vfs_cap_v2(caps: &[Capability]) -> [u8; 20] {
    let mask = caps.iter().fold(0u64, |m, c| m | c.bitmask());
    let words = [
        VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE,
        mask as u32,         // permitted, low word
        0,                   // inheritable, low word
        (mask >> 32) as u32, // permitted, high word
        0,                   // inheritable, high word
    ];
    let mut out = [0u8; 20];
    for (i, w) in words.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
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
/// 4755 setuid), with the file capabilities. Order matters: a chown clears
/// both the setuid bit and the capability attribute, so it comes first.
pub fn make(src: &Path, dst: &Path, copy: &ExecCopy) -> std::io::Result<()> {
    let tmp = dst.with_extension("tmp");
    std::fs::copy(src, &tmp)?;
    nix::unistd::chown(
        &tmp,
        Some(nix::unistd::Uid::from_raw(0)),
        Some(nix::unistd::Gid::from_raw(0)),
    )?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    let caps = effective_file_caps(copy);
    if !caps.is_empty() {
        crate::sys::xattr::setxattr(&tmp, "security.capability", &vfs_cap_v2(caps))?;
    }
    if copy.setuid_root {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o4755))?;
    }
    std::fs::rename(&tmp, dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::caps::parse_vfs_caps;

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
