//! The kernel's build configuration: found in /proc/config.gz, /boot or
//! /lib/modules, or given explicitly; parsed; the options isolation rests
//! on kept in the facts together with the source and a sha256 of the text.
//!
//! There is no `CONFIG_CGROUP_NS` or `CONFIG_MNT_NS`: cgroup namespaces come
//! with `CONFIG_CGROUPS` and mount namespaces are always built.

use flate2::read::MultiGzDecoder;
use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::model::host::{KconfigFacts, Tristate};

use super::{io_reason, tried, under};

/// The options recorded in [`KconfigFacts::options`].
pub const ISOLATION_OPTIONS: &[&str] = &[
    // Namespaces.
    "CONFIG_NAMESPACES",
    "CONFIG_UTS_NS",
    "CONFIG_IPC_NS",
    "CONFIG_PID_NS",
    "CONFIG_NET_NS",
    "CONFIG_USER_NS",
    "CONFIG_TIME_NS",
    // cgroups (and with them cgroup namespaces).
    "CONFIG_CGROUPS",
    "CONFIG_MEMCG",
    "CONFIG_CGROUP_PIDS",
    "CONFIG_CGROUP_BPF",
    "CONFIG_CGROUP_SCHED",
    "CONFIG_CFS_BANDWIDTH",
    "CONFIG_CGROUP_FREEZER",
    "CONFIG_CGROUP_DEVICE",
    "CONFIG_CPUSETS",
    "CONFIG_BLK_CGROUP",
    "CONFIG_CGROUP_HUGETLB",
    "CONFIG_CGROUP_PERF",
    "CONFIG_CGROUP_NET_CLASSID",
    "CONFIG_PSI",
    "CONFIG_SWAP",
    // Syscall filtering and LSMs.
    "CONFIG_SECCOMP",
    "CONFIG_SECCOMP_FILTER",
    "CONFIG_BPF_SYSCALL",
    "CONFIG_SECURITY",
    "CONFIG_SECURITYFS",
    "CONFIG_SECURITY_LANDLOCK",
    "CONFIG_SECURITY_APPARMOR",
    "CONFIG_SECURITY_SELINUX",
    "CONFIG_SECURITY_SMACK",
    "CONFIG_SECURITY_TOMOYO",
    "CONFIG_SECURITY_YAMA",
    "CONFIG_SECURITY_LOCKDOWN_LSM",
    "CONFIG_LSM",
    // IPC, networking and file systems sandboxes use.
    "CONFIG_SYSVIPC",
    "CONFIG_POSIX_MQUEUE",
    "CONFIG_VETH",
    "CONFIG_BRIDGE",
    "CONFIG_MACVLAN",
    "CONFIG_IPVLAN",
    "CONFIG_NETFILTER",
    "CONFIG_OVERLAY_FS",
    "CONFIG_TMPFS",
    "CONFIG_DEVTMPFS",
    "CONFIG_FUSE_FS",
    // What probes inside a sandbox read.
    "CONFIG_PROC_FS",
    "CONFIG_PROC_CHILDREN",
    "CONFIG_CHECKPOINT_RESTORE",
    "CONFIG_IKCONFIG_PROC",
];

/// Why a text is not a kernel config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("binary data (NUL byte at offset {0})")]
    Binary(usize),
    #[error("not UTF-8 text (invalid byte at offset {0})")]
    NotUtf8(usize),
    #[error("no CONFIG_ option line with a value")]
    NoOptions,
}

/// Errors name the file.
#[derive(Debug, thiserror::Error)]
pub enum KconfigError {
    #[error("failed to read kernel config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to decompress kernel config {path}: {source}")]
    Gunzip {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a kernel config: {reason}")]
    NotAConfig { path: PathBuf, reason: ParseError },
}

/// A parsed kernel config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelConfig {
    options: BTreeMap<String, Tristate>,
    /// Options whose (last) line gives no value that can be read: their
    /// value is unknown, not `n`.
    unreadable: BTreeSet<String>,
    sha256: String,
    warnings: Vec<String>,
}

