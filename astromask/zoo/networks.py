"""`get_model`: a model name or a trained file, built with its pretrained weights.

Built models are kept in memory per model, Keras backend and precision, and
per input shape for the networks whose shape is fixed when they are built
(`SHAPE_FREE_FAMILIES` says which are not).  At most `MAX_MODELS` are kept,
the least recently used going first, so that a process that sees frames of
many sizes does not grow without bound.
"""

import contextlib
import threading
from collections import OrderedDict

from astromask import data
from astromask._backend import load_keras
from astromask.presets import cosmic_ray_models
from astromask.zoo.converted import converted_weights
from astromask.zoo.families import build, build_network, data_format
from astromask.zoo.trained import is_trained_model, trained_metadata

__all__ = [
    "MAX_MODELS",
    "PRECISIONS",
    "SHAPE_FREE_FAMILIES",
    "check_precision",
    "cosmic_ray_spec",
    "get_model",
    "predictor",
    "weights_sha256",
]

#: Families built once for every tile size: their inputs have no fixed rows
#: and columns, so TensorFlow traces their predict function at most twice
#: (the first size, then a shape-free trace that serves all), and one copy
#: of the weights serves every frame.  Results are bit for bit those of a
#: network built for the tile size (``tests/test_layers.py``).
SHAPE_FREE_FAMILIES = frozenset({"maximask"})

#: Networks kept in memory at once (each holds its weights and its traces).
MAX_MODELS = 8

_models = OrderedDict()
_lock = threading.Lock()


def predictor(net):
    """The function that runs ``net`` on a batch: numpy in, float32 numpy out.

    On TensorFlow a network built without rows and columns is run through one
    `tf.function` whose input has no fixed shape, traced once for every tile
    size and batch size (Keras's ``predict_on_batch`` traces the first shape
    it sees, then traces again without shapes); elsewhere, and for networks
    of fixed shape, it is ``predict_on_batch``.
    """
    run = getattr(net, "_astromask_predictor", None)
    if run is not None:
        return run
    keras = load_keras()
    shape = net.input_shape
    if keras.backend.backend() == "tensorflow" and shape[1] is None and shape[2] is None:
        import tensorflow as tf

        spec = tf.TensorSpec((None, None, None, shape[3]), tf.float32)
        call = tf.function(lambda x: net(x, training=False), input_signature=[spec])

        def run(batch):
            return call(tf.convert_to_tensor(batch, tf.float32)).numpy()

    else:

        def run(batch):
            return keras.ops.convert_to_numpy(net.predict_on_batch(batch))

    net._astromask_predictor = run
    return run


def _remember(key, make):
    """``_models[key]``, made by ``make()`` if needed; the least used beyond MAX_MODELS go."""
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
        net = make()
        _models[key] = net
        while len(_models) > MAX_MODELS:
            _models.popitem(last=False)
        return net


def cosmic_ray_spec(model):
    """Return the spec of a cosmic-ray network, registered or trained.

    Parameters
    ----------
    model : str or path-like
        A name of `cosmic_ray_models`, or the path of a ``.keras`` file
        written by `astromask.train` (see `is_trained_model`).

    Returns
    -------
    spec : `DeepCRModel` or `CosmicConnModel`
        Architecture and input convention.

    Raises
    ------
    ValueError
        If ``model`` is neither.

    Examples
    --------
    >>> from astromask.zoo import cosmic_ray_spec
    >>> cosmic_ray_spec("cosmic-conn/NRES").norm
    'group'
    >>> cosmic_ray_spec("maximask")
    Traceback (most recent call last):
    ...
    ValueError: model: 'maximask' is not a cosmic-ray network; ...
    """
    if is_trained_model(model):
        return trained_metadata(model)["spec"]
    spec = cosmic_ray_models().get(model) if isinstance(model, str) else None
    if spec is None:
        msg = (
            f"model: {model!r} is not a cosmic-ray network; give the path of a .keras file "
            "written by astromask.train, or one of " + ", ".join(cosmic_ray_models())
        )
        raise ValueError(msg)
    return spec


