//! Nesting: whether isocheck runs inside a container or a non-initial
//! user namespace, and the evidence for it.
//!
//! No single sign is proof: a marker file can be left over from an image
//! build, and a VM may run its workload in a cgroup named like a
//! container's. So every sign found is recorded as an evidence string and
//! a reader can weigh them.

use std::path::Path;

use crate::model::host::{NestingFacts, NsState};

use super::{read_text, tried, under};

/// The inode numbers of the initial namespaces (`PROC_*_INIT_INO` of
/// `<linux/proc_ns.h>`). `strict` kinds have had a fixed number since
/// they exist, so any other number means non-initial; mnt and net got
/// theirs only recently (6.18), so on them only a match tells.
const INIT_INODES: &[(&str, u64, bool)] = &[
    ("ipc", 0xEFFF_FFFF, true),
    ("uts", 0xEFFF_FFFE, true),
    ("user", 0xEFFF_FFFD, true),
    ("pid", 0xEFFF_FFFC, true),
    ("cgroup", 0xEFFF_FFFB, true),
    ("time", 0xEFFF_FFFA, true),
    ("net", 0xEFFF_FFF9, false),
    ("mnt", 0xEFFF_FFF8, false),
];

/// Parses a /proc/<pid>/ns link target, `pid:[4026531836]`, into the
/// kind and the inode number.
pub fn parse_ns_link(target: &str) -> Result<(String, u64), String> {
    let (kind, rest) = target
        .split_once(":[")
        .ok_or_else(|| format!("not kind:[inode]: {target:?}"))?;
    let ino = rest
        .strip_suffix(']')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("not kind:[inode]: {target:?}"))?;
    if kind.is_empty() {
        return Err(format!("not kind:[inode]: {target:?}"));
    }
    Ok((kind.to_string(), ino))
}

/// Decides whether a namespace of `kind` with inode `ino` is initial.
pub fn ns_state(kind: &str, ino: u64) -> NsState {
    match INIT_INODES.iter().find(|(k, _, _)| *k == kind) {
        Some((_, init, _)) if *init == ino => NsState::Initial,
        Some((_, _, true)) => NsState::NonInitial,
        Some((_, _, false)) => NsState::Unknown(format!(
            "inode {ino}: this kernel may not give the initial {kind} namespace a fixed number"
        )),
        None => NsState::Unknown(format!("no fixed initial inode for {kind}")),
    }
}

/// One line of a uid_map or gid_map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapLine {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// Parses uid_map/gid_map text: lines of three numbers.
pub fn parse_id_map(text: &str) -> Result<Vec<IdMapLine>, String> {
    let mut v = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let nums: Vec<&str> = line.split_whitespace().collect();
        let parsed: Option<Vec<u32>> = nums.iter().map(|n| n.parse().ok()).collect();
        match parsed.as_deref() {
            Some(&[inside, outside, count]) => v.push(IdMapLine {
                inside,
                outside,
                count,
            }),
            _ => return Err(format!("line {}: not three numbers: {line:?}", i + 1)),
        }
    }
    Ok(v)
}

/// True for the map of the initial user namespace.
pub fn is_initial_id_map(map: &[IdMapLine]) -> bool {
    map == [IdMapLine {
        inside: 0,
        outside: 0,
        count: u32::MAX,
    }]
}

/// The `container=` variable of an environ file (NUL-separated).
pub fn container_from_environ(environ: &[u8]) -> Option<String> {
    environ
        .split(|&b| b == 0)
        .find_map(|kv| kv.strip_prefix(b"container="))
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .filter(|v| !v.is_empty())
}

/// Path fragments of /proc/self/cgroup that container managers leave,
/// with the manager each names.
const CGROUP_HINTS: &[(&str, &str)] = &[
    ("/docker/", "docker"),
    ("/docker-", "docker"),
    ("/kubepods", "kubernetes"),
    ("/libpod-", "podman"),
    ("/libpod_parent", "podman"),
    ("/lxc/", "lxc"),
    ("/lxc.payload", "lxc"),
    ("/cri-containerd-", "containerd"),
    ("/crio-", "cri-o"),
    ("/actions_job/", "docker"),
];

