"""The model zoo: from a model name (or a trained file) to a ready Keras model.

What the networks are (names, weight files, units, licences) is the model
table, `astromask.presets`.  This package makes them:

``families``
    Per family, its builder (`astromask.models`) and converter
    (`astromask.convert`); `build_network` for the UNets.
``converted``
    `converted_weights`: the downloaded files converted once and cached as
    ``.npz``, trusted only when the cache matches its SHA-256 sidecar.
``trained``
    Trained ``.keras`` models with astromask's metadata (`save_trained`,
    `trained_metadata`).
``networks``
    `get_model`: a built network with its weights, kept per model, tile
    shape, backend and precision.

Each module imports only those above it in this list.  Nothing here imports
Keras before a network is built.
"""

import warnings

from astromask.zoo.converted import converted_weights
from astromask.zoo.families import FAMILIES, build_network, data_format
from astromask.zoo.networks import (
    PRECISIONS,
    check_precision,
    cosmic_ray_spec,
    get_model,
    predictor,
    weights_sha256,
)
from astromask.zoo.trained import (
    TRAINED_FORMAT,
    check_trained_output,
    is_trained_model,
    save_trained,
    trained_metadata,
)

__all__ = [
    "FAMILIES",
    "PRECISIONS",
    "TRAINED_FORMAT",
    "build_network",
    "check_precision",
    "check_trained_output",
    "converted_weights",
    "cosmic_ray_spec",
    "data_format",
    "get_model",
    "is_trained_model",
    "predictor",
    "save_trained",
    "trained_metadata",
    "weights_sha256",
]

# Names that moved to the model table (astromask.presets); kept for one release.
_MOVED = {
    "DeepCRModel": "DeepCRModel",
    "CosmicConnModel": "CosmicConnModel",
    "cosmic_ray_models": "cosmic_ray_models",
    "DEEPCR_MODELS": None,
    "COSMIC_CONN_MODELS": None,
}


def __getattr__(name):
    if name not in _MOVED:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    from astromask import presets

    family = {"DEEPCR_MODELS": "deepcr", "COSMIC_CONN_MODELS": "cosmic-conn"}.get(name)
    new = (
        f"astromask.presets.{_MOVED[name]}"
        if family is None
        else (f"astromask.presets.MODELS (entries of family {family!r})")
    )
    warnings.warn(
        f"astromask.zoo.{name} is deprecated and will be removed in the next release; use {new}",
        DeprecationWarning,
        stacklevel=2,
    )
    if family is None:
        return getattr(presets, _MOVED[name])
    return {n: p.spec for n, p in presets.MODELS.items() if p.family == family}
