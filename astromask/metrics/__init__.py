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

Modules
    The package re-exports every public name; import them from here
    (``from astromask.metrics import roc_curve``).

    - ``_checks``: private input preparation (dtypes, shapes, masks, NaN,
      ``exclude``, dilation, the threshold's precision, rate targets);
    - ``counts``: `ConfusionCounts`, `DetectionScores`, `confusion_counts`,
      `detection_scores`;
    - ``curves``: `roc_curve`, `precision_recall_curve`, `tpr_at_fpr`,
      `precision_at_tpr`, `best_threshold` (and the sorted-score ``_Curve``);
    - ``evaluation``: `evaluate`, `evaluation_table`;
    - ``plots``: `plot_roc`, `plot_precision_recall`;
    - ``calibration``: `calibrate_thresholds`, `estimate_priors`.

Imports
    Only downward, with absolute imports, never inside functions upward:
    ``_checks`` <- ``counts`` <- ``curves`` <- (``evaluation``, ``plots``,
    ``calibration``); the last three do not import one another.  Outside
    the package, modules import only the leaves `astromask._validate`,
    `astromask.classes` and `astromask.priors`, never the package top
    ``astromask`` (which imports this package), nor Keras, scikit-learn or
    matplotlib at import time.
"""

from astromask.metrics.calibration import calibrate_thresholds, estimate_priors
from astromask.metrics.counts import (
    ConfusionCounts,
    DetectionScores,
    confusion_counts,
    detection_scores,
)
from astromask.metrics.curves import (
    best_threshold,
    precision_at_tpr,
    precision_recall_curve,
    roc_curve,
    tpr_at_fpr,
)
from astromask.metrics.evaluation import evaluate, evaluation_table
from astromask.metrics.plots import plot_precision_recall, plot_roc

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
