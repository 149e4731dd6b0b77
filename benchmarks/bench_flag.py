"""End-to-end speed of ``astromask.flag`` against upstream ``maximask FILE``.

Both sides run as fresh processes on the same 2048x2048 FITS frame, one after
the other on the same machine, and do the same work: start Python, load the
network, read the file, normalise, run every tile, threshold, write a mask
file.  The script prints each wall-clock time and the ratio.

Usage::

    python benchmarks/bench_flag.py --upstream-python /path/to/venv/bin/python \
        [--backends tensorflow,jax,torch] [--size 2048] [--repeat 2]

``--upstream-python`` is a Python with ``tensorflow`` and ``MaxiMask==1.4.1``
(tox's ``upstream`` environment has them: ``.tox/upstream/bin/python``).
Weights must be reachable (cache, ``ASTROMASK_WEIGHTS_URL``) for astromask.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OURS = """
import sys
from astropy.nddata import CCDData
import astromask
ccd = CCDData.read(sys.argv[1], unit="adu")
out = astromask.flag(ccd, progress=False)
out.write(sys.argv[2], hdu_mask="MASK", hdu_flags="FLAGS", overwrite=True)
"""

UPSTREAM = """
import sys
from maximask_and_maxitrack.maximask.maximask import main
sys.argv = ["maximask", sys.argv[1]]
main()
"""


def _timed(cmd, env):
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{cmd[0]} failed:\n{done.stderr[-2000:]}")
    return elapsed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream-python", required=True)
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=2, help="runs per side; best is kept")
    args = parser.parse_args(argv)

    from astropy.io import fits

    from astromask.simulate import simulated_frame

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frame = tmp / "frame.fits"
        ccd, _ = simulated_frame((args.size, args.size), seed=1)
        fits.PrimaryHDU(ccd.data).writeto(frame)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")

        # Warm the weights cache and conversion so neither side downloads.
        subprocess.run([sys.executable, "-m", "astromask.cli", "fetch", "-q"], env=env, check=True)

        upstream = min(
            _timed([args.upstream_python, "-c", UPSTREAM, str(frame)], env)
            for _ in range(args.repeat)
        )
        print(f"frame {args.size}x{args.size}, {os.cpu_count()} CPU cores")
        print(f"upstream maximask FILE (TensorFlow): {upstream:8.2f} s")
        for backend in args.backends.split(","):
            benv = dict(env, KERAS_BACKEND=backend)
            ours = min(
                _timed([sys.executable, "-c", OURS, str(frame), str(tmp / "out.fits")], benv)
                for _ in range(args.repeat)
            )
            print(
                f"astromask.flag, {backend:<10} backend: {ours:8.2f} s   "
                f"speed-up x{upstream / ours:.2f}"
            )


if __name__ == "__main__":
    main()
