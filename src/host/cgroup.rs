//! cgroup facts: the layout (decided by `runtime::cgroups`), the
//! controllers of each hierarchy, the cgroup2 root's subtree_control and
//! mount options, and the runner's own cgroups.

use std::path::Path;

use crate::model::host::OwnCgroup;

use super::{read_text, tried, under, CgroupFacts};
use crate::model::cgroup::Layout;
use crate::runtime::cgroups;

/// Parses /proc/<pid>/cgroup text. Malformed lines are reported as
/// `line N: reason` and skipped.
pub fn parse_proc_cgroup(text: &str) -> (Vec<OwnCgroup>, Vec<String>) {
    let mut v = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut it = line.splitn(3, ':');
        let (Some(id), Some(ctrls), Some(path)) = (it.next(), it.next(), it.next()) else {
            bad.push(format!("line {}: not id:controllers:path: {line:?}", i + 1));
            continue;
        };
        let Ok(hierarchy) = id.parse() else {
            bad.push(format!(
                "line {}: hierarchy id is not a number: {line:?}",
                i + 1
            ));
            continue;
        };
        if !path.starts_with('/') {
            bad.push(format!("line {}: path is not absolute: {line:?}", i + 1));
            continue;
        }
        v.push(OwnCgroup {
            hierarchy,
            controllers: ctrls
                .split(',')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect(),
            path: path.to_string(),
        });
    }
    (v, bad)
}

