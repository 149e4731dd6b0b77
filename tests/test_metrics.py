"""astromask.metrics: detection measures, curves, threshold and prior calibration.

Hand-counted cases, a deliberately naive reference (a loop over thresholds
with plain boolean counting), and scikit-learn as an independent reference.
"""

import math
import subprocess
import sys

import numpy as np
import pytest
from astropy.table import Table
from scipy import ndimage
from sklearn import metrics as skm

import astromask
from astromask import classes as class_table
from astromask import inference, metrics
from astromask.core import resolve_priors, resolve_thresholds
from astromask.metrics._checks import _dilated
from astromask.priors import apply_priors

# ---------------------------------------------------------------------------
# Fixtures and naive references
# ---------------------------------------------------------------------------

# Hand case (4x4).  At threshold 0.5 the prediction is the five pixels
# 0.9, 0.7, 0.8, 0.6, 0.55; the truth is (0,0), (0,1), (1,0), (3,3).
#   TP = (0,0) (1,0) (3,3)         = 3
#   FP = (0,2) (2,2)               = 2
#   FN = (0,1)                     = 1
#   TN = 16 - 3 - 2 - 1            = 10
#   TPR = 3/4, FPR = 2/12, precision = 3/5, FDR = 2/5,
#   F1 = 2*3/(2*3+2+1) = 6/9, IoU = 3/(3+2+1) = 1/2,
#   MCC = (3*10 - 2*1) / sqrt(5*4*12*11) = 28/sqrt(2640)
HAND_SCORES = np.array(
    [
        [0.9, 0.4, 0.7, 0.1],
        [0.8, 0.2, 0.1, 0.1],
        [0.3, 0.1, 0.6, 0.1],
        [0.1, 0.1, 0.1, 0.55],
    ]
)
HAND_TRUTH = np.array(
    [
        [True, True, False, False],
        [True, False, False, False],
        [False, False, False, False],
        [False, False, False, True],
    ]
)


def naive_counts(scores, truth, threshold):
    predicted = scores > threshold
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    fn = int(np.sum(~predicted & truth))
    tn = int(np.sum(~predicted & ~truth))
    return tp, fp, fn, tn


def naive_mcc(tp, fp, fn, tn):
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return (tp * tn - fp * fn) / math.sqrt(den) if den else math.nan


def naive_curve(scores, truth):
    """(thresholds, tp, fp) at every distinct score, highest first, then -inf."""
    thresholds = [*sorted(set(scores.ravel().tolist()), reverse=True), -math.inf]
    rows = [naive_counts(scores, truth, t) for t in thresholds]
    return thresholds, rows


def random_case(seed, shape=(30, 40), levels=20, dtype=np.float32):
    """Scores with many ties, truth correlated with them."""
    rng = np.random.default_rng(seed)
    scores = (rng.integers(0, levels, size=shape) / levels).astype(dtype)
    truth = rng.random(shape) < 0.1 + 0.6 * scores
    return scores, truth


# ---------------------------------------------------------------------------
# Single threshold: hand cases
# ---------------------------------------------------------------------------


def test_hand_case_counts_and_every_measure():
    counts = metrics.confusion_counts(HAND_SCORES, HAND_TRUTH, threshold=0.5)
    assert counts == (3, 2, 1, 10)
    assert all(type(c) is int for c in counts)
    s = metrics.detection_scores(HAND_SCORES, HAND_TRUTH, threshold=0.5)
    assert (s.tp, s.fp, s.fn, s.tn) == (3, 2, 1, 10)
    assert s.threshold == 0.5
    assert s.tpr == pytest.approx(3 / 4)
    assert s.fpr == pytest.approx(2 / 12)
    assert s.precision == pytest.approx(3 / 5)
    assert s.fdr == pytest.approx(2 / 5)
    assert s.f1 == pytest.approx(6 / 9)
    assert s.iou == pytest.approx(1 / 2)
    assert s.mcc == pytest.approx(28 / math.sqrt(2640))
    assert s.counts == counts


def test_decision_rule_is_strict_like_flag():
    # A score equal to the threshold is not detected, as inference.threshold.
    scores = np.array([[0.43, 0.44]], dtype=np.float32)
    truth = np.array([[True, True]])
    assert metrics.confusion_counts(scores, truth, threshold=0.43).tp == 1
    flagged = inference.threshold(scores[None], [0.43])[0]
    np.testing.assert_array_equal(flagged, [[False, True]])


def test_threshold_is_compared_in_float32_like_flag():
    # float64(0.43) < float32(0.43): a float64 comparison would detect the
    # pixel, flag (which casts the thresholds to float32) does not.
    scores = np.array([[np.float32(0.43)]], dtype=np.float32)
    truth = np.array([[True]])
    assert np.float64(0.43) < scores[0, 0]
    assert not inference.threshold(scores[None], [np.float64(0.43)]).any()
    assert metrics.confusion_counts(scores, truth, threshold=np.float64(0.43)).tp == 0
    assert metrics.confusion_counts(scores, truth, threshold=0.43).tp == 0
    # evaluate's counts at a given threshold follow the same rule
    scores2 = np.array([[np.float32(0.43), 0.1]], dtype=np.float32)
    truth2 = np.array([[True, False]])
    assert metrics.evaluate(scores2, truth2, threshold=np.float64(0.43))["TPR"] == 0.0


def test_boolean_prediction_ignores_threshold():
    mask = HAND_SCORES > 0.5
    for threshold in (0.0, 0.5, 0.99):
        assert metrics.confusion_counts(mask, HAND_TRUTH, threshold=threshold) == (3, 2, 1, 10)
    assert metrics.detection_scores(mask, HAND_TRUTH).threshold is None


