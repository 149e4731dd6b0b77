"""Flag FITS files: one file (`flag_file`), or many over a Dask cluster (`flag_files`).

`flag_file` is what ``astromask flag`` does to each input: one output file
with the input's HDU structure, every 2-D or 3-D image HDU replaced by its
masks, the other HDUs copied, written atomically.  `flag_files` runs
`flag_file` as one `dask.distributed` task per file (or per image HDU) on a
cluster: the workers read the inputs and write the outputs themselves, and
only paths and error messages come back.  Importing this module imports
neither Keras nor Dask (nor `astromask.cli`, whose file handling it uses).
"""

import math
import numbers
import os
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

__all__ = ["FlagError", "flag_file", "flag_files"]

# The example of flag_files runs a Dask cluster (the optional astromask[dask]).
__doctest_requires__ = {("flag_files",): ["distributed"]}

# The options of flag_file that flag_files passes on (progress is its own).
_OPTIONS = (
    "output",
    "output_dir",
    "suffix",
    "overwrite",
    "classes",
    "priors",
    "thresholds",
    "single_mask",
    "probabilities",
    "compress",
    "batch_size",
    "device",
    "precision",
    "tiling",
)
_COLUMNS = ("input", "hdu", "output", "status", "error", "seconds", "worker")


class FlagError(Exception):
    """A file could not be flagged; the message says why.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from astromask.batch import FlagError, flag_file
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     try:
    ...         flag_file(Path(folder) / "missing.fits")
    ...     except FlagError as err:
    ...         print("no such file" in str(err))
    True
    """


def _class_index(classes):
    from astromask import classes as class_table

    return class_table.class_index(classes)


def _flag_hdu(data, classes_index, opts):
    """The output array and header cards of one image HDU."""
    import numpy as np

    import astromask
    from astromask import classes as class_table
    from astromask import core, inference

    options = {
        "batch_size": opts.batch_size,
        "device": opts.device,
        "progress": opts.progress,
        "precision": opts.precision,
        "tiling": opts.tiling,
    }
    names = [class_table.CLASS_NAMES[k] for k in classes_index]
    if opts.single_mask:
        out = astromask.flag(
            data, classes=names, priors=opts.priors, thresholds=opts.thresholds, **options
        )
        return out.flags, core.provenance_cards(
            classes_index,
            opts.priors,
            opts.thresholds,
            precision=opts.precision,
            tiling=opts.tiling,
            shape=np.shape(data),
        ) + [("AMOUTPUT", "flags", "bit-coded flags, see AMB_* cards")]
    probs = astromask.probabilities(data, priors=opts.priors, **options)[classes_index]
    if opts.probabilities:
        result, kind = probs.astype(np.float32), "probabilities"
    else:
        thresholds = core.resolve_thresholds(opts.thresholds)[classes_index]
        result, kind = inference.threshold(probs, thresholds).astype(np.uint8), "thresholded"
    if result.ndim == 4:  # cube: (class, plane, y, x) -> (plane, class, y, x)
        result = np.moveaxis(result, 0, 1)
    cards = core.provenance_cards(
        classes_index,
        opts.priors,
        opts.thresholds,
        precision=opts.precision,
        tiling=opts.tiling,
        shape=np.shape(data),
    )
    cards.append(("AMOUTPUT", kind, "one plane per class, see AMCLSn"))
    cards.extend((f"AMCLS{i}", name, f"class of plane {i}") for i, name in enumerate(names))
    return result, cards


