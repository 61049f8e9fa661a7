"""Builds the ONNX decoder graph (Llama / Gemma 3 families) from numpy weights.

The graph takes `input_ids`, `attention_mask`, `position_ids` and, per layer,
`past_key_values.i.key` / `.value`, and returns `logits` and `present.i.key` / `.value`
(see docs/language-models.md). Only standard ONNX ops (opset 17) are used, plus the
com.microsoft contrib ops `MatMulNBits` and `GatherBlockQuantized` in the int4 variant.

Weights use GGUF names (`token_embd.weight`, `blk.N.attn_q.weight`, ...) with numpy layout
`[out_features, in_features]` for every projection.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # ONNX Runtime 1.16+ loads it; keeps the file readable by older tools too
BLOCK = 32      # int4 block size along the input dimension


# ---------------------------------------------------------------------------------------------
# block quantization (asymmetric, uint8 zero points), the layout MatMulNBits expects
# ---------------------------------------------------------------------------------------------

SEARCH_FACTORS = np.linspace(0.6, 1.0, 9, dtype=np.float32)  # range shrink factors tried (4-bit)


def _pack_zero_points(zp, bits):
    n, nb = zp.shape
    if bits == 8:
        return zp
    if nb % 2:
        zp = np.concatenate([zp, np.zeros((n, 1), np.uint8)], axis=1)
    return (zp[:, 0::2] | (zp[:, 1::2] << 4)).astype(np.uint8)


def _quantize_rows(blocks, bits):
    """blocks [n, nb, 32] -> (q uint8 [n, nb, 32], scale f32 [n, nb], zp uint8 [n, nb])."""
    qmax = (1 << bits) - 1
    lo0 = np.minimum(blocks.min(axis=2), 0.0)
    hi0 = np.maximum(blocks.max(axis=2), 0.0)
    factors = SEARCH_FACTORS if bits == 4 else np.ones(1, np.float32)
    best_err = np.full(lo0.shape, np.inf, np.float32)
    best_scale = np.ones(lo0.shape, np.float32)
    best_zp = np.zeros(lo0.shape, np.float32)
    for f in factors:
        scale = (hi0 - lo0) * f / qmax
        scale = np.where(scale == 0.0, 1.0, scale).astype(np.float32)
        zp = np.clip(np.rint(-lo0 * f / scale), 0, qmax)
        q = np.clip(np.rint(blocks / scale[..., None]) + zp[..., None], 0, qmax) - zp[..., None]
        if bits == 4:  # least-squares scale for these integer levels
            num, den = (blocks * q).sum(axis=2), (q * q).sum(axis=2)
            fitted = num / np.maximum(den, 1e-30)
            scale = np.where((den > 0) & (fitted > 0), fitted, scale).astype(np.float32)
        err = ((q * scale[..., None] - blocks) ** 2).sum(axis=2)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best_scale = np.where(better, scale, best_scale)
        best_zp = np.where(better, zp, best_zp)
    q = np.clip(np.rint(blocks / best_scale[..., None]) + best_zp[..., None], 0, qmax).astype(np.uint8)
    return q, best_scale.astype(np.float32), best_zp.astype(np.uint8)


def quantize_blocks(w, bits=4):
    """w: float [N, K] (K % 32 == 0), bits 4 or 8. Returns (packed [N, K/32, 32*bits/8] uint8,
    scales [N, K/32] f32, zero_points uint8: [N, ceil(K/64)] for 4 bits (two per byte, low nibble
    first), [N, K/32] for 8 bits) with w ~= (q - zp) * scale per block of 32 along K.

    Each block's range includes 0, so the integer zero point fits. 4 bits: the range is shrunk by
    each of SEARCH_FACTORS and the scale refitted by least squares; the choice with the smallest
    squared error wins. 8 bits: plain min/max. Nibbles are packed low first: byte j of a block
    holds element 2j (low) and 2j+1 (high).
    """
    w = np.asarray(w, dtype=np.float32)
    n, k = w.shape
    if k % BLOCK:
        raise ValueError(f"block quantization: input dimension {k} is not a multiple of {BLOCK}")
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, not {bits}")
    nb = k // BLOCK
    qs, scales, zps = [], [], []
    for r0 in range(0, n, 8192):  # bounded temporaries for the large embedding tables
        q, sc, zp = _quantize_rows(w[r0:r0 + 8192].reshape(-1, nb, BLOCK), bits)
        qs.append(q if bits == 8 else (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8))
        scales.append(sc)
        zps.append(zp)
    return np.concatenate(qs), np.concatenate(scales), _pack_zero_points(np.concatenate(zps), bits)


def dequantize_blocks(packed, scale, zp_packed, bits=4):
    n, nb, _ = packed.shape
    if bits == 8:
        q, zp = packed.astype(np.float32), zp_packed.astype(np.float32)
    else:
        q = np.empty((n, nb, BLOCK), np.float32)
        q[:, :, 0::2] = packed & 0x0F
        q[:, :, 1::2] = packed >> 4
        zp = np.empty((n, zp_packed.shape[1] * 2), np.float32)
        zp[:, 0::2] = zp_packed & 0x0F
        zp[:, 1::2] = zp_packed >> 4
        zp = zp[:, :nb]
    return ((q - zp[:, :, None]) * scale[:, :, None]).reshape(n, nb * BLOCK)


# ---------------------------------------------------------------------------------------------
# graph builder
# ---------------------------------------------------------------------------------------------

class Builder:
    def __init__(self):
        self.nodes = []
        self.inits = []
        self.counter = 0
        self.consts = {}

    def name(self, hint):
        self.counter += 1
        return f"{hint}_{self.counter}"

    def op(self, op_type, inputs, hint=None, domain="", outputs=1, **attrs):
        hint = hint or op_type.lower()
        outs = [self.name(hint) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name("n_" + hint),
                                           domain=domain, **attrs))
        return outs[0] if outputs == 1 else outs

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.require(array, requirements="C"), name))
        return name

    def const(self, value, dtype=np.int64):
        """A small shared constant (1-D int64 by default)."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self.consts:
            self.consts[key] = self.init(f"const_{len(self.consts)}", arr)
        return self.consts[key]


