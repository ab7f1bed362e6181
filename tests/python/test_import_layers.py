"""No import cycle among the project's Python modules, and psycopg2's modules in their layer
order, found by reading the source (pure stdlib: no build, no server).

Every `import` and `from ... import` of a file counts, at module level or inside a function: an
import moved into a function hides a cycle from Python at load time but still ties the two
modules together. Only imports under `if TYPE_CHECKING:` are left out (never run).
`from pkg import name` depends on the module `pkg.name` when there is one, else on `pkg`. The
C++ extension modules (their PyModuleDef names) import nothing back: they end a path.

Walked: the packages users import (psycopg2, django_puff), the sources puff embeds
(runtime/**.py), the generator in psycopg_shim/tools, and the tests and examples too: a cycle
among test helpers or in an example project is as hard to follow as one in the driver, and
reading them costs milliseconds. Each directory that is not a package is a source root (as on
sys.path): its modules see each other, and every root sees psycopg2 and django_puff.
"""

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.source
ROOT = Path(__file__).resolve().parents[2]
WALKED = ("django_puff", "psycopg_shim", "runtime", "tests", "examples")
# Source roots every other root imports from: where psycopg2 and django_puff live.
SHARED_ROOTS = (ROOT, ROOT / "psycopg_shim")
SKIPPED_DIRS = {"__pycache__", "build", "node_modules"}
# The C++ extension modules (psycopg2._psycopg, puff, ...): imported, they import nothing back.
NATIVE_SOURCES = ("runtime", "psycopg_shim/native", "django_puff/redis/native")
_NATIVE_MODULE_DEF = re.compile(r'PyModuleDef_HEAD_INIT,\s*"([\w.]+)"')


@dataclass(frozen=True)
class Import:
    target: str     # the module named, as written (absolute)
    names: tuple    # for `from target import a, b`: ("a", "b"); () for `import target`
    line: int


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _absolute(module, level, package):
    """The absolute name of `from <level dots><module> import ...` in `package`."""
    if level == 0:
        return module
    parts = package.split(".")
    base = parts[:len(parts) - level + 1]
    return ".".join(base + ([module] if module else []))


