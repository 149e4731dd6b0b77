"""Replace masked pixels with estimates from their neighbours (arrays in, arrays out).

Methods
-------
``"medmask"``
    Median of the good pixels in the 5x5 box around each masked pixel, as
    L.A. Cosmic's (astroscrappy's) ``cleantype="medmask"`` and deepCR's
    ``medmask``.  Unlike deepCR's, good pixels equal to zero count.
``"gaussian"``
    Gaussian-weighted mean of the good pixels around each masked pixel:
    `astropy.convolution.interpolate_replace_nans` with a
    `~astropy.convolution.Gaussian2DKernel` of standard deviation ``sigma``,
    repeated until holes wider than the kernel are closed from their edges.
``"deepcr/ACS-WFC-F606W-2-32"``, ``"deepcr/ACS-WFC-F606W-3-32"``
    deepCR's inpainting networks (Zhang & Bloom 2020), trained on HST
    ACS/WFC F606W images in electrons.

Pixels that no method can reach (no good pixel anywhere near) take the median
of all good pixels, as deepCR does; in an image without any good pixel (all
NaN, or all masked) they become NaN.  Pixels outside the mask are returned
bit-identical.
"""

import warnings

import numpy as np

from astromask._validate import number
from astromask.inference import predict_unet
from astromask.presets import inpainting_models, model_spec
from astromask.tiling import pad_to_multiple

__all__ = ["check_method", "inpaint_array", "inpaint_methods", "masked_median", "output_dtype"]

_CLASSICAL = ("medmask", "gaussian")


def inpaint_methods():
    """Return every inpainting method: the classical ones, then the networks of the model table.

    Examples
    --------
    >>> from astromask.inpainting import inpaint_methods
    >>> inpaint_methods()
    ('medmask', 'gaussian', 'deepcr/ACS-WFC-F606W-2-32', 'deepcr/ACS-WFC-F606W-3-32')
    """
    return (*_CLASSICAL, *inpainting_models())


def check_method(method, name="method", *, allow_none=False):
    """Return ``method`` if it is one of `inpaint_methods` (or `None` with ``allow_none``).

    Examples
    --------
    >>> from astromask.inpainting import check_method
    >>> check_method("medmask")
    'medmask'
    >>> check_method("nope", "inpaint")
    Traceback (most recent call last):
    ...
    ValueError: inpaint: unknown inpainting method 'nope'; choose among medmask, ...
    """
    if method is None and allow_none:
        return None
    if not isinstance(method, str) or method not in inpaint_methods():
        choices = ", ".join(inpaint_methods()) + (" or None" if allow_none else "")
        msg = f"{name}: unknown inpainting method {method!r}; choose among {choices}"
        raise ValueError(msg)
    return method


def __getattr__(name):
    # INPAINT_METHODS (tuple of str: every inpainting method) follows the model table.
    if name == "INPAINT_METHODS":
        return inpaint_methods()
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def _global_median(image, good):
    values = image[good]
    return np.median(values) if values.size else np.float32(0)


