"""Argument checks shared by the public functions (numpy only)."""

import numpy as np

__all__ = ["as_float32", "as_image", "as_mask", "per_class_values"]


def _dtype_hint(dtype):
    """What to do with an image of a dtype that is not a real number."""
    if dtype.kind == "c":
        return "take .real or abs() first"
    if dtype.kind == "b":
        return (
            "a bool array is a mask, not an image: pass it as the mask (or "
            "convert it with .astype(float) if it really is an image)"
        )
    return "convert it with numpy.asarray(..., dtype=float) first"


def as_image(data, *, name="data", ndims=(2, 3)):
    """Return ``data`` as a 2-D (or 3-D) real ndarray (not copied if possible).

    Integer, unsigned, float16 and big-endian arrays pass unchanged (callers
    convert to float32 where they compute).  Complex, bool, object and string
    arrays, empty arrays and other dimensions raise a `TypeError` or
    `ValueError` that names the argument ``name`` and says what to do.
    ``ndims`` is ``(2, 3)`` for functions that take cubes (planes first),
    ``(2,)`` for those that take one image.
    """
    if isinstance(data, np.ma.MaskedArray):
        data = np.ma.getdata(data)
    try:
        array = np.asarray(data)
    except (TypeError, ValueError) as err:
        msg = f"{name}: expected an image (array of numbers), got {type(data).__name__}: {err}"
        raise TypeError(msg) from err
    if array.dtype.kind not in "iuf":
        msg = (
            f"{name}: expected a real numeric image, got dtype {array.dtype}; "
            f"{_dtype_hint(array.dtype)}"
        )
        raise TypeError(msg)
    if array.ndim not in ndims:
        if tuple(ndims) == (2,):
            msg = (
                f"{name}: expected a 2-D real image, got shape {array.shape}; "
                "process the planes of a cube one by one"
            )
        else:
            msg = (
                f"{name}: expected a 2-D image or a 3-D cube (planes first), got "
                f"shape {array.shape}"
            )
        raise ValueError(msg)
    if array.size == 0:
        msg = f"{name}: the image is empty (shape {array.shape}); pass an image with pixels"
        raise ValueError(msg)
    return array


def as_float32(array):
    """``array`` as native float32; values beyond its range become +-inf silently."""
    with np.errstate(over="ignore"):
        return np.asarray(array, dtype=np.float32)


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
