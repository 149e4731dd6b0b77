"""Detection measures, ROC and precision-recall curves, threshold and prior calibration.

Everything here is numpy: no Keras, no network.  Give a prediction
(a score or probability map, or a boolean mask such as L.A. Cosmic's) and a
boolean truth of the same shape, 2-D or a 3-D stack of frames.

Decision rule
    A pixel is predicted positive when its score is **strictly greater** than
    the threshold, ``score > threshold``, after rounding the threshold to the
    scores' precision (float32 for a float32 map): exactly what
    `astromask.flag` does (`astromask.inference.threshold`).  Every
    threshold returned here is one of the scores (or ``-inf``: every pixel
    positive), so it reproduces the operating point exactly when given back
    to `confusion_counts` or `astromask.flag`.

Undefined measures
    A ratio whose denominator is zero is ``nan``: TPR when the truth has no
    positive pixel, FPR when it has no negative pixel, precision and FDR when
    nothing is predicted, F1 and IoU when there is neither a true nor a
    predicted positive, MCC when any of TP+FP, TP+FN, TN+FP, TN+FN is zero.
    The only exception is the last point of `precision_recall_curve`
    (precision 1, recall 0), which follows scikit-learn.

Exclusion, masks and NaN
    ``exclude`` (and the mask of a masked prediction or truth) leaves pixels
    out of every count.  NaN or infinite scores are refused unless excluded.

Dilation
    ``dilate=k`` replaces the prediction by its maximum over a
    ``(2k+1) x (2k+1)`` square of each frame (`scipy.ndimage.maximum_filter`:
    grey dilation of scores, binary dilation of masks) before scoring, so
    thresholding the dilated scores equals dilating the thresholded mask.
    deepCR reports TPR with ``dilate=1``.  The truth is not dilated.  The
    dilation runs before the exclusion: an excluded pixel's own score still
    spreads to its neighbours, except where it is NaN, infinite or masked
    (no detection).

Curves and calibration sort the scores once (float32 stays float32):
``O(n log n)`` time and a few copies of the map in memory.
"""

import math
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from astromask import classes as class_table

__all__ = [
    "ConfusionCounts",
    "DetectionScores",
    "best_threshold",
    "calibrate_thresholds",
    "confusion_counts",
    "detection_scores",
    "estimate_priors",
    "evaluate",
    "evaluation_table",
    "plot_precision_recall",
    "plot_roc",
    "precision_at_tpr",
    "precision_recall_curve",
    "roc_curve",
    "tpr_at_fpr",
]

__doctest_requires__ = {("plot_roc", "plot_precision_recall"): ["matplotlib"]}

_CRITERIA = ("mcc", "f1", "fpr")
_DEFAULT_FPR = (1e-4, 5e-4, 1e-3, 5e-3)
_PRIOR_RANGE = (1e-9, 1 - 1e-6)


# ----------------------------------------------------------------------------
# Argument checks
# ----------------------------------------------------------------------------


def _split_masked(array):
    """(plain ndarray, mask or None) of an array-like or a masked array."""
    if isinstance(array, np.ma.MaskedArray):
        mask = np.ma.getmask(array)
        return np.asarray(array.data), (None if mask is np.ma.nomask else np.asarray(mask))
    return np.asarray(array), None


def _score_array(prediction, name="prediction"):
    """(scores, mask, boolean): float32/float64 scores, or a bool mask."""
    data, mask = _split_masked(prediction)
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
    data, mask = _split_masked(truth)
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
    if isinstance(dilate, bool) or not isinstance(dilate, numbers.Integral) or dilate < 0:
        msg = (
            f"dilate: expected a non-negative integer (k dilates the prediction with a "
            f"(2k+1)x(2k+1) square; 0 for none), got {dilate!r}"
        )
        raise ValueError(msg)
    if dilate and ndim < 2:
        msg = f"dilate: needs a 2-D image or a stack of images, got {ndim} dimension(s)"
        raise ValueError(msg)
    return int(dilate)


def _check_threshold(threshold, name="threshold"):
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        msg = f"{name}: expected a number, got {threshold!r}"
        raise TypeError(msg)
    if math.isnan(threshold):
        msg = f"{name}: expected a number, got nan"
        raise ValueError(msg)
    return threshold


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


def _prepare(prediction, truth, exclude, dilate):
    """Scores and truth of the scored pixels, as fresh 1-D arrays.

    Returns ``(values, truth, boolean)``; ``values`` is bool for a mask,
    float32 or float64 for scores, and is a copy the caller may sort.
    """
    scores, pred_mask, boolean = _score_array(prediction)
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
                    f"prediction: {count} NaN or infinite score(s) outside exclude; "
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


# ----------------------------------------------------------------------------
# Counts and single-threshold measures
# ----------------------------------------------------------------------------


def _ratio(num, den):
    return num / den if den else math.nan


