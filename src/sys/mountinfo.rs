//! The mountinfo codec: the lines of `/proc/<pid>/mountinfo` (proc(5)) read
//! into typed entries, with the kernel's octal escapes (`\040` for a space,
//! `\011`, `\012`, `\134`) undone. The one reader of that format in
//! isocheck: probes, the cgroup backends and the host facts all use it.
//!
//! A line is `id parent major:minor root mount-point options [optional
//! fields...] - fstype source super-options`, fields separated by single
//! spaces (a field may be empty: a mount's source can be).

use std::path::PathBuf;

/// One line of a mountinfo file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// The mount's unique id.
    pub id: u32,
    /// The id of the mount it is mounted on (itself for the root).
    pub parent: u32,
    /// `major:minor` of the file system's device.
    pub device: String,
    /// The directory of the file system mounted (`/` for a whole one, the
    /// source directory for a bind).
    pub root: String,
    /// Where it is mounted, relative to the reader's root.
    pub mount_point: PathBuf,
    /// Per-mount options (`ro`, `nosuid` ...).
    pub options: Vec<String>,
    /// Optional fields: propagation (`shared:N`, `master:N`,
    /// `propagate_from:N`, `unbindable`).
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// Per-super-block options.
    pub super_options: Vec<String>,
}

impl MountInfo {
    /// Read-only, by the mount's own flag or its super block's.
    pub fn readonly(&self) -> bool {
        self.options
            .iter()
            .chain(&self.super_options)
            .any(|o| o == "ro")
    }
}

/// A line that is not a mountinfo line: which line (from 1), which field,
/// and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mountinfo line {line}: {field}: {problem}")]
pub struct MountInfoError {
    pub line: usize,
    pub field: &'static str,
    pub problem: String,
}

/// Parses one line; the error names the field (its line number is 0).
pub fn parse_line(line: &str) -> Result<MountInfo, MountInfoError> {
    let bad = |field: &'static str, problem: String| MountInfoError {
        line: 0,
        field,
        problem,
    };
    let f: Vec<&str> = line.split(' ').collect();
    let get = |i: usize, field: &'static str| {
        f.get(i)
            .copied()
            .ok_or_else(|| bad(field, "missing".into()))
    };
    let number = |i: usize, field: &'static str| {
        let s = get(i, field)?;
        s.parse::<u32>()
            .map_err(|_| bad(field, format!("`{s}` is not a number")))
    };
    let id = number(0, "mount id")?;
    let parent = number(1, "parent id")?;
    let device = get(2, "major:minor")?;
    if !device.contains(':') {
        return Err(bad("major:minor", format!("`{device}` has no colon")));
    }
    let root = get(3, "root")?;
    let mount_point = get(4, "mount point")?;
    let options = get(5, "mount options")?;
    // The separator ends the optional fields; a root or mount point named
    // `-` comes before them and is not taken for it.
    let sep = f
        .iter()
        .skip(6)
        .position(|x| *x == "-")
        .map(|p| p + 6)
        .ok_or_else(|| bad("separator", "no ` - ` after the optional fields".into()))?;
    let fstype = get(sep + 1, "file system type")?;
    if fstype.is_empty() {
        return Err(bad("file system type", "empty".into()));
    }
    let source = get(sep + 2, "source")?;
    let list = |o: &str| {
        o.split(',')
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect::<Vec<_>>()
    };
    Ok(MountInfo {
        id,
        parent,
        device: device.to_string(),
        root: unescape(root),
        mount_point: PathBuf::from(unescape(mount_point)),
        options: list(options),
        optional: f[6..sep].iter().map(|s| s.to_string()).collect(),
        fstype: unescape(fstype),
        source: unescape(source),
        super_options: list(f.get(sep + 3).copied().unwrap_or("")),
    })
}

/// Parses a mountinfo text line by line; each bad line is an error that
/// says which line and field.
pub fn parse(text: &str) -> impl Iterator<Item = Result<MountInfo, MountInfoError>> + '_ {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| parse_line(l).map_err(|e| MountInfoError { line: i + 1, ..e }))
}

/// The good lines of a mountinfo text, in order; bad lines are left out
/// (a table the kernel wrote has none).
pub fn entries(text: &str) -> Vec<MountInfo> {
    parse(text).filter_map(Result::ok).collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space); a backslash not
