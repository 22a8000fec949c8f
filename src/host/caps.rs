//! Capabilities as text: masks of `/proc/<pid>/status` to names, and the
//! `security.capability` attribute of a file (file capabilities).

use serde::{Deserialize, Serialize};

/// The names of the bits set in a capability mask, sorted; a bit without
/// a known name becomes `CAP_<number>` (the probes' own decoder).
pub use crate::probe::caps::names as cap_names;

/// Parses a hex capability mask as the status file prints it.
pub use crate::sys::status::parse_mask;

/// File capabilities from a `security.capability` attribute.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(default)]
pub struct FileCaps {
    pub permitted: Vec<String>,
    pub inheritable: Vec<String>,
    /// The effective bit: permitted capabilities are raised on exec.
    pub effective: bool,
    /// The user namespace root the attribute is bound to (revision 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rootid: Option<u32>,
}

impl std::fmt::Display for FileCaps {
    /// `cap_setuid,cap_setgid=ep` in the style of getcap(8).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lower = |v: &[String]| v.iter().map(|c| c.to_lowercase()).collect::<Vec<_>>();
        let p = lower(&self.permitted);
        let i = lower(&self.inheritable);
        let e = if self.effective { "e" } else { "" };
        if p.is_empty() && i.is_empty() {
            write!(f, "none")?;
        } else if p == i {
            write!(f, "{}={e}ip", p.join(","))?;
        } else {
            let mut parts = Vec::new();
            if !p.is_empty() {
                parts.push(format!("{}={e}p", p.join(",")));
            }
            if !i.is_empty() {
                parts.push(format!("{}=i", i.join(",")));
            }
            write!(f, "{}", parts.join(" "))?;
        }
        if let Some(r) = self.rootid {
            write!(f, " [rootid={r}]")?;
        }
        Ok(())
    }
}

/// Parses a `security.capability` value (`struct vfs_cap_data` or
/// `vfs_ns_cap_data`, little-endian) and names its capabilities.
pub fn parse_vfs_caps(bytes: &[u8]) -> Result<FileCaps, String> {
    let v = crate::sys::vfscap::decode(bytes).map_err(|e| e.to_string())?;
    Ok(FileCaps {
        permitted: cap_names(v.permitted),
        inheritable: cap_names(v.inheritable),
        effective: v.effective,
        rootid: v.rootid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::none(0, &[])]
    #[case::chown_and_setuid(1 | (1 << 7), &["CAP_CHOWN", "CAP_SETUID"])]
    #[case::checkpoint_restore(1 << 40, &["CAP_CHECKPOINT_RESTORE"])]
    #[case::unknown_bit(1 << 63, &["CAP_63"])]
    fn names(#[case] mask: u64, #[case] want: &[&str]) {
        assert_eq!(cap_names(mask), want);
    }

    #[test]
    fn full_mask_of_this_kernel_is_sorted_and_named() {
        let v = cap_names(0x1ff_ffff_ffff);
        assert_eq!(v.len(), 41);
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        assert!(v.iter().all(|c| c.starts_with("CAP_")));
    }

    fn le(words: &[u32]) -> Vec<u8> {
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[rstest]
    // newuidmap as Fedora ships it: cap_setuid=ep.
    #[case::v2_setuid_ep(le(&[0x0200_0001, 1 << 7, 0, 0, 0]), Ok("cap_setuid=ep"))]
    #[case::v2_ip(le(&[0x0200_0000, 1 << 6, 1 << 6, 0, 0]), Ok("cap_setgid=ip"))]
    #[case::v3_rootid(le(&[0x0300_0001, 1 << 12, 0, 0, 0, 100000]), Ok("cap_net_admin=ep [rootid=100000]"))]
    #[case::v1(le(&[0x0100_0000, 1, 0]), Ok("cap_chown=p"))]
    #[case::high_word(le(&[0x0200_0001, 0, 0, 1 << 8, 0]), Ok("cap_checkpoint_restore=ep"))]
    #[case::no_caps(le(&[0x0200_0000, 0, 0, 0, 0]), Ok("none"))]
    #[case::empty(vec![], Err("0 bytes, too short"))]
    #[case::short(le(&[0x0200_0001, 0]), Err("revision 2 needs 20 bytes, got 8"))]
    #[case::bad_revision(le(&[0x0900_0000, 0, 0]), Err("unknown revision 0x9"))]
    #[case::bad_flags(le(&[0x0200_0010, 0, 0, 0, 0]), Err("unknown flags in 0x02000010"))]
    fn vfs_caps(#[case] bytes: Vec<u8>, #[case] want: Result<&str, &str>) {
        assert_eq!(
            parse_vfs_caps(&bytes).map(|c| c.to_string()),
            want.map(String::from).map_err(String::from)
        );
    }
}
