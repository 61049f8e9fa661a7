#!/usr/bin/env python3
"""Times Python onnxruntime on one model and one batch, for the `bench-inference` binary.

Usage:
    ort_python.py --versions     print {"python", "onnxruntime", "numpy", "build_info"} as JSON
    ort_python.py SPEC.json      run the benchmark SPEC.json describes and print JSON results

SPEC.json holds: "model" (path of the .onnx file), "batch" (rows per call), "iterations"
(timed calls), "warmup" (untimed calls first), "intra_op_num_threads", and "inputs" (batch rows
of 64 floats). Each timed call is `session.run(["label", "probabilities"], {"input": x})` with x
a float32 [batch, 64] array built once, timed with time.perf_counter_ns(), the garbage collector
off while timing (as timeit does). The output JSON holds the versions, the session settings,
"latencies_ns" (one per timed call) and the last call's "labels" and "probabilities", so the
caller can check both runtimes agree.

Exit status: 0 on success, 3 when onnxruntime or numpy cannot be imported, 2 on a bad spec.
"""

import gc
import json
import platform
import sys
import time


def import_runtime():
    try:
        import numpy
        import onnxruntime
    except ImportError as exc:
        print(f"import failed: {exc}", file=sys.stderr)
        sys.exit(3)
    return numpy, onnxruntime


def versions(numpy, onnxruntime):
    return {
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "numpy": numpy.__version__,
        "build_info": onnxruntime.get_build_info(),
    }


def bench(spec, numpy, onnxruntime):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = int(spec["intra_op_num_threads"])
    session = onnxruntime.InferenceSession(
        spec["model"], sess_options=options, providers=["CPUExecutionProvider"]
    )
    batch = int(spec["batch"])
    x = numpy.asarray(spec["inputs"], dtype=numpy.float32)
    if x.shape != (batch, 64):
        print(f"inputs have shape {x.shape}, expected ({batch}, 64)", file=sys.stderr)
        sys.exit(2)
    input_name = session.get_inputs()[0].name
    feed = {input_name: x}
    outputs = ["label", "probabilities"]

    for _ in range(int(spec["warmup"])):
        session.run(outputs, feed)

    iterations = int(spec["iterations"])
    latencies = [0] * iterations
    clock = time.perf_counter_ns
    run = session.run
    gc.disable()
    try:
        for i in range(iterations):
            start = clock()
            result = run(outputs, feed)
            latencies[i] = clock() - start
    finally:
        gc.enable()

    labels, probabilities = result
    return {
        **versions(numpy, onnxruntime),
        "providers": session.get_providers(),
        "intra_op_num_threads": options.intra_op_num_threads,
        "latencies_ns": latencies,
        "labels": [int(label) for label in labels],
        "probabilities": probabilities.astype(float).tolist(),
    }


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    numpy, onnxruntime = import_runtime()
    if argv[1] == "--versions":
        print(json.dumps(versions(numpy, onnxruntime)))
        return 0
    with open(argv[1], encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    print(json.dumps(bench(spec, numpy, onnxruntime)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
