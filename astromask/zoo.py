"""The model registry: from a model name to a ready Keras model.

For each model this module knows its builder, its weight files (through
`astromask.data`), the reader and the converter.  Converted weights are
cached as a ``.npz`` file next to the original files, so conversion happens
once per machine; the cache is written atomically and checked against a
SHA-256 sidecar before use.  Built models are kept in memory per model, input
shape and Keras backend.
"""

import contextlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from astromask import data

__all__ = [
    "COSMIC_CONN_MODELS",
    "CosmicConnModel",
    "DEEPCR_MODELS",
    "DeepCRModel",
    "PRECISIONS",
    "TRAINED_FORMAT",
    "build_network",
    "check_precision",
    "check_trained_output",
    "converted_weights",
    "cosmic_ray_models",
    "cosmic_ray_spec",
    "data_format",
    "get_model",
    "is_trained_model",
    "save_trained",
    "trained_metadata",
    "weights_sha256",
]


@dataclass(frozen=True)
class DeepCRModel:
    """A pretrained deepCR network and how its input is scaled.

    Parameters
    ----------
    kind : {"mask", "inpaint"}
        Cosmic-ray probability network, or inpainting network.
    depth, hidden : int
        UNet levels and first-level channels (the ``3-32`` in
        ``ACS-WFC-F606W-3-32``).
    scale : float
        deepCR divides the image (in electrons) by this before the network
        and multiplies inpainted values back.
    standardize : bool
        Subtract the image mean and divide by its standard deviation after
        scaling (deepCR does this for ``WFC3-UVIS`` only).
    unit : {"electron", "adu"}
        The unit of the images the network was trained on.
    description : str
        What the network was trained on.
    balanced_prior : float
        0 for a network trained with plain cross-entropy.  For one trained
        with class-balanced weights (`astromask.training`), the cosmic-ray
        pixel fraction of its training data: its output is mapped back to
        probabilities with `astromask.inference.balanced_probability`.

    Examples
    --------
    >>> from astromask.zoo import DEEPCR_MODELS, DeepCRModel
    >>> spec = DEEPCR_MODELS["deepcr/ACS-WFC-F606W-2-4"]
    >>> spec.kind, spec.depth, spec.hidden, spec.scale, spec.unit
    ('mask', 2, 4, 100.0, 'electron')
    >>> DeepCRModel("mask", 2, 8, 1.0, False, "adu", "my camera").balanced_prior
    0.0
    """

    kind: str
    depth: int
    hidden: int
    scale: float
    standardize: bool
    unit: str
    description: str
    balanced_prior: float = 0.0


# Architectures and scales from deepCR 0.3.1's learned_models/__init__.py; the
# two ACS-WFC-F606W files are not listed there, so theirs come from the deepCR
# releases that shipped them (mask 2-4: scale 100; inpainting: deepCR applies
# the scale of the mask model in use, 1 for its ACS-WFC mask).  Units from
# deepCR's docs/model_zoo.rst: HST models take electrons ("_flc" frames), the
# DECam model "calibrated images in the original unit (adu)".
DEEPCR_MODELS = {
    "deepcr/ACS-WFC": DeepCRModel(
        "mask", 2, 32, 1.0, False, "electron", "HST ACS/WFC, all filters (F435W, F606W, F814W)"
    ),
    "deepcr/ACS-WFC-F606W-2-4": DeepCRModel(
        "mask", 2, 4, 100.0, False, "electron", "HST ACS/WFC F606W, small and fast (4 channels)"
    ),
    "deepcr/decam": DeepCRModel(
        "mask", 2, 32, 1.0, False, "adu", "DECam, ground-based; trained on g-band coadds"
    ),
    "deepcr/WFC3-UVIS": DeepCRModel(
        "mask", 2, 32, 1.0, True, "electron", "HST WFC3/UVIS; standardised input"
    ),
    "deepcr/ACS-WFC-F606W-2-32": DeepCRModel(
        "inpaint", 2, 32, 1.0, False, "electron", "inpainting, HST ACS/WFC F606W, 2 levels"
    ),
    "deepcr/ACS-WFC-F606W-3-32": DeepCRModel(
        "inpaint", 3, 32, 1.0, False, "electron", "inpainting, HST ACS/WFC F606W, 3 levels"
    ),
}
"""dict of str to `DeepCRModel`: the deepCR networks astromask can run."""


