//! The skeleton root a sandbox gets without a rootfs of its own: what is
//! bound from the host, which directories are made, which devices appear.

/// Host directories bound read-only into the skeleton root, or recreated
/// as symlinks where the host has symlinks (merged /usr).
pub const SKELETON_BINDS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];
/// Empty directories of the skeleton root.
pub const SKELETON_DIRS: &[&str] = &["proc", "sys", "dev", "tmp", "etc", "root", "run"];
/// Device nodes bound from the host's /dev: the minimal set a container gets.
pub const SKELETON_DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];
