//! The language-model demo of `nsed up --agents llm`: multiple-choice questions from a held-out
//! evaluation split, and how each settled job's deliberation (read back from the chain by
//! [`nsed_client::Requester::settled_rounds`]) is shown.

use std::path::Path;

use alloy::primitives::U256;
use eyre::{WrapErr, eyre};
use nsed_client::SettledRound;
use nsed_protocol::wire::ChoiceInput;

use crate::output::out;

/// One demo question and its true label.
#[derive(Debug, Clone)]
pub(super) struct DemoQuestion {
    pub(super) input: ChoiceInput,
    pub(super) truth: String,
}

#[derive(serde::Deserialize)]
struct Line {
    question: String,
    choices: Vec<String>,
    answer: usize,
}

/// The first `n` questions of a multiple-choice JSONL file (`scripts/prepare-eval.sh`).
pub(super) fn load_questions(path: &Path, n: usize) -> eyre::Result<Vec<DemoQuestion>> {
    let text = std::fs::read_to_string(path).wrap_err_with(|| {
        format!("cannot read {} (scripts/setup.sh prepares the evaluation sets)", path.display())
    })?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()).take(n) {
        let l: Line = serde_json::from_str(line)
            .wrap_err_with(|| format!("malformed question in {}", path.display()))?;
        let input = ChoiceInput { question: l.question, choices: l.choices, labels: Vec::new() };
        input.validate()?;
        let truth = input
            .labels()
            .get(l.answer)
            .cloned()
            .ok_or_else(|| eyre!("answer index {} out of range", l.answer))?;
        out.push(DemoQuestion { input, truth });
    }
    Ok(out)
}

/// Prints one settled job: the question, every round's proposals with their net support, the
/// answer and the truth. `names` names the agents.
pub(super) fn print_job(
    job: U256,
    question: &DemoQuestion,
    rounds: &[SettledRound],
    answer: &str,
    seconds: f64,
    names: &[(alloy::primitives::Address, &str)],
) {
    out!("job {job}: {}", question.input.question.trim());
    for (label, choice) in question.input.labels().iter().zip(&question.input.choices) {
        out!("    {label}. {choice}");
    }
    for (i, round) in rounds.iter().enumerate() {
        let cells: Vec<String> = round
            .contents
            .iter()
            .enumerate()
            .map(|(seat, content)| {
                let shown = if content.is_empty() { "—" } else { content.as_str() };
                let score = round.scores.get(seat).map(ToString::to_string).unwrap_or_default();
                let agent = round.agents.get(seat).copied().unwrap_or_default();
                let name = names.iter().find(|(a, _)| *a == agent).map_or("?", |(_, n)| n);
                format!("{name} {shown} ({score:>+3})")
            })
            .collect();
        out!("    round {}  {}", i + 1, cells.join("   "));
    }
    let mark = if answer == question.truth { "✓" } else { "✗" };
    out!(
        "    settled {answer}  truth {}  after {} round(s) in {seconds:.1} s {mark}",
        question.truth,
        rounds.len()
    );
}