def _mcc(tp, fp, fn, tn):
    factors = (tp + fp, tp + fn, tn + fp, tn + fn)
    if not all(factors):
        return math.nan
    return (tp * tn - fp * fn) / math.sqrt(math.prod(factors))


class ConfusionCounts(NamedTuple):
    """Pixel counts of a detection against the truth.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import confusion_counts
    >>> counts = confusion_counts(np.array([True, True, False]), np.array([True, False, True]))
    >>> counts
    ConfusionCounts(tp=1, fp=1, fn=1, tn=0)
    >>> counts.tp + counts.fn  # the true pixels
    2
    """

    tp: int
    """True positives: predicted and true."""
    fp: int
    """False positives: predicted, not true."""
    fn: int
    """False negatives: true, not predicted."""
    tn: int
    """True negatives: neither."""


@dataclass(frozen=True)
class DetectionScores:
    """Confusion counts and the measures derived from them.

    Build it with `detection_scores`; every measure is computed from the four
    counts, and is ``nan`` where its denominator is zero.

    Parameters
    ----------
    tp, fp, fn, tn : int
        True positives, false positives, false negatives, true negatives.

    threshold : float or None
        Threshold used (``score > threshold``); `None` for a boolean mask.

    Attributes
    ----------
    tpr : float
        True positive rate (recall, completeness), TP / (TP + FN).
    fpr : float
        False positive rate, FP / (FP + TN).
    precision : float
        Precision (purity), TP / (TP + FP).
    fdr : float
        False discovery rate, FP / (TP + FP) = 1 - precision.
    f1 : float
        F1 score, 2 TP / (2 TP + FP + FN).
    iou : float
        Intersection over union (Jaccard index), TP / (TP + FP + FN).
    mcc : float
        Matthews correlation coefficient,
        (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)).

    Examples
    --------
    >>> from astromask.metrics import DetectionScores
    >>> scores = DetectionScores(tp=8, fp=2, fn=2, tn=88, threshold=0.5)
    >>> scores.tpr, scores.precision, scores.f1, round(scores.iou, 4)
    (0.8, 0.8, 0.8, 0.6667)
    >>> scores.counts
    ConfusionCounts(tp=8, fp=2, fn=2, tn=88)
    >>> DetectionScores(tp=0, fp=0, fn=5, tn=95).precision  # no positive prediction
    nan
    """

    tp: int
    fp: int
    fn: int
    tn: int
    threshold: float | None = None
    tpr: float = field(init=False)
    fpr: float = field(init=False)
    precision: float = field(init=False)
    fdr: float = field(init=False)
    f1: float = field(init=False)
    iou: float = field(init=False)
    mcc: float = field(init=False)

    def __post_init__(self):
        tp, fp, fn, tn = (int(v) for v in (self.tp, self.fp, self.fn, self.tn))
        values = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "tn": tn,
            "tpr": _ratio(tp, tp + fn),
            "fpr": _ratio(fp, fp + tn),
            "precision": _ratio(tp, tp + fp),
            "fdr": _ratio(fp, tp + fp),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "iou": _ratio(tp, tp + fp + fn),
            "mcc": _mcc(tp, fp, fn, tn),
        }
        for key, value in values.items():
            object.__setattr__(self, key, value)

    @property
    def counts(self):
        """`ConfusionCounts` ``(tp, fp, fn, tn)``."""
        return ConfusionCounts(self.tp, self.fp, self.fn, self.tn)


def _counts(values, truth, boolean, threshold):
    predicted = values if boolean else values > _cast(threshold, values.dtype)
    n = predicted.size
    n_pred = int(np.count_nonzero(predicted))
    positives = int(np.count_nonzero(truth))
    tp = int(np.count_nonzero(predicted & truth))
    return ConfusionCounts(tp, n_pred - tp, positives - tp, n - n_pred - positives + tp)


def confusion_counts(prediction, truth, *, threshold=0.5, exclude=None, dilate=0):
    """Count true/false positives and negatives of a detection.

    Parameters
    ----------
    prediction : array-like of float or bool
        Score or probability map (a pixel is positive where
        ``score > threshold``, as in `astromask.flag`), or a boolean mask.
        2-D, or a stack of frames (dilation acts on the last two axes).  A
        masked array's mask joins ``exclude``.

    truth : array-like of bool
        True contaminated pixels, same shape.  A masked array's mask joins
        ``exclude``.

    threshold : float, optional
        Decision threshold for scores (strict ``>``, compared in the scores'
        precision, as `astromask.flag`); ignored for a boolean prediction.

    exclude : array-like of bool, optional
        Pixels left out of all counts (for example unlabelled hits or bad
        pixels); broadcast to the prediction's shape.

    dilate : int, optional
        Dilate the prediction with a ``(2k+1) x (2k+1)`` square per frame
        before counting (0: none).

    Returns
    -------
    counts : `ConfusionCounts`
        Named tuple ``(tp, fp, fn, tn)`` of Python ints.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import confusion_counts
    >>> scores = np.array([[0.9, 0.2], [0.6, 0.4]])
    >>> truth = np.array([[True, True], [False, False]])
    >>> confusion_counts(scores, truth, threshold=0.5)
    ConfusionCounts(tp=1, fp=1, fn=1, tn=1)
    """
    threshold = _check_threshold(threshold)
    values, truth, boolean = _prepare(prediction, truth, exclude, dilate)
    return _counts(values, truth, boolean, threshold)


