"""Load deepCR state dicts into the Keras UNet of `astromask.models.deepcr`.

State-dict names (deepCR 0.3.1, wrapped in ``WrappedModel`` hence the
``module.`` prefix) and their Keras layers:

==============================================  ======================
``module.inc.conv.conv.{i}``                    ``inc_conv{1,2}``
``module.down{n}.mpconv.1.conv.{i}``            ``down{n}_conv{1,2}``
``module.up{n}.up``                             ``up{n}_up``
``module.up{n}.conv.conv.{i}``                  ``up{n}_conv{1,2}``
``module.outc.conv``                            ``outc``
==============================================  ======================

In the batch-norm networks a double convolution is the sequence
``Conv, BatchNorm, ReLU, Conv, BatchNorm, ReLU`` (indices 0, 1, 3, 4); in the
weight-norm networks it is ``Conv, ReLU, Conv, ReLU`` (indices 0, 2) with each
kernel stored as ``weight_g`` and ``weight_v``.  Both normalisations are folded
into the kernel here, in float64:

* batch norm in inference mode: ``w * g / sqrt(var + eps)`` and
  ``(b - mean) * g / sqrt(var + eps) + beta`` with torch's ``eps = 1e-5``;
* weight norm (torch's default ``dim=0``): ``w = g * v / ||v||``, the norm
  over every axis but the output channels.

Kernels go from torch's ``(out, in, kh, kw)`` to Keras's ``(kh, kw, in,
out)``; transposed-convolution kernels from ``(in, out, kh, kw)`` to
``(kh, kw, out, in)``.
"""


from astromask.convert._torch import (
    conv_kernel,
    fold_batchnorm,
    keras_conv,
    keras_conv_transpose,
)

__all__ = ["convert_weights"]


def _double_conv(tensors, prefix, batchnorm):
    convs = {}
    indices = [(0, 1), (3, 4)] if batchnorm else [(0, None), (2, None)]
    for i, (conv, bn) in enumerate(indices, start=1):
        weight, bias = conv_kernel(tensors, f"{prefix}.{conv}")
        if bn is not None:
            weight, bias = fold_batchnorm(weight, bias, tensors, f"{prefix}.{bn}")
        convs[i] = keras_conv(weight, bias)
    return convs


def convert_weights(tensors, *, depth=2):
    """Turn a deepCR state dict into ``{"layer/variable": array}``.

    Parameters
    ----------
    tensors : dict of str to `numpy.ndarray`
        As returned by `astromask.weights.torch_pickle.read_torch_state_dict`.
    depth : {2, 3}, optional
        Levels of the UNet.

    Returns
    -------
    weights : dict of str to `numpy.ndarray`
        float32 arrays keyed by Keras variable path.
    """
    batchnorm = "module.inc.conv.conv.1.running_mean" in tensors
    blocks = {"inc": "module.inc.conv.conv"}
    for level in range(1, depth):
        blocks[f"down{level}"] = f"module.down{level}.mpconv.1.conv"
        blocks[f"up{9 - level}"] = f"module.up{9 - level}.conv.conv"
    weights = {}
    for block, prefix in blocks.items():
        for i, variables in _double_conv(tensors, prefix, batchnorm).items():
            for var, value in variables.items():
                weights[f"{block}_conv{i}/{var}"] = value
    for level in range(1, depth):
        block = f"up{9 - level}"
        for var, value in keras_conv_transpose(tensors, f"module.{block}.up").items():
            weights[f"{block}_up/{var}"] = value
    weight, bias = conv_kernel(tensors, "module.outc.conv")
    for var, value in keras_conv(weight, bias).items():
        weights[f"outc/{var}"] = value
    return weights