def weights_sha256(model):
    """Return the SHA-256 of a model's main weight file (recorded in headers).

    For a trained ``.keras`` file, the SHA-256 of that file.

    Examples
    --------
    >>> from astromask import data, zoo
    >>> digest = zoo.weights_sha256("deepcr/ACS-WFC")
    >>> len(digest), digest == data.model_files("deepcr/ACS-WFC")[-1].sha256
    (64, True)
    """
    if is_trained_model(model):
        return trained_metadata(model)["sha256"]
    return data.model_files(model)[-1].sha256


PRECISIONS = {"float32": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
"""dict of str to str: the ``precision`` options and their Keras dtype policies.

Reduced precisions compute in 16 bits with float32 weights (Keras's
"mixed" policies); outputs come back as float32."""


def check_precision(precision):
    """Return ``precision`` as a key of `PRECISIONS` (`None` is float32).

    Examples
    --------
    >>> from astromask.zoo import check_precision
    >>> check_precision(None), check_precision("bfloat16")
    ('float32', 'bfloat16')
    >>> check_precision("half")
    Traceback (most recent call last):
    ...
    ValueError: precision: expected one of float32, bfloat16, float16, got 'half'
    """
    precision = "float32" if precision is None else precision
    if precision not in PRECISIONS:
        msg = f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}"
        raise ValueError(msg)
    return precision


@contextlib.contextmanager
def _policy(precision):
    """Build layers under the dtype policy of ``precision``."""
    keras = load_keras()

    policy = PRECISIONS[precision]
    if policy is None:
        yield
        return
    old = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(old)


def get_model(model, input_shape, *, progress=None, precision=None):
    """Return a model with its pretrained weights, built for ``input_shape``.

    Parameters
    ----------
    model : str or path-like
        Model name, for example ``"maximask"``, or a trained ``.keras`` file.
    input_shape : tuple of int
        ``(height, width)`` of the input tiles.
    progress : bool, optional
        Show download progress bars; `None`: on a terminal only (see
        `astromask.data.fetch`).
    precision : {"float32", "bfloat16", "float16"}, optional
        Compute precision (default float32); see `PRECISIONS`.

    Returns
    -------
    model : `keras.Model`

    Examples
    --------
    Built once per model, input shape, backend and precision, then reused:

    >>> from astromask.zoo import get_model
    >>> net = get_model("deepcr/ACS-WFC", (64, 64))  # doctest: +REMOTE_DATA
    >>> net.input_shape, net.output_shape  # doctest: +REMOTE_DATA
    ((None, 64, 64, 1), (None, 64, 64, 1))
    >>> get_model("deepcr/ACS-WFC", (64, 64)) is net  # doctest: +REMOTE_DATA
    True
    """
    keras = load_keras()

    shape = tuple(int(v) for v in input_shape)
    precision = check_precision(precision)
    if is_trained_model(model):
        return _trained_model(model, shape, precision)
    from astromask.presets import preset

    if preset(model).family in SHAPE_FREE_FAMILIES:
        shape = (None, None)
    key = (model, shape, keras.backend.backend(), precision)

    def make():
        from astromask.convert.common import assign_weights

        with _policy(precision):
            net = build(*key[:3])
        assign_weights(net, converted_weights(model, progress=progress))
        return net

    return _remember(key, make)


def _trained_model(path, shape, precision="float32"):
    """A trained model file's network, rebuilt for ``shape`` on this backend.

    The file is opened with ``keras.saving.load_model(safe_mode=True)``
    (no code from it runs) and its weights copied, layer by layer, into the
    network its spec builds: the file was saved at its training tile size
    and perhaps on another backend's layout.
    """
    keras = load_keras()

    import astromask.models.layers  # noqa: F401  (registers the custom layers)

    meta = trained_metadata(path)
    key = (meta["sha256"], shape, keras.backend.backend(), precision)

    def make():
        try:
            saved = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as err:
            msg = f"model: cannot load {str(path)!r} with Keras ({err})"
            raise ValueError(msg) from err
        with _policy(precision):
            net = build_network(
                meta["spec"], shape, data_format=data_format(keras.backend.backend())
            )
        for layer in net.layers:
            if layer.weights:
                try:
                    source = saved.get_layer(layer.name)
                except ValueError as err:
                    msg = f"model: {str(path)!r} has no layer {layer.name!r} its spec needs"
                    raise ValueError(msg) from err
                layer.set_weights(source.get_weights())
        return net

    return _remember(key, make)
