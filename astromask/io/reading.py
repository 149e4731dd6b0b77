"""Opening input FITS files read-only, with one clear `Failure` per way they can break."""

import os
import warnings
import zlib
from contextlib import contextmanager

from astromask.io.paths import FITS_SUFFIXES, Failure, fits_in

__all__ = [
    "NON_SCIENCE_EXTNAMES",
    "READ_ERRORS",
    "check_input",
    "first_line",
    "hdu_kind",
    "image_hdus",
    "is_science",
    "nothing_to_do",
    "read_input",
    "resolve_hdu",
]

NON_SCIENCE_EXTNAMES = frozenset(
    {
        "VAR", "VARIANCE", "IVAR", "INVVAR", "ERR", "ERROR", "SIGMA", "UNCERT", "STDDEV",
        "WHT", "WEIGHT", "DQ", "BPM", "MASK", "CRMASK", "FLAGS", "QUALITY",
        "SKYFIT", "SKY", "BKG", "BACKGROUND", "EXP", "EXPOSURE", "EXPMAP",
    }
)  # fmt: skip
"""frozenset of str: EXTNAMEs of image HDUs that hold no exposure (variance,
errors, quality, masks, weights, fitted sky, exposure maps): pipelines such as
Gemini's, HST's and LCO's write them beside the science image."""

# What reading a damaged file may raise (astropy, gzip, bz2, the decompressors).
READ_ERRORS = (OSError, ValueError, TypeError, EOFError, IndexError, KeyError, zlib.error)


def image_hdus(hdul, only=None):
    """Indices of the HDUs holding 2-D or 3-D images to process.

    8-bit images are left out, as upstream MaxiMask does: they are bad-pixel
    or mask planes (such as BANZAI's BPM), not exposures.
    """
    indices = []
    for index, hdu in enumerate(hdul):
        if only is not None and index != only:
            continue
        if not hdu.is_image or hdu.header.get("NAXIS", 0) not in (2, 3):
            continue
        if hdu.header.get("ZBITPIX", hdu.header.get("BITPIX")) == 8:
            continue
        if hdu.data is not None and hdu.data.size > 0:
            indices.append(index)
    return indices


def is_science(hdu):
    """Whether an image HDU holds an exposure: its EXTNAME is none of `NON_SCIENCE_EXTNAMES`.

    Examples
    --------
    >>> from astropy.io import fits
    >>> from astromask.io.reading import is_science
    >>> is_science(fits.ImageHDU(name="SCI")), is_science(fits.ImageHDU(name="VAR"))
    (True, False)
    """
    return str(hdu.name).upper() not in NON_SCIENCE_EXTNAMES


def resolve_hdu(hdul, hdu):
    """The index of HDU ``hdu`` (an index or an EXTNAME) of an open file; `None` stays `None`.

    Raises `Failure` if the file has no such HDU.
    """
    if hdu is None:
        return None
    if isinstance(hdu, str):
        try:
            return hdul.index_of(hdu)
        except KeyError:
            raise Failure(f"has no HDU named {hdu}") from None
    if hdu >= len(hdul):
        raise Failure(f"has {len(hdul)} HDUs, no HDU {hdu}")
    return hdu


def check_input(path):
    """Raise `Failure` unless ``path`` names a file (existing, not a folder)."""
    if path.is_dir():
        try:
            if fits_in(path):
                raise Failure("is a folder, not a FITS file")
        except OSError as err:
            raise Failure(f"is a folder, and cannot be read: {err.strerror or err}") from err
        raise Failure(f"is a folder with no FITS file in it (names ending in {FITS_SUFFIXES})")
    if not path.exists():
        raise Failure("no such file")
    if not path.is_file():
        raise Failure("not a regular file")


def first_line(message):
    """The first line of an error message."""
    return str(message).strip().splitlines()[0] if str(message).strip() else ""


def _unreadable(path, err):
    """The `Failure` for a file that `astropy.io.fits.open` cannot open."""
    if isinstance(err, PermissionError):
        return Failure("cannot open it: permission denied; check its permissions")
    try:
        with open(path, "rb") as stream:
            size, magic = os.fstat(stream.fileno()).st_size, stream.read(3)
    except OSError:
        size, magic = None, b""
    if size == 0:
        return Failure("empty file (0 bytes), not FITS; write or copy it again")
    reason = f"cannot read as FITS: {first_line(err) or type(err).__name__}"
    if "No SIMPLE card found" in reason:  # astropy's advice is no use here
        reason = "cannot read as FITS: it does not start with a SIMPLE card (not FITS, or damaged)"
    compressed = magic[:2] == b"\x1f\x8b" or magic == b"BZh"
    if size is not None and size % 2880 and not compressed:
        reason += f" (its {size} bytes are no whole number of 2880-byte FITS blocks: truncated?)"
    return Failure(reason)


@contextmanager
def read_input(path):
    """Open an input FITS file read-only, with every header read.

    What is wrong with the file (missing, not FITS, truncated, unreadable)
    becomes a `Failure`; astropy's other warnings are passed on.
    """
    from astropy.io import fits

    check_input(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            hdul = fits.open(path, mode="readonly", lazy_load_hdus=False)
        except READ_ERRORS as err:
            raise _unreadable(path, err) from err
    for warning in caught:
        message = first_line(warning.message)
        if "truncated" in message:  # astropy reads on, and fails on the data later
            hdul.close()
            reason = message.removeprefix("File may have been truncated: ")
            raise Failure(f"truncated FITS file: {reason}; copy or download it again")
    with hdul:
        for warning in caught:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
        yield hdul


def hdu_kind(hdu):
    """A few words on what an HDU holds, for messages."""
    naxis = hdu.header.get("NAXIS", 0)
    if not naxis or not any(hdu.header.get(f"NAXIS{i}", 0) for i in range(1, naxis + 1)):
        return "header only"
    if hdu.is_image:
        naxis = hdu.header.get("ZNAXIS", naxis)
        bits = hdu.header.get("ZBITPIX", hdu.header.get("BITPIX"))
        return f"{naxis}-D {'8-bit ' if bits == 8 else ''}image"
    return type(hdu).__name__


def nothing_to_do(what, hdul, only=None):
    """The `Failure` of a file with no HDU to process: says what it holds."""
    indices = range(len(hdul)) if only is None else [only]
    kinds = [f"HDU {i}: {hdu_kind(hdul[i])}" for i in indices]
    if len(kinds) > 6:
        kinds = [*kinds[:5], f"... {len(kinds) - 5} more"]
    return Failure(f"no {what} ({', '.join(kinds)})")
