"""Drop-in replacements for `ccdproc.cosmicray_lacosmic`.

`cosmicray_deepcr` and `cosmicray_maximask` take every argument of
``ccdproc.cosmicray_lacosmic`` (ccdproc 2.5), in the same order, and return
what it returns, so a script switches by changing the function's name:

* a `~astropy.nddata.CCDData` gives a new CCDData with the cleaned data and
  ``mask`` = input mask OR cosmic-ray mask;
* a `numpy.ndarray` gives a tuple ``(cleaned, crmask)``.

What the L.A. Cosmic arguments mean here
----------------------------------------
``gain``, ``gain_apply``
    As in ccdproc: the data times ``gain`` are electrons.  The HST deepCR
    networks were trained on electrons and see the data times the gain; the
    DECam network was trained on ADU and sees the data as given.  With
    ``gain_apply=True`` (default) the cleaned data are returned in electrons.
    Unlike ccdproc 2.5, the unit is changed only when the gain is applied,
    and a CCDData's uncertainty is scaled with its data.  Data already in
    electrons (``electron``, ``electron / s``, ...) need ``gain=1``.
    Dimensionless data are counts, as a plain array's: a float gain makes
    them electrons.
``satlevel``
    Pixels at or above it (in electrons) are saturated: they are neither
    flagged nor changed, as in L.A. Cosmic.  ``None`` or a value <= 0
    disables the check.
``pssl``
    Previously subtracted sky level (ADU), added back for detection only.
``verbose``
    Print how many pixels were flagged.
the others
    ``sigclip``, ``sigfrac``, ``objlim``, ``readnoise``, ``niter``, ``sepmed``,
    ``cleantype``, ``fsmode``, ``psfmodel``, ``psffwhm``, ``psfsize``, ``psfk``,
    ``psfbeta``, ``inbkg`` and ``invar`` are accepted, so that calls written
    for L.A. Cosmic run unchanged, and ignored: they tune the Laplacian
    detector, which a network does not have.  Those given other than
    ccdproc's defaults raise one `~astropy.utils.exceptions.AstropyUserWarning`
    that names them (``readnoise``, a property of the detector, does not).
    The network's counterpart of ``sigclip`` is ``threshold``.

Pixels already masked on input (and non-finite ones) are neither flagged
nor changed, and take no part in the estimates that replace cosmic rays;
neither do values beyond the float32 range.  The exception is the cosmic
rays that `astromask.flag` found: in a CCDData that ``flag`` returned, the
pixels of its CR class (``flags`` and the ``AMB_CR`` card) are cosmic rays
here too, replaced with the others, so ``cosmicray_deepcr(astromask.flag(ccd))``
cleans every cosmic ray that either step found.  The other masked pixels
stay as they are, and the returned mask keeps the whole input mask.

What the image may be
---------------------
A `~astropy.nddata.CCDData`, a `numpy.ndarray` (its mask counts if it is a
masked array) or a `~astropy.units.Quantity`, whose unit counts as a
CCDData's (it gives a tuple ``(cleaned Quantity, crmask)``).  2-D only:
clean the planes of a cube one by one.  Integer, unsigned, float16 and
big-endian data are read as float32; the cleaned data are floating point.
Complex and bool arrays, lists and other NDData are refused with a message
saying what to pass instead.
"""

import numbers
import warnings

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData, InverseVariance, StdDevUncertainty, VarianceUncertainty
from astropy.utils.exceptions import AstropyUserWarning
from scipy import ndimage

from astromask import classes as class_table
from astromask import inference, inpainting, preprocess, zoo
from astromask._validate import (
    as_float32,
    as_image,
    as_mask,
    check_device,
    number,
    probability,
    real_number,
    whole_number,
)
from astromask.core import check_ccddata, copy_ccddata, gain_factor, resolve_background
from astromask.cosmicrays import cosmic_ray_probabilities
from astromask.inference import check_batch_size
from astromask.io.sections import detection_region
from astromask.presets import MODELS, threshold_for_fpr
from astromask.priors import apply_priors

