"""The ``astromask`` command line.

``astromask flag PATH...``
    MaxiMask masks for FITS files: every image HDU is processed (3-D cubes
    plane by plane), tables, 8-bit images (bad-pixel masks) and other HDUs
    are copied unchanged, and the output file has the input's HDU structure.
    With ``--workers N`` or ``--scheduler ADDRESS`` the files are flagged in
    parallel on a Dask cluster (`astromask.flag_files`).
``astromask track PATH...``
    MaxiTrack tracking-error probabilities: one row per image HDU and one per
    file (the mean over its 2-D HDUs), optionally written as ECSV.
``astromask cosmicray PATH...``
    Find and clean cosmic rays (deepCR or MaxiMask, then inpainting): each
    2-D science image HDU is written cleaned, followed by a ``CRMASK``
    extension (uint8, 1 on cosmic rays); other HDUs (variance, quality and
    fitted-sky planes included) are copied.
``astromask train FRAME... --output MODEL.keras``
    Train or fine-tune a cosmic-ray network on frames of your instrument,
    with hits from dark frames or cut from the frames themselves injected on
    the fly (`astromask.train`); the model file works as ``--detector``.
``astromask fetch``
    Download every pretrained weight file ahead of time.
``astromask demo``
    Flag a simulated frame and compare with what was simulated.

PATH is a FITS file (also ``.fz``/``.gz``), a directory (its FITS files), a
``.list`` file (one path per line), or ``FILE[N]`` for HDU N alone.  Inputs are
never modified; an existing output is kept unless ``--overwrite`` is given; a
file that fails is reported on one line (``astromask: FILE: why``) and the
others go on.  Outputs appear atomically: each is written to a hidden
temporary beside it (``.NAME.astromask-HOST-PID.part``) and renamed when
complete, so an interrupted run never leaves a partial file under an output's
name; temporaries of killed runs are removed by the next run writing to that
folder.

Exit status: 0 when every file was processed; 1 when any failed (or no input
was found); 2 for a command-line usage error; 130 when interrupted (Ctrl-C,
SIGINT) and 143 when terminated (SIGTERM): the outputs finished so far are
kept, the one being written is not.
"""

import argparse
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from astromask._backend import BackendMissing, backend_name, check_installed
from astromask._version import __version__
from astromask.io import (
    Failure,
    check_input,
    expand_paths,
    image_hdus,
    output_path,
    resolve_hdu,
    write_atomically,
)

__all__ = ["main"]

# Exit statuses (see the module docstring).
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT
EXIT_TERMINATED = 128 + signal.SIGTERM


class _Terminated(BaseException):
    """SIGTERM received: unwinds like `KeyboardInterrupt`."""


# --------------------------------------------------------------------------
# Inputs


def _read_config(value, name):
    """Priors or thresholds: 'default', 'none' or an upstream-format file."""
    if value in ("default", "none"):
        return None if value == "none" else "default"
    try:
        lines = Path(value).read_text().splitlines()
    except OSError as err:
        msg = f"--{name}: cannot read {value}: {err.strerror}"
        raise SystemExit(f"astromask: error: {msg}") from err
    values = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        try:
            values[fields[0]] = float(fields[1])
        except (IndexError, ValueError):
            msg = f"--{name}: {value}, line {number}: expected 'CLASS value', got {line!r}"
            raise SystemExit(f"astromask: error: {msg}") from None
    return values


# --------------------------------------------------------------------------
# flag


