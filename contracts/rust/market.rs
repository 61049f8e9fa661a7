//! The market's on-chain rules a keeper must follow off chain: which seats a transcript must
//! carry, which halting rule it must stop by, and when it may stop early for the deadline.
//!
//! - **Seats.** `claimJob` draws the seats in the agent registry and stores only
//!   [`seats_hash`] of them; the seats themselves are in the claim's `SeatsDrawn` event
//!   ([`seats_from_logs`]). A transcript must carry exactly those seats, in that order.
//! - **Halting.** A job's halting terms are fixed at its request (`JobTermsFixed`, and the
//!   `job(jobId)` view); [`halting_config`] turns them into the protocol crate's
//!   [`HaltingConfig`], whose [`decide`](HaltingConfig::decide) the market re-runs after every
//!   round: the transcript must stop at the first round it halts at.
//! - **Deadline.** A transcript may stop before that only when
//!   [`may_stop_for_deadline`]: the chain's time at settlement is within the job's round
//!   allowance of its deadline. The market reports why a transcript stopped in `JobHalted`
//!   ([`halt_reason`]).

use alloy::{
    primitives::{Address, B256, Log, keccak256},
    sol_types::{SolEvent, SolValue},
};
use nsed_protocol::halting::{HaltReason, HaltingConfig};

use crate::i_deliberation_market::IDeliberationMarket::SeatsDrawn;

/// `keccak256(abi.encode(seats))`: what the market stores for a job's drawn seats and compares a
/// transcript's `agents` against.
///
/// ```
/// use alloy::primitives::{Address, keccak256};
/// use nsed_contracts::market::seats_hash;
///
/// let seats = [Address::repeat_byte(1), Address::repeat_byte(2)];
/// // Offset, length, then one word per address.
/// let mut encoded = [0u8; 128];
/// encoded[31] = 0x20;
/// encoded[63] = 2;
/// encoded[76..96].copy_from_slice(seats[0].as_slice());
/// encoded[108..128].copy_from_slice(seats[1].as_slice());
/// assert_eq!(seats_hash(&seats), keccak256(encoded));
/// ```
pub fn seats_hash(seats: &[Address]) -> B256 {
    keccak256(seats.to_vec().abi_encode())
}

/// The seats drawn for `job_id`, from the logs of its claim (the `SeatsDrawn` event), if there.
///
/// ```
/// use alloy::{primitives::{Address, Log, U256}, sol_types::SolEvent};
/// use nsed_contracts::{i_deliberation_market::IDeliberationMarket::SeatsDrawn, market::seats_from_logs};
///
/// let seats = vec![Address::repeat_byte(1), Address::repeat_byte(2)];
/// let event = SeatsDrawn { jobId: U256::from(3), seats: seats.clone() };
/// let log = Log { address: Address::repeat_byte(9), data: event.encode_log_data() };
/// assert_eq!(seats_from_logs(U256::from(3), [&log]), Some(seats));
/// assert_eq!(seats_from_logs(U256::from(4), [&log]), None);
/// ```
pub fn seats_from_logs<'a>(
    job_id: alloy::primitives::U256,
    logs: impl IntoIterator<Item = &'a Log>,
) -> Option<Vec<Address>> {
    logs.into_iter()
        .filter_map(|log| SeatsDrawn::decode_log(log).ok())
        .find(|event| event.jobId == job_id)
        .map(|event| event.data.seats)
}

/// The protocol crate's halting parameters of a job with the given terms (`minRounds` and
/// `effortPermille` from `JobTermsFixed` or the stored job, `maxRounds` from its spec).
///
/// ```
/// use nsed_contracts::market::halting_config;
/// use nsed_protocol::halting::HaltingConfig;
///
/// assert_eq!(halting_config(1, 3, 600), HaltingConfig::default());
/// ```
pub fn halting_config(min_rounds: u8, max_rounds: u8, effort_permille: u16) -> HaltingConfig {
    HaltingConfig {
        min_rounds: u32::from(min_rounds),
        max_rounds: u32::from(max_rounds),
        effort_permille,
    }
}

/// The halting terms of a stored job (`DeliberationMarket.job(jobId)`).
pub fn job_halting_config(
    job: &crate::deliberation_market::DeliberationMarket::Job,
) -> HaltingConfig {
    halting_config(job.minRounds, job.maxRounds, job.effortPermille)
}

/// Whether a transcript may stop before the halting rule says so: once the chain's time is
/// within the job's round allowance of its deadline (`now + roundAllowance >= deadline`), exactly
/// as the market checks at settlement. A keeper halting for the deadline must check this against
/// the chain's time, not its own clock.
///
/// ```
/// use nsed_contracts::market::may_stop_for_deadline;
///
/// assert!(!may_stop_for_deadline(1_000, 1_400, 300));
/// assert!(may_stop_for_deadline(1_100, 1_400, 300));
/// ```
pub const fn may_stop_for_deadline(now: u64, deadline: u64, round_allowance: u32) -> bool {
    now.saturating_add(round_allowance as u64) >= deadline
}

/// The protocol crate's reason for a `Halting.Reason` as the market reports it (`JobHalted`, the
/// stored job's `halt`); `None` for `None` (0) and for values this crate does not know.
///
/// ```
/// use nsed_contracts::market::{halt_reason, halt_reason_code};
/// use nsed_protocol::halting::HaltReason;
///
/// assert_eq!(halt_reason(0), None);
/// for reason in [HaltReason::Unanimous, HaltReason::Conviction, HaltReason::MaxRounds, HaltReason::Deadline] {
///     assert_eq!(halt_reason(halt_reason_code(reason)), Some(reason));
/// }
/// ```
pub const fn halt_reason(code: u8) -> Option<HaltReason> {
    match code {
        1 => Some(HaltReason::Unanimous),
        2 => Some(HaltReason::Conviction),
        3 => Some(HaltReason::MaxRounds),
        4 => Some(HaltReason::Deadline),
        _ => None,
    }
}

/// The `Halting.Reason` code of `reason`; see [`halt_reason`].
pub const fn halt_reason_code(reason: HaltReason) -> u8 {
    match reason {
        HaltReason::Unanimous => 1,
        HaltReason::Conviction => 2,
        HaltReason::MaxRounds => 3,
        HaltReason::Deadline => 4,
    }
}
