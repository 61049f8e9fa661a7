//! The prepared SmolLM2 (scripts/prepare-llms.sh, run by scripts/setup.sh) answers held-out
//! ARC-Easy questions above chance through the panel agent's own multiple-choice policy.

use nsed_inference_worker::{
    ExecutionTarget, LanguageModelOptions,
    agent::language::{
        OptionScore, PANEL, Prompt, PromptStyle, choice_prompt, option_probabilities,
    },
    llm::{DEFAULT_LLM_DIR, PreparedModels},
};
use nsed_protocol::wire::ChoiceInput;

use crate::fixtures::runtime;

#[derive(serde::Deserialize)]
struct Question {
    question: String,
    choices: Vec<String>,
    answer: usize,
}

#[test]
fn smollm2_scores_above_chance_on_20_arc_easy_questions() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let prepared = PreparedModels::load(root.join(DEFAULT_LLM_DIR))
        .expect("prepared models (scripts/setup.sh runs scripts/prepare-llms.sh)");
    let mut options = LanguageModelOptions::new(ExecutionTarget::Cpu);
    options.intra_threads = std::num::NonZeroUsize::new(1);
    let mut model = prepared.load_model(runtime(), "smollm2-135m-int4", options).unwrap();
    let text = std::fs::read_to_string(root.join(".cache/llm/eval/arc_easy-test.jsonl"))
        .expect("evaluation sets (scripts/setup.sh runs scripts/prepare-eval.sh)");
    // The panel's SmolLM2 agent: worked examples, per-token normalisation.
    let policy = PANEL[0].policy;
    assert_eq!((PANEL[0].model, policy.style), ("smollm2-135m-int4", PromptStyle::FewShot));
    let (mut correct, mut chance) = (0usize, 0f64);
    for line in text.lines().take(20) {
        let q: Question = serde_json::from_str(line).unwrap();
        chance += 1.0 / q.choices.len() as f64;
        let input = ChoiceInput { question: q.question, choices: q.choices, labels: vec![] };
        let (prompt, continuations) = choice_prompt(policy.style, &input);
        let Prompt::Plain(rendered) = prompt else { panic!("a few-shot prompt is plain text") };
        let scores: Vec<OptionScore> = model
            .score(&rendered, &continuations)
            .unwrap()
            .iter()
            .zip(&continuations)
            .map(|(s, c)| OptionScore {
                logprob: s.logprob,
                tokens: s.tokens,
                chars: c.chars().count(),
            })
            .collect();
        let p = option_probabilities(&policy, &scores);
        let pick = (0..p.len()).fold(0, |best, i| if p[i] > p[best] { i } else { best });
        correct += usize::from(pick == q.answer);
    }
    eprintln!("SmolLM2 int4: {correct}/20 right; chance expects {chance:.1}");
    // At 25% chance, 9 or more of 20 happens by luck with probability under 5%.
    assert!(correct >= 9, "{correct}/20 is not above chance ({chance:.1} expected by luck)");
}
