"""Private input preparation of `astromask.metrics` (numpy only).

Turns a prediction, a truth and ``exclude`` into the 1-D arrays every
measure counts on (`_prepare`): dtype and shape checks, masks and NaN,
dilation (`_dilated`), the threshold cast to the scores' precision
(`_cast`), and the rate targets (`_targets`).  Imports nothing from
`astromask.metrics`: every other module of the package imports from here.
"""

import numpy as np

from astromask._validate import whole_number


def _split_masked(array, name="array"):
    """(plain ndarray, mask or None) of an array-like or a masked array."""
    if isinstance(array, np.ma.MaskedArray):
        mask = np.ma.getmask(array)
        return np.asarray(array.data), (None if mask is np.ma.nomask else np.asarray(mask))
    try:
        return np.asarray(array), None
    except (TypeError, ValueError) as err:  # ragged sequences
        msg = f"{name}: expected an array, got {type(array).__name__}: {err}"
        raise TypeError(msg) from None


def _score_array(prediction, name="prediction"):
    """(scores, mask, boolean): float32/float64 scores, or a bool mask."""
    data, mask = _split_masked(prediction, name)
    kind = data.dtype.kind
    if kind == "b":
        boolean = True
    elif kind in "iu":
        data, boolean = data.astype(np.float64), False
    elif kind == "f":
        boolean = False
        if data.dtype.itemsize < 4:
            data = data.astype(np.float32)
        elif not data.dtype.isnative:
            data = data.astype(data.dtype.newbyteorder("="))
    else:
        msg = (
            f"{name}: expected a real score map or a boolean mask, got dtype {data.dtype}; "
            "convert it with numpy.asarray(..., dtype=float) first"
        )
        raise TypeError(msg)
    if data.ndim == 0 or data.size == 0:
        msg = f"{name}: expected a non-empty image or stack of images, got shape {data.shape}"
        raise ValueError(msg)
    return data, mask, boolean


def _truth_array(truth, shape, name="truth"):
    """(bool array of ``shape``, mask or None) from a boolean (or 0/1) truth."""
    data, mask = _split_masked(truth, name)
    if data.dtype.kind != "b":
        if data.dtype.kind not in "iuf" or not np.all((data == 0) | (data == 1)):
            msg = (
                f"{name}: expected a boolean mask (or 0/1 values), got dtype {data.dtype}; "
                "make one with truth != 0 or astromask.decode_flags"
            )
            raise TypeError(msg)
        data = data != 0
    if data.shape != tuple(shape):
        msg = f"{name}: shape {data.shape} does not match the prediction shape {tuple(shape)}"
        raise ValueError(msg)
    return data, mask


def _exclude_array(exclude, shape, name="exclude"):
    """``exclude`` as a bool array broadcast to ``shape``, or None."""
    if exclude is None:
        return None
    data = np.asarray(np.ma.getdata(exclude))
    if data.dtype.kind != "b":
        if data.dtype.kind not in "iu":
            msg = f"{name}: expected a boolean mask, got dtype {data.dtype}"
            raise TypeError(msg)
        data = data != 0
    try:
        return np.broadcast_to(data, shape)
    except ValueError:
        msg = (
            f"{name}: shape {data.shape} does not match (or broadcast to) the prediction "
            f"shape {tuple(shape)}"
        )
        raise ValueError(msg) from None


def _check_dilate(dilate, ndim):
    dilate = whole_number(
        dilate,
        "dilate",
        expected=(
            "a non-negative integer (k dilates the prediction with a "
            "(2k+1)x(2k+1) square; 0 for none)"
        ),
    )
    if dilate and ndim < 2:
        msg = f"dilate: needs a 2-D image or a stack of images, got {ndim} dimension(s)"
        raise ValueError(msg)
    return dilate


def _cast(threshold, dtype):
    """The threshold in the scores' precision: float32 maps compare in float32, as flag."""
    with np.errstate(over="ignore"):
        return np.asarray(threshold, dtype=np.float64).astype(dtype)[()]


def _combine(*masks):
    masks = [m for m in masks if m is not None]
    if not masks:
        return None
    out = np.array(masks[0], dtype=bool)
    for m in masks[1:]:
        out |= m
    return out


def _dilated(scores, boolean, dilate, invalid):
    """Maximum over a (2k+1)x(2k+1) square of each frame.

    ``invalid`` pixels count as no detection.  Separable maxima of shifted
    slices: the same as `scipy.ndimage.maximum_filter` (pixels beyond the
    frame edge take no part), several times faster on large maps.
    """
    if invalid is not None and invalid.any():
        low = False if boolean else -np.inf
        scores = np.where(invalid, low, scores)
    for axis in (-1, -2):
        source = scores
        scores = source.copy()
        n = source.shape[axis]
        for shift in range(1, min(dilate, n - 1) + 1):
            lead = [slice(None)] * source.ndim
            tail = [slice(None)] * source.ndim
            lead[axis], tail[axis] = slice(shift, None), slice(None, n - shift)
            lead, tail = tuple(lead), tuple(tail)
            np.maximum(scores[lead], source[tail], out=scores[lead])
            np.maximum(scores[tail], source[lead], out=scores[tail])
    return scores


def _prepare(prediction, truth, exclude, dilate, name="prediction"):
    """Scores and truth of the scored pixels, as fresh 1-D arrays.

    Returns ``(values, truth, boolean)``; ``values`` is bool for a mask,
    float32 or float64 for scores, and is a copy the caller may sort.
    """
    scores, pred_mask, boolean = _score_array(prediction, name)
    dilate = _check_dilate(dilate, scores.ndim)
    truth, truth_mask = _truth_array(truth, scores.shape)
    skip = _combine(_exclude_array(exclude, scores.shape), pred_mask, truth_mask)
    nonfinite = None
    if not boolean:
        finite = np.isfinite(scores)
        if not finite.all():
            nonfinite = ~finite
            outside = nonfinite if skip is None else nonfinite & ~skip
            count = int(np.count_nonzero(outside))
            if count:
                msg = (
                    f"{name}: {count} NaN or infinite score(s) outside exclude; "
                    "leave them out with exclude= (or a masked array) or replace them"
                )
                raise ValueError(msg)
        del finite
    if dilate:
        scores = _dilated(scores, boolean, dilate, _combine(pred_mask, nonfinite))
    if skip is None:
        return scores.reshape(-1).copy(), truth.reshape(-1), boolean
    keep = ~skip
    if not keep.any():
        msg = (
            "exclude: every pixel is excluded (exclude= and the masks of prediction and "
            "truth); nothing is left to score"
        )
        raise ValueError(msg)
    return scores[keep], truth[keep], boolean


def _targets(values, name, *, low=0.0, high=1.0):
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):  # ragged sequences
        array = np.asarray(None)
    expected = f"a number or a sequence of numbers in [{low}, {high}]"
    if array.dtype.kind not in "iuf":  # strings, bools, None, objects
        msg = f"{name}: expected {expected}, got {values!r}"
        raise ValueError(msg)
    array = array.astype(np.float64)
    if array.ndim > 1 or array.size == 0 or not np.all((array >= low) & (array <= high)):
        msg = f"{name}: expected a number or a sequence of numbers in [{low}, {high}], got {values}"
        raise ValueError(msg)
    return array
