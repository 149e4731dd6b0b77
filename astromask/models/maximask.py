"""The MaxiMask network (Paillassa, Bertin & Bouy 2020, A&A 634, A48) in Keras 3.

The architecture was read from upstream's SavedModel graph (MaxiMask 1.4.1):

* the input goes through ``asinh``;
* encoder: ``conv1`` (32), pool, ``conv2`` (64), pool, ``conv3_1``/``conv3_2``
  (128), pool, ``conv4_1``/``conv4_2`` (256), pool, ``conv5_1``/``conv5_2``
  (256), pool, ``convmid`` (256);
* decoder: at each level the map is unpooled into the argmax positions of the
  matching pooling and summed with the encoder map that was pooled
  (``upconv5_*``, ``upconv4_*``, ``upconv3_*``, ``upconv2``), ending with
  ``upconv1`` (14);
* four extra paths ``ucp4`` .. ``ucp1`` take the decoder maps of levels 4 .. 1
  back to full resolution by unpooling and convolution alone, each ending with
  a 14-channel convolution;
* these five 14-channel pre-predictions go through ReLU, are concatenated
  into 70 channels, and ``final_conv`` with a sigmoid gives the 14 class
  probabilities.  Upstream's graph applies those five ReLUs as separate ops
  after linear convolutions; here they are the convolutions' own
  activations, which the backends fuse into the convolution: the same
  numbers, with one pass less over five full-resolution maps.

Every convolution is 3x3, stride 1, ``same`` padding, with ReLU unless stated.
Layer names are the checkpoint's variable names, so weights load by name.
"""

import keras

from astromask.models.layers import MaxPoolWithMask, MaxUnpool

__all__ = ["NUM_CLASSES", "build_maximask"]

NUM_CLASSES = 14


def _conv(x, filters, name, data_format, activation="relu"):
    return keras.layers.Conv2D(
        filters, 3, padding="same", activation=activation, data_format=data_format, name=name
    )(x)


def build_maximask(tile_shape=(400, 400), *, data_format=None, name="maximask"):
    """Build the MaxiMask network with random weights.

    Parameters
    ----------
    tile_shape : tuple of int, optional
        ``(height, width)`` of the input tiles.  Any size works; the pooling
        layers need it to be fixed when the model is built.
    data_format : {"channels_last", "channels_first"}, optional
        Internal layout (default: Keras's ``image_data_format()``).  Inputs
        and outputs are channels-last either way; ``"channels_first"`` spares
        the PyTorch backend a transposition around every convolution.
    name : str, optional
        Model name.

    Returns
    -------
    model : `keras.Model`
        Maps ``(batch, height, width, 1)`` normalised images to
        ``(batch, height, width, 14)`` sigmoid class probabilities.
    """
    height, width = (None if v is None else int(v) for v in tile_shape)
    fmt = data_format or keras.config.image_data_format()
    inputs = keras.Input(shape=(height, width, 1), name="image")
    x = keras.layers.Activation(keras.ops.arcsinh, name="asinh")(inputs)
    if fmt == "channels_first":
        x = keras.layers.Permute((3, 1, 2), name="to_channels_first")(x)

    # Encoder: (conv names, filters) per level; each level ends with a pool.
    encoder = [
        (["conv1"], 32),
        (["conv2"], 64),
        (["conv3_1", "conv3_2"], 128),
        (["conv4_1", "conv4_2"], 256),
        (["conv5_1", "conv5_2"], 256),
    ]
    skips, masks = [], []
    for level, (names, filters) in enumerate(encoder, start=1):
        for conv_name in names:
            x = _conv(x, filters, conv_name, fmt)
        skips.append(x)
        x, mask = MaxPoolWithMask(data_format=fmt, name=f"pool{level}")(x)
        masks.append(mask)
    x = _conv(x, 256, "convmid", fmt)

    # Decoder: unpool into the level's argmax, add the encoder map, convolve.
    decoder = [
        (5, [("upconv5_2", 256), ("upconv5_1", 256)]),
        (4, [("upconv4_2", 256), ("upconv4_1", 128)]),
        (3, [("upconv3_2", 128), ("upconv3_1", 64)]),
        (2, [("upconv2", 32)]),
        (1, [("upconv1", NUM_CLASSES)]),
    ]
    decoded = {}
    for level, convs in decoder:
        x = MaxUnpool(data_format=fmt, name=f"unpool{level}")([x, masks[level - 1]])
        x = keras.layers.Add(name=f"skip{level}")([x, skips[level - 1]])
        for conv_name, filters in convs:
            x = _conv(x, filters, conv_name, fmt)  # upconv1: the main pre-prediction's ReLU
        decoded[level] = x
    predictions = [x]

    # Extra paths: the decoder map after level L+1 goes back to full
    # resolution through L unpool+conv steps (channels halve down to 32).
    for path in (4, 3, 2, 1):
        x = decoded[path + 1]
        for level in range(path, 0, -1):
            x = MaxUnpool(data_format=fmt, name=f"ucp{path}_unpool{path - level + 1}")(
                [x, masks[level - 1]]
            )
            if level > 1:
                filters = {4: 128, 3: 64, 2: 32}[level]
                x = _conv(x, filters, f"ucp{path}_conv{level}", fmt)
            else:
                x = _conv(x, NUM_CLASSES, f"ucp{path}_conv1", fmt)  # with the path's ReLU
        predictions.append(x)

    x = keras.layers.Concatenate(axis=1 if fmt == "channels_first" else -1, name="concat")(
        predictions
    )
    outputs = _conv(x, NUM_CLASSES, "final_conv", fmt, activation="sigmoid")
    if fmt == "channels_first":
        outputs = keras.layers.Permute((2, 3, 1), name="to_channels_last")(outputs)
    return keras.Model(inputs, outputs, name=name)