def test_exclusion_hand_case():
    # Excluding the false negative (0,1) and the false positive (0,2) leaves
    # TP 3, FP 1, FN 0, TN 10.
    exclude = np.zeros((4, 4), dtype=bool)
    exclude[0, 1] = exclude[0, 2] = True
    counts = metrics.confusion_counts(HAND_SCORES, HAND_TRUTH, exclude=exclude)
    assert counts == (3, 1, 0, 10)
    # An image-shaped exclude broadcasts over a stack of frames.
    stack = np.stack([HAND_SCORES, HAND_SCORES])
    truths = np.stack([HAND_TRUTH, HAND_TRUTH])
    assert metrics.confusion_counts(stack, truths, exclude=exclude) == (6, 2, 0, 20)


def test_masked_arrays_join_exclude():
    exclude = np.zeros((4, 4), dtype=bool)
    exclude[0, 1] = exclude[0, 2] = True
    masked_pred = np.ma.MaskedArray(HAND_SCORES, mask=exclude)
    assert metrics.confusion_counts(masked_pred, HAND_TRUTH) == (3, 1, 0, 10)
    masked_truth = np.ma.MaskedArray(HAND_TRUTH, mask=exclude)
    assert metrics.confusion_counts(HAND_SCORES, masked_truth) == (3, 1, 0, 10)


def test_dilation_hand_case():
    # Detections at (2,2) and (0,4) of a 5x5 frame; 3x3 dilation gives the
    # block rows 1-3 x cols 1-3 (9 pixels) plus (0,3), (0,4), (1,4) at the
    # edge: 12 pixels.  Truth (0,0), (1,1), (2,2), (0,3):
    #   TP = (1,1) (2,2) (0,3) = 3, FP = 12 - 3 = 9, FN = (0,0) = 1, TN = 25 - 13 = 12.
    mask = np.zeros((5, 5), dtype=bool)
    mask[2, 2] = mask[0, 4] = True
    truth = np.zeros((5, 5), dtype=bool)
    truth[0, 0] = truth[1, 1] = truth[2, 2] = truth[0, 3] = True
    assert metrics.confusion_counts(mask, truth) == (1, 1, 3, 20)
    assert metrics.confusion_counts(mask, truth, dilate=1) == (3, 9, 1, 12)
    # Score map: 0.8 at (2,2), 0.6 at (0,4).  At 0.5 the same as the mask; at
    # 0.7 only the 3x3 block: TP (1,1) (2,2), FP 7, FN (0,0) (0,3), TN 14.
    scores = np.full((5, 5), 0.3)
    scores[2, 2], scores[0, 4] = 0.8, 0.6
    assert metrics.confusion_counts(scores, truth, threshold=0.5, dilate=1) == (3, 9, 1, 12)
    assert metrics.confusion_counts(scores, truth, threshold=0.7, dilate=1) == (2, 7, 2, 14)
    # dilate=2: a 5x5 square around (2,2) covers the frame.
    assert metrics.confusion_counts(scores, truth, threshold=0.7, dilate=2) == (4, 21, 0, 0)


def test_dilation_of_scores_equals_binary_dilation_of_the_thresholded_mask():
    scores, truth = random_case(3, shape=(2, 25, 31))
    square = np.zeros((3, 3, 3), dtype=bool)
    square[1] = True  # frame by frame: no dilation along the stack axis
    for threshold in (0.1, 0.5, 0.85):
        dilated = ndimage.binary_dilation(scores > threshold, structure=square)
        expected = naive_counts(dilated.astype(float), truth, 0.5)
        got = metrics.confusion_counts(scores, truth, threshold=threshold, dilate=1)
        assert got == expected
    # and the curves use the grey dilation
    fpr, tpr, thresholds = metrics.roc_curve(scores, truth, dilate=1)
    for k in (1, 5, 9):
        dilated = ndimage.binary_dilation(scores > thresholds[k], structure=square)
        tp, fp, fn, tn = naive_counts(dilated.astype(float), truth, 0.5)
        assert tpr[k] == tp / (tp + fn) and fpr[k] == fp / (fp + tn)


@pytest.mark.parametrize("shape", [(2, 17, 23), (1, 5), (2, 2, 1), (6, 7)])
@pytest.mark.parametrize("dilate", [1, 2, 3])
def test_dilation_is_scipy_maximum_filter(shape, dilate):
    scores, _ = random_case(14, shape=shape, levels=1000)
    size = (1,) * (len(shape) - 2) + (2 * dilate + 1,) * 2
    expected = ndimage.maximum_filter(scores, size=size, mode="nearest")
    got = _dilated(scores, False, dilate, None)
    np.testing.assert_array_equal(got, expected)
    mask = scores > 0.8
    expected = ndimage.maximum_filter(mask, size=size, mode="constant", cval=False)
    np.testing.assert_array_equal(_dilated(mask, True, dilate, None), expected)


def test_dilation_happens_before_exclusion():
    mask = np.zeros((5, 5), dtype=bool)
    mask[2, 2] = True
    truth = np.zeros((5, 5), dtype=bool)
    exclude = mask.copy()
    # The excluded detection still spreads to its 8 neighbours.
    assert metrics.confusion_counts(mask, truth, exclude=exclude, dilate=1) == (0, 8, 0, 16)
    # An excluded NaN is no detection and spreads nothing.
    scores = np.zeros((5, 5))
    scores[2, 2] = np.nan
    assert metrics.confusion_counts(scores, truth, exclude=exclude, dilate=1) == (0, 0, 0, 24)


