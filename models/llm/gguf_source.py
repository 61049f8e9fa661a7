"""Reads a GGUF file (llama.cpp format) into the converter's config, weights and tokenizer.

Supported architectures (`general.architecture`):
  - `llama` (SmolLM2 and other Llama-style models): llama.cpp's converter permutes the rows of
    attn_q / attn_k so that its "normal" (interleaved-pair) RoPE applies; we undo that
    permutation and use the Hugging Face rotate-half RoPE in the graph.
  - `gemma3`: norm weights in GGUF already hold (1 + w) (llama.cpp adds 1 when converting), so
    the graph multiplies by them directly; RoPE is NeoX-style (rotate-half), no permutation.
Hyper-parameters come from the GGUF metadata; where Gemma 3 GGUFs omit one, we use the value
llama.cpp itself hard-codes for the architecture (noted below).
"""

import hashlib
import html
import re
from pathlib import Path

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

import tokenizer as toks

# llama.cpp defaults for Gemma 3 (src/llama-model.cpp) when the GGUF does not say otherwise
GEMMA3_SLIDING_WINDOW_PATTERN = 6      # every 6th layer is global
GEMMA3_ROPE_LOCAL_BASE = 10000.0       # rope_freq_base_train_swa


def field(reader, key, default=None):
    f = reader.fields.get(key)
    if f is None:
        return default
    return f.contents()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def unpermute_rope(w, n_heads):
    """Inverse of llama.cpp's `permute` for Q/K rows: [(h, 2, hd/2)] <- [(h, hd/2, 2)]."""
    out, inp = w.shape
    hd = out // n_heads
    return w.reshape(n_heads, hd // 2, 2, inp).swapaxes(1, 2).reshape(out, inp)


# GGUF tensor types with 6 or more bits per weight. The int4 variant does not bring these down to
# 4 bits (Q4_K_M itself keeps attn_v, half of ffn_down and the embedding at 6-8 bits because
# they are the sensitive ones): a projection stays fp16 on disk (a Cast that ONNX Runtime folds
# into an fp32 weight at load), the embedding / output table gets 8 bits.
HIGH_PRECISION_TYPES = {"F32", "F16", "BF16", "Q8_0", "Q8_1", "Q8_K", "Q6_K"}
TABLES = ("token_embd.weight", "output.weight")


def weight_bits(reader):
    """name -> 4, 8 or 16 for every matrix, for graph.build_decoder's int4 variant."""
    out = {}
    for t in reader.tensors:
        if len(t.shape) != 2:
            continue
        high = t.tensor_type.name in HIGH_PRECISION_TYPES
        out[t.name] = (8 if t.name in TABLES else 16) if high else 4
    return out


def load_weights(reader, arch, n_heads, n_kv):
    weights = {}
    for t in reader.tensors:
        arr = dequantize(t.data, t.tensor_type)
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        shape = tuple(int(x) for x in reversed(t.shape))   # GGUF lists ne0 (input dim) first
        arr = arr.reshape(shape)
        if arch == "llama" and t.name.endswith("attn_q.weight"):
            arr = unpermute_rope(arr, n_heads)
        elif arch == "llama" and t.name.endswith("attn_k.weight"):
            arr = unpermute_rope(arr, n_kv)
        weights[t.name] = arr
    return weights


def model_config(reader):
    arch = field(reader, "general.architecture")
    if arch not in ("llama", "gemma3"):
        raise SystemExit(f"unsupported GGUF architecture {arch!r} (llama and gemma3 are)")
    a = lambda key, default=None: field(reader, f"{arch}.{key}", default)
    n_layers = int(a("block_count"))
    hidden = int(a("embedding_length"))
    n_heads = int(a("attention.head_count"))
    n_kv = int(a("attention.head_count_kv", n_heads))
    head_dim = int(a("attention.key_length", hidden // n_heads))
    tokens = field(reader, "tokenizer.ggml.tokens")
    cfg = {
        "family": arch,
        "num_hidden_layers": n_layers,
        "hidden_size": hidden,
        "intermediate_size": int(a("feed_forward_length")),
        "num_attention_heads": n_heads,
        "num_key_value_heads": n_kv,
        "head_dim": head_dim,
        "rope_dim": int(a("rope.dimension_count", head_dim)),
        "vocab_size": int(a("vocab_size", len(tokens))),
        "max_position_embeddings": int(a("context_length")),
        "rms_norm_eps": float(a("attention.layer_norm_rms_epsilon")),
        "rope_theta": float(a("rope.freq_base", 10000.0)),
        "bos_token_id": int(field(reader, "tokenizer.ggml.bos_token_id")),
        "tie_word_embeddings": not any(t.name == "output.weight" for t in reader.tensors),
    }
    if a("rope.scaling.type") not in (None, "none"):
        raise SystemExit(f"rope scaling {a('rope.scaling.type')} is not supported")
    if a("attn_logit_softcapping") or a("final_logit_softcapping"):
        cap = a("final_logit_softcapping")
        if a("attn_logit_softcapping"):
            raise SystemExit("attention logit soft-capping is not supported")
        cfg["final_logit_softcapping"] = float(cap)
    if arch == "llama":
        cfg.update({
            "architecture": "LlamaForCausalLM", "model_type": "llama", "hidden_act": "silu",
            "layer_types": ["global"] * n_layers, "embedding_scale": 1.0, "qk_norm": False,
            "sandwich_norms": False, "attention_scale": head_dim ** -0.5,
        })
    else:
        pattern = int(a("attention.sliding_window_pattern", GEMMA3_SLIDING_WINDOW_PATTERN))
        scalar = float(a("attention.query_pre_attn_scalar", head_dim))
        cfg.update({
            "architecture": "Gemma3ForCausalLM", "model_type": "gemma3_text",
            "hidden_act": "gelu_pytorch_tanh",
            "layer_types": ["global" if (i + 1) % pattern == 0 else "local" for i in range(n_layers)],
            "sliding_window": int(a("attention.sliding_window")),
            "rope_local_base_freq": float(a("rope.freq_base_swa", GEMMA3_ROPE_LOCAL_BASE)),
            "embedding_scale": float(np.float32(hidden) ** np.float32(0.5)),
            "qk_norm": True, "sandwich_norms": True,
            "query_pre_attn_scalar": scalar, "attention_scale": scalar ** -0.5,
        })
    return cfg


END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<end_of_turn>", "<eos>", "</s>")


def build_tokenizer(reader, cfg):
    model = field(reader, "tokenizer.ggml.model")
    tokens = field(reader, "tokenizer.ggml.tokens")
    types = field(reader, "tokenizer.ggml.token_type") or [toks.NORMAL] * len(tokens)
    if model == "gpt2":
        tok = toks.byte_level_bpe(tokens, field(reader, "tokenizer.ggml.merges"), types)
    elif model == "llama":
        unk = field(reader, "tokenizer.ggml.unknown_token_id")
        if field(reader, "tokenizer.ggml.add_space_prefix", False):
            raise SystemExit("SentencePiece add_space_prefix is not supported")
        tok = toks.spm_bpe(tokens, field(reader, "tokenizer.ggml.scores"), types,
                           tokens[unk] if unk is not None else None)
    else:
        raise SystemExit(f"unsupported tokenizer model {model!r}")
    eos = int(field(reader, "tokenizer.ggml.eos_token_id"))
    eos_ids = [eos] + [tokens.index(m) for m in END_MARKERS
                       if m in tokens and tokens.index(m) != eos and types[tokens.index(m)] == toks.CONTROL]
    cfg["eos_token_id"] = eos_ids
    pad = field(reader, "tokenizer.ggml.padding_token_id")
    if pad is not None:
        cfg["pad_token_id"] = int(pad)
    tok_config = {
        "add_bos_token": bool(field(reader, "tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(field(reader, "tokenizer.ggml.add_eos_token", False)),
        "bos_token": tokens[cfg["bos_token_id"]],
        "eos_token": tokens[eos],
        "pad_token": tokens[int(pad)] if pad is not None else None,
        "unk_token": tokens[int(field(reader, "tokenizer.ggml.unknown_token_id"))]
        if field(reader, "tokenizer.ggml.unknown_token_id") is not None else None,
        "model_max_length": cfg["max_position_embeddings"],
        "clean_up_tokenization_spaces": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    template = field(reader, "tokenizer.chat_template")
    if template:
        tok_config["chat_template"] = template
    return toks.to_json(tok), tok_config


def license_text(path):
    """The weights' terms: a text file as is; an HTML page reduced to its text."""
    if path is None:
        return None
    raw = Path(path).read_text(encoding="utf-8", errors="replace")
    if Path(path).suffix.lower() in (".html", ".htm"):
        article = re.search(r"(?is)<article\b.*?</article>", raw)  # the page's text, no site chrome
        body = article.group(0) if article else raw
        body = re.sub(r"(?is)<(script|style|head|nav|devsite-[a-z-]+)\b.*?</\1>", " ", body)
        body = re.sub(r"(?i)<br\s*/?>|</(p|div|h[1-6]|li|tr|section|article)>", "\n", body)
        body = re.sub(r"(?i)</?(a|strong|b|em|i|code|span|sup|sub)\b[^>]*>", "", body)  # inline
        body = html.unescape(re.sub(r"<[^>]+>", " ", body))
        lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in body.splitlines()]
        out, blank = [], False
        for ln in lines:
            if ln:
                out.append(ln)
                blank = False
            elif not blank and out:
                out.append("")
                blank = True
        raw = "\n".join(out).strip() + "\n"
    return raw


def convert(gguf_path, variant, out, license_path, save_model_dir, say):
    reader = GGUFReader(gguf_path)
    cfg = model_config(reader)
    cfg["weight_bits"] = weight_bits(reader)
    say(f"{Path(gguf_path).name}: {cfg['family']}, {cfg['num_hidden_layers']} layers, hidden "
        f"{cfg['hidden_size']}, heads {cfg['num_attention_heads']}/{cfg['num_key_value_heads']}, "
        f"vocab {cfg['vocab_size']} -> {variant}")
    tok_json, tok_config = build_tokenizer(reader, cfg)
    say("tokenizer built")
    weights = load_weights(reader, cfg["family"], cfg["num_attention_heads"], cfg["num_key_value_heads"])
    del reader
    say(f"weights dequantized ({sum(w.size for w in weights.values()) / 1e6:.1f}M parameters)")
    save_model_dir(out, cfg, weights, variant, tok_json, tok_config, license_text(license_path))
