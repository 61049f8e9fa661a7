//! AgentRegistry: registration consent, the bond life cycle (bond, unbond, withdraw, slash),
//! service state, the guild's parameters, and the seat draw (distinct, eligible, sorted, and the
//! documented sparse Fisher–Yates shuffle step by step).

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    sol_types::{SolError, SolValue},
};
use nsed_contracts::{
    agent_registry::AgentRegistry,
    agent_registry_harness::AgentRegistryHarness,
    i_agent_registry::IAgentRegistry,
    testkit::{ExpectRevert, GasSnapshot, TxFailure},
};

use crate::agent_registry_fixture::*;

/// Asserts that a draw reverted with exactly `expected`.
#[track_caller]
fn assert_draw_reverts<E: SolError + std::fmt::Debug>(
    result: Result<Vec<Address>, TxFailure>,
    expected: E,
) {
    match result {
        Ok(seats) => panic!("expected revert {expected:?}, drew {seats:?}"),
        Err(failure) => {
            assert!(failure.is_error(&expected), "expected {expected:?}, got {failure}")
        }
    }
}

fn min_bond() -> U256 {
    tokens(MIN_BOND)
}

fn unauthorized(account: Address, role: B256) -> AgentRegistry::AccessControlUnauthorizedAccount {
    AgentRegistry::AccessControlUnauthorizedAccount { account, neededRole: role }
}

/// The draw the registry documents, computed in Rust over the pool in its storage order:
/// a partial Fisher–Yates shuffle whose step `i` swaps positions `i` and
/// `i + keccak256(abi.encode(seed, i)) mod (n − i)`, then sorted.
pub(crate) fn reference_draw(pool: &[Address], seed: B256, count: usize) -> Vec<Address> {
    let mut positions: Vec<usize> = (0..pool.len()).collect();
    let n = U256::from(pool.len());
    for i in 0..count {
        let r = U256::from_be_bytes(keccak256((seed, U256::from(i)).abi_encode()).0);
        let j = i + usize::try_from(r % (n - U256::from(i))).unwrap();
        positions.swap(i, j);
    }
    let mut seats: Vec<Address> = positions[..count].iter().map(|&p| pool[p]).collect();
    seats.sort();
    seats
}

mod register {
    use super::*;

    #[test]
    fn register_checks_the_agents_consent_and_pulls_the_bond() {
        let mut f = RegistryFixture::new();
        let key = agent_key(0);
        let agent = key.address();
        let owner = f.owner;
        let before = f.balance(owner);
        let call = f.registration(&key, owner, min_bond() + U256::from(5));
        let receipt = f.try_register(owner, &call).unwrap();

        let event = receipt.event::<IAgentRegistry::AgentRegistered>();
        assert_eq!((event.agent, event.owner), (agent, owner));
        assert_eq!((event.modelId, event.metadataURI), (model(agent), uri(agent)));
        assert_eq!(event.bond, min_bond() + U256::from(5));
        let entered = receipt.event::<IAgentRegistry::EligibilityChanged>();
        assert_eq!((entered.agent, entered.eligible), (agent, true));

        let stored = f.agent(agent);
        assert_eq!((stored.owner, stored.active, stored.slashed), (owner, true, false));
        assert_eq!((stored.unbondingAt, stored.bond), (0, min_bond() + U256::from(5)));
        assert_eq!(stored.modelId, model(agent));
        assert!(f.eligible(agent));
        assert_eq!(f.eligible_count(), 1);
        assert_eq!(f.balance(owner), before - min_bond() - U256::from(5));
        let registry = f.registry;
        assert_eq!(f.balance(registry), min_bond() + U256::from(5));
    }

    #[test]
    fn the_domain_and_type_hash_match_the_protocol_crate() {
        let mut f = RegistryFixture::new();
        let (guild, registry) = (f.guild, f.registry);
        let separator =
            f.chain.call(guild, registry, &AgentRegistry::domainSeparatorCall {}).unwrap();
        assert_eq!(separator, f.domain().separator());
        let type_hash =
            f.chain.call(guild, registry, &AgentRegistry::REGISTRATION_TYPEHASHCall {}).unwrap();
        assert_eq!(
            type_hash,
            keccak256(
                "Registration(address agent,address owner,bytes32 modelId,string metadataURI)"
            )
        );
    }

    #[test]
    fn a_signature_by_another_key_is_rejected() {
        let mut f = RegistryFixture::new();
        let (key, impostor) = (agent_key(0), agent_key(1));
        let owner = f.owner;
        let mut call = f.registration(&key, owner, min_bond());
        call.agentSignature = f.consent(&impostor, owner);
        f.try_register(owner, &call)
            .expect_revert(IAgentRegistry::AgentRegistryInvalidSignature { agent: key.address() });
        assert!(!f.eligible(key.address()));
    }