/// The cgroup2 mounts of a mountinfo text: (mount point, super options).
pub fn cgroup2_mounts(mountinfo: &str) -> Vec<(String, Vec<String>)> {
    crate::sys::mountinfo::entries(mountinfo)
        .into_iter()
        .filter(|e| e.fstype == "cgroup2")
        .map(|e| (e.mount_point.display().to_string(), e.super_options))
        .collect()
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

/// Probes the cgroup facts under `root` for a known `layout`.
pub fn probe_at(root: &Path, layout: Layout) -> CgroupFacts {
    let mut f = CgroupFacts {
        layout,
        ..CgroupFacts::default()
    };
    let mountinfo_path = under(root, "/proc/self/mountinfo");
    let mountinfo = match read_text(&mountinfo_path) {
        Ok(t) => t,
        Err(reason) => {
            f.unreadable.push(tried(&mountinfo_path, &reason));
            String::new()
        }
    };
    f.v1_controllers = cgroups::v1::controllers_from_mountinfo(&mountinfo);

    if let Some(mount) = cgroups::v2_mount(layout) {
        let mount_str = mount.display().to_string();
        let dir = under(root, &mount_str);
        f.v2_mount = Some(dir.display().to_string());
        for (file, slot) in [
            ("cgroup.controllers", &mut f.v2_controllers),
            ("cgroup.subtree_control", &mut f.v2_subtree_control),
        ] {
            let p = dir.join(file);
            match read_text(&p) {
                Ok(t) => *slot = words(&t),
                Err(reason) => f.unreadable.push(tried(&p, &reason)),
            }
        }
        if let Some((_, opts)) = cgroup2_mounts(&mountinfo)
            .into_iter()
            .find(|(mp, _)| *mp == mount_str)
        {
            f.v2_mount_options = opts;
        }
    }

    let own_path = under(root, "/proc/self/cgroup");
    match read_text(&own_path) {
        Ok(t) => {
            let (own, bad) = parse_proc_cgroup(&t);
            f.own = own;
            f.unreadable.extend(
                bad.into_iter()
                    .map(|b| format!("{}: {b}", own_path.display())),
            );
        }
        Err(reason) => f.unreadable.push(tried(&own_path, &reason)),
    }
    f
}

/// Probes under `root`, detecting the layout at `root`/sys/fs/cgroup.
pub fn probe(root: &Path) -> CgroupFacts {
    let layout = cgroups::detect_layout_at(&under(root, cgroups::CGROUP_ROOT));
    probe_at(root, layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    #[rstest]
    #[case::hybrid("4:memory:/a/b\n1:name=systemd:/\n0::/\n", 3, 0)]
    #[case::unified("0::/user.slice/user-0.slice/session-1.scope\n", 1, 0)]
    #[case::colon_in_path("0::/a:b\n", 1, 0)]
    #[case::two_fields("0:memory\n", 0, 1)]
    #[case::bad_id("x::/\n", 0, 1)]
    #[case::relative("0::a\n", 0, 1)]
    #[case::empty("", 0, 0)]
    #[case::garbage("\u{0}\u{1}\n", 0, 1)]
    fn proc_cgroup(#[case] text: &str, #[case] ok: usize, #[case] bad: usize) {
        let (v, b) = parse_proc_cgroup(text);
        assert_eq!((v.len(), b.len()), (ok, bad), "{b:?}");
    }

    #[test]
    fn proc_cgroup_fields() {
        let (v, _) = parse_proc_cgroup("3:cpu,cpuacct:/x\n0::/a:b\n");
        assert_eq!(v[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(v[1].path, "/a:b");
        assert!(v[1].controllers.is_empty());
    }

    #[rstest]
    #[case::hybrid(HYBRID_MOUNTINFO, &[("/sys/fs/cgroup/unified", "rw,nsdelegate,memory_recursiveprot")])]
    #[case::escaped("1 0 0:1 / /mnt/my\\040cg rw - cgroup2 none rw\n", &[("/mnt/my cg", "rw")])]
    #[case::no_super_opts("1 0 0:1 / /x rw - cgroup2 none\n", &[("/x", "")])]
    #[case::none("1 0 0:1 / / rw - ext4 /dev/sda rw\n", &[])]
    #[case::garbage("garbage - \n - cgroup2\n\u{0}", &[])]
    fn v2_mounts(#[case] text: &str, #[case] want: &[(&str, &str)]) {
        let got: Vec<(String, String)> = cgroup2_mounts(text)
            .into_iter()
            .map(|(m, o)| (m, o.join(",")))
            .collect();
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(m, o)| (m.to_string(), o.to_string()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn probe_fake_hybrid_tree() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::create_dir_all(p.join("proc/self")).unwrap();
        std::fs::create_dir_all(p.join("sys/fs/cgroup/unified")).unwrap();
        std::fs::write(p.join("proc/self/mountinfo"), HYBRID_MOUNTINFO).unwrap();
        std::fs::write(p.join("proc/self/cgroup"), "4:memory:/x\n0::/\n").unwrap();
        std::fs::write(
            p.join("sys/fs/cgroup/unified/cgroup.controllers"),
            "hugetlb\n",
        )
        .unwrap();
        let f = probe_at(p, Layout::Hybrid);
        // Named hierarchies (name=systemd) carry no controller.
        assert_eq!(f.v1_controllers, ["memory", "pids"]);
        assert_eq!(f.v2_controllers, ["hugetlb"]);
        assert!(f.has_v2_option("nsdelegate"));
        assert!(f.has_v2_option("memory_recursiveprot"));
        assert_eq!(f.own.len(), 2);
        assert_eq!(f.own_v2(), Some("/"));
        // subtree_control was missing.
        assert_eq!(f.unreadable.len(), 1, "{:?}", f.unreadable);
        assert!(f.unreadable[0].contains("cgroup.subtree_control: not found"));
    }

    #[test]
    fn probe_empty_tree_lists_unreadable() {
        let dir = tempfile::tempdir().unwrap();
        let f = probe_at(dir.path(), Layout::Unified);
        assert!(f.v2_controllers.is_empty());
        // mountinfo, controllers, subtree_control, /proc/self/cgroup.
        assert_eq!(f.unreadable.len(), 4, "{:?}", f.unreadable);
    }

    #[test]
    fn live_probe_agrees_with_runtime() {
        let f = probe(Path::new("/"));
        assert_eq!(f.layout, cgroups::detect_layout());
        assert_eq!(f.v1_controllers, cgroups::v1_controllers());
        assert_eq!(f.v2_controllers, cgroups::v2_root_controllers(f.layout));
    }
}
