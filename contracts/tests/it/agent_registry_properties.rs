//! Property tests of the AgentRegistry: a plain model of every agent's life cycle predicts each
//! call's success and the pool after it, draws only ever seat eligible agents (exactly the
//! documented shuffle), and over many seeds every eligible agent is drawn with probability
//! `count / n` (a chi-square test on fixed seeds, so it cannot flake).

use alloy::primitives::{Address, U256};
use nsed_contracts::{agent_registry::AgentRegistry, i_agent_registry::IAgentRegistry};
use proptest::prelude::*;

use crate::{agent_registry::reference_draw, agent_registry_fixture::*};

/// One step against a pool of registered agents; `agent` is reduced modulo their number.
#[derive(Debug, Clone)]
enum Op {
    Deactivate {
        agent: usize,
    },
    Reactivate {
        agent: usize,
    },
    RequestUnbond {
        agent: usize,
    },
    Withdraw {
        agent: usize,
    },
    Slash {
        agent: usize,
    },
    AddBond {
        agent: usize,
        amount: u64,
    },
    Refresh {
        agent: usize,
    },
    /// The guild sets the minimum bond to `MIN_BOND * tenths / 10` tokens.
    SetMinBond {
        tenths: u64,
    },
    Warp {
        seconds: u64,
    },
    Draw {
        seed: u64,
        count: usize,
    },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let agent = 0usize..16;
    prop_oneof![
        2 => agent.clone().prop_map(|agent| Op::Deactivate { agent }),
        2 => agent.clone().prop_map(|agent| Op::Reactivate { agent }),
        1 => agent.clone().prop_map(|agent| Op::RequestUnbond { agent }),
        1 => agent.clone().prop_map(|agent| Op::Withdraw { agent }),
        1 => agent.clone().prop_map(|agent| Op::Slash { agent }),
        2 => (agent.clone(), prop_oneof![Just(0u64), 1u64..=150])
            .prop_map(|(agent, amount)| Op::AddBond { agent, amount }),
        1 => agent.prop_map(|agent| Op::Refresh { agent }),
        1 => prop_oneof![Just(10u64), 5u64..=25].prop_map(|tenths| Op::SetMinBond { tenths }),
        1 => prop_oneof![0u64..3_600, Just(UNBOND_DELAY)].prop_map(|seconds| Op::Warp { seconds }),
        4 => (any::<u64>(), 0usize..=17).prop_map(|(seed, count)| Op::Draw { seed, count }),
    ]
}

/// What the model knows of one agent.
#[derive(Debug, Clone)]
struct AgentModel {
    address: Address,
    active: bool,
    slashed: bool,
    unbonding_at: u64,
    /// In whole tokens; 0 once withdrawn or slashed.
    bond: u64,
    in_pool: bool,
}

impl AgentModel {
    /// Neither slashed nor withdrawn: its owner may still act on it.
    const fn live(&self) -> bool {
        !self.slashed && self.bond > 0
    }

    /// The registry's rule for the pool, in whole tokens of `min_bond` tenths.
    const fn qualifies(&self, min_tenths: u64) -> bool {
        self.active && !self.slashed && self.unbonding_at == 0 && self.bond * 10 >= min_tenths
    }
}

