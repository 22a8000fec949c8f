//! Expectations: assertions on the observation, written as data.
//!
//! `{ path = "probe.self_pid", eq = 1 }` reads the observation at the
//! dotted path and compares. A table writes exactly one operator per
//! expectation ([`Written`]); loaded, an expectation is a path and one
//! typed [`Op`]. When the table loads, each is checked against the
//! declared output of its probe ([`Expect::check_against`]): the one
//! place where a path the probe does not produce, or an operator that
//! does not fit the value's type (or always holds for it), is refused.
//! At run time the observation stays JSON; it is read only here, through
//! [`lookup`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::probe::schema::{self, Field, Ty};

/// An expectation as a table writes it: a path, and one operator among
/// optional fields. [`Expect`] is what it becomes once checked.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Written {
    /// Dotted path into the observation: `probe.write`, `exit.signal`,
    /// `outside.scratch.0.uid`.
    pub path: String,
    /// A precondition of the probe (it could create its file, it runs as
    /// root ...), not the promise: when it does not hold the case is an
    /// `error`, never a `fail`.
    #[serde(default)]
    pub pre: bool,
    #[serde(default)]
    pub eq: Option<Value>,
    #[serde(default)]
    pub ne: Option<Value>,
    /// Equal to the value at another path.
    #[serde(default)]
    pub eq_path: Option<String>,
    /// Different from the value at another path.
    #[serde(default)]
    pub ne_path: Option<String>,
    #[serde(default)]
    pub ge: Option<f64>,
    #[serde(default)]
    pub le: Option<f64>,
    /// An array holding this element, or a string holding this substring.
    #[serde(default)]
    pub contains: Option<Value>,
    /// The opposite of `contains`.
    #[serde(default)]
    pub excludes: Option<Value>,
    /// An array (or string) of at least this length.
    #[serde(default)]
    pub len_ge: Option<usize>,
    /// An array of one of the objects that has `field` equal to `value`:
    /// `any = { name = "f", uid = 100000 }` matches an element with all of
    /// those fields equal.
    #[serde(default)]
    pub any: Option<serde_json::Map<String, Value>>,
}

/// An expectation's operator and its argument.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Equal to this value.
    Eq(Value),
    /// Not equal to this value.
    Ne(Value),
    /// Equal to the value at another path.
    EqPath(String),
    /// Different from the value at another path.
    NePath(String),
    /// A number at least this.
    Ge(f64),
    /// A number at most this.
    Le(f64),
    /// An array holding this element, or a string holding this substring.
    Contains(Value),
    /// The opposite of `contains`.
    Excludes(Value),
    /// An array (or string) of at least this length.
    LenGe(usize),
    /// An array with an element whose fields equal all of these.
    Any(serde_json::Map<String, Value>),
}

impl Op {
    /// Every operator's name, as a table writes it.
    pub const NAMES: [&'static str; 10] = [
        "eq", "ne", "eq_path", "ne_path", "ge", "le", "contains", "excludes", "len_ge", "any",
    ];

    /// The operator's name, as a table writes it.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Eq(_) => "eq",
            Op::Ne(_) => "ne",
            Op::EqPath(_) => "eq_path",
            Op::NePath(_) => "ne_path",
            Op::Ge(_) => "ge",
            Op::Le(_) => "le",
            Op::Contains(_) => "contains",
            Op::Excludes(_) => "excludes",
            Op::LenGe(_) => "len_ge",
            Op::Any(_) => "any",
        }
    }

    /// The argument as the report shows it.
    fn shown(&self) -> String {
        match self {
            Op::Eq(x) | Op::Ne(x) | Op::Contains(x) | Op::Excludes(x) => x.to_string(),
            Op::EqPath(p) | Op::NePath(p) => p.clone(),
            Op::Ge(x) | Op::Le(x) => x.to_string(),
            Op::LenGe(n) => n.to_string(),
            Op::Any(m) => Value::Object(m.clone()).to_string(),
        }
    }

    /// The argument as a JSON value (for comparisons between expectations).
    fn arg(&self) -> Value {
        let num = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
        match self {
            Op::Eq(x) | Op::Ne(x) | Op::Contains(x) | Op::Excludes(x) => x.clone(),
            Op::EqPath(p) | Op::NePath(p) => Value::String(p.clone()),
            Op::Ge(x) | Op::Le(x) => num(*x),
            Op::LenGe(n) => Value::from(*n),
            Op::Any(m) => Value::Object(m.clone()),
        }
    }

    /// The second path it reads (`eq_path`, `ne_path`).
    fn other_path(&self) -> Option<&str> {
        match self {
            Op::EqPath(p) | Op::NePath(p) => Some(p),
            _ => None,
        }
    }
}

