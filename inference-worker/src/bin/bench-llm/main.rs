//! Language-model deliberation benchmark: accuracy of each agent alone, majority vote, probability
//! averaging, NSED after one and up to three rounds, and the "at least one right" ceiling, on
//! multiple-choice sets (tuned on dev splits, reported on held-out test splits with 95% Wilson
//! intervals); a free-form GSM8K run; and the Rust runtime's speed against Python onnxruntime on
//! the same ONNX files and prompts.
//!
//! The agents are the panel of `nsed up --agents llm` ([`PANEL`]). Each agent scores every option
//! of every question once; scores are cached under `--scores-dir` (a rerun only adds what is
//! missing), and every aggregate is computed from them. NSED runs through the keeper's state
//! machine with real signatures ([`offline::deliberate`]); the beliefs come from the worker's own
//! policy functions, so the numbers are what the deployed agents would do.
//!
//! ```sh
//! scripts/prepare-llms.sh && scripts/prepare-eval.sh
//! cargo run --release -p nsed-inference-worker --bin bench-llm -- --test-limit 500
//! ```
#![allow(
    clippy::disallowed_macros,
    reason = "a benchmark's report is its stdout, its progress on stderr"
)]

mod data;
mod speed;
mod stats;

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    time::Instant,
};

use alloy_primitives::U256;
use clap::Parser;
use eyre::{WrapErr, eyre};
use nsed_inference_worker::{
    ExecutionTarget, OnnxRuntime,
    agent::{
        language::{
            LanguagePolicy, OptionScore, PANEL, PanelAgent, Prompt, PromptStyle,
            ScoreNormalization, choice_belief, choice_prompt, option_probabilities,
        },
        offline,
    },
    llm::{ChatMessage, LanguageModel, LanguageModelOptions, PreparedModels},
};
use nsed_protocol::halting::HaltingConfig;

use data::{ChoiceItem, load_choice_set};
use stats::{Tally, pairwise_error_correlation};

/// Language-model deliberation benchmark.
#[derive(Debug, Parser)]
struct Args {
    /// Prepared models (manifest.json and model directories).
    #[arg(long, default_value = ".cache/llm")]
    llm_dir: PathBuf,
    /// Evaluation sets (scripts/prepare-eval.sh).
    #[arg(long, default_value = ".cache/llm/eval")]
    eval_dir: PathBuf,
    /// Multiple-choice sets to run.
    #[arg(long, value_delimiter = ',', default_value = "arc_easy,sciq,csqa")]
    sets: Vec<String>,
    /// Dev questions per set used for tuning.
    #[arg(long, default_value_t = 300)]
    dev_limit: usize,
    /// Held-out test questions per set reported.
    #[arg(long, default_value_t = 500)]
    test_limit: usize,
    /// Where option scores are cached.
    #[arg(long, default_value = ".cache/llm/bench")]
    scores_dir: PathBuf,
    /// GSM8K test questions for the free-form run (0 skips it).
    #[arg(long, default_value_t = 20)]
    gsm8k: usize,
    /// ONNX Runtime intra-op threads per model.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Python with onnxruntime for the speed comparison (skipped when absent).
    #[arg(long, default_value = ".cache/llm-venv/bin/python")]
    python: PathBuf,
    /// Vote credits per ballot.
    #[arg(long, default_value_t = 100)]
    credits: u64,
    /// Seed of the agents' keys.
    #[arg(long, default_value_t = 20261201)]
    seed: u64,
}

/// Every model of the panel under every prompt style it supports, tried on the dev splits (the
/// base Gemma model has no chat template).
const STYLE_CANDIDATES: [PanelAgent; 5] = [
    PanelAgent {
        name: "smollm2-chat",
        model: "smollm2-135m-int4",
        policy: LanguagePolicy::new(PromptStyle::Chat),
    },
    PanelAgent {
        name: "smollm2-plain",
        model: "smollm2-135m-int4",
        policy: LanguagePolicy::new(PromptStyle::Plain),
    },
    PanelAgent {
        name: "smollm2-few-shot",
        model: "smollm2-135m-int4",
        policy: LanguagePolicy::new(PromptStyle::FewShot),
    },
    PanelAgent {
        name: "gemma3-plain",
        model: "gemma3-270m-int4",
        policy: LanguagePolicy::new(PromptStyle::Plain),
    },
    PanelAgent {
        name: "gemma3-few-shot",
        model: "gemma3-270m-int4",
        policy: LanguagePolicy::new(PromptStyle::FewShot),
    },
];

