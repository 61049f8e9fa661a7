//! Building the `settleJob` transcript from the protocol crate's round records.

use alloy::primitives::{Address, Bytes, I256};
use nsed_protocol::deliberation::RoundRecord;

use crate::i_deliberation_market::IDeliberationMarket::{Round, Transcript};

/// The transcript the market verifies for a deliberation over `agents` (seat order) with
/// `rounds`: per round and seat the proposal content and 65-byte signature (r ‖ s ‖ v, v = 27/28),
/// and the ballot's votes and signature; a missing seat has an empty content, signature and votes.
///
/// ```
/// use nsed_contracts::transcript::transcript_from_rounds;
/// let t = transcript_from_rounds(&[alloy::primitives::Address::ZERO; 2], &[]);
/// assert!(t.rounds.is_empty() && t.agents.len() == 2);
/// ```
pub fn transcript_from_rounds(agents: &[Address], rounds: &[RoundRecord]) -> Transcript {
    let rounds = rounds
        .iter()
        .map(|record| Round {
            contents: record
                .proposals
                .iter()
                .map(|p| p.as_ref().map(|p| p.content.clone()).unwrap_or_default())
                .collect(),
            proposalSignatures: record
                .proposals
                .iter()
                .map(|p| p.as_ref().map(|p| Bytes::from(p.signature.as_bytes())).unwrap_or_default())
                .collect(),
            votes: record
                .ballots
                .iter()
                .map(|b| {
                    b.as_ref()
                        .map(|b| b.votes.iter().map(|&v| I256::try_from(v).expect("i64 fits int256")).collect())
                        .unwrap_or_default()
                })
                .collect(),
            ballotSignatures: record
                .ballots
                .iter()
                .map(|b| b.as_ref().map(|b| Bytes::from(b.signature.as_bytes())).unwrap_or_default())
                .collect(),
        })
        .collect();
    Transcript { agents: agents.to_vec(), rounds }
}
