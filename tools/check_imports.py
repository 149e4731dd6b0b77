"""Check the graph of astromask's imports of itself: no cycles, no top import, layers.

Every ``import`` and ``from ... import`` statement of every ``.py`` file of the
package is read with `ast`, wherever it stands: at module level, in functions
and methods, under ``if`` and ``try``.  Only those under ``if TYPE_CHECKING:``
are skipped, as they never run.  The check fails (exit status 1, one line per
problem) on:

1. **Cycles.**  Importing ``astromask.x.y`` runs ``astromask/x/__init__.py``
   before ``astromask/x/y.py``, so an import of ``astromask.x.y`` counts as an
   edge to ``astromask.x.y`` and to each package on the way, except the top
   package (checked by rule 2) and the packages that contain the importer
   (already imported).  Each strongly connected component is printed as
   cycles ``a -> b -> a`` that together pass through all its modules; a
   module importing itself is a cycle too.
2. **Imports of the package top** from any module but ``astromask/__init__.py``:
   ``import astromask`` and ``from astromask import NAME`` (or ``from . import
   NAME`` in a top-level module) where NAME is not a submodule, e.g. ``from
   astromask import __version__``.  Every submodule runs inside the import of
   ``astromask/__init__.py``, so such an import sees a half-initialized module.
3. **Layers** (skipped with ``--no-layers``).  `LAYERS` lists fnmatch patterns
   of module names from the bottom layer to the top one; a module may import
   modules of its own layer and of lower layers only.  A module that matches
   no pattern (or several) is a problem too, so that each new module gets a
   place.  The top ``astromask`` (its ``__init__``) may import anything.

   ====  ==================================================================
   0     astromask._version, _validate, _atomic, _backend, classes, priors,
         tiling, preprocess, presets, weights, weights.*
   1     astromask.data, io, io.*  (weight files; FITS files in and out)
   2     astromask.models, models.*, convert, convert.*
   3     astromask.zoo, zoo.*
   4     astromask.inference, cosmicrays, inpainting
   5     astromask.core, ccdproc_compat
   6     astromask.files
   7     astromask.batch
   8     astromask.cli, _entry (the console script)
   side  astromask.metrics, metrics.*, calibration, visualization,
         simulate, simulate.*, training, training.*
   ====  ==================================================================

   Side modules (`SIDE`, in named groups) stand beside the layers: they may
   import layers 0 to `SIDE_BASE` (5), their own group, and the side groups
   that `SIDE_IMPORTS` lists for them (training may import simulate and
   metrics).  Only layers from `SIDE_USERS` (8, the command line) up may
   import side modules.

Usage::

    python tools/check_imports.py [PACKAGE_DIR] [--no-layers]

PACKAGE_DIR defaults to the ``astromask`` folder beside ``tools/``.  On success
it prints ``N modules, M imports, no cycles, no import of the package top,
layers respected`` (M counts the edges of the graph above) and exits 0.
``tests/test_imports.py`` runs the same checks under pytest.  Standard library
only; not shipped with the package.
"""

import argparse
import ast
import sys
from collections import deque
from fnmatch import fnmatchcase
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "astromask"

#: Layers from bottom to top: fnmatch patterns of full module names.  A module
#: may import its own layer and lower ones.  ``X.*`` does not match ``X``.
LAYERS = [
    [  # 0: no astromask imports but each other's
        "astromask._version",
        "astromask._validate",
        "astromask._atomic",
        "astromask._backend",
        "astromask.classes",
        "astromask.priors",
        "astromask.tiling",
        "astromask.preprocess",
        "astromask.presets",
        "astromask.weights",
        "astromask.weights.*",
    ],
    ["astromask.data", "astromask.io", "astromask.io.*"],  # 1: weights and FITS files
    ["astromask.models", "astromask.models.*", "astromask.convert", "astromask.convert.*"],  # 2
    ["astromask.zoo", "astromask.zoo.*"],  # 3
    ["astromask.inference", "astromask.cosmicrays", "astromask.inpainting"],  # 4
    ["astromask.core", "astromask.ccdproc_compat"],  # 5
    ["astromask.files"],  # 6
    ["astromask.batch"],  # 7
    ["astromask.cli", "astromask._entry"],  # 8
]