def flag_file(
    path,
    hdu=None,
    *,
    output=None,
    output_dir=None,
    suffix=".mask",
    overwrite=False,
    classes=None,
    priors="default",
    thresholds="default",
    single_mask=False,
    probabilities=False,
    compress=False,
    batch_size=None,
    device=None,
    precision=None,
    tiling=None,
    progress=False,
):
    """Write the MaxiMask masks of one FITS file, as ``astromask flag`` does.

    The output has the input's HDU structure: every 2-D or 3-D image HDU
    (cubes plane by plane) becomes its masks, with header cards telling how
    they were made; tables, 8-bit images (bad-pixel masks) and other HDUs
    are copied.  The input is never modified, and the output appears
    atomically: it is written to a hidden temporary beside it
    (``.NAME.astromask-HOST-PID.part``, removed if anything goes wrong, even
    `KeyboardInterrupt`), then renamed, and an existing output is never
    replaced without ``overwrite``.  Temporaries that killed processes left
    in the output folder are removed.

    Parameters
    ----------
    path : str or path-like
        A FITS file, also ``.fz`` or ``.gz``.
    hdu : int, optional
        Flag this HDU alone: the output then holds its masks alone and is
        named ``NAME{suffix}{hdu}.fits`` (``FILE[N]`` on the command line).
    output : str or path-like, optional
        The output file.  Default: ``NAME{suffix}.fits`` in ``output_dir``,
        or beside the input.
    output_dir : str or path-like, optional
        Folder of the output (created if needed).
    suffix : str, optional
        Added to the input's name before its extension (default ``.mask``).
    overwrite : bool, optional
        Replace an existing output; otherwise it is kept and `FlagError`
        raised.
    classes : str or sequence of str, optional
        Classes to write (names of `astromask.classes.CLASS_NAMES`), in this
        order; default all 14.
    priors : "default", None, dict or sequence of 14 floats, optional
        As for `astromask.flag`.
    thresholds : "default", dict or sequence of 14 floats, optional
        As for `astromask.flag`.
    single_mask : bool, optional
        Write one ``uint16`` bit-coded map per image (`astromask.flag`'s
        ``flags``) instead of one ``uint8`` plane per class.
    probabilities : bool, optional
        Write ``float32`` probabilities, one plane per class, not
        thresholded.
    compress : bool, optional
        Tile-compress integer outputs (an image in the primary HDU then moves
        to a compressed extension).
    batch_size, device, precision, tiling : optional
        As for `astromask.flag`.
    progress : bool, optional
        Progress bar over tiles (default off; `None`: on a terminal only).

    Returns
    -------
    output : `pathlib.Path`
        The file written.

    Raises
    ------
    FlagError
        The file cannot be flagged (missing, a folder, unreadable, not FITS,
        truncated, no image HDU to flag, output present without
        ``overwrite``, output not writable, an HDU the network cannot
        take...); the message says why, and nothing is written.
    ValueError
        ``classes`` names an unknown class, or both ``single_mask`` and
        ``probabilities`` are set.

    Examples
    --------
    Flag a small simulated frame, keeping two classes; the output is written
    beside the input as ``frame.mask.fits``:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> from astromask.batch import flag_file
    >>> from astromask.simulate import simulated_frame
    >>> ccd, _ = simulated_frame((64, 64), seed=1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "frame.fits"
    ...     fits.PrimaryHDU(ccd.data).writeto(path)
    ...     out = flag_file(path, classes=["CR", "SAT"])  # doctest: +REMOTE_DATA
    ...     with fits.open(out) as hdul:  # doctest: +REMOTE_DATA
    ...         print(out.name, hdul[0].data.shape, hdul[0].data.dtype, hdul[0].header["AMCLS0"])
    frame.mask.fits (2, 64, 64) uint8 CR
    """
    from astromask import cli as _cli

    if single_mask and probabilities:
        msg = "single_mask and probabilities exclude each other"
        raise ValueError(msg)
    classes_index = _class_index(classes)
    path = Path(path)
    try:
        _cli._check_input(path)
    except _cli._Failure as err:
        raise FlagError(str(err)) from None
    opts = SimpleNamespace(
        output=output,
        output_dir=output_dir,
        suffix=suffix,
        overwrite=overwrite,
        priors=priors,
        thresholds=thresholds,
        single_mask=single_mask,
        probabilities=probabilities,
        compress=compress,
        batch_size=batch_size,
        device=device,
        precision=precision,
        tiling=tiling,
        progress=progress,
    )

    def process(hdul, index, output_hdul):
        from astropy.io import fits

        hdu = hdul[index]
        try:
            result, cards = _flag_hdu(hdu.data, classes_index, opts)
        except (ValueError, TypeError) as err:
            raise _cli._Failure(f"HDU {index}: {err}") from err
        header = fits.Header()
        if hdu.name and hdu.name != "PRIMARY":
            header["EXTNAME"] = (hdu.name, "name of the input HDU")
        if hdu.ver and hdu.ver != 1:
            header["EXTVER"] = hdu.ver
        for key, value, comment in cards:
            header[key] = (value, comment)
        first = len(output_hdul) == 0
        if compress and result.dtype.kind in "iu":
            if first:
                output_hdul.append(fits.PrimaryHDU())
            output_hdul.append(fits.CompImageHDU(result, header=header))
        elif first:
            output_hdul.append(fits.PrimaryHDU(result, header=header))
        else:
            output_hdul.append(fits.ImageHDU(result, header=header))

    try:
        return _cli._rewrite_file(
            path,
            hdu,
            opts,
            select=lambda hdu: True,
            what="2-D or 3-D image HDU to flag",
            process=process,
        )
    except _cli._Failure as err:
        raise FlagError(str(err)) from err


