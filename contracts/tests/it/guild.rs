//! GuildToken (ERC-20 votes on a timestamp clock), GuildTimelock and GuildGovernor: deployment,
//! minting rights, delegation and checkpoints, governor settings and quorum. The shared
//! [`GuildDeployment`] is also used by the LAT-converter and governance tests.

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::SolCall,
};
use nsed_contracts::{
    guild_governor::GuildGovernor,
    guild_timelock::GuildTimelock,
    guild_token::GuildToken,
    testkit::{ExpectRevert, TestChain},
};

/// One whole guild token (18 decimals), times `n`.
pub(crate) fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// Seconds between a proposal and the start of its vote.
pub(crate) const VOTING_DELAY: u64 = 86_400;
/// Seconds a vote stays open.
pub(crate) const VOTING_PERIOD: u64 = 7 * 86_400;
/// Minimum delay of the timelock, in seconds.
pub(crate) const TIMELOCK_DELAY: u64 = 2 * 86_400;
/// Whole tokens of votes needed to propose.
pub(crate) const PROPOSAL_THRESHOLD: u64 = 10_000;
/// Quorum, in percent of the supply at the snapshot.
pub(crate) const QUORUM_PERCENT: u64 = 4;

/// `ProposalState` as the ABI carries it.
pub(crate) mod proposal_state {
    pub(crate) const PENDING: u8 = 0;
    pub(crate) const ACTIVE: u8 = 1;
    pub(crate) const DEFEATED: u8 = 3;
    pub(crate) const SUCCEEDED: u8 = 4;
    pub(crate) const QUEUED: u8 = 5;
    pub(crate) const EXECUTED: u8 = 7;
}

/// Vote types of `GovernorCountingSimple`.
pub(crate) mod support {
    pub(crate) const AGAINST: u8 = 0;
    pub(crate) const FOR: u8 = 1;
    pub(crate) const ABSTAIN: u8 = 2;
}

/// A deployed guild: token, timelock and governor.
///
/// The token's genesis supply is split among the holders, who each delegate to themselves. The
/// timelock has the governor as its only proposer and canceller, anyone as executor and no admin.
/// The token's `DEFAULT_ADMIN_ROLE` stays with the deployer until [`Self::hand_over`] so a test can
/// still grant `MINTER_ROLE` (to a LAT converter) first.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuildDeployment {
    pub(crate) token: Address,
    pub(crate) timelock: Address,
    pub(crate) governor: Address,
}

impl GuildDeployment {
    /// Deploys the guild from `deployer`, giving `holders[i].1` genesis tokens to `holders[i].0`.
    pub(crate) fn deploy(
        chain: &mut TestChain,
        deployer: Address,
        holders: &[(Address, U256)],
    ) -> Self {
        let genesis: U256 = holders.iter().map(|(_, amount)| *amount).sum();
        let token = deploy_guild_token(chain, deployer, deployer, genesis);
        for &(holder, amount) in holders {
            chain
                .send(deployer, token, &GuildToken::transferCall { to: holder, value: amount })
                .unwrap();
            chain.send(holder, token, &GuildToken::delegateCall { delegatee: holder }).unwrap();
        }
        let timelock = chain
            .deploy(
                deployer,
                &GuildTimelock::BYTECODE,
                &GuildTimelock::constructorCall {
                    minDelay: U256::from(TIMELOCK_DELAY),
                    proposers: vec![],
                    executors: vec![Address::ZERO],
                    admin: deployer,
                },
            )
            .expect("GuildTimelock deploys");
        let governor = chain
            .deploy(
                deployer,
                &GuildGovernor::BYTECODE,
                &GuildGovernor::constructorCall {
                    token_: token,
                    timelock_: timelock,
                    votingDelay_: VOTING_DELAY.try_into().unwrap(),
                    votingPeriod_: VOTING_PERIOD.try_into().unwrap(),
                    proposalThreshold_: tokens(PROPOSAL_THRESHOLD),
                    quorumNumerator_: U256::from(QUORUM_PERCENT),
                },
            )
            .expect("GuildGovernor deploys");
        for role in [
            chain.call(deployer, timelock, &GuildTimelock::PROPOSER_ROLECall {}).unwrap(),
            chain.call(deployer, timelock, &GuildTimelock::CANCELLER_ROLECall {}).unwrap(),
        ] {
            chain
                .send(deployer, timelock, &GuildTimelock::grantRoleCall { role, account: governor })
                .unwrap();
        }
        chain
            .send(
                deployer,
                timelock,
                &GuildTimelock::renounceRoleCall { role: B256::ZERO, callerConfirmation: deployer },
            )
            .unwrap();
        Self { token, timelock, governor }
    }

