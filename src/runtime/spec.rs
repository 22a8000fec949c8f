//! The runtime's view of a sandbox spec: the plain data lives in
//! `model::spec` and `model::scaffold`; this module adds what only the
//! runtime can check, such as whether a seccomp filter compiles on this
//! machine.

use crate::model::spec::SandboxSpec;

/// Checks `spec` as [`SandboxSpec::validate`] does, and that its seccomp
/// filter compiles here; the error names the field.
pub fn check(spec: &SandboxSpec) -> Result<(), String> {
    spec.validate()?;
    if let Some(sc) = &spec.seccomp {
        crate::sys::seccomp::compile(&sc.deny, &sc.errno).map_err(|e| format!("seccomp: {e}"))?;
    }
    if let Some(n) = &spec.seccomp_notify {
        crate::sys::seccomp_notify::compile(&n.call).map_err(|e| format!("seccomp_notify: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::unknown_syscall(
        "namespaces = [\"mount\"]\nseccomp = { deny = [\"frobnicate\"] }",
        "seccomp: deny [\"frobnicate\"]"
    )]
    #[case::unknown_errno(
        "namespaces = [\"mount\"]\nseccomp = { deny = [\"uname\"], errno = \"EWHAT\" }",
        "seccomp: errno: unknown errno `EWHAT`"
    )]
    #[case::unknown_notified_call(
        "namespaces = [\"mount\"]\nseccomp_notify = { call = \"frobnicate\" }\nseccomp_supervisor = true",
        "seccomp_notify: notify \"frobnicate\""
    )]
    fn a_filter_that_does_not_compile_is_refused(#[case] src: &str, #[case] msg: &str) {
        let spec: SandboxSpec = toml::from_str(src).unwrap();
        spec.validate().unwrap();
        let err = check(&spec).unwrap_err();
        assert!(err.contains(msg), "{err}");
    }
}
