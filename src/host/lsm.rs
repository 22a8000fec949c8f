//! Linux security modules: which are active, the lockdown mode, Landlock.
//!
//! The active list comes from securityfs (`/sys/kernel/security/lsm`) and,
//! where securityfs is not mounted, from `lsm_list_modules(2)` (Linux 6.8).

use std::path::Path;

use crate::model::host::SecurityFacts;

use super::sysctl::read_knob;
use super::{read_text, tried, under};
use crate::model::host::Knob;

const SECURITYFS: &str = "/sys/kernel/security";
const LSM_FILE: &str = "/sys/kernel/security/lsm";
const LOCKDOWN_FILE: &str = "/sys/kernel/security/lockdown";

/// Parses the comma-separated LSM list of securityfs.
pub fn parse_lsm_list(text: &str) -> Vec<String> {
    text.trim()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The name of an `LSM_ID_*` of `<linux/lsm.h>`.
pub fn lsm_name(id: u64) -> Option<&'static str> {
    Some(match id {
        100 => "capability",
        101 => "selinux",
        102 => "smack",
        103 => "tomoyo",
        104 => "apparmor",
        105 => "yama",
        106 => "loadpin",
        107 => "safesetid",
        108 => "lockdown",
        109 => "bpf",
        110 => "landlock",
        111 => "ima",
        112 => "evm",
        113 => "ipe",
        _ => return None,
    })
}

/// Names for LSM ids; unknown ids become `lsm-<id>`.
pub fn lsm_names(ids: &[u64]) -> Vec<String> {
    ids.iter()
        .map(|&id| lsm_name(id).map_or_else(|| format!("lsm-{id}"), String::from))
        .collect()
}

