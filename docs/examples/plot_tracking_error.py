"""
A tracking error
================

The LCO 0.4 m telescope followed a moving target during this exposure
(LCOGT/neoexchange test data, GPL-3.0), so every star is a short trail.
`astromask.track` gives MaxiTrack's probability that the whole exposure
suffers a tracking error; `astromask.flag` on a 400x400 cut-out shows what
MaxiMask makes of the trailed stars.  Without the real frames, the simulated
frame (well tracked) stands in.
"""

import os
from pathlib import Path

from astropy.nddata import CCDData

import astromask
from astromask.visualization import plot_flags


def realdata(name):
    """Path of a real frame in ASTROMASK_REALDATA or ../shared/realdata, or None."""
    here = Path(globals().get("__file__", Path.cwd() / "example.py")).resolve().parent
    env = os.environ.get("ASTROMASK_REALDATA")
    folders = [Path(env)] if env else []
    folders += [parent / "shared" / "realdata" for parent in here.parents]
    return next((folder / name for folder in folders if (folder / name).is_file()), None)


path = realdata("lco04m_kb29_banzai.fits.fz")
if path is not None:
    ccd = CCDData.read(path, hdu="SCI", unit="adu")
    title = "LCO 0.4 m, 400x400 cut-out"
else:
    from astromask.simulate import simulated_frame

    ccd, _ = simulated_frame((1020, 1523), seed=4)
    title = "simulated frame, cut-out"

tracked = astromask.track(ccd)
print(f"MaxiTrack: P(tracking error) = {tracked.meta['AMTRACK']:.4f}")

cutout = ccd[310:710, 560:960]
flagged = astromask.flag(cutout, progress=False)
score = tracked.meta["AMTRACK"]
fig = plot_flags(flagged, titles=(f"{title}\nAMTRACK = {score:.2f}", "MaxiMask classes"))