    #[test]
    fn a_consent_to_another_owner_cannot_be_used() {
        let mut f = RegistryFixture::new();
        let key = agent_key(0);
        let (owner, thief) = (f.owner, f.other_owner);
        let call = f.registration(&key, owner, min_bond());
        f.try_register(thief, &call)
            .expect_revert(IAgentRegistry::AgentRegistryInvalidSignature { agent: key.address() });
        f.try_register(owner, &call).unwrap();
        assert_eq!(f.agent(key.address()).owner, owner);
    }

    #[test]
    fn a_consent_covers_the_model_and_the_metadata_uri() {
        let mut f = RegistryFixture::new();
        let key = agent_key(0);
        let agent = key.address();
        let owner = f.owner;
        let call = f.registration(&key, owner, min_bond());
        let invalid = IAgentRegistry::AgentRegistryInvalidSignature { agent };
        let other_model =
            IAgentRegistry::registerCall { modelId: B256::repeat_byte(1), ..call.clone() };
        f.try_register(owner, &other_model).expect_revert(invalid.clone());
        let other_uri = IAgentRegistry::registerCall { metadataURI: "ipfs://x".into(), ..call };
        f.try_register(owner, &other_uri).expect_revert(invalid);
    }

    #[test]
    fn a_consent_for_another_registry_or_chain_is_rejected() {
        let mut f = RegistryFixture::new();
        let key = agent_key(0);
        let agent = key.address();
        let owner = f.owner;
        let mut call = f.registration(&key, owner, min_bond());
        for domain in [
            nsed_protocol::eip712::registry_domain(1, f.registry),
            nsed_protocol::eip712::registry_domain(f.chain.chain_id(), Address::repeat_byte(9)),
            // The market's domain name on the registry's chain and address.
            nsed_protocol::eip712::domain(f.chain.chain_id(), f.registry),
        ] {
            let hash = nsed_protocol::eip712::registration_hash(
                &domain,
                agent,
                owner,
                model(agent),
                &uri(agent),
            );
            let signature = nsed_protocol::eip712::sign(&key, hash).unwrap();
            call.agentSignature = Bytes::from(signature.as_bytes());
            f.try_register(owner, &call)
                .expect_revert(IAgentRegistry::AgentRegistryInvalidSignature { agent });
        }
    }

    #[test]
    fn malleable_short_and_raw_v_signatures_are_rejected() {
        let mut f = RegistryFixture::new();
        let key = agent_key(0);
        let agent = key.address();
        let owner = f.owner;
        let call = f.registration(&key, owner, min_bond());
        let good = call.agentSignature.to_vec();
        let n: U256 =
            "0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141".parse().unwrap();
        let s = U256::from_be_slice(&good[32..64]);
        let mut high_s = good.clone();
        high_s[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
        // (r, n - s) with the other parity recovers the same key: the malleable twin.
        high_s[64] = if high_s[64] == 27 { 28 } else { 27 };
        let mut raw_v = good.clone();
        raw_v[64] -= 27;
        let short = good[..64].to_vec();
        for bad in [high_s, raw_v, short, Vec::new()] {
            let call = IAgentRegistry::registerCall { agentSignature: bad.into(), ..call.clone() };
            f.try_register(owner, &call)
                .expect_revert(IAgentRegistry::AgentRegistryInvalidSignature { agent });
        }
        f.try_register(owner, &call).unwrap();
    }

    #[test]
    fn register_rejects_the_zero_agent_and_bonds_below_the_minimum() {
        let mut f = RegistryFixture::new();
        let key = agent_key(0);
        let owner = f.owner;
        let below = min_bond() - U256::from(1);
        let call = f.registration(&key, owner, below);
        f.try_register(owner, &call).expect_revert(IAgentRegistry::AgentRegistryBondBelowMinimum {
            bond: below,
            minBond: min_bond(),
        });
        let zero = IAgentRegistry::registerCall { agent: Address::ZERO, ..call };
        f.try_register(owner, &zero).expect_revert(IAgentRegistry::AgentRegistryZeroAddress {});
    }

    #[test]
    fn a_key_registers_once_ever_even_after_withdrawal_or_slash() {
        let mut f = RegistryFixture::new();
        let owner = f.owner;
        let (withdrawn, slashed, live) = (agent_key(0), agent_key(1), agent_key(2));
        let calls: Vec<_> = [&withdrawn, &slashed, &live]
            .iter()
            .map(|k| f.registration(k, owner, min_bond()))
            .collect();
        for call in &calls {
            f.try_register(owner, call).unwrap();
        }
        f.act(owner, &IAgentRegistry::requestUnbondCall { agent: withdrawn.address() }).unwrap();
        f.chain.advance_time(UNBOND_DELAY);
        f.act(owner, &IAgentRegistry::withdrawBondCall { agent: withdrawn.address() }).unwrap();
        f.slash(slashed.address()).unwrap();
        // The same signed registration replayed, and a fresh consent to another owner: both refused.
        for (key, call) in [&withdrawn, &slashed, &live].into_iter().zip(&calls) {
            let taken = IAgentRegistry::AgentRegistryAlreadyRegistered { agent: key.address() };
            f.try_register(owner, call).expect_revert(taken.clone());
            let other = f.other_owner;
            let fresh = f.registration(key, other, min_bond());
            f.try_register(other, &fresh).expect_revert(taken);
        }
        assert_eq!(f.eligible_count(), 1);
    }

    #[test]
    fn register_needs_the_owners_allowance() {
        let mut f = RegistryFixture::new();
        let key = agent_key(0);
        let stranger = f.chain.account(6);
        let call = f.registration(&key, stranger, min_bond());
        let registry = f.registry;
        f.try_register(stranger, &call).expect_revert(
            nsed_contracts::bounty_token::BountyToken::ERC20InsufficientAllowance {
                spender: registry,
                allowance: U256::ZERO,
                needed: min_bond(),
            },
        );
        assert_eq!(f.agent(key.address()).owner, Address::ZERO);
    }
}

mod bonds {
    use super::*;