def _cmd_flag(args):
    from astromask import files

    args.priors = _read_config(args.priors, "priors")
    args.thresholds = _read_config(args.thresholds, "thresholds")
    classes = args.classes or None
    jobs = expand_paths(args.paths)
    if args.output and len(jobs) != 1:
        raise SystemExit("astromask: error: --output needs exactly one input file")
    options = {
        "output": args.output,
        "output_dir": args.output_dir,
        "suffix": args.suffix,
        "overwrite": args.overwrite,
        "classes": classes,
        "priors": args.priors,
        "thresholds": args.thresholds,
        "single_mask": False if args.planes else None,  # None: flags unless probabilities
        "probabilities": args.probabilities,
        "compress": args.compress,
        "batch_size": args.batch_size,
        "device": args.device,
        "precision": args.precision,
        "tiling": args.tiling,
    }
    if args.workers is not None or args.scheduler:
        return _flag_on_cluster(jobs, args, options)

    def work(path, hdu):
        try:
            return files.flag_file(path, hdu, progress=args.progress, **options)
        except files.FlagError as err:
            raise Failure(str(err)) from err

    return _run_jobs(jobs, args, work, output_of=lambda path, hdu: output_path(path, hdu, args))


def _flag_on_cluster(jobs, args, options):
    """``flag --workers N`` or ``--scheduler ADDRESS``: the jobs as Dask tasks."""
    from astromask import batch

    if not jobs:
        print("astromask: no input file found", file=sys.stderr)
        return EXIT_FAILED
    if args.skip_existing:
        todo = [(path, hdu) for path, hdu in jobs if not output_path(path, hdu, args).exists()]
        if len(todo) < len(jobs) and not args.quiet:
            print(f"{len(jobs) - len(todo)} of {len(jobs)} skipped: their outputs exist")
        if not todo:
            return 0
        jobs = todo
    try:
        results = batch.run_jobs(
            jobs,
            client=args.scheduler,
            workers=args.workers,
            progress=not (args.quiet or len(jobs) < 2),
            options=options,
        )
    except ImportError as err:
        raise SystemExit(f"astromask: error: {err}") from None
    for row, whole_file in zip(results, results["hdu"].mask):
        label = row["input"] if whole_file else f"{row['input']}[{row['hdu']}]"
        if row["status"] != "ok":
            print(f"astromask: {label}: {row['error']}", file=sys.stderr)
        elif not args.quiet:
            print(f"{label} -> {row['output']}")
    return EXIT_FAILED if any(results["status"] != "ok") else 0


def _is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # replaced or closed
        return False


def _run_jobs(jobs, args, work, output_of=None):
    """Run ``work(path, hdu)`` on every job; the exit status.

    A job that raises `Failure` is reported on one line, ``astromask:
    FILE: why``, and the others go on.  ``output_of(path, hdu)`` names a
    job's output: a job whose output an earlier job of the run writes fails
    rather than replace it (as in `astromask.batch`).
    """
    from tqdm.auto import tqdm

    failures = skipped = 0
    owners = {}
    skip_existing = getattr(args, "skip_existing", False)
    # No bar without a terminal (a log file gets the report lines alone), and
    # every report on a line of its own (tqdm.write clears the bar first).
    hidden = args.quiet or len(jobs) < 2 or not _is_terminal(sys.stderr)
    bar = tqdm(jobs, desc="files", unit="file", disable=hidden)

    def report(line, file=None):
        if hidden:
            print(line, file=file)
        else:
            tqdm.write(line, file=file or sys.stdout)

    for number, (path, hdu) in enumerate(bar):
        label = f"{path}[{hdu}]" if hdu is not None else str(path)
        try:
            if output_of is not None:
                output = output_of(path, hdu)
                owner, first = owners.setdefault(os.path.abspath(output), (number, label))
                if owner != number:
                    raise Failure(f"output {output} is also the output of {first}")
                if skip_existing and Path(output).exists():
                    skipped += 1
                    continue
            check_input(path)
            result = work(path, hdu)
        except Failure as err:
            failures += 1
            report(f"astromask: {label}: {err}", file=sys.stderr)
            continue
        if not args.quiet and result is not None:
            report(f"{label} -> {result}")
    if not jobs:
        print("astromask: no input file found", file=sys.stderr)
        return EXIT_FAILED
    if skipped and not args.quiet:
        print(f"{skipped} of {len(jobs)} skipped: their outputs exist (--skip-existing)")
    return EXIT_FAILED if failures else 0


# --------------------------------------------------------------------------
# track


