"""Sphinx configuration for astromask (sphinx-astropy theme and extensions)."""

import os
from importlib.metadata import version as _version

os.environ.setdefault("KERAS_BACKEND", "jax")

try:
    from sphinx_astropy.conf.v2 import *  # noqa: F403
except ImportError:  # pragma: no cover - docs extras not installed
    msg = "install the docs extras: python -m pip install '.[docs]'"
    raise ImportError(msg) from None

project = "astromask"
author = "astromask developers"
copyright = "2026, astromask developers"  # noqa: A001
release = _version("astromask")
version = ".".join(release.split(".")[:2])

html_title = f"{project} v{release}"
html_theme_options = {  # noqa: F405
    "github_url": "https://github.com/astromask/astromask",
}
intersphinx_mapping.update(  # noqa: F405
    {"ccdproc": ("https://ccdproc.readthedocs.io/en/latest/", None)}
)
nitpicky = False

# Offline builds (no route to the other projects' inventories): set
# ASTROMASK_DOCS_OFFLINE=1 to skip intersphinx rather than fail on it.
if os.environ.get("ASTROMASK_DOCS_OFFLINE"):
    intersphinx_mapping = {}