    /// Moves `DEFAULT_ADMIN_ROLE` of the AccessControl contract `target` from `admin` to the
    /// timelock (grant, then renounce).
    pub(crate) fn hand_over(&self, chain: &mut TestChain, admin: Address, target: Address) {
        chain
            .send(
                admin,
                target,
                &GuildToken::grantRoleCall { role: B256::ZERO, account: self.timelock },
            )
            .unwrap();
        chain
            .send(
                admin,
                target,
                &GuildToken::renounceRoleCall { role: B256::ZERO, callerConfirmation: admin },
            )
            .unwrap();
    }

    pub(crate) fn balance(&self, chain: &mut TestChain, account: Address) -> U256 {
        chain.call(account, self.token, &GuildToken::balanceOfCall { account }).unwrap()
    }

    pub(crate) fn votes(&self, chain: &mut TestChain, account: Address) -> U256 {
        chain.call(account, self.token, &GuildToken::getVotesCall { account }).unwrap()
    }

    pub(crate) fn supply(&self, chain: &mut TestChain) -> U256 {
        chain.call(Address::ZERO, self.token, &GuildToken::totalSupplyCall {}).unwrap()
    }

    pub(crate) fn state(&self, chain: &mut TestChain, proposal_id: U256) -> u8 {
        chain
            .call(
                Address::ZERO,
                self.governor,
                &GuildGovernor::stateCall { proposalId: proposal_id },
            )
            .unwrap()
    }
}

/// Deploys a GuildToken administered by `admin` with `supply` genesis tokens minted to `holder`.
pub(crate) fn deploy_guild_token(
    chain: &mut TestChain,
    admin: Address,
    holder: Address,
    supply: U256,
) -> Address {
    chain
        .deploy(
            admin,
            &GuildToken::BYTECODE,
            &GuildToken::constructorCall { admin, holders: vec![holder], amounts: vec![supply] },
        )
        .expect("GuildToken deploys")
}

/// Accounts 5, 6 and 7 with 500k, 300k and 200k genesis tokens.
pub(crate) fn genesis_holders(chain: &TestChain) -> [(Address, U256); 3] {
    [
        (chain.account(5), tokens(500_000)),
        (chain.account(6), tokens(300_000)),
        (chain.account(7), tokens(200_000)),
    ]
}

fn minter_role() -> B256 {
    keccak256("MINTER_ROLE")
}

mod token {
    use super::*;

    fn deployed() -> (TestChain, GuildDeployment) {
        let mut chain = TestChain::new();
        let (deployer, holders) = (chain.account(0), genesis_holders(&chain));
        let guild = GuildDeployment::deploy(&mut chain, deployer, &holders);
        (chain, guild)
    }

    #[test]
    fn the_token_is_named_guild_and_keeps_a_timestamp_clock() {
        let (mut chain, guild) = deployed();
        let at = |chain: &mut TestChain| {
            chain.call(Address::ZERO, guild.token, &GuildToken::clockCall {})
        };
        assert_eq!(
            chain.call(Address::ZERO, guild.token, &GuildToken::nameCall {}).unwrap(),
            "NSED Guild"
        );
        assert_eq!(
            chain.call(Address::ZERO, guild.token, &GuildToken::symbolCall {}).unwrap(),
            "GUILD"
        );
        assert_eq!(
            chain.call(Address::ZERO, guild.token, &GuildToken::decimalsCall {}).unwrap(),
            18
        );
        assert_eq!(
            chain.call(Address::ZERO, guild.token, &GuildToken::CLOCK_MODECall {}).unwrap(),
            "mode=timestamp"
        );
        assert_eq!(at(&mut chain).unwrap().to::<u64>(), chain.timestamp());
        // The clock follows time, not blocks.
        chain.warp(chain.timestamp() + 12_345);
        assert_eq!(at(&mut chain).unwrap().to::<u64>(), chain.timestamp());
    }

