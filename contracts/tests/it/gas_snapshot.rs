//! The committed gas snapshot (`contracts/.gas-snapshot`), compared like `forge snapshot --check`.
//!
//! One deterministic scenario measures every external state-changing function and the view-heavy
//! tally paths; any change in gas fails this test until the file is regenerated on purpose with
//! `NSED_GAS_SNAPSHOT=update cargo test -p nsed-contracts --test it gas_snapshot`.

use alloy::{
    primitives::{Address, I256, U256},
    sol_types::SolCall,
};
use nsed_contracts::{
    quadratic_voting_harness::QuadraticVotingHarness,
    rank_token::RankToken,
    testkit::{GasSnapshot, TestChain},
};

use crate::fixtures::{RANK_URI, qv_harness};

fn u(v: u64) -> U256 {
    U256::from(v)
}

fn rank_token_gas(snap: &mut GasSnapshot) {
    let mut chain = TestChain::new();
    let (admin, game, player) = (chain.account(0), chain.account(1), chain.account(5));
    let deployed = chain
        .deploy_with_receipt(
            admin,
            &RankToken::BYTECODE,
            &RankToken::constructorCall { uri_: RANK_URI.into(), admin },
        )
        .unwrap();
    let token = deployed.ret;
    snap.record("RankToken::constructor", deployed.gas_used);
    let role = chain.call(admin, token, &RankToken::GAME_ROLECall {}).unwrap();
    let mut measure = |name: &str, from: Address, call: &dyn SolCallDyn| {
        snap.record(name, call.send(&mut chain, from, token));
    };
    measure(
        "RankToken::grantRole (game)",
        admin,
        &RankToken::grantRoleCall { role, account: game },
    );
    measure(
        "RankToken::mint (new holder)",
        game,
        &RankToken::mintCall { to: player, rank: u(1), amount: u(2) },
    );
    measure(
        "RankToken::mint (existing holder)",
        game,
        &RankToken::mintCall { to: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::lock (first lock)",
        game,
        &RankToken::lockCall { account: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::lock (second lock)",
        game,
        &RankToken::lockCall { account: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::unlock",
        game,
        &RankToken::unlockCall { account: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::burnLocked",
        game,
        &RankToken::burnLockedCall { account: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::burn (unlocked)",
        game,
        &RankToken::burnCall { from: player, rank: u(1), amount: u(1) },
    );
    measure(
        "RankToken::revokeRole (game)",
        admin,
        &RankToken::revokeRoleCall { role, account: game },
    );
}

/// Object-safe "send this call and report its gas", so calls of different types share one list.
trait SolCallDyn {
    fn send(&self, chain: &mut TestChain, from: Address, to: Address) -> u64;
}

impl<C: SolCall> SolCallDyn for C {
    fn send(&self, chain: &mut TestChain, from: Address, to: Address) -> u64 {
        chain.send(from, to, self).expect("measured calls succeed").gas_used
    }
}

fn quadratic_voting_gas(snap: &mut GasSnapshot) {
    let mut chain = TestChain::new();
    let harness = qv_harness(&mut chain);
    let from = chain.account(0);
    for seats in [3usize, 5, 8] {
        let ballot = |voter: usize| -> Vec<I256> {
            (0..seats)
                .map(|q| {
                    if q == voter {
                        I256::ZERO
                    } else {
                        I256::try_from(if q % 2 == 0 { 2 } else { -1 }).unwrap()
                    }
                })
                .collect()
        };
        let proposed = vec![true; seats];
        let credits = U256::from(100);
        let validate = QuadraticVotingHarness::validateCall {
            votes: ballot(0),
            voter: U256::ZERO,
            proposed: proposed.clone(),
            credits,
        };
        let gas = chain.send(from, harness, &validate).unwrap().gas_used;
        snap.record(format!("QuadraticVoting::validate ({seats} seats)"), gas);
        let tally = QuadraticVotingHarness::tallyCall {
            ballots: (0..seats).map(ballot).collect(),
            voters: (0..seats).map(U256::from).collect(),
            proposed,
            credits,
        };
        let gas = chain.send(from, harness, &tally).unwrap().gas_used;
        snap.record(format!("QuadraticVoting::tally ({seats} seats x {seats} ballots)"), gas);
    }
}

#[test]
fn gas_matches_the_committed_snapshot() {
    let mut snap = GasSnapshot::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.gas-snapshot"));
    rank_token_gas(&mut snap);
    quadratic_voting_gas(&mut snap);
    if let Err(err) = snap.check_or_update() {
        panic!("{err}");
    }
}
