//! The web app's HTTP server: the bundle built from `app/` (`app/dist/`), the chain's settings
//! and the contracts' ABIs, and same-origin passages to the indexer and the chain.
//!
//! The app never carries a hand-copied address or ABI: `/config.json` is made from the
//! deployment record ([`Deployment`]) and `/abi/<Contract>.json` from the artifacts this binary
//! was compiled with ([`nsed_contracts::artifact`]). `POST /graphql` and `POST /rpc` forward the
//! request body to the indexer's GraphQL URL and the JSON-RPC endpoint, so the browser talks to
//! one origin only (the indexer and most nodes send no CORS headers). Everything else is a file
//! under the bundle directory, `index.html` for `/`.

use std::{
    net::SocketAddr,
    path::{Component, Path, PathBuf},
    sync::Arc,
};

use alloy::transports::http::reqwest;
use axum::{
    Json, Router,
    body::Bytes,
    extract::{Path as UrlPath, State},
    http::{HeaderMap, HeaderValue, StatusCode, Uri, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use eyre::WrapErr;
use nsed_deploy::Deployment;
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Where `nsed app` and `nsed up` find the bundle by default (relative to the working
/// directory: the repository root, where `scripts/setup.sh` builds it).
pub const DEFAULT_APP_DIR: &str = "app/dist";

/// Web app flags (`nsed app` and `nsed up`).
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Web app")]
pub struct AppOpts {
    /// Address the web app listens on (port 0 picks a free port).
    #[arg(long = "app.listen", value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The built bundle to serve (`scripts/setup.sh` builds it from `app/`).
    #[arg(long = "app.dir", value_name = "DIR", default_value = DEFAULT_APP_DIR)]
    pub dir: PathBuf,
}

impl AppOpts {
    /// The server's settings for `deployment` on `rpc_url`, reading `graphql_url`.
    pub fn config(&self, deployment: Deployment, rpc_url: &str, graphql_url: &str) -> AppConfig {
        AppConfig {
            listen: self.listen,
            dir: self.dir.clone(),
            deployment,
            rpc_url: rpc_url.to_owned(),
            graphql_url: graphql_url.to_owned(),
        }
    }
}

/// What the app server serves.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The built bundle (`index.html`, `app.js`, ...).
    pub dir: PathBuf,
    /// The deployment whose chain and addresses the app uses.
    pub deployment: Deployment,
    /// The chain's JSON-RPC endpoint (proxied at `/rpc`; given to wallets that add the chain).
    pub rpc_url: String,
    /// The indexer's GraphQL endpoint (proxied at `/graphql`).
    pub graphql_url: String,
}

/// A running app server; [`AppServer::shutdown`] stops it.
#[derive(Debug)]
pub struct AppServer {
    addr: SocketAddr,
    stop: CancellationToken,
    /// The serving task until it ends; then its outcome. A finished `JoinHandle` must not be
    /// polled again, so [`AppServer::stopped`] and [`AppServer::shutdown`] share this.
    task: Option<JoinHandle<std::io::Result<()>>>,
    outcome: Option<Result<std::io::Result<()>, tokio::task::JoinError>>,
}

struct Shared {
    dir: PathBuf,
    config: Value,
    rpc_url: String,
    graphql_url: String,
    http: reqwest::Client,
}

impl AppServer {
    /// Binds `config.listen` and serves the app until [`AppServer::shutdown`] or `stop` is
    /// cancelled.
    ///
    /// # Errors
    ///
    /// When the bundle is missing (`scripts/setup.sh` builds it) or the address cannot be bound.
    pub async fn start(config: AppConfig, stop: CancellationToken) -> eyre::Result<Self> {
        let index = config.dir.join("index.html");
        if !index.is_file() {
            eyre::bail!(
                "the web app is not built ({} is missing): run scripts/setup.sh, or pass \
                 --app.dir with a built bundle",
                index.display()
            );
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .wrap_err_with(|| format!("cannot listen on {} for the web app", config.listen))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            dir: config.dir.clone(),
            config: client_config(&config),
            rpc_url: config.rpc_url.clone(),
            graphql_url: config.graphql_url.clone(),
            http: reqwest::Client::new(),
        });
        let router = Router::new()
            .route("/config.json", get(serve_config))
            .route("/abi/{file}", get(serve_abi))
            .route("/graphql", post(proxy_graphql))
            .route("/rpc", post(proxy_rpc))
            .fallback(get(serve_file))
            .with_state(shared);
        let token = stop.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).with_graceful_shutdown(token.cancelled_owned()).await
        });
        Ok(Self { addr, stop, task: Some(task), outcome: None })
    }

    /// The app's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Resolves when the server stops on its own (it failed) or is stopped. Cancel-safe.
    pub async fn stopped(&mut self) {
        if let Some(task) = self.task.as_mut() {
            let outcome = task.await;
            self.task = None;
            self.outcome = Some(outcome);
        }
    }

    /// Stops the server and waits for it.
    ///
    /// # Errors
    ///
    /// When the server failed while running.
    pub async fn shutdown(mut self) -> eyre::Result<()> {
        self.stop.cancel();
        self.stopped().await;
        match self.outcome.take() {
            Some(Ok(result)) => result.wrap_err("the web app server failed"),
            Some(Err(e)) => Err(e).wrap_err("the web app server panicked"),
            None => Ok(()),
        }
    }
}

