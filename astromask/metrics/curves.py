"""ROC and precision-recall curves, operating points, best thresholds (numpy only).

`_Curve` sorts the scores once and gives the counts at every distinct
score; `astromask.metrics.evaluation`, `~astromask.metrics.plots` and
`~astromask.metrics.calibration` build on it.  Imports from
`astromask.metrics._checks` and `astromask.metrics.counts` only.
"""

import numpy as np

from astromask.metrics._checks import _cast, _prepare, _targets
from astromask.metrics.counts import ConfusionCounts

__all__ = [
    "best_threshold",
    "precision_at_tpr",
    "precision_recall_curve",
    "roc_curve",
    "tpr_at_fpr",
]

_CRITERIA = ("mcc", "f1", "fpr")
_DEFAULT_FPR = (1e-4, 5e-4, 1e-3, 5e-3)


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
    if not isinstance(criterion, str) or criterion not in _CRITERIA:
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
