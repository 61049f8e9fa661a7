//! `nsed up --once --agents llm`: three language-model agents answer a held-out question on chain,
//! and the output shows the question, each round's proposals with their support, the settled
//! answer beside the truth and the job's time.

use std::process::Command;

#[test]
fn up_with_language_model_agents_settles_a_question_and_shows_its_rounds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let deployments = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_nsed"))
        .args(["up", "--once", "--agents", "llm", "--jobs", "1", "--indexer.listen", "127.0.0.1:0"])
        .arg("--models-dir")
        .arg(root.join("models"))
        .arg("--llm.dir")
        .arg(root.join(".cache/llm"))
        .arg("--llm.questions")
        .arg(root.join(".cache/llm/eval/arc_easy-test.jsonl"))
        .arg("--deployments-dir")
        .arg(deployments.path())
        .env_remove("NATS_URL")
        .env_remove("NSED_PRIVATE_KEY")
        .output()
        .expect("nsed runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "nsed up failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for agent in ["smollm2-chat", "gemma3-plain", "gemma3-few-shot"] {
        assert!(stdout.contains(&format!("({agent})")), "{agent} registered\n{stdout}");
    }
    // The first held-out ARC-Easy question and its options.
    assert!(stdout.contains("job 1: Which statement best explains why photosynthesis"), "{stdout}");
    assert!(stdout.contains("    A. Sunlight is the source of energy"), "{stdout}");
    // Round 1 shows every agent's proposal (an option label) and its signed support.
    let round = stdout.lines().find(|l| l.trim_start().starts_with("round 1")).expect("round 1");
    for agent in ["smollm2-chat", "gemma3-plain", "gemma3-few-shot"] {
        assert!(round.contains(agent), "{round}");
    }
    let settled = stdout.lines().find(|l| l.trim_start().starts_with("settled ")).expect("settled");
    let words: Vec<&str> = settled.split_whitespace().collect();
    assert!(["A", "B", "C", "D"].contains(&words[1]), "{settled}");
    assert_eq!(&words[2..4], ["truth", "A"], "{settled}");
    assert!(settled.contains(" s "), "the job's time: {settled}");
    assert!(stdout.contains("accuracy     "), "{stdout}");
}
