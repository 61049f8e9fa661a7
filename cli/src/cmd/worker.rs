//! `nsed worker`: run one inference agent on its own NATS task queue.

use std::{path::PathBuf, time::Duration};

use alloy::primitives::Address;
use eyre::WrapErr;
use nsed_bus::NatsConnect;
use nsed_inference_worker::{
    Classifier, ClassifierOptions, ExecutionTarget, Manifest, OnnxRuntime, Sha256Digest, Worker,
    WorkerConfig,
    agent::{
        AGENT_KEY_ENV, KeyOrigin,
        language::{LanguagePolicy, PromptStyle, ScoreNormalization},
        load_or_create_key,
    },
    llm::{DEFAULT_LLM_DIR, LanguageModel, LanguageModelOptions, PreparedModels},
};
use tracing::{info, warn};

use crate::{
    opts::{MODELS_DIR, NatsOpts, RpcOpts},
    output::{self, out},
    signal,
};

/// Arguments of `nsed worker`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(clap::ArgGroup::new("engine").required(true).args(["model", "llm", "model_dir"])))]
pub struct WorkerArgs {
    /// Classifier to serve (`tensor-f32` tasks), by its name in the models manifest (e.g.
    /// `knn_pool4x4`).
    #[arg(long, value_name = "NAME", env = "NSED_MODEL")]
    pub model: Option<String>,
    /// Language model to serve (`text-choice` and `text` tasks), by its name among the prepared
    /// models (e.g. `smollm2-135m-int4`; `scripts/prepare-llms.sh` prepares them).
    #[arg(long, value_name = "NAME")]
    pub llm: Option<String>,
    /// Language model to serve from any model directory in the standard ONNX decoder layout (a
    /// Hugging Face Optimum or onnxruntime-genai export: model.onnx, config.json, tokenizer.json).
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Directory of the prepared language models (manifest.json).
    #[arg(long = "llm.dir", value_name = "DIR", default_value = DEFAULT_LLM_DIR)]
    pub llm_dir: PathBuf,
    /// How the language model is prompted: `chat` (its chat template), `plain` or `few-shot`.
    #[arg(long = "llm.prompt-style", value_name = "STYLE", default_value = "chat")]
    pub prompt_style: PromptStyle,
    /// How option log-likelihoods are normalised before they become beliefs: `sum`,
    /// `per-token` or `per-char` (the panel's choices are in docs/language-models.md).
    #[arg(long = "llm.normalization", value_name = "NORM", default_value = "per-char")]
    pub normalization: ScoreNormalization,
    /// ONNX Runtime threads of the language model's session (default: ONNX Runtime's choice).
    #[arg(long = "llm.threads", value_name = "N")]
    pub llm_threads: Option<std::num::NonZeroUsize>,
    /// ONNX Runtime threads of the classifier's session. One by default: the classifiers take
    /// microseconds to a millisecond per call, too little to share out, and an idle pool thread
    /// spins on a core after every call.
    #[arg(long = "worker.model-threads", value_name = "N", default_value = "1")]
    pub model_threads: std::num::NonZeroUsize,
    /// Directory holding manifest.json and the .onnx files.
    #[arg(long, value_name = "DIR", env = "NSED_MODELS_DIR", default_value = MODELS_DIR)]
    pub models_dir: PathBuf,
    /// Agent key file; created with a new random key on first run. The key in NSED_AGENT_KEY, if
    /// set, takes precedence. [default: .nsed/keys/<model>.key]
    #[arg(long, value_name = "PATH")]
    pub key_file: Option<PathBuf>,
    /// Run the model on the GPU through ONNX Runtime's CUDA provider (needs the `cuda` build;
    /// falls back to the CPU, saying so, when unavailable).
    #[arg(long)]
    pub cuda: bool,
    /// The NATS server the keeper sends tasks through, and this agent's credentials for it.
    #[command(flatten)]
    pub nats: NatsOpts,
    /// A keeper whose signed tasks this worker answers (repeat for several). Without any, the
    /// worker needs `--rpc-url` and answers the keeper that claimed each job on chain.
    #[arg(long = "keeper", value_name = "ADDRESS", env = "NSED_KEEPERS", value_delimiter = ',')]
    pub keepers: Vec<Address>,
    /// The chain the market is on: every task is checked against it (the signer claimed the job;
    /// the input hash is the job's).
    #[command(flatten)]
    pub rpc: RpcOpts,
    /// Worker tuning.
    #[command(flatten)]
    pub opts: WorkerOpts,
}

/// `d` in whole milliseconds (saturating).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Worker tuning flags; their defaults are [`WorkerConfig::default`]'s.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Worker")]
pub struct WorkerOpts {
    /// Tasks worked on at once.
    #[arg(long = "worker.capacity", value_name = "N", default_value_t = WorkerConfig::default().capacity)]
    pub capacity: usize,
    /// Most rows classified in one model run.
    #[arg(long = "worker.max-batch", value_name = "N", default_value_t = WorkerConfig::default().max_batch)]
    pub max_batch: usize,
    /// Milliseconds before an unacknowledged task is redelivered (progress acks extend it).
    #[arg(long = "worker.ack-wait-ms", value_name = "MS", default_value_t = millis(WorkerConfig::default().ack_wait))]
    pub ack_wait_ms: u64,
    /// Milliseconds between heartbeats.
    #[arg(long = "worker.heartbeat-ms", value_name = "MS", default_value_t = millis(WorkerConfig::default().heartbeat_interval))]
    pub heartbeat_ms: u64,
    /// Extra milliseconds spent on every task, emulating a slower model (demos, tests).
    #[arg(long = "worker.simulated-latency-ms", value_name = "MS", default_value_t = millis(WorkerConfig::default().simulated_latency))]
    pub simulated_latency_ms: u64,
}

