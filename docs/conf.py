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

# -- Gallery (sphinx-gallery) -------------------------------------------------
# The examples in docs/examples/ run at every build (their figures are the
# gallery), on the real frames of ../shared/realdata when present and on
# astromask's simulated frame otherwise.  ASTROMASK_DOCS_PLOT=0 builds the
# gallery pages without running them (a quick look at the text only).

extensions += ["sphinx_gallery.gen_gallery"]  # noqa: F405

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "generated/gallery",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "plot_gallery": os.environ.get("ASTROMASK_DOCS_PLOT", "1") != "0",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "reference_url": {"astromask": None},
    "matplotlib_animations": False,
    "show_memory": False,
    "write_computation_times": False,
}
exclude_patterns = [*globals().get("exclude_patterns", []), "examples", "sg_execution_times.rst"]


# -- The class table, generated from astromask.classes -----------------------

from docutils import nodes  # noqa: E402
from docutils.statemachine import StringList  # noqa: E402
from sphinx.util.docutils import SphinxDirective  # noqa: E402


def _swatch_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    """``:swatch:`#rrggbb``` : a small box of that colour (HTML), then the code."""
    box = (
        f'<span style="display:inline-block;width:1.4em;height:0.9em;'
        f'background:{text};border:1px solid #888;vertical-align:middle"></span> '
    )
    return [nodes.raw("", box, format="html"), nodes.literal(text, text)], []


class ClassTable(SphinxDirective):
    """``.. astromask-class-table::`` : the class table of astromask.classes."""

    has_content = False

    def run(self):
        from astromask.classes import CLASSES

        lines = [
            ".. list-table:: MaxiMask classes (`astromask.classes.CLASSES`)",
            "   :header-rows: 1",
            "",
            "   * - class",
            "     - name",
            "     - bit value",
            "     - colour",
            "     - default prior",
            "     - default threshold",
            "     - training prior",
            "     - in ``mask`` by default",
        ]
        for cls in CLASSES:
            lines += [
                f"   * - ``{cls.name}``",
                f"     - {cls.description}",
                f"     - {cls.bit if cls.bit is not None else '(none: no bit set)'}",
                f"     - :swatch:`{cls.color}`",
                f"     - {cls.prior:g}",
                f"     - {cls.threshold:g}",
                f"     - {cls.training_prior:g}",
                f"     - {'yes' if cls.masked else 'no'}",
            ]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source="astromask.classes"), 0, container)
        return container.children


class ModelTable(SphinxDirective):
    """``.. astromask-model-table:: [TASK]`` : the model table of astromask.presets."""

    has_content = False
    optional_arguments = 1

    def run(self):
        from astromask.presets import model_table_rst

        text = model_table_rst(self.arguments[0] if self.arguments else None)
        container = nodes.container()
        lines = StringList(text.splitlines(), source="astromask.presets")
        self.state.nested_parse(lines, 0, container)
        return container.children


def setup(app):
    app.add_role("swatch", _swatch_role)
    app.add_directive("astromask-class-table", ClassTable)
    app.add_directive("astromask-model-table", ModelTable)
