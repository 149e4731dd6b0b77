"""Pretrained weights: the registry, the cache and the downloads (through pooch).

The files are those of the model table (`astromask.presets`), each pinned by
URL (a repository commit) and sha256.  Files are downloaded on first use
into a cache folder and verified each time they are opened; a file whose
hash does not match is never loaded.

Faults and concurrency
----------------------
A download is written to a temporary file beside its final name
(``.{name}.{random}.astromask-{host}-{pid}.part``, see `astromask._atomic`)
and moved into place with `os.replace`, an atomic rename, only once its
SHA-256 matches.  An interrupted or truncated transfer, a wrong file, an HTTP
error, a full disk or a killed process therefore never leaves a file under
the final name; the temporary files that a killed process
leaves behind are never read and are deleted by the next download.
Transient faults (connection errors, timeouts, interrupted transfers, HTTP
5xx, 408 and 429, a hash mismatch) are retried; every failure raises
`WeightsError`, whose message names the file, its URL and what to do.

Processes that fetch the same file at once (workers on a cold cache) take a
lock first, ``.{name}.lock`` beside the file: `fcntl.flock` on POSIX, which
the kernel releases if its holder dies, and an exclusively created lock file
elsewhere (Windows), broken once it is older than 10 minutes.  The first
process downloads; the others wait, check the hash again and use its copy.
A file already in the cache is used without the lock, so a read-only cache
folder that holds every file works.

Environment variables
---------------------
``ASTROMASK_DATA_DIR``
    Cache folder (default: the platform's user cache, for example
    ``~/.cache/astromask`` on Linux).
``ASTROMASK_WEIGHTS_URL``
    Base URL of a mirror.  Each file is then fetched from
    ``{ASTROMASK_WEIGHTS_URL}/{owner}/{repo}/{commit}/{path}`` instead of
    GitHub: a site mirror for compute nodes without internet, or the loopback
    mirror that the tests use.

Run ``astromask fetch`` (or `fetch_all`) once on a machine with network access
to fill the cache ahead of time.
"""

import os
import sys
import time
from pathlib import Path

import pooch

from astromask._atomic import atomic_file, is_valid, lock_path, locked, remove_parts, sha256
from astromask.presets import MODELS, WeightFile, preset

__all__ = [
    "WeightFile",
    "WeightsError",
    "announce",
    "cache_dir",
    "fetch",
    "fetch_all",
    "model_files",
    "registry",
]


def registry():
    """Return every pinned file, as ``{"owner/repo/commit/path": WeightFile}``.

    Derived from the model table (`astromask.presets.MODELS`).

    Examples
    --------
    >>> from astromask import data
    >>> len(data.registry()), next(iter(data.registry())).split("/")[:2]
    (17, ['mpaillassa', 'MaxiMask'])
    """
    return {f.key: f for entry in MODELS.values() for f in entry.files}


def __getattr__(name):
    # REGISTRY is computed from the model table when asked for, so that it follows it.
    if name == "REGISTRY":
        return registry()
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


class WeightsError(OSError):
    """Weights could not be downloaded, or failed their hash check.

    Its message names the file, its URL and what to do.

    Examples
    --------
    A cache folder that cannot be created (here a regular file stands in
    its way), before anything is downloaded:

    >>> import os
    >>> import tempfile
    >>> from unittest import mock
    >>> from astromask import data
    >>> (entry,) = data.model_files("deepcr/ACS-WFC")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     blocker = os.path.join(folder, "not-a-folder")
    ...     open(blocker, "w").close()
    ...     with mock.patch.dict(os.environ, {"ASTROMASK_DATA_DIR": blocker}):
    ...         try:
    ...             data.fetch(entry)
    ...         except data.WeightsError as err:
    ...             print(str(err).startswith("cannot write to the cache folder"))
    True
    """


