"""Every ``.. code-block:: python`` of README.rst and docs/*.rst runs here.

The doctests of those pages (``>>>``, ``.. doctest::``) run through
pytest-doctestplus (``--doctest-rst``); the code blocks are not doctests, so
this module finds them by parsing the rst and executes each one in a fresh
namespace, in a fresh working directory, with the names its page assumes
(``ccd``, ``frame.fits``...) prepared by `SETUP`: small simulated frames, so
the module runs in a minute or two on a CPU.  A block that cannot run in a
test is listed in `NOT_RUN` with the reason, and
`test_every_block_is_run_or_listed` fails on a block that is in neither, so a
new example cannot escape.

Blocks are named ``FILE: FIRST LINE`` in the tables (robust to edits above
them) and ``FILE:LINE`` (of the directive) in the test ids.
"""

import copy
import re
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.rst", *sorted((ROOT / "docs").glob("*.rst"))]

_DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*)\.\.[ \t]+(?:code-block|code|sourcecode)::[ \t]*(?P<lang>\S*)"
)
_OPTION = re.compile(r"^[ \t]*:[\w-]+:")
_COMMENT = re.compile(r"\s+#.*")


@dataclass(frozen=True)
class Block:
    path: str  # relative to the repository root
    line: int  # of the directive, 1-based
    source: str

    @property
    def id(self):
        return f"{self.path}:{self.line}"

    @property
    def key(self):
        first = next(line for line in self.source.splitlines() if line.strip())
        first = _COMMENT.sub("", first).strip()
        return f"{self.path}: {first}"


def code_blocks(language):
    """Every ``.. code-block:: LANGUAGE`` of the pages, in page order."""
    blocks = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            match = _DIRECTIVE.match(line)
            if not match or match["lang"].lower() not in language:
                continue
            indent = len(match["indent"].expandtabs())
            body = []
            for following in lines[number + 1 :]:
                if following.strip() and len(following) - len(following.lstrip()) <= indent:
                    break  # back at the directive's level: the block ended
                body.append(following)
            while body and (not body[0].strip() or _OPTION.match(body[0])):
                body.pop(0)  # the directive's options and the blank line after them
            source = textwrap.dedent("\n".join(body)).strip() + "\n"
            blocks.append(Block(str(page.relative_to(ROOT)), number + 1, source))
    return blocks


PYTHON = ("python", "python3", "py")
BLOCKS = code_blocks(PYTHON)


# --------------------------------------------------------------------------
# What the blocks assume
# --------------------------------------------------------------------------

SHAPE = (256, 256)  # every frame but MaxiTrack's (at least 400x400)


@cache
def _simulated(shape=SHAPE, seed=0):
    from astromask.simulate import simulated_frame

    return simulated_frame(shape, seed=seed)


def _raw(shape=SHAPE):
    """A raw simulated frame (ADU, gain 1.5) and its truth maps, copies."""
    ccd, truth = _simulated(shape)
    return copy.deepcopy(ccd), {name: mask.copy() for name, mask in truth.items()}


@cache
def _flagged_once():
    import astromask

    return astromask.flag(_raw()[0], progress=False)


def _flagged():
    return copy.deepcopy(_flagged_once())


def _write_frame(path, shape=SHAPE, seed=0, hdu=None):
    """A simulated raw frame as a FITS file, in HDU ``hdu`` of a MEF if given."""
    ccd, _ = _simulated(shape, seed)
    image = fits.ImageHDU(ccd.data, fits.Header(ccd.meta))
    hdus = [fits.PrimaryHDU(ccd.data, image.header)] if hdu is None else [fits.PrimaryHDU(), image]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList(hdus).writeto(path)


def _dark(seed):
    """A dark frame (electrons): read noise and a few cosmic-ray hits."""
    rng = np.random.default_rng(seed)
    dark = rng.normal(0.0, 5.0, SHAPE).astype(np.float32)
    for _ in range(12):
        y, x = rng.integers(4, SHAPE[0] - 4), rng.integers(4, SHAPE[1] - 4)
        dark[y : y + rng.integers(1, 3), x : x + rng.integers(1, 4)] += rng.uniform(200, 2000)
    return dark


def _astromask(folder):
    import astromask

    return {"astromask": astromask}


def _ccd(folder):
    return {**_astromask(folder), "ccd": _raw()[0]}


