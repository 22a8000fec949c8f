//! The case model: a property, run in a mode, as a test and a control.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

use super::expect::Expect;
use super::knob::ControlKnob;
use super::requirements::Requirement;
use crate::model::result::{Mode, Variant};
use crate::model::spec::SandboxSpec;
use crate::probe::Probe;

/// A validated table row.
#[derive(Clone, Debug)]
pub struct Property {
    pub id: String,
    pub area: String,
    pub description: String,
    /// How the property runs in each of its modes. Boxed: a map's node
    /// holds room for eleven values, and a definition is large, so an
    /// unboxed map cost about 9 KB per property (a 100,000-row table
    /// needed a gigabyte).
    pub defs: BTreeMap<Mode, Box<ModeDef>>,
    pub tags: Vec<String>,
    /// The table it came from.
    pub source: PathBuf,
    /// Its cases run with no other case at once (they measure time).
    pub exclusive: bool,
    /// The sabotages that must break it, mode by mode.
    pub broken_by: Vec<BrokenBy>,
}

/// One sabotage a row says breaks it: the sabotage, the mode and the
/// outcome the broken case must have.
#[derive(Clone, Copy, Debug)]
pub struct BrokenBy {
    pub sabotage: &'static crate::runtime::sabotage::Entry,
    pub mode: Mode,
    pub expected: crate::runtime::sabotage::Expected,
}

/// A property in one mode: its requirements, probe, test sandbox,
/// expectations and control.
#[derive(Clone, Debug)]
pub struct ModeDef {
    pub requires: Vec<Requirement>,
    pub probe: Probe,
    pub sandbox: SandboxSpec,
    pub expect: Vec<Expect>,
    pub control: Control,
}

#[derive(Clone, Debug)]
pub struct Control {
    pub knob: ControlKnob,
    pub expect: Vec<Expect>,
}

/// One runnable case.
#[derive(Clone, Debug, Serialize)]
pub struct CaseId {
    pub property: String,
    pub mode: Mode,
    pub variant: Variant,
}

impl CaseId {
    pub fn new(property: &str, mode: Mode, variant: Variant) -> Self {
        CaseId {
            property: property.into(),
            mode,
            variant,
        }
    }
}

impl std::fmt::Display for CaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.property, self.mode, self.variant)
    }
}

impl ModeDef {
    /// The sandbox of a variant: the control turns the knob off.
    pub fn spec_for(&self, variant: Variant) -> SandboxSpec {
        match variant {
            Variant::Test => self.sandbox.clone(),
            Variant::Control => self.control.knob.turn_off(&self.sandbox),
        }
    }

    pub fn expect_for(&self, variant: Variant) -> &[Expect] {
        match variant {
            Variant::Test => &self.expect,
            Variant::Control => &self.control.expect,
        }
    }
}

impl Property {
    pub fn modes(&self) -> impl Iterator<Item = Mode> + '_ {
        self.defs.keys().copied()
    }

    /// The definition of a mode the property runs in.
    pub fn def(&self, mode: Mode) -> &ModeDef {
        &self.defs[&mode]
    }

    /// Every case of this property, test before control, mode by mode.
    pub fn cases(&self) -> Vec<CaseId> {
        self.modes()
            .flat_map(|m| [Variant::Test, Variant::Control].map(|v| CaseId::new(&self.id, m, v)))
            .collect()
    }
}
