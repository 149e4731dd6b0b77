"""Record astromask's outputs on the real frames, or compare them with a record.

A refactoring must leave every result unchanged.  Run this before the first
move and after the last one, on the same backend::

    python tools/record_outputs.py record before.npz
    python tools/record_outputs.py compare before.npz

It runs `astromask.flag`, `astromask.probabilities` with every network of the
model table, `astromask.track`, `astromask.cosmicray_deepcr` (every detector),
`astromask.inpaint` (every method) and the command line (``flag``,
``flag --single-mask``, ``track``, ``cosmicray``) on every 2-D image of
``../shared/realdata`` (or ``ASTROMASK_REALDATA``), and stores each output
array and the FITS cards astromask writes.  ``compare`` recomputes them and
prints, per output, whether it is bit-identical; it exits 1 on any
difference.  Weights come from the usual cache (``ASTROMASK_WEIGHTS_URL``,
``ASTROMASK_DATA_DIR``).
"""

import argparse
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData

REALDATA = Path(
    os.environ.get("ASTROMASK_REALDATA", Path(__file__).resolve().parents[2] / "shared/realdata")
)
# astromask's own cards; those that change with the run (version) are left out
_SKIP_CARDS = {"AMVERS"}


def _images():
    """Yield ``(label, CCDData, gain, readnoise)`` for each 2-D image HDU, in adu."""
    for path in sorted(REALDATA.glob("*.fits*")):
        with fits.open(path) as hdul:
            for index, hdu in enumerate(hdul):
                if not hdu.is_image or hdu.data is None or hdu.data.ndim != 2:
                    continue
                if hdu.data.dtype.kind not in "iuf" or min(hdu.data.shape) < 8:
                    continue
                if hdu.name in ("VAR", "DQ", "ERR", "BPM", "SKYFIT") or "_ood" in path.name:
                    continue
                header = hdu.header
                gain = float(header.get("GAIN", header.get("GAINA", 1.0)) or 1.0)
                readnoise = float(header.get("RDNOISE", 5.0) or 5.0)
                ccd = CCDData(hdu.data.astype(np.float32), unit=u.adu, meta=header.copy())
                yield f"{path.name}[{index}]", ccd, gain, readnoise, path, index


def _cards(meta):
    return {
        k: str(v) for k, v in meta.items() if str(k).startswith("AM") and k not in _SKIP_CARDS
    }


def _run_cli(args, folder):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "astromask.cli", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    return result.returncode, result.stdout


def _fits_outputs(path, key, out):
    with fits.open(path) as hdul:
        for i, hdu in enumerate(hdul):
            if hdu.data is not None and hdu.is_image:
                out[f"{key}/hdu{i}/data"] = np.asarray(hdu.data)
            cards = {
                k: str(v)
                for k, v in hdu.header.items()
                if k not in _SKIP_CARDS and k not in ("DATE", "CHECKSUM", "DATASUM")
            }
            out[f"{key}/hdu{i}/header"] = np.array(repr(sorted(cards.items())))


def record(quick=False):
    import astromask
    from astromask import zoo

    cr_models = list(zoo.cosmic_ray_models())
    inpaint_methods = [
        "medmask",
        "gaussian",
        "deepcr/ACS-WFC-F606W-2-32",
        "deepcr/ACS-WFC-F606W-3-32",
    ]
    out = {}
    cli_inputs = set()
    for label, ccd, gain, readnoise, path, _ in _images():
        print(label, ccd.shape, flush=True)
        original = ccd.data.copy()
        flagged = astromask.flag(ccd, progress=False)
        out[f"{label}/flag/flags"] = flagged.flags
        out[f"{label}/flag/mask"] = flagged.mask
        out[f"{label}/flag/cards"] = np.array(repr(sorted(_cards(flagged.meta).items())))
        out[f"{label}/probabilities/maximask"] = astromask.probabilities(ccd, progress=False)
        if not quick:
            for model in cr_models:
                out[f"{label}/probabilities/{model}"] = astromask.probabilities(
                    ccd.data, model=model, progress=False
                )
        if min(ccd.shape) >= 400:
            tracked = astromask.track(ccd)
            out[f"{label}/track"] = np.array(repr(sorted(_cards(tracked.meta).items())))
        # each detector's probabilities are recorded above; the drop-ins are run
        # with the default, the Cosmic-CoNN family and MaxiMask
        drop_ins = ["deepcr/decam", "cosmic-conn/ground_imaging", "maximask"]
        for detector in ["deepcr/decam"] if quick else drop_ins:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if detector == "maximask":
                    clean = astromask.cosmicray_maximask(ccd, gain=gain, readnoise=readnoise)
                else:
                    clean = astromask.cosmicray_deepcr(
                        ccd, gain=gain, readnoise=readnoise, model=detector
                    )
            out[f"{label}/cosmicray/{detector}/data"] = clean.data
            out[f"{label}/cosmicray/{detector}/mask"] = clean.mask
        bad = flagged.mask
        for method in inpaint_methods[:1] if quick else inpaint_methods:
            out[f"{label}/inpaint/{method}"] = astromask.inpaint(ccd, bad, method=method).data
        assert np.array_equal(ccd.data, original, equal_nan=True), "input modified"
        cli_inputs.add(path)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        cli_files = ("saao1m_ste3_raw.fits", "lco1m_fa05_raw_mef.fits", "gemini_gmos_s_cutout.fits")
        for path in sorted(p for p in cli_inputs if p.name in cli_files)[: 1 if quick else None]:
            name = path.name.split(".fits")[0]
            for sub, extra in [
                ("flag", []),
                ("flag-single", ["--single-mask"]),
                ("cosmicray", []),
            ]:
                command = "cosmicray" if sub == "cosmicray" else "flag"
                target = folder / f"{name}.{sub}.fits"
                code, _ = _run_cli(
                    [command, str(path), "--output", str(target), "-q", *extra], folder
                )
                out[f"cli/{name}/{sub}/exit"] = np.array(code)
                if code == 0:
                    _fits_outputs(target, f"cli/{name}/{sub}", out)
            code, text = _run_cli(["track", str(path), "-q"], folder)
            out[f"cli/{name}/track"] = np.array(f"{code}\n{text}")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["record", "compare"])
    parser.add_argument("file", help="the .npz record")
    parser.add_argument("--quick", action="store_true", help="fewer models, for a smoke run")
    args = parser.parse_args(argv)
    if not REALDATA.is_dir():
        parser.error(f"no real frames at {REALDATA} (set ASTROMASK_REALDATA)")
    import keras

    print(f"backend {keras.backend.backend()}", flush=True)
    outputs = record(quick=args.quick)
    if args.action == "record":
        np.savez_compressed(args.file, **outputs)
        print(f"recorded {len(outputs)} outputs in {args.file}")
        return 0
    with np.load(args.file, allow_pickle=False) as before:
        names = sorted(set(before.files) | set(outputs))
        differ = 0
        for name in names:
            if name not in before.files or name not in outputs:
                print(f"MISSING {name}: only {'after' if name in outputs else 'before'}")
                differ += 1
                continue
            old, new = before[name], np.asarray(outputs[name])
            same = old.shape == new.shape and old.dtype == new.dtype
            same = same and np.array_equal(old, new, equal_nan=old.dtype.kind in "fc")
            if not same:
                differ += 1
                print(f"DIFFERENT {name}")
        print(f"{len(names)} outputs compared, {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
