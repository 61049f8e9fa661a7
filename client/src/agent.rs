//! What an agent's owner does with the agent registry: register an agent with the agent key's
//! consent and a bond, top the bond up, unbond and withdraw, take the agent out of service and
//! back, and read where an agent stands (registry record, pool, market rank).

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Signature, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use nsed_contracts::{
    agent_registry::AgentRegistry,
    bounty_token::BountyToken,
    deliberation_market::DeliberationMarket,
    i_agent_registry::IAgentRegistry,
    tx::{self, TxContext, TxError},
};
use nsed_deploy::{AGENT_REGISTRY, BOUNTY_TOKEN, Deployment, MARKET};
use nsed_protocol::eip712;

use crate::{ClientError, ClientResult};

/// One account owning agents in a deployment's registry.
#[derive(Debug, Clone)]
pub struct AgentOwner<P> {
    provider: P,
    account: Address,
    registry: Address,
    token: Address,
    market: Address,
}

/// Where an agent stands: its registry record, whether seats can be drawn from it, and its
/// market rank (what [`AgentOwner::status`] reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStatus {
    /// The agent key's address.
    pub agent: Address,
    /// Who registered it (zero: not registered).
    pub owner: Address,
    /// Hash of the model it runs.
    pub model_id: B256,
    /// Its bond, in token units (18 decimals; zero once withdrawn or slashed).
    pub bond: U256,
    /// Whether its owner keeps it in service.
    pub active: bool,
    /// Whether its bond was slashed (for good).
    pub slashed: bool,
    /// When its owner may withdraw the bond, in unix seconds (0: not unbonding).
    pub unbonding_at: u64,
    /// Whether it is in the pool the market draws seats from.
    pub eligible: bool,
    /// Its rank in the market's ladder.
    pub rank: U256,
    /// The bond a win at this rank needs to promote it (`minBond · 2^rank`).
    pub promotion_bond: U256,
    /// The latest block's timestamp when this was read.
    pub now: u64,
}

impl AgentStatus {
    /// Whether the key is registered (withdrawn and slashed agents stay registered).
    pub fn is_registered(&self) -> bool {
        self.owner != Address::ZERO
    }

    /// Whether the agent is unbonding.
    pub const fn is_unbonding(&self) -> bool {
        self.unbonding_at != 0
    }

    /// Whether the owner could withdraw the bond now: unbonding, the delay over, the bond still
    /// there.
    pub fn is_withdrawable(&self) -> bool {
        self.is_unbonding() && self.now >= self.unbonding_at && !self.bond.is_zero()
    }

    /// Whether a win would promote it on the market's ladder (its bond covers the climb).
    pub fn can_promote(&self) -> bool {
        self.bond >= self.promotion_bond
    }
}

impl<P: Provider + Clone> AgentOwner<P> {
    /// The owner `account` (which `provider` signs for) of agents in `record`'s registry.
    ///
    /// # Errors
    ///
    /// [`ClientError::Deployment`] when the record lacks the registry, the token or the market.
    pub fn new(provider: P, account: Address, record: &Deployment) -> ClientResult<Self> {
        Ok(Self {
            provider,
            account,
            registry: record.address(AGENT_REGISTRY)?,
            token: record.address(BOUNTY_TOKEN)?,
            market: record.address(MARKET)?,
        })
    }

    /// The registry's address.
    pub const fn registry(&self) -> Address {
        self.registry
    }

    /// The owner's account.
    pub const fn account(&self) -> Address {
        self.account
    }

    /// Mints `amount` test bounty tokens to the owner from `minter` (the token's owner).
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the transaction fails.
    pub async fn fund<M: Provider>(&self, minter: &M, amount: U256) -> ClientResult<()> {
        let token = BountyToken::new(self.token, minter);
        tx::send_call("mint", token.mint(self.account, amount)).await?;
        Ok(())
    }

    /// The smallest bond the registry accepts.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the call fails.
    pub async fn min_bond(&self) -> ClientResult<U256> {
        Ok(IAgentRegistry::new(self.registry, &self.provider)
            .minBond()
            .call()
            .await
            .during("minBond()")?)
    }

    /// Seconds between an unbond request made now and the withdrawal it allows.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the call fails.
    pub async fn unbond_delay(&self) -> ClientResult<u64> {
        Ok(IAgentRegistry::new(self.registry, &self.provider)
            .unbondDelay()
            .call()
            .await
            .during("unbondDelay()")?)
    }

    /// Where `agent` stands: its registry record, whether it is in the pool seats are drawn
    /// from, its market rank and the bond a win at that rank needs to promote it. An unknown key
    /// reads as all zero ([`AgentStatus::is_registered`] is false).
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the registry, the market or the latest block cannot be read.
    pub async fn status(&self, agent: Address) -> ClientResult<AgentStatus> {
        let registry = IAgentRegistry::new(self.registry, &self.provider);
        let market = DeliberationMarket::new(self.market, &self.provider);
        let record = self.agent(agent).await?;
        let eligible =
            registry.isEligible(agent).call().await.during(format!("isEligible({agent})"))?;
        let rank = market.agentRank(agent).call().await.during(format!("agentRank({agent})"))?;
        let promotion_bond =
            market.promotionBond(rank).call().await.during(format!("promotionBond({rank})"))?;
        let operation = "eth_getBlockByNumber latest";
        let now = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .during(operation)?
            .ok_or_else(|| TxError::Missing { operation: operation.into(), missing: "the block" })?
            .header
            .timestamp;
        Ok(AgentStatus {
            agent,
            owner: record.owner,
            model_id: record.modelId,
            bond: record.bond,
            active: record.active,
            slashed: record.slashed,
            unbonding_at: record.unbondingAt,
            eligible,
            rank,
            promotion_bond,
            now,
        })
    }

