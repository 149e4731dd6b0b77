"""pytest collection in docs/: the narrative pages' doctests only.

The gallery scripts (docs/examples/) run when the documentation is built,
not as tests; the build's outputs (generated/, api/, _build/) and conf.py
are not collected either.
"""

collect_ignore = ["conf.py", "make_readme_picture.py", "examples", "sg_execution_times.rst"]
collect_ignore_glob = ["generated/*", "api/*", "_build/*"]