# --------------------------------------------------------------------------
# Tasks, run on the workers: they return strings and numbers, never raise.


def _worker_address():
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker
        return ""


def _flag_task(path, hdu, output, options):
    """Flag one file or HDU; ``(output, error, seconds, worker)``."""
    start = time.perf_counter()
    try:
        written, error = str(flag_file(path, hdu, output=output, **options)), ""
    except FlagError as err:
        written, error = "", str(err)
    except Exception as err:  # reported in the table; the client needs only the message
        written, error = "", _message(err)
    return written, error, time.perf_counter() - start, _worker_address()


def _scan_task(path):
    """The image HDUs `flag_file` would flag; ``(indices, error, seconds, worker)``."""
    from astromask import cli as _cli

    start = time.perf_counter()
    indices, error = [], ""
    try:  # the checks and messages of flag_file
        with _cli._read_input(Path(path)) as hdul:
            try:
                indices = _cli._image_hdus(hdul)
            except _cli._READ_ERRORS as err:
                raise _cli._Failure(f"cannot read its data: {err}") from err
            if not indices:
                raise _cli._nothing_to_do("2-D or 3-D image HDU to flag", hdul)
    except _cli._Failure as err:
        indices, error = [], str(err)
    except Exception as err:
        indices, error = [], _message(err)
    return indices, error, time.perf_counter() - start, _worker_address()


