//! The hostname the UTS namespace shows.

use serde::Serialize;

#[derive(Serialize, Debug)]
pub struct UtsView {
    pub hostname: String,
}

pub fn view() -> UtsView {
    UtsView {
        hostname: hostname(),
    }
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}
