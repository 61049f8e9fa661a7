//! `bench-indexer`: ingestion throughput and query latency of the indexer on a generated chain.
//!
//! Starts anvil, deploys the suite, generates jobs (requested; every second one claimed; every
//! third one settled with a signed transcript) and whole arena games as real transactions, then
//! indexes the chain from scratch into a fresh SQLite file and reports events per second, and
//! p50/p99 latency of typical GraphQL queries over HTTP. Prints a Markdown table.
//!
//! `cargo run --release -p nsed-indexer --features test-utils --bin bench-indexer -- [--jobs N]
//! [--games N] [--queries N]` (after `source .cache/env`).
#![allow(
    clippy::disallowed_macros,
    reason = "a benchmark's report is its stdout, its progress on stderr"
)]

use std::time::{Duration, Instant};

use nsed_indexer::{Indexer, test_utils::Chain};

struct Args {
    jobs: u64,
    games: u64,
    queries: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { jobs: 300, games: 20, queries: 300 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: u64 = value.parse().map_err(|_| format!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            "--jobs" => args.jobs = n,
            "--games" => args.games = n,
            "--queries" => args.queries = usize::try_from(n).map_err(|e| e.to_string())?,
            other => return Err(format!("unknown flag {other} (--jobs, --games, --queries)")),
        }
    }
    Ok(args)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn measure(
    client: &alloy::transports::http::reqwest::Client,
    url: &str,
    query: &str,
    n: usize,
) -> Result<(Duration, Duration, usize), String> {
    let body = serde_json::json!({ "query": query }).to_string();
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let started = Instant::now();
        let text = client
            .post(url)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        times.push(started.elapsed());
        if text.contains("\"errors\"") {
            return Err(format!("query failed: {text}"));
        }
        bytes = text.len();
    }
    times.sort_unstable();
    Ok((percentile(&times, 0.5), percentile(&times, 0.99), bytes))
}

async fn run(args: Args) -> Result<(), String> {
    let chain = Chain::start().await;
    let generated = Instant::now();
    for i in 0..args.jobs {
        let job = chain.request_job(100 + i * 7).await;
        if i % 2 == 0 {
            chain.claim_job(job).await;
        }
        if i % 6 == 0 {
            chain.settle_job(job, ["4", "2", "4"]).await;
        }
    }
    let mut last_game = alloy::primitives::U256::ZERO;
    for _ in 0..args.games {
        last_game = chain.play_game().await;
    }
    let head = chain.head().await;
    eprintln!("generated {head} blocks in {:.1} s", generated.elapsed().as_secs_f64());

    let started = Instant::now();
    let indexer =
        Indexer::start(chain.indexer_config("bench.sqlite")).await.map_err(|e| e.to_string())?;
    indexer.wait_for_block(head, Duration::from_secs(600)).await.map_err(|e| e.to_string())?;
    let ingest = started.elapsed();
    let conn = rusqlite::Connection::open(chain.dir.path().join("bench.sqlite"))
        .map_err(|e| e.to_string())?;
    let events: u64 = conn
        .query_row("SELECT COUNT(*) FROM logs", [], |r| r.get::<_, i64>(0))
        .map_err(|e| e.to_string())?
        .try_into()
        .unwrap_or_default();
    let blocks = head - chain.record.start_block + 1;

    let url = indexer.graphql_url();
    let client = alloy::transports::http::reqwest::Client::new();
    let mid = chain.record.start_block + blocks / 2;
    let queries = [
        (
            "settled jobs ordered by id (first 100)",
            r#"{ jobs(where: { status: "Settled" }, orderBy: id, first: 100) { id status bounty winner { id } } }"#.to_string(),
        ),
        (
            "claimed jobs by bounty desc (first 100)",
            r#"{ jobs(where: { status: "Claimed", bounty_gt: "500" }, orderBy: bounty, orderDirection: desc, first: 100) { id bounty } }"#.to_string(),
        ),
        (
            "one game with nested players",
            format!("{{ game(id: \"{last_game}\") {{ id phase winner players {{ account seat score winner }} }} }}"),
        ),
        (
            "jobs with rounds and settlement (first 100)",
            "{ jobs(first: 100) { id status rounds { round scores } settlement { content score } } }".to_string(),
        ),
        (
            "historical: requested jobs as of mid-chain",
            format!("{{ jobs(block: {{ number: {mid} }}, where: {{ status: \"Requested\" }}, first: 100) {{ id status }} }}"),
        ),
        ("_meta", "{ _meta { block { number hash } } }".to_string()),
    ];
    println!("## Indexer benchmark\n");
    println!(
        "chain: {blocks} blocks, {events} events ({} jobs, {} games)\n",
        args.jobs, args.games
    );
    println!("| measure | value |\n|---|---|");
    println!("| ingestion from scratch | {:.2} s |", ingest.as_secs_f64());
    println!("| events / s | {:.0} |", events as f64 / ingest.as_secs_f64());
    println!("| blocks / s | {:.0} |", blocks as f64 / ingest.as_secs_f64());
    println!(
        "\n| query ({} runs each) | p50 | p99 | response bytes |\n|---|---|---|---|",
        args.queries
    );
    for (name, query) in &queries {
        let (p50, p99, bytes) = measure(&client, &url, query, args.queries).await?;
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {bytes} |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    indexer.shutdown().await.map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("Error: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args).await {
        eprintln!("Error: {e}");
        std::process::exit(1);
    }
}