def cache_dir():
    """Return the weights cache folder (``ASTROMASK_DATA_DIR`` or the user cache).

    Returns
    -------
    path : `pathlib.Path`

    Examples
    --------
    >>> import os
    >>> from astromask import data
    >>> default = data.pooch.os_cache("astromask")
    >>> data.cache_dir() == data.Path(os.environ.get("ASTROMASK_DATA_DIR") or default)
    True
    """
    override = os.environ.get("ASTROMASK_DATA_DIR", "").strip()
    if override:
        return Path(override).expanduser()
    return Path(pooch.os_cache("astromask"))


def model_files(model):
    """Return the `WeightFile` entries a model needs.

    Parameters
    ----------
    model : str
        Model name, for example ``"maximask"`` or ``"deepcr/ACS-WFC"``.

    Returns
    -------
    files : tuple of `WeightFile`

    Examples
    --------
    >>> from astromask import data
    >>> [f.path.rsplit("/", 1)[-1] for f in data.model_files("maximask")]
    ['variables.index', 'variables.data-00000-of-00001']
    """
    return preset(model).files


def _help():
    return (
        "Set ASTROMASK_WEIGHTS_URL to a mirror holding owner/repo/commit/path "
        "copies of the files, or run 'astromask fetch' on a machine with network "
        "access and share its cache folder through ASTROMASK_DATA_DIR "
        f"(now {cache_dir()})."
    )


_ATTEMPTS = 3  # downloads of one file before giving up on transient faults
_RETRY_WAIT_S = 1.0  # wait before the second attempt; doubled before the third
_TIMEOUT_S = 60  # seconds to connect, and between two reads of the body
_CHUNK_BYTES = 1 << 16


class _HashMismatch(ValueError):
    """A complete download whose SHA-256 is not the pinned one."""


def _network_error(err):
    """Whether ``err`` comes from the HTTP client (requests), not from the file system."""
    return hasattr(err, "request") and hasattr(err, "response")


def _transient(err):
    """Whether a network error is worth another attempt (not an HTTP 4xx or a bad URL)."""
    if isinstance(err, _HashMismatch):
        return True
    response = getattr(err, "response", None)
    if response is not None:
        status = response.status_code
        return status >= 500 or status in (408, 429)
    return not isinstance(err, ValueError)  # requests' bad-URL errors are ValueErrors


def _stderr_is_terminal():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def announce(what, entries):
    """One line on the standard error before downloading ``entries`` for ``what``.

    Nothing is written when every file is already in the cache.
    """
    missing = [e for e in entries if not is_valid(cache_dir() / e.key, e.sha256)]
    if missing:
        size = sum(e.size or 0 for e in missing) / 1e6
        print(
            f"astromask: downloading the weights of {what} ({size:.1f} MB, once) into "
            f"{cache_dir()}",
            file=sys.stderr,
            flush=True,
        )
    return missing


def _download(entry, path, progress):
    """Download ``entry`` to a temporary file beside ``path``; move it there if its hash matches."""
    responses = []
    downloader = pooch.HTTPDownloader(
        progressbar=_stderr_is_terminal() if progress is None else bool(progress),
        timeout=_TIMEOUT_S,
        chunk_size=_CHUNK_BYTES,
        # pooch leaves the response open after an HTTP error or a failed write: keep it to
        # close it below, or its socket leaks until garbage collection.
        hooks={"response": lambda response, **kwargs: responses.append(response)},
    )
    with atomic_file(path) as (out, part):
        try:
            downloader(entry.url, out, None)
        finally:
            for response in responses:
                response.close()
        out.flush()
        digest = sha256(part)
        if digest != entry.sha256:
            msg = f"got a file with SHA-256 {digest}"
            raise _HashMismatch(msg)


