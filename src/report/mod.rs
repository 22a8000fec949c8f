//! One result model; reporters that consume one event stream.

pub mod model;

pub use model::*;
