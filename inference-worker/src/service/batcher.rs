//! One inference thread per model: queued rows are classified together in a single run.
//!
//! The ONNX session needs exclusive access, and concurrent tasks arrive one row at a time, so a
//! dedicated thread owns the [`Classifier`], waits for a request, drains whatever else is queued
//! (up to `max_batch` rows) and answers them all from one `classify` call.

use std::thread;

use tokio::sync::{mpsc, oneshot};

use crate::model::{Classifier, FEATURES, ModelError, Prediction};

type Reply = oneshot::Sender<Result<Prediction, ModelError>>;

/// A cloneable handle to the inference thread.
#[derive(Debug, Clone)]
pub(crate) struct Batcher {
    requests: mpsc::Sender<([f32; FEATURES], Reply)>,
}

/// Why a row got no prediction.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// The model rejected the input or failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The language model rejected the prompt or failed.
    #[error(transparent)]
    Language(#[from] crate::llm::LlmError),
    /// The inference thread is gone (it panicked or the worker is shutting down).
    #[error("the inference thread has stopped")]
    Stopped,
}

impl Batcher {
    /// Starts the inference thread owning `classifier`.
    pub(crate) fn spawn(mut classifier: Classifier, max_batch: usize) -> std::io::Result<Self> {
        let max_batch = max_batch.max(1);
        let (requests, mut queue) = mpsc::channel::<([f32; FEATURES], Reply)>(max_batch * 4);
        thread::Builder::new().name(format!("infer-{}", classifier.name())).spawn(move || {
            while let Some(first) = queue.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < max_batch {
                    match queue.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let rows: Vec<[f32; FEATURES]> = batch.iter().map(|(row, _)| *row).collect();
                match classifier.classify(&rows) {
                    Ok(predictions) => {
                        for ((_, reply), prediction) in batch.into_iter().zip(predictions) {
                            let _ = reply.send(Ok(prediction));
                        }
                    }
                    Err(err) if batch.len() == 1 => {
                        let (_, reply) = batch.remove(0);
                        let _ = reply.send(Err(err));
                    }
                    // One bad row must not fail its neighbours: retry each row alone.
                    Err(_) => {
                        for (row, reply) in batch {
                            let _ =
                                reply.send(classifier.classify(&[row]).map(|mut p| p.remove(0)));
                        }
                    }
                }
            }
        })?;
        Ok(Self { requests })
    }

    /// Classifies one row, batched with whatever else is queued.
    pub(crate) async fn classify(
        &self,
        row: [f32; FEATURES],
    ) -> Result<Prediction, InferenceError> {
        let (reply, answer) = oneshot::channel();
        self.requests.send((row, reply)).await.map_err(|_| InferenceError::Stopped)?;
        answer.await.map_err(|_| InferenceError::Stopped)?.map_err(InferenceError::from)
    }
}
