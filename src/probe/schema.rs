//! What an observation holds: every path an expectation may read, with
//! its type, for each probe kind and for what the runner adds around it
//! (`exit.*`, `outside.*`, `ids.*`, `setup.*`).
//!
//! Tables are checked against this when they load: a path no observation
//! of the row's probe and sandbox has is a table error, and so is an
//! expectation the type makes impossible or always true. A privileged
//! test runs the built-in cases and compares every path they produce with
//! this declaration both ways, so it cannot drift from the probes.

use std::borrow::Cow;

use super::Probe;
use crate::model::spec::SandboxSpec;

/// The type of the value at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Bool,
    /// A whole number of at least `min`.
    Int {
        min: i64,
    },
    /// Any number (milliseconds, ratios).
    Number,
    Str,
    /// `"ok"` or an errno's name (`"EPERM"`).
    Outcome,
    /// An array; its elements are declared at `path.#`.
    Array,
    /// An object; its keys are declared as paths below it.
    Object,
}

impl Ty {
    pub const UINT: Ty = Ty::Int { min: 0 };
    pub const SINT: Ty = Ty::Int { min: i64::MIN };

    pub fn name(self) -> &'static str {
        match self {
            Ty::Bool => "a boolean",
            Ty::Int { min: 0 } => "a whole number of at least 0",
            Ty::Int { .. } => "a whole number",
            Ty::Number => "a number",
            Ty::Str => "a string",
            Ty::Outcome => "\"ok\" or an errno name",
            Ty::Array => "an array",
            Ty::Object => "an object",
        }
    }
}

/// One path of an observation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Dotted, with `#` standing for any array index: `outside.scratch.#.uid`.
    pub path: Cow<'static, str>,
    pub ty: Ty,
    /// The value may be null or absent (an `Option` of the probe's report).
    pub nullable: bool,
    /// Produced only when something failed that a healthy run does not
    /// provoke (a clock that cannot be read, a set-up step that failed).
    pub rare: bool,
}

fn f(path: impl Into<Cow<'static, str>>, ty: Ty) -> Field {
    Field {
        path: path.into(),
        ty,
        nullable: false,
        rare: false,
    }
}

fn opt(path: impl Into<Cow<'static, str>>, ty: Ty) -> Field {
    Field {
        nullable: true,
        ..f(path, ty)
    }
}

fn rare(path: impl Into<Cow<'static, str>>, ty: Ty) -> Field {
    Field {
        nullable: true,
        rare: true,
        ..f(path, ty)
    }
}

/// A list of `elem` at `path`.
macro_rules! list {
    ($path:literal, $elem:expr) => {
        [f($path, Ty::Array), f(concat!($path, ".#"), $elem)]
    };
}

