//! The classification policy for `tensor-f32` tasks: the shared [`Belief`] rule
//! over the ten digit classes, with the model's class probabilities as the agent's own belief and
//! [`REVISION_SELF_WEIGHT`] as `α`.

use nsed_protocol::wire::RoundView;

use super::Belief;
use crate::model::{NUM_CLASSES, Prediction};

/// `α`: how much of the revised belief is the agent's own model (the rest is the previous
/// round's support). At 0.5 support concentrated on one answer wins, while a confident own belief
/// survives support split between several answers. `bench-deliberation` measures the effect.
pub const REVISION_SELF_WEIGHT: f32 = 0.5;

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

/// A classifier's belief for a round: its class probabilities over the classes `"0"`…`"9"`,
/// revised by `previous` when given.
pub fn class_belief(prediction: &Prediction, previous: Option<&RoundView>) -> Belief {
    let answers = (0..NUM_CLASSES).map(|c| c.to_string()).collect();
    Belief::new(answers, prediction.probabilities.to_vec()).revised(previous, REVISION_SELF_WEIGHT)
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
        let belief = class_belief(&prediction(one_hot_ish(4, 0.7)), None);
        assert_eq!(belief.proposal().0, "4");
    }

    #[test]
    fn evaluation_backs_plausible_answers_and_opposes_implausible_ones() {
        let mut probs = one_hot_ish(4, 0.6);
        probs[9] = 0.3;
        probs[0] = 0.0;
        let belief = class_belief(&prediction(probs), None);
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
            previous_digest: Default::default(),
            round: 1,
            contents: vec![Some("3".into()), Some("8".into()), Some("8".into())],
            votes: vec![None, None, None],
            scores: vec![-5, 12, 12],
            rationales: vec![],
        };
        let weak = class_belief(&prediction(one_hot_ish(3, 0.35)), Some(&view));
        assert_eq!(weak.proposal().0, "8");
    }

    #[test]
    fn a_confident_belief_survives_split_support() {
        let view = RoundView {
            previous_digest: Default::default(),
            round: 1,
            contents: vec![Some("3".into()), Some("8".into()), Some("1".into())],
            votes: vec![None, None, None],
            scores: vec![6, 8, -4],
            rationales: vec![],
        };
        assert_eq!(class_belief(&prediction(one_hot_ish(3, 0.99)), Some(&view)).proposal().0, "3");
        assert_eq!(class_belief(&prediction(one_hot_ish(5, 0.99)), Some(&view)).proposal().0, "5");
        assert_eq!(class_belief(&prediction(one_hot_ish(5, 0.3)), Some(&view)).proposal().0, "8");
    }

    #[test]
    fn no_positive_support_leaves_the_belief_alone() {
        let view = RoundView {
            previous_digest: Default::default(),
            round: 1,
            contents: vec![Some("1".into()), Some("2".into())],
            votes: vec![None, None],
            scores: vec![-3, 0],
            rationales: vec![],
        };
        let probs = one_hot_ish(5, 0.5);
        assert_eq!(
            class_belief(&prediction(probs), Some(&view)),
            class_belief(&prediction(probs), None)
        );
    }
}
