use alloy_primitives::{Address, Signature, U256};
use alloy_signer_local::PrivateKeySigner;
use proptest::prelude::*;

use super::*;
use crate::{BallotError, eip712::SignatureError, quadratic_votes};

const CREDITS: u64 = 100;
const INPUT_HASH: B256 = B256::repeat_byte(0x11);

struct Fixture {
    keys: Vec<PrivateKeySigner>,
    domain: Eip712Domain,
    job: U256,
    d: Deliberation,
}

fn keys(n: usize) -> Vec<PrivateKeySigner> {
    // Deterministic keys 1..=n, sorted by address like the keeper sorts agents.
    let mut keys: Vec<PrivateKeySigner> = (1..=n as u8)
        .map(|i| PrivateKeySigner::from_bytes(&alloy_primitives::B256::repeat_byte(i)).unwrap())
        .collect();
    keys.sort_by_key(|k| k.address());
    keys
}

impl Fixture {
    fn new(n: usize, halting: HaltingConfig) -> Self {
        let keys = keys(n);
        let domain = eip712::domain(31337, Address::repeat_byte(0xaa));
        let job = U256::from(42);
        let seats = keys.iter().map(|k| k.address()).collect();
        let d =
            Deliberation::new(job, INPUT_HASH, seats, domain.clone(), CREDITS, halting).unwrap();
        Self { keys, domain, job, d }
    }

    fn proposal(&self, seat: usize, content: &str) -> SignedProposal {
        SignedProposal::sign(&self.keys[seat], &self.domain, &self.d.context(), content.into())
            .unwrap()
    }

    fn ballot(&self, seat: usize, set: &ProposalSet, votes: Vec<i64>) -> SignedBallot {
        SignedBallot::sign(&self.keys[seat], &self.domain, &self.d.context(), set.digest, votes)
            .unwrap()
    }

    /// Every seat proposes `answers[seat]` (None = silent).
    fn propose_all(&mut self, answers: &[Option<&str>]) -> ProposalSet {
        for (seat, answer) in answers.iter().enumerate() {
            if let Some(answer) = answer {
                let p = self.proposal(seat, answer);
                self.d.accept_proposal(p).unwrap();
            }
        }
        self.d.close_proposals().unwrap()
    }

    /// Every seat backs proposals equal to `favourite` and opposes the rest.
    fn vote_for(&mut self, set: &ProposalSet, favourite: &str) {
        for seat in 0..self.keys.len() {
            let weights: Vec<i32> = set
                .contents
                .iter()
                .enumerate()
                .map(|(q, c)| match c {
                    _ if q == seat => 0,
                    None => 0,
                    Some(c) if c == favourite => 60,
                    Some(_) => -40,
                })
                .collect();
            let votes = quadratic_votes(&weights, seat, &set.proposed(), CREDITS).unwrap();
            let b = self.ballot(seat, set, votes);
            self.d.accept_ballot(b).unwrap();
        }
    }
}

#[test]
fn setup_rejects_too_few_unsorted_or_duplicate_seats() {
    let domain = eip712::domain(1, Address::ZERO);
    let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
    let new = |seats: Vec<Address>| {
        Deliberation::new(
            U256::ZERO,
            B256::ZERO,
            seats,
            domain.clone(),
            1,
            HaltingConfig::default(),
        )
        .unwrap_err()
    };
    assert_eq!(new(vec![a]), SetupError::TooFewSeats(1));
    assert_eq!(new(vec![b, a]), SetupError::SeatsNotSorted(a));
    assert_eq!(new(vec![a, a]), SetupError::SeatsNotSorted(a));
    let bad = HaltingConfig { min_rounds: 0, ..Default::default() };
    assert!(matches!(
        Deliberation::new(U256::ZERO, B256::ZERO, vec![a, b], domain.clone(), 1, bad),
        Err(SetupError::Halting(_))
    ));
}

#[test]
fn a_clear_majority_wins_in_one_round() {
    let mut f = Fixture::new(3, HaltingConfig::default());
    let set = f.propose_all(&[Some("7"), Some("7"), Some("1")]);
    f.vote_for(&set, "7");
    let record = f.d.close_round().unwrap().clone();
    assert_eq!(record.winning_content(), Some("7"));
    assert!(!record.unanimous);
    let outcome = f.d.outcome().unwrap();
    assert_eq!(outcome.rounds, 1);
    assert_eq!(outcome.halt, HaltReason::Conviction);
    assert_eq!(outcome.answer.unwrap().content, "7");
}

