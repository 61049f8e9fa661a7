//! Counting a provider's JSON-RPC requests per method, its fillers' and receipt polling's
//! included: a layer for [`crate::provider::wallet_provider_through`]. The keeper exports them on
//! `/metrics` as `nsed_keeper_rpc_requests_total{method="…"}`; divided by the jobs settled, they
//! say what a job costs the node.
//!
//! ```
//! use std::sync::Arc;
//! use nsed_contracts::{provider::wallet_provider_through, rpc_count::{CountRequests, RpcCounts}};
//! let counts = Arc::new(RpcCounts::default());
//! let signer = alloy::signers::local::PrivateKeySigner::random();
//! let _provider = wallet_provider_through(
//!     "http://127.0.0.1:8545".parse().unwrap(),
//!     [],
//!     signer,
//!     CountRequests(counts.clone()),
//! );
//! assert!(counts.snapshot().is_empty(), "nothing is sent until asked");
//! ```

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll},
};

use alloy::{
    rpc::json_rpc::{RequestPacket, ResponsePacket},
    transports::TransportError,
};
use tower::{Layer, Service};

/// Requests sent, per JSON-RPC method.
#[derive(Debug, Default)]
pub struct RpcCounts(Mutex<BTreeMap<String, u64>>);

impl RpcCounts {
    /// Every method sent so far and how many times, by name.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn add(&self, packet: &RequestPacket) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for method in packet.method_names() {
            match counts.get_mut(method) {
                Some(count) => *count += 1,
                None => {
                    counts.insert(method.to_owned(), 1);
                }
            }
        }
    }
}

/// A layer on alloy's client that adds every request to an [`RpcCounts`].
#[derive(Debug, Clone)]
pub struct CountRequests(pub Arc<RpcCounts>);

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted { inner, counts: self.0.clone() }
    }
}

/// A transport that counts what it sends ([`CountRequests`]).
#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
    counts: Arc<RpcCounts>,
}

impl<S> Service<RequestPacket> for Counted<S>
where
    S: Service<RequestPacket, Response = ResponsePacket, Error = TransportError>,
{
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RequestPacket) -> Self::Future {
        self.counts.add(&request);
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use alloy::rpc::json_rpc::{Id, Request, SerializedRequest};

    use super::*;

    fn request(method: &'static str) -> SerializedRequest {
        Request::new(method, Id::Number(1), ()).serialize().unwrap()
    }

    #[test]
    fn single_requests_and_batches_count_per_method() {
        let counts = RpcCounts::default();
        counts.add(&RequestPacket::Single(request("eth_call")));
        counts.add(&RequestPacket::Batch(vec![request("eth_call"), request("eth_chainId")]));
        let expected = BTreeMap::from([("eth_call".to_owned(), 2), ("eth_chainId".to_owned(), 1)]);
        assert_eq!(counts.snapshot(), expected);
    }
}
