//! Deliberation benchmark: accuracy of single models, majority vote, probability averaging and NSED
//! (one round, and up to three rounds) on the held-out digits split.
//!
//! NSED runs through the very code the keeper and workers use: agents sign proposals and ballots
//! (EIP-712), the keeper's `Deliberation` state machine checks and tallies them, and the agents' answers
//! come from [`class_belief`]. Only the transport is skipped: messages go straight from agent to state
//! machine instead of over NATS. Keys are derived from a fixed seed, so the run is reproducible.
//!
//! ```sh
//! cargo run --release -p nsed-inference-worker --bin bench-deliberation -- --models models
//! ```
#![allow(
    clippy::disallowed_macros,
    reason = "a benchmark's report is its stdout, its progress on stderr"
)]

use std::{num::NonZeroUsize, path::PathBuf};

use alloy_primitives::{B256, U256};
use alloy_signer_local::PrivateKeySigner;
use clap::Parser;
use eyre::{WrapErr, eyre};
use nsed_inference_worker::{
    Classifier, ClassifierOptions, ExecutionTarget, Manifest, OnnxRuntime, Prediction,
    agent::{class_belief, offline, parse_answer},
    model::{NUM_CLASSES, load_test_split},
};
use nsed_protocol::halting::HaltingConfig;

/// Accuracy of single models, majority vote, probability averaging and NSED on the test split.
#[derive(Debug, Parser)]
struct Args {
    /// Directory with manifest.json, the models and the test split.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Vote credits per ballot.
    #[arg(long, default_value_t = 100)]
    credits: u64,
    /// Conviction threshold (thousandths) for stopping before the last round.
    #[arg(long, default_value_t = HaltingConfig::default().effort_permille)]
    effort_permille: u16,
    /// Seed of the agents' keys.
    #[arg(long, default_value_t = 20261125)]
    seed: u64,
}

/// One way of turning the panel's predictions into an answer.
#[derive(Debug, Default, Clone, Copy)]
struct Score {
    correct: usize,
    total: usize,
}

impl Score {
    fn add(&mut self, ok: bool) {
        self.correct += usize::from(ok);
        self.total += 1;
    }
    fn pct(self) -> f64 {
        100.0 * self.correct as f64 / self.total.max(1) as f64
    }
}

fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    for i in 1..values.len() {
        if values[i] > values[best] {
            best = i;
        }
    }
    best
}

/// Plurality of labels; a tie goes to the tied class with the largest summed probability.
fn majority(preds: &[&Prediction]) -> usize {
    let mut counts = [0usize; NUM_CLASSES];
    let mut mass = [0f32; NUM_CLASSES];
    for p in preds {
        counts[p.label as usize] += 1;
        for (m, q) in mass.iter_mut().zip(p.probabilities) {
            *m += q;
        }
    }
    let top = *counts.iter().max().expect("ten classes");
    (0..NUM_CLASSES)
        .filter(|&c| counts[c] == top)
        .max_by(|&a, &b| mass[a].total_cmp(&mass[b]))
        .expect("a top class")
}

fn average(preds: &[&Prediction]) -> usize {
    let mut mass = [0f32; NUM_CLASSES];
    for p in preds {
        for (m, q) in mass.iter_mut().zip(p.probabilities) {
            *m += q;
        }
    }
    argmax(&mass)
}

/// NSED outcome for one sample: (answer of round 1, final answer, rounds run).
struct NsedRun {
    first_round: Option<usize>,
    answer: Option<usize>,
    rounds: u32,
}

fn deliberate(
    keys: &[PrivateKeySigner],
    preds: &[&Prediction],
    job: U256,
    credits: u64,
    halting: HaltingConfig,
) -> eyre::Result<NsedRun> {
    let run = offline::deliberate(keys, job, credits, halting, |seat, previous| {
        class_belief(preds[seat], previous)
    })
    .map_err(|e| eyre!(e))?;
    Ok(NsedRun {
        first_round: run.first_round.as_deref().and_then(parse_answer),
        answer: run.answer.as_deref().and_then(parse_answer),
        rounds: run.rounds,
    })
}