/// One expectation: a path into the observation and one operator.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(try_from = "Written")]
pub struct Expect {
    /// Dotted path into the observation: `probe.write`, `exit.signal`,
    /// `outside.scratch.0.uid`.
    pub path: String,
    /// A precondition of the probe, not the promise: when it does not hold
    /// the case is an `error`, never a `fail`.
    pub pre: bool,
    pub op: Op,
}

impl TryFrom<Written> for Expect {
    type Error = String;

    /// Checks the shape: a path and exactly one operator.
    fn try_from(w: Written) -> Result<Expect, String> {
        if w.path.is_empty() {
            return Err("path: must not be empty".into());
        }
        let ops: Vec<Op> = [
            w.eq.map(Op::Eq),
            w.ne.map(Op::Ne),
            w.eq_path.map(Op::EqPath),
            w.ne_path.map(Op::NePath),
            w.ge.map(Op::Ge),
            w.le.map(Op::Le),
            w.contains.map(Op::Contains),
            w.excludes.map(Op::Excludes),
            w.len_ge.map(Op::LenGe),
            w.any.map(Op::Any),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut ops = ops.into_iter();
        match (ops.next(), ops.next()) {
            (Some(op), None) => Ok(Expect {
                path: w.path,
                pre: w.pre,
                op,
            }),
            (None, _) => Err(format!(
                "expectation on `{}` has no operator ({})",
                w.path,
                Op::NAMES.join(", ")
            )),
            (Some(_), Some(_)) => Err(format!("expectation on `{}` has more than one operator; write one expectation per operator", w.path)),
        }
    }
}

/// One checked expectation, as the report shows it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Checked {
    pub ok: bool,
    /// A precondition rather than the promise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pre: bool,
    /// `probe.self_pid eq 1`.
    pub what: String,
    /// The value found at the path (null when absent).
    pub got: Value,
    /// A path the observation did not have: the expectation could not be
    /// judged, which makes the case an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

impl Expect {
    /// `probe.self_pid eq 1`.
    pub fn describe(&self) -> String {
        format!("{} {} {}", self.path, self.op.name(), self.op.shown())
    }

    /// The same assertion (path, operator, argument), whatever `pre` says.
    pub fn same_as(&self, other: &Expect) -> bool {
        self.path == other.path
            && self.op.name() == other.op.name()
            && self.op.arg() == other.op.arg()
    }

    /// Checks the observation. A path the observation does not have is
    /// never a match, for any operator: the check is not `ok` and names
    /// the path in `missing`.
    pub fn check(&self, obs: &Value) -> Checked {
        let found = lookup(obs, &self.path);
        let got = found.cloned().unwrap_or(Value::Null);
        let other = self.op.other_path();
        let other_found = other.map(|p| lookup(obs, p));
        let missing = if found.is_none() {
            Some(self.path.clone())
        } else if let (Some(p), Some(None)) = (other, other_found) {
            Some(p.to_string())
        } else {
            None
        };
        let ok = missing.is_none() && self.holds(&got, other_found.flatten());
        Checked {
            ok,
            pre: self.pre,
            what: self.describe(),
            got,
            missing,
        }
    }

    /// The operator applied to a value that is there (`other`: the value
    /// at `eq_path` or `ne_path`).
    fn holds(&self, got: &Value, other: Option<&Value>) -> bool {
        match &self.op {
            Op::Eq(want) => got == want,
            Op::Ne(want) => got != want,
            Op::EqPath(_) => other.is_some_and(|o| o == got) && !got.is_null(),
            Op::NePath(_) => other.is_some_and(|o| o != got) && !got.is_null(),
            Op::Ge(min) => got.as_f64().is_some_and(|g| g >= *min),
            Op::Le(max) => got.as_f64().is_some_and(|g| g <= *max),
            Op::Contains(x) => contains(got, x),
            Op::Excludes(x) => !got.is_null() && !contains(got, x),
            Op::LenGe(n) => match got {
                Value::Array(a) => a.len() >= *n,
                Value::String(s) => s.len() >= *n,
                _ => false,
            },
            Op::Any(fields) => got.as_array().is_some_and(|a| {
                a.iter()
                    .any(|el| fields.iter().all(|(k, v)| el.get(k) == Some(v)))
            }),
        }
    }

