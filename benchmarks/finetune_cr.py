"""Fine-tune a DECam cosmic-ray network on the real frames, before and after.

What it does, so the figures can be read:

1. Every real frame of ``../shared/realdata`` with stars (saao1m, the four
   LCO 1 m amplifiers, MRO 2.4 m, the two DECam cut-outs and the LCO 0.4 m
   frame) is read in ADU with its sky (`_realframes.frames`, divided by the
   gain), the convention of the DECam networks.  Each frame is split by
   columns: the left 70 % for training, the right 30 % held out.
2. The frames' own cosmic-ray hits are cut out as hit shapes
   (`astromask.simulate.cosmic_rays_from_frame`) and divided, at random,
   into a training half and a held-out half.  The frames' own hits (L.A.
   Cosmic's mask, dilated by one pixel) are not in any truth: they are left
   out of the loss and of the scores.
3. `astromask.train` fine-tunes the chosen network (default
   ``decam-attention/Att_deepCR``) on 128-pixel tiles of the training
   parts, with the training hits injected on the fly (one per 2000
   pixels), deepCR's sky augmentation, rotations, and MaxiMask's
   class-balanced loss.
4. The held-out parts get the held-out hits injected (fixed seed), and the
   network before and after is scored on them with `astromask.metrics`:
   TPR at 0.01 % and 0.1 % FPR, all frames' pixels together, and per
   telescope.

Usage::

    python benchmarks/finetune_cr.py [REALDATA_DIR] [--start MODEL] [--epochs N]
        [--steps N] [--output FILE.keras] [--seed N]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _realframes import REALDATA, find_hits, frames  # noqa: E402

FPR = (1e-4, 1e-3)
TRAIN_FRACTION = 0.7


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default=REALDATA, type=Path)
    parser.add_argument("--start", default="decam-attention/Att_deepCR")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--weighting", choices=["balanced", "none"], default="balanced")
    parser.add_argument("--output", default="finetuned.keras")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import astromask
    from astromask import metrics, simulate, training, zoo

    spec = zoo.cosmic_ray_spec(args.start)
    rng = np.random.default_rng(args.seed)
    train_parts, test_parts, hits = [], [], []
    for name, electrons, gain in frames(args.folder, tracking=True):
        image = electrons / gain if spec.unit == "adu" else electrons
        own_hits, crmask, *_ = find_hits(image)
        own = ndimage.binary_dilation(crmask, iterations=1)
        hits += [(h, h > 0) for h in own_hits]
        cut = int(image.shape[1] * TRAIN_FRACTION) // 4 * 4
        train_parts.append((name, image[:, :cut], own[:, :cut]))
        test_parts.append((name, image[:, cut:], own[:, cut:]))
    order = rng.permutation(len(hits))
    train_hits = [hits[i] for i in order[: len(hits) // 2]]
    test_hits = [hits[i] for i in order[len(hits) // 2 :]]
    print(
        f"{len(train_parts)} frames; {len(hits)} hit shapes: {len(train_hits)} for "
        f"training, {len(test_hits)} held out"
    )

    common = dict(
        hits=train_hits,
        tile=args.tile,
        batch_size=args.batch_size,
        weighting=None if args.weighting == "none" else "balanced",
    )
    data = training.TileDataset(
        [p for _, p, _ in train_parts],
        spec,
        ignore=[o for *_, o in train_parts],
        steps=args.steps,
        seed=args.seed,
        **common,
    )
    validation = training.TileDataset(
        [p for _, p, _ in train_parts],
        spec,
        ignore=[o for *_, o in train_parts],
        steps=4,
        seed=args.seed + 1,
        fixed=True,
        positive_fraction=data.positive_fraction,
        **common,
    )

    # Held-out injections, scored frame by frame on the whole held-out part.
    tests = []
    for name, part, own in test_parts:
        dirty, truth = simulate.inject_cosmic_rays(part, test_hits, density=1 / 2000, seed=rng)
        tests.append((name, dirty, truth, own))
    n_truth = sum(int(t.sum()) for _, _, t, _ in tests)
    n_pixels = sum(t.size for _, _, t, _ in tests)
    print(f"held out: {n_pixels} pixels, {n_truth} injected cosmic-ray pixels\n")

    def score(model):
        maps = [
            astromask.probabilities(d.astype(np.float32), model=model, progress=False)
            for _, d, _, _ in tests
        ]
        flat = np.concatenate([m.ravel() for m in maps])
        truth = np.concatenate([t.ravel() for _, _, t, _ in tests])
        own = np.concatenate([o.ravel() for *_, o in tests])
        overall = metrics.tpr_at_fpr(flat, truth, FPR, exclude=own)[0]
        per = {}
        for (name, _, t, o), m in zip(tests, maps):
            telescope = name.split()[0]
            per.setdefault(telescope, []).append((m, t, o))
        rows = {}
        for telescope, items in per.items():
            m = np.concatenate([i[0].ravel() for i in items])
            t = np.concatenate([i[1].ravel() for i in items])
            o = np.concatenate([i[2].ravel() for i in items])
            rows[telescope] = metrics.tpr_at_fpr(m, t, FPR, exclude=o)[0]
        return overall, rows

    before = score(args.start)
    start = time.perf_counter()
    history = astromask.train(
        data,
        validation,
        start=args.start,
        output=args.output,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        overwrite=True,
        seed=args.seed,
        verbose=2,
    )
    minutes = (time.perf_counter() - start) / 60
    best = min(history, key=lambda e: e["val_loss"])
    print(
        f"\ntrained {len(history)} epochs x {args.steps} steps of {args.batch_size} "
        f"{args.tile}-px tiles in {minutes:.1f} min; best epoch {best['epoch']}\n"
    )
    after = score(args.output)

    heads = [f"TPR@FPR={f:g}" for f in FPR]
    print(
        f"{'held-out injections':<22}"
        + "".join(f"{'before ' + h:>24}" for h in heads)
        + "".join(f"{'after ' + h:>24}" for h in heads)
    )
    for label, b, a in [("all frames", before[0], after[0])] + [
        (k, before[1][k], after[1][k]) for k in before[1]
    ]:
        print(f"{label:<22}" + "".join(f"{v:>24.3f}" for v in (*b, *a)))


if __name__ == "__main__":
    main()
