//! The distribution, from os-release(5).

use std::path::Path;

use super::{read_text, tried, under, Distro};

/// Where os-release lives, in the order os-release(5) prescribes.
pub const OS_RELEASE_PATHS: &[&str] = &["/etc/os-release", "/usr/lib/os-release"];

/// Parses os-release text (`KEY=value`, values optionally quoted with `"`
/// or `'`, backslash escapes inside double quotes). Lines that are not
/// assignments are skipped; missing keys stay empty.
pub fn parse_os_release(text: &str) -> Distro {
    let mut d = Distro::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = unquote(v.trim());
        match k.trim() {
            "ID" => d.id = v,
            "VERSION_ID" => d.version_id = v,
            "PRETTY_NAME" => d.pretty_name = v,
            _ => {}
        }
    }
    d
}

fn unquote(v: &str) -> String {
    if let Some(inner) = v.strip_prefix('\'') {
        return inner.strip_suffix('\'').unwrap_or(inner).to_string();
    }
    let Some(inner) = v.strip_prefix('"') else {
        return v.to_string();
    };
    let inner = inner.strip_suffix('"').unwrap_or(inner);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Reads the first os-release file that exists under `root`.
pub fn probe(root: &Path) -> Distro {
    let mut tries = Vec::new();
    for p in OS_RELEASE_PATHS {
        let path = under(root, p);
        match read_text(&path) {
            Ok(text) => {
                let mut d = parse_os_release(&text);
                d.source = Some(path.display().to_string());
                d.tried = tries;
                return d;
            }
            Err(reason) => tries.push(tried(&path, &reason)),
        }
    }
    Distro {
        tried: tries,
        ..Distro::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::debian(
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n",
        "debian", "12", "Debian GNU/Linux 12 (bookworm)"
    )]
    #[case::single_quotes("ID='alpine'\nVERSION_ID='3.19.1'\n", "alpine", "3.19.1", "")]
    #[case::escapes("PRETTY_NAME=\"A \\\"quoted\\\" name\"\n", "", "", "A \"quoted\" name")]
    #[case::comments_and_blank("# ID=nope\n\nID=arch\n", "arch", "", "")]
    #[case::garbage("\u{0}\u{1}binary\nno equals here\n=\n", "", "", "")]
    #[case::unterminated_quote("ID=\"fedora\n", "fedora", "", "")]
    #[case::empty("", "", "", "")]
    #[case::crlf("ID=ubuntu\r\nVERSION_ID=\"24.04\"\r\n", "ubuntu", "24.04", "")]
    fn parses(
        #[case] text: &str,
        #[case] id: &str,
        #[case] version_id: &str,
        #[case] pretty: &str,
    ) {
        let d = parse_os_release(text);
        assert_eq!(
            (d.id.as_str(), d.version_id.as_str(), d.pretty_name.as_str()),
            (id, version_id, pretty)
        );
    }

    #[test]
    fn probe_falls_back_to_usr_lib_and_records_tries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
        std::fs::write(dir.path().join("usr/lib/os-release"), "ID=fedora\n").unwrap();
        let d = probe(dir.path());
        assert_eq!(d.id, "fedora");
        assert!(d.source.unwrap().ends_with("usr/lib/os-release"));
        assert_eq!(d.tried.len(), 1);
        assert!(d.tried[0].ends_with("etc/os-release: not found"));
    }

    #[test]
    fn probe_without_any_file_is_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let d = probe(dir.path());
        assert_eq!(d.source, None);
        assert_eq!(d.tried.len(), 2);
    }
}