/// The paths a probe reports under `probe.`, for its arguments.
pub fn probe_fields(probe: &Probe) -> Vec<Field> {
    let mut v = vec![opt("probe", Ty::Object)];
    let net_view = |v: &mut Vec<Field>| {
        v.extend(list!("probe.interfaces", Ty::Str));
        v.extend(list!("probe.up", Ty::Str));
        v.push(f("probe.routes_v4", Ty::UINT));
        v.push(f("probe.routes_v6", Ty::UINT));
    };
    // The five capability sets, and with `exec_self` what an exec of
    // isocheck's own binary got.
    let caps = |v: &mut Vec<Field>, exec_self: bool| {
        v.push(f("probe.caps", Ty::Object));
        v.push(f("probe.caps.source", Ty::Str));
        for set in CAP_SETS {
            v.extend(caps_list(format!("probe.caps.{set}")));
        }
        if exec_self {
            v.push(f("probe.exec_self", Ty::Object));
            v.push(f("probe.exec_self.exec", Ty::Outcome));
            v.push(opt("probe.exec_self.child", Ty::Object));
            for id in ["uid", "euid", "gid", "egid"] {
                v.push(f(format!("probe.exec_self.child.{id}"), Ty::UINT));
            }
            for set in CAP_SETS {
                v.extend(caps_list(format!("probe.exec_self.child.{set}")));
            }
            v.push(f("probe.exec_self.child.no_new_privs", Ty::Bool));
        }
    };
    match probe {
        Probe::PidView => {
            v.push(f("probe.self_pid", Ty::SINT));
            v.extend(list!("probe.visible_pids", Ty::SINT));
            v.push(f("probe.visible_count", Ty::UINT));
            v.push(opt("probe.self_in_proc", Ty::SINT));
            v.push(f("probe.foreign_pid1_visible", Ty::Bool));
            v.push(opt("probe.pid1_comm", Ty::Str));
        }
        Probe::Hostname => v.push(f("probe.hostname", Ty::Str)),
        Probe::NetView => net_view(&mut v),
        Probe::WriteFile { remount_rw, .. } => {
            v.push(f("probe.write", Ty::Outcome));
            if *remount_rw {
                v.push(f("probe.remount_rw", Ty::Outcome));
            }
        }
        Probe::MemoryHog { .. } => v.push(f("probe.allocated_mib", Ty::UINT)),
        Probe::Chown { exec_self, .. } => {
            v.push(f("probe.create", Ty::Outcome));
            v.push(f("probe.chown", Ty::Outcome));
            v.push(f("probe.uid", Ty::UINT));
            caps(&mut v, *exec_self);
        }
        Probe::CreateFile { .. } => {
            v.push(f("probe.create", Ty::Outcome));
            v.push(f("probe.uid", Ty::UINT));
            v.push(opt("probe.owner_inside", Ty::UINT));
            v.push(opt("probe.unmapped_owner", Ty::UINT));
        }
        Probe::ForkCount { .. } => {
            v.push(f("probe.forked", Ty::UINT));
            v.push(opt("probe.error", Ty::Outcome));
        }
        Probe::IpcView => {
            v.push(f("probe.shm", Ty::Outcome));
            v.push(f("probe.mq", Ty::Outcome));
        }
        Probe::Clocks => {
            v.push(f("probe.monotonic_s", Ty::SINT));
            v.push(f("probe.boottime_s", Ty::SINT));
        }
        Probe::CgroupView => {
            v.extend(list!("probe.paths", Ty::Str));
            v.push(f("probe.all_root", Ty::Bool));
        }
        Probe::ConnectListener => {
            v.push(f("probe.connect", Ty::Outcome));
            v.push(opt("probe.port", Ty::UINT));
        }
        Probe::Ids => {
            v.push(f("probe.uid", Ty::UINT));
            v.push(f("probe.gid", Ty::UINT));
            v.push(f("probe.euid", Ty::UINT));
            v.push(f("probe.setgroups", Ty::Outcome));
        }
        Probe::TryUnshare { exec_self, .. } => {
            v.push(f("probe.uid", Ty::UINT));
            v.push(f("probe.without_userns", Ty::Outcome));
            v.push(f("probe.with_userns", Ty::Outcome));
            caps(&mut v, *exec_self);
        }
        Probe::MountTmpfs { exec_self, .. } => {
            v.push(f("probe.mkdir", Ty::Outcome));
            v.push(f("probe.mount", Ty::Outcome));
            caps(&mut v, *exec_self);
        }
        Probe::MountView => {
            v.push(f("probe.pid", Ty::SINT));
            v.push(f("probe.proc_self", Ty::Str));
            v.push(f("probe.proc_is_own", Ty::Bool));
            v.push(f("probe.proc_pids", Ty::UINT));
            v.push(f("probe.sys_is_sysfs", Ty::Bool));
            v.push(f("probe.sys_readonly", Ty::Bool));
            v.extend(list!("probe.sys_net", Ty::Str));
            v.extend(list!("probe.dev", Ty::Str));
            v.extend(list!("probe.dev_extra", Ty::Str));
        }
        Probe::FindHostFile { .. } => {
            v.push(f("probe.host_path", Ty::Outcome));
            v.extend(list!("probe.found_at", Ty::Str));
            v.push(f("probe.found_count", Ty::UINT));
            v.push(f("probe.paths_tried", Ty::UINT));
            v.push(f("probe.mount_points", Ty::UINT));
            v.extend(list!("probe.mount_targets", Ty::Str));
            v.push(f("probe.root_mounts", Ty::UINT));
            v.extend(list!("probe.unexpected_mounts", Ty::Str));
            // Empty unless the old root or a mount leaked.
            v.extend(rare_list_at("probe.missing_mounts".into(), Ty::Str));
            v.extend(rare_list_at("probe.dotdot_escapes".into(), Ty::Str));
        }
        Probe::HostWritable { .. } => {
            for l in [
                "host_mounts",
                "rw_host_mounts",
                "writable",
                "own",
                "devices",
                "allowed",
            ] {
                v.extend(list_at(format!("probe.{l}"), Ty::Str));
            }
            v.extend(list!("probe.mounts", Ty::Object));
            for k in ["target", "fstype", "source", "root"] {
                v.push(f(format!("probe.mounts.#.{k}"), Ty::Str));
            }
            v.push(f("probe.mounts.#.readonly", Ty::Bool));
            v.push(opt("probe.mounts.#.statvfs_readonly", Ty::Bool));
            v.push(f("probe.mounts.#.access", Ty::Outcome));
        }
        Probe::Syscalls { tries } => {
            v.push(f("probe.calls", Ty::Object));
            v.extend(
                tries
                    .iter()
                    .map(|t| f(format!("probe.calls.{}", t.name()), Ty::Outcome)),
            );
            v.push(opt("probe.seccomp_mode", Ty::UINT));
        }
        Probe::PathAccess { .. } => {
            v.extend(list!("probe.reads", Ty::Object));
            v.push(f("probe.reads.#.path", Ty::Str));
            v.push(f("probe.reads.#.kind", Ty::Str));
            v.push(f("probe.reads.#.read", Ty::Outcome));
            v.push(f("probe.reads.#.content", Ty::UINT));
            v.extend(list!("probe.present", Ty::Str));
            v.extend(list!("probe.readable", Ty::Str));
            v.extend(list!("probe.writes", Ty::Object));
            v.push(f("probe.writes.#.path", Ty::Str));
            v.push(f("probe.writes.#.access", Ty::Outcome));
            v.extend(list!("probe.writable", Ty::Str));
        }
        Probe::Exec { bind_port, .. } => {
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
            v.extend(list!("probe.child.effective", Ty::Str));
            v.extend(list!("probe.child.permitted", Ty::Str));
            v.extend(list!("probe.child.bounding", Ty::Str));
            v.extend(caps_list("probe.child.inheritable".into()));
            v.extend(caps_list("probe.child.ambient".into()));
            v.push(f("probe.child.no_new_privs", Ty::Bool));
            if bind_port.is_some() {
                v.push(f("probe.child.bind", Ty::Outcome));
            }
            v.extend(list!("probe.caps_after_exec", Ty::Str));
        }
        Probe::Noop => {}
        // Neither reports: the one dies, the other is killed.
        Probe::Crash | Probe::Hang => {}
        Probe::BusyLoop { .. } => {
            v.push(f("probe.wall_ms", Ty::Number));
            v.push(f("probe.cpu_ms", Ty::Number));
            v.push(f("probe.ratio", Ty::Number));
            v.push(opt("probe.quota_allows_ms", Ty::Number));
            v.push(opt("probe.over_quota", Ty::Bool));
            v.push(opt("probe.nr_periods", Ty::UINT));
            v.push(opt("probe.nr_throttled", Ty::UINT));
            v.push(opt("probe.cgroup_usage_ms", Ty::Number));
            v.push(opt("probe.decided", Ty::Bool));
            v.push(rare("probe.error", Ty::Str));
        }
        Probe::NetReach { connect, .. } => {
            v.push(f("probe.connect", Ty::Object));
            v.extend(
                connect
                    .keys()
                    .map(|k| f(format!("probe.connect.{k}"), Ty::Outcome)),
            );
            v.extend(rare_list_at("probe.no_answer".into(), Ty::Str));
            net_view(&mut v);
        }
    }
    v
}

