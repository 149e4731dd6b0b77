"""Reference outputs from upstream deepCR 0.3.1 (PyTorch), for parity tests.

Runs in a separate environment that has ``torch==2.13.0`` (CPU build) and
``deepCR==0.3.1`` (never astromask's own), and uses only deepCR's own classes,
weights and code paths.  Not shipped with the package and never a runtime
dependency of astromask.

Creating the environment (what ``tox -e upstream-torch`` also does)::

    python3.11 -m venv /work/venvs/deepcr
    /work/venvs/deepcr/bin/python -m pip install torch==2.13.0
    /work/venvs/deepcr/bin/python -m pip install deepCR==0.3.1 matplotlib

``torch==2.13.0`` resolves to the CPU wheel ``2.13.0+cpu`` from the configured
``find-links`` (``/opt/wheels``); no ``nvidia-*`` packages get installed.
That CPU wheel is cp311 only, hence Python 3.11 (on another Python pip would
pick PyPI's CUDA build and its ``nvidia-*`` packages).  deepCR 0.3.1 is an
sdist; it builds with current setuptools (its ``setup.py`` reads
``ast.Constant.s``, deprecated, removed in Python 3.14).  ``matplotlib`` is imported by
``deepCR.training`` (pulled in by ``import deepCR``) but is missing from
deepCR's metadata; the rest of deepCR's ``install_requires`` (numpy, joblib,
tqdm, tensorboard, scikit-image, astroscrappy, astropy, scipy, ...) are all
imported by ``import deepCR`` too.  numpy 2.x works.

Usage (all arrays are ``.npy`` files, outputs float32)::

    python tools/upstream_deepcr.py mask --model NAME --input IN.npy --output OUT.npy [--scale S]
    python tools/upstream_deepcr.py inpaint --model NAME --input IN.npy --mask MASK.npy \
        --output OUT.npy [--scale S]
    python tools/upstream_deepcr.py clean --model NAME --inpaint INPAINT --input IN.npy \
        [--threshold T] --out-mask M.npy --out-clean C.npy [--scale S]
    python tools/upstream_deepcr.py batch --jobs JOBS.json

* ``mask``: probability map from ``deepCR(mask=NAME).clean(img, inpaint=False,
  binary=False, segment=False)``, NAME in ``ACS-WFC``, ``decam``, ``WFC3-UVIS``,
  ``ACS-WFC-F606W-2-4``.  The last is not in deepCR 0.3.1's ``mask_dict``; its
  weights ship in ``learned_models/mask/`` and are loaded (strict) into
  ``WrappedModel(UNet2SigmoidBatchNorm(1, 1, 4))``, which replaces ``maskNet``
  of a ``deepCR(mask='ACS-WFC')`` object, with ``scale = 100`` (the scale of the
  deepCR releases that listed this model).
* ``inpaint``: ``deepCR(mask='ACS-WFC', inpaint=NAME).inpaint(img, mask)``, NAME
  in ``ACS-WFC-F606W-2-32``, ``ACS-WFC-F606W-3-32`` (not in 0.3.1's
  ``inpaint_dict``: ``WrappedModel(UNet3BatchNorm(2, 1, 32))`` loaded strictly
  from ``learned_models/inpaint/`` replaces ``inpaintNet``) or ``medmask``
  (``inpaint=None``: deepCR's 5x5 median sampling, ``deepCR.util.medmask``).
* ``clean``: ``deepCR(mask=NAME, inpaint=INPAINT).clean(img, threshold=T,
  inpaint=True, binary=True, segment=False)``, writing the binary mask and the
  cleaned image; NAME and INPAINT as above (``medmask`` or ``none`` for
  ``inpaint=None``).
* ``batch``: JOBS.json is a list of dicts, each with ``"command"`` (``mask``,
  ``inpaint`` or ``clean``) and the options above as keys (``"model"``,
  ``"input"``, ``"output"``, ``"mask"``, ``"inpaint"``, ``"threshold"``,
  ``"out_mask"``, ``"out_clean"``, ``"scale"``), all run in one process; models
  are built once and reused.

``--scale`` defaults to the deepCR object's own ``scale`` (1 for every model,
100 for ``ACS-WFC-F606W-2-4``).  Torch runs on CPU in float32 with 2 threads,
deterministic algorithms and no autograd.  Each job prints one summary line.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np
import torch
from deepCR import __version__ as DEEPCR_VERSION
from deepCR import deepCR
from deepCR.unet import WrappedModel
from deepCR.unet_batchnorm import UNet2SigmoidBatchNorm, UNet3BatchNorm
from learned_models import default_model_path

MASK_MODELS = ("ACS-WFC", "decam", "WFC3-UVIS", "ACS-WFC-F606W-2-4")
INPAINT_MODELS = ("ACS-WFC-F606W-2-32", "ACS-WFC-F606W-3-32", "medmask")
NO_INPAINT = ("medmask", "none")

# Bundled with deepCR 0.3.1 but not in its mask_dict / inpaint_dict:
# name -> (class, constructor args, scale or None, dict model substituted into).
EXTRA_MASK = {"ACS-WFC-F606W-2-4": (UNet2SigmoidBatchNorm, (1, 1, 4), 100, "ACS-WFC")}
EXTRA_INPAINT = {"ACS-WFC-F606W-3-32": (UNet3BatchNorm, (2, 1, 32), None, "ACS-WFC-F606W-2-32")}

_CACHE = {}


def _setup_torch():
    torch.set_num_threads(2)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or parallel work already started
        pass
    torch.set_default_dtype(torch.float32)
    torch.use_deterministic_algorithms(True)
    # deepCR's WFC3-UVIS model uses the old torch.nn.utils.weight_norm
    warnings.filterwarnings("ignore", message=".*weight_norm.*", category=FutureWarning)
    if DEEPCR_VERSION != "0.3.1":
        sys.exit(f"upstream_deepcr: needs deepCR 0.3.1, found {DEEPCR_VERSION}")
    if not torch.__version__.startswith("2.13.0"):
        print(f"upstream_deepcr: warning: torch {torch.__version__}, not 2.13.0", file=sys.stderr)


def _load_extra(obj, kind, name):
    """A deepCR network for ``name``, built from deepCR's classes and bundled weights."""
    cls, args = (EXTRA_MASK if kind == "mask" else EXTRA_INPAINT)[name][:2]
    net = WrappedModel(cls(*args)).type(obj.dtype)
    path = os.path.join(default_model_path, kind, name + ".pth")
    state = torch.load(path, map_location="cpu")
    net.load_state_dict(state, strict=True)
    net.eval()
    return net


