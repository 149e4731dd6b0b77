"""
Flag a raw frame: overscan and cosmic rays
==========================================

A raw 536x520 frame of the SAAO 1.0 m telescope (STE3 camera; ccdproc's test
data, BSD-3), flagged as it comes off the camera: MaxiMask knows the
overscan strip (OV, brown) and finds the cosmic rays (CR, red) without any
calibration.  Without the real frames (``../shared/realdata``), the example
flags astromask's simulated frame instead.
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


path = realdata("saao1m_ste3_raw.fits")
if path is not None:
    ccd = CCDData.read(path, unit="adu")
    title = "SAAO 1.0 m, raw"
else:
    from astromask.simulate import simulated_frame

    ccd, _ = simulated_frame((520, 536), seed=2)
    title = "simulated raw frame"

flagged = astromask.flag(ccd, progress=False)
fig = plot_flags(flagged, titles=(title, "MaxiMask classes"))

# %%
# The flag map is bit-coded (`astromask.classes`); `astromask.decode_flags`
# gives one class as a boolean map, and ``mask`` holds the defect classes:

for name in ("CR", "HP", "OV", "BBG"):
    print(f"{name:4s} {int(astromask.decode_flags(flagged.flags, name).sum()):7d} pixels")
print(f"mask {int(flagged.mask.sum()):7d} pixels")