/// How many odd lines are reported one by one before the rest are counted.
const MAX_WARNINGS: usize = 20;

/// The most a config file, or the text it inflates to, may hold. A
/// kernel's own config is about 300 KB of text (60 KB as
/// /proc/config.gz); what is larger is no config, and reading it whole
/// (`/dev/zero`, a gzip bomb) would only cost time and memory.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Where a config's bytes come from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Named by the operator: a pipe (`<(zcat config.gz)`) is read as it
    /// comes.
    Given,
    /// A place a config is looked for: only a regular file is read, so a
    /// FIFO or a device planted there cannot stall or flood the run.
    Searched,
}

/// A config file's bytes, at most [`MAX_CONFIG_BYTES`] of them.
fn read_config_file(path: &Path, source: Source) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut open = std::fs::OpenOptions::new();
    open.read(true);
    if source == Source::Searched {
        // Opening a FIFO for reading waits for a writer unless non-blocking.
        open.custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits());
    }
    let file = open.open(path)?;
    if source == Source::Searched && !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB, which no kernel config is",
            MAX_CONFIG_BYTES >> 20
        )));
    }
    Ok(bytes)
}

impl KernelConfig {
    /// Parses config text. Comments and blank lines are skipped; other
    /// lines that are not `CONFIG_X=v` or `# CONFIG_X is not set` become
    /// warnings. Text with NUL bytes or without a single option is refused.
    pub fn parse(text: &str) -> Result<KernelConfig, ParseError> {
        let Scan { options, warnings } = scan(text)?;
        let mut known = BTreeMap::new();
        let mut unreadable = BTreeSet::new();
        for (name, value) in options {
            match value.into_tristate() {
                Some(v) => {
                    known.insert(name.to_string(), v);
                }
                None => {
                    unreadable.insert(name.to_string());
                }
            }
        }
        Ok(KernelConfig {
            options: known,
            unreadable,
            sha256: sha256_hex(text.as_bytes()),
            warnings,
        })
    }

    /// Parses file contents: gzip (by its magic) is decompressed first.
    /// `path` only names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<KernelConfig, KconfigError> {
        read_text(bytes, path, KernelConfig::parse)
    }

    /// Reads and parses a config file, plain or gzip.
    pub fn from_file(path: &Path) -> Result<KernelConfig, KconfigError> {
        let bytes = read_config_file(path, Source::Given).map_err(|source| KconfigError::Read {
            path: path.into(),
            source,
        })?;
        KernelConfig::from_bytes(&bytes, path)
    }

    /// An option's value; absent options are `No`. `None` when the line
    /// that sets it gives no value that can be read (`CONFIG_X=`): what
    /// the kernel was built with is then unknown.
    pub fn get(&self, name: &str) -> Option<Tristate> {
        if self.unreadable.contains(name) {
            return None;
        }
        Some(self.options.get(name).cloned().unwrap_or(Tristate::No))
    }

    /// An option's value as the text gives it; `None` when the text does
    /// not mention it (an option the kernel's build does not have, or one
    /// whose dependencies are not met), unlike [`KernelConfig::get`], or
    /// gives no value that can be read ([`KernelConfig::is_unreadable`]).
    pub fn lookup(&self, name: &str) -> Option<Tristate> {
        self.options.get(name).cloned()
    }

    /// The text names the option on a line with no value that can be
    /// read: its value is unknown.
    pub fn is_unreadable(&self, name: &str) -> bool {
        self.unreadable.contains(name)
    }

    /// Lowercase hex sha256 of the (decompressed) text.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Number of options the text sets or marks not set.
    pub fn len(&self) -> usize {
        self.options.len()
    }

    pub fn is_empty(&self) -> bool {
        self.options.is_empty()
    }

    /// Odd lines, with their numbers.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// An option's value as a config text gives it: a value with no quotes
/// to undo stays borrowed from the text until it is kept.
enum Raw<'t> {
    Value(Tristate),
    Bare(&'t str),
    /// A line with no value (`CONFIG_X=`): the value is unknown.
    Unreadable,
}

