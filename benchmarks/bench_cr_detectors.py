"""Cosmic-ray detectors scored on real hits injected into real frames, on a held-out split.

What it does, in one run:

1. **Frames.**  Every real ground-based frame of ``../shared/realdata`` with
   stars (`_realframes.frames`: SAAO 1 m, the four LCO 1 m amplifiers, MRO
   2.4 m, two DECam cut-outs, the LCO 0.4 m frame with trailed stars, HSC,
   KPNO, YSTAR and Bok), bias removed and in electrons.  They are split in
   two: the *tuning* frames, on which astromask's combined detector was
   chosen and every threshold calibrated (`astromask.presets.Preset.calibration`),
   and the *held-out* frames (`HELD_OUT`: three cameras never tuned on,
   KPNO, YSTAR and Bok, and two LCO amplifiers and one DECam cut-out).
2. **Hits.**  Real hit shapes: the LSST dark-frame footprints of
   ``imsim_cosmic_rays_itl_2017_half.fits.gz`` (``fp_id % 4 == 0`` for the
   tuning frames, ``fp_id % 4 == 2`` for the held-out ones, so no footprint
   is in both) and the hits L.A. Cosmic finds alone on the *other* frames of
   the same split (`_realframes.find_hits`).  One hit per 2000 pixels, at
   random places, randomly rotated; the truth is the injected footprints.
3. **The frames' own hits are left out of the score**: L.A. Cosmic's mask
   (``sigclip=4.5``) on the frame before injection, grown by 2 pixels, is
   excluded from both the positives and the negatives, except within 6
   pixels of the stars that DAOStarFinder finds (a detector that flags star
   cores pays for it).  Real hits that L.A. Cosmic missed still count as
   false positives, so FPRs are upper bounds.
4. **Detectors**, called as a user would, on a `~astropy.nddata.CCDData`
   in ADU with the gain: every cosmic-ray detector of the model table
   (`astromask.probabilities(ccd, model=..., gain=...)`), MaxiMask's CR
   channel with its default priors, and ``ccdproc.cosmicray_lacosmic`` at
   ``sigclip`` 3, 4.5 (its default) and 6.
5. **Scores** (`astromask.metrics`), pixels of all frames of a split pooled:
   TPR at FPR 1e-4 and 1e-3, and TPR and FPR at the detector's default
   threshold (`astromask.presets.Preset.threshold`; MaxiMask's CR
   threshold; the mask itself for L.A. Cosmic).
6. **Speed**: Mpix/s of each detector on one 2048x2048 frame (a mosaic of
   the LCO 1 m amplifiers), beside ``ccdproc.cosmicray_lacosmic``'s, and
   the ratio.

``--calibrate`` also prints each network's thresholds at false-positive
rates on the tuning split, in the form of `astromask.presets`' calibration
table.  Usage::

    python benchmarks/bench_cr_detectors.py [REALDATA_DIR] [--seed N]
        [--detectors NAME ...] [--no-speed] [--calibrate] [--ecsv FILE]
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from astropy.nddata import CCDData
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realframes import REALDATA, find_hits, frames, lsst_hits  # noqa: E402

DENSITY = 1 / 2000  # injected hits per pixel
LACOSMIC_SIGCLIP = (3.0, 4.5, 6.0)
HELD_OUT = ("lco1m amp3", "lco1m amp4", "decam r", "kpno", "ystar", "bok")
FPRS = (1e-4, 1e-3)
CALIBRATION_FPRS = (1e-5, 3e-5, 1e-4, 3e-4, 5e-4, 1e-3, 3e-3, 1e-2)


def inject(image, library, rng):
    """``image`` with hits added at random places, and the truth mask."""
    dirty = image.copy()
    truth = np.zeros(image.shape, bool)
    n = max(1, int(round(image.size * DENSITY)))
    for _ in range(n):
        hit = np.rot90(library[rng.integers(len(library))], rng.integers(4))
        if rng.integers(2):
            hit = hit.T
        if hit.shape[0] >= image.shape[0] or hit.shape[1] >= image.shape[1]:
            continue
        y = rng.integers(0, image.shape[0] - hit.shape[0] + 1)
        x = rng.integers(0, image.shape[1] - hit.shape[1] + 1)
        box = (slice(y, y + hit.shape[0]), slice(x, x + hit.shape[1]))
        dirty[box] += hit
        truth[box] |= hit > 0
    return dirty, truth


def lacosmic_mask(electrons, sigclip):
    """``ccdproc.cosmicray_lacosmic``'s mask of a frame in electrons."""
    from ccdproc import cosmicray_lacosmic

    return cosmicray_lacosmic(electrons, sigclip=sigclip, gain=1.0, readnoise=5.0, satlevel=1e12)[1]


