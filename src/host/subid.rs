//! What rootless id mapping needs: the subordinate id files
//! (/etc/subuid, /etc/subgid) and the setuid helpers newuidmap and
//! newgidmap that write multi-line maps for unprivileged users.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::model::host::{IdmapTool, SubidFacts, SubidFile};
use crate::model::subid::SubidEntry;

use super::{io_reason, tried, under};
use crate::sys::vfscap::parse_vfs_caps;

/// Where newuidmap and newgidmap are looked for, in order.
pub const TOOL_DIRS: &[&str] = &["/usr/bin", "/bin", "/usr/sbin"];

/// One id past the last a 32-bit id can name.
const ID_LIMIT: u64 = 1 << 32;

/// Parses subordinate id text. Blank lines and `#` comments are skipped;
/// every other line that is not a valid `name:start:count` is reported
/// as `line N: reason`.
pub fn parse_subid(text: &str) -> (Vec<SubidEntry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut malformed = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(e) => entries.push(e),
            Err(why) => malformed.push(format!("line {}: {why}: {line:?}", i + 1)),
        }
    }
    (entries, malformed)
}

fn parse_line(line: &str) -> Result<SubidEntry, String> {
    let fields: Vec<&str> = line.split(':').collect();
    let [owner, start, count] = fields[..] else {
        return Err(format!("{} fields, want name:start:count", fields.len()));
    };
    if owner.is_empty() {
        return Err("empty name".into());
    }
    let num = |what: &str, v: &str| -> Result<u64, String> {
        v.parse::<u64>()
            .map_err(|_| format!("{what} is not a number"))
    };
    let start = num("start", start)?;
    let count = num("count", count)?;
    if count == 0 {
        return Err("count is 0".into());
    }
    if start.checked_add(count).is_none_or(|end| end > ID_LIMIT) {
        return Err("range passes 2^32".into());
    }
    Ok(SubidEntry {
        owner: owner.to_string(),
        start,
        count,
    })
}

fn probe_file(root: &Path, abs: &str) -> SubidFile {
    let path = under(root, abs);
    let mut f = SubidFile {
        path: path.display().to_string(),
        ..SubidFile::default()
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            f.exists = Some(true);
            let (entries, malformed) = parse_subid(&String::from_utf8_lossy(&bytes));
            f.entries = entries;
            f.malformed = malformed;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => f.exists = Some(false),
        Err(e) => f.error = Some(io_reason(&e)),
    }
    f
}

/// Reads /etc/subuid and /etc/subgid under `root`.
pub fn probe(root: &Path) -> SubidFacts {
    SubidFacts {
        subuid: probe_file(root, "/etc/subuid"),
        subgid: probe_file(root, "/etc/subgid"),
    }
}

fn probe_tool(root: &Path, name: &str) -> IdmapTool {
    let mut t = IdmapTool {
        name: name.to_string(),
        ..IdmapTool::default()
    };
    for dir in TOOL_DIRS {
        let path = under(root, &format!("{dir}/{name}"));
        let meta = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => {
                t.tried.push(tried(&path, "not a regular file"));
                continue;
            }
            Err(e) => {
                t.tried.push(tried(&path, &io_reason(&e)));
                continue;
            }
        };
        t.path = Some(path.display().to_string());
        t.setuid_root = meta.uid() == 0 && meta.permissions().mode() & 0o4000 != 0;
        match crate::sys::xattr::getxattr(&path, "security.capability") {
            Ok(None) => {}
            Ok(Some(bytes)) => match parse_vfs_caps(&bytes) {
                Ok(c) => t.file_caps = Some(c),
                Err(e) => t.error = Some(format!("security.capability: {e}")),
            },
            Err(e) => t.error = Some(format!("security.capability: {}", e.desc())),
        }
        break;
    }
    t
}

