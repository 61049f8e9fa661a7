//! The one classifier interface the worker runs, and the checks that a manifest entry and a loaded
//! ONNX graph both have it.
//!
//! Every model in `models/` takes `input` float32 `[N, 64]` (the raw 8x8 pixels) and returns
//! `label` int64 `[N]` and `probabilities` float32 `[N, 10]` with columns in class order 0..9.

use ort::{
    session::Session,
    value::{Outlet, TensorElementType, ValueType},
};

use super::{ModelEntry, ModelError, ModelResult, TensorSpec};

/// Features per input row: the 8x8 image's pixels, row-major.
pub const FEATURES: usize = 64;

/// Classes per model: the digits 0..9, which are also the `probabilities` columns, in order.
pub const NUM_CLASSES: usize = 10;

/// A shape as the manifest writes it, with `None` for a dynamic dimension.
type Dims = [Option<u64>];

const INPUT_SHAPE: &Dims = &[None, Some(FEATURES as u64)];
const LABEL_SHAPE: &Dims = &[None];
const PROBABILITIES_SHAPE: &Dims = &[None, Some(NUM_CLASSES as u64)];
const FLOAT32: &str = "float32";
const INT64: &str = "int64";

/// Checks that the manifest entry declares the interface this worker runs.
pub(crate) fn check_entry(entry: &ModelEntry) -> ModelResult<()> {
    let unsupported = |what, declared: String, supported: String| ModelError::UnsupportedModel {
        model: entry.name.clone(),
        what,
        declared,
        supported,
    };
    let specs = [
        ("input", &entry.input, FLOAT32, INPUT_SHAPE),
        ("output label", &entry.outputs.label, INT64, LABEL_SHAPE),
        ("output probabilities", &entry.outputs.probabilities, FLOAT32, PROBABILITIES_SHAPE),
    ];
    for (what, spec, dtype, shape) in specs {
        if spec.dtype != dtype || spec.shape != shape {
            return Err(unsupported(what, describe_spec(spec), describe(dtype, shape)));
        }
    }
    let classes: Vec<u32> = (0..NUM_CLASSES as u32).collect();
    if entry.classes != classes {
        return Err(unsupported("classes", format!("{:?}", entry.classes), format!("{classes:?}")));
    }
    Ok(())
}

/// Checks that the session's graph has exactly the inputs and outputs the manifest declares.
pub(crate) fn check_session(entry: &ModelEntry, session: &Session) -> ModelResult<()> {
    let mismatch = |what, manifest: String, session: String| ModelError::SessionMismatch {
        model: entry.name.clone(),
        what,
        manifest,
        session,
    };
    let names =
        |outlets: &[Outlet]| format!("{:?}", outlets.iter().map(Outlet::name).collect::<Vec<_>>());

    let declared_inputs = [entry.input.name.as_str()];
    if session.inputs().len() != 1 || session.inputs()[0].name() != entry.input.name {
        return Err(mismatch("inputs", format!("{declared_inputs:?}"), names(session.inputs())));
    }
    let declared_outputs = [entry.outputs.label.name.as_str(), &entry.outputs.probabilities.name];
    let mut actual_outputs: Vec<&str> = session.outputs().iter().map(Outlet::name).collect();
    let mut sorted_declared = declared_outputs;
    actual_outputs.sort_unstable();
    sorted_declared.sort_unstable();
    if actual_outputs != sorted_declared {
        return Err(mismatch("outputs", format!("{declared_outputs:?}"), names(session.outputs())));
    }

    let outlet = |name: &str| session.outputs().iter().find(|o| o.name() == name);
    let checks = [
        ("input", &entry.input, Some(&session.inputs()[0])),
        ("output label", &entry.outputs.label, outlet(&entry.outputs.label.name)),
        (
            "output probabilities",
            &entry.outputs.probabilities,
            outlet(&entry.outputs.probabilities.name),
        ),
    ];
    for (what, spec, outlet) in checks {
        // Both outlets were found by name above; a missing one is reported rather than assumed.
        let actual = outlet.map_or_else(|| "nothing".to_owned(), |o| describe_value(o.dtype()));
        if actual != describe_spec(spec) {
            return Err(mismatch(what, describe_spec(spec), actual));
        }
    }
    Ok(())
}