def test_stack_counts_are_the_sum_of_frame_counts():
    scores, truth = random_case(4, shape=(3, 20, 20))
    for dilate in (0, 1):
        total = np.sum(
            [
                metrics.confusion_counts(s, t, threshold=0.4, dilate=dilate)
                for s, t in zip(scores, truth)
            ],
            axis=0,
        )
        got = metrics.confusion_counts(scores, truth, threshold=0.4, dilate=dilate)
        assert tuple(total) == got
    # Without dilation a stack scores like its flattened pixels.
    for a, b in zip(
        metrics.roc_curve(scores, truth), metrics.roc_curve(scores.ravel(), truth.ravel())
    ):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------
# Edge cases and argument checks
# ---------------------------------------------------------------------------


def test_no_positive_in_truth():
    truth = np.zeros((4, 4), dtype=bool)
    s = metrics.detection_scores(HAND_SCORES, truth, threshold=0.5)
    assert (s.tp, s.fp, s.fn, s.tn) == (0, 5, 0, 11)
    assert math.isnan(s.tpr) and math.isnan(s.mcc)
    assert s.fpr == 5 / 16 and s.precision == 0.0 and s.fdr == 1.0
    assert s.f1 == 0.0 and s.iou == 0.0
    for function in (metrics.roc_curve, metrics.precision_recall_curve, metrics.best_threshold):
        with pytest.raises(ValueError, match="truth: no positive pixel"):
            function(HAND_SCORES, truth)


def test_no_negative_in_truth():
    truth = np.ones((4, 4), dtype=bool)
    s = metrics.detection_scores(HAND_SCORES, truth, threshold=0.5)
    assert math.isnan(s.fpr) and math.isnan(s.mcc) and s.precision == 1.0
    with pytest.raises(ValueError, match="truth: no negative pixel"):
        metrics.roc_curve(HAND_SCORES, truth)
    with pytest.raises(ValueError, match="truth: no negative pixel"):
        metrics.tpr_at_fpr(HAND_SCORES, truth)


def test_nothing_predicted():
    s = metrics.detection_scores(HAND_SCORES, HAND_TRUTH, threshold=0.95)
    assert (s.tp, s.fp, s.fn, s.tn) == (0, 0, 4, 12)
    assert math.isnan(s.precision) and math.isnan(s.fdr) and math.isnan(s.mcc)
    assert s.tpr == 0.0 and s.fpr == 0.0 and s.f1 == 0.0 and s.iou == 0.0
    empty = metrics.detection_scores(HAND_SCORES, np.zeros((4, 4), bool), threshold=0.95)
    assert math.isnan(empty.f1) and math.isnan(empty.iou)


def test_all_excluded_is_a_clear_error():
    with pytest.raises(ValueError, match="exclude: every pixel is excluded"):
        metrics.confusion_counts(HAND_SCORES, HAND_TRUTH, exclude=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="exclude: every pixel is excluded"):
        metrics.roc_curve(HAND_SCORES, HAND_TRUTH, exclude=True)


def test_nan_scores_refused_unless_excluded():
    scores = HAND_SCORES.copy()
    scores[0, 1] = np.nan
    with pytest.raises(ValueError, match="prediction: 1 NaN or infinite"):
        metrics.confusion_counts(scores, HAND_TRUTH)
    with pytest.raises(ValueError, match="prediction: 1 NaN or infinite"):
        metrics.roc_curve(scores, HAND_TRUTH)
    exclude = np.zeros((4, 4), bool)
    exclude[0, 1] = True
    assert metrics.confusion_counts(scores, HAND_TRUTH, exclude=exclude) == (3, 2, 0, 10)
    masked = np.ma.masked_invalid(scores)
    assert metrics.confusion_counts(masked, HAND_TRUTH) == (3, 2, 0, 10)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"truth": np.ones((3, 4), bool)}, ValueError, "truth: shape"),
        ({"truth": HAND_TRUTH * 2}, TypeError, "truth: expected a boolean"),
        ({"prediction": HAND_SCORES.astype(complex)}, TypeError, "prediction: expected a real"),
        ({"exclude": np.ones((3, 3), bool)}, ValueError, "exclude: shape"),
        ({"dilate": -1}, ValueError, "dilate: expected a non-negative integer"),
        ({"dilate": 1.5}, ValueError, "dilate: expected a non-negative integer"),
        ({"dilate": True}, ValueError, "dilate: expected a non-negative integer"),
        ({"threshold": float("nan")}, ValueError, "threshold: expected a number"),
        ({"threshold": "0.5"}, TypeError, "threshold: expected a number"),
    ],
)
def test_argument_errors_name_the_argument(kwargs, error, match):
    arguments = {"prediction": HAND_SCORES, "truth": HAND_TRUTH} | kwargs
    prediction, truth = arguments.pop("prediction"), arguments.pop("truth")
    with pytest.raises(error, match=match):
        metrics.confusion_counts(prediction, truth, **arguments)


def test_zero_one_truth_accepted():
    assert metrics.confusion_counts(HAND_SCORES, HAND_TRUTH.astype(np.uint8)) == (3, 2, 1, 10)