def _cmd_track(args):
    from astropy.table import Table

    from astromask import files

    prior = None if args.prior.lower() == "none" else float(args.prior)
    ecsv = Path(args.ecsv) if args.ecsv else None
    if ecsv is not None and ecsv.exists() and not args.overwrite:  # before any work
        print(f"astromask: {ecsv} exists; add --overwrite to replace it", file=sys.stderr)
        return EXIT_FAILED
    rows = []

    def work(path, hdu):
        skipped = []
        rows.extend(
            files.track_file(
                path,
                hdu,
                prior=prior,
                batch_size=args.batch_size,
                device=args.device,
                skipped=skipped,
            )
        )
        for index, why in skipped:
            print(f"astromask: {path}[{index}]: skipped: {why}", file=sys.stderr)

    status = _run_jobs(expand_paths(args.paths), args, work)
    table = Table(
        rows=rows or None, names=("file", "hdu", "plane", "score"), dtype=(str, str, int, float)
    )
    table["score"].format = ".4f"
    table.meta["prior"] = prior
    table.meta["comments"] = [
        "MaxiTrack tracking-error probability; hdu 'all' is the mean over the file's "
        "2-D HDUs; plane -1 means a 2-D HDU"
    ]
    if rows:
        table.pprint(max_lines=-1, max_width=-1)
    if ecsv is not None:
        try:
            write_atomically(
                ecsv,
                lambda stream: stream.write(_ecsv_text(table).encode()),
                overwrite=args.overwrite,
            )
        except Failure as err:
            print(f"astromask: {err}", file=sys.stderr)
            return EXIT_FAILED
    return status


def _ecsv_text(table):
    import io

    text = io.StringIO()
    table.write(text, format="ascii.ecsv")
    return text.getvalue()


# --------------------------------------------------------------------------
# cosmicray


def _cmd_cosmicray(args):
    from astromask import files

    jobs = expand_paths(args.paths)
    if args.output and len(jobs) != 1:
        raise SystemExit("astromask: error: --output needs exactly one input file")
    options = {
        "output": args.output,
        "output_dir": args.output_dir,
        "suffix": args.suffix,
        "overwrite": args.overwrite,
        "detector": args.detector,
        "threshold": args.threshold,
        "inpaint": args.inpaint,
        "dilate": args.dilate,
        "gain": args.gain,
        "satlevel": args.satlevel,
        "batch_size": args.batch_size,
        "device": args.device,
        "progress": args.progress,
        "precision": args.precision,
    }

    def work(path, hdu):
        skipped = []
        out = files.cosmicray_file(path, hdu, skipped=skipped, **options)
        if skipped and not args.quiet:
            names = ", ".join(dict.fromkeys(skipped))
            print(f"astromask: {path}: {names} copied, not cleaned: not science images")
        return out

    return _run_jobs(jobs, args, work, output_of=lambda path, hdu: output_path(path, hdu, args))


# --------------------------------------------------------------------------
# train, fetch, demo


def _train_sources(paths, factor):
    """``[((path, hdu), factor)]`` for every 2-D image HDU of the PATHs."""
    from astropy.io import fits

    from astromask.files import header_number

    sources = []
    for path, only in expand_paths(paths):
        if not path.is_file():
            raise Failure(f"{path}: no such file")
        with fits.open(path) as hdul:
            for index in image_hdus(hdul, resolve_hdu(hdul, only)):
                if hdul[index].header.get("NAXIS") != 2:
                    continue
                header = hdul[index].header
                value = header_number(factor, header, "factor") if factor else 1.0
                sources.append(((path, index), 1.0 if value is None else value))
    if not sources:
        raise Failure(f"no 2-D image HDU in {' '.join(paths)}")
    return sources


def _read_source(source, factor):
    from astropy.io import fits

    path, index = source
    with fits.open(path) as hdul:
        return hdul[index].data.astype("float32") * factor


