//! The decoder graph's interface, read from the session and checked against `config.json`.

use ort::{
    session::Session,
    value::{Outlet, TensorElementType, ValueType},
};

use super::{LlmError, LlmResult, ModelConfig};

/// Token ids, int64 `[batch, seq]`.
pub(crate) const INPUT_IDS: &str = "input_ids";
/// 1 for real tokens and 0 for padding, int64 `[batch, past + seq]`.
pub(crate) const ATTENTION_MASK: &str = "attention_mask";
/// Positions `past .. past + seq`, int64 `[batch, seq]` (optional).
pub(crate) const POSITION_IDS: &str = "position_ids";
/// Next-token logits, float32 `[batch, seq, vocab]`.
pub(crate) const LOGITS: &str = "logits";

/// The name of layer `layer`'s past key (`is_value == false`) or value input.
pub(crate) fn past_name(layer: usize, is_value: bool) -> String {
    format!("past_key_values.{layer}.{}", if is_value { "value" } else { "key" })
}

/// The name of layer `layer`'s present key or value output.
pub(crate) fn present_name(layer: usize, is_value: bool) -> String {
    format!("present.{layer}.{}", if is_value { "value" } else { "key" })
}

/// What the runtime needs to know about the graph to feed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GraphInterface {
    /// Whether the graph takes `position_ids`.
    pub(crate) has_position_ids: bool,
    /// Decoder layers (pairs of `past_key_values.N.key/value` inputs).
    pub(crate) layers: usize,
}

fn describe(dtype: &ValueType) -> String {
    match dtype {
        ValueType::Tensor { ty, shape, .. } => format!("{ty} {shape}"),
        other => format!("{other:?}"),
    }
}

impl GraphInterface {
    /// Reads and checks the session's inputs and outputs against the decoder interface and
    /// `config`.
    pub(crate) fn check(model: &str, session: &Session, config: &ModelConfig) -> LlmResult<Self> {
        let mismatch = |name: String, reason: String| LlmError::GraphMismatch {
            model: model.to_owned(),
            name,
            reason,
        };
        let find = |outlets: &'_ [Outlet], name: &str| {
            outlets.iter().find(|outlet| outlet.name() == name).map(Outlet::dtype).cloned()
        };
        // A tensor of `ty` and rank `rank`; static dims given as `Some` must match.
        let expect = |kind: &str,
                      outlets: &[Outlet],
                      name: &str,
                      ty: TensorElementType,
                      dims: &[Option<usize>]|
         -> LlmResult<()> {
            let label = format!("{kind} {name}");
            let Some(dtype) = find(outlets, name) else {
                return Err(mismatch(label, "is missing".to_owned()));
            };
            let ValueType::Tensor { ty: actual, shape, .. } = &dtype else {
                return Err(mismatch(label, format!("is {}, expected a tensor", describe(&dtype))));
            };
            if *actual != ty {
                let reason = if matches!(actual, TensorElementType::Float16) {
                    format!("is {}, this runtime supports {ty} only", describe(&dtype))
                } else {
                    format!("is {}, expected {ty}", describe(&dtype))
                };
                return Err(mismatch(label, reason));
            }
            let static_mismatch = shape.len() != dims.len()
                || shape.iter().zip(dims).any(|(&dim, expected)| {
                    matches!(expected, Some(expected) if dim >= 0 && dim as usize != *expected)
                });
            if static_mismatch {
                let expected: Vec<String> = dims
                    .iter()
                    .map(|dim| dim.map_or_else(|| "?".to_owned(), |dim| dim.to_string()))
                    .collect();
                return Err(mismatch(
                    label,
                    format!("has shape {shape}, expected [{}]", expected.join(", ")),
                ));
            }
            Ok(())
        };

        let inputs = session.inputs();
        let outputs = session.outputs();
        let int64 = TensorElementType::Int64;
        let float32 = TensorElementType::Float32;
        expect("input", inputs, INPUT_IDS, int64, &[None, None])?;
        expect("input", inputs, ATTENTION_MASK, int64, &[None, None])?;
        let has_position_ids = find(inputs, POSITION_IDS).is_some();
        if has_position_ids {
            expect("input", inputs, POSITION_IDS, int64, &[None, None])?;
        }

        let mut layers = 0;
        while find(inputs, &past_name(layers, false)).is_some() {
            layers += 1;
        }
        if layers == 0 {
            return Err(mismatch(
                format!("input {}", past_name(0, false)),
                "is missing: the graph has no kv cache".to_owned(),
            ));
        }
        if layers != config.num_hidden_layers {
            return Err(LlmError::LayerCountMismatch {
                model: model.to_owned(),
                graph: layers,
                config: config.num_hidden_layers,
            });
        }
        let kv_dims = [None, Some(config.num_key_value_heads), None, Some(config.head_dim)];
        for layer in 0..layers {
            for is_value in [false, true] {
                expect("input", inputs, &past_name(layer, is_value), float32, &kv_dims)?;
                expect("output", outputs, &present_name(layer, is_value), float32, &kv_dims)?;
            }
        }
        let fed = 2 + usize::from(has_position_ids) + 2 * layers;
        if inputs.len() != fed {
            let known = |name: &str| {
                [INPUT_IDS, ATTENTION_MASK, POSITION_IDS].contains(&name)
                    || (0..layers)
                        .any(|l| name == past_name(l, false) || name == past_name(l, true))
            };
            if let Some(extra) = inputs.iter().find(|input| !known(input.name())) {
                return Err(mismatch(
                    format!("input {}", extra.name()),
                    "is not part of the decoder interface".to_owned(),
                ));
            }
        }
        expect("output", outputs, LOGITS, float32, &[None, None, None])?;
        Ok(Self { has_position_ids, layers })
    }
}
