"""Files that appear whole or not at all, locks between processes, and hashes.

Every file astromask writes (downloaded weights, converted-weight caches,
trained models, the command line's FITS outputs) goes through `atomic_file`:
it is written to a hidden temporary beside its final name,
``.{name}.{random}.astromask-{host}-{pid}.part``, flushed to disk, and only
then renamed into place (`os.replace`, or a hard link when an existing file
must not be replaced).  Readers therefore never see a half-written file, and
an interrupted writer leaves only a temporary, which `remove_parts` (under
the file's lock) or `sweep_temporaries` (for dead processes of this machine)
deletes later.

`locked` serialises processes working on the same file: `fcntl.flock` on
POSIX, which the kernel releases when its holder dies, and an exclusively
created lock file elsewhere (Windows), broken once it is older than
``STALE_LOCK_S``.

This module is a leaf: standard library only.
"""

import contextlib
import hashlib
import os
import re
import socket
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: see locked
    fcntl = None

__all__ = [
    "atomic_file",
    "create_part",
    "is_valid",
    "lock_path",
    "locked",
    "publish",
    "remove_parts",
    "sha256",
    "sweep_temporaries",
]

PART = ".part"
"""str: the suffix of files being written; never trusted, never loaded."""
STALE_LOCK_S = 600  # lock-file fallback only: a lock this old was left by a crash
LOCK_POLL_S = 0.05
_CHUNK = 1 << 20

# .{name}.{random}.astromask-{host}-{pid}.part (an extra suffix may follow, e.g. .keras)
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.astromask-(?P<host>.+)-(?P<pid>\d+)\.part(\.\w+)?$")
_swept = set()


def sha256(path):
    """Return the SHA-256 hex digest of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_valid(path, expected):
    """Whether ``path`` is a file whose SHA-256 is ``expected`` (the only test of trust)."""
    try:
        return Path(path).is_file() and sha256(path) == expected
    except OSError:
        return False


def create_part(folder, name, suffix=""):
    """Create an empty temporary file for ``name`` in ``folder``; return it open, and its path.

    The name is ``.{name}.{random}.astromask-{host}-{pid}.part{suffix}``, in
    the same folder as the final file so that `os.replace` moves it into
    place atomically.  The file is created exclusively with mode 0o666 less
    the umask, like any new file (not 0o600 like `tempfile.mkstemp`), so a
    shared cache stays readable by the group.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    tag = f"astromask-{socket.gethostname()}-{os.getpid()}{PART}{suffix}"
    while True:
        part = Path(folder) / f".{name}.{os.urandom(6).hex()}.{tag}"
        try:
            fd = os.open(part, flags, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits collided
            continue
        return os.fdopen(fd, "wb"), part


def publish(part, path, *, overwrite=True):
    """Give the complete temporary ``part`` its final name ``path``.

    With ``overwrite=False`` an existing ``path`` is never replaced, even
    one that appears meanwhile (a hard link fails if it exists).

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is false.
    """
    if overwrite:
        os.replace(part, path)
        return
    try:
        os.link(part, path)
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links
        if Path(path).exists():
            raise FileExistsError(path) from None
        os.replace(part, path)


@contextlib.contextmanager
def atomic_file(path, *, overwrite=True, suffix=""):
    """Write a file that appears under ``path`` only once complete.

    Yields ``(stream, part)``: an open binary stream on the temporary file
    and its path (for writers that need a path: close the stream first).
    On a normal exit the temporary is flushed to disk and renamed to
    ``path`` (`publish`); whatever happens, it is removed.

    Parameters
    ----------
    path : path-like
        The final name.
    overwrite : bool, optional
        Replace an existing ``path`` (default); else raise `FileExistsError`.
    suffix : str, optional
        Added to the temporary's name (``".keras"``: Keras saves only to
        names with that suffix).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from astromask._atomic import atomic_file
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = Path(folder) / "out.txt"
    ...     with atomic_file(target) as (stream, part):
    ...         _ = stream.write(b"done")
    ...         exists_while_writing = target.exists()
    ...     print(exists_while_writing, target.read_bytes(), len(list(Path(folder).iterdir())))
    False b'done' 1
    """
    path = Path(path)
    out, part = create_part(path.parent, path.name, suffix)
    try:
        with out:
            yield out, part
            if not out.closed:
                out.flush()
                os.fsync(out.fileno())
        publish(part, path, overwrite=overwrite)
    finally:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)  # a failed write; a no-op after the move


def remove_parts(path, *, min_age=None):
    """Delete the temporary files of ``path`` left by killed writers.

    Call only while holding ``path``'s lock: with `fcntl.flock`, no live
    writer then owns a temporary file.  The lock-file fallback can be broken
    while its holder still writes (see `locked`), so it spares the files
    written to less than ``min_age`` seconds ago (default 120).
    """
    path = Path(path)
    prefix = f".{path.name}."
    if min_age is None:
        min_age = 0 if fcntl is not None else 120
    with contextlib.suppress(OSError):
        for leftover in path.parent.iterdir():
            if leftover.name.startswith(prefix) and PART in leftover.name:
                with contextlib.suppress(OSError):
                    if time.time() - leftover.stat().st_mtime >= min_age:
                        leftover.unlink()


def _alive(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def sweep_temporaries(folder):
    """Remove temporaries that killed processes of this machine left in ``folder``.

    Once per folder and process; only on POSIX, where ``os.kill(pid, 0)``
    tells whether a process lives.
    """
    key = os.path.abspath(folder)
    if os.name != "posix" or key in _swept:
        return
    _swept.add(key)
    host = socket.gethostname()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match and match["host"] == host and not _alive(int(match["pid"])):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


def lock_path(path):
    """The lock file of ``path``: ``.{name}.lock`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path):
    """Hold an exclusive lock, between processes and threads, on the lock file ``path``.

    POSIX: `fcntl.flock` on ``path`` (created if needed, then left in place:
    deleting a flock file races with processes waiting on it).  The kernel
    releases the lock when its holder dies, so a killed process never blocks
    the others.  Elsewhere (Windows): the lock is the existence of ``path``,
    created with ``O_CREAT | O_EXCL`` and deleted on release; a lock file
    older than ``STALE_LOCK_S`` was left by a crash and is broken.

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
            if age > STALE_LOCK_S:
                # A crashed holder's lock.  Two waiters may both break it, and two processes
                # then download at once: still safe, as files are moved into place atomically.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
                continue
            time.sleep(LOCK_POLL_S)
    try:
        os.write(fd, f"{os.getpid()}\n".encode())
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
