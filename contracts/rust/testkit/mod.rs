//! An in-memory revm chain for contract tests and gas measurements.
//!
//! [`TestChain`] holds the state of one chain in memory: ten funded dev accounts (anvil's default
//! keys, so addresses match a local anvil), deploys, typed `sol!` calls ([`TestChain::call`]) and
//! transactions ([`TestChain::send`]) returning a [`Receipt`] with the decoded return value, gas
//! used and logs; failures come back as a [`TxFailure`] whose revert data decodes into the
//! contract's custom errors ([`ExpectRevert`] asserts an exact error). Time and block number are
//! set explicitly, like forge's `vm.warp`/`vm.roll`, and [`TestChain::snapshot`] /
//! [`TestChain::revert_to`] restore earlier state. [`GasSnapshot`] keeps a committed gas file that
//! CI compares.
//!
//! ```
//! use alloy::primitives::U256;
//! use nsed_contracts::{rank_token::RankToken, testkit::{ExpectRevert, TestChain}};
//!
//! let mut chain = TestChain::new();
//! let admin = chain.account(0);
//! let token = chain
//!     .deploy(admin, &RankToken::BYTECODE, &RankToken::constructorCall { uri_: "".into(), admin })
//!     .unwrap();
//! let role = chain.call(admin, token, &RankToken::GAME_ROLECall {}).unwrap();
//! chain.send(admin, token, &RankToken::grantRoleCall { role, account: admin }).unwrap();
//! let minted = chain
//!     .send(admin, token, &RankToken::mintCall { to: admin, rank: U256::from(1), amount: U256::from(1) })
//!     .unwrap();
//! assert!(minted.gas_used > 21_000);
//! chain
//!     .send(admin, token, &RankToken::mintCall { to: admin, rank: U256::ZERO, amount: U256::from(1) })
//!     .expect_revert(RankToken::RankTokenInvalidRank { rank: U256::ZERO });
//! ```

mod chain;
pub mod gas;
mod plan;
mod receipt;

pub use chain::{DEV_PRIVATE_KEYS, SnapshotId, TestChain};
pub use gas::{GasSnapshot, GasSnapshotError};
pub use plan::{RoundPlan, deliberate, deliberate_with};
pub use receipt::{ExpectRevert, Receipt, TxFailure};
