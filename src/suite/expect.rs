//! Expectations: assertions on the observation, written as data.
//!
//! `{ path = "probe.self_pid", eq = 1 }` reads the observation at the
//! dotted path and compares. Exactly one operator per expectation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Dotted path into the observation: `probe.write`, `exit.signal`,
    /// `outside.scratch.0.uid`.
    pub path: String,
    /// A precondition of the probe (it could create its file, it runs as
    /// root ...), not the promise: when it does not hold the case is an
    /// `error`, never a `fail`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pre: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ne: Option<Value>,
    /// Equal to the value at another path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eq_path: Option<String>,
    /// Different from the value at another path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ne_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub le: Option<f64>,
    /// An array holding this element, or a string holding this substring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<Value>,
    /// The opposite of `contains`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excludes: Option<Value>,
    /// An array (or string) of at least this length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len_ge: Option<usize>,
    /// An array of one of the objects that has `field` equal to `value`:
    /// `any = { name = "f", uid = 100000 }` matches an element with all of
    /// those fields equal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<serde_json::Map<String, Value>>,
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
}

impl Expect {
    fn ops(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        let s = |x: &Value| x.to_string();
        if let Some(x) = &self.eq {
            v.push(("eq", s(x)));
        }
        if let Some(x) = &self.ne {
            v.push(("ne", s(x)));
        }
        if let Some(x) = &self.eq_path {
            v.push(("eq_path", x.clone()));
        }
        if let Some(x) = &self.ne_path {
            v.push(("ne_path", x.clone()));
        }
        if let Some(x) = self.ge {
            v.push(("ge", x.to_string()));
        }
        if let Some(x) = self.le {
            v.push(("le", x.to_string()));
        }
        if let Some(x) = &self.contains {
            v.push(("contains", s(x)));
        }
        if let Some(x) = &self.excludes {
            v.push(("excludes", s(x)));
        }
        if let Some(x) = self.len_ge {
            v.push(("len_ge", x.to_string()));
        }
        if let Some(x) = &self.any {
            v.push(("any", Value::Object(x.clone()).to_string()));
        }
        v
    }

    /// Checks the shape: a path and exactly one operator.
    pub fn validate(&self) -> Result<(), String> {
        if self.path.is_empty() {
            return Err("path: must not be empty".into());
        }
        match self.ops().len() {
            1 => Ok(()),
            0 => Err(format!("expectation on `{}` has no operator (eq, ne, eq_path, ne_path, ge, le, contains, excludes, len_ge, any)", self.path)),
            _ => Err(format!("expectation on `{}` has more than one operator; write one expectation per operator", self.path)),
        }
    }

    pub fn describe(&self) -> String {
        let (op, arg) = self
            .ops()
            .into_iter()
            .next()
            .unwrap_or(("?", String::new()));
        format!("{} {op} {arg}", self.path)
    }

    pub fn check(&self, obs: &Value) -> Checked {
        let got = lookup(obs, &self.path).cloned().unwrap_or(Value::Null);
        let ok = if let Some(want) = &self.eq {
            &got == want
        } else if let Some(want) = &self.ne {
            &got != want
        } else if let Some(p) = &self.eq_path {
            lookup(obs, p).is_some_and(|other| *other == got) && !got.is_null()
        } else if let Some(p) = &self.ne_path {
            lookup(obs, p).is_some_and(|other| *other != got) && !got.is_null()
        } else if let Some(min) = self.ge {
            got.as_f64().is_some_and(|g| g >= min)
        } else if let Some(max) = self.le {
            got.as_f64().is_some_and(|g| g <= max)
        } else if let Some(x) = &self.contains {
            contains(&got, x)
        } else if let Some(x) = &self.excludes {
            !got.is_null() && !contains(&got, x)
        } else if let Some(n) = self.len_ge {
            match &got {
                Value::Array(a) => a.len() >= n,
                Value::String(s) => s.len() >= n,
                _ => false,
            }
        } else if let Some(fields) = &self.any {
            got.as_array().is_some_and(|a| {
                a.iter()
                    .any(|el| fields.iter().all(|(k, v)| el.get(k) == Some(v)))
            })
        } else {
            false
        };
        Checked {
            ok,
            pre: self.pre,
            what: self.describe(),
            got,
        }
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
        let e: Expect = toml::from_str(toml_src).unwrap();
        e.validate().unwrap();
        e
    }

    #[rstest]
    #[case::eq_number("path = \"probe.self_pid\"\neq = 1", true)]
    #[case::eq_wrong("path = \"probe.self_pid\"\neq = 2", false)]
    #[case::eq_string("path = \"probe.write\"\neq = \"EROFS\"", true)]
    #[case::ne("path = \"exit.signal\"\nne = \"SIGABRT\"", true)]
    #[case::null_is_a_value("path = \"exit.code\"\neq = \"0\"", false)]
    #[case::missing_path_is_null("path = \"probe.nothing\"\nne = 1", true)]
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
        let e: Expect = toml::from_str(src).unwrap();
        assert!(e.validate().unwrap_err().contains(msg));
    }

    #[test]
    fn unknown_operator_is_refused_by_name() {
        let err = toml::from_str::<Expect>("path = \"p\"\nequals = 1")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `equals`"), "{err}");
    }
}
