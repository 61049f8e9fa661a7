//! Generation speed and memory of the Rust runtime against Python onnxruntime, on the same ONNX
//! files and the same prompt token ids, measured in one run.

use std::{
    io::Write as _,
    path::Path,
    process::{Command, Stdio},
};

use eyre::{WrapErr, eyre};
use nsed_inference_worker::{
    ExecutionTarget, OnnxRuntime,
    llm::{GenerationParams, LanguageModelOptions, PreparedModels},
};

/// Prompts both runtimes continue (64 new tokens each, end-of-sequence ignored).
const PROMPTS: [&str; 4] = [
    "The water cycle begins when the sun heats water in oceans and lakes.",
    "Question: Which planet is closest to the Sun?\nAnswer:",
    "A recipe for bread needs flour, water, salt and",
    "In 1905, a young patent clerk published four papers that",
];

const NEW_TOKENS: usize = 64;

#[derive(serde::Deserialize)]
struct PythonResult {
    tokens_per_s: f64,
    ms_per_prompt: Vec<f64>,
    peak_rss_mb: f64,
    generated: Vec<Vec<u32>>,
}

pub(crate) fn compare(
    runtime: &OnnxRuntime,
    prepared: &PreparedModels,
    python: &Path,
    threads: usize,
) -> eyre::Result<()> {
    println!(
        "\n### Generation speed: Rust (`ort`) vs Python onnxruntime, same ONNX files and prompts\n"
    );
    println!(
        "{} prompts, {NEW_TOKENS} new tokens each (greedy, end-of-sequence ignored), batch 1, {threads} threads; tok/s counts generated tokens over total time incl. prefill.\n",
        PROMPTS.len()
    );
    println!(
        "| model | Rust tok/s | Python tok/s | ratio Rust/Python | Rust ms/prompt | Python ms/prompt | same tokens | Python peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for model in &prepared.models {
        let mut options = LanguageModelOptions::new(ExecutionTarget::Cpu);
        options.intra_threads = std::num::NonZeroUsize::new(threads);
        let mut lm = prepared.load_model(runtime, &model.name, options)?;
        let prompts: Vec<Vec<u32>> =
            PROMPTS.iter().map(|p| lm.encode(p, true)).collect::<Result<_, _>>()?;
        let params = GenerationParams { ignore_eos: true, ..GenerationParams::greedy(NEW_TOKENS) };
        // One warm-up run, as the Python side's first call also pays for allocation.
        lm.generate_ids(&prompts[0], &GenerationParams::greedy(4))?;
        let mut rust_ms = Vec::new();
        let mut rust_tokens = Vec::new();
        for ids in &prompts {
            let g = lm.generate_ids(ids, &params)?;
            rust_ms.push(g.prefill_ms + g.decode_ms);
            rust_tokens.push(g.tokens);
        }
        let total_ms: f64 = rust_ms.iter().sum();
        let rust_tps = (NEW_TOKENS * prompts.len()) as f64 * 1000.0 / total_ms;
        let rust_mean = total_ms / prompts.len() as f64;
        drop(lm);
        let py = match run_python(python, &prepared.dir_of(model), &prompts, threads) {
            Ok(py) => py,
            Err(e) => {
                println!(
                    "| `{}` | {rust_tps:.1} | — | — | {rust_mean:.0} | — | — | — ({e}) |",
                    model.name
                );
                continue;
            }
        };
        let py_mean = py.ms_per_prompt.iter().sum::<f64>() / py.ms_per_prompt.len().max(1) as f64;
        let same = py.generated == rust_tokens;
        println!(
            "| `{}` | {rust_tps:.1} | {:.1} | {:.2} | {rust_mean:.0} | {py_mean:.0} | {} | {:.0} MB |",
            model.name,
            py.tokens_per_s,
            rust_tps / py.tokens_per_s,
            if same { "yes" } else { "no" },
            py.peak_rss_mb
        );
    }
    Ok(())
}

fn run_python(
    python: &Path,
    model_dir: &Path,
    prompts: &[Vec<u32>],
    threads: usize,
) -> eyre::Result<PythonResult> {
    if !python.is_file() {
        return Err(eyre!("no {}", python.display()));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/llm_python.py");
    let spec = serde_json::json!({
        "model_dir": model_dir,
        "prompts": prompts,
        "new_tokens": NEW_TOKENS,
        "threads": threads,
    });
    let mut child = Command::new(python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .wrap_err_with(|| format!("cannot run {}", python.display()))?;
    child.stdin.take().ok_or_else(|| eyre!("no stdin"))?.write_all(spec.to_string().as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        return Err(eyre!("python exited with {}", out.status));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}