/// Option scores of one agent on one split, by question.
type Scores = Vec<Vec<OptionScore>>;

/// Loads each distinct model of the panel once.
fn load_models(
    runtime: &OnnxRuntime,
    prepared: &PreparedModels,
    threads: usize,
) -> eyre::Result<HashMap<&'static str, LanguageModel>> {
    let mut models = HashMap::new();
    for agent in PANEL {
        if models.contains_key(agent.model) {
            continue;
        }
        let mut options = LanguageModelOptions::new(ExecutionTarget::Cpu);
        options.intra_threads = std::num::NonZeroUsize::new(threads);
        let model = prepared
            .load_model(runtime, agent.model, options)
            .wrap_err_with(|| format!("cannot load {}", agent.model))?;
        models.insert(agent.model, model);
    }
    Ok(models)
}

fn render(model: &LanguageModel, prompt: &Prompt) -> eyre::Result<String> {
    Ok(match prompt {
        Prompt::Plain(text) => text.clone(),
        Prompt::Chat { user, assistant_prefix } => {
            model.apply_chat_template(&[ChatMessage::user(user.clone())], true)? + assistant_prefix
        }
    })
}

/// Scores every question of `items` for every panel agent, reading and extending the cache.
fn score_split(
    agents: &[PanelAgent],
    models: &mut HashMap<&'static str, LanguageModel>,
    items: &[ChoiceItem],
    set: &str,
    split: &str,
    scores_dir: &std::path::Path,
    ms_per_task: &mut BTreeMap<&'static str, (f64, usize)>,
) -> eyre::Result<Vec<Scores>> {
    let mut out = Vec::new();
    for agent in agents {
        let path = scores_dir.join(format!("{}-{set}-{split}.jsonl", agent.name));
        let model = models.get_mut(agent.model).ok_or_else(|| eyre!("model not loaded"))?;
        // Scores belong to the model that made them: a reconverted model starts afresh.
        let id_path = path.with_extension("model-id");
        let id = alloy_primitives::hex::encode(model.model_id());
        if std::fs::read_to_string(&id_path).is_ok_and(|old| old.trim() != id) {
            std::fs::remove_file(&path).ok();
        }
        std::fs::write(&id_path, &id)?;
        let mut cached = data::read_scores(&path)?;
        let todo = items.iter().filter(|i| !cached.contains_key(&i.id)).count();
        if todo > 0 {
            eprintln!("[bench-llm] {} on {set}-{split}: scoring {todo} questions", agent.name);
        }
        let mut done = 0;
        for item in items {
            if cached.contains_key(&item.id) {
                continue;
            }
            let (prompt, continuations) = choice_prompt(agent.policy.style, &item.input);
            let started = Instant::now();
            let text = render(model, &prompt)?;
            let raw = model.score(&text, &continuations)?;
            let entry = ms_per_task.entry(agent.name).or_default();
            entry.0 += started.elapsed().as_secs_f64() * 1000.0;
            entry.1 += 1;
            let scores: Vec<OptionScore> = raw
                .iter()
                .zip(&continuations)
                .map(|(s, c)| OptionScore {
                    logprob: s.logprob,
                    tokens: s.tokens,
                    chars: c.chars().count(),
                })
                .collect();
            data::append_scores(&path, &item.id, &scores)?;
            cached.insert(item.id.clone(), scores);
            done += 1;
            if done % 50 == 0 {
                eprintln!("[bench-llm]   {done}/{todo}");
            }
        }
        out.push(items.iter().map(|i| cached[&i.id].clone()).collect());
    }
    Ok(out)
}