    /// Checks the expectation against the paths an observation has: the
    /// path is declared, and the operator can both hold and fail for the
    /// value's type. The error says why.
    pub fn check_against(&self, fields: &[Field]) -> Result<(), String> {
        let field = find_field(fields, &self.path)?;
        // Described only for an error: most expectations pass.
        let never = |why: String| Err(format!("`{}` can never hold: {why}", self.describe()));
        let always = |why: String| {
            Err(format!(
                "`{}` is always true, so it proves nothing: {why}",
                self.describe()
            ))
        };
        let numeric = matches!(field.ty, Ty::Int { .. } | Ty::Number);
        let is_a = |ty: Ty| format!("`{}` is {}", self.path, ty.name());
        match &self.op {
            Op::Eq(v) => {
                if !fits_deep(fields, &self.path, v) {
                    return never(format!("{}, never {v}", is_a(field.ty)));
                }
            }
            Op::Ne(v) => {
                if !fits_deep(fields, &self.path, v) {
                    return always(format!("{}, never {v}", is_a(field.ty)));
                }
            }
            Op::EqPath(p) | Op::NePath(p) => {
                let other = find_field(fields, p)?;
                let comparable = field.ty == other.ty
                    || matches!((field.ty, other.ty), (Ty::Int { .. }, Ty::Int { .. }))
                    || matches!(
                        (field.ty, other.ty),
                        (Ty::Str | Ty::Outcome, Ty::Str | Ty::Outcome)
                    );
                let eq = matches!(self.op, Op::EqPath(_));
                if !comparable {
                    let why = format!("{} and `{p}` is {}", is_a(field.ty), other.ty.name());
                    return if eq { never(why) } else { always(why) };
                }
                if *p == self.path {
                    let why = "a path compared with itself".to_string();
                    return if eq { always(why) } else { never(why) };
                }
            }
            Op::Ge(x) => {
                if !numeric {
                    return never(format!("{}, not a number", is_a(field.ty)));
                }
                if let Ty::Int { min } = field.ty {
                    if *x <= min as f64 && !field.nullable {
                        return always(format!("{} (at least {min})", is_a(field.ty)));
                    }
                }
            }
            Op::Le(x) => {
                if !numeric {
                    return never(format!("{}, not a number", is_a(field.ty)));
                }
                if let Ty::Int { min } = field.ty {
                    if *x < min as f64 {
                        return never(format!("{} (at least {min})", is_a(field.ty)));
                    }
                }
            }
            Op::Contains(x) | Op::Excludes(x) => {
                let ok = match field.ty {
                    Ty::Array => fits_deep(fields, &format!("{}.#", self.path), x),
                    Ty::Str | Ty::Outcome => x.is_string(),
                    _ => false,
                };
                if !ok {
                    let why = format!("{}, which cannot hold {x}", is_a(field.ty));
                    return if matches!(self.op, Op::Contains(_)) {
                        never(why)
                    } else {
                        always(why)
                    };
                }
            }
            Op::LenGe(n) => {
                if !matches!(field.ty, Ty::Array | Ty::Str | Ty::Outcome) {
                    return never(format!("{}, which has no length", is_a(field.ty)));
                }
                if *n == 0 && !field.nullable {
                    return always("every length is at least 0".into());
                }
            }
            Op::Any(m) => {
                if field.ty != Ty::Array {
                    return never(is_a(field.ty));
                }
                for (k, v) in m {
                    let p = format!("{}.#.{k}", self.path);
                    if !fits_deep(fields, &p, v) {
                        return never(format!("no element has `{k}` = {v}"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// The declared field at a path, or an error that lists the paths there are.
fn find_field<'a>(fields: &'a [Field], path: &str) -> Result<&'a Field, String> {
    schema::find(fields, path).ok_or_else(|| {
        let mut known: Vec<&str> = fields
            .iter()
            .map(|f| f.path.as_ref())
            .filter(|p| !p.contains('#') && p.starts_with("probe."))
            .collect();
        known.dedup();
        format!(
            "no observation of this probe and sandbox has `{path}`; the probe reports {}, and the runner adds exit.*, outside.*, ids.*, setup.*",
            if known.is_empty() {
                "nothing".to_string()
            } else {
                known.join(", ")
            }
        )
    })
}

/// A value can be found at `path`: its type is declared there, and so is
/// every element and key it holds.
fn fits_deep(fields: &[Field], path: &str, v: &Value) -> bool {
    let Some(field) = schema::find(fields, path) else {
        return false;
    };
    if !schema::fits(field, v) {
        return false;
    }
    match v {
        Value::Array(a) => {
            let elem = format!("{path}.#");
            a.iter().all(|x| fits_deep(fields, &elem, x))
        }
        Value::Object(m) => m
            .iter()
            .all(|(k, x)| fits_deep(fields, &format!("{path}.{k}"), x)),
        _ => true,
    }
}

/// Two expectations of one list on the same path that cannot both hold:
/// the list can never pass. Returns the later one's index and why.
pub fn contradiction(expects: &[Expect]) -> Option<(usize, String)> {
    for (j, b) in expects.iter().enumerate() {
        for a in &expects[..j] {
            if a.path != b.path {
                continue;
            }
            if let Some(why) = clash(a, b).or_else(|| clash(b, a)) {
                return Some((
                    j,
                    format!(
                        "`{}` contradicts `{}`: {why}; the expectations can never all hold",
                        b.describe(),
                        a.describe()
                    ),
                ));
            }
        }
    }
    None
}

/// Why `a` and `b` (on one path) cannot both hold, if they cannot.
fn clash(a: &Expect, b: &Expect) -> Option<&'static str> {
    match (&a.op, &b.op) {
        (Op::Eq(x), Op::Eq(y)) => (x != y).then_some("one value cannot equal two"),
        (Op::Eq(x), Op::Ne(y)) => (x == y).then_some("equal and not equal"),
        (Op::Eq(x), Op::Ge(min)) => x
            .as_f64()
            .is_some_and(|x| x < *min)
            .then_some("the value it must equal is below the bound"),
        (Op::Eq(x), Op::Le(max)) => x
            .as_f64()
            .is_some_and(|x| x > *max)
            .then_some("the value it must equal is above the bound"),
        (Op::Eq(Value::Array(arr)), Op::LenGe(n)) => {
            (arr.len() < *n).then_some("the array it must equal is shorter")
        }
        (Op::Eq(Value::Array(arr)), Op::Contains(y)) => {
            (!arr.contains(y)).then_some("the array it must equal lacks the element")
        }
        (Op::Eq(Value::Array(arr)), Op::Excludes(y)) => arr
            .contains(y)
            .then_some("the array it must equal holds the element"),
        (Op::Eq(Value::String(v)), Op::LenGe(n)) => {
            (v.len() < *n).then_some("the string it must equal is shorter")
        }
        (Op::Eq(Value::String(v)), Op::Contains(Value::String(y))) => {
            (!v.contains(y.as_str())).then_some("the string it must equal lacks the text")
        }
        (Op::Eq(Value::String(v)), Op::Excludes(Value::String(y))) => v
            .contains(y.as_str())
            .then_some("the string it must equal holds the text"),
        (Op::Eq(Value::Array(arr)), Op::Any(fields)) => (!arr
            .iter()
            .any(|el| fields.iter().all(|(k, v)| el.get(k) == Some(v))))
        .then_some("no element of the array it must equal has those fields"),
        (Op::Ge(min), Op::Le(max)) => {
            (min > max).then_some("the lower bound is above the upper bound")
        }
        (Op::Contains(x), Op::Excludes(y)) => {
            (x == y).then_some("it must both hold and lack the element")
        }
        _ => None,
    }
}

fn contains(hay: &Value, needle: &Value) -> bool {
    match (hay, needle) {
        (Value::Array(a), n) => a.contains(n),
        (Value::String(s), Value::String(n)) => s.contains(n.as_str()),
        _ => false,
    }
}

/// Reads a dotted path; numeric segments index arrays.
pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, seg| match cur {
        Value::Object(m) => m.get(seg),
        Value::Array(a) => a.get(seg.parse::<usize>().ok()?),
        _ => None,
    })
}

/// Checks all; `Ok` when every one held, else the ones that did not.
pub fn check_all(expects: &[Expect], obs: &Value) -> (Vec<Checked>, bool) {
    let checked: Vec<Checked> = expects.iter().map(|e| e.check(obs)).collect();
    let ok = checked.iter().all(|c| c.ok);
    (checked, ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    fn obs() -> Value {
        json!({
            "probe": {"self_pid": 1, "write": "EROFS", "up": ["lo"], "pids": [1, 7], "name": "sbx"},
            "exit": {"code": null, "signal": "SIGKILL"},
            "outside": {"before": "vm", "after": "vm", "scratch": [{"name": "f", "uid": 100000}]}
        })
    }

    fn e(toml_src: &str) -> Expect {
        toml::from_str(toml_src).unwrap()
    }

    #[rstest]
    #[case::eq_number("path = \"probe.self_pid\"\neq = 1", true)]
    #[case::eq_wrong("path = \"probe.self_pid\"\neq = 2", false)]
    #[case::eq_string("path = \"probe.write\"\neq = \"EROFS\"", true)]
    #[case::ne("path = \"exit.signal\"\nne = \"SIGABRT\"", true)]
    #[case::null_is_a_value("path = \"exit.code\"\neq = \"0\"", false)]
    #[case::missing_path_never_matches_ne("path = \"probe.nothing\"\nne = 1", false)]
    #[case::missing_path_never_matches_excludes("path = \"probe.nothing\"\nexcludes = 1", false)]
    #[case::missing_other_path_never_matches_ne_path(
        "path = \"probe.self_pid\"\nne_path = \"probe.none\"",
        false
    )]
    #[case::eq_path("path = \"outside.after\"\neq_path = \"outside.before\"", true)]
    #[case::ne_path("path = \"outside.after\"\nne_path = \"outside.before\"", false)]
    #[case::eq_path_absent_is_false("path = \"probe.nothing\"\neq_path = \"probe.none\"", false)]
    #[case::ge("path = \"probe.self_pid\"\nge = 1", true)]
    #[case::le("path = \"probe.self_pid\"\nle = 0", false)]
    #[case::ge_not_a_number("path = \"probe.write\"\nge = 0", false)]
    #[case::contains_array("path = \"probe.up\"\ncontains = \"lo\"", true)]
    #[case::contains_substring("path = \"probe.name\"\ncontains = \"sb\"", true)]
    #[case::excludes("path = \"probe.pids\"\nexcludes = 2", true)]
    #[case::excludes_absent_is_false("path = \"probe.nothing\"\nexcludes = 2", false)]
    #[case::len_ge("path = \"probe.pids\"\nlen_ge = 2", true)]
    #[case::len_ge_short("path = \"probe.up\"\nlen_ge = 2", false)]
    #[case::index("path = \"outside.scratch.0.uid\"\neq = 100000", true)]
    #[case::any(
        "path = \"outside.scratch\"\nany = { name = \"f\", uid = 100000 }",
        true
    )]
    #[case::any_mismatch("path = \"outside.scratch\"\nany = { name = \"f\", uid = 0 }", false)]
    fn operators(#[case] src: &str, #[case] want: bool) {
        assert_eq!(e(src).check(&obs()).ok, want, "{src}");
    }