def build_decoder(cfg, weights, variant, weight_bits=None):
    """cfg: dict (see convert.py `model_config`); weights: dict name -> float32 numpy array;
    variant: "fp32" or "int4". In int4, every projection is a MatMulNBits with 4 bits, except
    where weight_bits (name -> 4, 8 or 16) says otherwise: 8 is a MatMulNBits with 8 bits (with
    accuracy_level 4, int8 compute, which ONNX Runtime's CPU kernels need to be fast at 8 bits;
    meant for the embedding / lm_head table), 16 an fp16 initializer Cast to fp32 (folded into
    an fp32 weight when the session loads). The embedding is a GatherBlockQuantized over the same
    quantized table as a tied lm_head (one copy on disk).
    Returns an onnx.ModelProto."""
    weight_bits = weight_bits or {}
    if variant not in ("fp32", "int4"):
        raise ValueError(f"unknown variant {variant}")
    b = Builder()
    nl, h = cfg["num_hidden_layers"], cfg["hidden_size"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    rep = nh // nkv
    vocab = cfg["vocab_size"]
    eps = cfg["rms_norm_eps"]
    gemma = cfg["family"] == "gemma3"
    int4 = variant == "int4"
    shared = {}  # initializer names of quantized tables, by weight name (a tied table is shared)

    def quantized(wname, w):
        if wname not in shared:
            bits = weight_bits.get(wname, 4)
            packed, scale, zp = quantize_blocks(w, bits)
            base = wname.replace(".weight", "")
            shared[wname] = (b.init(base + ".qweight", packed), b.init(base + ".scales", scale),
                             b.init(base + ".qzeros", zp), bits)
        return shared[wname]

    f32 = TensorProto.FLOAT
    i64 = TensorProto.INT64
    inputs = [
        helper.make_tensor_value_info("input_ids", i64, ["batch_size", "sequence_length"]),
        helper.make_tensor_value_info("attention_mask", i64, ["batch_size", "total_sequence_length"]),
        helper.make_tensor_value_info("position_ids", i64, ["batch_size", "sequence_length"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", f32, ["batch_size", "sequence_length", vocab])]
    for i in range(nl):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(
                f"past_key_values.{i}.{kind}", f32, ["batch_size", nkv, "past_sequence_length", hd]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kind}", f32, ["batch_size", nkv, "total_sequence_length", hd]))

    # --- linear layers ------------------------------------------------------------------------
    def linear(x, wname, out_features, in_features):
        w = weights[wname]
        assert w.shape == (out_features, in_features), (wname, w.shape)
        base = wname.replace(".weight", "")
        if int4 and weight_bits.get(wname) == 16:  # fp16 on disk, folded to fp32 at load
            wt = b.init(base + ".weight_t_fp16", w.T.astype(np.float16))
            return b.op("MatMul", [x, b.op("Cast", [wt], hint=base + "_f32", to=TensorProto.FLOAT)],
                        hint=base)
        if int4:
            bq, sc, z, bits = quantized(wname, w)
            extra = {"accuracy_level": 4} if bits == 8 else {}
            return b.op("MatMulNBits", [x, bq, sc, z], hint=base, domain="com.microsoft",
                        K=in_features, N=out_features, bits=bits, block_size=BLOCK, **extra)
        wt = b.init(base + ".weight_t", w.T)
        return b.op("MatMul", [x, wt], hint=base)

    def rms_norm(x, wname):
        w = b.init(wname, weights[wname].astype(np.float32))
        sq = b.op("Mul", [x, x], hint="sq")
        mean = b.op("ReduceMean", [sq], hint="ms", axes=[-1], keepdims=1)
        var = b.op("Add", [mean, b.const(eps, np.float32)], hint="mseps")
        inv = b.op("Reciprocal", [b.op("Sqrt", [var], hint="rms")], hint="invrms")
        return b.op("Mul", [b.op("Mul", [x, inv], hint="normed"), w], hint="scaled")

    # --- embeddings ---------------------------------------------------------------------------
    emb = weights["token_embd.weight"]
    assert emb.shape == (vocab, h), emb.shape
    if int4:
        # MatMulNBits wants the table as [N, K/32, bytes per block]; GatherBlockQuantized as
        # [N, K*bits/8]: the same bytes, reshaped (no second copy for a tied lm_head)
        eq, escale, ezp, ebits = quantized("token_embd.weight", emb)
        edata = b.op("Reshape", [eq, b.const([vocab, h * ebits // 8])], hint="embed_table")
        hidden = b.op("GatherBlockQuantized", [edata, "input_ids", escale, ezp], hint="embed",
                      domain="com.microsoft", gather_axis=0, quantize_axis=1, block_size=BLOCK,
                      bits=ebits)
    else:
        etab = b.init("token_embd.weight", emb)
        hidden = b.op("Gather", [etab, "input_ids"], hint="embed", axis=0)
    if cfg["embedding_scale"] != 1.0:
        hidden = b.op("Mul", [hidden, b.const(cfg["embedding_scale"], np.float32)], hint="embed_scaled")

    # --- shapes, positions, masks (shared by all layers) --------------------------------------
    ids_shape = b.op("Shape", ["input_ids"], hint="ids_shape")
    batch = b.op("Gather", [ids_shape, b.const(0)], hint="batch", axis=0)      # scalar
    seq = b.op("Gather", [ids_shape, b.const(1)], hint="seq", axis=0)          # scalar
    total = b.op("Gather", [b.op("Shape", ["attention_mask"], hint="mask_shape"), b.const(1)],
                 hint="total", axis=0)                                           # scalar
    past = b.op("Sub", [total, seq], hint="past")
    q_idx = b.op("Range", [past, total, b.const(np.int64(1))], hint="q_idx")   # [S]
    k_idx = b.op("Range", [b.const(np.int64(0)), total, b.const(np.int64(1))], hint="k_idx")  # [T]
    q_col = b.op("Unsqueeze", [q_idx, b.const([1])], hint="q_col")              # [S,1]
    k_row = b.op("Unsqueeze", [k_idx, b.const([0])], hint="k_row")              # [1,T]
    causal = b.op("LessOrEqual", [k_row, q_col], hint="causal")                 # [S,T]
    key_ok = b.op("Cast", [b.op("Unsqueeze", ["attention_mask", b.const([1, 2, 3])], hint="am5")],
                  hint="key_ok", to=TensorProto.BOOL)                           # [B,1,1,1,T]
    neg = b.const(np.finfo(np.float32).min, np.float32)
    fzero = b.const(0.0, np.float32)

    def additive(allowed):
        ok = b.op("And", [allowed, key_ok], hint="allowed")                    # [B,1,1,S,T]
        return b.op("Where", [ok, fzero, neg], hint="mask_add")

    mask_global = additive(causal)
    mask_local = None
    if any(t == "local" for t in cfg["layer_types"]):
        dist = b.op("Sub", [q_col, k_row], hint="dist")                          # [S,T]
        inwin = b.op("Less", [dist, b.const(np.int64(cfg["sliding_window"]))], hint="inwin")
        mask_local = additive(b.op("And", [causal, inwin], hint="causal_win"))

    pos_f = b.op("Cast", [b.op("Unsqueeze", ["position_ids", b.const([2])], hint="pos3")],
                 hint="pos_f", to=TensorProto.FLOAT)                             # [B,S,1]

    def rope_tables(theta):
        rot = cfg["rope_dim"]
        assert rot == hd, "partial rotary embeddings are not supported"
        inv = (1.0 / (theta ** (np.arange(0, rot, 2, dtype=np.float64) / rot))).astype(np.float32)
        freqs = b.op("Mul", [pos_f, b.const(inv, np.float32)], hint="freqs")   # [B,S,hd/2]
        emb2 = b.op("Concat", [freqs, freqs], hint="freqs2", axis=-1)           # [B,S,hd]
        emb4 = b.op("Unsqueeze", [emb2, b.const([1])], hint="freqs4")          # [B,1,S,hd]
        return b.op("Cos", [emb4], hint="cos"), b.op("Sin", [emb4], hint="sin")

    rope = {"global": rope_tables(cfg["rope_theta"])}
    if mask_local is not None:
        rope["local"] = rope_tables(cfg["rope_local_base_freq"])

    half = b.const([hd // 2, hd // 2])

    def apply_rope(x, cos, sin):
        x1, x2 = b.op("Split", [x, half], hint="rsplit", axis=-1, outputs=2)
        rot = b.op("Concat", [b.op("Neg", [x2], hint="neg"), x1], hint="rot", axis=-1)
        return b.op("Add", [b.op("Mul", [x, cos], hint="xc"), b.op("Mul", [rot, sin], hint="rs")],
                    hint="roped")

    shape_bshd = lambda heads: b.op("Concat", [b.op("Unsqueeze", [batch, b.const([0])]),
                                               b.op("Unsqueeze", [seq, b.const([0])]),
                                               b.const([heads, hd])], hint="shp", axis=0)
    bs_nh_hd = shape_bshd(nh)
    bs_kv_hd = shape_bshd(nkv) if nkv != nh else bs_nh_hd
    bs_h = b.op("Concat", [b.op("Unsqueeze", [batch, b.const([0])]),
                           b.op("Unsqueeze", [seq, b.const([0])]),
                           b.const([nh * hd])], hint="shp_bsh", axis=0)
    q5_shape = b.op("Concat", [b.op("Unsqueeze", [batch, b.const([0])]), b.const([nkv, rep]),
                               b.op("Unsqueeze", [seq, b.const([0])]), b.const([hd])],
                    hint="shp_q5", axis=0)
    bnsd_shape = b.op("Concat", [b.op("Unsqueeze", [batch, b.const([0])]), b.const([nh]),
                                 b.op("Unsqueeze", [seq, b.const([0])]), b.const([hd])],
                      hint="shp_bnsd", axis=0)
    q_scale = b.const(cfg["attention_scale"], np.float32)

    def heads(x, shape):  # [B,S,n*hd] -> [B,n,S,hd]
        return b.op("Transpose", [b.op("Reshape", [x, shape], hint="split_heads")], hint="bnsd",
                    perm=[0, 2, 1, 3])

    # --- layers -------------------------------------------------------------------------------
    for i in range(nl):
        p = f"blk.{i}."
        kind = cfg["layer_types"][i]
        cos, sin = rope[kind]
        mask = mask_local if kind == "local" else mask_global

        x = rms_norm(hidden, p + "attn_norm.weight")
        q = heads(linear(x, p + "attn_q.weight", nh * hd, h), bs_nh_hd)
        k = heads(linear(x, p + "attn_k.weight", nkv * hd, h), bs_kv_hd)
        v = heads(linear(x, p + "attn_v.weight", nkv * hd, h), bs_kv_hd)
        if cfg["qk_norm"]:
            q = rms_norm(q, p + "attn_q_norm.weight")
            k = rms_norm(k, p + "attn_k_norm.weight")
        q = apply_rope(q, cos, sin)
        k = apply_rope(k, cos, sin)
        k_all = b.op("Concat", [f"past_key_values.{i}.key", k], hint="kcat", axis=2)
        v_all = b.op("Concat", [f"past_key_values.{i}.value", v], hint="vcat", axis=2)
        b.nodes.append(helper.make_node("Identity", [k_all], [f"present.{i}.key"], name=f"present_{i}_key"))
        b.nodes.append(helper.make_node("Identity", [v_all], [f"present.{i}.value"], name=f"present_{i}_value"))

        # grouped-query attention without copying K/V: q [B,kv,rep,S,hd] x k [B,kv,1,hd,T]
        q5 = b.op("Reshape", [b.op("Mul", [q, q_scale], hint="qs"), q5_shape], hint="q5")
        kT = b.op("Unsqueeze", [b.op("Transpose", [k_all], hint="kT", perm=[0, 1, 3, 2]), b.const([2])],
                  hint="kT5")
        v5 = b.op("Unsqueeze", [v_all, b.const([2])], hint="v5")
        scores = b.op("Add", [b.op("MatMul", [q5, kT], hint="qk"), mask], hint="scores")
        probs = b.op("Softmax", [scores], hint="probs", axis=-1)
        ctx = b.op("Reshape", [b.op("MatMul", [probs, v5], hint="ctx5"), bnsd_shape], hint="ctx")
        ctx = b.op("Reshape", [b.op("Transpose", [ctx], hint="bsnd", perm=[0, 2, 1, 3]), bs_h], hint="ctx_bsh")
        attn = linear(ctx, p + "attn_output.weight", h, nh * hd)
        if cfg["sandwich_norms"]:
            attn = rms_norm(attn, p + "post_attention_norm.weight")
        hidden = b.op("Add", [hidden, attn], hint="resid_attn")

        x = rms_norm(hidden, p + "ffn_norm.weight")
        ffn = cfg["intermediate_size"]
        gate = linear(x, p + "ffn_gate.weight", ffn, h)
        up = linear(x, p + "ffn_up.weight", ffn, h)
        if cfg["hidden_act"] == "silu":
            act = b.op("Mul", [gate, b.op("Sigmoid", [gate], hint="sig")], hint="silu")
        elif cfg["hidden_act"] == "gelu_pytorch_tanh":
            c = np.sqrt(2.0 / np.pi)
            cube = b.op("Mul", [b.op("Mul", [gate, gate], hint="g2"), gate], hint="g3")
            inner = b.op("Add", [gate, b.op("Mul", [cube, b.const(0.044715, np.float32)], hint="g3c")], hint="gin")
            t = b.op("Tanh", [b.op("Mul", [inner, b.const(c, np.float32)], hint="gtin")], hint="gt")
            act = b.op("Mul", [b.op("Mul", [gate, b.const(0.5, np.float32)], hint="ghalf"),
                               b.op("Add", [t, b.const(1.0, np.float32)], hint="g1t")], hint="gelu")
        else:
            raise ValueError(f"unsupported activation {cfg['hidden_act']}")
        mlp = linear(b.op("Mul", [act, up], hint="gated"), p + "ffn_down.weight", h, ffn)
        if cfg["sandwich_norms"]:
            mlp = rms_norm(mlp, p + "post_ffw_norm.weight")
        hidden = b.op("Add", [hidden, mlp], hint="resid_mlp")

    x = rms_norm(hidden, "output_norm.weight")
    head = "output.weight" if "output.weight" in weights else None
    if head is None and not int4:
        # tied weights kept in fp32: share the embedding table through Gemm(transB=1)
        x2 = b.op("Reshape", [x, b.const([-1, h])], hint="x2d")
        l2 = b.op("Gemm", [x2, "token_embd.weight"], hint="lm_head", transB=1)
        out_shape = b.op("Concat", [b.op("Unsqueeze", [batch, b.const([0])]),
                                    b.op("Unsqueeze", [seq, b.const([0])]), b.const([vocab])],
                         hint="shp_logits", axis=0)
        logits = b.op("Reshape", [l2, out_shape], hint="logits3")
    else:
        head = head or "token_embd.weight"  # tied, int4: MatMulNBits over the same table
        logits = linear(x, head, vocab, h)
    if cfg.get("final_logit_softcapping"):
        cap = b.const(cfg["final_logit_softcapping"], np.float32)
        logits = b.op("Mul", [b.op("Tanh", [b.op("Div", [logits, cap])]), cap], hint="softcap")
    b.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="logits_out"))

    graph = helper.make_graph(b.nodes, cfg.get("model_type", "decoder"), inputs, outputs, b.inits)
    opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="nsed-gguf2onnx",
                              producer_version="1")
    model.ir_version = IR_VERSION
    return model