    /// The registration of `agent`.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the call fails.
    pub async fn agent(&self, agent: Address) -> ClientResult<IAgentRegistry::Agent> {
        Ok(IAgentRegistry::new(self.registry, &self.provider)
            .agent(agent)
            .call()
            .await
            .during(format!("agent({agent})"))?)
    }

    /// The agent key's EIP-712 consent to being registered by this owner with `model_id` and
    /// `metadata_uri` (what `nsed agent register` asks the agent key to sign).
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the chain id cannot be read, [`ClientError::Signing`] if the key
    /// cannot sign.
    pub async fn consent(
        &self,
        agent: &PrivateKeySigner,
        model_id: B256,
        metadata_uri: &str,
    ) -> ClientResult<Signature> {
        let hash = self.registration_hash(agent.address(), model_id, metadata_uri).await?;
        eip712::sign(agent, hash).map_err(|e| ClientError::Signing(e.to_string()))
    }

    /// The EIP-712 hash `agent` signs to consent to being registered by this owner with
    /// `model_id` and `metadata_uri`, in this registry's domain on the provider's chain.
    async fn registration_hash(
        &self,
        agent: Address,
        model_id: B256,
        metadata_uri: &str,
    ) -> ClientResult<B256> {
        let chain_id = self.provider.get_chain_id().await.during("eth_chainId")?;
        let domain = eip712::registry_domain(chain_id, self.registry);
        Ok(eip712::registration_hash(&domain, agent, self.account, model_id, metadata_uri))
    }

    /// Registers `agent` (signing its consent with the agent key) running `model_id`, paying
    /// `bond` from the owner's tokens (approved here).
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when a transaction fails or reverts (the registry's custom errors are
    /// decoded by name), [`ClientError::Signing`] if the key cannot sign.
    pub async fn register(
        &self,
        agent: &PrivateKeySigner,
        model_id: B256,
        metadata_uri: &str,
        bond: U256,
    ) -> ClientResult<B256> {
        let consent = self.consent(agent, model_id, metadata_uri).await?;
        self.register_with_consent(agent.address(), model_id, metadata_uri, bond, &consent).await
    }

    /// Registers `agent` running `model_id` with the consent its key signed elsewhere
    /// ([`AgentOwner::consent`] by the key's holder), paying `bond` from the owner's tokens
    /// (approved here). The consent is checked first, so a signature the registry would refuse
    /// costs no transaction.
    ///
    /// # Errors
    ///
    /// [`ClientError::InvalidConsent`] when `consent` is not `agent`'s signature of this
    /// registration (another owner, model, metadata URI, registry or chain),
    /// [`ClientError::Tx`] when a transaction fails or reverts.
    pub async fn register_with_consent(
        &self,
        agent: Address,
        model_id: B256,
        metadata_uri: &str,
        bond: U256,
        consent: &Signature,
    ) -> ClientResult<B256> {
        let hash = self.registration_hash(agent, model_id, metadata_uri).await?;
        eip712::verify(hash, consent, agent)
            .map_err(|_| ClientError::InvalidConsent { agent, owner: self.account })?;
        self.approve(bond).await?;
        let registry = AgentRegistry::new(self.registry, &self.provider);
        let call = registry.register(
            agent,
            model_id,
            metadata_uri.to_owned(),
            bond,
            consent.as_bytes().into(),
        );
        let receipt = tx::send_call(format!("register({agent})"), call).await?;
        Ok(receipt.transaction_hash)
    }

    /// Adds `amount` to `agent`'s bond (approved here).
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when a transaction fails or reverts.
    pub async fn add_bond(&self, agent: Address, amount: U256) -> ClientResult<B256> {
        self.approve(amount).await?;
        let registry = AgentRegistry::new(self.registry, &self.provider);
        let receipt =
            tx::send_call(format!("addBond({agent})"), registry.addBond(agent, amount)).await?;
        Ok(receipt.transaction_hash)
    }

    /// Starts unbonding `agent`: it leaves the pool at once; the bond can be withdrawn after
    /// the registry's delay.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the transaction fails or reverts.
    pub async fn request_unbond(&self, agent: Address) -> ClientResult<B256> {
        let registry = AgentRegistry::new(self.registry, &self.provider);
        let receipt =
            tx::send_call(format!("requestUnbond({agent})"), registry.requestUnbond(agent)).await?;
        Ok(receipt.transaction_hash)
    }

    /// Withdraws `agent`'s whole bond once the unbonding delay is over.
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the transaction fails or reverts.
    pub async fn withdraw_bond(&self, agent: Address) -> ClientResult<B256> {
        let registry = AgentRegistry::new(self.registry, &self.provider);
        let receipt =
            tx::send_call(format!("withdrawBond({agent})"), registry.withdrawBond(agent)).await?;
        Ok(receipt.transaction_hash)
    }

    /// Takes `agent` out of the pool (`active = false`) or puts it back (`true`).
    ///
    /// # Errors
    ///
    /// [`ClientError::Tx`] when the transaction fails or reverts.
    pub async fn set_active(&self, agent: Address, active: bool) -> ClientResult<B256> {
        let registry = AgentRegistry::new(self.registry, &self.provider);
        let receipt = if active {
            tx::send_call(format!("reactivate({agent})"), registry.reactivate(agent)).await?
        } else {
            tx::send_call(format!("deactivate({agent})"), registry.deactivate(agent)).await?
        };
        Ok(receipt.transaction_hash)
    }

    async fn approve(&self, amount: U256) -> ClientResult<()> {
        let token = BountyToken::new(self.token, &self.provider);
        tx::send_call("approve", token.approve(self.registry, amount)).await?;
        Ok(())
    }
}
