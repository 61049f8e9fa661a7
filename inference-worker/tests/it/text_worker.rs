//! A language-model worker (the tiny fixture decoder) answering text tasks over a real
//! nats-server: signed proposals that name an option, valid ballots, and clear refusals.

use nsed_inference_worker::{
    LanguageModel, LanguageModelOptions, Worker,
    agent::language::{LanguagePolicy, PromptStyle},
};
use nsed_protocol::{
    validate_ballot,
    wire::{self, Phase, SignedBallot, SignedProposal, TASK_KIND_TEXT_CHOICE, Task, TaskFailure},
};

use crate::{
    fixtures::runtime,
    worker::{Running, set_input},
};

async fn start(style: PromptStyle) -> Running {
    Running::start_with(|config, signer| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-llm");
        let model = LanguageModel::load(runtime(), dir, LanguageModelOptions::default()).unwrap();
        Worker::with_language_model(config, signer, model, LanguagePolicy::new(style))
    })
    .await
}

fn choice_task(w: &Running, phase: Phase) -> Task {
    let mut task = w.task(phase, 0);
    task.kind = TASK_KIND_TEXT_CHOICE.into();
    set_input(
        &mut task,
        serde_json::json!({
            "question": "Which planet is known as the red planet?",
            "choices": ["Venus", "Mars", "Jupiter"],
        }),
    );
    task
}

#[tokio::test]
async fn a_language_worker_proposes_an_option_label_and_votes_validly() {
    for style in [PromptStyle::Chat, PromptStyle::Plain, PromptStyle::FewShot] {
        let mut w = start(style).await;
        let task = choice_task(&w, Phase::Propose);
        w.publish(&task).await;
        let proposal: SignedProposal = wire::decode(&w.next_result().await.payload).unwrap();
        proposal.verify(&task.domain()).unwrap();
        assert!(["A", "B", "C"].contains(&proposal.content.as_str()), "{}", proposal.content);
        assert!(proposal.confidence.is_some_and(|c| c > 0.0 && c <= 1.0));

        // The other seat proposes the option this agent did not: it is judged below its own.
        let other = if proposal.content == "A" { "B" } else { "A" };
        let mut eval = choice_task(&w, Phase::Evaluate);
        eval.proposals = eval
            .seats
            .iter()
            .map(|s| Some(if *s == w.agent { proposal.content.clone() } else { other.into() }))
            .collect();
        w.publish(&eval).await;
        let ballot: SignedBallot = wire::decode(&w.next_result().await.payload).unwrap();
        ballot.verify(&eval.domain()).unwrap();
        validate_ballot(&ballot.votes, eval.seat, &[true, true], 100).unwrap();
        let other_seat = 1 - eval.seat;
        assert!(ballot.weights[other_seat] < 100, "{:?}", ballot.weights);
        w.stop().await;
    }
}

#[tokio::test]
async fn a_language_worker_refuses_digits_and_malformed_questions() {
    let mut w = start(PromptStyle::Plain).await;
    let digits = w.task(Phase::Propose, 0);
    w.publish(&digits).await;
    let failure: TaskFailure = wire::decode(&w.next_result().await.payload).unwrap();
    assert!(failure.reason.contains("unknown task kind \"tensor-f32\""), "{}", failure.reason);

    let mut one_option = choice_task(&w, Phase::Propose);
    one_option.round = 2;
    set_input(&mut one_option, serde_json::json!({"question": "Why?", "choices": ["Because"]}));
    w.publish(&one_option).await;
    let failure: TaskFailure = wire::decode(&w.next_result().await.payload).unwrap();
    assert!(failure.reason.contains("1 options"), "{}", failure.reason);

    let mut not_a_question = choice_task(&w, Phase::Propose);
    not_a_question.round = 3;
    set_input(&mut not_a_question, serde_json::json!([1, 2, 3]));
    w.publish(&not_a_question).await;
    let failure: TaskFailure = wire::decode(&w.next_result().await.payload).unwrap();
    assert!(failure.reason.contains("not a text-choice input"), "{}", failure.reason);

    let mut free_form = choice_task(&w, Phase::Propose);
    free_form.round = 4;
    free_form.kind = wire::TASK_KIND_TEXT.into();
    set_input(&mut free_form, serde_json::json!({"question": ""}));
    w.publish(&free_form).await;
    let failure: TaskFailure = wire::decode(&w.next_result().await.payload).unwrap();
    assert!(failure.reason.contains("question of 0 bytes"), "{}", failure.reason);
    w.stop().await;
}

#[tokio::test]
async fn a_language_worker_judges_free_form_answers_on_the_table() {
    let mut w = start(PromptStyle::Chat).await;
    let mut eval = choice_task(&w, Phase::Evaluate);
    eval.kind = wire::TASK_KIND_TEXT.into();
    set_input(
        &mut eval,
        serde_json::json!({"question": "Tom has 3 apples and buys 4 more. How many?"}),
    );
    eval.proposals =
        eval.seats.iter().map(|s| Some(if *s == w.agent { "7" } else { "12" }.into())).collect();
    w.publish(&eval).await;
    let ballot: SignedBallot = wire::decode(&w.next_result().await.payload).unwrap();
    ballot.verify(&eval.domain()).unwrap();
    validate_ballot(&ballot.votes, eval.seat, &[true, true], 100).unwrap();
    assert_eq!(ballot.weights[eval.seat], 0, "no weight on its own seat");

    // Round 2: the agent revises among the answers of round 1 and proposes one of them.
    let mut revise = choice_task(&w, Phase::Propose);
    revise.kind = wire::TASK_KIND_TEXT.into();
    revise.input = eval.input.clone();
    revise.input_hash = eval.input_hash;
    revise.round = 2;
    revise.previous = Some(wire::RoundView {
        previous_digest: Default::default(),
        round: 1,
        contents: eval.proposals.clone(),
        votes: vec![None, None],
        scores: vec![0, 0],
        rationales: vec![],
    });
    w.publish(&revise).await;
    let proposal: SignedProposal = wire::decode(&w.next_result().await.payload).unwrap();
    proposal.verify(&revise.domain()).unwrap();
    assert!(["7", "12"].contains(&proposal.content.as_str()), "{}", proposal.content);
    w.stop().await;
}
