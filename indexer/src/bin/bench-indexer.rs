//! `bench-indexer`: ingestion throughput and query latency of the indexer on a generated chain.
//!
//! Starts anvil, deploys the suite, generates jobs (requested; every second one claimed; every
//! third one settled with a signed transcript) and whole arena games as real transactions, then
//! indexes the same chain from scratch into each store (a fresh SQLite file; a fresh database on a
//! throwaway PostgreSQL server on the same machine) and reports events per second, and p50/p99
//! latency of typical GraphQL queries over HTTP. Then, with `--load-secs` above 0, it starts one
//! and then two serve-only `nsed indexer` processes on each store's database and measures the
//! queries per second they answer together to `--clients` concurrent clients (each sends the
//! typical queries in turn, spread over the processes). Prints Markdown tables, one column per
//! store.
//!
//! `cargo run --release -p nsed-indexer --features test-utils --bin bench-indexer -- [--jobs N]
//! [--games N] [--queries N] [--stores sqlite,postgres] [--load-secs N] [--clients N]
//! [--nsed PATH] [--rounds N] [--window BLOCKS]` (after `source .cache/env`; `--nsed` defaults
//! to `target/release/nsed`). `--rounds N` indexes the chain N times into fresh databases per
//! store and reports the fastest (listing every round); `--window` sets `eth_getLogs` windows.
#![allow(
    clippy::disallowed_macros,
    reason = "a benchmark's report is its stdout, its progress on stderr"
)]

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use nsed_indexer::{
    Indexer, IndexerHandle,
    test_utils::{Chain, StoreKind},
};

struct Args {
    jobs: u64,
    games: u64,
    queries: usize,
    stores: Vec<StoreKind>,
    load_secs: u64,
    clients: usize,
    nsed: PathBuf,
    /// Ingestions of the same chain per store; the fastest is reported, all of them listed.
    rounds: u64,
    /// `eth_getLogs` window in blocks (`None`: the indexer's default).
    window: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        jobs: 300,
        games: 20,
        queries: 300,
        stores: vec![StoreKind::Sqlite, StoreKind::Postgres],
        load_secs: 10,
        clients: 64,
        nsed: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/nsed"),
        rounds: 1,
        window: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        if flag == "--stores" {
            args.stores = value
                .split(',')
                .map(|s| match s {
                    "sqlite" => Ok(StoreKind::Sqlite),
                    "postgres" => Ok(StoreKind::Postgres),
                    other => Err(format!("--stores: unknown store {other} (sqlite, postgres)")),
                })
                .collect::<Result<_, _>>()?;
            continue;
        }
        if flag == "--nsed" {
            args.nsed = PathBuf::from(value);
            continue;
        }
        let n: u64 = value.parse().map_err(|_| format!("{flag}: not a number: {value}"))?;
        match flag.as_str() {
            "--jobs" => args.jobs = n,
            "--games" => args.games = n,
            "--queries" => args.queries = usize::try_from(n).map_err(|e| e.to_string())?,
            "--load-secs" => args.load_secs = n,
            "--clients" => args.clients = usize::try_from(n).map_err(|e| e.to_string())?.max(1),
            "--rounds" => args.rounds = n.max(1),
            "--window" => args.window = Some(n.max(1)),
            other => {
                return Err(format!(
                    "unknown flag {other} (--jobs, --games, --queries, --stores, --load-secs, \
                     --clients, --nsed, --rounds, --window)"
                ));
            }
        }
    }
    Ok(args)
}

const fn name(store: StoreKind) -> &'static str {
    match store {
        StoreKind::Sqlite => "SQLite",
        StoreKind::Postgres => "PostgreSQL",
    }
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

/// A serve-only `nsed indexer` process, killed on drop.
struct ApiProcess {
    child: Child,
    url: String,
}

