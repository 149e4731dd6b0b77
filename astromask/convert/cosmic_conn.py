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

The attention-gated networks of Bhavanam et al. (same UNet, saved inside a
wrapper, hence the ``module.`` prefix) add ``up{n}.attention.{W_gate, W_x,
psi}.{0, 1}`` (a 1x1 convolution and its norm; the ``W_gate`` and ``W_x``
norms are again one module), which become the ``up{n}_att_*`` layers.
Their group norms have no affine weights, so nothing is assigned to them.
"""

import numpy as np

from astromask.convert._torch import (
    conv_kernel,
    fold_batchnorm,
    get_tensor,
    keras_conv,
    keras_conv_transpose,
)

__all__ = ["BLOCKS", "convert_weights", "has_attention", "is_batchnorm"]

BLOCKS = {
    "inc": "inc.conv.conv",
    "down1": "down1.down_cov.1.conv",
    "down2": "down2.down_cov.1.conv",
    "up2": "up2.conv.conv",
    "up1": "up1.conv.conv",
}
"""dict of str to str: Keras block name to state-dict prefix."""


def is_batchnorm(tensors, prefix=""):
    """Whether a Cosmic-CoNN state dict uses batch norm (else group norm).

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.convert.cosmic_conn import is_batchnorm
    >>> is_batchnorm({"inc.conv.conv.1.running_mean": np.zeros(32)})
    True
    >>> is_batchnorm({"module.inc.conv.conv.1.weight": np.ones(32)}, prefix="module.")
    False
    """
    return f"{prefix}inc.conv.conv.1.running_mean" in tensors


def has_attention(tensors, prefix=""):
    """Whether a state dict has attention gates on its skip connections.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.convert.cosmic_conn import has_attention
    >>> has_attention({"module.up1.attention.psi.0.weight": np.ones((1, 16, 1, 1))}, "module.")
    True
    >>> has_attention({"up1.up_conv.weight": np.ones((64, 32, 2, 2))})
    False
    """
    return f"{prefix}up1.attention.psi.0.weight" in tensors


def _check_shared(tensors, first, second):
    """The norms at ``first`` and ``second`` must be one module (equal tensors)."""
    for key in [k for k in tensors if k.startswith(f"{first}.")]:
        twin = second + key[len(first) :]
        if twin not in tensors or not np.array_equal(tensors[key], tensors[twin]):
            msg = (
                f"state dict: {key!r} and {twin!r} differ; Cosmic-CoNN shares one "
                "normalisation per double convolution, so this is not a Cosmic-CoNN network"
            )
            raise ValueError(msg)


def _norm_weights(tensors, prefix, layer, weights):
    """An affine group norm's ``gamma`` and ``beta``, if the file has them."""
    if f"{prefix}.weight" in tensors:
        weights[f"{layer}/gamma"] = get_tensor(tensors, f"{prefix}.weight").astype(np.float32)
        weights[f"{layer}/beta"] = get_tensor(tensors, f"{prefix}.bias").astype(np.float32)


def _conv(tensors, conv, norm, layer, batchnorm, weights):
    """A convolution, with the batch norm after it folded in when there is one."""
    weight, bias = conv_kernel(tensors, conv)
    if batchnorm:
        weight, bias = fold_batchnorm(weight, bias, tensors, norm)
    for var, value in keras_conv(weight, bias).items():
        weights[f"{layer}/{var}"] = value


def convert_weights(tensors, *, prefix=""):
    """Turn a Cosmic-CoNN state dict into ``{"layer/variable": array}``.

    Parameters
    ----------
    tensors : dict of str to `numpy.ndarray`
        As returned by `astromask.weights.torch_pickle.read_torch_state_dict`.
    prefix : str, optional
        Prefix of every key (``"module."`` for networks saved inside a
        ``DataParallel`` or wrapper module).

    Returns
    -------
    weights : dict of str to `numpy.ndarray`
        float32 arrays keyed by Keras variable path, for a model built with
        ``norm="group"`` (group-norm files; ``affine`` when the file has
        the norms' weights) or ``norm=None`` (batch-norm files; see
        `is_batchnorm`), and ``attention`` as `has_attention` says.

    Examples
    --------
    Cosmic-CoNN's ground-based network, converted and loaded into its Keras
    UNet:

    >>> from astromask import data
    >>> from astromask.convert.common import assign_weights
    >>> from astromask.convert.cosmic_conn import convert_weights
    >>> from astromask.models.cosmic_conn import build_cosmic_conn
    >>> from astromask.weights.torch_pickle import read_torch_state_dict
    >>> (entry,) = data.model_files("cosmic-conn/ground_imaging")
    >>> tensors = read_torch_state_dict(data.fetch(entry))  # doctest: +REMOTE_DATA
    >>> weights = convert_weights(tensors)  # doctest: +REMOTE_DATA
    >>> weights["inc_conv1/kernel"].shape, weights["inc_norm/gamma"].shape  # doctest: +REMOTE_DATA
    ((3, 3, 1, 32), (32,))
    >>> net = build_cosmic_conn((32, 32))  # doctest: +REMOTE_DATA
    >>> assign_weights(net, weights)  # doctest: +REMOTE_DATA
    """
    batchnorm = is_batchnorm(tensors, prefix)
    weights = {}
    for block, path in BLOCKS.items():
        path = prefix + path
        _check_shared(tensors, f"{path}.1", f"{path}.4")
        for i, conv in ((1, 0), (2, 3)):
            _conv(tensors, f"{path}.{conv}", f"{path}.1", f"{block}_conv{i}", batchnorm, weights)
        if not batchnorm:
            _norm_weights(tensors, f"{path}.1", f"{block}_norm", weights)
    for level in (2, 1):
        for var, value in keras_conv_transpose(tensors, f"{prefix}up{level}.up_conv").items():
            weights[f"up{level}_up/{var}"] = value
        if has_attention(tensors, prefix):
            gate = f"{prefix}up{level}.attention"
            layer = f"up{level}_att"
            _check_shared(tensors, f"{gate}.W_gate.1", f"{gate}.W_x.1")
            for part, key in (("gate", "W_gate"), ("skip", "W_x"), ("psi", "psi")):
                _conv(
                    tensors,
                    f"{gate}.{key}.0",
                    f"{gate}.{key}.1",
                    f"{layer}_{part}",
                    batchnorm,
                    weights,
                )
            if not batchnorm:
                _norm_weights(tensors, f"{gate}.W_gate.1", f"{layer}_norm", weights)
                _norm_weights(tensors, f"{gate}.psi.1", f"{layer}_psi_norm", weights)
    weight, bias = conv_kernel(tensors, f"{prefix}outc.conv")
    for var, value in keras_conv(weight, bias).items():
        weights[f"outc/{var}"] = value
    return weights
