//! The language-model demo of `nsed up --agents llm`: multiple-choice questions from a held-out
//! evaluation split, requested on chain, and each settled job's deliberation read back from the
//! chain (the settlement transaction's transcript and the per-round tallies).

use std::path::Path;

use alloy::{
    primitives::{I256, U256},
    providers::Provider,
    sol_types::{SolCall, SolEvent},
};
use eyre::{WrapErr, eyre};
use nsed_contracts::i_deliberation_market::IDeliberationMarket::{
    JobSettled, RoundTallied, settleJobCall,
};
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

/// One settled round as the chain recorded it.
#[derive(Debug, Clone)]
pub(super) struct RoundLine {
    pub(super) agents: Vec<alloy::primitives::Address>,
    pub(super) contents: Vec<String>,
    pub(super) scores: Vec<I256>,
}

/// The rounds of `job`'s settlement: proposals from the `settleJob` transaction, scores from its
/// `RoundTallied` events.
pub(super) async fn settled_rounds<P: Provider>(
    provider: &P,
    market: alloy::primitives::Address,
    from_block: u64,
    job: U256,
) -> eyre::Result<Vec<RoundLine>> {
    let filter = alloy::rpc::types::Filter::new()
        .address(market)
        .from_block(from_block)
        .event_signature(JobSettled::SIGNATURE_HASH)
        .topic1(job);
    let log = provider
        .get_logs(&filter)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| eyre!("job {job} has no JobSettled event"))?;
    let tx_hash = log.transaction_hash.ok_or_else(|| eyre!("a mined log has its transaction"))?;
    let tx = provider
        .get_transaction_by_hash(tx_hash)
        .await?
        .ok_or_else(|| eyre!("settlement transaction {tx_hash} not found"))?;
    let call = settleJobCall::abi_decode(alloy::consensus::Transaction::input(tx.inner.inner()))
        .wrap_err("the settlement transaction is not a settleJob call")?;
    let tallies = provider
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(market)
                .from_block(from_block)
                .event_signature(RoundTallied::SIGNATURE_HASH)
                .topic1(job),
        )
        .await?;
    let mut scores: Vec<(u32, Vec<I256>)> = tallies
        .iter()
        .filter_map(|l| RoundTallied::decode_log(&l.inner).ok())
        .map(|e| (e.round, e.scores.clone()))
        .collect();
    scores.sort_by_key(|(round, _)| *round);
    Ok(call
        .transcript
        .rounds
        .iter()
        .enumerate()
        .map(|(i, r)| RoundLine {
            agents: call.transcript.agents.clone(),
            contents: r.contents.clone(),
            scores: scores.get(i).map(|(_, s)| s.clone()).unwrap_or_default(),
        })
        .collect())
}

/// Prints one settled job: the question, every round's proposals with their net support, the
/// answer and the truth. `names` names the agents.
pub(super) fn print_job(
    job: U256,
    question: &DemoQuestion,
    rounds: &[RoundLine],
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
