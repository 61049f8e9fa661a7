//! A JetStream cluster of local nats-servers on loopback, for `nsed up --nats.cluster` and for
//! fault tests: each node is a [`NatsServer`] with its own name, store directory, client port,
//! cluster (route) port and monitoring port, and a `cluster { name, listen, routes }` block that
//! routes it to every other node.
//!
//! [`NatsCluster::spawn`] returns once every node greets clients and the nodes agree on a
//! JetStream meta leader (polled on each node's `/jsz` monitoring endpoint) and report themselves
//! healthy (`/healthz`). Nodes keep their ports and store directories when they are killed and
//! restarted, so clients given every node's URL reconnect to them and JetStream recovers its
//! streams from disk.

use std::{
    fmt::Write as _,
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;
use tempfile::TempDir;
use tracing::{debug, info};

use crate::{
    DEFAULT_STARTUP_TIMEOUT,
    error::{DevstackError, DevstackResult},
    nats::{NatsConfig, NatsInstance, NatsServer},
    process::free_port,
};

/// How the cluster is named in errors.
const NAME: &str = "nats-server cluster";

/// How many times [`NatsCluster::spawn`] starts over with new ports when one of them was taken
/// between choosing and binding it.
const SPAWN_ATTEMPTS: usize = 3;

/// How long one monitoring request may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long to wait between two probes of the cluster's state.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// The most nodes a cluster may have here: JetStream replicates a stream to at most five.
pub const MAX_CLUSTER_NODES: usize = 5;

/// How to start a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsClusterConfig {
    /// The nats-server binary; `None` searches as [`locate_nats_server`](crate::locate_nats_server)
    /// describes.
    pub binary: Option<PathBuf>,
    /// How many nodes (1 to [`MAX_CLUSTER_NODES`]); three tolerate the loss of one.
    pub nodes: usize,
    /// The cluster's name (`cluster { name }`).
    pub name: String,
    /// A configuration file whose text starts every node's file (authorization, TLS, ...). Its
    /// `listen` and `jetstream { store_dir }` are overridden per node; paths in it must be
    /// absolute.
    pub base_config: Option<PathBuf>,
    /// How long to wait for every node to start and for the cluster to elect a JetStream meta
    /// leader, at start and at each restart.
    pub startup_timeout: Duration,
}

impl Default for NatsClusterConfig {
    fn default() -> Self {
        Self {
            binary: None,
            nodes: 3,
            name: "nsed".to_owned(),
            base_config: None,
            startup_timeout: DEFAULT_STARTUP_TIMEOUT,
        }
    }
}

impl NatsClusterConfig {
    /// Starts `nodes` nodes instead of three.
    pub const fn with_nodes(mut self, nodes: usize) -> Self {
        self.nodes = nodes;
        self
    }

    /// Starts every node's configuration file with the text of `file`.
    pub fn with_base_config(mut self, file: impl Into<PathBuf>) -> Self {
        self.base_config = Some(file.into());
        self
    }

    /// Uses the nats-server binary at `binary` instead of searching for one.
    pub fn with_binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = Some(binary.into());
        self
    }

    /// Sets how long to wait for the cluster to become ready.
    pub const fn with_startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }
}

/// Starts clusters; see [`NatsCluster::spawn`].
#[derive(Debug, Clone, Copy)]
pub struct NatsCluster;

