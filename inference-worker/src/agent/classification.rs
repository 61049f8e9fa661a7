//! The classification policy for `tensor-f32` tasks (DESIGN.md §7.1).
//!
//! - **Belief.** Round 1: the model's class probabilities `p`. From round 2 on, the agent combines
//!   its own belief with the previous round's support: `r = α·p + (1 − α)·q`, where `q` spreads
//!   the positive net support of each proposed answer (the summed scores of the seats that
//!   proposed it) over those answers. `α` = [`REVISION_SELF_WEIGHT`].
//! - **Propose.** The class with the highest belief (ties to the lowest class).
//! - **Evaluate.** Each other seat's answer `c` gets the weight `100 · (2·r_c / r_max − 1)`,
//!   rounded and clamped to `[−100, 100]`: +100 for an answer as plausible as the agent's own
//!   favourite, 0 for half as plausible, −100 for one it rules out. Unparseable answers get −100.

use nsed_protocol::wire::RoundView;

use crate::model::{NUM_CLASSES, Prediction};

/// `α`: how much of the revised belief is the agent's own model (the rest is the previous
/// round's support). At 0.5 support concentrated on one answer wins, while a confident own belief
/// survives support split between several answers. `bench-deliberation` measures the effect.
pub const REVISION_SELF_WEIGHT: f32 = 0.5;

/// An agent's current belief over the classes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Belief {
    weights: [f32; NUM_CLASSES],
}

/// The class a proposal's content names: a canonical decimal `0..NUM_CLASSES` and nothing else.
///
/// ```
/// use nsed_inference_worker::agent::parse_answer;
/// assert_eq!(parse_answer("7"), Some(7));
/// assert_eq!(parse_answer("+7"), None);
/// assert_eq!(parse_answer("07"), None);
/// assert_eq!(parse_answer("10"), None);
/// ```
pub fn parse_answer(content: &str) -> Option<usize> {
    let class: usize = content.parse().ok()?;
    (class < NUM_CLASSES && class.to_string() == content).then_some(class)
}

impl Belief {
    /// The belief for a round: the model's probabilities, revised by `previous` when given.
    pub fn new(prediction: &Prediction, previous: Option<&RoundView>) -> Self {
        let own = prediction.probabilities;
        let Some(view) = previous else { return Self { weights: own } };
        let mut support = [0f64; NUM_CLASSES];
        for (content, score) in view.contents.iter().zip(&view.scores) {
            if let Some(class) = content.as_deref().and_then(parse_answer) {
                support[class] += *score as f64;
            }
        }
        let positive: Vec<f64> = support.iter().map(|s| s.max(0.0)).collect();
        let total: f64 = positive.iter().sum();
        if total <= 0.0 {
            return Self { weights: own };
        }
        let mut weights = [0f32; NUM_CLASSES];
        for (class, w) in weights.iter_mut().enumerate() {
            let crowd = (positive[class] / total) as f32;
            *w = REVISION_SELF_WEIGHT * own[class] + (1.0 - REVISION_SELF_WEIGHT) * crowd;
        }
        Self { weights }
    }

    /// The class to propose and the belief in it.
    pub fn proposal(&self) -> (usize, f32) {
        let mut best = 0;
        for class in 1..NUM_CLASSES {
            if self.weights[class] > self.weights[best] {
                best = class;
            }
        }
        (best, self.weights[best])
    }

    /// Raw evaluation weights in `[−100, 100]` for the seats' `contents`, 0 for the agent's own
    /// seat and for seats without a proposal.
    pub fn evaluate(&self, contents: &[Option<String>], own_seat: usize) -> Vec<i32> {
        let (_, top) = self.proposal();
        contents
            .iter()
            .enumerate()
            .map(|(seat, content)| match content {
                _ if seat == own_seat => 0,
                None => 0,
                Some(content) => match parse_answer(content) {
                    Some(class) if top > 0.0 => {
                        let w = 100.0 * (2.0 * self.weights[class] / top - 1.0);
                        w.round().clamp(-100.0, 100.0) as i32
                    }
                    Some(_) => 0,
                    None => -100,
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prediction(probabilities: [f32; NUM_CLASSES]) -> Prediction {
        let mut label = 0;
        for c in 1..NUM_CLASSES {
            if probabilities[c] > probabilities[label] {
                label = c;
            }
        }
        Prediction { label: label as u32, probabilities }
    }

    fn one_hot_ish(class: usize, p: f32) -> [f32; NUM_CLASSES] {
        let mut probs = [(1.0 - p) / 9.0; NUM_CLASSES];
        probs[class] = p;
        probs
    }

    #[test]
    fn round_one_proposes_the_models_label() {
        let belief = Belief::new(&prediction(one_hot_ish(4, 0.7)), None);
        assert_eq!(belief.proposal().0, 4);
    }

    #[test]
    fn evaluation_backs_plausible_answers_and_opposes_implausible_ones() {
        let mut probs = one_hot_ish(4, 0.6);
        probs[9] = 0.3;
        probs[0] = 0.0;
        let belief = Belief::new(&prediction(probs), None);
        let contents = vec![
            Some("4".to_string()),
            None,
            Some("4".into()),
            Some("9".into()),
            Some("0".into()),
            Some("x".into()),
        ];
        let w = belief.evaluate(&contents, 1);
        assert_eq!(w[0], 100);
        assert_eq!(w[1], 0, "own seat");
        assert_eq!(w[2], 100);
        assert_eq!(w[3], 0, "half as plausible as the favourite");
        assert_eq!(w[4], -100);
        assert_eq!(w[5], -100, "unparseable");
    }

    #[test]
    fn concentrated_support_overturns_the_own_belief() {
        let view = RoundView {
            round: 1,
            contents: vec![Some("3".into()), Some("8".into()), Some("8".into())],
            votes: vec![None, None, None],
            scores: vec![-5, 12, 12],
        };
        let weak = Belief::new(&prediction(one_hot_ish(3, 0.35)), Some(&view));
        assert_eq!(weak.proposal().0, 8);
    }

    #[test]
    fn a_confident_belief_survives_split_support() {
        let view = RoundView {
            round: 1,
            contents: vec![Some("3".into()), Some("8".into()), Some("1".into())],
            votes: vec![None, None, None],
            scores: vec![6, 8, -4],
        };
        assert_eq!(Belief::new(&prediction(one_hot_ish(3, 0.99)), Some(&view)).proposal().0, 3);
        assert_eq!(Belief::new(&prediction(one_hot_ish(5, 0.99)), Some(&view)).proposal().0, 5);
        assert_eq!(Belief::new(&prediction(one_hot_ish(5, 0.3)), Some(&view)).proposal().0, 8);
    }

    #[test]
    fn no_positive_support_leaves_the_belief_alone() {
        let view = RoundView {
            round: 1,
            contents: vec![Some("1".into()), Some("2".into())],
            votes: vec![None, None],
            scores: vec![-3, 0],
        };
        let probs = one_hot_ish(5, 0.5);
        assert_eq!(
            Belief::new(&prediction(probs), Some(&view)),
            Belief::new(&prediction(probs), None)
        );
    }
}
