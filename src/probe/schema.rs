//! What an observation holds: every path an expectation may read, with
//! its type. Each probe declares its own report's paths in its
//! definition ([`super::Def::fields`], next to its code); this module
//! holds the vocabulary they use and what the runner adds around every
//! report (`exit.*`, `outside.*`, `ids.*`, `setup.*`).
//!
//! Tables are checked against this when they load: a path no observation
//! of the row's probe and sandbox has is a table error, and so is an
//! expectation the type makes impossible or always true. A privileged
//! test runs the built-in cases and compares every path they produce with
//! this declaration both ways, so it cannot drift from the probes.

use std::borrow::Cow;

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

pub fn f(path: impl Into<Cow<'static, str>>, ty: Ty) -> Field {
    Field {
        path: path.into(),
        ty,
        nullable: false,
        rare: false,
    }
}

pub fn opt(path: impl Into<Cow<'static, str>>, ty: Ty) -> Field {
    Field {
        nullable: true,
        ..f(path, ty)
    }
}

pub fn rare(path: impl Into<Cow<'static, str>>, ty: Ty) -> Field {
    Field {
        nullable: true,
        rare: true,
        ..f(path, ty)
    }
}

/// A list of `elem` at `path`.
pub fn list(path: &'static str, elem: Ty) -> [Field; 2] {
    list_at(path.to_string(), elem)
}

/// The interfaces and routes a network view reports.
pub fn net_view(v: &mut Vec<Field>) {
    v.extend(list("probe.interfaces", Ty::Str));
    v.extend(list("probe.up", Ty::Str));
    v.push(f("probe.routes_v4", Ty::UINT));
    v.push(f("probe.routes_v6", Ty::UINT));
}

/// The five capability sets, and with `exec_self` what an exec of
/// isocheck's own binary got.
pub fn caps(v: &mut Vec<Field>, exec_self: bool) {
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
pub fn list_at(path: String, elem: Ty) -> [Field; 2] {
    [f(path.clone(), Ty::Array), f(path + ".#", elem)]
}

/// A list at `path` that a healthy run leaves empty.
pub fn rare_list_at(path: String, elem: Ty) -> [Field; 2] {
    [f(path.clone(), Ty::Array), rare(path + ".#", elem)]
}

/// A capability set as a list of names: the inheritable and ambient sets
/// are empty in every healthy sandbox.
pub fn caps_list(path: String) -> [Field; 2] {
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
    v.extend(list("outside.scratch_mounts", Ty::Str));
    // The sandbox's own cgroup, made only for limits (null without), and
    // what a joiner saw (null without one).
    v.push(opt("outside.cgroup", Ty::Object));
    v.push(opt("outside.joiner", Ty::Object));
    v.push(opt("outside.notify", Ty::Object));
    v.push(opt("outside.pidfd_signal", Ty::Object));
    if spec.scaffold.seccomp_supervisor {
        v.push(f("outside.notify.listener", Ty::Bool));
        v.push(f("outside.notify.received", Ty::UINT));
        v.push(opt("outside.notify.nr", Ty::SINT));
        v.push(opt("outside.notify.pid", Ty::SINT));
        v.push(f("outside.notify.sandbox_pid", Ty::SINT));
        v.push(opt("outside.notify.id_valid", Ty::Outcome));
        v.push(opt("outside.notify.answer", Ty::Outcome));
    }
    if spec.scaffold.pidfd_signal {
        v.push(f("outside.pidfd_signal.signal", Ty::Str));
        v.push(f("outside.pidfd_signal.pidfd_open", Ty::Outcome));
        v.push(f("outside.pidfd_signal.result", Ty::Outcome));
    }
    if !spec.cgroup.is_empty() {
        v.push(f("outside.cgroup.backend", Ty::Str));
        v.push(f("outside.cgroup.kill", Ty::Str));
        for k in [
            "outside.cgroup.oom_kill",
            "outside.cgroup.memory_limit_hits",
            "outside.cgroup.memory_max",
            "outside.cgroup.memory_high",
            "outside.cgroup.memory_high_events",
            "outside.cgroup.memory_peak",
            "outside.cgroup.memory_current",
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
        v.push(opt("outside.cgroup.memory_peak_file", Ty::Str));
        // v2 only; how the sandbox joined (none where it was not placed).
        v.push(opt("outside.cgroup.path", Ty::Str));
        v.push(opt("outside.cgroup.join", Ty::Str));
    }
    // The task the probe left outside the session, as the helper saw it
    // (spec `leftovers`, with a probe that reports one).
    v.push(opt("outside.escapee", Ty::Object));
    if spec.cgroup.leftovers.is_some() {
        v.push(f("outside.escapee.pid", Ty::SINT));
        v.push(f("outside.escapee.cgroup", Ty::Str));
        v.push(f("outside.escapee.alive_before", Ty::Bool));
        v.push(f("outside.escapee.ended_by", Ty::Str));
        v.push(f("outside.escapee.alive_after", Ty::Bool));
        v.push(f("outside.escapee.waited_ms", Ty::UINT));
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

/// The declared field at a concrete path (`outside.scratch.0.uid`).
pub fn find<'a>(fields: &'a [Field], path: &str) -> Option<&'a Field> {
    // A path without an index matches only the declared path of the same
    // text (see [`matches`]): no need to split every candidate.
    if !path.split('.').any(is_index) {
        return fields.iter().find(|f| f.path == path);
    }
    fields.iter().find(|f| matches(&f.path, path))
}

/// A segment of a concrete path that a declared `#` matches.
fn is_index(segment: &str) -> bool {
    segment == "#" || segment.parse::<usize>().is_ok()
}

/// A declared path (`a.#.b`) matches a concrete one (`a.0.b`, or `a.#.b`).
pub fn matches(declared: &str, path: &str) -> bool {
    // Most declared paths have no `#`: for them only the same text matches.
    if declared == path {
        return true;
    }
    if !declared.contains('#') {
        return false;
    }
    let (mut d, mut p) = (declared.split('.'), path.split('.'));
    loop {
        match (d.next(), p.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let ok = a == b || (a == "#" && is_index(b));
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
        assert!(matches("probe.self_pid", "probe.self_pid"));
        assert!(!matches("probe.self_pid", "probe.self_pid.x"));
        assert!(!matches("a.#", "a.#.b") && !matches("a.#", "a"));
    }

    #[test]
    fn find_takes_the_first_declared_match() {
        let fields = [
            f("a", Ty::Array),
            f("a.#", Ty::Object),
            f("a.#.b", Ty::UINT),
            f("c", Ty::Str),
        ];
        let at = |p: &str| find(&fields, p).map(|f| f.path.to_string());
        assert_eq!(at("c").as_deref(), Some("c"));
        assert_eq!(at("a.0.b").as_deref(), Some("a.#.b"));
        assert_eq!(at("a.#").as_deref(), Some("a.#"));
        assert_eq!(at("a.x"), None);
        assert_eq!(at("a.b"), None);
        assert_eq!(at("d"), None);
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