def detectors(names=None):
    """``{name: (function(CCDData in ADU, gain) -> score map or bool mask, default threshold)}``."""
    import astromask
    from astromask.classes import CLASSES
    from astromask.presets import MODELS, cosmic_ray_models

    found = {}
    for model in cosmic_ray_models():

        def run(ccd, gain, model=model):
            return astromask.probabilities(ccd, model=model, gain=gain, progress=False)

        found[model] = (run, MODELS[model].threshold)

    def maximask(ccd, gain):
        return astromask.probabilities(ccd, priors="default", progress=False)[0]

    found["maximask CR"] = (maximask, CLASSES[0].threshold)
    for sigclip in LACOSMIC_SIGCLIP:

        def lacosmic(ccd, gain, sigclip=sigclip):
            return lacosmic_mask(ccd.data * gain, sigclip)

        found[f"lacosmic sigclip={sigclip:g}"] = (lacosmic, None)
    if names:
        unknown = set(names) - set(found)
        if unknown:
            msg = f"--detectors: unknown {sorted(unknown)}; choose among {list(found)}"
            raise SystemExit(msg)
        found = {name: found[name] for name in names}
    return found


def own_hits(image, crmask, sources, radius=6):
    """L.A. Cosmic's hits on the clean frame, except those on stars.

    Pixels within ``radius`` of a star (`_realframes.find_hits`' star table)
    stay in the score: a detector that flags star cores must pay for it.
    """
    if sources is None or len(sources) == 0:
        return crmask
    stars = np.zeros(image.shape, bool)
    # photutils 2 names the columns x_centroid, y_centroid; before, xcentroid, ycentroid
    x, y = (
        ("x_centroid", "y_centroid")
        if "x_centroid" in sources.colnames
        else ("xcentroid", "ycentroid")
    )
    ys = np.clip(np.round(np.asarray(sources[y])).astype(int), 0, image.shape[0] - 1)
    xs = np.clip(np.round(np.asarray(sources[x])).astype(int), 0, image.shape[1] - 1)
    stars[ys, xs] = True
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    near = ndimage.binary_dilation(stars, structure=yy**2 + xx**2 <= radius**2)
    return crmask & ~near


def build(folder, seed):
    """The injected frames: ``[(name, split, ccd in ADU, gain, truth, exclude)]``."""
    rng = np.random.default_rng(seed)
    lsst = lsst_hits(folder)
    loaded = list(frames(folder, tracking=True, more=True))
    found = {name: find_hits(image) for name, image, _ in loaded}
    shapes = {name: hits for name, (hits, *_) in found.items()}
    out = []
    for name, image, gain in loaded:
        held = name in HELD_OUT
        library = [hit for fp_id, hit in lsst.items() if fp_id % 4 == (2 if held else 0)]
        library += [
            hit
            for other, hits in shapes.items()
            if other != name and (other in HELD_OUT) == held
            for hit in hits
        ]
        dirty, truth = inject(image, library, rng)
        own = ndimage.binary_dilation(own_hits(image, *found[name][1:3]), iterations=2)
        ccd = CCDData((dirty / gain).astype(np.float32), unit="adu")
        out.append((name, "held-out" if held else "tuning", ccd, gain, truth, own))
        print(
            f"{name:11s} {'held-out' if held else 'tuning':8s} {image.shape[0]}x{image.shape[1]}"
            f"  gain {gain:.2f}  {truth.sum()} injected cosmic-ray px, {own.sum()} own left out"
        )
    return out


def pooled(maps, injected, split):
    """Scores, truth and exclusion of one split's frames, flattened together."""
    keep = [k for k, item in enumerate(injected) if item[1] == split]
    scores = np.concatenate([np.ravel(maps[k]) for k in keep])
    truth = np.concatenate([injected[k][4].ravel() for k in keep])
    exclude = np.concatenate([injected[k][5].ravel() for k in keep])
    return scores[None], truth[None], exclude[None]  # one row: metrics take 2-D maps