__all__ = ["cosmicray_deepcr", "cosmicray_maximask", "resolve_threshold"]

# L.A. Cosmic's tuning arguments and ccdproc's defaults: accepted, and ignored
# (a network has no Laplacian detector to tune); a value other than these
# gets one warning.
_LACOSMIC_TUNING = {
    "sigclip": 4.5,
    "sigfrac": 0.3,
    "objlim": 5.0,
    "niter": 4,
    "sepmed": True,
    "cleantype": "meanmask",
    "fsmode": "median",
    "psfmodel": "gauss",
    "psffwhm": 2.5,
    "psfsize": 7,
    "psfk": None,
    "psfbeta": 4.765,
    "inbkg": None,
    "invar": None,
}


def _warn_ignored(name, arguments):
    """One warning naming the L.A. Cosmic tuning arguments given other than their defaults.

    ``arguments`` holds the drop-in's arguments (its ``locals()``); only the
    keys of `_LACOSMIC_TUNING` are read.
    """
    changed = []
    for key, default in _LACOSMIC_TUNING.items():
        value = arguments[key]
        if default is None or value is None:
            differs = value is not default
        else:
            try:
                differs = bool(value != default)
            except (TypeError, ValueError):  # an array, say
                differs = True
        if differs:
            changed.append(key)
    if changed:
        hint = "; the network's counterpart of sigclip is threshold" if "sigclip" in changed else ""
        warnings.warn(
            f"{name}: {', '.join(changed)} tune L.A. Cosmic's Laplacian detector and "
            f"are ignored by the network{hint}",
            AstropyUserWarning,
            stacklevel=3,
        )


def _scaled_uncertainty(uncertainty, factor):
    """The uncertainty of data multiplied by ``factor``, in the data's new unit."""
    if uncertainty is None:
        return None
    if isinstance(uncertainty, StdDevUncertainty):
        return StdDevUncertainty(uncertainty.array * factor)
    if isinstance(uncertainty, VarianceUncertainty):
        return VarianceUncertainty(uncertainty.array * factor**2)
    if isinstance(uncertainty, InverseVariance):
        return InverseVariance(uncertainty.array / factor**2)
    msg = (
        f"uncertainty: cannot scale a {type(uncertainty).__name__} by the gain; "
        "convert it to StdDevUncertainty or pass gain_apply=False"
    )
    raise TypeError(msg)


def _flagged_cosmic_rays(ccd, shape):
    """The CR class of a CCDData's ``flags`` when `astromask.flag` made them, else `None`.

    `astromask.flag` records the bit of each class it flagged in the header
    (``AMB_CR``); flags from elsewhere, without that card, are not read.
    """
    flags = getattr(ccd, "flags", None)
    meta = getattr(ccd, "meta", None) or {}
    cr = class_table.CLASSES[class_table.class_index(["CR"])[0]]
    if flags is None or cr.bit_key not in meta:
        return None
    flags = np.asarray(flags)
    if flags.shape != shape or flags.dtype.kind not in "iu":
        return None
    return (flags & int(meta[cr.bit_key])) != 0


