"""astromask: MaxiMask and deepCR-style contaminant masks for CCDData, in Keras 3.

Importing astromask imports neither Keras nor astropy: the public names
below are loaded on first use (PEP 562), so ``KERAS_BACKEND`` can still be
set afterwards, ``astromask --help`` starts at once, and Ctrl-C while the
command line starts gives its one-line message.  When no backend was chosen
and Keras's default (TensorFlow) is not installed, importing astromask sets
``KERAS_BACKEND`` to the fastest installed one (`astromask._backend`).
"""

import importlib
import sys

if "keras" not in sys.modules:
    from astromask._backend import choose_backend

    choose_backend()

from astromask._version import __version__

#: Where each public name lives; it is imported from there on first use.
_EXPORTS = {
    "CLASSES": "astromask.classes",
    "CLASS_NAMES": "astromask.classes",
    "calibrate_thresholds": "astromask.metrics",
    "cosmicray_deepcr": "astromask.ccdproc_compat",
    "cosmicray_maximask": "astromask.ccdproc_compat",
    "decode_flags": "astromask.classes",
    "estimate_priors": "astromask.metrics",
    "fetch_all": "astromask.data",
    "flag": "astromask.core",
    "flag_files": "astromask.batch",
    "inpaint": "astromask.core",
    "probabilities": "astromask.core",
    "track": "astromask.core",
    "tracking_score": "astromask.core",
    "train": "astromask.training",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'astromask' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__():
    return sorted({*globals(), *_EXPORTS})
