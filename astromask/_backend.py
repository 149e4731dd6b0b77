"""Which Keras backend astromask uses when nobody chose one.

Keras runs on TensorFlow unless ``KERAS_BACKEND`` or ``keras.json`` names
another, and fails on import when that backend is not installed.  On CPU
TensorFlow is also the fastest for astromask's networks (see the table in
:doc:`/performance`), so the order of preference below is the measured one: when
nobody chose a backend and Keras's own choice is not installed, astromask
points ``KERAS_BACKEND`` at the fastest backend that is.  Nothing is
imported to find out.
"""

import json
import os
from importlib.util import find_spec
from pathlib import Path

# Fastest first, as measured on CPU by benchmarks/bench_performance.py.
PREFERENCE = ("tensorflow", "jax", "torch")


def _configured():
    """The backend that ``keras.json`` names, or `None`."""
    home = os.environ.get("KERAS_HOME") or Path.home() / ".keras"
    try:
        return json.loads((Path(home) / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        return None


def choose_backend(environ=os.environ, installed=None, configured=None):
    """Set ``KERAS_BACKEND`` to the fastest installed backend if Keras would fail.

    Parameters
    ----------
    environ : dict, optional
        The environment to read and set (default `os.environ`).
    installed : callable, optional
        Whether a module is installed (default: `importlib.util.find_spec`).
    configured : str, optional
        The backend Keras would use (default: ``keras.json``'s, or TensorFlow).

    Returns
    -------
    backend : str or None
        The backend set, or `None` when the choice was left alone
        (``KERAS_BACKEND`` set, or the configured backend installed, or none
        of them installed: Keras's own error then says what is missing).

    Examples
    --------
    >>> from astromask._backend import choose_backend
    >>> env = {}
    >>> choose_backend(env, installed=lambda name: name == "jax", configured="tensorflow")
    'jax'
    >>> env
    {'KERAS_BACKEND': 'jax'}
    >>> choose_backend({"KERAS_BACKEND": "torch"}, installed=lambda name: False) is None
    True
    """
    if installed is None:

        def installed(name):
            return find_spec(name) is not None

    if environ.get("KERAS_BACKEND"):
        return None
    configured = configured or _configured() or "tensorflow"
    if configured not in PREFERENCE or installed(configured):
        return None
    for backend in PREFERENCE:
        if installed(backend):
            environ["KERAS_BACKEND"] = backend
            return backend
    return None
