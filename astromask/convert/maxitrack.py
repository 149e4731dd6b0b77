"""Load MaxiTrack checkpoint tensors into the Keras model.

Convolution and dense weights are named after their layer attribute
(``conv1/kernel/...``).  The PReLU slopes were not attributes of the upstream
model, so the checkpoint keeps them by their position in the model's variable
list (``variables/2``, ``variables/5``, ...): the third variable of each
convolution and of the first two dense layers.
"""

import numpy as np

from astromask.convert.maximask import _SUFFIX
from astromask.convert.maximask import convert_weights as _named_weights

__all__ = ["convert_weights"]

# Checkpoint name of each PReLU slope (its index in upstream's variable list).
_PRELU_SLOTS = {
    "conv1_prelu": "variables/2",
    "conv2_prelu": "variables/5",
    "conv3_prelu": "variables/8",
    "conv4_prelu": "variables/11",
    "conv5_prelu": "variables/14",
    "dense1_prelu": "variables/17",
    "dense2_prelu": "variables/20",
}


def convert_weights(tensors):
    """Turn checkpoint tensors into ``{"layer/variable": array}``.

    Parameters
    ----------
    tensors : dict of str to `numpy.ndarray`
        As returned by `astromask.weights.tf_bundle.read_tf_bundle`.
    """
    weights = _named_weights(tensors)
    for layer, slot in _PRELU_SLOTS.items():
        key = slot + _SUFFIX
        if key not in tensors:
            msg = f"checkpoint has no {slot} (PReLU slopes of {layer})"
            raise ValueError(msg)
        weights[f"{layer}/alpha"] = np.ascontiguousarray(tensors[key], dtype=np.float32)
    return weights
