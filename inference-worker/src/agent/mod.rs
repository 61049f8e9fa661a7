//! How an agent deliberates: turning its model's beliefs into proposals and evaluation weights.
//!
//! The policy is pure (no I/O): the service calls it with a model's [`Prediction`] and the task.

mod classification;
mod key;

pub use classification::{Belief, REVISION_SELF_WEIGHT, parse_answer};
pub use key::{AGENT_KEY_ENV, KeyError, KeyOrigin, load_or_create_key};
