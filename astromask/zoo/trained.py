"""Trained models: astromask's ``.keras`` files with their metadata.

`astromask.train` writes a cosmic-ray network as a regular Keras archive
with one more member, ``astromask.json``: the architecture spec
(`astromask.presets.DeepCRModel` or `~astromask.presets.CosmicConnModel`),
the model it started from and the training record.  This module reads and
writes that metadata; nothing in a model file is ever executed.
"""

import os
from pathlib import Path

from astromask._atomic import atomic_file, sha256
from astromask._backend import load_keras
from astromask._version import __version__
from astromask.presets import CosmicConnModel, DeepCRModel

__all__ = [
    "TRAINED_FORMAT",
    "check_trained_output",
    "is_trained_model",
    "save_trained",
    "trained_metadata",
]


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
    >>> from astromask.presets import DeepCRModel
    >>> spec = DeepCRModel("mask", 2, 4, 1.0, False, "electron", "tiny example")
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
    meta["sha256"] = sha256(path)
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
    >>> from astromask.presets import DeepCRModel
    >>> spec = DeepCRModel("mask", 2, 4, 1.0, False, "electron", "tiny example")
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

    keras = load_keras()

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

    with atomic_file(path, suffix=".keras") as (stream, part):
        stream.close()  # Keras writes to the path
        model.save(part)
        with zipfile.ZipFile(part, "a") as archive:
            archive.writestr(_METADATA, text)
