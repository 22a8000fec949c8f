//! What the tables say about properties as a whole: the areas reports
//! group them by, the area a row falls in when it names none, and which
//! sabotages of the runtime's catalogue break which cases.
//!
//! A property is defined by its row alone: the promise (`description`),
//! the area (`area`, by default the id's first word) and the sabotages
//! that must break it (`broken_by`) are written there, next to its probe
//! and expectations. The runtime's sabotage catalogue names steps and bugs
//! only; what each breaks is gathered here from the rows.

use super::case::{BrokenBy, Property};
use crate::model::result::Mode;
use crate::runtime::sabotage::{self, Entry, Expected};

/// Areas in the order reports show them.
pub const AREAS: &[&str] = &[
    "pid", "uts", "net", "mount", "ipc", "cgroup", "userns", "caps", "time", "security", "cve",
    "custom",
];

/// The area of a property whose row names none: the first word of its id
/// (`pid.join` -> `pid`), `custom` for the table's own properties.
pub fn default_area(id: &str) -> &str {
    id.split('.').next().unwrap_or(id)
}

/// Reads one `broken_by` item of a row that runs in `modes`:
/// `NAME [MODE] [fail|error]` (every mode of the row and `fail` unless
/// named). Returns one entry per mode it covers.
pub fn parse_broken_by(item: &str, modes: &[Mode]) -> Result<Vec<BrokenBy>, String> {
    let mut words = item.split_whitespace();
    let name = words
        .next()
        .ok_or_else(|| "an empty item; write `NAME [MODE] [fail|error]`".to_string())?;
    let entry = sabotage::find(name).ok_or_else(|| {
        format!("no sabotage named `{name}` (`isocheck sabotage --list` lists them)")
    })?;
    let (mut mode, mut expected) = (None, None);
    for w in words {
        match w {
            "rootful" if mode.is_none() && expected.is_none() => mode = Some(Mode::Rootful),
            "rootless" if mode.is_none() && expected.is_none() => mode = Some(Mode::Rootless),
            "fail" if expected.is_none() => expected = Some(Expected::Fail),
            "error" if expected.is_none() => expected = Some(Expected::Error),
            _ => {
                return Err(format!(
                    "`{item}`: unexpected `{w}`; write `NAME [rootful|rootless] [fail|error]`"
                ))
            }
        }
    }
    if let Some(m) = mode {
        if !modes.contains(&m) {
            return Err(format!("`{item}`: the property does not run {m}"));
        }
    }
    let modes: Vec<Mode> = mode.map_or_else(|| modes.to_vec(), |m| vec![m]);
    Ok(modes
        .into_iter()
        .map(|mode| BrokenBy {
            sabotage: entry,
            mode,
            expected: expected.unwrap_or(Expected::Fail),
        })
        .collect())
}

/// A sabotage with the test cases (`property/mode`) the rows say it
/// breaks, in the order of `props` and their modes.
#[derive(serde::Serialize, Clone, Debug)]
pub struct Breaks {
    #[serde(flatten)]
    pub entry: &'static Entry,
    pub breaks: Vec<(String, Expected)>,
}

impl Breaks {
    /// The properties this sabotage breaks, each once, in order.
    pub fn properties(&self) -> Vec<&str> {
        let mut v: Vec<&str> = Vec::new();
        for (case, _) in &self.breaks {
            let p = case.split('/').next().unwrap_or(case);
            if !v.contains(&p) {
                v.push(p);
            }
        }
        v
    }
}

/// Every sabotage of the runtime's catalogue, in its order, with the cases
/// of `props` that name it in `broken_by`.
pub fn breaks(props: &[Property]) -> Vec<Breaks> {
    sabotage::CATALOGUE
        .iter()
        .map(|entry| Breaks {
            entry,
            breaks: props
                .iter()
                .flat_map(|p| {
                    p.broken_by
                        .iter()
                        .filter(|b| b.sabotage.id == entry.id)
                        .map(|b| (format!("{}/{}", p.id, b.mode), b.expected))
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH: &[Mode] = &[Mode::Rootful, Mode::Rootless];

    #[test]
    fn an_item_covers_every_mode_unless_it_names_one() {
        let all = parse_broken_by("ns-pid-dropped", BOTH).unwrap();
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|b| b.expected == Expected::Fail));
        let one = parse_broken_by("ns-pid-dropped rootless error", BOTH).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(
            (one[0].mode, one[0].expected, one[0].sabotage.name),
            (Mode::Rootless, Expected::Error, "ns-pid-dropped")
        );
    }

    #[test]
    fn a_wrong_item_is_refused_with_why() {
        let e = parse_broken_by("ns-pid-droped", BOTH).unwrap_err();
        assert!(e.contains("no sabotage named `ns-pid-droped`"), "{e}");
        let e = parse_broken_by("ns-pid-dropped rootless", &[Mode::Rootful]).unwrap_err();
        assert!(e.contains("does not run rootless"), "{e}");
        let e = parse_broken_by("ns-pid-dropped error rootful", BOTH).unwrap_err();
        assert!(e.contains("unexpected `rootful`"), "{e}");
        assert!(parse_broken_by("  ", BOTH).is_err());
    }
}