    #[rstest]
    #[case::none("path = \"probe.x\"", "no operator")]
    #[case::two("path = \"probe.x\"\neq = 1\nne = 2", "more than one operator")]
    #[case::empty_path("path = \"\"\neq = 1", "path: must not be empty")]
    fn malformed(#[case] src: &str, #[case] msg: &str) {
        let w: Written = toml::from_str(src).unwrap();
        assert!(Expect::try_from(w).unwrap_err().contains(msg));
    }

    #[rstest]
    #[case::ne("path = \"probe.nothing\"\nne = 1", "probe.nothing")]
    #[case::ne_path("path = \"probe.self_pid\"\nne_path = \"probe.none\"", "probe.none")]
    #[case::le("path = \"exit.nothing\"\nle = 1", "exit.nothing")]
    fn a_missing_value_is_named_and_never_a_match(#[case] src: &str, #[case] path: &str) {
        let c = e(src).check(&obs());
        assert!(!c.ok);
        assert_eq!(c.missing.as_deref(), Some(path));
        let present = e("path = \"exit.code\"\neq = 1").check(&obs());
        assert_eq!(present.missing, None, "null is a value, not a missing one");
    }

    fn fields() -> Vec<Field> {
        let probe: crate::probe::Probe =
            toml::from_str("kind = \"chown\"\npath = \"/tmp/x\"\nuid = 1\ngid = 1").unwrap();
        let spec = crate::model::spec::SandboxSpec::default();
        probe.fields(&spec)
    }

