//! `nsed nats`: users, seeds and the server configuration from the command line, and the streams
//! created as the operator, against a real nats-server started from that configuration.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use alloy_primitives::Address;
use nsed_bus::{Bus, BusError, NatsConnect};
use nsed_devstack::{NatsConfig, NatsServer};
use serde_json::Value;

fn nsed(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_nsed"));
    command.args(args).env_remove("NSED_NATS_CREDS").env_remove("NSED_NATS_DIR");
    command
}

/// Runs `command` with `--json`, expects success and returns its one JSON document.
fn json(command: &mut Command) -> Value {
    let output = command.output().expect("nsed runs");
    let (stdout, stderr) = texts(&output);
    assert!(output.status.success(), "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn texts(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn path(value: &Value) -> PathBuf {
    PathBuf::from(value.as_str().unwrap_or_else(|| panic!("a path: {value}")))
}

fn streams(url: &str, creds: &Path) -> Output {
    nsed(&["--json", "nats", "streams", "--nats-url", url, "--nats.creds"])
        .arg(creds)
        .output()
        .expect("nsed runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn users_made_by_nsed_nats_connect_after_a_reload_and_only_the_operator_makes_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nats");
    let dir_arg = dir.to_str().unwrap();
    let init = json(
        nsed(&["--json", "nats", "init", "--dir", dir_arg, "--store-dir"])
            .arg(tmp.path().join("js")),
    );
    let (config, operator, keeper) =
        (path(&init["config"]), path(&init["operator"]), path(&init["keeper"]));
    assert_eq!(config, dir.join("nats-server.conf"), "{init}");
    assert_eq!(init["listen"], "127.0.0.1:4222", "{init}");
    let again = nsed(&["nats", "init", "--dir", dir_arg]).output().unwrap();
    assert!(!again.status.success(), "a second init is refused");
    assert!(texts(&again).1.contains("already holds a NATS auth configuration"), "{again:?}");

    let agent = Address::repeat_byte(0xa7);
    let added =
        json(&mut nsed(&["--json", "nats", "add-agent", "--dir", dir_arg, &agent.to_string()]));
    assert_eq!(added["user"], format!("agent-{agent:#x}"), "{added}");
    assert_eq!(added["rotated"], false, "{added}");
    let agent_creds = path(&added["creds"]);
    let twice =
        nsed(&["nats", "add-agent", "--dir", dir_arg, &agent.to_string()]).output().unwrap();
    assert!(texts(&twice).1.contains("rotate its key (`--rotate`)"), "{twice:?}");

    let mut nats = NatsServer::spawn(NatsConfig::default().with_config_file(&config)).unwrap();
    let url = nats.url();

    // The keeper may not create the streams and is told who does; the operator creates them,
    // and a second run finds them.
    let refused = streams(&url, &keeper);
    assert!(!refused.status.success());
    assert!(
        texts(&refused).1.contains("run `nsed nats streams` with the operator's"),
        "{refused:?}"
    );
    for created in [true, false] {
        let output = streams(&url, &operator);
        let (stdout, stderr) = texts(&output);
        assert!(output.status.success(), "{stderr}");
        let doc: Value = serde_json::from_str(&stdout).unwrap();
        let names: Vec<_> = doc["streams"].as_array().unwrap().iter().map(|s| &s["name"]).collect();
        assert_eq!(names, ["NSED_TASKS", "NSED_RESULTS"], "{doc}");
        assert!(
            doc["streams"].as_array().unwrap().iter().all(|s| s["created"] == created),
            "{doc}"
        );
    }

    // The agent's user works at once (the server started with it) for its own queue.
    let connect = NatsConnect::new(&url).with_creds(&agent_creds);
    let bus = Bus::connect_with(&connect).await.unwrap();
    bus.task_consumer(agent, Duration::from_secs(30), 5).await.unwrap();

    // A keeper added to the running server works once it reloads.
    let added = json(&mut nsed(&["--json", "nats", "add-keeper", "--dir", dir_arg, "keeper-2"]));
    let second = NatsConnect::new(&url).with_creds(path(&added["creds"]));
    assert!(matches!(Bus::connect_with(&second).await, Err(BusError::CredentialsRefused { .. })));
    nats.reload(Duration::from_secs(10)).unwrap();
    Bus::connect_with(&second).await.unwrap().ensure_streams().await.unwrap();

    // Rotation and removal take effect on reload too.
    let old = tmp.path().join("old.nk");
    std::fs::copy(&agent_creds, &old).unwrap();
    let rotated = json(&mut nsed(&[
        "--json",
        "nats",
        "add-agent",
        "--rotate",
        "--dir",
        dir_arg,
        &agent.to_string(),
    ]));
    assert_eq!(
        (path(&rotated["creds"]), &rotated["rotated"]),
        (agent_creds.clone(), &Value::Bool(true))
    );
    // Removing deletes the seed file; a copy of it kept elsewhere is refused after the reload.
    let kept = tmp.path().join("keeper-2.nk");
    std::fs::copy(path(&added["creds"]), &kept).unwrap();
    let removed = json(&mut nsed(&["--json", "nats", "remove", "--dir", dir_arg, "keeper-2"]));
    assert_eq!(removed["removed"], "keeper-2", "{removed}");
    assert!(!path(&added["creds"]).exists(), "its seed is deleted");
    nats.reload(Duration::from_secs(10)).unwrap();
    let kept = NatsConnect::new(&url).with_creds(&kept);
    assert!(matches!(Bus::connect_with(&kept).await, Err(BusError::CredentialsRefused { .. })));
    let stale = NatsConnect::new(&url).with_creds(&old);
    assert!(matches!(Bus::connect_with(&stale).await, Err(BusError::CredentialsRefused { .. })));
    let fresh = Bus::connect_with(&connect).await.unwrap();
    fresh.task_consumer(agent, Duration::from_secs(30), 5).await.unwrap();
    // An agent's user is found by its address, in any case.
    let checksummed = agent.to_checksum(None);
    let removed = json(&mut nsed(&["--json", "nats", "remove", "--dir", dir_arg, &checksummed]));
    assert_eq!(removed["removed"], format!("agent-{agent:#x}"), "{removed}");
    assert!(!agent_creds.exists(), "its seed is deleted");
}
