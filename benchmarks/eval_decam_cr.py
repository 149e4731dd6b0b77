"""Cosmic-ray detection on the DECam community-pipeline cut-outs, against the pipeline.

The cut-outs ``decam_cp_{z,r}_N2_ooi.fits`` in ``../shared/realdata`` come
with the pipeline's data-quality map (``_ood``), where code 5 marks cosmic
rays.  For every detector this prints, per cut-out:

* tracks found: connected (8-neighbour) cosmic-ray regions of the pipeline
  map that share at least one pixel with the detector's mask;
* footprint pixels: how many of the pipeline's cosmic-ray pixels it flags
  (the pipeline's footprint is dilated, so 100 % is not expected);
* outside: how many pixels it flags outside the pipeline's footprint.

Every detector is called the same way, as a ccdproc user calls
``cosmicray_lacosmic``, with the gain, read noise and saturation level from
the header.  Usage::

    python benchmarks/eval_decam_cr.py [REALDATA_DIR]
"""

import os
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from ccdproc import cosmicray_lacosmic
from scipy import ndimage

from astromask import cosmicray_deepcr, cosmicray_maximask
from astromask.presets import cosmic_ray_models

# ../shared/realdata beside the repository (not the working folder), or
# ASTROMASK_REALDATA, as for the tests.
REALDATA = Path(
    os.environ.get(
        "ASTROMASK_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"
    )
)


def detectors():
    yield "ccdproc.cosmicray_lacosmic", cosmicray_lacosmic, {}
    for model in cosmic_ray_models():
        yield f"cosmicray_deepcr {model}", cosmicray_deepcr, {"model": model}
    yield "cosmicray_maximask", cosmicray_maximask, {}


def load(folder, band):
    with fits.open(folder / f"decam_cp_{band}_N2_ooi.fits") as hdul:
        header = hdul[1].header
        data = np.asarray(hdul[1].data, dtype=np.float32)
    dq = fits.getdata(folder / f"decam_cp_{band}_N2_ood.fits", ext=1)
    ccd = CCDData(data, unit="adu", meta=header)
    return ccd, dq == 5


def evaluate(folder):
    rows = []
    for band in ("z", "r"):
        ccd, truth = load(folder, band)
        gain = float(ccd.meta["GAINA"])
        tracks, n_tracks = ndimage.label(truth, structure=np.ones((3, 3)))
        for name, function, extra in detectors():
            out = function(
                ccd,
                gain=gain,
                readnoise=float(ccd.meta["RDNOISEA"]),
                satlevel=float(ccd.meta["SATURATE"]) * gain,
                **extra,
            )
            mask = out.mask
            found = len(set(np.unique(tracks[mask & truth])) - {0})
            rows.append(
                (
                    band,
                    name,
                    f"{found}/{n_tracks}",
                    f"{int((mask & truth).sum())}/{int(truth.sum())}",
                    int((mask & ~truth).sum()),
                )
            )
    return rows


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else REALDATA
    rows = evaluate(folder)
    header = ("band", "detector", "tracks found", "footprint pixels", "outside")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    print(rule)
    print("  ".join(str(h).ljust(w) for h, w in zip(header, widths)))
    print(rule)
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    print(rule)


if __name__ == "__main__":
    main()
