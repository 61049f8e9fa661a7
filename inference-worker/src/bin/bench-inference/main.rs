//! `bench-inference`: latency and throughput of [`Classifier::classify`] next to Python
//! `onnxruntime`, on the same models, the same inputs and the same thread settings.
//!
//! For each manifest model and batch size it alternates, over a few rounds, timing the Rust path
//! and running `bench/ort_python.py` on the same rows (each after a warm-up), checks both sides
//! predict the same, and prints a markdown table for BENCHMARKS.md on stdout (progress goes to
//! stderr). Both sides use one intra-op thread and the same ONNX Runtime build.
//!
//! ```sh
//! python3 -m venv /tmp/venv-ort && /tmp/venv-ort/bin/pip install onnxruntime==1.32.0 numpy
//! cargo run --release -p nsed-inference-worker --bin bench-inference -- --python /tmp/venv-ort/bin/python
//! ```
#![allow(
    clippy::disallowed_macros,
    reason = "a benchmark's report is its stdout, its progress on stderr"
)]

mod python;
mod report;
mod stats;

use std::{
    hint::black_box,
    num::NonZeroUsize,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use clap::Parser;
use eyre::{WrapErr, bail, ensure};
use nsed_inference_worker::{
    Classifier, ClassifierOptions, ExecutionTarget, Manifest, OnnxRuntime, Prediction,
    model::load_test_split,
};

use crate::{python::PythonOrt, report::Row, stats::Latency};

/// Largest difference in a probability allowed between the two runtimes. They are the same
/// ONNX Runtime build, so in practice the difference is 0.
const PROBABILITY_TOLERANCE: f32 = 1e-6;

/// Measures Classifier::classify against Python onnxruntime on the committed models.
#[derive(Debug, Parser)]
#[command(name = "bench-inference", about, long_about = None)]
struct BenchArgs {
    /// The Python interpreter that has `onnxruntime==1.32.0` and `numpy`.
    #[arg(long, value_name = "PATH", default_value = "python3")]
    python: PathBuf,
    /// The models directory (with manifest.json and the test split).
    #[arg(long, value_name = "DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../models"))]
    models: PathBuf,
    /// The ONNX Runtime library for the Rust side; defaults to `ORT_DYLIB_PATH`.
    #[arg(long, value_name = "FILE")]
    ort_dylib: Option<PathBuf>,
    /// Only these models (comma-separated manifest names); all of them by default.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    only: Vec<String>,
    /// Rows per call; 450 is the whole held-out split.
    #[arg(long, value_name = "N", value_delimiter = ',', default_values_t = [1, 64, 450])]
    batch_sizes: Vec<usize>,
    /// Timed calls per model and batch size on each side, over all rounds; by default 3000, 1200
    /// and 300 for batches of up to 1, up to 64 and more rows.
    #[arg(long, value_name = "N")]
    iterations: Option<NonZeroUsize>,
    /// Rounds the calls are split into, alternating Rust and Python, so a burst of load from
    /// elsewhere on the machine hits both sides rather than one.
    #[arg(long, value_name = "N", default_value = "3")]
    rounds: NonZeroUsize,
}

fn main() {
    if let Err(err) = run(BenchArgs::parse()) {
        eprintln!("Error: {err:?}");
        std::process::exit(1);
    }
}

fn run(args: BenchArgs) -> eyre::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: this is a debug build; run with --release for numbers worth keeping");
    }
    let python = PythonOrt::new(&args.python)?;
    let runtime = OnnxRuntime::load(args.ort_dylib.as_deref()).wrap_err(
        "cannot load ONNX Runtime for the Rust side (set ORT_DYLIB_PATH or pass --ort-dylib)",
    )?;
    // The PyPI wheel's library on both sides: the build descriptions (commit id included) match.
    if runtime.build_info() != python.versions.build_info {
        bail!(
            "the Rust side loaded another ONNX Runtime build than `{}` runs (onnxruntime {}): \
             `{}` vs `{}`; use the library scripts/setup.sh extracts from the same wheel, or {}",
            args.python.display(),
            python.versions.onnxruntime,
            runtime.build_info(),
            python.versions.build_info,
            python::VENV_HINT
        );
    }

    let manifest = Manifest::load(&args.models)
        .wrap_err_with(|| format!("cannot read the manifest in {}", args.models.display()))?;
    let split = load_test_split(&args.models, &manifest.dataset)
        .wrap_err_with(|| format!("cannot read the test split in {}", args.models.display()))?;
    let rows: Vec<[f32; 64]> = split.iter().map(|(features, _)| *features).collect();
    for &batch in &args.batch_sizes {
        ensure!(
            (1..=rows.len()).contains(&batch),
            "batch size {batch} is outside 1..={} (the test split's rows)",
            rows.len()
        );
    }
    let entries = match args.only.as_slice() {
        [] => manifest.models.iter().collect(),
        names => names.iter().map(|name| manifest.try_get(name)).collect::<Result<Vec<_>, _>>()?,
    };

    // One intra-op thread on both sides: the comparison is of the two bindings, not of how well
    // each spreads one small call over the cores.
    let threads = NonZeroUsize::MIN;
    let options = ClassifierOptions::new(ExecutionTarget::Cpu).with_intra_threads(threads);
    let mut table = Vec::new();
    for entry in entries {
        let mut classifier = Classifier::load_with(&runtime, &args.models, entry, options)?;
        let model_path = entry.path_in(&args.models)?;
        for &batch in &args.batch_sizes {
            let inputs = &rows[..batch];
            let rounds = args.rounds.get();
            let total = args.iterations.map_or_else(|| default_iterations(batch), |n| n.get());
            let per_round = total.div_ceil(rounds);
            let warmup = (per_round / 10).max(20);
            eprintln!(
                "{}: batch {batch}, {rounds} rounds of {per_round} calls per side",
                entry.name
            );

            let mut rust_latencies = Vec::with_capacity(per_round * rounds);
            let mut python_latencies = Vec::with_capacity(per_round * rounds);
            let mut max_diff = 0.0f32;
            for _ in 0..rounds {
                let (latencies, predictions) =
                    time_rust(&mut classifier, inputs, warmup, per_round)?;
                rust_latencies.extend(latencies);
                let py = python.bench(&model_path, inputs, warmup, per_round, threads.get())?;
                max_diff = max_diff.max(compare(&entry.name, batch, &predictions, &py)?);
                python_latencies.extend(py.latencies_ns);
            }
            table.push(Row {
                model: entry.name.clone(),
                batch,
                iterations: per_round * rounds,
                rust: Latency::from_durations(&rust_latencies),
                python: Latency::from_nanos(&python_latencies),
                max_probability_diff: max_diff,
            });
        }
    }

    let machine = report::Machine::detect();
    print!(
        "{}",
        report::markdown(
            &machine,
            &runtime,
            &python.versions,
            threads.get(),
            args.rounds.get(),
            &table
        )
    );
    Ok(())
}

