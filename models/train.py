#!/usr/bin/env python3
"""Train the NSED demo classifiers and export them to ONNX.

Deterministic: every random choice is drawn from SEED, BLAS runs on one thread,
and the exported ONNX files carry fixed graph names and metadata, so running this
script twice produces byte-identical files.

Dataset: scikit-learn's bundled 8x8 digits (``sklearn.datasets.load_digits``; the
data ships inside the scikit-learn wheel, nothing is downloaded).

Every model takes one input ``input`` (float32 [N, 64], the raw pixels 0..16) and
has two outputs ``label`` (int64 [N]) and ``probabilities`` (float32 [N, 10],
columns in class order 0..9). Any per-model feature view (a half of the image, a
coarse 4x4 image, a PCA projection) lives inside the exported ONNX graph.

The models are deliberately diverse (different algorithms, feature views and
training subsamples) and individually only moderately accurate, so that they make
different mistakes and a deliberation between them has something to fix.

Usage (from the repository root):

    python3 -m venv .venv-models
    .venv-models/bin/pip install -r models/requirements.txt
    .venv-models/bin/python models/train.py

Writes, next to this script: <name>.onnx for each model, test_split.csv and
manifest.json.
"""

import os

# Single-threaded BLAS/OpenMP: multi-threaded reductions may change the last bits
# of a floating-point sum from run to run. Must be set before numpy is imported.
for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"

import hashlib  # noqa: E402
import io  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
import sklearn  # noqa: E402
import skl2onnx  # noqa: E402
from onnx import TensorProto, checker  # noqa: E402
from skl2onnx import convert_sklearn, update_registered_converter  # noqa: E402
from skl2onnx.algebra.onnx_ops import OnnxMatMul  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.naive_bayes import GaussianNB  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeClassifier  # noqa: E402

SEED = 20260101
TEST_FRACTION = 0.25
N_FEATURES = 64
CLASSES = list(range(10))
# ONNX opsets: the main domain at 17 and ai.onnx.ml at 3 give IR version 8, which
# every onnxruntime since 1.12 loads (the Rust side uses 1.32).
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
MAX_ONNX_BYTES = 512 * 1024
OUT_DIR = Path(__file__).resolve().parent

# Pixel indices of the 8x8 image, row-major.
TOP_HALF = [r * 8 + c for r in range(4) for c in range(8)]
LEFT_HALF = [r * 8 + c for r in range(8) for c in range(4)]


