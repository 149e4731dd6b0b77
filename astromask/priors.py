"""Bayes' prior correction of network probabilities (numpy only).

A network trained on data where a class has frequency ``t`` (its training
prior) gives probabilities calibrated for that frequency.  On data where the
class has frequency ``q`` (the observing prior), Bayes' rule gives

    p' = p / (p + f (1 - p)),   f = t / (1 - t) * (1 - q) / q

(Paillassa et al. 2020, sect. 5).  MaxiMask's class priors, MaxiTrack's
tracking prior, class-balanced training (``t`` = 1/2) and the EM prior
estimate of `astromask.estimate_priors` all use this one correction.

This module is a leaf: it imports nothing from astromask but the class table.
"""

import numpy as np

from astromask import classes

__all__ = ["apply_priors", "balanced_probability", "bayes_update", "prior_factor"]


def prior_factor(training, prior):
    """Return ``f = t / (1 - t) * (1 - q) / q`` for training prior ``t`` and prior ``q``.

    Computed in the precision of the inputs: float32 arrays give float32
    factors (as upstream MaxiMask), Python floats give a float64 factor.

    Examples
    --------
    >>> from astromask.priors import prior_factor
    >>> round(prior_factor(0.5, 0.05), 9)
    19.0
    """
    return (training / (1 - training)) * ((1 - prior) / prior)


def bayes_update(probabilities, factor, *, out=None):
    """Return ``p / (p + factor * (1 - p))``, in float32.

    The operations run in this order, in one buffer (``out`` if given), so
    that every caller gets upstream MaxiMask's float32 results bit for bit.

    Parameters
    ----------
    probabilities : `numpy.ndarray`
        float32 probabilities ``p``.
    factor : float or `numpy.ndarray`
        `prior_factor`, broadcast against ``probabilities``; cast to float32.
    out : `numpy.ndarray`, optional
        float32 buffer of the shape of ``probabilities`` to write into.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.priors import bayes_update
    >>> bayes_update(np.array([0.5], np.float32), 1.0).tolist()
    [0.5]
    """
    p = np.asarray(probabilities).astype(np.float32, copy=False)
    factor = np.asarray(factor, dtype=np.float32)
    if out is None:
        # In p's memory order (p is often a channels-first view of a
        # channels-last tile): each pass then reads and writes memory in
        # sequence, about twice as fast, with the same values.
        out = np.empty_like(p, dtype=np.float32, order="K", subok=False)
    np.subtract(np.float32(1), p, dtype=np.float32, out=out)
    out *= factor
    out += p
    return np.divide(p, out, out=out)


def apply_priors(probabilities, priors, *, index=None):
    """Correct MaxiMask probabilities for observing priors (Paillassa et al. 2020, sect. 5).

    The network was trained with class frequencies ``t`` (the training
    priors of `astromask.classes`); for a class expected with frequency
    ``q`` in the data, ``p' = p / (p + f (1 - p))`` with
    ``f = t / (1 - t) * (1 - q) / q``.  Computed in float32 in the same
    order as upstream.

    Parameters
    ----------
    probabilities : `numpy.ndarray`
        ``(n, ...)`` float32 probabilities of the classes ``index``.
    priors : `numpy.ndarray`
        float32 observing priors of those classes.
    index : array of int, optional
        Class indices of the rows (default: all 14 in order).

    Returns
    -------
    corrected : `numpy.ndarray`

    Examples
    --------
    A cosmic-ray probability of 0.5 under MaxiMask's training prior (0.01)
    drops when cosmic rays are expected ten times less often:

    >>> import numpy as np
    >>> from astromask.priors import apply_priors
    >>> p = np.full((1, 2, 2), 0.5, np.float32)
    >>> float(apply_priors(p, [0.01], index=[0])[0, 0, 0])
    0.5
    >>> round(float(apply_priors(p, [0.001], index=[0])[0, 0, 0]), 4)
    0.0902
    """
    train = classes.training_priors()
    if index is not None:
        train = train[index]
    factors = prior_factor(train, np.asarray(priors, dtype=np.float32))
    factors = factors.reshape((-1,) + (1,) * (probabilities.ndim - 1))
    return bayes_update(probabilities, factors)


def balanced_probability(probabilities, positive_fraction):
    """Map the output of a class-balanced network to calibrated probabilities.

    A network trained with class-balanced weights (`astromask.train`)
    behaves as if trained with a prior of one half; this is `bayes_update`
    to the prior ``positive_fraction`` (the cosmic-ray pixel fraction of the
    data).  The ranking of pixels, hence any ROC, is unchanged.

    Examples
    --------
    >>> from astromask.priors import balanced_probability
    >>> round(float(balanced_probability(0.5, 0.01)), 6)
    0.01
    """
    f = float(positive_fraction)
    return bayes_update(np.asarray(probabilities, dtype=np.float32), prior_factor(0.5, f))