def detection_scores(prediction, truth, *, threshold=0.5, exclude=None, dilate=0):
    """Detection measures at one threshold (or of one boolean mask).

    Parameters
    ----------
    prediction : array-like of float or bool
        Score map (positive where ``score > threshold``) or boolean mask.

    truth : array-like of bool
        True contaminated pixels, same shape.

    threshold : float, optional
        Decision threshold (``score > threshold``, compared in the scores'
        precision); ignored for a boolean prediction.

    exclude : array-like of bool, optional
        Pixels left out of all counts.

    dilate : int, optional
        Dilate the prediction with a ``(2k+1) x (2k+1)`` square first.

    Returns
    -------
    scores : `DetectionScores`
        Counts, TPR, FPR, precision, FDR, F1, IoU and MCC (``nan`` where
        undefined), and the threshold (`None` for a boolean mask).

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import detection_scores
    >>> scores = np.array([[0.9, 0.8], [0.7, 0.1]])
    >>> truth = np.array([[True, True], [False, False]])
    >>> s = detection_scores(scores, truth, threshold=0.5)
    >>> s.tp, s.fp, s.tpr, s.precision, round(s.mcc, 4)
    (2, 1, 1.0, 0.6666666666666666, 0.5774)
    """
    threshold = _check_threshold(threshold)
    values, truth, boolean = _prepare(prediction, truth, exclude, dilate)
    counts = _counts(values, truth, boolean, threshold)
    return DetectionScores(*counts, threshold=None if boolean else float(threshold))


# ----------------------------------------------------------------------------
# Curves
# ----------------------------------------------------------------------------


