"""Cosmic-CoNN's UNet (Xu et al. 2023, ApJ 942, 73) in Keras 3.

Written from the paper and from what the published state dicts hold
(``cosmic-conn`` 0.6.1 is GPL; none of its code is used here):

* ``inc``: two 3x3 convolutions (``same`` padding), each followed by a
  normalisation and a ReLU;
* ``down1``, ``down2``: 2x2 max pooling, then the same double convolution
  with twice the channels (32, 64, 128);
* ``up2``, ``up1``: a 2x2 stride-2 transposed convolution halving the
  channels, concatenated *after* the encoder map of the same level, then a
  double convolution;
* ``outc``: a 1x1 convolution and a sigmoid.

The two normalisations of a double convolution are **one layer applied
twice**: the state dicts store the same tensors under both names, and in the
group-norm networks (``ground_imaging``, ``NRES``; 8 groups, affine) the
second use normalises with the statistics of its own input.  The Keras model
calls one `astromask.models.layers.GroupNorm` twice, so it has the upstream
parameter sharing.  The batch-norm network (``HST_ACS_WFC``) is fixed affine
maps in inference; `astromask.convert.cosmic_conn` folds them into the
kernels and the network is built with ``norm=None``.

The DECam networks of Bhavanam et al. (Astronomy & Computing) are the same
UNet, with group norms that have no affine weights, and in their gated
variants an additive attention gate on each skip connection
(``attention=True``): 1x1 convolutions of the upsampled map and of the
skip connection, sharing one norm, ReLU of their sum, a 1x1 convolution to
one channel, a one-group norm and a sigmoid give the weights the skip
connection is multiplied by.

Group normalisation makes each pixel's output depend on statistics of the
whole input tile, so results depend (weakly) on the tile geometry; see
`astromask.cosmicrays.cosmic_conn_probabilities`.
"""

import keras

from astromask.models.layers import GroupNorm, unet

__all__ = ["build_cosmic_conn"]

_GN_EPS = 1e-5  # torch.nn.GroupNorm's default


def _group_norm(groups, name, fmt, affine):
    return GroupNorm(groups, epsilon=_GN_EPS, affine=affine, data_format=fmt, name=name)


def _norm(norm, groups, name, fmt, affine):
    """The normalisation layer of a block: group norm, batch norm or none."""
    if norm == "group":
        return _group_norm(groups, name, fmt, affine)
    if norm == "batch":
        # torch's BatchNorm2d defaults (eps 1e-5); deepCR trains with a running
        # average momentum of 0.005, which is Keras's 0.995.
        return keras.layers.BatchNormalization(
            axis=1 if fmt == "channels_first" else -1, momentum=0.995, epsilon=1e-5, name=name
        )
    return None


def _double_conv(x, filters, name, fmt, norm, groups, affine):
    shared = _norm(norm, groups, f"{name}_norm", fmt, affine)
    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters,
            3,
            padding="same",
            activation=None if shared else "relu",
            data_format=fmt,
            name=f"{name}_conv{i}",
        )(x)
        if shared is not None:
            x = keras.layers.ReLU(name=f"{name}_relu{i}")(shared(x))
    return x


def _attention_gate(gate, skip, name, fmt, norm, groups, affine):
    """Additive attention gate (Oktay et al. 2018) on a skip connection.

    ``psi = sigmoid(norm(conv(relu(norm(conv(gate)) + norm(conv(skip))))))``
    with 1x1 convolutions to half the channels, and the skip connection is
    multiplied by ``psi``.  As upstream, the gate's and the skip's
    normalisations are one shared layer; ``psi``'s group normalisation has a
    single group, so it normalises the whole map.
    """
    coefficients = int(skip.shape[1 if fmt == "channels_first" else -1]) // 2
    shared = _norm(norm, groups, f"{name}_norm", fmt, affine)
    terms = []
    for part, x in (("gate", gate), ("skip", skip)):
        x = keras.layers.Conv2D(coefficients, 1, data_format=fmt, name=f"{name}_{part}")(x)
        terms.append(shared(x) if shared is not None else x)
    x = keras.layers.ReLU(name=f"{name}_relu")(keras.layers.Add(name=f"{name}_add")(terms))
    x = keras.layers.Conv2D(1, 1, data_format=fmt, name=f"{name}_psi")(x)
    psi_norm = _norm(norm, 1, f"{name}_psi_norm", fmt, affine)
    if psi_norm is not None:
        x = psi_norm(x)
    psi = keras.layers.Activation("sigmoid", name=f"{name}_sigmoid")(x)
    return keras.layers.Multiply(name=f"{name}_apply")([skip, psi])


def build_cosmic_conn(
    tile_shape=(512, 512),
    *,
    norm="group",
    groups=8,
    affine=True,
    attention=False,
    hidden=32,
    data_format=None,
    name="cosmic_conn",
):
    """Build a Cosmic-CoNN UNet with random weights.

    Parameters
    ----------
    tile_shape : tuple of int, optional
        ``(height, width)`` of the input tiles, multiples of 4.
    norm : {"group", "batch", None}, optional
        ``"group"``: a shared `~astromask.models.layers.GroupNorm` in each
        double convolution (``ground_imaging``, ``NRES``).  `None`: plain
        convolutions with ReLU (``HST_ACS_WFC``, batch norm folded), the
        inference form of the batch-norm networks.  ``"batch"``: a shared
        ``BatchNormalization`` instead, for training them (`astromask.train`
        folds it into the kernels when its statistics are frozen).
    groups : int, optional
        Groups of the group normalisation.
    affine : bool, optional
        Whether the group normalisations have a learnt scale and shift
        (Cosmic-CoNN's do; Bhavanam et al.'s DECam models do not).
    attention : bool, optional
        Put an additive attention gate on each skip connection (the gated
        UNets of Bhavanam et al.), named ``up{n}_att_*``.
    hidden : int, optional
        Channels of the first level (doubled at each lower level).
    data_format : {"channels_last", "channels_first"}, optional
        Internal layout (default: Keras's ``image_data_format()``).  Inputs
        and outputs are channels-last either way.
    name : str, optional
        Model name.

    Returns
    -------
    model : `keras.Model`
        Maps ``(batch, height, width, 1)`` to ``(batch, height, width, 1)``
        probabilities.

    Examples
    --------
    >>> from astromask.models.cosmic_conn import build_cosmic_conn
    >>> net = build_cosmic_conn((64, 64))
    >>> net.output_shape
    (None, 64, 64, 1)
    """
    if norm not in ("group", "batch", None):
        msg = f"norm: expected 'group', 'batch' or None, got {norm!r}"
        raise ValueError(msg)
    height, width = (int(v) for v in tile_shape)
    if height % 4 or width % 4:
        msg = f"tile_shape: {tile_shape} is not a multiple of 4"
        raise ValueError(msg)
    if norm == "group" and (hidden // 2) % groups:
        msg = f"groups: {hidden // 2} channels do not split into {groups} groups"
        raise ValueError(msg)
    fmt = data_format or keras.config.image_data_format()
    inputs = keras.Input(shape=(height, width, 1), name="image")

    def double_conv(x, filters, block):
        return _double_conv(x, filters, block, fmt, norm, groups, affine)

    def attention_gate(x, skip, block):
        return _attention_gate(x, skip, f"{block}_att", fmt, norm, groups, affine)

    return unet(
        inputs,
        depth=3,
        filters=hidden,
        double_conv=double_conv,
        skip_gate=attention_gate if attention else None,
        data_format=fmt,
        name=name,
    )
