//! `nsed agent` against a real anvil with the suite deployed: an owner registers an agent with
//! its key's consent and the minimum bond, tops the bond up, takes the agent out of service and
//! back, unbonds, cannot withdraw before the registry's delay (the error names the registry's
//! custom error), and withdraws after it; a consent signed for another owner is refused before
//! anything is sent; without the owner's key nothing happens.

use std::{
    path::PathBuf,
    process::{Command, Output},
};

use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider},
    signers::local::PrivateKeySigner,
};
use nsed_client::{AgentOwner, ONE_TOKEN};
use nsed_contracts::bounty_token::BountyToken;
use nsed_deploy::{BOUNTY_TOKEN, Deployment, SuiteParams, deploy_to_dir};
use nsed_devstack::{Anvil, AnvilConfig, AnvilInstance};
use serde_json::Value;

/// A model id for agents that run nothing in these tests.
const MODEL_ID: &str = "0x1111111111111111111111111111111111111111111111111111111111111111";

/// A chain with the suite deployed and two funded would-be owners.
struct Chain {
    anvil: AnvilInstance,
    dir: tempfile::TempDir,
    record: Deployment,
    record_path: PathBuf,
    /// Signs as the deployer, who owns the bounty token.
    deployer: DynProvider,
    owner: PrivateKeySigner,
    other: PrivateKeySigner,
}

impl Chain {
    async fn start() -> Self {
        let anvil = Anvil::spawn(AnvilConfig::default()).expect("anvil starts");
        let key = |i: usize| anvil.accounts()[i].private_key().parse::<PrivateKeySigner>().unwrap();
        let (deployer_key, owner, other) = (key(0), key(1), key(2));
        let url: alloy::transports::http::reqwest::Url = anvil.endpoint().parse().unwrap();
        let deployer = nsed_contracts::provider::wallet_provider(url.clone(), deployer_key.clone());
        let dir = tempfile::tempdir().unwrap();
        let (record, record_path) = deploy_to_dir(
            &deployer,
            deployer_key.address(),
            Some("local"),
            dir.path(),
            SuiteParams::default(),
        )
        .await
        .expect("the suite deploys");
        for who in [&owner, &other] {
            let provider = nsed_contracts::provider::wallet_provider(url.clone(), who.clone());
            let funded = AgentOwner::new(provider, who.address(), &record).unwrap();
            funded.fund(&deployer, ONE_TOKEN * U256::from(100)).await.unwrap();
        }
        Self { anvil, dir, record, record_path, deployer, owner, other }
    }

    /// `nsed agent <args>` on this chain and record, signing as `owner` when given.
    fn agent(&self, owner: Option<&PrivateKeySigner>, args: &[&str]) -> Output {
        let mut command = nsed(&["agent"]);
        command.args(args).arg("--rpc-url").arg(self.anvil.endpoint());
        command.arg("--deployment").arg(&self.record_path);
        if let Some(owner) = owner {
            command.arg("--private-key").arg(key_hex(owner));
        }
        command.output().expect("nsed runs")
    }

    /// `nsed --json agent <args>` that must succeed: its one JSON document.
    fn agent_json(&self, owner: Option<&PrivateKeySigner>, args: &[&str]) -> Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        json(&self.agent(owner, &with_json))
    }

    async fn balance(&self, who: Address) -> U256 {
        let token = BountyToken::new(self.record.address(BOUNTY_TOKEN).unwrap(), &self.deployer);
        token.balanceOf(who).call().await.unwrap()
    }

    /// Moves the chain's clock `secs` forward and mines a block.
    async fn advance(&self, secs: u64) {
        let _: i64 = self.deployer.raw_request("evm_increaseTime".into(), (secs,)).await.unwrap();
        let _: String = self.deployer.raw_request("evm_mine".into(), ()).await.unwrap();
    }
}

/// The `nsed` binary with no key, chain or agent key from the environment.
fn nsed(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nsed"));
    command
        .args(["-q"])
        .args(args)
        .env_remove("NSED_RPC_URL")
        .env_remove("NSED_PRIVATE_KEY")
        .env_remove("NSED_AGENT_KEY")
        .env_remove("ETH_RPC_URL")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    command
}

fn key_hex(key: &PrivateKeySigner) -> String {
    alloy::hex::encode_prefixed(key.to_bytes())
}