/// Timed calls per side: enough for a stable p99, few enough that all models take about a minute.
const fn default_iterations(batch: usize) -> usize {
    match batch {
        0..=1 => 3000,
        2..=64 => 1200,
        _ => 300,
    }
}

/// Times `iterations` calls of `classify` after `warmup` untimed ones; returns the latencies and
/// the last call's predictions.
fn time_rust(
    classifier: &mut Classifier,
    inputs: &[[f32; 64]],
    warmup: usize,
    iterations: usize,
) -> eyre::Result<(Vec<Duration>, Vec<Prediction>)> {
    let mut last = Vec::new();
    for _ in 0..warmup {
        last = black_box(classifier.classify(black_box(inputs))?);
    }
    let mut latencies = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let predictions = classifier.classify(black_box(inputs))?;
        latencies.push(start.elapsed());
        last = black_box(predictions);
    }
    Ok((latencies, last))
}

/// Checks both runtimes gave the same labels and (within [`PROBABILITY_TOLERANCE`]) the same
/// probabilities; returns the largest probability difference.
fn compare(
    model: &str,
    batch: usize,
    rust: &[Prediction],
    python: &python::PythonBench,
) -> eyre::Result<f32> {
    ensure!(
        rust.len() == batch && python.labels.len() == batch && python.probabilities.len() == batch,
        "{model} batch {batch}: rust gave {} predictions, python {} labels and {} probability rows",
        rust.len(),
        python.labels.len(),
        python.probabilities.len()
    );
    let mut max_diff = 0.0f32;
    for (row, ((rust, &py_label), py_probabilities)) in
        rust.iter().zip(&python.labels).zip(&python.probabilities).enumerate()
    {
        ensure!(
            i64::from(rust.label) == py_label,
            "{model} batch {batch} row {row}: rust predicts {} but python {py_label}",
            rust.label
        );
        ensure!(
            py_probabilities.len() == rust.probabilities.len(),
            "{model} batch {batch} row {row}: python gave {} probabilities",
            py_probabilities.len()
        );
        for (&r, &p) in rust.probabilities.iter().zip(py_probabilities) {
            // Python sends each float32 widened to a double, so the narrowing is exact.
            max_diff = max_diff.max((r - p as f32).abs());
        }
    }
    ensure!(
        max_diff <= PROBABILITY_TOLERANCE,
        "{model} batch {batch}: probabilities differ by up to {max_diff} between rust and python"
    );
    Ok(max_diff)
}

/// The helper script shipped next to this crate.
fn helper_script() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/bench/ort_python.py"))
}