/// The document `/config.json` serves: chain, endpoints, and every contract's address.
fn client_config(config: &AppConfig) -> Value {
    let d = &config.deployment;
    let contracts: serde_json::Map<String, Value> =
        d.contracts.iter().map(|(name, record)| (name.clone(), json!(record.address))).collect();
    json!({
        "network": d.network,
        "chainId": d.chain_id,
        "rpcUrl": config.rpc_url,
        "graphqlUrl": config.graphql_url,
        "deployer": d.deployer,
        "contracts": contracts,
        "devChain": nsed_deploy::is_dev_chain(d.chain_id),
    })
}

async fn serve_config(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.config.clone())
}

async fn serve_abi(UrlPath(file): UrlPath<String>) -> Response {
    let Some(name) = file.strip_suffix(".json") else {
        return (StatusCode::NOT_FOUND, "ABIs are at /abi/<Contract>.json").into_response();
    };
    let Some(artifact) = nsed_contracts::artifact(name) else {
        return (StatusCode::NOT_FOUND, format!("no contract named {name}")).into_response();
    };
    match artifact.abi() {
        Ok(abi) => Json(abi).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn proxy_graphql(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = refuse_foreign_or_not_json(&headers) {
        return refused;
    }
    forward(&shared.http, &shared.graphql_url, body).await
}

async fn proxy_rpc(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = refuse_foreign_or_not_json(&headers) {
        return refused;
    }
    if let Err(method) = rpc_methods_allowed(&body) {
        return (
            StatusCode::FORBIDDEN,
            format!("the app's /rpc does not pass `{method}` on: only the chain's eth_ reads and signed transactions"),
        )
            .into_response();
    }
    forward(&shared.http, &shared.rpc_url, body).await
}

/// The refusal of a request another site's page made (its `Origin` is not this server's `Host`) and a
/// body not sent as JSON. A browser sends a cross-site JSON POST only after a CORS preflight,
/// which this server never answers, so together these keep other pages from driving the
/// passages (the node's unlocked dev accounts, the indexer) through a visitor's browser.
fn refuse_foreign_or_not_json(headers: &HeaderMap) -> Option<Response> {
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(origin) = text(header::ORIGIN) {
        let host = text(header::HOST).unwrap_or_default();
        let same = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
        if same != Some(host) {
            return Some(
                (StatusCode::FORBIDDEN, format!("requests from {origin} are refused"))
                    .into_response(),
            );
        }
    }
    let json = text(header::CONTENT_TYPE)
        .is_some_and(|t| t.split(';').next().is_some_and(|m| m.trim() == "application/json"));
    if !json {
        return Some((StatusCode::UNSUPPORTED_MEDIA_TYPE, "send application/json").into_response());
    }
    None
}

/// JSON-RPC methods the app's `/rpc` never passes on although they start with `eth_`: they
/// would use the node's own (unlocked, on a dev chain) accounts.
const NODE_ACCOUNT_METHODS: &[&str] =
    &["eth_sendTransaction", "eth_sign", "eth_signTransaction", "eth_signTypedData"];

/// Checks every request in a JSON-RPC body (one or a batch): `eth_` methods other than
/// [`NODE_ACCOUNT_METHODS`], `net_version` and `web3_clientVersion` pass; node administration
/// (`anvil_`, `evm_`, `debug_`, `admin_`, ...) does not. Returns the first refused method.
fn rpc_methods_allowed(body: &[u8]) -> Result<(), String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "(a body that is not JSON)".to_owned())?;
    let requests = match &value {
        Value::Array(batch) => batch.iter().collect(),
        one => vec![one],
    };
    for request in requests {
        let method = request.get("method").and_then(Value::as_str).unwrap_or("(no method)");
        let allowed = (method.starts_with("eth_")
            && !NODE_ACCOUNT_METHODS.iter().any(|m| method.starts_with(m)))
            || matches!(method, "net_version" | "web3_clientVersion");
        if !allowed {
            return Err(method.to_owned());
        }
    }
    Ok(())
}

