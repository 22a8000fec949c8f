//! Seccomp filters from a [`SeccompSpec`]: compiled to BPF by seccompiler
//! (pure Rust, names resolved by its per-architecture tables), installed
//! by the sandbox init through the `Syscall` seam.

use seccompiler::{BpfProgram, TargetArch};

use super::spec::SeccompSpec;

/// The errno whose name is `name` (`"EPERM"`), by the names nix gives them.
pub use crate::model::error::errno_named;

/// Compiles the filter for this machine's architecture: the named calls
/// fail with the errno, every other is allowed. The error names what is
/// wrong (an unknown call, an unknown errno, an unsupported architecture).
pub fn compile(spec: &SeccompSpec) -> Result<BpfProgram, String> {
    if spec.deny.is_empty() {
        return Err("deny: name at least one system call".into());
    }
    let errno =
        errno_named(&spec.errno).ok_or_else(|| format!("errno: unknown errno `{}`", spec.errno))?;
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| format!("architecture {}: {e}", std::env::consts::ARCH))?;
    let rules: Vec<serde_json::Value> = spec
        .deny
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
        format!("deny {:?}: {e}", spec.deny)
    })?;
    map.remove("sandbox")
        .ok_or_else(|| "the compiler returned no filter".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    fn spec(deny: &[&str], errno: &str) -> SeccompSpec {
        SeccompSpec {
            deny: deny.iter().map(|s| s.to_string()).collect(),
            errno: errno.into(),
        }
    }

    #[test]
    fn errno_names_resolve() {
        assert_eq!(errno_named("EPERM"), Some(Errno::EPERM));
        assert_eq!(errno_named("ENOSYS"), Some(Errno::ENOSYS));
        assert_eq!(errno_named("EWHATEVER"), None);
    }

    #[test]
    fn a_filter_compiles_and_names_its_mistakes() {
        let prog = compile(&spec(&["uname"], "EPERM")).unwrap();
        assert!(prog.len() > 3, "an arch check, the rule and the default");
        let err = compile(&spec(&["unamex"], "EPERM")).unwrap_err();
        assert!(err.contains("unamex"), "{err}");
        let err = compile(&spec(&["uname"], "EFOO")).unwrap_err();
        assert!(err.contains("unknown errno `EFOO`"), "{err}");
        assert!(compile(&spec(&[], "EPERM")).unwrap_err().contains("deny"));
    }
}
