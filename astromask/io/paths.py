"""The command line's PATHs: files, folders, ``.list`` files and ``FILE[N]``.

One rule for every command and for `astromask.train`: ``FILE[N]`` names HDU
``N`` of a file, ``FILE[EXTNAME]`` the HDU of that name (`parse_hdu_suffix`),
unless a file of that literal name exists.
"""

import re
from pathlib import Path

__all__ = [
    "FITS_SUFFIXES",
    "Failure",
    "expand_paths",
    "fits_in",
    "output_path",
    "parse_hdu_suffix",
]

_FITS_NAME = re.compile(r"\.(fits|fit|fts)(\.fz|\.gz)?$|\.fz$", re.IGNORECASE)
_HDU_SUFFIX = re.compile(r"^(?P<path>.+)\[(?P<hdu>\w+)\]$")
FITS_SUFFIXES = ".fits, .fit or .fts, optionally with .fz or .gz"


class Failure(Exception):
    """A file could not be processed; the message says why."""


def is_fits_name(name):
    """Whether a file name ends like a FITS file (``.fits``, ``.fit``, ``.fts``, ``.fz``...)."""
    return _FITS_NAME.search(name) is not None


def parse_hdu_suffix(text):
    """Split ``FILE[N]`` or ``FILE[EXTNAME]`` into ``(Path(FILE), N or EXTNAME)``.

    A path that exists as written, or has no ``[...]`` suffix, gives
    ``(Path(text), None)``.

    Examples
    --------
    >>> from astromask.io.paths import parse_hdu_suffix
    >>> parse_hdu_suffix("frame.fits[2]"), parse_hdu_suffix("frame.fits[SCI]")
    ((PosixPath('frame.fits'), 2), (PosixPath('frame.fits'), 'SCI'))
    >>> parse_hdu_suffix("frame.fits")
    (PosixPath('frame.fits'), None)
    """
    text = str(text)
    match = _HDU_SUFFIX.match(text)
    if match and not Path(text).exists():
        hdu = match["hdu"]
        return Path(match["path"]), int(hdu) if hdu.isdigit() else hdu
    return Path(text), None


def expand_paths(paths):
    """Turn command-line PATHs into ``[(file, hdu_or_None), ...]``.

    A folder gives its FITS files, a ``.list`` file its lines (one path per
    line, relative to the current folder, ``#`` comments), ``FILE[N]`` or
    ``FILE[EXTNAME]`` one HDU of a file.  Paths that do not exist stay jobs,
    reported when they are processed (`astromask.io.reading.check_input`).
    """
    jobs = []
    for raw in paths:
        path, hdu = parse_hdu_suffix(raw)
        if hdu is not None:
            jobs.append((path, hdu))
            continue
        if path.is_dir():
            found = fits_in(path)
            if found:
                jobs.extend((p, None) for p in found)
            else:  # stays a job, reported by check_input
                jobs.append((path, None))
        elif path.suffix == ".list" and path.is_file():
            # One path per line, relative to the current folder (as upstream).
            entries = [line.strip() for line in path.read_text().splitlines()]
            jobs.extend(expand_paths([e for e in entries if e and not e.startswith("#")]))
        else:
            jobs.append((path, None))
    return jobs


def fits_in(folder):
    """The FITS files of a folder, outputs (``.mask``) left out, sorted."""
    return sorted(
        p
        for p in Path(folder).iterdir()
        if p.is_file() and _FITS_NAME.search(p.name) and ".mask" not in p.name
    )


def output_path(path, hdu, options):
    """The output file of input ``path`` (HDU ``hdu`` alone, or the whole file for `None`).

    ``options`` has ``output`` (the file, for one input), ``output_dir``
    (default: beside the input) and ``suffix``, added before the extension
    (and followed by the HDU for one HDU): ``NAME{suffix}[{hdu}].fits``.
    """
    if options.output:
        return Path(options.output)
    name = path.name
    for ext in (".fz", ".gz"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, "fits"
    suffix = options.suffix + (str(hdu) if hdu is not None else "")
    out_dir = Path(options.output_dir) if options.output_dir else path.parent
    return out_dir / f"{stem}{suffix}.{ext}"
