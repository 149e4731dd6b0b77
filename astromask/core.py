"""The CCDData layer: `flag`, `probabilities`, `inpaint`, `track` and `tracking_score`.

This is the only module of the MaxiMask path that knows astropy.  It unpacks
the input, calls `astromask.inference` with plain arrays, and packs the result
into a new `~astropy.nddata.CCDData`.  The input is never modified.
"""

import copy
import numbers

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData

from astromask import classes as class_table
from astromask import inference, inpainting, preprocess, zoo
from astromask._validate import (
    as_float32,
    as_image,
    as_mask,
    check_device,
    number,
    per_class_values,
    probability,
)
from astromask._version import __version__
from astromask.cosmicrays import cosmic_ray_probabilities
from astromask.io.sections import detection_region
from astromask.presets import MODELS, cosmic_ray_models
from astromask.priors import apply_priors, bayes_update, prior_factor
from astromask.tiling import AutoTiling, resolve_tiling

__all__ = [
    "DEFAULT_UNIT",
    "TRACK_KEY",
    "copy_ccddata",
    "flag",
    "inpaint",
    "probabilities",
    "track",
    "tracking_score",
]

TRACK_KEY = "AMTRACK"
"""FITS keyword under which `track` records the tracking-error probability."""

DEFAULT_UNIT = u.adu
"""Unit given to plain arrays (and to NDData without a unit) by `flag`."""


def _has_base(unit, base):
    """Whether ``unit`` is ``base`` to the first power times other bases."""
    unit = unit.decompose()
    return base in unit.bases and unit.powers[unit.bases.index(base)] == 1


def gain_factor(unit, gain):
    """Factor from the data's unit to electrons, and the unit after applying it.

    Shared by `probabilities` and the drop-ins of `astromask.ccdproc_compat`.

    Parameters
    ----------
    unit : `~astropy.units.Unit` or None
        The data's unit; `None` for plain arrays (counts, as ADU).
    gain : float or `~astropy.units.Quantity`
        Electrons per data unit (a float means electron / adu).

    Returns
    -------
    factor : float
        Multiply the data by this to get electrons.
    unit : `~astropy.units.Unit` or None
        The unit of the data times ``factor``.

    Raises
    ------
    TypeError
        If ``gain`` is neither a real number nor a Quantity.
    ValueError
        If ``gain`` is not positive and finite or does not turn ``unit`` into
        electrons (data already in electrons take ``gain=1``).

    Examples
    --------
    >>> from astropy import units as u
    >>> from astromask.core import gain_factor
    >>> gain_factor(u.adu, 1.5)
    (1.5, Unit("electron"))
    >>> gain_factor(None, 2.0)
    (2.0, None)
    """
    if isinstance(gain, (bool, np.bool_)) or not isinstance(gain, (numbers.Real, u.Quantity)):
        msg = f"gain: expected a positive number (electron / adu), got {gain!r}"
        raise TypeError(msg)
    if not isinstance(gain, u.Quantity):
        gain = float(gain) * u.electron / u.adu
    if not np.isscalar(gain.value) or not np.isfinite(gain.value) or gain.value <= 0:
        msg = f"gain: expected a positive number (electron / adu), got {gain}"
        raise ValueError(msg)
    if unit is None:
        return float(gain.value), None
    if unit == u.dimensionless_unscaled and gain.unit == u.electron / u.adu:
        # Data without a physical unit are counts, as a plain array's are.
        gain = gain.value * u.electron
    if _has_base(unit, u.electron):
        if gain.value != 1:
            msg = (
                f"gain: the data are already in {unit}, so a gain of {gain} would "
                "convert them to electrons twice; pass gain=1"
            )
            raise ValueError(msg)
        return 1.0, unit
    applied = unit * gain.unit
    if not _has_base(applied, u.electron) or u.adu in applied.decompose().bases:
        msg = (
            f"gain: {gain} does not turn data in {unit} into electrons; give the "
            f"gain as a Quantity in electron / ({unit})"
        )
        raise ValueError(msg)
    return float(gain.value), applied


def _unpack(data, name="data", *, ndims=(2, 3)):
    """Return (array, mask) from a CCDData, NDData-like, masked or plain array.

    ``name`` is the caller's argument, for error messages.  A Quantity gives
    its value.
    """
    if isinstance(data, np.ma.MaskedArray):
        array = as_image(data, name=name, ndims=ndims)
        return array, as_mask(np.ma.getmask(data), array.shape, name=f"{name}.mask")
    if hasattr(data, "data") and not isinstance(data, np.ndarray):
        array = as_image(data.data, name=name, ndims=ndims)
        return array, as_mask(getattr(data, "mask", None), array.shape, name=f"{name}.mask")
    array = as_image(data, name=name, ndims=ndims)
    return array, None


_OV = int(class_table.class_index(["OV"])[0])


