//! Evaluation sets (JSONL from scripts/prepare-eval.sh), the option-score cache, and the
//! free-form GSM8K run.

use std::{collections::HashMap, io::Write as _, path::Path};

use alloy_primitives::U256;
use alloy_signer_local::PrivateKeySigner;
use eyre::{WrapErr, eyre};
use nsed_inference_worker::{
    agent::{
        Belief,
        language::{
            LanguagePolicy, OptionScore, PANEL, answer_candidates, answer_prompt, judge_prompt,
            judged_belief, normalize_answer,
        },
        offline,
    },
    llm::{GenerationParams, LanguageModel},
};
use nsed_protocol::{
    halting::HaltingConfig,
    wire::{AnswerFormat, ChoiceInput, TextInput},
};
use serde::Deserialize;

use super::{render, stats::Tally};

/// One multiple-choice question and its answer's index.
#[derive(Debug, Clone)]
pub(crate) struct ChoiceItem {
    pub(crate) id: String,
    pub(crate) input: ChoiceInput,
    pub(crate) answer: usize,
}

#[derive(Deserialize)]
struct ChoiceLine {
    id: String,
    question: String,
    choices: Vec<String>,
    answer: usize,
}

#[derive(Deserialize)]
struct TextLine {
    question: String,
    answer: String,
}

/// The first `limit` questions of `<set>-<split>.jsonl`.
pub(crate) fn load_choice_set(
    dir: &Path,
    set: &str,
    split: &str,
    limit: usize,
) -> eyre::Result<Vec<ChoiceItem>> {
    let path = dir.join(format!("{set}-{split}.jsonl"));
    let text = std::fs::read_to_string(&path).wrap_err_with(|| {
        format!("cannot read {} (run scripts/prepare-eval.sh)", path.display())
    })?;
    let mut items = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()).take(limit) {
        let l: ChoiceLine = serde_json::from_str(line)
            .wrap_err_with(|| format!("malformed line in {}", path.display()))?;
        if l.answer >= l.choices.len() {
            return Err(eyre!("{}: answer {} out of range", l.id, l.answer));
        }
        let input = ChoiceInput { question: l.question, choices: l.choices, labels: Vec::new() };
        input.validate().wrap_err_with(|| format!("question {}", l.id))?;
        items.push(ChoiceItem { id: l.id, input, answer: l.answer });
    }
    Ok(items)
}

#[derive(serde::Serialize, Deserialize)]
struct ScoreLine {
    id: String,
    /// `[logprob, tokens, chars]` per option.
    scores: Vec<(f64, usize, usize)>,
}

/// Cached option scores by question id (a missing file is an empty cache).
pub(crate) fn read_scores(path: &Path) -> eyre::Result<HashMap<String, Vec<OptionScore>>> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(HashMap::new()) };
    let mut out = HashMap::new();
    for line in text.lines() {
        // A line cut short by an interrupted run is recomputed.
        let Ok(l) = serde_json::from_str::<ScoreLine>(line) else { continue };
        let scores = l
            .scores
            .into_iter()
            .map(|(logprob, tokens, chars)| OptionScore { logprob, tokens, chars })
            .collect();
        out.insert(l.id, scores);
    }
    Ok(out)
}

pub(crate) fn append_scores(path: &Path, id: &str, scores: &[OptionScore]) -> eyre::Result<()> {
    let line = ScoreLine {
        id: id.to_string(),
        scores: scores.iter().map(|s| (s.logprob, s.tokens, s.chars)).collect(),
    };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    writeln!(file, "{}", serde_json::to_string(&line)?)?;
    Ok(())
}

