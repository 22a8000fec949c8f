//! Capabilities as text: masks of `/proc/<pid>/status` to names, and the
//! `security.capability` attribute of a file (file capabilities). The
//! codecs live in [`crate::sys::vfscap`]; this module re-exports them.

pub use crate::sys::vfscap::{cap_names, parse_vfs_caps, FileCaps};

/// Parses a hex capability mask as the status file prints it
/// (`000001ffffffffff`).
pub fn parse_mask(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 16 {
        return Err(format!("not a 64-bit hex mask: {t:?}"));
    }
    u64::from_str_radix(t, 16).map_err(|_| format!("not a 64-bit hex mask: {t:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::full("000001ffffffffff", Ok(0x1ff_ffff_ffff))]
    #[case::zero("0000000000000000\n", Ok(0))]
    #[case::empty("", Err(()))]
    #[case::not_hex("zz", Err(()))]
    #[case::too_long("00000000000000000", Err(()))]
    #[case::negative("-1", Err(()))]
    fn masks(#[case] text: &str, #[case] want: Result<u64, ()>) {
        assert_eq!(parse_mask(text).map_err(|_| ()), want);
    }
}
