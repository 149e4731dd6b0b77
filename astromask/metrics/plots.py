"""ROC and precision-recall plots (matplotlib, imported when called).

Imports from `astromask.metrics._checks`, ``.counts`` and ``.curves``.
"""

import numpy as np

from astromask.metrics._checks import _prepare
from astromask.metrics.counts import DetectionScores, _counts
from astromask.metrics.curves import _Curve

# The examples draw with matplotlib, an optional dependency.
__doctest_requires__ = {("plot_roc", "plot_precision_recall"): ["matplotlib"]}

__all__ = ["plot_precision_recall", "plot_roc"]


def _axes(ax, function):
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        msg = (
            f"{function} needs matplotlib: python -m pip install 'astromask[plot]' "
            "(or matplotlib)"
        )
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
