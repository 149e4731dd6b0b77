"""Argument checks shared by the public functions (numpy only).

Images and masks: `as_image`, `as_float32`, `as_mask`, `per_class_values`.

Scalars: small checkers that name the argument in their message and return
the checked value.  `number` is the general one (any range, finite or not,
`None` allowed or not); `path_argument` checks a file or folder argument.
Two message styles are kept, as the callers' messages (and the tests
matching them) were before these checkers were shared:

- ``"<name>: expected ..., got <value>"`` (`astromask.metrics` and the
  entry points): `real_number`, `positive_number`, `whole_number`,
  `number`, `path_argument`;
- ``"<name> must be ...; got <value>"`` (`astromask.simulate`):
  `finite_number`, `integer_at_least`.

This module is a leaf: it imports nothing from astromask.
"""

import math
import numbers
import os
import re

import numpy as np

__all__ = [
    "as_float32",
    "as_image",
    "as_mask",
    "check_device",
    "probability",
    "finite_number",
    "integer_at_least",
    "number",
    "path_argument",
    "per_class_values",
    "positive_number",
    "real_number",
    "whole_number",
]


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
    """Return ``mask`` as a bool array of ``shape``, or `None`.

    Bool and integer arrays pass (a float array of 0 and 1 too), and a bool
    scalar stands for the whole frame (as numpy's masked arrays have it).
    Anything else, a string such as ``"CR"`` above all, is refused: read as
    a truth value it would mask every pixel.

    Examples
    --------
    >>> from astromask._validate import as_mask
    >>> as_mask("CR", (2, 2))
    Traceback (most recent call last):
    ...
    TypeError: mask: expected a bool array of shape (2, 2), got 'CR'; for a class of flags, ...
    """
    if mask is None or mask is np.ma.nomask:
        return None
    given = mask
    try:
        mask = np.asarray(mask)
    except (TypeError, ValueError):  # ragged sequences
        mask = np.asarray(None)
    usable = mask.dtype.kind in "biu" or (
        mask.dtype.kind == "f" and mask.shape != () and np.isin(mask, (0, 1)).all()
    )
    if not usable or (mask.shape == () and mask.dtype.kind != "b"):
        hint = (
            f"; for a class of flags, pass astromask.decode_flags(ccd.flags, {given!r})"
            if isinstance(given, str)
            else ""
        )
        msg = f"{name}: expected a bool array of shape {tuple(shape)}, got {given!r}{hint}"
        raise TypeError(msg)
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
            result[upper.index(str(key).upper())] = number(value, f"{name}[{key!r}]")
    else:
        what = f"a dict of class name to value or {result.size} values"
        array = _numeric_array(values, name, what=what)
        if array.shape != result.shape:
            msg = (
                f"{name}: expected a dict of class name to value or "
                f"{result.size} values (one per class), got shape {array.shape}"
            )
            raise ValueError(msg)
        result = array.astype(np.float32)
    if closed:
        inside, bounds = (result >= low) & (result <= high), f"[{low}, {high}]"
    else:
        inside, bounds = (result > low) & (result < high), f"({low}, {high})"
    if not np.all(inside):
        msg = f"{name}: every value must lie in {bounds}, got {result.tolist()}"
        raise ValueError(msg)
    return result


def _numeric_array(values, name, *, what):
    """``values`` as a real (not bool) array, or a `TypeError` naming ``name``."""
    if isinstance(values, (str, bytes)):
        array = None
    else:
        try:
            array = np.asarray(values)
        except (TypeError, ValueError):
            array = None
    if array is None or array.dtype.kind not in "iuf":
        msg = f"{name}: expected {what}, got {values!r}"
        raise TypeError(msg)
    return array


