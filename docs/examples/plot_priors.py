"""
Priors and thresholds
=====================

MaxiMask's probabilities assume the class frequencies of its training set.
`astromask.flag` first corrects them for the frequencies expected in your
data, the *priors* (Paillassa, Bertin & Bouy 2020, section 5; see
:doc:`/priors`), then thresholds them.  Here the network runs once on the
simulated frame, and the cosmic-ray prior is varied to show how the number
of flagged pixels, and the share of the simulated hits found, follow it.
"""

import matplotlib.pyplot as plt
import numpy as np

import astromask
from astromask.classes import CLASS_NAMES, CLASSES
from astromask.priors import apply_priors
from astromask.simulate import simulated_frame

ccd, truth = simulated_frame((400, 400), seed=1)
raw = astromask.probabilities(ccd, priors=None, progress=False)  # (14, ny, nx)

cr = CLASS_NAMES.index("CR")
threshold = CLASSES[cr].threshold
priors = np.logspace(-6, -1, 11)
flagged, found = [], []
for prior in priors:
    p = apply_priors(raw[cr : cr + 1], np.array([prior]), index=[cr])[0]
    hits = p > threshold
    flagged.append(hits.sum())
    found.append((hits & truth["CR"]).sum() / truth["CR"].sum())

fig, ax = plt.subplots(figsize=(6.4, 4), layout="constrained")
ax.semilogx(priors, found, "o-", color=CLASSES[cr].color, label="simulated CR pixels found")
ax.set_xlabel("CR prior (expected fraction of pixels)")
ax.set_ylabel("fraction found")
default = CLASSES[cr].prior
ax.axvline(default, color="0.5", linestyle=":", label=f"default prior {default:g}")
ax2 = ax.twinx()
ax2.semilogx(priors, flagged, "s--", color="0.3", label="pixels flagged CR")
ax2.set_ylabel("pixels flagged CR")
ax.legend(loc="upper left")
ax2.legend(loc="lower right")

# %%
# A larger prior makes more pixels cosmic rays, true and false alike; the
# threshold (``thresholds={"CR": ...}``) moves the same trade-off after the
# correction.  With a labelled frame of your instrument,
# `astromask.calibrate_thresholds` chooses thresholds and
# `astromask.estimate_priors` priors (see :doc:`/metrics`).

print(f"{int(truth['CR'].sum())} simulated CR pixels")
for prior, n, f in zip(priors, flagged, found):
    print(f"prior {prior:8.1e}: {int(n):6d} flagged, {f:6.1%} found")
