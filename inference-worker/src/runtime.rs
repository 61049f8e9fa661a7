//! Loading the ONNX Runtime shared library.

use std::path::{Path, PathBuf};

/// Environment variable naming the `libonnxruntime.so.1.x` file to load (ort's own convention).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Why ONNX Runtime could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Neither a path nor `ORT_DYLIB_PATH` was given.
    #[error(
        "no ONNX Runtime library given: set {ORT_DYLIB_ENV} (scripts/setup.sh extracts one into .cache/onnxruntime)"
    )]
    NotConfigured,
    /// The path does not name a file.
    #[error("ONNX Runtime library {0} does not exist (run scripts/setup.sh)")]
    LibraryNotFound(PathBuf),
    /// The file is not a loadable ONNX Runtime, or its version is older than ort supports.
    #[error("cannot load ONNX Runtime from {path}: {reason}")]
    Load {
        /// The library file.
        path: PathBuf,
        /// The loader's complaint.
        reason: String,
    },
    /// The library loaded but creating the runtime environment failed.
    #[error("cannot create the ONNX Runtime environment: {0}")]
    Environment(String),
}

/// A loaded ONNX Runtime with its process-wide environment; sessions are created while it lives.
#[derive(Debug)]
pub struct OnnxRuntime {
    path: PathBuf,
    build_info: &'static str,
    environment: ort::environment::Environment,
}

impl OnnxRuntime {
    /// Loads the library at `path`, or at `ORT_DYLIB_PATH` when `path` is `None`, and creates the
    /// environment named `nsed`.
    ///
    /// ONNX Runtime is loaded once per process: later calls reuse the first library.
    ///
    /// # Errors
    ///
    /// [`RuntimeError`] when no library is configured, the file is missing, it does not load (or is
    /// older than 1.31, which ort rc.15 refuses), or the environment cannot be created.
    pub fn load(path: Option<&Path>) -> Result<Self, RuntimeError> {
        let path = match path {
            Some(path) => path.to_path_buf(),
            None => std::env::var_os(ORT_DYLIB_ENV)
                .map(PathBuf::from)
                .ok_or(RuntimeError::NotConfigured)?,
        };
        if !path.is_file() {
            return Err(RuntimeError::LibraryNotFound(path));
        }
        let builder = ort::init_from(&path)
            .map_err(|e| RuntimeError::Load { path: path.clone(), reason: e.to_string() })?;
        let environment = builder
            .with_name("nsed")
            .build()
            .map_err(|e| RuntimeError::Environment(e.to_string()))?;
        Ok(Self { path, build_info: ort::info(), environment })
    }

    /// The library file that was loaded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// ONNX Runtime's build description (`ORT Build Info: git-branch=rel-1.32.0, ...`).
    pub const fn build_info(&self) -> &'static str {
        self.build_info
    }

    /// The environment sessions are created in.
    pub(crate) const fn environment(&self) -> &ort::environment::Environment {
        &self.environment
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_reported_with_its_path() {
        let err = OnnxRuntime::load(Some(Path::new("/nonexistent/libonnxruntime.so.1.32.0")))
            .unwrap_err();
        assert!(
            matches!(err, RuntimeError::LibraryNotFound(ref p) if p.ends_with("libonnxruntime.so.1.32.0"))
        );
    }

    #[test]
    fn a_directory_is_not_a_library() {
        let err = OnnxRuntime::load(Some(Path::new("/"))).unwrap_err();
        assert!(matches!(err, RuntimeError::LibraryNotFound(_)));
    }

    /// The real library from the PyPI wheel, as set up by `scripts/setup.sh` for every test run.
    #[test]
    fn loads_the_configured_onnx_runtime() {
        let path = std::env::var_os(ORT_DYLIB_ENV)
            .expect("ORT_DYLIB_PATH must be set: run tests through scripts/test.sh");
        let runtime = OnnxRuntime::load(None).unwrap();
        assert_eq!(runtime.path(), Path::new(&path));
        assert!(runtime.build_info().contains("ORT Build Info"), "{}", runtime.build_info());
    }
}
