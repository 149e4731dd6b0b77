"""Reference outputs from upstream cosmic-conn 0.6.1 (PyTorch), for parity tests.

Runs in a separate environment that has ``torch==2.13.0`` (CPU build) and
``cosmic-conn==0.6.1`` (never astromask's own: cosmic-conn is GPL, and
astromask only downloads its weight files), and calls only cosmic-conn's own
public entry points.  Not shipped with the package.

Creating the environment (``tox -e upstream-torch`` builds the same one, with
deepCR beside it)::

    python3.11 -m venv /work/venvs/deepcr
    /work/venvs/deepcr/bin/python -m pip install torch==2.13.0
    /work/venvs/deepcr/bin/python -m pip install cosmic-conn==0.6.1

Usage (arrays are ``.npy`` files; outputs float32)::

    python tools/upstream_cosmic_conn.py --model NAME --input IN.npy --output OUT.npy
    python tools/upstream_cosmic_conn.py --jobs JOBS.json

NAME is ``ground_imaging``, ``NRES`` or ``HST_ACS_WFC``.  Each job runs
``cosmic_conn.init_model(NAME)`` (the model files shipped in the wheel, which
are byte-identical to astromask's pinned downloads) and
``model.detect_cr(image, ret_numpy=True)``: upstream's default detection,
1024-pixel stamps, each with its median subtracted.  On a frame of at most
1024 pixels a side with sides that are multiples of 16, that is a single
network call on the whole frame.  JOBS.json is a list of ``{"model",
"input", "output"}`` dicts, run in one process.  Torch runs on CPU in float32
with 2 threads and deterministic algorithms.  Each job prints one line.
"""

import argparse
import json
import sys

import numpy as np


def _run(jobs):
    import torch
    from cosmic_conn import init_model

    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    models = {}
    for job in jobs:
        name = job["model"]
        if name not in models:
            models[name] = init_model(name)
        image = np.load(job["input"]).astype(np.float32)
        # detect_cr replaces NaNs in place; give it a copy.
        probs = np.asarray(models[name].detect_cr(image.copy(), ret_numpy=True), np.float32)
        np.save(job["output"], probs)
        print(f"{name}: {image.shape} -> {job['output']} (max {probs.max():.4f})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model")
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--jobs", help="JSON list of jobs")
    args = parser.parse_args(argv)
    if args.jobs:
        with open(args.jobs) as f:
            jobs = json.load(f)
    elif args.model and args.input and args.output:
        jobs = [{"model": args.model, "input": args.input, "output": args.output}]
    else:
        parser.error("give --jobs, or --model, --input and --output")
    _run(jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