/// The bracketed mode of the lockdown file (`none [integrity]
/// confidentiality` -> `integrity`).
pub fn parse_lockdown(text: &str) -> Result<String, String> {
    let t = text.trim();
    let open = t
        .find('[')
        .ok_or_else(|| format!("no bracketed mode in {t:?}"))?;
    let close = t[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or_else(|| format!("unclosed bracket in {t:?}"))?;
    let mode = t[open + 1..close].trim();
    if mode.is_empty() || t[close + 1..].contains('[') {
        return Err(format!("not one bracketed mode in {t:?}"));
    }
    Ok(mode.to_string())
}

/// True when the securityfs directory under `root` has entries (it is an
/// empty directory of sysfs when securityfs is not mounted).
fn securityfs_mounted(root: &Path) -> bool {
    std::fs::read_dir(under(root, SECURITYFS))
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

/// Probes under `root`: the active LSMs in call order (empty when
/// unknown) and the rest. System calls are made only when `live`.
pub fn probe(root: &Path, live: bool) -> (Vec<String>, SecurityFacts) {
    let mut f = SecurityFacts::default();
    let mut active = Vec::new();
    let mounted = securityfs_mounted(root);
    let lsm_path = under(root, LSM_FILE);
    match read_text(&lsm_path) {
        Ok(text) => {
            active = parse_lsm_list(&text);
            f.lsm_source = Some(lsm_path.display().to_string());
        }
        Err(reason) => {
            let reason = if mounted {
                reason
            } else {
                format!("{reason} (securityfs is not mounted)")
            };
            f.lsm_tried.push(tried(&lsm_path, &reason));
        }
    }
    if live && f.lsm_source.is_none() {
        match crate::sys::lsm::lsm_list_modules() {
            Ok(ids) => {
                active = lsm_names(&ids);
                f.lsm_source = Some("lsm_list_modules(2)".into());
            }
            Err(e) => f
                .lsm_tried
                .push(format!("lsm_list_modules(2): {}", e.desc())),
        }
    }

    let lockdown_path = under(root, LOCKDOWN_FILE);
    f.lockdown = match read_knob(&lockdown_path) {
        Knob::Value(text) => match parse_lockdown(&text) {
            Ok(mode) => Knob::Value(mode),
            Err(e) => Knob::Unreadable(e),
        },
        Knob::Absent if !mounted => Knob::Unreadable(format!(
            "securityfs is not mounted at {}",
            under(root, SECURITYFS).display()
        )),
        other => other,
    };

    if live {
        match crate::sys::lsm::landlock_abi_version() {
            Ok(v) => f.landlock_abi = Some(v),
            Err(nix::errno::Errno::EOPNOTSUPP) => {
                f.landlock_error = Some("built but not active".into())
            }
            Err(nix::errno::Errno::ENOSYS) => f.landlock_error = Some("not built".into()),
            Err(e) => f.landlock_error = Some(e.desc().into()),
        }
    }

    f.hints = hints(root);
    (active, f)
}

/// LSM signs outside securityfs: AppArmor's module parameter, selinuxfs.
fn hints(root: &Path) -> Vec<String> {
    let mut v = Vec::new();
    let aa = under(root, "/sys/module/apparmor/parameters/enabled");
    if let Knob::Value(val) = read_knob(&aa) {
        v.push(format!("{}: {val}", aa.display()));
    }
    let selinux = under(root, "/sys/fs/selinux/enforce");
    if let Knob::Value(val) = read_knob(&selinux) {
        v.push(format!("{}: {val}", selinux.display()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::typical("capability,landlock,lockdown,yama,apparmor", &["capability", "landlock", "lockdown", "yama", "apparmor"])]
    #[case::newline("capability,selinux\n", &["capability", "selinux"])]
    #[case::empty("", &[])]
    #[case::stray_commas(",,bpf,,", &["bpf"])]
    fn lsm_lists(#[case] text: &str, #[case] want: &[&str]) {
        assert_eq!(parse_lsm_list(text), want);
    }

    #[rstest]
    #[case::none("[none] integrity confidentiality\n", Ok("none"))]
    #[case::integrity("none [integrity] confidentiality", Ok("integrity"))]
    #[case::confidentiality("none integrity [confidentiality]", Ok("confidentiality"))]
    #[case::no_brackets("none integrity", Err("no bracketed mode in \"none integrity\""))]
    #[case::unclosed("[none integrity", Err("unclosed bracket in \"[none integrity\""))]
    #[case::two(
        "[none] [integrity]",
        Err("not one bracketed mode in \"[none] [integrity]\"")
    )]
    #[case::empty_brackets("[] none", Err("not one bracketed mode in \"[] none\""))]
    #[case::empty("", Err("no bracketed mode in \"\""))]
    fn lockdown(#[case] text: &str, #[case] want: Result<&str, &str>) {
        assert_eq!(
            parse_lockdown(text),
            want.map(String::from).map_err(String::from)
        );
    }

    #[rstest]
    #[case(&[100, 110, 108], &["capability", "landlock", "lockdown"])]
    #[case(&[999], &["lsm-999"])]
    #[case(&[], &[])]
    fn names(#[case] ids: &[u64], #[case] want: &[&str]) {
        assert_eq!(lsm_names(ids), want);
    }

    #[test]
    fn without_securityfs_facts_are_unknown_and_say_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sys/kernel/security")).unwrap();
        let (active, f) = probe(dir.path(), false);
        assert!(active.is_empty());
        assert_eq!(f.lsm_source, None);
        assert!(
            f.lsm_tried[0].contains("securityfs is not mounted"),
            "{f:?}"
        );
        assert!(matches!(f.lockdown, Knob::Unreadable(ref s) if s.contains("not mounted")));
    }

    #[test]
    fn securityfs_without_lockdown_file_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let sec = dir.path().join("sys/kernel/security");
        std::fs::create_dir_all(&sec).unwrap();
        std::fs::write(sec.join("lsm"), "capability,selinux").unwrap();
        std::fs::create_dir_all(dir.path().join("sys/fs/selinux")).unwrap();
        std::fs::write(dir.path().join("sys/fs/selinux/enforce"), "1").unwrap();
        let (active, f) = probe(dir.path(), false);
        assert_eq!(active, ["capability", "selinux"]);
        assert_eq!(f.lockdown, Knob::Absent);
        assert_eq!(f.hints.len(), 1);
        assert!(f.hints[0].ends_with("sys/fs/selinux/enforce: 1"));
    }

    #[test]
    fn garbled_lockdown_is_unreadable_with_reason() {
        let dir = tempfile::tempdir().unwrap();
        let sec = dir.path().join("sys/kernel/security");
        std::fs::create_dir_all(&sec).unwrap();
        std::fs::write(sec.join("lockdown"), "\u{0}\u{1}").unwrap();
        let (_, f) = probe(dir.path(), false);
        assert!(matches!(f.lockdown, Knob::Unreadable(ref s) if s.contains("no bracketed")));
    }

    #[test]
    fn live_probe_does_not_panic() {
        let (_, f) = probe(Path::new("/"), true);
        assert!(f.lsm_source.is_some() || !f.lsm_tried.is_empty());
        assert!(f.landlock_abi.is_some() || f.landlock_error.is_some());
    }
}
