"""Shared fixtures: real frames, upstream MaxiMask references, the Keras backend.

Environment variables
---------------------
``KERAS_BACKEND``
    The backend under test (tox sets it per environment).
``ASTROMASK_UPSTREAM_PYTHON``
    Python of a separate environment with ``tensorflow`` and
    ``MaxiMask==1.4.1``; parity tests run upstream there.
``ASTROMASK_DEEPCR_PYTHON``, ``ASTROMASK_COSMICCONN_PYTHON``
    Python of a separate environment with ``torch==2.13.0`` and
    ``deepCR==0.3.1`` (resp. ``cosmic-conn==0.6.1``); tox's ``upstream-torch``
    environment has both.
``ASTROMASK_REALDATA``
    Folder of real frames (default ``../shared/realdata`` beside the
    repository).
``ASTROMASK_REFERENCE_DIR``
    Where upstream's reference outputs are cached (default: pytest's cache);
    tox shares one folder between its backend environments.
``CI``
    When set, a missing real-data folder or upstream environment fails the
    tests that need them instead of skipping them.
"""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

ROOT = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("ASTROMASK_REALDATA", ROOT.parent / "shared" / "realdata"))
UPSTREAM_SCRIPT = ROOT / "tools" / "upstream_maximask.py"
IN_CI = bool(os.environ.get("CI"))

# Whole frames compared with upstream: (case name, file, HDU index).
REAL_FRAMES = [
    ("saao1m", "saao1m_ste3_raw.fits", 0),
    ("mro24m", "mro24m_bin4_proc.fits", 0),
    ("lco1m_amp1", "lco1m_fa05_raw_mef.fits", 1),
    ("lco1m_amp2", "lco1m_fa05_raw_mef.fits", 2),
    ("lco1m_amp3", "lco1m_fa05_raw_mef.fits", 3),
    ("lco1m_amp4", "lco1m_fa05_raw_mef.fits", 4),
    ("lco04m_sci", "lco04m_kb29_banzai.fits.fz", 1),
]

# Files that upstream MaxiTrack scores (every real frame of at least 400 px).
TRACK_FILES = sorted({filename for _, filename, _ in REAL_FRAMES})


def pytest_report_header(config):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow (Keras default)")
    return [
        f"KERAS_BACKEND: {backend}",
        f"ASTROMASK_WEIGHTS_URL: {os.environ.get('ASTROMASK_WEIGHTS_URL', '(GitHub)')}",
        f"real frames: {REALDATA if REALDATA.is_dir() else 'absent'}",
        f"upstream python: {os.environ.get('ASTROMASK_UPSTREAM_PYTHON', 'not set')}",
    ]


def unavailable(reason):
    """Skip with a reason, or fail in CI, where everything must run."""
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def realdata():
    """Folder of real CCD frames (skips, or fails in CI, when absent)."""
    if not REALDATA.is_dir():
        unavailable(f"real-data folder {REALDATA} is absent; set ASTROMASK_REALDATA")
    return REALDATA


