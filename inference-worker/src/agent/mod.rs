//! How an agent deliberates: turning its model's beliefs into proposals and evaluation weights.
//!
//! The policy is pure (no I/O): the service calls it with a model's output and the task.
//! [`Belief`] is the one rule every task kind shares; [`class_belief`] feeds it a classifier's
//! probabilities, [`language`] a language model's answer likelihoods.

mod belief;
mod classification;
mod key;
pub mod language;
pub mod offline;

pub use belief::Belief;
pub use classification::{REVISION_SELF_WEIGHT, class_belief, parse_answer};
pub use key::{AGENT_KEY_ENV, KeyError, KeyOrigin, load_or_create_key};