@dataclass(frozen=True)
class CosmicConnModel:
    """A pretrained network of Cosmic-CoNN's architecture and its input.

    Cosmic-CoNN's own networks (Xu et al. 2023) and the DECam-trained
    networks of Bhavanam et al., which use the same UNet, some with
    attention gates.

    Parameters
    ----------
    norm : {"group", "batch"}
        Normalisation of the double convolutions.
    unit : {"electron", "adu"}
        The unit of the images the network was trained on.
    description : str
        What the network was trained on.
    sky : {"tile median", "kept"}
        ``"tile median"``: each tile has its median subtracted before the
        network (the lower of the two middle values, as ``torch.median``),
        as cosmic-conn does.  ``"kept"``: the data go in with their sky, as
        the network was trained.
    affine : bool
        Whether the group norms have learnt scale and shift.
    attention : bool
        Attention gates on the skip connections.
    prefix : str
        Prefix of the state-dict keys.
    kind : str
        Always ``"mask"``: a cosmic-ray probability network.
    hidden : int
        Channels of the first level (32 in all the published networks).
    balanced_prior : float
        As for `DeepCRModel`.

    Examples
    --------
    >>> from astromask.zoo import COSMIC_CONN_MODELS, CosmicConnModel
    >>> spec = COSMIC_CONN_MODELS["decam-attention/Att_Cosmic-CoNN"]
    >>> spec.norm, spec.unit, spec.sky, spec.affine, spec.attention, spec.prefix
    ('group', 'adu', 'kept', False, True, 'module.')
    >>> CosmicConnModel("group", "electron", "a smaller network", hidden=16).sky
    'tile median'
    """

    norm: str
    unit: str
    description: str
    sky: str = "tile median"
    affine: bool = True
    attention: bool = False
    prefix: str = ""
    kind: str = "mask"
    hidden: int = 32
    balanced_prior: float = 0.0


# Cosmic-CoNN 0.6.1's inference_cr.init_model: group norm (8 groups, affine)
# unless the model is HST_ACS_WFC.  Its LCO training frames are gain-corrected
# (electrons); the HST frames are deepCR's, in electrons.
COSMIC_CONN_MODELS = {
    "cosmic-conn/ground_imaging": CosmicConnModel(
        "group", "electron", "ground-based imaging, LCO 0.4 m, 1 m and 2 m telescopes"
    ),
    "cosmic-conn/NRES": CosmicConnModel("group", "electron", "LCO NRES echelle spectra"),
    "cosmic-conn/HST_ACS_WFC": CosmicConnModel(
        "batch", "electron", "HST ACS/WFC, deepCR's training set"
    ),
}

# Bhavanam et al. trained on deepCR's DECam set: ADU with the sky (their
# training adds -0.9 to 3 times the sky back), no scaling.  Group norms have
# 8 groups and no affine weights.
_DECAM = "DECam (deepCR's training set), ADU with the sky"
COSMIC_CONN_MODELS.update(
    {
        "decam-attention/deepCR": CosmicConnModel(
            "batch", "adu", f"{_DECAM}; batch norm", sky="kept", prefix="module."
        ),
        "decam-attention/Att_deepCR": CosmicConnModel(
            "batch",
            "adu",
            f"{_DECAM}; batch norm, attention gates",
            sky="kept",
            attention=True,
            prefix="module.",
        ),
        "decam-attention/Cosmic-CoNN": CosmicConnModel(
            "group", "adu", f"{_DECAM}; group norm", sky="kept", affine=False, prefix="module."
        ),
        "decam-attention/Att_Cosmic-CoNN": CosmicConnModel(
            "group",
            "adu",
            f"{_DECAM}; group norm, attention gates",
            sky="kept",
            affine=False,
            attention=True,
            prefix="module.",
        ),
    }
)
"""dict of str to `CosmicConnModel`: the networks of Cosmic-CoNN's architecture."""


