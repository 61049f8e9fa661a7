//! Hostile queries get clear errors and cost little.

use nsed_indexer::test_utils::{Chain, StoreKind, post};

use crate::{catch_up, errors};

on_both_stores!(hostile_queries_get_clear_errors);

async fn hostile_queries_get_clear_errors(store: StoreKind) {
    let chain = Chain::start_on(store).await;
    let job = chain.request_job(10).await;
    let indexer = chain.indexer("hostile.sqlite").await;
    catch_up(&chain, &indexer).await;

    let mut deep = "id".to_string();
    for _ in 0..10 {
        deep = format!("rounds {{ job {{ {deep} }} }}");
    }
    let e = errors(&indexer, &format!("{{ jobs {{ {deep} }} }}")).await;
    assert!(e.to_lowercase().contains("nested too deep"), "{e}");

    let e = errors(&indexer, "{ jobs(first: 5000) { id } }").await;
    assert!(e.contains("`first` must be between 0 and 1000, got 5000"), "{e}");
    let e = errors(&indexer, "{ jobs(skip: 100000) { id } }").await;
    assert!(e.contains("`skip` must be between 0 and 5000"), "{e}");

    let e = errors(&indexer, "{ jobs { id nope } }").await;
    assert!(e.contains("Unknown field \"nope\""), "{e}");
    let e = errors(&indexer, "{ jobs(where: { nope: 1 }) { id } }").await;
    assert!(e.contains("nope"), "{e}");

    let e = errors(&indexer, r#"{ jobs(where: { bounty_gt: "lots" }) { id } }"#).await;
    assert!(e.contains("`bounty_gt`: a uint256 expected"), "{e}");
    let e = errors(&indexer, r#"{ jobs(where: { requester: "0xzz" }) { id } }"#).await;
    assert!(e.contains("`requester`: 0x hex expected"), "{e}");

    let wide: String = (0..1500).map(|i| format!("a{i}: _meta {{ hasIndexingErrors }} ")).collect();
    let e = errors(&indexer, &format!("{{ {wide} }}")).await;
    assert!(e.to_lowercase().contains("too complex"), "{e}");

    // Huge bodies are refused before parsing.
    let huge = format!("{{ jobs {{ id }} }} #{}", "x".repeat(200_000));
    let (status, body) =
        post(&indexer.graphql_url(), serde_json::json!({ "query": huge }).to_string()).await;
    assert_eq!(status, 413);
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("request body exceeds"),
        "{body}"
    );
    let (status, body) = post(&indexer.graphql_url(), "{not json".into()).await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("not a GraphQL request"));

    // The API still answers normally, at both paths, and GraphiQL is served at the root.
    let url = indexer.graphql_url();
    let (status, body) = post(
        &format!("{url}graphql"),
        serde_json::json!({ "query": "{ jobs { id } }" }).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["jobs"], serde_json::json!([{ "id": job.to_string() }]));
    let page = alloy::transports::http::reqwest::get(&url).await.unwrap().text().await.unwrap();
    assert!(page.to_lowercase().contains("graphiql"));
    indexer.shutdown().await.unwrap();
}