def test_inputs_are_not_modified_and_read_only_inputs_work():
    scores, truth = random_case(5, shape=(2, 12, 14))
    scores[0, 0, 0] = np.nan
    exclude = np.zeros(scores.shape, dtype=bool)
    exclude[0, 0, 0] = True
    masked = np.ma.MaskedArray(scores.copy(), mask=exclude.copy())
    arrays = [scores, truth, exclude, masked.data, masked.mask]
    copies = [a.copy() for a in arrays]
    for a in arrays:
        a.setflags(write=False)
    for prediction in (scores, masked):
        for dilate in (0, 1):
            kw = {"exclude": exclude, "dilate": dilate}
            metrics.confusion_counts(prediction, truth, **kw)
            metrics.detection_scores(prediction, truth, threshold=0.3, **kw)
            metrics.roc_curve(prediction, truth, **kw)
            metrics.precision_recall_curve(prediction, truth, **kw)
            metrics.tpr_at_fpr(prediction, truth, **kw)
            metrics.precision_at_tpr(prediction, truth, **kw)
            metrics.best_threshold(prediction, truth, **kw)
            metrics.evaluate(prediction, truth, **kw)
    probs = np.zeros((14, *scores.shape[1:]), dtype=np.float32)
    probs[0] = scores[1]
    probs.setflags(write=False)
    probs_copy = probs.copy()
    metrics.calibrate_thresholds(probs, {"CR": truth[1]})
    metrics.estimate_priors(probs[:1], classes=["CR"])
    np.testing.assert_array_equal(probs, probs_copy)
    for a, c in zip(arrays, copies):
        np.testing.assert_array_equal(a, c)


# ---------------------------------------------------------------------------
# Curves: naive reference and scikit-learn
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_roc_and_pr_match_a_naive_threshold_loop(dtype):
    scores, truth = random_case(0, dtype=dtype)
    thresholds, rows = naive_curve(scores, truth)
    tp = np.array([r[0] for r in rows])
    fp = np.array([r[1] for r in rows])
    positives, negatives = truth.sum(), (~truth).sum()
    fpr, tpr, got_thresholds = metrics.roc_curve(scores, truth)
    assert got_thresholds.dtype == dtype
    np.testing.assert_array_equal(got_thresholds, np.array(thresholds, dtype=dtype))
    np.testing.assert_array_equal(tpr, tp / positives)
    np.testing.assert_array_equal(fpr, fp / negatives)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)

    precision, recall, pr_thresholds = metrics.precision_recall_curve(scores, truth)
    np.testing.assert_array_equal(pr_thresholds, got_thresholds[1:][::-1])
    np.testing.assert_allclose(precision[:-1], (tp[1:] / (tp + fp)[1:])[::-1], rtol=1e-15)
    np.testing.assert_array_equal(recall[:-1], (tp / positives)[1:][::-1])
    assert (precision[-1], recall[-1]) == (1.0, 0.0)


def test_curve_points_are_reproduced_by_confusion_counts():
    scores, truth = random_case(1)
    fpr, tpr, thresholds = metrics.roc_curve(scores, truth)
    for k in range(len(thresholds)):
        tp, fp, fn, tn = metrics.confusion_counts(scores, truth, threshold=float(thresholds[k]))
        assert tp / (tp + fn) == tpr[k] and fp / (fp + tn) == fpr[k]


def test_measures_at_fixed_rates_match_a_naive_loop():
    scores, truth = random_case(2, shape=(50, 60))
    thresholds, rows = naive_curve(scores, truth)
    negatives, positives = (~truth).sum(), truth.sum()
    for target in (0.0, 0.01, 0.05, 0.2, 1.0):
        # lowest threshold whose FPR <= target
        ok = [t for t, r in zip(thresholds, rows) if r[1] / negatives <= target]
        best = min(ok)
        tp = rows[thresholds.index(best)][0]
        tpr, threshold = metrics.tpr_at_fpr(scores, truth, fpr=target)
        assert threshold == best and tpr == tp / positives
        assert metrics.best_threshold(scores, truth, criterion="fpr", target=target) == best
    for target in (0.0, 0.5, 0.95, 1.0):
        # highest threshold whose TPR >= target
        ok = [t for t, r in zip(thresholds, rows) if r[0] / positives >= target]
        best = max(ok)
        tp, fp = rows[thresholds.index(best)][:2]
        precision, threshold = metrics.precision_at_tpr(scores, truth, tpr=target)
        assert threshold == best
        assert precision == pytest.approx(tp / (tp + fp)) if tp + fp else math.isnan(precision)
    # vector targets give arrays in the order given
    tprs, ths = metrics.tpr_at_fpr(scores, truth, fpr=[0.2, 0.01])
    assert tprs.shape == ths.shape == (2,) and tprs[0] >= tprs[1] and ths[0] <= ths[1]


@pytest.mark.parametrize("criterion", ["mcc", "f1"])
def test_best_threshold_matches_a_naive_loop(criterion):
    for seed in range(5):
        scores, truth = random_case(10 + seed)
        thresholds, rows = naive_curve(scores, truth)
        if criterion == "mcc":
            values = [naive_mcc(*r) for r in rows]
        else:
            values = [2 * r[0] / (2 * r[0] + r[1] + r[2]) for r in rows]
        top = max(v for v in values if not math.isnan(v))
        expected = max(t for t, v in zip(thresholds, values) if v >= top - 1e-12)
        assert metrics.best_threshold(scores, truth, criterion=criterion) == expected


def test_best_threshold_ties_go_to_the_highest_threshold():
    # p > 0.7: TP 2, FP 0, FN 1, TN 3; p > 0.5: TP 3, FP 1, FN 0, TN 2.
    # Both MCC = 6 / sqrt(72); F1 = 0.8 and 6/7.
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    truth = np.array([True, True, False, True, False, False])
    assert naive_mcc(*naive_counts(scores, truth, 0.7)) == naive_mcc(
        *naive_counts(scores, truth, 0.5)
    )
    assert metrics.best_threshold(scores, truth) == 0.7
    assert metrics.best_threshold(scores, truth, criterion="f1") == 0.5