def cosmic_ray_models():
    """Return ``{name: spec}`` of every cosmic-ray probability network.

    The deepCR mask networks (`DEEPCR_MODELS` of kind ``"mask"``) and the
    Cosmic-CoNN networks (`COSMIC_CONN_MODELS`); each spec has a ``unit``
    and a ``description``.

    Examples
    --------
    >>> from astromask.zoo import cosmic_ray_models
    >>> models = cosmic_ray_models()
    >>> len(models), list(models)[:2]
    (11, ['deepcr/ACS-WFC', 'deepcr/ACS-WFC-F606W-2-4'])
    >>> models["deepcr/decam"].unit
    'adu'
    """
    models = {name: spec for name, spec in DEEPCR_MODELS.items() if spec.kind == "mask"}
    models.update(COSMIC_CONN_MODELS)
    return models


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


TRAINED_FORMAT = "astromask-trained-model"
"""str: the ``format`` entry of a trained model's ``astromask.json``."""
_TRAINED_VERSION = 1
_METADATA = "astromask.json"
_METADATA_MAX = 4 << 20  # bytes: the metadata is a small JSON document


def is_trained_model(model):
    """Whether ``model`` names a trained model file rather than a registered model.

    Any path-like object, or a string ending in ``.keras``, is taken as a
    file; a missing one raises rather than falling back to a name.

    Raises
    ------
    FileNotFoundError
        If it looks like a file but does not exist.

    Examples
    --------
    >>> from astromask.zoo import is_trained_model
    >>> is_trained_model("deepcr/ACS-WFC")
    False
    >>> is_trained_model("no-such-model.keras")
    Traceback (most recent call last):
    ...
    FileNotFoundError: model: no trained model file 'no-such-model.keras'
    """
    if isinstance(model, os.PathLike) or (isinstance(model, str) and model.endswith(".keras")):
        if not Path(model).is_file():
            msg = f"model: no trained model file {str(model)!r}"
            raise FileNotFoundError(msg)
        return True
    return False


def _spec_from_dict(family, fields):
    kinds = {"deepcr": DeepCRModel, "cosmic-conn": CosmicConnModel}
    if family not in kinds or not isinstance(fields, dict):
        msg = f"family: expected one of {sorted(kinds)} with a dict of fields, got {family!r}"
        raise ValueError(msg)
    cls = kinds[family]
    known = set(cls.__dataclass_fields__)
    unknown = set(fields) - known
    if unknown:
        msg = f"spec: unknown fields {sorted(unknown)} for a {cls.__name__}"
        raise ValueError(msg)
    for key, value in fields.items():
        if not isinstance(value, (str, int, float, bool)):
            msg = f"spec: field {key!r} must be a str, number or bool, got {type(value).__name__}"
            raise ValueError(msg)
    return cls(**fields)


def _family(spec):
    return "deepcr" if isinstance(spec, DeepCRModel) else "cosmic-conn"


_metadata_cache = {}