    #[test]
    fn add_bond_grows_the_bond_from_the_owner_only() {
        let mut f = RegistryFixture::new();
        let agent = f.register(0);
        let (owner, other) = (f.owner, f.other_owner);
        let before = f.balance(owner);
        let receipt =
            f.act(owner, &IAgentRegistry::addBondCall { agent, amount: U256::from(7) }).unwrap();
        let event = receipt.event::<IAgentRegistry::AgentBonded>();
        assert_eq!(
            (event.agent, event.amount, event.bond),
            (agent, U256::from(7), min_bond() + U256::from(7))
        );
        assert!(receipt.events::<IAgentRegistry::EligibilityChanged>().is_empty());
        assert_eq!(f.agent(agent).bond, min_bond() + U256::from(7));
        assert_eq!(f.balance(owner), before - U256::from(7));
        f.act(other, &IAgentRegistry::addBondCall { agent, amount: U256::from(7) })
            .expect_revert(IAgentRegistry::AgentRegistryNotOwner { agent, caller: other });
        f.act(owner, &IAgentRegistry::addBondCall { agent, amount: U256::ZERO })
            .expect_revert(IAgentRegistry::AgentRegistryZeroAmount {});
        let unknown = Address::repeat_byte(0xee);
        f.act(owner, &IAgentRegistry::addBondCall { agent: unknown, amount: U256::from(1) })
            .expect_revert(IAgentRegistry::AgentRegistryUnknownAgent { agent: unknown });
    }

    #[test]
    fn unbonding_leaves_the_pool_at_once_and_withdrawal_waits_for_the_delay() {
        let mut f = RegistryFixture::new();
        let agents = f.register_range(0, 4);
        let (agent, owner) = (agents[0], f.owner);
        let before = f.balance(owner);
        f.act(owner, &IAgentRegistry::withdrawBondCall { agent })
            .expect_revert(IAgentRegistry::AgentRegistryNotUnbonding { agent });

        let receipt = f.act(owner, &IAgentRegistry::requestUnbondCall { agent }).unwrap();
        let withdrawable_at = f.chain.timestamp() + UNBOND_DELAY;
        let event = receipt.event::<IAgentRegistry::AgentUnbonding>();
        assert_eq!((event.agent, event.withdrawableAt), (agent, withdrawable_at));
        let left = receipt.event::<IAgentRegistry::EligibilityChanged>();
        assert_eq!((left.agent, left.eligible), (agent, false));
        assert!(!f.eligible(agent));
        assert_eq!(f.agent(agent).unbondingAt, withdrawable_at);
        // Never drawn while unbonding: a draw of every eligible seat is the three others.
        let mut others = agents[1..].to_vec();
        others.sort();
        for k in 0..20 {
            assert_eq!(f.draw(seed(k), 3).unwrap(), others);
        }
        let still = IAgentRegistry::AgentRegistryAlreadyUnbonding {
            agent,
            withdrawableAt: withdrawable_at,
        };
        f.act(owner, &IAgentRegistry::requestUnbondCall { agent }).expect_revert(still.clone());
        f.act(owner, &IAgentRegistry::addBondCall { agent, amount: U256::from(1) })
            .expect_revert(still.clone());
        f.act(owner, &IAgentRegistry::deactivateCall { agent }).unwrap();
        f.act(owner, &IAgentRegistry::reactivateCall { agent }).expect_revert(still);

        f.chain.warp(withdrawable_at - 1);
        f.act(owner, &IAgentRegistry::withdrawBondCall { agent }).expect_revert(
            IAgentRegistry::AgentRegistryStillBonding { agent, withdrawableAt: withdrawable_at },
        );
        let other = f.other_owner;
        f.chain.warp(withdrawable_at);
        f.act(other, &IAgentRegistry::withdrawBondCall { agent })
            .expect_revert(IAgentRegistry::AgentRegistryNotOwner { agent, caller: other });
        let receipt = f.act(owner, &IAgentRegistry::withdrawBondCall { agent }).unwrap();
        let event = receipt.event::<IAgentRegistry::AgentBondWithdrawn>();
        assert_eq!((event.agent, event.owner, event.amount), (agent, owner, min_bond()));
        assert_eq!(f.balance(owner), before + min_bond());
        assert_eq!(f.agent(agent).bond, U256::ZERO);
        let registry = f.registry;
        assert_eq!(f.balance(registry), min_bond() * U256::from(3));

        let gone = IAgentRegistry::AgentRegistryBondWithdrawn { agent };
        f.act(owner, &IAgentRegistry::withdrawBondCall { agent }).expect_revert(gone.clone());
        f.act(owner, &IAgentRegistry::reactivateCall { agent }).expect_revert(gone.clone());
        f.slash(agent).expect_revert(gone);
    }

