//! Capabilities as text: masks of `/proc/<pid>/status` to names, and the
//! `security.capability` attribute of a file (file capabilities). The
//! codecs live in [`crate::sys::vfscap`] and [`crate::sys::status`]; this
//! module re-exports them for the host facts.

pub use crate::sys::vfscap::{cap_names, parse_vfs_caps, FileCaps};

/// Parses a hex capability mask as the status file prints it.
pub use crate::sys::status::parse_mask;
