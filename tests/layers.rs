//! The layers: imports run one way down the chain
//! `sys -> model -> probe -> runtime -> host -> suite -> report -> cli`
//! (each folder of src/ imports only folders to its left; `cli` is
//! imported by nobody but src/bin), and no files of one folder import each
//! other in a circle.
//!
//! The check reads every src/**/*.rs, takes each `crate::`, `super::` and
//! `self::` path and each `use` of a child module (comments and string
//! literals left out), resolves it to the file that defines it, and fails
//! naming file and line on an import that climbs, and naming the files of
//! any circle. A folder's mod.rs is its facade: its declarations and
//! re-exports of its own children are not counted towards circles, its
//! other imports are. [`ALLOWED`] lists leftovers still to move (none
//! now: every import runs down the chain).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The chain, bottom first.
const CHAIN: &[&str] = &[
    "sys", "model", "probe", "runtime", "host", "suite", "report", "cli",
];

/// Imports that still climb, as (file, imported path), each with why it
/// is allowed for now.
const ALLOWED: &[(&str, &str, &str)] = &[];

/// One source file: its path (for messages) and its text.
struct Source {
    path: String,
    text: String,
}

/// An import that breaks the rules.
#[derive(Debug, PartialEq, Eq)]
enum Finding {
    Climbs {
        file: String,
        line: usize,
        path: String,
        from: String,
        to: String,
    },
    Circle(Vec<String>),
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Climbs {
                file,
                line,
                path,
                from,
                to,
            } => write!(f, "{file}:{line}: `{path}` climbs from {from} up to {to}"),
            Finding::Circle(files) => write!(f, "circle: {}", files.join(" -> ")),
        }
    }
}

/// The module path of a file under src/ (`src/runtime/cgroups/v1.rs` ->
/// `runtime::cgroups::v1`; a mod.rs is its folder); `None` for lib.rs and
/// the binaries.
fn module_of(path: &str) -> Option<Vec<String>> {
    let rel = path.strip_prefix("src/")?;
    if rel == "lib.rs" || rel.starts_with("bin/") {
        return None;
    }
    let rel = rel.strip_suffix(".rs")?;
    let mut parts: Vec<String> = rel.split('/').map(String::from).collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    Some(parts)
}

/// The text with comments and the contents of string and character
/// literals blanked out, lines kept in place.
fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (c.get(i + 1) == Some(&'"') || c.get(i + 1) == Some(&'#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            out.push('"');
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|k| c.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                blank(&mut out, c[j]);
                j += 1;
            }
            out.push('"');
            i = j;
        } else if c[i] == '"' {
            out.push('"');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    blank(&mut out, c[i]);
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c[i] == '\'' {
            // A character literal ('x', '\n', '\u{..}'); otherwise a lifetime.
            let end = if c.get(i + 1) == Some(&'\\') {
                (i + 2..c.len().min(i + 12)).find(|&j| c[j] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    out.push_str(&" ".repeat(e - i + 1));
                    i = e + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn is_ident(ch: char) -> bool {
    ch.is_alphanumeric() || ch == '_'
}

/// Parses a path or use tree at the start of `s` (`a::b::{c, d::e}`),
/// appending every full path to `out`.
fn use_tree(s: &[char], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        while i < s.len() && s[i].is_whitespace() {
            i += 1;
        }
        if s.get(i) == Some(&'{') {
            i += 1;
            loop {
                while i < s.len() && (s[i].is_whitespace() || s[i] == ',') {
                    i += 1;
                }
                if i >= s.len() || s[i] == '}' {
                    return i + 1;
                }
                let next = use_tree(s, i, path.clone(), out);
                i = next.max(i + 1);
            }
        }
        let start = i;
        while i < s.len() && is_ident(s[i]) {
            i += 1;
        }
        if i == start {
            // `*`, or the end of the path.
            out.push(path);
            return if s.get(i) == Some(&'*') { i + 1 } else { i };
        }
        path.push(s[start..i].iter().collect());
        if s.get(i) == Some(&':') && s.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            out.push(path);
            return i;
        }
    }
}

/// Every path a file names, as (line, path as written, absolute module path).
fn references(module: &[String], code: &str) -> Vec<(usize, String, Vec<String>)> {
    let mut refs = Vec::new();
    // Inline modules (`mod tests {`) shift what `super` means.
    let mut inline: Vec<(usize, String)> = Vec::new();
    // Child modules declared by `mod x;`: `use x::...` reaches them.
    let children: BTreeSet<String> = code
        .lines()
        .filter_map(|l| {
            let t = l.trim_start();
            let t = t
                .strip_prefix("pub(crate) ")
                .or(t.strip_prefix("pub "))
                .unwrap_or(t);
            t.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(|n| n.trim().to_string())
        })
        .collect();
    for (n, line) in code.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        if inline
            .last()
            .is_some_and(|(d, _)| *d == indent && line.trim() == "}")
        {
            inline.pop();
            continue;
        }
        let t = line.trim_start();
        let t2 = t
            .strip_prefix("pub(crate) ")
            .or(t.strip_prefix("pub "))
            .unwrap_or(t);
        if let Some(rest) = t2.strip_prefix("mod ") {
            if let Some(name) = rest.strip_suffix('{') {
                inline.push((indent, name.trim().to_string()));
                continue;
            }
        }
        let here: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(_, m)| m.clone()))
            .collect();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        // A relative `use` of a child module.
        if let Some(rest) = t2.strip_prefix("use ") {
            let first: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if inline.is_empty() && children.contains(&first) {
                let start = chars.len() - rest.chars().count();
                let mut paths = Vec::new();
                use_tree(&chars, start, Vec::new(), &mut paths);
                for p in paths {
                    let abs: Vec<String> = here.iter().cloned().chain(p.iter().cloned()).collect();
                    refs.push((n + 1, p.join("::"), abs));
                }
            }
        }
        while i < chars.len() {
            let boundary = i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':');
            let word: String = chars[i..].iter().take_while(|c| is_ident(**c)).collect();
            if boundary
                && matches!(word.as_str(), "crate" | "super" | "self")
                && chars.get(i + word.len()) == Some(&':')
                && chars.get(i + word.len() + 1) == Some(&':')
            {
                let mut paths = Vec::new();
                let end = use_tree(&chars, i, Vec::new(), &mut paths);
                for p in paths {
                    let mut abs: Vec<String> = here.clone();
                    let mut rest = p.as_slice();
                    match rest.first().map(String::as_str) {
                        Some("crate") => {
                            abs.clear();
                            rest = &rest[1..];
                        }
                        Some("self") => rest = &rest[1..],
                        _ => {}
                    }
                    while rest.first().map(String::as_str) == Some("super") {
                        abs.pop();
                        rest = &rest[1..];
                    }
                    abs.extend(rest.iter().cloned());
                    refs.push((n + 1, p.join("::"), abs));
                }
                i = end.max(i + 1);
            } else {
                i += word.len().max(1);
            }
        }
    }
    refs
}