    #[test]
    fn a_pending_unbond_keeps_the_delay_of_its_request() {
        let mut f = RegistryFixture::new();
        let agent = f.register(0);
        let (owner, guild) = (f.owner, f.guild);
        f.act(owner, &IAgentRegistry::requestUnbondCall { agent }).unwrap();
        let withdrawable_at = f.chain.timestamp() + UNBOND_DELAY;
        let longer = AgentRegistry::setBondParametersCall {
            minBond_: min_bond(),
            unbondDelay_: 10 * UNBOND_DELAY,
            reporterBps_: REPORTER_BPS,
        };
        f.act(guild, &longer).unwrap();
        f.chain.warp(withdrawable_at);
        f.act(owner, &IAgentRegistry::withdrawBondCall { agent }).unwrap();
    }

    #[test]
    fn an_unbonding_agent_can_still_be_slashed() {
        let mut f = RegistryFixture::new();
        let agent = f.register(0);
        let owner = f.owner;
        f.act(owner, &IAgentRegistry::requestUnbondCall { agent }).unwrap();
        f.chain.advance_time(UNBOND_DELAY - 1);
        let receipt = f.slash(agent).unwrap();
        assert_eq!(receipt.event::<IAgentRegistry::AgentSlashed>().amount, min_bond());
        // Already out of the pool: the slash changes no eligibility.
        assert!(receipt.events::<IAgentRegistry::EligibilityChanged>().is_empty());
        f.chain.advance_time(1);
        f.act(owner, &IAgentRegistry::withdrawBondCall { agent })
            .expect_revert(IAgentRegistry::AgentRegistryAlreadySlashed { agent });
    }
}

mod service {
    use super::*;

    #[test]
    fn deactivate_and_reactivate_move_the_agent_out_of_and_into_the_pool() {
        let mut f = RegistryFixture::new();
        let agents = f.register_range(0, 3);
        let (agent, owner, other) = (agents[1], f.owner, f.other_owner);
        f.act(other, &IAgentRegistry::deactivateCall { agent })
            .expect_revert(IAgentRegistry::AgentRegistryNotOwner { agent, caller: other });
        let receipt = f.act(owner, &IAgentRegistry::deactivateCall { agent }).unwrap();
        assert_eq!(receipt.event::<IAgentRegistry::AgentDeactivated>().agent, agent);
        assert!(!receipt.event::<IAgentRegistry::EligibilityChanged>().eligible);
        assert!(!f.agent(agent).active);
        assert!(!f.eligible(agent));
        assert_eq!(f.eligible_count(), 2);
        assert_draw_reverts(
            f.draw(seed(0), 3),
            IAgentRegistry::AgentRegistryNotEnoughEligibleAgents {
                count: U256::from(3),
                eligible: U256::from(2),
            },
        );
        f.act(owner, &IAgentRegistry::deactivateCall { agent })
            .expect_revert(IAgentRegistry::AgentRegistryAgentInactive { agent });

        let receipt = f.act(owner, &IAgentRegistry::reactivateCall { agent }).unwrap();
        assert_eq!(receipt.event::<IAgentRegistry::AgentReactivated>().agent, agent);
        assert!(receipt.event::<IAgentRegistry::EligibilityChanged>().eligible);
        assert!(f.eligible(agent));
        let mut all = agents;
        all.sort();
        assert_eq!(f.draw(seed(0), 3).unwrap(), all);
        f.act(owner, &IAgentRegistry::reactivateCall { agent })
            .expect_revert(IAgentRegistry::AgentRegistryAgentActive { agent });
    }

    #[test]
    fn swap_removal_keeps_the_pool_consistent() {
        let mut f = RegistryFixture::new();
        let agents = f.register_range(0, 6);
        let owner = f.owner;
        // Remove the first, the last and a middle one, then bring one back.
        for &agent in &[agents[0], agents[5], agents[2]] {
            f.act(owner, &IAgentRegistry::deactivateCall { agent }).unwrap();
        }
        f.act(owner, &IAgentRegistry::reactivateCall { agent: agents[0] }).unwrap();
        let mut pool = f.pool();
        pool.sort();
        let mut expected = vec![agents[0], agents[1], agents[3], agents[4]];
        expected.sort();
        assert_eq!(pool, expected);
        for agent in agents {
            assert_eq!(f.eligible(agent), expected.contains(&agent));
        }
    }
}

mod slash {
    use super::*;

