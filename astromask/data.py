"""Pretrained weights: the registry, the cache and the downloads (through pooch).

Every file is pinned by URL (a repository commit) and sha256.  Files are
downloaded on first use into a cache folder and verified each time they are
opened; a file whose hash does not match is never loaded.

Faults and concurrency
----------------------
A download is written to a temporary file beside its final name
(``.{name}.{random}.part``) and moved into place with `os.replace`, an atomic
rename, only once its SHA-256 matches.  An interrupted or truncated transfer,
a wrong file, an HTTP error, a full disk or a killed process therefore never
leaves a file under the final name; the temporary files that a killed process
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

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pooch

try:
    import fcntl
except ImportError:  # Windows: see _locked
    fcntl = None

__all__ = [
    "REGISTRY",
    "WeightFile",
    "WeightsError",
    "cache_dir",
    "fetch",
    "fetch_all",
    "model_files",
]

_GITHUB_URL = "https://github.com/{owner}/{repo}/raw/{commit}/{path}"


@dataclass(frozen=True)
class WeightFile:
    """One pinned weight file.

    Parameters
    ----------
    owner, repo, commit, path : str
        Where the file lives in its upstream repository.
    sha256 : str
        Expected SHA-256 of the file's content.
    size : int
        Expected size in bytes (informative; the hash is what is checked).

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from astromask import data
    >>> (entry,) = data.model_files("deepcr/ACS-WFC")
    >>> entry.owner, entry.repo, entry.path
    ('profjsb', 'deepCR', 'learned_models/mask/ACS-WFC.pth')
    >>> entry.key == f"{entry.owner}/{entry.repo}/{entry.commit}/{entry.path}"
    True
    >>> with mock.patch.dict(os.environ, {"ASTROMASK_WEIGHTS_URL": "https://mirror.example"}):
    ...     print(entry.url == f"https://mirror.example/{entry.key}")
    True
    """

    owner: str
    repo: str
    commit: str
    path: str
    sha256: str
    size: int

    @property
    def key(self):
        """``owner/repo/commit/path``: the file's name in the cache and mirrors."""
        return f"{self.owner}/{self.repo}/{self.commit}/{self.path}"

    @property
    def url(self):
        """Where the file is downloaded from, honouring ``ASTROMASK_WEIGHTS_URL``."""
        base = os.environ.get("ASTROMASK_WEIGHTS_URL", "").strip()
        if base:
            return f"{base.rstrip('/')}/{self.key}"
        return _GITHUB_URL.format(
            owner=self.owner, repo=self.repo, commit=self.commit, path=self.path
        )


_MAXIMASK_COMMIT = "69b88322bc2c96de5f2b09967e0fef04821db81a"


def _maximask_file(path, sha256, size):
    return WeightFile("mpaillassa", "MaxiMask", _MAXIMASK_COMMIT, path, sha256, size)


_FILES = {
    "maximask": (
        _maximask_file(
            "maximask_and_maxitrack/maximask/model/variables/variables.index",
            "4dd670e3239a04fb5624e375f09b1393ba061e2b69fd7e766d00b8374bb8efaa",
            3823,
        ),
        _maximask_file(
            "maximask_and_maxitrack/maximask/model/variables/variables.data-00000-of-00001",
            "13e5fed2cdb7abd4535a4e872b4906f380558073d9294c1d5fa2041f620073e5",
            22935401,
        ),
    ),
    "maxitrack": (
        _maximask_file(
            "maximask_and_maxitrack/maxitrack/model/variables/variables.index",
            "949e3258e8c00409463c58f9a6f34924a53fc8db572e7fda6f401f8856251b29",
            1583,
        ),
        _maximask_file(
            "maximask_and_maxitrack/maxitrack/model/variables/variables.data-00000-of-00001",
            "95894abf89b1b93879e298bdc1fc16a73301690de4fc657353cc5aafdcb34bef",
            33065329,
        ),
    ),
}

_DEEPCR_COMMIT = "29434859086c35373a49aec02c80985749dfd195"


def _deepcr_file(path, sha256, size):
    return WeightFile("profjsb", "deepCR", _DEEPCR_COMMIT, f"learned_models/{path}", sha256, size)