    #[test]
    fn the_genesis_supply_is_minted_to_the_genesis_holder() {
        let mut chain = TestChain::new();
        let (admin, holder) = (chain.account(0), chain.account(1));
        let receipt = chain
            .deploy_with_receipt(
                admin,
                &GuildToken::BYTECODE,
                &GuildToken::constructorCall {
                    admin,
                    holders: vec![holder],
                    amounts: vec![tokens(1_000)],
                },
            )
            .unwrap();
        let token = receipt.ret;
        let transfer = receipt.event::<GuildToken::Transfer>();
        assert_eq!(
            (transfer.from, transfer.to, transfer.value),
            (Address::ZERO, holder, tokens(1_000))
        );
        assert_eq!(
            chain.call(admin, token, &GuildToken::totalSupplyCall {}).unwrap(),
            tokens(1_000)
        );
        assert_eq!(
            chain.call(admin, token, &GuildToken::balanceOfCall { account: holder }).unwrap(),
            tokens(1_000)
        );
        let admin_role = B256::ZERO;
        assert!(
            chain
                .call(admin, token, &GuildToken::hasRoleCall { role: admin_role, account: admin })
                .unwrap()
        );
        assert!(
            !chain
                .call(admin, token, &GuildToken::hasRoleCall { role: admin_role, account: holder })
                .unwrap()
        );
    }

    #[test]
    fn a_zero_genesis_supply_or_zero_admin_is_rejected() {
        let mut chain = TestChain::new();
        let admin = chain.account(0);
        let deploy = |chain: &mut TestChain, admin: Address, supply: U256| {
            chain.deploy_with_receipt(
                chain.account(0),
                &GuildToken::BYTECODE,
                &GuildToken::constructorCall {
                    admin,
                    holders: vec![chain.account(1)],
                    amounts: vec![supply],
                },
            )
        };
        deploy(&mut chain, admin, U256::ZERO)
            .expect_revert(GuildToken::GuildTokenZeroGenesisSupply {});
        deploy(&mut chain, Address::ZERO, tokens(1))
            .expect_revert(GuildToken::GuildTokenZeroAddress {});
    }

    #[test]
    fn only_a_minter_mints() {
        let (mut chain, guild) = deployed();
        let (admin, minter, someone) = (chain.account(0), chain.account(1), chain.account(2));
        chain
            .send(someone, guild.token, &GuildToken::mintCall { to: someone, amount: tokens(1) })
            .expect_revert(GuildToken::AccessControlUnauthorizedAccount {
                account: someone,
                neededRole: minter_role(),
            });
        // Holding DEFAULT_ADMIN_ROLE is not enough either.
        chain
            .send(admin, guild.token, &GuildToken::mintCall { to: someone, amount: tokens(1) })
            .expect_revert(GuildToken::AccessControlUnauthorizedAccount {
                account: admin,
                neededRole: minter_role(),
            });
        assert_eq!(
            chain.call(admin, guild.token, &GuildToken::MINTER_ROLECall {}).unwrap(),
            minter_role()
        );
        chain
            .send(
                admin,
                guild.token,
                &GuildToken::grantRoleCall { role: minter_role(), account: minter },
            )
            .unwrap();
        let supply = guild.supply(&mut chain);
        let receipt = chain
            .send(minter, guild.token, &GuildToken::mintCall { to: someone, amount: tokens(7) })
            .unwrap();
        let transfer = receipt.event::<GuildToken::Transfer>();
        assert_eq!(
            (transfer.from, transfer.to, transfer.value),
            (Address::ZERO, someone, tokens(7))
        );
        assert_eq!(guild.balance(&mut chain, someone), tokens(7));
        assert_eq!(guild.supply(&mut chain), supply + tokens(7));
    }