#[test]
fn unanimity_halts_and_the_lowest_seat_wins_the_tie() {
    let mut f = Fixture::new(3, HaltingConfig { effort_permille: 1000, ..Default::default() });
    let set = f.propose_all(&[Some("4"), Some("4"), Some("4")]);
    f.vote_for(&set, "4");
    let record = f.d.close_round().unwrap().clone();
    assert!(record.unanimous);
    let winner = record.winner.unwrap();
    assert_eq!((winner.seat, winner.tied), (0, true));
    assert_eq!(f.d.outcome().unwrap().halt, HaltReason::Unanimous);
}

#[test]
fn a_split_vote_runs_to_max_rounds_and_shows_agents_the_previous_round() {
    let halting = HaltingConfig { min_rounds: 1, max_rounds: 2, effort_permille: 900 };
    let mut f = Fixture::new(3, halting);
    let set = f.propose_all(&[Some("1"), Some("2"), Some("3")]);
    f.vote_for(&set, "2");
    f.d.close_round().unwrap();
    assert_eq!(f.d.round(), 2);
    assert!(matches!(f.d.stage(), Stage::Proposing));
    let view = f.d.previous_view().unwrap();
    assert_eq!(view.round, 1);
    assert_eq!(view.contents, vec![Some("1".into()), Some("2".into()), Some("3".into())]);
    assert!(view.votes.iter().all(Option::is_some));
    assert_eq!(view.scores.len(), 3);
    let set = f.propose_all(&[Some("2"), Some("2"), Some("3")]);
    f.vote_for(&set, "2");
    f.d.close_round().unwrap();
    let outcome = f.d.outcome().unwrap();
    assert_eq!((outcome.rounds, outcome.halt), (2, HaltReason::MaxRounds));
    assert_eq!(outcome.answer.unwrap().content, "2");
}

#[test]
fn a_missing_agent_does_not_stop_the_round() {
    // Four seats tolerate one silent seat (the quorum is 3).
    let mut f = Fixture::new(4, HaltingConfig::default());
    let set = f.propose_all(&[Some("5"), None, Some("5"), Some("6")]);
    assert_eq!(set.proposed(), vec![true, false, true, true]);
    // Seat 1 also sends no ballot: it counts as all zeros.
    for (seat, votes) in [(0, vec![0, 0, 9, -3]), (2, vec![9, 0, 0, -3]), (3, vec![5, 0, 5, 0])] {
        let b = f.ballot(seat, &set, votes);
        f.d.accept_ballot(b).unwrap();
    }
    assert_eq!(f.d.missing(), vec![1]);
    let record = f.d.close_round().unwrap().clone();
    assert_eq!(record.scores, vec![14, 0, 14, -6]);
    assert_eq!(record.ballots[1], None);
    assert!(!record.unanimous);
    assert_eq!(f.d.outcome().unwrap().answer.unwrap().seat, 0);
}

#[test]
fn a_round_needs_a_quorum_of_proposals() {
    let mut f = Fixture::new(3, HaltingConfig::default());
    for seat in [0, 2] {
        let p = f.proposal(seat, "1");
        f.d.accept_proposal(p).unwrap();
    }
    assert_eq!(
        f.d.close_proposals(),
        Err(RoundError::TooFewProposals { round: 1, got: 2, needed: 3 })
    );
    assert!(matches!(f.d.stage(), Stage::Proposing));
    let p = f.proposal(1, "2");
    f.d.accept_proposal(p).unwrap();
    f.d.close_proposals().unwrap();

    let mut pair = Fixture::new(2, HaltingConfig::default());
    let p = pair.proposal(0, "1");
    pair.d.accept_proposal(p).unwrap();
    assert_eq!(
        pair.d.close_proposals(),
        Err(RoundError::TooFewProposals { round: 1, got: 1, needed: 2 })
    );
}

