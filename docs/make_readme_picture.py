"""Make docs/_static/simulated_flags.png, the picture of README.rst and the docs.

It flags astromask's simulated frame (no real data) and draws it with
astromask.visualization.plot_flags.  Run from anywhere, after a change to the
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


if __name__ == "__main__":
    main()