def _cmd_train(args):
    import numpy as np
    from scipy import ndimage

    from astromask import simulate, training, zoo

    if Path(args.output).exists() and not args.overwrite:
        print(f"astromask: error: {args.output} exists; pass --overwrite", file=sys.stderr)
        return 1
    try:
        spec = zoo.cosmic_ray_spec(args.start)
        sources = _train_sources(args.paths, args.factor)
        held_out = _train_sources(args.validation, args.factor) if args.validation else None
    except Failure as err:
        print(f"astromask: error: {err}", file=sys.stderr)
        return 1
    say = (lambda *a: None) if args.quiet else print
    say(f"{len(sources)} training frames; {args.start} takes {spec.unit}s")
    hits, ignore = [], []
    for path in args.darks or []:
        for source, factor in _train_sources([path], args.factor):
            hits += simulate.cosmic_rays_from_dark(_read_source(source, factor))
    if args.own_hits or not args.darks:
        from ccdproc import cosmicray_lacosmic

        for source, factor in sources + (held_out or []):
            image = _read_source(source, factor)
            if args.own_hits:
                hits += simulate.cosmic_rays_from_frame(image)
            # The frames' own hits are not in the truth: leave them out of the loss.
            _, own = cosmicray_lacosmic(image, sigclip=4.5, gain=1.0, readnoise=5.0, satlevel=1e9)
            ignore.append(ndimage.binary_dilation(own, iterations=1))
    if not hits:
        print("astromask: error: no cosmic-ray hits found to inject", file=sys.stderr)
        return 1
    say(f"{len(hits)} cosmic-ray hits to inject")
    n = len(sources)
    options = dict(
        hits=hits,
        tile=args.tile,
        batch_size=args.batch_size or 8,
        density=args.density,
        weighting=None if args.weighting == "none" else "balanced",
    )
    data = training.TileDataset(
        [s for s, _ in sources],
        spec,
        factor=[f for _, f in sources],
        ignore=ignore[:n] if ignore else None,
        steps=args.steps,
        seed=args.seed,
        **options,
    )
    if held_out is not None:
        frames, factors, held_ignore = held_out, [f for _, f in held_out], ignore[n:] or None
    else:  # other tiles and other injections of the same frames
        frames, factors, held_ignore = sources, [f for _, f in sources], ignore[:n] or None
    validation = training.TileDataset(
        [s for s, _ in frames],
        spec,
        factor=factors,
        ignore=held_ignore,
        steps=args.validation_steps,
        seed=args.seed + 1,
        fixed=True,
        positive_fraction=data.positive_fraction,
        **options,
    )
    history = training.train(
        data,
        validation,
        start=args.start,
        output=args.output,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        overwrite=args.overwrite,
        seed=args.seed,
        device=args.device,
        verbose=0 if args.quiet else "auto",
    )
    best = min(history, key=lambda e: e.get("val_loss", np.inf))
    rates = "  ".join(f"{k[4:]} {v:.3f}" for k, v in best.items() if k.startswith("val_tpr"))
    say(f"wrote {args.output} (epoch {best['epoch']}: val_loss {best['val_loss']:.4g}  {rates})")
    return 0


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

    from astromask.classes import CLASSES, decode_flags
    from astromask.core import flag
    from astromask.simulate import simulated_frame

    if args.output and Path(args.output).exists() and not args.overwrite:  # before any work
        print(f"astromask: error: {args.output} exists; add --overwrite", file=sys.stderr)
        return 1
    ccd, truth = simulated_frame((args.size, args.size), seed=args.seed)
    result = flag(ccd, progress=args.progress, device=args.device)
    print(f"astromask {__version__}: simulated {args.size}x{args.size} frame")
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
        result.write(args.output, hdu_mask="MASK", hdu_flags="FLAGS", overwrite=True)
        print(f"wrote {args.output}")
    return 0


# --------------------------------------------------------------------------
# parser


