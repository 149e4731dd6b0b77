"""The installed version of astromask, for the modules that record it.

Modules inside the package import ``__version__`` from here, never from the
package top (`astromask`), so that no module imports its own package.
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("astromask")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0.dev0"
