"""One row of the papers' numbers (`evaluate`) and a table of rows.

Imports from `astromask.metrics._checks`, ``.counts`` and ``.curves``.
"""

import math
from collections.abc import Mapping

import numpy as np

from astromask._validate import real_number
from astromask.metrics._checks import _prepare, _targets
from astromask.metrics.counts import DetectionScores, _counts, detection_scores
from astromask.metrics.curves import (
    _DEFAULT_FPR,
    _best_index,
    _Curve,
    _index_at_fpr,
    _index_at_tpr,
)

__all__ = ["evaluate", "evaluation_table"]


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
            threshold = real_number(threshold, "threshold")
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
