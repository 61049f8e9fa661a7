//! When a deliberation stops (docs/protocol.md).
//!
//! After round `r` closes, stop when `r ≥ min_rounds` and the round has a supported winner and
//! either every proposal in the round is the same answer or the winner's conviction reaches the
//! effort threshold; stop anyway at `max_rounds`. The keeper also stops when the job's deadline
//! nears ([`HaltReason::Deadline`]).
//!
//! Conviction is `support(answer) / Σ_q |score(q)|`, a number in `[−1, 1]`, where the winning
//! answer's support is the summed score of every seat that proposed the winner's content (two
//! agents giving the same answer back the same answer; counting only the winning seat would
//! split that support between them). It is compared in integers as
//! `1000 · support ≥ effort_permille · Σ|score|`, so every participant decides bit for bit alike.

use serde::{Deserialize, Serialize};

/// Halting parameters of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaltingConfig {
    /// Rounds that always run (at least 1).
    pub min_rounds: u32,
    /// Rounds after which the deliberation stops regardless (default 3).
    pub max_rounds: u32,
    /// Conviction threshold in thousandths: 600 means the winner holds at least 60% of all
    /// absolute net support.
    pub effort_permille: u16,
}

impl Default for HaltingConfig {
    /// One to three rounds, stopping early at 60% conviction: NSED's default of up to three rounds,
    /// with a threshold a clear two-of-three majority reaches.
    fn default() -> Self {
        Self { min_rounds: 1, max_rounds: 3, effort_permille: 600 }
    }
}

/// Why a deliberation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HaltReason {
    /// Every proposal of the last round was the same answer.
    Unanimous,
    /// The winner's conviction reached the effort threshold.
    Conviction,
    /// `max_rounds` rounds ran.
    MaxRounds,
    /// The job's deadline was too close for another round.
    Deadline,
}

/// The facts about a closed round that halting looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundFacts {
    /// The round number, from 1.
    pub round: u32,
    /// Whether every proposal of the round had the same content.
    pub unanimous: bool,
    /// Summed score of the seats proposing the supported winner's content, if the round has a
    /// supported winner.
    pub winner_score: Option<i128>,
    /// `Σ |score|` over all seats.
    pub total_abs_score: u128,
}

impl HaltingConfig {
    /// Whether to stop after a round with these facts, and why.
    ///
    /// ```
    /// use nsed_protocol::halting::{HaltReason, HaltingConfig, RoundFacts};
    /// let config = HaltingConfig::default();
    /// let facts = RoundFacts { round: 1, unanimous: false, winner_score: Some(7), total_abs_score: 10 };
    /// assert_eq!(config.decide(&facts), Some(HaltReason::Conviction));
    /// let facts = RoundFacts { winner_score: Some(5), ..facts };
    /// assert_eq!(config.decide(&facts), None);
    /// ```
    pub fn decide(&self, facts: &RoundFacts) -> Option<HaltReason> {
        if facts.round >= self.min_rounds
            && let Some(score) = facts.winner_score
        {
            if facts.unanimous {
                return Some(HaltReason::Unanimous);
            }
            if self.convinced(score, facts.total_abs_score) {
                return Some(HaltReason::Conviction);
            }
        }
        (facts.round >= self.max_rounds).then_some(HaltReason::MaxRounds)
    }

    /// `1000 · winner_score ≥ effort_permille · total_abs_score`, with no support at all never
    /// convincing.
    fn convinced(&self, winner_score: i128, total_abs_score: u128) -> bool {
        if total_abs_score == 0 || winner_score <= 0 {
            return false;
        }
        // Scores are sums of i64 votes over at most a few thousand ballots, far below 2^100, so
        // both products fit in u128.
        winner_score.unsigned_abs() * 1000 >= u128::from(self.effort_permille) * total_abs_score
    }

    /// Checks the parameters: `1 ≤ min_rounds ≤ max_rounds` and `effort_permille ≤ 1000`.
    ///
    /// # Errors
    ///
    /// A message naming the offending value.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_rounds == 0 {
            return Err("min_rounds must be at least 1".into());
        }
        if self.min_rounds > self.max_rounds {
            return Err(format!(
                "min_rounds {} exceeds max_rounds {}",
                self.min_rounds, self.max_rounds
            ));
        }
        if self.effort_permille > 1000 {
            return Err(format!("effort_permille {} exceeds 1000", self.effort_permille));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(round: u32, unanimous: bool, winner: Option<i128>, total: u128) -> RoundFacts {
        RoundFacts { round, unanimous, winner_score: winner, total_abs_score: total }
    }

    #[test]
    fn min_rounds_always_run() {
        let config = HaltingConfig { min_rounds: 2, max_rounds: 3, effort_permille: 0 };
        assert_eq!(config.decide(&facts(1, true, Some(9), 9)), None);
        assert_eq!(config.decide(&facts(2, true, Some(9), 9)), Some(HaltReason::Unanimous));
    }

    #[test]
    fn conviction_exactly_at_the_threshold_halts() {
        let config = HaltingConfig { min_rounds: 1, max_rounds: 3, effort_permille: 600 };
        assert_eq!(config.decide(&facts(1, false, Some(6), 10)), Some(HaltReason::Conviction));
        assert_eq!(config.decide(&facts(1, false, Some(5), 10)), None);
    }

    #[test]
    fn no_supported_winner_never_halts_early() {
        let config = HaltingConfig::default();
        assert_eq!(config.decide(&facts(1, true, None, 0)), None);
        assert_eq!(config.decide(&facts(3, true, None, 0)), Some(HaltReason::MaxRounds));
    }

    #[test]
    fn a_negative_winner_is_not_convincing() {
        let config = HaltingConfig { min_rounds: 1, max_rounds: 3, effort_permille: 0 };
        assert_eq!(config.decide(&facts(1, false, Some(-1), 3)), None);
    }

    #[test]
    fn max_rounds_stops_everything() {
        let config = HaltingConfig::default();
        assert_eq!(config.decide(&facts(3, false, Some(1), 100)), Some(HaltReason::MaxRounds));
    }

    #[test]
    fn invalid_configs_are_named() {
        assert!(HaltingConfig { min_rounds: 0, ..Default::default() }.validate().is_err());
        assert!(
            HaltingConfig { min_rounds: 4, max_rounds: 3, effort_permille: 0 }.validate().is_err()
        );
        assert!(HaltingConfig { effort_permille: 1001, ..Default::default() }.validate().is_err());
        assert!(HaltingConfig::default().validate().is_ok());
    }
}