def _check_call(batch_size, device):
    """The arguments every network call shares, checked before any work."""
    inference.check_batch_size(batch_size, None)
    check_device(device)


def _is_parity(tiling):
    return isinstance(tiling, str) and tiling == "maximask"


def resolve_background(background, tiling=None):
    """The background estimate of `astromask.preprocess.normalize` for a call.

    `None` gives upstream's (``"maximask"``) in the parity mode
    (``tiling="maximask"``) and astromask's (``"astromask"``) otherwise.

    Examples
    --------
    >>> from astromask.core import resolve_background
    >>> resolve_background(None), resolve_background(None, "maximask")
    ('astromask', 'maximask')
    """
    if background is None:
        return "maximask" if _is_parity(tiling) else "astromask"
    return preprocess.check_background(background)


def resolve_region(data, array, section, tiling=None):
    """The ``(rows, columns)`` slices of a frame that `flag`, `probabilities` and `track` process.

    ``section="auto"`` is ``"header"`` (`astromask.io.detection_region`:
    the header's TRIMSEC/DATASEC, minus unexposed borders) except in the
    parity mode (``tiling="maximask"``), where it is the whole frame, as
    upstream.  ``array`` is the data (2-D, or a cube whose first plane
    serves).
    """
    if isinstance(section, str) and section == "auto":
        section = None if _is_parity(tiling) else "header"
    plane = array if array.ndim == 2 else array[0]
    meta = getattr(data, "meta", None)
    return detection_region(meta, plane.shape, plane, section=section)


def _in_region(array, mask, region):
    """The region of an image or cube (and of its mask)."""
    cut = (..., *region)
    return array[cut], None if mask is None else mask[cut]


def resolve_priors(priors):
    """Priors as `flag` takes them -> float32 array of 14, or `None`.

    ``None`` stays `None` (no prior correction), ``"default"`` gives upstream's
    priors, a dict updates the defaults, a sequence gives all 14.
    """
    if priors is None:
        return None
    if isinstance(priors, str):
        if priors != "default":
            msg = f"priors: expected 'default', None, a dict or 14 values, got {priors!r}"
            raise ValueError(msg)
        return class_table.default_priors()
    return per_class_values(
        priors, class_table.default_priors(), class_table.CLASS_NAMES, name="priors", low=0, high=1
    )


def resolve_thresholds(thresholds):
    """Thresholds as `flag` takes them -> float32 array of 14."""
    if thresholds is None or (isinstance(thresholds, str) and thresholds != "default"):
        msg = (
            f"thresholds: expected 'default', a dict or 14 values, got {thresholds!r}; "
            "use astromask.probabilities for unthresholded maps"
        )
        raise ValueError(msg)
    if isinstance(thresholds, str):
        return class_table.default_thresholds()
    return per_class_values(
        thresholds,
        class_table.default_thresholds(),
        class_table.CLASS_NAMES,
        name="thresholds",
        low=0,
        high=1,
        closed=True,
    )


def _predict(
    array,
    mask,
    *,
    model,
    tiling,
    batch_size,
    device,
    progress,
    reduce=None,
    precision=None,
    background="maximask",
):
    """Raw network probabilities, class axis first, plane by plane for cubes.

    With ``reduce`` (see `astromask.inference.predict_image`), its per-pixel
    result instead, ``(ny, nx)`` or ``(n_planes, ny, nx)``.
    """
    planes = array[None] if array.ndim == 2 else array
    plane_masks = [None] * len(planes) if mask is None else (mask[None] if mask.ndim == 2 else mask)
    results = [
        inference.predict_image(
            preprocess.normalize(plane, plane_mask, background=background),
            model=model,
            tiling=tiling,
            batch_size=batch_size,
            device=device,
            progress=progress,
            reduce=reduce,
            precision=precision,
        )
        for plane, plane_mask in zip(planes, plane_masks)
    ]
    if array.ndim == 2:
        return results[0]
    return np.stack(results, axis=0 if reduce is not None else 1)


def _planes(array, mask):
    """(plane, plane mask) pairs of a 2-D image or a 3-D cube."""
    planes = array[None] if array.ndim == 2 else array
    if mask is None:
        return [(plane, None) for plane in planes]
    return list(zip(planes, mask[None] if mask.ndim == 2 else mask))