impl Default for WorkerOpts {
    fn default() -> Self {
        let d = WorkerConfig::default();
        Self {
            capacity: d.capacity,
            max_batch: d.max_batch,
            ack_wait_ms: millis(d.ack_wait),
            heartbeat_ms: millis(d.heartbeat_interval),
            simulated_latency_ms: millis(d.simulated_latency),
        }
    }
}

impl WorkerOpts {
    /// The worker configuration these flags set, for NATS as `nats` says.
    fn config(&self, nats: NatsConnect) -> WorkerConfig {
        WorkerConfig {
            nats,
            capacity: self.capacity,
            max_batch: self.max_batch,
            ack_wait: Duration::from_millis(self.ack_wait_ms),
            heartbeat_interval: Duration::from_millis(self.heartbeat_ms),
            simulated_latency: Duration::from_millis(self.simulated_latency_ms),
            ..WorkerConfig::default()
        }
    }
}

impl WorkerArgs {
    /// Runs the worker until SIGINT or SIGTERM.
    ///
    /// # Errors
    ///
    /// When the key, ONNX Runtime, the model or NATS cannot be set up, or the task subscription
    /// fails.
    pub async fn run(self) -> eyre::Result<()> {
        let agent_name = match (&self.model, &self.llm, &self.model_dir) {
            (Some(name), _, _) | (_, Some(name), _) => name.clone(),
            (_, _, Some(dir)) => {
                dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
            }
            _ => unreachable!("clap requires one of --model, --llm, --model-dir"),
        };
        let key_file = self
            .key_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!(".nsed/keys/{agent_name}.key")));
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
        let target = if self.cuda { ExecutionTarget::Cuda } else { ExecutionTarget::Cpu };
        let config = WorkerConfig {
            keepers: self.keepers.clone(),
            rpc_url: self.rpc.url_with_env(),
            ..self.opts.config(self.nats.connect())
        };
        // Before loading a model (seconds for a language model): a worker that would trust no
        // keeper, or anyone, is a configuration error.
        config.validate()?;
        let worker = if let Some(name) = &self.model {
            let manifest = Manifest::load(&self.models_dir).wrap_err_with(|| {
                format!("cannot read the models in {}", self.models_dir.display())
            })?;
            let entry = manifest.try_get(name)?;
            let options = ClassifierOptions::new(target).with_intra_threads(self.model_threads);
            let classifier = Classifier::load_with(&runtime, &self.models_dir, entry, options)?;
            if let Some(reason) = classifier.execution().fallback_reason() {
                warn!(target: "nsed::worker", %reason, "running on the CPU instead of CUDA");
            }
            print_agent(signer.address(), &entry.name, &entry.sha256.to_string());
            Worker::new(config, signer, classifier)
        } else {
            let mut options = LanguageModelOptions::new(target);
            options.intra_threads = self.llm_threads;
            let model = match (&self.llm, &self.model_dir) {
                (Some(name), _) => PreparedModels::load(&self.llm_dir)
                    .and_then(|prepared| prepared.load_model(&runtime, name, options))
                    .wrap_err_with(|| format!("cannot load the prepared model `{name}`"))?,
                (_, Some(dir)) => LanguageModel::load(&runtime, dir, options)
                    .wrap_err_with(|| format!("cannot load the model in {}", dir.display()))?,
                _ => unreachable!("clap requires one of --model, --llm, --model-dir"),
            };
            if let Some(reason) = model.execution().fallback_reason() {
                warn!(target: "nsed::worker", %reason, "running on the CPU instead of CUDA");
            }
            let sha256 = Sha256Digest::from(model.model_id()).to_string();
            print_agent(signer.address(), model.name(), &sha256);
            let policy =
                LanguagePolicy::new(self.prompt_style).with_normalization(self.normalization);
            Worker::with_language_model(config, signer, model, policy)
        };

        worker.run(signal::shutdown_token()).await?;
        Ok(())
    }
}

/// Prints the worker's agent line, what `nsed agent register` needs (the hash is the model id).
fn print_agent(agent: Address, model: &str, sha256: &str) {
    if output::is_json() {
        output::json(&serde_json::json!({ "agent": agent, "model": model, "sha256": sha256 }));
    } else {
        out!("agent {agent} model {model} sha256 {sha256}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opts::CommandParser;
    use clap::Parser;

    #[test]
    fn no_flags_parse_to_the_worker_library_defaults() {
        let parsed = CommandParser::<WorkerOpts>::parse_from(["nsed"]).args;
        assert_eq!(parsed, WorkerOpts::default());
        let nats = WorkerConfig::default().nats;
        assert_eq!(format!("{:?}", parsed.config(nats)), format!("{:?}", WorkerConfig::default()));
    }
}