/// Checks a tree of sources; returns every finding not in `allowed`.
fn check(sources: &[Source], allowed: &[(&str, &str, &str)]) -> Vec<Finding> {
    let files: BTreeMap<Vec<String>, &Source> = sources
        .iter()
        .filter_map(|s| module_of(&s.path).map(|m| (m, s)))
        .collect();
    // The file that defines a path: the longest module prefix with a file.
    let file_of = |abs: &[String]| -> Option<(Vec<String>, &Source)> {
        (1..=abs.len())
            .rev()
            .find_map(|k| files.get(&abs[..k]).map(|s| (abs[..k].to_vec(), *s)))
    };
    let rank = |m: &[String]| m.first().and_then(|f| CHAIN.iter().position(|c| c == f));
    let mut findings = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, src) in &files {
        let code = code_only(&src.text);
        for (line, written, abs) in references(module, &code) {
            let Some((target, tsrc)) = file_of(&abs) else {
                continue;
            };
            if target == *module {
                continue;
            }
            if allowed
                .iter()
                .any(|(f, p, _)| *f == src.path && written == *p)
            {
                continue;
            }
            let (from, to) = (rank(module), rank(&target));
            if let (Some(from), Some(to)) = (from, to) {
                if to > from {
                    findings.push(Finding::Climbs {
                        file: src.path.clone(),
                        line,
                        path: written.clone(),
                        from: CHAIN[from].into(),
                        to: CHAIN[to].into(),
                    });
                    continue;
                }
            }
            // Circles within one folder; a mod.rs's own children are its
            // facade, not its dependencies.
            let facade = src.path.ends_with("/mod.rs") && target.starts_with(module);
            if module.first() == target.first() && !facade {
                edges
                    .entry(src.path.clone())
                    .or_default()
                    .insert(tsrc.path.clone());
            }
        }
    }
    findings.extend(circles(&edges).into_iter().map(Finding::Circle));
    findings
}

/// The circles of a graph: for each file on one and not yet named, the
/// shortest way back to it, as a path that returns to its start.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges
        .iter()
        .flat_map(|(a, bs)| std::iter::once(a).chain(bs))
        .collect();
    let reach = |from: &String| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for m in edges.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
        seen
    };
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for n in nodes {
        if done.contains(n) || !reach(n).contains(n) {
            continue;
        }
        // The shortest way back to `n`, by breadth-first search.
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([n.clone()]);
        'search: while let Some(a) = queue.pop_front() {
            for b in edges.get(&a).into_iter().flatten() {
                if b == n {
                    let mut back = vec![a.clone()];
                    while back.last() != Some(n) {
                        let at = back.last().unwrap().clone();
                        back.push(prev[&at].clone());
                    }
                    back.reverse();
                    let mut path = back;
                    path.push(n.clone());
                    done.extend(path.iter().cloned());
                    out.push(path);
                    break 'search;
                }
                if !prev.contains_key(b) && b != n {
                    prev.insert(b.clone(), a.clone());
                    queue.push_back(b.clone());
                }
            }
        }
    }
    out
}

