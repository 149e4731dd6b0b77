"""deepCR's UNets (Zhang & Bloom 2020, ApJ 889, 24) in Keras 3.

deepCR 0.3.1 (``deepCR/unet*.py``, ``deepCR/parts*.py``) builds its mask and
inpainting networks from the same blocks:

* ``inc``: two 3x3 convolutions (``same`` padding) with ReLU;
* ``down1`` (and ``down2`` in the three-level UNet): 2x2 max pooling, then two
  3x3 convolutions doubling the channels;
* ``up7``/``up8``: a 2x2 stride-2 transposed convolution halving the
  channels, concatenated *after* the encoder map of the same level, then two
  3x3 convolutions;
* ``outc``: a 1x1 convolution, followed by a sigmoid in the mask networks.

Upstream puts a batch normalisation after each 3x3 convolution, or wraps the
convolutions in weight normalisation (``WFC3-UVIS``).  In inference both are
fixed affine maps of the kernel, so `astromask.convert.deepcr` folds them into
the convolution weights and the Keras network is the plain UNet below.
"""

import keras

from astromask.models.layers import unet

__all__ = ["build_deepcr"]


def _double_conv(x, filters, name, fmt, batchnorm=False):
    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            activation=None if batchnorm else "relu",
            data_format=fmt,
            name=f"{name}_conv{i}",
        )(x)
        if batchnorm:
            # deepCR's BatchNorm2d(momentum=0.005) is Keras's momentum 0.995.
            x = keras.layers.BatchNormalization(
                axis=1 if fmt == "channels_first" else -1,
                momentum=0.995,
                epsilon=1e-5,
                name=f"{name}_bn{i}",
            )(x)
            x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def build_deepcr(
    tile_shape=(256, 256),
    *,
    depth=2,
    hidden=32,
    in_channels=1,
    sigmoid=True,
    batchnorm=False,
    data_format=None,
    name="deepcr",
):
    """Build a deepCR UNet with random weights.

    Parameters
    ----------
    tile_shape : tuple of int, optional
        ``(height, width)`` of the input tiles, each a multiple of
        ``2 ** (depth - 1)``.
    depth : {2, 3}, optional
        Number of resolution levels (``UNet2``, ``UNet3``).
    hidden : int, optional
        Channels of the first level (doubled at each lower level).
    in_channels : int, optional
        1 for the mask networks (the image); 2 for inpainting (the masked
        image and the mask).
    sigmoid : bool, optional
        End with a sigmoid (mask networks) or not (inpainting).
    batchnorm : bool, optional
        Put a batch normalisation (``{block}_bn{i}``) after each 3x3
        convolution, as upstream trains; `False` (default) is the inference
        form, with batch norm folded into the kernels.
    data_format : {"channels_last", "channels_first"}, optional
        Internal layout (default: Keras's ``image_data_format()``).  Inputs
        and outputs are channels-last either way.
    name : str, optional
        Model name.

    Returns
    -------
    model : `keras.Model`
        Maps ``(batch, height, width, in_channels)`` to ``(batch, height,
        width, 1)``.

    Examples
    --------
    A small inpainting UNet (masked image and mask in, no sigmoid):

    >>> from astromask.models.deepcr import build_deepcr
    >>> net = build_deepcr((16, 16), depth=2, hidden=4, in_channels=2, sigmoid=False)
    >>> net.input_shape, net.output_shape
    ((None, 16, 16, 2), (None, 16, 16, 1))
    >>> [layer.name for layer in net.layers if layer.name.endswith("_conv1")]
    ['inc_conv1', 'down1_conv1', 'up8_conv1']
    """
    if depth not in (2, 3):
        msg = f"depth: deepCR networks have 2 or 3 levels, got {depth}"
        raise ValueError(msg)
    height, width = (int(v) for v in tile_shape)
    step = 2 ** (depth - 1)
    if height % step or width % step:
        msg = f"tile_shape: {tile_shape} is not a multiple of {step}"
        raise ValueError(msg)
    fmt = data_format or keras.config.image_data_format()
    inputs = keras.Input(shape=(height, width, in_channels), name="image")

    def double_conv(x, filters, block):
        return _double_conv(x, filters, block, fmt, batchnorm)

    return unet(
        inputs,
        depth=depth,
        filters=hidden,
        double_conv=double_conv,
        # Upstream names the decoder blocks up8 (last) and up7 (the one before).
        up_name=lambda level: f"up{9 - level}",
        activation="sigmoid" if sigmoid else None,
        data_format=fmt,
        name=name,
    )