impl ApiProcess {
    /// Starts `nsed indexer --indexer.serve-only` on `db` and waits for the URL it prints.
    fn spawn(nsed: &Path, record: &Path, db: &Path) -> Result<Self, String> {
        let mut child = Command::new(nsed)
            .args(["indexer", "--indexer.serve-only", "--indexer.listen", "127.0.0.1:0"])
            .arg("--deployment")
            .arg(record)
            .arg("--indexer.db")
            .arg(db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e} (build it with --release)", nsed.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        let url = line.trim().to_string();
        if !url.starts_with("http://") {
            let _ = child.kill();
            return Err(format!("the serve-only indexer printed {url:?} instead of its URL"));
        }
        Ok(Self { child, url })
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `clients` concurrent clients send `queries` in turn to `urls` (client i starts at query i and
/// URL i) for `secs` seconds; returns the answers per second and their p50/p99 latency.
async fn load(
    client: &alloy::transports::http::reqwest::Client,
    urls: &[String],
    queries: &[String],
    clients: usize,
    secs: u64,
) -> Result<(f64, Duration, Duration), String> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let mut tasks = Vec::with_capacity(clients);
    for i in 0..clients {
        let (client, urls) = (client.clone(), urls.to_vec());
        let bodies: Vec<String> =
            queries.iter().map(|q| serde_json::json!({ "query": q }).to_string()).collect();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut k = i;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let text = client
                    .post(&urls[k % urls.len()])
                    .header("content-type", "application/json")
                    .body(bodies[k % bodies.len()].clone())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .text()
                    .await
                    .map_err(|e| e.to_string())?;
                if text.contains("\"errors\"") {
                    return Err(format!("query failed under load: {text}"));
                }
                times.push(sent.elapsed());
                k += 1;
            }
            Ok::<_, String>(times)
        }));
    }
    let mut times = Vec::new();
    for task in tasks {
        times.extend(task.await.map_err(|e| e.to_string())??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort_unstable();
    if times.is_empty() {
        return Err("no query finished under load".into());
    }
    Ok((times.len() as f64 / elapsed, percentile(&times, 0.5), percentile(&times, 0.99)))
}

async fn run(args: Args) -> Result<(), String> {
    // The PostgreSQL server runs whether or not it is measured; it idles otherwise.
    let chain = Chain::start_on(StoreKind::Postgres).await;
    let generated = Instant::now();
    // Jobs and games are sent by different accounts, so they can be generated side by side.
    let jobs = async {
        for i in 0..args.jobs {
            let job = chain.request_job(100 + i * 7).await;
            if i % 2 == 0 {
                chain.claim_job(job).await;
            }
            if i % 6 == 0 {
                chain.settle_job(job, ["4", "2", "4"]).await;
            }
        }
    };
    let games = async {
        let mut last_game = alloy::primitives::U256::ZERO;
        for _ in 0..args.games {
            last_game = chain.play_game().await;
        }
        last_game
    };
    let ((), last_game) = tokio::join!(jobs, games);
    let head = chain.head().await;
    eprintln!("generated {head} blocks in {:.1} s", generated.elapsed().as_secs_f64());
    let blocks = head - chain.record.start_block + 1;
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

    let client = alloy::transports::http::reqwest::Client::new();
    let record = chain.dir.path().join("record.json");
    std::fs::write(
        &record,
        serde_json::to_string_pretty(&chain.record).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let texts: Vec<String> = queries.iter().map(|(_, q)| q.clone()).collect();
    // Per store: (API processes, queries/s, p50, p99).
    let mut loads: Vec<Vec<(usize, f64, Duration, Duration)>> = Vec::new();
    let mut ingestion = Vec::new();
    // Of each ingestion, the part before following starts: connecting, checking the chain id,
    // opening and migrating the database.
    let mut startups = Vec::new();
    let mut latencies = Vec::new();
    let mut events = 0;
    let mut all_rounds: Vec<Vec<Duration>> = Vec::new();
    for store in &args.stores {
        // Each round indexes the chain from scratch into a fresh database; the fastest is kept
        // (its indexer serves the queries below), the others are shut down.
        let mut best: Option<(Duration, Duration, IndexerHandle, String)> = None;
        let mut rounds = Vec::new();
        for round in 0..args.rounds {
            let db = format!("bench{round}");
            let mut config = chain.indexer_config(&db);
            if *store == StoreKind::Sqlite {
                config.db_path = chain.dir.path().join(format!("{db}.sqlite"));
            }
            if let Some(window) = args.window {
                config.log_window = window;
            }
            eprintln!("indexing into {} (round {})", name(*store), round + 1);
            let started = Instant::now();
            let indexer = Indexer::start(config).await.map_err(|e| e.to_string())?;
            let opened = started.elapsed();
            indexer
                .wait_for_block(head, Duration::from_secs(1200))
                .await
                .map_err(|e| e.to_string())?;
            let ingest = started.elapsed();
            eprintln!("  {:.3} s (start-up {:.3} s)", ingest.as_secs_f64(), opened.as_secs_f64());
            rounds.push(ingest);
            match &best {
                Some((fastest, ..)) if *fastest <= ingest => {
                    indexer.shutdown().await.map_err(|e| e.to_string())?;
                }
                _ => {
                    if let Some((.., previous, _)) = best.take() {
                        previous.shutdown().await.map_err(|e| e.to_string())?;
                    }
                    best = Some((ingest, opened, indexer, db));
                }
            }
        }
        all_rounds.push(rounds);
        let (ingest, opened, indexer, db) = best.expect("at least one round");
        startups.push(opened);
        events = match store {
            StoreKind::Sqlite => {
                let conn =
                    rusqlite::Connection::open(chain.dir.path().join(format!("{db}.sqlite")))
                        .map_err(|e| e.to_string())?;
                conn.query_row("SELECT COUNT(*) FROM logs", [], |r| r.get::<_, i64>(0))
                    .map_err(|e| e.to_string())?
                    .try_into()
                    .unwrap_or_default()
            }
            StoreKind::Postgres => chain.stored_logs(&db).await.len() as u64,
        };
        ingestion.push(ingest);
        let url = indexer.graphql_url();
        let mut measured = Vec::new();
        for (_, query) in &queries {
            measured.push(measure(&client, &url, query, args.queries).await?);
        }
        latencies.push(measured);
        let mut store_loads = Vec::new();
        if args.load_secs > 0 {
            let db = if *store == StoreKind::Sqlite {
                chain.dir.path().join(format!("{db}.sqlite"))
            } else {
                chain.db_setting(&db)
            };
            for processes in [1, 2] {
                let apis = (0..processes)
                    .map(|_| ApiProcess::spawn(&args.nsed, &record, &db))
                    .collect::<Result<Vec<_>, _>>()?;
                let urls: Vec<String> = apis.iter().map(|a| a.url.clone()).collect();
                eprintln!(
                    "{} clients on {processes} serve-only process(es), {} s",
                    args.clients, args.load_secs
                );
                let (qps, p50, p99) =
                    load(&client, &urls, &texts, args.clients, args.load_secs).await?;
                store_loads.push((processes, qps, p50, p99));
            }
        }
        loads.push(store_loads);
        indexer.shutdown().await.map_err(|e| e.to_string())?;
    }

    let stores: Vec<&str> = args.stores.iter().map(|s| name(*s)).collect();
    println!("## Indexer benchmark\n");
    println!(
        "chain: {blocks} blocks, {events} events ({} jobs, {} games)\n",
        args.jobs, args.games
    );
    println!("| measure | {} |\n|---|{}", stores.join(" | "), "---|".repeat(stores.len()));
    let row = |label: &str, f: &dyn Fn(Duration) -> String| {
        let cells: Vec<String> = ingestion.iter().map(|d| f(*d)).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    row("ingestion from scratch (start to caught up)", &|d| format!("{:.2} s", d.as_secs_f64()));
    row("events / s", &|d| format!("{:.0}", events as f64 / d.as_secs_f64()));
    row("blocks / s", &|d| format!("{:.0}", blocks as f64 / d.as_secs_f64()));
    let cells: Vec<String> = startups.iter().map(|d| format!("{:.3} s", d.as_secs_f64())).collect();
    println!("| of which start-up (open, migrate) | {} |", cells.join(" | "));
    let cells: Vec<String> = ingestion
        .iter()
        .zip(&startups)
        .map(|(d, s)| format!("{:.0}", events as f64 / (*d - *s).as_secs_f64()))
        .collect();
    println!("| events / s after start-up | {} |", cells.join(" | "));
    if args.rounds > 1 {
        let cells: Vec<String> = all_rounds
            .iter()
            .map(|rounds| {
                let rates: Vec<String> = rounds
                    .iter()
                    .map(|d| format!("{:.0}", events as f64 / d.as_secs_f64()))
                    .collect();
                rates.join(", ")
            })
            .collect();
        println!(
            "| events / s of each of the {} rounds (the fastest above) | {} |",
            args.rounds,
            cells.join(" | ")
        );
    }
    let heads: Vec<String> = stores.iter().map(|s| format!("{s} p50 | {s} p99")).collect();
    println!(
        "\n| query ({} runs each) | {} | response bytes |\n|---|{}---|",
        args.queries,
        heads.join(" | "),
        "---|---|".repeat(stores.len())
    );
    for (i, (label, _)) in queries.iter().enumerate() {
        let cells: Vec<String> = latencies
            .iter()
            .map(|m| {
                let (p50, p99, _) = m[i];
                format!("{:.2} ms | {:.2} ms", p50.as_secs_f64() * 1e3, p99.as_secs_f64() * 1e3)
            })
            .collect();
        let bytes = latencies.first().map_or(0, |m| m[i].2);
        println!("| {label} | {} | {bytes} |", cells.join(" | "));
    }
    if args.load_secs > 0 {
        println!(
            "\n| serve-only API processes ({} clients, {} s, the queries above in turn) | {} |\n|---|{}",
            args.clients,
            args.load_secs,
            heads.join(" | ").replace("p50", "queries/s").replace("p99", "p50 / p99"),
            "---|---|".repeat(stores.len())
        );
        for (i, processes) in [1, 2].iter().enumerate() {
            let cells: Vec<String> = loads
                .iter()
                .map(|l| {
                    let (_, qps, p50, p99) = l[i];
                    format!(
                        "{qps:.0} | {:.1} / {:.1} ms",
                        p50.as_secs_f64() * 1e3,
                        p99.as_secs_f64() * 1e3
                    )
                })
                .collect();
            println!("| {processes} | {} |", cells.join(" | "));
        }
    }
    Ok(())
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
