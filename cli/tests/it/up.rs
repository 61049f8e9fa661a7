//! `nsed up --once` on a fresh local stack.

use std::{ffi::OsStr, path::Path, process::Command};

use serde_json::Value;

use crate::e2e::models_dir;

/// Runs `nsed up --once --json` with `args` on a stack of its own (loopback ports it picks),
/// writing its deployment record into `deployments`; returns its one JSON document and its
/// stderr, and fails the test when it fails.
pub(crate) fn up_once<S: AsRef<OsStr>>(
    args: impl IntoIterator<Item = S>,
    deployments: &Path,
) -> (Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["up", "--once", "--json", "--indexer.listen", "127.0.0.1:0"])
        .args(["--app.listen", "127.0.0.1:0"])
        .args(args)
        .arg("--models-dir")
        .arg(models_dir())
        .arg("--deployments-dir")
        .arg(deployments)
        .env_remove("NATS_URL")
        .env_remove("NSED_NATS_CREDS")
        .env_remove("NSED_NATS_REPLICAS")
        .env_remove("NSED_PRIVATE_KEY")
        .output()
        .expect("nsed runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "nsed up failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    // stdout is exactly one JSON document.
    let doc = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (doc, stderr)
}

#[test]
fn up_once_runs_the_demo_end_to_end_and_exits_cleanly() {
    let deployments = tempfile::tempdir().unwrap();
    let (doc, stderr) = up_once(["--jobs", "3"], deployments.path());
    assert_eq!(doc["chain"]["chainId"], 31337, "{doc}");
    assert!(doc["nats"].as_str().unwrap().starts_with("nats://127.0.0.1:"), "{doc}");
    // Its own nats-server runs with authentication: every service was its own NATS user.
    assert_eq!(doc["natsAuth"]["mode"], "nkey", "{doc}");
    assert_eq!(doc["agents"].as_array().unwrap().len(), 3, "{doc}");
    // One entry per settled job: id, answer digit, truth digit, rounds, winner.
    let jobs = doc["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 3, "{doc}");
    for job in jobs {
        for digit in [&job["answer"], &job["truth"]] {
            let digit = digit.as_str().unwrap();
            assert!(digit.len() == 1 && digit.chars().all(|c| c.is_ascii_digit()), "{job}");
        }
        assert!((1..=3).contains(&job["rounds"].as_u64().unwrap()), "{job}");
        assert!(job["winner"].as_str().unwrap().starts_with("0x"), "{job}");
    }
    assert_eq!(doc["accuracy"]["total"], 3, "{doc}");
    assert!(doc["accuracy"]["correct"].as_u64().unwrap() <= 3, "{doc}");
    assert!(doc["accuracy"]["jobsPerMinute"].as_f64().unwrap() > 0.0, "{doc}");
    let in_flight = doc["accuracy"]["keeperJobsInFlightMax"].as_u64().unwrap();
    assert!((1..=3).contains(&in_flight), "the keeper worked on 1–3 of the 3 jobs at once: {doc}");
    // Three 1-token bounties at the default 2% guild fee reach the guild timelock, and every
    // job's winner earned one access token (three in all).
    let timelock = {
        let text = std::fs::read_to_string(deployments.path().join("local.json")).unwrap();
        let record: Value = serde_json::from_str(&text).unwrap();
        record["contracts"]["GuildTimelock"]["address"].as_str().unwrap().to_lowercase()
    };
    assert_eq!(doc["fees"]["releasedBnty"], "0.06", "{doc}");
    assert_eq!(doc["fees"]["timelock"].as_str().unwrap().to_lowercase(), timelock, "{doc}");
    let tiers: Vec<Vec<u64>> = doc["lats"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["tiers"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect())
        .collect();
    assert_eq!(tiers.iter().flatten().sum::<u64>(), 3, "{doc}");
    // The demo agents hold the minimum bond, which covers the climb to rank 1 only: every win
    // pays a tier-1 token and nobody climbs further.
    assert!(tiers.iter().all(|t| t.iter().skip(1).all(|&n| n == 0)), "{doc}");
    let record = deployments.path().join("local.json");
    assert!(record.exists(), "the deployment record is written");
    assert_eq!(
        doc["deployment"]["record"].as_str().map(std::path::PathBuf::from),
        Some(record.clone())
    );
    let record: Value = serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
    for name in [
        "RankToken",
        "BountyToken",
        "TripartiteEscrow",
        "DeliberationMarket",
        "RankifyArena",
        "LiquidAccessToken",
        "GuildToken",
        "GuildTimelock",
        "GuildGovernor",
        "LatConverter",
        "AuthorityRegistry",
    ] {
        assert!(record["contracts"][name]["address"].is_string(), "{name} in {record}");
    }
    // The indexer serves GraphQL and answered the example query with the settled jobs.
    assert!(doc["graphql"]["url"].as_str().unwrap().starts_with("http://127.0.0.1:"), "{doc}");
    let answer = &doc["graphql"]["exampleAnswer"];
    let jobs = answer["data"]["jobs"].as_array().unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(jobs.len(), 2, "{answer}");
    for job in jobs {
        assert_eq!(job["status"], "Settled", "{answer}");
        assert!(job["settlement"]["content"].is_string(), "{answer}");
    }
    assert!(stderr.contains("stopped"), "{stderr}");
}

#[test]
fn up_with_rpc_url_but_no_key_says_how_to_fix_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["up", "--once", "--rpc-url", "http://127.0.0.1:1"])
        .env_remove("NSED_PRIVATE_KEY")
        .output()
        .expect("nsed runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("pass `--private-key` or set NSED_PRIVATE_KEY"), "{stderr}");
}

#[test]
fn a_malformed_private_key_is_rejected_without_echoing_it() {
    let output = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args([
            "up",
            "--once",
            "--rpc-url",
            "http://127.0.0.1:1",
            "--private-key",
            "0xnot-a-secret-key",
        ])
        .output()
        .expect("nsed runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a 32-byte hex secp256k1 key"), "{stderr}");
    assert!(!stderr.contains("not-a-secret"), "the key must never be echoed: {stderr}");
}