    #[rstest]
    #[case::fine("path = \"probe.chown\"\neq = \"EPERM\"", None)]
    #[case::fine_index("path = \"outside.scratch.0.uid\"\neq = 1", None)]
    #[case::fine_any("path = \"outside.scratch\"\nany = { name = \"f\", uid = 0 }", None)]
    #[case::unknown_path("path = \"probe.chwon\"\neq = \"EPERM\"", Some("no observation of this probe and sandbox has `probe.chwon`; the probe reports probe.create, probe.chown, probe.uid"))]
    #[case::unknown_other_path(
        "path = \"probe.uid\"\neq_path = \"ids.root\"",
        Some("has `ids.root`")
    )]
    #[case::no_cgroup_without_limits(
        "path = \"outside.cgroup.oom_kill\"\nge = 1",
        Some("has `outside.cgroup.oom_kill`")
    )]
    #[case::ne_wrong_type("path = \"probe.uid\"\nne = \"root\"", Some("is always true"))]
    #[case::ne_negative_uid("path = \"probe.uid\"\nne = -1", Some("is always true"))]
    #[case::ne_not_an_errno("path = \"probe.chown\"\nne = \"denied\"", Some("is always true"))]
    #[case::eq_wrong_type("path = \"probe.chown\"\neq = 1", Some("can never hold"))]
    #[case::ge_zero_uint("path = \"probe.uid\"\nge = 0", Some("is always true"))]
    #[case::ge_a_string("path = \"probe.chown\"\nge = 1", Some("can never hold"))]
    #[case::le_negative_uint("path = \"probe.uid\"\nle = -1", Some("can never hold"))]
    #[case::len_ge_zero("path = \"outside.scratch\"\nlen_ge = 0", Some("is always true"))]
    #[case::len_ge_a_number("path = \"probe.uid\"\nlen_ge = 1", Some("can never hold"))]
    #[case::excludes_wrong_element(
        "path = \"outside.scratch_mounts\"\nexcludes = 3",
        Some("is always true")
    )]
    #[case::contains_wrong_element(
        "path = \"outside.scratch_mounts\"\ncontains = 3",
        Some("can never hold")
    )]
    #[case::any_unknown_field(
        "path = \"outside.scratch\"\nany = { owner = 0 }",
        Some("no element has `owner`")
    )]
    #[case::eq_path_itself(
        "path = \"probe.uid\"\neq_path = \"probe.uid\"",
        Some("is always true")
    )]
    #[case::ne_path_across_types(
        "path = \"probe.uid\"\nne_path = \"probe.chown\"",
        Some("is always true")
    )]
    fn expectations_are_checked_against_the_schema(#[case] src: &str, #[case] err: Option<&str>) {
        let got = e(src).check_against(&fields());
        match err {
            None => assert_eq!(got, Ok(()), "{src}"),
            Some(msg) => {
                let got = got.unwrap_err();
                assert!(got.contains(msg), "{src}: {got}");
            }
        }
    }

    #[rstest]
    #[case::two_values("eq = 1", "eq = 2", true)]
    #[case::eq_ne("eq = 1", "ne = 1", true)]
    #[case::eq_below("eq = 1", "ge = 2", true)]
    #[case::bounds("ge = 5", "le = 4", true)]
    #[case::contains_excludes("contains = 1", "excludes = 1", true)]
    #[case::short_array("eq = [1]", "len_ge = 2", true)]
    #[case::short_string("eq = \"sandbox\"", "len_ge = 40", true)]
    #[case::string_lacks_text("eq = \"sandbox\"", "contains = \"host\"", true)]
    #[case::string_holds_text("eq = \"sandbox\"", "excludes = \"box\"", true)]
    #[case::empty_array_any("eq = []", "any = { name = \"f\" }", true)]
    #[case::string_long_enough("eq = \"sandbox\"", "len_ge = 7", false)]
    #[case::string_has_text("eq = \"sandbox\"", "contains = \"and\"", false)]
    #[case::array_has_match("eq = [{ name = \"f\" }]", "any = { name = \"f\" }", false)]
    #[case::compatible_bounds("ge = 1", "le = 4", false)]
    #[case::same_twice("eq = 1", "eq = 1", false)]
    fn contradictions_are_found(#[case] a: &str, #[case] b: &str, #[case] clash: bool) {
        let list = [
            e(&format!("path = \"probe.x\"\n{a}")),
            e("path = \"probe.y\"\neq = 2"),
            e(&format!("path = \"probe.x\"\n{b}")),
        ];
        let found = contradiction(&list);
        assert_eq!(found.is_some(), clash, "{found:?}");
        if let Some((j, why)) = found {
            assert_eq!(j, 2);
            assert!(why.contains("can never all hold"), "{why}");
        }
    }

    #[test]
    fn unknown_operator_is_refused_by_name() {
        let err = toml::from_str::<Expect>("path = \"p\"\nequals = 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `equals`"), "{err}");
    }
}
