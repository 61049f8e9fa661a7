//! A deliberately tiny HTTP/1.1 JSON-RPC client for readiness probes.
//!
//! Probing only needs one request per attempt against a local server, so a hand-written request
//! over `std::net::TcpStream` avoids pulling an HTTP stack into a crate that tests depend on.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    time::Duration,
};

use serde_json::Value;

/// Calls `method` with no params on the JSON-RPC server at `127.0.0.1:port` and returns the
/// `result` member. Errors are human-readable probe failures.
pub(crate) fn json_rpc_call(port: u16, method: &str, timeout: Duration) -> Result<Value, String> {
    let body = serde_json::json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": [] })
        .to_string();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|err| format!("connect to {addr}: {err}"))?;
    stream.set_read_timeout(Some(timeout)).map_err(|err| err.to_string())?;
    stream.set_write_timeout(Some(timeout)).map_err(|err| err.to_string())?;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|err| format!("send {method}: {err}"))?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(|err| format!("read {method} response: {err}"))?;
    let body = parse_response(&response)?;
    let mut reply: Value = serde_json::from_slice(&body)
        .map_err(|err| format!("{method} reply is not JSON: {err}"))?;
    if let Some(error) = reply.get("error") {
        return Err(format!("{method} failed: {error}"));
    }
    reply.get_mut("result").map(Value::take).ok_or_else(|| format!("{method} reply has no result"))
}

/// Splits a complete `Connection: close` response into its body, checking for status 200 and
/// undoing chunked transfer encoding.
fn parse_response(response: &[u8]) -> Result<Vec<u8>, String> {
    let split = find(response, b"\r\n\r\n").ok_or("truncated HTTP response")?;
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.split_whitespace().nth(1).unwrap_or_default();
    if status != "200" {
        return Err(format!("unexpected HTTP status line `{status_line}`"));
    }
    let chunked = lines.filter_map(|line| line.split_once(':')).any(|(name, value)| {
        name.trim().eq_ignore_ascii_case("transfer-encoding")
            && value.trim().eq_ignore_ascii_case("chunked")
    });
    if chunked { decode_chunked(body) } else { Ok(body.to_vec()) }
}

fn decode_chunked(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = find(body, b"\r\n").ok_or("truncated chunk size")?;
        let size_line = String::from_utf8_lossy(&body[..line_end]);
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|err| format!("bad chunk size `{size_hex}`: {err}"))?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = body.get(..size).ok_or("truncated chunk")?;
        out.extend_from_slice(chunk);
        body = body.get(size + 2..).ok_or("truncated chunk terminator")?;
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

/// Parses a `0x`-prefixed hex quantity, as JSON-RPC encodes numbers.
pub(crate) fn parse_quantity(value: &Value) -> Result<u64, String> {
    let text = value.as_str().ok_or_else(|| format!("expected a hex string, got {value}"))?;
    let digits = text.strip_prefix("0x").ok_or_else(|| format!("`{text}` lacks the 0x prefix"))?;
    u64::from_str_radix(digits, 16).map_err(|err| format!("`{text}` is not a quantity: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_with_content_length_yields_its_body() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(parse_response(response).unwrap(), b"{}");
    }

    #[test]
    fn chunked_response_is_reassembled() {
        let response =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(parse_response(response).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn non_200_status_is_an_error() {
        let response = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
        assert!(parse_response(response).is_err());
    }

    #[test]
    fn truncated_head_is_an_error() {
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn quantities_parse_from_prefixed_hex() {
        assert_eq!(parse_quantity(&Value::from("0x7a69")).unwrap(), 31337);
        assert!(parse_quantity(&Value::from("7a69")).is_err());
        assert!(parse_quantity(&Value::from(5)).is_err());
    }
}
