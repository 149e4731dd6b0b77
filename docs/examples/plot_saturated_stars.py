"""
Saturated stars and diffraction spikes
======================================

One amplifier (544x522 pixels, overscan included) of a raw LCO 1 m Sinistro
frame (LCOGT/neoexchange test data, GPL-3.0) with saturated stars: MaxiMask
marks their cores as saturated (SAT, purple), their spikes (SP, light
purple), the overscan columns (OV, brown) and the stars themselves as bright
background (BBG, pink), which by default is flagged but not masked.  Without
the real frames, the simulated frame stands in.
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


path = realdata("lco1m_fa05_raw_mef.fits")
if path is not None:
    ccd = CCDData.read(path, hdu=2, unit="adu")
    title = "LCO 1 m, amplifier 2, raw"
else:
    from astromask.simulate import simulated_frame

    ccd, _ = simulated_frame((522, 544), seed=3)
    title = "simulated raw frame"

flagged = astromask.flag(ccd, progress=False)
fig = plot_flags(flagged, titles=(title, "MaxiMask classes"))

# %%
# ``astromask.flag(ccd, mask_classes=["SAT", "SP"])`` would put only
# saturation and spikes into ``mask``; the same pixels, from the flags:

sat_or_spike = astromask.decode_flags(flagged.flags, "SAT") | astromask.decode_flags(
    flagged.flags, "SP"
)
print(f"default mask: {int(flagged.mask.sum())} pixels; SAT or SP: {int(sat_or_spike.sum())}")