impl Raw<'_> {
    fn to_tristate(&self) -> Option<Tristate> {
        match self {
            Raw::Value(v) => Some(v.clone()),
            Raw::Bare(v) => Some(Tristate::Value(v.to_string())),
            Raw::Unreadable => None,
        }
    }

    fn into_tristate(self) -> Option<Tristate> {
        match self {
            Raw::Value(v) => Some(v),
            Raw::Bare(v) => Some(Tristate::Value(v.to_string())),
            Raw::Unreadable => None,
        }
    }
}

/// A config text read line by line: every option it sets or marks not
/// set (the last line of each wins), and the odd lines.
struct Scan<'t> {
    options: FxHashMap<&'t str, Raw<'t>>,
    warnings: Vec<String>,
}

/// Reads config text as [`KernelConfig::parse`] describes, without an
/// allocation for each option: the names stay borrowed from the text.
fn scan(text: &str) -> Result<Scan<'_>, ParseError> {
    if let Some(at) = text.find('\0') {
        return Err(ParseError::Binary(at));
    }
    // A config line is about 30 bytes long.
    let mut options: FxHashMap<&str, Raw<'_>> =
        FxHashMap::with_capacity_and_hasher(text.len() / 24, Default::default());
    let mut warnings = Vec::new();
    let mut odd = 0usize;
    let mut warn = |n: usize, msg: String| {
        odd += 1;
        if odd <= MAX_WARNINGS {
            warnings.push(format!("line {n}: {msg}"));
        }
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(name) = comment
                .trim()
                .strip_suffix("is not set")
                .map(str::trim)
                .filter(|s| is_option_name(s))
            {
                if options.insert(name, Raw::Value(Tristate::No)).is_some() {
                    warn(n, format!("{name} set again"));
                }
            }
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            warn(n, format!("not an option line: {}", clip(line)));
            continue;
        };
        let name = name.trim();
        if !is_option_name(name) {
            warn(n, format!("not a CONFIG_ option: {}", clip(line)));
            continue;
        }
        let value = match value.trim() {
            // A kernel's config never writes an empty value (an empty
            // string is `""`): an odd line, and the option's value is
            // unknown (not `n`: the line says the option is there).
            "" => {
                warn(n, format!("{name}: no value"));
                Raw::Unreadable
            }
            "y" => Raw::Value(Tristate::Yes),
            "m" => Raw::Value(Tristate::Module),
            "n" => Raw::Value(Tristate::No),
            v if !v.starts_with('"') => Raw::Bare(v),
            v => match unquote(v) {
                Ok(s) => Raw::Value(Tristate::Value(s)),
                Err(e) => {
                    warn(n, format!("{name}: {e}"));
                    Raw::Bare(v)
                }
            },
        };
        if options.insert(name, value).is_some() {
            warn(n, format!("{name} set again"));
        }
    }
    if odd > MAX_WARNINGS {
        warnings.push(format!("... and {} more odd lines", odd - MAX_WARNINGS));
    }
    // Lines with no value tell nothing: a text of only those is no config.
    if options.values().all(|v| matches!(v, Raw::Unreadable)) {
        return Err(ParseError::NoOptions);
    }
    Ok(Scan { options, warnings })
}

/// File contents as text, gzip (by its magic) decompressed first, handed
/// to `parse`; errors name `path`.
fn read_text<T>(
    bytes: &[u8],
    path: &Path,
    parse: impl FnOnce(&str) -> Result<T, ParseError>,
) -> Result<T, KconfigError> {
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        // The gzip trailer gives the text's length (modulo 2^32): a hint
        // for the buffer, bounded so that a lying trailer costs nothing.
        let hint = bytes
            .last_chunk::<4>()
            .map_or(0, |t| u32::from_le_bytes(*t) as usize);
        let mut out = Vec::with_capacity(hint.min(MAX_CONFIG_BYTES as usize));
        let gunzip = |source| KconfigError::Gunzip {
            path: path.into(),
            source,
        };
        MultiGzDecoder::new(bytes)
            .take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(gunzip)?;
        if out.len() as u64 > MAX_CONFIG_BYTES {
            return Err(gunzip(std::io::Error::other(format!(
                "inflates to more than {} MiB, which no kernel config is",
                MAX_CONFIG_BYTES >> 20
            ))));
        }
        Cow::Owned(out)
    } else {
        Cow::Borrowed(bytes)
    };
    let not_a_config = |reason| KconfigError::NotAConfig {
        path: path.into(),
        reason,
    };
    // A NUL byte anywhere is named before a byte that is not UTF-8.
    let reason = match std::str::from_utf8(&text) {
        Ok(text) => match text.find('\0') {
            Some(at) => ParseError::Binary(at),
            None => return parse(text).map_err(not_a_config),
        },
        Err(e) => match text.iter().position(|&b| b == 0) {
            Some(at) => ParseError::Binary(at),
            None => ParseError::NotUtf8(e.valid_up_to()),
        },
    };
    Err(not_a_config(reason))
}

