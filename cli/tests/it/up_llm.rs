//! `nsed up --once --agents llm`: three language-model agents answer a held-out question on chain,
//! and the output shows the question, each round's proposals with their support, the settled
//! answer beside the truth and the job's time.

use std::ffi::OsStr;

use crate::up::up_once;

#[test]
fn up_with_language_model_agents_settles_a_question_and_shows_its_rounds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let deployments = tempfile::tempdir().unwrap();
    let llm_dir = root.join(".cache/llm");
    let questions = llm_dir.join("eval/arc_easy-test.jsonl");
    let args: [&OsStr; 8] = [
        "--agents".as_ref(),
        "llm".as_ref(),
        "--jobs".as_ref(),
        "1".as_ref(),
        "--llm.dir".as_ref(),
        llm_dir.as_ref(),
        "--llm.questions".as_ref(),
        questions.as_ref(),
    ];
    let (doc, _) = up_once(args, deployments.path());
    let names: Vec<&str> =
        doc["agents"].as_array().unwrap().iter().filter_map(|a| a["name"].as_str()).collect();
    for agent in ["smollm2-few-shot", "gemma3-plain", "gemma3-few-shot"] {
        assert!(names.contains(&agent), "{agent} registered\n{doc}");
    }
    // The first held-out ARC-Easy question and its options.
    let job = &doc["jobs"][0];
    assert_eq!(job["id"], "1", "{job}");
    let question = job["question"].as_str().unwrap();
    assert!(question.starts_with("Which statement best explains why photosynthesis"), "{job}");
    assert_eq!(job["choices"][0]["label"], "A", "{job}");
    let first = job["choices"][0]["text"].as_str().unwrap();
    assert!(first.starts_with("Sunlight is the source of energy"), "{job}");
    // Round 1 shows every agent's proposal (an option label) and its signed support.
    let round = &job["transcript"][0];
    assert_eq!(round["round"], 1, "{job}");
    let proposals = round["proposals"].as_array().unwrap();
    for agent in ["smollm2-few-shot", "gemma3-plain", "gemma3-few-shot"] {
        let p = proposals.iter().find(|p| p["name"] == agent).unwrap_or_else(|| panic!("{job}"));
        assert!(p["score"].is_string(), "{job}");
    }
    assert!(["A", "B", "C", "D"].contains(&job["answer"].as_str().unwrap()), "{job}");
    assert_eq!(job["truth"], "A", "{job}");
    assert_eq!(job["rounds"].as_u64(), Some(job["transcript"].as_array().unwrap().len() as u64));
    assert!(job["seconds"].as_f64().unwrap() > 0.0, "the job's time: {job}");
    assert_eq!(doc["accuracy"]["total"], 1, "{doc}");
}
