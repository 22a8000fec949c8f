//! Tags: what a property is tied to in the kernel's history, as LTP's
//! `.tags` are. A tag is one of three forms, checked when a table loads:
//!
//! - `linux X.Y`: the mainline release that brought the feature (or the fix);
//! - `commit <12-40 hex digits>`: the mainline commit that did;
//! - `CVE-<year>-<number>`: the vulnerability the fix closed.
//!
//! Reports carry them as written, so a failure names the commit and CVE a
//! kernel person looks up first.

use std::fmt;

/// One tag, as read from a table row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tag {
    /// `linux X.Y`: the first mainline release with the feature or fix.
    Linux { major: u32, minor: u32 },
    /// `commit <hex>`: a mainline commit id (abbreviated to 12 or more).
    Commit(String),
    /// `CVE-<year>-<number>`.
    Cve { year: u32, number: u32 },
}

impl Tag {
    /// Reads one tag; the error says which forms are allowed.
    pub fn parse(text: &str) -> Result<Tag, String> {
        let bad = || {
            format!(
                "tag `{text}` is none of `linux X.Y`, `commit <12-40 hex digits>`, `CVE-<year>-<number>`"
            )
        };
        if let Some(v) = text.strip_prefix("linux ") {
            let (major, minor) = v.split_once('.').ok_or_else(bad)?;
            let num = |s: &str| {
                (!s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| s.parse::<u32>().ok())
                    .flatten()
            };
            return match (num(major), num(minor)) {
                (Some(major), Some(minor)) if major >= 2 => Ok(Tag::Linux { major, minor }),
                _ => Err(bad()),
            };
        }
        if let Some(h) = text.strip_prefix("commit ") {
            let hex = h
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            return if hex && (12..=40).contains(&h.len()) {
                Ok(Tag::Commit(h.to_string()))
            } else {
                Err(bad())
            };
        }
        if let Some(rest) = text.strip_prefix("CVE-") {
            let (year, number) = rest.split_once('-').ok_or_else(bad)?;
            let digits = |s: &str, min: usize, max: usize| {
                (s.len() >= min && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| s.parse::<u32>().ok())
                    .flatten()
            };
            return match (digits(year, 4, 4), digits(number, 4, 7)) {
                (Some(year), Some(number)) if year >= 1999 => Ok(Tag::Cve { year, number }),
                _ => Err(bad()),
            };
        }
        Err(bad())
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tag::Linux { major, minor } => write!(f, "linux {major}.{minor}"),
            Tag::Commit(h) => write!(f, "commit {h}"),
            Tag::Cve { year, number } => write!(f, "CVE-{year}-{number:04}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_forms_read_and_write_back_unchanged() {
        for t in [
            "linux 5.14",
            "linux 6.3",
            "commit 24f600856418",
            "commit 24f6008564183aa120d07c03d9289519c2fe02af",
            "CVE-2022-0492",
            "CVE-2021-4197",
            "CVE-2024-123456",
        ] {
            assert_eq!(Tag::parse(t).unwrap().to_string(), t);
        }
        assert_eq!(
            Tag::parse("CVE-2022-0492").unwrap(),
            Tag::Cve {
                year: 2022,
                number: 492
            }
        );
    }

    #[test]
    fn anything_else_is_refused_naming_the_forms() {
        for t in [
            "",
            "linux",
            "linux 5",
            "linux 5.x",
            "linux  5.14",
            "Linux 5.14",
            "linux 1.0",
            "linux 5.14.1",
            "commit 24f60085641",
            "commit 24F6008564183",
            "commit 24f6008564183aa120d07c03d9289519c2fe02af0",
            "commit xyz",
            "CVE-22-0492",
            "CVE-2022-49",
            "cve-2022-0492",
            "CVE-2022-0492 ",
            "v5.14",
        ] {
            let e = Tag::parse(t).unwrap_err();
            assert!(e.contains("linux X.Y") && e.contains("CVE-"), "{t}: {e}");
        }
    }
}
