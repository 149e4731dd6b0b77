"""The ``astromask`` command line.

Subcommands:

``astromask fetch``
    Download every pretrained weight file into the cache, ahead of time (for
    compute nodes without network access).
``astromask demo``
    Flag a simulated frame and print what was found against what was
    simulated; checks an installation end to end.
"""

import argparse
import os
import sys

__all__ = ["main"]


def _cmd_fetch(args):
    from astromask import data

    paths = data.fetch_all(progress=not args.quiet)
    if not args.quiet:
        for path in paths:
            print(path)
        print(f"{len(paths)} files in {data.cache_dir()}")
    return 0


def _cmd_demo(args):
    import numpy as np

    import astromask
    from astromask.classes import CLASSES, decode_flags
    from astromask.simulate import simulated_frame

    ccd, truth = simulated_frame((args.size, args.size), seed=args.seed)
    result = astromask.flag(ccd, progress=not args.quiet, device=args.device)
    print(f"astromask {astromask.__version__}: simulated {args.size}x{args.size} frame")
    print(f"{'class':<5} {'flagged px':>10} {'simulated px':>12} {'recovered':>9}")
    for cls in CLASSES:
        if cls.bit is None:
            continue
        found = decode_flags(result.flags, cls.name)
        line = f"{cls.name:<5} {int(found.sum()):>10d}"
        if cls.name in truth:
            sim = truth[cls.name]
            recovered = (found & sim).sum() / max(sim.sum(), 1)
            line += f" {int(sim.sum()):>12d} {recovered:>9.1%}"
        print(line)
    print(f"masked pixels: {int(np.count_nonzero(result.mask))}")
    if args.output:
        result.write(args.output, hdu_mask="MASK", hdu_flags="FLAGS", overwrite=args.overwrite)
        print(f"wrote {args.output}")
    return 0


def _parser():
    parser = argparse.ArgumentParser(
        prog="astromask",
        description="Contaminant masks for CCD frames with the MaxiMask network.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    fetch = sub.add_parser("fetch", help="download all pretrained weights into the cache")
    fetch.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    fetch.set_defaults(func=_cmd_fetch)

    demo = sub.add_parser("demo", help="flag a simulated frame and report what was found")
    demo.add_argument("--size", type=int, default=1024, help="frame side in pixels")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the frame")
    demo.add_argument("--device", help="Keras device, e.g. cpu or gpu:0")
    demo.add_argument("--output", help="write the flagged frame to this FITS file")
    demo.add_argument("--overwrite", action="store_true", help="replace --output")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv=None):
    """Run the command line; return the exit status."""
    # TensorFlow's start-up chatter is noise on a command line (the library
    # itself leaves the environment alone).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (OSError, ValueError, TypeError) as err:
        print(f"astromask: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