def synthetic_tiles():
    """Two deterministic 400x400 normalised tiles: noise, a trail, a hot spot,
    a flat strip (exact ties in the pooling)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 400, 400, 1)).astype(np.float32)
    x[1, 100:110, 50:300] += 40
    x[1, 200:203, 200:203] += 200
    x[1, :, 390:] = 0
    return x


def synthetic_frame():
    """A deterministic raw-like 700x1000 frame (ny, nx) for whole-frame parity."""
    from astromask.simulate import simulated_frame

    ccd, _ = simulated_frame((700, 1000), seed=7)
    return ccd.data


def _digest(*parts):
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else str(part).encode())
    return h.hexdigest()[:24]


def _reference_python(variable, needs):
    """The Python named by ``variable``, with the real frames; else skip (fail in CI)."""
    python = os.environ.get(variable)
    if not python or not Path(python).exists():
        unavailable(f"{variable} is not set (Python with {needs})")
    if not REALDATA.is_dir():
        unavailable(f"real-data folder {REALDATA} is absent")
    return python


def _reference_cache(request, name):
    """Folder of cached reference outputs: ``ASTROMASK_REFERENCE_DIR`` (shared by
    tox's backend environments) or pytest's cache folder ``name``."""
    cache_env = os.environ.get("ASTROMASK_REFERENCE_DIR")
    cache = Path(cache_env) if cache_env else Path(request.config.cache.mkdir(name))
    cache.mkdir(parents=True, exist_ok=True)
    return cache


def _run_missing(command, jobs, work, *, output="output", timeout=1200, what):
    """Run ``command + [jobs file]`` on the jobs whose output is not cached yet."""
    todo = [job for job in jobs if not Path(job[output]).exists()]
    if not todo:
        return
    jobs_file = work / "jobs.json"
    jobs_file.write_text(json.dumps(todo))
    done = subprocess.run(
        [*command, str(jobs_file)], capture_output=True, text=True, timeout=timeout
    )
    if done.returncode:
        pytest.fail(f"{what} failed:\n{done.stderr[-3000:]}", pytrace=False)


@pytest.fixture(scope="session")
def upstream(request, tmp_path_factory):
    """Upstream MaxiMask outputs for every parity case, keyed by case name.

    Upstream runs once for all cases in its own environment; results are
    cached (``ASTROMASK_REFERENCE_DIR`` or pytest's cache folder), keyed by
    the input bytes and the reference script, so other backends' test runs
    reuse them.
    """
    python = os.environ.get("ASTROMASK_UPSTREAM_PYTHON")
    if not python:
        unavailable("ASTROMASK_UPSTREAM_PYTHON is not set (Python with MaxiMask==1.4.1)")
    if not REALDATA.is_dir():
        unavailable(f"real-data folder {REALDATA} is absent")
    cache = _reference_cache(request, "astromask-upstream")
    work = tmp_path_factory.mktemp("upstream")
    script = UPSTREAM_SCRIPT.read_bytes()
    jobs, outputs = [], {}

    tiles = synthetic_tiles()
    npy = work / "tiles.npy"
    np.save(npy, tiles)
    out = cache / f"tiles-{_digest(script, tiles.tobytes())}.npz"
    outputs["tiles"] = out
    jobs.append({"kind": "tile", "npy": str(npy), "out": str(out)})

    frame = synthetic_frame()
    frame_file = work / "frame.fits"
    fits.PrimaryHDU(frame).writeto(frame_file)
    out = cache / f"frame-{_digest(script, frame.tobytes())}.npz"
    outputs["frame"] = out
    jobs.append({"kind": "hdu", "file": str(frame_file), "hdu": 0, "out": str(out)})

    for name, filename, hdu in REAL_FRAMES:
        path = REALDATA / filename
        out = cache / f"{name}-{_digest(script, path.read_bytes(), hdu)}.npz"
        outputs[name] = out
        jobs.append({"kind": "hdu", "file": str(path), "hdu": hdu, "out": str(out)})

    for filename in TRACK_FILES:
        path = REALDATA / filename
        out = cache / f"track-{filename}-{_digest(script, path.read_bytes())}.npz"
        outputs[f"track:{filename}"] = out
        jobs.append({"kind": "track", "file": str(path), "out": str(out)})

    _run_missing(
        [python, str(UPSTREAM_SCRIPT)],
        jobs,
        work,
        output="out",
        timeout=1800,
        what="upstream MaxiMask",
    )

    def load(name):
        with np.load(outputs[name]) as npz:
            return {key: npz[key] for key in npz.files}

    return load


DEEPCR_SCRIPT = ROOT / "tools" / "upstream_deepcr.py"
DEEPCR_MASKS = ["ACS-WFC", "ACS-WFC-F606W-2-4", "decam", "WFC3-UVIS"]
DEEPCR_INPAINTS = ["ACS-WFC-F606W-2-32", "ACS-WFC-F606W-3-32"]


def deepcr_cutout():
    """A 512x512 real cut-out (electrons: GAIN 1) with many cosmic rays, and a
    cosmic-ray-like mask found without any network (backend-independent)."""
    from scipy import ndimage

    with fits.open(REALDATA / "lco04m_kb29_banzai.fits.fz") as hdul:
        image = np.array(hdul["SCI"].data[200:712, 300:812], dtype=np.float32)
    local = ndimage.median_filter(image, size=5)
    sigma = 1.4826 * np.median(np.abs(image - np.median(image)))
    mask = ndimage.binary_dilation(image - local > 8 * sigma, iterations=1)
    return image, mask


@pytest.fixture(scope="session")
def deepcr_upstream(request, tmp_path_factory):
    """Upstream deepCR 0.3.1 outputs on `deepcr_cutout`, keyed ``mask:NAME`` and
    ``inpaint:NAME``; cached like the MaxiMask references."""
    python = _reference_python("ASTROMASK_DEEPCR_PYTHON", "torch and deepCR==0.3.1")
    cache = _reference_cache(request, "astromask-deepcr")
    work = tmp_path_factory.mktemp("deepcr")
    image, mask = deepcr_cutout()
    np.save(work / "image.npy", image)
    np.save(work / "mask.npy", mask)
    key = _digest(DEEPCR_SCRIPT.read_bytes(), image.tobytes(), mask.tobytes())
    outputs, jobs = {}, []
    for name in DEEPCR_MASKS:
        out = cache / f"deepcr-mask-{name}-{key}.npy"
        outputs[f"mask:{name}"] = out
        jobs.append(
            {"command": "mask", "model": name, "input": str(work / "image.npy"), "output": str(out)}
        )
    for name in [*DEEPCR_INPAINTS, "medmask"]:
        out = cache / f"deepcr-inpaint-{name}-{key}.npy"
        outputs[f"inpaint:{name}"] = out
        jobs.append(
            {
                "command": "inpaint",
                "model": name,
                "input": str(work / "image.npy"),
                "mask": str(work / "mask.npy"),
                "output": str(out),
            }
        )
    _run_missing(
        [python, str(DEEPCR_SCRIPT), "batch", "--jobs"], jobs, work, what="upstream deepCR"
    )
    return {name: np.load(path) for name, path in outputs.items()} | {"image": image, "mask": mask}


COSMIC_CONN_SCRIPT = ROOT / "tools" / "upstream_cosmic_conn.py"
COSMIC_CONN_MODELS = ["ground_imaging", "NRES", "HST_ACS_WFC"]


def cosmic_conn_frames():
    """Real frames on which cosmic-conn 0.6.1 runs its network once on the whole
    frame (sides multiples of 16, at most 1024): ``{name: float32 image}``."""
    image, _ = deepcr_cutout()
    frames = {"lco04m_cutout": image}
    with fits.open(REALDATA / "mro24m_bin4_proc.fits") as hdul:
        frames["mro24m"] = np.array(hdul[0].data, dtype=np.float32)
    with fits.open(REALDATA / "decam_cp_z_N2_ooi.fits") as hdul:
        data = next(h.data for h in hdul if h.data is not None and h.data.ndim == 2)
        frames["decam_z_240"] = np.array(data[:240, :240], dtype=np.float32)
    return frames


@pytest.fixture(scope="session")
def cosmic_conn_upstream(request, tmp_path_factory):
    """Upstream cosmic-conn 0.6.1 probabilities on `cosmic_conn_frames`, keyed
    ``(model, frame)``; cached like the other references."""
    python = _reference_python("ASTROMASK_COSMICCONN_PYTHON", "torch and cosmic-conn==0.6.1")
    cache = _reference_cache(request, "astromask-cc")
    work = tmp_path_factory.mktemp("cosmic_conn")
    frames = cosmic_conn_frames()
    outputs, jobs = {}, []
    for frame, image in frames.items():
        np.save(work / f"{frame}.npy", image)
        key = _digest(COSMIC_CONN_SCRIPT.read_bytes(), image.tobytes())
        for model in COSMIC_CONN_MODELS:
            out = cache / f"cosmic-conn-{model}-{frame}-{key}.npy"
            outputs[(model, frame)] = out
            jobs.append({"model": model, "input": str(work / f"{frame}.npy"), "output": str(out)})
    _run_missing(
        [python, str(COSMIC_CONN_SCRIPT), "--jobs"], jobs, work, what="upstream cosmic-conn"
    )
    return {name: np.load(path) for name, path in outputs.items()}, frames


ATTENTION_SCRIPT = ROOT / "tools" / "reference_attention_torch.py"
ATTENTION_MODELS = ["deepCR", "Att_deepCR", "Cosmic-CoNN", "Att_Cosmic-CoNN"]


def attention_frames():
    """The 512x512 LCO 0.4 m cut-out (GAIN 1: ADU = electrons) and the DECam z
    cut-out cropped to a multiple of 4, in ADU: ``{name: float32 image}``."""
    image, _ = deepcr_cutout()
    with fits.open(REALDATA / "decam_cp_z_N2_ooi.fits") as hdul:
        data = next(h.data for h in hdul if h.data is not None and h.data.ndim == 2)
    ny, nx = (s - s % 4 for s in data.shape)
    return {"lco04m_cutout": image, "decam_z": np.array(data[:ny, :nx], dtype=np.float32)}


@pytest.fixture(scope="session")
def attention_reference(request, tmp_path_factory):
    """Bhavanam et al.'s four DECam models run by an independent torch
    implementation (tools/reference_attention_torch.py, strict state-dict
    loading) on `attention_frames`, keyed ``(model, frame)``."""
    from astromask import data

    python = _reference_python("ASTROMASK_COSMICCONN_PYTHON", "torch==2.13.0")
    cache = _reference_cache(request, "astromask-att")
    work = tmp_path_factory.mktemp("attention")
    frames = attention_frames()
    outputs, jobs = {}, []
    for frame, image in frames.items():
        np.save(work / f"{frame}.npy", image)
        for model in ATTENTION_MODELS:
            spec = data.model_files(f"decam-attention/{model}")[0]
            weights = data.fetch(spec)
            key = _digest(ATTENTION_SCRIPT.read_bytes(), image.tobytes(), spec.sha256)
            out = cache / f"attention-{model}-{frame}-{key}.npy"
            outputs[(model, frame)] = out
            jobs.append(
                {"weights": str(weights), "input": str(work / f"{frame}.npy"), "output": str(out)}
            )
    _run_missing([python, str(ATTENTION_SCRIPT), "--jobs"], jobs, work, what="torch reference")
    return {name: np.load(path) for name, path in outputs.items()}, frames


def assert_probabilities_match(ours, reference, label, *, against="upstream", tolerance=1e-4):
    """A probability map against its reference: same shape, float32, max |dp| <=
    ``tolerance`` and the same pixels above 0.5; prints the figures (``-s``)."""
    assert ours.shape == reference.shape and ours.dtype == np.float32
    delta = float(np.abs(ours - reference).max())
    flips = int(((ours > 0.5) != (reference > 0.5)).sum())
    print(
        f"\n{label}: max |dp| = {delta:.3g}; flagged at 0.5: ours {(ours > 0.5).sum()}, "
        f"{against} {(reference > 0.5).sum()}, differing {flips}"
    )
    assert delta <= tolerance
    assert flips == 0


def run_cli(*args, cwd=None, timeout=900):
    """Run ``python -m astromask.cli ARGS`` in a subprocess, as users run it.

    Returns the `subprocess.CompletedProcess` (text stdout and stderr).
    """
    import sys

    return subprocess.run(
        [sys.executable, "-m", "astromask.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def sha256_file(path):
    """The SHA-256 hex digest of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