def resolve_threshold(model, threshold):
    """The probability threshold of a cosmic-ray network, from the ``threshold`` argument.

    `None` gives the model's default (`astromask.presets.Preset.threshold`;
    0.5 for a trained ``.keras`` model), a number in [0, 1] itself, and a
    string ``"fpr:RATE"`` the threshold calibrated at that false-positive
    rate (`astromask.presets.threshold_for_fpr`).

    Examples
    --------
    >>> from astromask.ccdproc_compat import resolve_threshold
    >>> resolve_threshold("deepcr/decam", None), resolve_threshold("deepcr/decam", 0.3)
    (0.5, 0.3)
    >>> resolve_threshold("astromask/ground", "fpr:1e-3")
    0.1924
    >>> resolve_threshold("deepcr/decam", "0.5")
    Traceback (most recent call last):
    ...
    ValueError: threshold: expected a probability in [0, 1], None or 'fpr:RATE' ...
    """
    entry = MODELS.get(model) if isinstance(model, str) else None
    if threshold is None:
        return 0.5 if entry is None or entry.threshold is None else entry.threshold
    if isinstance(threshold, str):
        head, _, rate = threshold.partition(":")
        if head.strip().lower() == "fpr":
            try:
                rate = float(rate)
            except ValueError:
                rate = None
            if rate is not None:
                if entry is None:
                    msg = (
                        f"threshold: {threshold!r} needs a calibrated network of the model "
                        "table; a trained model takes a probability"
                    )
                    raise ValueError(msg)
                return threshold_for_fpr(model, rate)
    elif isinstance(threshold, numbers.Real) and not isinstance(threshold, bool):
        if 0 <= threshold <= 1:
            return float(threshold)
    msg = (
        "threshold: expected a probability in [0, 1], None or 'fpr:RATE' (such as "
        f"'fpr:1e-4'), got {threshold!r}"
    )
    raise ValueError(msg)


def _cosmicray(
    ccd,
    detect,
    *,
    section,
    gain,
    satlevel,
    pssl,
    gain_apply,
    verbose,
    inpaint,
    dilate,
    name,
    inpaint_kwargs,
    cards,
    device=None,
    batch_size=None,
    precision=None,
):
    if isinstance(ccd, CCDData):
        check_ccddata(ccd, "ccd")  # a CCDData without a unit would give a tuple
        data, in_mask, unit = as_image(ccd.data, name="ccd", ndims=(2,)), ccd.mask, ccd.unit
    elif isinstance(ccd, u.Quantity):
        data, in_mask, unit = as_image(ccd.value, name="ccd", ndims=(2,)), None, ccd.unit
    elif isinstance(ccd, np.ndarray):
        data, in_mask, unit = as_image(ccd, name="ccd", ndims=(2,)), np.ma.getmask(ccd), None
    else:
        msg = (
            f"ccd: expected a CCDData or a numpy.ndarray, got {type(ccd).__name__}; "
            "convert it with numpy.asarray() or CCDData(..., unit=...)"
        )
        raise TypeError(msg)
    check_device(device)
    check_batch_size(batch_size, None)
    zoo.check_precision(precision)
    inpainting.check_method(inpaint, "inpaint", allow_none=True)
    if satlevel is not None:
        real_number(satlevel, "satlevel")
    pssl = number(pssl, "pssl")
    dilate = whole_number(dilate, "dilate")
    in_mask = given_mask = as_mask(in_mask, data.shape, name="ccd.mask")
    flagged_cr = _flagged_cosmic_rays(ccd, data.shape)
    if flagged_cr is not None and in_mask is not None:
        # Cosmic rays that astromask.flag found are cleaned, not left alone.
        in_mask = in_mask & ~flagged_cr
    factor, out_unit = gain_factor(unit, gain)

    with np.errstate(over="ignore"):  # values beyond float32: +-inf, hence bad
        electrons = (as_float32(data) + np.float32(pssl)) * np.float32(factor)
    bad = ~np.isfinite(electrons)
    if in_mask is not None:
        bad |= in_mask
    if satlevel is not None and satlevel > 0:
        bad |= electrons >= satlevel

    region = detection_region(getattr(ccd, "meta", None), data.shape, electrons, section=section)
    crmask = np.zeros(data.shape, bool)
    crmask[region] = detect(electrons[region], bad[region], factor)
    if dilate:
        grown = ndimage.binary_dilation(crmask, structure=np.ones((3, 3), bool), iterations=dilate)
        crmask[region] = grown[region]
    if flagged_cr is not None:
        crmask |= flagged_cr
    crmask &= ~bad

    apply = bool(gain_apply)
    cleaned = np.array(data, dtype=inpainting.output_dtype(data.dtype))
    if apply and factor != 1:
        with np.errstate(over="ignore"):
            cleaned *= factor
    if inpaint and crmask.any():
        source = electrons - np.float32(pssl * factor)
        values = inpainting.inpaint_array(
            source, crmask, bad=bad, method=inpaint, **inpaint_kwargs
        )[crmask]
        cleaned[crmask] = values if apply else values / np.float32(factor)
    if verbose:
        print(f"{name}: {int(crmask.sum())} cosmic-ray pixels flagged")

    if unit is None:
        return cleaned, crmask
    if isinstance(ccd, u.Quantity):
        return u.Quantity(cleaned, out_unit if apply else unit, copy=False), crmask
    result = copy_ccddata(ccd)
    result.data = cleaned
    result.mask = crmask if given_mask is None else (given_mask | crmask)
    if apply:
        result.unit = out_unit
        result.uncertainty = _scaled_uncertainty(ccd.uncertainty, factor)
    for key, value, comment in cards + [("AMCRNPIX", int(crmask.sum()), "cosmic-ray pixels")]:
        result.meta[key] = (value, comment) if hasattr(result.meta, "cards") else value
    return result


