//! A deployed AgentRegistry with its bond token, deterministic agent keys and registrations
//! signed with the protocol crate, shared by the registry tests, its property tests and the gas
//! snapshot.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    signers::local::PrivateKeySigner,
    sol_types::Eip712Domain,
};
use nsed_contracts::{
    agent_registry::AgentRegistry,
    bounty_token::BountyToken,
    i_agent_registry::IAgentRegistry,
    testkit::{Receipt, TestChain, TxFailure},
};
use nsed_protocol::eip712;

/// Smallest bond of the test registry: 100 tokens.
pub(crate) const MIN_BOND: u64 = 100;
/// Unbonding delay of the test registry: a week.
pub(crate) const UNBOND_DELAY: u64 = 7 * 86_400;
/// Reporter's share of a slashed bond: 10 %.
pub(crate) const REPORTER_BPS: u16 = 1_000;
/// Tokens minted to each owner.
const OWNER_TOKENS: u64 = 100_000_000;

/// One token with 18 decimals, times `n`.
pub(crate) fn tokens(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// The deployed registry: guild = account 0 (admin, receives slashed bonds, token owner),
/// slasher = account 1 (holds `SLASHER_ROLE`, standing in for the market), owners = accounts 3
/// and 2 (funded, registry approved), reporter = account 5.
pub(crate) struct RegistryFixture {
    pub(crate) chain: TestChain,
    pub(crate) guild: Address,
    pub(crate) slasher: Address,
    pub(crate) owner: Address,
    pub(crate) other_owner: Address,
    pub(crate) reporter: Address,
    pub(crate) token: Address,
    pub(crate) registry: Address,
}

impl RegistryFixture {
    /// The registry with the default parameters and no agents.
    pub(crate) fn new() -> Self {
        let mut chain = TestChain::new();
        let (guild, slasher, other_owner, owner, reporter) = (
            chain.account(0),
            chain.account(1),
            chain.account(2),
            chain.account(3),
            chain.account(5),
        );
        let token = chain
            .deploy(
                guild,
                &BountyToken::BYTECODE,
                &BountyToken::constructorCall { initialOwner: guild },
            )
            .expect("BountyToken deploys");
        let registry = chain
            .deploy(
                guild,
                &AgentRegistry::BYTECODE,
                &AgentRegistry::constructorCall {
                    token_: token,
                    guild_: guild,
                    minBond_: tokens(MIN_BOND),
                    unbondDelay_: UNBOND_DELAY,
                    reporterBps_: REPORTER_BPS,
                },
            )
            .expect("AgentRegistry deploys");
        let role = chain.call(guild, registry, &AgentRegistry::SLASHER_ROLECall {}).unwrap();
        chain
            .send(guild, registry, &AgentRegistry::grantRoleCall { role, account: slasher })
            .unwrap();
        for holder in [owner, other_owner] {
            chain
                .send(
                    guild,
                    token,
                    &BountyToken::mintCall { to: holder, amount: tokens(OWNER_TOKENS) },
                )
                .unwrap();
            chain
                .send(
                    holder,
                    token,
                    &BountyToken::approveCall { spender: registry, value: U256::MAX },
                )
                .unwrap();
        }
        Self { chain, guild, slasher, owner, other_owner, reporter, token, registry }
    }

    /// The EIP-712 domain registrations are signed in.
    pub(crate) fn domain(&self) -> Eip712Domain {
        eip712::registry_domain(self.chain.chain_id(), self.registry)
    }

    /// `key`'s 65-byte signature of its registration by `owner` with [`model`] and [`uri`].
    pub(crate) fn consent(&self, key: &PrivateKeySigner, owner: Address) -> Bytes {
        let agent = key.address();
        let hash =
            eip712::registration_hash(&self.domain(), agent, owner, model(agent), &uri(agent));
        Bytes::from(eip712::sign(key, hash).expect("local keys sign").as_bytes())
    }

    /// The registration of `key` by `owner` with `bond`, signed by the key.
    pub(crate) fn registration(
        &self,
        key: &PrivateKeySigner,
        owner: Address,
        bond: U256,
    ) -> IAgentRegistry::registerCall {
        let agent = key.address();
        IAgentRegistry::registerCall {
            agent,
            modelId: model(agent),
            metadataURI: uri(agent),
            bond,
            agentSignature: self.consent(key, owner),
        }
    }

    /// Sends `call` from `from`.
    pub(crate) fn try_register(
        &mut self,
        from: Address,
        call: &IAgentRegistry::registerCall,
    ) -> Result<Receipt<IAgentRegistry::registerReturn>, TxFailure> {
        self.chain.send(from, self.registry, call)
    }

    /// Registers agent `index` from the default owner with the minimum bond; returns its address.
    pub(crate) fn register(&mut self, index: usize) -> Address {
        let key = agent_key(index);
        let call = self.registration(&key, self.owner, tokens(MIN_BOND));
        let owner = self.owner;
        self.try_register(owner, &call).expect("registration succeeds");
        key.address()
    }

    /// Registers agents `from..to`; returns their addresses.
    pub(crate) fn register_range(&mut self, from: usize, to: usize) -> Vec<Address> {
        (from..to).map(|index| self.register(index)).collect()
    }

    /// Sends an owner action (`addBond`, `deactivate`, ...) from `from`.
    pub(crate) fn act<C: alloy::sol_types::SolCall>(
        &mut self,
        from: Address,
        call: &C,
    ) -> Result<Receipt<C::Return>, TxFailure> {
        self.chain.send(from, self.registry, call)
    }

    /// Slashes `agent` from the slasher, naming the reporter.
    pub(crate) fn slash(
        &mut self,
        agent: Address,
    ) -> Result<Receipt<IAgentRegistry::slashReturn>, TxFailure> {
        let call = IAgentRegistry::slashCall { agent, reporter: self.reporter };
        let slasher = self.slasher;
        self.chain.send(slasher, self.registry, &call)
    }

    /// `drawSeats(seed, count)` as a call.
    pub(crate) fn draw(&mut self, seed: B256, count: usize) -> Result<Vec<Address>, TxFailure> {
        let call = IAgentRegistry::drawSeatsCall { seed, count: U256::from(count) };
        let guild = self.guild;
        self.chain.call(guild, self.registry, &call)
    }

    /// The stored record of `agent`.
    pub(crate) fn agent(&mut self, agent: Address) -> IAgentRegistry::Agent {
        let guild = self.guild;
        self.chain
            .call(guild, self.registry, &IAgentRegistry::agentCall { account: agent })
            .unwrap()
    }

    /// Whether `agent` is in the pool.
    pub(crate) fn eligible(&mut self, agent: Address) -> bool {
        let guild = self.guild;
        self.chain
            .call(guild, self.registry, &IAgentRegistry::isEligibleCall { account: agent })
            .unwrap()
    }

    /// Number of agents in the pool.
    pub(crate) fn eligible_count(&mut self) -> usize {
        let guild = self.guild;
        let n =
            self.chain.call(guild, self.registry, &IAgentRegistry::eligibleCountCall {}).unwrap();
        usize::try_from(n).unwrap()
    }

    /// Every agent in the pool, in pool order.
    pub(crate) fn pool(&mut self) -> Vec<Address> {
        let guild = self.guild;
        (0..self.eligible_count())
            .map(|index| {
                let call = AgentRegistry::eligibleAgentAtCall { index: U256::from(index) };
                self.chain.call(guild, self.registry, &call).unwrap()
            })
            .collect()
    }

    /// Bond-token balance of `account`.
    pub(crate) fn balance(&mut self, account: Address) -> U256 {
        let guild = self.guild;
        self.chain.call(guild, self.token, &BountyToken::balanceOfCall { account }).unwrap()
    }
}

/// Agent key `index`, derived from a fixed seed.
pub(crate) fn agent_key(index: usize) -> PrivateKeySigner {
    PrivateKeySigner::from_bytes(&keccak256(format!("nsed registry agent {index}")))
        .expect("a keccak digest is a valid secp256k1 key with overwhelming probability")
}

/// The model id registered for `agent`.
pub(crate) fn model(agent: Address) -> B256 {
    keccak256(format!("model of {agent}"))
}

/// The metadata URI registered for `agent`.
pub(crate) fn uri(agent: Address) -> String {
    format!("ipfs://agents/{agent}")
}

/// The draw seed number `k`.
pub(crate) fn seed(k: u64) -> B256 {
    keccak256(k.to_be_bytes())
}
