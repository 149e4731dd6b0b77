"""The real frames of ``../shared/realdata`` in electrons, for the benchmarks."""

from pathlib import Path

import numpy as np
from astropy.io import fits

from astromask.simulate import _frame_hits

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def _section(text):
    """FITS section '[x0:x1,y0:y1]' -> numpy slices."""
    x, y = text.strip("[] ").split(",")
    x0, x1 = (int(v) for v in x.split(":"))
    y0, y1 = (int(v) for v in y.split(":"))
    return slice(y0 - 1, y1), slice(x0 - 1, x1)


def frames(folder=REALDATA, *, tracking=False):
    """Yield ``(name, electrons, gain)`` for every frame with stars.

    Overscan levels are removed and the header gain applied; ``gain`` is
    that factor (electrons per ADU).  ``tracking=True`` adds the LCO 0.4 m
    frame, whose stars are short trails and which has many cosmic rays.
    """
    folder = Path(folder)
    with fits.open(folder / "saao1m_ste3_raw.fits") as hdul:
        h, d = hdul[0].header, hdul[0].data.astype(np.float64)
        bias = np.median(d[_section(h["BIASSEC"])])
        yield "saao1m", (d[_section(h["TRIMSEC"])][:512] - bias) * h["GAIN"], h["GAIN"]
    with fits.open(folder / "lco1m_fa05_raw_mef.fits") as hdul:
        for amp in range(1, 5):
            h, d = hdul[amp].header, hdul[amp].data.astype(np.float64)
            bias = np.median(d[_section(h["BIASSEC"])])
            yield f"lco1m amp{amp}", (d[_section(h["DATASEC"])] - bias) * h["GAIN"], h["GAIN"]
    yield "mro24m", fits.getdata(folder / "mro24m_bin4_proc.fits").astype(np.float64), 1.0
    for band in ("z", "r"):
        with fits.open(folder / f"decam_cp_{band}_N2_ooi.fits") as hdul:
            h = hdul[1].header
            yield f"decam {band}", hdul[1].data.astype(np.float64) * h["GAINA"], h["GAINA"]
    if tracking:
        with fits.open(folder / "lco04m_kb29_banzai.fits.fz") as hdul:
            h = hdul["SCI"].header
            yield "lco04m", hdul["SCI"].data.astype(np.float64) * h["GAIN"], h["GAIN"]


def find_hits(image):
    """Cut a frame's own cosmic-ray hits out as *hit shapes*.

    `astromask.simulate.cosmic_rays_from_frame` with its defaults: L.A. Cosmic
    (``sigclip=4.5``) finds the candidates; a hit is kept when it has 2 to 60
    pixels, lies more than 10 pixels from every star that
    `~photutils.detection.DAOStarFinder` finds (15 sigma), and peaks more than
    10 sigma above the local 5x5 median.  A shape is the hit's excess over
    that median (in the image's unit, clipped at 0) inside its footprint.

    Returns ``(hits, crmask, sources, median, std)``: the shapes (2-D value
    arrays, 0 outside the footprint), L.A. Cosmic's mask, the star table (or
    `None`), and the frame's clipped median and standard deviation.
    """
    hits, crmask, sources, median, std = _frame_hits(image)
    return [values for values, _ in hits], crmask, sources, median, std
