//! `nsed indexer` as a real process: follows a deployment on anvil, prints its GraphQL URL on
//! stdout and answers queries; a missing record is a clear error.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use alloy::{providers::Provider, signers::local::PrivateKeySigner};
use nsed_deploy::{SuiteParams, deploy_suite};
use nsed_devstack::{Anvil, AnvilConfig};

/// An indexer process that is killed if the test ends early.
struct IndexerProcess(Child);

impl Drop for IndexerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn query(url: &str, q: &str) -> serde_json::Value {
    let body = serde_json::json!({ "query": q }).to_string();
    let text = alloy::transports::http::reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("indexer answers")
        .text()
        .await
        .expect("body");
    serde_json::from_str(&text).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexer_command_serves_the_deployment_over_graphql() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let key: PrivateKeySigner = anvil.accounts()[0].private_key().parse().unwrap();
    let provider =
        nsed_contracts::provider::wallet_provider(anvil.endpoint().parse().unwrap(), key.clone());
    let record =
        deploy_suite(&provider, key.address(), "cli-indexer", SuiteParams::default(), None)
            .await
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.json");
    record.save(&path).unwrap();
    let head = provider.get_block_number().await.unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["--json", "indexer", "--rpc-url", &anvil.endpoint()])
        .args(["--indexer.listen", "127.0.0.1:0", "--indexer.poll-ms", "50"])
        .arg("--deployment")
        .arg(&path)
        .arg("--indexer.db")
        .arg(dir.path().join("indexer.sqlite"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("nsed runs");
    let stdout = child.stdout.take().unwrap();
    let _guard = IndexerProcess(child);
    let url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
        doc["graphql"].as_str().expect("the GraphQL URL").to_string()
    })
    .await
    .unwrap();
    assert!(url.starts_with("http://127.0.0.1:") && url.ends_with('/'), "{url}");
    assert!(!url.ends_with(":0/"), "the real port is reported: {url}");

    // Await the deployment's head being indexed (the process has no handle to wait on).
    let meta = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let answer = query(&url, "{ _meta { block { number } deployment } jobs { id } }").await;
            if answer["data"]["_meta"]["block"]["number"].as_u64() >= Some(head) {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the indexer reaches the deployment's head");
    assert_eq!(meta["data"]["_meta"]["deployment"], "cli-indexer");
    assert_eq!(meta["data"]["jobs"], serde_json::json!([]));
}

#[test]
fn indexer_command_without_a_record_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["indexer", "--indexer.listen", "127.0.0.1:0"])
        .arg("--deployment")
        .arg(dir.path().join("missing.json"))
        .output()
        .expect("nsed runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("run `nsed deploy` first"), "{stderr}");
}