    #[test]
    fn balances_vote_only_once_delegated_and_votes_are_checkpointed_by_timestamp() {
        let (mut chain, guild) = deployed();
        let (holder, newcomer, friend) = (chain.account(5), chain.account(1), chain.account(2));
        // Holders delegated to themselves at deployment.
        assert_eq!(guild.votes(&mut chain, holder), tokens(500_000));

        chain.advance_time(100);
        let before_transfer = chain.timestamp();
        chain.advance_time(100);
        chain
            .send(
                holder,
                guild.token,
                &GuildToken::transferCall { to: newcomer, value: tokens(1_000) },
            )
            .unwrap();
        assert_eq!(guild.balance(&mut chain, newcomer), tokens(1_000));
        assert_eq!(
            guild.votes(&mut chain, newcomer),
            U256::ZERO,
            "undelegated balance has no votes"
        );
        assert_eq!(guild.votes(&mut chain, holder), tokens(499_000));

        let receipt = chain
            .send(newcomer, guild.token, &GuildToken::delegateCall { delegatee: friend })
            .unwrap();
        let changed = receipt.event::<GuildToken::DelegateChanged>();
        assert_eq!(
            (changed.delegator, changed.fromDelegate, changed.toDelegate),
            (newcomer, Address::ZERO, friend)
        );
        let votes = receipt.event::<GuildToken::DelegateVotesChanged>();
        assert_eq!(
            (votes.delegate, votes.previousVotes, votes.newVotes),
            (friend, U256::ZERO, tokens(1_000))
        );
        assert_eq!(guild.votes(&mut chain, friend), tokens(1_000));
        assert_eq!(guild.votes(&mut chain, newcomer), U256::ZERO);

        // Past votes are looked up by timestamp; the current second is still open.
        let now = chain.timestamp();
        chain.advance_time(1);
        let past = |chain: &mut TestChain, account: Address, t: u64| {
            chain
                .call(
                    account,
                    guild.token,
                    &GuildToken::getPastVotesCall { account, timepoint: U256::from(t) },
                )
                .unwrap()
        };
        assert_eq!(past(&mut chain, holder, before_transfer), tokens(500_000));
        assert_eq!(past(&mut chain, holder, now), tokens(499_000));
        assert_eq!(past(&mut chain, friend, before_transfer), U256::ZERO);
        assert_eq!(past(&mut chain, friend, now), tokens(1_000));
        let current = chain.timestamp();
        let err = chain
            .call(
                holder,
                guild.token,
                &GuildToken::getPastVotesCall { account: holder, timepoint: U256::from(current) },
            )
            .unwrap_err();
        assert!(
            err.is_error(&GuildToken::ERC5805FutureLookup {
                timepoint: U256::from(current),
                clock: current.try_into().unwrap(),
            }),
            "{err}"
        );
    }
}

mod governor {
    use super::*;

    fn deployed() -> (TestChain, GuildDeployment) {
        let mut chain = TestChain::new();
        let (deployer, holders) = (chain.account(0), genesis_holders(&chain));
        let guild = GuildDeployment::deploy(&mut chain, deployer, &holders);
        (chain, guild)
    }

    #[test]
    fn the_governor_reports_its_settings_in_seconds_of_a_timestamp_clock() {
        let (mut chain, guild) = deployed();
        let g = guild.governor;
        let zero = Address::ZERO;
        assert_eq!(
            chain.call(zero, g, &GuildGovernor::nameCall {}).unwrap(),
            "NSED Guild Governor"
        );
        assert_eq!(
            chain.call(zero, g, &GuildGovernor::votingDelayCall {}).unwrap(),
            U256::from(VOTING_DELAY)
        );
        assert_eq!(
            chain.call(zero, g, &GuildGovernor::votingPeriodCall {}).unwrap(),
            U256::from(VOTING_PERIOD)
        );
        assert_eq!(
            chain.call(zero, g, &GuildGovernor::proposalThresholdCall {}).unwrap(),
            tokens(PROPOSAL_THRESHOLD)
        );
        assert_eq!(
            chain.call(zero, g, &GuildGovernor::quorumNumerator_1Call {}).unwrap(),
            U256::from(QUORUM_PERCENT)
        );
        assert_eq!(
            chain.call(zero, g, &GuildGovernor::quorumDenominatorCall {}).unwrap(),
            U256::from(100)
        );
        assert_eq!(
            chain.call(zero, g, &GuildGovernor::CLOCK_MODECall {}).unwrap(),
            "mode=timestamp"
        );
        assert_eq!(
            chain.call(zero, g, &GuildGovernor::clockCall {}).unwrap().to::<u64>(),
            chain.timestamp()
        );
        assert_eq!(
            chain.call(zero, g, &GuildGovernor::COUNTING_MODECall {}).unwrap(),
            "support=bravo&quorum=for,abstain"
        );
        assert_eq!(chain.call(zero, g, &GuildGovernor::timelockCall {}).unwrap(), guild.timelock);
        assert_eq!(chain.call(zero, g, &GuildGovernor::tokenCall {}).unwrap(), guild.token);
    }

