//! What an agent's owner does with the agent registry: register an agent with the agent key's
//! consent and a bond, top the bond up, unbond and withdraw, take the agent out of service and
//! back.

use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
    signers::local::PrivateKeySigner,
};
use nsed_contracts::{
    agent_registry::AgentRegistry,
    bounty_token::BountyToken,
    i_agent_registry::IAgentRegistry,
    tx::{self, TxContext},
};
use nsed_deploy::{AGENT_REGISTRY, BOUNTY_TOKEN, Deployment};
use nsed_protocol::eip712;

use crate::{ClientError, ClientResult};

/// One account owning agents in a deployment's registry.
#[derive(Debug, Clone)]
pub struct AgentOwner<P> {
    provider: P,
    account: Address,
    registry: Address,
    token: Address,
}

impl<P: Provider + Clone> AgentOwner<P> {
    /// The owner `account` (which `provider` signs for) of agents in `record`'s registry.
    ///
    /// # Errors
    ///
    /// [`ClientError::Deployment`] when the record lacks the registry or the token.
    pub fn new(provider: P, account: Address, record: &Deployment) -> ClientResult<Self> {
        Ok(Self {
            provider,
            account,
            registry: record.address(AGENT_REGISTRY)?,
            token: record.address(BOUNTY_TOKEN)?,
        })
    }

    /// The registry's address.
    pub const fn registry(&self) -> Address {
        self.registry
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
    ) -> ClientResult<alloy::primitives::Signature> {
        let chain_id = self.provider.get_chain_id().await.during("eth_chainId")?;
        let domain = eip712::registry_domain(chain_id, self.registry);
        let hash =
            eip712::registration_hash(&domain, agent.address(), self.account, model_id, metadata_uri);
        eip712::sign(agent, hash).map_err(|e| ClientError::Signing(e.to_string()))
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
        self.approve(bond).await?;
        let registry = AgentRegistry::new(self.registry, &self.provider);
        let call = registry.register(
            agent.address(),
            model_id,
            metadata_uri.to_owned(),
            bond,
            consent.as_bytes().into(),
        );
        let receipt = tx::send_call(format!("register({})", agent.address()), call).await?;
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
