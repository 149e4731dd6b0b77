"""Confusion counts and the detection measures at one threshold (numpy only).

Imports from `astromask.metrics._checks` only.
"""

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from astromask._validate import real_number
from astromask.metrics._checks import _cast, _prepare

__all__ = ["ConfusionCounts", "DetectionScores", "confusion_counts", "detection_scores"]


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
    threshold = real_number(threshold, "threshold")
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
    threshold = real_number(threshold, "threshold")
    values, truth, boolean = _prepare(prediction, truth, exclude, dilate)
    counts = _counts(values, truth, boolean, threshold)
    return DetectionScores(*counts, threshold=None if boolean else float(threshold))
