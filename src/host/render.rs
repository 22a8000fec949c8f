//! The human-readable facts section of `isocheck audit`: facts grouped,
//! keys aligned per group, long lists wrapped, unknown facts marked
//! `unknown` with the paths tried.

use std::fmt::Write;

use crate::model::host::{HostFacts, IdmapTool, NsState, SubidFile, Tristate};

/// Width past which lists wrap.
const WIDTH: usize = 100;
const INDENT: &str = "  ";

struct Section {
    title: &'static str,
    rows: Vec<(String, Vec<String>)>,
}

impl Section {
    fn new(title: &'static str) -> Section {
        Section {
            title,
            rows: Vec::new(),
        }
    }

    fn row(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.rows.push((key.into(), vec![value.into()]));
    }

    fn rows(&mut self, key: impl Into<String>, lines: Vec<String>) {
        let lines = if lines.is_empty() {
            vec!["(none)".to_string()]
        } else {
            lines
        };
        self.rows.push((key.into(), lines));
    }

    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "{}", self.title);
        let width = self.rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (key, lines) in &self.rows {
            for (i, line) in lines.iter().enumerate() {
                let k = if i == 0 { key.as_str() } else { "" };
                let full = format!("{INDENT}{k:<width$}  {line}");
                let _ = writeln!(out, "{}", full.trim_end());
            }
        }
    }
}

/// Joins items with `, `, wrapping into lines of at most `width` chars.
fn wrap(items: &[String], width: usize) -> Vec<String> {
    wrap_sep(items, ",", width)
}