/// The capability sets a caps report lists.
const CAP_SETS: [&str; 5] = [
    "inheritable",
    "permitted",
    "effective",
    "bounding",
    "ambient",
];

/// A list of `elem` at a computed `path`.
fn list_at(path: String, elem: Ty) -> [Field; 2] {
    [f(path.clone(), Ty::Array), f(path + ".#", elem)]
}

/// A list at `path` that a healthy run leaves empty.
fn rare_list_at(path: String, elem: Ty) -> [Field; 2] {
    [f(path.clone(), Ty::Array), rare(path + ".#", elem)]
}

/// A capability set as a list of names: the inheritable and ambient sets
/// are empty in every healthy sandbox.
fn caps_list(path: String) -> [Field; 2] {
    if path.ends_with(".inheritable") || path.ends_with(".ambient") {
        rare_list_at(path, Ty::Str)
    } else {
        list_at(path, Ty::Str)
    }
}

/// The paths the runner adds around the probe's report, for a sandbox.
pub fn runner_fields(spec: &SandboxSpec) -> Vec<Field> {
    let mut v = vec![
        opt("exit", Ty::Object),
        opt("exit.code", Ty::SINT),
        opt("exit.signal", Ty::Str),
        f("timed_out", Ty::Bool),
        opt("setup", Ty::Object),
        opt("setup.root", Ty::Str),
        rare("setup.pivot_root_errno", Ty::Outcome),
        rare("setup_error", Ty::Object),
        rare("setup_error.step", Ty::Str),
        rare("setup_error.target", Ty::Str),
        rare("setup_error.errno", Ty::Outcome),
        f("outside", Ty::Object),
        f("outside.hostname_before", Ty::Str),
        f("outside.hostname_after", Ty::Str),
        f("outside.scratch", Ty::Array),
        f("outside.scratch.#", Ty::Object),
        f("outside.scratch.#.name", Ty::Str),
        f("outside.scratch.#.uid", Ty::UINT),
        f("outside.scratch.#.gid", Ty::UINT),
        // Only where newuidmap mapped the sandbox from /etc/subuid.
        rare("outside.scratch.#.subuid_id", Ty::UINT),
        rare("outside.scratch.#.subgid_id", Ty::UINT),
        f("ids", Ty::Object),
        f("ids.uid_map", Ty::Str),
        f("ids.root_uid", Ty::UINT),
        f("ids.root_gid", Ty::UINT),
        opt("ids.rootless_uid", Ty::UINT),
        f("swept", Ty::UINT),
        f("sandbox_us", Ty::UINT),
    ];
    v.extend(list!("outside.scratch_mounts", Ty::Str));
    // The sandbox's own cgroup, made only for limits (null without), and
    // what a joiner saw (null without one).
    v.push(opt("outside.cgroup", Ty::Object));
    v.push(opt("outside.joiner", Ty::Object));
    if !spec.cgroup.is_empty() {
        v.push(f("outside.cgroup.backend", Ty::Str));
        v.push(f("outside.cgroup.kill", Ty::Str));
        for k in [
            "outside.cgroup.oom_kill",
            "outside.cgroup.memory_limit_hits",
            "outside.cgroup.memory_max",
            "outside.cgroup.pids_max",
            "outside.cgroup.pids_limit_hits",
            "outside.cgroup.cpu_quota_us",
            "outside.cgroup.cpu_period_us",
            "outside.cgroup.nr_periods",
            "outside.cgroup.nr_throttled",
            "outside.cgroup.throttled_usec",
        ] {
            v.push(opt(k, Ty::UINT));
        }
    }
    if spec.scaffold.join {
        v.push(f("outside.joiner.pid", Ty::SINT));
        for k in [
            "outside.joiner.pid_ns",
            "outside.joiner.pid1_pid_ns",
            "outside.joiner.mnt_ns",
            "outside.joiner.pid1_mnt_ns",
            "outside.joiner.host_pid_ns",
        ] {
            v.push(f(k, Ty::UINT));
        }
        v.push(f("outside.joiner.pid1_comm", Ty::Str));
    }
    v
}

