//! Seccomp filters from a list of denied calls and an errno (a sandbox's
//! `SeccompSpec`): compiled to BPF by seccompiler (pure Rust, names
//! resolved by its per-architecture tables), installed by the sandbox init
//! through the `Syscall` seam.

use nix::errno::Errno;
use seccompiler::{BpfProgram, TargetArch};

/// The errno whose name is `name` (`"EPERM"`), by the names nix gives them.
pub fn errno_named(name: &str) -> Option<Errno> {
    (1..4096)
        .map(Errno::from_raw)
        .find(|e| *e != Errno::UnknownErrno && format!("{e:?}") == name)
}

/// Compiles the filter for this machine's architecture: the named calls
/// fail with the errno, every other is allowed. The error names what is
/// wrong (an unknown call, an unknown errno, an unsupported architecture).
pub fn compile(deny: &[String], errno_name: &str) -> Result<BpfProgram, String> {
    if deny.is_empty() {
        return Err("deny: name at least one system call".into());
    }
    let errno =
        errno_named(errno_name).ok_or_else(|| format!("errno: unknown errno `{errno_name}`"))?;
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| format!("architecture {}: {e}", std::env::consts::ARCH))?;
    let rules: Vec<serde_json::Value> = deny
        .iter()
        .map(|name| serde_json::json!({ "syscall": name }))
        .collect();
    let doc = serde_json::json!({
        "sandbox": {
            "mismatch_action": "allow",
            "match_action": { "errno": errno as i32 },
            "filter": rules,
        }
    });
    let text = doc.to_string();
    let mut map = seccompiler::compile_from_json(text.as_bytes(), arch).map_err(|e| {
        // The frontend's message names the call it does not know.
        format!("deny {deny:?}: {e}")
    })?;
    map.remove("sandbox")
        .ok_or_else(|| "the compiler returned no filter".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    fn compile(deny: &[&str], errno: &str) -> Result<BpfProgram, String> {
        let deny: Vec<String> = deny.iter().map(|s| s.to_string()).collect();
        super::compile(&deny, errno)
    }

    #[test]
    fn errno_names_resolve() {
        assert_eq!(errno_named("EPERM"), Some(Errno::EPERM));
        assert_eq!(errno_named("ENOSYS"), Some(Errno::ENOSYS));
        assert_eq!(errno_named("EWHATEVER"), None);
    }

    #[test]
    fn a_filter_compiles_and_names_its_mistakes() {
        let prog = compile(&["uname"], "EPERM").unwrap();
        assert!(prog.len() > 3, "an arch check, the rule and the default");
        let err = compile(&["unamex"], "EPERM").unwrap_err();
        assert!(err.contains("unamex"), "{err}");
        let err = compile(&["uname"], "EFOO").unwrap_err();
        assert!(err.contains("unknown errno `EFOO`"), "{err}");
        assert!(compile(&[], "EPERM").unwrap_err().contains("deny"));
    }
}
