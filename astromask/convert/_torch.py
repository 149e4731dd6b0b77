"""Torch state-dict tensors to Keras variables: helpers shared by converters.

Kernels go from torch's ``(out, in, kh, kw)`` to Keras's ``(kh, kw, in,
out)``; transposed-convolution kernels from ``(in, out, kh, kw)`` to
``(kh, kw, out, in)``.  Folding is done in float64 and the results are cast
to float32.
"""

import numpy as np

from astromask.convert.batchnorm import fold_batchnorm_arrays

BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default; deepCR and Cosmic-CoNN keep it


def get_tensor(tensors, key):
    """``tensors[key]`` as float64, or a `ValueError` naming the missing key."""
    try:
        return np.asarray(tensors[key], dtype=np.float64)
    except KeyError:
        msg = f"state dict has no {key!r}; it is not a network of the expected shape"
        raise ValueError(msg) from None


def conv_kernel(tensors, prefix):
    """A convolution's (kernel, bias) in torch layout, weight norm folded.

    Weight norm (torch's default ``dim=0``): ``w = g * v / ||v||``, the norm
    over every axis but the output channels.
    """
    if f"{prefix}.weight_v" in tensors:
        v = get_tensor(tensors, f"{prefix}.weight_v")
        g = get_tensor(tensors, f"{prefix}.weight_g")
        norm = np.sqrt(np.sum(v * v, axis=tuple(range(1, v.ndim)), keepdims=True))
        weight = g * v / norm
    else:
        weight = get_tensor(tensors, f"{prefix}.weight")
    return weight, get_tensor(tensors, f"{prefix}.bias")


def fold_batchnorm(weight, bias, tensors, prefix):
    """Fold an inference-mode batch norm into the convolution before it.

    ``w * g / sqrt(var + eps)`` and ``(b - mean) * g / sqrt(var + eps) + beta``.
    """
    gamma = get_tensor(tensors, f"{prefix}.weight")
    beta = get_tensor(tensors, f"{prefix}.bias")
    mean = get_tensor(tensors, f"{prefix}.running_mean")
    var = get_tensor(tensors, f"{prefix}.running_var")
    return fold_batchnorm_arrays(weight, bias, gamma, beta, mean, var, BN_EPS, out_axis=0)


def keras_conv(weight, bias):
    """``{"kernel", "bias"}`` of a Keras ``Conv2D`` from torch-layout arrays."""
    return {
        "kernel": np.ascontiguousarray(weight.transpose(2, 3, 1, 0), dtype=np.float32),
        "bias": np.asarray(bias, dtype=np.float32),
    }


def keras_conv_transpose(tensors, prefix):
    """``{"kernel", "bias"}`` of a Keras ``Conv2DTranspose`` from a torch one."""
    weight = get_tensor(tensors, f"{prefix}.weight")  # (in, out, kh, kw)
    return {
        "kernel": np.ascontiguousarray(weight.transpose(2, 3, 1, 0), dtype=np.float32),
        "bias": get_tensor(tensors, f"{prefix}.bias").astype(np.float32),
    }