def _frame_file(folder):
    _write_frame(folder / "frame.fits")
    return {}


def _plots(folder):
    import matplotlib

    matplotlib.use("Agg")
    return {}


def _flag_files(folder):
    _write_frame(folder / "night1" / "a.fits", seed=1)
    _write_frame(folder / "night2" / "b.fits", seed=2)
    _write_frame(folder / "c.fits", seed=3)
    (folder / "extra.list").write_text("c.fits\n")
    return _astromask(folder)


def _calibrate_own(folder):
    from astromask.simulate import simulated_frame

    clean, _ = simulated_frame(SHAPE, seed=5)
    clean = (clean.data - 300.0) * 1.5  # bias off, electrons (its own hits stay)
    return {**_ccd(folder), "dark": _dark(0), "clean": clean, "gain": 1.5}


def _labelled(folder):
    ccd, truth = _raw()
    return {**_astromask(folder), "ccd": ccd, "cr_truth": truth["CR"], "saturated": truth["SAT"]}


def _roc(folder):
    # As in the doctest above the block in docs/metrics.rst.
    from astromask import metrics

    rng = np.random.default_rng(0)
    truth = rng.random((64, 64)) < 0.05
    scores = np.clip(rng.normal(0.2 + 0.5 * truth, 0.12), 0, 1).astype(np.float32)
    return {**_plots(folder), "metrics": metrics, "scores": scores, "truth": truth}


def _training_files(folder):
    for number in (1, 2):
        fits.PrimaryHDU(_dark(number)).writeto(folder / f"dark{number}.fits")
    for seed, name in enumerate(["night1/c4d_001", "night1/c4d_002", "night2/c4d_101"], start=11):
        _write_frame(folder / f"{name}.fits", seed=seed, hdu=1)
    return {}


def _training_sets(folder):
    from astromask import simulate, training, zoo

    spec = zoo.cosmic_ray_spec("decam-attention/Att_deepCR")
    hits = simulate.cosmic_rays_from_dark(_dark(1))
    frames = [_simulated(SHAPE, seed)[0].data for seed in (11, 12)]
    small = {"hits": hits, "tile": 64, "batch_size": 2}
    data = training.TileDataset(frames, spec, steps=2, **small)
    fraction = data.positive_fraction
    held = training.TileDataset(
        frames[:1], spec, steps=1, fixed=True, seed=1, positive_fraction=fraction, **small
    )
    return {**_ccd(folder), "data": data, "held": held}


@dataclass(frozen=True)
class Setup:
    """How to run one block.

    prepare
        ``prepare(folder)`` writes the files the block reads into ``folder``
        (the working directory) and returns the names it assumes.
    weights
        It needs pretrained weights (marked ``remote_data``).
    warns
        Regex of the warning the block is documented to emit.
    replace
        ``(old, new)`` edits that make it quick enough for CI; each ``old``
        must be in the block.
    subprocess
        Run it in a fresh Python (it sets ``KERAS_BACKEND``).
    creates
        Files the block must have written.
    """

    prepare: Callable = _astromask
    weights: bool = True
    warns: str = None
    replace: tuple = ()
    subprocess: bool = False
    creates: tuple = ()


def _all(*prepares):
    def prepare(folder):
        names = {}
        for one in prepares:
            names.update(one(folder))
        return names

    return prepare


