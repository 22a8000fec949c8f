//! Small helpers the text reporters share.

use std::borrow::Cow;

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

#[cfg(test)]
mod tests {
    use super::*;

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
