#!/usr/bin/env bash
# Wallet test of RankifyArena with Foundry's `cast`: on a fresh anvil, deploy RankToken,
# BountyToken and RankifyArena from `forge build` artifacts, grant the arena GAME_ROLE, and let
# three dev accounts play a full rank-1 game with `cast send` — create, join, start, commit,
# reveal, vote, advance, end — then check the winner's rank-2 token and withdraw a stake with
# `cast call` / `cast send`. The arena gets the suite's default fee floor (`minJoinFeeUnit`, 0.01
# token); the game pays exactly the rank-1 minimum read from the contract. Prints `cast-arena: 1 passed, 0 failed`; exits non-zero on any failure.
set -euo pipefail
[ -n "${CAST_ARENA_TRACE:-}" ] && set -x

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=/dev/null
source .cache/env

TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
say() { printf '[cast-arena] %s\n' "$*" >&2; }
fail() {
    say "FAILED: $*"
    tail -20 "$TMP/anvil.log" >&2 || true
    echo "cast-arena: 0 passed, 1 failed"
    exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

forge build --quiet > "$TMP/forge.log" 2>&1 || { cat "$TMP/forge.log" >&2; fail "forge build"; }

PORT=$(free_port)
RPC="http://127.0.0.1:$PORT"
anvil --host 127.0.0.1 --port "$PORT" --silent > "$TMP/anvil.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do cast chain-id --rpc-url "$RPC" >/dev/null 2>&1 && break; sleep 0.1; done
cast chain-id --rpc-url "$RPC" >/dev/null || fail "anvil did not start"

# anvil's dev keys: 0 = admin / token owner, 1..3 = players, 9 = treasury.
K0=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
KEYS=(
    0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
    0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a
    0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6
)
K9=0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6
A0=$(cast wallet address "$K0")
TREASURY=$(cast wallet address "$K9")
PLAYERS=()
for k in "${KEYS[@]}"; do PLAYERS+=("$(cast wallet address "$k")"); done

# Success is read from the receipt, not from cast's exit status: the npm wrapper of cast
# (node_modules/.bin/cast) exits 0 even when cast fails.
send() { # key, to, signature, args...
    local key=$1 to=$2; shift 2
    cast send --rpc-url "$RPC" --private-key "$key" --json "$to" "$@" > "$TMP/last.log" 2>&1 || true
    jq -e '.status == "0x1"' "$TMP/last.log" > /dev/null 2>&1 || {
        cat "$TMP/last.log" >&2
        fail "cast send $*"
    }
}
deploy() { # artifact, constructor signature, args...
    local name=$1; shift
    local code
    code=$(jq -r .bytecode.object "out/$name.sol/$name.json")
    cast send --rpc-url "$RPC" --private-key "$K0" --json --create "$code" "$@" > "$TMP/deploy-$name.json" 2>&1 || true
    jq -e -r 'select(.status == "0x1") | .contractAddress' "$TMP/deploy-$name.json" 2> /dev/null \
        || { cat "$TMP/deploy-$name.json" >&2; fail "deploy $name"; }
}
call() { cast call --rpc-url "$RPC" "$@"; }
# Token amounts exceed bash's 64-bit arithmetic: compute them with python3.
calc() { python3 -c "print($1)"; }
# cast prints big numbers as "N [1.2e47]": keep N.
num() { awk '{print $1}'; }
expect() { # what, actual, expected
    [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
    say "ok: $1 = $3"
}

RANKS=$(deploy RankToken "constructor(string,address)" "ipfs://ranks/{id}.json" "$A0")
TOKEN=$(deploy BountyToken "constructor(address)" "$A0")
LAT=$(deploy LiquidAccessToken "constructor(string,address)" "ipfs://lat/{id}.json" "$A0")
# The suite's default `arena_min_join_fee` (nsed-deploy's DEFAULT_ARENA_MIN_JOIN_FEE): 0.01 token.
MIN_JOIN_FEE_UNIT=$(calc '10**16')
ARENA=$(deploy RankifyArena "constructor(address,address,address,address,uint256)" "$RANKS" "$TOKEN" "$TREASURY" "$LAT" "$MIN_JOIN_FEE_UNIT")
say "ranks $RANKS token $TOKEN lat $LAT arena $ARENA"
send "$K0" "$RANKS" "grantRole(bytes32,address)" "$(cast keccak GAME_ROLE)" "$ARENA"
send "$K0" "$LAT" "grantRole(bytes32,address)" "$(cast keccak MINTER_ROLE)" "$ARENA"

expect "fee floor unit" "$(call "$ARENA" "minJoinFeeUnit()(uint256)" | num)" "$MIN_JOIN_FEE_UNIT"
# The smallest join fee per seat of a rank-1 game, as the arena computes it.
FEE=$(call "$ARENA" "minJoinFee(uint64)(uint256)" 1 | num)
expect "rank-1 minimum join fee" "$FEE" "$MIN_JOIN_FEE_UNIT"
expect "rank-2 minimum join fee" "$(call "$ARENA" "minJoinFee(uint64)(uint256)" 2 | num)" "$(calc "2 * $FEE")"
STAKE=$(calc '10**17')           # 0.1 token, returned at the close
FUNDS=$(calc '10**18')           # 1 token per player
for i in 0 1 2; do
    send "$K0" "$TOKEN" "mint(address,uint256)" "${PLAYERS[$i]}" "$FUNDS"
    send "${KEYS[$i]}" "$TOKEN" "approve(address,uint256)" "$ARENA" "$FUNDS"
done

# create: rank 1, exactly 3 players, 1 turn, no overtime, 100 credits, 1 h join window, 60 s phases.
PARAMS_SIG="(uint64,uint8,uint8,uint16,uint16,uint128,uint64,uint64,uint64,uint64,uint256,uint256,string)"
# One base unit below the floor is refused: the call reverts with ArenaJoinFeeTooLow.
call --from "${PLAYERS[0]}" "$ARENA" "createGame($PARAMS_SIG)" "(1,3,3,1,0,100,3600,60,60,60,$(calc "$FEE - 1"),$STAKE,ipfs://cast-game)" > "$TMP/low.log" 2>&1 || true
grep -q "$(cast sig "ArenaJoinFeeTooLow(uint64,uint256,uint256)")" "$TMP/low.log" \
    || { cat "$TMP/low.log" >&2; fail "a join fee below minJoinFee(1) was not refused with ArenaJoinFeeTooLow"; }
say "ok: a join fee below the floor is refused"
send "${KEYS[0]}" "$ARENA" "createGame($PARAMS_SIG)" "(1,3,3,1,0,100,3600,60,60,60,$FEE,$STAKE,ipfs://cast-game)"
GAME=$(call "$ARENA" "gameCount()(uint256)")
expect "game id" "$GAME" 1
for i in 0 1 2; do send "${KEYS[$i]}" "$ARENA" "join(uint256)" "$GAME"; done
send "${KEYS[0]}" "$ARENA" "start(uint256)" "$GAME"

phase() { call "$ARENA" "pendingMove(uint256,address)(bool,uint8,uint16,uint64)" "$GAME" "${PLAYERS[0]}" | sed -n 2p; }
expect "phase after start (Proposing)" "$(phase)" 2

# Hidden proposals: commit keccak256(abi.encode(gameId, turn, player, proposal, salt)).
PROPOSALS=("seat zero's idea" "seat one's idea" "seat two's idea")
salt() { cast keccak "salt-$1-$2"; }
for i in 0 1 2; do
    enc=$(cast abi-encode "f(uint256,uint16,address,string,bytes32)" "$GAME" 1 "${PLAYERS[$i]}" "${PROPOSALS[$i]}" "$(salt p "$i")")
    send "${KEYS[$i]}" "$ARENA" "commitProposal(uint256,uint16,bytes32)" "$GAME" 1 "$(cast keccak "$enc")"
done
# Everyone committed: anyone may advance early.
send "$K0" "$ARENA" "advance(uint256)" "$GAME"
expect "phase (ProposalReveal)" "$(phase)" 3
for i in 0 1 2; do
    send "${KEYS[$i]}" "$ARENA" "revealProposal(uint256,uint16,string,bytes32)" "$GAME" 1 "${PROPOSALS[$i]}" "$(salt p "$i")"
done
send "$K0" "$ARENA" "advance(uint256)" "$GAME"
expect "phase (Voting)" "$(phase)" 4

# Hidden ballots (quadratic, one vote per seat): seats 0 and 2 back seat 1, seat 1 backs seat 0.
BALLOTS=("[0,3,0]" "[2,0,0]" "[0,3,0]")
for i in 0 1 2; do
    enc=$(cast abi-encode "f(uint256,uint16,address,int256[],bytes32)" "$GAME" 1 "${PLAYERS[$i]}" "${BALLOTS[$i]}" "$(salt v "$i")")
    send "${KEYS[$i]}" "$ARENA" "commitVote(uint256,uint16,bytes32)" "$GAME" 1 "$(cast keccak "$enc")"
done
# Advance on the deadline this time: a minute passes.
cast rpc --rpc-url "$RPC" evm_increaseTime 61 > /dev/null
cast rpc --rpc-url "$RPC" evm_mine > /dev/null
send "$K0" "$ARENA" "advance(uint256)" "$GAME"
expect "phase (VoteReveal)" "$(phase)" 5
for i in 0 1 2; do
    send "${KEYS[$i]}" "$ARENA" "revealVote(uint256,uint16,int256[],bytes32)" "$GAME" 1 "${BALLOTS[$i]}" "$(salt v "$i")"
done
send "$K0" "$ARENA" "advance(uint256)" "$GAME"
expect "phase (Ended)" "$(phase)" 6

SCORES=$(call "$ARENA" "scores(uint256)(int256[])" "$GAME")
expect "scores" "$SCORES" "[2, 6, 0]"
expect "winner's rank-2 balance" "$(call "$RANKS" "balanceOf(address,uint256)(uint256)" "${PLAYERS[1]}" 2)" 1
expect "a loser's rank-2 balance" "$(call "$RANKS" "balanceOf(address,uint256)(uint256)" "${PLAYERS[0]}" 2)" 0
# The rank-1 winner earned a tier-1 access token of the arena's asset (id = asset << 8 | tier).
ASSET=$(call "$ARENA" "latAsset()(uint248)" | num)
LAT_ID=$(call "$LAT" "tokenId(uint248,uint8)(uint256)" "$ASSET" 1 | num)
expect "winner's tier-1 access tokens" "$(call "$LAT" "balanceOf(address,uint256)(uint256)" "${PLAYERS[1]}" "$LAT_ID")" 1
# ... tradable, then burned for access: the event names the asset, tier and account.
send "${KEYS[1]}" "$LAT" "safeTransferFrom(address,address,uint256,uint256,bytes)" "${PLAYERS[1]}" "${PLAYERS[2]}" "$LAT_ID" 1 0x
send "${KEYS[2]}" "$LAT" "access(uint248,uint8,uint8)" "$ASSET" 1 1
expect "access token burned" "$(call "$LAT" "balanceOf(address,uint256)(uint256)" "${PLAYERS[2]}" "$LAT_ID")" 0

# Payouts are pulled: each player withdraws the stake, the treasury the fees.
expect "stake owed" "$(call "$ARENA" "withdrawable(address)(uint256)" "${PLAYERS[1]}" | num)" "$STAKE"
send "${KEYS[1]}" "$ARENA" "withdraw()"
expect "winner's token balance" "$(call "$TOKEN" "balanceOf(address)(uint256)" "${PLAYERS[1]}" | num)" "$(calc "$FUNDS - $FEE")"
send "$K9" "$ARENA" "withdraw()"
expect "treasury fees" "$(call "$TOKEN" "balanceOf(address)(uint256)" "$TREASURY" | num)" "$(calc "3 * $FEE")"

echo "cast-arena: 1 passed, 0 failed"
