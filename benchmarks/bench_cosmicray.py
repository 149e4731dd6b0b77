"""Cosmic-ray cleaning speed: astromask against L.A. Cosmic and deepCR, in one run.

Times, on the same simulated frame (electrons, processing only: the frame is
in memory and the networks are built and warmed up before timing):

* ``ccdproc.cosmicray_lacosmic`` (astroscrappy), default arguments;
* deepCR 0.3.1 on PyTorch (CPU), in its own environment
  (``ASTROMASK_DEEPCR_PYTHON``, see ``tools/upstream_deepcr.py``):
  ``deepCR(mask=M).clean(image)`` (mask only) and with the 2-32 inpainting;
* ``astromask.cosmicray_deepcr`` with each mask network, ``inpaint=None``
  and with the default deepCR 2-32 inpainting, on the current Keras backend.

Each timing is the best of ``--repeat`` runs.  Usage::

    KERAS_BACKEND=tensorflow python benchmarks/bench_cosmicray.py [--size 2048]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

UPSTREAM = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[3]))
from deepCR import deepCR
image = np.load(sys.argv[1])
repeat = int(sys.argv[2])
results = {}
for name, kwargs, clean_kwargs in [
    ("ACS-WFC", {}, {}),
    ("decam", {}, {}),
    ("ACS-WFC+inpaint", {"inpaint": "ACS-WFC-F606W-2-32"}, {"inpaint": True}),
]:
    model = deepCR(mask=name.split("+")[0], device="CPU", **kwargs)
    with torch.no_grad():
        model.clean(image[:256, :256], **clean_kwargs)
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            model.clean(image, **clean_kwargs)
            best = min(best, time.perf_counter() - start)
    results[name] = best
print(json.dumps(results))
"""


def best_time(function, repeat):
    function()  # warm-up: builds the networks, compiles
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="also print the timings as JSON")
    args = parser.parse_args(argv)

    import keras
    from ccdproc import cosmicray_lacosmic

    import astromask
    from astromask.simulate import simulated_frame

    ccd, _ = simulated_frame((args.size, args.size), seed=1, gain=1.0)
    image = np.asarray(ccd.data, dtype=np.float32)
    mpix = image.size / 1e6
    threads = os.cpu_count() or 1
    rows = []

    seconds = best_time(lambda: cosmicray_lacosmic(image, gain=1.0), args.repeat)
    rows.append(("ccdproc.cosmicray_lacosmic (astroscrappy)", seconds))
    lacosmic = seconds

    upstream = {}
    python = os.environ.get("ASTROMASK_DEEPCR_PYTHON")
    if python and Path(python).exists():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "image.npy"
            np.save(path, image)
            done = subprocess.run(
                [python, "-c", UPSTREAM, str(path), str(args.repeat), str(threads)],
                capture_output=True,
                text=True,
                check=True,
            )
        upstream = json.loads(done.stdout.strip().splitlines()[-1])
        for name, seconds in upstream.items():
            rows.append((f"deepCR 0.3.1 torch {name}", seconds))
    else:
        print("ASTROMASK_DEEPCR_PYTHON not set: deepCR's own timings are left out")

    ours = {}
    for model in ("ACS-WFC", "ACS-WFC-F606W-2-4", "decam", "WFC3-UVIS"):
        seconds = best_time(
            lambda m=model: astromask.cosmicray_deepcr(
                image, model=f"deepcr/{m}", inpaint=None, progress=False
            ),
            args.repeat,
        )
        ours[model] = seconds
        rows.append((f"astromask cosmicray_deepcr {model}", seconds))
    seconds = best_time(
        lambda: astromask.cosmicray_deepcr(image, model="deepcr/ACS-WFC", progress=False),
        args.repeat,
    )
    ours["ACS-WFC+inpaint"] = seconds
    rows.append(("astromask cosmicray_deepcr ACS-WFC + inpaint 2-32", seconds))

    print(
        f"{args.size}x{args.size} frame, Keras backend {keras.backend.backend()}, "
        f"{threads} CPU threads, best of {args.repeat}"
    )
    width = max(len(name) for name, _ in rows)
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.2f} s  {mpix / seconds:6.2f} Mpix/s")
    print()
    fastest = min(ours[m] for m in ("ACS-WFC", "ACS-WFC-F606W-2-4", "decam", "WFC3-UVIS"))
    print(f"fastest astromask model vs L.A. Cosmic: {lacosmic / fastest:.2f}x")
    for name in ("ACS-WFC", "decam", "ACS-WFC+inpaint"):
        if name in upstream:
            print(f"{name}: astromask vs deepCR torch: {upstream[name] / ours[name]:.2f}x")
    # The whole run's peak: the largest frame copy any detector made, plus
    # the backend and every network built on the way.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    print(f"peak resident memory of this process (astromask and L.A. Cosmic): {peak:.2f} GiB")
    if args.json:
        print(
            json.dumps(
                {"lacosmic": lacosmic, "deepcr": upstream, "astromask": ours, "peak_gib": peak}
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