/// followed by three octal digits of a byte is kept as it is.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::path::Path;

    #[test]
    fn a_line_gives_every_field_with_optional_fields_apart() {
        let e = parse_line(
            "30 27 254:0 /usr /usr ro,nosuid,relatime shared:1 master:2 - ext4 /dev/vda rw,discard",
        )
        .unwrap();
        assert_eq!((e.id, e.parent, e.device.as_str()), (30, 27, "254:0"));
        assert_eq!(
            (e.root.as_str(), e.mount_point.as_path()),
            ("/usr", Path::new("/usr"))
        );
        assert_eq!(e.options, ["ro", "nosuid", "relatime"]);
        assert_eq!(e.optional, ["shared:1", "master:2"]);
        assert_eq!((e.fstype.as_str(), e.source.as_str()), ("ext4", "/dev/vda"));
        assert_eq!(e.super_options, ["rw", "discard"]);
        assert!(e.readonly());
        let none = parse_line("31 27 0:50 / /tmp rw - tmpfs tmpfs rw").unwrap();
        assert!(none.optional.is_empty() && !none.readonly());
    }

    #[test]
    fn escaped_names_are_undone_in_root_mount_point_and_source() {
        let e = parse_line(
            "90 27 0:50 /a\\011b /tmp/a\\040b\\134c rw shared:7 - tmpfs my\\040src rw,size=10k",
        )
        .unwrap();
        assert_eq!(e.root, "/a\tb");
        assert_eq!(e.mount_point, Path::new("/tmp/a b\\c"));
        assert_eq!(e.source, "my src");
        assert_eq!(e.super_options, ["rw", "size=10k"]);
    }

    #[test]
    fn a_mount_point_named_like_the_separator_is_no_separator() {
        let e = parse_line("5 1 0:9 - /- rw - tmpfs  rw").unwrap();
        assert_eq!(
            (e.root.as_str(), e.mount_point.as_path()),
            ("-", Path::new("/-"))
        );
        assert_eq!((e.fstype.as_str(), e.source.as_str()), ("tmpfs", ""));
        assert_eq!(e.super_options, ["rw"]);
    }

    #[test]
    fn missing_super_options_read_as_none() {
        let e = parse_line("5 1 0:9 / /x rw - cgroup2 cgroup2").unwrap();
        assert!(e.super_options.is_empty());
    }

    #[rstest]
    #[case::not_a_number("x 1 0:9 / /x rw - tmpfs t rw", "mount id", "`x` is not a number")]
    #[case::parent("5 y 0:9 / /x rw - tmpfs t rw", "parent id", "`y`")]
    #[case::device("5 1 09 / /x rw - tmpfs t rw", "major:minor", "no colon")]
    #[case::short("5 1 0:9 /", "mount point", "missing")]
    #[case::no_options("5 1 0:9 / /x", "mount options", "missing")]
    #[case::no_separator("5 1 0:9 / /x rw shared:1 tmpfs t rw", "separator", "no ` - `")]
    #[case::no_type("5 1 0:9 / /x rw -", "file system type", "missing")]
    #[case::no_source("40 35 0:35 / /sys/fs/cgroup/memory rw - cgroup", "source", "missing")]
    fn a_bad_line_names_its_field(#[case] line: &str, #[case] field: &str, #[case] problem: &str) {
        let e = parse_line(line).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.problem.contains(problem), "{e}");
    }

    #[test]
    fn errors_say_which_line_and_good_lines_survive() {
        let text = "22 27 0:21 / /proc rw,relatime - proc proc rw\n\
                    garbage\n\
                    \n\
                    27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                    28 27 0:22 / /sys rw\n";
        let errors: Vec<String> = parse(text)
            .filter_map(Result::err)
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "mountinfo line 2: mount id: `garbage` is not a number",
                "mountinfo line 5: separator: no ` - ` after the optional fields",
            ]
        );
        let points: Vec<PathBuf> = entries(text).into_iter().map(|e| e.mount_point).collect();
        assert_eq!(points, [PathBuf::from("/proc"), PathBuf::from("/")]);
        assert!(entries("").is_empty());
    }

    #[test]
    fn this_process_table_parses_whole() {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let bad: Vec<_> = parse(&text).filter_map(Result::err).collect();
        assert!(bad.is_empty(), "{bad:?}");
        assert!(entries(&text)
            .iter()
            .any(|e| e.mount_point == Path::new("/")));
    }

    #[rstest]
    #[case::space("a\\040b", "a b")]
    #[case::backslash("a\\134b", "a\\b")]
    #[case::newline("a\\012b", "a\nb")]
    #[case::not_octal("a\\9", "a\\9")]
    #[case::cut_short("tail\\04", "tail\\04")]
    #[case::past_a_byte("x\\777", "x\\777")]
    #[case::trailing("trailing\\", "trailing\\")]
    #[case::tab("tab\\011", "tab\t")]
    #[case::not_octal_digits("notoct\\999", "notoct\\999")]
    #[case::multibyte_after("utf8\\é0", "utf8\\é0")]
    #[case::plain("/usr/lib", "/usr/lib")]
    fn unescape_undoes_only_whole_octal_escapes(#[case] s: &str, #[case] want: &str) {
        assert_eq!(unescape(s), want);
    }
}
