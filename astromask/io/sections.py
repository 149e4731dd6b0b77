"""Where a frame holds exposed data: the header's data section and unexposed borders.

Raw frames carry overscan and unexposed pixels beside the data.  The
networks see the edge between them and the sky as a sharp feature, and
MaxiMask's normalisation counts them as sky.  `detection_region` gives the
part of a frame to process: the data section the header names (``TRIMSEC``,
else ``DATASEC``) when it lies inside the array, shrunk past unexposed rows
and columns at its borders (`exposed`).  numpy only; the sections are FITS
strings ``[x0:x1,y0:y1]``, 1-based and inclusive.
"""

import re

import numpy as np

__all__ = ["SECTION_KEYS", "detection_region", "exposed", "parse_section"]

SECTION_KEYS = ("TRIMSEC", "DATASEC")
"""tuple of str: header keywords of the data section, in order of preference."""

_SECTION = re.compile(r"^\s*\[\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*:\s*(\d+)\s*\]\s*$")

_BLANK_SIGMA = 10.0
"""A border line is unexposed when its median lies this many noise sigma below
the sky (without BIASSEC); with BIASSEC, when it lies nearer the bias."""


def parse_section(text, name="section"):
    """A FITS section ``[x0:x1,y0:y1]`` (1-based, inclusive) as numpy slices ``(rows, columns)``.

    Examples
    --------
    >>> from astromask.io.sections import parse_section
    >>> parse_section("[17:528,1:520]")
    (slice(0, 520, None), slice(16, 528, None))
    >>> parse_section("[5:2,1:3]")
    Traceback (most recent call last):
    ...
    ValueError: section: '[5:2,1:3]' is not a FITS section such as '[1:512,1:512]' ...
    """
    match = _SECTION.match(str(text))
    if match:
        x0, x1, y0, y1 = (int(v) for v in match.groups())
        if 1 <= x0 <= x1 and 1 <= y0 <= y1:
            return slice(y0 - 1, y1), slice(x0 - 1, x1)
    msg = (
        f"{name}: {text!r} is not a FITS section such as '[1:512,1:512]' "
        "(1-based, inclusive, x first; flipped sections are not read)"
    )
    raise ValueError(msg)


def _inside(region, shape):
    return all(r.stop <= n and r.stop - r.start >= 2 for r, n in zip(region, shape))


def exposed(data, region, bias=None):
    """Shrink ``region`` past the unexposed rows and columns at its borders.

    A border row (column) is unexposed when its median is nearer the bias
    level ``bias`` than the region's median level, or, without ``bias``,
    when it lies more than 10 noise sigma below that level (the noise is
    the median absolute deviation of the region, scaled to sigma), or
    when it is constant.  At most a tenth of each side is dropped, and only
    lines touching the border: the 8 rows of the SAAO frame in
    ``../shared/realdata`` that its TRIMSEC keeps but the shutter never lit.

    Parameters
    ----------
    data : `numpy.ndarray`
        The frame (any unit with the bias level in it, or bias-subtracted).
    region : tuple of slice
        ``(rows, columns)`` to shrink.
    bias : float, optional
        The bias level, in the unit of ``data`` (from the header's BIASSEC).

    Returns
    -------
    region : tuple of slice

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.io.sections import exposed
    >>> rng = np.random.default_rng(0)
    >>> frame = rng.normal(300.0, 8.0, (100, 80))
    >>> frame[-6:] = rng.normal(210.0, 3.0, (6, 80))  # unexposed rows at the bias level
    >>> exposed(frame, (slice(0, 100), slice(0, 80)))
    (slice(0, 94, None), slice(0, 80, None))
    """
    box = data[region]
    sample = np.asarray(box[::4, ::4], dtype=np.float64)  # the level and noise
    values = sample[np.isfinite(sample)]
    if values.size < 16:
        return region
    level = float(np.median(values))
    if bias is not None and np.isfinite(bias) and bias < level:
        cut = (level + bias) / 2
    else:
        noise = 1.4826 * float(np.median(np.abs(values - level)))
        cut = level - _BLANK_SIGMA * noise if noise > 0 else -np.inf

    def blank(line):
        line = np.asarray(line, dtype=np.float64)
        line = line[np.isfinite(line)]
        return line.size == 0 or np.median(line) < cut or line.min() == line.max()

    # Scanned inward from each edge, line by line: a frame without blank
    # borders costs four lines.
    bounds = []
    for axis, r in enumerate(region):
        n = box.shape[axis]
        limit = max(1, n // 10)
        take = (lambda k: box[k]) if axis == 0 else (lambda k: box[:, k])
        lo = 0
        while lo < limit and blank(take(lo)):
            lo += 1
        hi = n
        while n - hi < limit and blank(take(hi - 1)):
            hi -= 1
        bounds.append(slice(r.start + lo, r.start + hi))
    return tuple(bounds)


def detection_region(header, shape, data=None, *, section="header"):
    """The part of a frame to process, as numpy slices ``(rows, columns)``.

    With ``section="header"`` the header's ``TRIMSEC`` (else ``DATASEC``)
    gives the data section when it lies inside the array and is smaller
    than it (a frame already trimmed keeps its keywords but not their
    pixels); with ``data``, unexposed rows and columns at the borders are
    left out too (`exposed`, with the bias level of the header's
    ``BIASSEC`` where it has one).  ``section`` may also be a FITS section
    string, ``"[x0:x1,y0:y1]"`` (1-based, inclusive), used as it is, or
    `None` for the whole frame.

    Parameters
    ----------
    header : dict-like or None
        The frame's header (``ccd.meta``).
    shape : tuple of int
        The frame's shape.
    data : `numpy.ndarray`, optional
        The frame, to find unexposed borders (skipped without it).
    section : "header", str or None
        See above.

    Returns
    -------
    region : tuple of slice

    Examples
    --------
    >>> from astromask.io.sections import detection_region
    >>> detection_region({"DATASEC": "[1:512,1:500]"}, (510, 540))
    (slice(0, 500, None), slice(0, 512, None))
    >>> detection_region({"DATASEC": "[1:512,1:500]"}, (500, 512))  # trimmed already
    (slice(0, 500, None), slice(0, 512, None))
    >>> detection_region({}, (8, 8), section="[2:7,1:8]")
    (slice(0, 8, None), slice(1, 7, None))
    """
    whole = (slice(0, shape[0]), slice(0, shape[1]))
    if section is None:
        return whole
    if isinstance(section, str) and section != "header":
        region = parse_section(section)
        if not _inside(region, shape):
            msg = f"section: {section!r} does not lie inside the frame of shape {shape}"
            raise ValueError(msg)
        return region
    if section != "header":
        msg = f"section: expected 'header', None or a FITS section string, got {section!r}"
        raise ValueError(msg)
    header = header or {}
    region = whole
    for key in SECTION_KEYS:
        try:
            found = parse_section(header[key], key) if key in header else None
        except ValueError:
            found = None  # an unreadable keyword is not the user's argument
        if found is not None and _inside(found, shape) and found != whole:
            region = found
            break
    if data is None:
        return region
    bias = None
    if region != whole and "BIASSEC" in header:
        try:
            bias_region = parse_section(header["BIASSEC"], "BIASSEC")
        except ValueError:
            bias_region = None
        if bias_region is not None and _inside(bias_region, shape):
            with np.errstate(all="ignore"):
                bias = float(np.nanmedian(np.asarray(data[bias_region], dtype=np.float64)))
    return exposed(data, region, bias)
