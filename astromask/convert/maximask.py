"""Load MaxiMask checkpoint tensors into the Keras model.

Upstream's checkpoint names each variable after the attribute that held the
layer (``conv1/kernel/.ATTRIBUTES/VARIABLE_VALUE``).  The Keras model of
`astromask.models.maximask` uses those attribute names as layer names, and
TensorFlow stores convolution kernels as ``(kh, kw, in, out)`` like Keras, so
the conversion is a renaming plus shape checks.
"""

import numpy as np

__all__ = ["convert_weights", "load_weights"]

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


def load_weights(model, weights):
    """Assign converted weights to every convolution of ``model``.

    Raises
    ------
    ValueError
        If a layer's weights are missing or have the wrong shape, or if some
        weights belong to no layer of the model.
    """
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        values = []
        for variable in (layer.kernel, layer.bias):
            key = f"{layer.name}/{'kernel' if variable is layer.kernel else 'bias'}"
            if key not in weights:
                msg = f"weights for layer {layer.name!r} are missing ({key})"
                raise ValueError(msg)
            value = weights[key]
            if tuple(value.shape) != tuple(variable.shape):
                msg = (
                    f"weights {key} have shape {value.shape}, the model expects "
                    f"{tuple(variable.shape)}"
                )
                raise ValueError(msg)
            values.append(value)
            used.add(key)
        layer.set_weights(values)
    unused = sorted(set(weights) - used)
    if unused:
        msg = f"weights do not match the model: no layer for {', '.join(unused)}"
        raise ValueError(msg)
