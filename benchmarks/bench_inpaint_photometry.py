"""Photometric fidelity of inpainting: real cosmic-ray hits pasted over real stars.

For each real frame in ``../shared/realdata``:

1. the frame is converted to electrons (overscan level removed where there is
   one, times the header gain);
2. the frame's own cosmic rays are cut out as *hit shapes*
   (`_realframes.find_hits`: L.A. Cosmic's hits away from stars, as their
   footprint and excess over the local 5x5 median, in electrons);
3. isolated, unsaturated, bright stars free of hits are found with
   `photutils.detection.DAOStarFinder`;
4. each star gets several trials: a hit shape drawn at random (from all
   frames) is added at a random position inside the photometric aperture, and
   the hit's footprint is inpainted by each method;
5. `photutils.aperture` photometry (circular aperture of radius 2 FWHM, local
   background from an annulus) measures the star on the clean stamp, the
   contaminated stamp and each inpainted stamp.

The table gives, per method, the relative flux error against the clean star:
median and 90th percentile of ``|F - F_clean| / F_clean`` and the mean
signed error.  The inpainting mask is the pasted hit's true footprint, so the
table measures inpainting alone, not detection.  Usage::

    python benchmarks/bench_inpaint_photometry.py [REALDATA_DIR] [--trials N]
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture
from photutils.psf import fit_fwhm
from scipy import ndimage

from astromask.inpainting import inpaint_array

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realframes import REALDATA, find_hits, frames  # noqa: E402

METHODS = ["medmask", "gaussian", "deepcr/ACS-WFC-F606W-2-32", "deepcr/ACS-WFC-F606W-3-32"]
STAMP = 64


def analyse(name, image):
    """Stars, hit shapes and the aperture radius of one frame."""
    hits, crmask, sources, median, std = find_hits(image)
    dirty = ndimage.binary_dilation(crmask, iterations=1)
    if sources is not None:
        xy = np.transpose([sources["xcentroid"], sources["ycentroid"]])
    else:
        xy = np.zeros((0, 2))
    if sources is None or len(sources) == 0:
        return [], hits, None
    peak_limit = 0.5 * np.percentile(image, 99.99)
    stars = []
    for x, y, peak in zip(sources["xcentroid"], sources["ycentroid"], sources["peak"]):
        near = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
        if np.sort(near)[1:2].size and np.sort(near)[1] < 15:
            continue  # not isolated
        if not (
            STAMP // 2 <= x < image.shape[1] - STAMP // 2
            and STAMP // 2 <= y < image.shape[0] - STAMP // 2
        ):
            continue
        if peak + median > peak_limit:
            continue
        stars.append((x, y))
    if not stars:
        return [], hits, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fwhm = fit_fwhm(image - median, xypos=stars, fit_shape=7)
    radius = max(3.0, 2.0 * float(np.nanmedian(fwhm)))
    reach = int(radius) + 2

    def free(x, y):
        box = dirty[int(y) - reach : int(y) + reach + 1, int(x) - reach : int(x) + reach + 1]
        return not box.any()

    stars = [(x, y) for x, y in stars if free(x, y)]
    return stars, hits, radius


def photometry(stamp, centre, radius):
    aperture = CircularAperture(centre, r=radius)
    annulus = CircularAnnulus(centre, r_in=radius + 4, r_out=radius + 10)
    background = ApertureStats(stamp, annulus).median
    return ApertureStats(stamp, aperture).sum - background * aperture.area


def run(folder, trials, seed=0):
    rng = np.random.default_rng(seed)
    analysed = [(name, image, *analyse(name, image)) for name, image, _ in frames(folder)]
    library = [hit for *_, hits, _ in analysed for hit in hits]
    errors = {method: [] for method in ["contaminated", *METHODS]}
    counts = []
    for name, image, stars, _, radius in analysed:
        if not stars:
            continue
        counts.append((name, len(stars), radius))
        for x, y in stars:
            y0, x0 = int(round(y)) - STAMP // 2, int(round(x)) - STAMP // 2
            clean = image[y0 : y0 + STAMP, x0 : x0 + STAMP]
            centre = (x - x0, y - y0)
            reference = photometry(clean, centre, radius)
            if not reference > 0:
                continue
            for _ in range(trials):
                hit = library[rng.integers(len(library))]
                angle, dist = rng.uniform(0, 2 * np.pi), radius * np.sqrt(rng.uniform(0, 0.5))
                hy = int(round(centre[1] + dist * np.sin(angle))) - hit.shape[0] // 2
                hx = int(round(centre[0] + dist * np.cos(angle))) - hit.shape[1] // 2
                dirty = clean.copy()
                mask = np.zeros(clean.shape, bool)
                dirty[hy : hy + hit.shape[0], hx : hx + hit.shape[1]] += hit
                mask[hy : hy + hit.shape[0], hx : hx + hit.shape[1]] = hit > 0
                errors["contaminated"].append(photometry(dirty, centre, radius) / reference - 1)
                for method in METHODS:
                    fixed = inpaint_array(
                        dirty.astype(np.float32), mask, method=method, progress=False
                    )
                    errors[method].append(photometry(fixed, centre, radius) / reference - 1)
    return errors, counts, len(library)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=REALDATA, type=Path)
    parser.add_argument("--trials", type=int, default=4, help="hits per star")
    args = parser.parse_args(argv)
    errors, counts, n_hits = run(args.folder, args.trials)
    for name, n, radius in counts:
        print(f"{name}: {n} stars, aperture radius {radius:.1f} px")
    n = len(errors["contaminated"])
    print(f"{n} trials ({args.trials} per star), {n_hits} real hit shapes\n")
    header = ("method", "median |dF/F|", "90th pct |dF/F|", "mean dF/F")
    rows = []
    for method, values in errors.items():
        values = np.asarray(values)
        rows.append(
            (
                method,
                f"{np.median(np.abs(values)):.2%}",
                f"{np.percentile(np.abs(values), 90):.2%}",
                f"{np.mean(values):+.2%}",
            )
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    print(rule)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print(rule)
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    print(rule)


if __name__ == "__main__":
    main()
