#!/usr/bin/env bash
# Runs every check of the project — the README's test command and what CI runs:
# formatting, clippy, `forge build`, `forge fmt --check`, the solc shim's tests, and every Rust
# test (which includes the contract tests on revm, the gas snapshot check, and tests against real
# anvil, nats-server and ONNX Runtime), then the cast wallet tests and the web app's browser
# test. Does its own set-up first (scripts/setup.sh). Fails on the first failing step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup.sh"
# shellcheck source=/dev/null
source "$ROOT/.cache/env"

step() { printf '\n==> %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "forge build (foundry.toml, solc-js shim)"
forge build --quiet

step "forge fmt --check (foundry.toml [fmt])"
forge fmt --check

step "solc shim tests (node --test)"
node --test tools/

step "cargo test (contracts on revm, gas snapshot, devstack, protocol, worker)"
cargo test --workspace --locked

step "wallet test with cast (anvil, nats-server, nsed worker x3, nsed keeper)"
bash scripts/cast-e2e.sh

step "wallet test with cast, language-model agents (SmolLM2, Gemma 3 x2 on ONNX Runtime)"
bash scripts/cast-e2e.sh llm

step "arena game with cast (three wallets play a full game on anvil)"
bash scripts/cast-arena.sh

step "web app in Chromium (nsed up, a test wallet requests a digit and watches it settle)"
cargo build --locked -p nsed-cli --bin nsed
node app/tests/browser.mjs