    #[test]
    fn quorum_is_four_percent_of_the_supply_at_the_timepoint() {
        let (mut chain, guild) = deployed();
        let (deployer, minter) = (chain.account(0), chain.account(1));
        chain.advance_time(10);
        let before = chain.timestamp();
        chain
            .send(
                deployer,
                guild.token,
                &GuildToken::grantRoleCall { role: minter_role(), account: minter },
            )
            .unwrap();
        chain.advance_time(10);
        chain
            .send(
                minter,
                guild.token,
                &GuildToken::mintCall { to: minter, amount: tokens(1_000_000) },
            )
            .unwrap();
        let after = chain.timestamp();
        chain.advance_time(10);
        let quorum = |chain: &mut TestChain, t: u64| {
            chain
                .call(
                    Address::ZERO,
                    guild.governor,
                    &GuildGovernor::quorumCall { timepoint: U256::from(t) },
                )
                .unwrap()
        };
        assert_eq!(quorum(&mut chain, before), tokens(40_000));
        assert_eq!(quorum(&mut chain, after), tokens(80_000));
    }

    #[test]
    fn governor_settings_change_only_through_the_timelock() {
        let (mut chain, guild) = deployed();
        let holder = chain.account(5);
        chain
            .send(
                holder,
                guild.governor,
                &GuildGovernor::setVotingDelayCall { newVotingDelay: 1u64.try_into().unwrap() },
            )
            .expect_revert(GuildGovernor::GovernorOnlyExecutor { account: holder });
        chain
            .send(
                holder,
                guild.governor,
                &GuildGovernor::updateQuorumNumeratorCall { newQuorumNumerator: U256::from(1) },
            )
            .expect_revert(GuildGovernor::GovernorOnlyExecutor { account: holder });
    }

    #[test]
    fn a_proposer_below_the_threshold_is_rejected() {
        let (mut chain, guild) = deployed();
        let (holder, small) = (chain.account(5), chain.account(1));
        chain
            .send(
                holder,
                guild.token,
                &GuildToken::transferCall { to: small, value: tokens(9_999) },
            )
            .unwrap();
        chain.send(small, guild.token, &GuildToken::delegateCall { delegatee: small }).unwrap();
        chain.advance_time(1);
        let call = GuildGovernor::proposeCall {
            targets: vec![guild.governor],
            values: vec![U256::ZERO],
            calldatas: vec![
                GuildGovernor::setVotingDelayCall { newVotingDelay: 1u64.try_into().unwrap() }
                    .abi_encode()
                    .into(),
            ],
            description: "shorten the voting delay".into(),
        };
        chain.send(small, guild.governor, &call).expect_revert(
            GuildGovernor::GovernorInsufficientProposerVotes {
                proposer: small,
                votes: tokens(9_999),
                threshold: tokens(PROPOSAL_THRESHOLD),
            },
        );
        // At the threshold exactly, proposing succeeds.
        chain
            .send(holder, guild.token, &GuildToken::transferCall { to: small, value: tokens(1) })
            .unwrap();
        chain.advance_time(1);
        let receipt = chain.send(small, guild.governor, &call).unwrap();
        let created = receipt.event::<GuildGovernor::ProposalCreated>();
        assert_eq!((created.proposalId, created.proposer), (receipt.ret, small));
        assert_eq!(guild.state(&mut chain, receipt.ret), proposal_state::PENDING);
    }

    #[test]
    fn the_timelock_has_the_governor_as_sole_proposer_anyone_as_executor_and_no_admin() {
        let (mut chain, guild) = deployed();
        let (deployer, t) = (chain.account(0), guild.timelock);
        let has = |chain: &mut TestChain, role: B256, account: Address| {
            chain.call(deployer, t, &GuildTimelock::hasRoleCall { role, account }).unwrap()
        };
        let proposer = chain.call(deployer, t, &GuildTimelock::PROPOSER_ROLECall {}).unwrap();
        let canceller = chain.call(deployer, t, &GuildTimelock::CANCELLER_ROLECall {}).unwrap();
        let executor = chain.call(deployer, t, &GuildTimelock::EXECUTOR_ROLECall {}).unwrap();
        assert!(has(&mut chain, proposer, guild.governor));
        assert!(has(&mut chain, canceller, guild.governor));
        assert!(has(&mut chain, executor, Address::ZERO), "anyone executes");
        assert!(!has(&mut chain, proposer, deployer));
        assert!(!has(&mut chain, B256::ZERO, deployer), "the deployer renounced the admin role");
        assert!(has(&mut chain, B256::ZERO, t), "the timelock administers itself");
        assert_eq!(
            chain.call(deployer, t, &GuildTimelock::getMinDelayCall {}).unwrap(),
            U256::from(TIMELOCK_DELAY)
        );
    }
}
