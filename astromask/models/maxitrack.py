"""The MaxiTrack network (Paillassa, Bertin & Bouy 2020, sect. 3.2) in Keras 3.

Read from upstream's SavedModel graph (MaxiMask 1.4.1, ``maxitrack/model``):
``asinh``, then five 9x9 ``same`` convolutions (16, 32, 64, 128, 128 filters)
each followed by a PReLU with one slope per position and channel and a 2x2
``valid`` max pooling (400 -> 200 -> 100 -> 50 -> 25 -> 12 px), a flatten
(channels last), two dense layers of 64 with PReLU (dropout is inactive at
inference), and a dense layer of 2 with softmax.  Output column 1 is the
probability of a tracking error.  The PReLU slopes fix the input at 400x400.
"""

import keras

__all__ = ["TILE", "build_maxitrack"]

TILE = 400


def build_maxitrack(*, name="maxitrack"):
    """Build the MaxiTrack network with random weights.

    Returns
    -------
    model : `keras.Model`
        Maps ``(batch, 400, 400, 1)`` normalised tiles to ``(batch, 2)``
        softmax scores; column 1 is the tracking-error probability.
    """
    inputs = keras.Input(shape=(TILE, TILE, 1), name="image")
    x = keras.layers.Activation(keras.ops.arcsinh, name="asinh")(inputs)
    for level, filters in enumerate((16, 32, 64, 128, 128), start=1):
        x = keras.layers.Conv2D(
            filters, 9, padding="same", data_format="channels_last", name=f"conv{level}"
        )(x)
        x = keras.layers.PReLU(name=f"conv{level}_prelu")(x)
        x = keras.layers.MaxPooling2D(2, data_format="channels_last", name=f"pool{level}")(x)
    x = keras.layers.Flatten(data_format="channels_last", name="flatten")(x)
    for level in (1, 2):
        x = keras.layers.Dense(64, name=f"dense{level}")(x)
        x = keras.layers.PReLU(name=f"dense{level}_prelu")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="dense3")(x)
    return keras.Model(inputs, outputs, name=name)
