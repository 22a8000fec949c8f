//! The mountinfo parser (`sys::mountinfo`) and what reads through it:
//! mount points (the probes' view of the mount table) and the v1 cgroup
//! hierarchies (where a controller lives).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines() {
            if let Ok(m) = isocheck::sys::mountinfo::parse_line(line) {
                let _ = m.readonly();
            }
        }
        let _ = isocheck::probe::mount::mount_points(text);
        let _ = isocheck::runtime::cgroups::v1::controllers_from_mountinfo(text);
        let _ = isocheck::runtime::cgroups::v1::mount_of(text, "memory");
    }
});