/// Container hints in /proc/self/cgroup text: (manager, the line).
pub fn cgroup_hints(text: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for line in text.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap_or("");
        if let Some((_, manager)) = CGROUP_HINTS.iter().find(|(frag, _)| path.contains(frag)) {
            v.push((manager.to_string(), line.trim().to_string()));
        }
    }
    v
}

/// Probes the tree under `root`.
pub fn probe(root: &Path) -> NestingFacts {
    fn sign(f: &mut NestingFacts, manager: Option<&str>, evidence: String) {
        f.container = true;
        if f.manager.is_none() {
            f.manager = manager.map(String::from);
        }
        f.evidence.push(evidence);
    }
    let mut f = NestingFacts::default();

    let uid_map = under(root, "/proc/self/uid_map");
    match read_text(&uid_map).and_then(|t| parse_id_map(&t)) {
        Ok(map) => {
            let initial = is_initial_id_map(&map);
            f.user_namespace = Some(!initial);
            if !initial {
                let lines: Vec<String> = map
                    .iter()
                    .map(|l| format!("{} {} {}", l.inside, l.outside, l.count))
                    .collect();
                f.evidence.push(format!(
                    "{}: {} (not the initial 0 0 4294967295)",
                    uid_map.display(),
                    lines.join(", ")
                ));
            }
        }
        Err(reason) => f.unreadable.push(tried(&uid_map, &reason)),
    }

    for (kind, _, _) in INIT_INODES {
        let link = under(root, &format!("/proc/self/ns/{kind}"));
        let state = match std::fs::read_link(&link) {
            Ok(target) => {
                let target = target.to_string_lossy();
                match parse_ns_link(&target) {
                    Ok((k, ino)) if k == *kind => ns_state(kind, ino),
                    Ok((k, _)) => NsState::Unknown(format!("link names {k}, not {kind}")),
                    Err(e) => NsState::Unknown(e),
                }
            }
            Err(e) => NsState::Unknown(super::io_reason(&e)),
        };
        if state == NsState::NonInitial {
            f.evidence.push(format!(
                "{}: not the initial {kind} namespace",
                link.display()
            ));
            if *kind == "pid" || *kind == "cgroup" {
                f.container = true;
            }
            if *kind == "user" {
                f.user_namespace = Some(true);
            }
        }
        f.namespaces.insert(kind.to_string(), state);
    }

    for (marker, manager) in [("/.dockerenv", "docker"), ("/run/.containerenv", "podman")] {
        let p = under(root, marker);
        if p.exists() {
            sign(&mut f, Some(manager), format!("{} exists", p.display()));
        }
    }

    let systemd = under(root, "/run/systemd/container");
    if let Ok(text) = read_text(&systemd) {
        let name = text.trim();
        if !name.is_empty() {
            sign(&mut f, Some(name), format!("{}: {name}", systemd.display()));
        }
    }

    let environ = under(root, "/proc/1/environ");
    match std::fs::read(&environ) {
        Ok(bytes) => {
            if let Some(v) = container_from_environ(&bytes) {
                sign(
                    &mut f,
                    Some(&v),
                    format!("{}: container={v}", environ.display()),
                );
            }
        }
        Err(e) => f.unreadable.push(tried(&environ, &super::io_reason(&e))),
    }

    let cgroup = under(root, "/proc/self/cgroup");
    match read_text(&cgroup) {
        Ok(text) => {
            for (manager, line) in cgroup_hints(&text) {
                sign(
                    &mut f,
                    Some(&manager),
                    format!("{}: {line}", cgroup.display()),
                );
            }
        }
        Err(reason) => f.unreadable.push(tried(&cgroup, &reason)),
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::initial("         0          0 4294967295\n", Ok(true))]
    #[case::rootless("0 1000 1\n1 100000 65536\n", Ok(false))]
    #[case::shifted("0 100000 65536", Ok(false))]
    #[case::partial_identity("0 0 1000", Ok(false))]
    #[case::empty("", Ok(false))]
    #[case::two_numbers("0 0\n", Err("line 1: not three numbers: \"0 0\"".to_string()))]
    #[case::negative("0 -1 5\n", Err("line 1: not three numbers: \"0 -1 5\"".to_string()))]
    #[case::too_big("0 0 4294967296\n", Err("line 1: not three numbers: \"0 0 4294967296\"".to_string()))]
    #[case::garbage("\u{0}\u{1}", Err("line 1: not three numbers: \"\\0\\u{1}\"".to_string()))]
    fn id_maps(#[case] text: &str, #[case] want: Result<bool, String>) {
        assert_eq!(parse_id_map(text).map(|m| is_initial_id_map(&m)), want);
    }

    #[rstest]
    #[case::pid("pid:[4026531836]", Ok(("pid", 4026531836)))]
    #[case::big("mnt:[4026532712]", Ok(("mnt", 4026532712)))]
    #[case::no_brackets("pid:4026531836", Err(()))]
    #[case::not_number("pid:[x]", Err(()))]
    #[case::unclosed("pid:[1", Err(()))]
    #[case::no_kind(":[1]", Err(()))]
    #[case::empty("", Err(()))]
    fn ns_links(#[case] text: &str, #[case] want: Result<(&str, u64), ()>) {
        assert_eq!(
            parse_ns_link(text).map_err(|_| ()),
            want.map(|(k, i)| (k.to_string(), i))
        );
    }

    #[rstest]
    #[case::pid_initial("pid", 4026531836, Some(NsState::Initial))]
    #[case::pid_other("pid", 4026532712, Some(NsState::NonInitial))]
    #[case::user_other("user", 4026532000, Some(NsState::NonInitial))]
    #[case::mnt_initial("mnt", 4026531832, Some(NsState::Initial))]
    #[case::mnt_other("mnt", 4026532712, None)]
    #[case::unknown_kind("foo", 1, None)]
    fn ns_states(#[case] kind: &str, #[case] ino: u64, #[case] want: Option<NsState>) {
        match (ns_state(kind, ino), want) {
            (NsState::Unknown(_), None) => {}
            (got, want) => assert_eq!(Some(got), want),
        }
    }

    #[rstest]
    #[case::podman(b"PATH=/bin\0container=podman\0HOME=/".as_slice(), Some("podman"))]
    #[case::none(b"PATH=/bin\0HOME=/\0".as_slice(), None)]
    #[case::empty_value(b"container=\0".as_slice(), None)]
    #[case::empty(b"".as_slice(), None)]
    #[case::binary(b"\xff\xfe\0container=lxc".as_slice(), Some("lxc"))]
    #[case::not_prefix(b"xcontainer=no\0".as_slice(), None)]
    fn environ(#[case] bytes: &[u8], #[case] want: Option<&str>) {
        assert_eq!(container_from_environ(bytes).as_deref(), want);
    }

    #[rstest]
    #[case::host("0::/user.slice/user-1000.slice/session-2.scope\n", &[])]
    #[case::docker_v1("12:memory:/docker/0123abcd\n", &["docker"])]
    #[case::docker_scope("0::/system.slice/docker-0123abcd.scope\n", &["docker"])]
    #[case::kubepods("0::/kubepods.slice/kubepods-burstable.slice/x\n", &["kubernetes"])]
    #[case::podman("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-abc.scope\n", &["podman"])]
    #[case::lxc("0::/lxc.payload.c1\n", &["lxc"])]
    #[case::garbage("no colons here\n\u{0}\n", &[])]
    #[case::root_only("0::/\n", &[])]
    fn cgroups(#[case] text: &str, #[case] want: &[&str]) {
        let got: Vec<String> = cgroup_hints(text).into_iter().map(|(m, _)| m).collect();
        assert_eq!(got, want);
    }

    fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (p, b) in files {
            let p = under(dir.path(), p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, b).unwrap();
        }
        dir
    }

    #[test]
    fn namespace_links_decide_initial_or_not() {
        let dir = tree(&[]);
        let ns = dir.path().join("proc/self/ns");
        std::fs::create_dir_all(&ns).unwrap();
        let link = |name: &str, target: &str| {
            std::os::unix::fs::symlink(target, ns.join(name)).unwrap();
        };
        link("pid", "pid:[4026532712]");
        link("user", "user:[4026531837]");
        link("uts", "garbage");
        link("ipc", "uts:[4026531838]");
        let f = probe(dir.path());
        assert_eq!(f.namespaces["pid"], NsState::NonInitial);
        assert_eq!(f.namespaces["user"], NsState::Initial);
        assert!(matches!(f.namespaces["uts"], NsState::Unknown(ref s) if s.contains("not kind")));
        assert!(matches!(f.namespaces["ipc"], NsState::Unknown(ref s) if s.contains("names uts")));
        assert!(matches!(f.namespaces["time"], NsState::Unknown(ref s) if s == "not found"));
        assert!(f.container);
        assert_eq!(f.manager, None);
        assert!(f.evidence[0].contains("not the initial pid namespace"));
    }

    #[test]
    fn live_host_namespaces_are_decided() {
        let f = probe(Path::new("/"));
        for kind in ["pid", "user", "uts", "ipc", "cgroup"] {
            assert!(
                !matches!(f.namespaces[kind], NsState::Unknown(_)),
                "{kind}: {:?}",
                f.namespaces[kind]
            );
        }
    }

    #[test]
    fn bare_host_is_not_nested() {
        let dir = tree(&[
            ("/proc/self/uid_map", b"0 0 4294967295\n"),
            ("/proc/1/environ", b"HOME=/\0"),
            ("/proc/self/cgroup", b"0::/init.scope\n"),
        ]);
        let f = probe(dir.path());
        assert_eq!(f.user_namespace, Some(false));
        assert!(!f.container);
        assert!(!f.nested());
        assert!(f.evidence.is_empty());
        assert!(f.unreadable.is_empty());
    }

    #[test]
    fn rootless_podman_collects_all_evidence() {
        let dir = tree(&[
            ("/proc/self/uid_map", b"0 1000 1\n1 100000 65536\n"),
            ("/run/.containerenv", b""),
            ("/proc/1/environ", b"container=podman\0"),
            ("/proc/self/cgroup", b"0::/\n"),
        ]);
        let f = probe(dir.path());
        assert_eq!(f.user_namespace, Some(true));
        assert!(f.container);
        assert_eq!(f.manager.as_deref(), Some("podman"));
        assert_eq!(f.evidence.len(), 3, "{:?}", f.evidence);
        assert!(f.evidence[0].contains("0 1000 1, 1 100000 65536"));
    }

    #[test]
    fn unreadable_files_are_listed_not_guessed() {
        let dir = tree(&[("/.dockerenv", b"")]);
        let f = probe(dir.path());
        assert_eq!(f.user_namespace, None);
        assert!(f.container);
        assert_eq!(f.manager.as_deref(), Some("docker"));
        assert_eq!(f.unreadable.len(), 3, "{:?}", f.unreadable);
    }

    #[test]
    fn systemd_container_file_names_the_manager() {
        let dir = tree(&[("/run/systemd/container", b"systemd-nspawn\n")]);
        let f = probe(dir.path());
        assert_eq!(f.manager.as_deref(), Some("systemd-nspawn"));
    }
}
