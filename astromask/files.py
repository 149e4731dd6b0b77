"""One file's job: what ``astromask flag``, ``cosmicray`` and ``track`` do to each input.

`flag_file` writes the MaxiMask masks of a FITS file, `cosmicray_file` a
cleaned copy, `track_file` returns its MaxiTrack scores.  Each works on the
CCDData layer (`astromask.core`, `astromask.ccdproc_compat`) and the file
layer (`astromask.io`); the command line (`astromask.cli`) and the Dask runs
(`astromask.batch`) call them per file.
"""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData, NDData

from astromask import classes as class_table
from astromask import core, inference
from astromask._version import __version__
from astromask.ccdproc_compat import cosmicray_deepcr, cosmicray_maximask
from astromask.core import tracking_score
from astromask.io import (
    READ_ERRORS,
    Failure,
    check_input,
    image_hdus,
    is_science,
    nothing_to_do,
    read_input,
    resolve_hdu,
    rewrite_file,
    science_header,
)

__all__ = ["FlagError", "cosmicray_file", "flag_file", "header_number", "track_file"]


class FlagError(Exception):
    """A file could not be flagged; the message says why.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from astromask.files import FlagError, flag_file
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     try:
    ...         flag_file(Path(folder) / "missing.fits")
    ...     except FlagError as err:
    ...         print("no such file" in str(err))
    True
    """


def _section_cards(header):
    """The header's data-section keywords (`astromask.io.detection_region` reads them)."""
    if header is None:
        return {}
    return {key: header[key] for key in ("TRIMSEC", "DATASEC", "BIASSEC") if key in header}


