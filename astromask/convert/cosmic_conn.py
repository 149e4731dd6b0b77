"""Load Cosmic-CoNN state dicts into the Keras UNet of `astromask.models.cosmic_conn`.

State-dict names (``cosmic-conn`` 0.6.1 model files) and their Keras layers:

==============================================  ======================
``inc.conv.conv.{i}``                           ``inc_*``
``down{n}.down_cov.1.conv.{i}``                 ``down{n}_*``
``up{n}.up_conv``                               ``up{n}_up``
``up{n}.conv.conv.{i}``                         ``up{n}_*``
``outc.conv``                                   ``outc``
==============================================  ======================

A double convolution is ``Conv, Norm, ReLU, Conv, Norm, ReLU`` (indices 0,
1, 3, 4), where the two norms are one shared module: the file stores its
tensors twice, under 1 and 4, and they must be equal.  Group-norm weights
become the shared ``{block}_norm`` layer's ``gamma`` and ``beta``; batch
norms (the ``HST_ACS_WFC`` network) are folded into both convolutions, as
for deepCR (`astromask.convert._torch.fold_batchnorm`).
"""

import numpy as np

from astromask.convert._torch import (
    conv_kernel,
    fold_batchnorm,
    get_tensor,
    keras_conv,
    keras_conv_transpose,
)

__all__ = ["BLOCKS", "convert_weights", "is_batchnorm"]

BLOCKS = {
    "inc": "inc.conv.conv",
    "down1": "down1.down_cov.1.conv",
    "down2": "down2.down_cov.1.conv",
    "up2": "up2.conv.conv",
    "up1": "up1.conv.conv",
}
"""dict of str to str: Keras block name to state-dict prefix."""


def is_batchnorm(tensors):
    """Whether a Cosmic-CoNN state dict uses batch norm (else group norm)."""
    return "inc.conv.conv.1.running_mean" in tensors


def _check_shared(tensors, prefix):
    for key in [k for k in tensors if k.startswith(f"{prefix}.1.")]:
        twin = f"{prefix}.4." + key[len(prefix) + 3 :]
        if twin not in tensors or not np.array_equal(tensors[key], tensors[twin]):
            msg = (
                f"state dict: {key!r} and {twin!r} differ; Cosmic-CoNN shares one "
                "normalisation per double convolution, so this is not a Cosmic-CoNN network"
            )
            raise ValueError(msg)


def convert_weights(tensors):
    """Turn a Cosmic-CoNN state dict into ``{"layer/variable": array}``.

    Parameters
    ----------
    tensors : dict of str to `numpy.ndarray`
        As returned by `astromask.weights.torch_pickle.read_torch_state_dict`.

    Returns
    -------
    weights : dict of str to `numpy.ndarray`
        float32 arrays keyed by Keras variable path, for a model built with
        ``norm="group"`` (group-norm files) or ``norm=None`` (batch-norm
        files; see `is_batchnorm`).
    """
    batchnorm = is_batchnorm(tensors)
    weights = {}
    for block, prefix in BLOCKS.items():
        _check_shared(tensors, prefix)
        for i, conv in ((1, 0), (2, 3)):
            weight, bias = conv_kernel(tensors, f"{prefix}.{conv}")
            if batchnorm:
                weight, bias = fold_batchnorm(weight, bias, tensors, f"{prefix}.1")
            for var, value in keras_conv(weight, bias).items():
                weights[f"{block}_conv{i}/{var}"] = value
        if not batchnorm:
            weights[f"{block}_norm/gamma"] = get_tensor(tensors, f"{prefix}.1.weight").astype(
                np.float32
            )
            weights[f"{block}_norm/beta"] = get_tensor(tensors, f"{prefix}.1.bias").astype(
                np.float32
            )
    for level in (2, 1):
        for var, value in keras_conv_transpose(tensors, f"up{level}.up_conv").items():
            weights[f"up{level}_up/{var}"] = value
    weight, bias = conv_kernel(tensors, "outc.conv")
    for var, value in keras_conv(weight, bias).items():
        weights[f"outc/{var}"] = value
    return weights
