"""Per-class threshold calibration and prior estimation for `astromask.flag`.

Reads MaxiMask class cubes and truths (boolean cubes, dicts, flag maps);
the EM prior estimate uses Bayes' correction of `astromask.priors`.
Imports from `astromask.metrics._checks` and ``.curves``.
"""

import warnings
from collections.abc import Mapping

import numpy as np

from astromask._validate import positive_number, whole_number
from astromask.classes import CLASS_NAMES, CLASSES, class_index, decode_flags
from astromask.metrics._checks import (
    _combine,
    _exclude_array,
    _prepare,
    _score_array,
    _split_masked,
    _truth_array,
)
from astromask.metrics.curves import _best_index, _check_criterion, _Curve
from astromask.priors import bayes_update, prior_factor

__all__ = ["calibrate_thresholds", "estimate_priors"]

_PRIOR_RANGE = (1e-9, 1 - 1e-6)


def _class_planes(probabilities, classes, name="probabilities"):
    """(class indices, function k -> plane, image shape) of a class cube."""
    data, _ = _split_masked(probabilities, "probabilities")
    if data.ndim < 3:
        msg = (
            f"{name}: expected the class cube of astromask.probabilities, shape "
            f"(14, ny, nx), got shape {data.shape}"
        )
        raise ValueError(msg)
    index = class_index(classes)
    n = len(CLASSES)
    if data.shape[0] == n:
        rows = {int(k): int(k) for k in index}
    elif classes is not None and data.shape[0] == len(index):
        rows = {int(k): row for row, k in enumerate(index)}
    else:
        expected = f"{n}" if classes is None else f"{n} or {len(index)} (one per class)"
        msg = (
            f"{name}: expected {expected} class planes on the first axis, got shape "
            f"{data.shape}; name the planes with classes="
        )
        raise ValueError(msg)

    def plane(k):
        return probabilities[rows[k]]

    return index, plane, data.shape[1:]


def _class_truths(truth, image_shape, classes, name="truth"):
    """``{class index: bool map}`` from a cube, a dict or an integer flag map.

    ``image_shape`` may be None (taken from the truth itself).  ``classes``
    selects; by default all of a cube, the keys of a dict, or the bits present
    in a flag map.
    """
    n = len(CLASSES)
    if isinstance(truth, Mapping):
        keys = class_index(list(truth), argname=name)
        given = dict(zip((int(k) for k in keys), truth.values()))
        wanted = keys if classes is None else class_index(classes)
        missing = [CLASS_NAMES[k] for k in wanted if int(k) not in given]
        if missing:
            msg = f"{name}: no truth for {', '.join(missing)}; add it or leave it out of classes="
            raise ValueError(msg)
        result = {int(k): given[int(k)] for k in wanted}
        if image_shape is None:
            image_shape = np.shape(next(iter(result.values())))
        return result, tuple(image_shape)
    data, mask = _split_masked(truth, "truth")
    if data.dtype.kind in "iu" and (image_shape is None or data.shape == tuple(image_shape)):
        if data.dtype.kind == "i" and np.any(data < 0):
            msg = f"{name}: a flag map must hold non-negative bit codes"
            raise ValueError(msg)
        if classes is None:
            present = int(np.bitwise_or.reduce(data, axis=None)) if data.size else 0
            wanted = [k for k, c in enumerate(CLASSES) if c.bit and present & c.bit]
            if not wanted:
                msg = f"{name}: no class bit is set in the flag map; name the classes with classes="
                raise ValueError(msg)
        else:
            wanted = class_index(classes)
        result = {}
        for k in wanted:
            plane = decode_flags(data, CLASS_NAMES[k])
            result[int(k)] = plane if mask is None else np.ma.MaskedArray(plane, mask)
        return result, data.shape
    if data.dtype.kind != "b":
        msg = (
            f"{name}: expected a boolean class cube, a dict of class name to boolean map, "
            f"or an integer flag map, got dtype {data.dtype}"
        )
        raise TypeError(msg)
    wanted = class_index(classes)
    if image_shape is not None and data.shape == tuple(image_shape):
        if len(wanted) != 1:
            msg = f"{name}: one boolean map is the truth of one class; name it with classes="
            raise ValueError(msg)
        return {int(wanted[0]): truth}, data.shape
    if data.ndim < 3 or data.shape[0] not in (n, len(wanted)):
        msg = (
            f"{name}: expected a boolean cube with {n} (or one per selected class) planes "
            f"on the first axis, got shape {data.shape}"
        )
        raise ValueError(msg)
    if image_shape is not None and data.shape[1:] != tuple(image_shape):
        msg = f"{name}: image shape {data.shape[1:]} does not match {tuple(image_shape)}"
        raise ValueError(msg)
    if data.shape[0] == n:
        result = {int(k): truth[int(k)] for k in wanted}
    else:
        result = {int(k): truth[row] for row, k in enumerate(wanted)}
    return result, data.shape[1:]


def _check_unit_interval(values, name):
    if values.size and (values.min() < 0 or values.max() > 1):
        msg = (
            f"{name}: probabilities must lie in [0, 1], got values in "
            f"[{values.min()}, {values.max()}]"
        )
        raise ValueError(msg)


