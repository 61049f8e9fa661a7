//! `nsed up --once` on a fresh local stack.

use std::process::Command;

#[test]
fn up_once_deploys_rank_token_on_a_fresh_anvil_and_exits_cleanly() {
    let output = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["up", "--once"])
        .env_remove("NATS_URL")
        .env_remove("NSED_PRIVATE_KEY")
        .output()
        .expect("nsed runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nsed up failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    // anvil's first deployment from its first dev account lands at this well-known address.
    assert!(
        stdout.contains("RankToken    0x5FbDB2315678afecb367f032d93F642f64180aa3"),
        "unexpected report:\n{stdout}"
    );
    assert!(stdout.contains("(chain id 31337)"), "{stdout}");
    assert!(stdout.contains("nats://127.0.0.1:"), "{stdout}");
    assert!(stdout.contains("libonnxruntime.so.1."), "{stdout}");
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