fn registry_min(tenths: u64) -> U256 {
    tokens(MIN_BOND * tenths) / U256::from(10)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Every owner action, slash, refresh and parameter change succeeds exactly when the model
    /// says so; afterwards the pool is exactly the model's; every draw seats `count` distinct,
    /// sorted, eligible agents, exactly the documented shuffle of the pool, or reverts when the
    /// pool is too small.
    #[test]
    fn the_pool_follows_the_model_and_draws_seat_only_eligible_agents(
        agents in 3usize..=12,
        ops in prop::collection::vec(op_strategy(), 1..40),
    ) {
        let mut f = RegistryFixture::new();
        let (owner, guild) = (f.owner, f.guild);
        let mut models: Vec<AgentModel> = f
            .register_range(0, agents)
            .into_iter()
            .map(|address| AgentModel {
                address,
                active: true,
                slashed: false,
                unbonding_at: 0,
                bond: MIN_BOND,
                in_pool: true,
            })
            .collect();
        // The minimum bond in tenths of MIN_BOND tokens.
        let mut min_tenths = MIN_BOND * 10;
        for op in ops {
            let now = f.chain.timestamp();
            match op {
                Op::Deactivate { agent } => {
                    let m = &mut models[agent % agents];
                    let ok = m.live() && m.active;
                    let result = f.act(owner, &IAgentRegistry::deactivateCall { agent: m.address });
                    prop_assert_eq!(result.is_ok(), ok, "deactivate {:?}", m);
                    if ok { m.active = false; m.in_pool = m.qualifies(min_tenths); }
                }
                Op::Reactivate { agent } => {
                    let m = &mut models[agent % agents];
                    let ok = m.live() && !m.active && m.unbonding_at == 0 && m.bond * 10 >= min_tenths;
                    let result = f.act(owner, &IAgentRegistry::reactivateCall { agent: m.address });
                    prop_assert_eq!(result.is_ok(), ok, "reactivate {:?}", m);
                    if ok { m.active = true; m.in_pool = m.qualifies(min_tenths); }
                }
                Op::RequestUnbond { agent } => {
                    let m = &mut models[agent % agents];
                    let ok = m.live() && m.unbonding_at == 0;
                    let result = f.act(owner, &IAgentRegistry::requestUnbondCall { agent: m.address });
                    prop_assert_eq!(result.is_ok(), ok, "requestUnbond {:?}", m);
                    if ok { m.unbonding_at = now + UNBOND_DELAY; m.in_pool = false; }
                }
                Op::Withdraw { agent } => {
                    let m = &mut models[agent % agents];
                    let ok = m.live() && m.unbonding_at != 0 && now >= m.unbonding_at;
                    let result = f.act(owner, &IAgentRegistry::withdrawBondCall { agent: m.address });
                    prop_assert_eq!(result.is_ok(), ok, "withdraw {:?}", m);
                    if ok { m.bond = 0; }
                }
                Op::Slash { agent } => {
                    let m = &mut models[agent % agents];
                    let ok = m.live();
                    let result = f.slash(m.address);
                    prop_assert_eq!(result.is_ok(), ok, "slash {:?}", m);
                    if ok { m.slashed = true; m.bond = 0; m.in_pool = false; }
                }
                Op::AddBond { agent, amount } => {
                    let m = &mut models[agent % agents];
                    let ok = m.live() && m.unbonding_at == 0 && amount > 0;
                    let call = IAgentRegistry::addBondCall { agent: m.address, amount: tokens(amount) };
                    let result = f.act(owner, &call);
                    prop_assert_eq!(result.is_ok(), ok, "addBond {:?}", m);
                    if ok { m.bond += amount; m.in_pool = m.qualifies(min_tenths); }
                }
                Op::Refresh { agent } => {
                    let m = &mut models[agent % agents];
                    let anyone = f.chain.account(6);
                    f.act(anyone, &IAgentRegistry::refreshEligibilityCall { agent: m.address }).unwrap();
                    m.in_pool = m.qualifies(min_tenths);
                }
                Op::SetMinBond { tenths } => {
                    let call = AgentRegistry::setBondParametersCall {
                        minBond_: registry_min(tenths),
                        unbondDelay_: UNBOND_DELAY,
                        reporterBps_: REPORTER_BPS,
                    };
                    f.act(guild, &call).unwrap();
                    // No rescan: pooled agents stay until their next change.
                    min_tenths = MIN_BOND * tenths;
                }
                Op::Warp { seconds } => f.chain.advance_time(seconds),
                Op::Draw { seed: k, count } => {
                    let eligible: Vec<Address> =
                        models.iter().filter(|m| m.in_pool).map(|m| m.address).collect();
                    let result = f.draw(seed(k), count);
                    if count > eligible.len() || count > 16 {
                        prop_assert!(result.is_err(), "drew {} of {}", count, eligible.len());
                    } else {
                        let seats = result.unwrap();
                        prop_assert_eq!(seats.len(), count);
                        prop_assert!(seats.windows(2).all(|w| w[0] < w[1]), "{:?}", seats);
                        prop_assert!(seats.iter().all(|s| eligible.contains(s)), "{:?}", seats);
                        let pool = f.pool();
                        prop_assert_eq!(seats, reference_draw(&pool, seed(k), count));
                    }
                }
            }
            for m in &models {
                prop_assert_eq!(f.eligible(m.address), m.in_pool, "{:?}", m);
            }
            prop_assert_eq!(f.eligible_count(), models.iter().filter(|m| m.in_pool).count());
            let mut pool = f.pool();
            pool.sort();
            pool.dedup();
            prop_assert_eq!(pool.len(), f.eligible_count(), "the pool holds no duplicates");
        }
    }
}

/// Pearson's statistic for draws of `count` seats out of `n` over `draws` seeds, scaled for
/// sampling without replacement. Each agent's count is Binomial(draws, p) with `p = count / n`,
/// and two agents' counts have covariance `−draws·p(1 − p)/(n − 1)`, so the covariance matrix is
/// `draws·p(1 − p)·n/(n − 1)·(I − J/n)`, and
/// `Σ (O − E)² · (n − 1) / (n · draws · p(1 − p))` is asymptotically χ² with `n − 1` degrees of
/// freedom under a uniform draw (the plain `Σ (O − E)²/E` would be `(1 − p)` times smaller).
fn chi_square(observed: &[u64], draws: u64, count: usize) -> f64 {
    let n = observed.len() as f64;
    let p = count as f64 / n;
    let expected = draws as f64 * p;
    let sum: f64 = observed.iter().map(|&o| (o as f64 - expected).powi(2)).sum();
    sum * (n - 1.0) / (n * draws as f64 * p * (1.0 - p))
}