#: Side modules, in named groups: beside the layers, above layer `SIDE_BASE`.
SIDE = {
    "metrics": ["astromask.metrics", "astromask.metrics.*"],
    "calibration": ["astromask.calibration"],
    "visualization": ["astromask.visualization"],
    "simulate": ["astromask.simulate", "astromask.simulate.*"],
    "training": ["astromask.training", "astromask.training.*"],
}

#: Side modules may import layers 0 to SIDE_BASE.
SIDE_BASE = 5

#: The other side groups each side group may import (its own is always allowed).
SIDE_IMPORTS = {
    "training": ["simulate", "metrics"],
}

#: Layers from SIDE_USERS up may import every side module.
SIDE_USERS = 8


# ---------------------------------------------------------------------------
# Reading the package
# ---------------------------------------------------------------------------


def modules(package_dir):
    """Map each module of a package to its file.

    Parameters
    ----------
    package_dir : path-like
        The package's folder (the one holding its top ``__init__.py``); its
        name is the package's name.

    Returns
    -------
    dict of str to pathlib.Path
        ``{"pkg": pkg/__init__.py, "pkg.sub": pkg/sub/__init__.py,
        "pkg.sub.mod": pkg/sub/mod.py, ...}``, sorted by name.
    """
    package_dir = Path(package_dir)
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        relative = path.relative_to(package_dir)
        if any(part == "__pycache__" or part.startswith(".") for part in relative.parts):
            continue
        parts = [package_dir.name, *relative.parts[:-1]]
        if path.stem != "__init__":
            parts.append(path.stem)
        found[".".join(parts)] = path
    return dict(sorted(found.items()))


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_statements(tree):
    """Every Import and ImportFrom node of a module, except under ``if TYPE_CHECKING:``."""
    found = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
        else:
            stack.extend(ast.iter_child_nodes(node))
    return sorted(found, key=lambda node: (node.lineno, node.col_offset))


