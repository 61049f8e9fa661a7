//! The Python side: `bench/ort_python.py` run by the chosen interpreter.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use eyre::{WrapErr, bail};
use serde::{Deserialize, Serialize};

/// How to get a Python that can run the helper.
pub(crate) const VENV_HINT: &str = "create a venv with `python3 -m venv /tmp/venv-ort && \
     /tmp/venv-ort/bin/pip install onnxruntime==1.32.0 numpy` and pass \
     `--python /tmp/venv-ort/bin/python`";

/// Versions the helper reports.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Versions {
    pub(crate) python: String,
    pub(crate) onnxruntime: String,
    pub(crate) numpy: String,
    /// ONNX Runtime's build description (`ORT Build Info: git-branch=..., git-commit-id=...`).
    pub(crate) build_info: String,
}

/// A Python interpreter known to import onnxruntime and numpy.
#[derive(Debug)]
pub(crate) struct PythonOrt {
    interpreter: PathBuf,
    pub(crate) versions: Versions,
}

/// What the helper is asked to run (written to a file it reads).
#[derive(Debug, Serialize)]
struct Spec<'a> {
    model: &'a Path,
    batch: usize,
    iterations: usize,
    warmup: usize,
    intra_op_num_threads: usize,
    inputs: Vec<&'a [f32]>,
}

/// The helper's measurements.
#[derive(Debug, Deserialize)]
pub(crate) struct PythonBench {
    pub(crate) providers: Vec<String>,
    pub(crate) intra_op_num_threads: usize,
    pub(crate) latencies_ns: Vec<u64>,
    pub(crate) labels: Vec<i64>,
    pub(crate) probabilities: Vec<Vec<f64>>,
}

impl PythonOrt {
    /// Checks that `interpreter` runs the helper and imports onnxruntime and numpy.
    pub(crate) fn new(interpreter: &Path) -> eyre::Result<Self> {
        let output = Command::new(interpreter)
            .arg(super::helper_script())
            .arg("--versions")
            .output()
            .wrap_err_with(|| format!("cannot run `{}`: {VENV_HINT}", interpreter.display()))?;
        if !output.status.success() {
            bail!(
                "`{}` cannot import onnxruntime and numpy ({}): {VENV_HINT}",
                interpreter.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let versions: Versions = serde_json::from_slice(&output.stdout)
            .wrap_err("cannot parse the helper's --versions output")?;
        Ok(Self { interpreter: interpreter.to_owned(), versions })
    }

    /// Runs the helper on `model` and `inputs`.
    pub(crate) fn bench(
        &self,
        model: &Path,
        inputs: &[[f32; 64]],
        warmup: usize,
        iterations: usize,
        intra_op_num_threads: usize,
    ) -> eyre::Result<PythonBench> {
        let spec = Spec {
            model,
            batch: inputs.len(),
            iterations,
            warmup,
            intra_op_num_threads,
            inputs: inputs.iter().map(|row| row.as_slice()).collect(),
        };
        let spec_file = SpecFile::write(&spec)?;
        let output = Command::new(&self.interpreter)
            .arg(super::helper_script())
            .arg(&spec_file.path)
            .output()
            .wrap_err_with(|| format!("cannot run `{}`", self.interpreter.display()))?;
        if !output.status.success() {
            bail!(
                "the python helper failed on {} ({}): {}",
                model.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let result: PythonBench = serde_json::from_slice(&output.stdout)
            .wrap_err("cannot parse the python helper's results")?;
        if result.latencies_ns.len() != iterations
            || result.intra_op_num_threads != intra_op_num_threads
            || result.providers != ["CPUExecutionProvider"]
        {
            bail!(
                "the python helper ran {} calls with {} intra-op threads on {:?}, \
                 asked for {iterations} with {intra_op_num_threads} on the cpu",
                result.latencies_ns.len(),
                result.intra_op_num_threads,
                result.providers
            );
        }
        Ok(result)
    }
}

/// The spec in a temporary file, removed on drop.
struct SpecFile {
    path: PathBuf,
}

impl SpecFile {
    fn write(spec: &Spec<'_>) -> eyre::Result<Self> {
        let name = format!("nsed-bench-inference-{}-{}.json", std::process::id(), spec.batch);
        let path = std::env::temp_dir().join(name);
        let json = serde_json::to_vec(spec).wrap_err("cannot encode the python helper's spec")?;
        std::fs::write(&path, json).wrap_err_with(|| format!("cannot write {}", path.display()))?;
        Ok(Self { path })
    }
}

impl Drop for SpecFile {
    fn drop(&mut self) {
        // Best effort: a leftover file in the temp dir is harmless.
        let _ = std::fs::remove_file(&self.path);
    }
}