fn is_option_name(s: &str) -> bool {
    s.strip_prefix("CONFIG_").is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// `"a \"b\""` -> `a "b"`; unquoted values are kept as they are.
fn unquote(v: &str) -> Result<String, String> {
    let Some(inner) = v.strip_prefix('"') else {
        return Ok(v.to_string());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => out.push(n),
                None => return Err("unterminated string".into()),
            },
            '"' => {
                let rest: String = chars.collect();
                return if rest.trim().is_empty() {
                    Ok(out)
                } else {
                    Err(format!("text after the closing quote: {}", clip(&rest)))
                };
            }
            c => out.push(c),
        }
    }
    Err("unterminated string".into())
}

fn clip(s: &str) -> String {
    const MAX: usize = 60;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}...", s.chars().take(MAX).collect::<String>())
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Where a config is looked for, for kernel `release`, in order.
pub fn candidate_paths(release: &str) -> Vec<String> {
    let mut v = vec!["/proc/config.gz".to_string()];
    if !release.is_empty() && !release.contains('/') {
        v.push(format!("/boot/config-{release}"));
        v.push(format!("/lib/modules/{release}/config"));
        v.push(format!("/usr/lib/modules/{release}/config"));
        v.push(format!("/lib/modules/{release}/build/.config"));
    }
    v
}

impl KconfigFacts {
    /// Facts from a config given explicitly and read from `path`
    /// ([`KconfigFacts::search`] clears `explicit` for found ones).
    pub fn from_config(cfg: &KernelConfig, path: &Path) -> KconfigFacts {
        KconfigFacts::recorded(
            path,
            cfg.sha256().to_string(),
            cfg.warnings().to_vec(),
            |o| cfg.get(o),
        )
    }

    /// The facts of a config read from `path`: its sha256, its odd lines
    /// and the value `get` gives each of the [`ISOLATION_OPTIONS`] (left
    /// out where `get` cannot tell it, so that it reads as unknown).
    fn recorded(
        path: &Path,
        sha256: String,
        warnings: Vec<String>,
        get: impl Fn(&str) -> Option<Tristate>,
    ) -> KconfigFacts {
        KconfigFacts {
            source: Some(path.display().to_string()),
            explicit: true,
            tried: Vec::new(),
            sha256: Some(sha256),
            options: ISOLATION_OPTIONS
                .iter()
                .filter_map(|o| Some((o.to_string(), get(o)?)))
                .collect(),
            warnings,
        }
    }

    /// [`KconfigFacts::from_config`] of the config in `bytes`, without
    /// making a [`KernelConfig`] of every option only to keep a few.
    fn of_bytes(bytes: &[u8], path: &Path) -> Result<KconfigFacts, KconfigError> {
        read_text(bytes, path, |text| {
            let Scan { options, warnings } = scan(text)?;
            Ok(KconfigFacts::recorded(
                path,
                sha256_hex(text.as_bytes()),
                warnings,
                |o| options.get(o).map_or(Some(Tristate::No), Raw::to_tristate),
            ))
        })
    }