/// Joins items with `sep` and a space, wrapping into lines of at most
/// `width` chars (an item longer than that gets a line of its own).
fn wrap_sep(items: &[String], sep: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item}{sep}")
        } else {
            item.clone()
        };
        if !cur.is_empty() && cur.len() + 1 + piece.len() > width {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(&piece);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// `unknown` followed by what was tried, one per line.
fn unknown(tried: &[String]) -> Vec<String> {
    let mut v = vec!["unknown".to_string()];
    v.extend(tried.iter().map(|t| format!("  tried {t}")));
    v
}

fn or_unknown(s: &str) -> String {
    if s.is_empty() {
        "unknown".into()
    } else {
        s.to_string()
    }
}

fn subid_rows(s: &mut Section, key: &str, f: &SubidFile, user: Option<&str>, uid: u32) {
    let path = if f.path.is_empty() { key } else { &f.path };
    let mut lines = match (f.exists, &f.error) {
        (Some(true), _) => {
            let mine = f.ranges_for(user, uid);
            let n = f.entries.len();
            let mut v = vec![format!(
                "{path}: {n} {}; the runner has {}",
                if n == 1 { "entry" } else { "entries" },
                if mine.is_empty() {
                    "none".to_string()
                } else {
                    mine.iter()
                        .map(|e| format!("{}+{}", e.start, e.count))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )];
            v.extend(f.malformed.iter().map(|m| format!("  malformed {m}")));
            v
        }
        (Some(false), _) => vec![format!("{path}: absent")],
        (None, Some(e)) => vec![format!("unknown ({path}: {e})")],
        (None, None) => vec!["unknown (not probed)".into()],
    };
    if lines.is_empty() {
        lines.push("unknown".into());
    }
    s.rows(key, lines);
}

fn tool_row(s: &mut Section, t: &IdmapTool) {
    let lines = match &t.path {
        Some(p) => {
            let mut how = Vec::new();
            if t.setuid_root {
                how.push("setuid root".to_string());
            }
            if let Some(c) = &t.file_caps {
                how.push(format!("file caps {c}"));
            }
            if how.is_empty() {
                how.push("neither setuid root nor file caps".into());
            }
            let mut v = vec![format!("{p} ({})", how.join(", "))];
            if let Some(e) = &t.error {
                v.push(format!("  {e}"));
            }
            v
        }
        None if t.tried.is_empty() => vec!["unknown (not probed)".into()],
        None => {
            let mut v = vec!["not found".to_string()];
            v.extend(t.tried.iter().map(|p| format!("  tried {p}")));
            v
        }
    };
    s.rows(t.name.clone(), lines);
}

/// Renders the facts for people.
pub fn render_text(f: &HostFacts) -> String {
    let mut sections = Vec::new();

    let mut s = Section::new("Kernel");
    s.row("release", or_unknown(&f.kernel.release));
    s.row("version", or_unknown(&f.kernel.version));
    s.row("arch", or_unknown(&f.arch));
    let words: Vec<String> = f.cmdline.split_whitespace().map(String::from).collect();
    if words.is_empty() {
        s.row("cmdline", "unknown");
    } else {
        s.rows("cmdline", wrap_sep(&words, "", WIDTH));
    }
    let params: Vec<String> = f
        .boot_params
        .iter()
        .flat_map(|(k, vs)| {
            vs.iter().map(move |v| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
        })
        .collect();
    s.rows("isolation params", wrap(&params, WIDTH));
    sections.push(s);

    let mut s = Section::new("Distribution");
    match &f.distro.source {
        Some(src) => {
            s.row("name", or_unknown(&f.distro.pretty_name));
            s.row(
                "id",
                format!("{} {}", or_unknown(&f.distro.id), f.distro.version_id)
                    .trim_end()
                    .to_string(),
            );
            s.row("source", src.clone());
        }
        None if f.distro.tried.is_empty() && !f.distro.id.is_empty() => {
            s.row("name", or_unknown(&f.distro.pretty_name));
            s.row("id", format!("{} {}", f.distro.id, f.distro.version_id));
        }
        None => s.rows("name", unknown(&f.distro.tried)),
    }
    sections.push(s);

    let mut s = Section::new("Nesting");
    let n = &f.nesting;
    s.row(
        "user namespace",
        match n.user_namespace {
            Some(true) => "non-initial",
            Some(false) => "initial",
            None => "unknown",
        },
    );
    s.row(
        "container",
        match (n.container, &n.manager) {
            (true, Some(m)) => format!("yes ({m})"),
            (true, None) => "yes".into(),
            (false, _) if n.unreadable.is_empty() => "no sign".into(),
            (false, _) => "no sign found (some checks could not be made)".into(),
        },
    );
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (kind, state) in &n.namespaces {
        let label = match state {
            NsState::Initial => "initial".to_string(),
            NsState::NonInitial => "non-initial".to_string(),
            NsState::Unknown(why) => format!("unknown ({why})"),
        };
        match groups.iter_mut().find(|(l, _)| *l == label) {
            Some((_, kinds)) => kinds.push(kind.clone()),
            None => groups.push((label, vec![kind.clone()])),
        }
    }
    if !n.namespaces.is_empty() {
        s.rows(
            "namespaces",
            groups
                .into_iter()
                .map(|(label, kinds)| format!("{label}: {}", kinds.join(", ")))
                .collect(),
        );
    }
    s.rows("evidence", n.evidence.clone());
    if !n.unreadable.is_empty() {
        s.rows("not checked", n.unreadable.clone());
    }
    sections.push(s);

    let mut s = Section::new("Kernel config");
    let k = &f.kconfig;
    match &k.source {
        Some(src) => {
            s.row(
                "source",
                if k.explicit {
                    format!("{src} (given)")
                } else {
                    src.clone()
                },
            );
            if !k.tried.is_empty() {
                s.rows("skipped", k.tried.clone());
            }
            s.row(
                "sha256",
                k.sha256.clone().unwrap_or_else(|| "unknown".into()),
            );
            let pick = |want: &Tristate| -> Vec<String> {
                k.options
                    .iter()
                    .filter(|(_, v)| *v == want)
                    .map(|(n, _)| n.clone())
                    .collect()
            };
            s.rows("built in (y)", wrap(&pick(&Tristate::Yes), WIDTH));
            s.rows("modules (m)", wrap(&pick(&Tristate::Module), WIDTH));
            s.rows("not set (n)", wrap(&pick(&Tristate::No), WIDTH));
            for (name, v) in &k.options {
                if let Tristate::Value(_) = v {
                    s.row(name.clone(), v.to_string());
                }
            }
            if !k.warnings.is_empty() {
                s.rows("odd lines", k.warnings.clone());
            }
        }
        None => s.rows("source", unknown(&k.tried)),
    }
    sections.push(s);

    let mut s = Section::new("Security modules");
    let sec = &f.security;
    match &sec.lsm_source {
        Some(src) => {
            let mut lines = wrap(&f.lsms, WIDTH);
            if lines.is_empty() {
                lines.push("(none)".into());
            }
            lines.push(format!("  from {src}"));
            s.rows("active", lines);
        }
        None if !f.lsms.is_empty() => s.rows("active", wrap(&f.lsms, WIDTH)),
        None => s.rows("active", unknown(&sec.lsm_tried)),
    }
    s.row("lockdown", sec.lockdown.to_string());
    s.row(
        "landlock abi",
        match (&sec.landlock_abi, &sec.landlock_error) {
            (Some(v), _) => v.to_string(),
            (None, Some(e)) => format!("none ({e})"),
            (None, None) => "unknown (not probed)".into(),
        },
    );
    if !sec.hints.is_empty() {
        s.rows("hints", sec.hints.clone());
    }
    sections.push(s);

    let mut s = Section::new("Sysctls");
    for (name, knob) in &f.sysctls {
        s.row(name.clone(), knob.to_string());
    }
    if f.sysctls.is_empty() {
        s.row("(all)", "unknown (not probed)");
    }
    sections.push(s);

    let mut s = Section::new("Rootless id mapping");
    let user = f.runner.user_name.as_deref();
    subid_rows(&mut s, "subuid", &f.subids.subuid, user, f.runner.uid);
    subid_rows(&mut s, "subgid", &f.subids.subgid, user, f.runner.gid);
    for t in &f.idmap_tools {
        tool_row(&mut s, t);
    }
    sections.push(s);

    let mut s = Section::new("cgroups");
    let c = &f.cgroup;
    s.row("layout", c.layout.as_str());
    s.rows("v1 controllers", wrap(&c.v1_controllers, WIDTH));
    match &c.v2_mount {
        Some(m) => {
            s.row("v2 mount", m.clone());
            s.rows("v2 controllers", wrap(&c.v2_controllers, WIDTH));
            s.rows("v2 subtree_control", wrap(&c.v2_subtree_control, WIDTH));
            s.rows("v2 mount options", wrap(&c.v2_mount_options, WIDTH));
        }
        None => s.rows("v2 controllers", wrap(&c.v2_controllers, WIDTH)),
    }
    // One line per path: `/a/b (memory, pids)`; cgroup2 is `cgroup2`.
    let mut by_path: Vec<(&str, Vec<String>)> = Vec::new();
    for o in &c.own {
        let name = if o.hierarchy == 0 && o.controllers.is_empty() {
            "cgroup2".to_string()
        } else {
            o.controllers.join(",")
        };
        match by_path.iter_mut().find(|(p, _)| *p == o.path) {
            Some((_, names)) => names.push(name),
            None => by_path.push((&o.path, vec![name])),
        }
    }
    s.rows(
        "own cgroups",
        by_path
            .into_iter()
            .map(|(p, mut names)| {
                names.sort();
                format!("{p} ({})", names.join(", "))
            })
            .collect(),
    );
    if !c.unreadable.is_empty() {
        s.rows("not read", c.unreadable.clone());
    }
    sections.push(s);

    let mut s = Section::new("Runner");
    let r = &f.runner;
    s.row(
        "uid / gid",
        match &r.user_name {
            Some(n) => format!("{} / {} ({n})", r.uid, r.gid),
            None => format!("{} / {}", r.uid, r.gid),
        },
    );
    let caps_unknown =
        r.caps_source.is_none() && r.effective_caps.is_empty() && r.bounding_caps.is_empty();
    for (key, set) in [
        ("effective caps", &r.effective_caps),
        ("permitted caps", &r.permitted_caps),
        ("inheritable caps", &r.inheritable_caps),
        ("bounding caps", &r.bounding_caps),
        ("ambient caps", &r.ambient_caps),
    ] {
        if caps_unknown {
            s.row(key, "unknown");
        } else {
            let mut lines = wrap(set, WIDTH);
            if let Some(first) = lines.first_mut() {
                *first = format!("[{}] {first}", set.len());
            }
            s.rows(key, lines);
        }
    }
    if let Some(src) = &r.caps_source {
        s.row("caps source", src.clone());
    }
    s.row(
        "no_new_privs",
        r.no_new_privs
            .map_or("unknown".into(), |b| if b { "1" } else { "0" }.to_string()),
    );
    s.row(
        "seccomp",
        r.seccomp.clone().unwrap_or_else(|| "unknown".into()),
    );
    s.row(
        "cap_last_cap",
        r.cap_last_cap.map_or("unknown".into(), |n| n.to_string()),
    );
    sections.push(s);

    if !f.extra.is_empty() {
        let mut s = Section::new("Other");
        for (k, v) in &f.extra {
            s.row(k.clone(), v.to_string());
        }
        sections.push(s);
    }

    let mut out = String::new();
    for (i, s) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        s.render(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::host::{Knob, NestingFacts};
    use rstest::rstest;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[rstest]
    #[case::empty(&[], 20, &[])]
    #[case::one(&["a"], 20, &["a"])]
    #[case::fits(&["aa", "bb"], 20, &["aa, bb"])]
    #[case::wraps(&["aaaa", "bbbb", "cccc"], 11, &["aaaa, bbbb,", "cccc"])]
    #[case::long_item(&["aaaaaaaaaaaaaaa", "b"], 5, &["aaaaaaaaaaaaaaa,", "b"])]
    fn wrapping(#[case] items: &[&str], #[case] width: usize, #[case] want: &[&str]) {
        assert_eq!(wrap(&s(items), width), s(want));
    }

    #[test]
    fn wrapping_words_without_separator() {
        assert_eq!(
            wrap_sep(&s(&["ro", "quiet", "root=/dev/sda"]), "", 9),
            s(&["ro quiet", "root=/dev/sda"])
        );
    }

    #[test]
    fn own_cgroups_are_grouped_by_path() {
        let mut f = HostFacts::default();
        let (own, _) = crate::host::cgroup::parse_proc_cgroup("2:pids:/\n1:memory:/x\n0::/\n");
        f.cgroup.own = own;
        let text = render_text(&f);
        let at = text.find("own cgroups").unwrap();
        let lines: Vec<&str> = text[at..].lines().take(2).collect();
        assert!(lines[0].ends_with("  / (cgroup2, pids)"), "{text}");
        assert!(lines[1].trim() == "/x (memory)", "{text}");
    }

    #[test]
    fn default_facts_render_as_unknown_without_panicking() {
        let text = render_text(&HostFacts::default());
        for title in [
            "Kernel",
            "Distribution",
            "Nesting",
            "Kernel config",
            "Security modules",
            "Sysctls",
            "Rootless id mapping",
            "cgroups",
            "Runner",
        ] {
            assert!(text.contains(&format!("{title}\n")), "{title} in {text}");
        }
        let release = text.lines().find(|l| l.starts_with("  release ")).unwrap();
        assert!(release.ends_with(" unknown"), "{text}");
        assert!(!text.lines().any(|l| l.ends_with(' ')), "{text:?}");
    }

    #[test]
    fn keys_align_within_a_section() {
        let mut f = HostFacts::default();
        f.sysctls.insert("a.b".into(), Knob::Value("1".into()));
        f.sysctls.insert("kernel.a_long_name".into(), Knob::Absent);
        let text = render_text(&f);
        assert!(text.contains("  a.b                 1\n"), "{text}");
        assert!(text.contains("  kernel.a_long_name  absent\n"), "{text}");
    }

    #[test]
    fn unknown_kconfig_lists_the_paths_tried() {
        let mut f = HostFacts::default();
        f.kconfig.tried = s(&["/proc/config.gz: not found", "/boot/config-6.1: not found"]);
        let text = render_text(&f);
        let block = text.split("Kernel config\n").nth(1).unwrap();
        assert!(block.starts_with("  source  unknown\n"), "{block}");
        assert!(
            block.contains("tried /proc/config.gz: not found"),
            "{block}"
        );
        assert!(
            block.contains("tried /boot/config-6.1: not found"),
            "{block}"
        );
    }

    #[test]
    fn nesting_evidence_is_listed() {
        let f = HostFacts {
            nesting: NestingFacts {
                user_namespace: Some(true),
                container: true,
                manager: Some("podman".into()),
                evidence: s(&["/run/.containerenv exists"]),
                ..NestingFacts::default()
            },
            ..HostFacts::default()
        };
        let text = render_text(&f);
        assert!(text.contains("yes (podman)"), "{text}");
        assert!(text.contains("/run/.containerenv exists"), "{text}");
        assert!(text.contains("non-initial"), "{text}");
    }

    #[test]
    fn live_host_renders() {
        let text = render_text(&HostFacts::probe());
        assert!(text.contains("Kernel config"), "{text}");
    }
}
