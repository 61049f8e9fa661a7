//! `nsed deploy --suite.genesis FILE` on a chain that is not a dev chain: the record keeps the
//! genesis from the file, and without one the deployment is refused with the fix.

use std::process::{Command, Output};

use nsed_devstack::{Anvil, AnvilConfig};
use serde_json::{Value, json};

fn nsed_deploy(rpc_url: &str, key: &str, dir: &std::path::Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["-q", "--json", "deploy", "--rpc-url", rpc_url, "--private-key", key])
        .arg("--deployments-dir")
        .arg(dir)
        .args(extra)
        .env_remove("NSED_SUITE_GENESIS")
        .output()
        .expect("nsed runs")
}

#[test]
fn deploy_off_a_dev_chain_mints_the_genesis_file_and_needs_one() {
    let anvil = Anvil::spawn(AnvilConfig::default().with_chain_id(4242)).unwrap();
    let key = anvil.accounts()[0].private_key().to_string();
    let holder = anvil.accounts()[1].address().to_string();
    let dir = tempfile::tempdir().unwrap();

    let refused = nsed_deploy(&anvil.endpoint(), &key, dir.path(), &[]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--suite.genesis"), "{stderr}");

    let genesis = json!({
        "guild": [{ "holder": holder, "amount": 1000 }],
        "bounty": [{ "holder": holder, "amount": 5 }],
    });
    let file = dir.path().join("genesis.json");
    std::fs::write(&file, genesis.to_string()).unwrap();
    let output = nsed_deploy(
        &anvil.endpoint(),
        &key,
        dir.path(),
        &["--suite.genesis", file.to_str().unwrap()],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["network"], "chain-4242", "{doc}");
    let path = doc["record"].as_str().unwrap();
    let record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let recorded = &record["params"]["genesis"];
    assert_eq!(recorded["guild"][0]["amount"], 1000, "{recorded}");
    assert_eq!(recorded["bounty"][0]["amount"], 5, "{recorded}");
    assert_eq!(
        recorded["guild"][0]["holder"].as_str().unwrap().to_lowercase(),
        holder.to_lowercase()
    );
}

#[test]
fn deploy_help_documents_the_genesis_file() {
    let output =
        Command::new(env!("CARGO_BIN_EXE_nsed")).args(["deploy", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("--suite.genesis <FILE>"), "{help}");
    assert!(help.contains("NSED_SUITE_GENESIS"), "{help}");
}
