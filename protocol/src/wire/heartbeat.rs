//! Liveness reports agents publish every few seconds.

use alloy_primitives::{Address, B256};
use serde::{Deserialize, Serialize};

use super::{Versioned, wire_version};

/// What an agent is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    /// Waiting for tasks.
    Ready,
    /// Working at full capacity.
    Busy,
    /// Shutting down: finishing or returning in-flight work, taking nothing new.
    Draining,
}

/// `nsed.heartbeat.<agent>`: model, load and status of one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Protocol version of this message.
    #[serde(default = "wire_version")]
    pub version: u16,
    /// The agent.
    pub agent: Address,
    /// Model name.
    pub model: String,
    /// Model hash (sha256 of the model file), as registered on chain.
    pub model_id: B256,
    /// Current status.
    pub status: AgentStatus,
    /// Tasks in progress.
    pub in_flight: u32,
    /// Most tasks it works on at once.
    pub capacity: u32,
    /// Unix time in milliseconds when this was sent.
    pub ts_ms: u64,
}

impl Versioned for Heartbeat {
    fn version(&self) -> u16 {
        self.version
    }
}

impl Heartbeat {
    /// A heartbeat at the current protocol version.
    pub fn new(
        agent: Address,
        model: impl Into<String>,
        model_id: B256,
        status: AgentStatus,
        in_flight: u32,
        capacity: u32,
        ts_ms: u64,
    ) -> Self {
        Self {
            version: wire_version(),
            agent,
            model: model.into(),
            model_id,
            status,
            in_flight,
            capacity,
            ts_ms,
        }
    }
}