def probabilities(
    data,
    *,
    model="maximask",
    priors=None,
    gain=1.0,
    background=None,
    section="auto",
    tiling=None,
    batch_size=None,
    device=None,
    progress=None,
    precision=None,
):
    """Per-pixel probabilities from the MaxiMask or a cosmic-ray network.

    Parameters
    ----------
    data : `~astropy.nddata.CCDData`, NDData-like, masked array or array-like
        2-D image, or 3-D cube processed plane by plane (planes first).  Any
        real dtype and byte order (integer, unsigned, float16 and big-endian
        data are read as float32; values beyond its range count as
        infinite); a Quantity gives its value.  Bool and complex arrays are
        refused with a `TypeError`.  NaN and infinities are allowed: masked
        and non-finite pixels take no part in the normalisation, and the
        MaxiMask network sees them as upstream fills them (NaN as 0,
        infinities clipped), the cosmic-ray networks as the median of their
        neighbours (a frame without any finite pixel as zeros).  For the
        cosmic-ray networks the data are converted by their unit and
        ``gain`` as `astromask.cosmicray_deepcr` does: to electrons, or to
        ADU for the networks trained on ADU (``"deepcr/decam"`` and the
        ``"decam-attention/..."`` networks).
    model : str, optional
        ``"maximask"`` (default): the 14 contaminant classes.
        ``"astromask/ground"``: astromask's combined cosmic-ray detector, the
        default of `astromask.cosmicray_deepcr`.  A deepCR mask
        network, ``"deepcr/ACS-WFC"``, ``"deepcr/ACS-WFC-F606W-2-4"``,
        ``"deepcr/decam"`` or ``"deepcr/WFC3-UVIS"``, or a Cosmic-CoNN
        network, ``"cosmic-conn/ground_imaging"``, ``"cosmic-conn/NRES"`` or
        ``"cosmic-conn/HST_ACS_WFC"``: the cosmic-ray probability, computed
        as deepCR 0.3.1 or cosmic-conn 0.6.1 does (bad pixels are first
        filled with the median of their neighbours; see
        `astromask.cosmicrays.cosmic_conn_probabilities` for how the
        Cosmic-CoNN tiling differs from upstream's).  The DECam networks
        ``"decam-attention/..."`` (`astromask.presets.cosmic_ray_models`), or
        the path of a ``.keras`` model written by `astromask.train`.
    priors : None, "default", dict or sequence of 14 floats, optional
        MaxiMask only.  Observing priors for the prior correction of
        Paillassa et al. (2020, sect. 5).  `None` (default) returns the
        network's raw output; ``"default"`` uses upstream's default priors; a
        dict such as ``{"CR": 0.01}`` changes some classes from the defaults.
    gain : float or `~astropy.units.Quantity`, optional
        Cosmic-ray networks only: electrons per data unit (a float means
        electron / adu; default 1, as `ccdproc.cosmicray_lacosmic`).  Data
        whose unit is already electrons take ``gain=1``; plain arrays count
        as ADU.  MaxiMask normalises each frame and takes no gain.
    background : {None, "astromask", "maximask"}, optional
        MaxiMask only: the background and noise estimate that normalises the
        frame (`astromask.preprocess.normalize`).  `None` (default):
        upstream's (``"maximask"``) in the parity mode, ``tiling="maximask"``,
        and astromask's otherwise, whose maps do not dip at the frame's
        corners and which leaves constant rows and columns out.
    section : "auto", "header", str or None, optional
        MaxiMask only: the part of the frame to process
        (`astromask.io.detection_region`).  ``"auto"`` (default)
        is ``"header"`` (the header's TRIMSEC or DATASEC when the frame is
        raw, minus unexposed rows and columns at its borders) except in
        the parity mode, where it is `None` (the whole frame, as upstream);
        or a FITS section ``"[x0:x1,y0:y1]"``.  Pixels outside get
        probability 1 for the overscan class OV and 0 for the others.
    tiling : str, `~astromask.tiling.Tiling`, `~astromask.tiling.AutoTiling` or tuple
        Tile geometry.  For MaxiMask, ``"auto"`` (the default) cuts the
        frame into the fewest tiles of at most 1152 pixels, computing each
        pixel about once, and ``"maximask"`` reproduces upstream's 400-pixel
        tiles every 200 pixels (four times the work; results differ from
        ``"auto"`` by less than upstream's move on a shifted frame, see
        :doc:`/performance`).  ``"deepcr"`` (the deepCR default) and
        ``"cosmic-conn"`` (the Cosmic-CoNN default) overlap tiles by more
        than the networks' receptive field, so there are no seams.
    batch_size : int, optional
        Tiles per network call (for MaxiMask, default about 1.3 megapixels'
        worth: 8 upstream tiles or one large ``"auto"`` tile; 4 for deepCR, 1 for
        Cosmic-CoNN); lower it to bound memory.
    device : str, optional
        Keras device, for example ``"cpu"`` or ``"gpu:0"``.
    progress : bool, optional
        Progress bar over tiles; `None` shows one on a terminal only.
    precision : {"float32", "bfloat16", "float16"}, optional
        Compute precision of the network (default float32).  The 16-bit
        precisions keep float32 weights and return float32 results; whether
        they are faster depends on the hardware and backend.  See
        :doc:`/performance` for their speed and deviation.

    Returns
    -------
    probabilities : `numpy.ndarray`
        MaxiMask: float32 array of shape ``(14, *data.shape)``; channel ``k``
        is class ``astromask.classes.CLASSES[k]``.  Cosmic-ray networks:
        float32 array of ``data.shape``.

    Examples
    --------
    >>> import astromask
    >>> from astromask.simulate import simulated_frame
    >>> ccd, truth = simulated_frame((128, 128), seed=1)
    >>> p = astromask.probabilities(ccd, model="deepcr/ACS-WFC")  # doctest: +REMOTE_DATA
    >>> p.shape, p.dtype  # doctest: +REMOTE_DATA
    ((128, 128), dtype('float32'))
    """
    _check_call(batch_size, device)
    array, mask = _unpack(data, "data")
    if zoo.is_trained_model(model) or model in cosmic_ray_models():
        if priors is not None:
            msg = (
                "priors: only the MaxiMask classes take priors; leave priors=None for "
                "a cosmic-ray network"
            )
            raise ValueError(msg)
        unit = getattr(data, "unit", None)
        factor, _ = gain_factor(None if unit is None else u.Unit(unit), gain)
        if zoo.cosmic_ray_spec(model).unit != "adu":
            array = as_float32(array) * np.float32(factor)
        results = [
            cosmic_ray_probabilities(
                as_float32(plane),
                plane_mask,
                model=model,
                tiling=tiling,
                batch_size=batch_size,
                device=device,
                progress=progress,
                precision=precision,
            )
            for plane, plane_mask in _planes(array, mask)
        ]
        return results[0] if array.ndim == 2 else np.stack(results)
    if model != "maximask":
        inpainter = model in MODELS and MODELS[model].task == "inpaint"
        kind = "an inpainting network (see astromask.inpaint), not" if inpainter else "not"
        msg = (
            f"model: {model!r} is {kind} a model of probabilities; use 'maximask' or one "
            "of the cosmic-ray networks " + ", ".join(cosmic_ray_models())
        )
        raise ValueError(msg)
    if not (isinstance(gain, (int, float)) and not isinstance(gain, bool) and gain == 1):
        msg = f"gain: MaxiMask normalises each frame and takes no gain; got {gain!r}, leave it at 1"
        raise ValueError(msg)
    prior_values = resolve_priors(priors)
    background = resolve_background(background, tiling)
    region = resolve_region(data, array, section, tiling)
    inside, inside_mask = _in_region(array, mask, region)
    result = _predict(
        inside,
        inside_mask,
        model=model,
        tiling=tiling,
        batch_size=batch_size,
        device=device,
        progress=progress,
        precision=precision,
        background=background,
    )
    if inside.shape != array.shape:
        # Outside the data section: overscan (OV), nothing else.
        full = np.zeros((result.shape[0], *array.shape), np.float32)
        full[_OV] = 1
        full[(slice(None), ..., *region)] = result
        result = full
    if prior_values is not None:
        result = apply_priors(result, prior_values)
    return result


