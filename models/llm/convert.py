#!/usr/bin/env python3
"""Converts GGUF language-model weights into an ONNX decoder directory (docs/language-models.md).

Usage:
    convert.py gguf --gguf PATH --variant fp32|int4 --out DIR [--license FILE] [--name NAME]
    convert.py tiny --out DIR [--variant fp32|int4]

`gguf`: reads hyper-parameters, tensors (dequantized with the `gguf` package) and vocabulary
from a GGUF file of a Llama-style (`general.architecture == "llama"`) or Gemma 3 model and
writes model.onnx (+ model.onnx.data), config.json, tokenizer.json, tokenizer_config.json,
generation_config.json and LICENSE (copied from --license) into DIR.

`tiny`: the same graph code on random weights (fixed seed) with a tiny Llama-style config and a
tiny byte-level BPE tokenizer, for tests. Deterministic: the same bytes on every run.

No torch: numpy, gguf, onnx and tokenizers only. See models/llm/README.md.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import graph  # noqa: E402
import tokenizer as toks  # noqa: E402

EXTERNAL_DATA_THRESHOLD = 4 * 1024 * 1024  # bytes of weights above which model.onnx.data is used


def say(msg):
    print(f"[convert] {msg}", file=sys.stderr, flush=True)


def peak_rss_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ---------------------------------------------------------------------------------------------
# writing a model directory
# ---------------------------------------------------------------------------------------------

def write_json(path, obj):
    Path(path).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def hf_config(cfg, variant):
    """config.json (Hugging Face style) for the runtime: the keys docs/language-models.md lists."""
    out = {
        "architectures": [cfg["architecture"]],
        "model_type": cfg["model_type"],
        "num_hidden_layers": cfg["num_hidden_layers"],
        "hidden_size": cfg["hidden_size"],
        "intermediate_size": cfg["intermediate_size"],
        "num_attention_heads": cfg["num_attention_heads"],
        "num_key_value_heads": cfg["num_key_value_heads"],
        "head_dim": cfg["head_dim"],
        "vocab_size": cfg["vocab_size"],
        "max_position_embeddings": cfg["max_position_embeddings"],
        "rms_norm_eps": cfg["rms_norm_eps"],
        "rope_theta": cfg["rope_theta"],
        "hidden_act": cfg["hidden_act"],
        "tie_word_embeddings": cfg["tie_word_embeddings"],
        "bos_token_id": cfg["bos_token_id"],
        "eos_token_id": cfg["eos_token_id"],
        "pad_token_id": cfg.get("pad_token_id"),
        "torch_dtype": "float32",
    }
    if cfg["family"] == "gemma3":
        out.update({
            "query_pre_attn_scalar": cfg["query_pre_attn_scalar"],
            "sliding_window": cfg["sliding_window"],
            "rope_local_base_freq": cfg["rope_local_base_freq"],
            "layer_types": ["sliding_attention" if t == "local" else "full_attention"
                            for t in cfg["layer_types"]],
        })
    if variant == "int4":
        bits = cfg.get("weight_bits") or {}
        out["quantization_config"] = {
            "quant_method": "onnxruntime-matmulnbits", "bits": 4, "block_size": graph.BLOCK,
            "symmetric": False, "zero_points": "uint8", "embedding": "GatherBlockQuantized",
            "weights_8bit": sorted(k for k, v in bits.items() if v == 8),
            "weights_fp16": sorted(k for k, v in bits.items() if v == 16),
        }
    return {k: v for k, v in out.items() if v is not None}


def save_model_dir(out, cfg, weights, variant, tok_json, tok_config, license_text):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    model = graph.build_decoder(cfg, weights, variant, cfg.get("weight_bits"))
    say(f"graph built in {time.time() - t0:.1f}s ({len(model.graph.node)} nodes)")
    weight_bytes = sum(len(t.raw_data) for t in model.graph.initializer)
    onnx_path = out / "model.onnx"
    data_path = out / "model.onnx.data"
    for stale in (onnx_path, data_path):
        if stale.exists():
            stale.unlink()
    if weight_bytes > EXTERNAL_DATA_THRESHOLD:
        onnx.save_model(model, str(onnx_path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=data_path.name, size_threshold=1024)
    else:
        onnx.save_model(model, str(onnx_path))
    del model
    for p in (onnx_path, data_path):
        if p.exists():
            os.chmod(p, 0o644)  # onnx writes external data as 0600
    write_json(out / "config.json", hf_config(cfg, variant))
    (out / "tokenizer.json").write_text(tok_json, encoding="utf-8")
    write_json(out / "tokenizer_config.json", tok_config)
    eos = cfg["eos_token_id"]
    write_json(out / "generation_config.json", {
        "bos_token_id": cfg["bos_token_id"],
        "eos_token_id": eos,
        "do_sample": False,
    })
    if license_text is not None:
        (out / "LICENSE").write_text(license_text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# tiny random model (tests)
# ---------------------------------------------------------------------------------------------

TINY_MERGES = [
    "Ġ t", "h e", "Ġt he", "Ġ a", "i n", "e r", "o n", "Ġ s", "r e", "a t", "e n", "Ġ o",
    "Ġ c", "o u", "i s", "Ġ w", "Ġ b", "Ġ f", "a n", "Ġ p", "o r", "Ġt o", "e s", "Ġ m",
    "Ġ i", "i t", "Ġa n", "Ġan d", "Ġo f", "Ġ h", "l l", "Ġ d", "Ġi s", "e d", "Ġ P", "ĠP a", "ĠPa r", "ĠPar i", "ĠPari s",
]
TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content']"
    " + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def tiny(out, variant):
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    b2u = toks.bytes_to_unicode()
    tokens = specials + [b2u[i] for i in range(256)]
    types = [toks.CONTROL] * len(specials) + [toks.NORMAL] * 256
    merges = []
    have = set(tokens)
    for m in TINY_MERGES:
        left, right = m.split(" ")
        merges.append(m)
        if left + right not in have:
            tokens.append(left + right)
            types.append(toks.NORMAL)
            have.add(left + right)
    vocab = len(tokens)
    cfg = {
        "family": "llama", "architecture": "LlamaForCausalLM", "model_type": "llama",
        "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 32,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "rope_dim": 8,
        "vocab_size": vocab, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "hidden_act": "silu", "tie_word_embeddings": True,
        "bos_token_id": 0, "eos_token_id": [2, 0], "pad_token_id": 0,
        "layer_types": ["global"] * 2, "embedding_scale": 1.0, "qk_norm": False,
        "sandwich_norms": False, "attention_scale": 8 ** -0.5,
    }
    rng = np.random.default_rng(20260101)
    h, f, nh, nkv, hd = 32, 32, 4, 2, 8

    def lin(o, i):
        return (rng.standard_normal((o, i)) * (2.0 / np.sqrt(i))).astype(np.float32)

    def norm(n):
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    weights = {"token_embd.weight": rng.standard_normal((vocab, h)).astype(np.float32)}
    for i in range(2):
        p = f"blk.{i}."
        weights.update({
            p + "attn_norm.weight": norm(h),
            p + "attn_q.weight": lin(nh * hd, h),
            p + "attn_k.weight": lin(nkv * hd, h),
            p + "attn_v.weight": lin(nkv * hd, h),
            p + "attn_output.weight": lin(h, nh * hd),
            p + "ffn_norm.weight": norm(h),
            p + "ffn_gate.weight": lin(f, h),
            p + "ffn_up.weight": lin(f, h),
            p + "ffn_down.weight": lin(h, f),
        })
    weights["output_norm.weight"] = norm(h)
    tok = toks.byte_level_bpe(tokens, merges, types)
    tok_config = {
        "add_bos_token": False, "add_eos_token": False,
        "bos_token": "<|endoftext|>", "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
        "unk_token": None, "chat_template": TINY_CHAT_TEMPLATE, "model_max_length": 2048,
        "clean_up_tokenization_spaces": False, "tokenizer_class": "PreTrainedTokenizerFast",
    }
    license_text = ("Tiny random-weight test model generated by models/llm/convert.py tiny "
                    "(seed 20260101). No third-party weights; part of the NSED on chain repository "
                    "and under its license.\n")
    save_model_dir(out, cfg, weights, variant, toks.to_json(tok), tok_config, license_text)


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gguf", help="convert a GGUF file")
    g.add_argument("--gguf", required=True)
    g.add_argument("--variant", choices=["fp32", "int4"], required=True)
    g.add_argument("--out", required=True)
    g.add_argument("--license", help="file copied to DIR/LICENSE (the weights' terms)")
    t = sub.add_parser("tiny", help="tiny random-weight model for tests")
    t.add_argument("--out", required=True)
    t.add_argument("--variant", choices=["fp32", "int4"], default="fp32")
    args = ap.parse_args(argv)
    t0 = time.time()
    if args.cmd == "tiny":
        tiny(args.out, args.variant)
    else:
        import gguf_source
        gguf_source.convert(args.gguf, args.variant, args.out, args.license, save_model_dir, say)
    say(f"done in {time.time() - t0:.1f}s, peak RSS {peak_rss_mb():.0f} MB -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
