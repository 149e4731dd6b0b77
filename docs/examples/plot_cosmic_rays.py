"""
Cosmic rays: L.A. Cosmic and its drop-in replacement
====================================================

A DECam community-pipeline cut-out (legacysurvey/legacypipe test data,
BSD-3) with one cosmic-ray track, which the pipeline marked (code 5 of its
data-quality map) and left in the image.  `ccdproc.cosmicray_lacosmic` and
`astromask.cosmicray_deepcr` are called the same way, with the header's gain,
read noise and saturation; each returns a cleaned copy whose ``mask`` holds
the hits.  Without the real frames, the simulated frame and its truth stand
in.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from astropy.visualization import ZScaleInterval
from ccdproc import cosmicray_lacosmic

import astromask
from astromask.classes import encode_flags
from astromask.visualization import class_image


def realdata(name):
    """Path of a real frame in ASTROMASK_REALDATA or ../shared/realdata, or None."""
    here = Path(globals().get("__file__", Path.cwd() / "example.py")).resolve().parent
    env = os.environ.get("ASTROMASK_REALDATA")
    folders = [Path(env)] if env else []
    folders += [parent / "shared" / "realdata" for parent in here.parents]
    return next((folder / name for folder in folders if (folder / name).is_file()), None)


path = realdata("decam_cp_z_N2_ooi.fits")
if path is not None:
    with fits.open(path) as hdul:
        ccd = CCDData(hdul[1].data.astype(np.float32), unit="adu", meta=hdul[1].header)
    truth = fits.getdata(path.with_name("decam_cp_z_N2_ood.fits"), ext=1) == 5
    gain, readnoise = float(ccd.meta["GAINA"]), float(ccd.meta["RDNOISEA"])
    satlevel = float(ccd.meta["SATURATE"]) * gain
    where, truth_label = "DECam z cut-out", "pipeline (code 5)"
else:
    from astromask.simulate import simulated_frame

    ccd, simulated = simulated_frame((256, 256), seed=5)
    truth = simulated["CR"]
    gain, readnoise = ccd.meta["GAIN"], ccd.meta["RDNOISE"]
    satlevel = ccd.meta["SATURATE"] * gain
    where, truth_label = "simulated frame", "simulated truth"

options = dict(gain=gain, readnoise=readnoise, satlevel=satlevel)
lacosmic = cosmicray_lacosmic(ccd, **options)
deepcr = astromask.cosmicray_deepcr(ccd, **options)  # the same call, one name changed

# %%
# The hits each found, drawn in the CR colour over the background colour:

fig, axes = plt.subplots(1, 4, figsize=(13, 4.2), sharex=True, sharey=True, layout="constrained")
vmin, vmax = ZScaleInterval().get_limits(ccd.data)
axes[0].imshow(ccd.data, origin="lower", cmap="gray", vmin=vmin, vmax=vmax)
axes[0].set_title(where)
for ax, mask, label in zip(
    axes[1:],
    (truth, lacosmic.mask, deepcr.mask),
    (truth_label, "cosmicray_lacosmic", "cosmicray_deepcr"),
):
    rgba, _ = class_image(encode_flags({"CR": mask}))
    ax.imshow(rgba, origin="lower", interpolation="nearest")
    inside = int((mask & truth).sum())
    outside = int((mask & ~truth).sum())
    ax.set_title(f"{label}\n{inside}/{int(truth.sum())} in footprint, {outside} outside")

# %%
# The cleaned images (the data are now electrons: ``gain_apply=True`` is
# ccdproc's default).  L.A. Cosmic fills the hits with the median of the
# good pixels around them; the drop-in uses deepCR's inpainting network (see
# :doc:`/cosmicrays` for the photometric fidelity of each method).

ys, xs = np.nonzero(truth)
yc, xc = int(ys.mean()), int(xs.mean())
box = (slice(max(yc - 30, 0), yc + 30), slice(max(xc - 30, 0), xc + 30))
fig, axes = plt.subplots(1, 3, figsize=(10, 3.6), layout="constrained")
vmin, vmax = ZScaleInterval().get_limits(deepcr.data[box])
for ax, image, label in zip(
    axes,
    (ccd.data * gain, lacosmic.data, deepcr.data),
    ("input (electrons)", "cosmicray_lacosmic", "cosmicray_deepcr"),
):
    ax.imshow(np.asarray(image)[box], origin="lower", cmap="gray", vmin=vmin, vmax=vmax)
    ax.set_title(label)
    ax.set_axis_off()
