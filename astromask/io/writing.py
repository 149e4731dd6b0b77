"""Output files that appear whole or not at all, and inputs rewritten HDU by HDU."""

import re

from astromask._atomic import atomic_file, sweep_temporaries
from astromask.io.paths import Failure, output_path
from astromask.io.reading import (
    READ_ERRORS,
    first_line,
    image_hdus,
    nothing_to_do,
    read_input,
    resolve_hdu,
)

__all__ = ["rewrite_file", "science_header", "write_atomically"]

#: Keywords that describe an HDU's data layout, not the observation: astropy
#: writes the output's own (and compression and checksum cards are redone).
_LAYOUT = re.compile(
    r"SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|GROUPS|THEAP|INHERIT"
    r"|BSCALE|BZERO|BLANK|BUNIT|DATAMIN|DATAMAX|CHECKSUM|DATASUM|EXTNAME|EXTVER"
    r"|Z(IMAGE|BITPIX|NAXIS\d*|TILE\d*|CMPTYPE|NAME\d+|VAL\d+|SIMPLE|TENSION|EXTEND"
    r"|BLOCKED|PCOUNT|GCOUNT|QUANTIZ|DITHER0|HECKSUM|DATASUM|BLANK|SCALE|ZERO)"
    r"|T(FIELDS|TYPE\d+|FORM\d+|UNIT\d+|DIM\d+|NULL\d+|SCAL\d+|ZERO\d+|DISP\d+)"
)


def science_header(header, primary=None):
    """The cards of ``header`` that describe the observation, for an output HDU.

    WCS, OBJECT, DATE-OBS, the data sections and every other keyword are
    kept, so that a mask overlays its image in DS9 and other viewers; the
    cards of the data layout (`_LAYOUT`: BITPIX, NAXISn, BSCALE, BZERO,
    BUNIT, compression and checksums...) are left for the output's own.
    ``primary`` (the file's primary header, for an extension written alone)
    comes first, and the extension's cards take precedence over it.

    Examples
    --------
    >>> from astropy.io import fits
    >>> from astromask.io import science_header
    >>> header = fits.Header({"BITPIX": -32, "BZERO": 32768, "OBJECT": "M 51", "CRVAL1": 202.5})
    >>> list(science_header(header, fits.Header({"TELESCOP": "Bok", "OBJECT": "?"})).items())
    [('TELESCOP', 'Bok'), ('OBJECT', 'M 51'), ('CRVAL1', 202.5)]
    """
    from astropy.io import fits

    out = fits.Header()
    for source in (primary, header):
        if source is not None:
            cards = [card for card in source.cards if not _LAYOUT.fullmatch(card.keyword)]
            out.extend(cards, update=True)
    return out


def write_atomically(out_path, write, *, overwrite):
    """Write a file through ``write(stream)`` to a temporary beside ``out_path``, then rename it.

    The output folder is created if needed.  An existing ``out_path`` is
    replaced only with ``overwrite``.  The temporary
    (``.NAME.RANDOM.astromask-HOST-PID.part``) is removed whatever happens
    (an error, Ctrl-C); one left by a killed process is removed by the next
    write to that folder (`astromask._atomic.sweep_temporaries`).  Raises
    `Failure` with the reason when the file cannot be written.
    """
    from astropy.io.fits.verify import VerifyError

    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        msg = f"cannot create the output folder {out_path.parent}: {err.strerror or err}"
        raise Failure(msg) from err
    sweep_temporaries(out_path.parent)
    try:
        with atomic_file(out_path, overwrite=overwrite) as (stream, _):
            write(stream)
    except FileExistsError:
        raise Failure(f"output {out_path} exists; add --overwrite to replace it") from None
    except OSError as err:
        raise Failure(f"cannot write {out_path}: {err.strerror or err}") from err
    except VerifyError as err:
        msg = f"cannot write {out_path}: invalid header: {first_line(err)}"
        raise Failure(msg) from err


def rewrite_file(path, hdu_index, args, *, select, what, process):
    """Write the output file of one input: processed HDUs, the others copied.

    ``select(hdu)`` says which image HDUs (of `astromask.io.reading.image_hdus`) to process;
    ``process(hdul, index, output)`` appends what HDU ``index`` becomes to
    the output `~astropy.io.fits.HDUList`.  The input is opened read-only;
    the output appears atomically (`write_atomically`).  Raises `Failure`,
    with the reason, when the file cannot be processed.
    """
    from astropy.io import fits

    out_path = output_path(path, hdu_index, args)
    if out_path.resolve() == path.resolve():
        raise Failure(f"output {out_path} would overwrite the input; use --suffix or --output")
    if out_path.exists() and not args.overwrite:
        raise Failure(f"output {out_path} exists; add --overwrite to replace it")
    with read_input(path) as hdul:
        hdu_index = resolve_hdu(hdul, hdu_index)
        try:
            todo = {i for i in image_hdus(hdul, hdu_index) if select(hdul[i])}
        except READ_ERRORS as err:
            raise Failure(f"cannot read its data: {err}") from err
        if not todo:
            raise nothing_to_do(what, hdul, hdu_index)
        output = fits.HDUList()
        selected = [hdu_index] if hdu_index is not None else range(len(hdul))
        for index in selected:
            hdu = hdul[index]
            if index in todo:
                process(hdul, index, output)
                continue
            try:
                output.append(hdu.copy() if index else fits.PrimaryHDU(header=hdu.header))
            except READ_ERRORS as err:
                raise Failure(f"cannot read HDU {index}: {err}") from err
        write_atomically(out_path, output.writeto, overwrite=args.overwrite)
    return out_path
