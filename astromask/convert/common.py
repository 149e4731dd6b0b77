"""Assigning converted numpy weights to a Keras model (shared by converters)."""

__all__ = ["assign_weights"]


def assign_weights(model, weights):
    """Assign ``{"layer/variable": array}`` to every variable of ``model``.

    Keys are Keras variable paths (``variable.path``, for example
    ``"conv1/kernel"``).  Every variable must be given, with its exact shape,
    and every array must find a variable: a mismatch raises `ValueError`
    naming it, so a wrong or truncated file can never load silently.
    """
    expected = {variable.path: variable for variable in model.weights}
    missing = sorted(set(expected) - set(weights))
    if missing:
        msg = f"weights are missing for {', '.join(missing)}"
        raise ValueError(msg)
    unused = sorted(set(weights) - set(expected))
    if unused:
        msg = f"weights do not match the model: no variable for {', '.join(unused)}"
        raise ValueError(msg)
    for path, variable in expected.items():
        value = weights[path]
        if tuple(value.shape) != tuple(variable.shape):
            msg = (
                f"weights {path} have shape {tuple(value.shape)}, the model expects "
                f"{tuple(variable.shape)}"
            )
            raise ValueError(msg)
        variable.assign(value)
