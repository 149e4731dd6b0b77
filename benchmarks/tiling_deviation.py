"""How far the default tiling moves MaxiMask's output, against upstream's own shift.

MaxiMask is not shift-invariant: its five 2x2 poolings see a different grid
when the frame moves by a pixel, and upstream's 400-pixel tiles every 200
pixels cut it in different places.  This script measures, on the real
frames of ``../shared/realdata`` and a simulated 2048x2048 frame:

* **shift**: upstream's geometry (``tiling="maximask"``, bit-identical to
  upstream MaxiMask on the TensorFlow backend) on the frame moved by
  ``s`` pixels along both axes, against the same geometry on the frame
  itself, over the pixels they share.  The normalised image is shifted, so
  the background map does not move and the figure is the network's and the
  tiling's alone (the whole pipeline moves more);
* **auto**: the candidate geometries (`astromask.tiling.AutoTiling`
  with each ``--margins``) against upstream's geometry on the same frame;
* **untiled**: the candidates against the whole frame in one tile, where
  memory allows (``--untiled-max``), i.e. what the margin alone costs.

For each comparison it prints, over all frames' pixels, the criteria of
the parity tests: the fraction of pixels within 1e-3 in probability for
the worst class, the mean ``|dp|``, and the fraction of pixels whose
flags change (the 13 classes with a bit, prior-corrected and thresholded
with upstream's defaults, as `astromask.flag` does), with the worst frame
in brackets; then the flags changed class by class.  Usage::

    KERAS_BACKEND=tensorflow python benchmarks/tiling_deviation.py \\
        [--margins 32,64,96,128] [--shifts 1,3,8] [--size 2048]
"""

import argparse
import sys
import time

import numpy as np

from astromask import core, inference
from astromask import tiling as tilings
from astromask.classes import CLASS_NAMES, CLASSES
from astromask.preprocess import normalize
from astromask.simulate import simulated_frame

try:
    from _realframes import REALDATA
except ImportError:  # run from elsewhere
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
    from _realframes import REALDATA

FLAGGED = [k for k, c in enumerate(CLASSES) if c.bit is not None]


def frames(size):
    """Yield ``(name, image)`` for every real frame there is, then a simulated one."""
    from astropy.io import fits

    if REALDATA.is_dir():
        for name, hdus in [
            ("saao1m_ste3_raw.fits", [0]),
            ("mro24m_bin4_proc.fits", [0]),
            ("lco1m_fa05_raw_mef.fits", [1, 2, 3, 4]),
            ("lco04m_kb29_banzai.fits.fz", ["SCI"]),
        ]:
            with fits.open(REALDATA / name) as hdul:
                for hdu in hdus:
                    label = name.split("_")[0] + ("" if hdu in (0, "SCI") else f"[{hdu}]")
                    yield label, hdul[hdu].data.astype(np.float32)
    else:
        print(f"({REALDATA} not found: simulated frame only)")
    ccd, _ = simulated_frame((size, size), seed=1)
    yield f"simulated {size}", ccd.data


def flags_of(probs):
    """Thresholded, prior-corrected classes as flag does by default: (14, ny, nx) bool."""
    priors = core.resolve_priors("default")
    thresholds = core.resolve_thresholds("default")
    return inference.threshold(priors.apply_priors(probs, priors), thresholds)


def compare(a, b):
    """The parity criteria of ``a`` against ``b`` (both (14, ny, nx))."""
    dp = np.abs(a - b)
    within = (dp <= 1e-3).reshape(len(a), -1).mean(axis=1)
    differ = flags_of(a) != flags_of(b)
    changed = differ[FLAGGED].any(axis=0)  # BG has no bit in flag's output
    return {
        "per_class": differ.reshape(len(a), -1).mean(axis=1),
        "pixels": dp[0].size,
        "within": float(within.min()),
        "mean": float(dp.mean()),
        "changed": float(changed.mean()),
    }


class Tally:
    """Pixel-weighted totals over frames, with the worst frame."""

    def __init__(self):
        self.rows = []

    def add(self, frame, result):
        self.rows.append((frame, result))

    def line(self):
        n = sum(r["pixels"] for _, r in self.rows)
        within = sum(r["within"] * r["pixels"] for _, r in self.rows) / n
        mean = sum(r["mean"] * r["pixels"] for _, r in self.rows) / n
        changed = sum(r["changed"] * r["pixels"] for _, r in self.rows) / n
        worst_w = min(self.rows, key=lambda fr: fr[1]["within"])
        worst_c = max(self.rows, key=lambda fr: fr[1]["changed"])
        return (
            f"{100 * within:8.3f} % ({100 * worst_w[1]['within']:.3f} {worst_w[0]:<14})"
            f" {mean:9.2e}  {100 * changed:7.4f} % ({100 * worst_c[1]['changed']:.4f} "
            f"{worst_c[0]})"
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--margins", default="32,64,96,128")
    parser.add_argument("--max-size", type=int, default=1024)
    parser.add_argument("--shifts", default="1,3,8")
    parser.add_argument("--size", type=int, default=2048, help="simulated frame's side")
    parser.add_argument(
        "--untiled-max", type=int, default=2048, help="largest side run as one tile"
    )
    args = parser.parse_args(argv)
    import keras

    margins = [int(m) for m in args.margins.split(",")]
    shifts = [int(s) for s in args.shifts.split(",")]
    tallies = {}

    def tally(key):
        return tallies.setdefault(key, Tally())

    start = time.perf_counter()
    for name, data in frames(args.size):
        image = normalize(data)
        reference = inference.predict_image(image, tiling="maximask", progress=False)
        for s in shifts:
            moved = inference.predict_image(image[s:, s:], tiling="maximask", progress=False)
            tally(f"shift {s} px, maximask").add(name, compare(moved, reference[:, s:, s:]))
        whole = None
        if max(image.shape) <= args.untiled_max:
            side = max(image.shape)
            one = tilings.AutoTiling(max(-(-side // 32) * 32, 448), 0, min_size=400)
            whole = inference.predict_image(image, tiling=one, progress=False)
            tally("untiled vs maximask").add(name, compare(whole, reference))
        for m in margins:
            tiling = tilings.AutoTiling(args.max_size, m)
            auto = inference.predict_image(image, tiling=tiling, progress=False)
            tally(f"auto {args.max_size}/{m} vs maximask").add(name, compare(auto, reference))
            if whole is not None:
                tally(f"auto {args.max_size}/{m} vs untiled").add(name, compare(auto, whole))
        print(f"  {name:<16} {image.shape}  {time.perf_counter() - start:6.0f} s", flush=True)

    print(f"\nMaxiMask, {keras.backend.backend()} backend, float32, every frame's pixels")
    print(
        f"{'comparison':<30} {'|dp|<=1e-3, worst class (worst frame)':<38}"
        f" {'mean |dp|':>9}  flags changed (worst frame)"
    )
    for key, t in tallies.items():
        print(f"{key:<30} {t.line()}")
    print("\nFlags changed per class (% of pixels, all frames)")
    print(f"{'comparison':<30} " + " ".join(f"{c:>6}" for c in CLASS_NAMES))
    for key, t in tallies.items():
        n = sum(r["pixels"] for _, r in t.rows)
        per = sum(r["per_class"] * r["pixels"] for _, r in t.rows) / n
        print(f"{key:<30} " + " ".join(f"{100 * v:6.3f}" for v in per))
    return 0


if __name__ == "__main__":
    sys.exit(main())
