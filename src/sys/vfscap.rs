//! The vfs-cap codec: the `security.capability` extended attribute that
//! holds a file's capabilities (`struct vfs_cap_data`, revisions 1 and 2,
//! and `struct vfs_ns_cap_data`, revision 3, all little-endian), to and
//! from capability masks; and capability masks to names.

use serde::{Deserialize, Serialize};

/// The names of the capabilities in `mask`; a bit no name is known for is
/// `CAP_<bit>`.
pub fn cap_names(mask: u64) -> Vec<String> {
    let mut v: Vec<String> = (0..64u8)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| {
            caps::all()
                .into_iter()
                .find(|c| c.index() == bit)
                .map(|c| c.to_string())
                .unwrap_or_else(|| format!("CAP_{bit}"))
        })
        .collect();
    v.sort();
    v
}

/// File capabilities from a `security.capability` attribute.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, schemars::JsonSchema)]
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

/// Revision bits of the first word.
const REVISION_MASK: u32 = 0xff00_0000;
/// The effective bit: permitted capabilities are raised on exec.
const FLAGS_EFFECTIVE: u32 = 0x0000_0001;
const REVISION_1: u32 = 0x0100_0000;
const REVISION_2: u32 = 0x0200_0000;
const REVISION_3: u32 = 0x0300_0000;

/// A decoded `security.capability` value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VfsCap {
    pub permitted: u64,
    pub inheritable: u64,
    /// The effective bit.
    pub effective: bool,
    /// The user namespace root the attribute is bound to (revision 3).
    pub rootid: Option<u32>,
}

/// A value that is not a `security.capability` attribute.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VfsCapError {
    #[error("{0} bytes, too short")]
    TooShort(usize),
    #[error("unknown revision {0:#x}")]
    UnknownRevision(u32),
    #[error("revision {revision} needs {want} bytes, got {got}")]
    WrongLength {
        revision: u32,
        want: usize,
        got: usize,
    },
    #[error("unknown flags in {0:#010x}")]
    UnknownFlags(u32),
}

/// Revision 2 (`+ep` when `effective`): `permitted` as permitted, none
/// inheritable.
pub fn encode_v2(permitted: u64, effective: bool) -> [u8; 20] {
    let words = [
        REVISION_2 | if effective { FLAGS_EFFECTIVE } else { 0 },
        permitted as u32,         // permitted, low word
        0,                        // inheritable, low word
        (permitted >> 32) as u32, // permitted, high word
        0,                        // inheritable, high word
    ];
    let mut out = [0u8; 20];
    for (i, w) in words.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    out
}

/// Decodes a value of any revision.
pub fn decode(bytes: &[u8]) -> Result<VfsCap, VfsCapError> {
    let word = |i: usize| -> Option<u32> {
        bytes
            .get(i * 4..i * 4 + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let magic = word(0).ok_or(VfsCapError::TooShort(bytes.len()))?;
    let (words, want) = match magic & REVISION_MASK {
        REVISION_1 => (1, 12),
        REVISION_2 => (2, 20),
        REVISION_3 => (2, 24),
        rev => return Err(VfsCapError::UnknownRevision(rev >> 24)),
    };
    if bytes.len() != want {
        return Err(VfsCapError::WrongLength {
            revision: magic >> 24,
            want,
            got: bytes.len(),
        });
    }
    if magic & !REVISION_MASK & !FLAGS_EFFECTIVE != 0 {
        return Err(VfsCapError::UnknownFlags(magic));
    }
    let mut permitted = 0u64;
    let mut inheritable = 0u64;
    for i in 0..words {
        permitted |= u64::from(word(1 + 2 * i).unwrap_or(0)) << (32 * i);
        inheritable |= u64::from(word(2 + 2 * i).unwrap_or(0)) << (32 * i);
    }
    Ok(VfsCap {
        permitted,
        inheritable,
        effective: magic & FLAGS_EFFECTIVE != 0,
        rootid: (magic & REVISION_MASK == REVISION_3)
            .then(|| word(5))
            .flatten(),
    })
}

/// Parses a `security.capability` value and names its capabilities.
pub fn parse_vfs_caps(bytes: &[u8]) -> Result<FileCaps, VfsCapError> {
    let v = decode(bytes)?;
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

    #[test]
    fn revision_2_round_trips_both_words() {
        let mask = 1 | (1 << 10) | (1 << 40);
        let v = encode_v2(mask, true);
        assert_eq!(&v[..4], &[1, 0, 0, 2]);
        assert_eq!(
            decode(&v),
            Ok(VfsCap {
                permitted: mask,
                inheritable: 0,
                effective: true,
                rootid: None
            })
        );
        assert!(!decode(&encode_v2(mask, false)).unwrap().effective);
    }

    #[test]
    fn revision_3_carries_its_rootid_and_revision_1_one_word() {
        let mut v3 = encode_v2(1 << 7, true).to_vec();
        v3[3] = 3;
        v3.extend_from_slice(&100_000u32.to_le_bytes());
        let d = decode(&v3).unwrap();
        assert_eq!((d.permitted, d.rootid), (1 << 7, Some(100_000)));
        let v1: Vec<u8> = [0x0100_0000u32, 1 << 12, 1]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        let d = decode(&v1).unwrap();
        assert_eq!(
            (d.permitted, d.inheritable, d.effective),
            (1 << 12, 1, false)
        );
    }

    #[rstest]
    #[case::empty(vec![], "0 bytes, too short")]
    #[case::revision(vec![0, 0, 0, 9], "unknown revision 0x9")]
    #[case::length(vec![0, 0, 0, 2, 0, 0, 0, 0], "revision 2 needs 20 bytes, got 8")]
    #[case::flags({ let mut v = encode_v2(1, true).to_vec(); v[1] = 1; v }, "unknown flags in 0x02000101")]
    fn bad_values_say_what_is_wrong(#[case] bytes: Vec<u8>, #[case] msg: &str) {
        assert_eq!(decode(&bytes).unwrap_err().to_string(), msg);
    }

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
            parse_vfs_caps(&bytes)
                .map(|c| c.to_string())
                .map_err(|e| e.to_string()),
            want.map(String::from).map_err(String::from)
        );
    }
}