/// Free-form GSM8K: every agent generates a worked answer (its round-1 proposal); NSED evaluates
/// and revises by scoring the answers on the table, as the worker's `text` path does.
pub(crate) fn gsm8k(
    models: &mut HashMap<&'static str, LanguageModel>,
    dir: &Path,
    limit: usize,
    policies: &[LanguagePolicy],
    keys: &[PrivateKeySigner],
    credits: u64,
) -> eyre::Result<()> {
    let path = dir.join("gsm8k-test.jsonl");
    let text = std::fs::read_to_string(&path).wrap_err_with(|| {
        format!("cannot read {} (run scripts/prepare-eval.sh)", path.display())
    })?;
    let mut singles = vec![Tally::default(); PANEL.len()];
    let (mut majority, mut nsed, mut ceiling, mut answered) =
        (Tally::default(), Tally::default(), Tally::default(), vec![0usize; PANEL.len()]);
    let mut generated_tokens = 0usize;
    let mut generation_ms = 0f64;
    for (q, line) in text.lines().filter(|l| !l.trim().is_empty()).take(limit).enumerate() {
        let item: TextLine = serde_json::from_str(line)?;
        let input = TextInput { question: item.question, format: AnswerFormat::Number };
        let mut proposals: Vec<Option<String>> = Vec::new();
        for (a, agent) in PANEL.iter().enumerate() {
            let model = models.get_mut(agent.model).ok_or_else(|| eyre!("model not loaded"))?;
            let prompt = render(model, &answer_prompt(policies[a].style, &input))?;
            let mut params = GenerationParams::greedy(policies[a].max_new_tokens);
            params = params.with_stop_string("\nQuestion:").with_stop_string("\n\n\n");
            let g = model.generate(&prompt, &params)?;
            generated_tokens += g.tokens.len();
            generation_ms += g.prefill_ms + g.decode_ms;
            let answer = normalize_answer(AnswerFormat::Number, &g.text);
            answered[a] += usize::from(answer.is_some());
            singles[a].add(answer.as_deref() == Some(item.answer.as_str()));
            proposals.push(answer);
        }
        ceiling.add(proposals.iter().any(|p| p.as_deref() == Some(item.answer.as_str())));
        let mut counts: Vec<(String, usize)> = Vec::new();
        for p in proposals.iter().flatten() {
            match counts.iter_mut().find(|(a, _)| a == p) {
                Some((_, c)) => *c += 1,
                None => counts.push((p.clone(), 1)),
            }
        }
        let top = counts.iter().map(|(_, c)| *c).max().unwrap_or(0);
        majority.add(counts.iter().find(|(_, c)| *c == top).map(|(a, _)| a) == Some(&item.answer));

        // NSED: round 1 proposals are the generations; judged beliefs afterwards.
        if proposals.iter().flatten().count() < 2 {
            nsed.add(false);
            continue;
        }
        let mut judged: HashMap<(usize, Vec<String>), Vec<OptionScore>> = HashMap::new();
        let mut failure = None;
        let run = offline::deliberate(
            keys,
            U256::from(q),
            credits,
            HaltingConfig::default(),
            |seat, previous| {
                let on_table: Vec<Option<String>> = match previous {
                    None => proposals.clone(),
                    Some(view) => view.contents.clone(),
                };
                let own = on_table.get(seat).cloned().flatten();
                let candidates = answer_candidates(&on_table);
                if previous.is_none() {
                    // Round 1: an agent proposes what it generated; its evaluation judges the table.
                    let scores = judge(
                        models,
                        &input,
                        seat,
                        &candidates,
                        policies,
                        &mut judged,
                        &mut failure,
                    );
                    let belief = judged_belief(&policies[seat], candidates, &scores, None);
                    return match own {
                        Some(own) if belief.proposal().0 != own => prefer(belief, &own),
                        _ => belief,
                    };
                }
                let scores =
                    judge(models, &input, seat, &candidates, policies, &mut judged, &mut failure);
                judged_belief(&policies[seat], candidates, &scores, previous)
            },
        )
        .map_err(|e| eyre!(e))?;
        if let Some(e) = failure {
            return Err(e);
        }
        nsed.add(run.answer.as_deref() == Some(item.answer.as_str()));
    }
    println!("\n### Free-form answers: GSM8K test, first {limit} questions\n");
    println!("| method | accuracy, % (95% CI) |\n|---|---|");
    for (a, t) in PANEL.iter().zip(&singles) {
        println!("| `{}` alone | {} |", a.name, t.cell());
    }
    println!("| majority vote | {} |", majority.cell());
    println!("| NSED ≤3 rounds | {} |", nsed.cell());
    println!("| ceiling (≥1 right) | {} |", ceiling.cell());
    let answered: Vec<String> = answered.iter().map(usize::to_string).collect();
    println!(
        "\nAnswers with a final number, per agent: {} of {limit}; {generated_tokens} tokens generated at {:.1} tok/s overall.",
        answered.join(" / "),
        generated_tokens as f64 * 1000.0 / generation_ms.max(1e-9)
    );
    Ok(())
}

/// Round 1 of a free-form job: the agent proposes its own generated answer whatever its judged
/// belief says (its evaluation still uses the judged belief).
fn prefer(belief: Belief, own: &str) -> Belief {
    let answers = belief.answers().to_vec();
    let mut weights = belief.weights().to_vec();
    let top = weights.iter().copied().fold(0f32, f32::max);
    if let Some(i) = answers.iter().position(|a| a == own) {
        weights[i] = top + f32::EPSILON.max(top * 1e-3);
    }
    Belief::new(answers, weights)
}

fn judge(
    models: &mut HashMap<&'static str, LanguageModel>,
    input: &TextInput,
    agent: usize,
    candidates: &[String],
    policies: &[LanguagePolicy],
    cache: &mut HashMap<(usize, Vec<String>), Vec<OptionScore>>,
    failure: &mut Option<eyre::Report>,
) -> Vec<OptionScore> {
    let key = (agent, candidates.to_vec());
    if let Some(hit) = cache.get(&key) {
        return hit.clone();
    }
    let fallback = vec![OptionScore { logprob: 0.0, tokens: 1, chars: 1 }; candidates.len()];
    let Some(model) = models.get_mut(PANEL[agent].model) else { return fallback };
    let (prompt, continuations) = judge_prompt(policies[agent].style, input, candidates);
    let scored = render(model, &prompt).and_then(|text| Ok(model.score(&text, &continuations)?));
    match scored {
        Ok(raw) => {
            let scores: Vec<OptionScore> = raw
                .iter()
                .zip(&continuations)
                .map(|(s, c)| OptionScore {
                    logprob: s.logprob,
                    tokens: s.tokens,
                    chars: c.chars().count(),
                })
                .collect();
            cache.insert(key, scores.clone());
            scores
        }
        Err(e) => {
            failure.get_or_insert(e);
            fallback
        }
    }
}
