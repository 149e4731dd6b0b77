"""Folding an inference-mode batch normalisation into the convolution before it.

One arithmetic for both callers: `astromask.convert._torch.fold_batchnorm`
(torch state dicts, float64, kernels ``(out, in, kh, kw)``) and
`astromask.training.fold_batchnorm` (Keras weights, float32, kernels
``(kh, kw, in, out)``).
"""

import numpy as np

__all__ = ["fold_batchnorm_arrays"]


def fold_batchnorm_arrays(kernel, bias, gamma, beta, mean, var, eps, *, out_axis):
    """Fold ``gamma (x - mean) / sqrt(var + eps) + beta`` into a kernel and bias.

    ``scale = gamma / sqrt(var + eps)``; the kernel becomes ``kernel *
    scale`` (``scale`` along ``out_axis``) and the bias ``(bias - mean) *
    scale + beta``.  The operations are numpy's, in this order, in the dtype
    of the inputs (no cast is made), so callers get the same bits as if they
    wrote the expressions themselves.

    Parameters
    ----------
    kernel : `numpy.ndarray`
        Convolution kernel.
    bias, gamma, beta, mean, var : `numpy.ndarray`
        Per output channel: the convolution's bias, and the batch norm's
        scale, shift, running mean and running variance.
    eps : float
        The batch norm's epsilon.
    out_axis : int
        Axis of ``kernel`` holding the output channels (0 for torch's
        ``(out, in, kh, kw)``, -1 for Keras's ``(kh, kw, in, out)``).

    Returns
    -------
    kernel, bias : `numpy.ndarray`
        The folded kernel and bias.

    Examples
    --------
    >>> import numpy as np
    >>> from astromask.convert.batchnorm import fold_batchnorm_arrays
    >>> kernel, bias = fold_batchnorm_arrays(
    ...     np.ones((1, 1, 1, 2)), np.zeros(2), np.array([2.0, 1.0]), np.array([0.0, 1.0]),
    ...     np.array([1.0, 0.0]), np.array([1.0, 4.0]), 0.0, out_axis=-1)
    >>> kernel.ravel().tolist(), bias.tolist()
    ([2.0, 0.5], [-2.0, 1.0])
    """
    scale = gamma / np.sqrt(var + eps)
    shape = [1] * np.ndim(kernel)
    shape[out_axis] = -1
    return kernel * np.reshape(scale, shape), (bias - mean) * scale + beta
