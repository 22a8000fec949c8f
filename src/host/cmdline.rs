//! The kernel command line: split as the kernel splits it, and the
//! parameters that bear on isolation picked out.

use std::collections::BTreeMap;

/// Parameters recorded in [`super::HostFacts::boot_params`]. Names are
/// compared with `-` and `_` treated alike, as the kernel does.
pub const ISOLATION_PARAMS: &[&str] = &[
    "lsm",
    "security",
    "apparmor",
    "selinux",
    "enforcing",
    "lockdown",
    "user_namespace.enable",
    "namespace.unpriv_enable",
    "cgroup_no_v1",
    "cgroup_disable",
    "cgroup_enable",
    "cgroup.memory",
    "systemd.unified_cgroup_hierarchy",
    "systemd.legacy_systemd_cgroup_controller",
    "swapaccount",
    "psi",
    "init",
];

/// Splits a command line into `(name, value)` pairs. Double quotes group
/// (`a="b c"`) and are removed; everything after a lone `--` belongs to
/// init and is left out. A parameter without `=` has value `None`.
pub fn parse_cmdline(text: &str) -> Vec<(String, Option<String>)> {
    /// Ends a word; false at the `--` that ends the kernel's part.
    fn push(word: &mut String, out: &mut Vec<(String, Option<String>)>) -> bool {
        if word == "--" {
            return false;
        }
        let w = std::mem::take(word);
        match w.split_once('=') {
            Some((k, v)) => out.push((k.to_string(), Some(v.to_string()))),
            None => out.push((w, None)),
        }
        true
    }
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    in_word = false;
                    if !push(&mut word, &mut out) {
                        return out;
                    }
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        push(&mut word, &mut out);
    }
    out
}

fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// The [`ISOLATION_PARAMS`] present on a command line, each with its
/// values in order (`""` for a bare flag).
pub fn isolation_params(cmdline: &str) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in parse_cmdline(cmdline) {
        let k = normalize(&k);
        if ISOLATION_PARAMS.contains(&k.as_str()) {
            m.entry(k).or_default().push(v.unwrap_or_default());
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn pairs(v: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.map(String::from)))
            .collect()
    }

    #[rstest]
    #[case::simple("ro quiet root=/dev/sda1", &[("ro", None), ("quiet", None), ("root", Some("/dev/sda1"))])]
    #[case::quoted("a=\"b c\" d", &[("a", Some("b c")), ("d", None)])]
    #[case::quoted_whole("\"a=b c\"", &[("a", Some("b c"))])]
    #[case::init_args("ro -- --flag x=y", &[("ro", None)])]
    #[case::double_equals("a=b=c", &[("a", Some("b=c"))])]
    #[case::empty_value("a=", &[("a", Some(""))])]
    #[case::unterminated_quote("a=\"b c", &[("a", Some("b c"))])]
    #[case::whitespace("  \n\t ", &[])]
    #[case::empty("", &[])]
    #[case::empty_quotes("\"\"", &[("", None)])]
    fn splits(#[case] text: &str, #[case] want: &[(&str, Option<&str>)]) {
        assert_eq!(parse_cmdline(text), pairs(want));
    }

    #[test]
    fn picks_isolation_params() {
        let m = isolation_params(
            "BOOT_IMAGE=/vmlinuz ro lsm=landlock,yama cgroup_disable=memory cgroup-disable=pids \
             systemd.unified_cgroup_hierarchy=0 psi -- cgroup_no_v1=all",
        );
        assert_eq!(m["lsm"], ["landlock,yama"]);
        assert_eq!(m["cgroup_disable"], ["memory", "pids"]);
        assert_eq!(m["systemd.unified_cgroup_hierarchy"], ["0"]);
        assert_eq!(m["psi"], [""]);
        assert!(!m.contains_key("cgroup_no_v1"));
        assert!(!m.contains_key("BOOT_IMAGE"));
    }
}