# --------------------------------------------------------------------------
# The client side


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextmanager
def _connect(client, workers, n_jobs):
    """A `distributed.Client`: the one given, one to an address, or a local cluster's."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        msg = "flag_files needs dask.distributed: python -m pip install 'astromask[dask]'"
        raise ImportError(msg) from err

    if client is not None and workers is not None:
        msg = "give client or workers, not both"
        raise ValueError(msg)
    if workers is not None and not (isinstance(workers, numbers.Integral) and workers >= 1):
        msg = f"workers: expected a positive integer, got {workers!r}"
        raise ValueError(msg)
    if isinstance(client, str):
        with Client(client) as connected:
            yield connected
    elif client is not None:
        yield client
    else:
        n_workers = workers or max(1, min(n_jobs, _cpu_count()))
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                # a free port on this machine only (the default, 8787, may be
                # taken by another cluster, and Dask then warns)
                dashboard_address="127.0.0.1:0",
            ) as cluster,
            Client(cluster) as connected,
        ):
            yield connected


def _check_options(options):
    from astromask import core

    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        msg = f"flag_files() got an unexpected keyword argument {unknown[0]!r}"
        raise TypeError(msg)
    if options.get("single_mask") and options.get("probabilities"):
        msg = "single_mask and probabilities exclude each other"
        raise ValueError(msg)
    _class_index(options.get("classes"))
    # Checked here once rather than failing on every worker.
    core.resolve_priors(options.get("priors", "default"))
    core.resolve_thresholds(options.get("thresholds", "default"))
    from astromask import inference, zoo

    zoo.check_precision(options.get("precision"))
    inference.resolve_tiling(options.get("tiling"))


def flag_files(paths, *, client=None, workers=None, split_hdus=False, progress=None, **options):
    """Flag many FITS files in parallel on a `dask.distributed` cluster.

    Each input file (or, with ``split_hdus``, each of its image HDUs) is one
    task, which runs `flag_file` on a worker: the worker reads the input and
    writes the output itself; only paths and error messages travel back.
    A worker process keeps the network it loaded (see `astromask.zoo`), so
    it loads it once, whatever the number of files it flags.  A file that
    fails, or whose worker dies, is a ``failed`` row; the others go on.

    Workers use the Keras backend that their environment's
    ``KERAS_BACKEND`` names; those of a local cluster inherit this
    process's environment.  Paths are made absolute here, and must be
    readable and writable under the same names on the workers.

    Parameters
    ----------
    paths : str, path-like or sequence of them
        As for ``astromask flag``: FITS files, directories (their FITS
        files), ``.list`` files (one path per line) or ``FILE[N]`` for HDU N
        alone.
    client : `distributed.Client` or str, optional
        The cluster to use, or its scheduler's address.  Default: a
        `distributed.LocalCluster` of worker processes with one thread
        each, created here and closed at the end.
    workers : int, optional
        Number of worker processes of that local cluster (default: the
        number of CPUs, at most one per input).  Not with ``client``.
    split_hdus : bool, optional
        One task, and one output named as for ``FILE[N]``
        (``NAME{suffix}{N}.fits``), per image HDU of each multi-extension
        file: its HDUs are flagged in parallel.  Each file is then read
        once more, by a task that lists its image HDUs.
    progress : bool, optional
        Progress bar over finished jobs; `None` (default): shown when there
        are several and on a terminal only.
    **options
        Options of `flag_file` (``output_dir``, ``suffix``, ``overwrite``,
        ``classes``, ``priors``, ``thresholds``, ``single_mask``,
        ``probabilities``, ``compress``, ``batch_size``, ``device``, ``precision``,
        ``tiling``;
        ``output`` for a single input file).

    Returns
    -------
    table : `~astropy.table.Table`
        One row per job, in input order: ``input`` (the path as given),
        ``hdu`` (masked for a whole file), ``output`` (empty if it failed),
        ``status`` (``"ok"`` or ``"failed"``), ``error`` (why it failed),
        ``seconds`` (time on the worker; NaN if the job did not finish
        there) and ``worker`` (the worker's address, if known).

    Raises
    ------
    ValueError, TypeError
        Invalid options (checked before anything runs).
    ImportError
        ``dask.distributed`` is not installed (``astromask[dask]``).

    Notes
    -----
    Two jobs with the same output file (the same input twice, or inputs of
    the same name from different folders with one ``output_dir``): the
    first is run, the others fail, as they would race to write it.
    In a script, call `flag_files` under ``if __name__ == "__main__":``:
    the worker processes of a local cluster are started by spawning Python,
    which imports the script's module.

    Examples
    --------
    Flag a small frame and a missing file on a cluster of one in-process
    worker (by default, `flag_files` starts a cluster of worker processes):
    the missing file is a ``failed`` row, the frame is flagged.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> from distributed import Client, LocalCluster
    >>> from astromask.batch import flag_files
    >>> from astromask.simulate import simulated_frame
    >>> ccd, _ = simulated_frame((64, 64), seed=1)
    >>> with (
    ...     tempfile.TemporaryDirectory() as folder,
    ...     LocalCluster(n_workers=1, processes=False, dashboard_address="127.0.0.1:0") as cluster,
    ...     Client(cluster) as client,
    ... ):
    ...     fits.PrimaryHDU(ccd.data).writeto(Path(folder) / "frame.fits")
    ...     paths = [Path(folder) / "frame.fits", Path(folder) / "missing.fits"]
    ...     table = flag_files(  # doctest: +REMOTE_DATA
    ...         paths, client=client, output_dir=Path(folder) / "masks", classes="CR"
    ...     )
    ...     print(table["status"].tolist(), table["error"].tolist())  # doctest: +REMOTE_DATA
    ...     print([p.name for p in (Path(folder) / "masks").iterdir()])  # doctest: +REMOTE_DATA
    ['ok', 'failed'] ['', 'no such file']
    ['frame.mask.fits']
    """
    from astromask import cli as _cli

    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    _check_options(options)
    jobs = _cli.expand_paths([os.fspath(p) for p in paths])
    if options.get("output") is not None and (len(jobs) != 1 or split_hdus):
        msg = "output: needs exactly one input file, and split_hdus=False"
        raise ValueError(msg)
    return _run(
        jobs,
        client=client,
        workers=workers,
        split_hdus=split_hdus,
        progress=progress,
        options=options,
    )


def _absolute(path):
    return None if path is None else os.path.abspath(path)


class _Outputs:
    """The jobs' output files, as the command line shows them and absolute."""

    def __init__(self, options):
        output, folder = options.get("output"), options.get("output_dir")
        suffix = options.get("suffix", ".mask")
        self.shown = SimpleNamespace(output=output, output_dir=folder, suffix=suffix)
        self.absolute = SimpleNamespace(
            output=_absolute(output), output_dir=_absolute(folder), suffix=suffix
        )
        self.owners = {}

    def claim(self, path, hdu):
        """``(shown, absolute, owner)``; owner: the label of an earlier job writing it, or ''."""
        from astromask import cli as _cli

        shown = _cli._output_path(path, hdu, self.shown)
        absolute = Path(_absolute(_cli._output_path(Path(_absolute(path)), hdu, self.absolute)))
        if absolute in self.owners:
            return shown, absolute, self.owners[absolute]
        self.owners[absolute] = _label(path, hdu)
        return shown, absolute, ""


def _label(path, hdu):
    return f"{path}[{hdu}]" if hdu is not None else str(path)


def _run(jobs, *, client=None, workers=None, split_hdus=False, progress=None, options):
    """Run expanded ``[(path, hdu), ...]`` jobs; the table of `flag_files`."""
    from tqdm.auto import tqdm

    rows = {}  # (job number, hdu) -> row
    if not jobs:
        return _table(rows)
    outputs = _Outputs(options)
    # The output of each job is named here (output, output_dir, suffix), once.
    task_options = {k: v for k, v in options.items() if k not in ("output", "output_dir", "suffix")}
    task_options["progress"] = False
    token = uuid.uuid4().hex[:12]

    def failed(path, hdu, error, seconds=math.nan, worker=""):
        return (str(path), hdu, "", "failed", error, seconds, worker)

    with _connect(client, workers, len(jobs)) as connected:
        from distributed import as_completed

        waiting = {}  # future -> (job number, path, hdu, shown output, absolute output)

        def submit_flags(items):
            todo = []
            for number, path, hdu in items:
                shown, absolute, owner = outputs.claim(path, hdu)
                if owner:
                    error = f"output {shown} is also the output of {owner}"
                    rows[number, hdu] = failed(path, hdu, error)
                    bar.update()
                else:
                    todo.append((number, path, hdu, shown, absolute))
            futures = connected.map(
                _flag_task,
                [os.path.abspath(path) for _, path, _, _, _ in todo],
                [hdu for _, _, hdu, _, _ in todo],
                [str(absolute) for *_, absolute in todo],
                [task_options] * len(todo),
                key=[f"astromask-flag-{token}-{n}-{h}" for n, _, h, _, _ in todo],
            )
            waiting.update(zip(futures, todo))
            return futures

        # tqdm: disable=None hides the bar when not on a terminal.
        disable = not progress if progress is not None else (None if len(jobs) > 1 else True)
        with tqdm(total=len(jobs), desc="files", unit="file", disable=disable) as bar:
            whole = [(n, p, h) for n, (p, h) in enumerate(jobs)]
            scans = {}
            if split_hdus:
                scan = [(n, p) for n, p, h in whole if h is None]
                whole = [(n, p, h) for n, p, h in whole if h is not None]
                futures = connected.map(
                    _scan_task,
                    [os.path.abspath(p) for _, p in scan],
                    key=[f"astromask-scan-{token}-{n}" for n, _ in scan],
                )
                scans.update(zip(futures, scan))
            pending = as_completed([*scans, *submit_flags(whole)])
            for future in pending:
                if future in scans:
                    number, path = scans.pop(future)
                    try:
                        indices, error, seconds, worker = future.result()
                    except Exception as err:  # the worker died, the task was cancelled...
                        indices, error, seconds, worker = [], _message(err), math.nan, ""
                    if error:
                        rows[number, None] = failed(path, None, error, seconds, worker)
                        bar.update()
                    else:
                        bar.total += len(indices) - 1
                        bar.refresh()
                        pending.update(submit_flags([(number, path, i) for i in indices]))
                else:
                    number, path, hdu, shown, absolute = waiting.pop(future)
                    try:
                        _, error, seconds, worker = future.result()
                    except Exception as err:
                        error, seconds, worker = _message(err), math.nan, ""
                    if error:
                        for old, new in ((absolute, shown), (os.path.abspath(path), path)):
                            error = error.replace(str(old), str(new))
                        rows[number, hdu] = failed(path, hdu, error, seconds, worker)
                    else:
                        rows[number, hdu] = (str(path), hdu, str(shown), "ok", "", seconds, worker)
                    bar.update()
                future.release()
    return _table(rows)


def _message(err):
    """``ExceptionName: message``, for an exception the table reports."""
    return f"{type(err).__name__}: {err}"


def _table(rows):
    import numpy as np
    from astropy.table import MaskedColumn, Table

    ordered = [
        rows[key] for key in sorted(rows, key=lambda k: (k[0], -1 if k[1] is None else k[1]))
    ]
    columns = list(zip(*ordered)) if ordered else [[] for _ in _COLUMNS]
    table = Table()
    for name, values in zip(_COLUMNS, columns):
        if name == "hdu":
            mask = [v is None for v in values]
            data = np.array([-1 if v is None else v for v in values], dtype=int)
            table[name] = MaskedColumn(data, mask=mask)
        elif name == "seconds":
            table[name] = np.array(values, dtype=float)
        else:
            table[name] = np.array(values, dtype=str)
    table["seconds"].format = ".2f"
    return table
