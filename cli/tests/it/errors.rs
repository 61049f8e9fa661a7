//! What a user sees when a command fails: a clean one-screen message chain, eyre's locations only
//! with `-v`, and no command that sends transactions reads `ETH_RPC_URL`.

use std::process::{Command, Output};

/// anvil's first dev key: well known, never funded anywhere real.
const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

fn nsed(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nsed"));
    command
        .args(args)
        .env_remove("NSED_RPC_URL")
        .env_remove("NSED_PRIVATE_KEY")
        .env_remove("ETH_RPC_URL")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE");
    command
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A failure that fits on one screen and shows no source locations.
fn assert_clean(output: &Output) -> String {
    assert!(!output.status.success());
    let stderr = stderr(output);
    assert!(stderr.lines().count() <= 15, "one screen:\n{stderr}");
    assert!(!stderr.contains("Location:"), "no source locations without -v:\n{stderr}");
    assert!(!stderr.contains("Backtrace"), "{stderr}");
    assert!(output.stdout.is_empty(), "nothing on stdout: {:?}", output.stdout);
    stderr
}

#[test]
fn a_bad_flag_value_is_a_short_usage_error() {
    let output = nsed(&["keeper", "--keeper.poll-ms", "soon"]).output().expect("nsed runs");
    let stderr = assert_clean(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid value 'soon' for '--keeper.poll-ms <MS>'"), "{stderr}");
}

#[test]
fn an_unreachable_rpc_prints_the_message_chain_only() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        nsed(&["-q", "deploy", "--rpc-url", "http://127.0.0.1:1", "--private-key", DEV_KEY])
            .arg("--deployments-dir")
            .arg(dir.path())
            .output()
            .expect("nsed runs");
    let stderr = assert_clean(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("Error: cannot deploy the suite on http://127.0.0.1:1\n"),
        "{stderr}"
    );
    assert!(stderr.contains("\n  caused by: eth_chainId: "), "{stderr}");
    assert!(!stderr.contains(&DEV_KEY[2..]), "the key is never printed: {stderr}");
}

#[test]
fn verbose_errors_show_where_they_happened() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        nsed(&["-v", "deploy", "--rpc-url", "http://127.0.0.1:1", "--private-key", DEV_KEY])
            .arg("--deployments-dir")
            .arg(dir.path())
            .output()
            .expect("nsed runs");
    assert!(!output.status.success());
    let stderr = stderr(&output);
    assert!(stderr.contains("Location:"), "{stderr}");
}

#[test]
fn eth_rpc_url_never_points_a_command_at_a_chain() {
    for command in
        [&["deploy", "--private-key", DEV_KEY][..], &["keeper", "--private-key", DEV_KEY]]
    {
        let output =
            nsed(command).env("ETH_RPC_URL", "http://127.0.0.1:1").output().expect("nsed runs");
        let stderr = assert_clean(&output);
        assert!(stderr.contains("pass `--rpc-url` or set NSED_RPC_URL"), "{stderr}");
        assert!(!stderr.contains("127.0.0.1:1"), "{stderr}");
    }
}

#[test]
fn nsed_rpc_url_is_the_environment_binding() {
    let dir = tempfile::tempdir().unwrap();
    let output = nsed(&["-q", "deploy", "--private-key", DEV_KEY])
        .arg("--deployments-dir")
        .arg(dir.path())
        .env("NSED_RPC_URL", "http://127.0.0.1:1")
        .output()
        .expect("nsed runs");
    let stderr = assert_clean(&output);
    assert!(stderr.contains("cannot deploy the suite on http://127.0.0.1:1"), "{stderr}");
}

#[test]
fn under_json_an_error_is_one_json_document() {
    let dir = tempfile::tempdir().unwrap();
    let output = nsed(&["-q", "--json", "deploy", "--rpc-url", "http://127.0.0.1:1"])
        .args(["--private-key", DEV_KEY])
        .arg("--deployments-dir")
        .arg(dir.path())
        .output()
        .expect("nsed runs");
    let stderr = assert_clean(&output);
    let doc: serde_json::Value =
        serde_json::from_str(&stderr).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(doc["error"], "cannot deploy the suite on http://127.0.0.1:1", "{doc}");
    assert!(doc["causes"][0].as_str().unwrap().starts_with("eth_chainId: "), "{doc}");
}
