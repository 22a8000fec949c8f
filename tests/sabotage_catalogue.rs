//! The sabotage catalogue (`src/runtime/sabotage.rs`) against the built-in
//! tables, whose rows say which sabotages break them (`broken_by`): every
//! sabotage breaks some case, and every property is broken by a sabotage
//! or excused. The catalogue is runtime data and the tables are the
//! suite's, so the check lives above both.

use std::collections::BTreeSet;

use isocheck::runtime::sabotage::EXCUSED;
use isocheck::suite::catalog::breaks;
use isocheck::suite::table::builtin;

#[test]
fn every_sabotage_breaks_a_case() {
    let props = builtin().unwrap();
    for b in breaks(&props) {
        assert!(!b.breaks.is_empty(), "{} breaks nothing", b.entry.name);
        let cases: BTreeSet<&str> = b.breaks.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            cases.len(),
            b.breaks.len(),
            "{}: a case twice",
            b.entry.name
        );
    }
}

#[test]
fn every_property_is_broken_by_a_sabotage_or_excused() {
    let props = builtin().unwrap();
    let all = breaks(&props);
    let broken: BTreeSet<&str> = all.iter().flat_map(|b| b.properties()).collect();
    for p in &props {
        let excused = EXCUSED.iter().any(|(id, _)| *id == p.id);
        assert!(
            broken.contains(p.id.as_str()) || excused,
            "no sabotage breaks {} and it is not excused",
            p.id
        );
        assert!(
            !(broken.contains(p.id.as_str()) && excused),
            "{} is both",
            p.id
        );
    }
    for (id, why) in EXCUSED {
        assert!(
            props.iter().any(|p| p.id == *id),
            "excused {id} is no property"
        );
        assert!(!why.is_empty());
    }
}

/// README.md's count of the catalogue is the catalogue's.
#[test]
fn the_readme_counts_the_catalogue() {
    let readme = include_str!("../README.md");
    let n = isocheck::runtime::sabotage::CATALOGUE.len();
    let said = format!("{n} realistic one-line bugs");
    assert!(readme.contains(&said), "README.md does not say `{said}`");
}
