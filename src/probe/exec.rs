//! Exec probes: the sandbox execs a copy of isocheck's binary (see
//! `SandboxSpec::exec_copy`), which runs [`exec_probe_main`] and prints what
//! the kernel gave the new program: its ids, its capability sets, and on
//! request the outcome of binding a TCP port.

use caps::CapSet;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::schema::{caps_list, f, list, opt, Field, Ty};
use super::Def;
use super::{io_outcome, outcome};

/// The argument that makes isocheck's binary the exec'd sub-probe. It is
/// the only one a setuid or file-capability copy accepts.
pub const EXEC_PROBE_ARG: &str = "__exec-probe";

/// What the exec'd program saw of itself.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct SelfView {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub effective: Vec<String>,
    pub permitted: Vec<String>,
    pub bounding: Vec<String>,
    #[serde(default)]
    pub inheritable: Vec<String>,
    #[serde(default)]
    pub ambient: Vec<String>,
    pub no_new_privs: bool,
    /// `"ok"` or the errno of binding 0.0.0.0:<port>/tcp; absent when not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
}

fn cap_list(set: CapSet) -> Vec<String> {
    let mut v: Vec<String> = caps::read(None, set)
        .map(|s| s.into_iter().map(|c| c.to_string()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Binds a TCP socket to 0.0.0.0:`port` and closes it at once.
fn try_bind(port: u16) -> String {
    use nix::sys::socket::{bind, socket, AddressFamily, SockFlag, SockType, SockaddrIn};
    let sock = match socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    ) {
        Ok(s) => s,
        Err(e) => return format!("socket: {e:?}"),
    };
    let addr = SockaddrIn::new(0, 0, 0, 0, port);
    outcome(bind(std::os::fd::AsRawFd::as_raw_fd(&sock), &addr))
}

/// Looks at this process; with `bind_port`, tries the bind.
pub fn self_view(bind_port: Option<u16>) -> SelfView {
    use nix::unistd::{getegid, geteuid, getgid, getuid};
    SelfView {
        uid: getuid().as_raw(),
        euid: geteuid().as_raw(),
        gid: getgid().as_raw(),
        egid: getegid().as_raw(),
        effective: cap_list(CapSet::Effective),
        permitted: cap_list(CapSet::Permitted),
        bounding: cap_list(CapSet::Bounding),
        inheritable: cap_list(CapSet::Inheritable),
        ambient: cap_list(CapSet::Ambient),
        no_new_privs: nix::sys::prctl::get_no_new_privs().unwrap_or(false),
        bind: bind_port.map(try_bind),
    }
}

/// Entry point of `isocheck __exec-probe [--bind PORT]`: prints a
/// [`SelfView`] as JSON. Returns the exit code.
pub fn exec_probe_main(args: &[String]) -> i32 {
    let bind_port = match args {
        [] => None,
        [flag, port] if flag == "--bind" => match port.parse() {
            Ok(p) => Some(p),
            Err(_) => return 2,
        },
        _ => return 2,
    };
    match serde_json::to_string(&self_view(bind_port)) {
        Ok(s) => {
            println!("{s}");
            0
        }
        Err(_) => 3,
    }
}

#[derive(Serialize, Debug)]
pub struct ExecReport {
    /// getuid() of the caller, before the exec.
    pub uid: u32,
    /// The file's owner and mode bits (octal), as the sandbox sees them.
    pub file_uid: Option<u32>,
    pub file_mode: Option<String>,
    /// The file system holding the file is mounted nosuid (it would ignore
    /// setuid bits and file capabilities).
    pub nosuid: Option<bool>,
    /// `"ok"` or the errno of the exec.
    pub exec: String,
    /// The exec'd program's exit code.
    pub status: Option<i32>,
    /// What the exec'd program reported; null when it did not run or said
    /// nothing readable.
    pub child: Option<Value>,
    /// The capabilities the exec'd program held (effective and permitted),
    /// sorted; empty when it did not run.
    pub caps_after_exec: Vec<String>,
}

/// Execs `path __exec-probe [--bind PORT]` with an empty environment and
/// reads its report.
pub fn exec(path: &Path, bind_port: Option<u16>) -> ExecReport {
    let meta = std::fs::metadata(path).ok();
    let nosuid = nix::sys::statvfs::statvfs(path)
        .ok()
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_NOSUID));
    let mut cmd = Command::new(path);
    cmd.arg(EXEC_PROBE_ARG)
        .env_clear()
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    if let Some(p) = bind_port {
        cmd.args(["--bind", &p.to_string()]);
    }
    let (exec, status, child) = match cmd.output() {
        Ok(out) => (
            "ok".to_string(),
            out.status.code(),
            serde_json::from_slice::<Value>(&out.stdout).ok(),
        ),
        Err(e) => (io_outcome::<()>(Err(e)), None, None),
    };
    let mut caps_after_exec: Vec<String> = child
        .as_ref()
        .and_then(|c| serde_json::from_value::<SelfView>(c.clone()).ok())
        .map(|v| v.effective.into_iter().chain(v.permitted).collect())
        .unwrap_or_default();
    caps_after_exec.sort();
    caps_after_exec.dedup();
    ExecReport {
        uid: nix::unistd::getuid().as_raw(),
        caps_after_exec,
        file_uid: meta.as_ref().map(|m| m.uid()),
        file_mode: meta.as_ref().map(|m| format!("{:o}", m.mode() & 0o7777)),
        nosuid,
        exec,
        status,
        child,
    }
}

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `exec`: execs `path` (the sandbox's exec copy of isocheck) as the
/// sandbox's user; the program reports its ids and capabilities and, with
/// `bind_port`, the outcome of binding that TCP port.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExecArgs {
    pub path: PathBuf,
    #[serde(default)]
    pub bind_port: Option<u16>,
}

