"""Cosmic-ray detections at the data-section borders of raw frames, against L.A. Cosmic.

The raw SAAO 1 m frame (overscan, TRIMSEC with 8 unexposed rows) and the four
amplifiers of the raw LCO 1 m file (DATASEC, BIASSEC) of ``../shared/realdata``
go, untrimmed, through ``ccdproc.cosmicray_lacosmic`` and
`astromask.cosmicray_deepcr` (its default detector) as the docs call them:
a `~astropy.nddata.CCDData` in ADU with its header and the header's gain.
For each it prints the pixels flagged in all and within 3 pixels of the
borders of the data section (`astromask.io.detection_region`)
or outside it, for astromask's default ``section="header"`` and for
``section=None`` (the whole frame).  Usage::

    python benchmarks/bench_cr_edges.py [REALDATA_DIR]
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realframes import REALDATA  # noqa: E402


def border(shape, region, width=3):
    """Pixels outside ``region`` or within ``width`` of its edges."""
    mask = np.ones(shape, bool)
    ys, xs = region
    mask[ys.start + width : ys.stop - width, xs.start + width : xs.stop - width] = False
    return mask


def raw_frames(folder):
    with fits.open(folder / "saao1m_ste3_raw.fits") as hdul:
        yield "SAAO 1 m, raw", hdul[0].data.astype(np.float32), hdul[0].header.copy()
    with fits.open(folder / "lco1m_fa05_raw_mef.fits") as hdul:
        for amp in range(1, 5):
            yield (
                f"LCO 1 m, amplifier {amp}",
                hdul[amp].data.astype(np.float32),
                hdul[amp].header.copy(),
            )


def main(argv=None):
    folder = Path(argv[0]) if argv else REALDATA
    warnings.simplefilter("ignore")
    from ccdproc import cosmicray_lacosmic

    import astromask
    from astromask.io.sections import detection_region

    print(f"{'frame':24s} {'L.A. Cosmic':>16s} {'astromask':>16s} {'whole frame':>16s}")
    print(f"{'':24s} {'all / border':>16s} {'all / border':>16s} {'all / border':>16s}")
    for name, data, header in raw_frames(folder):
        ccd = CCDData(data, unit="adu", meta=header)
        gain = float(header["GAIN"])
        region = detection_region(header, data.shape, data * gain)
        edge = border(data.shape, region)
        masks = [
            cosmicray_lacosmic(ccd, gain=gain * u.electron / u.adu, readnoise=5.0).mask,
            astromask.cosmicray_deepcr(ccd, gain=gain, inpaint=None, progress=False).mask,
            astromask.cosmicray_deepcr(
                ccd, gain=gain, inpaint=None, progress=False, section=None
            ).mask,
        ]
        cells = [f"{m.sum()} / {(m & edge).sum()}" for m in masks]
        print(f"{name:24s} {cells[0]:>16s} {cells[1]:>16s} {cells[2]:>16s}")


if __name__ == "__main__":
    main(sys.argv[1:])
