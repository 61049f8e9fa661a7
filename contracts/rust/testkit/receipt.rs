//! What a transaction returns on the test chain.

use alloy::{
    primitives::{Bytes, Log},
    sol_types::{SolError, SolEvent, SolInterface},
};

/// A successful call or transaction: its decoded return value, gas and logs.
#[derive(Clone)]
pub struct Receipt<R> {
    /// The decoded return value.
    pub ret: R,
    /// Gas used, as a receipt reports it (intrinsic gas included, refunds applied).
    pub gas_used: u64,
    /// Logs in emission order.
    pub logs: Vec<Log>,
}

// By hand: sol!-generated return types are not always `Debug`, and `unwrap_err` on a
// `Result<Receipt<R>, _>` must work for every call.
impl<R> std::fmt::Debug for Receipt<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipt")
            .field("ret", &std::any::type_name::<R>())
            .field("gas_used", &self.gas_used)
            .field("logs", &self.logs)
            .finish()
    }
}

impl<R> Receipt<R> {
    /// Every log that decodes as event `E`, in emission order.
    pub fn events<E: SolEvent>(&self) -> Vec<E> {
        self.logs
            .iter()
            .filter(|log| log.topics().first() == Some(&E::SIGNATURE_HASH))
            .filter_map(|log| E::decode_log(log).ok().map(|decoded| decoded.data))
            .collect()
    }

    /// The single event `E` of this receipt.
    ///
    /// # Panics
    ///
    /// If there is not exactly one `E` (a failed test expectation).
    #[track_caller]
    pub fn event<E: SolEvent + std::fmt::Debug>(&self) -> E {
        let mut events = self.events::<E>();
        assert_eq!(events.len(), 1, "expected exactly one {} event, got {events:?}", E::SIGNATURE);
        events.remove(0)
    }
}

/// Why a transaction did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxFailure {
    /// The contract reverted; `data` is the ABI-encoded error.
    #[error("reverted with 0x{data:x} after {gas_used} gas")]
    Revert {
        /// Revert data (a custom error's selector and arguments, or empty).
        data: Bytes,
        /// Gas used until the revert.
        gas_used: u64,
    },
    /// Execution halted (out of gas, invalid opcode, ...), consuming all gas.
    #[error("halted: {reason}")]
    Halt {
        /// revm's halt reason.
        reason: String,
        /// Gas used.
        gas_used: u64,
    },
    /// The transaction was invalid before execution (nonce, balance, gas limit, ...).
    #[error("invalid transaction: {0}")]
    Invalid(String),
    /// The call succeeded but its return data did not decode as the expected type.
    #[error("cannot decode return data 0x{data:x}: {reason}")]
    Decode {
        /// The raw return data.
        data: Bytes,
        /// The decoder's complaint.
        reason: String,
    },
}

impl TxFailure {
    /// The revert data, if this is a revert.
    pub fn revert_data(&self) -> Option<&Bytes> {
        match self {
            Self::Revert { data, .. } => Some(data),
            _ => None,
        }
    }

    /// Decodes the revert as one of a contract's custom errors (e.g. `RankToken::RankTokenErrors`).
    pub fn decode<E: SolInterface>(&self) -> Option<E> {
        self.revert_data().and_then(|data| E::abi_decode(data).ok())
    }

    /// Whether this is a revert with exactly `expected` (selector and arguments).
    pub fn is_error<E: SolError>(&self, expected: &E) -> bool {
        self.revert_data().is_some_and(|data| data[..] == expected.abi_encode()[..])
    }
}

/// Asserts that a transaction reverted with one exact custom error.
pub trait ExpectRevert {
    /// Panics unless `self` is a revert whose data is exactly `expected` ABI-encoded.
    fn expect_revert<E: SolError + std::fmt::Debug>(self, expected: E);
}

impl<R> ExpectRevert for Result<Receipt<R>, TxFailure> {
    #[track_caller]
    fn expect_revert<E: SolError + std::fmt::Debug>(self, expected: E) {
        match self {
            Ok(receipt) => {
                panic!(
                    "expected revert {expected:?}, but it succeeded using {} gas",
                    receipt.gas_used
                )
            }
            Err(failure) if failure.is_error(&expected) => {}
            Err(failure) => {
                let got = failure
                    .revert_data()
                    .and_then(|data| E::abi_decode(data).ok())
                    .map(|e| format!("{e:?}"))
                    .unwrap_or_else(|| failure.to_string());
                panic!("expected revert {expected:?}, got {got}");
            }
        }
    }
}