class _Curve:
    """Counts at every distinct score, thresholds in decreasing order.

    ``thresholds[0]`` is the highest score (nothing predicted); then every
    lower distinct score; the last is ``-inf`` (everything predicted).
    """

    def __init__(self, values, truth):
        if values.dtype.kind == "b":
            values = values.astype(np.float32)
        self.n = n = values.size
        self.positives = int(np.count_nonzero(truth))
        self.negatives = n - self.positives
        self._pos = values[truth]
        self._pos.sort()
        values.sort()
        self._sorted = values
        change = np.flatnonzero(values[1:] != values[:-1])
        ends = np.append(change + 1, n)
        unique_desc = values[ends - 1][::-1]
        self.thresholds = np.append(unique_desc, np.array(-np.inf, dtype=values.dtype))
        predicted = np.append(n - ends[::-1], n)
        self.tp = np.append(
            self.positives - np.searchsorted(self._pos, unique_desc, side="right"),
            self.positives,
        )
        self.fp = predicted - self.tp
        self._cache = {}

    def counts_at(self, threshold):
        threshold = _cast(threshold, self._sorted.dtype)
        n_pred = self.n - int(np.searchsorted(self._sorted, threshold, side="right"))
        tp = self.positives - int(np.searchsorted(self._pos, threshold, side="right"))
        return ConfusionCounts(tp, n_pred - tp, self.positives - tp, self.negatives - n_pred + tp)

    def require(self, positives=False, negatives=False, what="this measure"):
        if positives and self.positives == 0:
            msg = f"truth: no positive pixel outside exclude; {what} is undefined"
            raise ValueError(msg)
        if negatives and self.negatives == 0:
            msg = f"truth: no negative pixel outside exclude; {what} is undefined"
            raise ValueError(msg)

    @staticmethod
    def _div(num, den):
        num = np.asarray(num, dtype=np.float64)
        den = np.asarray(den, dtype=np.float64)
        out = np.full(np.broadcast(num, den).shape, np.nan)
        np.divide(num, den, out=out, where=den != 0)
        return out

    def tpr(self):
        return self._cached("tpr", lambda: self._div(self.tp, self.positives))

    def fpr(self):
        return self._cached("fpr", lambda: self._div(self.fp, self.negatives))

    def precision(self):
        return self._cached("precision", lambda: self._div(self.tp, self.tp + self.fp))

    def f1(self):
        return self._cached(
            "f1", lambda: self._div(2 * self.tp, self.tp + self.fp + self.positives)
        )

    def mcc(self):
        return self._cached("mcc", self._mcc)

    def _cached(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def _mcc(self):
        tp = self.tp.astype(np.float64)
        fp = self.fp.astype(np.float64)
        fn = self.positives - tp
        tn = self.negatives - fp
        den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        return self._div(tp * tn - fp * fn, den)


def _curve(scores, truth, exclude, dilate):
    values, truth, _ = _prepare(scores, truth, exclude, dilate)
    return _Curve(values, truth)


def _targets(values, name, *, low=0.0, high=1.0):
    array = np.asarray(values, dtype=np.float64)
    if array.ndim > 1 or array.size == 0 or not np.all((array >= low) & (array <= high)):
        msg = f"{name}: expected a number or a sequence of numbers in [{low}, {high}], got {values}"
        raise ValueError(msg)
    return array


def _unwrap(array, scalar):
    return float(array[0]) if scalar else array


def roc_curve(scores, truth, *, exclude=None, dilate=0):
    """Receiver operating characteristic: FPR and TPR at every distinct score.

    Parameters
    ----------
    scores : array-like of float or bool
        Score or probability map (a boolean mask gives a 3-point curve).

    truth : array-like of bool
        True contaminated pixels, same shape; needs positive and negative
        pixels outside ``exclude``.

    exclude : array-like of bool, optional
        Pixels left out of all counts.

    dilate : int, optional
        Dilate the scores with a ``(2k+1) x (2k+1)`` square first.

    Returns
    -------
    fpr, tpr : `numpy.ndarray` of float64
        Non-decreasing rates, from ``(0, 0)`` to ``(1, 1)``.

    thresholds : `numpy.ndarray`
        Decreasing thresholds (the scores' dtype): point ``i`` is the
        detection ``score > thresholds[i]``.  The first is the highest score
        (nothing detected), the last ``-inf`` (everything detected).  The
        rates equal scikit-learn's ``roc_curve(drop_intermediate=False)``;
        its thresholds use ``>=`` and so are ours shifted by one place.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import roc_curve
    >>> scores = np.array([[0.9, 0.4], [0.4, 0.1]], dtype=np.float32)
    >>> truth = np.array([[True, True], [False, False]])
    >>> fpr, tpr, thresholds = roc_curve(scores, truth)
    >>> fpr, tpr
    (array([0. , 0. , 0.5, 1. ]), array([0. , 0.5, 1. , 1. ]))
    >>> thresholds
    array([ 0.9,  0.4,  0.1, -inf], dtype=float32)
    """
    curve = _curve(scores, truth, exclude, dilate)
    curve.require(positives=True, negatives=True, what="the ROC curve")
    return curve.fpr(), curve.tpr(), curve.thresholds


def precision_recall_curve(scores, truth, *, exclude=None, dilate=0):
    """Precision and recall at every distinct score, as scikit-learn orders them.

    Parameters
    ----------
    scores : array-like of float or bool
        Score or probability map.

    truth : array-like of bool
        True contaminated pixels, same shape; needs positive pixels outside
        ``exclude``.

    exclude : array-like of bool, optional
        Pixels left out of all counts.

    dilate : int, optional
        Dilate the scores with a ``(2k+1) x (2k+1)`` square first.

    Returns
    -------
    precision, recall : `numpy.ndarray` of float64
        One value per threshold, recall decreasing, then a last point
        ``(1, 0)`` without threshold (scikit-learn's convention).

    thresholds : `numpy.ndarray`
        Increasing thresholds: point ``i`` is ``score > thresholds[i]``; the
        first is ``-inf`` (everything detected).  The values equal
        scikit-learn's ``precision_recall_curve``; its thresholds use ``>=``
        and so are ours shifted by one place.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import precision_recall_curve
    >>> scores = np.array([[0.9, 0.4], [0.4, 0.1]], dtype=np.float32)
    >>> truth = np.array([[True, True], [False, False]])
    >>> precision, recall, thresholds = precision_recall_curve(scores, truth)
    >>> precision, recall
    (array([0.5       , 0.66666667, 1.        , 1.        ]), array([1. , 1. , 0.5, 0. ]))
    >>> thresholds
    array([-inf, 0.1, 0.4], dtype=float32)
    """
    curve = _curve(scores, truth, exclude, dilate)
    curve.require(positives=True, what="recall")
    order = slice(None, 0, -1)  # points with a detection, lowest threshold first
    precision = np.append(curve.precision()[order], 1.0)
    recall = np.append(curve.tpr()[order], 0.0)
    return precision, recall, curve.thresholds[order]


def _index_at_fpr(curve, targets):
    """Index of the lowest threshold whose FPR <= each target."""
    return np.searchsorted(curve.fpr(), targets, side="right") - 1


def tpr_at_fpr(scores, truth, fpr=_DEFAULT_FPR, *, exclude=None, dilate=0):
    """True positive rate at fixed false positive rates.

    For each target, the operating point is the lowest threshold whose FPR
    does not exceed the target (the largest FPR <= target, which gives the
    largest TPR under that constraint); no interpolation between points.

    Parameters
    ----------
    scores : array-like of float
        Score or probability map.

    truth : array-like of bool
        True contaminated pixels, same shape.

    fpr : float or sequence of float, optional
        Target false positive rates, in [0, 1].

    exclude : array-like of bool, optional
        Pixels left out of all counts.

    dilate : int, optional
        Dilate the scores with a ``(2k+1) x (2k+1)`` square first.

    Returns
    -------
    tpr : float or `numpy.ndarray`
        TPR at each target (a float for a scalar target).

    thresholds : float or `numpy.ndarray`
        The thresholds reaching them (``score > threshold``).

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import tpr_at_fpr
    >>> scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    >>> truth = np.array([True, True, False, True, False, False, False, False])
    >>> tpr_at_fpr(scores, truth, fpr=[0.0, 0.2])
    (array([0.66666667, 1.        ]), array([0.7, 0.5]))
    """
    scalar = np.ndim(fpr) == 0
    targets = np.atleast_1d(_targets(fpr, "fpr"))
    curve = _curve(scores, truth, exclude, dilate)
    curve.require(positives=True, negatives=True, what="TPR at fixed FPR")
    index = _index_at_fpr(curve, targets)
    tpr = curve.tpr()[index]
    thresholds = curve.thresholds[index].astype(np.float64)
    return _unwrap(tpr, scalar), _unwrap(thresholds, scalar)


def _index_at_tpr(curve, targets):
    """Index of the highest threshold whose TPR >= each target."""
    index = np.searchsorted(curve.tpr(), targets, side="left")
    return np.minimum(index, curve.tp.size - 1)


def precision_at_tpr(scores, truth, tpr=0.95, *, exclude=None, dilate=0):
    """Precision at fixed true positive rates.

    For each target, the operating point is the highest threshold whose TPR
    reaches the target (the fewest detections that find that fraction of
    the true pixels).

    Parameters
    ----------
    scores : array-like of float
        Score or probability map.

    truth : array-like of bool
        True contaminated pixels, same shape.

    tpr : float or sequence of float, optional
        Target true positive rates, in [0, 1].

    exclude : array-like of bool, optional
        Pixels left out of all counts.

    dilate : int, optional
        Dilate the scores with a ``(2k+1) x (2k+1)`` square first.

    Returns
    -------
    precision : float or `numpy.ndarray`
        Precision at each target (``nan`` for a target of 0: nothing
        detected).

    thresholds : float or `numpy.ndarray`
        The thresholds (``score > threshold``).

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import precision_at_tpr
    >>> scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    >>> truth = np.array([True, False, True, False, False, True])
    >>> precision_at_tpr(scores, truth, tpr=0.6)
    (0.6666666666666666, 0.6)
    """
    scalar = np.ndim(tpr) == 0
    targets = np.atleast_1d(_targets(tpr, "tpr"))
    curve = _curve(scores, truth, exclude, dilate)
    curve.require(positives=True, what="precision at fixed TPR")
    index = _index_at_tpr(curve, targets)
    precision = curve.precision()[index]
    thresholds = curve.thresholds[index].astype(np.float64)
    return _unwrap(precision, scalar), _unwrap(thresholds, scalar)


def _check_criterion(criterion, target):
    if criterion not in _CRITERIA:
        msg = f"criterion: expected one of {', '.join(map(repr, _CRITERIA))}, got {criterion!r}"
        raise ValueError(msg)
    if criterion == "fpr":
        if target is None:
            msg = "target: criterion='fpr' needs the false positive rate to reach, e.g. 1e-3"
            raise ValueError(msg)
        _targets(target, "target")
        if np.ndim(target) != 0:
            msg = f"target: expected one number in [0, 1], got {target!r}"
            raise ValueError(msg)
    elif target is not None:
        msg = f"target: only used with criterion='fpr'; leave it out for {criterion!r}"
        raise ValueError(msg)


def _best_index(curve, criterion, target):
    if criterion == "fpr":
        curve.require(negatives=True, what="the FPR")
        return int(_index_at_fpr(curve, float(target)))
    curve.require(positives=True, negatives=criterion == "mcc", what=criterion.upper())
    values = curve.mcc() if criterion == "mcc" else curve.f1()
    if np.all(np.isnan(values)):
        msg = f"truth: {criterion.upper()} is undefined at every threshold"
        raise ValueError(msg)
    # Highest threshold among the maxima (equal to rounding).
    return int(np.flatnonzero(values >= np.nanmax(values) - 1e-12)[0])


def best_threshold(scores, truth, *, criterion="mcc", target=None, exclude=None, dilate=0):
    """The threshold that is best by a criterion.

    Parameters
    ----------
    scores : array-like of float
        Score or probability map.

    truth : array-like of bool
        True contaminated pixels, same shape.

    criterion : {"mcc", "f1", "fpr"}, optional
        ``"mcc"``: highest Matthews correlation coefficient (the MaxiMask
        paper's choice); ``"f1"``: highest F1 score; ties go to the highest
        threshold.  ``"fpr"``: the lowest threshold whose FPR <= ``target``.

    target : float, optional
        Target false positive rate, for ``criterion="fpr"`` only.

    exclude : array-like of bool, optional
        Pixels left out of all counts.

    dilate : int, optional
        Dilate the scores with a ``(2k+1) x (2k+1)`` square first.

    Returns
    -------
    threshold : float
        A score value (or ``-inf``: every pixel); detect with
        ``score > threshold``.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import best_threshold
    >>> scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    >>> truth = np.array([True, True, False, True, False, False, False, False])
    >>> best_threshold(scores, truth)
    0.5
    >>> best_threshold(scores, truth, criterion="fpr", target=0.0)
    0.7
    """
    _check_criterion(criterion, target)
    curve = _curve(scores, truth, exclude, dilate)
    return float(curve.thresholds[_best_index(curve, criterion, target)])


# ----------------------------------------------------------------------------
# One row of the papers' numbers
# ----------------------------------------------------------------------------


def evaluate(
    prediction,
    truth,
    *,
    threshold=None,
    exclude=None,
    dilate=0,
    fpr=_DEFAULT_FPR,
    name=None,
):
    """The detection numbers of the MaxiMask, deepCR and Cosmic-CoNN papers.

    Parameters
    ----------
    prediction : array-like of float or bool
        Score map, or a boolean mask (for example L.A. Cosmic's).

    truth : array-like of bool
        True contaminated pixels, same shape.

    threshold : float, optional
        Operating threshold for the single-point columns; default: the
        best-MCC threshold.  Ignored for a boolean mask.

    exclude : array-like of bool, optional
        Pixels left out of all counts.

    dilate : int, optional
        Dilation of the prediction for every column but the ``3x3`` ones.

    fpr : sequence of float, optional
        False positive rates for the ``TPR@FPR=`` columns.

    name : str, optional
        Detector name for the ``name`` column.

    Returns
    -------
    row : dict
        ``name``; ``TPR@FPR=<f>`` for each ``f`` in ``fpr`` (see
        `tpr_at_fpr`); ``precision@TPR=0.95`` (see `precision_at_tpr`);
        ``best MCC`` and ``best MCC threshold``; at ``threshold``:
        ``threshold``, ``TPR``, ``FPR``, ``precision``, ``FDR``, ``F1``,
        ``IoU``, ``MCC``; and ``TPR 3x3``, ``FPR 3x3``: TPR and FPR at
        ``threshold`` after dilating the prediction with a 3x3 square
        (``dilate=1``, as deepCR reports).  For a boolean mask the curve
        columns and the thresholds are ``nan``: a mask has one operating
        point.  Give several rows to `evaluation_table`.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import evaluate
    >>> scores = np.array([[0.9, 0.8, 0.1], [0.7, 0.2, 0.1]], dtype=np.float32)
    >>> truth = np.array([[True, True, False], [False, False, False]])
    >>> row = evaluate(scores, truth, name="toy")
    >>> row["best MCC"], row["threshold"], row["TPR@FPR=0.0001"]
    (1.0, 0.699999988079071, 1.0)
    """
    fpr_targets = np.atleast_1d(_targets(fpr, "fpr"))
    if name is not None and not isinstance(name, str):
        msg = f"name: expected a string, got {name!r}"
        raise TypeError(msg)
    values, truth_1d, boolean = _prepare(prediction, truth, exclude, dilate)
    row = {"name": name or ""}
    nan = math.nan
    if boolean:
        counts = _counts(values, truth_1d, True, None)
        row.update({f"TPR@FPR={f:g}": nan for f in fpr_targets})
        row.update({"precision@TPR=0.95": nan, "best MCC": nan, "best MCC threshold": nan})
        used = nan
    else:
        if threshold is not None:
            threshold = _check_threshold(threshold)
        curve = _Curve(values, truth_1d)
        curve.require(positives=True, negatives=True, what="evaluate's curve columns")
        tprs = curve.tpr()[_index_at_fpr(curve, fpr_targets)]
        row.update({f"TPR@FPR={f:g}": float(t) for f, t in zip(fpr_targets, tprs)})
        at = int(_index_at_tpr(curve, 0.95))
        row["precision@TPR=0.95"] = float(curve.precision()[at])
        best = _best_index(curve, "mcc", None)
        row["best MCC"] = float(curve.mcc()[best])
        row["best MCC threshold"] = float(curve.thresholds[best])
        used = row["best MCC threshold"] if threshold is None else float(threshold)
        counts = curve.counts_at(used)
        del curve
    del values, truth_1d
    scores = DetectionScores(*counts)
    row.update(
        {
            "threshold": used,
            "TPR": scores.tpr,
            "FPR": scores.fpr,
            "precision": scores.precision,
            "FDR": scores.fdr,
            "F1": scores.f1,
            "IoU": scores.iou,
            "MCC": scores.mcc,
        }
    )
    dilated = detection_scores(
        prediction, truth, threshold=0.0 if boolean else used, exclude=exclude, dilate=1
    )
    row["TPR 3x3"] = dilated.tpr
    row["FPR 3x3"] = dilated.fpr
    return row


def evaluation_table(results):
    """Gather `evaluate` rows into an `~astropy.table.Table`, one row per detector.

    Parameters
    ----------
    results : dict or sequence of dict
        Rows from `evaluate`; in a dict ``{name: row}`` the keys give the
        ``name`` column.

    Returns
    -------
    table : `~astropy.table.Table`

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.metrics import evaluate, evaluation_table
    >>> truth = np.array([[True, True, False], [False, False, False]])
    >>> scores = np.array([[0.9, 0.8, 0.1], [0.7, 0.2, 0.1]], dtype=np.float32)
    >>> rows = {"net": evaluate(scores, truth), "mask": evaluate(scores > 0.75, truth)}
    >>> table = evaluation_table(rows)
    >>> table["name", "TPR", "FPR", "MCC"].pprint()
    name TPR FPR MCC
    ---- --- --- ---
     net   1   0   1
    mask   1   0   1
    """
    from astropy.table import Table

    if isinstance(results, Mapping):
        rows = [{**row, "name": str(key)} for key, row in results.items()]
    else:
        rows = list(results)
    if not rows:
        msg = "results: give at least one row from evaluate"
        raise ValueError(msg)
    keys = list(rows[0])
    for row in rows[1:]:
        if list(row) != keys:
            msg = (
                "results: rows have different columns; evaluate every detector with "
                "the same fpr targets"
            )
            raise ValueError(msg)
    table = Table({key: [row[key] for row in rows] for key in keys})
    for key in keys:
        if table[key].dtype.kind == "f":
            table[key].format = ".4g"
    return table


# ----------------------------------------------------------------------------
# Plots
# ----------------------------------------------------------------------------


def _axes(ax, function):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        msg = f"{function} needs matplotlib: python -m pip install matplotlib"
        raise ImportError(msg) from None
    return plt.gca() if ax is None else ax


def _plot(prediction, truth, ax, label, exclude, dilate, kwargs, *, curve, point, function):
    ax = _axes(ax, function)
    if truth is None:
        x, y = curve(prediction)
        ax.plot(x, y, label=label, **kwargs)
        return ax
    values, truth_1d, boolean = _prepare(prediction, truth, exclude, dilate)
    if boolean:
        x, y = point(DetectionScores(*_counts(values, truth_1d, True, None)))
        kwargs.setdefault("marker", "o")
        kwargs.setdefault("linestyle", "none")
        ax.plot([x], [y], label=label, **kwargs)
    else:
        x, y = curve(_Curve(values, truth_1d))
        ax.plot(x, y, label=label, **kwargs)
    return ax


def plot_roc(prediction, truth=None, *, ax=None, label=None, exclude=None, dilate=0, **kwargs):
    """Plot a ROC curve (TPR against FPR, logarithmic FPR axis).

    Parameters
    ----------
    prediction : array-like or tuple
        A score map (with ``truth``), a boolean mask (with ``truth``; drawn
        as a single point, as L.A. Cosmic in the MaxiMask paper's Fig. 13),
        or the ``(fpr, tpr, thresholds)`` tuple of `roc_curve` (without
        ``truth``).

    truth : array-like of bool, optional
        True contaminated pixels, same shape as a map.

    ax : `matplotlib.axes.Axes`, optional
        Axes to draw in; default: the current axes.

    label : str, optional
        Legend label.

    exclude : array-like of bool, optional
        Pixels left out of all counts.

    dilate : int, optional
        Dilate the prediction with a ``(2k+1) x (2k+1)`` square first.

    **kwargs
        Passed to `matplotlib.axes.Axes.plot`.

    Returns
    -------
    ax : `matplotlib.axes.Axes`

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from astromask.metrics import plot_roc
    >>> scores = np.array([[0.9, 0.4], [0.3, 0.1]])
    >>> truth = np.array([[True, True], [False, False]])
    >>> ax = plot_roc(scores, truth, ax=Figure().add_subplot(), label="toy")
    >>> ax.get_xscale()
    'log'
    """

    def curve(c):
        if isinstance(c, _Curve):
            c.require(positives=True, negatives=True, what="the ROC curve")
            return c.fpr(), c.tpr()
        return np.asarray(c[0]), np.asarray(c[1])

    ax = _plot(
        prediction,
        truth,
        ax,
        label,
        exclude,
        dilate,
        kwargs,
        curve=curve,
        point=lambda s: (s.fpr, s.tpr),
        function="plot_roc",
    )
    ax.set_xscale("log")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    return ax


def plot_precision_recall(
    prediction, truth=None, *, ax=None, label=None, exclude=None, dilate=0, **kwargs
):
    """Plot a precision-recall curve (precision against recall).

    Parameters
    ----------
    prediction : array-like or tuple
        A score map (with ``truth``), a boolean mask (with ``truth``; one
        point), or the ``(precision, recall, thresholds)`` tuple of
        `precision_recall_curve` (without ``truth``).

    truth : array-like of bool, optional
        True contaminated pixels, same shape as a map.

    ax : `matplotlib.axes.Axes`, optional
        Axes to draw in; default: the current axes.

    label : str, optional
        Legend label.

    exclude : array-like of bool, optional
        Pixels left out of all counts.

    dilate : int, optional
        Dilate the prediction with a ``(2k+1) x (2k+1)`` square first.

    **kwargs
        Passed to `matplotlib.axes.Axes.plot`.

    Returns
    -------
    ax : `matplotlib.axes.Axes`

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> from astromask.metrics import plot_precision_recall
    >>> scores = np.array([[0.9, 0.4], [0.3, 0.1]])
    >>> truth = np.array([[True, True], [False, False]])
    >>> ax = plot_precision_recall(scores, truth, ax=Figure().add_subplot())
    >>> ax.get_xlabel()
    'recall'
    """

    def curve(c):
        if isinstance(c, _Curve):
            c.require(positives=True, what="recall")
            return c.tpr()[1:], c.precision()[1:]
        return np.asarray(c[1]), np.asarray(c[0])

    ax = _plot(
        prediction,
        truth,
        ax,
        label,
        exclude,
        dilate,
        kwargs,
        curve=curve,
        point=lambda s: (s.tpr, s.precision),
        function="plot_precision_recall",
    )
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    return ax


# ----------------------------------------------------------------------------
# Threshold calibration and priors
# ----------------------------------------------------------------------------


def _class_planes(probabilities, classes, name="probabilities"):
    """(class indices, function k -> plane, image shape) of a class cube."""
    data, _ = _split_masked(probabilities)
    if data.ndim < 3:
        msg = (
            f"{name}: expected the class cube of astromask.probabilities, shape "
            f"(14, ny, nx), got shape {data.shape}"
        )
        raise ValueError(msg)
    index = class_table.class_index(classes)
    n = len(class_table.CLASSES)
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
    n = len(class_table.CLASSES)
    if isinstance(truth, Mapping):
        keys = class_table.class_index(list(truth), argname=name)
        given = dict(zip((int(k) for k in keys), truth.values()))
        wanted = keys if classes is None else class_table.class_index(classes)
        missing = [class_table.CLASS_NAMES[k] for k in wanted if int(k) not in given]
        if missing:
            msg = f"{name}: no truth for {', '.join(missing)}; add it or leave it out of classes="
            raise ValueError(msg)
        result = {int(k): given[int(k)] for k in wanted}
        if image_shape is None:
            image_shape = np.shape(next(iter(result.values())))
        return result, tuple(image_shape)
    data, mask = _split_masked(truth)
    if data.dtype.kind in "iu" and (image_shape is None or data.shape == tuple(image_shape)):
        if data.dtype.kind == "i" and np.any(data < 0):
            msg = f"{name}: a flag map must hold non-negative bit codes"
            raise ValueError(msg)
        if classes is None:
            present = int(np.bitwise_or.reduce(data, axis=None)) if data.size else 0
            wanted = [k for k, c in enumerate(class_table.CLASSES) if c.bit and present & c.bit]
            if not wanted:
                msg = f"{name}: no class bit is set in the flag map; name the classes with classes="
                raise ValueError(msg)
        else:
            wanted = class_table.class_index(classes)
        result = {}
        for k in wanted:
            plane = class_table.decode_flags(data, class_table.CLASS_NAMES[k])
            result[int(k)] = plane if mask is None else np.ma.MaskedArray(plane, mask)
        return result, data.shape
    if data.dtype.kind != "b":
        msg = (
            f"{name}: expected a boolean class cube, a dict of class name to boolean map, "
            f"or an integer flag map, got dtype {data.dtype}"
        )
        raise TypeError(msg)
    wanted = class_table.class_index(classes)
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
    data, _ = _split_masked(probabilities)
    if classes is None and data.ndim == 2:
        values, truth_1d, boolean = _prepare(probabilities, truth, exclude, 0)
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
        name = class_table.CLASS_NAMES[k]
        values, truth_1d, boolean = _prepare(plane(k), truth_k, exclude, 0)
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
    not_p = 1 - p
    t = float(training)
    q = t
    buffer = np.empty_like(p)
    for _ in range(max_iter):
        factor = np.float32((t / (1 - t)) * ((1 - q) / q))
        # Bayes update of apply_priors: p' = p / (p + f (1 - p)).
        np.multiply(not_p, factor, out=buffer)
        buffer += p
        np.divide(p, buffer, out=buffer)
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
        `astromask.inference.apply_priors`),
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
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not tol > 0:
        msg = f"tol: expected a positive number, got {tol!r}"
        raise ValueError(msg)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        msg = f"max_iter: expected a positive integer, got {max_iter!r}"
        raise ValueError(msg)
    result = {}
    if truth is not None:
        truths, shape = _class_truths(truth, None, classes)
        bad = []
        for k, truth_k in truths.items():
            name = class_table.CLASS_NAMES[k]
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
        name = class_table.CLASS_NAMES[k]
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
        training = class_table.CLASSES[k].training_prior
        result[name] = _em_prior(values, training, tol=tol, max_iter=max_iter, name=name)
    return result