def masked_median(image, fill, good, *, size=5, chunk=2**16):
    """Median of the good pixels in a ``size`` x ``size`` box around each ``fill`` pixel.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D float image.
    fill : `numpy.ndarray`
        bool, the pixels to estimate.
    good : `numpy.ndarray`
        bool, the pixels that may be used.
    size : int, optional
        Box side (odd).
    chunk : int, optional
        Pixels estimated per step (bounds memory).

    Returns
    -------
    values : `numpy.ndarray`
        Estimates for ``image[fill]``, in that order; pixels whose box holds
        no good pixel take the median of all good pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.inpainting import masked_median
    >>> image = np.arange(49, dtype=np.float32).reshape(7, 7)
    >>> fill = np.zeros((7, 7), bool)
    >>> fill[3, 3] = fill[0, 0] = True
    >>> masked_median(image, fill, ~fill).tolist()
    [8.5, 24.0]
    """
    half = size // 2
    padded = np.pad(np.where(good, image, np.nan), half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size))
    ys, xs = np.nonzero(fill)
    values = np.empty(ys.size, dtype=image.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN boxes
        for start in range(0, ys.size, chunk):
            sel = slice(start, start + chunk)
            boxes = windows[ys[sel], xs[sel]].reshape(-1, size * size)
            values[sel] = np.nanmedian(boxes, axis=1)
    empty = np.isnan(values)
    if empty.any():
        values[empty] = _global_median(image, good)
    return values


def _gaussian(image, fill, good, sigma, max_rounds=50):
    from astropy.convolution import Gaussian2DKernel, interpolate_replace_nans
    from astropy.utils.exceptions import AstropyUserWarning

    kernel = Gaussian2DKernel(x_stddev=sigma)
    work = np.where(good, image, np.nan).astype(np.float64)
    for _ in range(max_rounds):
        holes = np.isnan(work)
        if not holes[fill].any():
            break
        with warnings.catch_warnings():
            # Holes wider than the kernel are expected: they close over the rounds.
            warnings.filterwarnings("ignore", "nan_treatment='interpolate'", AstropyUserWarning)
            filled = interpolate_replace_nans(work, kernel, boundary="extend")
        # Keep only what the kernel reached; untouched holes stay NaN.
        work = np.where(holes, filled, work)
        if np.array_equal(np.isnan(work), holes):
            break
    values = work[fill]
    empty = np.isnan(values)
    if empty.any():
        values[empty] = _global_median(image, good)
    return values


def _deepcr(image, fill, good, method, *, tiling, batch_size, device, progress):
    spec = model_spec(method)
    with np.errstate(over="ignore"):
        scaled = image.astype(np.float32) / np.float32(spec.scale)
    missing = ~good | ~np.isfinite(scaled)  # values beyond float32 included
    # deepCR feeds the network the image times (1 - mask), and the mask.
    channels = np.stack([np.where(missing, np.float32(0), scaled), missing.astype(np.float32)])
    padded, pad = pad_to_multiple(channels, 4)
    out = predict_unet(
        padded, model=method, tiling=tiling, batch_size=batch_size, device=device, progress=progress
    )
    out = out[pad[0] :, pad[1] :]
    return (out[fill] * np.float32(spec.scale)).astype(image.dtype)


def output_dtype(dtype):
    """The float dtype inpainted data get: float inputs keep theirs (float16 -> float32).

    Integer inputs become float32 or, for 32- and 64-bit integers, float64
    (`numpy.result_type` with float32).

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.inpainting import output_dtype
    >>> [str(output_dtype(t)) for t in (np.float16, np.float64, np.int16, np.int32)]
    ['float32', 'float64', 'float32', 'float64']
    """
    return np.result_type(dtype, np.float32)


def inpaint_array(
    image,
    fill,
    *,
    bad=None,
    method="medmask",
    sigma=1.0,
    tiling="deepcr",
    batch_size=None,
    device=None,
    progress=None,
):
    """Replace the ``fill`` pixels of a 2-D image; leave every other pixel as it is.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D real image (not modified).
    fill : `numpy.ndarray`
        bool, the pixels to replace.
    bad : `numpy.ndarray`, optional
        bool, further pixels that must not be used as sources (they are not
        replaced).  Non-finite pixels are never used.
    method : str, optional
        One of `INPAINT_METHODS`.
    sigma : float, optional
        Kernel standard deviation in pixels for ``"gaussian"``.
    tiling, batch_size, device, progress
        For the deepCR networks; see `astromask.inference.predict_unet`.

    Returns
    -------
    result : `numpy.ndarray`
        A new array of dtype `output_dtype` ``(image.dtype)``; NaN at the
        ``fill`` pixels when the image has no good pixel at all.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.inpainting import inpaint_array
    >>> image = np.full((32, 32), 100.0, dtype=np.float32)
    >>> image[10, 10:12] = 5000.0  # a cosmic ray
    >>> hit = image > 1000
    >>> clean = inpaint_array(image, hit)
    >>> clean.dtype, clean[10, 10:12].tolist(), bool(np.all(clean[~hit] == image[~hit]))
    (dtype('float32'), [100.0, 100.0], True)
    >>> smooth = inpaint_array(image, hit, method="gaussian", sigma=1.5)
    >>> bool(np.allclose(smooth[10, 10:12], 100.0))
    True
    """
    check_method(method)
    if method == "gaussian":
        sigma = number(sigma, "sigma", minimum=0, strict=True)
    result = np.array(image, dtype=output_dtype(image.dtype))
    fill = np.asarray(fill, dtype=bool)
    if not fill.any():
        return result
    good = np.isfinite(result) & ~fill
    if bad is not None:
        good &= ~np.asarray(bad, dtype=bool)
    if not good.any():  # nothing to estimate from (all-NaN or all-masked frame)
        result[fill] = np.nan
        return result
    if method == "medmask":
        values = masked_median(result, fill, good)
    elif method == "gaussian":
        values = _gaussian(result, fill, good, sigma)
    else:
        values = _deepcr(
            result,
            fill,
            good,
            method,
            tiling=tiling,
            batch_size=batch_size,
            device=device,
            progress=progress,
        )
    result[fill] = values
    return result
