"""The real frames of ``../shared/realdata`` in electrons, for the benchmarks."""

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.stats import sigma_clipped_stats

from astromask.io import parse_section
from astromask.simulate import _frame_hits

# ../shared/realdata beside the repository (not the working folder), or
# ASTROMASK_REALDATA, as for the tests.
REALDATA = Path(
    os.environ.get(
        "ASTROMASK_REALDATA", Path(__file__).resolve().parents[2] / "shared" / "realdata"
    )
)

LSST_HITS = "imsim_cosmic_rays_itl_2017_half.fits.gz"


def estimated_gain(image):
    """Electrons per ADU of a sky-dominated frame without a GAIN keyword.

    Poisson statistics: the clipped sky level over its variance, bounded to
    [1, 20] (read noise and flat-fielding make the estimate a lower bound).
    """
    _, median, std = sigma_clipped_stats(image, sigma=3)
    return float(np.clip(median / std**2, 1.0, 20.0))


def frames(folder=REALDATA, *, tracking=False, more=False):
    """Yield ``(name, electrons, gain)`` for every frame with stars.

    Overscan levels are removed and the header gain applied; ``gain`` is
    that factor (electrons per ADU).  ``tracking=True`` adds the LCO 0.4 m
    frame, whose stars are short trails and which has many cosmic rays.
    ``more=True`` adds the HSC, KPNO, YSTAR and Bok frames (HSC is in
    electrons; the others have no GAIN keyword, so theirs is estimated from
    the sky's Poisson noise, `estimated_gain`).
    """
    folder = Path(folder)
    with fits.open(folder / "saao1m_ste3_raw.fits") as hdul:
        h, d = hdul[0].header, hdul[0].data.astype(np.float64)
        bias = np.median(d[parse_section(h["BIASSEC"])])
        yield "saao1m", (d[parse_section(h["TRIMSEC"])][:512] - bias) * h["GAIN"], h["GAIN"]
    with fits.open(folder / "lco1m_fa05_raw_mef.fits") as hdul:
        for amp in range(1, 5):
            h, d = hdul[amp].header, hdul[amp].data.astype(np.float64)
            bias = np.median(d[parse_section(h["BIASSEC"])])
            yield f"lco1m amp{amp}", (d[parse_section(h["DATASEC"])] - bias) * h["GAIN"], h["GAIN"]
    yield "mro24m", fits.getdata(folder / "mro24m_bin4_proc.fits").astype(np.float64), 1.0
    for band in ("z", "r"):
        with fits.open(folder / f"decam_cp_{band}_N2_ooi.fits") as hdul:
            h = hdul[1].header
            yield f"decam {band}", hdul[1].data.astype(np.float64) * h["GAINA"], h["GAINA"]
    if tracking:
        with fits.open(folder / "lco04m_kb29_banzai.fits.fz") as hdul:
            h = hdul["SCI"].header
            yield "lco04m", hdul["SCI"].data.astype(np.float64) * h["GAIN"], h["GAIN"]
    if more:
        yield "hsc", fits.getdata(folder / "hsc_crs_300x300.fits").astype(np.float64), 1.0
        for name, file in (
            ("kpno", "kpno_m51_iraf_dpix.fits"),
            ("ystar", "ystar_saao_streak_long.fits"),
        ):
            adu = fits.getdata(folder / file).astype(np.float64)
            gain = estimated_gain(adu)
            yield name, adu * gain, gain
        with fits.open(folder / "ksb_170430_055945_ooi_r_ls9.CCD4.fits") as hdul:
            adu = hdul[1].data.astype(np.float64) * hdul[0].header["EXPTIME"]  # counts/s
            gain = estimated_gain(adu)
            yield "bok", adu * gain, gain


def lsst_hits(folder=REALDATA):
    """The LSST dark-frame cosmic-ray footprints as ``{fp_id: values}`` (electrons).

    The table's row spans (``x0``, ``y0``, ``pixel_values`` along x) are
    assembled into one 2-D array per footprint, 0 outside it.
    """
    table = fits.getdata(Path(folder) / LSST_HITS, "COSMIC_RAYS")
    spans = {}
    for fp_id, x0, y0, values in zip(
        table["fp_id"], table["x0"], table["y0"], table["pixel_values"]
    ):
        spans.setdefault(int(fp_id), []).append((int(x0), int(y0), np.asarray(values, float)))
    hits = {}
    for fp_id, rows in spans.items():
        x_min = min(x for x, _, _ in rows)
        y_min = min(y for _, y, _ in rows)
        nx = max(x + len(v) for x, _, v in rows) - x_min
        ny = max(y for _, y, _ in rows) - y_min + 1
        hit = np.zeros((ny, nx))
        for x, y, values in rows:
            hit[y - y_min, x - x_min : x - x_min + len(values)] += values
        hits[fp_id] = np.clip(hit, 0, None)
    return hits


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
