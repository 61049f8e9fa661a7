//! `nsed worker`: run one inference agent on its own NATS task queue.

use std::{path::PathBuf, time::Duration};

use eyre::WrapErr;
use nsed_inference_worker::{
    Classifier, ExecutionTarget, Manifest, OnnxRuntime, Worker, WorkerConfig,
    agent::{AGENT_KEY_ENV, KeyOrigin, load_or_create_key},
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Arguments of `nsed worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// Model to serve, by its name in the models manifest (e.g. `knn_pool4x4`).
    #[arg(long, value_name = "NAME", env = "NSED_MODEL")]
    pub model: String,
    /// Directory holding manifest.json and the .onnx files.
    #[arg(long, value_name = "DIR", env = "NSED_MODELS_DIR", default_value = "models")]
    pub models_dir: PathBuf,
    /// Agent key file; created with a new random key on first run. The key in NSED_AGENT_KEY, if
    /// set, takes precedence. [default: .nsed/keys/<model>.key]
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// NATS server URL.
    #[arg(long, value_name = "URL", env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// Run the model on the GPU through ONNX Runtime's CUDA provider (needs the `cuda` build;
    /// falls back to the CPU, saying so, when unavailable).
    #[arg(long)]
    pub cuda: bool,
    /// Tasks worked on at once.
    #[arg(long = "worker.capacity", value_name = "N", default_value_t = 4)]
    pub capacity: usize,
    /// Most rows classified in one model run.
    #[arg(long = "worker.max-batch", value_name = "N", default_value_t = 16)]
    pub max_batch: usize,
    /// Milliseconds before an unacknowledged task is redelivered (progress acks extend it).
    #[arg(long = "worker.ack-wait-ms", value_name = "MS", default_value_t = 30_000)]
    pub ack_wait_ms: u64,
    /// Milliseconds between heartbeats.
    #[arg(long = "worker.heartbeat-ms", value_name = "MS", default_value_t = 2_000)]
    pub heartbeat_ms: u64,
    /// Extra milliseconds spent on every task, emulating a slower model (demos, tests).
    #[arg(long = "worker.simulated-latency-ms", value_name = "MS", default_value_t = 0)]
    pub simulated_latency_ms: u64,
}

impl WorkerArgs {
    /// Runs the worker until SIGINT or SIGTERM.
    ///
    /// # Errors
    ///
    /// When the key, ONNX Runtime, the model or NATS cannot be set up, or the task subscription
    /// fails.
    pub async fn run(self) -> eyre::Result<()> {
        let key_file = self
            .key_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!(".nsed/keys/{}.key", self.model)));
        let env_key = std::env::var(AGENT_KEY_ENV).ok();
        let (signer, origin) = load_or_create_key(env_key.as_deref(), &key_file)?;
        match &origin {
            KeyOrigin::Generated(path) => {
                info!(target: "nsed::worker", path = %path.display(), "generated a new agent key")
            }
            KeyOrigin::File(path) => {
                info!(target: "nsed::worker", path = %path.display(), "loaded the agent key")
            }
            KeyOrigin::Env => {
                info!(target: "nsed::worker", "using the agent key from {AGENT_KEY_ENV}")
            }
        }

        let runtime = OnnxRuntime::load(None).wrap_err("cannot load ONNX Runtime")?;
        let manifest = Manifest::load(&self.models_dir)
            .wrap_err_with(|| format!("cannot read the models in {}", self.models_dir.display()))?;
        let entry = manifest.try_get(&self.model)?;
        let target = if self.cuda { ExecutionTarget::Cuda } else { ExecutionTarget::Cpu };
        let classifier = Classifier::load(&runtime, &self.models_dir, entry, target)?;
        if let Some(reason) = classifier.execution().fallback_reason() {
            warn!(target: "nsed::worker", %reason, "running on the CPU instead of CUDA");
        }
        #[allow(clippy::print_stdout)]
        {
            println!("agent {} model {} sha256 {}", signer.address(), entry.name, entry.sha256);
        }

        let config = WorkerConfig {
            nats_url: self.nats_url,
            capacity: self.capacity,
            max_batch: self.max_batch,
            ack_wait: Duration::from_millis(self.ack_wait_ms),
            heartbeat_interval: Duration::from_millis(self.heartbeat_ms),
            simulated_latency: Duration::from_millis(self.simulated_latency_ms),
            ..WorkerConfig::default()
        };
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        Worker::new(config, signer, classifier).run(shutdown).await?;
        Ok(())
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
pub(crate) async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    token.cancel();
}
