"""
Flag a simulated frame
======================

`astromask.simulate.simulated_frame` makes a raw frame with known
contaminants (stars, some saturated; cosmic rays; a hot column; hot pixels; a
satellite trail) and a truth map of each.  `astromask.flag` runs MaxiMask on
it and `astromask.visualization.plot_flags` draws the frame beside its
colour-coded classes, as in figure 8 of Paillassa, Bertin & Bouy (2020).
"""

import astromask
from astromask.classes import encode_flags
from astromask.simulate import simulated_frame
from astromask.visualization import plot_flags

ccd, truth = simulated_frame((512, 512), seed=1)
flagged = astromask.flag(ccd, progress=False)
fig = plot_flags(flagged, titles=("simulated raw frame", "MaxiMask classes"))

# %%
# What was simulated, drawn the same way: `astromask.classes.encode_flags`
# turns the boolean truth maps into a flag map.  MaxiMask also marks the
# stars as bright background (BBG, pink), which the simulation does not
# record.

fig = plot_flags(ccd, encode_flags(truth), titles=("simulated raw frame", "simulated truth"))

# %%
# How much of each simulated contaminant was found:

for name, true in truth.items():
    found = astromask.decode_flags(flagged.flags, name)
    share = (found & true).sum() / true.sum()
    print(f"{name:4s} {int(true.sum()):6d} simulated pixels, {share:6.1%} flagged")