def test_roc_and_pr_match_scikit_learn():
    scores, truth = random_case(6, shape=(60, 70))
    exclude = np.random.default_rng(6).random(scores.shape) < 0.1
    for excl in (None, exclude):
        keep = np.ones(scores.shape, bool) if excl is None else ~excl
        y, s = truth[keep], scores[keep]
        fpr, tpr, thresholds = metrics.roc_curve(scores, truth, exclude=excl)
        sk_fpr, sk_tpr, sk_thresholds = skm.roc_curve(y, s, drop_intermediate=False)
        np.testing.assert_allclose(fpr, sk_fpr, rtol=1e-15, atol=0)
        np.testing.assert_allclose(tpr, sk_tpr, rtol=1e-15, atol=0)
        # scikit-learn detects score >= t; astromask score > t: shifted by one.
        np.testing.assert_array_equal(thresholds[:-1], sk_thresholds[1:])
        assert thresholds[-1] == -np.inf and sk_thresholds[0] == np.inf
        assert metrics.evaluate(scores, truth, exclude=excl)["TPR"] > 0
        precision, recall, pr_thresholds = metrics.precision_recall_curve(
            scores, truth, exclude=excl
        )
        sk_p, sk_r, sk_t = skm.precision_recall_curve(y, s, drop_intermediate=False)
        np.testing.assert_allclose(precision, sk_p, rtol=1e-15, atol=0)
        np.testing.assert_allclose(recall, sk_r, rtol=1e-15, atol=0)
        np.testing.assert_array_equal(pr_thresholds[1:], sk_t[:-1])
        assert pr_thresholds[0] == -np.inf


def test_single_threshold_measures_match_scikit_learn():
    scores, truth = random_case(7, shape=(40, 50))
    exclude = np.random.default_rng(7).random(scores.shape) < 0.1
    y = truth[~exclude]
    for threshold in (0.1, 0.35, 0.5, 0.8):
        s = metrics.detection_scores(scores, truth, threshold=threshold, exclude=exclude)
        predicted = scores[~exclude] > np.float32(threshold)
        tn, fp, fn, tp = skm.confusion_matrix(y, predicted, labels=[False, True]).ravel()
        assert (s.tp, s.fp, s.fn, s.tn) == (tp, fp, fn, tn)
        assert s.mcc == pytest.approx(skm.matthews_corrcoef(y, predicted), rel=1e-12)
        assert s.f1 == pytest.approx(skm.f1_score(y, predicted), rel=1e-12)
        assert s.iou == pytest.approx(skm.jaccard_score(y, predicted), rel=1e-12)
        assert s.precision == pytest.approx(skm.precision_score(y, predicted), rel=1e-12)
        assert s.tpr == pytest.approx(skm.recall_score(y, predicted), rel=1e-12)


# ---------------------------------------------------------------------------
# evaluate and the table
# ---------------------------------------------------------------------------


def test_evaluate_row_matches_the_individual_functions():
    scores, truth = random_case(8, shape=(40, 40))
    row = metrics.evaluate(scores, truth, name="net", fpr=(0.01, 0.1))
    tprs, _ = metrics.tpr_at_fpr(scores, truth, fpr=(0.01, 0.1))
    assert [row["TPR@FPR=0.01"], row["TPR@FPR=0.1"]] == list(tprs)
    assert row["precision@TPR=0.95"] == metrics.precision_at_tpr(scores, truth, tpr=0.95)[0]
    best = metrics.best_threshold(scores, truth)
    assert row["best MCC threshold"] == best == row["threshold"]
    s = metrics.detection_scores(scores, truth, threshold=best)
    assert row["best MCC"] == pytest.approx(s.mcc, rel=1e-12)
    for key, value in [
        ("TPR", s.tpr),
        ("FPR", s.fpr),
        ("precision", s.precision),
        ("FDR", s.fdr),
        ("F1", s.f1),
        ("IoU", s.iou),
        ("MCC", s.mcc),
    ]:
        assert row[key] == value
    dilated = metrics.detection_scores(scores, truth, threshold=best, dilate=1)
    assert (row["TPR 3x3"], row["FPR 3x3"]) == (dilated.tpr, dilated.fpr)
    assert row["TPR 3x3"] >= row["TPR"]
    assert row["name"] == "net"
    fixed = metrics.evaluate(scores, truth, threshold=0.5)
    assert fixed["threshold"] == 0.5
    assert fixed["MCC"] == metrics.detection_scores(scores, truth, threshold=0.5).mcc
    assert fixed["best MCC"] >= fixed["MCC"]


def test_evaluate_boolean_mask_has_one_operating_point():
    mask = HAND_SCORES > 0.5
    row = metrics.evaluate(mask, HAND_TRUTH, name="lacosmic")
    assert math.isnan(row["TPR@FPR=0.001"]) and math.isnan(row["best MCC"])
    assert math.isnan(row["threshold"])
    assert row["TPR"] == 0.75 and row["MCC"] == pytest.approx(28 / math.sqrt(2640))
    assert row["TPR 3x3"] == metrics.detection_scores(mask, HAND_TRUTH, dilate=1).tpr


