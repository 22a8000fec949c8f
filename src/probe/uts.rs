//! The hostname the UTS namespace shows.

use super::schema::{f, Field, Ty};
use super::Def;
use serde::{Deserialize, Serialize};

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

// The probe's definition: its arguments, what it reports and the paths
// of its report.

/// `hostname`: the hostname seen inside.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HostnameArgs {}

impl Def for HostnameArgs {
    type Output = UtsView;
    fn run(&self) -> UtsView {
        view()
    }
    fn fields(&self, v: &mut Vec<Field>) {
        v.push(f("probe.hostname", Ty::Str));
    }
}
