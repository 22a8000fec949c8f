//! The task status codec: the fields of `/proc/<pid>/status` (proc(5))
//! that describe a task's powers: its five capability masks, no_new_privs
//! and seccomp mode. The one reader of that format for the probes and the
//! host facts; naming the capability bits is the caller's business.

/// Parses a hex capability mask as the status file prints it
/// (`000001ffffffffff`).
pub fn parse_mask(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 16 {
        return Err(format!("not a 64-bit hex mask: {t:?}"));
    }
    u64::from_str_radix(t, 16).map_err(|_| format!("not a 64-bit hex mask: {t:?}"))
}

/// The fields of a status file that describe a task's powers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskStatus {
    pub cap_inh: Option<u64>,
    pub cap_prm: Option<u64>,
    pub cap_eff: Option<u64>,
    pub cap_bnd: Option<u64>,
    pub cap_amb: Option<u64>,
    pub no_new_privs: Option<bool>,
    /// `Seccomp:` 0, 1 or 2.
    pub seccomp: Option<u32>,
    /// Lines that were there but could not be parsed, with line numbers.
    pub errors: Vec<String>,
}

/// Parses `/proc/<pid>/status` text. Missing fields stay `None`; malformed
/// values are reported in `errors`.
pub fn parse_status(text: &str) -> TaskStatus {
    let mut s = TaskStatus::default();
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let result = match key {
            "CapInh" | "CapPrm" | "CapEff" | "CapBnd" | "CapAmb" => {
                parse_mask(value).map(|m| match key {
                    "CapInh" => s.cap_inh = Some(m),
                    "CapPrm" => s.cap_prm = Some(m),
                    "CapEff" => s.cap_eff = Some(m),
                    "CapBnd" => s.cap_bnd = Some(m),
                    _ => s.cap_amb = Some(m),
                })
            }
            "NoNewPrivs" => match value {
                "0" | "1" => {
                    s.no_new_privs = Some(value == "1");
                    Ok(())
                }
                v => Err(format!("not 0 or 1: {v:?}")),
            },
            "Seccomp" => value
                .parse()
                .map(|n| s.seccomp = Some(n))
                .map_err(|_| format!("not a number: {value:?}")),
            _ => Ok(()),
        };
        if let Err(e) = result {
            s.errors.push(format!("line {}: {key}: {e}", i + 1));
        }
    }
    s
}

/// A root task's status file, for tests.
#[cfg(test)]
pub const ROOT_STATUS: &str = "Name:\tcat\nUmask:\t0022\nState:\tR (running)\n\
CapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\n\
CapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\n\
Seccomp_filters:\t0\n";

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn parses_a_root_status() {
        let s = parse_status(ROOT_STATUS);
        assert_eq!(s.cap_eff, Some(0x1ff_ffff_ffff));
        assert_eq!(s.cap_inh, Some(0));
        assert_eq!(s.cap_amb, Some(0));
        assert_eq!(s.no_new_privs, Some(false));
        assert_eq!(s.seccomp, Some(0));
        assert!(s.errors.is_empty());
    }

    #[rstest]
    #[case::bad_mask("CapEff:\tnope\n", "line 1: CapEff: not a 64-bit hex mask: \"nope\"")]
    #[case::bad_nnp("Name: x\nNoNewPrivs:\t2\n", "line 2: NoNewPrivs: not 0 or 1: \"2\"")]
    #[case::bad_seccomp("Seccomp:\t-\n", "line 1: Seccomp: not a number: \"-\"")]
    fn malformed_status_lines_are_errors(#[case] text: &str, #[case] want: &str) {
        assert_eq!(parse_status(text).errors, [want.to_string()]);
    }

    #[rstest]
    #[case::empty("")]
    #[case::garbage("\u{0}\u{ff}::::\n:\n")]
    fn garbage_status_is_all_unknown(#[case] text: &str) {
        let s = parse_status(text);
        assert_eq!((s.cap_eff, s.no_new_privs, s.seccomp), (None, None, None));
    }

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
