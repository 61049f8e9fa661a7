//! tmp
include!(concat!(env!("OUT_DIR"), "/contracts.rs"));
/// tmp
#[derive(Debug)]
pub struct Artifact { /// n
pub name: &'static str, /// s
pub source: &'static str, /// j
pub json: &'static str }