def imports_of(tree, package):
    """Every import of a module's syntax tree, except those under `if TYPE_CHECKING:`."""
    found = []

    def visit(node):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend(Import(alias.name, (), node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node.module, node.level, package)
            found.append(Import(target, tuple(a.name for a in node.names), node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@dataclass
class Module:
    key: str        # "root-relative/dir:dotted.name", unique across source roots
    name: str       # the dotted name its root's code imports it by
    root: Path
    path: Path
    package: str    # the package its relative imports start from


def _is_package(directory):
    return (directory / "__init__.py").is_file()


def _source_root(path):
    """The directory `path`'s module is imported from: the first one up that is no package."""
    directory = path.parent
    while _is_package(directory):
        directory = directory.parent
    return directory


def _python_files():
    for top in WALKED:
        for directory, subdirs, files in os.walk(ROOT / top):
            subdirs[:] = sorted(d for d in subdirs
                                if not d.startswith(".") and d not in SKIPPED_DIRS)
            yield from (Path(directory) / f for f in sorted(files) if f.endswith(".py"))


def module_at(path, base):
    """The module of the file `path`, its key relative to `base`."""
    root = _source_root(path)
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_init = parts[-1] == "__init__"
    if is_init:
        parts.pop()
    name = ".".join(parts)
    package = name if is_init else ".".join(parts[:-1])
    key = "%s:%s" % (root.relative_to(base).as_posix(), name)
    return Module(key, name, root, path, package)


def find_modules():
    return {m.key: m for m in map(lambda path: module_at(path, ROOT), _python_files())}


def find_native_modules():
    names = set()
    for top in NATIVE_SOURCES:
        for path in sorted((ROOT / top).rglob("*.cpp")):
            names.update(_NATIVE_MODULE_DEF.findall(path.read_text(errors="replace")))
    return names


class Graph:
    """Module -> the project modules it imports, with the line of each import."""

    def __init__(self, modules, native=frozenset(), shared_roots=SHARED_ROOTS):
        self.modules = modules
        self._native = native
        self._shared_roots = shared_roots
        self._by_root_and_name = {(m.root, m.name): m for m in modules.values()}
        self.edges = {key: {} for key in modules}   # key -> {imported key: [line, ...]}
        for module in modules.values():
            tree = ast.parse(module.path.read_bytes(), str(module.path))
            for imp in imports_of(tree, module.package):
                for target in self._targets(module, imp):
                    if target.key != module.key:
                        self.edges[module.key].setdefault(target.key, set()).add(imp.line)

    def _find(self, module, name):
        for root in (module.root, *self._shared_roots):
            found = self._by_root_and_name.get((root, name))
            if found is not None:
                return found
        return None

    def _targets(self, module, imp):
        """The project modules `imp` depends on (a native module ends the search: a leaf)."""
        if imp.names and imp.names != ("*",):
            found = []
            for name in imp.names:
                submodule = "%s.%s" % (imp.target, name)
                if submodule not in self._native:
                    found.append(self._find(module, submodule) or self._deepest(module, imp.target))
            return [m for m in found if m is not None]
        return [m for m in [self._deepest(module, imp.target)] if m is not None]

    def _deepest(self, module, dotted):
        # `import a.b.c` depends on the deepest module of the name that exists.
        parts = dotted.split(".")
        for end in range(len(parts), 0, -1):
            name = ".".join(parts[:end])
            if name in self._native:
                return None
            found = self._find(module, name)
            if found is not None:
                return found
        return None


def strongly_connected(edges):
    """Tarjan's components of more than one module, each sorted; iterative (no recursion)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(edges[succ]))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
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
                    if len(component) > 1:
                        components.append(sorted(component))
    return sorted(components)


def describe(graph, component):
    """The imports that tie a component together, one per line: where each one is."""
    members = set(component)
    lines = ["cycle among %d modules: %s" % (len(component), ", ".join(component))]
    for key in component:
        module = graph.modules[key]
        for target, at in sorted(graph.edges[key].items()):
            if target in members:
                where = ", ".join("%s:%d" % (module.path.relative_to(ROOT), n) for n in sorted(at))
                lines.append("  %s -> %s  (%s)" % (module.name, graph.modules[target].name,
                                                    where))
    return "\n".join(lines)


# ---- the walker's own rules, on small trees -------------------------------------------------

def _edges(tmp_path, files):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    modules = [module_at(path, tmp_path) for path in sorted(tmp_path.rglob("*.py"))]
    graph = Graph({m.key: m for m in modules}, {"pkg.native"}, shared_roots=(tmp_path,))
    names = {m.key: m.name for m in modules}
    return {names[key]: sorted(names[t] for t in targets)
            for key, targets in graph.edges.items() if targets}


def test_imports_inside_functions_count_and_type_checking_ones_do_not(tmp_path):
    edges = _edges(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/low.py": "from typing import TYPE_CHECKING\n"
                      "if TYPE_CHECKING:\n    from pkg.high import Thing\n"
                      "else:\n    import pkg.other\n",
        "pkg/high.py": "def f():\n    from . import low\n",
        "pkg/other.py": "",
    })
    assert edges == {"pkg.high": ["pkg.low"], "pkg.low": ["pkg.other"]}


def test_from_package_import_names_a_module_or_the_package(tmp_path):
    edges = _edges(tmp_path, {
        "pkg/__init__.py": "VALUE = 1\n",
        "pkg/sub/__init__.py": "from .. import leaf, VALUE\nfrom ..leaf import x\n",
        "pkg/leaf.py": "import pkg.sub\nfrom pkg import native\nimport pkg.native.x\n",
        "user.py": "from pkg.sub import nothing_here\nimport os.path\n",
    })
    assert edges == {"pkg.leaf": ["pkg.sub"], "pkg.sub": ["pkg", "pkg.leaf"],
                     "user": ["pkg.sub"]}
    assert strongly_connected({k: set(v) for k, v in {**dict.fromkeys(
        ["pkg", "user"], []), **edges}.items()}) == [["pkg.leaf", "pkg.sub"]]


def test_components_are_every_cycle_and_nothing_else():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert strongly_connected(edges) == [["a", "b", "c"], ["d", "e"]]


# ---- the project ----------------------------------------------------------------------------

def test_the_walk_sees_the_project():
    modules = find_modules()
    names = {m.name for m in modules.values()}
    # A walk that found nothing would pass the next test without proving anything.
    assert {"psycopg2._connection", "psycopg2._cursor", "django_puff.db.greenlet_local",
            "driver", "puff_prelude", "conftest"} <= names
    assert {"psycopg2._psycopg", "puff", "django_puff._redis"} <= find_native_modules()
    graph = Graph(modules, find_native_modules())
    assert "psycopg_shim:psycopg2._exceptions" in graph.edges["psycopg_shim:psycopg2._cursor"]


# psycopg2's layers, bottom first (psycopg_shim/README.md, "Layers"); every other module of the
# package is in the top layer. A module imports from its own layer or those below.
PSYCOPG2_LAYERS = (
    ("_constants", "_exceptions", "_scope"),
    ("_dsn", "_session", "errors", "errorcodes", "_native_errors", "_objects"),
    ("_adapt_protocol", "_adapt_datetime", "_adapt_mogrify", "_adapt", "_typecast_array",
     "_typecast_datetime", "_typecast"),
    ("_copy", "_cursor"),
    ("_connection", "_connect"),
)


def test_psycopg2_imports_only_downwards():
    graph = Graph(find_modules(), find_native_modules())
    # Numbered from 1 as in the README; the top layer is the one after the listed ones.
    layer_of = {"psycopg2." + name: number
                for number, layer in enumerate(PSYCOPG2_LAYERS, start=1) for name in layer}
    top = len(PSYCOPG2_LAYERS) + 1
    package = {m.key: m.name for m in graph.modules.values()
               if m.root == ROOT / "psycopg_shim" and m.name.startswith("psycopg2")}
    assert set(layer_of) <= set(package.values()), "a module of the layers is gone"
    upward = []
    for key, name in sorted(package.items()):
        mine = layer_of.get(name, top)
        for target in sorted(graph.edges[key]):
            theirs = layer_of.get(package.get(target), top)
            if theirs > mine:
                upward.append("%s (layer %d) imports %s (layer %d)"
                              % (name, mine, package[target], theirs))
    assert not upward, "\n".join(upward)


def test_no_import_cycle_among_the_project_modules():
    graph = Graph(find_modules(), find_native_modules())
    cycles = [describe(graph, c) for c in strongly_connected(graph.edges)]
    assert not cycles, "import cycles (give the modules a layer order; an import inside a " \
        "function counts too):\n" + "\n".join(cycles)