def calibration(scores, truth, exclude):
    """``((fpr, threshold), ...)`` on the clean pixels, thresholds below 1 in float32."""
    negatives = np.sort(scores[~truth & ~exclude])[::-1]
    rows = []
    for rate in CALIBRATION_FPRS:
        value = float(negatives[int(rate * len(negatives))])
        rounded = float(f"{value:.4g}")
        if rounded < 1 and (not rows or rounded < rows[-1][1]):  # 1: saturated in float32
            rows.append((rate, rounded))
    return tuple(rows)


def speed(found, names):
    """Mpix/s of each detector on one 2048x2048 frame, and L.A. Cosmic's."""
    from astropy.io import fits

    with fits.open(REALDATA / "lco1m_fa05_raw_mef.fits") as hdul:
        amps = [hdul[k].data[:512, :512].astype(np.float32) for k in range(1, 5)]
    mosaic = np.block([[amps[0], amps[1]], [amps[2], amps[3]]])
    frame = np.tile(mosaic, (2, 2))
    ccd = CCDData(frame, unit="adu")
    rates = {}
    for name in names:
        function = found[name][0]
        function(CCDData(frame[:256, :256], unit="adu"), 6.3)  # load and compile first
        start = time.perf_counter()
        function(ccd, 6.3)
        rates[name] = frame.size / (time.perf_counter() - start) / 1e6
    return rates


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=REALDATA, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detectors", nargs="*", help="subset of detector names")
    parser.add_argument("--no-speed", action="store_true", help="skip the 2048x2048 timing")
    parser.add_argument("--calibrate", action="store_true", help="print calibration tables")
    parser.add_argument("--ecsv", help="also write the table to this ECSV file")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # astropy's FITS and unit chatter

    from astropy.table import Table

    from astromask import metrics

    injected = build(args.folder, args.seed)
    found = detectors(args.detectors)
    rows, calibrations, transfer = [], {}, {}
    for name, (function, default) in found.items():
        start = time.perf_counter()
        maps = [np.asarray(function(ccd, gain)) for _, _, ccd, gain, _, _ in injected]
        print(f"{name}: {time.perf_counter() - start:.1f} s", flush=True)
        for split in ("tuning", "held-out"):
            scores, truth, exclude = pooled(maps, injected, split)
            boolean = scores.dtype == bool
            row = metrics.evaluate(
                scores, truth, threshold=default, exclude=exclude, fpr=FPRS, name=name
            )
            row["split"] = split
            if boolean:
                for rate in FPRS:
                    row[f"TPR@FPR={rate:g}"] = np.nan
            rows.append(row)
            if split == "tuning" and not boolean and args.calibrate:
                calibrations[name] = calibration(scores, truth, exclude)
            if split == "held-out" and name in calibrations:
                # How the tuning split's thresholds transfer: rate obtained / rate asked.
                clean = scores[~truth & ~exclude]
                transfer[name] = [
                    (clean > threshold).mean() / rate for rate, threshold in calibrations[name]
                ]
    rates = {} if args.no_speed else speed(found, list(found))
    table = Table(rows=[{k: r[k] for k in rows[0]} for r in rows])
    columns = ["split", "name", *[f"TPR@FPR={f:g}" for f in FPRS], "threshold", "TPR", "FPR"]
    table = table[columns]
    for column in columns[2:]:
        table[column].format = ".3g"
    if rates:
        table["Mpix/s"] = [rates[name] for name in table["name"]]
        table["Mpix/s"].format = ".3g"
        reference = rates.get("lacosmic sigclip=4.5")
        if reference:
            table["x L.A.Cosmic"] = table["Mpix/s"] / reference
            table["x L.A.Cosmic"].format = ".2f"
    for split in ("tuning", "held-out"):
        print(f"\n{split} frames: {', '.join(n for n, s, *_ in injected if s == split)}")
        table[table["split"] == split].pprint_all()
    if calibrations:
        print("\nthresholds at false-positive rates (tuning split):")
        for name, rows_ in calibrations.items():
            print(f"    {name!r}: {rows_},")
        print("\nheld-out false-positive rate at those thresholds, over the rate calibrated:")
        for name, ratios in transfer.items():
            cells = ", ".join(f"{r:.2g}" for r in ratios)
            print(f"    {name}: {cells}  (range {min(ratios):.2g} to {max(ratios):.2g})")
    if args.ecsv:
        table.write(args.ecsv, overwrite=True)


if __name__ == "__main__":
    main()
