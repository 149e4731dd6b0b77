"""Flag many FITS files over a Dask cluster (`flag_files`).

`flag_files` runs `astromask.files.flag_file` (what ``astromask flag`` does
to each input) as one `dask.distributed` task per file (or per image HDU) on
a cluster: the workers read the inputs and write the outputs themselves, and
only paths and error messages come back.  Importing this module imports
neither Keras nor Dask.
"""

import math
import numbers
import os
import time
import uuid
import warnings
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from astromask import classes as class_table
from astromask import core, files, zoo
from astromask._validate import check_device, path_argument, whole_number
from astromask.inference import check_batch_size
from astromask.io import READ_ERRORS, Failure, expand_paths, image_hdus, nothing_to_do, read_input
from astromask.io import output_path as _output_path
from astromask.tiling import resolve_tiling

__all__ = ["flag_files", "run_jobs"]

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
        written, error = str(files.flag_file(path, hdu, output=output, **options)), ""
    except files.FlagError as err:
        written, error = "", str(err)
    except Exception as err:  # reported in the table; the client needs only the message
        written, error = "", _message(err)
    return written, error, time.perf_counter() - start, _worker_address()


def _scan_task(path):
    """The image HDUs `flag_file` would flag; ``(indices, error, seconds, worker)``."""
    start = time.perf_counter()
    indices, error = [], ""
    try:  # the checks and messages of flag_file
        with read_input(Path(path)) as hdul:
            try:
                indices = image_hdus(hdul)
            except READ_ERRORS as err:
                raise Failure(f"cannot read its data: {err}") from err
            if not indices:
                raise nothing_to_do("2-D or 3-D image HDU to flag", hdul)
    except Failure as err:
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
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        msg = f"flag_files() got an unexpected keyword argument {unknown[0]!r}"
        raise TypeError(msg)
    if options.get("single_mask") and options.get("probabilities"):
        msg = "single_mask and probabilities exclude each other"
        raise ValueError(msg)
    class_table.class_index(options.get("classes"))
    # Checked here once rather than failing on every worker (file by file).
    check_batch_size(options.get("batch_size"), None)
    check_device(options.get("device"))
    for name in ("output", "output_dir"):
        path_argument(options.get(name), name, allow_none=True)
    suffix = options.get("suffix", ".mask")
    if not isinstance(suffix, str):
        msg = f"suffix: expected a str such as '.mask', got {suffix!r}"
        raise TypeError(msg)
    for name in ("overwrite", "compress", "probabilities", "single_mask"):
        value = options.get(name)
        if value is not None and not isinstance(value, (bool, np.bool_)):
            msg = f"{name}: expected True or False, got {value!r}"
            raise TypeError(msg)
    core.resolve_priors(options.get("priors", "default"))
    core.resolve_thresholds(options.get("thresholds", "default"))
    zoo.check_precision(options.get("precision"))
    resolve_tiling(options.get("tiling"))


def _check_paths(paths):
    """``paths`` of `flag_files` as a list of str, or a `TypeError` naming it."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    expected = "a path (str or path-like) or a sequence of them"
    if isinstance(paths, (bytes, dict)) or not hasattr(paths, "__iter__"):
        msg = f"paths: expected {expected}, got {paths!r}"
        raise TypeError(msg)
    try:
        paths = list(paths)
    except TypeError:  # a 0-d array
        msg = f"paths: expected {expected}, got {paths!r}"
        raise TypeError(msg) from None
    for path in paths:
        if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
            msg = f"paths: expected {expected}, got {path!r} among them"
            raise TypeError(msg)
        if not os.fspath(path).strip():
            msg = f"paths: expected {expected}, got an empty path among them"
            raise ValueError(msg)
    return [os.fspath(p) for p in paths]


def _check_client(client, workers):
    """``client`` and ``workers`` of `flag_files`, checked before any cluster starts."""
    if client is not None and workers is not None:
        msg = "give client or workers, not both"
        raise ValueError(msg)
    if workers is not None:
        whole_number(workers, "workers", minimum=1)
    if client is None or isinstance(client, str):
        if isinstance(client, str) and not client.strip():
            msg = "client: expected a distributed.Client or a scheduler address, got ''"
            raise ValueError(msg)
        return
    if not all(callable(getattr(client, name, None)) for name in ("submit", "gather")):
        msg = (
            "client: expected a distributed.Client or a scheduler address (str), got "
            f"{type(client).__name__}"
        )
        raise TypeError(msg)


def flag_files(paths, *, client=None, workers=None, split_hdus=False, progress=None, **options):
    """Flag many FITS files in parallel on a `dask.distributed` cluster.

    Each input file (or, with ``split_hdus``, each of its image HDUs) is one
    task, which runs `astromask.files.flag_file` on a worker: the worker reads the input and
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
        Options of `astromask.files.flag_file` (``output_dir``, ``suffix``, ``overwrite``,
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
    paths = _check_paths(paths)
    _check_client(client, workers)
    if not isinstance(split_hdus, (bool, np.bool_)):
        msg = f"split_hdus: expected True or False, got {split_hdus!r}"
        raise TypeError(msg)
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        msg = f"progress: expected True, False or None, got {progress!r}"
        raise TypeError(msg)
    _check_options(options)
    jobs = expand_paths(paths)
    if options.get("output") is not None and (len(jobs) != 1 or split_hdus):
        msg = "output: needs exactly one input file, and split_hdus=False"
        raise ValueError(msg)
    return run_jobs(
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
        shown = _output_path(path, hdu, self.shown)
        absolute = Path(_absolute(_output_path(Path(_absolute(path)), hdu, self.absolute)))
        if absolute in self.owners:
            return shown, absolute, self.owners[absolute]
        self.owners[absolute] = _label(path, hdu)
        return shown, absolute, ""


def _label(path, hdu):
    return f"{path}[{hdu}]" if hdu is not None else str(path)


def run_jobs(jobs, *, client=None, workers=None, split_hdus=False, progress=None, options):
    """Run expanded ``[(path, hdu), ...]`` jobs (`astromask.io.expand_paths`) on a cluster.

    What `flag_files` does once its paths are expanded and its options
    checked; ``astromask flag --workers`` calls it.  Returns the table of
    `flag_files`.
    """
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


def __getattr__(name):
    # flag_file and FlagError moved to astromask.files; kept here for one release.
    if name in ("flag_file", "FlagError"):
        warnings.warn(
            f"astromask.batch.{name} is deprecated and will be removed in the next release; "
            f"use astromask.files.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(files, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