    #[test]
    fn slash_splits_the_whole_bond_between_reporter_and_guild_once() {
        let mut f = RegistryFixture::new();
        let agents = f.register_range(0, 2);
        let (agent, owner, guild, reporter) = (agents[0], f.owner, f.guild, f.reporter);
        // An odd top-up, so the reporter's share rounds down.
        f.act(owner, &IAgentRegistry::addBondCall { agent, amount: U256::from(19) }).unwrap();
        let bond = min_bond() + U256::from(19);
        let (guild_before, reporter_before) = (f.balance(guild), f.balance(reporter));
        let receipt = f.slash(agent).unwrap();
        let share = bond * U256::from(REPORTER_BPS) / U256::from(10_000);
        let event = receipt.event::<IAgentRegistry::AgentSlashed>();
        assert_eq!((event.agent, event.reporter), (agent, reporter));
        assert_eq!((event.amount, event.reporterShare), (bond, share));
        assert!(!receipt.event::<IAgentRegistry::EligibilityChanged>().eligible);
        assert_eq!(f.balance(reporter), reporter_before + share);
        assert_eq!(f.balance(guild), guild_before + bond - share);
        let registry = f.registry;
        assert_eq!(f.balance(registry), min_bond());
        let stored = f.agent(agent);
        assert_eq!((stored.slashed, stored.bond), (true, U256::ZERO));
        assert!(!f.eligible(agent));

        let again = IAgentRegistry::AgentRegistryAlreadySlashed { agent };
        f.slash(agent).expect_revert(again.clone());
        f.act(owner, &IAgentRegistry::requestUnbondCall { agent }).expect_revert(again.clone());
        f.act(owner, &IAgentRegistry::reactivateCall { agent }).expect_revert(again.clone());
        f.act(owner, &IAgentRegistry::addBondCall { agent, amount: U256::from(1) })
            .expect_revert(again);
        // refreshEligibility cannot bring it back either.
        f.act(owner, &IAgentRegistry::refreshEligibilityCall { agent }).unwrap();
        assert!(!f.eligible(agent));
    }

    #[test]
    fn without_a_reporter_the_guild_takes_the_whole_bond() {
        let mut f = RegistryFixture::new();
        let agent = f.register(0);
        let (slasher, guild, registry) = (f.slasher, f.guild, f.registry);
        let before = f.balance(guild);
        let call = IAgentRegistry::slashCall { agent, reporter: Address::ZERO };
        let receipt = f.chain.send(slasher, registry, &call).unwrap();
        assert_eq!(receipt.event::<IAgentRegistry::AgentSlashed>().reporterShare, U256::ZERO);
        assert_eq!(f.balance(guild), before + min_bond());
    }

    #[test]
    fn only_the_slasher_role_slashes_and_only_known_agents() {
        let mut f = RegistryFixture::new();
        let agent = f.register(0);
        let (owner, guild, registry) = (f.owner, f.guild, f.registry);
        let role = f.chain.call(guild, registry, &AgentRegistry::SLASHER_ROLECall {}).unwrap();
        for caller in [owner, guild] {
            let call = IAgentRegistry::slashCall { agent, reporter: caller };
            f.chain.send(caller, registry, &call).expect_revert(unauthorized(caller, role));
        }
        let unknown = Address::repeat_byte(0xee);
        f.slash(unknown)
            .expect_revert(IAgentRegistry::AgentRegistryUnknownAgent { agent: unknown });
        f.slash(agent).unwrap();
    }
}

mod parameters {
    use super::*;

    fn params(min: U256, delay: u64, bps: u16) -> AgentRegistry::setBondParametersCall {
        AgentRegistry::setBondParametersCall {
            minBond_: min,
            unbondDelay_: delay,
            reporterBps_: bps,
        }
    }

    #[test]
    fn the_guild_sets_the_bond_parameters_within_bounds() {
        let mut f = RegistryFixture::new();
        let (guild, owner, registry) = (f.guild, f.owner, f.registry);
        let receipt = f.act(guild, &params(U256::from(5), 60, 10_000)).unwrap();
        let event = receipt.event::<AgentRegistry::BondParametersChanged>();
        assert_eq!(
            (event.minBond, event.unbondDelay, event.reporterBps),
            (U256::from(5), 60, 10_000)
        );
        assert_eq!(
            f.chain.call(guild, registry, &IAgentRegistry::minBondCall {}).unwrap(),
            U256::from(5)
        );
        assert_eq!(f.chain.call(guild, registry, &IAgentRegistry::unbondDelayCall {}).unwrap(), 60);
        assert_eq!(
            f.chain.call(guild, registry, &IAgentRegistry::reporterBpsCall {}).unwrap(),
            10_000
        );

        f.act(owner, &params(U256::from(5), 60, 0)).expect_revert(unauthorized(owner, B256::ZERO));
        let year = 365 * 86_400;
        for (min, delay, bps) in
            [(U256::ZERO, 60, 0), (U256::from(1), year + 1, 0), (U256::from(1), 0, 10_001)]
        {
            f.act(guild, &params(min, delay, bps)).expect_revert(
                IAgentRegistry::AgentRegistryInvalidBondParameters {
                    minBond: min,
                    unbondDelay: delay,
                    reporterBps: bps,
                },
            );
        }
        f.act(guild, &params(U256::from(1), year, 0)).unwrap();
    }