/// On a dev chain it did not start, `nsed up` gets one funded key: it deploys with it and pays
/// fresh accounts for the keeper and the requester, whose transactions would otherwise race for
/// the same nonces.
#[test]
fn up_on_an_existing_dev_chain_with_one_funded_key_settles_every_job() {
    let anvil = nsed_devstack::Anvil::spawn(nsed_devstack::AnvilConfig::default()).unwrap();
    let deployments = tempfile::tempdir().unwrap();
    let key = anvil.accounts()[0].private_key();
    let args = ["--jobs", "4", "--rpc-url", &anvil.endpoint(), "--private-key", key];
    let (doc, _) = up_once(args, deployments.path());
    assert_eq!(doc["jobs"].as_array().unwrap().len(), 4, "{doc}");
    assert_eq!(doc["accuracy"]["total"], 4, "{doc}");
    // Neither the keeper nor the requester sent from the funded key.
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(deployments.path().join("local.json")).unwrap(),
    )
    .unwrap();
    let market: alloy::primitives::Address =
        record["contracts"]["DeliberationMarket"]["address"].as_str().unwrap().parse().unwrap();
    let funded: alloy::primitives::Address = anvil.accounts()[0].address().parse().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let job = runtime.block_on(async {
        let provider = alloy::providers::ProviderBuilder::new()
            .connect_http(anvil.endpoint().parse().unwrap());
        let market = nsed_contracts::deliberation_market::DeliberationMarket::new(market, provider);
        market.job(alloy::primitives::U256::from(1)).call().await.unwrap()
    });
    assert_ne!(job.keeper, funded, "the keeper has its own account");
    assert_ne!(job.requester, funded, "the requester has its own account");
}