/// POSTs `body` as JSON to `url` and answers with what came back.
async fn forward(http: &reqwest::Client, url: &str, body: Bytes) -> Response {
    let sent = http
        .post(url)
        .header(header::CONTENT_TYPE.as_str(), "application/json")
        .body(body.to_vec())
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) => {
            warn!(target: "nsed::app", %url, error = %e, "upstream unreachable");
            return (StatusCode::BAD_GATEWAY, format!("{url} is unreachable: {e}")).into_response();
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    match answer.bytes().await {
        Ok(bytes) => {
            (status, [(header::CONTENT_TYPE, "application/json")], bytes.to_vec()).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{url} broke off: {e}")).into_response(),
    }
}

async fn serve_file(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let Some(path) = bundle_path(&shared.dir, uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [(header::CONTENT_TYPE, content_type(&path)), (header::CACHE_CONTROL, "no-cache")],
            bytes,
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

/// The file under `dir` that `url_path` names (`index.html` for `/`), or `None` when the path
/// would leave `dir`.
fn bundle_path(dir: &Path, url_path: &str) -> Option<PathBuf> {
    let relative = url_path.trim_start_matches('/');
    let relative = if relative.is_empty() { "index.html" } else { relative };
    let relative = Path::new(relative);
    relative.components().all(|c| matches!(c, Component::Normal(_))).then(|| dir.join(relative))
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("map") => "application/json",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_paths_stay_inside_the_bundle() {
        let dir = Path::new("/srv/app");
        assert_eq!(bundle_path(dir, "/"), Some(dir.join("index.html")));
        assert_eq!(bundle_path(dir, "/app.js"), Some(dir.join("app.js")));
        assert_eq!(bundle_path(dir, "/../secret"), None);
        assert_eq!(bundle_path(dir, "/a/../../b"), None);
        assert_eq!(bundle_path(dir, "//etc/passwd"), Some(dir.join("etc/passwd")));
    }

    #[tokio::test]
    async fn serves_config_abis_and_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html><title>t</title>").unwrap();
        let mut deployment = Deployment { chain_id: 31337, ..Deployment::default() };
        deployment.network = "local".into();
        let config = AppConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            dir: dir.path().to_path_buf(),
            deployment,
            rpc_url: "http://127.0.0.1:1".into(),
            graphql_url: "http://127.0.0.1:1/".into(),
        };
        let server = AppServer::start(config, CancellationToken::new()).await.unwrap();
        let http = reqwest::Client::new();
        let get = |path: &str| http.get(format!("{}{path}", server.url())).send();

        let json = |text: String| serde_json::from_str::<Value>(&text).unwrap();
        let config = json(get("config.json").await.unwrap().text().await.unwrap());
        assert_eq!(config["chainId"], 31337);
        assert_eq!(config["devChain"], true);

        let abi = json(get("abi/DeliberationMarket.json").await.unwrap().text().await.unwrap());
        let names: Vec<&str> =
            abi.as_array().unwrap().iter().filter_map(|item| item["name"].as_str()).collect();
        assert!(names.contains(&"requestJob"), "{names:?}");
        assert_eq!(get("abi/NoSuchContract.json").await.unwrap().status(), 404);

        let index = get("").await.unwrap();
        assert_eq!(index.headers()[header::CONTENT_TYPE.as_str()], "text/html; charset=utf-8");
        assert!(index.text().await.unwrap().contains("<title>t</title>"));
        assert_eq!(get("missing.js").await.unwrap().status(), 404);

        // Nothing listens on port 1: the proxy answers 502 rather than hanging or failing.
        let rpc_url = format!("{}rpc", server.url());
        let call =
            |method: &str| json!({ "jsonrpc": "2.0", "id": 1, "method": method }).to_string();
        let post = |body: String| {
            http.post(&rpc_url).header(header::CONTENT_TYPE.as_str(), "application/json").body(body)
        };
        assert_eq!(post(call("eth_blockNumber")).send().await.unwrap().status(), 502);
        // Node administration and the node's own accounts are not passed on, alone or in a batch.
        for method in ["evm_increaseTime", "anvil_setBalance", "eth_sendTransaction", "eth_sign"] {
            let refused = post(call(method)).send().await.unwrap();
            assert_eq!(refused.status(), 403, "{method}");
            assert!(refused.text().await.unwrap().contains(method));
        }
        let batch = format!("[{},{}]", call("eth_chainId"), call("anvil_mine"));
        assert_eq!(post(batch).send().await.unwrap().status(), 403);
        // Another site's page, or a form post (no preflight), cannot use the passages.
        let foreign =
            post(call("eth_blockNumber")).header(header::ORIGIN.as_str(), "http://evil.example");
        assert_eq!(foreign.send().await.unwrap().status(), 403);
        let form = http.post(&rpc_url).header(header::CONTENT_TYPE.as_str(), "text/plain");
        assert_eq!(form.body(call("eth_blockNumber")).send().await.unwrap().status(), 415);
        let same = post(call("eth_blockNumber"))
            .header(header::ORIGIN.as_str(), server.url().trim_end_matches('/'));
        assert_eq!(same.send().await.unwrap().status(), 502, "this server's own pages pass");
        server.shutdown().await.unwrap();
    }

    /// A signal may stop the server before `shutdown` is called: `stopped` sees the end, and
    /// `shutdown` after it neither waits forever nor panics.
    #[tokio::test]
    async fn shutdown_after_the_server_stopped_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        let config = AppConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            dir: dir.path().to_path_buf(),
            deployment: Deployment::default(),
            rpc_url: String::new(),
            graphql_url: String::new(),
        };
        let signal = CancellationToken::new();
        let mut server = AppServer::start(config, signal.child_token()).await.unwrap();
        signal.cancel();
        server.stopped().await;
        server.shutdown().await.unwrap();
    }
}