    /// Searches the [`candidate_paths`] under `root`; the first that
    /// parses wins.
    pub fn search(root: &Path, release: &str) -> KconfigFacts {
        let mut tries = Vec::new();
        for p in candidate_paths(release) {
            let path = under(root, &p);
            let bytes = match read_config_file(&path, Source::Searched) {
                Ok(b) => b,
                Err(e) => {
                    tries.push(tried(&path, &io_reason(&e)));
                    continue;
                }
            };
            match KconfigFacts::of_bytes(&bytes, &path) {
                Ok(mut f) => {
                    f.explicit = false;
                    f.tried = tries;
                    return f;
                }
                Err(e) => tries.push(e.to_string()),
            }
        }
        KconfigFacts {
            tried: tries,
            ..KconfigFacts::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::io::Write;

    const SAMPLE: &str = "\
#
# Automatically generated file; DO NOT EDIT.
# Linux/x86 6.1.76 Kernel Configuration
#
CONFIG_CC_VERSION_TEXT=\"gcc (Debian 12.2.0-14) 12.2.0\"
CONFIG_NAMESPACES=y
CONFIG_USER_NS=y
# CONFIG_TIME_NS is not set
CONFIG_VETH=m
CONFIG_HZ=250
CONFIG_LSM=\"landlock,lockdown,yama,apparmor\"
";

    #[rstest]
    #[case::yes("CONFIG_USER_NS", Tristate::Yes)]
    #[case::module("CONFIG_VETH", Tristate::Module)]
    #[case::not_set("CONFIG_TIME_NS", Tristate::No)]
    #[case::absent("CONFIG_SECURITY_SELINUX", Tristate::No)]
    #[case::number("CONFIG_HZ", Tristate::Value("250".into()))]
    #[case::string("CONFIG_LSM", Tristate::Value("landlock,lockdown,yama,apparmor".into()))]
    #[case::string_with_parens(
        "CONFIG_CC_VERSION_TEXT",
        Tristate::Value("gcc (Debian 12.2.0-14) 12.2.0".into())
    )]
    fn get_values(#[case] name: &str, #[case] want: Tristate) {
        let cfg = KernelConfig::parse(SAMPLE).unwrap();
        assert_eq!(cfg.get(name), Some(want));
        assert!(cfg.warnings().is_empty(), "{:?}", cfg.warnings());
    }

    #[rstest]
    #[case::empty("", ParseError::NoOptions)]
    #[case::comments_only("# hello\n#\n", ParseError::NoOptions)]
    #[case::other_ini("[section]\nkey=value\n", ParseError::NoOptions)]
    #[case::nul("CONFIG_A=y\n\0\0", ParseError::Binary(11))]
    #[case::lowercase_prefix("config_user_ns=y\n", ParseError::NoOptions)]
    #[case::bare_prefix("CONFIG_=y\n", ParseError::NoOptions)]
    #[case::no_value_only("CONFIG_USER_NS=\nCONFIG_PID_NS=\n", ParseError::NoOptions)]
    fn rejects_non_configs(#[case] text: &str, #[case] want: ParseError) {
        assert_eq!(KernelConfig::parse(text).unwrap_err(), want);
    }