def test_evaluation_table():
    scores, truth = random_case(9, shape=(30, 30))
    rows = {
        "net": metrics.evaluate(scores, truth),
        "mask": metrics.evaluate(scores > 0.5, truth),
    }
    table = metrics.evaluation_table(rows)
    assert isinstance(table, Table) and len(table) == 2
    assert list(table["name"]) == ["net", "mask"]
    assert table.colnames[:2] == ["name", "TPR@FPR=0.0001"]
    assert table["MCC"][1] == rows["mask"]["MCC"]
    listed = metrics.evaluation_table([metrics.evaluate(scores, truth, name="a")])
    assert list(listed["name"]) == ["a"]
    with pytest.raises(ValueError, match="results: rows have different columns"):
        metrics.evaluation_table([rows["net"], metrics.evaluate(scores, truth, fpr=(0.1,))])
    with pytest.raises(ValueError, match="results: give at least one row"):
        metrics.evaluation_table([])


# ---------------------------------------------------------------------------
# Plots
# ---------------------------------------------------------------------------


def test_plots_draw_the_curves():
    from matplotlib.figure import Figure  # in the test extra: runs in CI, never skipped

    scores, truth = random_case(11)
    ax = Figure().add_subplot()
    assert metrics.plot_roc(scores, truth, ax=ax, label="net") is ax
    assert ax.get_xscale() == "log"
    fpr, tpr, _ = metrics.roc_curve(scores, truth)
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), fpr)
    np.testing.assert_array_equal(line.get_ydata(), tpr)
    assert line.get_label() == "net"
    metrics.plot_roc(metrics.roc_curve(scores, truth), ax=ax)
    np.testing.assert_array_equal(ax.get_lines()[1].get_xdata(), fpr)
    metrics.plot_roc(scores > 0.5, truth, ax=ax)
    s = metrics.detection_scores(scores > 0.5, truth)
    assert list(ax.get_lines()[2].get_xydata()[0]) == [s.fpr, s.tpr]

    ax = Figure().add_subplot()
    precision, recall, _ = metrics.precision_recall_curve(scores, truth)
    metrics.plot_precision_recall(scores, truth, ax=ax)
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), recall[:-1][::-1])
    np.testing.assert_allclose(line.get_ydata(), precision[:-1][::-1], rtol=1e-15)
    assert ax.get_xlabel() == "recall"


def test_plots_say_how_to_get_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"plot_roc needs matplotlib: .*astromask\[plot\]"):
        metrics.plot_roc(HAND_SCORES, HAND_TRUTH)
    with pytest.raises(ImportError, match="plot_precision_recall needs matplotlib"):
        metrics.plot_precision_recall(HAND_SCORES, HAND_TRUTH)
    from astromask.visualization import plot_flags

    with pytest.raises(ImportError, match=r"plot_flags needs matplotlib: .*astromask\[plot\]"):
        plot_flags(np.zeros((4, 4)), np.zeros((4, 4), np.uint16))


# ---------------------------------------------------------------------------
# Threshold calibration
# ---------------------------------------------------------------------------


def known_cube():
    """A (14, 20, 20) probability cube whose best-MCC thresholds are known.

    CR: 20 true pixels at 0.8 and 2 at 0.2; false pixels at 0.3 except 3 at
    0.6.  Detecting p > 0.6 (TP 20, FP 0, FN 2: MCC 0.951) beats p > 0.3
    (TP 20, FP 3: 0.883) and every lower threshold.
    TRL: 30 true pixels at 0.9 and 10 at 0.4; false pixels at 0.1 except 2
    at 0.4 and 5 at 0.25.  p > 0.25 (TP 40, FP 2: MCC 0.973) beats p > 0.4
    (TP 30, FP 0: 0.854) and p > 0.1 (TP 40, FP 7: 0.914).
    """
    probs = np.zeros((14, 20, 20), dtype=np.float32)
    truth = np.zeros((14, 20, 20), dtype=bool)
    cr, trl = probs[0].reshape(-1), probs[6].reshape(-1)
    cr_t, trl_t = truth[0].reshape(-1), truth[6].reshape(-1)
    cr[:] = 0.3
    cr[:20], cr_t[:20] = 0.8, True
    cr[20:22], cr_t[20:22] = 0.2, True
    cr[22:25] = 0.6
    trl[:] = 0.1
    trl[:30], trl_t[:30] = 0.9, True
    trl[30:40], trl_t[30:40] = 0.4, True
    trl[40:42] = 0.4
    trl[42:47] = 0.25
    rng = np.random.default_rng(0)
    order = rng.permutation(400)  # scatter the pixels
    probs = probs.reshape(14, -1)[:, order].reshape(14, 20, 20)
    truth = truth.reshape(14, -1)[:, order].reshape(14, 20, 20)
    return probs, truth


def test_calibrate_thresholds_finds_the_known_best_mcc():
    probs, truth = known_cube()
    expected = {"CR": float(np.float32(0.6)), "TRL": 0.25}
    result = metrics.calibrate_thresholds(probs, truth, classes=["CR", "TRL"])
    assert result == expected
    assert astromask.calibrate_thresholds is metrics.calibrate_thresholds
    # the paper's rule applied by hand: MCC at every distinct probability
    for name, k in (("CR", 0), ("TRL", 6)):
        thresholds, rows = naive_curve(probs[k], truth[k])
        mccs = [naive_mcc(*r) for r in rows]
        assert thresholds[int(np.nanargmax(mccs))] == expected[name]


