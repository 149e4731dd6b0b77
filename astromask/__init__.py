"""astromask: MaxiMask and deepCR-style contaminant masks for CCDData, in Keras 3.

Importing astromask does not import Keras, so ``KERAS_BACKEND`` can still be
set afterwards and ``astromask --help`` stays fast.  When no backend was
chosen and Keras's default (TensorFlow) is not installed, importing astromask
sets ``KERAS_BACKEND`` to the fastest installed one (`astromask._backend`).
"""

import sys

if "keras" not in sys.modules:
    from astromask._backend import choose_backend

    choose_backend()

from astromask._version import __version__
from astromask.batch import flag_files
from astromask.ccdproc_compat import cosmicray_deepcr, cosmicray_maximask
from astromask.classes import CLASS_NAMES, CLASSES, decode_flags
from astromask.core import flag, inpaint, probabilities, track, tracking_score
from astromask.data import fetch_all
from astromask.metrics import calibrate_thresholds, estimate_priors

__all__ = [
    "CLASSES",
    "CLASS_NAMES",
    "__version__",
    "calibrate_thresholds",
    "cosmicray_deepcr",
    "cosmicray_maximask",
    "decode_flags",
    "estimate_priors",
    "fetch_all",
    "flag",
    "flag_files",
    "inpaint",
    "probabilities",
    "track",
    "tracking_score",
    "train",
]


def __getattr__(name):
    # astromask.train needs Keras at import: load it on first use only.
    if name == "train":
        from astromask.training import train

        return train
    msg = f"module 'astromask' has no attribute {name!r}"
    raise AttributeError(msg)