_FILES.update(
    {
        "deepcr/ACS-WFC": (
            _deepcr_file(
                "mask/ACS-WFC.pth",
                "0075cef7a8b72f3ecf449cac3793d3446720a97fc0ba812fb29863a9be1e7ace",
                416836,
            ),
        ),
        "deepcr/ACS-WFC-F606W-2-4": (
            _deepcr_file(
                "mask/ACS-WFC-F606W-2-4.pth",
                "91fd387be08dfb2692fc3433566455812c42fae53fa6ec4ad19c384b68bce775",
                15979,
            ),
        ),
        "deepcr/decam": (
            _deepcr_file(
                "mask/decam.pth",
                "686de2afab28d13b2bff3c418ecf017d0b290ca5e8c811ef71f673ce12230815",
                416836,
            ),
        ),
        "deepcr/WFC3-UVIS": (
            _deepcr_file(
                "mask/WFC3-UVIS.pth",
                "92ad8d3231a0427c6fa6d9b39501549edc15fd1eb1162e028e2cf1711b2f59cd",
                412323,
            ),
        ),
        "deepcr/ACS-WFC-F606W-2-32": (
            _deepcr_file(
                "inpaint/ACS-WFC-F606W-2-32.pth",
                "2a754380bfe158a1cfeee12f908f96a2bd5b59cbb7b830a4d06dad930d906111",
                417988,
            ),
        ),
        "deepcr/ACS-WFC-F606W-3-32": (
            _deepcr_file(
                "inpaint/ACS-WFC-F606W-3-32.pth",
                "5b4faf2e239185c2d5d4235688ce61a2b9e4e5f47bbcf96c8a687b5a0c1e6c42",
                1890231,
            ),
        ),
    }
)

_COSMIC_CONN_COMMIT = "ce5785d05ee3b06bd59e3206f8ea1c9cfdf3e0dc"


def _cosmic_conn_file(name, sha256, size):
    return WeightFile(
        "cy-xu",
        "cosmic-conn",
        _COSMIC_CONN_COMMIT,
        f"cosmic_conn/trained_models/cosmic-conn_{name}_v0.2.8.pth",
        sha256,
        size,
    )


# Cosmic-CoNN's code is GPL; its weight files are data, downloaded at run time.
_FILES.update(
    {
        "cosmic-conn/ground_imaging": (
            _cosmic_conn_file(
                "ground_imaging",
                "f8c4ea75dc9b212b8786a95d583dd9cd0b8ec95a53fd3d4cfbfe40c4c0cf267b",
                1879417,
            ),
        ),
        "cosmic-conn/NRES": (
            _cosmic_conn_file(
                "LCO_NRES",
                "2f676afb81286c0810facf81236e3ef1651a04a2142d6443388ec76313a8a5be",
                1879417,
            ),
        ),
        "cosmic-conn/HST_ACS_WFC": (
            _cosmic_conn_file(
                "HST_ACS_WFC",
                "e4bcde26104c9c93548c6d68f2d455e5b9b6af985d62b15cb0157c54bcf4eb00",
                1888076,
            ),
        ),
    }
)

_ATTENTION_COMMIT = "9c122e554b70b478f2323af1c434b9e0d1c45d7b"


def _attention_file(name, sha256, size):
    return WeightFile(
        "lfovia",
        "Attention-Augmented-Cosmic-Ray-Detection-in-Astronomical-Images",
        _ATTENTION_COMMIT,
        f"Trained_Models/{name}.pth",
        sha256,
        size,
    )


# Bhavanam et al.'s repository states no licence: its files are only ever
# downloaded from upstream at run time, never vendored.
_FILES.update(
    {
        "decam-attention/deepCR": (
            _attention_file(
                "deepCR",
                "103bb140469d664b03b9209e8c0c413c808128f6a0c149155a53a3d1420d2a48",
                1890060,
            ),
        ),
        "decam-attention/Att_deepCR": (
            _attention_file(
                "Att_deepCR",
                "1f58e1181b7e2f95c2834dbf0d021a558b4f8a70d74f7d97b56f9a4cdb5eff8b",
                1924652,
            ),
        ),
        "decam-attention/Cosmic-CoNN": (
            _attention_file(
                "Coasmic_CoNN",
                "49bee3a03f23b3be7c9758782de1ab72afda773d1869dde49e569b4f89d82bca",
                1873751,
            ),
        ),
        "decam-attention/Att_Cosmic-CoNN": (
            _attention_file(
                "Att_Coasmic_CoNN",
                "63d5abaa18b496628922555c50ca31dfaf59414672f53e4523bc08ee63ed7375",
                1900083,
            ),
        ),
    }
)

REGISTRY = {f.key: f for files in _FILES.values() for f in files}
"""dict of str to `WeightFile`: every pinned file, keyed ``owner/repo/commit/path``."""


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
    try:
        return _FILES[model]
    except KeyError:
        msg = f"model: unknown model {model!r}; choose among {', '.join(_FILES)}"
        raise ValueError(msg) from None


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
_PART = ".part"  # suffix of files being written; never trusted, never loaded
_STALE_LOCK_S = 600  # lock-file fallback only: a lock this old was left by a crash
_LOCK_POLL_S = 0.05


class _HashMismatch(ValueError):
    """A complete download whose SHA-256 is not the pinned one."""


def _sha256(path):
    return pooch.file_hash(str(path), alg="sha256")