_COMMON_DOC = """
    Parameters
    ----------
    ccd : `~astropy.nddata.CCDData`, `numpy.ndarray` or `~astropy.units.Quantity`
        2-D real image; not modified.  A masked array's mask counts as the
        input mask; a Quantity's unit counts as a CCDData's.  NaN and
        infinite pixels are neither flagged nor changed.
    sigclip, sigfrac, objlim, readnoise, niter, sepmed, cleantype : optional
        Accepted for compatibility with `ccdproc.cosmicray_lacosmic`;
        ignored (see `astromask.ccdproc_compat`).
    fsmode, psfmodel, psffwhm, psfsize, psfk, psfbeta, inbkg, invar : optional
        Accepted for compatibility with `ccdproc.cosmicray_lacosmic`;
        ignored (see `astromask.ccdproc_compat`).
    gain : float or `~astropy.units.Quantity`, optional
        Electrons per data unit (a float means electron / adu).  Default 1.
    satlevel : float, optional
        Saturation level in electrons; pixels at or above it are left alone.
    pssl : float, optional
        Previously subtracted sky level (ADU), added back for detection.
    verbose : bool, optional
        Print the number of flagged pixels.
    gain_apply : bool, optional
        Return the data multiplied by the gain, in electrons (default, as
        ccdproc); otherwise in their own unit.
    section : "header", str or None, optional
        Where to look for cosmic rays.  ``"header"`` (default): in the data
        section of a raw frame, from the header's ``TRIMSEC`` or
        ``DATASEC``, without the unexposed rows and columns at its borders
        (nearer the ``BIASSEC`` level than the sky, or far below the sky, or
        constant), so that overscan and section edges give no detections;
        the whole frame, less such borders, when the header has no section
        or the frame is already trimmed.  A FITS section ``"[x0:x1,y0:y1]"``;
        or `None`, the whole frame.  Pixels outside are neither flagged nor
        changed.  See `astromask.io.detection_region`.
"""

_RETURNS_DOC = """
    Returns
    -------
    nccd : `~astropy.nddata.CCDData`, `numpy.ndarray` or `~astropy.units.Quantity`
        Same type as ``ccd``: a new CCDData whose data are cleaned, whose
        ``mask`` is the input mask OR the cosmic-ray mask, and whose unit and
        uncertainty follow the gain when it is applied; or the cleaned array
        (floating point: integer input becomes float, float16 float32; a
        masked array gives a plain array); or the cleaned Quantity, in
        electrons when the gain is applied.
    crmask : `numpy.ndarray`
        Only for array and Quantity input: the bool cosmic-ray mask.
"""


