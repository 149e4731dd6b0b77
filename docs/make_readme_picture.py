"""Make docs/_static/simulated_flags.png, the picture of README.rst and the docs.

It flags astromask's simulated frame (no real data) and draws it with
astromask.visualization.plot_flags.  It also makes
docs/_static/background_corners.png for docs/flagging.rst: the same frame
flagged with upstream MaxiMask's background estimate (``background="maximask"``,
the parity mode's) and with astromask's default.  Run from anywhere, after a change to the
network, the simulation or the plot::

    KERAS_BACKEND=jax python docs/make_readme_picture.py

The PNG is committed (README.rst must render on GitHub without a build);
keep it under 300 kB.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import astromask  # noqa: E402
from astromask.simulate import simulated_frame  # noqa: E402
from astromask.visualization import plot_flags  # noqa: E402

OUTPUT = Path(__file__).resolve().parent / "_static" / "simulated_flags.png"
CORNERS = OUTPUT.with_name("background_corners.png")


def main():
    ccd, _ = simulated_frame((512, 512), seed=1)
    flagged = astromask.flag(ccd, progress=False)
    fig = plot_flags(
        flagged,
        titles=("simulated raw frame", "astromask.flag: MaxiMask classes"),
        figsize=(10, 4.2),
    )
    fig.savefig(OUTPUT, dpi=80)
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1024:.0f} kB)")

    import matplotlib.pyplot as plt

    upstream = astromask.flag(ccd, background="maximask", section=None, progress=False)
    fig, axes = plt.subplots(1, 3, figsize=(12, 4.4), layout="constrained")
    before = ("simulated raw frame", "upstream's background: BBG corners")
    plot_flags(upstream, axes=axes[:2], titles=before, legend=False)
    plot_flags(flagged, axes=(axes[0], axes[2]), titles=(before[0], "astromask's default"))
    fig.savefig(CORNERS, dpi=70)
    print(f"wrote {CORNERS} ({CORNERS.stat().st_size / 1024:.0f} kB)")


if __name__ == "__main__":
    main()