def _threshold(text):
    """argparse type of ``--threshold``: a probability or ``fpr:RATE``."""
    if text.strip().lower().startswith("fpr:"):
        return text.strip()
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= 1:
        msg = f"expected a probability in [0, 1] or fpr:RATE (such as fpr:1e-4), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _detector(names):
    """argparse type of ``--detector``: a known name or a trained ``.keras`` file."""

    def check(value):
        if value in names:
            return value
        if value.endswith(".keras"):
            if not Path(value).is_file():
                msg = f"no trained model file {value!r}"
                raise argparse.ArgumentTypeError(msg)
            return value
        msg = f"{value!r}: choose among {', '.join(names)}, or give a .keras file"
        raise argparse.ArgumentTypeError(msg)

    return check


def _output_policy(command):
    """``--overwrite`` or ``--skip-existing``: what to do with outputs already there."""
    policy = command.add_mutually_exclusive_group()
    policy.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    policy.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave inputs whose output exists alone (re-run a folder as new frames arrive)",
    )


def _class_list(text):
    """argparse type of ``--classes``: comma-separated class names, checked."""
    from astromask.classes import class_index

    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        class_index(names)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("classes: ")) from None
    return names


def _integer(minimum):
    """argparse type: an integer at least ``minimum``."""
    expected = {0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}"
    )

    def check(value):
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
        return number

    check.__name__ = "integer"
    return check


_positive_int = _integer(1)  # --workers, --batch-size, --epochs...


def _positive_float(value):
    """argparse type: a finite number > 0 (``--density``, ``--learning-rate``)."""
    import math

    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {value!r}")
    return number


def _device(value):
    """argparse type of ``--device``: cpu, gpu, gpu:N..."""
    from astromask._validate import check_device

    try:
        return check_device(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("device: ")) from None