fn read_tree(dir: &Path, out: &mut Vec<Source>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_tree(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            out.push(Source {
                path: p.strip_prefix(root).unwrap().display().to_string(),
                text: std::fs::read_to_string(&p).unwrap(),
            });
        }
    }
}

#[test]
fn imports_run_down_the_chain_and_no_folder_has_a_circle() {
    let mut sources = Vec::new();
    read_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut sources,
    );
    assert!(sources.len() > 50, "read {} files", sources.len());
    let findings = check(&sources, ALLOWED);
    let text: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
    assert!(findings.is_empty(), "\n{}", text.join("\n"));
}

#[test]
fn every_allowed_leftover_is_still_there() {
    // An entry whose import is gone is stale: remove it from ALLOWED.
    let mut sources = Vec::new();
    read_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut sources,
    );
    for (file, path, why) in ALLOWED {
        assert!(!why.is_empty());
        let src = sources
            .iter()
            .find(|s| s.path == *file)
            .unwrap_or_else(|| panic!("{file} is gone"));
        let module = module_of(file).unwrap();
        assert!(
            references(&module, &code_only(&src.text))
                .iter()
                .any(|(_, w, _)| w == path),
            "{file} no longer imports {path}: remove it from ALLOWED"
        );
    }
}

fn tree(files: &[(&str, &str)]) -> Vec<Source> {
    files
        .iter()
        .map(|(p, t)| Source {
            path: p.to_string(),
            text: t.to_string(),
        })
        .collect()
}

#[test]
fn a_climbing_import_is_named_with_file_and_line() {
    let src = tree(&[
        ("src/probe/mod.rs", "pub mod ns;\n"),
        (
            "src/probe/ns.rs",
            "use crate::model::namespace::Namespace;\n\nuse crate::runtime::spec::Thing;\n",
        ),
        ("src/model/namespace.rs", "pub enum Namespace {}\n"),
        ("src/runtime/spec.rs", "pub struct Thing;\n"),
    ]);
    assert_eq!(
        check(&src, &[]),
        vec![Finding::Climbs {
            file: "src/probe/ns.rs".into(),
            line: 3,
            path: "crate::runtime::spec::Thing".into(),
            from: "probe".into(),
            to: "runtime".into(),
        }]
    );
    assert_eq!(
        check(
            &src,
            &[("src/probe/ns.rs", "crate::runtime::spec::Thing", "moving")]
        ),
        vec![]
    );
}

#[test]
fn grouped_super_and_inline_module_paths_are_resolved() {
    let src = tree(&[
        ("src/sys/mod.rs", "use crate::{model::x, report::y};\n"),
        ("src/model/x.rs", ""),
        ("src/report/y.rs", ""),
        ("src/cli/mod.rs", "pub struct Cli;\n"),
        (
            "src/report/z.rs",
            "// crate::cli::Cli in a comment\nconst S: &str = \"crate::cli::Cli\";\n#[cfg(test)]\nmod tests {\n    use super::super::super::cli::Cli;\n}\n",
        ),
    ]);
    let found: Vec<String> = check(&src, &[]).iter().map(|f| f.to_string()).collect();
    assert_eq!(
        found,
        vec![
            "src/report/z.rs:5: `super::super::super::cli::Cli` climbs from report up to cli",
            "src/sys/mod.rs:1: `crate::model::x` climbs from sys up to model",
            "src/sys/mod.rs:1: `crate::report::y` climbs from sys up to report",
        ]
    );
}

#[test]
fn a_circle_between_files_of_a_folder_is_named() {
    let src = tree(&[
        (
            "src/suite/mod.rs",
            "pub mod audit;\npub mod runner;\npub use runner::Runner;\n",
        ),
        ("src/suite/audit.rs", "use super::runner::Runner;\n"),
        (
            "src/suite/runner.rs",
            "pub struct Runner;\nfn a() { super::audit::audit(); }\n",
        ),
        ("src/suite/case.rs", "use super::runner::Runner;\n"),
    ]);
    let found: Vec<String> = check(&src, &[]).iter().map(|f| f.to_string()).collect();
    assert_eq!(
        found,
        vec!["circle: src/suite/audit.rs -> src/suite/runner.rs -> src/suite/audit.rs"]
    );
}
