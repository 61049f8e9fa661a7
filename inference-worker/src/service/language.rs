//! One inference thread per language model: the session runs one request at a time (ONNX Runtime
//! sessions are exclusive), and recent scoring results are cached, because an agent scores the
//! same question in the propose and the evaluate phase of every round.

use std::{
    collections::{HashMap, VecDeque},
    thread,
};

use tokio::sync::{mpsc, oneshot};

use super::batcher::InferenceError;
use crate::{
    agent::language::{OptionScore, Prompt},
    llm::{ChatMessage, GenerationParams, LanguageModel, LlmError},
};

/// Scoring results kept per worker (a few hundred small vectors).
const CACHE_ENTRIES: usize = 512;

/// Stop strings for free-form answers: the model starting a new question.
const ANSWER_STOPS: [&str; 2] = ["\nQuestion:", "\n\n\n"];

enum Request {
    Score { prompt: Prompt, continuations: Vec<String>, reply: oneshot::Sender<ScoreResult> },
    Generate { prompt: Prompt, max_new_tokens: usize, reply: oneshot::Sender<GenerateResult> },
}

type ScoreResult = Result<Vec<OptionScore>, LlmError>;
type GenerateResult = Result<String, LlmError>;

/// A cloneable handle to a language model's inference thread.
#[derive(Debug, Clone)]
pub(crate) struct LanguageEngine {
    requests: mpsc::Sender<Request>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Score { .. } => f.write_str("Score"),
            Self::Generate { .. } => f.write_str("Generate"),
        }
    }
}

/// Renders `prompt` for `model`: plain text as is, a chat prompt through the model's template.
fn render(model: &LanguageModel, prompt: &Prompt) -> Result<String, LlmError> {
    match prompt {
        Prompt::Plain(text) => Ok(text.clone()),
        Prompt::Chat { user, assistant_prefix } => {
            let mut text = model.apply_chat_template(&[ChatMessage::user(user.clone())], true)?;
            text.push_str(assistant_prefix);
            Ok(text)
        }
    }
}

impl LanguageEngine {
    /// Starts the inference thread owning `model`.
    pub(crate) fn spawn(mut model: LanguageModel) -> std::io::Result<Self> {
        let (requests, mut queue) = mpsc::channel::<Request>(64);
        thread::Builder::new().name(format!("llm-{}", model.name())).spawn(move || {
            let mut cache: HashMap<(Prompt, Vec<String>), Vec<OptionScore>> = HashMap::new();
            let mut order: VecDeque<(Prompt, Vec<String>)> = VecDeque::new();
            while let Some(request) = queue.blocking_recv() {
                match request {
                    Request::Score { prompt, continuations, reply } => {
                        let key = (prompt, continuations);
                        if let Some(hit) = cache.get(&key) {
                            let _ = reply.send(Ok(hit.clone()));
                            continue;
                        }
                        let result = render(&model, &key.0)
                            .and_then(|text| model.score(&text, &key.1))
                            .map(|scores| {
                                scores
                                    .iter()
                                    .zip(&key.1)
                                    .map(|(s, c)| OptionScore {
                                        logprob: s.logprob,
                                        tokens: s.tokens,
                                        chars: c.chars().count(),
                                    })
                                    .collect::<Vec<_>>()
                            });
                        if let Ok(scores) = &result {
                            cache.insert(key.clone(), scores.clone());
                            order.push_back(key);
                            if order.len() > CACHE_ENTRIES
                                && let Some(old) = order.pop_front()
                            {
                                cache.remove(&old);
                            }
                        }
                        let _ = reply.send(result);
                    }
                    Request::Generate { prompt, max_new_tokens, reply } => {
                        let mut params = GenerationParams::greedy(max_new_tokens);
                        for stop in ANSWER_STOPS {
                            params = params.with_stop_string(stop);
                        }
                        let result = render(&model, &prompt)
                            .and_then(|text| model.generate(&text, &params))
                            .map(|g| g.text);
                        let _ = reply.send(result);
                    }
                }
            }
        })?;
        Ok(Self { requests })
    }

    /// Log-likelihoods of `continuations` after `prompt`.
    pub(crate) async fn score(
        &self,
        prompt: Prompt,
        continuations: Vec<String>,
    ) -> Result<Vec<OptionScore>, InferenceError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Score { prompt, continuations, reply })
            .await
            .map_err(|_| InferenceError::Stopped)?;
        answer.await.map_err(|_| InferenceError::Stopped)?.map_err(InferenceError::from)
    }

    /// Greedy generation after `prompt`, stopping at a new question.
    pub(crate) async fn generate(
        &self,
        prompt: Prompt,
        max_new_tokens: usize,
    ) -> Result<String, InferenceError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Generate { prompt, max_new_tokens, reply })
            .await
            .map_err(|_| InferenceError::Stopped)?;
        answer.await.map_err(|_| InferenceError::Stopped)?.map_err(InferenceError::from)
    }
}