def _longest_module(name, known):
    """The longest prefix of dotted `name` that is a known module, or None."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in known:
            return prefix
    return None


def _resolve(module, is_package, node, known, top):
    """Resolve one import statement of `module`.

    Returns a list of ``(target, statement)``: the module of the package
    that each imported name resolves to, and the statement written for that
    name alone.  Imports from outside the package give nothing.
    """
    resolved = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == top or alias.name.startswith(top + "."):
                target = _longest_module(alias.name, known)
                if target is not None:
                    resolved.append((target, f"import {alias.name}"))
        return resolved
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        if node.level - 1 >= len(package):
            return resolved  # beyond the top package: an ImportError at run time
        base = ".".join(package[: len(package) - (node.level - 1)])
        source = f"{base}.{node.module}" if node.module else base
        written = "." * node.level + (node.module or "")
    else:
        if node.module != top and not node.module.startswith(top + "."):
            return resolved
        source = written = node.module
    for alias in node.names:
        submodule = f"{source}.{alias.name}"
        target = submodule if submodule in known else _longest_module(source, known)
        if target is not None:
            resolved.append((target, f"from {written} import {alias.name}"))
    return resolved


def _read_imports(package_dir):
    """Yield ``(importer, line, target, statement)`` for every intra-package import."""
    known = modules(package_dir)
    top = Path(package_dir).name
    for module, path in known.items():
        tree = ast.parse(path.read_bytes(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _import_statements(tree):
            for target, statement in _resolve(module, is_package, node, known, top):
                yield module, node.lineno, target, statement


def _containing_packages(module, is_package):
    """The packages already imported while `module` runs: its ancestors (and itself)."""
    parts = module.split(".")
    ancestors = {".".join(parts[:end]) for end in range(1, len(parts))}
    if is_package:
        ancestors.add(module)
    return ancestors


def import_graph(package_dir):
    """Build the graph of a package's imports of its own modules.

    Parameters
    ----------
    package_dir : path-like
        The package's folder.

    Returns
    -------
    dict of str to set of str
        Every module of the package, mapped to the modules whose code its
        imports run: the imported module itself, and each package on the
        way to it except the top package and the packages that contain the
        importer.  Imports of the top package itself are left out (see
        `top_imports`).
    """
    known = modules(package_dir)
    graph = {module: set() for module in known}
    for module, _, target, _ in _read_imports(package_dir):
        own = _containing_packages(module, known[module].name == "__init__.py")
        parts = target.split(".")
        for end in range(2, len(parts) + 1):
            step = ".".join(parts[:end])
            if step in known and (step == target or step not in own):
                graph[module].add(step)
    return graph


def top_imports(package_dir):
    """List the imports of the package top by the package's other modules.

    Parameters
    ----------
    package_dir : path-like
        The package's folder.

    Returns
    -------
    list of str
        ``"pkg/mod.py:LINE: from pkg import NAME"`` for each ``import pkg``,
        or ``from pkg import NAME`` (also ``from . import NAME`` and the like)
        whose NAME is not a submodule, outside ``pkg/__init__.py``.
    """
    package_dir = Path(package_dir)
    known = modules(package_dir)
    top = package_dir.name
    found = []
    for module, line, target, statement in _read_imports(package_dir):
        if target == top and module != top:
            where = known[module].relative_to(package_dir.parent).as_posix()
            found.append(f"{where}:{line}: {statement}")
    return found


# ---------------------------------------------------------------------------
# Cycles
# ---------------------------------------------------------------------------


def strongly_connected(graph):
    """Strongly connected components of a graph (Tarjan's algorithm, iterative).

    Parameters
    ----------
    graph : dict of str to set of str
        Each node mapped to the nodes it has edges to.

    Returns
    -------
    list of list of str
        Every component, each sorted, in sorted order (single nodes too).
    """
    index = {}
    low = {}
    stack = []
    on_stack = set()
    components = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return sorted(components)


def _shortest_cycle(graph, start, members):
    """The shortest path start -> ... -> start inside `members` (breadth first)."""
    previous = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in sorted(graph.get(node, ())):
            if child not in members:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if child not in previous:
                previous[child] = node
                queue.append(child)
    msg = f"{start} is on no cycle"
    raise ValueError(msg)


def cycles(graph):
    """Find the import cycles of a graph.

    Parameters
    ----------
    graph : dict of str to set of str
        Each module mapped to the modules it imports (`import_graph`).

    Returns
    -------
    list of list of str
        Cycles as paths that end where they start, ``[a, b, a]``; a module
        that imports itself gives ``[a, a]``.  For each strongly connected
        component of more than one module, shortest cycles through its
        modules in turn until every module is on one; ``[]`` when the graph
        has no cycle.
    """
    found = []
    for component in strongly_connected(graph):
        if len(component) == 1:
            (node,) = component
            if node in graph.get(node, ()):
                found.append([node, node])
            continue
        members = set(component)
        covered = set()
        for node in component:
            if node not in covered:
                cycle = _shortest_cycle(graph, node, members)
                covered.update(cycle)
                found.append(cycle)
    return found


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------


def _places(module, layers, side):
    """Every place of `module`: layer numbers and side group names."""
    places = [
        number
        for number, patterns in enumerate(layers)
        if any(fnmatchcase(module, pattern) for pattern in patterns)
    ]
    places += [
        group
        for group, patterns in side.items()
        if any(fnmatchcase(module, pattern) for pattern in patterns)
    ]
    return places


def _describe(place):
    return f"layer {place}" if isinstance(place, int) else f"side group {place}"


def _allowed(importer, target, side_base, side_imports, side_users):
    """Whether a module placed at `importer` may import one placed at `target`."""
    if isinstance(importer, int) and isinstance(target, int):
        return target <= importer
    if isinstance(importer, int):  # a layer importing a side module
        return importer >= side_users
    if isinstance(target, int):  # a side module importing a layer
        return target <= side_base
    return target == importer or target in side_imports.get(importer, ())


def layer_violations(
    graph,
    layers=None,
    side=None,
    *,
    side_base=SIDE_BASE,
    side_imports=None,
    side_users=SIDE_USERS,
):
    """List the imports that break the layering, and the modules with no place.

    Parameters
    ----------
    graph : dict of str to set of str
        Each module mapped to the modules it imports (`import_graph`).
    layers : list of list of str, optional
        fnmatch patterns of each layer, bottom first (default `LAYERS`).
    side : dict of str to list of str, optional
        fnmatch patterns of each side group (default `SIDE`).
    side_base : int, optional
        Side modules may import layers 0 to `side_base`.
    side_imports : dict of str to list of str, optional
        The other side groups each side group may import (default
        `SIDE_IMPORTS`).
    side_users : int, optional
        Layers from `side_users` up may import side modules.

    Returns
    -------
    list of str
        One line per module that matches no place or several, then one per
        forbidden import; ``[]`` when the layers are respected.  The top
        package (the one module without a dot) may import anything.
    """
    layers = LAYERS if layers is None else layers
    side = SIDE if side is None else side
    side_imports = SIDE_IMPORTS if side_imports is None else side_imports
    modules_seen = sorted(set(graph).union(*graph.values()))
    place = {}
    problems = []
    for module in modules_seen:
        if "." not in module:
            continue
        found = _places(module, layers, side)
        if len(found) == 1:
            place[module] = found[0]
        elif found:
            where = ", ".join(_describe(each) for each in found)
            problems.append(f"placed twice: {module} matches {where}")
        else:
            problems.append(f"unplaced: {module} (give it a place in LAYERS or SIDE)")
    for importer in sorted(graph):
        if importer not in place:
            continue
        for target in sorted(graph[importer]):
            if target not in place:
                continue
            if not _allowed(place[importer], place[target], side_base, side_imports, side_users):
                problems.append(
                    f"layers: {importer} ({_describe(place[importer])}) imports "
                    f"{target} ({_describe(place[target])})"
                )
    return problems


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def main(argv=None):
    """Check a package's imports; print the problems, one a line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        0 when there is no problem, 1 otherwise.
    """
    parser = argparse.ArgumentParser(
        description="Check a package's imports of itself: cycles, top imports, layers."
    )
    parser.add_argument(
        "package_dir",
        nargs="?",
        type=Path,
        default=PACKAGE_DIR,
        help="the package's folder (default: %(default)s)",
    )
    parser.add_argument("--no-layers", action="store_true", help="skip the layer check")
    args = parser.parse_args(argv)
    if not (args.package_dir / "__init__.py").is_file():
        parser.error(f"{args.package_dir} is not a package folder (no __init__.py)")
    try:
        graph = import_graph(args.package_dir)
        problems = [f"top import: {line}" for line in top_imports(args.package_dir)]
    except SyntaxError as error:
        print(f"syntax error: {error.filename}:{error.lineno}: {error.msg}")
        return 1
    problems[:0] = ["cycle: " + " -> ".join(cycle) for cycle in cycles(graph)]
    if not args.no_layers:
        problems += layer_violations(graph)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    edges = sum(len(targets) for targets in graph.values())
    summary = f"{len(graph)} modules, {edges} imports, no cycles, no import of the package top"
    print(summary + (" (layers not checked)" if args.no_layers else ", layers respected"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