def cosmicray_deepcr(
    ccd,
    sigclip=4.5,
    sigfrac=0.3,
    objlim=5.0,
    gain=1.0,
    readnoise=6.5,
    satlevel=65535.0,
    pssl=0.0,
    niter=4,
    sepmed=True,
    cleantype="meanmask",
    fsmode="median",
    psfmodel="gauss",
    psffwhm=2.5,
    psfsize=7,
    psfk=None,
    psfbeta=4.765,
    verbose=False,
    gain_apply=True,
    inbkg=None,
    invar=None,
    *,
    model="astromask/ground",
    threshold=None,
    inpaint="deepcr/ACS-WFC-F606W-2-32",
    dilate=0,
    section="header",
    tiling=None,
    batch_size=None,
    device=None,
    progress=None,
    precision=None,
):
    """Find and clean cosmic rays with a deepCR-style network (drop-in for L.A. Cosmic).
    {common}
    model : str, optional
        Cosmic-ray detector (see :doc:`/cosmicrays` for which to use).
        ``"astromask/ground"`` (default): astromask's combination of two
        deepCR networks, the best detector on ground-based frames in
        astromask's benchmark.  deepCR's networks: ``"deepcr/ACS-WFC"``
        (deepCR's own default, for HST), ``"deepcr/ACS-WFC-F606W-2-4"``
        (smallest, fastest), ``"deepcr/decam"`` or ``"deepcr/WFC3-UVIS"``.
        Cosmic-CoNN's: ``"cosmic-conn/ground_imaging"`` (trained on LCO
        frames from many telescopes), ``"cosmic-conn/NRES"`` (echelle
        spectra) or ``"cosmic-conn/HST_ACS_WFC"``.  Bhavanam et al.'s DECam
        networks: ``"decam-attention/Att_Cosmic-CoNN"`` and its three
        siblings (their weights state no licence).  Or the path of a
        ``.keras`` model written by `astromask.train`.  See
        `astromask.presets.cosmic_ray_models`.
    threshold : float or str, optional
        A pixel is a cosmic ray when its probability exceeds this.  `None`
        (default): the detector's default threshold (for
        ``"astromask/ground"`` the one calibrated to a false-positive rate of
        5e-4 on astromask's benchmark; 0.5, deepCR's, for the others).  A
        string ``"fpr:RATE"``, for example ``"fpr:1e-4"``, asks for the
        threshold at that false-positive rate, interpolated from the
        detector's calibration in the model table
        (`astromask.presets.threshold_for_fpr`).
    inpaint : str or None, optional
        How flagged pixels are replaced: ``"deepcr/ACS-WFC-F606W-2-32"``
        (default: the best photometric fidelity in the docs' benchmark),
        ``"deepcr/ACS-WFC-F606W-3-32"``, ``"medmask"`` (L.A. Cosmic's masked
        5x5 median) or ``"gaussian"`` (see `astromask.inpaint`); `None`
        leaves the data as they are.
    dilate : int, optional
        Grow the cosmic-ray mask by this many pixels (8-connected) before
        cleaning, to catch the faint edges of hits.
    tiling, batch_size, device, progress, precision
        As in `astromask.probabilities` (``precision`` applies to the
        detection network).
    {returns}
    Examples
    --------
    >>> from astromask import cosmicray_deepcr
    >>> from astromask.simulate import simulated_frame
    >>> ccd, truth = simulated_frame((256, 256), seed=3)
    >>> clean = cosmicray_deepcr(ccd, gain=1.5, readnoise=5)  # doctest: +REMOTE_DATA
    >>> clean.unit  # doctest: +REMOTE_DATA
    Unit("electron")
    """
    _warn_ignored("cosmicray_deepcr", locals())
    spec = zoo.cosmic_ray_spec(model)
    threshold = resolve_threshold(model, threshold)

    def detect(electrons, bad, factor):
        # The DECam network was trained on ADU, the others on electrons.
        image = electrons / np.float32(factor) if spec.unit == "adu" else electrons
        probs = cosmic_ray_probabilities(
            image,
            bad,
            model=model,
            tiling=tiling,
            batch_size=batch_size,
            device=device,
            progress=progress,
            precision=precision,
        )
        return probs > threshold

    return _cosmicray(
        ccd,
        detect,
        gain=gain,
        satlevel=satlevel,
        pssl=pssl,
        gain_apply=gain_apply,
        verbose=verbose,
        inpaint=inpaint,
        dilate=dilate,
        section=section,
        device=device,
        batch_size=batch_size,
        precision=precision,
        name="cosmicray_deepcr",
        inpaint_kwargs=dict(batch_size=batch_size, device=device, progress=progress),
        cards=[
            ("AMCRMOD", str(model), "cosmic-ray network"),
            ("AMCRTHR", float(threshold), ""),
        ],
    )