    #[test]
    fn the_constructor_rejects_zero_addresses_and_invalid_parameters() {
        let mut f = RegistryFixture::new();
        let (guild, token) = (f.guild, f.token);
        let valid = AgentRegistry::constructorCall {
            token_: token,
            guild_: guild,
            minBond_: min_bond(),
            unbondDelay_: UNBOND_DELAY,
            reporterBps_: REPORTER_BPS,
        };
        let mut deploy = |args: AgentRegistry::constructorCall| {
            f.chain.deploy_with_receipt(guild, &AgentRegistry::BYTECODE, &args)
        };
        deploy(AgentRegistry::constructorCall { token_: Address::ZERO, ..valid })
            .expect_revert(IAgentRegistry::AgentRegistryZeroAddress {});
        deploy(AgentRegistry::constructorCall { guild_: Address::ZERO, ..valid })
            .expect_revert(IAgentRegistry::AgentRegistryZeroAddress {});
        deploy(AgentRegistry::constructorCall { minBond_: U256::ZERO, ..valid }).expect_revert(
            IAgentRegistry::AgentRegistryInvalidBondParameters {
                minBond: U256::ZERO,
                unbondDelay: UNBOND_DELAY,
                reporterBps: REPORTER_BPS,
            },
        );
        let deployed = deploy(valid).unwrap();
        let event = deployed.event::<AgentRegistry::BondParametersChanged>();
        assert_eq!(
            (event.minBond, event.unbondDelay, event.reporterBps),
            (min_bond(), UNBOND_DELAY, REPORTER_BPS)
        );
        let registry = deployed.ret;
        let admin = f
            .chain
            .call(guild, registry, &AgentRegistry::hasRoleCall { role: B256::ZERO, account: guild })
            .unwrap();
        assert!(admin);
        assert_eq!(f.chain.call(guild, registry, &AgentRegistry::guildCall {}).unwrap(), guild);
        assert_eq!(f.chain.call(guild, registry, &AgentRegistry::tokenCall {}).unwrap(), token);
    }

    /// The documented choice: a raised minimum applies to agents already in the pool only when
    /// their record next changes or someone refreshes them; until then they stay drawable.
    #[test]
    fn a_raised_minimum_bond_applies_to_pooled_agents_at_their_next_change() {
        let mut f = RegistryFixture::new();
        let agents = f.register_range(0, 4);
        let (guild, owner, anyone) = (f.guild, f.owner, f.chain.account(6));
        let raised = min_bond() * U256::from(2);
        f.act(guild, &params(raised, UNBOND_DELAY, REPORTER_BPS)).unwrap();

        // Still drawable, with no rescan.
        assert_eq!(f.eligible_count(), 4);
        let mut all = agents.clone();
        all.sort();
        assert_eq!(f.draw(seed(1), 4).unwrap(), all);
        // New registrations need the new minimum at once.
        let key = agent_key(10);
        let call = f.registration(&key, owner, min_bond());
        f.try_register(owner, &call).expect_revert(IAgentRegistry::AgentRegistryBondBelowMinimum {
            bond: min_bond(),
            minBond: raised,
        });

        // Anyone may refresh an under-bonded agent out of the pool; a refresh of a qualifying or
        // unknown agent does nothing.
        let receipt =
            f.act(anyone, &IAgentRegistry::refreshEligibilityCall { agent: agents[0] }).unwrap();
        let left = receipt.event::<IAgentRegistry::EligibilityChanged>();
        assert_eq!((left.agent, left.eligible), (agents[0], false));
        let unknown = Address::repeat_byte(0xee);
        let receipt =
            f.act(anyone, &IAgentRegistry::refreshEligibilityCall { agent: unknown }).unwrap();
        assert!(receipt.logs.is_empty());
        assert_eq!(f.eligible_count(), 3);

        // The agent's own next change re-evaluates it too: a top-up short of the new minimum
        // takes agent 1 out, one that reaches it keeps agent 2 in.
        let receipt = f
            .act(owner, &IAgentRegistry::addBondCall { agent: agents[1], amount: U256::from(1) })
            .unwrap();
        assert!(!receipt.event::<IAgentRegistry::EligibilityChanged>().eligible);
        let receipt = f
            .act(owner, &IAgentRegistry::addBondCall { agent: agents[2], amount: min_bond() })
            .unwrap();
        assert!(receipt.events::<IAgentRegistry::EligibilityChanged>().is_empty());
        assert_eq!(f.eligible_count(), 2);

        // Reactivation needs the new minimum.
        f.act(owner, &IAgentRegistry::deactivateCall { agent: agents[3] }).unwrap();
        f.act(owner, &IAgentRegistry::reactivateCall { agent: agents[3] }).expect_revert(
            IAgentRegistry::AgentRegistryBondBelowMinimum { bond: min_bond(), minBond: raised },
        );

        // Lowering the minimum again: a refresh (or top-up) brings the agents back.
        f.act(guild, &params(min_bond(), UNBOND_DELAY, REPORTER_BPS)).unwrap();
        for agent in [agents[0], agents[1]] {
            let receipt = f.act(anyone, &IAgentRegistry::refreshEligibilityCall { agent }).unwrap();
            assert!(receipt.event::<IAgentRegistry::EligibilityChanged>().eligible);
        }
        // A deactivated agent stays out: its owner took it out of service.
        f.act(anyone, &IAgentRegistry::refreshEligibilityCall { agent: agents[3] }).unwrap();
        assert!(!f.eligible(agents[3]));
        assert_eq!(f.eligible_count(), 3);
    }
}

mod draw {
    use super::*;