/// Leaving one ballot out could flip the winner (here 1, 2, 1 would become 1, 0, 1), so a
/// three-seat round does not close without every ballot, and nothing changes until it does.
#[test]
fn a_round_needs_a_quorum_of_ballots() {
    let mut f = Fixture::new(3, HaltingConfig::default());
    let set = f.propose_all(&[Some("4"), Some("7"), Some("1")]);
    for (seat, votes) in [(0, vec![0, 1, 0]), (1, vec![1, 0, 1])] {
        let b = f.ballot(seat, &set, votes);
        f.d.accept_ballot(b).unwrap();
    }
    assert_eq!(f.d.close_round(), Err(RoundError::TooFewBallots { round: 1, got: 2, needed: 3 }));
    assert!(matches!(f.d.stage(), Stage::Evaluating(_)));
    assert_eq!(f.d.missing(), vec![2]);
    let b = f.ballot(2, &set, vec![0, 1, 0]);
    f.d.accept_ballot(b).unwrap();
    let record = f.d.close_round().unwrap().clone();
    assert_eq!(record.scores, vec![1, 2, 1]);
    assert_eq!(record.winning_content(), Some("7"));
}

#[test]
fn a_round_without_any_vote_has_no_winner_and_continues() {
    let mut f = Fixture::new(2, HaltingConfig::default());
    let set = f.propose_all(&[Some("1"), Some("1")]);
    for seat in 0..2 {
        let abstention = f.ballot(seat, &set, vec![0, 0]);
        f.d.accept_ballot(abstention).unwrap();
    }
    let record = f.d.close_round().unwrap().clone();
    assert_eq!(record.winner, None);
    assert!(f.d.outcome().is_none(), "no supported winner: no early halt");
    assert_eq!(set.round, 1);
    assert_eq!(f.d.round(), 2);
}

#[test]
fn proposals_are_rejected_for_the_wrong_job_round_phase_agent_or_twice() {
    let mut f = Fixture::new(4, HaltingConfig::default());
    let mut wrong_job = f.proposal(0, "1");
    wrong_job.job_id = U256::from(7);
    assert_eq!(
        f.d.accept_proposal(wrong_job),
        Err(RejectError::WrongJob { expected: f.job, got: U256::from(7) })
    );
    let round2 = eip712::RoundContext { round: 2, ..f.d.context() };
    let wrong_round = SignedProposal::sign(&f.keys[0], &f.domain, &round2, "1".into()).unwrap();
    assert_eq!(
        f.d.accept_proposal(wrong_round),
        Err(RejectError::WrongRound { expected: 1, got: 2 })
    );
    let stranger = PrivateKeySigner::random();
    let p = SignedProposal::sign(&stranger, &f.domain, &f.d.context(), "1".into()).unwrap();
    assert_eq!(f.d.accept_proposal(p), Err(RejectError::UnknownAgent(stranger.address())));
    let p = f.proposal(0, "1");
    f.d.accept_proposal(p.clone()).unwrap();
    assert_eq!(f.d.accept_proposal(p), Err(RejectError::Duplicate(f.keys[0].address())));
    let p = f.proposal(1, "");
    assert_eq!(f.d.accept_proposal(p), Err(RejectError::ContentSize { len: 0 }));
    let p = f.proposal(1, &"x".repeat(MAX_CONTENT_BYTES + 1));
    assert_eq!(
        f.d.accept_proposal(p),
        Err(RejectError::ContentSize { len: MAX_CONTENT_BYTES + 1 })
    );
    let p = f.proposal(1, "2");
    f.d.accept_proposal(p).unwrap();
    let p = f.proposal(3, "4");
    f.d.accept_proposal(p).unwrap();
    f.d.close_proposals().unwrap();
    let late = f.proposal(2, "3");
    assert_eq!(f.d.accept_proposal(late), Err(RejectError::WrongPhase { got: Phase::Propose }));
    assert_eq!(f.d.missing(), vec![0, 1, 2, 3], "no ballots yet");
}

