//! `nsed deploy --json` against a real anvil: one JSON document with the record's path and every
//! contract's address, the same as the record it wrote; a second run reuses every contract.

use std::process::Command;

use nsed_devstack::{Anvil, AnvilConfig};
use serde_json::Value;

fn deploy(rpc_url: &str, key: &str, dir: &std::path::Path) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["-q", "--json", "deploy", "--rpc-url", rpc_url, "--private-key", key])
        .arg("--deployments-dir")
        .arg(dir)
        .output()
        .expect("nsed runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nsed deploy failed\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn deploy_json_prints_the_record_path_and_addresses() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let key = anvil.accounts()[0].private_key().to_string();
    let dir = tempfile::tempdir().unwrap();
    let doc = deploy(&anvil.endpoint(), &key, dir.path());
    assert_eq!(doc["network"], "local", "{doc}");
    assert_eq!(doc["chainId"], 31337, "{doc}");
    assert_eq!(doc["pending"], serde_json::json!([]), "{doc}");
    let path = dir.path().join("local.json");
    assert_eq!(doc["record"].as_str().map(std::path::PathBuf::from), Some(path.clone()));
    let record: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let contracts = doc["contracts"].as_object().unwrap();
    assert_eq!(contracts.len(), 12, "{doc}");
    for (name, contract) in contracts {
        let address = contract["address"].as_str().unwrap().to_lowercase();
        let recorded = record["contracts"][name]["address"].as_str().unwrap().to_lowercase();
        assert_eq!(address, recorded, "{name}");
        assert!(contract["block"].as_u64().is_some(), "{name}: {contract}");
    }
    // Running it again reuses every contract.
    let again = deploy(&anvil.endpoint(), &key, dir.path());
    assert_eq!(again["contracts"], doc["contracts"]);
}