def _fetch_locked(entry, path, progress):
    """Download ``entry`` to ``path``, holding its lock, with retries on transient faults."""
    if is_valid(path, entry.sha256):  # another process fetched it while we waited
        return path
    remove_parts(path)
    path.unlink(missing_ok=True)  # a wrong file: it was never trusted, now it is gone
    last_error = None
    for attempt in range(_ATTEMPTS):
        if attempt:
            time.sleep(_RETRY_WAIT_S * 2 ** (attempt - 1))
        try:
            _download(entry, path, progress)
            return path
        except (OSError, _HashMismatch) as err:
            if not isinstance(err, _HashMismatch) and not _network_error(err):
                msg = (
                    f"could not write {entry.key} (downloading from {entry.url}) into the "
                    f"cache folder {path.parent}: {err}. Free some space or fix the "
                    "permissions there, or set ASTROMASK_DATA_DIR to another folder "
                    f"(now {cache_dir()})."
                )
                raise WeightsError(msg) from err
            last_error = err
            if not _transient(err):
                break
    tries = f"{attempt + 1} attempt{'s' if attempt else ''}"
    if isinstance(last_error, _HashMismatch):
        msg = (
            f"{entry.key} downloaded from {entry.url} does not have the expected "
            f"SHA-256 {entry.sha256} ({last_error}; {tries}); it was not kept. The "
            f"mirror holds a wrong or damaged file. {_help()}"
        )
    else:
        msg = f"could not download {entry.key} from {entry.url} ({tries}): {last_error}. {_help()}"
    raise WeightsError(msg) from last_error


def fetch(entry, *, progress=None, on_download=None):
    """Return the local path of a weight file, downloading it if needed.

    A cached file is used only if its SHA-256 matches; otherwise it is
    downloaded again.  Transient faults (connection errors and timeouts,
    interrupted transfers, HTTP 5xx, 408 and 429, a download whose hash does
    not match) are retried, up to three attempts in all; an HTTP 4xx error is
    not.  The download goes to a temporary ``.part`` file in the cache folder,
    which is moved into place only once its hash matches, so no failure ever
    leaves a file under the final name.  A lock file, ``.{name}.lock`` beside
    the file, serialises the processes fetching the same file: one downloads
    while the others wait and then use its copy.

    Parameters
    ----------
    entry : `WeightFile` or str
        The file, or its registry key.
    progress : bool, optional
        Show a download progress bar; `None` shows it on a terminal only.
        Unless it is `False`, a download is announced in one line on the
        standard error (`announce`).
    on_download : callable, optional
        Called instead of that announcement, only when the file must be
        downloaded (a caller fetching several files says it once).

    Returns
    -------
    path : `pathlib.Path`

    Raises
    ------
    WeightsError
        If the file cannot be downloaded, fails its hash check on every
        attempt, or cannot be written into the cache folder.  The message
        names the file, its URL and the fix.

    Examples
    --------
    >>> from astromask import data
    >>> (entry,) = data.model_files("deepcr/ACS-WFC")
    >>> path = data.fetch(entry)  # doctest: +REMOTE_DATA
    >>> path.name, path.stat().st_size == entry.size  # doctest: +REMOTE_DATA
    ('ACS-WFC.pth', True)
    """
    if isinstance(entry, str):
        entry = registry()[entry]
    path = cache_dir() / entry.key
    if is_valid(path, entry.sha256):  # a read-only cache works: no lock taken
        return path
    if on_download is not None:
        on_download()
    elif progress is not False:
        announce(entry.key, [entry])
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with locked(lock_path(path)):
            return _fetch_locked(entry, path, progress)
    except WeightsError:
        raise
    except OSError as err:  # the folder or its lock file cannot be created
        msg = (
            f"cannot write to the cache folder {folder} to download {entry.key} from "
            f"{entry.url}: {err}. Set ASTROMASK_DATA_DIR to a writable folder (now "
            f"{cache_dir()}), or have someone who can write there run 'astromask fetch'."
        )
        raise WeightsError(msg) from err


def fetch_all(*, progress=None):
    """Download every registered weight file into the cache.

    Parameters
    ----------
    progress : bool, optional
        Show progress bars; `None`: on a terminal only.

    Returns
    -------
    paths : list of `pathlib.Path`

    Examples
    --------
    >>> from astromask import data
    >>> paths = data.fetch_all()  # doctest: +REMOTE_DATA
    >>> len(paths) == len(data.registry())  # doctest: +REMOTE_DATA
    True
    """
    # The progress bars say what is downloaded: no announcement.
    return [
        fetch(entry, progress=progress, on_download=lambda: None)
        for entry in registry().values()
    ]