def calibrate_thresholds(
    probabilities, truth, *, criterion="mcc", target=None, classes=None, exclude=None
):
    """Per-class thresholds for `astromask.flag`, tuned on a labelled frame.

    The thresholds hold for probabilities computed with the priors that
    `astromask.flag` will use: its default is ``priors="default"``, so
    calibrate on ``astromask.probabilities(data, priors="default")``, or on
    ``priors=p`` if you will call ``flag(..., priors=p)``.

    Parameters
    ----------
    probabilities : `numpy.ndarray`
        What `astromask.probabilities` returns: a class cube ``(14, ...)``
        (plane ``k`` is `astromask.classes.CLASSES` ``[k]``), or one plane per
        class of ``classes``; or, with ``classes=None``, a single 2-D
        probability map (for example a deepCR cosmic-ray map).  A masked
        array's mask joins ``exclude``.

    truth : bool array, dict or int array
        The true pixels of each class: a boolean cube like
        ``probabilities``; a dict ``{class name: bool map}``; or an integer
        flag map whose bits are the class bits (`astromask.classes.ClassDef`
        ``.bit``, as `astromask.flag` writes them).  For a single map, a
        bool map of the same shape.

    criterion : {"mcc", "f1", "fpr"}, optional
        As in `best_threshold`: best Matthews correlation coefficient (the
        MaxiMask paper's choice), best F1, or the lowest threshold whose FPR
        does not exceed ``target``.

    target : float, optional
        Target false positive rate, for ``criterion="fpr"``, e.g. ``1e-3``.

    classes : sequence of str, optional
        Classes to calibrate.  Default: every plane of a boolean cube, the
        keys of a dict, the classes whose bit is set somewhere in a flag map.
        BG (no bit) is calibrated from a flag map only when named; its truth
        is then the pixels with no bit set.

    exclude : array-like of bool, optional
        Pixels left out, image-shaped (shared by all classes).

    Returns
    -------
    thresholds : dict or float
        ``{class name: threshold}``, for ``flag(ccd, thresholds=...)`` (a
        dict updates the default thresholds); a float for a single map.
        Thresholds are probability values: the rule is ``p > threshold``;
        ``-inf`` (every pixel) is returned as 0.0, which flags every pixel
        of non-zero probability.

    Raises
    ------
    ValueError
        If a class has no positive (or, for MCC and FPR, no negative) pixel
        outside ``exclude``: its threshold cannot be calibrated; leave it
        out with ``classes=``.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import calibrate_thresholds
    >>> p = np.zeros((14, 2, 3), dtype=np.float32)
    >>> p[0] = [[0.9, 0.6, 0.1], [0.5, 0.2, 0.1]]  # CR plane
    >>> truth = {"CR": np.array([[True, True, False], [False, False, False]])}
    >>> calibrate_thresholds(p, truth)
    {'CR': 0.5}
    """
    _check_criterion(criterion, target)
    data, _ = _split_masked(probabilities, "probabilities")
    if classes is None and data.ndim == 2:
        values, truth_1d, boolean = _prepare(probabilities, truth, exclude, 0, "probabilities")
        if boolean:
            msg = "probabilities: expected a float probability map, got a boolean mask"
            raise TypeError(msg)
        _check_unit_interval(values, "probabilities")
        curve = _Curve(values, truth_1d)
        return max(float(curve.thresholds[_best_index(curve, criterion, target)]), 0.0)
    index, plane, image_shape = _class_planes(probabilities, classes)
    truths, _ = _class_truths(truth, image_shape, classes)
    empty = []
    results = {}
    for k, truth_k in truths.items():
        name = CLASS_NAMES[k]
        values, truth_1d, boolean = _prepare(plane(k), truth_k, exclude, 0)
        if boolean:
            msg = "probabilities: expected float probabilities, got a boolean array"
            raise TypeError(msg)
        _check_unit_interval(values, f"probabilities ({name})")
        curve = _Curve(values, truth_1d)
        if curve.positives == 0 or (criterion != "f1" and curve.negatives == 0):
            empty.append(name)
            continue
        results[name] = max(float(curve.thresholds[_best_index(curve, criterion, target)]), 0.0)
    if empty:
        msg = (
            f"truth: {', '.join(empty)} ha{'s' if len(empty) == 1 else 've'} no positive "
            "(or no negative) pixel outside exclude, so no threshold can be calibrated; "
            "leave them out with classes="
        )
        raise ValueError(msg)
    return results


def _em_prior(values, training, *, tol, max_iter, name):
    """EM prior-shift estimate (Saerens et al. 2002) of one class."""
    p = values.astype(np.float32, copy=False)
    t = float(training)
    q = t
    buffer = np.empty_like(p)
    for _ in range(max_iter):
        # Bayes' update p' = p / (p + f (1 - p)); f in float64, cast to float32.
        bayes_update(p, prior_factor(t, q), out=buffer)
        new = float(np.mean(buffer, dtype=np.float64))
        new = min(max(new, _PRIOR_RANGE[0]), _PRIOR_RANGE[1])
        if abs(new - q) <= tol * q:
            return new
        q = new
    warnings.warn(
        f"estimate_priors: {name} did not converge in {max_iter} iterations (prior {q:.3g}); "
        "the class may be absent; raise max_iter or check the input is raw (priors=None)",
        RuntimeWarning,
        stacklevel=3,
    )
    return q