#[test]
fn answers_for_another_input_or_another_history_are_rejected() {
    let mut f = Fixture::new(2, HaltingConfig { min_rounds: 2, max_rounds: 3, effort_permille: 0 });
    let other_input = eip712::RoundContext { input_hash: B256::repeat_byte(0x22), ..f.d.context() };
    let p = SignedProposal::sign(&f.keys[0], &f.domain, &other_input, "1".into()).unwrap();
    assert!(matches!(f.d.accept_proposal(p), Err(RejectError::WrongInput { .. })));
    let set = f.propose_all(&[Some("1"), Some("2")]);
    f.vote_for(&set, "2");
    let record = f.d.close_round().unwrap().clone();
    assert_eq!(record.previous_round_digest, B256::ZERO);
    // Round 2 answers sign round 1's digest, which the agents recompute from what they saw.
    assert_eq!(f.d.context().previous_round_digest, record.digest);
    assert_eq!(record.view().digest(f.d.seats()), record.digest);
    let stale = eip712::RoundContext { previous_round_digest: B256::ZERO, ..f.d.context() };
    let p = SignedProposal::sign(&f.keys[0], &f.domain, &stale, "2".into()).unwrap();
    assert_eq!(
        f.d.accept_proposal(p),
        Err(RejectError::WrongHistory { expected: record.digest, got: B256::ZERO })
    );
    let set = f.propose_all(&[Some("2"), Some("2")]);
    f.vote_for(&set, "2");
    let second = f.d.close_round().unwrap().clone();
    assert_eq!(second.previous_round_digest, record.digest, "the digests chain");
    assert_ne!(second.digest, record.digest);
}

#[test]
fn a_tampered_or_foreign_signature_is_rejected() {
    let mut f = Fixture::new(3, HaltingConfig::default());
    let mut tampered = f.proposal(0, "1");
    tampered.content = "2".into();
    assert!(matches!(f.d.accept_proposal(tampered), Err(RejectError::Signature { .. })));
    // Seat 1's key signing a proposal that claims to come from seat 0.
    let mut impostor = f.proposal(1, "1");
    impostor.agent = f.keys[0].address();
    assert!(matches!(
        f.d.accept_proposal(impostor),
        Err(RejectError::Signature { source: SignatureError::WrongSigner { .. }, .. })
    ));
    // Signed for another market.
    let other = eip712::domain(31337, Address::repeat_byte(0xbb));
    let p = SignedProposal::sign(&f.keys[0], &other, &f.d.context(), "1".into()).unwrap();
    assert!(matches!(f.d.accept_proposal(p), Err(RejectError::Signature { .. })));
    let mut garbage = f.proposal(0, "1");
    garbage.signature = Signature::new(U256::ZERO, U256::ZERO, false);
    assert!(matches!(f.d.accept_proposal(garbage), Err(RejectError::Signature { .. })));
    // The malleable twin of a valid signature (high s, the other parity): the market refuses
    // it, so a transcript carrying it could never settle.
    let mut twin = f.proposal(0, "1");
    let order = U256::from_str_radix(
        "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
        16,
    )
    .unwrap();
    let valid = twin.signature;
    twin.signature = Signature::new(valid.r(), order - valid.s(), !valid.v());
    assert!(matches!(
        f.d.accept_proposal(twin),
        Err(RejectError::Signature { source: SignatureError::Unrecoverable, .. })
    ));
    assert_eq!(f.d.missing(), vec![0, 1, 2]);
}

#[test]
fn ballots_are_checked_for_digest_rules_signature_and_duplicates() {
    let mut f = Fixture::new(4, HaltingConfig::default());
    let early =
        SignedBallot::sign(&f.keys[0], &f.domain, &f.d.context(), Default::default(), vec![0; 4])
            .unwrap();
    assert_eq!(f.d.accept_ballot(early), Err(RejectError::WrongPhase { got: Phase::Evaluate }));
    let set = f.propose_all(&[Some("1"), Some("2"), None, Some("4")]);
    let wrong_digest = SignedBallot::sign(
        &f.keys[0],
        &f.domain,
        &f.d.context(),
        B256::repeat_byte(1),
        vec![0, 1, 0, 0],
    )
    .unwrap();
    assert!(matches!(f.d.accept_ballot(wrong_digest), Err(RejectError::DigestMismatch { .. })));
    let self_vote = f.ballot(0, &set, vec![1, 0, 0, 0]);
    assert_eq!(
        f.d.accept_ballot(self_vote),
        Err(RejectError::Ballot {
            agent: f.keys[0].address(),
            source: BallotError::SelfVote { voter: 0 }
        })
    );
    let for_missing = f.ballot(0, &set, vec![0, 0, 1, 0]);
    assert!(matches!(
        f.d.accept_ballot(for_missing),
        Err(RejectError::Ballot { source: BallotError::VoteForNonProposer { candidate: 2 }, .. })
    ));
    let over_budget = f.ballot(0, &set, vec![0, 11, 0, 0]);
    assert!(matches!(
        f.d.accept_ballot(over_budget),
        Err(RejectError::Ballot { source: BallotError::BudgetExceeded { .. }, .. })
    ));
    let mut tampered = f.ballot(0, &set, vec![0, 3, 0, 0]);
    tampered.votes[1] = 4;
    assert!(matches!(f.d.accept_ballot(tampered), Err(RejectError::Signature { .. })));
    let good = f.ballot(0, &set, vec![0, 3, 0, 0]);
    assert_eq!(f.d.accept_ballot(good.clone()), Ok(0));
    assert_eq!(f.d.accept_ballot(good), Err(RejectError::Duplicate(f.keys[0].address())));
    assert_eq!(f.d.missing(), vec![1, 2, 3]);
}