def test_calibrate_thresholds_truth_forms_agree():
    probs, truth = known_cube()
    expected = metrics.calibrate_thresholds(probs, truth, classes=["CR", "TRL"])
    as_dict = {"CR": truth[0], "trl": truth[6]}
    flags = np.zeros((20, 20), dtype=np.uint16)
    flags[truth[0]] |= class_table.CLASSES[0].bit
    flags[truth[6]] |= class_table.CLASSES[6].bit
    selected = truth[[0, 6]]
    assert metrics.calibrate_thresholds(probs, as_dict) == expected
    assert metrics.calibrate_thresholds(probs, flags) == expected
    assert metrics.calibrate_thresholds(probs, flags.astype(np.int32)) == expected
    assert metrics.calibrate_thresholds(probs, selected, classes=["CR", "TRL"]) == expected
    # planes of the selected classes only
    assert metrics.calibrate_thresholds(probs[[0, 6]], flags, classes=["CR", "TRL"]) == expected
    assert metrics.calibrate_thresholds(probs[[0, 6]], as_dict, classes=["CR", "TRL"]) == expected
    # one class, one map
    assert metrics.calibrate_thresholds(probs, truth[0], classes=["CR"]) == {"CR": expected["CR"]}
    # a single 2-D map (deepCR-style) gives a float
    assert metrics.calibrate_thresholds(probs[0], truth[0]) == expected["CR"]


def test_calibrated_thresholds_work_with_flag_machinery():
    probs, truth = known_cube()
    result = metrics.calibrate_thresholds(probs, truth, classes=["CR", "TRL"])
    resolved = resolve_thresholds(result)
    assert resolved.dtype == np.float32
    defaults = class_table.default_thresholds()
    for k, name in enumerate(class_table.CLASS_NAMES):
        assert resolved[k] == (np.float32(result[name]) if name in result else defaults[k])
    # flag's thresholding reproduces the calibrated operating point exactly
    index = [0, 6]
    detected = inference.threshold(probs[index], resolved[index])
    for row, (k, name) in enumerate(zip(index, ["CR", "TRL"])):
        s = metrics.detection_scores(probs[k], truth[k], threshold=result[name])
        assert metrics.detection_scores(detected[row], truth[k]).mcc == s.mcc
    cr = metrics.detection_scores(detected[0], truth[0])
    assert (cr.tp, cr.fp, cr.fn) == (20, 0, 2)


def test_calibrate_thresholds_fpr_criterion():
    rng = np.random.default_rng(12)
    probs = np.zeros((14, 80, 80), dtype=np.float32)
    truth = rng.random((80, 80)) < 0.2
    probs[0] = np.clip(rng.normal(0.3 + 0.4 * truth, 0.15), 0, 1).round(3)
    exclude = rng.random((80, 80)) < 0.05
    for target in (1e-3, 1e-2, 0.1):
        result = metrics.calibrate_thresholds(
            probs, {"CR": truth}, criterion="fpr", target=target, exclude=exclude
        )
        threshold = result["CR"]
        achieved = metrics.detection_scores(probs[0], truth, threshold=threshold, exclude=exclude)
        assert achieved.fpr <= target
        values = probs[0][~exclude]
        lower = values[values < np.float32(threshold)].max()  # next distinct score down
        below = metrics.detection_scores(probs[0], truth, threshold=lower, exclude=exclude)
        assert below.fpr > target
        # without exclude, calibrate agrees with best_threshold
        assert metrics.calibrate_thresholds(
            probs, {"CR": truth}, criterion="fpr", target=target
        ) == {"CR": metrics.best_threshold(probs[0], truth, criterion="fpr", target=target)}


def test_calibrate_thresholds_matches_best_threshold_on_random_data():
    rng = np.random.default_rng(13)
    probs = rng.random((14, 30, 30)).astype(np.float32).round(2)
    truth = rng.random((14, 30, 30)) < 0.05 + 0.5 * probs
    result = metrics.calibrate_thresholds(probs, truth)
    assert list(result) == list(class_table.CLASS_NAMES)
    for k, name in enumerate(class_table.CLASS_NAMES):
        assert result[name] == metrics.best_threshold(probs[k], truth[k])
    f1 = metrics.calibrate_thresholds(probs, truth, criterion="f1", classes=["HP"])
    assert f1 == {"HP": metrics.best_threshold(probs[3], truth[3], criterion="f1")}


def test_calibrate_thresholds_errors():
    probs, truth = known_cube()
    with pytest.raises(ValueError, match=r"truth: HCL, DCL, HP, DP, P, FR.*no positive"):
        metrics.calibrate_thresholds(probs, truth)
    with pytest.raises(ValueError, match="target: criterion='fpr' needs"):
        metrics.calibrate_thresholds(probs, truth, criterion="fpr", classes=["CR"])
    with pytest.raises(ValueError, match="target: only used with criterion='fpr'"):
        metrics.calibrate_thresholds(probs, truth, target=0.1, classes=["CR"])
    with pytest.raises(ValueError, match="criterion: expected one of"):
        metrics.calibrate_thresholds(probs, truth, criterion="auc", classes=["CR"])
    with pytest.raises(ValueError, match="probabilities: expected 14 class planes"):
        metrics.calibrate_thresholds(probs[:3], truth)
    with pytest.raises(ValueError, match="truth: no truth for TRL"):
        metrics.calibrate_thresholds(probs, {"CR": truth[0]}, classes=["CR", "TRL"])
    with pytest.raises(ValueError, match="unknown class 'XX'"):
        metrics.calibrate_thresholds(probs, {"XX": truth[0]})
    with pytest.raises(ValueError, match="probabilities \\(CR\\): probabilities must lie"):
        metrics.calibrate_thresholds(probs * 2, truth, classes=["CR"])


# ---------------------------------------------------------------------------
# Priors
# ---------------------------------------------------------------------------