impl Def for ExecArgs {
    type Output = ExecReport;
    fn run(&self) -> ExecReport {
        exec(&self.path, self.bind_port)
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.uid", Ty::UINT));
        v.push(opt("probe.file_uid", Ty::UINT));
        v.push(opt("probe.file_mode", Ty::Str));
        v.push(opt("probe.nosuid", Ty::Bool));
        v.push(f("probe.exec", Ty::Outcome));
        v.push(opt("probe.status", Ty::SINT));
        v.push(opt("probe.child", Ty::Object));
        for id in [
            "probe.child.uid",
            "probe.child.euid",
            "probe.child.gid",
            "probe.child.egid",
        ] {
            v.push(f(id, Ty::UINT));
        }
        v.extend(list("probe.child.effective", Ty::Str));
        v.extend(list("probe.child.permitted", Ty::Str));
        v.extend(list("probe.child.bounding", Ty::Str));
        v.extend(caps_list("probe.child.inheritable".into()));
        v.extend(caps_list("probe.child.ambient".into()));
        v.push(f("probe.child.no_new_privs", Ty::Bool));
        if self.bind_port.is_some() {
            v.push(f("probe.child.bind", Ty::Outcome));
        }
        v.extend(list("probe.caps_after_exec", Ty::Str));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sub_probe_reports_this_process() {
        let v = self_view(None);
        assert_eq!(v.uid, nix::unistd::getuid().as_raw());
        assert!(v.bind.is_none());
        let json = serde_json::to_value(&v).unwrap();
        assert!(json.get("bind").is_none(), "{json}");
    }

    #[test]
    fn bad_sub_probe_arguments_are_refused() {
        assert_eq!(exec_probe_main(&["--bind".into()]), 2);
        assert_eq!(exec_probe_main(&["--bind".into(), "x".into()]), 2);
        assert_eq!(exec_probe_main(&["--frob".into(), "1".into()]), 2);
    }

    #[test]
    fn a_missing_file_is_an_exec_errno() {
        let r = exec(Path::new("/nonexistent/isocheck-exec"), None);
        assert_eq!(r.exec, "ENOENT");
        assert!(r.child.is_none() && r.file_uid.is_none());
    }
}
