"""Memory over a night of frames of varied sizes: `astromask.flag` in one process.

Flags ``--frames`` simulated frames whose sides run from ``--smallest`` up by
one pixel (100 frames of 100 sizes, 400x401 to 499x500 pixels, by default:
cut-outs, binned frames and subarrays), then the same sizes again, and
prints the resident memory (RSS) after the first ten frames, after all of
them, and after the second pass, with the networks astromask holds
(`astromask.zoo.networks`).  The target is a flat RSS: within 50 MB from
the tenth frame to the last.

Usage::

    python benchmarks/bench_memory.py [--frames 100] [--smallest 400] [--every N] [--descending]

In ascending order each frame is larger than any before, so the process's
working memory also grows with the largest tile so far; ``--descending``
separates that from what each new size adds.
"""

import argparse
import gc
import os
import sys

import numpy as np


def rss_mb():
    """Current resident memory of this process in MB (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--smallest", type=int, default=400)
    parser.add_argument("--every", type=int, default=0, help="also print RSS every N frames")
    parser.add_argument(
        "--descending",
        action="store_true",
        help="largest frame first, so that later frames need no more working memory",
    )
    args = parser.parse_args(argv)

    import astromask
    from astromask._backend import load_keras
    from astromask.zoo import networks

    keras = load_keras()

    rng = np.random.default_rng(0)
    sizes = [args.smallest + k for k in range(args.frames)]
    if args.descending:
        sizes.reverse()
    marks = {}
    for number, side in enumerate(sizes * 2, start=1):
        frame = rng.normal(1000, 10, (side, side + 1)).astype(np.float32)
        astromask.flag(frame, progress=False)
        gc.collect()
        if args.every and number % args.every == 0 and number <= len(sizes):
            print(f"after {number:4d} frames: RSS {rss_mb():7.1f} MB", flush=True)
        if number in (10, len(sizes), 2 * len(sizes)):
            marks[number] = rss_mb()
            print(f"after {number:4d} frames: RSS {marks[number]:7.1f} MB", flush=True)
    growth = marks[len(sizes)] - marks[10]
    print(f"backend {keras.backend.backend()}; networks held: {len(networks._models)}")
    print(f"growth from frame 10 to frame {len(sizes)}: {growth:+.1f} MB (target within 50 MB)")
    print(f"second pass over the same sizes: {marks[2 * len(sizes)] - marks[len(sizes)]:+.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
