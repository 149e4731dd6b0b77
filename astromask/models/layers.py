"""Keras 3 layers shared by astromask's networks.

Only ``keras.ops`` are used, so every layer runs on the TensorFlow, JAX and
PyTorch backends alike.
"""

import keras
from keras import ops

__all__ = ["GroupNorm", "MaxPoolWithMask", "MaxUnpool", "unet"]


def _spatial(x, axes):
    """Rows and columns of ``x``: ints where known, scalar tensors where not."""
    shape = ops.shape(x)
    return tuple(x.shape[a] if x.shape[a] is not None else shape[a] for a in axes)


def _known(*sizes):
    return all(isinstance(size, int) for size in sizes)


class _ImageLayer(keras.layers.Layer):
    """A layer on 4-D image batches in either data format."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format or keras.config.image_data_format()
        if self.data_format not in ("channels_last", "channels_first"):
            msg = (
                "data_format: expected 'channels_last' or 'channels_first', got "
                f"{self.data_format!r}"
            )
            raise ValueError(msg)
        # Axes of the rows and columns.
        self._axes = (1, 2) if self.data_format == "channels_last" else (2, 3)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


@keras.saving.register_keras_serializable(package="astromask")
class MaxPoolWithMask(_ImageLayer):
    """2x2 max pooling, stride 2, ``SAME`` padding, that also returns its argmax.

    This is TensorFlow's ``MaxPoolWithArgmax`` written with portable ops.
    Instead of flat argmax indices it returns a mask of the input's shape:
    true (or 1) where a pixel is the maximum of its 2x2 window, false (or 0)
    elsewhere.  It is boolean channels-last and of the layer's compute dtype
    channels-first, whichever `MaxUnpool` uses fastest.
    Exactly one pixel per window and channel is selected; on ties the first in
    row-major order wins, as in TensorFlow's kernel (ties are common after a
    ReLU, where whole windows are zero).  Odd sizes are padded at the bottom
    and right, so the output has ``ceil(n / 2)`` rows and columns.

    The spatial size may be unknown when the layer is traced (a network
    built for every tile size, traced once by TensorFlow): the padding and
    cropping then follow the runtime size, with the same results.

    Parameters
    ----------
    data_format : {"channels_last", "channels_first"}, optional
        Layout of the input (default: Keras's ``image_data_format()``).

    Examples
    --------
    >>> import numpy as np
    >>> from keras import ops
    >>> from astromask.models.layers import MaxPoolWithMask
    >>> x = np.array([[1, 5, 2, 2], [3, 4, 0, 1]], np.float32).reshape(1, 2, 4, 1)
    >>> pooled, mask = MaxPoolWithMask(data_format="channels_last")(x)
    >>> ops.convert_to_numpy(pooled)[0, :, :, 0].tolist()
    [[5.0, 2.0]]
    >>> ops.convert_to_numpy(mask)[0, :, :, 0].astype(int).tolist()  # first maximum wins
    [[0, 1, 1, 0], [0, 0, 0, 0]]
    """

    def call(self, x):
        ay, ax = self._axes
        height, width = _spatial(x, self._axes)
        pad_h, pad_w = height % 2, width % 2
        if not _known(height, width) or pad_h or pad_w:
            pads = [[0, 0]] * 4
            pads[ay], pads[ax] = [0, pad_h], [0, pad_w]
            x = ops.pad(x, pads, constant_values=-float("inf"))
        half_h, half_w = (height + pad_h) // 2, (width + pad_w) // 2
        if self.data_format == "channels_last":
            channels = x.shape[3]
            windows = ops.reshape(x, (-1, half_h, 2, half_w, 2, channels))

            def corner(dy, dx):
                return windows[:, :, dy, :, dx, :]

        else:
            channels = x.shape[1]
            windows = ops.reshape(x, (-1, channels, half_h, 2, half_w, 2))

            def corner(dy, dx):
                return windows[:, :, :, dy, :, dx]

        top_left, top_right = corner(0, 0), corner(0, 1)
        bottom_left, bottom_right = corner(1, 0), corner(1, 1)
        pooled = ops.maximum(
            ops.maximum(top_left, top_right), ops.maximum(bottom_left, bottom_right)
        )
        # First maximum in row-major order wins.
        first = ops.equal(top_left, pooled)
        second = ops.logical_and(ops.equal(top_right, pooled), ops.logical_not(first))
        taken = ops.logical_or(first, second)
        third = ops.logical_and(ops.equal(bottom_left, pooled), ops.logical_not(taken))
        fourth = ops.logical_not(ops.logical_or(taken, third))
        # Re-interleave the four corners into the (padded) input layout.
        row_axis = 3 if self.data_format == "channels_last" else 4
        mask = ops.stack(
            [
                ops.stack([first, second], axis=row_axis),
                ops.stack([third, fourth], axis=row_axis),
            ],
            axis=ay + 1,
        )
        if self.data_format == "channels_last":
            mask = ops.reshape(mask, (-1, 2 * half_h, 2 * half_w, channels))
            mask = mask[:, :height, :width, :]
        else:
            mask = ops.reshape(mask, (-1, channels, 2 * half_h, 2 * half_w))
            mask = mask[:, :, :height, :width]
        if self.data_format == "channels_first":
            # MaxUnpool multiplies by it there (torch's where() is slower).
            mask = ops.cast(mask, self.compute_dtype)
        return pooled, mask

    def compute_output_shape(self, input_shape):
        ay, ax = self._axes
        shape = list(input_shape)
        for axis in (ay, ax):
            shape[axis] = None if shape[axis] is None else (shape[axis] + 1) // 2
        return tuple(shape), tuple(input_shape)

    def compute_output_spec(self, x):
        pooled, mask = self.compute_output_shape(x.shape)
        mask_dtype = "bool" if self.data_format == "channels_last" else self.compute_dtype
        return keras.KerasTensor(pooled, dtype=x.dtype), keras.KerasTensor(mask, dtype=mask_dtype)


@keras.saving.register_keras_serializable(package="astromask")
class MaxUnpool(_ImageLayer):
    """Undo a `MaxPoolWithMask`: put each value back where its maximum was.

    Called on ``[x, mask]``, where ``mask`` is the second output of the
    matching `MaxPoolWithMask`.  Each value of ``x`` goes to the selected
    pixel of its 2x2 window; the other three pixels are zero.  The output has
    the mask's spatial shape (odd sizes are cropped) and ``x``'s channels.

    Parameters
    ----------
    data_format : {"channels_last", "channels_first"}, optional
        Layout of the inputs (default: Keras's ``image_data_format()``).

    Examples
    --------
    >>> import numpy as np
    >>> from keras import ops
    >>> from astromask.models.layers import MaxPoolWithMask, MaxUnpool
    >>> x = np.array([[1, 5, 2, 2], [3, 4, 0, 1]], np.float32).reshape(1, 2, 4, 1)
    >>> pooled, mask = MaxPoolWithMask(data_format="channels_last")(x)
    >>> up = MaxUnpool(data_format="channels_last")([pooled, mask])
    >>> ops.convert_to_numpy(up)[0, :, :, 0].tolist()
    [[0.0, 5.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """

    def call(self, inputs):
        x, mask = inputs
        ay, ax = self._axes
        height, width = _spatial(mask, self._axes)
        half_h, half_w = _spatial(x, self._axes)
        zero = ops.zeros((), dtype=x.dtype)
        if self.data_format == "channels_last" and not _known(height, width, half_h, half_w):
            # Sizes known at run time only: pad the mask to the upsampled
            # size (odd sizes), broadcast as below, crop.
            pads = [[0, 0], [0, 2 * half_h - height], [0, 2 * half_w - width], [0, 0]]
            channels = x.shape[3]
            windows = ops.reshape(
                ops.pad(ops.cast(mask, "bool"), pads), (-1, half_h, 2, half_w, 2, channels)
            )
            x = ops.reshape(x, (-1, half_h, 1, half_w, 1, channels))
            up = ops.reshape(ops.where(windows, x, zero), (-1, 2 * half_h, 2 * half_w, channels))
            return up[:, :height, :width, :]
        if self.data_format == "channels_last" and (height, width) == (2 * half_h, 2 * half_w):
            # Broadcast each value over its 2x2 window in one pass: no
            # upsampled copy of x is made.  (Channels-first, the window's
            # columns would be the innermost axis, of length 2: slower.)
            channels = x.shape[3]
            x = ops.reshape(x, (-1, half_h, 1, half_w, 1, channels))
            windows = ops.reshape(ops.cast(mask, "bool"), (-1, half_h, 2, half_w, 2, channels))
            return ops.reshape(ops.where(windows, x, zero), (-1, height, width, channels))
        up = ops.repeat(ops.repeat(x, 2, axis=ay), 2, axis=ax)
        if self.data_format == "channels_last":
            return ops.where(ops.cast(mask, "bool"), up[:, :height, :width, :], zero)
        return up[:, :, :height, :width] * ops.cast(mask, up.dtype)

    def compute_output_shape(self, input_shapes):
        x_shape, mask_shape = input_shapes
        ay, ax = self._axes
        shape = list(x_shape)
        shape[ay], shape[ax] = mask_shape[ay], mask_shape[ax]
        return tuple(shape)


def _mean(x, axes):
    """Mean over ``axes`` (kept), one axis at a time.

    TensorFlow's CPU kernel reduces several axes at once with a float32
    accumulator that drifts over a million terms (group means of a 512x512
    tile off by 1e-1 of their spread); reducing one axis at a time keeps each
    sum short.
    """
    for axis in sorted(axes, reverse=True):
        x = ops.mean(x, axis=axis, keepdims=True)
    return x


@keras.saving.register_keras_serializable(package="astromask")
class GroupNorm(_ImageLayer):
    """Group normalisation with two-pass statistics, as ``torch.nn.GroupNorm``.

    The channels are split into ``groups`` groups; each group of each sample
    is normalised by the mean and (biased) variance over its channels and
    all pixels, then scaled by ``gamma`` and shifted by ``beta`` per channel.

    `keras.layers.GroupNormalization` reduces all the axes of a group at
    once; on the TensorFlow and PyTorch CPU backends that float32 sum drifts
    over the million terms of a 512x512 tile (Cosmic-CoNN probabilities moved
    by up to 5e-3 against upstream).  This layer reduces one axis at a time
    and subtracts the mean before squaring: ``E[(x - E[x])^2]``.

    Parameters
    ----------
    groups : int
        Number of groups; must divide the channels.
    epsilon : float, optional
        Added to the variance (torch's default 1e-5).
    affine : bool, optional
        Learn a per-channel scale ``gamma`` and shift ``beta`` (torch's
        ``affine=True``, the default); without them the layer has no
        weights.
    data_format : {"channels_last", "channels_first"}, optional
        Layout of the input (default: Keras's ``image_data_format()``).

    Examples
    --------
    Each group of channels comes out with zero mean and unit variance:

    >>> import numpy as np
    >>> from keras import ops
    >>> from astromask.models.layers import GroupNorm
    >>> x = np.random.default_rng(0).normal(5, 3, (2, 8, 8, 4)).astype(np.float32)
    >>> y = ops.convert_to_numpy(GroupNorm(2, data_format="channels_last")(x))
    >>> groups = y.reshape(2, 8, 8, 2, 2)
    >>> bool(np.allclose(groups.mean(axis=(1, 2, 4)), 0, atol=1e-5))
    True
    >>> bool(np.allclose(groups.std(axis=(1, 2, 4)), 1, atol=1e-3))
    True
    """

    def __init__(self, groups, *, epsilon=1e-5, affine=True, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        self.groups = int(groups)
        self.epsilon = float(epsilon)
        self.affine = bool(affine)

    def build(self, input_shape):
        axis = -1 if self.data_format == "channels_last" else 1
        channels = int(input_shape[axis])
        if channels % self.groups:
            msg = f"groups: {channels} channels do not split into {self.groups} groups"
            raise ValueError(msg)
        if self.affine:
            self.gamma = self.add_weight(shape=(channels,), initializer="ones", name="gamma")
            self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")

    def call(self, x):
        shape = ops.shape(x)
        size = x.shape[-1] if self.data_format == "channels_last" else x.shape[1]
        per_group = size // self.groups
        if self.data_format == "channels_last":
            grouped = ops.reshape(x, (shape[0], shape[1], shape[2], self.groups, per_group))
            axes, param_shape = (1, 2, 4), (1, 1, 1, size)
        else:
            grouped = ops.reshape(x, (shape[0], self.groups, per_group, shape[2], shape[3]))
            axes, param_shape = (2, 3, 4), (1, size, 1, 1)
        centered = grouped - _mean(grouped, axes)
        variance = _mean(ops.square(centered), axes)
        normed = ops.reshape(centered * ops.rsqrt(variance + self.epsilon), shape)
        if not self.affine:
            return normed
        return normed * ops.reshape(self.gamma, param_shape) + ops.reshape(self.beta, param_shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "groups": self.groups,
            "epsilon": self.epsilon,
            "affine": self.affine,
        }


def unet(
    inputs,
    *,
    depth,
    filters,
    double_conv,
    up_name=lambda level: f"up{level}",
    skip_gate=None,
    activation="sigmoid",
    data_format,
    name,
):
    """The UNet skeleton of the deepCR and Cosmic-CoNN networks.

    ``inc``: a double convolution; ``down{level}`` (level 1 to ``depth -
    1``): 2x2 max pooling (``down{level}_pool``), then a double convolution
    with ``filters * 2 ** level`` channels; from the lowest level up, a
    decoder block (named by ``up_name``): a 2x2 stride-2 transposed
    convolution (``{block}_up``) to half the channels, concatenated
    (``{block}_concat``) *after* the encoder map of the same level, then a
    double convolution; ``outc``: a 1x1 convolution to one channel.  The
    layers are created and called in this order.

    Parameters
    ----------
    inputs : `keras.KerasTensor`
        The channels-last ``keras.Input``.
    depth : int
        Number of resolution levels.
    filters : int
        Channels of the first level (doubled at each lower level).
    double_conv : callable
        ``double_conv(x, filters, block)``: the block of convolutions named
        ``block`` (the family-specific part: normalisations, activations).
    up_name : callable, optional
        ``up_name(level)``: the name of the decoder block joining ``level``
        (default ``f"up{level}"``).
    skip_gate : callable, optional
        ``skip_gate(x, skip, block)``: what to concatenate instead of the
        skip connection ``skip``, given the upsampled map ``x`` (an
        attention gate); `None` concatenates ``skip`` as it is.
    activation : str or None, optional
        Activation of ``outc``.
    data_format : {"channels_last", "channels_first"}
        Internal layout; channels-first adds ``to_channels_first`` and
        ``to_channels_last`` permutations, so the model's input and output
        are channels-last either way.
    name : str
        Model name.

    Returns
    -------
    model : `keras.Model`
        From ``inputs`` to ``(batch, height, width, 1)``.

    Examples
    --------
    >>> import keras
    >>> from astromask.models.layers import unet
    >>> def block(x, filters, name):
    ...     return keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(x)
    >>> net = unet(keras.Input((8, 8, 1)), depth=2, filters=4, double_conv=block,
    ...            data_format="channels_last", name="tiny")
    >>> [layer.name for layer in net.layers[1:]]  # doctest: +NORMALIZE_WHITESPACE
    ['inc_conv', 'down1_pool', 'down1_conv', 'up1_up', 'up1_concat', 'up1_conv', 'outc']
    """
    channel_axis = 1 if data_format == "channels_first" else -1
    x = inputs
    if data_format == "channels_first":
        x = keras.layers.Permute((3, 1, 2), name="to_channels_first")(x)

    skips = [double_conv(x, filters, "inc")]
    x = skips[0]
    for level in range(1, depth):
        x = keras.layers.MaxPooling2D(2, data_format=data_format, name=f"down{level}_pool")(x)
        x = double_conv(x, filters * 2**level, f"down{level}")
        skips.append(x)
    for level in range(depth - 1, 0, -1):
        block = up_name(level)
        channels = filters * 2 ** (level - 1)
        x = keras.layers.Conv2DTranspose(
            channels, 2, strides=2, data_format=data_format, name=f"{block}_up"
        )(x)
        skip = skips[level - 1]
        if skip_gate is not None:
            skip = skip_gate(x, skip, block)
        x = keras.layers.Concatenate(axis=channel_axis, name=f"{block}_concat")([skip, x])
        x = double_conv(x, channels, block)
    outputs = keras.layers.Conv2D(
        1, 1, activation=activation, data_format=data_format, name="outc"
    )(x)
    if data_format == "channels_first":
        outputs = keras.layers.Permute((2, 3, 1), name="to_channels_last")(outputs)
    return keras.Model(inputs, outputs, name=name)
