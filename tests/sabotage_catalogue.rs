//! The sabotage catalogue (`src/runtime/sabotage.rs`) against the built-in
//! tables: every case it names exists, and every property is broken by a
//! sabotage or excused. The catalogue is runtime data and the tables are
//! the suite's, so the check lives above both.

use std::collections::BTreeSet;

use isocheck::runtime::sabotage::{CATALOGUE, EXCUSED};
use isocheck::suite::table::builtin;

#[test]
fn every_named_case_exists_in_the_suites() {
    let props = builtin().unwrap();
    for e in CATALOGUE {
        for (case, _) in e.breaks {
            let (prop, mode) = case.split_once('/').unwrap();
            let Some(p) = props.iter().find(|p| p.id == prop) else {
                panic!("{}: property {prop} is in no suite", e.name);
            };
            assert!(
                p.modes().any(|m| m.to_string() == mode),
                "{}: {prop} has no {mode} mode",
                e.name
            );
        }
    }
}

#[test]
fn every_property_is_broken_by_a_sabotage_or_excused() {
    let props = builtin().unwrap();
    let broken: BTreeSet<&str> = CATALOGUE.iter().flat_map(|e| e.properties()).collect();
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