def estimate_priors(
    probabilities=None, *, truth=None, classes=None, exclude=None, tol=1e-6, max_iter=1000
):
    """Class priors (expected pixel fractions) for `astromask.flag`.

    Give exactly one of:

    ``truth``
        A labelled frame: the prior of each class is its fraction of the
        pixels outside ``exclude``.
    ``probabilities``
        The **raw** network output, ``astromask.probabilities(data,
        priors=None)`` (unlabelled data).  Each class is a two-class problem
        (class or not); its prior ``q`` is re-estimated by the EM algorithm
        of Saerens, Latinne & Decaestecker (2002), starting from the training
        prior ``t`` (`astromask.classes.ClassDef.training_prior`): correct the
        probabilities with the Bayes update of the paper's section 5 (as
        `astromask.priors.apply_priors`),
        ``p' = p / (p + f (1 - p))``, ``f = t / (1 - t) * (1 - q) / q``,
        then set ``q`` to the mean of ``p'``; repeat until ``q`` changes by
        less than ``tol`` (relative).  The fixed point is the
        maximum-likelihood prior of the data under the network's model.

    Parameters
    ----------
    probabilities : `numpy.ndarray`, optional
        Raw class cube ``(14, ...)``, or one plane per class of ``classes``.

    truth : bool array, dict or int array, optional
        As in `calibrate_thresholds`: boolean class cube, dict of class name
        to boolean map, or integer flag map.

    classes : sequence of str, optional
        Classes to estimate (default: all planes; for a truth, as in
        `calibrate_thresholds`).

    exclude : array-like of bool, optional
        Image-shaped pixels left out.

    tol : float, optional
        Relative convergence tolerance of the EM iterations.

    max_iter : int, optional
        Iteration limit; a `RuntimeWarning` says when it is reached.

    Returns
    -------
    priors : dict
        ``{class name: prior}``, for ``flag(..., priors=...)`` or
        ``probabilities(..., priors=...)``.  EM estimates are kept within
        [1e-9, 1 - 1e-6], inside the open interval that ``flag`` accepts (a
        class absent from the data ends at 1e-9).

    Raises
    ------
    ValueError
        With ``truth``, if a class has no pixel (or only pixels) of its own
        outside ``exclude``: its prior would be 0 (or 1), which ``flag``
        refuses.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import estimate_priors
    >>> flags = np.zeros((10, 10), dtype=np.uint16)
    >>> flags[0, :2] = 1  # two cosmic-ray pixels (bit 1)
    >>> estimate_priors(truth=flags)
    {'CR': 0.02}
    """
    if (probabilities is None) == (truth is None):
        msg = "estimate_priors: give either probabilities (raw, priors=None) or truth, not both"
        raise ValueError(msg)
    positive_number(tol, "tol")
    whole_number(max_iter, "max_iter", minimum=1)
    result = {}
    if truth is not None:
        truths, shape = _class_truths(truth, None, classes)
        bad = []
        for k, truth_k in truths.items():
            name = CLASS_NAMES[k]
            data, mask = _truth_array(truth_k, shape, name=f"truth ({name})")
            skip = _combine(_exclude_array(exclude, shape), mask)
            if skip is not None:
                data = data[~skip]
            if data.size == 0:
                msg = "exclude: every pixel is excluded; nothing is left to count"
                raise ValueError(msg)
            count = int(np.count_nonzero(data))
            if count in (0, data.size):
                bad.append(name)
            result[name] = count / data.size
        if bad:
            msg = (
                f"truth: {', '.join(bad)} cover no pixel (or every pixel) outside exclude; "
                "a prior must lie strictly between 0 and 1; leave them out with classes="
            )
            raise ValueError(msg)
        return result
    index, plane, _ = _class_planes(probabilities, classes)
    for k in index:
        name = CLASS_NAMES[k]
        scores, mask, boolean = _score_array(plane(k), name=f"probabilities ({name})")
        if boolean:
            msg = "probabilities: expected float probabilities, got a boolean array"
            raise TypeError(msg)
        skip = _combine(_exclude_array(exclude, scores.shape), mask)
        values = scores.reshape(-1) if skip is None else scores[~skip]
        if values.size == 0:
            msg = "exclude: every pixel is excluded; nothing is left to estimate from"
            raise ValueError(msg)
        if not np.all(np.isfinite(values)):
            msg = f"probabilities ({name}): NaN or infinite values; leave them out with exclude="
            raise ValueError(msg)
        _check_unit_interval(values, f"probabilities ({name})")
        training = CLASSES[k].training_prior
        result[name] = _em_prior(values, training, tol=tol, max_iter=max_iter, name=name)
    return result