def cosmicray_maximask(
    ccd,
    sigclip=4.5,
    sigfrac=0.3,
    objlim=5.0,
    gain=1.0,
    readnoise=6.5,
    satlevel=65535.0,
    pssl=0.0,
    niter=4,
    sepmed=True,
    cleantype="meanmask",
    fsmode="median",
    psfmodel="gauss",
    psffwhm=2.5,
    psfsize=7,
    psfk=None,
    psfbeta=4.765,
    verbose=False,
    gain_apply=True,
    inbkg=None,
    invar=None,
    *,
    threshold=None,
    prior="default",
    inpaint="deepcr/ACS-WFC-F606W-2-32",
    dilate=0,
    section="header",
    tiling=None,
    batch_size=None,
    device=None,
    progress=None,
    precision=None,
):
    """Find and clean cosmic rays with MaxiMask's CR class (drop-in for L.A. Cosmic).
    {common}
    threshold : float, optional
        A pixel is a cosmic ray when its (prior-corrected) CR probability
        exceeds this; default MaxiMask's CR threshold.
    prior : "default", float or None, optional
        Observing prior of the CR class (Paillassa et al. 2020, sect. 5);
        `None` uses the raw network output.
    inpaint : str or None, optional
        How flagged pixels are replaced, as in `cosmicray_deepcr`.
    dilate : int, optional
        Grow the cosmic-ray mask by this many pixels before cleaning.
    tiling, batch_size, device, progress, precision
        As in `astromask.flag`.
    {returns}
    Examples
    --------
    >>> from astromask import cosmicray_maximask
    >>> from astromask.simulate import simulated_frame
    >>> ccd, truth = simulated_frame((400, 400), seed=3)
    >>> clean = cosmicray_maximask(ccd, gain=1.5, gain_apply=False)  # doctest: +REMOTE_DATA
    >>> clean.unit  # doctest: +REMOTE_DATA
    Unit("adu")
    """
    _warn_ignored("cosmicray_maximask", locals())
    cr = class_table.class_index(["CR"])[0]
    cr_class = class_table.CLASSES[cr]
    level = cr_class.threshold if threshold is None else probability(threshold, "threshold")
    if isinstance(prior, str) and prior == "default":
        prior = cr_class.prior
    elif isinstance(prior, str):
        msg = f"prior: expected 'default', a number in (0, 1) or None, got {prior!r}"
        raise ValueError(msg)
    prior = probability(prior, "prior", open_interval=True, allow_none=True)

    def detect(electrons, bad, factor):
        probs = inference.predict_image(
            preprocess.normalize(electrons, bad, background=resolve_background(None, tiling)),
            model="maximask",
            tiling=tiling,
            batch_size=batch_size,
            device=device,
            progress=progress,
            precision=precision,
            reduce=lambda p: p[cr : cr + 1],  # the CR channel alone is kept
        )
        if prior is not None:
            probs = apply_priors(probs, np.float32([prior]), index=[cr])
        return probs[0] > np.float32(level)

    return _cosmicray(
        ccd,
        detect,
        gain=gain,
        satlevel=satlevel,
        pssl=pssl,
        gain_apply=gain_apply,
        verbose=verbose,
        inpaint=inpaint,
        dilate=dilate,
        section=section,
        device=device,
        batch_size=batch_size,
        precision=precision,
        name="cosmicray_maximask",
        inpaint_kwargs=dict(batch_size=batch_size, device=device, progress=progress),
        cards=[("AMCRMOD", "maximask", "cosmic-ray network"), ("AMCRTHR", level, "")],
    )


for _function in (cosmicray_deepcr, cosmicray_maximask):
    _function.__doc__ = _function.__doc__.format(common=_COMMON_DOC, returns=_RETURNS_DOC)
del _function