fn json(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nsed failed\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// The stderr of a command that failed with status 1, on one screen and with nothing on stdout.
fn failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(output.stdout.is_empty(), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(stderr.lines().count() <= 15, "one screen:\n{stderr}");
    assert!(!stderr.contains("Location:"), "{stderr}");
    stderr
}

fn address(doc: &Value) -> Address {
    doc["agent"]["address"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_registers_bonds_unbonds_and_withdraws_after_the_delay() {
    let chain = Chain::start().await;
    let key_file = chain.dir.path().join("keys/agent.key");
    let key_file_arg = key_file.to_str().unwrap();
    let owner = Some(&chain.owner);
    let before = chain.balance(chain.owner.address()).await;

    // Registered with the minimum bond (the default): in the pool at once. The agent key did
    // not exist yet: it is created, as `nsed worker` would.
    let registered = chain.agent_json(
        owner,
        &[
            "register",
            "--model-id",
            MODEL_ID,
            "--metadata-uri",
            "nsed://test/agent",
            "--agent-key-file",
            key_file_arg,
        ],
    );
    let agent = address(&registered);
    let key: PrivateKeySigner = std::fs::read_to_string(&key_file).unwrap().trim().parse().unwrap();
    assert_eq!(key.address(), agent);
    assert_eq!(registered["action"], "register", "{registered}");
    assert!(registered["tx"].as_str().unwrap().starts_with("0x"), "{registered}");
    let shown = chain.agent_json(None, &["show", "--agent", &agent.to_string()]);
    let status = &shown["agent"];
    assert_eq!(status["registered"], true, "{shown}");
    assert_eq!(
        status["owner"].as_str().unwrap().parse::<Address>().unwrap(),
        chain.owner.address()
    );
    assert_eq!(status["modelId"], MODEL_ID, "{shown}");
    assert_eq!(status["bond"], "10", "the registry's minBond: {shown}");
    assert_eq!(status["active"], true, "{shown}");
    assert_eq!(status["slashed"], false, "{shown}");
    assert_eq!(status["unbondingAt"], Value::Null, "{shown}");
    assert_eq!(status["eligible"], true, "{shown}");
    assert_eq!(status["rank"], 0, "{shown}");
    assert_eq!(status["promotes"], true, "rank 0 needs minBond: {shown}");

    // The text form says the same.
    let text = chain.agent(None, &["show", "--agent", &agent.to_string()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("bond         10 tokens"), "{text}");
    assert!(text.contains("eligible     yes"), "{text}");
    assert!(text.contains("market rank  0"), "{text}");

    // Topped up by 2.5 tokens.
    let agent_arg = agent.to_string();
    let bonded = chain.agent_json(owner, &["bond", "--agent", &agent_arg, "--amount", "2.5"]);
    assert_eq!(bonded["action"], "bond", "{bonded}");
    assert_eq!(bonded["agent"]["bond"], "12.5", "{bonded}");

    // Out of service and back: out of the pool and back in.
    let out = chain.agent_json(owner, &["deactivate", "--agent", &agent_arg]);
    assert_eq!(
        (&out["agent"]["active"], &out["agent"]["eligible"]),
        (&false.into(), &false.into())
    );
    let back = chain.agent_json(owner, &["reactivate", "--agent", &agent_arg]);
    assert_eq!(
        (&back["agent"]["active"], &back["agent"]["eligible"]),
        (&true.into(), &true.into())
    );

    // Only the owner may unbond it.
    let stderr = failure(&chain.agent(Some(&chain.other), &["unbond", "--agent", &agent_arg]));
    assert!(stderr.contains(&format!("Error: cannot unbond agent {agent}")), "{stderr}");
    assert!(stderr.contains("AgentRegistryNotOwner("), "{stderr}");

    // Unbonding leaves the pool at once; the bond stays until the delay is over.
    let unbonding = chain.agent_json(owner, &["unbond", "--agent", &agent_arg]);
    let status = &unbonding["agent"];
    assert_eq!(status["eligible"], false, "{unbonding}");
    assert_eq!(status["withdrawable"], false, "{unbonding}");
    let at = status["unbondingAt"].as_u64().expect("unbonding");
    let stderr = failure(&chain.agent(owner, &["withdraw", "--agent", &agent_arg]));
    assert!(stderr.contains(&format!("cannot withdraw the bond of agent {agent}")), "{stderr}");
    assert!(
        stderr.contains(&format!("AgentRegistryStillBonding({agent}, {at})")),
        "the registry's error by name: {stderr}"
    );
    assert_eq!(
        chain.balance(chain.owner.address()).await,
        before - ONE_TOKEN * U256::from(25) / U256::from(2)
    );

    // After the delay the whole bond comes back.
    let delay = {
        let url = chain.anvil.endpoint().parse().unwrap();
        let reader = nsed_contracts::provider::wallet_provider(url, chain.owner.clone());
        AgentOwner::new(reader, chain.owner.address(), &chain.record).unwrap().unbond_delay().await
    }
    .unwrap();
    chain.advance(delay + 1).await;
    let shown = chain.agent_json(None, &["show", "--agent", &agent_arg]);
    assert_eq!(shown["agent"]["withdrawable"], true, "{shown}");
    let withdrawn = chain.agent_json(owner, &["withdraw", "--agent", &agent_arg]);
    assert_eq!(withdrawn["action"], "withdraw", "{withdrawn}");
    assert_eq!(withdrawn["agent"]["bond"], "0", "{withdrawn}");
    assert_eq!(withdrawn["agent"]["registered"], true, "a key stays taken: {withdrawn}");
    assert_eq!(chain.balance(chain.owner.address()).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consent_signed_for_another_owner_is_refused_before_anything_is_sent() {
    let chain = Chain::start().await;
    let key_file = chain.dir.path().join("agent.key");
    let key_file_arg = key_file.to_str().unwrap();
    let consent_for = |owner: Address| {
        let owner = owner.to_string();
        chain.agent_json(
            None,
            &[
                "consent",
                "--owner",
                &owner,
                "--model-id",
                MODEL_ID,
                "--metadata-uri",
                "nsed://test/agent",
                "--agent-key-file",
                key_file_arg,
            ],
        )
    };
    // The agent's holder consents to `other` owning it; `owner` tries to register it.
    let consent = consent_for(chain.other.address());
    let agent: Address = consent["agent"].as_str().unwrap().parse().unwrap();
    let signature = consent["consent"].as_str().unwrap().to_owned();
    let register = |signature: &str| {
        chain.agent(
            Some(&chain.owner),
            &[
                "register",
                "--agent",
                &agent.to_string(),
                "--consent",
                signature,
                "--model-id",
                MODEL_ID,
                "--metadata-uri",
                "nsed://test/agent",
            ],
        )
    };
    let nonce = chain.deployer.get_transaction_count(chain.owner.address()).await.unwrap();
    let stderr = failure(&register(&signature));
    assert!(stderr.contains(&format!("Error: cannot register agent {agent}")), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the consent is not agent {agent}'s signature of its registration by owner {}",
            chain.owner.address()
        )),
        "{stderr}"
    );
    let after = chain.deployer.get_transaction_count(chain.owner.address()).await.unwrap();
    assert_eq!(after, nonce, "no transaction was sent");

    // Consent for this owner: registered without the agent key at hand.
    let consent = consent_for(chain.owner.address());
    let output = register(consent["consent"].as_str().unwrap());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("registered   in transaction 0x"), "{text}");
    assert!(text.contains(&format!("owner        {}", chain.owner.address())), "{text}");
    assert!(text.contains("eligible     yes"), "{text}");

    // Neither a consent nor an agent key: nothing to register with.
    let stderr = failure(&chain.agent(
        Some(&chain.owner),
        &["register", "--model-id", MODEL_ID, "--metadata-uri", "nsed://test/agent"],
    ));
    assert!(stderr.contains("no agent key: pass `--agent-key-file <FILE>`"), "{stderr}");

    // A key registers once, ever: the registry's error, by name.
    let stderr = failure(&register(consent["consent"].as_str().unwrap()));
    assert!(stderr.contains(&format!("AgentRegistryAlreadyRegistered({agent})")), "{stderr}");
}

#[test]
fn without_the_owners_key_nothing_is_read_or_created() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("agent.key");
    let record = dir.path().join("missing.json");
    let with_chain = |args: &[&str]| {
        let mut command = nsed(&["agent"]);
        command.args(args).args(["--rpc-url", "http://127.0.0.1:1", "--deployment"]).arg(&record);
        command.output().expect("nsed runs")
    };
    let agent = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    for args in [
        &["register", "--model-id", MODEL_ID, "--metadata-uri", "u", "--agent-key-file"][..],
        &["bond", "--agent", agent, "--amount", "1"],
        &["unbond", "--agent", agent],
        &["withdraw", "--agent", agent],
        &["deactivate", "--agent", agent],
        &["reactivate", "--agent", agent],
    ] {
        let mut args = args.to_vec();
        if args[0] == "register" {
            args.push(key_file.to_str().unwrap());
        }
        let stderr = failure(&with_chain(&args));
        assert_eq!(
            stderr.trim(),
            "Error: no key to sign with: pass `--private-key` or set NSED_PRIVATE_KEY",
            "{args:?}"
        );
    }
    assert!(!key_file.exists(), "no agent key is made for a registration that cannot happen");
}
