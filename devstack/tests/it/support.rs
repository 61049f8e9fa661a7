//! Helpers that observe the services independently of the crate under test.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

/// How long tests wait for a condition before failing.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(15);

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub(crate) fn poll_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if started.elapsed() >= timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Whether something accepts TCP connections on `127.0.0.1:port`.
pub(crate) fn accepts_connections(port: u16) -> bool {
    TcpStream::connect_timeout(&addr(port), Duration::from_secs(1)).is_ok()
}

/// Sends one JSON-RPC request over a hand-written HTTP/1.1 POST and returns `result`.
pub(crate) fn json_rpc(port: u16, method: &str) -> Value {
    json_rpc_with(port, method, "[]")
}

/// [`json_rpc`] with `params` (a JSON array).
pub(crate) fn json_rpc_with(port: u16, method: &str, params: &str) -> Value {
    let body = format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{method}","params":{params}}}"#);
    let mut stream = TcpStream::connect_timeout(&addr(port), TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    let json: Value = serde_json::from_str(body.trim()).unwrap();
    json["result"].clone()
}

/// Calls a JSON-RPC method whose result is a hex quantity.
pub(crate) fn quantity(port: u16, method: &str) -> u64 {
    let result = json_rpc(port, method);
    let hex = result.as_str().unwrap().strip_prefix("0x").unwrap();
    u64::from_str_radix(hex, 16).unwrap()
}

/// Connects to a NATS server and returns the `INFO` line it greets clients with.
pub(crate) fn nats_info_line(port: u16) -> String {
    let stream = TcpStream::connect_timeout(&addr(port), TIMEOUT).unwrap();
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}
