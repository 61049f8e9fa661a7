//! An agent's belief over candidate answers: the one deliberation rule every task kind shares.
//!
//! - **Belief.** Round 1: the agent's own probabilities `p` over its candidate answers (class
//!   labels, option labels, or free-form answers). From round 2 on, it is revised with the previous
//!   round's support: `r = α·p + (1 − α)·q`, where `q` spreads the positive net support of each
//!   proposed answer (the summed scores of the seats that proposed it) over those answers. `α` is
//!   the policy's self weight: 1 never moves, 0.5 lets support concentrated on one answer win while
//!   a confident own belief survives support split between several.
//! - **Propose.** The answer with the highest belief (ties to the earliest candidate).
//! - **Evaluate.** Each other seat's answer `c` gets the weight `100 · (2·r_c / r_max − 1)`,
//!   rounded and clamped to `[−100, 100]`: +100 for an answer as plausible as the agent's own
//!   favourite, 0 for half as plausible, −100 for one it rules out. Answers outside the candidates
//!   (unparseable, or not an option) get −100.

use nsed_protocol::wire::RoundView;

/// An agent's current belief over its candidate answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Belief {
    answers: Vec<String>,
    weights: Vec<f32>,
}

impl Belief {
    /// The belief `probabilities` (one per answer, in the same order) put on `answers`.
    ///
    /// # Panics
    ///
    /// If the two lists differ in length.
    ///
    /// ```
    /// use nsed_inference_worker::agent::Belief;
    /// let b = Belief::new(vec!["A".into(), "B".into()], vec![0.3, 0.7]);
    /// assert_eq!(b.proposal(), ("B", 0.7));
    /// ```
    #[track_caller]
    pub fn new(answers: Vec<String>, probabilities: Vec<f32>) -> Self {
        assert_eq!(answers.len(), probabilities.len(), "one probability per answer");
        Self { answers, weights: probabilities }
    }

    /// This belief revised by the support of `previous` with self weight `alpha` (`α` above);
    /// unchanged without a previous round or without positive support.
    ///
    /// ```
    /// use nsed_inference_worker::agent::Belief;
    /// use nsed_protocol::wire::RoundView;
    /// let view = RoundView {
    ///     round: 1,
    ///     previous_digest: Default::default(),
    ///     contents: vec![Some("A".into()), Some("B".into()), Some("B".into())],
    ///     votes: vec![None, None, None],
    ///     scores: vec![-4, 6, 6],
    ///     rationales: vec![],
    /// };
    /// let weak = Belief::new(vec!["A".into(), "B".into()], vec![0.6, 0.4]);
    /// assert_eq!(weak.clone().revised(Some(&view), 0.5).proposal().0, "B");
    /// assert_eq!(weak.revised(Some(&view), 1.0).proposal().0, "A");
    /// ```
    pub fn revised(self, previous: Option<&RoundView>, alpha: f32) -> Self {
        let Some(view) = previous else { return self };
        let mut support = vec![0f64; self.answers.len()];
        for (content, score) in view.contents.iter().zip(&view.scores) {
            if let Some(i) = content.as_deref().and_then(|c| self.index_of(c)) {
                support[i] += *score as f64;
            }
        }
        let total: f64 = support.iter().map(|s| s.max(0.0)).sum();
        if total <= 0.0 {
            return self;
        }
        let weights = self
            .weights
            .iter()
            .zip(&support)
            .map(|(own, s)| alpha * own + (1.0 - alpha) * (s.max(0.0) / total) as f32)
            .collect();
        Self { answers: self.answers, weights }
    }

    /// The candidate answers, in order.
    pub fn answers(&self) -> &[String] {
        &self.answers
    }

    /// The belief in each candidate, in order.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    fn index_of(&self, answer: &str) -> Option<usize> {
        self.answers.iter().position(|a| a == answer)
    }

    /// The answer to propose and the belief in it (the earliest of equal favourites).
    ///
    /// # Panics
    ///
    /// If the belief has no candidates.
    #[track_caller]
    pub fn proposal(&self) -> (&str, f32) {
        let mut best = 0;
        for i in 1..self.weights.len() {
            if self.weights[i] > self.weights[best] {
                best = i;
            }
        }
        (self.answers[best].as_str(), self.weights[best])
    }

    /// Raw evaluation weights in `[−100, 100]` for the seats' `contents`, 0 for the agent's own
    /// seat and for seats without a proposal.
    pub fn evaluate(&self, contents: &[Option<String>], own_seat: usize) -> Vec<i32> {
        let top = self.weights.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        contents
            .iter()
            .enumerate()
            .map(|(seat, content)| match content {
                _ if seat == own_seat => 0,
                None => 0,
                Some(content) => match self.index_of(content) {
                    Some(i) if top > 0.0 => {
                        let w = 100.0 * (2.0 * self.weights[i] / top - 1.0);
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

    fn belief(weights: &[f32]) -> Belief {
        Belief::new((0..weights.len()).map(|i| i.to_string()).collect(), weights.to_vec())
    }

    #[test]
    fn ties_go_to_the_earliest_candidate() {
        assert_eq!(belief(&[0.2, 0.4, 0.4]).proposal(), ("1", 0.4));
    }

    #[test]
    fn a_belief_with_no_positive_weight_gives_neutral_weights() {
        let w = belief(&[0.0, 0.0]).evaluate(&[Some("0".into()), Some("1".into()), None], 2);
        assert_eq!(w, vec![0, 0, 0]);
    }

    #[test]
    fn support_for_answers_outside_the_candidates_is_ignored() {
        let view = RoundView {
            previous_digest: Default::default(),
            round: 1,
            contents: vec![Some("zzz".into()), Some("1".into())],
            votes: vec![None, None],
            scores: vec![50, 1],
            rationales: vec![],
        };
        let revised = belief(&[0.9, 0.1]).revised(Some(&view), 0.5);
        assert_eq!(revised.weights(), &[0.45, 0.55]);
    }
}