def _parser():
    # Every list of choices derives from its table: the model table
    # (astromask.presets), the precisions (astromask.zoo), the tilings.
    from astromask.classes import CLASS_NAMES
    from astromask.inpainting import inpaint_methods
    from astromask.presets import cosmic_ray_models
    from astromask.tiling import MAXIMASK_TILINGS
    from astromask.zoo import PRECISIONS

    parser = argparse.ArgumentParser(
        prog="astromask",
        description="Contaminant masks (MaxiMask), cosmic-ray cleaning (deepCR) and "
        "tracking-error scores (MaxiTrack) for FITS files.",
    )
    parser.add_argument("--version", action="version", version=f"astromask {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--device", type=_device, help="Keras device, e.g. cpu or gpu:0")
        p.add_argument("--batch-size", type=_positive_int, help="tiles per network call")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or listing")

    flag = sub.add_parser(
        "flag",
        help="write MaxiMask masks for FITS files",
        description="Write a mask file per input: same HDU structure, image HDUs "
        "replaced by masks, other HDUs copied.",
    )
    flag.add_argument(
        "paths", nargs="+", metavar="PATH", help="FITS file, directory, .list file, or FILE[N]"
    )
    flag.add_argument(
        "--classes",
        type=_class_list,
        help=f"comma-separated classes among {','.join(CLASS_NAMES)} (default all)",
    )
    flag.add_argument(
        "--priors",
        default="default",
        help="'default', 'none' (no prior "
        "correction) or a file of 'CLASS prior' lines (upstream classes.priors)",
    )
    flag.add_argument(
        "--thresholds",
        default="default",
        help="'default' or a file of 'CLASS threshold' lines (upstream classes.thresh)",
    )
    mode = flag.add_mutually_exclusive_group()
    mode.add_argument(
        "--single-mask",
        action="store_true",
        help="one uint16 bit-coded flag map per image, bits named in the header "
        "(AMB_CR = 1...): the default",
    )
    mode.add_argument(
        "--planes",
        action="store_true",
        help="one uint8 plane per class instead of the bit-coded map",
    )
    mode.add_argument(
        "--probabilities",
        action="store_true",
        help="float32 probabilities, one plane per class (not thresholded)",
    )
    flag.add_argument("--output", help="output file (one input only)")
    flag.add_argument("--output-dir", help="folder for the outputs (default: beside inputs)")
    flag.add_argument("--suffix", default=".mask", help="added before .fits (default .mask)")
    _output_policy(flag)
    flag.add_argument(
        "--compress",
        action="store_true",
        help="tile-compress integer outputs (an image in the primary HDU "
        "then moves to a compressed extension)",
    )
    cluster = flag.add_mutually_exclusive_group()
    cluster.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help="flag files in parallel on a local Dask cluster of N worker processes",
    )
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="flag files in parallel on the Dask cluster of this scheduler (tcp://host:port)",
    )
    flag.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default="float32",
        help="network compute precision (default float32)",
    )
    flag.add_argument(
        "--tiling",
        choices=list(MAXIMASK_TILINGS),
        default="auto",
        help="tile geometry: few large tiles (auto, the default) or upstream "
        "MaxiMask's 400-px tiles every 200 px (maximask, four times slower)",
    )
    common(flag)
    flag.set_defaults(func=_cmd_flag)

    track = sub.add_parser("track", help="MaxiTrack tracking-error probability of FITS files")
    track.add_argument(
        "paths", nargs="+", metavar="PATH", help="FITS file, directory, .list file, or FILE[N]"
    )
    track.add_argument(
        "--prior", default="0.05", help="tracking-error prior (default 0.05), or 'none'"
    )
    track.add_argument("--ecsv", help="also write the table to this ECSV file")
    track.add_argument("--overwrite", action="store_true", help="replace an existing --ecsv")
    common(track)
    track.set_defaults(func=_cmd_track)

    detectors = [*cosmic_ray_models(), "maximask"]
    cosmicray = sub.add_parser(
        "cosmicray",
        help="find and clean cosmic rays in FITS files",
        description="Write a cleaned copy of each input: every 2-D image HDU cleaned "
        "(in its own unit), each followed by a CRMASK extension (uint8, 1 on cosmic rays).",
    )
    cosmicray.add_argument(
        "paths", nargs="+", metavar="PATH", help="FITS file, directory, .list file, or FILE[N]"
    )
    cosmicray.add_argument(
        "--detector",
        default="astromask/ground",
        type=_detector(detectors),
        help=f"one of {', '.join(detectors)}, or a .keras file written by astromask train "
        "(default astromask/ground)",
    )
    cosmicray.add_argument(
        "--threshold",
        type=_threshold,
        help="probability threshold, or fpr:RATE for the detector's threshold calibrated "
        "at that false-positive rate, e.g. fpr:1e-4 (default: the detector's)",
    )
    cosmicray.add_argument(
        "--inpaint",
        default="deepcr/ACS-WFC-F606W-2-32",
        choices=[*inpaint_methods(), "none"],
        help="how hits are replaced (default deepcr/ACS-WFC-F606W-2-32; none: flag only)",
    )
    cosmicray.add_argument(
        "--dilate", type=_integer(0), default=0, help="grow the mask by N pixels"
    )
    cosmicray.add_argument(
        "--gain", help="electrons per data unit, or a header keyword (default: GAIN, else 1)"
    )
    cosmicray.add_argument(
        "--satlevel",
        help="saturation in data units, or a header keyword (default: SATURATE if present)",
    )
    cosmicray.add_argument("--output", help="output file (one input only)")
    cosmicray.add_argument("--output-dir", help="folder for the outputs (default: beside inputs)")
    cosmicray.add_argument("--suffix", default=".clean", help="added before .fits (default .clean)")
    _output_policy(cosmicray)
    cosmicray.add_argument(
        "--precision",
        choices=list(PRECISIONS),
        default="float32",
        help="detection network's compute precision (default float32)",
    )
    common(cosmicray)
    cosmicray.set_defaults(func=_cmd_cosmicray)

    train = sub.add_parser(
        "train",
        help="train or fine-tune a cosmic-ray network on your frames",
        description="Fit a cosmic-ray network to tiles of FITS frames with cosmic-ray hits "
        "injected on the fly (from --darks, or cut from the frames with --own-hits), "
        "and write it as a .keras file usable as --detector and model=.",
    )
    train.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="training frames: FITS file, directory, .list file, or FILE[N]",
    )
    train.add_argument("--output", required=True, help="the .keras model file to write")
    train.add_argument(
        "--start",
        default="decam-attention/Att_deepCR",
        type=_detector([*cosmic_ray_models()]),
        help="pretrained network or .keras file to start from (default decam-attention/Att_deepCR)",
    )
    train.add_argument("--darks", nargs="+", metavar="DARK", help="dark frames to cut hits from")
    train.add_argument(
        "--own-hits", action="store_true", help="also cut hits from the training frames"
    )
    train.add_argument(
        "--factor",
        help="multiply the data by this (number or header keyword, e.g. GAIN) to reach "
        "the network's unit",
    )
    train.add_argument("--validation", nargs="+", metavar="PATH", help="held-out frames")
    train.add_argument("--epochs", type=_positive_int, default=10, help="default 10")
    train.add_argument(
        "--steps", type=_positive_int, default=100, help="batches per epoch (default 100)"
    )
    train.add_argument(
        "--validation-steps", type=_positive_int, default=10, help="held-out batches (default 10)"
    )
    train.add_argument("--tile", type=_integer(8), default=256, help="tile side (default 256)")
    train.add_argument(
        "--density", type=_positive_float, default=1 / 2000, help="injected hits per pixel (1/2000)"
    )
    train.add_argument("--learning-rate", type=_positive_float, help="Adam's initial rate")
    train.add_argument(
        "--weighting", choices=["balanced", "none"], default="balanced", help="loss weights"
    )
    train.add_argument("--seed", type=_integer(0), default=0)
    train.add_argument("--overwrite", action="store_true", help="replace --output")
    common(train)
    train.set_defaults(func=_cmd_train)

    fetch = sub.add_parser("fetch", help="download all pretrained weights into the cache")
    fetch.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    fetch.set_defaults(func=_cmd_fetch)

    demo = sub.add_parser("demo", help="flag a simulated frame and report what was found")
    demo.add_argument("--size", type=_positive_int, default=1024, help="frame side in pixels")
    demo.add_argument("--seed", type=_integer(0), default=0, help="random seed of the frame")
    demo.add_argument("--output", help="write the flagged frame to this FITS file")
    demo.add_argument("--overwrite", action="store_true", help="replace --output")
    demo.add_argument("--device", type=_device, help="Keras device, e.g. cpu or gpu:0")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=_cmd_demo)
    return parser