def trained_metadata(path):
    """Read the astromask metadata of a trained ``.keras`` model file.

    Only the JSON document ``astromask.json`` inside the Keras zip archive
    is read; nothing in the file is executed.

    Parameters
    ----------
    path : str or path-like
        A model written by `astromask.train` (or `save_trained`).

    Returns
    -------
    metadata : dict
        ``"spec"`` (a `DeepCRModel` or `CosmicConnModel`: architecture and
        input convention), ``"base"`` (the model it started from, or
        `None`), ``"sha256"`` of the file, and what training recorded
        (``"training"``: options, per-epoch ``"history"``, ...).

    Raises
    ------
    ValueError
        If the file is not a Keras archive with astromask metadata.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import keras
    >>> from astromask import zoo
    >>> spec = zoo.DeepCRModel("mask", 2, 4, 1.0, False, "electron", "tiny example")
    >>> fmt = zoo.data_format(keras.backend.backend())
    >>> net = zoo.build_network(spec, (16, 16), data_format=fmt)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "tiny.keras"
    ...     zoo.save_trained(net, path, spec, training={"epochs": 0})
    ...     meta = zoo.trained_metadata(path)
    >>> meta["spec"] == spec, meta["base"], meta["training"], len(meta["sha256"])
    (True, None, {'epochs': 0}, 64)
    """
    import json
    import zipfile

    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key in _metadata_cache:
        return _metadata_cache[key]
    hint = "write trained models with astromask.train or astromask.zoo.save_trained"
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(_METADATA)
            if info.file_size > _METADATA_MAX:
                msg = f"{path}: {_METADATA} is {info.file_size} bytes, too large to be metadata"
                raise ValueError(msg)
            meta = json.loads(archive.read(info).decode("utf-8"))
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"{path}: not a trained astromask model ({err}); {hint}"
        raise ValueError(msg) from err
    if not isinstance(meta, dict) or meta.get("format") != TRAINED_FORMAT:
        msg = f"{path}: {_METADATA} is not astromask model metadata; {hint}"
        raise ValueError(msg)
    if meta.get("version", 0) > _TRAINED_VERSION:
        msg = f"{path}: written by a newer astromask (format {meta['version']}); upgrade astromask"
        raise ValueError(msg)
    meta = dict(meta)
    meta["spec"] = _spec_from_dict(meta.get("family"), meta.get("spec"))
    meta["sha256"] = data._sha256(path)
    _metadata_cache[key] = meta
    return meta


def check_trained_output(path, *, overwrite, name):
    """Return ``path`` as a `~pathlib.Path` if a trained model may be written there.

    It must end in ``.keras``, and exist only when ``overwrite`` is set;
    ``name`` is the argument named in the error message.

    Examples
    --------
    >>> from astromask.zoo import check_trained_output
    >>> check_trained_output("no-such-model.keras", overwrite=False, name="output").name
    'no-such-model.keras'
    >>> check_trained_output("model.h5", overwrite=False, name="output")
    Traceback (most recent call last):
    ...
    ValueError: output: a trained model is saved as a .keras file, got 'model.h5'
    """
    path = Path(path)
    if path.suffix != ".keras":
        msg = f"{name}: a trained model is saved as a .keras file, got {str(path)!r}"
        raise ValueError(msg)
    if path.exists() and not overwrite:
        msg = f"{name}: {str(path)!r} exists; pass overwrite=True to replace it"
        raise FileExistsError(msg)
    return path


