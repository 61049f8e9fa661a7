//! Checks on a batch of input rows before it reaches ONNX Runtime.
//!
//! ONNX Runtime would accept NaN or infinite pixels and answer something meaningless, and an
//! empty batch or a wrong width fails deep inside it; both are caught here with a typed error.

use ndarray::{ArrayView2, CowArray, Ix2};

use super::{FEATURES, ModelError, ModelResult};

/// Checks that `rows` is non-empty and every feature is finite.
pub(crate) fn check_rows(rows: &[[f32; FEATURES]]) -> ModelResult<()> {
    if rows.is_empty() {
        return Err(ModelError::EmptyBatch);
    }
    check_finite(rows.as_flattened())
}

/// Checks that `rows` is `FEATURES` wide, non-empty and every feature is finite, and returns it
/// in row-major contiguous layout (borrowed when it already is).
pub(crate) fn contiguous_rows<'a>(
    rows: ArrayView2<'a, f32>,
) -> ModelResult<CowArray<'a, f32, Ix2>> {
    let (count, width) = rows.dim();
    if width != FEATURES {
        return Err(ModelError::FeatureCount { expected: FEATURES, actual: width });
    }
    if count == 0 {
        return Err(ModelError::EmptyBatch);
    }
    let contiguous: CowArray<'a, f32, Ix2> = if rows.is_standard_layout() {
        rows.into()
    } else {
        rows.as_standard_layout().into_owned().into()
    };
    let flat = contiguous
        .as_slice()
        .expect("as_standard_layout returns a row-major contiguous array, which has a slice");
    check_finite(flat)?;
    Ok(contiguous)
}

/// Checks that every value of the row-major `FEATURES`-wide `flat` is finite.
fn check_finite(flat: &[f32]) -> ModelResult<()> {
    // A float is NaN or infinite exactly when its exponent bits are all ones. OR-ing that test
    // over the batch has no branch, so it vectorises; the search for the culprit runs only for a
    // bad batch. (An early-exit scan costs as much as a whole small model run on a full batch.)
    const EXPONENT: u32 = 0x7f80_0000;
    let any_bad =
        flat.iter().fold(0u32, |bad, v| bad | u32::from(v.to_bits() & EXPONENT == EXPONENT));
    if any_bad == 0 {
        return Ok(());
    }
    match flat.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ModelError::NonFinite {
            row: index / FEATURES,
            column: index % FEATURES,
            value: flat[index],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array2;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_empty_batch_is_rejected() {
        assert!(matches!(check_rows(&[]), Err(ModelError::EmptyBatch)));
        let empty = Array2::<f32>::zeros((0, FEATURES));
        assert!(matches!(contiguous_rows(empty.view()).map(drop), Err(ModelError::EmptyBatch)));
    }

    #[test]
    fn a_wrong_width_is_rejected_before_emptiness() {
        for width in [0, 1, 63, 65, 128] {
            let rows = Array2::<f32>::zeros((2, width));
            assert!(matches!(
                contiguous_rows(rows.view()).map(drop),
                Err(ModelError::FeatureCount { expected: FEATURES, actual }) if actual == width
            ));
        }
        let empty = Array2::<f32>::zeros((0, 3));
        assert!(matches!(
            contiguous_rows(empty.view()).map(drop),
            Err(ModelError::FeatureCount { .. })
        ));
    }

    #[test]
    fn the_first_non_finite_feature_is_reported() {
        let mut rows = vec![[1.0f32; FEATURES]; 3];
        rows[1][7] = f32::INFINITY;
        rows[2][0] = f32::NAN;
        assert!(matches!(
            check_rows(&rows),
            Err(ModelError::NonFinite { row: 1, column: 7, value }) if value == f32::INFINITY
        ));
    }

    fn batch() -> impl Strategy<Value = Vec<[f32; FEATURES]>> {
        prop::collection::vec(prop::array::uniform32(0.0f32..=16.0), 1..8).prop_map(|halves| {
            halves
                .into_iter()
                .map(|half| {
                    let mut row = [0.0; FEATURES];
                    row[..32].copy_from_slice(&half);
                    row[32..].copy_from_slice(&half);
                    row
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn finite_batches_pass_both_checks(rows in batch()) {
            prop_assert!(check_rows(&rows).is_ok());
            let array = Array2::from_shape_vec((rows.len(), FEATURES), rows.as_flattened().to_vec())
                .unwrap();
            prop_assert!(contiguous_rows(array.view()).is_ok());
        }

        #[test]
        fn any_non_finite_feature_is_found_where_it_is(
            mut rows in batch(),
            row in any::<prop::sample::Index>(),
            column in 0..FEATURES,
            bad in prop_oneof![Just(f32::NAN), Just(f32::INFINITY), Just(f32::NEG_INFINITY)],
        ) {
            let row = row.index(rows.len());
            rows[row][column] = bad;
            let array = Array2::from_shape_vec((rows.len(), FEATURES), rows.as_flattened().to_vec())
                .unwrap();
            for result in [check_rows(&rows), contiguous_rows(array.view()).map(drop)] {
                match result {
                    Err(ModelError::NonFinite { row: r, column: c, value }) => {
                        prop_assert_eq!((r, c), (row, column));
                        prop_assert_eq!(value.to_bits(), bad.to_bits());
                    }
                    other => prop_assert!(false, "expected NonFinite, got {:?}", other),
                }
            }
            // Checking the transposed (column-major) view must find the same cell.
            let transposed = array.t().to_owned();
            let back = transposed.t();
            let found = match contiguous_rows(back) {
                Err(ModelError::NonFinite { row: r, column: c, .. }) => Some((r, c)),
                _ => None,
            };
            prop_assert_eq!(found, Some((row, column)));
        }
    }
}