@contextmanager
def _sigterm_unwinds():
    """While running, SIGTERM raises `_Terminated` (in the main thread only)."""

    def handler(signum, frame):
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv=None):
    """Run the command line; return the exit status.

    0: every file processed; 1: some file failed, or an error; 2 (argparse's
    `SystemExit`): a usage error; 130: interrupted (`KeyboardInterrupt`,
    SIGINT); 143: terminated (SIGTERM).  Interrupted or terminated, the
    outputs finished are kept and the one being written is removed.
    """
    # TensorFlow's start-up chatter is noise on a command line (the library
    # itself leaves the environment alone).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    stop = (
        "outputs written so far are complete, the file in progress has none; run the "
        "command again to do the rest (outputs already there are kept and reported)"
    )
    try:
        # The parser imports the tables its choices come from: Ctrl-C there
        # is an interruption like any other, not a traceback.
        args = _parser().parse_args(argv)
        args.progress = None if not args.quiet else False
        if args.func is not _cmd_fetch:
            # Before any work: a missing backend is a set-up error, in one line.
            try:
                check_installed(backend_name())
            except BackendMissing as err:
                print(f"astromask: error: {err}", file=sys.stderr)
                return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nastromask: interrupted while starting; nothing was done", file=sys.stderr)
        return EXIT_INTERRUPTED
    with _sigterm_unwinds():
        try:
            return args.func(args)
        except KeyboardInterrupt:
            print(f"\nastromask: interrupted: {stop}", file=sys.stderr)
            return EXIT_INTERRUPTED
        except _Terminated:
            print(f"\nastromask: terminated: {stop}", file=sys.stderr)
            return EXIT_TERMINATED
        except (OSError, ValueError, TypeError) as err:
            print(f"astromask: error: {err}", file=sys.stderr)
            return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