def _is_real(value):
    """True for a real number that is not a bool (Python or numpy scalar)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def real_number(value, name):
    """Return ``value`` unchanged if it is a real number other than NaN.

    Infinities pass.  The value is not converted, so a float32 or float64
    scalar keeps its precision.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (a bool is not).
    ValueError
        If ``value`` is NaN.

    Examples
    --------
    >>> from astromask._validate import real_number
    >>> real_number(0.5, "threshold")
    0.5
    >>> real_number("0.5", "threshold")
    Traceback (most recent call last):
    ...
    TypeError: threshold: expected a number, got '0.5'
    """
    if not _is_real(value):
        msg = f"{name}: expected a number, got {value!r}"
        raise TypeError(msg)
    if math.isnan(value):
        msg = f"{name}: expected a number, got nan"
        raise ValueError(msg)
    return value


def positive_number(value, name):
    """Return ``value`` unchanged if it is a real number > 0 (NaN is not).

    Raises
    ------
    ValueError
        Otherwise, a bool or a non-number included.

    Examples
    --------
    >>> from astromask._validate import positive_number
    >>> positive_number(1e-6, "tol")
    1e-06
    >>> positive_number(0, "tol")
    Traceback (most recent call last):
    ...
    ValueError: tol: expected a positive number, got 0
    """
    if not _is_real(value) or not value > 0:
        msg = f"{name}: expected a positive number, got {value!r}"
        raise ValueError(msg)
    return value


def whole_number(value, name, *, minimum=0, expected=None):
    """Return ``int(value)`` for an integer (not a bool) at least ``minimum``.

    ``expected`` describes the value in the message (default: "a
    non-negative integer" for ``minimum=0``, "a positive integer" for 1,
    "an integer >= minimum" otherwise).

    Raises
    ------
    ValueError
        Otherwise, a float with an integer value included.

    Examples
    --------
    >>> from astromask._validate import whole_number
    >>> whole_number(3, "max_iter", minimum=1)
    3
    >>> whole_number(0, "max_iter", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: max_iter: expected a positive integer, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        if expected is None:
            expected = {0: "a non-negative integer", 1: "a positive integer"}.get(
                minimum, f"an integer >= {minimum}"
            )
        msg = f"{name}: expected {expected}, got {value!r}"
        raise ValueError(msg)
    return int(value)


def finite_number(value, name, *, minimum=None, strict=False):
    """Return ``float(value)``, finite, and > (``strict``) or >= ``minimum`` if given.

    Anything `float` accepts passes (a numeric string, a bool, a size-1 array).

    Raises
    ------
    ValueError
        If ``value`` is not a number, not finite, or out of range.

    Examples
    --------
    >>> from astromask._validate import finite_number
    >>> finite_number(3, "nsigma", minimum=0, strict=True)
    3.0
    >>> finite_number(-1, "nsigma", minimum=0, strict=True)
    Traceback (most recent call last):
    ...
    ValueError: nsigma must be greater than 0; got -1
    """
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        msg = f"{name} must be a number; got {value!r}"
        raise ValueError(msg) from err
    if not math.isfinite(number):
        msg = f"{name} must be finite; got {value!r}"
        raise ValueError(msg)
    if minimum is not None:
        if strict and not number > minimum:
            msg = f"{name} must be greater than {minimum:g}; got {value!r}"
            raise ValueError(msg)
        if not strict and number < minimum:
            msg = f"{name} must be at least {minimum:g} (not negative); got {value!r}"
            raise ValueError(msg)
    return number


def integer_at_least(value, name, *, minimum=0):
    """Return ``int(value)`` for a Python or numpy integer (not a bool) >= ``minimum``.

    Raises
    ------
    ValueError
        If ``value`` is not an integer or is below ``minimum``.

    Examples
    --------
    >>> from astromask._validate import integer_at_least
    >>> integer_at_least(5, "max_pixels", minimum=1)
    5
    >>> integer_at_least(2.0, "max_pixels", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: max_pixels must be an integer; got 2.0
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        msg = f"{name} must be an integer; got {value!r}"
        raise ValueError(msg)
    if value < minimum:
        msg = f"{name} must be at least {minimum}; got {value!r}"
        raise ValueError(msg)
    return int(value)


_DEVICE = re.compile(r"^(cpu|gpu|cuda|tpu)(:\d+)?$", re.IGNORECASE)


def check_device(device):
    """Return ``device`` if it is `None` or a Keras device name such as ``"cpu"`` or ``"gpu:0"``.

    Checked where a call enters, before any work, so that a typo does not
    end in a backend's own error after the frame was prepared.

    Examples
    --------
    >>> from astromask._validate import check_device
    >>> check_device("gpu:1"), check_device(None)
    ('gpu:1', None)
    >>> check_device("nope")
    Traceback (most recent call last):
    ...
    ValueError: device: expected None, 'cpu', 'gpu' or 'gpu:N' (also 'cuda:N', 'tpu:N'), got 'nope'
    """
    if device is None or (isinstance(device, str) and _DEVICE.match(device.strip())):
        return device
    msg = (
        "device: expected None, 'cpu', 'gpu' or 'gpu:N' (also 'cuda:N', 'tpu:N'), "
        f"got {device!r}"
    )
    raise ValueError(msg)


def probability(value, name, *, open_interval=False, allow_none=False):
    """Return ``float(value)`` for a real number in [0, 1] (or (0, 1) with ``open_interval``).

    Examples
    --------
    >>> from astromask._validate import probability
    >>> probability(0.05, "prior", open_interval=True)
    0.05
    >>> probability("0.1", "prior")
    Traceback (most recent call last):
    ...
    ValueError: prior: expected a number in [0, 1], got '0.1'
    """
    if value is None and allow_none:
        return None
    low, high = ("(", ")") if open_interval else ("[", "]")
    inside = _is_real(value) and (
        0 < value < 1 if open_interval else 0 <= value <= 1
    )
    if not inside:
        extra = " or None" if allow_none else ""
        msg = f"{name}: expected a number in {low}0, 1{high}{extra}, got {value!r}"
        raise ValueError(msg)
    return float(value)


def number(
    value,
    name,
    *,
    minimum=None,
    maximum=None,
    strict=False,
    finite=True,
    allow_none=False,
    expected=None,
):
    """Return ``float(value)`` for a real number (not a bool, not NaN) in range.

    ``minimum`` and ``maximum`` bound it, strictly with ``strict``;
    ``finite=False`` lets infinities pass; ``allow_none`` lets `None` pass
    (returned as `None`).  ``expected`` describes the value in the message
    (default: built from the other options).  Numeric strings are refused:
    ``"0.5"`` is not a number.

    Raises
    ------
    TypeError
        If ``value`` is not a real number (a bool, a string, an array, ...).
    ValueError
        If it is NaN, infinite (unless ``finite=False``) or out of range.

    Examples
    --------
    >>> from astromask._validate import number
    >>> number(2, "sigma", minimum=0, strict=True)
    2.0
    >>> number(float("inf"), "sigma", minimum=0, strict=True)
    Traceback (most recent call last):
    ...
    ValueError: sigma: expected a finite number > 0, got inf
    >>> number("1", "sigma")
    Traceback (most recent call last):
    ...
    TypeError: sigma: expected a finite number, got '1'
    """
    if value is None and allow_none:
        return None
    if expected is None:
        bounds = []
        if minimum is not None:
            bounds.append(f"{'>' if strict else '>='} {minimum:g}")
        if maximum is not None:
            bounds.append(f"{'<' if strict else '<='} {maximum:g}")
        expected = f"a {'finite ' if finite else ''}number" + (
            f" {' and '.join(bounds)}" if bounds else ""
        )
        if allow_none:
            expected += " or None"
    if not _is_real(value):
        msg = f"{name}: expected {expected}, got {value!r}"
        raise TypeError(msg)
    number = float(value)
    inside = not math.isnan(number) and (math.isfinite(number) or not finite)
    if inside and minimum is not None:
        inside = number > minimum if strict else number >= minimum
    if inside and maximum is not None:
        inside = number < maximum if strict else number <= maximum
    if not inside:
        msg = f"{name}: expected {expected}, got {value!r}"
        raise ValueError(msg)
    return number


def path_argument(value, name, *, folder_exists=False, allow_none=False):
    """Return ``value`` as a `~pathlib.Path`, checked where the call enters.

    A `str` or path-like other than ``""`` passes; `None` only with
    ``allow_none``; bytes, numbers and other objects raise a `TypeError`
    naming ``name``.  With ``folder_exists``, the folder that would hold the
    file must exist (a `FileNotFoundError` otherwise), so that a run does not
    fail when it writes, after its work.

    Examples
    --------
    >>> from astromask._validate import path_argument
    >>> path_argument("model.keras", "output").name
    'model.keras'
    >>> path_argument(None, "output")
    Traceback (most recent call last):
    ...
    TypeError: output: expected a path (str or path-like), got None
    """
    from pathlib import Path

    if value is None and allow_none:
        return None
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        msg = f"{name}: expected a path (str or path-like), got {value!r}"
        raise TypeError(msg)
    text = os.fspath(value)
    if not isinstance(text, str) or not text.strip():
        msg = f"{name}: expected a path (str or path-like), got {value!r}"
        raise (TypeError if not isinstance(text, str) else ValueError)(msg)
    path = Path(text)
    if folder_exists and not path.parent.is_dir():
        msg = f"{name}: no such folder {str(path.parent)!r} to write {path.name!r} into"
        raise FileNotFoundError(msg)
    return path