    #[rstest]
    #[case::no_equals("CONFIG_A=y\nCONFIG_B\n", "line 2: not an option line: CONFIG_B")]
    #[case::bad_name("CONFIG_A=y\nFOO=bar\n", "line 2: not a CONFIG_ option: FOO=bar")]
    #[case::unterminated(
        "CONFIG_A=y\nCONFIG_S=\"abc\n",
        "line 2: CONFIG_S: unterminated string"
    )]
    #[case::trailing_text(
        "CONFIG_A=y\nCONFIG_S=\"abc\" x\n",
        "line 2: CONFIG_S: text after the closing quote:  x"
    )]
    #[case::duplicate("CONFIG_A=y\nCONFIG_A=m\n", "line 2: CONFIG_A set again")]
    #[case::empty_value("CONFIG_A=y\nCONFIG_B=\n", "line 2: CONFIG_B: no value")]
    fn odd_lines_are_warnings_with_line_numbers(#[case] text: &str, #[case] want: &str) {
        let cfg = KernelConfig::parse(text).unwrap();
        assert_eq!(cfg.warnings(), [want.to_string()]);
        assert!(cfg.get("CONFIG_A").unwrap().is_enabled());
    }

    #[test]
    fn an_option_on_a_line_with_no_value_is_unknown_not_off() {
        let cfg =
            KernelConfig::parse("CONFIG_A=y\nCONFIG_USER_NS=\n# CONFIG_B is not set\n").unwrap();
        assert_eq!(cfg.get("CONFIG_USER_NS"), None);
        assert!(cfg.is_unreadable("CONFIG_USER_NS"));
        assert_eq!(cfg.lookup("CONFIG_USER_NS"), None);
        assert_eq!(cfg.get("CONFIG_B"), Some(Tristate::No));
        assert_eq!(cfg.get("CONFIG_C"), Some(Tristate::No));
        // The facts leave it out, so that it reads as unknown, both ways
        // they are made.
        let path = Path::new("/boot/config-x");
        let facts = KconfigFacts::from_config(&cfg, path);
        let scanned = KconfigFacts::of_bytes(b"CONFIG_A=y\nCONFIG_USER_NS=\n", path).unwrap();
        for f in [facts, scanned] {
            assert_eq!(f.get("CONFIG_USER_NS"), None, "{f:?}");
            assert_eq!(f.get("CONFIG_PID_NS"), Some(Tristate::No), "{f:?}");
            assert_eq!(f.warnings, ["line 2: CONFIG_USER_NS: no value"]);
        }
        // The last line wins, as for any option.
        let cfg = KernelConfig::parse("CONFIG_A=\nCONFIG_A=m\nCONFIG_B=y\nCONFIG_B=\n").unwrap();
        assert_eq!(cfg.get("CONFIG_A"), Some(Tristate::Module));
        assert_eq!(cfg.get("CONFIG_B"), None);
    }

    #[test]
    fn many_odd_lines_are_counted_not_listed() {
        let mut text = String::from("CONFIG_A=y\n");
        for i in 0..50 {
            text.push_str(&format!("junk {i}\n"));
        }
        let cfg = KernelConfig::parse(&text).unwrap();
        assert_eq!(cfg.warnings().len(), MAX_WARNINGS + 1);
        assert_eq!(cfg.warnings().last().unwrap(), "... and 30 more odd lines");
    }

    #[test]
    fn crlf_and_indentation_are_tolerated() {
        let cfg = KernelConfig::parse("  CONFIG_A=y\r\n# CONFIG_B is not set\r\n").unwrap();
        assert_eq!(cfg.get("CONFIG_A"), Some(Tristate::Yes));
        assert_eq!(cfg.get("CONFIG_B"), Some(Tristate::No));
        assert_eq!(cfg.len(), 2);
    }

    #[test]
    fn lookup_tells_an_option_not_set_from_one_not_mentioned() {
        let cfg = KernelConfig::parse("CONFIG_MEMCG=y\n# CONFIG_MEMCG_V1 is not set\n").unwrap();
        assert_eq!(cfg.lookup("CONFIG_MEMCG"), Some(Tristate::Yes));
        assert_eq!(cfg.lookup("CONFIG_MEMCG_V1"), Some(Tristate::No));
        assert_eq!(cfg.lookup("CONFIG_CPUSETS_V1"), None);
        assert_eq!(cfg.get("CONFIG_CPUSETS_V1"), Some(Tristate::No));
    }

    #[test]
    fn sha256_is_of_the_text() {
        let cfg = KernelConfig::parse("CONFIG_A=y\n").unwrap();
        assert_eq!(cfg.sha256().len(), 64);
        assert_eq!(cfg.sha256(), sha256_hex(b"CONFIG_A=y\n"));
        assert_ne!(
            cfg.sha256(),
            KernelConfig::parse("CONFIG_A=m\n").unwrap().sha256()
        );
    }

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_and_plain_give_the_same_config() {
        let p = Path::new("/x");
        let plain = KernelConfig::from_bytes(SAMPLE.as_bytes(), p).unwrap();
        let gz = KernelConfig::from_bytes(&gzip(SAMPLE.as_bytes()), p).unwrap();
        assert_eq!(plain, gz);
        // Members one after another are one text, as zcat reads them: the
        // first alone would say every later option is not set.
        let (head, tail) = SAMPLE.split_at(SAMPLE.find("CONFIG_USER_NS").unwrap());
        let members = [gzip(head.as_bytes()), gzip(tail.as_bytes())].concat();
        assert_eq!(KernelConfig::from_bytes(&members, p).unwrap(), plain);
    }

    #[rstest]
    #[case::binary(vec![0x7f, b'E', b'L', b'F', 0, 1, 2], "not a kernel config: binary data")]
    #[case::latin1(b"CONFIG_A=\"\xe9\"\n".to_vec(), "not a kernel config: not UTF-8 text (invalid byte at offset 10)")]
    #[case::latin1_then_nul(b"CONFIG_A=\"\xe9\"\n\0".to_vec(), "not a kernel config: binary data (NUL byte at offset 13)")]
    #[case::truncated_gzip(gzip(SAMPLE.as_bytes())[..20].to_vec(), "failed to decompress kernel config")]
    #[case::gzip_of_garbage(
        gzip(b"hello"),
        "not a kernel config: no CONFIG_ option line with a value"
    )]
    fn from_bytes_errors_name_the_file(#[case] bytes: Vec<u8>, #[case] want: &str) {
        let err = KernelConfig::from_bytes(&bytes, Path::new("/some/file")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/some/file"), "{msg}");
        assert!(msg.contains(want), "{msg}");
    }

    #[test]
    fn from_file_missing_names_the_file() {
        let err = KernelConfig::from_file(Path::new("/nonexistent/kconfig")).unwrap_err();
        assert!(matches!(err, KconfigError::Read { .. }));
        assert!(err.to_string().contains("/nonexistent/kconfig"));
    }

    #[test]
    fn search_prefers_proc_config_gz_and_records_tries() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::create_dir_all(dir.path().join("boot")).unwrap();
        std::fs::write(
            dir.path().join("proc/config.gz"),
            gzip(b"CONFIG_USER_NS=y\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("boot/config-6.1.0"), "CONFIG_USER_NS=n\n").unwrap();
        let f = KconfigFacts::search(dir.path(), "6.1.0");
        assert!(f.source.as_deref().unwrap().ends_with("proc/config.gz"));
        assert!(!f.explicit);
        assert!(f.tried.is_empty());
        assert_eq!(f.get("CONFIG_USER_NS"), Some(Tristate::Yes));
        assert_eq!(f.options.len(), ISOLATION_OPTIONS.len());
        assert_eq!(
            f.sha256.as_deref(),
            Some(&*sha256_hex(b"CONFIG_USER_NS=y\n"))
        );
    }

    #[test]
    fn search_skips_a_broken_candidate_and_says_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        std::fs::create_dir_all(dir.path().join("boot")).unwrap();
        std::fs::write(dir.path().join("proc/config.gz"), b"\x1f\x8bjunk").unwrap();
        std::fs::write(dir.path().join("boot/config-6.1.0"), "CONFIG_USER_NS=m\n").unwrap();
        let f = KconfigFacts::search(dir.path(), "6.1.0");
        assert!(f.source.as_deref().unwrap().ends_with("boot/config-6.1.0"));
        assert_eq!(f.tried.len(), 1);
        assert!(f.tried[0].contains("failed to decompress"), "{:?}", f.tried);
        assert_eq!(f.get("CONFIG_USER_NS"), Some(Tristate::Module));
    }

    /// A config is never larger than [`MAX_CONFIG_BYTES`], plain or
    /// inflated: more is refused after reading that much, not read whole.
    #[test]
    fn a_config_larger_than_any_kernels_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let msg = KernelConfig::from_file(&big).unwrap_err().to_string();
        assert!(msg.contains("larger than 16 MiB"), "{msg}");
        assert!(msg.contains(&*big.display().to_string()), "{msg}");
        let line = b"CONFIG_A=y\n";
        let text: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(MAX_CONFIG_BYTES as usize + line.len())
            .collect();
        let msg = KernelConfig::from_bytes(&gzip(&text), Path::new("/bomb"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("/bomb") && msg.contains("inflates to more than 16 MiB"),
            "{msg}"
        );
        // Exactly the largest is still a config.
        let most = &text[..MAX_CONFIG_BYTES as usize - MAX_CONFIG_BYTES as usize % line.len()];
        assert!(KernelConfig::from_bytes(&gzip(most), Path::new("/most")).is_ok());
    }

    /// A FIFO or a device where a config is looked for is passed over
    /// with its reason, at once: the search never waits for a writer.
    #[test]
    fn search_passes_over_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["proc", "boot", "lib/modules/6.1.0"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        nix::unistd::mkfifo(
            &dir.path().join("proc/config.gz"),
            nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
        )
        .unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("boot/config-6.1.0")).unwrap();
        std::fs::write(
            dir.path().join("lib/modules/6.1.0/config"),
            "CONFIG_USER_NS=y\n",
        )
        .unwrap();
        let root = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(KconfigFacts::search(&root, "6.1.0"));
        });
        let f = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the search waited on the FIFO");
        assert!(f
            .source
            .as_deref()
            .unwrap()
            .ends_with("lib/modules/6.1.0/config"));
        assert_eq!(f.tried.len(), 2, "{:?}", f.tried);
        assert!(
            f.tried.iter().all(|t| t.ends_with(": not a regular file")),
            "{:?}",
            f.tried
        );
        assert_eq!(f.get("CONFIG_USER_NS"), Some(Tristate::Yes));
    }

    #[test]
    fn search_with_nothing_is_unknown_with_every_path_tried() {
        let dir = tempfile::tempdir().unwrap();
        let f = KconfigFacts::search(dir.path(), "6.1.0");
        assert!(!f.is_known());
        assert_eq!(f.tried.len(), candidate_paths("6.1.0").len());
        assert_eq!(f.get("CONFIG_USER_NS"), None);
    }

    #[test]
    fn found_facts_are_those_of_the_parsed_config() {
        let text = format!(
            "{SAMPLE}CONFIG_USER_NS=m\nCONFIG_SECURITY_LANDLOCK=\"x\nCONFIG_CGROUPS=\"a \\\"b\\\"\"\nFOO\n"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("proc")).unwrap();
        let path = dir.path().join("proc/config.gz");
        std::fs::write(&path, gzip(text.as_bytes())).unwrap();
        let found = KconfigFacts::search(dir.path(), "");
        let cfg = KernelConfig::parse(&text).unwrap();
        let mut want = KconfigFacts::from_config(&cfg, &path);
        want.explicit = false;
        assert_eq!(found, want);
        assert_eq!(found.get("CONFIG_USER_NS"), Some(Tristate::Module));
        assert_eq!(
            found.get("CONFIG_CGROUPS"),
            Some(Tristate::Value("a \"b\"".into()))
        );
        assert_eq!(
            found.get("CONFIG_SECURITY_LANDLOCK"),
            Some(Tristate::Value("\"x".into()))
        );
        assert_eq!(found.warnings.len(), 3, "{:?}", found.warnings);
    }

    #[rstest]
    #[case::normal("6.1.0", 5)]
    #[case::empty("", 1)]
    #[case::slash("../../etc", 1)]
    fn candidates(#[case] release: &str, #[case] n: usize) {
        assert_eq!(candidate_paths(release).len(), n);
    }

    #[test]
    fn tristate_serializes_compactly() {
        let m: BTreeMap<&str, Tristate> = [
            ("a", Tristate::Yes),
            ("b", Tristate::Module),
            ("c", Tristate::No),
            ("d", Tristate::Value("x".into())),
        ]
        .into();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"a":"y","b":"m","c":"n","d":{"value":"x"}}"#);
        let back: BTreeMap<&str, Tristate> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn live_host_config_if_any_parses() {
        let f = KconfigFacts::search(Path::new("/"), "");
        if f.is_known() {
            assert!(f.get("CONFIG_NAMESPACES").is_some());
        }
    }
}
