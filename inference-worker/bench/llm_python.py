#!/usr/bin/env python3
"""Reference runner for the language-model benchmark: Python onnxruntime on a model directory.

Usage:
    llm_python.py --versions   print {"python", "onnxruntime", "numpy"} as JSON
    llm_python.py < SPEC.json  run the benchmark SPEC describes and print JSON results

SPEC (stdin): {"model_dir": DIR, "prompts": [[token ids...], ...], "new_tokens": 64,
"threads": 2}. For each prompt, one at a time (batch 1), greedy decoding with the KV cache,
fed as docs/language-models.md describes: a prefill call with the whole prompt (past = 0,
attention_mask all ones, position_ids 0..n-1), then one call per new token (input_ids [[t]],
attention_mask ones of length past + 1, position_ids [[past]], the previous present.* as
past_key_values.*). Exactly new_tokens tokens are generated (end-of-sequence tokens are not
special here, so both runtimes do the same work). Timed with time.perf_counter_ns(), the
garbage collector off, session creation excluded.

Output (stdout): {"tokens_per_s", "ms_per_prompt": [...], "peak_rss_mb", "generated": [[ids]],
"versions": {...}}. tokens_per_s counts generated tokens over the total time (prefill included).
Exit status: 0 on success, 3 when onnxruntime or numpy cannot be imported, 2 on a bad spec.
"""

import gc
import json
import platform
import resource
import sys
import time
from pathlib import Path


def import_runtime():
    try:
        import numpy
        import onnxruntime
    except ImportError as exc:
        print(f"import failed: {exc}", file=sys.stderr)
        sys.exit(3)
    return numpy, onnxruntime


def versions(numpy, onnxruntime):
    return {"python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
            "numpy": numpy.__version__}


def bench(spec, np, ort):
    model_dir = Path(spec["model_dir"])
    cfg = json.loads((model_dir / "config.json").read_text())
    layers = cfg["num_hidden_layers"]
    kv_heads = cfg.get("num_key_value_heads") or cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(spec.get("threads", 2))
    session = ort.InferenceSession(str(model_dir / "model.onnx"), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    input_names = {i.name for i in session.get_inputs()}
    output_names = [o.name for o in session.get_outputs()]
    new_tokens = int(spec["new_tokens"])
    prompts = spec["prompts"]
    if not prompts or any(not p for p in prompts):
        print("prompts must be non-empty lists of token ids", file=sys.stderr)
        sys.exit(2)

    def step(ids, total, past):
        n = ids.shape[1]
        feed = {"input_ids": ids, "attention_mask": np.ones((1, total), np.int64)}
        if "position_ids" in input_names:
            feed["position_ids"] = np.arange(total - n, total, dtype=np.int64)[None]
        for i in range(layers):
            feed[f"past_key_values.{i}.key"] = past[2 * i]
            feed[f"past_key_values.{i}.value"] = past[2 * i + 1]
        out = session.run(output_names, feed)
        return out[0], out[1:]

    empty = np.zeros((1, kv_heads, 0, head_dim), np.float32)
    clock = time.perf_counter_ns
    generated, ms = [], []
    gc.disable()
    try:
        for prompt in prompts:
            start = clock()
            ids = np.asarray([prompt], dtype=np.int64)
            logits, past = step(ids, len(prompt), [empty] * (2 * layers))
            out = []
            total = len(prompt)
            for _ in range(new_tokens):
                nxt = int(np.argmax(logits[0, -1]))
                out.append(nxt)
                if len(out) == new_tokens:
                    break
                total += 1
                logits, past = step(np.asarray([[nxt]], dtype=np.int64), total, past)
            ms.append((clock() - start) / 1e6)
            generated.append(out)
    finally:
        gc.enable()
    total_s = sum(ms) / 1e3
    return {
        "tokens_per_s": sum(len(g) for g in generated) / total_s if total_s > 0 else None,
        "ms_per_prompt": ms,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "generated": generated,
        "threads": options.intra_op_num_threads,
        "versions": versions(np, ort),
    }


def main(argv):
    numpy, onnxruntime = import_runtime()
    if len(argv) == 2 and argv[1] == "--versions":
        print(json.dumps(versions(numpy, onnxruntime)))
        return 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        spec = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"bad spec on stdin: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(bench(spec, numpy, onnxruntime)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