#[test]
fn the_stage_guards_every_transition() {
    let mut f =
        Fixture::new(2, HaltingConfig { min_rounds: 1, max_rounds: 1, effort_permille: 600 });
    assert_eq!(
        f.d.close_round().unwrap_err(),
        RoundError::WrongStage { round: 1, expected: "evaluating" }
    );
    assert_eq!(
        f.d.halt(HaltReason::Deadline),
        Err(RoundError::WrongStage { round: 1, expected: "closed round" })
    );
    let set = f.propose_all(&[Some("1"), Some("2")]);
    assert_eq!(
        f.d.close_proposals(),
        Err(RoundError::WrongStage { round: 1, expected: "proposing" })
    );
    f.vote_for(&set, "1");
    f.d.close_round().unwrap();
    assert_eq!(f.d.outcome().unwrap().halt, HaltReason::MaxRounds);
    assert_eq!(f.d.close_proposals(), Err(RoundError::Finished));
    assert_eq!(f.d.close_round().unwrap_err(), RoundError::Finished);
    let ctx = eip712::RoundContext { round: 1, ..f.d.context() };
    let p = SignedProposal::sign(&f.keys[0], &f.domain, &ctx, "1".into()).unwrap();
    assert_eq!(f.d.accept_proposal(p), Err(RejectError::Finished));
}

#[test]
fn halting_for_the_deadline_keeps_the_last_closed_round() {
    let halting = HaltingConfig { min_rounds: 3, max_rounds: 3, effort_permille: 0 };
    let mut f = Fixture::new(2, halting);
    let set = f.propose_all(&[Some("1"), Some("2")]);
    f.vote_for(&set, "2");
    f.d.close_round().unwrap();
    let p = f.proposal(0, "9");
    f.d.accept_proposal(p).unwrap();
    f.d.halt(HaltReason::Deadline).unwrap();
    let outcome = f.d.outcome().unwrap();
    assert_eq!((outcome.rounds, outcome.halt), (1, HaltReason::Deadline));
    assert_eq!(outcome.answer.unwrap().content, "2");
    assert_eq!(f.d.halt(HaltReason::Deadline), Err(RoundError::Finished));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever order messages arrive in, the round record is the same.
    #[test]
    fn acceptance_order_does_not_change_the_round(
        answers in prop::collection::vec(0u8..3, 4),
        weights in prop::collection::vec(prop::collection::vec(-100i32..=100, 4), 4),
        order in Just((0..4usize).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let run = |order: &[usize]| {
            let mut f = Fixture::new(4, HaltingConfig::default());
            for &seat in order {
                let p = f.proposal(seat, &answers[seat].to_string());
                f.d.accept_proposal(p).unwrap();
            }
            let set = f.d.close_proposals().unwrap();
            for &seat in order {
                let mut w = weights[seat].clone();
                w[seat] = 0;
                let votes = quadratic_votes(&w, seat, &set.proposed(), CREDITS).unwrap();
                let b = f.ballot(seat, &set, votes);
                f.d.accept_ballot(b).unwrap();
            }
            f.d.close_round().unwrap().clone()
        };
        let natural = run(&[0, 1, 2, 3]);
        let shuffled = run(&order);
        prop_assert_eq!(natural, shuffled);
    }
}
