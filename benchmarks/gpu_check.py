"""GPU check: MaxiMask and the default cosmic-ray detector on every backend, in minutes.

For each Keras backend (TensorFlow, JAX, PyTorch) and each precision
(float32, bfloat16), one fresh process builds the networks, runs them once
to compile, then times:

* ``astromask.flag`` on a simulated ``--size`` x ``--size`` frame (MaxiMask,
  default tiling), processing only;
* ``astromask.probabilities(model="astromask/ground")``, the default
  cosmic-ray detector, on the same frame;

and prints Mpix/s and the peak device memory the backend reports
(TensorFlow's ``get_memory_info``, JAX's ``memory_stats``, PyTorch's
``max_memory_allocated``).  Each process has ``--budget / 6`` seconds at
most, so the whole check ends within ``--budget`` (default 420 s, under
the 8 minutes a lent GPU machine gives one command).  A backend that is
missing or fails is reported in its row, and the others go on.

Usage::

    python benchmarks/gpu_check.py [--install] [--size 4096] [--budget 420]
        [--backends tensorflow,jax,torch] [--precisions float32,bfloat16]

``--install`` first installs the GPU builds from the package index
(``tensorflow[and-cuda]``, ``jax[cuda12]``, and PyTorch's default Linux
wheel, which is a CUDA build) into this Python.  On a machine that cannot
reach the index, carry them as wheels instead, with astromask's own
dependencies (astropy, ccdproc, photutils, pooch, keras, astroscrappy), and
a weights cache holding ``maximask`` and the two deepCR networks of
``astromask/ground`` (``ASTROMASK_DATA_DIR``; ``astromask fetch`` fills one).

Without a GPU the same script runs on the CPU (a dry run: use
``--size 1024``); the table says which device each row used.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

INSTALL = {
    "tensorflow": ["tensorflow[and-cuda]>=2.16"],
    "jax": ["jax[cuda12]>=0.4.20"],
    "torch": ["torch>=2.1"],
}

ONE_RUN = r"""
import json, sys, time
import numpy as np
import keras
import astromask
from astromask.simulate import simulated_frame

size, precision = int(sys.argv[1]), sys.argv[2]
backend = keras.backend.backend()


def device_name():
    if backend == "tensorflow":
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return "CPU"
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    if backend == "jax":
        import jax
        device = jax.devices()[0]
        return getattr(device, "device_kind", device.platform)
    import torch
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"


def reset_peak():
    if backend == "torch":
        import torch
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
    elif backend == "tensorflow":
        import tensorflow as tf
        if tf.config.list_physical_devices("GPU"):
            tf.config.experimental.reset_memory_stats("GPU:0")


def peak_gib():
    try:
        if backend == "torch":
            import torch
            return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
        if backend == "tensorflow":
            import tensorflow as tf
            if not tf.config.list_physical_devices("GPU"):
                return None
            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**30
        import jax
        stats = jax.devices()[0].memory_stats() or {}
        return stats.get("peak_bytes_in_use", 0) / 2**30 or None
    except Exception:
        return None


def timed(function):
    function()  # build, compile
    reset_peak()
    best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best, peak_gib()


ccd, _ = simulated_frame((size, size), seed=0)
mpix = size * size / 1e6
rows = {}
seconds, peak = timed(lambda: astromask.flag(ccd, precision=precision, progress=False))
rows["maximask"] = (mpix / seconds, peak)
seconds, peak = timed(
    lambda: astromask.probabilities(ccd, model="astromask/ground", precision=precision, gain=1.0)
)
rows["astromask/ground"] = (mpix / seconds, peak)
print(json.dumps({"device": device_name(), "rows": rows}))
"""


def _install(backends):
    for backend in backends:
        cmd = [sys.executable, "-m", "pip", "install", "-q", *INSTALL[backend]]
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=False)


def _run(backend, precision, size, timeout):
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", ONE_RUN, str(size), precision],
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout:.0f} s"}
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        return {"error": lines[-1][:100] if lines else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="pip install the GPU builds first")
    parser.add_argument("--size", type=int, default=4096, help="frame side in pixels")
    parser.add_argument("--budget", type=float, default=420, help="seconds for all the runs")
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--precisions", default="float32,bfloat16")
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    precisions = args.precisions.split(",")
    if args.install:
        _install(backends)
    runs = [(b, p) for b in backends for p in precisions]
    start = time.perf_counter()
    header = f"{'backend':11} {'precision':9} {'network':17} {'Mpix/s':>8} {'peak GiB':>8}  device"
    print(f"astromask GPU check: {args.size}x{args.size} simulated frame, best of 2 after warm-up")
    print(header)
    print("-" * len(header))
    for number, (backend, precision) in enumerate(runs):
        left = args.budget - (time.perf_counter() - start)
        timeout = left / (len(runs) - number)
        if timeout < 20:
            print(f"{backend:11} {precision:9} skipped: the budget is spent")
            continue
        result = _run(backend, precision, args.size, timeout)
        if "error" in result:
            print(f"{backend:11} {precision:9} failed: {result['error']}", flush=True)
            continue
        for network, (rate, peak) in result["rows"].items():
            peak_text = "--" if peak is None else f"{peak:.2f}"
            print(
                f"{backend:11} {precision:9} {network:17} {rate:8.2f} {peak_text:>8}  "
                f"{result['device']}",
                flush=True,
            )
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