def _flag_hdu(data, classes_index, opts, header=None):
    """The output array and header cards of one image HDU.

    ``header`` (the HDU's) goes along so that the data section of a raw
    frame is what gets flagged (`astromask.io.detection_region`).
    """
    array = np.asarray(data)
    data = NDData(array, meta=_section_cards(header))
    region = core.resolve_region(data, array, "auto", opts.tiling)
    options = {
        "batch_size": opts.batch_size,
        "device": opts.device,
        "progress": opts.progress,
        "precision": opts.precision,
        "tiling": opts.tiling,
    }
    names = [class_table.CLASS_NAMES[k] for k in classes_index]
    cards = core.provenance_cards(
        classes_index,
        opts.priors,
        opts.thresholds,
        precision=opts.precision,
        tiling=opts.tiling,
        shape=(region[0].stop - region[0].start, region[1].stop - region[1].start),
        region=region,
    )
    if opts.single_mask:
        out = core.flag(
            data, classes=names, priors=opts.priors, thresholds=opts.thresholds, **options
        )
        return out.flags, [*cards, ("AMOUTPUT", "flags", "bit-coded flags, see AMB_* cards")]
    probs = core.probabilities(data, priors=opts.priors, **options)[classes_index]
    if opts.probabilities:
        result, kind = probs.astype(np.float32), "probabilities"
    else:
        thresholds = core.resolve_thresholds(opts.thresholds)[classes_index]
        result, kind = inference.threshold(probs, thresholds).astype(np.uint8), "thresholded"
    if result.ndim == 4:  # cube: (class, plane, y, x) -> (plane, class, y, x)
        result = np.moveaxis(result, 0, 1)
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
    single_mask=None,
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
    (cubes plane by plane) becomes its flags, one ``uint16`` bit-coded map
    like `astromask.flag`'s ``flags`` (or one plane per class), with the
    input HDU's header (WCS, OBJECT, DATE-OBS...; with ``hdu``, the primary
    header's cards too), cards naming each bit (``AMB_CR = 1``...) and cards
    telling how the flags were made; tables, 8-bit images (bad-pixel masks)
    and other HDUs are copied.  The input is never modified, and the output appears
    atomically: it is written to a hidden temporary beside it
    (``.NAME.RANDOM.astromask-HOST-PID.part``, removed if anything goes wrong, even
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
        One ``uint16`` bit-coded map per image (`astromask.flag`'s
        ``flags``; the default), or with `False` one ``uint8`` plane per
        class (``--planes``).
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
    Flag a small simulated frame, keeping two classes, one plane each; the
    output is written beside the input as ``frame.mask.fits``:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from astropy.io import fits
    >>> from astromask.files import flag_file
    >>> from astromask.simulate import simulated_frame
    >>> ccd, _ = simulated_frame((64, 64), seed=1)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "frame.fits"
    ...     fits.PrimaryHDU(ccd.data).writeto(path)
    ...     out = flag_file(path, classes=["CR", "SAT"], single_mask=False)  # doctest: +REMOTE_DATA
    ...     with fits.open(out) as hdul:  # doctest: +REMOTE_DATA
    ...         print(out.name, hdul[0].data.shape, hdul[0].data.dtype, hdul[0].header["AMCLS0"])
    frame.mask.fits (2, 64, 64) uint8 CR
    """
    if single_mask and probabilities:
        msg = "single_mask and probabilities exclude each other"
        raise ValueError(msg)
    if single_mask is None:
        single_mask = not probabilities
    classes_index = class_table.class_index(classes)
    path = Path(path)
    try:
        check_input(path)
    except Failure as err:
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
        hdu = hdul[index]
        try:
            result, cards = _flag_hdu(hdu.data, classes_index, opts, hdu.header)
        except (ValueError, TypeError) as err:
            raise Failure(f"HDU {index}: {err}") from err
        first = len(output_hdul) == 0
        # Alone in its output, an extension takes the primary header's cards too.
        primary = hdul[0].header if first and index else None
        header = science_header(hdu.header, primary)
        if hdu.name and hdu.name != "PRIMARY":
            header["EXTNAME"] = (hdu.name, "name of the input HDU")
        if hdu.ver and hdu.ver != 1:
            header["EXTVER"] = hdu.ver
        for key, value, comment in cards:
            header[key] = (value, comment)
        if compress and result.dtype.kind in "iu":
            if first:
                output_hdul.append(fits.PrimaryHDU())
            output_hdul.append(fits.CompImageHDU(result, header=header))
        elif first:
            output_hdul.append(fits.PrimaryHDU(result, header=header))
        else:
            output_hdul.append(fits.ImageHDU(result, header=header))

    try:
        return rewrite_file(
            path,
            hdu,
            opts,
            select=lambda hdu: True,
            what="2-D or 3-D image HDU to flag",
            process=process,
        )
    except Failure as err:
        raise FlagError(str(err)) from err


def header_number(value, header, name):
    """A number given on the command line, or read from a header keyword."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    if value not in header:
        raise Failure(f"--{name} {value}: no such keyword in the header")
    try:
        return float(header[value])
    except (TypeError, ValueError):
        msg = f"--{name} {value}: keyword value {header[value]!r} is not a number"
        raise Failure(msg) from None


def cosmicray_file(
    path,
    hdu=None,
    *,
    output=None,
    output_dir=None,
    suffix=".clean",
    overwrite=False,
    detector="astromask/ground",
    threshold=None,
    inpaint="deepcr/ACS-WFC-F606W-2-32",
    dilate=0,
    gain=None,
    satlevel=None,
    batch_size=None,
    device=None,
    progress=False,
    precision=None,
    skipped=None,
):
    """Write a cleaned copy of one FITS file, as ``astromask cosmicray`` does.

    Every 2-D image HDU (or HDU ``hdu`` alone) is cleaned in its own unit
    (`astromask.cosmicray_deepcr`, or `astromask.cosmicray_maximask` for
    ``detector="maximask"``) and followed by a ``CRMASK`` extension (uint8,
    1 on cosmic rays); other HDUs are copied, among them the image HDUs that
    hold no exposure (variance, errors, quality, masks, fitted sky: see
    `astromask.io.NON_SCIENCE_EXTNAMES`), whose EXTNAMEs are appended to
    ``skipped`` (a list) if given.  An HDU named by ``hdu`` is cleaned
    whatever it holds.  ``gain`` and ``satlevel`` are numbers or header
    keywords (default: ``GAIN``, else 1, and ``SATURATE`` if present);
    ``inpaint="none"`` flags without cleaning.  The output is named and
    written as by `flag_file`.

    Returns
    -------
    output : `pathlib.Path`

    Raises
    ------
    `astromask.io.Failure`
        The file cannot be processed; the message says why.
    """
    args = SimpleNamespace(output=output, output_dir=output_dir, suffix=suffix, overwrite=overwrite)

    def select(candidate):
        # Variance, error, quality and fitted-sky planes are copied, not cleaned,
        # unless asked for by name or number (FILE[N]).
        if candidate.data.ndim != 2:
            return False
        if hdu is None and not is_science(candidate):
            if skipped is not None:
                skipped.append(candidate.name)
            return False
        return True

    def process(hdul, index, output):
        image = hdul[index]
        header = image.header.copy()
        # Either file's primary header joins the extension's (MEF keywords).
        lookup = fits.Header(hdul[0].header) if index else fits.Header()
        lookup.update(header)
        gain_value = header_number(gain, lookup, "gain")
        if gain_value is None:
            gain_value = float(lookup.get("GAIN", 1.0))
        saturation = header_number(satlevel, lookup, "satlevel")
        if saturation is None and "SATURATE" in lookup:
            saturation = header_number("SATURATE", lookup, "satlevel")
        # The header goes along: its TRIMSEC/DATASEC/BIASSEC keep overscan and
        # unexposed rows out of the detection.
        ccd = CCDData(np.asarray(image.data), unit="adu", meta=_section_cards(lookup))
        options = {
            "gain": gain_value,
            "satlevel": None if saturation is None else saturation * gain_value,
            "gain_apply": False,
            "inpaint": None if inpaint == "none" else inpaint,
            "dilate": dilate,
            "batch_size": batch_size,
            "device": device,
            "progress": progress,
            "precision": precision,
        }
        if threshold is not None:
            options["threshold"] = threshold
        try:
            if detector == "maximask":
                result = cosmicray_maximask(ccd, **options)
            else:
                result = cosmicray_deepcr(ccd, model=detector, **options)
        except (ValueError, TypeError) as err:
            raise Failure(f"HDU {index}: {err}") from err
        for key in ("AMCRMOD", "AMCRTHR", "AMCRNPIX"):
            header[key] = (result.meta[key], "astromask cosmic rays")
        header["AMVERS"] = (__version__, "astromask version")
        for key in ("BZERO", "BSCALE", "BLANK"):  # data are written as floats
            header.remove(key, ignore_missing=True)
        if len(output) == 0:
            output.append(fits.PrimaryHDU(result.data, header=header))
        else:
            output.append(fits.ImageHDU(result.data, header=header, name=image.name))
        # The mask overlays its image: same WCS and observation cards.
        mask_header = science_header(image.header)
        mask_header["AMSRCHDU"] = (index, "HDU whose cosmic rays this marks")
        output.append(
            fits.ImageHDU(
                result.mask.astype(np.uint8), header=mask_header, name="CRMASK", ver=index
            )
        )

    return rewrite_file(
        path,
        hdu,
        args,
        select=select,
        what="2-D science image HDU to clean",
        process=process,
    )


def track_file(path, hdu=None, *, prior=0.05, batch_size=None, device=None, skipped=None):
    """MaxiTrack scores of one FITS file, as ``astromask track`` lists them.

    Returns rows ``(file, hdu, plane, score)``: one per 2-D image HDU (plane
    -1) or plane of a cube, and for a file of several 2-D HDUs one more with
    hdu ``"all"``, their mean.  HDUs too small for MaxiTrack are skipped,
    and ``(index, why)`` appended to ``skipped`` (a list) if given.  Raises
    `astromask.io.Failure` when nothing in the file can be scored.
    """
    file_rows, passed = [], []
    with read_input(path) as hdul:
        hdu_index = resolve_hdu(hdul, hdu)
        try:
            indices = image_hdus(hdul, hdu_index)
        except READ_ERRORS as err:
            raise Failure(f"cannot read its data: {err}") from err
        if not indices:
            raise nothing_to_do("2-D or 3-D image HDU to score", hdul, hdu_index)
        for index in indices:
            data = hdul[index].data
            planes = [data] if data.ndim == 2 else list(data)
            for plane_number, plane in enumerate(planes):
                try:
                    # The header goes along: the raw frame's data section is scored.
                    score = tracking_score(
                        NDData(plane, meta=_section_cards(hdul[index].header)),
                        prior=prior,
                        batch_size=batch_size,
                        device=device,
                    )
                except ValueError as err:  # too small: so are the other planes
                    passed.append((index, str(err)))
                    break
                plane_label = plane_number if data.ndim == 3 else -1
                file_rows.append((str(path), str(index), plane_label, score))
    if not file_rows:
        reasons = ", ".join(f"HDU {index}: {why}" for index, why in passed)
        raise Failure(f"no image HDU that MaxiTrack can score ({reasons})")
    if skipped is not None:
        skipped.extend(passed)
    file_scores = [score for _, _, plane, score in file_rows if plane == -1]
    if len(file_scores) > 1:
        file_rows.append((str(path), "all", -1, float(np.mean(file_scores))))
    return file_rows
