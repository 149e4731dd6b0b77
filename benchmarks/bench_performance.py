"""Performance of astromask against its anchors, every target in one run.

First the four targets of the speed issue (``--targets-only`` runs these
alone), TensorFlow backend, whole commands in fresh processes:

T1. One ``--size`` x ``--size`` FITS file: ``astromask flag FILE`` against
    upstream ``maximask FILE``, process start included on both sides;
    the two alternate, ``--repeat`` times each, and the medians are compared.
T2. A folder of ``--folder-files`` files of ``--folder-size`` pixels:
    ``astromask flag DIR`` against ``maximask DIR``, one command each.
T3. Ten `astromask.flag` calls in one process on frames of ten sizes from
    500 to 3000 pixels (``--sizes``), then the same ten again: each call of
    the first pass against the same size's call in the second (the steady
    state, every shape seen): after the first, within 15 % in seconds per
    megapixel; the first within 2 s.  Importing Keras (TensorFlow), which
    `astromask.flag` does on its first call, is timed apart, before it.
    A single call varies by about 15 % on a shared 2-core machine, as much
    as the target, so ``--t3-runs`` fresh processes (3 by default) do it and
    each call's median over them is compared.
T4. Parity: ``astromask flag FILE --tiling maximask --planes`` against the
    mask file upstream wrote in T1, plane by plane.

Then one table per further measurement, and a summary with the ratios:

1. ``astromask.flag`` with the default tiling (``"auto"``) and with
   ``"maximask"``, on every Keras backend, against upstream ``maximask FILE``
   (MaxiMask 1.4.1, TensorFlow), on the same simulated frame (``--size``,
   default 2048), each run a fresh process, measured two ways on the same
   runs: end to end (process start, imports, model load, FITS read, every
   tile, threshold, mask file written) and processing only (from the loaded
   model to the thresholded result: upstream's own "Whole processing time
   (incl. preprocessing)", which leaves out its imports, model load and
   output file; for astromask, `astromask.flag` timed after
   `astromask.zoo.get_model` has built the network for the frame's tiles).
   Peak resident memory of each process.
2. Cosmic rays (processing only, networks built and warmed up): the fastest
   `astromask.cosmicray_deepcr` model against ``ccdproc.cosmicray_lacosmic``,
   and ``deepcr/ACS-WFC`` against deepCR 0.3.1 on PyTorch
   (``benchmarks/bench_cosmicray.py``).
3. Scaling: `astromask.flag` Mpix/s from 1024x1024 to 8192x8192 pixels and
   the process's peak resident memory, each size in a fresh process
   (processing only: the network is built and run once on the frame's tile
   shape first), with the tiles ``"auto"`` cut and the area they compute.
4. Reduced precision: `astromask.flag` in float32, bfloat16 and float16,
   speed and deviation from float32 (probabilities and flags), processing
   only (the network built and run once on the frame's tile shape first).
5. GPU: whether Keras sees one.  Keras puts the networks on the first GPU
   it sees, so on such a machine the figures above are the GPU's.

Usage::

    python benchmarks/bench_performance.py --upstream-python PY [--deepcr-python PY]
        [--backends tensorflow,jax,torch] [--size 2048] [--scaling 1024,2048,4096,8192]
        [--scaling-backend tensorflow] [--repeat 1]

``--upstream-python`` is a Python with MaxiMask 1.4.1 and TensorFlow (tox's
``.tox/upstream/bin/python``), ``--deepcr-python`` one with deepCR 0.3.1 and
PyTorch (``.tox/upstream-torch/bin/python``).  astromask runs in this
script's own Python, which then needs every backend of ``--backends``, or
in one Python per backend, such as tox's environments::

    --backend-python tensorflow=.tox/tensorflow/bin/python \
    --backend-python jax=.tox/jax/bin/python --backend-python torch=.tox/torch/bin/python

Weights must be reachable (cache or ``ASTROMASK_WEIGHTS_URL``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FLAG_FILE = """
import json, resource, sys, time
from astropy.nddata import CCDData
import astromask
from astromask import inference, zoo
from astromask import tiling as tilings
ccd = CCDData.read(sys.argv[1], unit="adu")
tiling = sys.argv[3]
rows, columns = tilings.resolve_tiling(tiling).for_shape(*ccd.shape)
zoo.get_model("maximask", (rows.size, columns.size))  # the model load
start = time.perf_counter()
out = astromask.flag(ccd, tiling=tiling, progress=False)
seconds = time.perf_counter() - start
out.write(sys.argv[2], hdu_mask="MASK", hdu_flags="FLAGS", overwrite=True)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
print(json.dumps({"processing": seconds, "peak_gib": peak}))
"""

# T3: ten sizes, twice, in one process; seconds per call as JSON.
SIZES = """
import json, sys, time
import numpy as np
import astromask
from astromask._backend import load_keras
from astromask.simulate import simulated_frame
sizes = [int(s) for s in sys.argv[1].split(",")]
base, _ = simulated_frame((1024, 1024), seed=1)
start = time.perf_counter()
load_keras()  # importing the backend, once per process: reported apart
keras_import = time.perf_counter() - start
def frame(n):
    reps = -(-n // 1024)
    return np.ascontiguousarray(np.tile(base.data, (reps, reps))[:n, :n])
passes = []
for _ in range(2):
    seconds = []
    for n in sizes:
        image = frame(n)
        start = time.perf_counter()
        astromask.flag(image, progress=False)
        seconds.append(time.perf_counter() - start)
    passes.append(seconds)
print(json.dumps({"first": passes[0], "steady": passes[1], "import": keras_import}))
"""

# Upstream's CLI with -v logs its own processing time; the peak RSS is added.
UPSTREAM = """
import json, logging, re, resource, sys
from maximask_and_maxitrack.maximask.maximask import main
class Grab(logging.Handler):
    seconds = None
    def emit(self, record):
        found = re.search(r"Whole processing time .*?: ([0-9.]+)s", record.getMessage())
        if found:
            Grab.seconds = float(found.group(1))
sys.argv = ["maximask", "-v", sys.argv[1]]
logging.basicConfig(level=logging.INFO)  # main's own basicConfig is then a no-op
logging.getLogger().addHandler(Grab())
main()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
print(json.dumps({"processing": Grab.seconds, "peak_gib": peak}))
"""

# One measurement in a fresh process: flag an n x n frame (a simulated
# 1024 x 1024 frame tiled), after building the network for the frame's tiles
# and running it once (a backend compiles per input shape); print JSON.
SCALING = """
import json, resource, sys, time
import numpy as np
import astromask
from astromask import inference, zoo
from astromask import tiling as tilings
from astromask.simulate import simulated_frame
size, precision = int(sys.argv[1]), sys.argv[2]
base, _ = simulated_frame((1024, 1024), seed=1)
rows, columns = tilings.resolve_tiling(None).for_shape(size, size)
net = zoo.get_model("maximask", (rows.size, columns.size), precision=precision)
net.predict_on_batch(np.zeros((1, rows.size, columns.size, 1), np.float32))  # warm up
reps = -(-size // 1024)
image = np.tile(base.data, (reps, reps))[:size, :size]
del base
start = time.perf_counter()
out = astromask.flag(image, progress=False, precision=precision)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
tiles = len(rows.starts(size)) * len(columns.starts(size))
computed = tiles * rows.size * columns.size / image.size
print(json.dumps({"seconds": seconds, "peak_gib": peak, "mpix": image.size / 1e6,
                  "tiles": f"{tiles} x {rows.size}x{columns.size}", "computed": computed}))
"""

# Each precision in one process: a probe on a small crop (a precision that
# runs over ten times slower than float32 there, as float16 does where the
# hardware has no 16-bit kernels, is skipped), a warm-up on the frame's tile
# shape, then flag and probabilities timed and compared with float32.
PRECISION = """
import json, resource, sys, time
import numpy as np
import astromask
from astromask import inference, zoo
from astromask import tiling as tilings
from astromask.simulate import simulated_frame
ccd, _ = simulated_frame((int(sys.argv[1]), int(sys.argv[1])), seed=1)
rows, columns = tilings.resolve_tiling(None).for_shape(*ccd.shape)
results, reference, probe = {}, {}, {}
for precision in ("float32", "bfloat16", "float16"):
    try:
        crop = dict(ccd=ccd.data[:128, :128], tiling=(128, 16), progress=False)
        astromask.flag(**crop, precision=precision)  # builds and compiles
        start = time.perf_counter()
        astromask.flag(**crop, precision=precision)
        probe[precision] = 128**2 / 1e6 / (time.perf_counter() - start)
    except Exception as err:  # a backend without that precision on this hardware
        results[precision] = {"error": f"{type(err).__name__}: {err}"[:200]}
        continue
    if probe[precision] < probe["float32"] / 10:
        results[precision] = {
            "error": f"too slow here: {probe[precision]:.4f} Mpix/s on a 128x128 tile"
        }
        continue
    net = zoo.get_model("maximask", (rows.size, columns.size), precision=precision)
    net.predict_on_batch(np.zeros((1, rows.size, columns.size, 1), np.float32))
    start = time.perf_counter()
    flags = astromask.flag(ccd, progress=False, precision=precision).flags
    seconds = time.perf_counter() - start
    probs = astromask.probabilities(ccd, priors="default", progress=False, precision=precision)
    if precision == "float32":
        reference = {"flags": flags, "probs": probs}
    dp = np.abs(probs - reference["probs"])
    results[precision] = {
        "seconds": seconds,
        "mpix": ccd.data.size / 1e6,
        "max_dp": float(dp.max()),
        "p9999_dp": float(np.quantile(dp, 0.9999)),
        "mean_dp": float(dp.mean()),
        "flags_changed": float((flags != reference["flags"]).mean()),
    }
results["peak_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
print(json.dumps(results))
"""


def _run(cmd, env, *, timed=False):
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(cmd[:3])} failed:\n{done.stderr[-3000:]}")
    return elapsed if timed else done.stdout


def _timed_run(cmd, env, repeat):
    """Best of ``repeat`` fresh processes: end-to-end seconds plus the JSON they print."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = _run(cmd, env)
        runs.append({"end_to_end": time.perf_counter() - start, **_json(out)})
    return min(runs, key=lambda r: r["end_to_end"])


def _json(output):
    return json.loads(output.strip().splitlines()[-1])


def _pythons(pairs, backends):
    """``{backend: python}`` from ``BACKEND=PYTHON`` pairs; this Python by default."""
    pythons = dict.fromkeys(backends, sys.executable)
    for pair in pairs:
        backend, sep, python = pair.partition("=")
        if not sep or backend not in pythons:
            sys.exit(f"--backend-python: expected BACKEND=PYTHON for one of {backends}, got {pair}")
        pythons[backend] = python
    return pythons


def _gpu_visible(python, env):
    probe = "\n".join(
        [
            "import json, keras",
            "b = keras.backend.backend()",
            "if b == 'tensorflow':",
            "    import tensorflow as tf",
            "    dev = tf.config.list_physical_devices('GPU')",
            "elif b == 'jax':",
            "    import jax",
            "    dev = [d for d in jax.devices() if d.platform == 'gpu']",
            "else:",
            "    import torch",
            "    dev = list(range(torch.cuda.device_count()))",
            "print(json.dumps(len(dev)))",
        ]
    )
    return _json(_run([python, "-c", probe], env))


def _median(values):
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _command(cmd, env, cwd):
    """Seconds of a whole command (fresh process), which must succeed."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(map(str, cmd[:3]))} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def targets(args, env, summary):
    """T1 to T4 of the speed issue (those in ``--targets``); appends to ``summary``."""
    env = dict(env, KERAS_BACKEND="tensorflow")
    python = _pythons(args.backend_python, ["tensorflow"])["tensorflow"]
    wanted = {name.strip().upper() for name in args.targets.split(",")}
    if wanted & {"T1", "T2", "T4"}:
        _files_targets(args, env, summary, python, wanted)
    if "T3" in wanted:
        _sizes_target(args, env, summary, python)


def _files_targets(args, env, summary, python, wanted):
    """T1, T4 (which needs T1's upstream file) and T2."""
    from astropy.io import fits

    from astromask.simulate import simulated_frame

    # Upstream's own command, beside its Python.
    upstream_cli = [str(Path(os.path.abspath(args.upstream_python)).parent / "maximask")]
    # The installed command's own entry point (astromask._entry:console).
    ours_cli = [python, "-m", "astromask._entry", "flag", "-q", "--overwrite"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for side in ("up", "ours"):
            (tmp / side).mkdir()
        ccd, _ = simulated_frame((args.size, args.size), seed=1)
        for side in ("up", "ours"):
            fits.PrimaryHDU(ccd.data).writeto(tmp / side / "frame.fits")
        if wanted & {"T1", "T4"}:
            _one_file_targets(args, env, summary, tmp, upstream_cli, ours_cli)
        if "T2" in wanted:
            _folder_target(args, env, summary, tmp, upstream_cli, ours_cli)


def _one_file_targets(args, env, summary, tmp, upstream_cli, ours_cli):
    """T1 (alternated, medians) and T4 (parity with T1's upstream file)."""
    import numpy as np
    from astropy.io import fits

    up, ours = [], []
    for _ in range(args.repeat):
        up.append(_command([*upstream_cli, "frame.fits"], env, tmp / "up"))
        ours.append(_command([*ours_cli, "frame.fits"], env, tmp / "ours"))
    t1 = _median(up) / _median(ours)
    print(f"T1. one {args.size}x{args.size} file, whole command (median of {args.repeat})")
    for name, runs in (("upstream maximask FILE", up), ("astromask flag FILE", ours)):
        each = ", ".join(f"{v:.1f}" for v in runs)
        print(f"    {name:<23} {_median(runs):7.1f} s   ({each})")
    print(f"    ratio x{t1:.1f}")
    summary.append(("T1 one file, whole command, vs maximask FILE", f"x{t1:.1f}", ">= 10"))

    # T4: parity with the file upstream wrote in T1.
    _command(
        [
            *ours_cli,
            "--tiling",
            "maximask",
            "--planes",
            "--output",
            "parity.fits",
            "frame.fits",
        ],
        env,
        tmp / "ours",
    )
    with (
        fits.open(tmp / "up" / "frame.mask.fits") as a,
        fits.open(tmp / "ours" / "parity.fits") as b,
    ):
        same = np.array_equal(a[0].data, b[0].data)
        differ = int((a[0].data != b[0].data).sum()) if a[0].data.shape == b[0].data.shape else -1
    print(
        f"T4. parity (--tiling maximask --planes vs upstream's file): "
        f"{'bit-identical' if same else f'{differ} values differ'}"
    )
    summary.append(
        (
            "T4 parity mode vs upstream (TensorFlow)",
            "bit-identical" if same else f"{differ} differ",
            "bit-identical",
        )
    )


def _folder_target(args, env, summary, tmp, upstream_cli, ours_cli):
    """T2: a folder, one command each side."""
    from astropy.io import fits

    from astromask.simulate import simulated_frame

    frames = [
        simulated_frame((args.folder_size, args.folder_size), seed=10 + k)[0].data
        for k in range(args.folder_files)
    ]
    for side in ("up", "ours"):
        folder = tmp / side / "night"
        folder.mkdir()
        for k, data in enumerate(frames):
            fits.PrimaryHDU(data).writeto(folder / f"frame{k}.fits")
    up_dir = _command([*upstream_cli, "night"], env, tmp / "up")
    ours_dir = _command([*ours_cli, "night"], env, tmp / "ours")
    t2 = up_dir / ours_dir
    side = f"{args.folder_size}x{args.folder_size}"
    print(f"T2. folder of {args.folder_files} files of {side}, one command each")
    print(f"    upstream maximask DIR   {up_dir:7.1f} s")
    print(f"    astromask flag DIR      {ours_dir:7.1f} s")
    print(f"    ratio x{t2:.1f}")
    summary.append(
        (
            f"T2 folder of {args.folder_files} x {args.folder_size}^2 vs maximask DIR",
            f"x{t2:.1f}",
            ">= 12",
        )
    )


def _sizes_target(args, env, summary, python):
    """T3: ten sizes in one process, in ``--t3-runs`` processes; medians per call."""
    sizes = [int(v) for v in args.sizes.split(",")]
    runs = [_json(_run([python, "-c", SIZES, args.sizes], env)) for _ in range(args.t3_runs)]
    r = {
        key: [_median(list(values)) for values in zip(*(run[key] for run in runs), strict=True)]
        for key in ("first", "steady")
    }
    r["import"] = _median([run["import"] for run in runs])
    print(
        "T3. ten flag() calls, new sizes then the same again (steady state); "
        f"medians of {args.t3_runs} processes"
    )
    print("    size    first s  steady s  first s/Mpix  steady s/Mpix  excess")
    worst_later, first_excess = 0.0, r["first"][0] - r["steady"][0]
    for k, (n, a, b) in enumerate(zip(sizes, r["first"], r["steady"], strict=True)):
        mpix = n * n / 1e6
        excess = a / b - 1
        if k:
            worst_later = max(worst_later, excess)
        rates = f"{a / mpix:12.3f}  {b / mpix:13.3f}"
        print(f"    {n:5d}  {a:8.2f}  {b:8.2f}  {rates}  {100 * excess:+6.1f} %")
    summary.append(
        ("T3 calls 2-10 vs steady s/Mpix (worst)", f"{100 * worst_later:+.0f} %", "<= 15 %")
    )
    print(f"    (importing Keras and TensorFlow before the first call: {r['import']:.1f} s)")
    summary.append(("T3 first call vs steady", f"{first_excess:+.1f} s", "<= 2 s"))
    summary.append(("T3 first call, with the import", f"{first_excess + r['import']:+.1f} s", ""))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream-python", required=True)
    parser.add_argument("--deepcr-python", default=os.environ.get("ASTROMASK_DEEPCR_PYTHON"))
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--scaling", default="1024,2048,4096,8192")
    parser.add_argument("--scaling-backend", help="default: the fastest end to end")
    parser.add_argument("--repeat", type=int, default=1, help="runs per timing; best kept")
    parser.add_argument(
        "--backend-python",
        action="append",
        default=[],
        metavar="BACKEND=PYTHON",
        help="the Python to run astromask in on BACKEND (default: this one)",
    )
    parser.add_argument("--folder-files", type=int, default=8, help="T2's number of files")
    parser.add_argument("--folder-size", type=int, default=2048, help="T2's frame side")
    parser.add_argument(
        "--sizes",
        default="500,778,1056,1333,1611,1889,2167,2444,2722,3000",
        help="T3's frame sides",
    )
    parser.add_argument("--targets-only", action="store_true", help="T1 to T4 alone")
    parser.add_argument(
        "--targets",
        default="T1,T2,T3,T4",
        help="which of T1 to T4 to run (T4 runs T1 too, whose upstream file it compares)",
    )
    parser.add_argument("--t3-runs", type=int, default=3, help="T3's fresh processes")
    args = parser.parse_args(argv)

    from astropy.io import fits

    from astromask.simulate import simulated_frame

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    backends = args.backends.split(",")
    python = _pythons(args.backend_python, backends)
    summary = []
    mpix = args.size**2 / 1e6
    print(f"{os.cpu_count()} CPU cores; frame {args.size}x{args.size} ({mpix:.2f} Mpix)\n")
    _run([python[backends[0]], "-m", "astromask.cli", "fetch", "-q"], env)  # no download timed

    targets(args, env, summary)
    if args.targets_only:
        _print_summary(summary)
        return 0

    # 1. End to end and processing only, every backend (targets 1 and 6).
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frame = tmp / "frame.fits"
        ccd, _ = simulated_frame((args.size, args.size), seed=1)
        fits.PrimaryHDU(ccd.data).writeto(frame)
        upstream = _timed_run([args.upstream_python, "-c", UPSTREAM, str(frame)], env, args.repeat)
        flagged = {}
        for backend in backends:
            benv = dict(env, KERAS_BACKEND=backend)
            for tiling in ("auto", "maximask"):
                cmd = [python[backend], "-c", FLAG_FILE, str(frame), str(tmp / "o.fits"), tiling]
                flagged[backend, tiling] = _timed_run(cmd, benv, args.repeat)
    print(
        "1. MaxiMask: end to end (process start included) and processing only;\n"
        "   seconds, Mpix/s, speed-up over upstream, peak RSS"
    )
    print(f"   {'':<36} {'end to end':>22}   {'processing only':>22}   {'peak RSS':>8}")

    def row(name, r):
        cells = []
        for key in ("end_to_end", "processing"):
            cells.append(f"{r[key]:7.1f} s {mpix / r[key]:6.3f} x{upstream[key] / r[key]:<5.1f}")
        print(f"   {name:<36} {cells[0]:>22}   {cells[1]:>22}   {r['peak_gib']:5.2f} GiB")

    row("upstream maximask FILE (TensorFlow)", upstream)
    for (backend, tiling), r in flagged.items():
        row(f"astromask.flag {backend:<10} {tiling:<8}", r)

    def best(tiling, key):
        backend = min(backends, key=lambda b: flagged[b, tiling][key])
        return upstream[key] / flagged[backend, tiling][key], backend

    for tiling, goal in (("auto", ">= 10"), ("maximask", ">= 4")):
        for key, how in (("end_to_end", "end to end"), ("processing", "processing only")):
            ratio, backend = best(tiling, key)
            summary.append(
                (f"flag {tiling} vs maximask FILE, {how}", f"x{ratio:.1f} ({backend})", goal)
            )
    fastest = best("auto", "end_to_end")[1]
    summary.append(("fastest backend on this CPU", fastest, "the default install's"))

    # 2. Cosmic rays.
    print("\n2. Cosmic rays, processing only (bench_cosmicray.py)")
    cr = {}
    for backend in backends:
        benv = dict(env, KERAS_BACKEND=backend)
        if args.deepcr_python:
            benv["ASTROMASK_DEEPCR_PYTHON"] = args.deepcr_python
        out = _run(
            [python[backend], str(HERE / "bench_cosmicray.py"), "--size", str(args.size),
             "--repeat", str(max(args.repeat, 1)), "--json"],
            benv,
        )  # fmt: skip
        cr[backend] = _json(out)
        for line in out.strip().splitlines()[:-1]:
            print(f"   {line}")
    lacosmic = min(r["lacosmic"] for r in cr.values())
    fastest_cr = min(
        (r["astromask"][m], m, b) for b, r in cr.items() for m in r["astromask"] if "+" not in m
    )
    summary.append(
        (
            "cosmicray_deepcr fastest vs lacosmic",
            f"x{lacosmic / fastest_cr[0]:.2f} ({fastest_cr[1]}, {fastest_cr[2]})",
            ">= 1",
        )
    )
    if all("ACS-WFC" in r.get("deepcr", {}) for r in cr.values()):
        theirs = min(r["deepcr"]["ACS-WFC"] for r in cr.values())
        ours, backend = min((r["astromask"]["ACS-WFC"], b) for b, r in cr.items())
        summary.append(
            ("ACS-WFC vs deepCR 0.3.1 torch", f"x{theirs / ours:.2f} ({backend})", ">= 2")
        )

    # 3. Scaling and memory.
    backend = args.scaling_backend or fastest
    benv = dict(env, KERAS_BACKEND=backend)
    print(f"\n3. Scaling, processing only, {backend} backend, fresh process per size")
    print("   size          Mpix/s   peak RSS (GiB)   tiles (computed / frame area)")
    rates = {}
    for size in (int(s) for s in args.scaling.split(",")):
        r = _json(_run([python[backend], "-c", SCALING, str(size), "float32"], benv))
        rates[size] = r["mpix"] / r["seconds"]
        print(
            f"   {size:>5}x{size:<5}  {rates[size]:7.3f}   {r['peak_gib']:6.2f}"
            f"           {r['tiles']} ({r['computed']:.2f})"
        )
    spread = max(rates.values()) / min(rates.values()) - 1
    summary.append(("Mpix/s spread over sizes", f"{100 * spread:.0f} %", "<= 20 %"))
    summary.append(("peak RSS at the largest size", f"{r['peak_gib']:.2f} GiB", "<= 4 GB"))

    # 4. Precision.
    print(f"\n4. Precision, {args.size}x{args.size}, processing only")
    for backend in backends:
        benv = dict(env, KERAS_BACKEND=backend)
        res = _json(_run([python[backend], "-c", PRECISION, str(args.size)], benv))
        peak = res.pop("peak_gib")
        base = res["float32"]["seconds"]
        for precision, r in res.items():
            if "error" in r:
                print(f"   {backend:<10} {precision:<8}  skipped: {r['error']}")
                continue
            print(
                f"   {backend:<10} {precision:<8}  {r['mpix'] / r['seconds']:6.3f} Mpix/s "
                f"(x{base / r['seconds']:.2f})  max|dp| {r['max_dp']:.2g}  "
                f"99.99% |dp| {r['p9999_dp']:.2g}  mean |dp| {r['mean_dp']:.2g}  "
                f"flags changed {100 * r['flags_changed']:.3f} %"
            )
        print(f"   {backend:<10} peak RSS of the three runs' process: {peak:.2f} GiB")

    # 5. GPU.
    gpus = {b: _gpu_visible(python[b], dict(env, KERAS_BACKEND=b)) for b in backends}
    print("\n5. GPUs seen by Keras: " + ", ".join(f"{b} {n}" for b, n in gpus.items()))
    summary.append(("GPU", "none visible" if not any(gpus.values()) else str(gpus), ""))

    _print_summary(summary)
    return 0


def _print_summary(summary):
    print("\nSummary")
    width = max(len(s[0]) for s in summary)
    for name, value, goal in summary:
        print(f"   {name:<{width}}  {value:<28} target {goal}")


if __name__ == "__main__":
    sys.exit(main())