def test_estimate_priors_from_truth():
    probs, truth = known_cube()
    expected = {"CR": 22 / 400, "TRL": 40 / 400}
    assert metrics.estimate_priors(truth=truth, classes=["CR", "TRL"]) == expected
    assert metrics.estimate_priors(truth={"CR": truth[0], "TRL": truth[6]}) == expected
    flags = np.zeros((20, 20), dtype=np.uint16)
    flags[truth[0]] |= 1
    flags[truth[6]] |= 64
    assert metrics.estimate_priors(truth=flags) == expected
    exclude = np.zeros((20, 20), dtype=bool)
    exclude[truth[0]] = True  # leaves 378 pixels and no CR
    with pytest.raises(ValueError, match="truth: CR cover no pixel"):
        metrics.estimate_priors(truth=flags, exclude=exclude)
    trl_left = np.count_nonzero(truth[6] & ~exclude)
    assert metrics.estimate_priors(truth=flags, classes=["TRL"], exclude=exclude) == {
        "TRL": trl_left / 378
    }
    assert resolve_priors(expected)[6] == np.float32(0.1)
    with pytest.raises(ValueError, match="give either probabilities"):
        metrics.estimate_priors(probs, truth=truth)
    with pytest.raises(ValueError, match="give either probabilities"):
        metrics.estimate_priors()


def synthetic_raw_probabilities(prior, training, shape, separation, seed):
    """Labels drawn with ``prior``; calibrated posteriors under ``training``.

    A pixel's feature is N(separation, 1) for the class and N(0, 1) otherwise;
    the posterior a network trained at class frequency ``training`` outputs
    is ``t L1 / (t L1 + (1 - t) L0)``.
    """
    rng = np.random.default_rng(seed)
    labels = rng.random(shape) < prior
    x = rng.normal(size=shape) + separation * labels
    log_ratio = separation * x - separation**2 / 2  # log L1/L0
    p = 1 / (1 + (1 - training) / training * np.exp(-log_ratio))
    return p.astype(np.float32), labels


@pytest.mark.parametrize(
    ("name", "prior"), [("CR", 0.002), ("CR", 0.05), ("TRL", 0.01), ("BG", 0.9)]
)
def test_em_recovers_a_known_prior_shift(name, prior):
    k = class_table.CLASS_NAMES.index(name)
    training = class_table.CLASSES[k].training_prior
    p, labels = synthetic_raw_probabilities(prior, training, (600, 600), 3.0, seed=k)
    drawn = labels.mean()
    estimate = metrics.estimate_priors(p[None], classes=[name])[name]
    # Tolerance: 5 % of the drawn fraction (the EM estimate is the
    # maximum-likelihood prior; with 360 000 pixels and this separation its
    # scatter around the drawn fraction is about 1 %).
    assert estimate == pytest.approx(drawn, rel=0.05)
    # Without EM, the mean raw posterior stays far from it (pulled to training).
    assert abs(p.mean() / drawn - 1) > 0.1
    # Fixed point: apply_priors with the estimate gives a mean equal to it.
    corrected = apply_priors(p[None], np.array([estimate]), index=[k])
    assert corrected.mean(dtype=np.float64) == pytest.approx(estimate, rel=1e-5)
    # Usable by flag / probabilities
    assert resolve_priors({name: estimate})[k] == np.float32(estimate)


def test_em_on_a_class_cube_and_errors():
    shape = (200, 200)
    probs = np.zeros((14, *shape), dtype=np.float32)
    expected = {}
    for k, prior in [(0, 0.003), (12, 0.2)]:
        training = class_table.CLASSES[k].training_prior
        probs[k], labels = synthetic_raw_probabilities(prior, training, shape, 4.0, seed=k)
        expected[class_table.CLASS_NAMES[k]] = labels.mean()
    result = metrics.estimate_priors(probs, classes=["CR", "BBG"])
    assert result == pytest.approx(expected, rel=0.05)
    # all 14 classes: absent classes end at the lower bound, accepted by flag
    everything = metrics.estimate_priors(probs)
    assert list(everything) == list(class_table.CLASS_NAMES)
    assert everything["HCL"] == 1e-9 and resolve_priors(everything)[1] > 0
    # exclude: the planes' pixels left out
    exclude = np.zeros(shape, dtype=bool)
    exclude[:100] = True
    half = metrics.estimate_priors(probs[:1], classes=["CR"], exclude=exclude)
    assert half == metrics.estimate_priors(probs[:1, 100:], classes=["CR"])
    with pytest.warns(RuntimeWarning, match="CR did not converge in 2 iterations"):
        metrics.estimate_priors(probs, classes=["CR"], max_iter=2)
    nan = probs.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"probabilities \(CR\): NaN"):
        metrics.estimate_priors(nan, classes=["CR"])
    with pytest.raises(ValueError, match="tol: expected a positive number"):
        metrics.estimate_priors(probs, tol=0)


# ---------------------------------------------------------------------------
# Packaging
# ---------------------------------------------------------------------------


def test_metrics_import_no_keras():
    code = (
        "import sys, astromask, astromask.metrics\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('keras', 'tensorflow', 'jax', 'torch', 'sklearn', 'matplotlib')]\n"
        "assert not heavy, heavy\n"
        "assert astromask.calibrate_thresholds is astromask.metrics.calibrate_thresholds\n"
        "assert astromask.estimate_priors is astromask.metrics.estimate_priors\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api_is_listed():
    public = {
        name
        for name in dir(metrics)
        if not name.startswith("_")
        and getattr(getattr(metrics, name), "__module__", "").startswith("astromask.metrics.")
    }
    assert public == set(metrics.__all__)
    assert {"calibrate_thresholds", "estimate_priors"} <= set(astromask.__all__)
