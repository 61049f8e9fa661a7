//! A three-node nats-server cluster: it forms, and a stream with three replicas keeps every
//! acknowledged message and accepts new ones when one node is killed.
//!
//! The client here speaks the NATS text protocol over a `TcpStream` (this crate has no NATS
//! client), enough for JetStream API requests and acknowledged publishes.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    time::{Duration, Instant},
};

use nsed_devstack::{NatsCluster, NatsClusterConfig, NatsClusterInstance};
use serde_json::{Value, json};

use crate::support::{TIMEOUT, poll_until};

/// How long one request waits for its reply before it counts as unanswered.
const REPLY_WAIT: Duration = Duration::from_secs(2);

/// A bare NATS connection that sends requests and reads their replies.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next: u64,
    /// The start of a line whose end has not arrived yet.
    partial: String,
}

impl Client {
    fn connect(url: &str) -> Self {
        let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut info = String::new();
        reader.read_line(&mut info).unwrap();
        assert!(info.starts_with("INFO "), "{info}");
        let mut writer = stream;
        write!(
            writer,
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true,\
             \"no_responders\":true}}\r\nSUB _INBOX.t.* 1\r\n"
        )
        .unwrap();
        Self { reader, writer, next: 0, partial: String::new() }
    }

    /// Publishes `payload` to `subject` (with the message id `id`, if any) and returns the JSON
    /// reply, or `None` when none came within [`REPLY_WAIT`] (e.g. during a leader election).
    fn request(&mut self, subject: &str, id: Option<&str>, payload: &str) -> Option<Value> {
        self.next += 1;
        let reply = format!("_INBOX.t.{}", self.next);
        let headers = id.map(|id| format!("NATS/1.0\r\nNats-Msg-Id: {id}\r\n\r\n"));
        match headers {
            Some(h) => write!(
                self.writer,
                "HPUB {subject} {reply} {} {}\r\n{h}{payload}\r\n",
                h.len(),
                h.len() + payload.len()
            ),
            None => write!(self.writer, "PUB {subject} {reply} {}\r\n{payload}\r\n", payload.len()),
        }
        .ok()?;
        let started = Instant::now();
        while started.elapsed() < REPLY_WAIT {
            // A read that times out keeps what it read in `partial`, so no line is cut.
            match self.reader.read_line(&mut self.partial) {
                Ok(0) => return None,
                Ok(_) if self.partial.ends_with('\n') => {}
                Ok(_) | Err(_) => continue,
            }
            let line = std::mem::take(&mut self.partial);
            let line = line.trim_end();
            if line == "PING" {
                self.writer.write_all(b"PONG\r\n").ok()?;
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            let (to, len) = match parts[..] {
                ["MSG", to, _, len] => (to, len),
                ["HMSG", to, _, _, len] => (to, len),
                _ => continue,
            };
            let mut body = vec![0; len.parse::<usize>().unwrap() + 2];
            self.reader.get_ref().set_read_timeout(Some(REPLY_WAIT)).ok()?;
            let read = self.reader.read_exact(&mut body);
            self.reader.get_ref().set_read_timeout(Some(Duration::from_millis(100))).ok()?;
            read.ok()?;
            // A reply to an earlier, abandoned request: not ours.
            if to != reply {
                continue;
            }
            let text = String::from_utf8_lossy(&body[..body.len() - 2]).into_owned();
            // A status such as "503 no responders" comes as headers without a body.
            let json = text.rsplit("\r\n\r\n").next().unwrap_or_default();
            return Some(
                serde_json::from_str(json).unwrap_or_else(|_| json!({ "error": text.trim() })),
            );
        }
        None
    }

    /// Retries `subject` until a reply without a JetStream error comes, within [`TIMEOUT`].
    fn request_ok(&mut self, subject: &str, id: Option<&str>, payload: &str) -> Value {
        let mut last = None;
        let started = Instant::now();
        while started.elapsed() < TIMEOUT {
            match self.request(subject, id, payload) {
                Some(reply) if reply.get("error").is_none() => return reply,
                other => last = other,
            }
        }
        panic!("{subject} got no successful reply within {TIMEOUT:?}; last: {last:?}");
    }

    fn stream_info(&mut self, stream: &str) -> Value {
        self.request_ok(&format!("$JS.API.STREAM.INFO.{stream}"), None, "")
    }
}

/// The index of the node named `name`.
fn node_index(cluster: &NatsClusterInstance, name: &str) -> usize {
    (0..cluster.len()).find(|&i| cluster.node_name(i) == name).unwrap()
}

#[test]
fn three_nodes_form_a_cluster_with_a_meta_leader() {
    let cluster = NatsCluster::spawn(NatsClusterConfig::default()).unwrap();
    assert_eq!(cluster.len(), 3);
    let leader = cluster.meta_leader().expect("spawn waits for a meta leader");
    let names: Vec<&str> = (0..3).map(|i| cluster.node_name(i)).collect();
    assert_eq!(names, ["n1", "n2", "n3"]);
    assert!(names.contains(&leader.as_str()), "{leader}");
    for i in 0..3 {
        let jsz = cluster.jsz(i).unwrap();
        assert_eq!(jsz["meta_cluster"]["cluster_size"], 3, "{jsz}");
        assert_eq!(jsz["meta_cluster"]["leader"], leader.as_str(), "{jsz}");
    }
    let urls = cluster.urls();
    assert_eq!(cluster.url(), urls.join(","));
    assert_eq!(urls.len(), 3);
    let distinct: std::collections::BTreeSet<_> = (0..3).map(|i| cluster.store_dir(i)).collect();
    assert_eq!(distinct.len(), 3, "each node has its own store");
}

#[test]
fn a_stream_with_three_replicas_survives_the_kill_of_its_leader() {
    let mut cluster = NatsCluster::spawn(NatsClusterConfig::default()).unwrap();
    let mut client = Client::connect(&cluster.node_url(0));
    let config = json!({
        "name": "T", "subjects": ["t.>"], "storage": "file", "num_replicas": 3,
        "retention": "limits", "discard": "old", "duplicate_window": 600_000_000_000u64,
    });
    let created = client.request_ok("$JS.API.STREAM.CREATE.T", None, &config.to_string());
    assert_eq!(created["config"]["num_replicas"], 3, "{created}");
    let ack = client.request_ok("t.one", Some("one"), "first");
    assert_eq!(ack["stream"], "T", "{ack}");

    // Kill the node that leads the stream, so the other two must elect a new leader.
    let leader = client.stream_info("T")["cluster"]["leader"].as_str().unwrap().to_owned();
    let killed = node_index(&cluster, &leader);
    cluster.kill(killed).unwrap();
    assert!(!cluster.is_running(killed));
    let survivor = (killed + 1) % 3;
    let mut client = Client::connect(&cluster.node_url(survivor));
    assert!(
        poll_until(TIMEOUT, || {
            let info = client.stream_info("T");
            info["cluster"]["leader"].as_str().is_some_and(|l| l != leader)
        }),
        "no new stream leader after {leader} was killed"
    );
    let ack = client.request_ok("t.two", Some("two"), "second");
    assert_eq!(ack["seq"], 2, "the acknowledged first message is still there: {ack}");
    let info = client.stream_info("T");
    assert_eq!(info["state"]["messages"], 2, "{info}");
    assert_eq!(info["config"]["num_replicas"], 3, "{info}");

    // The killed node comes back on its store and catches up.
    cluster.restart(killed).unwrap();
    let mut client = Client::connect(&cluster.node_url(killed));
    assert!(
        poll_until(TIMEOUT, || {
            let info = client.stream_info("T");
            let replicas = info["cluster"]["replicas"].as_array().cloned().unwrap_or_default();
            info["state"]["messages"] == 2
                && replicas.len() == 2
                && replicas.iter().all(|r| r["current"] == true)
        }),
        "the restarted node did not catch up"
    );
}

#[test]
fn a_cluster_restarted_as_a_whole_keeps_its_streams() {
    let mut cluster = NatsCluster::spawn(NatsClusterConfig::default()).unwrap();
    let mut client = Client::connect(&cluster.node_url(1));
    let config = json!({
        "name": "R", "subjects": ["r.>"], "storage": "file", "num_replicas": 3,
        "retention": "limits", "discard": "old",
    });
    client.request_ok("$JS.API.STREAM.CREATE.R", None, &config.to_string());
    client.request_ok("r.one", Some("one"), "kept");
    drop(client);
    cluster.restart_all().unwrap();
    assert!(cluster.meta_leader().is_some());
    let mut client = Client::connect(&cluster.node_url(2));
    let info = client.stream_info("R");
    assert_eq!(info["state"]["messages"], 1, "{info}");
}