impl NatsCluster {
    /// Starts `config.nodes` nats-servers with JetStream on `127.0.0.1`, routed to each other,
    /// and waits until they agree on a JetStream meta leader and report themselves healthy.
    ///
    /// Every port is picked free; if one is taken before its node binds it, the whole cluster
    /// is started again on new ports (up to three attempts).
    ///
    /// # Errors
    ///
    /// - [`DevstackError::NotReady`] when `config.nodes` is out of range, or the cluster has no
    ///   meta leader within `config.startup_timeout` (the message includes a log tail);
    /// - [`DevstackError::TempDir`] when the directory for the nodes' files and stores cannot
    ///   be created or written, or `config.base_config` cannot be read;
    /// - otherwise as [`NatsServer::spawn`], for the node that failed.
    pub fn spawn(config: NatsClusterConfig) -> DevstackResult<NatsClusterInstance> {
        if !(1..=MAX_CLUSTER_NODES).contains(&config.nodes) {
            return Err(DevstackError::NotReady {
                name: NAME,
                timeout: Duration::ZERO,
                last_probe: format!(
                    "a cluster has 1 to {MAX_CLUSTER_NODES} nodes, not {}",
                    config.nodes
                ),
                log_tail: String::new(),
            });
        }
        let base = match &config.base_config {
            Some(path) => std::fs::read_to_string(path)
                .map_err(|source| DevstackError::TempDir { name: NAME, source })?,
            None => String::new(),
        };
        let mut attempt = 1;
        loop {
            match Self::spawn_once(&config, &base) {
                Err(DevstackError::AddrInUse { port, .. }) if attempt < SPAWN_ATTEMPTS => {
                    debug!(target: "devstack::nats", port, attempt, "cluster port taken, retrying");
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    fn spawn_once(config: &NatsClusterConfig, base: &str) -> DevstackResult<NatsClusterInstance> {
        let dir = tempfile::Builder::new()
            .prefix("nsed-devstack-nats-cluster-")
            .tempdir()
            .map_err(|source| DevstackError::TempDir { name: NAME, source })?;
        let mut nodes = Vec::with_capacity(config.nodes);
        for i in 1..=config.nodes {
            nodes.push(Node {
                name: format!("n{i}"),
                client_port: free_port()?,
                cluster_port: free_port()?,
                http_port: free_port()?,
                config_file: dir.path().join(format!("n{i}.conf")),
                store_dir: dir.path().join(format!("n{i}-store")),
                instance: None,
            });
        }
        let routes: Vec<String> = nodes
            .iter()
            .map(|n| format!("\"nats-route://127.0.0.1:{}\"", n.cluster_port))
            .collect();
        for node in &nodes {
            let text = node.config_text(base, &config.name, &routes.join(", "));
            std::fs::write(&node.config_file, text)
                .map_err(|source| DevstackError::TempDir { name: NAME, source })?;
        }
        let mut cluster = NatsClusterInstance {
            nodes,
            binary: config.binary.clone(),
            timeout: config.startup_timeout,
            dir,
        };
        // A node waits for its routes only in the background, so starting them one after the
        // other is fine; the cluster forms once the last one is up.
        for i in 0..cluster.nodes.len() {
            cluster.start_node(i)?;
        }
        let leader = cluster.wait_ready(cluster.timeout)?;
        info!(target: "devstack::nats", nodes = cluster.nodes.len(), %leader, urls = %cluster.url(), "nats cluster ready");
        Ok(cluster)
    }
}

/// One node: where it listens and keeps its data, and its process while it runs.
#[derive(Debug)]
struct Node {
    name: String,
    client_port: u16,
    cluster_port: u16,
    http_port: u16,
    config_file: PathBuf,
    store_dir: PathBuf,
    instance: Option<NatsInstance>,
}

impl Node {
    /// The node's configuration: the base text, then what differs per node (later keys win in
    /// nats-server's format, so these override the base's).
    fn config_text(&self, base: &str, cluster: &str, routes: &str) -> String {
        let mut text = base.to_owned();
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "\n# Node {name} of the local cluster {cluster:?}, written by nsed-devstack.\n\
             server_name: {name:?}\n\
             http: \"127.0.0.1:{http}\"\n\
             jetstream {{\n  store_dir: {store:?}\n}}\n\
             cluster {{\n  name: {cluster:?}\n  listen: \"127.0.0.1:{route}\"\n  \
             routes: [{routes}]\n}}\n",
            name = self.name,
            http = self.http_port,
            store = self.store_dir.display().to_string(),
            route = self.cluster_port,
        );
        text
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.client_port)
    }
}

/// A running cluster; every node is killed when it is dropped, and the nodes' files and stores
/// are deleted after that.
#[derive(Debug)]
pub struct NatsClusterInstance {
    // Field order matters: the nodes stop before the directory with their stores is deleted.
    nodes: Vec<Node>,
    binary: Option<PathBuf>,
    timeout: Duration,
    dir: TempDir,
}

impl NatsClusterInstance {
    /// How many nodes the cluster has, running or not.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no nodes (never, once spawned).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every node's client URL, in node order.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(Node::url).collect()
    }

    /// Every node's client URL separated by commas, the form NATS clients (and
    /// `nsed_bus::NatsConnect`) accept for a cluster.
    pub fn url(&self) -> String {
        self.urls().join(",")
    }

    /// Node `i`'s client URL.
    ///
    /// # Panics
    ///
    /// When `i` is not a node.
    pub fn node_url(&self, i: usize) -> String {
        self.nodes[i].url()
    }

    /// Node `i`'s `server_name` (`n1`, `n2`, ...).
    ///
    /// # Panics
    ///
    /// When `i` is not a node.
    pub fn node_name(&self, i: usize) -> &str {
        &self.nodes[i].name
    }

    /// Node `i`'s monitoring port (`/varz`, `/jsz`, `/healthz`).
    ///
    /// # Panics
    ///
    /// When `i` is not a node.
    pub fn monitor_port(&self, i: usize) -> u16 {
        self.nodes[i].http_port
    }

    /// Node `i`'s process, while it runs.
    ///
    /// # Panics
    ///
    /// When `i` is not a node.
    pub fn node(&self, i: usize) -> Option<&NatsInstance> {
        self.nodes[i].instance.as_ref()
    }

    /// Whether node `i` is running (not killed).
    ///
    /// # Panics
    ///
    /// When `i` is not a node.
    pub fn is_running(&self, i: usize) -> bool {
        self.nodes[i].instance.is_some()
    }

    /// Node `i`'s JetStream store directory, kept across restarts.
    ///
    /// # Panics
    ///
    /// When `i` is not a node.
    pub fn store_dir(&self, i: usize) -> &Path {
        &self.nodes[i].store_dir
    }

    /// The directory holding the nodes' configuration files and stores; deleted with the
    /// instance.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Node `i`'s `/jsz` monitoring document.
    ///
    /// # Errors
    ///
    /// A description of the failure when the node does not answer with JSON.
    ///
    /// # Panics
    ///
    /// When `i` is not a node.
    pub fn jsz(&self, i: usize) -> Result<Value, String> {
        let (status, body) = http_get(self.nodes[i].http_port, "/jsz")?;
        if status != 200 {
            return Err(format!("/jsz answered {status}: {body}"));
        }
        serde_json::from_str(&body).map_err(|err| format!("/jsz is not JSON: {err}"))
    }

    /// The JetStream meta leader every running node agrees on, if they do and it is running.
    pub fn meta_leader(&self) -> Option<String> {
        self.probe().ok()
    }

    /// Kills node `i` with SIGKILL (no shutdown, nothing flushed) and waits until it exited;
    /// its store directory and ports stay reserved for [`NatsClusterInstance::restart`].
    /// Killing a node that is not running does nothing.
    ///
    /// # Errors
    ///
    /// [`DevstackError::Stop`] when the process cannot be killed or reaped.
    ///
    /// # Panics
    ///
    /// When `i` is not a node.
    pub fn kill(&mut self, i: usize) -> DevstackResult<()> {
        let node = &mut self.nodes[i];
        if let Some(instance) = node.instance.take() {
            let pid = instance.pid();
            // The guard's kill is SIGKILL: the node gets no chance to flush or say goodbye.
            instance.stop()?;
            info!(target: "devstack::nats", node = %node.name, pid, "killed nats node");
        }
        Ok(())
    }

    /// Kills node `i` if it runs, starts it again on the same ports and store, and waits until
    /// the cluster has a meta leader that every running node (this one included) agrees on.
    ///
    /// # Errors
    ///
    /// As [`NatsClusterInstance::kill`] and [`NatsCluster::spawn`].
    ///
    /// # Panics
    ///
    /// When `i` is not a node.
    pub fn restart(&mut self, i: usize) -> DevstackResult<()> {
        self.kill(i)?;
        self.start_node(i)?;
        self.wait_ready(self.timeout)?;
        Ok(())
    }

    /// Kills every node, then starts them all again and waits for a meta leader, as after a
    /// power cut of the whole cluster.
    ///
    /// # Errors
    ///
    /// As [`NatsClusterInstance::kill`] and [`NatsCluster::spawn`].
    pub fn restart_all(&mut self) -> DevstackResult<()> {
        for i in 0..self.nodes.len() {
            self.kill(i)?;
        }
        for i in 0..self.nodes.len() {
            self.start_node(i)?;
        }
        self.wait_ready(self.timeout)?;
        Ok(())
    }

    /// Waits up to `timeout` until every running node agrees on a running JetStream meta
    /// leader and reports itself healthy (`/healthz`: JetStream's assets are current), and
    /// returns the leader's name.
    ///
    /// # Errors
    ///
    /// [`DevstackError::NotReady`] with the last probe's finding when `timeout` passes.
    pub fn wait_ready(&self, timeout: Duration) -> DevstackResult<String> {
        let started = Instant::now();
        loop {
            match self.probe().and_then(|leader| self.healthy().map(|()| leader)) {
                Ok(leader) => {
                    debug!(target: "devstack::nats", %leader, elapsed = ?started.elapsed(), "nats cluster ready");
                    return Ok(leader);
                }
                Err(last_probe) if started.elapsed() >= timeout => {
                    return Err(DevstackError::NotReady {
                        name: NAME,
                        timeout,
                        last_probe,
                        log_tail: self.log_tails(),
                    });
                }
                Err(_) => thread::sleep(POLL_INTERVAL),
            }
        }
    }

    /// The meta leader every running node reports, or why there is none yet.
    fn probe(&self) -> Result<String, String> {
        let mut agreed: Option<String> = None;
        for (i, node) in self.nodes.iter().enumerate().filter(|(_, n)| n.instance.is_some()) {
            let jsz = self.jsz(i).map_err(|err| format!("{}: {err}", node.name))?;
            let leader = jsz
                .pointer("/meta_cluster/leader")
                .and_then(Value::as_str)
                .filter(|l| !l.is_empty())
                .ok_or_else(|| format!("{} knows no meta leader yet", node.name))?;
            match &agreed {
                Some(other) if other != leader => {
                    return Err(format!("nodes disagree on the meta leader ({other}, {leader})"));
                }
                _ => agreed = Some(leader.to_owned()),
            }
        }
        let leader = agreed.ok_or("no node is running")?;
        if !self.nodes.iter().any(|n| n.name == leader && n.instance.is_some()) {
            return Err(format!("the meta leader {leader} is not running"));
        }
        Ok(leader)
    }

    /// `Ok` once every running node's `/healthz` says ok.
    fn healthy(&self) -> Result<(), String> {
        for node in self.nodes.iter().filter(|n| n.instance.is_some()) {
            let (status, body) = http_get(node.http_port, "/healthz")?;
            if status != 200 {
                return Err(format!("{} is not healthy yet: {}", node.name, body.trim()));
            }
        }
        Ok(())
    }

    /// Starts node `i` from its configuration file and waits until it greets clients.
    fn start_node(&mut self, i: usize) -> DevstackResult<()> {
        let node = &self.nodes[i];
        let mut config = NatsConfig::default()
            .with_config_file(&node.config_file)
            .with_port(node.client_port)
            .with_startup_timeout(self.timeout);
        config.binary.clone_from(&self.binary);
        let instance = NatsServer::spawn(config)?;
        info!(target: "devstack::nats", node = %node.name, pid = instance.pid(), url = %node.url(), "started nats node");
        self.nodes[i].instance = Some(instance);
        Ok(())
    }

    /// The last lines of every running node's log, for errors.
    fn log_tails(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            if let Some(instance) = &node.instance {
                let log = std::fs::read_to_string(instance.log_path()).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(8).collect();
                let _ = writeln!(out, "--- {}", node.name);
                for line in tail.into_iter().rev() {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        out
    }
}

/// `GET path` on the monitoring port `127.0.0.1:port`: the status code and the body.
///
/// HTTP/1.0, so that the server neither keeps the connection open nor chunks the body.
fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT)
        .map_err(|err| format!("connect to {addr}: {err}"))?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).map_err(|err| err.to_string())?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).map_err(|err| err.to_string())?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")
        .map_err(|err| format!("send GET {path}: {err}"))?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|err| format!("read GET {path}: {err}"))?;
    let (head, body) = response.split_once("\r\n\r\n").ok_or("truncated HTTP response")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP status in `{head}`"))?;
    Ok((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_file_overrides_the_base_and_routes_to_every_node() {
        let node = Node {
            name: "n2".to_owned(),
            client_port: 4001,
            cluster_port: 6001,
            http_port: 8001,
            config_file: PathBuf::from("/x/n2.conf"),
            store_dir: PathBuf::from("/x/n2-store"),
            instance: None,
        };
        let routes = "\"nats-route://127.0.0.1:6000\", \"nats-route://127.0.0.1:6001\"";
        let text = node.config_text("jetstream { store_dir: \"/base\" }\n", "c", routes);
        assert!(text.starts_with("jetstream { store_dir: \"/base\" }"), "{text}");
        let own = text.rfind("store_dir: \"/x/n2-store\"").unwrap();
        assert!(own > text.find("/base").unwrap(), "the node's store comes last:\n{text}");
        for expected in [
            "server_name: \"n2\"",
            "http: \"127.0.0.1:8001\"",
            "listen: \"127.0.0.1:6001\"",
            "name: \"c\"",
            routes,
        ] {
            assert!(text.contains(expected), "{expected} missing:\n{text}");
        }
    }

    #[test]
    fn out_of_range_node_counts_are_refused() {
        for nodes in [0, MAX_CLUSTER_NODES + 1] {
            let err = NatsCluster::spawn(NatsClusterConfig::default().with_nodes(nodes));
            assert!(matches!(err, Err(DevstackError::NotReady { .. })), "{nodes}: {err:?}");
        }
    }
}