def _pool_matrix():
    """64x16 matrix that averages each 2x2 block of the 8x8 image into a 4x4 image."""
    m = np.zeros((N_FEATURES, 16), dtype=np.float64)
    for r in range(8):
        for c in range(8):
            m[r * 8 + c, (r // 2) * 4 + c // 2] = 0.25
    return m


POOL_2X2 = _pool_matrix()


class AvgPool2x2(BaseEstimator, TransformerMixin):
    """Downsample the 8x8 digit to a coarse 4x4 image by 2x2 average pooling.

    Exported to ONNX as one MatMul by a constant 64x16 matrix (see
    _convert_avg_pool below), so the coarse view lives inside the ONNX graph.
    """

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def transform(self, X):
        return np.asarray(X, dtype=np.float64) @ POOL_2X2


def _shape_avg_pool(operator):
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([n, POOL_2X2.shape[1]])


def _convert_avg_pool(scope, operator, container):
    node = OnnxMatMul(
        operator.inputs[0],
        POOL_2X2.astype(np.float32),
        op_version=container.target_opset,
        output_names=operator.outputs[:1],
    )
    node.add_to(scope, container)


update_registered_converter(
    AvgPool2x2, "NsedAvgPool2x2", _shape_avg_pool, _convert_avg_pool
)


def model_specs():
    """The ensemble. Each entry: name, algorithm, feature view, training-subsample
    size (None = the whole training split) and a factory for the sklearn pipeline.
    Capacity and subsample sizes are chosen so that each model lands at a moderate
    held-out accuracy (roughly 0.75-0.92) and the models err on different digits."""
    return [
        {
            "name": "logreg_top_half",
            "algorithm": "multinomial logistic regression (C=0.05) on standardised pixels",
            "feature_view": "top half of the image only (rows 0-3, 32 pixels)",
            "n_train": 800,
            "make": lambda seed: Pipeline(
                [
                    (
                        "view",
                        ColumnTransformer(
                            [("top", StandardScaler(), TOP_HALF)], remainder="drop"
                        ),
                    ),
                    ("clf", LogisticRegression(C=0.05, max_iter=5000)),
                ]
            ),
        },
        {
            "name": "gnb_full",
            "algorithm": "Gaussian naive Bayes",
            "feature_view": "all 64 pixels",
            "n_train": 500,
            "make": lambda seed: Pipeline([("clf", GaussianNB())]),
        },
        {
            "name": "tree_full_d8",
            "algorithm": "decision tree (max_depth=8, gini)",
            "feature_view": "all 64 pixels",
            "n_train": None,
            "make": lambda seed: Pipeline(
                [("clf", DecisionTreeClassifier(max_depth=8, random_state=seed))]
            ),
        },
        {
            "name": "knn_pool4x4",
            "algorithm": "k-nearest neighbours (k=5, uniform, euclidean)",
            "feature_view": "coarse 4x4 image (2x2 average pooling, 16 features)",
            "n_train": 400,
            "make": lambda seed: Pipeline(
                [("view", AvgPool2x2()), ("clf", KNeighborsClassifier(n_neighbors=5))]
            ),
        },
        {
            "name": "mlp_pca8_left_half",
            "algorithm": "PCA(8) + multilayer perceptron (one hidden layer of 16 ReLU units)",
            "feature_view": "left half of the image only (columns 0-3, 32 pixels), projected on 8 principal components",
            "n_train": 800,
            "make": lambda seed: Pipeline(
                [
                    ("view", ColumnTransformer([("left", "passthrough", LEFT_HALF)])),
                    ("pca", PCA(n_components=8, random_state=seed)),
                    ("scale", StandardScaler()),
                    (
                        "clf",
                        MLPClassifier(
                            hidden_layer_sizes=(16,),
                            alpha=1e-3,
                            max_iter=2000,
                            random_state=seed,
                        ),
                    ),
                ]
            ),
        },
    ]


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def rename_outputs(model):
    """Rename the classifier outputs to `label` / `probabilities` and pin their
    declared types and shapes ([N] int64 and [N, 10] float32)."""
    graph = model.graph
    if len(graph.output) != 2:
        raise SystemExit(f"expected 2 outputs, got {[o.name for o in graph.output]}")
    wanted = [
        ("label", TensorProto.INT64, [None]),
        ("probabilities", TensorProto.FLOAT, [None, len(CLASSES)]),
    ]
    renames = {}
    for out, (new_name, elem_type, _shape) in zip(graph.output, wanted):
        if out.type.tensor_type.elem_type != elem_type:
            raise SystemExit(f"output {out.name!r} has element type {out.type.tensor_type.elem_type}")
        renames[out.name] = new_name
    for node in graph.node:
        for i, name in enumerate(node.output):
            if name in renames:
                node.output[i] = renames[name]
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    batch = graph.input[0].type.tensor_type.shape.dim[0]
    del graph.output[:]
    for new_name, elem_type, shape in wanted:
        vi = onnx.helper.make_tensor_value_info(new_name, elem_type, shape)
        dims = vi.type.tensor_type.shape.dim
        dims[0].CopyFrom(batch)
        graph.output.append(vi)


def export_onnx(name, pipeline, spec):
    onx = convert_sklearn(
        pipeline,
        name=name,  # default is a random uuid: fixed for determinism
        initial_types=[("input", FloatTensorType([None, N_FEATURES]))],
        options={"zipmap": False},
        target_opset=TARGET_OPSET,
        doc_string="",
    )
    rename_outputs(onx)
    # skl2onnx may list the main domain twice in opset_import: keep one per domain.
    opsets = {}
    for entry in onx.opset_import:
        opsets[entry.domain] = max(opsets.get(entry.domain, 0), entry.version)
    del onx.opset_import[:]
    for domain in sorted(opsets):
        onx.opset_import.append(onnx.helper.make_opsetid(domain, opsets[domain]))
    onx.producer_name = "skl2onnx"
    onx.producer_version = skl2onnx.__version__
    onx.doc_string = (
        f"NSED demo classifier {name}: {spec['algorithm']}; view: {spec['feature_view']}. "
        "Generated by models/train.py on sklearn.datasets.load_digits."
    )
    del onx.metadata_props[:]
    for key, value in (
        ("nsed.name", name),
        ("nsed.algorithm", spec["algorithm"]),
        ("nsed.feature_view", spec["feature_view"]),
        ("nsed.classes", ",".join(str(c) for c in CLASSES)),
    ):
        entry = onx.metadata_props.add()
        entry.key, entry.value = key, value
    checker.check_model(onx, full_check=True)
    return onx.SerializeToString(deterministic=True)


def check_session(name, sess):
    ins = sess.get_inputs()
    outs = sess.get_outputs()
    assert [i.name for i in ins] == ["input"], (name, [i.name for i in ins])
    assert ins[0].type == "tensor(float)", (name, ins[0].type)
    assert len(ins[0].shape) == 2 and ins[0].shape[1] == N_FEATURES, (name, ins[0].shape)
    assert [o.name for o in outs] == ["label", "probabilities"], (name, [o.name for o in outs])
    assert outs[0].type == "tensor(int64)", (name, outs[0].type)
    assert outs[1].type == "tensor(float)", (name, outs[1].type)
    assert len(outs[0].shape) == 1, (name, outs[0].shape)
    assert len(outs[1].shape) == 2 and outs[1].shape[1] == len(CLASSES), (name, outs[1].shape)


def write_test_split(path, X, y):
    buf = io.StringIO()
    buf.write(",".join([f"f{i}" for i in range(N_FEATURES)] + ["label"]) + "\n")
    for row, label in zip(X, y):
        buf.write(",".join(f"{v:.1f}" for v in row) + f",{int(label)}\n")
    data = buf.getvalue().encode("ascii")
    path.write_bytes(data)
    return sha256_bytes(data)


def majority_vote(labels, probas):
    """Plurality vote over the models' labels; a tie goes to the tied class with
    the largest summed probability (then the smallest class)."""
    n_models, n = labels.shape
    counts = np.zeros((n, len(CLASSES)), dtype=np.int64)
    for m in range(n_models):
        counts[np.arange(n), labels[m]] += 1
    prob_sum = probas.sum(axis=0)
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        tied = np.flatnonzero(counts[i] == counts[i].max())
        out[i] = tied[np.argmax(prob_sum[i, tied])]
    return out


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_FRACTION, stratify=y, random_state=SEED
    )
    X_test32 = X_test.astype(np.float32)
    print(f"digits: {len(X)} samples; train {len(X_train)}, held-out test {len(X_test)} "
          f"(stratified, seed {SEED})")

    test_sha = write_test_split(OUT_DIR / "test_split.csv", X_test, y_test)

    rng = np.random.RandomState(SEED)
    entries, onnx_labels, onnx_probas = [], [], []
    for spec in model_specs():
        name = spec["name"]
        model_seed = int(rng.randint(0, 2**31 - 1))
        if spec["n_train"] is None:
            Xs, ys = X_train, y_train
        else:
            # Each model's own stratified subsample of the training split.
            Xs, _, ys, _ = train_test_split(
                X_train, y_train, train_size=spec["n_train"], stratify=y_train,
                random_state=model_seed,
            )
        pipe = spec["make"](model_seed).fit(Xs, ys)
        assert list(pipe.classes_) == CLASSES, (name, pipe.classes_)
        sk_pred = pipe.predict(X_test32)

        data = export_onnx(name, pipe, spec)
        assert len(data) <= MAX_ONNX_BYTES, f"{name}.onnx is {len(data)} bytes"
        (OUT_DIR / f"{name}.onnx").write_bytes(data)

        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        check_session(name, sess)
        label, proba = sess.run(["label", "probabilities"], {"input": X_test32})
        assert label.dtype == np.int64 and label.shape == (len(X_test),), (name, label.dtype, label.shape)
        assert proba.dtype == np.float32 and proba.shape == (len(X_test), len(CLASSES)), (
            name, proba.dtype, proba.shape)
        assert np.allclose(proba.sum(axis=1), 1.0, atol=1e-4), name
        agree = float(np.mean(label == sk_pred))
        assert agree >= 0.99, f"{name}: ONNX and sklearn agree on only {agree:.3f}"
        acc = float(np.mean(label == y_test))
        if not 0.70 <= acc <= 0.95:
            raise SystemExit(f"{name}: held-out accuracy {acc:.3f} outside the intended 0.70-0.95")

        onnx_labels.append(label)
        onnx_probas.append(proba)
        entries.append(
            {
                "name": name,
                "file": f"{name}.onnx",
                "sha256": sha256_bytes(data),
                "algorithm": spec["algorithm"],
                "feature_view": spec["feature_view"],
                "n_train": len(Xs),
                "input": {"name": "input", "dtype": "float32", "shape": [None, N_FEATURES]},
                "outputs": {
                    "label": {"name": "label", "dtype": "int64", "shape": [None]},
                    "probabilities": {
                        "name": "probabilities",
                        "dtype": "float32",
                        "shape": [None, len(CLASSES)],
                    },
                },
                "classes": CLASSES,
                "heldout_accuracy": round(acc, 6),
            }
        )
        print(f"  {name:<20} acc {acc:.4f}  onnx/sklearn agree {agree:.4f}  "
              f"{len(data):>7} bytes  (n_train {len(Xs)})")

    labels = np.stack(onnx_labels)
    probas = np.stack(onnx_probas)
    names = [e["name"] for e in entries]

    print("\nheld-out accuracy (ONNX Runtime):")
    print("| model | algorithm | feature view | n_train | accuracy | size (bytes) |")
    print("|---|---|---|---|---|---|")
    for e in entries:
        size = (OUT_DIR / e["file"]).stat().st_size
        print(f"| `{e['name']}` | {e['algorithm']} | {e['feature_view']} | {e['n_train']} | "
              f"{e['heldout_accuracy']:.4f} | {size} |")

    print("\npairwise disagreement rate on the test split:")
    width = max(len(n) for n in names)
    print(" " * width + "  " + "  ".join(f"{i:>5}" for i in range(len(names))))
    for i, a in enumerate(names):
        row = "  ".join(f"{np.mean(labels[i] != labels[j]):5.3f}" for j in range(len(names)))
        print(f"{a:<{width}}  {row}   [{i}]")
    pairs = [float(np.mean(labels[i] != labels[j]))
             for i, j in itertools.combinations(range(len(names)), 2)]
    print(f"mean pairwise disagreement {np.mean(pairs):.3f} (min {min(pairs):.3f}, max {max(pairs):.3f})")

    best = max(e["heldout_accuracy"] for e in entries)
    maj = float(np.mean(majority_vote(labels, probas) == y_test))
    avg = float(np.mean(probas.mean(axis=0).argmax(axis=1) == y_test))
    oracle = float(np.mean((labels == y_test).any(axis=0)))
    all_wrong = float(np.mean((labels != y_test).all(axis=0)))
    print("\nensemble on the test split:")
    print(f"  best single model          {best:.4f}")
    print(f"  majority vote (plurality)  {maj:.4f}")
    print(f"  probability average        {avg:.4f}")
    print(f"  some model right (oracle)  {oracle:.4f}")
    print(f"  every model wrong          {all_wrong:.4f}")

    # `nsed up` runs three workers: how each three-model panel fares.
    print("\nthree-model panels (best single / majority vote / probability average):")
    for combo in itertools.combinations(range(len(names)), 3):
        idx = list(combo)
        single = max(entries[i]["heldout_accuracy"] for i in idx)
        m3 = float(np.mean(majority_vote(labels[idx], probas[idx]) == y_test))
        a3 = float(np.mean(probas[idx].mean(axis=0).argmax(axis=1) == y_test))
        print(f"  {' + '.join(names[i] for i in idx):<58} {single:.4f} / {m3:.4f} / {a3:.4f}")

    manifest = {
        "dataset": {
            "source": "sklearn.datasets.load_digits",
            "seed": SEED,
            "n_train": len(X_train),
            "n_test": len(X_test),
            "test_split": "test_split.csv",
            "test_split_sha256": test_sha,
        },
        "models": entries,
        "ensemble": {
            "majority_vote_accuracy": round(maj, 6),
            "probability_average_accuracy": round(avg, 6),
            "mean_pairwise_disagreement": round(float(np.mean(pairs)), 6),
        },
        "generated_by": "models/train.py",
        "versions": {
            "sklearn": sklearn.__version__,
            "skl2onnx": skl2onnx.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
            "python": ".".join(str(v) for v in sys.version_info[:3]),
        },
    }
    (OUT_DIR / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="ascii")
    print(f"\nwrote {len(entries)} models, test_split.csv and manifest.json to {OUT_DIR}")


if __name__ == "__main__":
    main()
