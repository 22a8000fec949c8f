//! The runner's credentials: who runs isocheck and with which powers (uid, gid, user
//! name, the five capability sets, no_new_privs, seccomp).
//!
//! Capabilities are per thread, so they are read from
//! `/proc/thread-self/status`; `capget(2)` (the `caps` crate) is the
//! fallback on a live host whose status file cannot be read.

use std::path::Path;

use crate::sys::passwd::passwd_name;

use super::{read_text, under, Credentials};
use crate::sys::status::parse_status;
use crate::sys::vfscap::cap_names;

/// The name of a `Seccomp:` mode.
pub fn seccomp_mode(n: u32) -> String {
    match n {
        0 => "disabled".into(),
        1 => "strict".into(),
        2 => "filter".into(),
        n => format!("mode-{n}"),
    }
}

fn caps_from_syscalls(r: &mut Credentials) -> Result<(), String> {
    let read = |set| {
        caps::read(None, set)
            .map(|s| {
                let mut v: Vec<String> = s.iter().map(|c| c.to_string()).collect();
                v.sort();
                v
            })
            .map_err(|e| e.to_string())
    };
    r.effective_caps = read(caps::CapSet::Effective)?;
    r.permitted_caps = read(caps::CapSet::Permitted)?;
    r.inheritable_caps = read(caps::CapSet::Inheritable)?;
    r.bounding_caps = read(caps::CapSet::Bounding)?;
    r.ambient_caps = read(caps::CapSet::Ambient)?;
    Ok(())
}

/// Probes the runner. The ids come from system calls; files from under
/// `root`; capget is used only when `live`.
pub fn probe(root: &Path, live: bool) -> Credentials {
    let uid = nix::unistd::getuid().as_raw();
    let mut r = Credentials {
        uid,
        gid: nix::unistd::getgid().as_raw(),
        ..Credentials::default()
    };
    r.user_name = read_text(&under(root, "/etc/passwd"))
        .ok()
        .and_then(|t| passwd_name(&t, uid));
    r.cap_last_cap = read_text(&under(root, "/proc/sys/kernel/cap_last_cap"))
        .ok()
        .and_then(|t| t.trim().parse().ok());

    let status_path = under(root, "/proc/thread-self/status");
    let status = read_text(&status_path).map(|t| parse_status(&t));
    let from_status = match &status {
        Ok(s) => {
            r.no_new_privs = s.no_new_privs;
            r.seccomp = s.seccomp.map(seccomp_mode);
            match (s.cap_eff, s.cap_prm, s.cap_inh, s.cap_bnd, s.cap_amb) {
                (Some(e), Some(p), Some(i), Some(b), Some(a)) => {
                    r.effective_caps = cap_names(e);
                    r.permitted_caps = cap_names(p);
                    r.inheritable_caps = cap_names(i);
                    r.bounding_caps = cap_names(b);
                    r.ambient_caps = cap_names(a);
                    true
                }
                _ => false,
            }
        }
        Err(_) => false,
    };
    if from_status {
        r.caps_source = Some(status_path.display().to_string());
    } else if live && caps_from_syscalls(&mut r).is_ok() {
        r.caps_source = Some("capget(2)".into());
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    use crate::sys::status::ROOT_STATUS as STATUS;

    #[rstest]
    #[case::root("root:x:0:0:root:/root:/bin/bash\n", 0, Some("root"))]
    #[case::second(
        "root:x:0:0::/:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        1000,
        Some("alice")
    )]
    #[case::missing("root:x:0:0::/:/bin/sh\n", 1000, None)]
    #[case::malformed("alice\nbob:x:notanumber:0\n::1000:0\n", 1000, None)]
    #[case::empty("", 0, None)]
    fn passwd(#[case] text: &str, #[case] uid: u32, #[case] want: Option<&str>) {
        assert_eq!(passwd_name(text, uid).as_deref(), want);
    }

    #[rstest]
    #[case(0, "disabled")]
    #[case(1, "strict")]
    #[case(2, "filter")]
    #[case(7, "mode-7")]
    fn seccomp_modes(#[case] n: u32, #[case] want: &str) {
        assert_eq!(seccomp_mode(n), want);
    }

    #[test]
    fn probe_fake_tree_reads_status() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc/thread-self")).unwrap();
        std::fs::write(dir.path().join("proc/thread-self/status"), STATUS).unwrap();
        let r = probe(dir.path(), false);
        assert_eq!(r.effective_caps.len(), 41);
        assert!(r.ambient_caps.is_empty());
        assert_eq!(r.seccomp.as_deref(), Some("disabled"));
        assert!(r.caps_source.unwrap().ends_with("proc/thread-self/status"));
    }

    #[test]
    fn probe_fake_tree_without_status_has_no_caps_source() {
        let dir = tempfile::tempdir().unwrap();
        let r = probe(dir.path(), false);
        assert_eq!(r.caps_source, None);
        assert!(r.effective_caps.is_empty());
    }

    #[test]
    fn live_probe_matches_capget() {
        let r = probe(Path::new("/"), true);
        let mut fallback = Credentials::default();
        caps_from_syscalls(&mut fallback).unwrap();
        // The status file may name bits the caps crate does not know.
        for c in &fallback.effective_caps {
            assert!(r.effective_caps.contains(c), "{c}");
        }
        assert!(r.caps_source.is_some());
    }
}
