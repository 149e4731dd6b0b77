"""Network families: how each is built (`astromask.models`) and converted (`astromask.convert`).

A family is a builder and a converter; each entry of the model table
(`astromask.presets.MODELS`) names its family.  Adding a network of an
existing family is one entry in the model table; a new family adds its
builder and converter here.  Keras and the converters are imported only when
a network is built or converted.
"""

from astromask.presets import DeepCRModel, preset

__all__ = ["FAMILIES", "build", "build_network", "convert", "data_format"]


def build_network(spec, input_shape, *, data_format, training=False, name="network"):
    """Build the UNet of a cosmic-ray network spec, with random weights.

    Parameters
    ----------
    spec : `DeepCRModel` or `CosmicConnModel`
        The architecture.
    input_shape : tuple of int
        ``(height, width)`` of the input tiles.
    data_format : {"channels_last", "channels_first"}
        Internal layout.
    training : bool, optional
        With batch normalisation layers (the form upstream trains) instead
        of the inference form, where they are folded into the kernels.
    name : str, optional
        Model name.

    Returns
    -------
    model : `keras.Model`
        Maps ``(batch, height, width, channels)`` to ``(batch, height,
        width, 1)``.

    Examples
    --------
    >>> import keras
    >>> from astromask import zoo
    >>> from astromask.presets import DeepCRModel
    >>> spec = DeepCRModel("mask", 2, 4, 1.0, False, "electron", "tiny example")
    >>> fmt = zoo.data_format(keras.backend.backend())
    >>> net = zoo.build_network(spec, (16, 16), data_format=fmt)
    >>> net.input_shape, net.output_shape
    ((None, 16, 16, 1), (None, 16, 16, 1))
    >>> trained = zoo.build_network(spec, (16, 16), data_format=fmt, training=True)
    >>> any(isinstance(layer, keras.layers.BatchNormalization) for layer in trained.layers)
    True
    """
    if isinstance(spec, DeepCRModel):
        from astromask.models.deepcr import build_deepcr

        return build_deepcr(
            input_shape,
            depth=spec.depth,
            hidden=spec.hidden,
            in_channels=1 if spec.kind == "mask" else 2,
            sigmoid=spec.kind == "mask",
            batchnorm=training,
            data_format=data_format,
            name=name,
        )
    from astromask.models.cosmic_conn import build_cosmic_conn

    if spec.norm == "group":
        norm = "group"
    else:
        norm = "batch" if training else None
    return build_cosmic_conn(
        input_shape,
        norm=norm,
        affine=spec.affine,
        attention=spec.attention,
        hidden=spec.hidden,
        data_format=data_format,
        name=name,
    )


def data_format(backend):
    """The internal layout astromask builds networks in for a Keras backend.

    PyTorch convolves channels-first; the others channels-last.

    Examples
    --------
    >>> from astromask.zoo import data_format
    >>> data_format("torch"), data_format("jax"), data_format("tensorflow")
    ('channels_first', 'channels_last', 'channels_last')
    """
    return "channels_first" if backend == "torch" else "channels_last"


def _build_unet(entry, input_shape, fmt):
    return build_network(
        entry.spec, input_shape, data_format=fmt, name=entry.name.replace("/", "_")
    )


def _build_maximask(entry, input_shape, fmt):
    from astromask.models.maximask import build_maximask

    return build_maximask(input_shape, data_format=fmt)


def _build_maxitrack(entry, input_shape, fmt):
    from astromask.models.maxitrack import TILE, build_maxitrack

    if tuple(input_shape) != (TILE, TILE):
        msg = f"MaxiTrack takes {TILE}x{TILE} tiles only, not {input_shape}"
        raise ValueError(msg)
    return build_maxitrack()


def _convert_deepcr(entry, paths):
    from astromask.convert.deepcr import convert_weights
    from astromask.weights.torch_pickle import read_torch_state_dict

    return convert_weights(read_torch_state_dict(paths[0]), depth=entry.spec.depth)


def _convert_cosmic_conn(entry, paths):
    from astromask.convert.cosmic_conn import convert_weights
    from astromask.weights.torch_pickle import read_torch_state_dict

    return convert_weights(read_torch_state_dict(paths[0]), prefix=entry.spec.prefix)


def _convert_maximask(entry, paths):
    from astromask.convert.maximask import convert_weights
    from astromask.weights.tf_bundle import read_tf_bundle

    return convert_weights(read_tf_bundle(paths[0], paths[1]))


def _convert_maxitrack(entry, paths):
    from astromask.convert.maxitrack import convert_weights
    from astromask.weights.tf_bundle import read_tf_bundle

    return convert_weights(read_tf_bundle(paths[0], paths[1]))


FAMILIES = {
    "maximask": (_build_maximask, _convert_maximask),
    "maxitrack": (_build_maxitrack, _convert_maxitrack),
    "deepcr": (_build_unet, _convert_deepcr),
    "cosmic-conn": (_build_unet, _convert_cosmic_conn),
}
"""dict of str to (builder, converter): ``builder(preset, (h, w), data_format)``
returns a Keras model with random weights; ``converter(preset, paths)`` reads
the preset's downloaded weight files and returns ``{"layer/variable": array}``."""


def build(model, input_shape, backend):
    """A registered model with random weights, laid out for the backend."""
    entry = preset(model)
    return FAMILIES[entry.family][0](entry, input_shape, data_format(backend))


def convert(model, paths):
    """Read a registered model's original weight files and convert them to numpy arrays."""
    entry = preset(model)
    return FAMILIES[entry.family][1](entry, paths)