def inpaint(
    ccd,
    mask=None,
    *,
    method="deepcr/ACS-WFC-F606W-2-32",
    sigma=1.0,
    tiling=None,
    batch_size=None,
    device=None,
    progress=None,
):
    """Replace masked pixels with estimates from their surroundings.

    Parameters
    ----------
    ccd : `~astropy.nddata.CCDData`, NDData-like, masked array or array-like
        2-D image or 3-D cube (plane by plane), of any real dtype (bool and
        complex are refused).  Not modified; a plain array is wrapped with
        unit `DEFAULT_UNIT`, a Quantity keeps its unit.  Non-finite pixels
        are never used as sources.
    mask : array-like of bool, optional
        Pixels to replace.  Default: the CCD's own mask.  When both are
        given, only ``mask`` is replaced and the CCD's mask still keeps its
        pixels out of the estimates.
    method : str, optional
        ``"deepcr/ACS-WFC-F606W-2-32"`` (default) or
        ``"deepcr/ACS-WFC-F606W-3-32"``: deepCR's inpainting networks
        (trained on HST ACS/WFC F606W frames in electrons); ``"medmask"``:
        median of the good pixels in the 5x5 box, as L.A. Cosmic cleans;
        ``"gaussian"``: Gaussian-weighted mean of the good pixels
        (`astropy.convolution.interpolate_replace_nans`).  See
        `astromask.inpainting`.
    sigma : float, optional
        Kernel standard deviation in pixels for ``"gaussian"``.
    tiling, batch_size, device, progress
        For the deepCR networks, as in `probabilities`.

    Returns
    -------
    result : `~astropy.nddata.CCDData`
        A copy whose data hold the estimates at the replaced pixels and the
        input values, bit for bit, everywhere else (integer data become
        floating point, float16 float32).  Its ``mask`` is the input mask OR
        ``mask``: the replaced values are estimates, and stay marked.  A
        plane without any usable pixel (all NaN or masked) gets NaN at the
        replaced pixels.

    Examples
    --------
    >>> import numpy as np
    >>> import astromask
    >>> from astropy.nddata import CCDData
    >>> ccd = CCDData(np.full((32, 32), 100.0), unit="electron")
    >>> ccd.data[10, 10] = 5000.0
    >>> hit = np.zeros((32, 32), dtype=bool)
    >>> hit[10, 10] = True
    >>> clean = astromask.inpaint(ccd, hit, method="medmask")
    >>> float(clean.data[10, 10]), bool(clean.mask[10, 10])
    (100.0, True)
    """
    _check_call(batch_size, device)
    inpainting.check_method(method)
    sigma = number(sigma, "sigma", minimum=0, strict=True)
    result = _as_ccddata(ccd, "ccd")
    array, own_mask = _unpack(result, "ccd")
    if mask is None:
        if own_mask is None:
            msg = "mask: the CCD has no mask; pass the pixels to replace as mask="
            raise ValueError(msg)
        fill, bad = own_mask, None
    else:
        fill, bad = as_mask(mask, array.shape), own_mask
    planes = []
    for (plane, plane_fill), (_, plane_bad) in zip(_planes(array, fill), _planes(array, bad)):
        planes.append(
            inpainting.inpaint_array(
                plane,
                plane_fill,
                bad=plane_bad,
                method=method,
                sigma=sigma,
                tiling="deepcr" if tiling is None else tiling,
                batch_size=batch_size,
                device=device,
                progress=progress,
            )
        )
    result.data = planes[0] if array.ndim == 2 else np.stack(planes)
    result.mask = fill if own_mask is None else (own_mask | fill)
    return result