/// `float32 [?, 64]`, the spelling shared by both sides of a comparison.
fn describe(dtype: &str, shape: &Dims) -> String {
    let dims: Vec<String> =
        shape.iter().map(|d| d.map_or_else(|| "?".to_owned(), |d| d.to_string())).collect();
    format!("{dtype} [{}]", dims.join(", "))
}

fn describe_spec(spec: &TensorSpec) -> String {
    describe(&spec.dtype, &spec.shape)
}

fn describe_value(value: &ValueType) -> String {
    match value {
        ValueType::Tensor { ty, shape, .. } => {
            // ONNX Runtime reports a dynamic dimension as -1, the manifest as null.
            let dims: Vec<Option<u64>> = shape.iter().map(|&d| u64::try_from(d).ok()).collect();
            describe(&numpy_dtype(*ty), &dims)
        }
        other => format!("non-tensor {other:?}"),
    }
}

/// The numpy name of an ONNX element type, as the manifest spells it.
fn numpy_dtype(ty: TensorElementType) -> String {
    match ty {
        TensorElementType::Float32 => FLOAT32.to_owned(),
        TensorElementType::Float64 => "float64".to_owned(),
        TensorElementType::Float16 => "float16".to_owned(),
        TensorElementType::Int64 => INT64.to_owned(),
        TensorElementType::Int32 => "int32".to_owned(),
        TensorElementType::Int16 => "int16".to_owned(),
        TensorElementType::Int8 => "int8".to_owned(),
        TensorElementType::Uint64 => "uint64".to_owned(),
        TensorElementType::Uint32 => "uint32".to_owned(),
        TensorElementType::Uint16 => "uint16".to_owned(),
        TensorElementType::Uint8 => "uint8".to_owned(),
        TensorElementType::Bool => "bool".to_owned(),
        TensorElementType::String => "str".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ort::value::SymbolicDimensions;

    use super::*;
    use crate::model::Manifest;

    fn entry() -> ModelEntry {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        Manifest::load(dir).unwrap().models.remove(0)
    }

    #[test]
    fn every_committed_entry_declares_the_supported_interface() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        for entry in Manifest::load(dir).unwrap().models {
            check_entry(&entry).unwrap();
        }
    }

    #[test]
    fn a_different_feature_count_is_unsupported() {
        let mut entry = entry();
        entry.input.shape = vec![None, Some(32)];
        match check_entry(&entry) {
            Err(ModelError::UnsupportedModel { what, declared, supported, .. }) => {
                assert_eq!(what, "input");
                assert_eq!(declared, "float32 [?, 32]");
                assert_eq!(supported, "float32 [?, 64]");
            }
            other => panic!("expected UnsupportedModel, got {other:?}"),
        }
    }

    #[test]
    fn other_dtypes_and_classes_are_unsupported() {
        let mut wrong_dtype = entry();
        wrong_dtype.outputs.label.dtype = "int32".to_owned();
        assert!(matches!(
            check_entry(&wrong_dtype),
            Err(ModelError::UnsupportedModel { what: "output label", .. })
        ));
        let mut wrong_classes = entry();
        wrong_classes.classes = vec![1, 2, 3];
        assert!(matches!(
            check_entry(&wrong_classes),
            Err(ModelError::UnsupportedModel { what: "classes", .. })
        ));
    }

    #[test]
    fn dynamic_dimensions_are_spelled_alike_on_both_sides() {
        let session_side = ValueType::Tensor {
            ty: TensorElementType::Float32,
            shape: vec![-1i64, 64].into(),
            dimension_symbols: SymbolicDimensions::new([String::new(), String::new()]),
        };
        assert_eq!(describe_value(&session_side), describe(FLOAT32, INPUT_SHAPE));
    }
}