    #[test]
    fn a_draw_returns_distinct_eligible_agents_in_ascending_order() {
        let mut f = RegistryFixture::new();
        let agents = f.register_range(0, 12);
        let owner = f.owner;
        for &agent in &agents[..3] {
            f.act(owner, &IAgentRegistry::deactivateCall { agent }).unwrap();
        }
        for k in 0..30 {
            for count in [1usize, 3, 9] {
                let seats = f.draw(seed(k), count).unwrap();
                assert_eq!(seats.len(), count);
                assert!(seats.windows(2).all(|w| w[0] < w[1]), "sorted and distinct: {seats:?}");
                assert!(seats.iter().all(|s| agents[3..].contains(s)), "eligible only: {seats:?}");
            }
        }
    }

    #[test]
    fn a_draw_is_the_documented_sparse_fisher_yates_shuffle() {
        let mut f = RegistryFixture::new();
        f.register_range(0, 20);
        let owner = f.owner;
        // Some swap-removals, so the pool order is not the registration order.
        for index in [0, 7, 19] {
            let agent = agent_key(index).address();
            f.act(owner, &IAgentRegistry::deactivateCall { agent }).unwrap();
        }
        let pool = f.pool();
        assert_eq!(pool.len(), 17);
        for k in 0..40 {
            for count in [1usize, 2, 5, 16] {
                assert_eq!(f.draw(seed(k), count).unwrap(), reference_draw(&pool, seed(k), count));
            }
        }
        // The whole pool at once (count = n) is every eligible agent.
        let mut sorted = pool.clone();
        sorted.sort();
        f.register_range(20, 21);
        f.act(owner, &IAgentRegistry::deactivateCall { agent: agent_key(20).address() }).unwrap();
        assert_eq!(f.draw(seed(99), 16).unwrap(), reference_draw(&f.pool(), seed(99), 16));
        assert_eq!(reference_draw(&pool, seed(3), 17), sorted);
    }