def copy_ccddata(ccd):
    """``ccd.copy()``, with its own ``flags`` (`CCDData.copy` shares them with the original).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData
    >>> from astromask.core import copy_ccddata
    >>> ccd = CCDData(np.zeros((2, 2)), unit="adu", flags=np.zeros((2, 2), np.uint16))
    >>> copy_ccddata(ccd).flags is ccd.flags
    False
    """
    result = ccd.copy()
    if result.flags is not None:
        result.flags = np.array(result.flags, copy=True)
    return result


def check_ccddata(ccd, name="ccd"):
    """Refuse a CCDData that astropy could not copy: no unit, or a mask of another shape.

    ``CCDData`` requires a unit, but ``ccd._unit = None`` (or a subclass)
    makes one without; a CCDData in must give a CCDData out, so it is
    refused here, naming the argument, rather than deep in astropy.
    """
    if ccd.unit is None:
        msg = f"{name}: expected a CCDData with a unit, got one without; set {name}.unit first"
        raise ValueError(msg)
    as_mask(ccd.mask, np.shape(ccd.data), name=f"{name}.mask")


def _as_ccddata(data, name="ccd"):
    """A new CCDData holding a copy of ``data`` (CCDData, NDData, Quantity or array).

    An NDData's uncertainty, WCS and meta, and a Quantity's unit, are kept;
    data without a unit get `DEFAULT_UNIT`.
    """
    if isinstance(data, CCDData):
        check_ccddata(data, name)
        result = copy_ccddata(data)
        _unpack(result, name)  # refuse complex, bool, empty... data early
        return result
    array, mask = _unpack(data, name)
    unit = getattr(data, "unit", None) or DEFAULT_UNIT
    meta = getattr(data, "meta", None)
    header = fits.Header()
    if meta:
        header.update(dict(meta))
    uncertainty = getattr(data, "uncertainty", None)
    return CCDData(
        np.array(array),
        unit=unit,
        mask=None if mask is None else mask.copy(),
        meta=header,
        uncertainty=None if uncertainty is None else copy.deepcopy(uncertainty),
        wcs=None if getattr(data, "wcs", None) is None else copy.deepcopy(data.wcs),
    )


def _card_float(value):
    """A float32 parameter as the short decimal it was given as (5e-4, not 5.0000002e-4)."""
    return float(f"{float(value):.7g}")


def _set_card(meta, key, value, comment):
    if isinstance(meta, fits.Header):
        meta[key] = (value, comment)
    else:
        meta[key] = value