fn main() -> eyre::Result<()> {
    let args = Args::parse();
    let runtime = OnnxRuntime::load(None).wrap_err("set ORT_DYLIB_PATH (scripts/setup.sh does)")?;
    let manifest = Manifest::load(&args.models)?;
    let rows = load_test_split(&args.models, &manifest.dataset)?;
    let inputs: Vec<[f32; 64]> = rows.iter().map(|(x, _)| *x).collect();
    let one_thread =
        ClassifierOptions::new(ExecutionTarget::Cpu).with_intra_threads(NonZeroUsize::MIN);
    let mut names = Vec::new();
    let mut predictions: Vec<Vec<Prediction>> = Vec::new();
    for entry in &manifest.models {
        let mut classifier = Classifier::load_with(&runtime, &args.models, entry, one_thread)?;
        predictions.push(classifier.classify(&inputs)?);
        names.push(entry.name.clone());
    }

    let halting =
        HaltingConfig { effort_permille: args.effort_permille, ..HaltingConfig::default() };
    let n = names.len();
    let mut panels: Vec<Vec<usize>> = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            for c in b + 1..n {
                panels.push(vec![a, b, c]);
            }
        }
    }
    panels.push((0..n).collect());

    println!("## Deliberation accuracy on the held-out split ({} samples)\n", rows.len());
    println!("Single models:\n");
    println!("| model | accuracy |\n|---|---|");
    for (i, name) in names.iter().enumerate() {
        let mut s = Score::default();
        for (row, (_, label)) in rows.iter().enumerate() {
            s.add(predictions[i][row].label as u8 == *label);
        }
        println!("| `{name}` | {:.2}% |", s.pct());
    }
    println!(
        "\nPanels (credits {}, effort {}‰, up to {} rounds):\n",
        args.credits, args.effort_permille, halting.max_rounds
    );
    println!(
        "| panel | best single | majority vote | probability average | NSED 1 round | NSED ≤3 rounds | mean rounds |"
    );
    println!("|---|---|---|---|---|---|---|");
    let mut key_seed = args.seed;
    let mut totals = [0f64; 5];
    for panel in &panels {
        // Deterministic keys from the seed, sorted by address: seat order = address order.
        let mut keyed: Vec<(PrivateKeySigner, usize)> = panel
            .iter()
            .map(|&model| {
                key_seed =
                    key_seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let mut bytes = [0u8; 32];
                bytes[..8].copy_from_slice(&key_seed.to_be_bytes());
                bytes[31] = 1;
                (PrivateKeySigner::from_bytes(&B256::from(bytes)).expect("a valid scalar"), model)
            })
            .collect();
        keyed.sort_by_key(|(k, _)| k.address());
        let keys: Vec<PrivateKeySigner> = keyed.iter().map(|(k, _)| k.clone()).collect();
        let models: Vec<usize> = keyed.iter().map(|(_, m)| *m).collect();

        let (mut maj, mut avg, mut nsed1, mut nsed3) =
            (Score::default(), Score::default(), Score::default(), Score::default());
        let mut rounds = 0u64;
        let mut singles = vec![Score::default(); models.len()];
        for (row, (_, label)) in rows.iter().enumerate() {
            let label = usize::from(*label);
            let preds: Vec<&Prediction> = models.iter().map(|&m| &predictions[m][row]).collect();
            for (s, p) in singles.iter_mut().zip(&preds) {
                s.add(p.label as usize == label);
            }
            maj.add(majority(&preds) == label);
            avg.add(average(&preds) == label);
            let job = U256::from(row);
            // Round 1 of the full deliberation is exactly a one-round deliberation: its supported
            // winner is what a one-round job would settle.
            let full = deliberate(&keys, &preds, job, args.credits, halting)?;
            nsed1.add(full.first_round == Some(label));
            nsed3.add(full.answer == Some(label));
            rounds += u64::from(full.rounds);
        }
        let best = singles.iter().map(|s| s.pct()).fold(0.0, f64::max);
        let label: Vec<&str> = panel.iter().map(|&m| names[m].as_str()).collect();
        let mean_rounds = rounds as f64 / rows.len() as f64;
        println!(
            "| {} | {best:.2}% | {:.2}% | {:.2}% | {:.2}% | {:.2}% | {mean_rounds:.2} |",
            label.join(" + "),
            maj.pct(),
            avg.pct(),
            nsed1.pct(),
            nsed3.pct()
        );
        if panel.len() == 3 {
            for (t, v) in
                totals.iter_mut().zip([best, maj.pct(), avg.pct(), nsed1.pct(), nsed3.pct()])
            {
                *t += v / (panels.len() - 1) as f64;
            }
        }
    }
    println!(
        "| **mean over the 3-model panels** | {:.2}% | {:.2}% | {:.2}% | {:.2}% | {:.2}% | |",
        totals[0], totals[1], totals[2], totals[3], totals[4]
    );
    Ok(())
}