def save_trained(model, path, spec, *, base=None, training=None, overwrite=False):
    """Save a cosmic-ray network in Keras' format with astromask's metadata.

    The file is a regular ``.keras`` archive (``keras.saving.load_model``
    opens it) with one more member, ``astromask.json``, holding ``spec``
    and the training record; `astromask.probabilities`, the cosmic-ray
    drop-ins and the command line take its path as ``model``.

    Parameters
    ----------
    model : `keras.Model`
        The network, in its inference form (batch norm folded), as the
        builder of ``spec`` makes it.
    path : str or path-like
        Output file; must end in ``.keras``.
    spec : `DeepCRModel` or `CosmicConnModel`
        Architecture and input convention.
    base : str, optional
        The model training started from.
    training : dict, optional
        JSON-serialisable record of the training (options, history).
    overwrite : bool, optional
        Replace an existing file.

    Examples
    --------
    A tiny network with random weights, saved and then named as ``model``:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import keras
    >>> from astromask import zoo
    >>> spec = zoo.DeepCRModel("mask", 2, 4, 1.0, False, "electron", "tiny example")
    >>> fmt = zoo.data_format(keras.backend.backend())
    >>> net = zoo.build_network(spec, (16, 16), data_format=fmt)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "tiny.keras"
    ...     zoo.save_trained(net, path, spec, base="deepcr/ACS-WFC-F606W-2-4")
    ...     print(zoo.is_trained_model(path), zoo.cosmic_ray_spec(path) == spec)
    ...     print(zoo.trained_metadata(path)["base"])
    True True
    deepcr/ACS-WFC-F606W-2-4
    """
    import dataclasses
    import json
    import zipfile

    import keras

    from astromask import __version__

    path = check_trained_output(path, overwrite=overwrite, name="path")
    meta = {
        "format": TRAINED_FORMAT,
        "version": _TRAINED_VERSION,
        "family": _family(spec),
        "spec": dataclasses.asdict(spec),
        "base": base,
        "astromask": __version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "training": training or {},
    }
    text = json.dumps(meta, indent=1, default=float)

    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(_METADATA, text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_CONVERTED_VERSION = 2  # bump when a converter's output changes
_models = {}
_lock = threading.Lock()


def _convert(model, paths):
    """Read a model's original weight files and convert them to numpy arrays."""
    if model in DEEPCR_MODELS:
        from astromask.convert.deepcr import convert_weights
        from astromask.weights.torch_pickle import read_torch_state_dict

        return convert_weights(read_torch_state_dict(paths[0]), depth=DEEPCR_MODELS[model].depth)
    if model in COSMIC_CONN_MODELS:
        from astromask.convert.cosmic_conn import convert_weights
        from astromask.weights.torch_pickle import read_torch_state_dict

        return convert_weights(
            read_torch_state_dict(paths[0]), prefix=COSMIC_CONN_MODELS[model].prefix
        )
    from astromask.weights.tf_bundle import read_tf_bundle

    tensors = read_tf_bundle(paths[0], paths[1])
    if model == "maximask":
        from astromask.convert.maximask import convert_weights
    elif model == "maxitrack":
        from astromask.convert.maxitrack import convert_weights
    else:
        msg = f"no converter for model {model!r}"
        raise ValueError(msg)
    return convert_weights(tensors)


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
    >>> spec = zoo.DeepCRModel("mask", 2, 4, 1.0, False, "electron", "tiny example")
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


def _build(model, input_shape, backend):
    """A model with random weights, laid out for the backend."""
    fmt = data_format(backend)
    if model in DEEPCR_MODELS:
        spec = DEEPCR_MODELS[model]
    elif model in COSMIC_CONN_MODELS:
        spec = COSMIC_CONN_MODELS[model]
    else:
        spec = None
    if spec is not None:
        return build_network(spec, input_shape, data_format=fmt, name=model.replace("/", "_"))
    if model == "maximask":
        from astromask.models.maximask import build_maximask

        return build_maximask(input_shape, data_format=fmt)
    if model == "maxitrack":
        from astromask.models.maxitrack import TILE, build_maxitrack

        if tuple(input_shape) != (TILE, TILE):
            msg = f"MaxiTrack takes {TILE}x{TILE} tiles only, not {input_shape}"
            raise ValueError(msg)
        return build_maxitrack()
    msg = f"model: unknown model {model!r}"
    raise ValueError(msg)


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


def converted_weights(model, *, progress=False):
    """Return a model's weights as ``{"layer/variable": numpy array}``.

    Downloads the original files if needed, converts them once and caches
    the result next to them.

    Parameters
    ----------
    model : str
        Model name, for example ``"maximask"``.
    progress : bool, optional
        Show download progress bars.

    Returns
    -------
    weights : dict of str to `numpy.ndarray`

    Examples
    --------
    >>> from astromask.zoo import converted_weights
    >>> weights = converted_weights("deepcr/ACS-WFC")  # doctest: +REMOTE_DATA
    >>> len(weights), weights["inc_conv1/kernel"].shape  # doctest: +REMOTE_DATA
    (16, (3, 3, 1, 32))
    """
    files = data.model_files(model)
    paths = [data.fetch(f, progress=progress) for f in files]
    tag = f"{model.replace('/', '_')}.keras-v{_CONVERTED_VERSION}-{files[-1].sha256[:16]}"
    cache = Path(paths[0]).parent / f"{tag}.npz"
    return _cached_conversion(cache, lambda: _convert(model, paths))


_log = logging.getLogger(__name__)


def _cached_conversion(cache, convert):
    """Return ``convert()``, through the ``.npz`` cache file ``cache``.

    The cache is trusted only if its sidecar ``.npz.sha256`` holds its
    SHA-256, so a partial or damaged file is converted again, never loaded.
    Processes converting at once take a lock (`astromask.data`'s), so one
    converts and the others load its result.  If the folder cannot be written
    (read-only, or full), the weights are converted in memory each time and a
    warning is logged.

    Parameters
    ----------
    cache : `pathlib.Path`
        The ``.npz`` file.
    convert : callable
        Returns the weights as ``{"layer/variable": numpy array}``.
    """
    sidecar = cache.with_suffix(".npz.sha256")
    weights = _load_converted(cache, sidecar)
    if weights is not None:
        return weights
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(data._locked(data._lock_path(cache)))
        except OSError as err:  # a read-only folder
            _log.warning("not caching converted weights in %s: %s", cache.parent, err)
            return convert()
        weights = _load_converted(cache, sidecar)  # converted while we waited?
        if weights is None:
            weights = convert()
            try:
                _write_converted(cache, sidecar, weights)
            except OSError as err:  # a full disk, say
                _log.warning("could not cache converted weights as %s: %s", cache, err)
    return weights


def _load_converted(cache, sidecar):
    """Return the cached weights, or None if the cache is missing or fails its hash."""
    try:
        if sidecar.read_text().strip() != data._sha256(cache):
            return None
        with np.load(cache, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError):  # missing, unreadable, not UTF-8
        return None


def _write_converted(cache, sidecar, weights):
    """Write the cache and then its sidecar, each atomically; on failure leave neither."""
    data._remove_parts(cache)  # left by killed writers; we hold the lock
    data._remove_parts(sidecar)
    try:
        digest = _atomic_write(cache, lambda f: np.savez(f, **weights))
        _atomic_write(sidecar, lambda f: f.write(f"{digest}\n".encode()))
    except BaseException:
        for path in (sidecar, cache):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise


def _atomic_write(path, write):
    """Write a file through a temporary one and a rename; return its SHA-256.

    Readers then never see a half-written file.  Permissions follow the
    umask, like the downloads (`astromask.data`).
    """
    out, part = data._create_part(path.parent, path.name)
    try:
        with out:
            write(out)
        digest = data._sha256(part)
        os.replace(part, path)
    finally:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)  # a failed write; a no-op after the move
    return digest


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
    import keras

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