def provenance_cards(
    index,
    priors,
    thresholds,
    *,
    mask_classes=(),
    tiling=None,
    precision=None,
    shape=None,
    background=None,
    region=None,
):
    """FITS cards telling how flags were made: ``[(key, value, comment), ...]``.

    Parameters
    ----------
    index : sequence of int
        Indices of the flagged classes.
    priors : "default", None, dict or sequence
        As given to `flag` (resolved here).
    thresholds : "default", dict or sequence
        As given to `flag`.
    mask_classes : sequence of int, optional
        Indices of the classes put into the mask.
    tiling, precision : optional
        As given to `flag`.
    shape : (int, int), optional
        The processed image's ``(ny, nx)``: ``AMTILE`` then gives the tiles
        that ``tiling="auto"`` chose for it (rows x columns/margin).
    background : str, optional
        The background estimate used (`resolve_background` of the call's
        ``tiling`` when `None`).
    region : tuple of slice, optional
        The ``(rows, columns)`` processed, written as a FITS section
        (``AMSECT``); the whole frame when `None`.
    """
    prior_values = resolve_priors(priors)
    threshold_values = resolve_thresholds(thresholds)
    tile = resolve_tiling(tiling)
    if isinstance(tile, AutoTiling):
        if shape is None:
            geometry = f"auto<={tile.max_size}/{tile.margin}"
        else:
            rows, columns = tile.for_shape(*shape[-2:])
            geometry = f"{rows.size}x{columns.size}/{tile.margin}"
    else:
        geometry = f"{tile.size}/{tile.margin}"
    prior_kind = "none" if priors is None else ("default" if isinstance(priors, str) else "custom")
    cards = [
        ("AMVERS", __version__, "astromask version"),
        ("AMMODEL", "maximask", "astromask network for FLAGS"),
        ("AMWHASH", zoo.weights_sha256("maximask"), ""),  # 64 hex digits: no room left
        ("AMTILE", geometry, "tile size/margin (px)"),
        ("AMPREC", zoo.check_precision(precision), "network compute precision"),
        ("AMBKG", resolve_background(background, tiling), "background estimate"),
        ("AMPRIOR", prior_kind, "prior correction (Paillassa+2020 s.5)"),
        (
            "AMMASK",
            ",".join(class_table.CLASS_NAMES[k] for k in mask_classes) or "none",
            "classes put into the mask",
        ),
    ]
    if region is not None:
        rows, columns = region
        section = f"[{columns.start + 1}:{columns.stop},{rows.start + 1}:{rows.stop}]"
        cards.append(("AMSECT", section, "section processed (rest: OV)"))
    for k in index:
        cls = class_table.CLASSES[k]
        if prior_values is not None:
            cards.append((cls.prior_key, _card_float(prior_values[k]), f"{cls.name} prior"))
        cards.append((cls.threshold_key, _card_float(threshold_values[k]), f"{cls.name} threshold"))
        cards.append((cls.bit_key, cls.bit or 0, f"{cls.name} bit in FLAGS"))
    return cards


