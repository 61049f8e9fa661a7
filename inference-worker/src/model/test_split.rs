//! The held-out test split (`models/test_split.csv`): 64 pixel features and a digit label a row.

use std::path::Path;

use super::{DatasetEntry, FEATURES, ModelError, ModelResult, NUM_CLASSES, Sha256Digest};

/// One test sample: the 64 pixels (row-major, 0..16) and the true digit.
pub type LabelledRow = ([f32; FEATURES], u8);

/// Reads `dir/<dataset.test_split>`, checks its sha256 against the manifest and parses it.
///
/// # Errors
///
/// [`ModelError::Io`] when the file cannot be read, [`ModelError::DigestMismatch`] when it is not
/// the manifest's file, [`ModelError::TestSplitFormat`] for a malformed header or row and
/// [`ModelError::TestSplitSize`] when it does not have `n_test` rows.
pub fn load_test_split(
    dir: impl AsRef<Path>,
    dataset: &DatasetEntry,
) -> ModelResult<Vec<LabelledRow>> {
    let path = dir.as_ref().join(&dataset.test_split);
    let bytes =
        std::fs::read(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
    let actual = Sha256Digest::of(&bytes);
    if actual != dataset.test_split_sha256 {
        return Err(ModelError::DigestMismatch {
            path,
            expected: dataset.test_split_sha256,
            actual,
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| ModelError::TestSplitFormat {
        path: path.clone(),
        line: 1 + bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count(),
        reason: format!("not utf-8: {e}"),
    })?;
    let rows = parse_test_split(&path, text)?;
    if rows.len() != dataset.n_test {
        return Err(ModelError::TestSplitSize {
            path,
            expected: dataset.n_test,
            actual: rows.len(),
        });
    }
    Ok(rows)
}

/// Parses test-split CSV text: the header `f0,...,f63,label`, then one sample a line (`path`
/// only names the source in errors).
///
/// # Errors
///
/// [`ModelError::TestSplitFormat`] naming the line and the offending text.
pub fn parse_test_split(path: impl AsRef<Path>, text: &str) -> ModelResult<Vec<LabelledRow>> {
    let path = path.as_ref();
    let format_error = |line: usize, reason: String| ModelError::TestSplitFormat {
        path: path.to_owned(),
        line,
        reason,
    };

    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    let expected_header = expected_header();
    match lines.next() {
        Some((_, header)) if header == expected_header => {}
        Some((line, header)) => {
            return Err(format_error(
                line,
                format!("header is `{}`, expected `f0,...,f63,label`", abbreviate(header)),
            ));
        }
        None => return Err(format_error(1, "file is empty, expected a header".to_owned())),
    }

    let mut rows = Vec::new();
    for (line, text) in lines {
        if text.is_empty() {
            return Err(format_error(line, "empty line".to_owned()));
        }
        rows.push(parse_row(text).map_err(|reason| format_error(line, reason))?);
    }
    Ok(rows)
}

/// `f0,f1,...,f63,label`.
fn expected_header() -> String {
    let mut header: Vec<String> = (0..FEATURES).map(|i| format!("f{i}")).collect();
    header.push("label".to_owned());
    header.join(",")
}

fn parse_row(text: &str) -> Result<LabelledRow, String> {
    let fields: Vec<&str> = text.split(',').collect();
    if fields.len() != FEATURES + 1 {
        return Err(format!("has {} fields, expected {}", fields.len(), FEATURES + 1));
    }
    let mut features = [0.0f32; FEATURES];
    for (column, (slot, field)) in features.iter_mut().zip(&fields).enumerate() {
        *slot =
            field.parse::<f32>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                format!("feature f{column} is `{field}`, expected a finite number")
            })?;
    }
    let label_field = fields[FEATURES];
    let label =
        label_field.parse::<u8>().ok().filter(|&l| usize::from(l) < NUM_CLASSES).ok_or_else(
            || format!("label is `{label_field}`, expected an integer 0..{NUM_CLASSES}"),
        )?;
    Ok((features, label))
}

/// The first 80 characters of `text`, so an error about a huge line stays readable.
fn abbreviate(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::model::Manifest;

    fn committed_models_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../models")
    }

    fn csv(rows: &[&str]) -> String {
        let mut text = expected_header();
        for row in rows {
            text.push('\n');
            text.push_str(row);
        }
        text.push('\n');
        text
    }

    fn row(features: &str, label: &str) -> String {
        let mut fields = vec![features; FEATURES];
        fields.push(label);
        fields.join(",")
    }

    fn line_error(text: &str) -> (usize, String) {
        match parse_test_split("t.csv", text) {
            Err(ModelError::TestSplitFormat { line, reason, .. }) => (line, reason),
            other => panic!("expected TestSplitFormat, got {other:?}"),
        }
    }

    #[test]
    fn loads_the_committed_split() {
        let dir = committed_models_dir();
        let manifest = Manifest::load(&dir).unwrap();
        let rows = load_test_split(&dir, &manifest.dataset).unwrap();
        assert_eq!(rows.len(), 450);
        // Every digit occurs (the split is stratified) and the pixels are in 0..=16.
        for digit in 0..10 {
            assert!(rows.iter().any(|(_, label)| *label == digit), "no {digit}");
        }
        assert!(rows.iter().flat_map(|(f, _)| f).all(|&p| (0.0..=16.0).contains(&p)));
    }

    #[test]
    fn parses_rows_and_accepts_crlf() {
        let text = csv(&[&row("1.5", "3"), &row("0", "9")]).replace('\n', "\r\n");
        let rows = parse_test_split("t.csv", &text).unwrap();
        assert_eq!(rows, [([1.5; FEATURES], 3), ([0.0; FEATURES], 9)]);
    }

    #[test]
    fn malformed_rows_name_their_line() {
        let short = csv(&[&row("1", "3"), "1,2,3"]);
        assert_eq!(line_error(&short), (3, "has 3 fields, expected 65".to_owned()));

        let not_a_number = csv(&[&row("x", "3")]);
        let (line, reason) = line_error(&not_a_number);
        assert_eq!(line, 2);
        assert!(reason.contains("f0 is `x`"), "{reason}");

        let nan = csv(&[&row("NaN", "3")]);
        assert!(line_error(&nan).1.contains("finite"));

        for label in ["10", "-1", "3.0", ""] {
            let (line, reason) = line_error(&csv(&[&row("0", label)]));
            assert_eq!(line, 2);
            assert!(reason.contains(&format!("label is `{label}`")), "{reason}");
        }

        let blank = csv(&[&row("0", "1"), "", &row("0", "2")]);
        assert_eq!(line_error(&blank), (3, "empty line".to_owned()));
    }

    #[test]
    fn a_wrong_or_missing_header_is_rejected() {
        let (line, reason) = line_error("a,b,c\n");
        assert_eq!(line, 1);
        assert!(reason.contains("header is `a,b,c`"), "{reason}");
        assert_eq!(line_error("").0, 1);
    }

    #[test]
    fn a_modified_split_fails_the_digest_check_and_a_miscounted_one_the_size_check() {
        let models = committed_models_dir();
        let mut dataset = Manifest::load(&models).unwrap().dataset;
        let dir = tempfile::tempdir().unwrap();
        let mut modified = std::fs::read(models.join(&dataset.test_split)).unwrap();
        let last = modified.len() - 2; // the last label's digit
        modified[last] = if modified[last] == b'0' { b'1' } else { b'0' };
        std::fs::write(dir.path().join(&dataset.test_split), &modified).unwrap();
        assert!(matches!(
            load_test_split(dir.path(), &dataset),
            Err(ModelError::DigestMismatch { expected, actual, .. })
                if expected == dataset.test_split_sha256 && actual == Sha256Digest::of(&modified)
        ));

        dataset.n_test = 451;
        assert!(matches!(
            load_test_split(&models, &dataset),
            Err(ModelError::TestSplitSize { expected: 451, actual: 450, .. })
        ));
    }
}
