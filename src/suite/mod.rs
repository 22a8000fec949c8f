//! The case model, requirements, tables, expectations and controls.