def flag(
    ccd,
    *,
    classes=None,
    priors="default",
    thresholds="default",
    mask_classes=None,
    background=None,
    section="auto",
    tiling=None,
    batch_size=None,
    device=None,
    progress=None,
    precision=None,
):
    """Flag contaminated pixels with the MaxiMask network.

    Parameters
    ----------
    ccd : `~astropy.nddata.CCDData`, NDData-like, masked array or array-like
        The image: 2-D, or a 3-D cube flagged plane by plane, of any real
        dtype (see `probabilities`; bool and complex are refused).  A plain
        array (or NDData without a unit) is wrapped in a
        `~astropy.nddata.CCDData` with unit `DEFAULT_UNIT` (adu); a Quantity
        keeps its unit, an NDData its uncertainty, WCS and meta.  Not
        modified.
    classes : sequence of str, optional
        Classes to flag (names from `astromask.classes.CLASS_NAMES`);
        default all.
    priors : "default", None, dict or sequence of 14 floats, optional
        Observing priors (see `probabilities`); `None` skips the prior
        correction.
    thresholds : "default", dict or sequence of 14 floats, optional
        A pixel belongs to a class when its (prior-corrected) probability
        exceeds the class threshold.  Default: upstream's thresholds.
    mask_classes : sequence of str, optional
        Classes that go into ``mask``.  Default: every selected class except
        fringes (FR), nebulosity (NEB), bright background (BBG) and background
        (BG), which describe the sky rather than defects.
    background, section : optional
        As in `probabilities`: astromask's background estimate, and only the
        data section of a raw frame (pixels outside are flagged OV, overscan,
        when OV is among ``classes``), except in the parity mode
        (``tiling="maximask"``), which is upstream's on the whole frame.
    tiling, batch_size, device, progress, precision
        As in `probabilities`.  The frame's probabilities are thresholded
        tile by tile, so memory stays a few bytes per pixel whatever the
        frame's size.

    Returns
    -------
    result : `~astropy.nddata.CCDData`
        A copy of the input with

        - ``flags``: uint16 bit-coded map, bit ``2**k`` for class ``k``
          (see `astromask.classes`; BG carries no bit);
        - ``mask``: the input mask OR the pixels of ``mask_classes`` OR
          the non-finite pixels (whatever the network makes of them: a NaN
          patch is seen as 0, and usually flagged dead, DCL; an all-NaN
          frame gets no flags and is masked whole);
        - ``data``: the input's values as given (not converted);
        - ``meta``: cards ``AMVERS`` (astromask version), ``AMMODEL``,
          ``AMWHASH`` (weights SHA-256), ``AMTILE``, ``AMPREC`` (compute
          precision), ``AMBKG`` (background estimate), ``AMSECT`` (the
          section processed), ``AMPRIOR``, ``AMMASK``, and per class ``AMP_<name>``
          (prior), ``AMT_<name>`` (threshold) and ``AMB_<name>`` (bit value).

    Examples
    --------
    >>> import astromask
    >>> from astropy.nddata import CCDData
    >>> ccd = CCDData.read("frame.fits", unit="adu")  # doctest: +SKIP
    >>> ccd = astromask.flag(ccd)  # doctest: +SKIP
    >>> cosmic_rays = astromask.decode_flags(ccd.flags, "CR")  # doctest: +SKIP
    """
    _check_call(batch_size, device)
    index = class_table.class_index(classes)
    if len(index) == 0:
        msg = "classes: select at least one class"
        raise ValueError(msg)
    names = [class_table.CLASS_NAMES[k] for k in index]
    if mask_classes is None:
        mask_index = [k for k in index if class_table.CLASSES[k].masked]
    else:
        mask_index = list(class_table.class_index(mask_classes, argname="mask_classes"))
        missing = [class_table.CLASS_NAMES[k] for k in mask_index if k not in index]
        if missing:
            msg = f"mask_classes: {', '.join(missing)} not among the flagged classes {names}"
            raise ValueError(msg)
    prior_values = resolve_priors(priors)
    threshold_values = resolve_thresholds(thresholds)

    result = _as_ccddata(ccd, "ccd")
    array, mask = _unpack(result, "ccd")

    # Each tile is prior-corrected and thresholded as it comes out of the
    # network, into one bit per selected class (bit 2**k for class k, BG's
    # included): the frame's probabilities are never all in memory.
    tile_priors = None if prior_values is None else prior_values[index]
    tile_thresholds = threshold_values[index]
    class_bits = [np.uint16(1 << int(k)) for k in index]
    all_classes = np.array_equal(index, np.arange(len(class_table.CLASSES)))

    def reduce(probs):
        if not all_classes:
            probs = probs[index]
        if tile_priors is not None:
            probs = apply_priors(probs, tile_priors, index=index)
        above = inference.threshold(probs, tile_thresholds)
        if all_classes:
            # Class k is bit k: pack each pixel's 14 answers into two bytes
            # (classes 0-7, then 8-13), whatever the memory layout.
            packed = np.packbits(above, axis=0, bitorder="little").astype(np.uint16)
            return packed[0] | (packed[1] << np.uint16(8))
        codes = np.zeros(above.shape[1:], dtype=np.uint16)
        for bit, plane in zip(class_bits, above):
            np.bitwise_or(codes, bit, out=codes, where=plane)
        return codes

    background = resolve_background(background, tiling)
    region = resolve_region(result, array, section, tiling)
    inside, inside_mask = _in_region(array, mask, region)
    codes = _predict(
        inside,
        inside_mask,
        model="maximask",
        tiling=tiling,
        batch_size=batch_size,
        device=device,
        progress=progress,
        precision=precision,
        reduce=reduce,
        background=background,
    )
    if inside.shape != array.shape:
        # Outside the data section: overscan, flagged OV when OV is flagged.
        full = np.full(array.shape, np.uint16(1 << _OV) if _OV in index else 0, np.uint16)
        full[(..., *region)] = codes
        codes = full
    flag_bits = sum(
        class_table.CLASSES[k].bit for k in index if class_table.CLASSES[k].bit is not None
    )
    flags = codes & np.uint16(flag_bits)
    mask_bits = np.uint16(sum(1 << k for k in mask_index))
    bad = (codes & mask_bits) != 0
    del codes
    if mask is not None:
        bad |= mask
    if array.dtype.kind == "f":
        bad |= ~np.isfinite(array)  # no data there, whatever the network says
    result.flags = flags
    result.mask = bad

    for key, value, comment in provenance_cards(
        index,
        priors,
        thresholds,
        mask_classes=mask_index,
        tiling=tiling,
        precision=precision,
        shape=inside.shape,
        background=background,
        region=region,
    ):
        _set_card(result.meta, key, value, comment)
    return result


