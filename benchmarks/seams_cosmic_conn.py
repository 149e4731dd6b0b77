"""Seams of Cosmic-CoNN on a frame larger than one tile: upstream against astromask.

Runs ``cosmic-conn`` 0.6.1 (through ``tools/upstream_cosmic_conn.py`` in the
Python given by ``ASTROMASK_COSMICCONN_PYTHON``) and astromask on the whole
LCO 0.4 m frame (1020x1523), with the ``ground_imaging`` model, and prints:

* the rows and columns upstream leaves unscored (probability exactly 0);
* across upstream's tile boundary (between columns 1023 and 1024): the mean
  and 99th percentile of ``|p[:, 1024] - p[:, 1023]|``, against the same
  statistic for every other pair of neighbouring columns (the seam shows as
  a jump well above the typical neighbour difference);
* the same for astromask's blended tiles;
* how many pixels above 0.5 differ between the two.

Usage::

    ASTROMASK_COSMICCONN_PYTHON=/path/to/python python benchmarks/seams_cosmic_conn.py
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realframes import REALDATA  # noqa: E402


def column_jumps(p):
    """``|p[:, j+1] - p[:, j]|`` over rows, for every column pair j."""
    return np.abs(np.diff(p, axis=1))


def report(name, p, boundary, rows):
    jumps = column_jumps(p[:rows])
    seam = jumps[:, boundary - 1]
    others = np.delete(jumps, boundary - 1, axis=1)
    print(
        f"{name:>10}: across column {boundary - 1}|{boundary}: mean {seam.mean():.2e}, "
        f"99th pct {np.percentile(seam, 99):.2e}; other column pairs: mean "
        f"{others.mean():.2e}, 99th pct {np.percentile(others, 99):.2e}"
    )


def main():
    import astromask

    python = os.environ.get("ASTROMASK_COSMICCONN_PYTHON")
    if not python:
        raise SystemExit("set ASTROMASK_COSMICCONN_PYTHON to a Python with cosmic-conn==0.6.1")
    with fits.open(REALDATA / "lco04m_kb29_banzai.fits.fz") as hdul:
        image = np.array(hdul["SCI"].data, dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "in.npy", image)
        subprocess.run(
            [
                python,
                str(ROOT / "tools" / "upstream_cosmic_conn.py"),
                "--model",
                "ground_imaging",
                "--input",
                str(Path(tmp) / "in.npy"),
                "--output",
                str(Path(tmp) / "out.npy"),
            ],
            check=True,
        )
        upstream = np.load(Path(tmp) / "out.npy")
    ours = astromask.probabilities(image, model="cosmic-conn/ground_imaging")
    ny, nx = image.shape
    zero_rows = int((upstream == 0).all(axis=1).sum())
    zero_cols = int((upstream == 0).all(axis=0).sum())
    print(
        f"frame {ny}x{nx}; upstream leaves {zero_rows} rows and {zero_cols} columns at 0; "
        f"astromask: {int((ours == 0).all(axis=1).sum())} and {int((ours == 0).all(axis=0).sum())}"
    )
    scored = ny - zero_rows
    report("upstream", upstream, 1024, scored)
    report("astromask", ours, 1024, scored)
    flips = ((ours > 0.5) != (upstream > 0.5))[:scored, : nx - zero_cols].sum()
    print(
        f"pixels above 0.5: upstream {(upstream > 0.5).sum()}, astromask {(ours > 0.5).sum()}, "
        f"differing (where upstream scores) {flips}"
    )


if __name__ == "__main__":
    main()