def build(mask, inpaint=None):
    """``(deepCR object, its default scale)`` for mask model ``mask`` and inpaint ``inpaint``."""
    if inpaint in NO_INPAINT:
        inpaint = None
    key = (mask, inpaint)
    if key in _CACHE:
        return _CACHE[key]
    if mask not in MASK_MODELS:
        raise ValueError(f"unknown mask model {mask!r}; one of {MASK_MODELS}")
    if inpaint is not None and inpaint not in INPAINT_MODELS:
        raise ValueError(f"unknown inpaint model {inpaint!r}; one of {INPAINT_MODELS}")
    base_mask = EXTRA_MASK[mask][3] if mask in EXTRA_MASK else mask
    base_inpaint = EXTRA_INPAINT[inpaint][3] if inpaint in EXTRA_INPAINT else inpaint
    obj = deepCR(mask=base_mask, inpaint=base_inpaint, device="CPU")
    if mask in EXTRA_MASK:
        obj.maskNet = _load_extra(obj, "mask", mask)
        obj.scale = EXTRA_MASK[mask][2]
    if inpaint in EXTRA_INPAINT:
        obj.inpaintNet = _load_extra(obj, "inpaint", inpaint)
    _CACHE[key] = (obj, obj.scale)
    return _CACHE[key]


def _image(path):
    img = np.load(path)
    if img.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D image, got shape {img.shape}")
    return img


def _save(path, arr):
    arr = np.asarray(arr, dtype=np.float32)
    np.save(path, arr)
    return f"{os.path.basename(path)} {arr.shape} min={arr.min():.6g} max={arr.max():.6g}"


def _with_scale(obj, default, scale):
    obj.scale = default if scale is None else scale
    return obj


def run_mask(args):
    obj, default = build(args.model)
    _with_scale(obj, default, args.scale)
    prob = obj.clean(_image(args.input), inpaint=False, binary=False, segment=False)
    return f"mask {args.model} scale={obj.scale}: " + _save(args.output, prob)


def run_inpaint(args):
    if args.model not in INPAINT_MODELS:
        raise ValueError(f"unknown inpaint model {args.model!r}; one of {INPAINT_MODELS}")
    obj, default = build("ACS-WFC", args.model)
    _with_scale(obj, default, args.scale)
    img = _image(args.input)
    mask = np.load(args.mask)
    if mask.shape != img.shape:
        raise ValueError(f"mask shape {mask.shape} != image shape {img.shape}")
    out = obj.inpaint(img, mask)
    return f"inpaint {args.model} scale={obj.scale}: " + _save(args.output, out)


def run_clean(args):
    obj, default = build(args.model, args.inpaint)
    _with_scale(obj, default, args.scale)
    mask, cleaned = obj.clean(
        _image(args.input), threshold=args.threshold, inpaint=True, binary=True, segment=False
    )
    head = f"clean {args.model}+{args.inpaint} scale={obj.scale} t={args.threshold}: "
    return head + _save(args.out_mask, mask) + "; " + _save(args.out_clean, cleaned)


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("mask", help="probability mask")
    p.add_argument("--model", required=True, choices=MASK_MODELS)
    p.add_argument("--input", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--scale", type=float, default=None)
    p.set_defaults(func=run_mask)

    p = sub.add_parser("inpaint", help="inpaint under a given mask")
    p.add_argument("--model", required=True, choices=INPAINT_MODELS)
    p.add_argument("--input", required=True)
    p.add_argument("--mask", required=True)
    p.add_argument("--output", required=True)
    p.add_argument("--scale", type=float, default=None)
    p.set_defaults(func=run_inpaint)

    p = sub.add_parser("clean", help="binary mask and inpainted image")
    p.add_argument("--model", required=True, choices=MASK_MODELS)
    p.add_argument("--inpaint", required=True, choices=INPAINT_MODELS + ("none",))
    p.add_argument("--input", required=True)
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--out-mask", required=True)
    p.add_argument("--out-clean", required=True)
    p.add_argument("--scale", type=float, default=None)
    p.set_defaults(func=run_clean)

    p = sub.add_parser("batch", help="run a JSON list of jobs in one process")
    p.add_argument("--jobs", required=True)
    return parser


def _job_argv(job):
    job = dict(job)
    argv = [job.pop("command")]
    for key, value in job.items():
        if value is not None:
            argv += ["--" + key.replace("_", "-"), str(value)]
    return argv


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    _setup_torch()
    if args.command == "batch":
        with open(args.jobs) as f:
            jobs = json.load(f)
        todo = [parser.parse_args(_job_argv(job)) for job in jobs]  # validate all first
        if any(job.command == "batch" for job in todo):
            parser.error("batch jobs cannot contain batch jobs")
    else:
        todo = [args]
    with torch.no_grad():
        for job in todo:
            print(job.func(job), flush=True)


if __name__ == "__main__":
    main()
