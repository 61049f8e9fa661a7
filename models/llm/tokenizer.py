"""Builds Hugging Face `tokenizers` files (tokenizer.json) from a GGUF-style vocabulary.

Two kinds:
  - byte-level BPE (GPT-2 style, `tokenizer.ggml.model == "gpt2"`): tokens + merges, the
    SmolLM2 pre-tokenizer (digits split one by one, then the GPT-2 byte-level regex);
  - SentencePiece-style BPE with byte fallback (`tokenizer.ggml.model == "llama"`, Gemma):
    tokens + scores; merges are derived from the scores (a pair (a, b) merges with the priority
    of the token a+b, higher score first), spaces are replaced by U+2581, no pre-tokenizer.

Control tokens (GGUF token type 3) become special added tokens, user-defined ones (type 4)
plain added tokens, so that both match whole in the input text.
"""

import json

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers

# GGUF token types (llama.cpp): 1 normal, 2 unknown, 3 control, 4 user defined, 5 unused, 6 byte
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6


def bytes_to_unicode():
    """GPT-2's reversible map from bytes to printable unicode characters."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for byte in range(256):
        if byte not in bs:
            bs.append(byte)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def _added(tokens, types):
    out = []
    for i, (tok, ty) in enumerate(zip(tokens, types)):
        if ty == CONTROL:
            out.append((i, AddedToken(tok, special=True, normalized=False)))
        elif ty == USER_DEFINED:
            out.append((i, AddedToken(tok, special=False, normalized="\u2581" in tok)))
    return out


def _finish(tok, added):
    specials = [a for _, a in added if a.special]
    plain = [a for _, a in added if not a.special]
    if specials:
        tok.add_special_tokens(specials)
    if plain:
        tok.add_tokens(plain)
    return tok


def byte_level_bpe(tokens, merges, types):
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    return _finish(tok, _added(tokens, types))


def spm_bpe(tokens, scores, types, unk_token):
    """SentencePiece BPE model rebuilt for `tokenizers`; merges ranked by the merged token's score."""
    vocab = {t: i for i, t in enumerate(tokens)}
    mergeable = [ty in (NORMAL, USER_DEFINED) for ty in types]
    ranked = []
    for i, piece in enumerate(tokens):
        if types[i] != NORMAL or len(piece) < 2:
            continue
        for cut in range(1, len(piece)):
            left, right = piece[:cut], piece[cut:]
            li, ri = vocab.get(left), vocab.get(right)
            if li is not None and ri is not None and mergeable[li] and mergeable[ri]:
                ranked.append((-scores[i], i, li, ri))
    ranked.sort()
    pairs = [(tokens[li], tokens[ri]) for _, _, li, ri in ranked]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=pairs, unk_token=unk_token, fuse_unk=True,
                               byte_fallback=True))
    tok.normalizer = normalizers.Replace(" ", "\u2581")
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                     decoders.Fuse()])
    return _finish(tok, _added(tokens, types))


def to_json(tok):
    """Serialized tokenizer.json, with stable key order (byte-identical across runs)."""
    return json.dumps(json.loads(tok.to_str()), ensure_ascii=False, indent=1) + "\n"
