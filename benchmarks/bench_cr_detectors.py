"""Cosmic-ray detectors scored on real hits injected into real frames.

1. Every real frame of ``../shared/realdata`` with stars (saao1m, the four
   LCO 1 m amplifiers, MRO 2.4 m, the two DECam cut-outs and the LCO 0.4 m
   frame) is converted to electrons (`_realframes.frames`).
2. Each frame's own cosmic-ray hits are cut out as *hit shapes*
   (`_realframes.find_hits`, as for the inpainting benchmark: L.A. Cosmic's
   hits of 2 to 60 pixels, far from stars, peaking above 10 sigma); a shape
   is the hit's excess over the local median, in electrons.
3. Each frame gets one injected hit per 2000 pixels, shapes drawn at random
   from the *other* frames, at random places (on stars and sky alike).  The
   truth is the injected footprints.
4. Every detector astromask offers runs on the injected frames, called the
   way its drop-in calls it (ADU for ``deepcr/decam``, electrons otherwise;
   MaxiMask's CR channel with its default priors), and so does
   ``ccdproc.cosmicray_lacosmic`` at several ``sigclip``.
5. `astromask.metrics` scores all frames' pixels together: TPR at fixed FPR,
   precision at 95 % TPR, the best MCC and its threshold; at the detector's
   default threshold (0.5 for the networks, MaxiMask's CR threshold, the
   mask itself for L.A. Cosmic) TPR, FPR, F1, IoU, and the TPR with the
   prediction dilated 3x3 (deepCR's convention).

Caveats: the frames' own cosmic rays are not in the truth, so a detector that
finds them is charged with false positives; absolute FPRs are upper bounds,
the ranking is what to read.  The hit shapes are those L.A. Cosmic found on
their own frames, so very faint hits are under-represented and L.A. Cosmic
is favoured (its footprints are the truth's; injected elsewhere, hits also
land on stars and brighter sky, where it does worse).  Usage::

    python benchmarks/bench_cr_detectors.py [REALDATA_DIR] [--seed N] [--detectors ...]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realframes import REALDATA, find_hits, frames  # noqa: E402

DENSITY = 1 / 2000  # injected hits per pixel
LACOSMIC_SIGCLIP = (3.0, 4.5, 6.0)


def inject(image, library, rng):
    """``image`` with hits added at random places, and the truth mask."""
    dirty = image.copy()
    truth = np.zeros(image.shape, bool)
    n = max(1, int(round(image.size * DENSITY)))
    for _ in range(n):
        hit = library[rng.integers(len(library))]
        if rng.integers(2):
            hit = hit.T
        y = rng.integers(0, image.shape[0] - hit.shape[0] + 1)
        x = rng.integers(0, image.shape[1] - hit.shape[1] + 1)
        box = (slice(y, y + hit.shape[0]), slice(x, x + hit.shape[1]))
        dirty[box] += hit
        truth[box] |= hit > 0
    return dirty, truth, n


def detectors(names=None):
    """``{name: (function(electrons, gain) -> score map or bool mask, default threshold)}``."""
    import astromask
    from astromask.classes import CLASSES
    from astromask.presets import cosmic_ray_models

    found = {}
    for model, spec in cosmic_ray_models().items():

        def run(img, gain, model=model, adu=spec.unit == "adu"):
            data = img / gain if adu else img
            return astromask.probabilities(data.astype(np.float32), model=model, progress=False)

        found[model] = (run, 0.5)

    def maximask(img, gain):
        probs = astromask.probabilities(img.astype(np.float32), priors="default", progress=False)
        return probs[0]

    found["maximask CR"] = (maximask, CLASSES[0].threshold)
    for sigclip in LACOSMIC_SIGCLIP:

        def lacosmic(img, gain, sigclip=sigclip):
            from ccdproc import cosmicray_lacosmic

            _, mask = cosmicray_lacosmic(
                img, sigclip=sigclip, gain=1.0, readnoise=5.0, satlevel=1e12
            )
            return mask

        found[f"lacosmic sigclip={sigclip:g}"] = (lacosmic, None)
    if names:
        unknown = set(names) - set(found)
        if unknown:
            msg = f"--detectors: unknown {sorted(unknown)}; choose among {list(found)}"
            raise SystemExit(msg)
        found = {name: found[name] for name in names}
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=REALDATA, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detectors", nargs="*", help="subset of detector names")
    parser.add_argument("--ecsv", help="also write the table to this ECSV file")
    args = parser.parse_args(argv)

    from astromask import metrics

    rng = np.random.default_rng(args.seed)
    loaded = list(frames(args.folder, tracking=True))
    libraries = {name: find_hits(image)[0] for name, image, _ in loaded}
    injected = []
    for name, image, gain in loaded:
        library = [hit for other, hits in libraries.items() if other != name for hit in hits]
        dirty, truth, n = inject(image, library, rng)
        injected.append((name, dirty, truth, gain))
        print(
            f"{name}: {image.shape[0]}x{image.shape[1]}, {len(libraries[name])} own hit "
            f"shapes cut, {n} injected ({truth.sum()} px)"
        )
    # One stack of frames, padded to a common shape; the padding is excluded.
    shape = (max(t.shape[0] for *_, t, _ in injected), max(t.shape[1] for *_, t, _ in injected))
    truth = np.zeros((len(injected), *shape), bool)
    padding = np.ones_like(truth)
    for k, (_, _, t, _) in enumerate(injected):
        truth[k, : t.shape[0], : t.shape[1]] = t
        padding[k, : t.shape[0], : t.shape[1]] = False
    n_pixels = int((~padding).sum())
    total = sum(len(h) for h in libraries.values())
    print(f"{n_pixels} pixels, {truth.sum()} injected cosmic-ray pixels, {total} hit shapes\n")

    rows, speeds = [], []
    for name, (function, default) in detectors(args.detectors).items():
        start = time.perf_counter()
        maps = [np.asarray(function(dirty, gain)) for _, dirty, _, gain in injected]
        speeds.append(n_pixels / (time.perf_counter() - start) / 1e6)
        boolean = maps[0].dtype == bool
        scores = np.zeros(truth.shape, bool if boolean else np.float32)
        for k, m in enumerate(maps):
            scores[k, : m.shape[0], : m.shape[1]] = m
        rows.append(metrics.evaluate(scores, truth, threshold=default, exclude=padding, name=name))
        print(f"{name}: {n_pixels / speeds[-1] / 1e6:.1f} s", flush=True)

    table = metrics.evaluation_table(rows)
    table["Mpix/s"] = speeds
    table["Mpix/s"].format = ".3g"
    columns = [
        "name",
        *[c for c in table.colnames if c.startswith("TPR@FPR")],
        "precision@TPR=0.95",
        "best MCC",
        "best MCC threshold",
        "threshold",
        "TPR",
        "FPR",
        "F1",
        "IoU",
        "TPR 3x3",
        "Mpix/s",
    ]
    print()
    table[columns].pprint_all()
    if args.ecsv:
        table.write(args.ecsv, overwrite=True)


if __name__ == "__main__":
    main()