/// Upper 0.001 quantiles of χ² with `df` degrees of freedom, for the pools below.
fn chi_square_critical_0_001(df: usize) -> f64 {
    match df {
        9 => 27.877,
        17 => 40.790,
        _ => panic!("no critical value tabulated for {df} degrees of freedom"),
    }
}

/// Registers `registered` agents and makes the ones at `ineligible` positions ineligible in every
/// way there is: the last one under-bonded after a raised minimum and refreshed out, the others in
/// turn deactivated, unbonding, slashed and withdrawn.
fn mixed_pool(registered: usize, ineligible: &[usize]) -> (RegistryFixture, Vec<Address>) {
    let mut f = RegistryFixture::new();
    let agents = f.register_range(0, registered);
    let (owner, guild, anyone) = (f.owner, f.guild, f.chain.account(6));
    let set_min = |min: U256| AgentRegistry::setBondParametersCall {
        minBond_: min,
        unbondDelay_: UNBOND_DELAY,
        reporterBps_: REPORTER_BPS,
    };
    // The last listed agent stays at the old minimum; everyone else tops up before it rises.
    let (under_bonded, others) = ineligible.split_last().expect("at least one ineligible agent");
    for (k, &agent) in agents.iter().enumerate() {
        if k != *under_bonded {
            let call = IAgentRegistry::addBondCall { agent, amount: tokens(MIN_BOND) };
            f.act(owner, &call).unwrap();
        }
    }
    f.act(guild, &set_min(tokens(2 * MIN_BOND))).unwrap();
    f.act(anyone, &IAgentRegistry::refreshEligibilityCall { agent: agents[*under_bonded] })
        .unwrap();
    for (way, &k) in others.iter().enumerate() {
        let agent = agents[k];
        match way % 4 {
            0 => {
                f.act(owner, &IAgentRegistry::deactivateCall { agent }).unwrap();
            }
            1 => {
                f.act(owner, &IAgentRegistry::requestUnbondCall { agent }).unwrap();
            }
            2 => {
                f.slash(agent).unwrap();
            }
            _ => {
                f.act(owner, &IAgentRegistry::requestUnbondCall { agent }).unwrap();
                f.chain.advance_time(UNBOND_DELAY);
                f.act(owner, &IAgentRegistry::withdrawBondCall { agent }).unwrap();
            }
        }
    }
    let eligible: Vec<Address> = agents
        .iter()
        .enumerate()
        .filter(|(k, _)| !ineligible.contains(k))
        .map(|(_, &a)| a)
        .collect();
    assert_eq!(f.eligible_count(), eligible.len());
    (f, agents)
}

/// Draws `count` seats for seeds `0..draws` and returns how often each of `agents` was seated.
fn seat_counts(f: &mut RegistryFixture, agents: &[Address], count: usize, draws: u64) -> Vec<u64> {
    let mut counts = vec![0u64; agents.len()];
    for k in 0..draws {
        for seat in f.draw(seed(k), count).unwrap() {
            let index =
                agents.iter().position(|&a| a == seat).expect("seats are registered agents");
            counts[index] += 1;
        }
    }
    counts
}

/// Checks the counts of the eligible agents against `count / n` and that no ineligible agent was
/// ever seated.
#[track_caller]
fn assert_uniform(counts: &[u64], ineligible: &[usize], count: usize, draws: u64) {
    for &k in ineligible {
        assert_eq!(counts[k], 0, "ineligible agent {k} was drawn");
    }
    let observed: Vec<u64> = counts
        .iter()
        .enumerate()
        .filter(|(k, _)| !ineligible.contains(k))
        .map(|(_, &c)| c)
        .collect();
    let statistic = chi_square(&observed, draws, count);
    let critical = chi_square_critical_0_001(observed.len() - 1);
    eprintln!(
        "draw uniformity: {count} of {} over {draws} seeds, chi-square {statistic:.2} (critical {critical})",
        observed.len()
    );
    assert!(observed.iter().all(|&o| o > 0), "every eligible agent is drawn: {observed:?}");
    assert!(statistic < critical, "chi-square {statistic} >= {critical}: {observed:?}");
}

#[test]
fn three_seats_out_of_eighteen_are_uniform_over_the_eligible_agents() {
    let ineligible = [0, 4, 9, 13, 17, 23];
    let (mut f, agents) = mixed_pool(24, &ineligible);
    let draws = 1_200;
    let counts = seat_counts(&mut f, &agents, 3, draws);
    assert_uniform(&counts, &ineligible, 3, draws);
}

#[test]
fn eight_seats_out_of_ten_are_uniform_over_the_eligible_agents() {
    let ineligible = [2, 11];
    let (mut f, agents) = mixed_pool(12, &ineligible);
    let draws = 500;
    let counts = seat_counts(&mut f, &agents, 8, draws);
    assert_uniform(&counts, &ineligible, 8, draws);
}
