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

/// A nats-server with authentication on, its users and streams, and a second auth directory
/// whose seeds that server has never seen.
struct AuthServer {
    nats: nsed_devstack::NatsInstance,
    auth: nsed_bus::auth::AuthDir,
    stranger: nsed_bus::auth::AuthDir,
    dir: tempfile::TempDir,
}

impl AuthServer {
    fn start(agents: &[alloy::primitives::Address]) -> Self {
        use nsed_bus::auth::{AuthDir, InitOptions};
        let dir = tempfile::tempdir().unwrap();
        let options = InitOptions::new("127.0.0.1:4222", dir.path().join("jetstream"));
        let mut auth = AuthDir::init(dir.path().join("nats"), options.clone()).unwrap();
        for agent in agents {
            auth.add_agent(*agent, false).unwrap();
        }
        let stranger = AuthDir::init(dir.path().join("other"), options).unwrap();
        let config = nsed_devstack::NatsConfig::default().with_config_file(auth.config_path());
        let nats = nsed_devstack::NatsServer::spawn(config).unwrap();
        let operator = nsed_bus::NatsConnect::new(nats.url())
            .with_creds(auth.creds_path(nsed_bus::auth::OPERATOR));
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            nsed_bus::Bus::connect_with(&operator).await.unwrap().ensure_streams().await.unwrap();
        });
        Self { nats, auth, stranger, dir }
    }
}

/// What a service that stopped at start said: its exit status is 1 and its last words name the
/// failure; under `-q` nothing else is logged.
fn failed_at_start(mut command: Command) -> String {
    let child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("nsed runs");
    let output = child.wait_with_output().expect("nsed exits on its own");
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.lines().count() <= 15, "one screen:\n{stderr}");
    assert!(!stderr.contains("Location:"), "{stderr}");
    stderr
}

#[test]
fn a_worker_with_a_seed_the_server_does_not_know_stops_at_start() {
    let agent: alloy::signers::local::PrivateKeySigner = DEV_KEY.parse().unwrap();
    let other = alloy::primitives::Address::repeat_byte(0xb2);
    let server = AuthServer::start(&[agent.address(), other]);
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let worker = |creds: &std::path::Path| {
        let mut command = nsed(&["-q", "worker", "--model", "gnb_full", "--nats-url"]);
        command
            .arg(server.nats.url())
            .arg("--nats.creds")
            .arg(creds)
            .arg("--models-dir")
            .arg(&models)
            .args(["--keeper", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"])
            .env("NSED_AGENT_KEY", DEV_KEY)
            .env_remove("NSED_NATS_CREDS");
        command
    };

    // A seed from another installation: refused when connecting.
    let stranger = server.stranger.creds_path(nsed_bus::auth::DEFAULT_KEEPER);
    let stderr = failed_at_start(worker(&stranger));
    assert!(
        stderr.contains(&format!(
            "the credentials in {} were refused by NATS at {}",
            stranger.display(),
            server.nats.url()
        )),
        "{stderr}"
    );

    // Another agent's seed: it connects, but may not open this agent's queue.
    let seed = server.auth.creds_path(&nsed_bus::auth::Role::Agent(other).user_name());
    let stderr = failed_at_start(worker(&seed));
    let consumer = nsed_bus::consumer_name(agent.address());
    assert!(stderr.contains(&format!("cannot open consumer {consumer}")), "{stderr}");
    assert!(stderr.contains("this NATS user may not publish to"), "{stderr}");

    // No seed file at all.
    let missing = server.dir.path().join("missing.nk");
    let stderr = failed_at_start(worker(&missing));
    assert!(
        stderr.contains(&format!("cannot read NATS credentials file {}", missing.display())),
        "{stderr}"
    );
}

#[test]
fn a_keeper_with_a_seed_the_server_does_not_know_stops_at_start() {
    use nsed_deploy::{ContractRecord, Deployment, MARKET};
    let server = AuthServer::start(&[]);
    let anvil =
        nsed_devstack::Anvil::spawn(nsed_devstack::AnvilConfig::default()).expect("anvil starts");
    // The keeper reads its market from a record; it stops before it would call it.
    let market = ContractRecord {
        address: alloy::primitives::Address::repeat_byte(0x4d),
        transaction_hash: Default::default(),
        block_number: 0,
        args: Vec::new(),
        bytecode_hash: Default::default(),
        abi: Default::default(),
    };
    let record = Deployment {
        network: "local".into(),
        chain_id: anvil.chain_id(),
        contracts: [(MARKET.to_owned(), market)].into(),
        ..Deployment::default()
    };
    let record_path = server.dir.path().join("local.json");
    std::fs::write(&record_path, serde_json::to_string(&record).unwrap()).unwrap();
    let stranger = server.stranger.creds_path(nsed_bus::auth::DEFAULT_KEEPER);
    let mut keeper = nsed(&["-q", "keeper", "--private-key", DEV_KEY, "--rpc-url"]);
    keeper
        .arg(anvil.endpoint())
        .arg("--deployment")
        .arg(&record_path)
        .arg("--keeper.db")
        .arg(server.dir.path().join("keeper.sqlite"))
        .arg("--nats-url")
        .arg(server.nats.url())
        .arg("--nats.creds")
        .arg(&stranger);
    let stderr = failed_at_start(keeper);
    assert!(
        stderr.contains(&format!(
            "the credentials in {} were refused by NATS at {}",
            stranger.display(),
            server.nats.url()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(&DEV_KEY[2..]), "the key is never printed: {stderr}");
}
