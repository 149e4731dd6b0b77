"""MaxiMask's flags with upstream's background estimate and with astromask's, in one run.

``astromask.flag`` normalises each frame by a background and noise estimate
(`astromask.preprocess.normalize`).  *Before* is upstream MaxiMask's
estimate on the whole frame (``background="maximask", section=None``: the
default mode until astromask 0.x, and still the parity mode's); *after* is
astromask's default (``background="astromask"``, the header's data section).
Both use the default ``"auto"`` tiling, priors and thresholds.  It prints:

1. **Pure noise** (sky 1000, sigma 20), 512x512 and 1024x1024, without and
   with a 2500 ADU bias pedestal: the fraction of pixels flagged in any
   class but BG (all of them false).
2. **Simulated contaminants**: `astromask.simulate.simulated_frame` plus
   `astromask.simulate.contaminate` (hot and dead columns, lines, clusters
   and pixels, trails, saturation, overscan) on five 1024x1024 frames, with
   a 2500 ADU pedestal on the third: each class's recovery (TPR) and
   false-positive rate (FPR), before and after.
3. **Real frames** of ``../shared/realdata``: the fraction of pixels whose
   flags changed, and the classes that gained and lost most; and the raw
   SAAO and LCO frames, whose data sections are now what gets flagged.
4. **Cosmic rays on raw frames**: MaxiMask's CR probability (default
   priors) on the LCO 1 m amplifiers' data sections with their bias level
   left in (about 2500 ADU) and on the MRO frame plus a 2500 ADU pedestal,
   against the same frames bias-subtracted, with LSST dark-frame hits
   injected (one per 2000 pixels): TPR at FPR 1e-3, all pixels pooled.
5. **Tracking**: ``tracking_score`` of the SAAO frame trimmed with its
   TRIMSEC (8 unexposed rows kept), of the same without those rows, of the
   raw frame, and of the MRO frame with 16 zero or unexposed rows or
   columns added.

Usage::

    python benchmarks/bench_maximask_background.py [REALDATA_DIR] [--quick]
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realframes import REALDATA  # noqa: E402

BEFORE = {"background": "maximask", "section": None}
AFTER = {}


def flags_of(data, meta=None, **options):
    import astromask

    ccd = CCDData(np.asarray(data, np.float32), unit="adu", meta=meta)
    return astromask.flag(ccd, progress=False, **options).flags


def pure_noise(quick):
    print("1. Pure noise (sky 1000, sigma 20): pixels flagged in any class but BG")
    print(f"   {'frame':28s} {'before':>9s} {'after':>9s}")
    rng = np.random.default_rng(1)
    for size in (512,) if quick else (512, 1024):
        for pedestal in (0, 2500):
            frame = rng.normal(1000.0, 20.0, (size, size)) + pedestal
            cells = [(flags_of(frame, **options) != 0).mean() for options in (BEFORE, AFTER)]
            label = f"{size}x{size}" + (f", pedestal {pedestal}" if pedestal else "")
            print(f"   {label:28s} {cells[0]:9.3%} {cells[1]:9.3%}")


def simulated(quick):
    from astromask import classes
    from astromask.simulate import contaminate, simulated_frame

    print("\n2. Simulated contaminants: recovery (TPR) and false-positive rate (FPR) per class")
    truths, flags = {}, {"before": [], "after": []}
    for seed in (1,) if quick else (1, 2, 3, 4, 5):
        ccd, truth = simulated_frame((1024, 1024), seed=seed)
        data, more = contaminate(ccd.data, seed=seed)
        if seed == 3:
            data = data + 2500.0  # a bias pedestal left in
        for name, mask in {**truth, **more}.items():
            truths.setdefault(name, []).append(mask)
        for name in list(truths):
            if name not in truth and name not in more:
                truths[name].append(np.zeros(data.shape, bool))
        flags["before"].append(flags_of(data, **BEFORE))
        flags["after"].append(flags_of(data, **AFTER))
    head = ("TPR before", "TPR after", "FPR before", "FPR after")
    print(f"   {'class':6s} " + " ".join(f"{h:>11s}" for h in head))
    for name, masks in truths.items():
        truth = np.concatenate([m.ravel() for m in masks])
        row = []
        for when in ("before", "after"):
            found = np.concatenate([classes.decode_flags(f, name).ravel() for f in flags[when]])
            row.append((found[truth].mean(), found[~truth].mean()))
        print(
            f"   {name:6s} {row[0][0]:11.3f} {row[1][0]:11.3f} {row[0][1]:11.2e} {row[1][1]:11.2e}"
        )


def _real_frames(folder):
    yield "saao1m_ste3_raw.fits (raw)", folder / "saao1m_ste3_raw.fits", 0
    for amp in range(1, 5):
        yield f"lco1m_fa05_raw_mef.fits[{amp}] (raw)", folder / "lco1m_fa05_raw_mef.fits", amp
    yield "mro24m_bin4_proc.fits", folder / "mro24m_bin4_proc.fits", 0
    yield "lco04m_kb29_banzai.fits.fz[SCI]", folder / "lco04m_kb29_banzai.fits.fz", 1
    yield "kpno_m51_iraf_dpix.fits", folder / "kpno_m51_iraf_dpix.fits", 0
    yield "ystar_saao_streak_long.fits", folder / "ystar_saao_streak_long.fits", 0
    yield "hsc_crs_300x300.fits", folder / "hsc_crs_300x300.fits", 0


def real(folder):
    from astromask import classes

    print("\n3. Real frames: pixels whose flags changed; the classes that changed most")
    for label, path, hdu in _real_frames(folder):
        with fits.open(path) as hdul:
            data, header = hdul[hdu].data.astype(np.float32), hdul[hdu].header
        before = flags_of(data, header, **BEFORE)
        after = flags_of(data, header, **AFTER)
        changes = []
        for cls in classes.CLASSES:
            if cls.bit is None:
                continue
            b, a = (before & cls.bit) != 0, (after & cls.bit) != 0
            if (a != b).any():
                changes.append((int(a.sum()) - int(b.sum()), cls.name))
        changes.sort(key=lambda c: -abs(c[0]))
        text = ", ".join(f"{name} {delta:+d}" for delta, name in changes[:4])
        print(f"   {label:34s} {(before != after).mean():7.2%}  {text}")


def raw_cosmic_rays(folder, quick):
    """MaxiMask's CR probability on frames with and without their bias level."""
    from _realframes import lsst_hits

    import astromask
    from astromask.io import parse_section
    from astromask.metrics import tpr_at_fpr

    print("\n4. MaxiMask's CR class, real hits injected: raw (bias left in) vs bias-subtracted")
    rng = np.random.default_rng(7)
    library = [hit for fp_id, hit in lsst_hits(folder).items() if fp_id % 4 == 2]
    pairs = []  # (label, frame in ADU with its bias, bias level, gain)
    with fits.open(folder / "lco1m_fa05_raw_mef.fits") as hdul:
        for amp in (1,) if quick else (1, 2, 3, 4):
            h, d = hdul[amp].header, hdul[amp].data.astype(np.float32)
            bias = float(np.median(d[parse_section(h["BIASSEC"])]))
            pairs.append((f"LCO 1 m amp {amp}", d[parse_section(h["DATASEC"])], bias, h["GAIN"]))
    mro = fits.getdata(folder / "mro24m_bin4_proc.fits").astype(np.float32)
    pairs.append(("MRO 2.4 m + 2500 ADU", mro + 2500.0, 2500.0, 1.0))
    scores = {"raw": {"before": [], "after": []}, "bias-subtracted": {"before": [], "after": []}}
    truths = []
    for _, frame, bias, gain in pairs:
        dirty, truth = frame.copy(), np.zeros(frame.shape, bool)
        for _ in range(frame.size // 2000):
            hit = library[rng.integers(len(library))] / gain
            y = rng.integers(0, frame.shape[0] - hit.shape[0])
            x = rng.integers(0, frame.shape[1] - hit.shape[1])
            dirty[y : y + hit.shape[0], x : x + hit.shape[1]] += hit
            truth[y : y + hit.shape[0], x : x + hit.shape[1]] |= hit > 0
        truths.append(truth)
        for kind, data in (("raw", dirty), ("bias-subtracted", dirty - np.float32(bias))):
            for when, options in (("before", BEFORE), ("after", AFTER)):
                cr = astromask.probabilities(data, priors="default", progress=False, **options)[0]
                scores[kind][when].append(cr)
    truth = np.concatenate([t.ravel() for t in truths])[None]
    print(f"   frames: {', '.join(label for label, *_ in pairs)}; {truth.sum()} hit pixels")
    print(f"   {'frames':18s} {'TPR@1e-3 before':>16s} {'after':>7s}")
    for kind, by_when in scores.items():
        cells = []
        for when in ("before", "after"):
            values = np.concatenate([c.ravel() for c in by_when[when]])[None]
            cells.append(tpr_at_fpr(values, truth, 1e-3)[0])
        print(f"   {kind:18s} {cells[0]:16.3f} {cells[1]:7.3f}")


def tracking(folder):
    import astromask

    print("\n5. MaxiTrack (tracking_score) with blank rows and columns")
    with fits.open(folder / "saao1m_ste3_raw.fits") as hdul:
        raw, header = hdul[0].data.astype(np.float32), hdul[0].header
    bias = np.median(raw[:, 3:13])
    trimmed = raw[:, 16:528] - bias  # TRIMSEC [17:528,1:520]: 8 unexposed rows kept
    mro = fits.getdata(folder / "mro24m_bin4_proc.fits").astype(np.float32)
    level = np.float32(np.median(mro) - 40 * np.std(mro[:50, :50]))  # well below the sky
    noise = np.random.default_rng(3).normal(0, 3, (16, mro.shape[1])).astype(np.float32)
    cases = [
        ("SAAO raw, with its header", CCDData(raw, unit="adu", meta=header)),
        ("SAAO trimmed with TRIMSEC (8 blank rows)", CCDData(trimmed, unit="adu")),
        ("SAAO trimmed, blank rows cut by hand", CCDData(trimmed[:512], unit="adu")),
        ("MRO", CCDData(mro, unit="adu")),
        ("MRO + 16 zero rows", CCDData(np.vstack([mro, np.zeros_like(mro[:16])]), unit="adu")),
        (
            "MRO + 16 zero columns",
            CCDData(np.hstack([np.zeros_like(mro[:, :16]), mro]), unit="adu"),
        ),
        ("MRO + 16 unexposed rows", CCDData(np.vstack([level + noise, mro]), unit="adu")),
        (
            "MRO + 16 unexposed columns",
            CCDData(np.hstack([mro, (level + noise).T[: mro.shape[0]]]), unit="adu"),
        ),
    ]
    print(f"   {'frame':42s} {'before':>7s} {'after':>7s}")
    for label, ccd in cases:
        before = astromask.tracking_score(ccd, **BEFORE)
        after = astromask.tracking_score(ccd, **AFTER)
        print(f"   {label:42s} {before:7.3f} {after:7.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=REALDATA, type=Path)
    parser.add_argument("--quick", action="store_true", help="fewer frames")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    pure_noise(args.quick)
    simulated(args.quick)
    real(args.folder)
    raw_cosmic_rays(args.folder, args.quick)
    tracking(args.folder)


if __name__ == "__main__":
    main()