SETUP = {
    "README.rst: from astropy.nddata import CCDData": Setup(_frame_file),
    "docs/backends.rst: import os": Setup(weights=False, subprocess=True),
    'docs/backends.rst: flagged = astromask.flag(ccd, device="gpu:0")': Setup(
        _ccd,
        replace=(('"gpu:0"', '"cpu"'),),  # no GPU in CI
    ),
    "docs/backends.rst: import keras": Setup(weights=False),
    "docs/cosmicrays.rst: from ccdproc import cosmicray_lacosmic": Setup(
        lambda folder: {"ccd": _raw()[0], "array": _raw()[0].data}, warns="sigclip"
    ),
    "docs/cosmicrays.rst: ccd = astromask.flag(ccd)": Setup(_ccd),
    'docs/cosmicrays.rst: p = astromask.probabilities(ccd, model="deepcr/ACS-WFC")': Setup(_ccd),
    "docs/cosmicrays.rst: ccd = astromask.cosmicray_deepcr(ccd, gain=1.5, inpaint=None)": Setup(
        lambda folder: {**_ccd(folder), "mask": _raw()[1]["CR"]}
    ),
    "docs/cosmicrays.rst: import astromask": Setup(_calibrate_own),
    "docs/flagging.rst: from astromask.visualization import plot_flags": Setup(_all(_ccd, _plots)),
    "docs/getting_started.rst: from astropy.nddata import CCDData": Setup(
        _frame_file, creates=("flagged.fits",)
    ),
    "docs/getting_started.rst: from astromask.visualization import plot_flags": Setup(
        lambda folder: {**_plots(folder), "flagged": _flagged()}, creates=("flags.png",)
    ),
    "docs/index.rst: import astromask": Setup(_ccd),
    'docs/metrics.rst: ax = metrics.plot_roc(scores, truth, label="network")': Setup(
        _roc, weights=False
    ),
    "docs/metrics.rst: import astromask": Setup(_labelled),
    "docs/metrics.rst: raw = astromask.probabilities(ccd, priors=None)": Setup(_labelled),
    'docs/priors.rst: ccd = astromask.flag(ccd, priors={"CR": 0.005, "TRL": 0.0001},': Setup(_ccd),
    "docs/scaling.rst: import astromask": Setup(
        _flag_files,
        replace=(("workers=4", "workers=1"),),  # one worker process starts in half the time
        creates=("flag_report.ecsv", "masks/a.mask.fits", "masks/b.mask.fits", "masks/c.mask.fits"),
    ),
    "docs/tracking.rst: ccd = astromask.track(ccd)": Setup(
        lambda folder: {**_astromask(folder), "ccd": _raw((400, 400))[0]}
    ),
    "docs/training.rst: import astromask": Setup(_training_files, weights=False),
    (
        "docs/training.rst: history = astromask.train("
        'data, held, start="decam-attention/Att_deepCR",'
    ): Setup(_training_sets, replace=(("epochs=20", "epochs=1"),), creates=("mine.keras",)),
}

NOT_RUN = {
    "docs/scaling.rst: from dask_jobqueue import SLURMCluster": (
        "needs a SLURM batch system and dask-jobqueue; the page says it was not tried"
    ),
}


def _params():
    params = []
    for block in BLOCKS:
        setup = SETUP.get(block.key)
        if setup is None:
            continue  # test_every_block_is_run_or_listed says why
        marks = [pytest.mark.remote_data] if setup.weights else []
        params.append(pytest.param(block, setup, id=block.id, marks=marks))
    return params


# --------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------


def test_every_block_is_run_or_listed():
    keys = [block.key for block in BLOCKS]
    assert len(keys) == len(set(keys)), "two blocks of a page start alike; rename a key"
    missing = [f"{b.id} ({b.key})" for b in BLOCKS if b.key not in SETUP and b.key not in NOT_RUN]
    assert not missing, f"add these blocks to SETUP (or NOT_RUN, with a reason): {missing}"
    both = set(SETUP) & set(NOT_RUN)
    assert not both, f"in both SETUP and NOT_RUN: {both}"
    stale = (set(SETUP) | set(NOT_RUN)) - set(keys)
    assert not stale, f"no such block any more (edit the key): {stale}"
    assert all(reason.strip() for reason in NOT_RUN.values()), "give each NOT_RUN entry a reason"


@pytest.mark.parametrize(("block", "setup"), _params())
def test_block_runs(block, setup, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    source = block.source
    for old, new in setup.replace:
        assert old in source, f"{block.id}: {old!r} is no longer in the block"
        source = source.replace(old, new)
    if setup.subprocess:
        done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return
    namespace = {"__name__": "__main__", **setup.prepare(tmp_path)}
    code = compile(source, block.id, "exec")
    try:
        if setup.warns:
            with pytest.warns(UserWarning, match=setup.warns), warnings.catch_warnings():
                # pytest.warns records every warning and re-raises the others
                # from here, where setup.cfg's per-module filters no longer
                # apply: keep ignoring the backends' deprecation notes.
                warnings.simplefilter("ignore", DeprecationWarning)
                exec(code, namespace)  # noqa: S102 - the documentation's own examples
        else:
            exec(code, namespace)  # noqa: S102
    finally:
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
    for name in setup.creates:
        assert (tmp_path / name).is_file(), f"{block.id} did not write {name}"
