//! Deployments shared by the contract tests.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolStruct, eip712_domain},
};
use nsed_contracts::{
    agent_registry::AgentRegistry,
    halting_harness::HaltingHarness,
    liquid_access_token::LiquidAccessToken,
    quadratic_voting_harness::QuadraticVotingHarness,
    rank_token::RankToken,
    testkit::{Receipt, TestChain, TxFailure},
};

alloy::sol! {
    /// An agent key's consent to its registration (`AgentRegistry.REGISTRATION_TYPEHASH`).
    struct Registration {
        address agent;
        address owner;
        bytes32 modelId;
        string metadataURI;
    }
}

/// Metadata URI template given to every test RankToken.
pub(crate) const RANK_URI: &str = "ipfs://ranks/{id}.json";
/// Metadata URI template given to every test LiquidAccessToken.
pub(crate) const LAT_URI: &str = "ipfs://lat/{id}.json";

/// Deploys a LiquidAccessToken administered by `admin` and grants `MINTER_ROLE` to `minters`.
pub(crate) fn deploy_lat(chain: &mut TestChain, admin: Address, minters: &[Address]) -> Address {
    let lat = chain
        .deploy(
            admin,
            &LiquidAccessToken::BYTECODE,
            &LiquidAccessToken::constructorCall { uri_: LAT_URI.into(), admin },
        )
        .expect("LiquidAccessToken deploys");
    for &minter in minters {
        grant_lat_minter(chain, admin, lat, minter);
    }
    lat
}

/// Grants `MINTER_ROLE` on `lat` to `minter`.
pub(crate) fn grant_lat_minter(
    chain: &mut TestChain,
    admin: Address,
    lat: Address,
    minter: Address,
) {
    let role = chain.call(admin, lat, &LiquidAccessToken::MINTER_ROLECall {}).unwrap();
    chain.send(admin, lat, &LiquidAccessToken::grantRoleCall { role, account: minter }).unwrap();
}

/// A deployed RankToken with an admin (account 0) and two authorised games (accounts 1 and 2).
pub(crate) struct RankFixture {
    pub(crate) chain: TestChain,
    pub(crate) token: Address,
    pub(crate) admin: Address,
    pub(crate) game: Address,
    pub(crate) other_game: Address,
    pub(crate) game_role: B256,
}

impl RankFixture {
    pub(crate) fn new() -> Self {
        let mut chain = TestChain::new();
        let (admin, game, other_game) = (chain.account(0), chain.account(1), chain.account(2));
        let token = chain
            .deploy(
                admin,
                &RankToken::BYTECODE,
                &RankToken::constructorCall { uri_: RANK_URI.into(), admin },
            )
            .expect("RankToken deploys");
        let game_role = chain.call(admin, token, &RankToken::GAME_ROLECall {}).unwrap();
        for g in [game, other_game] {
            chain
                .send(admin, token, &RankToken::grantRoleCall { role: game_role, account: g })
                .unwrap();
        }
        Self { chain, token, admin, game, other_game, game_role }
    }

    /// Mints `amount` rank-`rank` tokens to `to` from the first game.
    pub(crate) fn mint(&mut self, to: Address, rank: u64, amount: u64) {
        self.chain
            .send(
                self.game,
                self.token,
                &RankToken::mintCall { to, rank: U256::from(rank), amount: U256::from(amount) },
            )
            .expect("mint succeeds");
    }

    pub(crate) fn balance(&mut self, account: Address, rank: u64) -> U256 {
        self.chain
            .call(
                self.admin,
                self.token,
                &RankToken::balanceOfCall { account, id: U256::from(rank) },
            )
            .unwrap()
    }

    pub(crate) fn locked(&mut self, account: Address, rank: u64) -> U256 {
        self.chain
            .call(
                self.admin,
                self.token,
                &RankToken::lockedBalanceOfCall { account, rank: U256::from(rank) },
            )
            .unwrap()
    }

    pub(crate) fn locked_by(&mut self, account: Address, rank: u64, game: Address) -> U256 {
        self.chain
            .call(
                self.admin,
                self.token,
                &RankToken::lockedByCall { account, rank: U256::from(rank), game },
            )
            .unwrap()
    }

    pub(crate) fn unlocked(&mut self, account: Address, rank: u64) -> U256 {
        self.chain
            .call(
                self.admin,
                self.token,
                &RankToken::unlockedBalanceOfCall { account, rank: U256::from(rank) },
            )
            .unwrap()
    }
}

/// A deployed QuadraticVotingHarness.
pub(crate) fn qv_harness(chain: &mut TestChain) -> Address {
    let deployer = chain.account(0);
    chain
        .deploy_code(deployer, QuadraticVotingHarness::BYTECODE.clone())
        .expect("harness deploys")
        .ret
}

/// A deployed HaltingHarness.
pub(crate) fn halting_harness(chain: &mut TestChain) -> Address {
    let deployer = chain.account(0);
    chain.deploy_code(deployer, HaltingHarness::BYTECODE.clone()).expect("harness deploys").ret
}

/// The model hash every test agent registers with.
pub(crate) fn model_of(agent: Address) -> B256 {
    keccak256(format!("model of {agent}"))
}

/// `key`'s EIP-712 consent to being registered in `registry` by `owner` with `model_id` and
/// `metadata_uri`, as 65 bytes `r ‖ s ‖ v`.
pub(crate) fn registration_signature(
    chain: &TestChain,
    registry: Address,
    key: &PrivateKeySigner,
    owner: Address,
    model_id: B256,
    metadata_uri: &str,
) -> Bytes {
    let domain = eip712_domain! {
        name: "NSED AgentRegistry",
        version: "1",
        chain_id: chain.chain_id(),
        verifying_contract: registry,
    };
    let consent = Registration {
        agent: key.address(),
        owner,
        modelId: model_id,
        metadataURI: metadata_uri.to_string(),
    };
    let signature = key.sign_hash_sync(&consent.eip712_signing_hash(&domain)).unwrap();
    Bytes::from(signature.as_bytes())
}

/// Registers `key`'s agent in `registry` from `owner` (who must have approved the registry for
/// `bond`), with [`model_of`] and a metadata URI naming it.
pub(crate) fn register_agent(
    chain: &mut TestChain,
    registry: Address,
    owner: Address,
    key: &PrivateKeySigner,
    bond: U256,
) -> Result<Receipt<AgentRegistry::registerReturn>, TxFailure> {
    let agent = key.address();
    let metadata_uri = format!("ipfs://agents/{agent}");
    let model_id = model_of(agent);
    let signature = registration_signature(chain, registry, key, owner, model_id, &metadata_uri);
    let call = AgentRegistry::registerCall {
        agent_: agent,
        modelId: model_id,
        metadataURI: metadata_uri,
        bond,
        agentSignature: signature,
    };
    chain.send(owner, registry, &call)
}
