//! `nsed up --once` on a fresh local stack.

use std::process::Command;

#[test]
fn up_once_runs_the_demo_end_to_end_and_exits_cleanly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let deployments = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["up", "--once", "--jobs", "3", "--indexer.listen", "127.0.0.1:0"])
        .arg("--models-dir")
        .arg(root.join("models"))
        .arg("--deployments-dir")
        .arg(deployments.path())
        .env_remove("NATS_URL")
        .env_remove("NSED_PRIVATE_KEY")
        .output()
        .expect("nsed runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nsed up failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("(chain id 31337)"), "{stdout}");
    assert!(stdout.contains("nats://127.0.0.1:"), "{stdout}");
    assert_eq!(stdout.lines().filter(|l| l.starts_with("agent ")).count(), 3, "{stdout}");
    // One line per settled job: id, answer digit, truth digit, rounds, winner.
    let jobs: Vec<&str> = stdout.lines().filter(|l| l.ends_with('✓') || l.ends_with('✗')).collect();
    assert_eq!(jobs.len(), 3, "{stdout}");
    assert!(stdout.contains("accuracy     "), "{stdout}");
    assert!(stdout.contains("jobs/minute"), "{stdout}");
    // Three 1-token bounties at the default 2% guild fee reach the guild timelock, and every
    // job's winner earned one access token (three in all, tier 1 for the first wins).
    let timelock = {
        let text = std::fs::read_to_string(deployments.path().join("local.json")).unwrap();
        let record: serde_json::Value = serde_json::from_str(&text).unwrap();
        record["contracts"]["GuildTimelock"]["address"].as_str().unwrap().to_string()
    };
    let fees_line = stdout.lines().find(|l| l.starts_with("guild fees")).unwrap_or_default();
    let expected =
        format!("guild fees   0.06 BNTY released from escrow to the guild timelock {timelock}");
    assert!(fees_line.to_lowercase().starts_with(&expected.to_lowercase()), "{stdout}");
    let earned: u32 = stdout
        .lines()
        .filter_map(|l| l.split_once("earned LATs: ").map(|(_, held)| held))
        .flat_map(|held| held.split(", "))
        .filter_map(|part| part.split_once(" × tier ").and_then(|(n, _)| n.parse::<u32>().ok()))
        .sum();
    assert_eq!(earned, 3, "{stdout}");
    assert!(stdout.contains("1 × tier 1") || stdout.contains("2 × tier 1"), "{stdout}");
    let record = deployments.path().join("local.json");
    assert!(record.exists(), "the deployment record is written");
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(record).unwrap()).unwrap();
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
    assert!(stdout.contains("graphql      http://127.0.0.1:"), "{stdout}");
    let answer = stdout.lines().find_map(|l| l.strip_prefix("answer       ")).expect("an answer");
    let answer: serde_json::Value = serde_json::from_str(answer).unwrap();
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
