#!/usr/bin/env bash
# Wallet test with Foundry's `cast` (docs/operations.md): a requester asks for a deliberation
# with `cast send`, waits, and reads the settled answer with `cast call` / `cast logs`, against a
# real anvil, nats-server, three `nsed worker` processes and `nsed keeper`. NATS runs with
# authentication as docs/operations.md sets it up: `nsed nats init` writes the users and the
# server's configuration, each agent gets its own user (the last one added to the running server,
# which then reloads), the operator creates the streams, and every service connects with its own
# seed. Exits non-zero on any failure. Needs scripts/setup.sh to have run (scripts/test.sh runs
# both).
#
#   scripts/cast-e2e.sh          three digit classifiers answer a held-out digit (`tensor-f32`)
#   scripts/cast-e2e.sh llm      three language-model agents (two model families) answer a
#                                multiple-choice question (`text-choice`)
set -euo pipefail
PANEL="${1:-digits}"
case "$PANEL" in digits|llm) ;; *) echo "usage: $0 [digits|llm]" >&2; exit 2 ;; esac
[ -n "${CAST_E2E_TRACE:-}" ] && set -x

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Every service gets its NATS server and credentials from its flags below, never from the caller.
unset NATS_URL NSED_NATS_CREDS NSED_NATS_DIR
# shellcheck source=/dev/null
source .cache/env
cargo build --quiet --locked -p nsed-cli --bin nsed
NSED="$ROOT/target/debug/nsed"

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
say() { printf '[cast-e2e %s] %s\n' "$PANEL" "$*" >&2; }
fail() { say "FAILED: $*"; for f in "$TMP"/*.log; do say "--- $f"; tail -20 "$f" >&2 || true; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

RPC_PORT=$(free_port); NATS_PORT=$(free_port)
RPC="http://127.0.0.1:$RPC_PORT"; NATS="nats://127.0.0.1:$NATS_PORT"
anvil --host 127.0.0.1 --port "$RPC_PORT" --silent > "$TMP/anvil.log" 2>&1 &
PIDS+=($!)
js() { node -e "console.log(require(process.argv[1])[process.argv[2]])" "$1" "$2"; }

# NATS users: the operator and the keeper, then one agent per worker. Each worker's key is made
# first (`cast wallet new`), so its agent's address, and with it its NATS user, is known before
# the worker connects.
"$NSED" -q --json nats init --dir "$TMP/nats" --listen "127.0.0.1:$NATS_PORT" --store-dir "$TMP/js" \
    > "$TMP/nats-init.json" 2> "$TMP/nats-init.log" || fail "nsed nats init"
NATS_CONF=$(js "$TMP/nats-init.json" config); OPERATOR_CREDS=$(js "$TMP/nats-init.json" operator)
KEEPER_CREDS=$(js "$TMP/nats-init.json" keeper)
if [ "$PANEL" = digits ]; then
    WORKERS=(knn_pool4x4 mlp_pca8_left_half logreg_top_half)
else
    WORKERS=(smollm2-few-shot gemma3-plain gemma3-few-shot)
fi
mkdir -p "$TMP/keys"
declare -A ADDRESS CREDS WORKER_PID
add_agent() { # worker name: makes its key and adds its agent's NATS user
    local name=$1
    cast wallet new --json > "$TMP/keys/$name.json" || fail "cast wallet new"
    read -r ADDRESS["$name"] KEY < <(node -e "const [w]=require(process.argv[1]); console.log(w.address, w.private_key)" "$TMP/keys/$name.json")
    (umask 077; printf '%s\n' "$KEY" > "$TMP/keys/$name.key")
    "$NSED" -q --json nats add-agent --dir "$TMP/nats" "${ADDRESS[$name]}" > "$TMP/nats-$name.json" \
        2> "$TMP/nats-$name.log" || fail "nsed nats add-agent $name"
    CREDS["$name"]=$(js "$TMP/nats-$name.json" creds)
}
for name in "${WORKERS[@]:0:2}"; do add_agent "$name"; done
NATS_BIN=$(command -v nats-server || echo /usr/sbin/nats-server)
"$NATS_BIN" -c "$NATS_CONF" > "$TMP/nats.log" 2>&1 &
NATS_PID=$!
PIDS+=("$NATS_PID")
for _ in $(seq 100); do grep -q "Server is ready" "$TMP/nats.log" && break; sleep 0.1; done
grep -q "Server is ready" "$TMP/nats.log" || fail "nats-server did not start"
# The last agent joins the running server: add its user, then reload the configuration.
add_agent "${WORKERS[2]}"
"$NATS_BIN" --signal "reload=$NATS_PID" || fail "nats-server --signal reload"
for _ in $(seq 100); do grep -q "Reloaded server configuration" "$TMP/nats.log" && break; sleep 0.1; done
grep -q "Reloaded server configuration" "$TMP/nats.log" || fail "nats-server did not reload"
# Only the operator may create the streams; nobody gets in without credentials.
"$NSED" -q nats streams --nats-url "$NATS" --nats.creds "$OPERATOR_CREDS" > "$TMP/streams.txt" \
    2> "$TMP/streams.log" || fail "nsed nats streams"
grep -q "^NSED_TASKS .* created" "$TMP/streams.txt" || fail "NSED_TASKS not created: $(cat "$TMP/streams.txt")"
if "$NSED" -q nats streams --nats-url "$NATS" > /dev/null 2> "$TMP/anonymous.log"; then
    fail "a client without credentials got in"
fi
grep -q "requires credentials" "$TMP/anonymous.log" || fail "no credentials: $(cat "$TMP/anonymous.log")"
say "nats-server with NKey auth: operator, keeper and ${#WORKERS[@]} agents"
for _ in $(seq 100); do cast chain-id --rpc-url "$RPC" >/dev/null 2>&1 && break; sleep 0.1; done
cast chain-id --rpc-url "$RPC" >/dev/null || fail "anvil did not start"

# anvil's well-known dev keys: deployer/guild, keeper, requester.
K0=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
K1=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
K2=0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
A1=$(cast wallet address "$K1"); A2=$(cast wallet address "$K2")

# `--json` prints one document on stdout: the record's path and every contract's address.
"$NSED" -q --json deploy --rpc-url "$RPC" --private-key "$K0" --deployments-dir "$TMP/deployments" \
    --suite.keeper "$A1" > "$TMP/deploy.json" 2> "$TMP/deploy.log" || fail "nsed deploy"
json() { node -e "console.log(require('$TMP/deploy.json').contracts['$1'].address)"; }
MARKET=$(json DeliberationMarket); TOKEN=$(json BountyToken)
[ -f "$(node -e "console.log(require('$TMP/deploy.json').record)")" ] || fail "nsed deploy wrote no record"
say "market $MARKET token $TOKEN"

# Agents register in the AgentRegistry with their own consent: the agent key signs the EIP-712
# `Registration(agent, owner, modelId, metadataURI)` with `cast wallet sign --data`, and the owner
# (K0 here) pays the registry's minimum bond in bounty tokens.
REGISTRY=$(json AgentRegistry); CHAIN_ID=$(cast chain-id --rpc-url "$RPC"); A0=$(cast wallet address "$K0")
MIN_BOND=$(cast call --rpc-url "$RPC" "$REGISTRY" "minBond()(uint256)" | awk '{print $1}')
typed() { # primary type, domain name, verifying contract, then the message as JSON: EIP-712 JSON
    node -e '
const [primary, name, contract, chainId, message] = process.argv.slice(1);
const fields = {
  Registration: [["agent","address"],["owner","address"],["modelId","bytes32"],["metadataURI","string"]],
  Proposal: [["jobId","uint256"],["round","uint32"],["inputHash","bytes32"],["previousRoundDigest","bytes32"],["contentHash","bytes32"]],
};
console.log(JSON.stringify({
  types: {
    EIP712Domain: [["name","string"],["version","string"],["chainId","uint256"],["verifyingContract","address"]].map(([name,type])=>({name,type})),
    [primary]: fields[primary].map(([name,type])=>({name,type})),
  },
  primaryType: primary,
  domain: { name, version: "1", chainId: Number(chainId), verifyingContract: contract },
  message: JSON.parse(message),
}));' "$1" "$2" "$3" "$CHAIN_ID" "$4"
}
register() { # agent address, sha256 (hex), name
    local agent=$1 model="0x$2" uri="nsed://model/$3" consent
    typed Registration "NSED AgentRegistry" "$REGISTRY" \
        "{\"agent\":\"$agent\",\"owner\":\"$A0\",\"modelId\":\"$model\",\"metadataURI\":\"$uri\"}" \
        > "$TMP/consent-$3.json"
    consent=$(cast wallet sign --private-key "$(cat "$TMP/keys/$3.key")" --data --from-file "$TMP/consent-$3.json") \
        || fail "agent $3 cannot sign its consent"
    cast send --rpc-url "$RPC" --private-key "$K0" "$TOKEN" "mint(address,uint256)" "$A0" "$MIN_BOND" > /dev/null || fail "mint bond"
    cast send --rpc-url "$RPC" --private-key "$K0" "$TOKEN" "approve(address,uint256)" "$REGISTRY" "$MIN_BOND" > /dev/null || fail "approve bond"
    cast send --rpc-url "$RPC" --private-key "$K0" "$REGISTRY" "register(address,bytes32,string,uint256,bytes)" \
        "$agent" "$model" "$uri" "$MIN_BOND" "$consent" > /dev/null || fail "register $3"
    [ "$(cast call --rpc-url "$RPC" "$REGISTRY" "isEligible(address)(bool)" "$agent")" = true ] || fail "agent $3 not eligible"
    say "agent $agent ($3) registered with its consent and a bond of $MIN_BOND"
}
start_worker() { # name, then the worker's model flags
    local name=$1; shift
    # `--json` prints the agent line as one JSON document: address, model and its sha256.
    # The worker answers only tasks signed by the keeper A1, checked against the chain, and
    # connects to NATS as its own agent.
    "$NSED" -q --json worker "$@" --nats-url "$NATS" --nats.creds "${CREDS[$name]}" \
        --key-file "$TMP/keys/$name.key" --keeper "$A1" --rpc-url "$RPC" \
        --worker.heartbeat-ms 200 > "$TMP/worker-$name.json" 2> "$TMP/worker-$name.log" &
    PIDS+=($!); WORKER_PID["$name"]=$!
    for _ in $(seq 600); do [ -s "$TMP/worker-$name.json" ] && break; sleep 0.1; done
    read -r AGENT SHA < <(node -e "const a=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8')); console.log(a.agent, a.sha256)" "$TMP/worker-$name.json") \
        || fail "worker $name did not start"
    [ "${AGENT,,}" = "${ADDRESS[$name],,}" ] || fail "worker $name is agent $AGENT, not ${ADDRESS[$name]}"
    register "$AGENT" "$SHA" "$name"
}
if [ "$PANEL" = digits ]; then
    for model in knn_pool4x4 mlp_pca8_left_half logreg_top_half; do
        start_worker "$model" --model "$model" --models-dir models
    done
else
    start_worker smollm2-few-shot --llm smollm2-135m-int4 --llm.prompt-style few-shot --llm.normalization per-token --llm.threads 1
    start_worker gemma3-plain --llm gemma3-270m-int4 --llm.prompt-style plain --llm.threads 1
    start_worker gemma3-few-shot --llm gemma3-270m-int4 --llm.prompt-style few-shot --llm.threads 1
fi

# The deployment's bootstrap granted the keeper its role through the guild timelock.
[ "$(cast call --rpc-url "$RPC" "$MARKET" "hasRole(bytes32,address)(bool)" "$(cast keccak KEEPER_ROLE)" "$A1")" = true ] \
    || fail "keeper role not granted by the deployment"
"$NSED" keeper --rpc-url "$RPC" --private-key "$K1" --nats-url "$NATS" --nats.creds "$KEEPER_CREDS" \
    --deployment "$TMP/deployments/local.json" --keeper.db "$TMP/keeper.sqlite" --keeper.poll-ms 200 \
    --keeper.phase-timeout-ms 120000 > "$TMP/keeper.log" 2>&1 &
PIDS+=($!)

# The requester: get tokens, approve the market, request a job for held-out row 0.
BOUNTY=1000000000000000000
cast send --rpc-url "$RPC" --private-key "$K0" "$TOKEN" "mint(address,uint256)" "$A2" "$BOUNTY" > /dev/null || fail "mint"
cast send --rpc-url "$RPC" --private-key "$K2" "$TOKEN" "approve(address,uint256)" "$MARKET" "$BOUNTY" > /dev/null || fail "approve"
if [ "$PANEL" = digits ]; then
    KIND=tensor-f32
    read -r INPUT_HEX TRUTH < <(python3 - <<'PY'
import json
with open("models/test_split.csv") as f:
    next(f)
    row = next(f).strip().split(",")
values = [float(v) for v in row[:64]]
print(json.dumps({"shape": [64], "values": values}).encode().hex(), row[64])
PY
)
else
    # A question every agent of the panel gets right on its own: the settled answer is checkable.
    KIND=text-choice
    INPUT_HEX=$(printf '%s' '{"question":"What is the capital of France?","choices":["Berlin","Paris","Madrid","Rome"]}' | od -An -tx1 -v | tr -d ' \n')
    TRUTH=B
fi
DEADLINE=$(( $(cast block latest --rpc-url "$RPC" --field timestamp) + 3600 ))
cast send --rpc-url "$RPC" --private-key "$K2" "$MARKET" \
    "requestJob((string,bytes,uint8,uint8,uint64,uint64),uint256)" \
    "($KIND,0x$INPUT_HEX,3,3,100,$DEADLINE)" "$BOUNTY" > /dev/null || fail "requestJob"
JOB=$(cast call --rpc-url "$RPC" "$MARKET" "jobCount()(uint256)")
say "requested job $JOB (truth $TRUTH); waiting for settlement"

STATUS=0
for _ in $(seq 3000); do
    STATUS=$(cast call --rpc-url "$RPC" "$MARKET" "jobStatus(uint256)(uint8)" "$JOB")
    [ "$STATUS" = 3 ] && break
    sleep 0.1
done
[ "$STATUS" = 3 ] || fail "job $JOB not settled (status $STATUS)"

LOG=$(cast logs --rpc-url "$RPC" --from-block 0 --address "$MARKET" \
    "JobSettled(uint256 indexed jobId, address indexed winner, string content, int256 score, uint32 rounds)" --json) \
    || fail "cast logs"
DATA=$(node -e "const l=JSON.parse(process.argv[1]); if(l.length!==1){process.exit(1)}; console.log(l[0].data)" "$LOG") \
    || fail "expected exactly one JobSettled log"
DECODED=$(cast abi-decode --input "f(string,int256,uint32)" "$DATA" | tr '\n' ' ') || fail "cast abi-decode"
read -r ANSWER SCORE ROUNDS <<< "$DECODED"
ANSWER=${ANSWER//\"/}
if [ "$PANEL" = digits ]; then
    [[ "$ANSWER" =~ ^[0-9]$ ]] || fail "settled answer '$ANSWER' is not a digit"
else
    [[ "$ANSWER" =~ ^[A-D]$ ]] || fail "settled answer '$ANSWER' is not an option label"
fi
say "settled: answer $ANSWER (truth $TRUTH), score $SCORE, rounds $ROUNDS"
# A worker whose NATS user the server refused would have stopped at start.
for name in "${WORKERS[@]}"; do
    kill -0 "${WORKER_PID[$name]}" 2>/dev/null || fail "worker $name stopped: $(cat "$TMP/worker-$name.log")"
done
[ "$ANSWER" = "$TRUTH" ] || fail "answer $ANSWER differs from the truth $TRUTH"

# Equivocation: an agent that signs two different proposals for one round of a job loses its
# bond. The requester reports it with both signatures (made here with `cast wallet sign`); the
# registry pays the reporter its share, and a second report is refused.
NAME=${WORKERS[0]}; AGENT=${ADDRESS[$NAME]}
INPUT_HASH=$(cast keccak "0x$INPUT_HEX"); ZERO=0x$(printf '0%.0s' $(seq 64))
sign_proposal() { # content → signature of the agent's proposal for round 1 of the job
    typed Proposal "NSED DeliberationMarket" "$MARKET" \
        "{\"jobId\":$JOB,\"round\":1,\"inputHash\":\"$INPUT_HASH\",\"previousRoundDigest\":\"$ZERO\",\"contentHash\":\"$(cast keccak "$1")\"}" \
        > "$TMP/proposal-$1.json"
    cast wallet sign --private-key "$(cat "$TMP/keys/$NAME.key")" --data --from-file "$TMP/proposal-$1.json"
}
SIG_A=$(sign_proposal first) && SIG_B=$(sign_proposal second) || fail "cannot sign the conflicting proposals"
balance() { cast call --rpc-url "$RPC" "$TOKEN" "balanceOf(address)(uint256)" "$A2" | awk '{print $1}'; }
BEFORE=$(balance)
REPORT=(reportEquivocatingProposals\(uint256,uint32,address,\(bytes32,bytes32,bytes32\),bytes,\(bytes32,bytes32,bytes32\),bytes\)
    "$JOB" 1 "$AGENT" "($INPUT_HASH,$ZERO,$(cast keccak first))" "$SIG_A" "($INPUT_HASH,$ZERO,$(cast keccak second))" "$SIG_B")
cast send --rpc-url "$RPC" --private-key "$K2" "$MARKET" "${REPORT[@]}" > /dev/null || fail "equivocation report"
[ "$(cast call --rpc-url "$RPC" "$REGISTRY" "isEligible(address)(bool)" "$AGENT")" = false ] || fail "a slashed agent is still eligible"
SHARE=$(node -e "console.log((BigInt(process.argv[1]) - BigInt(process.argv[2])).toString())" "$(balance)" "$BEFORE")
EXPECTED=$(node -e "console.log((BigInt(process.argv[1]) * BigInt(process.argv[2]) / 10000n).toString())" \
    "$MIN_BOND" "$(cast call --rpc-url "$RPC" "$REGISTRY" "reporterBps()(uint16)")")
[ "$SHARE" = "$EXPECTED" ] || fail "reporter got $SHARE, expected $EXPECTED"
cast send --rpc-url "$RPC" --private-key "$K2" "$MARKET" "${REPORT[@]}" > "$TMP/second-report.log" 2>&1 || true
grep -q "AgentRegistryAlreadySlashed" "$TMP/second-report.log" || fail "a second report was not refused as a double slash"
say "equivocation by $AGENT slashed its bond once (reporter's share $SHARE)"
echo "cast-e2e $PANEL: 1 passed, 0 failed"
