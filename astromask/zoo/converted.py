"""Converted weights: the original files read, converted once, cached as ``.npz``.

The first use of a model on a machine converts its downloaded weight files
(`astromask.zoo.families`) to ``{"layer/variable": array}`` and caches the
result next to them, with a SHA-256 sidecar; later uses load the cache only
if it matches its sidecar.  Written atomically under the file's lock
(`astromask._atomic`).

pooch's processors (``(fname, action, pooch)``, redone when ``action`` is
"download" or "update") were considered for this cache and not used: the
downloads do not go through `pooch.retrieve` (astromask adds locks, retries
and atomic moves, `astromask.data`), and a processor trusts an existing
output, where this cache is trusted only when its hash matches.
"""

import contextlib
import functools
import logging
from pathlib import Path

import numpy as np

from astromask import data
from astromask._atomic import atomic_file, lock_path, locked, remove_parts, sha256
from astromask.zoo.families import convert

__all__ = ["CONVERTED_VERSION", "converted_weights"]

CONVERTED_VERSION = 2  # bump when a converter's output changes
_log = logging.getLogger("astromask.zoo")


def converted_weights(model, *, progress=None):
    """Return a model's weights as ``{"layer/variable": numpy array}``.

    Downloads the original files if needed, converts them once and caches
    the result next to them.

    Parameters
    ----------
    model : str
        Model name, for example ``"maximask"``.
    progress : bool, optional
        Show download progress bars; `None`: on a terminal only (see
        `astromask.data.fetch`).

    Returns
    -------
    weights : dict of str to `numpy.ndarray`

    Examples
    --------
    >>> from astromask.zoo import converted_weights
    >>> weights = converted_weights("deepcr/ACS-WFC")  # doctest: +REMOTE_DATA
    >>> len(weights), weights["inc_conv1/kernel"].shape  # doctest: +REMOTE_DATA
    (16, (3, 3, 1, 32))
    """
    files = data.model_files(model)
    # One line for the whole model, said once, and only when one of its
    # files is downloaded (with progress=False fetch says nothing anyway).
    announce_once = functools.cache(functools.partial(data.announce, model, files))
    on_download = None if progress is False else announce_once
    # Each cached file is checked once, by fetch (its SHA-256).
    paths = [data.fetch(f, progress=progress, on_download=on_download) for f in files]
    tag = f"{model.replace('/', '_')}.keras-v{CONVERTED_VERSION}-{files[-1].sha256[:16]}"
    cache = Path(paths[0]).parent / f"{tag}.npz"
    return _cached_conversion(cache, lambda: convert(model, paths))


def _cached_conversion(cache, convert):
    """Return ``convert()``, through the ``.npz`` cache file ``cache``.

    The cache is trusted only if its sidecar ``.npz.sha256`` holds its
    SHA-256, so a partial or damaged file is converted again, never loaded.
    Processes converting at once take a lock (`astromask._atomic.locked`), so one
    converts and the others load its result.  If the folder cannot be written
    (read-only, or full), the weights are converted in memory each time and a
    warning is logged.

    Parameters
    ----------
    cache : `pathlib.Path`
        The ``.npz`` file.
    convert : callable
        Returns the weights as ``{"layer/variable": numpy array}``.
    """
    sidecar = cache.with_suffix(".npz.sha256")
    weights = _load_converted(cache, sidecar)
    if weights is not None:
        return weights
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(locked(lock_path(cache)))
        except OSError as err:  # a read-only folder
            _log.warning("not caching converted weights in %s: %s", cache.parent, err)
            return convert()
        weights = _load_converted(cache, sidecar)  # converted while we waited?
        if weights is None:
            weights = convert()
            try:
                _write_converted(cache, sidecar, weights)
            except OSError as err:  # a full disk, say
                _log.warning("could not cache converted weights as %s: %s", cache, err)
    return weights


def _load_converted(cache, sidecar):
    """Return the cached weights, or None if the cache is missing or fails its hash."""
    try:
        if sidecar.read_text().strip() != sha256(cache):
            return None
        with np.load(cache, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError):  # missing, unreadable, not UTF-8
        return None


def _write_converted(cache, sidecar, weights):
    """Write the cache and then its sidecar, each atomically; on failure leave neither."""
    remove_parts(cache)  # left by killed writers; we hold the lock
    remove_parts(sidecar)
    try:
        with atomic_file(cache) as (stream, part):
            np.savez(stream, **weights)
            stream.flush()
            digest = sha256(part)
        with atomic_file(sidecar) as (stream, _):
            stream.write(f"{digest}\n".encode())
    except BaseException:
        for path in (sidecar, cache):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise
