"""Keras 3 layers shared by astromask's networks.

Only ``keras.ops`` are used, so every layer runs on the TensorFlow, JAX and
PyTorch backends alike.
"""

import keras
from keras import ops

__all__ = ["MaxPoolWithMask", "MaxUnpool"]


@keras.saving.register_keras_serializable(package="astromask")
class MaxPoolWithMask(keras.layers.Layer):
    """2x2 max pooling, stride 2, ``SAME`` padding, that also returns its argmax.

    This is TensorFlow's ``MaxPoolWithArgmax`` written with portable ops.
    Instead of flat argmax indices it returns a one-hot mask of the input's
    shape: 1 where a pixel is the maximum of its 2x2 window, 0 elsewhere.
    Exactly one pixel per window and channel is selected; on ties the first in
    row-major order wins, as in TensorFlow's kernel (ties are common after a
    ReLU, where whole windows are zero).  Odd sizes are padded at the bottom
    and right, so the output has ``ceil(n / 2)`` rows and columns.

    The spatial size of the input must be known when the layer is called.
    """

    def call(self, x):
        height, width = x.shape[1], x.shape[2]
        pad_h, pad_w = height % 2, width % 2
        if pad_h or pad_w:
            x = ops.pad(
                x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], constant_values=-float("inf")
            )
        half_h, half_w = (height + pad_h) // 2, (width + pad_w) // 2
        channels = x.shape[3]
        windows = ops.reshape(x, (-1, half_h, 2, half_w, 2, channels))
        top_left = windows[:, :, 0, :, 0, :]
        top_right = windows[:, :, 0, :, 1, :]
        bottom_left = windows[:, :, 1, :, 0, :]
        bottom_right = windows[:, :, 1, :, 1, :]
        pooled = ops.maximum(
            ops.maximum(top_left, top_right), ops.maximum(bottom_left, bottom_right)
        )
        # First maximum in row-major order wins.
        first = ops.equal(top_left, pooled)
        second = ops.logical_and(ops.equal(top_right, pooled), ops.logical_not(first))
        taken = ops.logical_or(first, second)
        third = ops.logical_and(ops.equal(bottom_left, pooled), ops.logical_not(taken))
        fourth = ops.logical_not(ops.logical_or(taken, third))
        mask = ops.stack(
            [ops.stack([first, second], axis=3), ops.stack([third, fourth], axis=3)],
            axis=2,
        )
        mask = ops.reshape(mask, (-1, 2 * half_h, 2 * half_w, channels))
        mask = ops.cast(mask[:, :height, :width, :], self.compute_dtype)
        return pooled, mask

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        return (batch, (height + 1) // 2, (width + 1) // 2, channels), tuple(input_shape)


@keras.saving.register_keras_serializable(package="astromask")
class MaxUnpool(keras.layers.Layer):
    """Undo a `MaxPoolWithMask`: put each value back where its maximum was.

    Called on ``[x, mask]``, where ``mask`` is the second output of the
    matching `MaxPoolWithMask`.  Each value of ``x`` goes to the selected
    pixel of its 2x2 window; the other three pixels are zero.  The output has
    the mask's shape (odd sizes are cropped).
    """

    def call(self, inputs):
        x, mask = inputs
        height, width = mask.shape[1], mask.shape[2]
        up = ops.repeat(ops.repeat(x, 2, axis=1), 2, axis=2)
        return up[:, :height, :width, :] * mask

    def compute_output_shape(self, input_shapes):
        x_shape, mask_shape = input_shapes
        return tuple(mask_shape[:3]) + (x_shape[3],)
