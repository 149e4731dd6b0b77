"""Load MaxiMask checkpoint tensors into the Keras model.

Upstream's checkpoint names each variable after the attribute that held the
layer (``conv1/kernel/.ATTRIBUTES/VARIABLE_VALUE``).  The Keras model of
`astromask.models.maximask` uses those attribute names as layer names, and
TensorFlow stores convolution kernels as ``(kh, kw, in, out)`` like Keras, so
the conversion is a renaming; `astromask.convert.common.assign_weights`
checks the shapes.
"""

import numpy as np

__all__ = ["convert_weights"]

_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def convert_weights(tensors):
    """Turn checkpoint tensors into ``{"layer/kernel": array, ...}``.

    Parameters
    ----------
    tensors : dict of str to `numpy.ndarray`
        As returned by `astromask.weights.tf_bundle.read_tf_bundle`.

    Returns
    -------
    weights : dict of str to `numpy.ndarray`
        float32 arrays keyed ``"<layer>/kernel"`` and ``"<layer>/bias"``.
        Optimizer slots and bookkeeping entries are dropped.
    """
    weights = {}
    for key, value in tensors.items():
        if not key.endswith(_SUFFIX):
            continue
        name = key[: -len(_SUFFIX)]
        parts = name.split("/")
        if len(parts) != 2 or parts[1] not in ("kernel", "bias"):
            continue
        weights[name] = np.ascontiguousarray(value, dtype=np.float32)
    return weights
