//! Deliberation without the transport, for benchmarks: agents answer in-process through the very
//! state machine the keeper drives ([`Deliberation`]): EIP-712 signatures, ballot checks, the
//! quadratic-vote tally and the halting rule are the real ones; only NATS is skipped.

use alloy_primitives::{Address, B256, U256};
use alloy_signer_local::PrivateKeySigner;
use nsed_protocol::{
    deliberation::{Deliberation, Stage},
    eip712,
    halting::HaltingConfig,
    quadratic_votes,
    wire::{RoundView, SignedBallot, SignedProposal},
};

use super::Belief;

/// How one offline deliberation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineRun {
    /// Round 1's supported winner: what a one-round job settles.
    pub first_round: Option<String>,
    /// The final answer.
    pub answer: Option<String>,
    /// Rounds that ran.
    pub rounds: u32,
}

/// `n` agent keys derived from `seed`, sorted by address (seat order is address order).
pub fn seeded_keys(seed: u64, n: usize) -> Vec<PrivateKeySigner> {
    let mut state = seed;
    let mut keys: Vec<PrivateKeySigner> = (0..n)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&state.to_be_bytes());
            bytes[31] = 1;
            PrivateKeySigner::from_bytes(&B256::from(bytes))
                .expect("a scalar with a 1 in its last byte and 8 leading bytes is valid")
        })
        .collect();
    keys.sort_by_key(PrivateKeySigner::address);
    keys
}

/// Runs one job's deliberation: in each round the agent in seat `s` (key `keys[s]`) holds the
/// belief `belief(s, previous_round)`, proposes its favourite and evaluates the others with it.
///
/// # Errors
///
/// When the state machine rejects a message, which the real agents' rules never cause.
pub fn deliberate(
    keys: &[PrivateKeySigner],
    job: U256,
    credits: u64,
    halting: HaltingConfig,
    mut belief: impl FnMut(usize, Option<&RoundView>) -> Belief,
) -> Result<OfflineRun, Box<dyn std::error::Error + Send + Sync>> {
    let domain = eip712::domain(31337, Address::repeat_byte(0x4d));
    let seats: Vec<Address> = keys.iter().map(PrivateKeySigner::address).collect();
    // No real input: the offline run signs a zero input hash.
    let mut d =
        Deliberation::new(job, Default::default(), seats, domain.clone(), credits, halting)?;
    let mut first_round = None;
    while !matches!(d.stage(), Stage::Finished(_)) {
        let round = d.round();
        let ctx = d.context();
        let previous = d.previous_view();
        let beliefs: Vec<Belief> = (0..keys.len()).map(|s| belief(s, previous.as_ref())).collect();
        for (key, b) in keys.iter().zip(&beliefs) {
            let content = b.proposal().0.to_owned();
            d.accept_proposal(SignedProposal::sign(key, &domain, &ctx, content)?)?;
        }
        let set = d.close_proposals()?;
        for (seat, (key, b)) in keys.iter().zip(&beliefs).enumerate() {
            let weights = b.evaluate(&set.contents, seat);
            let votes = quadratic_votes(&weights, seat, &set.proposed(), credits)?;
            d.accept_ballot(SignedBallot::sign(key, &domain, &ctx, set.digest, votes)?)?;
        }
        let record = d.close_round()?;
        if round == 1 {
            first_round = record.winning_content().map(str::to_owned);
        }
    }
    let outcome = d.outcome().ok_or("a finished deliberation has an outcome")?;
    Ok(OfflineRun {
        first_round,
        answer: outcome.answer.map(|a| a.content),
        rounds: outcome.rounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_agents_backing_one_answer_carry_it() {
        let keys = seeded_keys(7, 3);
        let run = deliberate(&keys, U256::from(1), 100, HaltingConfig::default(), |seat, _| {
            let p = if seat == 0 { vec![0.9, 0.1] } else { vec![0.2, 0.8] };
            Belief::new(vec!["A".into(), "B".into()], p)
        })
        .unwrap();
        assert_eq!(run.first_round.as_deref(), Some("B"));
        assert_eq!(run.answer.as_deref(), Some("B"));
    }
}