/// Every path of an observation of `probe` run in `spec`.
pub fn fields(probe: &Probe, spec: &SandboxSpec) -> Vec<Field> {
    let mut v = probe_fields(probe);
    v.extend(runner_fields(spec));
    v
}

/// The declared field at a concrete path (`outside.scratch.0.uid`).
pub fn find<'a>(fields: &'a [Field], path: &str) -> Option<&'a Field> {
    fields.iter().find(|f| matches(&f.path, path))
}

/// A declared path (`a.#.b`) matches a concrete one (`a.0.b`, or `a.#.b`).
pub fn matches(declared: &str, path: &str) -> bool {
    let (mut d, mut p) = (declared.split('.'), path.split('.'));
    loop {
        match (d.next(), p.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let ok = a == b || (a == "#" && (b == "#" || b.parse::<usize>().is_ok()));
                if !ok {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Every path a JSON value has, array indices written `#`, each with
/// whether its value was null there.
pub fn paths_of(v: &serde_json::Value) -> Vec<(String, bool)> {
    fn walk(v: &serde_json::Value, at: &str, out: &mut Vec<(String, bool)>) {
        if !at.is_empty() {
            out.push((at.to_string(), v.is_null()));
        }
        let join = |k: &str| {
            if at.is_empty() {
                k.to_string()
            } else {
                format!("{at}.{k}")
            }
        };
        match v {
            serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| walk(x, &join(k), out)),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, &join("#"), out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, "", &mut out);
    out.sort();
    out.dedup();
    out
}

/// Whether a JSON value has the declared type (null only where nullable).
pub fn fits(field: &Field, v: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (field.ty, v) {
        (_, V::Null) => field.nullable,
        (Ty::Bool, V::Bool(_)) => true,
        (Ty::Int { min }, V::Number(n)) => {
            n.as_i64().is_some_and(|i| i >= min) || (n.as_u64().is_some() && min <= 0)
        }
        (Ty::Number, V::Number(_)) => true,
        (Ty::Str, V::String(_)) => true,
        (Ty::Outcome, V::String(s)) => is_outcome(s),
        (Ty::Array, V::Array(_)) => true,
        (Ty::Object, V::Object(_)) => true,
        _ => false,
    }
}

/// `"ok"` or an errno's name.
pub fn is_outcome(s: &str) -> bool {
    s == "ok"
        || (s.len() > 1
            && s.starts_with('E')
            && s[1..]
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declared_paths_match_concrete_ones() {
        assert!(matches("outside.scratch.#.uid", "outside.scratch.0.uid"));
        assert!(matches("outside.scratch.#.uid", "outside.scratch.#.uid"));
        assert!(!matches("outside.scratch.#.uid", "outside.scratch.x.uid"));
        assert!(!matches("outside.scratch", "outside.scratch.0"));
        assert!(!matches("probe.self_pid", "probe"));
    }

    #[test]
    fn fields_follow_the_probe_arguments_and_the_sandbox() {
        let p: Probe = toml::from_str("kind = \"syscalls\"\ntry = [\"uname\"]").unwrap();
        let spec = SandboxSpec::default();
        let fs = fields(&p, &spec);
        assert!(find(&fs, "probe.calls.uname").is_some());
        assert!(find(&fs, "probe.calls.getcwd").is_none());
        assert!(
            find(&fs, "outside.cgroup.oom_kill").is_none(),
            "no limits, no cgroup"
        );
        assert!(find(&fs, "outside.joiner.pid").is_none(), "no joiner");
        let spec = SandboxSpec {
            scaffold: crate::model::scaffold::Scaffold {
                join: true,
                ..Default::default()
            },
            cgroup: crate::model::cgroup::CgroupLimits {
                pids_max: Some(8),
                ..Default::default()
            },
            ..Default::default()
        };
        let fs = fields(&p, &spec);
        assert!(find(&fs, "outside.cgroup.oom_kill").is_some());
        assert!(find(&fs, "outside.joiner.pid").is_some());
    }

    #[test]
    fn paths_of_a_value_write_indices_as_hash() {
        let v = json!({"a": [{"b": 1}, {"b": null}], "c": null});
        assert_eq!(
            paths_of(&v),
            vec![
                ("a".to_string(), false),
                ("a.#".to_string(), false),
                ("a.#.b".to_string(), false),
                ("a.#.b".to_string(), true),
                ("c".to_string(), true),
            ]
        );
    }

    #[test]
    fn types_are_checked() {
        let u = f("x", Ty::UINT);
        assert!(fits(&u, &json!(3)) && !fits(&u, &json!(-1)) && !fits(&u, &json!("3")));
        assert!(!fits(&u, &json!(null)) && fits(&opt("x", Ty::UINT), &json!(null)));
        let o = f("x", Ty::Outcome);
        assert!(fits(&o, &json!("ok")) && fits(&o, &json!("EPERM")));
        assert!(!fits(&o, &json!("permission denied")) && !fits(&o, &json!("E")));
        assert!(fits(&f("x", Ty::Number), &json!(0.5)));
    }
}