/// Looks for newuidmap and newgidmap under `root`.
pub fn probe_tools(root: &Path) -> Vec<IdmapTool> {
    ["newuidmap", "newgidmap"]
        .iter()
        .map(|n| probe_tool(root, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::one("alice:100000:65536\n", 1, 0)]
    #[case::numeric_owner("1000:165536:65536", 1, 0)]
    #[case::comment_and_blank("# comment\n\nalice:100000:65536\n", 1, 0)]
    #[case::empty("", 0, 0)]
    #[case::garbage("\u{0}\u{1}\u{2}", 0, 1)]
    #[case::mixed("alice:100000:65536\nbob\nbob:1:2:3\n", 1, 2)]
    fn counts(#[case] text: &str, #[case] entries: usize, #[case] malformed: usize) {
        let (e, m) = parse_subid(text);
        assert_eq!((e.len(), m.len()), (entries, malformed), "{m:?}");
    }

    #[rstest]
    #[case::two_fields(
        "alice:100000",
        "line 1: 2 fields, want name:start:count: \"alice:100000\""
    )]
    #[case::four_fields("a:1:2:3", "line 1: 4 fields, want name:start:count: \"a:1:2:3\"")]
    #[case::empty_name(":1:2", "line 1: empty name: \":1:2\"")]
    #[case::start_nan("a:x:2", "line 1: start is not a number: \"a:x:2\"")]
    #[case::count_nan("a:1:-5", "line 1: count is not a number: \"a:1:-5\"")]
    #[case::count_zero("a:1:0", "line 1: count is 0: \"a:1:0\"")]
    #[case::too_far("a:4294967295:2", "line 1: range passes 2^32: \"a:4294967295:2\"")]
    #[case::overflow(
        "a:18446744073709551615:1",
        "line 1: range passes 2^32: \"a:18446744073709551615:1\""
    )]
    fn malformed_lines_say_why(#[case] text: &str, #[case] want: &str) {
        let (e, m) = parse_subid(text);
        assert!(e.is_empty());
        assert_eq!(m, [want.to_string()]);
    }

    #[test]
    fn line_numbers_count_every_line() {
        let (_, m) = parse_subid("# c\nalice:1:1\n\nbroken\n");
        assert_eq!(m, ["line 4: 1 fields, want name:start:count: \"broken\""]);
    }

    #[test]
    fn ranges_for_matches_name_or_uid() {
        let (entries, _) = parse_subid("alice:100000:65536\n1000:200000:10\nbob:300000:5\n");
        let f = SubidFile {
            entries,
            ..SubidFile::default()
        };
        assert_eq!(f.ranges_for(Some("alice"), 1000).len(), 2);
        assert_eq!(f.ranges_for(None, 1000).len(), 1);
        assert_eq!(f.ranges_for(Some("carol"), 1001).len(), 0);
    }

    #[test]
    fn probe_reads_present_and_records_absent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/subuid"), "alice:100000:65536\nbad\n").unwrap();
        let f = probe(dir.path());
        assert_eq!(f.subuid.exists, Some(true));
        assert_eq!(f.subuid.entries.len(), 1);
        assert_eq!(f.subuid.malformed.len(), 1);
        assert_eq!(f.subgid.exists, Some(false));
        assert_eq!(f.subgid.error, None);
    }

    #[test]
    fn probe_unreadable_records_error() {
        let dir = tempfile::tempdir().unwrap();
        // A directory cannot be read as a file.
        std::fs::create_dir_all(dir.path().join("etc/subuid")).unwrap();
        let f = probe(dir.path());
        assert_eq!(f.subuid.exists, None);
        assert!(f.subuid.error.is_some());
    }

    #[test]
    fn tools_found_with_setuid_bit() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let p = bin.join("newuidmap");
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::fs::create_dir_all(dir.path().join("usr/bin/newgidmap")).unwrap();
        let tools = probe_tools(dir.path());
        let uid = &tools[0];
        assert_eq!(uid.name, "newuidmap");
        assert!(uid.path.as_deref().unwrap().ends_with("bin/newuidmap"));
        assert_eq!(uid.tried.len(), 1, "{:?}", uid.tried);
        // setuid_root needs the file owned by root, which it is when the
        // tests run as root.
        let is_root = nix::unistd::geteuid().is_root();
        assert_eq!(uid.setuid_root, is_root);
        assert_eq!(uid.usable(), is_root);
        let gid = &tools[1];
        assert_eq!(gid.path, None);
        assert_eq!(gid.tried.len(), TOOL_DIRS.len());
        assert!(gid.tried[0].ends_with("usr/bin/newgidmap: not a regular file"));
        assert!(!gid.usable());
    }

    #[test]
    fn tool_without_setuid_is_not_usable() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("usr/sbin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("newuidmap"), "").unwrap();
        let t = &probe_tools(dir.path())[0];
        assert!(t.path.is_some());
        assert!(!t.setuid_root);
        assert_eq!(t.file_caps, None);
        assert!(!t.usable());
    }
}