def _is_valid(path, sha256):
    """Whether ``path`` is a file with this SHA-256 (the only test of trust)."""
    try:
        return path.is_file() and _sha256(path) == sha256
    except OSError:
        return False


def _create_part(folder, name):
    """Create an empty temporary file for ``name`` in ``folder``; return it open, and its path.

    The name is ``.{name}.{random}.part``, in the same folder as the final file so that
    `os.replace` moves it into place atomically.  The file is created exclusively with mode
    0o666 less the umask, like any new file (not 0o600 like `tempfile.mkstemp`), so a shared
    cache stays readable by the group.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        part = Path(folder) / f".{name}.{os.urandom(6).hex()}{_PART}"
        try:
            fd = os.open(part, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        return os.fdopen(fd, "wb"), part


def _remove_parts(path):
    """Delete the temporary files of ``path`` left by killed writers.

    Call only while holding ``path``'s lock: with `fcntl.flock`, no live writer then owns
    a temporary file.  The lock-file fallback can be broken while its holder still writes
    (see `_locked`), so it spares the files written to recently (a live download writes at
    least once per ``_TIMEOUT_S``).
    """
    prefix = f".{path.name}."
    min_age = 0 if fcntl is not None else 2 * _TIMEOUT_S
    with contextlib.suppress(OSError):
        for leftover in path.parent.iterdir():
            if leftover.name.startswith(prefix) and leftover.name.endswith(_PART):
                with contextlib.suppress(OSError):
                    if time.time() - leftover.stat().st_mtime >= min_age:
                        leftover.unlink()


def _lock_path(path):
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def _locked(path):
    """Hold an exclusive lock, between processes and threads, on the lock file ``path``.

    POSIX: `fcntl.flock` on ``path`` (created if needed, then left in place: deleting a
    flock file races with processes waiting on it).  The kernel releases the lock when its
    holder dies, so a killed process never blocks the others.  Elsewhere (Windows): the
    lock is the existence of ``path``, created with ``O_CREAT | O_EXCL`` and deleted on
    release; a lock file older than ``_STALE_LOCK_S`` was left by a crash and is broken.

    Raises
    ------
    OSError
        If the lock file cannot be created (for example, a read-only folder).
    """
    if fcntl is not None:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)  # flock needs no write access
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
        return
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except (FileExistsError, PermissionError):
            # Windows answers PermissionError for a file being deleted; a folder we cannot
            # write answers it too, and then there is no lock file to wait for.
            try:
                age = time.time() - os.stat(path).st_mtime
            except FileNotFoundError:
                if not os.access(os.path.dirname(path) or ".", os.W_OK):
                    raise
                continue
            if age > _STALE_LOCK_S:
                # A crashed holder's lock.  Two waiters may both break it, and two processes
                # then download at once: still safe, as files are moved into place atomically.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                continue
            time.sleep(_LOCK_POLL_S)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


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


def _download(entry, path, progress):
    """Download ``entry`` to a temporary file beside ``path``; move it there if its hash matches."""
    responses = []
    downloader = pooch.HTTPDownloader(
        progressbar=bool(progress),
        timeout=_TIMEOUT_S,
        chunk_size=_CHUNK_BYTES,
        # pooch leaves the response open after an HTTP error or a failed write: keep it to
        # close it below, or its socket leaks until garbage collection.
        hooks={"response": lambda response, **kwargs: responses.append(response)},
    )
    out, part = _create_part(path.parent, path.name)
    try:
        with out:
            try:
                downloader(entry.url, out, None)
            finally:
                for response in responses:
                    response.close()
            out.flush()
            os.fsync(out.fileno())
        digest = _sha256(part)
        if digest != entry.sha256:
            msg = f"got a file with SHA-256 {digest}"
            raise _HashMismatch(msg)
        os.replace(part, path)
    finally:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)  # a failed download; a no-op after the move


def _fetch_locked(entry, path, progress):
    """Download ``entry`` to ``path``, holding its lock, with retries on transient faults."""
    if _is_valid(path, entry.sha256):  # another process fetched it while we waited
        return path
    _remove_parts(path)
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


def fetch(entry, *, progress=False):
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
        Show a download progress bar.

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
        entry = REGISTRY[entry]
    path = cache_dir() / entry.key
    if _is_valid(path, entry.sha256):  # a read-only cache works: no lock taken
        return path
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(_lock_path(path)):
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


def fetch_all(*, progress=False):
    """Download every registered weight file into the cache.

    Parameters
    ----------
    progress : bool, optional
        Show progress bars.

    Returns
    -------
    paths : list of `pathlib.Path`

    Examples
    --------
    >>> from astromask import data
    >>> paths = data.fetch_all()  # doctest: +REMOTE_DATA
    >>> len(paths) == len(data.REGISTRY)  # doctest: +REMOTE_DATA
    True
    """
    return [fetch(entry, progress=progress) for entry in REGISTRY.values()]
