"""Argument checks shared by the public functions (numpy only)."""

import numpy as np

__all__ = ["as_image", "as_mask", "per_class_values"]


def as_image(data, *, name="data"):
    """Return ``data`` as a 2-D or 3-D numeric ndarray (not copied if possible).

    Raises a `TypeError` or `ValueError` that names the argument and says
    what is expected.
    """
    array = np.asarray(data)
    if array.dtype.kind not in "iuf":
        msg = (
            f"{name}: expected a real numeric image, got dtype {array.dtype}; "
            "convert it with numpy.asarray(..., dtype=float) first"
        )
        raise TypeError(msg)
    if array.ndim not in (2, 3):
        msg = (
            f"{name}: expected a 2-D image or a 3-D cube (planes first), got "
            f"shape {array.shape}"
        )
        raise ValueError(msg)
    if array.size == 0:
        msg = f"{name}: the image is empty (shape {array.shape})"
        raise ValueError(msg)
    return array


def as_mask(mask, shape, *, name="mask"):
    """Return ``mask`` as a bool array of ``shape``, or `None`."""
    if mask is None or mask is np.ma.nomask:
        return None
    mask = np.asarray(mask)
    if mask.shape == ():
        return np.full(shape, bool(mask))
    if mask.shape != tuple(shape):
        msg = f"{name}: shape {mask.shape} does not match the data shape {tuple(shape)}"
        raise ValueError(msg)
    return mask.astype(bool, copy=False)


def per_class_values(values, defaults, names, *, name, low, high, closed=False):
    """Resolve per-class parameters given as a dict or a sequence.

    Parameters
    ----------
    values : dict or sequence
        ``{class name: value}`` updating ``defaults``, or one value per class.
    defaults : `numpy.ndarray`
        float32 default values for all classes.
    names : sequence of str
        All class names, in order.
    name : str
        Argument name for error messages.
    low, high : float
        Allowed range, open unless ``closed``.
    """
    result = np.array(defaults, dtype=np.float32)
    if isinstance(values, dict):
        upper = [n.upper() for n in names]
        for key, value in values.items():
            if str(key).upper() not in upper:
                msg = f"{name}: unknown class {key!r}; choose among {', '.join(names)}"
                raise ValueError(msg)
            result[upper.index(str(key).upper())] = value
    else:
        array = np.asarray(values, dtype=np.float32)
        if array.shape != result.shape:
            msg = (
                f"{name}: expected a dict of class name to value or "
                f"{result.size} values (one per class), got shape {array.shape}"
            )
            raise ValueError(msg)
        result = array.copy()
    if closed:
        inside, bounds = (result >= low) & (result <= high), f"[{low}, {high}]"
    else:
        inside, bounds = (result > low) & (result < high), f"({low}, {high})"
    if not np.all(inside):
        msg = f"{name}: every value must lie in {bounds}, got {result.tolist()}"
        raise ValueError(msg)
    return result
