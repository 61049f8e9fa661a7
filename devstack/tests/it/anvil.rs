//! The anvil node.

use std::{net::TcpListener, time::Duration};

use nsed_devstack::{
    Anvil, AnvilConfig, DevstackError,
    anvil::{DEFAULT_ADDRESSES, DEFAULT_PRIVATE_KEYS},
};

use crate::support::{TIMEOUT, accepts_connections, json_rpc, json_rpc_with, poll_until, quantity};

#[test]
fn anvil_answers_eth_chain_id_with_the_default_chain_id() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    assert_eq!(anvil.chain_id(), 31337);
    assert_eq!(quantity(anvil.port(), "eth_chainId"), 31337);
    assert_eq!(anvil.endpoint(), format!("http://127.0.0.1:{}", anvil.port()));
}

#[test]
fn anvil_answers_eth_chain_id_with_a_custom_chain_id() {
    let anvil = Anvil::spawn(AnvilConfig::default().with_chain_id(4242)).unwrap();
    assert_eq!(anvil.chain_id(), 4242);
    assert_eq!(quantity(anvil.port(), "eth_chainId"), 4242);
}

#[test]
fn anvil_listens_on_the_requested_port() {
    let port = nsed_devstack::free_port().unwrap();
    let anvil = Anvil::spawn(AnvilConfig::default().with_port(port)).unwrap();
    assert_eq!(anvil.port(), port);
    assert_eq!(quantity(port, "eth_chainId"), 31337);
}

#[test]
fn anvil_stops_accepting_connections_after_drop() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let port = anvil.port();
    let run_dir = anvil.run_dir().to_path_buf();
    assert!(accepts_connections(port));
    drop(anvil);
    assert!(poll_until(TIMEOUT, || !accepts_connections(port)), "port {port} still open");
    assert!(!run_dir.exists(), "{} still exists", run_dir.display());
}

#[test]
fn anvil_keeps_the_states_it_writes_to_disk_in_its_run_directory() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let states = anvil.run_dir().join("states");
    // Past its in-memory limit (a few hundred blocks) anvil writes each block's state to disk.
    json_rpc_with(anvil.port(), "anvil_mine", r#"["0x400"]"#);
    let files = walk(&states);
    assert!(files > 0, "no state written under {}", states.display());
    let run_dir = anvil.run_dir().to_path_buf();
    drop(anvil);
    assert!(!run_dir.exists(), "{} still exists", run_dir.display());
}

/// Files under `dir`, at any depth (0 when it does not exist).
fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|entry| match entry.file_type() {
                Ok(kind) if kind.is_dir() => walk(&entry.path()),
                _ => 1,
            })
            .sum()
    })
}

#[test]
fn anvil_stops_accepting_connections_after_explicit_stop() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let port = anvil.port();
    anvil.stop().unwrap();
    assert!(poll_until(TIMEOUT, || !accepts_connections(port)), "port {port} still open");
}

#[test]
fn two_anvils_run_side_by_side_on_different_ports() {
    let first = Anvil::spawn(AnvilConfig::default().with_chain_id(1111)).unwrap();
    let second = Anvil::spawn(AnvilConfig::default().with_chain_id(2222)).unwrap();
    assert_ne!(first.port(), second.port());
    assert_ne!(first.pid(), second.pid());
    assert_eq!(quantity(first.port(), "eth_chainId"), 1111);
    assert_eq!(quantity(second.port(), "eth_chainId"), 2222);

    let first_port = first.port();
    drop(first);
    assert!(poll_until(TIMEOUT, || !accepts_connections(first_port)), "first still open");
    assert_eq!(quantity(second.port(), "eth_chainId"), 2222);
}

#[test]
fn anvil_reports_the_well_known_default_dev_accounts() {
    let anvil = Anvil::spawn(AnvilConfig::default()).unwrap();
    let accounts = anvil.accounts();
    assert_eq!(accounts.len(), 10);
    for (i, account) in accounts.iter().enumerate() {
        assert_eq!(account.address(), DEFAULT_ADDRESSES[i], "address {i}");
        assert_eq!(account.private_key(), DEFAULT_PRIVATE_KEYS[i], "key {i}");
    }
    let node_accounts = json_rpc(anvil.port(), "eth_accounts");
    let node_accounts: Vec<String> = node_accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert_eq!(node_accounts, DEFAULT_ADDRESSES);
}

#[test]
fn anvil_generates_the_requested_number_of_accounts() {
    let anvil = Anvil::spawn(AnvilConfig::default().with_accounts(12)).unwrap();
    assert_eq!(anvil.accounts().len(), 12);
    assert_eq!(
        anvil.accounts()[..10].iter().map(|a| a.address()).collect::<Vec<_>>(),
        DEFAULT_ADDRESSES
    );
    assert_eq!(json_rpc(anvil.port(), "eth_accounts").as_array().unwrap().len(), 12);
}

#[test]
fn anvil_with_a_block_time_mines_blocks_without_transactions() {
    let anvil = Anvil::spawn(AnvilConfig::default().with_block_time(1)).unwrap();
    let port = anvil.port();
    assert!(poll_until(TIMEOUT, || quantity(port, "eth_blockNumber") >= 1), "no block mined");
}

#[test]
fn anvil_on_a_taken_port_fails_with_addr_in_use() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = Anvil::spawn(AnvilConfig::default().with_port(port)).unwrap_err();
    assert!(
        matches!(err, DevstackError::AddrInUse { name: "anvil", port: p, .. } if p == port),
        "{err:?}"
    );
}

#[test]
fn anvil_that_is_not_ready_in_time_fails_with_not_ready() {
    let config = AnvilConfig::default().with_startup_timeout(Duration::ZERO);
    let err = Anvil::spawn(config).unwrap_err();
    assert!(matches!(err, DevstackError::NotReady { name: "anvil", .. }), "{err:?}");
}