    #[test]
    fn a_draw_reverts_when_too_few_agents_are_eligible_or_too_many_seats_are_asked() {
        let mut f = RegistryFixture::new();
        let too_few =
            |count: u64, eligible: u64| IAgentRegistry::AgentRegistryNotEnoughEligibleAgents {
                count: U256::from(count),
                eligible: U256::from(eligible),
            };
        assert_draw_reverts(f.draw(seed(0), 1), too_few(1, 0));
        f.register_range(0, 3);
        assert_draw_reverts(f.draw(seed(0), 4), too_few(4, 3));
        assert_draw_reverts(
            f.draw(seed(0), 17),
            IAgentRegistry::AgentRegistryInvalidSeatCount {
                count: U256::from(17),
                max: U256::from(16),
            },
        );
        assert!(f.draw(seed(0), 0).unwrap().is_empty());
        assert_eq!(f.draw(seed(0), 3).unwrap().len(), 3);
    }
}

/// The registry's entries of the committed gas snapshot (its constructor is measured with the
/// other deployments): every state-changing function, and
/// `drawSeats` for 3 and 8 seats over pools of 10, 1,000 and 10,000 eligible agents.
///
/// The pools of 1,000 and 10,000 are filled through [`AgentRegistryHarness`], which enrolls
/// agents without signatures or transfers: registering ten thousand agents one signed
/// transaction at a time would take most of a minute on an unoptimised revm. The harness has the
/// registry's selectors (its filler is the fallback), and a draw over a harness pool holding the
/// registry's own ten agents in the same order is checked to cost exactly what the registry's
/// draw costs.
pub(crate) fn record_gas(snap: &mut GasSnapshot) {
    let mut f = RegistryFixture::new();
    let (guild, owner) = (f.guild, f.owner);
    let register = |f: &mut RegistryFixture, index: usize| {
        let call = f.registration(&agent_key(index), owner, min_bond());
        f.try_register(owner, &call).unwrap().gas_used
    };
    snap.record("AgentRegistry::register (first agent)", register(&mut f, 0));
    snap.record("AgentRegistry::register", register(&mut f, 1));
    for index in 2..13 {
        register(&mut f, index);
    }
    let agent = |index: usize| agent_key(index).address();
    let add = IAgentRegistry::addBondCall { agent: agent(2), amount: U256::from(1) };
    snap.record("AgentRegistry::addBond", f.act(owner, &add).unwrap().gas_used);
    let deactivate = IAgentRegistry::deactivateCall { agent: agent(3) };
    snap.record("AgentRegistry::deactivate", f.act(owner, &deactivate).unwrap().gas_used);
    let reactivate = IAgentRegistry::reactivateCall { agent: agent(3) };
    snap.record("AgentRegistry::reactivate", f.act(owner, &reactivate).unwrap().gas_used);
    let unbond = IAgentRegistry::requestUnbondCall { agent: agent(4) };
    snap.record("AgentRegistry::requestUnbond", f.act(owner, &unbond).unwrap().gas_used);
    f.chain.advance_time(UNBOND_DELAY);
    let withdraw = IAgentRegistry::withdrawBondCall { agent: agent(4) };
    snap.record("AgentRegistry::withdrawBond", f.act(owner, &withdraw).unwrap().gas_used);
    snap.record("AgentRegistry::slash (reporter and guild)", f.slash(agent(5)).unwrap().gas_used);
    let raise = AgentRegistry::setBondParametersCall {
        minBond_: min_bond() * U256::from(2),
        unbondDelay_: UNBOND_DELAY,
        reporterBps_: REPORTER_BPS,
    };
    snap.record("AgentRegistry::setBondParameters", f.act(guild, &raise).unwrap().gas_used);
    let refresh = IAgentRegistry::refreshEligibilityCall { agent: agent(6) };
    let anyone = f.chain.account(6);
    snap.record(
        "AgentRegistry::refreshEligibility (under-bonded agent leaves)",
        f.act(anyone, &refresh).unwrap().gas_used,
    );
    // Agents 0..13 less the withdrawn, the slashed and the refreshed one: ten eligible.
    let pool = f.pool();
    assert_eq!(pool.len(), 10);

    let harness = deploy_harness(&mut f);
    enroll(&mut f, harness, &pool);
    for count in [3usize, 8] {
        let registry = f.registry;
        let gas = draw_gas(&mut f, registry, count);
        assert_eq!(
            draw_gas(&mut f, harness, count),
            gas,
            "the harness draws at the registry's cost"
        );
        snap.record(format!("AgentRegistry::drawSeats ({count} seats, 10 eligible)"), gas);
    }

    let synthetic: Vec<Address> = (0..10_000u64)
        .map(|k| Address::from_word(keccak256(("synthetic agent", U256::from(k)).abi_encode())))
        .collect();
    let harness = deploy_harness(&mut f);
    let mut filled = 0;
    for size in [1_000usize, 10_000] {
        enroll(&mut f, harness, &synthetic[filled..size]);
        filled = size;
        for count in [3usize, 8] {
            let gas = draw_gas(&mut f, harness, count);
            snap.record(format!("AgentRegistry::drawSeats ({count} seats, {size} eligible)"), gas);
        }
    }
}

fn registry_args(f: &RegistryFixture) -> AgentRegistry::constructorCall {
    AgentRegistry::constructorCall {
        token_: f.token,
        guild_: f.guild,
        minBond_: min_bond(),
        unbondDelay_: UNBOND_DELAY,
        reporterBps_: REPORTER_BPS,
    }
}

fn deploy_harness(f: &mut RegistryFixture) -> Address {
    let args = registry_args(f);
    let args = AgentRegistryHarness::constructorCall {
        token_: args.token_,
        guild_: args.guild_,
        minBond_: args.minBond_,
        unbondDelay_: args.unbondDelay_,
        reporterBps_: args.reporterBps_,
    };
    let guild = f.guild;
    f.chain.deploy(guild, &AgentRegistryHarness::BYTECODE, &args).expect("the harness deploys")
}

/// Enrolls `agents` into the harness's pool, in order, a few hundred per transaction.
fn enroll(f: &mut RegistryFixture, harness: Address, agents: &[Address]) {
    let guild = f.guild;
    for batch in agents.chunks(250) {
        let data = Bytes::from(batch.to_vec().abi_encode());
        f.chain.send_raw(guild, harness, data, U256::ZERO).expect("the harness enrolls");
    }
}

/// Gas of `drawSeats(seed(7), count)` on `registry`, as a transaction.
fn draw_gas(f: &mut RegistryFixture, registry: Address, count: usize) -> u64 {
    let call = IAgentRegistry::drawSeatsCall { seed: seed(7), count: U256::from(count) };
    let guild = f.guild;
    f.chain.send(guild, registry, &call).expect("the draw succeeds").gas_used
}