def tracking_score(
    data, *, prior=0.05, batch_size=None, device=None, background="maximask", section="header"
):
    """Probability that an exposure suffers a tracking error (MaxiTrack).

    The image is normalised as for MaxiMask and cut into non-overlapping
    400x400 tiles anchored at ``(ny mod 400, nx mod 400)``; each tile's score
    is prior-corrected, ``p' = p / (p + (1 - q) / q (1 - p))`` for the prior
    ``q``, and the scores are averaged, as upstream MaxiTrack does.

    Parameters
    ----------
    data : `~astropy.nddata.CCDData`, NDData-like, masked array or array-like
        A 2-D image of at least 400x400 pixels, of any real dtype; masked
        and non-finite pixels take no part in the normalisation.
    prior : float or None, optional
        Expected fraction of exposures with a tracking error (default 0.05,
        upstream's); `None` averages the raw scores.
    batch_size : int, optional
        Tiles per network call (default 16).
    device : str, optional
        Keras device, for example ``"cpu"`` or ``"gpu:0"``.
    background : {"maximask", "astromask"}, optional
        The background estimate of the normalisation (see `probabilities`).
        Upstream's by default: MaxiTrack scores whole 400x400 tiles, and
        astromask's estimate moved the scores of the real test frames by at
        most 0.0004.  With ``section=None`` the score is upstream MaxiTrack's.
    section : "header", str or None, optional
        The part of the frame scored (`astromask.io.detection_region`):
        by default the header's data section of a raw frame, without
        unexposed rows and columns at its borders (8 blank rows decided the
        score of a trimmed SAAO frame: 0.443, against 0.006 without them).

    Returns
    -------
    score : float
        Between 0 and 1; near 1 when every source is trailed.

    Examples
    --------
    >>> import astromask
    >>> from astromask.simulate import simulated_frame
    >>> ccd, _ = simulated_frame((400, 400))
    >>> score = astromask.tracking_score(ccd)  # doctest: +REMOTE_DATA
    >>> 0 <= score <= 1  # doctest: +REMOTE_DATA
    True
    """
    return _tracking_score(
        data,
        "data",
        prior=prior,
        batch_size=batch_size,
        device=device,
        background=background,
        section=section,
    )


def _tracking_score(data, name, *, prior, batch_size, device, background, section):
    """`tracking_score`, with ``name`` the caller's argument for messages."""
    _check_call(batch_size, device)
    prior = probability(prior, "prior", open_interval=True, allow_none=True)
    array, mask = _unpack(data, name)
    if array.ndim != 2:
        msg = (
            f"{name}: tracking_score takes a 2-D image, got shape {array.shape}; "
            "score the planes of a cube one by one"
        )
        raise ValueError(msg)
    background = preprocess.check_background(background)
    region = resolve_region(data, array, section)
    if array[region].shape[0] >= 400 and array[region].shape[1] >= 400:
        array, mask = _in_region(array, mask, region)
    if array.shape[0] < 400 or array.shape[1] < 400:
        msg = (
            f"{name}: MaxiTrack needs an image of at least 400x400 pixels, got "
            f"{array.shape[0]}x{array.shape[1]}; score a larger frame"
        )
        raise ValueError(msg)
    scores = inference.tile_scores(
        preprocess.normalize(array, mask, background=background),
        model="maxitrack",
        batch_size=batch_size,
        device=device,
    )
    if prior is not None:
        # MaxiTrack was trained with balanced classes: a training prior of 1/2.
        scores = bayes_update(scores, np.float32(prior_factor(0.5, prior)))
    return float(np.mean(scores))


def track(ccd, *, prior=0.05, device=None, background="maximask", section="header"):
    """Attach the MaxiTrack tracking-error probability to a frame's metadata.

    Parameters
    ----------
    ccd : `~astropy.nddata.CCDData`, NDData-like or array-like
        A 2-D image of at least 400x400 pixels.  Not modified; a plain array
        is wrapped with unit `DEFAULT_UNIT`.
    prior : float or None, optional
        As in `tracking_score`.
    device : str, optional
        Keras device.
    background, section : optional
        As in `tracking_score`.

    Returns
    -------
    result : `~astropy.nddata.CCDData`
        A copy whose ``meta`` holds the score under ``AMTRACK`` (a float
        card that survives `~astropy.nddata.CCDData.write`), the prior under
        ``AMTRPRIO`` and the astromask version under ``AMVERS``.

    Examples
    --------
    >>> import astromask
    >>> from astromask.simulate import simulated_frame
    >>> ccd, _ = simulated_frame((400, 400))
    >>> tracked = astromask.track(ccd)  # doctest: +REMOTE_DATA
    >>> 0 <= tracked.meta["AMTRACK"] <= 1, "AMTRACK" in ccd.meta  # doctest: +REMOTE_DATA
    (True, False)
    """
    score = _tracking_score(
        ccd,
        "ccd",
        prior=prior,
        batch_size=None,
        device=device,
        background=background,
        section=section,
    )
    result = _as_ccddata(ccd, "ccd")
    meta = result.meta
    _set_card(meta, TRACK_KEY, score, "MaxiTrack P(tracking error)")
    _set_card(meta, "AMTRPRIO", "none" if prior is None else _card_float(prior), "MaxiTrack prior")
    _set_card(meta, "AMVERS", __version__, "astromask version")
    return result