def get_model(model, input_shape, *, progress=False, precision=None):
    """Return a model with its pretrained weights, built for ``input_shape``.

    Parameters
    ----------
    model : str or path-like
        Model name, for example ``"maximask"``, or a trained ``.keras`` file.
    input_shape : tuple of int
        ``(height, width)`` of the input tiles.
    progress : bool, optional
        Show download progress bars.
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
    import keras

    shape = tuple(int(v) for v in input_shape)
    precision = check_precision(precision)
    if is_trained_model(model):
        return _trained_model(model, shape, precision)
    key = (model, shape, keras.backend.backend(), precision)
    with _lock:
        if key not in _models:
            from astromask.convert.common import assign_weights

            with _policy(precision):
                net = _build(*key[:3])
            assign_weights(net, converted_weights(model, progress=progress))
            _models[key] = net
        return _models[key]


def _trained_model(path, shape, precision="float32"):
    """A trained model file's network, rebuilt for ``shape`` on this backend.

    The file is opened with ``keras.saving.load_model(safe_mode=True)``
    (no code from it runs) and its weights copied, layer by layer, into the
    network its spec builds: the file was saved at its training tile size
    and perhaps on another backend's layout.
    """
    import keras

    import astromask.models.layers  # noqa: F401  (registers the custom layers)

    meta = trained_metadata(path)
    key = (meta["sha256"], shape, keras.backend.backend(), precision)
    with _lock:
        if key not in _models:
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
            _models[key] = net
        return _models[key]