/// The panel's policies with shared `temperature` and `alpha` and each agent's normalization.
fn policies(norms: &[ScoreNormalization], temperature: f32, alpha: f32) -> Vec<LanguagePolicy> {
    PANEL
        .iter()
        .zip(norms)
        .map(|(a, n)| LanguagePolicy {
            normalization: *n,
            temperature,
            self_weight: alpha,
            ..a.policy
        })
        .collect()
}

/// Accuracy of every method on one split.
#[derive(Debug, Default, Clone)]
struct Methods {
    singles: Vec<Tally>,
    majority: Tally,
    average: Tally,
    nsed1: Tally,
    nsed3: Tally,
    ceiling: Tally,
    rounds: u64,
    errors: Vec<Vec<bool>>,
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

fn evaluate(
    items: &[ChoiceItem],
    scores: &[Scores],
    policies: &[LanguagePolicy],
    keys: &[alloy_signer_local::PrivateKeySigner],
    seat_of_agent: &[usize],
    credits: u64,
    halting: HaltingConfig,
) -> eyre::Result<Methods> {
    let n = PANEL.len();
    let mut m = Methods {
        singles: vec![Tally::default(); n],
        errors: vec![Vec::new(); n],
        ..Default::default()
    };
    for (q, item) in items.iter().enumerate() {
        let labels = item.input.labels();
        let truth = &labels[item.answer];
        let probs: Vec<Vec<f32>> =
            (0..n).map(|a| option_probabilities(&policies[a], &scores[a][q])).collect();
        let picks: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
        for (a, &pick) in picks.iter().enumerate() {
            let ok = pick == item.answer;
            m.singles[a].add(ok);
            m.errors[a].push(!ok);
        }
        m.ceiling.add(picks.contains(&item.answer));
        // Plurality of picks; ties to the tied option with the largest summed probability.
        let mut counts = vec![0usize; labels.len()];
        let mut mass = vec![0f32; labels.len()];
        for (pick, p) in picks.iter().zip(&probs) {
            counts[*pick] += 1;
            for (acc, v) in mass.iter_mut().zip(p) {
                *acc += v;
            }
        }
        let top = counts.iter().copied().max().unwrap_or(0);
        let majority = (0..labels.len())
            .filter(|&o| counts[o] == top)
            .max_by(|&x, &y| mass[x].total_cmp(&mass[y]))
            .unwrap_or(0);
        m.majority.add(majority == item.answer);
        m.average.add(argmax(&mass) == item.answer);

        // Seat s holds the agent whose key sorts s-th.
        let run = offline::deliberate(keys, U256::from(q), credits, halting, |seat, previous| {
            let a = seat_of_agent[seat];
            choice_belief(&policies[a], &item.input, &scores[a][q], previous)
        })
        .map_err(|e| eyre!(e))?;
        m.nsed1.add(run.first_round.as_deref() == Some(truth.as_str()));
        m.nsed3.add(run.answer.as_deref() == Some(truth.as_str()));
        m.rounds += u64::from(run.rounds);
    }
    Ok(m)
}

fn main() -> eyre::Result<()> {
    let args = Args::parse();
    let runtime = OnnxRuntime::load(None).wrap_err("set ORT_DYLIB_PATH (scripts/setup.sh does)")?;
    let prepared = PreparedModels::load(&args.llm_dir)?;
    std::fs::create_dir_all(&args.scores_dir)?;
    let mut models = load_models(&runtime, &prepared, args.threads)?;

    // Seats: deterministic keys; agent i gets the i-th key before sorting, so record the mapping.
    let keys = offline::seeded_keys(args.seed, PANEL.len());
    let seat_of_agent: Vec<usize> = (0..PANEL.len()).collect();
    let halting = HaltingConfig::default();

    let mut ms_per_task = BTreeMap::new();
    let mut style_dev = Vec::new();
    let mut dev = Vec::new();
    let mut test = Vec::new();
    for set in &args.sets {
        let dev_items = load_choice_set(&args.eval_dir, set, "dev", args.dev_limit)?;
        let test_items = load_choice_set(&args.eval_dir, set, "test", args.test_limit)?;
        let dev_scores = score_split(
            &PANEL,
            &mut models,
            &dev_items,
            set,
            "dev",
            &args.scores_dir,
            &mut ms_per_task,
        )?;
        let test_scores = score_split(
            &PANEL,
            &mut models,
            &test_items,
            set,
            "test",
            &args.scores_dir,
            &mut ms_per_task,
        )?;
        let style_scores = score_split(
            &STYLE_CANDIDATES,
            &mut models,
            &dev_items,
            set,
            "dev",
            &args.scores_dir,
            &mut ms_per_task,
        )?;
        style_dev.push((dev_items.clone(), style_scores));
        dev.push((set.clone(), dev_items, dev_scores));
        test.push((set.clone(), test_items, test_scores));
    }

    // 0. Prompt styles on dev: each model alone under every style it supports.
    println!("## Language-model deliberation (tuned on dev, reported on test)\n");
    println!("Prompt styles on dev (single-model accuracy pooled over the dev splits):\n");
    println!("| model | style | sum | per token | per char |\n|---|---|---|---|---|");
    for (c, candidate) in STYLE_CANDIDATES.iter().enumerate() {
        let mut cells = Vec::new();
        for n in
            [ScoreNormalization::Sum, ScoreNormalization::PerToken, ScoreNormalization::PerChar]
        {
            let policy = LanguagePolicy { normalization: n, ..candidate.policy };
            let mut t = Tally::default();
            for (items, scores) in &style_dev {
                for (q, item) in items.iter().enumerate() {
                    t.add(argmax(&option_probabilities(&policy, &scores[c][q])) == item.answer);
                }
            }
            cells.push(format!("{:.1}%", t.pct()));
        }
        println!(
            "| `{}` | {:?} | {} |",
            candidate.model,
            candidate.policy.style,
            cells.join(" | ")
        );
    }

    // 1. Tune on dev: each agent's normalization by its own pooled accuracy, then the shared
    //    temperature and revision weight by pooled NSED (≤3 rounds) accuracy, the more
    //    conservative (higher α) on ties.
    let all_norms =
        [ScoreNormalization::Sum, ScoreNormalization::PerToken, ScoreNormalization::PerChar];
    let mut norms = Vec::new();
    for a in 0..PANEL.len() {
        let mut best = (ScoreNormalization::PerChar, -1.0);
        for n in all_norms {
            let policy = LanguagePolicy { normalization: n, ..PANEL[a].policy };
            let mut t = Tally::default();
            for (_, items, scores) in &dev {
                for (q, item) in items.iter().enumerate() {
                    t.add(argmax(&option_probabilities(&policy, &scores[a][q])) == item.answer);
                }
            }
            if t.pct() > best.1 {
                best = (n, t.pct());
            }
        }
        norms.push(best.0);
    }
    let mut tuning = Vec::new();
    let mut best = (1.0f32, 1.0f32, -1.0f64);
    for temperature in [0.02f32, 0.05, 0.1, 0.25, 0.5, 1.0] {
        for alpha in [1.0f32, 0.9, 0.8, 0.7, 0.6, 0.5] {
            let ps = policies(&norms, temperature, alpha);
            let mut pooled = Tally::default();
            for (_, items, scores) in &dev {
                let m = evaluate(items, scores, &ps, &keys, &seat_of_agent, args.credits, halting)?;
                pooled.merge(&m.nsed3);
            }
            tuning.push((temperature, alpha, pooled.pct()));
            if pooled.pct() > best.2 + 1e-9 {
                best = (temperature, alpha, pooled.pct());
            }
        }
    }
    let (temperature, alpha, _) = best;
    let tuned = policies(&norms, temperature, alpha);

    println!("\nAgents (the `nsed up --agents llm` panel):\n");
    println!("| agent | model | prompt | normalization (dev) |\n|---|---|---|---|");
    for (a, p) in PANEL.iter().zip(&tuned) {
        println!("| `{}` | `{}` | {:?} | {:?} |", a.name, a.model, p.style, p.normalization);
    }
    println!(
        "\nDev tuning (pooled dev NSED ≤3 accuracy over {} sets): temperature {temperature}, α {alpha}.\n",
        dev.len()
    );
    println!("| temperature | α | dev NSED ≤3 |\n|---|---|---|");
    for (t, a, pct) in &tuning {
        println!("| {t} | {a} | {pct:.1}% |");
    }

    // 2. Report on test.
    println!("\n### Test accuracy, % (95% Wilson interval)\n");
    let header: Vec<String> = PANEL.iter().map(|a| format!("`{}`", a.name)).collect();
    println!(
        "| set | n | {} | majority vote | probability average | NSED 1 round | NSED ≤3 rounds | mean rounds | ceiling (≥1 right) |",
        header.join(" | ")
    );
    println!("|---|---|{}---|---|---|---|---|---|", "---|".repeat(PANEL.len()));
    let mut pooled = Methods {
        singles: vec![Tally::default(); PANEL.len()],
        errors: vec![Vec::new(); PANEL.len()],
        ..Default::default()
    };
    let mut correlations = Vec::new();
    for (set, items, scores) in &test {
        let m = evaluate(items, scores, &tuned, &keys, &seat_of_agent, args.credits, halting)?;
        let singles: Vec<String> = m.singles.iter().map(Tally::cell).collect();
        println!(
            "| {set} | {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            items.len(),
            singles.join(" | "),
            m.majority.cell(),
            m.average.cell(),
            m.nsed1.cell(),
            m.nsed3.cell(),
            m.rounds as f64 / items.len().max(1) as f64,
            m.ceiling.cell()
        );
        correlations.push((set.clone(), pairwise_error_correlation(&m.errors)));
        for (p, s) in pooled.singles.iter_mut().zip(&m.singles) {
            p.merge(s);
        }
        for (p, e) in pooled.errors.iter_mut().zip(&m.errors) {
            p.extend(e);
        }
        pooled.majority.merge(&m.majority);
        pooled.average.merge(&m.average);
        pooled.nsed1.merge(&m.nsed1);
        pooled.nsed3.merge(&m.nsed3);
        pooled.ceiling.merge(&m.ceiling);
        pooled.rounds += m.rounds;
    }
    let n = pooled.ceiling.total;
    let singles: Vec<String> = pooled.singles.iter().map(Tally::cell).collect();
    println!(
        "| **pooled** | {n} | {} | {} | {} | {} | {} | {:.2} | {} |",
        singles.join(" | "),
        pooled.majority.cell(),
        pooled.average.cell(),
        pooled.nsed1.cell(),
        pooled.nsed3.cell(),
        pooled.rounds as f64 / n.max(1) as f64,
        pooled.ceiling.cell()
    );
    correlations.push(("pooled".into(), pairwise_error_correlation(&pooled.errors)));
    println!(
        "\n### Pairwise error correlation (phi coefficient of the agents' error indicators, test)\n"
    );
    let mut pairs = Vec::new();
    for (i, first) in PANEL.iter().enumerate() {
        for second in &PANEL[i + 1..] {
            pairs.push(format!("`{}` × `{}`", first.name, second.name));
        }
    }
    println!("| set | {} |\n|---|{}", pairs.join(" | "), "---|".repeat(pairs.len()));
    for (set, c) in &correlations {
        let cells: Vec<String> = c.iter().map(|v| format!("{v:.2}")).collect();
        println!("| {set} | {} |", cells.join(" | "));
    }
    println!(
        "\n### Time per multiple-choice task (one agent scoring every option of a question)\n"
    );
    println!("| agent | ms per task (mean) | tasks timed |\n|---|---|---|");
    for (name, (ms, count)) in &ms_per_task {
        println!("| `{name}` | {:.0} | {count} |", ms / (*count).max(1) as f64);
    }

    // 3. Free form.
    if args.gsm8k > 0 {
        data::gsm8k(&mut models, &args.eval_dir, args.gsm8k, &tuned, &keys, args.credits)?;
    }

    // 4. Speed against Python onnxruntime.
    speed::compare(&runtime, &prepared, &args.python, args.threads)?;
    for (name, model) in &models {
        let mem = model.memory();
        println!("\nmemory `{name}`: {mem:?}");
    }
    Ok(())
}
