//! Small helpers the text reporters share: one-line escaping, durations,
//! the cases grouped by area, and the short account of what went wrong in a case (its failed
//! expectations, a bounded observation) that KTAP and JUnit carry instead
//! of whole observations.

use serde_json::Value;
use std::borrow::Cow;

use crate::model::result::CaseResult;

/// The cases grouped by area, the areas in the order the cases meet them.
pub(crate) fn by_area(cases: &[CaseResult]) -> Vec<(&str, Vec<&CaseResult>)> {
    let mut areas: Vec<(&str, Vec<&CaseResult>)> = Vec::new();
    for case in cases {
        match areas.iter_mut().find(|(area, _)| *area == case.area) {
            Some((_, cases)) => cases.push(case),
            None => areas.push((&case.area, vec![case])),
        }
    }
    areas
}

/// At most this many bytes of a value found, in one failed expectation.
pub(crate) const GOT_LIMIT: usize = 200;

/// `s` made safe for one line of a terminal or a log: control characters
/// (newlines, tabs, escape sequences) are written as Rust escapes, so a
/// hostile detail can neither break the line nor drive the terminal.
pub(crate) fn one_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A duration in milliseconds, with one decimal.
pub(crate) fn ms(duration_ms: f64) -> String {
    format!("{duration_ms:.1} ms")
}

/// `text` cut to at most `limit` bytes on a character boundary, saying how
/// many bytes were left out.
pub(crate) fn cut(text: &str, limit: usize) -> Cow<'_, str> {
    if text.len() <= limit {
        return Cow::Borrowed(text);
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}... ({} bytes more)",
        &text[..end],
        text.len() - end
    ))
}

/// `value` as compact JSON, cut at `limit` bytes ([`cut`]).
pub(crate) fn trimmed_json(value: &Value, limit: usize) -> String {
    let text = value.to_string();
    cut(&text, limit).into_owned()
}

/// The expectations of a case that did not hold, one line each:
/// `probe.self_pid eq 1: got 48213`, `... : missing probe.x` when the
/// observation lacked the path, `(precondition)` for a precondition.
/// `expected` is a case's `expected` as the runner writes it (a list of
/// checked expectations); anything else gives no lines.
pub(crate) fn failed_expectations(expected: &Value) -> Vec<String> {
    let Some(items) = expected.as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|e| e.get("ok") == Some(&Value::Bool(false)))
        .map(|e| {
            let what = e.get("what").and_then(Value::as_str).unwrap_or("?");
            let pre = if e.get("pre") == Some(&Value::Bool(true)) {
                " (precondition)"
            } else {
                ""
            };
            let found = match e.get("missing").and_then(Value::as_str) {
                Some(path) => format!("missing {path}"),
                None => format!(
                    "got {}",
                    trimmed_json(e.get("got").unwrap_or(&Value::Null), GOT_LIMIT)
                ),
            };
            one_line(&format!("{what}{pre}: {found}")).into_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cut_keeps_short_text_and_says_how_much_it_left_out() {
        assert_eq!(cut("short", 10), "short");
        assert_eq!(cut("0123456789", 4), "0123... (6 bytes more)");
        // Never inside a character: é is two bytes.
        assert_eq!(cut("aé", 2), "a... (2 bytes more)");
    }

    #[test]
    fn failed_expectations_name_what_was_wanted_and_what_was_found() {
        let expected = json!([
            {"ok": true, "what": "probe.a eq 1", "got": 1},
            {"ok": false, "what": "probe.pids len 1", "got": (1..=105).collect::<Vec<u32>>()},
            {"ok": false, "pre": true, "what": "probe.b eq 2", "got": 3},
            {"ok": false, "what": "probe.c eq 1", "got": null, "missing": "probe.c"},
        ]);
        let lines = failed_expectations(&expected);
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("probe.pids len 1: got [1,2,3,"),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with("bytes more)"), "{}", lines[0]);
        assert!(lines[0].len() < GOT_LIMIT + 60, "{}", lines[0]);
        assert_eq!(lines[1], "probe.b eq 2 (precondition): got 3");
        assert_eq!(lines[2], "probe.c eq 1: missing probe.c");
        assert!(failed_expectations(&json!({"pid": 1})).is_empty());
        assert!(failed_expectations(&Value::Null).is_empty());
    }

    #[test]
    fn one_line_escapes_control_characters_only() {
        assert_eq!(one_line("plain <b> & \"q\""), "plain <b> & \"q\"");
        assert_eq!(one_line("a\nb\tc\u{1b}[31m"), "a\\nb\\tc\\u{1b}[31m");
    }

    #[test]
    fn ms_has_one_decimal() {
        assert_eq!(ms(1.26), "1.3 ms");
        assert_eq!(ms(1534.0), "1534.0 ms");
    }
}
