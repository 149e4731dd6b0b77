"""Performance of astromask against its anchors, every target in one run.

Prints one table per target, then a summary with the ratios:

1. End to end (process start, model load, FITS read, every tile, threshold,
   mask file written; the same for both sides): ``astromask.flag`` with the
   default tiling (``"auto"``) and with ``"maximask"``, on every Keras backend,
   against upstream ``maximask FILE`` (MaxiMask 1.4.1, TensorFlow), on the
   same simulated frame (``--size``, default 2048).
2. Cosmic rays (processing only, networks built and warmed up): the fastest
   `astromask.cosmicray_deepcr` model against ``ccdproc.cosmicray_lacosmic``,
   and ``deepcr/ACS-WFC`` against deepCR 0.3.1 on PyTorch
   (``benchmarks/bench_cosmicray.py``).
3. Scaling: `astromask.flag` Mpix/s from 1024x1024 to 8192x8192 pixels and
   the process's peak resident memory, each size in a fresh process
   (processing only: the model is built and warmed up on a small frame
   first).
4. Reduced precision: `astromask.flag` in float32, bfloat16 and float16,
   speed and deviation from float32 (probabilities and flags).
5. GPU: whether Keras sees one (throughput is measured with ``--gpu``
   on a machine that has one).

Usage::

    python benchmarks/bench_performance.py --upstream-python PY [--deepcr-python PY]
        [--backends tensorflow,jax,torch] [--size 2048] [--scaling 1024,2048,4096,8192]
        [--scaling-backend tensorflow] [--repeat 1]

``--upstream-python`` is a Python with MaxiMask 1.4.1 and TensorFlow (tox's
``.tox/upstream/bin/python``), ``--deepcr-python`` one with deepCR 0.3.1 and
PyTorch (``.tox/upstream-torch/bin/python``).  Weights must be reachable
(cache or ``ASTROMASK_WEIGHTS_URL``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FLAG_FILE = """
import sys
from astropy.nddata import CCDData
import astromask
ccd = CCDData.read(sys.argv[1], unit="adu")
tiling = sys.argv[3]
out = astromask.flag(ccd, tiling=tiling, progress=False)
out.write(sys.argv[2], hdu_mask="MASK", hdu_flags="FLAGS", overwrite=True)
"""

UPSTREAM = """
import sys
from maximask_and_maxitrack.maximask.maximask import main
sys.argv = ["maximask", sys.argv[1]]
main()
"""

# One measurement in a fresh process: flag an n x n frame (a simulated
# 1024 x 1024 frame tiled), after a warm-up on a small one; print JSON.
SCALING = """
import json, resource, sys, time
import numpy as np
import astromask
from astromask.simulate import simulated_frame
size, precision = int(sys.argv[1]), sys.argv[2]
base, _ = simulated_frame((1024, 1024), seed=1)
astromask.flag(base.data[:512, :512], progress=False, precision=precision)  # build, warm up
reps = -(-size // 1024)
image = np.tile(base.data, (reps, reps))[:size, :size]
del base
start = time.perf_counter()
out = astromask.flag(image, progress=False, precision=precision)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
print(json.dumps({"seconds": seconds, "peak_gib": peak, "mpix": image.size / 1e6}))
"""

PRECISION = """
import json, sys, time
import numpy as np
import astromask
from astromask.simulate import simulated_frame
ccd, _ = simulated_frame((int(sys.argv[1]), int(sys.argv[1])), seed=1)
results, reference = {}, {}
for precision in ("float32", "bfloat16", "float16"):
    try:
        astromask.flag(ccd.data[:512, :512], progress=False, precision=precision)
    except Exception as err:  # a backend without that precision on this hardware
        results[precision] = {"error": f"{type(err).__name__}: {err}"[:200]}
        continue
    start = time.perf_counter()
    flags = astromask.flag(ccd, progress=False, precision=precision).flags
    seconds = time.perf_counter() - start
    probs = astromask.probabilities(ccd, priors="default", progress=False, precision=precision)
    if precision == "float32":
        reference = {"flags": flags, "probs": probs}
    dp = np.abs(probs - reference["probs"])
    results[precision] = {
        "seconds": seconds,
        "mpix": ccd.data.size / 1e6,
        "max_dp": float(dp.max()),
        "p9999_dp": float(np.quantile(dp, 0.9999)),
        "mean_dp": float(dp.mean()),
        "flags_changed": float((flags != reference["flags"]).mean()),
    }
print(json.dumps(results))
"""


def _run(cmd, env, *, timed=False):
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(cmd[:3])} failed:\n{done.stderr[-3000:]}")
    return elapsed if timed else done.stdout


def _json(output):
    return json.loads(output.strip().splitlines()[-1])


def _gpu_visible(env):
    probe = "\n".join(
        [
            "import json, keras",
            "b = keras.backend.backend()",
            "if b == 'tensorflow':",
            "    import tensorflow as tf",
            "    dev = tf.config.list_physical_devices('GPU')",
            "elif b == 'jax':",
            "    import jax",
            "    dev = [d for d in jax.devices() if d.platform == 'gpu']",
            "else:",
            "    import torch",
            "    dev = list(range(torch.cuda.device_count()))",
            "print(json.dumps(len(dev)))",
        ]
    )
    return _json(_run([sys.executable, "-c", probe], env))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream-python", required=True)
    parser.add_argument("--deepcr-python", default=os.environ.get("ASTROMASK_DEEPCR_PYTHON"))
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--scaling", default="1024,2048,4096,8192")
    parser.add_argument("--scaling-backend", help="default: the fastest end to end")
    parser.add_argument("--repeat", type=int, default=1, help="runs per timing; best kept")
    args = parser.parse_args(argv)

    from astropy.io import fits

    from astromask.simulate import simulated_frame

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    backends = args.backends.split(",")
    summary = []
    mpix = args.size**2 / 1e6
    print(f"{os.cpu_count()} CPU cores; frame {args.size}x{args.size} ({mpix:.2f} Mpix)\n")
    _run([sys.executable, "-m", "astromask.cli", "fetch", "-q"], env)  # no download timed

    # 1. End to end, and every backend (target 6).
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frame = tmp / "frame.fits"
        ccd, _ = simulated_frame((args.size, args.size), seed=1)
        fits.PrimaryHDU(ccd.data).writeto(frame)
        upstream = min(
            _run([args.upstream_python, "-c", UPSTREAM, str(frame)], env, timed=True)
            for _ in range(args.repeat)
        )
        end_to_end = {}
        for backend in backends:
            benv = dict(env, KERAS_BACKEND=backend)
            for tiling in ("auto", "maximask"):
                cmd = [sys.executable, "-c", FLAG_FILE, str(frame), str(tmp / "o.fits"), tiling]
                end_to_end[backend, tiling] = min(
                    _run(cmd, benv, timed=True) for _ in range(args.repeat)
                )
    print("1. End to end, process start included (seconds, Mpix/s, speed-up over upstream)")
    print(f"   upstream maximask FILE (TensorFlow)     {upstream:7.1f} s {mpix / upstream:6.3f}")
    for (backend, tiling), seconds in end_to_end.items():
        print(
            f"   astromask.flag {backend:<10} {tiling:<9}   {seconds:7.1f} s "
            f"{mpix / seconds:6.3f}   x{upstream / seconds:.1f}"
        )
    fastest = min(backends, key=lambda b: end_to_end[b, "auto"])
    best = end_to_end[fastest, "auto"]
    best_maximask = min(end_to_end[b, "maximask"] for b in backends)
    summary += [
        ("flag, auto tiling vs maximask FILE", f"x{upstream / best:.1f} ({fastest})", ">= 10"),
        ("flag, maximask tiling vs maximask FILE", f"x{upstream / best_maximask:.1f}", ">= 4"),
        ("fastest backend on this CPU", fastest, "the default install's"),
    ]

    # 2. Cosmic rays.
    print("\n2. Cosmic rays, processing only (bench_cosmicray.py)")
    cr = {}
    for backend in backends:
        benv = dict(env, KERAS_BACKEND=backend)
        if args.deepcr_python:
            benv["ASTROMASK_DEEPCR_PYTHON"] = args.deepcr_python
        out = _run(
            [sys.executable, str(HERE / "bench_cosmicray.py"), "--size", str(args.size),
             "--repeat", str(max(args.repeat, 1)), "--json"],
            benv,
        )  # fmt: skip
        cr[backend] = _json(out)
        for line in out.strip().splitlines()[:-1]:
            print(f"   {line}")
    lacosmic = min(r["lacosmic"] for r in cr.values())
    fastest_cr = min(
        (r["astromask"][m], m, b) for b, r in cr.items() for m in r["astromask"] if "+" not in m
    )
    summary.append(
        (
            "cosmicray_deepcr fastest vs lacosmic",
            f"x{lacosmic / fastest_cr[0]:.2f} ({fastest_cr[1]}, {fastest_cr[2]})",
            ">= 1",
        )
    )
    if all("ACS-WFC" in r.get("deepcr", {}) for r in cr.values()):
        theirs = min(r["deepcr"]["ACS-WFC"] for r in cr.values())
        ours, backend = min((r["astromask"]["ACS-WFC"], b) for b, r in cr.items())
        summary.append(
            ("ACS-WFC vs deepCR 0.3.1 torch", f"x{theirs / ours:.2f} ({backend})", ">= 2")
        )

    # 3. Scaling and memory.
    backend = args.scaling_backend or fastest
    benv = dict(env, KERAS_BACKEND=backend)
    print(f"\n3. Scaling, processing only, {backend} backend, fresh process per size")
    print("   size          Mpix/s   peak RSS (GiB)")
    rates = {}
    for size in (int(s) for s in args.scaling.split(",")):
        r = _json(_run([sys.executable, "-c", SCALING, str(size), "float32"], benv))
        rates[size] = r["mpix"] / r["seconds"]
        print(f"   {size:>5}x{size:<5}  {rates[size]:7.3f}   {r['peak_gib']:6.2f}")
    spread = max(rates.values()) / min(rates.values()) - 1
    summary.append(("Mpix/s spread over sizes", f"{100 * spread:.0f} %", "<= 20 %"))
    summary.append(("peak RSS at the largest size", f"{r['peak_gib']:.2f} GiB", "<= 4 GB"))

    # 4. Precision.
    print(f"\n4. Precision, {args.size}x{args.size}, processing only")
    for backend in backends:
        benv = dict(env, KERAS_BACKEND=backend)
        res = _json(_run([sys.executable, "-c", PRECISION, str(args.size)], benv))
        base = res["float32"]["seconds"]
        for precision, r in res.items():
            if "error" in r:
                print(f"   {backend:<10} {precision:<8}  not supported: {r['error']}")
                continue
            print(
                f"   {backend:<10} {precision:<8}  {r['mpix'] / r['seconds']:6.3f} Mpix/s "
                f"(x{base / r['seconds']:.2f})  max|dp| {r['max_dp']:.2g}  "
                f"99.99% |dp| {r['p9999_dp']:.2g}  mean |dp| {r['mean_dp']:.2g}  "
                f"flags changed {100 * r['flags_changed']:.3f} %"
            )

    # 5. GPU.
    gpus = {b: _gpu_visible(dict(env, KERAS_BACKEND=b)) for b in backends}
    print("\n5. GPUs seen by Keras: " + ", ".join(f"{b} {n}" for b, n in gpus.items()))
    summary.append(("GPU", "none visible" if not any(gpus.values()) else str(gpus), ""))

    print("\nSummary")
    width = max(len(s[0]) for s in summary)
    for name, value, goal in summary:
        print(f"   {name:<{width}}  {value:<28} target {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
